/*
 * mail_send_batch against a fake SMTP server (a forked child on loopback):
 * with one session a batch is one connection; each message gets its own
 * outcome (a refused recipient does not sink the others); a message the
 * server took stays sent when the connection drops after it; a batch is
 * spread over MAILER_SMTP_SESSIONS connections, each message sent once;
 * no server is a transient failure for all; a bad address is refused
 * without connecting.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "cfg.h"
#include "check.h"
#include "mail.h"

#define ITEMS_MAX	5

/* How the fake server behaves. */
enum fake_mode {
	FAKE_NORMAL,		/* 550 for a recipient with "reject" */
	FAKE_DROP_AFTER_ONE	/* closes after accepting one message */
};

/* What the fake server saw, sent back to the test through a pipe. */
struct fake_seen {
	int	connections;
	int	mails;		/* MAIL FROM commands */
	int	accepted;	/* messages answered 250 after DATA */
};

static int
fake_line(FILE *in, char *line, size_t max)
{
	return fgets(line, (int)max, in) != NULL;
}

/* Serves one connection; returns -1 when it hung up on purpose. */
static int
fake_session(int fd, enum fake_mode mode, struct fake_seen *seen)
{
	FILE	*in = fdopen(dup(fd), "r"), *out = fdopen(dup(fd), "w");
	char	 line[1024];
	int	 rc = 0, rcpts = 0;

	setvbuf(out, NULL, _IONBF, 0);
	fprintf(out, "220 fake ESMTP\r\n");
	while (fake_line(in, line, sizeof line)) {
		if (strncasecmp(line, "EHLO", 4) == 0 ||
		    strncasecmp(line, "HELO", 4) == 0)
			fprintf(out, "250 fake\r\n");
		else if (strncasecmp(line, "MAIL", 4) == 0) {
			seen->mails++;
			rcpts = 0;
			fprintf(out, "250 ok\r\n");
		} else if (strncasecmp(line, "RCPT", 4) == 0) {
			if (strstr(line, "reject") != NULL)
				fprintf(out, "550 5.1.1 no such user\r\n");
			else {
				rcpts++;
				fprintf(out, "250 ok\r\n");
			}
		} else if (strncasecmp(line, "DATA", 4) == 0 && rcpts == 0)
			/* As real servers do (RFC 5321, section 3.3). */
			fprintf(out, "554 5.5.1 no valid recipients\r\n");
		else if (strncasecmp(line, "DATA", 4) == 0) {
			fprintf(out, "354 go on\r\n");
			while (fake_line(in, line, sizeof line) &&
			    strcmp(line, ".\r\n") != 0)
				;
			seen->accepted++;
			fprintf(out, "250 2.0.0 stored\r\n");
			if (mode == FAKE_DROP_AFTER_ONE) {
				rc = -1;
				break;
			}
		} else if (strncasecmp(line, "RSET", 4) == 0 ||
		    strncasecmp(line, "NOOP", 4) == 0)
			fprintf(out, "250 ok\r\n");
		else if (strncasecmp(line, "QUIT", 4) == 0) {
			fprintf(out, "221 bye\r\n");
			break;
		} else
			fprintf(out, "500 what\r\n");
	}
	fclose(in);
	fclose(out);
	return rc;
}

/*
 * Forks a fake server on a free loopback port.  It serves connections
 * until none comes for a moment after the last, then writes what it saw
 * to *report_fd.  Returns its pid.
 */
static pid_t
fake_start(enum fake_mode mode, int *port, int *report_fd)
{
	struct sockaddr_in	 sa;
	struct pollfd		 pfd;
	socklen_t		 len = sizeof sa;
	struct fake_seen	 seen = { 0, 0, 0 };
	int			 ls, fd, p[2], one = 1;
	pid_t			 pid;

	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(ls, 4) != 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &len) != 0 ||
	    pipe(p) != 0)
		abort();
	*port = ntohs(sa.sin_port);
	if ((pid = fork()) == 0) {
		close(p[0]);
		pfd.fd = ls;
		pfd.events = POLLIN;
		while (poll(&pfd, 1, seen.connections == 0 ? 10000 : 300) ==
		    1 && (fd = accept(ls, NULL, NULL)) >= 0) {
			seen.connections++;
			(void)fake_session(fd, mode, &seen);
			close(fd);
		}
		if (write(p[1], &seen, sizeof seen) != sizeof seen)
			_exit(1);
		_exit(0);
	}
	close(ls);
	close(p[1]);
	*report_fd = p[0];
	return pid;
}

/* The fake server's last report once it is done. */
static struct fake_seen
fake_wait(pid_t pid, int report_fd)
{
	struct fake_seen	 seen = { -1, -1, -1 }, s;

	while (read(report_fd, &s, sizeof s) == sizeof s)
		seen = s;
	close(report_fd);
	waitpid(pid, NULL, 0);
	return seen;
}

static void
set_port(int port, int sessions)
{
	char	 s[16];

	snprintf(s, sizeof s, "%d", sessions);
	setenv("MAILER_SMTP_SESSIONS", s, 1);
	snprintf(s, sizeof s, "%d", port);
	setenv("SMTP_PORT", s, 1);
	CHECK(cfg_load(CFG_PROG_MAILER, s, sizeof s) == 0);
}

/* Sends msg to each of the NULL-terminated rcpts, in one batch. */
static void
send_to(struct mail_item *items, const struct buf *msg, const char **rcpts)
{
	size_t	 n;

	memset(items, 0, ITEMS_MAX * sizeof *items);
	for (n = 0; rcpts[n] != NULL; n++) {
		items[n].rcpt = rcpts[n];
		items[n].msg = msg;
	}
	mail_send_batch(items, n);
}

int
main(void)
{
	struct mail_item	 items[ITEMS_MAX];
	struct fake_seen	 seen;
	struct buf		 msg;
	int			 port, report;
	pid_t			 pid;

	signal(SIGPIPE, SIG_IGN);
	setenv("DB_USER", "micro", 1);
	setenv("MAIL_FROM", "Micro User <noreply@example.com>", 1);
	setenv("SMTP_HOST", "127.0.0.1", 1);
	buf_init(&msg);
	buf_puts(&msg, "Subject: hi\r\n\r\nhello\r\n");

	/* Three messages, one connection; the refused one alone fails. */
	pid = fake_start(FAKE_NORMAL, &port, &report);
	set_port(port, 1);
	send_to(items, &msg, (const char *[]){ "alice@example.com",
	    "reject@example.com", "bob@example.com", NULL });
	seen = fake_wait(pid, report);
	CHECK(seen.connections == 1);
	CHECK(seen.mails == 3);
	CHECK(seen.accepted == 2);
	CHECK(items[0].res.status == MAIL_SENT && items[0].res.code == 250);
	CHECK(items[1].res.status == MAIL_PERMANENT &&
	    items[1].res.code == 550);
	CHECK(strstr(items[1].res.reply, "no such user") != NULL);
	CHECK(items[2].res.status == MAIL_SENT && items[2].res.code == 250);

	/* The connection drops after the first: it stays sent. */
	pid = fake_start(FAKE_DROP_AFTER_ONE, &port, &report);
	set_port(port, 1);
	send_to(items, &msg, (const char *[]){ "alice@example.com",
	    "bob@example.com", NULL });
	seen = fake_wait(pid, report);
	CHECK(seen.connections == 1 && seen.accepted == 1);
	CHECK(items[0].res.status == MAIL_SENT);
	CHECK(items[1].res.status == MAIL_TRANSIENT);
	CHECK(items[1].res.reply[0] != '\0');

	/* Five messages over two sessions (threads): 3 + 2, each sent once. */
	pid = fake_start(FAKE_NORMAL, &port, &report);
	set_port(port, 2);
	send_to(items, &msg, (const char *[]){ "a@example.com",
	    "b@example.com", "reject@example.com", "d@example.com",
	    "e@example.com", NULL });
	seen = fake_wait(pid, report);
	CHECK(seen.connections == 2);
	CHECK(seen.mails == 5);
	CHECK(seen.accepted == 4);
	CHECK(items[0].res.status == MAIL_SENT);
	CHECK(items[1].res.status == MAIL_SENT);
	CHECK(items[2].res.status == MAIL_PERMANENT);
	CHECK(items[3].res.status == MAIL_SENT);
	CHECK(items[4].res.status == MAIL_SENT);

	/* More sessions than messages: one connection a message. */
	pid = fake_start(FAKE_NORMAL, &port, &report);
	set_port(port, 8);
	send_to(items, &msg, (const char *[]){ "a@example.com",
	    "b@example.com", NULL });
	seen = fake_wait(pid, report);
	CHECK(seen.connections == 2 && seen.accepted == 2);
	CHECK(items[0].res.status == MAIL_SENT);
	CHECK(items[1].res.status == MAIL_SENT);

	/* Nobody listening: every message is a transient failure. */
	pid = fake_start(FAKE_NORMAL, &port, &report);
	kill(pid, SIGKILL);
	(void)fake_wait(pid, report);
	set_port(port, 2);
	send_to(items, &msg, (const char *[]){ "alice@example.com",
	    "bob@example.com", NULL });
	CHECK(items[0].res.status == MAIL_TRANSIENT);
	CHECK(items[1].res.status == MAIL_TRANSIENT);
	CHECK(items[0].res.reply[0] != '\0');

	/* A bad address is refused for good, without a connection. */
	send_to(items, &msg, (const char *[]){ "not an address", NULL });
	CHECK(items[0].res.status == MAIL_PERMANENT);
	CHECK(strcmp(items[0].res.reply, "invalid address") == 0);

	buf_free(&msg);
	return check_done("test-mail-batch");
}
