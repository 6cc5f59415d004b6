/* valid_email: what a pragmatic address check accepts and refuses. */
#include <stdio.h>

#include "check.h"
#include "valid.h"

static const char *const good[] = {
	"a@b.co",
	"john.doe@example.com",
	"john.doe+tag@mail.example.org",
	"x_y-z@sub.example.org",
	"!#$%&'*+/=?^_`{|}~-@example.com",
	"UPPER@EXAMPLE.COM",
	"a.b.c@my-host.example",
	"123@456.789",
	"a@b.c",
};

static const char *const bad[] = {
	"plainaddress",			/* no '@' */
	"a@b@example.com",		/* two '@' */
	"a@@example.com",
	"@example.com",			/* empty local part */
	".a@example.com",		/* leading dot */
	"a.@example.com",		/* trailing dot */
	"a..b@example.com",		/* two dots */
	".@example.com",
	"a@",				/* empty domain */
	"a@localhost",			/* no dot in the domain */
	"a@.example.com",		/* empty label */
	"a@example..com",
	"a@example.com.",
	"a@-example.com",		/* label starts with '-' */
	"a@example-.com",		/* label ends with '-' */
	"a@example.-com",
	"a@exa_mple.com",		/* '_' in a label */
	"a@[127.0.0.1]",		/* address literal */
	"\"a b\"@example.com",		/* quoted local part */
	"\"a\"@example.com",
	"a b@example.com",		/* spaces */
	" a@example.com",
	"a@example.com ",
	"a@exa mple.com",
	"a@example.com\r\nBcc: x@example.org",	/* header injection */
	"a@example.com\n",
	"a\r@example.com",
	"a@example.com\r",
	"a\t@example.com",
	"\xc3\xa9@example.com",		/* non-ASCII local part */
	"a@\xc3\xa9xample.com",		/* non-ASCII domain */
	"a(comment)@example.com",
	"a,b@example.com",
	"a;b@example.com",
	"<a@example.com>",
};

/* Appends n copies of c at *p (NUL-terminated) and returns the end. */
static char *
fill(char *p, char c, size_t n)
{
	memset(p, c, n);
	p[n] = '\0';
	return p + n;
}

/* local part of llen bytes @ labels of the given lengths, dot-joined. */
static const char *
address(size_t llen, const size_t *labels, size_t n)
{
	static char	 s[512];
	char		*p = fill(s, 'a', llen);
	size_t		 i;

	*p++ = '@';
	for (i = 0; i < n; i++) {
		if (i > 0)
			*p++ = '.';
		p = fill(p, (char)('b' + i), labels[i]);
	}
	return s;
}

int
main(void)
{
	static const size_t	 l63[] = { 63, 3 }, l64[] = { 64, 3 };
	static const size_t	 l254[] = { 63, 63, 61 };
	static const size_t	 l255[] = { 63, 63, 62 };
	static const size_t	 l7[] = { 7, 3 };
	size_t			 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (valid_email(good[i]) != NULL)
			fprintf(stderr, "good[%zu] refused\n", i);
		CHECK(valid_email(good[i]) == NULL);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (valid_email(bad[i]) == NULL)
			fprintf(stderr, "bad[%zu] accepted\n", i);
		CHECK(valid_email(bad[i]) != NULL);
	}
	CHECK_STR(valid_email(""), "is required");
	CHECK_STR(valid_email("a@b@c.d"), "must be a valid email address");

	/* A 64-byte local part is fine, 65 bytes is not. */
	CHECK(valid_email(address(64, l7, 2)) == NULL);
	CHECK(valid_email(address(65, l7, 2)) != NULL);

	/* A 63-byte label is fine, 64 bytes is not. */
	CHECK(valid_email(address(1, l63, 2)) == NULL);
	CHECK(valid_email(address(1, l64, 2)) != NULL);

	/* 254 bytes in all is the most: 64 + 1 + 63.63.61. */
	CHECK(strlen(address(64, l254, 3)) == 254);
	CHECK(valid_email(address(64, l254, 3)) == NULL);
	CHECK(strlen(address(64, l255, 3)) == 255);
	CHECK_STR(valid_email(address(64, l255, 3)),
	    "must be at most 254 characters");

	return check_done("test-valid-email");
}
