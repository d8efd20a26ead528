#include "rules/rules.h"

#include "core/arena.h"
#include "core/alloc.h"
#include "core/error.h"
#include "rules/rules-int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define E DR_SEV_ERROR
#define W DR_SEV_WARNING
#define I DR_SEV_INFO

/* Sorted by id (dr_rule_find() searches it); docs/rules.md mirrors it. */
static const dr_rule_info rule_table[] = {
	{ "AZ-AZURE-STORAGE", E, "Encryption at host is not supported for ASR targets", "[SM]" },
	{ "AZ-BOOT-GEN-SIZE", E, "The target size must support the machine's generation (UEFI: Gen2, BIOS: Gen1)", "[GEN2]; [SM] (derived)" },
	{ "AZ-BOOT-UEFI-OS", E, "UEFI machines must run an OS with a Generation 2 Marketplace image", "[SM]; [GEN2]" },
	{ "AZ-BOOT-UEFI-SECUREBOOT", E, "UEFI boot is supported only with Secure Boot disabled", "[SM]" },
	{ "AZ-BOOT-UEFI-WIN2008", E, "Windows Server 2008 / 2008 R2 with UEFI is not supported", "[SM]" },
	{ "AZ-CONN-AZURE", I, "After failover, NSGs must allow RDP/SSH and a public IP must be added for internet access", "[FO]; [TFO]; [CONN]" },
	{ "AZ-CONN-LINUX", I, "Linux sources need SSH starting at boot and allowed by the firewall", "[FO]; [TFO]; [CONN]" },
	{ "AZ-CONN-WINDOWS", I, "Windows sources need RDP, firewall rules and SAN policy OnlineAll before failover", "[FO]; [TFO]; [CONN]" },
	{ "AZ-DISK-BITLOCKER", E, "BitLocker is not supported on replicated disks", "[SM]" },
	{ "AZ-DISK-DATA-COUNT", E, "At most 64 data disks, and no more than the target size allows", "[SM]; [ER]; [SIZES]" },
	{ "AZ-DISK-DATA-SIZE", E, "Data disks can be at most 32,767 GiB (managed disks)", "[SM]; [ER]" },
	{ "AZ-DISK-MANAGED-TYPE", E, "Ultra and Premium SSD v2 disks can't be OS disks", "[DISKS]; [MOD]" },
	{ "AZ-DISK-MIN-SIZE", E, "Disks must be larger than 1 GiB (1024 MB)", "[SM]" },
	{ "AZ-DISK-OS-BASIC", E, "The OS disk must be a basic disk", "[SM]; [FAQ]; [ER]" },
	{ "AZ-DISK-OS-COUNT", E, "Exactly one OS disk", "[SM]" },
	{ "AZ-DISK-OS-SIZE", E, "OS disk at most 2048 GiB (BIOS, Gen1) or 4095 GiB (UEFI, Gen2)", "[SM]; [GEN2]" },
	{ "AZ-DISK-REFS", E, "ReFS needs Mobility service 9.23 or later", "[SM]" },
	{ "AZ-DISK-UNSUPPORTED", E, "Shared, FC, iSCSI, encrypted, NFS, SMB3, Storage Spaces, MPIO, hardware RAID and 4K-logical disks are not supported", "[SM]" },
	{ "AZ-FO-EXTRA-TIME", W, "Failover needs an extra 8-10 minute step for this machine", "[FO]; [TFO]; [FOFB]" },
	{ "AZ-FO-NO-CANCEL", I, "A failover in progress can't be cancelled without losing replication", "[FO]; [FOFB]" },
	{ "AZ-LNX-FS", E, "Linux file systems must be ext3, ext4, XFS or BTRFS (BTRFS needs Mobility 9.22)", "[SM]" },
	{ "AZ-NAME-AVSET", E, "Availability set names: 1-80 alphanumerics, _ . -", "[NAMES]" },
	{ "AZ-NAME-CASE", E, "Azure names are case-insensitive: names differing only by case collide", "[NAMES]" },
	{ "AZ-NAME-NIC", E, "Network interface names: 1-80 alphanumerics, _ . -", "[NAMES]" },
	{ "AZ-NAME-RESERVED", E, "VM names must not be Azure reserved words", "[SM]; [RESERVED]" },
	{ "AZ-NAME-RG", E, "Resource group names: 1-90 letters, digits, _ - . ( ), not ending in a period", "[NAMES]" },
	{ "AZ-NAME-VM-ARM", W, "Windows VM names over 15 characters can't match the computer name", "[NAMES]" },
	{ "AZ-NAME-VM-ASR", E, "ASR VM names: 1-63 letters, digits and hyphens, starting and ending alphanumeric", "[SM]" },
	{ "AZ-NAME-VNET-SUBNET", E, "VNet names 2-64, subnet names 1-80: alphanumerics, _ . -", "[NAMES]" },
	{ "AZ-NET-AFTER-FAILOVER", W, "Accelerated networking is not supported after failover", "[SM]; [SIZES]" },
	{ "AZ-NET-FORBIDDEN-RANGES", E, "Multicast, broadcast, loopback, link-local and 168.63.129.16 can't be used in a VNet", "[VNETFAQ]" },
	{ "AZ-NET-GUEST", E, "IPv6 and guest NIC teaming are not supported", "[SM]" },
	{ "AZ-NET-IP-DUPLICATE", E, "Two NICs can't claim the same static IP in one VNet", "[ER] (derived)" },
	{ "AZ-NET-NIC-COUNT", E, "No more NICs than the target size allows", "[ER]; [NIC]; [SIZES]" },
	{ "AZ-NET-NIC-VNET", E, "Exactly one primary NIC; all NICs in one VNet", "[NIC]; [ER]; [CONN]" },
	{ "AZ-NET-REGION", E, "Target networks must be in the vault's region", "[ER]" },
	{ "AZ-NET-RESERVED-IP", E, "Static IPs can't be the 5 addresses Azure reserves in a subnet", "[VNETFAQ]" },
	{ "AZ-NET-STATIC-IP-SUBNET", E, "A static IP must lie inside its subnet's prefix", "[ER]; [NIC]; [CONN]" },
	{ "AZ-NET-SUBNET-SIZE", I, "IPv4 subnets are between /8 and /29", "[VNETFAQ]" },
	{ "AZ-NET-TEST-NETWORK", W, "The drill network should be isolated from the failover network", "[MOD]; [TFO]" },
	{ "AZ-OS-ARCH", E, "Only 64-bit guests are supported", "[SM]" },
	{ "AZ-OS-LINUX-KERNEL", E, "RHEL/CentOS 8.4 and 8.5 need a minimum kernel", "[SM]" },
	{ "AZ-OS-LINUX-SUPPORTED", E, "Linux distribution and version must be in the support matrix", "[SM]" },
	{ "AZ-OS-WIN-LTSC", E, "Only Long-Term Servicing Channel Windows Server builds are supported", "[SM]" },
	{ "AZ-OS-WIN-SHA2", W, "Windows 2008 R2 SP1 / 7 SP1 need the SSU and SHA-2 updates for Mobility 9.30+", "[SM]" },
	{ "AZ-OS-WIN2008", E, "Windows Server 2008 (SP2) is migration-only, not for disaster recovery", "[SM]" },
	{ "AZ-OS-WINDOWS-SUPPORTED", E, "Windows version must be supported, with its minimum Mobility service", "[SM]" },
	{ "AZ-PLACE-AVSET", E, "Machines in one availability set share a VNet (and should share a size)", "[ER]; [SM]" },
	{ "AZ-PLACE-ZONE", E, "Availability zones are not supported targets; never both a set and a zone", "[SM]" },
	{ "AZ-SIZE-ACCEL-SINGLE-NIC", I, "Sizes where accelerated networking works on one NIC only, or not at all", "[SIZES]" },
	{ "AZ-SIZE-B1LS", E, "Standard_B1ls is Linux-only", "[SIZES]" },
	{ "AZ-SIZE-GT64VCPU", E, "Sizes with more than 64 vCPUs need specific guest OSes", "[SIZES]" },
	{ "AZ-SIZE-MEMORY", W, "The ASR driver uses 6% of RAM: target memory should exceed source memory / 0.94", "[SM]" },
	{ "AZ-SIZE-PREMIUM", E, "Premium disks need a size with premium storage", "[DISKS]; [SIZES]" },
	{ "AZ-SIZE-UNKNOWN", W, "Target size not in drplan's size catalog (which is partial)", "[SIZES] (drplan)" },
	{ "AZ-SRC-VSPHERE", E, "vCenter/vSphere must be 6.5, 6.7, 7.0 or 8.0", "[SM]" },
	{ "PLAN-APPROVER-KEY-MISSING", E, "Gate approver keys must exist and be PEM public keys", "drplan" },
	{ "PLAN-CYCLE", E, "Groups must not depend on each other in a cycle", "drplan" },
	{ "PLAN-DRILL-NETWORK", W, "A drill needs an isolated network", "drplan; [TFO]" },
	{ "PLAN-DRILL-OBJECTIVES", W, "Drill objectives of zero can never be met", "drplan" },
	{ "PLAN-DRILL-SCHEDULE", E, "A drill schedule is a valid 5-field cron expression in a known time zone", "drplan" },
	{ "PLAN-DUPLICATE-GROUP", E, "Group names are unique (case-insensitive)", "drplan" },
	{ "PLAN-DUPLICATE-MACHINE", E, "Machine names are unique (case-insensitive)", "drplan" },
	{ "PLAN-DUPLICATE-TARGET-NAME", E, "Target VM names are unique per resource group (case-insensitive)", "drplan; [NAMES]" },
	{ "PLAN-GATE-APPROVERS", E, "A gate can't require more approvals than it has approvers", "drplan" },
	{ "PLAN-HOOK-MISSING", E, "Lua hook files must exist (relative to the plan's directory)", "drplan" },
	{ "PLAN-MACHINE-IN-TWO-GROUPS", E, "A machine belongs to exactly one group", "drplan" },
	{ "PLAN-NETWORK-UNKNOWN", E, "VNets and subnets used should be declared under networks, so IPs can be checked", "drplan" },
	{ "PLAN-SELF-DEPENDENCY", E, "A group can't wait for itself", "drplan" },
	{ "PLAN-SUBNET-OVERLAP", E, "Subnets of a VNet don't overlap and lie in its address space", "drplan; [VNETFAQ]" },
	{ "PLAN-UNATTENDED-REASON", E, "A drill policy that auto-approves manual steps or gates records why", "drplan" },
	{ "PLAN-UNGROUPED-MACHINE", E, "Every machine is in a group", "drplan" },
	{ "PLAN-WEBHOOK-URL", W, "Webhook URLs carry no credentials and use https beyond loopback", "drplan" },
};

#undef E
#undef W
#undef I

static int cmp_rule(const void *key, const void *elem)
{
	return strcmp(key, ((const dr_rule_info *)elem)->id);
}

const dr_rule_info *dr_rule_find(const char *id)
{
	if (!id)
		return NULL;
	return bsearch(id, rule_table, DR_ARRAY_SIZE(rule_table), sizeof(rule_table[0]),
		       cmp_rule);
}

const dr_rule_info *dr_any_rule_find(const char *id)
{
	const dr_rule_info *r = dr_rule_find(id);

	return r ? r : dr_input_rule_find(id);
}

const dr_rule_info *dr_rule_table(size_t *n)
{
	*n = DR_ARRAY_SIZE(rule_table);
	return rule_table;
}

/* --- helpers --- */

const dr_ynode *dr_rat(const dr_ynode *a, const dr_ynode *b, const dr_ynode *c)
{
	return a ? a : b ? b : c;
}

const dr_ynode *dr_ritem(const dr_ynode *seq, size_t i)
{
	if (seq && seq->kind == DR_YNODE_SEQ && i < seq->n && seq->items[i])
		return seq->items[i];
	return seq;
}

char *dr_rfold(dr_arena *a, const char *s)
{
	char *r = dr_arena_strdup(a, s ? s : "");
	char *q;

	for (q = r; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return r;
}

char *dr_rkey(dr_arena *a, const char *x, const char *y)
{
	size_t nx = x ? strlen(x) : 0, ny = y ? strlen(y) : 0, i;
	char *r = dr_arena_alloc(a, nx + ny + 2);

	for (i = 0; i < nx; i++)
		r[i] = (char)tolower((unsigned char)x[i]);
	r[nx] = '\n';
	for (i = 0; i < ny; i++)
		r[nx + 1 + i] = (char)tolower((unsigned char)y[i]);
	r[nx + ny + 1] = '\0';
	return r;
}

const dr_pstr *dr_rtarget_name(const dr_machine *m)
{
	return m->target.name.v ? &m->target.name : &m->name;
}

bool dr_rtarget_explicit(const dr_machine *m)
{
	return m->target.name.v &&
	       (m->target.name.v != m->name.v || m->target.name.at != m->name.at);
}

static bool says(const dr_ynode *n, const char *name)
{
	return n && n->kind == DR_YNODE_SCALAR && n->str && !strcmp(n->str, name);
}

const dr_ynode *dr_ritem_named(const dr_ynode *seq, size_t i, const char *name)
{
	size_t k;

	if (!seq || seq->kind != DR_YNODE_SEQ || !name)
		return dr_ritem(seq, i);
	if (i < seq->n && says(seq->items[i], name))
		return seq->items[i];
	/* Bounded, so a pathological list can't make reporting quadratic. */
	for (k = 0; k < seq->n && k < 4096; k++)
		if (says(seq->items[k], name))
			return seq->items[k];
	return seq;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

void dr_rmap_init(dr_rmap *m, dr_arena *a, size_t expect)
{
	size_t cap = 16;

	while (cap < expect * 2 + 1)
		cap *= 2;
	m->cap = cap;
	m->n = 0;
	m->keys = dr_arena_zalloc(a, cap * sizeof(*m->keys));
	m->vals = dr_arena_zalloc(a, cap * sizeof(*m->vals));
}

bool dr_rmap_put(dr_rmap *m, const char *key, size_t val, size_t *old)
{
	size_t i = (size_t)hash_str(key) & (m->cap - 1);

	/* The capacity is fixed at twice the expected count, so it never fills. */
	while (m->keys[i]) {
		if (!strcmp(m->keys[i], key)) {
			if (old)
				*old = m->vals[i];
			return false;
		}
		i = (i + 1) & (m->cap - 1);
	}
	if (m->n * 2 + 2 > m->cap)
		return true; /* over the expected count: give up detecting */
	m->keys[i] = key;
	m->vals[i] = val;
	m->n++;
	return true;
}

bool dr_rmap_get(const dr_rmap *m, const char *key, size_t *val)
{
	size_t i = (size_t)hash_str(key) & (m->cap - 1);

	while (m->keys[i]) {
		if (!strcmp(m->keys[i], key)) {
			*val = m->vals[i];
			return true;
		}
		i = (i + 1) & (m->cap - 1);
	}
	return false;
}

/* --- networks index --- */

static int cmp_net(const void *a, const void *b)
{
	const dr_network *x = *(const dr_network *const *)a;
	const dr_network *y = *(const dr_network *const *)b;

	return dr_rcasecmp(x->name.v ? x->name.v : "", y->name.v ? y->name.v : "");
}

const dr_network *dr_rules_find_net(const dr_rctx *c, const char *name)
{
	size_t lo = 0, hi = c->nnets;

	if (!name)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *n = c->nets[mid]->name.v ? c->nets[mid]->name.v : "";
		int r = dr_rcasecmp(name, n);

		if (!r)
			return c->nets[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int cmp_subnet(const void *a, const void *b)
{
	const dr_network_subnet *x = *(const dr_network_subnet *const *)a;
	const dr_network_subnet *y = *(const dr_network_subnet *const *)b;

	return dr_rcasecmp(x->name.v ? x->name.v : "", y->name.v ? y->name.v : "");
}

/* Sorted subnet indexes, so 10,000 machines over 200 subnets stay cheap. */
static void index_subnets(dr_rctx *c)
{
	const dr_plan *p = c->p;
	size_t i, j;

	c->subnets = dr_arena_zalloc(c->a, (p->nnetworks + 1) * sizeof(*c->subnets));
	for (i = 0; i < p->nnetworks; i++) {
		const dr_network *n = &p->networks[i];
		const dr_network_subnet **v =
			dr_arena_zalloc(c->a, (n->nsubnets + 1) * sizeof(*v));

		for (j = 0; j < n->nsubnets; j++)
			v[j] = &n->subnets[j];
		qsort(v, n->nsubnets, sizeof(*v), cmp_subnet);
		c->subnets[i] = v;
	}
}

const dr_network_subnet *dr_rules_find_subnet(const dr_rctx *c,
					      const dr_network *n,
					      const char *name)
{
	const dr_network_subnet **v;
	size_t lo = 0, hi;

	if (!n || !name || n < c->p->networks || n >= c->p->networks + c->p->nnetworks)
		return NULL;
	v = c->subnets[n - c->p->networks];
	hi = n->nsubnets;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = dr_rcasecmp(name, v[mid]->name.v ? v[mid]->name.v : "");

		if (!r)
			return v[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Reminders that hold for every plan: once each, at the plan root. */
static void once_per_plan(dr_rctx *c)
{
	const dr_plan *p = c->p;
	const dr_machine *win = NULL, *lnx = NULL;
	size_t i;

	for (i = 0; i < p->nmachines && (!win || !lnx); i++) {
		const dr_machine *m = &p->machines[i];

		if (m->source.os == DR_OS_WINDOWS && !win)
			win = m;
		else if (m->source.os == DR_OS_LINUX && !lnx)
			lnx = m;
	}
	if (win)
		dr_diag_at(c->d, dr_rat(win->source.os_at, win->at, NULL), DR_SEV_INFO,
			   "AZ-CONN-WINDOWS",
			   "before failover, Windows machines need RDP enabled and allowed "
			   "by the firewall, SAN policy OnlineAll, no pending updates, "
			   "and no static persistent routes or WinHTTP proxy");
	if (lnx)
		dr_diag_at(c->d, dr_rat(lnx->source.os_at, lnx->at, NULL), DR_SEV_INFO,
			   "AZ-CONN-LINUX",
			   "before failover, Linux machines need the SSH service set to "
			   "start at boot and firewall rules that allow SSH");
	if (p->nmachines) {
		dr_diag_at(c->d, p->root, DR_SEV_INFO, "AZ-CONN-AZURE",
			   "after failover, NSG rules on the VMs and subnets must allow "
			   "inbound RDP/SSH, and internet access needs a public IP added "
			   "after failover (the on-premises one can't be reused)");
		dr_diag_at(c->d, p->root, DR_SEV_INFO, "AZ-FO-NO-CANCEL",
			   "replication stops when a failover starts: cancelling a "
			   "failover in progress leaves the machines unreplicated");
	}
}

int dr_rules_check(const dr_plan *p, dr_diags *d)
{
	dr_rctx c;
	size_t i;
	int rc;

	if (!p || !d)
		return dr_error_set(DR_EINVAL, "dr_rules_check: no plan");
	rc = dr_sizes_load();
	if (rc)
		return rc;
	memset(&c, 0, sizeof(c));
	c.p = p;
	c.d = d;
	c.a = dr_arena_new();
	c.nnets = p->nnetworks;
	c.nets = dr_arena_zalloc(c.a, (p->nnetworks + 1) * sizeof(*c.nets));
	for (i = 0; i < p->nnetworks; i++)
		c.nets[i] = &p->networks[i];
	qsort(c.nets, c.nnets, sizeof(*c.nets), cmp_net);
	index_subnets(&c);

	dr_rules_networks(&c);
	for (i = 0; i < p->nmachines; i++) {
		const dr_machine *m = &p->machines[i];
		const dr_vm_size *size = dr_size_find(m->target.size.v);
		size_t before = dr_diags_len(d), k;
		dr_osinfo os;

		dr_os_parse(m->source.os_version.v, &os);
		dr_rules_os(&c, m, &os);
		dr_rules_machine(&c, m, &os, size);
		dr_rules_machine_net(&c, m, size);
		dr_rules_names(&c, m, &os);
		/* A fact from the inventory is positioned in the inventory file;
		 * say which machine of the plan it concerns. */
		for (k = before; k < dr_diags_len(d); k++) {
			dr_diag *g = dr_diags_get_mut(d, k);

			if (g->file && p->file && strcmp(g->file, p->file) && !g->note)
				dr_diag_note(g, "for machine \"%s\" of %s", m->name.v,
					     p->file);
		}
	}
	dr_rules_avsets(&c);
	dr_rules_net_plan(&c);
	dr_rules_name_plan(&c);
	dr_rules_plan(&c);
	once_per_plan(&c);
	dr_arena_free(c.a);
	return 0;
}
