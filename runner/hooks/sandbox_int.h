/*
 * sandbox_int.h - what sandbox.c and api.c share. Not for other modules.
 */
#ifndef DR_HOOKS_SANDBOX_INT_H
#define DR_HOOKS_SANDBOX_INT_H

#include "hooks/luajson.h"
#include "hooks/sandbox.h"

#include <lua.h>

enum dr_hook_state {
	DR_HOOK_ST_NEW,     /* state ready, nothing loaded */
	DR_HOOK_ST_LOADED,  /* chunk loaded, not started */
	DR_HOOK_ST_RUNNING, /* inside lua_resume */
	DR_HOOK_ST_YIELDED, /* waiting for dr_hook_complete() */
	DR_HOOK_ST_DONE,    /* outcome final, Lua state closed */
};

struct dr_hook {
	dr_hook_opts o;          /* defaults filled in; strings owned below */
	char *lua_dir, *lua_dir_display;
	char **env;

	lua_State *L;            /* NULL once done */
	lua_State *co;           /* the thread the chunk runs in */
	int co_ref, chunk_ref;
	enum dr_hook_state state;

	size_t mem_used, mem_peak;
	int enforce;             /* caps apply only while the script runs */
	uint64_t instr, slice_left; /* slice_left: until the next slice yield */
	uint64_t start, deadline, fake_ms;

	int stopping;            /* a limit or drplan.fail(): unwind everything */
	dr_hook_status stop_status;
	char *stop_msg;

	dr_hook_outcome outcome;
	char *outcome_msg;

	int has_req;
	dr_hook_request req;
	json_t *req_params;
	json_t *tmp;             /* parked while Lua may raise (api.c) */

	json_t *outputs;
	size_t out_bytes;        /* log text + output JSON, against output_cap */
	dr_hook_log_line *lines;  /* text owned (allocated), level static */
	size_t nlines, alines;
	char **secrets;          /* values read with drplan.env() */
	size_t nsecrets, asecrets;
};

extern const char dr_hook_yield_key;
/* Registry keys (addresses) defined in api.c. */
extern const char dr_hook_outputs_key, dr_hook_format_key;

dr_hook *dr_hook_of(lua_State *L);
uint64_t dr_hook_now(const dr_hook *h);
void dr_hook_fmt_bytes(size_t n, char *buf, size_t size);
void dr_hook_stop(dr_hook *h, lua_State *L, dr_hook_status st,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int dr_hook_raise_stop(lua_State *L);
void dr_hook_count_hook(lua_State *L, lua_Debug *ar);
int dr_hook_read_source(const char *path, char **buf, size_t *len);
/* s with every secret replaced by "***"; caller frees. */
char *dr_hook_redact(const dr_hook *h, const char *s);

/* api.c: build the drplan table and print(); the require() loader. */
void dr_hook_api_open(lua_State *L);
int dr_hook_loadmod(lua_State *L);

#endif
