/*
 * graph.c - compile a plan and an operation into a step graph.
 *
 * Steps are appended in an order that is already topological (a step is
 * only added after everything it waits for), into growable scratch arrays
 * that are copied into the arena once the graph is complete. Dependencies
 * go into one flat array, so building is linear in steps + edges.
 */
#include "graph/graph.h"

#include "core/alloc.h"
#include "core/error.h"

#include "plan/facts.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[DR_STEP__COUNT] = {
	[DR_STEP_GROUP_START] = "group-start",
	[DR_STEP_GROUP_JOIN] = "group-join",
	[DR_STEP_GROUP_END] = "group-end",
	[DR_STEP_HOOK] = "hook",
	[DR_STEP_MANUAL] = "manual",
	[DR_STEP_SHUTDOWN_SOURCE] = "shutdown-source",
	[DR_STEP_TEST_FAILOVER] = "test-failover",
	[DR_STEP_TEST_FAILOVER_CLEANUP] = "test-failover-cleanup",
	[DR_STEP_UNPLANNED_FAILOVER] = "unplanned-failover",
	[DR_STEP_PLANNED_FAILOVER] = "planned-failover",
	[DR_STEP_COMMIT] = "commit",
	[DR_STEP_REPROTECT] = "reprotect",
	[DR_STEP_GATE] = "gate",
	[DR_STEP_WAIT] = "wait",
	[DR_STEP_VERIFY_CLEANUP] = "verify-cleanup",
};

const char *dr_step_kind_name(dr_step_kind k)
{
	return (unsigned)k < DR_STEP__COUNT ? kind_names[k] : "?";
}

static const char *const phase_names[DR_PHASE__COUNT] = {
	[DR_PHASE_MAIN] = "main",
	[DR_PHASE_GATE] = "gate",
	[DR_PHASE_CLEANUP] = "cleanup",
	[DR_PHASE_COMMIT] = "commit",
};

const char *dr_phase_name(dr_phase ph)
{
	return (unsigned)ph < DR_PHASE__COUNT ? phase_names[ph] : "?";
}

/* ---- builder ---------------------------------------------------------- */

struct builder {
	dr_arena *a;
	const dr_plan *p;
	dr_graph *g;
	dr_compile_opts o;
	const dr_recovery_point *rp_override;

	/* In the arena, sized by reserve(). */
	dr_step *steps;
	size_t nsteps, asteps;
	size_t *deps;
	size_t ndeps, adeps;
	dr_graph_gphase *gph;
	size_t ngph, agph;
	dr_graph_chain *chains;
	size_t nchains, achains;

	/* Open-addressing set of step indexes + 1, keyed by id. */
	struct idslot {
		uint64_t hash;
		size_t step;
	} *ids;
	size_t idcap;
	dr_strbuf id;

	size_t *group_end;        /* per group: end step of the current phase */
	size_t *sinks;            /* scratch for phase sinks */
	size_t nsinks;
};

static uint64_t id_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	/* FNV's low bits mix poorly and the table indexes by low bits: ids
	 * that differ only in a digit then cluster. Finish with fmix64. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static long id_lookup(const struct builder *b, const char *s, uint64_t h)
{
	size_t i;

	if (!b->idcap)
		return -1;
	for (i = h & (b->idcap - 1); b->ids[i].step;
	     i = (i + 1) & (b->idcap - 1))
		if (b->ids[i].hash == h && !strcmp(b->steps[b->ids[i].step - 1].id, s))
			return (long)(b->ids[i].step - 1);
	return -1;
}

/* The table keeps each id's hash, so growing it never touches the ids. */
static void id_insert(struct builder *b, size_t step, uint64_t h)
{
	size_t i;

	if ((b->nsteps + 1) * 2 > b->idcap) {
		size_t old = b->idcap, j;
		struct idslot *o = b->ids;

		b->idcap = old ? old * 2 : 1024;
		/* Zeroed by writing, not calloc(): a fresh page calloc()
		 * leaves untouched is first read here (the probe) and mapped
		 * to the zero page, and the write that follows then has to
		 * replace that mapping; with another thread of the process
		 * running (cmd-plan.c compiles during the rules) each such
		 * fault also interrupts the other CPU to flush its TLB. */
		b->ids = dr_xmalloc(b->idcap * sizeof(*b->ids));
		memset(b->ids, 0, b->idcap * sizeof(*b->ids));
		for (j = 0; j < old; j++) {
			if (!o[j].step)
				continue;
			i = o[j].hash & (b->idcap - 1);
			while (b->ids[i].step)
				i = (i + 1) & (b->idcap - 1);
			b->ids[i] = o[j];
		}
		free(o);
	}
	i = h & (b->idcap - 1);
	while (b->ids[i].step)
		i = (i + 1) & (b->idcap - 1);
	b->ids[i].step = step + 1;
	b->ids[i].hash = h;
}

/*
 * Append a step whose id is in b->id, waiting for deps[0..ndeps). Makes the
 * id unique with "~N". Returns the new step's index.
 */
static size_t add_step(struct builder *b, dr_step_kind kind, dr_phase ph,
		       long group, long machine, const size_t *deps,
		       size_t ndeps)
{
	size_t i = b->nsteps, k;
	uint64_t h;
	dr_step *s;

	assert(i < b->asteps && b->ndeps + ndeps <= b->adeps);
	s = &b->steps[i];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->phase = ph;
	s->group = group;
	s->machine = machine;
	s->direction = b->g->direction;
	s->reversible = true;
	s->crit_pred = s->worst_crit_pred = -1;
	if (kind == DR_STEP_GROUP_START || kind == DR_STEP_GROUP_JOIN ||
	    kind == DR_STEP_GROUP_END)
		s->flags |= DR_STEP_F_BARRIER;
	if (ph == DR_PHASE_MAIN)
		s->flags |= DR_STEP_F_IN_RTO;

	h = id_hash(b->id.buf);
	if (id_lookup(b, b->id.buf, h) >= 0) {
		size_t base = b->id.len;
		unsigned n = 2;

		do {
			dr_strbuf_setlen(&b->id, base);
			dr_strbuf_addf(&b->id, "~%u", n++);
			h = id_hash(b->id.buf);
		} while (id_lookup(b, b->id.buf, h) >= 0);
	}
	s->id = dr_arena_strndup(b->a, b->id.buf, b->id.len);
	id_insert(b, i, h);

	s->deps = b->deps + b->ndeps;
	for (k = 0; k < ndeps; k++) {
		assert(deps[k] < i);
		b->deps[b->ndeps++] = deps[k];
	}
	s->ndeps = ndeps;
	b->nsteps++;
	return i;
}

/*
 * Set b->id to the phase prefix and the segments joined with "/"; the list
 * ends with NULL. Plain string appends: ids are built for every step, and
 * printf-style formatting was the larger part of compiling a big plan.
 */
static void set_id(struct builder *b, dr_phase ph, ...)
{
	va_list ap;
	const char *seg;
	bool first = true;

	dr_strbuf_reset(&b->id);
	if (ph == DR_PHASE_CLEANUP)
		dr_strbuf_addstr(&b->id, "cleanup/");
	else if (ph == DR_PHASE_COMMIT)
		dr_strbuf_addstr(&b->id, "commit/");
	va_start(ap, ph);
	while ((seg = va_arg(ap, const char *))) {
		if (!first)
			dr_strbuf_addch(&b->id, '/');
		dr_strbuf_addstr(&b->id, seg);
		first = false;
	}
	va_end(ap);
}

static const char *group_name(const dr_plan *p, size_t gi)
{
	const char *n = p->groups[gi].name.v;

	return n && *n ? n : "group";
}

static const char *machine_name(const dr_plan *p, size_t mi)
{
	const char *n = p->machines[mi].name.v;

	return n && *n ? n : "machine";
}

/* The id segment of an action: its name, its Lua file's base name, or
 * "manual-<n>"/"hook-<n>" by position. */
static void add_action_name(dr_strbuf *sb, const dr_action *act, size_t pos)
{
	const char *n = act->name.v;

	if (n && *n) {
		dr_strbuf_addstr(sb, n);
		return;
	}
	if (act->kind == DR_ACTION_LUA && act->lua.v && *act->lua.v) {
		const char *base = strrchr(act->lua.v, '/');
		size_t len;

		base = base ? base + 1 : act->lua.v;
		len = strlen(base);
		if (len > 4 && !strcmp(base + len - 4, ".lua"))
			len -= 4;
		if (len) {
			dr_strbuf_add(sb, base, len);
			return;
		}
	}
	dr_strbuf_addf(sb, "%s-%zu", act->kind == DR_ACTION_LUA ? "hook" : "manual",
		       pos + 1);
}

/*
 * An action without `on:` runs with the operations themselves (drill,
 * failover, reprotect, failback), not in the drill's cleanup nor at commit:
 * a "stop the batch scheduler" step must not come back when the test VMs
 * are deleted or when the failover is committed. Those phases take only
 * actions that name them.
 */
/* "<group>/[<machine>/]<tail>" */
static void add_prefix(dr_strbuf *sb, const char *gn, const char *mn,
		       const char *tail)
{
	dr_strbuf_addstr(sb, gn);
	dr_strbuf_addch(sb, '/');
	if (mn) {
		dr_strbuf_addstr(sb, mn);
		dr_strbuf_addch(sb, '/');
	}
	dr_strbuf_addstr(sb, tail);
}

static bool action_applies(const dr_action *act, unsigned onbit,
			   dr_direction dir)
{
	unsigned on = act->on;

	if (!act->on_at)
		on &= ~(unsigned)(DR_ON_CLEANUP | DR_ON_COMMIT);
	return (on & onbit) && (act->direction & dir);
}

/*
 * Add the actions of list that apply, one after the other, the first
 * waiting for *last. *last becomes the last step added. prefix is the id
 * up to "pre/" or "post/".
 */
static void add_actions(struct builder *b, dr_phase ph, unsigned onbit,
			const dr_action *list, size_t n, const char *prefix,
			long group, long machine, size_t *last)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const dr_action *act = &list[i];
		size_t s;

		if (!action_applies(act, onbit, b->g->direction))
			continue;
		set_id(b, ph, prefix, (char *)NULL);
		add_action_name(&b->id, act, i);
		s = add_step(b,
			     act->kind == DR_ACTION_LUA ? DR_STEP_HOOK
							: DR_STEP_MANUAL,
			     ph, group, machine, last, 1);
		b->steps[s].action = act;
		if (act->on_failure == DR_FAIL_GROUP)
			b->steps[s].flags |= DR_STEP_F_CRITICAL;
		*last = s;
	}
}

static unsigned phase_onbit(const struct builder *b, dr_phase ph)
{
	switch (ph) {
	case DR_PHASE_CLEANUP: return DR_ON_CLEANUP;
	case DR_PHASE_COMMIT: return DR_ON_COMMIT;
	default: return 1u << b->g->op;
	}
}

static bool machine_shutdown(const struct builder *b, const dr_machine *m)
{
	if (b->o.shutdown_source >= 0)
		return b->o.shutdown_source > 0;
	if (m->shutdown_source.at)
		return m->shutdown_source.v;
	return b->p->shutdown_source.v;
}

static const dr_recovery_point *machine_rp(const struct builder *b,
					   const dr_machine *m)
{
	return b->rp_override ? b->rp_override : dr_machine_rp(b->p, m);
}

/* The operation step(s) of machine mi in phase ph, after *last. */
static void add_machine_op(struct builder *b, dr_phase ph, size_t gi,
			   size_t mi, size_t *last)
{
	const dr_plan *p = b->p;
	const dr_machine *m = &p->machines[mi];
	const char *gn = group_name(p, gi), *mn = machine_name(p, mi);
	unsigned crit = m->critical.v ? DR_STEP_F_CRITICAL : 0;
	dr_step_kind kind;
	const char *seg;
	size_t s;

	if (ph == DR_PHASE_CLEANUP) {
		kind = DR_STEP_TEST_FAILOVER_CLEANUP;
		seg = "test-failover-cleanup";
	} else if (ph == DR_PHASE_COMMIT || b->g->op == DR_OP_COMMIT) {
		kind = DR_STEP_COMMIT;
		seg = "commit";
	} else {
		switch (b->g->op) {
		case DR_OP_DRILL:
			kind = DR_STEP_TEST_FAILOVER;
			seg = "test-failover";
			break;
		case DR_OP_FAILOVER:
			kind = DR_STEP_UNPLANNED_FAILOVER;
			seg = "failover";
			break;
		case DR_OP_REPROTECT:
			kind = DR_STEP_REPROTECT;
			seg = "reprotect";
			break;
		case DR_OP_FAILBACK:
			kind = DR_STEP_PLANNED_FAILOVER;
			seg = "failback";
			break;
		default:
			assert(0);
			return;
		}
	}

	if (kind == DR_STEP_UNPLANNED_FAILOVER && machine_shutdown(b, m)) {
		set_id(b, ph, gn, mn, "shutdown-source", (char *)NULL);
		s = add_step(b, DR_STEP_SHUTDOWN_SOURCE, ph, (long)gi, (long)mi,
			     last, 1);
		b->steps[s].flags |= crit;
		*last = s;
	}
	set_id(b, ph, gn, mn, seg, (char *)NULL);
	s = add_step(b, kind, ph, (long)gi, (long)mi, last, 1);
	b->steps[s].flags |= crit;
	if (kind == DR_STEP_TEST_FAILOVER || kind == DR_STEP_UNPLANNED_FAILOVER) {
		b->steps[s].rp = machine_rp(b, m);
		b->steps[s].extra_reason = dr_machine_extra_failover_reason(m);
		if (kind == DR_STEP_UNPLANNED_FAILOVER && machine_shutdown(b, m))
			b->steps[s].flags |= DR_STEP_F_SHUTDOWN;
	}
	if (kind == DR_STEP_COMMIT) {
		b->steps[s].flags |= DR_STEP_F_IRREVERSIBLE;
		b->steps[s].reversible = false;
	}
	*last = s;
}

static void push_gphase(struct builder *b, const dr_graph_gphase *gp,
			size_t first_chain)
{
	assert(b->ngph < b->agph);
	b->gph[b->ngph] = *gp;
	b->gph[b->ngph].chains = b->chains + first_chain;
	b->ngph++;
}

/*
 * Build one phase: every group in topological order. Groups without
 * `after` wait for entry (a step index, or none when entry < 0). Leaves
 * the phase's sink steps (group ends nobody in the phase waits for) in
 * b->sinks.
 */
static void build_phase(struct builder *b, dr_phase ph, long entry)
{
	const dr_plan *p = b->p;
	unsigned onbit = phase_onbit(b, ph);
	size_t oi, k;
	size_t *deps = NULL, adeps = 0;
	bool *has_dependent = dr_xcalloc(p->ngroups + 1, sizeof(bool));

	for (oi = 0; oi < p->ngroups; oi++) {
		size_t gi = b->g->group_order[oi];
		const dr_group *grp = &p->groups[gi];
		const char *gn = group_name(p, gi);
		dr_graph_gphase gp;
		size_t nd = 0, last, first_chain = b->nchains;
		dr_strbuf prefix = DR_STRBUF_INIT;

		memset(&gp, 0, sizeof(gp));
		gp.group = (long)gi;
		gp.phase = ph;

		DR_ALLOC_GROW(deps, grp->nafter + grp->nmachines + 1, adeps);
		for (k = 0; k < grp->nafter; k++) {
			size_t d = b->group_end[grp->after[k]], j;
			bool dup = false;

			/* Short lists: the quadratic check is cheaper than a set. */
			for (j = 0; j < nd && j < 16; j++)
				dup |= deps[j] == d;
			if (!dup)
				deps[nd++] = d;
			has_dependent[grp->after[k]] = true;
		}
		if (!grp->nafter && entry >= 0)
			deps[nd++] = (size_t)entry;
		set_id(b, ph, gn, "start", (char *)NULL);
		gp.start = add_step(b, DR_STEP_GROUP_START, ph, (long)gi, -1,
				    deps, nd);
		last = gp.start;

		add_prefix(&prefix, gn, NULL, "pre/");
		add_actions(b, ph, onbit, grp->pre, grp->npre, prefix.buf,
			    (long)gi, -1, &last);
		gp.entry = last;

		nd = 0;
		for (k = 0; k < grp->nmachines; k++) {
			size_t mi = grp->machines[k];
			const dr_machine *m = &p->machines[mi];
			size_t mlast = gp.entry;
			dr_graph_chain ch;

			ch.machine = (long)mi;
			ch.first = b->nsteps;
			dr_strbuf_reset(&prefix);
			add_prefix(&prefix, gn, machine_name(p, mi), "pre/");
			add_actions(b, ph, onbit, m->pre, m->npre, prefix.buf,
				    (long)gi, (long)mi, &mlast);
			add_machine_op(b, ph, gi, mi, &mlast);
			dr_strbuf_reset(&prefix);
			add_prefix(&prefix, gn, machine_name(p, mi), "post/");
			add_actions(b, ph, onbit, m->post, m->npost, prefix.buf,
				    (long)gi, (long)mi, &mlast);
			ch.last = mlast;
			assert(b->nchains < b->achains);
			b->chains[b->nchains++] = ch;
			deps[nd++] = mlast;
		}
		if (!nd)
			deps[nd++] = gp.entry;
		set_id(b, ph, gn, "join", (char *)NULL);
		gp.join = add_step(b, DR_STEP_GROUP_JOIN, ph, (long)gi, -1, deps, nd);
		last = gp.join;

		dr_strbuf_reset(&prefix);
		add_prefix(&prefix, gn, NULL, "post/");
		add_actions(b, ph, onbit, grp->post, grp->npost, prefix.buf,
			    (long)gi, -1, &last);
		set_id(b, ph, gn, "end", (char *)NULL);
		gp.end = add_step(b, DR_STEP_GROUP_END, ph, (long)gi, -1, &last, 1);
		b->group_end[gi] = gp.end;
		dr_strbuf_release(&prefix);

		gp.nchains = b->nchains - first_chain;
		push_gphase(b, &gp, first_chain);
	}

	b->nsinks = 0;
	for (oi = 0; oi < p->ngroups; oi++) {
		size_t gi = b->g->group_order[oi];

		if (!has_dependent[gi])
			b->sinks[b->nsinks++] = b->group_end[gi];
	}
	if (!b->nsinks && entry >= 0)
		b->sinks[b->nsinks++] = (size_t)entry;
	free(has_dependent);
	free(deps);
}

static size_t add_gate(struct builder *b, bool failback)
{
	const dr_plan *p = b->p;
	size_t s;

	set_id(b, DR_PHASE_GATE, "gate", failback ? "failback-commit" : "commit",
	       (char *)NULL);
	s = add_step(b, DR_STEP_GATE, DR_PHASE_GATE, -1, -1, b->sinks, b->nsinks);
	b->steps[s].gate = failback ? &p->failback_gate : &p->commit_gate;
	b->steps[s].gate_name = failback ? "failback-commit" : "commit";
	b->steps[s].flags |= DR_STEP_F_CRITICAL;
	b->g->gate = (long)s;
	return s;
}

/* ---- group order -------------------------------------------------------- */

static void heap_push(size_t *h, size_t *n, size_t v)
{
	size_t i = (*n)++;

	while (i && h[(i - 1) / 2] > v) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = v;
}

static size_t heap_pop(size_t *h, size_t *n)
{
	size_t top = h[0], v = h[--*n], i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= *n)
			break;
		if (c + 1 < *n && h[c + 1] < h[c])
			c++;
		if (h[c] >= v)
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = v;
	return top;
}

/*
 * Kahn's algorithm, always taking the lowest-numbered ready group, so a
 * plan whose groups are listed in a valid order keeps that order.
 */
static int order_groups(struct builder *b)
{
	const dr_plan *p = b->p;
	size_t n = p->ngroups, i, k, nout = 0, nheap = 0, nedges = 0;
	size_t *indeg = dr_xcalloc(n + 1, sizeof(size_t));
	size_t *off = dr_xcalloc(n + 2, sizeof(size_t));
	size_t *adj, *heap = dr_xcalloc(n + 1, sizeof(size_t));
	int rc = 0;

	for (i = 0; i < n; i++) {
		for (k = 0; k < p->groups[i].nafter; k++) {
			size_t a = p->groups[i].after[k];

			if (a >= n) {
				rc = dr_error_set(DR_EINVAL,
						  "group '%s': 'after' names group #%zu, "
						  "the plan has %zu groups",
						  group_name(p, i), a, n);
				goto out;
			}
			off[a + 1]++;
			indeg[i]++;
			nedges++;
		}
		for (k = 0; k < p->groups[i].nmachines; k++)
			if (p->groups[i].machines[k] >= p->nmachines) {
				rc = dr_error_set(DR_EINVAL,
						  "group '%s': machine #%zu does not exist",
						  group_name(p, i),
						  p->groups[i].machines[k]);
				goto out;
			}
	}
	for (i = 0; i < n; i++)
		off[i + 1] += off[i];
	adj = dr_xmalloc((nedges + 1) * sizeof(size_t));
	{
		size_t *fill = dr_xmalloc((n + 1) * sizeof(size_t));

		memcpy(fill, off, n * sizeof(size_t));
		for (i = 0; i < n; i++)
			for (k = 0; k < p->groups[i].nafter; k++)
				adj[fill[p->groups[i].after[k]]++] = i;
		free(fill);
	}
	for (i = 0; i < n; i++)
		if (!indeg[i])
			heap_push(heap, &nheap, i);
	while (nheap) {
		size_t g = heap_pop(heap, &nheap);

		b->g->group_order[nout++] = g;
		for (k = off[g]; k < off[g + 1]; k++)
			if (!--indeg[adj[k]])
				heap_push(heap, &nheap, adj[k]);
	}
	if (nout < n) {
		for (i = 0; i < n && !indeg[i]; i++)
			;
		rc = dr_error_set(DR_EINVAL,
				  "groups form a cycle through 'after' (group '%s' "
				  "is part of it or waits for it)",
				  group_name(p, i));
	}
	free(adj);
out:
	free(indeg);
	free(off);
	free(heap);
	return rc;
}

/* ---- compile ------------------------------------------------------------ */

/*
 * Size the step, dependency, chain and group-phase arrays from the plan
 * once, in the arena: no growing, no copying, and the graph's arrays are
 * the builder's. The bounds assume two phases of groups (the most an
 * operation has) and every action applying; memory never touched is not
 * paid for.
 */
static void reserve(struct builder *b)
{
	const dr_plan *p = b->p;
	size_t steps = 3, deps = 3, members = 0, i, k;

	for (i = 0; i < p->ngroups; i++) {
		const dr_group *grp = &p->groups[i];

		steps += 3 + grp->npre + grp->npost;
		deps += grp->nafter + grp->nmachines + 4;
		members += grp->nmachines;
		for (k = 0; k < grp->nmachines; k++) {
			const dr_machine *m = &p->machines[grp->machines[k]];

			steps += 2 + m->npre + m->npost;
		}
	}
	steps *= 2;
	deps = steps + 2 * deps;
	b->asteps = steps;
	b->steps = dr_arena_alloc(b->a, steps * sizeof(dr_step));
	b->adeps = deps;
	b->deps = dr_arena_alloc(b->a, deps * sizeof(size_t));
	b->achains = 2 * members + 1;
	b->chains = dr_arena_alloc(b->a, b->achains * sizeof(dr_graph_chain));
	b->agph = 2 * p->ngroups + 1;
	b->gph = dr_arena_alloc(b->a, b->agph * sizeof(dr_graph_gphase));
}

static void builder_release(struct builder *b)
{
	free(b->ids);
	free(b->group_end);
	free(b->sinks);
	dr_strbuf_release(&b->id);
}

static unsigned group_limit(const dr_plan *p, const dr_group *grp,
			    const dr_compile_opts *o)
{
	/* The group's own limit, else what the plan states, else the
	 * caller's default, else the plan model's default (10). */
	if (grp->concurrency.v > 0)
		return (unsigned)(grp->concurrency.v > 1000000 ? 1000000
							       : grp->concurrency.v);
	if (p->concurrency.at && p->concurrency.v > 0)
		return (unsigned)(p->concurrency.v > 1000000 ? 1000000
							     : p->concurrency.v);
	if (o->concurrency)
		return o->concurrency;
	if (p->concurrency.v > 0)
		return (unsigned)(p->concurrency.v > 1000000 ? 1000000
							     : p->concurrency.v);
	return 10;
}

int dr_graph_compile(dr_arena *a, const dr_plan *p, dr_operation op,
		     const dr_compile_opts *opts, dr_graph **out)
{
	static const dr_compile_opts none = DR_COMPILE_OPTS_INIT;
	struct builder b;
	dr_graph *g;
	size_t i, nm = 0;
	int rc;

	*out = NULL;
	if (!opts)
		opts = &none;
	if ((unsigned)op >= DR_OP__COUNT)
		return dr_error_set(DR_EINVAL, "unknown operation %d", (int)op);
	if (opts->direction && opts->direction != DR_DIR_TO_AZURE &&
	    opts->direction != DR_DIR_TO_ONPREM)
		return dr_error_set(DR_EINVAL, "direction must be to-azure or to-onprem");
	if (opts->direction && op != DR_OP_REPROTECT && op != DR_OP_COMMIT &&
	    opts->direction != dr_operation_direction(op))
		return dr_error_set(DR_EINVAL, "%s runs %s only",
				    dr_operation_name(op),
				    dr_direction_name(dr_operation_direction(op)));

	memset(&b, 0, sizeof(b));
	b.a = a;
	b.p = p;
	b.o = *opts;
	if (opts->rp_set)
		b.rp_override = &opts->rp;
	dr_strbuf_init(&b.id, 128);

	g = dr_arena_zalloc(a, sizeof(*g));
	g->plan = p;
	g->arena = a;
	g->op = op;
	g->direction = opts->direction ? opts->direction
				       : dr_operation_direction(op);
	g->gate = -1;
	g->ngroups = p->ngroups;
	g->groups = dr_arena_zalloc(a, (p->ngroups + 1) * sizeof(dr_graph_group));
	g->group_order = dr_arena_zalloc(a, (p->ngroups + 1) * sizeof(size_t));
	b.g = g;
	b.group_end = dr_xcalloc(p->ngroups + 1, sizeof(size_t));
	b.sinks = dr_xcalloc(p->ngroups + 1, sizeof(size_t));

	rc = order_groups(&b);
	if (rc)
		goto out;
	for (i = 0; i < p->ngroups; i++) {
		g->groups[i].concurrency = group_limit(p, &p->groups[i], opts);
		nm += p->groups[i].nmachines;
	}
	g->nmachines = nm;
	reserve(&b);

	switch (op) {
	case DR_OP_DRILL: {
		size_t w;

		build_phase(&b, DR_PHASE_MAIN, -1);
		set_id(&b, DR_PHASE_CLEANUP, "wait", (char *)NULL);
		w = add_step(&b, DR_STEP_WAIT, DR_PHASE_GATE, -1, -1, b.sinks,
			     b.nsinks);
		b.steps[w].wait_ms = p->drill.cleanup_after.ms;
		build_phase(&b, DR_PHASE_CLEANUP, (long)w);
		set_id(&b, DR_PHASE_CLEANUP, "verify", (char *)NULL);
		w = add_step(&b, DR_STEP_VERIFY_CLEANUP, DR_PHASE_CLEANUP, -1, -1,
			     b.sinks, b.nsinks);
		b.steps[w].flags |= DR_STEP_F_CRITICAL;
		break;
	}
	case DR_OP_FAILOVER:
	case DR_OP_FAILBACK:
		build_phase(&b, DR_PHASE_MAIN, -1);
		build_phase(&b, DR_PHASE_COMMIT,
			    (long)add_gate(&b, op == DR_OP_FAILBACK));
		break;
	case DR_OP_COMMIT:
		b.nsinks = 0;
		build_phase(&b, DR_PHASE_MAIN,
			    (long)add_gate(&b, g->direction == DR_DIR_TO_ONPREM));
		break;
	case DR_OP_REPROTECT:
		build_phase(&b, DR_PHASE_MAIN, -1);
		break;
	default:
		break;
	}
	g->steps = b.steps;
	g->nsteps = b.nsteps;
	g->gphases = b.gph;
	g->ngphases = b.ngph;
	*out = g;
out:
	builder_release(&b);
	return rc;
}

long dr_graph_find(const dr_graph *g, const char *id)
{
	size_t i;

	for (i = 0; i < g->nsteps; i++)
		if (!strcmp(g->steps[i].id, id))
			return (long)i;
	return -1;
}
