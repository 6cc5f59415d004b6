/*
 * Outbox rows and their publication (see outbox.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>

#include <json-c/json.h>
#include <sodium.h>

#include "arena.h"
#include "http.h"
#include "log.h"
#include "mq.h"
#include "outbox.h"

/* Unconfirmed publishes we remember; beyond that the relay catches up. */
#define OUTBOX_INFLIGHT		256
/* After a failed connect, leave the broker alone this long (seconds). */
#define OUTBOX_RETRY_AFTER	5
/*
 * Confirmed rows wait this long for the next outbox_add() to delete them
 * inside its transaction (no commit of their own); then, or when the list
 * is full, they go in a statement of their own.
 */
#define OUTBOX_DELETE_AFTER_MS	50
#define OUTBOX_CONFIRMED_MAX	256
/* Ids per DELETE; a shorter list repeats its last id. */
#define OUTBOX_IDS_PER_SQL	16

struct outbox_inflight {
	uint64_t	tag;
	long long	id;
};

static struct mq		*outbox_mq;
static time_t			 outbox_down_since;
static struct outbox_inflight	 outbox_wait[OUTBOX_INFLIGHT];
static size_t			 outbox_nwait;
static struct arena		*outbox_arena;
/* Confirmed rows to delete, and since when the first has waited. */
static long long		 outbox_confirmed[OUTBOX_CONFIRMED_MAX];
static size_t			 outbox_nconfirmed;
static long long		 outbox_confirmed_since;
/* Those the current request's transaction deletes, if it commits. */
static long long		 outbox_taken[OUTBOX_CONFIRMED_MAX];
static size_t			 outbox_ntaken;

static const char SQL_INSERT[] =
    "INSERT INTO outbox (event_id, routing_key, event_type, email, payload, "
    "created_at) VALUES (?, ?, ?, ?, ?, NOW(3))";
static const char SQL_DELETE[] = "DELETE FROM outbox WHERE id IN "
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

void
outbox_uuid(char out[37])
{
	unsigned char	b[16];

	randombytes_buf(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static long long
outbox_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Deletes the n rows, OUTBOX_IDS_PER_SQL to a statement. */
static enum db_status
outbox_delete(struct arena *a, const long long *ids, size_t n)
{
	struct db_param	 p[OUTBOX_IDS_PER_SQL];
	size_t		 at, k, i;
	enum db_status	 st = DB_OK;

	for (at = 0; at < n && st == DB_OK; at += k) {
		k = n - at < OUTBOX_IDS_PER_SQL ? n - at : OUTBOX_IDS_PER_SQL;
		for (i = 0; i < OUTBOX_IDS_PER_SQL; i++)
			p[i] = DB_INT(ids[at + (i < k ? i : k - 1)]);
		st = db_exec(a, SQL_DELETE, p, OUTBOX_IDS_PER_SQL, NULL);
	}
	return st;
}

/*
 * Deletes the confirmed rows on their own (one statement is atomic; more
 * share a transaction).  Rows not deleted are left for the relay.
 */
static void
outbox_delete_confirmed(void)
{
	int	tx = outbox_nconfirmed > OUTBOX_IDS_PER_SQL, ok;

	if (outbox_nconfirmed == 0)
		return;
	if (outbox_arena == NULL)
		outbox_arena = arena_new();
	ok = !tx || db_begin() == DB_OK;
	ok = ok && outbox_delete(outbox_arena, outbox_confirmed,
	    outbox_nconfirmed) == DB_OK;
	if (tx && ok)
		ok = db_commit() == DB_OK;
	else if (tx)
		db_rollback();
	if (!ok)
		log_kv(LOG_WARN, "outbox.delete_failed", NULL);
	outbox_nconfirmed = 0;
	arena_reset(outbox_arena);
}

/* Lists a confirmed row for deletion (deleting the list first if full). */
static void
outbox_list_confirmed(long long id)
{
	if (outbox_nconfirmed == OUTBOX_CONFIRMED_MAX)
		outbox_delete_confirmed();
	if (outbox_nconfirmed == 0)
		outbox_confirmed_since = outbox_now_ms();
	outbox_confirmed[outbox_nconfirmed++] = id;
}

/*
 * Inside the caller's transaction: deletes the confirmed rows with it.
 * They count as deleted once it commits (outbox_publish_pending).
 */
static enum db_status
outbox_take_confirmed(struct arena *a)
{
	enum db_status	st;

	if (outbox_nconfirmed == 0 ||
	    outbox_ntaken + outbox_nconfirmed > OUTBOX_CONFIRMED_MAX)
		return DB_OK;
	if ((st = outbox_delete(a, outbox_confirmed, outbox_nconfirmed)) !=
	    DB_OK)
		return st;
	memcpy(outbox_taken + outbox_ntaken, outbox_confirmed,
	    outbox_nconfirmed * sizeof(outbox_confirmed[0]));
	outbox_ntaken += outbox_nconfirmed;
	outbox_nconfirmed = 0;
	return DB_OK;
}

/* The request is over: its transaction committed, or the taken rows stay. */
static void
outbox_settle_taken(int committed)
{
	size_t	i;

	for (i = 0; i < outbox_ntaken && !committed; i++)
		outbox_list_confirmed(outbox_taken[i]);
	outbox_ntaken = 0;
}

enum db_status
outbox_add(struct req *r, const char *routing_key, const char *email,
    struct json_object *payload)
{
	struct outbox_pending	*p;
	struct db_param		 prm[5];
	struct db_result	 res;
	char			 uuid[37], ts[64];
	enum db_status		 st;

	outbox_uuid(uuid);
	log_now_iso(ts, sizeof(ts));
	json_object_object_add(payload, "event_id",
	    json_object_new_string(uuid));
	json_object_object_add(payload, "type",
	    json_object_new_string(routing_key));
	json_object_object_add(payload, "occurred_at",
	    json_object_new_string(ts));

	p = arena_calloc(r->arena, 1, sizeof(*p));
	p->event_id = arena_strdup(r->arena, uuid);
	p->routing_key = routing_key;
	p->type = routing_key;
	p->email = arena_strdup(r->arena, email);
	p->payload = arena_strdup(r->arena, json_object_to_json_string_ext(
	    payload, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(payload);

	if ((st = outbox_take_confirmed(r->arena)) != DB_OK)
		return st;
	prm[0] = DB_TEXT(p->event_id);
	prm[1] = DB_TEXT(p->routing_key);
	prm[2] = DB_TEXT(p->type);
	prm[3] = DB_TEXT(p->email);
	prm[4] = DB_TEXT(p->payload);
	if ((st = db_exec(r->arena, SQL_INSERT, prm, 5, &res)) != DB_OK)
		return st;
	p->id = (long long)res.insert_id;
	p->next = r->pending;
	r->pending = p;
	return DB_OK;
}

/* Opens the broker connection unless it failed a moment ago. */
static int
outbox_connect(void)
{
	time_t	now = time(NULL);

	if (outbox_mq != NULL)
		return 0;
	if (outbox_down_since != 0 &&
	    now - outbox_down_since < OUTBOX_RETRY_AFTER)
		return -1;
	if ((outbox_mq = mq_open()) == NULL) {
		outbox_down_since = now;
		return -1;
	}
	outbox_down_since = 0;
	return 0;
}

/*
 * The connection broke: forget it; unconfirmed rows go to the relay.  The
 * next publish may connect again at once (a restarted broker is usually
 * back); only a failed connect makes us wait.
 */
static void
outbox_disconnect(void)
{
	if (outbox_mq != NULL)
		mq_close(outbox_mq);
	outbox_mq = NULL;
	outbox_nwait = 0;
}

/*
 * Forgets the publishes a confirm covers and, for an ack, lists their rows
 * for deletion.  Rows of a nack are left for the relay.
 */
static void
outbox_on_confirm(uint64_t tag, int multiple, int ack, void *arg)
{
	size_t	i = 0;

	(void)arg;
	while (i < outbox_nwait) {
		struct outbox_inflight *w = &outbox_wait[i];

		if (w->tag == tag || (multiple && w->tag < tag)) {
			if (ack)
				outbox_list_confirmed(w->id);
			outbox_wait[i] = outbox_wait[--outbox_nwait];
			continue;
		}
		i++;
	}
}

void
outbox_drain(int wait_ms)
{
	long long	deadline = outbox_now_ms() + wait_ms, left;

	while (outbox_mq != NULL && outbox_nwait > 0) {
		left = deadline - outbox_now_ms();
		if (left < 0)
			left = 0;
		if (mq_poll_confirms(outbox_mq, (int)left, outbox_on_confirm,
		    NULL) != 0) {
			outbox_disconnect();
			return;
		}
		if (left == 0)
			return;
	}
}

void
outbox_publish_pending(struct req *r)
{
	struct outbox_pending	*p;
	struct mq_message	 m;
	uint64_t		 tag;
	int			 retried = 0;

	outbox_settle_taken(r->pending != NULL);
	if (r->pending == NULL)
		return;
	/* Confirms of earlier requests first, so the table stays small. */
	outbox_drain(0);
	if (outbox_connect() != 0) {
		log_kv(LOG_WARN, "outbox.broker_unavailable", NULL);
		return;
	}
	for (p = r->pending; p != NULL; p = p->next) {
		memset(&m, 0, sizeof(m));
		m.routing_key = p->routing_key;
		m.event_id = p->event_id;
		m.type = p->type;
		m.email = p->email;
		m.body = p->payload;
		m.body_len = strlen(p->payload);
		if (mq_publish(outbox_mq, &m, &tag) != 0) {
			/* A stale connection (broker restarted): once more. */
			outbox_disconnect();
			if (retried || outbox_connect() != 0 ||
			    mq_publish(outbox_mq, &m, &tag) != 0) {
				log_kv(LOG_WARN, "outbox.publish_failed",
				    "event_id", p->event_id, NULL);
				outbox_disconnect();
				return;
			}
			retried = 1;
		}
		if (outbox_nwait < OUTBOX_INFLIGHT) {
			outbox_wait[outbox_nwait].tag = tag;
			outbox_wait[outbox_nwait].id = p->id;
			outbox_nwait++;
		}
		log_kv(LOG_INFO, "outbox.published", "event_id", p->event_id,
		    "type", p->type, NULL);
	}
	/*
	 * The confirms are not waited for here: a known address would keep
	 * its worker busy longer than an unknown one, which is both slower
	 * and a tell.  The accept loop collects them while idle.
	 */
}

int
outbox_confirm_fd(void)
{
	return outbox_nwait > 0 ? mq_fd(outbox_mq) : -1;
}

int
outbox_confirm_buffered(void)
{
	return outbox_nwait > 0 && mq_buffered(outbox_mq);
}

int
outbox_delete_wait_ms(void)
{
	long long	left;

	if (outbox_nconfirmed == 0)
		return -1;
	left = outbox_confirmed_since + OUTBOX_DELETE_AFTER_MS -
	    outbox_now_ms();
	return left > 0 ? (int)left : 0;
}

void
outbox_delete_due(void)
{
	if (outbox_delete_wait_ms() == 0)
		outbox_delete_confirmed();
}

void
outbox_close(void)
{
	outbox_delete_confirmed();
	if (outbox_mq != NULL)
		mq_close(outbox_mq);
	outbox_mq = NULL;
	outbox_nwait = 0;
	arena_free(outbox_arena);
	outbox_arena = NULL;
}
