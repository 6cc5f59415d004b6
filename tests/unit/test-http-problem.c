/* http_problem, http_invalid and http_error: the RFC 9457 JSON shape. */
#include <json-c/json.h>

#include "arena.h"
#include "check.h"
#include "http.h"

/* The response body as a JSON object (NULL when it is not one). */
static struct json_object *
body(const struct req *r)
{
	struct json_object *o = json_tokener_parse(r->out.data);

	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* The string member k of o, or NULL. */
static const char *
str(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The integer member k of o, or -1. */
static int
num(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	return json_object_get_int(v);
}

int
main(void)
{
	struct arena		*a = arena_new();
	struct req		 r;
	struct json_object	*o, *errors = NULL, *e;

	/* A problem with a detail and per-field errors. */
	http_req_init(&r, a);
	http_errors_add(&errors, "email", "must be a valid email address");
	http_errors_add(&errors, "name", "is required");
	CHECK(http_problem(&r, 409, "Conflict", "The name is taken.",
	    errors) == 0);
	CHECK(r.status == 409);
	CHECK_STR(r.content_type_out, "application/problem+json");
	CHECK(r.out.len > 0 && r.out.data[r.out.len - 1] == '\n');
	CHECK((o = body(&r)) != NULL);
	CHECK_STR(str(o, "type"), "about:blank");
	CHECK_STR(str(o, "title"), "Conflict");
	CHECK_STR(str(o, "detail"), "The name is taken.");
	CHECK(num(o, "status") == 409);
	CHECK(json_object_object_get_ex(o, "errors", &e) &&
	    json_object_is_type(e, json_type_object) &&
	    json_object_object_length(e) == 2);
	CHECK_STR(str(e, "email"), "must be a valid email address");
	CHECK_STR(str(e, "name"), "is required");
	CHECK(json_object_object_length(o) == 5);
	json_object_put(o);
	http_req_free(&r);

	/* Without detail or errors those members are absent. */
	http_req_init(&r, a);
	buf_puts(&r.out, "earlier output");
	http_problem(&r, 400, "Bad \"input\" </script>", NULL, NULL);
	CHECK(r.status == 400);
	CHECK(strstr(r.out.data, "earlier") == NULL);
	CHECK((o = body(&r)) != NULL);
	CHECK_STR(str(o, "title"), "Bad \"input\" </script>");
	CHECK(num(o, "status") == 400);
	CHECK(!json_object_object_get_ex(o, "detail", NULL));
	CHECK(!json_object_object_get_ex(o, "errors", NULL));
	json_object_put(o);
	http_req_free(&r);

	/* http_invalid is a 422 carrying the errors. */
	http_req_init(&r, a);
	errors = NULL;
	http_errors_add(&errors, "password", "must be 8 to 128 characters");
	http_invalid(&r, errors);
	CHECK(r.status == 422);
	CHECK_STR(r.content_type_out, "application/problem+json");
	CHECK((o = body(&r)) != NULL);
	CHECK(num(o, "status") == 422);
	CHECK(json_object_object_get_ex(o, "errors", &e));
	CHECK_STR(str(e, "password"), "must be 8 to 128 characters");
	json_object_put(o);
	http_req_free(&r);

	/* An API client's error is a problem titled by the status. */
	http_req_init(&r, a);
	http_error(&r, 404, "Nothing here.");
	CHECK(r.status == 404);
	CHECK_STR(r.content_type_out, "application/problem+json");
	CHECK((o = body(&r)) != NULL);
	CHECK_STR(str(o, "title"), "Not Found");
	CHECK_STR(str(o, "detail"), "Nothing here.");
	CHECK(num(o, "status") == 404);
	json_object_put(o);
	http_req_free(&r);

	arena_free(a);
	return check_done("test-http-problem");
}
