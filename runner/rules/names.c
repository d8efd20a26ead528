/*
 * names.c - Azure resource naming rules [NAMES], [SM], [RESERVED].
 *
 * Names are checked byte by byte: ASCII letters and digits are
 * alphanumerics; bytes >= 0x80 count as letters only where Azure allows
 * Unicode letters (resource groups), an approximation of Char.IsLetterOrDigit.
 */
#include "rules/rules-int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static bool an(char ch)
{
	return isascii((unsigned char)ch) && isalnum((unsigned char)ch);
}

/*
 * Names of NICs, availability sets, VNets and subnets: min..max characters
 * of alphanumerics, '_', '.', '-', starting with an alphanumeric and ending
 * with an alphanumeric or '_'. Writes the problem into why.
 */
static bool net_name_ok(const char *s, size_t min, size_t max, char *why, size_t n)
{
	size_t len = strlen(s), i;

	if (len < min || len > max) {
		snprintf(why, n, "has %zu characters; %zu to %zu are allowed", len,
			 min, max);
		return false;
	}
	for (i = 0; i < len; i++)
		if (!an(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-') {
			snprintf(why, n, "contains '%c'; only letters, digits, '_', '.' "
				 "and '-' are allowed", s[i]);
			return false;
		}
	if (!an(s[0])) {
		snprintf(why, n, "must start with a letter or digit");
		return false;
	}
	if (!an(s[len - 1]) && s[len - 1] != '_') {
		snprintf(why, n, "must end with a letter, digit or '_'");
		return false;
	}
	return true;
}

static void net_name(dr_rctx *c, const dr_pstr *name, const dr_ynode *fallback,
		     const char *rule, const char *what, size_t min, size_t max)
{
	char why[128];

	if (name->v && !net_name_ok(name->v, min, max, why, sizeof(why)))
		dr_diag_at(c->d, dr_rat(name->at, fallback, NULL), DR_SEV_ERROR, rule,
			   "%s name '%s' %s: rename it", what, name->v, why);
}

static void rg_name(dr_rctx *c, const dr_pstr *name, const dr_ynode *fallback)
{
	const char *s = name->v, *why = NULL;
	size_t len, i;
	char buf[96];

	if (!s)
		return;
	len = strlen(s);
	if (len < 1 || len > 90) {
		snprintf(buf, sizeof(buf), "has %zu characters; 1 to 90 are allowed", len);
		why = buf;
	}
	for (i = 0; i < len && !why; i++)
		if (!an(s[i]) && !((unsigned char)s[i] >= 0x80) && !strchr("_-.()", s[i])) {
			snprintf(buf, sizeof(buf), "contains '%c'; only letters, digits, "
				 "'_', '-', '.', '(' and ')' are allowed", s[i]);
			why = buf;
		}
	if (!why && s[len - 1] == '.')
		why = "must not end with a period";
	if (why)
		dr_diag_at(c->d, dr_rat(name->at, fallback, NULL), DR_SEV_ERROR,
			   "AZ-NAME-RG", "resource group name '%s' %s: rename it", s, why);
}

static const char *const reserved[] = {
	"ACCESS", "APP_CODE", "APP_THEMES", "APP_DATA", "APP_GLOBALRESOURCES",
	"APP_LOCALRESOURCES", "APP_WEBREFERENCES", "APP_BROWSERS", "AZURE", "BING",
	"BIZSPARK", "BIZTALK", "CORTANA", "DIRECTX", "DOTNET", "DYNAMICS", "EXCEL",
	"EXCHANGE", "FOREFRONT", "GROOVE", "HOLOLENS", "HYPERV", "KINECT", "LYNC",
	"MSDN", "O365", "OFFICE", "OFFICE365", "ONEDRIVE", "ONENOTE", "OUTLOOK",
	"POWERPOINT", "SHAREPOINT", "SKYPE", "VISIO", "VISUALSTUDIO", "WEB.CONFIG",
	"XBOX",
};

static const char *reserved_why(const char *s)
{
	char up[72];
	size_t i, n = strlen(s);

	/* Names over 63 characters are already AZ-NAME-VM-ASR errors. */
	if (n >= sizeof(up))
		return NULL;
	for (i = 0; i <= n; i++)
		up[i] = (char)toupper((unsigned char)s[i]);
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (up[0] == reserved[i][0] && !strcmp(up, reserved[i]))
			return "is a reserved word";
	if (strstr(up, "MICROSOFT"))
		return "contains the reserved word MICROSOFT";
	if (strstr(up, "WINDOWS"))
		return "contains the reserved word WINDOWS";
	if (!strncmp(up, "LOGIN", 5))
		return "starts with the reserved word LOGIN";
	return NULL;
}

static void vm_name(dr_rctx *c, const dr_machine *m, const dr_osinfo *os)
{
	const dr_pstr *name = dr_rtarget_name(m);
	const dr_ynode *at = dr_rat(name->at, m->target.at, m->at);
	const char *s = name->v, *why;
	bool win = m->source.os == DR_OS_WINDOWS;
	size_t len, i;
	char buf[128];

	if (!s || !*s)
		return; /* a missing name is the schema's to report */
	len = strlen(s);
	buf[0] = '\0';
	if (len < 1 || len > 63)
		snprintf(buf, sizeof(buf), "has %zu characters; 1 to 63 are allowed", len);
	for (i = 0; i < len && !buf[0]; i++)
		if (!an(s[i]) && s[i] != '-')
			snprintf(buf, sizeof(buf), "contains '%c'; only letters, digits "
				 "and '-' are allowed", s[i]);
	if (!buf[0] && (!an(s[0]) || !an(s[len - 1])))
		snprintf(buf, sizeof(buf), "must start and end with a letter or digit");
	if (buf[0]) {
		dr_diag_at(c->d, at, DR_SEV_ERROR, "AZ-NAME-VM-ASR",
			   "Azure VM name '%s' %s: set target.name to a valid name", s, buf);
	} else if (win && len > 15) {
		/* Anything ASR accepts also passes ARM's character rules; only the
		 * Windows host-name length is left to say. */
		dr_diag_at(c->d, at, DR_SEV_WARNING, "AZ-NAME-VM-ARM",
			   "Azure VM name '%s' has %zu characters; a Windows computer "
			   "name has at most 15, so the two will differ: shorten it if "
			   "they should match", s, len);
	}
	(void)os;
	if ((why = reserved_why(s)))
		dr_diag_at(c->d, at, DR_SEV_ERROR, "AZ-NAME-RESERVED",
			   "VM name '%s' %s in Azure: rename the machine's target", s, why);
}

void dr_rules_names(dr_rctx *c, const dr_machine *m, const dr_osinfo *os)
{
	const dr_target *t = &m->target;
	const dr_ynode *fb = dr_rat(t->at, m->at, NULL);
	size_t i;

	vm_name(c, m, os);
	rg_name(c, &t->resource_group, fb);
	net_name(c, &t->availability_set, fb, "AZ-NAME-AVSET", "availability set", 1, 80);
	net_name(c, &t->vnet, fb, "AZ-NAME-VNET-SUBNET", "VNet", 2, 64);
	net_name(c, &t->subnet, fb, "AZ-NAME-VNET-SUBNET", "subnet", 1, 80);
	for (i = 0; i < t->nnics; i++) {
		const dr_ynode *nfb = dr_rat(t->nics[i].at, fb, NULL);

		net_name(c, &t->nics[i].name, nfb, "AZ-NAME-NIC", "NIC", 1, 80);
		net_name(c, &t->nics[i].subnet, nfb, "AZ-NAME-VNET-SUBNET", "subnet", 1, 80);
	}
}

void dr_rules_name_plan(dr_rctx *c)
{
	const dr_plan *p = c->p;
	dr_rmap names;
	size_t i, j;

	rg_name(c, &p->vault_resource_group, p->root);
	for (i = 0; i < p->nnetworks; i++) {
		const dr_network *n = &p->networks[i];

		net_name(c, &n->name, n->at, "AZ-NAME-VNET-SUBNET", "VNet", 2, 64);
		rg_name(c, &n->resource_group, n->at);
		for (j = 0; j < n->nsubnets; j++)
			net_name(c, &n->subnets[j].name, n->subnets[j].at,
				 "AZ-NAME-VNET-SUBNET", "subnet", 1, 80);
	}
	net_name(c, &p->drill.vnet, p->drill.at, "AZ-NAME-VNET-SUBNET", "VNet", 2, 64);
	net_name(c, &p->drill.subnet, p->drill.at, "AZ-NAME-VNET-SUBNET", "subnet", 1, 80);

	/* Target VM names per resource group, compared as Azure does. */
	dr_rmap_init(&names, c->a, p->nmachines);
	for (i = 0; i < p->nmachines; i++) {
		const dr_machine *m = &p->machines[i], *o;
		const dr_pstr *name = dr_rtarget_name(m), *oname;
		const char *rg = m->target.resource_group.v ? m->target.resource_group.v : "";
		size_t old;

		if (!name->v)
			continue;
		if (dr_rmap_put(&names, dr_rkey(c->a, rg, name->v), i, &old))
			continue;
		o = &p->machines[old];
		/* Two machines with the same name: PLAN-DUPLICATE-MACHINE says it. */
		if (!dr_rtarget_explicit(m) && !dr_rtarget_explicit(o))
			continue;
		oname = dr_rtarget_name(o);
		if (!strcmp(oname->v, name->v))
			dr_diag_at(c->d, dr_rat(name->at, m->target.at, m->at), DR_SEV_ERROR,
				   "PLAN-DUPLICATE-TARGET-NAME",
				   "target VM name '%s' is already used by machine '%s' in "
				   "resource group '%s': give each machine its own target "
				   "name", name->v, o->name.v, rg);
		else
			dr_diag_at(c->d, dr_rat(name->at, m->target.at, m->at), DR_SEV_ERROR,
				   "AZ-NAME-CASE",
				   "target VM name '%s' differs only by case from '%s' "
				   "(machine '%s') in resource group '%s', and Azure names are "
				   "case-insensitive: give each machine its own target name",
				   name->v, oname->v, o->name.v, rg);
	}
}
