/*
 * Password reset tokens.  A token is 32 bytes from the CSPRNG, base64url
 * in the link; only its SHA-256 (hex, in the seed's `token` column) is
 * stored.  It is single-use, expires after RESET_TOKEN_TTL, and every
 * outstanding token of a user dies when the password changes.
 */
#ifndef RESET_H
#define RESET_H

#include "db.h"

struct req;

/* Length of a token in a link: base64url of 32 bytes, no padding. */
#define RESET_TOKEN_LEN	43

/* Is t shaped like a token (43 base64url characters, 32 bytes)? */
int		reset_token_well_formed(const char *t);

/*
 * Records a reset for email when it belongs to an account, with an outbox
 * event carrying the link, in one transaction with the client's and the
 * address's throttle counters.  Known and unknown addresses do the same
 * kind of database work.  Over the client's limit nothing is recorded and
 * *retry_after (else 0) says when to come back: answer 429.
 */
enum db_status	reset_request(struct req *, const char *email,
		    long *retry_after);

/* Is token usable now?  Does not consume it. */
enum db_status	reset_lookup(struct req *, const char *token, int *usable);

/*
 * Consumes token (one atomic UPDATE: of concurrent attempts exactly one
 * wins), stores hash as the user's password, bumps the password version,
 * revokes the user's other tokens and queues a "password changed" event.
 * *done is 0 when the token was unknown, used or expired.
 */
enum db_status	reset_consume(struct req *, const char *token,
		    const char *hash, int *done);

/*
 * After a password or email change, inside the caller's transaction:
 * revokes every outstanding token of the user and, for a password
 * change, queues the "password changed" email.
 */
enum db_status	reset_after_change(struct req *, long long user_id,
		    int password_changed);

#endif
