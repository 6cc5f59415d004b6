/*
 * SMTP sending with libesmtp (see mail.h): a batch of built messages over
 * a few sessions, each on its own thread, so that a queue that has
 * several waiting pays for the connection, EHLO, STARTTLS and AUTH once a
 * session, not once a message, and the server's work on one message
 * (often an fsync) overlaps the round trips of the others.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <auth-client.h>
#include <libesmtp.h>

#include "buf.h"
#include "cfg.h"
#include "mail.h"

/* Hands libesmtp a message in one piece; len == NULL rewinds. */
struct mail_src {
	const char	*data;
	size_t		 len;
	int		 done;
};

static const char *
mail_msgcb(void **ctx, int *len, void *arg)
{
	struct mail_src	*src = arg;

	(void)ctx;
	if (len == NULL) {
		src->done = 0;
		return NULL;
	}
	if (src->done) {
		*len = 0;
		return NULL;
	}
	src->done = 1;
	*len = (int)src->len;
	return src->data;
}

/* Sets res->reply to a server's text: control bytes blanked, trimmed. */
static void
mail_reply_set(struct mail_result *res, const char *text, size_t len)
{
	size_t	 n = len < sizeof res->reply - 1 ? len : sizeof res->reply - 1;
	size_t	 i;

	for (i = 0; i < n; i++)
		res->reply[i] = (unsigned char)text[i] < 0x20 ? ' ' : text[i];
	while (i > 0 && res->reply[i - 1] == ' ')
		i--;
	res->reply[i] = '\0';
}

/* Keeps the server's last reply line for errors without a status. */
static void
mail_monitorcb(const char *line, int len, int writing, void *arg)
{
	if (writing == SMTP_CB_READING && len > 0)
		mail_reply_set(arg, line, (size_t)len);
}

/* Gives libesmtp's AUTH mechanism the configured user and password. */
static int
mail_auth_interact(auth_client_request_t req, char **result, int fields,
    void *arg)
{
	int	 i;

	(void)arg;
	for (i = 0; i < fields; i++) {
		if (req[i].flags & AUTH_USER)
			result[i] = (char *)cfg_str(CFG_SMTP_USER);
		else if (req[i].flags & AUTH_PASS)
			result[i] = (char *)cfg_str(CFG_SMTP_PASSWORD);
		else
			return 0;
	}
	return 1;
}

/*
 * libesmtp writes a message in small pieces and leaves Nagle's algorithm
 * on, so the last piece waits for the server's delayed ACK (~40 ms a
 * message).  It does not expose its socket: once connected, find the TCP
 * socket whose peer port is SMTP_PORT and turn Nagle off there.
 */
static void
mail_nodelay(void)
{
	DIR			*d;
	struct dirent		*e;
	struct sockaddr_storage	 peer;
	socklen_t		 len;
	int			 fd, one = 1, type;
	in_port_t		 port = htons((in_port_t)cfg_int(CFG_SMTP_PORT));

	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if ((fd = atoi(e->d_name)) <= 2 || fd == dirfd(d))
			continue;
		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
		    type != SOCK_STREAM)
			continue;
		len = sizeof(peer);
		if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0)
			continue;
		if ((peer.ss_family == AF_INET &&
		    ((struct sockaddr_in *)&peer)->sin_port == port) ||
		    (peer.ss_family == AF_INET6 &&
		    ((struct sockaddr_in6 *)&peer)->sin6_port == port))
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
	}
	closedir(d);
}

static void
mail_eventcb(smtp_session_t s, int event, void *arg, ...)
{
	(void)s;
	(void)arg;
	if (event == SMTP_EV_CONNECT)
		mail_nodelay();
}

/* Records a status as the result: 2xx sent, 5xx permanent, else not. */
static void
mail_result_of(struct mail_result *res, const smtp_status_t *st)
{
	res->code = st->code;
	if (st->code >= 200 && st->code < 300)
		res->status = MAIL_SENT;
	else if (st->code >= 500)
		res->status = MAIL_PERMANENT;
	else
		res->status = MAIL_TRANSIENT;
	if (st->text != NULL)
		mail_reply_set(res, st->text, strlen(st->text));
}

/* A failure of the whole session, worded for the log: "what (last)". */
static void
mail_session_error(struct mail_result *res, const char *what)
{
	char	 last[sizeof res->reply];

	res->status = MAIL_TRANSIENT;
	if (res->reply[0] == '\0') {
		snprintf(res->reply, sizeof res->reply, "%s", what);
		return;
	}
	snprintf(last, sizeof last, "%s", res->reply);
	snprintf(res->reply, sizeof res->reply, "%.100s (%.140s)", what, last);
}

/*
 * The outcome of one message after the session: an envelope refusal
 * (libesmtp goes on to DATA even when its only recipient was refused),
 * else its transfer status when the server answered DATA, else the
 * session's own (it ended before this message's DATA).
 */
static void
mail_outcome(struct mail_result *res, smtp_message_t m, smtp_recipient_t r,
    const struct mail_result *session)
{
	const smtp_status_t	*st = smtp_message_transfer_status(m);

	if (smtp_reverse_path_status(m)->code >= 400)
		mail_result_of(res, smtp_reverse_path_status(m));
	else if (smtp_recipient_status(r)->code >= 400)
		mail_result_of(res, smtp_recipient_status(r));
	else if ((st->code >= 200 && st->code < 300) || st->code >= 400)
		mail_result_of(res, st);
	else {
		*res = *session;
		res->status = MAIL_TRANSIENT;
		res->code = 0;
		if (res->reply[0] == '\0')
			snprintf(res->reply, sizeof res->reply, "not sent");
	}
}

/* Bounded waits: a stuck server must not hold the queue forever. */
static int
mail_set_timeouts(smtp_session_t s)
{
	return smtp_set_timeout(s, Timeout_GREETING |
	    Timeout_OVERRIDE_RFC2822_MINIMUM, 30000) &&
	    smtp_set_timeout(s, Timeout_ENVELOPE |
	    Timeout_OVERRIDE_RFC2822_MINIMUM, 30000) &&
	    smtp_set_timeout(s, Timeout_DATA |
	    Timeout_OVERRIDE_RFC2822_MINIMUM, 30000) &&
	    smtp_set_timeout(s, Timeout_TRANSFER |
	    Timeout_OVERRIDE_RFC2822_MINIMUM, 60000) &&
	    smtp_set_timeout(s, Timeout_DATA2 |
	    Timeout_OVERRIDE_RFC2822_MINIMUM, 60000);
}

/* A session to SMTP_HOST:SMTP_PORT with STARTTLS as configured. */
static smtp_session_t
mail_session_new(struct mail_result *session)
{
	smtp_session_t	 s;
	const char	*tls = cfg_str(CFG_SMTP_STARTTLS);
	char		 hostport[300];
	enum starttls_option how = Starttls_DISABLED;

	if (strcmp(tls, "required") == 0)
		how = Starttls_REQUIRED;
	else if (strcmp(tls, "try") == 0)
		how = Starttls_ENABLED;
	snprintf(hostport, sizeof hostport, "%s:%lld",
	    cfg_str(CFG_SMTP_HOST), cfg_int(CFG_SMTP_PORT));
	if ((s = smtp_create_session()) == NULL)
		return NULL;
	if (!smtp_set_server(s, hostport) ||
	    !smtp_set_monitorcb(s, mail_monitorcb, session, 0) ||
	    !smtp_set_eventcb(s, mail_eventcb, NULL) ||
	    (how != Starttls_DISABLED && !smtp_starttls_enable(s, how)) ||
	    !mail_set_timeouts(s)) {
		smtp_destroy_session(s);
		return NULL;
	}
	return s;
}

static pthread_once_t	mail_auth_once = PTHREAD_ONCE_INIT;

/* AUTH PLAIN with SMTP_USER, when one is configured. */
static int
mail_session_auth(smtp_session_t s, auth_context_t *actx)
{
	*actx = NULL;
	if (cfg_str(CFG_SMTP_USER)[0] == '\0')
		return 1;
	pthread_once(&mail_auth_once, auth_client_init);
	return (*actx = auth_create_context()) != NULL &&
	    auth_set_mechanism_flags(*actx, AUTH_PLUGIN_PLAIN, 0) &&
	    auth_set_interact_cb(*actx, mail_auth_interact, NULL) &&
	    smtp_auth_set_context(s, *actx);
}

/* Sends n messages over one session; fills every item's res. */
static void
mail_send_session(struct mail_item *items, size_t n)
{
	smtp_session_t		 s = NULL;
	smtp_message_t		*msgs = NULL;
	smtp_recipient_t	*rcpts = NULL;
	struct mail_src		*srcs = NULL;
	auth_context_t		 actx = NULL;
	struct mail_result	 session;
	char			 from[256], ebuf[128];
	size_t			 i, queued = 0;
	int			 from_ok;

	memset(&session, 0, sizeof session);
	from_ok = mail_addr_of(cfg_str(CFG_MAIL_FROM), from, sizeof from) == 0;
	for (i = 0; i < n; i++) {
		memset(&items[i].res, 0, sizeof items[i].res);
		items[i].res.status = MAIL_TRANSIENT;
		if (!from_ok || !mail_addr_valid(items[i].rcpt)) {
			items[i].res.status = MAIL_PERMANENT;
			snprintf(items[i].res.reply, sizeof items[i].res.reply,
			    "invalid address");
		} else
			queued++;
	}
	if (queued == 0)
		return;
	if ((msgs = calloc(n, sizeof *msgs)) == NULL ||
	    (rcpts = calloc(n, sizeof *rcpts)) == NULL ||
	    (srcs = calloc(n, sizeof *srcs)) == NULL ||
	    (s = mail_session_new(&session)) == NULL ||
	    !mail_session_auth(s, &actx))
		goto lib_err;
	for (i = 0; i < n; i++) {
		if (items[i].res.status == MAIL_PERMANENT)
			continue;
		srcs[i].data = items[i].msg->data;
		srcs[i].len = items[i].msg->len;
		if ((msgs[i] = smtp_add_message(s)) == NULL ||
		    !smtp_set_reverse_path(msgs[i], from) ||
		    !smtp_set_messagecb(msgs[i], mail_msgcb, &srcs[i]) ||
		    (rcpts[i] = smtp_add_recipient(msgs[i], items[i].rcpt)) ==
		    NULL)
			goto lib_err;
	}

	/*
	 * A session that fails (refused, timeout, TLS, a dropped connection)
	 * may have delivered its first messages already: each message keeps
	 * its own status, and only those without one take the session's.
	 */
	if (!smtp_start_session(s)) {
		smtp_strerror(smtp_errno(), ebuf, sizeof ebuf);
		mail_session_error(&session, ebuf);
	}
	for (i = 0; i < n; i++)
		if (msgs[i] != NULL)
			mail_outcome(&items[i].res, msgs[i], rcpts[i], &session);
	goto out;

lib_err:
	smtp_strerror(smtp_errno(), ebuf, sizeof ebuf);
	for (i = 0; i < n; i++)
		if (items[i].res.status != MAIL_PERMANENT) {
			snprintf(items[i].res.reply, sizeof items[i].res.reply,
			    "libesmtp: %s", ebuf);
			items[i].res.status = MAIL_TRANSIENT;
		}
out:
	if (s != NULL)
		smtp_destroy_session(s);
	if (actx != NULL)
		auth_destroy_context(actx);
	free(msgs);
	free(rcpts);
	free(srcs);
}

/* One thread's share of a batch. */
struct mail_slice {
	struct mail_item	*items;
	size_t			 n;
	pthread_t		 thread;
	int			 started;
};

static void *
mail_slice_run(void *arg)
{
	struct mail_slice	*sl = arg;

	mail_send_session(sl->items, sl->n);
	return NULL;
}

void
mail_send_batch(struct mail_item *items, size_t n)
{
	struct mail_slice	 sl[MAIL_SESSIONS_MAX];
	size_t			 k = (size_t)cfg_int(CFG_MAILER_SMTP_SESSIONS), i,
				 at = 0;

	if (k > MAIL_SESSIONS_MAX)
		k = MAIL_SESSIONS_MAX;
	if (k > n)
		k = n;
	if (k <= 1) {
		mail_send_session(items, n);
		return;
	}
	/* Contiguous slices as even as they go; the first runs here. */
	for (i = 0; i < k; i++) {
		sl[i].items = items + at;
		sl[i].n = n / k + (i < n % k);
		sl[i].started = 0;
		at += sl[i].n;
	}
	for (i = 1; i < k; i++)
		sl[i].started = pthread_create(&sl[i].thread, NULL,
		    mail_slice_run, &sl[i]) == 0;
	mail_send_session(sl[0].items, sl[0].n);
	for (i = 1; i < k; i++) {
		if (sl[i].started)
			pthread_join(sl[i].thread, NULL);
		else
			mail_send_session(sl[i].items, sl[i].n);
	}
}
