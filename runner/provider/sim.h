/*
 * sim.h - the embedded ASR simulator, drplan's default provider.
 *
 * An in-process model of ASR's per-item life cycle for VMware VMs and
 * physical servers replicated with the modernized stack (InMageRcm), its
 * recovery points and its jobs with tasks, driven by the loop's clock. The
 * model, every duration and the reasoning behind them are in
 * docs/simulator.md; keep that page and the tables in sim.c in step.
 *
 * Time. The simulator keeps "model time" in Unix milliseconds: what ASR's
 * clock would read. It starts at opts.epoch_ms (0: the wall clock when the
 * simulator is created) and runs 1/scale times as fast as the loop clock:
 * scale 1.0 is real time, 0.0001 makes a 10-minute failover take 60 ms of
 * loop time, and 0 makes every job finish on the next loop iteration (model
 * time then jumps to the job's end). All job, task and point times are
 * model times.
 *
 * Ownership: dr_sim_new returns the simulator; dr_sim_provider() is its
 * provider face (borrowed, same lifetime). dr_sim_free() and
 * dr_provider_free(dr_sim_provider(s)) are the same thing.
 * dr_provider_open("sim", ...) returns a provider that owns its simulator;
 * dr_provider_sim() gets at it for save, load and plan sync. The simulator
 * keeps timers on the loop: free it before the loop.
 */
#ifndef DR_SIM_H
#define DR_SIM_H

#include "exec/loop.h"
#include "plan/plan.h"
#include "provider/provider.h"

#include <jansson.h>
#include <stdint.h>

typedef struct dr_sim dr_sim;

typedef struct dr_sim_opts {
	double scale;                /* default 1.0; >= 0 */
	int64_t epoch_ms;            /* model time at creation; 0: wall clock */
	uint64_t crash_interval_ms;  /* crash-consistent points; default 5 min */
	uint64_t app_interval_ms;    /* app-consistent points; default 60 min,
				      * a multiple of crash_interval_ms */
	uint64_t pending_ms;         /* unprocessed backlog; default 150 s */
	uint64_t latest_lag_ms;      /* RPO of `latest`; default 15 s */
	uint64_t history_ms;         /* replication age of new items; default 24 h */
	uint64_t retention_ms;       /* recovery point window; default 72 h */
	uint64_t initial_sync_ms;    /* initial replication after reprotect;
				      * default 30 min */
	uint64_t seed;               /* random faults; default 1 */
	const char *faults;          /* fault spec (below); NULL: none */
} dr_sim_opts;

void dr_sim_opts_init(dr_sim_opts *o);

/*
 * Read options from JSON: {"scale":0.0001, "epochMs":..., "crashIntervalMs",
 * "appIntervalMs", "pendingMs", "latestLagMs", "historyMs", "retentionMs",
 * "initialSyncMs", "seed", "faults":"..."}. Missing keys keep their value in
 * *o; strings are borrowed from j. Returns 0 or DR_EINVAL (unknown key, bad
 * type or value) with a message.
 */
int dr_sim_opts_from_json(const json_t *j, dr_sim_opts *o);

/* Returns 0, or DR_EINVAL for bad options or a bad fault spec. */
int dr_sim_new(dr_loop *loop, const dr_sim_opts *opts, dr_sim **out);
void dr_sim_free(dr_sim *s);
dr_provider *dr_sim_provider(dr_sim *s);
/* The simulator behind a provider opened as "sim", else NULL. */
dr_sim *dr_provider_sim(dr_provider *p);

/* Current model time (Unix ms). */
int64_t dr_sim_now(dr_sim *s);

/*
 * Register machine m as a protected, healthy item (InMageRcm, replicating
 * to Azure for opts.history_ms) with the facts the model needs: physical or
 * VMware, and dr_machine_extra_failover_reason(). Nothing of m is kept.
 * Returns 0, DR_ECONFLICT when an item of that name exists, DR_EINVAL when
 * m has no name.
 */
int dr_sim_add_item(dr_sim *s, const dr_machine *m);
/* Add every machine of p that is not an item yet; existing items stay. */
int dr_sim_sync_plan(dr_sim *s, const dr_plan *p);

/*
 * Faults, added to those in opts.faults. A spec is a list of entries
 * separated by ';', fields separated by ':'; MACHINE and OP may be '*'
 * (OP is a dr_preq_kind_name):
 *
 *   fail:MACHINE:OP[:TASK[:COUNT]]  the job fails at TASK (1-based index or
 *                                   exact task name; empty or '*': the last
 *                                   task); COUNT times, 0 or absent: always
 *   shutdown-fail:MACHINE           source shutdown fails; failover goes on
 *                                   and the job succeeds with a warning
 *   lose-accept:MACHINE:OP[:COUNT]  the operation is accepted but its reply
 *                                   is lost (callback rc DR_EIO); COUNT
 *                                   default 1, 0: always
 *   slow:MACHINE:OP:FACTOR          task durations times FACTOR (> 0)
 *   random:PROBABILITY[:SEED]       each accepted operation fails at a
 *                                   random task with that probability
 *
 * DRPLAN_SIM_FAULTS holds such a spec for dr_provider_open("sim").
 * Returns 0 or DR_EINVAL with a message naming the bad entry.
 */
int dr_sim_add_faults(dr_sim *s, const char *spec);

/* Operations of kind accepted for machine so far (persisted by save). */
int dr_sim_op_count(const dr_sim *s, const char *machine, dr_preq_kind kind);

/*
 * The whole state as JSON (items, recovery point clocks, jobs with tasks,
 * op counts, model time). Faults are configuration and are not saved.
 */
int dr_sim_save(dr_sim *s, json_t **out);

/*
 * Replace the state with a saved one. Model time becomes the later of the
 * saved model time and this simulator's own clock: with the default epoch
 * (wall clock, scale 1) time has moved on while no process ran, so jobs
 * that would have ended meanwhile complete at once and the others resume
 * where they are. Returns 0 or DR_EINVAL (the state is then unchanged).
 */
int dr_sim_load(dr_sim *s, const json_t *state);

/* Where the simulator's state lives in the state store by default. */
#define DR_SIM_STATE_KEY "sim/state.json"

struct dr_store;

/*
 * Load the state saved at key (DR_SIM_STATE_KEY) of store. When nothing is
 * saved yet, returns 0 and leaves the simulator as it is (*version NULL).
 * On success *version (if not NULL) receives the object's version for the
 * next save; caller frees. Errors: the store's, or DR_EINVAL for a state
 * that does not parse or load.
 */
int dr_sim_load_store(dr_sim *s, struct dr_store *store, const char *key,
		      char **version);

/*
 * Save the state at key with one atomic dr_store_put(). if_match: the
 * version from the last load or save, "" when the object must not exist,
 * NULL to overwrite blindly. DR_ECONFLICT when another process saved in
 * between. *new_version as for dr_store_put().
 */
int dr_sim_save_store(dr_sim *s, struct dr_store *store, const char *key,
		      const char *if_match, char **new_version);

#endif
