/*
 * test-azure-job.c - end to end: the executor (exec/job.h) runs jobs with
 * the azure provider against the ARM emulator: a drill, then a failover
 * that waits at the commit gate, is approved and commits, then reprotect.
 *
 * usage: test-azure-job ARMEMU WORKDIR
 */
#include "teststore.h"

#include "test.h"

#include "azemu.h"

#include "core/arena.h"
#include "core/diag.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "exec/http.h"
#include "exec/job.h"
#include "exec/loop.h"
#include "graph/graph.h"
#include "journal/journal.h"
#include "journal/store.h"
#include "plan/plan.h"
#include "provider/azure.h"
#include "provider/provider.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *g_emu;
static char g_dir[1024];
static azemu g_emu_proc;

static const char plan_text[] =
	"apiVersion: drplan/v1\n"
	"kind: RecoveryPlan\n"
	"metadata: { name: e2e }\n"
	"target:\n"
	"  provider: azure\n"
	"  subscription: 33333333-3333-3333-3333-333333333333\n"
	"  resourceGroup: rg-dr\n"
	"  vault: vault-dr\n"
	"  location: westeurope\n"
	"machines:\n"
	"  - name: vm01\n"
	"  - name: vm02\n"
	"groups:\n"
	"  - name: all\n"
	"    machines: [vm01, vm02]\n";

/* With target settings the emulator's items (made from --items) lack. */
static const char plan_targets[] =
	"apiVersion: drplan/v1\n"
	"kind: RecoveryPlan\n"
	"metadata: { name: e2e }\n"
	"target:\n"
	"  provider: azure\n"
	"  subscription: 33333333-3333-3333-3333-333333333333\n"
	"  resourceGroup: rg-dr\n"
	"  vault: vault-dr\n"
	"  location: westeurope\n"
	"defaults:\n"
	"  target: { resourceGroup: rg-app-dr, network: { vnet: vnet-dr, subnet: app } }\n"
	"machines:\n"
	"  - name: vm01\n"
	"    target: { name: vm01-dr, size: Standard_D4s_v4, ip: 10.20.1.11 }\n"
	"  - name: vm02\n"
	"    target: { name: vm02-dr, size: Standard_D4s_v4, ip: 10.20.1.12 }\n"
	"groups:\n"
	"  - name: all\n"
	"    machines: [vm01, vm02]\n";

static const char *g_plan = plan_text;
static dr_strbuf g_warnings = DR_STRBUF_INIT;

static void on_event(void *ctx, const json_t *ev)
{
	(void)ctx;
	if (!strcmp(json_string_value(json_object_get(ev, "event")), "warning"))
		dr_strbuf_addf(&g_warnings, "%s\n",
			       json_string_value(json_object_get(ev, "message")));
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

typedef struct world {
	dr_arena *a;
	dr_diags *d;
	dr_plan *p;
	dr_loop *l;
	dr_store *s;
	dr_provider *prov;
} world;

static int world_open(world *w)
{
	dr_plan_load_opts lo = { .no_inventory = true };
	json_t *o;
	char url[64], store[1100];
	int rc;

	memset(w, 0, sizeof(*w));
	w->a = dr_arena_new();
	w->d = dr_diags_new();
	if ((rc = dr_plan_load_text(w->a, "e2e.yaml", g_plan, strlen(g_plan), &lo,
				    w->d, &w->p)) < 0)
		return rc;
	dr_loop_new(NULL, &w->l);
	store_spec(g_dir, store, sizeof(store));
	if ((rc = dr_store_open(store, DR_STORE_CREATE, &w->s)) < 0)
		return rc;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", g_emu_proc.port);
	o = dr_azure_opts_json_from_plan(w->p);
	json_object_set_new(o, "armEndpoint", json_string(url));
	json_object_set_new(o, "authorityHost", json_string(url));
	json_object_set_new(o, "pollMs", json_integer(20));
	json_object_set_new(o, "datastoreName", json_string("datastore1"));
	json_object_set_new(o, "logStorageAccountId",
			    json_string("/subscriptions/33333333-3333-3333-3333-333333333333/"
					"resourceGroups/rg-dr/providers/Microsoft.Storage/"
					"storageAccounts/logsa"));
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
}

static int run_job(world *w, dr_operation op, dr_direction dir, bool approve,
		   dr_job_status_code *status)
{
	dr_compile_opts co = DR_COMPILE_OPTS_INIT;
	dr_graph *g = NULL;
	dr_job_opts o;
	dr_job *j = NULL;
	int rc;

	co.direction = dir;
	if ((rc = dr_graph_compile(w->a, w->p, op, &co, &g)) < 0)
		return rc;
	memset(&o, 0, sizeof(o));
	o.store = w->s;
	o.provider = w->prov;
	o.loop = w->l;
	o.on_event = on_event;
	o.detach_when_waiting = true;
	o.control_poll_ms = 20;
	o.tick_ms = 20;
	o.max_poll_ms = 50;
	o.by = "test@e2e";
	if ((rc = dr_job_start(w->p, g, &o, NULL, &j)) < 0)
		return rc;
	rc = dr_job_run(j);
	if (rc == DR_EAGAIN && approve) {
		json_t *req = json_pack("{s:s,s:s}", "action", "approve", "by", "test@e2e");

		rc = dr_job_control(w->s, dr_job_id(j), req);
		json_decref(req);
		if (rc == 0)
			rc = dr_job_run(j);
	}
	*status = dr_job_status_now(j);
	dr_job_free(j);
	return rc;
}

/* Operations the emulator accepted for item, by dr_preq_kind_name. */
static long accepted(dr_loop *l, const char *item, const char *op)
{
	json_t *st = azemu_stats(&g_emu_proc, l);
	long n = azemu_accepted(st, item, op);

	json_decref(st);
	return n;
}

TEST(jobs_with_the_azure_provider)
{
	world w;
	dr_job_status_code st = DR_JOB_RUNNING;

	setenv("AZURE_TENANT_ID", "11111111-1111-1111-1111-111111111111", 1);
	setenv("AZURE_CLIENT_ID", "22222222-2222-2222-2222-222222222222", 1);
	setenv("AZURE_CLIENT_SECRET", "emulator-secret", 1);
	if (world_open(&w) < 0) {
		fprintf(stderr, "setup: %s\n", dr_error_msg());
		CHECK(0);
		return;
	}
	CHECK_INT(run_job(&w, DR_OP_DRILL, DR_DIR_TO_AZURE, false, &st), 0);
	CHECK_STR(dr_job_status_name(st), "succeeded");
	CHECK_INT(run_job(&w, DR_OP_FAILOVER, DR_DIR_TO_AZURE, true, &st), 0);
	CHECK_STR(dr_job_status_name(st), "succeeded");
	CHECK_INT(run_job(&w, DR_OP_REPROTECT, DR_DIR_TO_ONPREM, false, &st), 0);
	CHECK_STR(dr_job_status_name(st), "succeeded");
	/* Each operation reached ASR exactly once per machine. */
	CHECK_INT(accepted(w.l, "vm01", "test-failover"), 1);
	CHECK_INT(accepted(w.l, "vm02", "test-failover-cleanup"), 1);
	CHECK_INT(accepted(w.l, "vm01", "unplanned-failover"), 1);
	CHECK_INT(accepted(w.l, "vm02", "commit"), 1);
	CHECK_INT(accepted(w.l, "vm01", "reprotect"), 1);
	CHECK_INT(accepted(w.l, "vm02", "reprotect"), 1);
	world_close(&w);
}

static int crash_at_target_result(void *ctx, const char *where, const char *step)
{
	int *fired = ctx;

	if (*fired || strcmp(where, "before-target-result") ||
	    strcmp(step, "all/vm01/test-failover"))
		return 0;
	*fired = 1;
	return 1;
}

/*
 * The target settings are PATCHed before the test failover; the runner dies
 * after the PATCH, before its result is journaled. The resumed job updates
 * them again, visibly (a warning), finds them in line and sends nothing.
 */
TEST(target_settings_crash_and_resume)
{
	world w;
	dr_compile_opts co = DR_COMPILE_OPTS_INIT;
	dr_graph *g = NULL;
	dr_job_opts o;
	dr_job *j = NULL;
	json_t *doc = NULL, *steps;
	char id[DR_JOB_ID_MAX + 1];
	int fired = 0;

	const char *args[] = { "--items", "2", "--scale", "0.0001", NULL };
	azemu shared = g_emu_proc;
	char dir[1100];

	setenv("AZURE_TENANT_ID", "11111111-1111-1111-1111-111111111111", 1);
	setenv("AZURE_CLIENT_ID", "22222222-2222-2222-2222-222222222222", 1);
	setenv("AZURE_CLIENT_SECRET", "emulator-secret", 1);
	/* An emulator of its own, so that the counts below are this test's. */
	snprintf(dir, sizeof(dir), "%s/targets", g_dir);
	mkdir(dir, 0700);
	if (azemu_start(&g_emu_proc, g_emu, dir, args) < 0) {
		CHECK(0);
		g_emu_proc = shared;
		return;
	}
	g_plan = plan_targets;
	if (world_open(&w) < 0 || dr_graph_compile(w.a, w.p, DR_OP_DRILL, &co, &g) < 0) {
		fprintf(stderr, "setup: %s\n", dr_error_msg());
		CHECK(0);
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.store = w.s;
	o.provider = w.prov;
	o.loop = w.l;
	o.on_event = on_event;
	o.control_poll_ms = 20;
	o.tick_ms = 20;
	o.max_poll_ms = 50;
	o.by = "test@e2e";
	o.concurrency = 1; /* vm02 has not started when vm01's runner dies */
	o.crash_point = crash_at_target_result;
	o.crash_ctx = &fired;
	CHECK_INT(dr_job_start(w.p, g, &o, NULL, &j), 0);
	CHECK_INT(dr_job_run(j), DR_ECANCELLED);
	CHECK_INT(fired, 1);
	snprintf(id, sizeof(id), "%s", dr_job_id(j));
	/* A dead runner: the provider (with requests in flight) goes first. */
	dr_provider_free(w.prov);
	w.prov = NULL;
	dr_job_free(j);
	CHECK_INT(accepted(w.l, "vm01", "update"), 1);
	CHECK_INT(accepted(w.l, "vm01", "test-failover"), 0);

	/* A new runner resumes it. */
	{
		json_t *po = dr_azure_opts_json_from_plan(w.p);
		char url[64];

		snprintf(url, sizeof(url), "http://127.0.0.1:%d", g_emu_proc.port);
		json_object_set_new(po, "armEndpoint", json_string(url));
		json_object_set_new(po, "authorityHost", json_string(url));
		json_object_set_new(po, "pollMs", json_integer(20));
		CHECK_INT(dr_provider_open("azure", po, w.l, &w.prov), 0);
		json_decref(po);
	}
	o.provider = w.prov;
	o.crash_point = NULL;
	dr_strbuf_reset(&g_warnings);
	CHECK_INT(dr_job_resume(id, w.p, g, &o, &j), 0);
	CHECK_INT(dr_job_run(j), 0);
	CHECK_STR(dr_job_status_name(dr_job_status_now(j)), "succeeded");
	dr_job_free(j);
	CHECK(strstr(g_warnings.buf, "all/vm01/test-failover: updating the target settings "
		     "of 'vm01' again: the last runner stopped after the step started, "
		     "before their result was journaled (the update is idempotent)") != NULL);
	CHECK(strstr(g_warnings.buf, "vm02") == NULL);
	/* The repeat found the settings in line: still one PATCH, one test failover. */
	CHECK_INT(accepted(w.l, "vm01", "update"), 1);
	CHECK_INT(accepted(w.l, "vm02", "update"), 1);
	CHECK_INT(accepted(w.l, "vm01", "test-failover"), 1);
	CHECK_INT(accepted(w.l, "vm01", "test-failover-cleanup"), 1);
	CHECK_INT(dr_job_status(w.s, id, &doc), 0);
	steps = json_object_get(doc, "steps");
	CHECK_STR(json_string_value(json_object_get(json_object_get(json_object_get(
		steps, "all/vm01/test-failover"), "target"), "state")), "unchanged");
	CHECK_STR(json_string_value(json_object_get(json_object_get(json_object_get(
		steps, "all/vm02/test-failover"), "target"), "state")), "updated");
	json_decref(doc);
out:
	world_close(&w);
	azemu_stop(&g_emu_proc);
	g_emu_proc = shared;
	g_plan = plan_text;
}

int main(int argc, char **argv)
{
	char cmd[1200];
	const char *args[] = { "--items", "2", "--scale", "0.0001", NULL };

	if (argc < 3)
		return 2;
	g_emu = argv[1];
	if (access(g_emu, X_OK)) {
		printf("SKIP: ARM emulator '%s' is not built\n", g_emu);
		return 0;
	}
	mkdir(argv[2], 0755);
	snprintf(g_dir, sizeof(g_dir), "%s/job.%ld", argv[2], (long)getpid());
	mkdir(g_dir, 0700);
	signal(SIGPIPE, SIG_IGN);
	if (azemu_start(&g_emu_proc, g_emu, g_dir, args) < 0) {
		fprintf(stderr, "emulator did not start\n");
		return 1;
	}
	RUN(target_settings_crash_and_resume);
	RUN(jobs_with_the_azure_provider);
	dr_strbuf_release(&g_warnings);
	azemu_stop(&g_emu_proc);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", g_dir);
	return test_summary();
}
