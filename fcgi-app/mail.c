/*
 * MIME building (mail_smtp.c sends).  Everything that reaches a header is
 * either checked against a strict syntax (addresses, the id) or has its
 * control characters removed and is encoded (names, the subject), so no
 * input can add a header line.  Bodies travel as quoted-printable (text)
 * and base64 (HTML), 7-bit clean, with CRLF line ends as libesmtp wants.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "mail.h"

#define MAIL_WORD_BYTES	39	/* raw bytes per encoded word (52 chars) */
#define MAIL_QP_LINE	76
#define MAIL_B64_LINE	76

static const char mail_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ASCII letter or digit, independent of the locale. */
static int
mail_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* RFC 5322 atext. */
static int
mail_atext(int c)
{
	return mail_alnum(c) || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-",
	    c) != NULL);
}

/* A dot-atom local part: atext runs separated by single dots. */
static int
mail_local_valid(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0 || n > 64 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
		} else if (!mail_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* A DNS-style domain: labels of letters, digits and inner hyphens. */
static int
mail_domain_valid(const char *s)
{
	size_t	 label = 0, n = strlen(s);

	if (n == 0 || n > 253)
		return 0;
	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (label == 0 || s[-1] == '-')
				return 0;
			label = 0;
		} else if (mail_alnum((unsigned char)*s) || *s == '-') {
			if (*s == '-' && label == 0)
				return 0;
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	return label > 0 && s[-1] != '-';
}

int
mail_addr_valid(const char *addr)
{
	const char	*at;

	if (addr == NULL || strlen(addr) > 254 ||
	    (at = strrchr(addr, '@')) == NULL)
		return 0;
	return mail_local_valid(addr, (size_t)(at - addr)) &&
	    mail_domain_valid(at + 1);
}

/* Whether s holds a control character (CR and LF among them). */
static int
mail_has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int
mail_addr_of(const char *from, char *out, size_t outlen)
{
	const char	*lt, *gt, *p;
	size_t		 n;

	if (from == NULL || mail_has_ctl(from))
		return -1;
	if ((lt = strrchr(from, '<')) != NULL) {
		if ((gt = strchr(lt, '>')) == NULL)
			return -1;
		for (p = gt + 1; *p == ' ' || *p == '\t'; p++)
			continue;
		if (*p != '\0')
			return -1;
		from = lt + 1;
		n = (size_t)(gt - from);
	} else {
		while (*from == ' ')
			from++;
		for (n = strlen(from); n > 0 && from[n - 1] == ' '; n--)
			continue;
	}
	if (n >= outlen)
		return -1;
	memcpy(out, from, n);
	out[n] = '\0';
	return mail_addr_valid(out) ? 0 : -1;
}

/* Appends base64 of len bytes without line breaks. */
static void
mail_b64_raw(struct buf *b, const unsigned char *p, size_t len)
{
	char	 q[4];
	size_t	 i;

	for (i = 0; i + 2 < len; i += 3) {
		q[0] = mail_b64[p[i] >> 2];
		q[1] = mail_b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		q[2] = mail_b64[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		q[3] = mail_b64[p[i + 2] & 63];
		buf_append(b, q, 4);
	}
	if (len - i == 1) {
		q[0] = mail_b64[p[i] >> 2];
		q[1] = mail_b64[(p[i] & 3) << 4];
		q[2] = q[3] = '=';
		buf_append(b, q, 4);
	} else if (len - i == 2) {
		q[0] = mail_b64[p[i] >> 2];
		q[1] = mail_b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		q[2] = mail_b64[(p[i + 1] & 15) << 2];
		q[3] = '=';
		buf_append(b, q, 4);
	}
}

void
mail_base64_encode(struct buf *b, const void *p, size_t len)
{
	const unsigned char	*s = p;
	size_t			 chunk = MAIL_B64_LINE / 4 * 3, n;

	for (; len > 0; s += n, len -= n) {
		n = len < chunk ? len : chunk;
		mail_b64_raw(b, s, n);
		buf_append(b, "\r\n", 2);
	}
}

void
mail_qp_encode(struct buf *b, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789ABCDEF";
	unsigned char		 c;
	size_t			 i, col = 0, w;
	int			 enc, eol_next;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '\r' && i + 1 < len && s[i + 1] == '\n')
			continue;		/* the LF writes the CRLF */
		if (c == '\n') {
			buf_append(b, "\r\n", 2);
			col = 0;
			continue;
		}
		eol_next = i + 1 == len || s[i + 1] == '\n' ||
		    (s[i + 1] == '\r' && i + 2 < len && s[i + 2] == '\n');
		enc = c == '=' || c > 126 || (c < 32 && c != '\t') ||
		    ((c == ' ' || c == '\t') && eol_next);
		w = enc ? 3 : 1;
		/* Keep room for the soft break's "=" within 76. */
		if (col + w > MAIL_QP_LINE - 1) {
			buf_append(b, "=\r\n", 3);
			col = 0;
		}
		if (enc) {
			buf_putc(b, '=');
			buf_putc(b, hex[c >> 4]);
			buf_putc(b, hex[c & 15]);
		} else
			buf_putc(b, (char)c);
		col += w;
	}
	/* A soft break ends the last line without adding a newline. */
	if (col > 0)
		buf_append(b, "=\r\n", 3);
}

/* Copies s without control characters into a new string (or NULL). */
static char *
mail_strip_ctl(const char *s)
{
	char	*out, *o;

	if ((o = out = malloc(strlen(s) + 1)) == NULL)
		return NULL;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x20 && *s != 0x7f)
			*o++ = *s;
	*o = '\0';
	return out;
}

/*
 * Longest value written as it is; longer ones become encoded words, which
 * fold, so no header line can pass RFC 5322's 998 bytes.
 */
#define MAIL_PLAIN_MAX	60

/*
 * Whether s must be encoded: 8-bit bytes, text that looks encoded, or a
 * value too long for one line.
 */
static int
mail_needs_words(const char *s)
{
	if (strlen(s) > MAIL_PLAIN_MAX)
		return 1;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s > 0x7e || (s[0] == '=' && s[1] == '?'))
			return 1;
	return 0;
}

/* Appends s as encoded words, never splitting a UTF-8 sequence. */
static void
mail_words(struct buf *b, const char *s)
{
	size_t	 len = strlen(s), n;

	while (len > 0) {
		n = len < MAIL_WORD_BYTES ? len : MAIL_WORD_BYTES;
		while (n < len && n > 1 &&
		    ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		buf_puts(b, "=?UTF-8?B?");
		mail_b64_raw(b, (const unsigned char *)s, n);
		buf_puts(b, "?=");
		s += n;
		len -= n;
		if (len > 0)
			buf_puts(b, "\r\n ");
	}
}

void
mail_header_text(struct buf *b, const char *s)
{
	char	*clean;

	if ((clean = mail_strip_ctl(s)) == NULL) {
		fprintf(stderr, "mail: out of memory\n");
		abort();
	}
	if (mail_needs_words(clean))
		mail_words(b, clean);
	else
		buf_puts(b, clean);
	free(clean);
}

/*
 * Appends a mailbox: the display name (encoded, or quoted when it has
 * specials) and the address in angle brackets.  The address must have
 * been checked by mail_addr_valid().
 */
static void
mail_mailbox(struct buf *b, const char *name, const char *addr)
{
	char		*clean;
	const char	*p;
	size_t		 n;

	if (name == NULL) {
		buf_puts(b, addr);
		return;
	}
	if ((clean = mail_strip_ctl(name)) == NULL)
		abort();
	if (clean[0] == '\0') {
		free(clean);
		buf_puts(b, addr);
		return;
	}
	/* Drop quotes the operator may have written around the name. */
	n = strlen(clean);
	p = clean;
	if (n >= 2 && clean[0] == '"' && clean[n - 1] == '"') {
		clean[n - 1] = '\0';
		p++;
	}
	if (mail_needs_words(p))
		mail_words(b, p);
	else if (strpbrk(p, "()<>[]:;@\\,.\"") != NULL) {
		buf_putc(b, '"');
		for (; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(b, '\\');
			buf_putc(b, *p);
		}
		buf_putc(b, '"');
	} else
		buf_puts(b, p);
	buf_printf(b, " <%s>", addr);
	free(clean);
}

/* Appends an RFC 5322 date in UTC, independent of the locale. */
static void
mail_date(struct buf *b, time_t t)
{
	static const char *const days[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char *const months[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	struct tm	 tm;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof tm);
	buf_printf(b, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* An id fit for Message-ID and the boundary: [A-Za-z0-9-], 1..64. */
static int
mail_id_valid(const char *id)
{
	size_t	 n = 0;

	if (id == NULL)
		return 0;
	for (; id[n] != '\0'; n++)
		if (!mail_alnum((unsigned char)id[n]) && id[n] != '-')
			return 0;
	return n > 0 && n <= 64;
}

/* Splits "Name <addr>" into its display name (a copy, or NULL). */
static char *
mail_name_of(const char *from)
{
	const char	*lt;
	size_t		 n;
	char		*name;

	if ((lt = strrchr(from, '<')) == NULL)
		return NULL;
	n = (size_t)(lt - from);
	while (n > 0 && (from[n - 1] == ' ' || from[n - 1] == '\t'))
		n--;
	while (n > 0 && (*from == ' ' || *from == '\t')) {
		from++;
		n--;
	}
	if ((name = strndup(from, n)) == NULL)
		abort();
	return name;
}

int
mail_build(const struct mail *m, struct buf *out, char *err, size_t errlen)
{
	char		 from[256], *from_name;
	const char	*domain;

	if (!mail_addr_valid(m->to_addr)) {
		snprintf(err, errlen, "invalid recipient address");
		return -1;
	}
	if (mail_addr_of(m->from, from, sizeof from) == -1) {
		snprintf(err, errlen, "invalid MAIL_FROM");
		return -1;
	}
	if (!mail_id_valid(m->id)) {
		snprintf(err, errlen, "invalid message id");
		return -1;
	}
	domain = strrchr(from, '@') + 1;
	from_name = mail_name_of(m->from);

	buf_puts(out, "Date: ");
	mail_date(out, m->date);
	buf_puts(out, "\r\nFrom: ");
	mail_mailbox(out, from_name, from);
	free(from_name);
	buf_puts(out, "\r\nTo: ");
	mail_mailbox(out, m->to_name, m->to_addr);
	buf_puts(out, "\r\nSubject: ");
	mail_header_text(out, m->subject != NULL ? m->subject : "");
	buf_printf(out, "\r\nMessage-ID: <%s@%s>\r\n", m->id, domain);
	buf_puts(out, "MIME-Version: 1.0\r\n");
	buf_puts(out, "Auto-Submitted: auto-generated\r\n");
	/*
	 * "=_" cannot occur in quoted-printable or base64 text, so the
	 * boundary never collides with a body.
	 */
	buf_printf(out, "Content-Type: multipart/alternative;\r\n"
	    " boundary=\"=_mu_%s\"\r\n\r\n", m->id);
	buf_puts(out, "This is a multi-part message in MIME format.\r\n");

	buf_printf(out, "\r\n--=_mu_%s\r\n", m->id);
	buf_puts(out, "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	mail_qp_encode(out, m->text, strlen(m->text));

	buf_printf(out, "\r\n--=_mu_%s\r\n", m->id);
	buf_puts(out, "Content-Type: text/html; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n");
	mail_base64_encode(out, m->html, strlen(m->html));

	buf_printf(out, "\r\n--=_mu_%s--\r\n", m->id);
	return 0;
}
