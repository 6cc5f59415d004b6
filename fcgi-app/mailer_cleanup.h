/*
 * Housekeeping that reset-mailer runs every few minutes: rate-limit
 * windows older than a day, delivery records older than the longest time
 * a duplicate event can still arrive, and the reset rows of addresses
 * without an account once a day old.
 */
#ifndef MAILER_CLEANUP_H
#define MAILER_CLEANUP_H

struct arena;

/* Deletes what is old; logs how much.  Failures are logged, not fatal. */
void	mailer_cleanup_run(struct arena *);

#endif
