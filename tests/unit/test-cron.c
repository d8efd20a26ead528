/*
 * test-cron.c - cron parsing, time zones and next-run times.
 *
 * Expected instants were checked by hand with GNU date, e.g.
 * `TZ=Europe/Paris date -d @1774746000` -> 2026-03-29 03:00:00 CEST.
 * The zone tests need the system's tzdata; without it the test says how to
 * install it and fails.
 */
#include "sched/cron.h"
#include "sched/tz.h"

#include "core/alloc.h"
#include "core/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define ALL_MIN ((((uint64_t)1) << 60) - 1)
#define ALL_HOUR 0xffffffu
#define ALL_DOM 0xfffffffeu
#define ALL_MON 0x1ffeu
#define ALL_DOW 0x7fu

static dr_cron parse_ok(const char *expr)
{
	dr_cron c;
	char err[256];
	int col = -1;

	memset(&c, 0xee, sizeof(c));
	if (dr_cron_parse(expr, &c, err, sizeof(err), &col) != 0)
		fprintf(stderr, "unexpected error for '%s': col %d: %s\n", expr,
			col, err);
	return c;
}

TEST(parse_basic)
{
	dr_cron c = parse_ok("0 3 * * SAT");

	CHECK_INT(c.minute, 1);
	CHECK_INT(c.hour, 1u << 3);
	CHECK_INT(c.dom, ALL_DOM);
	CHECK_INT(c.month, ALL_MON);
	CHECK_INT(c.dow, 1u << 6);
	CHECK_INT(c.flags, DR_CRON_DOM_STAR);

	c = parse_ok("* * * * *");
	CHECK_INT(c.minute, ALL_MIN);
	CHECK_INT(c.hour, ALL_HOUR);
	CHECK_INT(c.dom, ALL_DOM);
	CHECK_INT(c.month, ALL_MON);
	CHECK_INT(c.dow, ALL_DOW);
	CHECK_INT(c.flags, DR_CRON_DOM_STAR | DR_CRON_DOW_STAR);

	/* Tabs and surrounding blanks separate fields too. */
	c = parse_ok("  5\t4 \t 3 2\n1\r\n");
	CHECK_INT(c.minute, 1u << 5);
	CHECK_INT(c.hour, 1u << 4);
	CHECK_INT(c.dom, 1u << 3);
	CHECK_INT(c.month, 1u << 2);
	CHECK_INT(c.dow, 1u << 1);
	CHECK_INT(c.flags, 0);
}

TEST(parse_lists_ranges_steps)
{
	dr_cron c = parse_ok("0,15,30,45 9-17 */10 1-12/3 1-5");

	CHECK_INT(c.minute, 1ull | 1ull << 15 | 1ull << 30 | 1ull << 45);
	CHECK_INT(c.hour, 0x3fe00u); /* 9..17 */
	CHECK_INT(c.dom, 1u << 1 | 1u << 11 | 1u << 21 | 1u << 31);
	CHECK_INT(c.month, 1u << 1 | 1u << 4 | 1u << 7 | 1u << 10);
	CHECK_INT(c.dow, 0x3eu);
	CHECK_INT(c.flags, DR_CRON_DOM_STAR);

	c = parse_ok("10-50/20 */6 1,15-17,31 * *");
	CHECK_INT(c.minute, 1ull << 10 | 1ull << 30 | 1ull << 50);
	CHECK_INT(c.hour, 1u | 1u << 6 | 1u << 12 | 1u << 18);
	CHECK_INT(c.dom, 1u << 1 | 1u << 15 | 1u << 16 | 1u << 17 | 1u << 31);

	/* Duplicates and overlaps are harmless. */
	c = parse_ok("1,1,0-2 * * * *");
	CHECK_INT(c.minute, 7);
	c = parse_ok("59 23 31 12 6");
	CHECK_INT(c.minute, 1ull << 59);
	CHECK_INT(c.hour, 1u << 23);
	CHECK_INT(c.dom, 1u << 31);
	CHECK_INT(c.month, 1u << 12);
	CHECK_INT(c.dow, 1u << 6);
}

TEST(parse_names)
{
	dr_cron c = parse_ok("0 0 * jan-Mar,DEC mon-FRI");

	CHECK_INT(c.month, 0xeu | 1u << 12);
	CHECK_INT(c.dow, 0x3eu);

	c = parse_ok("0 0 * JAN,apr,Jul,OCT SUN,sat");
	CHECK_INT(c.month, 1u << 1 | 1u << 4 | 1u << 7 | 1u << 10);
	CHECK_INT(c.dow, 1u | 1u << 6);

	c = parse_ok("0 0 * FEB-NOV/3 *");
	CHECK_INT(c.month, 1u << 2 | 1u << 5 | 1u << 8 | 1u << 11);

	/* SUN at the end of a range is day 7: Monday to Sunday. */
	c = parse_ok("0 0 * * MON-SUN");
	CHECK_INT(c.dow, ALL_DOW);
	c = parse_ok("0 0 * * SUN-SAT");
	CHECK_INT(c.dow, ALL_DOW);
	c = parse_ok("0 0 * * SAT-SUN");
	CHECK_INT(c.dow, 1u | 1u << 6);
}

TEST(parse_sunday_seven)
{
	dr_cron c = parse_ok("0 0 * * 7");

	CHECK_INT(c.dow, 1);
	c = parse_ok("0 0 * * 0");
	CHECK_INT(c.dow, 1);
	c = parse_ok("0 0 * * 5-7");
	CHECK_INT(c.dow, 1u | 1u << 5 | 1u << 6);
	c = parse_ok("0 0 * * 0-7");
	CHECK_INT(c.dow, ALL_DOW);
	/* '*' in day-of-week spans 0-7, so * /7 is Sunday (0 and 7). */
	c = parse_ok("0 0 * * */7");
	CHECK_INT(c.dow, 1);
	CHECK_INT(c.flags, DR_CRON_DOM_STAR | DR_CRON_DOW_STAR);
	c = parse_ok("0 0 * * */2");
	CHECK_INT(c.dow, 1u | 1u << 2 | 1u << 4 | 1u << 6);
}

TEST(parse_macros)
{
	static const struct {
		const char *macro, *same_as;
	} t[] = {
		{ "@yearly", "0 0 1 1 *" },   { "@annually", "0 0 1 1 *" },
		{ "@monthly", "0 0 1 * *" },  { "@weekly", "0 0 * * 0" },
		{ "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
		{ "@hourly", "0 * * * *" },   { "  @DAILY\t", "0 0 * * *" },
		{ "@Weekly", "0 0 * * SUN" },
	};
	size_t i;

	for (i = 0; i < DR_ARRAY_SIZE(t); i++) {
		dr_cron a = parse_ok(t[i].macro), b = parse_ok(t[i].same_as);

		if (memcmp(&a, &b, sizeof(a))) {
			fprintf(stderr, "macro %s differs from %s\n", t[i].macro,
				t[i].same_as);
			CHECK(0);
		}
	}
	{
		dr_cron h = parse_ok("@hourly");

		CHECK_INT(h.minute, 1);
		CHECK_INT(h.hour, ALL_HOUR);
	}
}

TEST(parse_errors)
{
	static const struct {
		const char *expr, *msg;
		int col;
	} t[] = {
		{ "", "empty schedule: " DR_CRON_FIELDS_MSG, 1 },
		{ "   ", "empty schedule: " DR_CRON_FIELDS_MSG, 4 },
		{ "0 3 * *", DR_CRON_FIELDS_MSG "; found 4", 8 },
		{ "0 0 3 * * SAT",
		  DR_CRON_FIELDS_MSG "; found 6 (seconds are not supported)", 11 },
		{ "1 2 3 4 5 6 7", DR_CRON_FIELDS_MSG "; found 7", 11 },
		{ "60 * * * *", "minute: 60 is out of range 0-59", 1 },
		{ "  60 * * * *", "minute: 60 is out of range 0-59", 3 },
		{ "0 24 * * *", "hour: 24 is out of range 0-23", 3 },
		{ "0 0 0 * *", "day-of-month: 0 is out of range 1-31", 5 },
		{ "0 0 32 * *", "day-of-month: 32 is out of range 1-31", 5 },
		{ "0 0 * 13 *", "month: 13 is out of range 1-12", 7 },
		{ "0 0 * 0 *", "month: 0 is out of range 1-12", 7 },
		{ "0 0 * * 8", "day-of-week: 8 is out of range 0-7", 9 },
		{ "99999999999 * * * *",
		  "minute: 99999999999 is out of range 0-59", 1 },
		{ "0 1-24 * * *", "hour: 24 is out of range 0-23", 5 },
		{ "0 5-2 * * *", "hour: range 5-2 is reversed (start after end)",
		  3 },
		{ "0 0 * * FRI-MON",
		  "day-of-week: range FRI-MON is reversed (start after end)", 9 },
		{ "0 0 * DEC-JAN *",
		  "month: range DEC-JAN is reversed (start after end)", 7 },
		{ "*/0 * * * *", "minute: step 0 is not allowed", 3 },
		{ "0 0 1-31/0 * *", "day-of-month: step 0 is not allowed", 10 },
		{ "*/60 * * * *", "minute: step 60 is out of range 1-59", 3 },
		{ "0 0 * * */8", "day-of-week: step 8 is out of range 1-7", 11 },
		{ "5/15 * * * *",
		  "minute: a step needs a range: write 5-59/N or */N", 2 },
		{ "*/ * * * *", "minute: missing step after '/'", 3 },
		{ "*/x * * * *", "minute: missing step after '/'", 3 },
		{ "1,,2 * * * *", "minute: empty element in list", 3 },
		{ "1, * * * *", "minute: empty element in list", 3 },
		{ ",1 * * * *", "minute: empty element in list", 1 },
		{ "0 1- * * *", "hour: missing value after '-'", 5 },
		{ "*-5 * * * *", "minute: unexpected '-'", 2 },
		{ "-5 * * * *", "minute: unexpected '-'", 1 },
		{ "0 0 ? * *", "day-of-month: unexpected '?'", 5 },
		{ "0 0 L * *", "day-of-month: expected a number, found 'L'", 5 },
		{ "0 0 * * 5#2", "day-of-week: unexpected '#'", 10 },
		{ "0 0 1W * *", "day-of-month: unexpected 'W'", 6 },
		{ "0 MON * * *", "hour: expected a number, found 'MON'", 3 },
		{ "0 0 * JANUARY *",
		  "month: unknown name 'JANUARY' (use JAN-DEC or numbers)", 7 },
		{ "0 0 * * MONDAY",
		  "day-of-week: unknown name 'MONDAY' (use SUN-SAT or numbers)", 9 },
		{ "0 0 * * MON-FRX",
		  "day-of-week: unknown name 'FRX' (use SUN-SAT or numbers)", 13 },
		{ "0 0 31 2 *",
		  "never runs: day-of-month '31' does not occur in month '2'", 5 },
		{ "0 0 30 FEB *",
		  "never runs: day-of-month '30' does not occur in month 'FEB'", 5 },
		{ "0 0 31 4,6,9,11 *",
		  "never runs: day-of-month '31' does not occur in month "
		  "'4,6,9,11'", 5 },
		{ "0 0 30-31 2 */7",
		  "never runs: day-of-month '30-31' does not occur in month '2'",
		  5 },
		{ "@reboot",
		  "unknown macro '@reboot' (use @yearly, @annually, @monthly, "
		  "@weekly, @daily, @midnight or @hourly)", 1 },
		{ "@", "unknown macro '@' (use @yearly, @annually, @monthly, "
		  "@weekly, @daily, @midnight or @hourly)", 1 },
		{ "@daily 0",
		  "@daily takes no fields; write either the macro or 5 fields", 8 },
		{ "0 0 * * 1\x01", "day-of-week: unexpected byte 0x01", 10 },
		{ "0 0 * * \xc3\xa9", "day-of-week: unexpected byte 0xc3", 9 },
		{ "0 0 * * * @daily", DR_CRON_FIELDS_MSG
		  "; found 6 (seconds are not supported)", 11 },
	};
	size_t i;

	for (i = 0; i < DR_ARRAY_SIZE(t); i++) {
		dr_cron c, before;
		char err[256];
		int col = -1, rc;

		memset(&c, 0x5a, sizeof(c));
		before = c;
		rc = dr_cron_parse(t[i].expr, &c, err, sizeof(err), &col);
		if (rc != DR_EINVAL || strcmp(err, t[i].msg) || col != t[i].col) {
			fprintf(stderr, "'%s': rc %d col %d (want %d) '%s'\n"
				"  want '%s'\n", t[i].expr, rc, col, t[i].col,
				err, t[i].msg);
			CHECK(0);
		}
		CHECK_STR(dr_error_msg(), t[i].msg);
		/* *out is untouched on failure. */
		CHECK(!memcmp(&c, &before, sizeof(c)));
	}
}

TEST(parse_error_args_optional)
{
	dr_cron c;
	char small[8];
	int col = 0;

	CHECK_INT(dr_cron_parse("61 * * * *", &c, NULL, 0, NULL), DR_EINVAL);
	CHECK_INT(dr_cron_parse(NULL, &c, small, sizeof(small), &col), DR_EINVAL);
	CHECK_STR(small, "empty s"); /* truncated, still terminated */
	CHECK_INT(col, 1);
	/* OR semantics rescue a day-of-month that never occurs. */
	CHECK_INT(dr_cron_parse("0 0 31 2 MON", &c, NULL, 0, NULL), 0);
	/* An unrestricted-looking '*' prefix keeps 1 in the set: it runs. */
	CHECK_INT(dr_cron_parse("0 0 */30 2 *", &c, NULL, 0, NULL), 0);
	CHECK_INT(dr_cron_parse("0 0 29 2 *", &c, NULL, 0, NULL), 0);
}

/* One next-run expectation. */
struct nx {
	const char *expr, *tz;
	int64_t after, next;
};

static void check_next(const struct nx *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		dr_cron c;
		int64_t next = -1;
		int rc;

		if (dr_cron_parse(t[i].expr, &c, NULL, 0, NULL)) {
			fprintf(stderr, "cannot parse '%s'\n", t[i].expr);
			CHECK(0);
			continue;
		}
		rc = dr_cron_next(&c, t[i].tz, t[i].after, &next);
		if (rc || next != t[i].next) {
			fprintf(stderr, "'%s' in %s after %lld: rc %d next %lld, "
				"want %lld (%s)\n", t[i].expr,
				t[i].tz ? t[i].tz : "NULL", (long long)t[i].after,
				rc, (long long)next, (long long)t[i].next,
				dr_error_msg());
			CHECK(0);
		}
	}
}

/* 2026-11-25 13:00:00 UTC, a Wednesday. */
#define NOW 1795611600LL

TEST(next_utc)
{
	static const struct nx t[] = {
		/* Next Saturday 03:00. */
		{ "0 3 * * SAT", NULL, NOW, 1795834800 },
		{ "0 3 * * SAT", "UTC", NOW, 1795834800 },
		{ "0 3 * * 6", NULL, 1795834800 - 1, 1795834800 },
		/* Strictly after: the run itself is not its own next run. */
		{ "0 3 * * SAT", NULL, 1795834800, 1795834800 + 7 * 86400 },
		{ "* * * * *", NULL, NOW, NOW + 60 },
		{ "* * * * *", NULL, NOW + 30, NOW + 60 },
		{ "* * * * *", NULL, NOW - 1, NOW },
		{ "*/15 * * * *", NULL, NOW + 1, NOW + 15 * 60 },
		{ "0 * * * *", NULL, NOW, NOW + 3600 },
		{ "30 12 * * *", NULL, NOW, NOW + 86400 - 1800 },
		/* Year rollover: 2027-01-01 00:00. */
		{ "0 0 1 1 *", NULL, NOW, 1798761600 },
		{ "@yearly", NULL, NOW, 1798761600 },
		{ "@monthly", NULL, NOW, 1796083200 },   /* 2026-12-01 */
		{ "@weekly", NULL, NOW, 1795910400 },    /* Sun 2026-11-29 */
		{ "@daily", NULL, NOW, 1795651200 },     /* 2026-11-26 */
		{ "@midnight", NULL, NOW, 1795651200 },
		{ "@hourly", NULL, NOW, NOW + 3600 },
		{ "@annually", NULL, 1798761600, 1830297600 }, /* 2028-01-01 */
		/* Before 1970 works too: 1969-12-31 23:59 -> 1970-01-01 00:00. */
		{ "@daily", NULL, -60, 0 },
	};

	check_next(t, DR_ARRAY_SIZE(t));
}

TEST(next_dom_dow)
{
	static const struct nx t[] = {
		/* Both restricted: the 13th OR any Friday. */
		{ "0 0 13 * FRI", NULL, NOW, 1795737600 },        /* Fri 11-27 */
		{ "0 0 13 * FRI", NULL, 1796947200, 1797120000 }, /* Sun 12-13 */
		{ "0 0 13 * FRI", NULL, 1797120000, 1797552000 }, /* Fri 12-18 */
		/* Day-of-week '*': only day-of-month counts. */
		{ "0 0 13 * *", NULL, NOW, 1797120000 },
		/* A '*'-step day-of-month: both must match (odd Fridays). */
		{ "0 0 */2 * FRI", NULL, NOW, 1795737600 },       /* 11-27 */
		{ "0 0 */2 * FRI", NULL, 1795737600, 1796947200 }, /* 12-11 */
		/* Feb 31 never exists, but Mondays in February do. */
		{ "0 0 31 2 MON", NULL, NOW, 1801440000 },        /* 2027-02-01 */
	};

	check_next(t, DR_ARRAY_SIZE(t));
}

TEST(next_leap_and_long_horizon)
{
	static const struct nx t[] = {
		{ "0 0 29 2 *", NULL, NOW, 1835395200 },        /* 2028-02-29 */
		/* 2100 is not a leap year: 2096 -> 2104. */
		{ "0 0 29 2 *", NULL, 3981398400, 4233686400 },
		/* Feb 29 AND a Sunday ('*'-step weekday): 2032-02-29. */
		{ "0 0 29 2 */7", NULL, NOW, 1961625600 },
		/* The last minute of 9999 is still found. */
		{ "59 23 31 12 *", NULL, 253402300000, 253402300740 },
	};
	dr_cron c;
	int64_t next = 0;
	clock_t t0;
	int i;

	check_next(t, DR_ARRAY_SIZE(t));

	/* Hand-made schedules: stray bits are ignored, empty fields refused. */
	memset(&c, 0xff, sizeof(c));
	CHECK_INT(dr_cron_next(&c, NULL, NOW, &next), 0);
	CHECK_INT(next, NOW + 60);
	c.dow = 0x80;
	CHECK_INT(dr_cron_next(&c, NULL, NOW, &next), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "schedule has an empty field");

	/* Nothing after the last run of 9999. */
	CHECK_INT(dr_cron_parse("0 0 1 1 *", &c, NULL, 0, NULL), 0);
	CHECK_INT(dr_cron_next(&c, NULL, 253402300000, &next), DR_ENOTFOUND);
	CHECK_STR(dr_error_msg(), "no run before the year 10000");
	CHECK_INT(dr_cron_next(&c, NULL, 253402300800, &next), DR_EINVAL);
	CHECK_INT(dr_cron_next(&c, NULL, INT64_MIN, &next), DR_EINVAL);

	/*
	 * The search skips by field: a thousand rare runs in Paris take far
	 * less than a second even under sanitizers (a minute-by-minute walk
	 * would need about four million steps per call).
	 */
	CHECK_INT(dr_cron_parse("0 0 29 2 */7", &c, NULL, 0, NULL), 0);
	t0 = clock();
	next = NOW;
	for (i = 0; i < 1000; i++)
		if (dr_cron_next(&c, "Europe/Paris", 3981398400, &next))
			break;
	CHECK_INT(i, 1000);
	CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
}

TEST(next_paris_dst)
{
	static const struct nx t[] = {
		/* 2026-11-25: Saturday 03:00 CET is 02:00 UTC. */
		{ "0 3 * * SAT", "Europe/Paris", NOW, 1795831200 },
		/*
		 * Spring forward, 2026-03-29: 02:00 CET -> 03:00 CEST at
		 * 01:00 UTC (1774746000). 02:30 does not exist: it runs at
		 * 03:00 CEST, once; the next is 02:30 CEST on 03-30.
		 */
		{ "30 2 * * *", "Europe/Paris", 1774742400, 1774746000 },
		{ "30 2 * * *", "Europe/Paris", 1774745999, 1774746000 },
		{ "30 2 * * *", "Europe/Paris", 1774746000, 1774830600 },
		/* Four matches in the gap make one run. */
		{ "*/15 2 * * *", "Europe/Paris", 1774742400, 1774746000 },
		{ "*/15 2 * * *", "Europe/Paris", 1774746000, 1774828800 },
		/* 03:00 itself is that same instant. */
		{ "0 3 * * *", "Europe/Paris", 1774742400, 1774746000 },
		{ "0 2,3 * * *", "Europe/Paris", 1774746000, 1774828800 },
		{ "1 3 * * *", "Europe/Paris", 1774742400, 1774746060 },
		/*
		 * Fall back, 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00
		 * UTC. 02:30 happens at 00:30 UTC (CEST) and 01:30 UTC
		 * (CET); it runs at the first only.
		 */
		{ "30 2 * * *", "Europe/Paris", 1792886400, 1792888200 },
		{ "30 2 * * *", "Europe/Paris", 1792888200, 1792978200 },
		/* From inside the repeated hour, the first pass is past. */
		{ "45 2 * * *", "Europe/Paris", 1792891800, 1792979100 },
		/* Half-hourly: 02:00 and 02:30 CEST, then 03:00 CET. */
		{ "*/30 * * * *", "Europe/Paris", 1792886400 - 1, 1792886400 },
		{ "*/30 * * * *", "Europe/Paris", 1792886400, 1792888200 },
		{ "*/30 * * * *", "Europe/Paris", 1792888200, 1792893600 },
		/* Past the table: the footer rule, 2100-03-28 02:30 gap. */
		{ "30 2 28 3 *", "Europe/Paris", 4102444800, 4109878800 },
	};

	check_next(t, DR_ARRAY_SIZE(t));
}

TEST(next_new_york_dst)
{
	static const struct nx t[] = {
		/*
		 * Spring forward, 2026-03-08: 02:00 EST -> 03:00 EDT at
		 * 07:00 UTC (1772953200).
		 */
		{ "30 2 * * *", "America/New_York", 1772949600, 1772953200 },
		{ "0 3 * * *", "America/New_York", 1772949600, 1772953200 },
		{ "59 1 * * *", "America/New_York", 1772949600, 1772953140 },
		/*
		 * Fall back, 2026-11-01: 02:00 EDT -> 01:00 EST at 06:00
		 * UTC. 01:30 runs at 01:30 EDT (05:30 UTC) only.
		 */
		{ "30 1 * * *", "America/New_York", 1793505600, 1793511000 },
		{ "30 1 * * *", "America/New_York", 1793511000, 1793601000 },
		{ "30 1 * * *", "America/New_York", 1793514600, 1793601000 },
		/* Hourly: 01:00 EDT (05:00 UTC), then 02:00 EST (07:00 UTC). */
		{ "0 * * * *", "America/New_York", 1793507400, 1793509200 },
		{ "0 * * * *", "America/New_York", 1793509200, 1793516400 },
	};

	check_next(t, DR_ARRAY_SIZE(t));
}

TEST(tz_names)
{
	CHECK_INT(dr_tz_valid("Europe/Paris"), 0);
	CHECK_INT(dr_tz_valid("America/New_York"), 0);
	CHECK_INT(dr_tz_valid("UTC"), 0);
	CHECK_INT(dr_tz_valid(NULL), 0);
	CHECK_INT(dr_tz_valid("Etc/GMT+5"), 0);

	CHECK_INT(dr_tz_valid("Nowhere/City"), DR_ENOTFOUND);
	CHECK_STR(dr_error_msg(), "unknown time zone 'Nowhere/City' (not in "
		  "/usr/share/zoneinfo)");
	CHECK_INT(dr_tz_valid("Europe"), DR_ENOTFOUND);
	CHECK_STR(dr_error_msg(), "unknown time zone 'Europe' "
		  "(/usr/share/zoneinfo/Europe is not a zone file)");
	CHECK_INT(dr_tz_valid("Europe/Paris/x"), DR_ENOTFOUND);
	CHECK_INT(dr_tz_valid("../etc/passwd"), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "invalid time zone name '../etc/passwd' "
		  "(expected an IANA name such as Europe/Paris)");
	CHECK_INT(dr_tz_valid("Europe/../Europe/Paris"), DR_EINVAL);
	CHECK_INT(dr_tz_valid("/etc/localtime"), DR_EINVAL);
	CHECK_INT(dr_tz_valid("Europe/"), DR_EINVAL);
	CHECK_INT(dr_tz_valid("Europe//Paris"), DR_EINVAL);
	CHECK_INT(dr_tz_valid(""), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "empty time zone name");
	CHECK_INT(dr_tz_valid("Europe/Paris "), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "invalid character in time zone name "
		  "'Europe/Paris '");
	CHECK_INT(dr_tz_valid("zone.tab"), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "time zone zone.tab: not a valid zone file "
		  "(no TZif header)");
}

TEST(tz_missing_database)
{
	const char *old = getenv("TZDIR");
	char *saved = old ? strdup(old) : NULL;
	dr_cron c;
	int64_t next = 0;

	setenv("TZDIR", "/nonexistent/zoneinfo", 1);
	CHECK_INT(dr_tz_valid("Europe/Paris"), DR_EIO);
	CHECK_STR(dr_error_msg(), "time zone database not found at "
		  "/nonexistent/zoneinfo: install the tzdata package");
	CHECK_INT(dr_cron_parse("0 3 * * SAT", &c, NULL, 0, NULL), 0);
	CHECK_INT(dr_cron_next(&c, "Europe/Paris", NOW, &next), DR_EIO);
	/* UTC is built in and needs no files. */
	CHECK_INT(dr_cron_next(&c, "UTC", NOW, &next), 0);
	CHECK_INT(next, 1795834800);
	if (saved) {
		setenv("TZDIR", saved, 1);
		free(saved);
	} else {
		unsetenv("TZDIR");
	}
	CHECK_INT(dr_tz_valid("Europe/Paris"), 0);
}

/* Offsets and local-time resolution straight from the zone. */
TEST(tz_offsets)
{
	dr_tz *tz = NULL;
	int64_t u = 0;

	CHECK_INT(dr_tz_load("Europe/Paris", &tz), 0);
	if (!tz)
		return;
	CHECK_STR(dr_tz_name(tz), "Europe/Paris");
	CHECK_INT(dr_tz_offset(tz, 1774745999), 3600);
	CHECK_INT(dr_tz_offset(tz, 1774746000), 7200);
	CHECK_INT(dr_tz_offset(tz, 1792889999), 7200);
	CHECK_INT(dr_tz_offset(tz, 1792890000), 3600);
	/* 2300 is far past the table: the footer rule decides. */
	CHECK_INT(dr_tz_offset(tz, 10413795600LL), 3600); /* 2300-01-01 */
	CHECK_INT(dr_tz_offset(tz, 10430000000LL), 7200); /* 2300-07-07 */
	/* 2026-03-29 02:30 local (gap) -> 01:00 UTC. */
	CHECK_INT(dr_tz_resolve(tz, 1774751400, &u), 0);
	CHECK_INT(u, 1774746000);
	/* 2026-10-25 02:30 local (twice) -> the first, 00:30 UTC. */
	CHECK_INT(dr_tz_resolve(tz, 1792895400, &u), 0);
	CHECK_INT(u, 1792888200);
	dr_tz_free(tz);

	/* Southern hemisphere: Sydney springs forward 2026-10-04 02:00. */
	CHECK_INT(dr_tz_load("Australia/Sydney", &tz), 0);
	if (!tz)
		return;
	CHECK_INT(dr_tz_resolve(tz, 1791081000, &u), 0); /* 02:30 local */
	CHECK_INT(u, 1791043200);                         /* 16:00 UTC */
	CHECK_INT(dr_tz_offset(tz, u), 39600);
	CHECK_INT(dr_tz_offset(tz, u - 1), 36000);
	dr_tz_free(tz);
}

/* The zone offsets agree with the C library's reading of the same files. */
TEST(tz_matches_libc)
{
	static const char *const zones[] = {
		"Europe/Paris", "America/New_York", "Australia/Sydney",
		"Asia/Kolkata", "Pacific/Chatham", "America/Sao_Paulo",
		"Europe/Dublin", "Africa/Casablanca", "Pacific/Apia",
		"Asia/Tehran", "America/St_Johns", "Antarctica/Troll",
		"Europe/Lisbon", "America/Santiago", "Asia/Gaza",
	};
	const char *old = getenv("TZ");
	char *saved = old ? strdup(old) : NULL;
	size_t z;

	for (z = 0; z < DR_ARRAY_SIZE(zones); z++) {
		dr_tz *tz = NULL;
		char env[300];
		int64_t t;
		int bad = 0;

		if (dr_tz_load(zones[z], &tz)) {
			fprintf(stderr, "%s: %s\n", zones[z], dr_error_msg());
			CHECK(0);
			continue;
		}
		snprintf(env, sizeof(env), ":%s", zones[z]);
		setenv("TZ", env, 1);
		tzset();
		/* 1971 to 2150, a prime-ish stride that lands on every hour. */
		for (t = 31536000; t < 5680281600LL && bad < 3; t += 86400 * 3 + 3607) {
			time_t tt = (time_t)t;
			struct tm tm;

			localtime_r(&tt, &tm);
			if (tm.tm_gmtoff != dr_tz_offset(tz, t)) {
				fprintf(stderr, "%s at %lld: libc %ld, drplan %d\n",
					zones[z], (long long)t, tm.tm_gmtoff,
					dr_tz_offset(tz, t));
				bad++;
			}
		}
		CHECK_INT(bad, 0);
		dr_tz_free(tz);
	}
	if (saved) {
		setenv("TZ", saved, 1);
		free(saved);
	} else {
		unsetenv("TZ");
	}
	tzset();
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;

	if (!f)
		return NULL;
	buf = malloc(DR_TZ_MAX_FILE);
	*len = fread(buf, 1, DR_TZ_MAX_FILE, f);
	fclose(f);
	return buf;
}

/* Truncated and corrupted zone files are refused or read, never crash. */
TEST(tzif_corrupt)
{
	size_t len = 0, i;
	unsigned char *buf = slurp("/usr/share/zoneinfo/Europe/Paris", &len);
	dr_tz *tz;
	int64_t u;

	CHECK(buf != NULL);
	if (!buf)
		return;
	CHECK_INT(dr_tz_from_tzif(buf, len, "Europe/Paris", &tz), 0);
	dr_tz_free(tz);
	for (i = 0; i < len; i++) {
		if (dr_tz_from_tzif(buf, i, "cut", &tz) == 0) {
			fprintf(stderr, "truncated at %zu accepted\n", i);
			CHECK(0);
			dr_tz_free(tz);
		}
	}
	CHECK_INT(dr_tz_from_tzif(buf, 10, "cut", &tz), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "time zone cut: not a valid zone file "
		  "(no TZif header)");
	for (i = 0; i < len; i++) {
		unsigned char saved = buf[i];
		int b;

		for (b = 0; b < 8; b += 3) {
			buf[i] = (unsigned char)(saved ^ (1u << b));
			if (dr_tz_from_tzif(buf, len, "flip", &tz) == 0) {
				/* Whatever it read must still answer sanely. */
				(void)dr_tz_offset(tz, NOW);
				(void)dr_tz_resolve(tz, NOW, &u);
				dr_tz_free(tz);
			}
		}
		buf[i] = saved;
	}
	free(buf);
}

/* A TZif file from parts: v1 (4-byte times) or v2 with a footer. */
struct tzif {
	unsigned char b[1024];
	size_t n;
};

static void put32(struct tzif *f, uint32_t v)
{
	f->b[f->n++] = (unsigned char)(v >> 24);
	f->b[f->n++] = (unsigned char)(v >> 16);
	f->b[f->n++] = (unsigned char)(v >> 8);
	f->b[f->n++] = (unsigned char)v;
}

static void put_block(struct tzif *f, char version, int tsz, size_t nt,
		      const int64_t *trans, const uint8_t *idx, size_t ntypes,
		      const int32_t *off)
{
	size_t i;

	memcpy(f->b + f->n, "TZif", 4);
	f->n += 4;
	f->b[f->n++] = (unsigned char)version;
	memset(f->b + f->n, 0, 15);
	f->n += 15;
	put32(f, 0);              /* isutcnt */
	put32(f, 0);              /* isstdcnt */
	put32(f, 0);              /* leapcnt */
	put32(f, (uint32_t)nt);
	put32(f, (uint32_t)ntypes);
	put32(f, 4);              /* charcnt: "XYZ\0" */
	for (i = 0; i < nt; i++) {
		if (tsz == 8)
			put32(f, (uint32_t)((uint64_t)trans[i] >> 32));
		put32(f, (uint32_t)trans[i]);
	}
	for (i = 0; i < nt; i++)
		f->b[f->n++] = idx[i];
	for (i = 0; i < ntypes; i++) {
		put32(f, (uint32_t)off[i]);
		f->b[f->n++] = 0;
		f->b[f->n++] = 0;
	}
	memcpy(f->b + f->n, "XYZ", 4);
	f->n += 4;
}

static void build(struct tzif *f, char version, size_t nt, const int64_t *trans,
		  const uint8_t *idx, size_t ntypes, const int32_t *off,
		  const char *footer)
{
	f->n = 0;
	put_block(f, version, 4, nt, trans, idx, ntypes, off);
	if (version == 0)
		return;
	put_block(f, version, 8, nt, trans, idx, ntypes, off);
	f->b[f->n++] = '\n';
	memcpy(f->b + f->n, footer, strlen(footer));
	f->n += strlen(footer);
	f->b[f->n++] = '\n';
}

TEST(tzif_built)
{
	static const int64_t one[] = { 1000000000 };
	static const uint8_t idx[] = { 1 };
	static const int32_t offs[] = { 3600, -18000 };
	struct tzif f;
	dr_tz *tz = NULL;
	int64_t u = 0;

	/* Version 1: 32-bit times, no footer; the last type holds forever. */
	build(&f, 0, 1, one, idx, 2, offs, "");
	CHECK_INT(dr_tz_from_tzif(f.b, f.n, "v1", &tz), 0);
	if (tz) {
		CHECK_INT(dr_tz_offset(tz, 999999999), 3600);
		CHECK_INT(dr_tz_offset(tz, 1000000000), -18000);
		CHECK_INT(dr_tz_offset(tz, 4000000000LL), -18000);
		dr_tz_free(tz);
	}
	/* Version 2 with an empty footer: the same. */
	build(&f, '2', 1, one, idx, 2, offs, "");
	CHECK_INT(dr_tz_from_tzif(f.b, f.n, "v2", &tz), 0);
	if (tz) {
		CHECK_INT(dr_tz_offset(tz, 4000000000LL), -18000);
		dr_tz_free(tz);
	}
	/* No table at all: the footer rule alone, as in slim zone files. */
	build(&f, '3', 0, NULL, NULL, 1, offs, "CET-1CEST,M3.5.0,M10.5.0/3");
	CHECK_INT(dr_tz_from_tzif(f.b, f.n, "slim", &tz), 0);
	if (tz) {
		CHECK_INT(dr_tz_offset(tz, 1774745999), 3600);
		CHECK_INT(dr_tz_offset(tz, 1774746000), 7200);
		CHECK_INT(dr_tz_offset(tz, 1792889999), 7200);
		CHECK_INT(dr_tz_offset(tz, 1792890000), 3600);
		CHECK_INT(dr_tz_resolve(tz, 1774751400, &u), 0);
		CHECK_INT(u, 1774746000);
		dr_tz_free(tz);
	}
	/* Permanent daylight time written as a rule (RFC 8536 3.3.1). */
	build(&f, '3', 0, NULL, NULL, 1, offs, "EST5EDT,0/0,J365/25");
	CHECK_INT(dr_tz_from_tzif(f.b, f.n, "perm", &tz), 0);
	if (tz) {
		CHECK_INT(dr_tz_offset(tz, 1767225600), -14400); /* 2026-01-01 */
		CHECK_INT(dr_tz_offset(tz, 1782864000), -14400); /* 2026-07-01 */
		CHECK_INT(dr_tz_offset(tz, 1798761599), -14400);
		dr_tz_free(tz);
	}
	/* Angle-bracket names, minutes, a negative rule time. */
	build(&f, '3', 0, NULL, NULL, 1, offs, "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1");
	CHECK_INT(dr_tz_from_tzif(f.b, f.n, "brackets", &tz), 0);
	if (tz) {
		CHECK_INT(dr_tz_offset(tz, 1782864000), -7200);
		dr_tz_free(tz);
	}
	/* Refused: bad footers, bad type index, transitions out of order. */
	build(&f, '2', 1, one, idx, 2, offs, "CET-1CEST,M3.5.0");
	CHECK_INT(dr_tz_from_tzif(f.b, f.n, "f", &tz), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "time zone f: not a valid zone file (bad TZ "
		  "string in footer)");
	build(&f, '2', 1, one, idx, 2, offs, "CE-1");
	CHECK_INT(dr_tz_from_tzif(f.b, f.n, "f", &tz), DR_EINVAL);
	build(&f, '2', 1, one, idx, 2, offs, "CET-1CEST,M13.5.0,M10.5.0");
	CHECK_INT(dr_tz_from_tzif(f.b, f.n, "f", &tz), DR_EINVAL);
	build(&f, '2', 1, one, idx, 2, offs, "CET-99");
	CHECK_INT(dr_tz_from_tzif(f.b, f.n, "f", &tz), DR_EINVAL);
	{
		static const uint8_t bad_idx[] = { 2 };
		static const int64_t two[] = { 2000, 1000 };
		static const uint8_t idx2[] = { 0, 1 };

		build(&f, '2', 1, one, bad_idx, 2, offs, "");
		CHECK_INT(dr_tz_from_tzif(f.b, f.n, "i", &tz), DR_EINVAL);
		CHECK_STR(dr_error_msg(), "time zone i: not a valid zone file "
			  "(bad type index)");
		build(&f, '2', 2, two, idx2, 2, offs, "");
		CHECK_INT(dr_tz_from_tzif(f.b, f.n, "o", &tz), DR_EINVAL);
		CHECK_STR(dr_error_msg(), "time zone o: not a valid zone file "
			  "(transitions out of order)");
	}
	{
		static const int32_t far[] = { 3600, 30 * 3600 };

		build(&f, '2', 1, one, idx, 2, far, "");
		CHECK_INT(dr_tz_from_tzif(f.b, f.n, "far", &tz), DR_EINVAL);
		CHECK_STR(dr_error_msg(), "time zone far: not a valid zone "
			  "file (bad local time type)");
	}
	build(&f, '5' - 4, 1, one, idx, 2, offs, "");
	CHECK_INT(dr_tz_from_tzif(f.b, f.n, "ver", &tz), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "time zone ver: not a valid zone file "
		  "(unknown version)");
	/* Newer tzdata moved right/ to tzdata-legacy; test it when there. */
	if (access("/usr/share/zoneinfo/right/Europe/Paris", R_OK) == 0) {
		CHECK_INT(dr_tz_load("right/Europe/Paris", &tz), DR_EINVAL);
		CHECK_STR(dr_error_msg(), "time zone right/Europe/Paris: "
			  "leap-second zones are not supported");
	}
}

/*
 * Brute force over UTC minutes for random schedules around the DST changes:
 * instant u is a run when its local time matches and it is that local time's
 * first occurrence, or when it ends a gap that swallowed a matching time.
 */
static int matches(const dr_cron *c, int64_t local)
{
	int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
	int64_t secs = local - days * 86400, y;
	int m, d, w = dr_weekday(days), dom, dow;

	dr_civil_from_days(days, &y, &m, &d);
	if (!(c->minute >> (secs / 60 % 60) & 1) || !(c->hour >> (secs / 3600) & 1) ||
	    !(c->month >> m & 1))
		return 0;
	dom = (int)(c->dom >> d & 1);
	dow = c->dow >> w & 1;
	return (c->flags & 3) ? dom && dow : dom || dow;
}

static int64_t brute_next(const dr_cron *c, const dr_tz *tz, int64_t after,
			  int64_t limit)
{
	int64_t u;

	for (u = (after / 60 + 1) * 60; u <= limit; u += 60) {
		int32_t off = dr_tz_offset(tz, u), prev = dr_tz_offset(tz, u - 60);
		int64_t l = u + off, x;

		if (matches(c, l)) {
			/* Real overlaps last at most an hour. */
			int32_t o2 = dr_tz_offset(tz, u - 7200);

			if (!(o2 > off && l - o2 < u && dr_tz_offset(tz, l - o2) == o2))
				return u;
		}
		/* A gap ends at u: did it swallow a matching local time? */
		if (off > prev)
			for (x = u + prev; x < l; x += 60)
				if (matches(c, x))
					return u;
	}
	return -1;
}

static int rnd(unsigned *seed, size_t k)
{
	*seed = *seed * 1103515245u + 12345u;
	return (int)((*seed >> 16) % k);
}

TEST(next_matches_brute_force)
{
	static const char *const zones[] = { "Europe/Paris", "America/New_York",
					     "Australia/Sydney", "Australia/Lord_Howe" };
	static const int64_t around[] = { 1774746000, 1792890000, 1772953200,
					  1793512800, 1791043200, 1775318400 };
	unsigned seed = 12345;
	int n, compared = 0;

	for (n = 0; n < 600; n++) {
		char expr[128];
		dr_cron c;
		dr_tz *tz = NULL;
		int64_t after, want, got = -1;
		int rc;

		static const char *const doms[] = { "*", "*", "4,5,25,26", "*/2",
						    "1-7", "29-31" };
		static const char *const months[] = { "*", "*", "3,10,11", "4" };
		static const char *const dows[] = { "*", "*", "SUN", "0,6", "1-5" };

		snprintf(expr, sizeof(expr), "%s %s %s %s %s",
			 rnd(&seed, 3) == 0 ? "*" : (rnd(&seed, 2) ? "*/15" : "30"),
			 rnd(&seed, 2) ? "*" : (rnd(&seed, 2) ? "1-3" : "2"),
			 doms[rnd(&seed, DR_ARRAY_SIZE(doms))],
			 months[rnd(&seed, DR_ARRAY_SIZE(months))],
			 dows[rnd(&seed, DR_ARRAY_SIZE(dows))]);
		if (dr_cron_parse(expr, &c, NULL, 0, NULL) ||
		    dr_tz_load(zones[rnd(&seed, DR_ARRAY_SIZE(zones))], &tz)) {
			CHECK(0);
			continue;
		}
		after = around[rnd(&seed, DR_ARRAY_SIZE(around))] - 2 * 86400 +
			rnd(&seed, 4 * 86400);
		want = brute_next(&c, tz, after, after + 4 * 86400);
		compared += want >= 0;
		rc = dr_cron_next_tz(&c, tz, after, &got);
		if (rc || (want >= 0 && got != want) ||
		    (want < 0 && got <= after + 4 * 86400)) {
			fprintf(stderr, "'%s' %s after %lld: got %lld, brute %lld\n",
				expr, dr_tz_name(tz), (long long)after,
				(long long)got, (long long)want);
			CHECK(0);
		}
		dr_tz_free(tz);
	}
	/* Most cases have a run within the window, so the test has teeth. */
	fprintf(stderr, "brute force: %d of %d cases had a run\n", compared, n);
	CHECK(compared > n / 2);
}

int main(void)
{
	/* The messages below name the default zoneinfo directory. */
	unsetenv("TZDIR");
	if (dr_tz_valid("Europe/Paris") != 0) {
		fprintf(stderr, "test-cron: %s\n"
			"test-cron: these tests need the IANA time zone database: "
			"apt-get install tzdata\n", dr_error_msg());
		return 1;
	}
	RUN(parse_basic);
	RUN(parse_lists_ranges_steps);
	RUN(parse_names);
	RUN(parse_sunday_seven);
	RUN(parse_macros);
	RUN(parse_errors);
	RUN(parse_error_args_optional);
	RUN(next_utc);
	RUN(next_dom_dow);
	RUN(next_leap_and_long_horizon);
	RUN(next_paris_dst);
	RUN(next_new_york_dst);
	RUN(tz_names);
	RUN(tz_missing_database);
	RUN(tz_offsets);
	RUN(tz_matches_libc);
	RUN(tzif_corrupt);
	RUN(tzif_built);
	RUN(next_matches_brute_force);
	return test_summary();
}
