/*
 * The outbox relay (see mailer_relay.h and DESIGN "Events: nothing is
 * lost").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "cfg.h"
#include "db.h"
#include "log.h"
#include "mailer_relay.h"
#include "mq.h"

#define RELAY_BATCH		100
#define RELAY_CONFIRM_MS	5000

/* A claimed row on its way to the broker. */
struct relay_row {
	const char	*id;
	uint64_t	 tag;
	int		 state;		/* 0 pending, 1 acked, -1 nacked */
};

struct relay_batch {
	struct relay_row	*rows;
	size_t			 n;
	size_t			 pending;
};

/* Marks the rows a confirm covers. */
static void
relay_on_confirm(uint64_t tag, int multiple, int ack, void *arg)
{
	struct relay_batch	*b = arg;
	size_t			 i;

	for (i = 0; i < b->n; i++) {
		if (b->rows[i].state != 0)
			continue;
		if (b->rows[i].tag == tag || (multiple && b->rows[i].tag < tag)) {
			b->rows[i].state = ack ? 1 : -1;
			b->pending--;
		}
	}
}

/*
 * Claims a row for this mailer: bumps attempts and last_attempt_at unless
 * another relay did so within the age.  Returns 1 claimed, 0 taken, -1
 * database trouble.
 */
static int
relay_claim(struct arena *a, const char *id, long long age)
{
	struct db_param		 p[2];
	struct db_result	 res;

	p[0] = DB_INT(strtoll(id, NULL, 10));
	p[1] = DB_INT(age);
	if (db_exec(a, "UPDATE outbox SET attempts = attempts + 1,"
	    " last_attempt_at = NOW(3) WHERE id = ? AND"
	    " (last_attempt_at IS NULL OR"
	    " last_attempt_at < NOW(3) - INTERVAL ? SECOND)",
	    p, 2, &res) != DB_OK)
		return -1;
	return res.affected == 1;
}

enum relay_rc
mailer_relay_run(struct mq *mq, struct arena *a, int *published)
{
	struct db_param		 p[2];
	struct db_result	 res;
	struct relay_batch	 b;
	struct mq_message	 msg;
	long long		 age = cfg_int(CFG_OUTBOX_RELAY_AGE);
	long long		 left;
	struct timespec		 t0, t1;
	size_t			 i;
	int			 c;
	enum relay_rc		 rc = RELAY_OK;

	*published = 0;
	p[0] = DB_INT(age);
	p[1] = DB_INT(age);
	if (db_exec(a, "SELECT id, event_id, routing_key, event_type, email,"
	    " payload FROM outbox WHERE created_at < NOW(3) - INTERVAL ? SECOND"
	    " AND (last_attempt_at IS NULL OR"
	    " last_attempt_at < NOW(3) - INTERVAL ? SECOND)"
	    " ORDER BY id LIMIT 100", p, 2, &res) != DB_OK)
		return RELAY_DB_DOWN;
	if (res.nrows == 0)
		return RELAY_OK;

	memset(&b, 0, sizeof b);
	b.rows = arena_calloc(a, res.nrows, sizeof *b.rows);
	for (i = 0; i < res.nrows && i < RELAY_BATCH; i++) {
		if ((c = relay_claim(a, db_cell(&res, i, 0), age)) == -1)
			return RELAY_DB_DOWN;
		if (c == 0)
			continue;
		memset(&msg, 0, sizeof msg);
		msg.event_id = db_cell(&res, i, 1);
		msg.routing_key = db_cell(&res, i, 2);
		msg.type = db_cell(&res, i, 3);
		msg.email = db_cell(&res, i, 4);
		msg.body = db_cell(&res, i, 5);
		if (msg.event_id == NULL || msg.routing_key == NULL ||
		    msg.type == NULL || msg.body == NULL)
			continue;
		msg.body_len = strlen(msg.body);
		if (mq_publish(mq, &msg, &b.rows[b.n].tag) == -1) {
			rc = RELAY_BROKER_DOWN;
			break;
		}
		b.rows[b.n].id = db_cell(&res, i, 0);
		b.n++;
		b.pending++;
	}

	/* Wait for the confirms of what went out. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (rc == RELAY_OK && b.pending > 0) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = RELAY_CONFIRM_MS - ((t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			log_kv(LOG_WARN, "relay.confirm_timeout", NULL);
			rc = RELAY_BROKER_DOWN;
			break;
		}
		if (mq_poll_confirms(mq, (int)left, relay_on_confirm, &b) == -1)
			rc = RELAY_BROKER_DOWN;
	}

	/* Rows the broker has are done; the rest wait for the next pass. */
	for (i = 0; i < b.n; i++) {
		if (b.rows[i].state != 1)
			continue;
		p[0] = DB_INT(strtoll(b.rows[i].id, NULL, 10));
		if (db_exec(a, "DELETE FROM outbox WHERE id = ?", p, 1, NULL)
		    != DB_OK) {
			rc = rc == RELAY_OK ? RELAY_DB_DOWN : rc;
			break;
		}
		(*published)++;
	}
	if (b.n > 0)
		log_kv(LOG_INFO, "relay.pass", "published",
		    arena_printf(a, "%zu", b.n), "confirmed",
		    arena_printf(a, "%d", *published), NULL);
	return rc;
}
