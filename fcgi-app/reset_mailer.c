/*
 * reset-mailer: consumes the event queues and mails each event once,
 * and relays outbox rows the FastCGI workers could not publish.
 *
 * One process, one batch at a time: the first delivery and those that
 * follow within BATCH_LINGER_MS (up to MAILER_PREFETCH) are mailed
 * together, over up to MAILER_SMTP_SESSIONS SMTP sessions at once.
 * SIGTERM and SIGINT are held blocked except while the loop waits for the
 * broker, so a signal never interrupts a batch in hand: it is finished,
 * then the process exits 0 and the broker hands any prefetched deliveries
 * to another mailer.  When RabbitMQ or MariaDB goes away the loop backs off
 * and reconnects; nothing is acked that was not dealt with.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "cfg.h"
#include "db.h"
#include "log.h"
#include "mailer_consume.h"
#include "mailer_relay.h"
#include "mailer_cleanup.h"
#include "mq.h"
#include "tmpl.h"

#define WAIT_MS		1000	/* longest wait for a delivery */
/*
 * How long a batch waits for more after its first delivery.  The broker
 * refills the prefetch window only as acks come in, so what is buffered
 * at once is often a fraction of what waits in the queue; a moment's
 * patience keeps the batches, and the SMTP sessions they share, full.
 */
#define BATCH_LINGER_MS	3
#define RELAY_EVERY_MS	1000
#define CLEANUP_EVERY_MS (10 * 60 * 1000)
#define BACKOFF_MAX_MS	30000

static volatile sig_atomic_t	 stop;
static sigset_t			 stop_signals;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Milliseconds on a monotonic clock. */
static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Lets SIGTERM/SIGINT in (while idle) or holds them (while working). */
static void
signals_allow(int allow)
{
	sigprocmask(allow ? SIG_UNBLOCK : SIG_BLOCK, &stop_signals, NULL);
}

/* Sleeps ms, or less when a stop signal arrives. */
static void
idle_sleep(long long ms)
{
	struct timespec	 ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	signals_allow(1);
	if (!stop)
		(void)nanosleep(&ts, NULL);	/* EINTR ends it early */
	signals_allow(0);
}

/* Doubles a backoff delay up to its cap. */
static long long
backoff_next(long long ms)
{
	return ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms * 2;
}

/* Drops both broker connections (unacked deliveries go back). */
static void
mailer_disconnect(struct mailer *m)
{
	mq_close(m->in);
	mq_close(m->out);
	m->in = m->out = NULL;
}

/* Opens both broker connections and starts consuming.  Returns 0 or -1. */
static int
mailer_connect(struct mailer *m)
{
	size_t	 i;
	int	 prefetch = (int)cfg_int(CFG_MAILER_PREFETCH);

	if ((m->out = mq_open()) == NULL || (m->in = mq_open_consumer()) ==
	    NULL)
		goto err;
	for (i = 0; mq_event_queues[i] != NULL; i++)
		if (mq_consume(m->in, mq_event_queues[i], prefetch) == -1)
			goto err;
	log_kv(LOG_INFO, "mailer.connected", NULL);
	return 0;
err:
	mailer_disconnect(m);
	return -1;
}

int
main(void)
{
	struct sigaction	 sa;
	struct mailer		 m = { NULL, NULL };
	struct mq_delivery	*d;
	struct arena		*a;
	char			 err[256];
	long long		 mq_backoff = 1000, db_backoff = 1000;
	long long		 next_relay = 0, relay_backoff = RELAY_EVERY_MS;
	long long		 next_cleanup = 0, linger_end, left;
	int			 rc, published;
	size_t			 n, batch_max;

	if (cfg_load(CFG_PROG_MAILER, err, sizeof err) == -1) {
		fprintf(stderr, "reset-mailer: %s\n", err);
		return 2;
	}
	log_set_program("reset-mailer");
	tmpl_set_dir(cfg_str(CFG_TEMPLATE_DIR));

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1) {
		fprintf(stderr, "reset-mailer: sigaction: %s\n",
		    strerror(errno));
		return 1;
	}
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	signals_allow(0);

	a = arena_new();
	batch_max = (size_t)cfg_int(CFG_MAILER_PREFETCH);
	if ((d = calloc(batch_max, sizeof *d)) == NULL) {
		fprintf(stderr, "reset-mailer: out of memory\n");
		return 1;
	}
	log_kv(LOG_INFO, "mailer.start", NULL);
	while (!stop) {
		arena_reset(a);
		if (m.in == NULL) {
			if (mailer_connect(&m) == -1) {
				idle_sleep(mq_backoff);
				mq_backoff = backoff_next(mq_backoff);
				continue;
			}
			mq_backoff = 1000;
		}

		if (now_ms() >= next_relay) {
			switch (mailer_relay_run(m.out, a, &published)) {
			case RELAY_OK:
				relay_backoff = RELAY_EVERY_MS;
				break;
			case RELAY_DB_DOWN:
				relay_backoff = backoff_next(relay_backoff);
				break;
			case RELAY_BROKER_DOWN:
				relay_backoff = backoff_next(relay_backoff);
				next_relay = now_ms() + relay_backoff;
				mailer_disconnect(&m);
				continue;
			}
			next_relay = now_ms() + relay_backoff;
			arena_reset(a);
		}

		if (now_ms() >= next_cleanup) {
			mailer_cleanup_run(a);
			next_cleanup = now_ms() + CLEANUP_EVERY_MS;
			arena_reset(a);
		}

		signals_allow(1);
		rc = stop ? 0 : mq_next_delivery(m.in, a, WAIT_MS, &d[0]);
		signals_allow(0);
		/* Then what follows within the linger, up to a full batch. */
		n = rc == 1 ? 1 : 0;
		linger_end = now_ms() + BATCH_LINGER_MS;
		while (rc == 1 && n < batch_max) {
			left = linger_end - now_ms();
			if ((rc = mq_next_delivery(m.in, a, left > 0 ? (int)left :
			    0, &d[n])) == 1)
				n++;
		}
		if (rc == -1) {
			/* Nothing is acked: the broker delivers it all again. */
			mailer_disconnect(&m);
			continue;
		}
		if (n == 0)
			continue;

		switch (mailer_handle(&m, a, d, n)) {
		case MAILER_DONE:
			db_backoff = 1000;
			break;
		case MAILER_DB_DOWN:
			idle_sleep(db_backoff);
			db_backoff = backoff_next(db_backoff);
			break;
		case MAILER_BROKER_DOWN:
			mailer_disconnect(&m);
			break;
		}
	}

	log_kv(LOG_INFO, "mailer.stop", NULL);
	mailer_disconnect(&m);
	db_disconnect();
	arena_free(a);
	free(d);
	return 0;
}
