/*
 * serve.h - run hooks on the event loop, serving their requests.
 *
 * dr_hook_serve() drives one loaded hook to its end on a dr_loop without
 * ever blocking it: it starts the hook from a deferred callback, then
 * serves each request the hook yields,
 *
 *   sleep -> a loop timer          slice -> a deferred callback (next turn)
 *   http  -> a dr_http transfer    tcp   -> dr_net_tcp_check
 *   dns   -> dr_net_dns_resolve
 *
 * and resumes the hook with the result (dr_hook_complete). Results handed
 * to Lua:
 *   http: {status = 200, headers = {["content-type"] = "..."}, body = "..."}
 *         (header names lower-cased; repeated headers joined with ", ";
 *         any HTTP status is a result, not an error; redirects are not
 *         followed; bodies over DR_HOOK_HTTP_MAX_RESPONSE fail)
 *   tcp:  {ok = true, ms = 3}
 *   dns:  {"10.0.0.4", ...}
 * and on failure nil, "message" in Lua, e.g. "tcp 10.0.0.4:1433: connection
 * refused" or "GET https://h/health: timed out after 30000 ms" (URLs are
 * shown without their query string; request headers are never shown).
 *
 * The hook's deadline (dr_hook_deadline, on the hook's own clock) is armed
 * as a loop timer: when it passes, the request in flight is cancelled
 * (the HTTP transfer removed, the socket closed) and the hook ends with
 * DR_HOOK_TIMEOUT. A hook served on a loop with a virtual clock should read
 * the same clock (dr_hook_opts.clock_ms).
 *
 * Any number of hooks may be served at once on one loop and one dr_net.
 *
 * A hook is served once: serving it a second time is a bug (the second
 * serve cannot tell until its deferred start fails).
 *
 * Ownership: the caller keeps the hook, the loop and the net, and must keep
 * them alive until done has run. done runs exactly once, from the loop (or
 * from dr_hook_serve_cancel), with the hook's outcome; the dr_hook_serving
 * handle is freed right after done returns, and done may free the hook.
 */
#ifndef DR_HOOKS_SERVE_H
#define DR_HOOKS_SERVE_H

#include "exec/loop.h"
#include "exec/net.h"
#include "hooks/sandbox.h"

#define DR_HOOK_HTTP_MAX_RESPONSE ((size_t)4 << 20)

typedef struct dr_hook_serving dr_hook_serving;

typedef void (*dr_hook_done_fn)(dr_hook *h, const dr_hook_outcome *outcome,
				void *ud);

/*
 * Serve h (loaded, not started) on loop. Returns 0 with *out (may be NULL),
 * or DR_EINVAL when the hook was not loaded or already started; done is
 * then never called.
 */
int dr_hook_serve(dr_loop *loop, dr_net *net, dr_hook *h, dr_hook_done_fn done,
		  void *ud, dr_hook_serving **out);

/* Stop a served hook now: its request is cancelled, it ends as
 * DR_HOOK_CANCELLED, and done runs before this returns. */
void dr_hook_serve_cancel(dr_hook_serving *s);

/* The request kind a served hook waits for, or -1 when it is not waiting. */
int dr_hook_serving_waiting(const dr_hook_serving *s);

#endif
