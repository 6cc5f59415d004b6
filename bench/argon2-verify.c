/*
 * argon2-verify: the raw rate of argon2id verifies (libsodium's
 * crypto_pwhash_str_verify) at the cost user-fcgi uses, on P processes:
 * the ceiling for POST /user/token.
 *
 *   argon2-verify [-p procs] [-t seconds]   prints "procs P verifies N seconds S rate R"
 *   argon2-verify --hash PASSWORD           prints an argon2id hash of PASSWORD
 *
 * Cost from ARGON2_OPSLIMIT / ARGON2_MEMLIMIT (user-fcgi's settings and
 * defaults: 2 passes, 64 MiB).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <sodium.h>

static long long
env_ll(const char *name, long long def)
{
	const char	*v = getenv(name);

	return v != NULL && *v != '\0' ? strtoll(v, NULL, 10) : def;
}

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	unsigned long long	 ops = (unsigned long long)env_ll("ARGON2_OPSLIMIT", 2);
	size_t			 mem = (size_t)env_ll("ARGON2_MEMLIMIT", 67108864);
	char			 hash[crypto_pwhash_STRBYTES];
	const char		*pw = "bench-password-1";
	int			 procs = 2, i, fds[2], status;
	double			 secs = 4, t0, t1, total_s = 0;
	long long		 total = 0;

	if (sodium_init() < 0)
		return 1;
	if (argc == 3 && strcmp(argv[1], "--hash") == 0) {
		if (crypto_pwhash_str(hash, argv[2], strlen(argv[2]), ops, mem))
			return 1;
		puts(hash);
		return 0;
	}
	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "-p") == 0)
			procs = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "-t") == 0)
			secs = atof(argv[i + 1]);
	}
	if (procs < 1 || secs <= 0) {
		fprintf(stderr, "usage: argon2-verify [-p procs] [-t seconds] | --hash PW\n");
		return 2;
	}
	if (crypto_pwhash_str(hash, pw, strlen(pw), ops, mem) != 0)
		return 1;
	if (pipe(fds) != 0)
		return 1;
	for (i = 0; i < procs; i++) {
		if (fork() == 0) {
			long long	n = 0;
			char		line[64];

			close(fds[0]);
			t0 = now_s();
			do {
				if (crypto_pwhash_str_verify(hash, pw,
				    strlen(pw)) != 0)
					_exit(1);
				n++;
			} while ((t1 = now_s()) - t0 < secs);
			snprintf(line, sizeof(line), "%lld %.6f\n", n, t1 - t0);
			if (write(fds[1], line, strlen(line)) < 0)
				_exit(1);
			_exit(0);
		}
	}
	close(fds[1]);
	{
		FILE		*f = fdopen(fds[0], "r");
		long long	 n;
		double		 s;
		double		 rate = 0;

		while (f != NULL && fscanf(f, "%lld %lf", &n, &s) == 2) {
			total += n;
			total_s += s;
			rate += (double)n / s;
		}
		while (wait(&status) > 0)
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				return 1;
		printf("procs %d opslimit %llu memlimit %zu verifies %lld "
		    "seconds %.3f rate %.3f\n", procs, ops, mem, total,
		    total_s / procs, rate);
	}
	return 0;
}
