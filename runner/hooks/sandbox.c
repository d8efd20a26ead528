/*
 * sandbox.c - the Lua state of one hook run: allocator with a cap, library
 * allow-list, guards around the few library functions that could harm the
 * runner, the count hook that enforces the instruction and time limits, and
 * the coroutine driver. The drplan API itself is in api.c.
 */
#include "hooks/sandbox_int.h"

#include "hooks/patguard.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/parse.h"

#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* The value every drplan request yields, so that our coroutine wrappers can
 * tell a request from an ordinary coroutine.yield(). */
const char dr_hook_yield_key = 0;

/* Memory granted past the cap once it is hit, so that raising and
 * unwinding the error does not itself run out. */
#define MEM_RESERVE ((size_t)1 << 20)
/* Allocations at least this big also check the deadline. */
#define BIG_ALLOC ((size_t)64 << 10)
/* Longest hook or module file we read. */
#define MAX_SOURCE ((size_t)1 << 20)
/* Ranges the table functions may walk in C without running Lua code. */
#define MAX_TABLE_WALK ((lua_Integer)1 << 24)

static const char *const status_names[] = {
	[DR_HOOK_OK] = "ok",
	[DR_HOOK_FAILED] = "failed",
	[DR_HOOK_TIMEOUT] = "timeout",
	[DR_HOOK_INSTR_LIMIT] = "instruction-limit",
	[DR_HOOK_MEM_LIMIT] = "memory-limit",
	[DR_HOOK_OUTPUT_LIMIT] = "output-limit",
	[DR_HOOK_CANCELLED] = "cancelled",
};

static const char *const req_names[] = {
	[DR_HOOK_REQ_SLEEP] = "sleep",
	[DR_HOOK_REQ_HTTP] = "http",
	[DR_HOOK_REQ_TCP] = "tcp",
	[DR_HOOK_REQ_DNS] = "dns",
	[DR_HOOK_REQ_SLICE] = "slice",
};

const char *dr_hook_status_name(dr_hook_status st)
{
	return (unsigned)st < DR_HOOK__STATUS_COUNT ? status_names[st] : "?";
}

const char *dr_hook_req_name(dr_hook_req_kind k)
{
	return (unsigned)k < DR_HOOK__REQ_COUNT ? req_names[k] : "?";
}

dr_hook *dr_hook_of(lua_State *L)
{
	return *(dr_hook **)lua_getextraspace(L);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t dr_hook_now(const dr_hook *h)
{
	uint64_t t = h->o.clock_ms ? h->o.clock_ms(h->o.ud) : mono_ms();

	return t + h->fake_ms;
}

void dr_hook_fmt_bytes(size_t n, char *buf, size_t size)
{
	if (n >= (1u << 20) && n % (1u << 20) == 0)
		snprintf(buf, size, "%zu MiB", n >> 20);
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, size, "%zu KiB", n >> 10);
	else
		snprintf(buf, size, "%zu bytes", n);
}

/*
 * First stop wins: a timeout noticed while unwinding from drplan.fail()
 * must not change the outcome. With L, the current thread's count hook
 * fires on the very next instruction; other threads notice within one
 * count interval.
 */
void dr_hook_stop(dr_hook *h, lua_State *L, dr_hook_status st,
		  const char *fmt, ...)
{
	va_list ap;
	char buf[1024];

	if (h->stopping)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	h->stopping = 1;
	h->stop_status = st;
	h->stop_msg = dr_hook_redact(h, buf);
	if (L)
		lua_sethook(L, dr_hook_count_hook, LUA_MASKCOUNT, 1);
}

int dr_hook_raise_stop(lua_State *L)
{
	dr_hook *h = dr_hook_of(L);

	lua_sethook(L, dr_hook_count_hook, LUA_MASKCOUNT, 1);
	lua_pushstring(L, h->stop_msg);
	return lua_error(L);
}

static void stop_timeout(dr_hook *h, lua_State *L)
{
	char d[32];

	dr_format_duration(h->o.timeout_ms, d, sizeof(d));
	dr_hook_stop(h, L, DR_HOOK_TIMEOUT, "timeout (%s) exceeded", d);
}

static void stop_memory(dr_hook *h)
{
	char b[32];

	dr_hook_fmt_bytes(h->o.mem_cap, b, sizeof(b));
	dr_hook_stop(h, NULL, DR_HOOK_MEM_LIMIT, "memory limit (%s) exceeded", b);
}

static void *hook_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	dr_hook *h = ud;
	void *p;

	if (!ptr)
		osize = 0;
	if (nsize == 0) {
		free(ptr);
		h->mem_used -= osize;
		return NULL;
	}
	if (nsize > osize && h->enforce) {
		size_t limit = h->o.mem_cap + (h->stopping ? MEM_RESERVE : 0);

		if (h->mem_used - osize + nsize > limit) {
			stop_memory(h);
			return NULL;
		}
		/* Big C-side work (string.rep, gsub, concat) runs no Lua
		 * instructions; checking the clock here bounds it too. */
		if (nsize >= BIG_ALLOC && !h->stopping &&
		    dr_hook_now(h) >= h->deadline) {
			stop_timeout(h, NULL);
			return NULL;
		}
	}
	p = realloc(ptr, nsize);
	if (!p) {
		/* Lua assumes shrinking never fails. */
		if (nsize <= osize)
			return ptr;
		return NULL;
	}
	h->mem_used = h->mem_used - osize + nsize;
	if (h->mem_used > h->mem_peak)
		h->mem_peak = h->mem_used;
	return p;
}

void dr_hook_count_hook(lua_State *L, lua_Debug *ar)
{
	dr_hook *h = dr_hook_of(L);

	(void)ar;
	if (!h->stopping) {
		h->instr += h->o.count_interval;
		if (h->instr > h->o.instr_limit)
			dr_hook_stop(h, L, DR_HOOK_INSTR_LIMIT,
				     "instruction limit (%llu) exceeded",
				     (unsigned long long)h->o.instr_limit);
		else if (dr_hook_now(h) >= h->deadline)
			stop_timeout(h, L);
	}
	if (h->stopping)
		dr_hook_raise_stop(L);
	/* Only the hook's own thread yields to the runner: a coroutine of
	 * the script would hand the yield to the script instead. */
	if (h->slice_left > h->o.count_interval) {
		h->slice_left -= h->o.count_interval;
	} else if (L == h->co && lua_isyieldable(L)) {
		h->slice_left = h->o.slice_instr;
		json_decref(h->req_params);
		h->req_params = json_object();
		h->req.kind = DR_HOOK_REQ_SLICE;
		h->req.params = h->req_params;
		h->has_req = 1;
		lua_yield(L, 0);
	}
}

static int panic_fn(lua_State *L)
{
	fprintf(stderr, "drplan: unprotected error in a Lua hook: %s\n",
		lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
	abort();
}

/* ---- guards around library functions -------------------------------- */

/* Does msg start with "chunk:line:"? */
static int has_position(const char *msg)
{
	const char *c = strchr(msg, ':');

	if (!c || c == msg || c[1] < '0' || c[1] > '9')
		return 0;
	for (c++; *c >= '0' && *c <= '9'; c++)
		;
	return *c == ':';
}

/*
 * Call the original library function (upvalue 1, its name upvalue 2).
 * Called from C, it cannot see the script's position or its own name, so
 * its errors would read "bad argument #1 to '?'"; put both back.
 */
static int call_orig(lua_State *L)
{
	int n = lua_gettop(L);
	const char *msg, *name = lua_tostring(L, lua_upvalueindex(2));

	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	if (lua_pcall(L, n, LUA_MULTRET, 0) == LUA_OK)
		return lua_gettop(L);
	if (dr_hook_of(L)->stopping)
		return dr_hook_raise_stop(L);
	if (lua_type(L, -1) != LUA_TSTRING)
		return lua_error(L);
	msg = lua_tostring(L, -1);
	if (strstr(msg, "to '?'")) {
		lua_pushfstring(L, "to '%s'", name);
		msg = luaL_gsub(L, msg, "to '?'", lua_tostring(L, -1));
	}
	if (!has_position(msg)) {
		luaL_where(L, 1);
		lua_pushstring(L, msg);
		lua_concat(L, 2);
	}
	return lua_error(L);
}

/* Tables hooks are not allowed to write to, even with rawset. */
static int is_guarded(lua_State *L, int idx)
{
	if (dr_lua_readonly_backing(L, idx)) {
		lua_pop(L, 1);
		return 1;
	}
	if (lua_type(L, idx) != LUA_TTABLE)
		return 0;
	lua_rawgetp(L, LUA_REGISTRYINDEX, &dr_hook_outputs_key);
	int same = lua_rawequal(L, idx, -1);
	lua_pop(L, 1);
	return same;
}

static int g_setmetatable(lua_State *L)
{
	/* A __gc metamethod would run with hooks disabled (inside the
	 * collector or lua_close), out of reach of every limit. */
	if (lua_type(L, 2) == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "setmetatable: __gc metamethods are not allowed in hooks");
		lua_pop(L, 1);
	}
	if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
		return luaL_error(L, "cannot change a protected metatable");
	return call_orig(L);
}

static int g_rawset(lua_State *L)
{
	if (is_guarded(L, 1))
		return luaL_error(L, "rawset: table is read-only");
	return call_orig(L);
}

static int g_collectgarbage(lua_State *L)
{
	const char *opt = luaL_optstring(L, 1, "collect");

	/* A full collection of a big heap costs milliseconds of C time per
	 * call, and stopping the collector only helps memory bombs. */
	if (strcmp(opt, "count") != 0)
		return luaL_error(L, "collectgarbage('%s') is not allowed in hooks", opt);
	return call_orig(L);
}

static int g_load(lua_State *L)
{
	int n = lua_gettop(L);

	/* Text only: binary chunks can crash the VM. An explicit env (4th
	 * argument) is kept; without one the chunk sees the hook's globals,
	 * which are the sandbox anyway. */
	if (n < 3)
		lua_settop(L, 3);
	lua_pushliteral(L, "t");
	lua_replace(L, 3);
	return call_orig(L);
}

static int g_string_rep(lua_State *L)
{
	size_t l, lsep = 0;
	lua_Integer n;

	luaL_checklstring(L, 1, &l);
	n = luaL_checkinteger(L, 2);
	luaL_optlstring(L, 3, "", &lsep);
	/* rep of an empty string loops n times in C without allocating. */
	if (n <= 0 || l + lsep == 0) {
		lua_pushliteral(L, "");
		return 1;
	}
	return call_orig(L);
}

/* string.find/match/gmatch/gsub: refuse patterns that could backtrack for
 * long in C, where no limit reaches them (patguard.h). */
static int g_pattern(lua_State *L)
{
	const char *name = lua_tostring(L, lua_upvalueindex(2));
	size_t ls, lp;
	const char *s = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	double cost;
	char msg[256];

	if (!strcmp(name, "find") && lua_toboolean(L, 4))
		return call_orig(L);
	cost = dr_pattern_cost(s, ls, p, lp, strcmp(name, "gmatch") != 0);
	if (cost > DR_PATTERN_MAX_STEPS) {
		snprintf(msg, sizeof(msg), "string.%s: pattern '%.40s' could backtrack for "
			 "too long on %zu bytes (up to %.2g steps); anchor it with ^ or "
			 "make it more specific", name, p, ls, cost);
		return luaL_error(L, "%s", msg);
	}
	return call_orig(L);
}

static int g_table_move(lua_State *L)
{
	lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);

	if (e >= f && (lua_Unsigned)e - (lua_Unsigned)f >= (lua_Unsigned)MAX_TABLE_WALK)
		return luaL_error(L, "table.move: range of %I elements is too large for a hook",
				  (lua_Integer)((lua_Unsigned)e - (lua_Unsigned)f + 1));
	return call_orig(L);
}

static int g_table_shift(lua_State *L)
{
	/* insert/remove shift up to #t elements in C; a __len that lies
	 * would make that an endless loop. */
	if (lua_type(L, 1) == LUA_TTABLE) {
		lua_Integer n = luaL_len(L, 1);

		if (n > MAX_TABLE_WALK || n < 0)
			return luaL_error(L, "table length %I is too large for a hook", n);
	}
	return call_orig(L);
}

/*
 * An error raised by the count hook calls the xpcall message handler while
 * Lua still counts us as inside the hook, where no hook runs: a handler
 * that loops would never be stopped. Once stopping, the error goes past the
 * script's handler untouched.
 */
static int xpcall_handler(lua_State *L)
{
	if (dr_hook_of(L)->stopping)
		return 1;
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

static int finish_pcall(lua_State *L, int status, lua_KContext extra)
{
	if (status != LUA_OK && status != LUA_YIELD) {
		lua_pushboolean(L, 0);
		lua_pushvalue(L, -2);
		return 2;
	}
	return lua_gettop(L) - (int)extra;
}

/* lbaselib's xpcall (yieldable) with the handler wrapped. */
static int g_xpcall(lua_State *L)
{
	int n = lua_gettop(L);

	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 2);
	lua_pushcclosure(L, xpcall_handler, 1);
	lua_replace(L, 2);
	lua_pushboolean(L, 1);
	lua_pushvalue(L, 1);
	lua_rotate(L, 3, 2);
	return finish_pcall(L, lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, finish_pcall), 2);
}

static void wrap_field(lua_State *L, int tidx, const char *name, lua_CFunction fn)
{
	tidx = lua_absindex(L, tidx);
	lua_getfield(L, tidx, name);
	lua_pushstring(L, name);
	lua_pushcclosure(L, fn, 2);
	lua_setfield(L, tidx, name);
}

/* Lua code that runs once per state before the hook: coroutine wrappers
 * that pass drplan requests up from nested coroutines, and require(). */
static const char prelude[] =
	"local SENTINEL, loadmod = ...\n"
	"local create, resume, yield, status = coroutine.create, coroutine.resume,\n"
	"  coroutine.yield, coroutine.status\n"
	"local pack, unpack, error, pcall = table.pack, table.unpack, error, pcall\n"
	"local function pass(co, r)\n"
	"  while r[1] and r.n == 2 and r[2] == SENTINEL and status(co) == 'suspended' do\n"
	"    r = pack(resume(co, yield(SENTINEL)))\n"
	"  end\n"
	"  return r\n"
	"end\n"
	"coroutine.resume = function(co, ...)\n"
	"  local r = pass(co, pack(resume(co, ...)))\n"
	"  return unpack(r, 1, r.n)\n"
	"end\n"
	"coroutine.wrap = function(f)\n"
	"  local co = create(f)\n"
	"  return function(...)\n"
	"    local r = pass(co, pack(resume(co, ...)))\n"
	"    if r[1] then return unpack(r, 2, r.n) end\n"
	"    error(r[2], 0)\n"
	"  end\n"
	"end\n"
	"local loaded, LOADING = {}, {}\n"
	"require = function(name)\n"
	"  local v = loaded[name]\n"
	"  if v == LOADING then\n"
	"    error(\"require: module '\" .. name .. \"' requires itself\", 2)\n"
	"  end\n"
	"  if v ~= nil then return v end\n"
	"  local f = loadmod(name)\n"
	"  loaded[name] = LOADING\n"
	"  local ok, r = pcall(f, name)\n"
	"  if not ok then loaded[name] = nil; error(r, 0) end\n"
	"  if r == nil then r = true end\n"
	"  loaded[name] = r\n"
	"  return r\n"
	"end\n";

static int setup(lua_State *L)
{
	static const luaL_Reg libs[] = {
		{ LUA_GNAME, luaopen_base },
		{ LUA_TABLIBNAME, luaopen_table },
		{ LUA_STRLIBNAME, luaopen_string },
		{ LUA_MATHLIBNAME, luaopen_math },
		{ LUA_UTF8LIBNAME, luaopen_utf8 },
		{ LUA_COLIBNAME, luaopen_coroutine },
	};
	static const char *const base_removed[] = {
		"dofile", "loadfile", "warn", "print",
	};
	static const char *const os_kept[] = { "time", "clock", "date" };
	size_t i;

	for (i = 0; i < DR_ARRAY_SIZE(libs); i++) {
		luaL_requiref(L, libs[i].name, libs[i].func, 1);
		lua_pop(L, 1);
	}
	/* os: only the clock functions; luaopen_os is not kept as a global. */
	luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
	lua_createtable(L, 0, 3);
	for (i = 0; i < DR_ARRAY_SIZE(os_kept); i++) {
		lua_getfield(L, -2, os_kept[i]);
		lua_setfield(L, -2, os_kept[i]);
	}
	lua_setglobal(L, LUA_OSLIBNAME);
	lua_pop(L, 1);

	lua_pushglobaltable(L);
	for (i = 0; i < DR_ARRAY_SIZE(base_removed); i++) {
		lua_pushnil(L);
		lua_setfield(L, -2, base_removed[i]);
	}
	wrap_field(L, -1, "setmetatable", g_setmetatable);
	wrap_field(L, -1, "rawset", g_rawset);
	wrap_field(L, -1, "collectgarbage", g_collectgarbage);
	wrap_field(L, -1, "load", g_load);
	lua_pushcfunction(L, g_xpcall);
	lua_setfield(L, -2, "xpcall");
	lua_pop(L, 1);

	lua_getglobal(L, LUA_STRLIBNAME);
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");
	wrap_field(L, -1, "rep", g_string_rep);
	wrap_field(L, -1, "find", g_pattern);
	wrap_field(L, -1, "match", g_pattern);
	wrap_field(L, -1, "gmatch", g_pattern);
	wrap_field(L, -1, "gsub", g_pattern);
	/* Keep string.format for drplan.log even if the hook replaces it. */
	lua_getfield(L, -1, "format");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &dr_hook_format_key);
	lua_pop(L, 1);
	lua_getglobal(L, LUA_TABLIBNAME);
	wrap_field(L, -1, "move", g_table_move);
	wrap_field(L, -1, "insert", g_table_shift);
	wrap_field(L, -1, "remove", g_table_shift);
	lua_pop(L, 1);

	/* Lock the string metatable: it is shared by every string. */
	lua_pushliteral(L, "");
	if (lua_getmetatable(L, -1)) {
		lua_pushliteral(L, "locked");
		lua_setfield(L, -2, "__metatable");
		lua_pop(L, 1);
	}
	lua_pop(L, 1);

	dr_lua_json_setup(L);
	dr_hook_api_open(L);

	if (luaL_loadbufferx(L, prelude, sizeof(prelude) - 1, "=prelude", "t"))
		return lua_error(L);
	lua_pushlightuserdata(L, (void *)&dr_hook_yield_key);
	lua_pushcfunction(L, dr_hook_loadmod);
	lua_call(L, 2, 0);
	return 0;
}

/* ---- lifecycle ------------------------------------------------------- */

int dr_hook_new(const dr_hook_opts *opts, dr_hook **out)
{
	dr_hook *h = dr_xcalloc(1, sizeof(*h));
	size_t n = 0;

	*out = NULL;
	if (opts)
		h->o = *opts;
	if (!h->o.mem_cap)
		h->o.mem_cap = DR_HOOK_DEFAULT_MEM_CAP;
	if (!h->o.instr_limit)
		h->o.instr_limit = DR_HOOK_DEFAULT_INSTR_LIMIT;
	if (!h->o.timeout_ms)
		h->o.timeout_ms = DR_HOOK_DEFAULT_TIMEOUT_MS;
	if (!h->o.output_cap)
		h->o.output_cap = DR_HOOK_DEFAULT_OUTPUT_CAP;
	if (!h->o.count_interval)
		h->o.count_interval = DR_HOOK_DEFAULT_COUNT_INTERVAL;
	if (!h->o.slice_instr)
		h->o.slice_instr = DR_HOOK_DEFAULT_SLICE_INSTR;
	h->slice_left = h->o.slice_instr;
	h->lua_dir = h->o.lua_dir ? dr_xstrdup(h->o.lua_dir) : NULL;
	h->lua_dir_display = dr_xstrdup(h->o.lua_dir_display ? h->o.lua_dir_display : "lua");
	h->o.lua_dir = h->lua_dir;
	h->o.lua_dir_display = h->lua_dir_display;
	while (h->o.env && h->o.env[n])
		n++;
	h->env = dr_xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		h->env[i] = dr_xstrdup(h->o.env[i]);
	h->o.env = (const char *const *)h->env;
	h->outputs = json_object();
	h->outcome.message = "";
	h->deadline = UINT64_MAX;

	h->L = lua_newstate(hook_alloc, h);
	if (!h->L) {
		dr_hook_free(h);
		return dr_error_set(DR_ENOMEM, "cannot create a Lua state");
	}
	*(dr_hook **)lua_getextraspace(h->L) = h;
	lua_atpanic(h->L, panic_fn);
	lua_pushcfunction(h->L, setup);
	if (lua_pcall(h->L, 0, 0, 0)) {
		int rc = dr_error_set(DR_ERR, "cannot set up the Lua sandbox: %s",
				      lua_tostring(h->L, -1));
		dr_hook_free(h);
		return rc;
	}
	/* Threads copy the hook of the thread that creates them (lstate.c,
	 * lua_newthread), so every coroutine the script makes is counted. */
	lua_sethook(h->L, dr_hook_count_hook, LUA_MASKCOUNT, (int)h->o.count_interval);
	h->co = lua_newthread(h->L);
	h->co_ref = luaL_ref(h->L, LUA_REGISTRYINDEX);
	h->state = DR_HOOK_ST_NEW;
	*out = h;
	return 0;
}

static void close_state(dr_hook *h)
{
	if (h->L) {
		h->enforce = 0;
		lua_close(h->L);
		h->L = NULL;
		h->co = NULL;
	}
}

void dr_hook_free(dr_hook *h)
{
	size_t i;

	if (!h)
		return;
	close_state(h);
	json_decref(h->req_params);
	json_decref(h->tmp);
	json_decref(h->outputs);
	for (i = 0; i < h->nlines; i++)
		free((char *)h->lines[i].text);
	free(h->lines);
	for (i = 0; i < h->nsecrets; i++)
		free(h->secrets[i]);
	free(h->secrets);
	for (i = 0; h->env && h->env[i]; i++)
		free(h->env[i]);
	free(h->env);
	free(h->lua_dir);
	free(h->lua_dir_display);
	free(h->stop_msg);
	free(h->outcome_msg);
	free(h);
}

/* ---- loading --------------------------------------------------------- */

int dr_hook_read_source(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *b;
	size_t n;

	*buf = NULL;
	if (!f)
		return dr_error_set(DR_EIO, "%s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		fclose(f);
		return dr_error_set(DR_EIO, "%s: not a regular file", path);
	}
	if ((size_t)st.st_size > MAX_SOURCE) {
		fclose(f);
		return dr_error_set(DR_ELIMIT, "%s: larger than %zu bytes", path, MAX_SOURCE);
	}
	b = dr_xmalloc((size_t)st.st_size + 1);
	n = fread(b, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		fclose(f);
		free(b);
		return dr_error_set(DR_EIO, "%s: %s", path, strerror(errno));
	}
	fclose(f);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

int dr_hook_load_string(dr_hook *h, const char *name, const char *src, size_t len)
{
	char *chunkname;
	int st;

	if (h->state != DR_HOOK_ST_NEW || !h->L)
		return dr_error_set(DR_EINVAL, "hook already loaded");
	chunkname = dr_xmalloc(strlen(name) + 2);
	chunkname[0] = '@';
	strcpy(chunkname + 1, name);
	if (len && src[0] == LUA_SIGNATURE[0]) {
		free(chunkname);
		return dr_error_set(DR_EINVAL, "%s: binary chunks are not allowed", name);
	}
	st = luaL_loadbufferx(h->L, src, len, chunkname, "t");
	free(chunkname);
	if (st != LUA_OK) {
		int rc = dr_error_set(DR_EINVAL, "%s", lua_tostring(h->L, -1));
		lua_pop(h->L, 1);
		return rc;
	}
	h->chunk_ref = luaL_ref(h->L, LUA_REGISTRYINDEX);
	h->state = DR_HOOK_ST_LOADED;
	return 0;
}

int dr_hook_load_file(dr_hook *h, const char *path)
{
	char *buf;
	size_t len;
	int rc = dr_hook_read_source(path, &buf, &len);

	if (rc)
		return rc;
	rc = dr_hook_load_string(h, path, buf, len);
	free(buf);
	return rc;
}

/* ---- running --------------------------------------------------------- */

static void finish(dr_hook *h, dr_hook_status st, const char *msg)
{
	h->outcome.status = st;
	free(h->outcome_msg);
	h->outcome_msg = dr_hook_redact(h, msg);
	h->outcome.message = h->outcome_msg;
	h->state = DR_HOOK_ST_DONE;
	h->has_req = 0;
	close_state(h);
}

/* The text of an error object, without calling any metamethod: a
 * __tostring that loops would run outside the limits here. */
static void error_text(lua_State *L, int idx, char *buf, size_t size)
{
	if (lua_type(L, idx) == LUA_TSTRING)
		snprintf(buf, size, "%s", lua_tostring(L, idx));
	else if (lua_isinteger(L, idx))
		snprintf(buf, size, "%lld", (long long)lua_tointeger(L, idx));
	else if (lua_type(L, idx) == LUA_TNUMBER)
		snprintf(buf, size, "%.14g", (double)lua_tonumber(L, idx));
	else
		snprintf(buf, size, "(error object is a %s value)", luaL_typename(L, idx));
}

static int run(dr_hook *h, int nargs)
{
	int nres = 0, st;
	char msg[2048];

	h->enforce = 1;
	st = lua_resume(h->co, h->L, nargs, &nres);
	h->enforce = 0;
	if (h->stopping) {
		finish(h, h->stop_status, h->stop_msg);
		return DR_HOOK_DONE;
	}
	switch (st) {
	case LUA_YIELD:
		if (h->has_req && ((nres == 1 &&
		    lua_touserdata(h->co, -1) == (void *)&dr_hook_yield_key) ||
		    (nres == 0 && h->req.kind == DR_HOOK_REQ_SLICE))) {
			lua_pop(h->co, nres);
			h->state = DR_HOOK_ST_YIELDED;
			return DR_HOOK_YIELDED;
		}
		finish(h, DR_HOOK_FAILED, "coroutine.yield() called outside a coroutine");
		return DR_HOOK_DONE;
	case LUA_OK:
		finish(h, DR_HOOK_OK, "");
		return DR_HOOK_DONE;
	default:
		error_text(h->co, -1, msg, sizeof(msg));
		finish(h, st == LUA_ERRMEM ? DR_HOOK_MEM_LIMIT : DR_HOOK_FAILED, msg);
		return DR_HOOK_DONE;
	}
}

int dr_hook_start(dr_hook *h)
{
	if (h->state == DR_HOOK_ST_NEW)
		return dr_error_set(DR_EINVAL, "no hook loaded");
	if (h->state != DR_HOOK_ST_LOADED)
		return dr_error_set(DR_EINVAL, "hook already started");
	h->start = dr_hook_now(h);
	h->deadline = h->start + h->o.timeout_ms;
	lua_rawgeti(h->L, LUA_REGISTRYINDEX, h->chunk_ref);
	lua_xmove(h->L, h->co, 1);
	h->state = DR_HOOK_ST_RUNNING;
	return run(h, 0);
}

const dr_hook_request *dr_hook_pending(const dr_hook *h)
{
	return h->state == DR_HOOK_ST_YIELDED && h->has_req ? &h->req : NULL;
}

struct push_result {
	const json_t *result;
	dr_hook_req_kind kind;
};

static int push_result(lua_State *L)
{
	struct push_result *pr = lua_touserdata(L, 1);
	json_t *err;

	lua_settop(L, 0);
	if (pr->kind == DR_HOOK_REQ_SLEEP || pr->kind == DR_HOOK_REQ_SLICE || !pr->result)
		return 0;
	err = json_object_get(pr->result, "error");
	if (json_is_object(pr->result) && json_is_string(err)) {
		lua_pushnil(L);
		lua_pushstring(L, json_string_value(err));
		return 2;
	}
	dr_lua_push_json(L, pr->result, 0);
	return 1;
}

int dr_hook_complete(dr_hook *h, const json_t *result)
{
	struct push_result pr = { result, h->req.kind };
	int top, n;

	if (h->state != DR_HOOK_ST_YIELDED)
		return dr_error_set(DR_EINVAL, "hook is not waiting for a result");
	if (dr_hook_now(h) >= h->deadline)
		return dr_hook_abort(h, DR_HOOK_TIMEOUT);
	h->has_req = 0;
	top = lua_gettop(h->L);
	lua_pushcfunction(h->L, push_result);
	lua_pushlightuserdata(h->L, &pr);
	if (lua_pcall(h->L, 1, LUA_MULTRET, 0)) {
		char msg[512];

		snprintf(msg, sizeof(msg), "cannot pass the %s result to the hook: %s",
			 dr_hook_req_name(h->req.kind), lua_tostring(h->L, -1));
		finish(h, DR_HOOK_FAILED, msg);
		return DR_HOOK_DONE;
	}
	n = lua_gettop(h->L) - top;
	lua_xmove(h->L, h->co, n);
	h->state = DR_HOOK_ST_RUNNING;
	return run(h, n);
}

int dr_hook_abort(dr_hook *h, dr_hook_status why)
{
	char d[32], msg[128];

	if (h->state == DR_HOOK_ST_DONE)
		return dr_error_set(DR_EINVAL, "hook already finished");
	if (why == DR_HOOK_TIMEOUT) {
		dr_format_duration(h->o.timeout_ms, d, sizeof(d));
		if (h->state == DR_HOOK_ST_YIELDED && h->req.kind != DR_HOOK_REQ_SLICE)
			snprintf(msg, sizeof(msg), "timeout (%s) exceeded while waiting for %s",
				 d, dr_hook_req_name(h->req.kind));
		else
			snprintf(msg, sizeof(msg), "timeout (%s) exceeded", d);
		finish(h, DR_HOOK_TIMEOUT, msg);
	} else {
		finish(h, DR_HOOK_CANCELLED, "cancelled");
	}
	return DR_HOOK_DONE;
}

uint64_t dr_hook_deadline(const dr_hook *h)
{
	return h->deadline;
}

const dr_hook_outcome *dr_hook_outcome_get(const dr_hook *h)
{
	return &h->outcome;
}

const json_t *dr_hook_outputs(const dr_hook *h)
{
	return h->outputs;
}

size_t dr_hook_log_count(const dr_hook *h)
{
	return h->nlines;
}

const dr_hook_log_line *dr_hook_log_at(const dr_hook *h, size_t i)
{
	return i < h->nlines ? &h->lines[i] : NULL;
}

uint64_t dr_hook_instructions(const dr_hook *h)
{
	return h->instr;
}

size_t dr_hook_mem_used(const dr_hook *h)
{
	return h->mem_used;
}

size_t dr_hook_mem_peak(const dr_hook *h)
{
	return h->mem_peak;
}

uint64_t dr_hook_fake_elapsed(const dr_hook *h)
{
	return h->fake_ms;
}

/* ---- synchronous driver ---------------------------------------------- */

static json_t *default_result(dr_hook *h, const dr_hook_request *req)
{
	if (req->kind == DR_HOOK_REQ_SLEEP) {
		json_int_t ms = json_integer_value(json_object_get(req->params, "ms"));

		/* Fake clock: time passes for the hook's deadline, nobody waits. */
		h->fake_ms += (uint64_t)(ms > 0 ? ms : 0);
		return NULL;
	}
	return json_pack("{s:s+}", "error", dr_hook_req_name(req->kind),
			 " requests are not served here");
}

int dr_hook_run_sync(dr_hook *h, dr_hook_serve_fn serve, void *ctx,
		     dr_hook_outcome *outcome)
{
	int rc = dr_hook_start(h);

	while (rc == DR_HOOK_YIELDED) {
		const dr_hook_request *req = dr_hook_pending(h);
		json_t *result = NULL;
		int src;

		if (req->kind == DR_HOOK_REQ_SLICE) {
			rc = dr_hook_complete(h, NULL);
			continue;
		}
		src = serve ? serve(ctx, h, req, &result) : DR_ENOTFOUND;

		if (src == DR_ENOTFOUND) {
			json_decref(result);
			result = default_result(h, req);
		} else if (src < 0) {
			json_decref(result);
			rc = dr_hook_abort(h, DR_HOOK_CANCELLED);
			break;
		}
		rc = dr_hook_complete(h, result);
		json_decref(result);
	}
	if (rc < 0)
		return rc;
	if (outcome)
		*outcome = h->outcome;
	return 0;
}
