/*
 * test-azure.c - the azure provider against the ARM emulator (tests/armemu).
 *
 * Every test starts its own emulator on 127.0.0.1 with an ephemeral port
 * (--port-file), points the provider at it with the endpoint overrides and
 * stops it by pid at the end. The test never reaches 169.254.169.254: IMDS
 * is DRPLAN_IMDS_ENDPOINT on the emulator.
 *
 * usage: test-azure ARMEMU_BINARY WORKDIR
 */
#include "test.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "exec/http.h"
#include "exec/loop.h"
#include "provider/azauth.h"
#include "provider/azure.h"
#include "provider/provider.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SUB "33333333-3333-3333-3333-333333333333"
#define TENANT "11111111-1111-1111-1111-111111111111"
#define CLIENT "22222222-2222-2222-2222-222222222222"
#define SECRET "s3cr3t-DRPLAN-never-logged"

static const char *g_emu_bin;
static char g_dir[1024];
static dr_strbuf g_all_output = DR_STRBUF_INIT; /* every message seen */

typedef struct emu_proc {
	pid_t pid;
	int port;
	char base[64];
	char log[1100];
} emu_proc;

static void clear_env(void)
{
	unsetenv("AZURE_TENANT_ID");
	unsetenv("AZURE_CLIENT_ID");
	unsetenv("AZURE_CLIENT_SECRET");
	unsetenv("AZURE_CLIENT_CERTIFICATE_PATH");
	unsetenv("AZURE_FEDERATED_TOKEN_FILE");
	unsetenv("AZURE_AUTHORITY_HOST");
	unsetenv("DRPLAN_IMDS_ENDPOINT");
	unsetenv("DRPLAN_ARM_ENDPOINT");
	unsetenv("AZURE_POD_IDENTITY_AUTHORITY_HOST");
}

/* Start the emulator with extra arguments (NULL-terminated). */
static int emu_start(emu_proc *e, const char *const *extra)
{
	char portfile[1100];
	const char *argv[64];
	int n = 0, i;
	static int seq;

	memset(e, 0, sizeof(*e));
	snprintf(portfile, sizeof(portfile), "%s/port.%d", g_dir, ++seq);
	snprintf(e->log, sizeof(e->log), "%s/emu.%d.log", g_dir, seq);
	unlink(portfile);
	argv[n++] = g_emu_bin;
	argv[n++] = "--port-file";
	argv[n++] = portfile;
	argv[n++] = "--log";
	argv[n++] = e->log;
	argv[n++] = "--client-secret";
	argv[n++] = SECRET;
	for (i = 0; extra && extra[i] && n < 60; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	e->pid = fork();
	if (e->pid == 0) {
		freopen("/dev/null", "w", stderr);
		execv(g_emu_bin, (char *const *)argv);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		FILE *f = fopen(portfile, "r");

		if (f) {
			if (fscanf(f, "%d", &e->port) == 1) {
				fclose(f);
				snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%d", e->port);
				return 0;
			}
			fclose(f);
		}
		usleep(10000);
	}
	fprintf(stderr, "emulator did not start\n");
	return -1;
}

static void emu_stop(emu_proc *e)
{
	int st;

	if (e->pid > 0) {
		kill(e->pid, SIGTERM);
		waitpid(e->pid, &st, 0);
		e->pid = 0;
	}
}

/* ---- synchronous helpers over the loop ---- */

typedef struct res {
	bool done;
	int rc;
	char *job;
	char *err_code, *err_msg;
	json_t *j;      /* item / job / jobs / points / items as JSON */
	size_t n;
} res;

static void res_release(res *r)
{
	free(r->job);
	free(r->err_code);
	free(r->err_msg);
	json_decref(r->j);
	memset(r, 0, sizeof(*r));
}

static void note_err(res *r, int rc, const dr_prov_error *e)
{
	r->done = true;
	r->rc = rc;
	if (e) {
		r->err_code = e->code ? dr_xstrdup(e->code) : NULL;
		r->err_msg = e->message ? dr_xstrdup(e->message) : NULL;
		dr_strbuf_addf(&g_all_output, "%s %s %s %s\n", e->code ? e->code : "",
			       e->message ? e->message : "",
			       e->possible_causes ? e->possible_causes : "",
			       e->recommended_action ? e->recommended_action : "");
	}
}

static void on_item(void *ud, int rc, const dr_prov_item *it, const dr_prov_error *e)
{
	res *r = ud;

	note_err(r, rc, e);
	if (it)
		r->j = dr_prov_item_to_json(it);
}

static void on_start(void *ud, int rc, const char *job, const dr_prov_error *e)
{
	res *r = ud;

	note_err(r, rc, e);
	if (job)
		r->job = dr_xstrdup(job);
}

static void on_job(void *ud, int rc, const dr_prov_job *j, const dr_prov_error *e)
{
	res *r = ud;

	note_err(r, rc, e);
	if (j)
		r->j = dr_prov_job_to_json(j);
}

static void on_jobs(void *ud, int rc, const dr_prov_job *j, size_t n,
		    const dr_prov_error *e)
{
	res *r = ud;
	size_t i;

	note_err(r, rc, e);
	r->j = json_array();
	r->n = n;
	for (i = 0; i < n; i++)
		json_array_append_new(r->j, dr_prov_job_to_json(&j[i]));
}

static void on_points(void *ud, int rc, const dr_prov_point *p, size_t n,
		      const dr_prov_error *e)
{
	res *r = ud;
	size_t i;

	note_err(r, rc, e);
	r->j = json_array();
	r->n = n;
	for (i = 0; i < n; i++)
		json_array_append_new(r->j, json_pack("{s:s,s:I,s:s}", "id", p[i].id,
						      "time", (json_int_t)p[i].time_ms,
						      "type", dr_point_type_name(p[i].type)));
}

static void on_items(void *ud, int rc, const json_t *items, const dr_prov_error *e)
{
	res *r = ud;

	note_err(r, rc, e);
	if (items) {
		r->j = json_deep_copy(items);
		r->n = json_array_size(items);
	}
}

static void wait_res(dr_loop *l, res *r)
{
	int i;

	for (i = 0; !r->done && i < 200000; i++)
		if (dr_loop_run_once(l, true) < 0)
			break;
}

static void on_sleep(dr_loop *l, void *ud)
{
	(void)l;
	*(bool *)ud = true;
}

static void sleep_loop(dr_loop *l, uint64_t ms)
{
	bool done = false;

	dr_loop_timer(l, ms, on_sleep, &done);
	while (!done)
		dr_loop_run_once(l, true);
}

/* ---- emulator control (no auth) ---- */

static void on_ctl(dr_http_xfer *x, const dr_http_resp *r, void *ud)
{
	res *o = ud;

	(void)x;
	o->done = true;
	o->rc = (int)r->status;
	o->j = json_loadb(r->body, r->body_len, 0, NULL);
}

static json_t *emu_ctl(dr_loop *l, emu_proc *e, const char *method, const char *path,
		       const char *body)
{
	dr_http *h;
	dr_http_req q;
	res o;
	char url[256];

	memset(&o, 0, sizeof(o));
	memset(&q, 0, sizeof(q));
	snprintf(url, sizeof(url), "%s%s", e->base, path);
	q.method = method;
	q.url = url;
	q.body = body;
	q.body_len = body ? strlen(body) : 0;
	dr_http_new(l, &h);
	dr_http_start(h, &q, on_ctl, &o, NULL);
	wait_res(l, &o);
	dr_http_free(h);
	return o.j;
}

static long emu_op_count(dr_loop *l, emu_proc *e, const char *item, const char *op)
{
	json_t *j = emu_ctl(l, e, "GET", "/_emulator/stats", NULL);
	long n = (long)json_integer_value(
		json_object_get(json_object_get(json_object_get(j, "items"), item), op));

	json_decref(j);
	return n;
}

/* Lines of the emulator's log with "accepted":true for op. */
static int log_accepted(emu_proc *e, const char *op)
{
	FILE *f = fopen(e->log, "r");
	char line[8192], pat[64];
	int n = 0;

	if (!f)
		return -1;
	snprintf(pat, sizeof(pat), "\"op\":\"%s\"", op);
	while (fgets(line, sizeof(line), f)) {
		dr_strbuf_addstr(&g_all_output, line);
		if (strstr(line, pat) && strstr(line, "\"accepted\":true"))
			n++;
	}
	fclose(f);
	return n;
}

static json_t *base_opts(emu_proc *e)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:i}",
			      "subscription", SUB, "resourceGroup", "rg-dr", "vault",
			      "vault-dr", "location", "westeurope", "armEndpoint", e->base,
			      "authorityHost", e->base, "pollMs", 20, "retryBaseMs", 20,
			      "retryMaxMs", 200, "imdsRetryMs", 20, "timeoutMs", 5000);
	char imds[128];

	/* Always the emulator's IMDS: no test can reach 169.254.169.254. */
	snprintf(imds, sizeof(imds), "%s/metadata/identity/oauth2/token", e->base);
	json_object_set_new(o, "imdsEndpoint", json_string(imds));
	return o;
}

static void secret_env(void)
{
	clear_env();
	setenv("AZURE_TENANT_ID", TENANT, 1);
	setenv("AZURE_CLIENT_ID", CLIENT, 1);
	setenv("AZURE_CLIENT_SECRET", SECRET, 1);
}

typedef struct ctx {
	dr_loop *l;
	emu_proc e;
	dr_provider *p;
	dr_azure *az;
} ctx;

static int ctx_open(ctx *c, const char *const *emu_args, json_t *extra_opts)
{
	json_t *o;
	int rc;

	memset(c, 0, sizeof(*c));
	dr_loop_new(NULL, &c->l);
	if (emu_start(&c->e, emu_args) < 0)
		return -1;
	o = base_opts(&c->e);
	if (extra_opts) {
		json_object_update(o, extra_opts);
		json_decref(extra_opts);
	}
	rc = dr_provider_open("azure", o, c->l, &c->p);
	json_decref(o);
	if (rc < 0) {
		fprintf(stderr, "open: %s\n", dr_error_msg());
		return rc;
	}
	c->az = dr_provider_azure(c->p);
	return 0;
}

static void ctx_close(ctx *c)
{
	dr_provider_free(c->p);
	emu_stop(&c->e);
	dr_loop_free(c->l);
}

static void get_item(ctx *c, const char *name, res *r)
{
	memset(r, 0, sizeof(*r));
	CHECK_INT(dr_provider_get_item(c->p, name, on_item, r), 0);
	wait_res(c->l, r);
}

static const char *item_s(const res *r, const char *k)
{
	return json_string_value(json_object_get(r->j, k));
}

/* ---- credentials ---- */

TEST(secret_flow_and_item_view)
{
	ctx c;
	res r;
	dr_azure_stats st;

	secret_env();
	if (ctx_open(&c, NULL, NULL) < 0) {
		CHECK(0);
		return;
	}
	CHECK_STR(dr_azure_credential_kind(c.az), "client-secret");
	get_item(&c, "vm01", &r);
	CHECK_INT(r.rc, 0);
	CHECK_STR(item_s(&r, "friendlyName"), "vm01");
	CHECK_STR(item_s(&r, "instanceType"), "InMageRcm");
	CHECK_STR(item_s(&r, "direction"), "to-azure");
	CHECK_STR(item_s(&r, "protectionState"), "Protected");
	CHECK_STR(item_s(&r, "activeLocation"), "Primary");
	CHECK_STR(item_s(&r, "replicationHealth"), "Normal");
	CHECK_STR(item_s(&r, "currentScenario"), "None");
	CHECK(json_array_size(json_object_get(r.j, "allowedOperations")) > 0);
	CHECK(json_object_get(json_object_get(r.j, "lastRecoveryPoint"), "id") != NULL);
	res_release(&r);
	/* The token is cached: a second read fetches none. */
	get_item(&c, "vm02", &r);
	CHECK_INT(r.rc, 0);
	CHECK_INT(dr_azure_token_fetches(c.az), 1);
	dr_azure_get_stats(c.az, &st);
	CHECK_INT(st.listings, 1);
	res_release(&r);
	/* get_state: one GET of the item, no recovery points. */
	{
		unsigned before = st.requests;

		memset(&r, 0, sizeof(r));
		CHECK_INT(dr_provider_get_state(c.p, "vm02", on_item, &r), 0);
		wait_res(c.l, &r);
		CHECK_INT(r.rc, 0);
		CHECK_STR(item_s(&r, "protectionState"), "Protected");
		CHECK(json_array_size(json_object_get(r.j, "allowedOperations")) > 0);
		CHECK(json_object_get(json_object_get(r.j, "lastRecoveryPoint"), "id") == NULL);
		dr_azure_get_stats(c.az, &st);
		CHECK_INT(st.requests - before, 1);
		res_release(&r);
	}
	get_item(&c, "nosuch", &r);
	CHECK_INT(r.rc, DR_ENOTFOUND);
	CHECK_STR(r.err_code, "NotFound");
	CHECK_STR(r.err_msg, "The replicated item 'nosuch' was not found in vault "
			     "'vault-dr' (3 items).");
	res_release(&r);
	ctx_close(&c);
}

TEST(wrong_secret_refused_without_leaking)
{
	ctx c;
	res r;

	secret_env();
	setenv("AZURE_CLIENT_SECRET", "wrong-" SECRET, 1);
	if (ctx_open(&c, NULL, NULL) < 0) {
		CHECK(0);
		return;
	}
	get_item(&c, "vm01", &r);
	CHECK_INT(r.rc, DR_EINVAL);
	CHECK_STR(r.err_code, "CredentialUnavailable");
	CHECK(r.err_msg && strstr(r.err_msg, "client-secret token request to"));
	CHECK(r.err_msg && strstr(r.err_msg, "HTTP 401") ? 1 : r.err_msg && strstr(r.err_msg, "HTTP 400") != NULL);
	CHECK(r.err_msg && !strstr(r.err_msg, SECRET));
	res_release(&r);
	ctx_close(&c);
}

static int make_cert(char *pem, size_t n, char *pub, size_t m)
{
	char cmd[8192];

	snprintf(pem, n, "%s/client.pem", g_dir);
	snprintf(pub, m, "%s/client-cert.pem", g_dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/client-key.pem "
		 "-out %s -days 1 -subj /CN=drplan-test >/dev/null 2>&1 && "
		 "cat %s/client-key.pem %s > %s",
		 g_dir, pub, g_dir, pub, pem);
	return system(cmd);
}

TEST(certificate_flow)
{
	ctx c;
	res r;
	char pem[1100], pub[1100];
	const char *args[] = { "--cert-pub", pub, NULL };

	if (make_cert(pem, sizeof(pem), pub, sizeof(pub)) != 0) {
		printf("SKIP certificate_flow: openssl could not make a key pair\n");
		return;
	}
	clear_env();
	setenv("AZURE_TENANT_ID", TENANT, 1);
	setenv("AZURE_CLIENT_ID", CLIENT, 1);
	setenv("AZURE_CLIENT_CERTIFICATE_PATH", pem, 1);
	if (ctx_open(&c, args, NULL) < 0) {
		CHECK(0);
		return;
	}
	CHECK_STR(dr_azure_credential_kind(c.az), "client-certificate");
	get_item(&c, "vm03", &r);
	CHECK_INT(r.rc, 0);
	CHECK_STR(item_s(&r, "friendlyName"), "vm03");
	res_release(&r);
	ctx_close(&c);

	/* The assertion's header and claims. */
	{
		char *jwt = NULL, *dot, *hdr;
		size_t i;

		CHECK_INT(dr_azauth_cert_assertion(pem, CLIENT, "https://x/t/oauth2/v2.0/token",
						   1700000000, &jwt), 0);
		CHECK(jwt && strchr(jwt, '.'));
		dot = jwt ? strchr(jwt, '.') : NULL;
		if (dot) {
			/* base64url -> JSON (add padding for EVP_DecodeBlock-free check) */
			hdr = dr_xstrndup(jwt, (size_t)(dot - jwt));
			for (i = 0; hdr[i]; i++)
				CHECK(hdr[i] != '+' && hdr[i] != '/' && hdr[i] != '=');
			free(hdr);
		}
		free(jwt);
	}
	/* A broken file is refused up front, naming the file. */
	setenv("AZURE_CLIENT_CERTIFICATE_PATH", pub, 1);
	{
		dr_loop *l;
		dr_provider *p = NULL;
		json_t *o = json_pack("{s:s,s:s,s:s}", "subscription", SUB, "resourceGroup",
				      "rg", "vault", "v");

		dr_loop_new(NULL, &l);
		CHECK_INT(dr_provider_open("azure", o, l, &p), DR_EINVAL);
		CHECK(strstr(dr_error_msg(), "must be a PEM file with an unencrypted "
					     "private key and its certificate") != NULL);
		json_decref(o);
		dr_loop_free(l);
	}
}

TEST(federated_token_flow)
{
	ctx c;
	res r;
	char tok[1100];
	const char *args[] = { "--federated-token-file", tok, NULL };
	FILE *f;

	snprintf(tok, sizeof(tok), "%s/federated.jwt", g_dir);
	f = fopen(tok, "w");
	fputs("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2ln\n", f);
	fclose(f);
	clear_env();
	setenv("AZURE_TENANT_ID", TENANT, 1);
	setenv("AZURE_CLIENT_ID", CLIENT, 1);
	setenv("AZURE_FEDERATED_TOKEN_FILE", tok, 1);
	if (ctx_open(&c, args, NULL) < 0) {
		CHECK(0);
		return;
	}
	CHECK_STR(dr_azure_credential_kind(c.az), "workload-identity");
	get_item(&c, "vm01", &r);
	CHECK_INT(r.rc, 0);
	res_release(&r);
	ctx_close(&c);
}

TEST(managed_identity_flow)
{
	ctx c;
	res r;

	clear_env();
	if (ctx_open(&c, NULL, NULL) < 0) {
		CHECK(0);
		return;
	}
	CHECK_STR(dr_azure_credential_kind(c.az), "managed-identity");
	/* IMDS answers 503 twice: retried with backoff, as its doc says. */
	json_decref(emu_ctl(c.l, &c.e, "POST", "/_emulator/faults", "error:503:2:token"));
	get_item(&c, "vm02", &r);
	CHECK_INT(r.rc, 0);
	CHECK_STR(item_s(&r, "friendlyName"), "vm02");
	res_release(&r);
	CHECK_INT(dr_azure_token_fetches(c.az), 3);
	ctx_close(&c);
}

TEST(token_refresh_and_401)
{
	const char *args[] = { "--faults", "token-ttl:4", NULL };
	ctx c;
	res r;
	dr_azure_stats st;
	json_t *j;

	secret_env();
	if (ctx_open(&c, args, NULL) < 0) {
		CHECK(0);
		return;
	}
	get_item(&c, "vm01", &r);
	CHECK_INT(r.rc, 0);
	res_release(&r);
	CHECK_INT(dr_azure_token_fetches(c.az), 1);
	/* 4 s tokens are refreshed a tenth early. The first early fetch fails
	 * (503): the current token, still valid, carries the request. */
	json_decref(emu_ctl(c.l, &c.e, "POST", "/_emulator/faults", "error:503:1:token"));
	sleep_loop(c.l, 3700);
	get_item(&c, "vm01", &r);
	CHECK_INT(r.rc, 0);
	res_release(&r);
	/* get_item makes two reads: the second tried again and got a new
	 * token (3 fetches), which the next reads use. */
	CHECK_INT(dr_azure_token_fetches(c.az), 3);
	get_item(&c, "vm01", &r);
	CHECK_INT(r.rc, 0);
	res_release(&r);
	CHECK_INT(dr_azure_token_fetches(c.az), 3);
	/* Every token dies at once (ARM says 401): one refresh, one resend. */
	j = emu_ctl(c.l, &c.e, "POST", "/_emulator/faults", "token-ttl:3599;expire-tokens");
	json_decref(j);
	get_item(&c, "vm02", &r);
	CHECK_INT(r.rc, 0);
	res_release(&r);
	dr_azure_get_stats(c.az, &st);
	CHECK_INT(st.auth_retries, 1);
	CHECK_INT(dr_azure_token_fetches(c.az), 4);
	ctx_close(&c);
}

TEST(paging)
{
	const char *args[] = { "--items", "7", "--page-size", "2", NULL };
	ctx c;
	res r;
	dr_azure_stats st;

	secret_env();
	if (ctx_open(&c, args, NULL) < 0) {
		CHECK(0);
		return;
	}
	get_item(&c, "vm07", &r);
	CHECK_INT(r.rc, 0);
	CHECK_STR(item_s(&r, "friendlyName"), "vm07");
	res_release(&r);
	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_azure_list_items(c.az, on_items, &r), 0);
	wait_res(c.l, &r);
	CHECK_INT(r.rc, 0);
	CHECK_INT(r.n, 7);
	CHECK_STR(json_string_value(json_object_get(
			  json_object_get(json_array_get(r.j, 6), "properties"), "friendlyName")),
		  "vm07");
	res_release(&r);
	dr_azure_get_stats(c.az, &st);
	CHECK_INT(st.listings, 2);
	ctx_close(&c);
}

/* ---- the life cycle ---- */

static int run_op(ctx *c, dr_op_request *q, char **job_out)
{
	res r;
	int rc, i;

	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_provider_start(c->p, q, on_start, &r), 0);
	wait_res(c->l, &r);
	rc = r.rc;
	if (rc < 0) {
		fprintf(stderr, "start %s on %s: %s %s\n", dr_preq_kind_name(q->kind),
			q->item, r.err_code ? r.err_code : "", r.err_msg ? r.err_msg : "");
		res_release(&r);
		return rc;
	}
	if (job_out)
		*job_out = dr_xstrdup(r.job);
	for (i = 0; i < 5000; i++) {
		res p;
		const char *st;

		memset(&p, 0, sizeof(p));
		CHECK_INT(dr_provider_poll(c->p, r.job, on_job, &p), 0);
		wait_res(c->l, &p);
		if (p.rc < 0) {
			rc = p.rc;
			res_release(&p);
			break;
		}
		st = json_string_value(json_object_get(p.j, "state"));
		if (st && (!strcmp(st, "Succeeded") || !strcmp(st, "Failed") ||
			   !strcmp(st, "Cancelled"))) {
			rc = strcmp(st, "Succeeded") ? DR_EIO : 0;
			if (rc)
				fprintf(stderr, "job %s: %s\n", r.job, st);
			CHECK(json_array_size(json_object_get(p.j, "tasks")) > 0);
			res_release(&p);
			break;
		}
		res_release(&p);
		sleep_loop(c->l, 20);
	}
	res_release(&r);
	return rc;
}

/* Wait until the item offers op (initial replication after reprotect). */
static void wait_allows(ctx *c, const char *item, const char *op)
{
	int i;

	for (i = 0; i < 1000; i++) {
		res r;
		const json_t *ops, *v;
		size_t k;
		bool ok = false;

		get_item(c, item, &r);
		ops = json_object_get(r.j, "allowedOperations");
		json_array_foreach(ops, k, v)
			if (!strcmp(json_string_value(v), op))
				ok = true;
		res_release(&r);
		if (ok)
			return;
		sleep_loop(c->l, 20);
	}
	CHECK(!"item never allowed the operation");
}

TEST(life_cycle)
{
	const char *args[] = { "--scale", "0.0001", NULL };
	ctx c;
	dr_op_request q;
	res r;
	char *job = NULL;

	secret_env();
	if (ctx_open(&c, args, json_pack("{s:s,s:s}", "datastoreName", "datastore1",
					 "logStorageAccountId",
					 "/subscriptions/" SUB "/resourceGroups/rg-dr/providers/"
					 "Microsoft.Storage/storageAccounts/logsa")) < 0) {
		CHECK(0);
		return;
	}
	memset(&q, 0, sizeof(q));
	q.item = "vm01";
	/* Drill. */
	q.kind = DR_PREQ_TEST_FAILOVER;
	q.rp.kind = DR_RP_LATEST_PROCESSED;
	q.network = "vnet-drill";
	CHECK_INT(run_op(&c, &q, NULL), 0);
	get_item(&c, "vm01", &r);
	CHECK_STR(item_s(&r, "testFailoverState"), "WaitingForCompletion");
	res_release(&r);
	/* Not allowed now: the message says why in ASR words. */
	q.kind = DR_PREQ_UNPLANNED_FAILOVER;
	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_provider_start(c.p, &q, on_start, &r), 0);
	wait_res(c.l, &r);
	CHECK_INT(r.rc, DR_ECONFLICT);
	CHECK_STR(r.err_code, "OperationNotAllowed");
	CHECK(r.err_msg && strstr(r.err_msg, "Operation 'UnplannedFailover' is not allowed "
					     "for replicated item 'vm01'") != NULL);
	CHECK(r.err_msg && strstr(r.err_msg, "Allowed operations: TestFailoverCleanup") != NULL);
	res_release(&r);
	q.kind = DR_PREQ_TEST_FAILOVER_CLEANUP;
	CHECK_INT(run_op(&c, &q, NULL), 0);
	/* Failover at the latest app-consistent point, commit, reprotect. */
	q.kind = DR_PREQ_UNPLANNED_FAILOVER;
	q.rp.kind = DR_RP_LATEST_APP_CONSISTENT;
	q.shutdown_source = true;
	q.client_request_id = "9b7a1d8e-0f00-4c1e-8d5e-000000000001";
	CHECK_INT(run_op(&c, &q, &job), 0);
	q.client_request_id = NULL;
	get_item(&c, "vm01", &r);
	CHECK_STR(item_s(&r, "activeLocation"), "Recovery");
	CHECK_STR(item_s(&r, "lastJobId"), job);
	res_release(&r);
	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_provider_find_jobs(c.p, "vm01", 0, on_jobs, &r), 0);
	wait_res(c.l, &r);
	CHECK_INT(r.rc, 0);
	CHECK_INT(r.n, 3);
	CHECK_STR(json_string_value(json_object_get(json_array_get(r.j, 2), "name")), job);
	CHECK_STR(json_string_value(json_object_get(json_array_get(r.j, 2), "operation")),
		  "unplanned-failover");
	CHECK_STR(json_string_value(json_object_get(json_array_get(r.j, 0), "operation")),
		  "test-failover");
	res_release(&r);
	free(job);
	/* Another point before commit: the newest processed one. */
	q.kind = DR_PREQ_APPLY_RECOVERY_POINT;
	q.rp.kind = DR_RP_LATEST_PROCESSED;
	CHECK_INT(run_op(&c, &q, NULL), 0);
	q.kind = DR_PREQ_COMMIT;
	CHECK_INT(run_op(&c, &q, NULL), 0);
	get_item(&c, "vm01", &r);
	CHECK(json_is_true(json_object_get(r.j, "committed")));
	res_release(&r);
	q.kind = DR_PREQ_REPROTECT;
	q.direction = DR_DIR_TO_AZURE;
	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_provider_start(c.p, &q, on_start, &r), 0);
	wait_res(c.l, &r);
	CHECK_INT(r.rc, DR_EINVAL);
	CHECK_STR(r.err_code, "InvalidFailoverDirection");
	res_release(&r);
	q.direction = DR_DIR_TO_ONPREM;
	CHECK_INT(run_op(&c, &q, NULL), 0);
	get_item(&c, "vm01", &r);
	CHECK_STR(item_s(&r, "instanceType"), "InMageRcmFailback");
	CHECK_STR(item_s(&r, "direction"), "to-onprem");
	res_release(&r);
	/* Failback, commit, reprotect to Azure. */
	wait_allows(&c, "vm01", "PlannedFailover");
	q.kind = DR_PREQ_PLANNED_FAILOVER;
	q.point_type = DR_POINT_CRASH_CONSISTENT;
	CHECK_INT(run_op(&c, &q, NULL), 0);
	q.kind = DR_PREQ_COMMIT;
	CHECK_INT(run_op(&c, &q, NULL), 0);
	q.kind = DR_PREQ_REPROTECT;
	q.direction = DR_DIR_TO_AZURE;
	CHECK_INT(run_op(&c, &q, NULL), 0);
	wait_allows(&c, "vm01", "UnplannedFailover");
	get_item(&c, "vm01", &r);
	CHECK_STR(item_s(&r, "instanceType"), "InMageRcm");
	CHECK_STR(item_s(&r, "protectionState"), "Protected");
	CHECK_STR(item_s(&r, "activeLocation"), "Primary");
	res_release(&r);
	/* Recovery points, newest first. */
	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_provider_list_recovery_points(c.p, "vm02", on_points, &r), 0);
	wait_res(c.l, &r);
	CHECK_INT(r.rc, 0);
	CHECK(r.n > 1);
	if (r.n > 1)
		CHECK(json_integer_value(json_object_get(json_array_get(r.j, 0), "time")) >
		      json_integer_value(json_object_get(json_array_get(r.j, 1), "time")));
	res_release(&r);
	ctx_close(&c);
}

/* ---- faults ---- */

static json_t *fault(ctx *c, const char *spec)
{
	return emu_ctl(c->l, &c->e, "POST", "/_emulator/faults", spec);
}

TEST(fault_5xx_retried_on_reads)
{
	ctx c;
	res r;
	dr_azure_stats st;

	secret_env();
	if (ctx_open(&c, NULL, NULL) < 0) {
		CHECK(0);
		return;
	}
	json_decref(fault(&c, "error:503:2:GET;error:500:1:GET"));
	get_item(&c, "vm01", &r);
	CHECK_INT(r.rc, 0);
	res_release(&r);
	dr_azure_get_stats(c.az, &st);
	CHECK_INT(st.retries, 3);
	ctx_close(&c);
}

TEST(fault_429_retry_after)
{
	const char *args[] = { "--faults", "retry-after:1", NULL };
	ctx c;
	res r;
	dr_azure_stats st;
	uint64_t t0;

	secret_env();
	if (ctx_open(&c, args, NULL) < 0) {
		CHECK(0);
		return;
	}
	get_item(&c, "vm01", &r);
	res_release(&r);
	json_decref(fault(&c, "error:429:1:GET"));
	t0 = dr_loop_now(c.l);
	get_item(&c, "vm01", &r);
	CHECK_INT(r.rc, 0);
	res_release(&r);
	CHECK(dr_loop_now(c.l) - t0 >= 1000);
	dr_azure_get_stats(c.az, &st);
	CHECK_INT(st.throttled, 1);
	ctx_close(&c);
}

TEST(fault_write_rate_paced)
{
	const char *args[] = { "--faults", "write-limit:4:2", "--scale", "0", NULL };
	ctx c;
	dr_op_request q;
	dr_azure_stats st;
	int i;
	const char *names[] = { "vm01", "vm02", "vm03" };

	secret_env();
	if (ctx_open(&c, args, json_pack("{s:i}", "paceStepMs", 20)) < 0) {
		CHECK(0);
		return;
	}
	memset(&q, 0, sizeof(q));
	q.rp.kind = DR_RP_LATEST;
	for (i = 0; i < 3; i++) {
		q.item = names[i];
		q.kind = DR_PREQ_TEST_FAILOVER;
		CHECK_INT(run_op(&c, &q, NULL), 0);
		q.kind = DR_PREQ_TEST_FAILOVER_CLEANUP;
		CHECK_INT(run_op(&c, &q, NULL), 0);
	}
	dr_azure_get_stats(c.az, &st);
	CHECK(st.paced > 0);
	CHECK(st.writes_remaining >= 0 && st.writes_remaining < 4);
	ctx_close(&c);
}

TEST(fault_dropped_and_slow_reads)
{
	ctx c;
	res r;
	dr_azure_stats st;

	secret_env();
	if (ctx_open(&c, NULL, json_pack("{s:i}", "timeoutMs", 300)) < 0) {
		CHECK(0);
		return;
	}
	unsigned before;

	json_decref(fault(&c, "drop:1:GET"));
	get_item(&c, "vm01", &r);
	CHECK_INT(r.rc, 0);
	res_release(&r);
	/* A dropped GET on a reused connection is re-sent by libcurl itself;
	 * on a fresh one by the provider: either way it succeeds. */
	dr_azure_get_stats(c.az, &st);
	CHECK(st.retries <= 1);
	before = st.retries;
	json_decref(fault(&c, "slow:1000:1:GET"));
	get_item(&c, "vm01", &r);
	CHECK_INT(r.rc, 0);
	res_release(&r);
	dr_azure_get_stats(c.az, &st);
	CHECK_INT(st.retries, before + 1);
	ctx_close(&c);
}

TEST(fault_post_500_not_resent)
{
	const char *args[] = { "--scale", "0", NULL };
	ctx c;
	dr_op_request q;
	res r;
	dr_azure_stats st;

	secret_env();
	if (ctx_open(&c, args, NULL) < 0) {
		CHECK(0);
		return;
	}
	json_decref(fault(&c, "error:500:1:op"));
	memset(&q, 0, sizeof(q));
	q.item = "vm02";
	q.kind = DR_PREQ_UNPLANNED_FAILOVER;
	q.rp.kind = DR_RP_LATEST;
	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_provider_start(c.p, &q, on_start, &r), 0);
	wait_res(c.l, &r);
	CHECK_INT(r.rc, DR_EAGAIN);
	CHECK(r.err_msg && strstr(r.err_msg, "may or may not have been accepted"));
	res_release(&r);
	dr_azure_get_stats(c.az, &st);
	CHECK_INT(st.reconciled, 1);
	CHECK_INT(st.adopted, 0);
	CHECK_INT(emu_op_count(c.l, &c.e, "vm02", "unplanned-failover"), 0);
	/* The executor asks again after find_jobs: now it goes through. */
	CHECK_INT(run_op(&c, &q, NULL), 0);
	CHECK_INT(emu_op_count(c.l, &c.e, "vm02", "unplanned-failover"), 1);
	ctx_close(&c);
}

TEST(fault_accepted_response_lost)
{
	const char *args[] = { "--scale", "0.0001", NULL };
	ctx c;
	dr_op_request q;
	res r;
	dr_azure_stats st;

	secret_env();
	if (ctx_open(&c, args, NULL) < 0) {
		CHECK(0);
		return;
	}
	json_decref(fault(&c, "lose-accept:1:unplanned-failover"));
	memset(&q, 0, sizeof(q));
	q.item = "vm03";
	q.client_request_id = "failover-20261125/all/vm03/failover/1.0";
	q.kind = DR_PREQ_UNPLANNED_FAILOVER;
	q.rp.kind = DR_RP_LATEST;
	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_provider_start(c.p, &q, on_start, &r), 0);
	wait_res(c.l, &r);
	CHECK_INT(r.rc, 0);
	if (r.rc)
		fprintf(stderr, "lose-accept: %s %s\n", r.err_code, r.err_msg);
	CHECK(r.job != NULL);
	res_release(&r);
	dr_azure_get_stats(c.az, &st);
	CHECK_INT(st.reconciled, 1);
	CHECK_INT(st.adopted, 1);
	CHECK_INT(emu_op_count(c.l, &c.e, "vm03", "unplanned-failover"), 1);
	ctx_close(&c);
	CHECK_INT(log_accepted(&c.e, "unplanned-failover"), 1);
}

static void on_done(void *ud, int rc, const dr_prov_error *e)
{
	note_err(ud, rc, e);
}

TEST(update_target_patch)
{
	ctx c;
	res r;
	dr_machine m;
	const json_t *psd = NULL, *it;
	size_t i;

	secret_env();
	if (ctx_open(&c, NULL, NULL) < 0) {
		CHECK(0);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.name.v = "vm02";
	m.target.name.v = "vm02-dr";
	m.target.size.v = "Standard_E8s_v5";
	m.target.resource_group.v = "rg-erp-dr";
	m.target.vnet.v = "vnet-dr";
	m.target.subnet.v = "app";
	m.target.ip.v = "10.20.1.10";
	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_azure_update_target(c.az, NULL, &m, on_done, &r), 0);
	wait_res(c.l, &r);
	CHECK_INT(r.rc, 0);
	res_release(&r);
	memset(&r, 0, sizeof(r));
	dr_azure_list_items(c.az, on_items, &r);
	wait_res(c.l, &r);
	json_array_foreach(r.j, i, it)
		if (!strcmp(json_string_value(json_object_get(json_object_get(it, "properties"),
							      "friendlyName")), "vm02"))
			psd = json_object_get(json_object_get(it, "properties"),
					      "providerSpecificDetails");
	CHECK_STR(json_string_value(json_object_get(psd, "targetVmName")), "vm02-dr");
	CHECK_STR(json_string_value(json_object_get(psd, "targetVmSize")), "Standard_E8s_v5");
	CHECK_STR(json_string_value(json_object_get(psd, "targetResourceGroupId")),
		  "/subscriptions/" SUB "/resourceGroups/rg-erp-dr");
	CHECK_STR(json_string_value(json_object_get(psd, "targetNetworkId")),
		  "/subscriptions/" SUB "/resourceGroups/rg-erp-dr/providers/"
		  "Microsoft.Network/virtualNetworks/vnet-dr");
	CHECK_STR(json_string_value(json_object_get(json_array_get(
			  json_object_get(psd, "vmNics"), 0), "targetSubnetName")), "app");
	res_release(&r);
	CHECK_INT(emu_op_count(c.l, &c.e, "vm02", "update"), 1);
	/* Again: the item has the settings now, so nothing is sent (1). */
	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_azure_update_target(c.az, NULL, &m, on_done, &r), 0);
	wait_res(c.l, &r);
	CHECK_INT(r.rc, 1);
	res_release(&r);
	CHECK_INT(emu_op_count(c.l, &c.e, "vm02", "update"), 1);
	/* One setting differs (case does not count): one PATCH. */
	m.target.size.v = "standard_e8s_v5";
	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_azure_update_target(c.az, NULL, &m, on_done, &r), 0);
	wait_res(c.l, &r);
	CHECK_INT(r.rc, 1);
	res_release(&r);
	m.target.ip.v = "10.20.1.11";
	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_azure_update_target(c.az, NULL, &m, on_done, &r), 0);
	wait_res(c.l, &r);
	CHECK_INT(r.rc, 0);
	res_release(&r);
	CHECK_INT(emu_op_count(c.l, &c.e, "vm02", "update"), 2);
	ctx_close(&c);
}

TEST(inventory_snapshot_matches_schema)
{
	const char *args[] = { "--items", "5", "--page-size", "2", NULL };
	ctx c;
	res r;
	json_t *doc, *prev;

	secret_env();
	if (ctx_open(&c, args, NULL) < 0) {
		CHECK(0);
		return;
	}
	memset(&r, 0, sizeof(r));
	dr_azure_list_items(c.az, on_items, &r);
	wait_res(c.l, &r);
	CHECK_INT(r.rc, 0);
	CHECK_INT(r.n, 5);
	prev = json_pack("{s:[{s:s,s:{s:s},s:{s:b}}]}", "items", "name", "x",
			 "properties", "friendlyName", "vm02", "drplan", "dhcpService", 1);
	doc = dr_azure_inventory_doc(r.j, "vault-dr", 1764000000000LL, prev);
	CHECK_INT(dr_azure_inventory_check(doc), 0);
	if (dr_azure_inventory_check(doc))
		fprintf(stderr, "%s\n", dr_error_msg());
	CHECK_STR(json_string_value(json_object_get(doc, "exportedAt")), "2025-11-24T16:00:00Z");
	CHECK_INT(json_array_size(json_object_get(doc, "items")), 5);
	CHECK(json_is_true(json_object_get(json_object_get(
		json_array_get(json_object_get(doc, "items"), 1), "drplan"), "dhcpService")));
	/* A snapshot that breaks the schema is refused with the place. */
	json_object_set_new(doc, "kind", json_string("Plan"));
	CHECK_INT(dr_azure_inventory_check(doc), DR_EINVAL);
	CHECK(strstr(dr_error_msg(), "/kind: ") != NULL);
	json_decref(doc);
	json_decref(prev);
	res_release(&r);
	ctx_close(&c);
}

TEST(secrets_absent)
{
	/* Everything the tests saw: error texts and the emulator's logs. */
	CHECK(g_all_output.len > 0);
	CHECK(strstr(g_all_output.buf, SECRET) == NULL);
}

int main(int argc, char **argv)
{
	char cmd[1200];

	if (argc < 3) {
		fprintf(stderr, "usage: test-azure ARMEMU WORKDIR\n");
		return 2;
	}
	g_emu_bin = argv[1];
	if (access(g_emu_bin, X_OK)) {
		printf("SKIP: ARM emulator '%s' is not built\n", g_emu_bin);
		return 0;
	}
	snprintf(g_dir, sizeof(g_dir), "%s/azure-test.%ld", argv[2], (long)getpid());
	mkdir(argv[2], 0755);
	mkdir(g_dir, 0700);
	signal(SIGPIPE, SIG_IGN);
	RUN(secret_flow_and_item_view);
	RUN(wrong_secret_refused_without_leaking);
	RUN(certificate_flow);
	RUN(federated_token_flow);
	RUN(managed_identity_flow);
	RUN(token_refresh_and_401);
	RUN(paging);
	RUN(life_cycle);
	RUN(fault_5xx_retried_on_reads);
	RUN(fault_429_retry_after);
	RUN(fault_write_rate_paced);
	RUN(fault_dropped_and_slow_reads);
	RUN(fault_post_500_not_resent);
	RUN(fault_accepted_response_lost);
	RUN(update_target_patch);
	RUN(inventory_snapshot_matches_schema);
	RUN(secrets_absent);
	clear_env();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", g_dir);
	dr_strbuf_release(&g_all_output);
	return test_summary();
}
