#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_msg[1024];

const char *dr_strerror(int code)
{
	switch (code) {
	case DR_OK: return "success";
	case DR_ERR: return "error";
	case DR_ENOTFOUND: return "not found";
	case DR_EINVAL: return "invalid input";
	case DR_EAGAIN: return "try again";
	case DR_ETIMEOUT: return "timed out";
	case DR_ECANCELLED: return "cancelled";
	case DR_ENOMEM: return "out of memory";
	case DR_EIO: return "I/O error";
	case DR_ECONFLICT: return "conflict";
	case DR_ELIMIT: return "limit exceeded";
	}
	return "unknown error";
}

int dr_error_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
	va_end(ap);
	return code;
}

const char *dr_error_msg(void)
{
	return last_msg;
}

void dr_error_clear(void)
{
	last_msg[0] = '\0';
}
