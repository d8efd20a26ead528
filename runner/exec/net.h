/*
 * net.h - network probes on the event loop: TCP connect checks and DNS
 * lookups, plus the HTTP client, behind one handle.
 *
 * dr_net bundles what a hook (or a provider) needs to reach the network
 * from the loop's thread without ever blocking it:
 *  - dr_net_http(): the shared dr_http client (exec/http.h);
 *  - dr_net_tcp_check(): a non-blocking connect(2) watched by the loop;
 *  - dr_net_dns_resolve(): glibc getaddrinfo_a(3).
 *
 * Why getaddrinfo_a for DNS: it is the system resolver (nsswitch, /etc/hosts,
 * search domains: the same answers as every other tool on the host) run on
 * glibc's own small thread pool (queued, at most 20 threads). Each lookup
 * notifies through SIGEV_THREAD, whose function only writes one byte into
 * the lookup's own socketpair; the loop watches the other end. libcurl's
 * resolver was the alternative, but it can only be reached through a
 * connect (CURLOPT_CONNECT_ONLY needs a port and connects for real) and
 * reports a single address. A lookup that times out or is cancelled is
 * handed to gai_cancel(); if glibc is already running it, the lookup's
 * memory is released by whichever side finishes last (a reference count),
 * so dr_net_free() never waits for a resolver thread.
 *
 * tcp checks take a host name or an IP literal; a name is resolved first
 * (as above), then each address is tried in turn until one connects or the
 * timeout, which covers the lookup too, passes.
 *
 * Callbacks run from the loop, never from inside the starting call, exactly
 * once unless the operation was cancelled. Error text is one line, e.g.
 * "tcp 127.0.0.1:1: connection refused", "tcp 10.0.0.1:1433: timed out
 * after 5000 ms", "dns nonexistent.invalid: name not found".
 */
#ifndef DR_EXEC_NET_H
#define DR_EXEC_NET_H

#include "exec/http.h"
#include "exec/loop.h"

#include <stddef.h>
#include <stdint.h>

typedef struct dr_net dr_net;
typedef struct dr_net_op dr_net_op;

/* A new handle on loop, with its own dr_http. 0 or DR_EIO. */
int dr_net_new(dr_loop *loop, dr_net **out);
/* Cancels everything in flight without calling callbacks. */
void dr_net_free(dr_net *net);

dr_http *dr_net_http(dr_net *net);
dr_loop *dr_net_loop(dr_net *net);

/* rc 0: connected after ms milliseconds (the socket is closed again).
 * Else DR_ETIMEOUT, DR_EIO (refused, unreachable), DR_ENOTFOUND (name). */
typedef void (*dr_net_tcp_cb)(int rc, uint64_t ms, const char *error, void *ud);

int dr_net_tcp_check(dr_net *net, const char *host, int port,
		     uint64_t timeout_ms, dr_net_tcp_cb cb, void *ud,
		     dr_net_op **out);

/* rc 0: addrs[0..n) are textual addresses, each once, in the resolver's
 * order. Else DR_ENOTFOUND (no such name or no address of this family),
 * DR_ETIMEOUT, DR_EIO. */
typedef void (*dr_net_dns_cb)(int rc, const char *const *addrs, size_t n,
			      const char *error, void *ud);

enum { DR_NET_ANY = 0, DR_NET_IPV4 = 4, DR_NET_IPV6 = 6 };

/* Returns 0, or DR_EINVAL (empty or overlong name, bad family), DR_EIO. */
int dr_net_dns_resolve(dr_net *net, const char *name, int family,
		       uint64_t timeout_ms, dr_net_dns_cb cb, void *ud,
		       dr_net_op **out);

/* Stop a tcp check or lookup whose callback has not run. NULL is fine. */
void dr_net_cancel(dr_net *net, dr_net_op *op);

/* Operations (tcp + dns) in flight. */
size_t dr_net_active(const dr_net *net);

#endif
