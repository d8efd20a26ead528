/*
 * rules.h - Azure requirement rules (AZ-*) and plan rules (PLAN-*).
 *
 * dr_rules_check() runs every rule over a loaded plan model and adds one
 * diagnostic per finding, positioned at the most precise node the model
 * has (the dr_p* value's `at`, else the enclosing entry, else the machine).
 * Rule ids, severities and their sources are the table below; the AZ-*
 * rules follow shared/reference/azure-vm-requirements.md and docs/rules.md
 * says how each is decided, and which reference rules can't be decided
 * offline.
 *
 * Cost is O(n log n) in the number of machines, NICs, disks and groups:
 * duplicates are found by hashing, cycles by an iterative depth-first
 * search. Files are touched only by PLAN-HOOK-MISSING and
 * PLAN-APPROVER-KEY-MISSING (paths relative to the plan's directory).
 */
#ifndef DR_RULES_H
#define DR_RULES_H

#include "core/diag.h"
#include "plan/plan.h"

#include <stddef.h>

/*
 * Run every rule over a loaded plan; adds diagnostics; returns 0 (or DR_E*
 * on internal failure). Only reads the model and allocates from an arena
 * of its own, so another thread may compile the plan meanwhile (cmd-plan.c).
 */
int dr_rules_check(const dr_plan *p, dr_diags *d);

/*
 * Rule metadata for docs, SARIF and `drplan rules`. severity is the
 * highest severity the rule emits (a few rules also emit a lower one, see
 * docs/rules.md); source is the reference's source tag, e.g. "[SM]".
 */
typedef struct dr_rule_info {
	const char *id;
	dr_severity severity;
	const char *summary;
	const char *source;
} dr_rule_info;

/* The rule with that id (exact, case-sensitive), or NULL. */
const dr_rule_info *dr_rule_find(const char *id);
/* Every rule, sorted by id; *n is set to the count. Static storage. */
const dr_rule_info *dr_rule_table(size_t *n);

/*
 * The ids reading a plan produces before the rules run (YAML-*, SCHEMA-*,
 * INV-*, PLAN-READ, PLAN-UNKNOWN-*), sorted by id. dr_rule_find() does not
 * search them; dr_any_rule_find() searches both tables.
 */
const dr_rule_info *dr_input_rule_find(const char *id);
const dr_rule_info *dr_input_rule_table(size_t *n);
const dr_rule_info *dr_any_rule_find(const char *id);

#endif
