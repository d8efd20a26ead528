/*
 * tz.h - IANA time zones read from the system's TZif files.
 *
 * drplan reads the zone files itself (RFC 8536, versions 1 to 4) instead of
 * switching the process-global TZ variable around localtime_r()/mktime():
 * no global state, the same answers on every libc, and the parser can be
 * tested and fuzzed on its own bytes.
 *
 * Where the files are: $TZDIR when set and non-empty (as glibc does), else
 * /usr/share/zoneinfo (Debian package `tzdata`). When that directory is
 * missing, loading any zone other than "UTC" fails with DR_EIO and a message
 * that says to install tzdata. "UTC" (and NULL) is built in and never needs
 * the files.
 *
 * Zone names: IANA names such as "Europe/Paris". A name must be 1-255 bytes
 * of [A-Za-z0-9_+-./], must not start with '/', end with '/' or contain "..";
 * anything else is DR_EINVAL before the file system is touched. Files with
 * leap-second records ("right/..." zones) are refused: drplan's instants are
 * POSIX seconds.
 *
 * Times past the last transition of the table follow the POSIX TZ rule in
 * the file's footer (e.g. "CET-1CEST,M3.5.0,M10.5.0/3"), so dates in 2100
 * are as right as dates in 2026.
 *
 * Ownership: dr_tz_load() and dr_tz_from_tzif() hand back a zone the caller
 * frees with dr_tz_free(). A loaded zone is immutable; reading it from
 * several places at once is fine.
 */
#ifndef DR_SCHED_TZ_H
#define DR_SCHED_TZ_H

#include <stddef.h>
#include <stdint.h>

typedef struct dr_tz dr_tz;

/* The default zoneinfo directory when $TZDIR is unset. */
#define DR_TZ_DEFAULT_DIR "/usr/share/zoneinfo"

/* Largest zone file accepted; real ones are a few KiB. */
#define DR_TZ_MAX_FILE (256 * 1024)

/*
 * Load zone `name` (NULL or "UTC" is the built-in UTC). Returns 0, or
 * DR_EINVAL (bad name or not a valid TZif file), DR_ENOTFOUND (no such
 * zone), DR_EIO (the zone database is missing or unreadable); the message is
 * in dr_error_msg().
 */
int dr_tz_load(const char *name, dr_tz **out);

/*
 * Parse TZif bytes (the content of a zone file). `name` is only kept for
 * messages and may be NULL. Errors: DR_EINVAL with the reason.
 */
int dr_tz_from_tzif(const void *data, size_t len, const char *name, dr_tz **out);

void dr_tz_free(dr_tz *tz);

/* The name the zone was loaded under ("UTC" for the built-in one). */
const char *dr_tz_name(const dr_tz *tz);

/*
 * 0 when `name` is a zone that exists and parses, else the error dr_tz_load()
 * would give (message in dr_error_msg()). Note: 0 means valid, following the
 * project's return convention, so test it with `== 0`.
 */
int dr_tz_valid(const char *name);

/*
 * UTC offset in seconds (east positive) in effect at instant `t`; always
 * within +-26 hours. Before the first transition: the file's first type.
 */
int32_t dr_tz_offset(const dr_tz *tz, int64_t t);

/*
 * The instant at which the local wall-clock time `local` (seconds since
 * 1970-01-01T00:00 of the local calendar, as if it were UTC) happens:
 *  - a time that happens once: that instant;
 *  - a time that happens twice (clocks set back): the first occurrence;
 *  - a time that never happens (clocks set forward over it): the first
 *    instant after the gap, i.e. the instant of the transition.
 * Returns 0, DR_EINVAL when `local` is beyond +-34000 years, or DR_ERR if
 * the zone data is too odd to place it (no gap or occurrence within two
 * days; never with real zones).
 */
int dr_tz_resolve(const dr_tz *tz, int64_t local, int64_t *out);

/*
 * Calendar helpers shared with cron.c. Days are counted from 1970-01-01
 * (day 0) in the proleptic Gregorian calendar; month is 1-12.
 */
int64_t dr_days_from_civil(int64_t y, int m, int d);
void dr_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int dr_days_in_month(int64_t y, int m);
/* 0 = Sunday ... 6 = Saturday. */
int dr_weekday(int64_t days);

#endif
