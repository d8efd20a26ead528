/*
 * armemu.c - an ARM emulator for Azure Site Recovery on loopback, for tests.
 *
 * HTTP outside (libmicrohttpd), the embedded ASR simulator inside
 * (runner/provider/sim.h). Endpoints, fault spec and log format:
 * docs/arm-emulator.md. Reference: shared/reference/asr-rest-api.md.
 */
#define _GNU_SOURCE
#include "emu.h"

#include "core/alloc.h"
#include "core/arena.h"
#include "core/diag.h"
#include "core/error.h"
#include "plan/plan.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (1024 * 1024)
#define API_DEFAULT "2026-05-01"
#define ITEM_TYPE "Microsoft.RecoveryServices/vaults/replicationFabrics/" \
	"replicationProtectionContainers/replicationProtectedItems"

enum req_state { RS_NEW, RS_WAIT, RS_DONE };

typedef struct hdr {
	char *name, *value;
} hdr;

struct emu_req {
	emu *e;
	struct MHD_Connection *conn;
	char *method, *url;
	dr_strbuf body;
	bool too_big;
	enum req_state state;
	bool suspended, drop;
	emu_req *next, *prev;     /* e->suspended list */
	arm_req_class cls;
	char op_name[40];
	unsigned delay_ms;
	dr_timer *delay;
	uint64_t t0;
	/* Answer. */
	int status;
	char *out;
	hdr hdrs[12];
	int nhdrs;
	/* Log. */
	const char *item_name;
	bool accepted;
	char *job;
	const char *fault;
	char fault_buf[128];
	json_t *reprotect;        /* failback details, kept when accepted */
	/* Routing. */
	char *api;
	long item;                /* index into e->items, or -1 */
	/* Fan-out (lists). */
	json_t *arr;
	size_t pending;
	void (*finish)(emu_req *r);
	long skip;
	char *filter;
	dr_op_request op;
	char *op_strs[4];
};

static emu *g_emu;

/* ---- small helpers ---- */

static void iso_time(int64_t ms, char *buf, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + k, n - k, ".%03dZ", (int)(ms % 1000));
}

static json_t *json_time(int64_t ms)
{
	char b[40];
	if (ms <= 0)
		return json_null();
	iso_time(ms, b, sizeof(b));
	return json_string(b);
}

static int64_t parse_iso(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	int64_t ms = (int64_t)timegm(&tm) * 1000;
	if (*p == '.') {
		int frac = 0, digits = 0;
		for (p++; isdigit((unsigned char)*p); p++)
			if (digits++ < 3)
				frac = frac * 10 + (*p - '0');
		while (digits++ < 3)
			frac *= 10;
		ms += frac;
	}
	if (*p == 'Z')
		p++;
	return *p ? -1 : ms;
}

static uint64_t fnv(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* A stable GUID-shaped name for key. */
static void make_guid(const char *key, char out[37])
{
	uint64_t a = fnv(key, 1469598103934665603ULL), b = fnv(key, a ^ 0x9e3779b97f4a7c15ULL);
	snprintf(out, 37, "%08x-%04x-4%03x-a%03x-%012llx", (unsigned)(a >> 32),
		 (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
		 (unsigned)(b >> 48) & 0xfff,
		 (unsigned long long)(b & 0xffffffffffffULL));
}

static void add_hdr(emu_req *r, const char *name, const char *value)
{
	if (r->nhdrs == (int)DR_ARRAY_SIZE(r->hdrs))
		return;
	r->hdrs[r->nhdrs].name = dr_xstrdup(name);
	r->hdrs[r->nhdrs].value = dr_xstrdup(value);
	r->nhdrs++;
}

static void set_body(emu_req *r, int status, json_t *j)
{
	r->status = status;
	free(r->out);
	r->out = j ? json_dumps(j, JSON_COMPACT) : dr_xstrdup("");
	json_decref(j);
	r->state = RS_DONE;
}

/* ARM error body with ASR details (reference §3.4). */
static json_t *arm_error(int status, const char *code, const char *msg,
			 const char *causes, const char *action)
{
	const char *top = status == 404 ? "NotFound" :
			  status == 409 ? "Conflict" :
			  status == 401 ? "Unauthorized" : "BadRequest";
	return json_pack("{s:{s:s,s:s,s:[{s:s,s:s,s:s?,s:s?,s:s,s:s}]}}", "error",
			 "code", top, "message", msg, "details", "code", code,
			 "message", msg, "possibleCauses", causes,
			 "recommendedAction", action, "clientRequestId",
			 "00000000-0000-0000-0000-000000000000", "activityId",
			 "00000000-0000-0000-0000-0000000000ac");
}

static void fail(emu_req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void fail(emu_req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_body(r, status, arm_error(status, code, msg, NULL, NULL));
}

/* A plain ARM error (no ASR details): auth, throttling, faults. */
static void fail_plain(emu_req *r, int status, const char *code, const char *msg)
{
	set_body(r, status, json_pack("{s:{s:s,s:s}}", "error", "code", code,
				      "message", msg));
}

static void fail_prov(emu_req *r, int rc, const dr_prov_error *err)
{
	int st = err && err->http_status ? err->http_status :
		 rc == DR_ENOTFOUND ? 404 : rc == DR_ECONFLICT ? 400 : 400;
	set_body(r, st, arm_error(st, err && err->code ? err->code : "BadRequest",
				  err && err->message ? err->message : dr_strerror(rc),
				  err ? err->possible_causes : NULL,
				  err ? err->recommended_action : NULL));
}

/* ---- ids ---- */

static char *base_url(emu_req *r)
{
	const char *host = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Host");
	char *s;
	if (host && *host && strlen(host) < 256)
		s = dr_xmalloc(strlen(host) + 8), sprintf(s, "http://%s", host);
	else
		s = dr_xmalloc(64), sprintf(s, "http://127.0.0.1:%u", r->e->port);
	return s;
}

static char *item_id(emu *e, const emu_item *it)
{
	char *s = dr_xmalloc(1024);
	snprintf(s, 1024, "%s/replicationFabrics/%s/replicationProtectionContainers/%s"
		 "/replicationProtectedItems/%s", e->vpath, e->fabric, e->container,
		 it->guid);
	return s;
}

static char *job_arm_id(emu *e, const char *job)
{
	char *s = dr_xmalloc(strlen(e->vpath) + strlen(job) + 32);
	sprintf(s, "%s/replicationJobs/%s", e->vpath, job);
	return s;
}

static char *point_id(emu *e, const emu_item *it, const char *pt)
{
	char *iid = item_id(e, it);
	char *s = dr_xmalloc(strlen(iid) + strlen(pt) + 32);
	sprintf(s, "%s/recoveryPoints/%s", iid, pt);
	free(iid);
	return s;
}

static long find_item_by_name(emu *e, const char *name)
{
	for (size_t i = 0; i < e->nitems; i++)
		if (!strcmp(e->items[i].name, name))
			return (long)i;
	return -1;
}

static long find_item_by_guid(emu *e, const char *guid)
{
	for (size_t i = 0; i < e->nitems; i++)
		if (!strcasecmp(e->items[i].guid, guid))
			return (long)i;
	return -1;
}

/* ---- items: creation ---- */

static json_t *tstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

static void item_init_facts(emu *e, emu_item *it, const dr_machine *m)
{
	const dr_source *src = m ? &m->source : NULL;
	const dr_target *tg = m ? &m->target : NULL;
	char rid[512], key[256];

	make_guid(it->name, it->guid);
	it->physical = src && src->kind == DR_SRC_PHYSICAL;
	bool linux_ = src && src->os == DR_OS_LINUX;
	it->os_type = dr_xstrdup(linux_ ? "Linux" : "Windows");
	it->os_name = dr_xstrdup(src && src->os_version.v ? src->os_version.v :
				 linux_ ? "Ubuntu 22.04" : "Windows Server 2019");
	it->firmware = dr_xstrdup(src && src->boot == DR_BOOT_UEFI ? "UEFI" : "BIOS");
	it->cpus = src && src->cpus.v > 0 ? src->cpus.v : 2;
	it->mem_mb = src && src->memory_gib.v > 0 ? src->memory_gib.v * 1024 : 8192;
	it->disks = json_array();
	size_t nd = src ? src->ndisks : 0;
	for (size_t i = 0; i < (nd ? nd : 1); i++) {
		const dr_disk *d = nd ? &src->disks[i] : NULL;
		bool os = d ? d->role == DR_DISK_OS : true;
		long long gib = d && d->size_gib.v > 0 ? d->size_gib.v : 128;
		snprintf(key, sizeof(key), "%s-disk%zu", it->name, i);
		char g[37];
		make_guid(key, g);
		json_array_append_new(it->disks, json_pack(
			"{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:I}", "diskId", g, "diskName",
			d && d->name.v ? d->name.v : (os ? "disk0" : key), "isOSDisk",
			os ? "true" : "false", "capacityInBytes",
			(json_int_t)(gib * 1073741824LL), "diskState", "Protected",
			"diskType", tg && tg->disk_type.v ? tg->disk_type.v : "Premium_LRS",
			"isInitialReplicationComplete", "true", "diskSizeInGB",
			(json_int_t)gib));
		/* Where the appliance keeps the disk's replication log; a
		 * reprotect to on-premises reuses it (reference §2.1). */
		snprintf(key, sizeof(key), "/subscriptions/%s/resourceGroups/%s/providers/"
			 "Microsoft.Storage/storageAccounts/drlogs01", e->sub, e->rg);
		json_object_set_new(json_array_get(it->disks, i), "logStorageAccountId",
				    json_string(key));
	}
	it->nics = json_array();
	size_t nn = src ? src->nnics : 0;
	for (size_t i = 0; i < (nn ? nn : 1); i++) {
		const dr_source_nic *n = nn ? &src->nics[i] : NULL;
		const dr_target_nic *tn = tg && i < tg->nnics ? &tg->nics[i] : NULL;
		snprintf(key, sizeof(key), "%s-nic%zu", it->name, i);
		char g[37];
		make_guid(key, g);
		char ip[32];
		snprintf(ip, sizeof(ip), "10.0.%zu.%zu", (size_t)(fnv(it->name, 7) % 200) + 1,
			 i + 10);
		json_array_append_new(it->nics, json_pack(
			"{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "nicId", g,
			"isPrimaryNic", i == 0 ? "true" : "false", "isSelectedForFailover", "true",
			"sourceIPAddress", n && n->ip.v ? n->ip.v : ip, "sourceIPAddressType",
			n && n->dhcp.v ? "Dynamic" : "Static",
			"sourceNetworkId", tstr(n && n->name.v ? n->name.v : "VM Network"),
			"targetSubnetName", tstr(tn && tn->subnet.v ? tn->subnet.v :
						 tg && tg->subnet.v ? tg->subnet.v : NULL),
			"targetIPAddress", tstr(tn && tn->ip.v ? tn->ip.v : i == 0 && tg ? tg->ip.v : NULL),
			"targetIPAddressType", json_string(
				(tn && tn->ip.v) || (i == 0 && tg && tg->ip.v) ? "Static" : "Dynamic"),
			"testSubnetName", json_null(), "testIPAddress", json_null(),
			"testIPAddressType", json_string("Dynamic"),
			"targetNicName", tstr(tn && tn->name.v ? tn->name.v : NULL)));
	}
	snprintf(rid, sizeof(rid), "/subscriptions/%s/resourceGroups/%s", e->sub,
		 tg && tg->resource_group.v ? tg->resource_group.v : "rg-dr-target");
	it->target = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:s,s:s,s:s}",
		"targetVmName", tg && tg->name.v ? tg->name.v : it->name,
		"targetVmSize", tg && tg->size.v ? tg->size.v : "Standard_D2s_v3",
		"targetResourceGroupId", rid, "targetLocation", "westeurope",
		"targetAvailabilitySetId", tstr(tg ? tg->availability_set.v : NULL),
		"targetAvailabilityZone", tstr(tg ? tg->availability_zone.v : NULL),
		"targetProximityPlacementGroupId", json_null(),
		"targetNetworkId", tstr(tg ? tg->vnet.v : NULL),
		"testNetworkId", json_null(), "licenseType", "NotSpecified",
		"sqlServerLicenseType", "NotSpecified", "linuxLicenseType", "NotSpecified");
	it->reprotect = json_object();
}

static void item_release(emu_item *it)
{
	free(it->name);
	free(it->os_type);
	free(it->os_name);
	free(it->firmware);
	json_decref(it->disks);
	json_decref(it->nics);
	json_decref(it->target);
	json_decref(it->reprotect);
}

static int add_item(emu *e, const dr_machine *m, const char *name)
{
	if (find_item_by_name(e, name) >= 0)
		return 0;
	e->items = dr_xrealloc(e->items, (e->nitems + 1) * sizeof(*e->items));
	emu_item *it = &e->items[e->nitems];
	memset(it, 0, sizeof(*it));
	it->name = dr_xstrdup(name);
	item_init_facts(e, it, m);
	e->nitems++;
	return 0;
}

/* ---- items: the JSON an ARM GET returns ---- */

static json_t *item_json(emu *e, const emu_item *it, const dr_prov_item *v)
{
	char *iid = item_id(e, it);
	char pol[600], ps[600], agent[600];
	bool fb = v->instance_type && !strcmp(v->instance_type, "InMageRcmFailback");
	snprintf(pol, sizeof(pol), "%s/replicationPolicies/policy-24h", e->vpath);
	snprintf(ps, sizeof(ps), "%s/replicationFabrics/%s/processServers/ps-01", e->vpath,
		 e->fabric);
	snprintf(agent, sizeof(agent), "reprotect-agent-01");
	json_t *ops = json_array();
	for (size_t i = 0; i < v->nallowed_ops; i++)
		json_array_append_new(ops, json_string(v->allowed_ops[i]));
	json_t *psd;
	char *lp = v->last_point.id ? point_id(e, it, v->last_point.id) : NULL;
	char *fp = v->failover_point.id ? point_id(e, it, v->failover_point.id) : NULL;
	json_t *disks = json_deep_copy(it->disks);
	if (!fb) {
		psd = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:f,s:s,s:s,s:s,s:s,s:o,s:o,"
				"s:o,s:o,s:o,s:I,s:s,s:s,s:o,s:o,s:o,s:{s:s,s:s},s:s}",
			"instanceType", "InMageRcm", "internalIdentifier", it->guid,
			"fabricDiscoveryMachineId", it->guid, "multiVmGroupName", it->name,
			"discoveryType", it->physical ? "PhysicalServer" : "vCenter",
			"processServerId", ps, "processServerName", "ps-01",
			"processorCoreCount", (json_int_t)it->cpus, "allocatedMemoryInMB",
			it->mem_mb, "osType", it->os_type, "osName", it->os_name,
			"firmwareType", it->firmware, "targetGeneration",
			!strcmp(it->firmware, "UEFI") ? "V2" : "V1",
			"primaryNicIpAddress", json_deep_copy(json_object_get(
				json_array_get(it->nics, 0), "sourceIPAddress")),
			"failoverRecoveryPointId", tstr(fp),
			"lastRecoveryPointId", tstr(lp),
			"lastRecoveryPointReceived", json_time(v->last_point.time_ms),
			"lastRpoCalculatedTime", json_time(v->last_point.id ? dr_sim_now(e->sim) : 0),
			"lastRpoInSeconds", (json_int_t)v->last_rpo_s,
			"resyncRequired", "false", "resyncState", "None",
			"initialReplicationProgressPercentage",
			v->initial_replication_percent >= 0 ?
				json_integer(v->initial_replication_percent) : json_integer(100),
			"protectedDisks", disks, "vmNics", json_deep_copy(it->nics),
			"mobilityAgentDetails", "version", "9.62.0.0", "agentVersionExpiryDate",
			"2027-12-31T00:00:00Z", "agentUpgradeState", "None");
		json_object_update(psd, it->target);
		json_object_set_new(psd, "unprotectedDisks", json_array());
		/* What the appliance discovered in vCenter (reference §2.1);
		 * a reprotect to on-premises takes its datastore. */
		json_object_set_new(psd, "discoveredVmDetails", json_pack(
			"{s:s,s:s,s:[s],s:[O?],s:s,s:s,s:s,s:s}",
			"vCenterId", "vcenter-01", "vCenterFqdn", "vcenter01.corp.example",
			"datastores", "datastore1", "ipAddresses", json_object_get(
				json_array_get(it->nics, 0), "sourceIPAddress"),
			"vmwareToolsStatus", "Running", "powerStatus", "ON",
			"osName", it->os_name, "isDeleted", "false"));
		json_object_set_new(psd, "isAgentRegistrationSuccessfulAfterFailover",
				    json_true());
	} else {
		json_t *fnics = json_array();
		size_t i;
		json_t *n;
		json_array_foreach(it->nics, i, n) {
			char mac[32];
			snprintf(mac, sizeof(mac), "00:50:56:%02x:%02x:%02x",
				 (unsigned)(fnv(it->name, 3) & 0xff), (unsigned)i, 1);
			json_array_append_new(fnics, json_pack("{s:s,s:s,s:s,s:O?}",
				"macAddress", mac, "networkName", "VM Network",
				"adapterType", "Vmxnet3", "sourceIpAddress",
				json_object_get(n, "sourceIPAddress")));
		}
		const char *az_vm = json_string_value(json_object_get(it->target, "targetVmName"));
		const char *az_rg = json_string_value(json_object_get(it->target, "targetResourceGroupId"));
		char vmid[600];
		snprintf(vmid, sizeof(vmid), "%s/providers/Microsoft.Compute/virtualMachines/%s",
			 az_rg ? az_rg : "", az_vm ? az_vm : it->name);
		psd = json_pack("{s:s,s:s,s:s,s:s,s:O?,s:O?,s:s,s:O?,s:s,s:O?,s:s,s:o,s:s,s:s,s:o,s:o,s:s}",
			"instanceType", "InMageRcmFailback", "internalIdentifier", it->guid,
			"azureVirtualMachineId", vmid, "multiVmGroupName", it->name,
			"reprotectAgentId", json_object_get(it->reprotect, "reprotectAgentId"),
			"logStorageAccountId", json_object_get(it->reprotect, "logStorageAccountId"),
			"osType", it->os_type,
			"targetDataStoreName", json_object_get(it->reprotect, "datastoreName"),
			"targetvCenterId", "vcenter-01",
			"lastUsedPolicyId", json_object_get(it->reprotect, "policyId"),
			"targetVmName", it->name,
			"initialReplicationProgressPercentage",
			json_integer(v->initial_replication_percent >= 0 ?
				     v->initial_replication_percent : 100),
			"resyncRequired", "false", "resyncState", "None",
			"protectedDisks", disks, "vmNics", fnics,
			"lastPlannedFailoverStatus", "Unknown");
		json_object_set_new(psd, "lastRecoveryPointId", tstr(lp));
		json_object_set_new(psd, "lastRpoInSeconds", json_integer(v->last_rpo_s));
	}
	char *jid = v->last_job_id && strcmp(v->current_scenario, "None") ?
		    job_arm_id(e, v->last_job_id) : job_arm_id(e, "None");
	json_t *props = json_pack(
		"{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:s,"
		"s:s,s:[],s:{s:s,s:s,s:s},s:o,s:o}",
		"friendlyName", it->name, "protectedItemType",
		it->physical ? "PhysicalServer" : "VMwareVirtualMachine",
		"policyId", pol, "policyFriendlyName", "policy-24h",
		"primaryFabricFriendlyName", e->fabric, "primaryFabricProvider",
		"InMageRcmFabric", "recoveryFabricFriendlyName", "Microsoft Azure",
		"recoveryFabricId", "Microsoft Azure",
		"primaryProtectionContainerFriendlyName", e->container,
		"recoveryProtectionContainerFriendlyName", "Microsoft Azure",
		"protectionState", v->protection_state, "protectionStateDescription",
		v->protection_state_description, "activeLocation", v->active_location,
		"testFailoverState", v->test_failover_state,
		"testFailoverStateDescription", v->test_failover_state_description,
		"replicationHealth", v->replication_health, "allowedOperations", ops,
		"failoverHealth", "Normal", "switchProviderState", "None",
		"healthErrors", "currentScenario", "scenarioName", v->current_scenario,
		"jobId", jid, "startTime", "1753-01-01T01:01:01Z",
		"failoverRecoveryPointId", tstr(fp), "providerSpecificDetails", psd);
	json_t *j = json_pack("{s:s,s:s,s:s,s:o}", "id", iid, "name", it->guid, "type",
			      ITEM_TYPE, "properties", props);
	free(jid);
	free(iid);
	free(lp);
	free(fp);
	return j;
}

/* ---- jobs ---- */

static const char *arm_status(const char *state)
{
	if (!strcmp(state, "Succeeded") || !strcmp(state, "Failed"))
		return state;
	if (!strcmp(state, "Cancelled"))
		return "Canceled";
	return "InProgress";
}

static json_t *err_json(const dr_prov_error *x)
{
	return json_pack("{s:{s:s,s:s,s:s?,s:s?,s:s},s:n,s:s,s:o,s:s?}",
		"serviceErrorDetails", "code", x->code ? x->code : "",
		"message", x->message ? x->message : "", "possibleCauses",
		x->possible_causes, "recommendedAction", x->recommended_action,
		"activityId", "00000000-0000-0000-0000-0000000000ac",
		"providerErrorDetails", "errorLevel", x->level ? x->level : "Error",
		"creationTime", json_time(x->time_ms), "taskId", x->task_id);
}

static json_t *job_json(emu *e, const dr_prov_job *j)
{
	long ii = find_item_by_name(e, j->item);
	const emu_item *it = ii >= 0 ? &e->items[ii] : NULL;
	json_t *tasks = json_array();
	for (size_t i = 0; i < j->ntasks; i++) {
		const dr_prov_task *t = &j->tasks[i];
		json_t *terr = json_array();
		for (size_t k = 0; k < j->nerrors; k++)
			if (j->errors[k].task_id && !strcmp(j->errors[k].task_id, t->id))
				json_array_append_new(terr, err_json(&j->errors[k]));
		json_array_append_new(tasks, json_pack(
			"{s:s,s:s,s:s,s:o,s:o,s:[],s:s,s:s?,s:s,s:{s:s},s:o}",
			"taskId", t->id, "name", t->name, "friendlyName", t->name,
			"startTime", json_time(t->start_ms), "endTime", json_time(t->end_ms),
			"allowedActions", "state", t->state, "stateDescription",
			t->state_description, "taskType", "TaskOfGenericType",
			"customDetails", "instanceType", "JobTaskDetails", "errors", terr));
	}
	json_t *errs = json_array();
	for (size_t k = 0; k < j->nerrors; k++)
		json_array_append_new(errs, err_json(&j->errors[k]));
	char act[128], jg[37];
	make_guid(j->id, jg);
	snprintf(act, sizeof(act), "%s ActivityId: %s",
		 j->client_request_id ? j->client_request_id :
		 "00000000-0000-0000-0000-000000000000", jg);
	bool fo = j->kind == DR_PREQ_UNPLANNED_FAILOVER || j->kind == DR_PREQ_PLANNED_FAILOVER ||
		  j->kind == DR_PREQ_TEST_FAILOVER;
	json_t *custom = json_pack("{s:s,s:{}}", "instanceType",
				   j->kind == DR_PREQ_TEST_FAILOVER ? "TestFailoverJobDetails" :
				   fo ? "FailoverJobDetails" : "AsrJobDetails",
				   "affectedObjectDetails");
	if (fo && it) {
		char *pid = j->point.id ? point_id(e, it, j->point.id) : NULL;
		json_object_set_new(custom, "protectedItemDetails", json_pack(
			"[{s:s,s:s,s:o,s:o,s:o}]", "name", it->guid, "friendlyName",
			it->name, "recoveryPointId", tstr(pid), "recoveryPointTime",
			json_time(j->point.id ? j->point.time_ms : 0),
			"subnet", json_null()));
		free(pid);
	}
	char *id = job_arm_id(e, j->id);
	bool done = dr_prov_job_done(j);
	json_t *props = json_pack(
		"{s:s,s:s,s:s,s:s,s:s?,s:o,s:o,s:o,s:o,s:o,s:s,s:s,s:s,s:o}",
		"activityId", act, "scenarioName", j->scenario, "friendlyName",
		j->friendly_name, "state", j->state, "stateDescription",
		j->state_description, "tasks", tasks, "errors", errs,
		"startTime", json_time(j->start_ms), "endTime", json_time(j->end_ms),
		"allowedActions", done ? json_array() : json_pack("[s]", "Cancel"),
		"targetObjectId", it ? it->guid : "", "targetObjectName", j->item,
		"targetInstanceType", "ProtectionEntity", "customDetails", custom);
	json_t *o = json_pack("{s:s,s:s,s:s,s:o}", "id", id, "name", j->id, "type",
			      "Microsoft.RecoveryServices/vaults/replicationJobs",
			      "properties", props);
	free(id);
	return o;
}

/* A job the emulator owns (PATCH), as a dr_prov_job. */
static void emu_job_view(emu *e, const emu_job *ej, dr_prov_job *j, dr_prov_task *t)
{
	memset(j, 0, sizeof(*j));
	memset(t, 0, sizeof(*t));
	j->id = (char *)ej->id;
	j->item = e->items[ej->item].name;
	j->kind = DR_PREQ__COUNT;
	j->scenario = (char *)"UpdateVmProperties";
	j->friendly_name = (char *)"Update the virtual machine";
	j->state = (char *)"Succeeded";
	j->state_description = (char *)"Completed";
	j->start_ms = ej->start_ms;
	j->end_ms = ej->start_ms + 1000;
	t->id = (char *)"task-1";
	t->name = (char *)"Update the virtual machine properties";
	t->state = (char *)"Succeeded";
	t->state_description = (char *)"Completed";
	t->start_ms = j->start_ms;
	t->end_ms = j->end_ms;
	j->tasks = t;
	j->ntasks = 1;
}

static const emu_job *find_emu_job(emu *e, const char *id)
{
	for (size_t i = 0; i < e->njobs; i++)
		if (!strcasecmp(e->jobs[i].id, id))
			return &e->jobs[i];
	return NULL;
}

/* ---- persistence ---- */

static int save_state(emu *e)
{
	if (!e->state_file)
		return 0;
	json_t *sim = NULL;
	int rc = dr_sim_save(e->sim, &sim);
	if (rc < 0)
		return rc;
	json_t *items = json_object(), *jobs = json_array();
	for (size_t i = 0; i < e->nitems; i++) {
		emu_item *it = &e->items[i];
		json_object_set_new(items, it->name, json_pack("{s:O,s:O,s:O,s:i}",
			"target", it->target, "nics", it->nics, "reprotect",
			it->reprotect, "updates", it->updates));
	}
	for (size_t i = 0; i < e->njobs; i++)
		json_array_append_new(jobs, json_pack("{s:s,s:s,s:I}", "id", e->jobs[i].id,
			"item", e->items[e->jobs[i].item].name, "start",
			(json_int_t)e->jobs[i].start_ms));
	json_t *all = json_pack("{s:s,s:o,s:o,s:o}", "format", "armemu/1", "sim", sim,
				"items", items, "jobs", jobs);
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", e->state_file);
	/* Write, flush to disk, then rename: a crash leaves the old state. */
	FILE *f = fopen(tmp, "w");
	bool ok = f && json_dumpf(all, f, JSON_COMPACT) == 0 && fflush(f) == 0 &&
		  fsync(fileno(f)) == 0;
	if (f && fclose(f) != 0)
		ok = false;
	rc = ok && rename(tmp, e->state_file) == 0 ?
	     0 : dr_error_set(DR_EIO, "cannot write %s: %s", e->state_file, strerror(errno));
	if (rc < 0)
		unlink(tmp);
	json_decref(all);
	return rc;
}

static int load_state(emu *e)
{
	if (!e->state_file || access(e->state_file, F_OK) != 0)
		return 0;
	json_error_t je;
	json_t *all = json_load_file(e->state_file, 0, &je);
	if (!all)
		return dr_error_set(DR_EINVAL, "%s: %s", e->state_file, je.text);
	int rc = 0;
	const char *fmt = json_string_value(json_object_get(all, "format"));
	if (!fmt || strcmp(fmt, "armemu/1")) {
		rc = dr_error_set(DR_EINVAL, "%s: not an armemu state", e->state_file);
		goto out;
	}
	rc = dr_sim_load(e->sim, json_object_get(all, "sim"));
	if (rc < 0)
		goto out;
	const char *name;
	json_t *v;
	json_object_foreach(json_object_get(all, "items"), name, v) {
		long i = find_item_by_name(e, name);
		if (i < 0) {
			add_item(e, NULL, name);
			i = (long)e->nitems - 1;
		}
		emu_item *it = &e->items[i];
		json_t *t = json_object_get(v, "target"), *n = json_object_get(v, "nics");
		json_t *r = json_object_get(v, "reprotect");
		if (json_is_object(t))
			json_decref(it->target), it->target = json_incref(t);
		if (json_is_array(n))
			json_decref(it->nics), it->nics = json_incref(n);
		if (json_is_object(r))
			json_decref(it->reprotect), it->reprotect = json_incref(r);
		it->updates = (int)json_integer_value(json_object_get(v, "updates"));
	}
	size_t k;
	json_array_foreach(json_object_get(all, "jobs"), k, v) {
		const char *id = json_string_value(json_object_get(v, "id"));
		const char *in = json_string_value(json_object_get(v, "item"));
		long i = in ? find_item_by_name(e, in) : -1;
		if (!id || i < 0 || strlen(id) != 36)
			continue;
		e->jobs = dr_xrealloc(e->jobs, (e->njobs + 1) * sizeof(*e->jobs));
		snprintf(e->jobs[e->njobs].id, 37, "%s", id);
		e->jobs[e->njobs].item = (size_t)i;
		e->jobs[e->njobs].start_ms = json_integer_value(json_object_get(v, "start"));
		e->njobs++;
	}
out:
	json_decref(all);
	return rc;
}

/* ---- answering ---- */

static void log_req(emu_req *r)
{
	emu *e = r->e;
	if (!e->log || !strncmp(r->url, "/_emulator/", 11))
		return;
	char ts[40];
	iso_time(dr_wall_ms(), ts, sizeof(ts));
	json_t *j = json_pack("{s:s,s:s,s:s,s:i,s:s?,s:s?,s:b,s:s?,s:s?,s:I}", "time", ts,
		"method", r->method, "path", r->url, "status", r->drop ? 0 : r->status,
		"op", r->op_name[0] ? r->op_name : NULL, "item", r->item_name,
		"accepted", r->accepted, "job", r->job, "fault", r->fault, "ms",
		(json_int_t)(dr_loop_now(e->loop) - r->t0));
	char *s = json_dumps(j, JSON_COMPACT);
	fprintf(e->log, "%s\n", s);
	fflush(e->log);
	free(s);
	json_decref(j);
}

static void run_mhd(dr_loop *loop, void *ud);

static void deferred_mhd(dr_loop *loop, void *ud)
{
	((emu *)ud)->defer = NULL;
	run_mhd(loop, ud);
}

static void schedule_mhd(emu *e)
{
	if (!e->defer)
		e->defer = dr_loop_defer(e->loop, deferred_mhd, e);
}

static void do_resume(emu_req *r)
{
	emu *e = r->e;
	if (!r->suspended)
		return;
	r->suspended = false;
	if (r->prev)
		r->prev->next = r->next;
	else
		e->suspended = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
	MHD_resume_connection(r->conn);
	schedule_mhd(e);
}

static void on_delay(dr_loop *loop, void *ud)
{
	(void)loop;
	emu_req *r = ud;
	r->delay = NULL;
	r->delay_ms = 0;
	do_resume(r);
}

/* The answer is ready (r->state RS_DONE): let MHD send it. */
static void complete(emu_req *r)
{
	r->state = RS_DONE;
	if (!r->suspended)
		return;
	if (r->delay_ms)
		r->delay = dr_loop_timer(r->e->loop, r->delay_ms, on_delay, r);
	else
		do_resume(r);
}

/* Retry-After of 202s: the configured value, else ASR's 30 s scaled. */
static void add_lro_retry_after(emu_req *r)
{
	emu *e = r->e;
	int s = e->faults.lro_retry_after_s;
	if (s < 0) {
		double v = 30.0 * e->scale;
		s = (int)v;
		if ((double)s < v)
			s++;
		if (s > 30)
			s = 30;
	}
	char b[16];
	snprintf(b, sizeof(b), "%d", s);
	add_hdr(r, "Retry-After", b);
}

static void add_ratelimit_headers(emu_req *r)
{
	emu *e = r->e;
	char b[32];
	long w = e->faults.writes.burst > 0 ? (long)e->faults.writes.tokens : 1199;
	long rd = e->faults.reads.burst > 0 ? (long)e->faults.reads.tokens : 11999;
	snprintf(b, sizeof(b), "%ld", w);
	add_hdr(r, "x-ms-ratelimit-remaining-subscription-writes", b);
	snprintf(b, sizeof(b), "%ld", rd);
	add_hdr(r, "x-ms-ratelimit-remaining-subscription-reads", b);
}

static enum MHD_Result send_answer(emu_req *r)
{
	log_req(r);
	if (r->drop)
		return MHD_NO;
	if (r->cls.arm)
		add_ratelimit_headers(r);
	const char *out = r->out ? r->out : "";
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(out), (void *)out, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	if (*out)
		MHD_add_response_header(resp, "Content-Type",
					"application/json; charset=utf-8");
	for (int i = 0; i < r->nhdrs; i++)
		MHD_add_response_header(resp, r->hdrs[i].name, r->hdrs[i].value);
	enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ok;
}

/* 202 for an accepted operation on item it with job id job. */
static void accepted_202(emu_req *r, const emu_item *it, const char *job)
{
	emu *e = r->e;
	char *base = base_url(r), *iid = item_id(e, it), *jid = job_arm_id(e, job);
	size_t n = strlen(base) + strlen(iid) + strlen(e->vpath) + 256;
	char *loc = dr_xmalloc(n), *aso = dr_xmalloc(n);
	snprintf(loc, n, "%s%s/operationresults/%s?api-version=%s", base, iid, job, r->api);
	snprintf(aso, n, "%s%s/replicationOperationStatus/%s?api-version=%s", base,
		 e->vpath, job, r->api);
	add_hdr(r, "Location", loc);
	add_hdr(r, "Azure-AsyncOperation", aso);
	add_lro_retry_after(r);
	add_hdr(r, "x-ms-request-id", jid);
	free(base);
	free(iid);
	free(jid);
	free(loc);
	free(aso);
	r->accepted = true;
	free(r->job);
	r->job = dr_xstrdup(job);
	if (arm_faults_take_lose(&e->faults, &r->cls)) {
		r->drop = true;
		r->fault = "lose-accept";
	}
	set_body(r, 202, NULL);
	if (save_state(e) < 0)
		fprintf(stderr, "armemu: %s\n", dr_error_msg());
}

/* ---- fetching items (fan-out) ---- */

typedef struct fetch {
	emu_req *r;
	size_t slot, item;
	json_t *j;
} fetch;

static void fetch_done(fetch *f)
{
	emu_req *r = f->r;
	json_array_set_new(r->arr, f->slot, f->j ? f->j : json_null());
	free(f);
	if (--r->pending == 0)
		r->finish(r);
}

static void fetch_job_cb(void *ud, int rc, const dr_prov_job *job,
			 const dr_prov_error *err)
{
	(void)err;
	fetch *f = ud;
	if (rc == 0 && job && f->j) {
		json_t *cs = json_object_get(json_object_get(f->j, "properties"),
					     "currentScenario");
		json_object_set_new(cs, "startTime", json_time(job->start_ms));
	}
	fetch_done(f);
}

static void fetch_item_cb(void *ud, int rc, const dr_prov_item *v,
			  const dr_prov_error *err)
{
	(void)err;
	fetch *f = ud;
	emu *e = f->r->e;
	if (rc == 0 && v) {
		f->j = item_json(e, &e->items[f->item], v);
		if (strcmp(v->current_scenario, "None") && v->last_job_id &&
		    dr_provider_poll(e->prov, v->last_job_id, fetch_job_cb, f) == 0)
			return;
	}
	fetch_done(f);
}

/* Fetch items idx[0..n) into r->arr, then call finish. */
static void fetch_items(emu_req *r, const size_t *idx, size_t n,
			void (*finish)(emu_req *r))
{
	json_decref(r->arr);
	r->arr = json_array();
	r->finish = finish;
	r->pending = n + 1;
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(r->arr, json_null());
		fetch *f = dr_xcalloc(1, sizeof(*f));
		f->r = r;
		f->slot = i;
		f->item = idx[i];
		if (dr_provider_get_item(r->e->prov, r->e->items[idx[i]].name,
					 fetch_item_cb, f) < 0)
			fetch_done(f);
	}
	if (--r->pending == 0)
		finish(r);
}

static void finish_one_item(emu_req *r)
{
	json_t *j = json_array_get(r->arr, 0);
	if (!j || json_is_null(j)) {
		fail(r, 404, "NotFound", "Replicated item not found.");
	} else {
		set_body(r, r->status ? r->status : 200, json_incref(j));
	}
	complete(r);
}

static char *next_link(emu_req *r, long next)
{
	char *base = base_url(r);
	size_t n = strlen(base) + strlen(r->url) + 128;
	char *s = dr_xmalloc(n);
	snprintf(s, n, "%s%s?api-version=%s&$skipToken=%ld", base, r->url, r->api, next);
	free(base);
	return s;
}

static void page_answer(emu_req *r, json_t *all_or_page, long total)
{
	json_t *o = json_pack("{s:O}", "value", all_or_page);
	long end = r->skip + (long)json_array_size(all_or_page);
	if (end < total) {
		char *nl = next_link(r, end);
		json_object_set_new(o, "nextLink", json_string(nl));
		free(nl);
	}
	set_body(r, 200, o);
	complete(r);
}

static void finish_item_list(emu_req *r)
{
	page_answer(r, r->arr, (long)r->e->nitems);
}

static void list_items(emu_req *r)
{
	emu *e = r->e;
	size_t *idx = dr_xcalloc(e->page_size + 1, sizeof(*idx));
	size_t n = 0;
	for (size_t i = (size_t)r->skip; i < e->nitems && n < e->page_size; i++)
		idx[n++] = i;
	fetch_items(r, idx, n, finish_item_list);
	free(idx);
}

/* ---- recovery points ---- */

static void points_cb(void *ud, int rc, const dr_prov_point *pts, size_t n,
		      const dr_prov_error *err)
{
	emu_req *r = ud;
	emu *e = r->e;
	if (rc < 0) {
		fail_prov(r, rc, err);
		complete(r);
		return;
	}
	const emu_item *it = &e->items[r->item];
	/* A single point: .../recoveryPoints/{name}. */
	const char *want = r->filter;
	json_t *page = json_array();
	long total = 0;
	for (size_t i = 0; i < n; i++) {
		if (want && strcmp(pts[i].id, want))
			continue;
		long k = total++;
		if (!want && (k < r->skip || k >= r->skip + (long)e->page_size))
			continue;
		char *pid = point_id(e, it, pts[i].id);
		json_array_append_new(page, json_pack(
			"{s:s,s:s,s:s,s:{s:o,s:s,s:{s:s,s:s}}}", "id", pid, "name",
			pts[i].id, "type", ITEM_TYPE "/recoveryPoints", "properties",
			"recoveryPointTime", json_time(pts[i].time_ms),
			"recoveryPointType", dr_point_type_name(pts[i].type),
			"providerSpecificDetails", "instanceType", "InMageRcm",
			"isMultiVmSyncPoint", "false"));
		free(pid);
	}
	if (want) {
		if (!json_array_size(page))
			fail(r, 404, "RecoveryPointNotFound",
			     "Recovery point '%s' was not found.", want);
		else
			set_body(r, 200, json_incref(json_array_get(page, 0)));
		json_decref(page);
		complete(r);
		return;
	}
	page_answer(r, page, total);
	json_decref(page);
}

/* ---- jobs ---- */

typedef struct job_filter {
	int64_t since, until;
	char *status, *target, *target_id, *scenario;
} job_filter;

static void job_filter_release(job_filter *f)
{
	free(f->status);
	free(f->target);
	free(f->target_id);
	free(f->scenario);
}

/* "startTime eq '...' and jobStatus eq 'InProgress'" */
static int parse_filter(const char *s, job_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->until = INT64_MAX;
	if (!s)
		return 0;
	const char *p = s;
	while (*p) {
		while (*p == ' ')
			p++;
		char key[64], val[512];
		int used = 0;
		if (sscanf(p, "%63[A-Za-z] eq '%511[^']'%n", key, val, &used) != 2 || !used)
			return -1;
		p += used;
		if (!strcasecmp(key, "startTime") || !strcasecmp(key, "endTime")) {
			int64_t t = parse_iso(val);
			if (t < 0)
				return -1;
			if (key[0] == 's' || key[0] == 'S')
				f->since = t;
			else
				f->until = t;
		} else if (!strcasecmp(key, "jobStatus") || !strcasecmp(key, "state")) {
			free(f->status), f->status = dr_xstrdup(val);
		} else if (!strcasecmp(key, "targetObjectName")) {
			free(f->target), f->target = dr_xstrdup(val);
		} else if (!strcasecmp(key, "targetObjectId")) {
			free(f->target_id), f->target_id = dr_xstrdup(val);
		} else if (!strcasecmp(key, "scenarioName")) {
			free(f->scenario), f->scenario = dr_xstrdup(val);
		} else {
			return -1;
		}
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (strncasecmp(p, "and ", 4))
			return -1;
		p += 4;
	}
	return 0;
}

static bool job_matches(const job_filter *f, const dr_prov_job *j, const emu_item *it)
{
	if (j->start_ms < f->since || j->start_ms > f->until)
		return false;
	if (f->status && strcasecmp(f->status, j->state))
		return false;
	if (f->target && strcmp(f->target, j->item))
		return false;
	if (f->target_id && (!it || strcasecmp(f->target_id, it->guid)))
		return false;
	if (f->scenario && strcasecmp(f->scenario, j->scenario))
		return false;
	return true;
}

typedef struct jobs_ctx {
	emu_req *r;
	job_filter f;
} jobs_ctx;

static int cmp_jobs(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	const char *sx = json_string_value(json_object_get(json_object_get(x, "properties"), "startTime"));
	const char *sy = json_string_value(json_object_get(json_object_get(y, "properties"), "startTime"));
	int c = strcmp(sy ? sy : "", sx ? sx : "");
	if (c)
		return c;
	return strcmp(json_string_value(json_object_get(x, "name")),
		      json_string_value(json_object_get(y, "name")));
}

static void finish_jobs(emu_req *r)
{
	size_t n = json_array_size(r->arr);
	json_t **v = dr_xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(r->arr, i));
	qsort(v, n, sizeof(*v), cmp_jobs);
	json_t *page = json_array();
	for (size_t i = (size_t)r->skip; i < n && json_array_size(page) < r->e->page_size; i++)
		json_array_append(page, v[i]);
	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
	free(v);
	page_answer(r, page, (long)n);
	json_decref(page);
}

static void jobs_cb(void *ud, int rc, const dr_prov_job *jobs, size_t n,
		    const dr_prov_error *err)
{
	(void)err;
	jobs_ctx *c = ud;
	emu_req *r = c->r;
	if (rc == 0) {
		for (size_t i = 0; i < n; i++) {
			long ii = find_item_by_name(r->e, jobs[i].item);
			if (job_matches(&c->f, &jobs[i], ii >= 0 ? &r->e->items[ii] : NULL))
				json_array_append_new(r->arr, job_json(r->e, &jobs[i]));
		}
	}
	if (--r->pending == 0) {
		job_filter_release(&c->f);
		free(c);
		finish_jobs(r);
	}
}

static void list_jobs(emu_req *r)
{
	emu *e = r->e;
	jobs_ctx *c = dr_xcalloc(1, sizeof(*c));
	c->r = r;
	if (parse_filter(r->filter, &c->f) < 0) {
		job_filter_release(&c->f);
		free(c);
		fail(r, 400, "InvalidParameter",
		     "The $filter '%s' is not supported: use clauses \"KEY eq 'VALUE'\" joined "
		     "by 'and', KEY one of startTime, endTime, jobStatus, targetObjectName, "
		     "targetObjectId, scenarioName.", r->filter);
		return;
	}
	json_decref(r->arr);
	r->arr = json_array();
	for (size_t i = 0; i < e->njobs; i++) {
		dr_prov_job j;
		dr_prov_task t;
		emu_job_view(e, &e->jobs[i], &j, &t);
		if (job_matches(&c->f, &j, &e->items[e->jobs[i].item]))
			json_array_append_new(r->arr, job_json(e, &j));
	}
	r->pending = 1;
	for (size_t i = 0; i < e->nitems; i++) {
		if (c->f.target && strcmp(c->f.target, e->items[i].name))
			continue;
		r->pending++;
		if (dr_provider_find_jobs(e->prov, e->items[i].name,
					  c->f.since > 0 ? c->f.since : 0, jobs_cb, c) < 0)
			r->pending--;
	}
	r->state = RS_WAIT;
	if (--r->pending == 0) {
		job_filter_release(&c->f);
		free(c);
		finish_jobs(r);
	}
}

enum poll_kind { PK_JOB, PK_STATUS, PK_RESULT };

typedef struct poll_ctx {
	emu_req *r;
	enum poll_kind kind;
} poll_ctx;

static void answer_job(emu_req *r, enum poll_kind kind, const dr_prov_job *j)
{
	emu *e = r->e;
	if (kind == PK_JOB) {
		set_body(r, 200, job_json(e, j));
		complete(r);
		return;
	}
	if (kind == PK_STATUS) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:o}", "id", r->url, "name", j->id,
				      "status", arm_status(j->state), "startTime",
				      json_time(j->start_ms), "endTime", json_time(j->end_ms));
		if (!strcmp(j->state, "Failed") || !strcmp(j->state, "Cancelled")) {
			const dr_prov_error *x = j->nerrors ? &j->errors[0] : NULL;
			json_object_set_new(o, "error", json_pack("{s:s,s:s}", "code",
				x && x->code ? x->code : "JobFailed", "message",
				x && x->message ? x->message : "The job failed."));
		}
		if (!dr_prov_job_done(j))
			add_lro_retry_after(r);
		set_body(r, 200, o);
		complete(r);
		return;
	}
	/* Location: 202 while running, then the item, or the job's error. */
	if (!dr_prov_job_done(j)) {
		char *base = base_url(r);
		size_t n = strlen(base) + strlen(r->url) + 64;
		char *loc = dr_xmalloc(n);
		snprintf(loc, n, "%s%s?api-version=%s", base, r->url, r->api);
		add_hdr(r, "Location", loc);
		add_lro_retry_after(r);
		free(base);
		free(loc);
		set_body(r, 202, NULL);
		complete(r);
		return;
	}
	if (!dr_prov_job_succeeded(j)) {
		const dr_prov_error *x = j->nerrors ? &j->errors[0] : NULL;
		set_body(r, 400, arm_error(400, x && x->code ? x->code : "JobFailed",
					   x && x->message ? x->message : "The job failed.",
					   x ? x->possible_causes : NULL,
					   x ? x->recommended_action : NULL));
		complete(r);
		return;
	}
	size_t idx = (size_t)r->item;
	r->status = 200;
	fetch_items(r, &idx, 1, finish_one_item);
}

static void poll_cb(void *ud, int rc, const dr_prov_job *j, const dr_prov_error *err)
{
	poll_ctx *c = ud;
	emu_req *r = c->r;
	enum poll_kind kind = c->kind;
	free(c);
	if (rc < 0) {
		if (rc == DR_ENOTFOUND)
			fail(r, 404, "NotFound", "Job '%s' was not found.", r->job ? r->job : "");
		else
			fail_prov(r, rc, err);
		complete(r);
		return;
	}
	answer_job(r, kind, j);
}

static void get_job(emu_req *r, const char *id, enum poll_kind kind)
{
	emu *e = r->e;
	const emu_job *ej = find_emu_job(e, id);
	free(r->job);
	r->job = dr_xstrdup(id);
	if (ej) {
		dr_prov_job j;
		dr_prov_task t;
		emu_job_view(e, ej, &j, &t);
		if (kind == PK_RESULT && r->item < 0)
			r->item = (long)ej->item;
		answer_job(r, kind, &j);
		return;
	}
	poll_ctx *c = dr_xcalloc(1, sizeof(*c));
	c->r = r;
	c->kind = kind;
	r->state = RS_WAIT;
	if (dr_provider_poll(e->prov, id, poll_cb, c) < 0) {
		free(c);
		fail(r, 404, "NotFound", "Job '%s' was not found.", id);
	}
}

/* ---- operations ---- */

static const struct action {
	const char *path;
	dr_preq_kind kind;
} actions[] = {
	{ "testFailover", DR_PREQ_TEST_FAILOVER },
	{ "testFailoverCleanup", DR_PREQ_TEST_FAILOVER_CLEANUP },
	{ "unplannedFailover", DR_PREQ_UNPLANNED_FAILOVER },
	{ "applyRecoveryPoint", DR_PREQ_APPLY_RECOVERY_POINT },
	{ "failoverCommit", DR_PREQ_COMMIT },
	{ "reProtect", DR_PREQ_REPROTECT },
	{ "plannedFailover", DR_PREQ_PLANNED_FAILOVER },
	{ "failoverCancel", DR_PREQ_CANCEL_FAILOVER },
};

static int action_kind(const char *seg)
{
	for (size_t i = 0; i < DR_ARRAY_SIZE(actions); i++)
		if (!strcasecmp(actions[i].path, seg))
			return (int)actions[i].kind;
	return -1;
}

static void start_cb(void *ud, int rc, const char *job_id, const dr_prov_error *err)
{
	emu_req *r = ud;
	emu *e = r->e;
	emu_item *it = &e->items[r->item];
	if (rc == 0) {
		if (r->reprotect) {
			json_decref(it->reprotect);
			it->reprotect = json_incref(r->reprotect);
		}
		accepted_202(r, it, job_id);
	} else if (rc == DR_EIO) {
		/* The simulator's own lose-accept fault: accepted, answer lost. */
		r->accepted = true;
		r->drop = true;
		r->fault = "sim lose-accept";
		r->state = RS_DONE;
		if (save_state(e) < 0)
			fprintf(stderr, "armemu: %s\n", dr_error_msg());
	} else {
		fail_prov(r, rc, err);
	}
	complete(r);
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* recoveryPointId: null/absent = latest; an ARM id or a bare name = custom. */
static int take_point(emu_req *r, json_t *v, bool required)
{
	if (!v || json_is_null(v)) {
		if (required) {
			fail(r, 400, "InvalidParameter", "recoveryPointId is required.");
			return -1;
		}
		r->op.rp.kind = DR_RP_LATEST;
		return 0;
	}
	if (!json_is_string(v)) {
		fail(r, 400, "InvalidParameter", "recoveryPointId must be a string.");
		return -1;
	}
	const char *s = json_string_value(v);
	const char *slash = strrchr(s, '/');
	if (slash) {
		const char *rp = strcasestr(s, "/recoveryPoints/");
		if (!rp || rp + strlen("/recoveryPoints/") != slash + 1) {
			fail(r, 400, "InvalidParameter",
			     "recoveryPointId '%s' is not a recovery point id.", s);
			return -1;
		}
	}
	r->op.rp.kind = DR_RP_CUSTOM;
	r->op_strs[0] = dr_xstrdup(slash ? slash + 1 : s);
	r->op.rp.id = r->op_strs[0];
	return 0;
}

static int want_instance(emu_req *r, json_t *psd, const char *want, bool required)
{
	if (!psd) {
		if (required) {
			fail(r, 400, "InvalidParameter",
			     "properties.providerSpecificDetails is required.");
			return -1;
		}
		return 0;
	}
	const char *t = jstr(psd, "instanceType");
	if (!json_is_object(psd) || !t || strcmp(t, want)) {
		fail(r, 400, "InvalidProviderSpecificInput",
		     "providerSpecificDetails.instanceType must be '%s' for this item.", want);
		return -1;
	}
	return 0;
}

static int want_direction(emu_req *r, json_t *props, const char *want, bool required)
{
	json_t *d = json_object_get(props, "failoverDirection");
	if (!d || json_is_null(d)) {
		if (!required)
			return 0;
	} else if (json_is_string(d) && !strcmp(json_string_value(d), want)) {
		return 0;
	}
	fail(r, 400, "InvalidFailoverDirection",
	     "properties.failoverDirection must be '%s'.", want);
	return -1;
}

static void do_action(emu_req *r, dr_preq_kind kind)
{
	emu *e = r->e;
	emu_item *it = &e->items[r->item];
	json_t *body = NULL, *props = NULL, *psd = NULL;
	if (r->body.len) {
		json_error_t je;
		body = json_loadb(r->body.buf, r->body.len, 0, &je);
		if (!json_is_object(body)) {
			fail(r, 400, "InvalidRequestContent",
			     "The request content was invalid and could not be deserialized: %s",
			     je.text);
			goto out;
		}
		props = json_object_get(body, "properties");
		psd = json_object_get(props, "providerSpecificDetails");
		if (psd && json_is_null(psd))
			psd = NULL;
	}
	bool needs_props = kind != DR_PREQ_COMMIT && kind != DR_PREQ_CANCEL_FAILOVER;
	if (needs_props && !json_is_object(props)) {
		fail(r, 400, "InvalidParameter", "The 'properties' object is required.");
		goto out;
	}
	memset(&r->op, 0, sizeof(r->op));
	r->op.kind = kind;
	r->op.item = it->name;
	r->op.client_request_id = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
							      "x-ms-client-request-id");
	switch (kind) {
	case DR_PREQ_TEST_FAILOVER: {
		if (want_direction(r, props, "PrimaryToRecovery", false) ||
		    want_instance(r, psd, "InMageRcm", false) ||
		    take_point(r, json_object_get(psd, "recoveryPointId"), false))
			goto out;
		const char *net = jstr(psd, "networkId");
		if (!net)
			net = jstr(props, "networkId");
		if (net)
			r->op.network = r->op_strs[1] = dr_xstrdup(net);
		break;
	}
	case DR_PREQ_TEST_FAILOVER_CLEANUP: {
		json_t *c = json_object_get(props, "comments");
		if (c && !json_is_null(c) && !json_is_string(c)) {
			fail(r, 400, "InvalidParameter", "comments must be a string.");
			goto out;
		}
		if (json_is_string(c))
			r->op.comments = r->op_strs[1] = dr_xstrdup(json_string_value(c));
		break;
	}
	case DR_PREQ_UNPLANNED_FAILOVER: {
		if (want_direction(r, props, "PrimaryToRecovery", false) ||
		    want_instance(r, psd, "InMageRcm", false) ||
		    take_point(r, json_object_get(psd, "recoveryPointId"), false))
			goto out;
		const char *ps = jstr(psd, "performShutdown");
		const char *sso = jstr(props, "sourceSiteOperations");
		if (psd && (!ps || (strcasecmp(ps, "true") && strcasecmp(ps, "false")))) {
			fail(r, 400, "InvalidParameter",
			     "providerSpecificDetails.performShutdown is required: \"true\" or \"false\".");
			goto out;
		}
		r->op.shutdown_source = ps ? !strcasecmp(ps, "true") :
					sso && !strcmp(sso, "Required");
		break;
	}
	case DR_PREQ_APPLY_RECOVERY_POINT: {
		if (want_instance(r, psd, "InMageRcm", true))
			goto out;
		json_t *v = json_object_get(psd, "recoveryPointId");
		if (!v || json_is_null(v))
			v = json_object_get(props, "recoveryPointId");
		if (take_point(r, v, true))
			goto out;
		break;
	}
	case DR_PREQ_REPROTECT: {
		const char *t = jstr(psd, "instanceType");
		if (!t || (strcmp(t, "InMageRcm") && strcmp(t, "InMageRcmFailback"))) {
			fail(r, 400, "InvalidProviderSpecificInput",
			     "providerSpecificDetails.instanceType must be 'InMageRcm' (to on-premises) "
			     "or 'InMageRcmFailback' (back to Azure).");
			goto out;
		}
		bool to_onprem = !strcmp(t, "InMageRcm");
		if (want_direction(r, props, to_onprem ? "RecoveryToPrimary" : "PrimaryToRecovery",
				   true))
			goto out;
		static const char *const need_onprem[] = { "reprotectAgentId", "datastoreName",
							   "logStorageAccountId", NULL };
		static const char *const need_azure[] = { "processServerId", "policyId", NULL };
		for (const char *const *k = to_onprem ? need_onprem : need_azure; *k; k++) {
			if (!jstr(psd, *k) || !*jstr(psd, *k)) {
				fail(r, 400, "InvalidParameter",
				     "providerSpecificDetails.%s is required.", *k);
				goto out;
			}
		}
		r->op.direction = to_onprem ? DR_DIR_TO_ONPREM : DR_DIR_TO_AZURE;
		if (to_onprem) {
			json_decref(r->reprotect);
			r->reprotect = json_pack("{s:s,s:s,s:s,s:s?}", "reprotectAgentId",
				jstr(psd, "reprotectAgentId"), "datastoreName",
				jstr(psd, "datastoreName"), "logStorageAccountId",
				jstr(psd, "logStorageAccountId"), "policyId",
				jstr(psd, "policyId"));
		}
		break;
	}
	case DR_PREQ_PLANNED_FAILOVER: {
		if (want_instance(r, psd, "InMageRcmFailback", true))
			goto out;
		const char *pt = jstr(psd, "recoveryPointType");
		if (!pt || (strcmp(pt, "CrashConsistent") && strcmp(pt, "ApplicationConsistent"))) {
			fail(r, 400, "InvalidParameter",
			     "providerSpecificDetails.recoveryPointType must be 'CrashConsistent' "
			     "or 'ApplicationConsistent'.");
			goto out;
		}
		r->op.point_type = !strcmp(pt, "CrashConsistent") ? DR_POINT_CRASH_CONSISTENT :
				   DR_POINT_APP_CONSISTENT;
		break;
	}
	case DR_PREQ_COMMIT:
	case DR_PREQ_CANCEL_FAILOVER:
	case DR_PREQ__COUNT:
		break;
	}
	r->state = RS_WAIT;
	if (dr_provider_start(e->prov, &r->op, start_cb, r) < 0)
		fail(r, 500, "InternalServerError", "%s", dr_error_msg());
out:
	json_decref(body);
}

/* PATCH {RPI}: update target settings (reference §2.2). */
static const char *const patch_keys[] = {
	"targetVmName", "targetVmSize", "targetResourceGroupId", "targetAvailabilitySetId",
	"targetAvailabilityZone", "targetProximityPlacementGroupId",
	"targetBootDiagnosticsStorageAccountId", "targetNetworkId", "testNetworkId",
	"licenseType", "sqlServerLicenseType", "linuxLicenseType", "userSelectedOSName",
	"targetCapacityReservationGroupId", NULL,
};

static void do_patch(emu_req *r)
{
	emu *e = r->e;
	emu_item *it = &e->items[r->item];
	json_error_t je;
	json_t *body = json_loadb(r->body.buf, r->body.len, 0, &je);
	json_t *props = json_object_get(body, "properties");
	json_t *psd = json_object_get(props, "providerSpecificDetails");
	json_t *target = json_deep_copy(it->target), *nics = json_deep_copy(it->nics);
	json_t *disks = json_deep_copy(it->disks);
	if (!json_is_object(props)) {
		fail(r, 400, "InvalidRequestContent", "The 'properties' object is required.");
		goto out;
	}
	static const char *const classic[][2] = {
		{ "recoveryAzureVMName", "targetVmName" },
		{ "recoveryAzureVMSize", "targetVmSize" },
		{ "selectedRecoveryAzureNetworkId", "targetNetworkId" },
		{ "selectedTfoAzureNetworkId", "testNetworkId" },
		{ "licenseType", "licenseType" },
	};
	for (size_t i = 0; i < DR_ARRAY_SIZE(classic); i++) {
		json_t *v = json_object_get(props, classic[i][0]);
		if (json_is_string(v))
			json_object_set(target, classic[i][1], v);
	}
	if (psd && !json_is_null(psd)) {
		const char *t = jstr(psd, "instanceType");
		if (!t || strcmp(t, "InMageRcm")) {
			fail(r, 400, "InvalidProviderSpecificInput",
			     "providerSpecificDetails.instanceType must be 'InMageRcm'.");
			goto out;
		}
		for (const char *const *k = patch_keys; *k; k++) {
			json_t *v = json_object_get(psd, *k);
			if (!v)
				continue;
			if (!json_is_string(v) && !json_is_null(v)) {
				fail(r, 400, "InvalidParameter", "%s must be a string or null.", *k);
				goto out;
			}
			json_object_set(target, *k, v);
		}
		static const char *const tags[] = { "targetVmTags", "targetManagedDiskTags",
						    "targetNicTags", NULL };
		for (const char *const *k = tags; *k; k++)
			if (json_is_array(json_object_get(psd, *k)))
				json_object_set(target, *k, json_object_get(psd, *k));
		size_t i, k;
		json_t *in, *n;
		json_array_foreach(json_object_get(psd, "vmNics"), i, in) {
			const char *id = jstr(in, "nicId");
			if (!id || !jstr(in, "isPrimaryNic")) {
				fail(r, 400, "InvalidParameter",
				     "vmNics[%zu]: nicId and isPrimaryNic are required.", i);
				goto out;
			}
			json_t *hit = NULL;
			json_array_foreach(nics, k, n)
				if (jstr(n, "nicId") && !strcmp(jstr(n, "nicId"), id))
					hit = n;
			if (!hit) {
				fail(r, 400, "InvalidParameter", "vmNics[%zu]: unknown nicId '%s'.",
				     i, id);
				goto out;
			}
			static const char *const nk[][2] = {
				{ "isPrimaryNic", "isPrimaryNic" },
				{ "isSelectedForFailover", "isSelectedForFailover" },
				{ "targetSubnetName", "targetSubnetName" },
				{ "targetStaticIPAddress", "targetIPAddress" },
				{ "testSubnetName", "testSubnetName" },
				{ "testStaticIPAddress", "testIPAddress" },
				{ "targetNicName", "targetNicName" },
			};
			for (size_t q = 0; q < DR_ARRAY_SIZE(nk); q++) {
				json_t *v = json_object_get(in, nk[q][0]);
				if (v)
					json_object_set(hit, nk[q][1], v);
			}
			if (json_object_get(in, "targetStaticIPAddress"))
				json_object_set_new(hit, "targetIPAddressType", json_string(
					jstr(in, "targetStaticIPAddress") ? "Static" : "Dynamic"));
		}
		json_array_foreach(json_object_get(psd, "vmDisks"), i, in) {
			const char *id = jstr(in, "diskId");
			json_t *hit = NULL;
			json_array_foreach(disks, k, n)
				if (id && jstr(n, "diskId") && !strcmp(jstr(n, "diskId"), id))
					hit = n;
			if (!hit) {
				fail(r, 400, "InvalidParameter", "vmDisks[%zu]: unknown diskId '%s'.",
				     i, id ? id : "");
				goto out;
			}
			if (jstr(in, "targetDiskName"))
				json_object_set(hit, "customTargetDiskName",
						json_object_get(in, "targetDiskName"));
		}
	}
	json_decref(it->target);
	json_decref(it->nics);
	json_decref(it->disks);
	it->target = target;
	it->nics = nics;
	it->disks = disks;
	target = nics = disks = NULL;
	it->updates++;
	char key[128];
	snprintf(key, sizeof(key), "emu-job-%zu", e->njobs);
	e->jobs = dr_xrealloc(e->jobs, (e->njobs + 1) * sizeof(*e->jobs));
	emu_job *ej = &e->jobs[e->njobs++];
	make_guid(key, ej->id);
	ej->item = (size_t)r->item;
	ej->start_ms = dr_sim_now(e->sim);
	accepted_202(r, it, ej->id);
out:
	json_decref(target);
	json_decref(nics);
	json_decref(disks);
	json_decref(body);
}

/* ---- routing ---- */

static void vault_json(emu_req *r)
{
	emu *e = r->e;
	set_body(r, 200, json_pack("{s:s,s:s,s:s,s:s,s:{s:s},s:{s:s}}", "id", e->vpath,
		"name", e->vault, "type", "Microsoft.RecoveryServices/vaults", "location",
		"westeurope", "sku", "name", "Standard", "properties", "provisioningState",
		"Succeeded"));
}

static json_t *fabric_json(emu *e)
{
	char id[600], ps[700], ag[700];
	snprintf(id, sizeof(id), "%s/replicationFabrics/%s", e->vpath, e->fabric);
	snprintf(ps, sizeof(ps), "%s/processServers/ps-01", id);
	snprintf(ag, sizeof(ag), "reprotect-agent-01");
	return json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:{s:s,s:[{s:s,s:s,s:s}],s:[{s:s,s:s,s:s}]}}}",
		"id", id, "name", e->fabric, "type",
		"Microsoft.RecoveryServices/vaults/replicationFabrics", "properties",
		"friendlyName", e->fabric, "health", "Normal", "customDetails",
		"instanceType", "InMageRcm", "processServers", "id", ps, "name", "ps-01",
		"health", "Normal", "reprotectAgents", "id", ag, "name", "reprotect-agent-01",
		"health", "Normal");
}

static json_t *container_json(emu *e)
{
	char id[700];
	snprintf(id, sizeof(id), "%s/replicationFabrics/%s/replicationProtectionContainers/%s",
		 e->vpath, e->fabric, e->container);
	return json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s}}", "id", id, "name", e->container,
		"type", "Microsoft.RecoveryServices/vaults/replicationFabrics/"
		"replicationProtectionContainers", "properties", "friendlyName", e->container,
		"fabricFriendlyName", e->fabric, "fabricType", "InMageRcm");
}

static json_t *mapping_json(emu *e)
{
	char id[800], pol[600];
	snprintf(id, sizeof(id), "%s/replicationFabrics/%s/replicationProtectionContainers/%s"
		 "/replicationProtectionContainerMappings/mapping-azure", e->vpath, e->fabric,
		 e->container);
	snprintf(pol, sizeof(pol), "%s/replicationPolicies/policy-24h", e->vpath);
	return json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s}}", "id", id, "name", "mapping-azure",
		"properties", "policyId", pol, "policyFriendlyName", "policy-24h",
		"targetProtectionContainerId", "Microsoft Azure", "state", "Paired");
}

static json_t *policy_json(emu *e)
{
	char pol[600];
	snprintf(pol, sizeof(pol), "%s/replicationPolicies/policy-24h", e->vpath);
	return json_pack("{s:s,s:s,s:{s:s,s:{s:s,s:i,s:i}}}", "id", pol, "name",
		"policy-24h", "properties", "friendlyName", "policy-24h",
		"providerSpecificDetails", "instanceType", "InMageRcm",
		"recoveryPointHistoryInMinutes", 4320, "appConsistentFrequencyInMinutes", 60);
}

static void one_value(emu_req *r, json_t *v)
{
	set_body(r, 200, json_pack("{s:[o]}", "value", v));
}

/* Route an authenticated ARM request; seg[0..n) after the vault. */
static void route_vault(emu_req *r, char **seg, size_t n)
{
	emu *e = r->e;
	bool get = !strcmp(r->method, "GET");
#define IS(i, s) (n > (i) && !strcasecmp(seg[i], s))
	if (n == 0) {
		if (get)
			return vault_json(r);
	} else if (IS(0, "replicationFabrics")) {
		if (n >= 2 && strcasecmp(seg[1], e->fabric)) {
			/* ASR answers 400 for an unknown fabric (reference §3.4). */
			return fail(r, 400, "FabricNotFound",
				    "The fabric '%s' was not found in vault '%s'.", seg[1], e->vault);
		}
		if (n >= 4 && strcasecmp(seg[3], e->container))
			return fail(r, 400, "ProtectionContainerNotFound",
				    "The protection container '%s' was not found.", seg[3]);
		if (n == 1 && get)
			return one_value(r, fabric_json(e));
		if (n == 2 && get)
			return set_body(r, 200, fabric_json(e));
		if (n == 3 && get && IS(2, "replicationProtectionContainers"))
			return one_value(r, container_json(e));
		if (n == 4 && get && IS(2, "replicationProtectionContainers"))
			return set_body(r, 200, container_json(e));
		if (!IS(2, "replicationProtectionContainers"))
			goto unknown;
		if (n == 5 && get && IS(4, "replicationProtectionContainerMappings"))
			return one_value(r, mapping_json(e));
		if (!IS(4, "replicationProtectedItems"))
			goto unknown;
		if (n == 5 && get)
			return list_items(r);
		if (n < 6)
			goto unknown;
		r->item = find_item_by_guid(e, seg[5]);
		if (r->item < 0)
			return fail(r, 404, "NotFound",
				    "The replicated item '%s' was not found.", seg[5]);
		r->item_name = e->items[r->item].name;
		if (n == 6 && get) {
			size_t idx = (size_t)r->item;
			r->state = RS_WAIT;
			return fetch_items(r, &idx, 1, finish_one_item);
		}
		if (n == 6 && !strcmp(r->method, "PATCH"))
			return do_patch(r);
		if (n == 7 && !strcmp(r->method, "POST")) {
			int k = action_kind(seg[6]);
			if (k < 0)
				return fail(r, 400, "OperationNotSupported",
					    "The emulator does not implement '%s'.", seg[6]);
			return do_action(r, (dr_preq_kind)k);
		}
		if ((n == 7 || n == 8) && get && IS(6, "recoveryPoints")) {
			free(r->filter);
			r->filter = n == 8 ? dr_xstrdup(seg[7]) : NULL;
			r->state = RS_WAIT;
			if (dr_provider_list_recovery_points(e->prov, r->item_name, points_cb, r) < 0)
				fail(r, 500, "InternalServerError", "%s", dr_error_msg());
			return;
		}
		if (n == 8 && get && IS(6, "operationresults"))
			return get_job(r, seg[7], PK_RESULT);
	} else if (IS(0, "replicationProtectedItems")) {
		if (n == 1 && get)
			return list_items(r);
	} else if (IS(0, "replicationProtectionContainers")) {
		if (n == 1 && get)
			return one_value(r, container_json(e));
	} else if (IS(0, "replicationProtectionContainerMappings")) {
		if (n == 1 && get)
			return one_value(r, mapping_json(e));
	} else if (IS(0, "replicationPolicies")) {
		if (n == 1 && get)
			return one_value(r, policy_json(e));
		if (n == 2 && get)
			return set_body(r, 200, policy_json(e));
	} else if (IS(0, "replicationJobs")) {
		if (n == 1 && get)
			return list_jobs(r);
		if (n == 2 && get)
			return get_job(r, seg[1], PK_JOB);
	} else if (IS(0, "replicationOperationStatus")) {
		if (n == 2 && get)
			return get_job(r, seg[1], PK_STATUS);
	}
#undef IS
unknown:
	fail(r, n ? 404 : 405, n ? "ResourceNotFound" : "MethodNotAllowed",
	     "No route for %s %s in the emulator.", r->method, r->url);
}

/* Split path into segments (in place; at most max). */
static size_t split(char *path, char **seg, size_t max)
{
	size_t n = 0;
	for (char *p = strtok(path, "/"); p && n < max; p = strtok(NULL, "/"))
		seg[n++] = p;
	return n;
}

static void classify(emu_req *r)
{
	arm_req_class *c = &r->cls;
	c->method = r->method;
	const char *u = r->url;
	c->token = strstr(u, "/oauth2/") != NULL;
	c->arm = !strncasecmp(u, "/subscriptions/", 15);
	if (!c->arm)
		return;
	const char *last = strrchr(u, '/');
	bool post = !strcmp(r->method, "POST");
	if (post && last) {
		int k = action_kind(last + 1);
		if (k >= 0) {
			c->op = true;
			snprintf(r->op_name, sizeof(r->op_name), "%s",
				 dr_preq_kind_name((dr_preq_kind)k));
		}
	} else if (!strcmp(r->method, "PATCH")) {
		c->op = true;
		snprintf(r->op_name, sizeof(r->op_name), "update");
	}
	c->op_name = r->op_name[0] ? r->op_name : NULL;
	c->poll = strcasestr(u, "/operationresults/") || strcasestr(u, "/replicationOperationStatus/") ||
		  strcasestr(u, "/replicationJobs");
}

static bool api_ok(const char *v)
{
	int y, m, d, n = 0;
	if (!v || sscanf(v, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3)
		return false;
	if (v[n] && strcmp(v + n, "-preview"))
		return false;
	return n == 10 && y >= 2016 && m >= 1 && m <= 12 && d >= 1 && d <= 31 &&
	       strcmp(v, "2016-08-10") >= 0;
}

static void handle_arm(emu_req *r)
{
	emu *e = r->e;
	const char *api = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
						      "api-version");
	const char *authz = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
							"Authorization");
	const char *code, *msg;
	if (arm_auth_check(&e->auth, authz, dr_loop_now(e->loop), e->faults.token_epoch,
			   &code, &msg)) {
		add_hdr(r, "WWW-Authenticate",
			"Bearer authorization_uri=\"https://login.microsoftonline.com/\", "
			"error=\"invalid_token\"");
		return fail_plain(r, 401, code, msg);
	}
	if (!api)
		return fail_plain(r, 400, "MissingApiVersionParameter",
				  "The api-version query parameter (?api-version=) is required "
				  "for all requests.");
	if (!api_ok(api))
		return fail_plain(r, 400, "InvalidApiVersionParameter",
				  "The api-version is invalid: use a date YYYY-MM-DD no older "
				  "than 2016-08-10.");
	r->api = dr_xstrdup(api);
	bool write = strcmp(r->method, "GET") && strcmp(r->method, "HEAD");
	long left;
	if (!arm_bucket_take(write ? &e->faults.writes : &e->faults.reads,
			     dr_loop_now(e->loop), &left)) {
		arm_bucket *b = write ? &e->faults.writes : &e->faults.reads;
		char ra[32];
		/* Seconds until the next token, rounded up. */
		double wait = (1 - b->tokens) / b->refill;
		int secs = (int)wait;
		if ((double)secs < wait)
			secs++;
		snprintf(ra, sizeof(ra), "%d", secs < 1 ? 1 : secs);
		add_hdr(r, "Retry-After", ra);
		r->fault = write ? "write-limit" : "read-limit";
		return fail_plain(r, 429, "SubscriptionRequestsThrottled",
				  write ? "Number of 'write' requests for subscription exceeded "
					  "the limit. Please try again after a while." :
					  "Number of 'read' requests for subscription exceeded "
					  "the limit. Please try again after a while.");
	}
	const char *skip = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
						       "$skipToken");
	r->skip = skip ? atol(skip) : 0;
	if (r->skip < 0)
		r->skip = 0;
	const char *filter = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
							 "$filter");
	r->filter = filter && *filter ? dr_xstrdup(filter) : NULL;

	char *path = dr_xstrdup(r->url), *seg[16];
	size_t n = split(path, seg, DR_ARRAY_SIZE(seg));
	if (n < 8 || strcasecmp(seg[0], "subscriptions") || strcasecmp(seg[2], "resourceGroups") ||
	    strcasecmp(seg[4], "providers") || strcasecmp(seg[5], "Microsoft.RecoveryServices") ||
	    strcasecmp(seg[6], "vaults")) {
		fail(r, 404, "ResourceNotFound", "No route for %s %s in the emulator.",
		     r->method, r->url);
	} else if (strcasecmp(seg[1], e->sub)) {
		fail_plain(r, 404, "SubscriptionNotFound", "The subscription could not be found.");
	} else if (strcasecmp(seg[3], e->rg)) {
		fail_plain(r, 404, "ResourceGroupNotFound", "Resource group could not be found.");
	} else if (strcasecmp(seg[7], e->vault)) {
		fail_plain(r, 404, "ResourceNotFound", "The Resource "
			   "'Microsoft.RecoveryServices/vaults' was not found.");
	} else {
		route_vault(r, seg + 8, n - 8);
	}
	free(path);
}

/* ---- control endpoints ---- */

static void handle_control(emu_req *r)
{
	emu *e = r->e;
	if (!strcmp(r->url, "/_emulator/stats") && !strcmp(r->method, "GET")) {
		json_t *items = json_object();
		for (size_t i = 0; i < e->nitems; i++) {
			json_t *o = json_object();
			for (int k = 0; k < DR_PREQ__COUNT; k++)
				json_object_set_new(o, dr_preq_kind_name((dr_preq_kind)k),
					json_integer(dr_sim_op_count(e->sim, e->items[i].name,
								     (dr_preq_kind)k)));
			json_object_set_new(o, "update", json_integer(e->items[i].updates));
			json_object_set_new(items, e->items[i].name, o);
		}
		return set_body(r, 200, json_pack("{s:o,s:I,s:I}", "items", items, "requests",
			(json_int_t)e->nreq, "modelTimeMs", (json_int_t)dr_sim_now(e->sim)));
	}
	if (!strcmp(r->url, "/_emulator/items") && !strcmp(r->method, "GET")) {
		json_t *a = json_array();
		for (size_t i = 0; i < e->nitems; i++) {
			char *id = item_id(e, &e->items[i]);
			json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "name",
				e->items[i].name, "guid", e->items[i].guid, "id", id));
			free(id);
		}
		return set_body(r, 200, json_pack("{s:o}", "value", a));
	}
	if (!strcmp(r->url, "/_emulator/faults") && !strcmp(r->method, "GET")) {
		char *d = arm_faults_describe(&e->faults);
		set_body(r, 200, json_pack("{s:s}", "faults", d));
		free(d);
		return;
	}
	if ((!strcmp(r->url, "/_emulator/faults") || !strcmp(r->url, "/_emulator/sim-faults")) &&
	    !strcmp(r->method, "POST")) {
		int rc = r->url[11] == 'f' ?
			 arm_faults_add(&e->faults, r->body.buf, dr_loop_now(e->loop)) :
			 dr_sim_add_faults(e->sim, r->body.buf);
		if (rc < 0)
			return set_body(r, 400, json_pack("{s:{s:s,s:s}}", "error", "code",
				"InvalidFaultSpec", "message", dr_error_msg()));
		char *d = arm_faults_describe(&e->faults);
		set_body(r, 200, json_pack("{s:s}", "faults", d));
		free(d);
		return;
	}
	fail_plain(r, 404, "NotFound", "Unknown emulator control endpoint.");
}

static void handle_token(emu_req *r, char **seg, size_t n)
{
	emu *e = r->e;
	int status;
	json_t *body = NULL;
	int64_t ttl = e->faults.token_ttl_s;
	uint64_t now = dr_loop_now(e->loop);
	int64_t wall = dr_wall_ms() / 1000;
	if (n == 4 && !strcmp(r->method, "POST")) {
		char *user = NULL, *pass = NULL;
		user = MHD_basic_auth_get_username_password(r->conn, &pass);
		arm_auth_token(&e->auth, seg[0], r->body.buf, user, pass, now, wall, ttl,
			       e->faults.token_epoch, &status, &body);
		MHD_free(user);
		MHD_free(pass);
	} else if (!strcmp(r->method, "GET")) {
		arm_auth_imds(&e->auth,
			      MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Metadata"),
			      MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "resource"),
			      MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
							  "api-version"),
			      now, wall, ttl, e->faults.token_epoch, &status, &body);
	} else {
		return fail_plain(r, 405, "MethodNotAllowed", "Method not allowed.");
	}
	set_body(r, status, body);
}

static void process(emu_req *r)
{
	emu *e = r->e;
	char *path = dr_xstrdup(r->url), *seg[8];
	size_t n = split(path, seg, DR_ARRAY_SIZE(seg));
	r->t0 = dr_loop_now(e->loop);
	if (r->too_big) {
		fail_plain(r, 413, "RequestEntityTooLarge", "The request body is too large.");
		goto out;
	}
	if (!strncmp(r->url, "/_emulator/", 11)) {
		handle_control(r);
		goto out;
	}
	e->nreq++;
	classify(r);
	arm_fault_action fa;
	arm_faults_pick(&e->faults, &r->cls, &fa);
	r->delay_ms = fa.delay_ms;
	if (fa.drop) {
		snprintf(r->fault_buf, sizeof(r->fault_buf), "%s", fa.spec);
		r->fault = r->fault_buf;
		r->drop = true;
		r->state = RS_DONE;
		goto out;
	}
	if (fa.status) {
		char ra[32];
		snprintf(r->fault_buf, sizeof(r->fault_buf), "%s", fa.spec);
		r->fault = r->fault_buf;
		if (fa.status == 429 || fa.status == 503) {
			snprintf(ra, sizeof(ra), "%d", e->faults.retry_after_s);
			add_hdr(r, "Retry-After", ra);
		}
		fail_plain(r, fa.status, fa.status == 429 ? "TooManyRequests" :
			   fa.status == 503 ? "ServiceUnavailable" :
			   fa.status >= 500 ? "InternalServerError" : "BadRequest",
			   "Injected fault.");
		goto out;
	}
	if (n == 4 && !strcmp(seg[1], "oauth2") && !strcmp(seg[2], "v2.0") &&
	    !strcmp(seg[3], "token")) {
		handle_token(r, seg, n);
	} else if (!strcmp(r->url, "/metadata/identity/oauth2/token")) {
		handle_token(r, seg, 0);
	} else if (r->cls.arm) {
		handle_arm(r);
	} else {
		fail_plain(r, 404, "NotFound", "No such endpoint in the emulator.");
	}
out:
	free(path);
}

/* ---- MHD glue ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	(void)version;
	emu *e = cls;
	emu_req *r = *con_cls;
	if (!r) {
		r = dr_xcalloc(1, sizeof(*r));
		r->e = e;
		r->conn = conn;
		r->method = dr_xstrdup(method);
		r->url = dr_xstrdup(url);
		r->item = -1;
		dr_strbuf_init(&r->body, 0);
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_size) {
		if (r->body.len + *upload_size > MAX_BODY)
			r->too_big = true;
		else
			dr_strbuf_add(&r->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->state == RS_NEW) {
		process(r);
		if (r->state == RS_DONE && !r->delay_ms)
			return send_answer(r);
		MHD_suspend_connection(conn);
		r->suspended = true;
		r->next = e->suspended;
		if (r->next)
			r->next->prev = r;
		e->suspended = r;
		if (r->state == RS_DONE)
			complete(r);
		return MHD_YES;
	}
	if (r->state == RS_DONE)
		return send_answer(r);
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	emu_req *r = *con_cls;
	if (!r)
		return;
	if (r->delay)
		dr_loop_timer_cancel(r->e->loop, r->delay);
	dr_strbuf_release(&r->body);
	free(r->method);
	free(r->url);
	free(r->out);
	free(r->job);
	free(r->api);
	free(r->filter);
	for (int i = 0; i < r->nhdrs; i++) {
		free(r->hdrs[i].name);
		free(r->hdrs[i].value);
	}
	for (size_t i = 0; i < DR_ARRAY_SIZE(r->op_strs); i++)
		free(r->op_strs[i]);
	json_decref(r->arr);
	json_decref(r->reprotect);
	free(r);
	*con_cls = NULL;
}

static void on_mhd_timer(dr_loop *loop, void *ud);

static void rearm(emu *e)
{
	if (e->timer) {
		dr_loop_timer_cancel(e->loop, e->timer);
		e->timer = NULL;
	}
	MHD_UNSIGNED_LONG_LONG to;
	if (MHD_get_timeout(e->mhd, &to) == MHD_YES)
		e->timer = dr_loop_timer(e->loop, to, on_mhd_timer, e);
}

static void run_mhd(dr_loop *loop, void *ud)
{
	(void)loop;
	emu *e = ud;
	MHD_run(e->mhd);
	rearm(e);
}

static void on_mhd_timer(dr_loop *loop, void *ud)
{
	emu *e = ud;
	e->timer = NULL;
	run_mhd(loop, ud);
}

static void on_mhd_fd(dr_loop *loop, int fd, unsigned revents, void *ud)
{
	(void)fd;
	(void)revents;
	run_mhd(loop, ud);
}

/* MHD's messages, without the one every dropped connection causes. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (strstr(msg, "Application reported internal error"))
		return;
	fprintf(stderr, "armemu: libmicrohttpd: %s", msg);
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: armemu [options]\n"
"  --port-file F         write the listening port to F (127.0.0.1, port 0: ephemeral)\n"
"  --port P              listen on port P (default 0)\n"
"  --items N             N replicated items vm01..vmNN (default 3 without --plan)\n"
"  --plan PLAN.yaml      one item per plan machine\n"
"  --scale S             simulator time scale (default 1.0; 0.001: 1000x faster)\n"
"  --epoch-ms MS         simulator model time at start\n"
"  --faults SPEC         request faults (docs/arm-emulator.md)\n"
"  --sim-faults SPEC     simulator faults (docs/simulator.md)\n"
"  --log F               one JSON line per request\n"
"  --state F             keep state in F across restarts\n"
"  --tenant T --client-id ID --client-secret S --cert-pub PEM\n"
"  --federated-token V | --federated-token-file F\n"
"  --subscription S --resource-group RG --vault V --fabric F --container C\n"
"  --page-size N         list page size (default 50)\n");
}

static char *slurp(const char *file)
{
	FILE *f = fopen(file, "r");
	if (!f)
		return NULL;
	dr_strbuf sb;
	dr_strbuf_init(&sb, 256);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		dr_strbuf_add(&sb, buf, n);
	fclose(f);
	while (sb.len && (sb.buf[sb.len - 1] == '\n' || sb.buf[sb.len - 1] == '\r'))
		dr_strbuf_setlen(&sb, sb.len - 1);
	char *s = dr_strbuf_detach(&sb, NULL);
	return s ? s : dr_xstrdup("");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "port-file", 1, 0, 'P' }, { "port", 1, 0, 'p' }, { "items", 1, 0, 'n' },
		{ "plan", 1, 0, 'y' }, { "scale", 1, 0, 's' }, { "faults", 1, 0, 'f' },
		{ "sim-faults", 1, 0, 'F' }, { "log", 1, 0, 'l' }, { "state", 1, 0, 'S' },
		{ "tenant", 1, 0, 't' }, { "client-id", 1, 0, 'c' },
		{ "client-secret", 1, 0, 'x' }, { "cert-pub", 1, 0, 'k' },
		{ "federated-token", 1, 0, 'w' }, { "federated-token-file", 1, 0, 'W' },
		{ "subscription", 1, 0, 'u' }, { "resource-group", 1, 0, 'g' },
		{ "vault", 1, 0, 'v' }, { "fabric", 1, 0, 'a' }, { "container", 1, 0, 'C' },
		{ "page-size", 1, 0, 'z' }, { "epoch-ms", 1, 0, 'e' }, { "help", 0, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	emu E;
	memset(&E, 0, sizeof(E));
	emu *e = &E;
	g_emu = e;
	const char *port_file = NULL, *plan_file = NULL, *faults = NULL, *log_file = NULL;
	char *fed = NULL;
	long nitems = -1, port = 0;
	arm_auth_conf ac = {
		.tenant = "11111111-1111-1111-1111-111111111111",
		.client_id = "22222222-2222-2222-2222-222222222222",
		.client_secret = "emulator-secret",
	};
	dr_sim_opts so;
	dr_sim_opts_init(&so);
	e->sub = "33333333-3333-3333-3333-333333333333";
	e->rg = "rg-dr";
	e->vault = "vault-dr";
	e->fabric = "fabric-vmware";
	e->container = "container-vmware";
	e->page_size = 50;
	int o;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		char *end = NULL;
		switch (o) {
		case 'P': port_file = optarg; break;
		case 'p': port = strtol(optarg, &end, 10); break;
		case 'n': nitems = strtol(optarg, &end, 10); break;
		case 'y': plan_file = optarg; break;
		case 's': so.scale = strtod(optarg, &end); break;
		case 'e': so.epoch_ms = strtoll(optarg, &end, 10); break;
		case 'f': faults = optarg; break;
		case 'F': so.faults = optarg; break;
		case 'l': log_file = optarg; break;
		case 'S': e->state_file = optarg; break;
		case 't': ac.tenant = optarg; break;
		case 'c': ac.client_id = optarg; break;
		case 'x': ac.client_secret = optarg; break;
		case 'k': ac.cert_pub_pem = optarg; break;
		case 'w': ac.federated_token = optarg; break;
		case 'W':
			free(fed);
			if (!(fed = slurp(optarg))) {
				fprintf(stderr, "armemu: cannot read %s\n", optarg);
				return 2;
			}
			ac.federated_token = fed;
			break;
		case 'u': e->sub = optarg; break;
		case 'g': e->rg = optarg; break;
		case 'v': e->vault = optarg; break;
		case 'a': e->fabric = optarg; break;
		case 'C': e->container = optarg; break;
		case 'z': e->page_size = (size_t)strtoul(optarg, &end, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (end && *end) {
			fprintf(stderr, "armemu: bad number '%s'\n", optarg);
			return 2;
		}
	}
	if (optind < argc || port < 0 || port > 65535 || e->page_size < 1 ||
	    nitems > 100000 || so.scale < 0) {
		usage(stderr);
		return 2;
	}
	snprintf(e->vpath, sizeof(e->vpath),
		 "/Subscriptions/%s/resourceGroups/%s/providers/Microsoft.RecoveryServices/vaults/%s",
		 e->sub, e->rg, e->vault);
	int rc = 0, exit_code = 1;
	dr_arena *arena = dr_arena_new();
	dr_diags *diags = dr_diags_new();
	arm_faults_init(&e->faults);
	if (arm_auth_init(&e->auth, &ac) < 0 ||
	    (faults && arm_faults_add(&e->faults, faults, 0) < 0)) {
		fprintf(stderr, "armemu: %s\n", dr_error_msg());
		goto out;
	}
	if (dr_loop_new(NULL, &e->loop) < 0 || dr_sim_new(e->loop, &so, &e->sim) < 0) {
		fprintf(stderr, "armemu: %s\n", dr_error_msg());
		goto out;
	}
	e->faults.writes.last_ms = e->faults.reads.last_ms = dr_loop_now(e->loop);
	e->prov = dr_sim_provider(e->sim);
	e->scale = so.scale;
	if (plan_file) {
		dr_plan *p = NULL;
		rc = dr_plan_load(arena, plan_file, NULL, diags, &p);
		if (rc < 0 || !p) {
			fprintf(stderr, "armemu: %s: the plan does not load (%zu errors)\n",
				plan_file, dr_diags_count(diags, DR_SEV_ERROR));
			goto out;
		}
		if (dr_sim_sync_plan(e->sim, p) < 0) {
			fprintf(stderr, "armemu: %s\n", dr_error_msg());
			goto out;
		}
		for (size_t i = 0; i < p->nmachines; i++)
			add_item(e, &p->machines[i], p->machines[i].name.v);
	}
	if (nitems < 0 && !plan_file)
		nitems = 3;
	int width = nitems < 100 ? 2 : snprintf(NULL, 0, "%ld", nitems);
	for (long i = 1; i <= nitems; i++) {
		char name[32];
		snprintf(name, sizeof(name), "vm%0*ld", width, i);
		dr_machine m;
		memset(&m, 0, sizeof(m));
		m.name.v = name;
		if (find_item_by_name(e, name) >= 0)
			continue;
		if (dr_sim_add_item(e->sim, &m) < 0) {
			fprintf(stderr, "armemu: %s\n", dr_error_msg());
			goto out;
		}
		add_item(e, &m, name);
	}
	if (load_state(e) < 0) {
		fprintf(stderr, "armemu: %s\n", dr_error_msg());
		goto out;
	}
	if (log_file && !(e->log = fopen(log_file, "a"))) {
		fprintf(stderr, "armemu: cannot open %s: %s\n", log_file, strerror(errno));
		goto out;
	}
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	e->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
				  0, NULL, NULL, on_request, e,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, e,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
				  MHD_OPTION_END);
	if (!e->mhd) {
		fprintf(stderr, "armemu: cannot listen on 127.0.0.1:%ld\n", port);
		goto out;
	}
	const union MHD_DaemonInfo *pi = MHD_get_daemon_info(e->mhd, MHD_DAEMON_INFO_BIND_PORT);
	const union MHD_DaemonInfo *fi = MHD_get_daemon_info(e->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!pi || !fi) {
		fprintf(stderr, "armemu: libmicrohttpd without epoll or port info\n");
		goto out;
	}
	e->port = pi->port;
	e->watch = dr_loop_watch(e->loop, fi->epoll_fd, DR_LOOP_READ, on_mhd_fd, e);
	rearm(e);
	if (dr_loop_stop_on_signals(e->loop) < 0) {
		fprintf(stderr, "armemu: %s\n", dr_error_msg());
		goto out;
	}
	if (port_file) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		FILE *pf = fopen(tmp, "w");
		if (!pf || fprintf(pf, "%u\n", e->port) < 0 || fclose(pf) || rename(tmp, port_file)) {
			fprintf(stderr, "armemu: cannot write %s\n", port_file);
			goto out;
		}
	}
	fprintf(stderr, "armemu: listening on http://127.0.0.1:%u (%zu items)\n", e->port,
		e->nitems);
	rc = dr_loop_run(e->loop);
	exit_code = rc == DR_ECANCELLED || rc == 0 ? 0 : 1;
	if (save_state(e) < 0)
		fprintf(stderr, "armemu: %s\n", dr_error_msg()), exit_code = 1;
	fprintf(stderr, "armemu: stopped\n");
out:
	/* Drop the simulator first: its pending callbacks never run. */
	if (e->sim)
		dr_sim_free(e->sim);
	e->sim = NULL;
	if (e->mhd) {
		while (e->suspended) {
			emu_req *r = e->suspended;
			r->drop = true;
			r->state = RS_DONE;
			r->delay_ms = 0;
			if (r->delay) {
				dr_loop_timer_cancel(e->loop, r->delay);
				r->delay = NULL;
			}
			do_resume(r);
		}
		MHD_run(e->mhd);
		MHD_stop_daemon(e->mhd);
	}
	if (e->loop)
		dr_loop_free(e->loop);
	for (size_t i = 0; i < e->nitems; i++)
		item_release(&e->items[i]);
	free(e->items);
	free(e->jobs);
	arm_faults_release(&e->faults);
	arm_auth_release(&e->auth);
	if (e->log)
		fclose(e->log);
	free(fed);
	dr_diags_free(diags);
	dr_arena_free(arena);
	return exit_code;
}
