/*
 * azure.c - per-machine Azure rules: boot and generation, disks, target
 * size, storage, placement and failover time.
 */
#include "plan/facts.h"
#include "rules/rules-int.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB_MANAGED_MAX 32767 /* [SM] Storage: "Up to 32,767 GB" */

static bool uefi_os_ok(const dr_osinfo *o)
{
	int mi = o->minor;

	/* [GEN2] "Generation 2 VM images in Azure Marketplace"; a version
	 * without a minor number gets the benefit of the doubt. */
	switch (o->kind) {
	case DR_OSK_WINSERVER:
		return o->major == 2022 || o->major == 2019 || o->major == 2016 ||
		       o->major == 2012;
	case DR_OSK_WINCLIENT:
		return o->major == 10 || o->major == 11;
	case DR_OSK_SLES:
		return (o->major == 15 && (mi == 2 || mi == 3)) ||
		       (o->major == 12 && mi == 4);
	case DR_OSK_UBUNTU:
		return (o->major == 16 || o->major == 18 || o->major == 20 ||
			o->major == 22) && (mi < 0 || mi == 4);
	case DR_OSK_RHEL:
		return (o->major == 8 && mi <= 5) ||
		       (o->major == 7 && (mi < 0 || mi == 0 || (mi >= 4 && mi <= 9)));
	case DR_OSK_CENTOS:
		return (o->major == 8 && mi <= 4) ||
		       (o->major == 7 && (mi < 0 || (mi >= 4 && mi <= 7)));
	case DR_OSK_ORACLE:
		return (o->major == 8 && (mi < 0 || (mi >= 1 && mi <= 4))) ||
		       (o->major == 7 && (mi < 0 || (mi >= 7 && mi <= 9)));
	case DR_OSK_UNKNOWN:
		return true; /* not stated: nothing to say */
	default:
		return false;
	}
}

/*
 * The Gen2-only series [GEN2] lists that are not in the catalog, by API
 * name: Mv2/Msv2/Mdsv2, DCsv2, DCasv5/DCadsv5, Dpsv5/Dpdsv5, ECasv5/
 * ECadsv5, Epsv5/Epdsv5, FX, GS, NDv2, ND A100 v4, NC A100 v4, NDm A100 v4.
 * Returns the series name, or NULL.
 */
static const char *gen2_only_series(const char *size)
{
	static const struct {
		const char *re, *series;
	} pats[] = {
		{ "^standard_m[0-9]+[a-z]*_v2$", "Mv2/Msv2/Mdsv2" },
		{ "^standard_dc[0-9]+s_v2$", "DCsv2" },
		{ "^standard_dc[0-9]+ad?s_v5$", "DCasv5/DCadsv5" },
		{ "^standard_d[0-9]+pd?s_v5$", "Dpsv5/Dpdsv5" },
		{ "^standard_ec[0-9]+ad?s_v5$", "ECasv5/ECadsv5" },
		{ "^standard_e[0-9]+pd?s_v5$", "Epsv5/Epdsv5" },
		{ "^standard_fx[0-9]+m?d?s$", "FX" },
		{ "^standard_gs[0-9]+(-[0-9]+)?$", "GS" },
		{ "^standard_nd40rs_v2$", "NDv2" },
		{ "^standard_nd96asr_v4$", "ND A100 v4" },
		{ "^standard_nc[0-9]+ads_a100_v4$", "NC A100 v4" },
		{ "^standard_nd96amsr_a100_v4$", "NDm A100 v4" },
	};
	static regex_t re[sizeof(pats) / sizeof(pats[0])];
	static int compiled; /* 0 not yet, 1 ok, -1 failed */
	size_t i;

	if (!compiled) {
		compiled = 1;
		for (i = 0; i < sizeof(pats) / sizeof(pats[0]) && compiled > 0; i++)
			if (regcomp(&re[i], pats[i].re, REG_EXTENDED | REG_ICASE | REG_NOSUB))
				compiled = -1;
	}
	if (compiled < 0 || !size)
		return NULL;
	for (i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		if (!regexec(&re[i], size, 0, NULL, 0))
			return pats[i].series;
	return NULL;
}

static void boot_rules(dr_rctx *c, const dr_machine *m, const dr_osinfo *os,
		       const dr_vm_size *size)
{
	const dr_source *s = &m->source;
	const dr_ynode *bat = dr_rat(s->boot_at, s->at, m->at);
	const char *series;

	if (s->boot != DR_BOOT_UEFI) {
		/* Only sizes the catalog lacks can be Gen2-only. */
		if (!size && m->target.size.v && (series = gen2_only_series(m->target.size.v)))
			dr_diag_at(c->d, dr_rat(m->target.size.at, m->target.at, m->at),
				   DR_SEV_ERROR, "AZ-BOOT-GEN-SIZE",
				   "BIOS machines fail over as Generation 1 VMs, and %s (%s "
				   "series) supports Generation 2 only: choose a Generation 1 "
				   "size or convert the machine to UEFI", m->target.size.v,
				   series);
		return;
	}
	if (s->secure_boot.v)
		dr_diag_at(c->d, dr_rat(s->secure_boot.at, bat, NULL), DR_SEV_ERROR,
			   "AZ-BOOT-UEFI-SECUREBOOT",
			   "Secure Boot is enabled; ASR supports UEFI machines only "
			   "with Secure Boot disabled: disable Secure Boot on the source");
	if (os->kind == DR_OSK_WINSERVER && os->major == 2008)
		dr_diag_at(c->d, bat, DR_SEV_ERROR, "AZ-BOOT-UEFI-WIN2008",
			   "%s with UEFI boot is not supported: convert the machine "
			   "to BIOS boot or upgrade the OS", s->os_version.v);
	else if (!uefi_os_ok(os))
		dr_diag_at(c->d, bat, DR_SEV_ERROR, "AZ-BOOT-UEFI-OS",
			   "UEFI boot is supported only for operating systems with an "
			   "Azure Generation 2 Marketplace image, and '%s' is not one: "
			   "convert the machine to BIOS boot or upgrade the OS",
			   s->os_version.v);
	if (size && !size->gen2)
		dr_diag_at(c->d, dr_rat(m->target.size.at, m->target.at, m->at),
			   DR_SEV_ERROR, "AZ-BOOT-GEN-SIZE",
			   "UEFI machines fail over as Generation 2 VMs, and %s (%s "
			   "series) supports Generation 1 only: choose a Generation 2 "
			   "size", size->name, size->family);
}

static const char *disk_label(const dr_disk *k, size_t i, char *buf, size_t n)
{
	if (k->name.v)
		snprintf(buf, n, "disk '%s'", k->name.v);
	else
		snprintf(buf, n, "disk %zu", i + 1);
	return buf;
}

static bool ultra_type(const char *t)
{
	return t && (!dr_rncasecmp(t, "UltraSSD", 8) || !dr_rncasecmp(t, "PremiumV2", 9));
}

static bool premium_type(const char *t)
{
	return t && !dr_rncasecmp(t, "Premium", 7);
}

static void unsupported_flags(dr_rctx *c, const dr_disk *k, const char *label)
{
	static const struct {
		size_t off;
		const char *what;
	} flags[] = {
		{ offsetof(dr_disk, shared), "is a shared disk (shared VHD or cluster disk)" },
		{ offsetof(dr_disk, fc), "is a guest Fibre Channel disk" },
		{ offsetof(dr_disk, iscsi), "is a guest iSCSI disk (supported for migration only)" },
		{ offsetof(dr_disk, encrypted), "is encrypted in the guest" },
		{ offsetof(dr_disk, nfs), "is an NFS mount" },
		{ offsetof(dr_disk, smb3), "is an SMB 3.0 share" },
		{ offsetof(dr_disk, storage_spaces), "is part of Storage Spaces" },
		{ offsetof(dr_disk, mpio), "uses guest multipath I/O (MPIO)" },
		{ offsetof(dr_disk, hardware_raid), "is on hardware RAID (software RAID is supported)" },
	};
	size_t i;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		const dr_pbool *b = (const dr_pbool *)((const char *)k + flags[i].off);

		if (b->v)
			dr_diag_at(c->d, dr_rat(b->at, k->at, NULL), DR_SEV_ERROR,
				   "AZ-DISK-UNSUPPORTED",
				   "%s %s, which ASR can't replicate: move the data to a "
				   "supported disk or exclude the disk", label, flags[i].what);
	}
	/* Sector sizes are logical/physical; "512e" (512 logical on 4K
	 * physical) is supported, 4K logical is not. */
	if (k->sector.v && (!dr_rncasecmp(k->sector.v, "4k/", 3) ||
			    !dr_rcasecmp(k->sector.v, "4kn") ||
			    !dr_rncasecmp(k->sector.v, "4096/", 5)))
		dr_diag_at(c->d, dr_rat(k->sector.at, k->at, NULL), DR_SEV_ERROR,
			   "AZ-DISK-UNSUPPORTED",
			   "%s has sector size %s (4K logical), which ASR can't "
			   "replicate: use a disk with 512-byte logical sectors", label,
			   k->sector.v);
	if (k->bitlocker.v)
		dr_diag_at(c->d, dr_rat(k->bitlocker.at, k->at, NULL), DR_SEV_ERROR,
			   "AZ-DISK-BITLOCKER",
			   "%s uses BitLocker, which ASR doesn't support: disable "
			   "BitLocker before enabling replication and keep it off", label);
}

static void fs_rules(dr_rctx *c, const dr_machine *m, const dr_disk *k,
		     const char *label)
{
	const char *fs = k->filesystem.v, *mob = m->source.mobility_agent.v;
	const dr_ynode *at = dr_rat(k->filesystem.at, k->at, NULL);

	if (!fs)
		return;
	if (!dr_rcasecmp(fs, "refs")) {
		if (mob && dr_version_cmp(mob, "9.23") < 0)
			dr_diag_at(c->d, at, DR_SEV_ERROR, "AZ-DISK-REFS",
				   "%s uses ReFS, which needs Mobility service 9.23 or "
				   "later, not %s: upgrade the Mobility service", label, mob);
		return;
	}
	if (m->source.os != DR_OS_LINUX)
		return;
	if (!dr_rcasecmp(fs, "btrfs")) {
		if (mob && dr_version_cmp(mob, "9.22") < 0)
			dr_diag_at(c->d, at, DR_SEV_ERROR, "AZ-LNX-FS",
				   "%s uses BTRFS, which needs Mobility service 9.22 or "
				   "later, not %s: upgrade the Mobility service", label, mob);
	} else if (dr_rcasecmp(fs, "ext3") && dr_rcasecmp(fs, "ext4") &&
		   dr_rcasecmp(fs, "xfs")) {
		dr_diag_at(c->d, at, DR_SEV_ERROR, "AZ-LNX-FS",
			   "%s uses file system '%s'; ASR supports ext3, ext4, XFS and "
			   "BTRFS on Linux: move the data to a supported file system",
			   label, fs);
	}
}

/* Standard_D4_v3 -> Standard_D4s_v3, when the catalog has it with premium. */
static const dr_vm_size *premium_sibling(const dr_vm_size *size)
{
	const char *v = strstr(size->name, "_v");
	const dr_vm_size *alt;
	char buf[64];

	if (!v || (size_t)(v - size->name) + strlen(v) + 2 > sizeof(buf))
		return NULL;
	snprintf(buf, sizeof(buf), "%.*ss%s", (int)(v - size->name), size->name, v);
	alt = dr_size_find(buf);
	return alt && alt->premium_storage ? alt : NULL;
}

static void disk_rules(dr_rctx *c, const dr_machine *m, const dr_vm_size *size)
{
	const dr_source *s = &m->source;
	const dr_target *t = &m->target;
	const dr_ynode *dat = dr_rat(s->disks_at, s->at, m->at);
	bool uefi = s->boot == DR_BOOT_UEFI, premium_done = false;
	long long os_max = uefi ? 4095 : 2048;
	size_t i, nos = 0, ndata = 0;
	char label[128];

	for (i = 0; i < s->ndisks; i++) {
		const dr_disk *k = &s->disks[i];
		const dr_ynode *kat = dr_rat(k->at, dat, NULL);
		const dr_ynode *sat = dr_rat(k->size_gib.at, kat, NULL);
		const dr_pstr *type = k->target_type.v ? &k->target_type : &t->disk_type;
		const dr_ynode *tat = dr_rat(type->at, t->at, m->at);

		disk_label(k, i, label, sizeof(label));
		if (k->role == DR_DISK_OS) {
			if (++nos == 2)
				dr_diag_at(c->d, dr_rat(k->role_at, kat, NULL), DR_SEV_ERROR,
					   "AZ-DISK-OS-COUNT",
					   "%s is a second OS disk; ASR supports exactly one "
					   "OS disk (boot and system on one disk): make it a "
					   "data disk", label);
			if (k->size_gib.at && k->size_gib.v > os_max)
				dr_diag_at(c->d, sat, DR_SEV_ERROR, "AZ-DISK-OS-SIZE",
					   uefi ? "OS disk is %lld GiB; Generation 2 (UEFI) "
						  "machines allow at most %lld GiB: shrink the disk"
						: "OS disk is %lld GiB; Generation 1 (BIOS) "
						  "machines allow at most %lld GiB: convert the "
						  "machine to UEFI or shrink the disk",
					   k->size_gib.v, os_max);
			if (k->type.v && !dr_rcasecmp(k->type.v, "dynamic"))
				dr_diag_at(c->d, dr_rat(k->type.at, kat, NULL), DR_SEV_ERROR,
					   "AZ-DISK-OS-BASIC",
					   "the OS disk is a dynamic disk; ASR needs a basic "
					   "OS disk: convert it to a basic disk");
			if (ultra_type(type->v))
				dr_diag_at(c->d, tat, DR_SEV_ERROR, "AZ-DISK-MANAGED-TYPE",
					   "disk type %s can't be used for the OS disk: use "
					   "Premium_LRS, StandardSSD_LRS or Standard_LRS for it",
					   type->v);
		} else {
			ndata++;
			if (k->size_gib.at && k->size_gib.v > GIB_MANAGED_MAX)
				dr_diag_at(c->d, sat, DR_SEV_ERROR, "AZ-DISK-DATA-SIZE",
					   "%s is %lld GiB; ASR replicates disks of at most "
					   "32,767 GiB to managed disks: split the data over "
					   "smaller disks", label, k->size_gib.v);
		}
		if (k->size_gib.at && k->size_gib.v <= 1)
			dr_diag_at(c->d, sat, DR_SEV_ERROR, "AZ-DISK-MIN-SIZE",
				   "%s is %lld GiB; ASR needs disks larger than 1 GiB "
				   "(1024 MB): grow the disk or exclude it", label,
				   k->size_gib.v);
		unsupported_flags(c, k, label);
		fs_rules(c, m, k, label);
		if (!premium_done && size && !size->premium_storage &&
		    premium_type(type->v)) {
			const dr_vm_size *alt = premium_sibling(size);

			premium_done = true;
			dr_diag_at(c->d, tat, DR_SEV_ERROR, "AZ-SIZE-PREMIUM",
				   "disk type %s needs a size with premium storage, and %s "
				   "has none: choose %s%s or a Standard disk type", type->v,
				   size->name, alt ? alt->name : "a size with premium storage",
				   alt ? " (same size with premium storage)" : "");
		}
	}
	if (s->disks_at && s->ndisks && !nos)
		dr_diag_at(c->d, dat, DR_SEV_ERROR, "AZ-DISK-OS-COUNT",
			   "no disk has role os; ASR needs exactly one OS (boot) disk: "
			   "mark the boot disk with role: os");
	if (ndata > 64)
		dr_diag_at(c->d, dat, DR_SEV_ERROR, "AZ-DISK-DATA-COUNT",
			   "%zu data disks; ASR supports at most 64: exclude or "
			   "consolidate disks", ndata);
	else if (size && ndata > (size_t)size->max_data_disks)
		dr_diag_at(c->d, dr_rat(t->size.at, t->at, m->at), DR_SEV_ERROR,
			   "AZ-DISK-DATA-COUNT",
			   "%zu data disks, and %s allows at most %d: choose a larger "
			   "size or exclude disks", ndata, size->name, size->max_data_disks);
}

static bool ieq(const char *a, const char *b)
{
	return a && b && !dr_rcasecmp(a, b);
}

static bool vmin(const dr_osinfo *o, int major, int minor)
{
	return o->major > major ||
	       (o->major == major && (o->minor < 0 || o->minor >= minor));
}

/* [SIZES] footnotes of fsv2-series.md, m-series.md and lsv2-series.md. */
static bool gt64_os_ok(const char *size, const dr_osinfo *o)
{
	bool rh = o->kind == DR_OSK_RHEL || o->kind == DR_OSK_CENTOS;

	if (ieq(size, "Standard_F72s_v2"))
		switch (o->kind) {
		case DR_OSK_WINSERVER: return o->major >= 2016;
		case DR_OSK_UBUNTU: return o->major >= 16;
		case DR_OSK_SLES: return vmin(o, 12, 2);
		case DR_OSK_RHEL: case DR_OSK_CENTOS:
			/* 6.7-6.10 and 7.3 also need Microsoft LIS, not checkable. */
			return (o->major == 6 && o->minor >= 7) || vmin(o, 7, 6) ||
			       (o->major == 7 && o->minor == 3);
		case DR_OSK_ORACLE: return true; /* with UEK4 or later */
		case DR_OSK_DEBIAN: return o->major >= 9;
		default: return false;
		}
	if (ieq(size, "Standard_L80s_v2"))
		switch (o->kind) {
		case DR_OSK_WINSERVER: return o->major >= 2016;
		case DR_OSK_UBUNTU: return o->major >= 18;
		case DR_OSK_SLES: return vmin(o, 12, 5);
		case DR_OSK_RHEL: return (o->major == 6 && o->minor == 10) || vmin(o, 7, 9);
		case DR_OSK_ORACLE: return true;
		case DR_OSK_DEBIAN: return o->major >= 9;
		default: return false;
		}
	/* M128s, M128ms, M128, M128m: the page lists Windows Server 2016 only. */
	switch (o->kind) {
	case DR_OSK_WINSERVER: return o->major == 2016;
	case DR_OSK_UBUNTU: return o->major >= 18;
	case DR_OSK_SLES: return vmin(o, 12, 2);
	case DR_OSK_RHEL: return o->major >= 7 && o->major <= 9;
	default: return rh ? vmin(o, 7, 3) : o->kind == DR_OSK_ORACLE && vmin(o, 7, 3);
	}
}

static bool is_gt64(const char *size)
{
	static const char *const big[] = { "Standard_F72s_v2", "Standard_L80s_v2",
					   "Standard_M128s", "Standard_M128ms",
					   "Standard_M128", "Standard_M128m" };
	size_t i;

	for (i = 0; i < sizeof(big) / sizeof(big[0]); i++)
		if (ieq(size, big[i]))
			return true;
	return false;
}

static void size_rules(dr_rctx *c, const dr_machine *m, const dr_osinfo *os,
		       const dr_vm_size *size)
{
	const dr_source *s = &m->source;
	const dr_target *t = &m->target;
	const dr_ynode *zat = dr_rat(t->size.at, t->at, m->at);
	const char *name = t->size.v;

	if (!name)
		return;
	if (!size) {
		const dr_vm_size *near = dr_size_suggest(name);
		dr_diag *g = dr_diag_at(c->d, zat, DR_SEV_WARNING, "AZ-SIZE-UNKNOWN",
					"size '%s' is not in drplan's size catalog, so "
					"its limits can't be checked: check the name",
					name);

		if (near)
			dr_diag_note(g, "did you mean '%s'?", near->name);
	}
	if (ieq(name, "Standard_B1ls") && s->os == DR_OS_WINDOWS)
		dr_diag_at(c->d, zat, DR_SEV_ERROR, "AZ-SIZE-B1LS",
			   "Standard_B1ls supports Linux only: choose another size "
			   "(e.g. Standard_B1s) for this Windows machine");
	if (is_gt64(name) && os->kind != DR_OSK_UNKNOWN && !gt64_os_ok(name, os))
		dr_diag_at(c->d, zat, DR_SEV_ERROR, "AZ-SIZE-GT64VCPU",
			   "%s has more than 64 vCPUs and doesn't support '%s': choose "
			   "a size with at most 64 vCPUs or a supported OS", name,
			   s->os_version.v);
	if (size && s->memory_gib.at && s->memory_gib.v > 0 &&
	    size->memory_gib < s->memory_gib.v / 0.94)
		dr_diag_at(c->d, zat, DR_SEV_WARNING, "AZ-SIZE-MEMORY",
			   "%s has %g GiB of memory; the source has %g GiB and the "
			   "Site Recovery driver uses 6%% of it: choose a size with at "
			   "least %.1f GiB", size->name, size->memory_gib,
			   s->memory_gib.v, s->memory_gib.v / 0.94);
}

static void accel_rules(dr_rctx *c, const dr_machine *m, const dr_vm_size *size)
{
	const dr_target *t = &m->target;
	const dr_ynode *zat = dr_rat(t->size.at, t->at, m->at);
	size_t nics = t->nnics > m->source.nnics ? t->nnics : m->source.nnics;

	if (t->accelerated_networking.v) {
		dr_diag_at(c->d, dr_rat(t->accelerated_networking.at, t->at, m->at),
			   DR_SEV_WARNING, "AZ-NET-AFTER-FAILOVER",
			   "accelerated networking is not supported after an ASR "
			   "failover: turn it off here and enable it after failover");
		if (size && (ieq(size->name, "Standard_D2_v3") ||
			     ieq(size->name, "Standard_D2s_v3") ||
			     ieq(size->name, "Standard_D2_v4") ||
			     ieq(size->name, "Standard_D2s_v4")) && nics > 1)
			dr_diag_at(c->d, zat, DR_SEV_INFO, "AZ-SIZE-ACCEL-SINGLE-NIC",
				   "on %s accelerated networking applies to a single NIC "
				   "only", size->name);
		else if (size && size->accelerated_networking == DR_ACCEL_NO)
			/* The catalog has the B-series exceptions (B12ms, B16ms,
			 * B20ms) and the series without it (Av2). */
			dr_diag_at(c->d, zat, DR_SEV_INFO, "AZ-SIZE-ACCEL-SINGLE-NIC",
				   "%s doesn't support accelerated networking", size->name);
	} else if (size && size->accelerated_networking == DR_ACCEL_REQUIRED) {
		dr_diag_at(c->d, zat, DR_SEV_WARNING, "AZ-NET-AFTER-FAILOVER",
			   "%s requires accelerated networking, which is not supported "
			   "after an ASR failover: choose a size where it is optional "
			   "(e.g. the v4 series)", size->name);
	}
}

static void placement_rules(dr_rctx *c, const dr_machine *m)
{
	const dr_target *t = &m->target;

	if (t->encryption_at_host.v)
		dr_diag_at(c->d, dr_rat(t->encryption_at_host.at, t->at, m->at),
			   DR_SEV_ERROR, "AZ-AZURE-STORAGE",
			   "encryption at host is not supported for ASR targets: turn "
			   "it off (server-side encryption with platform or customer "
			   "keys is supported)");
	if (t->availability_zone.v && t->availability_set.v)
		dr_diag_at(c->d, dr_rat(t->availability_zone.at, t->at, m->at),
			   DR_SEV_ERROR, "AZ-PLACE-ZONE",
			   "the machine declares both availability set '%s' and zone "
			   "'%s', and ASR doesn't support zones for VMware/physical "
			   "machines: keep the availability set and remove the zone",
			   t->availability_set.v, t->availability_zone.v);
	else if (t->availability_zone.v)
		dr_diag_at(c->d, dr_rat(t->availability_zone.at, t->at, m->at),
			   DR_SEV_ERROR, "AZ-PLACE-ZONE",
			   "availability zones are not supported as a target for "
			   "VMware/physical machines: remove the zone (use an "
			   "availability set for redundancy)");
}

static void extra_time(dr_rctx *c, const dr_machine *m)
{
	const dr_source *s = &m->source;
	const char *why = dr_machine_extra_failover_reason(m);
	const dr_ynode *at;
	const char *fix;

	if (!why)
		return;
	/* The same order as facts.c, to point at the fact that decided. */
	if (s->kind == DR_SRC_PHYSICAL) {
		at = s->kind_at;
		fix = "allow for it in the RTO";
	} else if (s->mobility_agent.v && dr_version_cmp(s->mobility_agent.v, "9.8") < 0) {
		at = s->mobility_agent.at;
		fix = "upgrade the Mobility service to 9.8 or later";
	} else if (s->os == DR_OS_LINUX) {
		at = s->os_at;
		fix = "allow for it in the RTO";
	} else if (s->boot_drivers.at) {
		at = s->boot_drivers.at;
		fix = "make storvsc, vmbus, storflt, intelide and atapi boot drivers";
	} else {
		at = s->dhcp_service.at;
		fix = "enable the DHCP client service in the guest";
	}
	dr_diag_at(c->d, dr_rat(at, s->at, m->at), DR_SEV_WARNING, "AZ-FO-EXTRA-TIME",
		   "failover takes about 8 to 10 minutes longer (%s): %s", why, fix);
}

void dr_rules_machine(dr_rctx *c, const dr_machine *m, const dr_osinfo *os,
		      const dr_vm_size *size)
{
	boot_rules(c, m, os, size);
	disk_rules(c, m, size);
	size_rules(c, m, os, size);
	accel_rules(c, m, size);
	placement_rules(c, m);
	extra_time(c, m);
}

/* --- availability sets: machines grouped by (resource group, set) --- */

typedef struct avkey {
	const char *key; /* folded "rg\navset" */
	size_t machine;
} avkey;

static int cmp_avkey(const void *a, const void *b)
{
	const avkey *x = a, *y = b;
	int r = strcmp(x->key, y->key);

	return r ? r : (x->machine < y->machine ? -1 : x->machine > y->machine);
}

void dr_rules_avsets(dr_rctx *c)
{
	const dr_plan *p = c->p;
	avkey *v = dr_arena_alloc(c->a, (p->nmachines + 1) * sizeof(*v));
	size_t i, n = 0, start;

	for (i = 0; i < p->nmachines; i++) {
		const dr_target *t = &p->machines[i].target;

		if (!t->availability_set.v)
			continue;
		v[n].key = dr_rkey(c->a, t->resource_group.v, t->availability_set.v);
		v[n++].machine = i;
	}
	qsort(v, n, sizeof(*v), cmp_avkey);
	for (start = 0; start < n; start = i) {
		const dr_machine *first = &p->machines[v[start].machine];

		for (i = start + 1; i < n && !strcmp(v[i].key, v[start].key); i++) {
			const dr_machine *m = &p->machines[v[i].machine];
			const dr_target *t = &m->target, *ft = &first->target;

			if (t->vnet.v && ft->vnet.v && dr_rcasecmp(t->vnet.v, ft->vnet.v))
				dr_diag_at(c->d, dr_rat(t->vnet.at, t->at, m->at),
					   DR_SEV_ERROR, "AZ-PLACE-AVSET",
					   "'%s' is in availability set '%s' with '%s', but on "
					   "VNet '%s' instead of '%s': VMs in one availability "
					   "set must share a VNet", m->name.v,
					   t->availability_set.v, first->name.v, t->vnet.v,
					   ft->vnet.v);
			if (t->size.v && ft->size.v && dr_rcasecmp(t->size.v, ft->size.v))
				dr_diag_at(c->d, dr_rat(t->size.at, t->at, m->at),
					   DR_SEV_WARNING, "AZ-PLACE-AVSET",
					   "'%s' is in availability set '%s' with '%s' but has "
					   "size %s instead of %s: ASR expects one size per "
					   "availability set", m->name.v, t->availability_set.v,
					   first->name.v, t->size.v, ft->size.v);
		}
	}
}
