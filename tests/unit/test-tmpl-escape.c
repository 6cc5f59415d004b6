/*
 * The template engine escapes values in .html templates, leaves {{{x}}}
 * and .txt templates raw, and renders scalars as text.
 */
#include "check.h"
#include "tmpl_fixture.h"

int
main(void)
{
	tmpl_set_dir(FIXTURE_DIR);

	/* Every HTML-special character becomes an entity. */
	CHECK_STR(render("html/escape.html", "en", "{\"s\": \"<>&\\\"'\"}"),
	    "[&lt;&gt;&amp;&quot;&#39;]");
	CHECK_STR(render("html/escape.html", "en",
	    "{\"s\": \"<script>alert('x')</script>\"}"),
	    "[&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;]");
	CHECK_STR(render("html/escape.html", "en", "{\"s\": \"plain text\"}"),
	    "[plain text]");
	CHECK_STR(render("html/escape.html", "en", "{\"s\": \"\"}"), "[]");
	CHECK_STR(render("html/escape.html", "en", "{\"s\": \"&amp;\"}"),
	    "[&amp;amp;]");
	CHECK_STR(render("html/escape.html", "en", "{\"s\": \"日本 ü\"}"),
	    "[日本 ü]");

	/* An attribute value cannot be closed by the data. */
	CHECK_STR(render("html/attr.html", "en",
	    "{\"s\": \"x\\\" onfocus=\\\"evil()\"}"),
	    "<input value=\"x&quot; onfocus=&quot;evil()\">");
	CHECK_STR(render("html/attr.html", "en",
	    "{\"s\": \"https://h/p?a=1&b=2\"}"),
	    "<input value=\"https://h/p?a=1&amp;b=2\">");

	/* The raw form is raw, in html and in txt. */
	CHECK_STR(render("html/raw.html", "en", "{\"s\": \"<b>&'\\\"\"}"),
	    "[<b>&'\"]");
	CHECK_STR(render("email/raw.txt", "en", "{\"s\": \"<b>&\"}"),
	    "[<b>&]");

	/* Plain-text emails are not HTML: no entities in them. */
	CHECK_STR(render("email/plain.txt", "en",
	    "{\"s\": \"Tom & Jerry <tj@example.com> 'hi' \\\"x\\\"\"}"),
	    "[Tom & Jerry <tj@example.com> 'hi' \"x\"]");

	/* Numbers and booleans as text, null as nothing; blanks in tags. */
	CHECK_STR(render("html/scalars.html", "en",
	    "{\"i\": 42, \"d\": 1.5, \"b\": true, \"f\": false, "
	    "\"n\": null}"), "42 1.5 true false [] 42");
	CHECK_STR(render("html/scalars.html", "en",
	    "{\"i\": -7, \"d\": 0.1, \"b\": false, \"f\": 0, \"n\": \"\"}"),
	    "-7 0.1 false 0 [] -7");

	/* Dotted names reach into objects and are escaped too. */
	CHECK_STR(render("html/dotted.html", "en",
	    "{\"user\": {\"name\": \"A&B\", \"address\": "
	    "{\"city\": \"<Paris>\"}}}"), "A&amp;B <&lt;Paris&gt;>");

	/* Rendering appends to what out already holds. */
	{
		struct buf		 b;
		struct json_object	*ctx;
		char			 err[256];

		buf_init(&b);
		buf_puts(&b, "before:");
		ctx = json_tokener_parse("{\"s\": \"<\"}");
		CHECK(tmpl_render("html/escape.html", "en", ctx, &b, err,
		    sizeof(err)) == 0);
		CHECK_STR(b.data, "before:[&lt;]");
		json_object_put(ctx);
		buf_free(&b);
	}

	fixture_done();
	return check_done("test-tmpl-escape");
}
