/*
 * RabbitMQ through rabbitmq-c 0.11: one connection and one channel per
 * struct mq.  A publisher's channel is in confirm mode; a consumer's is
 * not (the mailer opens one of each, so that waiting for a confirm never
 * has to step over deliveries).  Every blocking step has a deadline.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include "arena.h"
#include "cfg.h"
#include "log.h"
#include "mq.h"

#define MQ_CHANNEL		1
#define MQ_FRAME_MAX		131072
#define MQ_PUBLISH_TIMEOUT_MS	1000	/* connect, login, declare */
#define MQ_CONSUME_TIMEOUT_MS	5000
#define MQ_CONSUME_HEARTBEAT	30	/* seconds */
#define MQ_MAX_HEADERS		8

struct mq {
	amqp_connection_state_t	 conn;
	int			 confirm;	/* channel in confirm mode */
	int			 blocked;	/* broker sent connection.blocked */
	int			 broken;
	uint64_t		 next_tag;	/* tag of the next publish */
};

const char *const mq_event_queues[] = {
	"create.password.reset",
	"password.reset.unknown",
	"password.changed",
	NULL
};

int
mq_fd(const struct mq *mq)
{
	return mq != NULL && !mq->broken ? amqp_get_sockfd(mq->conn) : -1;
}

int
mq_buffered(const struct mq *mq)
{
	return mq != NULL && !mq->broken &&
	    (amqp_frames_enqueued(mq->conn) || amqp_data_in_buffer(mq->conn));
}

/* Turns a timeout in milliseconds into the timeval rabbitmq-c takes. */
static struct timeval
mq_tv(int ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* Milliseconds on a monotonic clock, for deadlines. */
static long long
mq_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Describes an RPC reply for the log (never NULL). */
static const char *
mq_reply_str(amqp_rpc_reply_t r, char *buf, size_t len)
{
	amqp_connection_close_t	*cc;
	amqp_channel_close_t	*ch;

	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return "ok";
	case AMQP_RESPONSE_NONE:
		return "no reply";
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		return amqp_error_string2(r.library_error);
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
			cc = r.reply.decoded;
			snprintf(buf, len, "connection closed: %u %.*s",
			    cc->reply_code, (int)cc->reply_text.len,
			    (const char *)cc->reply_text.bytes);
			return buf;
		}
		if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
			ch = r.reply.decoded;
			snprintf(buf, len, "channel closed: %u %.*s",
			    ch->reply_code, (int)ch->reply_text.len,
			    (const char *)ch->reply_text.bytes);
			return buf;
		}
		snprintf(buf, len, "server exception, method 0x%08x",
		    r.reply.id);
		return buf;
	}
	return "unknown reply";
}

/* Checks the reply of the last RPC; logs what failed.  Returns 0 or -1. */
static int
mq_rpc_ok(struct mq *mq, const char *what)
{
	amqp_rpc_reply_t	 r;
	char			 buf[256];

	r = amqp_get_rpc_reply(mq->conn);
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 0;
	mq->broken = 1;
	log_kv(LOG_ERROR, "mq.rpc_failed", "step", what,
	    "error", mq_reply_str(r, buf, sizeof buf), NULL);
	return -1;
}

/* Declares a durable queue of the configured type with extra arguments. */
static int
mq_declare_queue(struct mq *mq, const char *name, const char *dlx,
    const char *dl_key)
{
	amqp_table_entry_t	 e[5];
	amqp_table_t		 args;
	const char		*type = cfg_str(CFG_AMQP_QUEUE_TYPE);
	int			 n = 0;

	e[n].key = amqp_cstring_bytes("x-queue-type");
	e[n].value.kind = AMQP_FIELD_KIND_UTF8;
	e[n++].value.value.bytes = amqp_cstring_bytes(type);
	if (dlx != NULL) {
		e[n].key = amqp_cstring_bytes("x-dead-letter-exchange");
		e[n].value.kind = AMQP_FIELD_KIND_UTF8;
		e[n++].value.value.bytes = amqp_cstring_bytes(dlx);
		e[n].key = amqp_cstring_bytes("x-dead-letter-routing-key");
		e[n].value.kind = AMQP_FIELD_KIND_UTF8;
		e[n++].value.value.bytes = amqp_cstring_bytes(dl_key);
		/*
		 * A quorum queue dead-letters at most once unless told
		 * otherwise; a retry must not vanish on its way back.
		 */
		if (strcmp(type, "quorum") == 0) {
			e[n].key = amqp_cstring_bytes("x-dead-letter-strategy");
			e[n].value.kind = AMQP_FIELD_KIND_UTF8;
			e[n++].value.value.bytes =
			    amqp_cstring_bytes("at-least-once");
			e[n].key = amqp_cstring_bytes("x-overflow");
			e[n].value.kind = AMQP_FIELD_KIND_UTF8;
			e[n++].value.value.bytes =
			    amqp_cstring_bytes("reject-publish");
		}
	}
	args.num_entries = n;
	args.entries = e;
	amqp_queue_declare(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(name),
	    0, 1, 0, 0, args);
	return mq_rpc_ok(mq, name);
}

/* Binds a queue to an exchange with a routing key. */
static int
mq_bind(struct mq *mq, const char *queue, const char *exchange,
    const char *key)
{
	amqp_queue_bind(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(queue),
	    amqp_cstring_bytes(exchange), amqp_cstring_bytes(key),
	    amqp_empty_table);
	return mq_rpc_ok(mq, "queue.bind");
}

/*
 * Declares the exchanges and, for every event queue, the queue, its retry
 * and dead-letter queues and their bindings (see mq.h).  Idempotent.
 */
static int
mq_declare_topology(struct mq *mq)
{
	const char	*ex = cfg_str(CFG_AMQP_EXCHANGE);
	char		 dlx[256], retry[256], dead[256];
	size_t		 i;

	if ((size_t)snprintf(dlx, sizeof dlx, "%s.dlx", ex) >= sizeof dlx)
		return -1;
	amqp_exchange_declare(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(ex),
	    amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
	if (mq_rpc_ok(mq, "exchange.declare") == -1)
		return -1;
	amqp_exchange_declare(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(dlx),
	    amqp_cstring_bytes("direct"), 0, 1, 0, 0, amqp_empty_table);
	if (mq_rpc_ok(mq, "exchange.declare dlx") == -1)
		return -1;

	for (i = 0; mq_event_queues[i] != NULL; i++) {
		const char *q = mq_event_queues[i];

		snprintf(retry, sizeof retry, "%s.retry", q);
		snprintf(dead, sizeof dead, "%s.dead", q);
		if (mq_declare_queue(mq, q, dlx, dead) == -1 ||
		    mq_bind(mq, q, ex, q) == -1 ||
		    mq_bind(mq, q, dlx, q) == -1 ||
		    mq_declare_queue(mq, retry, dlx, q) == -1 ||
		    mq_declare_queue(mq, dead, NULL, NULL) == -1 ||
		    mq_bind(mq, dead, dlx, dead) == -1)
			return -1;
	}
	return 0;
}

/*
 * Connects, logs in, opens the channel (in confirm mode if asked) and
 * declares the topology.  Returns NULL (logged) on any failure.
 */
static struct mq *
mq_connect(int heartbeat, int confirm, int timeout_ms)
{
	struct mq		*mq;
	amqp_socket_t		*sock;
	amqp_rpc_reply_t	 r;
	struct timeval		 tv = mq_tv(timeout_ms);
	const char		*host = cfg_str(CFG_AMQP_HOST);
	char			 buf[256];
	int			 rc;

	if ((mq = calloc(1, sizeof *mq)) == NULL)
		arena_oom(sizeof *mq);
	mq->confirm = confirm;
	mq->next_tag = 1;
	if ((mq->conn = amqp_new_connection()) == NULL)
		arena_oom(0);
	if ((sock = amqp_tcp_socket_new(mq->conn)) == NULL) {
		log_kv(LOG_ERROR, "mq.open_failed", "error", "socket", NULL);
		goto err;
	}
	rc = amqp_socket_open_noblock(sock, host,
	    (int)cfg_int(CFG_AMQP_PORT), &tv);
	if (rc != AMQP_STATUS_OK) {
		log_kv(LOG_WARN, "mq.open_failed", "host", host,
		    "error", amqp_error_string2(rc), NULL);
		goto err;
	}
	if (amqp_set_handshake_timeout(mq->conn, &tv) != AMQP_STATUS_OK ||
	    amqp_set_rpc_timeout(mq->conn, &tv) != AMQP_STATUS_OK)
		goto err;
	r = amqp_login(mq->conn, cfg_str(CFG_AMQP_VHOST), 0, MQ_FRAME_MAX,
	    heartbeat, AMQP_SASL_METHOD_PLAIN, cfg_str(CFG_AMQP_USER),
	    cfg_str(CFG_AMQP_PASSWORD));
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		log_kv(LOG_WARN, "mq.open_failed", "host", host, "step",
		    "login", "error", mq_reply_str(r, buf, sizeof buf), NULL);
		goto err;
	}
	amqp_channel_open(mq->conn, MQ_CHANNEL);
	if (mq_rpc_ok(mq, "channel.open") == -1)
		goto err;
	if (confirm) {
		amqp_confirm_select(mq->conn, MQ_CHANNEL);
		if (mq_rpc_ok(mq, "confirm.select") == -1)
			goto err;
	}
	if (mq_declare_topology(mq) == -1)
		goto err;
	mq->broken = 0;
	return mq;
err:
	amqp_destroy_connection(mq->conn);
	free(mq);
	return NULL;
}

struct mq *
mq_open(void)
{
	/* No heartbeats: an idle worker could not answer them. */
	return mq_connect(0, 1, MQ_PUBLISH_TIMEOUT_MS);
}

struct mq *
mq_open_consumer(void)
{
	return mq_connect(MQ_CONSUME_HEARTBEAT, 0, MQ_CONSUME_TIMEOUT_MS);
}

void
mq_close(struct mq *mq)
{
	struct timeval	 tv = mq_tv(MQ_PUBLISH_TIMEOUT_MS);

	if (mq == NULL)
		return;
	/* A polite close, bounded in time; skipped on a dead socket. */
	if (!mq->broken) {
		(void)amqp_set_rpc_timeout(mq->conn, &tv);
		(void)amqp_channel_close(mq->conn, MQ_CHANNEL,
		    AMQP_REPLY_SUCCESS);
		(void)amqp_connection_close(mq->conn, AMQP_REPLY_SUCCESS);
	}
	amqp_destroy_connection(mq->conn);
	free(mq);
}

/* Fills one header table entry. */
static void
mq_header_entry(amqp_table_entry_t *e, const char *key, const char *s,
    long long i)
{
	e->key = amqp_cstring_bytes(key);
	if (s != NULL) {
		e->value.kind = AMQP_FIELD_KIND_UTF8;
		e->value.value.bytes = amqp_cstring_bytes(s);
	} else {
		e->value.kind = AMQP_FIELD_KIND_I64;
		e->value.value.i64 = i;
	}
}

/*
 * Publishes m persistently to exchange/routing_key and hands out the
 * confirm tag.  Returns 0, or -1 (connection broken or blocked).
 */
static int
mq_publish_to(struct mq *mq, const char *exchange, const char *routing_key,
    const struct mq_message *m, uint64_t *delivery_tag)
{
	amqp_basic_properties_t	 p;
	amqp_table_entry_t	 h[1 + MQ_MAX_HEADERS];
	amqp_bytes_t		 body;
	char			 exp[32];
	size_t			 i, n = 0;
	int			 rc;

	if (mq == NULL || mq->broken)
		return -1;
	/* The broker stopped reading (resource alarm): fail fast. */
	if (mq->blocked) {
		log_kv(LOG_WARN, "mq.publish_blocked", NULL);
		return -1;
	}
	if (m->nheaders > MQ_MAX_HEADERS)
		return -1;

	memset(&p, 0, sizeof p);
	p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG |
	    AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
	    AMQP_BASIC_HEADERS_FLAG;
	p.content_type = amqp_cstring_bytes("application/json");
	p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	p.timestamp = m->timestamp > 0 ? (uint64_t)m->timestamp :
	    (uint64_t)time(NULL);
	if (m->event_id != NULL) {
		p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
		p.message_id = amqp_cstring_bytes(m->event_id);
	}
	if (m->type != NULL) {
		p._flags |= AMQP_BASIC_TYPE_FLAG;
		p.type = amqp_cstring_bytes(m->type);
	}
	if (m->expiration_ms > 0) {
		snprintf(exp, sizeof exp, "%lld", m->expiration_ms);
		p._flags |= AMQP_BASIC_EXPIRATION_FLAG;
		p.expiration = amqp_cstring_bytes(exp);
	}
	if (m->email != NULL)
		mq_header_entry(&h[n++], "email", m->email, 0);
	for (i = 0; i < m->nheaders; i++)
		mq_header_entry(&h[n++], m->headers[i].key, m->headers[i].s,
		    m->headers[i].i);
	p.headers.num_entries = (int)n;
	p.headers.entries = h;

	body.bytes = (void *)m->body;
	body.len = m->body_len;
	rc = amqp_basic_publish(mq->conn, MQ_CHANNEL,
	    amqp_cstring_bytes(exchange), amqp_cstring_bytes(routing_key),
	    0, 0, &p, body);
	if (rc != AMQP_STATUS_OK) {
		mq->broken = 1;
		log_kv(LOG_WARN, "mq.publish_failed", "error",
		    amqp_error_string2(rc), NULL);
		return -1;
	}
	if (delivery_tag != NULL)
		*delivery_tag = mq->next_tag;
	mq->next_tag++;
	return 0;
}

int
mq_publish(struct mq *mq, const struct mq_message *m, uint64_t *delivery_tag)
{
	return mq_publish_to(mq, cfg_str(CFG_AMQP_EXCHANGE), m->routing_key,
	    m, delivery_tag);
}

int
mq_publish_queue(struct mq *mq, const char *queue,
    const struct mq_message *m, uint64_t *delivery_tag)
{
	return mq_publish_to(mq, "", queue, m, delivery_tag);
}

/*
 * Handles a method frame that is not a delivery: confirms go to
 * on_confirm, flow control and closes update the state.  Returns 0, or
 * -1 when the channel or connection is gone.
 */
static int
mq_handle_method(struct mq *mq, const amqp_frame_t *f,
    void (*on_confirm)(uint64_t, int, int, void *), void *arg)
{
	amqp_basic_ack_t	*ack;
	amqp_basic_nack_t	*nack;
	amqp_message_t		 msg;
	amqp_rpc_reply_t	 r;
	char			 buf[256];

	switch (f->payload.method.id) {
	case AMQP_BASIC_ACK_METHOD:
		ack = f->payload.method.decoded;
		if (on_confirm != NULL)
			on_confirm(ack->delivery_tag, ack->multiple, 1, arg);
		return 0;
	case AMQP_BASIC_NACK_METHOD:
		nack = f->payload.method.decoded;
		if (on_confirm != NULL)
			on_confirm(nack->delivery_tag, nack->multiple, 0, arg);
		return 0;
	case AMQP_BASIC_RETURN_METHOD:
		/* Not asked for (no mandatory flag); drain its content. */
		r = amqp_read_message(mq->conn, f->channel, &msg, 0);
		if (r.reply_type != AMQP_RESPONSE_NORMAL) {
			mq->broken = 1;
			return -1;
		}
		amqp_destroy_message(&msg);
		return 0;
	case AMQP_CONNECTION_BLOCKED_METHOD:
		mq->blocked = 1;
		log_kv(LOG_WARN, "mq.blocked", NULL);
		return 0;
	case AMQP_CONNECTION_UNBLOCKED_METHOD:
		mq->blocked = 0;
		log_kv(LOG_INFO, "mq.unblocked", NULL);
		return 0;
	case AMQP_CHANNEL_CLOSE_METHOD:
	case AMQP_CONNECTION_CLOSE_METHOD:
		r.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
		r.reply = f->payload.method;
		r.library_error = 0;
		log_kv(LOG_WARN, "mq.closed_by_broker",
		    "error", mq_reply_str(r, buf, sizeof buf), NULL);
		mq->broken = 1;
		return -1;
	case AMQP_BASIC_CANCEL_METHOD:
		/* The broker cancelled our consumer (queue gone or moved). */
		log_kv(LOG_WARN, "mq.consumer_cancelled", NULL);
		mq->broken = 1;
		return -1;
	default:
		return 0;
	}
}

int
mq_poll_confirms(struct mq *mq, int timeout_ms,
    void (*on_confirm)(uint64_t tag, int multiple, int ack, void *arg),
    void *arg)
{
	amqp_frame_t	 f;
	struct timeval	 tv;
	long long	 deadline;
	int		 rc, waited = 0;

	if (mq == NULL || mq->broken)
		return -1;
	deadline = mq_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		/*
		 * Decoded frames live in the connection's pool until it is
		 * released: without this every confirm kept its bytes.
		 */
		amqp_maybe_release_buffers(mq->conn);
		/* Wait only for the first frame; then take what is there. */
		tv = mq_tv(waited ? 0 : (int)(deadline - mq_now_ms()));
		rc = amqp_simple_wait_frame_noblock(mq->conn, &f, &tv);
		if (rc == AMQP_STATUS_TIMEOUT)
			return 0;
		if (rc != AMQP_STATUS_OK) {
			mq->broken = 1;
			log_kv(LOG_WARN, "mq.read_failed", "error",
			    amqp_error_string2(rc), NULL);
			return -1;
		}
		waited = 1;
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		if (mq_handle_method(mq, &f, on_confirm, arg) == -1)
			return -1;
	}
}

struct mq_wait {
	uint64_t	 tag;
	int		 result;	/* -1 pending, 0 nack, 1 ack */
};

/* Records the confirm of the awaited tag. */
static void
mq_wait_cb(uint64_t tag, int multiple, int ack, void *arg)
{
	struct mq_wait	*w = arg;

	if (tag == w->tag || (multiple && tag > w->tag))
		w->result = ack;
}

int
mq_wait_confirm(struct mq *mq, uint64_t tag, int timeout_ms)
{
	struct mq_wait	 w = { tag, -1 };
	long long	 deadline = mq_now_ms() + timeout_ms;
	long long	 left;

	while (w.result == -1) {
		left = deadline - mq_now_ms();
		if (left <= 0) {
			log_kv(LOG_WARN, "mq.confirm_timeout", NULL);
			mq->broken = 1;
			return -1;
		}
		if (mq_poll_confirms(mq, (int)left, mq_wait_cb, &w) == -1)
			return -1;
	}
	return w.result;
}

int
mq_consume(struct mq *mq, const char *queue, int prefetch)
{
	if (mq == NULL || mq->broken)
		return -1;
	if (prefetch < 1)
		prefetch = 1;
	if (prefetch > 65535)
		prefetch = 65535;
	amqp_basic_qos(mq->conn, MQ_CHANNEL, 0, (uint16_t)prefetch, 0);
	if (mq_rpc_ok(mq, "basic.qos") == -1)
		return -1;
	/* The consumer tag is the queue name, to tell deliveries apart. */
	amqp_basic_consume(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(queue),
	    amqp_cstring_bytes(queue), 0, 0, 0, amqp_empty_table);
	return mq_rpc_ok(mq, "basic.consume");
}

/* Copies AMQP bytes into the arena as a C string ("" when empty). */
static const char *
mq_str(struct arena *a, amqp_bytes_t b)
{
	if (b.len == 0)
		return "";
	return arena_strndup(a, b.bytes, b.len);
}

/* Reads an integer header value of any width; 0 for other kinds. */
static long long
mq_field_int(const amqp_field_value_t *v)
{
	switch (v->kind) {
	case AMQP_FIELD_KIND_I8:	return v->value.i8;
	case AMQP_FIELD_KIND_U8:	return v->value.u8;
	case AMQP_FIELD_KIND_I16:	return v->value.i16;
	case AMQP_FIELD_KIND_U16:	return v->value.u16;
	case AMQP_FIELD_KIND_I32:	return v->value.i32;
	case AMQP_FIELD_KIND_U32:	return v->value.u32;
	case AMQP_FIELD_KIND_I64:	return v->value.i64;
	case AMQP_FIELD_KIND_U64:	return (long long)v->value.u64;
	default:			return 0;
	}
}

/* Copies an envelope into d, in the arena. */
static void
mq_copy_envelope(struct arena *a, const amqp_envelope_t *env,
    struct mq_delivery *d)
{
	const amqp_basic_properties_t	*p = &env->message.properties;
	const amqp_table_entry_t	*e;
	char				*body;
	int				 i;

	memset(d, 0, sizeof *d);
	d->tag = env->delivery_tag;
	d->redelivered = env->redelivered;
	d->queue = mq_str(a, env->consumer_tag);
	d->routing_key = mq_str(a, env->routing_key);
	d->message_id = (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) ?
	    mq_str(a, p->message_id) : "";
	d->type = (p->_flags & AMQP_BASIC_TYPE_FLAG) ?
	    mq_str(a, p->type) : "";
	d->timestamp = (p->_flags & AMQP_BASIC_TIMESTAMP_FLAG) ?
	    (long long)p->timestamp : 0;
	d->email = "";
	if (p->_flags & AMQP_BASIC_HEADERS_FLAG) {
		for (i = 0; i < p->headers.num_entries; i++) {
			e = &p->headers.entries[i];
			if (e->key.len == 5 &&
			    memcmp(e->key.bytes, "email", 5) == 0 &&
			    (e->value.kind == AMQP_FIELD_KIND_UTF8 ||
			    e->value.kind == AMQP_FIELD_KIND_BYTES))
				d->email = mq_str(a, e->value.value.bytes);
			else if (e->key.len == 10 &&
			    memcmp(e->key.bytes, "x-attempts", 10) == 0)
				d->attempts = mq_field_int(&e->value);
		}
	}
	body = arena_alloc(a, env->message.body.len + 1);
	if (env->message.body.len > 0)
		memcpy(body, env->message.body.bytes, env->message.body.len);
	body[env->message.body.len] = '\0';
	d->body = body;
	d->body_len = env->message.body.len;
}

int
mq_next_delivery(struct mq *mq, struct arena *a, int timeout_ms,
    struct mq_delivery *d)
{
	amqp_envelope_t		 env;
	amqp_rpc_reply_t	 r;
	amqp_frame_t		 f;
	struct timeval		 tv = mq_tv(timeout_ms), zero = mq_tv(0);
	int			 rc;

	if (mq == NULL || mq->broken)
		return -1;
	amqp_maybe_release_buffers(mq->conn);
	r = amqp_consume_message(mq->conn, &env, &tv, 0);
	if (r.reply_type == AMQP_RESPONSE_NORMAL) {
		mq_copy_envelope(a, &env, d);
		amqp_destroy_envelope(&env);
		return 1;
	}
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
	    r.library_error == AMQP_STATUS_TIMEOUT)
		return 0;
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
	    r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
		/* Some other method arrived first: read and act on it. */
		rc = amqp_simple_wait_frame_noblock(mq->conn, &f, &zero);
		if (rc == AMQP_STATUS_TIMEOUT)
			return 0;
		if (rc == AMQP_STATUS_OK) {
			if (f.frame_type != AMQP_FRAME_METHOD)
				return 0;
			return mq_handle_method(mq, &f, NULL, NULL) == -1 ?
			    -1 : 0;
		}
		r.library_error = rc;
	}
	mq->broken = 1;
	log_kv(LOG_WARN, "mq.consume_failed", "error",
	    r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ?
	    amqp_error_string2(r.library_error) : "broker closed", NULL);
	return -1;
}

int
mq_ack(struct mq *mq, uint64_t tag)
{
	if (mq == NULL || mq->broken)
		return -1;
	if (amqp_basic_ack(mq->conn, MQ_CHANNEL, tag, 0) != AMQP_STATUS_OK) {
		mq->broken = 1;
		return -1;
	}
	return 0;
}

int
mq_nack(struct mq *mq, uint64_t tag, int requeue)
{
	if (mq == NULL || mq->broken)
		return -1;
	if (amqp_basic_nack(mq->conn, MQ_CHANNEL, tag, 0, requeue) !=
	    AMQP_STATUS_OK) {
		mq->broken = 1;
		return -1;
	}
	return 0;
}
