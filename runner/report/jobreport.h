/*
 * jobreport.h - drill and job reports measured from a job's journal.
 *
 * dr_jobreport_build() replays jobs/<id>/journal (journal/journal.h) and
 * builds a report document: measured RTO per machine, per group and for the
 * job, achieved RPO per machine and group, hook results, gate approvals,
 * warnings, drill cleanup verification and the verdict against the plan's
 * drill objectives. Every time in it comes from the journal's provider clock
 * ("pt"), never from "now", so the same journal always gives the same bytes.
 * docs/reports.md defines the figures and the JSON shape.
 *
 * Definitions (docs/reports.md):
 *   T0          pt of the first step the job started (first step record
 *               with to == "running"); the job header's pt when none.
 *   machine RTO pt at which the machine's main-phase provider operation
 *               (test-failover, unplanned-failover, planned-failover)
 *               succeeded, or, when later, at which its last machine-level
 *               post hook (<group>/<machine>/post/...) succeeded, minus T0.
 *               Absent when the operation did not succeed.
 *   group RTO   pt of the group's main-phase end barrier (<group>/end)
 *               succeeding (all machines and group post hooks done) minus T0.
 *   job RTO     the largest group RTO (equals job-end's rto_ms).
 *   RPO         op_start - point.time of the machine's successful
 *               failover's `finished` record (seconds, rounded down);
 *               group and job RPO: the worst (largest) of their machines.
 */
#ifndef DR_JOBREPORT_H
#define DR_JOBREPORT_H

#include "core/strbuf.h"
#include "journal/store.h"

#include <jansson.h>
#include <stdint.h>

typedef enum dr_jobreport_format {
	DR_JOBREPORT_TEXT,
	DR_JOBREPORT_JSON,
	DR_JOBREPORT_JUNIT,
	DR_JOBREPORT_MARKDOWN,
	DR_JOBREPORT_HTML,
} dr_jobreport_format;

/* "text", "json", "junit", "markdown" (or "md"), "html"; 0 or DR_EINVAL. */
int dr_jobreport_format_parse(const char *s, dr_jobreport_format *out);

/* The plan's objectives; 0 = none. Usually plan->drill.rto.ms/.rpo.ms. */
typedef struct dr_jobreport_objectives {
	uint64_t rto_ms;
	uint64_t rpo_ms;
} dr_jobreport_objectives;

/*
 * Replay job_id's journal in s and build the report document (caller owns
 * *out; shape in docs/reports.md). obj may be NULL (no objectives: nothing
 * to pass or fail but the job's own status and, for drills, the cleanup).
 * DR_ENOTFOUND (no such job), DR_EINVAL (corrupt journal or not a job).
 */
int dr_jobreport_build(dr_store *s, const char *job_id,
		       const dr_jobreport_objectives *obj, json_t **out);

/* Same over journal bytes in memory (name for messages). */
int dr_jobreport_build_buf(const char *name, const char *buf, size_t len,
			   const dr_jobreport_objectives *obj, json_t **out);

/* Render a document from dr_jobreport_build() into out (appended). */
int dr_jobreport_render(const json_t *doc, dr_jobreport_format fmt, dr_strbuf *out);

/*
 * History of a plan's drills (operation "drill") in s: one entry per job
 * whose header names plan_name, newest first (by T0, then job id), each
 * with job, status, started, rto_ms, rpo_s and pass/fail per objective:
 *   {"plan", "objectives": {...}, "drills": [{...}]}
 * Unreadable journals are listed with "error". Caller owns *out.
 */
int dr_jobreport_history(dr_store *s, const char *plan_name,
			 const dr_jobreport_objectives *obj, json_t **out);

/* Render a history document: text, json or markdown (others: DR_EINVAL). */
int dr_jobreport_history_render(const json_t *doc, dr_jobreport_format fmt,
				dr_strbuf *out);

#endif
