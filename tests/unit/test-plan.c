/*
 * test-plan.c - the plan loader and model: example plans, defaults,
 * inventory facts and precedence, reference errors, schema errors.
 * Runs from the source directory (ctest sets it), so plans/ is at hand.
 */
#include "core/alloc.h"
#include "core/arena.h"
#include "core/diag.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "plan/plan.h"

#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static dr_arena *A;
static dr_diags *D;

static dr_plan *load(const char *file)
{
	dr_plan *p = NULL;
	int rc;

	dr_arena_free(A);
	dr_diags_free(D);
	A = dr_arena_new();
	D = dr_diags_new();
	rc = dr_plan_load(A, file, NULL, D, &p);
	if (rc)
		fprintf(stderr, "load %s: %d\n", file, rc);
	return p;
}

static int load_text_rc(const char *file, const char *text, dr_plan **p)
{
	dr_arena_free(A);
	dr_diags_free(D);
	A = dr_arena_new();
	D = dr_diags_new();
	return dr_plan_load_text(A, file, text, strlen(text), NULL, D, p);
}

static dr_plan *load_text(const char *file, const char *text)
{
	dr_plan *p = NULL;

	if (load_text_rc(file, text, &p))
		fprintf(stderr, "load_text %s failed\n", file);
	return p;
}

static void dump_diags(void)
{
	size_t i;

	for (i = 0; i < dr_diags_len(D); i++) {
		const dr_diag *g = dr_diags_get(D, i);

		fprintf(stderr, "  %s:%d:%d: %s: %s [%s]%s%s\n",
			g->file ? g->file : "-", g->line, g->col,
			dr_severity_name(g->severity), g->message, g->rule,
			g->note ? " note: " : "", g->note ? g->note : "");
	}
}

/* "file:line:col rule" of a node or diagnostic, for compact checks. */
static char posbuf[8][256];
static int posidx;

static const char *pos(const dr_ynode *n)
{
	char *b = posbuf[posidx++ & 7];

	if (!n)
		return "(none)";
	snprintf(b, 256, "%s:%d:%d", n->file, n->line, n->col);
	return b;
}

static const char *diag_str(size_t i)
{
	const dr_diag *g = dr_diags_get(D, i);
	char *b = posbuf[posidx++ & 7];

	if (!g)
		return "(no diagnostic)";
	snprintf(b, 256, "%s:%d:%d: %s: %s [%s]", g->file ? g->file : "-",
		 g->line, g->col, dr_severity_name(g->severity), g->message,
		 g->rule);
	return b;
}

static const char *note_of(size_t i)
{
	const dr_diag *g = dr_diags_get(D, i);

	return g && g->note ? g->note : "(no note)";
}

static const dr_machine *machine(const dr_plan *p, const char *name)
{
	long i = dr_plan_find_machine(p, name);

	return i < 0 ? NULL : &p->machines[i];
}

/* ---- enums and names ---- */

TEST(names)
{
	dr_operation op = DR_OP_DRILL;

	CHECK_STR(dr_operation_name(DR_OP_FAILBACK), "failback");
	CHECK_STR(dr_operation_name(DR_OP_REPROTECT), "reprotect");
	CHECK_INT(dr_operation_parse("commit", &op), 0);
	CHECK_INT(op, DR_OP_COMMIT);
	CHECK_INT(dr_operation_parse("cleanup", &op), DR_EINVAL);
	CHECK_INT(dr_operation_parse("Drill", &op), DR_EINVAL);
	CHECK_STR(dr_direction_name(DR_DIR_TO_ONPREM), "to-onprem");
	CHECK_STR(dr_direction_name(DR_DIR_ANY), "any");
	CHECK_INT(dr_operation_direction(DR_OP_DRILL), DR_DIR_TO_AZURE);
	CHECK_INT(dr_operation_direction(DR_OP_REPROTECT), DR_DIR_TO_ONPREM);
	CHECK_INT(dr_operation_direction(DR_OP_FAILBACK), DR_DIR_TO_ONPREM);
	CHECK_STR(dr_rp_kind_name(DR_RP_LATEST_APP_CONSISTENT),
		  "latest-app-consistent");
	CHECK_STR(dr_rp_kind_name(DR_RP_CUSTOM), "custom");
}

/* ---- example plans ---- */

TEST(small_example)
{
	dr_plan *p = load("plans/small.yaml");
	const dr_machine *dc, *fs;

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_INT(dr_diags_len(D), 0);
	dump_diags();
	CHECK_STR(p->name.v, "small");
	CHECK_STR(p->api_version.v, "drplan/v1");
	CHECK_STR(p->dir, "plans");
	CHECK_STR(p->provider.v, "sim");
	CHECK_INT(p->nmachines, 2);
	CHECK_INT(p->ngroups, 1);
	/* Built-in defaults: stated nowhere. */
	CHECK_INT(p->rp.kind, DR_RP_LATEST_PROCESSED);
	CHECK(p->rp.at == NULL);
	CHECK_INT(p->concurrency.v, 10);
	CHECK(p->concurrency.at == NULL);
	CHECK_INT(p->shutdown_source.v, 1);
	CHECK(p->commit_gate.at == NULL);
	CHECK(p->drill.at == NULL);
	CHECK_STR(p->drill.timezone.v, "UTC");

	dc = machine(p, "dc01");
	fs = machine(p, "files01");
	CHECK(dc && fs);
	if (!dc || !fs)
		return;
	CHECK_INT(dc->from_inventory, 0);
	CHECK_INT(dc->source.boot, DR_BOOT_UEFI);
	CHECK_STR(pos(dc->source.boot_at), "plans/small.yaml:33:13");
	CHECK_STR(dc->source.mobility_agent.v, "9.56");
	CHECK_INT(dc->source.ndisks, 1);
	CHECK_INT(dc->source.disks[0].role, DR_DISK_OS);
	CHECK_INT(dc->source.disks[0].size_gib.v, 128);
	CHECK_STR(dc->source.disks[0].type.v, "basic");
	CHECK(dc->source.disks[0].type.at == NULL);
	CHECK_STR(dc->target.ip.v, "10.30.0.10");
	/* Target name defaults to the machine name. */
	CHECK_STR(dc->target.name.v, "dc01");
	/* From defaults.target. */
	CHECK_STR(fs->target.size.v, "Standard_D2s_v4");
	CHECK_STR(pos(fs->target.size.at), "plans/small.yaml:19:11");
	CHECK_STR(fs->target.subnet.v, "servers");
	CHECK(fs->target.ip.v == NULL);
	CHECK_INT(fs->source.ndisks, 2);
	CHECK_INT(fs->source.disks[1].role, DR_DISK_DATA);
	CHECK(fs->source.disks[1].role_at == NULL);
	CHECK_INT(fs->source.nics[0].dhcp.v, 1);
	CHECK_INT(fs->critical.v, 1);
	CHECK(fs->critical.at == NULL);
	CHECK_INT(fs->group, 0);
	CHECK_INT(p->groups[0].nafter, 0);
	CHECK_INT(p->groups[0].after_explicit, 0);
	CHECK_INT(p->groups[0].nmachines, 2);
	CHECK_INT(p->groups[0].machines[1], 1);
	CHECK_INT(p->groups[0].concurrency.v, 0);
	CHECK_INT(p->nnetworks, 1);
	CHECK_INT(p->networks[0].nsubnets, 1);
	CHECK_INT(p->networks[0].subnets[0].addr, 0x0a1e0000u);
	CHECK_INT(p->networks[0].subnets[0].mask, 0xffffffc0u);
	CHECK_INT(dr_plan_find_group(p, "all"), 0);
	CHECK_INT(dr_plan_find_group(p, "none"), -1);
	CHECK_INT(dr_plan_find_machine(p, "files01"), 1);
	CHECK_INT(dr_plan_find_machine(p, "files02"), -1);
}

TEST(erp_example)
{
	dr_plan *p = load("plans/erp.yaml");
	const dr_machine *sql01, *app01, *web02;
	const dr_group *g;
	const dr_action *act;

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_INT(dr_diags_count(D, DR_SEV_ERROR), 0);
	dump_diags();
	CHECK_INT(p->nmachines, 6);
	CHECK_INT(p->ngroups, 3);
	CHECK_STR(p->inventory.v, "inventory/erp.json");
	CHECK_INT(p->concurrency.v, 4);

	sql01 = machine(p, "sql01");
	app01 = machine(p, "app01");
	web02 = machine(p, "web02");
	CHECK(sql01 && app01 && web02);
	if (!sql01 || !app01 || !web02)
		return;

	/* Facts from the inventory point into the inventory file. */
	CHECK_INT(sql01->from_inventory, 1);
	CHECK_STR(sql01->source.os_version.v, "Windows Server 2019 Datacenter");
	CHECK_STR(pos(sql01->source.os_version.at),
		  "plans/inventory/erp.json:27:21");
	CHECK_INT(sql01->source.os, DR_OS_WINDOWS);
	CHECK_INT(sql01->source.cpus.v, 8);
	CHECK(sql01->source.memory_gib.v == 48.0);
	CHECK_STR(sql01->source.mobility_agent.v, "9.56.6879.1");
	CHECK_INT(sql01->source.dhcp_service.v, 1);
	CHECK_INT(sql01->source.boot_drivers.n, 5);
	CHECK_STR(sql01->source.vsphere.v, "7.0");
	CHECK_INT(sql01->source.ndisks, 3);
	CHECK_STR(sql01->source.disks[0].name.v, "sql01_disk0");
	CHECK_INT(sql01->source.disks[0].role, DR_DISK_OS);
	CHECK_INT(sql01->source.disks[0].size_gib.v, 128);
	CHECK_STR(pos(sql01->source.disks[0].size_gib.at),
		  "plans/inventory/erp.json:40:34");
	CHECK_INT(sql01->source.disks[1].size_gib.v, 1024);
	CHECK_STR(sql01->source.disks[1].filesystem.v, "ntfs");
	CHECK_STR(sql01->source.disks[1].target_type.v, "Premium_LRS");
	CHECK_INT(sql01->source.nnics, 1);
	CHECK_STR(sql01->source.nics[0].ip.v, "192.168.10.11");
	CHECK_INT(sql01->source.nics[0].dhcp.v, 0);
	CHECK_INT(sql01->target.nnics, 1);
	CHECK_INT(sql01->target.nics[0].primary.v, 1);
	CHECK_STR(sql01->target.nics[0].name.v, "sql01-dr-nic0");
	/* The primary NIC follows the machine's ip and subnet when those come
	 * from a higher layer than the inventory's vmNics. */
	CHECK_STR(pos(sql01->target.nics[0].ip.at), "plans/erp.yaml:61:11");
	CHECK_STR(pos(sql01->target.nics[0].subnet.at), "plans/erp.yaml:60:26");

	/* Precedence: machine > defaults > inventory > built-in. */
	CHECK_STR(sql01->target.name.v, "sql01-dr");           /* inventory */
	CHECK_STR(sql01->target.size.v, "Standard_E8s_v3");    /* inventory */
	CHECK_STR(pos(sql01->target.size.at), "plans/inventory/erp.json:71:27");
	CHECK_STR(sql01->target.resource_group.v, "rg-erp-dr"); /* defaults */
	CHECK_STR(pos(sql01->target.resource_group.at), "plans/erp.yaml:28:20");
	CHECK_STR(sql01->target.subnet.v, "data");              /* machine */
	CHECK_STR(pos(sql01->target.subnet.at), "plans/erp.yaml:60:26");
	CHECK_STR(app01->target.subnet.v, "app");               /* defaults */
	CHECK_STR(pos(app01->target.subnet.at), "plans/erp.yaml:29:43");
	CHECK_STR(app01->target.ip.v, "10.20.2.21");            /* inventory */
	CHECK_STR(pos(app01->target.ip.at), "plans/inventory/erp.json:259:34");
	CHECK(app01->target.nics[0].ip.at == app01->target.ip.at);
	CHECK(app01->target.nics[0].subnet.at == app01->target.subnet.at);
	CHECK_STR(app01->target.vnet.v, "vnet-erp-dr");
	CHECK_INT(app01->source.os, DR_OS_LINUX);
	CHECK_STR(app01->source.kernel.v, "5.4.0-150-generic");
	CHECK_STR(app01->source.disks[1].filesystem.v, "xfs");
	CHECK_INT(web02->critical.v, 0);
	CHECK_STR(pos(web02->critical.at), "plans/erp.yaml:76:15");
	CHECK_INT(web02->source.boot, DR_BOOT_UEFI);
	CHECK_INT(web02->source.secure_boot.v, 0);
	CHECK(web02->source.secure_boot.at != NULL);

	/* Recovery points: override and plan default. */
	CHECK_INT(dr_machine_rp(p, sql01)->kind, DR_RP_LATEST_APP_CONSISTENT);
	CHECK_STR(pos(dr_machine_rp(p, sql01)->at), "plans/erp.yaml:58:20");
	CHECK_INT(dr_machine_rp(p, app01)->kind, DR_RP_LATEST_PROCESSED);
	CHECK(dr_machine_rp(p, app01) == &p->rp);
	CHECK(p->rp.at != NULL);

	/* Groups: after indexes, implicit and explicit. */
	CHECK_INT(p->groups[0].nafter, 0);
	CHECK_INT(p->groups[1].nafter, 1);
	CHECK_INT(p->groups[1].after[0], 0);
	CHECK_INT(p->groups[1].after_explicit, 1);
	CHECK_INT(p->groups[2].nafter, 1);
	CHECK_INT(p->groups[2].after[0], 1);
	CHECK_INT(p->groups[2].after_explicit, 0);
	CHECK(p->groups[2].after_at == NULL);
	CHECK_INT(sql01->group, 0);
	CHECK_INT(web02->group, 2);

	/* Actions: stated values and defaults. */
	g = &p->groups[0];
	CHECK_INT(g->npost, 1);
	act = &g->post[0];
	CHECK_INT(act->kind, DR_ACTION_LUA);
	CHECK_STR(act->name.v, "check-sql");
	CHECK(act->name.at == NULL);
	CHECK_INT(act->timeout.ms, 5 * 60 * 1000);
	CHECK_INT(act->on, DR_ON_DRILL | DR_ON_FAILOVER | DR_ON_FAILBACK);
	CHECK_INT(act->direction, DR_DIR_ANY);
	CHECK_INT(act->on_failure, DR_FAIL_GROUP);
	CHECK(act->args != NULL && act->args->kind == DR_YNODE_MAP);
	CHECK_INT(act->env.n, 1);
	CHECK_STR(act->env.v[0], "SQL_MONITOR_TOKEN");
	g = &p->groups[1];
	CHECK_INT(g->npre, 1);
	act = &g->pre[0];
	CHECK_INT(act->kind, DR_ACTION_MANUAL);
	CHECK_STR(act->name.v, "stop-batch");
	CHECK_INT(act->on, DR_ON_FAILOVER);
	CHECK_INT(act->direction, DR_DIR_TO_AZURE);
	CHECK_INT(act->timeout.ms, 0);
	act = &g->post[0];
	CHECK_STR(act->name.v, "health-check");
	CHECK_INT(act->timeout.ms, 10 * 60 * 1000);
	CHECK(act->timeout.at == NULL);
	CHECK_INT(act->on, DR_ON_ALL);
	CHECK(act->on_at == NULL);
	act = &p->groups[2].post[0];
	CHECK_STR(act->name.v, "web-health");
	CHECK_INT(act->on_failure, DR_FAIL_WARN);
	CHECK_INT(act->timeout.ms, 2 * 60 * 1000);

	/* Gate, drill, networks. */
	CHECK(p->commit_gate.at != NULL);
	CHECK_INT(p->commit_gate.approvals.v, 1);
	CHECK_INT(p->commit_gate.approvers.n, 2);
	CHECK_STR(p->commit_gate.approvers.v[1], "keys/dba.pub");
	CHECK_INT(p->commit_gate.checks,
		  DR_CHECK_CRITICAL_HEALTHY | DR_CHECK_POST_HOOKS);
	CHECK_INT(p->commit_gate.timeout.ms, 2ull * 3600 * 1000);
	CHECK_INT(p->commit_gate.on_timeout, DR_TIMEOUT_WAIT);
	CHECK(p->failback_gate.at == NULL);
	CHECK_STR(p->drill.schedule.v, "0 3 * * SAT");
	CHECK_STR(p->drill.timezone.v, "Europe/Berlin");
	CHECK_STR(p->drill.vnet.v, "vnet-erp-drill");
	CHECK_INT(p->drill.rto.ms, 45 * 60 * 1000);
	CHECK_INT(p->drill.rpo.ms, 15 * 60 * 1000);
	CHECK_INT(p->drill.cleanup_after.ms, 3600 * 1000);
	CHECK_STR(p->drill.manual_policy.v, "auto-approve");
	CHECK_INT(p->nnetworks, 2);
	CHECK_INT(p->networks[1].isolated, 1);
	CHECK_INT(p->networks[0].address_space.n, 1);
	CHECK_STR(p->networks[0].address_space.v[0], "10.20.0.0/16");
	CHECK_INT(p->networks[0].subnets[2].addr, 0x0a140300u);
	CHECK_INT(p->networks[0].subnets[2].mask, 0xffffff00u);
}

TEST(failback_example)
{
	dr_plan *p = load("plans/failback.yaml");
	const dr_action *act;

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_INT(dr_diags_count(D, DR_SEV_ERROR), 0);
	dump_diags();
	CHECK_INT(p->shutdown_source.v, 0);
	CHECK_INT(p->machines[0].shutdown_source.v, 0);
	CHECK(p->failback_gate.at != NULL);
	CHECK_INT(p->failback_gate.approvals.v, 2);
	CHECK_INT(p->failback_gate.checks,
		  DR_CHECK_ALL_HEALTHY | DR_CHECK_POST_HOOKS);
	CHECK_INT(p->failback_gate.on_timeout, DR_TIMEOUT_FAIL);
	CHECK_INT(p->failback_gate.timeout.ms, 4ull * 3600 * 1000);
	CHECK_INT(p->commit_gate.checks, DR_CHECK_CRITICAL_HEALTHY);
	act = &p->groups[0].pre[0];
	CHECK_INT(act->on, DR_ON_REPROTECT | DR_ON_FAILBACK);
	CHECK_INT(act->direction, DR_DIR_TO_ONPREM);
	act = &p->groups[0].post[0];
	CHECK_INT(act->on, DR_ON_FAILBACK);
	CHECK_STR(act->name.v, "check-sql");
	act = &p->groups[2].post[0];
	CHECK_STR(act->name.v, "dns-back");
	CHECK_INT(act->on_failure, DR_FAIL_WARN);
}

/* ---- layered defaults, durations, recovery points ---- */

TEST(defaults_and_overrides)
{
	dr_plan *p = load_text("t/defaults.yaml",
		"apiVersion: drplan/v1\n"
		"kind: RecoveryPlan\n"
		"metadata: { name: t }\n"
		"defaults:\n"
		"  recoveryPoint: { id: rp-2026-11-20 }\n"
		"  critical: false\n"
		"  shutdownSource: false\n"
		"  target: { size: Standard_D2s_v4, acceleratedNetworking: true }\n"
		"machines:\n"
		"  - name: a\n"
		"    critical: true\n"
		"    target: { size: Standard_D4s_v4, availabilityZone: 2 }\n"
		"    pre:\n"
		"      - manual: first\n"
		"      - manual: second\n"
		"        timeout: 1h30m\n"
		"  - name: b\n"
		"    recoveryPoint: latest\n"
		"    source: { mobilityAgent: 9.50, vsphere: 7.0, memoryGiB: 16 }\n"
		"groups:\n"
		"  - name: one\n"
		"    machines: [a]\n"
		"    concurrency: 3\n"
		"    post: [{ manual: third }, { lua: hooks/x.lua, timeout: 90s }]\n"
		"  - name: two\n"
		"    after: []\n"
		"    machines: [b, a]\n");
	const dr_machine *a, *b;

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_INT(dr_diags_len(D), 0);
	dump_diags();
	a = &p->machines[0];
	b = &p->machines[1];
	CHECK_INT(p->rp.kind, DR_RP_CUSTOM);
	CHECK_STR(p->rp.id, "rp-2026-11-20");
	CHECK_STR(pos(p->rp.at), "t/defaults.yaml:5:18");
	CHECK_INT(dr_machine_rp(p, a)->kind, DR_RP_CUSTOM);
	CHECK_INT(dr_machine_rp(p, b)->kind, DR_RP_LATEST);
	CHECK_INT(a->critical.v, 1);
	CHECK_STR(pos(a->critical.at), "t/defaults.yaml:11:15");
	CHECK_INT(b->critical.v, 0);
	CHECK_STR(pos(b->critical.at), "t/defaults.yaml:6:13");
	CHECK_INT(a->shutdown_source.v, 0);
	CHECK_STR(a->target.size.v, "Standard_D4s_v4");
	CHECK_STR(b->target.size.v, "Standard_D2s_v4");
	CHECK_INT(b->target.accelerated_networking.v, 1);
	CHECK_STR(a->target.availability_zone.v, "2");
	/* Numbers YAML reads as floats keep their spelling. */
	CHECK_STR(b->source.mobility_agent.v, "9.50");
	CHECK_STR(b->source.vsphere.v, "7.0");
	CHECK(b->source.memory_gib.v == 16.0);
	/* Manual actions are numbered across the plan in file order. */
	CHECK_STR(a->pre[0].name.v, "manual-1");
	CHECK_STR(a->pre[1].name.v, "manual-2");
	CHECK_INT(a->pre[1].timeout.ms, 90 * 60 * 1000);
	CHECK_STR(p->groups[0].post[0].name.v, "manual-3");
	CHECK_STR(p->groups[0].post[1].name.v, "x");
	CHECK_INT(p->groups[0].post[1].timeout.ms, 90 * 1000);
	CHECK_INT(p->groups[0].concurrency.v, 3);
	/* after: [] means "start at once", not "the group before". */
	CHECK_INT(p->groups[1].after_explicit, 1);
	CHECK_INT(p->groups[1].nafter, 0);
	/* A machine's group is the first that holds it. */
	CHECK_INT(a->group, 0);
	CHECK_INT(b->group, 1);
	CHECK_INT(p->groups[1].nmachines, 2);
}

TEST(machine_in_no_group)
{
	dr_plan *p = load_text("t/nogroup.yaml",
		"apiVersion: drplan/v1\nkind: RecoveryPlan\nmetadata: { name: t }\n"
		"machines: [{ name: a }, { name: b }]\n"
		"groups: [{ name: g, machines: [a] }]\n");

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_INT(p->machines[1].group, (size_t)-1);
}

/* ---- reference errors ---- */

TEST(unknown_machine_and_group)
{
	dr_plan *p = load_text("t/refs.yaml",
		"apiVersion: drplan/v1\n"
		"kind: RecoveryPlan\n"
		"metadata: { name: t }\n"
		"machines: [{ name: app01 }, { name: web01 }]\n"
		"groups:\n"
		"  - name: app\n"
		"    machines: [app01, app-01, zzz]\n"
		"  - name: web\n"
		"    after: [aps, nothing-like-it]\n"
		"    machines: [web01]\n");

	CHECK(p != NULL); /* reference errors do not stop the model */
	if (!p)
		return;
	dr_diags_sort(D);
	CHECK_INT(dr_diags_len(D), 4);
	CHECK_STR(diag_str(0), "t/refs.yaml:7:23: error: group \"app\" names "
		  "machine \"app-01\", which is not in machines "
		  "[PLAN-UNKNOWN-MACHINE]");
	CHECK_STR(note_of(0), "did you mean \"app01\"?");
	CHECK_STR(diag_str(1), "t/refs.yaml:7:31: error: group \"app\" names "
		  "machine \"zzz\", which is not in machines "
		  "[PLAN-UNKNOWN-MACHINE]");
	CHECK_STR(note_of(1), "(no note)");
	CHECK_STR(diag_str(2), "t/refs.yaml:9:13: error: group \"web\" waits "
		  "for group \"aps\", which is not in groups "
		  "[PLAN-UNKNOWN-GROUP]");
	CHECK_STR(note_of(2), "did you mean \"app\"?");
	CHECK_STR(diag_str(3), "t/refs.yaml:9:18: error: group \"web\" waits "
		  "for group \"nothing-like-it\", which is not in groups "
		  "[PLAN-UNKNOWN-GROUP]");
	CHECK_STR(dr_diags_get(D, 0)->path, "/groups/0/machines/1");
	CHECK_INT(p->groups[0].nmachines, 1);
	CHECK_INT(p->groups[1].nafter, 0);
}

TEST(inventory_errors)
{
	dr_plan *p = load_text("plans/t-inv.yaml",
		"apiVersion: drplan/v1\n"
		"kind: RecoveryPlan\n"
		"metadata: { name: t }\n"
		"target: { inventory: inventory/erp.json }\n"
		"machines:\n"
		"  - name: db\n"
		"    inventoryId: sql03\n"
		"  - name: app9\n"
		"  - name: web9\n"
		"    source: { os: linux }\n"
		"  - name: web01\n"
		"groups: [{ name: g, machines: [db, app9, web9, web01] }]\n");

	CHECK(p != NULL);
	if (!p)
		return;
	dr_diags_sort(D);
	CHECK_INT(dr_diags_len(D), 2);
	CHECK_STR(diag_str(0), "plans/t-inv.yaml:7:18: error: inventory item "
		  "\"sql03\" is not in plans/inventory/erp.json: fix inventoryId "
		  "(an item's friendlyName) or export the inventory again "
		  "[INV-NOT-FOUND]");
	CHECK_STR(note_of(0), "did you mean \"sql01\"?");
	CHECK_STR(diag_str(1), "plans/t-inv.yaml:8:11: error: machine \"app9\" "
		  "is not in plans/inventory/erp.json and states no source "
		  "facts: set inventoryId to its item's friendlyName, or state "
		  "source: in the plan [INV-NOT-FOUND]");
	/* A machine with its own source facts may be absent (web9). */
	CHECK_INT(p->machines[2].from_inventory, 0);
	CHECK_INT(p->machines[2].source.os, DR_OS_LINUX);
	CHECK_INT(p->machines[3].from_inventory, 1);
	CHECK_STR(p->machines[3].target.size.v, "Standard_D2s_v4");

	/* Skipping the inventory: no facts, no errors. */
	{
		dr_plan_load_opts o = { .no_inventory = true };
		const char *t = "apiVersion: drplan/v1\nkind: RecoveryPlan\n"
				"metadata: { name: t }\n"
				"target: { inventory: nope.json }\n"
				"machines: [{ name: a }]\n"
				"groups: [{ name: g, machines: [a] }]\n";

		dr_arena_free(A);
		dr_diags_free(D);
		A = dr_arena_new();
		D = dr_diags_new();
		CHECK_INT(dr_plan_load_text(A, "x.yaml", t, strlen(t), &o, D,
					    &p), 0);
		CHECK_INT(dr_diags_len(D), 0);
	}
}

TEST(inventory_unreadable)
{
	dr_plan *p = NULL;
	int rc = load_text_rc("plans/t-inv.yaml",
		"apiVersion: drplan/v1\n"
		"kind: RecoveryPlan\n"
		"metadata: { name: t }\n"
		"target:\n"
		"  inventory: inventory/missing.json\n"
		"machines: [{ name: a }]\n"
		"groups: [{ name: g, machines: [a] }]\n", &p);

	/* An I/O failure, like an unreadable plan: no model. */
	CHECK_INT(rc, DR_EIO);
	CHECK(p == NULL);
	CHECK_INT(dr_diags_len(D), 1);
	CHECK_STR(diag_str(0), "plans/t-inv.yaml:5:14: error: cannot read "
		  "inventory plans/inventory/missing.json: No such file or "
		  "directory [INV-READ]");
}

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

TEST(inventory_duplicate_and_positions)
{
	char plan[256];
	dr_plan *p;
	const dr_machine *m;

	write_file("inv.json",
		"{\"apiVersion\": \"drplan/v1\", \"kind\": \"Inventory\",\n"
		" \"items\": [\n"
		"  {\"name\": \"g1\", \"properties\": {\"friendlyName\": \"vm1\",\n"
		"   \"providerSpecificDetails\": {\"instanceType\": \"InMageRcm\",\n"
		"    \"osType\": \"Linux\", \"firmwareType\": \"UEFI\",\n"
		"    \"discoveryType\": \"Physical\", \"allocatedMemoryInMB\": 3072,\n"
		"    \"protectedDisks\": [{\"diskName\": \"d0\", \"isOSDisk\": \"true\",\n"
		"      \"capacityInBytes\": 1610612736}],\n"
		"    \"vmNics\": [{\"nicId\": \"n0\", \"isPrimaryNic\": \"true\",\n"
		"      \"sourceIPAddressType\": \"Dynamic\", \"targetSubnetName\": \"s1\",\n"
		"      \"targetIPAddress\": \"10.0.0.9\"}],\n"
		"    \"targetResourceGroupId\": \"/subscriptions/x/resourceGroups/rg-x\"}},\n"
		"   \"drplan\": {\"nics\": [{\"nicId\": \"n0\", \"teamed\": true}]}},\n"
		"  {\"name\": \"g2\", \"properties\": {\"friendlyName\": \"vm1\"}},\n"
		"  {\"name\": \"vm2\", \"properties\": {}}\n"
		" ]}\n");
	write_file("plan.yaml",
		"apiVersion: drplan/v1\n"
		"kind: RecoveryPlan\n"
		"metadata: { name: t }\n"
		"target: { inventory: inv.json }\n"
		"machines:\n"
		"  - name: vm1\n"
		"    source: { disks: [{ role: os, sizeGiB: 64 }] }\n"
		"    target: { nics: [{ subnet: s2 }] }\n"
		"  - name: vm2\n"
		"groups: [{ name: g, machines: [vm1, vm2] }]\n");
	snprintf(plan, sizeof(plan), "%s/plan.yaml", tmpdir);
	p = load(plan);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_INT(dr_diags_len(D), 1);
	{
		const dr_diag *g = dr_diags_get(D, 0);
		char want[256];

		snprintf(want, sizeof(want), "%s/inv.json", tmpdir);
		CHECK(g != NULL);
		if (g) {
			CHECK_STR(g->rule, "INV-DUPLICATE");
			CHECK_STR(g->file, want);
			CHECK_INT(g->line, 14);
			CHECK_INT(g->col, 49);
			CHECK_STR(g->message,
				  "two inventory items are named \"vm1\"");
			CHECK_STR(g->note, "the first one is at line 3");
		}
	}
	m = machine(p, "vm1");
	CHECK(m != NULL);
	if (!m)
		return;
	CHECK_INT(m->from_inventory, 1);
	CHECK_INT(m->source.os, DR_OS_LINUX);
	CHECK_INT(m->source.boot, DR_BOOT_UEFI);
	CHECK_INT(m->source.kind, DR_SRC_PHYSICAL);
	CHECK_INT(m->source.os_at->line, 5);
	CHECK(m->source.memory_gib.v == 3.0);
	/* The plan's disk list replaces the inventory's wholesale. */
	CHECK_INT(m->source.ndisks, 1);
	CHECK_INT(m->source.disks[0].size_gib.v, 64);
	CHECK_INT(m->source.disks[0].at->line, 7);
	/* NICs still come from the inventory; target NICs from the plan. */
	CHECK_INT(m->source.nnics, 1);
	CHECK_INT(m->source.nics[0].dhcp.v, 1);
	CHECK_INT(m->source.nics[0].teamed.v, 1);
	CHECK_INT(m->source.nics[0].teamed.at->line, 13);
	CHECK_INT(m->target.nnics, 1);
	CHECK_STR(m->target.nics[0].subnet.v, "s2");
	/* The primary NIC's target subnet and IP are the machine's. */
	CHECK_STR(m->target.subnet.v, "s1");
	CHECK_STR(m->target.ip.v, "10.0.0.9");
	CHECK_STR(m->target.resource_group.v, "rg-x");
	/* A machine matched by the item's name when it has no friendlyName. */
	m = machine(p, "vm2");
	CHECK(m && m->from_inventory);

	/* The rounding of capacityInBytes: 1.5 GiB needs 2 GiB. */
	write_file("plan2.yaml",
		"apiVersion: drplan/v1\nkind: RecoveryPlan\nmetadata: { name: t }\n"
		"target: { inventory: inv.json }\n"
		"machines: [{ name: vm1 }]\n"
		"groups: [{ name: g, machines: [vm1] }]\n");
	snprintf(plan, sizeof(plan), "%s/plan2.yaml", tmpdir);
	p = load(plan);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_INT(p->machines[0].source.ndisks, 1);
	CHECK_INT(p->machines[0].source.disks[0].size_gib.v, 2);
	CHECK_INT(p->machines[0].source.disks[0].role, DR_DISK_OS);
	CHECK_INT(p->machines[0].source.disks[0].size_gib.at->line, 8);
}

/* ---- file and syntax errors ---- */

TEST(file_errors)
{
	dr_plan *p = (dr_plan *)1;
	int rc;

	dr_arena_free(A);
	dr_diags_free(D);
	A = dr_arena_new();
	D = dr_diags_new();
	rc = dr_plan_load(A, "plans/does-not-exist.yaml", NULL, D, &p);
	CHECK_INT(rc, DR_EIO);
	CHECK(p == NULL);
	CHECK_STR(diag_str(0), "plans/does-not-exist.yaml:0:0: error: cannot "
		  "read plans/does-not-exist.yaml: No such file or directory "
		  "[PLAN-READ]");

	rc = dr_plan_load_text(A, "big.yaml", "x", (size_t)65 << 20, NULL, D,
			       &p);
	CHECK_INT(rc, DR_EINVAL);
	CHECK_STR(diag_str(1), "big.yaml:0:0: error: big.yaml is larger than "
		  "64 MiB [PLAN-READ]");

	rc = load_text_rc("bad.yaml", "a: [1, 2\n", &p);
	CHECK_INT(rc, DR_EINVAL);
	CHECK(p == NULL);
	CHECK(dr_diags_len(D) >= 1);
	CHECK(dr_diags_get(D, 0) &&
	      !strncmp(dr_diags_get(D, 0)->rule, "YAML-", 5));
}

/* Whatever the tree, the builder must not crash (the schema may be off). */
TEST(wrong_types_do_not_crash)
{
	static const char *const texts[] = {
		"",
		"[]",
		"42",
		"machines: 3\ngroups: {}\n",
		"machines: [1, [2], { name: [x] }, { name: a, source: 1, "
		"target: [] }]\ngroups: [3, { name: 4, machines: [5, a], "
		"after: [6, x] }]\n",
		"machines: [{ name: a, pre: [1, {lua: 2}, {}] }]\n"
		"groups: [{ machines: [a], post: {} }]\n"
		"gates: { commit: [], failbackCommit: { checks: [1] } }\n"
		"drill: { objectives: 1, cleanup: { after: 5x } }\n"
		"networks: [{ subnets: [{ prefix: 10.0.0.1/8 }, 3] }, 4]\n",
	};
	size_t i;

	for (i = 0; i < DR_ARRAY_SIZE(texts); i++) {
		dr_plan *p = NULL;

		(void)load_text_rc("w.yaml", texts[i], &p);
	}
	CHECK(1);
}

/* ---- schema errors ---- */

static int has_diag(const char *rule, int line, int col)
{
	size_t i;

	for (i = 0; i < dr_diags_len(D); i++) {
		const dr_diag *g = dr_diags_get(D, i);

		if (!strcmp(g->rule, rule) && g->line == line && g->col == col)
			return 1;
	}
	fprintf(stderr, "missing %s at %d:%d in:\n", rule, line, col);
	dump_diags();
	return 0;
}

TEST(schema_errors)
{
	dr_plan *p = NULL;
	int rc = load_text_rc("s.yaml",
		"apiVersion: drplan/v1\n"
		"kind: RecoveryPlan\n"
		"metadata:\n"
		"  name: Bad_Name\n"
		"machines:\n"
		"  - name: a\n"
		"    bogus: 1\n"
		"    critical: yes\n"
		"groups:\n"
		"  - machines: [a]\n"
		"    pre:\n"
		"      - { lua: x.lua, manual: both }\n"
		"      - { lua: y.lua, timeout: 5x }\n",
		&p);

	CHECK_INT(rc, DR_EINVAL);
	CHECK(p == NULL);
	dr_diags_sort(D);
	CHECK_INT(dr_diags_len(D), 6);
	CHECK_STR(diag_str(0), "s.yaml:4:9: error: must be 1 to 63 lowercase "
		  "letters, digits and hyphens, starting and ending with a "
		  "letter or digit [SCHEMA-PATTERN]");
	/* An unknown key points at the key, not its value. */
	CHECK_STR(diag_str(1), "s.yaml:7:5: error: unknown key \"bogus\" "
		  "[SCHEMA-UNKNOWN-KEY]");
	CHECK_STR(dr_diags_get(D, 1)->path, "/machines/0/bogus");
	/* YAML 1.2: "yes" is a string. */
	CHECK_STR(diag_str(2), "s.yaml:8:15: error: expected boolean, got "
		  "string \"yes\" [SCHEMA-TYPE]");
	/* required points at the mapping. */
	CHECK_STR(diag_str(3), "s.yaml:10:5: error: missing required key "
		  "\"name\" [SCHEMA-REQUIRED]");
	/* Neither or both of lua/manual: one clear error. */
	CHECK_STR(diag_str(4), "s.yaml:12:9: error: an action has exactly one "
		  "of \"lua\" (a hook file) or \"manual\" (an instruction) "
		  "[SCHEMA-ONEOF]");
	CHECK_STR(diag_str(5), "s.yaml:13:32: error: must be a duration such "
		  "as 90s, 5m, 1h30m or 2d (units d, h, m, s, ms, largest "
		  "first) [SCHEMA-PATTERN]");
	CHECK(has_diag("SCHEMA-PATTERN", 4, 9));

	rc = load_text_rc("s2.yaml",
		"apiVersion: drplan/v1\nkind: RecoveryPlan\nmetadata: { name: t }\n"
		"target: { provider: azure, vault: v }\n"
		"machines: [{ name: a }]\ngroups: [{ name: g, machines: [a] }]\n",
		&p);
	CHECK_INT(rc, DR_EINVAL);
	dr_diags_sort(D);
	CHECK_INT(dr_diags_len(D), 3);
	CHECK_STR(diag_str(0), "s2.yaml:4:9: error: missing required key "
		  "\"location\" [SCHEMA-REQUIRED]");

	/* Neither lua nor manual, and a custom format the schema checks. */
	rc = load_text_rc("s3.yaml",
		"apiVersion: drplan/v1\nkind: RecoveryPlan\nmetadata: { name: t }\n"
		"networks: [{ name: n, addressSpace: [10.0.0.1/8] }]\n"
		"machines: [{ name: a, post: [{ name: x }] }]\n"
		"groups: [{ name: g, machines: [a] }]\n",
		&p);
	CHECK_INT(rc, DR_EINVAL);
	dr_diags_sort(D);
	CHECK_INT(dr_diags_len(D), 2);
	CHECK_STR(dr_diags_get(D, 0) ? dr_diags_get(D, 0)->rule : "",
		  "SCHEMA-FORMAT");
	CHECK_INT(dr_diags_get(D, 0) ? dr_diags_get(D, 0)->line : 0, 4);
	CHECK_INT(dr_diags_get(D, 0) ? dr_diags_get(D, 0)->col : 0, 38);
	CHECK_STR(diag_str(1), "s3.yaml:5:30: error: an action has exactly one "
		  "of \"lua\" (a hook file) or \"manual\" (an instruction) "
		  "[SCHEMA-ONEOF]");
}

TEST(inventory_schema_error)
{
	char plan[256];
	dr_plan *p;

	write_file("bad-inv.json",
		"{\"apiVersion\": \"drplan/v1\", \"kind\": \"Inventory\",\n"
		" \"items\": [ {\"name\": \"x\", \"properties\": {\n"
		"   \"providerSpecificDetails\": {\"osType\": \"Linux\"}}} ]}\n");
	write_file("plan3.yaml",
		"apiVersion: drplan/v1\nkind: RecoveryPlan\nmetadata: { name: t }\n"
		"target: { inventory: bad-inv.json }\n"
		"machines: [{ name: vm1 }]\n"
		"groups: [{ name: g, machines: [vm1] }]\n");
	snprintf(plan, sizeof(plan), "%s/plan3.yaml", tmpdir);
	p = load(plan);
	CHECK(p != NULL);
	/* One error in the inventory, and no INV-NOT-FOUND cascade. */
	CHECK_INT(dr_diags_len(D), 1);
	if (dr_diags_len(D) == 1) {
		const dr_diag *g = dr_diags_get(D, 0);

		CHECK_STR(g->rule, "INV-SCHEMA");
		CHECK_INT(g->line, 3);
		CHECK_INT(g->col, 31);
		CHECK_STR(g->message, "missing required key \"instanceType\"");
	}
	CHECK(p && !p->machines[0].from_inventory);
}

/* Every example plan and inventory validates clean against the schemas. */
TEST(examples_validate_clean)
{
	static const char *const plans[] = { "plans/small.yaml",
					     "plans/erp.yaml",
					     "plans/failback.yaml" };
	size_t i;

	for (i = 0; i < DR_ARRAY_SIZE(plans); i++) {
		CHECK(load(plans[i]) != NULL);
		CHECK_INT(dr_diags_len(D), 0);
		if (dr_diags_len(D))
			dump_diags();
	}
}
/* ---- scale: nothing quadratic ---- */

TEST(ten_thousand_machines)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	dr_plan *p = NULL;
	size_t i;
	int rc;

	dr_strbuf_addstr(&sb, "apiVersion: drplan/v1\nkind: RecoveryPlan\n"
			      "metadata: { name: big }\nmachines:\n");
	for (i = 0; i < 10000; i++)
		dr_strbuf_addf(&sb, "  - { name: vm%05zu, source: { os: linux } }\n", i);
	dr_strbuf_addstr(&sb, "groups:\n");
	for (i = 0; i < 200; i++) {
		size_t j;

		dr_strbuf_addf(&sb, "  - name: g%03zu\n    machines: [", i);
		for (j = 0; j < 50; j++)
			dr_strbuf_addf(&sb, "%svm%05zu", j ? ", " : "",
				       (199 - i) * 50 + j);
		dr_strbuf_addstr(&sb, "]\n");
	}
	rc = load_text_rc("big.yaml", sb.buf, &p);
	dr_strbuf_release(&sb);
	CHECK_INT(rc, 0);
	if (!p)
		return;
	CHECK_INT(dr_diags_len(D), 0);
	CHECK_INT(p->nmachines, 10000);
	CHECK_INT(p->ngroups, 200);
	CHECK_INT(dr_plan_find_machine(p, "vm09999"), 9999);
	CHECK_INT(dr_plan_find_group(p, "g199"), 199);
	CHECK_INT(p->machines[0].group, 199);
	CHECK_INT(p->machines[9999].group, 0);
	CHECK_INT(p->groups[150].after[0], 149);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-plan-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(names);
	RUN(small_example);
	RUN(erp_example);
	RUN(failback_example);
	RUN(defaults_and_overrides);
	RUN(machine_in_no_group);
	RUN(unknown_machine_and_group);
	RUN(inventory_errors);
	RUN(inventory_unreadable);
	RUN(inventory_duplicate_and_positions);
	RUN(file_errors);
	RUN(wrong_types_do_not_crash);
	RUN(schema_errors);
	RUN(examples_validate_clean);
	RUN(inventory_schema_error);
	RUN(ten_thousand_machines);
	dr_arena_free(A);
	dr_diags_free(D);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	return test_summary();
}
