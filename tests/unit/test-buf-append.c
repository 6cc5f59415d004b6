/* buf: growth from empty, binary appends, printf, reset. */
#include "buf.h"
#include "check.h"

int
main(void)
{
	struct buf	b;
	size_t		i;
	int		ok = 1;

	buf_init(&b);
	CHECK(b.data == NULL && b.len == 0);

	/* Appends grow the buffer and keep it NUL-terminated. */
	buf_puts(&b, "abc");
	CHECK(b.len == 3 && b.cap > 3);
	CHECK_STR(b.data, "abc");
	buf_putc(&b, '!');
	buf_append(&b, "x\0y", 3);
	CHECK(b.len == 7);
	CHECK(memcmp(b.data, "abc!x\0y\0", 8) == 0);
	buf_append(&b, "", 0);
	CHECK(b.len == 7);

	/* Many small appends across several growths keep every byte. */
	buf_reset(&b);
	CHECK(b.len == 0 && b.data[0] == '\0');
	for (i = 0; i < 100000; i++)
		buf_putc(&b, (char)('a' + i % 26));
	CHECK(b.len == 100000 && b.cap > 100000);
	for (i = 0; i < 100000; i++)
		if (b.data[i] != (char)('a' + i % 26))
			ok = 0;
	CHECK(ok);
	CHECK(b.data[100000] == '\0');

	/* printf appends, small and large. */
	buf_reset(&b);
	buf_printf(&b, "%s=%d", "n", 42);
	buf_printf(&b, ";%03u", 7u);
	CHECK_STR(b.data, "n=42;007");
	CHECK(b.len == 8);
	buf_printf(&b, "%s", "");
	CHECK(b.len == 8);
	buf_printf(&b, "%5000d", 1);
	CHECK(b.len == 5008 && strlen(b.data) == 5008);
	CHECK(b.data[5007] == '1' && b.data[8] == ' ');

	/* printf into a fresh buffer. */
	buf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
	buf_printf(&b, "%d%s", 1, "x");
	CHECK_STR(b.data, "1x");
	CHECK(b.len == 2);
	buf_free(&b);
	return check_done("test-buf-append");
}
