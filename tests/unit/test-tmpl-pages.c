/*
 * The shipped templates (TEMPLATE_DIR, as `make unit` sets it) render in
 * every locale with the contexts their comments document: no missing
 * variable, a CSRF field in every form, values escaped and re-filled,
 * field errors beside their field.  Checks markup, not wording.
 */
#include <stdlib.h>

#include "check.h"
#include "tmpl_fixture.h"

static const char *const csrf = "\"csrf\": \"tok-123\"";

/* Occurrences of needle in haystack. */
static int
count(const char *haystack, const char *needle)
{
	int	 n = 0;

	while ((haystack = strstr(haystack, needle)) != NULL) {
		n++;
		haystack += strlen(needle);
	}
	return n;
}

/* Renders a page and checks what every page must have. */
static const char *
page(const char *name, const char *locale, const char *ctx, int forms)
{
	const char	*out = render(name, locale, ctx);
	char		 lang[64];

	if (strncmp(out, "ERR: ", 5) == 0) {
		fprintf(stderr, "%s (%s): %s\n", name, locale, out);
		CHECK(!"page renders");
		return out;
	}
	snprintf(lang, sizeof(lang), "<html lang=\"%s\">", locale);
	CHECK(strncmp(out, "<!doctype html>\n", 16) == 0);
	CHECK(strstr(out, lang) != NULL);
	CHECK(strstr(out, "<meta charset=\"utf-8\">") != NULL);
	CHECK(strstr(out, "name=\"viewport\"") != NULL);
	CHECK(strstr(out, "href=\"/static/style.css\"") != NULL);
	CHECK(strstr(out, "<script") == NULL);
	CHECK(strstr(out, "style=") == NULL);
	CHECK(strstr(out, "{{") == NULL && strstr(out, "}}") == NULL);
	CHECK(strstr(out, "</main>\n</body>\n</html>\n") != NULL);
	CHECK(count(out, "<form ") == forms);
	CHECK(count(out, "<input type=\"hidden\" name=\"csrf\" "
	    "value=\"tok-123\">") == forms);
	if (count(out, "<form ") != forms)
		fprintf(stderr, "%s: %d forms\n", name, count(out, "<form "));
	return out;
}

/* Both locale files name the same keys, so no page mixes languages. */
static void
check_locale_keys(const char *dir)
{
	struct json_object	*en, *zh, *v;
	char			 path[512];

	snprintf(path, sizeof(path), "%s/locale/en.json", dir);
	en = json_object_from_file(path);
	snprintf(path, sizeof(path), "%s/locale/zh-CN.json", dir);
	zh = json_object_from_file(path);
	CHECK(en != NULL && zh != NULL);
	if (en == NULL || zh == NULL)
		goto out;
	{
		json_object_object_foreach(en, k, val) {
			(void)val;
			if (!json_object_object_get_ex(zh, k, &v))
				fprintf(stderr, "zh-CN.json lacks %s\n", k);
			CHECK(json_object_object_get_ex(zh, k, &v));
		}
	}
	{
		json_object_object_foreach(zh, k, val) {
			(void)val;
			if (!json_object_object_get_ex(en, k, &v))
				fprintf(stderr, "en.json lacks %s\n", k);
			CHECK(json_object_object_get_ex(en, k, &v));
		}
	}
out:
	json_object_put(en);
	json_object_put(zh);
}

int
main(void)
{
	const char	*dir = getenv("TEMPLATE_DIR"), *out, *loc;
	char		 ctx[2048];
	int		 i;

	if (dir == NULL || *dir == '\0')
		dir = "templates";
	tmpl_set_dir(dir);
	check_locale_keys(dir);

	for (i = 0; tmpl_locales[i] != NULL; i++) {
		loc = tmpl_locales[i];

		/* The plainest contexts the handlers may pass. */
		snprintf(ctx, sizeof(ctx), "{%s}", csrf);
		page("html/forgot.html", loc, ctx, 1);
		page("html/reset.html", loc, ctx, 1);
		page("html/login.html", loc, ctx, 1);
		page("html/register.html", loc, ctx, 1);
		page("html/forgot_sent.html", loc, "{\"ttl_minutes\": 60}", 0);
		page("html/reset_invalid.html", loc, NULL, 0);
		page("html/reset_done.html", loc, NULL, 0);
		page("html/error.html", loc, "{\"status\": 404, "
		    "\"title\": \"Not Found\", \"detail\": \"\"}", 0);
		snprintf(ctx, sizeof(ctx), "{%s, \"user\": {\"name\": \"ann\", "
		    "\"email\": \"a@example.com\", \"real_name\": null, "
		    "\"avatar\": null}}", csrf);
		page("html/account.html", loc, ctx, 3);

		/* Hostile values come out escaped, errors beside fields. */
		snprintf(ctx, sizeof(ctx), "{%s, \"values\": {\"email\": "
		    "\"\\\"><script>x</script>\"}, \"errors\": {\"email\": "
		    "\"bad <email>\", \"form\": \"slow down\"}, "
		    "\"title\": \"T&C\", \"notice\": \"saved\"}", csrf);
		out = page("html/forgot.html", loc, ctx, 1);
		CHECK(strstr(out, "value=\"&quot;&gt;&lt;script&gt;x&lt;"
		    "/script&gt;\"") != NULL);
		CHECK(strstr(out, "aria-invalid=\"true\" aria-describedby="
		    "\"email-error\">\n<p class=\"error\" id=\"email-error\">"
		    "bad &lt;email&gt;</p>") != NULL);
		CHECK(strstr(out, "<p class=\"error\" role=\"alert\">slow "
		    "down</p>") != NULL);
		CHECK(strstr(out, "<title>T&amp;C · ") != NULL);
		CHECK(strstr(out, "<p class=\"notice\" role=\"status\">saved"
		    "</p>") != NULL);

		snprintf(ctx, sizeof(ctx), "{%s, \"values\": {\"name\": \"bo\","
		    " \"email\": \"b@x\", \"real_name\": \"Bo <B>\"}, "
		    "\"errors\": {\"name\": \"n\", \"email\": \"e\", "
		    "\"password\": \"p\", \"real_name\": \"r\"}}", csrf);
		out = page("html/register.html", loc, ctx, 1);
		CHECK(strstr(out, "value=\"bo\"") != NULL);
		CHECK(strstr(out, "value=\"b@x\"") != NULL);
		CHECK(strstr(out, "value=\"Bo &lt;B&gt;\"") != NULL);
		CHECK(count(out, "aria-invalid=\"true\"") == 4);
		CHECK(strstr(out, "id=\"password-error\">p</p>") != NULL);
		CHECK(strstr(out, "aria-describedby=\"password-rules "
		    "password-error\"") != NULL);

		snprintf(ctx, sizeof(ctx), "{%s, \"values\": {\"login\": "
		    "\"ann\"}, \"errors\": {\"password\": \"wrong\"}}", csrf);
		out = page("html/login.html", loc, ctx, 1);
		CHECK(strstr(out, "value=\"ann\"") != NULL);
		CHECK(strstr(out, "id=\"password-error\">wrong</p>") != NULL);
		CHECK(strstr(out, "href=\"/password/forgot\"") != NULL);
		CHECK(strstr(out, "href=\"/user/register\"") != NULL);

		snprintf(ctx, sizeof(ctx), "{%s, \"errors\": {\"password\": "
		    "\"short\", \"password_confirm\": \"differs\"}}", csrf);
		out = page("html/reset.html", loc, ctx, 1);
		CHECK(strstr(out, "name=\"password\"") != NULL);
		CHECK(strstr(out, "name=\"password_confirm\"") != NULL);
		CHECK(strstr(out, ">differs</p>") != NULL);
		CHECK(strstr(out, "action=\"/password/reset\"") != NULL);

		/* Account: the user's values fill the form unless values. */
		snprintf(ctx, sizeof(ctx), "{%s, \"user\": {\"name\": \"ann\", "
		    "\"email\": \"a@example.com\", \"real_name\": \"Ann <A>\", "
		    "\"avatar\": \"https://img.example/a.png?s=1&t=2\"}}", csrf);
		out = page("html/account.html", loc, ctx, 3);
		CHECK(count(out, "Ann &lt;A&gt;") == 2);
		CHECK(count(out, "https://img.example/a.png?s=1&amp;t=2") == 2);
		CHECK(strstr(out, "action=\"/user/logout\"") != NULL);
		snprintf(ctx, sizeof(ctx), "{%s, \"user\": {\"name\": \"ann\", "
		    "\"email\": \"a@example.com\", \"real_name\": \"Ann\", "
		    "\"avatar\": \"\"}, \"values\": {\"real_name\": \"New\", "
		    "\"avatar\": \"ftp://x\"}, \"errors\": {\"avatar\": \"no\"}}",
		    csrf);
		out = page("html/account.html", loc, ctx, 3);
		CHECK(strstr(out, "value=\"New\"") != NULL);
		CHECK(strstr(out, "value=\"ftp://x\"") != NULL);
		CHECK(strstr(out, "<img") == NULL);
		CHECK(strstr(out, "id=\"avatar-error\">no</p>") != NULL);
		/* An empty values object still shows the user's own. */
		snprintf(ctx, sizeof(ctx), "{%s, \"user\": {\"name\": \"ann\", "
		    "\"email\": \"a@example.com\", \"real_name\": \"Ann\", "
		    "\"avatar\": \"https://a.example/p\"}, \"values\": {}, "
		    "\"errors\": {}}", csrf);
		out = page("html/account.html", loc, ctx, 3);
		CHECK(strstr(out, "value=\"Ann\"") != NULL);
		CHECK(strstr(out, "value=\"https://a.example/p\"") != NULL);

		out = page("html/error.html", loc, "{\"status\": 500, "
		    "\"title\": \"Oops\", \"detail\": \"<why>\"}", 0);
		CHECK(strstr(out, "<p>&lt;why&gt;</p>") != NULL);
		CHECK(strstr(out, " 500</p>") != NULL);

		/* Emails: text unescaped, HTML escaped, name optional. */
		out = render("email/reset.txt", loc, "{\"name\": \"Tom & Jo\", "
		    "\"reset_url\": \"https://x.example/password/reset?token="
		    "a_b-c&x=1\", \"expires_at\": \"2025-01-31 14:05 UTC\"}");
		CHECK(strstr(out, "Tom & Jo") != NULL);
		CHECK(strstr(out, "\n\nhttps://x.example/password/reset?token="
		    "a_b-c&x=1\n\n") != NULL);
		CHECK(strstr(out, "2025-01-31 14:05 UTC") != NULL);
		CHECK(strncmp(out, "{{", 2) != 0 && out[0] != '\n');
		CHECK(strstr(out, "\n-- \n") != NULL);
		out = render("email/reset.txt", loc, "{\"reset_url\": \"u\", "
		    "\"expires_at\": \"e\"}");
		CHECK(strncmp(out, "ERR", 3) != 0);
		out = render("email/reset.html", loc, "{\"subject\": \"S<\", "
		    "\"name\": \"Tom & Jo\", "
		    "\"reset_url\": \"https://x.example/r?token=a&x=1\", "
		    "\"expires_at\": \"soon\"}");
		CHECK(strstr(out, "Tom &amp; Jo") != NULL);
		/* The shared layout: its title, the card's close. */
		CHECK(strstr(out, "<title>S&lt;</title>") != NULL);
		CHECK(strstr(out, "</table>\n</body>\n</html>") != NULL);
		CHECK(strstr(out, "<a href=\"https://x.example/r?token=a&amp;"
		    "x=1\"") != NULL);
		CHECK(strstr(out, "<img") == NULL);
		out = render("email/changed.txt", loc, "{\"name\": \"ann\", "
		    "\"occurred_at\": \"2025-01-31 14:05 UTC\", "
		    "\"forgot_url\": \"https://x.example/password/forgot\"}");
		CHECK(strstr(out, "2025-01-31 14:05 UTC") != NULL);
		CHECK(strstr(out, "https://x.example/password/forgot") != NULL);
		out = render("email/changed.html", loc, "{\"subject\": \"S\", "
		    "\"occurred_at\": "
		    "\"now\", \"forgot_url\": \"https://x.example/f\"}");
		CHECK(strstr(out, "href=\"https://x.example/f\"") != NULL);

		/* The "no account" notice: the link only when there is one. */
		out = render("email/unknown.txt", loc, "{\"email\": "
		    "\"t&j@x.example\", \"forgot_url\": "
		    "\"https://x.example/password/forgot\"}");
		CHECK(strstr(out, "t&j@x.example") != NULL);
		CHECK(strstr(out, "\n\nhttps://x.example/password/forgot\n\n")
		    != NULL);
		out = render("email/unknown.txt", loc, "{\"email\": \"a@x\"}");
		CHECK(strncmp(out, "ERR", 3) != 0);
		CHECK(strstr(out, "http") == NULL);
		out = render("email/unknown.html", loc, "{\"subject\": \"S\", "
		    "\"email\": "
		    "\"t&j@x.example\", \"forgot_url\": \"https://x.example/f\"}");
		CHECK(strstr(out, "<strong>t&amp;j@x.example</strong>") != NULL);
		CHECK(strstr(out, "href=\"https://x.example/f\"") != NULL);

		CHECK(tmpl_string(loc, "reset_subject") != NULL);
		CHECK(tmpl_string(loc, "changed_subject") != NULL);
		CHECK(tmpl_string(loc, "unknown_subject") != NULL);
	}

	fixture_done();
	return check_done("test-tmpl-pages");
}
