/* Quoted-printable and base64 bodies: round trips and line limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "mail.h"
#include "mail_fixture.h"

/* Longest line (without CRLF); -1 if a bare LF or CR appears. */
static int
longest_line(const struct buf *b)
{
	size_t	 i, col = 0, max = 0;

	for (i = 0; i < b->len; i++) {
		if (b->data[i] == '\r') {
			if (i + 1 >= b->len || b->data[i + 1] != '\n')
				return -1;
			if (col > max)
				max = col;
			col = 0;
			i++;
		} else if (b->data[i] == '\n')
			return -1;
		else
			col++;
	}
	return (int)(col > max ? col : max);
}

/* Encodes s as QP and checks the decoding equals s (LF line ends). */
static void
qp_round_trip(const char *s, const char *want)
{
	struct buf	 enc, dec;

	buf_init(&enc);
	buf_init(&dec);
	mail_qp_encode(&enc, s, strlen(s));
	CHECK(longest_line(&enc) >= 0 && longest_line(&enc) <= 76);
	CHECK(fx_qp_decode(enc.data, enc.len, &dec) == 0);
	CHECK_STR(dec.data, want);
	buf_free(&enc);
	buf_free(&dec);
}

static void
b64_round_trip(const char *s, size_t len)
{
	struct buf	 enc, dec;

	buf_init(&enc);
	buf_init(&dec);
	mail_base64_encode(&enc, s, len);
	CHECK(longest_line(&enc) >= 0 && longest_line(&enc) <= 76);
	CHECK(fx_b64_decode(enc.data, enc.len, &dec) == 0);
	CHECK(dec.len == len && (len == 0 || memcmp(dec.data, s, len) == 0));
	buf_free(&enc);
	buf_free(&dec);
}

int
main(void)
{
	struct buf	 b;
	char		 big[3000], bin[256];
	size_t		 i;

	/* QP: plain text stays readable; '=' and 8-bit are escaped. */
	buf_init(&b);
	mail_qp_encode(&b, "a=b\n", 4);
	CHECK_STR(b.data, "a=3Db\r\n");
	buf_reset(&b);
	mail_qp_encode(&b, "caf\xc3\xa9", 5);
	CHECK_STR(b.data, "caf=C3=A9=\r\n");	/* no newline added */
	buf_reset(&b);
	/* Trailing white space before a line end is protected. */
	mail_qp_encode(&b, "end \nx\t", 7);
	CHECK_STR(b.data, "end=20\r\nx=09=\r\n");
	buf_reset(&b);
	/* CRLF input gives the same as LF input. */
	mail_qp_encode(&b, "a\r\nb\r\n", 6);
	CHECK_STR(b.data, "a\r\nb\r\n");
	buf_free(&b);

	qp_round_trip("Hello,\n\nhttps://u.example/reset?token=a-b_c=\n",
	    "Hello,\n\nhttps://u.example/reset?token=a-b_c=\n");
	qp_round_trip("小明，您好：\n有人申请重置您账户的密码。\n",
	    "小明，您好：\n有人申请重置您账户的密码。\n");
	qp_round_trip("lone\rcr and ctl \x01\n", "lone\rcr and ctl \x01\n");
	for (i = 0; i < sizeof big - 1; i++)
		big[i] = i % 97 == 96 ? '\n' : (i % 7 == 0 ? '=' :
		    (char)('a' + i % 26));
	big[sizeof big - 1] = '\0';
	qp_round_trip(big, big);
	memset(big, 'x', sizeof big - 1);	/* one very long line */
	qp_round_trip(big, big);

	/* base64: every length mod 3, all byte values. */
	for (i = 0; i < sizeof bin; i++)
		bin[i] = (char)i;
	b64_round_trip("", 0);
	b64_round_trip("f", 1);
	b64_round_trip("fo", 2);
	b64_round_trip("foo", 3);
	b64_round_trip(bin, sizeof bin);
	b64_round_trip(big, sizeof big - 1);

	buf_init(&b);
	mail_base64_encode(&b, "foobar", 6);
	CHECK_STR(b.data, "Zm9vYmFy\r\n");
	buf_free(&b);

	return check_done("test-mail-encoding");
}
