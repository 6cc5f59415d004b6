/*
 * Password hashing and tokens (see auth.h).
 */
#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jwt.h>
#include <sodium.h>

#include "arena.h"
#include "auth.h"
#include "cfg.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "throttle.h"
#include "user.h"

static char	auth_decoy[crypto_pwhash_STRBYTES];

int
auth_init(void)
{
	unsigned char	pw[16];

	if (sodium_init() < 0)
		return -1;
	randombytes_buf(pw, sizeof(pw));
	if (crypto_pwhash_str(auth_decoy, (const char *)pw, sizeof(pw),
	    (unsigned long long)cfg_int(CFG_ARGON2_OPSLIMIT),
	    (size_t)cfg_int(CFG_ARGON2_MEMLIMIT)) != 0)
		return -1;
	return 0;
}

char *
auth_hash_password(struct arena *a, const char *pw)
{
	char	*out = arena_alloc(a, crypto_pwhash_STRBYTES);

	if (crypto_pwhash_str(out, pw, strlen(pw),
	    (unsigned long long)cfg_int(CFG_ARGON2_OPSLIMIT),
	    (size_t)cfg_int(CFG_ARGON2_MEMLIMIT)) != 0) {
		log_kv(LOG_ERROR, "auth.hash_failed", NULL);
		return NULL;
	}
	return out;
}

static int
auth_is_bcrypt(const char *hash)
{
	return strncmp(hash, "$2a$", 4) == 0 || strncmp(hash, "$2b$", 4) == 0 ||
	    strncmp(hash, "$2y$", 4) == 0;
}

/* The seed service's bcrypt hashes, checked in constant time. */
static int
auth_verify_bcrypt(const char *hash, const char *pw)
{
	struct crypt_data	*data;
	const char		*out;
	size_t			 len = strlen(hash);
	int			 ok;

	if ((data = calloc(1, sizeof(*data))) == NULL)
		return 0;
	out = crypt_rn(pw, hash, data, sizeof(*data));
	ok = out != NULL && out[0] != '*' && strlen(out) == len &&
	    sodium_memcmp(out, hash, len) == 0;
	sodium_memzero(data, sizeof(*data));
	free(data);
	return ok;
}

enum auth_verdict
auth_verify_password(const char *hash, const char *pw)
{
	if (strncmp(hash, "$argon2id$", 10) == 0) {
		if (crypto_pwhash_str_verify(hash, pw, strlen(pw)) != 0)
			return AUTH_MISMATCH;
		if (crypto_pwhash_str_needs_rehash(hash,
		    (unsigned long long)cfg_int(CFG_ARGON2_OPSLIMIT),
		    (size_t)cfg_int(CFG_ARGON2_MEMLIMIT)) != 0)
			return AUTH_MATCH_REHASH;
		return AUTH_MATCH;
	}
	if (auth_is_bcrypt(hash))
		return auth_verify_bcrypt(hash, pw) ? AUTH_MATCH_REHASH :
		    AUTH_MISMATCH;
	/* Empty or unknown: no password can match; spend the time anyway. */
	auth_verify_decoy(pw);
	return AUTH_MISMATCH;
}

void
auth_verify_decoy(const char *pw)
{
	if (crypto_pwhash_str_verify(auth_decoy, pw, strlen(pw)) == 0)
		log_kv(LOG_WARN, "auth.decoy_matched", NULL);
}

char *
auth_jwt_issue(struct arena *a, long long user_id, long long pwv,
    long long *expires_at)
{
	jwt_t		*jwt = NULL;
	char		*s = NULL, *out = NULL, sub[24];
	const char	*key = cfg_str(CFG_JWT_SECRET);
	time_t		 now = time(NULL);

	*expires_at = (long long)now + cfg_int(CFG_JWT_TTL);
	snprintf(sub, sizeof(sub), "%lld", user_id);
	if (jwt_new(&jwt) != 0)
		goto out;
	if (jwt_add_grant(jwt, "iss", cfg_str(CFG_JWT_ISSUER)) != 0 ||
	    jwt_add_grant(jwt, "sub", sub) != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)now) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)*expires_at) != 0 ||
	    jwt_add_grant_int(jwt, "pwv", (long)pwv) != 0 ||
	    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)key,
	    (int)strlen(key)) != 0)
		goto out;
	if ((s = jwt_encode_str(jwt)) == NULL)
		goto out;
	out = arena_strdup(a, s);
out:
	free(s);
	jwt_free(jwt);
	if (out == NULL)
		log_kv(LOG_ERROR, "auth.jwt_issue_failed", NULL);
	return out;
}

int
auth_jwt_verify(const char *token, long long *user_id, long long *pwv,
    long long *expires_at)
{
	jwt_t		*jwt = NULL;
	const char	*key = cfg_str(CFG_JWT_SECRET), *iss, *sub;
	char		*end;
	long		 exp, ver;
	long long	 uid;
	int		 rc = -1;

	if (strlen(token) > 4096)
		return -1;
	if (jwt_decode(&jwt, token, (const unsigned char *)key,
	    (int)strlen(key)) != 0 || jwt == NULL)
		goto out;
	/* Only the algorithm we sign with; never "none". */
	if (jwt_get_alg(jwt) != JWT_ALG_HS256)
		goto out;
	iss = jwt_get_grant(jwt, "iss");
	if (iss == NULL || strcmp(iss, cfg_str(CFG_JWT_ISSUER)) != 0)
		goto out;
	errno = 0;
	exp = jwt_get_grant_int(jwt, "exp");
	if (errno != 0 || exp <= (long)time(NULL))
		goto out;
	errno = 0;
	ver = jwt_get_grant_int(jwt, "pwv");
	if (errno != 0)
		goto out;
	if ((sub = jwt_get_grant(jwt, "sub")) == NULL)
		goto out;
	errno = 0;
	uid = strtoll(sub, &end, 10);
	if (errno != 0 || end == sub || *end != '\0' || uid <= 0)
		goto out;
	*user_id = uid;
	*pwv = ver;
	*expires_at = exp;
	rc = 0;
out:
	jwt_free(jwt);
	return rc;
}

int
auth_require(struct req *r)
{
	const char		*token = NULL;
	long long		 uid, pwv, exp;
	struct user		*u;
	enum db_status		 st;
	int			 found;

	if (r->authorization != NULL &&
	    strncasecmp(r->authorization, "Bearer ", 7) == 0)
		token = r->authorization + 7;
	else
		token = http_cookie(r, AUTH_SESSION_COOKIE);
	if (token == NULL || auth_jwt_verify(token, &uid, &pwv, &exp) != 0)
		goto refuse;
	/* The whole row: handlers acting on oneself need not read it again. */
	u = arena_calloc(r->arena, 1, sizeof(*u));
	if ((st = user_by_id(r->arena, uid, u, &found)) != DB_OK) {
		http_db_fault(r, st == DB_ERR_UNAVAILABLE);
		return -1;
	}
	/* A password change since the token was issued revokes it. */
	if (!found || u->password_version != pwv)
		goto refuse;
	r->auth_user_id = uid;
	r->auth_admin = strcmp(u->role, "admin") == 0;
	r->auth_user = u;
	return 0;
refuse:
	if (r->html)
		http_redirect(r, "/user/login");
	else {
		http_header(r, "WWW-Authenticate", "Bearer");
		http_problem(r, 401, "Unauthorized",
		    "A valid bearer token is required.", NULL);
	}
	return -1;
}

/* Is the account or the client over its failure limit? */
static enum db_status
auth_login_throttled(struct arena *a, const char *account, const char *ip,
    int *reached, long *retry_after)
{
	enum db_status	st;
	long		retry_ip;
	int		reached_ip;

	if ((st = throttle_reached(a, THROTTLE_LOGIN_ACCOUNT, account, reached,
	    retry_after)) != DB_OK)
		return st;
	if ((st = throttle_reached(a, THROTTLE_LOGIN_IP, ip, &reached_ip,
	    &retry_ip)) != DB_OK)
		return st;
	if (reached_ip && (!*reached || retry_ip > *retry_after))
		*retry_after = retry_ip;
	*reached = *reached || reached_ip;
	return DB_OK;
}

/*
 * Checks password against u (NULL: no such account, checked against the
 * decoy) with failures counted against account and ip; past either limit
 * nothing is checked.  *v gets the verdict when *result is AUTH_LOGIN_OK.
 */
static enum db_status
auth_verify_counted(struct arena *a, const struct user *u,
    const char *account, const char *password, const char *ip,
    enum auth_login_result *result, long *retry_after, enum auth_verdict *v)
{
	enum db_status	st;
	int		reached, over;
	long		retry;

	*result = AUTH_LOGIN_FAILED;
	*retry_after = 0;
	if (ip == NULL)
		ip = "unknown";
	if ((st = auth_login_throttled(a, account, ip, &reached, retry_after))
	    != DB_OK)
		return st;
	if (reached) {
		log_kv(LOG_INFO, "auth.login_throttled", NULL);
		*result = AUTH_LOGIN_THROTTLED;
		return DB_OK;
	}
	if (u == NULL) {
		auth_verify_decoy(password);
		*v = AUTH_MISMATCH;
	} else
		*v = auth_verify_password(u->password, password);
	if (*v == AUTH_MISMATCH) {
		log_kv(LOG_INFO, "auth.login_failed", NULL);
		if ((st = throttle_hit(a, THROTTLE_LOGIN_ACCOUNT, account, &over,
		    &retry)) != DB_OK ||
		    (st = throttle_hit(a, THROTTLE_LOGIN_IP, ip, &over,
		    &retry)) != DB_OK)
			return st;
		return DB_OK;
	}
	*result = AUTH_LOGIN_OK;
	return DB_OK;
}

enum db_status
auth_login(struct arena *a, const char *login, const char *password,
    const char *ip, struct user *u, enum auth_login_result *result,
    long *retry_after)
{
	enum auth_verdict	 v;
	enum db_status		 st;
	char			*hash;
	const char		*account;
	int			 found;

	*result = AUTH_LOGIN_FAILED;
	*retry_after = 0;
	if ((st = user_by_login(a, login, u, &found)) != DB_OK)
		return st;
	/*
	 * Failures count against the account found, not the string typed:
	 * the lookup's collation maps many spellings ("A@x.org ", the
	 * name) to one account, and each must not get a fresh allowance.
	 */
	account = found ? arena_printf(a, "id:%lld", u->id) : login;
	if ((st = auth_verify_counted(a, found ? u : NULL, account, password,
	    ip, result, retry_after, &v)) != DB_OK ||
	    *result != AUTH_LOGIN_OK)
		return st;
	if (v == AUTH_MATCH_REHASH &&
	    (hash = auth_hash_password(a, password)) != NULL &&
	    user_rehash(a, u->id, u->password, hash) == DB_OK)
		log_kv(LOG_INFO, "auth.rehashed", "user_id",
		    arena_printf(a, "%lld", u->id), NULL);
	return DB_OK;
}

enum db_status
auth_check_current(struct arena *a, const struct user *u,
    const char *password, const char *ip, enum auth_login_result *result,
    long *retry_after)
{
	enum auth_verdict	v;

	return auth_verify_counted(a, u, arena_printf(a, "id:%lld", u->id),
	    password != NULL ? password : "", ip, result, retry_after, &v);
}
