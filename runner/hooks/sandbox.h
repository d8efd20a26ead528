/*
 * sandbox.h - run one plan hook (a Lua 5.4 file) in a sandbox.
 *
 * Every run gets a fresh lua_State: globals never leak from one hook to the
 * next. The state is created with an allocator that enforces a memory cap,
 * only the base, table, string, math, utf8 and coroutine libraries are
 * loaded, and a reduced `os` (time, clock, date) plus our `drplan` API table
 * are added. docs/hooks.md lists every rule; this header is the C contract.
 *
 * A hook runs as a coroutine so that it never blocks the runner's event
 * loop. dr_hook_start() and dr_hook_complete() run it until it either ends
 * (DR_HOOK_DONE, read the outcome) or waits (DR_HOOK_YIELDED): it then has
 * one pending request (sleep, http, tcp, dns) that the runner serves
 * asynchronously, and dr_hook_complete() hands the result back and runs the
 * hook on. A hook that computes for long also yields, with a "slice"
 * request, every slice_instr instructions (HAProxy's forced yield), so the
 * loop keeps turning; the runner resumes it on the next turn. The sync driver dr_hook_run_sync() does this in a loop for tests
 * and `drplan hook test`.
 *
 * Limits, each with its own outcome status:
 *  - memory: the allocator refuses growth past the cap;
 *  - instructions: counted by a Lua count hook while the hook runs (time
 *    spent waiting does not count);
 *  - wall clock: checked by the count hook and on every resume, so time
 *    spent waiting counts; the runner should also arm a timer at
 *    dr_hook_deadline() and call dr_hook_abort(h, DR_HOOK_TIMEOUT);
 *  - output: log lines plus outputs, in bytes.
 * Once a limit is hit, or drplan.fail() is called, the run is "stopping":
 * the count hook raises an error on every instruction and every drplan
 * function raises at once, so pcall/xpcall cannot swallow the stop and the
 * script unwinds completely (the approach of Redis and HAProxy).
 *
 * Ownership: the dr_hook owns its state, requests, log lines and outputs;
 * pointers returned by accessors stay valid until the next start/complete
 * call or dr_hook_free(). json_t arguments are borrowed (the hook copies
 * or takes its own reference).
 */
#ifndef DR_HOOKS_SANDBOX_H
#define DR_HOOKS_SANDBOX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dr_hook dr_hook;

typedef struct dr_hook_opts {
	size_t mem_cap;          /* bytes of Lua heap; 0: 64 MiB */
	uint64_t instr_limit;    /* VM instructions; 0: 100 million */
	uint64_t timeout_ms;     /* wall clock, waits included; 0: 10 minutes */
	size_t output_cap;       /* log line text + output JSON; 0: 1 MiB */
	unsigned count_interval; /* instructions between checks; 0: 1000 */
	/* Instructions after which a busy hook yields a slice request so the
	 * event loop is not held for long; 0: 1 million; UINT64_MAX: never. */
	uint64_t slice_instr;
	/* The repository's lua/ directory for require(); NULL: require fails. */
	const char *lua_dir;
	/* How lua_dir is shown in messages and chunk names; NULL: "lua". */
	const char *lua_dir_display;
	/* Environment variables the action lists in `env:`; NULL-terminated. */
	const char *const *env;
	/* Read an environment variable; NULL: getenv(3). */
	const char *(*getenv_fn)(void *ud, const char *name);
	/* Monotonic milliseconds; NULL: CLOCK_MONOTONIC. */
	uint64_t (*clock_ms)(void *ud);
	void *ud;
} dr_hook_opts;

#define DR_HOOK_DEFAULT_MEM_CAP ((size_t)64 << 20)
#define DR_HOOK_DEFAULT_INSTR_LIMIT 100000000u
#define DR_HOOK_DEFAULT_TIMEOUT_MS 600000u
#define DR_HOOK_DEFAULT_OUTPUT_CAP ((size_t)1 << 20)
#define DR_HOOK_DEFAULT_COUNT_INTERVAL 1000u
#define DR_HOOK_DEFAULT_SLICE_INSTR 1000000u

typedef enum dr_hook_status {
	DR_HOOK_OK,           /* the chunk returned */
	DR_HOOK_FAILED,       /* drplan.fail() or an uncaught Lua error */
	DR_HOOK_TIMEOUT,      /* the wall-clock timeout passed */
	DR_HOOK_INSTR_LIMIT,  /* the instruction budget ran out */
	DR_HOOK_MEM_LIMIT,    /* the memory cap was hit */
	DR_HOOK_OUTPUT_LIMIT, /* log + outputs grew past the cap */
	DR_HOOK_CANCELLED,    /* dr_hook_abort(h, DR_HOOK_CANCELLED) */
	DR_HOOK__STATUS_COUNT
} dr_hook_status;

/* "ok", "failed", "timeout", "instruction-limit", "memory-limit",
 * "output-limit", "cancelled". */
const char *dr_hook_status_name(dr_hook_status st);

typedef struct dr_hook_outcome {
	dr_hook_status status;
	/* "" for ok; else e.g. "memory limit (64 MiB) exceeded" or
	 * "lua/hooks/x.lua:3: attempt to call a nil value (global 'foo')". */
	const char *message;
} dr_hook_outcome;

typedef enum dr_hook_req_kind {
	DR_HOOK_REQ_SLEEP, /* params {"ms": N} */
	DR_HOOK_REQ_HTTP,  /* {"method","url","headers"{},"body"?,"timeout_ms"} */
	DR_HOOK_REQ_TCP,   /* {"host","port","timeout_ms"} */
	DR_HOOK_REQ_DNS,   /* {"name","type":"A"|"AAAA","timeout_ms"} */
	/* The hook ran slice_instr instructions: let the loop serve others,
	 * then resume it (result ignored) on the next turn. params {}. */
	DR_HOOK_REQ_SLICE,
	DR_HOOK__REQ_COUNT
} dr_hook_req_kind;

/* "sleep", "http", "tcp", "dns", "slice". */
const char *dr_hook_req_name(dr_hook_req_kind k);

/* What a yielded hook waits for. Valid until the next complete/abort. */
typedef struct dr_hook_request {
	dr_hook_req_kind kind;
	const json_t *params; /* owned by the hook */
} dr_hook_request;

/* Results of dr_hook_start() and dr_hook_complete(). */
enum { DR_HOOK_DONE = 0, DR_HOOK_YIELDED = 1 };

/* One drplan.log() line. */
typedef struct dr_hook_log_line {
	uint64_t unix_ms; /* wall-clock time of the call */
	const char *level; /* "debug", "info", "warn", "error" */
	const char *text;  /* secrets from drplan.env() replaced by "***" */
} dr_hook_log_line;

/* Create a hook with a fresh sandboxed state. opts may be NULL. */
int dr_hook_new(const dr_hook_opts *opts, dr_hook **out);
void dr_hook_free(dr_hook *h);

/*
 * Load the hook's chunk from a file (text only, at most 1 MiB). The path is
 * also the chunk name, so errors read "lua/hooks/x.lua:3: ...". Returns 0,
 * DR_EIO (unreadable), DR_EINVAL (syntax error, binary chunk) with the
 * explanation in dr_error_msg().
 */
int dr_hook_load_file(dr_hook *h, const char *path);
/* The same from memory; name is shown as the chunk name ("x.lua"). */
int dr_hook_load_string(dr_hook *h, const char *name, const char *src,
			size_t len);

/* The run's context, exposed read-only as drplan.context. Call before start. */
int dr_hook_set_context(dr_hook *h, const json_t *ctx);
/* The action's `args:` mapping, exposed read-only as drplan.args. */
int dr_hook_set_args(dr_hook *h, const json_t *args);

/* Run the loaded chunk from the beginning: DR_HOOK_DONE or DR_HOOK_YIELDED,
 * or a negative code when nothing was loaded or it already started. */
int dr_hook_start(dr_hook *h);

/* The pending request of a yielded hook, or NULL. */
const dr_hook_request *dr_hook_pending(const dr_hook *h);

/*
 * Resume a yielded hook with the result of its request, then run it until
 * it ends or waits again. result is borrowed and may be NULL (sleep). An
 * object {"error": "message"} makes the Lua call return nil, "message";
 * anything else is converted to a Lua value and returned. If the deadline
 * passed while waiting, the hook is not resumed and ends with a timeout.
 */
int dr_hook_complete(dr_hook *h, const json_t *result);

/* Stop a yielded hook now with DR_HOOK_TIMEOUT or DR_HOOK_CANCELLED.
 * The script's pending to-be-closed variables are not run. */
int dr_hook_abort(dr_hook *h, dr_hook_status why);

/* Monotonic ms (clock of opts) at which the run times out. */
uint64_t dr_hook_deadline(const dr_hook *h);

/* Outcome of a finished hook (status DR_HOOK_OK until then). */
const dr_hook_outcome *dr_hook_outcome_get(const dr_hook *h);

/* drplan.output() values: a JSON object owned by the hook. */
const json_t *dr_hook_outputs(const dr_hook *h);

size_t dr_hook_log_count(const dr_hook *h);
const dr_hook_log_line *dr_hook_log_at(const dr_hook *h, size_t i);

/* Instructions executed so far (a multiple of the count interval). */
uint64_t dr_hook_instructions(const dr_hook *h);
/* Bytes of Lua heap in use, and the highest it got. */
size_t dr_hook_mem_used(const dr_hook *h);
size_t dr_hook_mem_peak(const dr_hook *h);

/*
 * Synchronous driver: start the hook and serve its requests with serve()
 * until it ends; the outcome is copied to *outcome (its message is owned by
 * the hook). serve() returns 0 with *result (a new reference, or NULL), or a
 * negative code to abort the hook as cancelled. When serve is NULL, or
 * returns DR_ENOTFOUND for a request, sleep is served on a fake clock (time
 * advances by the requested ms, nothing waits) and other requests get
 * {"error": "<kind> requests are not served here"}.
 */
typedef int (*dr_hook_serve_fn)(void *ctx, dr_hook *h,
				const dr_hook_request *req, json_t **result);
int dr_hook_run_sync(dr_hook *h, dr_hook_serve_fn serve, void *ctx,
		     dr_hook_outcome *outcome);

/* Milliseconds the fake clock of dr_hook_run_sync() has advanced. */
uint64_t dr_hook_fake_elapsed(const dr_hook *h);

#endif
