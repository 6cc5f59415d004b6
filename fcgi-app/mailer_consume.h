/*
 * The mailer's handling of event deliveries: parse, skip duplicates,
 * render, send, then ack, retry later or dead-letter.
 */
#ifndef MAILER_CONSUME_H
#define MAILER_CONSUME_H

#include <stddef.h>

struct arena;
struct mq;
struct mq_delivery;

/* The two broker connections a mailer holds. */
struct mailer {
	struct mq	*in;	/* consuming the event queues */
	struct mq	*out;	/* publishing with confirms */
};

/* How handling a delivery ended, for the main loop. */
enum mailer_rc {
	MAILER_DONE,		/* acked (sent, duplicate, retried or dead) */
	MAILER_BROKER_DOWN,	/* a connection broke: reconnect */
	MAILER_DB_DOWN		/* requeued: the database is away, back off */
};

/*
 * Handles n deliveries from m->in, publishing retries and dead letters on
 * m->out; the messages to send go over one SMTP session.  A delivery is
 * acked only once its outcome is safe: mail accepted by the server (and
 * recorded as sent), or a retry or dead letter confirmed by the broker.
 * Returns MAILER_DONE, MAILER_DB_DOWN when some were requeued because the
 * database is away, or MAILER_BROKER_DOWN (those not yet acked come back
 * after the reconnect).
 */
enum mailer_rc	mailer_handle(struct mailer *m, struct arena *a,
		    const struct mq_delivery *d, size_t n);
/* The retry delay before attempt+1, in milliseconds. */
long long	mailer_retry_delay_ms(long long attempt);

#endif
