/*
 * One JSON object per line on stderr (see log.h).  json-c does the
 * escaping, so a hostile value cannot forge a second line or field.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"

static const char	*log_program = "micro-user";
static char		 log_request_id[64];

static const char *const log_levels[] = {
	"debug",	/* LOG_DEBUG */
	"info",		/* LOG_INFO */
	"warn",		/* LOG_WARN */
	"error",	/* LOG_ERROR */
};

void
log_set_program(const char *name)
{
	log_program = name;
}

/* Remembers the request id for every line until the next request. */
void
log_set_request_id(const char *id)
{
	if (id == NULL)
		id = "";
	snprintf(log_request_id, sizeof(log_request_id), "%s", id);
}

void
log_now_iso(char *out, size_t outlen)
{
	struct timeval	tv;
	struct tm	tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
}

void
log_kv(enum log_level level, const char *event, ...)
{
	struct json_object	*o;
	char			 ts[64];
	const char		*k, *v;
	va_list			 ap;

	if ((o = json_object_new_object()) == NULL)
		return;
	log_now_iso(ts, sizeof(ts));
	json_object_object_add(o, "ts", json_object_new_string(ts));
	json_object_object_add(o, "level",
	    json_object_new_string(log_levels[level]));
	json_object_object_add(o, "prog", json_object_new_string(log_program));
	json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
	if (log_request_id[0] != '\0')
		json_object_object_add(o, "request_id",
		    json_object_new_string(log_request_id));
	json_object_object_add(o, "event", json_object_new_string(event));
	va_start(ap, event);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		json_object_object_add(o, k,
		    v != NULL ? json_object_new_string(v) : NULL);
	}
	va_end(ap);
	fprintf(stderr, "%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stderr);
	json_object_put(o);
}
