/*
 * planrules.c - rules about the plan itself (PLAN-*): unique names, group
 * membership, dependency cycles, hook files, gate keys, drill settings.
 */
#include "core/error.h"
#include "core/strbuf.h"
#include "rules/rules-int.h"
#include "sched/cron.h"
#include "sched/tz.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* The message only mentions case when the spellings differ: "already
 * defined as 'web01'" about 'web01' reads like a riddle. */
static void duplicate_name(dr_rctx *c, const char *rule, const char *what,
			   const char *fix, const dr_pstr *dup, const dr_ynode *at,
			   const dr_pstr *first)
{
	dr_diag *g;

	if (!strcmp(dup->v, first->v))
		g = dr_diag_at(c->d, at, DR_SEV_ERROR, rule,
			       "%s '%s' is defined twice: %s", what, dup->v, fix);
	else
		g = dr_diag_at(c->d, at, DR_SEV_ERROR, rule,
			       "%s '%s' is already defined as '%s' (names are "
			       "compared case-insensitively): %s",
			       what, dup->v, first->v, fix);
	if (g && first->at)
		dr_diag_note(g, "the first one is at line %d", first->at->line);
}

static void unique_names(dr_rctx *c)
{
	const dr_plan *p = c->p;
	dr_rmap mm, gm;
	size_t i, old;

	dr_rmap_init(&mm, c->a, p->nmachines);
	for (i = 0; i < p->nmachines; i++) {
		const dr_machine *m = &p->machines[i];

		if (m->name.v && !dr_rmap_put(&mm, dr_rfold(c->a, m->name.v), i, &old))
			duplicate_name(c, "PLAN-DUPLICATE-MACHINE", "machine",
				       "rename or remove one", &m->name,
				       dr_rat(m->name.at, m->at, NULL),
				       &p->machines[old].name);
	}
	dr_rmap_init(&gm, c->a, p->ngroups);
	for (i = 0; i < p->ngroups; i++) {
		const dr_group *g = &p->groups[i];

		if (g->name.v && !dr_rmap_put(&gm, dr_rfold(c->a, g->name.v), i, &old))
			duplicate_name(c, "PLAN-DUPLICATE-GROUP", "group",
				       "rename or merge them", &g->name,
				       dr_rat(g->name.at, g->at, NULL),
				       &p->groups[old].name);
	}
}

static void membership(dr_rctx *c)
{
	const dr_plan *p = c->p;
	size_t *first = dr_arena_alloc(c->a, (p->nmachines + 1) * sizeof(*first));
	size_t i, j;

	for (i = 0; i < p->nmachines; i++)
		first[i] = (size_t)-1;
	for (i = 0; i < p->ngroups; i++) {
		const dr_group *g = &p->groups[i];

		for (j = 0; j < g->nmachines; j++) {
			size_t k = g->machines[j];

			if (k >= p->nmachines)
				continue;
			if (first[k] == (size_t)-1)
				first[k] = i;
			else if (first[k] != i)
				dr_diag_at(c->d,
					   dr_rat(dr_ritem_named(g->machines_at, j,
								 p->machines[k].name.v),
						  g->at, NULL),
					   DR_SEV_ERROR, "PLAN-MACHINE-IN-TWO-GROUPS",
					   "machine '%s' is already in group '%s': a machine "
					   "belongs to exactly one group, remove it from one",
					   p->machines[k].name.v, p->groups[first[k]].name.v);
		}
	}
	for (i = 0; i < p->nmachines; i++)
		if (first[i] == (size_t)-1)
			dr_diag_at(c->d, dr_rat(p->machines[i].name.at, p->machines[i].at, NULL),
				   DR_SEV_ERROR, "PLAN-UNGROUPED-MACHINE",
				   "machine '%s' is in no group, so no operation would "
				   "touch it: add it to a group", p->machines[i].name.v);
}

#define MAX_CYCLES 10
#define MAX_CYCLE_NAMES 32

typedef struct frame {
	size_t g, k; /* group, next `after` entry to follow */
} frame;

static void report_cycle(dr_rctx *c, const frame *st, size_t from, size_t top,
			 const dr_ynode *at)
{
	const dr_plan *p = c->p;
	dr_strbuf sb = DR_STRBUF_INIT;
	size_t i, len = top - from + 1;

	for (i = from; i <= top; i++) {
		if (i - from == MAX_CYCLE_NAMES - 1 && len > MAX_CYCLE_NAMES) {
			dr_strbuf_addf(&sb, "... (%zu more) -> ", top - i);
			i = top;
		}
		dr_strbuf_addf(&sb, "%s -> ", p->groups[st[i].g].name.v);
	}
	dr_strbuf_addstr(&sb, p->groups[st[from].g].name.v);
	dr_diag_at(c->d, at, DR_SEV_ERROR, "PLAN-CYCLE",
		   "groups depend on each other in a cycle: %s: remove one of "
		   "these `after` dependencies", sb.buf);
	dr_strbuf_release(&sb);
}

/* Iterative DFS (10,000 groups must neither recurse deeply nor go quadratic). */
static void cycles(dr_rctx *c)
{
	const dr_plan *p = c->p;
	size_t ng = p->ngroups, s, sp, found = 0;
	unsigned char *color = dr_arena_zalloc(c->a, ng + 1); /* 0 new, 1 open, 2 done */
	size_t *pos = dr_arena_alloc(c->a, (ng + 1) * sizeof(*pos));
	frame *st = dr_arena_alloc(c->a, (ng + 1) * sizeof(*st));

	for (s = 0; s < ng; s++) {
		const dr_group *g = &p->groups[s];
		size_t k;

		for (k = 0; k < g->nafter; k++)
			if (g->after[k] == s)
				dr_diag_at(c->d, dr_rat(dr_ritem_named(g->after_at, k, g->name.v),
							g->at, NULL),
					   DR_SEV_ERROR, "PLAN-SELF-DEPENDENCY",
					   "group '%s' waits for itself: remove it from its "
					   "own `after` list", g->name.v);
	}
	for (s = 0; s < ng; s++) {
		if (color[s])
			continue;
		sp = 0;
		st[0].g = s;
		st[0].k = 0;
		color[s] = 1;
		pos[s] = 0;
		for (;;) {
			frame *f = &st[sp];
			const dr_group *g = &p->groups[f->g];

			if (f->k < g->nafter) {
				size_t k = f->k++, v = g->after[k];

				if (v >= ng || v == f->g)
					continue;
				if (!color[v]) {
					color[v] = 1;
					pos[v] = ++sp;
					st[sp].g = v;
					st[sp].k = 0;
				} else if (color[v] == 1 && found < MAX_CYCLES) {
					found++;
					report_cycle(c, st, pos[v], sp,
						     dr_rat(dr_ritem_named(g->after_at, k,
									   p->groups[v].name.v),
							    g->at, NULL));
				}
				continue;
			}
			color[f->g] = 2;
			if (!sp)
				break;
			sp--;
		}
	}
}

static const char *join(dr_rctx *c, const char *path)
{
	const char *dir = c->p->dir;

	if (path[0] == '/' || !dir || !*dir)
		return path;
	return dr_arena_printf(c->a, "%s/%s", dir, path);
}

static bool regular_file(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode);
}

static void hook_list(dr_rctx *c, dr_rmap *seen, const dr_action *v, size_t n)
{
	size_t i, ok;

	for (i = 0; i < n; i++) {
		const char *full;

		if (v[i].kind != DR_ACTION_LUA || !v[i].lua.v)
			continue;
		full = join(c, v[i].lua.v);
		/* Stat each distinct path once; remember the answer. */
		if (!dr_rmap_get(seen, full, &ok)) {
			ok = regular_file(full);
			dr_rmap_put(seen, full, ok, NULL);
		}
		if (!ok)
			dr_diag_at(c->d, dr_rat(v[i].lua.at, v[i].at, NULL), DR_SEV_ERROR,
				   "PLAN-HOOK-MISSING",
				   "Lua hook '%s' does not exist (looked for %s): fix the "
				   "path, which is relative to the plan file's directory",
				   v[i].lua.v, full);
	}
}

static void hooks(dr_rctx *c)
{
	const dr_plan *p = c->p;
	size_t i, n = 0;
	dr_rmap seen;

	for (i = 0; i < p->ngroups; i++)
		n += p->groups[i].npre + p->groups[i].npost;
	for (i = 0; i < p->nmachines; i++)
		n += p->machines[i].npre + p->machines[i].npost;
	dr_rmap_init(&seen, c->a, n);
	for (i = 0; i < p->ngroups; i++) {
		hook_list(c, &seen, p->groups[i].pre, p->groups[i].npre);
		hook_list(c, &seen, p->groups[i].post, p->groups[i].npost);
	}
	for (i = 0; i < p->nmachines; i++) {
		hook_list(c, &seen, p->machines[i].pre, p->machines[i].npre);
		hook_list(c, &seen, p->machines[i].post, p->machines[i].npost);
	}
}

/* NULL when path holds a PEM public key, else what is wrong with it. */
static const char *key_problem(const char *path)
{
	struct stat st;
	EVP_PKEY *k;
	FILE *f;
	char buf[4096];
	size_t n;

	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return "does not exist";
	if (st.st_size > 1024 * 1024)
		return "is too large to be a public key";
	f = fopen(path, "rb");
	if (!f)
		return "can't be read";
	k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	ERR_clear_error();
	if (k) {
		EVP_PKEY_free(k);
		fclose(f);
		return NULL;
	}
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	if (strstr(buf, "PRIVATE KEY"))
		return "is a private key; commit only the public key "
		       "(openssl pkey -in KEY -pubout)";
	return "is not a PEM public key (export one with openssl pkey -pubout)";
}

static void gate(dr_rctx *c, const dr_gate *g, const char *which)
{
	size_t i;

	if (!g->at)
		return;
	for (i = 0; i < g->approvers.n; i++) {
		const char *path = g->approvers.v[i], *why = key_problem(join(c, path));

		if (why)
			dr_diag_at(c->d, dr_rat(dr_ritem(g->approvers.at, i), g->at, NULL),
				   DR_SEV_ERROR, "PLAN-APPROVER-KEY-MISSING",
				   "approver key '%s' of the %s gate %s: fix the path "
				   "(relative to the plan file's directory) or the file",
				   path, which, why);
	}
	if (g->approvers.n && g->approvals.v > (long long)g->approvers.n)
		dr_diag_at(c->d, dr_rat(g->approvals.at, g->at, NULL), DR_SEV_ERROR,
			   "PLAN-GATE-APPROVERS",
			   "the %s gate needs %lld approvals but lists only %zu "
			   "approver%s: lower approvals or add approvers", which,
			   g->approvals.v, g->approvers.n, g->approvers.n == 1 ? "" : "s");
}

static void drill(dr_rctx *c)
{
	const dr_drill *d = &c->p->drill;

	if (!d->at)
		return;
	if (d->rto.at && !d->rto.ms)
		dr_diag_at(c->d, d->rto.at, DR_SEV_WARNING, "PLAN-DRILL-OBJECTIVES",
			   "an RTO of 0 can never be met, so every drill would fail "
			   "it: set a realistic objective or remove it");
	if (d->rpo.at && !d->rpo.ms)
		dr_diag_at(c->d, d->rpo.at, DR_SEV_WARNING, "PLAN-DRILL-OBJECTIVES",
			   "an RPO of 0 can never be met with asynchronous replication: "
			   "set a realistic objective or remove it");
}

/*
 * The column of byte off (0-based) of scalar n's text: past the opening
 * quote of a quoted scalar. Falls back to the scalar's own column when the
 * text is not on the node's line as expected (a block scalar, say).
 */
static int scalar_col(const dr_rctx *c, const dr_ynode *n, int off)
{
	size_t len;
	const char *l = dr_diags_source_line(c->d, n->file, n->line, &len);
	int col = n->col;

	if (!l || col < 1 || (size_t)col > len)
		return n->col;
	if (l[col - 1] == '"' || l[col - 1] == '\'')
		col++;
	/* The text must really be there, up to the byte pointed at. */
	if (off < 0 || (size_t)off >= n->len ||
	    (size_t)(col - 1) + (size_t)off >= len ||
	    memcmp(l + col - 1, n->str, (size_t)off + 1))
		return n->col;
	return col + off;
}

/* docs/schedules.md promises that validate checks the expression offline
 * and points at the character that is wrong. */
static void drill_schedule(dr_rctx *c)
{
	const dr_drill *d = &c->p->drill;
	char err[256];
	int col = 0, rc;
	dr_cron cron;

	if (d->schedule.at && d->schedule.v &&
	    dr_cron_parse(d->schedule.v, &cron, err, sizeof(err), &col)) {
		const dr_ynode *n = d->schedule.at;
		char *path = dr_ynode_path(NULL, n);

		dr_diags_add(c->d, DR_SEV_ERROR, "PLAN-DRILL-SCHEDULE", n->file,
			     n->line, scalar_col(c, n, col > 0 ? col - 1 : 0),
			     path, "drill schedule '%s': %s", d->schedule.v, err);
		free(path);
	}
	if (!d->timezone.at || !d->timezone.v)
		return;
	rc = dr_tz_valid(d->timezone.v);
	if (rc == DR_EIO)
		dr_diag_at(c->d, d->timezone.at, DR_SEV_WARNING,
			   "PLAN-DRILL-SCHEDULE",
			   "time zone '%s' can't be checked: %s",
			   d->timezone.v, dr_error_msg());
	else if (rc && strstr(dr_error_msg(), "IANA"))
		dr_diag_at(c->d, d->timezone.at, DR_SEV_ERROR,
			   "PLAN-DRILL-SCHEDULE", "%s", dr_error_msg());
	else if (rc)
		dr_diag_at(c->d, d->timezone.at, DR_SEV_ERROR,
			   "PLAN-DRILL-SCHEDULE",
			   "%s: use an IANA time zone name such as Europe/Berlin "
			   "or UTC", dr_error_msg());
}

/* Auto-approvals are an audit event: the plan must say why. */
static void unattended(dr_rctx *c)
{
	const dr_drill *d = &c->p->drill;
	const char *what;

	if (!d->unattended_at || (d->unattended_reason.v && *d->unattended_reason.v))
		return;
	what = d->manual_policy.v && !strcmp(d->manual_policy.v, "auto-approve")
	       ? (d->gate_policy.v && !strcmp(d->gate_policy.v, "auto-approve")
		  ? "manual steps and gates" : "manual steps")
	       : d->gate_policy.v && !strcmp(d->gate_policy.v, "auto-approve") ? "gates" : NULL;
	if (what)
		dr_diag_at(c->d, d->unattended_at, DR_SEV_ERROR, "PLAN-UNATTENDED-REASON",
			   "unattended drills auto-approve %s but drill.unattended "
			   "gives no reason: add reason (it is recorded with every "
			   "auto-approval) or use fail", what);
}

/* True for 127.0.0.0/8, localhost and [::1]: plain http stays on the host. */
static bool loopback_host(const char *h, size_t n)
{
	return (n == 9 && !strncasecmp(h, "localhost", 9)) ||
	       (n == 5 && !memcmp(h, "[::1]", 5)) || (n >= 4 && !memcmp(h, "127.", 4));
}

static void webhooks(dr_rctx *c)
{
	for (size_t i = 0; i < c->p->nwebhooks; i++) {
		const dr_webhook *w = &c->p->webhooks[i];
		const char *u = w->url.v, *auth = strstr(u, "://"), *end, *at;
		bool plain = !strncmp(u, "http://", 7);
		size_t hl;

		if (!auth)
			continue; /* the schema reports it */
		auth += 3;
		end = auth + strcspn(auth, "/?#");
		at = memchr(auth, '@', (size_t)(end - auth));
		if (at) {
			dr_diag_at(c->d, w->url.at, DR_SEV_WARNING, "PLAN-WEBHOOK-URL",
				   "webhook URL carries credentials (user:password@): "
				   "they would be in the plan and in git; the receiver "
				   "should check the signature made with secretEnv instead");
			auth = at + 1;
		}
		hl = strcspn(auth, ":/?#");
		if (auth[0] == '[')
			hl = strcspn(auth, "]/?#") + (auth[strcspn(auth, "]/?#")] == ']');
		if (plain && !loopback_host(auth, hl))
			dr_diag_at(c->d, w->url.at, DR_SEV_WARNING, "PLAN-WEBHOOK-URL",
				   "webhook URL uses plain http to %.*s: job events "
				   "would cross the network unencrypted; use https",
				   (int)hl, auth);
	}
}

void dr_rules_plan(dr_rctx *c)
{
	unique_names(c);
	membership(c);
	cycles(c);
	hooks(c);
	gate(c, &c->p->commit_gate, "commit");
	gate(c, &c->p->failback_gate, "failback");
	drill(c);
	drill_schedule(c);
	unattended(c);
	webhooks(c);
}
