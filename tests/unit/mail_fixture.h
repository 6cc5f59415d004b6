/*
 * Helpers for the mail tests: decoders for quoted-printable, base64 and
 * RFC 2047 encoded words (the inverse of what mail.c writes), and header
 * lookup in a built message.
 */
#ifndef MAIL_FIXTURE_H
#define MAIL_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Each test uses some of these helpers. */
#define FX_UNUSED	__attribute__((unused))

static FX_UNUSED int
fx_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes quoted-printable (CRLF hard breaks become LF); -1 if bad. */
static FX_UNUSED int
fx_qp_decode(const char *s, size_t len, struct buf *out)
{
	size_t	 i;
	int	 h, l;

	for (i = 0; i < len; i++) {
		if (s[i] == '=') {
			if (i + 2 < len && s[i + 1] == '\r' && s[i + 2] == '\n') {
				i += 2;
				continue;
			}
			if (i + 2 >= len || (h = fx_hex(s[i + 1])) < 0 ||
			    (l = fx_hex(s[i + 2])) < 0)
				return -1;
			buf_putc(out, (char)(h * 16 + l));
			i += 2;
		} else if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n') {
			buf_putc(out, '\n');
			i++;
		} else
			buf_putc(out, s[i]);
	}
	return 0;
}

static FX_UNUSED int
fx_b64_val(int c)
{
	const char	*tab =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char	*p;

	if (c == '\0' || (p = strchr(tab, c)) == NULL)
		return -1;
	return (int)(p - tab);
}

/* Decodes base64, skipping CR and LF; -1 if bad. */
static FX_UNUSED int
fx_b64_decode(const char *s, size_t len, struct buf *out)
{
	unsigned int	 acc = 0;
	int		 bits = 0, v;
	size_t		 i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			continue;
		if (s[i] == '=')
			break;
		if ((v = fx_b64_val((unsigned char)s[i])) < 0)
			return -1;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_putc(out, (char)((acc >> bits) & 0xff));
		}
	}
	return 0;
}

/*
 * Unfolds header value v (up to the end of its field) and decodes the
 * encoded words in it into out.  Returns -1 on a malformed word.
 */
static FX_UNUSED int
fx_header_decode(const char *v, struct buf *out)
{
	const char	*end, *q;

	while (*v != '\0' && !(v[0] == '\r' && v[1] == '\n' &&
	    v[2] != ' ' && v[2] != '\t')) {
		if (v[0] == '\r' && v[1] == '\n') {
			v += 3;		/* fold: CRLF SP */
			continue;
		}
		/*
		 * An address is never encoded (RFC 2047, section 5): copy
		 * <...> as it is, if it closes on this line.
		 */
		if (v[0] == '<' && (end = strpbrk(v, ">\r")) != NULL &&
		    *end == '>') {
			buf_append(out, v, (size_t)(end - v + 1));
			v = end + 1;
			continue;
		}
		if (strncmp(v, "=?UTF-8?B?", 10) == 0) {
			q = v + 10;
			if ((end = strstr(q, "?=")) == NULL)
				return -1;
			if (fx_b64_decode(q, (size_t)(end - q), out) == -1)
				return -1;
			v = end + 2;
			continue;
		}
		buf_putc(out, *v++);
	}
	return 0;
}

/*
 * The value of header name in the header block of msg (after "Name: "),
 * or NULL.  Only whole lines in the header block count.
 */
static FX_UNUSED const char *
fx_header(const char *msg, const char *name)
{
	const char	*p = msg, *eoh = strstr(msg, "\r\n\r\n");
	size_t		 n = strlen(name);

	while (p != NULL && (eoh == NULL || p < eoh)) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':')
			return p + n + (p[n + 1] == ' ' ? 2 : 1);
		if ((p = strstr(p, "\r\n")) != NULL)
			p += 2;
	}
	return NULL;
}

#endif
