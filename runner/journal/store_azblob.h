/*
 * store_azblob.h - the state store in an Azure Blob Storage container.
 *
 * Spec: azblob://ACCOUNT/CONTAINER[/PREFIX]. The key K is the blob
 * PREFIX/K (or K without a prefix) in CONTAINER. Credentials and endpoint:
 * journal/azblob.h. With DR_STORE_CREATE a missing container is created.
 *
 *   log objects     append blobs. dr_store_append() sends Append Block with
 *                   x-ms-blob-condition-appendpos = expected_size (Azure
 *                   answers 412 AppendPositionConditionNotMet when the blob
 *                   has another size: DR_ECONFLICT). expected_size 0 first
 *                   creates the blob with If-None-Match: *. An append whose
 *                   first attempt had an unknown outcome (reset, timeout,
 *                   5xx) and whose retry then conflicts is decided by
 *                   reading the bytes at expected_size: our bytes there are
 *                   success, anything else DR_ECONFLICT. Appends are atomic,
 *                   so dr_store_truncate() is not supported (DR_EINVAL). An
 *                   append blob takes at most 50,000 appends (DR_ELIMIT).
 *   whole objects   block blobs written by one Put Blob with If-Match: ETAG
 *                   or If-None-Match: *; the version is the ETag.
 *   locks           a lease on the blob locks/NAME.lock, whose content is
 *                   the holder's JSON (written under the lease, cleared on
 *                   release). ttl_ms > 0 asks for a lease of ttl_ms rounded
 *                   up to whole seconds, clamped to Azure's 15-60 s; the
 *                   holder must renew within that time, and renew also
 *                   fails (DR_ECONFLICT) when the local clock says the lease
 *                   ran out since the last successful renew (a runner cut
 *                   off from Azure must stop by itself). ttl_ms 0 (callers
 *                   that do not renew) takes a 60 s lease that the store
 *                   renews itself, during any of its calls, once 20 s have
 *                   passed: an attached runner polls its control object
 *                   every second, so the lock lives while the process does
 *                   and frees itself within 60 s of its death (kill -9
 *                   included). Should it lapse while idle, Azure renews it
 *                   only if nobody leased the blob meanwhile; otherwise the
 *                   lock is lost and dr_store_lock_renew() says so.
 *                   $DRPLAN_LOCK_TTL (store.h) replaces the 60 s (tests: a
 *                   dead holder's lock frees in 15 s); a bad value makes
 *                   dr_store_azblob_open() fail with DR_EINVAL.
 *
 * The store is synchronous: every call is one or a few HTTP requests on the
 * store's own connection, with bounded retries of transient faults.
 */
#ifndef DR_STORE_AZBLOB_H
#define DR_STORE_AZBLOB_H

#include "journal/azblob.h"
#include "journal/store.h"

/* The prefix of specs this store takes. */
#define DR_STORE_AZBLOB_SCHEME "azblob://"

/* Open spec with explicit client options (NULL: the environment only). */
int dr_store_azblob_open(const char *spec, const dr_azblob_opts *opts, unsigned flags,
			 dr_store **out);

/* The lease duration in seconds used for ttl_ms. */
int dr_store_azblob_lease_seconds(unsigned ttl_ms);

#endif
