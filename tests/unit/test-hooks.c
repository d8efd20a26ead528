/*
 * test-hooks.c - the Lua hook sandbox: what a hook can do, and every
 * escape or abuse we know of, each with its pinned outcome and message.
 */
#include "core/error.h"
#include "hooks/patguard.h"
#include "hooks/sandbox.h"
#include "test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];
static char luadir[300];

/* A fake monotonic clock that advances by step on every read. */
static uint64_t fake_now, fake_step;

static uint64_t fake_clock(void *ud)
{
	(void)ud;
	fake_now += fake_step;
	return fake_now;
}

static const char *fake_getenv(void *ud, const char *name)
{
	(void)ud;
	if (!strcmp(name, "DR_TOKEN"))
		return "s3cr3t-token";
	if (!strcmp(name, "DR_REGION"))
		return "westeurope";
	if (!strcmp(name, "DR_OTHER"))
		return "not-for-hooks";
	return NULL;
}

static const char *const env_allowed[] = { "DR_TOKEN", "DR_REGION", "DR_UNSET", NULL };

static dr_hook_opts base_opts(void)
{
	dr_hook_opts o;

	memset(&o, 0, sizeof(o));
	o.lua_dir = luadir;
	o.env = env_allowed;
	o.getenv_fn = fake_getenv;
	o.clock_ms = fake_clock;
	fake_now = 1000;
	fake_step = 0;
	return o;
}

struct result {
	int status;
	char msg[1024];
	char outputs[4096];
	char log[4096];
	uint64_t fake_ms;
};

/* Run src ("x.lua") to completion with the sync driver. */
static struct result run_opts(const char *src, const dr_hook_opts *o,
			      dr_hook_serve_fn serve, void *ctx)
{
	struct result r;
	dr_hook *h;
	dr_hook_outcome out;
	char *s;
	size_t i;

	memset(&r, 0, sizeof(r));
	r.status = -1;
	if (dr_hook_new(o, &h)) {
		snprintf(r.msg, sizeof(r.msg), "new: %s", dr_error_msg());
		return r;
	}
	if (dr_hook_load_string(h, "x.lua", src, strlen(src))) {
		snprintf(r.msg, sizeof(r.msg), "load: %s", dr_error_msg());
		dr_hook_free(h);
		return r;
	}
	if (dr_hook_run_sync(h, serve, ctx, &out)) {
		snprintf(r.msg, sizeof(r.msg), "run: %s", dr_error_msg());
		dr_hook_free(h);
		return r;
	}
	r.status = (int)out.status;
	snprintf(r.msg, sizeof(r.msg), "%s", out.message);
	s = json_dumps(dr_hook_outputs(h), JSON_COMPACT | JSON_SORT_KEYS);
	snprintf(r.outputs, sizeof(r.outputs), "%s", s);
	free(s);
	for (i = 0; i < dr_hook_log_count(h); i++) {
		const dr_hook_log_line *l = dr_hook_log_at(h, i);
		size_t n = strlen(r.log);

		snprintf(r.log + n, sizeof(r.log) - n, "%s%s: %s", i ? "\n" : "",
			 l->level, l->text);
	}
	r.fake_ms = dr_hook_fake_elapsed(h);
	dr_hook_free(h);
	return r;
}

static struct result run(const char *src)
{
	dr_hook_opts o = base_opts();

	return run_opts(src, &o, NULL, NULL);
}

/* Small limits so that the abuse tests are quick. */
static struct result run_small(const char *src)
{
	dr_hook_opts o = base_opts();

	o.mem_cap = 8u << 20;
	o.instr_limit = 2000000;
	return run_opts(src, &o, NULL, NULL);
}

#define CHECK_RUN(r, st, m)                                                    \
	do {                                                                   \
		CHECK_STR(dr_hook_status_name((dr_hook_status)(r).status),    \
			  dr_hook_status_name(st));                           \
		CHECK_STR((r).msg, m);                                         \
	} while (0)

static void write_file(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

static void setup_files(void)
{
	char path[512], link[512];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/drplan-test-hooks-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(luadir, sizeof(luadir), "%s/lua", tmpdir);
	mkdir(luadir, 0700);
	snprintf(path, sizeof(path), "%s/lua/sub", tmpdir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/lua/hooks", tmpdir);
	mkdir(path, 0700);
	write_file("lua/util.lua",
		   "loads = (loads or 0) + 1\n"
		   "return { double = function(x) return 2 * x end }\n");
	write_file("lua/sub/mod.lua", "return 'sub.mod:' .. ...\n");
	write_file("lua/broken.lua", "return {\n");
	write_file("lua/selfreq.lua", "local m = require('selfreq')\nreturn m\n");
	write_file("lua/binary.lua", "\033Lua fake\n");
	write_file("secret.lua", "return 'outside'\n");
	snprintf(path, sizeof(path), "%s/secret.lua", tmpdir);
	snprintf(link, sizeof(link), "%s/lua/evil.lua", tmpdir);
	if (symlink(path, link)) {
		perror("symlink");
		exit(1);
	}
	write_file("lua/hooks/check.lua",
		   "drplan.log('checking %s', drplan.context.plan)\n"
		   "local x = nil\n"
		   "return x.field\n");
}

static void cleanup_files(void)
{
	static const char *const files[] = {
		"lua/util.lua", "lua/sub/mod.lua", "lua/broken.lua", "lua/selfreq.lua",
		"lua/binary.lua", "lua/evil.lua", "secret.lua", "lua/hooks/check.lua",
		"lua/sub", "lua/hooks", "lua", "",
	};
	char path[512];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		remove(path);
	}
}

/* ---- what a hook can do ------------------------------------------------ */

TEST(completes)
{
	struct result r = run("drplan.log('hello')\n"
			      "drplan.log('warn', 'disk %d%% full on %s', 93, 'sql01')\n"
			      "drplan.log('debug', 'x')\n"
			      "print('a', 1, true)\n"
			      "drplan.log('100%')\n");

	CHECK_RUN(r, DR_HOOK_OK, "");
	CHECK_STR(r.log, "info: hello\nwarn: disk 93% full on sql01\ndebug: x\n"
			 "info: a\t1\ttrue\ninfo: 100%");
}

TEST(fail)
{
	struct result r = run("drplan.output('before', 1)\n"
			      "drplan.fail('SQL Server is not listening')\n"
			      "drplan.output('after', 2)\n");

	CHECK_RUN(r, DR_HOOK_FAILED, "x.lua:2: SQL Server is not listening");
	CHECK_STR(r.outputs, "{\"before\":1}");
}

TEST(fail_not_catchable)
{
	struct result r = run("local ok, e = pcall(drplan.fail, 'boom')\n"
			      "drplan.output('swallowed', ok)\n"
			      "return 'finished'\n");

	/* Called through pcall, there is no Lua position to show. */
	CHECK_RUN(r, DR_HOOK_FAILED, "boom");
	CHECK_STR(r.outputs, "{}");
}

TEST(lua_error)
{
	struct result r = run("local t = nil\nreturn t.x\n");

	CHECK_RUN(r, DR_HOOK_FAILED, "x.lua:2: attempt to index a nil value (local 't')");
}

TEST(load_file_chunkname)
{
	dr_hook *h;
	dr_hook_outcome out;
	json_t *ctx = json_pack("{s:s}", "plan", "erp");
	char path[512];

	CHECK_INT(chdir(tmpdir), 0);
	CHECK_INT(dr_hook_new(NULL, &h), 0);
	CHECK_INT(dr_hook_set_context(h, ctx), 0);
	CHECK_INT(dr_hook_load_file(h, "lua/hooks/check.lua"), 0);
	CHECK_INT(dr_hook_run_sync(h, NULL, NULL, &out), 0);
	CHECK_STR(dr_hook_status_name(out.status), "failed");
	CHECK_STR(out.message, "lua/hooks/check.lua:3: attempt to index a nil value (local 'x')");
	CHECK_INT(dr_hook_log_count(h), 1);
	CHECK_STR(dr_hook_log_at(h, 0)->text, "checking erp");
	dr_hook_free(h);
	json_decref(ctx);

	CHECK_INT(dr_hook_new(NULL, &h), 0);
	CHECK_INT(dr_hook_load_file(h, "lua/missing.lua"), DR_EIO);
	CHECK_STR(dr_error_msg(), "lua/missing.lua: No such file or directory");
	CHECK_INT(dr_hook_load_file(h, "lua/binary.lua"), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "lua/binary.lua: binary chunks are not allowed");
	CHECK_INT(dr_hook_load_file(h, "lua/broken.lua"), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "lua/broken.lua:2: unexpected symbol near <eof>");
	dr_hook_free(h);
	snprintf(path, sizeof(path), "%s/../..", luadir);
	CHECK_INT(chdir("/"), 0);
}

TEST(api_misuse)
{
	dr_hook *h;

	CHECK_INT(dr_hook_new(NULL, &h), 0);
	CHECK_INT(dr_hook_start(h), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "no hook loaded");
	CHECK_INT(dr_hook_complete(h, NULL), DR_EINVAL);
	CHECK_INT(dr_hook_load_string(h, "x.lua", "return", 6), 0);
	CHECK_INT(dr_hook_load_string(h, "x.lua", "return", 6), DR_EINVAL);
	CHECK_INT(dr_hook_start(h), DR_HOOK_DONE);
	CHECK_INT(dr_hook_start(h), DR_EINVAL);
	CHECK_INT(dr_hook_abort(h, DR_HOOK_CANCELLED), DR_EINVAL);
	CHECK(dr_hook_pending(h) == NULL);
	dr_hook_free(h);
}

TEST(context_outputs_roundtrip)
{
	dr_hook_opts o = base_opts();
	dr_hook *h;
	dr_hook_outcome out;
	json_t *ctx = json_pack(
		"{s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:{s:s},s:n}]}", "plan", "erp",
		"operation", "failover", "direction", "to-azure", "group", "data",
		"machines", "name", "sql01", "ip", "10.20.1.10", "source", "os",
		"windows", "recoveryPoint");
	json_t *args = json_pack("{s:i,s:[s,s]}", "port", 1433, "dbs", "erp", "hr");
	const char *src =
		"local c = drplan.context\n"
		"local m = c.machines[1]\n"
		"drplan.output('summary', c.plan .. '/' .. c.operation .. '/' .. m.name)\n"
		"drplan.output('os', m.source.os)\n"
		"drplan.output('rp_is_null', m.recoveryPoint == drplan.json.null)\n"
		"drplan.output('n', #c.machines)\n"
		"local keys = {}\n"
		"for k in pairs(m) do keys[#keys + 1] = k end\n"
		"table.sort(keys)\n"
		"drplan.output('keys', table.concat(keys, ','))\n"
		"drplan.outputs.port = drplan.args.port + 1\n"
		"drplan.outputs.dbs = drplan.args.dbs\n"
		"drplan.output('ctx', c)\n"
		"drplan.output('float', 1.5)\n"
		"drplan.output('empty', {})\n"
		"drplan.output('back', drplan.outputs.port)\n";
	char *s;

	CHECK_INT(dr_hook_new(&o, &h), 0);
	CHECK_INT(dr_hook_set_context(h, ctx), 0);
	CHECK_INT(dr_hook_set_args(h, args), 0);
	CHECK_INT(dr_hook_load_string(h, "x.lua", src, strlen(src)), 0);
	CHECK_INT(dr_hook_run_sync(h, NULL, NULL, &out), 0);
	CHECK_STR(out.message, "");
	s = json_dumps(dr_hook_outputs(h), JSON_COMPACT | JSON_SORT_KEYS);
	CHECK_STR(s, "{\"back\":1434,\"ctx\":{\"direction\":\"to-azure\",\"group\":\"data\","
		     "\"machines\":[{\"ip\":\"10.20.1.10\",\"name\":\"sql01\",\"recoveryPoint\":null,"
		     "\"source\":{\"os\":\"windows\"}}],\"operation\":\"failover\",\"plan\":\"erp\"},"
		     "\"dbs\":[\"erp\",\"hr\"],\"empty\":{},\"float\":1.5,"
		     "\"keys\":\"ip,name,recoveryPoint,source\",\"n\":1,\"os\":\"windows\","
		     "\"port\":1434,\"rp_is_null\":true,\"summary\":\"erp/failover/sql01\"}");
	free(s);
	CHECK_INT(dr_hook_set_context(h, ctx), DR_EINVAL);
	dr_hook_free(h);
	json_decref(ctx);
	json_decref(args);
}

TEST(output_errors)
{
	CHECK_RUN(run("drplan.output('f', print)"), DR_HOOK_FAILED,
		  "x.lua:1: drplan.output: 'f': cannot encode a function value");
	CHECK_RUN(run("drplan.output(1, 2)"), DR_HOOK_FAILED,
		  "x.lua:1: drplan.output: key must be a string");
	CHECK_RUN(run("local t = {} t.t = t drplan.output('cycle', t)"), DR_HOOK_FAILED,
		  "x.lua:1: drplan.output: 'cycle': nesting too deep or cyclic");
	CHECK_RUN(run("drplan.output('bad', '\\xff')"), DR_HOOK_FAILED,
		  "x.lua:1: drplan.output: 'bad': string is not valid UTF-8");
	CHECK_RUN(run("drplan.output('nan', 0/0)"), DR_HOOK_FAILED,
		  "x.lua:1: drplan.output: 'nan': cannot encode NaN or infinity");
	CHECK_RUN(run("drplan.output('mixed', {1, 2, x = 3})"), DR_HOOK_FAILED,
		  "x.lua:1: drplan.output: 'mixed': object keys must be strings");
}

TEST(json)
{
	struct result r = run(
		"local j = drplan.json\n"
		"local v = j.decode('{\"a\":[1,2.5,null,true],\"b\":\"x\"}')\n"
		"drplan.output('a3null', v.a[3] == j.null)\n"
		"drplan.output('enc', j.encode(v))\n"
		"drplan.output('scalar', j.encode('q\"'))\n"
		"local ok, e = pcall(j.decode, '{\"a\":')\n"
		"drplan.output('err', e)\n");

	CHECK_RUN(r, DR_HOOK_OK, "");
	CHECK_STR(r.outputs, "{\"a3null\":true,\"enc\":\"{\\\"a\\\":[1,2.5,null,true],\\\"b\\\":\\\"x\\\"}\","
			     "\"err\":\"drplan.json.decode: unexpected token near end of file"
			     " at line 1 column 5\",\"scalar\":\"\\\"q\\\\\\\"\\\"\"}");
}

TEST(env_allow_list)
{
	struct result r = run(
		"local t = drplan.env('DR_TOKEN')\n"
		"drplan.log('token is %s', t)\n"
		"drplan.output('region', drplan.env('DR_REGION'))\n"
		"drplan.output('unset', drplan.env('DR_UNSET') == nil)\n"
		"drplan.output('leak', 'x' .. t)\n"
		"drplan.env('DR_OTHER')\n");

	CHECK_RUN(r, DR_HOOK_FAILED,
		  "x.lua:6: drplan.env: 'DR_OTHER' is not listed in the action's env:");
	CHECK_STR(r.log, "info: token is ***");
	/* Every value read with drplan.env() counts as a secret. */
	CHECK_STR(r.outputs, "{\"leak\":\"x***\",\"region\":\"***\",\"unset\":true}");
	/* A secret in an error message is redacted too. */
	CHECK_RUN(run("error('bad token ' .. drplan.env('DR_TOKEN'))"), DR_HOOK_FAILED,
		  "x.lua:1: bad token ***");
}

TEST(sleep_fake_clock)
{
	struct result r = run("drplan.sleep(1.5)\n"
			      "local ok = pcall(drplan.sleep, 2)\n"
			      "coroutine.wrap(function() drplan.sleep(0.25) end)()\n"
			      "local co = coroutine.create(function(a)\n"
			      "  local b = coroutine.yield(a + 1)\n"
			      "  drplan.sleep(1)\n"
			      "  return b * 2\n"
			      "end)\n"
			      "local _, x = coroutine.resume(co, 1)\n"
			      "local _, y = coroutine.resume(co, 21)\n"
			      "drplan.output('xy', {x, y, ok})\n");

	CHECK_RUN(r, DR_HOOK_OK, "");
	CHECK_STR(r.outputs, "{\"xy\":[2,42,true]}");
	CHECK_INT(r.fake_ms, 4750);
	CHECK_RUN(run("drplan.sleep(-1)"), DR_HOOK_FAILED,
		  "x.lua:1: drplan.sleep: seconds must be between 0 and 86400");
	CHECK_RUN(run("drplan.sleep('soon')"), DR_HOOK_FAILED,
		  "x.lua:1: bad argument #1 to 'sleep' (number expected, got string)");
}

TEST(xpcall_still_works)
{
	struct result r = run("local ok, e = xpcall(error, function(m) return 'handled: ' .. m end, 'x', 0)\n"
			      "local ok2, v = xpcall(function(a) drplan.sleep(1) return a * 2 end, print, 21)\n"
			      "drplan.output('r', {ok, e, ok2, v})\n"
			      "xpcall(drplan.fail, function() drplan.output('handler ran', true) end, 'stop')\n");

	CHECK_RUN(r, DR_HOOK_FAILED, "stop");
	CHECK_STR(r.outputs, "{\"r\":[false,\"handled: x\",true,42]}");
	CHECK_INT(r.fake_ms, 1000);
	CHECK_RUN(run("xpcall(print)"), DR_HOOK_FAILED,
		  "x.lua:1: bad argument #2 to 'xpcall' (function expected, got no value)");
}

TEST(timeout_while_sleeping)
{
	dr_hook_opts o = base_opts();
	struct result r;

	o.timeout_ms = 5000;
	r = run_opts("drplan.sleep(3) drplan.log('after 3s') drplan.sleep(3) drplan.log('never')",
		     &o, NULL, NULL);
	CHECK_RUN(r, DR_HOOK_TIMEOUT, "timeout (5s) exceeded while waiting for sleep");
	CHECK_STR(r.log, "info: after 3s");
}

TEST(sleep_in_metamethod)
{
	CHECK_RUN(run("local t = {3, 1, 2} table.sort(t, function(a, b) drplan.sleep(1) return a < b end)"),
		  DR_HOOK_FAILED,
		  "x.lua:1: drplan: cannot wait for sleep here (inside a metamethod, iterator or other C call)");
}

static int serve_net(void *ctx, dr_hook *h, const dr_hook_request *req, json_t **result)
{
	char *s = json_dumps(req->params, JSON_COMPACT | JSON_SORT_KEYS);

	(void)h;
	snprintf((char *)ctx + strlen(ctx), 2048 - strlen(ctx), "%s %s\n",
		 dr_hook_req_name(req->kind), s);
	free(s);
	if (req->kind == DR_HOOK_REQ_HTTP)
		*result = json_pack("{s:i,s:{s:s},s:s}", "status", 200, "headers",
				    "content-type", "text/plain", "body", "ready");
	else if (req->kind == DR_HOOK_REQ_TCP)
		*result = json_pack("{s:s}", "error", "connection refused");
	else if (req->kind == DR_HOOK_REQ_DNS)
		*result = json_pack("[s]", "10.20.1.10");
	else
		return DR_ENOTFOUND;
	return 0;
}

TEST(network_requests)
{
	dr_hook_opts o = base_opts();
	char seen[2048] = "";
	struct result r = run_opts(
		"local r = drplan.http.request{url = 'https://sql01-dr.example:8443/health?x=1',"
		" method = 'POST', headers = {['X-Probe'] = 'drplan'}, body = '{}', timeout = 2}\n"
		"local ok, err = drplan.tcp.check('10.20.1.10', 1433)\n"
		"local ips = drplan.dns.resolve('sql01-dr.example', 'A', 1)\n"
		"drplan.output('r', {r.status, r.body, r.headers['content-type'], tostring(ok), err, ips[1]})\n",
		&o, serve_net, seen);

	CHECK_RUN(r, DR_HOOK_OK, "");
	CHECK_STR(r.outputs, "{\"r\":[200,\"ready\",\"text/plain\",\"nil\",\"connection refused\",\"10.20.1.10\"]}");
	CHECK_STR(seen, "http {\"body\":\"{}\",\"headers\":{\"X-Probe\":\"drplan\"},\"method\":\"POST\","
			"\"timeout_ms\":2000,\"url\":\"https://sql01-dr.example:8443/health?x=1\"}\n"
			"tcp {\"host\":\"10.20.1.10\",\"port\":1433,\"timeout_ms\":5000}\n"
			"dns {\"name\":\"sql01-dr.example\",\"timeout_ms\":1000,\"type\":\"A\"}\n");
	/* Not served by the default driver: the call returns nil, message. */
	CHECK_RUN(run("local r, e = drplan.http.request('http://x.example/') error(e, 0)"),
		  DR_HOOK_FAILED, "http requests are not served here");
}

TEST(network_validation)
{
	CHECK_RUN(run("drplan.http.request('ftp://x.example/')"), DR_HOOK_FAILED,
		  "x.lua:1: drplan.http.request: URL scheme must be http or https");
	CHECK_RUN(run("drplan.http.request('file:///etc/passwd')"), DR_HOOK_FAILED,
		  "x.lua:1: drplan.http.request: URL scheme must be http or https");
	CHECK_RUN(run("drplan.http.request('https://user:pw@x.example/')"), DR_HOOK_FAILED,
		  "x.lua:1: drplan.http.request: URL must not contain credentials");
	CHECK_RUN(run("drplan.http.request('https://x.example:99999/')"), DR_HOOK_FAILED,
		  "x.lua:1: drplan.http.request: URL port is not valid");
	CHECK_RUN(run("drplan.http.request('https:///nohost')"), DR_HOOK_FAILED,
		  "x.lua:1: drplan.http.request: URL host is not valid");
	CHECK_RUN(run("drplan.http.request{url = 'https://x.example/', method = 'TRACE'}"),
		  DR_HOOK_FAILED, "x.lua:1: drplan.http.request: method 'TRACE' is not supported");
	CHECK_RUN(run("drplan.http.request{url = 'https://x.example/', timeout = 0}"), DR_HOOK_FAILED,
		  "x.lua:1: drplan.http.request: timeout must be greater than 0 and at most 300");
	CHECK_RUN(run("drplan.http.request{url = 'https://x.example/', headers = {['A'] = 'x\\r\\nB: y'}}"),
		  DR_HOOK_FAILED, "x.lua:1: drplan.http.request: header 'A' has a line break or NUL");
	CHECK_RUN(run("drplan.tcp.check('db', 0)"), DR_HOOK_FAILED,
		  "x.lua:1: drplan.tcp.check: port 0 is out of range 1-65535");
	CHECK_RUN(run("drplan.tcp.check('db;rm -rf', 22)"), DR_HOOK_FAILED,
		  "x.lua:1: drplan.tcp.check: host 'db;rm -rf' is not valid");
	CHECK_RUN(run("drplan.dns.resolve('x.example', 'MX')"), DR_HOOK_FAILED,
		  "x.lua:1: drplan.dns.resolve: type must be A or AAAA");
}

TEST(require_modules)
{
	struct result r = run("local u = require('util')\n"
			      "local u2 = require('util')\n"
			      "drplan.output('r', {u.double(21), u == u2, loads, require('sub.mod')})\n");

	CHECK_RUN(r, DR_HOOK_OK, "");
	CHECK_STR(r.outputs, "{\"r\":[42,true,1,\"sub.mod:sub.mod\"]}");
	CHECK_RUN(run("require('missing')"), DR_HOOK_FAILED,
		  "x.lua:1: require: module 'missing' not found (no file lua/missing.lua)");
	CHECK_RUN(run("require('broken')"), DR_HOOK_FAILED,
		  "lua/broken.lua:2: unexpected symbol near <eof>");
	CHECK_RUN(run("require('selfreq')"), DR_HOOK_FAILED,
		  "lua/selfreq.lua:1: require: module 'selfreq' requires itself");
	CHECK_RUN(run("require('binary')"), DR_HOOK_FAILED,
		  "x.lua:1: require: module 'binary' is a binary chunk");
}

/* ---- escapes and abuse --------------------------------------------------- */

TEST(no_io)
{
	CHECK_RUN(run("io.open('/etc/passwd')"), DR_HOOK_FAILED,
		  "x.lua:1: attempt to index a nil value (global 'io')");
}

TEST(no_os_execute)
{
	CHECK_RUN(run("os.execute('touch /tmp/pwned')"), DR_HOOK_FAILED,
		  "x.lua:1: attempt to call a nil value (field 'execute')");
}

TEST(no_os_remove)
{
	CHECK_RUN(run("os.remove('/tmp/x')"), DR_HOOK_FAILED,
		  "x.lua:1: attempt to call a nil value (field 'remove')");
	CHECK_RUN(run("os.exit(1)"), DR_HOOK_FAILED,
		  "x.lua:1: attempt to call a nil value (field 'exit')");
}

TEST(no_os_getenv)
{
	CHECK_RUN(run("return os.getenv('HOME')"), DR_HOOK_FAILED,
		  "x.lua:1: attempt to call a nil value (field 'getenv')");
}

TEST(no_package_loadlib)
{
	CHECK_RUN(run("package.loadlib('libc.so.6', 'system')"), DR_HOOK_FAILED,
		  "x.lua:1: attempt to index a nil value (global 'package')");
}

TEST(require_dotdot)
{
	CHECK_RUN(run("require('../x')"), DR_HOOK_FAILED,
		  "x.lua:1: require: module name '../x' is not valid (use lowercase letters, digits, '_' and '.')");
	CHECK_RUN(run("require('a..b')"), DR_HOOK_FAILED,
		  "x.lua:1: require: module name 'a..b' is not valid (use lowercase letters, digits, '_' and '.')");
}

TEST(require_absolute)
{
	CHECK_RUN(run("require('/etc/passwd')"), DR_HOOK_FAILED,
		  "x.lua:1: require: module name '/etc/passwd' is not valid (use lowercase letters, digits, '_' and '.')");
}

TEST(require_symlink_outside)
{
	CHECK_RUN(run("require('evil')"), DR_HOOK_FAILED,
		  "x.lua:1: require: module 'evil' resolves outside lua/");
}

TEST(no_dofile_loadfile)
{
	CHECK_RUN(run("dofile('/etc/passwd')"), DR_HOOK_FAILED,
		  "x.lua:1: attempt to call a nil value (global 'dofile')");
	CHECK_RUN(run("loadfile('/etc/passwd')"), DR_HOOK_FAILED,
		  "x.lua:1: attempt to call a nil value (global 'loadfile')");
}

TEST(load_binary_refused)
{
	CHECK_RUN(run("local f, e = load('\\27Lua\\84\\0\\25\\147\\r\\n\\26\\n') error(e, 0)"),
		  DR_HOOK_FAILED, "attempt to load a binary chunk (mode is 't')");
	CHECK_RUN(run("local f, e = load('\\27Lua', 'x', 'b') error(e, 0)"), DR_HOOK_FAILED,
		  "attempt to load a binary chunk (mode is 't')");
	/* A reader function that hands out the signature byte by byte. */
	CHECK_RUN(run("local p = {'\\27', 'Lua'} local i = 0\n"
		      "local f, e = load(function() i = i + 1 return p[i] end) error(e, 0)"),
		  DR_HOOK_FAILED, "attempt to load a binary chunk (mode is 't')");
	/* Text chunks work and see only the sandbox (or the env given). */
	CHECK_RUN(run("assert(load('return io')() == nil)\n"
		      "assert(load('return x', 'c', 't', {x = 7})() == 7)\n"
		      "assert(load('return drplan')() == drplan)"),
		  DR_HOOK_OK, "");
}

TEST(no_string_dump)
{
	CHECK_RUN(run("return string.dump(function() end)"), DR_HOOK_FAILED,
		  "x.lua:1: attempt to call a nil value (field 'dump')");
	CHECK_RUN(run("return ('').dump(print)"), DR_HOOK_FAILED,
		  "x.lua:1: attempt to call a nil value (field 'dump')");
}

TEST(setmetatable_on_api)
{
	CHECK_RUN(run("setmetatable(drplan, {})"), DR_HOOK_FAILED,
		  "x.lua:1: cannot change a protected metatable");
	CHECK_RUN(run("drplan.output('mt', getmetatable(drplan))"), DR_HOOK_OK, "");
	CHECK_STR(run("drplan.output('mt', getmetatable(drplan))").outputs, "{\"mt\":\"locked\"}");
}

TEST(rawset_on_api)
{
	CHECK_RUN(run("rawset(drplan, 'log', print)"), DR_HOOK_FAILED,
		  "x.lua:1: rawset: table is read-only");
	CHECK_RUN(run("rawset(drplan.json, 'null', 1)"), DR_HOOK_FAILED,
		  "x.lua:1: rawset: table is read-only");
	CHECK_RUN(run("rawset(drplan.outputs, 'x', 1)"), DR_HOOK_FAILED,
		  "x.lua:1: rawset: table is read-only");
	CHECK_RUN(run("drplan.log = print"), DR_HOOK_FAILED,
		  "x.lua:1: attempt to modify read-only table (field 'log')");
	CHECK_RUN(run("drplan.http.request = print"), DR_HOOK_FAILED,
		  "x.lua:1: attempt to modify read-only table (field 'request')");
	/* rawget sees an empty proxy: nothing behind it leaks. */
	CHECK_RUN(run("assert(rawget(drplan, 'log') == nil and next(drplan) == nil)"), DR_HOOK_OK, "");
}

TEST(context_nested_readonly)
{
	dr_hook_opts o = base_opts();
	dr_hook *h;
	dr_hook_outcome out;
	json_t *ctx = json_pack("{s:[{s:s,s:{s:s}}]}", "machines", "name", "sql01", "source",
				"os", "windows");
	static const char *const srcs[] = {
		"drplan.context.machines[1].name = 'evil'",
		"drplan.context.machines[1].source.os = 'evil'",
		"table.insert(drplan.context.machines, {})",
		"rawset(drplan.context.machines[1], 'name', 'evil')",
		"drplan.context = {}",
		/* The pairs() iterator hands out the proxy, never the backing. */
		"local f, s = pairs(drplan.context) assert(s == drplan.context) s.machines = 1",
	};
	static const char *const msgs[] = {
		"x.lua:1: attempt to modify read-only table (field 'name')",
		"x.lua:1: attempt to modify read-only table (field 'os')",
		"x.lua:1: attempt to modify read-only table",
		"x.lua:1: rawset: table is read-only",
		"x.lua:1: attempt to modify read-only table (field 'context')",
		"x.lua:1: attempt to modify read-only table (field 'machines')",
	};

	for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
		CHECK_INT(dr_hook_new(&o, &h), 0);
		CHECK_INT(dr_hook_set_context(h, ctx), 0);
		CHECK_INT(dr_hook_load_string(h, "x.lua", srcs[i], strlen(srcs[i])), 0);
		CHECK_INT(dr_hook_run_sync(h, NULL, NULL, &out), 0);
		CHECK_STR(out.message, msgs[i]);
		dr_hook_free(h);
	}
	json_decref(ctx);
}

TEST(string_metatable_locked)
{
	CHECK_RUN(run("getmetatable('').__index = {upper = function() return 'pwned' end}"),
		  DR_HOOK_FAILED, "x.lua:1: attempt to index a string value");
	CHECK_RUN(run("assert(getmetatable('') == 'locked' and ('a'):upper() == 'A')"), DR_HOOK_OK, "");
}

TEST(no_debug)
{
	CHECK_RUN(run("debug.sethook()"), DR_HOOK_FAILED,
		  "x.lua:1: attempt to index a nil value (global 'debug')");
	CHECK_RUN(run("assert(debug == nil and io == nil and package == nil and warn == nil)"),
		  DR_HOOK_OK, "");
}

TEST(collectgarbage_restricted)
{
	CHECK_RUN(run("collectgarbage('stop')"), DR_HOOK_FAILED,
		  "x.lua:1: collectgarbage('stop') is not allowed in hooks");
	CHECK_RUN(run("collectgarbage()"), DR_HOOK_FAILED,
		  "x.lua:1: collectgarbage('collect') is not allowed in hooks");
	CHECK_RUN(run("assert(collectgarbage('count') > 0)"), DR_HOOK_OK, "");
}

TEST(gc_metamethod_refused)
{
	CHECK_RUN(run("setmetatable({}, {__gc = function() while true do end end})"), DR_HOOK_FAILED,
		  "x.lua:1: setmetatable: __gc metamethods are not allowed in hooks");
}

TEST(gc_metamethod_added_later)
{
	/* Lua 5.4 marks an object for finalization only if __gc is present
	 * when the metatable is set; adding it later must stay inert. */
	CHECK_RUN(run("local mt = {} local t = setmetatable({}, mt)\n"
		      "mt.__gc = function() while true do end end t = nil\n"
		      "for i = 1, 200000 do local x = {i} end"),
		  DR_HOOK_OK, "");
}

TEST(string_rep_bomb)
{
	CHECK_RUN(run_small("local s = string.rep('x', 1 << 30)"), DR_HOOK_MEM_LIMIT,
		  "memory limit (8 MiB) exceeded");
	CHECK_RUN(run("local s = ('x'):rep(1 << 30)"), DR_HOOK_MEM_LIMIT,
		  "memory limit (64 MiB) exceeded");
	CHECK_RUN(run("local s = ('x'):rep(1 << 40)"), DR_HOOK_FAILED,
		  "x.lua:1: resulting string too large");
	/* rep of an empty string would loop in C without allocating. */
	CHECK_RUN(run_small("assert(string.rep('', 1 << 50) == '' and ('').rep('', 1e15, '') == '')"),
		  DR_HOOK_OK, "");
}

TEST(string_doubling_bomb)
{
	CHECK_RUN(run_small("local s = 'x' while true do s = s .. s end"), DR_HOOK_MEM_LIMIT,
		  "memory limit (8 MiB) exceeded");
}

TEST(table_growth_bomb)
{
	CHECK_RUN(run_small("local t = {} for i = 1, 1e9 do t[i] = {i} end"), DR_HOOK_MEM_LIMIT,
		  "memory limit (8 MiB) exceeded");
}

TEST(memory_bomb_in_pcall)
{
	struct result r = run_small("for i = 1, 100 do pcall(string.rep, 'x', 1 << 30) end\n"
				    "drplan.output('survived', true)\n");

	CHECK_RUN(r, DR_HOOK_MEM_LIMIT, "memory limit (8 MiB) exceeded");
	CHECK_STR(r.outputs, "{}");
}

TEST(deep_recursion)
{
	CHECK_RUN(run("local function f(n) return 1 + f(n + 1) end f(1)"), DR_HOOK_FAILED,
		  "x.lua:1: stack overflow");
	/* With a small heap the Lua stack hits the memory cap first. */
	CHECK_RUN(run_small("local function f(n) return 1 + f(n + 1) end f(1)"), DR_HOOK_MEM_LIMIT,
		  "memory limit (8 MiB) exceeded");
}

TEST(gsub_callback_recursion)
{
	CHECK_RUN(run_small("local function f(s) return (s:gsub('.', f)) end f('x')"), DR_HOOK_FAILED,
		  "x.lua:1: C stack overflow");
}

TEST(metamethod_recursion)
{
	CHECK_RUN(run_small("local t = setmetatable({}, {__index = function(t, k) return t[k] end})\n"
			    "return t.x"),
		  DR_HOOK_FAILED, "x.lua:1: C stack overflow");
	CHECK_RUN(run_small("local mt = {} mt.__add = function(a, b) return a + b end\n"
			    "return setmetatable({}, mt) + 1"),
		  DR_HOOK_FAILED, "x.lua:1: C stack overflow");
}

TEST(infinite_loop)
{
	CHECK_RUN(run_small("while true do end"), DR_HOOK_INSTR_LIMIT,
		  "instruction limit (2000000) exceeded");
}

TEST(loop_in_pcall)
{
	CHECK_RUN(run_small("while true do pcall(function() while true do end end) end"),
		  DR_HOOK_INSTR_LIMIT, "instruction limit (2000000) exceeded");
}

TEST(xpcall_looping_handler)
{
	CHECK_RUN(run_small("while true do\n"
			    "  xpcall(function() while true do end end, function() while true do end end)\n"
			    "end"),
		  DR_HOOK_INSTR_LIMIT, "instruction limit (2000000) exceeded");
}

TEST(error_object_tostring_loop)
{
	CHECK_RUN(run_small("error(setmetatable({}, {__tostring = function() while true do end end}))"),
		  DR_HOOK_FAILED, "(error object is a table value)");
	CHECK_RUN(run_small("error(42)"), DR_HOOK_FAILED, "42");
}

TEST(close_metamethod_loop)
{
	CHECK_RUN(run_small("local x <close> = setmetatable({}, {__close = function()\n"
			    "  while true do pcall(function() while true do end end) end\n"
			    "end})\n"
			    "while true do end"),
		  DR_HOOK_INSTR_LIMIT, "instruction limit (2000000) exceeded");
}

TEST(coroutine_infinite_loop)
{
	CHECK_RUN(run_small("coroutine.wrap(function() while true do end end)()"),
		  DR_HOOK_INSTR_LIMIT, "instruction limit (2000000) exceeded");
	/* Nested coroutines inherit the count hook too. */
	CHECK_RUN(run_small("coroutine.wrap(function()\n"
			    "  coroutine.resume(coroutine.create(function() while true do end end))\n"
			    "end)()"),
		  DR_HOOK_INSTR_LIMIT, "instruction limit (2000000) exceeded");
}

TEST(coroutine_wrap_in_pcall)
{
	CHECK_RUN(run_small("while true do\n"
			    "  pcall(coroutine.wrap(function() while true do end end))\n"
			    "  coroutine.resume(coroutine.create(function() while true do end end))\n"
			    "end"),
		  DR_HOOK_INSTR_LIMIT, "instruction limit (2000000) exceeded");
}

TEST(yield_across_pcall)
{
	/* A bare yield at the top reaches the runner, which ends the hook. */
	CHECK_RUN(run_small("pcall(coroutine.yield, 'escape')"), DR_HOOK_FAILED,
		  "coroutine.yield() called outside a coroutine");
	/* Yielding in and out of a coroutine does not reset the budget. */
	CHECK_RUN(run_small("local co = coroutine.wrap(function()\n"
			    "  pcall(function() while true do coroutine.yield() end end)\n"
			    "end)\n"
			    "while true do co() end"),
		  DR_HOOK_INSTR_LIMIT, "instruction limit (2000000) exceeded");
}

TEST(wall_clock_timeout)
{
	dr_hook_opts o = base_opts();
	struct result r;

	o.timeout_ms = 1000;
	fake_step = 1; /* every clock read is 1 ms later */
	r = run_opts("while true do end", &o, NULL, NULL);
	CHECK_RUN(r, DR_HOOK_TIMEOUT, "timeout (1s) exceeded");
}

TEST(log_flood)
{
	struct result r = run("for i = 1, 1e6 do pcall(drplan.log, string.rep('x', 100)) end\n"
			      "drplan.output('survived', true)");

	CHECK_RUN(r, DR_HOOK_OUTPUT_LIMIT, "output limit (1 MiB) exceeded");
	CHECK_STR(r.outputs, "{}");
	CHECK_RUN(run("for i = 1, 1e6 do print(string.rep('y', 1000)) end"), DR_HOOK_OUTPUT_LIMIT,
		  "output limit (1 MiB) exceeded");
	CHECK_RUN(run("drplan.output('big', string.rep('z', 2 << 20))"), DR_HOOK_OUTPUT_LIMIT,
		  "output limit (1 MiB) exceeded");
}

TEST(output_overwrite_is_not_flood)
{
	CHECK_RUN(run("for i = 1, 20000 do drplan.output('k', string.rep('z', 1000)) end"),
		  DR_HOOK_OK, "");
}

TEST(gsub_huge_replacement)
{
	CHECK_RUN(run_small("local s = string.rep('x', 1000):gsub('x', string.rep('y', 1 << 20))"),
		  DR_HOOK_MEM_LIMIT, "memory limit (8 MiB) exceeded");
}

TEST(pattern_backtracking)
{
	/* Minutes of C time in lstrlib's matcher without the guard. */
	CHECK_RUN(run("local s = string.rep('a', 20000) return s:find('.-.-b')"), DR_HOOK_FAILED,
		  "x.lua:1: string.find: pattern '.-.-b' could backtrack for too long on 20000 bytes "
		  "(up to 8e+12 steps); anchor it with ^ or make it more specific");
	CHECK_RUN(run("local s = string.rep('a', 20000) for x in s:gmatch('a*a*a*b') do end"),
		  DR_HOOK_FAILED,
		  "x.lua:1: string.gmatch: pattern 'a*a*a*b' could backtrack for too long on 20000 "
		  "bytes (up to 1.6e+17 steps); anchor it with ^ or make it more specific");
	CHECK_RUN(run("local s = string.rep('a', 20000) return s:gsub('(a-)(a-)c', '')"), DR_HOOK_FAILED,
		  "x.lua:1: string.gsub: pattern '(a-)(a-)c' could backtrack for too long on 20000 "
		  "bytes (up to 8e+12 steps); anchor it with ^ or make it more specific");
	/* Ordinary patterns on big subjects pass. */
	CHECK_RUN(run("local s = ('k=v '):rep(100000) local n = 0\n"
		      "for k, v in s:gmatch('(%w+)=(%w+)') do n = n + 1 end assert(n == 100000)\n"
		      "assert(('  x  '):rep(100000):match('^%s*(.-)%s*$'):len() == 499996)\n"
		      "assert(s:find('.-.-b', 1, true) == nil)\n"
		      "assert(s:find('\"status\":%s*\"(%w+)\"') == nil)"),
		  DR_HOOK_OK, "");
	CHECK_RUN(run("return ('x'):find('[a')"), DR_HOOK_FAILED,
		  "x.lua:1: malformed pattern (missing ']')");
	CHECK_RUN(run("return ('x'):rep(3):gsub('x', '%2')"), DR_HOOK_FAILED,
		  "x.lua:1: invalid capture index %2");
}

TEST(pattern_cost)
{
	CHECK(dr_pattern_cost("aaaa", 4, "a", 1, 1) == 5);
	CHECK(dr_pattern_cost("aaaa", 4, "^a", 2, 1) == 1);
	CHECK(dr_pattern_cost("aaaa", 4, "^a", 2, 0) == 5);
	CHECK(dr_pattern_cost("aab a", 5, "a*", 2, 1) == 6 * 3);
	CHECK(dr_pattern_cost("aab a", 5, "[ab]+", 5, 1) == 6 * 4);
	CHECK(dr_pattern_cost("aab a", 5, "[^a]-", 5, 1) == 6 * 3);
	CHECK(dr_pattern_cost("aab a", 5, "%a*%s?", 6, 1) == 6 * 4 * 2);
	CHECK(dr_pattern_cost("aab a", 5, "%A*", 3, 1) == 6 * 2);
	CHECK(dr_pattern_cost("aab a", 5, "^(.-)%1$", 8, 1) == 6);
	CHECK(dr_pattern_cost("aab a", 5, "%b()", 4, 1) == 36);
	CHECK(dr_pattern_cost("aab a", 5, "%f[%a]%a+", 9, 1) == 6 * 4);
	CHECK(dr_pattern_cost("aab a", 5, "[a", 2, 1) == 0);
	CHECK(dr_pattern_cost("aab a", 5, "%", 1, 1) == 0);
	CHECK(dr_pattern_cost("a]]", 3, "[]]*", 4, 1) == 4 * 3);
}

TEST(table_walk_bombs)
{
	CHECK_RUN(run_small("table.move({}, 1, math.maxinteger, 2)"), DR_HOOK_FAILED,
		  "x.lua:1: table.move: range of 9223372036854775807 elements is too large for a hook");
	CHECK_RUN(run_small("table.insert(setmetatable({}, {__len = function() return 1 << 62 end}), 1, 'x')"),
		  DR_HOOK_FAILED, "x.lua:1: table length 4611686018427387904 is too large for a hook");
	CHECK_RUN(run_small("table.remove(setmetatable({}, {__len = function() return 1 << 62 end}), 1)"),
		  DR_HOOK_FAILED, "x.lua:1: table length 4611686018427387904 is too large for a hook");
	CHECK_RUN(run_small("local t = table.move({1, 2, 3}, 1, 3, 2) assert(t[4] == 3)"), DR_HOOK_OK, "");
}

TEST(os_time_date_safe)
{
	struct result r = run("drplan.output('t', type(os.time()))\n"
			      "drplan.output('d', os.date('!%Y-%m-%d', 0))\n"
			      "drplan.output('c', type(os.clock()))\n"
			      "drplan.output('tt', os.date('!*t', 86400).day)\n"
			      "drplan.output('keys', os.setlocale == nil and os.tmpname == nil)\n");

	CHECK_RUN(r, DR_HOOK_OK, "");
	CHECK_STR(r.outputs, "{\"c\":\"number\",\"d\":\"1970-01-01\",\"keys\":true,\"t\":\"number\",\"tt\":2}");
	CHECK_RUN(run("os.date('%Q')"), DR_HOOK_FAILED,
		  "x.lua:1: bad argument #1 to 'date' (invalid conversion specifier '%Q')");
}

TEST(globals_fresh_per_hook)
{
	CHECK_RUN(run("leaked = 'yes' string.upper = nil"), DR_HOOK_OK, "");
	CHECK_RUN(run("assert(leaked == nil and string.upper ~= nil)"), DR_HOOK_OK, "");
	/* Replacing string.format does not change drplan.log. */
	CHECK_STR(run("string.format = nil drplan.log('%d', 5)").log, "info: 5");
}

TEST(abort_while_waiting)
{
	dr_hook_opts o = base_opts();
	dr_hook *h;
	const char *src = "drplan.sleep(60)";

	CHECK_INT(dr_hook_new(&o, &h), 0);
	CHECK_INT(dr_hook_load_string(h, "x.lua", src, strlen(src)), 0);
	CHECK_INT(dr_hook_start(h), DR_HOOK_YIELDED);
	CHECK_STR(dr_hook_req_name(dr_hook_pending(h)->kind), "sleep");
	CHECK_INT(json_integer_value(json_object_get(dr_hook_pending(h)->params, "ms")), 60000);
	CHECK_INT(dr_hook_deadline(h), 1000 + DR_HOOK_DEFAULT_TIMEOUT_MS);
	CHECK_INT(dr_hook_abort(h, DR_HOOK_CANCELLED), DR_HOOK_DONE);
	CHECK_STR(dr_hook_outcome_get(h)->message, "cancelled");
	CHECK(dr_hook_pending(h) == NULL);
	dr_hook_free(h);

	CHECK_INT(dr_hook_new(&o, &h), 0);
	CHECK_INT(dr_hook_load_string(h, "x.lua", src, strlen(src)), 0);
	CHECK_INT(dr_hook_start(h), DR_HOOK_YIELDED);
	CHECK_INT(dr_hook_abort(h, DR_HOOK_TIMEOUT), DR_HOOK_DONE);
	CHECK_STR(dr_hook_outcome_get(h)->message, "timeout (10m) exceeded while waiting for sleep");
	dr_hook_free(h);
}

TEST(slices)
{
	dr_hook_opts o = base_opts();
	dr_hook *h;
	const char *src = "local x = 0 for i = 1, 1000000 do x = x + i end drplan.output('x', x)";
	int rc, slices = 0;

	o.slice_instr = 100000;
	CHECK_INT(dr_hook_new(&o, &h), 0);
	CHECK_INT(dr_hook_load_string(h, "x.lua", src, strlen(src)), 0);
	for (rc = dr_hook_start(h); rc == DR_HOOK_YIELDED; rc = dr_hook_complete(h, NULL)) {
		CHECK_STR(dr_hook_req_name(dr_hook_pending(h)->kind), "slice");
		slices++;
	}
	CHECK_INT(rc, DR_HOOK_DONE);
	CHECK_STR(dr_hook_outcome_get(h)->message, "");
	CHECK_INT(json_integer_value(json_object_get(dr_hook_outputs(h), "x")), 500000500000);
	/* Two VM instructions per iteration (ADD, FORLOOP): 2 million in
	 * slices of 100000. */
	CHECK_INT(slices, 20);
	dr_hook_free(h);

	/* Slices come only from the hook's own thread, never from inside a
	 * coroutine of the script or a C call. */
	o.slice_instr = 1000;
	CHECK_RUN(run_opts("local co = coroutine.wrap(function() for i = 1, 100000 do end return 7 end)\n"
			   "local t = {} for i = 1, 300 do t[i] = -i end\n"
			   "table.sort(t, function(a, b) for j = 1, 100 do end return a < b end)\n"
			   "assert(co() == 7 and t[1] == -300)", &o, NULL, NULL),
		  DR_HOOK_OK, "");

	/* The deadline passing between slices reads as a plain timeout. */
	o.slice_instr = 10000;
	o.timeout_ms = 1000;
	CHECK_INT(dr_hook_new(&o, &h), 0);
	CHECK_INT(dr_hook_load_string(h, "x.lua", "while true do end", 17), 0);
	CHECK_INT(dr_hook_start(h), DR_HOOK_YIELDED);
	fake_now += 1000;
	CHECK_INT(dr_hook_complete(h, NULL), DR_HOOK_DONE);
	CHECK_STR(dr_hook_outcome_get(h)->message, "timeout (1s) exceeded");
	dr_hook_free(h);
}

TEST(memory_released)
{
	dr_hook_opts o = base_opts();
	dr_hook *h;
	dr_hook_outcome out;
	const char *src = "local t = {} for i = 1, 1000 do t[i] = tostring(i) end";

	CHECK_INT(dr_hook_new(&o, &h), 0);
	CHECK_INT(dr_hook_load_string(h, "x.lua", src, strlen(src)), 0);
	CHECK_INT(dr_hook_run_sync(h, NULL, NULL, &out), 0);
	CHECK_INT(out.status, DR_HOOK_OK);
	CHECK_INT(dr_hook_mem_used(h), 0);
	CHECK(dr_hook_mem_peak(h) > 20000);
	CHECK(dr_hook_instructions(h) >= 1000);
	dr_hook_free(h);
}

int main(void)
{
	setup_files();
	RUN(completes);
	RUN(fail);
	RUN(fail_not_catchable);
	RUN(lua_error);
	RUN(load_file_chunkname);
	RUN(api_misuse);
	RUN(context_outputs_roundtrip);
	RUN(output_errors);
	RUN(json);
	RUN(env_allow_list);
	RUN(sleep_fake_clock);
	RUN(xpcall_still_works);
	RUN(timeout_while_sleeping);
	RUN(sleep_in_metamethod);
	RUN(network_requests);
	RUN(network_validation);
	RUN(require_modules);
	RUN(no_io);
	RUN(no_os_execute);
	RUN(no_os_remove);
	RUN(no_os_getenv);
	RUN(no_package_loadlib);
	RUN(require_dotdot);
	RUN(require_absolute);
	RUN(require_symlink_outside);
	RUN(no_dofile_loadfile);
	RUN(load_binary_refused);
	RUN(no_string_dump);
	RUN(setmetatable_on_api);
	RUN(rawset_on_api);
	RUN(context_nested_readonly);
	RUN(string_metatable_locked);
	RUN(no_debug);
	RUN(collectgarbage_restricted);
	RUN(gc_metamethod_refused);
	RUN(gc_metamethod_added_later);
	RUN(string_rep_bomb);
	RUN(string_doubling_bomb);
	RUN(table_growth_bomb);
	RUN(memory_bomb_in_pcall);
	RUN(deep_recursion);
	RUN(gsub_callback_recursion);
	RUN(metamethod_recursion);
	RUN(infinite_loop);
	RUN(loop_in_pcall);
	RUN(xpcall_looping_handler);
	RUN(error_object_tostring_loop);
	RUN(close_metamethod_loop);
	RUN(coroutine_infinite_loop);
	RUN(coroutine_wrap_in_pcall);
	RUN(yield_across_pcall);
	RUN(wall_clock_timeout);
	RUN(log_flood);
	RUN(output_overwrite_is_not_flood);
	RUN(gsub_huge_replacement);
	RUN(pattern_backtracking);
	RUN(pattern_cost);
	RUN(table_walk_bombs);
	RUN(os_time_date_safe);
	RUN(globals_fresh_per_hook);
	RUN(abort_while_waiting);
	RUN(slices);
	RUN(memory_released);
	cleanup_files();
	return test_summary();
}
