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
static const char SQL_CLEANUP[] =
    "DELETE FROM throttles WHERE window_start < UTC_TIMESTAMP() - "
    "INTERVAL 1 DAY LIMIT 10000";

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

enum db_status
throttle_hit(struct arena *a, enum throttle_kind kind, const char *subject,
    int *over, long *retry_after)
{
	const struct throttle_rule	*rule = &throttle_rules[kind];
	struct db_param			 p[2];
	struct db_result		 res;
	enum db_status			 st;

	*over = 0;
	p[0] = DB_TEXT(throttle_bucket(a, rule, subject));
	p[1] = DB_INT(throttle_window(rule, retry_after));
	if ((st = db_exec(a, SQL_HIT, p, 2, &res)) != DB_OK)
		return st;
	*over = (long long)res.insert_id > cfg_int(rule->limit);
	return DB_OK;
}

enum db_status
throttle_reached(struct arena *a, enum throttle_kind kind, const char *subject,
    int *reached, long *retry_after)
{
	const struct throttle_rule	*rule = &throttle_rules[kind];
	struct db_param			 p[2];
	struct db_result		 res;
	enum db_status			 st;

	*reached = 0;
	p[0] = DB_TEXT(throttle_bucket(a, rule, subject));
	p[1] = DB_INT(throttle_window(rule, retry_after));
	if ((st = db_exec(a, SQL_COUNT, p, 2, &res)) != DB_OK)
		return st;
	*reached = res.nrows == 1 &&
	    strtoll(db_cell(&res, 0, 0), NULL, 10) >= cfg_int(rule->limit);
	return DB_OK;
}

enum db_status
throttle_cleanup(struct arena *a, unsigned long long *removed)
{
	struct db_result	res;
	enum db_status		st;

	*removed = 0;
	if ((st = db_exec(a, SQL_CLEANUP, NULL, 0, &res)) == DB_OK)
		*removed = res.affected;
	return st;
}
