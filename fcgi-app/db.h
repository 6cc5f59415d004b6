/*
 * MariaDB access through prepared statements only.  One connection per
 * process; statements are prepared once per connection and cached by their
 * SQL text's address (callers pass string literals).  A lost connection is
 * reopened on the next call; a statement that failed because the server
 * went away is retried once when no transaction is open.
 *
 * Every parameter is bound; every result column is fetched as text into
 * the caller's arena (NULL for SQL NULL).
 */
#ifndef DB_H
#define DB_H

#include <stddef.h>

struct arena;

enum db_param_type {
	DB_PARAM_NULL,
	DB_PARAM_INT,
	DB_PARAM_TEXT
};

struct db_param {
	enum db_param_type	 type;
	long long		 i;
	const char		*s;
	size_t			 len;
};

#define DB_INT(v)	((struct db_param){ DB_PARAM_INT, (v), NULL, 0 })
#define DB_TEXT(v)	((struct db_param){ DB_PARAM_TEXT, 0, (v), strlen(v) })
#define DB_BLOB(v, n)	((struct db_param){ DB_PARAM_TEXT, 0, (v), (n) })
#define DB_NULL		((struct db_param){ DB_PARAM_NULL, 0, NULL, 0 })

struct db_result {
	size_t			  nrows;
	size_t			  ncols;
	char			**cells;	/* nrows * ncols, row-major */
	unsigned long long	  affected;
	unsigned long long	  insert_id;
};

/* What went wrong, so a handler can answer 409, 503 or 500. */
enum db_status {
	DB_OK = 0,
	DB_ERR_DUPLICATE,	/* unique key violated; see db_duplicate_key() */
	DB_ERR_UNAVAILABLE,	/* server unreachable or went away */
	DB_ERR_OTHER
};

int		 db_connect(void);
void		 db_disconnect(void);

/*
 * Runs sql (a string literal) with n parameters.  When res is not NULL,
 * fills it (rows in the arena a).  Returns a db_status.
 */
enum db_status	 db_exec(struct arena *a, const char *sql,
		    const struct db_param *params, size_t n,
		    struct db_result *res);

/* The cell at row, col of a result (NULL for SQL NULL). */
const char	*db_cell(const struct db_result *, size_t row, size_t col);

enum db_status	 db_begin(void);
enum db_status	 db_commit(void);
void		 db_rollback(void);

/* Name of the unique key that the last DB_ERR_DUPLICATE violated. */
const char	*db_duplicate_key(void);

#endif
