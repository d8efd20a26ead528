/*
 * hookctx.h - what a Lua hook sees of the plan, built once for the
 * executor (exec/job.c) and for `drplan hook test`, so both give a hook the
 * very same drplan.context and find the same lua/ directory.
 *
 * drplan.context is
 *   {"plan", "operation", "direction", "job", "step", "attempt",
 *    "group"?, "machine"?, "machines": [ {"name", "group", "critical",
 *      "recovery_point", "source": {"os", "os_version"?, "ip"?},
 *      "target": {"name", "resource_group"?, "vnet"?, "subnet"?, "ip"?,
 *                 "size"?}} ... ]}
 * machines is the step's machine, or every machine of the step's group
 * for a group hook, or every machine of the plan. "target" is the Azure
 * side; on a to-onprem operation (failback) a machine comes back to its
 * source, so target.ip is the source IP there (what a probe should reach).
 *
 * The lua/ directory for require(): the caller's override, else the
 * nearest of the plan's directory and its ancestors that holds
 * lua/drplan/ (plans live in plans/ next to the repository's lua/), else
 * <plan dir>/lua.
 */
#ifndef DR_EXEC_HOOKCTX_H
#define DR_EXEC_HOOKCTX_H

#include "core/strbuf.h"
#include "plan/plan.h"

#include <jansson.h>

/* A new context object (never NULL). group/machine: plan indexes or -1. */
json_t *dr_hookctx_build(const dr_plan *p, dr_operation op, dr_direction dir,
			 const char *job_id, const char *step_id,
			 unsigned attempt, long group, long machine);

/* The lua/ directory, as above, into out (cleared first). */
void dr_hookctx_lua_dir(const dr_plan *p, const char *override, dr_strbuf *out);

/* The hook file of an action's `lua:` path (relative to the plan). */
void dr_hookctx_path(const dr_plan *p, const char *lua, dr_strbuf *out);

#endif
