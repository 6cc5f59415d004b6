/*
 * RabbitMQ through rabbitmq-c: connection, topology, publishing with
 * publisher confirms, and consuming with manual acks.
 *
 * Topology (declared by every mq_open, so that no event published before
 * the mailer first ran is unroutable and silently dropped):
 *   exchange AMQP_EXCHANGE (durable topic) and AMQP_EXCHANGE.dlx (direct);
 *   for each name q in mq_event_queues (queue = its routing key):
 *     q        bound to the exchange by q and to the dlx by q (retries);
 *              dead-letters to the dlx with key q.dead
 *     q.retry  no consumer; a message's expiration dead-letters it back
 *              to q through the dlx
 *     q.dead   bound to the dlx by q.dead; kept for people to read
 *   all durable, of type AMQP_QUEUE_TYPE (classic or quorum).
 */
#ifndef MQ_H
#define MQ_H

#include <stddef.h>
#include <stdint.h>

struct mq;
struct arena;

/* The event queues, each named after its routing key; NULL-terminated. */
extern const char *const mq_event_queues[];

/* An extra header: a string value, or the integer i when s is NULL. */
struct mq_header {
	const char	*key;
	const char	*s;
	long long	 i;
};

/*
 * A message to publish; body is JSON.  The fields after body_len are
 * optional (zero for a plain event).
 */
struct mq_message {
	const char	*routing_key;
	const char	*event_id;	/* AMQP message-id */
	const char	*type;		/* AMQP type */
	const char	*email;		/* the seed's "email" header */
	const char	*body;
	size_t		 body_len;
	const struct mq_header *headers;	/* more headers */
	size_t		 nheaders;
	long long	 expiration_ms;	/* per-message TTL; 0: none */
	long long	 timestamp;	/* unix seconds; 0: now */
};

/* A message received from a queue; strings live in the caller's arena. */
struct mq_delivery {
	uint64_t	 tag;		/* for mq_ack()/mq_nack() */
	int		 redelivered;
	const char	*queue;		/* the queue it was consumed from */
	const char	*routing_key;
	const char	*message_id;	/* "" when absent, like those below */
	const char	*type;
	const char	*email;		/* "email" header */
	long long	 timestamp;	/* 0 when absent */
	long long	 attempts;	/* "x-attempts" header, 0 when absent */
	const char	*body;		/* NUL-terminated copy */
	size_t		 body_len;
};

/*
 * Connects with the cfg AMQP_* settings, opens a channel in confirm mode
 * and declares the durable topic exchange.  Returns NULL (logged) when the
 * broker cannot be reached.
 */
struct mq	*mq_open(void);
void		 mq_close(struct mq *);

/*
 * The connection's socket, to poll() beside other work; and whether
 * frames already read sit in the library's buffer (then poll() would not
 * tell).
 */
int		 mq_fd(const struct mq *);
int		 mq_buffered(const struct mq *);

/*
 * Publishes persistently.  On success stores the delivery tag whose
 * confirm will later arrive through mq_poll_confirms() and returns 0;
 * returns -1 when the connection is broken (close it and reopen later).
 */
int		 mq_publish(struct mq *, const struct mq_message *,
		    uint64_t *delivery_tag);

/*
 * Reads confirms that arrived, waiting at most timeout_ms (0: only what is
 * already there).  Calls on_confirm for each basic.ack/basic.nack: tag,
 * whether it covers every tag up to it (multiple), and ack or nack.
 * Returns 0, or -1 when the connection is broken.
 */
int		 mq_poll_confirms(struct mq *, int timeout_ms,
		    void (*on_confirm)(uint64_t tag, int multiple, int ack,
		    void *arg), void *arg);

/*
 * Opens a connection for consuming (heartbeats on, no confirm mode) and
 * declares the topology.  Returns NULL (logged) when the broker cannot be
 * reached.
 */
struct mq	*mq_open_consumer(void);

/*
 * Starts consuming queue with manual acks and at most prefetch
 * unacknowledged deliveries.  Returns 0, or -1 (logged).
 */
int		 mq_consume(struct mq *, const char *queue, int prefetch);

/*
 * Waits at most timeout_ms for the next delivery and copies it into the
 * arena.  Returns 1 with *d filled, 0 on timeout, -1 when the connection
 * is broken (its unacknowledged deliveries go back to their queues).
 */
int		 mq_next_delivery(struct mq *, struct arena *, int timeout_ms,
		    struct mq_delivery *d);

/* Acknowledges or rejects a delivery.  Returns 0, or -1 when broken. */
int		 mq_ack(struct mq *, uint64_t tag);
int		 mq_nack(struct mq *, uint64_t tag, int requeue);

/*
 * Publishes persistently to a queue by name (through the default
 * exchange; routing_key in the message is ignored).  Same return and tag
 * as mq_publish().
 */
int		 mq_publish_queue(struct mq *, const char *queue,
		    const struct mq_message *, uint64_t *delivery_tag);

/*
 * Waits at most timeout_ms for the confirm of tag.  Returns 1 on ack, 0
 * on nack, -1 on timeout or when the connection is broken (close it).  Confirms for
 * other tags that arrive meanwhile are dropped: use it when tag is the
 * only publish outstanding, mq_poll_confirms() otherwise.
 */
int		 mq_wait_confirm(struct mq *, uint64_t tag, int timeout_ms);

#endif
