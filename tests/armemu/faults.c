/*
 * faults.c - parsing and applying the emulator's request faults.
 */
#include "faults.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "provider/provider.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void arm_faults_init(arm_faults *f)
{
	memset(f, 0, sizeof(*f));
	f->retry_after_s = 1;
	f->lro_retry_after_s = -1;
	f->token_ttl_s = 3599;
	f->writes.burst = f->writes.tokens = 200;
	f->writes.refill = 10;
	f->reads.burst = f->reads.tokens = 250;
	f->reads.refill = 25;
}

static void fault_free(arm_fault *x)
{
	free(x->match);
	free(x->spec);
}

static void clear_entries(arm_faults *f)
{
	for (size_t i = 0; i < f->n; i++)
		fault_free(&f->v[i]);
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

void arm_faults_release(arm_faults *f)
{
	clear_entries(f);
}

/* Next ':'-separated field of *p, or NULL at the end. */
static char *field(char **p)
{
	if (!*p)
		return NULL;
	char *s = *p, *c = strchr(s, ':');
	if (c) {
		*c = '\0';
		*p = c + 1;
	} else {
		*p = NULL;
	}
	return s;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	if (!s || !*s)
		return DR_EINVAL;
	long v = strtol(s, &end, 10);
	if (*end || v < lo || v > hi)
		return DR_EINVAL;
	*out = v;
	return 0;
}

static int parse_match(const char *s, char **out)
{
	*out = NULL;
	if (!s || !*s || !strcmp(s, "*"))
		return 0;
	static const char *const fixed[] = {
		"GET", "POST", "PATCH", "PUT", "DELETE", "token", "arm", "op",
		"poll", "update",
	};
	bool ok = false;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		ok = ok || !strcmp(s, fixed[i]);
	dr_preq_kind k;
	if (!ok && dr_preq_kind_parse(s, &k) != 0)
		return DR_EINVAL;
	*out = dr_xstrdup(s);
	return 0;
}

static bool matches(const arm_fault *x, const arm_req_class *c)
{
	const char *m = x->match;
	if (!m)
		return true;
	if (!strcmp(m, "token"))
		return c->token;
	if (!strcmp(m, "arm"))
		return c->arm;
	if (!strcmp(m, "op"))
		return c->op;
	if (!strcmp(m, "poll"))
		return c->poll;
	if (c->method && !strcmp(m, c->method))
		return true;
	return c->op_name && !strcmp(m, c->op_name);
}

static int bad(const char *entry, const char *usage)
{
	return dr_error_set(DR_EINVAL, "bad fault '%s': expected %s", entry,
			    usage);
}

/* Parse one entry into x (or apply a setting to f): 0, 1 (setting), <0. */
static int parse_entry(arm_faults *f, const char *entry, uint64_t now_ms,
		       arm_fault *x)
{
	char *copy = dr_xstrdup(entry), *p = copy;
	char *type = field(&p);
	long a = 0, b = 0;
	int rc = 0;
	memset(x, 0, sizeof(*x));
	if (!strcmp(type, "error")) {
		char *st = field(&p), *cnt = field(&p), *m = field(&p);
		if (parse_long(st, 400, 599, &a) || (cnt && parse_long(cnt, 0, 1000000, &b)) ||
		    p || parse_match(m, &x->match)) {
			rc = bad(entry, "error:STATUS[:COUNT[:MATCH]]");
			goto out;
		}
		x->type = AF_ERROR;
		x->status = (int)a;
		x->count = cnt ? (int)b : 1;
	} else if (!strcmp(type, "random")) {
		char *st = field(&p), *pr = field(&p), *seed = field(&p);
		char *m = field(&p), *end = NULL;
		double prob = pr ? strtod(pr, &end) : NAN;
		if (parse_long(st, 400, 599, &a) || !end || *end || !(prob >= 0 && prob <= 1) ||
		    (seed && *seed && parse_long(seed, 0, 2147483647L, &b)) || p ||
		    parse_match(m, &x->match)) {
			rc = bad(entry, "random:STATUS:PROBABILITY[:SEED[:MATCH]]");
			goto out;
		}
		x->type = AF_RANDOM;
		x->status = (int)a;
		x->prob = prob;
		x->rng = (seed && *seed ? (uint64_t)b : 1) * 2654435761u + 1;
	} else if (!strcmp(type, "drop") || !strcmp(type, "lose-accept")) {
		char *cnt = field(&p), *m = field(&p);
		if ((cnt && parse_long(cnt, 0, 1000000, &b)) || p ||
		    parse_match(m, &x->match)) {
			rc = bad(entry, "drop|lose-accept[:COUNT[:MATCH]]");
			goto out;
		}
		x->type = type[0] == 'd' ? AF_DROP : AF_LOSE;
		x->count = cnt ? (int)b : 1;
		if (x->type == AF_LOSE && !x->match)
			x->match = dr_xstrdup("op");
	} else if (!strcmp(type, "slow")) {
		char *ms = field(&p), *cnt = field(&p), *m = field(&p);
		if (parse_long(ms, 0, 600000, &a) || (cnt && parse_long(cnt, 0, 1000000, &b)) ||
		    p || parse_match(m, &x->match)) {
			rc = bad(entry, "slow:MS[:COUNT[:MATCH]]");
			goto out;
		}
		x->type = AF_SLOW;
		x->delay_ms = (unsigned)a;
		x->count = cnt ? (int)b : 1;
	} else if (!strcmp(type, "retry-after") || !strcmp(type, "token-ttl") ||
		   !strcmp(type, "lro-retry-after")) {
		if (parse_long(field(&p), type[0] == 't' ? 1 : 0,
			       type[0] == 't' ? 86400 * 365 : 3600, &a) || p) {
			rc = bad(entry, "retry-after|lro-retry-after|token-ttl:SECONDS");
			goto out;
		}
		if (type[0] == 'r')
			f->retry_after_s = (int)a;
		else if (type[0] == 'l')
			f->lro_retry_after_s = (int)a;
		else
			f->token_ttl_s = a;
		rc = 1;
	} else if (!strcmp(type, "expire-tokens") || !strcmp(type, "clear")) {
		if (p) {
			rc = bad(entry, "expire-tokens or clear, without fields");
			goto out;
		}
		if (type[0] == 'e')
			f->token_epoch++;
		else
			clear_entries(f);
		rc = 1;
	} else if (!strcmp(type, "write-limit") || !strcmp(type, "read-limit")) {
		char *rf = NULL, *end = NULL;
		double refill = NAN;
		if (parse_long(field(&p), 0, 1000000, &a) == 0 && (rf = field(&p)) && *rf)
			refill = strtod(rf, &end);
		if (!end || *end || p || !(refill >= 0 && refill <= 1000000) ||
		    (a > 0) != (refill > 0)) {
			rc = bad(entry, "write-limit|read-limit:BURST:REFILL (both > 0, or 0:0)");
			goto out;
		}
		arm_bucket *bk = type[0] == 'w' ? &f->writes : &f->reads;
		bk->burst = bk->tokens = (double)a;
		bk->refill = refill;
		bk->last_ms = now_ms;
		rc = 1;
	} else {
		rc = dr_error_set(DR_EINVAL, "unknown fault '%s'", entry);
		goto out;
	}
	if (rc == 0)
		x->spec = dr_xstrdup(entry);
out:
	if (rc < 0)
		free(x->match);
	free(copy);
	return rc;
}

int arm_faults_add(arm_faults *f, const char *spec, uint64_t now_ms)
{
	/* Validate everything first so a bad spec adds nothing. */
	arm_faults tmp;
	arm_faults_init(&tmp);
	char *copy = dr_xstrdup(spec), *save = NULL;
	int rc = 0;
	for (char *e = strtok_r(copy, ";", &save); e; e = strtok_r(NULL, ";", &save)) {
		while (*e == ' ' || *e == '\n' || *e == '\t')
			e++;
		size_t len = strlen(e);
		while (len && (e[len - 1] == ' ' || e[len - 1] == '\n' || e[len - 1] == '\r'))
			e[--len] = '\0';
		if (!*e)
			continue;
		arm_fault x;
		rc = parse_entry(&tmp, e, now_ms, &x);
		if (rc < 0)
			break;
		fault_free(&x);
	}
	arm_faults_release(&tmp);
	if (rc < 0) {
		free(copy);
		return rc;
	}
	free(copy);
	copy = dr_xstrdup(spec);
	for (char *e = strtok_r(copy, ";", &save); e; e = strtok_r(NULL, ";", &save)) {
		while (*e == ' ' || *e == '\n' || *e == '\t')
			e++;
		size_t len = strlen(e);
		while (len && (e[len - 1] == ' ' || e[len - 1] == '\n' || e[len - 1] == '\r'))
			e[--len] = '\0';
		if (!*e)
			continue;
		arm_fault x;
		if (parse_entry(f, e, now_ms, &x) == 0) {
			f->v = dr_xrealloc(f->v, (f->n + 1) * sizeof(*f->v));
			f->v[f->n++] = x;
		}
	}
	free(copy);
	return 0;
}

static double next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (double)(*s >> 11) / 9007199254740992.0;
}

/* Count one hit of x; drop it when it is used up. Returns x's spec. */
static void use(arm_faults *f, size_t i)
{
	arm_fault *x = &f->v[i];
	if (x->count == 0)
		return;
	if (--x->count == 0) {
		/* Keep the spec alive until the caller has logged it. */
		x->count = -1;
	}
}

static void sweep(arm_faults *f)
{
	size_t j = 0;
	for (size_t i = 0; i < f->n; i++) {
		if (f->v[i].count < 0)
			fault_free(&f->v[i]);
		else
			f->v[j++] = f->v[i];
	}
	f->n = j;
}

void arm_faults_pick(arm_faults *f, const arm_req_class *c,
		     arm_fault_action *out)
{
	memset(out, 0, sizeof(*out));
	sweep(f);
	for (size_t i = 0; i < f->n; i++) {
		arm_fault *x = &f->v[i];
		if (x->count < 0 || !matches(x, c))
			continue;
		switch (x->type) {
		case AF_SLOW:
			out->delay_ms += x->delay_ms;
			use(f, i);
			break;
		case AF_ERROR:
		case AF_DROP:
			if (out->status || out->drop)
				break;
			if (x->type == AF_ERROR)
				out->status = x->status;
			else
				out->drop = true;
			snprintf(out->spec, sizeof(out->spec), "%s", x->spec);
			use(f, i);
			break;
		case AF_RANDOM:
			if (out->status || out->drop)
				break;
			if (next_rand(&x->rng) < x->prob) {
				out->status = x->status;
				snprintf(out->spec, sizeof(out->spec), "%s", x->spec);
			}
			break;
		case AF_LOSE:
			break;
		}
	}
}

bool arm_faults_take_lose(arm_faults *f, const arm_req_class *c)
{
	for (size_t i = 0; i < f->n; i++) {
		arm_fault *x = &f->v[i];
		if (x->type == AF_LOSE && x->count >= 0 && matches(x, c)) {
			use(f, i);
			return true;
		}
	}
	return false;
}

bool arm_bucket_take(arm_bucket *b, uint64_t now_ms, long *remaining)
{
	if (b->burst <= 0) {
		*remaining = 1000000;
		return true;
	}
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * b->refill / 1000.0;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
	}
	b->last_ms = now_ms;
	if (b->tokens < 1) {
		*remaining = 0;
		return false;
	}
	b->tokens -= 1;
	*remaining = (long)b->tokens;
	return true;
}

char *arm_faults_describe(const arm_faults *f)
{
	dr_strbuf sb;
	dr_strbuf_init(&sb, 128);
	for (size_t i = 0; i < f->n; i++) {
		if (f->v[i].count < 0)
			continue;
		dr_strbuf_addf(&sb, "%s%s", sb.len ? ";" : "", f->v[i].spec);
		if (f->v[i].count > 0)
			dr_strbuf_addf(&sb, " (%d left)", f->v[i].count);
	}
	char *s = dr_strbuf_detach(&sb, NULL);
	return s ? s : dr_xstrdup("");
}
