/*
 * strbuf.h - the one growable string type.
 *
 * Invariant: buf is always NUL-terminated, even when empty (it then points
 * at a shared static "" until the first addition), and len never counts the
 * terminator. A non-zero max is a hard cap for untrusted data: additions
 * that would exceed it fail with DR_ELIMIT and leave the buffer unchanged.
 *
 * Lifecycle: DR_STRBUF_INIT or dr_strbuf_init(); dr_strbuf_release() frees
 * and re-initialises; dr_strbuf_detach() hands the string to the caller.
 */
#ifndef DR_STRBUF_H
#define DR_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct dr_strbuf {
	char *buf;
	size_t len;
	size_t alloc;
	size_t max; /* 0: unlimited */
} dr_strbuf;

extern char dr_strbuf_empty[];
#define DR_STRBUF_INIT { dr_strbuf_empty, 0, 0, 0 }

void dr_strbuf_init(dr_strbuf *sb, size_t hint);
void dr_strbuf_release(dr_strbuf *sb);
char *dr_strbuf_detach(dr_strbuf *sb, size_t *len);
void dr_strbuf_reset(dr_strbuf *sb);
void dr_strbuf_setlen(dr_strbuf *sb, size_t len);

/* Each returns 0, or DR_ELIMIT when max would be exceeded. */
int dr_strbuf_grow(dr_strbuf *sb, size_t extra);
int dr_strbuf_add(dr_strbuf *sb, const void *data, size_t len);
int dr_strbuf_addstr(dr_strbuf *sb, const char *s);
int dr_strbuf_addch(dr_strbuf *sb, int c);
int dr_strbuf_addf(dr_strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int dr_strbuf_vaddf(dr_strbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Append s with JSON string escaping (no surrounding quotes). */
int dr_strbuf_add_json_escaped(dr_strbuf *sb, const char *s);
/* Append s with XML escaping for text and attribute values. */
int dr_strbuf_add_xml_escaped(dr_strbuf *sb, const char *s);

#endif
