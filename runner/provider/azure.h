/*
 * azure.h - the `azure` provider: ASR over ARM REST, on the loop.
 *
 * Implements provider.h against a Recovery Services vault with libcurl
 * (exec/http.h) and the Azure credential chain (provider/azauth.h). How it
 * behaves on the wire (long-running operations, throttling and write
 * pacing, retries, reconciliation after an ambiguous failure) is written
 * down in docs/azure.md; keep that page and this file in step.
 *
 * Items are addressed by machine name = ASR friendlyName. The provider lists
 * the vault's replicationProtectedItems once (following nextLink) and keeps
 * friendlyName -> ARM id; a miss or a 404 on a cached id lists again once.
 *
 * Retries. GETs are retried on 5xx, timeouts and dropped connections with
 * exponential backoff and jitter. 401 gets one token refresh and one resend
 * (the request was not processed). 429 waits Retry-After and resends, for
 * every method (a throttled request was not processed). State-changing POSTs
 * are never re-sent after an ambiguous failure (timeout, reset, 5xx): the
 * provider asks ASR about the item (currentScenario) and its recent jobs
 * and adopts the job when the operation was accepted; otherwise the start
 * callback gets DR_EIO (DR_EAGAIN for 5xx) and the executor decides, as
 * provider.h says.
 *
 * Ownership: dr_azure_new returns the provider state; dr_azure_provider()
 * is its provider face (same lifetime). dr_provider_open("azure", opts, ...)
 * returns a provider that owns it. Free before the loop.
 */
#ifndef DR_AZURE_H
#define DR_AZURE_H

#include "exec/loop.h"
#include "plan/plan.h"
#include "provider/provider.h"

#include <jansson.h>
#include <stdint.h>

#define DR_AZURE_API_VERSION "2026-05-01"
#define DR_AZURE_ARM_ENDPOINT "https://management.azure.com"

typedef struct dr_azure dr_azure;

typedef struct dr_azure_opts {
	const char *subscription;     /* required */
	const char *resource_group;   /* required: the vault's */
	const char *vault;            /* required */
	const char *location;         /* informational */
	const char *api_version;      /* default DR_AZURE_API_VERSION */
	/* Default: DRPLAN_ARM_ENDPOINT, AZURE_RESOURCE_MANAGER_ENDPOINT, then
	 * DR_AZURE_ARM_ENDPOINT. https, or http on loopback only. */
	const char *arm_endpoint;
	/* Credential settings (azauth.h); NULL: the environment. */
	const char *authority_host;   /* AZURE_AUTHORITY_HOST */
	const char *imds_endpoint;    /* DRPLAN_IMDS_ENDPOINT */
	const char *audience;         /* https://management.azure.com/ */
	/* Timing; 0: default. */
	uint64_t poll_ms;             /* job poll interval without Retry-After: 30 s */
	uint64_t retry_base_ms;       /* first GET retry delay: 1 s */
	uint64_t retry_max_ms;        /* cap of one delay: 60 s */
	int max_retries;              /* GET retries: 6 */
	int max_throttle_waits;       /* 429 waits per request: 10 */
	uint64_t timeout_ms;          /* per HTTP request: 60 s */
	/* Write pacing: when x-ms-ratelimit-remaining-subscription-writes
	 * falls below pace_below (default 50), writes are spaced by
	 * pace_step_ms (default 100, the bucket's refill period) times
	 * (pace_below - remaining). */
	long pace_below;
	uint64_t pace_step_ms;
	uint64_t imds_retry_ms;       /* azauth: first IMDS retry delay */
	/* Reprotect inputs ASR needs and the plan does not carry; NULL:
	 * discovered from the fabric, container mapping and item. */
	const char *reprotect_agent_id;     /* InMageRcm -> on-premises */
	const char *datastore_name;
	const char *log_storage_account_id;
	const char *process_server_id;      /* InMageRcmFailback -> Azure */
	const char *run_as_account_id;
	const char *policy_id;
} dr_azure_opts;

void dr_azure_opts_init(dr_azure_opts *o);

/*
 * Read options from JSON: {"subscription", "resourceGroup", "vault",
 * "location", "apiVersion", "armEndpoint", "authorityHost", "imdsEndpoint",
 * "audience", "pollMs", "retryBaseMs", "retryMaxMs", "maxRetries",
 * "maxThrottleWaits", "timeoutMs", "paceBelow", "paceStepMs", "imdsRetryMs",
 * "reprotectAgentId", "datastoreName", "logStorageAccountId",
 * "processServerId", "runAsAccountId", "policyId"}. Strings are borrowed
 * from j. Returns 0 or DR_EINVAL (unknown key, bad type) with a message.
 */
int dr_azure_opts_from_json(const json_t *j, dr_azure_opts *o);

/*
 * Options for a plan's target: subscription, resourceGroup, vault,
 * location and apiVersion (target.apiVersion). New reference.
 */
json_t *dr_azure_opts_json_from_plan(const dr_plan *p);

/* Returns 0, or DR_EINVAL (missing vault coordinates, bad endpoint, bad
 * credential configuration) with a message. */
int dr_azure_new(dr_loop *loop, const dr_azure_opts *opts, dr_azure **out);
void dr_azure_free(dr_azure *az);
dr_provider *dr_azure_provider(dr_azure *az);
/* The azure state behind a provider opened as "azure", else NULL. */
dr_azure *dr_provider_azure(dr_provider *p);

/*
 * Every replicationProtectedItem of the vault as ARM returns it (GET
 * bodies, all pages). items is borrowed for the call. Refreshes the name
 * cache.
 */
typedef void (*dr_azure_items_cb)(void *ud, int rc, const json_t *items,
				  const dr_prov_error *err);
int dr_azure_list_items(dr_azure *az, dr_azure_items_cb cb, void *ud);

/*
 * Bring the item's target settings in line with the plan before a
 * failover: PATCH replicationProtectedItems/{id} with the InMageRcm update
 * input built from m's target (VM name, resource group, size, availability
 * set and zone, VNet, per-NIC subnet/IP/name matched to vmNics in order,
 * disk type is not settable this way and is left out). Waits for the
 * update's job. Fields the plan does not state are not sent. When the item
 * already has every value the PATCH would send (names and ids compared
 * case-insensitively) nothing is sent. The callback gets 0 (updated), 1
 * (already in line, nothing sent), or the error. ASR refuses updates
 * while a job runs on the item.
 * For the executor: call it before DR_PREQ_UNPLANNED_FAILOVER / test
 * failover when dr_provider_azure(p) is not NULL.
 */
typedef void (*dr_azure_done_cb)(void *ud, int rc, const dr_prov_error *err);
int dr_azure_update_target(dr_azure *az, const dr_plan *plan,
			   const dr_machine *m, dr_azure_done_cb cb, void *ud);

/* The PATCH body dr_azure_update_target sends, for a given item GET body
 * (for tests and `drplan plan` output). New reference. */
json_t *dr_azure_update_body(const dr_azure *az, const dr_plan *plan,
			     const dr_machine *m, const json_t *item);

/*
 * The inventory snapshot (schemas/inventory.schema.json) of items (the
 * array dr_azure_list_items returns): {"apiVersion": "drplan/v1", "kind":
 * "Inventory", "exportedAt", "vault", "items"}. Items are ARM's GET bodies
 * without null values (null means "not set"); the hand-written `drplan`
 * block of an item in previous (an older snapshot, may be NULL) is kept,
 * matched by friendlyName. New reference.
 */
json_t *dr_azure_inventory_doc(const json_t *items, const char *vault,
			       int64_t now_ms, const json_t *previous);

/*
 * Check doc against the embedded inventory schema. Returns 0, or DR_EINVAL
 * with the first errors in dr_error_msg() ("/items/0/...: message").
 */
int dr_azure_inventory_check(const json_t *doc);

/* Counters for tests and the run report. */
typedef struct dr_azure_stats {
	unsigned requests;        /* HTTP requests to ARM sent */
	unsigned retries;         /* GETs re-sent after 5xx / transport errors */
	unsigned throttled;       /* 429 answers waited out */
	unsigned paced;           /* writes delayed by pacing */
	unsigned auth_retries;    /* 401 -> refresh -> resend */
	unsigned reconciled;      /* ambiguous POSTs settled by asking ASR */
	unsigned adopted;         /* ... of which found accepted (job adopted) */
	unsigned listings;        /* vault-wide item listings */
	long writes_remaining;    /* last x-ms-ratelimit-remaining-subscription-writes, -1 */
} dr_azure_stats;

void dr_azure_get_stats(const dr_azure *az, dr_azure_stats *out);
/* Token requests made by the credential. */
unsigned dr_azure_token_fetches(const dr_azure *az);
/* "client-secret", ... (azauth.h). */
const char *dr_azure_credential_kind(const dr_azure *az);

#endif
