/*
 * test-rules.c - every rule in runner/rules/ with a triggering and a clean
 * case, pinning the rule id, severity and message. Plans are built by hand
 * (the loader is tested elsewhere); `at` nodes are hand-made where a test
 * pins a position.
 */
#include "core/arena.h"
#include "core/diag.h"
#include "core/parse.h"
#include "plan/plan.h"
#include "plan/ynode.h"
#include "rules/rules-int.h"
#include "rules/rules.h"
#include "rules/sizes.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static dr_arena *A;
static dr_plan *P;
static dr_diags *D;

static dr_ynode *node(int line, int col)
{
	dr_ynode *n = dr_arena_zalloc(A, sizeof(*n));

	n->kind = DR_YNODE_SCALAR;
	n->file = "plan.yaml";
	n->line = line;
	n->col = col;
	return n;
}

static dr_pstr S(const char *v)
{
	dr_pstr s = { v, NULL };

	return s;
}

static void disks(dr_machine *m, size_t n)
{
	size_t i;

	m->source.disks = dr_arena_zalloc(A, n * sizeof(dr_disk));
	m->source.ndisks = n;
	m->source.disks_at = node(90, 7);
	for (i = 0; i < n; i++) {
		m->source.disks[i].role = i ? DR_DISK_DATA : DR_DISK_OS;
		m->source.disks[i].size_gib.v = 128;
		m->source.disks[i].size_gib.at = node(91, 9);
	}
}

static void nics(dr_machine *m, size_t n)
{
	m->source.nics = dr_arena_zalloc(A, n * sizeof(dr_source_nic));
	m->source.nnics = n;
	m->target.nics = dr_arena_zalloc(A, n * sizeof(dr_target_nic));
	m->target.nnics = n;
}

/* A clean Windows Server 2019 machine on a D4s_v3 in vnet-dr/app. */
static void machine(size_t i, const char *name)
{
	dr_machine *m = &P->machines[i];

	m->name = S(name);
	m->source.kind = DR_SRC_VMWARE;
	m->source.os = DR_OS_WINDOWS;
	m->source.os_version = S("Windows Server 2019");
	m->source.arch = S("x64");
	m->source.boot = DR_BOOT_BIOS;
	m->source.mobility_agent = S("9.56");
	m->source.vsphere = S("7.0");
	m->source.memory_gib.v = 8;
	m->source.memory_gib.at = node(80, 5);
	disks(m, 2);
	nics(m, 1);
	m->target.resource_group = S("rg-dr");
	m->target.size = S("Standard_D4s_v3");
	m->target.size.at = node(100 + (int)i, 11);
	m->target.vnet = S("vnet-dr");
	m->target.subnet = S("app");
	m->target.disk_type = S("Premium_LRS");
}

static void setup(size_t n)
{
	size_t i;
	dr_network *net;

	A = dr_arena_new();
	P = dr_arena_zalloc(A, sizeof(*P));
	P->file = "plan.yaml";
	P->dir = ".";
	P->name = S("erp");
	P->location = S("westeurope");
	P->nmachines = n;
	P->machines = dr_arena_zalloc(A, (n + 1) * sizeof(dr_machine));
	for (i = 0; i < n; i++)
		machine(i, dr_arena_printf(A, "vm%zu", i + 1));
	P->ngroups = 1;
	P->groups = dr_arena_zalloc(A, sizeof(dr_group));
	P->groups[0].name = S("all");
	P->groups[0].nmachines = n;
	P->groups[0].machines = dr_arena_zalloc(A, (n + 1) * sizeof(size_t));
	for (i = 0; i < n; i++)
		P->groups[0].machines[i] = i;
	P->nnetworks = 1;
	P->networks = net = dr_arena_zalloc(A, sizeof(dr_network));
	net->name = S("vnet-dr");
	net->location = S("West Europe");
	net->address_space.v = dr_arena_zalloc(A, sizeof(char *));
	net->address_space.v[0] = "10.20.0.0/16";
	net->address_space.n = 1;
	net->nsubnets = 2;
	net->subnets = dr_arena_zalloc(A, 2 * sizeof(dr_network_subnet));
	net->subnets[0].name = S("app");
	net->subnets[0].prefix = S("10.20.1.0/24");
	net->subnets[1].name = S("data");
	net->subnets[1].prefix = S("10.20.2.0/24");
}

static void check(void)
{
	D = dr_diags_new();
	CHECK_INT(dr_rules_check(P, D), 0);
}

/* Rule ids some test has seen emitted, for the coverage check. */
static char seen[128][32];
static size_t nseen;

static void remember(void)
{
	size_t i, k;

	for (i = 0; D && i < dr_diags_len(D); i++) {
		const char *r = dr_diags_get(D, i)->rule;

		for (k = 0; k < nseen && strcmp(seen[k], r); k++)
			;
		if (k == nseen && nseen < 128 && strlen(r) < 32)
			strcpy(seen[nseen++], r);
	}
}

static void done(void)
{
	remember();
	dr_diags_free(D);
	dr_arena_free(A);
	D = NULL;
	A = NULL;
	P = NULL;
}

static size_t cnt(const char *rule)
{
	size_t i, n = 0;

	for (i = 0; i < dr_diags_len(D); i++)
		if (!strcmp(dr_diags_get(D, i)->rule, rule))
			n++;
	return n;
}

static const dr_diag *get(const char *rule)
{
	size_t i;

	for (i = 0; i < dr_diags_len(D); i++)
		if (!strcmp(dr_diags_get(D, i)->rule, rule))
			return dr_diags_get(D, i);
	return NULL;
}

/* The k-th (0-based) diagnostic of a rule, in the order they were added. */
static const dr_diag *nth(const char *rule, size_t k)
{
	size_t i;

	for (i = 0; i < dr_diags_len(D); i++)
		if (!strcmp(dr_diags_get(D, i)->rule, rule) && !k--)
			return dr_diags_get(D, i);
	return NULL;
}

static const char *nth_msg(const char *rule, size_t k)
{
	const dr_diag *g = nth(rule, k);

	return g ? g->message : "(none)";
}

/* Print what a failing test did get, to make fixing it quick. */
static void dump(void)
{
	size_t i;

	for (i = 0; i < dr_diags_len(D); i++) {
		const dr_diag *g = dr_diags_get(D, i);

		fprintf(stderr, "  %d:%d %s %s: %s\n", g->line, g->col,
			dr_severity_name(g->severity), g->rule, g->message);
	}
}

#define EXPECT(rule, sev, msg)                                                 \
	do {                                                                   \
		const dr_diag *g_ = get(rule);                                 \
		CHECK(g_ != NULL);                                             \
		if (g_) {                                                      \
			CHECK_INT(g_->severity, sev);                          \
			CHECK_STR(g_->message, msg);                           \
		} else {                                                       \
			dump();                                                \
		}                                                              \
	} while (0)
#define NONE(rule) CHECK_INT(cnt(rule), 0)
#define AT(rule, l, c)                                                         \
	do {                                                                   \
		const dr_diag *g_ = get(rule);                                 \
		CHECK(g_ != NULL);                                             \
		if (g_) {                                                      \
			CHECK_INT(g_->line, l);                                \
			CHECK_INT(g_->col, c);                                 \
		}                                                              \
	} while (0)

/*
 * Only the once-per-plan reminders, no errors or warnings (but the extra
 * failover time warning, which every VMware Linux machine gets).
 */
static void expect_clean(void)
{
	size_t before = (size_t)test_failed_checks;

	CHECK_INT(dr_diags_count(D, DR_SEV_ERROR), 0);
	CHECK_INT(dr_diags_count(D, DR_SEV_WARNING), cnt("AZ-FO-EXTRA-TIME"));
	if ((size_t)test_failed_checks != before)
		dump();
}

TEST(sizes_catalog)
{
	const dr_vm_size *s;
	size_t n;

	CHECK_INT(dr_sizes_load(), 0);
	dr_sizes_list(&n);
	CHECK_INT(n, 141);
	s = dr_size_find("standard_d4S_V5");
	CHECK(s != NULL);
	if (s) {
		CHECK_STR(s->name, "Standard_D4s_v5");
		CHECK_STR(s->family, "Dsv5");
		CHECK_INT(s->vcpus, 4);
		CHECK(s->memory_gib == 16);
		CHECK_INT(s->max_data_disks, 8);
		CHECK_INT(s->max_nics, 2);
		CHECK(s->premium_storage);
		CHECK(s->gen2);
		CHECK_INT(s->accelerated_networking, DR_ACCEL_REQUIRED);
	}
	s = dr_size_find("Standard_B1ls");
	CHECK(s && s->memory_gib == 0.5);
	s = dr_size_find("Standard_D2_v3");
	CHECK(s && !s->gen2 && !s->premium_storage);
	CHECK(dr_size_find("Standard_D4s_v9") == NULL);
	CHECK(dr_size_find(NULL) == NULL);
	s = dr_size_suggest("Standard_D4s_v6");
	CHECK(s && !strcmp(s->name, "Standard_D4s_v5"));
	CHECK(dr_size_suggest("totally-different") == NULL);
}

TEST(rule_table)
{
	size_t n, i;
	const dr_rule_info *t = dr_rule_table(&n);
	const dr_rule_info *r;

	CHECK(n >= 60);
	for (i = 1; i < n; i++)
		CHECK(strcmp(t[i - 1].id, t[i].id) < 0);
	r = dr_rule_find("AZ-DISK-OS-SIZE");
	CHECK(r && r->severity == DR_SEV_ERROR && !strcmp(r->source, "[SM]; [GEN2]"));
	r = dr_rule_find("AZ-FO-EXTRA-TIME");
	CHECK(r && r->severity == DR_SEV_WARNING);
	CHECK(dr_rule_find("AZ-NOPE") == NULL);
	CHECK(dr_rule_find(NULL) == NULL);
}

TEST(rule_docs)
{
	/* docs/rules.md lists every rule of the table with its severity
	 * (ctest runs in the source directory). */
	static char doc[1 << 16];
	FILE *f = fopen("docs/rules.md", "r");
	size_t n, i;
	const dr_rule_info *t = dr_rule_table(&n);

	CHECK(f != NULL);
	if (!f)
		return;
	doc[fread(doc, 1, sizeof(doc) - 1, f)] = '\0';
	fclose(f);
	for (i = 0; i < n; i++) {
		char row[128];

		snprintf(row, sizeof(row), "| `%s` | %s |", t[i].id,
			 dr_severity_name(t[i].severity));
		if (!strstr(doc, row)) {
			fprintf(stderr, "docs/rules.md lacks: %s\n", row);
			CHECK(0);
		}
	}
}

TEST(clean_plan)
{
	setup(3);
	check();
	expect_clean();
	EXPECT("AZ-CONN-WINDOWS", DR_SEV_INFO,
	       "before failover, Windows machines need RDP enabled and allowed by "
	       "the firewall, SAN policy OnlineAll, no pending updates, and no "
	       "static persistent routes or WinHTTP proxy");
	EXPECT("AZ-FO-NO-CANCEL", DR_SEV_INFO,
	       "replication stops when a failover starts: cancelling a failover in "
	       "progress leaves the machines unreplicated");
	CHECK_INT(cnt("AZ-CONN-WINDOWS"), 1);
	CHECK_INT(cnt("AZ-CONN-AZURE"), 1);
	NONE("AZ-CONN-LINUX");
	done();
}

TEST(os_parse)
{
	static const struct {
		const char *in;
		dr_os_kind kind;
		int major, minor;
		bool r2, sac;
	} cases[] = {
		{ "Windows Server 2012 R2 Datacenter", DR_OSK_WINSERVER, 2012, -1, true, false },
		{ "Windows Server 2016 Datacenter, version 1607", DR_OSK_WINSERVER, 2016, -1, false, false },
		{ "Windows Server, version 1809", DR_OSK_WINSERVER, -1, -1, false, true },
		{ "Windows Server 20H2", DR_OSK_WINSERVER, -1, -1, false, true },
		{ "Windows 8.1 Pro", DR_OSK_WINCLIENT, 8, 1, false, false },
		{ "Red Hat Enterprise Linux Server 7.9", DR_OSK_RHEL, 7, 9, false, false },
		{ "CentOS Linux 7.9.2009", DR_OSK_CENTOS, 7, 9, false, false },
		{ "OL 8.4", DR_OSK_ORACLE, 8, 4, false, false },
		{ "SUSE Linux Enterprise Server 12 SP5", DR_OSK_SLES, 12, 5, false, false },
		{ "SLES 15-SP3", DR_OSK_SLES, 15, 3, false, false },
		{ "SLES 15", DR_OSK_SLES, 15, 0, false, false },
		{ "Debian GNU/Linux 10 (buster)", DR_OSK_DEBIAN, 10, -1, false, false },
		{ "Ubuntu 18.04.6 LTS", DR_OSK_UBUNTU, 18, 4, false, false },
		{ "Rocky Linux 8.6", DR_OSK_OTHER_LINUX, -1, -1, false, false },
		{ "", DR_OSK_UNKNOWN, -1, -1, false, false },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dr_osinfo o;

		dr_os_parse(cases[i].in, &o);
		if (o.kind != cases[i].kind || o.major != cases[i].major ||
		    o.minor != cases[i].minor || o.r2 != cases[i].r2 ||
		    o.sac != cases[i].sac) {
			fprintf(stderr, "os_parse('%s'): kind %d %d.%d r2 %d sac %d\n",
				cases[i].in, o.kind, o.major, o.minor, o.r2, o.sac);
			CHECK(0);
		}
	}
	dr_os_parse(NULL, &(dr_osinfo){ 0 });
}

TEST(os_arch)
{
	setup(1);
	P->machines[0].source.arch = S("x86");
	P->machines[0].source.arch.at = node(12, 14);
	check();
	EXPECT("AZ-OS-ARCH", DR_SEV_ERROR,
	       "architecture 'x86' is not supported: ASR replicates 64-bit (x64) "
	       "machines only");
	AT("AZ-OS-ARCH", 12, 14);
	done();
	/* 2008 32-bit is migration-only: reported as such, not as ARCH. */
	setup(1);
	P->machines[0].source.arch = S("x86");
	P->machines[0].source.os_version = S("Windows Server 2008 SP2");
	check();
	NONE("AZ-OS-ARCH");
	EXPECT("AZ-OS-WIN2008", DR_SEV_ERROR,
	       "Windows Server 2008 (without R2) is supported by ASR for migration "
	       "only, not for disaster recovery: upgrade the machine or remove it "
	       "from the plan");
	done();
}

TEST(os_windows)
{
	setup(4);
	P->machines[0].source.os_version = S("Windows Server 2022");
	P->machines[0].source.mobility_agent = S("9.45");
	P->machines[0].source.mobility_agent.at = node(20, 22);
	P->machines[1].source.os_version = S("Windows 11 Enterprise");
	P->machines[2].source.os_version = S("Windows Server 2012 R2");
	P->machines[3].source.os_version = S("Windows 8.1");
	check();
	EXPECT("AZ-OS-WINDOWS-SUPPORTED", DR_SEV_ERROR,
	       "Windows Server 2022 needs Mobility service 9.46 or later, not 9.45: "
	       "upgrade the Mobility service");
	AT("AZ-OS-WINDOWS-SUPPORTED", 20, 22);
	CHECK_INT(cnt("AZ-OS-WINDOWS-SUPPORTED"), 2);
	CHECK_STR(nth_msg("AZ-OS-WINDOWS-SUPPORTED", 1),
		  "'Windows 11 Enterprise' is not a Windows version ASR supports: use "
		  "Windows Server 2022, 2019, 2016, 2012 R2, 2012 or 2008 R2 SP1, or "
		  "Windows 10, 8.1, 8 or 7 SP1 (64-bit)");
	done();
	setup(1);
	P->machines[0].source.os_version = S("Windows Server 2022");
	P->machines[0].source.mobility_agent = S("9.46");
	check();
	expect_clean();
	done();
}

TEST(os_win_sha2_ltsc)
{
	setup(3);
	P->machines[0].source.os_version = S("Windows Server 2008 R2 SP1");
	P->machines[0].source.mobility_agent = S("9.30");
	P->machines[1].source.os_version = S("Windows Server, version 1809");
	P->machines[2].source.os_version = S("Windows Server 20H2");
	check();
	EXPECT("AZ-OS-WIN-SHA2", DR_SEV_WARNING,
	       "Mobility service 9.30 and later installs on Windows Server 2008 R2 "
	       "SP1 only with the servicing stack update (SSU) and the SHA-2 "
	       "code-signing update: make sure both are installed");
	EXPECT("AZ-OS-WIN-LTSC", DR_SEV_ERROR,
	       "'Windows Server, version 1809' is a Semi-Annual Channel release; "
	       "ASR supports only Long-Term Servicing Channel builds: move the "
	       "machine to Windows Server 2016, 2019 or 2022 (LTSC)");
	CHECK_INT(cnt("AZ-OS-WIN-LTSC"), 2);
	NONE("AZ-OS-WINDOWS-SUPPORTED");
	done();
	setup(2);
	P->machines[1].source.os_version = S("Windows Server 2016 Datacenter, version 1607");
	P->machines[0].source.os_version = S("Windows 7 SP1");
	P->machines[0].source.mobility_agent = S("9.29");
	check();
	expect_clean();
	done();
}

static void linux_machine(size_t i, const char *ver)
{
	P->machines[i].source.os = DR_OS_LINUX;
	P->machines[i].source.os_version = S(ver);
}

TEST(os_linux_supported)
{
	static const char *const bad[] = { "Debian 9.0", "CentOS 8.8", "Ubuntu 21.10",
					   "Oracle Linux 9.1", "SLES 12", "RHEL 5.1",
					   "Fedora 38", "SLES 15 SP5", "RHEL 8.9" };
	static const char *const good[] = { "Debian 9.13", "CentOS 8.7", "Ubuntu 22.04",
					    "Ubuntu 20.04.6 LTS", "Oracle Linux 6.4",
					    "SLES 11 SP4", "SUSE Linux Enterprise Server 15 SP4",
					    "RHEL 9.1", "Red Hat Enterprise Linux 5.11",
					    "Debian 11", "SLES 15" };
	size_t i, n = sizeof(bad) / sizeof(bad[0]);

	setup(n);
	for (i = 0; i < n; i++)
		linux_machine(i, bad[i]);
	check();
	CHECK_INT(cnt("AZ-OS-LINUX-SUPPORTED"), n);
	EXPECT("AZ-OS-LINUX-SUPPORTED", DR_SEV_ERROR,
	       "'Debian 9.0' is not in ASR's Linux support matrix: upgrade or "
	       "change the machine's OS");
	CHECK_STR(get("AZ-OS-LINUX-SUPPORTED")->note,
		  "supported Debian versions: 7, 8, 9.1-9.13, 10, 11");
	CHECK_STR(nth("AZ-OS-LINUX-SUPPORTED", 6)->note,
		  "supported distributions: RHEL, CentOS, Ubuntu LTS, Debian, SLES, "
		  "Oracle Linux");
	done();
	setup(sizeof(good) / sizeof(good[0]));
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		linux_machine(i, good[i]);
	check();
	NONE("AZ-OS-LINUX-SUPPORTED");
	EXPECT("AZ-CONN-LINUX", DR_SEV_INFO,
	       "before failover, Linux machines need the SSH service set to start "
	       "at boot and firewall rules that allow SSH");
	done();
}

TEST(os_linux_kernel)
{
	setup(3);
	linux_machine(0, "RHEL 8.4");
	P->machines[0].source.kernel = S("4.18.0-305.25.1.el8_4.x86_64");
	linux_machine(1, "CentOS 8.5");
	P->machines[1].source.kernel = S("4.18.0-348.7.1.el8_5.x86_64");
	linux_machine(2, "RHEL 8.5");
	P->machines[2].source.kernel = S("4.18.0-348.5.1.el8_5.x86_64");
	check();
	CHECK_INT(cnt("AZ-OS-LINUX-KERNEL"), 1);
	EXPECT("AZ-OS-LINUX-KERNEL", DR_SEV_ERROR,
	       "RHEL 8.4 needs kernel 4.18.0-305.30.1.el8_4.x86_64 or later, not "
	       "4.18.0-305.25.1.el8_4.x86_64: update the kernel");
	done();
	CHECK(dr_kernel_cmp("4.18.0-305.30.1.el8_4", "4.18.0-305.30.1.el8_4.x86_64") == 0);
	CHECK(dr_kernel_cmp("5.4.0", "4.18.0-999") > 0);
}

TEST(src_vsphere)
{
	setup(3);
	P->machines[0].source.vsphere = S("6.0");
	P->machines[1].source.vsphere = S("8.0 U2");
	P->machines[2].source.kind = DR_SRC_PHYSICAL;
	P->machines[2].source.vsphere = S("5.5");
	check();
	CHECK_INT(cnt("AZ-SRC-VSPHERE"), 1);
	EXPECT("AZ-SRC-VSPHERE", DR_SEV_ERROR,
	       "vSphere/vCenter 6.0 is not supported by ASR: upgrade the host and "
	       "vCenter to 6.5, 6.7, 7.0 or 8.0");
	done();
}

TEST(boot)
{
	setup(4);
	P->machines[0].source.boot = DR_BOOT_UEFI;
	P->machines[0].source.secure_boot.v = true;
	P->machines[0].source.secure_boot.at = node(30, 20);
	P->machines[1].source.boot = DR_BOOT_UEFI;
	P->machines[1].source.os_version = S("Windows Server 2008 R2 SP1");
	P->machines[1].source.mobility_agent = S("9.29");
	linux_machine(2, "Debian 10");
	P->machines[2].source.boot = DR_BOOT_UEFI;
	P->machines[3].source.boot = DR_BOOT_UEFI;
	P->machines[3].target.size.v = "Standard_D4_v3";
	P->machines[3].target.disk_type = S("Standard_LRS");
	check();
	EXPECT("AZ-BOOT-UEFI-SECUREBOOT", DR_SEV_ERROR,
	       "Secure Boot is enabled; ASR supports UEFI machines only with Secure "
	       "Boot disabled: disable Secure Boot on the source");
	AT("AZ-BOOT-UEFI-SECUREBOOT", 30, 20);
	EXPECT("AZ-BOOT-UEFI-WIN2008", DR_SEV_ERROR,
	       "Windows Server 2008 R2 SP1 with UEFI boot is not supported: convert "
	       "the machine to BIOS boot or upgrade the OS");
	EXPECT("AZ-BOOT-UEFI-OS", DR_SEV_ERROR,
	       "UEFI boot is supported only for operating systems with an Azure "
	       "Generation 2 Marketplace image, and 'Debian 10' is not one: convert "
	       "the machine to BIOS boot or upgrade the OS");
	EXPECT("AZ-BOOT-GEN-SIZE", DR_SEV_ERROR,
	       "UEFI machines fail over as Generation 2 VMs, and Standard_D4_v3 (Dv3 "
	       "series) supports Generation 1 only: choose a Generation 2 size");
	AT("AZ-BOOT-GEN-SIZE", 103, 11);
	CHECK_INT(cnt("AZ-BOOT-UEFI-OS"), 1);
	CHECK_INT(cnt("AZ-BOOT-GEN-SIZE"), 1);
	done();
	setup(3);
	P->machines[0].target.size.v = "Standard_M208ms_v2";
	P->machines[1].target.size.v = "Standard_D4ps_v5";
	P->machines[2].target.size.v = "Standard_D4ps_v5";
	P->machines[2].source.boot = DR_BOOT_UEFI;
	check();
	CHECK_INT(cnt("AZ-BOOT-GEN-SIZE"), 2);
	EXPECT("AZ-BOOT-GEN-SIZE", DR_SEV_ERROR,
	       "BIOS machines fail over as Generation 1 VMs, and Standard_M208ms_v2 "
	       "(Mv2/Msv2/Mdsv2 series) supports Generation 2 only: choose a "
	       "Generation 1 size or convert the machine to UEFI");
	CHECK(strstr(nth_msg("AZ-BOOT-GEN-SIZE", 1), "(Dpsv5/Dpdsv5 series)") != NULL);
	done();
	setup(2);
	P->machines[0].source.boot = DR_BOOT_UEFI;
	linux_machine(1, "RHEL 7.9");
	P->machines[1].source.boot = DR_BOOT_UEFI;
	check();
	expect_clean();
	done();
}

TEST(disk_os)
{
	dr_disk *k;

	setup(3);
	k = &P->machines[0].source.disks[0];
	k->size_gib.v = 3072;
	k->size_gib.at = node(40, 18);
	P->machines[1].source.boot = DR_BOOT_UEFI;
	P->machines[1].source.disks[0].size_gib.v = 4096;
	P->machines[1].source.disks[0].type = S("dynamic");
	P->machines[2].source.disks[1].role = DR_DISK_OS;
	P->machines[2].source.disks[1].name = S("Hard disk 2");
	check();
	EXPECT("AZ-DISK-OS-SIZE", DR_SEV_ERROR,
	       "OS disk is 3072 GiB; Generation 1 (BIOS) machines allow at most "
	       "2048 GiB: convert the machine to UEFI or shrink the disk");
	AT("AZ-DISK-OS-SIZE", 40, 18);
	CHECK_INT(cnt("AZ-DISK-OS-SIZE"), 2);
	CHECK_STR(nth_msg("AZ-DISK-OS-SIZE", 1),
		  "OS disk is 4096 GiB; Generation 2 (UEFI) machines allow at most "
		  "4095 GiB: shrink the disk");
	EXPECT("AZ-DISK-OS-BASIC", DR_SEV_ERROR,
	       "the OS disk is a dynamic disk; ASR needs a basic OS disk: convert it "
	       "to a basic disk");
	EXPECT("AZ-DISK-OS-COUNT", DR_SEV_ERROR,
	       "disk 'Hard disk 2' is a second OS disk; ASR supports exactly one OS "
	       "disk (boot and system on one disk): make it a data disk");
	done();
	setup(2);
	P->machines[0].source.disks[0].role = DR_DISK_DATA;
	P->machines[1].source.disks[0].size_gib.v = 2048;
	check();
	EXPECT("AZ-DISK-OS-COUNT", DR_SEV_ERROR,
	       "no disk has role os; ASR needs exactly one OS (boot) disk: mark the "
	       "boot disk with role: os");
	AT("AZ-DISK-OS-COUNT", 90, 7);
	CHECK_INT(dr_diags_count(D, DR_SEV_ERROR), 1);
	done();
}

TEST(disk_data)
{
	setup(3);
	disks(&P->machines[0], 66);
	disks(&P->machines[1], 10); /* D4s_v3 allows 8 */
	P->machines[2].source.disks[1].size_gib.v = 32768;
	check();
	EXPECT("AZ-DISK-DATA-COUNT", DR_SEV_ERROR,
	       "65 data disks; ASR supports at most 64: exclude or consolidate disks");
	CHECK_INT(cnt("AZ-DISK-DATA-COUNT"), 2);
	CHECK_STR(nth_msg("AZ-DISK-DATA-COUNT", 1),
		  "9 data disks, and Standard_D4s_v3 allows at most 8: choose a larger "
		  "size or exclude disks");
	EXPECT("AZ-DISK-DATA-SIZE", DR_SEV_ERROR,
	       "disk 2 is 32768 GiB; ASR replicates disks of at most 32,767 GiB to "
	       "managed disks: split the data over smaller disks");
	done();
	setup(1);
	disks(&P->machines[0], 9);
	P->machines[0].source.disks[1].size_gib.v = 32767;
	check();
	expect_clean();
	done();
}

TEST(disk_min_size)
{
	setup(1);
	P->machines[0].source.disks[1].size_gib.v = 1;
	check();
	EXPECT("AZ-DISK-MIN-SIZE", DR_SEV_ERROR,
	       "disk 2 is 1 GiB; ASR needs disks larger than 1 GiB (1024 MB): grow "
	       "the disk or exclude it");
	done();
	setup(1);
	P->machines[0].source.disks[1].size_gib.v = 2;
	check();
	expect_clean();
	done();
}

TEST(disk_unsupported)
{
	dr_disk *k;

	setup(1);
	k = &P->machines[0].source.disks[1];
	k->name = S("data");
	k->shared.v = k->fc.v = k->iscsi.v = k->encrypted.v = k->nfs.v = true;
	k->smb3.v = k->storage_spaces.v = k->mpio.v = k->hardware_raid.v = true;
	k->mpio.at = node(50, 3);
	k->sector = S("4k/512");
	k->bitlocker.v = true;
	check();
	CHECK_INT(cnt("AZ-DISK-UNSUPPORTED"), 10);
	EXPECT("AZ-DISK-UNSUPPORTED", DR_SEV_ERROR,
	       "disk 'data' is a shared disk (shared VHD or cluster disk), which ASR "
	       "can't replicate: move the data to a supported disk or exclude the "
	       "disk");
	CHECK_STR(nth_msg("AZ-DISK-UNSUPPORTED", 7),
		  "disk 'data' uses guest multipath I/O (MPIO), which ASR can't "
		  "replicate: move the data to a supported disk or exclude the disk");
	CHECK_INT(nth("AZ-DISK-UNSUPPORTED", 7)->line, 50);
	CHECK_STR(nth_msg("AZ-DISK-UNSUPPORTED", 9),
		  "disk 'data' has sector size 4k/512 (4K logical), which ASR can't "
		  "replicate: use a disk with 512-byte logical sectors");
	EXPECT("AZ-DISK-BITLOCKER", DR_SEV_ERROR,
	       "disk 'data' uses BitLocker, which ASR doesn't support: disable "
	       "BitLocker before enabling replication and keep it off");
	done();
	setup(1);
	P->machines[0].source.disks[1].sector = S("512e");
	P->machines[0].source.disks[0].sector = S("512/512");
	check();
	expect_clean();
	done();
}

TEST(disk_filesystems)
{
	setup(3);
	P->machines[0].source.mobility_agent = S("9.22");
	P->machines[0].source.disks[1].filesystem = S("refs");
	linux_machine(1, "Ubuntu 20.04");
	P->machines[1].source.mobility_agent = S("9.21");
	P->machines[1].source.disks[1].filesystem = S("btrfs");
	linux_machine(2, "Ubuntu 20.04");
	P->machines[2].source.disks[1].filesystem = S("zfs");
	check();
	EXPECT("AZ-DISK-REFS", DR_SEV_ERROR,
	       "disk 2 uses ReFS, which needs Mobility service 9.23 or later, not "
	       "9.22: upgrade the Mobility service");
	EXPECT("AZ-LNX-FS", DR_SEV_ERROR,
	       "disk 2 uses BTRFS, which needs Mobility service 9.22 or later, not "
	       "9.21: upgrade the Mobility service");
	CHECK_INT(cnt("AZ-LNX-FS"), 2);
	CHECK_STR(nth_msg("AZ-LNX-FS", 1),
		  "disk 2 uses file system 'zfs'; ASR supports ext3, ext4, XFS and "
		  "BTRFS on Linux: move the data to a supported file system");
	done();
	setup(2);
	P->machines[0].source.mobility_agent = S("9.23");
	P->machines[0].source.disks[1].filesystem = S("ReFS");
	linux_machine(1, "Ubuntu 20.04");
	P->machines[1].source.disks[1].filesystem = S("xfs");
	check();
	NONE("AZ-DISK-REFS");
	NONE("AZ-LNX-FS");
	done();
}

TEST(disk_types)
{
	setup(3);
	P->machines[0].target.disk_type = S("UltraSSD_LRS");
	P->machines[0].target.disk_type.at = node(60, 15);
	P->machines[1].source.disks[0].target_type = S("Premium_LRS");
	P->machines[1].target.disk_type = S("PremiumV2_LRS");
	P->machines[2].target.size = S("Standard_D4_v3");
	check();
	EXPECT("AZ-DISK-MANAGED-TYPE", DR_SEV_ERROR,
	       "disk type UltraSSD_LRS can't be used for the OS disk: use "
	       "Premium_LRS, StandardSSD_LRS or Standard_LRS for it");
	AT("AZ-DISK-MANAGED-TYPE", 60, 15);
	CHECK_INT(cnt("AZ-DISK-MANAGED-TYPE"), 1);
	EXPECT("AZ-SIZE-PREMIUM", DR_SEV_ERROR,
	       "disk type Premium_LRS needs a size with premium storage, and "
	       "Standard_D4_v3 has none: choose Standard_D4s_v3 (same size with "
	       "premium storage) or a Standard disk type");
	CHECK_INT(cnt("AZ-SIZE-PREMIUM"), 1);
	done();
}

TEST(storage_placement)
{
	setup(3);
	P->machines[0].target.encryption_at_host.v = true;
	P->machines[1].target.availability_zone = S("1");
	P->machines[2].target.availability_zone = S("2");
	P->machines[2].target.availability_set = S("as-app");
	check();
	EXPECT("AZ-AZURE-STORAGE", DR_SEV_ERROR,
	       "encryption at host is not supported for ASR targets: turn it off "
	       "(server-side encryption with platform or customer keys is "
	       "supported)");
	CHECK_INT(cnt("AZ-PLACE-ZONE"), 2);
	EXPECT("AZ-PLACE-ZONE", DR_SEV_ERROR,
	       "availability zones are not supported as a target for VMware/physical "
	       "machines: remove the zone (use an availability set for redundancy)");
	CHECK_STR(nth_msg("AZ-PLACE-ZONE", 1),
		  "the machine declares both availability set 'as-app' and zone '2', "
		  "and ASR doesn't support zones for VMware/physical machines: keep "
		  "the availability set and remove the zone");
	done();
}

TEST(place_avset)
{
	setup(4);
	P->machines[0].target.availability_set = S("as-app");
	P->machines[1].target.availability_set = S("AS-APP");
	P->machines[1].target.size = S("Standard_D8s_v3");
	P->machines[2].target.availability_set = S("as-app");
	P->machines[2].target.vnet = S("vnet-other");
	P->machines[3].target.availability_set = S("as-app");
	P->machines[3].target.resource_group = S("rg-other");
	P->machines[3].target.size = S("Standard_D2s_v3");
	check();
	CHECK_INT(cnt("AZ-PLACE-AVSET"), 2);
	EXPECT("AZ-PLACE-AVSET", DR_SEV_WARNING,
	       "'vm2' is in availability set 'AS-APP' with 'vm1' but has size "
	       "Standard_D8s_v3 instead of Standard_D4s_v3: ASR expects one size per "
	       "availability set");
	CHECK_STR(nth_msg("AZ-PLACE-AVSET", 1),
		  "'vm3' is in availability set 'as-app' with 'vm1', but on VNet "
		  "'vnet-other' instead of 'vnet-dr': VMs in one availability set must "
		  "share a VNet");
	CHECK_INT(nth("AZ-PLACE-AVSET", 1)->severity, DR_SEV_ERROR);
	done();
}

TEST(sizes_rules)
{
	setup(5);
	P->machines[0].target.size = S("Standard_B1ls");
	P->machines[0].target.disk_type = S("Standard_LRS");
	P->machines[1].target.size = S("Standard_F72s_v2");
	P->machines[1].source.os_version = S("Windows Server 2012 R2");
	P->machines[2].target.size = S("Standard_D2s_v3");
	P->machines[2].source.memory_gib.v = 8;
	P->machines[3].target.size.v = "Standard_D4s_v9";
	P->machines[4].target.size = S("Standard_M128ms");
	P->machines[4].source.os_version = S("Windows Server 2016");
	check();
	EXPECT("AZ-SIZE-B1LS", DR_SEV_ERROR,
	       "Standard_B1ls supports Linux only: choose another size (e.g. "
	       "Standard_B1s) for this Windows machine");
	EXPECT("AZ-SIZE-GT64VCPU", DR_SEV_ERROR,
	       "Standard_F72s_v2 has more than 64 vCPUs and doesn't support "
	       "'Windows Server 2012 R2': choose a size with at most 64 vCPUs or a "
	       "supported OS");
	CHECK_INT(cnt("AZ-SIZE-GT64VCPU"), 1);
	CHECK_INT(nth("AZ-SIZE-MEMORY", 1)->severity, DR_SEV_WARNING);
	CHECK_STR(nth_msg("AZ-SIZE-MEMORY", 1),
	       "Standard_D2s_v3 has 8 GiB of memory; the source has 8 GiB and the "
	       "Site Recovery driver uses 6% of it: choose a size with at least "
	       "8.5 GiB");
	CHECK_INT(cnt("AZ-SIZE-MEMORY"), 2); /* B1ls too */
	EXPECT("AZ-SIZE-UNKNOWN", DR_SEV_WARNING,
	       "size 'Standard_D4s_v9' is not in drplan's size catalog, so its "
	       "limits can't be checked: check the name");
	CHECK_STR(get("AZ-SIZE-UNKNOWN")->note, "did you mean 'Standard_D4s_v5'?");
	AT("AZ-SIZE-UNKNOWN", 103, 11);
	done();
	setup(2);
	linux_machine(0, "RHEL 7.3");
	P->machines[0].target.size = S("Standard_M128s");
	linux_machine(1, "Ubuntu 18.04");
	P->machines[1].target.size = S("Standard_L80s_v2");
	check();
	NONE("AZ-SIZE-GT64VCPU");
	done();
}

TEST(net_after_failover)
{
	setup(3);
	P->machines[0].target.accelerated_networking.v = true;
	P->machines[0].target.accelerated_networking.at = node(70, 30);
	P->machines[1].target.size = S("Standard_D4s_v5");
	P->machines[2].target.size = S("Standard_D2s_v3");
	P->machines[2].source.memory_gib.v = 4;
	P->machines[2].target.accelerated_networking.v = true;
	nics(&P->machines[2], 2);
	P->machines[2].target.nics[0].primary.v = true;
	check();
	EXPECT("AZ-NET-AFTER-FAILOVER", DR_SEV_WARNING,
	       "accelerated networking is not supported after an ASR failover: turn "
	       "it off here and enable it after failover");
	AT("AZ-NET-AFTER-FAILOVER", 70, 30);
	CHECK_INT(cnt("AZ-NET-AFTER-FAILOVER"), 3);
	CHECK_STR(nth_msg("AZ-NET-AFTER-FAILOVER", 1),
		  "Standard_D4s_v5 requires accelerated networking, which is not "
		  "supported after an ASR failover: choose a size where it is optional "
		  "(e.g. the v4 series)");
	EXPECT("AZ-SIZE-ACCEL-SINGLE-NIC", DR_SEV_INFO,
	       "on Standard_D2s_v3 accelerated networking applies to a single NIC "
	       "only");
	done();
	setup(2);
	P->machines[0].target.size.v = "Standard_B2s";
	P->machines[0].target.accelerated_networking.v = true;
	P->machines[0].target.disk_type.v = "Standard_LRS";
	P->machines[1].target.size.v = "Standard_B12ms";
	P->machines[1].target.accelerated_networking.v = true;
	P->machines[1].target.disk_type.v = "Standard_LRS";
	check();
	CHECK_INT(cnt("AZ-SIZE-ACCEL-SINGLE-NIC"), 1);
	EXPECT("AZ-SIZE-ACCEL-SINGLE-NIC", DR_SEV_INFO,
	       "Standard_B2s doesn't support accelerated networking");
	done();
}

TEST(net_guest_nics)
{
	setup(3);
	P->machines[0].source.nics[0].ipv6.v = true;
	P->machines[0].source.nics[0].teamed.v = true;
	nics(&P->machines[1], 3); /* D4s_v3 allows 2 */
	nics(&P->machines[2], 2);
	P->machines[2].target.nics[0].primary.v = true;
	P->machines[2].target.nics[1].primary.v = true;
	P->machines[2].target.nics[1].primary.at = node(75, 20);
	check();
	CHECK_INT(cnt("AZ-NET-GUEST"), 2);
	EXPECT("AZ-NET-GUEST", DR_SEV_ERROR,
	       "NIC 1 uses IPv6, which ASR doesn't support in the guest: use IPv4");
	CHECK_STR(nth_msg("AZ-NET-GUEST", 1),
		  "NIC 1 is teamed in the guest, which ASR doesn't support: remove the "
		  "guest NIC team (host teaming is supported)");
	EXPECT("AZ-NET-NIC-COUNT", DR_SEV_ERROR,
	       "the machine has 3 NICs and Standard_D4s_v3 allows at most 2, so ASR "
	       "would drop the rest: choose a larger size or fewer NICs");
	EXPECT("AZ-NET-NIC-VNET", DR_SEV_ERROR,
	       "more than one NIC is marked primary: exactly one NIC must be the "
	       "primary one");
	AT("AZ-NET-NIC-VNET", 75, 20);
	done();
	setup(2);
	nics(&P->machines[0], 2);
	P->machines[0].target.nics[0].primary.at = node(1, 1);
	P->machines[0].target.nics[1].primary.at = node(2, 1);
	nics(&P->machines[1], 2); /* nothing stated: the first is primary */
	check();
	CHECK_INT(cnt("AZ-NET-NIC-VNET"), 1);
	EXPECT("AZ-NET-NIC-VNET", DR_SEV_ERROR,
	       "no NIC is primary: mark exactly one NIC as primary");
	done();
}

TEST(net_static_ips)
{
	setup(7);
	P->machines[0].target.ip = S("10.20.2.10");
	P->machines[0].target.ip.at = node(33, 12);
	P->machines[1].target.ip = S("10.20.1.255");
	P->machines[2].target.ip = S("10.20.1.3");
	P->machines[3].target.ip = S("169.254.0.10");
	P->machines[4].target.ip = S("10.20.1.10");
	P->machines[5].target.ip = S("10.20.1.10");
	P->machines[5].target.vnet = S("VNET-DR");
	P->machines[6].target.ip = S("10.20.1.4");
	check();
	EXPECT("AZ-NET-STATIC-IP-SUBNET", DR_SEV_ERROR,
	       "static IP 10.20.2.10 is outside subnet 'app' (10.20.1.0/24): pick an "
	       "address in 10.20.1.0/24 or change the subnet");
	AT("AZ-NET-STATIC-IP-SUBNET", 33, 12);
	CHECK_INT(cnt("AZ-NET-RESERVED-IP"), 2);
	EXPECT("AZ-NET-RESERVED-IP", DR_SEV_ERROR,
	       "static IP 10.20.1.255 is one of the addresses Azure reserves in "
	       "subnet 'app' (10.20.1.0/24): the first four and the last address "
	       "can't be assigned, pick another one");
	EXPECT("AZ-NET-FORBIDDEN-RANGES", DR_SEV_ERROR,
	       "static IP 169.254.0.10 is in 169.254.0.0/16 (link-local), which Azure "
	       "VNets can't use: choose an address in the subnet's range");
	EXPECT("AZ-NET-IP-DUPLICATE", DR_SEV_ERROR,
	       "static IP 10.20.1.10 is already used by 'vm5' in VNet 'VNET-DR': give "
	       "each NIC its own address");
	CHECK_INT(cnt("AZ-NET-IP-DUPLICATE"), 1);
	CHECK_INT(dr_diags_count(D, DR_SEV_ERROR), 5);
	done();
}

TEST(net_unknown)
{
	setup(3);
	P->machines[0].target.subnet = S("apps");
	P->machines[0].target.subnet.at = node(44, 9);
	P->machines[1].target.vnet = S("vnet-x");
	P->machines[1].target.vnet.at = node(45, 9);
	P->machines[2].target.vnet = S("vnet-x");
	check();
	CHECK_INT(cnt("PLAN-NETWORK-UNKNOWN"), 2);
	EXPECT("PLAN-NETWORK-UNKNOWN", DR_SEV_ERROR,
	       "subnet 'apps' is not declared in VNet 'vnet-dr' under networks: fix "
	       "the name or declare the subnet");
	CHECK_STR(get("PLAN-NETWORK-UNKNOWN")->note, "did you mean 'app'?");
	AT("PLAN-NETWORK-UNKNOWN", 44, 9);
	CHECK_STR(nth_msg("PLAN-NETWORK-UNKNOWN", 1),
		  "VNet 'vnet-x' is not declared under networks, so its subnets and "
		  "static IPs can't be checked offline: declare it with its address "
		  "space and subnets");
	CHECK_INT(nth("PLAN-NETWORK-UNKNOWN", 1)->severity, DR_SEV_WARNING);
	CHECK_INT(nth("PLAN-NETWORK-UNKNOWN", 1)->line, 45);
	done();
	/* No networks at all: only VNets with static IPs are worth a word. */
	setup(2);
	P->nnetworks = 0;
	P->machines[1].target.ip = S("10.20.1.10");
	check();
	CHECK_INT(cnt("PLAN-NETWORK-UNKNOWN"), 1);
	done();
}

TEST(networks_declared)
{
	dr_network *n;

	setup(1);
	n = &P->networks[0];
	n->location = S("North Europe");
	n->location.at = node(5, 15);
	n->nsubnets = 4;
	n->subnets = dr_arena_zalloc(A, 4 * sizeof(dr_network_subnet));
	n->subnets[0].name = S("app");
	n->subnets[0].prefix = S("10.20.1.0/24");
	n->subnets[1].name = S("wide");
	n->subnets[1].prefix = S("10.20.0.0/22");
	n->subnets[2].name = S("tiny");
	n->subnets[2].prefix = S("10.20.8.0/30");
	n->subnets[3].name = S("outside");
	n->subnets[3].prefix = S("10.30.0.0/24");
	n->address_space.v[0] = "10.20.0.0/16";
	check();
	EXPECT("AZ-NET-REGION", DR_SEV_ERROR,
	       "VNet 'vnet-dr' is in North Europe but the vault's region is "
	       "westeurope: target networks must be in the vault's region");
	AT("AZ-NET-REGION", 5, 15);
	EXPECT("AZ-NET-SUBNET-SIZE", DR_SEV_INFO,
	       "subnet 'tiny' is a /30; Azure IPv4 subnets are between /8 and /29");
	CHECK_INT(cnt("PLAN-SUBNET-OVERLAP"), 2);
	EXPECT("PLAN-SUBNET-OVERLAP", DR_SEV_ERROR,
	       "subnet 'outside' (10.30.0.0/24) is outside the address space of VNet "
	       "'vnet-dr': change the prefix or add its range to the address space");
	CHECK_STR(nth_msg("PLAN-SUBNET-OVERLAP", 1),
		  "subnet 'app' (10.20.1.0/24) overlaps subnet 'wide' (10.20.0.0/22) "
		  "of VNet 'vnet-dr': subnets of a VNet must not overlap");
	done();
	setup(1);
	P->networks[0].address_space.v[0] = "127.0.0.0/8";
	check();
	EXPECT("AZ-NET-FORBIDDEN-RANGES", DR_SEV_ERROR,
	       "address space 127.0.0.0/8 of VNet 'vnet-dr' overlaps 127.0.0.0/8 "
	       "(loopback), which Azure VNets can't use: choose another range");
	done();
}

TEST(drill_network)
{
	setup(1);
	P->drill.at = node(120, 1);
	P->drill.vnet = S("vnet-dr");
	P->drill.vnet.at = node(122, 12);
	P->drill.rto.at = node(123, 10);
	P->drill.rpo.at = node(124, 10);
	P->drill.rpo.ms = 60000;
	check();
	EXPECT("AZ-NET-TEST-NETWORK", DR_SEV_WARNING,
	       "the drill network 'vnet-dr' is also the failover network of 'vm1': "
	       "drill into an isolated VNet so test VMs can't clash with production");
	AT("AZ-NET-TEST-NETWORK", 122, 12);
	EXPECT("PLAN-DRILL-NETWORK", DR_SEV_WARNING,
	       "drill VNet 'vnet-dr' is not marked isolated: drill into a VNet with "
	       "no route to production and mark it isolated: true");
	EXPECT("PLAN-DRILL-OBJECTIVES", DR_SEV_WARNING,
	       "an RTO of 0 can never be met, so every drill would fail it: set a "
	       "realistic objective or remove it");
	CHECK_INT(cnt("PLAN-DRILL-OBJECTIVES"), 1);
	done();
	setup(1);
	P->drill.at = node(120, 1);
	check();
	EXPECT("PLAN-DRILL-NETWORK", DR_SEV_WARNING,
	       "the drill has no network: set drill.network.vnet to an isolated VNet, "
	       "or ASR drills into the failover network");
	done();
	setup(1);
	P->drill.at = node(120, 1);
	P->drill.vnet = S("vnet-drill");
	check();
	EXPECT("PLAN-NETWORK-UNKNOWN", DR_SEV_WARNING,
	       "drill VNet 'vnet-drill' is not declared under networks: declare it "
	       "(isolated: true) so the plan can be checked offline");
	done();
}

TEST(drill_schedule)
{
	/* A directory without zone files: "unknown zone", tzdata or not. */
	setenv("TZDIR", "docs", 1);
	setup(1);
	P->drill.at = node(120, 1);
	P->drill.vnet = S("vnet-dr");
	P->drill.schedule = S("0 25 * * *");
	P->drill.schedule.at = node(121, 13);
	P->drill.timezone = S("Europe/Berln");
	P->drill.timezone.at = node(122, 13);
	check();
	CHECK_INT(cnt("PLAN-DRILL-SCHEDULE"), 2);
	EXPECT("PLAN-DRILL-SCHEDULE", DR_SEV_ERROR,
	       "drill schedule '0 25 * * *': hour: 25 is out of range 0-23");
	/* No source text to find the character in: the value's column. */
	AT("PLAN-DRILL-SCHEDULE", 121, 13);
	CHECK_STR(nth_msg("PLAN-DRILL-SCHEDULE", 1),
		  "unknown time zone 'Europe/Berln' (not in docs): use an IANA "
		  "time zone name such as Europe/Berlin or UTC");
	done();
	setup(1);
	P->drill.at = node(120, 1);
	P->drill.vnet = S("vnet-dr");
	P->drill.schedule = S("@weekly");
	P->drill.schedule.at = node(121, 13);
	P->drill.timezone = S("../x");
	P->drill.timezone.at = node(122, 13);
	check();
	CHECK_INT(cnt("PLAN-DRILL-SCHEDULE"), 1);
	EXPECT("PLAN-DRILL-SCHEDULE", DR_SEV_ERROR,
	       "invalid time zone name '../x' (expected an IANA name such as "
	       "Europe/Paris)");
	done();
	/* No zone database: the zone can't be checked, which is a warning. */
	setenv("TZDIR", "no-such-zoneinfo-dir", 1);
	setup(1);
	P->drill.at = node(120, 1);
	P->drill.vnet = S("vnet-dr");
	P->drill.timezone = S("Europe/Berlin");
	P->drill.timezone.at = node(122, 13);
	check();
	EXPECT("PLAN-DRILL-SCHEDULE", DR_SEV_WARNING,
	       "time zone 'Europe/Berlin' can't be checked: time zone database not "
	       "found at no-such-zoneinfo-dir: install the tzdata package");
	done();
	unsetenv("TZDIR");
}

TEST(unattended_and_webhooks)
{
	static dr_webhook hooks[3];

	setup(1);
	P->drill.at = node(120, 1);
	P->drill.vnet = S("vnet-dr");
	P->drill.unattended_at = node(123, 3);
	P->drill.manual_policy = S("auto-approve");
	P->drill.gate_policy = S("fail");
	hooks[0].url = S("http://hooks.example.com/drplan");
	hooks[0].url.at = node(130, 10);
	hooks[1].url = S("https://bot:hunter2@chat.example.com/x?y=1");
	hooks[1].url.at = node(131, 10);
	hooks[2].url = S("http://127.0.0.1:8080/ok");
	hooks[2].url.at = node(132, 10);
	P->webhooks = hooks;
	P->nwebhooks = 3;
	check();
	EXPECT("PLAN-UNATTENDED-REASON", DR_SEV_ERROR,
	       "unattended drills auto-approve manual steps but drill.unattended gives "
	       "no reason: add reason (it is recorded with every auto-approval) or "
	       "use fail");
	AT("PLAN-UNATTENDED-REASON", 123, 3);
	CHECK_INT(cnt("PLAN-WEBHOOK-URL"), 2);
	EXPECT("PLAN-WEBHOOK-URL", DR_SEV_WARNING,
	       "webhook URL uses plain http to hooks.example.com: job events would "
	       "cross the network unencrypted; use https");
	AT("PLAN-WEBHOOK-URL", 130, 10);
	CHECK_STR(nth_msg("PLAN-WEBHOOK-URL", 1),
		  "webhook URL carries credentials (user:password@): they would be in "
		  "the plan and in git; the receiver should check the signature made "
		  "with secretEnv instead");
	done();
	/* Both auto-approve, with a reason: fine; fail needs none. */
	setup(1);
	P->drill.at = node(120, 1);
	P->drill.vnet = S("vnet-dr");
	P->drill.unattended_at = node(123, 3);
	P->drill.manual_policy = S("auto-approve");
	P->drill.gate_policy = S("auto-approve");
	P->drill.unattended_reason = S("lab drill");
	check();
	CHECK_INT(cnt("PLAN-UNATTENDED-REASON"), 0);
	done();
	setup(1);
	P->drill.at = node(120, 1);
	P->drill.vnet = S("vnet-dr");
	P->drill.unattended_at = node(123, 3);
	P->drill.manual_policy = S("fail");
	P->drill.gate_policy = S("auto-approve");
	check();
	EXPECT("PLAN-UNATTENDED-REASON", DR_SEV_ERROR,
	       "unattended drills auto-approve gates but drill.unattended gives no "
	       "reason: add reason (it is recorded with every auto-approval) or use fail");
	done();
}

TEST(extra_time)
{
	setup(3);
	P->machines[0].source.kind = DR_SRC_PHYSICAL;
	P->machines[0].source.kind_at = node(14, 11);
	P->machines[1].source.mobility_agent = S("9.7");
	P->machines[1].source.os_version = S("Windows Server 2016");
	P->machines[2].source.dhcp_service.at = node(15, 3);
	check();
	CHECK_INT(cnt("AZ-FO-EXTRA-TIME"), 3);
	EXPECT("AZ-FO-EXTRA-TIME", DR_SEV_WARNING,
	       "failover takes about 8 to 10 minutes longer (physical servers need "
	       "an extra failover step): allow for it in the RTO");
	AT("AZ-FO-EXTRA-TIME", 14, 11);
	CHECK_STR(nth_msg("AZ-FO-EXTRA-TIME", 1),
		  "failover takes about 8 to 10 minutes longer (Mobility service older "
		  "than 9.8): upgrade the Mobility service to 9.8 or later");
	CHECK_STR(nth_msg("AZ-FO-EXTRA-TIME", 2),
		  "failover takes about 8 to 10 minutes longer (the DHCP service is not "
		  "enabled in the guest): enable the DHCP client service in the guest");
	done();
}

TEST(names_vm)
{
	setup(5);
	P->machines[0].target.name = S("web_01");
	P->machines[0].target.name.at = node(9, 13);
	P->machines[1].target.name = S("-web");
	P->machines[2].target.name = S("web-frontend-prod-01");
	P->machines[3].target.name = S("xbox");
	P->machines[4].target.name = S("login-gw");
	check();
	CHECK_INT(cnt("AZ-NAME-VM-ASR"), 2);
	EXPECT("AZ-NAME-VM-ASR", DR_SEV_ERROR,
	       "Azure VM name 'web_01' contains '_'; only letters, digits and '-' "
	       "are allowed: set target.name to a valid name");
	AT("AZ-NAME-VM-ASR", 9, 13);
	CHECK_STR(nth_msg("AZ-NAME-VM-ASR", 1),
		  "Azure VM name '-web' must start and end with a letter or digit: set "
		  "target.name to a valid name");
	EXPECT("AZ-NAME-VM-ARM", DR_SEV_WARNING,
	       "Azure VM name 'web-frontend-prod-01' has 20 characters; a Windows "
	       "computer name has at most 15, so the two will differ: shorten it "
	       "if they should match");
	CHECK_INT(cnt("AZ-NAME-RESERVED"), 2);
	EXPECT("AZ-NAME-RESERVED", DR_SEV_ERROR,
	       "VM name 'xbox' is a reserved word in Azure: rename the machine's "
	       "target");
	done();
	setup(1);
	linux_machine(0, "Ubuntu 20.04");
	P->machines[0].target.name = S("web-frontend-prod-01");
	check();
	expect_clean();
	done();
}

TEST(names_resources)
{
	dr_machine *m;

	setup(1);
	m = &P->machines[0];
	m->target.resource_group = S("rg-dr.");
	m->target.availability_set = S("as app");
	m->target.vnet = S("v");
	m->target.subnet = S("app-");
	P->networks[0].name = S("v");
	P->networks[0].subnets[0].name = S("app-");
	nics(m, 1);
	m->target.nics[0].name = S("_nic");
	check();
	EXPECT("AZ-NAME-RG", DR_SEV_ERROR,
	       "resource group name 'rg-dr.' must not end with a period: rename it");
	EXPECT("AZ-NAME-AVSET", DR_SEV_ERROR,
	       "availability set name 'as app' contains ' '; only letters, digits, "
	       "'_', '.' and '-' are allowed: rename it");
	EXPECT("AZ-NAME-NIC", DR_SEV_ERROR,
	       "NIC name '_nic' must start with a letter or digit: rename it");
	CHECK_INT(cnt("AZ-NAME-VNET-SUBNET"), 4);
	EXPECT("AZ-NAME-VNET-SUBNET", DR_SEV_ERROR,
	       "VNet name 'v' has 1 characters; 2 to 64 are allowed: rename it");
	done();
	setup(1);
	P->machines[0].target.resource_group = S("rg_(dr).eu-1");
	check();
	expect_clean();
	done();
}

TEST(duplicates)
{
	setup(5);
	P->machines[1].name = S("VM1");
	P->machines[1].name.at = node(25, 11);
	/* The loader defaults the target name by copying the machine's. */
	P->machines[0].target.name = P->machines[0].name;
	P->machines[1].target.name = P->machines[1].name;
	P->machines[2].target.name = S("app");
	P->machines[3].target.name = S("App");
	P->machines[4].target.name = S("app");
	check();
	EXPECT("PLAN-DUPLICATE-MACHINE", DR_SEV_ERROR,
	       "machine 'VM1' is already defined as 'vm1' (names are compared "
	       "case-insensitively): rename or remove one");
	AT("PLAN-DUPLICATE-MACHINE", 25, 11);
	EXPECT("AZ-NAME-CASE", DR_SEV_ERROR,
	       "target VM name 'App' differs only by case from 'app' (machine 'vm3') "
	       "in resource group 'rg-dr', and Azure names are case-insensitive: "
	       "give each machine its own target name");
	EXPECT("PLAN-DUPLICATE-TARGET-NAME", DR_SEV_ERROR,
	       "target VM name 'app' is already used by machine 'vm3' in resource "
	       "group 'rg-dr': give each machine its own target name");
	CHECK_INT(cnt("PLAN-DUPLICATE-TARGET-NAME"), 1);
	CHECK_INT(cnt("AZ-NAME-CASE"), 1);
	done();
	setup(2);
	P->machines[0].target.name = S("app");
	P->machines[1].target.name = S("app");
	P->machines[1].target.resource_group = S("rg-other");
	check();
	expect_clean();
	done();
}

TEST(groups)
{
	dr_group *g;
	size_t *after;

	setup(3);
	P->ngroups = 4;
	P->groups = g = dr_arena_zalloc(A, 4 * sizeof(dr_group));
	g[0].name = S("data");
	g[0].machines = dr_arena_zalloc(A, 2 * sizeof(size_t));
	g[0].machines[0] = 0;
	g[0].machines[1] = 1;
	g[0].nmachines = 2;
	g[1].name = S("web");
	g[1].machines = dr_arena_zalloc(A, sizeof(size_t));
	g[1].machines[0] = 1;
	g[1].nmachines = 1;
	g[2].name = S("app");
	g[3].name = S("DATA");
	/* data -> app -> web -> data, and web waits for itself. */
	after = dr_arena_zalloc(A, 8 * sizeof(size_t));
	after[0] = 2;
	g[0].after = &after[0];
	g[0].nafter = 1;
	after[1] = 1;
	g[2].after = &after[1];
	g[2].nafter = 1;
	after[2] = 1;
	after[3] = 0;
	g[1].after = &after[2];
	g[1].nafter = 2;
	g[1].after_at = node(70, 12);
	check();
	EXPECT("PLAN-MACHINE-IN-TWO-GROUPS", DR_SEV_ERROR,
	       "machine 'vm2' is already in group 'data': a machine belongs to "
	       "exactly one group, remove it from one");
	EXPECT("PLAN-UNGROUPED-MACHINE", DR_SEV_ERROR,
	       "machine 'vm3' is in no group, so no operation would touch it: add "
	       "it to a group");
	EXPECT("PLAN-DUPLICATE-GROUP", DR_SEV_ERROR,
	       "group 'DATA' is already defined as 'data' (names are compared "
	       "case-insensitively): rename or merge them");
	EXPECT("PLAN-SELF-DEPENDENCY", DR_SEV_ERROR,
	       "group 'web' waits for itself: remove it from its own `after` list");
	CHECK_INT(cnt("PLAN-CYCLE"), 1);
	EXPECT("PLAN-CYCLE", DR_SEV_ERROR,
	       "groups depend on each other in a cycle: data -> app -> web -> data: "
	       "remove one of these `after` dependencies");
	AT("PLAN-CYCLE", 70, 12);
	done();
}

TEST(cycle_large)
{
	/* A 10,000-group ring: linear, no recursion, one cycle named. */
	size_t n = 10000, i;
	dr_group *g;
	size_t *after;
	const dr_diag *c;

	setup(1);
	P->ngroups = n;
	P->groups = g = dr_arena_zalloc(A, n * sizeof(dr_group));
	after = dr_arena_zalloc(A, n * sizeof(size_t));
	for (i = 0; i < n; i++) {
		g[i].name = S(dr_arena_printf(A, "g%zu", i));
		after[i] = (i + 1) % n;
		g[i].after = &after[i];
		g[i].nafter = 1;
	}
	g[0].machines = dr_arena_zalloc(A, sizeof(size_t));
	g[0].nmachines = 1;
	check();
	CHECK_INT(cnt("PLAN-CYCLE"), 1);
	c = get("PLAN-CYCLE");
	CHECK(c && strstr(c->message, "g0 -> g1 -> g2 -> ") &&
	      strstr(c->message, "-> g30 -> ... (9968 more) -> g9999 -> g0: remove"));
	done();
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

TEST(hooks_and_gates)
{
	char dir[] = "/tmp/drplan-rules-XXXXXX";
	dr_action *act;
	const char *keys[3];
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	write_file(dr_arena_printf(A = dr_arena_new(), "%s/ok.lua", dir), "return 1\n");
	dr_arena_free(A);
	setup(1);
	P->dir = dir;
	write_file(dr_arena_printf(A, "%s/priv.pem", dir),
		   "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n"
		   "-----END PRIVATE KEY-----\n");
	write_file(dr_arena_printf(A, "%s/ok.pub", dir),
		   "-----BEGIN PUBLIC KEY-----\n"
		   "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
		   "-----END PUBLIC KEY-----\n");
	act = dr_arena_zalloc(A, 3 * sizeof(dr_action));
	act[0].kind = DR_ACTION_LUA;
	act[0].lua = S("ok.lua");
	act[1].kind = DR_ACTION_LUA;
	act[1].lua = S("lua/missing.lua");
	act[1].lua.at = node(66, 14);
	act[2].kind = DR_ACTION_MANUAL;
	act[2].manual = S("call the DBA");
	P->groups[0].post = act;
	P->groups[0].npost = 3;
	P->machines[0].pre = &act[1]; /* same missing hook, reported there too */
	P->machines[0].npre = 1;
	keys[0] = "ok.pub";
	keys[1] = "priv.pem";
	keys[2] = "nope.pub";
	P->commit_gate.at = node(80, 3);
	P->commit_gate.approvers.v = keys;
	P->commit_gate.approvers.n = 3;
	P->commit_gate.approvals.v = 4;
	P->failback_gate.at = node(90, 3);
	P->failback_gate.approvers.v = keys;
	P->failback_gate.approvers.n = 1;
	P->failback_gate.approvals.v = 1;
	check();
	CHECK_INT(cnt("PLAN-HOOK-MISSING"), 2);
	CHECK_STR(get("PLAN-HOOK-MISSING")->message,
		  dr_arena_printf(A, "Lua hook 'lua/missing.lua' does not exist (looked "
				  "for %s/lua/missing.lua): fix the path, which is "
				  "relative to the plan file's directory", dir));
	AT("PLAN-HOOK-MISSING", 66, 14);
	CHECK_INT(cnt("PLAN-APPROVER-KEY-MISSING"), 2);
	EXPECT("PLAN-APPROVER-KEY-MISSING", DR_SEV_ERROR,
	       "approver key 'priv.pem' of the commit gate is a private key; commit "
	       "only the public key (openssl pkey -in KEY -pubout): fix the path "
	       "(relative to the plan file's directory) or the file");
	CHECK_STR(nth_msg("PLAN-APPROVER-KEY-MISSING", 1),
		  "approver key 'nope.pub' of the commit gate does not exist: fix the "
		  "path (relative to the plan file's directory) or the file");
	EXPECT("PLAN-GATE-APPROVERS", DR_SEV_ERROR,
	       "the commit gate needs 4 approvals but lists only 3 approvers: lower "
	       "approvals or add approvers");
	CHECK_INT(cnt("PLAN-GATE-APPROVERS"), 1);
	done();
	f = NULL;
	(void)f;
	A = dr_arena_new();
	unlink(dr_arena_printf(A, "%s/ok.lua", dir));
	unlink(dr_arena_printf(A, "%s/priv.pem", dir));
	unlink(dr_arena_printf(A, "%s/ok.pub", dir));
	dr_arena_free(A);
	rmdir(dir);
}

TEST(speed_10000)
{
	/* 10,000 machines with static IPs: linear-ish, well under a second
	 * even with sanitizers (a few ms in a release build). */
	size_t n = 10000, i;
	struct timespec t0, t1;
	double ms;

	setup(n);
	P->networks[0].subnets[0].prefix = S("10.20.0.0/16");
	P->networks[0].nsubnets = 1;
	for (i = 0; i < n; i++)
		P->machines[i].target.ip = S(dr_arena_printf(A, "10.20.%zu.%zu",
							     4 + i / 200, 4 + i % 200));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	check();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	expect_clean();
	CHECK(ms < 1000);
	printf("10,000 machines checked in %.1f ms\n", ms);
	done();
}

TEST(ynode_positions)
{
	/* Real nodes from dr_yaml_load: position and JSON pointer. */
	static const char y[] =
		"machines:\n"
		"  - name: web01\n"
		"    source:\n"
		"      disks:\n"
		"        - { role: os, sizeGiB: 3072 }\n"
		"    target:\n"
		"      ip: 10.20.2.10\n";
	dr_ynode *root = NULL;
	const dr_diag *g;

	setup(1);
	CHECK_INT(dr_yaml_load(A, "pos.yaml", y, strlen(y), D = dr_diags_new(), &root), 0);
	dr_diags_free(D);
	if (!root) {
		done();
		return;
	}
	P->machines[0].at = dr_ynode_at(root, "/machines/0");
	P->machines[0].source.disks[0].size_gib.v = 3072;
	P->machines[0].source.disks[0].size_gib.at =
		dr_ynode_at(root, "/machines/0/source/disks/0/sizeGiB");
	P->machines[0].target.ip = S("10.20.2.10");
	P->machines[0].target.ip.at = dr_ynode_at(root, "/machines/0/target/ip");
	P->machines[0].target.size.at = NULL; /* falls back to the machine */
	P->machines[0].target.size.v = "Standard_D4s_v9";
	check();
	g = get("AZ-DISK-OS-SIZE");
	CHECK(g != NULL);
	if (g) {
		CHECK_STR(g->file, "pos.yaml");
		CHECK_INT(g->line, 5);
		CHECK_INT(g->col, 32);
		CHECK_STR(g->path, "/machines/0/source/disks/0/sizeGiB");
	}
	AT("AZ-NET-STATIC-IP-SUBNET", 7, 11);
	CHECK_STR(get("AZ-NET-STATIC-IP-SUBNET")->path, "/machines/0/target/ip");
	AT("AZ-SIZE-UNKNOWN", 2, 5);
	CHECK_STR(get("AZ-SIZE-UNKNOWN")->path, "/machines/0");
	done();
}

/* --- positions through the real loader --- */

static const char yaml_plan[] =
	"apiVersion: drplan/v1\n"                               /* 1 */
	"kind: RecoveryPlan\n"                                  /* 2 */
	"metadata: { name: pos }\n"                             /* 3 */
	"target: { provider: sim }\n"                           /* 4 */
	"defaults:\n"                                           /* 5 */
	"  target:\n"                                           /* 6 */
	"    resourceGroup: rg-dr\n"                            /* 7 */
	"    size: Standard_D4s_v3\n"                           /* 8 */
	"    network: { vnet: vnet-dr, subnet: app }\n"         /* 9 */
	"    acceleratedNetworking: true\n"                    /* 10 */
	"networks:\n"                                           /* 11 */
	"  - name: vnet-dr\n"                                   /* 12 */
	"    addressSpace: [10.20.0.0/16]\n"                    /* 13 */
	"    subnets:\n"                                        /* 14 */
	"      - { name: app, prefix: 10.20.1.0/24 }\n"         /* 15 */
	"machines:\n"                                           /* 16 */
	"  - name: web01\n"                                     /* 17 */
	"    source:\n"                                         /* 18 */
	"      os: windows\n"                                   /* 19 */
	"      osVersion: Windows Server 2019\n"                /* 20 */
	"      mobilityAgent: \"9.56\"\n"                       /* 21 */
	"      disks:\n"                                        /* 22 */
	"        - { role: os, sizeGiB: 3072 }\n"               /* 23 */
	"    target:\n"                                         /* 24 */
	"      ip: 10.20.2.10\n"                                /* 25 */
	"  - name: web02\n"                                     /* 26 */
	"    source:\n"                                         /* 27 */
	"      os: windows\n"                                   /* 28 */
	"      osVersion: Windows Server 2019\n"                /* 29 */
	"      mobilityAgent: \"9.56\"\n"                       /* 30 */
	"      disks: [{ role: os, sizeGiB: 128 }]\n"           /* 31 */
	"    target: { size: Standard_D4s_v9, ip: 10.20.1.20 }\n" /* 32 */
	"groups:\n"                                             /* 33 */
	"  - name: a\n"                                         /* 34 */
	"    machines: [web01]\n"                               /* 35 */
	"    after: [b]\n"                                      /* 36 */
	"  - name: b\n"                                         /* 37 */
	"    machines: [web02]\n"                               /* 38 */
	"    after: [a]\n";                                     /* 39 */

TEST(yaml_positions)
{
	dr_plan_load_opts o = { .no_inventory = true };
	dr_plan *p = NULL;
	const dr_diag *g;

	A = dr_arena_new();
	D = dr_diags_new();
	CHECK_INT(dr_plan_load_text(A, "pos.yaml", yaml_plan, strlen(yaml_plan), &o,
				    D, &p), 0);
	CHECK_INT(dr_diags_len(D), 0);
	if (!p) {
		dump();
		done();
		return;
	}
	CHECK_INT(dr_rules_check(p, D), 0);
	AT("AZ-DISK-OS-SIZE", 23, 32);
	g = get("AZ-DISK-OS-SIZE");
	CHECK(g && g->file && !strcmp(g->file, "pos.yaml"));
	CHECK(g && g->path && !strcmp(g->path, "/machines/0/source/disks/0/sizeGiB"));
	AT("AZ-NET-STATIC-IP-SUBNET", 25, 11);
	AT("AZ-SIZE-UNKNOWN", 32, 21);
	AT("PLAN-CYCLE", 39, 13);
	EXPECT("PLAN-CYCLE", DR_SEV_ERROR,
	       "groups depend on each other in a cycle: a -> b -> a: remove one of "
	       "these `after` dependencies");
	/* A default points at the defaults section, once after sorting. */
	CHECK_INT(cnt("AZ-NET-AFTER-FAILOVER"), 2);
	dr_diags_sort(D);
	CHECK_INT(cnt("AZ-NET-AFTER-FAILOVER"), 1);
	AT("AZ-NET-AFTER-FAILOVER", 10, 28);
	CHECK_STR(get("AZ-NET-AFTER-FAILOVER")->path, "/defaults/target/acceleratedNetworking");
	done();
}

TEST(every_rule_emitted)
{
	/* Run last: every rule of the table was triggered by some test. */
	size_t n, i, k;
	const dr_rule_info *t = dr_rule_table(&n);

	for (i = 0; i < n; i++) {
		for (k = 0; k < nseen && strcmp(seen[k], t[i].id); k++)
			;
		if (k == nseen) {
			fprintf(stderr, "no test triggers %s\n", t[i].id);
			CHECK(0);
		}
	}
	/* And nothing outside the table was emitted. */
	for (k = 0; k < nseen; k++)
		if (!dr_rule_find(seen[k]) && strncmp(seen[k], "YAML-", 5)) {
			fprintf(stderr, "emitted but not in the table: %s\n", seen[k]);
			CHECK(0);
		}
}

int main(void)
{
	RUN(sizes_catalog);
	RUN(rule_table);
	RUN(rule_docs);
	RUN(clean_plan);
	RUN(os_parse);
	RUN(os_arch);
	RUN(os_windows);
	RUN(os_win_sha2_ltsc);
	RUN(os_linux_supported);
	RUN(os_linux_kernel);
	RUN(src_vsphere);
	RUN(boot);
	RUN(disk_os);
	RUN(disk_data);
	RUN(disk_min_size);
	RUN(disk_unsupported);
	RUN(disk_filesystems);
	RUN(disk_types);
	RUN(storage_placement);
	RUN(place_avset);
	RUN(sizes_rules);
	RUN(net_after_failover);
	RUN(net_guest_nics);
	RUN(net_static_ips);
	RUN(net_unknown);
	RUN(networks_declared);
	RUN(drill_network);
	RUN(drill_schedule);
	RUN(unattended_and_webhooks);
	RUN(extra_time);
	RUN(names_vm);
	RUN(names_resources);
	RUN(duplicates);
	RUN(groups);
	RUN(cycle_large);
	RUN(hooks_and_gates);
	RUN(speed_10000);
	RUN(ynode_positions);
	RUN(yaml_positions);
	RUN(every_rule_emitted);
	return test_summary();
}
