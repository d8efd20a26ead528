/*
 * test-azure-faults.c - every ARM emulator fault during a 200-machine
 * failover and commit run by the executor with the azure provider, and a
 * crash + resume through the same provider.
 *
 * Each case starts its own emulator (--faults SPEC, --log), runs a failover
 * of N machines (groups of 50, 50 at once) to the commit gate, approves it
 * (dr_job_control) and commits. Asserted: the job succeeds, no step ever
 * went to "failed", the emulator accepted each machine's unplannedFailover
 * and failoverCommit exactly once (/_emulator/stats counts accepted
 * operations, including those whose answer was lost), and the fault really
 * happened (the emulator's log, or the provider's counters).
 *
 * usage: test-azure-faults ARMEMU WORKDIR
 */
#include "teststore.h"

#include "test.h"

#include "azemu.h"

#include "core/arena.h"
#include "core/diag.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "exec/job.h"
#include "exec/loop.h"
#include "graph/graph.h"
#include "journal/journal.h"
#include "journal/store.h"
#include "plan/plan.h"
#include "provider/azure.h"
#include "provider/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *g_emu;
static char g_dir[1024];

/* What proves that a case's fault happened. */
enum evidence {
	EV_LOG_FAULT,  /* log lines with "fault" set */
	EV_TOKENS,     /* more than 3 token fetches */
	EV_THROTTLE,   /* writes paced or 429s waited out */
	EV_RECONCILED, /* ambiguous POSTs settled by asking ASR */
};

typedef struct fcase {
	const char *name;
	size_t machines;
	const char *faults;     /* --faults */
	long timeout_ms;        /* provider timeoutMs; 0: 10000 */
	long pace_step_ms;      /* provider paceStepMs; 0: default */
	enum evidence ev;
} fcase;

typedef struct world {
	dr_arena *a;
	dr_diags *d;
	dr_plan *p;
	dr_loop *l;
	dr_store *s;
	dr_provider *prov;
	char *text;
	unsigned failed_steps;
	char first_failure[512];
} world;

/* vm01.. like the emulator's --items N: zero-padded to the width of N. */
static void machine_name(char *buf, size_t sz, size_t n, size_t i)
{
	int w = n >= 100 ? (n >= 1000 ? 4 : 3) : 2;

	snprintf(buf, sz, "vm%0*zu", w, i + 1);
}

static char *plan_text(size_t n)
{
	dr_strbuf b;
	char name[32];

	dr_strbuf_init(&b, 4096);
	dr_strbuf_addstr(&b, "apiVersion: drplan/v1\n"
			   "kind: RecoveryPlan\n"
			   "metadata: { name: faults }\n"
			   "target:\n"
			   "  provider: azure\n"
			   "  subscription: 33333333-3333-3333-3333-333333333333\n"
			   "  resourceGroup: rg-dr\n"
			   "  vault: vault-dr\n"
			   "  location: westeurope\n"
			   "machines:\n");
	for (size_t i = 0; i < n; i++) {
		machine_name(name, sizeof(name), n, i);
		dr_strbuf_addf(&b, "  - name: %s\n", name);
	}
	dr_strbuf_addstr(&b, "groups:\n");
	for (size_t i = 0; i < n; i++) {
		machine_name(name, sizeof(name), n, i);
		if (i % 50 == 0)
			dr_strbuf_addf(&b, "%s  - name: g%zu\n    machines: [%s",
					 i ? "]\n" : "", i / 50, name);
		else
			dr_strbuf_addf(&b, ", %s", name);
	}
	dr_strbuf_addstr(&b, "]\n");
	return dr_strbuf_detach(&b, NULL);
}

static void on_event(void *ctx, const json_t *ev)
{
	world *w = ctx;
	const char *to = json_string_value(json_object_get(ev, "to"));

	if (to && !strcmp(to, "failed")) {
		const char *m = json_string_value(json_object_get(ev, "message"));

		if (!w->failed_steps++)
			snprintf(w->first_failure, sizeof(w->first_failure), "%s: %s",
				 json_string_value(json_object_get(ev, "step")), m ? m : "");
	}
	if (getenv("DRPLAN_TEST_VERBOSE")) {
		char *s = json_dumps(ev, JSON_COMPACT);

		fprintf(stderr, "%s\n", s);
		free(s);
	}
}

/*
 * The state store of a world whose files are under dir: dir/state, or
 * with $DRPLAN_TEST_STORE=azblob://... a prefix under it named after dir
 * (unique per run: dir holds the pid), so a second world_open() on the
 * same dir finds the same store (teststore.h).
 */
static void store_spec(const char *dir, char *out, size_t n)
{
	const char *tail = dir + strlen(dir);
	size_t k;

	if (dr_test_store_is_dir()) {
		snprintf(out, n, "%s/state", dir);
		return;
	}
	for (int slashes = 0; tail > dir; tail--)
		if (tail[-1] == '/' && ++slashes == 2)
			break;
	snprintf(out, n, "%s/", dr_test_store_base());
	k = strlen(out);
	for (; *tail && k + 1 < n; tail++)
		out[k++] = (*tail >= 'a' && *tail <= 'z') || (*tail >= 'A' && *tail <= 'Z') ||
			   (*tail >= '0' && *tail <= '9') ? *tail : '-';
	out[k] = '\0';
}

static int world_open(world *w, const azemu *e, size_t n, const char *dir, long timeout_ms,
		      long pace_step_ms)
{
	dr_plan_load_opts lo = { .no_inventory = true };
	json_t *o;
	char url[64], store[1100];
	int rc;

	memset(w, 0, sizeof(*w));
	w->a = dr_arena_new();
	w->d = dr_diags_new();
	w->text = plan_text(n);
	if ((rc = dr_plan_load_text(w->a, "faults.yaml", w->text, strlen(w->text), &lo, w->d,
				    &w->p)) < 0)
		return rc;
	dr_loop_new(NULL, &w->l);
	store_spec(dir, store, sizeof(store));
	if ((rc = dr_store_open(store, DR_STORE_CREATE, &w->s)) < 0)
		return rc;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", e->port);
	o = dr_azure_opts_json_from_plan(w->p);
	json_object_set_new(o, "armEndpoint", json_string(url));
	json_object_set_new(o, "authorityHost", json_string(url));
	json_object_set_new(o, "pollMs", json_integer(20));
	json_object_set_new(o, "retryBaseMs", json_integer(20));
	json_object_set_new(o, "retryMaxMs", json_integer(200));
	json_object_set_new(o, "timeoutMs", json_integer(timeout_ms ? timeout_ms : 10000));
	if (pace_step_ms)
		json_object_set_new(o, "paceStepMs", json_integer(pace_step_ms));
	rc = dr_provider_open("azure", o, w->l, &w->prov);
	json_decref(o);
	return rc;
}

static void world_close(world *w)
{
	dr_provider_free(w->prov);
	dr_store_free(w->s);
	dr_loop_free(w->l);
	dr_diags_free(w->d);
	dr_arena_free(w->a);
	free(w->text);
}

static void job_opts(world *w, dr_job_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->store = w->s;
	o->provider = w->prov;
	o->loop = w->l;
	o->on_event = on_event;
	o->ctx = w;
	o->concurrency = 50;
	o->detach_when_waiting = true;
	o->control_poll_ms = 20;
	o->tick_ms = 20;
	o->max_poll_ms = 150;
	o->by = "test@faults";
}

/* Run j to its end, approving the commit gate when it waits there. */
static int run_approved(world *w, dr_job *j, dr_job_status_code *status)
{
	int rc = dr_job_run(j);

	if (rc == DR_EAGAIN) {
		json_t *req = json_pack("{s:s,s:s}", "action", "approve", "by", "test@faults");

		rc = dr_job_control(w->s, dr_job_id(j), req);
		json_decref(req);
		if (rc == 0)
			rc = dr_job_run(j);
	}
	*status = dr_job_status_now(j);
	return rc;
}

/* Machines whose failover or commit the emulator did not accept exactly once. */
static size_t not_once(const azemu *e, world *w, size_t n)
{
	json_t *st = azemu_stats(e, w->l);
	size_t bad = 0;
	char name[32];

	for (size_t i = 0; i < n; i++) {
		long f, c;

		machine_name(name, sizeof(name), n, i);
		f = azemu_accepted(st, name, "unplanned-failover");
		c = azemu_accepted(st, name, "commit");
		if (f != 1 || c != 1) {
			if (!bad)
				fprintf(stderr, "  %s: unplanned-failover %ld, commit %ld\n", name,
					f, c);
			bad++;
		}
	}
	json_decref(st);
	return bad;
}

/* Log lines whose "fault" is set (the emulator decided to misbehave). */
static long log_faults(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	long n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strstr(line, "\"fault\":null"))
			n++;
	fclose(f);
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run_case(const fcase *fc)
{
	char dir[1200], logf[1300];
	const char *argv[16];
	char items[16];
	azemu e;
	world w;
	dr_compile_opts co = DR_COMPILE_OPTS_INIT;
	dr_graph *g = NULL;
	dr_job_opts o;
	dr_job *j = NULL;
	dr_job_status_code st = DR_JOB_RUNNING;
	dr_azure_stats as;
	double t0 = now_s();
	size_t k = 0;
	long nf;
	int rc;

	snprintf(dir, sizeof(dir), "%s/%s", g_dir, fc->name);
	mkdir(dir, 0700);
	snprintf(logf, sizeof(logf), "%s/armemu.jsonl", dir);
	snprintf(items, sizeof(items), "%zu", fc->machines);
	argv[k++] = "--items";
	argv[k++] = items;
	argv[k++] = "--scale";
	argv[k++] = "0.001";
	argv[k++] = "--log";
	argv[k++] = logf;
	if (fc->faults) {
		argv[k++] = "--faults";
		argv[k++] = fc->faults;
	}
	argv[k] = NULL;
	if (azemu_start(&e, g_emu, dir, argv) < 0) {
		fprintf(stderr, "%s: emulator did not start\n", fc->name);
		CHECK(0);
		return;
	}
	if (world_open(&w, &e, fc->machines, dir, fc->timeout_ms, fc->pace_step_ms) < 0) {
		fprintf(stderr, "%s: setup: %s\n", fc->name, dr_error_msg());
		CHECK(0);
		azemu_stop(&e);
		return;
	}
	rc = dr_graph_compile(w.a, w.p, DR_OP_FAILOVER, &co, &g);
	CHECK_INT(rc, 0);
	job_opts(&w, &o);
	if (rc == 0 && (rc = dr_job_start(w.p, g, &o, NULL, &j)) == 0)
		rc = run_approved(&w, j, &st);
	if (rc < 0)
		fprintf(stderr, "%s: job: %s\n", fc->name, dr_error_msg());
	CHECK_INT(rc, 0);
	CHECK_STR(dr_job_status_name(st), "succeeded");
	if (w.failed_steps)
		fprintf(stderr, "%s: %u failed steps; first %s\n", fc->name, w.failed_steps,
			w.first_failure);
	CHECK_INT(w.failed_steps, 0);
	CHECK_INT(not_once(&e, &w, fc->machines), 0);
	dr_azure_get_stats(dr_provider_azure(w.prov), &as);
	nf = log_faults(logf);
	printf("  %-12s %4zu machines %6.1f s: %u requests, %u retries, %u throttled, "
	       "%u paced, %u auth retries, %u reconciled (%u adopted), %u token fetches, "
	       "%ld faults in the log\n",
	       fc->name, fc->machines, now_s() - t0, as.requests, as.retries, as.throttled,
	       as.paced, as.auth_retries, as.reconciled, as.adopted,
	       dr_azure_token_fetches(dr_provider_azure(w.prov)), nf);
	switch (fc->ev) {
	case EV_LOG_FAULT:
		CHECK(nf > 0);
		break;
	case EV_TOKENS:
		CHECK(dr_azure_token_fetches(dr_provider_azure(w.prov)) > 3);
		break;
	case EV_THROTTLE:
		CHECK(as.paced + as.throttled > 0);
		break;
	case EV_RECONCILED:
		CHECK(as.reconciled > 0);
		break;
	}
	dr_provider_free(w.prov);
	w.prov = NULL;
	dr_job_free(j);
	world_close(&w);
	CHECK_INT(azemu_stop(&e), 0);
}

/*
 * Time runs 1000x faster in the emulator (--scale 0.001), but its read
 * bucket (250, 25/s) does not: polls come 1000x as often as ASR's 30 s
 * Retry-After would allow, so reads are unlimited except in "all" (a
 * read bucket 10x larger). The write bucket (200, 10/s) is off where it
 * is not the fault under test: it paces this job to ~20 s.
 */
#define NOBUCKETS "read-limit:0:0;write-limit:0:0;"

static const fcase cases[] = {
	{ "500", 200, NOBUCKETS "random:500:0.05:7", 0, 0, EV_LOG_FAULT },
	{ "503", 200, NOBUCKETS "random:503:0.02:11;retry-after:1", 0, 0, EV_LOG_FAULT },
	/* Each 429 holds every request back for its Retry-After (1 s). */
	{ "429", 200, NOBUCKETS "random:429:0.002:5;retry-after:1", 0, 0, EV_LOG_FAULT },
	/* ARM's bucket refill (10/s, unscaled) with half its burst (100):
	 * the 400 writes of this job come faster than that, so the provider
	 * must pace them (or wait out 429s). With the full burst of 200 the
	 * job had to finish in about 20 s to dip below the pacing mark, which
	 * a loaded test machine (or the target-settings step before each
	 * failover) does not guarantee. */
	{ "write-limit", 200, "read-limit:0:0;write-limit:100:10", 0, 0, EV_THROTTLE },
	{ "drop", 200,
	  NOBUCKETS "drop:10:GET;drop:10:unplanned-failover;drop:10:commit;drop:5:poll;"
	  "drop:2:token",
	  0, 0, EV_LOG_FAULT },
	/* Every answer 20 ms late; 10 failovers and 10 commits answered after
	 * the provider's 1 s timeout (done by ASR all the same). */
	{ "slow", 200,
	  NOBUCKETS "slow:20:0;slow:1500:10:unplanned-failover;slow:1500:10:commit", 1000, 0,
	  EV_RECONCILED },
	{ "token-expiry", 200, NOBUCKETS "token-ttl:1", 0, 0, EV_TOKENS },
	{ "lose-accept", 200,
	  NOBUCKETS "lose-accept:15:unplanned-failover;lose-accept:15:commit", 0, 0,
	  EV_LOG_FAULT },
	{ "all", 200,
	  "random:500:0.03:7;random:503:0.03:11:GET;random:429:0.002:5:POST;retry-after:1;"
	  "write-limit:200:10;read-limit:2500:250;drop:5:GET;drop:5:unplanned-failover;"
	  "drop:5:commit;slow:10:0;slow:1500:5:commit;token-ttl:1;"
	  "lose-accept:5:unplanned-failover;lose-accept:5:commit",
	  1000, 0, EV_LOG_FAULT },
};

TEST(faults_during_a_failover)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *only = getenv("DRPLAN_FAULT_CASE");

		if (only && strcmp(only, cases[i].name))
			continue;
		run_case(&cases[i]);
	}
}

/* Lines of job id's journal that contain what (through the store). */
static long journal_count(dr_store *st, const char *id, const char *what)
{
	dr_strbuf key = DR_STRBUF_INIT, buf = DR_STRBUF_INIT;
	long n = -1;

	dr_journal_key(id, &key);
	if (dr_store_read(st, key.buf, &buf) == 0) {
		n = 0;
		for (char *line = buf.buf, *nl; *line; line = nl + 1) {
			nl = strchr(line, '\n');
			if (!nl)
				nl = line + strlen(line) - 1;
			if (memmem(line, (size_t)(nl - line + 1), what, strlen(what)))
				n++;
		}
	}
	dr_strbuf_release(&key);
	dr_strbuf_release(&buf);
	return n;
}

struct crash {
	int left; /* "after-start-accepted" hits before the crash */
};

static int crash_at(void *ctx, const char *where, const char *step)
{
	struct crash *c = ctx;

	(void)step;
	return !strcmp(where, "after-start-accepted") && --c->left == 0;
}

/*
 * A 50-machine failover stops dead at the 30th accepted start (other
 * starts in flight: accepted by ASR, never journaled), and a fresh job,
 * loop and provider resume it to the end.
 */
TEST(crash_and_resume)
{
	char dir[1200], id[256];
	const char *argv[] = { "--items", "50", "--scale", "0.001", "--faults", "read-limit:0:0", NULL };
	struct crash c = { 30 };
	azemu e;
	world w;
	dr_compile_opts co = DR_COMPILE_OPTS_INIT;
	dr_graph *g = NULL;
	dr_job_opts o;
	dr_job *j = NULL;
	dr_job_status_code st = DR_JOB_RUNNING;
	json_t *stats;
	long started = 0, journaled;
	int rc;

	snprintf(dir, sizeof(dir), "%s/crash", g_dir);
	mkdir(dir, 0700);
	if (azemu_start(&e, g_emu, dir, argv) < 0) {
		CHECK(0);
		return;
	}
	if (world_open(&w, &e, 50, dir, 0, 0) < 0) {
		fprintf(stderr, "crash: setup: %s\n", dr_error_msg());
		CHECK(0);
		azemu_stop(&e);
		return;
	}
	CHECK_INT(dr_graph_compile(w.a, w.p, DR_OP_FAILOVER, &co, &g), 0);
	job_opts(&w, &o);
	o.crash_point = crash_at;
	o.crash_ctx = &c;
	CHECK_INT(dr_job_start(w.p, g, &o, NULL, &j), 0);
	CHECK_INT(dr_job_run(j), DR_ECANCELLED);
	CHECK_INT(c.left, 0);
	snprintf(id, sizeof(id), "%s", dr_job_id(j));
	/* As a killed process would: nothing more happens. */
	dr_provider_free(w.prov);
	w.prov = NULL;
	dr_job_free(j);
	stats = azemu_stats(&e, w.l);
	for (size_t i = 0; i < 50; i++) {
		char name[32];

		machine_name(name, sizeof(name), 50, i);
		started += azemu_accepted(stats, name, "unplanned-failover");
	}
	json_decref(stats);
	/* All 50 were sent at once. Accepted records are group-committed
	 * once per loop turn (docs/execution.md), so those of the turn the
	 * crash hit are lost with the process: at most 29 are in the journal,
	 * the other failovers only as intents, and resume has to find them at
	 * ASR. */
	journaled = journal_count(w.s, id, "\"type\":\"accepted\"");
	printf("  crash: %ld of 50 failovers accepted when the runner stopped, %ld journaled\n",
	       started, journaled);
	CHECK(started >= 30 && started <= 50);
	CHECK(journaled >= 0 && journaled <= 29);
	world_close(&w);

	if (world_open(&w, &e, 50, dir, 0, 0) < 0) {
		CHECK(0);
		azemu_stop(&e);
		return;
	}
	g = NULL;
	CHECK_INT(dr_graph_compile(w.a, w.p, DR_OP_FAILOVER, &co, &g), 0);
	job_opts(&w, &o);
	j = NULL;
	rc = dr_job_resume(id, w.p, g, &o, &j);
	CHECK_INT(rc, 0);
	if (rc == 0)
		rc = run_approved(&w, j, &st);
	if (rc < 0)
		fprintf(stderr, "crash: resume: %s\n", dr_error_msg());
	CHECK_INT(rc, 0);
	CHECK_STR(dr_job_status_name(st), "succeeded");
	CHECK_INT(w.failed_steps, 0);
	CHECK_INT(not_once(&e, &w, 50), 0);
	/* Every failover ASR accepted without an accepted record in the
	 * journal was adopted, no more, no fewer. */
	CHECK_INT(journal_count(w.s, id, "\"type\":\"adopted\""), started - journaled);
	dr_provider_free(w.prov);
	w.prov = NULL;
	dr_job_free(j);
	world_close(&w);
	CHECK_INT(azemu_stop(&e), 0);
}

int main(int argc, char **argv)
{
	char cmd[1200];

	if (argc < 3)
		return 2;
	g_emu = argv[1];
	if (access(g_emu, X_OK)) {
		printf("SKIP: ARM emulator '%s' is not built\n", g_emu);
		return 0;
	}
	mkdir(argv[2], 0755);
	snprintf(g_dir, sizeof(g_dir), "%s/faults.%ld", argv[2], (long)getpid());
	mkdir(g_dir, 0700);
	signal(SIGPIPE, SIG_IGN);
	setenv("AZURE_TENANT_ID", "11111111-1111-1111-1111-111111111111", 1);
	setenv("AZURE_CLIENT_ID", "22222222-2222-2222-2222-222222222222", 1);
	setenv("AZURE_CLIENT_SECRET", "emulator-secret", 1);
	RUN(faults_during_a_failover);
	/* DRPLAN_FAULT_CASE=NAME runs one case ("crash": crash_and_resume). */
	if (!getenv("DRPLAN_FAULT_CASE") || !strcmp(getenv("DRPLAN_FAULT_CASE"), "crash"))
		RUN(crash_and_resume);
	if (test_failed == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", g_dir);
	}
	return test_summary();
}
