/*
 * ynode-dump.h - everything a YAML load leaves in a tree, as text, for
 * tests that compare two loads of the same text (one pass, piped, in two
 * halves): every node's position, index in its parent, entry name, kind,
 * type, text and typed value, and whether its parent pointer is right.
 * Shared by test-ynode and the fuzz-yaml target; header-only (static).
 */
#ifndef DR_TEST_YNODE_DUMP_H
#define DR_TEST_YNODE_DUMP_H

#include "core/strbuf.h"
#include "plan/ynode.h"

static void ynode_dump(dr_strbuf *sb, const dr_ynode *n)
{
	size_t i;

	if (!n) {
		dr_strbuf_addstr(sb, "~\n");
		return;
	}
	dr_strbuf_addf(sb, "%d:%d:%u:%d:%d:", n->line, n->col, n->index,
		       (int)n->kind, (int)n->type);
	if (dr_ynode_name(n))
		dr_strbuf_addf(sb, "k=%s:", dr_ynode_name(n));
	if (n->kind == DR_YNODE_SCALAR) {
		dr_strbuf_addf(sb, "%u'", n->len);
		dr_strbuf_add(sb, n->str, n->len);
		if (n->type == DR_YSCALAR_BOOL)
			dr_strbuf_addf(sb, "'=%d\n", n->boolean);
		else if (n->type == DR_YSCALAR_INT)
			dr_strbuf_addf(sb, "'=%lld\n", n->integer);
		else if (n->type == DR_YSCALAR_FLOAT)
			dr_strbuf_addf(sb, "'=%a\n", n->real);
		else
			dr_strbuf_addstr(sb, "'\n");
		return;
	}
	dr_strbuf_addf(sb, "%u{\n", n->n);
	for (i = 0; i < n->n; i++) {
		if (n->items[i]->parent != n ||
		    (n->kind == DR_YNODE_MAP && n->keys[i]->parent != n))
			dr_strbuf_addstr(sb, "BAD PARENT\n");
		if (n->kind == DR_YNODE_MAP)
			ynode_dump(sb, n->keys[i]);
		ynode_dump(sb, n->items[i]);
	}
	dr_strbuf_addstr(sb, "}\n");
}

#endif
