/*
 * scheduler.h - `drplan schedule run`: start drills when they are due.
 *
 * The scheduler watches a directory of plans (*.yaml), computes each plan's
 * next drill from drill.schedule / drill.timezone (sched/cron.h), and when
 * one is due starts it as a job on the process's one event loop. It is
 * written against three things it is given, so tests can drive it:
 *   - a wall clock (dr_sched_clock: UTC epoch ms; tests tie it to a virtual
 *     loop clock),
 *   - a runner (dr_sched_runner: how to read a plan file, and how to start,
 *     resume, watch and park a drill job; the CLI's runner runs real jobs
 *     with exec/job.h, the unit tests' runner fakes them),
 *   - the state store (journal/store.h), where every decision is recorded
 *     under schedule/<plan>/ so that restarts and other instances sharing
 *     the store see it.
 * docs/schedules.md is the user-facing version of the rules below.
 *
 * Rules:
 *   due         a plan's drill is due at each instant dr_cron_next() gives
 *               (daylight saving as in cron.h). The scheduler wakes at the
 *               due time (at most tick_ms late while jobs run).
 *   claim       before starting, an instance claims (plan, due time) by
 *               creating schedule/<plan>/runs/<YYYYMMDDTHHMMSSZ> with
 *               dr_store_put(if_match ""): only one instance sharing the
 *               store can create it, so each due time starts at most one
 *               job. The claim record then says what became of it:
 *               "claimed", "started" (job), "skipped" (reason), "finished"
 *               (status), "failed" (message).
 *   overlap     never two jobs of one plan: when a due time comes while a
 *               job of the plan runs (here, or anywhere: the plan's lock in
 *               the store is held) the due time is skipped and the claim
 *               records "skipped" with reason "overlap" and the job.
 *   missed      at start-up, for each plan, only the most recent due time
 *               at or before now counts, and only when it is at most
 *               catch_up_ms old and nobody claimed it: it runs once, at
 *               once. Earlier missed due times are never run (no burst).
 *               Plans added or changed later are scheduled from the moment
 *               they are read. After a due time fires, the next one is
 *               computed from max(due, now), so a stalled process never
 *               runs a backlog either.
 *   parked      schedule/<plan>/active names the job the scheduler started
 *               or resumed for the plan ({"job","due","instance"}); it is
 *               removed when the job ends, while the plan's lock is still
 *               held. On stop (dr_sched_stop(), i.e. SIGTERM) running jobs
 *               are parked: the runner stops them where they are (the
 *               journal is consistent at every instant) and releases the
 *               lock; the active record stays.
 *   takeover    at start-up and every rescan_ms, an active record whose
 *               plan lock is free (its holder stopped or died) is resumed
 *               by whichever instance takes the lock first; the job finishes
 *               there. A job id without a journal (the holder died between
 *               recording and starting) is forgotten. At start-up, when the
 *               runner can inspect jobs, the newest unfinished drill job of
 *               each plan without an active record whose lock is free (a
 *               `drplan drill` that died) is adopted the same way.
 *   reload      every rescan_ms the directory is read again: a new file is
 *               loaded, a changed file (size, mtime or content hash) is
 *               reloaded, and a removed file stops being scheduled (its
 *               running job, if any, still finishes). A plan whose schedule
 *               or time zone changed gets its next run recomputed from now;
 *               an unchanged schedule keeps its next run. Invalid plans are
 *               reported once per content and stay watched.
 *   slots       at most max_parallel jobs at once; a due time that finds no
 *               slot (or a runner that says DR_EAGAIN: e.g. the simulator's
 *               state is owned by another job) waits, claimed, and starts
 *               when it can.
 *   once        with once, only what is due at start-up (catch-up rule) and
 *               the takeovers run; when they have ended the scheduler stops
 *               the loop (dr_loop_stop()).
 *
 * Events (one per decision, to on_event): a JSON object with "event",
 * "time" (RFC 3339 UTC, from the clock) and some of "plan", "file", "due",
 * "next", "job", "status", "reason", "message", "schedule", "timezone":
 *   loaded, invalid, removed, due, claimed-elsewhere, started, resumed,
 *   skipped, waiting, finished, stopped (a job's runner failed; resumable),
 *   parked, error.
 *
 * Ownership: the scheduler borrows the store and the loop (they outlive
 * it) and owns its plans and job handles.
 */
#ifndef DR_SCHED_SCHEDULER_H
#define DR_SCHED_SCHEDULER_H

#include "exec/loop.h"
#include "journal/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* A wall clock: UTC epoch milliseconds. */
typedef struct dr_sched_clock {
	int64_t (*now_ms)(void *ctx);
	void *ctx;
} dr_sched_clock;

/* What the scheduler needs from a plan file; strings malloc'd. */
typedef struct dr_sched_plan_info {
	char *name;     /* metadata.name */
	char *schedule; /* drill.schedule; NULL: no schedule */
	char *timezone; /* drill.timezone; NULL: UTC */
	char *error;    /* non-NULL: the plan is invalid, and why */
} dr_sched_plan_info;

void dr_sched_plan_info_release(dr_sched_plan_info *pi);

/*
 * How plans are read and drill jobs run. Every function gets ctx. path is
 * the plan file; plan its name.
 *   load     fill *pi (0), or an error code for an unreadable file (the
 *            plan is then reported invalid with dr_error_msg()).
 *   start    start a drill of the plan as job job_id: 0 and *handle;
 *            DR_ECONFLICT when the plan's lock is held by someone else;
 *            DR_EAGAIN when it cannot start now but may soon; other codes
 *            with dr_error_msg().
 *   resume   the same for an existing job; DR_ENOTFOUND when it has no
 *            journal.
 *   poll     1 when the job has ended (*status: "succeeded", "failed",
 *            ...; static), 0 while it runs, a negative code when it stopped
 *            on an error (it stays resumable).
 *   release  free the job; park is true when it is stopped before its end
 *            (its lock must be released so it can be resumed).
 */
typedef struct dr_sched_runner {
	int (*load)(void *ctx, const char *path, dr_sched_plan_info *pi);
	int (*start)(void *ctx, const char *path, const char *plan, const char *job_id,
		     void **handle);
	int (*resume)(void *ctx, const char *path, const char *plan, const char *job_id,
		      void **handle);
	int (*poll)(void *ctx, void *handle, const char **status);
	void (*release)(void *ctx, void *handle, bool park);
	void *ctx;
	/*
	 * Optional: what job_id is (*plan: its plan's name, caller frees;
	 * *drill: a drill; *ended: it has ended). 0, or an error to skip the
	 * job. With it, start-up also adopts orphaned drills nobody recorded
	 * (a `drplan drill` whose process died): see "takeover".
	 */
	int (*inspect)(void *ctx, const char *job_id, char **plan, bool *drill, bool *ended);
} dr_sched_runner;

typedef void (*dr_sched_event_fn)(void *ctx, const json_t *event);

/* Longest catch-up window accepted (7 days). */
#define DR_SCHED_CATCH_UP_MAX (7 * 86400 * 1000LL)

typedef struct dr_sched_opts {
	dr_store *store;
	dr_loop *loop;
	const char *dir;         /* the plans' directory */
	dr_sched_clock clock;    /* now_ms NULL: dr_wall_ms() */
	dr_sched_runner runner;
	unsigned max_parallel;   /* 0: 4 */
	int64_t catch_up_ms;     /* missed-run window; 0: no catch-up */
	uint64_t rescan_ms;      /* 0: 30000 */
	uint64_t tick_ms;        /* job polling while jobs run; 0: 1000 */
	const char *instance;    /* recorded in claims; NULL: host:pid */
	bool once;
	dr_sched_event_fn on_event; /* may be NULL */
	void *ctx;
} dr_sched_opts;

typedef struct dr_sched dr_sched;

/* A scheduler (nothing is read yet). DR_EINVAL for missing options. */
int dr_sched_new(const dr_sched_opts *o, dr_sched **out);

/*
 * Read the directory, take over parked/orphaned jobs, apply the missed-run
 * rule and arm the timer; the work then happens as the loop runs. DR_EIO
 * when the directory cannot be read.
 */
int dr_sched_start(dr_sched *s);

/* Park every running job (see "parked"), cancel the timer. */
void dr_sched_stop(dr_sched *s);

/* Jobs that ended "failed" (or stopped on an error) so far. */
unsigned dr_sched_failures(const dr_sched *s);

/* Running jobs now. */
unsigned dr_sched_running(const dr_sched *s);

/* Stops first when needed. NULL is allowed. */
void dr_sched_free(dr_sched *s);

/*
 * The most recent due time at or before now and at most window seconds
 * old (*out; 0 and *found false when there is none): the missed-run rule's
 * candidate. Errors as dr_cron_next_tz().
 */
struct dr_cron;
struct dr_tz;
int dr_sched_last_due(const struct dr_cron *c, const struct dr_tz *tz, int64_t now,
		      int64_t window, int64_t *out, bool *found);

/* The claim key component for a due time: "20261125T160000Z". */
void dr_sched_stamp(int64_t t, char *buf, size_t n);

#endif
