/*
 * journal.h - the append-only, checksummed event log of one job.
 *
 * A job's journal is the log object "jobs/<job-id>/journal" in a state store.
 * Each record is one line:
 *
 *     <seq> <crc> <json>\n
 *
 * seq is the record number in decimal, from 1 with no gaps; crc is the
 * CRC-32C (crc32c.h) of the bytes "<seq> <json>" as 8 lower-case hex digits;
 * json is one compact JSON object (no newline inside) whose first keys are
 * "seq" (equal to the line's seq), "type" and "time" (RFC 3339 UTC with
 * milliseconds, "2026-11-25T13:03:55.123Z"), followed by the record's fields
 * in the order they were added. Record 1 is the job header, type "job".
 *
 * Each append is durable (fsynced through the store) before it returns, so
 * the executor writes an intent record, waits for dr_journal_append() to
 * return 0, and only then acts.
 *
 * Torn tail rule (replay): a crash mid-append can leave the last line
 * without its newline, or complete but failing its checksum or framing. That
 * last line is a torn tail: reported in dr_journal_replay_info.torn*, never given
 * to the callback, and all records before it are good. A bad record followed
 * by anything is corruption: replay fails with DR_EINVAL naming the record
 * number and byte offset. Nothing is ever skipped silently.
 *
 * Appending after a torn tail needs DR_JOURNAL_TRUNCATE_TAIL in
 * dr_journal_open(), so the caller has seen the report first. The tail is
 * removed by dr_store_truncate() (ftruncate + fsync, guarded by the expected
 * size): a crash during it leaves the tail or not, both fine to replay.
 *
 * When the store reports DR_ECONFLICT, append checks whether the object now
 * ends with exactly this record at the expected position (a retried append
 * whose first try landed) and then counts it as written.
 *
 * After any failed append the journal handle is poisoned (every later append
 * fails with DR_EIO): the record may or may not be on disk, and the only safe
 * way on is to close, reopen and replay (like PostgreSQL after a failed
 * fsync, we never retry on the same handle).
 */
#ifndef DR_JOURNAL_H
#define DR_JOURNAL_H

#include "journal/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Longest record line accepted (append and replay). */
#define DR_JOURNAL_RECORD_MAX (1u << 20)
/* Longest job id; see dr_job_id_valid(). */
#define DR_JOB_ID_MAX 128

typedef struct dr_journal dr_journal;

/* What replay found. */
typedef struct dr_journal_replay_info {
	uint64_t records;     /* good records (all passed to the callback) */
	uint64_t last_seq;    /* seq of the last good record, 0 when none */
	uint64_t good_size;   /* bytes of the good prefix */
	uint64_t total_size;  /* bytes in the object */
	int torn;             /* 1 when a torn tail follows the good prefix */
	uint64_t torn_offset; /* == good_size */
	uint64_t torn_bytes;
	char torn_reason[96]; /* "no newline at end", "checksum mismatch", ... */
} dr_journal_replay_info;

/*
 * Called for each good record in order. record is borrowed (valid during the
 * call; json_incref to keep it) and includes seq, type and time. Non-zero
 * stops replay and is returned.
 */
typedef int (*dr_journal_record_fn)(void *ctx, uint64_t seq, const char *type,
				    json_t *record);

enum {
	/* dr_journal_open(): drop a torn tail (after the caller reported it). */
	DR_JOURNAL_TRUNCATE_TAIL = 1u << 0,
};

/* Store key of a job's journal: "jobs/<job_id>/journal". out is reset. */
void dr_journal_key(const char *job_id, dr_strbuf *out);

/*
 * Start the journal of a new job with its header record (type "job").
 * header (borrowed, may be NULL) carries plan, plan_digest, operation and
 * whatever else; "job" (the id), "host", "pid" and "drplan_version" are
 * added when absent. DR_ECONFLICT when the job already exists.
 */
int dr_journal_create(dr_store *s, const char *job_id, json_t *header,
		      dr_journal **out);

/*
 * Open an existing journal for appending. It is replayed first (info, if not
 * NULL, gets the result). With a torn tail and no DR_JOURNAL_TRUNCATE_TAIL:
 * DR_EINVAL and a message saying so (info->torn is set). DR_ENOTFOUND when
 * the job has no journal.
 */
int dr_journal_open(dr_store *s, const char *job_id, unsigned flags,
		    dr_journal **out, dr_journal_replay_info *info);

/*
 * Append a record of type (a non-empty string) with fields (a JSON object or
 * NULL; must not contain seq, type or time). dr_journal_append() borrows
 * fields; dr_journal_append_new() steals it (also on failure), for
 * dr_journal_append_new(j, "x", json_pack(...), NULL). Durable on return 0;
 * *seq_out (if not NULL) gets the record's seq.
 */
int dr_journal_append(dr_journal *j, const char *type, json_t *fields,
		      uint64_t *seq_out);
int dr_journal_append_new(dr_journal *j, const char *type, json_t *fields,
			  uint64_t *seq_out);

/*
 * Group commit. dr_journal_append_lazy() gives the record its seq at once
 * but keeps it in memory; the next dr_journal_append() or
 * dr_journal_flush() writes every pending record (and its own) in one
 * durable store append, in seq order. So a durable record implies that
 * every record before it is durable too, and a crash loses at most a tail
 * of lazy records, never one in the middle. Use it for records whose loss
 * is the same as a crash just before them (the caller must not act on a
 * lazy record outside the process before a flush). Pending records past
 * 1 MiB are written at once. Fields are borrowed.
 */
int dr_journal_append_lazy(dr_journal *j, const char *type, json_t *fields,
			   uint64_t *seq_out);
/* Write the pending records (one durable append); 0 when there are none. */
int dr_journal_flush(dr_journal *j);
/* Lazy records not yet written. */
size_t dr_journal_pending(const dr_journal *j);

/* Seq of the last record written, pending or replayed. */
uint64_t dr_journal_last_seq(const dr_journal *j);
const char *dr_journal_job_id(const dr_journal *j);

/* Free the handle. Durable appends are on disk; pending lazy records are
 * dropped, as a crash would (flush first). NULL is allowed. */
void dr_journal_close(dr_journal *j);

/*
 * Read and verify the whole journal of job_id, calling fn (may be NULL) for
 * every good record. Returns 0 with a torn tail reported in info, DR_EINVAL
 * on corruption before the tail, DR_ENOTFOUND, or fn's non-zero value.
 */
int dr_journal_replay(dr_store *s, const char *job_id, dr_journal_record_fn fn,
		      void *ctx, dr_journal_replay_info *info);

/* Same, over journal bytes already in memory (name is used in messages). */
int dr_journal_replay_buf(const char *name, const char *buf, size_t len,
			  dr_journal_record_fn fn, void *ctx, dr_journal_replay_info *info);

/*
 * Format one record line into out (appended) for seq; used by append and by
 * tests. record must be an object whose first key is "seq".
 */
int dr_journal_format(uint64_t seq, json_t *record, dr_strbuf *out);

/*
 * A new job id "<plan>-<op>-<YYYYMMDDTHHMMSSZ>-<4 hex>" (UTC; random suffix
 * from getrandom). Characters of plan and op outside [A-Za-z0-9_] become
 * '-', and each is cut to 40 bytes. DR_ELIMIT when n is too small.
 */
int dr_job_id_new(const char *plan, const char *op, char *buf, size_t n);

/*
 * 1 when id can name a job: 1..DR_JOB_ID_MAX bytes of [A-Za-z0-9._-], not
 * starting with '.' or '-', no "..". Ids come from the command line, so
 * this is what keeps them inside jobs/.
 */
int dr_job_id_valid(const char *id);

/*
 * Called once per job under jobs/, in job id order. header is the job's
 * first record (borrowed), or NULL when it cannot be read; then err is the
 * DR_E* code and dr_error_msg() says why. Non-zero stops.
 */
typedef int (*dr_jobs_list_fn)(void *ctx, const char *job_id, json_t *header, int err);

int dr_jobs_list(dr_store *s, dr_jobs_list_fn fn, void *ctx);

#endif
