/*
 * RabbitMQ through rabbitmq-c: connection, topology, publishing with
 * publisher confirms, and consuming with manual acks.
 */
#ifndef MQ_H
#define MQ_H

#include <stddef.h>
#include <stdint.h>

struct mq;

/* An event to publish; body is JSON. */
struct mq_message {
	const char	*routing_key;
	const char	*event_id;	/* AMQP message-id */
	const char	*type;		/* AMQP type */
	const char	*email;		/* the seed's "email" header */
	const char	*body;
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

#endif
