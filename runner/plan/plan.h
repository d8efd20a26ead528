/*
 * plan.h - the recovery plan model.
 *
 * dr_plan_load() reads a plan file, checks it against
 * schemas/recovery-plan.schema.json (embedded in the binary, the very same
 * file editors use), merges the inventory snapshot it names, applies
 * defaults and builds this model. Rules (rules/) and the compiler (graph/)
 * read only this model.
 *
 * Every field that a diagnostic may point at is a dr_p* value: the value and
 * `at`, the YAML node it came from (in the plan, the defaults section, or
 * the inventory file). at == NULL means "not stated anywhere"; the value is
 * then the documented default. Precedence: machine entry > plan defaults >
 * inventory snapshot > built-in default.
 *
 * The whole model lives in the arena passed to dr_plan_load() and is freed
 * with it. Counts are size_t, arrays are plain C arrays of n elements.
 */
#ifndef DR_PLAN_H
#define DR_PLAN_H

#include "core/arena.h"
#include "core/diag.h"
#include "plan/ynode.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct { const char *v; const dr_ynode *at; } dr_pstr;
typedef struct { long long v; const dr_ynode *at; } dr_pint;
typedef struct { double v; const dr_ynode *at; } dr_pnum;
typedef struct { bool v; const dr_ynode *at; } dr_pbool;
/* Durations ("90s", "5m", "1h30m", "2d") in milliseconds. */
typedef struct { uint64_t ms; const dr_ynode *at; } dr_pdur;
typedef struct { const char **v; size_t n; const dr_ynode *at; } dr_pstrs;

/* The operations a plan can be compiled for. */
typedef enum dr_operation {
	DR_OP_DRILL,     /* test failover, checks, test-failover cleanup */
	DR_OP_FAILOVER,  /* (shutdown) unplanned failover, commit gate */
	DR_OP_COMMIT,    /* failover commit: point of no return */
	DR_OP_REPROTECT, /* reverse replication */
	DR_OP_FAILBACK,  /* planned failover Azure -> on-premises, commit gate */
	DR_OP__COUNT
} dr_operation;

/* Bit per operation, plus cleanup, for scoping hooks with `on:`. */
enum {
	DR_ON_DRILL = 1u << DR_OP_DRILL,
	DR_ON_FAILOVER = 1u << DR_OP_FAILOVER,
	DR_ON_COMMIT = 1u << DR_OP_COMMIT,
	DR_ON_REPROTECT = 1u << DR_OP_REPROTECT,
	DR_ON_FAILBACK = 1u << DR_OP_FAILBACK,
	DR_ON_CLEANUP = 1u << DR_OP__COUNT, /* drill cleanup (teardown) */
	DR_ON_ALL = (1u << (DR_OP__COUNT + 1)) - 1,
};

/* Where replication or failover goes. */
typedef enum dr_direction {
	DR_DIR_TO_AZURE = 1,   /* on-premises -> Azure (failover, drill, 2nd reprotect) */
	DR_DIR_TO_ONPREM = 2,  /* Azure -> on-premises (failback, 1st reprotect) */
	DR_DIR_ANY = 3,
} dr_direction;

const char *dr_operation_name(dr_operation op);
/* Parse "drill", "failover", ...; returns 0 or DR_EINVAL. */
int dr_operation_parse(const char *s, dr_operation *out);
const char *dr_direction_name(dr_direction d);
/* The direction an operation runs in; reprotect defaults to to-onprem. */
dr_direction dr_operation_direction(dr_operation op);

typedef enum dr_source_kind { DR_SRC_VMWARE, DR_SRC_PHYSICAL } dr_source_kind;
typedef enum dr_os_family { DR_OS_WINDOWS, DR_OS_LINUX } dr_os_family;
typedef enum dr_boot { DR_BOOT_BIOS, DR_BOOT_UEFI } dr_boot;
typedef enum dr_disk_role { DR_DISK_OS, DR_DISK_DATA } dr_disk_role;

typedef enum dr_rp_kind {
	DR_RP_LATEST,               /* process pending data first: lowest RPO */
	DR_RP_LATEST_PROCESSED,     /* fastest RTO */
	DR_RP_LATEST_APP_CONSISTENT,
	DR_RP_CUSTOM,               /* a named recovery point id */
} dr_rp_kind;

typedef struct dr_recovery_point {
	dr_rp_kind kind;
	const char *id; /* DR_RP_CUSTOM only */
	const dr_ynode *at;
} dr_recovery_point;

const char *dr_rp_kind_name(dr_rp_kind k);

typedef struct dr_disk {
	const dr_ynode *at;      /* the disk entry */
	dr_pstr name;
	dr_disk_role role;
	const dr_ynode *role_at;
	dr_pint size_gib;
	dr_pstr type;            /* "basic" (default) or "dynamic" */
	dr_pstr filesystem;      /* ntfs, refs, ext3, ext4, xfs, btrfs, ... */
	dr_pstr sector;          /* "512/512" (default), "512e" = "4k/512", "4k/4k" */
	/* Unsupported configurations (AZ-DISK-UNSUPPORTED, AZ-DISK-BITLOCKER). */
	dr_pbool shared, fc, iscsi, bitlocker, encrypted, nfs, smb3;
	dr_pbool storage_spaces, mpio, hardware_raid;
	dr_pstr target_type;     /* per-disk override of the target disk type */
} dr_disk;

typedef struct dr_source_nic {
	const dr_ynode *at;
	dr_pstr name;
	dr_pbool dhcp;           /* the NIC gets its address from DHCP */
	dr_pstr ip;              /* source address, informational */
	dr_pbool ipv6;
	dr_pbool teamed;         /* guest NIC teaming */
} dr_source_nic;

typedef struct dr_source {
	const dr_ynode *at;
	dr_source_kind kind;
	const dr_ynode *kind_at;
	dr_os_family os;
	const dr_ynode *os_at;
	dr_pstr os_version;      /* "Windows Server 2019", "Ubuntu 20.04", "RHEL 8.4" */
	dr_pstr arch;            /* "x64" (default) or "x86" */
	dr_pstr kernel;          /* Linux kernel release, optional */
	dr_boot boot;
	const dr_ynode *boot_at;
	dr_pbool secure_boot;
	dr_pstr mobility_agent;  /* "9.56" */
	dr_pstr vsphere;         /* host / vCenter version, VMware only */
	dr_pbool dhcp_service;   /* DHCP client service enabled in the guest */
	dr_pstrs boot_drivers;   /* storvsc, vmbus, storflt, intelide, atapi */
	dr_pnum memory_gib;
	dr_pint cpus;
	dr_disk *disks;
	size_t ndisks;
	const dr_ynode *disks_at;
	dr_source_nic *nics;
	size_t nnics;
	const dr_ynode *nics_at;
} dr_source;

typedef struct dr_target_nic {
	const dr_ynode *at;
	dr_pstr name;            /* target NIC name */
	dr_pstr subnet;          /* defaults to the machine's subnet */
	dr_pstr ip;              /* static IP, or absent for dynamic */
	dr_pbool primary;
} dr_target_nic;

typedef struct dr_target {
	const dr_ynode *at;
	dr_pstr name;            /* Azure VM name; defaults to the machine name */
	dr_pstr resource_group;
	dr_pstr size;            /* Standard_D4s_v5 */
	dr_pstr availability_set;
	dr_pstr availability_zone;
	dr_pstr disk_type;       /* Standard_LRS, StandardSSD_LRS, Premium_LRS, ... */
	dr_pstr vnet;
	dr_pstr subnet;
	dr_pstr ip;              /* static IP of the primary NIC */
	dr_pbool accelerated_networking;
	dr_pbool encryption_at_host;
	dr_target_nic *nics;     /* per-NIC settings, parallel to source NICs */
	size_t nnics;
} dr_target;

typedef struct dr_action dr_action;

typedef struct dr_machine {
	const dr_ynode *at;
	dr_pstr name;            /* ASR friendly name, unique in the plan */
	dr_pstr inventory_id;    /* key in the inventory; defaults to name */
	dr_pbool critical;       /* default true */
	dr_recovery_point rp;    /* override of the plan default */
	dr_pbool shutdown_source;
	dr_source source;
	dr_target target;
	dr_action *pre;
	size_t npre;
	dr_action *post;
	size_t npost;
	bool from_inventory;     /* some facts came from the inventory */
	size_t group;            /* index of the group that holds it */
} dr_machine;

typedef enum dr_action_kind { DR_ACTION_LUA, DR_ACTION_MANUAL } dr_action_kind;
typedef enum dr_on_failure { DR_FAIL_GROUP, DR_FAIL_WARN } dr_on_failure;

struct dr_action {
	const dr_ynode *at;
	dr_action_kind kind;
	dr_pstr name;            /* optional id; derived from file or index */
	dr_pstr lua;             /* path relative to the plan file */
	dr_pstr manual;          /* instruction shown to the operator */
	unsigned on;             /* DR_ON_* mask; DR_ON_ALL when not stated */
	const dr_ynode *on_at;
	dr_direction direction;  /* DR_DIR_ANY when not stated */
	dr_pdur timeout;         /* default 10m for Lua, none for manual */
	dr_on_failure on_failure;
	const dr_ynode *on_failure_at;
	const dr_ynode *args;    /* mapping passed to the hook, or NULL */
	dr_pstrs env;            /* environment variables the hook may read */
};

typedef struct dr_group {
	const dr_ynode *at;
	dr_pstr name;
	dr_pstr description;
	size_t *after;           /* indexes of groups this one waits for */
	size_t nafter;
	const dr_ynode *after_at;/* NULL: implicit "the group before" */
	bool after_explicit;
	size_t *machines;        /* indexes into plan->machines */
	size_t nmachines;
	const dr_ynode *machines_at;
	dr_action *pre;
	size_t npre;
	dr_action *post;
	size_t npost;
	dr_pint concurrency;     /* machines in parallel; 0: plan default */
} dr_group;

typedef enum dr_timeout_policy {
	DR_TIMEOUT_WAIT,     /* keep waiting for a person */
	DR_TIMEOUT_COMMIT,   /* commit automatically */
	DR_TIMEOUT_ROLLBACK, /* drills: clean up; failover: cancel is refused */
	DR_TIMEOUT_FAIL,     /* fail the job at the gate */
} dr_timeout_policy;

/* Checks a gate can require. */
enum {
	DR_CHECK_CRITICAL_HEALTHY = 1u << 0, /* every critical machine healthy */
	DR_CHECK_POST_HOOKS = 1u << 1,       /* every post-failover hook passed */
	DR_CHECK_ALL_HEALTHY = 1u << 2,      /* optional machines too */
};

typedef struct dr_gate {
	const dr_ynode *at;      /* NULL when the plan has no such gate */
	dr_pint approvals;       /* default 1 */
	dr_pstrs approvers;      /* public key files, relative to the plan */
	unsigned checks;         /* DR_CHECK_* */
	const dr_ynode *checks_at;
	dr_pdur timeout;         /* 0: no timeout */
	dr_timeout_policy on_timeout;
	const dr_ynode *on_timeout_at;
} dr_gate;

typedef struct dr_network_subnet {
	const dr_ynode *at;
	dr_pstr name;
	dr_pstr prefix;          /* CIDR */
	uint32_t addr, mask;     /* parsed IPv4 prefix */
} dr_network_subnet;

/* A target VNet the plan knows about, so IPs can be checked offline. */
typedef struct dr_network {
	const dr_ynode *at;
	dr_pstr name;
	dr_pstr resource_group;
	dr_pstr location;
	dr_pstrs address_space;  /* CIDRs */
	dr_network_subnet *subnets;
	size_t nsubnets;
	bool isolated;           /* meant for drills */
} dr_network;

typedef struct dr_drill {
	const dr_ynode *at;      /* NULL when the plan has no drill section */
	dr_pstr schedule;        /* cron expression or @daily/@weekly/... */
	dr_pstr timezone;        /* IANA name, default UTC */
	dr_pstr vnet;            /* isolated test network */
	dr_pstr subnet;
	dr_pdur rto;             /* objectives; 0: none */
	dr_pdur rpo;
	dr_pdur cleanup_after;   /* keep the test VMs this long before cleanup */
	/* Unattended drills (docs/execution.md): "auto-approve" or "fail"
	 * (the default) for manual steps and for gates; reason is recorded
	 * with every auto-approval (rule PLAN-UNATTENDED-REASON). */
	dr_pstr manual_policy;
	dr_pstr gate_policy;
	dr_pstr unattended_reason;
	const dr_ynode *unattended_at;
} dr_drill;

/* Job events a webhook can subscribe to (docs/notifications.md). */
typedef enum dr_notify_event {
	DR_NEV_JOB_STARTED,
	DR_NEV_JOB_RESUMED,
	DR_NEV_GATE_WAITING,
	DR_NEV_MANUAL_WAITING,
	DR_NEV_STEP_FAILED,
	DR_NEV_JOB_FINISHED,
	DR_NEV_JOB_PARKED,
	DR_NEV__COUNT
} dr_notify_event;

#define DR_NEV_ALL ((1u << DR_NEV__COUNT) - 1)

/* "job-started", "job-resumed", ... as in the schema. */
const char *dr_notify_event_name(dr_notify_event e);
/* Parse a name above; 0 or DR_EINVAL. */
int dr_notify_event_parse(const char *s, dr_notify_event *out);

/* notifications.webhooks[]: a receiver of signed job events. */
typedef struct dr_webhook {
	const dr_ynode *at;
	dr_pstr name;            /* NULL: the URL without its query string */
	dr_pstr url;
	unsigned events;         /* 1u << DR_NEV_*; DR_NEV_ALL when not stated */
	dr_pstr secret_env;      /* environment variable with the HMAC secret */
	dr_pdur timeout;         /* one attempt; 0: 10 s */
	dr_pint attempts;        /* 0: 5 */
} dr_webhook;

typedef struct dr_plan {
	const char *file;        /* path as given */
	const char *dir;         /* directory of the plan, for relative paths */
	const dr_ynode *root;
	dr_pstr api_version;     /* drplan/v1 */
	dr_pstr name;
	dr_pstr description;
	dr_pstrs owners;

	/* target */
	dr_pstr provider;        /* "sim" (default) or "azure" */
	dr_pstr subscription;
	dr_pstr vault;
	dr_pstr vault_resource_group;
	dr_pstr location;
	dr_pstr inventory;       /* path relative to the plan */

	/* defaults that machines inherit */
	dr_recovery_point rp;    /* default latest-processed */
	dr_pbool shutdown_source;
	dr_pint concurrency;     /* machines in parallel per group; default 10 */

	dr_machine *machines;
	size_t nmachines;
	dr_group *groups;
	size_t ngroups;
	dr_network *networks;
	size_t nnetworks;
	dr_gate commit_gate;
	dr_gate failback_gate;
	dr_drill drill;
	dr_webhook *webhooks;    /* notifications.webhooks */
	size_t nwebhooks;
} dr_plan;

/* Options for loading. */
typedef struct dr_plan_load_opts {
	/* Skip reading the inventory file (for tests of the model alone). */
	bool no_inventory;
} dr_plan_load_opts;

/*
 * Load, schema-check and build the model of the plan in file. Diagnostics
 * (YAML-*, SCHEMA-*, INV-*) go to diags; the file texts are registered with
 * diags and live in the arena. Returns 0 with *out set when the model could
 * be built (there may still be warnings), DR_EINVAL when the plan has
 * errors that prevent building it (*out is NULL), DR_EIO when a file cannot
 * be read (also reported as a diagnostic).
 */
/*
 * A plan of at least DR_PLAN_OVERLAP_MIN machines has its model built while
 * its schema is checked on a second thread; the result and diagnostics are
 * the same as on one thread. For tests: set the threshold (SIZE_MAX: never)
 * and get the previous one; not thread-safe.
 */
#define DR_PLAN_OVERLAP_MIN 256u
size_t dr_plan_set_overlap_min(size_t machines);

int dr_plan_load(dr_arena *a, const char *file, const dr_plan_load_opts *opts,
		 dr_diags *diags, dr_plan **out);

/* Same, from text already in memory (fuzzing, tests). */
int dr_plan_load_text(dr_arena *a, const char *file, const char *text,
		      size_t len, const dr_plan_load_opts *opts,
		      dr_diags *diags, dr_plan **out);

/* Index of the machine or group with that name, or -1. */
long dr_plan_find_machine(const dr_plan *p, const char *name);
long dr_plan_find_group(const dr_plan *p, const char *name);

/* The recovery point a machine will use (its override or the default). */
const dr_recovery_point *dr_machine_rp(const dr_plan *p, const dr_machine *m);

#endif
