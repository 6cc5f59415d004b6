/*
 * Sections repeat for arrays and show once for truthy values, inverted
 * sections show for falsy ones, names resolve inside-out, and comments,
 * partials and standalone tag lines behave.
 */
#include "check.h"
#include "tmpl_fixture.h"

static const struct {
	const char	*value;		/* JSON for v */
	const char	*want;
} truth[] = {
	{ "true", "yes" },
	{ "false", "no" },
	{ "null", "no" },
	{ "1", "yes" },
	{ "0", "no" },
	{ "0.0", "no" },
	{ "-2.5", "yes" },
	{ "\"x\"", "yes" },
	{ "\"\"", "no" },
	{ "\"0\"", "yes" },
	{ "{}", "yes" },
	{ "{\"a\": 1}", "yes" },
	{ "[]", "no" },
	{ "[1]", "yes" },
	{ "[1, 2, 3]", "yesyesyes" },
};

int
main(void)
{
	char	 json[128];
	size_t	 i;

	tmpl_set_dir(FIXTURE_DIR);

	for (i = 0; i < sizeof(truth) / sizeof(truth[0]); i++) {
		snprintf(json, sizeof(json), "{\"v\": %s}", truth[i].value);
		CHECK_STR(render("html/section.html", "en", json),
		    truth[i].want);
	}
	/* A missing section name hides the section; it is not an error. */
	CHECK_STR(render("html/section.html", "en", "{}"), "no");
	CHECK_STR(render("html/section.html", "en", NULL), "no");

	/* Arrays iterate; names resolve in the element, then outward. */
	CHECK_STR(render("html/list.html", "en",
	    "{\"owner\": \"Ann\", \"items\": [{\"name\": \"a<\"}, "
	    "{\"name\": \"b\"}, {\"name\": \"c\", \"owner\": \"Bob\"}]}"),
	    "<li>a&lt; of Ann</li><li>b of Ann</li><li>c of Bob</li>");
	CHECK_STR(render("html/list.html", "en",
	    "{\"owner\": \"Ann\", \"items\": []}"), "none");
	CHECK_STR(render("html/dot.html", "en",
	    "{\"tags\": [\"x\", \"<y>\", 3, true]}"),
	    "[x][&lt;y&gt;][3][true]");

	/* An object section pushes the object as context. */
	CHECK_STR(render("html/object.html", "en",
	    "{\"role\": \"guest\", \"user\": {\"name\": \"Li\"}}"),
	    "Li (guest)");
	CHECK_STR(render("html/object.html", "en",
	    "{\"role\": \"guest\", \"user\": {\"name\": \"Li\", "
	    "\"role\": \"admin\"}}"), "Li (admin)");
	CHECK_STR(render("html/nested.html", "en",
	    "{\"x\": \"outer\", \"a\": {\"b\": [{\"x\": 1}, {}]}}"),
	    "1outer");

	/* The field-error idiom of the pages. */
	CHECK_STR(render("html/field_error.html", "en",
	    "{\"errors\": {\"email\": \"Not an <email>\"}}"),
	    "<p class=\"error\">Not an &lt;email&gt;</p>");
	CHECK_STR(render("html/field_error.html", "en",
	    "{\"errors\": {\"password\": \"x\"}}"), "");
	CHECK_STR(render("html/field_error.html", "en", "{}"), "");

	/* Lines holding only a section tag leave no blank line. */
	CHECK_STR(render("html/standalone.html", "en",
	    "{\"items\": [\"a\", \"b\"]}"),
	    "<ul>\n  <li>a</li>\n  <li>b</li>\n</ul>\n");
	CHECK_STR(render("html/standalone.html", "en", "{\"items\": []}"),
	    "<ul>\n</ul>\n");

	/* Comments vanish, also across lines and on their own line. */
	CHECK_STR(render("html/comment.html", "en", NULL), "ab\nc\n");

	/* Partials come from the same directory and share the context. */
	CHECK_STR(render("html/partial.html", "en", "{\"s\": \"<in>\"}"),
	    "<&lt;in&gt;>");
	CHECK_STR(render("html/partial_line.html", "en", "{\"s\": \"p\"}"),
	    "head\n<p>p</p>\nfoot\n");

	fixture_done();
	return check_done("test-tmpl-sections");
}
