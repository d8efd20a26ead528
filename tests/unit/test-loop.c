#include "core/error.h"
#include "exec/loop.h"
#include "test.h"

#include <signal.h>
#include <unistd.h>

static char trace[256];

static void note(const char *s)
{
	strncat(trace, s, sizeof(trace) - strlen(trace) - 1);
}

static void note_cb(dr_loop *l, void *ud)
{
	(void)l;
	note(ud);
}

static dr_loop *virtual_loop(uint64_t start)
{
	dr_clock c;
	dr_loop *l;

	dr_clock_init_virtual(&c, start);
	if (dr_loop_new(&c, &l) != 0)
		return NULL;
	return l;
}

TEST(timer_order)
{
	dr_loop *l = virtual_loop(1000);

	trace[0] = 0;
	dr_loop_timer(l, 30, note_cb, "c");
	dr_loop_timer(l, 10, note_cb, "a");
	dr_loop_timer(l, 20, note_cb, "b1");
	dr_loop_timer(l, 20, note_cb, "b2");
	dr_loop_timer(l, 20, note_cb, "b3");
	dr_loop_timer(l, 0, note_cb, "0");
	CHECK_INT(dr_loop_run(l), 0);
	CHECK_STR(trace, "0ab1b2b3c");
	CHECK_INT(dr_loop_now(l), 1030);
	dr_loop_free(l);
}

TEST(timer_cancel)
{
	dr_loop *l = virtual_loop(0);
	dr_timer *t[6];
	int i;
	static const char *names[] = { "0", "1", "2", "3", "4", "5" };

	trace[0] = 0;
	for (i = 0; i < 6; i++)
		t[i] = dr_loop_timer(l, (uint64_t)(60 - i * 10), note_cb,
				     (void *)names[i]);
	CHECK_INT(dr_loop_timer_deadline(t[1]), 50);
	dr_loop_timer_cancel(l, t[1]);
	dr_loop_timer_cancel(l, t[5]);
	dr_loop_timer_cancel(l, NULL);
	CHECK_INT(dr_loop_run(l), 0);
	CHECK_STR(trace, "4320");
	CHECK_INT(dr_loop_now(l), 60);
	dr_loop_free(l);
}

/* A long timer on a virtual clock takes no wall time. */
TEST(virtual_jump)
{
	dr_loop *l = virtual_loop(5);
	int64_t w0 = dr_wall_ms();

	trace[0] = 0;
	dr_loop_timer(l, 10ull * 60 * 1000, note_cb, "x");
	CHECK_INT(dr_loop_run_once(l, false), 1); /* not due: nothing ran */
	CHECK_STR(trace, "");
	CHECK_INT(dr_loop_now(l), 5);
	dr_loop_advance(l, 100);
	CHECK_INT(dr_loop_now(l), 105);
	CHECK_INT(dr_loop_run_once(l, true), 0);
	CHECK_STR(trace, "x");
	CHECK_INT(dr_loop_now(l), 600005);
	CHECK(dr_wall_ms() - w0 < 1000);
	dr_loop_free(l);
}

static dr_timer *self_cancel_other;

static void cancel_other_cb(dr_loop *l, void *ud)
{
	(void)ud;
	note("k");
	dr_loop_timer_cancel(l, self_cancel_other);
	dr_loop_timer(l, 0, note_cb, "z"); /* not in this iteration */
}

TEST(timer_added_from_callback)
{
	dr_loop *l = virtual_loop(0);

	trace[0] = 0;
	dr_loop_timer(l, 5, cancel_other_cb, NULL);
	self_cancel_other = dr_loop_timer(l, 5, note_cb, "never");
	dr_loop_timer(l, 5, note_cb, "y");
	CHECK_INT(dr_loop_run_once(l, true), 1);
	CHECK_STR(trace, "ky");
	CHECK_INT(dr_loop_run_once(l, true), 0);
	CHECK_STR(trace, "kyz");
	dr_loop_free(l);
}

static void defer_again(dr_loop *l, void *ud)
{
	(void)ud;
	note("d");
	dr_loop_defer(l, note_cb, "e");
}

TEST(defer)
{
	dr_loop *l = virtual_loop(0);
	dr_defer *d;

	trace[0] = 0;
	dr_loop_timer(l, 0, note_cb, "t");
	dr_loop_defer(l, defer_again, NULL);
	d = dr_loop_defer(l, note_cb, "cancelled");
	dr_loop_defer(l, note_cb, "f");
	dr_loop_defer_cancel(l, d);
	CHECK_STR(trace, ""); /* never synchronous */
	CHECK_INT(dr_loop_run_once(l, false), 1);
	CHECK_STR(trace, "dft");
	CHECK_INT(dr_loop_run_once(l, false), 0);
	CHECK_STR(trace, "dfte");
	dr_loop_free(l);
}

struct pipe_ctx {
	dr_watch *w;
	char got[16];
	int calls;
};

static void on_readable(dr_loop *l, int fd, unsigned revents, void *ud)
{
	struct pipe_ctx *c = ud;
	ssize_t n;

	c->calls++;
	CHECK(revents & DR_LOOP_READ);
	n = read(fd, c->got, sizeof(c->got) - 1);
	if (n > 0)
		c->got[n] = 0;
	dr_loop_watch_remove(l, c->w);
}

static void write_later(dr_loop *l, void *ud)
{
	(void)l;
	CHECK_INT(write(*(int *)ud, "ping", 4), 4);
}

TEST(fd_watch)
{
	dr_loop *l;
	int fds[2];
	struct pipe_ctx c = { 0 };

	CHECK_INT(dr_loop_new(NULL, &l), 0);
	CHECK_INT(pipe(fds), 0);
	c.w = dr_loop_watch(l, fds[0], DR_LOOP_READ, on_readable, &c);
	dr_loop_timer(l, 5, write_later, &fds[1]);
	CHECK_INT(dr_loop_run(l), 0);
	CHECK_INT(c.calls, 1);
	CHECK_STR(c.got, "ping");
	close(fds[0]);
	close(fds[1]);
	dr_loop_free(l);
}

/* A watcher with interest 0 does not keep the loop alive. */
TEST(fd_watch_no_interest)
{
	dr_loop *l = virtual_loop(0);
	int fds[2];
	dr_watch *w;

	CHECK_INT(pipe(fds), 0);
	w = dr_loop_watch(l, fds[1], DR_LOOP_WRITE, NULL, NULL);
	dr_loop_watch_set(l, w, 0);
	CHECK_INT(dr_loop_run(l), 0);
	dr_loop_watch_remove(l, w);
	close(fds[0]);
	close(fds[1]);
	dr_loop_free(l);
}

struct wr_ctx {
	dr_watch *w;
	int writes;
};

/* Writable once: then turn write interest off, as curl does when idle. */
static void on_writable(dr_loop *l, int fd, unsigned revents, void *ud)
{
	struct wr_ctx *c = ud;

	CHECK(revents & DR_LOOP_WRITE);
	CHECK_INT(write(fd, "x", 1), 1);
	c->writes++;
	dr_loop_watch_set(l, c->w, 0);
}

TEST(fd_watch_interest_change)
{
	dr_loop *l;
	int fds[2];
	struct wr_ctx c = { 0 };
	char b;

	CHECK_INT(dr_loop_new(NULL, &l), 0);
	CHECK_INT(pipe(fds), 0);
	c.w = dr_loop_watch(l, fds[1], DR_LOOP_WRITE, on_writable, &c);
	CHECK_INT(dr_loop_run(l), 0); /* no interest left: out of work */
	CHECK_INT(c.writes, 1);
	CHECK_INT(read(fds[0], &b, 1), 1);
	dr_loop_watch_set(l, c.w, DR_LOOP_WRITE);
	CHECK_INT(dr_loop_run(l), 0);
	CHECK_INT(c.writes, 2);
	dr_loop_watch_remove(l, c.w);
	close(fds[0]);
	close(fds[1]);
	dr_loop_free(l);
}

static void raise_int(dr_loop *l, void *ud)
{
	(void)l;
	(void)ud;
	raise(SIGINT);
}

TEST(stop_from_signal)
{
	dr_loop *l;

	trace[0] = 0;
	CHECK_INT(dr_loop_new(NULL, &l), 0);
	CHECK_INT(dr_loop_stop_on_signals(l), 0);
	dr_loop_timer(l, 1, raise_int, NULL);
	dr_loop_timer(l, 60000, note_cb, "late");
	CHECK_INT(dr_loop_run(l), DR_ECANCELLED);
	CHECK_INT(dr_loop_last_signal(l), SIGINT);
	CHECK_STR(trace, "");
	dr_loop_free(l); /* restores the default handler */
}

static void stop_cb(dr_loop *l, void *ud)
{
	note(ud);
	dr_loop_stop(l);
}

TEST(stop_and_resume)
{
	dr_loop *l = virtual_loop(0);

	trace[0] = 0;
	dr_loop_defer(l, stop_cb, "s");
	dr_loop_defer(l, note_cb, "a");
	dr_loop_timer(l, 10, note_cb, "b");
	CHECK_INT(dr_loop_run(l), DR_ECANCELLED);
	CHECK_STR(trace, "s");
	CHECK_INT(dr_loop_run(l), 0);
	CHECK_STR(trace, "sab");
	dr_loop_free(l);
}

static uint64_t fired_at[256];
static int nfired;

static void record_cb(dr_loop *l, void *ud)
{
	(void)ud;
	fired_at[nfired++] = dr_loop_now(l);
}

TEST(many_timers_heap)
{
	dr_loop *l = virtual_loop(0);
	dr_timer *t[200];
	int i, sorted = 1;

	nfired = 0;
	/* Scattered deadlines; cancel every third; the rest fire in order. */
	for (i = 0; i < 200; i++)
		t[i] = dr_loop_timer(l, (uint64_t)((i * 7919) % 211), record_cb,
				     NULL);
	for (i = 0; i < 200; i += 3)
		dr_loop_timer_cancel(l, t[i]);
	CHECK_INT(dr_loop_run(l), 0);
	CHECK_INT(nfired, 133);
	for (i = 1; i < nfired; i++)
		if (fired_at[i] < fired_at[i - 1])
			sorted = 0;
	CHECK(sorted);
	dr_loop_free(l);
}

int main(void)
{
	RUN(timer_order);
	RUN(timer_cancel);
	RUN(virtual_jump);
	RUN(timer_added_from_callback);
	RUN(defer);
	RUN(fd_watch);
	RUN(fd_watch_no_interest);
	RUN(fd_watch_interest_change);
	RUN(stop_from_signal);
	RUN(stop_and_resume);
	RUN(many_timers_heap);
	return test_summary();
}
