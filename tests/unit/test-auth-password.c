/* auth_hash_password and auth_verify_password: argon2id, bcrypt, rehash. */
#include <crypt.h>
#include <stdlib.h>

#include <sodium.h>

#include "arena.h"
#include "auth.h"
#include "cfg.h"
#include "check.h"

/* A bcrypt hash of pw at cost 4 with the given prefix ("$2b$", ...). */
static const char *
bcrypt(const char *prefix, const char *pw)
{
	static char		 hash[CRYPT_OUTPUT_SIZE];
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data	*data = calloc(1, sizeof(*data));
	const char		*out;

	if (data == NULL ||
	    crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof(salt)) == NULL ||
	    (out = crypt_rn(pw, salt, data, sizeof(*data))) == NULL ||
	    out[0] == '*') {
		free(data);
		return "";
	}
	snprintf(hash, sizeof(hash), "%s", out);
	memcpy(hash, prefix, 4);
	free(data);
	return hash;
}

int
main(void)
{
	struct arena	*a = arena_new();
	char		 err[256], other[crypto_pwhash_STRBYTES];
	const char	*pw = "correct horse battery staple", *b;
	char		*h, *h2;

	setenv("DB_USER", "micro", 1);
	setenv("PUBLIC_BASE_URL", "https://users.example.com", 1);
	setenv("JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
	setenv("ARGON2_OPSLIMIT", "1", 1);
	setenv("ARGON2_MEMLIMIT", "8192", 1);
	if (cfg_load(CFG_PROG_FCGI, err, sizeof(err)) != 0) {
		fprintf(stderr, "cfg_load: %s\n", err);
		return 1;
	}
	CHECK(auth_init() == 0);

	/* argon2id at the configured cost: matches only its password. */
	h = auth_hash_password(a, pw);
	CHECK(h != NULL && strncmp(h, "$argon2id$", 10) == 0);
	CHECK(h != NULL && strstr(h, "$m=8,t=1,") != NULL);
	CHECK(auth_verify_password(h, pw) == AUTH_MATCH);
	CHECK(auth_verify_password(h, "correct horse battery stapl") ==
	    AUTH_MISMATCH);
	CHECK(auth_verify_password(h, "") == AUTH_MISMATCH);
	h2 = auth_hash_password(a, pw);
	CHECK(h2 != NULL && strcmp(h, h2) != 0);	/* salted */
	h2 = auth_hash_password(a, "p\xc3\xa4ssw\xc3\xb6rd \xe5\xaf\x86");
	CHECK(auth_verify_password(h2, "p\xc3\xa4ssw\xc3\xb6rd \xe5\xaf\x86")
	    == AUTH_MATCH);
	CHECK(auth_verify_password(h2, "passw\xc3\xb6rd \xe5\xaf\x86") ==
	    AUTH_MISMATCH);

	/* Another cost: right password, but it wants rehashing. */
	CHECK(crypto_pwhash_str(other, pw, strlen(pw), 2, 8192) == 0);
	CHECK(auth_verify_password(other, pw) == AUTH_MATCH_REHASH);
	CHECK(auth_verify_password(other, "wrong password") == AUTH_MISMATCH);
	CHECK(crypto_pwhash_str(other, pw, strlen(pw), 1, 16384) == 0);
	CHECK(auth_verify_password(other, pw) == AUTH_MATCH_REHASH);

	/* The seed's bcrypt hashes verify and always want rehashing. */
	b = bcrypt("$2b$", pw);
	CHECK(strncmp(b, "$2b$04$", 7) == 0 && strlen(b) == 60);
	CHECK(auth_verify_password(b, pw) == AUTH_MATCH_REHASH);
	CHECK(auth_verify_password(b, "Correct horse battery staple") ==
	    AUTH_MISMATCH);
	CHECK(auth_verify_password(b, "") == AUTH_MISMATCH);
	b = bcrypt("$2y$", pw);
	CHECK(strncmp(b, "$2y$04$", 7) == 0);
	CHECK(auth_verify_password(b, pw) == AUTH_MATCH_REHASH);
	CHECK(auth_verify_password(b, "wrong password") == AUTH_MISMATCH);
	b = bcrypt("$2a$", pw);
	CHECK(auth_verify_password(b, pw) == AUTH_MATCH_REHASH);
	/* A truncated hash matches nothing. */
	{
		char	cut[40];

		snprintf(cut, sizeof(cut), "%.39s", bcrypt("$2b$", pw));
		CHECK(auth_verify_password(cut, pw) == AUTH_MISMATCH);
	}

	/* Empty, unknown or broken hashes never match. */
	CHECK(auth_verify_password("", "") == AUTH_MISMATCH);
	CHECK(auth_verify_password("", pw) == AUTH_MISMATCH);
	CHECK(auth_verify_password("*", pw) == AUTH_MISMATCH);
	CHECK(auth_verify_password(pw, pw) == AUTH_MISMATCH);	/* plain */
	CHECK(auth_verify_password("$argon2id$v=19$m=8,t=1,p=1$xx$yy", pw) ==
	    AUTH_MISMATCH);
	CHECK(auth_verify_password("$1$abcdefgh$", pw) == AUTH_MISMATCH);

	arena_free(a);
	return check_done("test-auth-password");
}
