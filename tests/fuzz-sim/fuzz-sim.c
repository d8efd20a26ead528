/*
 * fuzz-sim.c - libFuzzer target for the simulator's parsers: the first line
 * is a fault spec, the rest a saved state. Whatever the bytes, load must
 * not crash, hang or leak; a state that loads must run to the end and save
 * to something that loads again.
 */
#include "exec/loop.h"
#include "provider/sim.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_item(void *ud, int rc, const dr_prov_item *it,
		    const dr_prov_error *e)
{
	(void)ud;
	if ((rc == 0) != (it != NULL) || (rc != 0 && !e))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t speclen = nl ? (size_t)(nl - (const char *)data) : size;
	char *spec = malloc(speclen + 1);
	dr_sim_opts o;
	dr_clock c;
	dr_loop *l;
	dr_sim *s;
	json_t *state, *again;

	memcpy(spec, data, speclen);
	spec[speclen] = 0;
	dr_clock_init_virtual(&c, 0);
	if (dr_loop_new(&c, &l) < 0)
		abort();
	dr_sim_opts_init(&o);
	o.scale = 0;
	o.epoch_ms = 1795564800000LL;
	if (dr_sim_new(l, &o, &s) < 0)
		abort();
	dr_sim_add_faults(s, spec);
	free(spec);
	state = nl ? json_loadb(nl + 1, size - speclen - 1, 0, NULL) : NULL;
	if (state && dr_sim_load(s, state) == 0) {
		json_t *items = json_object_get(state, "items"), *it;
		size_t i;

		json_array_foreach(items, i, it)
			dr_provider_get_item(dr_sim_provider(s),
					     json_string_value(json_object_get(it, "name")),
					     on_item, NULL);
		if (dr_loop_run(l) != 0)
			abort();
		if (dr_sim_save(s, &again) != 0 || dr_sim_load(s, again) != 0)
			abort();
		json_decref(again);
	}
	json_decref(state);
	dr_sim_free(s);
	dr_loop_free(l);
	return 0;
}
