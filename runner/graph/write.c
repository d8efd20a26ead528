/*
 * write.c - the step graph as plan text, Graphviz DOT, Mermaid and JSON.
 *
 * Output depends only on the graph: steps in their (topological) order,
 * names from the plan, durations from the estimate. No pointers, no hash
 * order, no clocks, so the same plan always gives the same bytes.
 */
#include "graph/graph.h"

#include "core/error.h"
#include "core/parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* dr_strbuf calls only fail when the buffer has a maximum; the writers
 * keep the first failure and return it at the end. */
struct out {
	dr_strbuf *sb;
	int rc;
};

static void put(struct out *o, const char *s)
{
	if (!o->rc)
		o->rc = dr_strbuf_addstr(o->sb, s);
}

static void putf(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void putf(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->rc)
		return;
	va_start(ap, fmt);
	o->rc = dr_strbuf_vaddf(o->sb, fmt, ap);
	va_end(ap);
}

/* s padded with blanks to width w, on the left (right-aligned) or right:
 * printf's "%*s" and "%-*s" without printf, for the 31,000 lines of a
 * 10,000-machine dry run. */
static void put_pad(struct out *o, const char *s, size_t w, bool left)
{
	size_t n = strlen(s);

	if (o->rc)
		return;
	if (n >= w) {
		o->rc = dr_strbuf_add(o->sb, s, n);
		return;
	}
	if ((o->rc = dr_strbuf_grow(o->sb, w)))
		return;
	if (left) {
		memset(o->sb->buf + o->sb->len, ' ', w - n);
		memcpy(o->sb->buf + o->sb->len + (w - n), s, n);
	} else {
		memcpy(o->sb->buf + o->sb->len, s, n);
		memset(o->sb->buf + o->sb->len + n, ' ', w - n);
	}
	o->sb->len += w;
	o->sb->buf[o->sb->len] = '\0';
}

static const char *dur(char *buf, size_t size, uint64_t ms)
{
	dr_format_duration(ms, buf, size);
	return buf;
}

static const char *gname(const dr_plan *p, long g)
{
	return g >= 0 && p->groups[g].name.v ? p->groups[g].name.v : "";
}

static const char *mname(const dr_plan *p, long m)
{
	return m >= 0 && p->machines[m].name.v ? p->machines[m].name.v : "";
}

static const char *check_names(unsigned checks, char *buf, size_t size)
{
	static const char *const n[] = { "critical-healthy", "post-hooks",
					 "all-healthy" };
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < 3; i++)
		if (checks & (1u << i))
			off += (size_t)snprintf(buf + off, size - off, "%s%s",
						off ? ", " : "", n[i]);
	return off ? buf : "none";
}

static const char *timeout_policy_name(dr_timeout_policy t)
{
	switch (t) {
	case DR_TIMEOUT_WAIT: return "wait";
	case DR_TIMEOUT_COMMIT: return "commit";
	case DR_TIMEOUT_ROLLBACK: return "rollback";
	case DR_TIMEOUT_FAIL: return "fail";
	}
	return "?";
}

/* Text without line breaks, for one-line notes. */
static void put_oneline(struct out *o, const char *s)
{
	for (; s && *s && !o->rc; s++)
		o->rc = dr_strbuf_addch(o->sb, *s == '\n' || *s == '\r' ||
						       *s == '\t' ? ' ' : *s);
}

/* The note after a step in the plan text. */
static void put_note(struct out *o, const dr_graph *g, const dr_step *s)
{
	char b1[64];
	const char *sep = "";

	switch (s->kind) {
	case DR_STEP_HOOK:
		put(o, "Lua ");
		put_oneline(o, s->action->lua.v ? s->action->lua.v : "?");
		if (s->action->on_failure == DR_FAIL_WARN)
			put(o, " (failure only warns)");
		return;
	case DR_STEP_MANUAL:
		put(o, "manual: ");
		put_oneline(o, s->action->manual.v ? s->action->manual.v : "");
		return;
	case DR_STEP_SHUTDOWN_SOURCE:
		put(o, "shut the source machine down");
		return;
	case DR_STEP_TEST_FAILOVER:
	case DR_STEP_UNPLANNED_FAILOVER:
		if (s->rp) {
			put(o, "recovery point ");
			put(o, dr_rp_kind_name(s->rp->kind));
			if (s->rp->kind == DR_RP_CUSTOM && s->rp->id) {
				put(o, " ");
				put_oneline(o, s->rp->id);
			}
			sep = "; ";
		}
		if (s->extra_reason) {
			put(o, sep);
			put(o, "extra time: ");
			put(o, s->extra_reason);
			sep = "; ";
		}
		break;
	case DR_STEP_TEST_FAILOVER_CLEANUP:
		put(o, "delete the test VM");
		sep = "; ";
		break;
	case DR_STEP_PLANNED_FAILOVER:
		put(o, "to on-premises, includes the final sync");
		sep = "; ";
		break;
	case DR_STEP_REPROTECT:
		put(o, "replicate ");
		put(o, dr_direction_name(g->direction));
		put(o, "; initial sync not counted");
		sep = "; ";
		break;
	case DR_STEP_COMMIT:
		put(o, "irreversible: point of no return");
		sep = "; ";
		break;
	case DR_STEP_WAIT:
		put(o, "keep the test VMs ");
		put(o, dur(b1, sizeof(b1), s->wait_ms));
		put(o, " before cleanup");
		return;
	case DR_STEP_VERIFY_CLEANUP:
		put(o, "check that no test VM is left");
		return;
	default:
		return;
	}
	if (s->slot_wait_ms) {
		put(o, sep);
		put(o, "waits ");
		put(o, dur(b1, sizeof(b1), s->slot_wait_ms));
		put(o, " for a slot");
	}
}

static void put_gate(struct out *o, const dr_step *s)
{
	const dr_gate *gt = s->gate;
	char b[96];

	putf(o, "%s: approvals %lld", s->id,
	     gt->approvals.v > 0 ? gt->approvals.v : 1);
	if (gt->approvers.n)
		putf(o, " of %zu key%s", gt->approvers.n,
		     gt->approvers.n == 1 ? "" : "s");
	putf(o, ", checks %s", check_names(gt->checks, b, sizeof(b)));
	if (gt->timeout.ms)
		putf(o, ", timeout %s (then %s)", dur(b, sizeof(b), gt->timeout.ms),
		     timeout_policy_name(gt->on_timeout));
	else
		put(o, ", no timeout");
	put(o, "\n  waits for people: not counted in the RTO\n");
}

static size_t id_width(const dr_graph *g)
{
	size_t i, w = 0;

	for (i = 0; i < g->nsteps; i++) {
		size_t l = strlen(g->steps[i].id);

		if (!(g->steps[i].flags & DR_STEP_F_BARRIER) && l > w)
			w = l;
	}
	return w > 60 ? 60 : w;
}

static void put_group_header(struct out *o, const dr_graph *g,
			     const dr_plan *p, const dr_graph_gphase *gp)
{
	const dr_group *grp = &p->groups[gp->group];
	const dr_step *st = &g->steps[gp->start], *en = &g->steps[gp->end];
	char b1[64], b2[64];
	size_t k;

	if (gp->phase != DR_PHASE_MAIN)
		putf(o, "%s: ", dr_phase_name(gp->phase));
	putf(o, "group %s (after: ", gname(p, gp->group));
	if (!grp->nafter)
		put(o, "\xe2\x80\x94"); /* em dash */
	for (k = 0; k < grp->nafter; k++)
		putf(o, "%s%s", k ? ", " : "", gname(p, (long)grp->after[k]));
	putf(o, ") est. %s (worst %s)",
	     dur(b1, sizeof(b1), en->finish_ms - st->start_ms),
	     dur(b2, sizeof(b2), en->worst_finish_ms - st->worst_start_ms));
	putf(o, ", %zu machine%s", gp->nchains, gp->nchains == 1 ? "" : "s");
	if (gp->nchains > g->groups[gp->group].concurrency)
		putf(o, ", %u at once", g->groups[gp->group].concurrency);
	put(o, "\n");
}

static void write_text(struct out *o, const dr_graph *g, const dr_plan *p)
{
	size_t w = id_width(g), i, gi = 0, nirr = 0;
	char b1[64], b2[64];
	long first_irr = -1;

	putf(o, "plan %s: %s (%s)\n", p->name.v ? p->name.v : "?",
	     dr_operation_name(g->op), dr_direction_name(g->direction));
	putf(o, "machines %zu, groups %zu, steps %zu\n", g->nmachines,
	     g->ngroups, g->nsteps);

	for (i = 0; i < g->nsteps; i++) {
		const dr_step *s = &g->steps[i];

		if (s->kind == DR_STEP_GROUP_START) {
			put(o, "\n");
			put_group_header(o, g, p, &g->gphases[gi++]);
			continue;
		}
		if (s->flags & DR_STEP_F_BARRIER)
			continue;
		if (s->flags & DR_STEP_F_IRREVERSIBLE) {
			nirr++;
			if (first_irr < 0)
				first_irr = (long)i;
		}
		if (s->kind == DR_STEP_GATE) {
			put(o, "\n");
			put_gate(o, s);
			continue;
		}
		put(o, s->group >= 0 ? "  " : "\n");
		put_pad(o, s->id, w, false);
		put(o, "  ");
		put_pad(o, dur(b1, sizeof(b1), s->est.exp_ms), 6, true);
		put(o, "  worst ");
		put_pad(o, dur(b2, sizeof(b2), s->est.max_ms), 6, false);
		put(o, "  ");
		put_note(o, g, s);
		/* No trailing blanks when the note is short or empty. */
		while (!o->rc && o->sb->len && o->sb->buf[o->sb->len - 1] == ' ')
			dr_strbuf_setlen(o->sb, o->sb->len - 1);
		put(o, "\n");
	}

	put(o, g->op == DR_OP_DRILL || g->op == DR_OP_FAILOVER ||
			       g->op == DR_OP_FAILBACK
		       ? "\nestimated RTO\n"
		       : "\nestimated duration\n");
	{
		size_t nw = 4;

		for (i = 0; i < g->ngroups; i++)
			if (strlen(gname(p, (long)i)) > nw)
				nw = strlen(gname(p, (long)i));
		for (i = 0; i < g->ngroups; i++) {
			size_t k = g->group_order[i];

			putf(o, "  %-*s  %s (worst %s)\n", (int)nw, gname(p, (long)k),
			     dur(b1, sizeof(b1), g->groups[k].rto_ms),
			     dur(b2, sizeof(b2), g->groups[k].worst_rto_ms));
		}
		putf(o, "  %-*s  %s (worst %s)\n", (int)nw, "plan",
		     dur(b1, sizeof(b1), g->rto_ms),
		     dur(b2, sizeof(b2), g->worst_rto_ms));
	}
	if (g->total_ms != g->rto_ms || g->worst_total_ms != g->worst_rto_ms)
		putf(o, "whole job (after the RTO: %s): %s (worst %s)%s\n",
		     g->op == DR_OP_DRILL ? "hold, cleanup" : "gate, commit",
		     dur(b1, sizeof(b1), g->total_ms),
		     dur(b2, sizeof(b2), g->worst_total_ms),
		     g->gate >= 0 ? ", gate wait not counted" : "");
	if (g->op == DR_OP_DRILL && p->drill.rto.ms)
		putf(o, "drill objective RTO %s: %s\n",
		     dur(b1, sizeof(b1), p->drill.rto.ms),
		     g->worst_rto_ms <= p->drill.rto.ms ? "met even at worst"
		     : g->rto_ms <= p->drill.rto.ms	 ? "met by the estimate, not at worst"
							 : "missed by the estimate");
	put(o, "critical path:");
	{
		size_t n = 0;

		for (i = 0; i < g->ncritical; i++) {
			const dr_step *s = &g->steps[g->critical_path[i]];

			if (s->flags & DR_STEP_F_BARRIER)
				continue;
			putf(o, "%s%s", n++ ? " -> " : " ", s->id);
		}
		if (!n)
			put(o, " (none)");
	}
	put(o, "\n");
	if (first_irr >= 0)
		putf(o, "irreversible: the %zu commit step%s after %s (point of "
			"no return: the other recovery points are deleted)\n",
		     nirr, nirr == 1 ? "" : "s",
		     g->gate >= 0 ? g->steps[g->gate].id : "the start");
	else
		put(o, "irreversible: nothing; every step can be undone\n");
}

/* ---- DOT ---------------------------------------------------------------- */

static void put_dot_str(struct out *o, const char *s)
{
	put(o, "\"");
	for (; s && *s && !o->rc; s++) {
		if (*s == '"' || *s == '\\')
			put(o, *s == '"' ? "\\\"" : "\\\\");
		else if (*s == '\n')
			put(o, "\\n");
		else if ((unsigned char)*s >= 0x20)
			o->rc = dr_strbuf_addch(o->sb, *s);
	}
	put(o, "\"");
}

static bool crit_edge(const dr_step *from, size_t from_idx, const dr_step *to)
{
	return (from->flags & DR_STEP_F_CRITICAL_PATH) &&
	       (to->flags & DR_STEP_F_CRITICAL_PATH) &&
	       to->crit_pred == (long)from_idx;
}

static void step_label(const dr_step *s, char *buf, size_t size)
{
	char b1[64], b2[64];

	if (s->flags & DR_STEP_F_BARRIER)
		snprintf(buf, size, "%s", s->id);
	else if (s->kind == DR_STEP_GATE)
		snprintf(buf, size, "%s\n%lld approval%s", s->id,
			 s->gate->approvals.v > 0 ? s->gate->approvals.v : 1,
			 s->gate->approvals.v > 1 ? "s" : "");
	else
		snprintf(buf, size, "%s\n%s (worst %s)", s->id,
			 dur(b1, sizeof(b1), s->est.exp_ms),
			 dur(b2, sizeof(b2), s->est.max_ms));
}

static void write_dot(struct out *o, const dr_graph *g, const dr_plan *p)
{
	size_t i, k, gi = 0;
	dr_strbuf lab = DR_STRBUF_INIT;

	put(o, "digraph drplan {\n  label=");
	dr_strbuf_addf(&lab, "%s: %s (%s)", p->name.v ? p->name.v : "?",
		       dr_operation_name(g->op), dr_direction_name(g->direction));
	put_dot_str(o, lab.buf);
	put(o, ";\n  labelloc=t;\n  rankdir=TB;\n  node [shape=box, fontsize=10];\n");
	for (i = 0; i < g->nsteps; i++) {
		const dr_step *s = &g->steps[i];
		char buf[1024];

		if (s->kind == DR_STEP_GROUP_START) {
			const dr_graph_gphase *gp = &g->gphases[gi++];

			dr_strbuf_reset(&lab);
			dr_strbuf_addf(&lab, "%s%sgroup %s",
				       gp->phase == DR_PHASE_MAIN ? "" : dr_phase_name(gp->phase),
				       gp->phase == DR_PHASE_MAIN ? "" : ": ",
				       gname(p, gp->group));
			putf(o, "  subgraph cluster_%zu {\n    label=", gi);
			put_dot_str(o, lab.buf);
			put(o, ";\n");
		}
		step_label(s, buf, sizeof(buf));
		put(o, s->group >= 0 ? "    " : "  ");
		put_dot_str(o, s->id);
		put(o, " [label=");
		put_dot_str(o, buf);
		if (s->flags & DR_STEP_F_BARRIER)
			put(o, ", shape=point, width=0.08");
		else if (s->kind == DR_STEP_GATE)
			put(o, ", shape=diamond");
		else if (s->kind == DR_STEP_MANUAL)
			put(o, ", shape=note");
		else if (s->kind == DR_STEP_HOOK)
			put(o, ", shape=component");
		if (s->flags & DR_STEP_F_IRREVERSIBLE)
			put(o, ", style=filled, fillcolor=\"#f4cccc\"");
		if (s->flags & DR_STEP_F_CRITICAL_PATH)
			put(o, ", color=red, penwidth=2");
		put(o, "];\n");
		if (s->kind == DR_STEP_GROUP_END)
			put(o, "  }\n");
	}
	for (i = 0; i < g->nsteps; i++) {
		const dr_step *s = &g->steps[i];

		for (k = 0; k < s->ndeps; k++) {
			const dr_step *d = &g->steps[s->deps[k]];

			put(o, "  ");
			put_dot_str(o, d->id);
			put(o, " -> ");
			put_dot_str(o, s->id);
			if (crit_edge(d, s->deps[k], s))
				put(o, " [color=red, penwidth=2]");
			put(o, ";\n");
		}
		if (s->slot_wait_ms && (s->flags & DR_STEP_F_CRITICAL_PATH) &&
		    s->crit_pred >= 0) {
			/* Not a dependency: the machine waited for the slot
			 * this one freed. */
			put(o, "  ");
			put_dot_str(o, g->steps[s->crit_pred].id);
			put(o, " -> ");
			put_dot_str(o, s->id);
			put(o, " [style=dashed, color=red, label=\"slot\"];\n");
		}
	}
	put(o, "}\n");
	dr_strbuf_release(&lab);
}

/* ---- Mermaid ------------------------------------------------------------ */

/* Inside a quoted Mermaid label: entity codes for what would end or
 * confuse it. Line breaks become <br/>. */
static void put_mermaid_str(struct out *o, const char *s)
{
	put(o, "\"");
	for (; s && *s && !o->rc; s++) {
		switch (*s) {
		case '"': put(o, "#quot;"); break;
		case '#': put(o, "#35;"); break;
		case '<': put(o, "#lt;"); break;
		case '>': put(o, "#gt;"); break;
		case '&': put(o, "#amp;"); break;
		case '\n': put(o, "<br/>"); break;
		default:
			if ((unsigned char)*s >= 0x20)
				o->rc = dr_strbuf_addch(o->sb, *s);
		}
	}
	put(o, "\"");
}

static void write_mermaid(struct out *o, const dr_graph *g, const dr_plan *p)
{
	size_t i, k, gi = 0, n;
	char buf[1024];

	put(o, "flowchart TD\n");
	for (i = 0; i < g->nsteps; i++) {
		const dr_step *s = &g->steps[i];

		if (s->kind == DR_STEP_GROUP_START) {
			const dr_graph_gphase *gp = &g->gphases[gi++];

			snprintf(buf, sizeof(buf), "%s%sgroup %s",
				 gp->phase == DR_PHASE_MAIN ? "" : dr_phase_name(gp->phase),
				 gp->phase == DR_PHASE_MAIN ? "" : ": ",
				 gname(p, gp->group));
			putf(o, "  subgraph g%zu[", gi);
			put_mermaid_str(o, buf);
			put(o, "]\n");
		}
		step_label(s, buf, sizeof(buf));
		putf(o, "%ss%zu", s->group >= 0 ? "    " : "  ", i);
		if (s->flags & DR_STEP_F_BARRIER) {
			put(o, "([");
			put_mermaid_str(o, s->id);
			put(o, "])\n");
		} else if (s->kind == DR_STEP_GATE) {
			put(o, "{");
			put_mermaid_str(o, buf);
			put(o, "}\n");
		} else {
			put(o, "[");
			put_mermaid_str(o, buf);
			put(o, "]\n");
		}
		if (s->kind == DR_STEP_GROUP_END)
			put(o, "  end\n");
	}
	for (i = 0; i < g->nsteps; i++) {
		const dr_step *s = &g->steps[i];

		for (k = 0; k < s->ndeps; k++) {
			size_t d = s->deps[k];

			putf(o, "  s%zu %s s%zu\n", d,
			     crit_edge(&g->steps[d], d, s) ? "==>" : "-->", i);
		}
		if (s->slot_wait_ms && (s->flags & DR_STEP_F_CRITICAL_PATH) &&
		    s->crit_pred >= 0)
			putf(o, "  s%ld -. slot .-> s%zu\n", s->crit_pred, i);
	}
	put(o, "  classDef critical stroke:#d00,stroke-width:3px\n");
	put(o, "  classDef irreversible fill:#f4cccc\n");
	for (n = 0, i = 0; i < g->nsteps; i++)
		if (g->steps[i].flags & DR_STEP_F_CRITICAL_PATH)
			putf(o, "%ss%zu", n++ ? "," : "  class ", i);
	if (n)
		put(o, " critical\n");
	for (n = 0, i = 0; i < g->nsteps; i++)
		if (g->steps[i].flags & DR_STEP_F_IRREVERSIBLE)
			putf(o, "%ss%zu", n++ ? "," : "  class ", i);
	if (n)
		put(o, " irreversible\n");
}

/* ---- JSON --------------------------------------------------------------- */

static void put_json_str(struct out *o, const char *s)
{
	if (!s) {
		put(o, "null");
		return;
	}
	put(o, "\"");
	if (!o->rc)
		o->rc = dr_strbuf_add_json_escaped(o->sb, s);
	put(o, "\"");
}

static void write_json(struct out *o, const dr_graph *g, const dr_plan *p)
{
	size_t i, k;

	put(o, "{\n  \"plan\": ");
	put_json_str(o, p->name.v);
	putf(o, ",\n  \"operation\": \"%s\",\n  \"direction\": \"%s\",\n",
	     dr_operation_name(g->op), dr_direction_name(g->direction));
	putf(o, "  \"machines\": %zu,\n  \"groups\": [", g->nmachines);
	for (i = 0; i < g->ngroups; i++) {
		size_t gi = g->group_order[i];
		const dr_group *grp = &p->groups[gi];
		const dr_graph_group *gg = &g->groups[gi];

		put(o, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
		put_json_str(o, gname(p, (long)gi));
		put(o, ", \"after\": [");
		for (k = 0; k < grp->nafter; k++) {
			if (k)
				put(o, ", ");
			put_json_str(o, gname(p, (long)grp->after[k]));
		}
		putf(o, "], \"machines\": %zu, \"concurrency\": %u, "
			"\"span_ms\": %llu, \"worst_span_ms\": %llu, "
			"\"rto_ms\": %llu, \"worst_rto_ms\": %llu}",
		     grp->nmachines, gg->concurrency,
		     (unsigned long long)gg->span_ms,
		     (unsigned long long)gg->worst_span_ms,
		     (unsigned long long)gg->rto_ms,
		     (unsigned long long)gg->worst_rto_ms);
	}
	put(o, g->ngroups ? "\n  ],\n  \"steps\": [" : "],\n  \"steps\": [");
	for (i = 0; i < g->nsteps; i++) {
		const dr_step *s = &g->steps[i];

		put(o, i ? ",\n    {\"id\": " : "\n    {\"id\": ");
		put_json_str(o, s->id);
		putf(o, ", \"kind\": \"%s\", \"phase\": \"%s\", \"group\": ",
		     dr_step_kind_name(s->kind), dr_phase_name(s->phase));
		put_json_str(o, s->group >= 0 ? gname(p, s->group) : NULL);
		put(o, ", \"machine\": ");
		put_json_str(o, s->machine >= 0 ? mname(p, s->machine) : NULL);
		put(o, ", \"deps\": [");
		for (k = 0; k < s->ndeps; k++) {
			if (k)
				put(o, ", ");
			put_json_str(o, g->steps[s->deps[k]].id);
		}
		putf(o, "], \"est\": {\"min_ms\": %llu, \"expected_ms\": %llu, "
			"\"worst_ms\": %llu, \"why\": ",
		     (unsigned long long)s->est.min_ms,
		     (unsigned long long)s->est.exp_ms,
		     (unsigned long long)s->est.max_ms);
		put_json_str(o, s->est.why);
		putf(o, "}, \"start_ms\": %llu, \"finish_ms\": %llu, "
			"\"worst_start_ms\": %llu, \"worst_finish_ms\": %llu",
		     (unsigned long long)s->start_ms,
		     (unsigned long long)s->finish_ms,
		     (unsigned long long)s->worst_start_ms,
		     (unsigned long long)s->worst_finish_ms);
		putf(o, ", \"critical_path\": %s, \"critical\": %s, "
			"\"irreversible\": %s, \"in_rto\": %s",
		     s->flags & DR_STEP_F_CRITICAL_PATH ? "true" : "false",
		     s->flags & DR_STEP_F_CRITICAL ? "true" : "false",
		     s->flags & DR_STEP_F_IRREVERSIBLE ? "true" : "false",
		     s->flags & DR_STEP_F_IN_RTO ? "true" : "false");
		if (s->rp) {
			putf(o, ", \"recovery_point\": \"%s\"",
			     dr_rp_kind_name(s->rp->kind));
			if (s->rp->kind == DR_RP_CUSTOM) {
				put(o, ", \"recovery_point_id\": ");
				put_json_str(o, s->rp->id);
			}
		}
		if (s->extra_reason) {
			put(o, ", \"extra_time\": ");
			put_json_str(o, s->extra_reason);
		}
		if (s->kind == DR_STEP_UNPLANNED_FAILOVER)
			putf(o, ", \"shutdown_source\": %s",
			     s->flags & DR_STEP_F_SHUTDOWN ? "true" : "false");
		if (s->kind == DR_STEP_WAIT)
			putf(o, ", \"wait_ms\": %llu",
			     (unsigned long long)s->wait_ms);
		if (s->kind == DR_STEP_GATE)
			putf(o, ", \"gate\": \"%s\", \"approvals\": %lld, "
				"\"timeout_ms\": %llu",
			     s->gate_name,
			     s->gate->approvals.v > 0 ? s->gate->approvals.v : 1,
			     (unsigned long long)s->gate->timeout.ms);
		if (s->action) {
			put(o, s->action->kind == DR_ACTION_LUA ? ", \"lua\": "
								: ", \"manual\": ");
			put_json_str(o, s->action->kind == DR_ACTION_LUA
						? s->action->lua.v
						: s->action->manual.v);
		}
		put(o, "}");
	}
	put(o, g->nsteps ? "\n  ],\n" : "],\n");
	putf(o, "  \"summary\": {\"rto_ms\": %llu, \"worst_rto_ms\": %llu, "
		"\"total_ms\": %llu, \"worst_total_ms\": %llu, \"gate\": ",
	     (unsigned long long)g->rto_ms, (unsigned long long)g->worst_rto_ms,
	     (unsigned long long)g->total_ms,
	     (unsigned long long)g->worst_total_ms);
	put_json_str(o, g->gate >= 0 ? g->steps[g->gate].id : NULL);
	put(o, ", \"critical_path\": [");
	for (i = 0; i < g->ncritical; i++) {
		if (i)
			put(o, ", ");
		put_json_str(o, g->steps[g->critical_path[i]].id);
	}
	put(o, "]}\n}\n");
}

int dr_graph_format_parse(const char *s, dr_graph_format *out)
{
	static const char *const names[DR_GRAPH__FORMAT_COUNT] = {
		"text", "dot", "mermaid", "json",
	};
	int i;

	for (i = 0; i < DR_GRAPH__FORMAT_COUNT; i++)
		if (!strcmp(s, names[i])) {
			*out = (dr_graph_format)i;
			return 0;
		}
	return dr_error_set(DR_EINVAL,
			    "unknown graph format '%s' (text, dot, mermaid, json)", s);
}

int dr_graph_write(const dr_graph *g, const dr_plan *p, dr_graph_format fmt,
		   dr_strbuf *sb)
{
	struct out o = { sb, 0 };

	switch (fmt) {
	case DR_GRAPH_PLAN_TEXT: write_text(&o, g, p); break;
	case DR_GRAPH_DOT: write_dot(&o, g, p); break;
	case DR_GRAPH_MERMAID: write_mermaid(&o, g, p); break;
	case DR_GRAPH_JSON: write_json(&o, g, p); break;
	default:
		return dr_error_set(DR_EINVAL, "unknown graph format %d", (int)fmt);
	}
	return o.rc;
}
