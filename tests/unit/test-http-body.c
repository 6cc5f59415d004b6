/* http_parse_body and http_field: JSON objects, forms, and 400/413/415. */
#include <json-c/json.h>

#include "arena.h"
#include "check.h"
#include "http.h"

static struct arena	*a;
static struct req	 r;

/* A fresh request with the given method, Content-Type and body. */
static int
parse_n(enum http_method m, const char *ct, const char *body, size_t len)
{
	http_req_free(&r);
	arena_reset(a);
	http_req_init(&r, a);
	r.method = m;
	r.content_type = ct;
	r.body = body;
	r.body_len = len;
	return http_parse_body(&r);
}

static int
parse(enum http_method m, const char *ct, const char *body)
{
	return parse_n(m, ct, body, body != NULL ? strlen(body) : 0);
}

/* Did the last parse answer status as a problem document? */
static int
is_problem(int status)
{
	return r.status == status && r.content_type_out != NULL &&
	    strncmp(r.content_type_out, "application/problem+json", 24) == 0 &&
	    r.out.data != NULL && r.json == NULL;
}

static const char *const bad_json[] = {
	"[1, 2]",				/* array */
	"[{\"a\": \"b\"}]",			/* array of objects */
	"\"str\"",				/* scalar string */
	"42",					/* scalar number */
	"true",					/* scalar boolean */
	"null",					/* null */
	"{\"a\": \"b\"} x",			/* trailing garbage */
	"{\"a\": \"b\"}{}",			/* two objects */
	"{\"a\": \"b\"",			/* unterminated */
	"{\"a\": \"b\",}",			/* trailing comma */
	"{a: \"b\"}",				/* bare key */
	"   ",					/* blanks only */
	"{\"a\": \"\xff\"}",			/* invalid byte */
	"{\"a\": \"\xc3\"}",			/* truncated sequence */
	"{\"a\": \"\xc0\x80\"}",		/* overlong NUL */
	"{\"a\": \"\xe0\x80\xaf\"}",		/* overlong '/' */
	"{\"a\": \"\xed\xa0\x80\"}",		/* UTF-16 surrogate */
	"{\"a\": \"\xf4\x90\x80\x80\"}",	/* above U+10FFFF */
	"{'a': \"b\"}",				/* single-quoted key */
	"{\"a\": 'b'}",				/* single-quoted value */
	"{\"a\": \"x\ty\"}",			/* raw tab in a string */
	"{\"a\": \"x\ny\"}",			/* raw newline in a string */
	"{\"a\": NaN}",				/* not a JSON number */
	"{\"a\": Infinity}",			/* not a JSON number */
	"{\"a\": -Infinity}",			/* not a JSON number */
	"{\"a\": [[[[[[[[[1]]]]]]]]]}",		/* 10 levels */
	"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
};

int
main(void)
{
	struct json_object	*errors = NULL, *v;
	const char		*s;
	size_t			 i;

	a = arena_new();
	http_req_init(&r, a);

	/* Quotes and escapes inside strings are JSON, not tricks. */
	CHECK(parse(HTTP_POST, "application/json",
	    "{\"n\": \"it's \\\"fine\\\" \\t\\\\\", \"x\": 1.5e3}") == 0);
	CHECK(http_field(&r, "n", &s) == HTTP_FIELD_OK &&
	    strcmp(s, "it's \"fine\" \t\\") == 0);

	/* A JSON object: string fields read, others are of the wrong type. */
	CHECK(parse(HTTP_POST, "application/json",
	    "{\"email\": \"a@b.example\", \"n\": 1, \"o\": {\"x\": \"y\"}, "
	    "\"t\": true, \"z\": null, \"nul\": \"ab\\u0000cd\", "
	    "\"e\": \"\"}") == 0);
	CHECK(r.status == 200);
	CHECK(r.json != NULL && json_object_is_type(r.json, json_type_object));
	CHECK(r.out.len == 0);
	CHECK(http_field(&r, "email", &s) == HTTP_FIELD_OK);
	CHECK_STR(s, "a@b.example");
	CHECK(http_field(&r, "e", &s) == HTTP_FIELD_OK);
	CHECK_STR(s, "");
	CHECK(http_field(&r, "n", &s) == HTTP_FIELD_BAD_TYPE && s == NULL);
	CHECK(http_field(&r, "o", &s) == HTTP_FIELD_BAD_TYPE && s == NULL);
	CHECK(http_field(&r, "t", &s) == HTTP_FIELD_BAD_TYPE);
	CHECK(http_field(&r, "nul", &s) == HTTP_FIELD_BAD_TYPE && s == NULL);
	CHECK(http_field(&r, "z", &s) == HTTP_FIELD_MISSING);
	CHECK(http_field(&r, "absent", &s) == HTTP_FIELD_MISSING);
	CHECK(r.html == 0);

	/* http_field_get notes the first problem of each field. */
	CHECK_STR(http_field_get(&r, "email", 1, &errors), "a@b.example");
	CHECK(errors == NULL);
	CHECK(http_field_get(&r, "absent", 0, &errors) == NULL);
	CHECK(errors == NULL);
	CHECK(http_field_get(&r, "absent", 1, &errors) == NULL);
	CHECK(http_field_get(&r, "n", 1, &errors) == NULL);
	CHECK(http_field_get(&r, "nul", 0, &errors) == NULL);
	CHECK(errors != NULL && json_object_object_length(errors) == 3);
	CHECK(json_object_object_get_ex(errors, "absent", &v) &&
	    strcmp(json_object_get_string(v), "is required") == 0);
	CHECK(json_object_object_get_ex(errors, "n", &v) &&
	    strcmp(json_object_get_string(v), "must be a string") == 0);
	CHECK(json_object_object_get_ex(errors, "nul", &v) &&
	    strcmp(json_object_get_string(v), "must be a string") == 0);
	http_errors_add(&errors, "n", "something else");
	CHECK(json_object_object_get_ex(errors, "n", &v) &&
	    strcmp(json_object_get_string(v), "must be a string") == 0);
	json_object_put(errors);

	/* Parameters, case, merge-patch and trailing blanks are fine. */
	CHECK(parse(HTTP_PUT, "application/json; charset=utf-8",
	    "{\"a\": \"1\"}") == 0 && r.json != NULL);
	CHECK(parse(HTTP_PUT, "Application/JSON", "{\"a\": \"1\"}") == 0 &&
	    r.json != NULL);
	CHECK(parse(HTTP_PATCH, "application/merge-patch+json",
	    "{\"a\": \"1\"}\r\n\t ") == 0 && r.json != NULL);
	CHECK(parse(HTTP_POST, "application/json",
	    "{\"name\": \"\xe6\x97\xa5\xe6\x9c\xac\", \"d\": {\"x\": [1]}}")
	    == 0 && r.json != NULL);
	CHECK(http_field(&r, "name", &s) == HTTP_FIELD_OK);
	CHECK_STR(s, "\xe6\x97\xa5\xe6\x9c\xac");

	/* Anything but one well-formed, UTF-8, shallow object is a 400. */
	for (i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
		int rc = parse(HTTP_POST, "application/json", bad_json[i]);

		if (rc != -1 || !is_problem(400))
			fprintf(stderr, "bad_json[%zu] not refused\n", i);
		CHECK(rc == -1 && is_problem(400));
	}
	CHECK(parse(HTTP_POST, "application/json", "") == -1 &&
	    is_problem(400));
	CHECK(parse_n(HTTP_POST, "application/json", "{\"a\": \"b\"}\0", 11)
	    == -1 && is_problem(400));
	CHECK(parse_n(HTTP_POST, "application/json", "{\"a\": \"\0\"}", 10)
	    == -1 && is_problem(400));

	/* Other media types are a 415. */
	CHECK(parse(HTTP_POST, "text/plain", "{}") == -1 && is_problem(415));
	CHECK(parse(HTTP_POST, "application/jsonx", "{}") == -1 &&
	    is_problem(415));
	CHECK(parse(HTTP_POST, "multipart/form-data; boundary=x", "--x--")
	    == -1 && is_problem(415));
	CHECK(parse(HTTP_POST, NULL, "{}") == -1 && is_problem(415));

	/* A body over the limit is a 413 whatever it holds. */
	parse(HTTP_POST, "application/json", "{}");
	http_req_free(&r);
	http_req_init(&r, a);
	r.method = HTTP_POST;
	r.content_type = "application/json";
	r.body_too_large = 1;
	CHECK(http_parse_body(&r) == -1 && is_problem(413));

	/* A POST with no body at all: every field is missing. */
	CHECK(parse(HTTP_POST, NULL, NULL) == 0 && r.json != NULL);
	CHECK(http_field(&r, "email", &s) == HTTP_FIELD_MISSING);

	/* A form: fields from it, and the answer is a page. */
	CHECK(parse(HTTP_POST, "application/x-www-form-urlencoded; "
	    "charset=UTF-8", "email=a%40b.example&pw=x+y&nul=a%00b") == 0);
	CHECK(r.html == 1);
	CHECK(r.json == NULL && r.nform == 3);
	CHECK(http_field(&r, "email", &s) == HTTP_FIELD_OK);
	CHECK_STR(s, "a@b.example");
	CHECK(http_field(&r, "pw", &s) == HTTP_FIELD_OK);
	CHECK_STR(s, "x y");
	CHECK(http_field(&r, "nul", &s) == HTTP_FIELD_BAD_TYPE && s == NULL);
	CHECK(http_field(&r, "absent", &s) == HTTP_FIELD_MISSING);

	/* A GET has no body; Accept decides whether it wants pages. */
	parse(HTTP_GET, NULL, NULL);
	CHECK(r.html == 0);
	http_req_free(&r);
	http_req_init(&r, a);
	r.method = HTTP_GET;
	r.accept = "text/html,application/xhtml+xml;q=0.9";
	http_negotiate(&r);
	CHECK(http_parse_body(&r) == 0 && r.html == 1);
	/* JSON in is JSON out, even from a client that accepts pages. */
	http_req_free(&r);
	http_req_init(&r, a);
	r.method = HTTP_POST;
	r.content_type = "application/json";
	r.body = "{}";
	r.body_len = 2;
	r.accept = "text/html";
	http_negotiate(&r);
	CHECK(r.html == 1);
	CHECK(http_parse_body(&r) == 0 && r.html == 0);

	http_req_free(&r);
	arena_free(a);
	return check_done("test-http-body");
}
