/*
 * test-exec-lock.c - faults of the plan lock during a job: the executor
 * renews its locks every lock_ttl_ms / 3; when a renewal says the lock is
 * lost it starts no new step, says so, lets the steps in flight finish
 * and stops resumable; another holder then resumes the job and finishes
 * it with every provider operation issued exactly once and no journal
 * record doubled.
 *
 * The lock is lost through a wrapping store ("lossy") whose renew starts
 * failing on demand, over the test store (teststore.h), so this runs on
 * every store.
 */
#include "exec-harness.h"

#include "journal/store_impl.h"
#include "test.h"

#include <inttypes.h>

/* ---- a store whose lock renewals fail on demand --------------------------- */

enum lossy_mode {
	LOSSY_OK,
	LOSSY_CONFLICT, /* every renew: DR_ECONFLICT (the lease is gone) */
	LOSSY_EIO,      /* every renew: DR_EIO (the store does not answer) */
	LOSSY_EIO_ONCE, /* the next renew: DR_EIO, then fine again */
};

struct lossy {
	struct dr_store base;
	dr_store *real;
	enum lossy_mode mode;
	int renews, failed;
	/* The store is down: every call fails with DR_EIO; with land_first
	 * the first append still lands (its reply is what got lost). */
	bool down, land_first;
	int refused;
};

struct lossy_lock {
	struct dr_store_lock base;
	dr_store_lock *real;
};

static dr_store *real_of(dr_store *s)
{
	return ((struct lossy *)s)->real;
}

static int l_down(dr_store *s)
{
	struct lossy *f = (struct lossy *)s;

	if (!f->down)
		return 0;
	f->refused++;
	return dr_error_set(DR_EIO, "state store %s: lossy: unreachable", s->spec);
}

static int l_append(dr_store *s, const char *key, const void *data, size_t len,
		    uint64_t expected)
{
	struct lossy *f = (struct lossy *)s;

	if (f->down && f->land_first) {
		f->land_first = false;
		dr_store_append(real_of(s), key, data, len, expected);
	}
	return l_down(s) ? DR_EIO : dr_store_append(real_of(s), key, data, len, expected);
}

static int l_read(dr_store *s, const char *key, uint64_t off, size_t max, dr_strbuf *out)
{
	if (l_down(s))
		return DR_EIO;
	return max ? dr_store_read_range(real_of(s), key, off, max, out)
		   : dr_store_read(real_of(s), key, out);
}

static int l_size(dr_store *s, const char *key, uint64_t *size)
{
	if (l_down(s))
		return DR_EIO;
	return dr_store_size(real_of(s), key, size);
}

static int l_truncate(dr_store *s, const char *key, uint64_t n, uint64_t expected)
{
	return dr_store_truncate(real_of(s), key, n, expected);
}

static int l_put(dr_store *s, const char *key, const void *data, size_t len,
		 const char *if_match, char **nv)
{
	if (l_down(s))
		return DR_EIO;
	return dr_store_put(real_of(s), key, data, len, if_match, nv);
}

static int l_get(dr_store *s, const char *key, dr_strbuf *out, char **version)
{
	if (l_down(s))
		return DR_EIO;
	return dr_store_get(real_of(s), key, out, version);
}

static int l_list(dr_store *s, const char *prefix, dr_store_list_fn fn, void *ctx)
{
	return dr_store_list(real_of(s), prefix, fn, ctx);
}

static int l_remove(dr_store *s, const char *key)
{
	return dr_store_remove(real_of(s), key);
}

static int l_lock(dr_store *s, const char *name, const char *holder_json, unsigned ttl_ms,
		  dr_store_lock **out, char **holder_out)
{
	dr_store_lock *r = NULL;
	int rc = dr_store_lock_acquire(real_of(s), name, holder_json, ttl_ms, &r, holder_out);
	struct lossy_lock *l;

	if (rc)
		return rc;
	l = calloc(1, sizeof(*l));
	l->base.store = s;
	l->base.name = strdup(name);
	l->base.holder = strdup(holder_json);
	l->real = r;
	*out = &l->base;
	return 0;
}

static int l_renew(dr_store_lock *base)
{
	struct lossy *f = (struct lossy *)base->store;
	struct lossy_lock *l = (struct lossy_lock *)base;

	f->renews++;
	if (l_down(base->store))
		return DR_EIO;
	switch (f->mode) {
	case LOSSY_CONFLICT:
		f->failed++;
		return dr_error_set(DR_ECONFLICT, "lossy: the lease on '%s' was taken",
				    base->name);
	case LOSSY_EIO_ONCE:
		f->mode = LOSSY_OK;
		/* fall through */
	case LOSSY_EIO:
		f->failed++;
		return dr_error_set(DR_EIO, "lossy: no answer");
	default:
		return dr_store_lock_renew(l->real);
	}
}

static int l_unlock(dr_store_lock *base)
{
	struct lossy_lock *l = (struct lossy_lock *)base;
	int rc = dr_store_lock_release(l->real);

	free(base->name);
	free(base->holder);
	free(l);
	return rc;
}

static void l_free(dr_store *s)
{
	(void)s; /* the real store belongs to the harness */
}

static const struct dr_store_ops lossy_ops = {
	.name = "lossy",
	.append = l_append,
	.read = l_read,
	.size = l_size,
	.truncate = l_truncate,
	.put = l_put,
	.get = l_get,
	.list = l_list,
	.remove = l_remove,
	.lock = l_lock,
	.renew = l_renew,
	.unlock = l_unlock,
	.free = l_free,
};

static void lossy_init(struct lossy *f, dr_store *real)
{
	memset(f, 0, sizeof(*f));
	f->base.ops = &lossy_ops;
	f->base.spec = (char *)dr_store_spec(real);
	f->real = real;
}

/* ---- the job ----------------------------------------------------------------- */

struct trig {
	env *E;
	struct lossy *f;
	const char *step;       /* when this step starts running ... */
	enum lossy_mode mode;   /* ... renewals go this way */
	bool down;              /* ... or the store goes down */
};

static void on_event(void *ctx, const json_t *ev)
{
	struct trig *t = ctx;
	const char *step = json_string_value(json_object_get(ev, "step"));
	const char *to = json_string_value(json_object_get(ev, "to"));

	env_on_event(t->E, ev);
	if (t->step && step && to && !strcmp(step, t->step) && !strcmp(to, "running")) {
		t->f->mode = t->mode;
		t->f->down = t->down;
		t->step = NULL;
	}
}

/* 12 machines in 4 groups of 3, one after the other. */
static void lk_plan(env *E)
{
	E->plan = plan_many(E->arena, "lk", 12, 3, 3);
	for (size_t g = 1; g < E->plan->ngroups; g++) {
		E->plan->groups[g].after[E->plan->groups[g].nafter++] = g - 1;
		E->plan->groups[g].after_explicit = true;
	}
	if (env_compile(E, DR_OP_FAILOVER, 0) < 0)
		abort();
}

/* A process: resume id as another holder and run; returns run's rc. */
static int resume_as(env *E, const char *id, const char *by)
{
	dr_job_opts o;
	dr_job *j = NULL;
	int rc;

	env_proc_new(E, NULL);
	env_opts(E, &o);
	o.by = by;
	o.lock_ttl_ms = 3000;
	rc = dr_job_resume(id, E->plan, E->graph, &o, &j);
	if (rc == 0)
		rc = dr_job_run(j);
	if (rc < 0 && rc != DR_EAGAIN)
		fprintf(stderr, "resume %s: %s\n", id, dr_error_msg());
	dr_job_free(j);
	env_proc_free(E);
	return rc;
}

static int saved_count(env *E, const char *m, dr_preq_kind k)
{
	dr_clock c;
	dr_loop *l;
	dr_sim *s;
	dr_sim_opts so;
	int n;

	dr_clock_init_virtual(&c, 0);
	dr_loop_new(&c, &l);
	dr_sim_opts_init(&so);
	so.epoch_ms = EPOCH;
	dr_sim_new(l, &so, &s);
	n = dr_sim_load_store(s, E->store, DR_SIM_STATE_KEY, NULL) < 0 ? -1
	    : dr_sim_op_count(s, m, k);
	dr_sim_free(s);
	dr_loop_free(l);
	return n;
}

/* Every machine's failover and commit accepted exactly once. */
static int ops_not_once(env *E)
{
	int bad = 0;

	for (size_t i = 0; i < E->plan->nmachines; i++) {
		const char *m = E->plan->machines[i].name.v;

		bad += saved_count(E, m, DR_PREQ_UNPLANNED_FAILOVER) != 1;
		bad += saved_count(E, m, DR_PREQ_COMMIT) != 1;
	}
	return bad;
}

struct jcount {
	json_t *intents;  /* step -> n */
	json_t *running;  /* step -> n of "to running" records */
	int resumes, lost_warnings;
};

static void bump(json_t *o, const char *k)
{
	json_object_set_new(o, k, json_integer(json_integer_value(json_object_get(o, k)) + 1));
}

static int jcount_cb(void *ctx, uint64_t seq, const char *type, json_t *rec)
{
	struct jcount *c = ctx;
	const char *step = json_string_value(json_object_get(rec, "step"));
	const char *to = json_string_value(json_object_get(rec, "to"));
	const char *msg = json_string_value(json_object_get(rec, "message"));

	(void)seq;
	if (!strcmp(type, "intent") && step)
		bump(c->intents, step);
	if (!strcmp(type, "step") && step && to && !strcmp(to, "running"))
		bump(c->running, step);
	if (!strcmp(type, "resume"))
		c->resumes++;
	if (!strcmp(type, "warning") && msg && strstr(msg, "lock 'lk' lost"))
		c->lost_warnings++;
	return 0;
}

/* Records of steps in the journal that appear more than once. */
static int doubled(json_t *o, int *total)
{
	const char *k;
	json_t *v;
	int bad = 0;

	*total = 0;
	json_object_foreach(o, k, v) {
		*total += (int)json_integer_value(v);
		if (json_integer_value(v) != 1) {
			fprintf(stderr, "%s: %lld records\n", k, (long long)json_integer_value(v));
			bad++;
		}
	}
	return bad;
}

/*
 * The lease is taken from the runner while the second group's failovers
 * run: they finish and are journaled, nothing else starts, the job stops
 * resumable; a second holder resumes and finishes it exactly once.
 */
TEST(lock_lost_mid_job)
{
	env E;
	struct lossy f;
	struct trig t;
	dr_job_opts o;
	dr_job *j = NULL;
	const char *id = "lk-lost";
	char want[512];
	long lost_at = -1;
	int rc, total;

	env_init(&E, false, NULL);
	lk_plan(&E);
	lossy_init(&f, E.store);
	t = (struct trig){ &E, &f, "g001/m00003/failover", LOSSY_CONFLICT, false };

	env_proc_new(&E, NULL);
	env_opts(&E, &o);
	o.store = &f.base;
	o.on_event = on_event;
	o.ctx = &t;
	o.lock_ttl_ms = 3000;
	CHECK_INT(dr_job_start(E.plan, E.graph, &o, id, &j), 0);
	rc = dr_job_run(j);
	CHECK_INT(rc, DR_ECONFLICT);
	snprintf(want, sizeof(want), "job %s: lock 'lk' lost: the job stopped (no new steps "
		 "were started); resume it with `drplan job resume %s`", id, id);
	CHECK_STR(dr_error_msg(), want);
	CHECK_INT(dr_job_status_now(j), DR_JOB_RUNNING);
	dr_sim_free(E.sim);
	E.sim = NULL;
	dr_job_free(j);
	env_proc_free(&E);

	/* It said so, once, and started nothing after saying it. */
	CHECK(f.renews >= 3);
	CHECK_INT(f.failed, 1);
	{
		size_t i;
		json_t *e;
		int started_after = 0, warnings = 0;

		json_array_foreach(E.events, i, e) {
			const char *ev = json_string_value(json_object_get(e, "event"));
			const char *msg = json_string_value(json_object_get(e, "message"));
			const char *to = json_string_value(json_object_get(e, "to"));

			if (!strcmp(ev, "warning") && msg && strstr(msg, "lock 'lk' lost")) {
				warnings++;
				lost_at = (long)i;
				snprintf(want, sizeof(want), "lock 'lk' lost (lossy: the lease on "
					 "'lk' was taken): starting no new steps; the steps in "
					 "flight finish, then the job stops and can be resumed "
					 "with `drplan job resume %s`", id);
				CHECK_STR(msg, want);
			}
			if (lost_at >= 0 && !strcmp(ev, "step-state") && to &&
			    !strcmp(to, "running"))
				started_after++;
		}
		CHECK_INT(warnings, 1);
		CHECK(lost_at > 0);
		CHECK_INT(started_after, 0);
	}
	/* The second group's failovers were in flight: finished, journaled. */
	CHECK_STR(status_str(&E, id, "status", NULL, NULL), "running");
	CHECK_STR(status_str(&E, id, "steps", "g001/m00003/failover", "state"), "succeeded");
	CHECK_STR(status_str(&E, id, "steps", "g001/m00005/failover", "state"), "succeeded");
	/* The third group never started. */
	CHECK_STR(status_str(&E, id, "steps", "g002/m00006/failover", "state"), "(none)");
	CHECK_INT(saved_count(&E, "m00006", DR_PREQ_UNPLANNED_FAILOVER), 0);

	/* Whoever takes the lock next resumes it, to the gate and the end. */
	CHECK_INT(resume_as(&E, id, "second@runner2"), DR_EAGAIN);
	CHECK_INT(ctl(&E, id, "{\"action\":\"approve\",\"by\":\"a@b\"}"), 0);
	CHECK_INT(resume_as(&E, id, "second@runner2"), 0);
	CHECK_STR(status_str(&E, id, "status", NULL, NULL), "succeeded");
	CHECK_INT(ops_not_once(&E), 0);

	/* No journal record lost or doubled: one intent and one start per
	 * provider step, seq without gaps (replay checks), a clean end. */
	{
		struct jcount c = { json_object(), json_object(), 0, 0 };
		dr_journal_replay_info info;

		CHECK_INT(dr_journal_replay(E.store, id, jcount_cb, &c, &info), 0);
		CHECK_INT(info.torn, 0);
		CHECK_INT(doubled(c.intents, &total), 0);
		CHECK_INT(total, 24);
		CHECK_INT(doubled(c.running, &total), 0);
		CHECK_INT(total, (int)E.graph->nsteps);
		CHECK_INT(c.resumes, 2);
		CHECK_INT(c.lost_warnings, 1);
		json_decref(c.intents);
		json_decref(c.running);
	}
	env_release(&E);
}

/*
 * Renewals that fail without an answer (DR_EIO): one failure is weathered
 * (the lease still runs); failing for a whole lease means it has expired:
 * lost, as above.
 */
TEST(renew_failures)
{
	for (int whole = 0; whole < 2; whole++) {
		env E;
		struct lossy f;
		struct trig t;
		dr_job_opts o;
		dr_job *j = NULL;
		char id[32];
		int rc;

		snprintf(id, sizeof(id), "lk-eio-%d", whole);
		env_init(&E, false, NULL);
		lk_plan(&E);
		lossy_init(&f, E.store);
		t = (struct trig){ &E, &f, "g001/m00003/failover",
				   whole ? LOSSY_EIO : LOSSY_EIO_ONCE, false };
		env_proc_new(&E, NULL);
		env_opts(&E, &o);
		o.store = &f.base;
		o.on_event = on_event;
		o.ctx = &t;
		o.lock_ttl_ms = 3000;
		CHECK_INT(dr_job_start(E.plan, E.graph, &o, id, &j), 0);
		rc = dr_job_run(j);
		if (rc < 0 && rc != DR_EAGAIN)
			dr_sim_free(E.sim), E.sim = NULL;
		dr_job_free(j);
		env_proc_free(&E);
		if (!whole) {
			CHECK_INT(rc, DR_EAGAIN); /* at the gate, as if nothing happened */
			CHECK_INT(f.failed, 1);
			CHECK_INT(env_count(&E, "warning", NULL), 0);
		} else {
			CHECK_INT(rc, DR_ECONFLICT);
			/* ttl 3000, a renewal every 1000: failures at +1000,
			 * +2000 are weathered, +3000 is a whole lease. */
			CHECK_INT(f.failed, 3);
			CHECK_INT(env_count(&E, "warning", NULL), 1);
			CHECK_STR(status_str(&E, id, "steps", "g002/m00006/failover", "state"),
				  "(none)");
		}
		CHECK_INT(resume_as(&E, id, "second@runner2"), DR_EAGAIN);
		CHECK_INT(ctl(&E, id, "{\"action\":\"approve\"}"), 0);
		CHECK_INT(resume_as(&E, id, "second@runner2"), 0);
		CHECK_STR(status_str(&E, id, "status", NULL, NULL), "succeeded");
		CHECK_INT(ops_not_once(&E), 0);
		env_release(&E);
	}
}

/*
 * The store goes down in the middle of a failover (Azurite stopped): the
 * job stops at its next write, as a crash would leave it; once the store
 * is back another process resumes it and every operation happens once.
 * Twice: the requests refused, and the first append landing with its
 * reply lost.
 */
TEST(store_down_mid_failover)
{
	for (int landed = 0; landed < 2; landed++) {
		env E;
		struct lossy f;
		struct trig t;
		dr_job_opts o;
		dr_job *j = NULL;
		char id[32];
		int total;

		snprintf(id, sizeof(id), "lk-down-%d", landed);
		env_init(&E, false, NULL);
		lk_plan(&E);
		lossy_init(&f, E.store);
		f.land_first = landed;
		t = (struct trig){ &E, &f, "g001/m00004/failover", LOSSY_OK, true };
		env_proc_new(&E, NULL);
		env_opts(&E, &o);
		o.store = &f.base;
		o.on_event = on_event;
		o.ctx = &t;
		o.lock_ttl_ms = 3000;
		CHECK_INT(dr_job_start(E.plan, E.graph, &o, id, &j), 0);
		CHECK_INT(dr_job_run(j), DR_EIO);
		CHECK(f.refused >= 1);
		dr_sim_free(E.sim);
		E.sim = NULL;
		dr_job_free(j);
		env_proc_free(&E);
		/* Back up: resumed elsewhere, to the gate and the end. */
		f.down = false;
		CHECK_INT(resume_as(&E, id, "second@runner2"), DR_EAGAIN);
		CHECK_INT(ctl(&E, id, "{\"action\":\"approve\"}"), 0);
		CHECK_INT(resume_as(&E, id, "second@runner2"), 0);
		CHECK_STR(status_str(&E, id, "status", NULL, NULL), "succeeded");
		CHECK_INT(ops_not_once(&E), 0);
		{
			struct jcount c = { json_object(), json_object(), 0, 0 };
			dr_journal_replay_info info;

			CHECK_INT(dr_journal_replay(E.store, id, jcount_cb, &c, &info), 0);
			CHECK_INT(info.torn, 0);
			CHECK_INT(doubled(c.intents, &total), 0);
			CHECK_INT(total, 24);
			CHECK_INT(doubled(c.running, &total), 0);
			CHECK_INT(c.resumes, 2);
			json_decref(c.intents);
			json_decref(c.running);
		}
		env_release(&E);
	}
}

/* A job renews while it runs, at lock_ttl_ms / 3, and not after. */
TEST(renews_while_running)
{
	env E;
	struct lossy f;
	dr_job_opts o;
	dr_job *j = NULL;
	uint64_t t0, t1;
	int after;

	env_init(&E, false, NULL);
	lk_plan(&E);
	lossy_init(&f, E.store);
	env_proc_new(&E, NULL);
	env_opts(&E, &o);
	o.store = &f.base;
	o.lock_ttl_ms = 3000;
	t0 = dr_loop_now(E.loop);
	CHECK_INT(dr_job_start(E.plan, E.graph, &o, "lk-renew", &j), 0);
	CHECK_INT(dr_job_run(j), DR_EAGAIN);
	t1 = dr_loop_now(E.loop);
	/* Two locks (the plan's and the simulator's) per renewal. */
	CHECK_INT(f.renews, 2 * (int)((t1 - t0) / 1000));
	CHECK(f.renews > 10);
	after = f.renews;
	/* Detached: no timer of the job's is left to renew. */
	dr_loop_advance(E.loop, 10000);
	dr_loop_run_once(E.loop, false);
	CHECK_INT(f.renews, after);
	dr_job_free(j);
	env_proc_free(&E);
	env_release(&E);
}

int main(void)
{
	if (dr_test_store_check())
		return 1;
	RUN(lock_lost_mid_job);
	RUN(renew_failures);
	RUN(store_down_mid_failover);
	RUN(renews_while_running);
	return test_summary();
}
