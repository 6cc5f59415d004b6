/*
 * Password reset tokens and their SQL (see reset.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <sodium.h>

#include "arena.h"
#include "cfg.h"
#include "http.h"
#include "log.h"
#include "outbox.h"
#include "reset.h"
#include "throttle.h"

#define RESET_TOKEN_BYTES	32

static const char SQL_USER_BY_EMAIL[] =
    "SELECT id, name, email FROM users WHERE email = ?";
static const char SQL_INSERT_RESET[] =
    "INSERT INTO password_resets (created_at, updated_at, token, email, "
    "verify, user_id, expires_at, requested_ip) "
    "VALUES (NOW(3), NOW(3), ?, ?, ?, ?, FROM_UNIXTIME(?), ?)";
static const char SQL_LOOKUP[] =
    "SELECT user_id FROM password_resets "
    "WHERE token = ? AND verify = 0 AND expires_at > NOW(3)";
static const char SQL_CONSUME[] =
    "UPDATE password_resets SET verify = 1, used_at = NOW(3), "
    "updated_at = NOW(3) "
    "WHERE token = ? AND verify = 0 AND expires_at > NOW(3)";
/* The address the link was sent to must still be the account's. */
static const char SQL_CONSUMED_USER[] =
    "SELECT r.user_id FROM password_resets r "
    "JOIN users u ON u.id = r.user_id AND u.email = r.email "
    "WHERE r.token = ?";
static const char SQL_USER_NAME_EMAIL[] =
    "SELECT name, email FROM users WHERE id = ?";
static const char SQL_SET_PASSWORD[] =
    "UPDATE users SET password = ?, password_version = password_version + 1, "
    "updated_at = NOW(3) WHERE id = ?";
static const char SQL_REVOKE_OTHERS[] =
    "UPDATE password_resets SET verify = 1, updated_at = NOW(3) "
    "WHERE user_id = ? AND verify = 0";

/* Hex SHA-256 of s, in the arena: what the database keeps of a token. */
static char *
reset_sha256_hex(struct arena *a, const char *s)
{
	unsigned char	 h[crypto_hash_sha256_BYTES];
	char		*hex = arena_alloc(a, sizeof(h) * 2 + 1);

	crypto_hash_sha256(h, (const unsigned char *)s, strlen(s));
	sodium_bin2hex(hex, sizeof(h) * 2 + 1, h, sizeof(h));
	return hex;
}

/* A token is exactly 43 characters of the base64url alphabet. */
int
reset_token_well_formed(const char *t)
{
	unsigned char	bin[RESET_TOKEN_BYTES + 1];
	size_t		len;

	if (t == NULL || strlen(t) != RESET_TOKEN_LEN)
		return 0;
	if (sodium_base642bin(bin, sizeof(bin), t, RESET_TOKEN_LEN, NULL, &len,
	    NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return 0;
	return len == RESET_TOKEN_BYTES;
}

static char *
reset_iso_time(struct arena *a, time_t t)
{
	struct tm	tm;
	char		s[32];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return arena_strdup(a, s);
}

/* A link we send: PUBLIC_BASE_URL (never the Host header) + path. */
static char *
reset_public_url(struct arena *a, const char *path, const char *token)
{
	const char	*base = cfg_str(CFG_PUBLIC_BASE_URL);
	size_t		 n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	return arena_printf(a, "%.*s%s%s", (int)n, base, path,
	    token != NULL ? token : "");
}

/*
 * Writes the reset row and its event; inside reset_request's transaction.
 * user is the account's row (id, name, email): its stored address is the
 * one written and mailed; else email, as asked.  An unknown address
 * (user == NULL) gets the same two rows, so that the
 * answer costs the same work whether the address has an account or not,
 * before it is sent and after (publish, confirm, delete): a reset row
 * that is dead from the start (verify = 1, no user, the hash of a token
 * nobody ever sees) and a password.reset.unknown event, which the mailer
 * drops or answers with a "no account" notice (MAIL_UNKNOWN_NOTICE).
 */
static enum db_status
reset_record(struct req *r, const struct db_result *user, const char *email)
{
	unsigned char		 raw[RESET_TOKEN_BYTES];
	char			 token[RESET_TOKEN_LEN + 1];
	struct db_param		 p[6];
	struct json_object	*ev;
	time_t			 expires = time(NULL) +
	    (time_t)cfg_int(CFG_RESET_TOKEN_TTL);
	enum db_status		 st;

	if (user != NULL)
		email = db_cell(user, 0, 2);
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(token, sizeof(token), raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	p[0] = DB_TEXT(reset_sha256_hex(r->arena, token));
	p[1] = DB_TEXT(email);
	p[2] = DB_INT(user != NULL ? 0 : 1);
	p[3] = user != NULL ? DB_TEXT(db_cell(user, 0, 0)) : DB_NULL;
	p[4] = DB_INT((long long)expires);
	p[5] = DB_TEXT(r->remote_addr != NULL ? r->remote_addr : "");
	if ((st = db_exec(r->arena, SQL_INSERT_RESET, p, 6, NULL)) != DB_OK)
		goto out;
	ev = json_object_new_object();
	json_object_object_add(ev, "email", json_object_new_string(email));
	json_object_object_add(ev, "locale", json_object_new_string(r->locale));
	if (user == NULL) {
		/* Where to go if the account uses another address. */
		json_object_object_add(ev, "forgot_url", json_object_new_string(
		    reset_public_url(r->arena, "/password/forgot", NULL)));
		st = outbox_add(r, RESET_UNKNOWN_EVENT, email, ev);
		goto out;
	}
	json_object_object_add(ev, "user_id", json_object_new_int64(
	    strtoll(db_cell(user, 0, 0), NULL, 10)));
	json_object_object_add(ev, "name",
	    json_object_new_string(db_cell(user, 0, 1)));
	json_object_object_add(ev, "reset_url",
	    json_object_new_string(reset_public_url(r->arena,
	    "/password/reset?token=", token)));
	json_object_object_add(ev, "expires_at",
	    json_object_new_string(reset_iso_time(r->arena, expires)));
	st = outbox_add(r, RESET_EVENT, email, ev);
out:
	sodium_memzero(token, sizeof(token));
	return st;
}

/*
 * Counts a request for this address (a minute's and an hour's window);
 * *over when either limit is passed.  Known and unknown addresses are
 * counted alike: this is the write both paths share.
 */
static enum db_status
reset_count_address(struct req *r, const char *email, int *over)
{
	enum db_status	st;
	long		retry;

	if ((st = throttle_hit(r->arena, THROTTLE_FORGOT_ADDR_MINUTE, email,
	    over, &retry)) != DB_OK || *over)
		return st;
	return throttle_hit(r->arena, THROTTLE_FORGOT_ADDR_HOUR, email, over,
	    &retry);
}

enum db_status
reset_request(struct req *r, const char *email, long *retry_after)
{
	struct db_param		 p[1];
	struct db_result	 res;
	enum db_status		 st;
	int			 over;

	*retry_after = 0;
	if ((st = db_begin()) != DB_OK)
		return st;
	if ((st = throttle_hit(r->arena, THROTTLE_FORGOT_IP,
	    r->remote_addr != NULL ? r->remote_addr : "unknown", &over,
	    retry_after)) != DB_OK)
		goto fail;
	if (over)
		return db_commit();	/* the count is kept; nothing else */
	*retry_after = 0;
	p[0] = DB_TEXT(email);
	if ((st = db_exec(r->arena, SQL_USER_BY_EMAIL, p, 1, &res)) != DB_OK)
		goto fail;
	if ((st = reset_count_address(r, email, &over)) != DB_OK)
		goto fail;
	/* Over the address's limit: same answer, no email, for both kinds. */
	if (!over && (st = reset_record(r, res.nrows == 1 ? &res : NULL,
	    email)) != DB_OK)
		goto fail;
	if ((st = db_commit()) != DB_OK)
		goto fail;
	if (over)
		log_kv(LOG_INFO, "reset.throttled_address", NULL);
	else if (res.nrows == 1)
		log_kv(LOG_INFO, "reset.requested", "user_id",
		    db_cell(&res, 0, 0), NULL);
	else
		log_kv(LOG_INFO, "reset.requested_unknown", NULL);
	return DB_OK;
fail:
	db_rollback();
	/* Nothing committed: the events must not be published either. */
	r->pending = NULL;
	return st;
}

enum db_status
reset_lookup(struct req *r, const char *token, int *usable)
{
	struct db_param		p[1];
	struct db_result	res;
	enum db_status		st;

	*usable = 0;
	if (!reset_token_well_formed(token))
		return DB_OK;
	p[0] = DB_TEXT(reset_sha256_hex(r->arena, token));
	if ((st = db_exec(r->arena, SQL_LOOKUP, p, 1, &res)) != DB_OK)
		return st;
	*usable = res.nrows > 0;
	return DB_OK;
}

/*
 * Revokes every outstanding token of uid and, when the password changed,
 * queues the "password changed" email.  Inside the caller's transaction.
 */
enum db_status
reset_after_change(struct req *r, long long uid, int password_changed)
{
	struct db_param		 p[1];
	struct db_result	 who;
	struct json_object	*ev;
	enum db_status		 st;

	p[0] = DB_INT(uid);
	if ((st = db_exec(r->arena, SQL_REVOKE_OTHERS, p, 1, NULL)) != DB_OK)
		return st;
	if (!password_changed)
		return DB_OK;
	if ((st = db_exec(r->arena, SQL_USER_NAME_EMAIL, p, 1, &who)) != DB_OK)
		return st;
	if (who.nrows != 1)
		return DB_OK;
	ev = json_object_new_object();
	json_object_object_add(ev, "user_id", json_object_new_int64(uid));
	json_object_object_add(ev, "email",
	    json_object_new_string(db_cell(&who, 0, 1)));
	json_object_object_add(ev, "name",
	    json_object_new_string(db_cell(&who, 0, 0)));
	json_object_object_add(ev, "locale", json_object_new_string(r->locale));
	/* Where to go if the change was not the owner's doing. */
	json_object_object_add(ev, "forgot_url", json_object_new_string(
	    reset_public_url(r->arena, "/password/forgot", NULL)));
	return outbox_add(r, RESET_CHANGED_EVENT, db_cell(&who, 0, 1), ev);
}

enum db_status
reset_consume(struct req *r, const char *token, const char *hash, int *done)
{
	struct db_param		 p[2];
	struct db_result	 res, who;
	enum db_status		 st;
	const char		*digest;
	long long		 uid;

	*done = 0;
	if (!reset_token_well_formed(token))
		return DB_OK;
	digest = reset_sha256_hex(r->arena, token);
	if ((st = db_begin()) != DB_OK)
		return st;
	p[0] = DB_TEXT(digest);
	if ((st = db_exec(r->arena, SQL_CONSUME, p, 1, &res)) != DB_OK)
		goto fail;
	if (res.affected != 1) {
		/* Unknown, used, expired, or a concurrent attempt won. */
		db_rollback();
		return DB_OK;
	}
	if ((st = db_exec(r->arena, SQL_CONSUMED_USER, p, 1, &who)) != DB_OK)
		goto fail;
	if (who.nrows != 1 || db_cell(&who, 0, 0) == NULL) {
		/* The account was deleted, or its address changed. */
		db_rollback();
		return DB_OK;
	}
	uid = strtoll(db_cell(&who, 0, 0), NULL, 10);
	p[0] = DB_TEXT(hash);
	p[1] = DB_INT(uid);
	if ((st = db_exec(r->arena, SQL_SET_PASSWORD, p, 2, NULL)) != DB_OK)
		goto fail;
	if ((st = reset_after_change(r, uid, 1)) != DB_OK)
		goto fail;
	if ((st = db_commit()) != DB_OK)
		goto fail;
	*done = 1;
	log_kv(LOG_INFO, "reset.consumed", "user_id", db_cell(&who, 0, 0),
	    NULL);
	return DB_OK;
fail:
	db_rollback();
	r->pending = NULL;
	return st;
}
