/*
 * The mail_sent table (see mailer_sent.h).  A chunk shorter than
 * MAILER_SENT_CHUNK repeats its last id to fill the placeholders: the
 * lookup then names an id twice, and INSERT IGNORE skips the repeat.
 */
#include <string.h>

#include "arena.h"
#include "db.h"
#include "mailer_sent.h"

#define Q4	"?, ?, ?, ?"
#define V	"(?, NOW(3))"
#define V4	V ", " V ", " V ", " V

/* Both with MAILER_SENT_CHUNK (16) placeholders. */
static const char SQL_ANY_SENT[] =
    "SELECT event_id FROM mail_sent WHERE event_id IN "
    "(" Q4 ", " Q4 ", " Q4 ", " Q4 ")";
static const char SQL_RECORD[] =
    "INSERT IGNORE INTO mail_sent (event_id, sent_at) VALUES "
    V4 ", " V4 ", " V4 ", " V4;

/* Binds ids[0..k-1], then the last again up to a full chunk. */
static void
mailer_sent_bind(struct db_param *p, const char *const *ids, size_t k)
{
	size_t	 i;

	for (i = 0; i < MAILER_SENT_CHUNK; i++)
		p[i] = DB_TEXT(ids[i < k ? i : k - 1]);
}

int
mailer_sent_check(struct arena *a, const char *const *ids, size_t n,
    int *sent)
{
	struct db_param		 p[MAILER_SENT_CHUNK];
	struct db_result	 res;
	size_t			 at, k, row, i;

	memset(sent, 0, n * sizeof *sent);
	for (at = 0; at < n; at += k) {
		k = n - at < MAILER_SENT_CHUNK ? n - at : MAILER_SENT_CHUNK;
		mailer_sent_bind(p, ids + at, k);
		if (db_exec(a, SQL_ANY_SENT, p, MAILER_SENT_CHUNK, &res) !=
		    DB_OK)
			return -1;
		for (row = 0; row < res.nrows; row++)
			for (i = at; i < at + k; i++)
				if (strcmp(ids[i], db_cell(&res, row, 0)) == 0)
					sent[i] = 1;
	}
	return 0;
}

int
mailer_sent_record(struct arena *a, const char *const *ids, size_t n)
{
	struct db_param	 p[MAILER_SENT_CHUNK];
	size_t		 at, k;
	int		 tx = n > MAILER_SENT_CHUNK, ok = 1;

	if (n == 0)
		return 0;
	/* One statement is atomic by itself; more share a transaction. */
	if (tx && db_begin() != DB_OK)
		return -1;
	for (at = 0; at < n && ok; at += k) {
		k = n - at < MAILER_SENT_CHUNK ? n - at : MAILER_SENT_CHUNK;
		mailer_sent_bind(p, ids + at, k);
		ok = db_exec(a, SQL_RECORD, p, MAILER_SENT_CHUNK, NULL) ==
		    DB_OK;
	}
	if (tx && ok)
		ok = db_commit() == DB_OK;
	else if (tx)
		db_rollback();
	return ok ? 0 : -1;
}
