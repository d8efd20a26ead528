/*
 * job_int.h - what job.c and job_status.c share: the journal replay into a
 * status document, and the control file.
 */
#ifndef DR_EXEC_JOB_INT_H
#define DR_EXEC_JOB_INT_H

#include "exec/job.h"
#include "journal/journal.h"

/* Store key of a job's control file: "jobs/<id>/control". */
void dr_job__control_key(const char *job_id, dr_strbuf *out);

/*
 * Replay job_id's journal into a status document (see dr_job_status()),
 * with the executor's own fields too: per step "op_state" (none, intent,
 * accepted, finished), "intent_pt", "crid", "done_ops", "params"; per
 * job "control_offset", "cancel_requested", "digest", "nsteps". info (may
 * be NULL) gets the replay's result (torn tail).
 */
int dr_job__replay(dr_store *s, const char *job_id, json_t **out,
		   dr_journal_replay_info *info);

/* Apply one record to a status document (exposed for replay only). */
void dr_job__apply(json_t *doc, const char *type, json_t *rec);

/* "$USER@host", in buf. */
void dr_job__whoami(char *buf, size_t n);

/* Append one JSON line to a job's control file (retrying size races). */
int dr_job__control_append(dr_store *s, const char *job_id, json_t *req);

#endif
