/*
 * Rate limits as fixed-window counters in the `throttles` table, so they
 * hold across workers and hosts.  A bucket names what is counted
 * ("forgot:ip:127.0.0.1"); a window is a whole number of seconds.
 * Old windows are deleted by reset-mailer (mailer_cleanup.c).
 */
#ifndef THROTTLE_H
#define THROTTLE_H

#include "db.h"

struct arena;

/* The limits the service enforces. */
enum throttle_kind {
	THROTTLE_FORGOT_ADDR_MINUTE,	/* reset emails per address */
	THROTTLE_FORGOT_ADDR_HOUR,
	THROTTLE_FORGOT_IP,		/* reset requests per client */
	THROTTLE_LOGIN_ACCOUNT,		/* failed logins per account */
	THROTTLE_LOGIN_IP,		/* failed logins per client */
	THROTTLE_TOKEN_IP,		/* failed token submissions per client */
	THROTTLE__MAX
};

/*
 * Counts one hit of kind for subject (an address, IP or login); *over is
 * set when the count now exceeds the limit, and *retry_after to the
 * seconds until the window ends.
 */
enum db_status	throttle_hit(struct arena *, enum throttle_kind,
		    const char *subject, int *over, long *retry_after);

/* Like throttle_hit, but only reads: is the limit already reached? */
enum db_status	throttle_reached(struct arena *, enum throttle_kind,
		    const char *subject, int *reached, long *retry_after);

#endif
