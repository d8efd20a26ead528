/*
 * diagfmt.h - print diagnostics for people (text) and for tools (JSON,
 * SARIF 2.1.0, JUnit XML).
 *
 * The list is printed in its current order: sort it first with
 * dr_diags_sort() so the same plan always prints the same bytes. Text
 * quotes the offending source line (from dr_diags_add_source()) with a
 * caret under the column and '~' under the rest of the token.
 *
 *   plans/erp.yaml:12:15: error: "Standard_E8s_v5x" is not ... [AZ-SIZE-UNKNOWN]
 *      12 |     target: { size: Standard_E8s_v5x }
 *         |                     ^~~~~~~~~~~~~~~~
 *   note: did you mean "Standard_E8s_v5"?
 *
 * Columns in diagnostics count bytes; SARIF wants code points, so it is
 * given those (columnKind "unicodeCodePoints") when the source is known.
 */
#ifndef DR_DIAGFMT_H
#define DR_DIAGFMT_H

#include "core/diag.h"
#include "core/strbuf.h"

#include <stddef.h>

typedef enum dr_diagfmt {
	DR_DIAGFMT_TEXT,
	DR_DIAGFMT_JSON,
	DR_DIAGFMT_SARIF,
	DR_DIAGFMT_JUNIT,
} dr_diagfmt;

typedef struct dr_diagfmt_opts {
	int color;   /* text: ANSI colours (the CLI decides: a tty, NO_COLOR unset) */
	int summary; /* text: end with "N errors, N warnings" */
	int strict;  /* junit: warnings are failures too */
	/* junit: the files validated, so a clean file is a passing testcase;
	 * files named only by diagnostics are added after them. */
	const char *const *files;
	size_t nfiles;
	/* sarif: a rule's short description, or NULL to use its first message. */
	const char *(*rule_desc)(const char *id);
} dr_diagfmt_opts;

/* "text", "json", "sarif" or "junit"; DR_EINVAL (with a message) otherwise. */
int dr_diagfmt_parse(const char *name, dr_diagfmt *out);

/* Name of a format, for messages. */
const char *dr_diagfmt_name(dr_diagfmt fmt);

/*
 * Append the whole rendering of d to out (o may be NULL for defaults).
 * Returns 0, or DR_ELIMIT when out has a max that the output exceeds.
 */
int dr_diags_render(const dr_diags *d, dr_diagfmt fmt,
		    const dr_diagfmt_opts *o, dr_strbuf *out);

#endif
