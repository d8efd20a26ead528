/*
 * graph.h - a recovery plan compiled for one operation: the step graph.
 *
 * dr_graph_compile() turns a plan model and an operation (drill, failover,
 * commit, reprotect, failback) into a DAG of steps. Every side effect the
 * executor will cause is a step (ASR calls, Lua hooks, manual actions,
 * gates, the drill hold), plus zero-length barrier steps that mark where a
 * group starts, where its machines are all done ("join") and where it ends.
 * Barriers keep the number of edges linear: a group that waits for another
 * waits for one step, not for each of its machines.
 *
 * Invariants:
 *   - steps[] is a topological order: every dependency index is smaller
 *     than the index of the step that waits for it.
 *   - step ids are unique, stable across runs of the same plan, and made
 *     of the names in the plan (see "Step ids" below); they are what
 *     journals and the CLI use.
 *   - everything (steps, dependency arrays, ids, strings) lives in the
 *     arena given to dr_graph_compile() and is freed with it. The graph
 *     points into the plan (actions, gates, names), so the plan must
 *     outlive it.
 *
 * Phases. Each operation is made of up to three phases, each of which
 * walks the groups in their `after` order (a group starts when every group
 * it names in `after` has ended):
 *   drill:     main (test failover + hooks on: drill) -> wait step for
 *              drill.cleanup.after -> cleanup (hooks on: cleanup, test
 *              failover cleanup) -> verify-cleanup
 *   failover:  main (shutdown-source?, unplanned failover + hooks on:
 *              failover) -> gate/commit -> commit (commit + hooks on: commit)
 *   commit:    gate/commit -> commit
 *   reprotect: main (reprotect + hooks on: reprotect)
 *   failback:  main (planned failover + hooks on: failback) ->
 *              gate/failback-commit -> commit (hooks on: commit, to-onprem)
 * The gate step exists even when the plan states no such gate: it then
 * has the model's defaults (one approval, no checks, no timeout).
 * Actions are kept when their `on` mask has the phase's bit (the
 * operation's, DR_ON_CLEANUP or DR_ON_COMMIT) and their direction includes
 * the graph's direction. An action whose `on` is not stated (on_at NULL)
 * runs with drill, failover, reprotect and failback but not in cleanup or
 * commit phases: those take only actions that name them.
 *
 * Within a group and phase the order is: group start barrier -> group pre
 * actions (one after the other) -> for each machine, in parallel up to the
 * group's concurrency limit: machine pre actions -> operation step(s) ->
 * machine post actions -> join barrier -> group post actions -> group end
 * barrier. A machine holds one of its group's slots from the start of its
 * first step in a phase to the end of its last step in that phase; the
 * executor enforces the limit (dr_graph_group.concurrency), the graph only
 * records it.
 *
 * Step ids ("/"-separated, names from the plan):
 *   <group>/start, <group>/pre/<action>, <group>/join,
 *   <group>/post/<action>, <group>/end
 *   <group>/<machine>/pre/<action>, <group>/<machine>/<op>,
 *   <group>/<machine>/post/<action>
 *     with <op> one of shutdown-source, test-failover, failover,
 *     failback, reprotect, commit, test-failover-cleanup
 *   gate/commit, gate/failback-commit
 *   the steps of the drill's cleanup phase are prefixed "cleanup/"
 *   (cleanup/<group>/<machine>/test-failover-cleanup), plus cleanup/wait
 *   (the hold) and cleanup/verify; the steps of the commit phase after a
 *   failover or failback gate are prefixed "commit/"
 *   (commit/<group>/<machine>/commit). The commit operation on its own has
 *   its commit steps in its main phase: <group>/<machine>/commit.
 * Action names come from the action's name, else the Lua file's base name
 * without ".lua", else "manual-<n>" (1-based position in its list). If two
 * steps would get the same id, the later one gets "~2", "~3", ... appended,
 * in step order, so ids stay deterministic.
 */
#ifndef DR_GRAPH_H
#define DR_GRAPH_H

#include "core/arena.h"
#include "core/strbuf.h"
#include "plan/plan.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum dr_step_kind {
	DR_STEP_GROUP_START,     /* barrier: the group's dependencies are done */
	DR_STEP_GROUP_JOIN,      /* barrier: every machine of the group is done */
	DR_STEP_GROUP_END,       /* barrier: the group's post actions are done */
	DR_STEP_HOOK,            /* a Lua hook (action != NULL) */
	DR_STEP_MANUAL,          /* a manual action for a person (action != NULL) */
	DR_STEP_SHUTDOWN_SOURCE, /* shut the source machine down before failover */
	DR_STEP_TEST_FAILOVER,   /* ASR testFailover into the drill network */
	DR_STEP_TEST_FAILOVER_CLEANUP, /* ASR testFailoverCleanup */
	DR_STEP_UNPLANNED_FAILOVER,    /* ASR unplannedFailover to Azure */
	DR_STEP_PLANNED_FAILOVER,      /* ASR plannedFailover (failback) */
	DR_STEP_COMMIT,          /* ASR failoverCommit: point of no return */
	DR_STEP_REPROTECT,       /* ASR reProtect (reverse replication) */
	DR_STEP_GATE,            /* checks + approvals (gate != NULL) */
	DR_STEP_WAIT,            /* drill hold before cleanup (wait_ms) */
	DR_STEP_VERIFY_CLEANUP,  /* check that no test VM is left */
	DR_STEP__COUNT
} dr_step_kind;

/* "group-start", "hook", "unplanned-failover", ... */
const char *dr_step_kind_name(dr_step_kind k);

typedef enum dr_phase {
	DR_PHASE_MAIN,    /* the operation itself; what RTO measures */
	DR_PHASE_GATE,    /* the gate step and the drill hold */
	DR_PHASE_CLEANUP, /* drill cleanup */
	DR_PHASE_COMMIT,  /* commit after a gate (or the commit operation) */
	DR_PHASE__COUNT
} dr_phase;

const char *dr_phase_name(dr_phase ph);

/* Step flags. */
enum {
	DR_STEP_F_IRREVERSIBLE = 1u << 0, /* commit: other recovery points go */
	DR_STEP_F_CRITICAL = 1u << 1,     /* its failure fails the group/job */
	DR_STEP_F_IN_RTO = 1u << 2,       /* counts towards the RTO */
	DR_STEP_F_CRITICAL_PATH = 1u << 3,/* on the critical path (estimate) */
	DR_STEP_F_SHUTDOWN = 1u << 4,     /* failover after a source shutdown */
	DR_STEP_F_BARRIER = 1u << 5,      /* zero-length marker, no side effect */
};

/* A duration estimate in milliseconds: min <= expected <= max. */
typedef struct dr_estimate {
	uint64_t min_ms;
	uint64_t exp_ms;
	uint64_t max_ms;
	const char *why; /* short reason, e.g. "ASR failover 5m + extra step 9m" */
} dr_estimate;

typedef struct dr_step {
	const char *id;
	dr_step_kind kind;
	dr_phase phase;
	long machine;               /* index into plan->machines, or -1 */
	long group;                 /* index into plan->groups, or -1 */
	const dr_action *action;    /* HOOK and MANUAL */
	const dr_gate *gate;        /* GATE */
	const char *gate_name;      /* GATE: "commit" or "failback-commit" */
	/* TEST_FAILOVER, UNPLANNED_FAILOVER: the point to fail over to. */
	const dr_recovery_point *rp;
	/* TEST_FAILOVER, UNPLANNED_FAILOVER: AZ-FO-EXTRA-TIME reason or NULL. */
	const char *extra_reason;
	dr_direction direction;     /* the graph's direction, for ASR bodies */
	uint64_t wait_ms;           /* WAIT: how long to hold */
	unsigned flags;             /* DR_STEP_F_* */
	bool reversible;            /* false from commit on: no way back */

	size_t *deps;               /* indexes of steps this one waits for */
	size_t ndeps;

	dr_estimate est;
	/* Filled by dr_graph_estimate(); relative to the start of the job. */
	uint64_t start_ms, finish_ms;             /* expected durations */
	uint64_t worst_start_ms, worst_finish_ms; /* max durations */
	/* Estimation detail: extra wait for a concurrency slot (first step of
	 * a machine's chain only), and the step whose end made this one start
	 * (critical path predecessor), or -1. */
	uint64_t slot_wait_ms, worst_slot_wait_ms;
	long crit_pred;
	long worst_crit_pred;
} dr_step;

/* One machine's consecutive steps in one phase of one group. */
typedef struct dr_graph_chain {
	long machine;
	size_t first, last;      /* step indexes; the chain is first..last */
} dr_graph_chain;

/* One group in one phase. */
typedef struct dr_graph_gphase {
	long group;
	dr_phase phase;
	size_t start, join, end; /* barrier step indexes */
	size_t entry;            /* step machines wait for (last pre action or start) */
	dr_graph_chain *chains;
	size_t nchains;
} dr_graph_gphase;

typedef struct dr_graph_group {
	unsigned concurrency;    /* machines at once (>= 1) */
	/* Filled by dr_graph_estimate(), main phase: */
	uint64_t span_ms, worst_span_ms; /* end - start of the group */
	uint64_t rto_ms, worst_rto_ms;   /* job start -> group end */
} dr_graph_group;

typedef struct dr_graph {
	const dr_plan *plan;
	dr_arena *arena;         /* the arena it lives in */
	dr_operation op;
	dr_direction direction;
	dr_step *steps;
	size_t nsteps;
	dr_graph_group *groups;  /* parallel to plan->groups */
	size_t ngroups;
	size_t *group_order;     /* plan group indexes in topological order */
	dr_graph_gphase *gphases;/* every (phase, group) in step order */
	size_t ngphases;
	long gate;               /* GATE step index, or -1 */
	size_t nmachines;        /* machines in the plan's groups */

	/* Filled by dr_graph_estimate(). */
	bool estimated;
	uint64_t rto_ms, worst_rto_ms;     /* latest main-phase group end */
	uint64_t total_ms, worst_total_ms; /* last step end (cleanup too) */
	size_t *critical_path;   /* step indexes, first to last (expected) */
	size_t ncritical;
} dr_graph;

/*
 * Options of a compilation. Start from DR_COMPILE_OPTS_INIT (or pass NULL):
 * a zeroed struct means "--no-shutdown-source".
 */
typedef struct dr_compile_opts {
	/* Reprotect and commit: 0 means dr_operation's own direction
	 * (reprotect: to-onprem; commit: to-azure, i.e. gate/commit; with
	 * to-onprem the commit operation uses gate/failback-commit). */
	dr_direction direction;
	/* --recovery-point: replaces every machine's recovery point. */
	bool rp_set;
	dr_recovery_point rp;
	/* -1: the machine's or the plan's shutdownSource; 0: never shut the
	 * source down (--no-shutdown-source); 1: always (--shutdown-source). */
	int shutdown_source;
	/* Machines at once per group when neither the group nor the plan
	 * states it (0: the built-in 10). */
	unsigned concurrency;
} dr_compile_opts;

#define DR_COMPILE_OPTS_INIT { .shutdown_source = -1 }

/*
 * Compile plan p for operation op. opts may be NULL. Returns 0 with *out
 * set (in arena a), or DR_EINVAL with a message (dr_error_msg()) when the
 * plan cannot be compiled: a cycle in the groups' `after`, a bad index,
 * an unknown operation or direction. Does not estimate.
 */
int dr_graph_compile(dr_arena *a, const dr_plan *p, dr_operation op,
		     const dr_compile_opts *opts, dr_graph **out);

/*
 * Price every step (see docs/rto-model.md and estimate.c), schedule the
 * steps (earliest start in topological order; machines of a group
 * list-scheduled longest-first on the group's concurrency slots), and
 * fill the RTO figures, per-group figures and the critical path. The
 * critical path ends at the step that ends the RTO (the latest main-phase
 * group end). Allocates (reasons, the path) in the arena the graph was
 * compiled in. Idempotent. Returns 0.
 */
int dr_graph_estimate(dr_graph *g);

/* The step with that id, or -1 (linear scan). */
long dr_graph_find(const dr_graph *g, const char *id);

typedef enum dr_graph_format {
	DR_GRAPH_PLAN_TEXT, /* what `drplan plan` prints */
	DR_GRAPH_TEXT = DR_GRAPH_PLAN_TEXT,
	DR_GRAPH_DOT,       /* Graphviz digraph */
	DR_GRAPH_MERMAID,   /* Mermaid flowchart TD */
	DR_GRAPH_JSON,      /* steps and summary, one step per line */
	DR_GRAPH__FORMAT_COUNT
} dr_graph_format;

/* Parse "text", "dot", "mermaid", "json"; 0 or DR_EINVAL. */
int dr_graph_format_parse(const char *s, dr_graph_format *out);

/*
 * Append g (estimated: call dr_graph_estimate() first, else the figures
 * are zero) in the given format to out. The same graph always gives the
 * same bytes. Returns 0, DR_EINVAL for an unknown format, or DR_ELIMIT when
 * out has a maximum that would be exceeded.
 */
int dr_graph_write(const dr_graph *g, const dr_plan *p, dr_graph_format fmt,
		   dr_strbuf *out);

#endif
