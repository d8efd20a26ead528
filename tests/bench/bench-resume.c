/*
 * bench-resume - a real job's journal on a state store: appends and resume.
 *
 *   bench-resume SRC-STATE JOB-ID [APPENDS] SPEC...
 *
 * Copies job JOB-ID's journal from the store SRC-STATE (a drill of a
 * 1,000-machine plan: tests/bench/run-resume.sh makes one) to each store
 * SPEC (a directory or azblob://), the first APPENDS records (default
 * 1,000) one durable append each, as a runner writes them, the rest in one
 * append. Prints appends per second, then the time of what a resume or
 * `drplan job show` does first: read the journal and replay it into the
 * job's status (dr_job_status()), the mean of 5 rounds.
 */
#define _GNU_SOURCE
#include "core/error.h"
#include "core/strbuf.h"
#include "exec/job.h"
#include "journal/journal.h"
#include "journal/store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what)
{
	fprintf(stderr, "bench-resume: %s: %s\n", what, dr_error_msg());
	return 1;
}

static int bench(const char *spec, const char *id, const dr_strbuf *jr, size_t appends)
{
	dr_store *s = NULL;
	dr_strbuf key = DR_STRBUF_INIT;
	size_t off = 0, lines = 0, total = 0;
	json_t *st = NULL;
	double t0, dt;
	int rounds = 5;

	if (dr_store_open(spec, DR_STORE_CREATE, &s))
		return die(spec);
	dr_journal_key(id, &key);
	(void)dr_store_remove(s, key.buf);
	for (size_t i = 0; i < jr->len; i++)
		total += jr->buf[i] == '\n';
	t0 = now();
	while (off < jr->len && lines < appends) {
		const char *nl = memchr(jr->buf + off, '\n', jr->len - off);
		size_t len = nl ? (size_t)(nl - (jr->buf + off)) + 1 : jr->len - off;

		if (dr_store_append(s, key.buf, jr->buf + off, len, off))
			return die("append");
		off += len;
		lines++;
	}
	dt = now() - t0;
	printf("%s\n  append: %zu records one by one in %.2f s = %.0f appends/s, %.2f ms each\n",
	       spec, lines, dt, lines / dt, dt * 1000 / (double)lines);
	if (off < jr->len && dr_store_append(s, key.buf, jr->buf + off, jr->len - off, off))
		return die("append the rest");
	t0 = now();
	for (int r = 0; r < rounds; r++) {
		json_decref(st);
		st = NULL;
		if (dr_job_status(s, id, &st))
			return die("status");
	}
	dt = (now() - t0) / rounds;
	printf("  resume (read + replay + status): %zu records (%.2f MiB), %d steps, "
	       "status %s: %.0f ms\n", total, jr->len / 1048576.0,
	       (int)json_integer_value(json_object_get(st, "steps_total")),
	       json_string_value(json_object_get(st, "status")), dt * 1000);
	json_decref(st);
	dr_strbuf_release(&key);
	dr_store_free(s);
	return 0;
}

int main(int argc, char **argv)
{
	dr_store *src = NULL;
	dr_strbuf key = DR_STRBUF_INIT, jr = DR_STRBUF_INIT;
	size_t appends = 1000;
	int a = 3, rc = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: bench-resume SRC-STATE JOB-ID [APPENDS] SPEC...\n");
		return 2;
	}
	if (argv[3][0] >= '0' && argv[3][0] <= '9') {
		appends = strtoul(argv[3], NULL, 10);
		a = 4;
	}
	if (dr_store_open(argv[1], 0, &src))
		return die(argv[1]);
	dr_journal_key(argv[2], &key);
	if (dr_store_get(src, key.buf, &jr, NULL))
		return die(key.buf);
	for (; a < argc && !rc; a++)
		rc = bench(argv[a], argv[2], &jr, appends);
	dr_strbuf_release(&key);
	dr_strbuf_release(&jr);
	dr_store_free(src);
	return rc;
}
