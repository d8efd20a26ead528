#include "journal/store.h"

#include "core/alloc.h"
#include "core/error.h"
#include "journal/store_azblob.h"
#include "journal/store_impl.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int dr_store_key_valid(const char *key)
{
	size_t n, comp = 0;

	if (!key || !*key)
		return dr_error_set(DR_EINVAL, "empty store key");
	n = strlen(key);
	if (n > DR_STORE_KEY_MAX)
		return dr_error_set(DR_EINVAL, "store key longer than %d bytes",
				    DR_STORE_KEY_MAX);
	for (size_t i = 0; i <= n; i++) {
		char c = key[i];
		if (c == '/' || c == '\0') {
			if (comp == 0)
				return dr_error_set(DR_EINVAL,
						    "store key '%s' has an empty component", key);
			comp = 0;
			continue;
		}
		if (comp == 0 && c == '.')
			return dr_error_set(DR_EINVAL,
					    "store key '%s': a component starts with '.'", key);
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return dr_error_set(DR_EINVAL,
					    "store key '%s': character 0x%02x not allowed",
					    key, (unsigned char)c);
		comp++;
	}
	return 0;
}

int dr_store_open(const char *spec, unsigned flags, dr_store **out)
{
	*out = NULL;
	if (!spec || !*spec)
		return dr_error_set(DR_EINVAL, "empty state store name");
	if (!strncmp(spec, DR_STORE_AZBLOB_SCHEME, strlen(DR_STORE_AZBLOB_SCHEME)))
		return dr_store_azblob_open(spec, NULL, flags, out);
	return dr_store_dir_open(spec, dr_fileio_posix(), flags, out);
}

void dr_store_free(dr_store *s)
{
	if (s)
		s->ops->free(s);
}

const char *dr_store_spec(const dr_store *s)
{
	return s->spec;
}

/*
 * The repository's setting file ROOT/.drplan/config: lines "state: SPEC",
 * blank lines and "#" comments (a subset of YAML, so editors colour it).
 * *found is set when it names a state store, which then replaces out; a
 * relative directory is taken from ROOT. A missing file is no error.
 */
static int read_config(const char *root, dr_strbuf *out, bool *found)
{
	dr_strbuf path = DR_STRBUF_INIT, text = DR_STRBUF_INIT;
	char buf[4096];
	size_t n;
	unsigned lineno = 0;
	int rc = 0;
	FILE *f;

	*found = false;
	dr_strbuf_addf(&path, "%s%s.drplan/config", root, strcmp(root, "/") ? "/" : "");
	if (!(f = fopen(path.buf, "r"))) {
		if (errno != ENOENT)
			rc = dr_error_set(DR_EIO, "%s: %s", path.buf, strerror(errno));
		goto out;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && text.len <= 65536)
		dr_strbuf_add(&text, buf, n);
	fclose(f);
	if (text.len > 65536) {
		rc = dr_error_set(DR_ELIMIT, "%s: larger than 64 KiB", path.buf);
		goto out;
	}
	for (char *line = text.buf, *next; line && !rc; line = next) {
		char *end, *val;
		size_t len;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		len = strlen(line);
		while (len && strchr(" \t\r", line[len - 1]))
			line[--len] = '\0';
		if (!*line || *line == '#')
			continue;
		if (strncmp(line, "state:", 6)) {
			end = strchr(line, ':');
			rc = dr_error_set(DR_EINVAL, "%s:%u: unknown setting '%.*s' (the one "
					  "setting is 'state: SPEC')", path.buf, lineno,
					  end ? (int)(end - line) : (int)len, line);
			break;
		}
		val = line + 6;
		while (*val == ' ' || *val == '\t')
			val++;
		len = strlen(val);
		if (len >= 2 && (*val == '"' || *val == '\'') && val[len - 1] == *val) {
			val[len - 1] = '\0';
			val++;
		}
		if (!*val) {
			rc = dr_error_set(DR_EINVAL, "%s:%u: 'state' is empty", path.buf, lineno);
			break;
		}
		dr_strbuf_reset(out);
		if (strncmp(val, "azblob://", 9) && *val != '/')
			dr_strbuf_addf(out, "%s%s", root, strcmp(root, "/") ? "/" : "");
		dr_strbuf_addstr(out, val);
		*found = true;
	}
out:
	dr_strbuf_release(&path);
	dr_strbuf_release(&text);
	return rc;
}

int dr_store_default_dir(const char *plan_dir, dr_strbuf *out)
{
	const char *env = getenv("DRPLAN_STATE_DIR");
	const char *spec = getenv("DRPLAN_STATE");
	char real[PATH_MAX];
	struct stat st;

	dr_strbuf_reset(out);
	if (spec && *spec)
		return dr_strbuf_addstr(out, spec);
	if (env && *env)
		return dr_strbuf_addstr(out, env);
	if (!realpath(plan_dir, real))
		return dr_error_set(DR_EINVAL, "plan directory %s: %s", plan_dir,
				    strerror(errno));
	dr_strbuf cand = DR_STRBUF_INIT;
	dr_strbuf_addstr(&cand, real);
	for (;;) {
		size_t base = cand.len;
		dr_strbuf_addstr(&cand, cand.len > 1 ? "/.git" : ".git");
		int found = stat(cand.buf, &st) == 0;
		dr_strbuf_setlen(&cand, base);
		if (found) {
			dr_strbuf_addstr(out, cand.buf);
			break;
		}
		char *slash = strrchr(cand.buf, '/');
		if (!slash || cand.len == 1) {
			dr_strbuf_addstr(out, real);
			break;
		}
		dr_strbuf_setlen(&cand, slash == cand.buf ? 1 : (size_t)(slash - cand.buf));
	}
	dr_strbuf_release(&cand);
	{
		char *root = dr_xstrdup(out->buf);
		bool found;
		int rc = read_config(root, out, &found);

		free(root);
		if (rc || found)
			return rc;
	}
	if (out->len > 1)
		dr_strbuf_addch(out, '/');
	return dr_strbuf_addstr(out, ".drplan/state");
}

static int check_key(const dr_store *s, const char *key)
{
	int rc = dr_store_key_valid(key);

	if (rc)
		return dr_error_set(rc, "state store %s: %s", s->spec, dr_error_msg());
	return 0;
}

int dr_store_append(dr_store *s, const char *key, const void *data, size_t len,
		    uint64_t expected_size)
{
	int rc = check_key(s, key);

	if (rc)
		return rc;
	if (len > DR_STORE_APPEND_MAX)
		return dr_error_set(DR_ELIMIT, "state store %s: %s: append of %zu bytes "
				    "exceeds %u", s->spec, key, len, DR_STORE_APPEND_MAX);
	if (len == 0)
		return dr_error_set(DR_EINVAL, "state store %s: %s: empty append",
				    s->spec, key);
	return s->ops->append(s, key, data, len, expected_size);
}

int dr_store_read(dr_store *s, const char *key, dr_strbuf *out)
{
	int rc = check_key(s, key);

	return rc ? rc : s->ops->read(s, key, 0, 0, out);
}

int dr_store_read_range(dr_store *s, const char *key, uint64_t offset, size_t max,
			dr_strbuf *out)
{
	int rc = check_key(s, key);

	if (rc)
		return rc;
	if (max > DR_STORE_READ_MAX)
		max = DR_STORE_READ_MAX;
	return s->ops->read(s, key, offset, max, out);
}

int dr_store_size(dr_store *s, const char *key, uint64_t *size)
{
	int rc = check_key(s, key);

	return rc ? rc : s->ops->size(s, key, size);
}

int dr_store_truncate(dr_store *s, const char *key, uint64_t new_size,
		      uint64_t expected_size)
{
	int rc = check_key(s, key);

	if (rc)
		return rc;
	if (new_size > expected_size)
		return dr_error_set(DR_EINVAL, "state store %s: %s: truncate to %llu "
				    "bytes would grow it", s->spec, key,
				    (unsigned long long)new_size);
	if (!s->ops->truncate)
		return dr_error_set(DR_EINVAL, "state store %s: truncate not supported",
				    s->spec);
	return s->ops->truncate(s, key, new_size, expected_size);
}

int dr_store_put(dr_store *s, const char *key, const void *data, size_t len,
		 const char *if_match, char **new_version)
{
	int rc = check_key(s, key);

	if (new_version)
		*new_version = NULL;
	if (rc)
		return rc;
	if (len > DR_STORE_READ_MAX)
		return dr_error_set(DR_ELIMIT, "state store %s: %s: object of %zu bytes "
				    "exceeds %u", s->spec, key, len, DR_STORE_READ_MAX);
	return s->ops->put(s, key, data, len, if_match, new_version);
}

int dr_store_get(dr_store *s, const char *key, dr_strbuf *out, char **version)
{
	int rc = check_key(s, key);

	if (version)
		*version = NULL;
	return rc ? rc : s->ops->get(s, key, out, version);
}

int dr_store_list(dr_store *s, const char *prefix, dr_store_list_fn fn, void *ctx)
{
	if (!prefix)
		prefix = "";
	if (strlen(prefix) > DR_STORE_KEY_MAX || strstr(prefix, ".."))
		return dr_error_set(DR_EINVAL, "state store %s: bad list prefix '%s'",
				    s->spec, prefix);
	return s->ops->list(s, prefix, fn, ctx);
}

int dr_store_remove(dr_store *s, const char *key)
{
	int rc = check_key(s, key);

	return rc ? rc : s->ops->remove(s, key);
}

int dr_store_lock_acquire(dr_store *s, const char *name, const char *holder_json,
		  unsigned ttl_ms, dr_store_lock **out, char **holder_out)
{
	int rc = check_key(s, name);

	*out = NULL;
	if (holder_out)
		*holder_out = NULL;
	if (rc)
		return rc;
	if (strchr(name, '/'))
		return dr_error_set(DR_EINVAL, "state store %s: lock name '%s' contains '/'",
				    s->spec, name);
	return s->ops->lock(s, name, holder_json ? holder_json : "{}", ttl_ms, out,
			    holder_out);
}

int dr_store_lock_renew(dr_store_lock *l)
{
	return l->store->ops->renew(l);
}

int dr_store_lock_release(dr_store_lock *l)
{
	return l ? l->store->ops->unlock(l) : 0;
}

const char *dr_store_lock_holder(const dr_store_lock *l)
{
	return l->holder;
}

void dr_store_lock_describe(const char *holder_json, dr_strbuf *out)
{
	json_t *j = holder_json && *holder_json ?
			    json_loads(holder_json, JSON_REJECT_DUPLICATES, NULL) : NULL;
	const char *job, *host, *since;
	json_t *pid;
	size_t start = out->len;

	if (!json_is_object(j)) {
		json_decref(j);
		dr_strbuf_addstr(out, "an unknown holder");
		return;
	}
	job = json_string_value(json_object_get(j, "job"));
	host = json_string_value(json_object_get(j, "host"));
	since = json_string_value(json_object_get(j, "since"));
	pid = json_object_get(j, "pid");
	if (job)
		dr_strbuf_addf(out, "job %s", job);
	if (host)
		dr_strbuf_addf(out, "%son host %s", out->len > start ? " " : "", host);
	if (json_is_integer(pid))
		dr_strbuf_addf(out, "%s(pid %lld)", out->len > start ? " " : "",
			       (long long)json_integer_value(pid));
	if (since)
		dr_strbuf_addf(out, "%ssince %s", out->len > start ? " " : "", since);
	if (out->len == start)
		dr_strbuf_addstr(out, "an unknown holder");
	json_decref(j);
}

int dr_store_lock_ttl_env(unsigned *ms_out)
{
	const char *e = getenv("DRPLAN_LOCK_TTL");
	char *end;
	long v;

	*ms_out = 0;
	if (!e || !*e)
		return 0;
	v = strtol(e, &end, 10);
	if (end != e && *end == 's')
		end++;
	if (end == e || *end || v < 15 || v > 60)
		return dr_error_set(DR_EINVAL, "DRPLAN_LOCK_TTL takes a lease length of "
				    "15 to 60 seconds (e.g. 15 or 15s), not '%s'", e);
	*ms_out = (unsigned)v * 1000u;
	return 0;
}
