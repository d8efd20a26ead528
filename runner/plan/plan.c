/*
 * plan.c - load a plan: read, parse, schema-check, merge the inventory and
 * build the model of plan.h.
 *
 * Layers are applied from the lowest precedence up, each overwriting what
 * the one before set: built-in defaults, inventory snapshot, plan defaults,
 * machine entry. Every accessor checks node types, so the builder is safe
 * on any tree even where the schema did not look.
 *
 * Return value: 0 with a model whenever one could be built. Reference
 * errors (unknown machine or group, missing inventory item, a broken
 * inventory) are error diagnostics but do not stop the build, so one run
 * reports them together with the rules' findings; callers decide by
 * dr_diags_count(d, DR_SEV_ERROR). Syntax and schema errors stop the build
 * (DR_EINVAL); a plan or inventory file that cannot be read is DR_EIO
 * (with a PLAN-READ or INV-READ diagnostic and no model).
 */
#include "plan/plan-private.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/parse.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LUA_TIMEOUT_MS (10ull * 60 * 1000)
#define DEFAULT_CONCURRENCY 10
/* "Did you mean" is cheap but not free; past this many misses, skip it. */
#define MAX_SUGGESTIONS 50

typedef struct plan_priv {
	dr_plan pub; /* first: dr_plan * and plan_priv * convert */
	dr_name_index machines;
	dr_name_index groups;
} plan_priv;

typedef struct loader {
	dr_arena *a;
	dr_diags *d;
	plan_priv *pp;
	dr_plan *p;
	const dr_plan_load_opts *opts;
	unsigned manual_seq;
	int io_error;                    /* DR_EIO: the inventory is unreadable */
	size_t suggestions;
	dr_inventory inv;
	const dr_ynode *defaults;        /* defaults mapping, or NULL */
	const dr_ynode *defaults_target; /* defaults.target mapping, or NULL */
} loader;

/* ---- names of enums ---- */

static const char *const op_names[DR_OP__COUNT] = {
	[DR_OP_DRILL] = "drill",         [DR_OP_FAILOVER] = "failover",
	[DR_OP_COMMIT] = "commit",       [DR_OP_REPROTECT] = "reprotect",
	[DR_OP_FAILBACK] = "failback",
};

const char *dr_operation_name(dr_operation op)
{
	return (unsigned)op < DR_OP__COUNT ? op_names[op] : "?";
}

int dr_operation_parse(const char *s, dr_operation *out)
{
	int i;

	for (i = 0; s && i < DR_OP__COUNT; i++) {
		if (!strcmp(s, op_names[i])) {
			*out = (dr_operation)i;
			return 0;
		}
	}
	return DR_EINVAL;
}

const char *dr_direction_name(dr_direction d)
{
	switch (d) {
	case DR_DIR_TO_AZURE: return "to-azure";
	case DR_DIR_TO_ONPREM: return "to-onprem";
	case DR_DIR_ANY: return "any";
	}
	return "?";
}

dr_direction dr_operation_direction(dr_operation op)
{
	switch (op) {
	case DR_OP_DRILL:
	case DR_OP_FAILOVER:
	case DR_OP_COMMIT:
		return DR_DIR_TO_AZURE;
	case DR_OP_REPROTECT: /* the first reprotect, after failover */
	case DR_OP_FAILBACK:
		return DR_DIR_TO_ONPREM;
	case DR_OP__COUNT:
		break;
	}
	return DR_DIR_ANY;
}

const char *dr_rp_kind_name(dr_rp_kind k)
{
	switch (k) {
	case DR_RP_LATEST: return "latest";
	case DR_RP_LATEST_PROCESSED: return "latest-processed";
	case DR_RP_LATEST_APP_CONSISTENT: return "latest-app-consistent";
	case DR_RP_CUSTOM: return "custom";
	}
	return "?";
}

long dr_plan_find_machine(const dr_plan *p, const char *name)
{
	size_t i = dr_name_index_get(&((const plan_priv *)p)->machines, name);

	return i == (size_t)-1 ? -1 : (long)i;
}

long dr_plan_find_group(const dr_plan *p, const char *name)
{
	size_t i = dr_name_index_get(&((const plan_priv *)p)->groups, name);

	return i == (size_t)-1 ? -1 : (long)i;
}

const dr_recovery_point *dr_machine_rp(const dr_plan *p, const dr_machine *m)
{
	return m->rp.at ? &m->rp : &p->rp;
}

/* ---- small parsers over nodes ---- */

static void get_duration(loader *L, const dr_ynode *map, const char *key,
			 dr_pdur *out)
{
	dr_pstr s = { 0 };
	uint64_t ms;

	if (!dr_pl_str(map, key, &s))
		return;
	if (dr_parse_duration(s.v, &ms)) {
		/* The schema's pattern and format catch this first. */
		dr_diag_at(L->d, s.at, DR_SEV_ERROR, "SCHEMA-FORMAT",
			   "\"%s\" is not a duration such as 90s, 5m, 1h30m "
			   "or 2d", s.v);
		return;
	}
	out->ms = ms;
	out->at = s.at;
}

static void get_rp(const dr_ynode *map, const char *key, dr_recovery_point *rp)
{
	const dr_ynode *n = dr_ynode_get(map, key);
	static const struct { const char *s; dr_rp_kind k; } kinds[] = {
		{ "latest", DR_RP_LATEST },
		{ "latest-processed", DR_RP_LATEST_PROCESSED },
		{ "latest-app-consistent", DR_RP_LATEST_APP_CONSISTENT },
	};
	size_t i;

	if (!n)
		return;
	if (n->kind == DR_YNODE_SCALAR && n->type == DR_YSCALAR_STRING) {
		for (i = 0; i < DR_ARRAY_SIZE(kinds); i++) {
			if (!strcmp(n->str, kinds[i].s)) {
				rp->kind = kinds[i].k;
				rp->id = NULL;
				rp->at = n;
			}
		}
	} else if (n->kind == DR_YNODE_MAP) {
		dr_pstr id = { 0 };

		if (dr_pl_str(n, "id", &id)) {
			rp->kind = DR_RP_CUSTOM;
			rp->id = id.v;
			rp->at = n;
		}
	}
}

static bool str_is(const dr_ynode *n, const char *s)
{
	return n && n->kind == DR_YNODE_SCALAR &&
	       n->type == DR_YSCALAR_STRING && !strcmp(n->str, s);
}

static const char *file_stem(dr_arena *a, const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 4 && !strcmp(base + n - 4, ".lua"))
		n -= 4;
	return dr_arena_strndup(a, base, n);
}

/* ---- actions ---- */

static void build_action(loader *L, const dr_ynode *n, dr_action *act)
{
	const dr_ynode *on;
	dr_pstr s = { 0 };

	memset(act, 0, sizeof(*act));
	act->at = n;
	act->on = DR_ON_ALL;
	act->direction = DR_DIR_ANY;
	act->on_failure = DR_FAIL_GROUP;
	dr_pl_str(n, "lua", &act->lua);
	dr_pl_str(n, "manual", &act->manual);
	if (act->lua.at) {
		act->kind = DR_ACTION_LUA;
		act->timeout.ms = LUA_TIMEOUT_MS;
		act->name.v = file_stem(L->a, act->lua.v);
	} else {
		act->kind = DR_ACTION_MANUAL;
		act->name.v = dr_arena_printf(L->a, "manual-%u", ++L->manual_seq);
	}
	dr_pl_str(n, "name", &act->name);
	if ((on = dr_pl_seq(n, "on"))) {
		size_t i;

		act->on = 0;
		act->on_at = on;
		for (i = 0; i < on->n; i++) {
			dr_operation op;

			if (str_is(on->items[i], "cleanup"))
				act->on |= DR_ON_CLEANUP;
			else if (on->items[i]->kind == DR_YNODE_SCALAR &&
				 on->items[i]->type == DR_YSCALAR_STRING &&
				 !dr_operation_parse(on->items[i]->str, &op))
				act->on |= 1u << op;
		}
	}
	if (dr_pl_str(n, "direction", &s)) {
		if (!strcmp(s.v, "to-azure"))
			act->direction = DR_DIR_TO_AZURE;
		else if (!strcmp(s.v, "to-onprem"))
			act->direction = DR_DIR_TO_ONPREM;
	}
	get_duration(L, n, "timeout", &act->timeout);
	if (dr_pl_str(n, "onFailure", &s)) {
		act->on_failure = strcmp(s.v, "warn") ? DR_FAIL_GROUP : DR_FAIL_WARN;
		act->on_failure_at = s.at;
	}
	act->args = dr_pl_map(n, "args");
	dr_pl_strs(L->a, n, "env", &act->env);
}

static void build_actions(loader *L, const dr_ynode *map, const char *key,
			  dr_action **out, size_t *nout)
{
	const dr_ynode *seq = dr_pl_seq(map, key);
	size_t i, k = 0;

	*out = NULL;
	*nout = 0;
	if (!seq || !seq->n)
		return;
	*out = dr_arena_alloc(L->a, seq->n * sizeof(**out));
	for (i = 0; i < seq->n; i++)
		if (seq->items[i]->kind == DR_YNODE_MAP)
			build_action(L, seq->items[i], &(*out)[k++]);
	*nout = k;
}

/* ---- machines ---- */

/*
 * Table-driven filling for the mappings that repeat per machine: one pass
 * over the keys present, each looked up by binary search, instead of a
 * linear lookup per possible key (10,000 machines, ~60 keys each).
 * Tables are sorted by key (strcmp order); F_NODE entries hand the node to
 * the caller through slot[off] for keys that need more than a copy.
 */
enum fkind { F_STR, F_SCALAR, F_BOOL, F_INT, F_NUM, F_NODE };

struct field {
	const char *key;
	unsigned char kind;
	unsigned short off; /* offset of the dr_p* field, or slot index */
};

#define FLD(k, kind, type, member) { k, kind, (unsigned short)offsetof(type, member) }

static int field_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct field *)elem)->key);
}

static void set_field(const struct field *f, void *base, const dr_ynode *n,
		      const dr_ynode **slot)
{
	void *dst = (char *)base + f->off;

	if (f->kind == F_NODE) {
		slot[f->off] = n;
		return;
	}
	if (n->kind != DR_YNODE_SCALAR)
		return;
	switch (f->kind) {
	case F_STR:
		if (n->type == DR_YSCALAR_STRING)
			*(dr_pstr *)dst = (dr_pstr){ n->str, n };
		break;
	case F_SCALAR:
		if (n->type != DR_YSCALAR_NULL)
			*(dr_pstr *)dst = (dr_pstr){ n->str, n };
		break;
	case F_BOOL:
		if (n->type == DR_YSCALAR_BOOL)
			*(dr_pbool *)dst = (dr_pbool){ n->boolean != 0, n };
		break;
	case F_INT:
		if (n->type == DR_YSCALAR_INT)
			*(dr_pint *)dst = (dr_pint){ n->integer, n };
		break;
	case F_NUM:
		if (n->type == DR_YSCALAR_INT)
			*(dr_pnum *)dst = (dr_pnum){ (double)n->integer, n };
		else if (n->type == DR_YSCALAR_FLOAT)
			*(dr_pnum *)dst = (dr_pnum){ n->real, n };
		break;
	}
}

static void fill(const dr_ynode *map, const struct field *t, size_t nt,
		 void *base, const dr_ynode **slot)
{
	size_t i;

	if (!map || map->kind != DR_YNODE_MAP)
		return;
	for (i = 0; i < map->n; i++) {
		const struct field *f = bsearch(map->keys[i]->str, t, nt,
						sizeof(*t), field_cmp);

		if (f)
			set_field(f, base, map->items[i], slot);
	}
}

static const struct field disk_fields[] = {
	FLD("bitlocker", F_BOOL, dr_disk, bitlocker),
	FLD("encrypted", F_BOOL, dr_disk, encrypted),
	FLD("fc", F_BOOL, dr_disk, fc),
	FLD("filesystem", F_STR, dr_disk, filesystem),
	FLD("hardwareRaid", F_BOOL, dr_disk, hardware_raid),
	FLD("iscsi", F_BOOL, dr_disk, iscsi),
	FLD("mpio", F_BOOL, dr_disk, mpio),
	FLD("name", F_STR, dr_disk, name),
	FLD("nfs", F_BOOL, dr_disk, nfs),
	{ "role", F_NODE, 0 },
	FLD("sector", F_STR, dr_disk, sector),
	FLD("shared", F_BOOL, dr_disk, shared),
	FLD("sizeGiB", F_INT, dr_disk, size_gib),
	FLD("smb3", F_BOOL, dr_disk, smb3),
	FLD("storageSpaces", F_BOOL, dr_disk, storage_spaces),
	FLD("targetType", F_STR, dr_disk, target_type),
	FLD("type", F_STR, dr_disk, type),
};

enum { S_KIND, S_OS, S_BOOT, S_DISKS, S_NICS, S_DRIVERS, S__N };

static const struct field source_fields[] = {
	FLD("architecture", F_STR, dr_source, arch),
	{ "boot", F_NODE, S_BOOT },
	{ "bootDrivers", F_NODE, S_DRIVERS },
	FLD("cpus", F_INT, dr_source, cpus),
	FLD("dhcpService", F_BOOL, dr_source, dhcp_service),
	{ "disks", F_NODE, S_DISKS },
	FLD("kernel", F_STR, dr_source, kernel),
	{ "kind", F_NODE, S_KIND },
	FLD("memoryGiB", F_NUM, dr_source, memory_gib),
	FLD("mobilityAgent", F_SCALAR, dr_source, mobility_agent),
	{ "nics", F_NODE, S_NICS },
	{ "os", F_NODE, S_OS },
	FLD("osVersion", F_STR, dr_source, os_version),
	FLD("secureBoot", F_BOOL, dr_source, secure_boot),
	FLD("vsphere", F_SCALAR, dr_source, vsphere),
};

static const struct field snic_fields[] = {
	FLD("dhcp", F_BOOL, dr_source_nic, dhcp),
	FLD("ip", F_STR, dr_source_nic, ip),
	FLD("ipv6", F_BOOL, dr_source_nic, ipv6),
	FLD("name", F_STR, dr_source_nic, name),
	FLD("teamed", F_BOOL, dr_source_nic, teamed),
};

enum { T_NETWORK, T_NICS, T__N };

/* defaults.target holds the first five only; the schema says which. */
static const struct field target_fields[] = {
	FLD("acceleratedNetworking", F_BOOL, dr_target, accelerated_networking),
	FLD("availabilitySet", F_STR, dr_target, availability_set),
	FLD("availabilityZone", F_SCALAR, dr_target, availability_zone),
	FLD("diskType", F_STR, dr_target, disk_type),
	FLD("encryptionAtHost", F_BOOL, dr_target, encryption_at_host),
	FLD("ip", F_STR, dr_target, ip),
	FLD("name", F_STR, dr_target, name),
	{ "network", F_NODE, T_NETWORK },
	{ "nics", F_NODE, T_NICS },
	FLD("resourceGroup", F_STR, dr_target, resource_group),
	FLD("size", F_STR, dr_target, size),
};

static const struct field tnic_fields[] = {
	FLD("ip", F_STR, dr_target_nic, ip),
	FLD("name", F_STR, dr_target_nic, name),
	FLD("primary", F_BOOL, dr_target_nic, primary),
	FLD("subnet", F_STR, dr_target_nic, subnet),
};

static const char *enum_str(const dr_ynode *n)
{
	return n && n->kind == DR_YNODE_SCALAR &&
	       n->type == DR_YSCALAR_STRING ? n->str : NULL;
}

static void build_disk(const dr_ynode *n, dr_disk *dk)
{
	const dr_ynode *slot[1] = { NULL };
	const char *role;

	dk->at = n;
	fill(n, disk_fields, DR_ARRAY_SIZE(disk_fields), dk, slot);
	if ((role = enum_str(slot[0]))) {
		dk->role = strcmp(role, "os") ? DR_DISK_DATA : DR_DISK_OS;
		dk->role_at = slot[0];
	}
}

static void default_disk(dr_disk *dk)
{
	memset(dk, 0, sizeof(*dk));
	dk->role = DR_DISK_DATA;
	dk->type.v = "basic";
	dk->sector.v = "512/512";
}

static void apply_source(loader *L, const dr_ynode *src, dr_source *s)
{
	const dr_ynode *slot[S__N] = { NULL }, *seq;
	const char *v;
	size_t i;

	s->at = src;
	fill(src, source_fields, DR_ARRAY_SIZE(source_fields), s, slot);
	if ((v = enum_str(slot[S_KIND]))) {
		s->kind = strcmp(v, "physical") ? DR_SRC_VMWARE : DR_SRC_PHYSICAL;
		s->kind_at = slot[S_KIND];
	}
	if ((v = enum_str(slot[S_OS]))) {
		s->os = strcmp(v, "linux") ? DR_OS_WINDOWS : DR_OS_LINUX;
		s->os_at = slot[S_OS];
	}
	if ((v = enum_str(slot[S_BOOT]))) {
		s->boot = strcmp(v, "uefi") ? DR_BOOT_BIOS : DR_BOOT_UEFI;
		s->boot_at = slot[S_BOOT];
	}
	if (slot[S_DRIVERS])
		dr_pl_strs(L->a, src, "bootDrivers", &s->boot_drivers);
	/* A stated list replaces the inventory's wholesale: merging disks
	 * by position or name would invent disks nobody described. */
	if ((seq = slot[S_DISKS]) && seq->kind == DR_YNODE_SEQ) {
		s->disks = dr_arena_alloc(L->a, (seq->n ? seq->n : 1) *
						sizeof(*s->disks));
		s->ndisks = 0;
		s->disks_at = seq;
		for (i = 0; i < seq->n; i++) {
			if (seq->items[i]->kind != DR_YNODE_MAP)
				continue;
			default_disk(&s->disks[s->ndisks]);
			build_disk(seq->items[i], &s->disks[s->ndisks++]);
		}
	}
	if ((seq = slot[S_NICS]) && seq->kind == DR_YNODE_SEQ) {
		s->nics = dr_arena_zalloc(L->a, (seq->n ? seq->n : 1) *
						 sizeof(*s->nics));
		s->nnics = 0;
		s->nics_at = seq;
		for (i = 0; i < seq->n; i++) {
			const dr_ynode *n = seq->items[i];
			dr_source_nic *nic = &s->nics[s->nnics];

			if (n->kind != DR_YNODE_MAP)
				continue;
			nic->at = n;
			fill(n, snic_fields, DR_ARRAY_SIZE(snic_fields), nic, NULL);
			s->nnics++;
		}
	}
}

static void apply_network_ref(const dr_ynode *net, dr_pstr *vnet,
			      dr_pstr *subnet)
{
	dr_pl_str(net, "vnet", vnet);
	dr_pl_str(net, "subnet", subnet);
}

/* machines[].target, and defaults.target (which the schema limits to
 * resourceGroup, size, diskType, network and acceleratedNetworking). */
static void apply_target(loader *L, const dr_ynode *t, dr_target *tg,
			 bool machine)
{
	const dr_ynode *slot[T__N] = { NULL }, *seq;
	size_t i;

	if (machine)
		tg->at = t;
	fill(t, target_fields, DR_ARRAY_SIZE(target_fields), tg, slot);
	apply_network_ref(slot[T_NETWORK], &tg->vnet, &tg->subnet);
	if ((seq = slot[T_NICS]) && seq->kind == DR_YNODE_SEQ) {
		tg->nics = dr_arena_zalloc(L->a, (seq->n ? seq->n : 1) *
						  sizeof(*tg->nics));
		tg->nnics = 0;
		for (i = 0; i < seq->n; i++) {
			const dr_ynode *n = seq->items[i];
			dr_target_nic *nic = &tg->nics[tg->nnics];

			if (n->kind != DR_YNODE_MAP)
				continue;
			nic->at = n;
			fill(n, tnic_fields, DR_ARRAY_SIZE(tnic_fields), nic, NULL);
			tg->nnics++;
		}
	}
}

static void suggest(loader *L, dr_diag *g, const char *name,
		    const char *const *cands, size_t n, size_t stride)
{
	const char *best = NULL;
	size_t bestd = 3, i;

	if (L->suggestions >= MAX_SUGGESTIONS)
		return;
	L->suggestions++;
	for (i = 0; i < n; i++) {
		const char *c = *(const char *const *)((const char *)cands +
							i * stride);
		size_t dist;

		if (!c)
			continue;
		dist = dr_edit_distance(name, c, 2);
		if (dist < bestd) {
			bestd = dist;
			best = c;
		}
	}
	if (best)
		dr_diag_note(g, "did you mean \"%s\"?", best);
}

/*
 * target.ip and target.network.subnet describe the primary NIC. When they
 * come from a higher layer (plan, defaults) than the per-NIC list (the
 * inventory's vmNics), the primary NIC takes them, so the two never
 * disagree. A per-NIC list stated in the plan is left as written.
 */
static void sync_primary_nic(dr_target *t)
{
	dr_target_nic *nic = NULL;
	size_t i;

	if (!t->nnics || (t->at && dr_ynode_get(t->at, "nics")))
		return;
	for (i = 0; i < t->nnics && !nic; i++)
		if (t->nics[i].primary.v)
			nic = &t->nics[i];
	if (!nic)
		nic = &t->nics[0];
	if (t->ip.at && strcmp(t->ip.at->file, nic->at->file))
		nic->ip = t->ip;
	if (t->subnet.at && strcmp(t->subnet.at->file, nic->at->file))
		nic->subnet = t->subnet;
}

static void build_machine(loader *L, const dr_ynode *n, dr_machine *m)
{
	dr_plan *p = L->p;
	const dr_ynode *src = dr_pl_map(n, "source");
	const dr_ynode *tgt = dr_pl_map(n, "target");
	const dr_ynode *name;

	memset(m, 0, sizeof(*m));
	m->at = n;
	m->group = (size_t)-1;

	/* Built-in defaults. */
	name = dr_pl_str(n, "name", &m->name);
	if (!name)
		m->name.v = "";
	m->inventory_id = m->name;
	m->critical.v = true;
	m->shutdown_source.v = p->shutdown_source.v;
	m->source.kind = DR_SRC_VMWARE;
	m->source.os = DR_OS_WINDOWS;
	m->source.boot = DR_BOOT_BIOS;
	m->source.arch.v = "x64";
	m->source.dhcp_service.v = true;
	m->target.name = m->name;
	dr_pl_str(n, "inventoryId", &m->inventory_id);

	/* Inventory snapshot. */
	if (L->inv.usable && name) {
		size_t it = dr_name_index_get(&L->inv.index, m->inventory_id.v);

		if (it != (size_t)-1) {
			dr_inventory_apply(L->a, L->inv.items[it], m);
			m->from_inventory = true;
		} else if (m->inventory_id.at != name || !src) {
			dr_diag *g;

			if (m->inventory_id.at != name)
				g = dr_diag_at(L->d, m->inventory_id.at,
					       DR_SEV_ERROR, "INV-NOT-FOUND",
					       "inventory item \"%s\" is not in %s: "
					       "fix inventoryId (an item's "
					       "friendlyName) or export the "
					       "inventory again",
					       m->inventory_id.v, L->inv.file);
			else
				g = dr_diag_at(L->d, name, DR_SEV_ERROR,
					       "INV-NOT-FOUND",
					       "machine \"%s\" is not in %s and "
					       "states no source facts: set "
					       "inventoryId to its item's "
					       "friendlyName, or state source: "
					       "in the plan",
					       m->name.v, L->inv.file);
			suggest(L, g, m->inventory_id.v, L->inv.keys,
				L->inv.nitems, sizeof(*L->inv.keys));
		}
	}

	/* Plan defaults. */
	dr_pl_bool(L->defaults, "critical", &m->critical);
	dr_pl_bool(L->defaults, "shutdownSource", &m->shutdown_source);
	if (L->defaults_target)
		apply_target(L, L->defaults_target, &m->target, false);

	/* The machine entry. */
	dr_pl_bool(n, "critical", &m->critical);
	dr_pl_bool(n, "shutdownSource", &m->shutdown_source);
	get_rp(n, "recoveryPoint", &m->rp);
	if (src)
		apply_source(L, src, &m->source);
	if (tgt)
		apply_target(L, tgt, &m->target, true);
	sync_primary_nic(&m->target);
	build_actions(L, n, "pre", &m->pre, &m->npre);
	build_actions(L, n, "post", &m->post, &m->npost);
}

static void build_machines(loader *L)
{
	const dr_ynode *seq = dr_pl_seq(L->p->root, "machines");
	dr_plan *p = L->p;
	size_t i;

	dr_name_index_init(&L->pp->machines, L->a, seq ? seq->n : 0);
	if (!seq)
		return;
	p->machines = dr_arena_alloc(L->a, (seq->n ? seq->n : 1) *
					   sizeof(*p->machines));
	for (i = 0; i < seq->n; i++) {
		dr_machine *m = &p->machines[p->nmachines];

		if (seq->items[i]->kind != DR_YNODE_MAP)
			continue;
		build_machine(L, seq->items[i], m);
		/* Duplicates are the rules' to report; the first one wins. */
		if (m->name.at)
			dr_name_index_put(&L->pp->machines, m->name.v,
					  p->nmachines, NULL);
		p->nmachines++;
	}
}

/* ---- groups ---- */

static void build_group(loader *L, size_t gi, const dr_ynode *n, dr_group *g)
{
	dr_plan *p = L->p;
	const dr_ynode *seq;
	size_t i;

	memset(g, 0, sizeof(*g));
	g->at = n;
	dr_pl_str(n, "name", &g->name);
	if (!g->name.at)
		g->name.v = "";
	dr_pl_str(n, "description", &g->description);
	dr_pl_int(n, "concurrency", &g->concurrency);

	if ((seq = dr_pl_seq(n, "machines"))) {
		g->machines_at = seq;
		g->machines = dr_arena_alloc(L->a, (seq->n ? seq->n : 1) *
						   sizeof(*g->machines));
		for (i = 0; i < seq->n; i++) {
			const dr_ynode *it = seq->items[i];
			size_t mi;

			if (it->kind != DR_YNODE_SCALAR ||
			    it->type != DR_YSCALAR_STRING)
				continue;
			mi = dr_name_index_get(&L->pp->machines, it->str);
			if (mi == (size_t)-1) {
				dr_diag *dg = dr_diag_at(
					L->d, it, DR_SEV_ERROR,
					"PLAN-UNKNOWN-MACHINE",
					"group \"%s\" names machine \"%s\", "
					"which is not in machines",
					g->name.v, it->str);

				if (p->nmachines)
					suggest(L, dg, it->str,
						&p->machines[0].name.v,
						p->nmachines, sizeof(dr_machine));
				continue;
			}
			g->machines[g->nmachines++] = mi;
			if (p->machines[mi].group == (size_t)-1)
				p->machines[mi].group = gi;
		}
	}

	if ((seq = dr_pl_seq(n, "after"))) {
		g->after_explicit = true;
		g->after_at = seq;
		g->after = dr_arena_alloc(L->a, (seq->n ? seq->n : 1) *
						sizeof(*g->after));
		for (i = 0; i < seq->n; i++) {
			const dr_ynode *it = seq->items[i];
			size_t ai;

			if (it->kind != DR_YNODE_SCALAR ||
			    it->type != DR_YSCALAR_STRING)
				continue;
			ai = dr_name_index_get(&L->pp->groups, it->str);
			if (ai == (size_t)-1) {
				dr_diag *dg = dr_diag_at(
					L->d, it, DR_SEV_ERROR,
					"PLAN-UNKNOWN-GROUP",
					"group \"%s\" waits for group \"%s\", "
					"which is not in groups",
					g->name.v, it->str);

				suggest(L, dg, it->str, &p->groups[0].name.v,
					p->ngroups, sizeof(dr_group));
				continue;
			}
			g->after[g->nafter++] = ai;
		}
	} else if (gi > 0) {
		g->after = dr_arena_alloc(L->a, sizeof(*g->after));
		g->after[0] = gi - 1;
		g->nafter = 1;
	}
	build_actions(L, n, "pre", &g->pre, &g->npre);
	build_actions(L, n, "post", &g->post, &g->npost);
}

static void build_groups(loader *L)
{
	const dr_ynode *seq = dr_pl_seq(L->p->root, "groups");
	dr_plan *p = L->p;
	size_t i, k = 0;

	dr_name_index_init(&L->pp->groups, L->a, seq ? seq->n : 0);
	if (!seq)
		return;
	p->groups = dr_arena_zalloc(L->a, (seq->n ? seq->n : 1) *
					  sizeof(*p->groups));
	/* Names first, so `after` may name a later group (the graph module
	 * reports cycles). */
	for (i = 0; i < seq->n; i++) {
		dr_pstr name = { 0 };

		if (seq->items[i]->kind != DR_YNODE_MAP)
			continue;
		if (dr_pl_str(seq->items[i], "name", &name))
			dr_name_index_put(&L->pp->groups, name.v, k, NULL);
		p->groups[k++].name = name;
	}
	p->ngroups = k;
	for (i = 0, k = 0; i < seq->n; i++)
		if (seq->items[i]->kind == DR_YNODE_MAP)
			build_group(L, k, seq->items[i], &p->groups[k]), k++;
}

/* ---- networks, gates, drill ---- */

static void build_networks(loader *L)
{
	const dr_ynode *seq = dr_pl_seq(L->p->root, "networks");
	dr_plan *p = L->p;
	size_t i, j;

	if (!seq || !seq->n)
		return;
	p->networks = dr_arena_zalloc(L->a, seq->n * sizeof(*p->networks));
	for (i = 0; i < seq->n; i++) {
		const dr_ynode *n = seq->items[i], *subs;
		dr_network *net = &p->networks[p->nnetworks];
		dr_pbool iso = { 0 };

		if (n->kind != DR_YNODE_MAP)
			continue;
		net->at = n;
		dr_pl_str(n, "name", &net->name);
		dr_pl_str(n, "resourceGroup", &net->resource_group);
		dr_pl_str(n, "location", &net->location);
		dr_pl_strs(L->a, n, "addressSpace", &net->address_space);
		dr_pl_bool(n, "isolated", &iso);
		net->isolated = iso.v;
		if ((subs = dr_pl_seq(n, "subnets")) && subs->n) {
			net->subnets = dr_arena_zalloc(
				L->a, subs->n * sizeof(*net->subnets));
			for (j = 0; j < subs->n; j++) {
				const dr_ynode *sn = subs->items[j];
				dr_network_subnet *s = &net->subnets[net->nsubnets];
				int prefix;

				if (sn->kind != DR_YNODE_MAP)
					continue;
				s->at = sn;
				dr_pl_str(sn, "name", &s->name);
				if (dr_pl_str(sn, "prefix", &s->prefix)) {
					if (dr_parse_cidr(s->prefix.v, &s->addr,
							  &prefix))
						dr_diag_at(L->d, s->prefix.at,
							   DR_SEV_ERROR,
							   "SCHEMA-FORMAT",
							   "\"%s\" is not an IPv4 "
							   "prefix such as "
							   "10.20.0.0/16",
							   s->prefix.v);
					else
						s->mask = dr_prefix_mask(prefix);
				}
				net->nsubnets++;
			}
		}
		p->nnetworks++;
	}
}

static void build_gate(loader *L, const dr_ynode *n, dr_gate *g)
{
	const dr_ynode *checks;
	dr_pstr s = { 0 };

	memset(g, 0, sizeof(*g));
	g->approvals.v = 1;
	g->on_timeout = DR_TIMEOUT_WAIT;
	if (!n || n->kind != DR_YNODE_MAP)
		return;
	g->at = n;
	g->checks = DR_CHECK_CRITICAL_HEALTHY;
	dr_pl_int(n, "approvals", &g->approvals);
	dr_pl_strs(L->a, n, "approvers", &g->approvers);
	if ((checks = dr_pl_seq(n, "checks"))) {
		size_t i;

		g->checks = 0;
		g->checks_at = checks;
		for (i = 0; i < checks->n; i++) {
			if (str_is(checks->items[i], "critical-healthy"))
				g->checks |= DR_CHECK_CRITICAL_HEALTHY;
			else if (str_is(checks->items[i], "post-hooks"))
				g->checks |= DR_CHECK_POST_HOOKS;
			else if (str_is(checks->items[i], "all-healthy"))
				g->checks |= DR_CHECK_ALL_HEALTHY;
		}
	}
	get_duration(L, n, "timeout", &g->timeout);
	if (dr_pl_str(n, "onTimeout", &s)) {
		g->on_timeout_at = s.at;
		if (!strcmp(s.v, "commit"))
			g->on_timeout = DR_TIMEOUT_COMMIT;
		else if (!strcmp(s.v, "rollback"))
			g->on_timeout = DR_TIMEOUT_ROLLBACK;
		else if (!strcmp(s.v, "fail"))
			g->on_timeout = DR_TIMEOUT_FAIL;
	}
}

static void build_drill(loader *L)
{
	const dr_ynode *n = dr_pl_map(L->p->root, "drill");
	dr_drill *d = &L->p->drill;

	d->timezone.v = "UTC";
	d->manual_policy.v = "fail";
	d->gate_policy.v = "fail";
	if (!n)
		return;
	d->at = n;
	dr_pl_str(n, "schedule", &d->schedule);
	dr_pl_str(n, "timezone", &d->timezone);
	apply_network_ref(dr_pl_map(n, "network"), &d->vnet, &d->subnet);
	get_duration(L, dr_pl_map(n, "objectives"), "rto", &d->rto);
	get_duration(L, dr_pl_map(n, "objectives"), "rpo", &d->rpo);
	get_duration(L, dr_pl_map(n, "cleanup"), "after", &d->cleanup_after);
	d->unattended_at = dr_pl_map(n, "unattended");
	dr_pl_str(d->unattended_at, "manual", &d->manual_policy);
	dr_pl_str(d->unattended_at, "gates", &d->gate_policy);
	dr_pl_str(d->unattended_at, "reason", &d->unattended_reason);
}

static const char *const nev_names[DR_NEV__COUNT] = {
	"job-started", "job-resumed", "gate-waiting", "manual-waiting",
	"step-failed", "job-finished", "job-parked",
};

const char *dr_notify_event_name(dr_notify_event e)
{
	return (unsigned)e < DR_NEV__COUNT ? nev_names[e] : "?";
}

int dr_notify_event_parse(const char *s, dr_notify_event *out)
{
	for (int i = 0; s && i < DR_NEV__COUNT; i++)
		if (!strcmp(s, nev_names[i])) {
			*out = (dr_notify_event)i;
			return 0;
		}
	return DR_EINVAL;
}

static void build_notifications(loader *L)
{
	const dr_ynode *seq = dr_pl_seq(dr_pl_map(L->p->root, "notifications"), "webhooks");
	size_t i, k;

	if (!seq || !seq->n)
		return;
	L->p->webhooks = dr_arena_zalloc(L->a, seq->n * sizeof(dr_webhook));
	for (i = 0; i < seq->n; i++) {
		const dr_ynode *n = seq->items[i], *ev;
		dr_webhook *w = &L->p->webhooks[L->p->nwebhooks];

		if (n->kind != DR_YNODE_MAP || !dr_pl_str(n, "url", &w->url))
			continue; /* the schema reports it */
		w->at = n;
		dr_pl_str(n, "name", &w->name);
		dr_pl_str(n, "secretEnv", &w->secret_env);
		get_duration(L, n, "timeout", &w->timeout);
		dr_pl_int(n, "attempts", &w->attempts);
		w->events = DR_NEV_ALL;
		if ((ev = dr_pl_seq(n, "events"))) {
			w->events = 0;
			for (k = 0; k < ev->n; k++) {
				dr_notify_event e;

				if (ev->items[k]->kind == DR_YNODE_SCALAR &&
				    dr_notify_event_parse(ev->items[k]->str, &e) == 0)
					w->events |= 1u << e;
			}
		}
		L->p->nwebhooks++;
	}
}

/* ---- the pipeline ---- */

static const char *dir_of(dr_arena *a, const char *file)
{
	const char *slash = strrchr(file, '/');

	if (!slash)
		return ".";
	if (slash == file)
		return "/";
	return dr_arena_strndup(a, file, (size_t)(slash - file));
}

static const char *join_path(dr_arena *a, const char *dir, const char *path)
{
	if (path[0] == '/' || !strcmp(dir, "."))
		return dr_arena_strdup(a, path);
	return dr_arena_printf(a, "%s/%s", dir, path);
}

static void rule_for_keyword(const char *prefix, const char *kw, char *buf,
			     size_t size)
{
	size_t i, o;

	if (!kw)
		kw = "error";
	if (!strcmp(kw, "additionalProperties") || !strcmp(kw, "propertyNames")) {
		snprintf(buf, size, "%s-UNKNOWN-KEY", prefix);
		return;
	}
	o = (size_t)snprintf(buf, size, "%s-", prefix);
	for (i = 0; kw[i] && o + 1 < size; i++) {
		char c = kw[i];

		buf[o++] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
	}
	buf[o] = '\0';
}

static void on_plan_schema_error(void *ctx, const dr_ynode *at,
				 const char *keyword, const char *message)
{
	char rule[64];

	rule_for_keyword("SCHEMA", keyword, rule, sizeof(rule));
	dr_diag_at(ctx, at, DR_SEV_ERROR, rule, "%s", message);
}

static void build_plan(loader *L)
{
	dr_plan *p = L->p;
	const dr_ynode *root = p->root, *md = dr_pl_map(root, "metadata");
	const dr_ynode *tg = dr_pl_map(root, "target");
	const dr_ynode *gates = dr_pl_map(root, "gates");

	dr_pl_str(root, "apiVersion", &p->api_version);
	dr_pl_str(md, "name", &p->name);
	dr_pl_str(md, "description", &p->description);
	dr_pl_strs(L->a, md, "owners", &p->owners);

	p->provider.v = "sim";
	dr_pl_str(tg, "provider", &p->provider);
	dr_pl_str(tg, "subscription", &p->subscription);
	dr_pl_str(tg, "vault", &p->vault);
	dr_pl_str(tg, "resourceGroup", &p->vault_resource_group);
	dr_pl_str(tg, "location", &p->location);
	dr_pl_str(tg, "inventory", &p->inventory);

	L->defaults = dr_pl_map(root, "defaults");
	L->defaults_target = dr_pl_map(L->defaults, "target");
	p->rp.kind = DR_RP_LATEST_PROCESSED;
	get_rp(L->defaults, "recoveryPoint", &p->rp);
	p->shutdown_source.v = true;
	dr_pl_bool(L->defaults, "shutdownSource", &p->shutdown_source);
	p->concurrency.v = DEFAULT_CONCURRENCY;
	dr_pl_int(L->defaults, "concurrency", &p->concurrency);

	if (p->inventory.at && !(L->opts && L->opts->no_inventory))
		L->io_error = dr_inventory_load(
			L->a, L->d, join_path(L->a, p->dir, p->inventory.v),
			p->inventory.at, &L->inv);

	build_networks(L);
	build_machines(L);
	build_groups(L);
	build_gate(L, dr_pl_map(gates, "commit"), &p->commit_gate);
	build_gate(L, dr_pl_map(gates, "failbackCommit"), &p->failback_gate);
	build_drill(L);
	build_notifications(L);
}

/*
 * A big plan's model is built while its schema is checked on another
 * thread (each is about a tenth of loading 10,000 machines). The builder is
 * safe on any tree, so its work is only thrown away when the schema finds
 * errors; its diagnostics wait in a list of their own and then follow the
 * schema's (none), which is the order of doing one after the other.
 */
static size_t overlap_min = DR_PLAN_OVERLAP_MIN;

size_t dr_plan_set_overlap_min(size_t machines)
{
	size_t old = overlap_min;

	overlap_min = machines;
	return old;
}

struct schema_job {
	const dr_ynode *root;
	dr_diags *d;
	int errors;
};

static void *schema_job_run(void *arg)
{
	struct schema_job *j = arg;

	j->errors = dr_pl_validate("recovery-plan.schema.json", j->root,
				   on_plan_schema_error, j->d);
	return NULL;
}

/* text lives in the arena and is registered with diags. */
static int load(dr_arena *a, const char *file, const char *text, size_t len,
		const dr_plan_load_opts *opts, dr_diags *diags, dr_plan **out)
{
	loader L;
	dr_ynode *root = NULL;
	const dr_ynode *machines;
	struct schema_job job;
	pthread_t thread;
	dr_diags *side = NULL;
	int rc;

	rc = dr_yaml_load(a, file, text, len, diags, &root);
	if (rc || !root)
		return rc ? rc : DR_EINVAL;
	/* "expected object, got null" would be true but puzzling here. */
	if (root->kind == DR_YNODE_SCALAR && root->type == DR_YSCALAR_NULL &&
	    !root->len) {
		dr_diag_at(diags, root, DR_SEV_ERROR, "SCHEMA-TYPE",
			   "the file holds no plan (it is empty or only "
			   "comments): a plan is a mapping that starts with "
			   "apiVersion: drplan/v1 and kind: RecoveryPlan");
		return DR_EINVAL;
	}
	job.root = root;
	job.d = diags;
	machines = dr_pl_seq(root, "machines");
	if (machines && machines->n >= overlap_min) {
		side = dr_diags_new_like(diags);
		if (pthread_create(&thread, NULL, schema_job_run, &job)) {
			dr_diags_free(side);
			side = NULL;
		}
	}
	if (!side) {
		schema_job_run(&job);
		if (job.errors > 0)
			return DR_EINVAL;
	}

	memset(&L, 0, sizeof(L));
	L.a = a;
	L.d = side ? side : diags;
	L.opts = opts;
	L.pp = dr_arena_zalloc(a, sizeof(*L.pp));
	L.p = &L.pp->pub;
	L.p->file = file;
	L.p->dir = dir_of(a, file);
	L.p->root = root;
	build_plan(&L);
	if (side) {
		pthread_join(thread, NULL);
		if (job.errors <= 0)
			dr_diags_move(diags, side);
		dr_diags_free(side);
		if (job.errors > 0)
			return DR_EINVAL;
	}
	if (L.io_error)
		return L.io_error;
	*out = L.p;
	return 0;
}

static int too_large(dr_diags *diags, const char *file)
{
	dr_diags_add(diags, DR_SEV_ERROR, "PLAN-READ", file, 0, 0, NULL,
		     "%s is larger than %u MiB", file, DR_PLAN_MAX_FILE >> 20);
	return DR_EINVAL;
}

int dr_plan_load_text(dr_arena *a, const char *file, const char *text,
		      size_t len, const dr_plan_load_opts *opts,
		      dr_diags *diags, dr_plan **out)
{
	char *copy;

	*out = NULL;
	if (len > DR_PLAN_MAX_FILE)
		return too_large(diags, file);
	file = dr_arena_strdup(a, file);
	copy = dr_arena_strndup(a, text, len);
	dr_diags_add_source(diags, file, copy, len);
	return load(a, file, copy, len, opts, diags, out);
}

int dr_plan_load(dr_arena *a, const char *file, const dr_plan_load_opts *opts,
		 dr_diags *diags, dr_plan **out)
{
	char *text = NULL;
	size_t len = 0;
	const char *why;
	int rc;

	*out = NULL;
	file = dr_arena_strdup(a, file);
	rc = dr_plan_read_file(a, file, DR_PLAN_MAX_FILE, &text, &len, &why);
	if (rc == DR_ELIMIT)
		return too_large(diags, file);
	if (rc) {
		dr_diags_add(diags, DR_SEV_ERROR, "PLAN-READ", file, 0, 0, NULL,
			     "cannot read %s: %s", file, why);
		return DR_EIO;
	}
	dr_diags_add_source(diags, file, text, len);
	return load(a, file, text, len, opts, diags, out);
}
