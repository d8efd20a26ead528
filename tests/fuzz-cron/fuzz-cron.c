/*
 * fuzz-cron.c - libFuzzer target for the schedule parsers. The first byte
 * picks the parser: even for a cron expression (the rest of the bytes),
 * odd for a TZif zone file. Whatever the bytes, parsing must not crash,
 * hang or leak, and what it accepts must behave: a parsed schedule has a
 * next run, on a whole minute, after the start, that matches its fields.
 */
#include "sched/cron.h"
#include "sched/tz.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1970, both DST changes of 2026 in Paris, 2100, 3000. */
static const int64_t starts[] = { 0, 1774745999, 1792891800, 4102444800LL,
				  32503680000LL };

static int matches_utc(const dr_cron *c, int64_t t)
{
	int64_t days = t / 86400, y;
	int m, d, dom, dow, secs = (int)(t % 86400);

	dr_civil_from_days(days, &y, &m, &d);
	if (!(c->minute >> (secs / 60 % 60) & 1) || !(c->hour >> (secs / 3600) & 1) ||
	    !(c->month >> m & 1))
		return 0;
	dom = (int)(c->dom >> d & 1);
	dow = c->dow >> dr_weekday(days) & 1;
	return (c->flags & (DR_CRON_DOM_STAR | DR_CRON_DOW_STAR)) ? dom && dow
								   : dom || dow;
}

static void fuzz_cron(const uint8_t *data, size_t size)
{
	char expr[512], err[256];
	dr_cron c;
	int col = 0;
	size_t i;

	if (size >= sizeof(expr))
		size = sizeof(expr) - 1;
	memcpy(expr, data, size);
	expr[size] = '\0';
	if (dr_cron_parse(expr, &c, err, sizeof(err), &col)) {
		/* The column points into the expression or just past it. */
		if (col < 1 || (size_t)col > strlen(expr) + 1 || !err[0])
			abort();
		return;
	}
	for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		int64_t next = 0;

		if (dr_cron_next(&c, NULL, starts[i], &next))
			abort();
		if (next <= starts[i] || next % 60 || !matches_utc(&c, next))
			abort();
	}
}

static void fuzz_tzif(const uint8_t *data, size_t size)
{
	dr_tz *tz;
	size_t i;
	int64_t u;

	if (dr_tz_from_tzif(data, size, "fuzz", &tz))
		return;
	for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		int32_t off = dr_tz_offset(tz, starts[i]);

		if (off < -26 * 3600 || off > 26 * 3600)
			abort();
		(void)dr_tz_resolve(tz, starts[i], &u);
	}
	dr_tz_free(tz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_tzif(data + 1, size - 1);
	else
		fuzz_cron(data + 1, size - 1);
	return 0;
}
