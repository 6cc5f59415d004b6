/*
 * Request parsing and response building (see http.h).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <sodium.h>

#include "arena.h"
#include "cfg.h"
#include "http.h"
#include "log.h"
#include "tmpl.h"
#include "valid.h"

/*
 * json-c's depth limit: an object nested 7 levels deep is the most we
 * parse.  Nothing we accept nests at all.
 */
#define HTTP_JSON_DEPTH	8

static const char *const http_methods[HTTP__MAX] = {
	"GET",		/* HTTP_GET */
	"HEAD",		/* HTTP_HEAD */
	"POST",		/* HTTP_POST */
	"PUT",		/* HTTP_PUT */
	"PATCH",	/* HTTP_PATCH */
	"DELETE",	/* HTTP_DELETE */
};

void
http_req_init(struct req *r, struct arena *a)
{
	memset(r, 0, sizeof(*r));
	r->arena = a;
	r->method = HTTP__MAX;
	r->status = 200;
	r->locale = "en";
	buf_init(&r->out);
}

void
http_req_free(struct req *r)
{
	if (r->json != NULL)
		json_object_put(r->json);
	buf_free(&r->out);
	r->json = NULL;
}

enum http_method
http_method_parse(const char *s)
{
	int	i;

	for (i = 0; s != NULL && i < HTTP__MAX; i++)
		if (strcmp(s, http_methods[i]) == 0)
			return (enum http_method)i;
	return HTTP__MAX;
}

const char *
http_method_name(enum http_method m)
{
	return m < HTTP__MAX ? http_methods[m] : "?";
}

static int
http_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Percent-decodes s[0..n) into the arena ('+' is a space); *outlen gets
 * the length, since a decoded value may contain NUL.
 */
static char *
http_urldecode(struct arena *a, const char *s, size_t n, size_t *outlen)
{
	char	*out = arena_alloc(a, n + 1), *o = out;
	size_t	 i;

	for (i = 0; i < n; i++) {
		int	hi, lo;

		if (s[i] == '+')
			*o++ = ' ';
		else if (s[i] == '%' && i + 2 < n &&
		    (hi = http_hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = http_hexval((unsigned char)s[i + 2])) >= 0) {
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else
			*o++ = s[i];
	}
	*o = '\0';
	*outlen = (size_t)(o - out);
	return out;
}

/* Parses a=1&b=2 into key/value pairs; returns how many. */
size_t
http_parse_urlencoded(struct arena *a, const char *s, size_t n,
    struct http_kv **out)
{
	size_t		 count = 1, i, k = 0;
	struct http_kv	*kv;
	const char	*p = s, *end = s + n;

	*out = NULL;
	if (s == NULL || n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] == '&')
			count++;
	kv = arena_calloc(a, count, sizeof(*kv));
	while (p < end) {
		const char	*amp = memchr(p, '&', (size_t)(end - p));
		const char	*eq;
		size_t		 len, klen;

		if (amp == NULL)
			amp = end;
		len = (size_t)(amp - p);
		if (len > 0) {
			eq = memchr(p, '=', len);
			if (eq == NULL)
				eq = amp;
			kv[k].key = http_urldecode(a, p, (size_t)(eq - p),
			    &klen);
			/* A NUL in a key could make it shadow another. */
			if (strlen(kv[k].key) != klen) {
				p = amp + 1;
				continue;
			}
			if (eq < amp)
				kv[k].val = http_urldecode(a, eq + 1,
				    (size_t)(amp - eq - 1), &kv[k].len);
			else {
				kv[k].val = "";
				kv[k].len = 0;
			}
			k++;
		}
		p = amp + 1;
	}
	*out = kv;
	return k;
}

/* Parses "a=1; b=2" (the Cookie header); returns how many. */
size_t
http_parse_cookies(struct arena *a, const char *s, struct http_kv **out)
{
	size_t		 count = 1, k = 0;
	const char	*p;
	struct http_kv	*kv;

	*out = NULL;
	if (s == NULL || *s == '\0')
		return 0;
	for (p = s; *p != '\0'; p++)
		if (*p == ';')
			count++;
	kv = arena_calloc(a, count, sizeof(*kv));
	p = s;
	while (*p != '\0') {
		const char	*semi, *eq, *ks, *ke, *vs, *ve;

		while (*p == ' ' || *p == '\t')
			p++;
		if ((semi = strchr(p, ';')) == NULL)
			semi = p + strlen(p);
		eq = memchr(p, '=', (size_t)(semi - p));
		if (eq != NULL) {
			ks = p;
			ke = eq;
			while (ke > ks && (ke[-1] == ' ' || ke[-1] == '\t'))
				ke--;
			vs = eq + 1;
			while (vs < semi && (*vs == ' ' || *vs == '\t'))
				vs++;
			ve = semi;
			while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if (ve - vs >= 2 && *vs == '"' && ve[-1] == '"') {
				vs++;
				ve--;
			}
			if (ke > ks) {
				kv[k].key = arena_strndup(a, ks,
				    (size_t)(ke - ks));
				kv[k].val = arena_strndup(a, vs,
				    (size_t)(ve - vs));
				kv[k].len = (size_t)(ve - vs);
				k++;
			}
		}
		p = *semi == ';' ? semi + 1 : semi;
	}
	*out = kv;
	return k;
}

/* The first value of key (NULL when absent). */
const char *
http_kv_get(const struct http_kv *kv, size_t n, const char *key)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].val;
	return NULL;
}

const char *
http_param(const struct req *r, const char *key)
{
	return http_kv_get(r->params, r->nparams, key);
}

const char *
http_cookie(const struct req *r, const char *key)
{
	return http_kv_get(r->cookies, r->ncookies, key);
}

/* Compares a media type, ignoring parameters such as "; charset=". */
static int
http_type_is(const char *ct, const char *want)
{
	size_t	n = strlen(want);

	if (ct == NULL || strncasecmp(ct, want, n) != 0)
		return 0;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/*
 * What json-c lets through but RFC 8259 does not: single-quoted strings
 * and raw control characters inside strings.  A lexical pass over the
 * body; returns 1 when it is clean.
 */
static int
http_json_lexically_strict(const char *p, size_t n)
{
	size_t	i;
	int	in_string = 0, escaped = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (!in_string) {
			if (c == '\'')
				return 0;
			if (c == '"')
				in_string = 1;
			continue;
		}
		if (c < 0x20)
			return 0;
		if (escaped)
			escaped = 0;
		else if (c == '\\')
			escaped = 1;
		else if (c == '"')
			in_string = 0;
	}
	return 1;
}

/*
 * True when no number in o is NaN or infinite: json-c accepts those words
 * even in strict mode, but they are not JSON (RFC 8259, section 6).
 */
static int
http_json_finite(struct json_object *o)
{
	size_t	i;

	switch (json_object_get_type(o)) {
	case json_type_double:
		return isfinite(json_object_get_double(o));
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (v != NULL && !http_json_finite(v))
				return 0;
		}
		return 1;
	}
	case json_type_array:
		for (i = 0; i < json_object_array_length(o); i++) {
			struct json_object *v = json_object_array_get_idx(o, i);

			if (v != NULL && !http_json_finite(v))
				return 0;
		}
		return 1;
	default:
		return 1;
	}
}

void
http_negotiate(struct req *r)
{
	r->html = (r->accept != NULL && strstr(r->accept, "text/html")) ||
	    http_type_is(r->content_type, "application/x-www-form-urlencoded");
}

int
http_parse_body(struct req *r)
{
	if (r->body_too_large)
		return http_problem(r, 413, "Request body too large", NULL,
		    NULL), -1;
	if (r->body_len == 0 && (r->method == HTTP_GET ||
	    r->method == HTTP_HEAD || r->method == HTTP_DELETE))
		return 0;
	if (http_type_is(r->content_type, "application/x-www-form-urlencoded")) {
		r->html = 1;
		r->nform = http_parse_urlencoded(r->arena, r->body,
		    r->body_len, &r->form);
		return 0;
	}
	if (http_type_is(r->content_type, "application/json") ||
	    http_type_is(r->content_type, "application/merge-patch+json")) {
		struct json_tokener	*tok;
		struct json_object	*o;

		/* JSON in, JSON out, whatever the Accept header says. */
		r->html = 0;
		if (r->body_len == 0 || memchr(r->body, '\0', r->body_len))
			return http_problem(r, 400, "Malformed JSON",
			    "The body is not a JSON object.", NULL), -1;
		/* JSON is UTF-8; json-c would let overlongs through. */
		if (valid_utf8_len(r->body) < 0 ||
		    !http_json_lexically_strict(r->body, r->body_len))
			return http_problem(r, 400, "Malformed JSON",
			    "The body is not valid UTF-8.", NULL), -1;
		if ((tok = json_tokener_new_ex(HTTP_JSON_DEPTH)) == NULL)
			arena_oom(0);
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
		    JSON_TOKENER_VALIDATE_UTF8);
		o = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
		if (o != NULL) {
			size_t end = json_tokener_get_parse_end(tok);

			while (end < r->body_len && isspace((unsigned char)
			    r->body[end]))
				end++;
			if (end != r->body_len) {
				/* Trailing garbage after the object. */
				json_object_put(o);
				o = NULL;
			}
		}
		json_tokener_free(tok);
		if (o == NULL || !json_object_is_type(o, json_type_object) ||
		    !http_json_finite(o)) {
			json_object_put(o);
			return http_problem(r, 400, "Malformed JSON",
			    "The body is not a JSON object.", NULL), -1;
		}
		r->json = o;
		return 0;
	}
	if (r->body_len == 0 && r->content_type == NULL) {
		/* A POST with no body at all: every field is missing. */
		r->json = json_object_new_object();
		return 0;
	}
	return http_problem(r, 415, "Unsupported media type",
	    "Send application/json or application/x-www-form-urlencoded.",
	    NULL), -1;
}

enum http_field
http_field(const struct req *r, const char *name, const char **out)
{
	struct json_object	*v;
	const char		*s;
	size_t			 i;

	*out = NULL;
	if (r->json != NULL) {
		if (!json_object_object_get_ex(r->json, name, &v) || v == NULL)
			return HTTP_FIELD_MISSING;
		if (!json_object_is_type(v, json_type_string))
			return HTTP_FIELD_BAD_TYPE;
		s = json_object_get_string(v);
		/* A NUL inside a JSON string would cut it short silently. */
		if (strlen(s) != (size_t)json_object_get_string_len(v))
			return HTTP_FIELD_BAD_TYPE;
		/* json-c checks byte structure only, not overlongs etc. */
		if (valid_utf8_len(s) < 0)
			return HTTP_FIELD_BAD_UTF8;
		*out = s;
		return HTTP_FIELD_OK;
	}
	for (i = 0; i < r->nform; i++) {
		if (strcmp(r->form[i].key, name) != 0)
			continue;
		if (strlen(r->form[i].val) != r->form[i].len)
			return HTTP_FIELD_BAD_TYPE;
		if (valid_utf8_len(r->form[i].val) < 0)
			return HTTP_FIELD_BAD_UTF8;
		*out = r->form[i].val;
		return HTTP_FIELD_OK;
	}
	return HTTP_FIELD_MISSING;
}

void
http_errors_add(struct json_object **errors, const char *field,
    const char *msg)
{
	if (*errors == NULL)
		*errors = json_object_new_object();
	/* The first problem with a field is the one worth showing. */
	if (!json_object_object_get_ex(*errors, field, NULL))
		json_object_object_add(*errors, field,
		    json_object_new_string(msg));
}

const char *
http_field_get(const struct req *r, const char *name, int required,
    struct json_object **errors)
{
	const char	*v;

	switch (http_field(r, name, &v)) {
	case HTTP_FIELD_OK:
		return v;
	case HTTP_FIELD_BAD_TYPE:
		http_errors_add(errors, name, VALID_NOT_STRING);
		return NULL;
	case HTTP_FIELD_BAD_UTF8:
		http_errors_add(errors, name, VALID_UTF8);
		return NULL;
	default:
		if (required)
			http_errors_add(errors, name, VALID_REQUIRED);
		return NULL;
	}
}

int
http_invalid(struct req *r, struct json_object *errors)
{
	return http_problem(r, 422, "Invalid input",
	    "One or more fields are invalid.", errors);
}

/*
 * Sets a response header.  Setting one twice replaces it, except for
 * Set-Cookie, which may legitimately repeat.
 */
void
http_header(struct req *r, const char *k, const char *v)
{
	size_t	i;

	if (strcasecmp(k, "Set-Cookie") != 0)
		for (i = 0; i < r->nheaders; i++)
			if (strcasecmp(r->headers[i].key, k) == 0) {
				r->headers[i].val = v;
				return;
			}
	if (r->nheaders == HTTP_MAX_HEADERS) {
		log_kv(LOG_ERROR, "http.too_many_headers", "header", k, NULL);
		return;
	}
	r->headers[r->nheaders].key = k;
	r->headers[r->nheaders].val = v;
	r->nheaders++;
}

/* Takes ownership of o. */
int
http_json(struct req *r, int status, struct json_object *o)
{
	r->status = status;
	if (r->content_type_out == NULL)
		r->content_type_out = "application/json";
	buf_reset(&r->out);
	buf_puts(&r->out, json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	buf_putc(&r->out, '\n');
	json_object_put(o);
	return 0;
}

/* RFC 9457 problem details, with per-field messages in "errors". */
int
http_problem(struct req *r, int status, const char *title, const char *detail,
    struct json_object *errors)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string(
	    "about:blank"));
	json_object_object_add(o, "title", json_object_new_string(title));
	json_object_object_add(o, "status", json_object_new_int(status));
	if (detail != NULL)
		json_object_object_add(o, "detail",
		    json_object_new_string(detail));
	if (errors != NULL)
		json_object_object_add(o, "errors", errors);
	r->content_type_out = "application/problem+json";
	return http_json(r, status, o);
}

int
http_redirect(struct req *r, const char *location)
{
	r->status = 303;
	http_header(r, "Location", location);
	buf_reset(&r->out);
	return 0;
}

int
http_no_content(struct req *r)
{
	r->status = 204;
	buf_reset(&r->out);
	return 0;
}

/* Field messages and the locale strings that say them on pages. */
static const struct {
	const char	*msg;
	const char	*key;
} http_error_keys[] = {
	{ VALID_REQUIRED, "err_required" },
	{ VALID_NOT_STRING, "err_required" },
	{ VALID_EMAIL_LONG, "err_email" },
	{ VALID_EMAIL, "err_email" },
	{ VALID_NAME_LEN, "err_name" },
	{ VALID_NAME_CHARS, "err_name" },
	{ VALID_UTF8, "err_utf8" },
	{ VALID_PASSWORD_LEN, "err_password_length" },
	{ VALID_REAL_NAME_LEN, "err_real_name" },
	{ VALID_CONTROL, "err_real_name" },
	{ VALID_AVATAR_LEN, "err_avatar" },
	{ VALID_AVATAR_SCHEME, "err_avatar" },
	{ VALID_AVATAR_CHARS, "err_avatar" },
	{ VALID_EMAIL_TAKEN, "err_email_taken" },
	{ VALID_NAME_TAKEN, "err_name_taken" },
	{ VALID_MISMATCH, "err_password_mismatch" },
	{ VALID_CURRENT_PASSWORD, "err_current_password" },
};

/*
 * Replaces each field message in ctx.errors by its translation, so the
 * API keeps one English vocabulary and pages speak the user's language.
 */
static void
http_localize_errors(struct req *r, struct json_object *ctx)
{
	struct json_object	*errors;
	const char		*t;
	size_t			 i;

	if (!json_object_object_get_ex(ctx, "errors", &errors) ||
	    !json_object_is_type(errors, json_type_object))
		return;
	json_object_object_foreach(errors, field, v) {
		const char *msg = json_object_get_string(v);

		for (i = 0; i < sizeof(http_error_keys) /
		    sizeof(http_error_keys[0]); i++) {
			if (strcmp(msg, http_error_keys[i].msg) != 0)
				continue;
			if ((t = tmpl_string(r->locale, http_error_keys[i].key))
			    != NULL)
				json_object_object_add(errors, field,
				    json_object_new_string(t));
			break;
		}
	}
}

/* Each page's window title, by template. */
static const struct {
	const char	*tmpl;
	const char	*key;
} http_titles[] = {
	{ "html/forgot.html", "forgot_title" },
	{ "html/forgot_sent.html", "sent_title" },
	{ "html/reset.html", "reset_title" },
	{ "html/reset_invalid.html", "invalid_title" },
	{ "html/reset_done.html", "done_title" },
	{ "html/login.html", "login_title" },
	{ "html/register.html", "register_title" },
	{ "html/account.html", "account_title" },
};

static void
http_page_title(struct req *r, const char *tmpl, struct json_object *ctx)
{
	const char	*t;
	size_t		 i;

	if (json_object_object_get_ex(ctx, "title", NULL))
		return;
	for (i = 0; i < sizeof(http_titles) / sizeof(http_titles[0]); i++)
		if (strcmp(tmpl, http_titles[i].tmpl) == 0 &&
		    (t = tmpl_string(r->locale, http_titles[i].key)) != NULL)
			json_object_object_add(ctx, "title",
			    json_object_new_string(t));
}

/*
 * Renders a page.  Adds what every page needs (locale, CSRF token) to ctx,
 * which it takes ownership of.  A template error becomes a plain 500.
 */
int
http_page(struct req *r, int status, const char *tmpl, struct json_object *ctx)
{
	char	err[256];

	if (ctx == NULL)
		ctx = json_object_new_object();
	json_object_object_add(ctx, "locale",
	    json_object_new_string(r->locale));
	json_object_object_add(ctx, "csrf",
	    json_object_new_string(http_csrf_token(r)));
	http_localize_errors(r, ctx);
	http_page_title(r, tmpl, ctx);
	buf_reset(&r->out);
	if (tmpl_render(tmpl, r->locale, ctx, &r->out, err, sizeof(err))
	    != 0) {
		log_kv(LOG_ERROR, "tmpl.render_failed", "error", err, NULL);
		json_object_put(ctx);
		r->status = 500;
		r->content_type_out = "text/plain; charset=utf-8";
		buf_reset(&r->out);
		buf_puts(&r->out, "Internal Server Error\n");
		return 0;
	}
	json_object_put(ctx);
	r->status = status;
	r->content_type_out = "text/html; charset=utf-8";
	return 0;
}

int
http_error(struct req *r, int status, const char *detail)
{
	struct json_object	*ctx;
	const char		*title;

	if (!r->html)
		return http_problem(r, status, http_status_text(status),
		    detail, NULL);
	ctx = json_object_new_object();
	title = tmpl_string(r->locale, arena_printf(r->arena, "status_%d",
	    status));
	json_object_object_add(ctx, "status", json_object_new_int(status));
	json_object_object_add(ctx, "title", json_object_new_string(
	    title != NULL ? title : http_status_text(status)));
	json_object_object_add(ctx, "detail",
	    json_object_new_string(detail != NULL ? detail : ""));
	return http_page(r, status, "html/error.html", ctx);
}

int
http_throttled(struct req *r, long retry_after)
{
	const char	*msg = tmpl_string(r->locale, "err_throttled");

	if (retry_after < 1)
		retry_after = 1;
	http_header(r, "Retry-After", arena_printf(r->arena, "%ld",
	    retry_after));
	return http_error(r, 429, msg != NULL ? msg :
	    "Too many attempts; try again later.");
}

void
http_set_cookie(struct req *r, const char *name, const char *value,
    const char *path, long max_age, const char *samesite)
{
	http_header(r, "Set-Cookie", arena_printf(r->arena,
	    "%s=%s; Path=%s; Max-Age=%ld; HttpOnly; SameSite=%s%s", name,
	    value, path, max_age, samesite,
	    cfg_int(CFG_COOKIE_SECURE) ? "; Secure" : ""));
}

/*
 * The CSRF token of this browser: the value of its csrf cookie, or a new
 * random one (set as the cookie) on its first page.  A form carries it in
 * a hidden field; http_csrf_ok() compares the two.
 */
const char *
http_csrf_token(struct req *r)
{
	const char	*tok = http_cookie(r, "csrf");
	unsigned char	 raw[24];
	char		*b64;

	if (tok != NULL && strlen(tok) == 32)
		return tok;
	randombytes_buf(raw, sizeof(raw));
	b64 = arena_alloc(r->arena, sodium_base64_ENCODED_LEN(sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING));
	sodium_bin2base64(b64, sodium_base64_ENCODED_LEN(sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING), raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	http_set_cookie(r, "csrf", b64, "/", 86400 * 7, "Strict");
	/* Remember it for the rest of this request. */
	{
		struct http_kv *kv = arena_calloc(r->arena, r->ncookies + 1,
		    sizeof(*kv));

		if (r->ncookies > 0)
			memcpy(kv, r->cookies, r->ncookies * sizeof(*kv));
		kv[r->ncookies].key = "csrf";
		kv[r->ncookies].val = b64;
		kv[r->ncookies].len = strlen(b64);
		r->cookies = kv;
		r->ncookies++;
	}
	return b64;
}

int
http_csrf_ok(const struct req *r)
{
	const char	*cookie = http_cookie(r, "csrf"), *field = NULL;

	if (http_field(r, "csrf", &field) != HTTP_FIELD_OK || cookie == NULL)
		return 0;
	if (strlen(cookie) != 32 || strlen(field) != 32)
		return 0;
	return sodium_memcmp(cookie, field, 32) == 0;
}

int
http_csrf_refused(struct req *r)
{
	const char	*msg;

	if (!r->html || http_csrf_ok(r))
		return 0;
	log_kv(LOG_WARN, "http.csrf_refused", "path", r->path, NULL);
	msg = tmpl_string(r->locale, "err_csrf");
	http_error(r, 403, msg != NULL ? msg : "The form expired. Please "
	    "try again.");
	return 1;
}

int
http_db_fault(struct req *r, int unavailable)
{
	const char	*msg = tmpl_string(r->locale, "err_unavailable");

	if (!unavailable)
		return http_error(r, 500, NULL);
	http_header(r, "Retry-After", "5");
	return http_error(r, 503, msg != NULL ? msg :
	    "The service is busy. Please try again in a moment.");
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}
