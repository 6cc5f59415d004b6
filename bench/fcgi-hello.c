/*
 * fcgi-hello: the smallest useful libfcgi responder, the ceiling for any
 * FastCGI application behind the same nginx (make bench runs it under
 * spawn-fcgi + multiwatch with the app's worker count).  Like user-fcgi it
 * accepts on fd 0 with the re-entrant FCGX_* API, reads the request body if
 * there is one, and answers a short text body.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

static volatile sig_atomic_t	stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

int
main(void)
{
	FCGX_Request		 fr;
	struct sigaction	 sa;
	char			 sink[4096];
	const char		*cl;
	long			 left;
	int			 n;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	if (FCGX_Init() != 0 ||
	    FCGX_InitRequest(&fr, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
		return 1;
	while (!stopping && FCGX_Accept_r(&fr) >= 0) {
		if ((cl = FCGX_GetParam("CONTENT_LENGTH", fr.envp)) != NULL) {
			for (left = strtol(cl, NULL, 10); left > 0; left -= n)
				if ((n = FCGX_GetStr(sink, left < (long)sizeof(sink) ?
				    (int)left : (int)sizeof(sink), fr.in)) <= 0)
					break;
		}
		FCGX_PutS("Status: 200 OK\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Cache-Control: no-store\r\n"
		    "\r\n"
		    "hello\n", fr.out);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 1);
	return 0;
}
