/*
 * job.h - run a compiled step graph as a durable job.
 *
 * A job executes every step of a dr_graph against a provider on one event
 * loop, and writes everything it decides into the job's journal
 * (journal/journal.h) before it acts on it, so that a job whose runner died
 * at any instant can be resumed by another process without issuing any
 * provider operation twice. docs/execution.md is the long form of the
 * rules below: the step states and their legality table, the journal record
 * types, the resume and reconciliation rules, the failure policy, gates and
 * cancel.
 *
 * Step states: pending -> ready -> running -> succeeded | failed, with
 * waiting (a gate or a manual step waiting for a person), skipped and
 * cancelled. Every change goes through one transition function that checks
 * a legality table (an illegal change is a bug: assert) and journals the
 * change before acting on it.
 *
 * Provider operations (test failover, failover, commit, reprotect,
 * failback, cleanup, apply recovery point) follow one protocol:
 *   get_item (the item must offer the operation in allowedOperations, else
 *   the step fails, or succeeds when the item is already where the step
 *   would take it) -> `intent` record (fsynced) -> start() -> `accepted`
 *   record with the operation id -> poll until terminal -> `finished`
 *   record (state, errors, recovery point, RPO, timings).
 * An intent without an operation id (a crash, or a reply lost in transit)
 * is reconciled by asking the provider, never by sending again blindly:
 * see dr_job_resume(). With the azure provider a test failover or failover
 * first brings the item's target settings in line with the plan
 * (dr_azure_update_target(), journaled as `target` records, once per
 * attempt; idempotent, so an interrupted update is simply done again).
 *
 * Failure policy (fail-stop, like an ASR recovery plan): when a critical
 * step fails (a critical machine's operation, a hook with onFailure: group,
 * a gate, the drill's cleanup check) the job starts no new step anywhere;
 * steps already running finish and are journaled; then the job ends
 * "failed". A non-critical failure (an optional machine, a hook with
 * onFailure: warn) is a warning: the machine's own later steps are skipped,
 * everything else goes on. `retry STEP` and `skip STEP` continue a failed
 * job without running again what succeeded.
 *
 * Threads: none. Nothing here blocks the loop except journal appends (an
 * fsync each) and simulator state saves, which are the point of the design.
 *
 * Ownership: the job borrows the plan, graph, store, provider and loop
 * (they must outlive it) and owns its journal handle and the plan lock.
 */
#ifndef DR_EXEC_JOB_H
#define DR_EXEC_JOB_H

#include "exec/loop.h"
#include "exec/net.h"
#include "graph/graph.h"
#include "journal/store.h"
#include "plan/plan.h"
#include "provider/provider.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum dr_step_state {
	DR_SS_PENDING,   /* waiting for its dependencies */
	DR_SS_READY,     /* dependencies done; waiting for a concurrency slot */
	DR_SS_RUNNING,   /* a provider operation, hook or check is under way */
	DR_SS_WAITING,   /* a gate or manual step waits for a person */
	DR_SS_SUCCEEDED,
	DR_SS_FAILED,
	DR_SS_SKIPPED,   /* by `skip`, or after its machine's optional failure */
	DR_SS_CANCELLED, /* by `cancel` while running or waiting */
	DR_SS__COUNT
} dr_step_state;

/* "pending", "ready", "running", "waiting", "succeeded", "failed",
 * "skipped", "cancelled". */
const char *dr_step_state_name(dr_step_state s);
/* Parse a name above; 0 or DR_EINVAL. */
int dr_step_state_parse(const char *s, dr_step_state *out);
/* 1 when the transition from -> to is legal (docs/execution.md). */
int dr_step_transition_legal(dr_step_state from, dr_step_state to);

/* How a job ended, or where it stands. */
typedef enum dr_job_status_code {
	DR_JOB_RUNNING,   /* steps in flight (or an interrupted runner) */
	DR_JOB_WAITING,   /* only gates / manual steps left, waiting for people */
	DR_JOB_SUCCEEDED, /* every step succeeded or was skipped (warnings allowed) */
	DR_JOB_FAILED,    /* a critical step failed; retry or skip to continue */
	DR_JOB_CANCELLED, /* cancelled; in-flight failovers were waited for */
	DR_JOB_REJECTED,  /* a gate was rejected: failed over, not committed */
	DR_JOB__STATUS_COUNT
} dr_job_status_code;

/* "running", "waiting", "succeeded", "failed", "cancelled", "rejected". */
const char *dr_job_status_name(dr_job_status_code s);

/*
 * Observer of the job's progress; event is borrowed. Every event is an
 * object with "event" and "time" (RFC 3339 UTC) plus:
 *   job-started        job, plan, operation, steps, resumed (bool)
 *   step-state         step, from, to, attempt, message? (why)
 *   gate-waiting       step, gate, approvals (needed), approved (so far),
 *                      timeout_ms?, checks
 *   manual-waiting     step, instruction
 *   point-of-no-return step, message (before the first commit is sent)
 *   warning            message, step?
 *   cancel-waiting     step, message (a failover that cannot be cancelled)
 *   control            request, result ("accepted"/"refused"), message
 *   job-detached       message (waiting for people; see detach_when_waiting)
 *   notification       webhook, event, id, result, attempts, status?,
 *                      error?, message (a webhook delivery ended;
 *                      exec/notify.h; may come after job-finished)
 *   job-finished       status, duration_ms, rto_ms, rpo (object: machine ->
 *                      seconds), warnings, message?
 */
typedef void (*dr_job_event_fn)(void *ctx, const json_t *event);

/* Default lease of the plan lock (Azure's longest finite blob lease). */
#define DR_JOB_LOCK_TTL_MS 60000u

typedef struct dr_job_opts {
	dr_store *store;
	dr_provider *provider;
	dr_loop *loop;
	/* Machines at once per group; 0: the graph's per-group limit. */
	unsigned concurrency;
	dr_job_event_fn on_event; /* may be NULL */
	void *ctx;
	/* Who starts/resumes (journal and lock holder); NULL: $USER@host. */
	const char *by;
	/* Return from dr_job_run() with DR_EAGAIN when nothing is left but
	 * gates and manual steps waiting for people (`drplan failover
	 * --detach`); otherwise keep polling the control file. */
	bool detach_when_waiting;
	/* Loop ms between reads of jobs/<id>/control; 0: 1000. */
	uint64_t control_poll_ms;
	/* Upper bound on a provider poll delay in loop ms; 0: 30000. */
	uint64_t max_poll_ms;
	/* Loop ms between checks of holds and gate timeouts; 0: 1000. */
	uint64_t tick_ms;
	/* Save the simulator's state (provider "sim") to sim_state_key after
	 * every accepted operation and every completion, before journaling
	 * it. */
	bool persist_sim;
	const char *sim_state_key; /* NULL: DR_SIM_STATE_KEY */
	/* Network for hooks' http/tcp/dns requests (exec/net.h); NULL: the
	 * job makes its own on the loop when the first hook runs. */
	dr_net *net;
	/* Lua: directory for require() (NULL: the nearest of the plan's
	 * directory and its ancestors holding lua/drplan/, else <plan
	 * dir>/lua; exec/hookctx.h); hook file paths are relative to the
	 * plan's directory. */
	const char *lua_dir;
	/*
	 * Lease of the plan (and simulator state) locks in ms; 0:
	 * $DRPLAN_LOCK_TTL (journal/store.h) when set, else
	 * DR_JOB_LOCK_TTL_MS. The job renews them every lock_ttl_ms / 3 of
	 * loop time from dr_job_run() / dr_job_launch() on (not while
	 * detached). When a renewal says the lock is lost (DR_ECONFLICT, or
	 * no renewal has worked for lock_ttl_ms) the job starts no new step
	 * and says so (a journaled "warning"); steps in flight finish and
	 * are journaled; then dr_job_run() (or dr_job_check()) returns
	 * DR_ECONFLICT, the job left resumable by whoever takes the lock
	 * next.
	 */
	unsigned lock_ttl_ms;
	/*
	 * An unattended drill (started by the scheduler or `drplan drill
	 * --unattended`): steps that would wait for a person follow the
	 * plan's drill.unattended policy instead (docs/execution.md). Kept
	 * in the journal header, so a resumed job stays unattended. Ignored
	 * for operations other than drill: their gates always wait.
	 */
	bool unattended;
	/* Webhooks (exec/notify.h): real ms that deliveries still pending
	 * when dr_job_run() returns may take; 0: 10000. */
	uint64_t notify_grace_ms;
	/* Tests: first retry delay of a webhook delivery in loop ms; 0: 1000. */
	uint64_t notify_backoff_ms;
	/* Extra fields for the journal header (borrowed; e.g. plan_digest). */
	json_t *header;
	/*
	 * Tests only: called at named instants ("before-intent",
	 * "after-start-accepted", "after-accepted", "before-finished",
	 * "after-step-state", "before-target", "before-target-result",
	 * "after-target"); a non-zero
	 * return makes the job stop dead
	 * there as if the process had been killed: nothing more is written
	 * and dr_job_run() returns DR_ECANCELLED.
	 */
	int (*crash_point)(void *ctx, const char *where, const char *step);
	void *crash_ctx;
} dr_job_opts;

typedef struct dr_job dr_job;

/*
 * Start a new job for graph g (compiled from plan p): takes the lock named
 * after the plan (DR_ECONFLICT with "lock 'erp' is held by job ..." when
 * another runner holds it), creates the journal jobs/<id>/journal with a
 * header (plan, operation, step count, graph digest), loads the simulator
 * state when persist_sim is set. job_id NULL: a new id from
 * dr_job_id_new(). Nothing runs until dr_job_run().
 */
int dr_job_start(const dr_plan *p, const dr_graph *g, const dr_job_opts *o,
		 const char *job_id, dr_job **out);

/*
 * Resume job_id: takes the lock, replays the journal (a torn tail is
 * reported as a warning event and dropped; corruption is DR_EINVAL naming
 * the record), checks that g is the graph the job was started with (same
 * step ids: DR_EINVAL "the plan changed since the job started" otherwise)
 * and rebuilds every step's state. Then, when run:
 *   - succeeded / failed / skipped / cancelled steps stay as they are;
 *   - a provider step with an operation id is polled, never started again;
 *   - a provider step with an intent but no operation id is reconciled:
 *     find_jobs(item, since the intent) -> an operation of that kind is
 *     adopted (`adopted` record); else get_item -> the item already is
 *     where the step takes it: succeeded (`reconciled` already-done); else
 *     when the item offers the operation and no job was found, nothing was
 *     started: it is started (`reconciled` not-started, then a new
 *     intent); anything else fails the step with the provider's view;
 *   - running hooks run again from the start (a new attempt);
 *   - gates and manual steps keep waiting, with their approvals;
 *   - control requests not yet handled are read.
 * A finished job can be resumed only to read its status (run returns at
 * once) unless a retry/skip request is pending in its control file.
 * DR_ENOTFOUND: no such job.
 */
int dr_job_resume(const char *job_id, const dr_plan *p, const dr_graph *g,
		  const dr_job_opts *o, dr_job **out);

/*
 * Drive the loop until the job ends (0; see dr_job_status_now() for how),
 * or it waits for people with detach_when_waiting (DR_EAGAIN), or it must
 * stop (DR_EIO and friends: the journal or store failed; the job is left
 * as a crash would leave it and can be resumed; provider calls may still
 * be in flight: free the provider before the job). DR_ECONFLICT when the
 * plan lock was lost (see lock_ttl_ms). DR_ECANCELLED when a crash_point
 * fired. May be called again after DR_EAGAIN.
 */
int dr_job_run(dr_job *j);

/*
 * For a caller that drives the loop itself and runs several jobs on it
 * (the scheduler, sched/scheduler.h): dr_job_launch() does what
 * dr_job_run() does before it starts turning the loop (the job-started
 * event, re-driving steps, the control-file timer) and returns at once;
 * the job then moves whenever the loop runs. dr_job_check() tells after
 * any loop iteration where it is: 0 still running or waiting, 1 ended
 * (dr_job_status_now() says how), or the error dr_job_run() would have
 * returned (the job is left resumable). To stop a launched job early, free
 * the provider, then the job: the journal is consistent at every instant.
 * detach_when_waiting is ignored here. A job that ended with webhook
 * deliveries still under way reports 0 until they finish or their grace
 * (notify_grace_ms, real time) passes, so the caller's loop carries them.
 */
int dr_job_launch(dr_job *j);
int dr_job_check(dr_job *j);

/* The job's id, and where it stands now. */
const char *dr_job_id(const dr_job *j);
dr_job_status_code dr_job_status_now(const dr_job *j);
/* State and attempt of step i of the graph. */
dr_step_state dr_job_step_state(const dr_job *j, size_t i);
unsigned dr_job_step_attempt(const dr_job *j, size_t i);

/*
 * Free the job, release the lock and close the journal. Cancels the job's
 * own timers. If dr_job_run() returned with provider calls in flight, free
 * the provider first (its callbacks would find the job gone). NULL is
 * allowed.
 */
void dr_job_free(dr_job *j);

/*
 * From any process: append a request to jobs/<id>/control, which the
 * running job reads every control_poll_ms (or the next resume reads).
 * request is an object {"action": A, ...} with A one of:
 *   approve  {"gate"?, "by"?, "comment"?}   record an approval
 *   reject   {"gate"?, "by"?, "comment"?}   end the job at the gate
 *   cancel   {"by"?, "reason"?}             start no new steps; wait for
 *                                           failovers in flight; end cancelled
 *   retry    {"step", "by"?}                run a failed/cancelled step again
 *   skip     {"step", "by"?}                mark a failed/pending step skipped
 *   continue {"step", "by"?}                a manual step is done
 *   change-recovery-point {"machine", "point", "by"?}  while waiting at the
 *            commit gate: apply another recovery point (journaled like any
 *            provider operation); point is latest, latest-processed,
 *            latest-app-consistent or a recovery point id
 * "by" defaults to $USER@host. The request is checked against the job's
 * journal first and refused with DR_EINVAL and a clear message when the
 * job is not in a state that accepts it ("job X is not waiting at a gate:
 * gate/commit is pending"), DR_ENOTFOUND for an unknown job or step. The
 * running job checks again when it reads the request (the state may have
 * moved) and journals what it did with it.
 */
int dr_job_control(dr_store *s, const char *job_id, const json_t *request);

/*
 * Replay job_id's journal into a status document for `drplan job show`:
 *   {"job", "plan", "operation", "status", "started", "ended"?,
 *    "duration_ms"?, "steps_total", "counts": {state: n},
 *    "steps": {id: {"state", "attempt", "kind", "machine"?, "op"?,
 *                   "op_id"?, "op_state"?, "started"?, "ended"?,
 *                   "message"?, "errors"?, "rpo_s"?, "point"?}},
 *    "gates": {id: {"approvals": [{"by","time","comment"}], ...}},
 *    "warnings": [...], "rto_ms"?, "rpo": {machine: s}, "torn_tail"?}
 * Steps that never left pending are counted, not listed. Times are the
 * provider's clock in Unix ms (started/ended) next to the journal's own
 * RFC 3339 record times. DR_ENOTFOUND, DR_EINVAL (corrupt journal).
 */
int dr_job_status(dr_store *s, const char *job_id, json_t **out);

#endif
