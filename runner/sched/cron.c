/*
 * cron.c - cron expression parser and next-run search (see cron.h).
 */
#include "sched/cron.h"

#include "core/alloc.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW, F_COUNT };

static const char *const month_names[12] = { "JAN", "FEB", "MAR", "APR",
					     "MAY", "JUN", "JUL", "AUG",
					     "SEP", "OCT", "NOV", "DEC" };
static const char *const day_names[7] = { "SUN", "MON", "TUE", "WED",
					  "THU", "FRI", "SAT" };

static const struct field {
	const char *name;
	int lo, hi;
	const char *const *names; /* names[i] is value i + names_base */
	int nnames, names_base;
	const char *names_hint;
} fields[F_COUNT] = {
	{ "minute", 0, 59, NULL, 0, 0, NULL },
	{ "hour", 0, 23, NULL, 0, 0, NULL },
	{ "day-of-month", 1, 31, NULL, 0, 0, NULL },
	{ "month", 1, 12, month_names, 12, 1, "JAN-DEC" },
	{ "day-of-week", 0, 7, day_names, 7, 0, "SUN-SAT" },
};

static const struct macro {
	const char *name, *expansion;
} macros[] = {
	{ "@yearly", "0 0 1 1 *" },   { "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },  { "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

struct parser {
	const char *expr;
	char *err;
	size_t errlen;
	int *err_col;
};

static int fail(struct parser *p, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, const char *at, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "%s", msg);
	if (p->err_col)
		*p->err_col = (int)(at - p->expr) + 1;
	return dr_error_set(DR_EINVAL, "%s", msg);
}

/* Newlines count as blanks: YAML block scalars end with one. */
static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* "'x'" for a printable character, "byte 0x01" for anything else. */
static const char *show_char(char c, char buf[16])
{
	unsigned char u = (unsigned char)c;

	if (u > 0x20 && u < 0x7f)
		snprintf(buf, 16, "'%c'", c);
	else
		snprintf(buf, 16, "byte 0x%02x", u);
	return buf;
}

static int is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int upper(char c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* Shown in messages: a run of the source, cut to something readable. */
#define SRC(a, b) (int)((b) - (a) > 40 ? 40 : (b) - (a)), (a)

/*
 * One value (number or name) at *sp, ending at or before e. `after` says what
 * came before, for the message when the value is missing.
 */
static int parse_value(struct parser *p, const struct field *f, const char **sp,
		       const char *e, const char *after, int *out)
{
	const char *s = *sp, *t = s;
	char cb[16];
	long v = 0;
	int i;

	if (s < e && is_digit(*s)) {
		while (t < e && is_digit(*t)) {
			if (v < 100000)
				v = v * 10 + (*t - '0');
			t++;
		}
		if (v < f->lo || v > f->hi)
			return fail(p, s, "%s: %.*s is out of range %d-%d", f->name,
				    SRC(s, t), f->lo, f->hi);
		*out = (int)v;
		*sp = t;
		return 0;
	}
	if (s < e && is_alpha(*s)) {
		while (t < e && is_alpha(*t))
			t++;
		if (!f->names)
			return fail(p, s, "%s: expected a number, found '%.*s'",
				    f->name, SRC(s, t));
		for (i = 0; t - s == 3 && i < f->nnames; i++)
			if (upper(s[0]) == f->names[i][0] &&
			    upper(s[1]) == f->names[i][1] &&
			    upper(s[2]) == f->names[i][2]) {
				*out = i + f->names_base;
				*sp = t;
				return 0;
			}
		return fail(p, s, "%s: unknown name '%.*s' (use %s or numbers)",
			    f->name, SRC(s, t), f->names_hint);
	}
	if (s >= e)
		return fail(p, s, "%s: missing value%s", f->name, after);
	return fail(p, s, "%s: unexpected %s", f->name, show_char(*s, cb));
}

/* One field, the bytes [s, e), into *mask. */
static int parse_field(struct parser *p, const struct field *f, const char *s,
		       const char *e, uint64_t *mask)
{
	const char *a = s;
	char cb[16];

	*mask = 0;
	for (;;) {
		const char *b = a, *q;
		int lo, hi, step = 1, ranged, v, rc;

		while (b < e && *b != ',')
			b++;
		if (a == b)
			return fail(p, a, "%s: empty element in list", f->name);
		q = a;
		if (*q == '*') {
			lo = f->lo;
			hi = f->hi;
			ranged = 1;
			q++;
		} else {
			if ((rc = parse_value(p, f, &q, b, "", &lo)))
				return rc;
			hi = lo;
			ranged = 0;
			if (q < b && *q == '-') {
				const char *hs = ++q;

				if ((rc = parse_value(p, f, &q, b, " after '-'", &hi)))
					return rc;
				/* MON-SUN means Monday to Sunday, not a reversal. */
				if (f == &fields[F_DOW] && hi == 0 && is_alpha(*hs))
					hi = 7;
				if (hi < lo)
					return fail(p, a, "%s: range %.*s is reversed "
						    "(start after end)", f->name,
						    SRC(a, q));
				ranged = 1;
			}
		}
		if (q < b && *q == '/') {
			const char *ss = ++q;
			long n = 0;

			if (!ranged)
				return fail(p, ss - 1, "%s: a step needs a range: "
					    "write %.*s-%d/N or */N", f->name,
					    SRC(a, ss - 1), f->hi);
			if (q >= b || !is_digit(*q))
				return fail(p, q, "%s: missing step after '/'",
					    f->name);
			while (q < b && is_digit(*q)) {
				if (n < 100000)
					n = n * 10 + (*q - '0');
				q++;
			}
			if (n == 0)
				return fail(p, ss, "%s: step 0 is not allowed",
					    f->name);
			if (n > f->hi - f->lo)
				return fail(p, ss, "%s: step %.*s is out of range 1-%d",
					    f->name, SRC(ss, q), f->hi - f->lo);
			step = (int)n;
		}
		if (q < b)
			return fail(p, q, "%s: unexpected %s", f->name,
				    show_char(*q, cb));
		for (v = lo; v <= hi; v += step)
			*mask |= (uint64_t)1 << v;
		if (b == e)
			break;
		a = b + 1;
		if (a == e)
			return fail(p, a, "%s: empty element in list", f->name);
	}
	return 0;
}

/* Does day d of a month match when it falls on weekday w? */
static int day_possible(const dr_cron *c, int d, int w)
{
	int dom = (int)(c->dom >> d & 1), dow = c->dow >> w & 1;

	if (c->flags & (DR_CRON_DOM_STAR | DR_CRON_DOW_STAR))
		return dom && dow;
	return dom || dow;
}

static int ever_runs(const dr_cron *c)
{
	/* Max days of each month over the 400-year cycle (Feb 29 exists). */
	static const int maxdim[13] = { 0, 31, 29, 31, 30, 31, 30,
					31, 31, 30, 31, 30, 31 };
	int m, d, w;

	/* Every (month, day, weekday) occurs within a 400-year cycle. */
	for (m = 1; m <= 12; m++)
		if (c->month >> m & 1)
			for (d = 1; d <= maxdim[m]; d++)
				for (w = 0; w < 7; w++)
					if (day_possible(c, d, w))
						return 1;
	return 0;
}

static int parse_fields(struct parser *p, const char *s, dr_cron *out)
{
	const char *start[F_COUNT + 1], *end[F_COUNT + 1];
	uint64_t mask[F_COUNT];
	int n = 0, i, rc;
	dr_cron c;

	while (*s) {
		while (is_space(*s))
			s++;
		if (!*s)
			break;
		if (n == F_COUNT) {
			int more = n + 1;
			const char *t = s;

			/* Count them all for the message. */
			while (*t) {
				while (*t && !is_space(*t))
					t++;
				while (is_space(*t))
					t++;
				if (*t)
					more++;
			}
			return fail(p, s, "%s; found %d%s", DR_CRON_FIELDS_MSG, more,
				    more == 6 ? " (seconds are not supported)" : "");
		}
		start[n] = s;
		while (*s && !is_space(*s))
			s++;
		end[n++] = s;
	}
	if (n == 0)
		return fail(p, s, "empty schedule: %s", DR_CRON_FIELDS_MSG);
	if (n < F_COUNT)
		return fail(p, s, "%s; found %d", DR_CRON_FIELDS_MSG, n);
	for (i = 0; i < F_COUNT; i++)
		if ((rc = parse_field(p, &fields[i], start[i], end[i], &mask[i])))
			return rc;
	memset(&c, 0, sizeof(c));
	c.minute = mask[F_MINUTE];
	c.hour = (uint32_t)mask[F_HOUR];
	c.dom = (uint32_t)mask[F_DOM];
	c.month = (uint16_t)mask[F_MONTH];
	/* 7 is another Sunday. */
	c.dow = (uint8_t)((mask[F_DOW] | mask[F_DOW] >> 7) & 0x7f);
	if (*start[F_DOM] == '*')
		c.flags |= DR_CRON_DOM_STAR;
	if (*start[F_DOW] == '*')
		c.flags |= DR_CRON_DOW_STAR;
	if (!ever_runs(&c))
		return fail(p, start[F_DOM], "never runs: day-of-month '%.*s' "
			    "does not occur in month '%.*s'",
			    SRC(start[F_DOM], end[F_DOM]),
			    SRC(start[F_MONTH], end[F_MONTH]));
	*out = c;
	return 0;
}

int dr_cron_parse(const char *expr, dr_cron *out, char *err, size_t errlen,
		  int *err_col)
{
	struct parser p = { expr, err, errlen, err_col };
	const char *s = expr, *e;
	size_t i;

	if (err && errlen)
		err[0] = '\0';
	if (err_col)
		*err_col = 0;
	if (!expr) {
		p.expr = s = "";
		return fail(&p, s, "empty schedule: %s", DR_CRON_FIELDS_MSG);
	}
	while (is_space(*s))
		s++;
	if (*s != '@')
		return parse_fields(&p, expr, out);
	for (e = s; *e && !is_space(*e); e++)
		;
	for (i = 0; i < DR_ARRAY_SIZE(macros); i++) {
		size_t n = strlen(macros[i].name);
		const char *t = e;

		if ((size_t)(e - s) != n || strncasecmp(s, macros[i].name, n))
			continue;
		while (is_space(*t))
			t++;
		if (*t)
			return fail(&p, t, "%s takes no fields; write either "
				    "the macro or 5 fields", macros[i].name);
		p.expr = macros[i].expansion;
		return parse_fields(&p, p.expr, out);
	}
	return fail(&p, s, "unknown macro '%.*s' (use @yearly, @annually, "
		    "@monthly, @weekly, @daily, @midnight or @hourly)", SRC(s, e));
}

/* Next-run search. */

/* The lowest set bit at or above i, or -1. */
static int next_bit(uint64_t mask, int i)
{
	if (i > 63)
		return -1;
	mask >>= i;
	return mask ? i + __builtin_ctzll(mask) : -1;
}

static int day_match(const dr_cron *c, int64_t y, int m, int d)
{
	int dom = (int)(c->dom >> d & 1);
	int dow = c->dow >> dr_weekday(dr_days_from_civil(y, m, d)) & 1;

	if (c->flags & (DR_CRON_DOM_STAR | DR_CRON_DOW_STAR))
		return dom && dow;
	return dom || dow;
}

struct civil {
	int64_t y;
	int m, d, h, mi;
};

/*
 * The first matching local time at or after *t (whose fields may have
 * overflowed by one: minute 60, hour 24, day past the month's end), or 0
 * when there is none up to the end of year ylim. Skips whole months, days
 * and hours that cannot match.
 */
static int find_local(const dr_cron *c, struct civil *t, int64_t ylim)
{
	struct civil x = *t;
	int n;

	for (;;) {
		if (x.mi > 59) {
			x.mi = 0;
			x.h++;
		}
		if (x.h > 23) {
			x.h = 0;
			x.d++;
		}
		if (x.m <= 12 && x.d > dr_days_in_month(x.y, x.m)) {
			x.d = 1;
			x.m++;
		}
		if (x.m > 12) {
			x.m = 1;
			x.y++;
		}
		if (x.y > ylim)
			return 0;
		if (!(c->month >> x.m & 1)) {
			n = next_bit(c->month, x.m);
			x.m = n < 0 ? 13 : n;
			x.d = 1;
			x.h = x.mi = 0;
			continue;
		}
		if (!day_match(c, x.y, x.m, x.d)) {
			x.d++;
			x.h = x.mi = 0;
			continue;
		}
		n = next_bit(c->hour, x.h);
		if (n < 0) {
			x.d++;
			x.h = x.mi = 0;
			continue;
		}
		if (n != x.h) {
			x.h = n;
			x.mi = 0;
		}
		n = next_bit(c->minute, x.mi);
		if (n < 0) {
			x.h++;
			x.mi = 0;
			continue;
		}
		x.mi = n;
		*t = x;
		return 1;
	}
}

static int64_t floor_div64(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Years 1-9999: the range every calendar tool agrees on. */
#define MIN_T (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define MAX_T (253402300799LL) /* 9999-12-31T23:59:59Z */
#define MAX_YEAR 9999

int dr_cron_next_tz(const dr_cron *c, const dr_tz *tz, int64_t after,
		    int64_t *next)
{
	struct civil t;
	int64_t lmin, days, ylim, local, run;
	int iter, rc;
	dr_cron cc = *c;

	/* A hand-made dr_cron may set bits no field has. */
	cc.minute &= ((uint64_t)1 << 60) - 1;
	cc.hour &= 0xffffffu;
	cc.dom &= 0xfffffffeu;
	cc.month &= 0x1ffeu;
	cc.dow &= 0x7fu;
	c = &cc;
	if (after < MIN_T || after > MAX_T)
		return dr_error_set(DR_EINVAL, "time %lld is outside the years 1-9999",
				    (long long)after);
	if (!c->minute || !c->hour || !c->dom || !c->month || !c->dow)
		return dr_error_set(DR_EINVAL, "schedule has an empty field");
	/* The first whole local minute after `after`. */
	lmin = floor_div64(after + dr_tz_offset(tz, after), 60) + 1;
	days = floor_div64(lmin, 1440);
	dr_civil_from_days(days, &t.y, &t.m, &t.d);
	t.h = (int)((lmin - days * 1440) / 60);
	t.mi = (int)((lmin - days * 1440) % 60);
	/* A parsed schedule runs at least once in any 400 years. */
	ylim = t.y + 401 < MAX_YEAR ? t.y + 401 : MAX_YEAR;
	/*
	 * Local times map to instants in order, so the first match whose
	 * instant is after `after` is the answer. Matches can map back before
	 * `after` only inside a repeated (fall-back) interval; stepping over
	 * them is bounded by that interval's length in minutes.
	 */
	for (iter = 0; iter < 100000; iter++) {
		if (!find_local(c, &t, ylim)) {
			if (ylim == MAX_YEAR)
				return dr_error_set(DR_ENOTFOUND,
						    "no run before the year 10000");
			return dr_error_set(DR_ENOTFOUND, "schedule never runs");
		}
		local = dr_days_from_civil(t.y, t.m, t.d) * 86400 + t.h * 3600 +
			t.mi * 60;
		if ((rc = dr_tz_resolve(tz, local, &run)))
			return rc;
		if (run > after) {
			*next = run;
			return 0;
		}
		t.mi++;
	}
	return dr_error_set(DR_ERR, "time zone %s: no run found near %lld",
			    dr_tz_name(tz), (long long)after);
}

int dr_cron_next(const dr_cron *c, const char *tzname, int64_t after,
		 int64_t *next)
{
	dr_tz *tz;
	int rc = dr_tz_load(tzname, &tz);

	if (rc)
		return rc;
	rc = dr_cron_next_tz(c, tz, after, next);
	dr_tz_free(tz);
	return rc;
}
