/*
 * Route matching (see route.h).
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "route.h"

/* Longest id we accept: 18 digits always fit a signed 64-bit integer. */
#define ROUTE_ID_MAX_DIGITS	18

int
route_match(const char *pattern, const char *path, long long *id)
{
	while (*pattern != '\0' && *path != '\0') {
		if (strncmp(pattern, "{id}", 4) == 0) {
			const char	*start = path;
			long long	 v = 0;

			if (*path == '0')
				return 0;
			while (*path >= '0' && *path <= '9' &&
			    path - start < ROUTE_ID_MAX_DIGITS) {
				v = v * 10 + (*path - '0');
				path++;
			}
			if (path == start || (*path != '\0' && *path != '/'))
				return 0;
			*id = v;
			pattern += 4;
			continue;
		}
		if (*pattern != *path)
			return 0;
		pattern++;
		path++;
	}
	return *pattern == '\0' && *path == '\0';
}

route_handler
route_find(const struct route *table, size_t n, struct req *r)
{
	size_t		 i;
	unsigned	 allowed = 0;
	long long	 id = 0;
	struct buf	 allow;

	for (i = 0; i < n; i++) {
		if (!route_match(table[i].pattern, r->path, &id))
			continue;
		if (table[i].method == r->method ||
		    (table[i].method == HTTP_GET && r->method == HTTP_HEAD)) {
			r->id = id;
			return table[i].handler;
		}
		allowed |= 1u << table[i].method;
	}
	if (allowed == 0) {
		http_error(r, 404, "There is nothing at this address.");
		return NULL;
	}
	buf_init(&allow);
	for (i = 0; i < HTTP__MAX; i++) {
		if (!(allowed & (1u << i)))
			continue;
		if (allow.len > 0)
			buf_puts(&allow, ", ");
		buf_puts(&allow, http_method_name((enum http_method)i));
		if (i == HTTP_GET)
			buf_puts(&allow, ", HEAD");
	}
	http_header(r, "Allow", arena_strdup(r->arena, allow.data));
	buf_free(&allow);
	http_error(r, 405, "This address does not accept that method.");
	return NULL;
}
