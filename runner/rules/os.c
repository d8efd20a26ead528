/*
 * os.c - guest OS recognition and the AZ-OS-* / AZ-SRC-VSPHERE rules.
 *
 * osVersion is free text ("Windows Server 2012 R2", "RHEL 8.4",
 * "SUSE Linux Enterprise Server 15 SP3"), so it is recognised by keywords
 * and the first number after them. The support ranges are copied from
 * shared/reference/azure-vm-requirements.md rule 7 [SM] "For Linux".
 */
#include "plan/facts.h"
#include "rules/rules-int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void lower(const char *s, char *out, size_t size)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < size; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
}

/* Parse "<major>[.<minor>]" at the first digit at or after s. */
static const char *parse_num(const char *s, int *major, int *minor)
{
	char *end;

	while (*s && !isdigit((unsigned char)*s))
		s++;
	if (!*s)
		return s;
	*major = (int)strtol(s, &end, 10);
	if (*end == '.' && isdigit((unsigned char)end[1]))
		*minor = (int)strtol(end + 1, &end, 10);
	return end;
}

/* A whole-word match of w in s (words end at anything but [a-z0-9]). */
static const char *word(const char *s, const char *w)
{
	size_t n = strlen(w);
	const char *p = s;

	while ((p = strstr(p, w))) {
		bool start = p == s || !isalnum((unsigned char)p[-1]);
		bool end = !isalnum((unsigned char)p[n]);

		if (start && end)
			return p;
		p++;
	}
	return NULL;
}

static void parse_windows(const char *s, dr_osinfo *o)
{
	const char *p, *q;

	if ((p = strstr(s, "server"))) {
		bool versioned = word(s, "version") != NULL;
		int other = 0;

		o->kind = DR_OSK_WINSERVER;
		o->name = "Windows Server";
		/* A release year names an LTSC build even with a version
		 * ("2016 version 1607"); without one, "version 1809", "20H2"
		 * or a bare yymm number is a Semi-Annual Channel release. */
		for (q = p; *q; q++) {
			if (!isdigit((unsigned char)*q) || isdigit((unsigned char)q[-1]))
				continue;
			if (isdigit((unsigned char)q[1]) && q[2] == 'h' &&
			    isdigit((unsigned char)q[3]))
				versioned = true;
			else if (atoi(q) >= 1000 && atoi(q) < 10000 && strspn(q, "0123456789") == 4) {
				int v = atoi(q);

				if (v == 2008 || v == 2012 || v == 2016 || v == 2019 ||
				    v == 2022 || v == 2025 || v == 2003 || v == 2000) {
					if (o->major < 0)
						o->major = v;
				} else if (!other) {
					other = v;
				}
			}
		}
		if (o->major < 0 && (versioned || (other >= 1700 && other <= 2399)))
			o->sac = true;
		if (o->major < 0 && !o->sac && other)
			o->major = other;
		o->r2 = word(s, "r2") != NULL;
	} else {
		o->kind = DR_OSK_WINCLIENT;
		o->name = "Windows";
		parse_num(s + strlen("windows"), &o->major, &o->minor);
	}
	if ((p = strstr(s, "sp")) && isdigit((unsigned char)p[2]))
		o->sp = atoi(p + 2);
}

void dr_os_parse(const char *text, dr_osinfo *o)
{
	static const struct {
		const char *key;
		dr_os_kind kind;
		const char *name;
	} linux_names[] = {
		{ "red hat", DR_OSK_RHEL, "RHEL" },
		{ "redhat", DR_OSK_RHEL, "RHEL" },
		{ "rhel", DR_OSK_RHEL, "RHEL" },
		{ "centos", DR_OSK_CENTOS, "CentOS" },
		{ "ubuntu", DR_OSK_UBUNTU, "Ubuntu" },
		{ "debian", DR_OSK_DEBIAN, "Debian" },
		{ "sles", DR_OSK_SLES, "SLES" },
		{ "suse", DR_OSK_SLES, "SLES" },
		{ "oracle", DR_OSK_ORACLE, "Oracle Linux" },
		{ "oel", DR_OSK_ORACLE, "Oracle Linux" },
		{ "ol", DR_OSK_ORACLE, "Oracle Linux" },
	};
	char s[256];
	size_t i;

	memset(o, 0, sizeof(*o));
	o->major = o->minor = o->sp = -1;
	o->name = "";
	if (!text || !*text)
		return;
	lower(text, s, sizeof(s));
	if (strstr(s, "windows")) {
		parse_windows(strstr(s, "windows"), o);
		return;
	}
	for (i = 0; i < sizeof(linux_names) / sizeof(linux_names[0]); i++) {
		const char *p = word(s, linux_names[i].key);

		if (!p && i < 2)
			p = strstr(s, linux_names[i].key);
		if (!p)
			continue;
		o->kind = linux_names[i].kind;
		o->name = linux_names[i].name;
		p = parse_num(p, &o->major, &o->minor);
		if (o->kind == DR_OSK_SLES) {
			/* "15 SP3", "15-SP3" or "15.3"; no service pack is GA. */
			const char *sp = strstr(p, "sp");

			if (sp && isdigit((unsigned char)sp[2]))
				o->minor = atoi(sp + 2);
			else if (o->minor < 0 && o->major >= 0)
				o->minor = 0;
		}
		return;
	}
	o->kind = DR_OSK_OTHER_LINUX;
	o->name = text;
}

/* Is major.minor in [lo, hi] for one major? minor -1 (not stated) matches. */
static bool in(const dr_osinfo *o, int major, int lo, int hi)
{
	return o->major == major && (o->minor < 0 || (o->minor >= lo && o->minor <= hi));
}

static bool linux_supported(const dr_osinfo *o)
{
	switch (o->kind) {
	case DR_OSK_RHEL:
		/* 9.0/9.1 are modernized-experience only; drplan accepts them. */
		return in(o, 5, 2, 11) || in(o, 6, 1, 10) || in(o, 7, 0, 9) ||
		       in(o, 8, 0, 8) || in(o, 9, 0, 1);
	case DR_OSK_CENTOS:
		return in(o, 5, 2, 11) || in(o, 6, 1, 10) || in(o, 7, 0, 9) ||
		       in(o, 8, 0, 7);
	case DR_OSK_UBUNTU:
		/* LTS server releases only; every point release of them. */
		return (o->major == 14 || o->major == 16 || o->major == 18 ||
			o->major == 20 || o->major == 22) &&
		       (o->minor < 0 || o->minor == 4);
	case DR_OSK_DEBIAN:
		return o->major == 7 || o->major == 8 || in(o, 9, 1, 13) ||
		       o->major == 10 || o->major == 11;
	case DR_OSK_SLES:
		return in(o, 11, 3, 4) || in(o, 12, 1, 5) || in(o, 15, 0, 4);
	case DR_OSK_ORACLE:
		return in(o, 6, 4, 10) || in(o, 7, 0, 9) || in(o, 8, 0, 7);
	default:
		return false;
	}
}

static const char *linux_list(dr_os_kind k)
{
	switch (k) {
	case DR_OSK_RHEL:
		return "5.2-5.11, 6.1-6.10, 7.0-7.9, 8.0-8.8, 9.0-9.1";
	case DR_OSK_CENTOS:
		return "5.2-5.11, 6.1-6.10, 7.0-7.9, 8.0-8.7";
	case DR_OSK_UBUNTU:
		return "14.04, 16.04, 18.04, 20.04, 22.04 LTS";
	case DR_OSK_DEBIAN:
		return "7, 8, 9.1-9.13, 10, 11";
	case DR_OSK_SLES:
		return "11 SP3-SP4, 12 SP1-SP5, 15 (GA)-SP4";
	case DR_OSK_ORACLE:
		return "6.4-6.10, 7.0-7.9, 8.0-8.7";
	default:
		return "RHEL, CentOS, Ubuntu LTS, Debian, SLES, Oracle Linux";
	}
}

int dr_kernel_cmp(const char *a, const char *b)
{
	/* Numeric fields split by '.' and '-'; stop at the first non-number
	 * ("el8_4"), which names the build rather than orders it. */
	for (;;) {
		char *ea, *eb;
		bool na = isdigit((unsigned char)*a), nb = isdigit((unsigned char)*b);
		unsigned long x, y;

		if (!na || !nb)
			return na == nb ? 0 : na ? 1 : -1;
		x = strtoul(a, &ea, 10);
		y = strtoul(b, &eb, 10);
		if (x != y)
			return x < y ? -1 : 1;
		if ((*ea != '.' && *ea != '-') || (*eb != '.' && *eb != '-'))
			return 0;
		a = ea + 1;
		b = eb + 1;
	}
}

static bool mobility_below(const dr_machine *m, const char *min)
{
	const char *v = m->source.mobility_agent.v;

	return v && dr_version_cmp(v, min) < 0;
}

static void windows_rules(dr_rctx *c, const dr_machine *m, const dr_osinfo *os)
{
	const dr_source *s = &m->source;
	const dr_ynode *at = dr_rat(s->os_version.at, s->os_at, m->at);
	const char *v = s->os_version.v;
	const char *need = NULL;

	if (os->kind == DR_OSK_WINSERVER && os->sac) {
		dr_diag_at(c->d, at, DR_SEV_ERROR, "AZ-OS-WIN-LTSC",
			   "'%s' is a Semi-Annual Channel release; ASR supports only "
			   "Long-Term Servicing Channel builds: move the machine to "
			   "Windows Server 2016, 2019 or 2022 (LTSC)", v);
		return;
	}
	if (os->kind == DR_OSK_WINSERVER && os->major == 2008 && !os->r2) {
		dr_diag_at(c->d, at, DR_SEV_ERROR, "AZ-OS-WIN2008",
			   "Windows Server 2008 (without R2) is supported by ASR for "
			   "migration only, not for disaster recovery: upgrade the "
			   "machine or remove it from the plan");
		return;
	}
	if (os->kind == DR_OSK_WINSERVER) {
		switch (os->major) {
		case 2022: need = "9.46"; break;
		case 2019: need = "9.22"; break;
		case 2016: case 2012: break;
		case 2008:
			if (os->sp == 0) {
				dr_diag_at(c->d, at, DR_SEV_ERROR, "AZ-OS-WINDOWS-SUPPORTED",
					   "Windows Server 2008 R2 is supported from SP1 "
					   "onwards: install SP1");
				return;
			}
			break;
		default:
			goto unsupported;
		}
	} else if (os->kind == DR_OSK_WINCLIENT) {
		if (os->major == 7) {
			if (os->sp == 0) {
				dr_diag_at(c->d, at, DR_SEV_ERROR, "AZ-OS-WINDOWS-SUPPORTED",
					   "Windows 7 is supported with SP1 only: install SP1");
				return;
			}
			need = "9.22";
		} else if (!(os->major == 10 || (os->major == 8 && os->minor <= 1))) {
			goto unsupported;
		}
	} else {
		goto unsupported;
	}
	if (need && mobility_below(m, need))
		dr_diag_at(c->d, s->mobility_agent.at, DR_SEV_ERROR,
			   "AZ-OS-WINDOWS-SUPPORTED",
			   "%s needs Mobility service %s or later, not %s: upgrade "
			   "the Mobility service", v, need, s->mobility_agent.v);
	/* Whether the SSU and SHA-2 updates are installed can't be known
	 * offline, so this is a reminder, not an error (docs/rules.md). */
	if ((os->kind == DR_OSK_WINSERVER && os->major == 2008 && os->r2) ||
	    (os->kind == DR_OSK_WINCLIENT && os->major == 7)) {
		if (!s->mobility_agent.v ||
		    dr_version_cmp(s->mobility_agent.v, "9.30") >= 0)
			dr_diag_at(c->d, dr_rat(s->mobility_agent.at, at, NULL),
				   DR_SEV_WARNING, "AZ-OS-WIN-SHA2",
				   "Mobility service 9.30 and later installs on %s only "
				   "with the servicing stack update (SSU) and the SHA-2 "
				   "code-signing update: make sure both are installed", v);
	}
	return;
unsupported:
	dr_diag_at(c->d, at, DR_SEV_ERROR, "AZ-OS-WINDOWS-SUPPORTED",
		   "'%s' is not a Windows version ASR supports: use Windows Server "
		   "2022, 2019, 2016, 2012 R2, 2012 or 2008 R2 SP1, or Windows 10, "
		   "8.1, 8 or 7 SP1 (64-bit)", v);
}

static void linux_rules(dr_rctx *c, const dr_machine *m, const dr_osinfo *os)
{
	const dr_source *s = &m->source;
	const dr_ynode *at = dr_rat(s->os_version.at, s->os_at, m->at);
	const char *v = s->os_version.v;
	const char *min = NULL;

	if (!linux_supported(os)) {
		dr_diag *g = dr_diag_at(c->d, at, DR_SEV_ERROR, "AZ-OS-LINUX-SUPPORTED",
					"'%s' is not in ASR's Linux support matrix: "
					"upgrade or change the machine's OS", v);

		if (os->kind >= DR_OSK_RHEL && os->kind <= DR_OSK_ORACLE)
			dr_diag_note(g, "supported %s versions: %s", os->name,
				     linux_list(os->kind));
		else
			dr_diag_note(g, "supported distributions: %s",
				     linux_list(os->kind));
		return;
	}
	if ((os->kind == DR_OSK_RHEL || os->kind == DR_OSK_CENTOS) && os->major == 8) {
		if (os->minor == 4)
			min = "4.18.0-305.30.1.el8_4.x86_64";
		else if (os->minor == 5)
			min = "4.18.0-348.5.1.el8_5.x86_64";
	}
	if (min && s->kernel.v && dr_kernel_cmp(s->kernel.v, min) < 0)
		dr_diag_at(c->d, dr_rat(s->kernel.at, at, NULL), DR_SEV_ERROR,
			   "AZ-OS-LINUX-KERNEL",
			   "%s needs kernel %s or later, not %s: update the kernel",
			   v, min, s->kernel.v);
}

static bool is_64bit(const char *arch)
{
	static const char *const ok[] = { "x64", "x86_64", "x86-64", "amd64", "64-bit",
					  "64bit" };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!dr_rcasecmp(arch, ok[i]))
			return true;
	return false;
}

static void vsphere_rule(dr_rctx *c, const dr_machine *m)
{
	const dr_source *s = &m->source;
	int major = -1, minor = -1;

	if (s->kind != DR_SRC_VMWARE || !s->vsphere.v)
		return;
	parse_num(s->vsphere.v, &major, &minor);
	if (minor < 0)
		minor = 0;
	if ((major == 8 && minor == 0) || (major == 7 && minor == 0) ||
	    (major == 6 && (minor == 7 || minor == 5)))
		return;
	dr_diag_at(c->d, dr_rat(s->vsphere.at, s->at, m->at), DR_SEV_ERROR,
		   "AZ-SRC-VSPHERE",
		   "vSphere/vCenter %s is not supported by ASR: upgrade the host "
		   "and vCenter to 6.5, 6.7, 7.0 or 8.0", s->vsphere.v);
}

void dr_rules_os(dr_rctx *c, const dr_machine *m, const dr_osinfo *os)
{
	const dr_source *s = &m->source;
	bool w2008_32 = os->kind == DR_OSK_WINSERVER && os->major == 2008 && !os->r2;

	/* 2008 SP2 32-bit is reported as migration-only (AZ-OS-WIN2008). */
	if (s->arch.v && !is_64bit(s->arch.v) && !w2008_32)
		dr_diag_at(c->d, dr_rat(s->arch.at, s->at, m->at), DR_SEV_ERROR,
			   "AZ-OS-ARCH",
			   "architecture '%s' is not supported: ASR replicates 64-bit "
			   "(x64) machines only", s->arch.v);
	if (s->os_version.v) {
		if (s->os == DR_OS_WINDOWS)
			windows_rules(c, m, os);
		else
			linux_rules(c, m, os);
	}
	vsphere_rule(c, m);
}
