/* route_match and route_find: {id} numbers, literals, 404 and 405 + Allow. */
#include <stdio.h>

#include "arena.h"
#include "check.h"
#include "http.h"
#include "route.h"

static int
h_create(struct req *r)
{
	(void)r;
	return 1;
}

static int
h_list(struct req *r)
{
	(void)r;
	return 2;
}

static int
h_login(struct req *r)
{
	(void)r;
	return 3;
}

static int
h_validate(struct req *r)
{
	(void)r;
	return 4;
}

static int
h_get(struct req *r)
{
	(void)r;
	return 5;
}

static int
h_update(struct req *r)
{
	(void)r;
	return 6;
}

static int
h_delete(struct req *r)
{
	(void)r;
	return 7;
}

static int
h_reset(struct req *r)
{
	(void)r;
	return 8;
}

static const struct route routes[] = {
	{ HTTP_POST, "/user", h_create },
	{ HTTP_GET, "/user", h_list },
	{ HTTP_POST, "/user/token", h_login },
	{ HTTP_GET, "/user/token", h_validate },
	{ HTTP_GET, "/user/{id}", h_get },
	{ HTTP_PUT, "/user/{id}", h_update },
	{ HTTP_PATCH, "/user/{id}", h_update },
	{ HTTP_DELETE, "/user/{id}", h_delete },
	{ HTTP_PUT, "/password/reset", h_reset },
};
#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

static struct arena	*a;
static struct req	 r;

/* route_find on a fresh request. */
static route_handler
find(enum http_method m, const char *path)
{
	http_req_free(&r);
	arena_reset(a);
	http_req_init(&r, a);
	r.method = m;
	r.path = path;
	return route_find(routes, NROUTES, &r);
}

/* The value of response header k, or NULL. */
static const char *
header(const char *k)
{
	size_t	i;

	for (i = 0; i < r.nheaders; i++)
		if (strcmp(r.headers[i].key, k) == 0)
			return r.headers[i].val;
	return NULL;
}

/* Does route_match refuse path for "/user/{id}"? */
static int
no_id(const char *path)
{
	long long id = -7;

	return route_match("/user/{id}", path, &id) == 0;
}

int
main(void)
{
	long long	id;
	route_handler	h;

	a = arena_new();
	http_req_init(&r, a);

	/* {id} is a positive decimal number without leading zeros. */
	id = 0;
	CHECK(route_match("/user/{id}", "/user/42", &id) == 1 && id == 42);
	CHECK(route_match("/user/{id}", "/user/7", &id) == 1 && id == 7);
	CHECK(route_match("/user/{id}", "/user/999999999999999999", &id)
	    == 1 && id == 999999999999999999LL);
	CHECK(route_match("/user/{id}/password", "/user/12/password", &id)
	    == 1 && id == 12);
	CHECK(no_id("/user/0"));
	CHECK(no_id("/user/00"));
	CHECK(no_id("/user/042"));
	CHECK(no_id("/user/-1"));
	CHECK(no_id("/user/+1"));
	CHECK(no_id("/user/abc"));
	CHECK(no_id("/user/4a"));
	CHECK(no_id("/user/42/x"));
	CHECK(no_id("/user/42/"));
	CHECK(no_id("/user/"));
	CHECK(no_id("/user"));
	CHECK(no_id("/user/1000000000000000000"));	/* 19 digits */
	CHECK(no_id("/user/9223372036854775807"));
	CHECK(no_id("/user/99999999999999999999999"));
	CHECK(no_id("/user/ 42"));
	CHECK(no_id("/user/{id}"));
	CHECK(no_id("/users/42"));
	CHECK(route_match("/user/{id}/password", "/user/12", &id) == 0);

	/* Literal patterns match exactly. */
	CHECK(route_match("/user/token", "/user/token", &id) == 1);
	CHECK(route_match("/user/token", "/user/token/", &id) == 0);
	CHECK(route_match("/user/token", "/user/tok", &id) == 0);
	CHECK(route_match("/user/token", "/user/tokens", &id) == 0);
	CHECK(route_match("/user", "/user/", &id) == 0);

	/* route_find picks the handler and stores the id. */
	h = find(HTTP_GET, "/user/42");
	CHECK(h == h_get && r.id == 42);
	CHECK(find(HTTP_PATCH, "/user/9") == h_update && r.id == 9);
	CHECK(find(HTTP_DELETE, "/user/3") == h_delete && r.id == 3);
	CHECK(find(HTTP_GET, "/user/token") == h_validate);
	CHECK(find(HTTP_POST, "/user/token") == h_login);
	CHECK(find(HTTP_POST, "/user") == h_create);
	CHECK(find(HTTP_GET, "/user") == h_list);
	CHECK(find(HTTP_HEAD, "/user/42") == h_get && r.id == 42);
	CHECK(r.status == 200 && r.out.len == 0);

	/* Unknown paths are a 404 problem. */
	CHECK(find(HTTP_GET, "/nothing") == NULL);
	CHECK(r.status == 404);
	CHECK_STR(r.content_type_out, "application/problem+json");
	CHECK(header("Allow") == NULL);
	CHECK(find(HTTP_GET, "/user/0") == NULL && r.status == 404);
	CHECK(find(HTTP_GET, "/user/abc") == NULL && r.status == 404);
	CHECK(find(HTTP_GET, "/") == NULL && r.status == 404);

	/* A known path with another method is a 405 listing the methods. */
	CHECK(find(HTTP_POST, "/user/42") == NULL);
	CHECK(r.status == 405);
	CHECK_STR(r.content_type_out, "application/problem+json");
	CHECK_STR(header("Allow"), "GET, HEAD, PUT, PATCH, DELETE");
	CHECK(find(HTTP_DELETE, "/user") == NULL && r.status == 405);
	CHECK_STR(header("Allow"), "GET, HEAD, POST");
	CHECK(find(HTTP_GET, "/password/reset") == NULL && r.status == 405);
	CHECK_STR(header("Allow"), "PUT");
	CHECK(find(HTTP_HEAD, "/password/reset") == NULL && r.status == 405);
	CHECK_STR(header("Allow"), "PUT");

	http_req_free(&r);
	arena_free(a);
	return check_done("test-route-match");
}
