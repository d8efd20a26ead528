/*
 * faults.h - the ARM emulator's request faults and throttling buckets.
 *
 * A spec is a list of entries separated by ';', fields by ':' (the syntax
 * of the simulator's faults, runner/provider/sim.h). COUNT: how many
 * matching requests the entry hits, default 1, 0 = every one. MATCH
 * chooses the requests (default '*'): '*', a method (GET, POST, PATCH),
 * 'token' (token endpoints incl. IMDS), 'arm' (any ARM request), 'op' (a
 * POST operation or PATCH on an item), 'poll' (operation results, status
 * and jobs), or an operation name (unplanned-failover, commit, update...).
 *
 *   error:STATUS[:COUNT[:MATCH]]         answer STATUS (500, 503, 429, ...)
 *   random:STATUS:PROB[:SEED[:MATCH]]    answer STATUS with probability PROB
 *   drop[:COUNT[:MATCH]]                 close the connection, no answer
 *   slow:MS[:COUNT[:MATCH]]              answer MS milliseconds late
 *   lose-accept[:COUNT[:MATCH]]          accept and start the operation, then
 *                                        close the connection (MATCH default op)
 *   retry-after:SECONDS                  Retry-After of 429/503 answers (1)
 *   lro-retry-after:SECONDS              Retry-After of 202 answers and of
 *                                        running operation polls (default:
 *                                        30 s times the simulator's scale,
 *                                        rounded up; 30 at scale 1)
 *   token-ttl:SECONDS                    lifetime of new tokens (3599)
 *   expire-tokens                        every token issued so far dies now
 *   write-limit:BURST:REFILL             write bucket (200, 10/s; REFILL tokens
 *                                        per second, may be a fraction); 0:0 = off
 *   read-limit:BURST:REFILL              read bucket (250, 25/s); 0:0 = off
 *   clear                                forget the request faults above
 */
#ifndef ARMEMU_FAULTS_H
#define ARMEMU_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a request is, for MATCH. */
typedef struct arm_req_class {
	const char *method;
	bool token;    /* token endpoint or IMDS */
	bool arm;      /* under /subscriptions/ */
	bool op;       /* operation (POST action, PATCH item) */
	bool poll;     /* operationresults, replicationOperationStatus, jobs */
	const char *op_name; /* dr_preq_kind_name or "update", else NULL */
} arm_req_class;

typedef enum arm_fault_type {
	AF_ERROR, AF_RANDOM, AF_DROP, AF_SLOW, AF_LOSE
} arm_fault_type;

typedef struct arm_fault {
	arm_fault_type type;
	int status;
	int count;        /* remaining; 0: unlimited */
	double prob;
	uint64_t rng;
	unsigned delay_ms;
	char *match;      /* NULL: any */
	char *spec;
} arm_fault;

typedef struct arm_bucket {
	double tokens, burst, refill; /* burst 0: no limit */
	uint64_t last_ms;
} arm_bucket;

typedef struct arm_faults {
	arm_fault *v;
	size_t n;
	int retry_after_s;
	int lro_retry_after_s; /* -1: from the scale */
	int64_t token_ttl_s;
	uint64_t token_epoch;  /* bumped by expire-tokens */
	arm_bucket writes, reads;
} arm_faults;

/* What to do with one request. */
typedef struct arm_fault_action {
	int status;        /* 0: no error fault */
	bool drop;
	unsigned delay_ms;
	char spec[128];    /* the entry that decided status or drop, or "" */
} arm_fault_action;

void arm_faults_init(arm_faults *f);
void arm_faults_release(arm_faults *f);
/* Add the entries of spec; 0 or DR_EINVAL with a message (nothing added). */
int arm_faults_add(arm_faults *f, const char *spec, uint64_t now_ms);
/* Decide (and count) the faults for a request. */
void arm_faults_pick(arm_faults *f, const arm_req_class *c,
		     arm_fault_action *out);
/* An accepted operation: true when its answer must be lost (counted). */
bool arm_faults_take_lose(arm_faults *f, const arm_req_class *c);
/* Take one token from b; false when empty. *remaining: what is left. */
bool arm_bucket_take(arm_bucket *b, uint64_t now_ms, long *remaining);
/* The current faults as a spec (caller frees). */
char *arm_faults_describe(const arm_faults *f);

#endif
