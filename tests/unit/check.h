/*
 * A minimal test harness: CHECK() records a failure with its line and goes
 * on; check_done() prints "name: N passed, N failed" and gives the exit
 * status.  Each test program covers one unit.
 */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond) do {						\
	if (cond)							\
		check_passed++;						\
	else {								\
		check_failed++;						\
		fprintf(stderr, "%s:%d: CHECK failed: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
	}								\
} while (0)

#define CHECK_STR(got, want) do {					\
	const char *check_g = (got), *check_w = (want);			\
	if (check_g != NULL && strcmp(check_g, check_w) == 0)		\
		check_passed++;						\
	else {								\
		check_failed++;						\
		fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n",	\
		    __FILE__, __LINE__, check_g ? check_g : "(null)",	\
		    check_w);						\
	}								\
} while (0)

static int
check_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
	return check_failed == 0 ? 0 : 1;
}

#endif
