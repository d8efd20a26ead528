/*
 * progress.h - show a running job: a live table, plain lines or JSON lines.
 *
 * The renderer is an observer of the executor (exec/job.h): pass every
 * event given to dr_job_opts.on_event to dr_progress_event(). It never
 * blocks the loop: it writes to its FILE and keeps a little state per step.
 *
 * Modes:
 *   DR_PROGRESS_TABLE  a terminal: a table of groups and machines with each
 *                      one's current step, state and elapsed time, redrawn
 *                      in place (ANSI cursor up + clear line) at most
 *                      DR_PROGRESS_REDRAW_MS apart, from a loop timer so
 *                      elapsed times move while nothing happens. Events
 *                      that deserve a line of their own (point of no
 *                      return, warnings, manual steps, the end) are printed
 *                      above the table and stay in the scrollback.
 *   DR_PROGRESS_LINES  anything else: one line per event, e.g.
 *                      "13:05:02 data/sql01/failover running (attempt 1)".
 *                      Barrier steps and pending -> ready are left out.
 *   DR_PROGRESS_JSON   each event as one compact JSON object per line.
 *
 * Times in lines are the event's wall-clock time (UTC, HH:MM:SS); elapsed
 * times in the table are wall-clock time of this process.
 *
 * Ownership: the renderer borrows out, the plan, the graph and the loop
 * (they must outlive it). In table mode it keeps one timer on the loop,
 * cancelled by dr_progress_free().
 */
#ifndef DR_PROGRESS_H
#define DR_PROGRESS_H

#include "exec/loop.h"
#include "graph/graph.h"
#include "plan/plan.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#define DR_PROGRESS_REDRAW_MS 200

typedef enum dr_progress_mode {
	DR_PROGRESS_TABLE,
	DR_PROGRESS_LINES,
	DR_PROGRESS_JSON,
} dr_progress_mode;

typedef struct dr_progress dr_progress;

/*
 * The mode for out: JSON when json, else TABLE when out is a terminal and
 * $TERM is set and not "dumb", else LINES.
 */
dr_progress_mode dr_progress_pick_mode(FILE *out, bool json);

/* A renderer; loop may be NULL (no timer: redraws happen on events only). */
dr_progress *dr_progress_new(FILE *out, dr_progress_mode mode, const dr_plan *p,
			     const dr_graph *g, dr_loop *loop);

/* Feed one executor event (borrowed). */
void dr_progress_event(dr_progress *pr, const json_t *ev);

/* An event callback for dr_job_opts.on_event with ctx = the renderer. */
void dr_progress_on_event(void *ctx, const json_t *ev);

/*
 * Print a line of text above the table (or as is): for the CLI's own
 * messages while the job runs. line has no trailing newline.
 */
void dr_progress_note(dr_progress *pr, const char *line);

/* Draw the table a last time (table mode) and stop the timer. */
void dr_progress_finish(dr_progress *pr);

/* The table as it would be drawn now, without ANSI sequences (tests). */
void dr_progress_table(dr_progress *pr, unsigned max_rows, unsigned cols,
		       FILE *out);

void dr_progress_free(dr_progress *pr);

#endif
