/*
 * test-scheduler.c - the drill scheduler's core on a virtual clock: due
 * times in several zones and across daylight-saving changes, catch-up after
 * downtime, no overlap, reload, and several instances on one store. Jobs are
 * fakes that hold the plan's real store lock for a set duration.
 */
#include "testdir.h"

#include "core/error.h"
#include "exec/loop.h"
#include "journal/store.h"
#include "sched/cron.h"
#include "sched/scheduler.h"
#include "sched/tz.h"
#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int64_t utc(int y, int mo, int d, int h, int mi)
{
	return dr_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

/* ---- a fake runner: jobs hold the plan lock for `duration_ms` ------------ */

struct fjob {
	dr_store_lock *lock;
	char plan[64];
	int64_t end_ms;
	char id[128];
};

struct fake {
	dr_store *store;
	dr_loop *loop;
	int64_t base_ms;     /* wall ms at loop time 0 */
	int64_t duration_ms; /* of every job */
	int starts, resumes, releases, parks;
	const char *fail_status; /* status every job ends with; NULL: succeeded */
};

static int64_t fake_now(void *ctx)
{
	struct fake *f = ctx;

	return f->base_ms + (int64_t)dr_loop_now(f->loop);
}

static char *dup_line(const char *p)
{
	size_t n = strcspn(p, "\n");

	return strndup(p, n);
}

/* Plan files are lines "name N", "schedule S", "tz Z" or "invalid WHY". */
static int fake_load(void *ctx, const char *path, dr_sched_plan_info *pi)
{
	char buf[1024];
	FILE *fp = fopen(path, "r");
	size_t n;

	(void)ctx;
	if (!fp)
		return dr_error_set(DR_EIO, "%s: cannot open", path);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	for (char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, "name ", 5))
			pi->name = dup_line(p + 5);
		else if (!strncmp(p, "schedule ", 9))
			pi->schedule = dup_line(p + 9);
		else if (!strncmp(p, "tz ", 3))
			pi->timezone = dup_line(p + 3);
		else if (!strncmp(p, "invalid ", 8))
			pi->error = dup_line(p + 8);
	}
	return 0;
}

static int fake_begin(struct fake *f, const char *plan, const char *job_id, void **handle)
{
	struct fjob *j = calloc(1, sizeof(*j));
	int rc = dr_store_lock_acquire(f->store, plan, "{\"job\":\"fake\"}", 0, &j->lock, NULL);

	if (rc < 0) {
		free(j);
		return rc;
	}
	snprintf(j->id, sizeof(j->id), "%s", job_id);
	snprintf(j->plan, sizeof(j->plan), "%s", plan);
	j->end_ms = fake_now(f) + f->duration_ms;
	*handle = j;
	return 0;
}

static int fake_start(void *ctx, const char *path, const char *plan, const char *job_id,
		      void **handle)
{
	struct fake *f = ctx;
	char key[256];
	int rc;

	(void)path;
	if ((rc = fake_begin(f, plan, job_id, handle)) < 0)
		return rc;
	/* The "journal", so that a resume can tell the job exists. */
	snprintf(key, sizeof(key), "jobs/%s/journal", job_id);
	dr_store_put(f->store, key, plan, strlen(plan), NULL, NULL);
	f->starts++;
	return 0;
}

static int fake_resume(void *ctx, const char *path, const char *plan, const char *job_id,
		       void **handle)
{
	struct fake *f = ctx;
	char key[256];
	uint64_t size;
	int rc;

	(void)path;
	snprintf(key, sizeof(key), "jobs/%s/journal", job_id);
	if ((rc = dr_store_size(f->store, key, &size)) < 0)
		return rc;
	if ((rc = fake_begin(f, plan, job_id, handle)) < 0)
		return rc;
	f->resumes++;
	return 0;
}

static int fake_poll(void *ctx, void *handle, const char **status)
{
	struct fake *f = ctx;
	struct fjob *j = handle;

	if (fake_now(f) < j->end_ms)
		return 0;
	*status = f->fail_status ? f->fail_status : "succeeded";
	return 1;
}

static void fake_release(void *ctx, void *handle, bool park)
{
	struct fake *f = ctx;
	struct fjob *j = handle;

	f->releases++;
	f->parks += park;
	if (!park) {
		char key[256], text[128];

		snprintf(key, sizeof(key), "jobs/%s/journal", j->id);
		snprintf(text, sizeof(text), "%s ended", j->plan);
		dr_store_put(f->store, key, text, strlen(text), NULL, NULL);
	}
	dr_store_lock_release(j->lock);
	free(j);
}

/* A fake journal holds "PLAN" or "PLAN ended"; every fake job is a drill. */
static int fake_inspect(void *ctx, const char *job_id, char **plan, bool *drill, bool *ended)
{
	struct fake *f = ctx;
	dr_strbuf sb = DR_STRBUF_INIT;
	char key[256];
	int rc;

	snprintf(key, sizeof(key), "jobs/%s/journal", job_id);
	if ((rc = dr_store_read(f->store, key, &sb)) < 0)
		return rc;
	*ended = strstr(sb.buf, " ended") != NULL;
	sb.buf[strcspn(sb.buf, " ")] = '\0';
	*plan = strdup(sb.buf);
	*drill = true;
	dr_strbuf_release(&sb);
	return 0;
}

/* ---- the fixture ---------------------------------------------------------- */

struct fx {
	char *dir;        /* temp root */
	char plans[512];  /* plans directory */
	dr_loop *loop;
	struct inst {
		dr_store *store;
		struct fake fake;
		dr_sched *sched;
		json_t *events;
	} in[2];
};

static void on_event(void *ctx, const json_t *ev)
{
	struct inst *in = ctx;

	json_array_append(in->events, (json_t *)ev);
	if (getenv("TEST_VERBOSE")) {
		char *s = json_dumps(ev, JSON_COMPACT);

		fprintf(stderr, "%s\n", s);
		free(s);
	}
}

static void write_file(struct fx *x, const char *name, const char *text)
{
	char path[600];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", x->plans, name);
	fp = fopen(path, "w");
	fputs(text, fp);
	fclose(fp);
}

static void remove_file(struct fx *x, const char *name)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", x->plans, name);
	remove(path);
}

static void fx_init(struct fx *x, int64_t start_s)
{
	char state[600];
	dr_clock c;

	memset(x, 0, sizeof(*x));
	x->dir = testdir_new();
	snprintf(x->plans, sizeof(x->plans), "%s/plans", x->dir);
	mkdir(x->plans, 0755);
	snprintf(state, sizeof(state), "%s/state", x->dir);
	dr_clock_init_virtual(&c, 0);
	dr_loop_new(&c, &x->loop);
	for (int i = 0; i < 2; i++) {
		/* Two handles on one directory: two instances sharing a store. */
		CHECK_INT(dr_store_open(state, DR_STORE_CREATE, &x->in[i].store), 0);
		x->in[i].fake.store = x->in[i].store;
		x->in[i].fake.loop = x->loop;
		x->in[i].fake.base_ms = start_s * 1000;
		x->in[i].fake.duration_ms = 10 * 60 * 1000;
		x->in[i].events = json_array();
	}
}

static int inst_start(struct fx *x, int i, int64_t catch_up_s, bool once)
{
	struct inst *in = &x->in[i];
	dr_sched_opts o = {
		.store = in->store,
		.loop = x->loop,
		.dir = x->plans,
		.clock = { fake_now, &in->fake },
		.runner = { fake_load, fake_start, fake_resume, fake_poll, fake_release,
			    &in->fake, fake_inspect },
		.catch_up_ms = catch_up_s * 1000,
		.rescan_ms = 60000,
		.tick_ms = 1000,
		.instance = i ? "instance-b" : "instance-a",
		.once = once,
		.on_event = on_event,
		.ctx = in,
	};
	int rc = dr_sched_new(&o, &in->sched);

	if (rc == 0)
		rc = dr_sched_start(in->sched);
	return rc;
}

static void inst_stop(struct fx *x, int i)
{
	dr_sched_free(x->in[i].sched);
	x->in[i].sched = NULL;
}

static void stop_cb(dr_loop *loop, void *ud)
{
	(void)ud;
	dr_loop_stop(loop);
}

/* Run the loop until wall time t (epoch s). */
static void run_until(struct fx *x, int64_t t)
{
	int64_t now = fake_now(&x->in[0].fake);

	if (t * 1000 > now)
		dr_loop_timer(x->loop, (uint64_t)(t * 1000 - now), stop_cb, NULL);
	else
		dr_loop_timer(x->loop, 0, stop_cb, NULL);
	dr_loop_run(x->loop);
}

static void fx_release(struct fx *x)
{
	for (int i = 0; i < 2; i++) {
		dr_sched_free(x->in[i].sched);
		dr_store_free(x->in[i].store);
		json_decref(x->in[i].events);
	}
	dr_loop_free(x->loop);
	testdir_free(x->dir);
}

/* "due1,due2,..." of instance i's events named ev (plan, if given). */
static char *list(struct fx *x, int i, const char *ev, const char *plan, const char *field)
{
	static char buf[4096];
	size_t k;
	json_t *e;

	buf[0] = '\0';
	json_array_foreach(x->in[i].events, k, e) {
		const char *v;

		if (strcmp(json_string_value(json_object_get(e, "event")), ev))
			continue;
		if (plan && (!json_object_get(e, "plan") ||
			     strcmp(json_string_value(json_object_get(e, "plan")), plan)))
			continue;
		v = json_string_value(json_object_get(e, field));
		if (*buf)
			strcat(buf, ",");
		strcat(buf, v ? v : "-");
	}
	return buf;
}

static int count(struct fx *x, int i, const char *ev)
{
	size_t k, n = 0;
	json_t *e;

	json_array_foreach(x->in[i].events, k, e)
		n += !strcmp(json_string_value(json_object_get(e, "event")), ev);
	return (int)n;
}

static json_t *claim(struct fx *x, const char *plan, int64_t due)
{
	char key[256], st[32];
	dr_strbuf sb = DR_STRBUF_INIT;
	json_t *v = NULL;

	dr_sched_stamp(due, st, sizeof(st));
	snprintf(key, sizeof(key), "schedule/%s/runs/%s", plan, st);
	if (dr_store_read(x->in[0].store, key, &sb) == 0)
		v = json_loadb(sb.buf, sb.len, 0, NULL);
	dr_strbuf_release(&sb);
	return v;
}

/* ---- tests --------------------------------------------------------------- */

TEST(stamp_and_last_due)
{
	dr_cron c;
	dr_tz *tz = NULL;
	int64_t t;
	bool found;
	char st[32];

	CHECK_INT(dr_tz_load("UTC", &tz), 0);

	dr_sched_stamp(utc(2026, 11, 25, 16, 0) + 5, st, sizeof(st));
	CHECK_STR(st, "20261125T160005Z");
	CHECK_INT(dr_cron_parse("0 * * * *", &c, NULL, 0, NULL), 0);
	/* 12:30 with a 6 h window: the most recent due time is 12:00. */
	CHECK_INT(dr_sched_last_due(&c, tz, utc(2026, 11, 25, 12, 30), 6 * 3600, &t, &found), 0);
	CHECK(found);
	CHECK_INT(t, utc(2026, 11, 25, 12, 0));
	/* Exactly on a due time: that one. */
	CHECK_INT(dr_sched_last_due(&c, tz, utc(2026, 11, 25, 12, 0), 60, &t, &found), 0);
	CHECK(found);
	CHECK_INT(t, utc(2026, 11, 25, 12, 0));
	/* A 29-minute window at 12:30 holds none. */
	CHECK_INT(dr_sched_last_due(&c, tz, utc(2026, 11, 25, 12, 30), 29 * 60, &t, &found), 0);
	CHECK(!found);
	CHECK_INT(t, 0);
	dr_tz_free(tz);
}

TEST(time_zones)
{
	struct fx x;

	fx_init(&x, utc(2026, 11, 24, 12, 0));
	x.in[0].fake.duration_ms = 60 * 1000;
	write_file(&x, "ny.yaml", "name ny\nschedule 0 9 * * MON-FRI\ntz America/New_York\n");
	write_file(&x, "in.yaml", "name kolkata\nschedule 0 3 * * *\ntz Asia/Kolkata\n");
	write_file(&x, "utc.yaml", "name utc\nschedule 15 6 * * WED\n");
	CHECK_INT(inst_start(&x, 0, 0, false), 0);
	CHECK_STR(list(&x, 0, "loaded", NULL, "next"),
		  "2026-11-24T21:30:00Z,2026-11-24T14:00:00Z,2026-11-25T06:15:00Z");
	run_until(&x, utc(2026, 11, 26, 12, 0));
	/* 09:00 EST is 14:00 UTC; 03:00 IST is 21:30 UTC the day before. */
	CHECK_STR(list(&x, 0, "started", "ny", "due"),
		  "2026-11-24T14:00:00Z,2026-11-25T14:00:00Z");
	CHECK_STR(list(&x, 0, "started", "kolkata", "due"),
		  "2026-11-24T21:30:00Z,2026-11-25T21:30:00Z");
	CHECK_STR(list(&x, 0, "started", "utc", "due"), "2026-11-25T06:15:00Z");
	CHECK_INT(count(&x, 0, "finished"), 5);
	CHECK_INT(x.in[0].fake.starts, 5);
	fx_release(&x);
}

TEST(daylight_saving)
{
	struct fx x;

	/* Europe/Paris, 02:30 every day: on 2026-03-29 02:30 does not exist
	 * (runs at 03:00 CEST = 01:00 UTC); on 2026-10-25 it happens twice
	 * (runs at the first, 02:30 CEST = 00:30 UTC). */
	fx_init(&x, utc(2026, 3, 28, 12, 0));
	x.in[0].fake.duration_ms = 60 * 1000;
	write_file(&x, "p.yaml", "name paris\nschedule 30 2 * * *\ntz Europe/Paris\n");
	CHECK_INT(inst_start(&x, 0, 0, false), 0);
	run_until(&x, utc(2026, 3, 30, 12, 0));
	CHECK_STR(list(&x, 0, "started", "paris", "due"),
		  "2026-03-29T01:00:00Z,2026-03-30T00:30:00Z");
	inst_stop(&x, 0);
	fx_release(&x);

	fx_init(&x, utc(2026, 10, 24, 12, 0));
	x.in[0].fake.duration_ms = 60 * 1000;
	write_file(&x, "p.yaml", "name paris\nschedule 30 2 * * *\ntz Europe/Paris\n");
	CHECK_INT(inst_start(&x, 0, 0, false), 0);
	run_until(&x, utc(2026, 10, 26, 12, 0));
	CHECK_STR(list(&x, 0, "started", "paris", "due"),
		  "2026-10-25T00:30:00Z,2026-10-26T01:30:00Z");
	CHECK_INT(count(&x, 0, "due"), 2);
	fx_release(&x);
}

TEST(catch_up_once)
{
	struct fx x;
	json_t *c;

	/* Down since 06:00; hourly drills; back at 12:30 with a 6 h window:
	 * one run, for 12:00, at once. Not seven. */
	fx_init(&x, utc(2026, 11, 25, 12, 30));
	write_file(&x, "h.yaml", "name hourly\nschedule 0 * * * *\n");
	CHECK_INT(inst_start(&x, 0, 6 * 3600, false), 0);
	run_until(&x, utc(2026, 11, 25, 12, 31));
	CHECK_STR(list(&x, 0, "started", NULL, "due"), "2026-11-25T12:00:00Z");
	CHECK_STR(list(&x, 0, "started", NULL, "time"), "2026-11-25T12:30:00Z");
	run_until(&x, utc(2026, 11, 25, 13, 30));
	CHECK_STR(list(&x, 0, "started", NULL, "due"),
		  "2026-11-25T12:00:00Z,2026-11-25T13:00:00Z");
	c = claim(&x, "hourly", utc(2026, 11, 25, 12, 0));
	CHECK_STR(json_string_value(json_object_get(c, "state")), "finished");
	CHECK_STR(json_string_value(json_object_get(c, "status")), "succeeded");
	CHECK_STR(json_string_value(json_object_get(c, "instance")), "instance-a");
	json_decref(c);
	inst_stop(&x, 0);

	/* A restart at 13:40: 13:00 was run already (its claim is in the
	 * store), so nothing runs until 14:00. */
	dr_loop_advance(x.loop, 10 * 60 * 1000);
	json_array_clear(x.in[1].events);
	CHECK_INT(inst_start(&x, 1, 6 * 3600, false), 0);
	run_until(&x, utc(2026, 11, 25, 13, 59));
	CHECK_INT(count(&x, 1, "started"), 0);
	CHECK_INT(count(&x, 1, "claimed-elsewhere"), 0);
	run_until(&x, utc(2026, 11, 25, 14, 1));
	CHECK_STR(list(&x, 1, "started", NULL, "due"), "2026-11-25T14:00:00Z");
	fx_release(&x);

	/* A window shorter than the downtime since the last due time: no
	 * catch-up, the next run is the next due time. */
	fx_init(&x, utc(2026, 11, 25, 12, 30));
	write_file(&x, "h.yaml", "name hourly\nschedule 0 * * * *\n");
	CHECK_INT(inst_start(&x, 0, 20 * 60, false), 0);
	run_until(&x, utc(2026, 11, 25, 12, 59));
	CHECK_INT(count(&x, 0, "started"), 0);
	CHECK_STR(list(&x, 0, "loaded", NULL, "next"), "2026-11-25T13:00:00Z");
	fx_release(&x);
}

TEST(no_overlap)
{
	struct fx x;
	json_t *c;

	/* Hourly drills that take 90 minutes: 13:00 comes while the 12:00
	 * job runs and is skipped; 14:00 starts again. */
	fx_init(&x, utc(2026, 11, 25, 11, 59));
	x.in[0].fake.duration_ms = 90 * 60 * 1000;
	write_file(&x, "h.yaml", "name hourly\nschedule 0 * * * *\n");
	CHECK_INT(inst_start(&x, 0, 0, false), 0);
	run_until(&x, utc(2026, 11, 25, 14, 5));
	CHECK_STR(list(&x, 0, "due", NULL, "due"),
		  "2026-11-25T12:00:00Z,2026-11-25T13:00:00Z,2026-11-25T14:00:00Z");
	CHECK_STR(list(&x, 0, "started", NULL, "due"),
		  "2026-11-25T12:00:00Z,2026-11-25T14:00:00Z");
	CHECK_STR(list(&x, 0, "skipped", NULL, "due"), "2026-11-25T13:00:00Z");
	CHECK_STR(list(&x, 0, "skipped", NULL, "reason"), "overlap");
	CHECK_STR(list(&x, 0, "finished", NULL, "time"), "2026-11-25T13:30:00Z");
	c = claim(&x, "hourly", utc(2026, 11, 25, 13, 0));
	CHECK_STR(json_string_value(json_object_get(c, "state")), "skipped");
	CHECK_STR(json_string_value(json_object_get(c, "reason")), "overlap");
	{
		/* The skipped claim names the job that was running: the first. */
		char first[256];

		snprintf(first, sizeof(first), "%s", list(&x, 0, "started", NULL, "job"));
		first[strcspn(first, ",")] = '\0';
		CHECK(!strncmp(first, "hourly-drill-", 13));
		CHECK_STR(json_string_value(json_object_get(c, "job")), first);
	}
	json_decref(c);
	CHECK_INT(x.in[0].fake.starts, 2);
	fx_release(&x);
}

/* Timer callbacks that edit the plans directory mid-run. */
static struct fx *edit_fx;
static void edit1(dr_loop *loop, void *ud)
{
	(void)loop;
	(void)ud;
	write_file(edit_fx, "a.yaml", "name a\nschedule 30 * * * *\n");
	remove_file(edit_fx, "b.yaml");
	write_file(edit_fx, "c.yaml", "name c\nschedule 45 * * * *\n");
	write_file(edit_fx, "d.yaml", "name d\nschedule 0 25 * * *\n");
}

static void edit2(dr_loop *loop, void *ud)
{
	(void)loop;
	(void)ud;
	write_file(edit_fx, "d.yaml", "name d\nschedule 50 * * * *\n");
	/* Written again with the same bytes: not a change. */
	write_file(edit_fx, "a.yaml", "name a\nschedule 30 * * * *\n");
}

TEST(reload)
{
	struct fx x;

	fx_init(&x, utc(2026, 11, 25, 12, 5));
	x.in[0].fake.duration_ms = 60 * 1000;
	write_file(&x, "a.yaml", "name a\nschedule 0 * * * *\n");
	write_file(&x, "b.yaml", "name b\nschedule 10 * * * *\n");
	write_file(&x, "notes.txt", "not a plan");
	write_file(&x, "e.yaml", "invalid metadata.name: required\n");
	CHECK_INT(inst_start(&x, 0, 0, false), 0);
	CHECK_STR(list(&x, 0, "loaded", NULL, "file"), "a.yaml,b.yaml");
	CHECK_STR(list(&x, 0, "invalid", NULL, "message"), "metadata.name: required");
	edit_fx = &x;
	/* 12:20: a moves to :30, b goes, c comes, d is broken; 12:40 d fixed. */
	dr_loop_timer(x.loop, 15 * 60 * 1000, edit1, NULL);
	dr_loop_timer(x.loop, 35 * 60 * 1000, edit2, NULL);
	run_until(&x, utc(2026, 11, 25, 13, 59));
	CHECK_STR(list(&x, 0, "removed", NULL, "file"), "b.yaml");
	CHECK_STR(list(&x, 0, "invalid", NULL, "file"), "e.yaml,d.yaml");
	CHECK_STR(list(&x, 0, "invalid", NULL, "message"),
		  "metadata.name: required,drill.schedule: hour: 25 is out of range 0-23");
	CHECK_STR(list(&x, 0, "loaded", NULL, "file"), "a.yaml,b.yaml,a.yaml,c.yaml,d.yaml");
	CHECK_STR(list(&x, 0, "loaded", NULL, "next"),
		  "2026-11-25T13:00:00Z,2026-11-25T12:10:00Z,2026-11-25T12:30:00Z,"
		  "2026-11-25T12:45:00Z,2026-11-25T12:50:00Z");
	CHECK_STR(list(&x, 0, "started", "a", "due"),
		  "2026-11-25T12:30:00Z,2026-11-25T13:30:00Z");
	CHECK_STR(list(&x, 0, "started", "b", "due"), "2026-11-25T12:10:00Z");
	CHECK_STR(list(&x, 0, "started", "c", "due"),
		  "2026-11-25T12:45:00Z,2026-11-25T13:45:00Z");
	CHECK_STR(list(&x, 0, "started", "d", "due"),
		  "2026-11-25T12:50:00Z,2026-11-25T13:50:00Z");
	fx_release(&x);
}

TEST(two_instances_one_claim)
{
	struct fx x;
	char key[128];
	uint64_t size;

	fx_init(&x, utc(2026, 11, 25, 11, 58));
	write_file(&x, "h.yaml", "name hourly\nschedule 0 12 * * *\n");
	CHECK_INT(inst_start(&x, 0, 0, false), 0);
	CHECK_INT(inst_start(&x, 1, 0, false), 0);
	run_until(&x, utc(2026, 11, 25, 12, 30));
	CHECK_INT(count(&x, 0, "due") + count(&x, 1, "due"), 2);
	CHECK_INT(x.in[0].fake.starts + x.in[1].fake.starts, 1);
	CHECK_INT(count(&x, 0, "claimed-elsewhere") + count(&x, 1, "claimed-elsewhere"), 1);
	CHECK_STR(list(&x, 1, "claimed-elsewhere", NULL, "instance"), "instance-a");
	CHECK_INT(count(&x, 0, "finished"), 1);
	fx_release(&x);

	/* Takeover: instance a starts the 12:00 drill and is stopped at 12:05
	 * (SIGTERM: the job is parked, its lock released); instance b finds
	 * the plan's active job with a free lock at its next rescan and
	 * resumes it. */
	fx_init(&x, utc(2026, 11, 25, 11, 58));
	write_file(&x, "h.yaml", "name hourly\nschedule 0 12 * * *\n");
	CHECK_INT(inst_start(&x, 0, 0, false), 0);
	CHECK_INT(inst_start(&x, 1, 0, false), 0);
	run_until(&x, utc(2026, 11, 25, 12, 5));
	CHECK_INT(x.in[0].fake.starts, 1);
	inst_stop(&x, 0);
	CHECK_INT(x.in[0].fake.parks, 1);
	CHECK_STR(list(&x, 0, "parked", NULL, "job"), list(&x, 0, "started", NULL, "job"));
	snprintf(key, sizeof(key), "schedule/hourly/active");
	CHECK_INT(dr_store_size(x.in[1].store, key, &size), 0);
	run_until(&x, utc(2026, 11, 25, 12, 30));
	CHECK_INT(x.in[1].fake.resumes, 1);
	CHECK_INT(x.in[1].fake.starts, 0);
	CHECK_INT(count(&x, 1, "resumed"), 1);
	CHECK_INT(count(&x, 1, "finished"), 1);
	CHECK_INT(dr_store_size(x.in[1].store, key, &size), DR_ENOTFOUND);
	{
		json_t *c = claim(&x, "hourly", utc(2026, 11, 25, 12, 0));

		CHECK_STR(json_string_value(json_object_get(c, "state")), "finished");
		json_decref(c);
	}
	fx_release(&x);
}

TEST(restart_resumes_parked)
{
	struct fx x;

	/* One instance: stopped mid-drill, started again: the parked job is
	 * resumed at start-up, and the due time is not run a second time. */
	fx_init(&x, utc(2026, 11, 25, 12, 0));
	write_file(&x, "h.yaml", "name hourly\nschedule 0 * * * *\n");
	CHECK_INT(inst_start(&x, 0, 3600, false), 0);
	run_until(&x, utc(2026, 11, 25, 12, 2));
	CHECK_INT(x.in[0].fake.starts, 1);
	inst_stop(&x, 0);
	CHECK_INT(inst_start(&x, 1, 3600, false), 0);
	CHECK_INT(x.in[1].fake.resumes, 1);
	run_until(&x, utc(2026, 11, 25, 12, 30));
	CHECK_INT(x.in[1].fake.starts, 0);
	CHECK_INT(count(&x, 1, "finished"), 1);
	CHECK_INT(count(&x, 1, "due"), 0);
	fx_release(&x);
}

TEST(once_mode)
{
	struct fx x;

	fx_init(&x, utc(2026, 11, 25, 12, 30));
	write_file(&x, "h.yaml", "name hourly\nschedule 0 * * * *\n");
	write_file(&x, "w.yaml", "name weekly\nschedule 0 3 * * SAT\n");
	CHECK_INT(inst_start(&x, 0, 3600, true), 0);
	/* The loop stops by itself when the one due drill has ended. */
	CHECK_INT(dr_loop_run(x.loop), DR_ECANCELLED);
	CHECK_STR(list(&x, 0, "started", NULL, "plan"), "hourly");
	CHECK_STR(list(&x, 0, "finished", NULL, "time"), "2026-11-25T12:40:00Z");
	CHECK_INT(dr_sched_running(x.in[0].sched), 0);
	CHECK_INT(dr_sched_failures(x.in[0].sched), 0);
	fx_release(&x);
}

TEST(failed_drill)
{
	struct fx x;
	json_t *c;

	fx_init(&x, utc(2026, 11, 25, 12, 30));
	x.in[0].fake.fail_status = "failed";
	write_file(&x, "h.yaml", "name hourly\nschedule 0 * * * *\n");
	CHECK_INT(inst_start(&x, 0, 3600, true), 0);
	CHECK_INT(dr_loop_run(x.loop), DR_ECANCELLED);
	CHECK_STR(list(&x, 0, "finished", NULL, "status"), "failed");
	CHECK_INT(dr_sched_failures(x.in[0].sched), 1);
	c = claim(&x, "hourly", utc(2026, 11, 25, 12, 0));
	CHECK_STR(json_string_value(json_object_get(c, "state")), "finished");
	CHECK_STR(json_string_value(json_object_get(c, "status")), "failed");
	json_decref(c);
	fx_release(&x);
}

TEST(adopt_orphan)
{
	struct fx x;
	char key[128];
	uint64_t size;

	/* A `drplan drill` of plan hourly died (its journal is there, not
	 * ended, its lock free), and an older one ended; another plan's
	 * unfinished drill is none of ours. The scheduler adopts the newest
	 * unfinished drill of its plan at start-up and finishes it. */
	fx_init(&x, utc(2026, 11, 25, 12, 30));
	write_file(&x, "h.yaml", "name hourly\nschedule 0 3 * * *\n");
	dr_store_put(x.in[0].store, "jobs/hourly-drill-20261120T100000Z-aaaa/journal",
		     "hourly ended", 12, NULL, NULL);
	dr_store_put(x.in[0].store, "jobs/hourly-drill-20261125T100000Z-bbbb/journal",
		     "hourly", 6, NULL, NULL);
	dr_store_put(x.in[0].store, "jobs/other-drill-20261125T100000Z-cccc/journal",
		     "other", 5, NULL, NULL);
	CHECK_INT(inst_start(&x, 0, 0, false), 0);
	CHECK_STR(list(&x, 0, "resumed", NULL, "job"), "hourly-drill-20261125T100000Z-bbbb");
	run_until(&x, utc(2026, 11, 25, 12, 45));
	CHECK_STR(list(&x, 0, "finished", NULL, "job"), "hourly-drill-20261125T100000Z-bbbb");
	CHECK_INT(x.in[0].fake.resumes, 1);
	CHECK_INT(x.in[0].fake.starts, 0);
	snprintf(key, sizeof(key), "schedule/hourly/active");
	CHECK_INT(dr_store_size(x.in[0].store, key, &size), DR_ENOTFOUND);
	fx_release(&x);
}

int main(void)
{
	RUN(stamp_and_last_due);
	RUN(time_zones);
	RUN(daylight_saving);
	RUN(catch_up_once);
	RUN(no_overlap);
	RUN(reload);
	RUN(two_instances_one_claim);
	RUN(restart_resumes_parked);
	RUN(once_mode);
	RUN(failed_drill);
	RUN(adopt_orphan);
	return test_summary();
}
