/*
 * bench-plan.c - time dr_plan_load on a plan file (default 5 runs) and
 * print the best; fails when the plan does not load clean.
 *   bench-plan PLAN [RUNS]
 */
#include "core/arena.h"
#include "core/diag.h"
#include "plan/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	double best = -1, best_cpu = -1;
	size_t nmachines = 0, used = 0;
	int runs = argc > 2 ? atoi(argv[2]) : 5, i;

	if (argc < 2) {
		fprintf(stderr, "usage: bench-plan PLAN [RUNS]\n");
		return 2;
	}
	for (i = 0; i < runs; i++) {
		dr_arena *a = dr_arena_new();
		dr_diags *d = dr_diags_new();
		dr_plan *p = NULL;
		double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
		int rc = dr_plan_load(a, argv[1], NULL, d, &p);
		double t = now_ms(CLOCK_MONOTONIC) - t0;
		double c = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;

		if (rc || dr_diags_count(d, DR_SEV_ERROR)) {
			fprintf(stderr, "bench-plan: %s does not load clean (%d, %zu "
				"errors)\n", argv[1], rc,
				dr_diags_count(d, DR_SEV_ERROR));
			return 1;
		}
		nmachines = p->nmachines;
		used = dr_arena_used(a);
		if (best < 0 || t < best)
			best = t;
		if (best_cpu < 0 || c < best_cpu)
			best_cpu = c;
		dr_diags_free(d);
		dr_arena_free(a);
	}
	printf("dr_plan_load %s: %zu machines, best of %d: %.1f ms (%.1f ms CPU), "
	       "arena %.1f MB\n", argv[1], nmachines, runs, best, best_cpu,
	       (double)used / 1e6);
	return 0;
}
