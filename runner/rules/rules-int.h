/*
 * rules-int.h - shared pieces of the rule implementations (not public).
 *
 * Each rule family lives in its own file and exposes one entry point that
 * the driver in rules.c calls with a context. The context owns an arena
 * for scratch data (folded keys, hash tables) freed when the check ends.
 */
#ifndef DR_RULES_INT_H
#define DR_RULES_INT_H

#include "core/arena.h"
#include "core/diag.h"
#include "plan/plan.h"
#include "plan/ynode.h"
#include "rules/sizes.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dr_rctx {
	const dr_plan *p;
	dr_diags *d;
	dr_arena *a; /* scratch, freed after the check */
	/* Declared networks sorted by folded name, for lookups. */
	const dr_network **nets;
	size_t nnets;
	/* Per network (by index in p->networks): its subnets sorted by name. */
	const dr_network_subnet ***subnets;
} dr_rctx;

/*
 * ASCII case-insensitive comparison, independent of the locale (Azure
 * folds ASCII) and cheaper than strcasecmp() in the per-machine loops.
 */
static inline int dr_rcasecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = (unsigned char)*a, y = (unsigned char)*b;

		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y || !x)
			return x - y;
	}
}

static inline int dr_rncasecmp(const char *a, const char *b, size_t n)
{
	for (; n; a++, b++, n--) {
		int x = (unsigned char)*a, y = (unsigned char)*b;

		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y || !x)
			return x - y;
	}
	return 0;
}

/* --- operating systems (os.c) --- */

typedef enum dr_os_kind {
	DR_OSK_UNKNOWN = 0, /* not stated or not recognised */
	DR_OSK_WINSERVER,   /* major = year (2008, 2012, ...) */
	DR_OSK_WINCLIENT,   /* major.minor = 7, 8, 8.1, 10, 11 */
	DR_OSK_RHEL,
	DR_OSK_CENTOS,
	DR_OSK_UBUNTU,
	DR_OSK_DEBIAN,
	DR_OSK_SLES,        /* minor = service pack (0 = GA) */
	DR_OSK_ORACLE,
	DR_OSK_OTHER_LINUX, /* a Linux distribution ASR does not list */
} dr_os_kind;

typedef struct dr_osinfo {
	dr_os_kind kind;
	int major, minor; /* -1 when not stated */
	bool r2;          /* Windows Server 2008 R2 / 2012 R2 */
	int sp;           /* Windows service pack, -1 when not stated */
	bool sac;         /* Windows Server Semi-Annual Channel build */
	const char *name; /* display name of the family, "RHEL" */
} dr_osinfo;

/* Recognise a free-text OS version ("RHEL 8.4", "Windows Server 2019"). */
void dr_os_parse(const char *s, dr_osinfo *out);

/* Compare dotted/dashed kernel releases numerically ("4.18.0-305.30.1.el8_4"). */
int dr_kernel_cmp(const char *a, const char *b);

void dr_rules_os(dr_rctx *c, const dr_machine *m, const dr_osinfo *os);

/* --- machine rules: boot, disks, size, placement (azure.c) --- */
void dr_rules_machine(dr_rctx *c, const dr_machine *m, const dr_osinfo *os,
		      const dr_vm_size *size);
void dr_rules_avsets(dr_rctx *c);

/* --- networks (network.c) --- */
void dr_rules_networks(dr_rctx *c);
void dr_rules_machine_net(dr_rctx *c, const dr_machine *m,
			  const dr_vm_size *size);
/* Plan-wide network rules that need every machine (duplicate IPs...). */
void dr_rules_net_plan(dr_rctx *c);
const dr_network *dr_rules_find_net(const dr_rctx *c, const char *name);
const dr_network_subnet *dr_rules_find_subnet(const dr_rctx *c,
					      const dr_network *n,
					      const char *name);

/* --- names (names.c) --- */
void dr_rules_names(dr_rctx *c, const dr_machine *m, const dr_osinfo *os);
void dr_rules_name_plan(dr_rctx *c);

/* --- plan rules (planrules.c) --- */
void dr_rules_plan(dr_rctx *c);

/* --- helpers (rules.c) --- */

/* a when stated, else b, else c. */
const dr_ynode *dr_rat(const dr_ynode *a, const dr_ynode *b, const dr_ynode *c);
/* Child i of a sequence node, else the node itself. */
const dr_ynode *dr_ritem(const dr_ynode *seq, size_t i);
/* Lower-cased arena copy of s (ASCII folding; Azure compares that way). */
char *dr_rfold(dr_arena *a, const char *s);
/* Folded arena key "a\nb" for hashing pairs (no printf: called per machine). */
char *dr_rkey(dr_arena *a, const char *x, const char *y);
/* The VM name a machine gets in Azure (target name, else machine name). */
const dr_pstr *dr_rtarget_name(const dr_machine *m);
/*
 * Whether the target name was set on its own (plan or inventory) rather
 * than defaulted to the machine name, which the loader does by copying the
 * machine's name value and node.
 */
bool dr_rtarget_explicit(const dr_machine *m);
/*
 * The item of a sequence of names that says name: item i when it does
 * (the usual case), else a search, else the sequence. The loader skips
 * unresolvable items, so model index i need not be item i.
 */
const dr_ynode *dr_ritem_named(const dr_ynode *seq, size_t i, const char *name);

/* A string -> index hash map for duplicate detection (keys borrowed). */
typedef struct dr_rmap {
	const char **keys;
	size_t *vals;
	size_t cap, n;
} dr_rmap;

void dr_rmap_init(dr_rmap *m, dr_arena *a, size_t expect);
/*
 * Insert key -> val unless the key is present. Returns true when inserted;
 * false when it was present, with *old set to the existing value.
 */
bool dr_rmap_put(dr_rmap *m, const char *key, size_t val, size_t *old);
/* The value for key, when present. */
bool dr_rmap_get(const dr_rmap *m, const char *key, size_t *val);

#endif
