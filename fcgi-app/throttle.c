/*
 * Fixed-window rate limits in the database (see throttle.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "arena.h"
#include "cfg.h"
#include "throttle.h"

struct throttle_rule {
	const char	*prefix;	/* bucket prefix */
	long		 window;	/* seconds */
	enum cfg_key	 limit;
	int		 hash_subject;	/* keep addresses out of the table */
};

static const struct throttle_rule throttle_rules[THROTTLE__MAX] = {
	{ "forgot:addr:m", 60, CFG_THROTTLE_FORGOT_ADDR_MINUTE, 1 },
					/* THROTTLE_FORGOT_ADDR_MINUTE */
	{ "forgot:addr:h", 3600, CFG_THROTTLE_FORGOT_ADDR_HOUR, 1 },
					/* THROTTLE_FORGOT_ADDR_HOUR */
	{ "forgot:ip", 3600, CFG_THROTTLE_FORGOT_IP_HOUR, 0 },
					/* THROTTLE_FORGOT_IP */
	{ "login:acct", 900, CFG_THROTTLE_LOGIN_ACCOUNT, 1 },
					/* THROTTLE_LOGIN_ACCOUNT */
	{ "login:ip", 900, CFG_THROTTLE_LOGIN_IP, 0 },
					/* THROTTLE_LOGIN_IP */
	{ "token:ip", 3600, CFG_THROTTLE_TOKEN_IP, 0 },
					/* THROTTLE_TOKEN_IP */
};

/* LAST_INSERT_ID(expr) hands the new count back in one round trip. */
static const char SQL_HIT[] =
    "INSERT INTO throttles (bucket, window_start, hits) "
    "VALUES (?, FROM_UNIXTIME(?), LAST_INSERT_ID(1)) "
    "ON DUPLICATE KEY UPDATE hits = LAST_INSERT_ID(hits + 1)";
static const char SQL_COUNT[] =
    "SELECT hits FROM throttles WHERE bucket = ? "
    "AND window_start = FROM_UNIXTIME(?)";

/*
 * The bucket name: prefix and subject, the subject lower-cased and, for
 * addresses and logins, replaced by its SHA-256 so the table holds no
 * personal data.  Buckets fit the 191-character key.
 */
static char *
throttle_bucket(struct arena *a, const struct throttle_rule *rule,
    const char *subject)
{
	unsigned char	 h[crypto_hash_sha256_BYTES];
	char		 hex[sizeof(h) * 2 + 1], *lower, *c;

	lower = arena_strdup(a, subject);
	for (c = lower; *c != '\0'; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	if (rule->hash_subject || strlen(lower) > 64) {
		crypto_hash_sha256(h, (const unsigned char *)lower,
		    strlen(lower));
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		return arena_printf(a, "%s:%s", rule->prefix, hex);
	}
	return arena_printf(a, "%s:%s", rule->prefix, lower);
}

/* Start of the current window, and the seconds left in it. */
static long long
throttle_window(const struct throttle_rule *rule, long *left)
{
	long long	now = (long long)time(NULL);
	long long	start = now - now % rule->window;

	*left = (long)(start + rule->window - now);
	return start;
}

/*
 * Runs SQL_HIT or SQL_COUNT for kind and subject in the current window;
 * *count gets the window's hits (after the hit, for SQL_HIT).
 */
static enum db_status
throttle_run(struct arena *a, enum throttle_kind kind, const char *subject,
    const char *sql, long long *count, long *retry_after)
{
	const struct throttle_rule	*rule = &throttle_rules[kind];
	struct db_param			 p[2];
	struct db_result		 res;
	enum db_status			 st;

	*count = 0;
	p[0] = DB_TEXT(throttle_bucket(a, rule, subject));
	p[1] = DB_INT(throttle_window(rule, retry_after));
	if ((st = db_exec(a, sql, p, 2, &res)) != DB_OK)
		return st;
	if (sql == SQL_HIT)
		*count = (long long)res.insert_id;
	else if (res.nrows == 1)
		*count = strtoll(db_cell(&res, 0, 0), NULL, 10);
	return DB_OK;
}

enum db_status
throttle_hit(struct arena *a, enum throttle_kind kind, const char *subject,
    int *over, long *retry_after)
{
	long long	count;
	enum db_status	st;

	st = throttle_run(a, kind, subject, SQL_HIT, &count, retry_after);
	*over = st == DB_OK && count > cfg_int(throttle_rules[kind].limit);
	return st;
}

enum db_status
throttle_reached(struct arena *a, enum throttle_kind kind, const char *subject,
    int *reached, long *retry_after)
{
	long long	count;
	enum db_status	st;

	st = throttle_run(a, kind, subject, SQL_COUNT, &count, retry_after);
	*reached = st == DB_OK &&
	    count >= cfg_int(throttle_rules[kind].limit);
	return st;
}
