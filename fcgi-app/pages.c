/*
 * Pages for people: sign in, register, account, sign out, language.
 * Every form that changes state carries the CSRF token (http.c); the
 * session is the JWT in an HttpOnly, SameSite=Strict cookie.
 */
#include <string.h>

#include <json-c/json.h>

#include "arena.h"
#include "auth.h"
#include "cfg.h"
#include "handlers.h"
#include "http.h"
#include "log.h"
#include "tmpl.h"
#include "user.h"
#include "valid.h"

/* Status messages a redirect may ask a page to show (?notice=). */
static const char *const page_notices[] = {
	"profile_saved",
	"password_changed",
	"registered",
	"signed_out",
	NULL
};

/* A new page context carrying the notice named in the query, if known. */
static struct json_object *
page_ctx(struct req *r)
{
	struct json_object	*ctx = json_object_new_object();
	const char		*n = http_param(r, "notice"), *t;
	size_t			 i;

	for (i = 0; n != NULL && page_notices[i] != NULL; i++) {
		if (strcmp(n, page_notices[i]) != 0)
			continue;
		t = tmpl_string(r->locale, arena_printf(r->arena,
		    "notice_%s", n));
		if (t != NULL)
			json_object_object_add(ctx, "notice",
			    json_object_new_string(t));
	}
	return ctx;
}

/* Renders a form again with the submitted (non-secret) values. */
static int
page_form_again(struct req *r, int status, const char *tmpl,
    const char *const *fields, struct json_object *errors)
{
	struct json_object	*ctx = page_ctx(r), *values;
	const char		*v;

	values = json_object_new_object();
	for (; *fields != NULL; fields++)
		if (http_field(r, *fields, &v) == HTTP_FIELD_OK)
			json_object_object_add(values, *fields,
			    json_object_new_string(v));
	json_object_object_add(ctx, "values", values);
	json_object_object_add(ctx, "errors", errors != NULL ? errors :
	    json_object_new_object());
	return http_page(r, status, tmpl, ctx);
}

/*
 * These forms are for browsers only: whatever the request claims to be,
 * it answers with pages and needs its CSRF token.  Returns 1 when refused.
 */
static int
page_csrf_refused(struct req *r)
{
	r->html = 1;
	return http_csrf_refused(r);
}

static void
page_set_session(struct req *r, const char *token)
{
	http_set_cookie(r, AUTH_SESSION_COOKIE, token, "/",
	    (long)cfg_int(CFG_JWT_TTL), "Strict");
}

int
page_login_form(struct req *r)
{
	static const char *const none[] = { NULL };

	r->html = 1;
	return page_form_again(r, 200, "html/login.html", none, NULL);
}

/* POST /user/login: the browser twin of POST /user/token. */
int
page_login(struct req *r)
{
	static const char *const kept[] = { "login", NULL };
	struct json_object	*errors = NULL;
	const char		*login, *password;
	struct user		 u;
	char			*token;
	long long		 exp;
	long			 retry;
	enum auth_login_result	 result;
	enum db_status		 st;

	if (page_csrf_refused(r))
		return 0;
	login = http_field_get(r, "login", 1, &errors);
	password = http_field_get(r, "password", 1, &errors);
	if (errors != NULL)
		return page_form_again(r, 422, "html/login.html", kept, errors);
	if ((st = auth_login(r->arena, login, password, r->remote_addr, &u,
	    &result, &retry)) != DB_OK)
		return http_db_fault(r, 1);
	if (result == AUTH_LOGIN_THROTTLED)
		return http_throttled(r, retry);
	if (result != AUTH_LOGIN_OK) {
		http_errors_add(&errors, "form",
		    tmpl_string(r->locale, "err_login"));
		return page_form_again(r, 401, "html/login.html", kept, errors);
	}
	if ((token = auth_jwt_issue(r->arena, u.id, u.password_version, &exp))
	    == NULL)
		return http_error(r, 500, NULL);
	page_set_session(r, token);
	log_kv(LOG_INFO, "auth.login", "user_id",
	    arena_printf(r->arena, "%lld", u.id), "via", "page", NULL);
	return http_redirect(r, "/user/account");
}

int
page_register_form(struct req *r)
{
	static const char *const none[] = { NULL };

	r->html = 1;
	return page_form_again(r, 200, "html/register.html", none, NULL);
}

/* POST /user/register: the browser twin of POST /user. */
int
page_register(struct req *r)
{
	static const char *const kept[] = { "name", "email", "real_name",
	    NULL };
	struct json_object	*errors = NULL;
	long long		 id;
	enum db_status		 st;

	if (page_csrf_refused(r))
		return 0;
	if ((st = user_api_register(r, &errors, &id)) != DB_OK)
		return http_db_fault(r, 1);
	if (errors != NULL)
		return page_form_again(r, 422, "html/register.html", kept,
		    errors);
	return http_redirect(r, "/user/login?notice=registered");
}

/* Loads the signed-in user into a page context; -1 when it answered. */
static int
page_account_ctx(struct req *r, struct json_object **ctx, struct user *u)
{
	int	found;

	r->html = 1;
	if (auth_require(r) != 0)
		return -1;
	if (user_by_id(r->arena, r->auth_user_id, u, &found) != DB_OK) {
		http_db_fault(r, 1);
		return -1;
	}
	if (!found) {
		http_redirect(r, "/user/login");
		return -1;
	}
	*ctx = page_ctx(r);
	json_object_object_add(*ctx, "user", user_json(u));
	return 0;
}

int
page_account(struct req *r)
{
	struct json_object	*ctx;
	struct user		 u;

	if (page_account_ctx(r, &ctx, &u) != 0)
		return 0;
	return http_page(r, 200, "html/account.html", ctx);
}

/* Shows the account page again with errors beside the fields. */
static int
page_account_again(struct req *r, struct json_object *ctx,
    struct json_object *errors, int with_values)
{
	struct json_object	*values;
	const char		*v;

	if (with_values) {
		values = json_object_new_object();
		if (http_field(r, "real_name", &v) == HTTP_FIELD_OK)
			json_object_object_add(values, "real_name",
			    json_object_new_string(v));
		if (http_field(r, "avatar", &v) == HTTP_FIELD_OK)
			json_object_object_add(values, "avatar",
			    json_object_new_string(v));
		json_object_object_add(ctx, "values", values);
	}
	json_object_object_add(ctx, "errors", errors);
	return http_page(r, 422, "html/account.html", ctx);
}

/* POST /user/account: real name and avatar. */
int
page_account_update(struct req *r)
{
	struct json_object	*ctx, *errors = NULL;
	struct user_changes	 c;
	struct user		 u;
	const char		*msg;
	int			 found;

	if (page_csrf_refused(r) || page_account_ctx(r, &ctx, &u) != 0)
		return 0;
	memset(&c, 0, sizeof(c));
	c.real_name = http_field_get(r, "real_name", 1, &errors);
	c.avatar = http_field_get(r, "avatar", 1, &errors);
	if (c.real_name != NULL && (msg = valid_real_name(c.real_name)) != NULL)
		http_errors_add(&errors, "real_name", msg);
	if (c.avatar != NULL && (msg = valid_avatar(c.avatar)) != NULL)
		http_errors_add(&errors, "avatar", msg);
	if (errors != NULL)
		return page_account_again(r, ctx, errors, 1);
	json_object_put(ctx);
	if (user_api_apply(r, u.id, &c, &found) != DB_OK)
		return http_db_fault(r, 1);
	return http_redirect(r, "/user/account?notice=profile_saved");
}

/*
 * POST /user/account/password: needs the current password.  The change
 * revokes every session, this one included, so it gets a fresh token.
 */
int
page_account_password(struct req *r)
{
	struct json_object	*ctx, *errors = NULL;
	struct user_changes	 c;
	struct user		 u;
	const char		*current, *password, *msg;
	char			*token;
	long long		 exp;
	long			 retry;
	enum auth_login_result	 result;
	int			 found;

	if (page_csrf_refused(r) || page_account_ctx(r, &ctx, &u) != 0)
		return 0;
	current = http_field_get(r, "current_password", 1, &errors);
	password = http_field_get(r, "password", 1, &errors);
	if (password != NULL && (msg = valid_password(password)) != NULL)
		http_errors_add(&errors, "password", msg);
	if (errors == NULL) {
		if (auth_check_current(r->arena, &u, current, r->remote_addr,
		    &result, &retry) != DB_OK) {
			json_object_put(ctx);
			return http_db_fault(r, 1);
		}
		if (result == AUTH_LOGIN_THROTTLED) {
			json_object_put(ctx);
			return http_throttled(r, retry);
		}
		if (result != AUTH_LOGIN_OK)
			http_errors_add(&errors, "current_password",
			    VALID_CURRENT_PASSWORD);
	}
	if (errors != NULL)
		return page_account_again(r, ctx, errors, 0);
	json_object_put(ctx);
	memset(&c, 0, sizeof(c));
	if ((c.password = auth_hash_password(r->arena, password)) == NULL)
		return http_error(r, 500, NULL);
	if (user_api_apply(r, u.id, &c, &found) != DB_OK)
		return http_db_fault(r, 1);
	if ((token = auth_jwt_issue(r->arena, u.id, u.password_version + 1,
	    &exp)) != NULL)
		page_set_session(r, token);
	log_kv(LOG_INFO, "user.password_changed", "user_id",
	    arena_printf(r->arena, "%lld", u.id), NULL);
	return http_redirect(r, "/user/account?notice=password_changed");
}

/* POST /user/logout: forgets the session cookie. */
int
page_logout(struct req *r)
{
	if (page_csrf_refused(r))
		return 0;
	http_set_cookie(r, AUTH_SESSION_COOKIE, "", "/", 0, "Strict");
	return http_redirect(r, "/user/login?notice=signed_out");
}

/*
 * Is next a path on this site?  Browsers drop tabs and newlines anywhere
 * in a URL and read '\\' as '/', so "/\t/evil.example" would leave the
 * site: any blank, control byte or backslash is refused outright.
 */
static int
page_local_path(const char *next)
{
	const unsigned char	*p;

	if (next == NULL || next[0] != '/' || next[1] == '/')
		return 0;
	for (p = (const unsigned char *)next; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '\\')
			return 0;
	return 1;
}

/*
 * GET /user/locale?lang=zh-CN&next=/password/forgot: remembers the
 * language in a cookie and goes back.  next must be a path on this site.
 */
int
page_locale(struct req *r)
{
	const char		*lang = http_param(r, "lang");
	const char		*next = http_param(r, "next");
	const char *const	*loc;

	r->html = 1;
	for (loc = tmpl_locales; lang != NULL && *loc != NULL; loc++)
		if (strcmp(*loc, lang) == 0)
			break;
	if (lang == NULL || *loc == NULL)
		return http_error(r, 400, NULL);
	if (!page_local_path(next))
		next = "/user/login";
	http_header(r, "Set-Cookie", arena_printf(r->arena,
	    "lang=%s; Path=/; Max-Age=31536000; SameSite=Lax%s", *loc,
	    cfg_int(CFG_COOKIE_SECURE) ? "; Secure" : ""));
	return http_redirect(r, next);
}
