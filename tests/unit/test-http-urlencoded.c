/* http_parse_urlencoded: percent-decoding, '+', malformed escapes, NULs. */
#include <stdlib.h>

#include "arena.h"
#include "check.h"
#include "http.h"

static struct arena	*a;

/* Parses s (a C string) into *kv; returns the pair count. */
static size_t
parse(const char *s, struct http_kv **kv)
{
	return http_parse_urlencoded(a, s, strlen(s), kv);
}

int
main(void)
{
	struct http_kv	*kv;
	size_t		 n;

	a = arena_new();

	/* Percent-decoding in keys and values, either case of hex. */
	n = parse("na%6De=J%C3%A9r%c3%b4me&x=%2F%3f%26%3D", &kv);
	CHECK(n == 2);
	CHECK_STR(kv[0].key, "name");
	CHECK_STR(kv[0].val, "J\xc3\xa9r\xc3\xb4me");
	CHECK(kv[0].len == strlen("J\xc3\xa9r\xc3\xb4me"));
	CHECK_STR(http_kv_get(kv, n, "x"), "/?&=");

	/* '+' is a space; an encoded '+' is a plus. */
	n = parse("q=a+b+%2B+c", &kv);
	CHECK(n == 1);
	CHECK_STR(kv[0].val, "a b + c");

	/* Malformed escapes are kept as they are. */
	n = parse("a=%zz&b=%4&c=%&d=100%&e=%4g&f=%%41", &kv);
	CHECK(n == 6);
	CHECK_STR(http_kv_get(kv, n, "a"), "%zz");
	CHECK_STR(http_kv_get(kv, n, "b"), "%4");
	CHECK_STR(http_kv_get(kv, n, "c"), "%");
	CHECK_STR(http_kv_get(kv, n, "d"), "100%");
	CHECK_STR(http_kv_get(kv, n, "e"), "%4g");
	CHECK_STR(http_kv_get(kv, n, "f"), "%A");

	/* An escape ending exactly at the end of the input is decoded. */
	n = parse("k=%41", &kv);
	CHECK(n == 1);
	CHECK_STR(kv[0].val, "A");
	CHECK(kv[0].len == 1);

	/* Only n bytes are read: what follows in memory does not count. */
	n = http_parse_urlencoded(a, "k=%41&z=1", 4, &kv);
	CHECK(n == 1);
	CHECK_STR(kv[0].val, "%4");

	/* Empty values, keys without '=', and empty segments. */
	n = parse("a=&b&&c=3&", &kv);
	CHECK(n == 3);
	CHECK_STR(kv[0].key, "a");
	CHECK_STR(kv[0].val, "");
	CHECK(kv[0].len == 0);
	CHECK_STR(kv[1].key, "b");
	CHECK_STR(kv[1].val, "");
	CHECK(kv[1].len == 0);
	CHECK_STR(kv[2].key, "c");
	CHECK_STR(kv[2].val, "3");
	CHECK(http_kv_get(kv, n, "d") == NULL);

	/* A value may contain '='. */
	n = parse("t=a=b=c", &kv);
	CHECK(n == 1);
	CHECK_STR(kv[0].val, "a=b=c");

	/* %00 decodes to a NUL; .len keeps the full length. */
	n = parse("p=ab%00cd", &kv);
	CHECK(n == 1);
	CHECK(kv[0].len == 5);
	CHECK(strlen(kv[0].val) == 2);
	CHECK(memcmp(kv[0].val, "ab\0cd", 5) == 0);

	/* Duplicate keys: the first one wins. */
	n = parse("role=user&role=admin", &kv);
	CHECK(n == 2);
	CHECK_STR(http_kv_get(kv, n, "role"), "user");

	/* Nothing to parse. */
	kv = (struct http_kv *)1;
	CHECK(http_parse_urlencoded(a, "", 0, &kv) == 0);
	CHECK(kv == NULL);
	CHECK(http_parse_urlencoded(a, NULL, 0, &kv) == 0);
	CHECK(parse("&&&", &kv) == 0);

	arena_free(a);
	return check_done("test-http-urlencoded");
}
