/*
 * schema-util.c - regular expression translation, formats and URI
 * resolution for the schema validator.
 */
#include "schema/schema-int.h"

#include "core/alloc.h"
#include "core/error.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- ECMA-262 to POSIX ERE ---------------------------------------------- */

static void add_utf8(dr_strbuf *out, unsigned long cp)
{
	if (cp < 0x80) {
		dr_strbuf_addch(out, (int)cp);
	} else if (cp < 0x800) {
		dr_strbuf_addch(out, (int)(0xC0 | (cp >> 6)));
		dr_strbuf_addch(out, (int)(0x80 | (cp & 0x3F)));
	} else {
		dr_strbuf_addch(out, (int)(0xE0 | (cp >> 12)));
		dr_strbuf_addch(out, (int)(0x80 | ((cp >> 6) & 0x3F)));
		dr_strbuf_addch(out, (int)(0x80 | (cp & 0x3F)));
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse n hex digits at s; -1 when they are not all there. */
static long hexn(const char *s, int n)
{
	long v = 0;
	int i;

	for (i = 0; i < n; i++) {
		int h = hexval((unsigned char)s[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static int control_escape(int c)
{
	switch (c) {
	case 'n': return '\n';
	case 't': return '\t';
	case 'r': return '\r';
	case 'f': return '\f';
	case 'v': return '\v';
	default: return -1;
	}
}

#define SPACE_CHARS " \t\n\r\f\v"

/* The character an escape inside brackets stands for (after the backslash
 * and e); -1 when unsupported. \\uXXXX and \\xHH must be ASCII. */
static int class_char_escape(const char **ps, int e)
{
	long v;

	if (e == 'u' || e == 'x') {
		v = hexn(*ps, e == 'u' ? 4 : 2);
		if (v <= 0 || v >= 0x80)
			return -1;
		*ps += e == 'u' ? 4 : 2;
		return (int)v;
	}
	if (control_escape(e) >= 0)
		return control_escape(e);
	if (e == 'b')
		return '\b'; /* ECMA: backspace inside a class */
	return isalnum(e) || e >= 0x80 ? -1 : e;
}

static void byteset_escape(unsigned char *set, int e)
{
	unsigned char tmp[32] = { 0 };
	const char *sp = SPACE_CHARS;
	int c;

	switch (e | 32) {
	case 'd':
		for (c = '0'; c <= '9'; c++)
			tmp[c >> 3] |= (unsigned char)(1u << (c & 7));
		break;
	case 'w':
		for (c = 0; c < 128; c++)
			if (isalnum(c) || c == '_')
				tmp[c >> 3] |= (unsigned char)(1u << (c & 7));
		break;
	case 's':
		for (; *sp; sp++)
			tmp[*sp >> 3] |= (unsigned char)(1u << (*sp & 7));
		break;
	}
	for (c = 0; c < 32; c++)
		set[c] |= (unsigned char)(e >= 'A' && e <= 'Z' ? ~tmp[c] : tmp[c]);
}

/*
 * A class with \D, \W or \S ("[\s\S]", "[\W_]") has no POSIX spelling
 * with escapes, so it is computed as a set of bytes and written out. Bytes
 * of UTF-8 sequences are members of the negated escapes, which keeps
 * "[\s\S]*" matching any text.
 */
static int translate_class_bytes(const char **ps, dr_strbuf *out, const char **why)
{
	unsigned char set[32] = { 0 };
	const char *s = *ps;
	int neg = 0, c, members = 0, prev = -1;

	if (*s == '^') {
		neg = 1;
		s++;
	}
	while (*s && *s != ']') {
		c = (unsigned char)*s++;
		if (c >= 0x80) {
			*why = "non-ASCII character in a class with \\D, \\W or \\S";
			return DR_EINVAL;
		}
		if (c == '\\') {
			int e = (unsigned char)*s;

			if (!e)
				break;
			s++;
			if (strchr("dDwWsS", e)) {
				byteset_escape(set, e);
				prev = -1;
				continue;
			}
			c = class_char_escape(&s, e);
			if (c < 0) {
				*why = "unsupported escape in brackets";
				return DR_EINVAL;
			}
		}
		if (c == '-' && prev >= 0 && *s && *s != ']') {
			int hi = (unsigned char)*s++, k;

			if (hi == '\\' && *s) {
				int e = (unsigned char)*s++;

				hi = strchr("dDwWsS", e) ? -1 : class_char_escape(&s, e);
			}
			if (hi < 0 || hi >= 0x80 || hi < prev) {
				*why = "unsupported range in brackets";
				return DR_EINVAL;
			}
			for (k = prev; k <= hi; k++)
				set[k >> 3] |= (unsigned char)(1u << (k & 7));
			prev = -1;
			continue;
		}
		set[c >> 3] |= (unsigned char)(1u << (c & 7));
		prev = c;
	}
	if (*s != ']') {
		*why = "unterminated [";
		return DR_EINVAL;
	}
	*ps = s + 1;
	if (neg)
		for (c = 0; c < 32; c++)
			set[c] = (unsigned char)~set[c];
	set[0] &= (unsigned char)~1u; /* NUL never occurs in a C string */
	for (c = 1; c < 256; c++)
		members += (set[c >> 3] >> (c & 7)) & 1;
	if (members == 255) {
		/* Without REG_NEWLINE, "." matches every character. */
		dr_strbuf_addch(out, '.');
		return 0;
	}
	if (!members) {
		*why = "a class that matches nothing";
		return DR_EINVAL;
	}
	/* List the smaller side: members, or non-members after "^". */
	{
		int want = members <= 127, rb, hy, caret;

		dr_strbuf_addstr(out, want ? "[" : "[^");
		rb = ((set[']' >> 3] >> (']' & 7)) & 1) == want;
		hy = ((set['-' >> 3] >> ('-' & 7)) & 1) == want;
		caret = ((set['^' >> 3] >> ('^' & 7)) & 1) == want;
		if (rb)
			dr_strbuf_addch(out, ']');
		for (c = 1; c < 256; c++) {
			if (((set[c >> 3] >> (c & 7)) & 1) != want || c == ']' || c == '-' ||
			    c == '^')
				continue;
			dr_strbuf_addch(out, c);
		}
		if (caret)
			dr_strbuf_addch(out, '^');
		if (hy)
			dr_strbuf_addch(out, '-');
		if (want && members == 1 && caret) {
			/* Only "^": "[^]" would not parse. */
			dr_strbuf_setlen(out, out->len - 2);
			dr_strbuf_addstr(out, "\\^");
			return 0;
		}
		dr_strbuf_addch(out, ']');
	}
	return 0;
}

/*
 * Inside a bracket expression POSIX treats backslash literally and gives
 * ']' and '-' meaning by position, so the class is rebuilt: ']' first,
 * '^' after the others, '-' last.
 */
static int translate_class(const char **ps, dr_strbuf *out, const char **why)
{
	const char *s = *ps;
	dr_strbuf items = DR_STRBUF_INIT;
	int neg = 0, rb = 0, caret = 0, hyphen = 0;
	int prev = -1; /* last single byte added, for ranges */
	const char *p;

	/* ASCII classes are computed exactly as byte sets; only classes
	 * with UTF-8 characters are rebuilt item by item. */
	for (p = s; *p && *p != ']'; p++) {
		if ((unsigned char)*p >= 0x80)
			break;
		if (*p == '\\' && p[1])
			p++;
	}
	if ((unsigned char)*p < 0x80)
		return translate_class_bytes(ps, out, why);

	if (*s == '^') {
		neg = 1;
		s++;
	}
	while (*s && *s != ']') {
		int c = (unsigned char)*s++;

		if (c == '\\') {
			int e = (unsigned char)*s;
			long v;

			if (!e)
				break;
			s++;
			switch (e) {
			case 'd': dr_strbuf_addstr(&items, "0-9"); prev = -1; continue;
			case 'w': dr_strbuf_addstr(&items, "A-Za-z0-9_"); prev = -1; continue;
			case 's': dr_strbuf_addstr(&items, SPACE_CHARS); prev = -1; continue;
			case 'D': case 'W': case 'S':
				dr_strbuf_release(&items);
				return translate_class_bytes(ps, out, why);
			case 'u':
				v = hexn(s, 4);
				if (v < 0 || v > 0x7F) {
					dr_strbuf_release(&items);
					*why = "non-ASCII \\u escape inside brackets";
					return DR_EINVAL;
				}
				s += 4;
				c = (int)v;
				break;
			case 'x':
				v = hexn(s, 2);
				if (v < 0 || v > 0x7F) {
					dr_strbuf_release(&items);
					*why = "non-ASCII \\x escape inside brackets";
					return DR_EINVAL;
				}
				s += 2;
				c = (int)v;
				break;
			default:
				c = control_escape(e) >= 0 ? control_escape(e) : e;
				break;
			}
		}
		if (c == '-' && prev >= 0 && *s && *s != ']') {
			/* A range: replace the previous byte by "a-b". */
			int hi = (unsigned char)*s++;

			if (hi == '\\' && *s) {
				int e = (unsigned char)*s++;

				hi = control_escape(e) >= 0 ? control_escape(e) : e;
			}
			if (prev == ']' || prev == '^' || prev == '-' || hi == ']') {
				dr_strbuf_release(&items);
				*why = "unsupported range in brackets";
				return DR_EINVAL;
			}
			dr_strbuf_addch(&items, '-');
			dr_strbuf_addch(&items, hi);
			prev = -1;
			continue;
		}
		if (c == ']') {
			rb = 1;
			prev = -1;
		} else if (c == '^') {
			caret = 1;
			prev = '^';
		} else if (c == '-') {
			hyphen = 1;
			prev = -1;
		} else {
			dr_strbuf_addch(&items, c);
			prev = c;
		}
	}
	if (*s != ']') {
		dr_strbuf_release(&items);
		*why = "unterminated [";
		return DR_EINVAL;
	}
	*ps = s + 1;
	if (!items.len && !rb && !hyphen) {
		if (!caret) {
			dr_strbuf_release(&items);
			*why = neg ? "[^] is not supported" : "[] is not supported";
			return DR_EINVAL;
		}
		dr_strbuf_addstr(out, neg ? "[^^]" : "\\^");
		dr_strbuf_release(&items);
		return 0;
	}
	dr_strbuf_addch(out, '[');
	if (neg)
		dr_strbuf_addch(out, '^');
	if (rb)
		dr_strbuf_addch(out, ']');
	dr_strbuf_add(out, items.buf, items.len);
	if (caret)
		dr_strbuf_addch(out, '^');
	if (hyphen)
		dr_strbuf_addch(out, '-');
	dr_strbuf_addch(out, ']');
	dr_strbuf_release(&items);
	return 0;
}

/* Is s (just after '{') a complete ECMA quantifier {n}, {n,} or {n,m}? */
static int is_quantifier(const char *s)
{
	if (!isdigit((unsigned char)*s))
		return 0;
	while (isdigit((unsigned char)*s))
		s++;
	if (*s == ',') {
		s++;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return *s == '}';
}

/*
 * regcomp() expands counted repetition, so "((a{99}){99}){99}" or a
 * quantifier stacked on a quantifier can take gigabytes. The size of the
 * expansion is tracked per group level and bounded.
 */
#define RE_MAX_COST 20000
#define RE_MAX_GROUPS 64

struct re_cost {
	long sum[RE_MAX_GROUPS + 1];  /* size of the current group so far */
	long last[RE_MAX_GROUPS + 1]; /* size of its last item */
	int depth;
	int can_repeat;
};

enum { TOK_ATOM, TOK_QUANT, TOK_OPEN, TOK_CLOSE, TOK_ALT, TOK_ASSERT };

static long cap_cost(long v)
{
	return v > RE_MAX_COST ? RE_MAX_COST + 1 : v;
}

static int re_cost_step(struct re_cost *rc, int tok, long copies, const char **why)
{
	long *sum = &rc->sum[rc->depth], *last = &rc->last[rc->depth];

	switch (tok) {
	case TOK_ATOM:
		*sum = cap_cost(*sum + 1);
		*last = 1;
		rc->can_repeat = 1;
		break;
	case TOK_QUANT:
		if (!rc->can_repeat) {
			*why = "quantifier without anything to repeat";
			return DR_EINVAL;
		}
		*sum = cap_cost(*sum + cap_cost(*last * (copies - 1)));
		*last = cap_cost(*last * copies);
		rc->can_repeat = 0;
		break;
	case TOK_OPEN:
		if (rc->depth == RE_MAX_GROUPS) {
			*why = "groups nested too deeply";
			return DR_EINVAL;
		}
		rc->depth++;
		rc->sum[rc->depth] = rc->last[rc->depth] = 0;
		rc->can_repeat = 0;
		break;
	case TOK_CLOSE:
		if (!rc->depth) {
			*why = "unmatched )";
			return DR_EINVAL;
		}
		rc->depth--;
		rc->sum[rc->depth] = cap_cost(rc->sum[rc->depth] + rc->sum[rc->depth + 1]);
		rc->last[rc->depth] = rc->sum[rc->depth + 1];
		rc->can_repeat = 1;
		break;
	default:
		rc->can_repeat = 0;
		break;
	}
	if (rc->sum[rc->depth] > RE_MAX_COST) {
		*why = "pattern too large once repetitions are expanded";
		return DR_EINVAL;
	}
	return 0;
}

int dr_schema_regex_translate(const char *s, dr_strbuf *out, const char **why)
{
	struct re_cost rc;

	memset(&rc, 0, sizeof(rc));
	*why = NULL;
	while (*s) {
		int c = (unsigned char)*s++;
		int tok = TOK_ATOM;
		long v, copies = 1;

		switch (c) {
		case '\\': {
			int e = (unsigned char)*s;

			if (!e) {
				*why = "trailing backslash";
				return DR_EINVAL;
			}
			s++;
			switch (e) {
			case 'd': dr_strbuf_addstr(out, "[0-9]"); break;
			case 'D': dr_strbuf_addstr(out, "[^0-9]"); break;
			case 'w': dr_strbuf_addstr(out, "[A-Za-z0-9_]"); break;
			case 'W': dr_strbuf_addstr(out, "[^A-Za-z0-9_]"); break;
			case 's': dr_strbuf_addstr(out, "[" SPACE_CHARS "]"); break;
			case 'S': dr_strbuf_addstr(out, "[^" SPACE_CHARS "]"); break;
			case 'b': case 'B':
				/* glibc and musl both accept these in ERE. */
				dr_strbuf_addch(out, '\\');
				dr_strbuf_addch(out, e);
				tok = TOK_ASSERT;
				break;
			case 'u': case 'x':
				v = hexn(s, e == 'u' ? 4 : 2);
				if (v < 0) {
					*why = "bad \\u or \\x escape";
					return DR_EINVAL;
				}
				s += e == 'u' ? 4 : 2;
				if (v < 0x80 && v > 0) {
					dr_strbuf_addch(out, '[');
					dr_strbuf_addch(out, (int)v);
					dr_strbuf_addch(out, ']');
				} else if (v == 0) {
					*why = "NUL in pattern";
					return DR_EINVAL;
				} else {
					/* A group, so a quantifier takes the whole
					 * character, not its last byte. */
					dr_strbuf_addch(out, '(');
					add_utf8(out, (unsigned long)v);
					dr_strbuf_addch(out, ')');
				}
				break;
			default:
				if (e >= '1' && e <= '9') {
					*why = "back-references are not supported";
					return DR_EINVAL;
				}
				if (control_escape(e) >= 0) {
					dr_strbuf_addch(out, control_escape(e));
				} else if (strchr(".[]()*+?{}|^$\\", e)) {
					dr_strbuf_addch(out, '\\');
					dr_strbuf_addch(out, e);
				} else if (isalnum(e)) {
					*why = "unknown escape";
					return DR_EINVAL;
				} else {
					dr_strbuf_addch(out, e);
				}
				break;
			}
			break;
		}
		case '[':
			if (translate_class(&s, out, why))
				return DR_EINVAL;
			break;
		case '(':
			if (*s == '?') {
				if (s[1] == ':') {
					s += 2;
				} else {
					*why = "look-around and named groups are not supported";
					return DR_EINVAL;
				}
			}
			dr_strbuf_addch(out, '(');
			tok = TOK_OPEN;
			break;
		case ')':
			dr_strbuf_addch(out, c);
			tok = TOK_CLOSE;
			break;
		case '|':
			dr_strbuf_addch(out, c);
			tok = TOK_ALT;
			break;
		case '^': case '$':
			dr_strbuf_addch(out, c);
			tok = TOK_ASSERT;
			break;
		case '*': case '+': case '?':
			dr_strbuf_addch(out, c);
			tok = TOK_QUANT;
			copies = c == '+' ? 2 : 1;
			/* Laziness does not change whether a match exists. */
			if (*s == '?')
				s++;
			break;
		case '{':
			if (is_quantifier(s)) {
				const char *end = strchr(s, '}');
				const char *comma = memchr(s, ',', (size_t)(end - s));
				unsigned long lo = strtoul(s, NULL, 10), hi = lo;

				if (comma)
					hi = comma + 1 == end ? lo + 1 : strtoul(comma + 1, NULL, 10);
				if (hi < lo || hi > 1000) {
					*why = "repetition count out of range (at most 1000)";
					return DR_EINVAL;
				}
				tok = TOK_QUANT;
				copies = hi ? (long)hi : 1;

				dr_strbuf_addch(out, '{');
				dr_strbuf_add(out, s, (size_t)(end - s + 1));
				s = end + 1;
				if (*s == '?')
					s++;
			} else {
				dr_strbuf_addstr(out, "[{]");
			}
			break;
		case '}':
			dr_strbuf_addstr(out, "[}]");
			break;
		case '.':
			/* ECMA's dot does not match line terminators. */
			dr_strbuf_addstr(out, "[^\n\r]");
			break;
		default:
			dr_strbuf_addch(out, c);
			break;
		}
		if (re_cost_step(&rc, tok, copies, why))
			return DR_EINVAL;
	}
	if (rc.depth) {
		*why = "unmatched (";
		return DR_EINVAL;
	}
	return 0;
}

/* ---- formats ------------------------------------------------------------- */

static int digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (s[i] - '0');
	}
	return 1;
}

static int days_in_month(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

int dr_schema_is_date_time(const char *s)
{
	int y, mo, d, h, mi, sec, oh, om;

	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, &d))
		return 0;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return 0;
	s += 10;
	if (*s != 'T' && *s != 't')
		return 0;
	s++;
	if (!digits(s, 2, &h) || s[2] != ':' || !digits(s + 3, 2, &mi) ||
	    s[5] != ':' || !digits(s + 6, 2, &sec))
		return 0;
	if (h > 23 || mi > 59 || sec > 60)
		return 0;
	s += 8;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if ((*s == 'Z' || *s == 'z') && !s[1])
		return 1;
	if (*s != '+' && *s != '-')
		return 0;
	s++;
	if (!digits(s, 2, &oh) || s[2] != ':' || !digits(s + 3, 2, &om) || s[5])
		return 0;
	return oh <= 23 && om <= 59;
}

int dr_schema_is_hostname(const char *s)
{
	size_t total = strlen(s), label = 0;
	const char *p;

	if (!total || total > 253)
		return 0;
	for (p = s; ; p++) {
		if (*p == '.' || !*p) {
			if (!label || label > 63 || p[-1] == '-')
				return 0;
			if (!*p)
				return 1;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-')
			return 0;
		if (*p == '-' && !label)
			return 0;
		label++;
	}
}

int dr_schema_is_email(const char *s)
{
	const char *at = strchr(s, '@');
	const char *p;

	if (!at || at == s || !at[1] || strchr(at + 1, '@'))
		return 0;
	for (p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7F)
			return 0;
	return dr_schema_is_hostname(at + 1);
}

int dr_schema_is_uri(const char *s)
{
	const char *p = s;

	if (!isalpha((unsigned char)*p))
		return 0;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (*p != ':')
		return 0;
	for (p++; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '%') {
			if (hexval((unsigned char)p[1]) < 0 || hexval((unsigned char)p[2]) < 0)
				return 0;
			p += 2;
			continue;
		}
		if (c >= 0x80)
			continue; /* tolerate UTF-8 (IRIs) */
		if (!isalnum(c) && !strchr("-._~:/?#[]@!$&'()*+,;=", c))
			return 0;
	}
	return 1;
}

/* ---- URI resolution (RFC 3986 section 5.2) --------------------------------- */

struct uri {
	const char *scheme; size_t scheme_len; /* NULL: none */
	const char *auth; size_t auth_len;     /* NULL: none */
	const char *path; size_t path_len;
	const char *query; size_t query_len;   /* NULL: none */
	const char *frag;                      /* NULL: none */
};

static void uri_split(const char *s, struct uri *u)
{
	const char *p = s;

	memset(u, 0, sizeof(*u));
	while (*p && !strchr(":/?#", *p))
		p++;
	if (*p == ':' && p > s && isalpha((unsigned char)*s)) {
		u->scheme = s;
		u->scheme_len = (size_t)(p - s);
		s = p + 1;
	}
	if (s[0] == '/' && s[1] == '/') {
		s += 2;
		u->auth = s;
		while (*s && !strchr("/?#", *s))
			s++;
		u->auth_len = (size_t)(s - u->auth);
	}
	u->path = s;
	while (*s && *s != '?' && *s != '#')
		s++;
	u->path_len = (size_t)(s - u->path);
	if (*s == '?') {
		u->query = ++s;
		while (*s && *s != '#')
			s++;
		u->query_len = (size_t)(s - u->query);
	}
	if (*s == '#')
		u->frag = s + 1;
}

/* Append path with "." and ".." segments removed (RFC 3986 5.2.4). */
static void add_path_normalised(dr_strbuf *out, const char *in, size_t n)
{
	size_t start = out->len;
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		if (in[i] == '/')
			j++;
		while (j < n && in[j] != '/')
			j++;
		/* Segment is in[i..j), with its leading slash if any. */
		{
			const char *seg = in + i + (in[i] == '/');
			size_t len = (size_t)(in + j - seg);
			int slash = in[i] == '/';
			int last = j >= n;

			if (len == 1 && seg[0] == '.') {
				if (last && slash)
					dr_strbuf_addch(out, '/');
			} else if (len == 2 && seg[0] == '.' && seg[1] == '.') {
				while (out->len > start && out->buf[out->len - 1] != '/')
					out->len--;
				if (out->len > start)
					out->len--;
				out->buf[out->len] = '\0';
				if (last && slash)
					dr_strbuf_addch(out, '/');
			} else {
				dr_strbuf_add(out, in + i, (size_t)(j - i));
			}
		}
		i = j;
	}
}

void dr_schema_uri_resolve(const char *base, const char *ref, dr_strbuf *out)
{
	struct uri b, r;
	dr_strbuf merged = DR_STRBUF_INIT;

	uri_split(base ? base : "", &b);
	uri_split(ref, &r);
	if (r.scheme) {
		dr_strbuf_add(out, r.scheme, r.scheme_len + 1);
		if (r.auth) {
			dr_strbuf_addstr(out, "//");
			dr_strbuf_add(out, r.auth, r.auth_len);
		}
		add_path_normalised(out, r.path, r.path_len);
		if (r.query) {
			dr_strbuf_addch(out, '?');
			dr_strbuf_add(out, r.query, r.query_len);
		}
	} else {
		if (b.scheme)
			dr_strbuf_add(out, b.scheme, b.scheme_len + 1);
		if (r.auth) {
			dr_strbuf_addstr(out, "//");
			dr_strbuf_add(out, r.auth, r.auth_len);
			add_path_normalised(out, r.path, r.path_len);
			if (r.query) {
				dr_strbuf_addch(out, '?');
				dr_strbuf_add(out, r.query, r.query_len);
			}
		} else {
			if (b.auth) {
				dr_strbuf_addstr(out, "//");
				dr_strbuf_add(out, b.auth, b.auth_len);
			}
			if (!r.path_len) {
				dr_strbuf_add(out, b.path, b.path_len);
				if (r.query) {
					dr_strbuf_addch(out, '?');
					dr_strbuf_add(out, r.query, r.query_len);
				} else if (b.query) {
					dr_strbuf_addch(out, '?');
					dr_strbuf_add(out, b.query, b.query_len);
				}
			} else {
				if (r.path[0] == '/') {
					add_path_normalised(out, r.path, r.path_len);
				} else {
					const char *slash = NULL;
					size_t k;

					for (k = 0; k < b.path_len; k++)
						if (b.path[k] == '/')
							slash = b.path + k;
					if (b.auth && !b.path_len)
						dr_strbuf_addch(&merged, '/');
					else if (slash)
						dr_strbuf_add(&merged, b.path,
							      (size_t)(slash - b.path + 1));
					dr_strbuf_add(&merged, r.path, r.path_len);
					add_path_normalised(out, merged.buf, merged.len);
				}
				if (r.query) {
					dr_strbuf_addch(out, '?');
					dr_strbuf_add(out, r.query, r.query_len);
				}
			}
		}
	}
	if (r.frag) {
		dr_strbuf_addch(out, '#');
		dr_strbuf_addstr(out, r.frag);
	}
	dr_strbuf_release(&merged);
}

/* ---- a fast matcher for simple patterns ----------------------------------- */

/*
 * glibc's regexec costs about a microsecond even for "^[a-z][a-z0-9-]*$",
 * and plans check such patterns on every name. Patterns that are a plain
 * sequence of single-character atoms with quantifiers (no groups, no
 * alternation), optionally anchored, are matched by memoised backtracking
 * over (atom, position), which is at worst atoms x length^2.
 */
struct sre_atom {
	unsigned char cls[16]; /* ASCII bitmap */
	size_t lo, hi;         /* repetitions; hi SIZE_MAX: unbounded */
};

struct dr_schema_sre {
	int bol, eol;
	size_t n;
	struct sre_atom at[];
};

#define SRE_MAX_ATOMS 64
#define SRE_MAX_BITS 65536

static void cls_set(unsigned char *cls, int c)
{
	cls[c >> 3] |= (unsigned char)(1u << (c & 7));
}

static void cls_range(unsigned char *cls, int lo, int hi)
{
	int c;

	for (c = lo; c <= hi; c++)
		cls_set(cls, c);
}

static void cls_invert(unsigned char *cls)
{
	size_t i;

	for (i = 0; i < 16; i++)
		cls[i] = (unsigned char)~cls[i];
}

/* Class escapes \d \w \s and their negations; 0 when e is none of them. */
static int cls_escape(unsigned char *cls, int e)
{
	unsigned char tmp[16] = { 0 };
	const char *sp = SPACE_CHARS;

	switch (e | 32) {
	case 'd': cls_range(tmp, '0', '9'); break;
	case 'w': cls_range(tmp, '0', '9'); cls_range(tmp, 'a', 'z');
		  cls_range(tmp, 'A', 'Z'); cls_set(tmp, '_'); break;
	case 's': for (; *sp; sp++) cls_set(tmp, *sp); break;
	default: return 0;
	}
	if (e >= 'A' && e <= 'Z')
		cls_invert(tmp);
	for (e = 0; e < 16; e++)
		cls[e] |= tmp[e];
	return 1;
}

/* One character of a class or an atom; -1 when not simple. */
static int simple_char(const char **ps)
{
	const char *s = *ps;
	int c = (unsigned char)*s++;

	if (c >= 0x80 || !c)
		return -1;
	if (c == '\\') {
		int e = (unsigned char)*s++;

		if (control_escape(e) >= 0)
			c = control_escape(e);
		else if (e && e < 0x80 && !isalnum(e))
			c = e;
		else
			return -1;
	}
	*ps = s;
	return c;
}

static int parse_simple_class(const char **ps, unsigned char *cls)
{
	const char *s = *ps;
	int neg = 0;

	if (*s == '^') {
		neg = 1;
		s++;
	}
	if (*s == ']')
		return -1;
	while (*s && *s != ']') {
		int lo, hi;

		if (s[0] == '\\' && cls_escape(cls, (unsigned char)s[1])) {
			s += 2;
			continue;
		}
		if ((lo = simple_char(&s)) < 0)
			return -1;
		if (s[0] == '-' && s[1] && s[1] != ']') {
			s++;
			if ((s[0] == '\\' && strchr("dDwWsS", s[1])) || (hi = simple_char(&s)) < 0 ||
			    hi < lo)
				return -1;
			cls_range(cls, lo, hi);
		} else {
			cls_set(cls, lo);
		}
	}
	if (*s != ']')
		return -1;
	if (neg)
		cls_invert(cls);
	*ps = s + 1;
	return 0;
}

struct dr_schema_sre *dr_schema_sre_compile(const char *s)
{
	struct sre_atom buf[SRE_MAX_ATOMS];
	struct dr_schema_sre *re;
	size_t n = 0;
	int bol = 0, eol = 0;

	if (*s == '^') {
		bol = 1;
		s++;
	}
	while (*s) {
		struct sre_atom *a;

		if (*s == '$' && !s[1]) {
			eol = 1;
			break;
		}
		if (n == SRE_MAX_ATOMS)
			return NULL;
		a = &buf[n++];
		memset(a, 0, sizeof(*a));
		a->lo = a->hi = 1;
		if (*s == '.') {
			/* ECMA's dot does not match line terminators. */
			cls_range(a->cls, 0, 127);
			a->cls['\n' >> 3] &= (unsigned char)~(1u << ('\n' & 7));
			a->cls['\r' >> 3] &= (unsigned char)~(1u << ('\r' & 7));
			s++;
		} else if (*s == '[') {
			s++;
			if (parse_simple_class(&s, a->cls))
				return NULL;
		} else if (*s == '\\' && cls_escape(a->cls, (unsigned char)s[1])) {
			s += 2;
		} else if (strchr("()|*+?{}^$", *s)) {
			return NULL;
		} else {
			int c = simple_char(&s);

			if (c < 0)
				return NULL;
			cls_set(a->cls, c);
		}
		if (*s == '*' || *s == '+' || *s == '?') {
			a->lo = *s == '+';
			a->hi = *s == '?' ? 1 : SIZE_MAX;
			s++;
		} else if (*s == '{') {
			char *end;

			if (!is_quantifier(s + 1))
				return NULL;
			a->lo = strtoul(s + 1, &end, 10);
			a->hi = a->lo;
			if (*end == ',')
				a->hi = end[1] == '}' ? SIZE_MAX : strtoul(end + 1, &end, 10);
			s = strchr(s, '}') + 1;
			if (a->hi < a->lo || a->lo > 100000)
				return NULL;
		} else {
			continue;
		}
		if (*s == '?')
			s++; /* laziness does not change whether a match exists */
	}
	re = dr_xmalloc(sizeof(*re) + n * sizeof(re->at[0]));
	re->bol = bol;
	re->eol = eol;
	re->n = n;
	memcpy(re->at, buf, n * sizeof(buf[0]));
	return re;
}

struct sre_run {
	const struct dr_schema_sre *re;
	const unsigned char *s;
	size_t len;
	unsigned char *failed; /* bit (i * (len + 1) + p): m(i, p) is false */
};

static int in_cls(const struct sre_atom *a, unsigned char c)
{
	return (a->cls[c >> 3] >> (c & 7)) & 1;
}

/* Does the pattern from atom i on match the subject from position p? */
static int sre_m(struct sre_run *r, size_t i, size_t p)
{
	const struct sre_atom *a;
	size_t bit, q;
	int ok = 0;

	if (i == r->re->n)
		return !r->re->eol || p == r->len;
	bit = i * (r->len + 1) + p;
	if (r->failed[bit >> 3] & (1u << (bit & 7)))
		return 0;
	a = &r->re->at[i];
	for (q = p; q < r->len && q - p < a->hi && in_cls(a, r->s[q]); q++)
		;
	if (q - p >= a->lo) {
		for (;; q--) {
			if (sre_m(r, i + 1, q)) {
				ok = 1;
				break;
			}
			if (q == p + a->lo)
				break;
		}
	}
	if (!ok)
		r->failed[bit >> 3] |= (unsigned char)(1u << (bit & 7));
	return ok;
}

int dr_schema_sre_match(const struct dr_schema_sre *re, const char *s, size_t len)
{
	unsigned char memo[SRE_MAX_BITS / 8];
	struct sre_run r;
	size_t i, bits = (re->n + 1) * (len + 1);

	if (len > 4096 || bits > SRE_MAX_BITS)
		return -1;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80 || !s[i])
			return -1; /* code points, not bytes: let regexec decide */
	memset(memo, 0, (bits + 7) / 8);
	r.re = re;
	r.s = (const unsigned char *)s;
	r.len = len;
	r.failed = memo;
	if (re->bol)
		return sre_m(&r, 0, 0);
	for (i = 0; i <= len; i++)
		if (sre_m(&r, 0, i))
			return 1;
	return 0;
}
