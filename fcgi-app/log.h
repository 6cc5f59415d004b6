/*
 * Structured logging: one JSON object per line on stderr, with time,
 * level, pid, the request id nginx passed (when in a request) and the
 * fields given.  Callers pass only what is safe to keep: never a
 * password, hash, token or secret.
 */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR
};

void	log_set_program(const char *);

/* The current UTC time as 2026-12-03T19:30:00.123Z (out: 64 bytes). */
void	log_now_iso(char *out, size_t outlen);
void	log_set_request_id(const char *);

/*
 * Writes one line: level, event name, then key/value string pairs ending
 * with NULL, e.g. log_kv(LOG_INFO, "user.created", "user_id", "42", NULL).
 */
void	log_kv(enum log_level, const char *event, ...)
	    __attribute__((sentinel));

#endif
