/*
 * The outbox relay: republishes events whose outbox row outlived the
 * FastCGI worker's own publish (broker down, worker killed, confirm
 * lost).  Rows go once RabbitMQ confirmed them.
 */
#ifndef MAILER_RELAY_H
#define MAILER_RELAY_H

struct arena;
struct mq;

/* What one relay pass ran into. */
enum relay_rc {
	RELAY_OK,		/* done (rows published, or none due) */
	RELAY_BROKER_DOWN,	/* the publishing connection broke */
	RELAY_DB_DOWN		/* the database is away: back off */
};

/*
 * Publishes up to 100 rows older than OUTBOX_RELAY_AGE seconds (and not
 * tried in that long) on mq, waits for their confirms and deletes the
 * confirmed ones.  Each row is claimed first by bumping attempts and
 * last_attempt_at, so competing mailers rarely publish the same row
 * twice (and a duplicate is harmless: the mailer deduplicates by event
 * id).  *published counts the rows confirmed.  Returns a relay_rc.
 */
enum relay_rc	mailer_relay_run(struct mq *mq, struct arena *a,
		    int *published);

#endif
