/*
 * api.c - the drplan table a hook sees: log, fail, output(s), env, sleep,
 * json, and the http/tcp/dns requests the runner serves; plus require().
 *
 * Every function first checks whether the run is stopping and, if so,
 * raises again, so a pcall around a drplan call cannot keep a stopped hook
 * alive. No C allocation is ever live across a call that can raise (a
 * Lua error is a longjmp): JSON values being built are parked in h->tmp,
 * which the next use and dr_hook_free() release.
 */
#include "hooks/sandbox_int.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/strbuf.h"

#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char dr_hook_outputs_key = 0;
const char dr_hook_format_key = 0;
static const char drplan_key = 0; /* the backing table of drplan */

#define MAX_SECONDS 86400.0
#define MAX_NET_TIMEOUT 300.0
#define MAX_URL 8192
#define MAX_OUTPUT_KEY 128

/* Secrets shorter than this are not redacted: replacing every "a" or "1"
 * in the log would hide more than it protects. */
#define MIN_SECRET 3

static void park(dr_hook *h, json_t *j)
{
	json_decref(h->tmp);
	h->tmp = j;
}

static json_t *unpark(dr_hook *h)
{
	json_t *j = h->tmp;

	h->tmp = NULL;
	return j;
}

static dr_hook *api_enter(lua_State *L)
{
	dr_hook *h = dr_hook_of(L);

	if (h->stopping)
		dr_hook_raise_stop(L);
	park(h, NULL);
	return h;
}

char *dr_hook_redact(const dr_hook *h, const char *s)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	const char *p = s;

	if (!h->nsecrets)
		return dr_xstrdup(s);
	while (*p) {
		size_t i, best = 0;

		for (i = 0; i < h->nsecrets; i++) {
			size_t n = strlen(h->secrets[i]);

			if (n > best && !strncmp(p, h->secrets[i], n))
				best = n;
		}
		if (best) {
			dr_strbuf_addstr(&sb, "***");
			p += best;
		} else {
			dr_strbuf_addch(&sb, *p++);
		}
	}
	return dr_strbuf_detach(&sb, NULL);
}

static void redact_json(const dr_hook *h, json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_string(j)) {
		char *r = dr_hook_redact(h, json_string_value(j));

		json_string_set(j, r);
		free(r);
	} else if (json_is_object(j)) {
		json_object_foreach(j, k, v)
			redact_json(h, v);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			redact_json(h, v);
	}
}

/* Count n more bytes of output, or stop the run. */
static void charge_output(dr_hook *h, lua_State *L, size_t n)
{
	char b[32];

	if (n > h->o.output_cap - h->out_bytes) {
		dr_hook_fmt_bytes(h->o.output_cap, b, sizeof(b));
		dr_hook_stop(h, L, DR_HOOK_OUTPUT_LIMIT, "output limit (%s) exceeded", b);
		dr_hook_raise_stop(L);
	}
	h->out_bytes += n;
}

/* ---- log, print, fail ------------------------------------------------ */

static const char *const levels[] = { "debug", "info", "warn", "error" };

static void add_line(dr_hook *h, lua_State *L, const char *level, int idx)
{
	struct timespec ts;
	size_t len;
	const char *s = lua_tolstring(L, idx, &len);

	charge_output(h, L, len);
	clock_gettime(CLOCK_REALTIME, &ts);
	DR_ALLOC_GROW(h->lines, h->nlines + 1, h->alines);
	h->lines[h->nlines].unix_ms = (uint64_t)ts.tv_sec * 1000 +
				      (uint64_t)ts.tv_nsec / 1000000 + h->fake_ms;
	h->lines[h->nlines].level = level;
	h->lines[h->nlines].text = dr_hook_redact(h, s);
	h->nlines++;
}

/* drplan.log([level,] fmt, ...): with one argument it is the text as is;
 * with more, string.format(fmt, ...). */
static int api_log(lua_State *L)
{
	dr_hook *h = api_enter(L);
	const char *level = "info";
	int first = 1, n = lua_gettop(L);
	size_t i;

	if (n >= 2 && lua_type(L, 1) == LUA_TSTRING) {
		for (i = 0; i < DR_ARRAY_SIZE(levels); i++)
			if (!strcmp(lua_tostring(L, 1), levels[i]))
				level = levels[i], first = 2;
	}
	if (first > n)
		return luaL_error(L, "drplan.log: missing message");
	if (n - first >= 1) {
		lua_rawgetp(L, LUA_REGISTRYINDEX, &dr_hook_format_key);
		for (int a = first; a <= n; a++)
			lua_pushvalue(L, a);
		lua_call(L, n - first + 1, 1);
	} else {
		luaL_tolstring(L, first, NULL);
	}
	add_line(h, L, level, -1);
	return 0;
}

static int api_print(lua_State *L)
{
	dr_hook *h = api_enter(L);
	int n = lua_gettop(L);
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	add_line(h, L, "info", -1);
	return 0;
}

/* drplan.fail(msg) ends the hook: like any limit, pcall cannot catch it. */
static int api_fail(lua_State *L)
{
	dr_hook *h = api_enter(L);
	const char *msg = lua_isnoneornil(L, 1) ? "drplan.fail() called"
						 : luaL_tolstring(L, 1, NULL);

	luaL_where(L, 1);
	dr_hook_stop(h, L, DR_HOOK_FAILED, "%s%s", lua_tostring(L, -1), msg);
	return dr_hook_raise_stop(L);
}

/* ---- outputs --------------------------------------------------------- */

static int set_output(lua_State *L, dr_hook *h, int kidx, int vidx)
{
	char err[128];
	const char *key;
	size_t klen, size, old = 0;
	json_t *v, *prev;

	if (lua_type(L, kidx) != LUA_TSTRING)
		return luaL_error(L, "drplan.output: key must be a string");
	key = lua_tolstring(L, kidx, &klen);
	if (klen == 0 || klen > MAX_OUTPUT_KEY || strlen(key) != klen)
		return luaL_error(L, "drplan.output: key must be 1 to %d characters",
				  MAX_OUTPUT_KEY);
	v = dr_lua_to_json(L, vidx, err, sizeof(err));
	if (!v)
		return luaL_error(L, "drplan.output: '%s': %s", key, err);
	park(h, v);
	size = klen + json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	prev = json_object_get(h->outputs, key);
	if (prev)
		old = klen + json_dumpb(prev, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	h->out_bytes -= old;
	charge_output(h, L, size);
	v = unpark(h);
	redact_json(h, v);
	if (json_object_set_new(h->outputs, key, v))
		return luaL_error(L, "drplan.output: key is not valid UTF-8");
	return 0;
}

/* drplan.output(key, value): value must be JSON-able. */
static int api_output(lua_State *L)
{
	dr_hook *h = api_enter(L);

	lua_settop(L, 2);
	return set_output(L, h, 1, 2);
}

static int outputs_newindex(lua_State *L)
{
	return set_output(L, api_enter(L), 2, 3);
}

static int outputs_index(lua_State *L)
{
	dr_hook *h = api_enter(L);

	if (lua_type(L, 2) != LUA_TSTRING)
		return 0;
	dr_lua_push_json(L, json_object_get(h->outputs, lua_tostring(L, 2)), 0);
	return 1;
}

/* ---- env ------------------------------------------------------------- */

static int api_env(lua_State *L)
{
	dr_hook *h = api_enter(L);
	const char *name = luaL_checkstring(L, 1), *val;
	size_t i;

	for (i = 0; h->env[i]; i++)
		if (!strcmp(h->env[i], name))
			break;
	if (!h->env[i])
		return luaL_error(L, "drplan.env: '%s' is not listed in the action's env:", name);
	val = h->o.getenv_fn ? h->o.getenv_fn(h->o.ud, name) : getenv(name);
	if (!val) {
		lua_pushnil(L);
		return 1;
	}
	if (strlen(val) >= MIN_SECRET) {
		for (i = 0; i < h->nsecrets; i++)
			if (!strcmp(h->secrets[i], val))
				break;
		if (i == h->nsecrets) {
			DR_ALLOC_GROW(h->secrets, h->nsecrets + 1, h->asecrets);
			h->secrets[h->nsecrets++] = dr_xstrdup(val);
		}
	}
	lua_pushstring(L, val);
	return 1;
}

/* ---- requests -------------------------------------------------------- */

static int request(lua_State *L, dr_hook *h, dr_hook_req_kind kind)
{
	if (!lua_isyieldable(L))
		return luaL_error(L, "drplan: cannot wait for %s here (inside a metamethod, "
				  "iterator or other C call)", dr_hook_req_name(kind));
	json_decref(h->req_params);
	h->req_params = unpark(h);
	h->req.kind = kind;
	h->req.params = h->req_params;
	h->has_req = 1;
	lua_settop(L, 0);
	lua_pushlightuserdata(L, (void *)&dr_hook_yield_key);
	return lua_yield(L, 1);
}

static uint64_t check_seconds(lua_State *L, int idx, const char *what, double dflt,
			      double max, int allow_zero)
{
	double s = dflt >= 0 && lua_isnoneornil(L, idx) ? dflt : luaL_checknumber(L, idx);

	if (allow_zero && !(s >= 0 && s <= max))
		luaL_error(L, "%s must be between 0 and %d", what, (int)max);
	if (!allow_zero && !(s > 0 && s <= max))
		luaL_error(L, "%s must be greater than 0 and at most %d", what, (int)max);
	return (uint64_t)llround(s * 1000.0);
}

/* drplan.sleep(seconds) */
static int api_sleep(lua_State *L)
{
	dr_hook *h = api_enter(L);
	uint64_t ms = check_seconds(L, 1, "drplan.sleep: seconds", -1, MAX_SECONDS, 1);

	park(h, json_pack("{s:I}", "ms", (json_int_t)ms));
	return request(L, h, DR_HOOK_REQ_SLEEP);
}

static int valid_host(const char *s, size_t len, int allow_ip6)
{
	size_t i;

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      (allow_ip6 && c == ':')))
			return 0;
	}
	return s[0] != '-' && s[0] != '.';
}

/* http(s)://host[:port][/path...]; userinfo is refused (credentials
 * belong in headers read from drplan.env, not in URLs that get logged). */
static const char *check_url(const char *url, size_t len)
{
	const char *p, *host, *end;
	size_t i;

	if (len > MAX_URL)
		return "URL is too long";
	for (i = 0; i < len; i++)
		if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
			return "URL contains spaces or control characters";
	if (!strncmp(url, "https://", 8))
		host = url + 8;
	else if (!strncmp(url, "http://", 7))
		host = url + 7;
	else
		return "URL scheme must be http or https";
	end = host + strcspn(host, "/?#");
	if (memchr(host, '@', (size_t)(end - host)))
		return "URL must not contain credentials";
	if (*host == '[') {
		p = memchr(host, ']', (size_t)(end - host));
		if (!p || !valid_host(host + 1, (size_t)(p - host - 1), 1))
			return "URL host is not valid";
		p++;
	} else {
		p = host;
		while (p < end && *p != ':')
			p++;
		if (!valid_host(host, (size_t)(p - host), 0))
			return "URL host is not valid";
	}
	if (p < end) {
		long port = 0;

		if (*p != ':' || p + 1 == end)
			return "URL port is not valid";
		for (p++; p < end; p++) {
			if (*p < '0' || *p > '9' || (port = port * 10 + (*p - '0')) > 65535)
				return "URL port is not valid";
		}
		if (port < 1)
			return "URL port is not valid";
	}
	return NULL;
}

static int api_http_request(lua_State *L)
{
	static const char *const methods[] = {
		"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
	};
	dr_hook *h = api_enter(L);
	const char *url, *method = "GET", *why;
	size_t len, i;
	uint64_t timeout;
	json_t *p, *headers;

	if (lua_type(L, 1) == LUA_TSTRING) {
		lua_newtable(L);
		lua_pushvalue(L, 1);
		lua_setfield(L, -2, "url");
		lua_replace(L, 1);
	}
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lua_getfield(L, 1, "url");     /* 2 */
	lua_getfield(L, 1, "method");  /* 3 */
	lua_getfield(L, 1, "headers"); /* 4 */
	lua_getfield(L, 1, "body");    /* 5 */
	lua_getfield(L, 1, "timeout"); /* 6 */
	if (lua_type(L, 2) != LUA_TSTRING)
		return luaL_error(L, "drplan.http.request: url must be a string");
	url = lua_tolstring(L, 2, &len);
	if ((why = check_url(url, len)))
		return luaL_error(L, "drplan.http.request: %s", why);
	if (!lua_isnil(L, 3)) {
		method = luaL_checkstring(L, 3);
		for (i = 0; i < DR_ARRAY_SIZE(methods); i++)
			if (!strcmp(method, methods[i]))
				break;
		if (i == DR_ARRAY_SIZE(methods))
			return luaL_error(L, "drplan.http.request: method '%s' is not supported", method);
	}
	if (!lua_isnil(L, 5) && lua_type(L, 5) != LUA_TSTRING)
		return luaL_error(L, "drplan.http.request: body must be a string");
	timeout = check_seconds(L, 6, "drplan.http.request: timeout", 30, MAX_NET_TIMEOUT, 0);
	p = json_pack("{s:s,s:s,s:{},s:I}", "method", method, "url", url, "headers",
		      "timeout_ms", (json_int_t)timeout);
	park(h, p);
	headers = json_object_get(p, "headers");
	if (!lua_isnil(L, 4)) {
		if (!lua_istable(L, 4))
			return luaL_error(L, "drplan.http.request: headers must be a table");
		lua_pushnil(L);
		while (lua_next(L, 4)) {
			const char *k, *v;
			size_t kl, vl;

			if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
				return luaL_error(L, "drplan.http.request: headers must map strings to strings");
			k = lua_tolstring(L, -2, &kl);
			v = lua_tolstring(L, -1, &vl);
			if (kl == 0 || strcspn(k, "()<>@,;:\\\"/[]?={} \t\r\n") != kl ||
			    strlen(k) != kl)
				return luaL_error(L, "drplan.http.request: header name '%s' is not valid", k);
			if (strcspn(v, "\r\n") != vl)
				return luaL_error(L, "drplan.http.request: header '%s' has a line break or NUL", k);
			if (json_object_set_new(headers, k, json_stringn(v, vl)))
				return luaL_error(L, "drplan.http.request: header '%s' is not valid UTF-8", k);
			lua_pop(L, 1);
		}
	}
	if (!lua_isnil(L, 5)) {
		const char *b = lua_tolstring(L, 5, &len);
		json_t *bj = json_stringn(b, len);

		if (!bj)
			return luaL_error(L, "drplan.http.request: body must be valid UTF-8");
		json_object_set_new(p, "body", bj);
	}
	return request(L, h, DR_HOOK_REQ_HTTP);
}

/* drplan.tcp.check(host, port [, timeout]) */
static int api_tcp_check(lua_State *L)
{
	dr_hook *h = api_enter(L);
	size_t len;
	const char *host = luaL_checklstring(L, 1, &len);
	lua_Integer port = luaL_checkinteger(L, 2);
	uint64_t timeout;

	if (!valid_host(host, len, 1) || strlen(host) != len)
		return luaL_error(L, "drplan.tcp.check: host '%s' is not valid", host);
	if (port < 1 || port > 65535)
		return luaL_error(L, "drplan.tcp.check: port %I is out of range 1-65535", port);
	timeout = check_seconds(L, 3, "drplan.tcp.check: timeout", 5, MAX_NET_TIMEOUT, 0);
	park(h, json_pack("{s:s,s:I,s:I}", "host", host, "port", (json_int_t)port,
			  "timeout_ms", (json_int_t)timeout));
	return request(L, h, DR_HOOK_REQ_TCP);
}

/* drplan.dns.resolve(name [, "A"|"AAAA" [, timeout]]) */
static int api_dns_resolve(lua_State *L)
{
	dr_hook *h = api_enter(L);
	size_t len;
	const char *name = luaL_checklstring(L, 1, &len);
	const char *type = luaL_optstring(L, 2, "A");
	uint64_t timeout;

	if (!valid_host(name, len, 0) || strlen(name) != len)
		return luaL_error(L, "drplan.dns.resolve: name '%s' is not valid", name);
	if (strcmp(type, "A") && strcmp(type, "AAAA"))
		return luaL_error(L, "drplan.dns.resolve: type must be A or AAAA");
	timeout = check_seconds(L, 3, "drplan.dns.resolve: timeout", 5, MAX_NET_TIMEOUT, 0);
	park(h, json_pack("{s:s,s:s,s:I}", "name", name, "type", type,
			  "timeout_ms", (json_int_t)timeout));
	return request(L, h, DR_HOOK_REQ_DNS);
}

/* ---- json ------------------------------------------------------------ */

static int api_json_encode(lua_State *L)
{
	dr_hook *h = api_enter(L);
	const size_t flags = JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY;
	char err[128];
	json_t *j;
	size_t n;
	char *buf;

	lua_settop(L, 1);
	j = dr_lua_to_json(L, 1, err, sizeof(err));
	if (!j)
		return luaL_error(L, "drplan.json.encode: %s", err);
	park(h, j);
	n = json_dumpb(j, NULL, 0, flags);
	buf = lua_newuserdatauv(L, n ? n : 1, 0);
	json_dumpb(j, buf, n, flags);
	park(h, NULL);
	lua_pushlstring(L, buf, n);
	return 1;
}

static int api_json_decode(lua_State *L)
{
	dr_hook *h = api_enter(L);
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	json_error_t e;
	json_t *j;

	/* jansson's tree is outside the Lua heap cap; keep it in proportion. */
	if (len > h->o.mem_cap / 4)
		return luaL_error(L, "drplan.json.decode: text is too long (%zu bytes)", len);
	j = json_loadb(s, len, JSON_DECODE_ANY, &e);
	if (!j)
		return luaL_error(L, "drplan.json.decode: %s at line %d column %d", e.text,
				  e.line, e.column);
	park(h, j);
	dr_lua_push_json(L, j, 0);
	park(h, NULL);
	return 1;
}

/* ---- require --------------------------------------------------------- */

static int valid_module(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 128 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
			return 0;
		if (c == '.' && s[i + 1] == '.')
			return 0;
	}
	return 1;
}

/* Raise msg with the position of the Lua code that called require(). */
static int require_error(lua_State *L, const char *fmt, const char *a, const char *b)
{
	luaL_where(L, 2);
	lua_pushfstring(L, fmt, a, b);
	lua_concat(L, 2);
	return lua_error(L);
}

/* The loader behind require(name): only [a-z0-9_.] names, mapped to files
 * under the repository's lua/ directory, which they may not leave even
 * through a symbolic link; text chunks only. Returns the chunk. */
int dr_hook_loadmod(lua_State *L)
{
	dr_hook *h = api_enter(L);
	size_t len, i;
	const char *name = lua_tolstring(L, 1, &len);
	char rel[160], path[PATH_MAX], real_dir[PATH_MAX], real[PATH_MAX], *buf;
	const char *chunk;
	int st, rc;

	if (lua_type(L, 1) != LUA_TSTRING || !valid_module(name, len) || strlen(name) != len)
		return require_error(L, "require: module name '%s' is not valid "
				     "(use lowercase letters, digits, '_' and '.')%s",
				     lua_type(L, 1) == LUA_TSTRING ? name : "?", "");
	for (i = 0; i < len; i++)
		rel[i] = name[i] == '.' ? '/' : name[i];
	strcpy(rel + len, ".lua");
	if (!h->lua_dir)
		return require_error(L, "require: module '%s' not found (no %s/ directory)",
				     name, h->lua_dir_display);
	snprintf(path, sizeof(path), "%s/%s", h->lua_dir, rel);
	if (!realpath(h->lua_dir, real_dir) || !realpath(path, real))
		return require_error(L, "require: module '%s' not found (no file %s)", name,
				     lua_pushfstring(L, "%s/%s", h->lua_dir_display, rel));
	if (strncmp(real, real_dir, strlen(real_dir)) || real[strlen(real_dir)] != '/')
		return require_error(L, "require: module '%s' resolves outside %s/", name,
				     h->lua_dir_display);
	/* The chunk name first: nothing may raise while buf is ours. */
	chunk = lua_pushfstring(L, "@%s/%s", h->lua_dir_display, rel);
	rc = dr_hook_read_source(real, &buf, &len);
	if (rc)
		return require_error(L, "require: module '%s' cannot be read (%s)", name,
				     dr_strerror(rc));
	if (len && buf[0] == LUA_SIGNATURE[0]) {
		free(buf);
		return require_error(L, "require: module '%s' is a binary chunk%s", name, "");
	}
	st = luaL_loadbufferx(L, buf, len, chunk, "t");
	free(buf);
	if (st != LUA_OK)
		return lua_error(L);
	return 1;
}

/* ---- the table ------------------------------------------------------- */

static void set_readonly_field(lua_State *L, int tidx, const char *name, const luaL_Reg *fns)
{
	tidx = lua_absindex(L, tidx);
	lua_newtable(L);
	luaL_setfuncs(L, fns, 0);
	dr_lua_make_readonly(L, -1);
	lua_setfield(L, tidx, name);
}

void dr_hook_api_open(lua_State *L)
{
	static const luaL_Reg top[] = {
		{ "log", api_log },
		{ "fail", api_fail },
		{ "output", api_output },
		{ "env", api_env },
		{ "sleep", api_sleep },
		{ NULL, NULL },
	};
	static const luaL_Reg http[] = { { "request", api_http_request }, { NULL, NULL } };
	static const luaL_Reg tcp[] = { { "check", api_tcp_check }, { NULL, NULL } };
	static const luaL_Reg dns[] = { { "resolve", api_dns_resolve }, { NULL, NULL } };

	lua_newtable(L);
	luaL_setfuncs(L, top, 0);
	set_readonly_field(L, -1, "http", http);
	set_readonly_field(L, -1, "tcp", tcp);
	set_readonly_field(L, -1, "dns", dns);

	lua_newtable(L);
	lua_pushcfunction(L, api_json_encode);
	lua_setfield(L, -2, "encode");
	lua_pushcfunction(L, api_json_decode);
	lua_setfield(L, -2, "decode");
	dr_lua_push_null(L);
	lua_setfield(L, -2, "null");
	dr_lua_make_readonly(L, -1);
	lua_setfield(L, -2, "json");

	/* drplan.outputs: reads back what was output, writes go through
	 * drplan.output(); rawset refuses it like the read-only views. */
	lua_newtable(L);
	lua_createtable(L, 0, 3);
	lua_pushcfunction(L, outputs_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, outputs_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushliteral(L, "locked");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	lua_pushvalue(L, -1);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &dr_hook_outputs_key);
	lua_setfield(L, -2, "outputs");

	lua_newtable(L);
	dr_lua_make_readonly(L, -1);
	lua_pushvalue(L, -1);
	lua_setfield(L, -3, "context");
	lua_setfield(L, -2, "args");
	lua_pushliteral(L, DR_VERSION);
	lua_setfield(L, -2, "version");

	lua_pushvalue(L, -1);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &drplan_key);
	dr_lua_make_readonly(L, -1);
	lua_setglobal(L, "drplan");

	lua_pushcfunction(L, api_print);
	lua_setglobal(L, "print");
}

/* ---- context and args ------------------------------------------------ */

struct set_field {
	const char *name;
	const json_t *value;
};

static int set_field(lua_State *L)
{
	struct set_field *sf = lua_touserdata(L, 1);

	lua_rawgetp(L, LUA_REGISTRYINDEX, &drplan_key);
	if (sf->value) {
		dr_lua_push_json(L, sf->value, 1);
	} else {
		lua_newtable(L);
		dr_lua_make_readonly(L, -1);
	}
	lua_setfield(L, -2, sf->name);
	return 0;
}

static int set_readonly_json(dr_hook *h, const char *name, const json_t *v)
{
	struct set_field sf = { name, v };

	if (h->state != DR_HOOK_ST_NEW && h->state != DR_HOOK_ST_LOADED)
		return dr_error_set(DR_EINVAL, "drplan.%s: hook already started", name);
	if (v && !json_is_object(v))
		return dr_error_set(DR_EINVAL, "drplan.%s must be a JSON object", name);
	lua_pushcfunction(h->L, set_field);
	lua_pushlightuserdata(h->L, &sf);
	if (lua_pcall(h->L, 1, 0, 0)) {
		int rc = dr_error_set(DR_EINVAL, "drplan.%s: %s", name, lua_tostring(h->L, -1));

		lua_pop(h->L, 1);
		return rc;
	}
	return 0;
}

int dr_hook_set_context(dr_hook *h, const json_t *ctx)
{
	return set_readonly_json(h, "context", ctx);
}

int dr_hook_set_args(dr_hook *h, const json_t *args)
{
	return set_readonly_json(h, "args", args);
}
