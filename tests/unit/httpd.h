/*
 * httpd.h - a tiny HTTP/1.1 test server that runs on a dr_loop.
 *
 * Listens on 127.0.0.1 with an ephemeral port, in-process, on the same
 * loop as the client under test, so a test needs no threads or children.
 * One request per connection ("Connection: close"). Routes:
 *
 *   /ok           200 "hello", header "X-Test: a", two "X-Dup" headers
 *   /status/N     status N, body "status N"
 *   /hang         never answers (the connection stays open)
 *   /big/N        200 with N bytes of 'x'
 *   /slow/MS      200 "slow" after MS milliseconds
 *   /flaky/N      503 for the first N requests to any /flaky path, then
 *                 200 "healthy"
 *   anything else 200 with srv->reply (default "{}"), as application/json
 *
 * Every request is counted and the last one kept (method, path with query,
 * raw header block, body) for the test to check; on_request, when set, sees
 * every request before it is routed. Bounded: requests over 1 MiB are
 * answered 413.
 */
#ifndef DR_TEST_HTTPD_H
#define DR_TEST_HTTPD_H

#include "core/alloc.h"
#include "core/strbuf.h"
#include "exec/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct httpd_conn httpd_conn;

typedef struct httpd {
	dr_loop *loop;
	httpd_conn *conns;
	int fd;
	int port;
	dr_watch *w;
	int requests;
	int flaky_seen;
	int open_conns;
	const char *reply;
	char last_method[16];
	char last_path[512];
	dr_strbuf last_headers;
	dr_strbuf last_body;
	/* Optional: called for every request (headers block with the request
	 * line, then the body). */
	void (*on_request)(void *ud, const char *path, const char *headers,
			   size_t hlen, const char *body, size_t blen);
	void *on_request_ud;
} httpd;

struct httpd_conn {
	httpd *srv;
	httpd_conn *prev, *next;
	int fd;
	dr_watch *w;
	dr_timer *t;
	dr_strbuf in, out;
	size_t out_off;
	int answered;
};

static inline void httpd_conn_close(httpd_conn *c)
{
	dr_loop_watch_remove(c->srv->loop, c->w);
	dr_loop_timer_cancel(c->srv->loop, c->t);
	close(c->fd);
	c->srv->open_conns--;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	dr_strbuf_release(&c->in);
	dr_strbuf_release(&c->out);
	free(c);
}

static inline void httpd_respond(httpd_conn *c, int status, const char *ctype,
			  const char *extra, const char *body, size_t len)
{
	dr_strbuf_addf(&c->out, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n"
			      "Content-Type: %s\r\nConnection: close\r\n%s\r\n",
		       status, len, ctype, extra ? extra : "");
	dr_strbuf_add(&c->out, body, len);
	c->answered = 1;
	dr_loop_watch_set(c->srv->loop, c->w, DR_LOOP_READ | DR_LOOP_WRITE);
}

static inline void httpd_on_slow(dr_loop *l, void *ud)
{
	httpd_conn *c = ud;

	(void)l;
	c->t = NULL;
	httpd_respond(c, 200, "text/plain", NULL, "slow", 4);
}

static inline void httpd_route(httpd_conn *c, const char *method, const char *path)
{
	httpd *s = c->srv;
	char buf[64];
	long n;

	if (!strcmp(path, "/ok")) {
		httpd_respond(c, 200, "text/plain", "X-Test: a\r\nX-Dup: 1\r\nX-Dup: 2\r\n",
			      "hello", 5);
	} else if (sscanf(path, "/status/%ld", &n) == 1) {
		int len = snprintf(buf, sizeof(buf), "status %ld", n);

		httpd_respond(c, (int)n, "text/plain", NULL, buf, (size_t)len);
	} else if (!strcmp(path, "/hang")) {
		/* never answer */
	} else if (sscanf(path, "/big/%ld", &n) == 1 && n >= 0 && n <= (64 << 20)) {
		char *b = dr_xmalloc((size_t)n + 1);

		memset(b, 'x', (size_t)n);
		httpd_respond(c, 200, "text/plain", NULL, b, (size_t)n);
		free(b);
	} else if (sscanf(path, "/slow/%ld", &n) == 1 && n >= 0) {
		c->t = dr_loop_timer(s->loop, (uint64_t)n, httpd_on_slow, c);
	} else if (sscanf(path, "/flaky/%ld", &n) == 1) {
		if (s->flaky_seen++ < n)
			httpd_respond(c, 503, "text/plain", NULL, "down", 4);
		else
			httpd_respond(c, 200, "text/plain", NULL, "healthy", 7);
	} else {
		const char *r = s->reply ? s->reply : "{}";

		(void)method;
		httpd_respond(c, 200, "application/json", NULL, r, strlen(r));
	}
}

/* A full request is in c->in: headers and Content-Length bytes of body. */
static inline int httpd_parse(httpd_conn *c)
{
	httpd *s = c->srv;
	char *end = strstr(c->in.buf, "\r\n\r\n");
	char method[16], path[512];
	const char *cl;
	size_t hlen, blen = 0;

	if (!end)
		return 0;
	hlen = (size_t)(end - c->in.buf) + 4;
	cl = strcasestr(c->in.buf, "\r\ncontent-length:");
	if (cl && cl < end)
		blen = strtoul(cl + 17, NULL, 10);
	if (c->in.len < hlen + blen)
		return 0;
	if (sscanf(c->in.buf, "%15s %511s", method, path) != 2)
		return -1;
	s->requests++;
	snprintf(s->last_method, sizeof(s->last_method), "%s", method);
	snprintf(s->last_path, sizeof(s->last_path), "%s", path);
	dr_strbuf_reset(&s->last_headers);
	dr_strbuf_add(&s->last_headers, c->in.buf, hlen);
	dr_strbuf_reset(&s->last_body);
	dr_strbuf_add(&s->last_body, c->in.buf + hlen, blen);
	if (s->on_request)
		s->on_request(s->on_request_ud, path, c->in.buf, hlen, c->in.buf + hlen, blen);
	path[strcspn(path, "?#")] = 0; /* route on the path alone */
	httpd_route(c, method, path);
	return 1;
}

static inline void httpd_on_conn(dr_loop *l, int fd, unsigned ev, void *ud)
{
	httpd_conn *c = ud;
	char buf[16384];
	ssize_t n;

	(void)l;
	if (c->out.len > c->out_off && (ev & DR_LOOP_WRITE)) {
		n = write(fd, c->out.buf + c->out_off, c->out.len - c->out_off);
		if (n < 0 && errno != EAGAIN) {
			httpd_conn_close(c);
			return;
		}
		if (n > 0)
			c->out_off += (size_t)n;
		if (c->out_off == c->out.len) {
			httpd_conn_close(c);
			return;
		}
	}
	if (ev & (DR_LOOP_READ | DR_LOOP_ERROR)) {
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			httpd_conn_close(c);
			return;
		}
		if (n > 0 && !c->answered) {
			if (c->in.len + (size_t)n > (1u << 20)) {
				httpd_respond(c, 413, "text/plain", NULL, "too big", 7);
				return;
			}
			dr_strbuf_add(&c->in, buf, (size_t)n);
			if (httpd_parse(c) < 0)
				httpd_respond(c, 400, "text/plain", NULL, "bad", 3);
		}
	}
}

static inline void httpd_on_accept(dr_loop *l, int fd, unsigned ev, void *ud)
{
	httpd *s = ud;
	int cfd;

	(void)ev;
	while ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		httpd_conn *c = dr_xcalloc(1, sizeof(*c));

		c->srv = s;
		c->fd = cfd;
		dr_strbuf_init(&c->in, 0);
		dr_strbuf_init(&c->out, 0);
		c->w = dr_loop_watch(l, cfd, DR_LOOP_READ, httpd_on_conn, c);
		s->open_conns++;
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
	}
}

/* Returns 0 and fills *s, or -1. */
static inline int httpd_start(httpd *s, dr_loop *loop)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->loop = loop;
	dr_strbuf_init(&s->last_headers, 0);
	dr_strbuf_init(&s->last_body, 0);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s->fd, (struct sockaddr *)&a, sizeof(a)) || listen(s->fd, 4096) ||
	    getsockname(s->fd, (struct sockaddr *)&a, &al)) {
		close(s->fd);
		return -1;
	}
	s->port = ntohs(a.sin_port);
	s->w = dr_loop_watch(loop, s->fd, DR_LOOP_READ, httpd_on_accept, s);
	return 0;
}

/* Stops listening and closes every open connection. */
static inline void httpd_stop(httpd *s)
{
	while (s->conns)
		httpd_conn_close(s->conns);
	dr_loop_watch_remove(s->loop, s->w);
	close(s->fd);
	dr_strbuf_release(&s->last_headers);
	dr_strbuf_release(&s->last_body);
}

#endif
