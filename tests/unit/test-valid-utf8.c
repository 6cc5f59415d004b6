/* valid_utf8_len: code point counts, and overlongs, surrogates, range. */
#include <stdio.h>

#include "check.h"
#include "valid.h"

static const struct {
	const char	*s;
	long		 n;
} valid[] = {
	{ "", 0 },
	{ "abc", 3 },
	{ "\x7f", 1 },
	{ "\xc2\x80", 1 },			/* U+0080 */
	{ "caf\xc3\xa9", 4 },
	{ "\xdf\xbf", 1 },			/* U+07FF */
	{ "\xe0\xa0\x80", 1 },		/* U+0800 */
	{ "\xe6\x97\xa5\xe6\x9c\xac", 2 },	/* two CJK characters */
	{ "\xed\x9f\xbf", 1 },		/* U+D7FF */
	{ "\xee\x80\x80", 1 },		/* U+E000 */
	{ "\xef\xbf\xbf", 1 },		/* U+FFFF */
	{ "\xf0\x90\x80\x80", 1 },		/* U+10000 */
	{ "\xf0\x9f\x98\x80!", 2 },		/* emoji and '!' */
	{ "\xf4\x8f\xbf\xbf", 1 },		/* U+10FFFF */
};

static const char *const invalid[] = {
	"\x80",				/* stray continuation byte */
	"a\xbf" "b",
	"\xc0\x80",			/* overlong NUL */
	"\xc1\xbf",			/* overlong U+007F */
	"\xe0\x80\x80",			/* overlong NUL, 3 bytes */
	"\xe0\x9f\xbf",			/* overlong U+07FF */
	"\xf0\x80\x80\x80",		/* overlong NUL, 4 bytes */
	"\xf0\x8f\xbf\xbf",		/* overlong U+FFFF */
	"\xed\xa0\x80",			/* U+D800, a surrogate */
	"\xed\xbf\xbf",			/* U+DFFF */
	"\xf4\x90\x80\x80",		/* U+110000 */
	"\xf5\x80\x80\x80",
	"\xf7\xbf\xbf\xbf",
	"\xf8\x88\x80\x80\x80",		/* five-byte form */
	"\xfe",
	"\xff",
	"\xc3",				/* truncated sequences */
	"\xe6\x97",
	"\xf0\x9f\x98",
	"\xe6\x97" "a",
	"ok\xc3",
	"\xc3\xa9\xe6",
};

int
main(void)
{
	size_t	i;

	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		if (valid_utf8_len(valid[i].s) != valid[i].n)
			fprintf(stderr, "valid[%zu] miscounted\n", i);
		CHECK(valid_utf8_len(valid[i].s) == valid[i].n);
	}
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		if (valid_utf8_len(invalid[i]) != -1)
			fprintf(stderr, "invalid[%zu] accepted\n", i);
		CHECK(valid_utf8_len(invalid[i]) == -1);
	}
	return check_done("test-valid-utf8");
}
