/*
 * inventory.c - the inventory snapshot: ASR replicationProtectedItems GET
 * bodies saved as JSON, plus an optional `drplan` block per item for facts
 * ASR does not export. Facts taken from it point at its own nodes, so a
 * diagnostic names the inventory file, line and column.
 */
#include "plan/plan-private.h"

#include "core/error.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

static void on_inv_schema_error(void *ctx, const dr_ynode *at,
				const char *keyword, const char *message)
{
	(void)keyword;
	dr_diag_at(ctx, at, DR_SEV_ERROR, "INV-SCHEMA", "%s", message);
}

int dr_inventory_load(dr_arena *a, dr_diags *d, const char *file,
		      const dr_ynode *ref, dr_inventory *inv)
{
	const dr_ynode *items;
	dr_ynode *root = NULL;
	char *text = NULL;
	const char *why;
	size_t len = 0, i;
	int rc;

	memset(inv, 0, sizeof(*inv));
	inv->file = file;
	rc = dr_plan_read_file(a, file, DR_PLAN_MAX_FILE, &text, &len, &why);
	if (rc == DR_ELIMIT) {
		dr_diag_at(d, ref, DR_SEV_ERROR, "INV-READ",
			   "inventory %s is larger than %u MiB", file,
			   DR_PLAN_MAX_FILE >> 20);
		return 0;
	}
	if (rc) {
		dr_diag_at(d, ref, DR_SEV_ERROR, "INV-READ",
			   "cannot read inventory %s: %s", file, why);
		return DR_EIO;
	}
	dr_diags_add_source(d, file, text, len);
	if (dr_yaml_load(a, file, text, len, d, &root) || !root)
		return 0;
	inv->root = root;
	if (dr_pl_validate("inventory.schema.json", root, on_inv_schema_error,
			   d) > 0)
		return 0;

	items = dr_pl_seq(root, "items");
	dr_name_index_init(&inv->index, a, items ? items->n : 0);
	if (!items || !items->n) {
		inv->usable = true;
		return 0;
	}
	inv->items = dr_arena_alloc(a, items->n * sizeof(*inv->items));
	inv->keys = dr_arena_alloc(a, items->n * sizeof(*inv->keys));
	for (i = 0; i < items->n; i++) {
		const dr_ynode *it = items->items[i];
		dr_pstr key = { 0 };
		size_t prev;

		if (it->kind != DR_YNODE_MAP)
			continue;
		if (!dr_pl_str(dr_pl_map(it, "properties"), "friendlyName", &key) &&
		    !dr_pl_str(it, "name", &key))
			continue;
		if (dr_name_index_put(&inv->index, key.v, inv->nitems, &prev)) {
			dr_diag *g = dr_diag_at(d, key.at, DR_SEV_ERROR,
						"INV-DUPLICATE",
						"two inventory items are named "
						"\"%s\"", key.v);
			const dr_ynode *first = inv->items[prev];
			dr_pstr fk = { 0 };

			/* Point at the first item's key, like the error does
			 * at the second's, not at the item's opening brace. */
			if (dr_pl_str(dr_pl_map(first, "properties"),
				      "friendlyName", &fk) ||
			    dr_pl_str(first, "name", &fk))
				first = fk.at;
			dr_diag_note(g, "the first one is at line %d",
				     first->line);
			continue;
		}
		inv->items[inv->nitems] = it;
		inv->keys[inv->nitems] = key.v;
		inv->nitems++;
	}
	inv->usable = true;
	return 0;
}

/* A string fact; ASR writes "" or null for "not set". */
static const dr_ynode *inv_str(const dr_ynode *map, const char *key,
			       dr_pstr *out)
{
	dr_pstr v = { 0 };

	if (!dr_pl_str(map, key, &v) || !*v.v)
		return NULL;
	*out = v;
	return v.at;
}

/* The name at the end of an ARM id (".../resourceGroups/rg-dr"). */
static void inv_id_name(dr_arena *a, const dr_ynode *map, const char *key,
			dr_pstr *out)
{
	dr_pstr v = { 0 };
	const char *slash;

	if (!inv_str(map, key, &v))
		return;
	slash = strrchr(v.v, '/');
	if (slash && !slash[1])
		return;
	out->v = slash ? dr_arena_strdup(a, slash + 1) : v.v;
	out->at = v.at;
}

/* ASR's string booleans ("true"/"false"), or real booleans. */
static int inv_bool(const dr_ynode *map, const char *key, dr_pbool *out)
{
	const dr_ynode *n = dr_ynode_get(map, key);

	if (!n || n->kind != DR_YNODE_SCALAR)
		return 0;
	if (n->type == DR_YSCALAR_BOOL)
		out->v = n->boolean != 0;
	else if (n->type == DR_YSCALAR_STRING && !strcasecmp(n->str, "true"))
		out->v = true;
	else if (n->type == DR_YSCALAR_STRING && !strcasecmp(n->str, "false"))
		out->v = false;
	else
		return 0;
	out->at = n;
	return 1;
}

/*
 * Entries of a `drplan` list (disks, nics) by their key. A hostile file may
 * hold a million of them, so they are indexed rather than scanned per disk.
 */
typedef struct keyed {
	const dr_ynode *seq;
	dr_name_index ix;
} keyed;

static void keyed_init(dr_arena *a, keyed *k, const dr_ynode *seq,
		       const char *key)
{
	size_t i;

	k->seq = seq;
	memset(&k->ix, 0, sizeof(k->ix));
	if (!seq || !seq->n)
		return;
	dr_name_index_init(&k->ix, a, seq->n);
	for (i = 0; seq && i < seq->n; i++) {
		dr_pstr v = { 0 };

		if (dr_pl_str(seq->items[i], key, &v))
			dr_name_index_put(&k->ix, v.v, i, NULL);
	}
}

static const dr_ynode *keyed_get(const keyed *k, const char *value)
{
	size_t i = dr_name_index_get(&k->ix, value);

	return i == (size_t)-1 ? NULL : k->seq->items[i];
}

static void apply_disks(dr_arena *a, const dr_ynode *psd, const dr_ynode *ext,
			dr_source *s)
{
	const dr_ynode *seq = dr_pl_seq(psd, "protectedDisks");
	keyed extdisks;
	size_t i;

	if (!seq)
		return;
	keyed_init(a, &extdisks, dr_pl_seq(ext, "disks"), "diskName");
	s->disks = dr_arena_zalloc(a, (seq->n ? seq->n : 1) * sizeof(*s->disks));
	s->ndisks = 0;
	s->disks_at = seq;
	for (i = 0; i < seq->n; i++) {
		const dr_ynode *n = seq->items[i], *x, *cap;
		dr_disk *dk = &s->disks[s->ndisks];
		dr_pbool os = { 0 };

		if (n->kind != DR_YNODE_MAP)
			continue;
		dk->at = n;
		dk->role = DR_DISK_DATA;
		dk->type.v = "basic";
		dk->sector.v = "512/512";
		inv_str(n, "diskName", &dk->name);
		if (inv_bool(n, "isOSDisk", &os)) {
			dk->role = os.v ? DR_DISK_OS : DR_DISK_DATA;
			dk->role_at = os.at;
		}
		cap = dr_ynode_get(n, "capacityInBytes");
		if (cap && cap->kind == DR_YNODE_SCALAR &&
		    cap->type == DR_YSCALAR_INT && cap->integer >= 0) {
			/* GiB rounded up: a 1.5 GiB disk needs 2 GiB. */
			dk->size_gib.v = (long long)(((uint64_t)cap->integer +
						      (1ull << 30) - 1) >> 30);
			dk->size_gib.at = cap;
		}
		inv_str(n, "diskType", &dk->target_type);
		if ((x = keyed_get(&extdisks, dk->name.v))) {
			dr_pl_str(x, "type", &dk->type);
			dr_pl_str(x, "filesystem", &dk->filesystem);
			dr_pl_str(x, "sector", &dk->sector);
			dr_pl_bool(x, "shared", &dk->shared);
			dr_pl_bool(x, "fc", &dk->fc);
			dr_pl_bool(x, "iscsi", &dk->iscsi);
			dr_pl_bool(x, "bitlocker", &dk->bitlocker);
			dr_pl_bool(x, "encrypted", &dk->encrypted);
			dr_pl_bool(x, "nfs", &dk->nfs);
			dr_pl_bool(x, "smb3", &dk->smb3);
			dr_pl_bool(x, "storageSpaces", &dk->storage_spaces);
			dr_pl_bool(x, "mpio", &dk->mpio);
			dr_pl_bool(x, "hardwareRaid", &dk->hardware_raid);
		}
		s->ndisks++;
	}
}

static void apply_nics(dr_arena *a, const dr_ynode *psd, const dr_ynode *ext,
		       dr_machine *m)
{
	const dr_ynode *seq = dr_pl_seq(psd, "vmNics");
	dr_source *s = &m->source;
	dr_target *t = &m->target;
	keyed extnics;
	size_t i, n;

	if (!seq)
		return;
	keyed_init(a, &extnics, dr_pl_seq(ext, "nics"), "nicId");
	n = seq->n ? seq->n : 1;
	s->nics = dr_arena_zalloc(a, n * sizeof(*s->nics));
	t->nics = dr_arena_zalloc(a, n * sizeof(*t->nics));
	s->nnics = t->nnics = 0;
	s->nics_at = seq;
	for (i = 0; i < seq->n; i++) {
		const dr_ynode *nn = seq->items[i], *x;
		dr_source_nic *sn = &s->nics[s->nnics];
		dr_target_nic *tn = &t->nics[t->nnics];
		dr_pstr type = { 0 };

		if (nn->kind != DR_YNODE_MAP)
			continue;
		sn->at = tn->at = nn;
		inv_str(nn, "nicId", &sn->name);
		inv_str(nn, "sourceIPAddress", &sn->ip);
		if (inv_str(nn, "sourceIPAddressType", &type)) {
			sn->dhcp.v = !strcasecmp(type.v, "Dynamic");
			sn->dhcp.at = type.at;
		}
		if ((x = keyed_get(&extnics, sn->name.v))) {
			dr_pl_bool(x, "ipv6", &sn->ipv6);
			dr_pl_bool(x, "teamed", &sn->teamed);
		}
		inv_str(nn, "targetNicName", &tn->name);
		inv_str(nn, "targetSubnetName", &tn->subnet);
		inv_str(nn, "targetIPAddress", &tn->ip);
		inv_bool(nn, "isPrimaryNic", &tn->primary);
		if (tn->primary.v) {
			if (tn->subnet.at)
				t->subnet = tn->subnet;
			if (tn->ip.at)
				t->ip = tn->ip;
		}
		s->nnics++;
		t->nnics++;
	}
}

void dr_inventory_apply(dr_arena *a, const dr_ynode *item, dr_machine *m)
{
	const dr_ynode *psd = dr_pl_map(dr_pl_map(item, "properties"),
					"providerSpecificDetails");
	const dr_ynode *ext = dr_pl_map(item, "drplan");
	dr_source *s = &m->source;
	dr_target *t = &m->target;
	dr_pstr v = { 0 };
	dr_pint cores = { 0 };
	dr_pnum mem = { 0 };

	if (inv_str(psd, "osType", &v)) {
		if (!strcasecmp(v.v, "Linux")) {
			s->os = DR_OS_LINUX;
			s->os_at = v.at;
		} else if (!strcasecmp(v.v, "Windows")) {
			s->os = DR_OS_WINDOWS;
			s->os_at = v.at;
		}
	}
	inv_str(psd, "osName", &s->os_version);
	if (inv_str(psd, "firmwareType", &v)) {
		if (!strcasecmp(v.v, "UEFI")) {
			s->boot = DR_BOOT_UEFI;
			s->boot_at = v.at;
		} else if (!strcasecmp(v.v, "BIOS")) {
			s->boot = DR_BOOT_BIOS;
			s->boot_at = v.at;
		}
	}
	if (inv_str(psd, "discoveryType", &v)) {
		s->kind = strcasecmp(v.v, "Physical") ? DR_SRC_VMWARE
						      : DR_SRC_PHYSICAL;
		s->kind_at = v.at;
	}
	if (dr_pl_int(psd, "processorCoreCount", &cores))
		s->cpus = cores;
	if (dr_pl_num(psd, "allocatedMemoryInMB", &mem)) {
		s->memory_gib.v = mem.v / 1024.0;
		s->memory_gib.at = mem.at;
	}
	inv_str(dr_pl_map(psd, "mobilityAgentDetails"), "version",
		&s->mobility_agent);
	apply_disks(a, psd, ext, s);
	apply_nics(a, psd, ext, m);

	inv_str(psd, "targetVmName", &t->name);
	inv_str(psd, "targetVmSize", &t->size);
	inv_id_name(a, psd, "targetResourceGroupId", &t->resource_group);
	inv_id_name(a, psd, "targetAvailabilitySetId", &t->availability_set);
	inv_str(psd, "targetAvailabilityZone", &t->availability_zone);
	inv_id_name(a, psd, "targetNetworkId", &t->vnet);

	dr_pl_str(ext, "architecture", &s->arch);
	dr_pl_str(ext, "kernel", &s->kernel);
	dr_pl_bool(ext, "secureBoot", &s->secure_boot);
	dr_pl_bool(ext, "dhcpService", &s->dhcp_service);
	dr_pl_strs(a, ext, "bootDrivers", &s->boot_drivers);
	dr_pl_scalar(ext, "vsphere", &s->vsphere);
}
