/* valid_name, valid_password, valid_real_name and valid_avatar. */
#include <stdio.h>

#include "check.h"
#include "valid.h"

/* s repeated n times, in a static buffer. */
static const char *
rep(const char *s, size_t n)
{
	static char	buf[2048];
	size_t		len = strlen(s), i;

	for (i = 0; i < n && (i + 1) * len < sizeof(buf); i++)
		memcpy(buf + i * len, s, len);
	buf[i * len] = '\0';
	return buf;
}

int
main(void)
{
	/* Names: 3 to 32 bytes of letters, digits, '_', '.' and '-'. */
	CHECK(valid_name("abc") == NULL);
	CHECK(valid_name("John_Doe.99-x") == NULL);
	CHECK(valid_name(rep("n", 32)) == NULL);
	CHECK_STR(valid_name("ab"), "must be 3 to 32 characters");
	CHECK_STR(valid_name(""), "must be 3 to 32 characters");
	CHECK_STR(valid_name(rep("n", 33)), "must be 3 to 32 characters");
	CHECK(valid_name("a b c") != NULL);
	CHECK(valid_name("abc@d") != NULL);
	CHECK(valid_name("abc/d") != NULL);
	CHECK(valid_name("abc\n") != NULL);
	CHECK(valid_name("<abc>") != NULL);
	CHECK(valid_name("abc'") != NULL);
	CHECK(valid_name("ab\xc3\xa9") != NULL);

	/* Passwords: 8 to 128 code points of valid UTF-8. */
	CHECK(valid_password("12345678") == NULL);
	CHECK(valid_password("correct horse battery staple") == NULL);
	CHECK(valid_password(rep("a", 128)) == NULL);
	CHECK_STR(valid_password("1234567"), "must be 8 to 128 characters");
	CHECK_STR(valid_password(""), "must be 8 to 128 characters");
	CHECK_STR(valid_password(rep("a", 129)),
	    "must be 8 to 128 characters");
	/* Counted in code points: 8 CJK characters (24 bytes) are enough, */
	CHECK(valid_password(rep("\xe5\xaf\x86", 8)) == NULL);
	/* 7 are not (21 bytes), and 128 of them (384 bytes) are allowed. */
	CHECK(valid_password(rep("\xe5\xaf\x86", 7)) != NULL);
	CHECK(valid_password(rep("\xe5\xaf\x86", 128)) == NULL);
	CHECK(valid_password(rep("\xe5\xaf\x86", 129)) != NULL);
	CHECK(valid_password(rep("\xf0\x9f\x94\x91", 8)) == NULL);
	CHECK_STR(valid_password("abcdefgh\xff"), "must be valid UTF-8 text");
	CHECK_STR(valid_password("abcdefgh\xc0\x80"),
	    "must be valid UTF-8 text");
	CHECK(valid_password("abcdefg\xe5\xaf") != NULL);

	/* Real names: up to 64 code points, no control characters. */
	CHECK(valid_real_name("") == NULL);
	CHECK(valid_real_name("Ren\xc3\xa9 O'Brien-Smith") == NULL);
	CHECK(valid_real_name(rep("\xc3\xa9", 64)) == NULL);
	CHECK_STR(valid_real_name(rep("\xc3\xa9", 65)),
	    "must be at most 64 characters");
	CHECK(valid_real_name(rep("x", 65)) != NULL);
	CHECK(valid_real_name("a\xc2\xa0" "b") == NULL);	/* NBSP */
	CHECK_STR(valid_real_name("a\tb"),
	    "must not contain control characters");
	CHECK(valid_real_name("a\nb") != NULL);
	CHECK(valid_real_name("a\rb") != NULL);
	CHECK(valid_real_name("\x1b[31mred") != NULL);
	CHECK(valid_real_name("a\x7f") != NULL);
	CHECK(valid_real_name("a\xc2\x85" "b") != NULL);	/* NEL, C1 */
	CHECK(valid_real_name("a\xc2\x9f") != NULL);
	CHECK_STR(valid_real_name("a\xff"), "must be valid UTF-8 text");
	CHECK(valid_real_name("\xed\xa0\x80") != NULL);

	/* Avatars: empty, or an http(s) URL without blanks or quotes. */
	CHECK(valid_avatar("") == NULL);
	CHECK(valid_avatar("https://cdn.example.com/a/b.png?s=64&x=1") == NULL);
	CHECK(valid_avatar("http://example.com/a.png") == NULL);
	CHECK(valid_avatar("ftp://example.com/a.png") != NULL);
	CHECK(valid_avatar("javascript:alert(1)") != NULL);
	CHECK(valid_avatar("data:image/png;base64,AAAA") != NULL);
	CHECK(valid_avatar("//example.com/a.png") != NULL);
	CHECK(valid_avatar("example.com/a.png") != NULL);
	CHECK(valid_avatar(" https://example.com/a.png") != NULL);
	CHECK(valid_avatar("https://example.com/a b.png") != NULL);
	CHECK(valid_avatar("https://example.com/a.png\r\nX: y") != NULL);
	CHECK(valid_avatar("https://example.com/a\t.png") != NULL);
	CHECK(valid_avatar("https://example.com/\"onerror=\"x") != NULL);
	CHECK(valid_avatar("https://example.com/<script>") != NULL);
	CHECK(valid_avatar("https://example.com/a\\b") != NULL);
	CHECK(valid_avatar("https://example.com/\x7f") != NULL);
	CHECK(valid_avatar("https://ex\xc3\xa4mple.com/") != NULL);
	{
		char	url[300] = "https://example.com/";
		size_t	n = strlen(url);

		memset(url + n, 'p', 255 - n);
		url[255] = '\0';
		CHECK(valid_avatar(url) == NULL);
		url[255] = 'p';
		url[256] = '\0';
		CHECK_STR(valid_avatar(url), "must be at most 255 characters");
	}

	return check_done("test-valid-fields");
}
