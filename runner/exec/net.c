#define _GNU_SOURCE /* getaddrinfo_a */
#include "exec/net.h"

#include "core/alloc.h"
#include "core/error.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_ADDRS 64

/*
 * One getaddrinfo_a lookup. Shared between the loop (which reads the
 * result) and glibc's notification thread (which writes one byte into
 * fds[1]), so it is reference counted: whoever drops the last reference
 * frees it. Only then is fds[1] closed, so the notification never writes
 * into a reused descriptor.
 */
typedef struct gai_job {
	atomic_int refs;
	int fds[2];
	char name[256];
	struct addrinfo hints;
	struct gaicb cb;
	struct sigevent sev;
} gai_job;

typedef enum { OP_TCP, OP_DNS } op_kind;

struct dr_net_op {
	dr_net *net;
	dr_net_op *prev, *next;
	op_kind kind;
	bool internal; /* a tcp check's own lookup: not counted, no user cb */
	void *cb;
	void *ud;
	uint64_t start_ms, timeout_ms;
	dr_timer *timer;
	dr_defer *defer;
	int late_rc;          /* result delivered by the defer */
	char late_err[512];
	char host[256];
	/* dns */
	gai_job *job;
	dr_watch *dw;
	/* tcp */
	int port;
	int fd;
	dr_watch *tw;
	dr_net_op *lookup;
	char **addrs;
	size_t naddrs, iaddr;
	char last_err[160];
};

struct dr_net {
	dr_loop *loop;
	dr_http *http;
	dr_net_op *head;
	size_t active;
};

/* ---- bookkeeping ---- */

static dr_net_op *op_new(dr_net *net, op_kind kind, const char *host,
			 uint64_t timeout_ms, void *cb, void *ud)
{
	dr_net_op *op = dr_xcalloc(1, sizeof(*op));

	op->net = net;
	op->kind = kind;
	op->cb = cb;
	op->ud = ud;
	op->fd = -1;
	op->timeout_ms = timeout_ms;
	op->start_ms = dr_loop_now(net->loop);
	snprintf(op->host, sizeof(op->host), "%s", host);
	op->next = net->head;
	if (net->head)
		net->head->prev = op;
	net->head = op;
	return op;
}

static void job_unref(gai_job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	close(j->fds[0]);
	close(j->fds[1]);
	if (j->cb.ar_result)
		freeaddrinfo(j->cb.ar_result);
	free(j);
}

/* Runs on a glibc thread: touch nothing but the job. */
static void gai_notify(union sigval v)
{
	gai_job *j = v.sival_ptr;
	ssize_t n;

	do
		n = send(j->fds[1], "x", 1, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	job_unref(j);
}

/* The loop gives up its part of a lookup (done, timed out or cancelled). */
static void job_release(dr_net_op *op, bool cancel)
{
	gai_job *j = op->job;

	if (!j)
		return;
	dr_loop_watch_remove(op->net->loop, op->dw);
	op->dw = NULL;
	op->job = NULL;
	/* A lookup glibc has not started yet never notifies: drop its ref. */
	if (cancel && gai_cancel(&j->cb) == EAI_CANCELED)
		job_unref(j);
	job_unref(j);
}

/* Release everything the op holds except the op itself. */
static void op_cleanup(dr_net_op *op)
{
	size_t i;

	dr_loop_timer_cancel(op->net->loop, op->timer);
	op->timer = NULL;
	dr_loop_defer_cancel(op->net->loop, op->defer);
	op->defer = NULL;
	job_release(op, true);
	if (op->tw)
		dr_loop_watch_remove(op->net->loop, op->tw);
	op->tw = NULL;
	if (op->fd >= 0)
		close(op->fd);
	op->fd = -1;
	if (op->lookup)
		dr_net_cancel(op->net, op->lookup);
	op->lookup = NULL;
	for (i = 0; i < op->naddrs; i++)
		free(op->addrs[i]);
	free(op->addrs);
	op->addrs = NULL;
	op->naddrs = 0;
}

static void op_free(dr_net_op *op)
{
	dr_net *net = op->net;

	op_cleanup(op);
	if (op->prev)
		op->prev->next = op->next;
	else
		net->head = op->next;
	if (op->next)
		op->next->prev = op->prev;
	if (!op->internal)
		net->active--;
	free(op);
}

static void tcp_done(dr_net_op *op, int rc, const char *err)
{
	dr_net_tcp_cb cb = (dr_net_tcp_cb)op->cb;
	uint64_t ms = dr_loop_now(op->net->loop) - op->start_ms;
	void *ud = op->ud;
	char msg[512];

	snprintf(msg, sizeof(msg), "%s", err ? err : "");
	op_free(op);
	cb(rc, ms, msg, ud);
}

static void dns_done(dr_net_op *op, int rc, const char *const *addrs, size_t n,
		     const char *err)
{
	dr_net_dns_cb cb = (dr_net_dns_cb)op->cb;
	void *ud = op->ud;
	char msg[512];

	snprintf(msg, sizeof(msg), "%s", err ? err : "");
	op_free(op); /* addrs never point into the op */
	cb(rc, addrs, n, msg, ud);
}

static void on_late(dr_loop *loop, void *ud)
{
	dr_net_op *op = ud;

	op->defer = NULL;
	if (op->kind == OP_TCP)
		tcp_done(op, op->late_rc, op->late_err);
	else
		dns_done(op, op->late_rc, NULL, 0, op->late_err);
}

/* Deliver a failure from the loop, not from inside the starting call. */
static void fail_later(dr_net_op *op, int rc, const char *err)
{
	size_t n = strlen(err);

	if (n >= sizeof(op->late_err))
		n = sizeof(op->late_err) - 1;

	memcpy(op->late_err, err, n);
	op->late_err[n] = 0;
	op->late_rc = rc;
	op->defer = dr_loop_defer(op->net->loop, on_late, op);
}

static void on_timeout(dr_loop *loop, void *ud)
{
	dr_net_op *op = ud;
	char msg[512];

	op->timer = NULL;
	if (op->kind == OP_TCP) {
		snprintf(msg, sizeof(msg), "tcp %s:%d: timed out after %llu ms", op->host,
			 op->port, (unsigned long long)op->timeout_ms);
		tcp_done(op, DR_ETIMEOUT, msg);
	} else {
		snprintf(msg, sizeof(msg), "dns %s: timed out after %llu ms", op->host,
			 (unsigned long long)op->timeout_ms);
		dns_done(op, DR_ETIMEOUT, NULL, 0, msg);
	}
}

/* ---- dns ---- */

static void on_gai(dr_loop *loop, int fd, unsigned revents, void *ud)
{
	dr_net_op *op = ud;
	gai_job *j = op->job;
	const char *addrs[MAX_ADDRS];
	char bufs[MAX_ADDRS][INET6_ADDRSTRLEN];
	char msg[512];
	size_t n = 0, i;
	struct addrinfo *ai;
	int e = gai_error(&j->cb);

	if (e == EAI_INPROGRESS)
		return; /* a spurious wakeup: the byte comes after the result */
	if (e) {
		int rc = (e == EAI_NONAME || e == EAI_NODATA || e == EAI_ADDRFAMILY)
				 ? DR_ENOTFOUND : DR_EIO;

		if (rc == DR_ENOTFOUND)
			snprintf(msg, sizeof(msg), "dns %s: name not found", op->host);
		else
			snprintf(msg, sizeof(msg), "dns %s: %s", op->host,
				 e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
		dns_done(op, rc, NULL, 0, msg);
		return;
	}
	for (ai = j->cb.ar_result; ai && n < MAX_ADDRS; ai = ai->ai_next) {
		const void *a;

		if (ai->ai_family == AF_INET)
			a = &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			a = &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr;
		else
			continue;
		if (!inet_ntop(ai->ai_family, a, bufs[n], sizeof(bufs[n])))
			continue;
		for (i = 0; i < n; i++)
			if (!strcmp(addrs[i], bufs[n]))
				break;
		if (i == n) {
			addrs[n] = bufs[n];
			n++;
		}
	}
	if (!n) {
		snprintf(msg, sizeof(msg), "dns %s: no address", op->host);
		dns_done(op, DR_ENOTFOUND, NULL, 0, msg);
		return;
	}
	dns_done(op, 0, addrs, n, "");
}

static int dns_start(dr_net *net, const char *name, int family, uint64_t timeout_ms,
		     dr_net_dns_cb cb, void *ud, bool internal, dr_net_op **out)
{
	struct gaicb *list[1];
	dr_net_op *op;
	gai_job *j;
	int e;

	*out = NULL;
	if (!name[0] || strlen(name) >= sizeof(j->name))
		return dr_error_set(DR_EINVAL, "dns: name is empty or too long");
	if (family != DR_NET_ANY && family != DR_NET_IPV4 && family != DR_NET_IPV6)
		return dr_error_set(DR_EINVAL, "dns: family must be 0, 4 or 6");
	j = dr_xcalloc(1, sizeof(*j));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, j->fds)) {
		free(j);
		return dr_error_set(DR_EIO, "dns: socketpair: %s", strerror(errno));
	}
	atomic_init(&j->refs, 2);
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->hints.ai_family = family == DR_NET_IPV4 ? AF_INET
			     : family == DR_NET_IPV6 ? AF_INET6 : AF_UNSPEC;
	j->hints.ai_socktype = SOCK_STREAM; /* one entry per address */
	j->cb.ar_name = j->name;
	j->cb.ar_request = &j->hints;
	j->sev.sigev_notify = SIGEV_THREAD;
	j->sev.sigev_notify_function = gai_notify;
	j->sev.sigev_value.sival_ptr = j;

	op = op_new(net, OP_DNS, name, timeout_ms, (void *)cb, ud);
	op->internal = internal;
	if (!internal)
		net->active++;
	op->job = j;
	op->dw = dr_loop_watch(net->loop, j->fds[0], DR_LOOP_READ, on_gai, op);
	op->timer = dr_loop_timer(net->loop, timeout_ms, on_timeout, op);
	list[0] = &j->cb;
	if ((e = getaddrinfo_a(GAI_NOWAIT, list, 1, &j->sev))) {
		char msg[512];

		/* Nothing was queued: no notification will come. */
		dr_loop_watch_remove(net->loop, op->dw);
		op->dw = NULL;
		op->job = NULL;
		job_unref(j);
		job_unref(j);
		snprintf(msg, sizeof(msg), "dns %s: %s", name, gai_strerror(e));
		fail_later(op, DR_EIO, msg);
	}
	*out = op;
	return 0;
}

int dr_net_dns_resolve(dr_net *net, const char *name, int family,
		       uint64_t timeout_ms, dr_net_dns_cb cb, void *ud,
		       dr_net_op **out)
{
	dr_net_op *op;
	int rc = dns_start(net, name, family, timeout_ms, cb, ud, false, &op);

	if (out)
		*out = op;
	return rc;
}

/* ---- tcp ---- */

static void tcp_try_next(dr_net_op *op);

static void on_connect(dr_loop *loop, int fd, unsigned revents, void *ud)
{
	dr_net_op *op = ud;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (!err && !(revents & (DR_LOOP_WRITE | DR_LOOP_ERROR)))
		return;
	if (!err) {
		tcp_done(op, 0, "");
		return;
	}
	dr_loop_watch_remove(loop, op->tw);
	op->tw = NULL;
	close(op->fd);
	op->fd = -1;
	snprintf(op->last_err, sizeof(op->last_err), "%s", strerror(err));
	tcp_try_next(op);
}

static void tcp_try_next(dr_net_op *op)
{
	while (op->iaddr < op->naddrs) {
		const char *a = op->addrs[op->iaddr++];
		struct sockaddr_storage ss;
		socklen_t sl;
		int fd;

		memset(&ss, 0, sizeof(ss));
		if (inet_pton(AF_INET, a, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)op->port);
			sl = sizeof(*s4);
		} else if (inet_pton(AF_INET6, a, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)op->port);
			sl = sizeof(*s6);
		} else {
			continue;
		}
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			snprintf(op->last_err, sizeof(op->last_err), "socket: %s", strerror(errno));
			continue;
		}
		if (!connect(fd, (struct sockaddr *)&ss, sl)) {
			close(fd);
			tcp_done(op, 0, "");
			return;
		}
		if (errno == EINPROGRESS) {
			op->fd = fd;
			op->tw = dr_loop_watch(op->net->loop, fd, DR_LOOP_WRITE, on_connect, op);
			return;
		}
		snprintf(op->last_err, sizeof(op->last_err), "%s", strerror(errno));
		close(fd);
	}
	{
		char msg[512];
		const char *e = op->last_err[0] ? op->last_err : "no usable address";

		/* "Connection refused" reads better lower-cased in a sentence. */
		snprintf(msg, sizeof(msg), "tcp %s:%d: %c%s", op->host, op->port,
			 e[0] >= 'A' && e[0] <= 'Z' ? e[0] - 'A' + 'a' : e[0], e + 1);
		tcp_done(op, DR_EIO, msg);
	}
}

static void on_begin(dr_loop *loop, void *ud)
{
	dr_net_op *op = ud;

	op->defer = NULL;
	tcp_try_next(op);
}

/* Connect on the next turn: the lookup op is still finishing now. */
static void tcp_on_dns(int rc, const char *const *addrs, size_t n, const char *error,
		       void *ud)
{
	dr_net_op *op = ud;
	size_t i;

	op->lookup = NULL; /* frees itself after this call */
	if (rc) {
		char msg[512];

		snprintf(msg, sizeof(msg), "tcp %s:%d: %s", op->host, op->port, error);
		fail_later(op, rc, msg);
		return;
	}
	op->addrs = dr_xcalloc(n, sizeof(*op->addrs));
	for (i = 0; i < n; i++)
		op->addrs[i] = dr_xstrdup(addrs[i]);
	op->naddrs = n;
	op->iaddr = 0;
	op->defer = dr_loop_defer(op->net->loop, on_begin, op);
}

int dr_net_tcp_check(dr_net *net, const char *host, int port,
		     uint64_t timeout_ms, dr_net_tcp_cb cb, void *ud,
		     dr_net_op **out)
{
	unsigned char buf[sizeof(struct in6_addr)];
	dr_net_op *op;
	int rc;

	if (out)
		*out = NULL;
	if (!host[0] || strlen(host) >= sizeof(op->host))
		return dr_error_set(DR_EINVAL, "tcp: host is empty or too long");
	if (port < 1 || port > 65535)
		return dr_error_set(DR_EINVAL, "tcp: port %d is out of range 1-65535", port);
	op = op_new(net, OP_TCP, host, timeout_ms, (void *)cb, ud);
	net->active++;
	op->port = port;
	op->timer = dr_loop_timer(net->loop, timeout_ms, on_timeout, op);
	if (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1) {
		op->addrs = dr_xcalloc(1, sizeof(*op->addrs));
		op->addrs[0] = dr_xstrdup(host);
		op->naddrs = 1;
		op->defer = dr_loop_defer(net->loop, on_begin, op);
	} else if ((rc = dns_start(net, host, DR_NET_ANY, timeout_ms, tcp_on_dns, op, true,
				   &op->lookup))) {
		char msg[512];

		snprintf(msg, sizeof(msg), "tcp %s:%d: %s", host, port, dr_error_msg());
		fail_later(op, rc, msg);
	}
	if (out)
		*out = op;
	return 0;
}

/* ---- public ---- */

int dr_net_new(dr_loop *loop, dr_net **out)
{
	dr_net *net = dr_xcalloc(1, sizeof(*net));
	int rc;

	*out = NULL;
	net->loop = loop;
	if ((rc = dr_http_new(loop, &net->http))) {
		free(net);
		return rc;
	}
	*out = net;
	return 0;
}

void dr_net_free(dr_net *net)
{
	if (!net)
		return;
	while (net->head)
		op_free(net->head);
	dr_http_free(net->http);
	free(net);
}

dr_http *dr_net_http(dr_net *net)
{
	return net->http;
}

dr_loop *dr_net_loop(dr_net *net)
{
	return net->loop;
}

size_t dr_net_active(const dr_net *net)
{
	return net->active;
}

void dr_net_cancel(dr_net *net, dr_net_op *op)
{
	if (op)
		op_free(op);
}
