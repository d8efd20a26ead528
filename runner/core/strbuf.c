#include "core/strbuf.h"

#include "core/alloc.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char dr_strbuf_empty[1];

void dr_strbuf_init(dr_strbuf *sb, size_t hint)
{
	sb->buf = dr_strbuf_empty;
	sb->len = 0;
	sb->alloc = 0;
	sb->max = 0;
	if (hint)
		dr_strbuf_grow(sb, hint);
}

void dr_strbuf_release(dr_strbuf *sb)
{
	size_t max = sb->max;

	if (sb->alloc)
		free(sb->buf);
	dr_strbuf_init(sb, 0);
	sb->max = max;
}

char *dr_strbuf_detach(dr_strbuf *sb, size_t *len)
{
	char *s;

	if (!sb->alloc)
		dr_strbuf_grow(sb, 1);
	s = sb->buf;
	if (len)
		*len = sb->len;
	sb->buf = dr_strbuf_empty;
	sb->len = sb->alloc = 0;
	return s;
}

void dr_strbuf_reset(dr_strbuf *sb)
{
	dr_strbuf_setlen(sb, 0);
}

void dr_strbuf_setlen(dr_strbuf *sb, size_t len)
{
	if (!sb->alloc)
		return;
	sb->len = len < sb->len ? len : sb->len;
	sb->buf[sb->len] = '\0';
}

int dr_strbuf_grow(dr_strbuf *sb, size_t extra)
{
	size_t need;

	if (sb->max && (extra > sb->max || sb->len > sb->max - extra))
		return dr_error_set(DR_ELIMIT, "text longer than %zu bytes", sb->max);
	need = sb->len + extra + 1;
	if (need <= sb->alloc)
		return 0;
	if (!sb->alloc) {
		sb->buf = NULL;
	}
	DR_ALLOC_GROW(sb->buf, need, sb->alloc);
	if (sb->len == 0)
		sb->buf[0] = '\0';
	return 0;
}

int dr_strbuf_add(dr_strbuf *sb, const void *data, size_t len)
{
	int rc = dr_strbuf_grow(sb, len);

	if (rc)
		return rc;
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
	return 0;
}

int dr_strbuf_addstr(dr_strbuf *sb, const char *s)
{
	return dr_strbuf_add(sb, s, strlen(s));
}

int dr_strbuf_addch(dr_strbuf *sb, int c)
{
	char ch = (char)c;

	return dr_strbuf_add(sb, &ch, 1);
}

int dr_strbuf_vaddf(dr_strbuf *sb, const char *fmt, va_list ap)
{
	char tmp[256];
	va_list cp;
	int n;
	int rc;

	/* Format straight into the free space (or, in an empty buffer, into
	 * tmp); only a result that does not fit is formatted a second time,
	 * after growing. */
	va_copy(cp, ap);
	if (!sb->alloc) {
		n = vsnprintf(tmp, sizeof(tmp), fmt, cp);
		if (n >= 0 && (size_t)n < sizeof(tmp)) {
			va_end(cp);
			return dr_strbuf_add(sb, tmp, (size_t)n);
		}
	} else {
		n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, cp);
	}
	va_end(cp);
	if (n < 0) {
		if (sb->alloc)
			sb->buf[sb->len] = '\0';
		return dr_error_set(DR_EINVAL, "bad format string");
	}
	if (sb->alloc && (size_t)n < sb->alloc - sb->len &&
	    (!sb->max || (size_t)n <= sb->max - sb->len)) {
		sb->len += (size_t)n;
		return 0;
	}
	if (sb->alloc)
		sb->buf[sb->len] = '\0';
	rc = dr_strbuf_grow(sb, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
	return 0;
}

int dr_strbuf_addf(dr_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = dr_strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
	return rc;
}

int dr_strbuf_add_json_escaped(dr_strbuf *sb, const char *s)
{
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"': rc = dr_strbuf_addstr(sb, "\\\""); break;
		case '\\': rc = dr_strbuf_addstr(sb, "\\\\"); break;
		case '\n': rc = dr_strbuf_addstr(sb, "\\n"); break;
		case '\r': rc = dr_strbuf_addstr(sb, "\\r"); break;
		case '\t': rc = dr_strbuf_addstr(sb, "\\t"); break;
		default:
			if (c < 0x20)
				rc = dr_strbuf_addf(sb, "\\u%04x", c);
			else
				rc = dr_strbuf_addch(sb, c);
		}
	}
	return rc;
}

int dr_strbuf_add_xml_escaped(dr_strbuf *sb, const char *s)
{
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '<': rc = dr_strbuf_addstr(sb, "&lt;"); break;
		case '>': rc = dr_strbuf_addstr(sb, "&gt;"); break;
		case '&': rc = dr_strbuf_addstr(sb, "&amp;"); break;
		case '"': rc = dr_strbuf_addstr(sb, "&quot;"); break;
		case '\'': rc = dr_strbuf_addstr(sb, "&apos;"); break;
		default:
			/* XML 1.0 forbids most control characters outright. */
			if (c < 0x20 && c != '\n' && c != '\t' && c != '\r')
				rc = dr_strbuf_addf(sb, "\\x%02x", c);
			else
				rc = dr_strbuf_addch(sb, c);
		}
	}
	return rc;
}
