/*
 * Users: the seed service's `users` table and what may be done with it.
 * Every function returns a db_status; "not found" is reported through
 * *found so that it is never confused with a database fault.
 */
#ifndef USER_H
#define USER_H

#include "db.h"

struct arena;
struct json_object;

struct user {
	long long	 id;
	const char	*name;
	const char	*email;
	const char	*real_name;
	const char	*avatar;
	long long	 status;
	const char	*role;
	long long	 password_version;
	const char	*password;	/* the hash: never leaves this service */
	const char	*created_at;
	const char	*updated_at;
};

/* Changes for user_update(); NULL fields stay as they are. */
struct user_changes {
	const char	*name;
	const char	*email;
	const char	*real_name;
	const char	*avatar;
	const char	*password;	/* a new hash; bumps the version */
	const char	*role;
	const char	*status;
};

enum db_status	user_create(struct arena *, const char *name, const char *email,
		    const char *hash, const char *real_name, const char *avatar,
		    long long *id);
enum db_status	user_by_id(struct arena *, long long id, struct user *,
		    int *found);
/* By email or by name. */
enum db_status	user_by_login(struct arena *, const char *login, struct user *,
		    int *found);
enum db_status	user_list(struct arena *, long long page, long long per_page,
		    struct user **, size_t *n, long long *total);
enum db_status	user_update(struct arena *, long long id,
		    const struct user_changes *, int *found);
enum db_status	user_delete(struct arena *, long long id, int *found);
/* Replaces an old-style hash after a login, if it is still the same. */
enum db_status	user_rehash(struct arena *, long long id, const char *old,
		    const char *hash);

/* The public JSON form of a user: never the password hash. */
struct json_object *user_json(const struct user *);

#endif
