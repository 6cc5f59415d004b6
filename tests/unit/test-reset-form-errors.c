/*
 * reset_api_consume, browser form: the field errors it collects (here a
 * password confirmation that does not match) must be released on every
 * way out, not only when the form is shown again.  With no database the
 * handler answers 503; the errors object must not outlive the request.
 * The same object is dropped when the token is unusable (the 410 page)
 * and when the client is throttled (429).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/lsan_interface.h>

#include "arena.h"
#include "cfg.h"
#include "check.h"
#include "db.h"
#include "handlers.h"
#include "http.h"
#include "tmpl.h"

#define CSRF	"abcdefghijklmnopqrstuvwxyz012345"	/* 32 characters */

int
main(void)
{
	static const char body[] = "csrf=" CSRF "&password=correct-horse-1"
	    "&password_confirm=correct-horse-2";
	struct arena	*a;
	struct req	 r;
	char		 err[256];

	setenv("DB_USER", "micro", 1);
	setenv("PUBLIC_BASE_URL", "https://users.example.com", 1);
	setenv("JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
	/* A socket that does not exist: every statement fails at once. */
	setenv("DB_HOST", "localhost", 1);
	setenv("DB_SOCKET", "/nonexistent/micro-user-review.sock", 1);
	if (cfg_load(CFG_PROG_FCGI, err, sizeof(err)) != 0) {
		fprintf(stderr, "cfg_load: %s\n", err);
		return 1;
	}
	if (getenv("TEMPLATE_DIR") != NULL)
		tmpl_set_dir(getenv("TEMPLATE_DIR"));

	a = arena_new();
	http_req_init(&r, a);
	r.method = HTTP_POST;
	r.path = "/password/reset";
	r.content_type = "application/x-www-form-urlencoded";
	r.cookie_header = "csrf=" CSRF;
	r.ncookies = http_parse_cookies(a, r.cookie_header, &r.cookies);
	r.remote_addr = "192.0.2.1";
	r.body = body;
	r.body_len = sizeof(body) - 1;
	http_negotiate(&r);
	CHECK(http_parse_body(&r) == 0);
	reset_api_consume(&r);
	CHECK(r.status == 503);
	http_req_free(&r);
	arena_free(a);
	db_disconnect();
	tmpl_free();

	/* Nothing allocated by the request may be left unreachable. */
	CHECK(__lsan_do_recoverable_leak_check() == 0);
	return check_done("test-reset-form-errors");
}
