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
#include "plan/plan.h"

#include <stdbool.h>
#include <stdio.h>

enum dr_exit {
	DR_EXIT_OK = 0,
	DR_EXIT_INVALID = 1, /* the plan has errors (or warnings with --strict) */
	DR_EXIT_USAGE = 2,   /* bad command line */
	DR_EXIT_IO = 3,      /* a file or the state store could not be used */
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

/* Render diags as text to stderr, with colour if stderr wants it. */
void dr_cli_print_diags(dr_diags *diags, const char *color_mode);

#endif
