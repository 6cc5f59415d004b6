/*
 * An application/json body through http_parse_body and http_field: it
 * is accepted only as one shallow object of valid UTF-8 without NUL
 * bytes (checked against a reference validator) and without the
 * non-JSON literals NaN and Infinity, and otherwise refused with a 400
 * problem; an accepted object survives a print/parse round trip; each member reads as OK (a string without NUL, valid UTF-8),
 * BAD_TYPE, BAD_UTF8 or MISSING, as its type and bytes say.
 */
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "arena.h"
#include "fuzz.h"
#include "http.h"

/* http.c's HTTP_JSON_DEPTH: containers nested at most this deep. */
#define JSON_DEPTH_MAX	8

static struct arena	*arena;

/* Containers nested in o, counting o itself (0 for a scalar). */
static int
json_depth(struct json_object *o)
{
	int	 d = 0, sub;
	size_t	 i;

	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if ((sub = json_depth(v)) > d)
				d = sub;
		}
		return d + 1;
	}
	if (json_object_is_type(o, json_type_array)) {
		for (i = 0; i < json_object_array_length(o); i++)
			if ((sub = json_depth(json_object_array_get_idx(o, i)))
			    > d)
				d = sub;
		return d + 1;
	}
	return 0;
}

/*
 * Whether o holds a number JSON cannot write (RFC 8259, section 6):
 * json-c's tokener takes NaN, Infinity and -Infinity even when strict.
 */
static int
json_has_nonfinite(struct json_object *o)
{
	const char	*s;
	size_t		 i;

	switch (json_object_get_type(o)) {
	case json_type_double:
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		return strcmp(s, "NaN") == 0 || strcmp(s, "Infinity") == 0 ||
		    strcmp(s, "-Infinity") == 0;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (json_has_nonfinite(v))
				return 1;
		}
		return 0;
	}
	case json_type_array:
		for (i = 0; i < json_object_array_length(o); i++)
			if (json_has_nonfinite(json_object_array_get_idx(o, i)))
				return 1;
		return 0;
	default:
		return 0;
	}
}

static void
check_member(const struct req *r, const char *name, struct json_object *v)
{
	enum http_field	 got;
	const char	*out, *s;
	size_t		 len;

	got = http_field(r, name, &out);
	if (v == NULL) {
		FUZZ_ASSERT(got == HTTP_FIELD_MISSING && out == NULL);
		return;
	}
	if (!json_object_is_type(v, json_type_string)) {
		FUZZ_ASSERT(got == HTTP_FIELD_BAD_TYPE && out == NULL);
		return;
	}
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (memchr(s, '\0', len) != NULL)
		FUZZ_ASSERT(got == HTTP_FIELD_BAD_TYPE && out == NULL);
	else if (fuzz_utf8_len((const unsigned char *)s, len) < 0)
		FUZZ_ASSERT(got == HTTP_FIELD_BAD_UTF8 && out == NULL);
	else
		FUZZ_ASSERT(got == HTTP_FIELD_OK && out == s &&
		    strlen(out) == len);
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
	struct json_object	*again;
	struct req		 r;
	const char		*text, *out;
	char			*body;
	int			 rc;

	http_req_init(&r, arena);
	body = arena_alloc(arena, size + 1);
	memcpy(body, data, size);
	body[size] = '\0';
	r.method = HTTP_POST;
	r.content_type = "application/json";
	r.body = body;
	r.body_len = size;

	rc = http_parse_body(&r);
	FUZZ_ASSERT(rc == 0 || rc == -1);
	if (rc == -1) {
		FUZZ_ASSERT(r.status == 400 && r.json == NULL);
		FUZZ_ASSERT(r.content_type_out != NULL && strcmp(
		    r.content_type_out, "application/problem+json") == 0);
		FUZZ_ASSERT(r.out.len > 0);
		goto out;
	}

	FUZZ_ASSERT(r.status == 200 && r.out.len == 0 && r.html == 0);
	FUZZ_ASSERT(r.json != NULL &&
	    json_object_is_type(r.json, json_type_object));
	FUZZ_ASSERT(size > 0 && memchr(data, '\0', size) == NULL);
	FUZZ_ASSERT(fuzz_utf8_len(data, size) >= 0);
	FUZZ_ASSERT(json_depth(r.json) <= JSON_DEPTH_MAX);
	FUZZ_ASSERT(!json_has_nonfinite(r.json));

	/* What we accepted prints as JSON that parses to the same thing. */
	text = json_object_to_json_string_ext(r.json, JSON_C_TO_STRING_PLAIN);
	FUZZ_ASSERT(text != NULL);
	again = json_tokener_parse(text);
	FUZZ_ASSERT(again != NULL && json_object_equal(again, r.json));
	json_object_put(again);

	json_object_object_foreach(r.json, k, v)
		check_member(&r, k, v);
	FUZZ_ASSERT(http_field(&r, "no such member \x01", &out) ==
	    HTTP_FIELD_MISSING && out == NULL);
out:
	http_req_free(&r);
	arena_reset(arena);
	return 0;
}
