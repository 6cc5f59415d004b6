/*
 * Every template mistake is an error that names the file and line: a
 * missing file, variable or partial, an unterminated or mismatched tag,
 * runaway recursion.  Nothing crashes and a failed render leaves the
 * output as it was.
 */
#include "check.h"
#include "tmpl_fixture.h"

int
main(void)
{
	struct buf		 b;
	struct json_object	*ctx;
	char			 err[256];
	int			 i;

	tmpl_set_dir(FIXTURE_DIR);

	CHECK_STR(render("html/nope.html", "en", NULL),
	    "ERR: template html/nope.html: cannot open "
	    "tests/unit/templates/html/nope.html: No such file or directory");
	CHECK_STR(render("html/missing_var.html", "en", "{\"bar\": 1}"),
	    "ERR: template html/missing_var.html: line 2: "
	    "missing variable 'foo'");
	CHECK_STR(render("html/dotted.html", "en",
	    "{\"user\": {\"name\": \"x\"}}"),
	    "ERR: template html/dotted.html: line 1: "
	    "missing variable 'user.address.city'");
	CHECK_STR(render("html/raw.html", "en", "{}"),
	    "ERR: template html/raw.html: line 1: missing variable 's'");
	CHECK_STR(render("email/plain.txt", "en", "{}"),
	    "ERR: template email/plain.txt: line 1: missing variable 's'");
	/* Outside its section, an element's field is not visible. */
	CHECK_STR(render("html/list.html", "en",
	    "{\"items\": [{\"name\": \"a\"}]}"),
	    "ERR: template html/list.html: line 1: missing variable 'owner'");
	CHECK_STR(render("html/object_as_text.html", "en",
	    "{\"user\": {\"name\": \"x\"}}"),
	    "ERR: template html/object_as_text.html: line 1: "
	    "cannot print object or array 'user'");

	/* Syntax errors, found when the file is first compiled. */
	CHECK_STR(render("html/unterminated.html", "en", "{\"foo\": 1}"),
	    "ERR: template html/unterminated.html: line 3: unterminated tag");
	CHECK_STR(render("html/unterminated_nested.html", "en", NULL),
	    "ERR: template html/unterminated_nested.html: line 1: "
	    "unterminated tag");
	CHECK_STR(render("html/mismatch.html", "en", NULL),
	    "ERR: template html/mismatch.html: line 2: '{{/b}}' closes "
	    "section 'a' opened on line 1");
	CHECK_STR(render("html/unclosed.html", "en", NULL),
	    "ERR: template html/unclosed.html: line 2: section 'a' is "
	    "never closed");
	CHECK_STR(render("html/stray_close.html", "en", NULL),
	    "ERR: template html/stray_close.html: line 1: '{{/a}}' closes "
	    "no section");
	CHECK_STR(render("html/bad_name.html", "en", NULL),
	    "ERR: template html/bad_name.html: line 1: bad tag name 'a b'");
	CHECK_STR(render("html/bad_partial.html", "en", NULL),
	    "ERR: template html/bad_partial.html: line 1: bad tag name "
	    "'../secret'");
	CHECK_STR(render("html/delimiters.html", "en", NULL),
	    "ERR: template html/delimiters.html: line 1: unsupported tag "
	    "'{{='");

	/* Partials: missing, failing inside, recursing. */
	CHECK_STR(render("html/missing_partial.html", "en", NULL),
	    "ERR: template html/missing_partial.html: line 2: in partial: "
	    "template html/nope.html: cannot open "
	    "tests/unit/templates/html/nope.html: No such file or directory");
	CHECK_STR(render("html/partial_error.html", "en", NULL),
	    "ERR: template html/part_bad.html: line 3: missing variable "
	    "'undefined_in_partial'");
	CHECK_STR(render("html/recursive.html", "en", NULL),
	    "ERR: template html/recursive.html: line 1: partials nested "
	    "deeper than 8 (recursion?)");

	/* Names that would leave the template directory. */
	CHECK_STR(render("../Makefile", "en", NULL),
	    "ERR: template ../Makefile: bad template name");
	CHECK_STR(render("html/../../check.h", "en", NULL),
	    "ERR: template html/../../check.h: bad template name");
	CHECK_STR(render("/etc/passwd", "en", NULL),
	    "ERR: template /etc/passwd: bad template name");
	CHECK_STR(render("", "en", NULL), "ERR: template : bad template name");
	CHECK_STR(render("html", "en", NULL),
	    "ERR: template html: tests/unit/templates/html is not a "
	    "regular file");

	/* A failed render leaves out untouched; errors repeat, not crash. */
	buf_init(&b);
	buf_puts(&b, "kept");
	ctx = json_tokener_parse("{\"bar\": 1, \"s\": \"x\"}");
	for (i = 0; i < 3; i++) {
		CHECK(tmpl_render("html/missing_var.html", "en", ctx, &b, err,
		    sizeof(err)) == -1);
		CHECK_STR(b.data, "kept");
		CHECK(tmpl_render("html/partial_error.html", "en", ctx, &b,
		    err, sizeof(err)) == -1);
		CHECK_STR(b.data, "kept");
		CHECK(tmpl_render("html/mismatch.html", "en", ctx, &b, err,
		    sizeof(err)) == -1);
	}
	CHECK(tmpl_render("html/escape.html", "en", ctx, &b, err,
	    sizeof(err)) == 0);
	CHECK_STR(b.data, "kept[x]");
	/* A tiny or absent error buffer is fine. */
	CHECK(tmpl_render("html/missing_var.html", "en", ctx, &b, err, 8) ==
	    -1);
	CHECK(strlen(err) == 7);
	CHECK(tmpl_render("html/missing_var.html", "en", ctx, &b, NULL, 0) ==
	    -1);
	json_object_put(ctx);
	buf_free(&b);

	/* Unreadable locale files are reported, not ignored. */
	tmpl_set_dir("tests/unit/no-such-dir");
	CHECK_STR(render("html/escape.html", "en", "{\"s\": \"x\"}"),
	    "ERR: template locale/en.json: cannot open "
	    "tests/unit/no-such-dir/locale/en.json: No such file or "
	    "directory");
	CHECK(tmpl_string("en", "hello") == NULL);

	fixture_done();
	return check_done("test-tmpl-errors");
}
