/*
 * Configuration from the environment (see cfg.h).  One table row per
 * setting, indexed by enum cfg_key, kcgi-style.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

#define BOTH	(CFG_PROG_FCGI | CFG_PROG_MAILER)
#define FCGI	CFG_PROG_FCGI
#define MAILER	CFG_PROG_MAILER
#define NOINT	1, 0		/* min > max: not a number */

struct cfg_row {
	const char	*name;
	const char	*def;		/* NULL: required by the programs in req */
	int		 req;
	int		 secret;	/* also read from NAME_FILE */
	long long	 min, max;
};

static const struct cfg_row cfg_rows[CFG__MAX] = {
	{ "DB_HOST", "127.0.0.1", 0, 0, NOINT },		/* CFG_DB_HOST */
	{ "DB_PORT", "3306", 0, 0, 1, 65535 },			/* CFG_DB_PORT */
	{ "DB_SOCKET", "", 0, 0, NOINT },			/* CFG_DB_SOCKET */
	{ "DB_DATABASE", "micro_user", 0, 0, NOINT },		/* CFG_DB_DATABASE */
	{ "DB_USER", NULL, BOTH, 0, NOINT },			/* CFG_DB_USER */
	{ "DB_PASSWORD", "", 0, 1, NOINT },			/* CFG_DB_PASSWORD */
	{ "AMQP_HOST", "127.0.0.1", 0, 0, NOINT },		/* CFG_AMQP_HOST */
	{ "AMQP_PORT", "5672", 0, 0, 1, 65535 },		/* CFG_AMQP_PORT */
	{ "AMQP_USER", "guest", 0, 0, NOINT },			/* CFG_AMQP_USER */
	{ "AMQP_PASSWORD", "guest", 0, 1, NOINT },		/* CFG_AMQP_PASSWORD */
	{ "AMQP_VHOST", "/", 0, 0, NOINT },			/* CFG_AMQP_VHOST */
	{ "AMQP_EXCHANGE", "micro-user", 0, 0, NOINT },		/* CFG_AMQP_EXCHANGE */
	{ "AMQP_QUEUE_TYPE", "classic", 0, 0, NOINT },		/* CFG_AMQP_QUEUE_TYPE */
	{ "PUBLIC_BASE_URL", NULL, FCGI, 0, NOINT },		/* CFG_PUBLIC_BASE_URL */
	{ "JWT_SECRET", NULL, FCGI, 1, NOINT },			/* CFG_JWT_SECRET */
	{ "JWT_ISSUER", "micro-user", 0, 0, NOINT },		/* CFG_JWT_ISSUER */
	{ "JWT_TTL", "3600", 0, 0, 60, 31 * 86400 },		/* CFG_JWT_TTL */
	{ "RESET_TOKEN_TTL", "3600", 0, 0, 1, 7 * 86400 },	/* CFG_RESET_TOKEN_TTL */
	{ "ARGON2_OPSLIMIT", "2", 0, 0, 1, 64 },		/* CFG_ARGON2_OPSLIMIT */
	{ "ARGON2_MEMLIMIT", "67108864", 0, 0, 8192, 4LL << 30 },/* CFG_ARGON2_MEMLIMIT */
	{ "BODY_LIMIT", "65536", 0, 0, 1024, 16 << 20 },	/* CFG_BODY_LIMIT */
	{ "COOKIE_SECURE", "1", 0, 0, 0, 1 },			/* CFG_COOKIE_SECURE */
	{ "TEMPLATE_DIR", "templates", 0, 0, NOINT },		/* CFG_TEMPLATE_DIR */
	{ "SMTP_HOST", "127.0.0.1", 0, 0, NOINT },		/* CFG_SMTP_HOST */
	{ "SMTP_PORT", "25", 0, 0, 1, 65535 },			/* CFG_SMTP_PORT */
	{ "SMTP_STARTTLS", "no", 0, 0, NOINT },			/* CFG_SMTP_STARTTLS */
	{ "SMTP_USER", "", 0, 0, NOINT },			/* CFG_SMTP_USER */
	{ "SMTP_PASSWORD", "", 0, 1, NOINT },			/* CFG_SMTP_PASSWORD */
	{ "MAIL_FROM", NULL, MAILER, 0, NOINT },		/* CFG_MAIL_FROM */
	{ "MAIL_UNKNOWN_NOTICE", "0", 0, 0, 0, 1 },		/* CFG_MAIL_UNKNOWN_NOTICE */
	{ "MAILER_PREFETCH", "64", 0, 0, 1, 1000 },		/* CFG_MAILER_PREFETCH */
	{ "MAILER_SMTP_SESSIONS", "4", 0, 0, 1, 32 },		/* CFG_MAILER_SMTP_SESSIONS */
	{ "MAILER_MAX_ATTEMPTS", "6", 0, 0, 1, 100 },		/* CFG_MAILER_MAX_ATTEMPTS */
	{ "MAILER_RETRY_BASE", "2", 0, 0, 1, 3600 },		/* CFG_MAILER_RETRY_BASE */
	{ "OUTBOX_RELAY_AGE", "10", 0, 0, 1, 86400 },		/* CFG_OUTBOX_RELAY_AGE */
	{ "THROTTLE_FORGOT_ADDR_MINUTE", "1", 0, 0, 1, 1000000 },
						/* CFG_THROTTLE_FORGOT_ADDR_MINUTE */
	{ "THROTTLE_FORGOT_ADDR_HOUR", "5", 0, 0, 1, 1000000 },
						/* CFG_THROTTLE_FORGOT_ADDR_HOUR */
	{ "THROTTLE_FORGOT_IP_HOUR", "50", 0, 0, 1, 1000000 },
						/* CFG_THROTTLE_FORGOT_IP_HOUR */
	{ "THROTTLE_LOGIN_ACCOUNT", "10", 0, 0, 1, 1000000 },
						/* CFG_THROTTLE_LOGIN_ACCOUNT */
	{ "THROTTLE_LOGIN_IP", "50", 0, 0, 1, 1000000 },
						/* CFG_THROTTLE_LOGIN_IP */
	{ "THROTTLE_TOKEN_IP", "20", 0, 0, 1, 1000000 },
						/* CFG_THROTTLE_TOKEN_IP */
};

static char		*cfg_values[CFG__MAX];
static long long	 cfg_ints[CFG__MAX];

/*
 * Reads a secret from the file named by NAME_FILE, without the trailing
 * newline that editors and `echo` add.  Returns NULL on error.
 */
static char *
cfg_read_file(const char *path)
{
	FILE	*f;
	char	*s = NULL;
	size_t	 cap = 0, len = 0, n;

	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	for (;;) {
		char	*p;

		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > (1 << 20) || (p = realloc(s, cap)) == NULL) {
				free(s);
				fclose(f);
				return NULL;
			}
			s = p;
		}
		if ((n = fread(s + len, 1, 4096, f)) == 0)
			break;
		len += n;
	}
	fclose(f);
	if (s == NULL && (s = malloc(1)) == NULL)
		return NULL;
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	s[len] = '\0';
	return s;
}

/* Is setting k one of the given words (c may be NULL)? */
static int
cfg_one_of(enum cfg_key k, const char *a, const char *b, const char *c)
{
	const char	*v = cfg_values[k];

	return strcmp(v, a) == 0 || strcmp(v, b) == 0 ||
	    (c != NULL && strcmp(v, c) == 0);
}

int
cfg_load(enum cfg_program prog, char *err, size_t errlen)
{
	size_t	 i;

	for (i = 0; i < CFG__MAX; i++) {
		const struct cfg_row	*row = &cfg_rows[i];
		const char		*v = getenv(row->name);
		char			*val = NULL, fname[64];

		free(cfg_values[i]);
		cfg_values[i] = NULL;
		if (row->secret) {
			const char *path;

			snprintf(fname, sizeof(fname), "%s_FILE", row->name);
			path = getenv(fname);
			if (path != NULL && *path != '\0' &&
			    (v == NULL || *v == '\0')) {
				if ((val = cfg_read_file(path)) == NULL) {
					snprintf(err, errlen, "%s: cannot read "
					    "%s: %s", fname, path,
					    strerror(errno));
					return -1;
				}
			}
		}
		if (val == NULL && v != NULL && *v != '\0')
			val = strdup(v);
		if (val == NULL && row->def == NULL && (row->req & prog)) {
			snprintf(err, errlen, "%s is required but not set%s",
			    row->name, row->secret ? " (nor its _FILE)" : "");
			return -1;
		}
		if (val == NULL)
			val = strdup(row->def != NULL ? row->def : "");
		if (val == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		cfg_values[i] = val;
		if (row->min <= row->max) {
			char		*end;
			long long	 n;

			errno = 0;
			n = strtoll(val, &end, 10);
			/* Digits only: no sign, no blanks. */
			if (errno != 0 || end == val || *end != '\0' ||
			    val[0] < '0' || val[0] > '9' ||
			    n < row->min || n > row->max) {
				snprintf(err, errlen, "%s must be a whole "
				    "number from %lld to %lld", row->name,
				    row->min, row->max);
				return -1;
			}
			cfg_ints[i] = n;
		}
	}
	if (!cfg_one_of(CFG_SMTP_STARTTLS, "no", "try", "required")) {
		snprintf(err, errlen, "SMTP_STARTTLS must be no, try or "
		    "required");
		return -1;
	}
	if (!cfg_one_of(CFG_AMQP_QUEUE_TYPE, "classic", "quorum", NULL)) {
		snprintf(err, errlen, "AMQP_QUEUE_TYPE must be classic or "
		    "quorum");
		return -1;
	}
	if ((prog & CFG_PROG_FCGI) && strlen(cfg_values[CFG_JWT_SECRET]) < 32) {
		snprintf(err, errlen, "JWT_SECRET must be at least 32 bytes");
		return -1;
	}
	return 0;
}

const char *
cfg_str(enum cfg_key k)
{
	return cfg_values[k] != NULL ? cfg_values[k] : "";
}

long long
cfg_int(enum cfg_key k)
{
	return cfg_ints[k];
}

const char *
cfg_name(enum cfg_key k)
{
	return cfg_rows[k].name;
}
