/* auth_jwt_issue/verify: round trip, and every forged or stale token fails. */
#include <stdlib.h>
#include <time.h>

#include <jwt.h>
#include <sodium.h>

#include "arena.h"
#include "auth.h"
#include "cfg.h"
#include "check.h"

#define SECRET	"0123456789abcdef0123456789abcdef"

static struct arena	*a;

/* A token signed with libjwt directly; pad adds a claim of that size. */
static char *
forge(jwt_alg_t alg, const char *key, const char *iss, const char *sub,
    long exp, size_t pad)
{
	jwt_t	*jwt;
	char	*s, *out = NULL, *p;

	if (jwt_new(&jwt) != 0)
		return NULL;
	if (iss != NULL)
		jwt_add_grant(jwt, "iss", iss);
	if (sub != NULL)
		jwt_add_grant(jwt, "sub", sub);
	jwt_add_grant_int(jwt, "exp", exp);
	jwt_add_grant_int(jwt, "pwv", 5);
	if (pad > 0) {
		p = arena_alloc(a, pad + 1);
		memset(p, 'x', pad);
		p[pad] = '\0';
		jwt_add_grant(jwt, "pad", p);
	}
	if (jwt_set_alg(jwt, alg, (const unsigned char *)key,
	    key != NULL ? (int)strlen(key) : 0) == 0 &&
	    (s = jwt_encode_str(jwt)) != NULL) {
		out = arena_strdup(a, s);
		free(s);
	}
	jwt_free(jwt);
	return out;
}

/* base64url without padding, in the arena. */
static char *
b64url(const char *s)
{
	size_t	 n = sodium_base64_ENCODED_LEN(strlen(s),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char	*out = arena_alloc(a, n);

	return sodium_bin2base64(out, n, (const unsigned char *)s, strlen(s),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Does token verify? */
static int
verifies(const char *token)
{
	long long	uid = 0, pwv = 0, exp = 0;

	return token != NULL && auth_jwt_verify(token, &uid, &pwv, &exp) == 0;
}

int
main(void)
{
	char		 err[256], *tok, *t, *dot1, *dot2;
	long long	 exp, uid = 0, pwv = 0, exp2 = 0;
	long		 now = (long)time(NULL), later = now + 600;
	const char	*payload;

	setenv("DB_USER", "micro", 1);
	setenv("PUBLIC_BASE_URL", "https://users.example.com", 1);
	setenv("JWT_SECRET", SECRET, 1);
	setenv("JWT_TTL", "900", 1);
	setenv("ARGON2_OPSLIMIT", "1", 1);
	setenv("ARGON2_MEMLIMIT", "8192", 1);
	if (cfg_load(CFG_PROG_FCGI, err, sizeof(err)) != 0) {
		fprintf(stderr, "cfg_load: %s\n", err);
		return 1;
	}
	CHECK(auth_init() == 0);
	a = arena_new();

	/* Round trip: user id, password version, exp = now + JWT_TTL. */
	tok = auth_jwt_issue(a, 42, 7, &exp);
	CHECK(tok != NULL);
	CHECK(exp >= now + 900 && exp <= (long long)time(NULL) + 900);
	CHECK(auth_jwt_verify(tok, &uid, &pwv, &exp2) == 0);
	CHECK(uid == 42 && pwv == 7 && exp2 == exp);

	/* The forging helper makes tokens that verify when all is right. */
	CHECK(verifies(forge(JWT_ALG_HS256, SECRET, "micro-user", "9", later,
	    0)));

	/* A changed payload under the old signature fails. */
	dot1 = strchr(tok, '.');
	dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
	CHECK(dot1 != NULL && dot2 != NULL);
	if (dot1 != NULL && dot2 != NULL) {
		char	 json[512];
		size_t	 len;
		char	*sub;

		CHECK(sodium_base642bin((unsigned char *)json, sizeof(json) - 1,
		    dot1 + 1, (size_t)(dot2 - dot1 - 1), NULL, &len, NULL,
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0);
		json[len] = '\0';
		CHECK((sub = strstr(json, "\"42\"")) != NULL);
		if (sub != NULL) {
			sub[2] = '3';			/* user 43 */
			payload = b64url(json);
			t = arena_printf(a, "%.*s.%s%s", (int)(dot1 - tok), tok,
			    payload, dot2);
			CHECK(!verifies(t));
		}
		/* So does a changed signature, or none. */
		t = arena_strdup(a, tok);
		t[dot2 - tok + 10] = t[dot2 - tok + 10] == 'A' ? 'B' : 'A';
		CHECK(!verifies(t));
		t = arena_strndup(a, tok, (size_t)(dot2 - tok + 1));
		CHECK(!verifies(t));
		t = arena_strndup(a, tok, (size_t)(dot2 - tok));
		CHECK(!verifies(t));
	}

	/* Another key, another algorithm, or alg "none" fail. */
	CHECK(!verifies(forge(JWT_ALG_HS256, "another secret, 32 bytes or more",
	    "micro-user", "9", later, 0)));
	CHECK(!verifies(forge(JWT_ALG_HS512, SECRET, "micro-user", "9", later,
	    0)));
	t = arena_printf(a, "%s.%s.",
	    b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}"),
	    b64url(arena_printf(a, "{\"iss\":\"micro-user\",\"sub\":\"9\","
	    "\"exp\":%ld,\"pwv\":5}", later)));
	CHECK(!verifies(t));
	CHECK(!verifies(forge(JWT_ALG_NONE, NULL, "micro-user", "9", later,
	    0)));

	/* Expired, foreign or missing issuer, or a bad subject fail. */
	CHECK(!verifies(forge(JWT_ALG_HS256, SECRET, "micro-user", "9",
	    now - 10, 0)));
	CHECK(!verifies(forge(JWT_ALG_HS256, SECRET, "micro-user", "9", now,
	    0)));
	CHECK(!verifies(forge(JWT_ALG_HS256, SECRET, "evil", "9", later, 0)));
	CHECK(!verifies(forge(JWT_ALG_HS256, SECRET, "micro-user-x", "9",
	    later, 0)));
	CHECK(!verifies(forge(JWT_ALG_HS256, SECRET, NULL, "9", later, 0)));
	CHECK(!verifies(forge(JWT_ALG_HS256, SECRET, "micro-user", "0", later,
	    0)));
	CHECK(!verifies(forge(JWT_ALG_HS256, SECRET, "micro-user", "-9", later,
	    0)));
	CHECK(!verifies(forge(JWT_ALG_HS256, SECRET, "micro-user", "9x", later,
	    0)));
	CHECK(!verifies(forge(JWT_ALG_HS256, SECRET, "micro-user", NULL, later,
	    0)));

	/* Over 4096 bytes fails even when properly signed; under is fine. */
	t = forge(JWT_ALG_HS256, SECRET, "micro-user", "9", later, 2800);
	CHECK(t != NULL && strlen(t) < 4096 && verifies(t));
	t = forge(JWT_ALG_HS256, SECRET, "micro-user", "9", later, 3200);
	CHECK(t != NULL && strlen(t) > 4096 && !verifies(t));

	/* Garbage. */
	CHECK(!verifies(""));
	CHECK(!verifies("a.b.c"));
	CHECK(!verifies("not a token"));

	arena_free(a);
	return check_done("test-auth-jwt");
}
