/*
 * Login (the seed's Auth) and token validation (ValidateToken).
 */
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "arena.h"
#include "auth.h"
#include "handlers.h"
#include "http.h"
#include "log.h"
#include "user.h"
#include "valid.h"

/* RFC 3339 UTC time of a Unix timestamp, in the arena. */
char *
auth_api_time(struct arena *a, long long t)
{
	time_t		tt = (time_t)t;
	struct tm	tm;
	char		s[32];

	gmtime_r(&tt, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return arena_strdup(a, s);
}

/*
 * POST /user/token: email (or name, as "login") and password give a JWT.
 * A wrong password and an unknown account get the same answer after the
 * same work, so the answer does not tell which accounts exist.
 */
int
auth_api_login(struct req *r)
{
	struct json_object	*errors = NULL, *o;
	const char		*login, *password;
	struct user		 u;
	enum auth_login_result	 result;
	long			 retry;
	enum db_status		 st;
	long long		 exp;
	char			*token;

	login = http_field_get(r, "email", 0, &errors);
	if (login == NULL)
		login = http_field_get(r, "login", 0, &errors);
	password = http_field_get(r, "password", 1, &errors);
	if (login == NULL)
		http_errors_add(&errors, "email", VALID_REQUIRED);
	if (errors != NULL)
		return http_invalid(r, errors);
	if ((st = auth_login(r->arena, login, password, r->remote_addr, &u,
	    &result, &retry)) != DB_OK)
		return http_db_fault(r, st == DB_ERR_UNAVAILABLE);
	if (result == AUTH_LOGIN_THROTTLED)
		return http_throttled(r, retry);
	if (result != AUTH_LOGIN_OK) {
		/* RFC 9110: every 401 names a scheme. */
		http_header(r, "WWW-Authenticate", "Bearer");
		return http_problem(r, 401, "Unauthorized",
		    "The email or password is wrong.", NULL);
	}
	if ((token = auth_jwt_issue(r->arena, u.id, u.password_version, &exp))
	    == NULL)
		return http_error(r, 500, "Could not issue a token.");
	log_kv(LOG_INFO, "auth.login", "user_id",
	    arena_printf(r->arena, "%lld", u.id), NULL);
	http_header(r, "Cache-Control", "no-store");
	o = json_object_new_object();
	json_object_object_add(o, "token", json_object_new_string(token));
	json_object_object_add(o, "token_type",
	    json_object_new_string("Bearer"));
	json_object_object_add(o, "expires_at",
	    json_object_new_string(auth_api_time(r->arena, exp)));
	json_object_object_add(o, "user_id", json_object_new_int64(u.id));
	return http_json(r, 200, o);
}

/* GET /user/token: is this bearer token valid now? */
int
auth_api_validate(struct req *r)
{
	struct json_object	*o;

	if (auth_require(r) != 0)
		return 0;
	o = json_object_new_object();
	json_object_object_add(o, "valid", json_object_new_boolean(1));
	json_object_object_add(o, "user_id",
	    json_object_new_int64(r->auth_user_id));
	json_object_object_add(o, "admin",
	    json_object_new_boolean(r->auth_admin));
	return http_json(r, 200, o);
}
