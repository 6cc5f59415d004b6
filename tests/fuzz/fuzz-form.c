/*
 * An application/x-www-form-urlencoded POST body through http_parse_body
 * and http_field, as the browser pages read it: the body always parses
 * (as a page), and each field reads as the first pair of its name, as
 * BAD_TYPE when it holds a NUL, BAD_UTF8 when it is not UTF-8 (checked
 * against a reference validator) or MISSING.  The CSRF check passes only
 * for a field equal to the cookie.
 */
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "arena.h"
#include "fuzz.h"
#include "http.h"
#include "valid.h"

#define CSRF	"Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4"	/* 32 bytes */

static struct arena	*arena;

/* Names the handlers read, besides every name in the body. */
static const char *const names[] = {
	"email", "password", "password2", "name", "real_name", "csrf",
	"token", "locale", "",
};

/* Checks http_field(name) against the pairs themselves. */
static void
check_field(const struct req *r, const char *name)
{
	struct json_object	*errors = NULL;
	const struct http_kv	*first = NULL;
	enum http_field		 got;
	const char		*out, *v;
	size_t			 i;

	for (i = 0; i < r->nform && first == NULL; i++)
		if (strcmp(r->form[i].key, name) == 0)
			first = &r->form[i];
	got = http_field(r, name, &out);
	v = http_field_get(r, name, 1, &errors);
	if (first == NULL) {
		FUZZ_ASSERT(got == HTTP_FIELD_MISSING && out == NULL);
	} else if (memchr(first->val, '\0', first->len) != NULL) {
		FUZZ_ASSERT(got == HTTP_FIELD_BAD_TYPE && out == NULL);
	} else if (fuzz_utf8_len((const unsigned char *)first->val,
	    first->len) < 0) {
		FUZZ_ASSERT(valid_utf8_len(first->val) < 0);
		FUZZ_ASSERT(got == HTTP_FIELD_BAD_UTF8 && out == NULL);
	} else {
		FUZZ_ASSERT(valid_utf8_len(first->val) ==
		    fuzz_utf8_len((const unsigned char *)first->val,
		    first->len));
		FUZZ_ASSERT(got == HTTP_FIELD_OK && out == first->val);
	}
	/* http_field_get agrees, and notes an error otherwise. */
	FUZZ_ASSERT(v == out);
	FUZZ_ASSERT((errors == NULL) == (got == HTTP_FIELD_OK));
	json_object_put(errors);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_cfg_load();
	arena = arena_new();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct req	 r;
	struct http_kv	 cookie = { "csrf", CSRF, sizeof(CSRF) - 1 };
	const char	*field;
	char		*body;
	size_t		 i;
	int		 csrf_ok;

	http_req_init(&r, arena);
	/* As user_fcgi.c reads it: len bytes, then a NUL. */
	body = arena_alloc(arena, size + 1);
	memcpy(body, data, size);
	body[size] = '\0';
	r.method = HTTP_POST;
	r.content_type = "application/x-www-form-urlencoded; charset=UTF-8";
	r.body = body;
	r.body_len = size;
	r.cookies = &cookie;
	r.ncookies = 1;

	FUZZ_ASSERT(http_parse_body(&r) == 0);
	FUZZ_ASSERT(r.html == 1 && r.json == NULL && r.status == 200);
	FUZZ_ASSERT(r.out.len == 0);
	FUZZ_ASSERT(r.nform == 0 || r.form != NULL);
	for (i = 0; i < r.nform; i++) {
		FUZZ_ASSERT(r.form[i].key != NULL && r.form[i].val != NULL);
		FUZZ_ASSERT(r.form[i].val[r.form[i].len] == '\0');
		check_field(&r, r.form[i].key);
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		check_field(&r, names[i]);

	csrf_ok = http_csrf_ok(&r);
	FUZZ_ASSERT(csrf_ok == (http_field(&r, "csrf", &field) ==
	    HTTP_FIELD_OK && strcmp(field, CSRF) == 0));

	http_req_free(&r);
	arena_reset(arena);
	return 0;
}
