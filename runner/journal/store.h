/*
 * store.h - the state store: where jobs keep their journals, metadata and
 * locks.
 *
 * A store maps keys to objects. Keys are relative paths of components made
 * of [A-Za-z0-9._-], separated by single '/', no component empty, "." or
 * "..", or starting with '.' (those names are the store's own), at most
 * DR_STORE_KEY_MAX bytes: "jobs/<job-id>/journal", "jobs/<job-id>/meta.json",
 * "sim/state.json". Every operation returns 0 or a DR_E* code and leaves an
 * explanation in dr_error_msg() naming the store and the key.
 *
 * Two kinds of objects, matching what Azure Blob Storage offers:
 *
 *   log objects       grown only by dr_store_append(), guarded by the
 *                     expected current size (Azure: append blob with
 *                     x-ms-blob-condition-appendpos). Two writers can never
 *                     interleave, and an append retried after an unknown
 *                     outcome fails with DR_ECONFLICT instead of being
 *                     written twice: the caller then reads the object to see
 *                     whether its bytes are there.
 *   whole objects     replaced atomically by dr_store_put(), guarded by a
 *                     version (Azure: block blob with If-Match/If-None-Match
 *                     on the ETag). A reader sees the old or the new
 *                     content, never a mix.
 *
 * Durability: when a call that writes returns 0, the change survives a crash
 * or power loss. When it fails, the caller must treat the outcome as unknown
 * until it reads the object again (the store undoes what it can).
 *
 * Locks: dr_store_lock_acquire() takes a named exclusive lock ("one runner per plan")
 * and records the holder's JSON so a refused runner can say who holds it.
 * The directory store uses flock(2) on locks/<name>.lock, held by the open
 * descriptor: it ends when the process ends, however it ends (kill -9
 * included), so ttl_ms is ignored and renew() only checks the lock file was
 * not deleted under us. A lease-based store (Azure blob leases, 15-60 s or
 * infinite) expires a lock that is not renewed within ttl_ms; the holder
 * must call dr_store_lock_renew() well within ttl_ms, and when renew fails
 * with DR_ECONFLICT the lock is lost: the holder must not start any new step
 * (steps in flight finish and are journaled; the job then stops and can be
 * resumed by whoever takes the lock next).
 */
#ifndef DR_STORE_H
#define DR_STORE_H

#include "core/strbuf.h"
#include "journal/fileio.h"

#include <stddef.h>
#include <stdint.h>

#define DR_STORE_KEY_MAX 512
/* One append carries at most this much (Azure: 4 MiB per append block). */
#define DR_STORE_APPEND_MAX (4u << 20)
/* dr_store_read()/dr_store_get() refuse larger objects. */
#define DR_STORE_READ_MAX (64u << 20)

typedef struct dr_store dr_store;
typedef struct dr_store_lock dr_store_lock;

/* Called for each key in order; a non-zero return stops and is returned. */
typedef int (*dr_store_list_fn)(void *ctx, const char *key);

enum {
	/* dr_store_open(): create a missing directory (and its parents). */
	DR_STORE_CREATE = 1u << 0,
};

/*
 * Open the store named by spec: "azblob://ACCOUNT/CONTAINER[/PREFIX]" for
 * Azure Blob Storage (journal/store_azblob.h: layout, credentials, leases),
 * else a directory path. Without DR_STORE_CREATE the directory (or the
 * container) must exist. The directory must be writable: errors read "state
 * store /x: permission denied" etc.
 */
int dr_store_open(const char *spec, unsigned flags, dr_store **out);

/* The directory store with an explicit file layer (tests use a crashing one). */
int dr_store_dir_open(const char *path, const dr_fileio *io, unsigned flags,
		      dr_store **out);

/* Free the store. Release its locks and close its journals first. */
void dr_store_free(dr_store *s);

/* The spec the store was opened with. */
const char *dr_store_spec(const dr_store *s);

/*
 * Where the state lives when the user does not say (out receives a spec for
 * dr_store_open()):
 *   0. $DRPLAN_STATE when set and non-empty: any spec, e.g. azblob://...;
 *   1. else $DRPLAN_STATE_DIR when set and non-empty;
 *   2. else what <root>/.drplan/config says ("state: SPEC"; a relative
 *      directory is taken from <root>), where <root> is the nearest
 *      ancestor of plan_dir (plan_dir included, after resolving it to an
 *      absolute path) that contains a ".git" entry (directory or file, so
 *      worktrees work), else plan_dir; an unknown setting there is DR_EINVAL;
 *   3. else <root>/.drplan/state.
 * The state follows the plan's repository, so two checkouts do not share
 * locks by accident; set DRPLAN_STATE_DIR to share one store. The rule lives
 * only here. out is reset and receives the path.
 */
int dr_store_default_dir(const char *plan_dir, dr_strbuf *out);

/*
 * $DRPLAN_LOCK_TTL: the lease length of locks whose holder does not ask for
 * one: locks taken with ttl_ms 0 on a lease store, and a job's locks
 * (exec/job.h lock_ttl_ms 0). 15 to 60 seconds ("15" or "15s"), Azure's
 * range, so that a dead holder's lock frees in 15 s instead of 60 (tests).
 * *ms_out: the value in ms, or 0 when unset or empty. Anything else is
 * DR_EINVAL with a message naming the variable. The directory store has no
 * leases and ignores it.
 */
int dr_store_lock_ttl_env(unsigned *ms_out);

/* 0 when key is well formed, else DR_EINVAL with a message. */
int dr_store_key_valid(const char *key);

/*
 * Append len bytes to log object key, which must currently be exactly
 * expected_size bytes long: else DR_ECONFLICT. expected_size 0 creates the
 * object when missing; a missing object with expected_size > 0 is
 * DR_ENOTFOUND. len is at most DR_STORE_APPEND_MAX (DR_ELIMIT). Durable on
 * return; on failure the bytes are removed again where possible.
 */
int dr_store_append(dr_store *s, const char *key, const void *data, size_t len,
		    uint64_t expected_size);

/*
 * Read object key into out (reset first). The whole object when max is 0
 * (DR_ELIMIT above DR_STORE_READ_MAX or out->max), else at most max bytes
 * from offset. DR_ENOTFOUND when absent.
 */
int dr_store_read(dr_store *s, const char *key, dr_strbuf *out);
int dr_store_read_range(dr_store *s, const char *key, uint64_t offset, size_t max,
			dr_strbuf *out);

/* Current size of object key; DR_ENOTFOUND when absent. */
int dr_store_size(dr_store *s, const char *key, uint64_t *size);

/*
 * Cut log object key back to new_size bytes if it is exactly expected_size
 * bytes long (else DR_ECONFLICT). Only for removing a torn tail found by
 * replay. Durable on return; a crash before that leaves either size, which
 * replay handles. Stores whose appends are atomic never produce torn tails
 * and may not support this (DR_EINVAL).
 */
int dr_store_truncate(dr_store *s, const char *key, uint64_t new_size,
		      uint64_t expected_size);

/*
 * Replace whole object key atomically with data. if_match: NULL = any state,
 * "" = the object must not exist, else the object's current version must be
 * if_match; otherwise DR_ECONFLICT. On success *new_version (if not NULL)
 * receives the new version, caller frees. Versions are opaque strings (the
 * directory store uses a content hash, so writing the same bytes again gives
 * the same version).
 */
int dr_store_put(dr_store *s, const char *key, const void *data, size_t len,
		 const char *if_match, char **new_version);

/* Read whole object key and its version (*version may be NULL to skip). */
int dr_store_get(dr_store *s, const char *key, dr_strbuf *out, char **version);

/*
 * Call fn for every key that starts with prefix ("" for all), in strcmp
 * order. Only objects are listed, not directories or internal files.
 */
int dr_store_list(dr_store *s, const char *prefix, dr_store_list_fn fn, void *ctx);

/* Delete object key; DR_ENOTFOUND when absent. */
int dr_store_remove(dr_store *s, const char *key);

/*
 * Take the exclusive lock name (one key component, e.g. the plan name)
 * without waiting. holder_json describes the holder (by convention an object
 * with "job", "host", "pid", "since"; see dr_store_lock_describe()). On
 * success *out is the held lock. When someone else holds it: DR_ECONFLICT,
 * a message "lock 'erp' is held by job ... on host ... (pid ...) since ...",
 * and *holder_out (if not NULL) receives the holder's JSON, caller frees;
 * it is "" when the holder has not written it yet. ttl_ms: see above.
 * A second dr_store_lock_acquire() on the same name in the same process conflicts too.
 */
int dr_store_lock_acquire(dr_store *s, const char *name, const char *holder_json,
		  unsigned ttl_ms, dr_store_lock **out, char **holder_out);

/*
 * Keep the lock: extends a lease; for the directory store checks that the
 * lock file is still the one locked. DR_ECONFLICT: the lock is lost (see the
 * rules above).
 */
int dr_store_lock_renew(dr_store_lock *l);

/* Release the lock, clear the holder and free l. NULL is allowed. */
int dr_store_lock_release(dr_store_lock *l);

/* The holder JSON this lock was taken with. */
const char *dr_store_lock_holder(const dr_store_lock *l);

/*
 * Append a one-line human description of holder_json to out: "job J on host
 * H (pid P) since S"; missing fields are left out, and unreadable or empty
 * JSON gives "an unknown holder".
 */
void dr_store_lock_describe(const char *holder_json, dr_strbuf *out);

#endif
