/*
 * sizes.h - the Azure VM size catalog compiled into drplan.
 *
 * The catalog is schemas/azure-vm-sizes.json (generated from the reference
 * CSV by schemas/gen-sizes.py) embedded as "azure-vm-sizes.json". It is
 * parsed once, on first use, into static storage that lives until exit;
 * the pointers handed out stay valid for the life of the process. The
 * catalog is partial (141 sizes of 18 series): an unknown name is not
 * necessarily a wrong one.
 */
#ifndef DR_SIZES_H
#define DR_SIZES_H

#include <stdbool.h>
#include <stddef.h>

typedef enum dr_accel_net {
	DR_ACCEL_NO,
	DR_ACCEL_YES,
	DR_ACCEL_REQUIRED, /* the size page marks it "Required" */
} dr_accel_net;

typedef struct dr_vm_size {
	const char *name;    /* API name, "Standard_D4s_v5" */
	const char *family;  /* series, "Dsv5" */
	int vcpus;
	double memory_gib;
	int max_data_disks;
	int max_nics;
	bool premium_storage;
	bool gen2;           /* can host Generation 2 (UEFI) machines */
	dr_accel_net accelerated_networking;
} dr_vm_size;

/*
 * Load the embedded catalog (idempotent; not thread-safe on the very first
 * call). Returns 0, or DR_EINVAL with dr_error_msg() set when the embedded
 * file is missing or malformed (a build error, but never a crash).
 */
int dr_sizes_load(void);

/* The size with that name, compared case-insensitively, or NULL. */
const dr_vm_size *dr_size_find(const char *name);

/* Every size in catalog order; *n is set to the count (0 if not loadable). */
const dr_vm_size *dr_sizes_list(size_t *n);

/*
 * The catalog size whose name is closest to name (edit distance, case
 * folded), or NULL when nothing is reasonably close.
 */
const dr_vm_size *dr_size_suggest(const char *name);

#endif
