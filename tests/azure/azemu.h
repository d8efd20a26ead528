/*
 * azemu.h - shared by the tests and benchmarks that drive the azure
 * provider against the ARM emulator (tests/armemu, docs/arm-emulator.md):
 * start and stop an emulator on loopback, read its /_emulator/stats.
 *
 * Header-only (static functions) so each test stays one executable.
 */
#ifndef DR_TESTS_AZEMU_H
#define DR_TESTS_AZEMU_H

#include "exec/http.h"
#include "exec/loop.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct azemu {
	pid_t pid;
	int port;
} azemu;

/*
 * Start emu with its port file in dir (removed first) and the extra
 * arguments argv (NULL-terminated, may be NULL); stderr goes to /dev/null
 * unless DRPLAN_TEST_VERBOSE is set. 0 when it listens, -1 otherwise.
 */
static inline int azemu_start(azemu *e, const char *emu, const char *dir,
			      const char *const *argv)
{
	char pf[2048];
	const char *args[64];
	size_t n = 0;
	int i;

	snprintf(pf, sizeof(pf), "%s/port", dir);
	unlink(pf);
	args[n++] = emu;
	args[n++] = "--port-file";
	args[n++] = pf;
	for (i = 0; argv && argv[i] && n < 63; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	e->port = 0;
	e->pid = fork();
	if (e->pid < 0)
		return -1;
	if (e->pid == 0) {
		if (!getenv("DRPLAN_TEST_VERBOSE") && !freopen("/dev/null", "w", stderr))
			_exit(127);
		execv(emu, (char *const *)args);
		_exit(127);
	}
	for (i = 0; i < 1000; i++) {
		FILE *f = fopen(pf, "r");

		if (f) {
			int ok = fscanf(f, "%d", &e->port) == 1;

			fclose(f);
			if (ok)
				return 0;
		}
		usleep(10000);
	}
	return -1;
}

/* SIGTERM and wait; the emulator's exit status (0 expected). */
static inline int azemu_stop(azemu *e)
{
	int st = 0;

	if (e->pid <= 0)
		return 0;
	kill(e->pid, SIGTERM);
	waitpid(e->pid, &st, 0);
	e->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static inline void azemu_on_body_(dr_http_xfer *x, const dr_http_resp *r, void *ud)
{
	(void)x;
	*(json_t **)ud = r->rc == 0 && r->status == 200
				 ? json_loadb(r->body, r->body_len, 0, NULL)
				 : NULL;
	if (!*(json_t **)ud)
		*(json_t **)ud = json_object();
}

/* GET http://127.0.0.1:PORT{path} on loop l; the JSON body ({} on error). */
static inline json_t *azemu_get(const azemu *e, dr_loop *l, const char *path)
{
	dr_http *h = NULL;
	dr_http_req q;
	json_t *j = NULL;
	char url[256];

	memset(&q, 0, sizeof(q));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", e->port, path);
	q.url = url;
	dr_http_new(l, &h);
	dr_http_start(h, &q, azemu_on_body_, &j, NULL);
	while (!j)
		dr_loop_run_once(l, true);
	dr_http_free(h);
	return j;
}

/* /_emulator/stats: {"items":{machine:{op:n}},"requests":N,...}; caller owns. */
static inline json_t *azemu_stats(const azemu *e, dr_loop *l)
{
	return azemu_get(e, l, "/_emulator/stats");
}

/* Operations the emulator accepted for item and op in stats. */
static inline long azemu_accepted(const json_t *stats, const char *item, const char *op)
{
	return (long)json_integer_value(json_object_get(
		json_object_get(json_object_get(stats, "items"), item), op));
}

#endif
