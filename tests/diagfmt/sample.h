/*
 * sample.h - a small diagnostics list shared by test-diagfmt.c and the
 * diagfmt-sample program that the XML and SARIF checks run.
 */
#ifndef DR_TEST_DIAGFMT_SAMPLE_H
#define DR_TEST_DIAGFMT_SAMPLE_H

#include "core/diag.h"

static const char sample_erp[] =
	"apiVersion: drplan/v1\n"
	"machines:\n"
	"  - name: sql01\n"
	"    target: { size: Standard_E8s_v5x }\n"
	"\t\tnote: \"a \\\"b\\\" <c>\" # comment\n"
	"  h\xc3\xb4te: \xc3\xa9t\xc3\xa9 d'\xc3\xa9t\xc3\xa9, x\n"
	"  ip: 'it''s' \n";

static const char sample_inv[] = "{\"items\": [1, 2]}";

static const char *const sample_files[] = { "plans/erp.yaml",
					    "plans/clean.yaml" };

static dr_diags *sample_diags(void)
{
	dr_diags *d = dr_diags_new();
	dr_diag *g;

	dr_diags_add_source(d, "plans/erp.yaml", sample_erp,
			    sizeof(sample_erp) - 1);
	dr_diags_add_source(d, "inventory/erp.json", sample_inv,
			    sizeof(sample_inv) - 1);
	g = dr_diags_add(d, DR_SEV_ERROR, "AZ-SIZE-UNKNOWN", "plans/erp.yaml",
			 4, 21, "/machines/0/target/size",
			 "\"%s\" is not a known Azure VM size",
			 "Standard_E8s_v5x");
	dr_diag_note(g, "did you mean \"%s\"?", "Standard_E8s_v5");
	dr_diags_add(d, DR_SEV_WARNING, "PLAN-NOTE", "plans/erp.yaml", 5, 9,
		     "/note", "odd note <&> \"here\"\nsecond line");
	dr_diags_add(d, DR_SEV_ERROR, "PLAN-NAME", "plans/erp.yaml", 3, 5,
		     "/machines/0/name", "name too short");
	dr_diags_add(d, DR_SEV_INFO, "PLAN-ITEM", "plans/erp.yaml", 3, 3,
		     "/machines/0", "one machine");
	dr_diags_add(d, DR_SEV_ERROR, "PLAN-UTF8", "plans/erp.yaml", 6, 10,
		     "/h\xc3\xb4te", "accents");
	dr_diags_add(d, DR_SEV_WARNING, "PLAN-QUOTE", "plans/erp.yaml", 7, 7,
		     "/ip", "not an IP");
	dr_diags_add(d, DR_SEV_ERROR, "INV-ITEMS", "inventory/erp.json", 1, 11,
		     "/items", "items must be objects");
	dr_diags_add(d, DR_SEV_ERROR, "DR-IO", NULL, 0, 0, NULL,
		     "cannot read 'x' & <y>");
	dr_diags_sort(d);
	return d;
}

#endif
