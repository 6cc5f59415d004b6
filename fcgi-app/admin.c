/*
 * The first admin (see admin.h).  Runs the same validators, hashing and
 * prepared statements as the service itself, so no SQL is typed by hand.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "admin.h"
#include "arena.h"
#include "auth.h"
#include "db.h"
#include "user.h"
#include "valid.h"

static const char SQL_PROMOTE[] =
    "UPDATE users SET role = 'admin', updated_at = NOW(3) WHERE email = ?";

/* Reads one line (the password) from standard input, without its newline. */
static int
admin_read_password(char *pw, size_t len)
{
	size_t	n;

	if (fgets(pw, (int)len, stdin) == NULL)
		return -1;
	n = strcspn(pw, "\r\n");
	pw[n] = '\0';
	return 0;
}

int
admin_create(const char *name, const char *email)
{
	struct arena		*a = arena_new();
	struct db_param		 p[1];
	struct db_result	 res;
	struct user		 u;
	char			 pw[256], *hash;
	const char		*msg;
	long long		 id;
	int			 found, rc = 1;

	if ((msg = valid_name(name)) != NULL ||
	    (msg = valid_email(email)) != NULL) {
		fprintf(stderr, "create-admin: %s %s\n", name, msg);
		goto out;
	}
	if (db_connect() != 0) {
		fprintf(stderr, "create-admin: cannot connect to the database\n");
		goto out;
	}
	p[0] = DB_TEXT(email);
	if (db_exec(a, SQL_PROMOTE, p, 1, &res) != DB_OK)
		goto out;
	if (res.affected > 0 || (user_by_login(a, email, &u, &found) == DB_OK &&
	    found && strcmp(u.role, "admin") == 0)) {
		printf("create-admin: %s is an admin\n", email);
		rc = 0;
		goto out;
	}
	if (admin_read_password(pw, sizeof(pw)) != 0 ||
	    (msg = valid_password(pw)) != NULL) {
		fprintf(stderr, "create-admin: the password (on standard "
		    "input) %s\n", msg != NULL ? msg : "is missing");
		goto out;
	}
	hash = auth_hash_password(a, pw);
	sodium_memzero(pw, sizeof(pw));
	if (hash == NULL || user_create(a, name, email, hash, "", "", &id)
	    != DB_OK || db_exec(a, SQL_PROMOTE, p, 1, NULL) != DB_OK) {
		fprintf(stderr, "create-admin: could not create %s (is the "
		    "name taken?)\n", name);
		goto out;
	}
	printf("create-admin: created admin %s <%s> with id %lld\n", name,
	    email, id);
	rc = 0;
out:
	db_disconnect();
	arena_free(a);
	return rc;
}
