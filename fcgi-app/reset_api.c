/*
 * Password reset over HTTP: the JSON API (the seed's CreatePasswordReset
 * and ResetPassword) and the pages behind the forgot form and the link in
 * the email.
 */
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "arena.h"
#include "auth.h"
#include "cfg.h"
#include "handlers.h"
#include "http.h"
#include "log.h"
#include "reset.h"
#include "throttle.h"
#include "valid.h"

/* The cookie that holds the token between the link and the form. */
#define RESET_COOKIE		"reset_token"
#define RESET_COOKIE_PATH	"/password/"
/* Length of a password generated for the seed's PUT /user/password. */
#define RESET_GENERATED_LEN	20

static const char RESET_ACCEPTED[] =
    "If an account exists for this address, a link to reset its password "
    "is on its way.";

/* The reset pages must not leak the token through Referer or caches. */
static void
reset_private_headers(struct req *r)
{
	http_header(r, "Referrer-Policy", "no-referrer");
	http_header(r, "Cache-Control", "no-store");
}

/* The client address nginx saw (REMOTE_ADDR). */
static const char *
reset_ip(const struct req *r)
{
	return r->remote_addr != NULL ? r->remote_addr : "unknown";
}

/* Renders a form page again with its values and field errors. */
static int
reset_form_again(struct req *r, const char *tmpl, const char *field,
    const char *value, struct json_object *errors)
{
	struct json_object	*ctx = json_object_new_object(), *values;

	values = json_object_new_object();
	if (field != NULL && value != NULL)
		json_object_object_add(values, field,
		    json_object_new_string(value));
	json_object_object_add(ctx, "values", values);
	json_object_object_add(ctx, "errors", errors != NULL ? errors :
	    json_object_new_object());
	return http_page(r, errors != NULL ? 422 : 200, tmpl, ctx);
}

/*
 * POST /password/forgot and the seed's POST /user/password.  The answer is
 * the same for every well-formed address, known or not.
 */
int
reset_api_request(struct req *r)
{
	struct json_object	*errors = NULL, *o;
	const char		*email, *msg;
	enum db_status		 st;
	long			 retry;

	if (http_csrf_refused(r))
		return 0;
	email = http_field_get(r, "email", 1, &errors);
	if (email != NULL && (msg = valid_email(email)) != NULL)
		http_errors_add(&errors, "email", msg);
	if (errors != NULL)
		return r->html ? reset_form_again(r, "html/forgot.html",
		    "email", email, errors) : http_invalid(r, errors);
	if ((st = reset_request(r, email, &retry)) != DB_OK)
		return http_db_fault(r, st == DB_ERR_UNAVAILABLE);
	if (retry > 0)
		return http_throttled(r, retry);
	if (r->html)
		return http_redirect(r, "/password/forgot/sent");
	o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("accepted"));
	json_object_object_add(o, "message",
	    json_object_new_string(RESET_ACCEPTED));
	return http_json(r, 202, o);
}

/* A random password for the seed's "reset and tell me a new one". */
static char *
reset_generate_password(struct arena *a)
{
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	    "abcdefghijkmnopqrstuvwxyz23456789";
	char	*pw = arena_alloc(a, RESET_GENERATED_LEN + 1);
	size_t	 i;

	for (i = 0; i < RESET_GENERATED_LEN; i++)
		pw[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	pw[RESET_GENERATED_LEN] = '\0';
	return pw;
}

static int
reset_invalid_page(struct req *r)
{
	reset_private_headers(r);
	http_set_cookie(r, RESET_COOKIE, "", RESET_COOKIE_PATH, 0, "Lax");
	return http_page(r, 410, "html/reset_invalid.html", NULL);
}

/*
 * POST /password/reset (form: token in the cookie, password twice; JSON:
 * token and password) and the seed's PUT /user/password (JSON: token, and
 * a password or none to get a generated one back).
 */
int
reset_api_consume(struct req *r)
{
	struct json_object	*errors = NULL, *o;
	const char		*token, *password, *confirm = NULL, *msg;
	char			*hash;
	int			 usable, done, generated = 0, over;
	long			 retry;
	enum db_status		 st;

	if (http_csrf_refused(r))
		return 0;
	if (r->html) {
		reset_private_headers(r);
		token = http_cookie(r, RESET_COOKIE);
		password = http_field_get(r, "password", 1, &errors);
		confirm = http_field_get(r, "password_confirm", 1, &errors);
	} else {
		token = http_field_get(r, "token", 1, &errors);
		password = http_field_get(r, "password",
		    r->method != HTTP_PUT, &errors);
	}
	if (password != NULL && (msg = valid_password(password)) != NULL)
		http_errors_add(&errors, "password", msg);
	if (password != NULL && confirm != NULL && strcmp(password, confirm))
		http_errors_add(&errors, "password_confirm",
		    VALID_MISMATCH);
	if (errors != NULL && !r->html)
		return http_invalid(r, errors);
	/*
	 * Guessing tokens from one address stops here.  (A form's field
	 * errors are shown only for a live token; every other exit below
	 * releases them.)
	 */
	if ((st = throttle_reached(r->arena, THROTTLE_TOKEN_IP, reset_ip(r),
	    &over, &retry)) != DB_OK) {
		json_object_put(errors);
		return http_db_fault(r, st == DB_ERR_UNAVAILABLE);
	}
	if (over) {
		json_object_put(errors);
		return http_throttled(r, retry);
	}
	/* Cheap check first: no argon2 work for a dead token. */
	if ((st = reset_lookup(r, token, &usable)) != DB_OK) {
		json_object_put(errors);
		return http_db_fault(r, st == DB_ERR_UNAVAILABLE);
	}
	if (!usable)
		goto invalid;
	if (errors != NULL)
		return reset_form_again(r, "html/reset.html", NULL, NULL,
		    errors);
	if (password == NULL) {
		password = reset_generate_password(r->arena);
		generated = 1;
	}
	if ((hash = auth_hash_password(r->arena, password)) == NULL)
		return http_error(r, 500, "Could not store the password.");
	if ((st = reset_consume(r, token, hash, &done)) != DB_OK)
		return http_db_fault(r, st == DB_ERR_UNAVAILABLE);
	if (!done)
		goto invalid;
	if (r->html) {
		http_set_cookie(r, RESET_COOKIE, "", RESET_COOKIE_PATH, 0,
		    "Lax");
		return http_redirect(r, "/password/reset/done");
	}
	http_header(r, "Cache-Control", "no-store");
	o = json_object_new_object();
	json_object_object_add(o, "resetSuccess", json_object_new_boolean(1));
	if (generated)
		json_object_object_add(o, "newPassword",
		    json_object_new_string(password));
	return http_json(r, 200, o);
invalid:
	if (throttle_hit(r->arena, THROTTLE_TOKEN_IP, reset_ip(r), &over,
	    &retry) != DB_OK)
		log_kv(LOG_WARN, "throttle.write_failed", NULL);
	if (r->html) {
		json_object_put(errors);
		return reset_invalid_page(r);
	}
	http_errors_add(&errors, "token", "is unknown, used or expired");
	return http_problem(r, 400, "Invalid token",
	    "The reset token is unknown, used or expired.", errors);
}

/* GET /password/forgot: the form. */
int
reset_page_forgot(struct req *r)
{
	return reset_form_again(r, "html/forgot.html", NULL, NULL, NULL);
}

/* GET /password/forgot/sent: "check your email". */
int
reset_page_sent(struct req *r)
{
	struct json_object	*ctx = json_object_new_object();

	json_object_object_add(ctx, "ttl_minutes", json_object_new_int64(
	    (cfg_int(CFG_RESET_TOKEN_TTL) + 59) / 60));
	return http_page(r, 200, "html/forgot_sent.html", ctx);
}

/*
 * GET /password/reset?token=...: mail scanners open links, so this only
 * moves the token into a cookie and redirects to the token-free URL;
 * GET /password/reset then shows the form (or says the link is dead).
 */
int
reset_page_link(struct req *r)
{
	const char	*token = http_param(r, "token"), *saved;
	int		 usable;
	enum db_status	 st;

	r->html = 1;
	reset_private_headers(r);
	if (token != NULL) {
		/* Checked before it goes into a header. */
		if (!reset_token_well_formed(token))
			return reset_invalid_page(r);
		http_set_cookie(r, RESET_COOKIE, token, RESET_COOKIE_PATH,
		    (long)cfg_int(CFG_RESET_TOKEN_TTL), "Lax");
		return http_redirect(r, "/password/reset");
	}
	saved = http_cookie(r, RESET_COOKIE);
	if ((st = reset_lookup(r, saved, &usable)) != DB_OK)
		return http_db_fault(r, st == DB_ERR_UNAVAILABLE);
	if (!usable)
		return reset_invalid_page(r);
	return reset_form_again(r, "html/reset.html", NULL, NULL, NULL);
}

/* GET /password/reset/done: the password was changed. */
int
reset_page_done(struct req *r)
{
	r->html = 1;
	reset_private_headers(r);
	return http_page(r, 200, "html/reset_done.html", NULL);
}
