#include "exec/loop.h"

#include "core/alloc.h"
#include "core/error.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct dr_timer {
	uint64_t deadline;
	uint64_t seq;   /* ties on deadline fire in order of addition */
	size_t idx;     /* position in the heap */
	dr_loop_cb cb;
	void *ud;
};

struct dr_defer {
	dr_defer *next;
	dr_loop_cb cb;
	void *ud;
	bool cancelled;
};

struct dr_watch {
	int fd;
	unsigned events;
	bool removed;   /* freed at the end of the iteration */
	bool internal;  /* the self-pipe: does not keep the loop running */
	dr_watch_cb cb;
	void *ud;
};

struct dr_loop {
	dr_clock clock;
	dr_timer **heap;
	size_t nheap, aheap;
	uint64_t seq;
	dr_defer *dhead, *dtail;
	dr_watch **watches;
	size_t nwatches, awatches;
	bool dispatching;   /* watchers may not be freed while iterating */
	struct pollfd *pfds;
	size_t apfds;
	int pipefd[2];
	dr_watch *pipe_watch;
	volatile sig_atomic_t stop;
	int last_signal;
	bool owns_signals;
	struct sigaction old_int, old_term;
};

/* ---- clocks ---- */

static uint64_t real_now(const dr_clock *c)
{
	struct timespec ts;

	(void)c;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t virt_now(const dr_clock *c)
{
	return c->virt_ms;
}

void dr_clock_init_real(dr_clock *c)
{
	memset(c, 0, sizeof(*c));
	c->now_ms = real_now;
}

void dr_clock_init_virtual(dr_clock *c, uint64_t start_ms)
{
	memset(c, 0, sizeof(*c));
	c->now_ms = virt_now;
	c->is_virtual = true;
	c->virt_ms = start_ms;
}

int64_t dr_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- timer heap ---- */

static bool timer_before(const dr_timer *a, const dr_timer *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->seq < b->seq;
}

static void heap_set(dr_loop *l, size_t i, dr_timer *t)
{
	l->heap[i] = t;
	t->idx = i;
}

static void heap_up(dr_loop *l, size_t i)
{
	dr_timer *t = l->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!timer_before(t, l->heap[parent]))
			break;
		heap_set(l, i, l->heap[parent]);
		i = parent;
	}
	heap_set(l, i, t);
}

static void heap_down(dr_loop *l, size_t i)
{
	dr_timer *t = l->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && timer_before(l->heap[c + 1], l->heap[c]))
			c++;
		if (!timer_before(l->heap[c], t))
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

static void heap_remove(dr_loop *l, dr_timer *t)
{
	size_t i = t->idx;
	dr_timer *last;

	assert(i < l->nheap && l->heap[i] == t);
	last = l->heap[--l->nheap];
	if (last == t)
		return;
	heap_set(l, i, last);
	heap_up(l, i);
	heap_down(l, last->idx);
}

dr_timer *dr_loop_timer(dr_loop *loop, uint64_t delay_ms, dr_loop_cb cb,
			void *ud)
{
	dr_timer *t = dr_xcalloc(1, sizeof(*t));
	uint64_t now = dr_loop_now(loop);

	t->deadline = delay_ms > UINT64_MAX - now ? UINT64_MAX : now + delay_ms;
	t->seq = loop->seq++;
	t->cb = cb;
	t->ud = ud;
	DR_ALLOC_GROW(loop->heap, loop->nheap + 1, loop->aheap);
	loop->heap[loop->nheap++] = t;
	heap_up(loop, loop->nheap - 1);
	return t;
}

uint64_t dr_loop_timer_deadline(const dr_timer *t)
{
	return t->deadline;
}

void dr_loop_timer_cancel(dr_loop *loop, dr_timer *t)
{
	if (!t)
		return;
	heap_remove(loop, t);
	free(t);
}

/* ---- deferred callbacks ---- */

dr_defer *dr_loop_defer(dr_loop *loop, dr_loop_cb cb, void *ud)
{
	dr_defer *d = dr_xcalloc(1, sizeof(*d));

	d->cb = cb;
	d->ud = ud;
	if (loop->dtail)
		loop->dtail->next = d;
	else
		loop->dhead = d;
	loop->dtail = d;
	return d;
}

void dr_loop_defer_cancel(dr_loop *loop, dr_defer *d)
{
	(void)loop;
	/* Unlinking would need the previous node; the run frees it instead. */
	if (d)
		d->cancelled = true;
}

static bool has_live_defers(const dr_loop *l)
{
	const dr_defer *d;

	for (d = l->dhead; d; d = d->next)
		if (!d->cancelled)
			return true;
	return false;
}

/* Run the callbacks queued before this call; later ones wait a turn. */
static void run_defers(dr_loop *l)
{
	dr_defer *d = l->dhead;

	l->dhead = l->dtail = NULL;
	while (d) {
		dr_defer *next = d->next;

		if (!d->cancelled) {
			d->cancelled = true;
			d->cb(l, d->ud);
		}
		free(d);
		d = next;
		if (l->stop) {
			/* Keep the rest for the next run, in order. */
			if (d) {
				dr_defer *tail = d;

				while (tail->next)
					tail = tail->next;
				tail->next = l->dhead;
				if (!l->dhead)
					l->dtail = tail;
				l->dhead = d;
			}
			return;
		}
	}
}

/* ---- fd watchers ---- */

dr_watch *dr_loop_watch(dr_loop *loop, int fd, unsigned events,
			dr_watch_cb cb, void *ud)
{
	dr_watch *w = dr_xcalloc(1, sizeof(*w));

	w->fd = fd;
	w->events = events & (DR_LOOP_READ | DR_LOOP_WRITE);
	w->cb = cb;
	w->ud = ud;
	DR_ALLOC_GROW(loop->watches, loop->nwatches + 1, loop->awatches);
	loop->watches[loop->nwatches++] = w;
	return w;
}

void dr_loop_watch_set(dr_loop *loop, dr_watch *w, unsigned events)
{
	(void)loop;
	w->events = events & (DR_LOOP_READ | DR_LOOP_WRITE);
}

static void compact_watches(dr_loop *l)
{
	size_t i, j = 0;

	for (i = 0; i < l->nwatches; i++) {
		if (l->watches[i]->removed)
			free(l->watches[i]);
		else
			l->watches[j++] = l->watches[i];
	}
	l->nwatches = j;
}

void dr_loop_watch_remove(dr_loop *loop, dr_watch *w)
{
	if (!w)
		return;
	w->removed = true;
	w->events = 0;
	if (!loop->dispatching)
		compact_watches(loop);
}

static bool has_user_watches(const dr_loop *l)
{
	size_t i;

	for (i = 0; i < l->nwatches; i++)
		if (!l->watches[i]->internal && !l->watches[i]->removed &&
		    l->watches[i]->events)
			return true;
	return false;
}

/* ---- signals ---- */

static int signal_pipe_fd = -1;

static void on_signal(int signo)
{
	int saved = errno;
	unsigned char c = (unsigned char)signo;

	if (signal_pipe_fd >= 0) {
		ssize_t n = write(signal_pipe_fd, &c, 1);

		(void)n; /* a full pipe already holds a pending stop */
	}
	errno = saved;
}

static void on_pipe(dr_loop *l, int fd, unsigned revents, void *ud)
{
	unsigned char buf[64];
	ssize_t n;

	(void)revents;
	(void)ud;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		l->last_signal = buf[n - 1];
		l->stop = 1;
	}
}

int dr_loop_stop_on_signals(dr_loop *loop)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	signal_pipe_fd = loop->pipefd[1];
	if (sigaction(SIGINT, &sa, &loop->old_int) < 0)
		return dr_error_set(DR_EIO, "sigaction: %s", strerror(errno));
	if (sigaction(SIGTERM, &sa, &loop->old_term) < 0) {
		sigaction(SIGINT, &loop->old_int, NULL);
		return dr_error_set(DR_EIO, "sigaction: %s", strerror(errno));
	}
	loop->owns_signals = true;
	return 0;
}

int dr_loop_last_signal(const dr_loop *loop)
{
	return loop->last_signal;
}

/* ---- life cycle ---- */

static int set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int dr_loop_new(const dr_clock *clock, dr_loop **out)
{
	dr_loop *l = dr_xcalloc(1, sizeof(*l));

	*out = NULL;
	if (clock)
		l->clock = *clock;
	else
		dr_clock_init_real(&l->clock);
	if (pipe(l->pipefd) < 0) {
		free(l);
		return dr_error_set(DR_EIO, "pipe: %s", strerror(errno));
	}
	if (set_nonblock_cloexec(l->pipefd[0]) < 0 ||
	    set_nonblock_cloexec(l->pipefd[1]) < 0) {
		int e = errno;

		close(l->pipefd[0]);
		close(l->pipefd[1]);
		free(l);
		return dr_error_set(DR_EIO, "fcntl: %s", strerror(e));
	}
	l->pipe_watch = dr_loop_watch(l, l->pipefd[0], DR_LOOP_READ, on_pipe, NULL);
	l->pipe_watch->internal = true;
	*out = l;
	return 0;
}

void dr_loop_free(dr_loop *loop)
{
	size_t i;
	dr_defer *d;

	if (!loop)
		return;
	if (loop->owns_signals) {
		sigaction(SIGINT, &loop->old_int, NULL);
		sigaction(SIGTERM, &loop->old_term, NULL);
		signal_pipe_fd = -1;
	}
	for (i = 0; i < loop->nheap; i++)
		free(loop->heap[i]);
	free(loop->heap);
	for (i = 0; i < loop->nwatches; i++)
		free(loop->watches[i]);
	free(loop->watches);
	free(loop->pfds);
	while ((d = loop->dhead)) {
		loop->dhead = d->next;
		free(d);
	}
	close(loop->pipefd[0]);
	close(loop->pipefd[1]);
	free(loop);
}

uint64_t dr_loop_now(dr_loop *loop)
{
	return loop->clock.now_ms(&loop->clock);
}

bool dr_loop_is_virtual(const dr_loop *loop)
{
	return loop->clock.is_virtual;
}

void dr_loop_advance(dr_loop *loop, uint64_t ms)
{
	assert(loop->clock.is_virtual);
	loop->clock.virt_ms += ms;
}

void dr_loop_stop(dr_loop *loop)
{
	loop->stop = 1;
}

/* ---- running ---- */

static bool has_work(const dr_loop *l)
{
	return has_live_defers(l) || l->nheap > 0 || has_user_watches(l);
}

/* Fire timers due now that existed when this phase began. */
static void run_timers(dr_loop *l)
{
	uint64_t now = dr_loop_now(l);
	uint64_t seq_limit = l->seq;

	while (l->nheap > 0 && !l->stop) {
		dr_timer *t = l->heap[0];

		if (t->deadline > now || t->seq >= seq_limit)
			break;
		heap_remove(l, t);
		t->cb(l, t->ud);
		free(t);
	}
}

/* Poll the watchers; timeout_ms < 0 waits forever. */
static int poll_watches(dr_loop *l, int timeout_ms)
{
	size_t i, n = 0;
	int rc;

	DR_ALLOC_GROW(l->pfds, l->nwatches, l->apfds);
	for (i = 0; i < l->nwatches; i++) {
		dr_watch *w = l->watches[i];

		l->pfds[i].fd = w->events ? w->fd : -1;
		l->pfds[i].events = (short)(((w->events & DR_LOOP_READ) ? POLLIN : 0) |
				   ((w->events & DR_LOOP_WRITE) ? POLLOUT : 0));
		l->pfds[i].revents = 0;
		n++;
	}
	rc = poll(l->pfds, n, timeout_ms);
	if (rc < 0) {
		if (errno == EINTR)
			return 0;
		return dr_error_set(DR_EIO, "poll: %s", strerror(errno));
	}
	if (rc == 0)
		return 0;
	/* Watchers added by callbacks go past n and are not looked at now. */
	l->dispatching = true;
	for (i = 0; i < n && !l->stop; i++) {
		dr_watch *w = l->watches[i];
		short re = l->pfds[i].revents;
		unsigned ev = 0;

		if (!re || w->removed)
			continue;
		if (re & POLLIN)
			ev |= DR_LOOP_READ;
		if (re & POLLOUT)
			ev |= DR_LOOP_WRITE;
		if (re & (POLLERR | POLLHUP | POLLNVAL))
			ev |= DR_LOOP_ERROR;
		w->cb(l, w->fd, ev, w->ud);
	}
	l->dispatching = false;
	compact_watches(l);
	return rc;
}

static int consume_stop(dr_loop *l)
{
	l->stop = 0;
	return DR_ECANCELLED;
}

int dr_loop_run_once(dr_loop *l, bool block)
{
	int timeout = 0;
	int rc;

	if (l->stop)
		return consume_stop(l);
	run_defers(l);
	if (l->stop)
		return consume_stop(l);

	if (block && !has_live_defers(l)) {
		if (l->nheap > 0) {
			uint64_t now = dr_loop_now(l), dl = l->heap[0]->deadline;

			if (l->clock.is_virtual)
				timeout = 0; /* jump below if no fd is ready */
			else if (dl <= now)
				timeout = 0;
			else
				timeout = dl - now > 60000 ? 60000 : (int)(dl - now);
		} else if (has_user_watches(l)) {
			timeout = -1;
		} else {
			/* Only the self-pipe: nothing can happen but a signal. */
			timeout = 0;
		}
	}
	rc = poll_watches(l, timeout);
	if (rc < 0)
		return rc;
	if (l->stop)
		return consume_stop(l);
	if (block && rc == 0 && l->clock.is_virtual && l->nheap > 0 &&
	    !has_live_defers(l)) {
		uint64_t dl = l->heap[0]->deadline;

		if (dl > l->clock.virt_ms)
			l->clock.virt_ms = dl;
	}
	run_timers(l);
	if (l->stop)
		return consume_stop(l);
	return has_work(l) ? 1 : 0;
}

int dr_loop_run(dr_loop *l)
{
	for (;;) {
		int rc = dr_loop_run_once(l, true);

		if (rc <= 0)
			return rc;
	}
}
