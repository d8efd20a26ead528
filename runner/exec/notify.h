/*
 * notify.h - webhook notifications of job events (docs/notifications.md).
 *
 * The executor hands every event it emits (exec/job.h) to
 * dr_notify_job_event(); the notifier picks the ones webhooks subscribe to
 * (job-started, job-resumed, gate-waiting, manual-waiting, step-failed,
 * job-finished, job-parked), builds one versioned JSON payload per event
 * and POSTs it to each subscribed webhook through its own dr_http client
 * on the job's loop. Nothing here blocks the loop and nothing here can fail
 * the job: a delivery's outcome is only logged.
 *
 * Delivery, per webhook and event: attempt 1 at once; on a 5xx, 429, a
 * timeout or a connection error, retry after an exponential backoff with
 * jitter (Retry-After, when the receiver sends one, is honoured up to the
 * cap), at most `attempts` attempts and max_total_ms of real time; any
 * other status (2xx delivered, 3xx/4xx rejected) ends it. Every outcome is
 * one log record (type "notify"): delivered, rejected, gave-up.
 *
 * Signing: with secretEnv, the secret is read from that environment
 * variable once, at dr_notify_new(), and kept only in memory (cleansed at
 * free). Each request carries X-Drplan-Signature: sha256=HEX, the
 * HMAC-SHA256 of the exact body bytes. The secret never goes into a
 * payload, a log record or an error message. A secretEnv that is not set
 * disables that webhook (a warning), rather than sending unsigned.
 *
 * Time: backoff delays are loop timers (so a virtual clock skips them);
 * the overall bound and the grace at the end are real (monotonic) time,
 * because the network is real.
 *
 * Ownership: the notifier copies what it needs from the webhooks and the
 * options (strings included) and owns its HTTP client and deliveries. The
 * loop must outlive it.
 */
#ifndef DR_EXEC_NOTIFY_H
#define DR_EXEC_NOTIFY_H

#include "exec/loop.h"
#include "plan/plan.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The payload's "schema" field. */
#define DR_NOTIFY_SCHEMA "drplan.notification/v1"

typedef struct dr_notify dr_notify;

/*
 * Where outcomes go: type is "notify" (a delivery's outcome: webhook,
 * event, id, result "delivered" | "rejected" | "gave-up", attempts,
 * status?, error?, message) or "warning" (message). rec is stolen.
 */
typedef void (*dr_notify_log_fn)(void *ctx, const char *type, json_t *rec);

typedef struct dr_notify_opts {
	dr_loop *loop;
	const char *job_id;
	const char *plan;
	const char *operation;
	bool unattended;
	uint64_t backoff_ms;     /* first retry delay (loop ms); 0: 1000 */
	uint64_t max_backoff_ms; /* cap of one delay; 0: 60000 */
	uint64_t max_total_ms;   /* real ms from the event to giving up; 0: 15 min */
	dr_notify_log_fn log;    /* may be NULL */
	void *log_ctx;
	/* Environment lookup for secretEnv; NULL: getenv. */
	const char *(*getenv_fn)(const char *name);
} dr_notify_opts;

/*
 * A notifier for the n webhooks of a plan. *out is NULL (and 0 returned)
 * when there is nothing to notify (no webhook, or none usable). DR_EIO when
 * the HTTP client cannot start.
 */
int dr_notify_new(const dr_webhook *hooks, size_t n, const dr_notify_opts *o,
		  dr_notify **out);

/*
 * One executor event (exec/job.h shapes; borrowed). Events no webhook
 * subscribes to are ignored; "step-state" counts when it goes to failed;
 * "job-started" with resumed is job-resumed; "job-detached" and
 * "job-interrupted" (the runner stopped on a signal) are job-parked.
 * NULL nt is allowed.
 */
void dr_notify_job_event(dr_notify *nt, const json_t *ev);

/* Deliveries not yet finished (in flight or waiting to retry). */
size_t dr_notify_pending(const dr_notify *nt);

/*
 * Run the loop until every delivery has finished or grace_ms of real time
 * have passed; then give up on the rest ("gave-up", "the runner stopped
 * waiting"). Returns early when the loop is stopped (a signal).
 */
void dr_notify_drain(dr_notify *nt, uint64_t grace_ms);

/* Cancel everything (no log records) and free. NULL is allowed. */
void dr_notify_free(dr_notify *nt);

/* "sha256=" and the lowercase hex HMAC-SHA256 of body under key. */
int dr_notify_sign(const char *key, size_t key_len, const char *body, size_t body_len,
		   char out[7 + 64 + 1]);

/*
 * The delay before attempt (2, 3, ...): base * 2^(attempt-2), capped at
 * cap, then "equal jitter": half of it plus rnd modulo the other half
 * (+1), so retries of many runners spread out but never come at once.
 */
uint64_t dr_notify_backoff(unsigned attempt, uint64_t base, uint64_t cap, uint64_t rnd);

#endif
