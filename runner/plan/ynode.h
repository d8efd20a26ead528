/*
 * ynode.h - a YAML document as a tree that remembers where everything is.
 *
 * dr_yaml_load() reads one YAML document (JSON is accepted too) with libyaml
 * and builds a tree of dr_ynode in an arena. Every node keeps the file,
 * line and column of its first character, its parent and its key or index,
 * so any diagnostic can point at the exact spot and name the JSON pointer.
 *
 * Scalars are typed by the YAML 1.2 core schema: null (~, null, empty),
 * booleans (true/false, any case), integers (decimal, 0x, 0o), floats (incl.
 * .inf/.nan) and strings; a quoted scalar or one tagged !!str is always a
 * string. "yes"/"no"/"on"/"off" are strings (no YAML 1.1 "Norway problem").
 *
 * Aliases are expanded into copies (so every node has one parent), under a
 * budget that stops alias bombs; merge keys ("<<") are honoured. Duplicate
 * keys, non-scalar keys, multiple documents and syntax errors are reported
 * as diagnostics with YAML-* rule ids; loading never crashes or hangs on any
 * input.
 *
 * Positions: lines count LFs (as editors do, even where libyaml also breaks
 * at CR, NEL, LS or PS); columns count bytes, after a BOM on line 1. A node
 * starts at its first character: the quote of a quoted scalar, the first key
 * of a block mapping, the first "-" of a block sequence, the "{" or "[" of a
 * flow collection, or its anchor or tag when it has one. A copy made for an
 * alias is positioned at the alias; its children at the anchored original.
 * Merged entries go where the "<<" was and point at the merged original.
 * Key nodes name their entry (dr_ynode_name() == str), so their path is the
 * entry's path.
 *
 * Rule ids: YAML-SYNTAX (first syntax error only; loading stops),
 * YAML-ENCODING (not UTF-8, UTF-16, NUL bytes, control characters, "\0"
 * in a string), YAML-DUPLICATE-KEY (the first entry is kept),
 * YAML-KEY-TYPE (a collection as a key; the entry is dropped),
 * YAML-MULTI-DOC (the first document is kept), YAML-ALIAS (unknown or
 * recursive alias: null in its place; alias bomb: loading stops),
 * YAML-MERGE (a merge value that is not a mapping or list of mappings),
 * YAML-DEPTH and YAML-SIZE (limits below; loading stops), YAML-NUMBER (an
 * integer outside long long: kept as a string) and YAML-TAG (a tagged value
 * that does not fit its tag is an error; an unknown tag a warning and the
 * value is read as if untagged). Only warnings: dr_yaml_load() returns 0.
 */
#ifndef DR_YNODE_H
#define DR_YNODE_H

#include "core/arena.h"
#include "core/diag.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum dr_ynode_kind {
	DR_YNODE_SCALAR,
	DR_YNODE_SEQ,
	DR_YNODE_MAP,
} dr_ynode_kind;

typedef enum dr_yscalar_type {
	DR_YSCALAR_NULL,
	DR_YSCALAR_BOOL,
	DR_YSCALAR_INT,
	DR_YSCALAR_FLOAT,
	DR_YSCALAR_STRING,
} dr_yscalar_type;

typedef struct dr_ynode dr_ynode;

/*
 * 80 bytes on 64-bit systems: a big plan's tree is mostly nodes. Counts are
 * 32-bit (DR_YAML_MAX_NODES and DR_YAML_MAX_SCALAR keep them in range);
 * kind and type are 8-bit fields of their enum types.
 */
struct dr_ynode {
	dr_ynode_kind kind : 8;
	dr_yscalar_type type : 8; /* scalars only */
	int line;             /* 1-based */
	int col;              /* 1-based, in bytes */
	uint32_t index;       /* index in the parent sequence or mapping */
	uint32_t len;         /* scalars: bytes of str, without the NUL */
	uint32_t n;           /* sequences and mappings: children */
	const char *file;     /* as given to dr_yaml_load(), arena copy */
	const dr_ynode *parent;

	/* Scalars: the text, NUL-terminated. */
	const char *str;
	/* Typed value of a scalar: only the member of its type is valid. */
	union {
		int boolean;
		long long integer;
		double real;
	};

	/* Sequences and mappings: n children; maps also have key nodes. */
	dr_ynode **items;
	dr_ynode **keys; /* maps only: scalar key nodes, parallel to items */
};

/*
 * Limits that keep hostile input from exhausting memory. They also keep
 * index (< nodes) and len (one scalar, YAML-SIZE beyond) within 32 bits.
 */
#define DR_YAML_MAX_DEPTH 256
#define DR_YAML_MAX_NODES (20u * 1000u * 1000u)
#define DR_YAML_MAX_SCALAR (256u * 1024u * 1024u)

/*
 * Parse text (len bytes, need not be NUL-terminated) as one YAML document.
 * On success *out is the root (a NULL scalar for an empty document) and 0 is
 * returned. On bad input diagnostics are added to diags, *out may be NULL,
 * and DR_EINVAL is returned. The file name is only used in positions.
 */
int dr_yaml_load(dr_arena *a, const char *file, const char *text, size_t len,
		 dr_diags *diags, dr_ynode **out);

/*
 * A text of at least DR_YAML_PIPE_MIN bytes is parsed by libyaml on a
 * second thread while the calling thread builds the tree from its events,
 * in order: same tree, diagnostics and limits as one thread, and still one
 * load at a time per arena and diags. For tests: set the threshold (0:
 * every text) and get the previous one; not thread-safe.
 */
#define DR_YAML_PIPE_MIN (512u * 1024u)
size_t dr_yaml_set_pipe_min(size_t bytes);

/*
 * A text of at least DR_YAML_PIPE_MIN bytes that is mostly one block
 * sequence under a key at the top (a plan's machines) is cut in two at an
 * item of it, and the halves are parsed and built on two threads, then
 * joined: the same tree as one parse. Whenever one parse could differ
 * (any diagnostic, aliases, ...) the text is loaded in one pass instead.
 * For tests: set the threshold (0: try every text, also on one core) and
 * count the loads that were split; not thread-safe.
 */
size_t dr_yaml_set_split_min(size_t bytes);
unsigned long dr_yaml_split_count(void);

/*
 * The key of a node's entry in its parent mapping (for a key node: its own
 * text), or NULL at the root and in sequences. Not a field: the tree of a
 * big plan is mostly nodes, and the key node holds the text already.
 */
static inline const char *dr_ynode_name(const dr_ynode *n)
{
	return n->parent && n->parent->kind == DR_YNODE_MAP
		       ? n->parent->keys[n->index]->str
		       : NULL;
}

/* The value for key in a mapping, or NULL (also when map is not a map). */
const dr_ynode *dr_ynode_get(const dr_ynode *map, const char *key);
/* The key node for key in a mapping, or NULL. */
const dr_ynode *dr_ynode_key(const dr_ynode *map, const char *key);

/* Resolve an RFC 6901 JSON pointer ("" is the root), or NULL. */
const dr_ynode *dr_ynode_at(const dr_ynode *root, const char *pointer);

/* JSON pointer of a node, in an arena (or malloc'd when a is NULL). */
char *dr_ynode_path(dr_arena *a, const dr_ynode *n);

/*
 * Convert to a jansson value (new reference), for schema validation. Floats
 * that JSON cannot hold (inf, nan) become strings. Returns NULL only on
 * allocation failure.
 */
json_t *dr_ynode_to_json(const dr_ynode *n);

/* Short description of a node's type for messages: "string", "mapping"... */
const char *dr_ynode_type_name(const dr_ynode *n);

/*
 * Add a diagnostic positioned at node n (file, line, column and path taken
 * from it); n may be NULL, then the diagnostic has no position.
 */
dr_diag *dr_diag_at(dr_diags *d, const dr_ynode *n, dr_severity sev,
		    const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#endif
