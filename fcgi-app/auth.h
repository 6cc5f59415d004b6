/*
 * Password hashes (argon2id through libsodium; the seed service's bcrypt
 * hashes verified through libcrypt) and JSON Web Tokens (HS256, libjwt).
 */
#ifndef AUTH_H
#define AUTH_H

#include "db.h"

struct arena;
struct req;
struct user;

enum auth_verdict {
	AUTH_MISMATCH,
	AUTH_MATCH,
	AUTH_MATCH_REHASH	/* right, but stored in an old or weaker form */
};

/* Prepares libsodium and the decoy hash; returns 0 or -1. */
int		 auth_init(void);

/* An argon2id hash of pw in the arena, or NULL when hashing failed. */
char		*auth_hash_password(struct arena *, const char *pw);
enum auth_verdict auth_verify_password(const char *hash, const char *pw);

/*
 * Spends the time of a real verification on a decoy hash, so that an
 * unknown account answers as slowly as a wrong password.
 */
void		 auth_verify_decoy(const char *pw);

/* Signs a token for a user; *expires_at gets its exp claim. */
char		*auth_jwt_issue(struct arena *, long long user_id,
		    long long password_version, long long *expires_at);

/* Verifies signature, algorithm, issuer and expiry; returns 0 or -1. */
int		 auth_jwt_verify(const char *token, long long *user_id,
		    long long *password_version, long long *expires_at);

/*
 * Authenticates the request from its bearer token (or the browser's
 * session cookie) against the user's current password version.  Sets
 * r->auth_user_id and r->auth_admin and returns 0, or answers 401/503
 * itself and returns -1.
 */
int		 auth_require(struct req *);

enum auth_login_result {
	AUTH_LOGIN_OK,
	AUTH_LOGIN_FAILED,
	AUTH_LOGIN_THROTTLED	/* too many failures lately; *retry_after */
};

/*
 * Checks a login (email or name) and password from client ip.  On
 * AUTH_LOGIN_OK u is filled and an old-style hash is upgraded on the way.
 * An unknown account costs the same time as a wrong password.  Failures
 * count against the account and the client; past either limit the answer
 * is AUTH_LOGIN_THROTTLED until the window ends, whatever the password,
 * and nobody is locked out for longer than a window.
 */
enum db_status	 auth_login(struct arena *, const char *login,
		    const char *password, const char *ip, struct user *u,
		    enum auth_login_result *result, long *retry_after);

/*
 * Checks the current password of signed-in user u before a change of
 * password or email, with failures counted like failed logins (so a
 * stolen session cannot guess it without limit).
 */
enum db_status	 auth_check_current(struct arena *, const struct user *u,
		    const char *password, const char *ip,
		    enum auth_login_result *result, long *retry_after);

/* RFC 3339 UTC time of a Unix timestamp, in the arena (auth_api.c). */
char		*auth_api_time(struct arena *, long long);

/* Name of the cookie that carries a browser's JWT. */
#define AUTH_SESSION_COOKIE	"session"

#endif
