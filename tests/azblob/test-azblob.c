/*
 * test-azblob.c - the azblob state store against Azurite (run by
 * tests/azurite/with-azurite.sh, which exports DRPLAN_TEST_STORE,
 * AZURE_STORAGE_CONNECTION_STRING and DRPLAN_AZURITE_*).
 *
 * Faults come from a small loopback proxy in this file that sits between
 * the store and Azurite and, on demand, answers 503, drops a request before
 * forwarding it, or forwards it and drops the answer (an unknown outcome).
 */
#define _GNU_SOURCE /* strcasestr */
#include "test.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "journal/azblob.h"
#include "journal/store.h"
#include "journal/store_azblob.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *base_spec;  /* azblob://devstoreaccount1/tXXXX */
static char account_ep[128];   /* http://127.0.0.1:PORT/devstoreaccount1 */

/* ---- the fault proxy ---- */

enum fault { F_NONE, F_503, F_DROP_BEFORE, F_DROP_AFTER };

static struct {
	int lfd;
	int port;
	int upstream;
	int mode;      /* enum fault, for the next `count` requests */
	int count;
	int requests;  /* requests seen */
	pthread_t th;
	pthread_mutex_t mu;
	char auth[256]; /* the last request's Authorization header */
} px = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* A fake IMDS: every request gets a token; the last request line is kept. */
static struct {
	int lfd;
	int port;
	pthread_t th;
	pthread_mutex_t mu;
	char line[512];
} imds = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int read_request(int fd, dr_strbuf *req)
{
	char buf[65536];
	size_t hdr_end = 0, need = 0;

	dr_strbuf_reset(req);
	for (;;) {
		if (hdr_end && req->len >= hdr_end + need)
			return 0;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return -1;
		dr_strbuf_add(req, buf, (size_t)n);
		if (!hdr_end) {
			char *e = strstr(req->buf, "\r\n\r\n");
			if (e) {
				hdr_end = (size_t)(e - req->buf) + 4;
				char *cl = strcasestr(req->buf, "\r\ncontent-length:");
				if (cl && cl < e)
					need = strtoul(cl + 17, NULL, 10);
			}
		}
	}
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Forward req with "Connection: close" and read the answer to EOF. */
static void forward(const dr_strbuf *req, dr_strbuf *resp)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)px.upstream) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char buf[65536];
	const char *eol = strstr(req->buf, "\r\n");

	dr_strbuf_reset(resp);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || !eol || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	write_all(fd, req->buf, (size_t)(eol - req->buf) + 2);
	write_all(fd, "Connection: close\r\n", 19);
	write_all(fd, eol + 2, req->len - (size_t)(eol + 2 - req->buf));
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		dr_strbuf_add(resp, buf, (size_t)n);
	}
	close(fd);
}

static void *proxy_main(void *ud)
{
	dr_strbuf req = DR_STRBUF_INIT, resp = DR_STRBUF_INIT;

	(void)ud;
	for (;;) {
		int fd = accept(px.lfd, NULL, NULL);
		if (fd < 0)
			break;
		if (read_request(fd, &req) == 0) {
			int mode = F_NONE;
			char *a = strcasestr(req.buf, "\r\nAuthorization:");
			pthread_mutex_lock(&px.mu);
			px.auth[0] = '\0';
			if (a)
				snprintf(px.auth, sizeof(px.auth), "%.*s",
					 (int)strcspn(a + 2, "\r"), a + 2);
			pthread_mutex_unlock(&px.mu);
			__atomic_add_fetch(&px.requests, 1, __ATOMIC_SEQ_CST);
			if (__atomic_load_n(&px.count, __ATOMIC_SEQ_CST) > 0) {
				__atomic_sub_fetch(&px.count, 1, __ATOMIC_SEQ_CST);
				mode = __atomic_load_n(&px.mode, __ATOMIC_SEQ_CST);
			}
			if (mode == F_503) {
				static const char busy[] =
					"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
					"x-ms-error-code: ServerBusy\r\nConnection: close\r\n\r\n";
				write_all(fd, busy, sizeof(busy) - 1);
			} else if (mode == F_DROP_AFTER) {
				forward(&req, &resp);
			} else if (mode == F_NONE) {
				forward(&req, &resp);
				write_all(fd, resp.buf, resp.len);
			}
		}
		close(fd);
	}
	dr_strbuf_release(&req);
	dr_strbuf_release(&resp);
	return NULL;
}

static int listen_loopback(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 16) < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		perror("listen");
		exit(1);
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static void proxy_start(int upstream)
{
	px.upstream = upstream;
	px.lfd = listen_loopback(&px.port);
	pthread_create(&px.th, NULL, proxy_main, NULL);
}

static void *imds_main(void *ud)
{
	static const char body[] =
		"{\"access_token\":\"tok-123\",\"expires_in\":\"3600\",\"token_type\":\"Bearer\"}";
	dr_strbuf req = DR_STRBUF_INIT, resp = DR_STRBUF_INIT;

	(void)ud;
	dr_strbuf_addf(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			      "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		       sizeof(body) - 1, body);
	for (;;) {
		int fd = accept(imds.lfd, NULL, NULL);
		if (fd < 0)
			break;
		if (read_request(fd, &req) == 0) {
			pthread_mutex_lock(&imds.mu);
			snprintf(imds.line, sizeof(imds.line), "%.*s",
				 (int)strcspn(req.buf, "\r"), req.buf);
			pthread_mutex_unlock(&imds.mu);
			write_all(fd, resp.buf, resp.len);
		}
		close(fd);
	}
	dr_strbuf_release(&req);
	dr_strbuf_release(&resp);
	return NULL;
}

static void proxy_fault(int mode, int count)
{
	__atomic_store_n(&px.mode, mode, __ATOMIC_SEQ_CST);
	__atomic_store_n(&px.count, count, __ATOMIC_SEQ_CST);
	__atomic_store_n(&px.requests, 0, __ATOMIC_SEQ_CST);
}

static int proxy_requests(void)
{
	return __atomic_load_n(&px.requests, __ATOMIC_SEQ_CST);
}

/* ---- helpers ---- */

static dr_azblob_opts fast_opts(void)
{
	dr_azblob_opts o;

	memset(&o, 0, sizeof(o));
	o.attempts = 4;
	o.retry_base_ms = 20;
	o.timeout_ms = 10000;
	return o;
}

static dr_store *open_spec(const char *suffix, const dr_azblob_opts *o)
{
	dr_strbuf spec = DR_STRBUF_INIT;
	dr_store *s = NULL;
	dr_azblob_opts d = fast_opts();

	dr_strbuf_addf(&spec, "%s%s", base_spec, suffix);
	if (dr_store_azblob_open(spec.buf, o ? o : &d, DR_STORE_CREATE, &s) < 0) {
		fprintf(stderr, "open %s: %s\n", spec.buf, dr_error_msg());
		exit(1);
	}
	dr_strbuf_release(&spec);
	return s;
}

/* The store through the proxy. */
static dr_store *open_proxied(const char *suffix)
{
	static char ep[128];
	dr_azblob_opts o = fast_opts();

	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/devstoreaccount1", px.port);
	o.endpoint = ep;
	return open_spec(suffix, &o);
}

static char *read_all(dr_store *s, const char *key)
{
	dr_strbuf sb = DR_STRBUF_INIT;

	if (dr_store_read(s, key, &sb) < 0) {
		dr_strbuf_release(&sb);
		return dr_xstrdup("(error)");
	}
	return dr_strbuf_detach(&sb, NULL);
}

#define CHECK_MSG(needle)                                                      \
	do {                                                                   \
		if (!strstr(dr_error_msg(), needle)) {                         \
			fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", \
				__FILE__, __LINE__, dr_error_msg(), needle);   \
			test_failed_checks++;                                  \
		}                                                              \
	} while (0)

/* ---- tests ---- */

TEST(open_container)
{
	dr_strbuf spec = DR_STRBUF_INIT;
	dr_store *s = NULL;
	dr_azblob_opts o = fast_opts();

	dr_strbuf_addf(&spec, "%sx", base_spec); /* another, missing container */
	CHECK_INT(dr_store_azblob_open(spec.buf, &o, 0, &s), DR_ENOTFOUND);
	CHECK_MSG("the container does not exist");
	CHECK_INT(dr_store_azblob_open(spec.buf, &o, DR_STORE_CREATE, &s), 0);
	CHECK_STR(dr_store_spec(s), spec.buf);
	dr_store_free(s);
	s = NULL;
	CHECK_INT(dr_store_azblob_open(spec.buf, &o, 0, &s), 0);
	dr_store_free(s);
	/* dr_store_open() dispatches on the scheme. */
	s = NULL;
	CHECK_INT(dr_store_open(spec.buf, 0, &s), 0);
	CHECK(s != NULL);
	dr_store_free(s);
	dr_strbuf_release(&spec);
}

TEST(append_read)
{
	dr_store *s = open_spec("/ar", NULL);
	dr_strbuf sb = DR_STRBUF_INIT;
	uint64_t size = 99;
	char *c;

	CHECK_INT(dr_store_size(s, "j/log", &size), DR_ENOTFOUND);
	CHECK_INT(dr_store_append(s, "j/log", "x", 1, 4), DR_ENOTFOUND);
	CHECK_MSG("j/log: does not exist (expected 4 bytes)");
	CHECK_INT(dr_store_append(s, "j/log", "a", 1, 0), 0);
	CHECK_INT(dr_store_append(s, "j/log", "bc", 2, 1), 0);
	CHECK_INT(dr_store_size(s, "j/log", &size), 0);
	CHECK_INT(size, 3);
	CHECK_STR(c = read_all(s, "j/log"), "abc");
	free(c);
	/* A stale writer: refused, nothing written. */
	CHECK_INT(dr_store_append(s, "j/log", "zz", 2, 1), DR_ECONFLICT);
	CHECK_MSG("j/log: size is 3 bytes, expected 1 (another writer?)");
	CHECK_INT(dr_store_append(s, "j/log", "zz", 2, 0), DR_ECONFLICT);
	CHECK_STR(c = read_all(s, "j/log"), "abc");
	free(c);
	CHECK_INT(dr_store_read_range(s, "j/log", 1, 1, &sb), 0);
	CHECK_STR(sb.buf, "b");
	CHECK_INT(dr_store_read_range(s, "j/log", 1, 100, &sb), 0);
	CHECK_STR(sb.buf, "bc");
	CHECK_INT(dr_store_read_range(s, "j/log", 3, 10, &sb), 0);
	CHECK_INT(sb.len, 0);
	CHECK_INT(dr_store_read_range(s, "j/log", 50, 10, &sb), 0);
	CHECK_INT(sb.len, 0);
	CHECK_INT(dr_store_read(s, "j/none", &sb), DR_ENOTFOUND);
	CHECK_MSG("j/none: not found");
	/* Appends are atomic: no truncate. */
	CHECK_INT(dr_store_truncate(s, "j/log", 1, 3), DR_EINVAL);
	CHECK_MSG("truncate not supported");
	/* A bigger record, binary. */
	{
		size_t n = 300000;
		char *big = dr_xmalloc(n);
		for (size_t i = 0; i < n; i++)
			big[i] = (char)(i * 7);
		CHECK_INT(dr_store_append(s, "j/log", big, n, 3), 0);
		CHECK_INT(dr_store_read_range(s, "j/log", 3, n, &sb), 0);
		CHECK_INT(sb.len, n);
		CHECK(sb.len == n && !memcmp(sb.buf, big, n));
		free(big);
	}
	dr_strbuf_release(&sb);
	dr_store_free(s);
}

TEST(two_writers)
{
	dr_store *a = open_spec("/tw", NULL), *b = open_spec("/tw", NULL);
	char *c;

	CHECK_INT(dr_store_append(a, "log", "A1", 2, 0), 0);
	CHECK_INT(dr_store_append(b, "log", "B1", 2, 0), DR_ECONFLICT);
	CHECK_INT(dr_store_append(b, "log", "B1", 2, 2), 0);
	CHECK_INT(dr_store_append(a, "log", "A2", 2, 2), DR_ECONFLICT);
	CHECK_STR(c = read_all(a, "log"), "A1B1");
	free(c);
	dr_store_free(a);
	dr_store_free(b);
}

TEST(put_get)
{
	dr_store *s = open_spec("/pg", NULL);
	dr_strbuf sb = DR_STRBUF_INIT;
	char *v1 = NULL, *v2 = NULL, *v3 = NULL, *gv = NULL;

	CHECK_INT(dr_store_put(s, "m.json", "{1}", 3, "", &v1), 0);
	CHECK(v1 && v1[0] == '"');
	CHECK_INT(dr_store_put(s, "m.json", "{x}", 3, "", NULL), DR_ECONFLICT);
	CHECK_MSG("m.json: already exists");
	CHECK_INT(dr_store_put(s, "m.json", "{2}", 3, v1, &v2), 0);
	CHECK(v2 && strcmp(v1, v2));
	CHECK_INT(dr_store_put(s, "m.json", "{3}", 3, v1, NULL), DR_ECONFLICT);
	CHECK_MSG("m.json: changed since it was read");
	CHECK_INT(dr_store_get(s, "m.json", &sb, &gv), 0);
	CHECK_STR(sb.buf, "{2}");
	CHECK_STR(gv, v2);
	CHECK_INT(dr_store_put(s, "m.json", "", 0, NULL, &v3), 0);
	CHECK_INT(dr_store_get(s, "m.json", &sb, NULL), 0);
	CHECK_INT(sb.len, 0);
	CHECK_INT(dr_store_put(s, "gone.json", "x", 1, v3, NULL), DR_ECONFLICT);
	/* A whole object is not a log. */
	CHECK_INT(dr_store_append(s, "m.json", "x", 1, 0), DR_EINVAL);
	CHECK_MSG("m.json: not a log object");
	CHECK_INT(dr_store_remove(s, "m.json"), 0);
	CHECK_INT(dr_store_remove(s, "m.json"), DR_ENOTFOUND);
	CHECK_MSG("m.json: not found");
	CHECK_INT(dr_store_get(s, "m.json", &sb, NULL), DR_ENOTFOUND);
	free(v1);
	free(v2);
	free(v3);
	free(gv);
	dr_strbuf_release(&sb);
	dr_store_free(s);
}

struct names {
	dr_strbuf all;
	int n;
};

static int collect(void *ctx, const char *key)
{
	struct names *nm = ctx;

	dr_strbuf_addf(&nm->all, "%s%s", nm->n++ ? "," : "", key);
	return 0;
}

static int stop_at_two(void *ctx, const char *key)
{
	struct names *nm = ctx;

	collect(ctx, key);
	return nm->n == 2 ? 42 : 0;
}

TEST(list_paging_prefix)
{
	dr_azblob_opts o = fast_opts();
	dr_store *s, *root;
	struct names nm = { DR_STRBUF_INIT, 0 };
	const char *keys[] = { "jobs/b/journal", "jobs/a/meta.json", "jobs/a/journal",
			       "sim/state.json", "jobs/c/journal", "jobs/aa/x", "z" };

	o.list_page = 2; /* several pages for seven blobs */
	s = open_spec("/ls/pre", &o);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		CHECK_INT(dr_store_put(s, keys[i], "1", 1, NULL, NULL), 0);
	CHECK_INT(dr_store_list(s, "", collect, &nm), 0);
	CHECK_STR(nm.all.buf, "jobs/a/journal,jobs/a/meta.json,jobs/aa/x,jobs/b/journal,"
			      "jobs/c/journal,sim/state.json,z");
	dr_strbuf_reset(&nm.all);
	nm.n = 0;
	CHECK_INT(dr_store_list(s, "jobs/a/", collect, &nm), 0);
	CHECK_STR(nm.all.buf, "jobs/a/journal,jobs/a/meta.json");
	dr_strbuf_reset(&nm.all);
	nm.n = 0;
	CHECK_INT(dr_store_list(s, "jobs/a", collect, &nm), 0);
	CHECK_STR(nm.all.buf, "jobs/a/journal,jobs/a/meta.json,jobs/aa/x");
	dr_strbuf_reset(&nm.all);
	nm.n = 0;
	CHECK_INT(dr_store_list(s, "", stop_at_two, &nm), 42);
	CHECK_STR(nm.all.buf, "jobs/a/journal,jobs/a/meta.json");
	dr_strbuf_reset(&nm.all);
	nm.n = 0;
	CHECK_INT(dr_store_list(s, "nothing/", collect, &nm), 0);
	CHECK_INT(nm.n, 0);
	/* The prefix is a folder of the container: a store without it sees it. */
	root = open_spec("/ls", &o);
	dr_strbuf_reset(&nm.all);
	nm.n = 0;
	CHECK_INT(dr_store_list(root, "pre/jobs/c", collect, &nm), 0);
	CHECK_STR(nm.all.buf, "pre/jobs/c/journal");
	dr_store_free(root);
	dr_store_free(s);
	dr_strbuf_release(&nm.all);
}

struct raw_names {
	dr_strbuf all;
};

static int raw_collect(void *ctx, const char *name)
{
	struct raw_names *r = ctx;

	dr_strbuf_addf(&r->all, "[%s]", name);
	return 0;
}

/* A blob that is not a store key (put there by something else): its XML-escaped
 * name is decoded, and the store's list skips it. */
TEST(list_foreign_names)
{
	dr_azblob *c = NULL;
	dr_azblob_opts o = fast_opts();
	const char *container = base_spec + strlen("azblob://devstoreaccount1/");
	dr_azblob_resp r;
	struct raw_names rn = { DR_STRBUF_INIT };
	dr_strbuf next = DR_STRBUF_INIT;
	struct names nm = { DR_STRBUF_INIT, 0 };
	dr_store *s = open_spec("/fx", NULL);

	CHECK_INT(dr_azblob_new("devstoreaccount1", container, "test", &o, &c), 0);
	dr_azblob_kv hdr[] = { { "x-ms-blob-type", "BlockBlob" } };
	dr_azblob_req put = { .method = "PUT", .blob = "fx/a&b'c", .headers = hdr,
			      .nheaders = 1, .body = "1", .len = 1 };
	dr_azblob_resp_init(&r);
	CHECK_INT(dr_azblob_call(c, &put, &r), 0);
	CHECK_INT(r.status, 201);
	CHECK_INT(dr_store_put(s, "ok", "1", 1, NULL, NULL), 0);
	dr_azblob_kv q[] = { { "restype", "container" }, { "comp", "list" },
			     { "prefix", "fx/" } };
	dr_azblob_req list = { .method = "GET", .query = q, .nquery = 3 };
	CHECK_INT(dr_azblob_call(c, &list, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(dr_azblob_parse_list(r.body.buf, r.body.len, raw_collect, &rn, &next), 0);
	CHECK_STR(rn.all.buf, "[fx/a&b'c][fx/ok]");
	CHECK_INT(next.len, 0);
	CHECK_INT(dr_store_list(s, "", collect, &nm), 0);
	CHECK_STR(nm.all.buf, "ok");
	dr_azblob_resp_release(&r);
	dr_azblob_free(c);
	dr_store_free(s);
	dr_strbuf_release(&rn.all);
	dr_strbuf_release(&nm.all);
	dr_strbuf_release(&next);
}

static const char *holder_a =
	"{\"job\":\"J-1\",\"host\":\"jump-1\",\"pid\":4242,\"since\":\"2026-11-25T10:00:00Z\"}";

TEST(lock_conflict_holder)
{
	dr_store *s = open_spec("/lk", NULL), *s2 = open_spec("/lk", NULL);
	dr_store_lock *l = NULL, *l2 = NULL;
	char *holder = NULL, *c;

	CHECK_INT(dr_store_lock_acquire(s, "erp", holder_a, 15000, &l, NULL), 0);
	CHECK_STR(dr_store_lock_holder(l), holder_a);
	CHECK_STR(c = read_all(s, "locks/erp.lock"), holder_a);
	free(c);
	CHECK_INT(dr_store_lock_acquire(s2, "erp", "{}", 15000, &l2, &holder), DR_ECONFLICT);
	CHECK_STR(dr_error_msg(), "lock 'erp' is held by job J-1 on host jump-1 (pid 4242) "
				  "since 2026-11-25T10:00:00Z");
	CHECK_STR(holder, holder_a);
	free(holder);
	holder = NULL;
	/* The same store too. */
	CHECK_INT(dr_store_lock_acquire(s, "erp", "{}", 15000, &l2, NULL), DR_ECONFLICT);
	/* Writes to the lock blob without the lease are refused. */
	CHECK_INT(dr_store_put(s2, "locks/erp.lock", "{}", 2, NULL, NULL), DR_ECONFLICT);
	CHECK_INT(dr_store_remove(s2, "locks/erp.lock"), DR_ECONFLICT);
	CHECK_INT(dr_store_lock_renew(l), 0);
	CHECK_INT(dr_store_lock_release(l), 0);
	/* Released: holder cleared, free for the next one. */
	CHECK_STR(c = read_all(s, "locks/erp.lock"), "");
	free(c);
	CHECK_INT(dr_store_lock_acquire(s2, "erp", "{\"job\":\"J-2\"}", 0, &l2, &holder), 0);
	CHECK(holder == NULL);
	CHECK_INT(dr_store_lock_acquire(s, "erp", "{}", 0, &l, &holder), DR_ECONFLICT);
	CHECK_STR(dr_error_msg(), "lock 'erp' is held by job J-2");
	free(holder);
	CHECK_INT(dr_store_lock_release(l2), 0);
	CHECK_INT(dr_store_lock_release(NULL), 0);
	dr_store_free(s);
	dr_store_free(s2);
}

/* An infinite lease broken by an operator: the holder's renew says it is lost. */
TEST(lock_broken)
{
	dr_store *s = open_spec("/lb", NULL), *s2 = open_spec("/lb", NULL);
	dr_store_lock *l = NULL, *l2 = NULL;
	dr_azblob *c = NULL;
	dr_azblob_opts o = fast_opts();
	const char *container = base_spec + strlen("azblob://devstoreaccount1/");
	dr_azblob_resp r;

	CHECK_INT(dr_store_lock_acquire(s, "erp", holder_a, 0, &l, NULL), 0);
	CHECK_INT(dr_azblob_new("devstoreaccount1", container, "test", &o, &c), 0);
	dr_azblob_kv q[] = { { "comp", "lease" } };
	dr_azblob_kv hdr[] = { { "x-ms-lease-action", "break" },
			       { "x-ms-lease-break-period", "0" } };
	dr_azblob_req brk = { .method = "PUT", .blob = "lb/locks/erp.lock", .query = q,
			      .nquery = 1, .headers = hdr, .nheaders = 2 };
	dr_azblob_resp_init(&r);
	CHECK_INT(dr_azblob_call(c, &brk, &r), 0);
	CHECK_INT(r.status, 202);
	CHECK_INT(dr_store_lock_renew(l), DR_ECONFLICT);
	CHECK_MSG("lock 'erp' lost");
	CHECK_INT(dr_store_lock_acquire(s2, "erp", "{}", 20000, &l2, NULL), 0);
	CHECK_INT(dr_store_lock_release(l), DR_ECONFLICT);
	CHECK_INT(dr_store_lock_release(l2), 0);
	dr_azblob_resp_release(&r);
	dr_azblob_free(c);
	dr_store_free(s);
	dr_store_free(s2);
}

/* A 15 s lease not renewed in time is lost, and another runner takes it. */
TEST(lock_expiry)
{
	dr_store *s = open_spec("/le", NULL), *s2 = open_spec("/le", NULL);
	dr_store_lock *l = NULL, *l2 = NULL;
	char *holder = NULL;

	CHECK_INT(dr_store_azblob_lease_seconds(1), 15);
	CHECK_INT(dr_store_lock_acquire(s, "erp", holder_a, 15000, &l, NULL), 0);
	CHECK_INT(dr_store_lock_acquire(s2, "erp", "{}", 15000, &l2, &holder), DR_ECONFLICT);
	free(holder);
	sleep(16);
	CHECK_INT(dr_store_lock_acquire(s2, "erp", "{\"job\":\"J-2\"}", 15000, &l2, NULL), 0);
	CHECK_INT(dr_store_lock_renew(l), DR_ECONFLICT);
	CHECK_MSG("lock 'erp' lost");
	CHECK_INT(dr_store_lock_renew(l2), 0);
	CHECK_INT(dr_store_lock_release(l), DR_ECONFLICT);
	CHECK_INT(dr_store_lock_release(l2), 0);
	dr_store_free(s);
	dr_store_free(s2);
}

TEST(wrong_key)
{
	const char *bad = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWs=";
	dr_strbuf cs = DR_STRBUF_INIT;
	dr_azblob_opts o = fast_opts();
	dr_store *s = NULL;

	dr_strbuf_addf(&cs, "AccountName=devstoreaccount1;AccountKey=%s;BlobEndpoint=%s", bad,
		       account_ep);
	o.connection_string = cs.buf;
	CHECK_INT(dr_store_azblob_open(base_spec, &o, 0, &s), DR_EINVAL);
	CHECK_MSG("HTTP 403 AuthorizationFailure");
	CHECK_MSG("the shared-key credential was refused");
	CHECK(!strstr(dr_error_msg(), bad));
	CHECK(!strstr(dr_error_msg(), "d3Jvbmc"));
	/* Not base64: refused before any request, without echoing it. */
	dr_strbuf_reset(&cs);
	dr_strbuf_addf(&cs, "AccountName=devstoreaccount1;AccountKey=not*base64;BlobEndpoint=%s",
		       account_ep);
	o.connection_string = cs.buf;
	CHECK_INT(dr_store_azblob_open(base_spec, &o, 0, &s), DR_EINVAL);
	CHECK_MSG("the account key in AZURE_STORAGE_CONNECTION_STRING is not base64");
	CHECK(!strstr(dr_error_msg(), "not*base64"));
	/* Another account's connection string. */
	o.connection_string = "AccountName=other;AccountKey=AAAA";
	CHECK_INT(dr_store_azblob_open(base_spec, &o, 0, &s), DR_EINVAL);
	CHECK_MSG("is for account 'other', not 'devstoreaccount1'");
	/* Nobody listening: bounded retries, then a clear error with no secret. */
	o.connection_string = NULL;
	o.endpoint = "http://127.0.0.1:1/devstoreaccount1";
	CHECK_INT(dr_store_azblob_open(base_spec, &o, 0, &s), DR_EIO);
	CHECK_MSG("(after 4 attempts)");
	CHECK(!strstr(dr_error_msg(), "AccountKey"));
	/* Plain http only to loopback. */
	o.connection_string = NULL;
	o.endpoint = "http://example.com/x";
	CHECK_INT(dr_store_azblob_open(base_spec, &o, 0, &s), DR_EINVAL);
	CHECK_MSG("plain http is only allowed to a loopback host");
	dr_strbuf_release(&cs);
}

/* An account SAS signed with the development key (version 2020-12-06 form). */
static char *make_sas(const char *perm)
{
	unsigned char key[64], md[32];
	unsigned int mdlen = 0;
	int klen = EVP_DecodeBlock(key, (const unsigned char *)DR_AZBLOB_DEV_KEY,
				   (int)strlen(DR_AZBLOB_DEV_KEY)) - 2;
	dr_strbuf sts = DR_STRBUF_INIT, out = DR_STRBUF_INIT;
	char b64[64];

	dr_strbuf_addf(&sts, "devstoreaccount1\n%s\nb\nsco\n\n2099-01-01T00:00:00Z\n\n"
			     "https,http\n%s\n\n", perm, DR_AZBLOB_API_VERSION);
	HMAC(EVP_sha256(), key, klen, (unsigned char *)sts.buf, sts.len, md, &mdlen);
	EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
	dr_strbuf_addf(&out, "?sv=%s&ss=b&srt=sco&sp=%s&se=2099-01-01T00:00:00Z&spr=https,http&sig=",
		       DR_AZBLOB_API_VERSION, perm);
	for (char *p = b64; *p; p++) {
		if (*p == '+' || *p == '/' || *p == '=')
			dr_strbuf_addf(&out, "%%%02X", (unsigned char)*p);
		else
			dr_strbuf_addch(&out, *p);
	}
	dr_strbuf_release(&sts);
	return dr_strbuf_detach(&out, NULL);
}

TEST(sas)
{
	dr_azblob_opts o = fast_opts();
	dr_strbuf spec = DR_STRBUF_INIT;
	dr_store *s = NULL;
	dr_store_lock *l = NULL;
	char *sas = make_sas("rwdlacup"), *ro = make_sas("rl"), *c;

	/* The connection string in the environment would win: override it. */
	dr_strbuf_addf(&spec, "%s/sas", base_spec);
	o.connection_string = "AccountName=devstoreaccount1";
	o.endpoint = account_ep;
	o.sas = sas;
	CHECK_INT(dr_store_azblob_open(spec.buf, &o, 0, &s), 0);
	CHECK_INT(dr_store_append(s, "log", "s1", 2, 0), 0);
	CHECK_INT(dr_store_append(s, "log", "s2", 2, 2), 0);
	CHECK_STR(c = read_all(s, "log"), "s1s2");
	free(c);
	CHECK_INT(dr_store_lock_acquire(s, "erp", holder_a, 15000, &l, NULL), 0);
	CHECK_INT(dr_store_lock_release(l), 0);
	dr_store_free(s);
	/* A read-only SAS: reads work, writes are refused clearly. */
	o.sas = ro;
	CHECK_INT(dr_store_azblob_open(spec.buf, &o, 0, &s), 0);
	CHECK_STR(c = read_all(s, "log"), "s1s2");
	free(c);
	CHECK_INT(dr_store_append(s, "log", "s3", 2, 4), DR_EINVAL);
	CHECK_MSG("HTTP 403");
	CHECK_MSG("the sas credential was refused");
	CHECK(!strstr(dr_error_msg(), "sig="));
	dr_store_free(s);
	free(sas);
	free(ro);
	dr_strbuf_release(&spec);
}

TEST(retry_503)
{
	dr_store *s = open_proxied("/r5");
	char *c;

	CHECK_INT(dr_store_append(s, "log", "ab", 2, 0), 0);
	proxy_fault(F_503, 2);
	CHECK_STR(c = read_all(s, "log"), "ab");
	free(c);
	CHECK_INT(proxy_requests(), 3);
	/* Persistent: bounded, then a clear error. */
	proxy_fault(F_503, 100);
	CHECK_INT(dr_store_append(s, "log", "cd", 2, 2), DR_EAGAIN);
	CHECK_MSG("log: append: HTTP 503 ServerBusy");
	CHECK_INT(proxy_requests(), 4);
	proxy_fault(F_NONE, 0);
	CHECK_STR(c = read_all(s, "log"), "ab");
	free(c);
	dr_store_free(s);
}

/* The request is lost before Azure sees it: retried, written once. */
TEST(retry_drop_before)
{
	dr_store *s = open_proxied("/rb");
	char *c;

	CHECK_INT(dr_store_append(s, "log", "ab", 2, 0), 0);
	proxy_fault(F_DROP_BEFORE, 1);
	CHECK_INT(dr_store_append(s, "log", "cd", 2, 2), 0);
	CHECK_INT(proxy_requests(), 2);
	proxy_fault(F_NONE, 0);
	CHECK_STR(c = read_all(s, "log"), "abcd");
	free(c);
	dr_store_free(s);
}

/* Azure wrote it but the answer was lost: the retry's 412 is decided by
 * reading the bytes back, and the record is there exactly once. */
TEST(retry_unknown_outcome)
{
	dr_store *s = open_proxied("/ru");
	char *c, *v = NULL;
	dr_strbuf sb = DR_STRBUF_INIT;

	CHECK_INT(dr_store_append(s, "log", "ab", 2, 0), 0);
	proxy_fault(F_DROP_AFTER, 1);
	CHECK_INT(dr_store_append(s, "log", "cd", 2, 2), 0);
	/* Lost answer, retry refused with 412, size, the bytes at 2. */
	CHECK_INT(proxy_requests(), 4);
	proxy_fault(F_NONE, 0);
	CHECK_STR(c = read_all(s, "log"), "abcd");
	free(c);
	/* The first append of a new log, lost answer too (creation + append). */
	proxy_fault(F_DROP_AFTER, 2);
	CHECK_INT(dr_store_append(s, "log2", "xy", 2, 0), 0);
	proxy_fault(F_NONE, 0);
	CHECK_STR(c = read_all(s, "log2"), "xy");
	free(c);
	/* But a different record already there is a conflict, not a success. */
	CHECK_INT(dr_store_append(s, "log", "EF", 2, 4), 0);
	proxy_fault(F_DROP_BEFORE, 1);
	CHECK_INT(dr_store_append(s, "log", "GH", 2, 4), DR_ECONFLICT);
	proxy_fault(F_NONE, 0);
	CHECK_STR(c = read_all(s, "log"), "abcdEF");
	free(c);
	/* Create-only put whose answer was lost: the retry's 409 is ours. */
	proxy_fault(F_DROP_AFTER, 1);
	CHECK_INT(dr_store_put(s, "m.json", "{1}", 3, "", &v), 0);
	proxy_fault(F_NONE, 0);
	CHECK(v && v[0] == '"');
	CHECK_INT(dr_store_get(s, "m.json", &sb, NULL), 0);
	CHECK_STR(sb.buf, "{1}");
	free(v);
	dr_strbuf_release(&sb);
	dr_store_free(s);
}

/*
 * No storage credential: an Entra ID token from the provider's chain (here
 * managed identity through a fake IMDS) for the storage audience, sent as a
 * bearer token. Azurite without --oauth refuses it, which is fine: the
 * wiring is what this checks.
 */
TEST(entra_id_bearer)
{
	char url[128], *cs = dr_xstrdup(getenv("AZURE_STORAGE_CONNECTION_STRING"));
	dr_azblob_opts o = fast_opts();
	dr_store *s = NULL;
	static char ep[128];

	imds.lfd = listen_loopback(&imds.port);
	pthread_create(&imds.th, NULL, imds_main, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metadata/identity/oauth2/token",
		 imds.port);
	setenv("DRPLAN_IMDS_ENDPOINT", url, 1);
	unsetenv("AZURE_STORAGE_CONNECTION_STRING");
	unsetenv("AZURE_TENANT_ID");
	unsetenv("AZURE_CLIENT_ID");
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/devstoreaccount1", px.port);
	o.endpoint = ep;
	proxy_fault(F_NONE, 0);
	CHECK_INT(dr_store_azblob_open(base_spec, &o, 0, &s), DR_EINVAL);
	CHECK_MSG("HTTP 403 AuthorizationFailure: the entra-id credential was refused");
	CHECK(!strstr(dr_error_msg(), "tok-123"));
	pthread_mutex_lock(&px.mu);
	CHECK_STR(px.auth, "Authorization: Bearer tok-123");
	pthread_mutex_unlock(&px.mu);
	pthread_mutex_lock(&imds.mu);
	CHECK(strstr(imds.line, "GET /metadata/identity/oauth2/token?api-version=2018-02-01"
				"&resource=https%3A%2F%2Fstorage.azure.com%2F ") == imds.line);
	if (strstr(imds.line, "resource=") == NULL)
		fprintf(stderr, "imds saw: %s\n", imds.line);
	pthread_mutex_unlock(&imds.mu);
	setenv("AZURE_STORAGE_CONNECTION_STRING", cs, 1);
	unsetenv("DRPLAN_IMDS_ENDPOINT");
	free(cs);
}

/* Azurite stopped and started again between and during calls. */
TEST(azurite_restart)
{
	const char *sh = getenv("DRPLAN_AZURITE_SH"), *dir = getenv("DRPLAN_AZURITE_DIR");
	const char *port = getenv("DRPLAN_AZURITE_PORT");
	dr_azblob_opts o = fast_opts();
	dr_strbuf cmd = DR_STRBUF_INIT;
	dr_store *s;
	char *c;
	pid_t pid;

	if (!sh || !dir || !port) {
		fprintf(stderr, "azurite_restart: DRPLAN_AZURITE_* not set\n");
		test_failed_checks++;
		return;
	}
	o.attempts = 8;
	o.retry_base_ms = 250;
	s = open_spec("/rs", &o);
	CHECK_INT(dr_store_append(s, "log", "r1", 2, 0), 0);
	dr_strbuf_addf(&cmd, "'%s' stop '%s'", sh, dir);
	CHECK_INT(system(cmd.buf), 0);
	pid = fork();
	if (pid == 0) {
		char p[16];
		snprintf(p, sizeof(p), "%s", port);
		usleep(1500 * 1000);
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		execl(sh, sh, "start", dir, p, (char *)NULL);
		_exit(127);
	}
	/* Retried with backoff until Azurite listens again. */
	CHECK_INT(dr_store_append(s, "log", "r2", 2, 2), 0);
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_STR(c = read_all(s, "log"), "r1r2");
	free(c);
	dr_strbuf_release(&cmd);
	dr_store_free(s);
}

int main(void)
{
	const char *cs = getenv("AZURE_STORAGE_CONNECTION_STRING");
	const char *port = getenv("DRPLAN_AZURITE_PORT");

	base_spec = getenv("DRPLAN_TEST_STORE");
	if (!base_spec || strncmp(base_spec, "azblob://devstoreaccount1/", 26) || !cs || !port) {
		fprintf(stderr, "test-azblob: run me with tests/azurite/with-azurite.sh\n");
		return 1;
	}
	snprintf(account_ep, sizeof(account_ep), "http://127.0.0.1:%s/devstoreaccount1", port);
	proxy_start(atoi(port));
	RUN(open_container);
	RUN(append_read);
	RUN(two_writers);
	RUN(put_get);
	RUN(list_paging_prefix);
	RUN(list_foreign_names);
	RUN(lock_conflict_holder);
	RUN(lock_broken);
	RUN(wrong_key);
	RUN(sas);
	RUN(retry_503);
	RUN(retry_drop_before);
	RUN(retry_unknown_outcome);
	RUN(entra_id_bearer);
	if (!getenv("DRPLAN_AZBLOB_QUICK"))
		RUN(lock_expiry);
	RUN(azurite_restart);
	return test_summary();
}
