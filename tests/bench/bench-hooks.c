/*
 * bench-hooks.c - what a hook costs the runner: a fresh sandboxed state,
 * load, run and close for a trivial hook, and the count hook's overhead on
 * a busy loop. Prints figures; not a ctest.
 */
#include "hooks/sandbox.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int run_once(const char *src, const json_t *ctx, dr_hook_outcome *out)
{
	dr_hook *h;
	int rc;

	if (dr_hook_new(NULL, &h))
		return -1;
	if (ctx)
		dr_hook_set_context(h, ctx);
	rc = dr_hook_load_string(h, "bench.lua", src, strlen(src));
	if (!rc)
		rc = dr_hook_run_sync(h, NULL, NULL, out);
	dr_hook_free(h);
	return rc;
}

static void bench(const char *what, const char *src, const json_t *ctx, int n)
{
	dr_hook_outcome out;
	double t0, t;
	int i;

	run_once(src, ctx, &out); /* warm up */
	t0 = now_us();
	for (i = 0; i < n; i++) {
		if (run_once(src, ctx, &out) || out.status != DR_HOOK_OK) {
			printf("%s: failed: %s\n", what, out.message);
			return;
		}
	}
	t = now_us() - t0;
	printf("%-44s %9.1f us/run  (%d runs)\n", what, t / n, n);
}

int main(void)
{
	json_t *ctx = json_pack("{s:s,s:s,s:[{s:s,s:s},{s:s,s:s}]}", "plan", "erp",
				"operation", "drill", "machines", "name", "sql01", "ip",
				"10.20.1.10", "name", "app01", "ip", "10.20.2.10");
	const char *loop = "local x = 0 for i = 1, 10000000 do x = x + i end";
	dr_hook_outcome out;
	double t0;

	bench("trivial hook (new + load + run + close)", "return true", NULL, 2000);
	bench("hook with context, log and output",
	      "drplan.log('plan %s', drplan.context.plan)\n"
	      "drplan.output('n', #drplan.context.machines)", ctx, 2000);
	bench("hook with 3 sleeps (fake clock)",
	      "drplan.sleep(1) drplan.sleep(1) drplan.sleep(1)", NULL, 2000);
	t0 = now_us();
	run_once(loop, NULL, &out);
	printf("%-44s %9.1f ms      (%s)\n", "10M-iteration loop under the count hook",
	       (now_us() - t0) / 1e3, dr_hook_status_name(out.status));
	json_decref(ctx);
	return 0;
}
