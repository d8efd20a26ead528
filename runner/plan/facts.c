#include "plan/facts.h"

#include <stdlib.h>
#include <string.h>

int dr_version_cmp(const char *a, const char *b)
{
	/* Missing components count as 0, so "9.8" == "9.8.0". */
	while (*a || *b) {
		char *ea, *eb;
		unsigned long x = strtoul(a, &ea, 10);
		unsigned long y = strtoul(b, &eb, 10);

		if (x != y)
			return x < y ? -1 : 1;
		if ((*ea && *ea != '.') || (*eb && *eb != '.'))
			return 0; /* not a dotted number: stop comparing */
		a = *ea ? ea + 1 : ea;
		b = *eb ? eb + 1 : eb;
	}
	return 0;
}

static int has_driver(const dr_source *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->boot_drivers.n; i++)
		if (!strcmp(s->boot_drivers.v[i], name))
			return 1;
	return 0;
}

const char *dr_machine_extra_failover_reason(const dr_machine *m)
{
	static const char *const drivers[] = { "storvsc", "vmbus", "storflt",
					       "intelide", "atapi" };
	const dr_source *s = &m->source;
	size_t i;

	/* The conditions of [FO] "Extra failover time", in its order. */
	if (s->kind == DR_SRC_PHYSICAL)
		return "physical servers need an extra failover step";
	if (s->mobility_agent.v && dr_version_cmp(s->mobility_agent.v, "9.8") < 0)
		return "Mobility service older than 9.8";
	if (s->os == DR_OS_LINUX)
		return "VMware Linux VMs need an extra failover step";
	/* Only when the drivers are known: an absent list says nothing. */
	if (s->boot_drivers.at)
		for (i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
			if (!has_driver(s, drivers[i]))
				return "storvsc, vmbus, storflt, intelide and atapi "
				       "are not all boot drivers";
	if (s->dhcp_service.at && !s->dhcp_service.v)
		return "the DHCP service is not enabled in the guest";
	return NULL;
}
