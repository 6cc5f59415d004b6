/*
 * Housekeeping (see mailer_cleanup.h).
 */
#include <string.h>

#include "arena.h"
#include "db.h"
#include "log.h"
#include "mailer_cleanup.h"

/* Bounded deletes, so one pass never holds long locks. */
static const char SQL_OLD_THROTTLES[] =
    "DELETE FROM throttles WHERE window_start < UTC_TIMESTAMP() - "
    "INTERVAL 1 DAY LIMIT 10000";
/*
 * A redelivery comes within minutes and a relayed outbox row within the
 * hour; thirty days of ids is far more than dedup needs.
 */
static const char SQL_OLD_MAIL_SENT[] =
    "DELETE FROM mail_sent WHERE sent_at < NOW(3) - INTERVAL 30 DAY "
    "LIMIT 10000";

/*
 * The dead rows that record resets asked for addresses without an account
 * (reset.c) serve nobody after a day.  The Go service's rows lack user_id
 * too; none of their links works since the migration.
 */
static const char SQL_OLD_UNKNOWN_RESETS[] =
    "DELETE FROM password_resets WHERE user_id IS NULL AND "
    "created_at < NOW(3) - INTERVAL 1 DAY LIMIT 10000";

static void
mailer_cleanup_one(struct arena *a, const char *sql, const char *what)
{
	struct db_result	res;

	if (db_exec(a, sql, NULL, 0, &res) != DB_OK) {
		log_kv(LOG_WARN, "cleanup.failed", "table", what, NULL);
		return;
	}
	if (res.affected > 0)
		log_kv(LOG_INFO, "cleanup.done", "table", what, "removed",
		    arena_printf(a, "%llu", res.affected), NULL);
}

void
mailer_cleanup_run(struct arena *a)
{
	mailer_cleanup_one(a, SQL_OLD_THROTTLES, "throttles");
	mailer_cleanup_one(a, SQL_OLD_MAIL_SENT, "mail_sent");
	mailer_cleanup_one(a, SQL_OLD_UNKNOWN_RESETS, "password_resets");
}
