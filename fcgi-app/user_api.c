/*
 * The user RPCs of the seed service over HTTP: register, list, read,
 * update, delete.  Handlers parse and validate, call user.c, answer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "arena.h"
#include "auth.h"
#include "handlers.h"
#include "http.h"
#include "log.h"
#include "reset.h"
#include "user.h"
#include "valid.h"

#define PAGE_DEFAULT	10
#define PAGE_MAX	100

/* 409 naming the field whose unique key a write violated. */
static int
user_api_conflict(struct req *r)
{
	struct json_object	*errors = NULL;
	const char		*key = db_duplicate_key();
	const char		*field = strstr(key, "email") != NULL ?
	    "email" : "name";

	http_errors_add(&errors, field, strcmp(field, "email") == 0 ?
	    VALID_EMAIL_TAKEN : VALID_NAME_TAKEN);
	return http_problem(r, 409, "Conflict",
	    strcmp(field, "email") == 0 ? "The email is already registered." :
	    "The name is already taken.", errors);
}

/* True when the only errors are "already registered/taken". */
static int
user_api_is_conflict(struct json_object *errors)
{
	json_object_object_foreach(errors, field, v) {
		const char *msg = json_object_get_string(v);

		(void)field;
		if (strcmp(msg, VALID_EMAIL_TAKEN) != 0 &&
		    strcmp(msg, VALID_NAME_TAKEN) != 0)
			return 0;
	}
	return 1;
}

/* Runs validator v on a present value, noting its message under field. */
static void
user_api_check(struct json_object **errors, const char *field,
    const char *value, const char *(*v)(const char *))
{
	const char	*msg;

	if (value != NULL && (msg = v(value)) != NULL)
		http_errors_add(errors, field, msg);
}

/*
 * Validates the registration fields of r and creates the user.  Returns
 * DB_OK with *id set, or DB_OK with *errors set (invalid or taken), or
 * the database fault.  Shared by the API and the register page.
 */
enum db_status
user_api_register(struct req *r, struct json_object **errors, long long *id)
{
	const char	*name, *email, *password, *real_name, *avatar;
	char		*hash;
	enum db_status	 st;

	*id = 0;
	name = http_field_get(r, "name", 1, errors);
	email = http_field_get(r, "email", 1, errors);
	password = http_field_get(r, "password", 1, errors);
	real_name = http_field_get(r, "real_name", 0, errors);
	avatar = http_field_get(r, "avatar", 0, errors);
	user_api_check(errors, "name", name, valid_name);
	user_api_check(errors, "email", email, valid_email);
	user_api_check(errors, "password", password, valid_password);
	user_api_check(errors, "real_name", real_name, valid_real_name);
	user_api_check(errors, "avatar", avatar, valid_avatar);
	if (*errors != NULL)
		return DB_OK;
	if ((hash = auth_hash_password(r->arena, password)) == NULL)
		return DB_ERR_OTHER;
	st = user_create(r->arena, name, email, hash,
	    real_name != NULL ? real_name : "", avatar != NULL ? avatar : "",
	    id);
	if (st == DB_ERR_DUPLICATE) {
		if (strstr(db_duplicate_key(), "email") != NULL)
			http_errors_add(errors, "email", VALID_EMAIL_TAKEN);
		else
			http_errors_add(errors, "name", VALID_NAME_TAKEN);
		return DB_OK;
	}
	if (st == DB_OK)
		log_kv(LOG_INFO, "user.created", "user_id",
		    arena_printf(r->arena, "%lld", *id), NULL);
	return st;
}

int
user_api_create(struct req *r)
{
	struct json_object	*errors = NULL;
	long long		 id;
	struct user		 u;
	int			 found;
	enum db_status		 st;

	if ((st = user_api_register(r, &errors, &id)) != DB_OK)
		return http_db_fault(r, st == DB_ERR_UNAVAILABLE);
	if (errors != NULL && user_api_is_conflict(errors))
		return http_problem(r, 409, "Conflict",
		    "The name or email is already in use.", errors);
	if (errors != NULL)
		return http_invalid(r, errors);
	if ((st = user_by_id(r->arena, id, &u, &found)) != DB_OK || !found)
		return http_db_fault(r, st == DB_ERR_UNAVAILABLE);
	http_header(r, "Location", arena_printf(r->arena, "/user/%lld", id));
	return http_json(r, 201, user_json(&u));
}

/*
 * Reads a positive page number from the query string.  Returns the value,
 * def when absent, or -1 having noted an error.
 */
static long long
user_api_page_param(struct req *r, const char *name, const char *alias,
    long long def, struct json_object **errors)
{
	const char	*s = http_param(r, name);
	char		*end;
	long long	 v;

	if (s == NULL && alias != NULL && (s = http_param(r, alias)) != NULL)
		name = alias;
	if (s == NULL)
		return def;
	errno = 0;
	v = strtoll(s, &end, 10);
	/* Digits only: strtoll would also take blanks and a sign. */
	if (errno != 0 || end == s || *end != '\0' || v < 1 ||
	    s[0] < '0' || s[0] > '9' ||
	    v > 1000000000LL) {
		http_errors_add(errors, name, "must be a whole number from 1");
		return -1;
	}
	return v;
}

int
user_api_list(struct req *r)
{
	struct json_object	*errors = NULL, *o, *arr;
	long long		 page, per_page, total;
	struct user		*users;
	size_t			 n, i;
	enum db_status		 st;

	if (auth_require(r) != 0)
		return 0;
	if (!r->auth_admin)
		return http_error(r, 403, "Listing users is for admins.");
	page = user_api_page_param(r, "page", NULL, 1, &errors);
	per_page = user_api_page_param(r, "per_page", "perPage",
	    PAGE_DEFAULT, &errors);
	if (errors != NULL)
		return http_problem(r, 400, "Bad Request",
		    "Invalid pagination.", errors);
	if (per_page > PAGE_MAX)
		per_page = PAGE_MAX;
	if ((st = user_list(r->arena, page, per_page, &users, &n, &total))
	    != DB_OK)
		return http_db_fault(r, st == DB_ERR_UNAVAILABLE);
	arr = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(arr, user_json(&users[i]));
	o = json_object_new_object();
	json_object_object_add(o, "users", arr);
	json_object_object_add(o, "total", json_object_new_int64(total));
	json_object_object_add(o, "page", json_object_new_int64(page));
	json_object_object_add(o, "per_page", json_object_new_int64(per_page));
	return http_json(r, 200, o);
}

/*
 * Authenticates and checks the caller may act on user r->id: that user or
 * an admin.  Returns 0, or -1 having answered.
 */
static int
user_api_authorize(struct req *r)
{
	if (auth_require(r) != 0)
		return -1;
	if (r->auth_user_id != r->id && !r->auth_admin) {
		http_error(r, 403, "You may only act on your own account.");
		return -1;
	}
	return 0;
}

int
user_api_get(struct req *r)
{
	struct user	u;
	int		found;
	enum db_status	st;

	if (user_api_authorize(r) != 0)
		return 0;
	/* Reading oneself: auth_require has just read the row. */
	if (r->auth_user != NULL && r->auth_user->id == r->id)
		return http_json(r, 200, user_json(r->auth_user));
	if ((st = user_by_id(r->arena, r->id, &u, &found)) != DB_OK)
		return http_db_fault(r, st == DB_ERR_UNAVAILABLE);
	if (!found)
		return http_error(r, 404, "No such user.");
	return http_json(r, 200, user_json(&u));
}

/*
 * Applies changes to user id in one transaction with what they imply: a
 * new password or address revokes every outstanding reset link, and a
 * new password queues the "password changed" email.  Shared with the
 * account page.
 */
enum db_status
user_api_apply(struct req *r, long long id, const struct user_changes *c,
    int *found)
{
	enum db_status	st;

	if ((st = db_begin()) != DB_OK)
		return st;
	st = user_update(r->arena, id, c, found);
	if (st == DB_OK && *found && (c->password != NULL || c->email != NULL))
		st = reset_after_change(r, id, c->password != NULL);
	if (st == DB_OK && *found)
		st = db_commit();
	else
		db_rollback();
	/* Nothing was written: nothing may be announced. */
	if (st != DB_OK)
		r->pending = NULL;
	return st;
}

/*
 * PUT and PATCH both change only the fields given (the seed's Update).
 * Changing the password or the address needs the current password unless
 * an admin does it (a stolen token must not be enough to take the
 * account); a new password bumps the password version, which revokes
 * every earlier token.
 */
int
user_api_update(struct req *r)
{
	struct json_object	*errors = NULL;
	struct user_changes	 c;
	struct user		 u;
	const char		*password, *current;
	enum auth_login_result	 result;
	long			 retry;
	int			 found;
	enum db_status		 st;

	if (user_api_authorize(r) != 0)
		return 0;
	memset(&c, 0, sizeof(c));
	c.name = http_field_get(r, "name", 0, &errors);
	c.email = http_field_get(r, "email", 0, &errors);
	c.real_name = http_field_get(r, "real_name", 0, &errors);
	c.avatar = http_field_get(r, "avatar", 0, &errors);
	password = http_field_get(r, "password", 0, &errors);
	current = http_field_get(r, "current_password", 0, &errors);
	c.role = http_field_get(r, "role", 0, &errors);
	user_api_check(&errors, "name", c.name, valid_name);
	user_api_check(&errors, "email", c.email, valid_email);
	user_api_check(&errors, "real_name", c.real_name, valid_real_name);
	user_api_check(&errors, "avatar", c.avatar, valid_avatar);
	user_api_check(&errors, "password", password, valid_password);
	if (c.role != NULL && !r->auth_admin)
		http_errors_add(&errors, "role", "may be changed by admins only");
	else if (c.role != NULL && strcmp(c.role, "user") != 0 &&
	    strcmp(c.role, "admin") != 0)
		http_errors_add(&errors, "role", "must be user or admin");
	if (errors != NULL)
		return http_invalid(r, errors);
	if ((st = user_by_id(r->arena, r->id, &u, &found)) != DB_OK)
		return http_db_fault(r, st == DB_ERR_UNAVAILABLE);
	if (!found)
		return http_error(r, 404, "No such user.");
	if ((password != NULL || c.email != NULL) && !r->auth_admin) {
		if ((st = auth_check_current(r->arena, &u, current,
		    r->remote_addr, &result, &retry)) != DB_OK)
			return http_db_fault(r, st == DB_ERR_UNAVAILABLE);
		if (result == AUTH_LOGIN_THROTTLED)
			return http_throttled(r, retry);
		if (result != AUTH_LOGIN_OK) {
			http_errors_add(&errors, "current_password",
			    current == NULL ? VALID_REQUIRED :
			    VALID_CURRENT_PASSWORD);
			return http_invalid(r, errors);
		}
	}
	if (password != NULL &&
	    (c.password = auth_hash_password(r->arena, password)) == NULL)
		return http_error(r, 500, "Could not store the password.");
	st = user_api_apply(r, r->id, &c, &found);
	if (st == DB_ERR_DUPLICATE)
		return user_api_conflict(r);
	if (st != DB_OK)
		return http_db_fault(r, st == DB_ERR_UNAVAILABLE);
	if ((st = user_by_id(r->arena, r->id, &u, &found)) != DB_OK)
		return http_db_fault(r, st == DB_ERR_UNAVAILABLE);
	if (!found)
		return http_error(r, 404, "No such user.");
	log_kv(LOG_INFO, "user.updated", "user_id",
	    arena_printf(r->arena, "%lld", r->id), "password_changed",
	    password != NULL ? "true" : "false", NULL);
	return http_json(r, 200, user_json(&u));
}

int
user_api_delete(struct req *r)
{
	int		found;
	enum db_status	st;

	if (user_api_authorize(r) != 0)
		return 0;
	if ((st = user_delete(r->arena, r->id, &found)) != DB_OK)
		return http_db_fault(r, st == DB_ERR_UNAVAILABLE);
	if (!found)
		return http_error(r, 404, "No such user.");
	log_kv(LOG_INFO, "user.deleted", "user_id",
	    arena_printf(r->arena, "%lld", r->id), NULL);
	return http_no_content(r);
}
