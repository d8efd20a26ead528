/*
 * bench-journal - how fast the journal is.
 *
 *   bench-journal [dir]     (default: a new directory under $TMPDIR or /tmp)
 *
 * Prints durable appends per second (each fsynced, so this measures the
 * disk: tmpfs makes fsync free) and replay speed for a 1,000-machine job,
 * about 10,000 records.
 */
#define _GNU_SOURCE
#include "core/error.h"
#include "core/strbuf.h"
#include "journal/journal.h"
#include "journal/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define TMPFS_MAGIC_ 0x01021994

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count(void *ctx, uint64_t seq, const char *type, json_t *rec)
{
	(*(uint64_t *)ctx)++;
	return 0;
}

/* A record like the executor writes for one machine's step change. */
static json_t *machine_record(int i)
{
	char vm[64];

	snprintf(vm, sizeof(vm), "vm-erp-app-%04d", i % 1000);
	return json_pack("{s:s,s:s,s:s,s:s,s:s}", "step", "failover", "machine", vm,
			 "from", "running", "to", "waiting",
			 "operation_id", "6f1c2e8a-4b3d-4c5e-9a7b-0123456789ab");
}

int main(int argc, char **argv)
{
	char tmpl[256];
	const char *dir;
	dr_store *s = NULL;
	dr_journal *j = NULL;
	struct statfs sfs;

	if (argc > 1) {
		dir = argv[1];
	} else {
		const char *t = getenv("TMPDIR");
		snprintf(tmpl, sizeof(tmpl), "%s/drplan-bench-XXXXXX", t && *t ? t : "/tmp");
		if (!mkdtemp(tmpl)) {
			perror("mkdtemp");
			return 1;
		}
		dir = tmpl;
	}
	if (dr_store_open(dir, DR_STORE_CREATE, &s)) {
		fprintf(stderr, "bench-journal: %s\n", dr_error_msg());
		return 1;
	}
	if (statfs(dir, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC_)
		printf("note: %s is on tmpfs, where fsync costs nothing\n", dir);

	/* 1. Durable appends. */
	char id[DR_JOB_ID_MAX + 1];
	dr_job_id_new("bench", "append", id, sizeof(id));
	if (dr_journal_create(s, id, NULL, &j)) {
		fprintf(stderr, "bench-journal: %s\n", dr_error_msg());
		return 1;
	}
	int n = 1000;
	double t0 = now();
	for (int i = 0; i < n; i++) {
		if (dr_journal_append_new(j, "step", machine_record(i), NULL)) {
			fprintf(stderr, "bench-journal: %s\n", dr_error_msg());
			return 1;
		}
	}
	double dt = now() - t0;
	dr_journal_close(j);
	printf("append (fsync each): %d records in %.3f s = %.0f records/s, %.3f ms each\n",
	       n, dt, n / dt, dt * 1000 / n);

	/* 2. Replay of a 1,000-machine job: ~10,000 records, written in one go. */
	dr_job_id_new("bench", "replay", id, sizeof(id));
	dr_strbuf key = DR_STRBUF_INIT, buf = DR_STRBUF_INIT;
	dr_journal_key(id, &key);
	json_t *hdr = json_pack("{s:I,s:s,s:s,s:s}", "seq", (json_int_t)1, "type", "job",
				"time", "2026-11-25T13:03:55.123Z", "plan", "bench");
	dr_journal_format(1, hdr, &buf);
	json_decref(hdr);
	int records = 10000;
	for (int i = 2; i <= records; i++) {
		json_t *r = json_pack("{s:I,s:s,s:s}", "seq", (json_int_t)i, "type", "step",
				      "time", "2026-11-25T13:03:55.123Z");
		json_t *f = machine_record(i);
		json_object_update(r, f);
		json_decref(f);
		dr_journal_format((uint64_t)i, r, &buf);
		json_decref(r);
	}
	if (dr_store_append(s, key.buf, buf.buf, buf.len, 0)) {
		fprintf(stderr, "bench-journal: %s\n", dr_error_msg());
		return 1;
	}
	int rounds = 5;
	uint64_t seen = 0;
	dr_journal_replay_info info;
	t0 = now();
	for (int r = 0; r < rounds; r++) {
		if (dr_journal_replay(s, id, count, &seen, &info)) {
			fprintf(stderr, "bench-journal: %s\n", dr_error_msg());
			return 1;
		}
	}
	dt = (now() - t0) / rounds;
	printf("replay: %llu records (%.1f MiB) in %.1f ms = %.0f records/s, %.0f MiB/s\n",
	       (unsigned long long)info.records, buf.len / 1048576.0, dt * 1000,
	       info.records / dt, buf.len / 1048576.0 / dt);
	dr_strbuf_release(&key);
	dr_strbuf_release(&buf);
	dr_store_free(s);
	if (argc <= 1) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench-journal: could not remove %s\n", dir);
	}
	return 0;
}
