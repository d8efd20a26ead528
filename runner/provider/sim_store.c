/*
 * sim_store.c - the simulator's state in the state store, so a failover
 * today and a commit tomorrow (another process) see the same vault.
 */
#include "core/error.h"
#include "core/strbuf.h"
#include "journal/store.h"
#include "provider/sim.h"

#include <stdlib.h>
#include <string.h>

int dr_sim_load_store(dr_sim *s, struct dr_store *store, const char *key,
		      char **version)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	json_error_t e;
	json_t *state;
	int rc;

	if (version)
		*version = NULL;
	rc = dr_store_get(store, key, &sb, version);
	if (rc == DR_ENOTFOUND) {
		dr_strbuf_release(&sb);
		dr_error_clear();
		return 0;
	}
	if (rc < 0) {
		dr_strbuf_release(&sb);
		return rc;
	}
	state = json_loadb(sb.buf, sb.len, 0, &e);
	dr_strbuf_release(&sb);
	if (!state)
		rc = dr_error_set(DR_EINVAL, "%s:%d:%d: %s", key, e.line, e.column,
				  e.text);
	else
		rc = dr_sim_load(s, state);
	json_decref(state);
	if (rc < 0 && version) {
		free(*version);
		*version = NULL;
	}
	return rc;
}

int dr_sim_save_store(dr_sim *s, struct dr_store *store, const char *key,
		      const char *if_match, char **new_version)
{
	json_t *state;
	char *text;
	int rc;

	if ((rc = dr_sim_save(s, &state)) < 0)
		return rc;
	text = json_dumps(state, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(state);
	if (!text)
		return dr_error_set(DR_ENOMEM, "sim: cannot serialise the state");
	rc = dr_store_put(store, key, text, strlen(text), if_match, new_version);
	free(text);
	return rc;
}
