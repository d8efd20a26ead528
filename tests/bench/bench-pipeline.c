/*
 * bench-plan.c - how long validate + compile takes for one plan file.
 *
 *   bench-pipeline PLAN [RUNS]
 *
 * Runs the whole offline pipeline (read, parse, schema, inventory, rules,
 * compile for failover, estimate) RUNS times in this process and prints the
 * best and median CPU time of each phase and of the whole (both threads
 * while a large file is parsed on two), the best wall time, and the peak
 * resident memory of the process. Not a test: it prints figures.
 */
#include "core/arena.h"
#include "core/diag.h"
#include "graph/graph.h"
#include "plan/plan.h"
#include "rules/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

/* CPU time of the process: a shared machine's load does not inflate it. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	enum { LOAD, RULES, COMPILE, TOTAL, NPHASE };
	static const char *const names[] = { "load+schema", "rules", "compile+estimate", "total" };
	int runs = argc > 2 ? atoi(argv[2]) : 5, r, ph;
	double *t[NPHASE], *w[NPHASE];
	struct rusage ru;
	size_t machines = 0, steps = 0;

	if (argc < 2 || runs < 1) {
		fprintf(stderr, "usage: bench-pipeline PLAN [RUNS]\n");
		return 2;
	}
	for (ph = 0; ph < NPHASE; ph++)
	{
		t[ph] = calloc((size_t)runs, sizeof(double));
		w[ph] = calloc((size_t)runs, sizeof(double));
	}
	for (r = 0; r < runs; r++) {
		dr_arena *a = dr_arena_new();
		dr_diags *d = dr_diags_new();
		dr_compile_opts co = DR_COMPILE_OPTS_INIT;
		dr_plan *p = NULL;
		dr_graph *g = NULL;
		double t0 = now(), t1, t2, t3, w0 = wall(), w1, w2, w3;

		if (dr_plan_load(a, argv[1], NULL, d, &p) || !p) {
			fprintf(stderr, "bench-pipeline: %s does not load\n", argv[1]);
			return 1;
		}
		t1 = now();
		w1 = wall();
		dr_rules_check(p, d);
		t2 = now();
		w2 = wall();
		if (dr_diags_count(d, DR_SEV_ERROR)) {
			fprintf(stderr, "bench-pipeline: %s has errors\n", argv[1]);
			return 1;
		}
		if (dr_graph_compile(a, p, DR_OP_FAILOVER, &co, &g) || dr_graph_estimate(g)) {
			fprintf(stderr, "bench-pipeline: %s does not compile\n", argv[1]);
			return 1;
		}
		t3 = now();
		w3 = wall();
		machines = p->nmachines;
		steps = g->nsteps;
		t[LOAD][r] = t1 - t0;
		t[RULES][r] = t2 - t1;
		t[COMPILE][r] = t3 - t2;
		t[TOTAL][r] = t3 - t0;
		w[LOAD][r] = w1 - w0;
		w[RULES][r] = w2 - w1;
		w[COMPILE][r] = w3 - w2;
		w[TOTAL][r] = w3 - w0;
		dr_diags_free(d);
		dr_arena_free(a);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("plan %s: %zu machines, %zu steps, %d runs\n", argv[1], machines, steps, runs);
	for (ph = 0; ph < NPHASE; ph++) {
		qsort(t[ph], (size_t)runs, sizeof(double), dcmp);
		qsort(w[ph], (size_t)runs, sizeof(double), dcmp);
		printf("  %-18s best %8.2f ms  median %8.2f ms CPU, best %8.2f ms wall\n",
		       names[ph], t[ph][0] * 1e3, t[ph][runs / 2] * 1e3, w[ph][0] * 1e3);
		free(t[ph]);
		free(w[ph]);
	}
	printf("  peak RSS %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
	return 0;
}
