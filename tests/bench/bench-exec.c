/*
 * bench-exec.c - the executor on a 10,000-machine failover.
 *
 *   build/tests/bench-exec [machines [state-dir]]
 *
 * 1. Throughput: the simulator at scale 0 (every operation completes on the
 *    next loop turn), journaling on (an fsync per record): steps per second
 *    and CPU microseconds per step, up to the commit gate.
 * 2. Makespan: simulator durations on a virtual clock (a 6-minute failover
 *    takes no wall time): the time from the job's start to the end of its
 *    last main-phase step, over the lower bound given by the critical path
 *    of the provider's own operation times through the step graph. The
 *    ratio is what polling and scheduling cost (goal <= 1.02).
 * 3. Peak memory (max RSS) per machine.
 * Simulator state saves (persist_sim) are off in 1 and 2: each save writes
 * the whole simulator (O(machines)); 4 times a smaller run with them on.
 */
#define _GNU_SOURCE
#include "exec/job.h"

#include "core/arena.h"
#include "core/error.h"
#include "graph/graph.h"
#include "journal/journal.h"
#include "provider/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define EPOCH 1795564800000ll

static double now_s(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static dr_plan *make_plan(dr_arena *a, size_t n, size_t per_group)
{
	size_t ng = (n + per_group - 1) / per_group;
	dr_plan *p = dr_arena_zalloc(a, sizeof(*p));
	dr_group *g = NULL;

	p->name.v = "bench";
	p->dir = ".";
	p->machines = dr_arena_zalloc(a, n * sizeof(dr_machine));
	p->groups = dr_arena_zalloc(a, ng * sizeof(dr_group));
	p->rp.kind = DR_RP_LATEST_PROCESSED;
	p->commit_gate.approvals.v = 1;
	p->concurrency.v = (long long)per_group;
	for (size_t i = 0; i < n; i++) {
		dr_machine *m = &p->machines[p->nmachines++];

		if (i % per_group == 0) {
			g = &p->groups[p->ngroups++];
			g->name.v = dr_arena_printf(a, "g%04zu", i / per_group);
			g->machines = dr_arena_zalloc(a, per_group * sizeof(size_t));
			g->after = dr_arena_zalloc(a, sizeof(size_t));
			if (p->ngroups > 1) {
				g->after[g->nafter++] = p->ngroups - 2;
				g->after_explicit = true;
			}
			g->concurrency.v = (long long)per_group;
		}
		m->name.v = dr_arena_printf(a, "m%05zu", i);
		m->critical.v = true;
		m->source.kind = DR_SRC_VMWARE;
		/* Every seventh machine is Linux: ASR's extra failover step. */
		m->source.os = i % 7 == 3 ? DR_OS_LINUX : DR_OS_WINDOWS;
		m->source.mobility_agent.v = "9.56";
		m->source.dhcp_service.v = true;
		g->machines[g->nmachines++] = i;
		m->group = p->ngroups - 1;
	}
	return p;
}

struct run {
	double wall, cpu;
	uint64_t records;
	size_t steps_done;
	int rc;
	char id[128];
};

static void count_event(void *ctx, const json_t *ev)
{
	struct run *r = ctx;
	const char *to = json_string_value(json_object_get(ev, "to"));

	if (to && (!strcmp(to, "succeeded") || !strcmp(to, "failed") ||
		   !strcmp(to, "skipped") || !strcmp(to, "waiting")))
		r->steps_done++;
}

static int run_once(const char *dir, dr_plan *p, dr_graph *g, double scale, bool persist,
		    const char *id, struct run *r)
{
	dr_store *st = NULL;
	dr_loop *loop = NULL;
	dr_sim *sim = NULL;
	dr_clock c;
	dr_sim_opts so;
	dr_job_opts o;
	dr_job *j = NULL;
	double w0, c0;

	memset(r, 0, sizeof(*r));
	if (dr_store_open(dir, DR_STORE_CREATE, &st) < 0)
		return -1;
	dr_clock_init_virtual(&c, 0);
	dr_loop_new(&c, &loop);
	dr_sim_opts_init(&so);
	so.epoch_ms = EPOCH;
	so.scale = scale;
	dr_sim_new(loop, &so, &sim);
	if (!persist)
		dr_sim_sync_plan(sim, p);
	memset(&o, 0, sizeof(o));
	o.store = st;
	o.provider = dr_sim_provider(sim);
	o.loop = loop;
	o.on_event = count_event;
	o.ctx = r;
	o.by = "bench";
	o.detach_when_waiting = true;
	o.persist_sim = persist;
	o.control_poll_ms = 60000;
	w0 = now_s(CLOCK_MONOTONIC);
	c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	if ((r->rc = dr_job_start(p, g, &o, id, &j)) == 0)
		r->rc = dr_job_run(j);
	r->wall = now_s(CLOCK_MONOTONIC) - w0;
	r->cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	if (r->rc < 0 && r->rc != DR_EAGAIN)
		fprintf(stderr, "bench-exec: %s\n", dr_error_msg());
	snprintf(r->id, sizeof(r->id), "%s", id);
	dr_job_free(j);
	dr_sim_free(sim);
	dr_loop_free(loop);
	dr_store_free(st);
	return r->rc == DR_EAGAIN ? 0 : r->rc;
}

/* Makespan of the main phase over its critical-path lower bound. */
static void makespan(const char *dir, dr_graph *g, const char *id)
{
	dr_store *st = NULL;
	json_t *doc = NULL, *steps;
	int64_t start, end = 0;
	double lb = 0;
	double *ef = calloc(g->nsteps, sizeof(double));

	dr_store_open(dir, 0, &st);
	if (dr_job_status(st, id, &doc) < 0) {
		fprintf(stderr, "status: %s\n", dr_error_msg());
		return;
	}
	steps = json_object_get(doc, "steps");
	start = json_integer_value(json_object_get(doc, "started"));
	for (size_t i = 0; i < g->nsteps; i++) {
		json_t *s = json_object_get(steps, g->steps[i].id);
		double d = 0, e = 0;

		if (g->steps[i].phase != DR_PHASE_MAIN)
			continue;
		if (json_object_get(s, "op_end"))
			d = (double)(json_integer_value(json_object_get(s, "op_end")) -
				     json_integer_value(json_object_get(s, "op_start")));
		for (size_t k = 0; k < g->steps[i].ndeps; k++)
			if (ef[g->steps[i].deps[k]] > e)
				e = ef[g->steps[i].deps[k]];
		ef[i] = e + d;
		if (ef[i] > lb)
			lb = ef[i];
		if (json_integer_value(json_object_get(s, "ended")) > end)
			end = json_integer_value(json_object_get(s, "ended"));
	}
	printf("  makespan (main phase)       %.1f min\n", (double)(end - start) / 60000.0);
	printf("  critical-path lower bound   %.1f min\n", lb / 60000.0);
	printf("  makespan / lower bound      %.4f (goal <= 1.02)\n", (double)(end - start) / lb);
	json_decref(doc);
	dr_store_free(st);
	free(ef);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	const char *base = argc > 2 ? argv[2] : "/tmp";
	char dir[512];
	dr_arena *a = dr_arena_new();
	dr_plan *p;
	dr_graph *g = NULL;
	dr_compile_opts co = DR_COMPILE_OPTS_INIT;
	struct run r;
	long rss0 = maxrss_kib();

	snprintf(dir, sizeof(dir), "%s/drplan-bench-exec-XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	p = make_plan(a, n, 100);
	co.shutdown_source = 0;
	if (dr_graph_compile(a, p, DR_OP_FAILOVER, &co, &g) < 0) {
		fprintf(stderr, "compile: %s\n", dr_error_msg());
		return 1;
	}
	printf("bench-exec: %zu machines in %zu groups of 100 (concurrency 100), %zu steps, "
	       "state store %s\n", n, p->ngroups, g->nsteps, dir);

	if (run_once(dir, p, g, 0, false, "throughput", &r) == 0) {
		printf("1. throughput (sim scale 0, fsync per journal record), up to the gate:\n");
		printf("  steps done                  %zu\n", r.steps_done);
		printf("  wall                        %.2f s\n", r.wall);
		printf("  steps per second            %.0f\n", r.steps_done / r.wall);
		printf("  CPU per step                %.1f us\n", r.cpu * 1e6 / r.steps_done);
	}
	if (run_once(dir, p, g, 1.0, false, "makespan", &r) == 0) {
		printf("2. simulator durations on a virtual clock (wall %.2f s, CPU %.2f s):\n",
		       r.wall, r.cpu);
		makespan(dir, g, "makespan");
	}
	printf("3. peak memory                 %.1f KiB per machine (max RSS %ld KiB)\n",
	       (double)(maxrss_kib() - rss0) / (double)n, maxrss_kib());
	{
		size_t small = n < 1000 ? n : 1000;
		dr_arena *a2 = dr_arena_new();
		dr_plan *p2 = make_plan(a2, small, 100);
		dr_graph *g2 = NULL;
		char dir2[600];

		snprintf(dir2, sizeof(dir2), "%s/persist", dir);
		dr_graph_compile(a2, p2, DR_OP_FAILOVER, &co, &g2);
		if (run_once(dir2, p2, g2, 0, true, "persist", &r) == 0)
			printf("4. with simulator state saves, %zu machines: %.0f steps/s, %.1f us "
			       "CPU per step\n", small, r.steps_done / r.wall,
			       r.cpu * 1e6 / r.steps_done);
		dr_arena_free(a2);
	}
	dr_arena_free(a);
	printf("(state left in %s; remove it when done)\n", dir);
	return 0;
}
