/*
 * MariaDB through prepared statements (see db.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "arena.h"
#include "cfg.h"
#include "db.h"
#include "log.h"

#define DB_MAX_STMTS	64
#define DB_MAX_PARAMS	16
#define DB_MAX_COLS	32
#define DB_LOG_EVERY	5	/* seconds between connect-failure lines */

struct db_cached {
	const char	*sql;	/* a string literal: compared by address */
	MYSQL_STMT	*stmt;
};

static MYSQL		*db_conn;
static int		 db_in_tx;
static struct db_cached	 db_cache[DB_MAX_STMTS];
static size_t		 db_ncache;
static char		 db_dupkey[128];
static unsigned long	 db_failures;	/* connects failed since the last one */

/* Errors after which the connection is unusable and must be reopened. */
static int
db_is_gone(unsigned int err)
{
	return err >= 2000 || err == ER_SERVER_SHUTDOWN ||
	    err == ER_CONNECTION_KILLED || err == 4031;
}

void
db_disconnect(void)
{
	size_t	i;

	for (i = 0; i < db_ncache; i++)
		mysql_stmt_close(db_cache[i].stmt);
	db_ncache = 0;
	if (db_conn != NULL)
		mysql_close(db_conn);
	db_conn = NULL;
	db_in_tx = 0;
}

/*
 * During an outage every request tries to connect; one line every few
 * seconds (with how many failures it stands for) tells the story.
 */
static void
db_log_connect_failure(const char *error)
{
	static time_t	last;
	time_t		now = time(NULL);
	char		n[24];

	db_failures++;
	if (now - last < DB_LOG_EVERY && db_failures > 1)
		return;
	last = now;
	snprintf(n, sizeof(n), "%lu", db_failures);
	log_kv(LOG_ERROR, "db.connect_failed", "error", error, "failures", n,
	    NULL);
}

/*
 * Opens the connection if there is none: utf8mb4, UTC session time, and
 * timeouts so that a hung server costs a request, not a worker.
 */
int
db_connect(void)
{
	MYSQL		*m;
	unsigned int	 connect_timeout = 3, io_timeout = 10;
	unsigned int	 socket_protocol = MYSQL_PROTOCOL_SOCKET;
	const char	*sock = cfg_str(CFG_DB_SOCKET);

	if (db_conn != NULL)
		return 0;
	if ((m = mysql_init(NULL)) == NULL)
		return -1;
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(m, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
	/*
	 * The client library uses a socket only for the host "localhost": a
	 * set DB_SOCKET must win over DB_HOST's default 127.0.0.1, or every
	 * query pays for loopback TCP.
	 */
	if (*sock != '\0')
		mysql_options(m, MYSQL_OPT_PROTOCOL, &socket_protocol);
	if (mysql_real_connect(m, *sock != '\0' ? NULL : cfg_str(CFG_DB_HOST),
	    cfg_str(CFG_DB_USER), cfg_str(CFG_DB_PASSWORD),
	    cfg_str(CFG_DB_DATABASE),
	    (unsigned int)cfg_int(CFG_DB_PORT), *sock != '\0' ? sock : NULL,
	    0) == NULL) {
		db_log_connect_failure(mysql_error(m));
		mysql_close(m);
		return -1;
	}
	db_failures = 0;
	db_conn = m;
	log_kv(LOG_INFO, "db.connected", NULL);
	return 0;
}

/* Returns the cached statement for sql, preparing it on first use. */
static MYSQL_STMT *
db_prepare(const char *sql, unsigned int *err)
{
	MYSQL_STMT	*stmt;
	size_t		 i;

	for (i = 0; i < db_ncache; i++)
		if (db_cache[i].sql == sql)
			return db_cache[i].stmt;
	if ((stmt = mysql_stmt_init(db_conn)) == NULL) {
		*err = mysql_errno(db_conn);
		return NULL;
	}
	if (mysql_stmt_prepare(stmt, sql, strlen(sql)) != 0) {
		*err = mysql_stmt_errno(stmt);
		log_kv(LOG_ERROR, "db.prepare_failed",
		    "error", mysql_stmt_error(stmt), NULL);
		mysql_stmt_close(stmt);
		return NULL;
	}
	if (db_ncache < DB_MAX_STMTS) {
		db_cache[db_ncache].sql = sql;
		db_cache[db_ncache].stmt = stmt;
		db_ncache++;
	} else {
		/* More distinct statements than expected: a bug. */
		log_kv(LOG_ERROR, "db.cache_full", NULL);
		mysql_stmt_close(stmt);
		*err = CR_OUT_OF_MEMORY;
		return NULL;
	}
	return stmt;
}

/* Remembers the name of the unique key from "... for key 'name'". */
static void
db_note_duplicate(const char *msg)
{
	const char	*end, *start;

	db_dupkey[0] = '\0';
	if ((end = strrchr(msg, '\'')) == NULL || end == msg)
		return;
	for (start = end - 1; start > msg && *start != '\''; start--)
		continue;
	if (*start != '\'')
		return;
	start++;
	/* MariaDB may qualify it as table.key. */
	{
		const char *dot = memchr(start, '.', (size_t)(end - start));

		if (dot != NULL)
			start = dot + 1;
	}
	snprintf(db_dupkey, sizeof(db_dupkey), "%.*s", (int)(end - start),
	    start);
}

/* Fetches every row of a stored result as text into the arena. */
static int
db_fetch_all(struct arena *a, MYSQL_STMT *stmt, struct db_result *res)
{
	MYSQL_BIND	 bind[DB_MAX_COLS];
	unsigned long	 lens[DB_MAX_COLS];
	my_bool		 nulls[DB_MAX_COLS];
	size_t		 ncols, row, c;
	int		 rc;

	/* No result set (INSERT, UPDATE, ...): nothing to fetch. */
	if ((ncols = mysql_stmt_field_count(stmt)) == 0)
		return 0;
	if (ncols > DB_MAX_COLS)
		return -1;
	if (mysql_stmt_store_result(stmt) != 0)
		return -1;
	res->ncols = ncols;
	res->nrows = (size_t)mysql_stmt_num_rows(stmt);
	res->cells = arena_calloc(a, res->nrows * ncols + 1, sizeof(char *));
	/* Zero-length buffers: fetch reports lengths, then each column. */
	memset(bind, 0, sizeof(bind));
	for (c = 0; c < ncols; c++) {
		bind[c].buffer_type = MYSQL_TYPE_STRING;
		bind[c].length = &lens[c];
		bind[c].is_null = &nulls[c];
	}
	if (mysql_stmt_bind_result(stmt, bind) != 0)
		return -1;
	for (row = 0; row < res->nrows; row++) {
		rc = mysql_stmt_fetch(stmt);
		if (rc == MYSQL_NO_DATA)
			break;
		if (rc == 1)
			return -1;
		for (c = 0; c < ncols; c++) {
			MYSQL_BIND	 one;
			char		*cell;

			if (nulls[c])
				continue;
			cell = arena_alloc(a, lens[c] + 1);
			memset(&one, 0, sizeof(one));
			one.buffer_type = MYSQL_TYPE_STRING;
			one.buffer = cell;
			one.buffer_length = lens[c] + 1;
			if (lens[c] > 0 &&
			    mysql_stmt_fetch_column(stmt, &one, (unsigned)c, 0))
				return -1;
			cell[lens[c]] = '\0';
			res->cells[row * ncols + c] = cell;
		}
	}
	return 0;
}

/* One attempt at running a statement; *err gets the server's error. */
static enum db_status
db_exec_once(struct arena *a, const char *sql, const struct db_param *params,
    size_t n, struct db_result *res, unsigned int *err)
{
	MYSQL_STMT	*stmt;
	MYSQL_BIND	 bind[DB_MAX_PARAMS];
	unsigned long	 lens[DB_MAX_PARAMS];
	long long	 ints[DB_MAX_PARAMS];
	size_t		 i;
	enum db_status	 st = DB_OK;

	*err = 0;
	if (db_connect() != 0) {
		*err = CR_CONNECTION_ERROR;
		return DB_ERR_UNAVAILABLE;
	}
	if (n > DB_MAX_PARAMS)
		return DB_ERR_OTHER;
	if ((stmt = db_prepare(sql, err)) == NULL)
		return db_is_gone(*err) ? DB_ERR_UNAVAILABLE : DB_ERR_OTHER;
	if (mysql_stmt_param_count(stmt) != n) {
		log_kv(LOG_ERROR, "db.param_count_mismatch", NULL);
		return DB_ERR_OTHER;
	}
	memset(bind, 0, sizeof(bind));
	for (i = 0; i < n; i++) {
		switch (params[i].type) {
		case DB_PARAM_INT:
			ints[i] = params[i].i;
			bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
			bind[i].buffer = &ints[i];
			break;
		case DB_PARAM_TEXT:
			lens[i] = (unsigned long)params[i].len;
			bind[i].buffer_type = MYSQL_TYPE_STRING;
			bind[i].buffer = (void *)params[i].s;
			bind[i].buffer_length = lens[i];
			bind[i].length = &lens[i];
			break;
		default:
			bind[i].buffer_type = MYSQL_TYPE_NULL;
			break;
		}
	}
	if ((n > 0 && mysql_stmt_bind_param(stmt, bind) != 0) ||
	    mysql_stmt_execute(stmt) != 0) {
		*err = mysql_stmt_errno(stmt);
		if (*err == ER_DUP_ENTRY) {
			db_note_duplicate(mysql_stmt_error(stmt));
			return DB_ERR_DUPLICATE;
		}
		if (!db_is_gone(*err))
			log_kv(LOG_ERROR, "db.exec_failed",
			    "error", mysql_stmt_error(stmt), NULL);
		return db_is_gone(*err) ? DB_ERR_UNAVAILABLE : DB_ERR_OTHER;
	}
	if (res != NULL) {
		memset(res, 0, sizeof(*res));
		if (db_fetch_all(a, stmt, res) != 0) {
			*err = mysql_stmt_errno(stmt);
			st = db_is_gone(*err) ? DB_ERR_UNAVAILABLE :
			    DB_ERR_OTHER;
		}
		res->affected = mysql_stmt_affected_rows(stmt);
		res->insert_id = mysql_stmt_insert_id(stmt);
	}
	mysql_stmt_free_result(stmt);
	return st;
}

enum db_status
db_exec(struct arena *a, const char *sql, const struct db_param *params,
    size_t n, struct db_result *res)
{
	enum db_status	st;
	unsigned int	err;
	int		was_connected = db_conn != NULL;
	time_t		started = time(NULL);

	st = db_exec_once(a, sql, params, n, res, &err);
	if (st == DB_ERR_UNAVAILABLE && db_is_gone(err)) {
		int in_tx = db_in_tx;

		db_disconnect();
		/*
		 * A restarted server drops our connection; the first
		 * statement after it fails at once.  Outside a transaction
		 * nothing was half-done, so one retry on a fresh connection
		 * is safe.  A failure that took seconds was a read timeout:
		 * the server may have run the statement, so no retry.
		 */
		if (!in_tx && was_connected && time(NULL) - started < 2)
			st = db_exec_once(a, sql, params, n, res, &err);
		if (st == DB_ERR_UNAVAILABLE)
			db_disconnect();
	}
	return st;
}

const char *
db_cell(const struct db_result *res, size_t row, size_t col)
{
	if (row >= res->nrows || col >= res->ncols)
		return NULL;
	return res->cells[row * res->ncols + col];
}

/*
 * One round trip: START TRANSACTION (autocommit stays on, so COMMIT or
 * ROLLBACK ends it).  Nothing has run yet, so a connection found dead
 * here is reopened and the statement sent once more.
 */
enum db_status
db_begin(void)
{
	static const char	sql[] = "START TRANSACTION";
	int			try;

	for (try = 0; try < 2; try++) {
		if (db_connect() != 0)
			return DB_ERR_UNAVAILABLE;
		if (mysql_real_query(db_conn, sql, sizeof(sql) - 1) == 0) {
			db_in_tx = 1;
			return DB_OK;
		}
		if (!db_is_gone(mysql_errno(db_conn)))
			return DB_ERR_OTHER;
		db_disconnect();
	}
	return DB_ERR_UNAVAILABLE;
}

enum db_status
db_commit(void)
{
	enum db_status	st = DB_OK;

	db_in_tx = 0;
	if (db_conn == NULL)
		return DB_ERR_UNAVAILABLE;
	if (mysql_commit(db_conn) != 0) {
		st = db_is_gone(mysql_errno(db_conn)) ? DB_ERR_UNAVAILABLE :
		    DB_ERR_OTHER;
		if (st == DB_ERR_UNAVAILABLE)
			db_disconnect();
		else if (mysql_rollback(db_conn) != 0)
			db_disconnect();
	}
	return st;
}

void
db_rollback(void)
{
	db_in_tx = 0;
	if (db_conn != NULL && mysql_rollback(db_conn) != 0)
		db_disconnect();
}

const char *
db_duplicate_key(void)
{
	return db_dupkey;
}
