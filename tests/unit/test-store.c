/*
 * test-store.c - the state store interface. Store-level tests run against
 * whichever store $DRPLAN_TEST_STORE names (teststore.h); those about the
 * directory store itself (opening directories, lock files and flock,
 * fsync and crash injection through the dr_fileio layer, content-hash
 * versions) are marked DR_TEST_DIR_ONLY.
 */
#include "teststore.h"

#include "core/error.h"
#include "core/strbuf.h"
#include "journal/fileio.h"
#include "journal/fileio_crash.h"
#include "journal/store.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

static dr_store *open_tmp(const char *name)
{
	dr_store *s = NULL;

	dr_test_store_open(name, &s);
	return s;
}

/*
 * The exact message under the directory store; under another store the
 * same "state store SPEC: KEY: " start (the rest is the backend's wording).
 */
static void check_msg(dr_store *s, const char *key, const char *dir_rest)
{
	char want[1024];

	if (dr_test_store_is_dir())
		snprintf(want, sizeof(want), "state store %s: %s: %s", dr_store_spec(s), key,
			 dir_rest);
	else
		snprintf(want, sizeof(want), "state store %s: %s: ", dr_store_spec(s), key);
	if (dr_test_store_is_dir())
		CHECK_STR(dr_error_msg(), want);
	else if (strncmp(dr_error_msg(), want, strlen(want)))
		CHECK_STR(dr_error_msg(), want);
}

TEST(key_valid)
{
	CHECK_INT(dr_store_key_valid("jobs/a-1/journal"), 0);
	CHECK_INT(dr_store_key_valid("sim/state.json"), 0);
	CHECK_INT(dr_store_key_valid("a"), 0);
	CHECK_INT(dr_store_key_valid(""), DR_EINVAL);
	CHECK_INT(dr_store_key_valid("/abs"), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "store key '/abs' has an empty component");
	CHECK_INT(dr_store_key_valid("a//b"), DR_EINVAL);
	CHECK_INT(dr_store_key_valid("a/"), DR_EINVAL);
	CHECK_INT(dr_store_key_valid("a/../b"), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "store key 'a/../b': a component starts with '.'");
	CHECK_INT(dr_store_key_valid(".tmp-x"), DR_EINVAL);
	CHECK_INT(dr_store_key_valid("a b"), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "store key 'a b': character 0x20 not allowed");
	CHECK_INT(dr_store_key_valid("a\\b"), DR_EINVAL);
	char big[DR_STORE_KEY_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(dr_store_key_valid(big), DR_EINVAL);
	big[DR_STORE_KEY_MAX] = '\0';
	CHECK_INT(dr_store_key_valid(big), 0);
}

/* A file layer that denies writing, so the test works as root too. */
static int deny_access(void *ctx, const char *path, int mode)
{
	errno = EACCES;
	return -1;
}

TEST(open_errors)
{
	DR_TEST_DIR_ONLY("opening directories: missing, a file, permissions");
	char *dir = testdir_new();
	char *missing = testdir_path(dir, "missing");
	char *file = testdir_path(dir, "file");
	char *under_file = testdir_path(dir, "file/state");
	char msg[512];
	dr_store *s = NULL;

	CHECK_INT(dr_store_open(missing, 0, &s), DR_ENOTFOUND);
	CHECK(s == NULL);
	snprintf(msg, sizeof(msg), "state store %s: no such directory", missing);
	CHECK_STR(dr_error_msg(), msg);

	CHECK_INT(testdir_write(file, "x", 1), 0);
	CHECK_INT(dr_store_open(file, 0, &s), DR_EINVAL);
	snprintf(msg, sizeof(msg), "state store %s: not a directory", file);
	CHECK_STR(dr_error_msg(), msg);

	/* A parent that is a regular file fails even for root. */
	CHECK_INT(dr_store_open(under_file, DR_STORE_CREATE, &s), DR_EIO);
	snprintf(msg, sizeof(msg), "state store %s: Not a directory", under_file);
	CHECK_STR(dr_error_msg(), msg);
	CHECK_INT(dr_store_open(under_file, 0, &s), DR_EIO);
	snprintf(msg, sizeof(msg), "state store %s: Not a directory", under_file);
	CHECK_STR(dr_error_msg(), msg);

	/* azblob:// goes to the Azure store (tests/azblob/), never to a directory. */
	CHECK_INT(dr_store_open("azblob://acct", 0, &s), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "state store azblob://acct: no container "
				  "(azblob://ACCOUNT/CONTAINER[/PREFIX])");

	/* DR_STORE_CREATE makes the missing directories. */
	char *deep = testdir_path(dir, "a/b/c");
	CHECK_INT(dr_store_open(deep, DR_STORE_CREATE, &s), 0);
	CHECK_STR(dr_store_spec(s), deep);
	dr_store_free(s);

	dr_fileio denying = *dr_fileio_posix();
	denying.access = deny_access;
	CHECK_INT(dr_store_dir_open(dir, &denying, 0, &s), DR_EIO);
	snprintf(msg, sizeof(msg), "state store %s: permission denied", dir);
	CHECK_STR(dr_error_msg(), msg);

	/* The real thing, where permissions apply (root ignores them). */
	if (geteuid() != 0) {
		char *ro = testdir_path(dir, "ro");
		mkdir(ro, 0555);
		CHECK_INT(dr_store_open(ro, 0, &s), DR_EIO);
		snprintf(msg, sizeof(msg), "state store %s: permission denied", ro);
		CHECK_STR(dr_error_msg(), msg);
		char *ro_sub = testdir_path(ro, "state");
		CHECK_INT(dr_store_open(ro_sub, DR_STORE_CREATE, &s), DR_EIO);
		snprintf(msg, sizeof(msg), "state store %s: cannot create directory %s: "
			 "permission denied", ro_sub, ro_sub);
		CHECK_STR(dr_error_msg(), msg);
		free(ro_sub);
		free(ro);
	}
	free(deep);
	free(missing);
	free(file);
	free(under_file);
	testdir_free(dir);
}

TEST(default_dir)
{
	char *dir = testdir_new();
	char *plans = testdir_path(dir, "repo/plans/erp");
	char *repo = testdir_path(dir, "repo");
	char *git = testdir_path(dir, "repo/.git");
	char *lone = testdir_path(dir, "lone");
	char want[1024];
	dr_strbuf out = DR_STRBUF_INIT;
	char *saved = getenv("DRPLAN_STATE_DIR") ? strdup(getenv("DRPLAN_STATE_DIR")) : NULL;

	unsetenv("DRPLAN_STATE_DIR");
	char *p = testdir_path(dir, "repo/plans");
	mkdir(repo, 0755);
	mkdir(p, 0755);
	mkdir(plans, 0755);
	mkdir(lone, 0755);
	free(p);

	/* No .git anywhere: the plan directory itself. */
	CHECK_INT(dr_store_default_dir(plans, &out), 0);
	snprintf(want, sizeof(want), "%s/.drplan/state", plans);
	CHECK_STR(out.buf, want);

	/* A .git file (worktree) counts like a directory. */
	CHECK_INT(testdir_write(git, "gitdir: x\n", 10), 0);
	CHECK_INT(dr_store_default_dir(plans, &out), 0);
	snprintf(want, sizeof(want), "%s/.drplan/state", repo);
	CHECK_STR(out.buf, want);

	CHECK_INT(dr_store_default_dir(lone, &out), 0);
	snprintf(want, sizeof(want), "%s/.drplan/state", lone);
	CHECK_STR(out.buf, want);

	setenv("DRPLAN_STATE_DIR", "/srv/drplan", 1);
	CHECK_INT(dr_store_default_dir(plans, &out), 0);
	CHECK_STR(out.buf, "/srv/drplan");
	setenv("DRPLAN_STATE_DIR", "", 1);
	CHECK_INT(dr_store_default_dir(plans, &out), 0);
	snprintf(want, sizeof(want), "%s/.drplan/state", repo);
	CHECK_STR(out.buf, want);

	/* The repository's .drplan/config names the store for everyone. */
	char *dot = testdir_path(dir, "repo/.drplan");
	char *conf = testdir_path(dir, "repo/.drplan/config");
	static const char c1[] = "# where jobs live\n\n  state: \"azblob://acct/dr/erp\"  \n";
	static const char c2[] = "state: shared/state\n";
	static const char c3[] = "# ok\nbackend: azblob\n";

	mkdir(dot, 0755);
	CHECK_INT(testdir_write(conf, c1, sizeof(c1) - 1), 0);
	CHECK_INT(dr_store_default_dir(plans, &out), 0);
	CHECK_STR(out.buf, "azblob://acct/dr/erp");
	CHECK_INT(testdir_write(conf, c2, sizeof(c2) - 1), 0);
	CHECK_INT(dr_store_default_dir(plans, &out), 0);
	snprintf(want, sizeof(want), "%s/shared/state", repo);
	CHECK_STR(out.buf, want);
	/* The environment still wins. */
	setenv("DRPLAN_STATE_DIR", "/srv/drplan", 1);
	CHECK_INT(dr_store_default_dir(plans, &out), 0);
	CHECK_STR(out.buf, "/srv/drplan");
	unsetenv("DRPLAN_STATE_DIR");
	CHECK_INT(testdir_write(conf, c3, sizeof(c3) - 1), 0);
	CHECK_INT(dr_store_default_dir(plans, &out), DR_EINVAL);
	snprintf(want, sizeof(want), "%s:2: unknown setting 'backend' (the one setting "
		 "is 'state: SPEC')", conf);
	CHECK_STR(dr_error_msg(), want);
	unlink(conf);
	rmdir(dot);
	free(conf);
	free(dot);

	char *nope = testdir_path(dir, "nope");
	CHECK_INT(dr_store_default_dir(nope, &out), DR_EINVAL);
	snprintf(want, sizeof(want), "plan directory %s: No such file or directory", nope);
	CHECK_STR(dr_error_msg(), want);
	free(nope);

	if (saved) {
		setenv("DRPLAN_STATE_DIR", saved, 1);
		free(saved);
	} else {
		unsetenv("DRPLAN_STATE_DIR");
	}
	dr_strbuf_release(&out);
	free(plans);
	free(repo);
	free(git);
	free(lone);
	testdir_free(dir);
}

TEST(append_read)
{
	dr_store *s = open_tmp("append-read");
	dr_strbuf out = DR_STRBUF_INIT;
	uint64_t n = 99;

	CHECK_INT(dr_store_read(s, "jobs/j1/journal", &out), DR_ENOTFOUND);
	check_msg(s, "jobs/j1/journal", "not found");
	CHECK_INT(dr_store_size(s, "jobs/j1/journal", &n), DR_ENOTFOUND);
	CHECK_INT(n, 0);
	CHECK_INT(dr_store_append(s, "jobs/j1/journal", "abc", 3, 5), DR_ENOTFOUND);

	CHECK_INT(dr_store_append(s, "jobs/j1/journal", "abc", 3, 0), 0);
	CHECK_INT(dr_store_append(s, "jobs/j1/journal", "def\n", 4, 3), 0);
	CHECK_INT(dr_store_read(s, "jobs/j1/journal", &out), 0);
	CHECK_STR(out.buf, "abcdef\n");
	CHECK_INT(dr_store_size(s, "jobs/j1/journal", &n), 0);
	CHECK_INT(n, 7);
	CHECK_INT(dr_store_read_range(s, "jobs/j1/journal", 2, 3, &out), 0);
	CHECK_STR(out.buf, "cde");
	CHECK_INT(dr_store_read_range(s, "jobs/j1/journal", 20, 3, &out), 0);
	CHECK_STR(out.buf, "");

	/* A retried append (same expected size) is refused, not doubled. */
	CHECK_INT(dr_store_append(s, "jobs/j1/journal", "def\n", 4, 3), DR_ECONFLICT);
	check_msg(s, "jobs/j1/journal", "size is 7 bytes, expected 3 (another writer?)");
	CHECK_INT(dr_store_read(s, "jobs/j1/journal", &out), 0);
	CHECK_STR(out.buf, "abcdef\n");

	CHECK_INT(dr_store_append(s, "../x", "a", 1, 0), DR_EINVAL);
	CHECK_INT(dr_store_append(s, "jobs/j1/journal", "", 0, 7), DR_EINVAL);

	/* out->max is honoured. */
	dr_strbuf capped = DR_STRBUF_INIT;
	capped.max = 4;
	CHECK_INT(dr_store_read(s, "jobs/j1/journal", &capped), DR_ELIMIT);
	dr_strbuf_release(&capped);

	CHECK_INT(dr_store_truncate(s, "jobs/j1/journal", 8, 7), DR_EINVAL);
	/* Only for torn tails, which stores with atomic appends never have. */
	if (dr_test_store_is_dir()) {
		CHECK_INT(dr_store_truncate(s, "jobs/j1/journal", 3, 6), DR_ECONFLICT);
		CHECK_INT(dr_store_truncate(s, "jobs/j1/journal", 3, 7), 0);
		CHECK_INT(dr_store_read(s, "jobs/j1/journal", &out), 0);
		CHECK_STR(out.buf, "abc");
	}

	CHECK_INT(dr_store_remove(s, "jobs/j1/journal"), 0);
	CHECK_INT(dr_store_remove(s, "jobs/j1/journal"), DR_ENOTFOUND);
	dr_strbuf_release(&out);
	dr_test_store_free(s);
}

TEST(two_writers)
{
	dr_store *a = open_tmp("two-writers"), *b = NULL;
	dr_strbuf out = DR_STRBUF_INIT;

	CHECK_INT(dr_store_open(dr_store_spec(a), 0, &b), 0);
	/* Both believe the log is empty; only the first wins. */
	CHECK_INT(dr_store_append(a, "log", "A1\n", 3, 0), 0);
	CHECK_INT(dr_store_append(b, "log", "B1\n", 3, 0), DR_ECONFLICT);
	CHECK_INT(dr_store_append(a, "log", "A2\n", 3, 3), 0);
	CHECK_INT(dr_store_append(b, "log", "B2\n", 3, 3), DR_ECONFLICT);
	CHECK_INT(dr_store_append(b, "log", "B3\n", 3, 6), 0);
	CHECK_INT(dr_store_read(a, "log", &out), 0);
	CHECK_STR(out.buf, "A1\nA2\nB3\n");
	dr_strbuf_release(&out);
	dr_store_free(b);
	dr_test_store_free(a);
}

TEST(put_get)
{
	dr_store *s = open_tmp("put-get");
	dr_strbuf out = DR_STRBUF_INIT;
	char *v1 = NULL, *v2 = NULL, *v = NULL;

	CHECK_INT(dr_store_get(s, "sim/state.json", &out, &v), DR_ENOTFOUND);
	CHECK(v == NULL);
	CHECK_INT(dr_store_put(s, "sim/state.json", "{}", 2, "", &v1), 0);
	CHECK(v1 && *v1);
	/* Versions are opaque; the directory store's is a content hash. */
	if (dr_test_store_is_dir())
		CHECK_STR(v1, "44136fa355b3678a1146ad16f7e8649e"); /* sha256("{}") */
	CHECK_INT(dr_store_put(s, "sim/state.json", "{}", 2, "", NULL), DR_ECONFLICT);
	check_msg(s, "sim/state.json", "already exists");
	CHECK_INT(dr_store_get(s, "sim/state.json", &out, &v), 0);
	CHECK_STR(out.buf, "{}");
	CHECK_STR(v, v1);
	free(v);
	CHECK_INT(dr_store_put(s, "sim/state.json", "{\"a\":1}", 7, v1, &v2), 0);
	CHECK(strcmp(v1, v2) != 0);
	/* A stale version loses. */
	CHECK_INT(dr_store_put(s, "sim/state.json", "{\"b\":2}", 7, v1, NULL), DR_ECONFLICT);
	check_msg(s, "sim/state.json", "changed since it was read");
	CHECK_INT(dr_store_put(s, "sim/other.json", "x", 1, v1, NULL), DR_ECONFLICT);
	CHECK_INT(dr_store_put(s, "sim/state.json", "{\"c\":3}", 7, NULL, NULL), 0);
	CHECK_INT(dr_store_get(s, "sim/state.json", &out, NULL), 0);
	CHECK_STR(out.buf, "{\"c\":3}");
	free(v1);
	free(v2);
	dr_strbuf_release(&out);
	dr_test_store_free(s);
}

static int collect(void *ctx, const char *key)
{
	dr_strbuf *sb = ctx;

	dr_strbuf_addstr(sb, key);
	dr_strbuf_addch(sb, ' ');
	return 0;
}

static int stop_at_second(void *ctx, const char *key)
{
	int *n = ctx;

	return ++*n == 2 ? 42 : 0;
}

TEST(list)
{
	dr_store *s = open_tmp("list");
	dr_strbuf out = DR_STRBUF_INIT;
	int n = 0;

	CHECK_INT(dr_store_list(s, "jobs/", collect, &out), 0);
	CHECK_STR(out.buf, "");
	CHECK_INT(dr_store_append(s, "jobs/b/journal", "x", 1, 0), 0);
	CHECK_INT(dr_store_append(s, "jobs/a/journal", "x", 1, 0), 0);
	CHECK_INT(dr_store_put(s, "jobs/a/meta.json", "{}", 2, NULL, NULL), 0);
	CHECK_INT(dr_store_put(s, "sim/state.json", "{}", 2, NULL, NULL), 0);
	CHECK_INT(dr_store_append(s, "jobsx", "x", 1, 0), 0);
	if (dr_test_store_is_dir()) {
		/* A put's temporary file, left by a crash, is not an object. */
		char *tmp = testdir_path(dr_store_spec(s), "jobs/a/.tmp-meta.json.1.0");
		CHECK_INT(testdir_write(tmp, "junk", 4), 0);
		free(tmp);
	}

	CHECK_INT(dr_store_list(s, "jobs/", collect, &out), 0);
	CHECK_STR(out.buf, "jobs/a/journal jobs/a/meta.json jobs/b/journal ");
	dr_strbuf_reset(&out);
	CHECK_INT(dr_store_list(s, "", collect, &out), 0);
	CHECK_STR(out.buf, "jobs/a/journal jobs/a/meta.json jobs/b/journal jobsx "
			   "sim/state.json ");
	dr_strbuf_reset(&out);
	CHECK_INT(dr_store_list(s, "jobs", collect, &out), 0);
	CHECK_STR(out.buf, "jobs/a/journal jobs/a/meta.json jobs/b/journal jobsx ");
	dr_strbuf_reset(&out);
	CHECK_INT(dr_store_list(s, "jobs/a/m", collect, &out), 0);
	CHECK_STR(out.buf, "jobs/a/meta.json ");
	CHECK_INT(dr_store_list(s, "", stop_at_second, &n), 42);
	CHECK_INT(n, 2);
	CHECK_INT(dr_store_list(s, "../", collect, &out), DR_EINVAL);
	dr_strbuf_release(&out);
	dr_test_store_free(s);
}

static const char *holder_a =
	"{\"job\":\"erp-failover-20261125T130355Z-3f2a\",\"host\":\"runner1\","
	"\"pid\":1234,\"since\":\"2026-11-25T13:05:00Z\"}";

TEST(lock_conflict)
{
	dr_store *s = open_tmp("lock-conflict"), *s2 = NULL;
	dr_store_lock *l = NULL, *l2 = NULL;
	char *holder = NULL;

	CHECK_INT(dr_store_open(dr_store_spec(s), 0, &s2), 0);
	CHECK_INT(dr_store_lock_acquire(s, "erp", holder_a, 30000, &l, NULL), 0);
	CHECK_STR(dr_store_lock_holder(l), holder_a);
	CHECK_INT(dr_store_lock_renew(l), 0);
	/* Same process, another handle: refused, with the holder. */
	CHECK_INT(dr_store_lock_acquire(s2, "erp", "{}", 30000, &l2, &holder), DR_ECONFLICT);
	CHECK(l2 == NULL);
	CHECK_STR(holder, holder_a);
	CHECK_STR(dr_error_msg(), "lock 'erp' is held by job erp-failover-20261125T130355Z-3f2a "
				  "on host runner1 (pid 1234) since 2026-11-25T13:05:00Z");
	free(holder);
	holder = NULL;
	/* The same handle, again: refused too. */
	CHECK_INT(dr_store_lock_acquire(s, "erp", "{}", 30000, &l2, NULL), DR_ECONFLICT);
	CHECK(l2 == NULL);
	/* Renewing keeps it. */
	CHECK_INT(dr_store_lock_renew(l), 0);
	CHECK_INT(dr_store_lock_acquire(s2, "erp", "{}", 30000, &l2, NULL), DR_ECONFLICT);
	/* Other names are independent. */
	CHECK_INT(dr_store_lock_acquire(s2, "crm", "{}", 30000, &l2, NULL), 0);
	CHECK_INT(dr_store_lock_release(l2), 0);
	CHECK_INT(dr_store_lock_acquire(s2, "a/b", "{}", 30000, &l2, NULL), DR_EINVAL);

	CHECK_INT(dr_store_lock_release(l), 0);
	/* Released: the lock is free and the next holder is the one reported. */
	CHECK_INT(dr_store_lock_acquire(s2, "erp", "{\"job\":\"j2\"}", 30000, &l2, NULL), 0);
	CHECK_INT(dr_store_lock_acquire(s, "erp", "{}", 30000, &l, &holder), DR_ECONFLICT);
	CHECK_STR(holder, "{\"job\":\"j2\"}");
	CHECK_STR(dr_error_msg(), "lock 'erp' is held by job j2");
	free(holder);
	CHECK_INT(dr_store_lock_release(l2), 0);
	CHECK_INT(dr_store_lock_release(NULL), 0);
	dr_store_free(s2);
	dr_test_store_free(s);
}

/* The directory store's lock is a file: released, it is emptied; removed,
 * the holder finds out at its next renew. */
TEST(lock_file_removed)
{
	DR_TEST_DIR_ONLY("locks/<name>.lock files and flock(2)");
	dr_store *s = open_tmp("lock-file");
	const char *dir = dr_store_spec(s);
	dr_store_lock *l = NULL;

	CHECK_INT(dr_store_lock_acquire(s, "erp", holder_a, 0, &l, NULL), 0);
	CHECK_INT(dr_store_lock_release(l), 0);
	char *path = testdir_path(dir, "locks/erp.lock");
	size_t len = 99;
	char *content = testdir_slurp(path, &len);
	CHECK_INT(len, 0);
	free(content);
	CHECK_INT(dr_store_lock_acquire(s, "erp", "{\"job\":\"j2\"}", 0, &l, NULL), 0);

	/* Someone deletes the lock file: renew reports the lock lost. */
	CHECK_INT(unlink(path), 0);
	CHECK_INT(dr_store_lock_renew(l), DR_ECONFLICT);
	char msg[512];
	snprintf(msg, sizeof(msg), "state store %s: lock 'erp' lost: %s was removed or replaced",
		 dir, path);
	CHECK_STR(dr_error_msg(), msg);
	CHECK_INT(dr_store_lock_release(l), 0);
	free(path);
	dr_test_store_free(s);
}

/*
 * A lease that is not renewed expires: the next taker gets it and the old
 * holder's renew says the lock is lost. Lease-based stores only (the
 * directory store's flock lasts as long as the process).
 */
TEST(lock_lease_expires)
{
	if (dr_test_store_is_dir()) {
		printf("skip %s under dir: lease-based stores only (flock has no ttl)\n",
		       __func__);
		return;
	}
	dr_store *s = open_tmp("lock-lease"), *s2 = NULL;
	dr_store_lock *l = NULL, *l2 = NULL;
	char want[256];

	CHECK_INT(dr_store_open(dr_store_spec(s), 0, &s2), 0);
	CHECK_INT(dr_store_lock_acquire(s, "erp", holder_a, 15000, &l, NULL), 0);
	CHECK_INT(dr_store_lock_acquire(s2, "erp", "{}", 15000, &l2, NULL), DR_ECONFLICT);
	sleep(17);
	CHECK_INT(dr_store_lock_acquire(s2, "erp", "{\"job\":\"j2\"}", 15000, &l2, NULL), 0);
	CHECK_INT(dr_store_lock_renew(l), DR_ECONFLICT);
	snprintf(want, sizeof(want), "state store %s: lock 'erp' lost", dr_store_spec(s));
	CHECK(strncmp(dr_error_msg(), want, strlen(want)) == 0);
	CHECK_INT(dr_store_lock_renew(l2), 0);
	dr_store_lock_release(l);
	CHECK_INT(dr_store_lock_release(l2), 0);
	dr_store_free(s2);
	dr_test_store_free(s);
}

TEST(lock_describe)
{
	dr_strbuf sb = DR_STRBUF_INIT;

	dr_store_lock_describe("{\"host\":\"h\",\"pid\":7}", &sb);
	CHECK_STR(sb.buf, "on host h (pid 7)");
	dr_strbuf_reset(&sb);
	dr_store_lock_describe("", &sb);
	CHECK_STR(sb.buf, "an unknown holder");
	dr_strbuf_reset(&sb);
	dr_store_lock_describe("{broken", &sb);
	CHECK_STR(sb.buf, "an unknown holder");
	dr_strbuf_reset(&sb);
	dr_store_lock_describe("{}", &sb);
	CHECK_STR(sb.buf, "an unknown holder");
	dr_strbuf_release(&sb);
}

/* A child takes the lock and dies (normally or by SIGKILL): the lock is free. */
static void lock_child_dies(int how)
{
	char *dir = testdir_new();

	int to_parent[2];
	char c = 0;

	CHECK_INT(pipe(to_parent), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dr_store *cs = NULL;
		dr_store_lock *cl = NULL;
		close(to_parent[0]);
		if (dr_store_open(dir, 0, &cs) ||
		    dr_store_lock_acquire(cs, "erp", "{\"job\":\"child\",\"pid\":1}", 0, &cl, NULL))
			_exit(3);
		c = 'L';
		if (write(to_parent[1], &c, 1) != 1)
			_exit(4);
		if (how == 0)
			_exit(0); /* no unlock: the kernel releases the flock */
		for (;;)
			pause();
	}
	close(to_parent[1]);
	CHECK_INT(read(to_parent[0], &c, 1), 1);
	CHECK_INT(c, 'L');

	dr_store *s = NULL;
	dr_store_lock *l = NULL;
	char *holder = NULL;
	CHECK_INT(dr_store_open(dir, 0, &s), 0);
	if (how == 1) {
		CHECK_INT(dr_store_lock_acquire(s, "erp", "{}", 0, &l, &holder), DR_ECONFLICT);
		CHECK_STR(holder, "{\"job\":\"child\",\"pid\":1}");
		free(holder);
		kill(pid, SIGKILL);
	}
	int status = 0;
	CHECK_INT(waitpid(pid, &status, 0), pid);
	if (how == 0)
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	else
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK_INT(dr_store_lock_acquire(s, "erp", "{\"job\":\"parent\"}", 0, &l, NULL), 0);
	dr_store_lock_release(l);
	close(to_parent[0]);
	dr_store_free(s);
	testdir_free(dir);
}

TEST(lock_released_on_exit)
{
	DR_TEST_DIR_ONLY("flock(2) ends with the process");
	lock_child_dies(0);
}

TEST(lock_released_on_sigkill)
{
	DR_TEST_DIR_ONLY("flock(2) ends with the process, kill -9 included");
	lock_child_dies(1);
}

TEST(append_io_failures)
{
	DR_TEST_DIR_ONLY("fsync and ENOSPC injection through the dr_fileio layer");
	char *dir = testdir_new();
	dr_crashio *c = dr_crashio_new();
	dr_store *s = NULL;
	dr_strbuf out = DR_STRBUF_INIT;
	char msg[512];

	CHECK_INT(dr_store_dir_open(dir, dr_crashio_fileio(c), 0, &s), 0);
	CHECK_INT(dr_store_append(s, "log", "one\n", 4, 0), 0);

	/* fsync fails: an error, and the bytes are taken back. */
	dr_crashio_fail_fsync(c, 0, 1);
	CHECK_INT(dr_store_append(s, "log", "two\n", 4, 4), DR_EIO);
	snprintf(msg, sizeof(msg), "state store %s: log: fsync: Input/output error", dir);
	CHECK_STR(dr_error_msg(), msg);
	CHECK_INT(dr_store_read(s, "log", &out), 0);
	CHECK_STR(out.buf, "one\n");

	/* Out of space mid-write: an error, and no partial bytes stay. */
	dr_crashio_enospc_after(c, 2);
	CHECK_INT(dr_store_append(s, "log", "three\n", 6, 4), DR_EIO);
	snprintf(msg, sizeof(msg), "state store %s: log: write: No space left on device", dir);
	CHECK_STR(dr_error_msg(), msg);
	dr_crashio_enospc_after(c, -1);
	CHECK_INT(dr_store_read(s, "log", &out), 0);
	CHECK_STR(out.buf, "one\n");
	CHECK_INT(dr_store_append(s, "log", "four\n", 5, 4), 0);
	CHECK_INT(dr_store_read(s, "log", &out), 0);
	CHECK_STR(out.buf, "one\nfour\n");

	/* Power loss right after a durable append keeps it. */
	dr_crashio_crash(c, DR_CRASH_POWER);
	CHECK_INT(dr_store_read(s, "log", &out), 0);
	CHECK_STR(out.buf, "one\nfour\n");

	/* A new log whose directory fsync fails is not reported as durable. */
	dr_crashio_fail_fsync(c, 2, 1);
	CHECK_INT(dr_store_append(s, "new/log", "x\n", 2, 0), DR_EIO);
	dr_crashio_crash(c, DR_CRASH_POWER);
	CHECK_INT(dr_store_read(s, "new/log", &out), DR_ENOTFOUND);

	dr_strbuf_release(&out);
	dr_store_free(s);
	dr_crashio_free(c);
	testdir_free(dir);
}

/*
 * put() under a crash at every byte of the new content, and between the
 * rename and the directory fsync: afterwards the object holds the old or
 * the new content, never anything else.
 */
static int list_names(void *ctx, const char *name, int is_dir)
{
	dr_strbuf_addstr(ctx, name);
	dr_strbuf_addch(ctx, ' ');
	return 0;
}

TEST(put_atomic_under_crash)
{
	DR_TEST_DIR_ONLY("crash injection through the dr_fileio layer");
	char *dir = testdir_new();
	dr_crashio *c = dr_crashio_new();
	dr_store *s = NULL;
	dr_strbuf out = DR_STRBUF_INIT;
	const char *oldv = "{\"state\":\"old\",\"n\":1}";
	const char *newv = "{\"state\":\"new and longer\",\"n\":2}";
	size_t nlen = strlen(newv);
	int bad = 0, saw_new = 0;

	CHECK_INT(dr_store_dir_open(dir, dr_crashio_fileio(c), 0, &s), 0);
	for (int mode = 0; mode < 2; mode++) {
		for (size_t k = 0; k <= nlen; k++) {
			CHECK_INT(dr_store_put(s, "sim/state.json", oldv, strlen(oldv), NULL,
					       NULL), 0);
			dr_crashio_crash_after(c, (long long)k);
			int rc = dr_store_put(s, "sim/state.json", newv, nlen, NULL, NULL);
			if (k < nlen && rc != DR_EIO)
				bad++;
			dr_crashio_crash(c, mode ? DR_CRASH_POWER : DR_CRASH_KILL);
			if (dr_store_get(s, "sim/state.json", &out, NULL) != 0)
				bad++;
			else if (strcmp(out.buf, oldv) && strcmp(out.buf, newv))
				bad++;
			else if (!strcmp(out.buf, newv))
				saw_new++;
		}
	}
	CHECK_INT(bad, 0);
	/* Only the runs where the whole write got through may show the new one. */
	CHECK_INT(saw_new, 2);

	/*
	 * Renamed, but the directory fsync failed: an error; power loss then
	 * brings back the old content, a killed process keeps the new one.
	 */
	for (int mode = 0; mode < 2; mode++) {
		CHECK_INT(dr_store_put(s, "sim/state.json", oldv, strlen(oldv), NULL, NULL), 0);
		dr_crashio_fail_fsync(c, 1, 1);
		CHECK_INT(dr_store_put(s, "sim/state.json", newv, nlen, NULL, NULL), DR_EIO);
		dr_crashio_crash(c, mode ? DR_CRASH_POWER : DR_CRASH_KILL);
		CHECK_INT(dr_store_get(s, "sim/state.json", &out, NULL), 0);
		CHECK_STR(out.buf, mode ? oldv : newv);
	}
	/* A failed file fsync leaves the old content and no temporary file. */
	dr_crashio_fail_fsync(c, 0, 1);
	CHECK_INT(dr_store_put(s, "sim/state.json", newv, nlen, NULL, NULL), DR_EIO);
	CHECK_INT(dr_store_get(s, "sim/state.json", &out, NULL), 0);
	CHECK_STR(out.buf, oldv);
	dr_strbuf keys = DR_STRBUF_INIT;
	char *simdir = testdir_path(dir, "sim");
	CHECK_INT(dr_fileio_posix()->list_dir(NULL, simdir, list_names, &keys), 0);
	CHECK_STR(keys.buf, "state.json ");
	free(simdir);
	dr_strbuf_release(&keys);
	dr_strbuf_release(&out);
	dr_store_free(s);
	dr_crashio_free(c);
	testdir_free(dir);
}

int main(void)
{
	if (dr_test_store_check())
		return 1;
	RUN(key_valid);
	RUN(open_errors);
	RUN(default_dir);
	RUN(append_read);
	RUN(two_writers);
	RUN(put_get);
	RUN(list);
	RUN(lock_conflict);
	RUN(lock_file_removed);
	RUN(lock_lease_expires);
	RUN(lock_describe);
	RUN(lock_released_on_exit);
	RUN(lock_released_on_sigkill);
	RUN(append_io_failures);
	RUN(put_atomic_under_crash);
	return test_summary();
}
