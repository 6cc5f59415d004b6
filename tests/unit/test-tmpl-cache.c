/*
 * A template file is read once per process: later renders use the
 * cached copy until tmpl_set_dir() points somewhere (or again).
 */
#include <sys/stat.h>

#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "tmpl_fixture.h"

static void
write_file(const char *dir, const char *rel, const char *text)
{
	char	 path[512];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
}

int
main(void)
{
	char	 dir[] = "/tmp/test-tmpl-cache.XXXXXX", path[512];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/html", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/locale", dir);
	mkdir(path, 0700);
	write_file(dir, "locale/en.json", "{\"k\": \"one\"}");
	write_file(dir, "locale/zh-CN.json", "{}");
	write_file(dir, "html/page.html", "v1 {{t.k}}");

	tmpl_set_dir(dir);
	CHECK_STR(render("html/page.html", "en", NULL), "v1 one");
	write_file(dir, "html/page.html", "v2 {{t.k}}");
	write_file(dir, "locale/en.json", "{\"k\": \"two\"}");
	CHECK_STR(render("html/page.html", "en", NULL), "v1 one");
	CHECK_STR(render("html/page.html", "zh-CN", NULL), "v1 one");

	/* Pointing at the directory again starts afresh. */
	tmpl_set_dir(dir);
	CHECK_STR(render("html/page.html", "en", NULL), "v2 two");

	/* Broken locale files are errors with the file named. */
	tmpl_set_dir(dir);
	write_file(dir, "locale/en.json", "{\"k\": \"two\",\n\"n\": 3}");
	CHECK_STR(render("html/page.html", "en", NULL),
	    "ERR: template locale/en.json: 'n' is not a string");
	tmpl_set_dir(dir);
	write_file(dir, "locale/en.json", "{\"k\": \"two\",\n\n\"n\" 3}");
	CHECK_STR(render("html/page.html", "en", NULL),
	    "ERR: template locale/en.json: line 3: "
	    "object property name separator ':' expected");
	tmpl_set_dir(dir);
	write_file(dir, "locale/en.json", "{\"k\": \"two\"");
	CHECK_STR(render("html/page.html", "en", NULL),
	    "ERR: template locale/en.json: line 1: unexpected end of file");
	tmpl_set_dir(dir);
	write_file(dir, "locale/en.json", "{} {}");
	CHECK_STR(render("html/page.html", "en", NULL),
	    "ERR: template locale/en.json: line 1: text after the object");
	tmpl_set_dir(dir);
	write_file(dir, "locale/en.json", "[\"k\"]");
	CHECK_STR(render("html/page.html", "en", NULL),
	    "ERR: template locale/en.json: not a JSON object");

	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	fixture_done();
	return check_done("test-tmpl-cache");
}
