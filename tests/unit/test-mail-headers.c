/* Header safety: encoded words, CR/LF injection, address syntax. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "check.h"
#include "mail.h"
#include "mail_fixture.h"

static const struct mail base = {
	"Micro User <noreply@example.com>", "alice", "alice@example.com",
	"Reset your password", "0b7c6f52-3c1e-4f7a-9d51-2f4c8a1e9b10",
	1796325600, "text\n", "<p>html</p>"
};

/* Whether any line of the header block starts with name + ":". */
static int
has_header_line(const char *msg, const char *name)
{
	return fx_header(msg, name) != NULL;
}

/* Counts header lines (not continuations) in the header block. */
static int
header_count(const char *msg)
{
	const char	*p = msg, *eoh = strstr(msg, "\r\n\r\n");
	int		 n = 0;

	while (p < eoh) {
		if (*p != ' ' && *p != '\t')
			n++;
		p = strstr(p, "\r\n") + 2;
	}
	return n;
}

int
main(void)
{
	struct buf	 b, dec;
	struct mail	 m = base;
	char		 err[128], addr[128];
	const char	*p;
	const char	*zh = "重置您的密码 — 请在一小时内完成操作，否则链接将失效";

	buf_init(&b);
	buf_init(&dec);

	/* A Chinese subject: encoded words, folded, decoding back. */
	m.subject = zh;
	CHECK(mail_build(&m, &b, err, sizeof err) == 0);
	CHECK((p = fx_header(b.data, "Subject")) != NULL &&
	    strncmp(p, "=?UTF-8?B?", 10) == 0);
	CHECK(p != NULL && fx_header_decode(p, &dec) == 0);
	CHECK_STR(dec.data, zh);
	CHECK(strstr(b.data, "\r\n =?UTF-8?B?") != NULL);	/* folded */

	/* A Chinese display name, encoded too. */
	buf_reset(&b);
	buf_reset(&dec);
	m = base;
	m.to_name = "小明";
	CHECK(mail_build(&m, &b, err, sizeof err) == 0);
	CHECK((p = fx_header(b.data, "To")) != NULL &&
	    fx_header_decode(p, &dec) == 0);
	CHECK_STR(dec.data, "小明 <alice@example.com>");

	/* Text that merely looks encoded is encoded, not passed through. */
	buf_reset(&b);
	mail_header_text(&b, "=?UTF-8?B?QmNjOg==?=");
	CHECK(strcmp(b.data, "=?UTF-8?B?QmNjOg==?=") != 0);

	/* Injection through the name and the subject: no new header. */
	buf_reset(&b);
	m = base;
	m.to_name = "alice\r\nBcc: evil@example.com";
	m.subject = "hi\r\nBcc: evil@example.com\nX-Evil: 1\r\n\r\nbody";
	CHECK(mail_build(&m, &b, err, sizeof err) == 0);
	CHECK(!has_header_line(b.data, "Bcc"));
	CHECK(!has_header_line(b.data, "X-Evil"));
	CHECK(header_count(b.data) == 8);
	CHECK(strstr(b.data, "\r\n\r\nbody") == NULL);

	/* Injection through the address: refused. */
	buf_reset(&b);
	m = base;
	m.to_addr = "alice@example.com\r\nBcc: evil@example.com";
	CHECK(mail_build(&m, &b, err, sizeof err) == -1);
	m.to_addr = "alice@example.com>\r\nBcc:<evil@example.com";
	CHECK(mail_build(&m, &b, err, sizeof err) == -1);
	m = base;
	m.from = "Evil\r\nBcc: x@example.com <noreply@example.com>";
	CHECK(mail_build(&m, &b, err, sizeof err) == -1);

	/* Address syntax. */
	CHECK(mail_addr_valid("a@example.com"));
	CHECK(mail_addr_valid("first.last+tag@sub.example.co"));
	CHECK(mail_addr_valid("o'brien@example.com"));
	CHECK(!mail_addr_valid(""));
	CHECK(!mail_addr_valid("plain"));
	CHECK(!mail_addr_valid("@example.com"));
	CHECK(!mail_addr_valid("a@"));
	CHECK(!mail_addr_valid("a b@example.com"));
	CHECK(!mail_addr_valid("a..b@example.com"));
	CHECK(!mail_addr_valid(".a@example.com"));
	CHECK(!mail_addr_valid("a@-example.com"));
	CHECK(!mail_addr_valid("a@example..com"));
	CHECK(!mail_addr_valid("a@exa_mple.com"));
	CHECK(!mail_addr_valid("a@example.com\r\n"));
	CHECK(!mail_addr_valid("a<b>@example.com"));
	CHECK(!mail_addr_valid("\"a\"@example.com"));
	CHECK(!mail_addr_valid("用户@example.com"));

	CHECK(mail_addr_of("Micro User <noreply@example.com>", addr,
	    sizeof addr) == 0);
	CHECK_STR(addr, "noreply@example.com");
	CHECK(mail_addr_of(" noreply@example.com ", addr, sizeof addr) == 0);
	CHECK_STR(addr, "noreply@example.com");
	CHECK(mail_addr_of("X <a@example.com> trailing", addr,
	    sizeof addr) == -1);
	CHECK(mail_addr_of("X <a@example.com", addr, sizeof addr) == -1);

	buf_free(&b);
	buf_free(&dec);
	return check_done("test-mail-headers");
}
