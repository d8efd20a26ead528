/*
 * graph-internal.h - helpers shared by the files of graph/ only.
 */
#ifndef DR_GRAPH_INTERNAL_H
#define DR_GRAPH_INTERNAL_H

#include "plan/plan.h"

/* Plan enum names as plan files spell them ("failover", "to-azure",
 * "latest-processed"); fixed here so graph output never changes with the
 * loader's wording. */
const char *dr_graph_op_name(dr_operation op);
const char *dr_graph_dir_name(dr_direction d);
const char *dr_graph_rp_name(dr_rp_kind k);
/* reprotect and failback run to-onprem, everything else to-azure. */
dr_direction dr_graph_op_direction(dr_operation op);

#endif
