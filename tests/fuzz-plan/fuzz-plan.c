/*
 * fuzz-plan.c - libFuzzer target for the whole offline pipeline: load a plan
 * from arbitrary bytes, check it against the schema and every rule, compile
 * it for every operation and render the diagnostics in every format. Whatever
 * the bytes, none of this may crash, hang or leak.
 */
#include "core/arena.h"
#include "core/diag.h"
#include "core/strbuf.h"
#include "graph/graph.h"
#include "plan/plan.h"
#include "report/diagfmt.h"
#include "rules/rules.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const dr_diagfmt fmts[] = { DR_DIAGFMT_TEXT, DR_DIAGFMT_JSON,
					   DR_DIAGFMT_SARIF, DR_DIAGFMT_JUNIT };
	/* The inventory would be read from disk: keep fuzzing hermetic. */
	dr_plan_load_opts opts = { .no_inventory = true };
	const char *files[] = { "fuzz.yaml" };
	dr_diagfmt_opts fo = { .color = 1, .summary = 1, .files = files, .nfiles = 1 };
	dr_arena *a = dr_arena_new();
	dr_diags *d = dr_diags_new();
	dr_strbuf sb = DR_STRBUF_INIT;
	dr_plan *p = NULL;
	size_t i;

	if (dr_plan_load_text(a, "fuzz.yaml", (const char *)data, size, &opts,
			      d, &p) == 0 && p) {
		dr_rules_check(p, d);
		if (dr_diags_count(d, DR_SEV_ERROR) == 0) {
			int op;

			for (op = 0; op < DR_OP__COUNT; op++) {
				dr_compile_opts co = { .shutdown_source = -1 };
				dr_graph *g = NULL;

				if (dr_graph_compile(a, p, (dr_operation)op, &co, &g) == 0 &&
				    dr_graph_estimate(g) == 0)
					dr_graph_write(g, p, DR_GRAPH_JSON, &sb);
				dr_strbuf_reset(&sb);
			}
		}
	}
	dr_diags_sort(d);
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		dr_diags_render(d, fmts[i], &fo, &sb);
		dr_strbuf_reset(&sb);
	}
	dr_strbuf_release(&sb);
	dr_diags_free(d);
	dr_arena_free(a);
	return 0;
}
