/*
 * fuzz-armemu.c - libFuzzer target for the emulator's parsers: the first
 * line is a request-fault spec, the rest a token request form (so client
 * assertions go through the JWT decoder). Whatever the bytes: no crash, no
 * leak, and a spec either adds everything or nothing.
 */
#include "auth.h"
#include "faults.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t speclen = nl ? (size_t)(nl - (const char *)data) : size;
	char *spec = malloc(speclen + 1), *form;
	arm_faults f;
	arm_fault_action a;
	arm_req_class c = { "GET", false, true, false, false, NULL };

	memcpy(spec, data, speclen);
	spec[speclen] = 0;
	arm_faults_init(&f);
	if (arm_faults_add(&f, spec, 0) < 0 && f.n)
		abort();
	for (int i = 0; i < 4; i++) {
		arm_faults_pick(&f, &c, &a);
		arm_faults_take_lose(&f, &c);
		c.op = !c.op;
	}
	free(arm_faults_describe(&f));
	arm_faults_release(&f);
	free(spec);

	size_t flen = nl ? size - speclen - 1 : 0;
	form = malloc(flen + 1);
	if (flen)
		memcpy(form, nl + 1, flen);
	form[flen] = 0;
	arm_auth_conf conf = { "t", "c", "s", NULL, "fed" };
	arm_auth au;
	int status;
	json_t *body = NULL;
	if (arm_auth_init(&au, &conf) < 0)
		abort();
	arm_auth_token(&au, "t", form, NULL, NULL, 0, 1795564800, 60, 0, &status, &body);
	if (!body || (status != 200 && status != 400 && status != 401))
		abort();
	json_decref(body);
	arm_auth_release(&au);
	free(form);
	return 0;
}
