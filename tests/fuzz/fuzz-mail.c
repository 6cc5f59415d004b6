/*
 * mail_build on hostile header values and bodies.  The input is a flag
 * byte, an optional 8-byte date, then NUL-separated fields: to_name,
 * subject, text, html, from, to_addr, id (the flags say which of the
 * last three to take from the input rather than from valid defaults).
 * Invariants of a built message: 7-bit, CRLF only, lines within 998
 * bytes; exactly the expected header names in order (nothing injected);
 * the Subject and To decode back to what was given; it parses as
 * multipart/alternative with the boundary only on its delimiter lines,
 * and the two parts decode back to the text and HTML bodies.  A refusal
 * happens exactly when an address or the id is invalid.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "fuzz.h"
#include "mail.h"
#include "mail_fixture.h"

#define F_FROM		0x01	/* from comes from the input */
#define F_TO_ADDR	0x02	/* to_addr comes from the input */
#define F_ID		0x04	/* id comes from the input */
#define F_NO_NAME	0x08	/* to_name is NULL */
#define F_DATE		0x10	/* 8 bytes of date follow the flags */

#define RFC5322_LINE	998
#define RFC2045_LINE	76

static const char *const header_names[] = {
	"Date", "From", "To", "Subject", "Message-ID", "MIME-Version",
	"Auto-Submitted", "Content-Type",
};

/* s without control characters (what mail.c promises to drop). */
static char *
strip_ctl(const char *s)
{
	char	*out = fuzz_strndup((const unsigned char *)s, strlen(s));
	char	*o = out;

	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x20 && *s != 0x7f)
			*o++ = *s;
	*o = '\0';
	return out;
}

static int
id_ok(const char *id)
{
	size_t	 n = strspn(id, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");

	return id[n] == '\0' && n >= 1 && n <= 64;
}

/* Bytes, line ends and line lengths of the whole message. */
static void
check_lines(const struct buf *b)
{
	size_t	 i, col = 0;

	for (i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];

		FUZZ_ASSERT(c == '\t' || c == '\r' || c == '\n' ||
		    (c >= 0x20 && c <= 0x7e));
		if (c == '\r')
			FUZZ_ASSERT(i + 1 < b->len && b->data[i + 1] == '\n');
		if (c == '\n') {
			FUZZ_ASSERT(i > 0 && b->data[i - 1] == '\r');
			col = 0;
		} else if (c != '\r')
			FUZZ_ASSERT(++col <= RFC5322_LINE);
	}
	FUZZ_ASSERT(b->len >= 2 && b->data[b->len - 1] == '\n');
}

/*
 * The header block (up to the blank line): every line is a field with an
 * expected name, in order, or a non-blank continuation of one.
 */
static void
check_headers(const char *msg, const char *eoh)
{
	const char	*p = msg, *eol, *colon;
	size_t		 k = 0, nk = sizeof(header_names) /
			    sizeof(header_names[0]);

	while (p < eoh + 2) {
		eol = strstr(p, "\r\n");
		FUZZ_ASSERT(eol != NULL && eol <= eoh);
		if (*p == ' ' || *p == '\t') {
			FUZZ_ASSERT(k > 0);
			FUZZ_ASSERT((size_t)(eol - p) > strspn(p, " \t"));
		} else {
			colon = memchr(p, ':', (size_t)(eol - p));
			FUZZ_ASSERT(colon != NULL && k < nk);
			FUZZ_ASSERT(strlen(header_names[k]) ==
			    (size_t)(colon - p) && strncmp(p, header_names[k],
			    (size_t)(colon - p)) == 0);
			k++;
		}
		p = eol + 2;
	}
	FUZZ_ASSERT(k == nk);
}

/* Counts occurrences of needle in hay[0..n). */
static size_t
count_of(const char *hay, size_t n, const char *needle)
{
	size_t		 c = 0, nl = strlen(needle);
	const char	*p = hay, *end = hay + n;

	while ((p = memmem(p, (size_t)(end - p), needle, nl)) != NULL) {
		c++;
		p += nl;
	}
	return c;
}

/*
 * One body part starting at p (its headers): holds ctype and encoding,
 * ends at the CRLF before the next boundary, has lines within 76, and
 * decodes to want.  Returns where it ends.
 */
static const char *
check_part(const char *p, const char *bound, const char *ctype, int qp,
    const char *want)
{
	const char	*body, *end, *q;
	struct buf	 dec;
	char		*norm, *o;

	body = strstr(p, "\r\n\r\n");
	FUZZ_ASSERT(body != NULL);
	FUZZ_ASSERT(memmem(p, (size_t)(body - p), ctype, strlen(ctype)) !=
	    NULL);
	FUZZ_ASSERT(memmem(p, (size_t)(body - p), qp ? "quoted-printable" :
	    "base64", qp ? 16 : 6) != NULL);
	body += 4;
	end = strstr(body, bound);
	FUZZ_ASSERT(end != NULL && end - body >= 2);
	end -= 2;
	FUZZ_ASSERT(end[0] == '\r' && end[1] == '\n');
	for (q = body; q < end; q = strstr(q, "\r\n") + 2)
		FUZZ_ASSERT((size_t)(strstr(q, "\r\n") - q) <= RFC2045_LINE);

	buf_init(&dec);
	if (qp)
		FUZZ_ASSERT(fx_qp_decode(body, (size_t)(end - body),
		    &dec) == 0);
	else
		FUZZ_ASSERT(fx_b64_decode(body, (size_t)(end - body),
		    &dec) == 0);
	/* QP carries line ends as CRLF: the text's CRLF comes back as LF. */
	norm = o = fuzz_strndup((const unsigned char *)want, strlen(want));
	for (q = want; *q != '\0'; q++)
		if (!(qp && q[0] == '\r' && q[1] == '\n'))
			*o++ = *q;
	*o = '\0';
	FUZZ_ASSERT(dec.len == strlen(norm) &&
	    (dec.len == 0 || memcmp(dec.data, norm, dec.len) == 0));
	free(norm);
	buf_free(&dec);
	return end;
}

static void
check_message(const struct mail *m, const struct buf *b)
{
	const char	*msg = b->data, *eoh, *p;
	char		 ctype[160], bound[80], delim[96], close[96];
	char		*want, *name;
	struct buf	 dec;
	size_t		 n;

	check_lines(b);
	eoh = strstr(msg, "\r\n\r\n");
	FUZZ_ASSERT(eoh != NULL);
	check_headers(msg, eoh);

	/* The Subject decodes to the subject less its control bytes. */
	buf_init(&dec);
	FUZZ_ASSERT((p = fx_header(msg, "Subject")) != NULL);
	FUZZ_ASSERT(fx_header_decode(p, &dec) == 0);
	want = strip_ctl(m->subject);
	FUZZ_ASSERT(strcmp(dec.data != NULL ? dec.data : "", want) == 0);
	free(want);

	/*
	 * The To is the bare address when there is no name: taken as it is,
	 * since an address may hold "=?" and is never an encoded word (RFC
	 * 2047, section 5).  Otherwise it decodes to the name, then <addr>.
	 */
	buf_reset(&dec);
	FUZZ_ASSERT((p = fx_header(msg, "To")) != NULL);
	n = strlen(m->to_addr);
	name = m->to_name != NULL ? strip_ctl(m->to_name) : NULL;
	if (name == NULL || name[0] == '\0')
		FUZZ_ASSERT(strncmp(p, m->to_addr, n) == 0 &&
		    strncmp(p + n, "\r\n", 2) == 0);
	else {
		FUZZ_ASSERT(fx_header_decode(p, &dec) == 0 &&
		    dec.data != NULL);
		FUZZ_ASSERT(dec.len >= n + 2 && dec.data[dec.len - n - 2] ==
		    '<' && strncmp(dec.data + dec.len - n - 1, m->to_addr, n)
		    == 0 && dec.data[dec.len - 1] == '>');
	}
	free(name);
	buf_free(&dec);

	/* multipart/alternative: the boundary only on delimiter lines. */
	snprintf(ctype, sizeof(ctype), "multipart/alternative;\r\n"
	    " boundary=\"=_mu_%s\"\r\n\r\n", m->id);
	snprintf(bound, sizeof(bound), "--=_mu_%s", m->id);
	snprintf(delim, sizeof(delim), "\r\n%s\r\n", bound);
	snprintf(close, sizeof(close), "\r\n%s--\r\n", bound);
	FUZZ_ASSERT((p = fx_header(msg, "Content-Type")) != NULL);
	FUZZ_ASSERT(strncmp(p, ctype, strlen(ctype)) == 0 &&
	    p + strlen(ctype) == eoh + 4);
	FUZZ_ASSERT(count_of(eoh, b->len - (size_t)(eoh - msg), bound) == 3);
	p = strstr(eoh, delim);
	FUZZ_ASSERT(p != NULL);
	p = check_part(p + strlen(delim), bound, "text/plain", 1, m->text);
	FUZZ_ASSERT(strncmp(p, delim, strlen(delim)) == 0);
	p = check_part(p + strlen(delim), bound, "text/html", 0, m->html);
	FUZZ_ASSERT(strcmp(p, close) == 0);
}

/* The next NUL-terminated field of the input, or def when it ran out. */
static const char *
next_field(const char **pp, const char *end, const char *def)
{
	const char	*s = *pp;

	if (s >= end)
		return def;
	*pp = s + strlen(s) + 1;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mail	 m = {
		"Micro User <noreply@example.com>", "alice",
		"alice@example.com", "Reset your password",
		"0b7c6f52-3c1e-4f7a-9d51-2f4c8a1e9b10", 1796325600, "", "",
	};
	struct buf	 b;
	char		*copy, addr[256], err[128];
	const char	*p, *end, *from, *to_addr, *id;
	unsigned	 flags;
	int		 rc, valid;

	if (size == 0)
		return 0;
	flags = data[0];
	data++;
	size--;
	if (flags & F_DATE) {
		int64_t	 t = 0;

		if (size < sizeof(t))
			return 0;
		memcpy(&t, data, sizeof(t));
		m.date = (time_t)t;
		data += sizeof(t);
		size -= sizeof(t);
	}
	/* Fields end in NUL; the copy ends in one more. */
	copy = fuzz_strndup(data, size);
	p = copy;
	end = copy + size;
	m.to_name = next_field(&p, end, m.to_name);
	m.subject = next_field(&p, end, m.subject);
	m.text = next_field(&p, end, m.text);
	m.html = next_field(&p, end, m.html);
	from = next_field(&p, end, m.from);
	to_addr = next_field(&p, end, m.to_addr);
	id = next_field(&p, end, m.id);
	if (flags & F_FROM)
		m.from = from;
	if (flags & F_TO_ADDR)
		m.to_addr = to_addr;
	if (flags & F_ID)
		m.id = id;
	if (flags & F_NO_NAME)
		m.to_name = NULL;

	/* An address that passes carries nothing that could leave it. */
	if (mail_addr_valid(m.to_addr))
		FUZZ_ASSERT(strpbrk(m.to_addr, " \t\r\n<>()[]:;,\\\"") ==
		    NULL && fuzz_utf8_len((const unsigned char *)m.to_addr,
		    strlen(m.to_addr)) == (long)strlen(m.to_addr));
	valid = mail_addr_valid(m.to_addr) &&
	    mail_addr_of(m.from, addr, sizeof(addr)) == 0 && id_ok(m.id);
	if (mail_addr_of(m.from, addr, sizeof(addr)) == 0)
		FUZZ_ASSERT(mail_addr_valid(addr));

	buf_init(&b);
	err[0] = '\0';
	rc = mail_build(&m, &b, err, sizeof(err));
	FUZZ_ASSERT(rc == (valid ? 0 : -1));
	if (rc == 0)
		check_message(&m, &b);
	else
		FUZZ_ASSERT(err[0] != '\0');
	buf_free(&b);
	free(copy);
	return 0;
}
