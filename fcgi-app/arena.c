/*
 * Bump allocator for request-lifetime memory (see arena.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

/*
 * Under AddressSanitizer, a chunk's free space is poisoned and each
 * allocation unpoisoned to its exact size, so an overflow into the next
 * allocation is reported as it would be with malloc.
 */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n)	ASAN_POISON_MEMORY_REGION((p), (n))
#define ARENA_UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ARENA_POISON(p, n)	((void)(p), (void)(n))
#define ARENA_UNPOISON(p, n)	((void)(p), (void)(n))
#endif

#define ARENA_CHUNK	(16 * 1024)
#define ARENA_ALIGN	(sizeof(max_align_t))

struct arena_chunk {
	struct arena_chunk	*next;
	size_t			 size;
	size_t			 used;
	max_align_t		 data[];
};

struct arena {
	struct arena_chunk	*first;	/* kept across arena_reset() */
	struct arena_chunk	*cur;	/* the chunk being filled */
};

void
arena_oom(size_t n)
{
	fprintf(stderr, "{\"level\":\"error\",\"event\":\"out_of_memory\","
	    "\"bytes\":%zu}\n", n);
	abort();
}

static struct arena_chunk *
arena_chunk_new(size_t want)
{
	struct arena_chunk	*c;
	size_t			 size = want > ARENA_CHUNK ? want : ARENA_CHUNK;

	if ((c = malloc(sizeof(*c) + size)) == NULL)
		arena_oom(size);
	c->next = NULL;
	c->size = size;
	c->used = 0;
	ARENA_POISON(c->data, size);
	return c;
}

struct arena *
arena_new(void)
{
	struct arena	*a;

	if ((a = malloc(sizeof(*a))) == NULL)
		arena_oom(sizeof(*a));
	a->first = a->cur = arena_chunk_new(ARENA_CHUNK);
	return a;
}

/*
 * Frees every chunk but the first, which is kept for the next request so a
 * typical request allocates nothing from malloc.
 */
void
arena_reset(struct arena *a)
{
	struct arena_chunk	*c, *next;

	for (c = a->first->next; c != NULL; c = next) {
		next = c->next;
		ARENA_UNPOISON(c->data, c->size);
		free(c);
	}
	a->first->next = NULL;
	a->first->used = 0;
	a->cur = a->first;
	ARENA_POISON(a->first->data, a->first->size);
}

void
arena_free(struct arena *a)
{
	struct arena_chunk	*c, *next;

	if (a == NULL)
		return;
	for (c = a->first; c != NULL; c = next) {
		next = c->next;
		ARENA_UNPOISON(c->data, c->size);
		free(c);
	}
	free(a);
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk	*c = a->cur;
	size_t			 need = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	void			*p;

	if (need < n)
		arena_oom(n);
	if (c->size - c->used < need) {
		c = arena_chunk_new(need);
		a->cur->next = c;
		a->cur = c;
	}
	p = (char *)c->data + c->used;
	c->used += need;
	ARENA_UNPOISON(p, n);
	return p;
}

void *
arena_calloc(struct arena *a, size_t nmemb, size_t size)
{
	void	*p;

	if (size != 0 && nmemb > SIZE_MAX / size)
		arena_oom(SIZE_MAX);
	p = arena_alloc(a, nmemb * size);
	memset(p, 0, nmemb * size);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char	*p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;
	char	*p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		arena_oom(0);
	p = arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}
