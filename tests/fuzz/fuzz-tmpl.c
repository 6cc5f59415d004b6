/*
 * The template engine on any template text.  The input's first byte
 * picks an HTML or a plain-text template and the locale; the rest is
 * written as the template into a private directory (tmpl.h has no way
 * to compile from memory) and rendered twice against a fixed context
 * whose values hold HTML specials.  Invariants: an error names the
 * template and leaves the output as it was; a render is deterministic;
 * text without tags comes out unchanged; and an HTML template that
 * neither writes specials itself nor uses {{{raw}}} outputs none.
 */
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "buf.h"
#include "fuzz.h"
#include "tmpl.h"

#define PREFIX		"prefix:"
#define SPECIALS	"<>\"'"

/* In memory when /dev/shm is there: each input is a file write. */
static char			 dir_shm[] = "/dev/shm/fuzz-tmpl.XXXXXX";
static char			 dir_tmp[] = "/tmp/fuzz-tmpl.XXXXXX";
static const char		*dir;
static struct json_object	*ctx;

static const char ctx_json[] =
    "{\"name\": \"<b>Al & 'Bo'</b>\", \"email\": \"a\\\"@b.example\","
    " \"n\": 3, \"zero\": 0, \"f\": 1.5, \"yes\": true, \"no\": false,"
    " \"nil\": null, \"empty\": \"\", \"list\": [{\"name\": \"<i>\"},"
    " {\"name\": \"x>y\"}, {}], \"obj\": {\"a\": {\"b\": \"'q'\"}},"
    " \"arr\": [1, \"<two>\", null, [3], {\"k\": \"v\"}, false]}";

static const char locale_en[] =
    "{\"hello\": \"Hello <b>\", \"title\": \"A & B\", \"q\": \"\\\"\"}\n";
static const char locale_zh[] = "{\"hello\": \"\\u4f60\\u597d '\"}\n";

/* Writes dir/rel with the given bytes.  Aborts on failure. */
static void
put_file(const char *rel, const void *p, size_t len)
{
	char	 path[256];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if ((f = fopen(path, "w")) == NULL ||
	    fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

static void
put_str(const char *rel, const char *s)
{
	put_file(rel, s, strlen(s));
}

static void
put_dir(const char *rel)
{
	char	 path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (mkdir(path, 0700) == -1) {
		perror(path);
		abort();
	}
}

/* Whether s[0..n) holds a character HTML escaping must not let out. */
static int
has_special(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (s[i] != '\0' && strchr(SPECIALS, s[i]) != NULL)
			return 1;
	return 0;
}

static void
cleanup(void)
{
	static const char *const files[] = {
		"html/t.html", "html/p.html", "email/t.txt", "email/p.txt",
		"locale/en.json", "locale/zh-CN.json", "html", "email",
		"locale",
	};
	char	 path[256];
	size_t	 i;

	tmpl_free();
	json_object_put(ctx);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		remove(path);
	}
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((dir = mkdtemp(dir_shm)) == NULL &&
	    (dir = mkdtemp(dir_tmp)) == NULL) {
		perror("mkdtemp");
		abort();
	}
	put_dir("html");
	put_dir("email");
	put_dir("locale");
	put_str("locale/en.json", locale_en);
	put_str("locale/zh-CN.json", locale_zh);
	/* Partials a template may include; free of specials themselves. */
	put_str("html/p.html", "P[{{name}}]{{#list}}({{name}}){{/list}}\n");
	put_str("email/p.txt", "P[{{name}}]\n");
	if ((ctx = json_tokener_parse(ctx_json)) == NULL)
		abort();
	atexit(cleanup);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	 out, again;
	const char	*name, *locale, *src;
	char		 err[512], err2[512];
	size_t		 len;
	int		 rc, rc2, html;

	if (size == 0)
		return 0;
	html = (data[0] & 1) == 0;
	name = html ? "html/t.html" : "email/t.txt";
	locale = (data[0] & 2) ? "zh-CN" : (data[0] & 4) ? "xx" : "en";
	src = (const char *)data + 1;
	len = size - 1;
	put_file(name, src, len);
	tmpl_set_dir(dir);	/* forgets the previous input's template */

	buf_init(&out);
	buf_init(&again);
	buf_puts(&out, PREFIX);
	buf_puts(&again, PREFIX);
	err[0] = err2[0] = '\0';
	rc = tmpl_render(name, locale, ctx, &out, err, sizeof(err));
	rc2 = tmpl_render(name, locale, ctx, &again, err2, sizeof(err2));

	FUZZ_ASSERT(rc == 0 || rc == -1);
	FUZZ_ASSERT(rc == rc2);
	FUZZ_ASSERT(out.data[out.len] == '\0');
	FUZZ_ASSERT(strncmp(out.data, PREFIX, sizeof(PREFIX) - 1) == 0);
	if (rc == -1) {
		/* "template <name>: ...", and the output as it was. */
		FUZZ_ASSERT(strncmp(err, "template ", 9) == 0);
		FUZZ_ASSERT(strcmp(err, err2) == 0);
		FUZZ_ASSERT(out.len == sizeof(PREFIX) - 1);
		FUZZ_ASSERT(strcmp(out.data, PREFIX) == 0);
		goto out;
	}
	FUZZ_ASSERT(out.len == again.len &&
	    memcmp(out.data, again.data, out.len) == 0);
	if (memmem(src, len, "{{", 2) == NULL)
		FUZZ_ASSERT(out.len == sizeof(PREFIX) - 1 + len &&
		    memcmp(out.data + sizeof(PREFIX) - 1, src, len) == 0);
	if (html && memmem(src, len, "{{{", 3) == NULL &&
	    !has_special(src, len))
		FUZZ_ASSERT(!has_special(out.data, out.len));
out:
	buf_free(&out);
	buf_free(&again);
	return 0;
}
