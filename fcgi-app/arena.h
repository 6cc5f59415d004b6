/*
 * Request-lifetime memory: a bump allocator whose chunks are all released
 * by one arena_reset() at the end of each request, so a long-lived worker
 * cannot leak per-request allocations.
 *
 * Allocation failure aborts the process (as Redis' zmalloc does): a worker
 * that cannot allocate a few kilobytes cannot answer anyway, and
 * multiwatch starts a fresh one.
 */
#ifndef ARENA_H
#define ARENA_H

#include <stddef.h>

struct arena;

struct arena	*arena_new(void);
void		 arena_free(struct arena *);
void		 arena_reset(struct arena *);
void		*arena_alloc(struct arena *, size_t);
void		*arena_calloc(struct arena *, size_t, size_t);
char		*arena_strdup(struct arena *, const char *);
char		*arena_strndup(struct arena *, const char *, size_t);
char		*arena_printf(struct arena *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Aborts with a message on stderr; used for every failed allocation. */
void		 arena_oom(size_t) __attribute__((noreturn));

#endif
