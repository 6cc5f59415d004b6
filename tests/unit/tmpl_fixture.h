/*
 * Helpers shared by the test-tmpl-*.c programs: render a template with a
 * context written as JSON text and get the output, or "ERR: <message>",
 * as one string that CHECK_STR can compare.
 */
#ifndef TMPL_FIXTURE_H
#define TMPL_FIXTURE_H

#include <stdio.h>

#include <json-c/json.h>

#include "buf.h"
#include "tmpl.h"

#define FIXTURE_DIR	"tests/unit/templates"

static struct buf	fixture_out;
static char		fixture_err[1024];
static char		fixture_msg[1100];

/* Renders name in locale with ctx_json (NULL: no context). */
static const char *
render(const char *name, const char *locale, const char *ctx_json)
{
	struct json_object	*ctx = NULL;
	int			 rc;

	if (ctx_json != NULL && (ctx = json_tokener_parse(ctx_json)) == NULL)
		return "BAD TEST JSON";
	buf_reset(&fixture_out);
	fixture_err[0] = '\0';
	rc = tmpl_render(name, locale, ctx, &fixture_out, fixture_err,
	    sizeof(fixture_err));
	json_object_put(ctx);
	if (rc == -1) {
		snprintf(fixture_msg, sizeof(fixture_msg), "ERR: %s",
		    fixture_err);
		return fixture_msg;
	}
	return fixture_out.data;
}

/* Releases what the helpers and the engine hold (ASan's leak check). */
static void
fixture_done(void)
{
	buf_free(&fixture_out);
	tmpl_free();
}

#endif
