/*
 * The template engine (see tmpl.h).  Each file is compiled once into a
 * flat array of nodes; a section node records where its body ends, so
 * rendering is a loop over a slice of that array with a stack of contexts
 * that lives on the C stack.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>

#include "arena.h"
#include "buf.h"
#include "tmpl.h"

#define TMPL_DEFAULT_DIR "templates"
#define TMPL_FILE_MAX	(256 * 1024)	/* a larger template is a mistake */
#define TMPL_NAME_MAX	128		/* longest tag or file name */
#define TMPL_NEST_MAX	32		/* sections open at once in a file */

const char *const tmpl_locales[] = { "en", "zh-CN", NULL };

enum tmpl_locale_id {
	LOCALE_EN,	/* "en", the default and fallback */
	LOCALE_ZH_CN,	/* "zh-CN" */
	LOCALE__MAX
};

_Static_assert(sizeof(tmpl_locales) / sizeof(tmpl_locales[0]) ==
    LOCALE__MAX + 1, "tmpl_locales[] and enum tmpl_locale_id disagree");

enum node_type {
	NODE_TEXT,	/* literal text */
	NODE_VAR,	/* {{x}} */
	NODE_RAW,	/* {{{x}}} */
	NODE_SECTION,	/* {{#x}} */
	NODE_INVERTED,	/* {{^x}} */
	NODE_PARTIAL	/* {{> x}} */
};

struct node {
	enum node_type	 type;
	const char	*s;	/* text (not terminated) or a name */
	size_t		 len;	/* length of text */
	size_t		 end;	/* section: index just past its body */
	int		 line;
};

/* A compiled template file, kept for the life of the process. */
struct tfile {
	struct tfile	*next;
	char		*name;		/* relative to the directory */
	char		*src;
	char		*names;		/* every tag name, NUL-terminated */
	struct node	*nodes;
	size_t		 nnodes;
	size_t		 cap;
	int		 raw;		/* .txt: values are not escaped */
};

struct locale {
	struct json_object	*strings;	/* {{t.*}}, merged over en */
	struct json_object	*name;		/* {{locale}} */
};

/* One level of context: a section's value, then the enclosing ones. */
struct frame {
	struct json_object	*obj;
	const struct frame	*up;
};

struct render {
	const struct locale	*loc;
	struct buf		*out;
	char			*err;
	size_t			 errlen;
	int			 depth;		/* partials being included */
};

static char		*tmpl_dir;
static struct tfile	*tmpl_files;
static struct locale	 tmpl_locale_cache[LOCALE__MAX];

static void	seterr(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n)) == NULL)
		arena_oom(n);
	return p;
}

static char *
xstrdup(const char *s)
{
	size_t	 n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

static const char *
dir_get(void)
{
	return tmpl_dir != NULL ? tmpl_dir : TMPL_DEFAULT_DIR;
}

/*
 * Reads dir/rel whole into a NUL-terminated heap copy.  Returns it, or
 * NULL with a message in err that starts with what (the template name).
 */
static char *
file_read(const char *rel, const char *what, size_t *lenp, char *err,
    size_t errlen)
{
	char		 path[1024];
	struct stat	 st;
	char		*data = NULL;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir_get(), rel) >=
	    sizeof(path)) {
		seterr(err, errlen, "template %s: path too long", what);
		return NULL;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		seterr(err, errlen, "template %s: cannot open %s: %s", what,
		    path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		seterr(err, errlen, "template %s: %s is not a regular file",
		    what, path);
		goto out;
	}
	if (st.st_size > TMPL_FILE_MAX) {
		seterr(err, errlen, "template %s: %s is larger than %d bytes",
		    what, path, TMPL_FILE_MAX);
		goto out;
	}
	data = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		n = read(fd, data + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			seterr(err, errlen, "template %s: cannot read %s: %s",
			    what, path, n == 0 ? "file shrank" :
			    strerror(errno));
			free(data);
			data = NULL;
			goto out;
		}
		off += (size_t)n;
	}
	data[off] = '\0';
	*lenp = off;
out:
	close(fd);
	return data;
}

/* Template names come from code; keep them inside the directory anyway. */
static int
file_name_ok(const char *name)
{
	const char	*p;

	if (name == NULL || name[0] == '\0' || name[0] == '/' ||
	    name[0] == '.' || strlen(name) >= TMPL_NAME_MAX ||
	    strstr(name, "..") != NULL || strstr(name, "/.") != NULL)
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("_-./", *p) == NULL)
			return 0;
	return 1;
}

/* A variable or section name: "." or dot-separated words. */
static int
tag_name_ok(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0 || n >= TMPL_NAME_MAX)
		return 0;
	if (n == 1 && s[0] == '.')
		return 1;
	if (s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.' && s[i + 1] == '.')
			return 0;
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("_-.", s[i]) == NULL)
			return 0;
	}
	return 1;
}

static int
count_lines(const char *p, const char *end)
{
	int	 n = 0;

	for (; p < end; p++)
		if (*p == '\n')
			n++;
	return n;
}

static struct node *
node_add(struct tfile *f, enum node_type type, const char *s, size_t len,
    int line)
{
	struct node	*n;

	if (f->nnodes == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 32;
		if ((n = reallocarray(f->nodes, f->cap, sizeof(*n))) == NULL)
			arena_oom(f->cap * sizeof(*n));
		f->nodes = n;
	}
	n = &f->nodes[f->nnodes++];
	n->type = type;
	n->s = s;
	n->len = len;
	n->end = 0;
	n->line = line;
	return n;
}

/*
 * Compiles f->src (len bytes) into f->nodes.  Returns 0, or -1 with a
 * message naming the file and line.
 */
static int
compile(struct tfile *f, size_t len, char *err, size_t errlen)
{
	size_t		 open_secs[TMPL_NEST_MAX], nopen = 0, nlen, wlen;
	const char	*p, *end, *tag, *body, *close, *after, *ls, *q;
	const char	*nb, *ne;
	char		*np;
	struct node	*n, *sec;
	int		 line = 1, tag_line, triple, sigil;

	np = f->names = xmalloc(len + 1);
	p = f->src;
	end = f->src + len;
	while (p < end) {
		if ((tag = memmem(p, end - p, "{{", 2)) == NULL)
			tag = end;
		if (tag > p)
			node_add(f, NODE_TEXT, p, tag - p, line);
		line += count_lines(p, tag);
		if (tag == end)
			break;

		tag_line = line;
		triple = tag + 2 < end && tag[2] == '{';
		wlen = triple ? 3 : 2;
		body = tag + wlen;
		close = memmem(body, end - body, triple ? "}}}" : "}}", wlen);
		if (close == NULL || memmem(body, close - body, "{{", 2)) {
			seterr(err, errlen, "template %s: line %d: "
			    "unterminated tag", f->name, tag_line);
			return -1;
		}
		after = close + wlen;
		line += count_lines(tag, after);

		sigil = triple ? '{' : *body;
		if (strchr("#^/!>", sigil) != NULL && sigil != '\0')
			body++;
		else if (sigil == '&' || sigil == '=') {
			seterr(err, errlen, "template %s: line %d: "
			    "unsupported tag '{{%c'", f->name, tag_line, sigil);
			return -1;
		} else if (!triple)
			sigil = 0;
		for (nb = body; nb < close && isspace((unsigned char)*nb); nb++)
			;
		for (ne = close; ne > nb && isspace((unsigned char)ne[-1]);
		    ne--)
			;
		nlen = ne - nb;

		/*
		 * A line with only a section, comment or partial tag on it
		 * is markup structure, not output: drop its blanks and its
		 * newline (as mustache does).
		 */
		if (sigil != 0 && sigil != '{') {
			for (ls = tag; ls > f->src && ls[-1] != '\n'; ls--)
				;
			for (q = after; q < end && (*q == ' ' || *q == '\t');
			    q++)
				;
			if (q + 1 < end && q[0] == '\r' && q[1] == '\n')
				q++;
			if (strspn(ls, " \t") >= (size_t)(tag - ls) &&
			    (q == end || *q == '\n')) {
				if (tag > ls) {
					/* The blanks are the last text. */
					n = &f->nodes[f->nnodes - 1];
					n->len -= tag - ls;
					if (n->len == 0)
						f->nnodes--;
				}
				if (q < end) {
					after = q + 1;
					line++;
				} else
					after = end;
			}
		}
		p = after;

		if (sigil == '!')
			continue;
		if (!tag_name_ok(nb, nlen) ||
		    (sigil == '>' && (nb[0] == '.' || memchr(nb, '/', nlen)))) {
			seterr(err, errlen, "template %s: line %d: bad tag "
			    "name '%.*s'", f->name, tag_line,
			    (int)(nlen > 40 ? 40 : nlen), nb);
			return -1;
		}
		if (sigil == '/') {
			if (nopen == 0) {
				seterr(err, errlen, "template %s: line %d: "
				    "'{{/%.*s}}' closes no section", f->name,
				    tag_line, (int)nlen, nb);
				return -1;
			}
			sec = &f->nodes[open_secs[nopen - 1]];
			if (strlen(sec->s) != nlen ||
			    memcmp(sec->s, nb, nlen) != 0) {
				seterr(err, errlen, "template %s: line %d: "
				    "'{{/%.*s}}' closes section '%s' opened "
				    "on line %d", f->name, tag_line, (int)nlen,
				    nb, sec->s, sec->line);
				return -1;
			}
			sec->end = f->nnodes;
			nopen--;
			continue;
		}

		memcpy(np, nb, nlen);
		np[nlen] = '\0';
		switch (sigil) {
		case '#':
		case '^':
			if (nopen == TMPL_NEST_MAX) {
				seterr(err, errlen, "template %s: line %d: "
				    "sections nested deeper than %d", f->name,
				    tag_line, TMPL_NEST_MAX);
				return -1;
			}
			open_secs[nopen++] = f->nnodes;
			node_add(f, sigil == '#' ? NODE_SECTION :
			    NODE_INVERTED, np, 0, tag_line);
			break;
		case '>':
			node_add(f, NODE_PARTIAL, np, 0, tag_line);
			break;
		case '{':
			node_add(f, NODE_RAW, np, 0, tag_line);
			break;
		default:
			node_add(f, NODE_VAR, np, 0, tag_line);
			break;
		}
		np += nlen + 1;
	}
	if (nopen > 0) {
		sec = &f->nodes[open_secs[nopen - 1]];
		seterr(err, errlen, "template %s: line %d: section '%s' is "
		    "never closed", f->name, sec->line, sec->s);
		return -1;
	}
	return 0;
}

static void
file_free(struct tfile *f)
{
	if (f == NULL)
		return;
	free(f->name);
	free(f->src);
	free(f->names);
	free(f->nodes);
	free(f);
}

/*
 * The compiled template name, from the cache or read and compiled now.
 * Returns NULL with a message in err.
 */
static const struct tfile *
file_get(const char *name, char *err, size_t errlen)
{
	struct tfile	*f;
	size_t		 len, nlen;

	for (f = tmpl_files; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;

	f = xmalloc(sizeof(*f));
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	if ((f->src = file_read(name, name, &len, err, errlen)) == NULL)
		goto fail;
	nlen = strlen(name);
	f->raw = nlen > 4 && strcmp(name + nlen - 4, ".txt") == 0;
	if (compile(f, len, err, errlen) == -1)
		goto fail;
	f->next = tmpl_files;
	tmpl_files = f;
	return f;
fail:
	file_free(f);
	return NULL;
}

static int
locale_id(const char *locale)
{
	int	 i;

	if (locale != NULL)
		for (i = 0; i < LOCALE__MAX; i++)
			if (strcmp(locale, tmpl_locales[i]) == 0)
				return i;
	return LOCALE_EN;
}

/*
 * Reads templates/locale/<name>.json: one flat object of strings.
 * Returns it (a new reference), or NULL with a message in err.
 */
static struct json_object *
locale_read(const char *name, char *err, size_t errlen)
{
	struct json_tokener	*tok = NULL;
	struct json_object	*obj = NULL;
	struct json_object_iterator it, itend;
	enum json_tokener_error	 jerr;
	char			 rel[64];
	char			*src;
	size_t			 len, used;

	snprintf(rel, sizeof(rel), "locale/%s.json", name);
	if ((src = file_read(rel, rel, &len, err, errlen)) == NULL)
		return NULL;
	if ((tok = json_tokener_new()) == NULL)
		arena_oom(sizeof(*tok));
	obj = json_tokener_parse_ex(tok, src, (int)len);
	jerr = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	if (obj == NULL || jerr != json_tokener_success) {
		seterr(err, errlen, "template %s: line %d: %s", rel,
		    1 + count_lines(src, src + used),
		    jerr == json_tokener_continue ? "unexpected end of file" :
		    json_tokener_error_desc(jerr));
		goto fail;
	}
	if (strspn(src + used, " \t\r\n") != len - used) {
		seterr(err, errlen, "template %s: line %d: text after the "
		    "object", rel, 1 + count_lines(src, src + used));
		goto fail;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		seterr(err, errlen, "template %s: not a JSON object", rel);
		goto fail;
	}
	it = json_object_iter_begin(obj);
	itend = json_object_iter_end(obj);
	for (; !json_object_iter_equal(&it, &itend);
	    json_object_iter_next(&it)) {
		if (!json_object_is_type(json_object_iter_peek_value(&it),
		    json_type_string)) {
			seterr(err, errlen, "template %s: '%s' is not a "
			    "string", rel, json_object_iter_peek_name(&it));
			goto fail;
		}
	}
	json_tokener_free(tok);
	free(src);
	return obj;
fail:
	json_object_put(obj);
	json_tokener_free(tok);
	free(src);
	return NULL;
}

/* Adds every pair of from to to (replacing), sharing the values. */
static void
json_merge(struct json_object *to, struct json_object *from)
{
	struct json_object	*v;

	json_object_object_foreach(from, k, val) {
		v = json_object_get(val);
		if (json_object_object_add(to, k, v) != 0)
			arena_oom(strlen(k));
	}
}

/*
 * The locale's strings (loaded on first use), for a shipped locale name;
 * anything else means en.  Returns NULL with a message in err.
 */
static const struct locale *
locale_get(const char *locale, char *err, size_t errlen)
{
	struct locale		*l;
	struct json_object	*own;
	int			 id = locale_id(locale);

	l = &tmpl_locale_cache[id];
	if (l->strings != NULL)
		return l;
	if ((own = locale_read(tmpl_locales[id], err, errlen)) == NULL)
		return NULL;
	if (id == LOCALE_EN)
		l->strings = own;
	else {
		/* A key this locale lacks shows in en, not as an error. */
		if (locale_get(tmpl_locales[LOCALE_EN], err, errlen) == NULL) {
			json_object_put(own);
			return NULL;
		}
		if ((l->strings = json_object_new_object()) == NULL)
			arena_oom(sizeof(void *));
		json_merge(l->strings,
		    tmpl_locale_cache[LOCALE_EN].strings);
		json_merge(l->strings, own);
		json_object_put(own);
	}
	if ((l->name = json_object_new_string(tmpl_locales[id])) == NULL)
		arena_oom(sizeof(void *));
	return l;
}

/* Copies the next dot-separated part of *pp into part and advances. */
static void
name_part(const char **pp, char *part)
{
	const char	*dot;
	size_t		 n;

	dot = strchr(*pp, '.');
	n = dot != NULL ? (size_t)(dot - *pp) : strlen(*pp);
	memcpy(part, *pp, n);
	part[n] = '\0';
	*pp = dot != NULL ? dot + 1 : NULL;
}

/*
 * Resolves a name: its first part in the innermost context that has it,
 * then outward, then the built-ins (t, locale); the other parts only
 * below that.  Returns 1 with *vp set (NULL for JSON null), 0 when
 * missing.
 */
static int
lookup(const struct render *r, const struct frame *top, const char *name,
    struct json_object **vp)
{
	char			 part[TMPL_NAME_MAX];
	const struct frame	*fr;
	struct json_object	*v = NULL;
	const char		*p = name;
	int			 found = 0;

	*vp = NULL;
	if (strcmp(name, ".") == 0) {
		*vp = top->obj;
		return 1;
	}
	name_part(&p, part);
	if (strcmp(part, "t") == 0) {
		v = r->loc->strings;
		found = 1;
	} else {
		for (fr = top; fr != NULL && !found; fr = fr->up)
			if (json_object_is_type(fr->obj, json_type_object) &&
			    json_object_object_get_ex(fr->obj, part, &v))
				found = 1;
		if (!found && strcmp(part, "locale") == 0) {
			v = r->loc->name;
			found = 1;
		}
	}
	while (found && p != NULL) {
		name_part(&p, part);
		if (!json_object_is_type(v, json_type_object) ||
		    !json_object_object_get_ex(v, part, &v))
			found = 0;
	}
	if (found)
		*vp = v;
	return found;
}

/* Whether a section shows: see tmpl.h. */
static int
truthy(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		return json_object_get_boolean(v);
	case json_type_int:
		return json_object_get_int64(v) != 0;
	case json_type_double:
		return json_object_get_double(v) != 0.0;
	case json_type_string:
		return json_object_get_string_len(v) > 0;
	case json_type_array:
		return json_object_array_length(v) > 0;
	case json_type_object:
		return 1;
	default:
		return 0;
	}
}

/* Appends s with & < > " ' as entities: safe in text and attributes. */
static void
html_escape(struct buf *out, const char *s, size_t len)
{
	const char	*run = s, *p, *end = s + len, *ent;

	for (p = s; p < end; p++) {
		switch (*p) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&#39;";
			break;
		default:
			continue;
		}
		buf_append(out, run, p - run);
		buf_puts(out, ent);
		run = p + 1;
	}
	buf_append(out, run, end - run);
}

/* Appends a scalar as text.  Returns -1 for an object or array. */
static int
emit(struct buf *out, struct json_object *v, int escape)
{
	const char	*s;
	size_t		 len;

	switch (json_object_get_type(v)) {
	case json_type_null:
		return 0;
	case json_type_object:
	case json_type_array:
		return -1;
	case json_type_double:
		buf_printf(out, "%.15g", json_object_get_double(v));
		return 0;
	case json_type_string:
		s = json_object_get_string(v);
		len = (size_t)json_object_get_string_len(v);
		break;
	default:
		s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		len = strlen(s);
		break;
	}
	if (escape)
		html_escape(out, s, len);
	else
		buf_append(out, s, len);
	return 0;
}

static int	render_nodes(struct render *, const struct tfile *, size_t,
		    size_t, const struct frame *);

/* Sets an error at node n of f.  Returns -1. */
static int
render_fail(struct render *r, const struct tfile *f, const struct node *n,
    const char *what, const char *name)
{
	seterr(r->err, r->errlen, "template %s: line %d: %s '%s'", f->name,
	    n->line, what, name);
	return -1;
}

static int
render_partial(struct render *r, const struct tfile *f, const struct node *n,
    const struct frame *top)
{
	char			 name[TMPL_NAME_MAX * 2], msg[512];
	const struct tfile	*pf;
	const char		*slash;
	int			 dirlen, rc;

	if (r->depth >= TMPL_PARTIAL_DEPTH) {
		seterr(r->err, r->errlen, "template %s: line %d: partials "
		    "nested deeper than %d (recursion?)", f->name, n->line,
		    TMPL_PARTIAL_DEPTH);
		return -1;
	}
	slash = strrchr(f->name, '/');
	dirlen = slash != NULL ? (int)(slash - f->name + 1) : 0;
	snprintf(name, sizeof(name), "%.*s%s", dirlen, f->name, n->s);
	if ((pf = file_get(name, msg, sizeof(msg))) == NULL) {
		seterr(r->err, r->errlen, "template %s: line %d: in partial: "
		    "%s", f->name, n->line, msg);
		return -1;
	}
	r->depth++;
	rc = render_nodes(r, pf, 0, pf->nnodes, top);
	r->depth--;
	return rc;
}

/* Renders nodes [from, to) of f with top as the innermost context. */
static int
render_nodes(struct render *r, const struct tfile *f, size_t from, size_t to,
    const struct frame *top)
{
	const struct node	*n;
	struct json_object	*v;
	struct frame		 fr;
	size_t			 i, k, len;
	int			 found;

	for (i = from; i < to; i++) {
		n = &f->nodes[i];
		switch (n->type) {
		case NODE_TEXT:
			buf_append(r->out, n->s, n->len);
			break;
		case NODE_VAR:
		case NODE_RAW:
			if (!lookup(r, top, n->s, &v))
				return render_fail(r, f, n,
				    "missing variable", n->s);
			if (emit(r->out, v, n->type == NODE_VAR && !f->raw))
				return render_fail(r, f, n,
				    "cannot print object or array", n->s);
			break;
		case NODE_SECTION:
		case NODE_INVERTED:
			found = lookup(r, top, n->s, &v);
			fr.up = top;
			if (n->type == NODE_INVERTED) {
				if ((!found || !truthy(v)) && render_nodes(r,
				    f, i + 1, n->end, top) == -1)
					return -1;
			} else if (json_object_is_type(v, json_type_array)) {
				len = json_object_array_length(v);
				for (k = 0; k < len; k++) {
					fr.obj = json_object_array_get_idx(v,
					    k);
					if (render_nodes(r, f, i + 1, n->end,
					    &fr) == -1)
						return -1;
				}
			} else if (found && truthy(v)) {
				fr.obj = v;
				if (render_nodes(r, f, i + 1, n->end,
				    &fr) == -1)
					return -1;
			}
			i = n->end - 1;
			break;
		case NODE_PARTIAL:
			if (render_partial(r, f, n, top) == -1)
				return -1;
			break;
		}
	}
	return 0;
}

/* Forgets every cached file and locale. */
static void
cache_clear(void)
{
	struct tfile	*f;
	int		 i;

	while ((f = tmpl_files) != NULL) {
		tmpl_files = f->next;
		file_free(f);
	}
	for (i = 0; i < LOCALE__MAX; i++) {
		json_object_put(tmpl_locale_cache[i].strings);
		json_object_put(tmpl_locale_cache[i].name);
		tmpl_locale_cache[i].strings = NULL;
		tmpl_locale_cache[i].name = NULL;
	}
}

void
tmpl_set_dir(const char *dir)
{
	cache_clear();
	free(tmpl_dir);
	tmpl_dir = dir != NULL ? xstrdup(dir) : NULL;
}

void
tmpl_free(void)
{
	tmpl_set_dir(NULL);
}

int
tmpl_render(const char *name, const char *locale, struct json_object *ctx,
    struct buf *out, char *err, size_t errlen)
{
	const struct tfile	*f;
	struct render		 r;
	struct frame		 top;
	size_t			 mark;

	if (!file_name_ok(name)) {
		seterr(err, errlen, "template %s: bad template name",
		    name != NULL ? name : "(null)");
		return -1;
	}
	r.out = out;
	r.err = err;
	r.errlen = errlen;
	r.depth = 0;
	if ((r.loc = locale_get(locale, err, errlen)) == NULL)
		return -1;
	if ((f = file_get(name, err, errlen)) == NULL)
		return -1;
	top.obj = ctx;
	top.up = NULL;
	mark = out->len;
	buf_append(out, "", 0);		/* out->data is a string even if empty */
	if (render_nodes(&r, f, 0, f->nnodes, &top) == -1) {
		out->len = mark;
		out->data[mark] = '\0';
		return -1;
	}
	return 0;
}

const char *
tmpl_string(const char *locale, const char *key)
{
	const struct locale	*l;
	struct json_object	*v;

	if ((l = locale_get(locale, NULL, 0)) == NULL || key == NULL ||
	    !json_object_object_get_ex(l->strings, key, &v))
		return NULL;
	return json_object_get_string(v);
}

/*
 * A q-value ("0", "0.5", "1.000") in thousandths, advancing *pp; -1 when
 * malformed.
 */
static int
qvalue(const char **pp)
{
	const char	*p = *pp;
	int		 v, scale;

	if (*p != '0' && *p != '1')
		return -1;
	v = (*p++ - '0') * 1000;
	if (*p == '.')
		for (p++, scale = 100; scale > 0 &&
		    isdigit((unsigned char)*p); scale /= 10)
			v += (*p++ - '0') * scale;
	*pp = p;
	return v > 1000 ? 1000 : v;
}

/* Whether tag (n bytes, case-insensitive) is prefix or prefix-... */
static int
tag_is(const char *tag, size_t n, const char *prefix)
{
	size_t	 plen = strlen(prefix);

	return n >= plen && strncasecmp(tag, prefix, plen) == 0 &&
	    (n == plen || tag[plen] == '-');
}

/* The shipped locale serving a language tag, or -1. */
static int
locale_of_tag(const char *tag, size_t n)
{
	if ((n == 2 && strncasecmp(tag, "zh", 2) == 0) ||
	    tag_is(tag, n, "zh-CN") || tag_is(tag, n, "zh-Hans"))
		return LOCALE_ZH_CN;
	if (tag_is(tag, n, "en") || (n == 1 && tag[0] == '*'))
		return LOCALE_EN;
	return -1;
}

const char *
tmpl_locale_pick(const char *h)
{
	const char	*p = h, *tag;
	size_t		 taglen;
	int		 q, best_q = -1, best = LOCALE_EN, id;

	if (p == NULL)
		return tmpl_locales[LOCALE_EN];
	while (*p != '\0') {
		p += strspn(p, " \t,");
		tag = p;
		taglen = strcspn(p, " \t,;");
		p += taglen;
		q = 1000;
		p += strspn(p, " \t");
		while (*p == ';') {
			p++;
			p += strspn(p, " \t");
			if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
				p += 2;
				q = qvalue(&p);
			}
			p += strcspn(p, ",;");
		}
		p += strcspn(p, ",");
		/* Ties go to the earlier entry, as the client listed it. */
		if (taglen > 0 && q > 0 &&
		    (id = locale_of_tag(tag, taglen)) != -1 && q > best_q) {
			best = id;
			best_q = q;
		}
	}
	return tmpl_locales[best];
}
