/*
 * facts.h - derived facts about a machine that several modules need.
 *
 * The validator warns about them (rules/) and the estimator prices them
 * (graph/); keeping the derivation here means both always agree.
 */
#ifndef DR_FACTS_H
#define DR_FACTS_H

#include "plan/plan.h"

#include <stddef.h>

/*
 * Why this machine's failover needs ASR's extra intermediate step of about
 * 8 to 10 minutes [AZ-FO-EXTRA-TIME], or NULL when it does not. The reason
 * is a static string naming the first condition that applies.
 */
const char *dr_machine_extra_failover_reason(const dr_machine *m);

/* Compare dotted version strings numerically ("9.8" < "9.56"); -1, 0, 1. */
int dr_version_cmp(const char *a, const char *b);

#endif
