#include "report/diagfmt.h"

#include "core/alloc.h"
#include "core/error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#ifndef DR_VERSION
#define DR_VERSION "0"
#endif
/* Where SARIF viewers send people for the tool; no public home yet. */
#ifndef DR_INFO_URI
#define DR_INFO_URI "https://drplan.invalid/docs/rules"
#endif

#define SRC_WINDOW 240 /* longest stretch of a source line that is quoted */

#define C_BOLD "\033[1m"
#define C_RED "\033[1;31m"
#define C_MAGENTA "\033[1;35m"
#define C_CYAN "\033[1;36m"
#define C_GREEN "\033[1;32m"
#define C_RESET "\033[0m"

static const char *const fmt_names[] = {
	[DR_DIAGFMT_TEXT] = "text",
	[DR_DIAGFMT_JSON] = "json",
	[DR_DIAGFMT_SARIF] = "sarif",
	[DR_DIAGFMT_JUNIT] = "junit",
};

int dr_diagfmt_parse(const char *name, dr_diagfmt *out)
{
	size_t i;

	for (i = 0; name && i < DR_ARRAY_SIZE(fmt_names); i++) {
		if (!strcmp(name, fmt_names[i])) {
			*out = (dr_diagfmt)i;
			return 0;
		}
	}
	return dr_error_set(DR_EINVAL,
			    "unknown output format '%s'; use text, json, "
			    "sarif or junit",
			    name ? name : "");
}

const char *dr_diagfmt_name(dr_diagfmt fmt)
{
	return (size_t)fmt < DR_ARRAY_SIZE(fmt_names) ? fmt_names[fmt] : "?";
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

/* s as valid UTF-8: bad bytes become U+FFFD. */
static void add_utf8(dr_strbuf *sb, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k;

	while (n) {
		k = utf8_seq(p, n);
		if (k) {
			dr_strbuf_add(sb, p, k);
		} else {
			dr_strbuf_addstr(sb, "\xEF\xBF\xBD");
			k = 1;
		}
		p += k;
		n -= k;
	}
}

static int is_cont(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

/* ---- text ---- */

static const char *sev_color(dr_severity s)
{
	switch (s) {
	case DR_SEV_ERROR: return C_RED;
	case DR_SEV_WARNING: return C_MAGENTA;
	case DR_SEV_INFO: return C_CYAN;
	}
	return C_BOLD;
}

/* v in decimal, right-aligned to width: "%*d" without printf, which was a
 * visible cost when thousands of warnings are printed. */
static void add_int(dr_strbuf *sb, int v, size_t width)
{
	char b[16];
	size_t n = sizeof(b);
	unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;

	do {
		b[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		b[--n] = '-';
	while (n > 0 && sizeof(b) - n < width)
		b[--n] = ' ';
	dr_strbuf_add(sb, b + n, sizeof(b) - n);
}

/* "file:line:col: error: message [RULE]" without the newline. */
static void add_header(dr_strbuf *sb, const dr_diag *g, int color)
{
	if (color)
		dr_strbuf_addstr(sb, C_BOLD);
	if (g->file) {
		dr_strbuf_addstr(sb, g->file);
		if (g->line > 0) {
			dr_strbuf_addch(sb, ':');
			add_int(sb, g->line, 0);
			if (g->col > 0) {
				dr_strbuf_addch(sb, ':');
				add_int(sb, g->col, 0);
			}
		}
	} else {
		dr_strbuf_addstr(sb, "drplan");
	}
	dr_strbuf_addch(sb, ':');
	if (color)
		dr_strbuf_addf(sb, C_RESET " %s%s:" C_RESET " ",
			       sev_color(g->severity),
			       dr_severity_name(g->severity));
	else {
		dr_strbuf_addch(sb, ' ');
		dr_strbuf_addstr(sb, dr_severity_name(g->severity));
		dr_strbuf_add(sb, ": ", 2);
	}
	dr_strbuf_addstr(sb, g->message);
	if (g->rule && *g->rule) {
		dr_strbuf_add(sb, " [", 2);
		dr_strbuf_addstr(sb, g->rule);
		dr_strbuf_addch(sb, ']');
	}
}

/*
 * Bytes of the token that starts at s[0]: a quoted scalar to its closing
 * quote, a plain one up to the next flow indicator, comment or ": ".
 */
static size_t token_len(const char *s, size_t n)
{
	size_t i;

	if (!n)
		return 0;
	if (s[0] == '"') {
		for (i = 1; i < n; i++) {
			if (s[i] == '\\' && i + 1 < n)
				i++;
			else if (s[i] == '"')
				return i + 1;
		}
		return n;
	}
	if (s[0] == '\'') {
		for (i = 1; i < n; i++) {
			if (s[i] == '\'' && i + 1 < n && s[i + 1] == '\'')
				i++;
			else if (s[i] == '\'')
				return i + 1;
		}
		return n;
	}
	if (strchr("{[-", s[0]) && (s[0] != '-' || n == 1 || s[1] == ' '))
		return 1;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == ',' || c == '}' || c == ']')
			break;
		if (c == '#' && i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
			break;
		if (c == ':' && i > 0 && (i + 1 == n || s[i + 1] == ' ' ||
					  s[i + 1] == '\t'))
			break;
	}
	while (i > 1 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
		i--;
	return i ? i : 1;
}

static void add_snippet(dr_strbuf *sb, const dr_diags *d, const dr_diag *g,
			int color)
{
	const char *line;
	size_t len, start, ws, we, i, tok;

	if (!g->file || g->line < 1 ||
	    !(line = dr_diags_source_line(d, g->file, g->line, &len)))
		return;
	if (g->line == 1 && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) {
		line += 3;
		len -= 3;
	}
	start = g->col > 0 ? (size_t)g->col - 1 : 0;
	/* A long line (minified JSON) is shown around the column only. */
	ws = 0;
	we = len;
	if (len > SRC_WINDOW) {
		ws = start > SRC_WINDOW / 3 ? start - SRC_WINDOW / 3 : 0;
		if (ws > len)
			ws = len;
		while (ws > 0 && ws < len && is_cont((unsigned char)line[ws]))
			ws--;
		we = ws + SRC_WINDOW < len ? ws + SRC_WINDOW : len;
		while (we < len && is_cont((unsigned char)line[we]))
			we++;
	}
	add_int(sb, g->line, 5);
	dr_strbuf_addstr(sb, ws ? " | ..." : " | ");
	dr_strbuf_add(sb, line + ws, we - ws);
	dr_strbuf_addstr(sb, we < len ? "...\n" : "\n");
	if (g->col < 1)
		return;
	dr_strbuf_addstr(sb, ws ? "      |    " : "      | ");
	/* Tabs are copied so the caret lines up however they are shown. */
	for (i = ws; i < start; i++) {
		unsigned char c = i < len ? (unsigned char)line[i] : ' ';

		if (c == '\t')
			dr_strbuf_addch(sb, '\t');
		else if (!is_cont(c))
			dr_strbuf_addch(sb, ' ');
	}
	if (color)
		dr_strbuf_addstr(sb, C_GREEN);
	dr_strbuf_addch(sb, '^');
	tok = start < len ? token_len(line + start, we - start) : 1;
	for (i = start + 1; i < start + tok && i < len; i++) {
		if (!is_cont((unsigned char)line[i]))
			dr_strbuf_addch(sb, '~');
	}
	if (color)
		dr_strbuf_addstr(sb, C_RESET);
	dr_strbuf_addch(sb, '\n');
}

static void render_text(const dr_diags *d, const dr_diagfmt_opts *o,
			dr_strbuf *sb)
{
	size_t i, n = dr_diags_len(d), ne, nw;

	for (i = 0; i < n; i++) {
		const dr_diag *g = dr_diags_get(d, i);

		add_header(sb, g, o->color);
		dr_strbuf_addch(sb, '\n');
		add_snippet(sb, d, g, o->color);
		if (g->note) {
			dr_strbuf_addstr(sb, o->color ? C_CYAN "note:" C_RESET " "
						      : "note: ");
			dr_strbuf_addstr(sb, g->note);
			dr_strbuf_addch(sb, '\n');
		}
	}
	if (o->summary) {
		ne = dr_diags_count(d, DR_SEV_ERROR);
		nw = dr_diags_count(d, DR_SEV_WARNING);
		dr_strbuf_addf(sb, "%zu error%s, %zu warning%s\n", ne,
			       ne == 1 ? "" : "s", nw, nw == 1 ? "" : "s");
	}
}

/* ---- json ---- */

static void add_json_str(dr_strbuf *sb, const char *s)
{
	dr_strbuf tmp = DR_STRBUF_INIT;

	if (!s) {
		dr_strbuf_addstr(sb, "null");
		return;
	}
	add_utf8(&tmp, s);
	dr_strbuf_addch(sb, '"');
	dr_strbuf_add_json_escaped(sb, tmp.buf);
	dr_strbuf_addch(sb, '"');
	dr_strbuf_release(&tmp);
}

static void add_json_int(dr_strbuf *sb, int v)
{
	if (v > 0)
		dr_strbuf_addf(sb, "%d", v);
	else
		dr_strbuf_addstr(sb, "null");
}

/* One diagnostic per line: easy to read, grep and diff. */
static void render_json(const dr_diags *d, dr_strbuf *sb)
{
	size_t i, n = dr_diags_len(d);

	dr_strbuf_addstr(sb, "{\n  \"version\": 1,\n  \"diagnostics\": [");
	for (i = 0; i < n; i++) {
		const dr_diag *g = dr_diags_get(d, i);

		dr_strbuf_addstr(sb, i ? ",\n    {\"file\": " : "\n    {\"file\": ");
		add_json_str(sb, g->file);
		dr_strbuf_addstr(sb, ", \"line\": ");
		add_json_int(sb, g->line);
		dr_strbuf_addstr(sb, ", \"column\": ");
		add_json_int(sb, g->col);
		dr_strbuf_addstr(sb, ", \"severity\": ");
		add_json_str(sb, dr_severity_name(g->severity));
		dr_strbuf_addstr(sb, ", \"rule\": ");
		add_json_str(sb, g->rule);
		dr_strbuf_addstr(sb, ", \"message\": ");
		add_json_str(sb, g->message);
		dr_strbuf_addstr(sb, ", \"path\": ");
		add_json_str(sb, g->path);
		dr_strbuf_addstr(sb, ", \"note\": ");
		add_json_str(sb, g->note);
		dr_strbuf_addch(sb, '}');
	}
	dr_strbuf_addf(sb, "%s],\n  \"errors\": %zu,\n  \"warnings\": %zu\n}\n",
		       n ? "\n  " : "", dr_diags_count(d, DR_SEV_ERROR),
		       dr_diags_count(d, DR_SEV_WARNING));
}

/* ---- sarif ---- */

static json_t *jstr(const char *s)
{
	dr_strbuf tmp = DR_STRBUF_INIT;
	json_t *j;

	add_utf8(&tmp, s ? s : "");
	j = json_stringn(tmp.buf, tmp.len);
	dr_strbuf_release(&tmp);
	return j;
}

/* A file name as a URI reference: relative stays relative. */
static json_t *artifact_location(const char *file)
{
	static const char hex[] = "0123456789ABCDEF";
	dr_strbuf sb = DR_STRBUF_INIT;
	const unsigned char *p;
	json_t *loc = json_object();

	if (file[0] == '/')
		dr_strbuf_addstr(&sb, "file://");
	for (p = (const unsigned char *)file; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/!$&'()*+,;=:@", *p))
			dr_strbuf_addch(&sb, *p);
		else
			dr_strbuf_addf(&sb, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
	}
	json_object_set_new(loc, "uri", json_stringn(sb.buf, sb.len));
	if (file[0] != '/')
		json_object_set_new(loc, "uriBaseId", json_string("%SRCROOT%"));
	dr_strbuf_release(&sb);
	return loc;
}

/* Byte column to code-point column, when the line is known. */
static int cp_column(const dr_diags *d, const dr_diag *g)
{
	const char *line;
	size_t len, i, end = (size_t)g->col - 1;
	int col = 1;

	if (!(line = dr_diags_source_line(d, g->file, g->line, &len)))
		return g->col;
	if (g->line == 1 && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) {
		line += 3;
		len -= 3;
	}
	for (i = 0; i < end; i++) {
		if (i >= len || !is_cont((unsigned char)line[i]))
			col++;
	}
	return col;
}

static const char *sarif_level(dr_severity s)
{
	switch (s) {
	case DR_SEV_ERROR: return "error";
	case DR_SEV_WARNING: return "warning";
	case DR_SEV_INFO: return "note";
	}
	return "none";
}

static int render_sarif(const dr_diags *d, const dr_diagfmt_opts *o,
			dr_strbuf *sb)
{
	json_t *log = json_object(), *run = json_object(), *tool, *driver;
	json_t *rules = json_array(), *results = json_array(), *runs;
	size_t i, j, n = dr_diags_len(d);
	char *s;
	int rc;

	json_object_set_new(log, "$schema",
			    json_string("https://json.schemastore.org/"
					"sarif-2.1.0.json"));
	json_object_set_new(log, "version", json_string("2.1.0"));
	runs = json_array();
	json_object_set_new(log, "runs", runs);
	json_array_append_new(runs, run);
	tool = json_object();
	driver = json_object();
	json_object_set_new(run, "tool", tool);
	json_object_set_new(tool, "driver", driver);
	json_object_set_new(driver, "name", json_string("drplan"));
	json_object_set_new(driver, "version", json_string(DR_VERSION));
	json_object_set_new(driver, "informationUri", json_string(DR_INFO_URI));
	json_object_set_new(driver, "rules", rules);
	for (i = 0; i < n; i++) {
		const dr_diag *g = dr_diags_get(d, i);
		json_t *res = json_object(), *msg = json_object();
		dr_strbuf text = DR_STRBUF_INIT;
		size_t ri = (size_t)-1;

		if (g->rule && *g->rule) {
			for (j = 0; j < json_array_size(rules); j++) {
				json_t *r = json_array_get(rules, j);

				if (!strcmp(json_string_value(
						    json_object_get(r, "id")),
					    g->rule)) {
					ri = j;
					break;
				}
			}
			if (ri == (size_t)-1) {
				const char *desc = o->rule_desc
							   ? o->rule_desc(g->rule)
							   : NULL;
				json_t *r = json_object(), *sd = json_object();

				json_object_set_new(r, "id", jstr(g->rule));
				json_object_set_new(sd, "text",
						    jstr(desc ? desc
							      : g->message));
				json_object_set_new(r, "shortDescription", sd);
				ri = json_array_size(rules);
				json_array_append_new(rules, r);
			}
			json_object_set_new(res, "ruleId", jstr(g->rule));
			json_object_set_new(res, "ruleIndex",
					    json_integer((json_int_t)ri));
		}
		json_object_set_new(res, "level",
				    json_string(sarif_level(g->severity)));
		dr_strbuf_addstr(&text, g->message);
		if (g->note)
			dr_strbuf_addf(&text, "\nnote: %s", g->note);
		json_object_set_new(msg, "text", jstr(text.buf));
		dr_strbuf_release(&text);
		json_object_set_new(res, "message", msg);
		if (g->file || g->path) {
			json_t *locs = json_array(), *loc = json_object();

			if (g->file) {
				json_t *phys = json_object();

				json_object_set_new(phys, "artifactLocation",
						    artifact_location(g->file));
				if (g->line > 0) {
					json_t *reg = json_object();

					json_object_set_new(
						reg, "startLine",
						json_integer(g->line));
					if (g->col > 0)
						json_object_set_new(
							reg, "startColumn",
							json_integer(
								cp_column(d, g)));
					json_object_set_new(phys, "region", reg);
				}
				json_object_set_new(loc, "physicalLocation",
						    phys);
			}
			if (g->path) {
				json_t *ll = json_array(), *l = json_object();

				json_object_set_new(l, "fullyQualifiedName",
						    jstr(g->path));
				json_array_append_new(ll, l);
				json_object_set_new(loc, "logicalLocations", ll);
			}
			json_array_append_new(locs, loc);
			json_object_set_new(res, "locations", locs);
		}
		json_array_append_new(results, res);
	}
	json_object_set_new(run, "results", results);
	json_object_set_new(run, "columnKind", json_string("unicodeCodePoints"));
	s = json_dumps(log, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(log);
	if (!s)
		return dr_error_set(DR_ENOMEM, "cannot build the SARIF log");
	rc = dr_strbuf_addstr(sb, s);
	if (!rc)
		rc = dr_strbuf_addch(sb, '\n');
	free(s);
	return rc;
}

/* ---- junit ---- */

/* XML text or attribute value; bad bytes and control characters become
 * U+FFFD, since XML 1.0 cannot carry them at all. */
static void add_xml(dr_strbuf *sb, const char *s, int attr)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k;

	while (n) {
		unsigned char c = *p;

		k = 1;
		if (c == '<')
			dr_strbuf_addstr(sb, "&lt;");
		else if (c == '>')
			dr_strbuf_addstr(sb, "&gt;");
		else if (c == '&')
			dr_strbuf_addstr(sb, "&amp;");
		else if (c == '"')
			dr_strbuf_addstr(sb, "&quot;");
		else if (c == '\'')
			dr_strbuf_addstr(sb, "&apos;");
		else if (attr && (c == '\n' || c == '\t' || c == '\r'))
			dr_strbuf_addf(sb, "&#%d;", c);
		else if (c == '\n' || c == '\t')
			dr_strbuf_addch(sb, c);
		else if (c < 0x20 || c == 0x7F)
			dr_strbuf_addstr(sb, "\xEF\xBF\xBD");
		else if ((k = utf8_seq(p, n)))
			dr_strbuf_add(sb, p, k);
		else {
			dr_strbuf_addstr(sb, "\xEF\xBF\xBD");
			k = 1;
		}
		p += k;
		n -= k;
	}
}

static int same_file(const char *a, const char *b)
{
	return a && b ? !strcmp(a, b) : a == b;
}

/* The testcase a diagnostic belongs to: the plan it was found for (a
 * shared inventory's findings fail each plan using it), else its file. */
static const char *junit_case(const dr_diag *g)
{
	return g->origin ? g->origin : g->file;
}

static int render_junit(const dr_diags *d, const dr_diagfmt_opts *o,
			dr_strbuf *sb)
{
	const char **cases = NULL;
	size_t ncases = 0, alloc = 0, i, j, n = dr_diags_len(d), failed = 0;
	int has_nofile = 0;
	dr_strbuf body = DR_STRBUF_INIT;

	/* The files asked for, then any other file a diagnostic names. */
	for (i = 0; i < o->nfiles + n; i++) {
		const char *f;

		if (i < o->nfiles) {
			f = o->files[i];
		} else {
			f = junit_case(dr_diags_get(d, i - o->nfiles));
			if (!f) {
				has_nofile = 1;
				continue;
			}
		}
		for (j = 0; j < ncases && strcmp(cases[j], f); j++)
			;
		if (j < ncases)
			continue;
		DR_ALLOC_GROW(cases, ncases + 1, alloc);
		cases[ncases++] = f;
	}
	if (has_nofile) {
		DR_ALLOC_GROW(cases, ncases + 1, alloc);
		cases[ncases++] = NULL;
	}
	for (i = 0; i < ncases; i++) {
		const char *name = cases[i] ? cases[i] : "drplan";
		dr_strbuf out = DR_STRBUF_INIT;
		int fails = 0;

		dr_strbuf_addstr(&body, "    <testcase classname=\"");
		add_xml(&body, name, 1);
		dr_strbuf_addstr(&body, "\" name=\"");
		add_xml(&body, name, 1);
		dr_strbuf_addstr(&body, "\"");
		for (j = 0; j < n; j++) {
			const dr_diag *g = dr_diags_get(d, j);
			dr_strbuf line = DR_STRBUF_INIT;

			if (!same_file(junit_case(g), cases[i]))
				continue;
			add_header(&line, g, 0);
			if (g->note)
				dr_strbuf_addf(&line, "\nnote: %s", g->note);
			if (g->severity == DR_SEV_ERROR ||
			    (o->strict && g->severity == DR_SEV_WARNING)) {
				if (!fails++)
					dr_strbuf_addstr(&body, ">\n");
				dr_strbuf_addstr(&body,
						 "      <failure message=\"");
				add_xml(&body, g->message, 1);
				dr_strbuf_addstr(&body, "\" type=\"");
				add_xml(&body, g->rule, 1);
				dr_strbuf_addstr(&body, "\">");
				add_xml(&body, line.buf, 0);
				dr_strbuf_addstr(&body, "</failure>\n");
			} else {
				add_xml(&out, line.buf, 0);
				dr_strbuf_addch(&out, '\n');
			}
			dr_strbuf_release(&line);
		}
		if (out.len) {
			if (!fails)
				dr_strbuf_addstr(&body, ">\n");
			dr_strbuf_addstr(&body, "      <system-out>");
			dr_strbuf_add(&body, out.buf, out.len);
			dr_strbuf_addstr(&body, "</system-out>\n");
		}
		if (fails || out.len)
			dr_strbuf_addstr(&body, "    </testcase>\n");
		else
			dr_strbuf_addstr(&body, "/>\n");
		failed += fails > 0;
		dr_strbuf_release(&out);
	}
	dr_strbuf_addf(sb,
		       "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		       "<testsuites name=\"drplan\" tests=\"%zu\" "
		       "failures=\"%zu\" errors=\"0\">\n"
		       "  <testsuite name=\"drplan validate\" tests=\"%zu\" "
		       "failures=\"%zu\" errors=\"0\" skipped=\"0\">\n",
		       ncases, failed, ncases, failed);
	dr_strbuf_add(sb, body.buf, body.len);
	dr_strbuf_addstr(sb, "  </testsuite>\n</testsuites>\n");
	dr_strbuf_release(&body);
	free(cases);
	return 0;
}

int dr_diags_render(const dr_diags *d, dr_diagfmt fmt,
		    const dr_diagfmt_opts *o, dr_strbuf *out)
{
	static const dr_diagfmt_opts defaults;
	dr_strbuf sb = DR_STRBUF_INIT;
	int rc = 0;

	if (!o)
		o = &defaults;
	/* Render apart, so a capped out is either complete or unchanged. */
	switch (fmt) {
	case DR_DIAGFMT_TEXT:
		render_text(d, o, &sb);
		break;
	case DR_DIAGFMT_JSON:
		render_json(d, &sb);
		break;
	case DR_DIAGFMT_SARIF:
		rc = render_sarif(d, o, &sb);
		break;
	case DR_DIAGFMT_JUNIT:
		rc = render_junit(d, o, &sb);
		break;
	default:
		rc = dr_error_set(DR_EINVAL, "unknown output format %d",
				  (int)fmt);
	}
	if (!rc)
		rc = dr_strbuf_add(out, sb.buf, sb.len);
	dr_strbuf_release(&sb);
	return rc;
}
