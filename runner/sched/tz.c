/*
 * tz.c - TZif reader and local-time resolution (see tz.h).
 */
#include "sched/tz.h"

#include "core/alloc.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Offsets beyond +-26 hours are not local times; such data is refused. */
#define MAX_UTOFF (26 * 3600)

/* One daylight-saving switch date of a POSIX TZ rule. */
struct rule {
	char kind;    /* 'J' (1-365, no Feb 29), 'D' (0-365), 'M' */
	int day;      /* J/D: the day number; M: weekday 0-6 */
	int week;     /* M: 1-5, 5 = last */
	int month;    /* M: 1-12 */
	int32_t time; /* seconds after local midnight, may be <0 or >24h */
};

struct posix_tz {
	int present;
	int has_dst;
	int32_t std_off, dst_off; /* east-positive UTC offsets */
	struct rule start, end;
};

struct dr_tz {
	char name[256];
	size_t timecnt, typecnt;
	int64_t *trans;  /* ascending transition instants */
	uint8_t *idx;    /* type index of each transition */
	int32_t *utoff;  /* offset of each type */
	struct posix_tz footer;
};

/* Calendar arithmetic (H. Hinnant's civil-from-days algorithms). */

int64_t dr_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void dr_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int dr_days_in_month(int64_t y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30,
				     31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

int dr_weekday(int64_t days)
{
	/* 1970-01-01 was a Thursday (4). */
	int64_t w = (days + 4) % 7;

	return (int)(w < 0 ? w + 7 : w);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* POSIX TZ footer parsing. */

static int parse_tz_name(const char **sp)
{
	const char *s = *sp;
	size_t n = 0;

	if (*s == '<') {
		s++;
		while (*s && *s != '>') {
			if (!(*s == '+' || *s == '-' || (*s >= '0' && *s <= '9') ||
			      (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
				return -1;
			s++;
			n++;
		}
		if (*s != '>' || n < 3)
			return -1;
		*sp = s + 1;
		return 0;
	}
	while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) {
		s++;
		n++;
	}
	if (n < 3)
		return -1;
	*sp = s;
	return 0;
}

/* [+-]hh[:mm[:ss]] with hh <= maxh; the POSIX sign is kept as written. */
static int parse_hms(const char **sp, int maxh, int32_t *out)
{
	const char *s = *sp;
	int sign = 1, part[3] = { 0, 0, 0 }, i, digits;

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	for (i = 0; i < 3; i++) {
		if (i > 0) {
			if (*s != ':')
				break;
			s++;
		}
		digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 3) {
			part[i] = part[i] * 10 + (*s++ - '0');
			digits++;
		}
		if (digits == 0 || (*s >= '0' && *s <= '9'))
			return -1;
	}
	if (part[0] > maxh || part[1] > 59 || part[2] > 59)
		return -1;
	*out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
	*sp = s;
	return 0;
}

static int parse_num(const char **sp, int lo, int hi, int *out)
{
	const char *s = *sp;
	int v = 0, digits = 0;

	while (*s >= '0' && *s <= '9' && digits < 4) {
		v = v * 10 + (*s++ - '0');
		digits++;
	}
	if (digits == 0 || v < lo || v > hi)
		return -1;
	*out = v;
	*sp = s;
	return 0;
}

static int parse_rule(const char **sp, struct rule *r)
{
	const char *s = *sp;

	memset(r, 0, sizeof(*r));
	if (*s == 'J') {
		s++;
		r->kind = 'J';
		if (parse_num(&s, 1, 365, &r->day))
			return -1;
	} else if (*s == 'M') {
		s++;
		r->kind = 'M';
		if (parse_num(&s, 1, 12, &r->month) || *s++ != '.' ||
		    parse_num(&s, 1, 5, &r->week) || *s++ != '.' ||
		    parse_num(&s, 0, 6, &r->day))
			return -1;
	} else {
		r->kind = 'D';
		if (parse_num(&s, 0, 365, &r->day))
			return -1;
	}
	r->time = 2 * 3600;
	if (*s == '/') {
		s++;
		/* RFC 8536 extends the hour to -167..167. */
		if (parse_hms(&s, 167, &r->time))
			return -1;
	}
	*sp = s;
	return 0;
}

static int parse_footer(const char *s, struct posix_tz *p)
{
	int32_t off;

	memset(p, 0, sizeof(*p));
	if (*s == '\0')
		return 0; /* empty footer: the table says it all */
	if (parse_tz_name(&s) || parse_hms(&s, 24, &off))
		return -1;
	p->present = 1;
	p->std_off = -off; /* POSIX offsets are west-positive */
	if (*s == '\0')
		return 0;
	if (parse_tz_name(&s))
		return -1;
	p->has_dst = 1;
	p->dst_off = p->std_off + 3600;
	if (*s && *s != ',') {
		if (parse_hms(&s, 24, &off))
			return -1;
		p->dst_off = -off;
	}
	if (*s == '\0') {
		/* POSIX leaves the default rule to the implementation; glibc's. */
		const char *def = "M3.2.0,M11.1.0";

		parse_rule(&def, &p->start);
		def++;
		parse_rule(&def, &p->end);
		return 0;
	}
	if (*s++ != ',' || parse_rule(&s, &p->start) || *s++ != ',' ||
	    parse_rule(&s, &p->end) || *s != '\0')
		return -1;
	return 0;
}

/* The local-midnight day number (days since 1970) of a rule's date in y. */
static int64_t rule_day(const struct rule *r, int64_t y)
{
	int64_t jan1 = dr_days_from_civil(y, 1, 1), first;
	int d;

	switch (r->kind) {
	case 'J':
		return jan1 + r->day - 1 + (is_leap(y) && r->day >= 60);
	case 'D':
		return jan1 + r->day;
	default:
		first = dr_days_from_civil(y, r->month, 1);
		d = (r->day - dr_weekday(first) + 7) % 7; /* first such weekday */
		d += (r->week - 1) * 7;
		while (d >= dr_days_in_month(y, r->month))
			d -= 7;
		return first + d;
	}
}

/*
 * The footer's switches of years y0..y1 as UTC instants, in order; at equal
 * instants the switch to DST comes last, so a zone on permanent DST
 * ("...,0/0,J365/25") stays in DST.
 */
struct sw {
	int64_t t;
	int32_t off;
};

static size_t footer_switches(const struct posix_tz *p, int64_t y0, int64_t y1,
			      struct sw *out)
{
	size_t n = 0, i, j;
	int64_t y;

	for (y = y0; y <= y1; y++) {
		/* Start is written in standard time, end in daylight time. */
		out[n].t = rule_day(&p->start, y) * 86400 + p->start.time - p->std_off;
		out[n++].off = p->dst_off;
		out[n].t = rule_day(&p->end, y) * 86400 + p->end.time - p->dst_off;
		out[n++].off = p->std_off;
	}
	for (i = 1; i < n; i++) {
		struct sw k = out[i];

		for (j = i; j > 0 && (out[j - 1].t > k.t ||
				      (out[j - 1].t == k.t && k.off == p->std_off));
		     j--)
			out[j] = out[j - 1];
		out[j] = k;
	}
	return n;
}

static int64_t year_of(int64_t t)
{
	int64_t y;
	int m, d;

	dr_civil_from_days(floor_div(t, 86400), &y, &m, &d);
	return y;
}

static int32_t footer_offset(const struct posix_tz *p, int64_t t)
{
	struct sw sw[8];
	int64_t y;
	size_t n, i;
	int32_t off;

	if (!p->has_dst)
		return p->std_off;
	/* Keep the calendar arithmetic far from overflow; +-34000 years. */
	if (t > ((int64_t)1 << 40))
		t = (int64_t)1 << 40;
	if (t < -((int64_t)1 << 40))
		t = -((int64_t)1 << 40);
	y = year_of(t + p->std_off);
	n = footer_switches(p, y - 2, y + 1, sw);
	off = sw[0].off == p->dst_off ? p->std_off : p->dst_off;
	for (i = 0; i < n && sw[i].t <= t; i++)
		off = sw[i].off;
	return off;
}

int32_t dr_tz_offset(const dr_tz *tz, int64_t t)
{
	size_t lo, hi;

	if (tz->timecnt == 0)
		return tz->footer.present ? footer_offset(&tz->footer, t)
					  : tz->utoff[0];
	if (t < tz->trans[0])
		return tz->utoff[0];
	if (t >= tz->trans[tz->timecnt - 1] && tz->footer.present)
		return footer_offset(&tz->footer, t);
	/* The last transition at or before t. */
	lo = 0;
	hi = tz->timecnt;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (tz->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->utoff[tz->idx[lo]];
}

/*
 * Transition instants in (lo, hi], ascending, at most max of them: from the
 * table, then from the footer for instants past the table's end.
 */
static size_t transitions(const dr_tz *tz, int64_t lo, int64_t hi,
			  int64_t *out, size_t max)
{
	size_t n = 0, i;
	int64_t table_end = tz->timecnt ? tz->trans[tz->timecnt - 1] : INT64_MIN;

	size_t a = 0, b = tz->timecnt;

	/* Binary search for the first transition after lo. */
	while (a < b) {
		size_t mid = a + (b - a) / 2;

		if (tz->trans[mid] <= lo)
			a = mid + 1;
		else
			b = mid;
	}
	for (i = a; i < tz->timecnt && tz->trans[i] <= hi && n < max; i++)
		out[n++] = tz->trans[i];
	if (tz->footer.present && tz->footer.has_dst && hi > table_end) {
		struct sw sw[16];
		size_t k, cnt;

		cnt = footer_switches(&tz->footer, year_of(lo) - 1,
				      year_of(hi) + 1, sw);
		for (k = 0; k < cnt && n < max; k++)
			if (sw[k].t > lo && sw[k].t <= hi && sw[k].t > table_end)
				out[n++] = sw[k].t;
	}
	return n;
}

int dr_tz_resolve(const dr_tz *tz, int64_t local, int64_t *out)
{
	/* Offsets stay within +-26h, so every candidate lies in this window. */
	const int64_t win = 2 * 86400;
	int64_t tr[32], best = 0;
	int32_t offs[33];
	size_t n, i, noffs = 0;
	int found = 0;

	if (local > ((int64_t)1 << 40) || local < -((int64_t)1 << 40))
		return dr_error_set(DR_EINVAL, "local time %lld is out of range",
				    (long long)local);
	n = transitions(tz, local - win, local + win, tr, DR_ARRAY_SIZE(tr));
	offs[noffs++] = dr_tz_offset(tz, local - win);
	for (i = 0; i < n; i++)
		offs[noffs++] = dr_tz_offset(tz, tr[i]);
	/* Every offset that maps back to `local`; the earliest instant wins. */
	for (i = 0; i < noffs; i++) {
		int64_t u = local - offs[i];

		if (dr_tz_offset(tz, u) == offs[i] && (!found || u < best)) {
			best = u;
			found = 1;
		}
	}
	if (found) {
		*out = best;
		return 0;
	}
	/* A gap: run at the transition that jumped over `local`. */
	for (i = 0; i < n; i++) {
		int32_t before = dr_tz_offset(tz, tr[i] - 1);
		int32_t after = dr_tz_offset(tz, tr[i]);

		if (tr[i] + before <= local && local < tr[i] + after) {
			*out = tr[i];
			return 0;
		}
	}
	return dr_error_set(DR_ERR, "time zone %s: cannot place local time %lld",
			    tz->name, (long long)local);
}

/* TZif parsing (RFC 8536). */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct hdr {
	char version;
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int read_hdr(const unsigned char *p, size_t len, struct hdr *h)
{
	if (len < 44 || memcmp(p, "TZif", 4))
		return -1;
	h->version = (char)p[4];
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	return 0;
}

/* Size of the data block after a header; times are tsz bytes wide. */
static size_t block_size(const struct hdr *h, size_t tsz)
{
	return (size_t)h->timecnt * tsz + h->timecnt + (size_t)h->typecnt * 6 +
	       h->charcnt + (size_t)h->leapcnt * (tsz + 4) + h->isstdcnt +
	       h->isutcnt;
}

static int bad_tzif(const char *name, const char *why)
{
	return dr_error_set(DR_EINVAL, "time zone %s: not a valid zone file (%s)",
			    name, why);
}

int dr_tz_from_tzif(const void *data, size_t len, const char *name, dr_tz **out)
{
	const unsigned char *p = data, *b;
	struct hdr h;
	size_t tsz = 4, i, need;
	dr_tz *tz;
	char footer[256];

	*out = NULL;
	if (!name)
		name = "(zone)";
	if (read_hdr(p, len, &h))
		return bad_tzif(name, "no TZif header");
	if (h.version != 0 && (h.version < '2' || h.version > '9'))
		return bad_tzif(name, "unknown version");
	/* Counts are 32-bit, so with 64-bit size_t these sums cannot wrap. */
	if (h.typecnt == 0 || h.charcnt == 0 ||
	    (h.isstdcnt && h.isstdcnt != h.typecnt) ||
	    (h.isutcnt && h.isutcnt != h.typecnt) || h.typecnt > 256 ||
	    block_size(&h, 4) > len - 44)
		return bad_tzif(name, "bad counts");
	if (h.version != 0) {
		/* Skip the 32-bit block; the 64-bit one follows. */
		size_t skip = 44 + block_size(&h, 4);

		if (read_hdr(p + skip, len - skip, &h))
			return bad_tzif(name, "no second header");
		p += skip;
		len -= skip;
		tsz = 8;
		if (h.typecnt == 0 || h.charcnt == 0 ||
		    (h.isstdcnt && h.isstdcnt != h.typecnt) ||
		    (h.isutcnt && h.isutcnt != h.typecnt) || h.typecnt > 256 ||
		    block_size(&h, 8) > len - 44)
			return bad_tzif(name, "bad counts");
	}
	if (h.leapcnt)
		return dr_error_set(DR_EINVAL,
				    "time zone %s: leap-second zones are not supported",
				    name);
	b = p + 44;
	need = 44 + block_size(&h, tsz);

	footer[0] = '\0';
	if (tsz == 8) {
		const unsigned char *f = p + need, *nl;
		size_t rest = len - need, flen;

		if (rest < 2 || f[0] != '\n')
			return bad_tzif(name, "no footer");
		nl = memchr(f + 1, '\n', rest - 1);
		if (!nl)
			return bad_tzif(name, "unterminated footer");
		flen = (size_t)(nl - f - 1);
		if (flen >= sizeof(footer) || memchr(f + 1, '\0', flen))
			return bad_tzif(name, "bad footer");
		memcpy(footer, f + 1, flen);
		footer[flen] = '\0';
	}

	tz = dr_xcalloc(1, sizeof(*tz));
	snprintf(tz->name, sizeof(tz->name), "%s", name);
	tz->timecnt = h.timecnt;
	tz->typecnt = h.typecnt;
	tz->trans = dr_xmalloc((h.timecnt ? h.timecnt : 1) * sizeof(int64_t));
	tz->idx = dr_xmalloc(h.timecnt ? h.timecnt : 1);
	tz->utoff = dr_xmalloc(h.typecnt * sizeof(int32_t));
	for (i = 0; i < h.timecnt; i++) {
		tz->trans[i] = tsz == 8 ? be64(b + i * 8) : (int32_t)be32(b + i * 4);
		if (i > 0 && tz->trans[i] <= tz->trans[i - 1]) {
			dr_tz_free(tz);
			return bad_tzif(name, "transitions out of order");
		}
	}
	b += (size_t)h.timecnt * tsz;
	for (i = 0; i < h.timecnt; i++) {
		tz->idx[i] = b[i];
		if (b[i] >= h.typecnt) {
			dr_tz_free(tz);
			return bad_tzif(name, "bad type index");
		}
	}
	b += h.timecnt;
	for (i = 0; i < h.typecnt; i++) {
		int32_t off = (int32_t)be32(b + i * 6);

		if (off < -MAX_UTOFF || off > MAX_UTOFF || b[i * 6 + 4] > 1 ||
		    b[i * 6 + 5] >= h.charcnt) {
			dr_tz_free(tz);
			return bad_tzif(name, "bad local time type");
		}
		tz->utoff[i] = off;
	}
	if (parse_footer(footer, &tz->footer) ||
	    (tz->footer.present &&
	     (tz->footer.std_off < -MAX_UTOFF || tz->footer.std_off > MAX_UTOFF ||
	      tz->footer.dst_off < -MAX_UTOFF || tz->footer.dst_off > MAX_UTOFF))) {
		dr_tz_free(tz);
		return bad_tzif(name, "bad TZ string in footer");
	}
	*out = tz;
	return 0;
}

void dr_tz_free(dr_tz *tz)
{
	if (!tz)
		return;
	free(tz->trans);
	free(tz->idx);
	free(tz->utoff);
	free(tz);
}

const char *dr_tz_name(const dr_tz *tz)
{
	return tz->name;
}

static int check_name(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0)
		return dr_error_set(DR_EINVAL, "empty time zone name");
	if (n > 255)
		return dr_error_set(DR_EINVAL, "time zone name is too long");
	if (name[0] == '/' || name[n - 1] == '/' || strstr(name, "..") ||
	    strstr(name, "//"))
		return dr_error_set(DR_EINVAL,
				    "invalid time zone name '%s' (expected an IANA "
				    "name such as Europe/Paris)", name);
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '+' ||
		      c == '-' || c == '.' || c == '/'))
			return dr_error_set(DR_EINVAL,
					    "invalid character in time zone name "
					    "'%s'", name);
	}
	return 0;
}

static dr_tz *utc_zone(void)
{
	dr_tz *tz = dr_xcalloc(1, sizeof(*tz));

	snprintf(tz->name, sizeof(tz->name), "UTC");
	tz->typecnt = 1;
	tz->utoff = dr_xcalloc(1, sizeof(int32_t));
	return tz;
}

int dr_tz_load(const char *name, dr_tz **out)
{
	const char *dir = getenv("TZDIR");
	char path[4096];
	struct stat st;
	unsigned char *buf;
	ssize_t got;
	size_t len = 0;
	int fd, rc;

	*out = NULL;
	if (!name || !strcmp(name, "UTC")) {
		*out = utc_zone();
		return 0;
	}
	if ((rc = check_name(name)))
		return rc;
	if (!dir || !*dir)
		dir = DR_TZ_DEFAULT_DIR;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return dr_error_set(DR_EINVAL, "time zone path is too long");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		if (stat(dir, &st) || !S_ISDIR(st.st_mode))
			return dr_error_set(DR_EIO,
					    "time zone database not found at %s: "
					    "install the tzdata package", dir);
		if (err == ENOENT || err == ENOTDIR)
			return dr_error_set(DR_ENOTFOUND,
					    "unknown time zone '%s' (not in %s)",
					    name, dir);
		return dr_error_set(DR_EIO, "time zone %s: %s: %s", name, path,
				    strerror(err));
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return dr_error_set(DR_ENOTFOUND, "unknown time zone '%s' (%s is "
				    "not a zone file)", name, path);
	}
	if (st.st_size > DR_TZ_MAX_FILE) {
		close(fd);
		return bad_tzif(name, "file too large");
	}
	buf = dr_xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		got = read(fd, buf + len, (size_t)st.st_size - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	if (len != (size_t)st.st_size) {
		free(buf);
		return dr_error_set(DR_EIO, "time zone %s: short read of %s",
				    name, path);
	}
	rc = dr_tz_from_tzif(buf, len, name, out);
	free(buf);
	return rc;
}

int dr_tz_valid(const char *name)
{
	dr_tz *tz;
	int rc = dr_tz_load(name, &tz);

	dr_tz_free(tz);
	return rc;
}
