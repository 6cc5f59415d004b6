/*
 * Configuration from the environment.  Every key has one row in the table
 * in cfg.c (name, default, which programs require it, whether it is a
 * secret with a _FILE variant, and integer bounds).  cfg_load() reads them
 * all once at start; a missing required setting or a malformed number is
 * an error naming the variable.
 */
#ifndef CFG_H
#define CFG_H

enum cfg_key {
	CFG_DB_HOST,
	CFG_DB_PORT,
	CFG_DB_SOCKET,
	CFG_DB_DATABASE,
	CFG_DB_USER,
	CFG_DB_PASSWORD,
	CFG_AMQP_HOST,
	CFG_AMQP_PORT,
	CFG_AMQP_USER,
	CFG_AMQP_PASSWORD,
	CFG_AMQP_VHOST,
	CFG_AMQP_EXCHANGE,
	CFG_AMQP_QUEUE_TYPE,
	CFG_PUBLIC_BASE_URL,
	CFG_JWT_SECRET,
	CFG_JWT_ISSUER,
	CFG_JWT_TTL,
	CFG_RESET_TOKEN_TTL,
	CFG_ARGON2_OPSLIMIT,
	CFG_ARGON2_MEMLIMIT,
	CFG_BODY_LIMIT,
	CFG_COOKIE_SECURE,
	CFG_TEMPLATE_DIR,
	CFG_SMTP_HOST,
	CFG_SMTP_PORT,
	CFG_SMTP_STARTTLS,
	CFG_SMTP_USER,
	CFG_SMTP_PASSWORD,
	CFG_MAIL_FROM,
	CFG_MAIL_UNKNOWN_NOTICE,
	CFG_MAILER_PREFETCH,
	CFG_MAILER_SMTP_SESSIONS,
	CFG_MAILER_MAX_ATTEMPTS,
	CFG_MAILER_RETRY_BASE,
	CFG_OUTBOX_RELAY_AGE,
	CFG_THROTTLE_FORGOT_ADDR_MINUTE,
	CFG_THROTTLE_FORGOT_ADDR_HOUR,
	CFG_THROTTLE_FORGOT_IP_HOUR,
	CFG_THROTTLE_LOGIN_ACCOUNT,
	CFG_THROTTLE_LOGIN_IP,
	CFG_THROTTLE_TOKEN_IP,
	CFG__MAX
};

/* Which program is loading: decides which settings are required. */
enum cfg_program {
	CFG_PROG_FCGI = 1,
	CFG_PROG_MAILER = 2
};

/*
 * Loads every setting from the environment.  Returns 0, or -1 with a
 * message naming the offending variable in err.
 */
int		 cfg_load(enum cfg_program, char *err, size_t errlen);

/* The value of a setting (never NULL after a successful cfg_load). */
const char	*cfg_str(enum cfg_key);
long long	 cfg_int(enum cfg_key);
const char	*cfg_name(enum cfg_key);

#endif
