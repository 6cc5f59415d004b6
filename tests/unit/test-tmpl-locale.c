/*
 * Locale strings ({{t.key}}, tmpl_string) with en as the fallback, the
 * {{locale}} built-in, and picking a locale from Accept-Language.
 */
#include "check.h"
#include "tmpl_fixture.h"

static const struct {
	const char	*header;
	const char	*want;
} picks[] = {
	{ NULL, "en" },
	{ "", "en" },
	{ "en", "en" },
	{ "en-US,en;q=0.9", "en" },
	{ "zh", "zh-CN" },
	{ "zh-CN", "zh-CN" },
	{ "zh-cn", "zh-CN" },
	{ "ZH-CN", "zh-CN" },
	{ "zh-Hans", "zh-CN" },
	{ "zh-Hans-CN", "zh-CN" },
	{ "zh-hans-sg", "zh-CN" },
	{ "zh-TW", "en" },
	{ "zh-Hant-TW", "en" },
	{ "zhx", "en" },
	{ "zh-Hansx", "en" },
	{ "fr-FR, fr;q=0.9", "en" },
	{ "fr-FR, zh;q=0.5", "zh-CN" },
	{ "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN" },
	{ "en;q=0.8, zh-CN;q=0.9", "zh-CN" },
	{ "en;q=0.9, zh-CN;q=0.8", "en" },
	{ "zh-CN;q=0, en", "en" },
	{ "zh-CN;q=0.000", "en" },
	{ "en;q=0.5, zh;q=0.5", "en" },		/* a tie: first listed */
	{ "zh;q=0.5, en;q=0.5", "zh-CN" },
	{ "en ; q = 0.1 , zh ; q=0.2", "en" },	/* "q = " is not a q */
	{ "en;q=0.1,zh;q=0.2", "zh-CN" },
	{ "en;Q=0.1,zh;q=0.2", "zh-CN" },
	{ "zh;level=1;q=0.7, en;q=0.6", "zh-CN" },
	{ "*", "en" },
	{ "*;q=0.1, zh;q=0.2", "zh-CN" },
	{ "de, zh;q=bogus", "en" },
	{ ",,,;;;q=1, ,zh", "zh-CN" },
	{ "zh;q=", "en" },
	{ ";", "en" },
};

int
main(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(picks) / sizeof(picks[0]); i++) {
		const char *got = tmpl_locale_pick(picks[i].header);

		if (strcmp(got, picks[i].want) != 0)
			fprintf(stderr, "Accept-Language: %s\n",
			    picks[i].header ? picks[i].header : "(null)");
		CHECK_STR(got, picks[i].want);
	}
	CHECK_STR(tmpl_locales[0], "en");
	CHECK_STR(tmpl_locales[1], "zh-CN");
	CHECK(tmpl_locales[2] == NULL);

	tmpl_set_dir(FIXTURE_DIR);

	/* Locale strings, escaped like any value; en fills the gaps. */
	CHECK_STR(render("html/locale.html", "en", NULL),
	    "<html lang=\"en\">Hello / English only / Fish &amp; chips");
	CHECK_STR(render("html/locale.html", "zh-CN", NULL),
	    "<html lang=\"zh-CN\">你好 / English only / Fish &amp; chips");
	CHECK_STR(render("email/locale.txt", "zh-CN", NULL),
	    "你好 / Fish & chips");
	/* Unknown or absent locales render in en. */
	CHECK_STR(render("html/locale.html", "fr", NULL),
	    "<html lang=\"en\">Hello / English only / Fish &amp; chips");
	CHECK_STR(render("html/locale.html", NULL, NULL),
	    "<html lang=\"en\">Hello / English only / Fish &amp; chips");
	/* ctx may name its own locale; "t" stays the strings. */
	CHECK_STR(render("html/locale.html", "zh-CN",
	    "{\"locale\": \"zh-Hans\", \"t\": {\"hello\": \"spoof\"}}"),
	    "<html lang=\"zh-Hans\">你好 / English only / Fish &amp; chips");
	/* A key in no locale is a missing variable. */
	CHECK_STR(render("html/missing_t.html", "zh-CN", NULL),
	    "ERR: template html/missing_t.html: line 1: missing variable "
	    "'t.no_such_key'");

	CHECK_STR(tmpl_string("en", "hello"), "Hello");
	CHECK_STR(tmpl_string("zh-CN", "hello"), "你好");
	CHECK_STR(tmpl_string("zh-CN", "only_en"), "English only");
	CHECK_STR(tmpl_string("xx", "hello"), "Hello");
	CHECK(tmpl_string("en", "no_such_key") == NULL);
	CHECK(tmpl_string("en", NULL) == NULL);

	fixture_done();
	return check_done("test-tmpl-locale");
}
