/*
 * The route table: method + path pattern -> handler.  A pattern segment
 * "{id}" matches a positive decimal number, stored in req->id.
 */
#ifndef ROUTE_H
#define ROUTE_H

#include "http.h"

typedef int (*route_handler)(struct req *);

struct route {
	enum http_method	 method;
	const char		*pattern;
	route_handler		 handler;
};

/*
 * Finds the handler for r's method and path.  Returns it, or NULL having
 * answered 404 or 405 (with Allow) itself.
 */
route_handler	route_find(const struct route *, size_t, struct req *);

/* Matches one pattern; stores {id} in *id. */
int		route_match(const char *pattern, const char *path,
		    long long *id);

#endif
