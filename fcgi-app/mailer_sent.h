/*
 * The mail_sent table: the ids of the events mailed already, so that a
 * redelivered or republished event is not mailed twice.  A batch's ids
 * share a statement, MAILER_SENT_CHUNK at a time.
 */
#ifndef MAILER_SENT_H
#define MAILER_SENT_H

#include <stddef.h>

struct arena;

/* Ids per statement (a batch of up to this many is one round trip). */
#define MAILER_SENT_CHUNK	16

/*
 * Sets sent[i] to 1 for each ids[i] mailed already, else 0.  Returns 0,
 * or -1 when the database cannot tell.
 */
int	mailer_sent_check(struct arena *, const char *const *ids, size_t n,
	    int *sent);

/* Records the n ids as mailed, all or none.  Returns 0, or -1. */
int	mailer_sent_record(struct arena *, const char *const *ids, size_t n);

#endif
