/*
 * bench-azure.c - the executor and the azure provider through the ARM
 * emulator (tests/armemu) on a 1,000-machine failover.
 *
 *   build/tests/bench-azure ARMEMU [machines [state-dir]]
 *
 * 1. Latency: emulator time scale 0.001 (a 6-minute ASR failover takes
 *    0.36 s), every answer 20 ms late (`slow:20:0`), reads and writes
 *    unlimited; failover to the gate, approve, commit. Makespan of the main
 *    phase over the critical path of ASR's own operation times (the jobs'
 *    model times x the scale) through the step graph.
 * 2. Write-rate limit: ARM's bucket, 200 burst, refilled 10/s, unscaled;
 *    failover to the gate (one write per machine). Makespan over the rate
 *    bound ((writes - 200) / 10 per second), and the steps a 429 failed
 *    (goal: zero).
 */
#include "../azure/azemu.h"

#include "core/arena.h"
#include "core/diag.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "exec/job.h"
#include "graph/graph.h"
#include "journal/store.h"
#include "plan/plan.h"
#include "provider/azure.h"
#include "provider/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#define SCALE 0.001

typedef struct run {
	unsigned failed, failed_429;
	size_t done;
} run;

static void on_got(void *ud, int rc, const dr_prov_item *it, const dr_prov_error *e)
{
	(void)rc, (void)it, (void)e;
	*(int *)ud = 1;
}

static void on_pts(void *ud, int rc, const dr_prov_point *p, size_t n, const dr_prov_error *e)
{
	(void)rc, (void)p, (void)n, (void)e;
	*(int *)ud = 1;
}

/*
 * Requests one listing of an item's recovery points takes (its pages), on
 * a provider of its own so the job's provider starts cold.
 */
static unsigned point_pages(dr_loop *l, const json_t *ao)
{
	dr_provider *p = NULL;
	dr_azure_stats st;
	unsigned r0;
	int done = 0;

	if (dr_provider_open("azure", ao, l, &p) < 0)
		return 0;
	dr_provider_get_item(p, "vm0001", on_got, &done);
	while (!done)
		dr_loop_run_once(l, true);
	dr_azure_get_stats(dr_provider_azure(p), &st);
	r0 = st.requests;
	done = 0;
	dr_provider_list_recovery_points(p, "vm0001", on_pts, &done);
	while (!done)
		dr_loop_run_once(l, true);
	dr_azure_get_stats(dr_provider_azure(p), &st);
	dr_provider_free(p);
	return st.requests - r0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) of this process or of its waited-for
 * children (the emulator once stopped). */
static double cpu_s(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static char *plan_text(size_t n)
{
	dr_strbuf b;

	dr_strbuf_init(&b, 65536);
	dr_strbuf_addstr(&b, "apiVersion: drplan/v1\nkind: RecoveryPlan\n"
			     "metadata: { name: bench }\ntarget:\n  provider: azure\n"
			     "  subscription: 33333333-3333-3333-3333-333333333333\n"
			     "  resourceGroup: rg-dr\n  vault: vault-dr\n  location: westeurope\nmachines:\n");
	for (size_t i = 0; i < n; i++)
		dr_strbuf_addf(&b, "  - name: vm%04zu\n", i + 1);
	dr_strbuf_addstr(&b, "groups:\n");
	for (size_t i = 0; i < n; i++) {
		if (i % 100 == 0)
			dr_strbuf_addf(&b, "%s  - name: g%02zu\n    machines: [vm%04zu",
				       i ? "]\n" : "", i / 100, i + 1);
		else
			dr_strbuf_addf(&b, ", vm%04zu", i + 1);
	}
	dr_strbuf_addstr(&b, "]\n");
	return dr_strbuf_detach(&b, NULL);
}

static void on_event(void *ctx, const json_t *ev)
{
	run *r = ctx;
	const char *to = json_string_value(json_object_get(ev, "to"));
	const char *m = json_string_value(json_object_get(ev, "message"));

	if (!to)
		return;
	if (!strcmp(to, "succeeded") || !strcmp(to, "waiting"))
		r->done++;
	if (!strcmp(to, "failed")) {
		r->failed++;
		if (m && (strstr(m, "429") || strstr(m, "hrottl")))
			r->failed_429++;
		fprintf(stderr, "failed: %s\n", m ? m : "");
	}
}

/*
 * Run the failover (commit too when approve) with faults; print the
 * makespan and its bounds. rate_writes > 0: also the write-rate bound.
 */
static int bench(const char *emu, const char *base, const char *name, size_t n,
		 const char *faults, bool approve)
{
	char dir[1200], items[16], url[64], store[1300], logf[1300];
	const char *argv[] = { "--items", items, "--scale", "0.001", "--faults", faults,
			       NULL, NULL, NULL };
	dr_plan_load_opts lo = { .no_inventory = true };
	dr_compile_opts co = DR_COMPILE_OPTS_INIT;
	dr_arena *a = dr_arena_new();
	dr_diags *d = dr_diags_new();
	char *text = plan_text(n);
	dr_plan *p = NULL;
	dr_graph *g = NULL;
	dr_loop *l = NULL;
	dr_store *s = NULL;
	dr_provider *prov = NULL;
	dr_job *j = NULL;
	dr_job_opts o;
	dr_azure_stats as;
	json_t *ao, *doc = NULL, *steps;
	run r = { 0 };
	azemu e;
	double t0, wall, lb = 0, fl = 0, *ef, *ef2, cpu0, ecpu0, lat_ms = 0;
	unsigned pages;
	int64_t start, end = 0;
	int rc;

	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	mkdir(dir, 0700);
	snprintf(items, sizeof(items), "%zu", n);
	if (getenv("DRPLAN_BENCH_LOG")) {
		/* The emulator's request log, for a timeline (costs a write each). */
		snprintf(logf, sizeof(logf), "%s/armemu.jsonl", dir);
		argv[6] = "--log";
		argv[7] = logf;
	}
	if (azemu_start(&e, emu, dir, argv) < 0) {
		fprintf(stderr, "bench-azure: the emulator did not start\n");
		return 1;
	}
	if (dr_plan_load_text(a, "bench.yaml", text, strlen(text), &lo, d, &p) < 0 ||
	    dr_graph_compile(a, p, DR_OP_FAILOVER, &co, &g) < 0) {
		fprintf(stderr, "bench-azure: %s\n", dr_error_msg());
		return 1;
	}
	dr_loop_new(NULL, &l);
	snprintf(store, sizeof(store), "%s/state", dir);
	dr_store_open(store, DR_STORE_CREATE, &s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", e.port);
	ao = dr_azure_opts_json_from_plan(p);
	json_object_set_new(ao, "armEndpoint", json_string(url));
	json_object_set_new(ao, "authorityHost", json_string(url));
	json_object_set_new(ao, "pollMs", json_integer(20));
	pages = point_pages(l, ao);
	if (strstr(faults, "slow:"))
		lat_ms = atof(strstr(faults, "slow:") + 5);
	if (dr_provider_open("azure", ao, l, &prov) < 0) {
		fprintf(stderr, "bench-azure: %s\n", dr_error_msg());
		return 1;
	}
	json_decref(ao);
	memset(&o, 0, sizeof(o));
	o.store = s;
	o.provider = prov;
	o.loop = l;
	o.on_event = on_event;
	o.ctx = &r;
	o.concurrency = 100;
	o.detach_when_waiting = true;
	o.control_poll_ms = 50;
	o.tick_ms = 50;
	o.max_poll_ms = 50;
	o.by = "bench";
	t0 = now_s();
	cpu0 = cpu_s(RUSAGE_SELF);
	ecpu0 = cpu_s(RUSAGE_CHILDREN);
	rc = dr_job_start(p, g, &o, name, &j);
	if (rc == 0)
		rc = dr_job_run(j);
	if (rc == DR_EAGAIN && approve) {
		json_t *req = json_pack("{s:s}", "action", "approve");

		rc = dr_job_control(s, name, req);
		json_decref(req);
		if (rc == 0)
			rc = dr_job_run(j);
	}
	wall = now_s() - t0;
	cpu0 = cpu_s(RUSAGE_SELF) - cpu0;
	if (rc < 0 && rc != DR_EAGAIN)
		fprintf(stderr, "bench-azure: %s\n", dr_error_msg());
	dr_azure_get_stats(dr_provider_azure(prov), &as);
	printf("%s: %zu machines, %zu steps done, status %s, wall %.1f s\n", name, n, r.done,
	       dr_job_status_name(dr_job_status_now(j)), wall);
	printf("  requests %u, retries %u, 429s waited out %u, writes paced %u, "
	       "failed steps %u (by a 429: %u)\n",
	       as.requests, as.retries, as.throttled, as.paced, r.failed, r.failed_429);
	dr_provider_free(prov);
	dr_job_free(j);

	/* Makespan (provider clock, wall ms) over the critical path of ASR's
	 * job times (model ms x scale) through the main phase. */
	if (dr_job_status(s, name, &doc) == 0) {
		steps = json_object_get(doc, "steps");
		start = json_integer_value(json_object_get(doc, "started"));
		ef = calloc(g->nsteps, sizeof(double));
		ef2 = calloc(g->nsteps, sizeof(double));
		for (size_t i = 0; i < g->nsteps; i++) {
			json_t *st = json_object_get(steps, g->steps[i].id);
			double dd = 0, ee = 0, dd2 = 0, ee2 = 0;

			if (g->steps[i].phase != DR_PHASE_MAIN)
				continue;
			if (json_object_get(st, "op_end"))
				dd = (double)(json_integer_value(json_object_get(st, "op_end")) -
					      json_integer_value(json_object_get(st, "op_start"))) *
				     SCALE;
			/* The floor adds the round trips a step cannot avoid, one
			 * after the other: the check of the item, every page of
			 * its recovery points (a failover at latest-processed),
			 * the POST, and the poll that sees the job end. */
			if (json_object_get(st, "op_end"))
				dd2 = dd + lat_ms * ((g->steps[i].kind == DR_STEP_UNPLANNED_FAILOVER
						      ? pages : 0) + 3);
			for (size_t k = 0; k < g->steps[i].ndeps; k++) {
				if (ef[g->steps[i].deps[k]] > ee)
					ee = ef[g->steps[i].deps[k]];
				if (ef2[g->steps[i].deps[k]] > ee2)
					ee2 = ef2[g->steps[i].deps[k]];
			}
			ef[i] = ee + dd;
			ef2[i] = ee2 + dd2;
			if (ef[i] > lb)
				lb = ef[i];
			if (ef2[i] > fl)
				fl = ef2[i];
			if (json_integer_value(json_object_get(st, "ended")) > end)
				end = json_integer_value(json_object_get(st, "ended"));
		}
		free(ef);
		free(ef2);
		printf("  makespan (main phase)         %.2f s\n", (double)(end - start) / 1000.0);
		printf("  critical path of ASR's times  %.2f s\n", lb / 1000.0);
		printf("  makespan / critical path      %.3f\n", (double)(end - start) / lb);
		if (lat_ms > 0) {
			printf("  floor: + %.0f ms x (item, %u pages of points, POST, poll) "
			       "per failover  %.2f s\n", lat_ms, pages, fl / 1000.0);
			printf("  makespan / floor              %.3f\n", (double)(end - start) / fl);
		}
		if (strstr(faults, "write-limit:200:10")) {
			double rb = n > 200 ? (double)(n - 200) / 10.0 : 0;

			printf("  rate bound ((%zu writes - 200) / 10/s) %.1f s\n", n, rb);
			printf("  makespan / rate bound         %.3f\n",
			       (double)(end - start) / 1000.0 / rb);
		}
		json_decref(doc);
	}
	dr_store_free(s);
	dr_loop_free(l);
	dr_diags_free(d);
	dr_arena_free(a);
	free(text);
	azemu_stop(&e);
	printf("  CPU: runner %.1f s, emulator %.1f s (wall %.1f s, 2 cores)\n", cpu0,
	       cpu_s(RUSAGE_CHILDREN) - ecpu0, wall);
	return 0;
}

int main(int argc, char **argv)
{
	const char *emu = argc > 1 ? argv[1] : "build/tests/armemu";
	size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
	const char *base = argc > 3 ? argv[3] : "/tmp";
	char dir[512];

	snprintf(dir, sizeof(dir), "%s/drplan-bench-azure-XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	setenv("AZURE_TENANT_ID", "11111111-1111-1111-1111-111111111111", 1);
	setenv("AZURE_CLIENT_ID", "22222222-2222-2222-2222-222222222222", 1);
	setenv("AZURE_CLIENT_SECRET", "emulator-secret", 1);
	printf("bench-azure: %zu machines in groups of 100 (concurrency 100), emulator scale "
	       "%.3f, state %s\n", n, SCALE, dir);
	const char *only = getenv("DRPLAN_BENCH_CASE");

	if (!only || !strcmp(only, "latency"))
		bench(emu, dir, "latency", n, "slow:20:0;read-limit:0:0;write-limit:0:0", true);
	if (!only || !strcmp(only, "write-limit"))
		bench(emu, dir, "write-limit", n, "read-limit:0:0;write-limit:200:10", false);
	printf("(state left in %s; remove it when done)\n", dir);
	return 0;
}
