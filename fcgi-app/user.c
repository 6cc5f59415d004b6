/*
 * Users and their SQL (see user.h).
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "arena.h"
#include "user.h"

#define USER_COLUMNS							\
	"id, name, email, real_name, avatar, status, role, "		\
	"password_version, password, "					\
	"DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ'), "		\
	"DATE_FORMAT(updated_at, '%Y-%m-%dT%H:%i:%sZ')"

static const char SQL_INSERT[] =
    "INSERT INTO users (name, email, password, real_name, avatar, status, "
    "role, password_version, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, 1, 'user', 1, NOW(3), NOW(3))";
static const char SQL_BY_ID[] =
    "SELECT " USER_COLUMNS " FROM users WHERE id = ?";
static const char SQL_BY_LOGIN[] =
    "SELECT " USER_COLUMNS " FROM users WHERE email = ? OR name = ? "
    "ORDER BY email = ? DESC LIMIT 1";
static const char SQL_LIST[] =
    "SELECT " USER_COLUMNS " FROM users "
    "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?";
static const char SQL_COUNT[] = "SELECT COUNT(*) FROM users";
static const char SQL_UPDATE[] =
    "UPDATE users SET name = COALESCE(?, name), "
    "email = COALESCE(?, email), real_name = COALESCE(?, real_name), "
    "avatar = COALESCE(?, avatar), password = COALESCE(?, password), "
    "password_version = password_version + ?, role = COALESCE(?, role), "
    "status = COALESCE(?, status), updated_at = NOW(3) WHERE id = ?";
static const char SQL_EXISTS[] = "SELECT 1 FROM users WHERE id = ?";
static const char SQL_DELETE[] = "DELETE FROM users WHERE id = ?";
static const char SQL_DELETE_RESETS[] =
    "DELETE FROM password_resets WHERE user_id = ?";
static const char SQL_REHASH[] =
    "UPDATE users SET password = ? WHERE id = ? AND password = ?";

static const char *
user_nz(const char *s)
{
	return s != NULL ? s : "";
}

/* Fills u from row of a result selected with USER_COLUMNS. */
static void
user_from_row(const struct db_result *res, size_t row, struct user *u)
{
	u->id = strtoll(user_nz(db_cell(res, row, 0)), NULL, 10);
	u->name = user_nz(db_cell(res, row, 1));
	u->email = user_nz(db_cell(res, row, 2));
	u->real_name = user_nz(db_cell(res, row, 3));
	u->avatar = user_nz(db_cell(res, row, 4));
	u->status = strtoll(user_nz(db_cell(res, row, 5)), NULL, 10);
	u->role = user_nz(db_cell(res, row, 6));
	u->password_version = strtoll(user_nz(db_cell(res, row, 7)), NULL, 10);
	u->password = user_nz(db_cell(res, row, 8));
	u->created_at = db_cell(res, row, 9);
	u->updated_at = db_cell(res, row, 10);
}

enum db_status
user_create(struct arena *a, const char *name, const char *email,
    const char *hash, const char *real_name, const char *avatar, long long *id)
{
	struct db_param		p[5];
	struct db_result	res;
	enum db_status		st;

	p[0] = DB_TEXT(name);
	p[1] = DB_TEXT(email);
	p[2] = DB_TEXT(hash);
	p[3] = DB_TEXT(real_name);
	p[4] = DB_TEXT(avatar);
	if ((st = db_exec(a, SQL_INSERT, p, 5, &res)) == DB_OK)
		*id = (long long)res.insert_id;
	return st;
}

enum db_status
user_by_id(struct arena *a, long long id, struct user *u, int *found)
{
	struct db_param		p[1];
	struct db_result	res;
	enum db_status		st;

	p[0] = DB_INT(id);
	*found = 0;
	if ((st = db_exec(a, SQL_BY_ID, p, 1, &res)) != DB_OK)
		return st;
	if (res.nrows == 1) {
		user_from_row(&res, 0, u);
		*found = 1;
	}
	return DB_OK;
}

enum db_status
user_by_login(struct arena *a, const char *login, struct user *u, int *found)
{
	struct db_param		p[3];
	struct db_result	res;
	enum db_status		st;

	p[0] = DB_TEXT(login);
	p[1] = DB_TEXT(login);
	p[2] = DB_TEXT(login);
	*found = 0;
	if ((st = db_exec(a, SQL_BY_LOGIN, p, 3, &res)) != DB_OK)
		return st;
	if (res.nrows == 1) {
		user_from_row(&res, 0, u);
		*found = 1;
	}
	return DB_OK;
}

enum db_status
user_list(struct arena *a, long long page, long long per_page,
    struct user **out, size_t *n, long long *total)
{
	struct db_param		p[2];
	struct db_result	res, cnt;
	enum db_status		st;
	size_t			i;

	p[0] = DB_INT(per_page);
	p[1] = DB_INT((page - 1) * per_page);
	if ((st = db_exec(a, SQL_LIST, p, 2, &res)) != DB_OK)
		return st;
	if ((st = db_exec(a, SQL_COUNT, NULL, 0, &cnt)) != DB_OK)
		return st;
	*total = strtoll(user_nz(db_cell(&cnt, 0, 0)), NULL, 10);
	*out = arena_calloc(a, res.nrows + 1, sizeof(**out));
	for (i = 0; i < res.nrows; i++)
		user_from_row(&res, i, &(*out)[i]);
	*n = res.nrows;
	return DB_OK;
}

static struct db_param
user_opt(const char *s)
{
	return s != NULL ? DB_TEXT(s) : DB_NULL;
}

enum db_status
user_update(struct arena *a, long long id, const struct user_changes *c,
    int *found)
{
	struct db_param		p[9], q[1];
	struct db_result	res;
	enum db_status		st;

	/* affected_rows is 0 for an unchanged row too: ask separately. */
	q[0] = DB_INT(id);
	*found = 0;
	if ((st = db_exec(a, SQL_EXISTS, q, 1, &res)) != DB_OK)
		return st;
	if (res.nrows == 0)
		return DB_OK;
	*found = 1;
	p[0] = user_opt(c->name);
	p[1] = user_opt(c->email);
	p[2] = user_opt(c->real_name);
	p[3] = user_opt(c->avatar);
	p[4] = user_opt(c->password);
	p[5] = DB_INT(c->password != NULL ? 1 : 0);
	p[6] = user_opt(c->role);
	p[7] = user_opt(c->status);
	p[8] = DB_INT(id);
	return db_exec(a, SQL_UPDATE, p, 9, NULL);
}

enum db_status
user_delete(struct arena *a, long long id, int *found)
{
	struct db_param		p[1];
	struct db_result	res;
	enum db_status		st;

	p[0] = DB_INT(id);
	*found = 0;
	if ((st = db_begin()) != DB_OK)
		return st;
	if ((st = db_exec(a, SQL_DELETE_RESETS, p, 1, NULL)) != DB_OK ||
	    (st = db_exec(a, SQL_DELETE, p, 1, &res)) != DB_OK) {
		db_rollback();
		return st;
	}
	*found = res.affected > 0;
	return db_commit();
}

enum db_status
user_rehash(struct arena *a, long long id, const char *old, const char *hash)
{
	struct db_param	p[3];

	p[0] = DB_TEXT(hash);
	p[1] = DB_INT(id);
	p[2] = DB_TEXT(old);
	return db_exec(a, SQL_REHASH, p, 3, NULL);
}

struct json_object *
user_json(const struct user *u)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(u->id));
	json_object_object_add(o, "name", json_object_new_string(u->name));
	json_object_object_add(o, "email", json_object_new_string(u->email));
	json_object_object_add(o, "real_name",
	    json_object_new_string(u->real_name));
	json_object_object_add(o, "avatar", json_object_new_string(u->avatar));
	json_object_object_add(o, "status", json_object_new_int64(u->status));
	json_object_object_add(o, "role", json_object_new_string(u->role));
	json_object_object_add(o, "created_at", u->created_at != NULL ?
	    json_object_new_string(u->created_at) : NULL);
	json_object_object_add(o, "updated_at", u->updated_at != NULL ?
	    json_object_new_string(u->updated_at) : NULL);
	return o;
}
