/*
 * error.h - return codes shared by every module of drplan.
 *
 * Functions return int: 0 on success, a negative DR_E* code on failure. Codes
 * pass up unchanged, so a caller several frames away can still act on
 * "not found" or "invalid". A human-readable explanation of the most recent
 * failure is kept per thread by dr_error_set() and read with dr_error_msg().
 */
#ifndef DR_ERROR_H
#define DR_ERROR_H

enum dr_error_code {
	DR_OK = 0,
	DR_ERR = -1,        /* generic failure */
	DR_ENOTFOUND = -2,  /* a named thing does not exist */
	DR_EINVAL = -3,     /* bad input: the caller or the user must change it */
	DR_EAGAIN = -4,     /* transient: trying again later may succeed */
	DR_ETIMEOUT = -5,   /* a deadline passed */
	DR_ECANCELLED = -6, /* stopped on request */
	DR_ENOMEM = -7,     /* an allocation or a configured cap was exceeded */
	DR_EIO = -8,        /* an operating-system I/O call failed */
	DR_ECONFLICT = -9,  /* someone else holds the lock or changed the state */
	DR_ELIMIT = -10,    /* a configured size or count limit was hit */
};

/* Static name of a code ("not found", "invalid input", ...). */
const char *dr_strerror(int code);

/*
 * Record the explanation of a failure and return code, so callers can write
 * `return dr_error_set(DR_EINVAL, "bad duration '%s'", s);`.
 */
int dr_error_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The last message set on this thread, or "" when none. */
const char *dr_error_msg(void);

/* Forget the last message. */
void dr_error_clear(void);

#endif
