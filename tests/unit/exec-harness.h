/*
 * exec-harness.h - plans built in code, a state store, a virtual loop
 * clock and the simulator, for the executor's tests and benchmark. Every
 * "process" (env_proc_new) gets a fresh loop and simulator whose state
 * comes from the store, as the CLI does.
 *
 * E->dir is a temporary directory for the plan's files (hooks, keys). The
 * store is the test store (teststore.h): with $DRPLAN_TEST_STORE unset,
 * E->dir itself, as always; else a fresh one under that base. A crash
 * layer (env_init(.., true, ..)) needs the directory store: such tests
 * are directory-only and skip otherwise (DR_TEST_DIR_ONLY).
 */
#ifndef DR_EXEC_HARNESS_H
#define DR_EXEC_HARNESS_H

#include "teststore.h"

#include "core/arena.h"
#include "core/error.h"
#include "exec/job.h"
#include "exec/loop.h"
#include "graph/graph.h"
#include "journal/fileio_crash.h"
#include "journal/journal.h"
#include "journal/store.h"
#include "plan/plan.h"
#include "provider/sim.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPOCH 1795564800000ll /* 2026-11-25T00:00:00Z, on the point grids */
#define MIN (60 * 1000ull)

static const dr_ynode stated;

/* ---- plans ------------------------------------------------------------- */

static inline dr_plan *plan_new(dr_arena *a, const char *name, size_t maxm, size_t maxg)
{
	dr_plan *p = dr_arena_zalloc(a, sizeof(*p));

	p->name.v = name;
	p->dir = ".";
	p->machines = dr_arena_zalloc(a, maxm * sizeof(dr_machine));
	p->groups = dr_arena_zalloc(a, maxg * sizeof(dr_group));
	p->rp.kind = DR_RP_LATEST_PROCESSED;
	p->commit_gate.approvals.v = 1;
	p->failback_gate.approvals.v = 1;
	return p;
}

static inline dr_machine *machine(dr_arena *a, dr_plan *p, const char *name)
{
	dr_machine *m = &p->machines[p->nmachines++];

	m->name.v = name;
	m->critical.v = true;
	m->source.kind = DR_SRC_VMWARE;
	m->source.os = DR_OS_WINDOWS;
	m->source.mobility_agent.v = "9.56";
	m->source.dhcp_service.v = true;
	m->pre = dr_arena_zalloc(a, 4 * sizeof(dr_action));
	m->post = dr_arena_zalloc(a, 4 * sizeof(dr_action));
	return m;
}

static inline dr_group *group(dr_arena *a, dr_plan *p, const char *name, size_t maxm)
{
	dr_group *g = &p->groups[p->ngroups++];

	g->name.v = name;
	g->after = dr_arena_zalloc(a, 4 * sizeof(size_t));
	g->machines = dr_arena_zalloc(a, (maxm ? maxm : 1) * sizeof(size_t));
	g->pre = dr_arena_zalloc(a, 4 * sizeof(dr_action));
	g->post = dr_arena_zalloc(a, 4 * sizeof(dr_action));
	return g;
}

static inline void member(dr_plan *p, dr_group *g, const dr_machine *m)
{
	size_t mi = (size_t)(m - p->machines);

	g->machines[g->nmachines++] = mi;
	p->machines[mi].group = (size_t)(g - p->groups);
}

static inline dr_action *lua(dr_action *list, size_t *n, const char *file, unsigned on,
		      uint64_t timeout_ms, dr_on_failure onf)
{
	dr_action *act = &list[(*n)++];

	act->kind = DR_ACTION_LUA;
	act->lua.v = file;
	act->on = on;
	act->on_at = on == DR_ON_ALL ? NULL : &stated;
	act->direction = DR_DIR_ANY;
	act->timeout.ms = timeout_ms;
	act->on_failure = onf;
	return act;
}

static inline dr_action *manual(dr_action *list, size_t *n, const char *name,
			 const char *text, unsigned on)
{
	dr_action *act = &list[(*n)++];

	act->kind = DR_ACTION_MANUAL;
	act->name.v = name;
	act->manual.v = text;
	act->on = on;
	act->on_at = on == DR_ON_ALL ? NULL : &stated;
	act->direction = DR_DIR_ANY;
	act->on_failure = DR_FAIL_GROUP;
	return act;
}

/* n machines "m0001".. in groups of per_group, each group after the last. */
static inline dr_plan *plan_many(dr_arena *a, const char *name, size_t n, size_t per_group,
			  unsigned conc)
{
	size_t ng = (n + per_group - 1) / per_group;
	dr_plan *p = plan_new(a, name, n, ng);
	dr_group *g = NULL;

	p->concurrency.v = conc;
	for (size_t i = 0; i < n; i++) {
		if (i % per_group == 0) {
			g = group(a, p, dr_arena_printf(a, "g%03zu", i / per_group), per_group);
			g->concurrency.v = conc;
		}
		member(p, g, machine(a, p, dr_arena_printf(a, "m%05zu", i)));
	}
	return p;
}

/* ---- environment ------------------------------------------------------- */

typedef struct env {
	char *dir;
	char *store_spec;     /* == dir unless $DRPLAN_TEST_STORE is set */
	dr_crashio *cio;      /* NULL: plain POSIX */
	dr_store *store;
	dr_loop *loop;
	dr_sim *sim;
	dr_arena *arena;
	dr_plan *plan;
	dr_graph *graph;
	json_t *events;       /* every event of the current process */
	bool quiet;
} env;

static inline void env_on_event(void *ctx, const json_t *ev)
{
	env *E = ctx;

	json_array_append_new(E->events, json_deep_copy(ev));
	if (getenv("EXEC_TEST_VERBOSE") && !E->quiet) {
		char *s = json_dumps(ev, JSON_COMPACT);

		fprintf(stderr, "  %s\n", s);
		free(s);
	}
}

static inline void env_store_open(env *E)
{
	int rc;

	if (E->cio)
		rc = dr_store_dir_open(E->dir, dr_crashio_fileio(E->cio), DR_STORE_CREATE,
				       &E->store);
	else
		rc = dr_store_open(E->store_spec, DR_STORE_CREATE, &E->store);
	if (rc < 0) {
		fprintf(stderr, "store: %s\n", dr_error_msg());
		abort();
	}
}

/* A new "process": loop with a virtual clock, a simulator, no state yet
 * (the job loads the simulator's state from the store). */
static inline void env_proc_new(env *E, const char *faults)
{
	dr_clock c;
	dr_sim_opts so;

	dr_clock_init_virtual(&c, 0);
	if (dr_loop_new(&c, &E->loop) < 0)
		abort();
	dr_sim_opts_init(&so);
	so.epoch_ms = EPOCH;
	so.scale = 1.0;
	so.faults = faults;
	if (dr_sim_new(E->loop, &so, &E->sim) < 0) {
		fprintf(stderr, "sim: %s\n", dr_error_msg());
		abort();
	}
	json_decref(E->events);
	E->events = json_array();
}

static inline void env_proc_free(env *E)
{
	dr_sim_free(E->sim);
	E->sim = NULL;
	dr_loop_free(E->loop);
	E->loop = NULL;
}

static inline void env_init(env *E, bool crash_layer, const char *base)
{
	memset(E, 0, sizeof(*E));
	{
		char tmpl[256];

		snprintf(tmpl, sizeof(tmpl), "%s/drplan-exec-XXXXXX", base ? base : "/tmp");
		if (!mkdtemp(tmpl))
			abort();
		E->dir = strdup(tmpl);
	}
	if (crash_layer)
		E->cio = dr_crashio_new();
	if (crash_layer || !dr_test_store_base())
		E->store_spec = strdup(E->dir);
	else
		E->store_spec = dr_test_store_spec_new("exec");
	env_store_open(E);
	E->arena = dr_arena_new();
	E->events = json_array();
}

static inline void env_release(env *E)
{
	env_proc_free(E);
	dr_store_free(E->store);
	dr_crashio_free(E->cio);
	dr_arena_free(E->arena);
	json_decref(E->events);
	if (strcmp(E->store_spec, E->dir))
		dr_test_store_spec_free(E->store_spec);
	else
		free(E->store_spec);
	testdir_free(E->dir);
}

static inline int env_compile(env *E, dr_operation op, dr_direction dir)
{
	dr_compile_opts co = DR_COMPILE_OPTS_INIT;

	co.direction = dir;
	return dr_graph_compile(E->arena, E->plan, op, &co, &E->graph);
}

static inline void env_opts(env *E, dr_job_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->store = E->store;
	o->provider = dr_sim_provider(E->sim);
	o->loop = E->loop;
	o->on_event = env_on_event;
	o->ctx = E;
	o->by = "tester@test";
	o->persist_sim = true;
	o->detach_when_waiting = true;
	o->control_poll_ms = 1000;
}

/* How many events named ev (and, if step is not NULL, for that step). */
static inline int env_count(env *E, const char *ev, const char *step)
{
	size_t i;
	json_t *e;
	int n = 0;

	json_array_foreach(E->events, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "event")), ev))
			continue;
		if (step && (!json_is_string(json_object_get(e, "step")) ||
			     strcmp(json_string_value(json_object_get(e, "step")), step)))
			continue;
		n++;
	}
	return n;
}

/* Index of the first event named ev, or -1. */
static inline long env_find(env *E, const char *ev)
{
	size_t i;
	json_t *e;

	json_array_foreach(E->events, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "event")), ev))
			return (long)i;
	return -1;
}

static inline int ctl(env *E, const char *job, const char *json)
{
	json_t *rq = json_loads(json, 0, NULL);
	int rc;

	if (!rq)
		abort();
	rc = dr_job_control(E->store, job, rq);
	json_decref(rq);
	return rc;
}

/* Status field helpers. */
static inline const char *status_str(env *E, const char *job, const char *path1,
			      const char *path2, const char *path3)
{
	static char buf[512];
	json_t *doc = NULL, *v;

	buf[0] = '\0';
	if (dr_job_status(E->store, job, &doc) < 0)
		return "(error)";
	v = json_object_get(doc, path1);
	if (path2)
		v = json_object_get(v, path2);
	if (path3)
		v = json_object_get(v, path3);
	if (json_is_string(v))
		snprintf(buf, sizeof(buf), "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
	else if (!v)
		snprintf(buf, sizeof(buf), "(none)");
	json_decref(doc);
	return buf;
}

#endif
