/*
 * progress.c - the live view of a running job (see progress.h).
 */
#include "report/progress.h"

#include "core/alloc.h"
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* What the renderer knows of one step. */
struct pstep {
	char state[12];     /* "" until the first event: pending */
	unsigned attempt;
	uint64_t start_ms;  /* this process's monotonic ms; 0: not started */
	uint64_t end_ms;    /* 0: not ended */
	uint64_t order;     /* when it last changed, for "current step" */
};

struct dr_progress {
	FILE *out;
	dr_progress_mode mode;
	const dr_plan *p;
	const dr_graph *g;
	dr_loop *loop;
	dr_timer *timer;
	json_t *index;        /* step id -> index */
	struct pstep *st;
	long *mlast;          /* machine -> step that changed last, or -1 */
	long *glast;          /* group -> group-level step that changed last */
	size_t **gmach;       /* group -> machines in step order */
	size_t *ngmach;
	char job[160];
	char status[16];
	char gate_note[64];
	uint64_t started_ms;
	uint64_t seq;
	size_t done;          /* steps in a final state */
	unsigned drawn;       /* table lines on screen now */
	bool dirty;
	uint64_t last_draw_ms;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

dr_progress_mode dr_progress_pick_mode(FILE *out, bool json)
{
	const char *term = getenv("TERM");

	if (json)
		return DR_PROGRESS_JSON;
	if (isatty(fileno(out)) && term && *term && strcmp(term, "dumb"))
		return DR_PROGRESS_TABLE;
	return DR_PROGRESS_LINES;
}

static bool final_state(const char *s)
{
	return !strcmp(s, "succeeded") || !strcmp(s, "failed") ||
	       !strcmp(s, "skipped") || !strcmp(s, "cancelled");
}

static const char *sget(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "";
}

static void timer_cb(dr_loop *loop, void *ud);

static void arm(dr_progress *pr)
{
	if (pr->loop && pr->mode == DR_PROGRESS_TABLE && !pr->timer)
		pr->timer = dr_loop_timer(pr->loop, DR_PROGRESS_REDRAW_MS, timer_cb, pr);
}

dr_progress *dr_progress_new(FILE *out, dr_progress_mode mode, const dr_plan *p,
			     const dr_graph *g, dr_loop *loop)
{
	dr_progress *pr = dr_xcalloc(1, sizeof(*pr));
	size_t i, ng = p->ngroups, nm = p->nmachines;

	pr->out = out;
	pr->mode = mode;
	pr->p = p;
	pr->g = g;
	pr->loop = loop;
	pr->index = json_object();
	pr->st = dr_xcalloc(g->nsteps ? g->nsteps : 1, sizeof(*pr->st));
	pr->mlast = dr_xcalloc(nm ? nm : 1, sizeof(long));
	pr->glast = dr_xcalloc(ng ? ng : 1, sizeof(long));
	pr->gmach = dr_xcalloc(ng ? ng : 1, sizeof(size_t *));
	pr->ngmach = dr_xcalloc(ng ? ng : 1, sizeof(size_t));
	for (i = 0; i < nm; i++)
		pr->mlast[i] = -1;
	for (i = 0; i < ng; i++) {
		pr->glast[i] = -1;
		pr->gmach[i] = dr_xcalloc(p->groups[i].nmachines + 1, sizeof(size_t));
	}
	for (i = 0; i < g->nsteps; i++) {
		const dr_step *s = &g->steps[i];
		size_t k;

		json_object_set_new(pr->index, s->id, json_integer((json_int_t)i));
		if (s->machine < 0 || s->group < 0 || (size_t)s->group >= ng)
			continue;
		for (k = 0; k < pr->ngmach[s->group]; k++)
			if (pr->gmach[s->group][k] == (size_t)s->machine)
				break;
		if (k == pr->ngmach[s->group] && k < p->groups[s->group].nmachines + 1)
			pr->gmach[s->group][pr->ngmach[s->group]++] = (size_t)s->machine;
	}
	strcpy(pr->status, "starting");
	pr->started_ms = mono_ms();
	arm(pr);
	return pr;
}

void dr_progress_free(dr_progress *pr)
{
	size_t i;

	if (!pr)
		return;
	if (pr->timer)
		dr_loop_timer_cancel(pr->loop, pr->timer);
	for (i = 0; i < pr->p->ngroups; i++)
		free(pr->gmach[i]);
	free(pr->gmach);
	free(pr->ngmach);
	free(pr->mlast);
	free(pr->glast);
	free(pr->st);
	json_decref(pr->index);
	free(pr);
}

/* ---- formatting helpers ------------------------------------------------- */

static void fmt_dur(uint64_t ms, char *buf, size_t n)
{
	uint64_t s = ms / 1000;

	if (s >= 3600)
		snprintf(buf, n, "%uh%02um%02us", (unsigned)(s / 3600),
			 (unsigned)(s / 60 % 60), (unsigned)(s % 60));
	else if (s >= 60)
		snprintf(buf, n, "%um%02us", (unsigned)(s / 60), (unsigned)(s % 60));
	else
		snprintf(buf, n, "%u.%us", (unsigned)s, (unsigned)(ms % 1000 / 100));
}

/* "HH:MM:SS" of an RFC 3339 time, or of now (UTC). */
static void ev_time(const json_t *ev, char out[9])
{
	const char *t = sget(ev, "time");

	if (strlen(t) >= 19 && t[10] == 'T') {
		memcpy(out, t + 11, 8);
		out[8] = '\0';
	} else {
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(out, 9, "%H:%M:%S", &tm);
	}
}

/* What to show of a step in a machine's or group's row. */
static const char *short_id(const dr_progress *pr, size_t i, char *buf, size_t n)
{
	const dr_step *s = &pr->g->steps[i];
	const char *id = s->id, *phase = NULL;
	size_t l;

	if (!strncmp(id, "cleanup/", 8)) {
		phase = "cleanup";
		id += 8;
	} else if (!strncmp(id, "commit/", 7)) {
		phase = "commit";
		id += 7;
	}
	if (s->group >= 0 && pr->p->groups[s->group].name.v) {
		l = strlen(pr->p->groups[s->group].name.v);
		if (!strncmp(id, pr->p->groups[s->group].name.v, l) && id[l] == '/')
			id += l + 1;
	}
	if (s->machine >= 0 && pr->p->machines[s->machine].name.v) {
		l = strlen(pr->p->machines[s->machine].name.v);
		if (!strncmp(id, pr->p->machines[s->machine].name.v, l) && id[l] == '/')
			id += l + 1;
	}
	if (phase && strcmp(id, phase))
		snprintf(buf, n, "%s: %s", phase, id);
	else
		snprintf(buf, n, "%s", id);
	return buf;
}

/* ---- the table ---------------------------------------------------------- */

struct rows {
	dr_strbuf sb;
	unsigned n;
	unsigned cols;
};

static void row_add(struct rows *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void row_add(struct rows *r, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	len = strlen(line);
	while (len && line[len - 1] == ' ')
		line[--len] = '\0';
	/* A wrapped line would break the cursor arithmetic. */
	if (r->cols > 1 && len >= r->cols)
		line[r->cols - 1] = '\0';
	dr_strbuf_addstr(&r->sb, line);
	dr_strbuf_addch(&r->sb, '\n');
	r->n++;
}

static void step_cells(dr_progress *pr, long i, uint64_t now, char *step, size_t sn,
		       const char **state, char *el, size_t en)
{
	const struct pstep *ps;

	*state = "pending";
	step[0] = el[0] = '\0';
	if (i < 0)
		return;
	ps = &pr->st[i];
	short_id(pr, (size_t)i, step, sn);
	*state = ps->state[0] ? ps->state : "pending";
	if (ps->start_ms)
		fmt_dur((ps->end_ms ? ps->end_ms : now) - ps->start_ms, el, en);
	if (ps->attempt > 0 && strlen(step) + 12 < sn) {
		size_t l = strlen(step);

		snprintf(step + l, sn - l, " (try %u)", ps->attempt + 1);
	}
}

static bool active(const char *state)
{
	return !strcmp(state, "running") || !strcmp(state, "waiting") ||
	       !strcmp(state, "failed") || !strcmp(state, "cancelled");
}

static void build(dr_progress *pr, unsigned max_rows, unsigned cols, struct rows *r)
{
	uint64_t now = mono_ms();
	char el[32], step[160];
	const char *state;
	size_t k, gi, i, nrows = 1 + 1;
	bool collapse;

	r->cols = cols;
	fmt_dur(now - pr->started_ms, el, sizeof(el));
	row_add(r, "job %s  %s  %zu/%zu steps done  %s", pr->job[0] ? pr->job : "(starting)",
		pr->status, pr->done, pr->g->nsteps, el);
	for (gi = 0; gi < pr->p->ngroups; gi++)
		nrows += 1 + pr->ngmach[gi];
	for (i = 0; i < pr->g->nsteps; i++)
		if (pr->g->steps[i].group < 0 && pr->st[i].state[0])
			nrows++;
	collapse = max_rows && nrows > max_rows;
	row_add(r, "%-24s %-30s %-10s %s", "GROUP / MACHINE", "STEP", "STATE", "ELAPSED");
	for (k = 0; k < pr->g->ngroups; k++) {
		size_t done = 0, pend = 0, hidden = 0;

		gi = pr->g->group_order[k];
		for (i = 0; i < pr->ngmach[gi]; i++) {
			long s = pr->mlast[pr->gmach[gi][i]];

			if (s >= 0 && !strcmp(pr->st[s].state, "succeeded") &&
			    pr->st[s].order)
				done++;
		}
		step_cells(pr, pr->glast[gi], now, step, sizeof(step), &state, el, sizeof(el));
		{
			char name[64];

			snprintf(name, sizeof(name), "%s [%zu/%zu]",
				 pr->p->groups[gi].name.v ? pr->p->groups[gi].name.v : "?",
				 done, pr->ngmach[gi]);
			row_add(r, "%-24s %-30s %-10s %s", name, step, state, el);
		}
		done = 0;
		for (i = 0; i < pr->ngmach[gi]; i++) {
			size_t m = pr->gmach[gi][i];
			long s = pr->mlast[m];

			step_cells(pr, s, now, step, sizeof(step), &state, el, sizeof(el));
			if (collapse && !active(state)) {
				hidden++;
				if (!strcmp(state, "pending"))
					pend++;
				else
					done++;
				continue;
			}
			if (max_rows && r->n + 2 > max_rows) {
				hidden++;
				continue;
			}
			row_add(r, "  %-22s %-30s %-10s %s",
				pr->p->machines[m].name.v ? pr->p->machines[m].name.v : "?",
				step, state, el);
		}
		if (hidden && (!max_rows || r->n + 1 < max_rows))
			row_add(r, "  ... %zu more (%zu done, %zu pending)", hidden, done, pend);
	}
	for (i = 0; i < pr->g->nsteps; i++) {
		const dr_step *s = &pr->g->steps[i];

		if (s->group >= 0 || !pr->st[i].state[0])
			continue;
		if (max_rows && r->n >= max_rows)
			break;
		step_cells(pr, (long)i, now, step, sizeof(step), &state, el, sizeof(el));
		if (s->kind == DR_STEP_GATE && !strcmp(state, "waiting") && pr->gate_note[0])
			row_add(r, "%-24s %-30s %-10s %s", s->id, pr->gate_note, state, el);
		else
			row_add(r, "%-24s %-30s %-10s %s", s->id, "", state, el);
	}
}

static void term_size(FILE *out, unsigned *rows, unsigned *cols)
{
	struct winsize ws;

	*rows = 24;
	*cols = 100;
	if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

void dr_progress_table(dr_progress *pr, unsigned max_rows, unsigned cols, FILE *out)
{
	struct rows r = { DR_STRBUF_INIT, 0, 0 };

	build(pr, max_rows, cols, &r);
	fputs(r.sb.buf, out);
	dr_strbuf_release(&r.sb);
}

/* Move back over the table and clear it. */
static void erase(dr_progress *pr)
{
	if (pr->drawn)
		fprintf(pr->out, "\033[%uA\r\033[J", pr->drawn);
	pr->drawn = 0;
}

static void draw(dr_progress *pr)
{
	struct rows r = { DR_STRBUF_INIT, 0, 0 };
	unsigned rows, cols;
	const char *line, *nl;

	term_size(pr->out, &rows, &cols);
	build(pr, rows > 2 ? rows - 1 : rows, cols, &r);
	if (pr->drawn)
		fprintf(pr->out, "\033[%uA\r", pr->drawn);
	for (line = r.sb.buf; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		fputs("\033[2K", pr->out);
		fwrite(line, 1, (size_t)(nl - line) + 1, pr->out);
	}
	fputs("\033[J", pr->out);
	fflush(pr->out);
	pr->drawn = r.n;
	pr->dirty = false;
	pr->last_draw_ms = mono_ms();
	dr_strbuf_release(&r.sb);
}

static void timer_cb(dr_loop *loop, void *ud)
{
	dr_progress *pr = ud;

	(void)loop;
	pr->timer = NULL;
	/* Elapsed times move on their own: redraw at least once a second. */
	if (pr->dirty || mono_ms() - pr->last_draw_ms >= 1000)
		draw(pr);
	arm(pr);
}

/* ---- events ------------------------------------------------------------- */

static void emit_line(dr_progress *pr, const char *line)
{
	if (pr->mode == DR_PROGRESS_TABLE)
		erase(pr);
	fprintf(pr->out, "%s\n", line);
	if (pr->mode == DR_PROGRESS_TABLE)
		draw(pr);
	else
		fflush(pr->out);
}

void dr_progress_note(dr_progress *pr, const char *line)
{
	if (pr->mode == DR_PROGRESS_JSON)
		return;
	emit_line(pr, line);
}

static void on_step(dr_progress *pr, const json_t *ev, const char *tm, dr_strbuf *line)
{
	const char *id = sget(ev, "step"), *to = sget(ev, "to");
	const char *msg = json_string_value(json_object_get(ev, "message"));
	json_t *ix = json_object_get(pr->index, id);
	const dr_step *s;
	struct pstep *ps;
	size_t i;
	bool was_final;

	if (!json_is_integer(ix)) {
		/* A step outside the graph (a recovery point change at the
		 * gate): no row in the table, but a line. */
		if (!strcmp(to, "ready") ||
		    (pr->mode == DR_PROGRESS_TABLE && strcmp(to, "failed")))
			return;
		dr_strbuf_addf(line, "%s %s %s", tm, id, to);
		if (msg && *msg)
			dr_strbuf_addf(line, ": %s", msg);
		return;
	}
	i = (size_t)json_integer_value(ix);
	s = &pr->g->steps[i];
	ps = &pr->st[i];
	was_final = ps->state[0] && final_state(ps->state);
	snprintf(ps->state, sizeof(ps->state), "%s", to);
	ps->attempt = (unsigned)json_integer_value(json_object_get(ev, "attempt"));
	ps->order = ++pr->seq;
	if (!strcmp(to, "running") || !strcmp(to, "waiting")) {
		if (!ps->start_ms || ps->end_ms)
			ps->start_ms = mono_ms();
		ps->end_ms = 0;
	} else if (final_state(to)) {
		if (!ps->start_ms)
			ps->start_ms = mono_ms();
		ps->end_ms = mono_ms();
	}
	if (final_state(to) && !was_final)
		pr->done++;
	else if (!final_state(to) && was_final && pr->done)
		pr->done--;
	if (s->machine >= 0 && (size_t)s->machine < pr->p->nmachines)
		pr->mlast[s->machine] = (long)i;
	else if (s->group >= 0 && (size_t)s->group < pr->p->ngroups)
		pr->glast[s->group] = (long)i;
	pr->dirty = true;
	/* Lines: what a person would want in a log. */
	if (!strcmp(to, "ready") || (s->flags & DR_STEP_F_BARRIER))
		return;
	if (pr->mode == DR_PROGRESS_TABLE && strcmp(to, "failed"))
		return;
	dr_strbuf_addf(line, "%s %s %s", tm, id, to);
	if (!strcmp(to, "running"))
		dr_strbuf_addf(line, " (attempt %u)", ps->attempt + 1);
	if (msg && *msg)
		dr_strbuf_addf(line, ": %s", msg);
}

void dr_progress_event(dr_progress *pr, const json_t *ev)
{
	const char *type = sget(ev, "event");
	dr_strbuf line = DR_STRBUF_INIT;
	char tm[9];

	if (pr->mode == DR_PROGRESS_JSON) {
		char *s = json_dumps(ev, JSON_COMPACT);

		if (s) {
			fprintf(pr->out, "%s\n", s);
			fflush(pr->out);
			free(s);
		}
	}
	ev_time(ev, tm);
	if (!strcmp(type, "step-state")) {
		on_step(pr, ev, tm, &line);
	} else if (!strcmp(type, "job-started")) {
		snprintf(pr->job, sizeof(pr->job), "%s", sget(ev, "job"));
		strcpy(pr->status, "running");
		dr_strbuf_addf(&line, "%s job %s %s: %s of plan %s, %lld steps", tm,
			       sget(ev, "job"),
			       json_is_true(json_object_get(ev, "resumed")) ? "resumed" : "started",
			       sget(ev, "operation"), sget(ev, "plan"),
			       (long long)json_integer_value(json_object_get(ev, "steps")));
	} else if (!strcmp(type, "gate-waiting")) {
		long long need = json_integer_value(json_object_get(ev, "approvals"));
		long long got = json_integer_value(json_object_get(ev, "approved"));

		strcpy(pr->status, "waiting");
		snprintf(pr->gate_note, sizeof(pr->gate_note), "%lld of %lld approvals", got, need);
		dr_strbuf_addf(&line, "%s %s waits for approval (%lld of %lld): "
			       "drplan job approve %s --gate %s", tm, sget(ev, "step"),
			       got, need, pr->job, sget(ev, "gate"));
	} else if (!strcmp(type, "manual-waiting")) {
		strcpy(pr->status, "waiting");
		dr_strbuf_addf(&line, "%s %s waits for a person: %s\n"
			       "         when it is done: drplan job continue %s %s", tm,
			       sget(ev, "step"), sget(ev, "instruction"), pr->job,
			       sget(ev, "step"));
	} else if (!strcmp(type, "point-of-no-return")) {
		dr_strbuf_addf(&line, "%s POINT OF NO RETURN at %s: %s", tm,
			       sget(ev, "step"), sget(ev, "message"));
	} else if (!strcmp(type, "warning")) {
		dr_strbuf_addf(&line, "%s warning: ", tm);
		if (json_object_get(ev, "step"))
			dr_strbuf_addf(&line, "%s: ", sget(ev, "step"));
		dr_strbuf_addstr(&line, sget(ev, "message"));
	} else if (!strcmp(type, "cancel-waiting")) {
		dr_strbuf_addf(&line, "%s %s: %s", tm, sget(ev, "step"), sget(ev, "message"));
	} else if (!strcmp(type, "control")) {
		json_t *rq = json_object_get(ev, "request");
		const char *what = json_is_object(rq) ? sget(rq, "action") : sget(ev, "request");

		dr_strbuf_addf(&line, "%s request %s %s", tm, what, sget(ev, "result"));
		if (*sget(ev, "message"))
			dr_strbuf_addf(&line, ": %s", sget(ev, "message"));
		if (!strcmp(sget(ev, "result"), "accepted") && strcmp(pr->status, "finished"))
			strcpy(pr->status, "running");
	} else if (!strcmp(type, "notification")) {
		dr_strbuf_addf(&line, "%s %s", tm, sget(ev, "message"));
	} else if (!strcmp(type, "job-detached")) {
		strcpy(pr->status, "detached");
		dr_strbuf_addf(&line, "%s detached: %s", tm, sget(ev, "message"));
	} else if (!strcmp(type, "job-finished")) {
		snprintf(pr->status, sizeof(pr->status), "%s", sget(ev, "status"));
		dr_strbuf_addf(&line, "%s job %s %s", tm, pr->job, sget(ev, "status"));
		if (*sget(ev, "message"))
			dr_strbuf_addf(&line, ": %s", sget(ev, "message"));
	} else {
		dr_strbuf_addf(&line, "%s %s", tm, type);
	}
	pr->dirty = true;
	if (pr->mode != DR_PROGRESS_JSON && line.len)
		emit_line(pr, line.buf);
	dr_strbuf_release(&line);
}

void dr_progress_on_event(void *ctx, const json_t *ev)
{
	dr_progress_event(ctx, ev);
}

void dr_progress_finish(dr_progress *pr)
{
	if (pr->timer) {
		dr_loop_timer_cancel(pr->loop, pr->timer);
		pr->timer = NULL;
	}
	if (pr->mode == DR_PROGRESS_TABLE)
		draw(pr);
}
