/*
 * scheduler.c - the drill scheduler's core; the rules are in scheduler.h.
 */
#include "sched/scheduler.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "journal/journal.h"
#include "sched/cron.h"
#include "sched/tz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Largest plan file hashed for change detection. */
#define PLAN_FILE_MAX (16u << 20)
/* The timer never sleeps longer, so a wall clock that jumps is noticed. */
#define MAX_SLEEP_MS 60000

struct sjob {
	void *handle;
	char id[DR_JOB_ID_MAX + 1];
	char *plan; /* the name it runs under */
	int64_t due; /* 0: a takeover without a due time */
};

struct splan {
	char *file; /* name in the directory */
	char *path;
	dr_sched_plan_info pi;
	bool valid, removed, seen;
	dr_cron cron;
	dr_tz *tz;
	uint64_t hash;
	int64_t mtime_ns;
	int64_t size;
	uint64_t ino;
	int64_t next_due;    /* epoch s; 0: none */
	int64_t pending_due; /* claimed, not started yet; 0: none */
	bool wait_reported;
	struct sjob *job;
	char *stuck_job; /* a takeover that cannot work; not retried */
};

struct dr_sched {
	dr_sched_opts o;
	char instance[320];
	char *dir;
	struct splan **plans;
	size_t n, cap;
	dr_timer *timer;
	int64_t next_rescan_ms;
	bool started, stopped;
	unsigned running, failures;
};

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	dr_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	return dr_strbuf_detach(&sb, NULL);
}

void dr_sched_plan_info_release(dr_sched_plan_info *pi)
{
	free(pi->name);
	free(pi->schedule);
	free(pi->timezone);
	free(pi->error);
	memset(pi, 0, sizeof(*pi));
}

static int64_t now_ms(dr_sched *s)
{
	return s->o.clock.now_ms ? s->o.clock.now_ms(s->o.clock.ctx) : dr_wall_ms();
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int64_t now_s(dr_sched *s)
{
	return floor_div(now_ms(s), 1000);
}

static void civil(int64_t t, int64_t *y, int *mo, int *d, int *h, int *mi, int *sec)
{
	int64_t days = floor_div(t, 86400), r = t - days * 86400;

	dr_civil_from_days(days, y, mo, d);
	*h = (int)(r / 3600);
	*mi = (int)(r / 60 % 60);
	*sec = (int)(r % 60);
}

static void rfc3339(int64_t t, char *buf, size_t n)
{
	int64_t y;
	int mo, d, h, mi, sec;

	civil(t, &y, &mo, &d, &h, &mi, &sec);
	snprintf(buf, n, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, sec);
}

void dr_sched_stamp(int64_t t, char *buf, size_t n)
{
	int64_t y;
	int mo, d, h, mi, sec;

	civil(t, &y, &mo, &d, &h, &mi, &sec);
	snprintf(buf, n, "%04" PRId64 "%02d%02dT%02d%02d%02dZ", y, mo, d, h, mi, sec);
}

int dr_sched_last_due(const dr_cron *c, const dr_tz *tz, int64_t now, int64_t window,
		      int64_t *out, bool *found)
{
	int64_t t = now - window - 1, next;
	int rc;

	*out = 0;
	*found = false;
	if (window < 0)
		return 0;
	/* Runs are on whole minutes: a week-long window at one run a minute
	 * is 10080 steps, each a few field skips. */
	for (;;) {
		rc = dr_cron_next_tz(c, tz, t, &next);
		if (rc == DR_ENOTFOUND)
			return 0;
		if (rc < 0)
			return rc;
		if (next > now)
			return 0;
		*out = next;
		*found = true;
		t = next;
	}
}

/* ---- events ------------------------------------------------------------- */

/* Emit event `name` for plan sp (may be NULL) with extra fields (stolen). */
static void emit(dr_sched *s, const char *name, const struct splan *sp, json_t *extra)
{
	char ts[40];
	json_t *ev;

	if (!s->o.on_event) {
		json_decref(extra);
		return;
	}
	rfc3339(now_s(s), ts, sizeof(ts));
	ev = json_pack("{s:s,s:s}", "event", name, "time", ts);
	if (sp && sp->valid && sp->pi.name)
		json_object_set_new(ev, "plan", json_string(sp->pi.name));
	if (sp)
		json_object_set_new(ev, "file", json_string(sp->file));
	if (extra)
		json_object_update(ev, extra);
	json_decref(extra);
	s->o.on_event(s->o.ctx, ev);
	json_decref(ev);
}

static json_t *time_json(int64_t t)
{
	char ts[40];

	rfc3339(t, ts, sizeof(ts));
	return json_string(ts);
}

/* ---- store records ------------------------------------------------------ */

static void key_of(char *buf, size_t n, const char *plan, const char *what)
{
	snprintf(buf, n, "schedule/%s/%s", plan, what);
}

static void claim_key(char *buf, size_t n, const char *plan, int64_t due)
{
	char st[32];

	dr_sched_stamp(due, st, sizeof(st));
	snprintf(buf, n, "schedule/%s/runs/%s", plan, st);
}

static int put_json(dr_sched *s, const char *key, json_t *v, const char *if_match,
		    char **version)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	rc = dr_store_put(s->o.store, key, text, strlen(text), if_match, version);
	free(text);
	return rc;
}

static int get_json(dr_sched *s, const char *key, json_t **out, char **version)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	int rc;

	*out = NULL;
	if (version)
		*version = NULL;
	rc = dr_store_get(s->o.store, key, &sb, version);
	if (rc == 0) {
		*out = json_loadb(sb.buf, sb.len, 0, NULL);
		if (!json_is_object(*out)) {
			json_decref(*out);
			*out = json_object();
		}
	}
	dr_strbuf_release(&sb);
	return rc;
}

/*
 * Record what became of a claimed due time: merge fields (stolen) into the
 * claim record with If-Match, so a concurrent writer is never overwritten.
 */
static void record_claim(dr_sched *s, const struct splan *sp, const char *plan, int64_t due,
			 json_t *fields)
{
	char key[DR_STORE_KEY_MAX + 1], *ver = NULL;
	json_t *rec = NULL;
	int rc;

	claim_key(key, sizeof(key), plan, due);
	rc = get_json(s, key, &rec, &ver);
	if (rc == 0) {
		json_object_update(rec, fields);
		json_object_set_new(rec, "updated", time_json(now_s(s)));
		rc = put_json(s, key, rec, ver, NULL);
	}
	if (rc < 0)
		emit(s, "error", sp, json_pack("{s:s,s:o}", "message", dr_error_msg(), "due",
					       time_json(due)));
	json_decref(rec);
	json_decref(fields);
	free(ver);
}

/* The job named by schedule/<plan>/active, or NULL (caller frees). */
static char *active_job(dr_sched *s, const char *plan, int64_t *due)
{
	char key[DR_STORE_KEY_MAX + 1];
	json_t *rec;
	char *id = NULL;

	key_of(key, sizeof(key), plan, "active");
	if (get_json(s, key, &rec, NULL) < 0)
		return NULL;
	if (json_is_string(json_object_get(rec, "job")))
		id = dr_xstrdup(json_string_value(json_object_get(rec, "job")));
	if (due)
		*due = json_integer_value(json_object_get(rec, "due_s"));
	json_decref(rec);
	return id;
}

/* Remove the active record when it still names job id. */
static void clear_active(dr_sched *s, const char *plan, const char *id)
{
	char key[DR_STORE_KEY_MAX + 1];
	char *cur = active_job(s, plan, NULL);

	key_of(key, sizeof(key), plan, "active");
	if (cur && !strcmp(cur, id))
		dr_store_remove(s->o.store, key);
	free(cur);
}

/*
 * 1 when the plan's lock is free now, 0 when someone holds it (*holder:
 * their JSON, caller frees), negative on a store error. The probe takes and
 * releases the lock at once.
 */
static int lock_free(dr_sched *s, const char *plan, char **holder)
{
	dr_store_lock *l = NULL;
	json_t *h = json_pack("{s:s,s:s}", "probe", "scheduler", "host", s->instance);
	char *hs = json_dumps(h, JSON_COMPACT);
	int rc;

	json_decref(h);
	if (holder)
		*holder = NULL;
	for (int tries = 0;; tries++) {
		char *who = NULL;

		rc = dr_store_lock_acquire(s->o.store, plan, hs, 0, &l, &who);
		/* Another instance's probe holds it for an instant: look again
		 * rather than call a free lock held. */
		if (rc != DR_ECONFLICT || tries == 3 || !who || !strstr(who, "\"probe\"")) {
			if (holder)
				*holder = who;
			else
				free(who);
			break;
		}
		free(who);
		nanosleep(&(struct timespec){ 0, 5 * 1000 * 1000 }, NULL);
	}
	free(hs);
	if (rc == DR_ECONFLICT)
		return 0;
	if (rc < 0)
		return rc;
	dr_store_lock_release(l);
	return 1;
}

/* ---- jobs ------------------------------------------------------------------ */

static void job_free(struct sjob *j)
{
	if (!j)
		return;
	free(j->plan);
	free(j);
}

static struct sjob *job_new(void *handle, const char *id, const char *plan, int64_t due)
{
	struct sjob *j = dr_xcalloc(1, sizeof(*j));

	j->handle = handle;
	snprintf(j->id, sizeof(j->id), "%s", id);
	j->plan = dr_xstrdup(plan);
	j->due = due;
	return j;
}

static void plan_free(struct splan *sp)
{
	if (!sp)
		return;
	free(sp->file);
	free(sp->path);
	dr_sched_plan_info_release(&sp->pi);
	dr_tz_free(sp->tz);
	free(sp->stuck_job);
	free(sp);
}

static void drop_plan(dr_sched *s, size_t i)
{
	plan_free(s->plans[i]);
	memmove(&s->plans[i], &s->plans[i + 1], (s->n - i - 1) * sizeof(*s->plans));
	s->n--;
}

static void poll_one(dr_sched *s, struct splan *sp);

/*
 * Take over the job named by the plan's active record when its lock is
 * free: the process that ran it stopped (parked it) or died.
 */
static void takeover(dr_sched *s, struct splan *sp)
{
	char key[DR_STORE_KEY_MAX + 1];
	const char *name = sp->pi.name;
	int64_t due = 0;
	void *h = NULL;
	char *id;
	int rc;

	if (!sp->valid || sp->removed || sp->job || s->stopped)
		return;
	if (!(id = active_job(s, name, &due)))
		return;
	if ((sp->stuck_job && !strcmp(sp->stuck_job, id)) ||
	    s->running >= s->o.max_parallel || lock_free(s, name, NULL) != 1) {
		free(id);
		return;
	}
	rc = s->o.runner.resume(s->o.runner.ctx, sp->path, name, id, &h);
	if (rc == 0) {
		sp->job = job_new(h, id, name, due);
		s->running++;
		emit(s, "resumed", sp, json_pack("{s:s,s:s}", "job", id, "reason",
						 "parked or orphaned (its lock was free)"));
		/* Finished meanwhile (`drplan job resume`): done at once, so
		 * that it is no overlap for a due time. */
		poll_one(s, sp);
	} else if (rc == DR_ENOTFOUND) {
		/* Recorded, never started: the holder died in between. */
		key_of(key, sizeof(key), name, "active");
		clear_active(s, name, id);
		emit(s, "error", sp, json_pack("{s:s,s:s}", "job", id, "message",
			"the active job has no journal (never started); forgotten"));
		if (due)
			record_claim(s, sp, name, due, json_pack("{s:s,s:s}", "state", "failed",
				     "message", "the job never started"));
	} else if (rc != DR_ECONFLICT) {
		emit(s, "error", sp, json_pack("{s:s,s:s}", "job", id, "message",
					       dr_error_msg()));
		free(sp->stuck_job);
		sp->stuck_job = dr_xstrdup(id);
	}
	free(id);
}

struct orphan_scan {
	dr_sched *s;
	char **best; /* per plan index: the newest unfinished drill */
};

static int orphan_cb(void *ctx, const char *key)
{
	struct orphan_scan *os = ctx;
	dr_sched *s = os->s;
	const char *id = key + 5; /* after "jobs/" */
	size_t idlen = strcspn(id, "/");
	char job[DR_JOB_ID_MAX + 1], *plan = NULL;
	bool drill = false, ended = true;

	if (strcmp(id + idlen, "/journal") || idlen > DR_JOB_ID_MAX)
		return 0;
	memcpy(job, id, idlen);
	job[idlen] = '\0';
	if (s->o.runner.inspect(s->o.runner.ctx, job, &plan, &drill, &ended) < 0 || !plan) {
		free(plan);
		return 0;
	}
	for (size_t i = 0; drill && !ended && i < s->n; i++) {
		if (!s->plans[i]->valid || strcmp(s->plans[i]->pi.name, plan))
			continue;
		/* Keys come in order and ids start with a UTC time stamp: the
		 * last one seen is the newest. */
		free(os->best[i]);
		os->best[i] = dr_xstrdup(job);
	}
	free(plan);
	return 0;
}

/*
 * At start-up: record the newest unfinished drill of each plan that has no
 * active record and a free lock as its active job, for takeover().
 */
static void adopt_orphans(dr_sched *s)
{
	struct orphan_scan os = { s, dr_xcalloc(s->n + 1, sizeof(char *)) };
	char key[DR_STORE_KEY_MAX + 1];

	dr_store_list(s->o.store, "jobs/", orphan_cb, &os);
	for (size_t i = 0; i < s->n; i++) {
		struct splan *sp = s->plans[i];
		char *cur;
		json_t *rec;

		if (!os.best[i])
			continue;
		cur = active_job(s, sp->pi.name, NULL);
		if (!cur && lock_free(s, sp->pi.name, NULL) == 1) {
			key_of(key, sizeof(key), sp->pi.name, "active");
			rec = json_pack("{s:s,s:s,s:o,s:b}", "job", os.best[i], "instance",
					s->instance, "since", time_json(now_s(s)), "adopted", 1);
			/* "": another instance adopting it at the same time wins. */
			put_json(s, key, rec, "", NULL);
			json_decref(rec);
		}
		free(cur);
		free(os.best[i]);
	}
	free(os.best);
}

/* Skip a claimed due time because a job of the plan runs. */
static void skip_overlap(dr_sched *s, struct splan *sp, int64_t due, const char *job)
{
	record_claim(s, sp, sp->pi.name, due,
		     json_pack("{s:s,s:s,s:s?}", "state", "skipped", "reason", "overlap",
			       "job", job));
	emit(s, "skipped", sp, json_pack("{s:o,s:s,s:s?}", "due", time_json(due),
					 "reason", "overlap", "job", job));
}

/* Start the claimed sp->pending_due, or leave it pending. */
static void try_start(dr_sched *s, struct splan *sp)
{
	char key[DR_STORE_KEY_MAX + 1], id[DR_JOB_ID_MAX + 1];
	int64_t due = sp->pending_due;
	const char *name = sp->pi.name;
	json_t *rec;
	void *h = NULL;
	char *other;
	int rc;

	/* A parked or orphaned job of the plan is finished first. */
	takeover(s, sp);
	if (sp->job) {
		skip_overlap(s, sp, due, sp->job->id);
		sp->pending_due = 0;
		return;
	}
	if ((rc = lock_free(s, name, NULL)) == 0) {
		other = active_job(s, name, NULL);
		skip_overlap(s, sp, due, other);
		free(other);
		sp->pending_due = 0;
		return;
	}
	if (rc < 0)
		goto fail;
	if (s->running >= s->o.max_parallel) {
		if (!sp->wait_reported)
			emit(s, "waiting", sp, json_pack("{s:o,s:s}", "due", time_json(due),
				"reason", "max-parallel jobs are running"));
		sp->wait_reported = true;
		return;
	}
	if ((rc = dr_job_id_new(name, "drill", id, sizeof(id))) < 0)
		goto fail;
	key_of(key, sizeof(key), name, "active");
	rec = json_pack("{s:s,s:I,s:o,s:s,s:o}", "job", id, "due_s", (json_int_t)due, "due",
			time_json(due), "instance", s->instance, "since", time_json(now_s(s)));
	rc = put_json(s, key, rec, NULL, NULL);
	json_decref(rec);
	if (rc < 0)
		goto fail;
	rc = s->o.runner.start(s->o.runner.ctx, sp->path, name, id, &h);
	if (rc == 0) {
		sp->job = job_new(h, id, name, due);
		s->running++;
		sp->pending_due = 0;
		sp->wait_reported = false;
		record_claim(s, sp, name, due, json_pack("{s:s,s:s}", "state", "started",
							 "job", id));
		emit(s, "started", sp, json_pack("{s:s,s:o}", "job", id, "due", time_json(due)));
		return;
	}
	clear_active(s, name, id);
	if (rc == DR_ECONFLICT) {
		/* Someone took the lock between the probe and the start. */
		skip_overlap(s, sp, due, NULL);
		sp->pending_due = 0;
		return;
	}
	if (rc == DR_EAGAIN) {
		if (!sp->wait_reported)
			emit(s, "waiting", sp, json_pack("{s:o,s:s}", "due", time_json(due),
							 "reason", dr_error_msg()));
		sp->wait_reported = true;
		return;
	}
fail:
	emit(s, "error", sp, json_pack("{s:o,s:s}", "due", time_json(due), "message",
				       dr_error_msg()));
	record_claim(s, sp, name, due, json_pack("{s:s,s:s}", "state", "failed",
						 "message", dr_error_msg()));
	sp->pending_due = 0;
	sp->wait_reported = false;
	s->failures++;
}

/* A due time came: claim it, then start it (or skip it). */
static void fire(dr_sched *s, struct splan *sp, int64_t due)
{
	char key[DR_STORE_KEY_MAX + 1];
	const char *name = sp->pi.name;
	json_t *rec;
	int rc;

	emit(s, "due", sp, json_pack("{s:o}", "due", time_json(due)));
	if (sp->pending_due) {
		/* The previous due time still waits for a slot: one at a time. */
		emit(s, "skipped", sp, json_pack("{s:o,s:s}", "due", time_json(due), "reason",
						 "the previous due time has not started yet"));
		return;
	}
	claim_key(key, sizeof(key), name, due);
	rec = json_pack("{s:s,s:o,s:s,s:o,s:s}", "plan", name, "due", time_json(due),
			"instance", s->instance, "claimed", time_json(now_s(s)), "state",
			"claimed");
	rc = put_json(s, key, rec, "", NULL);
	json_decref(rec);
	if (rc == DR_ECONFLICT) {
		json_t *cur = NULL;

		get_json(s, key, &cur, NULL);
		emit(s, "claimed-elsewhere", sp,
		     json_pack("{s:o,s:s?}", "due", time_json(due), "instance",
			       json_string_value(json_object_get(cur, "instance"))));
		json_decref(cur);
		return;
	}
	if (rc < 0) {
		emit(s, "error", sp, json_pack("{s:o,s:s}", "due", time_json(due), "message",
					       dr_error_msg()));
		return;
	}
	sp->pending_due = due;
	sp->wait_reported = false;
	try_start(s, sp);
}

/* Ask the runner about sp's job; when it ended or stopped, let it go. */
static void poll_one(dr_sched *s, struct splan *sp)
{
	struct sjob *j = sp->job;
	const char *status = NULL;
	int rc;

	if (!j)
		return;
	rc = s->o.runner.poll(s->o.runner.ctx, j->handle, &status);
	if (rc == 0)
		return;
	if (rc > 0) {
		/* The record goes while the lock is still held. */
		clear_active(s, j->plan, j->id);
		if (j->due)
			record_claim(s, sp, j->plan, j->due,
				     json_pack("{s:s,s:s,s:s}", "state", "finished", "job",
					       j->id, "status", status));
		emit(s, "finished", sp, json_pack("{s:s,s:s}", "job", j->id, "status", status));
		if (strcmp(status, "succeeded"))
			s->failures++;
		s->o.runner.release(s->o.runner.ctx, j->handle, false);
	} else {
		emit(s, "stopped", sp, json_pack("{s:s,s:s}", "job", j->id, "message",
						 dr_error_msg()));
		s->failures++;
		s->o.runner.release(s->o.runner.ctx, j->handle, true);
	}
	s->running--;
	job_free(j);
	sp->job = NULL;
}

static void poll_jobs(dr_sched *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct splan *sp = s->plans[i];

		if (!sp->job)
			continue;
		poll_one(s, sp);
		if (!sp->job && sp->removed) {
			drop_plan(s, i);
			i--;
		}
	}
}

/* ---- plans ----------------------------------------------------------------- */

static int hash_file(const char *path, uint64_t *out)
{
	uint64_t h = 1469598103934665603ull;
	unsigned char buf[8192];
	size_t total = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return dr_error_set(DR_EIO, "%s: %s", path, strerror(errno));
	while ((n = read(fd, buf, sizeof(buf))) > 0 && total < PLAN_FILE_MAX) {
		for (ssize_t k = 0; k < n; k++)
			h = (h ^ buf[k]) * 1099511628211ull;
		total += (size_t)n;
	}
	close(fd);
	if (n < 0)
		return dr_error_set(DR_EIO, "%s: %s", path, strerror(errno));
	*out = h;
	return 0;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Read (or read again) sp's file and set its next run. */
static void load_plan(dr_sched *s, struct splan *sp, bool initial)
{
	char *old_sched = sp->pi.schedule ? dr_xstrdup(sp->pi.schedule) : NULL;
	char *old_tz = sp->pi.timezone ? dr_xstrdup(sp->pi.timezone) : NULL;
	char key[DR_STORE_KEY_MAX + 1], err[256];
	bool was_valid = sp->valid, keep;
	int64_t now = now_s(s), last;
	bool found;
	int rc;

	dr_sched_plan_info_release(&sp->pi);
	dr_tz_free(sp->tz);
	sp->tz = NULL;
	sp->valid = false;
	rc = s->o.runner.load(s->o.runner.ctx, sp->path, &sp->pi);
	if (rc < 0 && !sp->pi.error)
		sp->pi.error = dr_xstrdup(dr_error_msg());
	if (!sp->pi.error && (!sp->pi.name || !*sp->pi.name))
		sp->pi.error = dr_xstrdup("the plan has no name");
	if (!sp->pi.error) {
		key_of(key, sizeof(key), sp->pi.name, "active");
		if (dr_store_key_valid(key) < 0)
			sp->pi.error = xasprintf("plan name '%s' cannot name a state "
						    "store key", sp->pi.name);
	}
	for (size_t i = 0; !sp->pi.error && i < s->n; i++) {
		const struct splan *o = s->plans[i];

		if (o != sp && o->valid && !o->removed && !strcmp(o->pi.name, sp->pi.name))
			sp->pi.error = xasprintf("plan name '%s' is also used by %s; "
						    "not scheduled", sp->pi.name, o->file);
	}
	if (!sp->pi.error && sp->pi.schedule &&
	    dr_cron_parse(sp->pi.schedule, &sp->cron, err, sizeof(err), NULL) < 0)
		sp->pi.error = xasprintf("drill.schedule: %s", err);
	if (!sp->pi.error && sp->pi.schedule && dr_tz_load(sp->pi.timezone, &sp->tz) < 0)
		sp->pi.error = xasprintf("drill.timezone: %s", dr_error_msg());
	if (sp->pi.error) {
		sp->next_due = 0;
		sp->pending_due = 0;
		emit(s, "invalid", sp, json_pack("{s:s}", "message", sp->pi.error));
		goto out;
	}
	sp->valid = true;
	keep = was_valid && same_str(old_sched, sp->pi.schedule) &&
	       same_str(old_tz, sp->pi.timezone) && sp->next_due;
	if (!sp->pi.schedule) {
		sp->next_due = 0;
	} else if (initial) {
		sp->next_due = 0;
		rc = dr_sched_last_due(&sp->cron, sp->tz, now, s->o.catch_up_ms / 1000, &last,
				       &found);
		if (rc == 0 && found) {
			claim_key(key, sizeof(key), sp->pi.name, last);
			if (dr_store_size(s->o.store, key, &(uint64_t){ 0 }) == DR_ENOTFOUND)
				sp->next_due = last;
		}
		if (!sp->next_due && !s->o.once &&
		    dr_cron_next_tz(&sp->cron, sp->tz, now, &sp->next_due) < 0)
			sp->next_due = 0;
	} else if (!keep) {
		if (s->o.once || dr_cron_next_tz(&sp->cron, sp->tz, now, &sp->next_due) < 0)
			sp->next_due = 0;
	}
	emit(s, "loaded", sp, json_pack("{s:s?,s:s?,s:o?}", "schedule", sp->pi.schedule,
					"timezone", sp->pi.schedule ? (sp->pi.timezone
					? sp->pi.timezone : "UTC") : NULL, "next",
					sp->next_due ? time_json(sp->next_due) : NULL));
out:
	free(old_sched);
	free(old_tz);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_plan_name(const char *n)
{
	size_t len = strlen(n);

	if (n[0] == '.')
		return false;
	return (len > 5 && !strcmp(n + len - 5, ".yaml")) ||
	       (len > 4 && !strcmp(n + len - 4, ".yml"));
}

static void rescan(dr_sched *s)
{
	char **names = NULL;
	size_t nn = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(s->dir);

	if (!d) {
		emit(s, "error", NULL, json_pack("{s:s}", "message", s->dir));
		return;
	}
	while ((de = readdir(d))) {
		if (!is_plan_name(de->d_name))
			continue;
		if (nn == cap) {
			cap = cap ? 2 * cap : 16;
			names = dr_xrealloc(names, cap * sizeof(*names));
		}
		names[nn++] = dr_xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, nn, sizeof(*names), name_cmp);
	for (size_t i = 0; i < s->n; i++)
		s->plans[i]->seen = false;
	for (size_t k = 0; k < nn; k++) {
		struct splan *sp = NULL;
		struct stat st;
		char *path = xasprintf("%s/%s", s->dir, names[k]);
		uint64_t h = 0;

		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		for (size_t i = 0; i < s->n; i++)
			if (!strcmp(s->plans[i]->file, names[k]))
				sp = s->plans[i];
		if (sp)
			sp->seen = true;
		if (sp && !sp->removed && sp->mtime_ns == (int64_t)st.st_mtim.tv_sec *
		    1000000000 + st.st_mtim.tv_nsec && sp->size == (int64_t)st.st_size &&
		    sp->ino == (uint64_t)st.st_ino) {
			free(path);
			continue;
		}
		if (hash_file(path, &h) < 0)
			h = 0;
		if (!sp) {
			if (s->n == s->cap) {
				s->cap = s->cap ? 2 * s->cap : 16;
				s->plans = dr_xrealloc(s->plans, s->cap * sizeof(*s->plans));
			}
			sp = dr_xcalloc(1, sizeof(*sp));
			sp->file = dr_xstrdup(names[k]);
			sp->path = path;
			path = NULL;
			sp->seen = true;
			s->plans[s->n++] = sp;
			sp->hash = h;
			load_plan(s, sp, !s->started);
		} else if (sp->removed || h != sp->hash) {
			sp->removed = false;
			sp->hash = h;
			load_plan(s, sp, false);
		}
		sp->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		sp->size = (int64_t)st.st_size;
		sp->ino = (uint64_t)st.st_ino;
		free(path);
	}
	for (size_t i = 0; i < s->n; i++) {
		struct splan *sp = s->plans[i];

		if (sp->seen || sp->removed)
			continue;
		emit(s, "removed", sp, sp->job ? json_pack("{s:s}", "job", sp->job->id) : NULL);
		if (sp->job) {
			/* Its job finishes; then the entry goes. */
			sp->removed = true;
			sp->next_due = 0;
			sp->pending_due = 0;
			continue;
		}
		drop_plan(s, i);
		i--;
	}
	for (size_t k = 0; k < nn; k++)
		free(names[k]);
	free(names);
}

/* ---- the timer --------------------------------------------------------------- */

static void tick(dr_loop *loop, void *ud);

static void arm(dr_sched *s)
{
	int64_t now = now_ms(s), delay = s->next_rescan_ms - now;
	bool busy = s->running > 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct splan *sp = s->plans[i];

		busy |= sp->pending_due != 0;
		if (sp->next_due && sp->next_due * 1000 - now < delay)
			delay = sp->next_due * 1000 - now;
	}
	if (busy && delay > (int64_t)s->o.tick_ms)
		delay = (int64_t)s->o.tick_ms;
	if (delay > MAX_SLEEP_MS)
		delay = MAX_SLEEP_MS;
	if (delay < 0)
		delay = 0;
	s->timer = dr_loop_timer(s->o.loop, (uint64_t)delay, tick, s);
}

static bool once_done(const dr_sched *s)
{
	if (s->running)
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (s->plans[i]->pending_due || s->plans[i]->next_due)
			return false;
	return true;
}

static void tick(dr_loop *loop, void *ud)
{
	dr_sched *s = ud;
	int64_t now;

	(void)loop;
	s->timer = NULL;
	poll_jobs(s);
	if (!s->o.once && now_ms(s) >= s->next_rescan_ms) {
		rescan(s);
		for (size_t i = 0; i < s->n; i++)
			takeover(s, s->plans[i]);
		s->next_rescan_ms = now_ms(s) + (int64_t)s->o.rescan_ms;
	}
	now = now_s(s);
	for (size_t i = 0; i < s->n && !s->stopped; i++) {
		struct splan *sp = s->plans[i];
		int64_t due = sp->next_due;

		if (!sp->valid || sp->removed)
			continue;
		if (sp->pending_due) {
			try_start(s, sp);
		} else if (due && now >= due) {
			/* From max(due, now): a late wake-up never runs a backlog. */
			if (s->o.once || dr_cron_next_tz(&sp->cron, sp->tz, now > due ? now : due,
							 &sp->next_due) < 0)
				sp->next_due = 0;
			fire(s, sp, due);
			if (sp->next_due)
				emit(s, "next", sp, json_pack("{s:o}", "next",
							      time_json(sp->next_due)));
		}
	}
	if (s->o.once && once_done(s)) {
		dr_loop_stop(s->o.loop);
		return;
	}
	if (!s->stopped)
		arm(s);
}

/* ---- life cycle ------------------------------------------------------------ */

int dr_sched_new(const dr_sched_opts *o, dr_sched **out)
{
	dr_sched *s;
	char host[256];

	*out = NULL;
	if (!o || !o->store || !o->loop || !o->dir || !o->runner.load || !o->runner.start ||
	    !o->runner.resume || !o->runner.poll || !o->runner.release)
		return dr_error_set(DR_EINVAL, "scheduler: store, loop, dir and runner are "
				    "required");
	if (o->catch_up_ms < 0 || o->catch_up_ms > DR_SCHED_CATCH_UP_MAX)
		return dr_error_set(DR_EINVAL, "scheduler: the catch-up window must be "
				    "0 to 7 days");
	s = dr_xcalloc(1, sizeof(*s));
	s->o = *o;
	s->dir = dr_xstrdup(o->dir);
	s->o.dir = s->dir;
	if (!s->o.max_parallel)
		s->o.max_parallel = 4;
	if (!s->o.rescan_ms)
		s->o.rescan_ms = 30000;
	if (!s->o.tick_ms)
		s->o.tick_ms = 1000;
	if (o->instance) {
		snprintf(s->instance, sizeof(s->instance), "%s", o->instance);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(s->instance, sizeof(s->instance), "%s:%d", host, (int)getpid());
	}
	s->o.instance = s->instance;
	*out = s;
	return 0;
}

int dr_sched_start(dr_sched *s)
{
	struct stat st;

	if (stat(s->dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return dr_error_set(DR_EIO, "plans directory %s: %s", s->dir,
				    errno ? strerror(errno) : "not a directory");
	rescan(s);
	s->started = true;
	if (s->o.runner.inspect)
		adopt_orphans(s);
	for (size_t i = 0; i < s->n; i++)
		takeover(s, s->plans[i]);
	/* --once reads the plans once: what was due at start-up is its work. */
	s->next_rescan_ms = s->o.once ? INT64_MAX : now_ms(s) + (int64_t)s->o.rescan_ms;
	s->timer = dr_loop_timer(s->o.loop, 0, tick, s);
	return 0;
}

void dr_sched_stop(dr_sched *s)
{
	if (!s || s->stopped)
		return;
	s->stopped = true;
	dr_loop_timer_cancel(s->o.loop, s->timer);
	s->timer = NULL;
	for (size_t i = 0; i < s->n; i++) {
		struct splan *sp = s->plans[i];

		if (!sp->job)
			continue;
		s->o.runner.release(s->o.runner.ctx, sp->job->handle, true);
		emit(s, "parked", sp, json_pack("{s:s,s:s}", "job", sp->job->id, "message",
			"stopped where it was; the next scheduler start or `drplan job "
			"resume` finishes it"));
		job_free(sp->job);
		sp->job = NULL;
		s->running--;
	}
}

unsigned dr_sched_failures(const dr_sched *s)
{
	return s->failures;
}

unsigned dr_sched_running(const dr_sched *s)
{
	return s->running;
}

void dr_sched_free(dr_sched *s)
{
	if (!s)
		return;
	dr_sched_stop(s);
	for (size_t i = 0; i < s->n; i++)
		plan_free(s->plans[i]);
	free(s->plans);
	free(s->dir);
	free(s);
}
