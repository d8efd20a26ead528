/*
 * emu.h - the ARM emulator's shared state (tests/armemu).
 *
 * One thread: libmicrohttpd runs in "external select" mode with epoll; the
 * dr_loop watches MHD's epoll fd and its timeout, and the simulator's
 * timers run on the same loop. A request that needs the simulator (every
 * simulator call answers through a loop callback) suspends its connection
 * and resumes it from the callback.
 */
#ifndef ARMEMU_EMU_H
#define ARMEMU_EMU_H

#include "auth.h"
#include "faults.h"

#include "core/strbuf.h"
#include "exec/loop.h"
#include "provider/sim.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>

/* One replicated machine as ARM shows it. */
typedef struct emu_item {
	char *name;            /* friendlyName, the simulator's item */
	char guid[37];         /* ARM name */
	bool physical;
	char *os_type, *os_name, *firmware;
	long cpus;
	double mem_mb;
	json_t *disks;         /* InMageRcm protectedDisks[] */
	json_t *nics;          /* InMageRcm vmNics[] */
	json_t *target;        /* target settings (PATCH), string/null values */
	json_t *reprotect;     /* last reprotect input (failback details) */
	int updates;           /* accepted PATCHes */
} emu_item;

/* A job the emulator owns (PATCH): done when accepted. */
typedef struct emu_job {
	char id[37];
	size_t item;
	int64_t start_ms;
} emu_job;

typedef struct emu_req emu_req;

typedef struct emu {
	dr_loop *loop;
	dr_sim *sim;
	dr_provider *prov;
	struct MHD_Daemon *mhd;
	dr_watch *watch;
	dr_timer *timer;
	dr_defer *defer;
	unsigned port;
	/* ARM names. */
	const char *sub, *rg, *vault, *fabric, *container;
	char vpath[512];       /* /Subscriptions/.../vaults/{vault} */
	size_t page_size;
	double scale;          /* the simulator's */
	arm_auth auth;
	arm_faults faults;
	emu_item *items;
	size_t nitems;
	emu_job *jobs;
	size_t njobs;
	FILE *log;
	const char *state_file;
	emu_req *suspended;    /* list of suspended requests */
	unsigned long nreq;
} emu;

#endif
