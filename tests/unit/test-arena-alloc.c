/* arena: many chunks, alignment, big blocks, reset and reuse, printf. */
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "check.h"

int
main(void)
{
	struct arena	*a = arena_new();
	unsigned char	*p[2000], *big, *q;
	size_t		 i, j;
	int		 intact = 1, aligned = 1;
	char		*s;

	/* 2000 blocks of 1..97 bytes span many 16 KiB chunks, all aligned,
	 * and none overlaps another. */
	for (i = 0; i < 2000; i++) {
		p[i] = arena_alloc(a, i % 97 + 1);
		if ((uintptr_t)p[i] % _Alignof(max_align_t) != 0)
			aligned = 0;
		memset(p[i], (int)(i & 0xff), i % 97 + 1);
	}
	for (i = 0; i < 2000; i++)
		for (j = 0; j < i % 97 + 1; j++)
			if (p[i][j] != (unsigned char)(i & 0xff))
				intact = 0;
	CHECK(aligned);
	CHECK(intact);

	/* Odd sizes do not misalign what follows. */
	q = arena_alloc(a, 3);
	CHECK((uintptr_t)arena_alloc(a, 8) % _Alignof(max_align_t) == 0);
	CHECK((uintptr_t)q % _Alignof(max_align_t) == 0);

	/* A block larger than a chunk is usable to its last byte. */
	big = arena_alloc(a, 100000);
	memset(big, 0xab, 100000);
	CHECK(big[0] == 0xab && big[99999] == 0xab);
	q = arena_alloc(a, 16);
	memset(q, 0xcd, 16);
	CHECK(big[99999] == 0xab);
	CHECK(q < big || q >= big + 100000);
	CHECK(p[1999][0] == (unsigned char)(1999 & 0xff));

	/* calloc zeroes, strdup/strndup copy and terminate. */
	q = arena_alloc(a, 64);
	memset(q, 0xff, 64);
	{
		int	*z = arena_calloc(a, 100, sizeof(int)), zero = 1;

		for (i = 0; i < 100; i++)
			if (z[i] != 0)
				zero = 0;
		CHECK(zero);
	}
	CHECK_STR(arena_strdup(a, "hello"), "hello");
	CHECK_STR(arena_strndup(a, "hello world", 5), "hello");
	CHECK_STR(arena_strndup(a, "ab\0cd", 5), "ab");
	CHECK(memcmp(arena_strndup(a, "ab\0cd", 5), "ab\0cd\0", 6) == 0);

	/* arena_printf formats any length. */
	CHECK_STR(arena_printf(a, "%s-%d-%05.1f", "x", -3, 2.25), "x--3-002.2");
	CHECK_STR(arena_printf(a, "%s", ""), "");
	s = arena_printf(a, "%20000d|", 7);
	CHECK(strlen(s) == 20001 && s[19999] == '7' && s[20000] == '|');

	/* After a reset the arena is reused, from its first chunk. */
	arena_reset(a);
	q = arena_alloc(a, 32);
	CHECK((uintptr_t)q % _Alignof(max_align_t) == 0);
	arena_reset(a);
	CHECK(arena_alloc(a, 32) == q);
	for (i = 0; i < 2000; i++) {
		p[i] = arena_alloc(a, 50);
		memset(p[i], 0x5a, 50);
	}
	CHECK(p[1999][49] == 0x5a);
	big = arena_alloc(a, 1 << 20);
	memset(big, 1, 1 << 20);
	arena_reset(a);
	CHECK(arena_alloc(a, 32) == q);
	CHECK_STR(arena_strdup(a, "again"), "again");

	arena_free(a);
	arena_free(NULL);
	return check_done("test-arena-alloc");
}
