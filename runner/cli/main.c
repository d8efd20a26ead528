/*
 * main.c - the drplan command table and dispatcher.
 */
#include "cli.h"

#include "core/error.h"
#include "core/strbuf.h"
#include "report/diagfmt.h"
#include "rules/rules.h"
#include "schema/schema.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct dr_cmd *const commands[] = {
	&dr_cmd_validate,
	&dr_cmd_plan,
	&dr_cmd_graph,
	&dr_cmd_rules,
	&dr_cmd_schedule,
	&dr_cmd_inventory,
	&dr_cmd_report,
	&dr_cmd_hook,
	&dr_cmd_drill,
	&dr_cmd_failover,
	&dr_cmd_commit,
	&dr_cmd_reprotect,
	&dr_cmd_failback,
	&dr_cmd_job,
};

static void print_overview(FILE *f)
{
	size_t i;

	fprintf(f, "usage: drplan [--version] [--help] COMMAND [ARGS]\n\n"
		   "Disaster-recovery plans for Azure Site Recovery, as code.\n\n"
		   "Commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "\nRun 'drplan COMMAND --help' for the options of a command.\n"
		   "Exit codes: 0 ok, 1 plan invalid, 2 usage error, 3 I/O error or no\n"
		   "such job, 4 job failed, 5 job waiting (--detach), 6 plan locked by\n"
		   "another runner, 7 job cancelled or rejected, 8 request refused.\n");
}

int dr_cli_usage_error(const struct dr_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "drplan %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: drplan %s %s\n"
			"Run 'drplan %s --help' for more.\n",
		cmd->name, cmd->usage, cmd->name);
	return DR_EXIT_USAGE;
}

int dr_cli_help(const struct dr_cmd *cmd)
{
	printf("usage: drplan %s %s\n\n%s\n\n%s", cmd->name, cmd->usage,
	       cmd->summary, cmd->help);
	return DR_EXIT_OK;
}

int dr_cli_color(FILE *f, const char *mode)
{
	const char *no_color = getenv("NO_COLOR");

	if (mode && !strcmp(mode, "always"))
		return 1;
	if (mode && !strcmp(mode, "never"))
		return 0;
	if (no_color && *no_color)
		return 0;
	return isatty(fileno(f));
}

bool dr_cli_one_thread(void)
{
	const char *v = getenv("DRPLAN_THREADS");

	return v && !strcmp(v, "1");
}

int dr_cli_write_output(const char *path, const dr_strbuf *sb)
{
	dr_strbuf tmp = DR_STRBUF_INIT;
	size_t off = 0;
	int fd;

	if (!path || !strcmp(path, "-")) {
		if (fwrite(sb->buf, 1, sb->len, stdout) != sb->len || fflush(stdout)) {
			fprintf(stderr, "drplan: error: writing output: %s\n",
				strerror(errno));
			return DR_EXIT_IO;
		}
		return 0;
	}
	/* Write beside the target and rename, so a reader never sees half. */
	dr_strbuf_addf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	while (off < sb->len) {
		ssize_t n = write(fd, sb->buf + off, sb->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) || close(fd) || rename(tmp.buf, path))
		goto fail;
	dr_strbuf_release(&tmp);
	return 0;
fail:
	fprintf(stderr, "drplan: error: writing %s: %s\n", path, strerror(errno));
	unlink(tmp.buf);
	dr_strbuf_release(&tmp);
	return DR_EXIT_IO;
}

int dr_cli_check_plan_with(dr_arena *a, const char *file, bool strict,
			   dr_diags *diags,
			   void (*loaded)(void *ctx, const dr_plan *p),
			   void *ctx, dr_plan **out)
{
	dr_plan *p = NULL;
	size_t before = dr_diags_count(diags, DR_SEV_ERROR);
	size_t wbefore = dr_diags_count(diags, DR_SEV_WARNING);
	int rc = dr_plan_load(a, file, NULL, diags, &p);

	*out = NULL;
	if (rc == DR_EIO)
		return DR_EXIT_IO;
	if (loaded && !rc && p && dr_diags_count(diags, DR_SEV_ERROR) == before)
		loaded(ctx, p);
	if (p && dr_rules_check(p, diags))
		return DR_EXIT_IO;
	if (rc || !p || dr_diags_count(diags, DR_SEV_ERROR) > before)
		return DR_EXIT_INVALID;
	if (strict && dr_diags_count(diags, DR_SEV_WARNING) > wbefore)
		return DR_EXIT_INVALID;
	*out = p;
	return 0;
}

int dr_cli_check_plan(dr_arena *a, const char *file, bool strict,
		      dr_diags *diags, dr_plan **out)
{
	return dr_cli_check_plan_with(a, file, strict, diags, NULL, NULL, out);
}

static const char *rule_desc(const char *id)
{
	const dr_rule_info *r = dr_any_rule_find(id);

	return r ? r->summary : NULL;
}

void dr_cli_print_diags(dr_diags *diags, const char *color_mode)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	dr_diagfmt_opts o = { 0 };

	o.color = dr_cli_color(stderr, color_mode);
	o.summary = 1;
	o.rule_desc = rule_desc;
	/* Before a dry run or a job, only what the plan can fix. */
	dr_diags_drop(diags, DR_SEV_INFO);
	dr_diags_sort(diags);
	if (dr_diags_len(diags)) {
		dr_diags_render(diags, DR_DIAGFMT_TEXT, &o, &sb);
		fputs(sb.buf, stderr);
	}
	dr_strbuf_release(&sb);
}

int main(int argc, char **argv)
{
	const char *name;
	size_t i;

	if (argc < 2) {
		print_overview(stderr);
		return DR_EXIT_USAGE;
	}
	name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		if (argc > 2)
			for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
				if (!strcmp(commands[i]->name, argv[2]))
					return dr_cli_help(commands[i]);
		print_overview(stdout);
		return DR_EXIT_OK;
	}
	if (!strcmp(name, "--version") || !strcmp(name, "version")) {
		printf("drplan %s\n", DR_VERSION);
		return DR_EXIT_OK;
	}
	if (dr_cli_one_thread()) {
		dr_plan_set_overlap_min(SIZE_MAX);
		dr_schema_set_split_min(SIZE_MAX);
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i]->name, name))
			continue;
		if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")))
			return dr_cli_help(commands[i]);
		return commands[i]->run(commands[i], argc - 1, argv + 1);
	}
	fprintf(stderr, "drplan: '%s' is not a drplan command.\n\n", name);
	print_overview(stderr);
	return DR_EXIT_USAGE;
}
