/*
 * user-fcgi: the FastCGI worker.  spawn-fcgi hands it the listening socket
 * as fd 0 and multiwatch keeps N of them alive.  Each worker is
 * single-threaded: accept, parse, route, answer, then publish the events
 * the request queued, and free the request's arena.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "admin.h"
#include "arena.h"
#include "auth.h"
#include "cfg.h"
#include "db.h"
#include "handlers.h"
#include "http.h"
#include "log.h"
#include "outbox.h"
#include "route.h"
#include "tmpl.h"

static const struct route routes[] = {
	{ HTTP_POST, "/user", user_api_create },
	{ HTTP_GET, "/user", user_api_list },
	{ HTTP_POST, "/user/token", auth_api_login },
	{ HTTP_GET, "/user/token", auth_api_validate },
	{ HTTP_POST, "/user/password", reset_api_request },
	{ HTTP_PUT, "/user/password", reset_api_consume },
	{ HTTP_GET, "/user/login", page_login_form },
	{ HTTP_POST, "/user/login", page_login },
	{ HTTP_GET, "/user/register", page_register_form },
	{ HTTP_POST, "/user/register", page_register },
	{ HTTP_GET, "/user/account", page_account },
	{ HTTP_POST, "/user/account", page_account_update },
	{ HTTP_POST, "/user/account/password", page_account_password },
	{ HTTP_POST, "/user/logout", page_logout },
	{ HTTP_GET, "/user/locale", page_locale },
	{ HTTP_GET, "/user/{id}", user_api_get },
	{ HTTP_PUT, "/user/{id}", user_api_update },
	{ HTTP_PATCH, "/user/{id}", user_api_update },
	{ HTTP_DELETE, "/user/{id}", user_api_delete },
	{ HTTP_GET, "/password/forgot", reset_page_forgot },
	{ HTTP_POST, "/password/forgot", reset_api_request },
	{ HTTP_GET, "/password/forgot/sent", reset_page_sent },
	{ HTTP_GET, "/password/reset", reset_page_link },
	{ HTTP_POST, "/password/reset", reset_api_consume },
	{ HTTP_GET, "/password/reset/done", reset_page_done },
};

static volatile sig_atomic_t	stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* A FastCGI parameter, or NULL when absent or empty. */
static const char *
param(FCGX_Request *fr, const char *name)
{
	const char	*v = FCGX_GetParam(name, fr->envp);

	return v != NULL && *v != '\0' ? v : NULL;
}

/*
 * Reads the body, up to BODY_LIMIT; a longer one is not read at all and
 * marked too large.  Returns -1 when the body was cut short.
 */
static int
read_body(FCGX_Request *fr, struct req *r)
{
	const char	*cl = param(fr, "CONTENT_LENGTH");
	char		*end, *body;
	long long	 len, got = 0;
	int		 n;

	if (cl == NULL)
		return 0;
	len = strtoll(cl, &end, 10);
	if (*end != '\0' || len < 0)
		return -1;
	if (len > cfg_int(CFG_BODY_LIMIT)) {
		r->body_too_large = 1;
		return 0;
	}
	body = arena_alloc(r->arena, (size_t)len + 1);
	while (got < len) {
		n = FCGX_GetStr(body + got, (int)(len - got), fr->in);
		if (n <= 0)
			return -1;
		got += n;
	}
	body[len] = '\0';
	r->body = body;
	r->body_len = (size_t)len;
	return 0;
}

/*
 * Waits for the next connection on fd 0 (the listening socket every
 * worker shares), collecting publisher confirms as they come and deleting
 * confirmed rows left past their time, so that neither waits for the
 * other.  Returns when a connection waits, or when we are stopping.  The
 * socket is non-blocking: a worker that loses a connection to another
 * comes back here (EAGAIN) instead of sleeping in accept() with confirms
 * uncollected.  (nginx opens a connection per request: fastcgi_keep_conn
 * is off.)
 */
static void
wait_for_request(void)
{
	struct pollfd	pfd[2];

	while (!stopping) {
		outbox_delete_due();
		if (outbox_confirm_buffered()) {
			outbox_drain(0);
			continue;
		}
		pfd[0].fd = 0;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = outbox_confirm_fd();	/* poll() skips -1 */
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		if (poll(pfd, 2, outbox_delete_wait_ms()) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (pfd[1].revents != 0)
			outbox_drain(0);
		if (pfd[0].revents != 0)
			return;
	}
}

/* Fills r from the FastCGI environment. */
static int
parse_request(FCGX_Request *fr, struct req *r)
{
	const char	*lang;
	const char	*const *loc;

	r->method = http_method_parse(param(fr, "REQUEST_METHOD"));
	/* DOCUMENT_URI is nginx's normalised, decoded path. */
	if ((r->path = param(fr, "DOCUMENT_URI")) == NULL &&
	    (r->path = param(fr, "SCRIPT_NAME")) == NULL)
		r->path = "/";
	r->query = param(fr, "QUERY_STRING");
	r->content_type = param(fr, "CONTENT_TYPE");
	r->accept = param(fr, "HTTP_ACCEPT");
	r->accept_language = param(fr, "HTTP_ACCEPT_LANGUAGE");
	r->authorization = param(fr, "HTTP_AUTHORIZATION");
	r->cookie_header = param(fr, "HTTP_COOKIE");
	r->remote_addr = param(fr, "REMOTE_ADDR");
	if ((r->request_id = param(fr, "REQUEST_ID")) == NULL)
		r->request_id = param(fr, "HTTP_X_REQUEST_ID");
	if (r->query != NULL)
		r->nparams = http_parse_urlencoded(r->arena, r->query,
		    strlen(r->query), &r->params);
	r->ncookies = http_parse_cookies(r->arena, r->cookie_header,
	    &r->cookies);
	http_negotiate(r);
	r->locale = tmpl_locale_pick(r->accept_language);
	if ((lang = http_cookie(r, "lang")) != NULL)
		for (loc = tmpl_locales; *loc != NULL; loc++)
			if (strcmp(*loc, lang) == 0)
				r->locale = *loc;
	return read_body(fr, r);
}

/* True when a header value could split the response. */
static int
header_unsafe(const char *v)
{
	return strpbrk(v, "\r\n") != NULL;
}

static int
has_header(const struct req *r, const char *name)
{
	size_t	i;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].key, name) == 0)
			return 1;
	return 0;
}

/* Writes status, headers (with the security headers) and body. */
static void
write_response(FCGX_Request *fr, struct req *r)
{
	size_t	i;
	int	html = r->content_type_out != NULL &&
	    strncmp(r->content_type_out, "text/html", 9) == 0;

	FCGX_FPrintF(fr->out, "Status: %d %s\r\n", r->status,
	    http_status_text(r->status));
	if (r->status != 204 && r->status != 303)
		FCGX_FPrintF(fr->out, "Content-Type: %s\r\n",
		    r->content_type_out != NULL ? r->content_type_out :
		    "text/plain; charset=utf-8");
	FCGX_PutS("X-Content-Type-Options: nosniff\r\n", fr->out);
	if (html) {
		FCGX_PutS("Content-Security-Policy: default-src 'none'; "
		    "style-src 'self'; img-src 'self'; form-action 'self'; "
		    "frame-ancestors 'none'; base-uri 'none'\r\n", fr->out);
		FCGX_PutS("X-Frame-Options: DENY\r\n", fr->out);
	}
	if (!has_header(r, "Cache-Control"))
		FCGX_PutS("Cache-Control: no-store\r\n", fr->out);
	for (i = 0; i < r->nheaders; i++) {
		if (header_unsafe(r->headers[i].val)) {
			log_kv(LOG_ERROR, "http.unsafe_header",
			    "header", r->headers[i].key, NULL);
			continue;
		}
		FCGX_FPrintF(fr->out, "%s: %s\r\n", r->headers[i].key,
		    r->headers[i].val);
	}
	FCGX_PutS("\r\n", fr->out);
	if (r->method != HTTP_HEAD && r->out.len > 0)
		FCGX_PutStr(r->out.data, (int)r->out.len, fr->out);
}

/* Parses, routes and answers one request. */
static void
handle(FCGX_Request *fr, struct req *r)
{
	route_handler	h;
	char		st[8];

	if (parse_request(fr, r) != 0) {
		http_problem(r, 400, "Bad Request", "The request body was "
		    "cut short.", NULL);
		goto out;
	}
	log_set_request_id(r->request_id);
	if ((h = route_find(routes, sizeof(routes) / sizeof(routes[0]), r))
	    == NULL)
		goto out;
	if (http_parse_body(r) != 0)
		goto out;
	h(r);
out:
	write_response(fr, r);
	snprintf(st, sizeof(st), "%d", r->status);
	log_kv(LOG_INFO, "http.request", "method", http_method_name(r->method),
	    "path", r->path, "status", st, NULL);
}

static void
install_signals(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocked accept() must return so we can stop. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/*
	 * multiwatch stops its children with SIGUSR1 (Debian 12's -s option
	 * is off by one); installed before FCGX_Init, ours is kept.
	 */
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

int
main(int argc, char *argv[])
{
	FCGX_Request	 fr;
	struct arena	*arena;
	struct req	 r;
	char		 err[256];
	int		 flags, rc;

	log_set_program("user-fcgi");
	if (cfg_load(CFG_PROG_FCGI, err, sizeof(err)) != 0) {
		fprintf(stderr, "user-fcgi: %s\n", err);
		log_kv(LOG_ERROR, "config.invalid", "error", err, NULL);
		return 1;
	}
	tmpl_set_dir(cfg_str(CFG_TEMPLATE_DIR));
	if (auth_init() != 0) {
		log_kv(LOG_ERROR, "auth.init_failed", NULL);
		return 1;
	}
	if (argc == 4 && strcmp(argv[1], "--create-admin") == 0)
		return admin_create(argv[2], argv[3]);
	if (argc != 1) {
		fprintf(stderr, "usage: user-fcgi [--create-admin NAME EMAIL]\n");
		return 2;
	}
	install_signals();
	if (FCGX_Init() != 0 ||
	    FCGX_InitRequest(&fr, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_kv(LOG_ERROR, "fcgi.init_failed", NULL);
		return 1;
	}
	/* See wait_for_request; accepted sockets do not inherit it. */
	if ((flags = fcntl(0, F_GETFL)) == -1 ||
	    fcntl(0, F_SETFL, flags | O_NONBLOCK) == -1) {
		log_kv(LOG_ERROR, "fcgi.init_failed", NULL);
		return 1;
	}
	/* Not fatal: the first request retries, and reports 503 if need be. */
	(void)db_connect();
	arena = arena_new();
	log_kv(LOG_INFO, "worker.started", NULL);
	while (!stopping) {
		wait_for_request();
		if (stopping)
			break;
		if ((rc = FCGX_Accept_r(&fr)) < 0) {
			/* Another worker took it, or a signal came. */
			if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR)
				continue;
			break;
		}
		http_req_init(&r, arena);
		handle(&fr, &r);
		FCGX_Finish_r(&fr);
		/* The answer is out; now the broker's round trips. */
		outbox_publish_pending(&r);
		http_req_free(&r);
		arena_reset(arena);
		log_set_request_id(NULL);
	}
	log_kv(LOG_INFO, "worker.stopping", NULL);
	outbox_close();
	db_disconnect();
	tmpl_free();
	arena_free(arena);
	FCGX_Free(&fr, 1);
	return 0;
}
