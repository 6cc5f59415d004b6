/*
 * Input validators (see valid.h).  They run before anything reaches SQL,
 * SMTP or a header.
 */
#include <string.h>

#include "valid.h"

#define EMAIL_MAX	254
#define LOCAL_MAX	64
#define NAME_MIN	3
#define NAME_MAX	32
#define PASSWORD_MIN	8
#define PASSWORD_MAX	128
#define REAL_NAME_MAX	64
#define AVATAR_MAX	255

/* Decodes UTF-8 strictly (no overlongs, surrogates or values > U+10FFFF). */
long
valid_utf8_len(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	long			 n = 0;

	while (*p != '\0') {
		unsigned	c = *p, cp;
		int		extra, i;

		if (c < 0x80)
			extra = 0, cp = c;
		else if ((c & 0xe0) == 0xc0)
			extra = 1, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			extra = 2, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			extra = 3, cp = c & 0x07;
		else
			return -1;
		for (i = 1; i <= extra; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
		    (extra == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		p += extra + 1;
		n++;
	}
	return n;
}

/* True when s holds a control character (C0, DEL or C1). */
static int
valid_has_control(const char *s)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 1;
		/* C1 controls are U+0080..U+009F: 0xC2 0x80..0x9F. */
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return 1;
	}
	return 0;
}

static int
valid_is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/*
 * A pragmatic address check: ASCII local part of atext and dots, and a
 * domain of LDH labels with at least one dot.  Quoted local parts and
 * address literals are refused: nobody registers with them, and they are
 * what header-injection attempts look like.
 */
const char *
valid_email(const char *s)
{
	const char	*at, *p, *label;
	size_t		 len = strlen(s);

	if (len == 0)
		return VALID_REQUIRED;
	if (len > EMAIL_MAX)
		return VALID_EMAIL_LONG;
	if ((at = strchr(s, '@')) == NULL || strchr(at + 1, '@') != NULL)
		return VALID_EMAIL;
	if (at == s || (size_t)(at - s) > LOCAL_MAX)
		return VALID_EMAIL;
	for (p = s; p < at; p++) {
		if (valid_is_alnum((unsigned char)*p) ||
		    strchr("!#$%&'*+/=?^_`{|}~-", *p) != NULL)
			continue;
		if (*p == '.' && p != s && p + 1 != at && p[1] != '.')
			continue;
		return VALID_EMAIL;
	}
	label = at + 1;
	if (strchr(label, '.') == NULL)
		return VALID_EMAIL;
	for (p = label;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label || p - label > 63 || label[0] == '-' ||
			    p[-1] == '-')
				return VALID_EMAIL;
			if (*p == '\0')
				break;
			label = p + 1;
			continue;
		}
		if (!valid_is_alnum((unsigned char)*p) && *p != '-')
			return VALID_EMAIL;
	}
	return NULL;
}

const char *
valid_name(const char *s)
{
	size_t		len = strlen(s);
	const char	*p;

	if (len < NAME_MIN || len > NAME_MAX)
		return VALID_NAME_LEN;
	for (p = s; *p != '\0'; p++)
		if (!valid_is_alnum((unsigned char)*p) &&
		    strchr("_.-", *p) == NULL)
			return VALID_NAME_CHARS;
	return NULL;
}

const char *
valid_password(const char *s)
{
	long	n = valid_utf8_len(s);

	if (n < 0)
		return VALID_UTF8;
	if (n < PASSWORD_MIN || n > PASSWORD_MAX)
		return VALID_PASSWORD_LEN;
	return NULL;
}

const char *
valid_real_name(const char *s)
{
	long	n = valid_utf8_len(s);

	if (n < 0)
		return VALID_UTF8;
	if (n > REAL_NAME_MAX)
		return VALID_REAL_NAME_LEN;
	if (valid_has_control(s))
		return VALID_CONTROL;
	return NULL;
}

/* An avatar is empty or an absolute http(s) URL without spaces. */
const char *
valid_avatar(const char *s)
{
	const char	*p;

	if (*s == '\0')
		return NULL;
	if (strlen(s) > AVATAR_MAX)
		return VALID_AVATAR_LEN;
	if (strncmp(s, "https://", 8) == 0)
		p = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		p = s + 7;
	else
		return VALID_AVATAR_SCHEME;
	/* A host must follow the scheme. */
	if (*p == '\0' || *p == '/' || *p == '?' || *p == '#')
		return VALID_AVATAR_SCHEME;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '"' || *p == '<' || *p == '>' || *p == '\\')
			return VALID_AVATAR_CHARS;
	return NULL;
}
