/*
 * smtp-blast: a plain SMTP client that pushes one message as fast as it can
 * into a server, to measure the server's (the sink's) own ceiling; make
 * bench's stand-in for Postfix's smtp-source (postfix conflicts with the
 * MTA Debian installs by default).
 *
 *   smtp-blast -p PORT -n TOTAL [-s SESSIONS] [-c] [-H HOST] -f MESSAGE
 *
 * SESSIONS processes each send their share of TOTAL messages; by default a
 * session keeps one connection for all its messages (EHLO once, then MAIL,
 * RCPT, DATA per message), with -c it opens a connection per message as
 * reset-mailer does.  MESSAGE is sent as is (CRLF line ends, dot-stuffed).
 * Prints "messages N seconds S rate R"; exits 1 on any reply not 2xx/3xx.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char	rbuf[8192];
static size_t	rlen, rpos;

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
getline_fd(int fd, char *line, size_t max)
{
	size_t	n = 0;
	ssize_t	got;

	for (;;) {
		if (rpos == rlen) {
			if ((got = read(fd, rbuf, sizeof(rbuf))) <= 0)
				return -1;
			rlen = (size_t)got;
			rpos = 0;
		}
		char c = rbuf[rpos++];
		if (n + 1 < max)
			line[n++] = c;
		if (c == '\n')
			break;
	}
	line[n] = '\0';
	return 0;
}

/* Reads one (possibly multi-line) reply; returns its code or -1. */
static int
reply(int fd)
{
	char	line[1024];

	do {
		if (getline_fd(fd, line, sizeof(line)) != 0 ||
		    strlen(line) < 4)
			return -1;
	} while (line[3] == '-');
	return atoi(line);
}

static int
send_all(int fd, const char *s, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(fd, s, n)) <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
cmd(int fd, const char *s, int want)
{
	int	code;

	if (send_all(fd, s, strlen(s)) != 0 || (code = reply(fd)) < 0)
		return -1;
	if (code / 100 != want) {
		fprintf(stderr, "smtp-blast: %.*s -> %d\n",
		    (int)strcspn(s, "\r"), s, code);
		return -1;
	}
	return 0;
}

static int
open_session(const char *host, int port)
{
	struct sockaddr_in	sin;
	int			fd, one = 1;

	rlen = rpos = 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return -1;
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    reply(fd) != 220 || cmd(fd, "EHLO blast.localhost\r\n", 2) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
one_message(int fd, const char *msg, size_t len)
{
	return cmd(fd, "MAIL FROM:<blast@localhost>\r\n", 2) != 0 ||
	    cmd(fd, "RCPT TO:<sink@bench.example>\r\n", 2) != 0 ||
	    cmd(fd, "DATA\r\n", 3) != 0 || send_all(fd, msg, len) != 0 ||
	    cmd(fd, ".\r\n", 2) != 0 ? -1 : 0;
}

/* The message with CRLF line ends, dot-stuffed, ending in CRLF. */
static char *
load_message(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "rb");
	char	*out;
	size_t	 n = 0, cap = 1 << 16;
	int	 c, bol = 1, prev = 0;

	if (f == NULL || (out = malloc(cap)) == NULL)
		return NULL;
	while ((c = getc(f)) != EOF) {
		if (n + 4 >= cap && (out = realloc(out, cap *= 2)) == NULL)
			return NULL;
		if (bol && c == '.')
			out[n++] = '.';
		if (c == '\n' && prev != '\r')
			out[n++] = '\r';
		out[n++] = (char)c;
		bol = c == '\n';
		prev = c;
	}
	fclose(f);
	if (!bol) {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	*len = n;
	return out;
}

int
main(int argc, char *argv[])
{
	const char	*host = "127.0.0.1", *file = NULL;
	int		 port = 0, sessions = 1, per_conn = 0, opt, i, fds[2];
	int		 status, failed = 0;
	long		 total = 0, sent = 0, got;
	char		*msg;
	size_t		 len;
	double		 t0, t1;

	while ((opt = getopt(argc, argv, "H:p:n:s:cf:")) != -1) {
		switch (opt) {
		case 'H': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'n': total = atol(optarg); break;
		case 's': sessions = atoi(optarg); break;
		case 'c': per_conn = 1; break;
		case 'f': file = optarg; break;
		default: goto usage;
		}
	}
	if (port <= 0 || total <= 0 || sessions <= 0 || file == NULL)
		goto usage;
	if ((msg = load_message(file, &len)) == NULL) {
		perror(file);
		return 1;
	}
	if (pipe(fds) != 0)
		return 1;
	t0 = now_s();
	for (i = 0; i < sessions; i++) {
		long	mine = total / sessions + (i < total % sessions), n = 0;
		int	fd = -1;

		if (fork() != 0)
			continue;
		close(fds[0]);
		while (n < mine) {
			if (fd < 0 && (fd = open_session(host, port)) < 0)
				break;
			if (one_message(fd, msg, len) != 0)
				break;
			n++;
			if (per_conn || n == mine) {
				(void)cmd(fd, "QUIT\r\n", 2);
				close(fd);
				fd = -1;
			}
		}
		if (write(fds[1], &n, sizeof(n)) != sizeof(n))
			_exit(1);
		_exit(n == mine ? 0 : 1);
	}
	close(fds[1]);
	while (read(fds[0], &got, sizeof(got)) == sizeof(got))
		sent += got;
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	t1 = now_s();
	printf("messages %ld seconds %.3f rate %.1f sessions %d %s bytes %zu\n",
	    sent, t1 - t0, (double)sent / (t1 - t0), sessions,
	    per_conn ? "connection-per-message" : "reused-connections", len);
	return failed;
usage:
	fprintf(stderr, "usage: smtp-blast -p PORT -n TOTAL [-s SESSIONS] [-c] "
	    "[-H HOST] -f MESSAGE\n");
	return 2;
}
