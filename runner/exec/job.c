/*
 * job.c - the executor: one event loop drives every step of a step graph,
 * and every decision is journaled before it is acted on.
 *
 * Reading guide: set_state() is the only place a step changes state;
 * schedule() starts ready steps within the concurrency limits; the
 * provider protocol is op_begin -> precheck -> send -> on_start -> poll ->
 * on_poll, with reconcile() for intents whose outcome is unknown; hooks,
 * gates, manual steps, holds and the cleanup check have their own small
 * drivers; control requests arrive through read_control(). check_done()
 * decides when the job has ended. docs/execution.md has the rules.
 */
#include "exec/job_int.h"
#include "exec/hookctx.h"
#include "exec/notify.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/strbuf.h"
#include "hooks/sandbox.h"
#include "hooks/serve.h"
#include "gate/approval.h"
#include "journal/crc32c.h"
#include "provider/azure.h"
#include "provider/sim.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- states ------------------------------------------------------------ */

static const char *const state_names[DR_SS__COUNT] = {
	"pending", "ready", "running", "waiting",
	"succeeded", "failed", "skipped", "cancelled",
};

const char *dr_step_state_name(dr_step_state s)
{
	return (unsigned)s < DR_SS__COUNT ? state_names[s] : "?";
}

int dr_step_state_parse(const char *s, dr_step_state *out)
{
	for (int i = 0; s && i < DR_SS__COUNT; i++)
		if (!strcmp(s, state_names[i])) {
			*out = (dr_step_state)i;
			return 0;
		}
	return dr_error_set(DR_EINVAL, "unknown step state '%s'", s ? s : "");
}

#define P DR_SS_PENDING
#define R DR_SS_READY
#define U DR_SS_RUNNING
#define W DR_SS_WAITING
#define S DR_SS_SUCCEEDED
#define F DR_SS_FAILED
#define K DR_SS_SKIPPED
#define C DR_SS_CANCELLED
/*
 * legal[from] is the set of states a step may go to. Succeeded and skipped
 * are final; failed and cancelled go back to ready only by `retry`, and to
 * skipped by `skip`. pending -> skipped is the cascade after an optional
 * machine's failure; ready -> waiting is a manual step announcing itself.
 */
static const unsigned legal[DR_SS__COUNT] = {
	[P] = 1u << R | 1u << K | 1u << C,
	[R] = 1u << U | 1u << W | 1u << K | 1u << C,
	[U] = 1u << W | 1u << S | 1u << F | 1u << C,
	[W] = 1u << S | 1u << F | 1u << K | 1u << C,
	[S] = 0,
	[F] = 1u << R | 1u << K,
	[K] = 0,
	[C] = 1u << R | 1u << K,
};
#undef P
#undef R
#undef U
#undef W
#undef S
#undef F
#undef K
#undef C

int dr_step_transition_legal(dr_step_state from, dr_step_state to)
{
	return (unsigned)from < DR_SS__COUNT && (unsigned)to < DR_SS__COUNT &&
	       (legal[from] >> to & 1u);
}

static const char *const status_names[DR_JOB__STATUS_COUNT] = {
	"running", "waiting", "succeeded", "failed", "cancelled", "rejected",
};

const char *dr_job_status_name(dr_job_status_code s)
{
	return (unsigned)s < DR_JOB__STATUS_COUNT ? status_names[s] : "?";
}

static int status_parse(const char *s, dr_job_status_code *out)
{
	for (int i = 0; s && i < DR_JOB__STATUS_COUNT; i++)
		if (!strcmp(s, status_names[i])) {
			*out = (dr_job_status_code)i;
			return 0;
		}
	return DR_EINVAL;
}

/*
 * Names as plan.c gives them; local so the executor does not need the
 * loader linked in (the graph module does the same).
 */
static const char *op_name(dr_operation op)
{
	static const char *const n[DR_OP__COUNT] = {
		[DR_OP_DRILL] = "drill", [DR_OP_FAILOVER] = "failover",
		[DR_OP_COMMIT] = "commit", [DR_OP_REPROTECT] = "reprotect",
		[DR_OP_FAILBACK] = "failback",
	};

	return (unsigned)op < DR_OP__COUNT ? n[op] : "?";
}

static const char *dir_name(dr_direction d)
{
	switch (d) {
	case DR_DIR_TO_AZURE: return "to-azure";
	case DR_DIR_TO_ONPREM: return "to-onprem";
	case DR_DIR_ANY: return "any";
	}
	return "?";
}

static const char *rp_name(dr_rp_kind k)
{
	switch (k) {
	case DR_RP_LATEST: return "latest";
	case DR_RP_LATEST_PROCESSED: return "latest-processed";
	case DR_RP_LATEST_APP_CONSISTENT: return "latest-app-consistent";
	case DR_RP_CUSTOM: return "custom";
	}
	return "?";
}

/* ---- the job ----------------------------------------------------------- */

enum opstate { OP_NONE, OP_INTENT, OP_ACCEPTED, OP_FINISHED };

struct task;

struct xstep {
	uint8_t st;          /* dr_step_state */
	uint8_t opst;        /* enum opstate */
	bool nc_failed;      /* failed, but not critical: dependants go on */
	bool machine_lost;   /* skipped because its machine's operation failed */
	bool cancel_noted;   /* cancel-waiting already announced */
	bool target_open;    /* resumed: a target-settings update may have run */
	uint16_t attempt;
	uint16_t target_at;  /* attempt + 1 whose target settings are in line */
	uint32_t deps_left;
	int32_t chain;       /* index into chains, or -1 */
	int64_t start_pt;    /* provider time it started running/waiting */
	int64_t intent_pt;   /* provider time of the open intent */
	char *op_id;         /* accepted, not finished */
	char *crid;
	json_t *done_ops;    /* operation ids already finished for this step */
	struct task *task;   /* the async work in flight, or NULL */
};

struct chain {
	uint32_t gphase;
	uint32_t first, last;
	bool holding;        /* holds one of its group's slots */
};

struct gslot {
	unsigned limit, used;
	size_t *q;           /* ready first steps waiting for a slot (FIFO) */
	size_t qh, qn, qa;
};

/* Async work of one running step; the loop's callbacks get this. */
struct task {
	dr_job *j;
	size_t i;
	dr_timer *timer;
	dr_defer *defer;
	dr_hook *hook;
	dr_hook_serving *serving; /* the hook runs on the loop */
	const char **env;    /* NULL-terminated copy of the action's env: */
	dr_timer *deadline;
	int pending;         /* outstanding provider calls (checks) */
	int retries;
	dr_strbuf msg;       /* check failures */
};

struct dr_job {
	dr_job_opts o;
	/* Step id -> outputs of each hook that succeeded, for later hooks
	 * (drplan.context.outputs); rebuilt from the journal on resume. */
	json_t *outputs;
	const dr_plan *p;
	const dr_graph *g;
	char id[DR_JOB_ID_MAX + 1];
	char by[300];
	dr_journal *jr;
	dr_store_lock *lock, *sim_lock;
	char *sim_version;

	struct xstep *xs;
	size_t n;
	size_t *rev_off, *rev;      /* dependants, CSR */
	struct chain *chains;
	size_t nchains;
	struct gslot *gs;           /* per gphase */
	size_t *ready;              /* FIFO of ready steps to launch */
	size_t rh, rn, ra;
	json_t *ids;                /* step id -> index */
	size_t cnt[DR_SS__COUNT];

	bool halt;                  /* a critical step failed: start nothing */
	bool cancel;
	bool rejected;
	bool ended;
	bool pnr_done;              /* point-of-no-return announced */
	bool detached;
	bool resumed;
	bool sched_queued;
	int fatal;                  /* journal/store failure or crash point */
	dr_job_status_code status;
	dr_defer *sched_defer;
	dr_timer *ctl_timer;
	uint64_t ctl_offset;
	int64_t start_pt, main_end_pt;
	json_t *rpo;                /* machine -> seconds */
	json_t *gates;              /* gate id -> {approvals:[...], waiting_since} */
	uint8_t *lost;              /* per machine: an optional operation failed */
	size_t warnings;
	bool running_loop;
	bool freeing;
	struct pend *pend;          /* waiting for the simulator save */
	size_t npend, apend;
	dr_defer *flush_defer;
	dr_defer *jflush_defer;     /* writes the journal's lazy records */
	size_t *tosend;             /* steps whose intent waits for that write */
	size_t ntosend, atosend;
	char plan_digest[65];       /* for signed approvals; "" when unknown */
	dr_approval_seen seen[2];   /* signed approvals: commit, failback-commit */
	dr_step *extra;             /* change-recovery-point operations */
	size_t nx, ax;
	dr_arena *xa;               /* their ids and points */
	dr_net *net;                /* ours, when opts.net is NULL */
	dr_timer *renew_timer;      /* keeps the locks' leases */
	uint64_t renewed_ms;        /* loop time of the last good renewal */
	bool lock_lost;             /* start nothing; stop when idle */
	bool unattended;            /* an unattended drill (journal header) */
	bool aborting;              /* an unattended drill failed: clean up */
	char *abort_msg;            /* why, for the job's end */
	dr_notify *notify;          /* the plan's webhooks, or NULL */
	uint64_t notify_deadline;   /* dr_job_check(): end of the grace, real ms */
	dr_timer *notify_wake;
};

static void schedule(dr_job *j);
static void check_done(dr_job *j);
static void launch(dr_job *j, size_t i);
static void op_begin(dr_job *j, size_t i);
static void reconcile(dr_job *j, size_t i);
static void step_done(dr_job *j, size_t i, dr_step_state to, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void warn(dr_job *j, size_t i, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int jappend(dr_job *j, const char *type, json_t *fields);

/* ---- small helpers ----------------------------------------------------- */

static void rfc3339_now(char buf[32])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static int64_t pnow(dr_job *j)
{
	return dr_provider_now(j->o.provider);
}

/* Graph steps, then the recovery point changes added while a gate waits. */
static const dr_step *gstep(const dr_job *j, size_t i)
{
	return i < j->n ? &j->g->steps[i] : &j->extra[i - j->n];
}

/* The step kind of a recovery point change (not a graph kind). */
#define STEP_APPLY_RP ((dr_step_kind)DR_STEP__COUNT)

static const char *machine_of(const dr_job *j, size_t i)
{
	long m = gstep(j, i)->machine;

	return m >= 0 ? j->p->machines[m].name.v : NULL;
}

static bool is_critical(const dr_job *j, size_t i)
{
	return gstep(j, i)->flags & DR_STEP_F_CRITICAL;
}

/* The provider operation a step kind maps to, or -1. */
static int preq_of(dr_step_kind k)
{
	if (k == STEP_APPLY_RP)
		return DR_PREQ_APPLY_RECOVERY_POINT;
	switch (k) {
	case DR_STEP_TEST_FAILOVER: return DR_PREQ_TEST_FAILOVER;
	case DR_STEP_TEST_FAILOVER_CLEANUP: return DR_PREQ_TEST_FAILOVER_CLEANUP;
	case DR_STEP_UNPLANNED_FAILOVER: return DR_PREQ_UNPLANNED_FAILOVER;
	case DR_STEP_PLANNED_FAILOVER: return DR_PREQ_PLANNED_FAILOVER;
	case DR_STEP_COMMIT: return DR_PREQ_COMMIT;
	case DR_STEP_REPROTECT: return DR_PREQ_REPROTECT;
	default: return -1;
	}
}

static void emit(dr_job *j, const char *event, json_t *fields)
{
	char ts[32];

	if (!j->o.on_event && !j->notify) {
		json_decref(fields);
		return;
	}
	if (!fields)
		fields = json_object();
	rfc3339_now(ts);
	json_object_set_new(fields, "event", json_string(event));
	json_object_set_new(fields, "time", json_string(ts));
	dr_notify_job_event(j->notify, fields);
	if (j->o.on_event)
		j->o.on_event(j->o.ctx, fields);
	json_decref(fields);
}

/* ---- webhooks (exec/notify.h) ------------------------------------------ */

/* A delivery's outcome: journaled and shown; a notifier's warning: a job
 * warning. Neither changes how the job ends. */
static void notify_log(void *ctx, const char *type, json_t *rec)
{
	dr_job *j = ctx;

	if (!strcmp(type, "warning")) {
		warn(j, (size_t)-1, "%s", json_string_value(json_object_get(rec, "message")));
		json_decref(rec);
		return;
	}
	{
		json_t *ev = json_deep_copy(rec);

		if (jappend(j, "notify", rec) == 0)
			emit(j, "notification", ev);
		else
			json_decref(ev);
	}
}

static int notify_open(dr_job *j)
{
	dr_notify_opts no;

	if (!j->p->nwebhooks)
		return 0;
	memset(&no, 0, sizeof(no));
	no.loop = j->o.loop;
	no.job_id = j->id;
	no.plan = j->p->name.v;
	no.operation = op_name(j->g->op);
	no.unattended = j->unattended;
	no.backoff_ms = j->o.notify_backoff_ms;
	no.log = notify_log;
	no.log_ctx = j;
	return dr_notify_new(j->p->webhooks, j->p->nwebhooks, &no, &j->notify);
}

static uint64_t notify_grace(const dr_job *j)
{
	return j->o.notify_grace_ms ? j->o.notify_grace_ms : 10000;
}

/* Give deliveries still under way their grace (real time). */
static void notify_drain(dr_job *j)
{
	if (j->notify && !j->fatal)
		dr_notify_drain(j->notify, notify_grace(j));
}

static void notify_wake_cb(dr_loop *loop, void *ud)
{
	(void)loop;
	((dr_job *)ud)->notify_wake = NULL;
}

/*
 * dr_job_check() after the end, when the caller turns the loop: true while
 * deliveries are pending and their grace (real time, from the first call
 * after the end) lasts; then what is left is given up.
 */
static bool notify_wait(dr_job *j)
{
	struct timespec ts;
	uint64_t now;

	if (!j->notify || j->fatal || !dr_notify_pending(j->notify))
		return false;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	if (!j->notify_deadline) {
		j->notify_deadline = now + notify_grace(j);
		/* Wakes the caller's loop at the deadline. */
		j->notify_wake = dr_loop_timer(j->o.loop, notify_grace(j), notify_wake_cb, j);
	}
	if (now < j->notify_deadline)
		return true;
	dr_notify_drain(j->notify, 0);
	return false;
}

/* A crash point fired: the job stops dead, like a killed process. */
static bool crash_at(dr_job *j, const char *where, size_t i)
{
	if (j->fatal)
		return true;
	if (!j->o.crash_point ||
	    !j->o.crash_point(j->o.crash_ctx, where, i < j->n ? gstep(j, i)->id : ""))
		return false;
	j->fatal = DR_ECANCELLED;
	dr_error_set(DR_ECANCELLED, "job %s: crash point '%s'", j->id, where);
	return true;
}

static void set_fatal(dr_job *j, int rc)
{
	if (!j->fatal)
		j->fatal = rc ? rc : DR_EIO;
}

/* Append a journal record (fields stolen); a failure stops the job. */
static int jappend(dr_job *j, const char *type, json_t *fields)
{
	int rc;

	if (j->fatal) {
		json_decref(fields);
		return j->fatal;
	}
	if (!fields)
		fields = json_object();
	if (!json_object_get(fields, "pt"))
		json_object_set_new(fields, "pt", json_integer(pnow(j)));
	rc = dr_journal_append_new(j->jr, type, fields, NULL);
	if (rc < 0)
		set_fatal(j, rc);
	return rc;
}

static void send_queued(dr_job *j);

static void jflush_cb(dr_loop *loop, void *ud)
{
	dr_job *j = ud;
	int rc;

	(void)loop;
	j->jflush_defer = NULL;
	if (!j->fatal && (rc = dr_journal_flush(j->jr)) < 0)
		set_fatal(j, rc);
	if (!j->fatal)
		send_queued(j);
}

/*
 * Append a record whose loss in a crash is the same as a crash just
 * before it (group commit, dr_journal_append_lazy): a provider step's
 * state changes and its accepted and finished records. Resume then finds
 * the step where it was and asks the provider (reconcile). Everything the
 * loop turn adds is written by one append at the start of the next turn,
 * or earlier by the next durable record (an intent before a POST).
 */
static int jappend_lazy(dr_job *j, const char *type, json_t *fields)
{
	int rc;

	if (j->fatal) {
		json_decref(fields);
		return j->fatal;
	}
	if (!json_object_get(fields, "pt"))
		json_object_set_new(fields, "pt", json_integer(pnow(j)));
	rc = dr_journal_append_lazy(j->jr, type, fields, NULL);
	json_decref(fields);
	if (rc < 0) {
		set_fatal(j, rc);
		return rc;
	}
	if (!j->jflush_defer)
		j->jflush_defer = dr_loop_defer(j->o.loop, jflush_cb, j);
	return 0;
}

/* Step records that may be lazy: provider operations (an intent record,
 * durable, comes before any request that changes something) and steps
 * that do nothing outside (barriers, the source shutdown ASR does). */
static bool lazy_step(const dr_job *j, size_t i)
{
	const dr_step *s = gstep(j, i);

	return preq_of(s->kind) >= 0 || (s->flags & DR_STEP_F_BARRIER) ||
	       s->kind == DR_STEP_GROUP_START || s->kind == DR_STEP_GROUP_JOIN ||
	       s->kind == DR_STEP_GROUP_END || s->kind == DR_STEP_SHUTDOWN_SOURCE;
}

static void warn(dr_job *j, size_t i, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void warn(dr_job *j, size_t i, const char *fmt, ...)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	va_list ap;
	json_t *f;

	va_start(ap, fmt);
	dr_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	f = json_pack("{s:s}", "message", sb.buf);
	if (i < j->n)
		json_object_set_new(f, "step", json_string(gstep(j, i)->id));
	j->warnings++;
	if (jappend(j, "warning", json_deep_copy(f)) == 0)
		emit(j, "warning", f);
	else
		json_decref(f);
	dr_strbuf_release(&sb);
}

/* Save the simulator's state before the journal relies on it. */
static int persist(dr_job *j)
{
	dr_sim *sim;
	char *nv = NULL;
	int rc;

	if (j->fatal)
		return j->fatal;
	if (!j->o.persist_sim || !(sim = dr_provider_sim(j->o.provider)))
		return 0;
	rc = dr_sim_save_store(sim, j->o.store,
			       j->o.sim_state_key ? j->o.sim_state_key : DR_SIM_STATE_KEY,
			       j->sim_version ? j->sim_version : "", &nv);
	if (rc < 0) {
		set_fatal(j, rc);
		return rc;
	}
	free(j->sim_version);
	j->sim_version = nv;
	return 0;
}

/* ---- tasks ------------------------------------------------------------- */

static struct task *task_of(dr_job *j, size_t i)
{
	struct xstep *x = &j->xs[i];

	if (!x->task) {
		x->task = dr_xcalloc(1, sizeof(*x->task));
		x->task->j = j;
		x->task->i = i;
		dr_strbuf_init(&x->task->msg, 0);
	}
	return x->task;
}

static void task_free(dr_job *j, size_t i)
{
	struct task *t = j->xs[i].task;

	if (!t)
		return;
	dr_loop_timer_cancel(j->o.loop, t->timer);
	dr_loop_timer_cancel(j->o.loop, t->deadline);
	if (t->defer)
		dr_loop_defer_cancel(j->o.loop, t->defer);
	if (t->serving)
		dr_hook_serve_cancel(t->serving); /* hook_done ignores it */
	dr_hook_free(t->hook);
	free(t->env);
	dr_strbuf_release(&t->msg);
	free(t);
	j->xs[i].task = NULL;
}

/* ---- the one transition function -------------------------------------- */

static bool satisfied(const struct xstep *x)
{
	return x->st == DR_SS_SUCCEEDED || x->st == DR_SS_SKIPPED ||
	       (x->st == DR_SS_FAILED && x->nc_failed);
}

static bool terminal(uint8_t st)
{
	return st == DR_SS_SUCCEEDED || st == DR_SS_FAILED ||
	       st == DR_SS_SKIPPED || st == DR_SS_CANCELLED;
}

static void release_slot(dr_job *j, size_t i)
{
	int32_t c = j->xs[i].chain;
	struct gslot *gs;

	if (c < 0 || !j->chains[c].holding)
		return;
	j->chains[c].holding = false;
	gs = &j->gs[j->chains[c].gphase];
	assert(gs->used > 0);
	gs->used--;
	if (gs->qn) {
		size_t k = gs->q[gs->qh];

		gs->qh = (gs->qh + 1) % gs->qa;
		gs->qn--;
		DR_ALLOC_GROW(j->ready, j->rn + 1, j->ra);
		/* Ready queue is a plain array used as a FIFO from rh. */
		j->ready[j->rn++] = k;
	}
}

static void push_ready(dr_job *j, size_t i)
{
	DR_ALLOC_GROW(j->ready, j->rn + 1, j->ra);
	j->ready[j->rn++] = i;
	schedule(j);
}

static void make_ready(dr_job *j, size_t i);
static void gate_eval(dr_job *j, size_t i);
static bool unattended_decide(dr_job *j, size_t i);

static void on_terminal(dr_job *j, size_t i)
{
	struct xstep *x = &j->xs[i];
	int32_t c = x->chain;
	const dr_step *s = gstep(j, i);

	task_free(j, i);
	if (s->phase == DR_PHASE_MAIN && x->st != DR_SS_CANCELLED) {
		int64_t now = pnow(j);

		if (now > j->main_end_pt)
			j->main_end_pt = now;
	}
	if (c >= 0 && (j->chains[c].last == i || x->st == DR_SS_CANCELLED ||
		       (x->st == DR_SS_FAILED && !x->nc_failed)))
		release_slot(j, i);
	if (x->st == DR_SS_FAILED && !x->nc_failed)
		j->halt = true;
	if (i >= j->n) {
		/* A recovery point change ended: the gate may pass now. */
		long g = j->g->gate;

		if (g >= 0 && j->xs[g].st == DR_SS_WAITING)
			gate_eval(j, (size_t)g);
	} else if (satisfied(x) || (j->aborting && terminal(x->st))) {
		for (size_t k = j->rev_off[i]; k < j->rev_off[i + 1]; k++) {
			size_t d = j->rev[k];

			assert(j->xs[d].deps_left > 0);
			if (--j->xs[d].deps_left == 0 && j->xs[d].st == DR_SS_PENDING)
				make_ready(j, d);
			if (j->fatal)
				return;
		}
	}
	schedule(j);
}

/*
 * Change step i's state: check the legality table, journal the change
 * (pending -> ready is derived from the dependencies and not journaled),
 * tell the observer, then update the bookkeeping. Returns 0 or the
 * journal's error (the job is then stopped).
 */
static int set_state(dr_job *j, size_t i, dr_step_state to, const char *msg)
{
	struct xstep *x = &j->xs[i];
	dr_step_state from = x->st;
	const dr_step *s = gstep(j, i);
	json_t *ev;

	if (j->fatal)
		return j->fatal;
	assert(dr_step_transition_legal(from, to));
	if (to == DR_SS_RUNNING || (to == DR_SS_WAITING && from == DR_SS_READY))
		x->start_pt = pnow(j);
	if (!(from == DR_SS_PENDING && to == DR_SS_READY) || i >= j->n) {
		json_t *rec = json_pack("{s:s,s:s,s:s,s:i}", "step", s->id, "from",
					state_names[from], "to", state_names[to],
					"attempt", (int)x->attempt);

		if (from == DR_SS_PENDING || from == DR_SS_READY) {
			json_object_set_new(rec, "kind",
					    json_string(s->kind == DR_STEP_GATE ? "gate"
							: s->kind == DR_STEP_MANUAL ? "manual"
							: preq_of(s->kind) >= 0
							  ? dr_preq_kind_name(preq_of(s->kind))
							  : dr_step_kind_name(s->kind)));
			if (machine_of(j, i))
				json_object_set_new(rec, "machine",
						    json_string(machine_of(j, i)));
			if (s->kind == STEP_APPLY_RP)
				json_object_set_new(rec, "point",
						    json_string(s->rp->kind == DR_RP_CUSTOM ? s->rp->id
								: rp_name(s->rp->kind)));
		}
		if (msg)
			json_object_set_new(rec, "message", json_string(msg));
		if ((lazy_step(j, i) ? jappend_lazy(j, "step", rec) : jappend(j, "step", rec)) < 0)
			return j->fatal;
	}
	j->cnt[from]--;
	j->cnt[to]++;
	x->st = to;
	if (to == DR_SS_FAILED)
		x->nc_failed = !is_critical(j, i);
	if (s->machine >= 0 && preq_of(s->kind) >= 0) {
		if (to == DR_SS_FAILED && x->nc_failed)
			j->lost[s->machine] = 1;
		else if (to == DR_SS_SUCCEEDED)
			j->lost[s->machine] = 0;
	}
	ev = json_pack("{s:s,s:s,s:s,s:i}", "step", s->id, "from", state_names[from],
		       "to", state_names[to], "attempt", (int)x->attempt);
	if (msg)
		json_object_set_new(ev, "message", json_string(msg));
	emit(j, "step-state", ev);
	if (crash_at(j, "after-step-state", i))
		return j->fatal;
	if (terminal(to))
		on_terminal(j, i);
	else
		schedule(j);
	return 0;
}

static void step_done(dr_job *j, size_t i, dr_step_state to, const char *fmt, ...)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		dr_strbuf_vaddf(&sb, fmt, ap);
		va_end(ap);
	}
	if (to == DR_SS_FAILED && !is_critical(j, i) && !j->fatal)
		warn(j, i, "%s failed (not critical, the plan goes on): %s",
		     gstep(j, i)->id, sb.buf);
	set_state(j, i, to, fmt ? sb.buf : NULL);
	dr_strbuf_release(&sb);
}

/* A failed unattended drill runs its cleanup phase and nothing else. */
#define ABORT_SKIP "skipped: the unattended drill failed; cleaning up"

static bool abort_skips(const dr_job *j, size_t i)
{
	return j->aborting && gstep(j, i)->phase != DR_PHASE_CLEANUP;
}

/*
 * Dependencies done: ready, unless an optional machine's operation failed
 * before it on the same machine (then its later steps are skipped), or an
 * unattended drill is aborting (then everything but its cleanup is).
 */
static void make_ready(dr_job *j, size_t i)
{
	const dr_step *s = gstep(j, i);

	if (abort_skips(j, i)) {
		set_state(j, i, DR_SS_SKIPPED, ABORT_SKIP);
		return;
	}
	if (s->machine >= 0 && j->lost[s->machine]) {
		j->xs[i].machine_lost = true;
		set_state(j, i, DR_SS_SKIPPED,
			  "skipped: this machine's operation failed earlier");
		return;
	}
	if (set_state(j, i, DR_SS_READY, NULL) == 0)
		push_ready(j, i);
}

/* ---- scheduling -------------------------------------------------------- */

static void sched_cb(dr_loop *loop, void *ud)
{
	dr_job *j = ud;

	(void)loop;
	j->sched_defer = NULL;
	j->sched_queued = false;
	if (j->fatal)
		return;
	while (j->rh < j->rn && (!j->halt || j->aborting) && !j->cancel && !j->fatal &&
	       !j->lock_lost) {
		size_t i = j->ready[j->rh++];

		if (j->xs[i].st != DR_SS_READY)
			continue;
		if (abort_skips(j, i)) {
			set_state(j, i, DR_SS_SKIPPED, ABORT_SKIP);
			continue;
		}
		launch(j, i);
	}
	if (j->rh == j->rn)
		j->rh = j->rn = 0;
	check_done(j);
}

static void schedule(dr_job *j)
{
	if (j->sched_queued || j->fatal)
		return;
	j->sched_queued = true;
	j->sched_defer = dr_loop_defer(j->o.loop, sched_cb, j);
}

static void run_step(dr_job *j, size_t i);

static void launch(dr_job *j, size_t i)
{
	int32_t c = j->xs[i].chain;

	if (c >= 0 && !j->chains[c].holding) {
		struct gslot *gs = &j->gs[j->chains[c].gphase];

		if (gs->used >= gs->limit) {
			if (gs->qn == gs->qa) {
				size_t na = gs->qa ? gs->qa * 2 : 16;
				size_t *nq = dr_xmalloc(na * sizeof(*nq));

				for (size_t k = 0; k < gs->qn; k++)
					nq[k] = gs->q[(gs->qh + k) % (gs->qa ? gs->qa : 1)];
				free(gs->q);
				gs->q = nq;
				gs->qa = na;
				gs->qh = 0;
			}
			gs->q[(gs->qh + gs->qn) % gs->qa] = i;
			gs->qn++;
			return;
		}
		gs->used++;
		j->chains[c].holding = true;
	}
	run_step(j, i);
}

/* ---- provider operations ----------------------------------------------- */

static void fill_request(dr_job *j, size_t i, dr_op_request *q)
{
	const dr_step *s = gstep(j, i);

	memset(q, 0, sizeof(*q));
	q->kind = (dr_preq_kind)preq_of(s->kind);
	q->item = machine_of(j, i);
	if (s->rp)
		q->rp = *s->rp;
	else
		q->rp.kind = DR_RP_LATEST_PROCESSED;
	q->shutdown_source = s->flags & DR_STEP_F_SHUTDOWN;
	if (q->kind == DR_PREQ_TEST_FAILOVER)
		q->network = j->p->drill.vnet.v;
	q->direction = q->kind == DR_PREQ_REPROTECT ? j->g->direction : 0;
	q->point_type = DR_POINT_CRASH_CONSISTENT;
	q->client_request_id = j->xs[i].crid;
}

static json_t *request_params(const dr_op_request *q)
{
	json_t *o = json_object();

	if (q->kind == DR_PREQ_TEST_FAILOVER || q->kind == DR_PREQ_UNPLANNED_FAILOVER ||
	    q->kind == DR_PREQ_APPLY_RECOVERY_POINT) {
		json_object_set_new(o, "recovery_point", json_string(rp_name(q->rp.kind)));
		if (q->rp.id)
			json_object_set_new(o, "recovery_point_id", json_string(q->rp.id));
	}
	if (q->shutdown_source)
		json_object_set_new(o, "shutdown_source", json_true());
	if (q->network)
		json_object_set_new(o, "network", json_string(q->network));
	if (q->direction)
		json_object_set_new(o, "direction", json_string(dir_name(q->direction)));
	return o;
}

/* The item is already where a successful operation of kind k leaves it. */
static bool target_reached(dr_job *j, dr_preq_kind k, const dr_prov_item *it)
{
	switch (k) {
	case DR_PREQ_TEST_FAILOVER:
		return it->test_failover_state &&
		       !strcmp(it->test_failover_state, "WaitingForCompletion");
	case DR_PREQ_TEST_FAILOVER_CLEANUP:
		return dr_prov_item_allows(it, "TestFailover");
	case DR_PREQ_UNPLANNED_FAILOVER:
		return it->active_location && !strcmp(it->active_location, "Recovery") &&
		       it->instance_type && !strcmp(it->instance_type, "InMageRcm");
	case DR_PREQ_COMMIT:
		return it->committed;
	case DR_PREQ_REPROTECT:
		return it->direction == j->g->direction &&
		       (!it->current_scenario || !strcmp(it->current_scenario, "None")) &&
		       !dr_prov_item_allows(it, "Commit") &&
		       !dr_prov_item_allows(it, "ReverseReplicate");
	case DR_PREQ_PLANNED_FAILOVER:
		return it->active_location && !strcmp(it->active_location, "Primary") &&
		       it->instance_type && !strcmp(it->instance_type, "InMageRcmFailback");
	default:
		return false;
	}
}

static void describe_item(dr_strbuf *sb, const dr_prov_item *it)
{
	dr_strbuf_addf(sb, "state %s", it->protection_state ? it->protection_state : "?");
	if (it->current_scenario && strcmp(it->current_scenario, "None"))
		dr_strbuf_addf(sb, ", running %s", it->current_scenario);
	dr_strbuf_addstr(sb, "; allowed operations: ");
	for (size_t k = 0; k < it->nallowed_ops; k++)
		dr_strbuf_addf(sb, "%s%s", k ? ", " : "", it->allowed_ops[k]);
	if (!it->nallowed_ops)
		dr_strbuf_addstr(sb, "none");
}

static bool transient(int rc)
{
	return rc == DR_EIO || rc == DR_EAGAIN || rc == DR_ETIMEOUT;
}

static void retry_later(dr_job *j, size_t i, dr_loop_cb cb, const char *what,
			const dr_prov_error *err)
{
	struct task *t = task_of(j, i);
	uint64_t delay = 1000ull << (t->retries < 5 ? t->retries : 5);

	if (++t->retries > 30) {
		step_done(j, i, DR_SS_FAILED, "%s: the provider kept failing: %s", what,
			  err && err->message ? err->message : "no reply");
		return;
	}
	if (delay > (j->o.max_poll_ms ? j->o.max_poll_ms : 30000))
		delay = j->o.max_poll_ms ? j->o.max_poll_ms : 30000;
	t->timer = dr_loop_timer(j->o.loop, delay, cb, t);
}

static void poll_op(dr_job *j, size_t i);

static void poll_timer_cb(dr_loop *loop, void *ud)
{
	struct task *t = ud;

	(void)loop;
	t->timer = NULL;
	poll_op(t->j, t->i);
}

/*
 * Provider results that the journal will record wait here for one save of
 * the simulator's state per loop turn (persist_sim): the save must come
 * before the records that rely on it, and saving the whole simulator once
 * per operation would make big plans quadratic.
 */
struct pend {
	bool finished;       /* else accepted */
	size_t i;
	char *op_id;
	json_t *rec;         /* finished: the record */
	json_t *warns;       /* finished: warning messages */
	bool ok;
	char *msg;           /* finished, failed: why */
};

static void apply_accepted(dr_job *j, struct pend *pe);
static void apply_finished(dr_job *j, struct pend *pe);

static void pend_release(struct pend *pe)
{
	free(pe->op_id);
	free(pe->msg);
	json_decref(pe->rec);
	json_decref(pe->warns);
}

static void flush_cb(dr_loop *loop, void *ud)
{
	dr_job *j = ud;
	size_t k;

	(void)loop;
	j->flush_defer = NULL;
	if (!j->fatal)
		persist(j);
	for (k = 0; k < j->npend; k++) {
		struct pend *pe = &j->pend[k];

		if (!j->fatal) {
			if (pe->finished)
				apply_finished(j, pe);
			else
				apply_accepted(j, pe);
		}
		pend_release(&j->pend[k]);
	}
	j->npend = 0;
}

static void queue_pend(dr_job *j, struct pend *pe)
{
	if (!j->o.persist_sim || !dr_provider_sim(j->o.provider)) {
		if (pe->finished)
			apply_finished(j, pe);
		else
			apply_accepted(j, pe);
		pend_release(pe);
		return;
	}
	DR_ALLOC_GROW(j->pend, j->npend + 1, j->apend);
	j->pend[j->npend++] = *pe;
	if (!j->flush_defer)
		j->flush_defer = dr_loop_defer(j->o.loop, flush_cb, j);
}

static void finish_op(dr_job *j, size_t i, const dr_prov_job *pj)
{
	struct pend pe;
	json_t *rec, *errs;
	dr_strbuf why = DR_STRBUF_INIT;
	bool ok = dr_prov_job_succeeded(pj);

	if (crash_at(j, "before-finished", i))
		return;
	memset(&pe, 0, sizeof(pe));
	pe.warns = json_array();
	errs = json_array();
	for (size_t k = 0; k < pj->nerrors; k++) {
		json_array_append_new(errs, dr_prov_error_to_json(&pj->errors[k]));
		if (pj->errors[k].level && !strcmp(pj->errors[k].level, "Warning")) {
			if (ok)
				json_array_append_new(pe.warns, json_string(
					pj->errors[k].message ? pj->errors[k].message : "warning"));
			continue;
		}
		dr_strbuf_addf(&why, "%s%s", why.len ? "; " : "",
			       pj->errors[k].message ? pj->errors[k].message : "error");
	}
	rec = json_pack("{s:s,s:s,s:s,s:o,s:I,s:I}", "step", gstep(j, i)->id, "op_id",
			pj->id, "op_status", pj->state, "errors", errs, "op_start",
			(json_int_t)pj->start_ms, "op_end", (json_int_t)pj->end_ms);
	if (machine_of(j, i))
		json_object_set_new(rec, "machine", json_string(machine_of(j, i)));
	if (pj->point.id && (pj->kind == DR_PREQ_UNPLANNED_FAILOVER ||
			     pj->kind == DR_PREQ_TEST_FAILOVER ||
			     pj->kind == DR_PREQ_PLANNED_FAILOVER ||
			     pj->kind == DR_PREQ_APPLY_RECOVERY_POINT)) {
		json_object_set_new(rec, "point",
				    json_pack("{s:s,s:I,s:s}", "id", pj->point.id, "time",
					      (json_int_t)pj->point.time_ms, "type",
					      dr_point_type_name(pj->point.type)));
		json_object_set_new(rec, "rpo_s", json_integer(pj->rpo_s));
	}
	if (!ok) {
		dr_strbuf sb = DR_STRBUF_INIT;

		dr_strbuf_addf(&sb, "%s %s: %s", pj->friendly_name ? pj->friendly_name
			       : dr_preq_kind_name(pj->kind), pj->state,
			       why.len ? why.buf : "no error details");
		pe.msg = dr_strbuf_detach(&sb, NULL);
	}
	dr_strbuf_release(&why);
	pe.finished = true;
	pe.i = i;
	pe.op_id = dr_xstrdup(pj->id);
	pe.rec = rec;
	pe.ok = ok;
	queue_pend(j, &pe);
}

static void apply_finished(dr_job *j, struct pend *pe)
{
	size_t i = pe->i;
	struct xstep *x = &j->xs[i];
	json_t *rpo = json_object_get(pe->rec, "rpo_s");

	if (jappend_lazy(j, "finished", json_incref(pe->rec)) < 0)
		return;
	if (pe->ok && rpo && machine_of(j, i))
		json_object_set(j->rpo, machine_of(j, i), rpo);
	if (!x->done_ops)
		x->done_ops = json_array();
	json_array_append_new(x->done_ops, json_string(pe->op_id));
	x->opst = OP_FINISHED;
	free(x->op_id);
	x->op_id = NULL;
	for (size_t k = 0; k < json_array_size(pe->warns); k++)
		warn(j, i, "%s: %s", gstep(j, i)->id,
		     json_string_value(json_array_get(pe->warns, k)));
	if (pe->ok)
		step_done(j, i, DR_SS_SUCCEEDED, NULL);
	else
		step_done(j, i, DR_SS_FAILED, "%s", pe->msg);
}

static void on_poll(void *ud, int rc, const dr_prov_job *pj, const dr_prov_error *err)
{
	struct task *t = ud;
	dr_job *j = t->j;
	size_t i = t->i;
	uint64_t delay, maxp = j->o.max_poll_ms ? j->o.max_poll_ms : 30000;

	if (j->fatal)
		return;
	if (rc == 0 && dr_prov_job_done(pj)) {
		finish_op(j, i, pj);
		return;
	}
	if (rc == 0) {
		t->retries = 0;
		delay = pj->poll_after_ms < maxp ? pj->poll_after_ms : maxp;
		if (j->cancel && !j->xs[i].cancel_noted) {
			j->xs[i].cancel_noted = true;
			emit(j, "cancel-waiting",
			     json_pack("{s:s,s:s}", "step", gstep(j, i)->id, "message",
				       "waiting for this operation to finish: ASR operations "
				       "in flight are not cancelled (a cancelled failover "
				       "leaves the machine unable to replicate)"));
		}
		t->timer = dr_loop_timer(j->o.loop, delay, poll_timer_cb, t);
		return;
	}
	if (transient(rc)) {
		retry_later(j, i, poll_timer_cb, "poll", err);
		return;
	}
	step_done(j, i, DR_SS_FAILED, "the provider does not know operation %s: %s",
		  j->xs[i].op_id, err && err->message ? err->message : dr_strerror(rc));
}

static void poll_op(dr_job *j, size_t i)
{
	struct task *t = task_of(j, i);
	int rc;

	if (j->fatal)
		return;
	rc = dr_provider_poll(j->o.provider, j->xs[i].op_id, on_poll, t);
	if (rc < 0)
		step_done(j, i, DR_SS_FAILED, "poll %s: %s", j->xs[i].op_id, dr_error_msg());
}

static void on_start(void *ud, int rc, const char *op_id, const dr_prov_error *err)
{
	struct task *t = ud;
	dr_job *j = t->j;
	size_t i = t->i;
	struct xstep *x = &j->xs[i];

	if (j->fatal)
		return;
	if (rc == 0) {
		/* The provider has it; a crash from here until the accepted
		 * record is durable is what reconcile() exists for. */
		struct pend pe;

		memset(&pe, 0, sizeof(pe));
		pe.i = i;
		pe.op_id = dr_xstrdup(op_id);
		queue_pend(j, &pe);
		return;
	}
	if (transient(rc)) {
		/* Lost reply: it may or may not have been accepted. */
		warn(j, i, "%s: no reply to the request (%s); looking for its job "
		     "before doing anything else", gstep(j, i)->id,
		     err && err->message ? err->message : dr_strerror(rc));
		reconcile(j, i);
		return;
	}
	{
		json_t *errs = json_array();

		if (err)
			json_array_append_new(errs, dr_prov_error_to_json(err));
		if (jappend(j, "finished", json_pack("{s:s,s:s,s:o}", "step", gstep(j, i)->id,
						      "op_status", "Refused", "errors", errs)) < 0)
			return;
		x->opst = OP_FINISHED;
		step_done(j, i, DR_SS_FAILED, "refused: %s",
			  err && err->message ? err->message : dr_strerror(rc));
	}
}

static void apply_accepted(dr_job *j, struct pend *pe)
{
	size_t i = pe->i;
	struct xstep *x = &j->xs[i];

	if (crash_at(j, "after-start-accepted", i))
		return;
	if (jappend_lazy(j, "accepted", json_pack("{s:s,s:s}", "step", gstep(j, i)->id,
						   "op_id", pe->op_id)) < 0)
		return;
	x->opst = OP_ACCEPTED;
	x->op_id = dr_xstrdup(pe->op_id);
	if (crash_at(j, "after-accepted", i))
		return;
	poll_op(j, i);
}

/* Journal the intent, then send. */
static void send_op(dr_job *j, size_t i)
{
	struct xstep *x = &j->xs[i];
	dr_op_request q;
	char crid[DR_JOB_ID_MAX + 300];
	json_t *rec;

	if (crash_at(j, "before-intent", i))
		return;
	snprintf(crid, sizeof(crid), "%s/%s/%u.%zu", j->id, gstep(j, i)->id, x->attempt,
		 x->done_ops ? json_array_size(x->done_ops) : 0);
	free(x->crid);
	x->crid = dr_xstrdup(crid);
	fill_request(j, i, &q);
	x->intent_pt = pnow(j);
	rec = json_pack("{s:s,s:s,s:o,s:i,s:s,s:I}", "step", gstep(j, i)->id, "op",
			dr_preq_kind_name(q.kind), "params", request_params(&q),
			"attempt", (int)x->attempt, "crid", crid, "pt", (json_int_t)x->intent_pt);
	if (q.item)
		json_object_set_new(rec, "machine", json_string(q.item));
	/* Durable before the request goes out: the intents of one loop turn
	 * are written together, then their requests sent (send_queued). */
	if (jappend_lazy(j, "intent", rec) < 0)
		return;
	x->opst = OP_INTENT;
	/* One provider call per step at a time: never queued twice. */
	for (size_t k = 0; k < j->ntosend; k++)
		assert(j->tosend[k] != i);
	DR_ALLOC_GROW(j->tosend, j->ntosend + 1, j->atosend);
	j->tosend[j->ntosend++] = i;
}

/* The journal holds the intents: send their requests. */
static void send_queued(dr_job *j)
{
	size_t n = j->ntosend;

	j->ntosend = 0;
	for (size_t k = 0; k < n && !j->fatal; k++) {
		size_t i = j->tosend[k];
		dr_op_request q;

		if (j->xs[i].opst != OP_INTENT || j->xs[i].st != DR_SS_RUNNING)
			continue;
		fill_request(j, i, &q);
		if (dr_provider_start(j->o.provider, &q, on_start, task_of(j, i)) < 0)
			step_done(j, i, DR_SS_FAILED, "start: %s", dr_error_msg());
	}
}

static void precheck(dr_job *j, size_t i);

/* ---- target settings (azure) ------------------------------------------- */

/*
 * Before an azure test failover or failover, the item's target settings
 * (VM name, resource group, size, availability set and zone, VNet, NIC
 * subnets, IPs and names) are brought in line with the plan by
 * dr_azure_update_target(), and its result journaled as a `target` record:
 * {state: "updated"}, {state: "unchanged"} (the item already had them:
 * nothing was sent), {state: "not-applied"} (not an InMageRcm item) or
 * {state: "failed"}. Once per attempt. No intent
 * record: the step's journaled `running` state already says that the
 * update may have started, and the update is idempotent, so a resumed
 * step without a result simply does it again, with a warning saying so
 * (this keeps the cost at one fsync per machine). The simulator has no
 * such step.
 */
static bool needs_target(dr_job *j, size_t i)
{
	const dr_step *s = gstep(j, i);

	return (s->kind == DR_STEP_TEST_FAILOVER || s->kind == DR_STEP_UNPLANNED_FAILOVER) &&
	       s->machine >= 0 && dr_provider_azure(j->o.provider) &&
	       j->xs[i].target_at != j->xs[i].attempt + 1;
}

static json_t *target_rec(dr_job *j, size_t i, const char *state)
{
	return json_pack("{s:s,s:s,s:i,s:s}", "step", gstep(j, i)->id, "machine",
			 machine_of(j, i), "attempt", (int)j->xs[i].attempt, "state", state);
}

static void set_target(dr_job *j, size_t i);

static void target_timer_cb(dr_loop *loop, void *ud)
{
	struct task *t = ud;

	(void)loop;
	t->timer = NULL;
	set_target(t->j, t->i);
}

static void on_target(void *ud, int rc, const dr_prov_error *err)
{
	struct task *t = ud;
	dr_job *j = t->j;
	size_t i = t->i;
	struct xstep *x = &j->xs[i];
	const char *why = err && err->message ? err->message : dr_strerror(rc);
	json_t *rec;

	if (j->fatal || crash_at(j, "before-target-result", i))
		return;
	if (rc < 0 && transient(rc)) {
		retry_later(j, i, target_timer_cb, "update target settings", err);
		return;
	}
	if (rc < 0) {
		rec = target_rec(j, i, "failed");
		json_object_set_new(rec, "message", json_string(why));
		if (jappend(j, "target", rec) < 0)
			return;
		x->target_open = false;
		step_done(j, i, DR_SS_FAILED, "target settings of '%s' could not be applied: %s",
			  machine_of(j, i), why);
		return;
	}
	t->retries = 0;
	if (jappend(j, "target", target_rec(j, i, rc == 1 ? "unchanged" : "updated")) < 0)
		return;
	x->target_open = false;
	x->target_at = (uint16_t)(x->attempt + 1);
	if (crash_at(j, "after-target", i))
		return;
	send_op(j, i);
}

static void set_target(dr_job *j, size_t i)
{
	struct xstep *x = &j->xs[i];
	struct task *t = task_of(j, i);

	if (crash_at(j, "before-target", i))
		return;
	if (x->target_open && !t->retries)
		warn(j, i, "%s: updating the target settings of '%s' again: the last "
		     "runner stopped after the step started, before their result was "
		     "journaled (the update is idempotent)", gstep(j, i)->id,
		     machine_of(j, i));
	if (dr_azure_update_target(dr_provider_azure(j->o.provider), j->p,
				   &j->p->machines[gstep(j, i)->machine], on_target, t) < 0)
		step_done(j, i, DR_SS_FAILED, "target settings: %s", dr_error_msg());
}

/*
 * The item offers the operation: its target settings first, if due. Only
 * InMageRcm items take the update input drplan builds; a classic
 * (InMageAzureV2) item keeps the settings made in the portal.
 */
static void send_or_target(dr_job *j, size_t i, const dr_prov_item *it)
{
	if (needs_target(j, i) && it->instance_type && strcmp(it->instance_type, "InMageRcm")) {
		if (jappend(j, "target", target_rec(j, i, "not-applied")) < 0)
			return;
		warn(j, i, "%s: the plan's target settings are not applied to '%s': it "
		     "replicates with %s, and drplan updates InMageRcm items only; check "
		     "them in the vault", gstep(j, i)->id, machine_of(j, i), it->instance_type);
		j->xs[i].target_at = (uint16_t)(j->xs[i].attempt + 1);
	}
	if (needs_target(j, i))
		set_target(j, i);
	else
		send_op(j, i);
}

static void precheck_timer_cb(dr_loop *loop, void *ud)
{
	struct task *t = ud;

	(void)loop;
	t->timer = NULL;
	precheck(t->j, t->i);
}

static void on_precheck(void *ud, int rc, const dr_prov_item *it, const dr_prov_error *err)
{
	struct task *t = ud;
	dr_job *j = t->j;
	size_t i = t->i;
	dr_preq_kind k = (dr_preq_kind)preq_of(gstep(j, i)->kind);
	const char *op = dr_preq_kind_asr_op(k);
	dr_strbuf sb = DR_STRBUF_INIT;

	if (j->fatal)
		return;
	if (rc < 0) {
		if (transient(rc))
			retry_later(j, i, precheck_timer_cb, "get item", err);
		else
			step_done(j, i, DR_SS_FAILED, "%s",
				  err && err->message ? err->message : dr_strerror(rc));
		return;
	}
	t->retries = 0;
	if (dr_prov_item_allows(it, op)) {
		send_or_target(j, i, it);
		return;
	}
	describe_item(&sb, it);
	if (target_reached(j, k, it)) {
		if (jappend(j, "reconciled",
			    json_pack("{s:s,s:s,s:s}", "step", gstep(j, i)->id, "result",
				      "already-done", "why", sb.buf)) == 0)
			step_done(j, i, DR_SS_SUCCEEDED,
				  "already done: the item is where this step takes it (%s)",
				  sb.buf);
	} else {
		step_done(j, i, DR_SS_FAILED, "item '%s' does not offer %s (%s)",
			  it->name, op, sb.buf);
	}
	dr_strbuf_release(&sb);
}

static void precheck(dr_job *j, size_t i)
{
	if (dr_provider_get_state(j->o.provider, machine_of(j, i), on_precheck,
				 task_of(j, i)) < 0)
		step_done(j, i, DR_SS_FAILED, "get item: %s", dr_error_msg());
}

static void reconcile_timer_cb(dr_loop *loop, void *ud)
{
	struct task *t = ud;

	(void)loop;
	t->timer = NULL;
	reconcile(t->j, t->i);
}

static void on_reconcile_item(void *ud, int rc, const dr_prov_item *it,
			      const dr_prov_error *err)
{
	struct task *t = ud;
	dr_job *j = t->j;
	size_t i = t->i;
	struct xstep *x = &j->xs[i];
	dr_preq_kind k = (dr_preq_kind)preq_of(gstep(j, i)->kind);
	const char *op = dr_preq_kind_asr_op(k);
	dr_strbuf sb = DR_STRBUF_INIT;
	const char *result;

	if (j->fatal)
		return;
	if (rc < 0) {
		if (transient(rc))
			retry_later(j, i, reconcile_timer_cb, "get item", err);
		else
			step_done(j, i, DR_SS_FAILED, "reconcile: %s",
				  err && err->message ? err->message : dr_strerror(rc));
		return;
	}
	describe_item(&sb, it);
	if (target_reached(j, k, it))
		result = "already-done";
	else if (dr_prov_item_allows(it, op) &&
		 (!it->current_scenario || !strcmp(it->current_scenario, "None")))
		result = "not-started";
	else
		result = "stuck";
	if (jappend(j, "reconciled",
		    json_pack("{s:s,s:s,s:s}", "step", gstep(j, i)->id, "result", result,
			      "why", sb.buf)) < 0)
		goto out;
	if (!strcmp(result, "already-done")) {
		x->opst = OP_NONE;
		step_done(j, i, DR_SS_SUCCEEDED,
			  "reconciled: no job found, and the item is already where "
			  "this step takes it (%s)", sb.buf);
	} else if (!strcmp(result, "not-started")) {
		/* No job since the intent and the item still offers the
		 * operation: the provider never got it. Now it is safe. */
		x->opst = OP_NONE;
		send_or_target(j, i, it);
	} else {
		step_done(j, i, DR_SS_FAILED,
			  "cannot tell whether %s was started: no job found for item "
			  "'%s' since the intent, and the item does not offer it (%s)",
			  op, it->name, sb.buf);
	}
out:
	dr_strbuf_release(&sb);
}

static void on_reconcile_jobs(void *ud, int rc, const dr_prov_job *jobs, size_t n,
			      const dr_prov_error *err)
{
	struct task *t = ud;
	dr_job *j = t->j;
	size_t i = t->i;
	struct xstep *x = &j->xs[i];
	dr_preq_kind k = (dr_preq_kind)preq_of(gstep(j, i)->kind);
	const dr_prov_job *pick = NULL;

	if (j->fatal)
		return;
	if (rc < 0) {
		if (transient(rc))
			retry_later(j, i, reconcile_timer_cb, "find jobs", err);
		else
			step_done(j, i, DR_SS_FAILED, "reconcile: %s",
				  err && err->message ? err->message : dr_strerror(rc));
		return;
	}
	for (size_t m = 0; m < n; m++) {
		bool known = false;

		if (jobs[m].kind != k)
			continue;
		for (size_t d = 0; x->done_ops && d < json_array_size(x->done_ops); d++)
			if (!strcmp(json_string_value(json_array_get(x->done_ops, d)),
				    jobs[m].id))
				known = true;
		if (known)
			continue;
		/* Our own request id wins; otherwise the oldest of that kind. */
		if (!pick || (x->crid && jobs[m].client_request_id &&
			      !strcmp(jobs[m].client_request_id, x->crid)))
			pick = &jobs[m];
	}
	if (pick) {
		bool own = x->crid && pick->client_request_id &&
			   !strcmp(pick->client_request_id, x->crid);

		if (jappend(j, "adopted",
			    json_pack("{s:s,s:s,s:s}", "step", gstep(j, i)->id, "op_id",
				      pick->id, "why",
				      own ? "the provider has a job with this intent's request id"
					  : "the provider has a job of this kind for the item "
					    "since the intent")) < 0)
			return;
		x->opst = OP_ACCEPTED;
		free(x->op_id);
		x->op_id = dr_xstrdup(pick->id);
		if (dr_prov_job_done(pick))
			finish_op(j, i, pick);
		else
			poll_op(j, i);
		return;
	}
	if (dr_provider_get_state(j->o.provider, machine_of(j, i), on_reconcile_item, t) < 0)
		step_done(j, i, DR_SS_FAILED, "get item: %s", dr_error_msg());
}

/*
 * The outcome of the last intent is unknown: ask the provider what it has
 * for the item since the intent, and never send blindly.
 */
static void reconcile(dr_job *j, size_t i)
{
	struct xstep *x = &j->xs[i];

	if (j->fatal)
		return;
	if (dr_provider_find_jobs(j->o.provider, machine_of(j, i), x->intent_pt,
				  on_reconcile_jobs, task_of(j, i)) < 0)
		step_done(j, i, DR_SS_FAILED, "find jobs: %s", dr_error_msg());
}

static void op_begin(dr_job *j, size_t i)
{
	struct xstep *x = &j->xs[i];

	switch (x->opst) {
	case OP_INTENT:
		reconcile(j, i);
		break;
	case OP_ACCEPTED:
		poll_op(j, i);
		break;
	case OP_FINISHED:
		/* A retry after a finished attempt: look for work started
		 * since then (someone else's) before sending again. */
		if (x->intent_pt) {
			reconcile(j, i);
			break;
		}
		/* fall through */
	default:
		precheck(j, i);
		break;
	}
}

/* ---- hooks ------------------------------------------------------------- */

static uint64_t hook_clock(void *ud)
{
	return dr_loop_now(ud);
}

static void hook_finish(dr_job *j, size_t i);

/* dr_hook_serve() is done with the hook (it ran out, timed out, failed or
 * was cancelled). */
static void hook_done(dr_hook *h, const dr_hook_outcome *oc, void *ud)
{
	struct task *t = ud;
	dr_job *j = t->j;

	(void)h;
	(void)oc;
	t->serving = NULL;
	if (j->fatal || j->freeing)
		return;
	hook_finish(j, t->i);
}

static void hook_finish(dr_job *j, size_t i)
{
	struct task *t = j->xs[i].task;
	const dr_hook_outcome *oc = dr_hook_outcome_get(t->hook);
	json_t *log = json_array(), *rec;
	size_t n = dr_hook_log_count(t->hook), from = n > 50 ? n - 50 : 0;
	char *msg;

	for (size_t k = from; k < n; k++) {
		const dr_hook_log_line *l = dr_hook_log_at(t->hook, k);

		json_array_append_new(log, json_pack("{s:s,s:s}", "level", l->level,
						     "text", l->text));
	}
	rec = json_pack("{s:s,s:s,s:s,s:O,s:o}", "step", gstep(j, i)->id, "status",
			dr_hook_status_name(oc->status), "message", oc->message ? oc->message : "",
			"outputs", dr_hook_outputs(t->hook), "log", log);
	if (jappend(j, "hook", rec) < 0)
		return;
	if (oc->status == DR_HOOK_OK) {
		json_object_set_new(j->outputs, gstep(j, i)->id,
				    json_deep_copy(dr_hook_outputs(t->hook)));
		step_done(j, i, DR_SS_SUCCEEDED, NULL);
		return;
	}
	msg = dr_xstrdup(oc->message ? oc->message : "");
	if (oc->status == DR_HOOK_CANCELLED)
		step_done(j, i, DR_SS_CANCELLED, "hook cancelled");
	else
		step_done(j, i, DR_SS_FAILED, "hook %s: %s", dr_hook_status_name(oc->status), msg);
	free(msg);
}

static void run_hook(dr_job *j, size_t i)
{
	const dr_step *s = gstep(j, i);
	const dr_action *a = s->action;
	struct task *t = task_of(j, i);
	dr_hook_opts ho;
	dr_strbuf path = DR_STRBUF_INIT, ldir = DR_STRBUF_INIT;
	json_t *ctx;
	int rc;

	memset(&ho, 0, sizeof(ho));
	ho.timeout_ms = a->timeout.ms;
	ho.clock_ms = hook_clock;
	ho.ud = j->o.loop;
	if (a->env.n) {
		t->env = dr_xcalloc(a->env.n + 1, sizeof(*t->env));
		memcpy(t->env, a->env.v, a->env.n * sizeof(*t->env));
		ho.env = t->env;
	}
	dr_hookctx_lua_dir(j->p, j->o.lua_dir, &ldir);
	ho.lua_dir = ldir.buf;
	dr_hookctx_path(j->p, a->lua.v, &path);
	if ((rc = dr_hook_new(&ho, &t->hook)) < 0) {
		step_done(j, i, DR_SS_FAILED, "hook: %s", dr_error_msg());
		goto out;
	}
	{
		/* Read it here so messages name the file as the plan does. */
		FILE *f = fopen(path.buf, "rb");
		dr_strbuf src = DR_STRBUF_INIT;
		char chunk[4096];
		size_t got;

		src.max = 1u << 20;
		if (!f) {
			step_done(j, i, DR_SS_FAILED, "hook %s: cannot read %s", a->lua.v,
				  path.buf);
			goto out;
		}
		while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0 &&
		       dr_strbuf_add(&src, chunk, got) == 0)
			;
		fclose(f);
		rc = dr_hook_load_string(t->hook, a->lua.v, src.buf, src.len);
		dr_strbuf_release(&src);
		if (rc < 0) {
			step_done(j, i, DR_SS_FAILED, "hook: %s", dr_error_msg());
			goto out;
		}
	}
	ctx = dr_hookctx_build(j->p, j->g->op, j->g->direction, j->id, s->id,
			       j->xs[i].attempt, s->group, s->machine);
	json_object_set_new(ctx, "outputs", json_deep_copy(j->outputs));
	dr_hook_set_context(t->hook, ctx);
	json_decref(ctx);
	if (a->args) {
		json_t *args = dr_ynode_to_json(a->args);

		if (args)
			dr_hook_set_args(t->hook, args);
		json_decref(args);
	}
	if (!j->o.net && !j->net && (rc = dr_net_new(j->o.loop, &j->net)) < 0) {
		step_done(j, i, DR_SS_FAILED, "hook: %s", dr_error_msg());
		goto out;
	}
	if ((rc = dr_hook_serve(j->o.loop, j->o.net ? j->o.net : j->net, t->hook, hook_done,
				t, &t->serving)) < 0)
		step_done(j, i, DR_SS_FAILED, "hook: %s", dr_error_msg());
out:
	dr_strbuf_release(&path);
	dr_strbuf_release(&ldir);
}

/* ---- gates, holds, checks ---------------------------------------------- */

static json_t *gate_obj(dr_job *j, size_t i)
{
	json_t *g = json_object_get(j->gates, gstep(j, i)->id);

	if (!g) {
		g = json_object();
		json_object_set_new(j->gates, gstep(j, i)->id, g);
	}
	return g;
}

static unsigned gate_needed(dr_job *j, size_t i)
{
	long long n = gstep(j, i)->gate ? gstep(j, i)->gate->approvals.v : 1;

	return n < 1 ? 1 : (unsigned)n;
}

/* Distinct approvers so far. */
static unsigned gate_approved(dr_job *j, size_t i, dr_strbuf *who)
{
	json_t *a = json_object_get(gate_obj(j, i), "approvals");
	unsigned n = 0;

	for (size_t k = 0; k < json_array_size(a); k++) {
		const char *by = json_string_value(json_object_get(json_array_get(a, k), "by"));
		bool dup = false;

		for (size_t m = 0; m < k; m++)
			if (!strcmp(by, json_string_value(json_object_get(json_array_get(a, m), "by"))))
				dup = true;
		if (!dup) {
			n++;
			if (who)
				dr_strbuf_addf(who, "%s%s", who->len ? ", " : "", by);
		}
	}
	return n;
}

static void gate_eval(dr_job *j, size_t i)
{
	dr_strbuf who = DR_STRBUF_INIT;

	for (size_t k = 0; k < j->nx; k++)
		if (!terminal(j->xs[j->n + k].st))
			return; /* a recovery point change is under way */
	if (gstep(j, i)->gate && gstep(j, i)->gate->approvers.n) {
		dr_approval_quorum_info qi;

		if (j->xs[i].st == DR_SS_WAITING &&
		    dr_approval_quorum(gstep(j, i)->gate,
				       &j->seen[gstep(j, i)->gate == &j->p->failback_gate],
				       &qi, NULL) == 1) {
			gate_approved(j, i, &who);
			step_done(j, i, DR_SS_SUCCEEDED, "approved (signed) by %s", who.buf);
		}
		dr_strbuf_release(&who);
		return;
	}

	if (j->xs[i].st == DR_SS_WAITING && gate_approved(j, i, &who) >= gate_needed(j, i))
		step_done(j, i, DR_SS_SUCCEEDED, "approved by %s", who.buf);
	dr_strbuf_release(&who);
}

static void tick_cb(dr_loop *loop, void *ud);

static void arm_tick(dr_job *j, size_t i)
{
	struct task *t = task_of(j, i);

	if (!t->timer)
		t->timer = dr_loop_timer(j->o.loop, j->o.tick_ms ? j->o.tick_ms : 1000,
					 tick_cb, t);
}

/*
 * Unattended drills never wait for a person (docs/execution.md): a manual
 * step or gate that would wait follows drill.unattended: auto-approve,
 * recording the plan's reason, or fail the drill, which then skips what is
 * left of it, still cleans up, and ends failed. The decision is journaled
 * (`unattended` record) before the step changes. Only drills: a failover's
 * gate is never passed by a policy. Returns true when step i was decided.
 */
static bool unattended_decide(dr_job *j, size_t i)
{
	const dr_step *s = gstep(j, i);
	const dr_drill *d = &j->p->drill;
	bool gate = s->kind == DR_STEP_GATE;
	const char *pol = gate ? d->gate_policy.v : d->manual_policy.v;
	const char *key = gate ? "drill.unattended.gates" : "drill.unattended.manual";
	dr_strbuf msg = DR_STRBUF_INIT;

	if (!j->unattended || j->g->op != DR_OP_DRILL || j->xs[i].st != DR_SS_WAITING)
		return false;
	if (pol && !strcmp(pol, "auto-approve")) {
		const char *why = d->unattended_reason.v && *d->unattended_reason.v
				  ? d->unattended_reason.v : "(the plan gives no reason)";

		if (jappend(j, "unattended", json_pack("{s:s,s:s,s:s,s:s}", "step", s->id,
						       "decision", "auto-approve", "policy",
						       key, "reason", why)) == 0)
			step_done(j, i, DR_SS_SUCCEEDED, "auto-approved by policy: %s", why);
		return true;
	}
	if (gate)
		dr_strbuf_addf(&msg, "unattended drill: gate %s would wait for approval and "
			       "%s is fail: the drill fails here and cleans up", s->id, key);
	else
		dr_strbuf_addf(&msg, "unattended drill: manual step %s (\"%s\") would wait "
			       "for a person and %s is fail: the drill fails here and "
			       "cleans up", s->id,
			       s->action && s->action->manual.v ? s->action->manual.v : "", key);
	if (jappend(j, "unattended", json_pack("{s:s,s:s,s:s,s:s}", "step", s->id,
					       "decision", "fail", "policy", key,
					       "message", msg.buf)) == 0) {
		j->aborting = true;
		j->halt = true;
		free(j->abort_msg);
		j->abort_msg = dr_xstrdup(msg.buf);
		set_state(j, i, DR_SS_FAILED, msg.buf);
	}
	dr_strbuf_release(&msg);
	return true;
}

static void gate_wait(dr_job *j, size_t i, bool announce_only)
{
	const dr_gate *gt = gstep(j, i)->gate;
	json_t *ev;

	if (!announce_only) {
		json_t *rec = json_pack("{s:s,s:s,s:s,s:i,s:s}", "gate", gstep(j, i)->id,
					"step", gstep(j, i)->id, "event", "waiting", "needed",
					(int)gate_needed(j, i), "checks", "passed");

		if (jappend(j, "gate", rec) < 0)
			return;
		json_object_set_new(gate_obj(j, i), "waiting_since", json_integer(pnow(j)));
		if (set_state(j, i, DR_SS_WAITING, "waiting for approval") < 0)
			return;
	}
	if (unattended_decide(j, i))
		return;
	ev = json_pack("{s:s,s:s,s:i,s:i}", "step", gstep(j, i)->id, "gate",
		       gstep(j, i)->gate_name ? gstep(j, i)->gate_name : gstep(j, i)->id,
		       "approvals", (int)gate_needed(j, i), "approved",
		       (int)gate_approved(j, i, NULL));
	if (gt && gt->timeout.ms)
		json_object_set_new(ev, "timeout_ms", json_integer((json_int_t)gt->timeout.ms));
	emit(j, "gate-waiting", ev);
	arm_tick(j, i);
	gate_eval(j, i);
}

static void gate_check_done(dr_job *j, size_t i)
{
	struct task *t = j->xs[i].task;

	if (t->pending > 0 || j->fatal)
		return;
	if (j->cancel) {
		step_done(j, i, DR_SS_CANCELLED, "cancelled");
		return;
	}
	if (t->msg.len) {
		char *m = dr_xstrdup(t->msg.buf);

		step_done(j, i, DR_SS_FAILED, "gate checks failed: %s", m);
		free(m);
		return;
	}
	gate_wait(j, i, false);
}

/* Add one problem to a check task's message, "; "-separated. */
static void task_problem(struct task *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void task_problem(struct task *t, const char *fmt, ...)
{
	va_list ap;

	if (t->msg.len)
		dr_strbuf_addstr(&t->msg, "; ");
	va_start(ap, fmt);
	dr_strbuf_vaddf(&t->msg, fmt, ap);
	va_end(ap);
}

static void on_gate_item(void *ud, int rc, const dr_prov_item *it, const dr_prov_error *err)
{
	struct task *t = ud;
	dr_job *j = t->j;

	t->pending--;
	if (j->fatal)
		return;
	if (rc < 0)
		task_problem(t, "%s", err && err->message ? err->message : dr_strerror(rc));
	else if (!dr_prov_item_allows(it, "Commit"))
		task_problem(t, "%s is not failed over and ready to commit (%s)", it->name,
			     it->protection_state ? it->protection_state : "?");
	gate_check_done(j, t->i);
}

static void run_gate(dr_job *j, size_t i)
{
	const dr_gate *gt = gstep(j, i)->gate;
	unsigned checks = gt ? gt->checks : 0;
	struct task *t = task_of(j, i);

	dr_strbuf_reset(&t->msg);
	t->pending = 1; /* held until every check is sent */
	if (checks & DR_CHECK_POST_HOOKS) {
		for (size_t k = 0; k < j->n; k++) {
			const dr_step *s = gstep(j, k);

			if (s->kind == DR_STEP_HOOK && s->phase == DR_PHASE_MAIN &&
			    j->xs[k].st != DR_SS_SUCCEEDED)
				task_problem(t, "hook %s is %s", s->id,
					     state_names[j->xs[k].st]);
		}
	}
	if (checks & (DR_CHECK_CRITICAL_HEALTHY | DR_CHECK_ALL_HEALTHY)) {
		for (size_t g = 0; g < j->p->ngroups; g++)
			for (size_t m = 0; m < j->p->groups[g].nmachines; m++) {
				const dr_machine *mm = &j->p->machines[j->p->groups[g].machines[m]];

				if (!(checks & DR_CHECK_ALL_HEALTHY) && !mm->critical.v)
					continue;
				t->pending++;
				if (dr_provider_get_item(j->o.provider, mm->name.v,
							 on_gate_item, t) < 0) {
					t->pending--;
					task_problem(t, "%s", dr_error_msg());
				}
			}
	}
	t->pending--;
	gate_check_done(j, i);
}

static void gate_timeout(dr_job *j, size_t i)
{
	const dr_gate *gt = gstep(j, i)->gate;
	json_t *go = gate_obj(j, i);
	char d[32];

	if (json_object_get(go, "timed_out"))
		return;
	json_object_set_new(go, "timed_out", json_true());
	dr_format_duration(gt->timeout.ms, d, sizeof(d));
	if (jappend(j, "gate", json_pack("{s:s,s:s}", "gate", gstep(j, i)->id, "event",
					 "timeout")) < 0)
		return;
	switch (gt->on_timeout) {
	case DR_TIMEOUT_WAIT:
		warn(j, i, "%s: no decision after %s; still waiting (onTimeout: wait)",
		     gstep(j, i)->id, d);
		break;
	case DR_TIMEOUT_COMMIT:
		step_done(j, i, DR_SS_SUCCEEDED,
			  "no decision after %s: going on (onTimeout: commit)", d);
		break;
	case DR_TIMEOUT_ROLLBACK:
		step_done(j, i, DR_SS_FAILED,
			  "no decision after %s (onTimeout: rollback): a failover "
			  "cannot be rolled back; the job stops at the gate", d);
		break;
	case DR_TIMEOUT_FAIL:
		step_done(j, i, DR_SS_FAILED, "no decision after %s (onTimeout: fail)", d);
		break;
	}
}

static void tick_cb(dr_loop *loop, void *ud)
{
	struct task *t = ud;
	dr_job *j = t->j;
	size_t i = t->i;
	const dr_step *s = gstep(j, i);
	int64_t now;

	(void)loop;
	t->timer = NULL;
	if (j->fatal)
		return;
	now = pnow(j);
	if (s->kind == DR_STEP_WAIT && j->xs[i].st == DR_SS_RUNNING) {
		if (now - j->xs[i].start_pt >= (int64_t)s->wait_ms) {
			step_done(j, i, DR_SS_SUCCEEDED, NULL);
			return;
		}
	} else if (s->kind == DR_STEP_GATE && j->xs[i].st == DR_SS_WAITING) {
		json_t *since = json_object_get(gate_obj(j, i), "waiting_since");

		if (s->gate && s->gate->timeout.ms && since &&
		    now - json_integer_value(since) >= (int64_t)s->gate->timeout.ms)
			gate_timeout(j, i);
		if (j->xs[i].st != DR_SS_WAITING)
			return;
		/* A gate that keeps waiting needs no ticks once timed out. */
		if (!s->gate || !s->gate->timeout.ms ||
		    json_object_get(gate_obj(j, i), "timed_out"))
			return;
	} else {
		return;
	}
	arm_tick(j, i);
}

static void on_verify_item(void *ud, int rc, const dr_prov_item *it, const dr_prov_error *err)
{
	struct task *t = ud;
	dr_job *j = t->j;

	t->pending--;
	if (j->fatal)
		return;
	if (rc < 0)
		task_problem(t, "%s", err && err->message ? err->message : dr_strerror(rc));
	else if (it->test_failover_state && strcmp(it->test_failover_state, "None"))
		task_problem(t, "%s still has a test failover (%s)", it->name,
			     it->test_failover_state);
	if (t->pending)
		return;
	if (t->msg.len) {
		char *m = dr_xstrdup(t->msg.buf);

		step_done(j, t->i, DR_SS_FAILED, "cleanup incomplete: %s", m);
		free(m);
	} else {
		step_done(j, t->i, DR_SS_SUCCEEDED, NULL);
	}
}

static void run_verify(dr_job *j, size_t i)
{
	struct task *t = task_of(j, i);

	dr_strbuf_reset(&t->msg);
	t->pending = 1;
	for (size_t g = 0; g < j->p->ngroups; g++)
		for (size_t m = 0; m < j->p->groups[g].nmachines; m++) {
			t->pending++;
			if (dr_provider_get_item(j->o.provider,
						 j->p->machines[j->p->groups[g].machines[m]].name.v,
						 on_verify_item, t) < 0)
				t->pending--;
		}
	/* Drop the hold through the callback path. */
	t->pending--;
	if (t->pending == 0)
		step_done(j, i, t->msg.len ? DR_SS_FAILED : DR_SS_SUCCEEDED, NULL);
}

static void manual_wait(dr_job *j, size_t i, bool announce_only)
{
	const dr_action *a = gstep(j, i)->action;

	if (!announce_only && set_state(j, i, DR_SS_WAITING, "waiting for `continue`") < 0)
		return;
	if (unattended_decide(j, i))
		return;
	emit(j, "manual-waiting",
	     json_pack("{s:s,s:s}", "step", gstep(j, i)->id, "instruction",
		       a && a->manual.v ? a->manual.v : ""));
}

static void run_step(dr_job *j, size_t i)
{
	const dr_step *s = gstep(j, i);

	if (s->kind == DR_STEP_MANUAL) {
		manual_wait(j, i, false);
		return;
	}
	if (s->kind == DR_STEP_COMMIT && !j->pnr_done) {
		j->pnr_done = true;
		if (jappend(j, "point-of-no-return", json_pack("{s:s}", "step", gstep(j, i)->id)) < 0)
			return;
		emit(j, "point-of-no-return",
		     json_pack("{s:s,s:s}", "step", gstep(j, i)->id, "message",
			       "committing the failover: other recovery points are "
			       "deleted and there is no way back"));
	}
	if (set_state(j, i, DR_SS_RUNNING, NULL) < 0)
		return;
	switch (s->kind) {
	case DR_STEP_GROUP_START:
	case DR_STEP_GROUP_JOIN:
	case DR_STEP_GROUP_END:
		step_done(j, i, DR_SS_SUCCEEDED, NULL);
		break;
	case DR_STEP_SHUTDOWN_SOURCE:
		/* ASR shuts the source down as the failover's first task
		 * (shutdownSource in the request): nothing to send here. */
		step_done(j, i, DR_SS_SUCCEEDED, "done by the failover request");
		break;
	case DR_STEP_HOOK:
		run_hook(j, i);
		break;
	case DR_STEP_GATE:
		run_gate(j, i);
		break;
	case DR_STEP_WAIT:
		arm_tick(j, i);
		break;
	case DR_STEP_VERIFY_CLEANUP:
		run_verify(j, i);
		break;
	default:
		assert(preq_of(s->kind) >= 0);
		op_begin(j, i);
		break;
	}
}

/* ---- control requests -------------------------------------------------- */

static long find_step(dr_job *j, const char *id)
{
	json_t *v = id ? json_object_get(j->ids, id) : NULL;

	return v ? (long)json_integer_value(v) : -1;
}

static long waiting_gate(dr_job *j, const char *name)
{
	for (size_t i = 0; i < j->n; i++) {
		const dr_step *s = gstep(j, i);

		if (s->kind != DR_STEP_GATE || j->xs[i].st != DR_SS_WAITING)
			continue;
		if (name && strcmp(name, s->id) &&
		    (!s->gate_name || strcmp(name, s->gate_name)))
			continue;
		return (long)i;
	}
	return -1;
}

static void recompute_halt(dr_job *j)
{
	j->halt = j->aborting;
	for (size_t i = 0; i < j->n; i++)
		if (j->xs[i].st == DR_SS_FAILED && !j->xs[i].nc_failed)
			j->halt = true;
}

static void reopen(dr_job *j)
{
	if (!j->ended)
		return;
	if (jappend(j, "job-reopen", NULL) < 0)
		return;
	j->ended = false;
	j->cancel = false;
	j->rejected = false;
	j->status = DR_JOB_RUNNING;
}

static void do_cancel(dr_job *j)
{
	j->cancel = true;
	for (size_t i = 0; i < j->n && !j->fatal; i++) {
		struct xstep *x = &j->xs[i];

		if (x->st == DR_SS_WAITING ||
		    (x->st == DR_SS_RUNNING && gstep(j, i)->kind == DR_STEP_WAIT)) {
			step_done(j, i, DR_SS_CANCELLED, "cancelled");
		} else if (x->st == DR_SS_RUNNING && x->task && x->task->serving) {
			/* hook_done runs before this returns and ends the step. */
			dr_hook_serve_cancel(x->task->serving);
		} else if (x->st == DR_SS_RUNNING && preq_of(gstep(j, i)->kind) >= 0 &&
			   !x->cancel_noted) {
			x->cancel_noted = true;
			emit(j, "cancel-waiting",
			     json_pack("{s:s,s:s}", "step", gstep(j, i)->id, "message",
				       "waiting for this operation to finish: ASR operations "
				       "in flight are not cancelled (a cancelled failover "
				       "leaves the machine unable to replicate)"));
		}
	}
}

/*
 * A recovery point change for machine m: a provider step of its own
 * (journaled like any other), critical, outside the graph.
 */
static size_t add_extra(dr_job *j, const char *id, long m, const char *point)
{
	dr_step *s;
	dr_recovery_point *rp;
	size_t i;

	if (!j->xa)
		j->xa = dr_arena_new();
	DR_ALLOC_GROW(j->extra, j->nx + 1, j->ax);
	j->xs = dr_xrealloc(j->xs, (j->n + j->nx + 1) * sizeof(*j->xs));
	i = j->n + j->nx;
	memset(&j->xs[i], 0, sizeof(j->xs[i]));
	j->xs[i].chain = -1;
	rp = dr_arena_zalloc(j->xa, sizeof(*rp));
	if (!strcmp(point, "latest"))
		rp->kind = DR_RP_LATEST;
	else if (!strcmp(point, "latest-processed"))
		rp->kind = DR_RP_LATEST_PROCESSED;
	else if (!strcmp(point, "latest-app-consistent"))
		rp->kind = DR_RP_LATEST_APP_CONSISTENT;
	else {
		rp->kind = DR_RP_CUSTOM;
		rp->id = dr_arena_strdup(j->xa, point);
	}
	s = &j->extra[j->nx++];
	memset(s, 0, sizeof(*s));
	s->id = id ? dr_arena_strdup(j->xa, id)
		   : dr_arena_printf(j->xa, "%s/change-rp/%s/%zu", gstep(j, (size_t)j->g->gate)->id,
				     j->p->machines[m].name.v, j->nx);
	s->kind = STEP_APPLY_RP;
	s->phase = DR_PHASE_GATE;
	s->machine = m;
	s->group = -1;
	s->rp = rp;
	s->flags = DR_STEP_F_CRITICAL;
	s->direction = j->g->direction;
	j->cnt[DR_SS_PENDING]++;
	json_object_set_new(j->ids, s->id, json_integer((json_int_t)i));
	return i;
}

/* Act on one request; returns NULL (accepted) or why it was refused. */
static const char *handle(dr_job *j, json_t *rq, dr_strbuf *why)
{
	const char *action = json_string_value(json_object_get(rq, "action"));
	const char *by = json_string_value(json_object_get(rq, "by"));
	const char *stepid = json_string_value(json_object_get(rq, "step"));
	long i = find_step(j, stepid);

	if (!by)
		by = "unknown";
	if (!action)
		return "no action";
	if (!strcmp(action, "approve") || !strcmp(action, "reject")) {
		long g = waiting_gate(j, json_string_value(json_object_get(rq, "gate")));
		json_t *c = json_object_get(rq, "comment");

		if (g < 0) {
			dr_strbuf_addf(why, "job %s is not waiting at a gate", j->id);
			return why->buf;
		}
		if (gstep(j, g)->gate && gstep(j, g)->gate->approvers.n) {
			/* The plan names approver keys: only signed decisions count. */
			json_t *sig = json_object_get(rq, "signature");
			char *doc = json_is_string(sig) ? dr_xstrdup(json_string_value(sig))
				    : sig ? json_dumps(sig, JSON_COMPACT) : NULL;
			dr_approval_result res;
			int vrc;

			if (!doc) {
				dr_strbuf_addf(why, "gate %s needs a signed %s (the plan names "
					       "approver keys)", gstep(j, g)->id, action);
				return why->buf;
			}
			vrc = dr_approval_verify(j->p, gstep(j, g)->gate, j->id, j->plan_digest,
						 gstep(j, g)->gate_name, doc, (uint64_t)dr_wall_ms(), 0,
						 &j->seen[gstep(j, g)->gate == &j->p->failback_gate],
						 &res);
			if (vrc < 0) {
				free(doc);
				dr_strbuf_addstr(why, dr_error_msg());
				return why->buf;
			}
			if (jappend(j, "approval", json_pack("{s:s,s:s,s:s,s:s,s:b,s:s}", "gate",
							     gstep(j, g)->id, "by", res.by, "key", res.key,
							     "decision", dr_approval_decision_name(res.decision),
							     "counted", res.counted, "signature", doc)) < 0) {
				free(doc);
				return NULL;
			}
			free(doc);
			if (res.decision == DR_APPROVAL_REJECT) {
				if (jappend(j, "gate", json_pack("{s:s,s:s,s:s}", "gate", gstep(j, g)->id,
								 "event", "rejected", "by", res.by)) < 0)
					return NULL;
				j->rejected = true;
				step_done(j, g, DR_SS_FAILED, "rejected by %s (signed)", res.by);
				return NULL;
			}
			{
				json_t *a = json_pack("{s:s}", "by", res.by);

				if (!json_object_get(gate_obj(j, g), "approvals"))
					json_object_set_new(gate_obj(j, g), "approvals", json_array());
				json_array_append_new(json_object_get(gate_obj(j, g), "approvals"), a);
			}
			gate_eval(j, g);
			return NULL;
		}
		if (!strcmp(action, "approve")) {
			json_t *a = json_pack("{s:s,s:s}", "gate", gstep(j, g)->id, "by", by);

			if (json_is_string(c))
				json_object_set(a, "comment", c);
			if (jappend(j, "approval", json_deep_copy(a)) < 0) {
				json_decref(a);
				return NULL;
			}
			if (!json_object_get(gate_obj(j, g), "approvals"))
				json_object_set_new(gate_obj(j, g), "approvals", json_array());
			json_array_append_new(json_object_get(gate_obj(j, g), "approvals"), a);
			gate_eval(j, g);
		} else {
			if (jappend(j, "gate", json_pack("{s:s,s:s,s:s,s:s}", "gate", gstep(j, g)->id,
							 "event", "rejected", "by", by, "comment",
							 json_is_string(c) ? json_string_value(c) : "")) < 0)
				return NULL;
			j->rejected = true;
			step_done(j, g, DR_SS_FAILED, "rejected by %s%s%s", by,
				  json_is_string(c) ? ": " : "",
				  json_is_string(c) ? json_string_value(c) : "");
		}
		return NULL;
	}
	if (!strcmp(action, "cancel")) {
		if (j->ended) {
			dr_strbuf_addf(why, "job %s has already ended (%s)", j->id,
				       status_names[j->status]);
			return why->buf;
		}
		do_cancel(j);
		return NULL;
	}
	if (!strcmp(action, "retry") || !strcmp(action, "skip") || !strcmp(action, "continue")) {
		struct xstep *x;

		if (i < 0) {
			dr_strbuf_addf(why, "no step '%s' in job %s", stepid ? stepid : "", j->id);
			return why->buf;
		}
		x = &j->xs[i];
		if (!strcmp(action, "continue")) {
			if (gstep(j, i)->kind != DR_STEP_MANUAL || x->st != DR_SS_WAITING) {
				dr_strbuf_addf(why, "step '%s' is not a manual step waiting to "
					       "be continued (it is %s)", stepid,
					       state_names[x->st]);
				return why->buf;
			}
			step_done(j, i, DR_SS_SUCCEEDED, "continued by %s", by);
			return NULL;
		}
		if (!strcmp(action, "retry")) {
			if (x->st != DR_SS_FAILED && x->st != DR_SS_CANCELLED) {
				dr_strbuf_addf(why, "step '%s' is %s; only failed or cancelled "
					       "steps can be retried", stepid, state_names[x->st]);
				return why->buf;
			}
			reopen(j);
			if (gstep(j, i)->kind == DR_STEP_GATE) {
				if (jappend(j, "gate", json_pack("{s:s,s:s}", "gate", gstep(j, i)->id,
								 "event", "reset")) < 0)
					return NULL;
				json_object_del(gate_obj(j, i), "approvals");
				json_object_del(gate_obj(j, i), "timed_out");
				j->rejected = false;
			}
			x->attempt++;
			if (set_state(j, i, DR_SS_READY, NULL) < 0)
				return NULL;
			recompute_halt(j);
			push_ready(j, i);
			return NULL;
		}
		if (gstep(j, i)->kind == DR_STEP_GATE) {
			dr_strbuf_addf(why, "step '%s' is a gate; gates cannot be skipped", stepid);
			return why->buf;
		}
		if (x->st != DR_SS_FAILED && x->st != DR_SS_CANCELLED &&
		    !(x->st == DR_SS_WAITING && gstep(j, i)->kind == DR_STEP_MANUAL)) {
			dr_strbuf_addf(why, "step '%s' is %s; only failed, cancelled or "
				       "waiting manual steps can be skipped", stepid,
				       state_names[x->st]);
			return why->buf;
		}
		reopen(j);
		step_done(j, i, DR_SS_SKIPPED, "skipped by %s", by);
		recompute_halt(j);
		return NULL;
	}
	if (!strcmp(action, "change-recovery-point")) {
		const char *mn = json_string_value(json_object_get(rq, "machine"));
		const char *point = json_string_value(json_object_get(rq, "point"));
		long g = waiting_gate(j, "commit"), m = -1;
		bool ok = false;

		for (size_t k = 0; mn && k < j->p->nmachines; k++)
			if (!strcmp(j->p->machines[k].name.v, mn))
				m = (long)k;
		for (size_t k = 0; m >= 0 && k < j->n; k++)
			if (gstep(j, k)->machine == m &&
			    gstep(j, k)->kind == DR_STEP_UNPLANNED_FAILOVER &&
			    j->xs[k].st == DR_SS_SUCCEEDED)
				ok = true;
		if (g < 0 || !point || !*point) {
			dr_strbuf_addf(why, "job %s is not waiting at the commit gate", j->id);
			return why->buf;
		}
		if (!ok) {
			dr_strbuf_addf(why, "machine '%s' has no completed failover in job %s",
				       mn ? mn : "", j->id);
			return why->buf;
		}
		make_ready(j, add_extra(j, NULL, m, point));
		return NULL;
	}
	dr_strbuf_addf(why, "'%s' is not supported by this runner", action);
	return why->buf;
}

/* Read and act on new control requests; returns how many. */
static int read_control(dr_job *j)
{
	int handled = 0;
	dr_strbuf key = DR_STRBUF_INIT, buf = DR_STRBUF_INIT, why = DR_STRBUF_INIT;
	uint64_t size = 0;
	size_t pos = 0;

	dr_job__control_key(j->id, &key);
	if (dr_store_size(j->o.store, key.buf, &size) < 0 || size <= j->ctl_offset)
		goto out;
	if (dr_store_read_range(j->o.store, key.buf, j->ctl_offset,
				(size_t)(size - j->ctl_offset), &buf) < 0)
		goto out;
	while (!j->fatal) {
		char *nl = memchr(buf.buf + pos, '\n', buf.len - pos);
		json_t *rq, *rec;
		const char *refused;

		if (!nl)
			break; /* a request still being written */
		*nl = '\0';
		rq = json_loads(buf.buf + pos, 0, NULL);
		pos = (size_t)(nl - buf.buf) + 1;
		dr_strbuf_reset(&why);
		if (!json_is_object(rq))
			refused = "not a JSON object";
		else
			refused = handle(j, rq, &why);
		if (j->fatal) {
			json_decref(rq);
			break;
		}
		rec = json_pack("{s:I,s:O?,s:s}", "offset", (json_int_t)(j->ctl_offset + pos),
				"request", json_is_object(rq) ? rq : NULL, "result",
				refused ? "refused" : "accepted");
		if (refused)
			json_object_set_new(rec, "message", json_string(refused));
		if (jappend(j, "control", json_deep_copy(rec)) < 0) {
			json_decref(rec);
			json_decref(rq);
			break;
		}
		emit(j, "control", rec);
		json_decref(rq);
		handled++;
	}
	j->ctl_offset += pos;
out:
	dr_strbuf_release(&key);
	dr_strbuf_release(&buf);
	dr_strbuf_release(&why);
	return handled;
}

static void ctl_timer_cb(dr_loop *loop, void *ud)
{
	dr_job *j = ud;

	(void)loop;
	j->ctl_timer = NULL;
	if (j->fatal || j->ended)
		return;
	if (read_control(j) > 0)
		schedule(j);
	if (!j->fatal && !j->ended && !j->detached)
		j->ctl_timer = dr_loop_timer(j->o.loop, j->o.control_poll_ms
					     ? j->o.control_poll_ms : 1000, ctl_timer_cb, j);
}

/* ---- the plan lock ----------------------------------------------------- */

static unsigned lock_ttl(const dr_job *j)
{
	return j->o.lock_ttl_ms ? j->o.lock_ttl_ms : DR_JOB_LOCK_TTL_MS;
}

static void renew_cb(dr_loop *loop, void *ud);

static void arm_renew(dr_job *j)
{
	unsigned every = lock_ttl(j) / 3;

	if (!j->renew_timer && !j->fatal && !j->ended && !j->lock_lost)
		j->renew_timer = dr_loop_timer(j->o.loop, every ? every : 1, renew_cb, j);
}

/*
 * The lease is gone (or may be): another runner may take the lock and
 * resume the job, so start nothing more. What runs finishes and is
 * journaled; lock_park() then stops the job.
 */
static void lock_lost(dr_job *j, const char *why)
{
	j->lock_lost = true;
	warn(j, (size_t)-1, "lock '%s' lost (%s): starting no new steps; the steps in "
	     "flight finish, then the job stops and can be resumed with `drplan job "
	     "resume %s`", j->p->name.v, why, j->id);
	schedule(j);
}

static void renew_cb(dr_loop *loop, void *ud)
{
	dr_job *j = ud;
	int rc;

	j->renew_timer = NULL;
	if (j->fatal || j->ended || j->lock_lost)
		return;
	rc = dr_store_lock_renew(j->lock);
	if (rc == 0 && j->sim_lock)
		rc = dr_store_lock_renew(j->sim_lock);
	if (rc == 0) {
		j->renewed_ms = dr_loop_now(loop);
	} else if (rc == DR_ECONFLICT || dr_loop_now(loop) - j->renewed_ms >= lock_ttl(j)) {
		/* Refused, or not renewed for a whole lease: it has expired. */
		char why[512];

		snprintf(why, sizeof(why), "%s", dr_error_msg());
		lock_lost(j, why);
		return;
	}
	arm_renew(j);
}

/* With the lock lost: stop once nothing is in flight (true: stopped or
 * still waiting for steps in flight; the caller does nothing more). */
static bool lock_park(dr_job *j)
{
	if (j->fatal || j->ended)
		return true;
	for (size_t i = 0; i < j->n + j->nx; i++)
		if (j->xs[i].st == DR_SS_RUNNING && gstep(j, i)->kind != DR_STEP_WAIT)
			return true;
	set_fatal(j, DR_ECONFLICT);
	return true;
}

/* ---- the end ----------------------------------------------------------- */

static void end_job(dr_job *j, dr_job_status_code st, const char *msg)
{
	int64_t now = pnow(j);
	json_t *rec = json_pack("{s:s,s:I,s:I,s:O}", "status", status_names[st],
				"duration_ms", (json_int_t)(now - j->start_pt), "rto_ms",
				(json_int_t)(j->main_end_pt > j->start_pt
					     ? j->main_end_pt - j->start_pt : 0),
				"rpo", j->rpo);

	if (msg)
		json_object_set_new(rec, "message", json_string(msg));
	if (jappend(j, "job-end", json_deep_copy(rec)) < 0) {
		json_decref(rec);
		return;
	}
	j->ended = true;
	j->status = st;
	json_object_set_new(rec, "warnings", json_integer((json_int_t)j->warnings));
	json_object_set_new(rec, "job", json_string(j->id));
	emit(j, "job-finished", rec);
}

static bool lock_park(dr_job *j);

static void check_done(dr_job *j)
{
	size_t done;

	if (j->lock_lost && lock_park(j))
		return;
	if (j->fatal || j->ended || j->cnt[DR_SS_RUNNING] > 0)
		return;
	if (j->rh < j->rn && (!j->halt || j->aborting) && !j->cancel)
		return; /* schedule() will start them */
	if (j->cancel) {
		for (size_t i = 0; i < j->n && !j->fatal; i++)
			if (j->xs[i].st == DR_SS_WAITING)
				step_done(j, i, DR_SS_CANCELLED, "cancelled");
		if (!j->fatal)
			end_job(j, DR_JOB_CANCELLED, "cancelled on request");
		return;
	}
	if (j->rejected) {
		end_job(j, DR_JOB_REJECTED, "rejected at the gate: failed over, not committed");
		return;
	}
	if (j->aborting) {
		dr_strbuf m = DR_STRBUF_INIT;

		dr_strbuf_addf(&m, "%s; the cleanup phase ran", j->abort_msg ? j->abort_msg
			       : "the unattended drill failed");
		end_job(j, DR_JOB_FAILED, m.buf);
		dr_strbuf_release(&m);
		return;
	}
	if (j->halt) {
		end_job(j, DR_JOB_FAILED, "a critical step failed; `retry STEP` or `skip STEP` "
			"to continue");
		return;
	}
	if (j->cnt[DR_SS_WAITING] > 0) {
		if (j->status != DR_JOB_WAITING) {
			j->status = DR_JOB_WAITING;
			jappend(j, "job-waiting", NULL);
		}
		return;
	}
	done = j->cnt[DR_SS_SUCCEEDED] + j->cnt[DR_SS_SKIPPED] + j->cnt[DR_SS_FAILED];
	if (done == j->n + j->nx) {
		end_job(j, DR_JOB_SUCCEEDED, j->cnt[DR_SS_FAILED]
			? "succeeded with warnings: optional steps failed" : NULL);
		return;
	}
	/* Nothing runs, nothing waits, and steps remain: their dependencies
	 * can no longer succeed (cancelled steps). */
	end_job(j, DR_JOB_FAILED, "steps are blocked by cancelled dependencies");
}

/* ---- setup ------------------------------------------------------------- */

static uint32_t graph_digest(const dr_graph *g)
{
	uint32_t crc = 0;

	for (size_t i = 0; i < g->nsteps; i++) {
		crc = dr_crc32c(crc, g->steps[i].id, strlen(g->steps[i].id) + 1);
		crc = dr_crc32c(crc, &(uint8_t){ (uint8_t)g->steps[i].kind }, 1);
	}
	return crc;
}

static void job_alloc(dr_job *j, const dr_plan *p, const dr_graph *g, const dr_job_opts *o)
{
	size_t nc = 0;

	j->o = *o;
	j->p = p;
	j->g = g;
	j->outputs = json_object();
	j->n = g->nsteps;
	j->xs = dr_xcalloc(j->n ? j->n : 1, sizeof(*j->xs));
	j->rev_off = dr_xcalloc(j->n + 1, sizeof(size_t));
	j->ids = json_object();
	j->rpo = json_object();
	j->gates = json_object();
	j->cnt[DR_SS_PENDING] = j->n;
	j->lost = dr_xcalloc(p->nmachines + 1, 1);
	if (o->by)
		snprintf(j->by, sizeof(j->by), "%s", o->by);
	else
		dr_job__whoami(j->by, sizeof(j->by));

	for (size_t i = 0; i < j->n; i++) {
		j->xs[i].chain = -1;
		j->xs[i].deps_left = (uint32_t)g->steps[i].ndeps;
		for (size_t k = 0; k < g->steps[i].ndeps; k++)
			j->rev_off[g->steps[i].deps[k] + 1]++;
		json_object_set_new_nocheck(j->ids, g->steps[i].id, json_integer((json_int_t)i));
	}
	for (size_t i = 0; i < j->n; i++)
		j->rev_off[i + 1] += j->rev_off[i];
	j->rev = dr_xmalloc((j->rev_off[j->n] + 1) * sizeof(size_t));
	{
		size_t *fill = dr_xcalloc(j->n + 1, sizeof(size_t));

		for (size_t i = 0; i < j->n; i++)
			for (size_t k = 0; k < g->steps[i].ndeps; k++) {
				size_t d = g->steps[i].deps[k];

				j->rev[j->rev_off[d] + fill[d]++] = i;
			}
		free(fill);
	}
	for (size_t gp = 0; gp < g->ngphases; gp++)
		nc += g->gphases[gp].nchains;
	j->chains = dr_xcalloc(nc ? nc : 1, sizeof(*j->chains));
	j->gs = dr_xcalloc(g->ngphases ? g->ngphases : 1, sizeof(*j->gs));
	for (size_t gp = 0; gp < g->ngphases; gp++) {
		const dr_graph_gphase *ph = &g->gphases[gp];
		unsigned lim = ph->group >= 0 && (size_t)ph->group < g->ngroups
			       ? g->groups[ph->group].concurrency : 1;

		if (o->concurrency)
			lim = o->concurrency;
		j->gs[gp].limit = lim ? lim : 1;
		for (size_t c = 0; c < ph->nchains; c++) {
			struct chain *ch = &j->chains[j->nchains];

			ch->gphase = (uint32_t)gp;
			ch->first = (uint32_t)ph->chains[c].first;
			ch->last = (uint32_t)ph->chains[c].last;
			for (size_t s = ch->first; s <= ch->last; s++)
				j->xs[s].chain = (int32_t)j->nchains;
			j->nchains++;
		}
	}
}

static int take_locks(dr_job *j)
{
	char since[32], host[256];
	json_t *h;
	char *hs, *holder = NULL;
	int rc;

	/* Tests shorten the leases so a killed runner's job is taken over sooner. */
	if (!j->o.lock_ttl_ms && (rc = dr_store_lock_ttl_env(&j->o.lock_ttl_ms)) < 0)
		return rc;
	rfc3339_now(since);
	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	h = json_pack("{s:s,s:s,s:i,s:s,s:s}", "job", j->id, "host", host, "pid",
		      (int)getpid(), "since", since, "by", j->by);
	hs = json_dumps(h, JSON_COMPACT);
	json_decref(h);
	rc = dr_store_lock_acquire(j->o.store, j->p->name.v, hs, lock_ttl(j), &j->lock, &holder);
	free(holder);
	if (rc == 0 && j->o.persist_sim && dr_provider_sim(j->o.provider)) {
		/* The simulator's state is one object shared by every plan:
		 * one process at a time may own it. */
		holder = NULL;
		rc = dr_store_lock_acquire(j->o.store, "sim-state", hs, lock_ttl(j), &j->sim_lock,
					   &holder);
		free(holder);
	}
	free(hs);
	return rc;
}

static int load_sim(dr_job *j)
{
	dr_sim *sim;
	int rc;

	if (!j->o.persist_sim || !(sim = dr_provider_sim(j->o.provider)))
		return 0;
	rc = dr_sim_load_store(sim, j->o.store,
			       j->o.sim_state_key ? j->o.sim_state_key : DR_SIM_STATE_KEY,
			       &j->sim_version);
	if (rc < 0)
		return rc;
	return dr_sim_sync_plan(sim, j->p);
}

static int check_opts(const dr_plan *p, const dr_graph *g, const dr_job_opts *o)
{
	if (!p || !g || !o || !o->store || !o->provider || !o->loop)
		return dr_error_set(DR_EINVAL, "job: plan, graph, store, provider and loop are required");
	if (!p->name.v || !*p->name.v)
		return dr_error_set(DR_EINVAL, "job: the plan has no name");
	return 0;
}

static void start_event(dr_job *j)
{
	dr_notify *nt = j->notify;

	/* Resuming a finished job only to read it is no news for webhooks. */
	if (j->ended)
		j->notify = NULL;
	emit(j, "job-started",
	     json_pack("{s:s,s:s,s:s,s:I,s:b}", "job", j->id, "plan", j->p->name.v,
		       "operation", op_name(j->g->op), "steps",
		       (json_int_t)j->n, "resumed", j->resumed));
	j->notify = nt;
}

int dr_job_start(const dr_plan *p, const dr_graph *g, const dr_job_opts *o,
		 const char *job_id, dr_job **out)
{
	dr_job *j;
	json_t *hdr;
	char dig[16];
	int rc;

	*out = NULL;
	if ((rc = check_opts(p, g, o)) < 0)
		return rc;
	j = dr_xcalloc(1, sizeof(*j));
	if (job_id) {
		if (!dr_job_id_valid(job_id)) {
			free(j);
			return dr_error_set(DR_EINVAL, "'%s' is not a valid job id", job_id);
		}
		snprintf(j->id, sizeof(j->id), "%s", job_id);
	} else if ((rc = dr_job_id_new(p->name.v, op_name(g->op), j->id,
				       sizeof(j->id))) < 0) {
		free(j);
		return rc;
	}
	job_alloc(j, p, g, o);
	if ((rc = take_locks(j)) < 0 || (rc = load_sim(j)) < 0)
		goto fail;
	snprintf(dig, sizeof(dig), "%08x", graph_digest(g));
	hdr = o->header ? json_deep_copy(o->header) : json_object();
	j->start_pt = pnow(j);
	json_object_set_new(hdr, "plan", json_string(p->name.v));
	json_object_set_new(hdr, "operation", json_string(op_name(g->op)));
	json_object_set_new(hdr, "direction", json_string(dir_name(g->direction)));
	json_object_set_new(hdr, "nsteps", json_integer((json_int_t)g->nsteps));
	json_object_set_new(hdr, "digest", json_string(dig));
	json_object_set_new(hdr, "provider", json_string(dr_provider_name(o->provider)));
	json_object_set_new(hdr, "by", json_string(j->by));
	json_object_set_new(hdr, "pt", json_integer(j->start_pt));
	j->unattended = o->unattended && g->op == DR_OP_DRILL;
	if (j->unattended)
		json_object_set_new(hdr, "unattended", json_true());
	if (json_is_string(json_object_get(hdr, "plan_digest")))
		snprintf(j->plan_digest, sizeof(j->plan_digest), "%s",
			 json_string_value(json_object_get(hdr, "plan_digest")));
	else if ((p->commit_gate.approvers.n || p->failback_gate.approvers.n) && p->file &&
		 dr_plan_digest(p, j->plan_digest) == 0)
		json_object_set_new(hdr, "plan_digest", json_string(j->plan_digest));
	rc = dr_journal_create(o->store, j->id, hdr, &j->jr);
	json_decref(hdr);
	if (rc < 0 || (rc = notify_open(j)) < 0)
		goto fail;
	*out = j;
	return 0;
fail:
	dr_job_free(j);
	return rc;
}

/* Rebuild step i from its replayed status. */
static int restore_step(dr_job *j, size_t i, json_t *st)
{
	struct xstep *x = &j->xs[i];
	dr_step_state s = DR_SS_PENDING; /* set by the parse; -O3 can't tell */
	const char *ops;
	json_t *v;

	if (dr_step_state_parse(json_string_value(json_object_get(st, "state")), &s) < 0)
		return dr_error_set(DR_EINVAL, "job %s: step %s has a bad state in the journal",
				    j->id, gstep(j, i)->id);
	j->cnt[x->st]--;
	j->cnt[s]++;
	x->st = (uint8_t)s;
	x->attempt = (uint16_t)json_integer_value(json_object_get(st, "attempt"));
	x->nc_failed = s == DR_SS_FAILED && !is_critical(j, i);
	x->start_pt = json_integer_value(json_object_get(st, "started"));
	ops = json_string_value(json_object_get(st, "op_state"));
	x->opst = !ops ? OP_NONE : !strcmp(ops, "intent") ? OP_INTENT
		: !strcmp(ops, "accepted") ? OP_ACCEPTED : !strcmp(ops, "finished")
		? OP_FINISHED : OP_NONE;
	if ((v = json_object_get(st, "op_id")) && json_is_string(v) && x->opst == OP_ACCEPTED)
		x->op_id = dr_xstrdup(json_string_value(v));
	if ((v = json_object_get(st, "crid")) && json_is_string(v))
		x->crid = dr_xstrdup(json_string_value(v));
	x->intent_pt = json_integer_value(json_object_get(st, "intent_pt"));
	if ((v = json_object_get(st, "done_ops")))
		x->done_ops = json_incref(v);
	if ((v = json_object_get(st, "target"))) {
		const char *ts = json_string_value(json_object_get(v, "state"));
		json_int_t at = json_integer_value(json_object_get(v, "attempt"));

		if (ts && (!strcmp(ts, "updated") || !strcmp(ts, "unchanged") ||
			   !strcmp(ts, "not-applied")))
			x->target_at = (uint16_t)(at + 1);
	}
	/* Running, nothing sent, no target result for this attempt: the last
	 * runner may have been updating the target settings. */
	x->target_open = s == DR_SS_RUNNING && x->opst == OP_NONE &&
			 x->target_at != x->attempt + 1;
	if (s == DR_SS_SKIPPED && json_is_string(json_object_get(st, "message")) &&
	    strstr(json_string_value(json_object_get(st, "message")), "operation failed earlier"))
		x->machine_lost = true;
	if (gstep(j, i)->machine >= 0 && (x->machine_lost ||
	    (x->nc_failed && preq_of(gstep(j, i)->kind) >= 0)))
		j->lost[gstep(j, i)->machine] = 1;
	return 0;
}

int dr_job_resume(const char *job_id, const dr_plan *p, const dr_graph *g,
		  const dr_job_opts *o, dr_job **out)
{
	dr_journal_replay_info info;
	json_t *doc = NULL, *steps, *v;
	dr_job *j;
	char dig[16];
	const char *k;
	int rc;

	*out = NULL;
	if ((rc = check_opts(p, g, o)) < 0)
		return rc;
	if (!dr_job_id_valid(job_id))
		return dr_error_set(DR_EINVAL, "'%s' is not a valid job id", job_id);
	j = dr_xcalloc(1, sizeof(*j));
	snprintf(j->id, sizeof(j->id), "%s", job_id);
	job_alloc(j, p, g, o);
	j->resumed = true;
	/* Lock first: the journal must not move under our replay. */
	if ((rc = take_locks(j)) < 0)
		goto fail;
	if ((rc = dr_job__replay(o->store, job_id, &doc, &info)) < 0)
		goto fail;
	snprintf(dig, sizeof(dig), "%08x", graph_digest(g));
	if (!json_is_string(json_object_get(doc, "digest")) ||
	    strcmp(json_string_value(json_object_get(doc, "digest")), dig) ||
	    (size_t)json_integer_value(json_object_get(doc, "steps_total")) != g->nsteps ||
	    strcmp(json_string_value(json_object_get(doc, "operation"))
		   ? json_string_value(json_object_get(doc, "operation")) : "",
		   op_name(g->op))) {
		rc = dr_error_set(DR_EINVAL,
				  "job %s: the plan changed since the job started (the step "
				  "graph differs); finish it with the plan it started with",
				  job_id);
		goto fail;
	}
	if ((rc = dr_journal_open(o->store, job_id, info.torn ? DR_JOURNAL_TRUNCATE_TAIL : 0,
				  &j->jr, NULL)) < 0)
		goto fail;
	if ((rc = load_sim(j)) < 0)
		goto fail;
	j->start_pt = json_integer_value(json_object_get(doc, "started"));
	steps = json_object_get(doc, "steps");
	json_object_foreach(steps, k, v) {
		long i = find_step(j, k);

		if (i < 0 && strstr(k, "/change-rp/") &&
		    json_is_string(json_object_get(v, "machine")) &&
		    json_is_string(json_object_get(v, "point"))) {
			long m = -1;

			for (size_t q = 0; q < p->nmachines; q++)
				if (!strcmp(p->machines[q].name.v,
					    json_string_value(json_object_get(v, "machine"))))
					m = (long)q;
			if (m >= 0)
				i = (long)add_extra(j, k, m,
						    json_string_value(json_object_get(v, "point")));
		}
		if (i < 0) {
			rc = dr_error_set(DR_EINVAL, "job %s: the journal names step '%s', which "
					  "the plan no longer has", job_id, k);
			goto fail;
		}
		if ((rc = restore_step(j, (size_t)i, v)) < 0)
			goto fail;
		{
			json_t *h = json_object_get(v, "hook");
			const char *hs = json_string_value(json_object_get(h, "status"));

			if (hs && !strcmp(hs, "ok") && json_object_get(h, "outputs"))
				json_object_set_new(j->outputs, k,
					json_deep_copy(json_object_get(h, "outputs")));
		}
		if (gstep(j, i)->phase == DR_PHASE_MAIN &&
		    json_integer_value(json_object_get(v, "ended")) > j->main_end_pt)
			j->main_end_pt = json_integer_value(json_object_get(v, "ended"));
	}
	json_decref(j->gates);
	j->gates = json_deep_copy(json_object_get(doc, "gates"));
	if (!j->gates)
		j->gates = json_object();
	json_object_foreach(j->gates, k, v)
		if (json_object_get(v, "rejected"))
			j->rejected = true;
	json_decref(j->rpo);
	j->rpo = json_deep_copy(json_object_get(doc, "rpo"));
	if (!j->rpo)
		j->rpo = json_object();
	if (json_is_string(json_object_get(doc, "plan_digest")))
		snprintf(j->plan_digest, sizeof(j->plan_digest), "%s",
			 json_string_value(json_object_get(doc, "plan_digest")));
	json_object_foreach(j->gates, k, v) {
		long gi = find_step(j, k);
		json_t *a;
		size_t q;

		if (gi < 0 || !gstep(j, gi)->gate || !gstep(j, gi)->gate->approvers.n)
			continue;
		/* Rebuild the seen set: verify what was accepted again (age
		 * does not matter any more: it was checked when it came). */
		json_array_foreach(json_object_get(v, "approvals"), q, a) {
			dr_approval_result res;
			const char *sig = json_string_value(json_object_get(a, "signature"));

			if (sig)
				dr_approval_verify(p, gstep(j, gi)->gate, job_id, j->plan_digest,
						   gstep(j, gi)->gate_name, sig, (uint64_t)dr_wall_ms(),
						   UINT64_MAX / 4,
						   &j->seen[gstep(j, gi)->gate == &p->failback_gate], &res);
		}
	}
	j->ctl_offset = (uint64_t)json_integer_value(json_object_get(doc, "control_offset"));
	j->cancel = json_is_true(json_object_get(doc, "cancel_requested"));
	if (status_parse(json_string_value(json_object_get(doc, "status")), &j->status) < 0)
		j->status = DR_JOB_RUNNING;
	j->ended = j->status != DR_JOB_RUNNING && j->status != DR_JOB_WAITING;
	j->warnings = json_array_size(json_object_get(doc, "warnings"));
	j->pnr_done = json_object_get(doc, "point_of_no_return") != NULL;
	j->unattended = g->op == DR_OP_DRILL &&
			(o->unattended || json_is_true(json_object_get(doc, "unattended")));
	if (json_is_string(json_object_get(doc, "drill_abort"))) {
		j->aborting = true;
		j->abort_msg = dr_xstrdup(json_string_value(json_object_get(doc, "drill_abort")));
	}
	if (jappend(j, "resume", json_pack("{s:s,s:i}", "by", j->by, "pid", (int)getpid())) < 0) {
		rc = j->fatal;
		goto fail;
	}
	if (info.torn)
		warn(j, (size_t)-1, "the journal ended in a torn record (%s, %llu bytes at "
		     "offset %llu), left by a crash; it was dropped", info.torn_reason,
		     (unsigned long long)info.torn_bytes, (unsigned long long)info.torn_offset);
	if ((rc = notify_open(j)) < 0)
		goto fail;
	json_decref(doc);
	*out = j;
	return 0;
fail:
	json_decref(doc);
	dr_job_free(j);
	return rc;
}

/* First turn of a run: set the dependency counters and re-drive steps. */
static void prime(dr_job *j)
{
	for (size_t i = 0; i < j->n + j->nx; i++) {
		const dr_step *s = gstep(j, i);
		uint32_t left = 0;

		for (size_t k = 0; k < s->ndeps; k++)
			if (!satisfied(&j->xs[s->deps[k]]) &&
			    !(j->aborting && terminal(j->xs[s->deps[k]].st)))
				left++;
		j->xs[i].deps_left = left;
		if (j->xs[i].st == DR_SS_FAILED && !j->xs[i].nc_failed)
			j->halt = true;
	}
	if (j->aborting)
		j->halt = true;
	/* Slots: a chain holds one while one of its steps runs or waits, or
	 * while it is part-way through. */
	for (size_t c = 0; c < j->nchains; c++) {
		struct chain *ch = &j->chains[c];
		bool busy = false, started = false, stuck = false;

		for (size_t s = ch->first; s <= ch->last; s++) {
			uint8_t st = j->xs[s].st;

			busy |= st == DR_SS_RUNNING || st == DR_SS_WAITING;
			started |= st == DR_SS_SUCCEEDED || st == DR_SS_SKIPPED;
			stuck |= st == DR_SS_FAILED || st == DR_SS_CANCELLED;
		}
		if (busy || (started && !stuck && !terminal(j->xs[ch->last].st))) {
			ch->holding = true;
			j->gs[ch->gphase].used++;
		}
	}
	for (size_t i = 0; i < j->n + j->nx && !j->fatal; i++) {
		struct xstep *x = &j->xs[i];
		const dr_step *s = gstep(j, i);

		switch (x->st) {
		case DR_SS_PENDING:
			if (x->deps_left == 0)
				make_ready(j, i);
			break;
		case DR_SS_READY:
			push_ready(j, i);
			break;
		case DR_SS_RUNNING:
			if (j->cancel && s->kind == DR_STEP_HOOK) {
				step_done(j, i, DR_SS_CANCELLED, "cancelled");
				break;
			}
			switch (s->kind) {
			case DR_STEP_HOOK:
				/* A hook's run died with the runner: run it again. */
				warn(j, i, "%s was running when the runner stopped; running "
				     "it again", s->id);
				run_hook(j, i);
				break;
			case DR_STEP_GATE:
				run_gate(j, i);
				break;
			case DR_STEP_WAIT:
				arm_tick(j, i);
				break;
			case DR_STEP_VERIFY_CLEANUP:
				run_verify(j, i);
				break;
			default:
				if (preq_of(s->kind) >= 0)
					op_begin(j, i);
				else
					step_done(j, i, DR_SS_SUCCEEDED, NULL);
				break;
			}
			break;
		case DR_SS_WAITING:
			if (j->cancel)
				step_done(j, i, DR_SS_CANCELLED, "cancelled");
			else if (s->kind == DR_STEP_GATE)
				gate_wait(j, i, true);
			else
				manual_wait(j, i, true);
			break;
		default:
			break;
		}
	}
}

int dr_job_launch(dr_job *j)
{
	if (j->fatal)
		return j->fatal;
	j->detached = false;
	if (!j->running_loop) {
		j->running_loop = true;
		start_event(j);
		if (!j->resumed)
			j->start_pt = j->start_pt ? j->start_pt : pnow(j);
		prime(j);
	}
	/* Requests that came while nobody ran (or while detached). */
	read_control(j);
	if (!j->ended)
		schedule(j);
	if (!j->ctl_timer && !j->fatal && !j->ended)
		j->ctl_timer = dr_loop_timer(j->o.loop, j->o.control_poll_ms
					     ? j->o.control_poll_ms : 1000, ctl_timer_cb, j);
	j->renewed_ms = dr_loop_now(j->o.loop);
	arm_renew(j);
	return 0;
}

/* A lost lock's message; the job is stopped (j->fatal). */
static int lock_lost_error(dr_job *j)
{
	return dr_error_set(DR_ECONFLICT, "job %s: lock '%s' lost: the job stopped (no new "
			    "steps were started); resume it with `drplan job resume %s`",
			    j->id, j->p->name.v, j->id);
}

int dr_job_check(dr_job *j)
{
	if (j->status == DR_JOB_WAITING && j->cnt[DR_SS_WAITING] == 0)
		j->status = DR_JOB_RUNNING;
	if (!j->fatal && !j->ended)
		return 0;
	dr_loop_timer_cancel(j->o.loop, j->ctl_timer);
	j->ctl_timer = NULL;
	if (notify_wait(j))
		return 0;
	dr_loop_timer_cancel(j->o.loop, j->renew_timer);
	j->renew_timer = NULL;
	if (!j->fatal || j->lock_lost) {
		int rc = dr_journal_flush(j->jr);

		if (rc < 0 && !j->fatal)
			set_fatal(j, rc);
	}
	if (j->fatal && j->lock_lost)
		return lock_lost_error(j);
	if (j->fatal) {
		if (j->fatal != DR_ECANCELLED && !*dr_error_msg())
			dr_error_set(j->fatal, "job %s: the journal could not be written", j->id);
		return j->fatal;
	}
	return 1;
}

int dr_job_run(dr_job *j)
{
	int lrc;

	if ((lrc = dr_job_launch(j)) < 0)
		return lrc;
	while (!j->fatal && !j->ended) {
		int rc;

		if (j->o.detach_when_waiting && j->status == DR_JOB_WAITING &&
		    j->cnt[DR_SS_RUNNING] == 0 && !j->sched_queued && j->rh >= j->rn) {
			j->detached = true;
			dr_loop_timer_cancel(j->o.loop, j->ctl_timer);
			j->ctl_timer = NULL;
			dr_loop_timer_cancel(j->o.loop, j->renew_timer);
			j->renew_timer = NULL;
			if ((rc = dr_journal_flush(j->jr)) < 0) {
				set_fatal(j, rc);
				return rc;
			}
			emit(j, "job-detached",
			     json_pack("{s:s}", "message", "waiting for people; the job can "
				       "be approved/continued and resumed later"));
			notify_drain(j);
			return DR_EAGAIN;
		}
		rc = dr_loop_run_once(j->o.loop, true);
		if (rc == DR_ECANCELLED) {
			/* A clean stop: what happened is written. */
			if (!j->fatal)
				(void)dr_journal_flush(j->jr);
			/* Stopped by a signal: parked, resumable. Only webhooks
			 * hear of it; the journal stays as the signal left it,
			 * and the job stays stopped (fatal) while the loop runs
			 * for the deliveries: no step moves during the grace. */
			if (j->notify) {
				json_t *ev = json_pack("{s:s,s:s}", "event", "job-interrupted",
						       "message", "the runner was stopped; "
						       "the job is parked and can be resumed");
				char ts[32];

				rfc3339_now(ts);
				json_object_set_new(ev, "time", json_string(ts));
				dr_notify_job_event(j->notify, ev);
				json_decref(ev);
				set_fatal(j, DR_ECANCELLED);
				dr_notify_drain(j->notify, j->o.notify_grace_ms
						? j->o.notify_grace_ms : 10000);
			}
			return dr_error_set(DR_ECANCELLED, "job %s: interrupted", j->id);
		}
		if (rc < 0)
			return rc;
		if (rc == 0 && !j->ended && !j->fatal) {
			assert(!"job loop ran out of work before the job ended");
			return dr_error_set(DR_ERR, "job %s: stalled", j->id);
		}
		if (j->status == DR_JOB_WAITING && j->cnt[DR_SS_WAITING] == 0)
			j->status = DR_JOB_RUNNING;
	}
	dr_loop_timer_cancel(j->o.loop, j->ctl_timer);
	j->ctl_timer = NULL;
	dr_loop_timer_cancel(j->o.loop, j->renew_timer);
	j->renew_timer = NULL;
	/*
	 * A lost lock still journals what finished in flight: the append is
	 * guarded by its position, so a new holder's records cannot be mixed in.
	 */
	if (!j->fatal || j->lock_lost) {
		int rc = dr_journal_flush(j->jr);

		if (rc < 0 && !j->fatal)
			set_fatal(j, rc);
	}
	notify_drain(j);
	if (j->fatal && j->lock_lost)
		return lock_lost_error(j);
	if (j->fatal) {
		if (j->fatal != DR_ECANCELLED && !*dr_error_msg())
			dr_error_set(j->fatal, "job %s: the journal could not be written", j->id);
		return j->fatal;
	}
	return 0;
}

const char *dr_job_id(const dr_job *j)
{
	return j->id;
}

dr_job_status_code dr_job_status_now(const dr_job *j)
{
	return j->status;
}

dr_step_state dr_job_step_state(const dr_job *j, size_t i)
{
	return i < j->n ? (dr_step_state)j->xs[i].st : DR_SS__COUNT;
}

unsigned dr_job_step_attempt(const dr_job *j, size_t i)
{
	return i < j->n ? j->xs[i].attempt : 0;
}

void dr_job_free(dr_job *j)
{
	if (!j)
		return;
	j->freeing = true;
	dr_notify_free(j->notify);
	if (j->o.loop)
		dr_loop_timer_cancel(j->o.loop, j->notify_wake);
	json_decref(j->outputs);
	for (size_t i = 0; i < j->n + j->nx; i++) {
		task_free(j, i);
		free(j->xs[i].op_id);
		free(j->xs[i].crid);
		json_decref(j->xs[i].done_ops);
	}
	for (size_t k = 0; k < j->npend; k++)
		pend_release(&j->pend[k]);
	free(j->pend);
	free(j->tosend);
	if (j->o.loop) {
		if (j->flush_defer)
			dr_loop_defer_cancel(j->o.loop, j->flush_defer);
		if (j->jflush_defer)
			dr_loop_defer_cancel(j->o.loop, j->jflush_defer);
		dr_loop_timer_cancel(j->o.loop, j->ctl_timer);
		dr_loop_timer_cancel(j->o.loop, j->renew_timer);
		if (j->sched_defer)
			dr_loop_defer_cancel(j->o.loop, j->sched_defer);
	}
	for (size_t gp = 0; j->gs && gp < j->g->ngphases; gp++)
		free(j->gs[gp].q);
	free(j->gs);
	free(j->lost);
	free(j->extra);
	dr_arena_free(j->xa);
	dr_approval_seen_release(&j->seen[0]);
	dr_approval_seen_release(&j->seen[1]);
	free(j->chains);
	free(j->xs);
	free(j->rev_off);
	free(j->rev);
	free(j->ready);
	json_decref(j->ids);
	json_decref(j->rpo);
	json_decref(j->gates);
	dr_net_free(j->net);
	/* Lazy records of a job let go (not one a crash point stopped) are
	 * true: write them. A crashed job's are lost, as a killed process's. */
	if (j->jr && !j->fatal)
		(void)dr_journal_flush(j->jr);
	dr_journal_close(j->jr);
	dr_store_lock_release(j->sim_lock);
	dr_store_lock_release(j->lock);
	free(j->sim_version);
	free(j->abort_msg);
	free(j);
}
