/*
 * sim.c - the ASR simulator: items, recovery points, jobs, faults.
 *
 * Item states change only when a job ends successfully ("settles"); while a
 * job runs the item is busy and allows nothing. A job's tasks are laid out
 * in model time when the operation is accepted, so what poll() reports is a
 * pure function of model time, and saving a running job is saving its plan.
 * Recovery points are a pure function of when replication started, where
 * the item is in its life cycle and model time; none are stored.
 */
#include "provider/sim.h"

#include "core/alloc.h"
#include "core/arena.h"
#include "core/error.h"
#include "plan/facts.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_MS (60 * 1000)
/* Model times: from 1970 to the end of year 9999. */
#define MAX_MS 253402300799999LL
#define MAX_TASKS 8

/* ---- the life cycle ---- */

typedef enum stage {
	ST_PROTECTED,        /* InMageRcm, replicating to Azure */
	ST_TEST_FAILED_OVER, /* test VM running, waiting for cleanup */
	ST_FAILED_OVER,      /* in Azure, commit pending */
	ST_COMMITTED,        /* in Azure, committed, not replicating */
	ST_FB_SYNCING,       /* InMageRcmFailback, initial replication */
	ST_FB_PROTECTED,     /* InMageRcmFailback, replicating to on-premises */
	ST_FAILED_BACK,      /* on-premises again, commit pending */
	ST_FB_COMMITTED,     /* on-premises, committed, not replicating */
	ST_AZ_SYNCING,       /* InMageRcm again, initial replication */
	ST__COUNT
} stage;

enum { PTS_NONE, PTS_LIVE, PTS_FROZEN };

static const struct stage_info {
	const char *name; /* in save files */
	bool failback;    /* providerSpecificDetails.instanceType InMageRcmFailback */
	bool recovery;    /* activeLocation Recovery */
	int points;       /* PTS_*: live (replicating), frozen (failed over), none */
	bool syncing;
	const char *state, *desc;
	const char *tfo, *tfo_desc;
	const char *ops[5];
} stages[ST__COUNT] = {
	[ST_PROTECTED] = { "protected", false, false, PTS_LIVE, false,
			   "Protected", "Protected", "None", "None",
			   { "TestFailover", "UnplannedFailover", "DisableProtection" } },
	[ST_TEST_FAILED_OVER] = { "test-failed-over", false, false, PTS_LIVE, false,
				  "Protected", "Protected", "WaitingForCompletion",
				  "Waiting for user input",
				  { "TestFailoverCleanup" } },
	[ST_FAILED_OVER] = { "failed-over", false, true, PTS_FROZEN, false,
			     "UnplannedFailoverCommitPendingStatesBegin",
			     "Failover completed", "None", "None",
			     { "CompleteMigration", "Commit", "DisableProtection",
			       "ChangePit" } },
	[ST_COMMITTED] = { "committed", false, true, PTS_NONE, false,
			   "UnplannedFailoverCommittedStatesBegin",
			   "Failover committed", "None", "None",
			   { "ReverseReplicate", "DisableProtection" } },
	[ST_FB_SYNCING] = { "failback-syncing", true, true, PTS_NONE, true,
			    "InitialReplicationInProgress",
			    "Initial replication to on-premises in progress",
			    "None", "None", { "DisableProtection" } },
	[ST_FB_PROTECTED] = { "failback-protected", true, true, PTS_LIVE, false,
			      "Protected", "Protected", "None", "None",
			      { "PlannedFailover", "DisableProtection" } },
	[ST_FAILED_BACK] = { "failed-back", true, false, PTS_FROZEN, false,
			     "PlannedFailoverCommitPendingStatesBegin",
			     "Planned failover completed", "None", "None",
			     { "Commit", "CancelFailover", "DisableProtection" } },
	[ST_FB_COMMITTED] = { "failback-committed", true, false, PTS_NONE, false,
			      "PlannedFailoverStatesBegin",
			      "Planned failover committed", "None", "None",
			      { "ReverseReplicate", "DisableProtection" } },
	[ST_AZ_SYNCING] = { "azure-syncing", false, false, PTS_NONE, true,
			    "InitialReplicationInProgress",
			    "Initial replication to Azure in progress", "None",
			    "None", { "DisableProtection" } },
};

/* Where each stage may go (bit per target stage); set_stage() checks it. */
#define TO(st) (1u << (st))
static const unsigned stage_next[ST__COUNT] = {
	[ST_PROTECTED] = TO(ST_TEST_FAILED_OVER) | TO(ST_FAILED_OVER),
	[ST_TEST_FAILED_OVER] = TO(ST_PROTECTED),
	[ST_FAILED_OVER] = TO(ST_COMMITTED),
	[ST_COMMITTED] = TO(ST_FB_SYNCING),
	[ST_FB_SYNCING] = TO(ST_FB_PROTECTED),
	[ST_FB_PROTECTED] = TO(ST_FAILED_BACK),
	[ST_FAILED_BACK] = TO(ST_FB_COMMITTED) | TO(ST_FB_PROTECTED),
	[ST_FB_COMMITTED] = TO(ST_AZ_SYNCING),
	[ST_AZ_SYNCING] = TO(ST_PROTECTED),
};
#undef TO

/* ---- task durations (docs/simulator.md, table "Durations") ---- */

#define D_PREREQ (30 * 1000)
#define D_SHUTDOWN (2 * MIN_MS)
#define D_SYNC (3 * MIN_MS)
#define D_PREPARE (9 * MIN_MS)
#define D_TFO_CREATE (150 * 1000)
#define D_TFO_START (120 * 1000)
#define D_TFO_DELETE (3 * MIN_MS)
#define D_FO_CREATE (3 * MIN_MS)
#define D_FO_START (150 * 1000)
#define D_PIT_APPLY (270 * 1000)
#define D_COMMIT_PREREQ (10 * 1000)
#define D_COMMIT (50 * 1000)
#define D_RP_PREREQ (1 * MIN_MS)
#define D_RP_SETUP (9 * MIN_MS)
#define D_PF_SHUTDOWN (90 * 1000)
#define D_PF_START (5 * MIN_MS)
#define D_CANCEL_START (150 * 1000)

/* ---- data ---- */

typedef struct sim_point {
	int64_t t;
	dr_point_type type;
} sim_point;

typedef struct sim_item {
	char *name;
	bool physical;
	char *extra_reason;   /* why "Prepare the machine" runs, or NULL */
	stage st;
	int64_t repl_start;   /* replication in this direction began */
	int64_t frozen_at;    /* PTS_FROZEN: points as of this time */
	int64_t extra_pt;     /* a point the failover made (latest / failback), or 0 */
	dr_point_type extra_type;
	int64_t sync_end;     /* syncing stages */
	dr_timer *sync_timer;
	bool has_fo;          /* fo_*: the last (test) failover's point */
	sim_point fo_point;
	int64_t fo_rpo_s;
	int64_t fo_request;
	bool committed;
	long busy;            /* running job index, or -1 */
	long last_job;        /* index, or -1 */
	int counts[DR_PREQ__COUNT];
	struct dr_sim *s;
} sim_item;

typedef struct sim_task {
	char *name;
	int64_t start, end;
} sim_task;

typedef struct sim_job {
	char id[40];
	uint64_t seq;
	size_t item;
	dr_preq_kind kind;
	char *crid;
	int64_t accept, end;
	sim_task tasks[MAX_TASKS];
	int ntasks;
	int fail_task;        /* index, or -1 */
	int warn_task;        /* shutdown that failed, or -1 */
	char *fail_code, *fail_msg;
	bool settled;
	bool has_point;
	sim_point point;
	int64_t rpo_s;
	dr_timer *timer;
	struct dr_sim *s;
} sim_job;

enum fault_type { F_FAIL, F_SHUTDOWN, F_LOSE, F_SLOW };

typedef struct sim_fault {
	enum fault_type type;
	char *machine;        /* NULL: any */
	int op;               /* dr_preq_kind, or -1: any */
	char *task;           /* F_FAIL: task name, or NULL */
	int task_idx;         /* F_FAIL: 1-based, 0: last task / by name */
	int count;            /* remaining; 0: unlimited */
	double factor;        /* F_SLOW */
	char *spec;           /* the entry as written, for messages */
} sim_fault;

typedef struct sim_req sim_req;

struct dr_sim {
	dr_provider prov;
	dr_loop *loop;
	dr_sim_opts o;
	int64_t epoch;        /* model time at loop_base */
	uint64_t loop_base;
	int64_t floor;        /* scale 0: model time, moved by events */
	sim_item **items;
	size_t nitems, aitems;
	sim_job **jobs;
	size_t njobs, ajobs;
	uint64_t seq;         /* jobs created so far */
	uint64_t rng;
	double rand_p;
	sim_fault *faults;
	size_t nfaults, afaults;
	sim_req *reqs;        /* in flight */
};

/* ---- small helpers ---- */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rand01(dr_sim *s)
{
	return (double)(splitmix(&s->rng) >> 11) / 9007199254740992.0;
}

static int64_t model_now(dr_sim *s)
{
	int64_t d = s->epoch;

	if (s->o.scale > 0)
		d += (int64_t)((double)(dr_loop_now(s->loop) - s->loop_base) /
			       s->o.scale);
	return d > s->floor ? d : s->floor;
}

/*
 * Move model time forward to t. At scale 0 model time only moves this way;
 * otherwise the epoch shifts, so time keeps flowing from t at the same rate.
 */
static void advance_model_to(dr_sim *s, int64_t t)
{
	int64_t now = model_now(s);

	if (t <= now)
		return;
	if (s->o.scale > 0)
		s->epoch += t - now;
	else
		s->floor = t;
}

/* Loop milliseconds for a model duration (rounded up, so timers are late). */
static uint64_t loop_delay(const dr_sim *s, int64_t model_ms)
{
	if (s->o.scale <= 0 || model_ms <= 0)
		return 0;
	return (uint64_t)ceil((double)model_ms * s->o.scale);
}

static void fmt_time_id(char *buf, size_t n, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	if (ms % 1000)
		snprintf(buf, n, "rp-%04d%02d%02dT%02d%02d%02d.%03dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	else
		snprintf(buf, n, "rp-%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec);
}

static sim_item *find_item(const dr_sim *s, const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < s->nitems; i++) {
		if (!strcmp(s->items[i]->name, name)) {
			if (idx)
				*idx = i;
			return s->items[i];
		}
	}
	return NULL;
}

static sim_job *find_job(const dr_sim *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->njobs; i++)
		if (!strcmp(s->jobs[i]->id, id))
			return s->jobs[i];
	return NULL;
}

/* The one place an item changes stage; an illegal change is a bug in sim.c. */
static void set_stage(sim_item *it, stage to)
{
	if (!(stage_next[it->st] & (1u << to))) {
		fprintf(stderr, "sim: illegal stage change %s -> %s for '%s'\n",
			stages[it->st].name, stages[to].name, it->name);
		abort();
	}
	it->st = to;
}

/* ---- recovery points ---- */

/*
 * The item's points at model time now, newest first, in *out (caller
 * frees). Periodic points fall every crash interval from repl_start, every
 * app interval of them app-consistent, up to the processed horizon (now
 * minus the pending backlog) and back to the retention window.
 */
static size_t item_points(const dr_sim *s, const sim_item *it, int64_t now,
			  sim_point **out)
{
	const struct stage_info *si = &stages[it->st];
	int64_t ci = (int64_t)s->o.crash_interval_ms;
	int64_t ai = (int64_t)s->o.app_interval_ms;
	int64_t horizon, lower, k, k0, k1;
	sim_point *p;
	size_t n = 0;

	*out = NULL;
	if (si->points == PTS_NONE)
		return 0;
	horizon = (si->points == PTS_FROZEN ? it->frozen_at : now) -
		  (int64_t)s->o.pending_ms;
	lower = horizon - (int64_t)s->o.retention_ms;
	if (lower < it->repl_start)
		lower = it->repl_start;
	k1 = horizon >= it->repl_start ? (horizon - it->repl_start) / ci : -1;
	k0 = (lower - it->repl_start + ci - 1) / ci;
	p = dr_xcalloc((size_t)(k1 >= k0 ? k1 - k0 + 2 : 2), sizeof(*p));
	if (si->points == PTS_FROZEN && it->extra_pt) {
		p[n].t = it->extra_pt;
		p[n++].type = it->extra_type;
	}
	for (k = k1; k >= k0 && k >= 0; k--) {
		p[n].t = it->repl_start + k * ci;
		p[n++].type = (k * ci) % ai == 0 ? DR_POINT_APP_CONSISTENT
						 : DR_POINT_CRASH_CONSISTENT;
	}
	*out = p;
	return n;
}

/* ---- errors ---- */

static void set_err(dr_arena *a, dr_prov_error *e, int http, const char *code,
		    const char *causes, const char *action, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static void set_err(dr_arena *a, dr_prov_error *e, int http, const char *code,
		    const char *causes, const char *action, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memset(e, 0, sizeof(*e));
	e->http_status = http;
	e->code = dr_arena_strdup(a, code);
	e->message = dr_arena_strdup(a, buf);
	e->possible_causes = causes ? dr_arena_strdup(a, causes) : NULL;
	e->recommended_action = action ? dr_arena_strdup(a, action) : NULL;
	e->level = dr_arena_strdup(a, "Error");
}

static int err_not_found(dr_arena *a, dr_prov_error *e, const char *item)
{
	set_err(a, e, 404, "NotFound", "The item is not protected in this vault.",
		"Check the machine name, or add the machine to the plan.",
		"The replicated item '%s' was not found.", item);
	return DR_ENOTFOUND;
}

/* ---- scheduling and settling ---- */

static void settle(dr_sim *s);

static void on_job_timer(dr_loop *loop, void *ud)
{
	sim_job *j = ud;
	dr_sim *s = j->s;

	(void)loop;
	j->timer = NULL;
	advance_model_to(s, j->end);
	settle(s);
}

static void on_sync_timer(dr_loop *loop, void *ud)
{
	sim_item *it = ud;
	dr_sim *s = it->s;

	(void)loop;
	it->sync_timer = NULL;
	advance_model_to(s, it->sync_end);
	settle(s);
}

static void schedule_job(dr_sim *s, sim_job *j)
{
	int64_t now = model_now(s);

	dr_loop_timer_cancel(s->loop, j->timer);
	j->timer = dr_loop_timer(s->loop, loop_delay(s, j->end - now),
				 on_job_timer, j);
}

static void schedule_sync(dr_sim *s, sim_item *it)
{
	int64_t now = model_now(s);

	dr_loop_timer_cancel(s->loop, it->sync_timer);
	it->sync_timer = dr_loop_timer(s->loop, loop_delay(s, it->sync_end - now),
				       on_sync_timer, it);
}

static void apply_job(dr_sim *s, sim_job *j)
{
	sim_item *it = s->items[j->item];

	j->settled = true;
	dr_loop_timer_cancel(s->loop, j->timer);
	j->timer = NULL;
	it->busy = -1;
	if (j->fail_task >= 0)
		return; /* a failed operation leaves the item as it was */

	switch (j->kind) {
	case DR_PREQ_TEST_FAILOVER:
		set_stage(it, ST_TEST_FAILED_OVER);
		it->has_fo = true;
		it->fo_point = j->point;
		it->fo_rpo_s = j->rpo_s;
		it->fo_request = j->accept;
		break;
	case DR_PREQ_TEST_FAILOVER_CLEANUP:
		set_stage(it, ST_PROTECTED);
		break;
	case DR_PREQ_UNPLANNED_FAILOVER:
		set_stage(it, ST_FAILED_OVER);
		it->frozen_at = j->accept;
		it->extra_pt = 0;
		/* `latest` made a point of the pending data; it stays listed. */
		if (j->point.t > j->accept - (int64_t)s->o.pending_ms) {
			it->extra_pt = j->point.t;
			it->extra_type = j->point.type;
		}
		it->has_fo = true;
		it->fo_point = j->point;
		it->fo_rpo_s = j->rpo_s;
		it->fo_request = j->accept;
		it->committed = false;
		break;
	case DR_PREQ_APPLY_RECOVERY_POINT:
		it->fo_point = j->point;
		it->fo_rpo_s = j->rpo_s;
		break;
	case DR_PREQ_COMMIT:
		set_stage(it, it->st == ST_FAILED_BACK ? ST_FB_COMMITTED : ST_COMMITTED);
		it->committed = true;
		it->extra_pt = 0;
		break;
	case DR_PREQ_REPROTECT:
		set_stage(it, it->st == ST_COMMITTED ? ST_FB_SYNCING : ST_AZ_SYNCING);
		it->sync_end = j->end + (int64_t)s->o.initial_sync_ms;
		schedule_sync(s, it);
		break;
	case DR_PREQ_PLANNED_FAILOVER:
		set_stage(it, ST_FAILED_BACK);
		it->frozen_at = j->accept;
		it->extra_pt = j->point.t;
		it->extra_type = j->point.type;
		it->has_fo = true;
		it->fo_point = j->point;
		it->fo_rpo_s = j->rpo_s;
		it->fo_request = j->accept;
		it->committed = false;
		break;
	case DR_PREQ_CANCEL_FAILOVER:
		set_stage(it, ST_FB_PROTECTED);
		it->extra_pt = 0;
		break;
	case DR_PREQ__COUNT:
		assert(0);
	}
}

/* Bring every job and item up to model time, in time order. */
static void settle(dr_sim *s)
{
	int64_t now = model_now(s);
	size_t i;

	for (;;) {
		sim_job *best = NULL;

		for (i = 0; i < s->njobs; i++) {
			sim_job *j = s->jobs[i];

			if (j->settled || j->end > now)
				continue;
			if (!best || j->end < best->end ||
			    (j->end == best->end && j->seq < best->seq))
				best = j;
		}
		if (!best)
			break;
		apply_job(s, best);
	}
	for (i = 0; i < s->nitems; i++) {
		sim_item *it = s->items[i];

		if (!stages[it->st].syncing || it->sync_end > now)
			continue;
		dr_loop_timer_cancel(s->loop, it->sync_timer);
		it->sync_timer = NULL;
		set_stage(it, it->st == ST_FB_SYNCING ? ST_FB_PROTECTED : ST_PROTECTED);
		/* Initial replication ends with a first, processed, app-consistent
		 * point, so a protected item always has one to fail over to. */
		it->repl_start = it->sync_end - (int64_t)s->o.pending_ms;
	}
}

/* ---- faults ---- */

static bool fault_matches(const sim_fault *f, const char *machine, int op)
{
	if (f->machine && strcmp(f->machine, machine))
		return false;
	return f->op < 0 || f->op == op;
}

/* Use up one shot of a counted fault. */
static void fault_fire(sim_fault *f)
{
	if (f->count > 0 && --f->count == 0)
		f->count = -1; /* spent */
}

static bool fault_live(const sim_fault *f)
{
	return f->count >= 0;
}

static char *field(char **p)
{
	char *s = *p, *c;

	if (!s)
		return NULL;
	c = strchr(s, ':');
	if (c) {
		*c = 0;
		*p = c + 1;
	} else {
		*p = NULL;
	}
	return s;
}

static int parse_count(const char *s, int *out)
{
	char *end;
	long v;

	if (!s || !*s) {
		return 1; /* caller's default */
	}
	v = strtol(s, &end, 10);
	if (*end || v < 0 || v > 1000000)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_fault(dr_sim *s, const char *entry)
{
	char *buf = dr_xstrdup(entry), *p = buf;
	char *type = field(&p), *machine, *op;
	sim_fault f;
	int rc = 0;

	memset(&f, 0, sizeof(f));
	f.op = -1;
	if (!strcmp(type, "random")) {
		char *prob = field(&p), *seed = field(&p), *end;
		double v = prob ? strtod(prob, &end) : -1;

		if (!prob || *end || v < 0 || v > 1 || p) {
			rc = dr_error_set(DR_EINVAL, "fault '%s': expected "
					  "random:PROBABILITY[:SEED] with a "
					  "probability from 0 to 1", entry);
		} else {
			s->rand_p = v;
			if (seed) {
				s->rng = strtoull(seed, &end, 10);
				if (*end)
					rc = dr_error_set(DR_EINVAL, "fault '%s': "
							  "bad seed", entry);
			}
		}
		free(buf);
		return rc;
	}
	machine = field(&p);
	if (!machine || !*machine) {
		free(buf);
		return dr_error_set(DR_EINVAL, "fault '%s': no machine", entry);
	}
	f.machine = strcmp(machine, "*") ? dr_xstrdup(machine) : NULL;
	f.spec = dr_xstrdup(entry);
	if (!strcmp(type, "shutdown-fail")) {
		f.type = F_SHUTDOWN;
		if (p)
			rc = dr_error_set(DR_EINVAL, "fault '%s': expected "
					  "shutdown-fail:MACHINE", entry);
		goto done;
	}
	if (!strcmp(type, "fail"))
		f.type = F_FAIL;
	else if (!strcmp(type, "lose-accept"))
		f.type = F_LOSE;
	else if (!strcmp(type, "slow"))
		f.type = F_SLOW;
	else {
		rc = dr_error_set(DR_EINVAL, "fault '%s': unknown kind '%s' "
				  "(fail, shutdown-fail, lose-accept, slow, "
				  "random)", entry, type);
		goto done;
	}
	op = field(&p);
	if (!op || !*op) {
		rc = dr_error_set(DR_EINVAL, "fault '%s': no operation", entry);
		goto done;
	}
	if (strcmp(op, "*")) {
		dr_preq_kind k;

		if (dr_preq_kind_parse(op, &k) < 0) {
			rc = dr_error_set(DR_EINVAL, "fault '%s': unknown operation "
					  "'%s'", entry, op);
			goto done;
		}
		f.op = (int)k;
	}
	if (f.type == F_FAIL) {
		char *task = field(&p), *count = field(&p), *end;

		if (task && *task && strcmp(task, "*")) {
			long v = strtol(task, &end, 10);

			if (!*end && v > 0 && v <= MAX_TASKS)
				f.task_idx = (int)v;
			else
				f.task = dr_xstrdup(task);
		}
		f.count = 0;
		if (parse_count(count, &f.count) < 0 || p)
			rc = dr_error_set(DR_EINVAL, "fault '%s': expected "
					  "fail:MACHINE:OP[:TASK[:COUNT]]", entry);
	} else if (f.type == F_LOSE) {
		char *count = field(&p);

		f.count = 1;
		if (parse_count(count, &f.count) < 0 || p)
			rc = dr_error_set(DR_EINVAL, "fault '%s': expected "
					  "lose-accept:MACHINE:OP[:COUNT]", entry);
	} else {
		char *factor = field(&p), *end;

		f.factor = factor ? strtod(factor, &end) : 0;
		if (!factor || *end || !(f.factor > 0) || f.factor > 1000 || p)
			rc = dr_error_set(DR_EINVAL, "fault '%s': expected "
					  "slow:MACHINE:OP:FACTOR with a factor "
					  "above 0", entry);
	}
done:
	free(buf);
	if (rc < 0) {
		free(f.machine);
		free(f.task);
		free(f.spec);
		return rc;
	}
	DR_ALLOC_GROW(s->faults, s->nfaults + 1, s->afaults);
	s->faults[s->nfaults++] = f;
	return 0;
}

int dr_sim_add_faults(dr_sim *s, const char *spec)
{
	char *buf, *p, *e;
	int rc = 0;

	if (!spec)
		return 0;
	buf = dr_xstrdup(spec);
	for (p = buf; p && rc == 0; p = e) {
		e = strchr(p, ';');
		if (e)
			*e++ = 0;
		while (*p == ' ')
			p++;
		if (*p)
			rc = parse_fault(s, p);
	}
	free(buf);
	return rc;
}

/* ---- jobs ---- */

static void add_task(sim_job *j, const char *name, int64_t dur, double factor)
{
	sim_task *t;
	int64_t start = j->ntasks ? j->tasks[j->ntasks - 1].end : j->accept;

	assert(j->ntasks < MAX_TASKS);
	t = &j->tasks[j->ntasks++];
	t->name = dr_xstrdup(name);
	t->start = start;
	t->end = start + (int64_t)((double)dur * factor);
}

/* GUID-shaped and a function of the sequence number: stable test output. */
static void job_id(sim_job *j)
{
	uint64_t x = j->seq ^ 0x5eed5eedull, a = splitmix(&x), b = splitmix(&x);

	snprintf(j->id, sizeof(j->id), "%08x-%04x-4%03x-8%03x-%012llx",
		 (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
		 (unsigned)a & 0xfff, (unsigned)(b >> 48) & 0xfff,
		 (unsigned long long)(b & 0xffffffffffffull));
}

static const char *job_friendly(dr_preq_kind k)
{
	switch (k) {
	case DR_PREQ_TEST_FAILOVER: return "Test failover";
	case DR_PREQ_TEST_FAILOVER_CLEANUP: return "Test failover cleanup";
	case DR_PREQ_UNPLANNED_FAILOVER: return "Failover";
	case DR_PREQ_APPLY_RECOVERY_POINT: return "Change recovery point";
	case DR_PREQ_COMMIT: return "Commit";
	case DR_PREQ_REPROTECT: return "Reprotect";
	case DR_PREQ_PLANNED_FAILOVER: return "Planned failover";
	case DR_PREQ_CANCEL_FAILOVER: return "Cancel failover";
	case DR_PREQ__COUNT: break;
	}
	return "Unknown";
}

static void free_job(sim_job *j)
{
	int i;

	for (i = 0; i < j->ntasks; i++)
		free(j->tasks[i].name);
	free(j->crid);
	free(j->fail_code);
	free(j->fail_msg);
	free(j);
}

/* ---- the request in flight ---- */

enum req_type { R_ITEM, R_START, R_POLL, R_FIND, R_POINTS };

struct sim_req {
	dr_sim *s;
	enum req_type type;
	char *item, *job_id;
	int64_t since;
	dr_op_request op;  /* R_START: strings owned */
	union {
		dr_prov_item_cb item;
		dr_prov_start_cb start;
		dr_prov_job_cb job;
		dr_prov_jobs_cb jobs;
		dr_prov_points_cb points;
	} cb;
	void *ud;
	dr_defer *defer;
	sim_req *prev, *next;
};

static char *dup_or_null(const char *s)
{
	return s ? dr_xstrdup(s) : NULL;
}

static void free_req(sim_req *r)
{
	free(r->item);
	free(r->job_id);
	free((char *)r->op.rp.id);
	free((char *)r->op.network);
	free((char *)r->op.comments);
	free((char *)r->op.client_request_id);
	free(r);
}

static void unlink_req(dr_sim *s, sim_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		s->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

static void dispatch(dr_loop *loop, void *ud);

static sim_req *new_req(dr_sim *s, enum req_type type, void *ud)
{
	sim_req *r = dr_xcalloc(1, sizeof(*r));

	r->s = s;
	r->type = type;
	r->ud = ud;
	r->next = s->reqs;
	if (s->reqs)
		s->reqs->prev = r;
	s->reqs = r;
	r->defer = dr_loop_defer(s->loop, dispatch, r);
	return r;
}

/* ---- views ---- */

static void point_view(dr_arena *a, const sim_point *p, dr_prov_point *out)
{
	char id[48];

	fmt_time_id(id, sizeof(id), p->t);
	out->id = dr_arena_strdup(a, id);
	out->time_ms = p->t;
	out->type = p->type;
}

static void item_view(dr_sim *s, dr_arena *a, size_t idx, dr_prov_item *v)
{
	sim_item *it = s->items[idx];
	const struct stage_info *si = &stages[it->st];
	int64_t now = model_now(s);
	sim_point *pts;
	size_t n, i;

	memset(v, 0, sizeof(*v));
	v->name = dr_arena_strdup(a, it->name);
	v->id = dr_arena_printf(a, "sim/replicationProtectedItems/%s", it->name);
	v->instance_type = dr_arena_strdup(a, si->failback ? "InMageRcmFailback"
							   : "InMageRcm");
	v->direction = si->failback ? DR_DIR_TO_ONPREM : DR_DIR_TO_AZURE;
	v->protection_state = dr_arena_strdup(a, si->state);
	v->protection_state_description = dr_arena_strdup(a, si->desc);
	v->active_location = dr_arena_strdup(a, si->recovery ? "Recovery" : "Primary");
	v->test_failover_state = dr_arena_strdup(a, si->tfo);
	v->test_failover_state_description = dr_arena_strdup(a, si->tfo_desc);
	v->replication_health = dr_arena_strdup(
		a, si->points == PTS_LIVE || si->syncing ? "Normal" : "None");
	v->current_scenario = dr_arena_strdup(a, "None");
	v->initial_replication_percent = -1;
	v->last_rpo_s = -1;
	if (it->busy >= 0) {
		sim_job *j = s->jobs[it->busy];
		const char *sc = dr_preq_kind_scenario(j->kind);

		v->current_scenario = dr_arena_strdup(a, sc);
		if (j->kind == DR_PREQ_TEST_FAILOVER) {
			v->test_failover_state = dr_arena_strdup(a, "TestFailoverInProgress");
			v->test_failover_state_description =
				dr_arena_strdup(a, "Test failover in progress");
		} else if (j->kind == DR_PREQ_TEST_FAILOVER_CLEANUP) {
			v->test_failover_state = dr_arena_strdup(a, "MarkedForDeletion");
			v->test_failover_state_description =
				dr_arena_strdup(a, "Cleaning up test environment");
		} else {
			v->protection_state = dr_arena_printf(a, "%sInProgress", sc);
			v->protection_state_description =
				dr_arena_printf(a, "%s in progress", job_friendly(j->kind));
		}
		v->allowed_ops = dr_arena_zalloc(a, sizeof(char *));
	} else {
		for (n = 0; n < DR_ARRAY_SIZE(si->ops) && si->ops[n]; n++)
			;
		v->allowed_ops = dr_arena_zalloc(a, (n + 1) * sizeof(char *));
		for (i = 0; i < n; i++)
			v->allowed_ops[i] = dr_arena_strdup(a, si->ops[i]);
		v->nallowed_ops = n;
	}
	if (it->last_job >= 0)
		v->last_job_id = dr_arena_strdup(a, s->jobs[it->last_job]->id);
	if (si->syncing) {
		int64_t total = (int64_t)s->o.initial_sync_ms;
		int64_t done = total - (it->sync_end - now);

		v->initial_replication_percent =
			total > 0 ? (int)(done * 100 / total) : 100;
		if (v->initial_replication_percent < 0)
			v->initial_replication_percent = 0;
	}
	n = item_points(s, it, now, &pts);
	if (n > 0) {
		point_view(a, &pts[0], &v->last_point);
		if (si->points == PTS_LIVE)
			v->last_rpo_s = (now - pts[0].t) / 1000;
		for (i = 0; i < n; i++) {
			if (pts[i].type == DR_POINT_APP_CONSISTENT) {
				point_view(a, &pts[i], &v->last_app_point);
				break;
			}
		}
	}
	free(pts);
	if (it->has_fo) {
		point_view(a, &it->fo_point, &v->failover_point);
		v->failover_rpo_s = it->fo_rpo_s;
	}
	v->committed = it->committed;
}

static void job_view(dr_sim *s, dr_arena *a, const sim_job *j, dr_prov_job *v)
{
	int64_t now = model_now(s), next = 0;
	int i;

	memset(v, 0, sizeof(*v));
	v->id = dr_arena_strdup(a, j->id);
	v->item = dr_arena_strdup(a, s->items[j->item]->name);
	v->kind = j->kind;
	v->scenario = dr_arena_strdup(a, dr_preq_kind_scenario(j->kind));
	v->friendly_name = dr_arena_strdup(a, job_friendly(j->kind));
	v->client_request_id = j->crid ? dr_arena_strdup(a, j->crid) : NULL;
	v->start_ms = j->accept;
	v->tasks = dr_arena_zalloc(a, (size_t)j->ntasks * sizeof(*v->tasks) + 1);
	v->errors = dr_arena_zalloc(a, 2 * sizeof(*v->errors));
	for (i = 0; i < j->ntasks; i++) {
		const sim_task *t = &j->tasks[i];
		dr_prov_task *vt = &v->tasks[v->ntasks++];
		const char *st, *desc;

		vt->id = dr_arena_printf(a, "%s-task-%d", j->id, i + 1);
		vt->name = dr_arena_strdup(a, t->name);
		if (j->fail_task >= 0 && i > j->fail_task) {
			st = "NotStarted";
			desc = "NotStarted";
		} else if (now >= t->end) {
			bool failed = i == j->fail_task || i == j->warn_task;

			st = failed ? "Failed" : "Succeeded";
			desc = failed ? "Failed" : "Completed";
			vt->start_ms = t->start;
			vt->end_ms = t->end;
		} else if (now >= t->start) {
			st = "InProgress";
			desc = "InProgress";
			vt->start_ms = t->start;
			if (!next || t->end < next)
				next = t->end;
		} else {
			st = "NotStarted";
			desc = "NotStarted";
		}
		vt->state = dr_arena_strdup(a, st);
		vt->state_description = dr_arena_strdup(a, desc);
	}
	if (j->warn_task >= 0 && now >= j->tasks[j->warn_task].end) {
		const sim_item *it = s->items[j->item];
		dr_prov_error *e = &v->errors[v->nerrors++];

		set_err(a, e, 0, "SourceShutdownFailed",
			"The source machine or its site could not be reached.",
			"Make sure the source machine is powered off before you "
			"commit or reprotect, so two copies never run at once.",
			"The source machine '%s' could not be shut down; the "
			"failover continued without shutting it down.", it->name);
		e->level = dr_arena_strdup(a, "Warning");
		e->task_id = v->tasks[j->warn_task].id;
		e->time_ms = j->tasks[j->warn_task].end;
	}
	if (j->settled && j->fail_task >= 0) {
		dr_prov_error *e = &v->errors[v->nerrors++];

		set_err(a, e, 0, j->fail_code,
			"A fault was injected with DRPLAN_SIM_FAULTS or the "
			"simulator's options.",
			"Retry the operation, or remove the fault.", "%s",
			j->fail_msg);
		e->task_id = v->tasks[j->fail_task].id;
		e->time_ms = j->end;
	}
	if (j->settled) {
		v->state = dr_arena_strdup(a, j->fail_task >= 0 ? "Failed" : "Succeeded");
		v->state_description = dr_arena_strdup(
			a, j->fail_task >= 0 ? "Failed"
			: j->warn_task >= 0 ? "CompletedWithInformation" : "Completed");
		v->end_ms = j->end;
	} else {
		int64_t wait = next ? next - now : 0;

		v->state = dr_arena_strdup(a, "InProgress");
		v->state_description = dr_arena_strdup(a, "InProgress");
		/* ASR says Retry-After: 30; sooner when a task ends sooner. */
		if (wait <= 0 || wait > 30000)
			wait = 30000;
		v->poll_after_ms = loop_delay(s, wait);
		if (s->o.scale > 0 && v->poll_after_ms == 0)
			v->poll_after_ms = 1;
	}
	if (j->has_point) {
		point_view(a, &j->point, &v->point);
		v->rpo_s = j->rpo_s;
	}
}

/* ---- starting an operation ---- */

static const char *allowed_list(dr_arena *a, const sim_item *it)
{
	const struct stage_info *si = &stages[it->st];
	char buf[256] = "";
	size_t i;

	if (it->busy >= 0)
		return "none";
	for (i = 0; i < DR_ARRAY_SIZE(si->ops) && si->ops[i]; i++) {
		if (i)
			strcat(buf, ", ");
		strcat(buf, si->ops[i]);
	}
	return dr_arena_strdup(a, buf);
}

static bool stage_allows(const sim_item *it, const char *op)
{
	const struct stage_info *si = &stages[it->st];
	size_t i;

	for (i = 0; i < DR_ARRAY_SIZE(si->ops) && si->ops[i]; i++)
		if (!strcmp(si->ops[i], op))
			return true;
	return false;
}

/* The point a (test) failover or a change of point will use. */
static int resolve_point(dr_sim *s, dr_arena *a, const sim_item *it,
			 int64_t now, const dr_recovery_point *rp, bool can_sync,
			 sim_point *out, bool *sync, dr_prov_error *e)
{
	sim_point *pts;
	size_t n = item_points(s, it, now, &pts), i;
	const char *what = "processed";
	char id[48];

	*sync = false;
	switch (rp->kind) {
	case DR_RP_LATEST:
		if (can_sync) {
			/* The pending data is processed into a new point. */
			out->t = now - (int64_t)s->o.latest_lag_ms;
			out->type = DR_POINT_CRASH_CONSISTENT;
			*sync = true;
			free(pts);
			return 0;
		}
		/* After failover the newest point is the latest. */
		__attribute__((fallthrough));
	case DR_RP_LATEST_PROCESSED:
		if (n > 0) {
			*out = pts[0];
			free(pts);
			return 0;
		}
		break;
	case DR_RP_LATEST_APP_CONSISTENT:
		what = "application-consistent";
		for (i = 0; i < n; i++) {
			if (pts[i].type == DR_POINT_APP_CONSISTENT) {
				*out = pts[i];
				free(pts);
				return 0;
			}
		}
		break;
	case DR_RP_CUSTOM:
		if (!rp->id || !*rp->id) {
			free(pts);
			set_err(a, e, 400, "InvalidParameter", NULL,
				"Name a recovery point from the item's list.",
				"A custom recovery point needs an id.");
			return DR_EINVAL;
		}
		for (i = 0; i < n; i++) {
			fmt_time_id(id, sizeof(id), pts[i].t);
			if (!strcmp(id, rp->id)) {
				*out = pts[i];
				free(pts);
				return 0;
			}
		}
		free(pts);
		set_err(a, e, 400, "RecoveryPointNotFound",
			"The point is older than the retention window, was "
			"deleted by a commit, or belongs to another item.",
			"List the item's recovery points and pick one of them.",
			"Recovery point '%s' was not found for replicated item "
			"'%s' (%zu recovery points are available).",
			rp->id, it->name, n);
		return DR_ENOTFOUND;
	}
	free(pts);
	set_err(a, e, 400, "NoRecoveryPointAvailable",
		"Replication has not produced such a point yet.",
		"Wait for the next recovery point, or choose another kind.",
		"Replicated item '%s' has no %s recovery point.", it->name, what);
	return DR_ENOTFOUND;
}

/*
 * Lay out the job's tasks from its accept time. Returns the index of the
 * "Synchronize data" task of a planned failover (its end makes the point),
 * else -1.
 */
static int plan_tasks(sim_job *j, const sim_item *it, const dr_op_request *q,
		      bool sync, bool shutdown_fail, double factor)
{
	int sync_task = -1;

	switch (q->kind) {
	case DR_PREQ_TEST_FAILOVER:
		add_task(j, "Prerequisites check for test failover", D_PREREQ, factor);
		if (sync)
			add_task(j, "Synchronize data", D_SYNC, factor);
		if (it->extra_reason)
			add_task(j, "Prepare the machine", D_PREPARE, factor);
		add_task(j, "Create the test virtual machine", D_TFO_CREATE, factor);
		add_task(j, "Start the test virtual machine", D_TFO_START, factor);
		break;
	case DR_PREQ_TEST_FAILOVER_CLEANUP:
		add_task(j, "Delete the test virtual machine", D_TFO_DELETE, factor);
		break;
	case DR_PREQ_UNPLANNED_FAILOVER:
		add_task(j, "Prerequisites check for failover", D_PREREQ, factor);
		if (q->shutdown_source) {
			add_task(j, "Shut down the virtual machine", D_SHUTDOWN, factor);
			if (shutdown_fail)
				j->warn_task = j->ntasks - 1;
		}
		if (sync)
			add_task(j, "Synchronize data", D_SYNC, factor);
		if (it->extra_reason)
			add_task(j, "Prepare the machine", D_PREPARE, factor);
		add_task(j, "Create the replica virtual machine", D_FO_CREATE, factor);
		add_task(j, "Start the replica virtual machine", D_FO_START, factor);
		break;
	case DR_PREQ_APPLY_RECOVERY_POINT:
		add_task(j, "Prerequisites check for change recovery point",
			 D_PREREQ, factor);
		add_task(j, "Apply the recovery point", D_PIT_APPLY, factor);
		break;
	case DR_PREQ_COMMIT:
		add_task(j, "Prerequisites check for commit", D_COMMIT_PREREQ, factor);
		add_task(j, it->st == ST_FAILED_BACK
				 ? "Commit the failover and remove the Azure virtual machine"
				 : "Commit the failover", D_COMMIT, factor);
		break;
	case DR_PREQ_REPROTECT:
		add_task(j, "Prerequisites check for reprotect", D_RP_PREREQ, factor);
		add_task(j, "Set up reverse replication", D_RP_SETUP, factor);
		break;
	case DR_PREQ_PLANNED_FAILOVER:
		add_task(j, "Prerequisites check for planned failover", D_PREREQ,
			 factor);
		add_task(j, "Synchronize data", D_SYNC, factor);
		sync_task = j->ntasks - 1;
		add_task(j, "Shut down the Azure virtual machine", D_PF_SHUTDOWN, factor);
		add_task(j, "Start the on-premises virtual machine", D_PF_START, factor);
		break;
	case DR_PREQ_CANCEL_FAILOVER:
		add_task(j, "Prerequisites check for cancel failover", D_PREREQ, factor);
		add_task(j, "Start the Azure virtual machine", D_CANCEL_START, factor);
		break;
	case DR_PREQ__COUNT:
		assert(0);
	}
	return sync_task;
}

/* Decide whether and where the job fails: configured faults, then random. */
static void inject_failure(dr_sim *s, sim_job *j, const sim_item *it,
			   const dr_op_request *q)
{
	size_t i;

	for (i = 0; i < s->nfaults && j->fail_task < 0; i++) {
		sim_fault *f = &s->faults[i];
		int t = -1, k;

		if (f->type != F_FAIL || !fault_live(f) ||
		    !fault_matches(f, it->name, (int)q->kind))
			continue;
		if (f->task) {
			for (k = 0; k < j->ntasks; k++)
				if (!strcmp(j->tasks[k].name, f->task))
					t = k;
			if (t < 0)
				continue; /* this job has no such task */
		} else if (f->task_idx > 0) {
			t = f->task_idx <= j->ntasks ? f->task_idx - 1 : j->ntasks - 1;
		} else {
			t = j->ntasks - 1;
		}
		j->fail_task = t;
		j->fail_code = dr_xstrdup("SimulatedFault");
		{
			char msg[512];

			snprintf(msg, sizeof(msg), "Task '%s' failed for replicated "
				 "item '%s': fault '%s'.", j->tasks[t].name,
				 it->name, f->spec);
			j->fail_msg = dr_xstrdup(msg);
		}
		fault_fire(f);
	}
	if (j->fail_task < 0 && s->rand_p > 0 && rand01(s) < s->rand_p) {
		int t = (int)(rand01(s) * j->ntasks);
		char msg[512];

		if (t >= j->ntasks)
			t = j->ntasks - 1;
		j->fail_task = t;
		j->fail_code = dr_xstrdup("SimulatedRandomFault");
		snprintf(msg, sizeof(msg), "Task '%s' failed for replicated item "
			 "'%s': random fault (probability %g).", j->tasks[t].name,
			 it->name, s->rand_p);
		j->fail_msg = dr_xstrdup(msg);
	}
}

static int do_start(dr_sim *s, dr_arena *a, const dr_op_request *q,
		    const char **job_out, dr_prov_error *e)
{
	size_t idx = 0;
	sim_item *it = find_item(s, q->item, &idx);
	const char *op = dr_preq_kind_asr_op(q->kind);
	int64_t now = model_now(s);
	sim_point pt = { 0, DR_POINT_CRASH_CONSISTENT };
	bool has_pt = false, sync = false, shutdown_fail = false;
	double factor = 1.0;
	int64_t rpo = 0;
	sim_job *j;
	size_t i;
	int rc, sync_task = -1;

	if (!it)
		return err_not_found(a, e, q->item);
	if (it->busy >= 0) {
		const sim_job *b = s->jobs[it->busy];

		set_err(a, e, 400, "OperationNotAllowed",
			"Another operation is running on the item.",
			"Wait for the running job to finish, then start an "
			"operation listed in allowedOperations.",
			"Operation '%s' is not allowed for replicated item '%s' "
			"while job '%s' (%s) is in progress. Allowed operations: "
			"none.", op, it->name, b->id, dr_preq_kind_scenario(b->kind));
		return DR_ECONFLICT;
	}
	if (!stage_allows(it, op)) {
		set_err(a, e, 400, "OperationNotAllowed",
			"The operation is not valid in the item's current state.",
			"Start an operation listed in allowedOperations.",
			"Operation '%s' is not allowed for replicated item '%s' in "
			"state '%s' (%s). Allowed operations: %s.", op, it->name,
			stages[it->st].state, stages[it->st].desc,
			allowed_list(a, it));
		return DR_ECONFLICT;
	}

	switch (q->kind) {
	case DR_PREQ_TEST_FAILOVER:
	case DR_PREQ_UNPLANNED_FAILOVER:
		if ((rc = resolve_point(s, a, it, now, &q->rp, true, &pt, &sync, e)) < 0)
			return rc;
		has_pt = true;
		rpo = (now - pt.t) / 1000;
		break;
	case DR_PREQ_APPLY_RECOVERY_POINT:
		if ((rc = resolve_point(s, a, it, now, &q->rp, false, &pt, &sync, e)) < 0)
			return rc;
		has_pt = true;
		rpo = (it->fo_request - pt.t) / 1000;
		break;
	case DR_PREQ_TEST_FAILOVER_CLEANUP:
		if (q->comments && strlen(q->comments) > 1024) {
			set_err(a, e, 400, "InvalidParameter", NULL,
				"Shorten the comments.",
				"Comments are limited to 1024 characters.");
			return DR_EINVAL;
		}
		break;
	case DR_PREQ_REPROTECT: {
		dr_direction want = it->st == ST_COMMITTED ? DR_DIR_TO_ONPREM
							   : DR_DIR_TO_AZURE;

		if (q->direction && q->direction != DR_DIR_ANY &&
		    q->direction != want) {
			set_err(a, e, 400, "InvalidFailoverDirection",
				"Reprotect reverses the current replication.",
				"Reprotect in the other direction.",
				"Replicated item '%s' (%s) can only be reprotected "
				"%s.", it->name,
				stages[it->st].failback ? "InMageRcmFailback"
							: "InMageRcm",
				want == DR_DIR_TO_ONPREM ? "to on-premises (RecoveryToPrimary)"
							 : "to Azure (PrimaryToRecovery)");
			return DR_EINVAL;
		}
		break;
	}
	default:
		break;
	}

	for (i = 0; i < s->nfaults; i++) {
		sim_fault *f = &s->faults[i];

		if (!fault_live(f) || !fault_matches(f, it->name, (int)q->kind))
			continue;
		if (f->type == F_SLOW)
			factor *= f->factor;
		if (f->type == F_SHUTDOWN)
			shutdown_fail = true;
	}

	j = dr_xcalloc(1, sizeof(*j));
	j->s = s;
	j->seq = ++s->seq;
	job_id(j);
	j->item = idx;
	j->kind = q->kind;
	j->crid = dup_or_null(q->client_request_id);
	j->accept = now;
	j->fail_task = -1;
	j->warn_task = -1;
	sync_task = plan_tasks(j, it, q, sync, shutdown_fail, factor);

	inject_failure(s, j, it, q);
	if (j->warn_task >= 0 && j->fail_task >= 0 && j->fail_task < j->warn_task)
		j->warn_task = -1;
	j->end = j->tasks[j->fail_task >= 0 ? j->fail_task : j->ntasks - 1].end;

	if (q->kind == DR_PREQ_PLANNED_FAILOVER) {
		/* The final sync makes a new point: nothing is lost. */
		pt.t = j->tasks[sync_task].end;
		pt.type = q->point_type;
		has_pt = true;
		rpo = 0;
	}
	j->has_point = has_pt;
	j->point = pt;
	j->rpo_s = rpo;

	DR_ALLOC_GROW(s->jobs, s->njobs + 1, s->ajobs);
	s->jobs[s->njobs] = j;
	it->busy = (long)s->njobs;
	it->last_job = (long)s->njobs;
	s->njobs++;
	it->counts[q->kind]++;
	schedule_job(s, j);

	for (i = 0; i < s->nfaults; i++) {
		sim_fault *f = &s->faults[i];

		if (f->type != F_LOSE || !fault_live(f) ||
		    !fault_matches(f, it->name, (int)q->kind))
			continue;
		fault_fire(f);
		set_err(a, e, 0, "ConnectionReset", NULL,
			"Look for the operation's job before sending it again.",
			"The connection was reset before the reply to %s on '%s' "
			"arrived; the operation may have been accepted.", op,
			it->name);
		return DR_EIO;
	}
	*job_out = dr_arena_strdup(a, j->id);
	return 0;
}

/* ---- dispatch ---- */

static void dispatch(dr_loop *loop, void *ud)
{
	sim_req *r = ud;
	dr_sim *s = r->s;
	dr_arena *a = dr_arena_new();
	dr_prov_error err;
	size_t idx = 0, i, n = 0;
	int rc = 0;

	(void)loop;
	memset(&err, 0, sizeof(err));
	unlink_req(s, r);
	settle(s);
	switch (r->type) {
	case R_ITEM: {
		dr_prov_item v;

		if (!find_item(s, r->item, &idx)) {
			rc = err_not_found(a, &err, r->item);
			r->cb.item(r->ud, rc, NULL, &err);
			break;
		}
		item_view(s, a, idx, &v);
		r->cb.item(r->ud, 0, &v, NULL);
		break;
	}
	case R_START: {
		const char *id = NULL;

		rc = do_start(s, a, &r->op, &id, &err);
		r->cb.start(r->ud, rc, rc ? NULL : id, rc ? &err : NULL);
		break;
	}
	case R_POLL: {
		sim_job *j = find_job(s, r->job_id);
		dr_prov_job v;

		if (!j) {
			set_err(a, &err, 404, "NotFound", NULL,
				"Check the job id.", "The job '%s' was not found.",
				r->job_id);
			r->cb.job(r->ud, DR_ENOTFOUND, NULL, &err);
			break;
		}
		job_view(s, a, j, &v);
		r->cb.job(r->ud, 0, &v, NULL);
		break;
	}
	case R_FIND: {
		dr_prov_job *v;

		if (!find_item(s, r->item, &idx)) {
			rc = err_not_found(a, &err, r->item);
			r->cb.jobs(r->ud, rc, NULL, 0, &err);
			break;
		}
		v = dr_arena_zalloc(a, (s->njobs + 1) * sizeof(*v));
		for (i = 0; i < s->njobs; i++)
			if (s->jobs[i]->item == idx && s->jobs[i]->accept >= r->since)
				job_view(s, a, s->jobs[i], &v[n++]);
		r->cb.jobs(r->ud, 0, v, n, NULL);
		break;
	}
	case R_POINTS: {
		sim_item *it = find_item(s, r->item, &idx);
		sim_point *pts;
		dr_prov_point *v;

		if (!it) {
			rc = err_not_found(a, &err, r->item);
			r->cb.points(r->ud, rc, NULL, 0, &err);
			break;
		}
		n = item_points(s, it, model_now(s), &pts);
		v = dr_arena_zalloc(a, (n + 1) * sizeof(*v));
		for (i = 0; i < n; i++)
			point_view(a, &pts[i], &v[i]);
		free(pts);
		r->cb.points(r->ud, 0, v, n, NULL);
		break;
	}
	}
	/* The callback may have freed the simulator: touch only r and a. */
	free_req(r);
	dr_arena_free(a);
}

/* ---- the provider face ---- */

static dr_sim *sim_of(dr_provider *p)
{
	return p->impl;
}

static int sim_get_item(dr_provider *p, const char *item, dr_prov_item_cb cb,
			void *ud)
{
	sim_req *r = new_req(sim_of(p), R_ITEM, ud);

	r->item = dr_xstrdup(item);
	r->cb.item = cb;
	return 0;
}

static int sim_start(dr_provider *p, const dr_op_request *q,
		     dr_prov_start_cb cb, void *ud)
{
	sim_req *r = new_req(sim_of(p), R_START, ud);

	r->op = *q;
	r->op.item = r->item = dr_xstrdup(q->item);
	r->op.rp.id = dup_or_null(q->rp.id);
	r->op.rp.at = NULL;
	r->op.network = dup_or_null(q->network);
	r->op.comments = dup_or_null(q->comments);
	r->op.client_request_id = dup_or_null(q->client_request_id);
	r->cb.start = cb;
	return 0;
}

static int sim_poll(dr_provider *p, const char *job_id, dr_prov_job_cb cb,
		    void *ud)
{
	sim_req *r = new_req(sim_of(p), R_POLL, ud);

	r->job_id = dr_xstrdup(job_id);
	r->cb.job = cb;
	return 0;
}

static int sim_find_jobs(dr_provider *p, const char *item, int64_t since_ms,
			 dr_prov_jobs_cb cb, void *ud)
{
	sim_req *r = new_req(sim_of(p), R_FIND, ud);

	r->item = dr_xstrdup(item);
	r->since = since_ms;
	r->cb.jobs = cb;
	return 0;
}

static int sim_points(dr_provider *p, const char *item, dr_prov_points_cb cb,
		      void *ud)
{
	sim_req *r = new_req(sim_of(p), R_POINTS, ud);

	r->item = dr_xstrdup(item);
	r->cb.points = cb;
	return 0;
}

static int64_t sim_now(dr_provider *p)
{
	return model_now(sim_of(p));
}

static void sim_free_provider(dr_provider *p)
{
	dr_sim_free(sim_of(p));
}

static const dr_provider_ops sim_ops = {
	.name = "sim",
	.get_item = sim_get_item,
	.start = sim_start,
	.poll = sim_poll,
	.find_jobs = sim_find_jobs,
	.list_recovery_points = sim_points,
	.now_ms = sim_now,
	.free = sim_free_provider,
};

dr_provider *dr_sim_provider(dr_sim *s)
{
	return &s->prov;
}

dr_sim *dr_provider_sim(dr_provider *p)
{
	return p && p->ops == &sim_ops ? p->impl : NULL;
}

/* ---- life cycle ---- */

void dr_sim_opts_init(dr_sim_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->scale = 1.0;
	o->crash_interval_ms = 5 * MIN_MS;
	o->app_interval_ms = 60 * MIN_MS;
	o->pending_ms = 150 * 1000;
	o->latest_lag_ms = 15 * 1000;
	o->history_ms = 24ull * 60 * MIN_MS;
	o->retention_ms = 72ull * 60 * MIN_MS;
	o->initial_sync_ms = 30 * MIN_MS;
	o->seed = 1;
}

int dr_sim_opts_from_json(const json_t *j, dr_sim_opts *o)
{
	static const struct {
		const char *key;
		size_t off;
	} ms_keys[] = {
		{ "crashIntervalMs", offsetof(dr_sim_opts, crash_interval_ms) },
		{ "appIntervalMs", offsetof(dr_sim_opts, app_interval_ms) },
		{ "pendingMs", offsetof(dr_sim_opts, pending_ms) },
		{ "latestLagMs", offsetof(dr_sim_opts, latest_lag_ms) },
		{ "historyMs", offsetof(dr_sim_opts, history_ms) },
		{ "retentionMs", offsetof(dr_sim_opts, retention_ms) },
		{ "initialSyncMs", offsetof(dr_sim_opts, initial_sync_ms) },
		{ "seed", offsetof(dr_sim_opts, seed) },
	};
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(j))
		return dr_error_set(DR_EINVAL, "sim options: expected an object");
	json_object_foreach((json_t *)j, key, v) {
		bool done = false;

		if (!strcmp(key, "scale")) {
			if (!json_is_number(v) || json_number_value(v) < 0)
				return dr_error_set(DR_EINVAL, "sim options: scale "
						    "must be a number >= 0");
			o->scale = json_number_value(v);
			continue;
		}
		if (!strcmp(key, "epochMs")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				return dr_error_set(DR_EINVAL, "sim options: epochMs "
						    "must be an integer >= 0");
			o->epoch_ms = json_integer_value(v);
			continue;
		}
		if (!strcmp(key, "faults")) {
			if (!json_is_string(v))
				return dr_error_set(DR_EINVAL, "sim options: faults "
						    "must be a string");
			o->faults = json_string_value(v);
			continue;
		}
		for (i = 0; i < DR_ARRAY_SIZE(ms_keys); i++) {
			if (strcmp(key, ms_keys[i].key))
				continue;
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				return dr_error_set(DR_EINVAL, "sim options: %s must "
						    "be an integer >= 0", key);
			*(uint64_t *)((char *)o + ms_keys[i].off) =
				(uint64_t)json_integer_value(v);
			done = true;
		}
		if (!done)
			return dr_error_set(DR_EINVAL, "sim options: unknown key '%s'",
					    key);
	}
	return 0;
}

int dr_sim_new(dr_loop *loop, const dr_sim_opts *opts, dr_sim **out)
{
	dr_sim_opts def;
	dr_sim *s;
	int rc;

	*out = NULL;
	if (!opts) {
		dr_sim_opts_init(&def);
		opts = &def;
	}
	if (!(opts->scale >= 0) || isinf(opts->scale))
		return dr_error_set(DR_EINVAL, "sim: scale must be a number >= 0");
	if (opts->crash_interval_ms < 1000 || opts->app_interval_ms == 0 ||
	    opts->app_interval_ms % opts->crash_interval_ms)
		return dr_error_set(DR_EINVAL, "sim: the crash-consistent interval "
				    "must be at least 1 s and the app-consistent "
				    "interval a multiple of it");
	/* Bounds keep point lists and time arithmetic small. */
	if (opts->retention_ms / opts->crash_interval_ms > 1000000 ||
	    opts->history_ms > 3650ull * 86400000 ||
	    opts->pending_ms > 86400000 || opts->latest_lag_ms > 86400000 ||
	    opts->initial_sync_ms > 3650ull * 86400000 ||
	    opts->epoch_ms < 0 || opts->epoch_ms > MAX_MS)
		return dr_error_set(DR_EINVAL, "sim: an option is out of range "
				    "(see docs/simulator.md)");
	s = dr_xcalloc(1, sizeof(*s));
	s->prov.ops = &sim_ops;
	s->prov.impl = s;
	s->loop = loop;
	s->o = *opts;
	s->o.faults = NULL;
	s->epoch = opts->epoch_ms ? opts->epoch_ms : dr_wall_ms();
	s->loop_base = dr_loop_now(loop);
	s->floor = s->epoch;
	s->rng = opts->seed;
	if ((rc = dr_sim_add_faults(s, opts->faults)) < 0) {
		dr_sim_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static void free_state(dr_sim *s)
{
	size_t i;

	for (i = 0; i < s->nitems; i++) {
		dr_loop_timer_cancel(s->loop, s->items[i]->sync_timer);
		free(s->items[i]->name);
		free(s->items[i]->extra_reason);
		free(s->items[i]);
	}
	free(s->items);
	for (i = 0; i < s->njobs; i++) {
		dr_loop_timer_cancel(s->loop, s->jobs[i]->timer);
		free_job(s->jobs[i]);
	}
	free(s->jobs);
	s->items = NULL;
	s->nitems = s->aitems = 0;
	s->jobs = NULL;
	s->njobs = s->ajobs = 0;
}

void dr_sim_free(dr_sim *s)
{
	size_t i;

	if (!s)
		return;
	while (s->reqs) {
		sim_req *r = s->reqs;

		unlink_req(s, r);
		dr_loop_defer_cancel(s->loop, r->defer);
		free_req(r);
	}
	free_state(s);
	for (i = 0; i < s->nfaults; i++) {
		free(s->faults[i].machine);
		free(s->faults[i].task);
		free(s->faults[i].spec);
	}
	free(s->faults);
	free(s);
}

int64_t dr_sim_now(dr_sim *s)
{
	return model_now(s);
}

static sim_item *new_item(dr_sim *s, const char *name)
{
	sim_item *it = dr_xcalloc(1, sizeof(*it));

	it->s = s;
	it->name = dr_xstrdup(name);
	it->busy = -1;
	it->last_job = -1;
	DR_ALLOC_GROW(s->items, s->nitems + 1, s->aitems);
	s->items[s->nitems++] = it;
	return it;
}

int dr_sim_add_item(dr_sim *s, const dr_machine *m)
{
	const char *reason;
	int64_t ci = (int64_t)s->o.crash_interval_ms, start;
	sim_item *it;

	if (!m->name.v || !*m->name.v)
		return dr_error_set(DR_EINVAL, "sim: a machine without a name");
	if (find_item(s, m->name.v, NULL))
		return dr_error_set(DR_ECONFLICT, "sim: item '%s' exists",
				    m->name.v);
	it = new_item(s, m->name.v);
	it->physical = m->source.kind == DR_SRC_PHYSICAL;
	reason = dr_machine_extra_failover_reason(m);
	it->extra_reason = dup_or_null(reason);
	it->st = ST_PROTECTED;
	/* Round to the point grid so point times read well. */
	start = model_now(s) - (int64_t)s->o.history_ms;
	it->repl_start = start - ((start % ci) + ci) % ci;
	return 0;
}

int dr_sim_sync_plan(dr_sim *s, const dr_plan *p)
{
	size_t i;
	int rc;

	for (i = 0; i < p->nmachines; i++) {
		if (!p->machines[i].name.v || find_item(s, p->machines[i].name.v, NULL))
			continue;
		if ((rc = dr_sim_add_item(s, &p->machines[i])) < 0)
			return rc;
	}
	return 0;
}

int dr_sim_op_count(const dr_sim *s, const char *machine, dr_preq_kind kind)
{
	const sim_item *it = find_item(s, machine, NULL);

	if (!it || (unsigned)kind >= DR_PREQ__COUNT)
		return 0;
	return it->counts[kind];
}

/* ---- persistence ---- */

#define SAVE_FORMAT "drplan-sim/1"

static json_t *ms_json(int64_t ms)
{
	return json_integer((json_int_t)ms);
}

static json_t *spoint_json(const sim_point *p)
{
	return json_pack("{s:I, s:s}", "timeMs", (json_int_t)p->t, "type",
			 dr_point_type_name(p->type));
}

int dr_sim_save(dr_sim *s, json_t **out)
{
	json_t *root, *items = json_array(), *jobs = json_array();
	size_t i;
	int k;

	settle(s);
	for (i = 0; i < s->nitems; i++) {
		const sim_item *it = s->items[i];
		json_t *counts = json_object(), *o;

		for (k = 0; k < DR_PREQ__COUNT; k++)
			if (it->counts[k])
				json_object_set_new(counts, dr_preq_kind_name(k),
						    json_integer(it->counts[k]));
		o = json_object();
		json_object_set_new(o, "name", json_string(it->name));
		json_object_set_new(o, "physical", json_boolean(it->physical));
		json_object_set_new(o, "extraReason",
				    it->extra_reason ? json_string(it->extra_reason)
						     : json_null());
		json_object_set_new(o, "stage", json_string(stages[it->st].name));
		json_object_set_new(o, "replStartMs", ms_json(it->repl_start));
		json_object_set_new(o, "frozenAtMs", ms_json(it->frozen_at));
		json_object_set_new(o, "extraPoint",
				    it->extra_pt ? spoint_json(&(sim_point){
							   it->extra_pt, it->extra_type })
						 : json_null());
		json_object_set_new(o, "syncEndMs", ms_json(it->sync_end));
		json_object_set_new(
			o, "failover",
			it->has_fo ? json_pack("{s:o, s:I, s:I}", "point",
					       spoint_json(&it->fo_point), "rpoS",
					       (json_int_t)it->fo_rpo_s, "requestMs",
					       (json_int_t)it->fo_request)
				   : json_null());
		json_object_set_new(o, "committed", json_boolean(it->committed));
		json_object_set_new(o, "busyJob",
				    it->busy >= 0 ? json_string(s->jobs[it->busy]->id)
						  : json_null());
		json_object_set_new(o, "lastJob",
				    it->last_job >= 0
					    ? json_string(s->jobs[it->last_job]->id)
					    : json_null());
		json_object_set_new(o, "opCounts", counts);
		json_array_append_new(items, o);
	}
	for (i = 0; i < s->njobs; i++) {
		const sim_job *j = s->jobs[i];
		json_t *tasks = json_array(), *o = json_object();

		for (k = 0; k < j->ntasks; k++)
			json_array_append_new(
				tasks, json_pack("{s:s, s:I, s:I}", "name",
						 j->tasks[k].name, "startMs",
						 (json_int_t)j->tasks[k].start, "endMs",
						 (json_int_t)j->tasks[k].end));
		json_object_set_new(o, "id", json_string(j->id));
		json_object_set_new(o, "seq", json_integer((json_int_t)j->seq));
		json_object_set_new(o, "item", json_string(s->items[j->item]->name));
		json_object_set_new(o, "operation",
				    json_string(dr_preq_kind_name(j->kind)));
		json_object_set_new(o, "clientRequestId",
				    j->crid ? json_string(j->crid) : json_null());
		json_object_set_new(o, "acceptMs", ms_json(j->accept));
		json_object_set_new(o, "endMs", ms_json(j->end));
		json_object_set_new(o, "tasks", tasks);
		json_object_set_new(o, "failTask", json_integer(j->fail_task));
		json_object_set_new(o, "warnTask", json_integer(j->warn_task));
		json_object_set_new(o, "failCode",
				    j->fail_code ? json_string(j->fail_code) : json_null());
		json_object_set_new(o, "failMessage",
				    j->fail_msg ? json_string(j->fail_msg) : json_null());
		json_object_set_new(o, "settled", json_boolean(j->settled));
		json_object_set_new(o, "point",
				    j->has_point ? spoint_json(&j->point) : json_null());
		json_object_set_new(o, "rpoS", json_integer((json_int_t)j->rpo_s));
		json_array_append_new(jobs, o);
	}
	root = json_object();
	json_object_set_new(root, "format", json_string(SAVE_FORMAT));
	json_object_set_new(root, "modelNowMs", ms_json(model_now(s)));
	json_object_set_new(root, "seq", json_integer((json_int_t)s->seq));
	/* As a string: the generator state uses all 64 bits. */
	{
		char buf[32];

		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)s->rng);
		json_object_set_new(root, "rng", json_string(buf));
	}
	json_object_set_new(root, "items", items);
	json_object_set_new(root, "jobs", jobs);
	*out = root;
	return 0;
}

/*
 * Times a state file may hold. Negative ones can arise (a point grid that
 * starts before 1970 in a test); the bound keeps every difference of two
 * times far from overflowing.
 */
static bool ms_ok(json_int_t t)
{
	return t >= -MAX_MS && t <= MAX_MS;
}

/* A string or null; anything else is an error. */
static int nullable_str(const json_t *v, const char **out)
{
	if (!v || json_is_null(v)) {
		*out = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

static int load_point(const json_t *j, sim_point *p, const char *what)
{
	json_int_t t;
	const char *type;
	json_error_t e;

	if (json_unpack_ex((json_t *)j, &e, JSON_STRICT, "{s:I, s:s}", "timeMs",
			   &t, "type", &type) < 0)
		return dr_error_set(DR_EINVAL, "sim state: %s: %s", what, e.text);
	if (!ms_ok(t))
		return dr_error_set(DR_EINVAL, "sim state: %s: time out of range",
				    what);
	p->t = t;
	if (!strcmp(type, "ApplicationConsistent"))
		p->type = DR_POINT_APP_CONSISTENT;
	else if (!strcmp(type, "CrashConsistent"))
		p->type = DR_POINT_CRASH_CONSISTENT;
	else
		return dr_error_set(DR_EINVAL, "sim state: %s: bad type '%s'", what,
				    type);
	return 0;
}

static long job_index(dr_sim *s, const char *id)
{
	size_t i;

	if (!id)
		return -1;
	for (i = 0; i < s->njobs; i++)
		if (!strcmp(s->jobs[i]->id, id))
			return (long)i;
	return -2;
}

static int load_item(dr_sim *s, const json_t *o, sim_item **out)
{
	const char *name, *stage_name, *extra = NULL, *busy = NULL, *last = NULL;
	json_t *xp = NULL, *fo = NULL, *counts, *jextra, *jbusy, *jlast;
	json_int_t repl, frozen, sync_end;
	int physical, committed, k;
	json_error_t e;
	sim_item *it;
	const char *key;
	json_t *v;

	if (json_unpack_ex((json_t *)o, &e, JSON_STRICT,
			   "{s:s, s:b, s:o, s:s, s:I, s:I, s:o, s:I, s:o, s:b, "
			   "s:o, s:o, s:o}",
			   "name", &name, "physical", &physical, "extraReason",
			   &jextra, "stage", &stage_name, "replStartMs", &repl,
			   "frozenAtMs", &frozen, "extraPoint", &xp, "syncEndMs",
			   &sync_end, "failover", &fo, "committed", &committed,
			   "busyJob", &jbusy, "lastJob", &jlast, "opCounts",
			   &counts) < 0)
		return dr_error_set(DR_EINVAL, "sim state: item: %s", e.text);
	if (nullable_str(jextra, &extra) < 0 || nullable_str(jbusy, &busy) < 0 ||
	    nullable_str(jlast, &last) < 0)
		return dr_error_set(DR_EINVAL, "sim state: item '%s': extraReason, "
				    "busyJob and lastJob must be strings or null",
				    name);
	if (find_item(s, name, NULL))
		return dr_error_set(DR_EINVAL, "sim state: item '%s' twice", name);
	if (!ms_ok(repl) || !ms_ok(frozen) || !ms_ok(sync_end))
		return dr_error_set(DR_EINVAL, "sim state: item '%s': time out of "
				    "range", name);
	it = new_item(s, name);
	it->physical = physical;
	it->extra_reason = dup_or_null(extra);
	for (k = 0; k < ST__COUNT; k++)
		if (!strcmp(stages[k].name, stage_name))
			break;
	if (k == ST__COUNT)
		return dr_error_set(DR_EINVAL, "sim state: item '%s': unknown "
				    "stage '%s'", name, stage_name);
	it->st = (stage)k;
	it->repl_start = repl;
	it->frozen_at = frozen;
	it->sync_end = sync_end;
	it->committed = committed;
	if (xp && !json_is_null(xp)) {
		sim_point p;

		if (load_point(xp, &p, "extraPoint") < 0)
			return DR_EINVAL;
		it->extra_pt = p.t;
		it->extra_type = p.type;
	}
	if (fo && !json_is_null(fo)) {
		json_t *pt;
		json_int_t rpo, req;

		if (json_unpack_ex(fo, &e, JSON_STRICT, "{s:o, s:I, s:I}", "point",
				   &pt, "rpoS", &rpo, "requestMs", &req) < 0)
			return dr_error_set(DR_EINVAL, "sim state: item '%s': "
					    "failover: %s", name, e.text);
		if (load_point(pt, &it->fo_point, "failover point") < 0)
			return DR_EINVAL;
		if (!ms_ok(req))
			return dr_error_set(DR_EINVAL, "sim state: item '%s': "
					    "failover: time out of range", name);
		it->has_fo = true;
		it->fo_rpo_s = rpo;
		it->fo_request = req;
	}
	if (!json_is_object(counts))
		return dr_error_set(DR_EINVAL, "sim state: item '%s': opCounts is "
				    "not an object", name);
	json_object_foreach(counts, key, v) {
		dr_preq_kind kind;

		if (dr_preq_kind_parse(key, &kind) < 0 || !json_is_integer(v) ||
		    json_integer_value(v) < 0 || json_integer_value(v) > 1000000)
			return dr_error_set(DR_EINVAL, "sim state: item '%s': bad "
					    "op count '%s'", name, key);
		it->counts[kind] = (int)json_integer_value(v);
	}
	it->busy = job_index(s, busy);
	it->last_job = job_index(s, last);
	if (it->busy == -2 || it->last_job == -2)
		return dr_error_set(DR_EINVAL, "sim state: item '%s' names an "
				    "unknown job", name);
	*out = it;
	return 0;
}

static int load_job(dr_sim *s, const json_t *o, const char **item_out)
{
	const char *id, *item, *op, *crid = NULL, *fcode = NULL, *fmsg = NULL;
	json_t *tasks, *pt = NULL, *t, *jcrid, *jfcode, *jfmsg;
	json_int_t seq, accept, end, rpo;
	int fail, warn, settled;
	json_error_t e;
	dr_preq_kind kind;
	sim_job *j;
	size_t i;

	if (json_unpack_ex((json_t *)o, &e, JSON_STRICT,
			   "{s:s, s:I, s:s, s:s, s:o, s:I, s:I, s:o, s:i, s:i, "
			   "s:o, s:o, s:b, s:o, s:I}",
			   "id", &id, "seq", &seq, "item", &item, "operation", &op,
			   "clientRequestId", &jcrid, "acceptMs", &accept, "endMs",
			   &end, "tasks", &tasks, "failTask", &fail, "warnTask",
			   &warn, "failCode", &jfcode, "failMessage", &jfmsg,
			   "settled", &settled, "point", &pt, "rpoS", &rpo) < 0)
		return dr_error_set(DR_EINVAL, "sim state: job: %s", e.text);
	if (nullable_str(jcrid, &crid) < 0 || nullable_str(jfcode, &fcode) < 0 ||
	    nullable_str(jfmsg, &fmsg) < 0)
		return dr_error_set(DR_EINVAL, "sim state: job '%s': "
				    "clientRequestId, failCode and failMessage "
				    "must be strings or null", id);
	if (dr_preq_kind_parse(op, &kind) < 0)
		return dr_error_set(DR_EINVAL, "sim state: job '%s': unknown "
				    "operation '%s'", id, op);
	if (!ms_ok(accept) || !ms_ok(end) || end < accept)
		return dr_error_set(DR_EINVAL, "sim state: job '%s': times out of "
				    "range", id);
	if (strlen(id) >= sizeof(j->id) || find_job(s, id))
		return dr_error_set(DR_EINVAL, "sim state: bad or repeated job id "
				    "'%s'", id);
	if (!json_is_array(tasks) || json_array_size(tasks) == 0 ||
	    json_array_size(tasks) > MAX_TASKS)
		return dr_error_set(DR_EINVAL, "sim state: job '%s': 1 to %d tasks "
				    "expected", id, MAX_TASKS);
	if (fail < -1 || fail >= (int)json_array_size(tasks) || warn < -1 ||
	    warn >= (int)json_array_size(tasks) || (fail >= 0 && (!fcode || !fmsg)))
		return dr_error_set(DR_EINVAL, "sim state: job '%s': bad task "
				    "index", id);
	j = dr_xcalloc(1, sizeof(*j));
	DR_ALLOC_GROW(s->jobs, s->njobs + 1, s->ajobs);
	s->jobs[s->njobs++] = j; /* owned by s from here, even on error */
	j->s = s;
	snprintf(j->id, sizeof(j->id), "%s", id);
	j->seq = (uint64_t)seq;
	j->kind = kind;
	j->crid = dup_or_null(crid);
	j->accept = accept;
	j->end = end;
	j->fail_task = fail;
	j->warn_task = warn;
	j->fail_code = dup_or_null(fcode);
	j->fail_msg = dup_or_null(fmsg);
	j->settled = settled;
	j->rpo_s = rpo;
	json_array_foreach(tasks, i, t) {
		const char *name;
		json_int_t ts, te;

		if (json_unpack_ex(t, &e, JSON_STRICT, "{s:s, s:I, s:I}", "name",
				   &name, "startMs", &ts, "endMs", &te) < 0)
			return dr_error_set(DR_EINVAL, "sim state: job '%s': task: "
					    "%s", id, e.text);
		if (!ms_ok(ts) || !ms_ok(te) || te < ts)
			return dr_error_set(DR_EINVAL, "sim state: job '%s': task "
					    "times out of range", id);
		j->tasks[i].name = dr_xstrdup(name);
		j->tasks[i].start = ts;
		j->tasks[i].end = te;
		j->ntasks++;
	}
	if (pt && !json_is_null(pt)) {
		if (load_point(pt, &j->point, "job point") < 0)
			return DR_EINVAL;
		j->has_point = true;
	}
	*item_out = item;
	return 0;
}

int dr_sim_load(dr_sim *s, const json_t *state)
{
	const char *fmt, *rng, *item_name;
	json_t *items, *jobs, *v;
	json_int_t now, seq;
	json_error_t e;
	dr_sim tmp;
	const char **job_items = NULL;
	size_t i, k;
	char *end;
	int rc = 0;

	if (json_unpack_ex((json_t *)state, &e, JSON_STRICT,
			   "{s:s, s:I, s:I, s:s, s:o, s:o}", "format", &fmt,
			   "modelNowMs", &now, "seq", &seq, "rng", &rng, "items",
			   &items, "jobs", &jobs) < 0)
		return dr_error_set(DR_EINVAL, "sim state: %s", e.text);
	if (!ms_ok(now) || seq < 0)
		return dr_error_set(DR_EINVAL, "sim state: modelNowMs or seq out "
				    "of range");
	if (strcmp(fmt, SAVE_FORMAT))
		return dr_error_set(DR_EINVAL, "sim state: format '%s', expected "
				    "'%s'", fmt, SAVE_FORMAT);
	if (!json_is_array(items) || !json_is_array(jobs))
		return dr_error_set(DR_EINVAL, "sim state: items and jobs must "
				    "be arrays");

	/* Build into a scratch simulator so a bad state changes nothing. */
	memset(&tmp, 0, sizeof(tmp));
	tmp.loop = s->loop;
	tmp.o = s->o;
	tmp.rng = strtoull(rng, &end, 10);
	if (*end || !*rng)
		return dr_error_set(DR_EINVAL, "sim state: bad rng '%s'", rng);
	tmp.seq = (uint64_t)seq;
	job_items = dr_xcalloc(json_array_size(jobs) + 1, sizeof(*job_items));
	json_array_foreach(jobs, i, v) {
		if ((rc = load_job(&tmp, v, &job_items[i])) < 0)
			goto fail;
	}
	json_array_foreach(items, i, v) {
		sim_item *it;

		if ((rc = load_item(&tmp, v, &it)) < 0)
			goto fail;
	}
	for (i = 0; i < tmp.njobs; i++) {
		item_name = job_items[i];
		if (!find_item(&tmp, item_name, &k)) {
			rc = dr_error_set(DR_EINVAL, "sim state: job '%s' names an "
					  "unknown item '%s'", tmp.jobs[i]->id,
					  item_name);
			goto fail;
		}
		tmp.jobs[i]->item = k;
	}
	for (i = 0; i < tmp.nitems; i++) {
		sim_item *it = tmp.items[i];

		if (it->busy >= 0 && (tmp.jobs[it->busy]->settled ||
				      tmp.jobs[it->busy]->item != i)) {
			rc = dr_error_set(DR_EINVAL, "sim state: item '%s' is busy "
					  "with a finished or foreign job",
					  it->name);
			goto fail;
		}
		/* Settling the job must be a legal step from this stage. */
		if (it->busy >= 0 &&
		    !stage_allows(it, dr_preq_kind_asr_op(tmp.jobs[it->busy]->kind))) {
			rc = dr_error_set(DR_EINVAL, "sim state: item '%s' in stage "
					  "'%s' cannot be running a %s job",
					  it->name, stages[it->st].name,
					  dr_preq_kind_name(tmp.jobs[it->busy]->kind));
			goto fail;
		}
	}
	for (i = 0; i < tmp.njobs; i++) {
		const sim_job *j = tmp.jobs[i];

		if (!j->settled && tmp.items[j->item]->busy != (long)i) {
			rc = dr_error_set(DR_EINVAL, "sim state: job '%s' runs but "
					  "item '%s' is not busy with it", j->id,
					  tmp.items[j->item]->name);
			goto fail;
		}
	}
	free(job_items);

	free_state(s);
	s->items = tmp.items;
	s->nitems = tmp.nitems;
	s->aitems = tmp.aitems;
	s->jobs = tmp.jobs;
	s->njobs = tmp.njobs;
	s->ajobs = tmp.ajobs;
	s->seq = tmp.seq;
	s->rng = tmp.rng;
	for (i = 0; i < s->nitems; i++)
		s->items[i]->s = s;
	advance_model_to(s, now);
	for (i = 0; i < s->njobs; i++) {
		s->jobs[i]->s = s;
		if (!s->jobs[i]->settled)
			schedule_job(s, s->jobs[i]);
	}
	for (i = 0; i < s->nitems; i++)
		if (stages[s->items[i]->st].syncing)
			schedule_sync(s, s->items[i]);
	settle(s);
	return 0;

fail:
	free(job_items);
	free_state(&tmp);
	return rc;
}
