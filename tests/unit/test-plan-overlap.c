/*
 * test-plan-overlap.c - building the model while the schema is checked on
 * another thread (dr_plan_set_overlap_min) loads every example and case
 * plan exactly as one thread does: same return code, same model, same
 * diagnostics in the same order, the inventory's source lines included.
 */
#include "core/arena.h"
#include "core/diag.h"
#include "core/strbuf.h"
#include "plan/plan.h"
#include "report/diagfmt.h"
#include "rules/rules.h"

#include "test.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>

/* Load file with the given threshold; rc, a model summary and the
 * diagnostics (with quoted source lines and SARIF paths) as text. */
static char *load(const char *file, size_t overlap_min, int *rc)
{
	dr_arena *a = dr_arena_new();
	dr_diags *d = dr_diags_new();
	dr_strbuf sb = DR_STRBUF_INIT;
	dr_diagfmt_opts o = { .summary = 1 };
	dr_plan *p = NULL;
	size_t old = dr_plan_set_overlap_min(overlap_min), i;

	dr_diags_set_origin(d, file);
	*rc = dr_plan_load(a, file, NULL, d, &p);
	dr_plan_set_overlap_min(old);
	if (p) {
		dr_rules_check(p, d);
		dr_strbuf_addf(&sb, "model %s: %zu machines, %zu groups, %zu networks\n",
			       p->name.v ? p->name.v : "?", p->nmachines, p->ngroups,
			       p->nnetworks);
		for (i = 0; i < p->nmachines; i++)
			dr_strbuf_addf(&sb, "  %s %s %zu disks\n", p->machines[i].name.v,
				       p->machines[i].target.size.v ?
				       p->machines[i].target.size.v : "-",
				       p->machines[i].source.ndisks);
	}
	dr_diags_sort(d);
	dr_diags_render(d, DR_DIAGFMT_TEXT, &o, &sb);
	dr_diags_render(d, DR_DIAGFMT_SARIF, &o, &sb);
	dr_diags_free(d);
	dr_arena_free(a);
	return dr_strbuf_detach(&sb, NULL);
}

/* One thread and two agree on file; returns the rc. */
static int same(const char *file)
{
	int rc1, rc2;
	char *one = load(file, SIZE_MAX, &rc1);
	char *two = load(file, 0, &rc2);

	if (rc1 != rc2 || strcmp(one, two)) {
		fprintf(stderr, "%s: one thread (rc %d):\n%s\ntwo (rc %d):\n%s\n",
			file, rc1, one, rc2, two);
		CHECK(!"one and two threads differ");
	}
	free(one);
	free(two);
	return rc1;
}

static size_t each_case(const char *dir, int *nbad)
{
	DIR *dh = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	CHECK(dh != NULL);
	while (dh && (e = readdir(dh))) {
		char path[1024];

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/plan.yaml", dir, e->d_name);
		*nbad += same(path) != 0;
		n++;
	}
	if (dh)
		closedir(dh);
	return n;
}

TEST(examples)
{
	CHECK_INT(same("plans/erp.yaml"), 0);
	CHECK_INT(same("plans/failback.yaml"), 0);
	CHECK_INT(same("plans/small.yaml"), 0);
}

/* Syntax, schema, inventory and reference errors: schema errors discard
 * the model built meanwhile, an unreadable inventory is still DR_EIO. */
TEST(case_plans)
{
	int nbad = 0;
	size_t n = each_case("tests/cases/bad-plans", &nbad);

	CHECK(n >= 100);
	CHECK(nbad >= 30); /* 33 when written */
	nbad = 0;
	CHECK_INT(each_case("tests/cases/good-plans", &nbad), 4);
	CHECK_INT(nbad, 0);
}

int main(void)
{
	RUN(examples);
	RUN(case_plans);
	return test_summary();
}
