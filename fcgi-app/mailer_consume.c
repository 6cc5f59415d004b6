/*
 * Event deliveries, end to end, a batch at a time: the deliveries the
 * broker has waiting go out over one SMTP session.  Delivery is at least
 * once, so the mail_sent table (by event id) turns redeliveries and relay
 * republishes into no-ops; the original delivery is acked only when its
 * outcome is durable somewhere else (the server took the mail, or the
 * broker confirmed the retry or dead letter), so a crash at any point
 * means the broker delivers it again.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "arena.h"
#include "buf.h"
#include "cfg.h"
#include "db.h"
#include "log.h"
#include "mail.h"
#include "mailer_consume.h"
#include "mailer_sent.h"
#include "mq.h"
#include "tmpl.h"

#define MAILER_CONFIRM_MS	5000
/*
 * How long the record of mail sent waits for the database to come back
 * (a restart takes seconds), in steps.  An event acked unrecorded is
 * mailed twice if the relay republishes it; held longer, a stop of the
 * container (10 s to SIGKILL) would lose the acks instead.
 */
#define MAILER_RECORD_WAIT_MS	8000
#define MAILER_RECORD_STEP_MS	250
#define MAILER_MAX_DELAY_MS	(24LL * 3600 * 1000)

/* The kinds of event the mailer sends a message for, by event type. */
enum mailer_kind {
	KIND_RESET,		/* create.password.reset */
	KIND_UNKNOWN,		/* password.reset.unknown */
	KIND_CHANGED,		/* password.changed */
	KIND__MAX
};

static const struct mailer_kind_row {
	const char	*type;
	const char	*tmpl_txt;
	const char	*tmpl_html;
	const char	*subject_key;
	const char	*subject_default;
	int		 needs_url;
	enum cfg_key	 switch_key;	/* a 0/1 setting that turns it on, */
					/* or CFG__MAX: always sent */
} mailer_kinds[KIND__MAX] = {
	{ "create.password.reset", "email/reset.txt", "email/reset.html",
	    "reset_subject", "Reset your password", 1, CFG__MAX },
							/* KIND_RESET */
	{ "password.reset.unknown", "email/unknown.txt", "email/unknown.html",
	    "unknown_subject", "Password reset request", 0,
	    CFG_MAIL_UNKNOWN_NOTICE },			/* KIND_UNKNOWN */
	{ "password.changed", "email/changed.txt", "email/changed.html",
	    "changed_subject", "Your password was changed", 0, CFG__MAX },
							/* KIND_CHANGED */
};

/* What one delivery is about, parsed and checked. */
struct mailer_event {
	struct json_object	*obj;		/* the whole event (owned) */
	const char		*event_id;
	const char		*type;
	const char		*email;
	const char		*name;
	const char		*locale;	/* a shipped one */
	enum mailer_kind	 kind;
};

/* Everything said about one outcome goes into one log line. */
struct mailer_outcome {
	const char	*outcome;	/* sent, duplicate, skipped, retry, dead */
	const char	*reason;
	int		 code;
	long long	 attempt;
	long long	 delay_ms;
};

long long
mailer_retry_delay_ms(long long attempt)
{
	long long	 ms = cfg_int(CFG_MAILER_RETRY_BASE) * 1000;

	if (attempt < 1)
		attempt = 1;
	while (--attempt > 0 && ms < MAILER_MAX_DELAY_MS)
		ms *= 2;
	if (ms < 1)
		ms = 1;
	return ms > MAILER_MAX_DELAY_MS ? MAILER_MAX_DELAY_MS : ms;
}

/* A string member of o, or NULL when absent or not a string. */
static const char *
mailer_str(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Whether s looks like a UUID (36 hex digits and hyphens). */
static int
mailer_uuid_valid(const char *s)
{
	size_t	 i;

	if (s == NULL || strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (strchr("0123456789abcdefABCDEF", s[i]) == NULL)
			return 0;
	}
	return 1;
}

/*
 * Parses and checks the event body.  Returns 0, or -1 with the reason in
 * why (the event cannot ever be sent: dead-letter it).
 */
static int
mailer_parse(const struct mq_delivery *d, struct mailer_event *ev,
    char *why, size_t whylen)
{
	struct json_tokener	*tok;
	const char		*loc;
	size_t			 i;

	memset(ev, 0, sizeof *ev);
	if ((tok = json_tokener_new()) == NULL)
		arena_oom(0);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	ev->obj = json_tokener_parse_ex(tok, d->body, (int)d->body_len);
	if (ev->obj == NULL ||
	    json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != d->body_len) {
		snprintf(why, whylen, "malformed JSON: %s",
		    json_tokener_error_desc(json_tokener_get_error(tok)));
		json_tokener_free(tok);
		return -1;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(ev->obj, json_type_object)) {
		snprintf(why, whylen, "malformed event: not an object");
		return -1;
	}
	ev->event_id = mailer_str(ev->obj, "event_id");
	ev->type = mailer_str(ev->obj, "type");
	ev->email = mailer_str(ev->obj, "email");
	ev->name = mailer_str(ev->obj, "name");
	if (!mailer_uuid_valid(ev->event_id)) {
		snprintf(why, whylen, "malformed event: event_id");
		return -1;
	}
	for (i = 0; i < KIND__MAX; i++)
		if (ev->type != NULL && strcmp(ev->type, mailer_kinds[i].type)
		    == 0)
			break;
	if (i == KIND__MAX) {
		snprintf(why, whylen, "malformed event: unknown type");
		return -1;
	}
	ev->kind = (enum mailer_kind)i;
	if (ev->email == NULL || !mail_addr_valid(ev->email)) {
		snprintf(why, whylen, "malformed event: email");
		return -1;
	}
	if (mailer_kinds[i].needs_url &&
	    mailer_str(ev->obj, "reset_url") == NULL) {
		snprintf(why, whylen, "malformed event: reset_url");
		return -1;
	}
	/* Only a shipped locale ever reaches a file name. */
	ev->locale = tmpl_locales[0];
	if ((loc = mailer_str(ev->obj, "locale")) != NULL)
		for (i = 0; tmpl_locales[i] != NULL; i++)
			if (strcmp(loc, tmpl_locales[i]) == 0)
				ev->locale = tmpl_locales[i];
	return 0;
}

/* Writes the one log line of an outcome; never the link or the body. */
static void
mailer_log(const struct mq_delivery *d, const struct mailer_event *ev,
    const struct mailer_outcome *o)
{
	char	 attempt[24], code[16], delay[24];

	snprintf(attempt, sizeof attempt, "%lld", o->attempt);
	snprintf(code, sizeof code, "%d", o->code);
	snprintf(delay, sizeof delay, "%lld", o->delay_ms);
	log_kv(strcmp(o->outcome, "dead") == 0 ? LOG_WARN : LOG_INFO,
	    "mail.outcome",
	    "event_id", ev != NULL && ev->event_id != NULL ? ev->event_id :
	    d->message_id,
	    "type", ev != NULL && ev->type != NULL ? ev->type : d->type,
	    "queue", d->queue,
	    "outcome", o->outcome,
	    "attempt", attempt,
	    "smtp_code", code,
	    "reason", o->reason != NULL ? o->reason : "",
	    "retry_in_ms", delay,
	    NULL);
}

/*
 * Publishes the delivery's body again to queue ("<q>.retry" or
 * "<q>.dead") with attempts and, for a dead letter, the reason, and
 * waits for the broker's confirm.  Returns 0, or -1 (broker trouble).
 */
static int
mailer_republish(struct mailer *m, const struct mq_delivery *d,
    const char *suffix, long long attempts, const char *reason,
    long long expiration_ms)
{
	struct mq_header	 h[2];
	struct mq_message	 msg;
	char			 queue[256];
	uint64_t		 tag;
	size_t			 nh = 0;

	snprintf(queue, sizeof queue, "%s%s", d->queue, suffix);
	h[nh].key = "x-attempts";
	h[nh].s = NULL;
	h[nh++].i = attempts;
	if (reason != NULL) {
		h[nh].key = "x-death-reason";
		h[nh].s = reason;
		h[nh++].i = 0;
	}
	memset(&msg, 0, sizeof msg);
	msg.routing_key = queue;
	msg.event_id = d->message_id[0] != '\0' ? d->message_id : NULL;
	msg.type = d->type[0] != '\0' ? d->type : NULL;
	msg.email = d->email[0] != '\0' ? d->email : NULL;
	msg.body = d->body;
	msg.body_len = d->body_len;
	msg.headers = h;
	msg.nheaders = nh;
	msg.expiration_ms = expiration_ms;
	msg.timestamp = d->timestamp;
	if (mq_publish_queue(m->out, queue, &msg, &tag) == -1)
		return -1;
	return mq_wait_confirm(m->out, tag, MAILER_CONFIRM_MS) == 1 ? 0 : -1;
}

/* Dead-letters the delivery with a reason, then acks it. */
static enum mailer_rc
mailer_dead(struct mailer *m, const struct mq_delivery *d,
    const struct mailer_event *ev, struct mailer_outcome *o)
{
	if (mailer_republish(m, d, ".dead", o->attempt, o->reason, 0) == -1)
		return MAILER_BROKER_DOWN;
	o->outcome = "dead";
	mailer_log(d, ev, o);
	return mq_ack(m->in, d->tag) == 0 ? MAILER_DONE : MAILER_BROKER_DOWN;
}

/*
 * Schedules another attempt through the retry queue, or dead-letters the
 * delivery once it has had its attempts.
 */
static enum mailer_rc
mailer_retry(struct mailer *m, const struct mq_delivery *d,
    const struct mailer_event *ev, struct mailer_outcome *o)
{
	if (o->attempt >= cfg_int(CFG_MAILER_MAX_ATTEMPTS))
		return mailer_dead(m, d, ev, o);
	o->delay_ms = mailer_retry_delay_ms(o->attempt);
	if (mailer_republish(m, d, ".retry", o->attempt, NULL,
	    o->delay_ms) == -1)
		return MAILER_BROKER_DOWN;
	o->outcome = "retry";
	mailer_log(d, ev, o);
	return mq_ack(m->in, d->tag) == 0 ? MAILER_DONE : MAILER_BROKER_DOWN;
}

/*
 * Rewrites an ISO 8601 UTC time member ("2026-12-03T19:30:00.000Z") for
 * the reader ("2026-12-03 19:30 UTC"), as the templates expect; leaves
 * anything else as it is.
 */
static void
mailer_humanize_time(struct json_object *o, const char *key)
{
	const char	*v = mailer_str(o, key);
	char		 out[32];

	if (v == NULL || strlen(v) < 17 || v[10] != 'T' || v[13] != ':' ||
	    v[strlen(v) - 1] != 'Z')
		return;
	snprintf(out, sizeof out, "%.10s %.5s UTC", v, v + 11);
	json_object_object_add(o, key, json_object_new_string(out));
}

/*
 * Adds what the templates show beyond the event: readable times and the
 * address of the forgot-password page (from the event, else from
 * PUBLIC_BASE_URL).
 */
static void
mailer_context(struct json_object *o)
{
	const char	*base = cfg_str(CFG_PUBLIC_BASE_URL);
	struct buf	 url;

	mailer_humanize_time(o, "expires_at");
	mailer_humanize_time(o, "occurred_at");
	if (mailer_str(o, "forgot_url") == NULL && base[0] != '\0') {
		buf_init(&url);
		buf_puts(&url, base);
		if (url.len > 0 && url.data[url.len - 1] == '/')
			url.data[--url.len] = '\0';
		buf_puts(&url, "/password/forgot");
		json_object_object_add(o, "forgot_url",
		    json_object_new_string(url.data));
		buf_free(&url);
	}
}

/* Renders both bodies and the subject, and builds the message. */
static int
mailer_render(const struct mailer_event *ev, struct buf *msg, char *why,
    size_t whylen)
{
	const struct mailer_kind_row	*k = &mailer_kinds[ev->kind];
	struct buf			 text, html;
	struct mail			 mail;
	const char			*subject;
	int				 rc = -1;

	buf_init(&text);
	buf_init(&html);
	if ((subject = tmpl_string(ev->locale, k->subject_key)) == NULL)
		subject = k->subject_default;
	mailer_context(ev->obj);
	/* The HTML layout's title. */
	json_object_object_add(ev->obj, "subject",
	    json_object_new_string(subject));
	if (tmpl_render(k->tmpl_txt, ev->locale, ev->obj, &text, why,
	    whylen) == -1 ||
	    tmpl_render(k->tmpl_html, ev->locale, ev->obj, &html, why,
	    whylen) == -1)
		goto out;
	memset(&mail, 0, sizeof mail);
	mail.from = cfg_str(CFG_MAIL_FROM);
	mail.to_name = ev->name;
	mail.to_addr = ev->email;
	mail.subject = subject;
	mail.id = ev->event_id;
	mail.date = time(NULL);
	mail.text = text.data;
	mail.html = html.data;
	rc = mail_build(&mail, msg, why, whylen);
out:
	buf_free(&text);
	buf_free(&html);
	return rc;
}

/* Where one delivery of a batch stands. */
enum mailer_stage {
	STAGE_NEW,		/* as it came */
	STAGE_DONE,		/* dealt with: acked, requeued or republished */
	STAGE_PARSED,		/* a valid event to mail, unless mailed already */
	STAGE_READY		/* rendered, to be sent */
};

struct mailer_job {
	const struct mq_delivery *d;
	struct mailer_event	 ev;
	struct mailer_outcome	 o;
	struct buf		 msg;		/* the built message */
	char			 why[256];
	enum mailer_stage	 stage;
	int			 sent_before;	/* in mail_sent already */
	size_t			 item;		/* its mail_item when ready */
};

/* The database cannot tell whether it was sent: put it back. */
static enum mailer_rc
mailer_defer(struct mailer *m, struct mailer_job *jobs, size_t k)
{
	struct mailer_job	*j = &jobs[k];

	j->stage = STAGE_DONE;
	j->o.outcome = "deferred";
	j->o.reason = "database unavailable";
	mailer_log(j->d, j->ev.obj != NULL ? &j->ev : NULL, &j->o);
	return mq_nack(m->in, j->d->tag, 1) == 0 ? MAILER_DB_DOWN :
	    MAILER_BROKER_DOWN;
}

/* Whether the configuration turned this kind of mail off. */
static int
mailer_switched_off(const struct mailer_event *ev)
{
	enum cfg_key	 k = mailer_kinds[ev->kind].switch_key;

	return k != CFG__MAX && cfg_int(k) == 0;
}

/* Whether an earlier job of the batch is about to send this event. */
static int
mailer_in_batch(const struct mailer_job *jobs, size_t k)
{
	size_t	 i;

	for (i = 0; i < k; i++)
		if (jobs[i].stage == STAGE_READY && strcmp(jobs[i].ev.event_id,
		    jobs[k].ev.event_id) == 0)
			return 1;
	return 0;
}

/*
 * Parses the delivery and sets it at STAGE_PARSED, or deals with it here:
 * a malformed event is dead-lettered, a kind of mail turned off is acked.
 */
static enum mailer_rc
mailer_screen(struct mailer *m, struct mailer_job *jobs, size_t k)
{
	struct mailer_job	*j = &jobs[k];

	j->stage = STAGE_DONE;
	j->o.attempt = j->d->attempts + 1;
	if (mailer_parse(j->d, &j->ev, j->why, sizeof j->why) == -1) {
		j->o.reason = j->why;
		return mailer_dead(m, j->d, NULL, &j->o);
	}
	if (mailer_switched_off(&j->ev)) {
		/* No mail for it, by configuration: nothing to retry. */
		j->o.outcome = "skipped";
		snprintf(j->why, sizeof j->why, "%s=0",
		    cfg_name(mailer_kinds[j->ev.kind].switch_key));
		j->o.reason = j->why;
		mailer_log(j->d, &j->ev, &j->o);
		return mq_ack(m->in, j->d->tag) == 0 ? MAILER_DONE :
		    MAILER_BROKER_DOWN;
	}
	j->stage = STAGE_PARSED;
	return MAILER_DONE;
}

/*
 * Looks the parsed jobs up in mail_sent, a statement for many.  Returns
 * 0, or -1 when the database cannot tell.
 */
static int
mailer_check_sent(struct arena *a, struct mailer_job *jobs, size_t n)
{
	const char	**ids = arena_calloc(a, n, sizeof *ids);
	int		 *sent = arena_calloc(a, n, sizeof *sent);
	size_t		 *of = arena_calloc(a, n, sizeof *of);
	size_t		  i, k = 0;

	for (i = 0; i < n; i++)
		if (jobs[i].stage == STAGE_PARSED) {
			of[k] = i;
			ids[k++] = jobs[i].ev.event_id;
		}
	if (mailer_sent_check(a, ids, k, sent) == -1)
		return -1;
	for (i = 0; i < k; i++)
		jobs[of[i]].sent_before = sent[i];
	return 0;
}

/*
 * Acks a parsed job mailed already (or about to be, by an earlier job of
 * the batch) as a duplicate; renders the others (STAGE_READY), or retries
 * those whose templates fail.
 */
static enum mailer_rc
mailer_prepare(struct mailer *m, struct mailer_job *jobs, size_t k)
{
	struct mailer_job	*j = &jobs[k];

	j->stage = STAGE_DONE;
	if (j->sent_before || mailer_in_batch(jobs, k)) {
		j->o.outcome = "duplicate";
		mailer_log(j->d, &j->ev, &j->o);
		return mq_ack(m->in, j->d->tag) == 0 ? MAILER_DONE :
		    MAILER_BROKER_DOWN;
	}
	if (mailer_render(&j->ev, &j->msg, j->why, sizeof j->why) == -1) {
		/* A template missing now may be deployed by the next try. */
		j->o.reason = j->why;
		return mailer_retry(m, j->d, &j->ev, &j->o);
	}
	j->stage = STAGE_READY;
	return MAILER_DONE;
}

/*
 * Records the sent events, all or none, before any is acked: a
 * redelivery after a crash, or a relayed copy of an event whose outbox
 * row outlived a database outage, is then a duplicate, not a second
 * email.  Waits up to MAILER_RECORD_WAIT_MS for the database.
 */
static void
mailer_record_sent(struct arena *a, const struct mailer_job *jobs, size_t n,
    const struct mail_item *items)
{
	const char	**ids = arena_calloc(a, n, sizeof *ids);
	struct timespec	  step = { 0, MAILER_RECORD_STEP_MS * 1000000L };
	size_t		  i, k = 0;
	long		  waited;

	for (i = 0; i < n; i++)
		if (jobs[i].stage == STAGE_READY &&
		    items[jobs[i].item].res.status == MAIL_SENT)
			ids[k++] = jobs[i].ev.event_id;
	for (waited = 0; waited <= MAILER_RECORD_WAIT_MS;
	    waited += MAILER_RECORD_STEP_MS) {
		if (mailer_sent_record(a, ids, k) == 0)
			return;
		(void)nanosleep(&step, NULL);
	}
	for (i = 0; i < k; i++)
		log_kv(LOG_WARN, "mail.dedup_not_recorded", "event_id", ids[i],
		    NULL);
}

/* After the send: ack what the server took, retry or dead-letter the rest. */
static enum mailer_rc
mailer_finish(struct mailer *m, struct mailer_job *j,
    const struct mail_result *res)
{
	j->o.code = res->code;
	if (res->code != 0)
		snprintf(j->why, sizeof j->why, "%d %.200s", res->code,
		    res->reply);
	else
		snprintf(j->why, sizeof j->why, "%s", res->reply);
	j->o.reason = j->why;
	switch (res->status) {
	case MAIL_SENT:
		j->o.outcome = "sent";
		mailer_log(j->d, &j->ev, &j->o);
		return mq_ack(m->in, j->d->tag) == 0 ? MAILER_DONE :
		    MAILER_BROKER_DOWN;
	case MAIL_TRANSIENT:
		return mailer_retry(m, j->d, &j->ev, &j->o);
	case MAIL_PERMANENT:
	default:
		return mailer_dead(m, j->d, &j->ev, &j->o);
	}
}

/*
 * Runs step on every job at stage, in order (a job's step may look at
 * the earlier ones); stops at a broker failure.
 */
static enum mailer_rc
mailer_each(struct mailer *m, struct mailer_job *jobs, size_t n,
    enum mailer_stage stage,
    enum mailer_rc (*step)(struct mailer *, struct mailer_job *, size_t))
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (jobs[i].stage == stage && step(m, jobs, i) ==
		    MAILER_BROKER_DOWN)
			return MAILER_BROKER_DOWN;
	return MAILER_DONE;
}

enum mailer_rc
mailer_handle(struct mailer *m, struct arena *a, const struct mq_delivery *d,
    size_t n)
{
	struct mailer_job	*jobs = arena_calloc(a, n, sizeof *jobs);
	struct mail_item	*items = arena_calloc(a, n, sizeof *items);
	enum mailer_rc		 rc = MAILER_DONE;
	size_t			 i, nready = 0;

	for (i = 0; i < n; i++) {
		jobs[i].d = &d[i];
		jobs[i].stage = STAGE_NEW;
		buf_init(&jobs[i].msg);
	}
	if (mailer_each(m, jobs, n, STAGE_NEW, mailer_screen) ==
	    MAILER_BROKER_DOWN)
		goto broker_down;
	if (mailer_check_sent(a, jobs, n) == -1) {
		/* Cannot tell what was mailed: all go back, untried. */
		rc = mailer_each(m, jobs, n, STAGE_PARSED, mailer_defer)
		    == MAILER_BROKER_DOWN ? MAILER_BROKER_DOWN : MAILER_DB_DOWN;
		goto out;
	}
	if (mailer_each(m, jobs, n, STAGE_PARSED, mailer_prepare) ==
	    MAILER_BROKER_DOWN)
		goto broker_down;
	for (i = 0; i < n; i++) {
		if (jobs[i].stage != STAGE_READY)
			continue;
		jobs[i].item = nready;
		items[nready].rcpt = jobs[i].ev.email;
		items[nready++].msg = &jobs[i].msg;
	}
	if (nready == 0)
		goto out;
	mail_send_batch(items, nready);
	mailer_record_sent(a, jobs, n, items);
	for (i = 0; i < n; i++)
		if (jobs[i].stage == STAGE_READY && mailer_finish(m, &jobs[i],
		    &items[jobs[i].item].res) == MAILER_BROKER_DOWN)
			goto broker_down;
	goto out;
broker_down:
	rc = MAILER_BROKER_DOWN;
out:
	for (i = 0; i < n; i++) {
		buf_free(&jobs[i].msg);
		if (jobs[i].ev.obj != NULL)
			json_object_put(jobs[i].ev.obj);
	}
	return rc;
}
