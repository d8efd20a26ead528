#include "journal/journal.h"

#include "core/alloc.h"
#include "core/error.h"
#include "journal/crc32c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#ifndef DR_VERSION
#define DR_VERSION "unknown"
#endif

struct dr_journal {
	dr_store *store;
	char *job_id;
	char *key;
	uint64_t size;     /* bytes in the object: the next append's position */
	uint64_t last_seq; /* written or pending */
	dr_strbuf pend;    /* lazy records not yet written (whole lines) */
	size_t npend;
	int poisoned;
};

void dr_journal_key(const char *job_id, dr_strbuf *out)
{
	dr_strbuf_reset(out);
	dr_strbuf_addf(out, "jobs/%s/journal", job_id);
}

static void now_rfc3339(char buf[32])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

int dr_journal_format(uint64_t seq, json_t *record, dr_strbuf *out)
{
	char head[24];
	char *json = json_dumps(record, JSON_COMPACT);
	int n;

	if (!json)
		return dr_error_set(DR_EINVAL, "journal record cannot be encoded as JSON");
	/* Compact JSON escapes control characters, so there is no newline. */
	if (strchr(json, '\n')) {
		free(json);
		return dr_error_set(DR_EINVAL, "journal record contains a newline");
	}
	n = snprintf(head, sizeof(head), "%llu ", (unsigned long long)seq);
	uint32_t crc = dr_crc32c(0, head, (size_t)n);
	crc = dr_crc32c(crc, json, strlen(json));
	int rc = dr_strbuf_addf(out, "%llu %08x %s\n", (unsigned long long)seq, crc, json);
	free(json);
	return rc;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Check one line (without its newline). Returns 0 and *rec; 1 with reason
 * for damage a crash can leave (framing, checksum: torn when last); 2 with
 * reason for damage a crash cannot leave (a checksummed record that is
 * wrong: always corruption).
 */
static int parse_line(const char *line, size_t len, uint64_t expect, json_t **rec,
		      char *reason, size_t rsize)
{
	size_t i = 0;
	uint64_t seq = 0;
	uint32_t crc = 0;
	json_error_t jerr;

	*rec = NULL;
	if (len > DR_JOURNAL_RECORD_MAX) {
		snprintf(reason, rsize, "record longer than %u bytes", DR_JOURNAL_RECORD_MAX);
		return 1;
	}
	while (i < len && i < 20 && line[i] >= '0' && line[i] <= '9')
		seq = seq * 10 + (uint64_t)(line[i++] - '0');
	if (i == 0 || i == 20 || (line[0] == '0') || i >= len || line[i] != ' ') {
		snprintf(reason, rsize, "bad framing (sequence number)");
		return 1;
	}
	size_t seq_end = i++;
	for (int k = 0; k < 8; k++, i++) {
		int v = i < len ? hexval(line[i]) : -1;
		if (v < 0) {
			snprintf(reason, rsize, "bad framing (checksum)");
			return 1;
		}
		crc = crc << 4 | (uint32_t)v;
	}
	if (i >= len || line[i] != ' ') {
		snprintf(reason, rsize, "bad framing (checksum)");
		return 1;
	}
	i++;
	uint32_t want = dr_crc32c(0, line, seq_end + 1);
	want = dr_crc32c(want, line + i, len - i);
	if (want != crc) {
		snprintf(reason, rsize, "checksum mismatch");
		return 1;
	}
	if (seq != expect) {
		snprintf(reason, rsize, "sequence number %llu, expected %llu",
			 (unsigned long long)seq, (unsigned long long)expect);
		return 2;
	}
	json_t *j = json_loadb(line + i, len - i, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		snprintf(reason, rsize, "bad JSON: %.60s", jerr.text);
		return 2;
	}
	json_t *jseq = json_object_get(j, "seq");
	const char *type = json_string_value(json_object_get(j, "type"));
	if (!json_is_object(j) || !json_is_integer(jseq) ||
	    (uint64_t)json_integer_value(jseq) != seq || !type || !*type) {
		snprintf(reason, rsize, "record lacks a matching seq or a type");
		json_decref(j);
		return 2;
	}
	if (seq == 1 && strcmp(type, "job")) {
		snprintf(reason, rsize, "first record has type '%s', not 'job'", type);
		json_decref(j);
		return 2;
	}
	*rec = j;
	return 0;
}

int dr_journal_replay_buf(const char *name, const char *buf, size_t len,
			  dr_journal_record_fn fn, void *ctx, dr_journal_replay_info *info)
{
	dr_journal_replay_info local;
	size_t off = 0;
	uint64_t expect = 1;
	char reason[96];

	if (!info)
		info = &local;
	memset(info, 0, sizeof(*info));
	info->total_size = len;
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		json_t *rec;
		int r;

		if (!nl) {
			r = 1;
			snprintf(reason, sizeof(reason), "no newline at end");
		} else {
			r = parse_line(buf + off, (size_t)(nl - (buf + off)), expect, &rec,
				       reason, sizeof(reason));
		}
		if (r == 1 && (!nl || nl == buf + len - 1)) {
			info->torn = 1;
			info->torn_offset = off;
			info->torn_bytes = len - off;
			snprintf(info->torn_reason, sizeof(info->torn_reason), "%s", reason);
			break;
		}
		if (r) {
			return dr_error_set(DR_EINVAL, "journal %s: record %llu at byte %zu: "
					    "%s (%zu more bytes follow)", name,
					    (unsigned long long)expect, off, reason,
					    len - (size_t)(nl + 1 - buf));
		}
		const char *type = json_string_value(json_object_get(rec, "type"));
		int rc = fn ? fn(ctx, expect, type, rec) : 0;
		json_decref(rec);
		off = (size_t)(nl + 1 - buf);
		info->records++;
		info->last_seq = expect++;
		info->good_size = off;
		if (rc)
			return rc;
	}
	return 0;
}

int dr_journal_replay(dr_store *s, const char *job_id, dr_journal_record_fn fn,
		      void *ctx, dr_journal_replay_info *info)
{
	dr_strbuf key = DR_STRBUF_INIT, data = DR_STRBUF_INIT;
	int rc;

	if (info)
		memset(info, 0, sizeof(*info));
	if (!dr_job_id_valid(job_id))
		return dr_error_set(DR_EINVAL, "invalid job id '%s'", job_id ? job_id : "");
	dr_journal_key(job_id, &key);
	rc = dr_store_read(s, key.buf, &data);
	if (rc == DR_ENOTFOUND)
		rc = dr_error_set(DR_ENOTFOUND, "job %s: no journal in state store %s",
				  job_id, dr_store_spec(s));
	if (!rc)
		rc = dr_journal_replay_buf(key.buf, data.buf, data.len, fn, ctx, info);
	dr_strbuf_release(&key);
	dr_strbuf_release(&data);
	return rc;
}

static dr_journal *journal_new(dr_store *s, const char *job_id)
{
	dr_journal *j = dr_xcalloc(1, sizeof(*j));
	dr_strbuf key = DR_STRBUF_INIT;

	dr_journal_key(job_id, &key);
	j->store = s;
	j->job_id = dr_xstrdup(job_id);
	j->key = dr_strbuf_detach(&key, NULL);
	dr_strbuf_init(&j->pend, 0);
	return j;
}

static const char *const reserved[] = { "seq", "type", "time" };

static int build_record(uint64_t seq, const char *type, json_t *fields, json_t **out)
{
	char ts[32];
	const char *k;
	json_t *v;

	*out = NULL;
	if (!type || !*type)
		return dr_error_set(DR_EINVAL, "journal record without a type");
	if (fields && !json_is_object(fields))
		return dr_error_set(DR_EINVAL, "journal record fields are not an object");
	now_rfc3339(ts);
	json_t *rec = json_object();
	json_object_set_new(rec, "seq", json_integer((json_int_t)seq));
	json_object_set_new(rec, "type", json_string(type));
	json_object_set_new(rec, "time", json_string(ts));
	if (!json_object_get(rec, "type")) {
		json_decref(rec);
		return dr_error_set(DR_EINVAL, "journal record type is not UTF-8");
	}
	json_object_foreach(fields, k, v) {
		for (size_t i = 0; i < DR_ARRAY_SIZE(reserved); i++) {
			if (!strcmp(k, reserved[i])) {
				json_decref(rec);
				return dr_error_set(DR_EINVAL, "journal record field '%s' is "
						    "reserved", k);
			}
		}
		json_object_set(rec, k, v);
	}
	*out = rec;
	return 0;
}

/*
 * After DR_ECONFLICT: did our own earlier attempt land? A store that retries
 * an append whose first try timed out (Azure) sees its own bytes as a
 * conflict. The line holds seq and a millisecond time, so another writer's
 * record cannot match it by accident.
 */
static int landed(dr_journal *j, const dr_strbuf *line)
{
	dr_strbuf tail = DR_STRBUF_INIT;
	uint64_t size = 0;
	int ok = dr_store_size(j->store, j->key, &size) == 0 &&
		 size == j->size + line->len &&
		 dr_store_read_range(j->store, j->key, j->size, line->len, &tail) == 0 &&
		 tail.len == line->len && !memcmp(tail.buf, line->buf, line->len);

	dr_strbuf_release(&tail);
	return ok;
}

/* Write the pending lines, then line (may be NULL), in one store append. */
static int write_out(dr_journal *j, const dr_strbuf *line)
{
	const dr_strbuf *data = &j->pend;
	int rc;

	if (line)
		dr_strbuf_add(&j->pend, line->buf, line->len);
	if (!data->len)
		return 0;
	rc = dr_store_append(j->store, j->key, data->buf, data->len, j->size);
	if (rc == DR_ECONFLICT && landed(j, data))
		rc = 0;
	if (rc) {
		j->poisoned = 1;
		return rc;
	}
	j->size += data->len;
	dr_strbuf_reset(&j->pend);
	j->npend = 0;
	return 0;
}

/* rec as a line for seq into out, within the record limit. */
static int format_line(dr_journal *j, json_t *rec, uint64_t seq, dr_strbuf *out)
{
	int rc = dr_journal_format(seq, rec, out);

	if (!rc && out->len > DR_JOURNAL_RECORD_MAX)
		rc = dr_error_set(DR_ELIMIT, "journal %s: record of %zu bytes exceeds %u",
				  j->key, out->len, DR_JOURNAL_RECORD_MAX);
	return rc;
}

static int append_record(dr_journal *j, json_t *rec, uint64_t seq)
{
	dr_strbuf line = DR_STRBUF_INIT;
	int rc = format_line(j, rec, seq, &line);

	if (!rc) {
		rc = write_out(j, &line);
		if (!rc)
			j->last_seq = seq;
	}
	dr_strbuf_release(&line);
	return rc;
}

int dr_journal_create(dr_store *s, const char *job_id, json_t *header,
		      dr_journal **out)
{
	json_t *rec, *extra = json_object();
	char host[256];
	int rc;

	*out = NULL;
	if (!dr_job_id_valid(job_id)) {
		json_decref(extra);
		return dr_error_set(DR_EINVAL, "invalid job id '%s'", job_id ? job_id : "");
	}
	if (header && !json_is_object(header)) {
		json_decref(extra);
		return dr_error_set(DR_EINVAL, "job header is not a JSON object");
	}
	if (!json_object_get(header, "job"))
		json_object_set_new(extra, "job", json_string(job_id));
	json_object_update(extra, header);
	if (!json_object_get(extra, "host")) {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "unknown");
		host[sizeof(host) - 1] = '\0';
		json_object_set_new(extra, "host", json_string(host));
	}
	if (!json_object_get(extra, "pid"))
		json_object_set_new(extra, "pid", json_integer(getpid()));
	if (!json_object_get(extra, "drplan_version"))
		json_object_set_new(extra, "drplan_version", json_string(DR_VERSION));
	rc = build_record(1, "job", extra, &rec);
	json_decref(extra);
	if (rc)
		return rc;
	dr_journal *j = journal_new(s, job_id);
	rc = append_record(j, rec, 1);
	json_decref(rec);
	if (rc == DR_ECONFLICT)
		rc = dr_error_set(DR_ECONFLICT, "job %s already exists in state store %s",
				  job_id, dr_store_spec(s));
	if (rc) {
		dr_journal_close(j);
		return rc;
	}
	*out = j;
	return 0;
}

int dr_journal_open(dr_store *s, const char *job_id, unsigned flags,
		    dr_journal **out, dr_journal_replay_info *info)
{
	dr_journal_replay_info local;
	int rc;

	*out = NULL;
	if (!info)
		info = &local;
	rc = dr_journal_replay(s, job_id, NULL, NULL, info);
	if (rc)
		return rc;
	dr_journal *j = journal_new(s, job_id);
	if (info->torn) {
		if (!(flags & DR_JOURNAL_TRUNCATE_TAIL)) {
			rc = dr_error_set(DR_EINVAL, "journal %s: torn tail of %llu bytes at "
					  "byte %llu (%s); it must be dropped before "
					  "appending", j->key,
					  (unsigned long long)info->torn_bytes,
					  (unsigned long long)info->torn_offset,
					  info->torn_reason);
			goto fail;
		}
		rc = dr_store_truncate(s, j->key, info->good_size, info->total_size);
		if (rc)
			goto fail;
	}
	if (info->records == 0) {
		rc = dr_error_set(DR_EINVAL, "journal %s: no complete job header record",
				  j->key);
		goto fail;
	}
	j->size = info->good_size;
	j->last_seq = info->last_seq;
	*out = j;
	return 0;
fail:
	dr_journal_close(j);
	return rc;
}

/* After a failed append the end of the journal is unknown: say so. */
static int refuse_poisoned(const dr_journal *j)
{
	return dr_error_set(DR_EIO, "journal %s: an earlier append failed; reopen "
			    "the journal to continue", j->key);
}

int dr_journal_append(dr_journal *j, const char *type, json_t *fields,
		      uint64_t *seq_out)
{
	json_t *rec;
	int rc;

	if (j->poisoned)
		return refuse_poisoned(j);
	rc = build_record(j->last_seq + 1, type, fields, &rec);
	if (rc)
		return rc;
	rc = append_record(j, rec, j->last_seq + 1);
	json_decref(rec);
	if (!rc && seq_out)
		*seq_out = j->last_seq;
	return rc;
}

int dr_journal_append_new(dr_journal *j, const char *type, json_t *fields,
			  uint64_t *seq_out)
{
	int rc = dr_journal_append(j, type, fields, seq_out);

	json_decref(fields);
	return rc;
}

/* Pending bytes past this are written at once (a store append carries at
 * most DR_STORE_APPEND_MAX). */
#define PEND_MAX ((size_t)1 << 20)

int dr_journal_append_lazy(dr_journal *j, const char *type, json_t *fields,
			   uint64_t *seq_out)
{
	json_t *rec;
	int rc;

	if (j->poisoned)
		return refuse_poisoned(j);
	rc = build_record(j->last_seq + 1, type, fields, &rec);
	if (rc)
		return rc;
	dr_strbuf line = DR_STRBUF_INIT;

	rc = format_line(j, rec, j->last_seq + 1, &line);
	json_decref(rec);
	if (!rc)
		dr_strbuf_add(&j->pend, line.buf, line.len);
	dr_strbuf_release(&line);
	if (rc)
		return rc;
	j->npend++;
	j->last_seq++;
	if (seq_out)
		*seq_out = j->last_seq;
	if (j->pend.len > PEND_MAX)
		rc = write_out(j, NULL);
	return rc;
}

int dr_journal_flush(dr_journal *j)
{
	if (j->poisoned)
		return refuse_poisoned(j);
	return write_out(j, NULL);
}

size_t dr_journal_pending(const dr_journal *j)
{
	return j->npend;
}

uint64_t dr_journal_last_seq(const dr_journal *j)
{
	return j->last_seq;
}

const char *dr_journal_job_id(const dr_journal *j)
{
	return j->job_id;
}

void dr_journal_close(dr_journal *j)
{
	if (!j)
		return;
	dr_strbuf_release(&j->pend);
	free(j->job_id);
	free(j->key);
	free(j);
}

static void random_bytes(unsigned char *buf, size_t n)
{
	if (getrandom(buf, n, 0) == (ssize_t)n)
		return;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && read(fd, buf, n) == (ssize_t)n) {
		close(fd);
		return;
	}
	if (fd >= 0)
		close(fd);
	/* Uniqueness is also enforced by create's DR_ECONFLICT. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned long x = (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 16);
	for (size_t i = 0; i < n; i++, x >>= 8)
		buf[i] = (unsigned char)x;
}

static void add_sanitized(dr_strbuf *sb, const char *s)
{
	for (size_t i = 0; s[i] && i < 40; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_';
		dr_strbuf_addch(sb, ok ? c : '-');
	}
}

int dr_job_id_new(const char *plan, const char *op, char *buf, size_t n)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	unsigned char rnd[2];
	char ts[20];
	time_t now = time(NULL);
	struct tm tm;
	int rc = 0;

	if (!plan || !*plan || !op || !*op)
		return dr_error_set(DR_EINVAL, "job id needs a plan name and an operation");
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	random_bytes(rnd, sizeof(rnd));
	add_sanitized(&sb, plan);
	dr_strbuf_addch(&sb, '-');
	add_sanitized(&sb, op);
	dr_strbuf_addf(&sb, "-%s-%02x%02x", ts, rnd[0], rnd[1]);
	if (sb.len >= n)
		rc = dr_error_set(DR_ELIMIT, "job id buffer of %zu bytes is too small", n);
	else if (!dr_job_id_valid(sb.buf))
		rc = dr_error_set(DR_EINVAL, "cannot make a job id from plan '%s'", plan);
	else
		memcpy(buf, sb.buf, sb.len + 1);
	dr_strbuf_release(&sb);
	return rc;
}

int dr_job_id_valid(const char *id)
{
	size_t n;

	if (!id)
		return 0;
	n = strlen(id);
	if (n == 0 || n > DR_JOB_ID_MAX || id[0] == '.' || id[0] == '-' || strstr(id, ".."))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

struct ids {
	char **v;
	size_t n, alloc;
};

static int collect_job(void *ctx, const char *key)
{
	struct ids *ids = ctx;
	const char *id = key + strlen("jobs/");
	const char *slash = strchr(id, '/');

	if (!slash || strcmp(slash, "/journal"))
		return 0;
	char *copy = dr_xstrndup(id, (size_t)(slash - id));
	if (!dr_job_id_valid(copy)) {
		free(copy);
		return 0;
	}
	DR_ALLOC_GROW(ids->v, ids->n + 1, ids->alloc);
	ids->v[ids->n++] = copy;
	return 0;
}

static int keep_header(void *ctx, uint64_t seq, const char *type, json_t *rec)
{
	*(json_t **)ctx = json_incref(rec);
	return 1; /* only the first record */
}

int dr_jobs_list(dr_store *s, dr_jobs_list_fn fn, void *ctx)
{
	struct ids ids = { 0 };
	dr_strbuf key = DR_STRBUF_INIT, data = DR_STRBUF_INIT;
	int rc = dr_store_list(s, "jobs/", collect_job, &ids);

	for (size_t i = 0; i < ids.n; i++) {
		json_t *header = NULL;
		int err = 0;

		if (!rc) {
			dr_journal_key(ids.v[i], &key);
			err = dr_store_read_range(s, key.buf, 0, DR_JOURNAL_RECORD_MAX + 1,
						  &data);
			if (!err) {
				const char *nl = memchr(data.buf, '\n', data.len);
				if (!nl)
					err = dr_error_set(DR_EINVAL, "journal %s: no complete "
							   "job header record", key.buf);
				else if (dr_journal_replay_buf(key.buf, data.buf,
							       (size_t)(nl + 1 - data.buf),
							       keep_header, &header, NULL) != 1)
					err = header ? 0 : DR_EINVAL;
				if (!err && !header)
					err = dr_error_set(DR_EINVAL, "journal %s: no complete "
							   "job header record", key.buf);
			}
			rc = fn(ctx, ids.v[i], err ? NULL : header, err);
		}
		json_decref(header);
		free(ids.v[i]);
	}
	free(ids.v);
	dr_strbuf_release(&key);
	dr_strbuf_release(&data);
	return rc;
}
