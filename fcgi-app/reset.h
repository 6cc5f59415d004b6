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

/* The events (routing keys) reset.c writes to the outbox. */
#define RESET_EVENT		"create.password.reset"
#define RESET_UNKNOWN_EVENT	"password.reset.unknown"
#define RESET_CHANGED_EVENT	"password.changed"

/* Length of a token in a link: base64url of 32 bytes, no padding. */
#define RESET_TOKEN_LEN	43

/* Is t shaped like a token (43 base64url characters, 32 bytes)? */
int		reset_token_well_formed(const char *t);

/*
 * Records a reset for email, with an outbox event carrying the link, in
 * one transaction with the client's and the address's throttle counters.
 * An unknown address does the same work: a dead reset row and an
 * RESET_UNKNOWN_EVENT.  Over the address's limit only the counters are
 * written.  Over the client's limit nothing else is, and *retry_after
 * (else 0) says when to come back: answer 429.
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
