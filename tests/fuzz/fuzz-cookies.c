/*
 * http_parse_cookies on any Cookie header against a reference parser:
 * the same name/value pairs in order, names trimmed and non-empty,
 * values trimmed and unquoted, len == strlen(val), and no more pairs
 * than ';' + 1.
 */
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "fuzz.h"
#include "http.h"

static struct arena	*arena;

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	arena = arena_new();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A header is a C string: everything up to the first NUL. */
	char		*hdr = fuzz_strndup(data, size);
	const char	*seg, *semi, *eq, *ks, *ke, *vs, *ve;
	const char	*end = hdr + strlen(hdr);
	struct http_kv	*kv;
	size_t		 n, semis = 0, k = 0, i;

	n = http_parse_cookies(arena, hdr, &kv);
	for (seg = hdr; *seg != '\0'; seg++)
		if (*seg == ';')
			semis++;
	FUZZ_ASSERT(n <= semis + 1);
	FUZZ_ASSERT(n == 0 || kv != NULL);

	for (seg = hdr; seg < end; seg = semi + 1) {
		if ((semi = memchr(seg, ';', (size_t)(end - seg))) == NULL)
			semi = end;
		for (ks = seg; ks < semi && is_blank(*ks); ks++)
			;
		if ((eq = memchr(ks, '=', (size_t)(semi - ks))) == NULL)
			continue;
		for (ke = eq; ke > ks && is_blank(ke[-1]); ke--)
			;
		if (ke == ks)
			continue;
		for (vs = eq + 1; vs < semi && is_blank(*vs); vs++)
			;
		for (ve = semi; ve > vs && is_blank(ve[-1]); ve--)
			;
		if (ve - vs >= 2 && vs[0] == '"' && ve[-1] == '"') {
			vs++;
			ve--;
		}
		FUZZ_ASSERT(k < n);
		FUZZ_ASSERT(kv[k].key != NULL && kv[k].val != NULL);
		FUZZ_ASSERT(strlen(kv[k].key) == (size_t)(ke - ks));
		FUZZ_ASSERT(memcmp(kv[k].key, ks, (size_t)(ke - ks)) == 0);
		FUZZ_ASSERT(kv[k].len == (size_t)(ve - vs));
		FUZZ_ASSERT(strlen(kv[k].val) == kv[k].len);
		FUZZ_ASSERT(memcmp(kv[k].val, vs, kv[k].len) == 0);
		k++;
		if (semi == end)
			break;
	}
	FUZZ_ASSERT(k == n);

	/* No pair can carry a separator or start or end in blanks. */
	for (i = 0; i < n; i++) {
		size_t kl = strlen(kv[i].key);

		FUZZ_ASSERT(kl > 0 && strpbrk(kv[i].key, ";=") == NULL);
		FUZZ_ASSERT(!is_blank(kv[i].key[0]) &&
		    !is_blank(kv[i].key[kl - 1]));
		FUZZ_ASSERT(strchr(kv[i].val, ';') == NULL);
	}

	free(hdr);
	arena_reset(arena);
	return 0;
}
