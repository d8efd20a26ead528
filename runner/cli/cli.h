/*
 * cli.h - what the subcommands share.
 *
 * Each subcommand lives in its own cmd-*.c file and is one entry of the
 * table in main.c. A subcommand returns the process exit status; the codes
 * below are documented in README.md and must not change meaning.
 */
#ifndef DR_CLI_H
#define DR_CLI_H

#include "core/arena.h"
#include "core/diag.h"
#include "core/strbuf.h"
#include "graph/graph.h"
#include "journal/store.h"
#include "plan/plan.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

enum dr_exit {
	DR_EXIT_OK = 0,
	DR_EXIT_INVALID = 1, /* the plan has errors (or warnings with --strict) */
	DR_EXIT_USAGE = 2,   /* bad command line */
	DR_EXIT_IO = 3,      /* a file or the state store could not be used;
			      * no such job; a corrupt journal */
	DR_EXIT_FAILED = 4,  /* the job ended failed (retry or skip to go on) */
	DR_EXIT_WAITING = 5, /* --detach: the job waits for a gate or a person */
	DR_EXIT_LOCKED = 6,  /* another runner holds the plan's lock */
	DR_EXIT_CANCELLED = 7, /* the job was cancelled, or a gate rejected */
	DR_EXIT_REFUSED = 8, /* a job request the job's state does not accept */
	/* Interrupted by a signal: 128 + the signal (130 SIGINT, 143 SIGTERM);
	 * the job is resumable. */
	DR_EXIT_SIGNAL_BASE = 128,
};

struct dr_cmd {
	const char *name;
	const char *usage;   /* arguments after the command name */
	const char *summary; /* one line for `drplan --help` */
	const char *help;    /* the full text for `drplan CMD --help` */
	int (*run)(const struct dr_cmd *cmd, int argc, char **argv);
};

extern const struct dr_cmd dr_cmd_validate;
extern const struct dr_cmd dr_cmd_plan;
extern const struct dr_cmd dr_cmd_graph;
extern const struct dr_cmd dr_cmd_rules;
extern const struct dr_cmd dr_cmd_schedule;
extern const struct dr_cmd dr_cmd_inventory;
extern const struct dr_cmd dr_cmd_report;
extern const struct dr_cmd dr_cmd_hook;
extern const struct dr_cmd dr_cmd_drill;
extern const struct dr_cmd dr_cmd_failover;
extern const struct dr_cmd dr_cmd_commit;
extern const struct dr_cmd dr_cmd_reprotect;
extern const struct dr_cmd dr_cmd_failback;
extern const struct dr_cmd dr_cmd_job;

/* Print "usage: drplan NAME USAGE" and a hint to stderr; returns DR_EXIT_USAGE. */
int dr_cli_usage_error(const struct dr_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print the command's full help to stdout; returns DR_EXIT_OK. */
int dr_cli_help(const struct dr_cmd *cmd);

/* Whether to colour output on f: "auto" (a terminal and NO_COLOR unset), "always", "never". */
int dr_cli_color(FILE *f, const char *mode);

/* Write all of sb to path ("-" or NULL: stdout) atomically; 0 or DR_EXIT_IO. */
int dr_cli_write_output(const char *path, const dr_strbuf *sb);

/*
 * Load a plan and run every rule. Diagnostics go to diags. Returns 0 when
 * the plan can be compiled (no errors; warnings allowed unless strict),
 * DR_EXIT_INVALID otherwise, DR_EXIT_IO when the file cannot be read.
 */
int dr_cli_check_plan(dr_arena *a, const char *file, bool strict,
		      dr_diags *diags, dr_plan **out);
/*
 * The same; loaded (may be NULL) is called with the model once it has
 * loaded without errors, before the rules run, so that the caller can start
 * work on it that the rules do not change (cmd-plan.c compiles meanwhile).
 * The rules only read the model and do not use the arena a.
 */
int dr_cli_check_plan_with(dr_arena *a, const char *file, bool strict,
			   dr_diags *diags,
			   void (*loaded)(void *ctx, const dr_plan *p),
			   void *ctx, dr_plan **out);

/*
 * DRPLAN_THREADS=1: no second thread for checking and compiling a plan
 * (no model built during the schema check, no split schema validation, no
 * compile during the rules; the YAML parser keeps its own, ynode.h). The
 * output is the same either way: for comparisons.
 */
bool dr_cli_one_thread(void);

/* Render diags as text to stderr, with colour if stderr wants it. */
void dr_cli_print_diags(dr_diags *diags, const char *color_mode);

/* Parse a --recovery-point value; 0 or DR_EINVAL (empty). rp->id borrows s. */
int dr_cli_parse_rp(const char *s, dr_recovery_point *rp);

/*
 * What `drplan plan OPERATION FILE` prints (cmd-plan.c): validate, compile,
 * estimate and write the graph in gfmt to output (NULL: stdout). Returns
 * the exit status.
 */
int dr_cli_plan_write(const struct dr_cmd *cmd, const char *operation,
		      const char *file, const dr_compile_opts *copts, bool strict,
		      const char *color, dr_graph_format gfmt, const char *output);

/*
 * Open the state store: dir when given (--state), else
 * dr_store_default_dir(plan_dir) ($DRPLAN_STATE_DIR, the repository of
 * plan_dir, or plan_dir). create: make it when missing. On failure prints
 * the error and returns DR_EXIT_IO.
 */
int dr_cli_open_store(const char *cmdname, const char *dir, const char *plan_dir,
		      bool create, dr_store **out);

/*
 * Azure plans (cmd-run.c): refuse to go on when the environment names no
 * credential, so that a forgotten variable never falls through to the
 * host's managed identity; IMDS only with AZURE_TOKEN_CREDENTIALS=prod or
 * ManagedIdentityCredential (the Azure SDK's switch). Prints what to set;
 * returns 0 or DR_EXIT_IO.
 */
int dr_cli_azure_credentials_check(const char *cmdname);

/*
 * The azure provider's options for plan p: the plan's target, then the JSON
 * object in $DRPLAN_AZURE_OPTIONS over it (docs/azure.md), checked. *out is
 * a new reference. Returns 0 or DR_EXIT_USAGE with a message printed.
 */
int dr_cli_azure_options(const char *cmdname, const dr_plan *p, json_t **out);

/* Plan p runs on Azure (target.provider: azure); else on the simulator. */
bool dr_cli_plan_on_azure(const dr_plan *p);

/* How a job is run from the command line (cmd-run.c). */
struct dr_cli_run {
	const char *state;        /* --state SPEC or NULL */
	bool detach;              /* --detach */
	bool unattended;          /* --unattended (drills; the scheduler sets it) */
	bool json;                /* --output json */
	unsigned concurrency;     /* -j; 0: the plan's */
	dr_compile_opts copts;
	const char *resume_id;    /* resume this job instead of starting one */
	json_t *header;           /* resume: the job's header (borrowed) */
};

/*
 * Validate and compile plan file for operation, then start (or resume) the
 * job and drive it to its end, rendering its progress on stdout. Returns
 * the exit status (0, DR_EXIT_FAILED, DR_EXIT_WAITING, ...).
 */
int dr_cli_exec(const struct dr_cmd *cmd, const char *operation, const char *file,
		struct dr_cli_run *ro);

/*
 * The simulator's options for a job started now (cmd-run.c): the time
 * scale from $DRPLAN_SIM_SCALE and the model clock anchored in the store.
 * 0 and *out (caller frees), or an exit status after printing the error.
 */
int dr_cli_sim_options(const char *cmdname, dr_store *s, json_t **out);

/*
 * The journal header fields a CLI job records so that `drplan job resume`
 * compiles the same graph again: {"plan_path", "cli": {...}}.
 */
json_t *dr_cli_run_header(const char *file, const struct dr_cli_run *ro);

/*
 * A measured duration for people: "1h02m03s", "4m05s", "7.2s" (tenths
 * below a minute); negative values (clock steps) show as 0.0s.
 */
void dr_cli_fmt_ms(int64_t ms, char *buf, size_t n);

/* `drplan schedule run ...` (cmd-schedule-run.c); argv[0] is "run". */
int dr_cli_schedule_run(const struct dr_cmd *cmd, int argc, char **argv);

/*
 * The header record (record 1) of job_id's journal, or an error message on
 * stderr and DR_EXIT_IO (no such job, unreadable journal).
 */
int dr_cli_job_header(const char *cmdname, dr_store *s, const char *job_id,
		      json_t **out);

#endif
