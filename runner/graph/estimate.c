/*
 * estimate.c - duration models, scheduling, critical path and RTO.
 *
 * The figures and their reasons are in docs/rto-model.md; the table below
 * is the one place they live in code. Keep both in step.
 */
#include "graph/graph.h"

#include "core/alloc.h"
#include "core/parse.h"
#include "core/strbuf.h"

#include <stdlib.h>
#include <string.h>

#define SEC 1000ull
#define MIN (60 * SEC)

enum model_id {
	M_SHUTDOWN,
	M_TEST_FAILOVER,
	M_TFO_CLEANUP,
	M_UNPLANNED,
	M_PLANNED,
	M_COMMIT,
	M_REPROTECT,
	M_RP_LATEST,
	M_EXTRA,
	M_VERIFY,
	M_HOOK,
	M_MANUAL,
	M__COUNT
};

static const struct model_row {
	const char *what;
	uint64_t min, exp, max;
} models[M__COUNT] = {
	/* Guest shutdown through VMware tools / the Mobility agent. */
	[M_SHUTDOWN] = { "source shutdown", 30 * SEC, 2 * MIN, 5 * MIN },
	/* ASR creates the VM from a recovery point: "minutes". */
	[M_TEST_FAILOVER] = { "ASR test failover", 3 * MIN, 5 * MIN, 15 * MIN },
	[M_TFO_CLEANUP] = { "ASR test failover cleanup", 1 * MIN, 3 * MIN, 10 * MIN },
	[M_UNPLANNED] = { "ASR failover", 3 * MIN, 5 * MIN, 15 * MIN },
	/* Failback: final sync of pending changes, Azure VM shutdown,
	 * on-premises VM power-on. */
	[M_PLANNED] = { "ASR planned failover incl. final sync", 5 * MIN,
			15 * MIN, 45 * MIN },
	[M_COMMIT] = { "ASR commit", 30 * SEC, 1 * MIN, 3 * MIN },
	/* Replication restart; the initial sync that follows is not RTO. */
	[M_REPROTECT] = { "ASR reprotect (replication restart)", 2 * MIN,
			  5 * MIN, 15 * MIN },
	/* "latest" processes the data not yet made into a point first. */
	[M_RP_LATEST] = { "processing pending data (latest)", 1 * MIN, 3 * MIN,
			  10 * MIN },
	/* [AZ-FO-EXTRA-TIME]: "about 8 to 10 minutes". */
	[M_EXTRA] = { "extra failover step", 8 * MIN, 9 * MIN, 10 * MIN },
	[M_VERIFY] = { "verify cleanup", 10 * SEC, 30 * SEC, 2 * MIN },
	/* Lua: min(timeout, exp) expected, the timeout at worst; max is the
	 * default timeout when the hook states none. */
	[M_HOOK] = { "Lua hook", 5 * SEC, 1 * MIN, 10 * MIN },
	/* Manual: a person reads and acts; max when there is no timeout. */
	[M_MANUAL] = { "manual action", 1 * MIN, 5 * MIN, 30 * MIN },
};

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void add_model(dr_estimate *e, enum model_id m)
{
	e->min_ms = add_sat(e->min_ms, models[m].min);
	e->exp_ms = add_sat(e->exp_ms, models[m].exp);
	e->max_ms = add_sat(e->max_ms, models[m].max);
}

/*
 * The reason being built for one step. Most steps repeat a handful of
 * durations, so the last few formatted ones are remembered rather than
 * formatted again for each of 40,000 steps.
 */
struct why {
	dr_strbuf sb;
	struct {
		uint64_t ms;
		char s[32];
	} memo[8];
	unsigned next;
};

static void add_dur(struct why *w, uint64_t ms)
{
	unsigned i;

	for (i = 0; i < 8; i++)
		if (w->memo[i].s[0] && w->memo[i].ms == ms) {
			dr_strbuf_addstr(&w->sb, w->memo[i].s);
			return;
		}
	i = w->next++ % 8;
	w->memo[i].ms = ms;
	dr_format_duration(ms, w->memo[i].s, sizeof(w->memo[i].s));
	dr_strbuf_addstr(&w->sb, w->memo[i].s);
}

static void add_str(struct why *w, const char *s)
{
	dr_strbuf_addstr(&w->sb, s);
}

/* Equal reasons share one arena string: a 10,000-machine plan has a few
 * dozen distinct ones. */
struct interner {
	struct islot {
		uint64_t hash;
		const char *s;
	} *t;
	size_t cap, n;
};

static uint64_t str_hash(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ull;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

static const char *intern(struct interner *in, dr_arena *a, const char *s,
			  size_t len)
{
	uint64_t h = str_hash(s, len);
	size_t i;

	if ((in->n + 1) * 2 > in->cap) {
		struct islot *old = in->t;
		size_t oc = in->cap, j;

		in->cap = oc ? oc * 2 : 64;
		in->t = dr_xcalloc(in->cap, sizeof(*in->t));
		for (j = 0; j < oc; j++) {
			if (!old[j].s)
				continue;
			for (i = old[j].hash & (in->cap - 1); in->t[i].s;
			     i = (i + 1) & (in->cap - 1))
				;
			in->t[i] = old[j];
		}
		free(old);
	}
	for (i = h & (in->cap - 1); in->t[i].s; i = (i + 1) & (in->cap - 1))
		if (in->t[i].hash == h && !strcmp(in->t[i].s, s))
			return in->t[i].s;
	in->t[i].hash = h;
	in->t[i].s = dr_arena_strndup(a, s, len);
	in->n++;
	return in->t[i].s;
}

static void price_model(dr_estimate *e, struct why *why, enum model_id m)
{
	add_model(e, m);
	add_str(why, models[m].what);
	add_str(why, " ");
	add_dur(why, models[m].exp);
}

/* Failover-like steps: the base model, recovery point and extra time. */
static void price_failover(dr_step *s, struct why *why, enum model_id base)
{
	price_model(&s->est, why, base);
	if (s->rp && s->rp->kind == DR_RP_LATEST) {
		add_str(why, " + ");
		price_model(&s->est, why, M_RP_LATEST);
	}
	if (s->extra_reason) {
		add_str(why, " + ");
		price_model(&s->est, why, M_EXTRA);
	}
}

static void price(dr_step *s, struct why *why)
{
	uint64_t t;

	memset(&s->est, 0, sizeof(s->est));
	switch (s->kind) {
	case DR_STEP_GROUP_START:
	case DR_STEP_GROUP_JOIN:
	case DR_STEP_GROUP_END:
		add_str(why, "barrier");
		break;
	case DR_STEP_HOOK:
		t = s->action->timeout.ms ? s->action->timeout.ms
					  : models[M_HOOK].max;
		s->est.min_ms = min_u64(t, models[M_HOOK].min);
		s->est.exp_ms = min_u64(t, models[M_HOOK].exp);
		s->est.max_ms = t;
		add_str(why, "Lua hook, timeout ");
		add_dur(why, t);
		break;
	case DR_STEP_MANUAL:
		t = s->action->timeout.ms ? s->action->timeout.ms
					  : models[M_MANUAL].max;
		s->est.min_ms = min_u64(t, models[M_MANUAL].min);
		s->est.exp_ms = min_u64(t, models[M_MANUAL].exp);
		s->est.max_ms = t;
		add_str(why, "manual action, ");
		add_dur(why, s->est.exp_ms);
		add_str(why, s->action->timeout.ms ? ", timeout "
							    : ", at most ");
		add_dur(why, t);
		break;
	case DR_STEP_SHUTDOWN_SOURCE:
		price_model(&s->est, why, M_SHUTDOWN);
		break;
	case DR_STEP_TEST_FAILOVER:
		price_failover(s, why, M_TEST_FAILOVER);
		break;
	case DR_STEP_UNPLANNED_FAILOVER:
		price_failover(s, why, M_UNPLANNED);
		break;
	case DR_STEP_TEST_FAILOVER_CLEANUP:
		price_model(&s->est, why, M_TFO_CLEANUP);
		break;
	case DR_STEP_PLANNED_FAILOVER:
		price_model(&s->est, why, M_PLANNED);
		break;
	case DR_STEP_COMMIT:
		price_model(&s->est, why, M_COMMIT);
		break;
	case DR_STEP_REPROTECT:
		price_model(&s->est, why, M_REPROTECT);
		break;
	case DR_STEP_GATE:
		add_str(why, "waits for people; not counted");
		break;
	case DR_STEP_WAIT:
		s->est.min_ms = s->est.exp_ms = s->est.max_ms = s->wait_ms;
		add_str(why, "drill hold (drill.cleanup.after)");
		break;
	case DR_STEP_VERIFY_CLEANUP:
		price_model(&s->est, why, M_VERIFY);
		break;
	default:
		break;
	}
}

/* ---- list scheduling ---------------------------------------------------- */

struct slot {
	uint64_t free;
	size_t id;
	long last; /* last step of the chain that ran on it, or -1 */
};

static bool slot_before(const struct slot *a, const struct slot *b)
{
	return a->free != b->free ? a->free < b->free : a->id < b->id;
}

static void slot_sift(struct slot *h, size_t n, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1;
		struct slot t;

		if (c >= n)
			break;
		if (c + 1 < n && slot_before(&h[c + 1], &h[c]))
			c++;
		if (!slot_before(&h[c], &h[i]))
			break;
		t = h[c];
		h[c] = h[i];
		h[i] = t;
		i = c;
	}
}

struct job {
	uint64_t dur;
	size_t idx;
};

static int job_cmp(const void *x, const void *y)
{
	const struct job *a = x, *b = y;

	if (a->dur != b->dur)
		return a->dur > b->dur ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/*
 * Longest processing time first on `limit` slots: each chain, longest
 * first, goes to the slot that frees up first. Sets the first step's slot
 * wait and, when it waits, the step whose end frees the slot.
 */
static void schedule_gphase(dr_graph *g, const dr_graph_gphase *gp,
			    unsigned limit, bool worst)
{
	size_t n = gp->nchains, i, k, nslots;
	struct job *jobs;
	struct slot *slots;

	if (n <= limit) {
		for (i = 0; i < n; i++) {
			dr_step *s = &g->steps[gp->chains[i].first];

			if (worst)
				s->worst_slot_wait_ms = 0;
			else
				s->slot_wait_ms = 0;
		}
		return;
	}
	jobs = dr_xmalloc(n * sizeof(*jobs));
	for (i = 0; i < n; i++) {
		uint64_t d = 0;

		for (k = gp->chains[i].first; k <= gp->chains[i].last; k++)
			d = add_sat(d, worst ? g->steps[k].est.max_ms
					     : g->steps[k].est.exp_ms);
		jobs[i].dur = d;
		jobs[i].idx = i;
	}
	qsort(jobs, n, sizeof(*jobs), job_cmp);
	nslots = limit;
	slots = dr_xmalloc(nslots * sizeof(*slots));
	for (i = 0; i < nslots; i++) {
		slots[i].free = 0;
		slots[i].id = i;
		slots[i].last = -1;
	}
	for (i = 0; i < n; i++) {
		const dr_graph_chain *ch = &gp->chains[jobs[i].idx];
		dr_step *s = &g->steps[ch->first];

		if (worst) {
			s->worst_slot_wait_ms = slots[0].free;
			if (slots[0].last >= 0)
				s->worst_crit_pred = slots[0].last;
		} else {
			s->slot_wait_ms = slots[0].free;
			if (slots[0].last >= 0)
				s->crit_pred = slots[0].last;
		}
		slots[0].free = add_sat(slots[0].free, jobs[i].dur);
		slots[0].last = (long)ch->last;
		slot_sift(slots, nslots, 0);
	}
	free(slots);
	free(jobs);
}

/* ---- the schedule ------------------------------------------------------- */

int dr_graph_estimate(dr_graph *g)
{
	dr_arena *a = g->arena;
	struct why why;
	struct interner in = { NULL, 0, 0 };
	size_t i, k;
	long rto_end = -1;
	size_t n;

	memset(&why, 0, sizeof(why));
	dr_strbuf_init(&why.sb, 128);
	for (i = 0; i < g->nsteps; i++) {
		dr_step *s = &g->steps[i];

		dr_strbuf_reset(&why.sb);
		price(s, &why);
		s->est.why = intern(&in, a, why.sb.buf, why.sb.len);
		s->slot_wait_ms = s->worst_slot_wait_ms = 0;
		s->crit_pred = s->worst_crit_pred = -1;
		s->flags &= ~(unsigned)DR_STEP_F_CRITICAL_PATH;
	}
	dr_strbuf_release(&why.sb);
	free(in.t);

	for (i = 0; i < g->ngphases; i++) {
		const dr_graph_gphase *gp = &g->gphases[i];
		unsigned limit = g->groups[gp->group].concurrency;

		schedule_gphase(g, gp, limit ? limit : 1, false);
		schedule_gphase(g, gp, limit ? limit : 1, true);
	}

	/* Earliest start: steps[] is topological, one pass suffices. */
	g->total_ms = g->worst_total_ms = 0;
	for (i = 0; i < g->nsteps; i++) {
		dr_step *s = &g->steps[i];
		uint64_t st = 0, wst = 0;
		long pred = -1, wpred = -1;

		for (k = 0; k < s->ndeps; k++) {
			const dr_step *d = &g->steps[s->deps[k]];

			if (pred < 0 || d->finish_ms > st) {
				st = d->finish_ms;
				pred = (long)s->deps[k];
			}
			if (wpred < 0 || d->worst_finish_ms > wst) {
				wst = d->worst_finish_ms;
				wpred = (long)s->deps[k];
			}
		}
		/* A machine that waits for a slot starts when the machine
		 * before it on that slot ends: that is its predecessor. */
		if (s->slot_wait_ms)
			st = add_sat(st, s->slot_wait_ms);
		else
			s->crit_pred = pred;
		if (s->worst_slot_wait_ms)
			wst = add_sat(wst, s->worst_slot_wait_ms);
		else
			s->worst_crit_pred = wpred;
		s->start_ms = st;
		s->finish_ms = add_sat(st, s->est.exp_ms);
		s->worst_start_ms = wst;
		s->worst_finish_ms = add_sat(wst, s->est.max_ms);
		if (s->finish_ms > g->total_ms)
			g->total_ms = s->finish_ms;
		if (s->worst_finish_ms > g->worst_total_ms)
			g->worst_total_ms = s->worst_finish_ms;
	}

	g->rto_ms = g->worst_rto_ms = 0;
	for (i = 0; i < g->ngphases; i++) {
		const dr_graph_gphase *gp = &g->gphases[i];
		dr_graph_group *gg = &g->groups[gp->group];
		const dr_step *st = &g->steps[gp->start];
		const dr_step *en = &g->steps[gp->end];

		if (gp->phase != DR_PHASE_MAIN)
			continue;
		gg->span_ms = en->finish_ms - st->start_ms;
		gg->worst_span_ms = en->worst_finish_ms - st->worst_start_ms;
		gg->rto_ms = en->finish_ms;
		gg->worst_rto_ms = en->worst_finish_ms;
		if (rto_end < 0 || en->finish_ms > g->rto_ms) {
			g->rto_ms = en->finish_ms;
			rto_end = (long)gp->end;
		}
		if (en->worst_finish_ms > g->worst_rto_ms)
			g->worst_rto_ms = en->worst_finish_ms;
	}

	n = 0;
	for (long s = rto_end; s >= 0; s = g->steps[s].crit_pred)
		n++;
	g->critical_path = dr_arena_alloc(a, (n + 1) * sizeof(size_t));
	g->ncritical = n;
	for (long s = rto_end; s >= 0; s = g->steps[s].crit_pred) {
		g->critical_path[--n] = (size_t)s;
		g->steps[s].flags |= DR_STEP_F_CRITICAL_PATH;
	}
	g->estimated = true;
	return 0;
}
