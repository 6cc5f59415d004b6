/*
 * The request and its response, independent of FastCGI: user_fcgi.c
 * fills a struct req from the FastCGI environment and writes the response
 * out; handlers and unit tests only see this.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

#include "buf.h"

struct arena;
struct json_object;
struct outbox_pending;
struct user;

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_DELETE,
	HTTP__MAX
};

struct http_kv {
	const char	*key;
	const char	*val;
	size_t		 len;	/* length of val (values may hold NUL) */
};

#define HTTP_MAX_HEADERS	24

struct req {
	struct arena		*arena;

	/* The request, as parsed. */
	enum http_method	 method;
	const char		*path;
	const char		*query;
	const char		*content_type;
	const char		*accept;
	const char		*accept_language;
	const char		*authorization;
	const char		*cookie_header;
	const char		*remote_addr;
	const char		*request_id;
	const char		*body;
	size_t			 body_len;
	int			 body_too_large;
	struct http_kv		*params;	/* query string */
	size_t			 nparams;
	struct http_kv		*form;		/* urlencoded body */
	size_t			 nform;
	struct http_kv		*cookies;
	size_t			 ncookies;
	struct json_object	*json;		/* JSON body (an object) */
	int			 html;		/* answer with pages */
	const char		*locale;
	long long		 id;		/* the {id} in the path */

	/* Who is asking (set by auth_require), with their row. */
	long long		 auth_user_id;
	int			 auth_admin;
	struct user		*auth_user;

	/* The response. */
	int			 status;
	const char		*content_type_out;
	struct http_kv		 headers[HTTP_MAX_HEADERS];
	size_t			 nheaders;
	struct buf		 out;

	/* Events to publish once the answer is out (outbox.c). */
	struct outbox_pending	*pending;
};

/* Result of reading one input field. */
enum http_field {
	HTTP_FIELD_OK,
	HTTP_FIELD_MISSING,
	HTTP_FIELD_BAD_TYPE,	/* not a string, or holds a NUL */
	HTTP_FIELD_BAD_UTF8	/* not valid UTF-8 */
};

void		 http_req_init(struct req *, struct arena *);
void		 http_req_free(struct req *);

/* Parsing, used by user_fcgi.c and the unit tests. */
enum http_method http_method_parse(const char *);
const char	*http_method_name(enum http_method);
size_t		 http_parse_urlencoded(struct arena *, const char *, size_t,
		    struct http_kv **);
size_t		 http_parse_cookies(struct arena *, const char *,
		    struct http_kv **);
/*
 * Decides from Accept and Content-Type whether the client is a browser
 * (pages) or a program (JSON); before routing, so a 404 or 405 is a page
 * for browsers too.  A JSON body makes it JSON again.
 */
void		 http_negotiate(struct req *);
/* Parses the body by its Content-Type; answers 400/413/415 itself. */
int		 http_parse_body(struct req *);

const char	*http_kv_get(const struct http_kv *, size_t, const char *);
const char	*http_param(const struct req *, const char *);
const char	*http_cookie(const struct req *, const char *);
/* A string field from the JSON body or the form. */
enum http_field	 http_field(const struct req *, const char *, const char **);

/*
 * Reads a string field, noting "is required" or "must be a string" in
 * *errors (created on first use) when it is missing or of another type.
 */
const char	*http_field_get(const struct req *, const char *, int required,
		    struct json_object **errors);
void		 http_errors_add(struct json_object **, const char *field,
		    const char *msg);
/* 422 with the field errors (taken), as a problem or the page again. */
int		 http_invalid(struct req *, struct json_object *errors);

/* Responses.  Each returns 0 so handlers can `return http_json(...)`. */
void		 http_header(struct req *, const char *, const char *);
int		 http_json(struct req *, int status, struct json_object *);
int		 http_problem(struct req *, int status, const char *title,
		    const char *detail, struct json_object *errors);
int		 http_redirect(struct req *, const char *location);
int		 http_page(struct req *, int status, const char *tmpl,
		    struct json_object *ctx);
int		 http_no_content(struct req *);
const char	*http_status_text(int);

/* 429 with Retry-After, as a page or a problem. */
int		 http_throttled(struct req *, long retry_after);

/* An error answered as a page for browsers and as a problem for APIs. */
int		 http_error(struct req *, int status, const char *detail);

void		 http_set_cookie(struct req *, const char *name,
		    const char *value, const char *path, long max_age,
		    const char *samesite);

/* Double-submit CSRF token for browser forms. */
const char	*http_csrf_token(struct req *);
int		 http_csrf_ok(const struct req *);
/* A browser form without its token: answers 403, returns 1. */
int		 http_csrf_refused(struct req *);

/* A database fault: 503 while the server is away, else 500. */
int		 http_db_fault(struct req *, int unavailable);

#endif
