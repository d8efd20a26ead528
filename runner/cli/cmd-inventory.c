/*
 * cmd-inventory.c - `drplan inventory export PLAN [--output FILE]`.
 *
 * Reads every replicated item of the plan's vault through the azure
 * provider and writes the inventory snapshot (schemas/inventory.schema.json)
 * that `target.inventory` names, so CI can validate offline. The snapshot is
 * checked against the schema before it is written, and written atomically;
 * the hand-written `drplan` blocks of an existing output file are kept.
 */
#include "cli.h"

#include "core/error.h"
#include "exec/loop.h"
#include "provider/azure.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct export_ctx {
	bool done;
	int rc;
	json_t *items;
	char *msg;
} export_ctx;

static void on_items(void *ud, int rc, const json_t *items, const dr_prov_error *err)
{
	export_ctx *x = ud;

	x->done = true;
	x->rc = rc;
	if (items)
		x->items = json_deep_copy(items);
	if (err) {
		size_t n = strlen(err->message ? err->message : "") +
			   strlen(err->recommended_action ? err->recommended_action : "") + 8;

		x->msg = malloc(n);
		snprintf(x->msg, n, "%s%s%s", err->message ? err->message : "",
			 err->recommended_action ? " " : "",
			 err->recommended_action ? err->recommended_action : "");
	}
}

static int export_run(const struct dr_cmd *cmd, const char *file, const char *output)
{
	dr_arena *a = dr_arena_new();
	dr_diags *diags = dr_diags_new();
	dr_plan_load_opts lo = { .no_inventory = true };
	dr_plan *p = NULL;
	dr_loop *loop = NULL;
	dr_azure *az = NULL;
	dr_azure_opts o;
	export_ctx x = { 0 };
	json_t *opts = NULL, *prev = NULL, *doc = NULL;
	dr_strbuf sb = DR_STRBUF_INIT;
	char *text = NULL;
	int rc, exit_code = DR_EXIT_IO;

	(void)cmd;
	rc = dr_plan_load(a, file, &lo, diags, &p);
	if (rc || !p) {
		dr_cli_print_diags(diags, "auto");
		exit_code = rc == DR_EIO ? DR_EXIT_IO : DR_EXIT_INVALID;
		goto out;
	}
	if (!dr_cli_plan_on_azure(p)) {
		fprintf(stderr, "drplan: error: %s: target.provider is '%s'; inventory "
			"export reads a live vault (target.provider: azure)\n", file,
			p->provider.v ? p->provider.v : "sim");
		exit_code = DR_EXIT_INVALID;
		goto out;
	}
	if (dr_cli_azure_credentials_check("inventory export") ||
	    dr_cli_azure_options("inventory export", p, &opts))
		goto out;
	dr_azure_opts_init(&o);
	if (dr_loop_new(NULL, &loop) < 0 || dr_azure_opts_from_json(opts, &o) < 0 ||
	    dr_azure_new(loop, &o, &az) < 0) {
		fprintf(stderr, "drplan: error: %s\n", dr_error_msg());
		goto out;
	}
	dr_azure_list_items(az, on_items, &x);
	while (!x.done && dr_loop_run_once(loop, true) >= 0)
		;
	if (x.rc < 0) {
		fprintf(stderr, "drplan: error: vault '%s': %s\n", p->vault.v,
			x.msg ? x.msg : dr_strerror(x.rc));
		goto out;
	}
	if (output && strcmp(output, "-"))
		prev = json_load_file(output, 0, NULL);
	doc = dr_azure_inventory_doc(x.items, p->vault.v, dr_wall_ms(), prev);
	if (dr_azure_inventory_check(doc) < 0) {
		fprintf(stderr, "drplan: error: %s (nothing written)\n", dr_error_msg());
		goto out;
	}
	text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	dr_strbuf_addstr(&sb, text);
	dr_strbuf_addch(&sb, '\n');
	exit_code = dr_cli_write_output(output, &sb);
	if (exit_code == 0 && output && strcmp(output, "-"))
		fprintf(stderr, "drplan: wrote %zu items of vault '%s' to %s\n",
			json_array_size(x.items), p->vault.v, output);
out:
	free(text);
	free(x.msg);
	dr_strbuf_release(&sb);
	json_decref(x.items);
	json_decref(doc);
	json_decref(prev);
	json_decref(opts);
	dr_azure_free(az);
	if (loop)
		dr_loop_free(loop);
	dr_diags_free(diags);
	dr_arena_free(a);
	return exit_code;
}

static int inventory_run(const struct dr_cmd *cmd, int argc, char **argv)
{
	const char *plan = NULL, *output = NULL;
	int i;

	if (argc < 2 || strcmp(argv[1], "export"))
		return dr_cli_usage_error(cmd, "expected 'export'");
	for (i = 2; i < argc; i++) {
		if ((!strcmp(argv[i], "--output") || !strcmp(argv[i], "-o")) && i + 1 < argc)
			output = argv[++i];
		else if (!strncmp(argv[i], "--output=", 9))
			output = argv[i] + 9;
		else if (argv[i][0] == '-' && argv[i][1])
			return dr_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
		else if (!plan)
			plan = argv[i];
		else
			return dr_cli_usage_error(cmd, "more than one plan");
	}
	if (!plan)
		return dr_cli_usage_error(cmd, "no plan file");
	return export_run(cmd, plan, output);
}

const struct dr_cmd dr_cmd_inventory = {
	.name = "inventory",
	.usage = "export PLAN [--output FILE]",
	.summary = "export the vault's replicated items as an inventory snapshot",
	.help =
		"usage: drplan inventory export PLAN [--output FILE]\n\n"
		"Reads every replicated item of the plan's Recovery Services vault\n"
		"(target.subscription, resourceGroup, vault; provider azure) and writes\n"
		"the inventory snapshot (schemas/inventory.schema.json) that\n"
		"target.inventory names, so `drplan validate` works offline. The\n"
		"snapshot is checked against the schema, then written atomically;\n"
		"`drplan` blocks already in FILE are kept.\n\n"
		"Options:\n"
		"  -o, --output FILE   where to write (default: standard output)\n\n"
		"Credentials and endpoints come from the environment (docs/azure.md):\n"
		"AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET or\n"
		"AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE; managed\n"
		"identity only with AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential;\n"
		"DRPLAN_ARM_ENDPOINT, AZURE_AUTHORITY_HOST, DRPLAN_AZURE_OPTIONS.\n"
		"\nExit status: 0 ok, 1 the plan is invalid or not an azure plan,\n"
		"2 usage, 3 the vault could not be read or the file written.\n",
	.run = inventory_run,
};
