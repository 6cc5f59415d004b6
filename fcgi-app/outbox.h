/*
 * The transactional outbox.  An event row is written in the same
 * transaction as the change it announces; once the answer is out, the
 * worker publishes it with publisher confirms and deletes the row once
 * RabbitMQ confirmed it: inside the transaction of the next outbox_add()
 * when one comes soon, else in a statement of its own.  Whatever stays
 * (broker down, worker killed) is republished by the relay in
 * reset-mailer.
 */
#ifndef OUTBOX_H
#define OUTBOX_H

#include "db.h"

struct json_object;
struct req;

struct outbox_pending {
	struct outbox_pending	*next;
	long long		 id;
	const char		*event_id;
	const char		*routing_key;
	const char		*type;
	const char		*email;
	const char		*payload;
};

/*
 * Adds event_id, type and occurred_at to payload, writes the row (inside
 * the caller's transaction, with the deletion of confirmed rows) and
 * queues it on r for publishing after the answer.  Takes ownership of
 * payload.  A caller whose transaction fails sets r->pending to NULL.
 */
enum db_status	outbox_add(struct req *, const char *routing_key,
		    const char *email, struct json_object *payload);

/*
 * After the answer is sent: publishes what r queued (r->pending NULL: its
 * transaction was rolled back, and the confirmed rows it was to delete
 * are listed again).
 */
void		outbox_publish_pending(struct req *);

/*
 * Collects confirms that have arrived, listing the confirmed rows for
 * deletion, waiting at most wait_ms for outstanding ones.
 */
void		outbox_drain(int wait_ms);

/*
 * The broker socket to poll() for confirms while idle (-1: nothing to
 * wait for), and whether confirms are already buffered.
 */
int		outbox_confirm_fd(void);
int		outbox_confirm_buffered(void);

/*
 * Milliseconds until confirmed rows are due to be deleted on their own
 * (0: now; -1: none waits), and that deletion when they are due.
 */
int		outbox_delete_wait_ms(void);
void		outbox_delete_due(void);

void		outbox_close(void);

/* A random (version 4) UUID in the caller's 37-byte buffer. */
void		outbox_uuid(char out[37]);

#endif
