/*
 * bench-net.c - hooks doing network checks on the one event loop.
 *
 *   build/tests/bench-net [hooks [delay_ms]]     (defaults 1000 and 200)
 *
 * 1. `hooks` hooks at once, each making one HTTP GET to a loopback server
 *    that answers every request after delay_ms. The server runs in a
 *    forked child on its own loop, so the figures are the client's: total
 *    wall time (ideal: about delay_ms), the loop's worst tick latency (how
 *    late a 5 ms ticker timer fired: the longest the loop was busy), and
 *    memory (peak RSS growth, and the hooks' own Lua heaps).
 *    Run twice: all hooks started in one loop turn, then 50 per turn.
 * 2. The overhead of serving a trivial hook on the loop against running it
 *    with the synchronous driver (new state, load, run, close in both).
 *
 * Loopback only; the child exits after a bounded time even if we die.
 */
#define _GNU_SOURCE /* accept4, strcasestr in httpd.h */

#include "core/error.h"
#include "exec/loop.h"
#include "exec/net.h"
#include "hooks/sandbox.h"
#include "hooks/serve.h"
#include "../unit/httpd.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static long max_rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* ---- the server child ---- */

static pid_t start_server(int *port)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dr_loop *l;
		httpd srv;

		close(p[0]);
		alarm(120); /* bounded even if the parent never kills us */
		if (dr_loop_new(NULL, &l) || httpd_start(&srv, l))
			_exit(1);
		if (write(p[1], &srv.port, sizeof(srv.port)) != sizeof(srv.port))
			_exit(1);
		close(p[1]);
		dr_loop_run(l);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], port, sizeof(*port)) != sizeof(*port)) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return pid;
}

/* ---- the ticker ---- */

typedef struct ticker {
	uint64_t expect_us, max_late_us;
	dr_timer *t;
	bool stop;
} ticker;

#define TICK_MS 5

static void on_tick(dr_loop *l, void *ud)
{
	ticker *tk = ud;
	uint64_t now = now_us();

	if (now > tk->expect_us && now - tk->expect_us > tk->max_late_us)
		tk->max_late_us = now - tk->expect_us;
	tk->t = NULL;
	if (tk->stop)
		return;
	tk->expect_us = now + TICK_MS * 1000;
	tk->t = dr_loop_timer(l, TICK_MS, on_tick, tk);
}

/* ---- hooks ---- */

static int ndone, nok;
static dr_loop *loop;

static void on_done(dr_hook *h, const dr_hook_outcome *o, void *ud)
{
	(void)h;
	(void)ud;
	ndone++;
	if (o->status == DR_HOOK_OK)
		nok++;
	else if (nok + 5 > ndone)
		fprintf(stderr, "hook %s: %s\n", dr_hook_status_name(o->status), o->message);
}

static dr_hook *load(const char *src)
{
	dr_hook_opts o = { 0 };
	dr_hook *h;

	o.timeout_ms = 60000;
	if (dr_hook_new(&o, &h))
		return NULL;
	if (dr_hook_load_string(h, "bench.lua", src, strlen(src))) {
		dr_hook_free(h);
		return NULL;
	}
	return h;
}

static int bench_concurrent(dr_net *net, int port, int n, int delay, int batch)
{
	dr_hook **hs = calloc((size_t)n, sizeof(*hs));
	char src[256];
	ticker tk = { 0 };
	long rss0 = max_rss_kb();
	size_t heap = 0;
	uint64_t t0, tl, t1;
	int i;

	snprintf(src, sizeof(src),
		 "local r = assert(drplan.http.request('http://127.0.0.1:%d/slow/%d'))\n"
		 "if r.status ~= 200 or r.body ~= 'slow' then drplan.fail('bad answer') end\n",
		 port, delay);
	ndone = nok = 0;
	t0 = now_us();
	for (i = 0; i < n; i++) {
		if (!(hs[i] = load(src))) {
			fprintf(stderr, "cannot load hook %d\n", i);
			return 1;
		}
	}
	tl = now_us();
	tk.expect_us = now_us() + TICK_MS * 1000;
	tk.t = dr_loop_timer(loop, TICK_MS, on_tick, &tk);
	/* batch hooks per loop turn, as an executor would pace them */
	for (i = 0; i < n;) {
		int k;

		for (k = 0; k < batch && i < n; k++, i++)
			dr_hook_serve(loop, net, hs[i], on_done, NULL, NULL);
		if (i < n)
			dr_loop_run_once(loop, false);
	}
	while (ndone < n && now_us() - t0 < 60000000u)
		dr_loop_run_once(loop, true);
	t1 = now_us();
	tk.stop = true;
	dr_loop_timer_cancel(loop, tk.t);
	for (i = 0; i < n; i++) {
		if (hs[i])
			heap += dr_hook_mem_peak(hs[i]);
		dr_hook_free(hs[i]);
	}
	free(hs);
	if (batch >= n)
		printf("%d hooks, one HTTP GET each, server delay %d ms (loopback), all started at once:\n", n, delay);
	else
		printf("%d hooks, one HTTP GET each, server delay %d ms (loopback), started %d per loop turn:\n",
		       n, delay, batch);
	printf("  finished ok       %d of %d\n", nok, n);
	printf("  creating + loading %.1f ms (new Lua state and chunk per hook)\n",
	       (double)(tl - t0) / 1000.0);
	printf("  serving           %.1f ms from the first start to the last done (ideal ~%d ms)\n",
	       (double)(t1 - tl) / 1000.0, delay);
	printf("  max tick latency  %.2f ms (a %d ms ticker, lateness)\n",
	       (double)tk.max_late_us / 1000.0, TICK_MS);
	printf("  peak RSS growth   %ld KiB (%.1f KiB per hook)\n", max_rss_kb() - rss0,
	       (double)(max_rss_kb() - rss0) / n);
	printf("  Lua heaps (peak)  %.1f KiB per hook\n", (double)heap / 1024.0 / n);
	return nok == n ? 0 : 1;
}

static void bench_trivial(dr_net *net)
{
	const int n = 2000;
	const char *src = "local x = 1 + 1";
	uint64_t t0, t_sync, t_loop;
	dr_hook_outcome out;
	int i;

	t0 = now_us();
	for (i = 0; i < n; i++) {
		dr_hook *h = load(src);

		dr_hook_run_sync(h, NULL, NULL, &out);
		dr_hook_free(h);
	}
	t_sync = now_us() - t0;

	t0 = now_us();
	ndone = nok = 0;
	for (i = 0; i < n; i++) {
		dr_hook *h = load(src);
		int before = ndone;

		dr_hook_serve(loop, net, h, on_done, NULL, NULL);
		while (ndone == before)
			dr_loop_run_once(loop, true);
		dr_hook_free(h);
	}
	t_loop = now_us() - t0;
	printf("trivial hook (new state, load, run, close), %d runs:\n", n);
	printf("  synchronous driver %.1f us per hook\n", (double)t_sync / n);
	printf("  served on the loop %.1f us per hook (overhead %.1f us)\n", (double)t_loop / n,
	       ((double)t_loop - (double)t_sync) / n);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	int delay = argc > 2 ? atoi(argv[2]) : 200;
	int port, rc, status;
	dr_net *net;
	pid_t pid;

	if (n < 1 || n > 10000 || delay < 0 || delay > 10000) {
		fprintf(stderr, "usage: bench-net [hooks (1-10000) [delay_ms (0-10000)]]\n");
		return 2;
	}
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	if ((pid = start_server(&port)) < 0) {
		fprintf(stderr, "cannot start the server\n");
		return 1;
	}
	if (dr_loop_new(NULL, &loop) || dr_net_new(loop, &net)) {
		fprintf(stderr, "setup: %s\n", dr_error_msg());
		kill(pid, SIGTERM);
		return 1;
	}
	rc = bench_concurrent(net, port, n, delay, n);
	rc |= bench_concurrent(net, port, n, delay, 50);
	bench_trivial(net);
	dr_net_free(net);
	dr_loop_free(loop);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	return rc;
}
