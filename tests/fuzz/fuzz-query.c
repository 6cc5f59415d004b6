/*
 * http_parse_urlencoded, as used for the query string and form bodies,
 * against a reference decoder: the same pairs, in order, with the same
 * bytes and lengths; keys never hold a NUL; no more pairs than '&' + 1.
 */
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "fuzz.h"
#include "http.h"

static struct arena	*arena;

static int
ref_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into out (n bytes at least); returns length. */
static size_t
ref_decode(const char *s, size_t n, char *out)
{
	size_t	 i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			out[o++] = ' ';
		else if (s[i] == '%' && n - i >= 3 && ref_hex(s[i + 1]) >= 0 &&
		    ref_hex(s[i + 2]) >= 0) {
			out[o++] = (char)(ref_hex(s[i + 1]) * 16 +
			    ref_hex(s[i + 2]));
			i += 2;
		} else
			out[o++] = s[i];
	}
	return o;
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
	const char	*s = (const char *)data, *seg, *end = s + size, *amp;
	const char	*eq;
	struct http_kv	*kv;
	char		*kbuf, *vbuf;
	size_t		 n, i, amps = 0, k = 0, klen, vlen;

	n = http_parse_urlencoded(arena, s, size, &kv);
	for (i = 0; i < size; i++)
		if (s[i] == '&')
			amps++;
	FUZZ_ASSERT(n <= amps + 1);
	FUZZ_ASSERT(n == 0 || kv != NULL);

	kbuf = malloc(size + 1);
	vbuf = malloc(size + 1);
	if (kbuf == NULL || vbuf == NULL)
		abort();
	for (seg = s; seg < end; seg = amp + 1) {
		if ((amp = memchr(seg, '&', (size_t)(end - seg))) == NULL)
			amp = end;
		if (amp == seg)
			continue;
		if ((eq = memchr(seg, '=', (size_t)(amp - seg))) == NULL)
			eq = amp;
		klen = ref_decode(seg, (size_t)(eq - seg), kbuf);
		if (memchr(kbuf, '\0', klen) != NULL)
			continue;	/* dropped: could shadow another key */
		vlen = eq < amp ? ref_decode(eq + 1, (size_t)(amp - eq - 1),
		    vbuf) : 0;
		FUZZ_ASSERT(k < n);
		FUZZ_ASSERT(kv[k].key != NULL && kv[k].val != NULL);
		FUZZ_ASSERT(strlen(kv[k].key) == klen);
		FUZZ_ASSERT(memcmp(kv[k].key, kbuf, klen) == 0);
		FUZZ_ASSERT(kv[k].len == vlen);
		FUZZ_ASSERT(memcmp(kv[k].val, vbuf, vlen) == 0);
		FUZZ_ASSERT(kv[k].val[vlen] == '\0');
		k++;
	}
	FUZZ_ASSERT(k == n);

	/* Lookup finds the first pair of each key. */
	for (i = 0; i < n; i++) {
		const char *v = http_kv_get(kv, n, kv[i].key);
		size_t j;

		for (j = 0; strcmp(kv[j].key, kv[i].key) != 0; j++)
			;
		FUZZ_ASSERT(v == kv[j].val);
	}

	free(kbuf);
	free(vbuf);
	arena_reset(arena);
	return 0;
}
