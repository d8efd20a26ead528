/*
 * test-journal.c - journals over the state store interface. Tests run
 * against whichever store $DRPLAN_TEST_STORE names (teststore.h), except
 * those that crash the directory store's file layer (DR_TEST_DIR_ONLY).
 */
#include "teststore.h"

#include "core/error.h"
#include "core/strbuf.h"
#include "journal/crc32c.h"
#include "journal/fileio_crash.h"
#include "journal/journal.h"
#include "journal/store.h"
#include "journal/store_impl.h"
#include "test.h"

#include <inttypes.h>
#include <stdbool.h>
#include <sys/wait.h>

TEST(crc32c_vectors)
{
	unsigned char zeros[32] = { 0 }, ones[32];
	const char *s = "123456789";

	memset(ones, 0xff, sizeof(ones));
	CHECK_INT(dr_crc32c(0, s, 9), 0xE3069283u);
	CHECK_INT(dr_crc32c(0, zeros, 32), 0x8A9136AAu);
	CHECK_INT(dr_crc32c(0, ones, 32), 0x62A8AB43u); /* RFC 3720 B.4 */
	CHECK_INT(dr_crc32c(0, "", 0), 0);
	/* Chaining at every split gives the same result (covers the 8-byte loop). */
	char buf[100];
	for (int i = 0; i < 100; i++)
		buf[i] = (char)(i * 7 + 3);
	uint32_t whole = dr_crc32c(0, buf, 100);
	int bad = 0;
	for (size_t k = 0; k <= 100; k++)
		bad += dr_crc32c(dr_crc32c(0, buf, k), buf + k, 100 - k) != whole;
	CHECK_INT(bad, 0);
}

TEST(format)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	json_t *rec = json_pack("{s:i,s:s,s:i}", "seq", 7, "type", "x", "a", 1);

	CHECK_INT(dr_journal_format(7, rec, &sb), 0);
	CHECK_STR(sb.buf, "7 d2f93aa9 {\"seq\":7,\"type\":\"x\",\"a\":1}\n");
	json_decref(rec);
	dr_strbuf_release(&sb);
}

TEST(job_ids)
{
	char id[DR_JOB_ID_MAX + 1];

	CHECK_INT(dr_job_id_new("erp", "failover", id, sizeof(id)), 0);
	/* erp-failover-YYYYMMDDTHHMMSSZ-xxxx */
	CHECK_INT(strlen(id), 34);
	CHECK(!strncmp(id, "erp-failover-20", 15));
	CHECK(id[21] == 'T' && id[28] == 'Z' && id[29] == '-');
	CHECK(dr_job_id_valid(id));
	CHECK_INT(dr_job_id_new("my plan/../x", "fail over", id, sizeof(id)), 0);
	CHECK(!strncmp(id, "my-plan----x-fail-over-", 23));
	CHECK(dr_job_id_valid(id));
	CHECK_INT(dr_job_id_new("erp", "failover", id, 20), DR_ELIMIT);
	CHECK_INT(dr_job_id_new("", "failover", id, sizeof(id)), DR_EINVAL);
	/* Two ids in the same second differ (16 random bits; retry once on a clash). */
	char a[64], b[64];
	dr_job_id_new("p", "o", a, sizeof(a));
	dr_job_id_new("p", "o", b, sizeof(b));
	if (!strcmp(a, b))
		dr_job_id_new("p", "o", b, sizeof(b));
	CHECK(strcmp(a, b) != 0);

	CHECK(dr_job_id_valid("erp-failover-20261125T130355Z-3f2a"));
	CHECK(dr_job_id_valid("a"));
	CHECK(dr_job_id_valid("a.b_c-D"));
	CHECK(!dr_job_id_valid(NULL));
	CHECK(!dr_job_id_valid(""));
	CHECK(!dr_job_id_valid(".."));
	CHECK(!dr_job_id_valid("a/b"));
	CHECK(!dr_job_id_valid("../etc"));
	CHECK(!dr_job_id_valid("a..b"));
	CHECK(!dr_job_id_valid(".hidden"));
	CHECK(!dr_job_id_valid("-rf"));
	CHECK(!dr_job_id_valid("a b"));
	CHECK(!dr_job_id_valid("a\nb"));
	char big[DR_JOB_ID_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(!dr_job_id_valid(big));
	big[DR_JOB_ID_MAX] = '\0';
	CHECK(dr_job_id_valid(big));
}

/* Replay callback: one line "seq type json" per record. */
static int dump(void *ctx, uint64_t seq, const char *type, json_t *rec)
{
	dr_strbuf *sb = ctx;
	char *j = json_dumps(rec, JSON_COMPACT);

	dr_strbuf_addf(sb, "%" PRIu64 " %s %s\n", seq, type, j);
	free(j);
	return 0;
}

/*
 * Replace every "time":"<RFC 3339 ms>" value with a fixed string; returns the
 * number of malformed times.
 */
static int mask_times(char *p)
{
	int bad = 0;

	while ((p = strstr(p, "\"time\":\"")) != NULL) {
		p += 8;
		if (!(strlen(p) > 24 && p[4] == '-' && p[10] == 'T' && p[19] == '.' &&
		      p[23] == 'Z' && p[24] == '"'))
			bad++;
		else
			memcpy(p, "YYYY-MM-DDTHH:MM:SS.mmmZ", 24);
	}
	return bad;
}

/* A directory store on the crashing file layer c (dir-only tests). */
static dr_store *open_crash_store(char **dir, dr_crashio *c)
{
	dr_store *s = NULL;

	*dir = testdir_new();
	if (dr_store_dir_open(*dir, dr_crashio_fileio(c), 0, &s))
		fprintf(stderr, "open: %s\n", dr_error_msg());
	return s;
}

/* The test store (teststore.h). */
static dr_store *open_store(const char *name)
{
	dr_store *s = NULL;

	dr_test_store_open(name, &s);
	return s;
}

/* The bytes of job's journal, through the store (caller frees). */
static char *journal_bytes(dr_store *s, const char *job, size_t *len)
{
	dr_strbuf key = DR_STRBUF_INIT, out = DR_STRBUF_INIT;
	char *raw;

	dr_journal_key(job, &key);
	if (dr_store_read(s, key.buf, &out))
		fprintf(stderr, "read %s: %s\n", key.buf, dr_error_msg());
	raw = dr_strbuf_detach(&out, len);
	dr_strbuf_release(&key);
	return raw;
}

TEST(round_trip)
{
	dr_store *s = open_store("round-trip");
	dr_journal *j = NULL;
	dr_strbuf out = DR_STRBUF_INIT;
	dr_journal_replay_info info;
	uint64_t seq = 0;
	json_t *hdr = json_pack("{s:s,s:s,s:s,s:s,s:i}", "plan", "erp", "plan_digest",
				"sha256:ab", "operation", "failover", "host", "runner1",
				"pid", 4321);

	CHECK_INT(dr_journal_create(s, "job1", hdr, &j), 0);
	CHECK_INT(dr_journal_last_seq(j), 1);
	CHECK_STR(dr_journal_job_id(j), "job1");
	CHECK_INT(dr_journal_append_new(j, "step", json_pack("{s:s,s:s}", "step", "db",
							       "state", "running"), &seq), 0);
	CHECK_INT(seq, 2);
	json_t *f = json_pack("{s:s,s:[i,i]}", "z", "last", "a", 1, 2);
	CHECK_INT(dr_journal_append(j, "intent", f, &seq), 0);
	CHECK_INT(seq, 3);
	CHECK_INT(json_object_size(f), 2); /* borrowed: untouched */
	json_decref(f);
	CHECK_INT(dr_journal_append(j, "note", NULL, &seq), 0);
	CHECK_INT(seq, 4);

	/* Reserved names and bad types are refused and do not poison. */
	CHECK_INT(dr_journal_append_new(j, "x", json_pack("{s:i}", "seq", 9), NULL), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "journal record field 'seq' is reserved");
	CHECK_INT(dr_journal_append(j, "", NULL, NULL), DR_EINVAL);
	f = json_pack("[i]", 1);
	CHECK_INT(dr_journal_append(j, "x", f, NULL), DR_EINVAL);
	json_decref(f);
	CHECK_INT(dr_journal_append(j, "done", NULL, &seq), 0);
	CHECK_INT(seq, 5);
	dr_journal_close(j);

	CHECK_INT(dr_journal_replay(s, "job1", dump, &out, &info), 0);
	CHECK_INT(info.records, 5);
	CHECK_INT(info.last_seq, 5);
	CHECK_INT(info.torn, 0);
	CHECK_INT(info.good_size, info.total_size);

	/* Replace the times (they vary) and pin everything else. */
	CHECK_INT(mask_times(out.buf), 0);
	char want[1024];
	snprintf(want, sizeof(want),
		 "1 job {\"seq\":1,\"type\":\"job\",\"time\":\"YYYY-MM-DDTHH:MM:SS.mmmZ\","
		 "\"job\":\"job1\",\"plan\":\"erp\",\"plan_digest\":\"sha256:ab\","
		 "\"operation\":\"failover\",\"host\":\"runner1\",\"pid\":4321,"
		 "\"drplan_version\":\"%s\"}\n"
		 "2 step {\"seq\":2,\"type\":\"step\",\"time\":\"YYYY-MM-DDTHH:MM:SS.mmmZ\","
		 "\"step\":\"db\",\"state\":\"running\"}\n"
		 "3 intent {\"seq\":3,\"type\":\"intent\",\"time\":\"YYYY-MM-DDTHH:MM:SS.mmmZ\","
		 "\"z\":\"last\",\"a\":[1,2]}\n"
		 "4 note {\"seq\":4,\"type\":\"note\",\"time\":\"YYYY-MM-DDTHH:MM:SS.mmmZ\"}\n"
		 "5 done {\"seq\":5,\"type\":\"done\",\"time\":\"YYYY-MM-DDTHH:MM:SS.mmmZ\"}\n",
		 DR_VERSION);
	CHECK_STR(out.buf, want);

	/* The object reads as text, one record a line. */
	size_t len;
	char *raw = journal_bytes(s, "job1", &len);
	CHECK_INT(len, info.total_size);
	CHECK(!strncmp(raw, "1 ", 2) && raw[10] == ' ' && raw[11] == '{');
	free(raw);

	/* Reopen and continue. */
	CHECK_INT(dr_journal_open(s, "job1", 0, &j, &info), 0);
	CHECK_INT(dr_journal_last_seq(j), 5);
	CHECK_INT(dr_journal_append(j, "resumed", NULL, &seq), 0);
	CHECK_INT(seq, 6);
	dr_journal_close(j);

	/* A job id is created once. */
	CHECK_INT(dr_journal_create(s, "job1", NULL, &j), DR_ECONFLICT);
	char msg[512];
	snprintf(msg, sizeof(msg), "job job1 already exists in state store %s",
		 dr_store_spec(s));
	CHECK_STR(dr_error_msg(), msg);
	CHECK_INT(dr_journal_create(s, "../x", NULL, &j), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "invalid job id '../x'");
	CHECK_INT(dr_journal_open(s, "nojob", 0, &j, NULL), DR_ENOTFOUND);
	snprintf(msg, sizeof(msg), "job nojob: no journal in state store %s", dr_store_spec(s));
	CHECK_STR(dr_error_msg(), msg);
	CHECK_INT(dr_journal_replay(s, "a/b", NULL, NULL, NULL), DR_EINVAL);

	json_decref(hdr);
	dr_strbuf_release(&out);
	dr_test_store_free(s);
}

TEST(two_writers)
{
	dr_store *s = open_store("two-writers");
	dr_journal *a = NULL, *b = NULL;
	dr_journal_replay_info info;

	CHECK_INT(dr_journal_create(s, "j", NULL, &a), 0);
	CHECK_INT(dr_journal_open(s, "j", 0, &b, NULL), 0);
	CHECK_INT(dr_journal_append(a, "a", NULL, NULL), 0);
	/* b's idea of the end is stale: refused, nothing interleaved. */
	CHECK_INT(dr_journal_append(b, "b", NULL, NULL), DR_ECONFLICT);
	CHECK_INT(dr_journal_append(b, "b", NULL, NULL), DR_EIO);
	CHECK_STR(dr_error_msg(), "journal jobs/j/journal: an earlier append failed; "
				  "reopen the journal to continue");
	CHECK_INT(dr_journal_append(a, "a", NULL, NULL), 0);
	CHECK_INT(dr_journal_replay(s, "j", NULL, NULL, &info), 0);
	CHECK_INT(info.records, 3);
	CHECK_INT(info.torn, 0);
	dr_journal_close(a);
	dr_journal_close(b);
	dr_test_store_free(s);
}

/* Build a journal "job" of a header and n records; return the durable size. */
static uint64_t build(dr_store *s, const char *job, int n, dr_journal **out)
{
	dr_journal *j = NULL;

	if (dr_journal_create(s, job, NULL, &j))
		fprintf(stderr, "create: %s\n", dr_error_msg());
	for (int i = 0; i < n; i++)
		dr_journal_append_new(j, "step", json_pack("{s:i,s:s}", "i", i, "machine",
							   "vm-with-a-long-name-01"), NULL);
	*out = j;
	uint64_t size = 0;
	char key[256];
	snprintf(key, sizeof(key), "jobs/%s/journal", job);
	dr_store_size(s, key, &size);
	return size;
}

/*
 * A kill -9 at every byte of the last record: replay returns all earlier
 * records exactly and reports the partial line as a torn tail. Power loss
 * at the same points drops the unsynced bytes: no tail at all.
 */
TEST(torn_tail_every_offset)
{
	DR_TEST_DIR_ONLY("kill -9 and power loss through the dr_fileio crash layer");
	dr_crashio *c = dr_crashio_new();
	char *dir;
	dr_store *s = open_crash_store(&dir, c);
	dr_strbuf base = DR_STRBUF_INIT, out = DR_STRBUF_INIT;
	dr_journal_replay_info info;
	dr_journal *j;
	int bad = 0, runs = 0;

	/* The reference: 6 good records and the size of the last one. */
	uint64_t size = build(s, "ref", 5, &j);
	dr_journal_close(j);
	CHECK_INT(dr_journal_replay(s, "ref", dump, &base, &info), 0);
	mask_times(base.buf);
	CHECK_INT(info.records, 6);
	/* A record like the ones appended below. */
	uint64_t last_len;
	{
		dr_journal *r;
		dr_journal_open(s, "ref", 0, &r, NULL);
		dr_journal_append_new(r, "intent", json_pack("{s:s}", "op", "failover"), NULL);
		dr_journal_close(r);
		uint64_t n;
		dr_store_size(s, "jobs/ref/journal", &n);
		last_len = n - size;
	}
	CHECK(last_len > 60);

	for (int mode = 0; mode < 2; mode++) {
		for (uint64_t k = 0; k <= last_len; k++) {
			char job[32];
			snprintf(job, sizeof(job), "t%d-%" PRIu64, mode, k);
			uint64_t good = build(s, job, 5, &j);
			dr_crashio_crash_after(c, (long long)k);
			int rc = dr_journal_append_new(j, "intent",
						       json_pack("{s:s}", "op", "failover"), NULL);
			dr_journal_close(j);
			dr_crashio_crash(c, mode ? DR_CRASH_POWER : DR_CRASH_KILL);
			runs++;
			if (k < last_len && rc != DR_EIO)
				bad++;
			dr_strbuf_reset(&out);
			rc = dr_journal_replay(s, job, dump, &out, &info);
			if (rc) {
				fprintf(stderr, "k=%" PRIu64 ": %s\n", k, dr_error_msg());
				bad++;
				continue;
			}
			/* Same records as the reference, except the job id and times. */
			int whole = k == last_len;
			uint64_t want_records = 6 + (uint64_t)whole;
			uint64_t want_torn = mode == 0 && k > 0 && !whole ? k : 0;
			if (info.records != want_records || info.good_size != good + (whole ? last_len : 0) ||
			    (uint64_t)info.torn != (want_torn > 0) || info.torn_bytes != want_torn ||
			    (want_torn && (info.torn_offset != good ||
					   strcmp(info.torn_reason, "no newline at end")))) {
				fprintf(stderr, "mode %d k=%" PRIu64 ": records %" PRIu64 " torn %d "
					"bytes %" PRIu64 " reason %s\n", mode, k, info.records,
					info.torn, info.torn_bytes, info.torn_reason);
				bad++;
			}
			/* Records 2..6 are exactly the reference's, but for times. */
			mask_times(out.buf);
			const char *a = strstr(out.buf, "\n2 step"), *b = strstr(base.buf, "\n2 step");
			if (!a || !b || strncmp(a, b, strlen(b)) ||
			    (a[strlen(b)] && strncmp(a + strlen(b), "7 intent", 8)))
				bad++;
		}
	}
	CHECK_INT(bad, 0);
	CHECK_INT(runs, 2 * (int)(last_len + 1));

	/* The torn journal from a kill: open refuses until told to cut the tail. */
	char job[32];
	snprintf(job, sizeof(job), "t0-%d", 17);
	CHECK_INT(dr_journal_open(s, job, 0, &j, &info), DR_EINVAL);
	char msg[256];
	snprintf(msg, sizeof(msg), "journal jobs/%s/journal: torn tail of 17 bytes at byte "
		 "%" PRIu64 " (no newline at end); it must be dropped before appending",
		 job, info.good_size);
	CHECK_STR(dr_error_msg(), msg);
	CHECK_INT(info.torn, 1);
	CHECK_INT(dr_journal_open(s, job, DR_JOURNAL_TRUNCATE_TAIL, &j, &info), 0);
	uint64_t seq = 0;
	CHECK_INT(dr_journal_append(j, "resumed", NULL, &seq), 0);
	CHECK_INT(seq, 7);
	dr_journal_close(j);
	CHECK_INT(dr_journal_replay(s, job, NULL, NULL, &info), 0);
	CHECK_INT(info.records, 7);
	CHECK_INT(info.torn, 0);

	/* A crash during the truncation itself: either size replays fine. */
	snprintf(job, sizeof(job), "t0-%d", 30);
	dr_crashio_fail_fsync(c, 0, 1);
	CHECK_INT(dr_journal_open(s, job, DR_JOURNAL_TRUNCATE_TAIL, &j, &info), DR_EIO);
	dr_crashio_crash(c, DR_CRASH_POWER);
	CHECK_INT(dr_journal_replay(s, job, NULL, NULL, &info), 0);
	CHECK_INT(info.records, 6);

	dr_strbuf_release(&base);
	dr_strbuf_release(&out);
	dr_store_free(s);
	dr_crashio_free(c);
	testdir_free(dir);
}

/*
 * Flip one bit at byte off of job's journal and store the result as the
 * journal of job dst: through the store, so any store can hold damage.
 */
static void flip(dr_store *s, const char *job, const char *dst, size_t off)
{
	dr_strbuf key = DR_STRBUF_INIT;
	size_t len;
	char *raw = journal_bytes(s, job, &len);

	raw[off] ^= 0x04;
	dr_journal_key(dst, &key);
	dr_store_remove(s, key.buf);
	if (dr_store_append(s, key.buf, raw, len, 0))
		fprintf(stderr, "append %s: %s\n", key.buf, dr_error_msg());
	dr_strbuf_release(&key);
	free(raw);
}

/* Byte offset where record seq starts in job's journal. */
static size_t record_offset(dr_store *s, const char *job, int seq)
{
	size_t len, off = 0;
	char *raw = journal_bytes(s, job, &len);

	for (int i = 1; i < seq; i++)
		off = (size_t)(strchr(raw + off, '\n') - raw) + 1;
	free(raw);
	return off;
}

TEST(corruption)
{
	dr_store *s = open_store("corruption");
	dr_journal *j;
	dr_journal_replay_info info;
	dr_strbuf out = DR_STRBUF_INIT;
	char msg[256];

	uint64_t size = build(s, "mid", 5, &j);
	dr_journal_close(j);
	size_t off3 = record_offset(s, "mid", 3), off4 = record_offset(s, "mid", 4);
	flip(s, "mid", "mid", off3 + 30);
	CHECK_INT(dr_journal_replay(s, "mid", dump, &out, &info), DR_EINVAL);
	snprintf(msg, sizeof(msg), "journal jobs/mid/journal: record 3 at byte %zu: checksum "
		 "mismatch (%zu more bytes follow)", off3, (size_t)size - off4);
	CHECK_STR(dr_error_msg(), msg);
	/* Records before the damage were delivered; none after it. */
	CHECK(strstr(out.buf, "\n2 step") != NULL);
	CHECK(strstr(out.buf, "\n3 ") == NULL);
	CHECK_INT(dr_journal_open(s, "mid", DR_JOURNAL_TRUNCATE_TAIL, &j, NULL), DR_EINVAL);

	/* Damage in the framing (the seq digits) of a middle record. */
	build(s, "frame", 5, &j);
	dr_journal_close(j);
	size_t off2 = record_offset(s, "frame", 2);
	flip(s, "frame", "frame", off2);  /* '2' -> '6' */
	CHECK_INT(dr_journal_replay(s, "frame", NULL, NULL, &info), DR_EINVAL);
	CHECK(strstr(dr_error_msg(), "record 2 at byte") != NULL);
	CHECK(strstr(dr_error_msg(), ": checksum mismatch") != NULL);

	/* A flipped bit in the last record: a corrupt tail, earlier records fine. */
	size = build(s, "last", 5, &j);
	dr_journal_close(j);
	size_t off6 = record_offset(s, "last", 6);
	flip(s, "last", "last", off6 + 40);
	CHECK_INT(dr_journal_replay(s, "last", NULL, NULL, &info), 0);
	CHECK_INT(info.records, 5);
	CHECK_INT(info.torn, 1);
	CHECK_INT(info.torn_offset, off6);
	CHECK_INT(info.torn_bytes, size - off6);
	CHECK_STR(info.torn_reason, "checksum mismatch");

	dr_strbuf_release(&out);
	dr_test_store_free(s);
}

static int count(void *ctx, uint64_t seq, const char *type, json_t *rec)
{
	(*(int *)ctx)++;
	return 0;
}

static int stop_first(void *ctx, uint64_t seq, const char *type, json_t *rec)
{
	return 5;
}

TEST(replay_buf_rules)
{
	dr_journal_replay_info info;
	dr_strbuf sb = DR_STRBUF_INIT;
	int n = 0;

	CHECK_INT(dr_journal_replay_buf("x", "", 0, count, &n, &info), 0);
	CHECK_INT(info.records, 0);
	CHECK_INT(info.torn, 0);

	json_t *r1 = json_pack("{s:i,s:s}", "seq", 1, "type", "job");
	json_t *r2 = json_pack("{s:i,s:s}", "seq", 2, "type", "a");
	json_t *r3 = json_pack("{s:i,s:s}", "seq", 3, "type", "a");
	dr_journal_format(1, r1, &sb);
	dr_journal_format(3, r3, &sb);
	/* A well-checksummed record out of sequence is corruption, even last. */
	CHECK_INT(dr_journal_replay_buf("x", sb.buf, sb.len, count, &n, &info), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "journal x: record 2 at byte 34: sequence number 3, "
				  "expected 2 (0 more bytes follow)");
	CHECK_INT(n, 1);

	/* The first record must be the job header. */
	dr_strbuf_reset(&sb);
	json_t *r1a = json_pack("{s:i,s:s}", "seq", 1, "type", "a");
	dr_journal_format(1, r1a, &sb);
	json_decref(r1a);
	CHECK_INT(dr_journal_replay_buf("x", sb.buf, sb.len, NULL, NULL, &info), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "journal x: record 1 at byte 0: first record has type 'a', "
				  "not 'job' (0 more bytes follow)");

	/* Valid checksum over text that is not JSON: corruption, not a tear. */
	dr_strbuf_reset(&sb);
	dr_journal_format(1, r1, &sb);
	const char *bad = "{\"seq\":2,";
	uint32_t crc = dr_crc32c(dr_crc32c(0, "2 ", 2), bad, strlen(bad));
	dr_strbuf_addf(&sb, "2 %08x %s\n", crc, bad);
	CHECK_INT(dr_journal_replay_buf("x", sb.buf, sb.len, NULL, NULL, &info), DR_EINVAL);
	CHECK(strstr(dr_error_msg(), "journal x: record 2 at byte 34: bad JSON: ") != NULL);

	/* A leading zero or an upper-case checksum is bad framing. */
	dr_strbuf_reset(&sb);
	dr_journal_format(1, r1, &sb);
	dr_strbuf_addstr(&sb, "02 00000000 {}\n");
	CHECK_INT(dr_journal_replay_buf("x", sb.buf, sb.len, NULL, NULL, &info), 0);
	CHECK_INT(info.torn, 1);
	CHECK_STR(info.torn_reason, "bad framing (sequence number)");

	/* Zeros where the tail should be (a crash after the size grew). */
	dr_strbuf_reset(&sb);
	dr_journal_format(1, r1, &sb);
	size_t good = sb.len;
	dr_strbuf_add(&sb, "\0\0\0\0\0\0\0\0", 8);
	CHECK_INT(dr_journal_replay_buf("x", sb.buf, sb.len, NULL, NULL, &info), 0);
	CHECK_INT(info.records, 1);
	CHECK_INT(info.torn, 1);
	CHECK_INT(info.torn_offset, good);
	CHECK_INT(info.torn_bytes, 8);

	/* A callback's non-zero return stops replay and comes back. */
	dr_strbuf_reset(&sb);
	dr_journal_format(1, r1, &sb);
	dr_journal_format(2, r2, &sb);
	CHECK_INT(dr_journal_replay_buf("x", sb.buf, sb.len, NULL, NULL, &info), 0);
	CHECK_INT(info.records, 2);
	CHECK_INT(dr_journal_replay_buf("x", sb.buf, sb.len, stop_first, NULL, &info), 5);
	CHECK_INT(info.records, 1);

	json_decref(r1);
	json_decref(r2);
	json_decref(r3);
	dr_strbuf_release(&sb);
}

TEST(append_failures)
{
	DR_TEST_DIR_ONLY("fsync and ENOSPC injection through the dr_fileio layer");
	dr_crashio *c = dr_crashio_new();
	char *dir;
	dr_store *s = open_crash_store(&dir, c);
	dr_journal *j;
	dr_journal_replay_info info;
	uint64_t seq;

	build(s, "f", 3, &j);
	/* fsync fails: error, the handle is poisoned, the record is not there. */
	dr_crashio_fail_fsync(c, 0, 1);
	CHECK_INT(dr_journal_append(j, "intent", NULL, &seq), DR_EIO);
	CHECK_INT(dr_journal_append(j, "intent", NULL, &seq), DR_EIO);
	dr_journal_close(j);
	CHECK_INT(dr_journal_replay(s, "f", NULL, NULL, &info), 0);
	CHECK_INT(info.records, 4);
	CHECK_INT(info.torn, 0);

	/* Out of space: the same. */
	CHECK_INT(dr_journal_open(s, "f", 0, &j, NULL), 0);
	dr_crashio_enospc_after(c, 10);
	CHECK_INT(dr_journal_append(j, "intent", NULL, &seq), DR_EIO);
	dr_crashio_enospc_after(c, -1);
	dr_journal_close(j);
	CHECK_INT(dr_journal_replay(s, "f", NULL, NULL, &info), 0);
	CHECK_INT(info.records, 4);
	CHECK_INT(info.torn, 0);

	/* After reopening, appends go on with the next seq. */
	CHECK_INT(dr_journal_open(s, "f", 0, &j, NULL), 0);
	CHECK_INT(dr_journal_append(j, "intent", NULL, &seq), 0);
	CHECK_INT(seq, 5);
	dr_journal_close(j);

	/* A record too large is refused without poisoning the handle. */
	CHECK_INT(dr_journal_open(s, "f", 0, &j, NULL), 0);
	char *big = malloc(DR_JOURNAL_RECORD_MAX + 1);
	memset(big, 'a', DR_JOURNAL_RECORD_MAX);
	big[DR_JOURNAL_RECORD_MAX] = '\0';
	CHECK_INT(dr_journal_append_new(j, "big", json_pack("{s:s}", "x", big), NULL), DR_ELIMIT);
	free(big);
	CHECK_INT(dr_journal_append(j, "small", NULL, &seq), 0);
	CHECK_INT(seq, 6);
	dr_journal_close(j);

	dr_store_free(s);
	dr_crashio_free(c);
	testdir_free(dir);
}

/*
 * A store whose appends land but report DR_ECONFLICT once, like a retried
 * Azure append whose first try timed out after it was written.
 */
struct flaky {
	struct dr_store base;
	dr_store *real;
	int lie;
};

static int flaky_append(dr_store *s, const char *key, const void *data, size_t len,
			uint64_t expected)
{
	struct flaky *f = (struct flaky *)s;
	int rc = dr_store_append(f->real, key, data, len, expected);

	if (!rc && f->lie) {
		f->lie = 0;
		return dr_error_set(DR_ECONFLICT, "flaky: conflict");
	}
	return rc;
}

static int flaky_read(dr_store *s, const char *key, uint64_t off, size_t max,
		      dr_strbuf *out)
{
	struct flaky *f = (struct flaky *)s;

	return max ? dr_store_read_range(f->real, key, off, max, out)
		   : dr_store_read(f->real, key, out);
}

static int flaky_size(dr_store *s, const char *key, uint64_t *size)
{
	return dr_store_size(((struct flaky *)s)->real, key, size);
}

static const struct dr_store_ops flaky_ops = {
	.name = "flaky",
	.append = flaky_append,
	.read = flaky_read,
	.size = flaky_size,
};

TEST(retried_append_landed)
{
	dr_store *real = open_store("retried-append");
	struct flaky f = { { &flaky_ops, (char *)dr_store_spec(real) }, real, 0 };
	dr_store *s = &f.base;
	dr_journal *j;
	dr_journal_replay_info info;
	uint64_t seq = 0;

	CHECK_INT(dr_journal_create(s, "r", NULL, &j), 0);
	f.lie = 1;
	CHECK_INT(dr_journal_append(j, "intent", NULL, &seq), 0);
	CHECK_INT(seq, 2);
	CHECK_INT(dr_journal_append(j, "done", NULL, &seq), 0);
	CHECK_INT(seq, 3);
	/* A real conflict (another writer's record) is still one. */
	dr_journal *other;
	CHECK_INT(dr_journal_open(real, "r", 0, &other, NULL), 0);
	CHECK_INT(dr_journal_append(other, "other", NULL, NULL), 0);
	CHECK_INT(dr_journal_append(j, "mine", NULL, NULL), DR_ECONFLICT);
	dr_journal_close(other);
	dr_journal_close(j);
	CHECK_INT(dr_journal_replay(real, "r", NULL, NULL, &info), 0);
	CHECK_INT(info.records, 4);
	CHECK_INT(info.torn, 0);
	dr_test_store_free(real);
}

static int list_cb(void *ctx, const char *job_id, json_t *header, int err)
{
	dr_strbuf *sb = ctx;

	dr_strbuf_addf(sb, "%s:", job_id);
	if (header)
		dr_strbuf_addf(sb, "%s/%s",
			       json_string_value(json_object_get(header, "plan")),
			       json_string_value(json_object_get(header, "operation")));
	else
		dr_strbuf_addf(sb, "error %d", err);
	dr_strbuf_addch(sb, ' ');
	return 0;
}

TEST(jobs_list)
{
	dr_store *s = open_store("jobs-list");
	dr_strbuf out = DR_STRBUF_INIT;
	dr_journal *j;

	CHECK_INT(dr_jobs_list(s, list_cb, &out), 0);
	CHECK_STR(out.buf, "");
	const char *ids[] = { "erp-failover-2", "crm-test-1", "erp-failback-3" };
	const char *ops[] = { "failover", "test", "failback" };
	for (int i = 0; i < 3; i++) {
		json_t *h = json_pack("{s:s,s:s}", "plan", i == 1 ? "crm" : "erp", "operation",
				      ops[i]);
		CHECK_INT(dr_journal_create(s, ids[i], h, &j), 0);
		dr_journal_append(j, "x", NULL, NULL);
		dr_journal_close(j);
		json_decref(h);
	}
	/* A job whose header never made it, and stray objects. */
	CHECK_INT(dr_store_append(s, "jobs/broken/journal", "1 0000", 6, 0), 0);
	CHECK_INT(dr_store_put(s, "jobs/crm-test-1/meta.json", "{}", 2, NULL, NULL), 0);
	CHECK_INT(dr_store_put(s, "jobs/x", "{}", 2, NULL, NULL), 0);
	CHECK_INT(dr_jobs_list(s, list_cb, &out), 0);
	CHECK_STR(out.buf, "broken:error -3 crm-test-1:crm/test erp-failback-3:erp/failback "
			   "erp-failover-2:erp/failover ");
	dr_strbuf_release(&out);
	dr_test_store_free(s);
}

/* ---- faults: a second writer racing on the same journal ---------------- */

struct seen {
	int n[4][256]; /* per writer, per item: how many records */
	int order_bad; /* a writer's items out of order */
	int last[4];
	int other;
};

static int note(void *ctx, uint64_t seq, const char *type, json_t *rec)
{
	struct seen *sn = ctx;
	int w = (int)json_integer_value(json_object_get(rec, "writer"));
	int k = (int)json_integer_value(json_object_get(rec, "n"));

	if (strcmp(type, "w") || w < 0 || w >= 4 || k < 0 || k >= 256) {
		sn->other++;
		return 0;
	}
	if (k != sn->last[w] + 1)
		sn->order_bad++;
	sn->last[w] = k;
	sn->n[w][k]++;
	return 0;
}

/* Every item of every writer exactly once, in each writer's order. */
static int check_once(dr_store *s, const char *job, int writers, int items)
{
	struct seen sn;
	dr_journal_replay_info info;
	int bad = 0;

	memset(&sn, 0, sizeof(sn));
	for (int w = 0; w < 4; w++)
		sn.last[w] = -1;
	if (dr_journal_replay(s, job, note, &sn, &info)) {
		fprintf(stderr, "replay: %s\n", dr_error_msg());
		return -1;
	}
	for (int w = 0; w < writers; w++)
		for (int k = 0; k < items; k++)
			if (sn.n[w][k] != 1) {
				fprintf(stderr, "writer %d item %d: %d records\n", w, k, sn.n[w][k]);
				bad++;
			}
	if (info.records != (uint64_t)(1 + writers * items) || info.torn || sn.order_bad ||
	    sn.other != 1) {
		fprintf(stderr, "records %llu torn %d order %d other %d\n",
			(unsigned long long)info.records, info.torn, sn.order_bad, sn.other);
		bad++;
	}
	return bad;
}

/*
 * Two handles on one journal, both at the same end: at every position
 * exactly one append wins; the loser gets DR_ECONFLICT (its handle is
 * poisoned), reopens (re-reads the journal) and appends after the
 * winner. Nothing is lost or doubled.
 */
TEST(racing_writers_interleaved)
{
	dr_store *s = open_store("race-2"), *s2 = NULL;
	dr_journal *h[2] = { NULL, NULL }, *c = NULL;
	int next[2] = { 0, 0 }, conflicts = 0, wrong = 0;
	uint64_t end = 1; /* records in the journal */

	CHECK_INT(dr_store_open(dr_store_spec(s), 0, &s2), 0);
	CHECK_INT(dr_journal_create(s, "race", NULL, &c), 0);
	dr_journal_close(c);
	CHECK_INT(dr_journal_open(s, "race", 0, &h[0], NULL), 0);
	CHECK_INT(dr_journal_open(s2, "race", 0, &h[1], NULL), 0);
	for (int round = 0; round < 40; round++) {
		/* Who goes first changes every other round. */
		int first = (round / 2) & 1;

		for (int t = 0; t < 2; t++) {
			int w = t ? !first : first;
			uint64_t seq = 0;
			/* A handle behind the end (the other appended since) loses. */
			bool stale = dr_journal_last_seq(h[w]) != end;
			int rc = dr_journal_append_new(h[w], "w", json_pack("{s:i,s:i}", "writer", w,
									  "n", next[w]), &seq);

			wrong += (rc == DR_ECONFLICT) != stale;
			if (rc == DR_ECONFLICT) {
				conflicts++;
				/* Poisoned: the next try on this handle is refused. */
				CHECK_INT(dr_journal_append(h[w], "w", NULL, NULL), DR_EIO);
				dr_journal_close(h[w]);
				CHECK_INT(dr_journal_open(w ? s2 : s, "race", 0, &h[w], NULL), 0);
				CHECK_INT(dr_journal_last_seq(h[w]), end);
				rc = dr_journal_append_new(h[w], "w",
							   json_pack("{s:i,s:i}", "writer", w, "n",
								     next[w]), &seq);
			}
			CHECK_INT(rc, 0);
			CHECK_INT(seq, end + 1);
			end++;
			next[w]++;
		}
	}
	CHECK_INT(wrong, 0);
	/* Even rounds: the up-to-date writer goes first, one conflict; odd
	 * rounds: the stale one does, loses, and leaves the other stale: two. */
	CHECK_INT(conflicts, 20 * 1 + 20 * 2);
	CHECK_INT(check_once(s, "race", 2, 40), 0);
	dr_journal_close(h[0]);
	dr_journal_close(h[1]);
	dr_store_free(s2);
	dr_test_store_free(s);
}

/*
 * Writer w in its own process: append items 0..n-1, reopening after
 * every conflict (and waiting out a record another process is still
 * writing). Exit 0 and the conflicts it met on the pipe.
 */
static void racer(const char *spec, int w, int n, int fd)
{
	dr_store *s = NULL;
	dr_journal *j = NULL;
	int conflicts = 0;

	if (dr_store_open(spec, 0, &s))
		_exit(10);
	for (int k = 0; k < n; k++) {
		for (int tries = 0;; tries++) {
			int rc;

			if (tries > 10000)
				_exit(11);
			if (!j) {
				rc = dr_journal_open(s, "race", 0, &j, NULL);
				if (rc == DR_EINVAL) {
					usleep(100); /* a torn tail: another process is writing */
					continue;
				}
				if (rc)
					_exit(12);
			}
			rc = dr_journal_append_new(j, "w", json_pack("{s:i,s:i}", "writer", w, "n", k),
						   NULL);
			if (rc == 0)
				break;
			if (rc != DR_ECONFLICT)
				_exit(13);
			conflicts++;
			dr_journal_close(j);
			j = NULL;
		}
	}
	dr_journal_close(j);
	dr_store_free(s);
	if (write(fd, &conflicts, sizeof(conflicts)) != (ssize_t)sizeof(conflicts))
		_exit(14);
	_exit(0);
}

/* Three processes append to one journal at once: each item exactly once. */
TEST(racing_writers_processes)
{
	enum { W = 3, N = 60 };
	dr_store *s = open_store("race-procs");
	dr_journal *c = NULL;
	pid_t pid[W];
	int pfd[2], total = 0, status;

	CHECK_INT(dr_journal_create(s, "race", NULL, &c), 0);
	dr_journal_close(c);
	CHECK_INT(pipe(pfd), 0);
	for (int w = 0; w < W; w++) {
		pid[w] = fork();
		if (pid[w] == 0) {
			close(pfd[0]);
			racer(dr_store_spec(s), w, N, pfd[1]);
		}
	}
	close(pfd[1]);
	for (int w = 0; w < W; w++) {
		CHECK_INT(waitpid(pid[w], &status, 0), pid[w]);
		CHECK(WIFEXITED(status));
		CHECK_INT(WEXITSTATUS(status), 0);
	}
	for (int w = 0, n; w < W; w++)
		if (read(pfd[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
			total += n;
	close(pfd[0]);
	CHECK_INT(check_once(s, "race", W, N), 0);
	if (getenv("JOURNAL_TEST_VERBOSE"))
		fprintf(stderr, "racing_writers_processes: %d conflicts\n", total);
	dr_test_store_free(s);
}

static int seq_types(void *ctx, uint64_t seq, const char *type, json_t *rec)
{
	(void)rec;
	dr_strbuf_addf(ctx, "%llu:%s ", (unsigned long long)seq, type);
	return 0;
}

/* Group commit: lazy records wait in memory and go out with the next
 * durable append or flush, in seq order, as one append. */
TEST(lazy_records)
{
	DR_TEST_DIR_ONLY("a failed flush through the dr_fileio crash layer");
	dr_crashio *c = dr_crashio_new();
	char *dir;
	dr_store *s = open_crash_store(&dir, c);
	dr_journal *j;
	dr_journal_replay_info info;
	dr_strbuf out = DR_STRBUF_INIT;
	uint64_t seq = 0, size0 = build(s, "z", 1, &j), size = 0;

	CHECK_INT(dr_journal_append_lazy(j, "step", NULL, &seq), 0);
	CHECK_INT(seq, 3);
	CHECK_INT(dr_journal_append_lazy(j, "accepted", NULL, &seq), 0);
	CHECK_INT(seq, 4);
	CHECK_INT(dr_journal_pending(j), 2);
	CHECK_INT(dr_journal_last_seq(j), 4);
	/* Not written yet. */
	dr_store_size(s, "jobs/z/journal", &size);
	CHECK_INT(size, size0);
	/* A durable append carries them, before itself. */
	CHECK_INT(dr_journal_append(j, "intent", NULL, &seq), 0);
	CHECK_INT(seq, 5);
	CHECK_INT(dr_journal_pending(j), 0);
	CHECK_INT(dr_journal_flush(j), 0); /* nothing pending: nothing to do */
	CHECK_INT(dr_journal_append_lazy(j, "finished", NULL, NULL), 0);
	CHECK_INT(dr_journal_flush(j), 0);
	CHECK_INT(dr_journal_pending(j), 0);
	/* Dropped at close when not flushed, as a crash would. */
	CHECK_INT(dr_journal_append_lazy(j, "lost", NULL, NULL), 0);
	dr_journal_close(j);
	CHECK_INT(dr_journal_replay(s, "z", seq_types, &out, &info), 0);
	CHECK_STR(out.buf, "1:job 2:step 3:step 4:accepted 5:intent 6:finished ");
	CHECK_INT(info.torn, 0);

	/* A failed flush poisons the handle; nothing of it is replayed. */
	CHECK_INT(dr_journal_open(s, "z", 0, &j, NULL), 0);
	CHECK_INT(dr_journal_append_lazy(j, "step", NULL, &seq), 0);
	CHECK_INT(seq, 7);
	dr_crashio_fail_fsync(c, 0, 1);
	CHECK_INT(dr_journal_flush(j), DR_EIO);
	CHECK_INT(dr_journal_append_lazy(j, "step", NULL, NULL), DR_EIO);
	CHECK_INT(dr_journal_flush(j), DR_EIO);
	dr_journal_close(j);
	dr_strbuf_reset(&out);
	CHECK_INT(dr_journal_replay(s, "z", seq_types, &out, &info), 0);
	CHECK_INT(info.records, 6);
	dr_strbuf_release(&out);
	dr_store_free(s);
	dr_crashio_free(c);
	testdir_free(dir);
}

int main(void)
{
	if (dr_test_store_check())
		return 1;
	RUN(crc32c_vectors);
	RUN(format);
	RUN(job_ids);
	RUN(round_trip);
	RUN(two_writers);
	RUN(torn_tail_every_offset);
	RUN(corruption);
	RUN(replay_buf_rules);
	RUN(append_failures);
	RUN(jobs_list);
	RUN(retried_append_landed);
	RUN(racing_writers_interleaved);
	RUN(racing_writers_processes);
	RUN(lazy_records);
	return test_summary();
}
