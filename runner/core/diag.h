/*
 * diag.h - diagnostics: what validation says about a plan.
 *
 * A diagnostic has a severity, a rule id (AZ-* for Azure requirements from
 * shared/reference/azure-vm-requirements.md, PLAN-* for plan rules, YAML-*
 * and SCHEMA-* for syntax and schema), a message that says what to change,
 * a position (file, 1-based line and column) and the JSON pointer of the
 * node in its document. The list owns every string in it.
 *
 * Sources registered with dr_diags_add_source() are borrowed: their text must
 * outlive the list. Renderers use them to print the offending line.
 */
#ifndef DR_DIAG_H
#define DR_DIAG_H

#include <stddef.h>

typedef enum dr_severity {
	DR_SEV_ERROR = 0,
	DR_SEV_WARNING = 1,
	DR_SEV_INFO = 2,
} dr_severity;

typedef struct dr_diag {
	dr_severity severity;
	char *rule;
	char *message;
	char *file; /* NULL when not tied to a file */
	int line;   /* 1-based; 0 when unknown */
	int col;    /* 1-based; 0 when unknown */
	char *path; /* JSON pointer ("/machines/0/target/ip"), or NULL */
	char *note; /* optional second line: a hint such as "did you mean" */
	/* The plan being checked when it was found (dr_diags_set_origin), or
	 * NULL: a finding in a shared inventory belongs to each plan using it. */
	char *origin;
} dr_diag;

typedef struct dr_diags dr_diags;

dr_diags *dr_diags_new(void);
void dr_diags_free(dr_diags *d);

/* Add a diagnostic; file and path may be NULL. Returns it for dr_diag_note(). */
dr_diag *dr_diags_add(dr_diags *d, dr_severity sev, const char *rule,
		      const char *file, int line, int col, const char *path,
		      const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));

/* Diagnostics added from now on belong to plan file (NULL: none). */
void dr_diags_set_origin(dr_diags *d, const char *file);

/*
 * An empty list whose diagnostics belong to the same plan as those added to
 * d next: for work done on the side (another thread) and kept or not.
 */
dr_diags *dr_diags_new_like(const dr_diags *d);
/* Append src's diagnostics and sources to dst, in order; src is left empty. */
void dr_diags_move(dr_diags *dst, dr_diags *src);

/* Set (replace) the note of a diagnostic. */
void dr_diag_note(dr_diag *diag, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

size_t dr_diags_len(const dr_diags *d);
const dr_diag *dr_diags_get(const dr_diags *d, size_t i);
/* The same, writable, for adding a note after the fact. */
dr_diag *dr_diags_get_mut(dr_diags *d, size_t i);
size_t dr_diags_count(const dr_diags *d, dr_severity sev);

/* Remove every diagnostic of severity sev (e.g. infos from terse output). */
void dr_diags_drop(dr_diags *d, dr_severity sev);

/*
 * Order by file, line, column, severity, rule, message and path, and drop
 * duplicates, so the same plan always prints the same bytes. A duplicate has
 * the same position, severity, rule, message and note; its path may differ
 * when it has a position (a value reached through a YAML alias), and then
 * the first path is kept.
 */
void dr_diags_sort(dr_diags *d);

/* Register the text of a file so renderers can quote its lines. */
void dr_diags_add_source(dr_diags *d, const char *file, const char *text,
			 size_t len);
/* The text of line (1-based) of file, without its newline, or NULL. */
const char *dr_diags_source_line(const dr_diags *d, const char *file,
				 int line, size_t *len);

const char *dr_severity_name(dr_severity sev);

#endif
