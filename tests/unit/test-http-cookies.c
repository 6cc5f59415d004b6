/* http_parse_cookies: spaces, quoted values, empty input, many cookies. */
#include <stdio.h>

#include "arena.h"
#include "check.h"
#include "http.h"

int
main(void)
{
	struct arena	*a = arena_new();
	struct http_kv	*kv;
	size_t		 n, i;
	char		 hdr[4096], name[16], want[16];
	int		 off = 0, ok = 1;

	/* The usual browser form. */
	n = http_parse_cookies(a, "session=abc.def.ghi; csrf=xyz", &kv);
	CHECK(n == 2);
	CHECK_STR(kv[0].key, "session");
	CHECK_STR(kv[0].val, "abc.def.ghi");
	CHECK(kv[0].len == 11);
	CHECK_STR(http_kv_get(kv, n, "csrf"), "xyz");

	/* Blanks around pairs and before ';' are not part of names/values. */
	n = http_parse_cookies(a, "  a=1 ;\tb=2\t;   c=3   ", &kv);
	CHECK(n == 3);
	CHECK_STR(http_kv_get(kv, n, "a"), "1");
	CHECK_STR(http_kv_get(kv, n, "b"), "2");
	CHECK_STR(http_kv_get(kv, n, "c"), "3");

	/* Blanks around '=' (RFC 6265 5.2 trims name and value). */
	n = http_parse_cookies(a, "a = 1; b =2", &kv);
	CHECK(n == 2);
	CHECK_STR(http_kv_get(kv, n, "a"), "1");
	CHECK_STR(http_kv_get(kv, n, "b"), "2");

	/* A quoted value loses its quotes; a lone quote stays. */
	n = http_parse_cookies(a, "q=\"hello world\"; e=\"\"; l=\"x", &kv);
	CHECK(n == 3);
	CHECK_STR(http_kv_get(kv, n, "q"), "hello world");
	CHECK(kv[0].len == 11);
	CHECK_STR(http_kv_get(kv, n, "e"), "");
	CHECK(kv[1].len == 0);
	CHECK_STR(http_kv_get(kv, n, "l"), "\"x");

	/* Empty input and empty values. */
	kv = (struct http_kv *)1;
	CHECK(http_parse_cookies(a, "", &kv) == 0);
	CHECK(kv == NULL);
	CHECK(http_parse_cookies(a, NULL, &kv) == 0);
	n = http_parse_cookies(a, "a=; b=2", &kv);
	CHECK(n == 2);
	CHECK_STR(http_kv_get(kv, n, "a"), "");
	CHECK(kv[0].len == 0);

	/* Pairs without '=' and with an empty name are skipped. */
	n = http_parse_cookies(a, "junk; a=1; =x; ;; b=2; tail", &kv);
	CHECK(n == 2);
	CHECK_STR(kv[0].key, "a");
	CHECK_STR(kv[1].key, "b");
	CHECK(http_kv_get(kv, n, "junk") == NULL);
	CHECK(http_kv_get(kv, n, "tail") == NULL);

	/* '=' inside a value is kept; the first cookie of a name wins. */
	n = http_parse_cookies(a, "t=a=b==; t=second", &kv);
	CHECK(n == 2);
	CHECK_STR(http_kv_get(kv, n, "t"), "a=b==");

	/* Many cookies. */
	for (i = 0; i < 200; i++)
		off += snprintf(hdr + off, sizeof(hdr) - (size_t)off,
		    "%sc%zu=v%zu", i ? "; " : "", i, i);
	n = http_parse_cookies(a, hdr, &kv);
	CHECK(n == 200);
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "c%zu", i);
		snprintf(want, sizeof(want), "v%zu", i);
		if (http_kv_get(kv, n, name) == NULL ||
		    strcmp(http_kv_get(kv, n, name), want) != 0)
			ok = 0;
	}
	CHECK(ok);

	arena_free(a);
	return check_done("test-http-cookies");
}
