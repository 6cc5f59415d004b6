/*
 * A small template engine over templates/ (mustache-like):
 *   {{name}}        a value, escaped for HTML (& < > " ') unless the
 *                   template is a .txt file (plain-text email bodies)
 *   {{{name}}}      raw output (greppable on purpose: use sparingly)
 *   {{a.b}}         dotted lookup into nested objects; {{.}} is the
 *                   current element inside a section
 *   {{#name}}..{{/name}}  section: repeated for each array element,
 *                   shown once (with the value as context) for true, a
 *                   non-empty string, a non-zero number or an object;
 *                   hidden for false, null, missing, [] , "" and 0
 *   {{^name}}..{{/name}}  inverted section
 *   {{> partial}}   include templates/<same dir>/partial (nested at most
 *                   TMPL_PARTIAL_DEPTH deep)
 *   {{! comment}}   nothing (may span lines)
 * A line holding only a section, comment or partial tag (and blanks)
 * leaves no empty line behind.
 *
 * The data model is a json-c object.  Names resolve in the innermost
 * section's element first, then outward, then in two built-ins:
 *   {{t.key}}       the locale's strings (templates/locale/<locale>.json,
 *                   a flat object of strings; keys missing from a locale
 *                   fall back to en).  "t" is reserved for this.
 *   {{locale}}      the locale being rendered, unless ctx has its own.
 * Numbers and booleans render as text, null as nothing.  A missing
 * variable in {{x}} or {{{x}}}, an object or array in {{x}}, a missing
 * template and a syntax error are errors naming the file and line, never
 * a crash.
 *
 * Files are read and parsed once per process and kept (a few kilobytes):
 * workers render the same few templates thousands of times.  Not
 * thread-safe; each worker process is single-threaded.
 */
#ifndef TMPL_H
#define TMPL_H

#include <stddef.h>

struct buf;
struct json_object;

#define TMPL_PARTIAL_DEPTH	8

/* Locales we ship; the first is the default. */
extern const char *const tmpl_locales[];

/*
 * Sets the template directory (copied) and forgets every cached file.
 * Programs call it at start with cfg_str(CFG_TEMPLATE_DIR); tests point
 * it at fixtures.  Until it is called the directory is "templates".
 */
void	tmpl_set_dir(const char *dir);

/*
 * Renders templates/<name> (e.g. "html/forgot.html", "email/reset.txt")
 * with ctx (NULL: empty) in the given locale (NULL or not shipped: en),
 * appending to out.  Returns 0, or -1 with a message in err such as
 * "template html/x.html: line 3: missing variable 'foo'"; out is then
 * left as it was.
 */
int	tmpl_render(const char *name, const char *locale,
	    struct json_object *ctx, struct buf *out, char *err, size_t errlen);

/*
 * The locale's string for key (en when the locale lacks it), e.g. an
 * email subject or a field error message; NULL when no locale has it or
 * the locale files cannot be read.  Valid until tmpl_set_dir() or
 * tmpl_free().
 */
const char *tmpl_string(const char *locale, const char *key);

/* Picks a shipped locale from an Accept-Language header (NULL allowed). */
const char *tmpl_locale_pick(const char *accept_language);

/* Releases every cached file and locale (at exit; keeps valgrind quiet). */
void	tmpl_free(void);

#endif
