/*
 * Shared by the libFuzzer harnesses in tests/fuzz: an assertion that
 * aborts (so libFuzzer saves the input), the settings the parsers need,
 * and reference implementations the harnesses compare the code against.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

/* Each harness uses some of these helpers. */
#define FUZZ_UNUSED	__attribute__((unused))

/* An invariant of the code under test; a violation is a finding. */
#define FUZZ_ASSERT(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant violated: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* Loads the settings of user-fcgi, as the unit tests do.  Aborts. */
static FUZZ_UNUSED void
fuzz_cfg_load(void)
{
	char	 err[256];

	setenv("DB_USER", "micro", 1);
	setenv("PUBLIC_BASE_URL", "https://users.example.com", 1);
	setenv("JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
	if (cfg_load(CFG_PROG_FCGI, err, sizeof(err)) != 0) {
		fprintf(stderr, "cfg_load: %s\n", err);
		abort();
	}
}

/*
 * The number of code points in s[0..n) when it is well-formed UTF-8
 * (Unicode 15, table 3-7: no overlongs, surrogates or values above
 * U+10FFFF), else -1.  Written from the table, not from valid.c, so the
 * two can be compared.
 */
static FUZZ_UNUSED long
fuzz_utf8_len(const unsigned char *s, size_t n)
{
	size_t	 i = 0;
	long	 count = 0;

	while (i < n) {
		unsigned char	 b = s[i], lo = 0x80, hi = 0xbf;
		size_t		 more, k;

		if (b <= 0x7f)
			more = 0;
		else if (b >= 0xc2 && b <= 0xdf)
			more = 1;
		else if (b >= 0xe0 && b <= 0xef) {
			more = 2;
			if (b == 0xe0)
				lo = 0xa0;
			else if (b == 0xed)
				hi = 0x9f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			more = 3;
			if (b == 0xf0)
				lo = 0x90;
			else if (b == 0xf4)
				hi = 0x8f;
		} else
			return -1;
		if (more > n - i - 1)
			return -1;
		for (k = 1; k <= more; k++) {
			unsigned char c = s[i + k];

			if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xbf))
				return -1;
		}
		i += more + 1;
		count++;
	}
	return count;
}

/* A NUL-terminated heap copy of data[0..n) (exactly n + 1 bytes). */
static FUZZ_UNUSED char *
fuzz_strndup(const unsigned char *data, size_t n)
{
	char	*s;

	if ((s = malloc(n + 1)) == NULL)
		abort();
	memcpy(s, data, n);
	s[n] = '\0';
	return s;
}

#endif
