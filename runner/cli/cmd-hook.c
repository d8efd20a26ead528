/*
 * cmd-hook.c - `drplan hook test HOOK --plan PLAN ...`: run one Lua hook
 * with the context the executor would give it (exec/hookctx.h), on the real
 * event loop and network (hooks/serve.h), and show what it did.
 */
#include "cli.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/parse.h"
#include "exec/hookctx.h"
#include "exec/loop.h"
#include "exec/net.h"
#include "graph/graph.h"
#include "hooks/sandbox.h"
#include "hooks/serve.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LIST 64

struct hook_args {
	const char *hook, *plan, *machine, *group, *operation, *direction;
	const char *timeout, *output, *instructions, *memory;
	const char *argv_kv[MAX_LIST];
	size_t nargs;
	const char *env[MAX_LIST + 1];
	size_t nenv;
};

struct run_state {
	bool done;
	dr_hook_outcome oc;
};

static void on_done(dr_hook *h, const dr_hook_outcome *oc, void *ud)
{
	struct run_state *rs = ud;

	(void)h;
	rs->done = true;
	rs->oc = *oc;
}

/* "did you mean" among the plan's machine or group names. */
static const char *nearest(const char *name, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bd = 3;

	for (size_t i = 0; i < n; i++) {
		size_t d = dr_edit_distance(name, names[i], 2);

		if (d < bd) {
			bd = d;
			best = names[i];
		}
	}
	return best;
}

static int unknown_name(const struct dr_cmd *cmd, const char *what, const char *name,
			const dr_plan *p, bool groups)
{
	size_t n = groups ? p->ngroups : p->nmachines;
	const char **names = dr_xcalloc(n ? n : 1, sizeof(*names));
	const char *near;

	for (size_t i = 0; i < n; i++)
		names[i] = groups ? p->groups[i].name.v : p->machines[i].name.v;
	near = nearest(name, names, n);
	if (near)
		dr_cli_usage_error(cmd, "unknown %s '%s' in %s (did you mean '%s'?)", what,
				   name, p->file, near);
	else
		dr_cli_usage_error(cmd, "unknown %s '%s' in %s", what, name, p->file);
	free(names);
	return DR_EXIT_USAGE;
}

/* --arg k=v: numbers and true/false keep their type, the rest are strings. */
static int add_arg(json_t *args, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char *key, *end;
	double d;
	json_t *v;

	if (!eq || eq == kv)
		return -1;
	key = dr_xstrndup(kv, (size_t)(eq - kv));
	eq++;
	d = strtod(eq, &end);
	if (!strcmp(eq, "true") || !strcmp(eq, "false"))
		v = json_boolean(!strcmp(eq, "true"));
	else if (*eq && !*end && strspn(eq, "0123456789+-.eE") == strlen(eq))
		v = d == (double)(long long)d && !strpbrk(eq, ".eE") ?
			json_integer((long long)d) : json_real(d);
	else
		v = json_string(eq);
	json_object_set_new(args, key, v ? v : json_string(""));
	free(key);
	return 0;
}

/* The plan's action whose file is the hook, matching --machine/--group. */
static const dr_action *find_action(const dr_plan *p, const char *hook, long mi, long gi,
				    long *owner_m, long *owner_g)
{
	char want[PATH_MAX], have[PATH_MAX];
	dr_strbuf path = DR_STRBUF_INIT;
	const dr_action *found = NULL;

	if (!realpath(hook, want))
		return NULL;
	for (size_t g = 0; g < p->ngroups && !found; g++) {
		const dr_group *G = &p->groups[g];
		bool gok = (gi < 0 || (size_t)gi == g) &&
			   (mi < 0 || p->machines[mi].group == g);

		for (int side = 0; side < 2 && !found && gok; side++) {
			const dr_action *l = side ? G->post : G->pre;
			size_t n = side ? G->npost : G->npre;

			for (size_t k = 0; k < n && !found; k++) {
				if (l[k].kind != DR_ACTION_LUA)
					continue;
				dr_hookctx_path(p, l[k].lua.v, &path);
				if (realpath(path.buf, have) && !strcmp(want, have)) {
					found = &l[k];
					*owner_g = (long)g;
					*owner_m = -1;
				}
			}
		}
	}
	for (size_t m = 0; m < p->nmachines && !found; m++) {
		const dr_machine *M = &p->machines[m];

		if ((mi >= 0 && (size_t)mi != m) || (gi >= 0 && M->group != (size_t)gi))
			continue;
		for (int side = 0; side < 2 && !found; side++) {
			const dr_action *l = side ? M->post : M->pre;
			size_t n = side ? M->npost : M->npre;

			for (size_t k = 0; k < n && !found; k++) {
				if (l[k].kind != DR_ACTION_LUA)
					continue;
				dr_hookctx_path(p, l[k].lua.v, &path);
				if (realpath(path.buf, have) && !strcmp(want, have)) {
					found = &l[k];
					*owner_g = (long)M->group;
					*owner_m = (long)m;
				}
			}
		}
	}
	dr_strbuf_release(&path);
	return found;
}

static void human_bytes(size_t n, char *buf, size_t size)
{
	if (n >= (size_t)1 << 20)
		snprintf(buf, size, "%.1f MiB", (double)n / (1 << 20));
	else
		snprintf(buf, size, "%.1f KiB", (double)n / 1024);
}

static int exit_of(dr_hook_status st)
{
	return st == DR_HOOK_OK ? DR_EXIT_OK : 1;
}

static void print_text(dr_hook *h, const dr_hook_outcome *oc, uint64_t ms,
		       const char *step)
{
	char mem[32];
	const json_t *outs = dr_hook_outputs(h);

	printf("hook %s\n", step);
	for (size_t i = 0; i < dr_hook_log_count(h); i++) {
		const dr_hook_log_line *l = dr_hook_log_at(h, i);
		time_t t = (time_t)(l->unix_ms / 1000);
		struct tm tm;
		char ts[16];

		gmtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
		printf("  %s.%03u %-5s %s\n", ts, (unsigned)(l->unix_ms % 1000), l->level,
		       l->text);
	}
	if (outs && json_object_size(outs)) {
		const char *k;
		const json_t *v;

		printf("outputs:\n");
		json_object_foreach((json_t *)outs, k, v) {
			char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

			printf("  %s = %s\n", k, s ? s : "?");
			free(s);
		}
	}
	human_bytes(dr_hook_mem_peak(h), mem, sizeof(mem));
	printf("%s%s%s (%llu ms, %llu instructions, memory peak %s)\n",
	       dr_hook_status_name(oc->status), oc->message && *oc->message ? ": " : "",
	       oc->message ? oc->message : "", (unsigned long long)ms,
	       (unsigned long long)dr_hook_instructions(h), mem);
}

static void print_json(dr_hook *h, const dr_hook_outcome *oc, uint64_t ms, json_t *ctx)
{
	json_t *log = json_array(), *doc;
	char *s;

	for (size_t i = 0; i < dr_hook_log_count(h); i++) {
		const dr_hook_log_line *l = dr_hook_log_at(h, i);

		json_array_append_new(log, json_pack("{s:I,s:s,s:s}", "unix_ms",
						     (json_int_t)l->unix_ms, "level", l->level,
						     "text", l->text));
	}
	doc = json_pack("{s:s,s:s,s:I,s:I,s:I,s:o,s:O,s:O}", "status",
			dr_hook_status_name(oc->status), "message",
			oc->message ? oc->message : "", "duration_ms", (json_int_t)ms,
			"instructions", (json_int_t)dr_hook_instructions(h), "memory_peak",
			(json_int_t)dr_hook_mem_peak(h), "log", log, "outputs",
			dr_hook_outputs(h), "context", ctx);
	s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	printf("%s\n", s);
	free(s);
	json_decref(doc);
}

static int hook_test(const struct dr_cmd *cmd, struct hook_args *ha)
{
	dr_arena *a = dr_arena_new();
	dr_diags *diags = dr_diags_new();
	dr_strbuf ldir = DR_STRBUF_INIT;
	dr_compile_opts copts = DR_COMPILE_OPTS_INIT;
	struct run_state rs = { 0 };
	dr_plan *p = NULL;
	dr_graph *g = NULL;
	dr_operation op;
	dr_direction dir;
	const dr_action *act = NULL;
	long mi = -1, gi = -1, own_m = -1, own_g = -1;
	const char *step = "hook-test";
	json_t *ctx = NULL, *args = NULL;
	dr_hook_opts ho;
	dr_hook *h = NULL;
	dr_loop *loop = NULL;
	dr_net *net = NULL;
	dr_hook_serving *sv = NULL;
	uint64_t t0, ms;
	int rc, status = DR_EXIT_IO;

	if (dr_operation_parse(ha->operation, &op)) {
		status = dr_cli_usage_error(cmd,
			"unknown operation '%s' (drill, failover, commit, reprotect, failback)",
			ha->operation);
		goto out;
	}
	dir = dr_operation_direction(op);
	if (ha->direction) {
		if (!strcmp(ha->direction, "to-azure"))
			dir = DR_DIR_TO_AZURE;
		else if (!strcmp(ha->direction, "to-onprem"))
			dir = DR_DIR_TO_ONPREM;
		else {
			status = dr_cli_usage_error(cmd, "--direction takes to-azure or to-onprem");
			goto out;
		}
		copts.direction = dir;
	}
	memset(&ho, 0, sizeof(ho));
	if (ha->timeout && (dr_parse_duration(ha->timeout, &ho.timeout_ms) || !ho.timeout_ms)) {
		status = dr_cli_usage_error(cmd, "--timeout takes a duration such as 90s or 5m");
		goto out;
	}
	if (ha->instructions) {
		char *end;
		unsigned long long n = strtoull(ha->instructions, &end, 10);

		if (*end || !n || ha->instructions[0] == '-') {
			status = dr_cli_usage_error(cmd, "--instructions takes a positive number");
			goto out;
		}
		ho.instr_limit = n;
	}
	if (ha->memory) {
		char *end;
		unsigned long n = strtoul(ha->memory, &end, 10);

		if (*end || !n || n > 4096 || ha->memory[0] == '-') {
			status = dr_cli_usage_error(cmd,
				"--memory takes MiB from 1 to 4096");
			goto out;
		}
		ho.mem_cap = (size_t)n << 20;
	}
	rc = dr_plan_load(a, ha->plan, NULL, diags, &p);
	if (rc || !p) {
		dr_cli_print_diags(diags, "auto");
		fprintf(stderr, "drplan hook: cannot load %s\n", ha->plan);
		status = rc == DR_EIO ? DR_EXIT_IO : DR_EXIT_INVALID;
		goto out;
	}
	if (ha->machine && (mi = dr_plan_find_machine(p, ha->machine)) < 0) {
		status = unknown_name(cmd, "machine", ha->machine, p, false);
		goto out;
	}
	if (ha->group && (gi = dr_plan_find_group(p, ha->group)) < 0) {
		status = unknown_name(cmd, "group", ha->group, p, true);
		goto out;
	}
	if (mi >= 0 && gi >= 0 && p->machines[mi].group != (size_t)gi) {
		status = dr_cli_usage_error(cmd, "machine '%s' is in group '%s', not '%s'",
					    ha->machine, p->groups[p->machines[mi].group].name.v,
					    ha->group);
		goto out;
	}
	/* The executor's view: the action the hook is in the plan, and its
	 * step in the graph of this operation. */
	act = find_action(p, ha->hook, mi, gi, &own_m, &own_g);
	if (act) {
		mi = own_m;
		gi = own_g;
	} else if (mi >= 0) {
		gi = (long)p->machines[mi].group;
	}
	if (act && dr_graph_compile(a, p, op, &copts, &g) == 0) {
		for (size_t i = 0; i < g->nsteps; i++)
			if (g->steps[i].action == act && g->steps[i].machine == mi) {
				step = g->steps[i].id;
				break;
			}
	}
	if (act && !strcmp(step, "hook-test"))
		fprintf(stderr, "drplan hook: note: %s does not run in a %s (%s) of this "
			"plan; testing it anyway\n", ha->hook, ha->operation,
			dr_direction_name(dir));
	ctx = dr_hookctx_build(p, op, dir, "hook-test", step, 1, gi, mi);

	args = act && act->args ? dr_ynode_to_json(act->args) : NULL;
	if (!json_is_object(args)) {
		json_decref(args);
		args = json_object();
	}
	for (size_t i = 0; i < ha->nargs; i++)
		if (add_arg(args, ha->argv_kv[i]) < 0) {
			status = dr_cli_usage_error(cmd, "--arg takes KEY=VALUE, not '%s'",
						    ha->argv_kv[i]);
			goto out;
		}
	if (!ha->timeout && act)
		ho.timeout_ms = act->timeout.ms;
	if (ha->nenv)
		ho.env = ha->env;
	else if (act && act->env.n) {
		for (size_t i = 0; i < act->env.n && i < MAX_LIST; i++)
			ha->env[ha->nenv++] = act->env.v[i];
		ho.env = ha->env;
	}
	dr_hookctx_lua_dir(p, NULL, &ldir);
	ho.lua_dir = ldir.buf;
	if (dr_loop_new(NULL, &loop) < 0 || dr_net_new(loop, &net) < 0) {
		fprintf(stderr, "drplan hook: %s\n", dr_error_msg());
		goto out;
	}
	if (dr_hook_new(&ho, &h) < 0) {
		fprintf(stderr, "drplan hook: %s\n", dr_error_msg());
		goto out;
	}
	if ((rc = dr_hook_load_file(h, ha->hook)) < 0) {
		fprintf(stderr, "drplan hook: %s\n", dr_error_msg());
		status = rc == DR_EIO ? DR_EXIT_IO : 1;
		goto out;
	}
	dr_hook_set_context(h, ctx);
	dr_hook_set_args(h, args);
	dr_loop_stop_on_signals(loop);
	t0 = dr_loop_now(loop);
	if (dr_hook_serve(loop, net, h, on_done, &rs, &sv) < 0) {
		fprintf(stderr, "drplan hook: %s\n", dr_error_msg());
		goto out;
	}
	while (!rs.done) {
		rc = dr_loop_run_once(loop, true);
		if (rc == DR_ECANCELLED && !rs.done)
			dr_hook_serve_cancel(sv); /* Ctrl-C: done runs now */
		else if (rc < 0 && !rs.done) {
			dr_hook_serve_cancel(sv);
			break;
		}
	}
	ms = dr_loop_now(loop) - t0;
	if (ha->output && !strcmp(ha->output, "json"))
		print_json(h, &rs.oc, ms, ctx);
	else
		print_text(h, &rs.oc, ms, step);
	if (rs.oc.status != DR_HOOK_OK)
		fprintf(stderr, "drplan hook: %s %s: %s\n", ha->hook,
			dr_hook_status_name(rs.oc.status), rs.oc.message ? rs.oc.message : "");
	status = exit_of(rs.oc.status);
out:
	dr_hook_free(h);
	dr_net_free(net);
	dr_loop_free(loop);
	json_decref(ctx);
	json_decref(args);
	dr_strbuf_release(&ldir);
	dr_diags_free(diags);
	dr_arena_free(a);
	return status;
}

static int run_hook(const struct dr_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "plan", required_argument, NULL, 'p' },
		{ "machine", required_argument, NULL, 'm' },
		{ "group", required_argument, NULL, 'g' },
		{ "operation", required_argument, NULL, 'O' },
		{ "direction", required_argument, NULL, 'd' },
		{ "arg", required_argument, NULL, 'a' },
		{ "env", required_argument, NULL, 'e' },
		{ "timeout", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "instructions", required_argument, NULL, 'I' },
		{ "memory", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	struct hook_args ha = { .operation = NULL };
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:m:g:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'p': ha.plan = optarg; break;
		case 'm': ha.machine = optarg; break;
		case 'g': ha.group = optarg; break;
		case 'O': ha.operation = optarg; break;
		case 'd': ha.direction = optarg; break;
		case 't': ha.timeout = optarg; break;
		case 'o': ha.output = optarg; break;
		case 'I': ha.instructions = optarg; break;
		case 'M': ha.memory = optarg; break;
		case 'a':
			if (ha.nargs == MAX_LIST)
				return dr_cli_usage_error(cmd, "at most %d --arg", MAX_LIST);
			ha.argv_kv[ha.nargs++] = optarg;
			break;
		case 'e':
			if (ha.nenv == MAX_LIST)
				return dr_cli_usage_error(cmd, "at most %d --env", MAX_LIST);
			ha.env[ha.nenv++] = optarg;
			break;
		case ':':
			return dr_cli_usage_error(cmd, "option '%s' needs a value",
						  argv[optind - 1]);
		default:
			return dr_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind < 1 || strcmp(argv[optind], "test"))
		return dr_cli_usage_error(cmd, "expected 'test HOOK.lua'");
	if (argc - optind != 2)
		return dr_cli_usage_error(cmd, "expected one hook file after 'test'");
	ha.hook = argv[optind + 1];
	if (!ha.plan)
		return dr_cli_usage_error(cmd, "--plan is required");
	if (!ha.operation)
		return dr_cli_usage_error(cmd, "--operation is required");
	if (!ha.machine && !ha.group)
		return dr_cli_usage_error(cmd, "--machine or --group is required");
	if (ha.output && strcmp(ha.output, "json") && strcmp(ha.output, "text"))
		return dr_cli_usage_error(cmd, "--output takes text or json");
	return hook_test(cmd, &ha);
}

const struct dr_cmd dr_cmd_hook = {
	.name = "hook",
	.usage = "test HOOK.lua --plan PLAN --machine NAME --operation OP [OPTIONS]",
	.summary = "Run one Lua hook with the context a job would give it",
	.help =
		"Runs HOOK.lua once, as the executor would run it in a job of PLAN for\n"
		"OPERATION: the same drplan.context (plan, operation, direction, group,\n"
		"machine, machines), the same sandbox and limits, require() from the\n"
		"repository's lua/, real network requests on the event loop. When the\n"
		"hook is one of the plan's actions, its args, env and timeout are the\n"
		"action's, and a group's hook sees all the group's machines (as in a\n"
		"job). Prints the hook's log, its outputs and the outcome.\n\n"
		"Options:\n"
		"      --plan PLAN           the plan file (required)\n"
		"      --machine NAME        the machine (or its group's hook)\n"
		"      --group NAME          the group, when no machine is named\n"
		"      --operation OP        drill, failover, commit, reprotect, failback\n"
		"      --direction DIR       to-azure or to-onprem (default: the operation's)\n"
		"      --arg KEY=VALUE       set drplan.args.KEY (repeatable; over the action's)\n"
		"      --env NAME            allow drplan.env(NAME) (repeatable; default: the\n"
		"                            action's env:)\n"
		"      --timeout DUR         wall-clock limit (default: the action's, or 10m)\n"
		"      --instructions N      instruction limit (default 100000000, as in jobs)\n"
		"      --memory MIB          Lua heap limit in MiB (default 64, as in jobs)\n"
		"  -o, --output FMT          text (default) or json\n"
		"\nExit status: 0 the hook succeeded, 1 it failed, timed out or hit a limit\n"
		"(memory, instruction or output), 2 usage, 3 I/O error.\n",
	.run = run_hook,
};
