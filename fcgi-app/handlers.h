/*
 * Every HTTP handler, for the route table in user_fcgi.c.  Each takes the
 * parsed request, answers it (JSON or a page) and returns 0.
 */
#ifndef HANDLERS_H
#define HANDLERS_H

struct req;

/* user_api.c: the seed service's user RPCs. */
int	user_api_create(struct req *);
int	user_api_list(struct req *);
int	user_api_get(struct req *);
int	user_api_update(struct req *);
int	user_api_delete(struct req *);

/* Validates and creates a user from r's fields (user_api.c). */
#include "db.h"
struct json_object;
enum db_status user_api_register(struct req *, struct json_object **,
	    long long *);
/* Applies a user's changes with what they imply (user_api.c). */
struct user_changes;
enum db_status user_api_apply(struct req *, long long,
	    const struct user_changes *, int *);

/* pages.c: login, register, account and logout for browsers. */
int	page_login_form(struct req *);
int	page_login(struct req *);
int	page_register_form(struct req *);
int	page_register(struct req *);
int	page_account(struct req *);
int	page_account_update(struct req *);
int	page_account_password(struct req *);
int	page_logout(struct req *);
int	page_locale(struct req *);

/* auth_api.c: login and token validation. */
int	auth_api_login(struct req *);
int	auth_api_validate(struct req *);

/* reset_api.c: password reset, for API clients and browsers. */
int	reset_api_request(struct req *);
int	reset_api_consume(struct req *);
int	reset_page_forgot(struct req *);
int	reset_page_sent(struct req *);
int	reset_page_link(struct req *);
int	reset_page_done(struct req *);

#endif
