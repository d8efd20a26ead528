/*
 * provider.h - what the executor calls for every machine, shaped after ASR.
 *
 * A provider speaks for a vault of replicated items (one per plan machine,
 * addressed by the machine name, ASR's friendlyName). Two providers fit this
 * interface: `sim`, the embedded simulator (provider/sim.h, the default),
 * and `azure`, ARM REST over libcurl. Vocabulary follows
 * shared/reference/asr-rest-api.md: allowedOperations values (§5.1), item
 * states (§5.2), job and task states (§5.3), error shape (§3.4, §2.9).
 *
 * Every call is asynchronous. It returns 0 when the request was queued; the
 * callback then runs exactly once, later, from the loop, never from inside
 * the call. A negative return (bad arguments) means the callback will never
 * run. Results handed to a callback are borrowed: they live until the
 * callback returns. Copy what you need, or keep the JSON form
 * (dr_prov_item_to_json, dr_prov_job_to_json) for the journal.
 *
 * Callback rc values: 0 success; DR_ECONFLICT the item's state does not
 * allow the operation (err->code "OperationNotAllowed"); DR_ENOTFOUND
 * unknown item, job or recovery point; DR_EINVAL a malformed request;
 * DR_EIO / DR_EAGAIN the reply was lost or the service was busy (the
 * request may or may not have been accepted: reconcile with find_jobs
 * before sending it again). err is non-NULL whenever rc != 0.
 *
 * Freeing a provider with requests in flight drops them: their callbacks
 * never run.
 */
#ifndef DR_PROVIDER_H
#define DR_PROVIDER_H

#include "exec/loop.h"
#include "plan/plan.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The operations a provider can start on one item. */
typedef enum dr_preq_kind {
	DR_PREQ_TEST_FAILOVER,         /* POST testFailover */
	DR_PREQ_TEST_FAILOVER_CLEANUP, /* POST testFailoverCleanup */
	DR_PREQ_UNPLANNED_FAILOVER,    /* POST unplannedFailover (to Azure) */
	DR_PREQ_APPLY_RECOVERY_POINT,  /* POST applyRecoveryPoint (before commit) */
	DR_PREQ_COMMIT,                /* POST failoverCommit */
	DR_PREQ_REPROTECT,             /* POST reProtect */
	DR_PREQ_PLANNED_FAILOVER,      /* POST plannedFailover (failback) */
	DR_PREQ_CANCEL_FAILOVER,       /* POST failoverCancel (failback only) */
	DR_PREQ__COUNT
} dr_preq_kind;

/* "test-failover", "test-failover-cleanup", "unplanned-failover", ... */
const char *dr_preq_kind_name(dr_preq_kind k);
/* Parse the name above; 0 or DR_EINVAL. */
int dr_preq_kind_parse(const char *s, dr_preq_kind *out);
/* The allowedOperations value that gates it: "TestFailover", "ChangePit", ... */
const char *dr_preq_kind_asr_op(dr_preq_kind k);
/* The job's scenarioName: "TestFailover", "UnplannedFailover", "Commit", ... */
const char *dr_preq_kind_scenario(dr_preq_kind k);

/* Kind of a recovery point (ASR recoveryPointType). */
typedef enum dr_point_type {
	DR_POINT_CRASH_CONSISTENT,
	DR_POINT_APP_CONSISTENT,
} dr_point_type;

/* "CrashConsistent" / "ApplicationConsistent". */
const char *dr_point_type_name(dr_point_type t);

typedef struct dr_op_request {
	dr_preq_kind kind;
	const char *item;          /* machine name */
	/* test-failover, unplanned-failover, apply-recovery-point. */
	dr_recovery_point rp;
	/* unplanned-failover: try to shut the source down first. */
	bool shutdown_source;
	/* test-failover: test network (VNet) id or name; NULL: no network. */
	const char *network;
	/* reprotect: DR_DIR_TO_ONPREM (after failover) or DR_DIR_TO_AZURE
	 * (after failback); must match the item's position. */
	dr_direction direction;
	/* planned-failover: the kind of point to fail back to. */
	dr_point_type point_type;
	/* test-failover-cleanup: ≤ 1024 characters; may be NULL. */
	const char *comments;
	/* Optional key recorded on the job (x-ms-client-request-id) so an
	 * executor can recognise its own job in find_jobs after a crash. */
	const char *client_request_id;
} dr_op_request;

/* ASR error details (§3.4 details[], §2.9 JobErrorDetails.serviceErrorDetails). */
typedef struct dr_prov_error {
	char *code;               /* e.g. "OperationNotAllowed" */
	char *message;
	char *possible_causes;    /* may be NULL */
	char *recommended_action; /* may be NULL */
	char *level;              /* "Error" or "Warning" */
	char *task_id;            /* job errors: the task; else NULL */
	int64_t time_ms;          /* creationTime, Unix ms; 0 when unknown */
	int http_status;          /* refusals: 400, 404, ...; job errors: 0 */
} dr_prov_error;

typedef struct dr_prov_point {
	char *id;                 /* pass as dr_recovery_point.id (DR_RP_CUSTOM) */
	int64_t time_ms;          /* recoveryPointTime, Unix ms */
	dr_point_type type;
} dr_prov_point;

typedef struct dr_prov_item {
	char *name;                       /* friendlyName (the machine name) */
	char *id;                         /* provider id of the item */
	char *instance_type;              /* "InMageRcm" / "InMageRcmFailback" */
	dr_direction direction;           /* where replication currently goes */
	char *protection_state;           /* "Protected", ... (§5.2) */
	char *protection_state_description;
	char *active_location;            /* "Primary" / "Recovery" */
	char *test_failover_state;        /* "None", "WaitingForCompletion", ... */
	char *test_failover_state_description;
	char *replication_health;         /* "Normal", "Warning", "Critical", "None" */
	char **allowed_ops;               /* §5.1 vocabulary */
	size_t nallowed_ops;
	char *current_scenario;           /* "None" or the running job's scenario */
	char *last_job_id;                /* NULL when no job ever ran */
	int initial_replication_percent;  /* 0-100 while initial replication
					   * runs after a reprotect, else -1 */
	/* Newest processed point and newest app-consistent point (id NULL
	 * when none), and the current RPO in seconds (lastRpoInSeconds). */
	dr_prov_point last_point;
	dr_prov_point last_app_point;
	int64_t last_rpo_s;
	/* The point the last (test) failover used and its achieved RPO in
	 * seconds (time between the request and the point); id NULL if none. */
	dr_prov_point failover_point;
	int64_t failover_rpo_s;
	bool committed;                   /* the last failover was committed */
} dr_prov_item;

/* The item offers op (an allowedOperations value). */
bool dr_prov_item_allows(const dr_prov_item *it, const char *op);

typedef struct dr_prov_task {
	char *id;
	char *name;                /* friendlyName: "Shut down the virtual machine" */
	char *state;               /* NotStarted, InProgress, Succeeded, Failed,
				    * Cancelled, Skipped */
	char *state_description;   /* "Completed", "CompletedWithInformation", ... */
	int64_t start_ms, end_ms;  /* 0 when not started / not ended */
} dr_prov_task;

typedef struct dr_prov_job {
	char *id;                  /* job name (GUID-shaped) */
	char *item;                /* targetObjectName */
	dr_preq_kind kind;
	char *scenario;            /* scenarioName */
	char *friendly_name;       /* "Failover", "Test failover", ... */
	char *state;               /* NotStarted, InProgress, Succeeded, Failed, Cancelled */
	char *state_description;
	char *client_request_id;   /* as given in the request, or NULL */
	int64_t start_ms, end_ms;  /* Unix ms; end 0 while running */
	dr_prov_task *tasks;
	size_t ntasks;
	dr_prov_error *errors;     /* job errors and warnings */
	size_t nerrors;
	/* Failover jobs: the point used and the achieved RPO (seconds). */
	dr_prov_point point;       /* id NULL when not applicable */
	int64_t rpo_s;
	/* A good delay before the next poll, in loop milliseconds. */
	uint64_t poll_after_ms;
} dr_prov_job;

/* Terminal: Succeeded, Failed or Cancelled. */
bool dr_prov_job_done(const dr_prov_job *j);
/* Terminal and Succeeded (with or without warnings). */
bool dr_prov_job_succeeded(const dr_prov_job *j);

/* JSON forms (ASR-shaped keys: protectionState, allowedOperations, tasks...). */
json_t *dr_prov_item_to_json(const dr_prov_item *it);
json_t *dr_prov_job_to_json(const dr_prov_job *j);
json_t *dr_prov_error_to_json(const dr_prov_error *e);

typedef void (*dr_prov_item_cb)(void *ud, int rc, const dr_prov_item *item,
				const dr_prov_error *err);
/* job_id: the accepted operation's job (rc 0). */
typedef void (*dr_prov_start_cb)(void *ud, int rc, const char *job_id,
				 const dr_prov_error *err);
typedef void (*dr_prov_job_cb)(void *ud, int rc, const dr_prov_job *job,
			       const dr_prov_error *err);
typedef void (*dr_prov_jobs_cb)(void *ud, int rc, const dr_prov_job *jobs,
				size_t njobs, const dr_prov_error *err);
typedef void (*dr_prov_points_cb)(void *ud, int rc, const dr_prov_point *pts,
				  size_t npts, const dr_prov_error *err);

typedef struct dr_provider dr_provider;

/* The table a provider implements. */
typedef struct dr_provider_ops {
	const char *name;
	int (*get_item)(dr_provider *p, const char *item, dr_prov_item_cb cb,
			void *ud);
	int (*start)(dr_provider *p, const dr_op_request *req,
		     dr_prov_start_cb cb, void *ud);
	int (*poll)(dr_provider *p, const char *job_id, dr_prov_job_cb cb,
		    void *ud);
	int (*find_jobs)(dr_provider *p, const char *item, int64_t since_ms,
			 dr_prov_jobs_cb cb, void *ud);
	int (*list_recovery_points)(dr_provider *p, const char *item,
				    dr_prov_points_cb cb, void *ud);
	/* The provider's clock in Unix ms; NULL: the wall clock. */
	int64_t (*now_ms)(dr_provider *p);
	void (*free)(dr_provider *p);
	/* Optional: get_item without the recovery points (see
	 * dr_provider_get_state); NULL: get_item answers. */
	int (*get_state)(dr_provider *p, const char *item, dr_prov_item_cb cb,
			 void *ud);
} dr_provider_ops;

struct dr_provider {
	const dr_provider_ops *ops;
	void *impl;
};

/*
 * Open the provider called name ("sim") on loop. options is a JSON object
 * of provider-specific settings (NULL: defaults); for "sim" see
 * dr_sim_opts_from_json() in provider/sim.h. Returns 0, DR_ENOTFOUND for an
 * unknown name, DR_EINVAL for bad options.
 */
int dr_provider_open(const char *name, const json_t *options, dr_loop *loop,
		     dr_provider **out);
void dr_provider_free(dr_provider *p);
const char *dr_provider_name(const dr_provider *p);

/* The item's state: protectionState, allowedOperations, points, ... */
int dr_provider_get_item(dr_provider *p, const char *item, dr_prov_item_cb cb,
			 void *ud);
/*
 * The item's state for a decision about an operation (allowedOperations,
 * protectionState, location, current job, committed): get_item without
 * reading the recovery points, which can take many requests (azure: every
 * page of a 72-hour list). last_point and last_app_point are empty and
 * failover_point has its id only; everything else is as get_item gives
 * it. Providers without a cheaper read answer with get_item.
 */
int dr_provider_get_state(dr_provider *p, const char *item, dr_prov_item_cb cb,
			  void *ud);
/* Ask for an operation; the callback gets the job id once accepted. */
int dr_provider_start(dr_provider *p, const dr_op_request *req,
		      dr_prov_start_cb cb, void *ud);
/* The job's state, tasks and errors. */
int dr_provider_poll(dr_provider *p, const char *job_id, dr_prov_job_cb cb,
		     void *ud);
/*
 * The provider's clock (Unix ms): the wall clock for azure, model time for
 * the simulator (which may run faster than the wall clock). Job, task and
 * point times are on this clock; take find_jobs' since_ms from it too.
 */
int64_t dr_provider_now(dr_provider *p);
/*
 * The item's jobs that started at or after since_ms (provider clock), oldest
 * first. To settle an intent record whose job id was never journalled, note
 * dr_provider_now() in the intent and pass it here, or pass 0 and match the
 * intent's client_request_id.
 */
int dr_provider_find_jobs(dr_provider *p, const char *item, int64_t since_ms,
			  dr_prov_jobs_cb cb, void *ud);
/* The item's recovery points, newest first. */
int dr_provider_list_recovery_points(dr_provider *p, const char *item,
				     dr_prov_points_cb cb, void *ud);

#endif
