/*
 * cron.h - drill schedules: cron expressions evaluated in a time zone.
 *
 * A plan says `drill: { schedule: "0 3 * * SAT", timezone: Europe/Paris }`.
 * dr_cron_parse() checks the expression offline and compiles it into
 * bitmasks; dr_cron_next() gives the next run after an instant, in the
 * plan's zone. docs/schedules.md is the user-facing version of this page.
 *
 * Syntax: five fields separated by spaces or tabs,
 *
 *     minute (0-59)  hour (0-23)  day-of-month (1-31)  month (1-12)
 *     day-of-week (0-7; 0 and 7 are Sunday)
 *
 * Each field is a comma-separated list of `*`, `n`, `a-b`, `* /n` (without
 * the space) or `a-b/n`. Months may be written JAN-DEC and days SUN-SAT,
 * in any case, also inside ranges. Instead of the five fields one of the
 * macros @yearly (= @annually, "0 0 1 1 *"), @monthly ("0 0 1 * *"),
 * @weekly ("0 0 * * 0"), @daily (= @midnight, "0 0 * * *") or @hourly
 * ("0 * * * *").
 *
 * Refused with a message and the 1-based column of the problem: values out
 * of range, reversed ranges (5-2; wrap-around is not supported), step 0 or
 * a step wider than the field, a step without a range (`5/15`: cron
 * implementations disagree on its meaning, so write `5-59/15`), empty list
 * elements, unknown names, names outside month and day-of-week, a number of
 * fields other than five (a sixth "seconds" field is not supported), and
 * expressions that can never run such as `0 0 31 2 *` or `0 0 30 2 *`.
 *
 * Day-of-month and day-of-week (Vixie cron): when both fields are
 * restricted, a day matches if EITHER matches ("0 0 13 * FRI" runs on every
 * 13th and every Friday). A field counts as unrestricted when it starts with
 * `*`, so, as in Vixie cron and cronie, "* /2" in one of them means both must
 * match. When either is unrestricted, both must match.
 *
 * Time zones and daylight saving: the fields are local wall-clock times of
 * the zone (see sched/tz.h for zone names and files).
 *  - A local time that does not exist (clocks spring forward, e.g. 02:30
 *    on 2026-03-29 in Europe/Paris) runs once, at the first instant after the
 *    gap (03:00 CEST), as cronie does; several matches inside one gap still
 *    make one run.
 *  - A local time that happens twice (clocks fall back, e.g. 02:30 on
 *    2026-10-25 in Europe/Paris) runs once, at its first occurrence (02:30
 *    CEST).
 *
 * Cost: dr_cron_next() skips by field (month, day, hour, minute) and never
 * walks minute by minute; the worst case (a Feb 29 that must also be a
 * given weekday) looks at a few thousand days.
 */
#ifndef DR_SCHED_CRON_H
#define DR_SCHED_CRON_H

#include "sched/tz.h"

#include <stddef.h>
#include <stdint.h>

/* Flags of dr_cron.flags. */
#define DR_CRON_DOM_STAR 0x1 /* day-of-month field started with '*' */
#define DR_CRON_DOW_STAR 0x2 /* day-of-week field started with '*' */

/*
 * A compiled expression: plain data, copy it freely. Bit n of a mask set
 * means value n matches: minute bits 0-59, hour 0-23, dom 1-31, month 1-12,
 * dow 0-6 (Sunday = 0; a 7 in the source sets bit 0).
 */
typedef struct dr_cron {
	uint64_t minute;
	uint32_t hour;
	uint32_t dom;
	uint16_t month;
	uint8_t dow;
	uint8_t flags;
} dr_cron;

/* The message every wrong field count gets. */
#define DR_CRON_FIELDS_MSG                                                     \
	"drplan schedules have 5 fields: minute hour day-of-month month "      \
	"day-of-week"

/*
 * Parse `expr` into *out. Returns 0, or DR_EINVAL with a message in err
 * (when err and errlen are given; also in dr_error_msg()) and the 1-based
 * byte column of the problem in *err_col (when err_col is not NULL). The
 * message names the field, e.g. "hour: 24 is out of range 0-23". *out is
 * only written on success.
 */
int dr_cron_parse(const char *expr, dr_cron *out, char *err, size_t errlen,
		  int *err_col);

/*
 * The next run strictly after `after` (UTC epoch seconds) in zone tz (an
 * IANA name; NULL or "UTC" for UTC), in *next. Runs are on whole minutes.
 * Returns 0, the zone errors of dr_tz_load(), DR_EINVAL when `after` is
 * outside years 1-9999, or DR_ENOTFOUND when there is no run before the year
 * 10000.
 */
int dr_cron_next(const dr_cron *c, const char *tz, int64_t after, int64_t *next);

/* The same with a zone already loaded, for callers listing many runs. */
int dr_cron_next_tz(const dr_cron *c, const dr_tz *tz, int64_t after,
		    int64_t *next);

#endif
