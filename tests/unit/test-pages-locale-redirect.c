/*
 * page_locale: next must stay on this site.  Browsers delete ASCII tab, CR
 * and LF anywhere in a URL (WHATWG URL parser), so "/\t/evil.example"
 * becomes the scheme-relative "//evil.example": an open redirect unless
 * such bytes are refused.
 */
#include <string.h>

#include "arena.h"
#include "check.h"
#include "handlers.h"
#include "http.h"

/* The Location that GET /user/locale?<query> answers with. */
static const char *
locale_location(struct arena *a, const char *query)
{
	struct req	 r;
	const char	*loc = NULL;
	size_t		 i;

	http_req_init(&r, a);
	r.method = HTTP_GET;
	r.path = "/user/locale";
	r.query = query;
	r.nparams = http_parse_urlencoded(a, query, strlen(query), &r.params);
	page_locale(&r);
	CHECK(r.status == 303);
	for (i = 0; i < r.nheaders; i++)
		if (strcmp(r.headers[i].key, "Location") == 0)
			loc = r.headers[i].val;
	http_req_free(&r);
	return loc;
}

int
main(void)
{
	struct arena	*a = arena_new();

	/* A path on this site is kept. */
	CHECK_STR(locale_location(a, "lang=en&next=/password/forgot"),
	    "/password/forgot");
	/* The forms the handler already refuses. */
	CHECK_STR(locale_location(a, "lang=en&next=//evil.example"),
	    "/user/login");
	CHECK_STR(locale_location(a, "lang=en&next=/%5Cevil.example"),
	    "/user/login");
	/* A tab after the slash: the browser goes to //evil.example. */
	CHECK_STR(locale_location(a, "lang=en&next=/%09/evil.example"),
	    "/user/login");
	/* The same with a backslash, which browsers read as '/'. */
	CHECK_STR(locale_location(a, "lang=en&next=/%09%5Cevil.example"),
	    "/user/login");
	arena_free(a);
	return check_done("test-pages-locale-redirect");
}
