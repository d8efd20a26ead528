/*
 * teststore.h - the state store a test of jobs, journals, resume or locks
 * runs against, so the same test runs against every store.
 *
 * $DRPLAN_TEST_STORE names the base:
 *   unset or empty   a fresh directory /tmp/drplan-<name>-XXXXXX per store,
 *                    as the tests always had (testdir.h);
 *   a directory      a fresh directory <base>/drplan-<name>-XXXXXX;
 *   azblob://ACCOUNT/CONTAINER[/PREFIX]
 *                    a fresh, unique prefix under it per store
 *                    (".../<name>-<pid>-<n>-<random>"), so tests never see
 *                    each other's objects (tests/azurite/with-azurite.sh
 *                    sets this and AZURE_STORAGE_CONNECTION_STRING).
 *
 * A test that is about the directory store itself (file permissions,
 * fsync and crash injection through the dr_fileio layer, torn tails made
 * by cutting files, flock after kill -9) says so with DR_TEST_DIR_ONLY(why)
 * at its top: under another store it prints why and counts as passed.
 *
 * Everything is static inline: tests/unit/test-*.c are separate programs
 * with no shared helper library.
 */
#ifndef DR_TESTSTORE_H
#define DR_TESTSTORE_H

#include "testdir.h"

#include "core/error.h"
#include "journal/store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The base spec, or NULL for the default (a directory under /tmp). */
static inline const char *dr_test_store_base(void)
{
	const char *b = getenv("DRPLAN_TEST_STORE");

	return b && *b ? b : NULL;
}

/* 1 when the tests run against a directory store (the default). */
static inline int dr_test_store_is_dir(void)
{
	const char *b = dr_test_store_base();

	return !b || strncmp(b, "azblob://", 9) != 0;
}

/* "dir" or "azblob", for messages. */
static inline const char *dr_test_store_kind(void)
{
	return dr_test_store_is_dir() ? "dir" : "azblob";
}

/*
 * Skip the rest of the calling TEST under any store but a directory,
 * saying why; the test counts as passed (there is nothing of it to run).
 */
#define DR_TEST_DIR_ONLY(why)                                                  \
	do {                                                                   \
		if (!dr_test_store_is_dir()) {                                 \
			printf("skip %s under %s: directory store only: %s\n", \
			       __func__, dr_test_store_kind(), (why));          \
			return;                                                \
		}                                                              \
	} while (0)

/*
 * A fresh store spec for one test; name (a few [a-z0-9-] characters) only
 * makes it recognisable. The directory is created; an azblob prefix needs
 * no creating. Free with dr_test_store_spec_free(), which deletes
 * whatever the test stored there.
 */
static inline char *dr_test_store_spec_new(const char *name)
{
	static unsigned counter;
	const char *base = dr_test_store_base();
	char clean[48], *spec;
	size_t k = 0, n;
	struct timespec ts;

	for (const char *p = name ? name : "t"; *p && k + 1 < sizeof(clean); p++)
		clean[k++] = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			     *p == '-' ? *p : (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a')
			     : '-';
	clean[k] = '\0';
	if (dr_test_store_is_dir()) {
		n = (base ? strlen(base) : 4) + k + 32;
		spec = malloc(n);
		snprintf(spec, n, "%s/drplan-%s-XXXXXX", base ? base : "/tmp", clean);
		if (!mkdtemp(spec)) {
			perror("mkdtemp");
			abort();
		}
		return spec;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	n = strlen(base) + k + 64;
	spec = malloc(n);
	snprintf(spec, n, "%s%s%s-%ld-%u-%lx", base, base[strlen(base) - 1] == '/' ? "" : "/",
		 clean, (long)getpid(), counter++,
		 (unsigned long)((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20)) & 0xffffffu);
	return spec;
}

static inline int dr_test_store_rm_key(void *ctx, const char *key)
{
	dr_store_remove(ctx, key);
	return 0;
}

/* Delete what a test stored under spec, and free spec. NULL is allowed. */
static inline void dr_test_store_spec_free(char *spec)
{
	dr_store *s = NULL;

	if (!spec)
		return;
	if (strncmp(spec, "azblob://", 9) != 0) {
		testdir_free(spec);
		return;
	}
	if (dr_store_open(spec, 0, &s) == 0) {
		dr_store_list(s, "", dr_test_store_rm_key, s);
		dr_store_free(s);
	}
	free(spec);
}

/*
 * Open a fresh store for one test (see dr_test_store_spec_new). On
 * failure *out is NULL, the reason is printed and the error returned.
 * Open the same store a second time (a second process, a second writer)
 * with dr_store_open(dr_store_spec(s), 0, &s2).
 */
static inline int dr_test_store_open(const char *name, dr_store **out)
{
	char *spec = dr_test_store_spec_new(name);
	int rc = dr_store_open(spec, DR_STORE_CREATE, out);

	if (rc) {
		fprintf(stderr, "test store %s: %s\n", spec, dr_error_msg());
		dr_test_store_spec_free(spec);
		return rc;
	}
	free(spec);
	return 0;
}

/*
 * For main(): 0 when a test store can be opened (and is removed again),
 * else the reason is printed and 1 returned, so a test program fails
 * once, clearly, instead of in every test.
 */
static inline int dr_test_store_check(void)
{
	char *spec = dr_test_store_spec_new("check");
	dr_store *s = NULL;
	int rc = dr_store_open(spec, DR_STORE_CREATE, &s);

	if (rc)
		fprintf(stderr, "cannot open a test store (DRPLAN_TEST_STORE=%s): %s\n",
			dr_test_store_base() ? dr_test_store_base() : "", dr_error_msg());
	dr_store_free(s);
	dr_test_store_spec_free(spec);
	return rc ? 1 : 0;
}

/* Free a store from dr_test_store_open() and delete what it holds. */
static inline void dr_test_store_free(dr_store *s)
{
	char *spec;

	if (!s)
		return;
	spec = strdup(dr_store_spec(s));
	dr_store_free(s);
	dr_test_store_spec_free(spec);
}

#endif
