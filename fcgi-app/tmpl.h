/*
 * A small template engine over templates/ (mustache-like):
 *   {{name}}        a value, escaped for HTML in .html templates
 *   {{{name}}}      raw output (greppable on purpose: use sparingly)
 *   {{a.b}}         dotted lookup into nested objects
 *   {{#name}}..{{/name}}  section: repeated for each array element,
 *                   shown once for a true/non-empty value, hidden otherwise
 *   {{^name}}..{{/name}}  inverted section
 *   {{> partial}}   include templates/<kind>/partial (same kind of file)
 * The data model is a json-c object.  The locale's strings
 * (templates/locale/<locale>.json) are visible as {{t.key}}.
 * A missing variable or template is an error, never a crash.
 */
#ifndef TMPL_H
#define TMPL_H

#include <stddef.h>

struct buf;
struct json_object;

/* Locales we ship; the first is the default. */
extern const char *const tmpl_locales[];

/*
 * Renders templates/<name> (e.g. "html/forgot.html", "email/reset.txt")
 * with ctx in the given locale, appending to out.  Returns 0, or -1 with
 * a message in err.
 */
int	tmpl_render(const char *name, const char *locale,
	    struct json_object *ctx, struct buf *out, char *err, size_t errlen);

/* Picks a shipped locale from an Accept-Language header (NULL allowed). */
const char *tmpl_locale_pick(const char *accept_language);

#endif
