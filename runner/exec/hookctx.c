/*
 * hookctx.c - the context and lua/ directory of a hook (hookctx.h).
 */
#include "exec/hookctx.h"

#include <string.h>
#include <sys/stat.h>

static const char *rp_text(const dr_recovery_point *rp)
{
	switch (rp->kind) {
	case DR_RP_LATEST: return "latest";
	case DR_RP_LATEST_PROCESSED: return "latest-processed";
	case DR_RP_LATEST_APP_CONSISTENT: return "latest-app-consistent";
	case DR_RP_CUSTOM: return rp->id ? rp->id : "custom";
	}
	return "?";
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_set_new(o, k, json_string(v));
}

/* The first source NIC address the plan or inventory knows. */
static const char *source_ip(const dr_machine *m)
{
	for (size_t i = 0; i < m->source.nnics; i++)
		if (m->source.nics[i].ip.v && *m->source.nics[i].ip.v)
			return m->source.nics[i].ip.v;
	return NULL;
}

static json_t *machine_obj(const dr_plan *p, size_t mi, dr_direction dir)
{
	const dr_machine *m = &p->machines[mi];
	json_t *o = json_object(), *src = json_object(), *tgt = json_object();
	const dr_recovery_point *rp = m->rp.at ? &m->rp : &p->rp;

	json_object_set_new(o, "name", json_string(m->name.v ? m->name.v : ""));
	if (m->group < p->ngroups && p->groups[m->group].name.v)
		json_object_set_new(o, "group", json_string(p->groups[m->group].name.v));
	json_object_set_new(o, "critical", json_boolean(m->critical.v));
	json_object_set_new(o, "recovery_point", json_string(rp_text(rp)));
	json_object_set_new(src, "os", json_string(m->source.os == DR_OS_LINUX ?
						   "linux" : "windows"));
	set_str(src, "os_version", m->source.os_version.v);
	set_str(src, "ip", source_ip(m));
	json_object_set_new(o, "source", src);
	set_str(tgt, "name", m->target.name.v ? m->target.name.v : m->name.v);
	set_str(tgt, "resource_group", m->target.resource_group.v);
	set_str(tgt, "vnet", m->target.vnet.v);
	set_str(tgt, "subnet", m->target.subnet.v);
	set_str(tgt, "size", m->target.size.v);
	/* Failback brings the machine back to its source address. */
	set_str(tgt, "ip", dir == DR_DIR_TO_ONPREM ? source_ip(m) : m->target.ip.v);
	json_object_set_new(o, "target", tgt);
	return o;
}

json_t *dr_hookctx_build(const dr_plan *p, dr_operation op, dr_direction dir,
			 const char *job_id, const char *step_id,
			 unsigned attempt, long group, long machine)
{
	json_t *ctx = json_object(), *ms = json_array();

	json_object_set_new(ctx, "plan", json_string(p->name.v ? p->name.v : ""));
	/* Hooks that probe recovered machines skip that on the simulator,
	 * whose machines exist only in the model. */
	json_object_set_new(ctx, "provider",
			    json_string(p->provider.v ? p->provider.v : "sim"));
	json_object_set_new(ctx, "operation", json_string(dr_operation_name(op)));
	json_object_set_new(ctx, "direction", json_string(dr_direction_name(dir)));
	json_object_set_new(ctx, "job", json_string(job_id ? job_id : ""));
	json_object_set_new(ctx, "step", json_string(step_id ? step_id : ""));
	json_object_set_new(ctx, "attempt", json_integer(attempt));
	if (machine >= 0 && (size_t)machine < p->nmachines) {
		if (group < 0)
			group = (long)p->machines[machine].group;
		json_object_set_new(ctx, "machine",
				    json_string(p->machines[machine].name.v));
		json_array_append_new(ms, machine_obj(p, (size_t)machine, dir));
	}
	if (group >= 0 && (size_t)group < p->ngroups) {
		const dr_group *g = &p->groups[group];

		json_object_set_new(ctx, "group", json_string(g->name.v ? g->name.v : ""));
		if (machine < 0)
			for (size_t k = 0; k < g->nmachines; k++)
				json_array_append_new(ms, machine_obj(p, g->machines[k], dir));
	} else if (machine < 0) {
		for (size_t k = 0; k < p->nmachines; k++)
			json_array_append_new(ms, machine_obj(p, k, dir));
	}
	json_object_set_new(ctx, "machines", ms);
	/* Outputs of the job's earlier hooks, by step id; a job fills it. */
	json_object_set_new(ctx, "outputs", json_object());
	return ctx;
}

static int has_lib(const char *dir)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	struct stat st;
	int ok;

	dr_strbuf_addf(&sb, "%s/lua/drplan", dir);
	ok = stat(sb.buf, &st) == 0 && S_ISDIR(st.st_mode);
	dr_strbuf_release(&sb);
	return ok;
}

void dr_hookctx_lua_dir(const dr_plan *p, const char *override, dr_strbuf *out)
{
	const char *pdir = p->dir && *p->dir ? p->dir : ".";
	dr_strbuf d = DR_STRBUF_INIT;

	dr_strbuf_reset(out);
	if (override) {
		dr_strbuf_addstr(out, override);
		return;
	}
	/* Walk up lexically ("plans" -> "plans/.." -> ...) so relative plan
	 * paths stay relative in messages; stop after a few levels. */
	dr_strbuf_addstr(&d, pdir);
	for (int up = 0; up < 8; up++) {
		if (has_lib(d.buf)) {
			dr_strbuf_addf(out, "%s/lua", d.buf);
			dr_strbuf_release(&d);
			return;
		}
		dr_strbuf_addstr(&d, "/..");
	}
	dr_strbuf_release(&d);
	dr_strbuf_addf(out, "%s/lua", pdir);
}

void dr_hookctx_path(const dr_plan *p, const char *lua, dr_strbuf *out)
{
	dr_strbuf_reset(out);
	if (lua && lua[0] == '/')
		dr_strbuf_addstr(out, lua);
	else
		dr_strbuf_addf(out, "%s/%s", p->dir && *p->dir ? p->dir : ".",
			       lua ? lua : "");
}
