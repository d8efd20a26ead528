/*
 * store_impl.h - what a state store backend implements (private to
 * runner/journal). The public wrappers in store.c validate keys and
 * arguments before calling a backend, so backends may assume them valid.
 */
#ifndef DR_STORE_IMPL_H
#define DR_STORE_IMPL_H

#include "journal/store.h"

struct dr_store_ops {
	const char *name;
	int (*append)(dr_store *s, const char *key, const void *data, size_t len,
		      uint64_t expected_size);
	int (*read)(dr_store *s, const char *key, uint64_t offset, size_t max,
		    dr_strbuf *out);
	int (*size)(dr_store *s, const char *key, uint64_t *size);
	int (*truncate)(dr_store *s, const char *key, uint64_t new_size,
			uint64_t expected_size);
	int (*put)(dr_store *s, const char *key, const void *data, size_t len,
		   const char *if_match, char **new_version);
	int (*get)(dr_store *s, const char *key, dr_strbuf *out, char **version);
	int (*list)(dr_store *s, const char *prefix, dr_store_list_fn fn, void *ctx);
	int (*remove)(dr_store *s, const char *key);
	int (*lock)(dr_store *s, const char *name, const char *holder_json,
		    unsigned ttl_ms, dr_store_lock **out, char **holder_out);
	int (*renew)(dr_store_lock *l);
	int (*unlock)(dr_store_lock *l); /* also frees */
	void (*free)(dr_store *s);
};

/* Backends embed these as their first member. */
struct dr_store {
	const struct dr_store_ops *ops;
	char *spec;
};

struct dr_store_lock {
	dr_store *store;
	char *name;
	char *holder;
};

#endif
