/*
 * loop.h - the one event loop: timers, fd watchers, deferred callbacks.
 *
 * One thread runs one loop and nothing blocks it. Every asynchronous part of
 * drplan (provider calls, HTTP transfers, Lua hooks waiting on a coroutine,
 * the commit gate) is a callback that the loop invokes; a callback may add
 * or cancel anything, including itself, and may resume a Lua coroutine.
 *
 * Time comes from a dr_clock: the real monotonic clock by default, or a
 * virtual clock for tests. With a virtual clock, when the loop has nothing
 * to do but wait for a timer, it moves the clock forward to that timer's
 * deadline instead of sleeping, so a simulated ten-minute failover takes no
 * wall time. fd watchers still poll(2) for real with a virtual clock.
 *
 * libcurl's multi interface plugs in as one timer (CURLMOPT_TIMERFUNCTION:
 * cancel and re-add on every call) and one fd watcher per socket
 * (CURLMOPT_SOCKETFUNCTION: dr_loop_watch / dr_loop_watch_set /
 * dr_loop_watch_remove), calling curl_multi_socket_action() from both.
 *
 * Ownership: the loop owns every dr_timer, dr_watch and dr_defer it hands
 * out. A handle stays valid until its callback has run (timers and defers
 * fire once) or until it is cancelled/removed; using it afterwards is a
 * bug. dr_loop_free() drops all pending work without calling anything.
 */
#ifndef DR_LOOP_H
#define DR_LOOP_H

#include <stdbool.h>
#include <stdint.h>

/* A source of milliseconds. now_ms is monotonic and never goes backwards. */
typedef struct dr_clock {
	uint64_t (*now_ms)(const struct dr_clock *c);
	bool is_virtual;
	uint64_t virt_ms; /* virtual clocks: the current time */
} dr_clock;

/* CLOCK_MONOTONIC in milliseconds. */
void dr_clock_init_real(dr_clock *c);
/* A clock that stays at start_ms until the loop (or a test) moves it. */
void dr_clock_init_virtual(dr_clock *c, uint64_t start_ms);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME), for timestamps. */
int64_t dr_wall_ms(void);

typedef struct dr_loop dr_loop;
typedef struct dr_timer dr_timer;
typedef struct dr_watch dr_watch;
typedef struct dr_defer dr_defer;

typedef void (*dr_loop_cb)(dr_loop *loop, void *ud);
typedef void (*dr_watch_cb)(dr_loop *loop, int fd, unsigned revents, void *ud);

enum {
	DR_LOOP_READ = 1u << 0,
	DR_LOOP_WRITE = 1u << 1,
	DR_LOOP_ERROR = 1u << 2, /* revents only: POLLERR, POLLHUP or POLLNVAL */
};

/*
 * A new loop using a copy of *clock, or the real clock when clock is NULL.
 * Returns 0, or DR_EIO when the self-pipe cannot be created.
 */
int dr_loop_new(const dr_clock *clock, dr_loop **out);
void dr_loop_free(dr_loop *loop);

/* The loop's clock time in ms (virtual or monotonic). */
uint64_t dr_loop_now(dr_loop *loop);
bool dr_loop_is_virtual(const dr_loop *loop);
/* Virtual clocks only: move time forward by ms (timers fire on the next run). */
void dr_loop_advance(dr_loop *loop, uint64_t ms);

/*
 * Call cb once, delay_ms from now. Timers with the same deadline fire in the
 * order they were added. A timer added from a timer callback never fires in
 * the same iteration, even with delay 0.
 */
dr_timer *dr_loop_timer(dr_loop *loop, uint64_t delay_ms, dr_loop_cb cb,
			void *ud);
/* The timer's deadline in loop time. */
uint64_t dr_loop_timer_deadline(const dr_timer *t);
/* Forget a timer that has not fired; NULL is accepted. */
void dr_loop_timer_cancel(dr_loop *loop, dr_timer *t);

/* Call cb on the next iteration (FIFO). */
dr_defer *dr_loop_defer(dr_loop *loop, dr_loop_cb cb, void *ud);
void dr_loop_defer_cancel(dr_loop *loop, dr_defer *d);

/* Watch fd for DR_LOOP_READ / DR_LOOP_WRITE; cb gets what became ready. */
dr_watch *dr_loop_watch(dr_loop *loop, int fd, unsigned events,
			dr_watch_cb cb, void *ud);
/* Change the interest set (0 keeps the watcher but polls nothing). */
void dr_loop_watch_set(dr_loop *loop, dr_watch *w, unsigned events);
void dr_loop_watch_remove(dr_loop *loop, dr_watch *w);

/*
 * Run until there is no work left (no deferred callbacks, timers or fd
 * watchers with interest) or until stopped. Returns 0 when out of work,
 * DR_ECANCELLED when stopped (the stop request is then consumed), DR_EIO
 * when poll(2) fails.
 */
int dr_loop_run(dr_loop *loop);

/*
 * One iteration: deferred callbacks, fd events, due timers. With block, it
 * waits for the next event (a virtual clock jumps to the next timer);
 * without, it only runs what is ready now. Returns 1 when work remains, 0
 * when none, DR_ECANCELLED when a stop was requested (consumed), DR_EIO.
 */
int dr_loop_run_once(dr_loop *loop, bool block);

/* Ask dr_loop_run to return after the current callback. */
void dr_loop_stop(dr_loop *loop);

/*
 * Install SIGINT and SIGTERM handlers that stop this loop through its
 * self-pipe (async-signal-safe). One loop per process can own the signals;
 * dr_loop_free restores the previous handlers. Returns 0 or DR_EIO.
 */
int dr_loop_stop_on_signals(dr_loop *loop);
/* The signal that stopped the loop most recently, or 0. */
int dr_loop_last_signal(const dr_loop *loop);

#endif
