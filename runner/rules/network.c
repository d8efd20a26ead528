/*
 * network.c - declared networks, NICs and static IPs.
 *
 * Static IPs can be checked offline only against the VNets the plan
 * declares under `networks`; a VNet used but not declared gets one
 * PLAN-NETWORK-UNKNOWN warning (per VNet, not per machine).
 */
#include "core/parse.h"
#include "rules/rules-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	uint32_t addr;
	int prefix;
	const char *what;
} forbidden[] = {
	{ 0xE0000000u, 4, "224.0.0.0/4 (multicast)" },
	{ 0xFFFFFFFFu, 32, "255.255.255.255/32 (broadcast)" },
	{ 0x7F000000u, 8, "127.0.0.0/8 (loopback)" },
	{ 0xA9FE0000u, 16, "169.254.0.0/16 (link-local)" },
	{ 0xA83F8110u, 32, "168.63.129.16/32 (Azure internal DNS)" },
};

/* The forbidden range that overlaps addr/prefix, or NULL. */
static const char *forbidden_overlap(uint32_t addr, int prefix)
{
	size_t i;

	for (i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		int p = prefix < forbidden[i].prefix ? prefix : forbidden[i].prefix;
		uint32_t m = dr_prefix_mask(p);

		if ((addr & m) == (forbidden[i].addr & m))
			return forbidden[i].what;
	}
	return NULL;
}

static bool parse_subnet(const dr_network_subnet *s, uint32_t *addr, int *prefix)
{
	return s->prefix.v && !dr_parse_cidr(s->prefix.v, addr, prefix);
}

static bool same_region(const char *a, const char *b)
{
	/* "West Europe" and "westeurope" name the same region. */
	for (;;) {
		while (*a == ' ')
			a++;
		while (*b == ' ')
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		if ((*a | 0x20) != (*b | 0x20))
			return false;
		a++;
		b++;
	}
}

typedef struct subref {
	uint32_t addr;
	uint64_t end; /* last address + 1 */
	int prefix;
	const dr_network_subnet *s;
} subref;

static int cmp_subref(const void *a, const void *b)
{
	const subref *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->prefix < y->prefix ? -1 : x->prefix > y->prefix;
}

static void network_rules(dr_rctx *c, const dr_network *n)
{
	const dr_plan *p = c->p;
	subref *v = dr_arena_alloc(c->a, (n->nsubnets + 1) * sizeof(*v));
	uint64_t maxend = 0;
	const subref *maxsub = NULL;
	size_t i, j, nv = 0;

	if (n->location.v && p->location.v && !same_region(n->location.v, p->location.v))
		dr_diag_at(c->d, dr_rat(n->location.at, n->at, NULL), DR_SEV_ERROR,
			   "AZ-NET-REGION",
			   "VNet '%s' is in %s but the vault's region is %s: target "
			   "networks must be in the vault's region", n->name.v,
			   n->location.v, p->location.v);
	for (i = 0; i < n->address_space.n; i++) {
		uint32_t a;
		int pl;
		const char *bad;

		if (dr_parse_cidr(n->address_space.v[i], &a, &pl))
			continue;
		if ((bad = forbidden_overlap(a, pl)))
			dr_diag_at(c->d, dr_ritem(n->address_space.at, i), DR_SEV_ERROR,
				   "AZ-NET-FORBIDDEN-RANGES",
				   "address space %s of VNet '%s' overlaps %s, which Azure "
				   "VNets can't use: choose another range",
				   n->address_space.v[i], n->name.v, bad);
	}
	for (i = 0; i < n->nsubnets; i++) {
		const dr_network_subnet *s = &n->subnets[i];
		const dr_ynode *at = dr_rat(s->prefix.at, s->at, n->at);
		uint32_t a;
		int pl;
		const char *bad;
		bool inside = n->address_space.n == 0;

		if (!parse_subnet(s, &a, &pl))
			continue;
		if (pl < 8 || pl > 29)
			dr_diag_at(c->d, at, DR_SEV_INFO, "AZ-NET-SUBNET-SIZE",
				   "subnet '%s' is a /%d; Azure IPv4 subnets are between "
				   "/8 and /29", s->name.v, pl);
		if ((bad = forbidden_overlap(a, pl)))
			dr_diag_at(c->d, at, DR_SEV_ERROR, "AZ-NET-FORBIDDEN-RANGES",
				   "subnet '%s' (%s) overlaps %s, which Azure VNets can't "
				   "use: choose another range", s->name.v, s->prefix.v, bad);
		for (j = 0; j < n->address_space.n && !inside; j++) {
			uint32_t sa;
			int sp;

			if (!dr_parse_cidr(n->address_space.v[j], &sa, &sp) && sp <= pl &&
			    (a & dr_prefix_mask(sp)) == sa)
				inside = true;
		}
		if (!inside)
			dr_diag_at(c->d, at, DR_SEV_ERROR, "PLAN-SUBNET-OVERLAP",
				   "subnet '%s' (%s) is outside the address space of VNet "
				   "'%s': change the prefix or add its range to the "
				   "address space", s->name.v, s->prefix.v, n->name.v);
		v[nv].addr = a;
		v[nv].prefix = pl;
		v[nv].end = (uint64_t)a + ((uint64_t)1 << (32 - pl));
		v[nv++].s = s;
	}
	/* Sorted by start address, a subnet overlaps an earlier one exactly
	 * when it starts before the furthest end seen so far. */
	qsort(v, nv, sizeof(*v), cmp_subref);
	for (i = 0; i < nv; i++) {
		if (maxsub && v[i].addr < maxend)
			dr_diag_at(c->d, dr_rat(v[i].s->prefix.at, v[i].s->at, n->at),
				   DR_SEV_ERROR, "PLAN-SUBNET-OVERLAP",
				   "subnet '%s' (%s) overlaps subnet '%s' (%s) of VNet "
				   "'%s': subnets of a VNet must not overlap", v[i].s->name.v,
				   v[i].s->prefix.v, maxsub->s->name.v, maxsub->s->prefix.v,
				   n->name.v);
		if (v[i].end > maxend) {
			maxend = v[i].end;
			maxsub = &v[i];
		}
	}
}

void dr_rules_networks(dr_rctx *c)
{
	size_t i;

	for (i = 0; i < c->p->nnetworks; i++)
		network_rules(c, &c->p->networks[i]);
}

/* The subnet a target NIC uses: its own, else the machine's. */
static const dr_pstr *nic_subnet(const dr_target *t, const dr_target_nic *k)
{
	return k && k->subnet.v ? &k->subnet : &t->subnet;
}

static void check_subnet_declared(dr_rctx *c, const dr_machine *m,
				  const dr_network *net, const dr_pstr *sub)
{
	const dr_network_subnet *best = NULL;
	dr_diag *g;
	size_t i, bd = 4;

	if (!net || !sub->v || dr_rules_find_subnet(c, net, sub->v))
		return;
	g = dr_diag_at(c->d, dr_rat(sub->at, m->target.at, m->at), DR_SEV_ERROR,
		       "PLAN-NETWORK-UNKNOWN",
		       "subnet '%s' is not declared in VNet '%s' under networks: "
		       "fix the name or declare the subnet", sub->v, net->name.v);
	for (i = 0; i < net->nsubnets; i++) {
		size_t dd;

		if (!net->subnets[i].name.v)
			continue;
		dd = dr_edit_distance(sub->v, net->subnets[i].name.v, 3);
		if (dd < bd) {
			bd = dd;
			best = &net->subnets[i];
		}
	}
	if (best)
		dr_diag_note(g, "did you mean '%s'?", best->name.v);
}

static void check_ip(dr_rctx *c, const dr_machine *m, const dr_network *net,
		     const dr_pstr *ip, const dr_pstr *sub)
{
	const dr_ynode *at = dr_rat(ip->at, m->target.at, m->at);
	const dr_network_subnet *s;
	const char *bad;
	uint32_t a, sa;
	int pl;

	if (dr_parse_ipv4(ip->v, &a)) {
		dr_diag_at(c->d, at, DR_SEV_ERROR, "AZ-NET-STATIC-IP-SUBNET",
			   "'%s' is not an IPv4 address: write a dotted quad such as "
			   "10.0.1.10", ip->v);
		return;
	}
	if ((bad = forbidden_overlap(a, 32))) {
		dr_diag_at(c->d, at, DR_SEV_ERROR, "AZ-NET-FORBIDDEN-RANGES",
			   "static IP %s is in %s, which Azure VNets can't use: choose "
			   "an address in the subnet's range", ip->v, bad);
		return;
	}
	s = net && sub->v ? dr_rules_find_subnet(c, net, sub->v) : NULL;
	if (!s || !parse_subnet(s, &sa, &pl))
		return;
	if ((a & dr_prefix_mask(pl)) != sa) {
		dr_diag_at(c->d, at, DR_SEV_ERROR, "AZ-NET-STATIC-IP-SUBNET",
			   "static IP %s is outside subnet '%s' (%s): pick an address "
			   "in %s or change the subnet", ip->v, s->name.v, s->prefix.v,
			   s->prefix.v);
		return;
	}
	if (pl <= 30 && (a - sa <= 3 || a == (sa | ~dr_prefix_mask(pl))))
		dr_diag_at(c->d, at, DR_SEV_ERROR, "AZ-NET-RESERVED-IP",
			   "static IP %s is one of the addresses Azure reserves in "
			   "subnet '%s' (%s): the first four and the last address "
			   "can't be assigned, pick another one", ip->v, s->name.v,
			   s->prefix.v);
}

/* Static IPs of a machine: the primary IP, then per-NIC IPs that differ. */
static size_t machine_ips(const dr_machine *m, const dr_pstr **ips,
			  const dr_pstr **subs, size_t max)
{
	const dr_target *t = &m->target;
	size_t i, n = 0;

	if (t->ip.v && n < max) {
		ips[n] = &t->ip;
		subs[n++] = nic_subnet(t, t->nnics ? &t->nics[0] : NULL);
	}
	for (i = 0; i < t->nnics && n < max; i++) {
		if (!t->nics[i].ip.v || (t->ip.v && !strcmp(t->nics[i].ip.v, t->ip.v)))
			continue;
		ips[n] = &t->nics[i].ip;
		subs[n++] = nic_subnet(t, &t->nics[i]);
	}
	return n;
}

#define MAX_IPS 64

void dr_rules_machine_net(dr_rctx *c, const dr_machine *m, const dr_vm_size *size)
{
	const dr_source *s = &m->source;
	const dr_target *t = &m->target;
	const dr_network *net = dr_rules_find_net(c, t->vnet.v);
	const dr_pstr *ips[MAX_IPS], *subs[MAX_IPS];
	const dr_target_nic *second = NULL;
	size_t i, nips, nprimary = 0, nexplicit = 0;
	size_t nics = t->nnics > s->nnics ? t->nnics : s->nnics;

	for (i = 0; i < s->nnics; i++) {
		const dr_source_nic *k = &s->nics[i];

		if (k->ipv6.v)
			dr_diag_at(c->d, dr_rat(k->ipv6.at, k->at, m->at), DR_SEV_ERROR,
				   "AZ-NET-GUEST",
				   "NIC %zu uses IPv6, which ASR doesn't support in the "
				   "guest: use IPv4", i + 1);
		if (k->teamed.v)
			dr_diag_at(c->d, dr_rat(k->teamed.at, k->at, m->at), DR_SEV_ERROR,
				   "AZ-NET-GUEST",
				   "NIC %zu is teamed in the guest, which ASR doesn't "
				   "support: remove the guest NIC team (host teaming is "
				   "supported)", i + 1);
	}
	if (size && nics > (size_t)size->max_nics)
		dr_diag_at(c->d, dr_rat(t->size.at, t->at, m->at), DR_SEV_ERROR,
			   "AZ-NET-NIC-COUNT",
			   "the machine has %zu NICs and %s allows at most %d, so ASR "
			   "would drop the rest: choose a larger size or fewer NICs",
			   nics, size->name, size->max_nics);
	for (i = 0; i < t->nnics; i++) {
		if (t->nics[i].primary.at)
			nexplicit++;
		if (t->nics[i].primary.v && ++nprimary == 2)
			second = &t->nics[i];
	}
	if (second)
		dr_diag_at(c->d, dr_rat(second->primary.at, second->at, m->at),
			   DR_SEV_ERROR, "AZ-NET-NIC-VNET",
			   "more than one NIC is marked primary: exactly one NIC must "
			   "be the primary one");
	else if (t->nnics && !nprimary && nexplicit == t->nnics)
		dr_diag_at(c->d, dr_rat(t->nics[0].at, t->at, m->at), DR_SEV_ERROR,
			   "AZ-NET-NIC-VNET",
			   "no NIC is primary: mark exactly one NIC as primary");
	if (net) {
		check_subnet_declared(c, m, net, &t->subnet);
		for (i = 0; i < t->nnics; i++)
			if (t->nics[i].subnet.v)
				check_subnet_declared(c, m, net, &t->nics[i].subnet);
	}
	nips = machine_ips(m, ips, subs, MAX_IPS);
	for (i = 0; i < nips; i++)
		check_ip(c, m, net, ips[i], subs[i]);
}

void dr_rules_net_plan(dr_rctx *c)
{
	const dr_plan *p = c->p;
	const dr_drill *dr = &p->drill;
	dr_rmap ipmap, vnets;
	size_t i, j, total = 0;
	const dr_pstr *ips[MAX_IPS], *subs[MAX_IPS];
	bool test_net_done = false;

	for (i = 0; i < p->nmachines; i++)
		total += 1 + p->machines[i].target.nnics;
	dr_rmap_init(&ipmap, c->a, total);
	dr_rmap_init(&vnets, c->a, p->nmachines);
	for (i = 0; i < p->nmachines; i++) {
		const dr_machine *m = &p->machines[i];
		const dr_target *t = &m->target;
		size_t nips = machine_ips(m, ips, subs, MAX_IPS);

		if (t->vnet.v && !dr_rules_find_net(c, t->vnet.v) && (c->nnets || nips) &&
		    dr_rmap_put(&vnets, dr_rfold(c->a, t->vnet.v), i, NULL))
			dr_diag_at(c->d, dr_rat(t->vnet.at, t->at, m->at), DR_SEV_WARNING,
				   "PLAN-NETWORK-UNKNOWN",
				   "VNet '%s' is not declared under networks, so its "
				   "subnets and static IPs can't be checked offline: declare "
				   "it with its address space and subnets", t->vnet.v);
		for (j = 0; j < nips; j++) {
			/* IPs are dotted quads: folding them is harmless. */
			const char *key = dr_rkey(c->a, t->vnet.v, ips[j]->v);
			size_t old;

			if (!dr_rmap_put(&ipmap, key, i, &old)) {
				dr_diag_at(c->d, dr_rat(ips[j]->at, t->at, m->at),
					   DR_SEV_ERROR, "AZ-NET-IP-DUPLICATE",
					   "static IP %s is already used by '%s' in VNet "
					   "'%s': give each NIC its own address", ips[j]->v,
					   p->machines[old].name.v,
					   t->vnet.v ? t->vnet.v : "(none)");
			}
		}
		if (!test_net_done && dr->vnet.v && t->vnet.v &&
		    !dr_rcasecmp(dr->vnet.v, t->vnet.v)) {
			test_net_done = true;
			dr_diag_at(c->d, dr_rat(dr->vnet.at, dr->at, NULL), DR_SEV_WARNING,
				   "AZ-NET-TEST-NETWORK",
				   "the drill network '%s' is also the failover network of "
				   "'%s': drill into an isolated VNet so test VMs can't "
				   "clash with production", dr->vnet.v, m->name.v);
		}
	}
	if (!dr->at)
		return;
	if (!dr->vnet.v) {
		dr_diag_at(c->d, dr->at, DR_SEV_WARNING, "PLAN-DRILL-NETWORK",
			   "the drill has no network: set drill.network.vnet to an "
			   "isolated VNet, or ASR drills into the failover network");
		return;
	}
	{
		const dr_network *n = dr_rules_find_net(c, dr->vnet.v);

		if (!n && c->nnets)
			dr_diag_at(c->d, dr_rat(dr->vnet.at, dr->at, NULL), DR_SEV_WARNING,
				   "PLAN-NETWORK-UNKNOWN",
				   "drill VNet '%s' is not declared under networks: declare "
				   "it (isolated: true) so the plan can be checked offline",
				   dr->vnet.v);
		else if (n && !n->isolated)
			dr_diag_at(c->d, dr_rat(dr->vnet.at, dr->at, NULL), DR_SEV_WARNING,
				   "PLAN-DRILL-NETWORK",
				   "drill VNet '%s' is not marked isolated: drill into a VNet "
				   "with no route to production and mark it isolated: true",
				   dr->vnet.v);
		if (n && dr->subnet.v && !dr_rules_find_subnet(c, n, dr->subnet.v))
			dr_diag_at(c->d, dr_rat(dr->subnet.at, dr->at, NULL), DR_SEV_ERROR,
				   "PLAN-NETWORK-UNKNOWN",
				   "drill subnet '%s' is not declared in VNet '%s': fix the "
				   "name or declare the subnet", dr->subnet.v, dr->vnet.v);
	}
}
