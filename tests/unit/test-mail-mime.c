/* mail_build: the multipart/alternative structure and its headers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "check.h"
#include "mail.h"
#include "mail_fixture.h"

#define ID	"0b7c6f52-3c1e-4f7a-9d51-2f4c8a1e9b10"

static const struct mail base = {
	"Micro User <noreply@example.com>", "alice", "alice@example.com",
	"Reset your password", ID, 1796325600,	/* 2026-12-03 19:20 UTC */
	"Hello alice,\nopen https://u.example/password/reset?token=abc=\n",
	"<p>Hello <b>alice</b></p>"
};

/* Every line ends in CRLF and none is longer than 78 characters. */
static int
lines_ok(const struct buf *b)
{
	size_t	 i, col = 0;

	for (i = 0; i < b->len; i++) {
		if (b->data[i] == '\n') {
			if (i == 0 || b->data[i - 1] != '\r')
				return 0;
			col = 0;
		} else if (b->data[i] == '\r' && b->data[i + 1] != '\n')
			return 0;
		else if (b->data[i] != '\r' && ++col > 78)
			return 0;
	}
	return 1;
}

/* The body of the part whose headers contain ctype, decoded. */
static int
part_body(const char *msg, const char *ctype, struct buf *out)
{
	const char	*p, *body, *end;

	if ((p = strstr(msg, ctype)) == NULL ||
	    (body = strstr(p, "\r\n\r\n")) == NULL)
		return -1;
	body += 4;
	if ((end = strstr(body, "\r\n--=_mu_" ID)) == NULL)
		return -1;
	if (strstr(p, "quoted-printable") != NULL &&
	    strstr(p, "quoted-printable") < body)
		return fx_qp_decode(body, (size_t)(end - body), out);
	return fx_b64_decode(body, (size_t)(end - body), out);
}

int
main(void)
{
	struct buf	 b, dec;
	struct mail	 m = base;
	char		 err[128];
	const char	*p;
	int		 n;

	buf_init(&b);
	buf_init(&dec);
	CHECK(mail_build(&m, &b, err, sizeof err) == 0);

	/* Headers. */
	CHECK((p = fx_header(b.data, "Date")) != NULL &&
	    strncmp(p, "Thu, 03 Dec 2026 19:20:00 +0000\r\n", 33) == 0);
	CHECK((p = fx_header(b.data, "From")) != NULL &&
	    strncmp(p, "Micro User <noreply@example.com>\r\n", 34) == 0);
	CHECK((p = fx_header(b.data, "To")) != NULL &&
	    strncmp(p, "alice <alice@example.com>\r\n", 27) == 0);
	CHECK((p = fx_header(b.data, "Subject")) != NULL &&
	    strncmp(p, "Reset your password\r\n", 21) == 0);
	CHECK((p = fx_header(b.data, "Message-ID")) != NULL &&
	    strncmp(p, "<" ID "@example.com>\r\n", 52) == 0);
	CHECK((p = fx_header(b.data, "MIME-Version")) != NULL &&
	    strncmp(p, "1.0\r\n", 5) == 0);
	CHECK((p = fx_header(b.data, "Content-Type")) != NULL &&
	    strncmp(p, "multipart/alternative;\r\n boundary=\"=_mu_" ID
	    "\"\r\n", 40 + 36 + 3) == 0);

	/* Structure: two parts, text first, then HTML, then the close. */
	n = 0;
	for (p = b.data; (p = strstr(p, "\r\n--=_mu_" ID "\r\n")) != NULL;
	    p++)
		n++;
	CHECK(n == 2);
	CHECK(strstr(b.data, "\r\n--=_mu_" ID "--\r\n") != NULL);
	CHECK(strstr(b.data, "text/plain; charset=UTF-8") <
	    strstr(b.data, "text/html; charset=UTF-8"));
	CHECK(lines_ok(&b));

	/* The bodies come back as they went in. */
	CHECK(part_body(b.data, "text/plain", &dec) == 0);
	CHECK_STR(dec.data, base.text);
	buf_reset(&dec);
	CHECK(part_body(b.data, "text/html", &dec) == 0);
	CHECK_STR(dec.data, base.html);

	/* A quoted display name; a from address without a name. */
	buf_reset(&b);
	m.to_name = "Smith, \"Al\"";
	m.from = "noreply@example.com";
	CHECK(mail_build(&m, &b, err, sizeof err) == 0);
	CHECK((p = fx_header(b.data, "To")) != NULL &&
	    strncmp(p, "\"Smith, \\\"Al\\\"\" <alice@example.com>\r\n", 37)
	    == 0);
	CHECK((p = fx_header(b.data, "From")) != NULL &&
	    strncmp(p, "noreply@example.com\r\n", 21) == 0);

	/* No name: the bare address. */
	buf_reset(&b);
	m.to_name = NULL;
	CHECK(mail_build(&m, &b, err, sizeof err) == 0);
	CHECK((p = fx_header(b.data, "To")) != NULL &&
	    strncmp(p, "alice@example.com\r\n", 19) == 0);

	/* A bad id never reaches Message-ID or the boundary. */
	buf_reset(&b);
	m = base;
	m.id = "x>\r\nBcc: a@b.c";
	CHECK(mail_build(&m, &b, err, sizeof err) == -1);
	m.id = "";
	CHECK(mail_build(&m, &b, err, sizeof err) == -1);

	buf_free(&b);
	buf_free(&dec);
	return check_done("test-mail-mime");
}
