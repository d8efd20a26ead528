/*
 * fileio.h - the file layer under the state store.
 *
 * Every file operation of the directory store goes through a dr_fileio
 * vtable so tests can swap in a layer that tears writes, fails fsync, runs
 * out of space or "crashes" (see fileio_crash.h), in the spirit of SQLite's
 * test6.c. The default layer is plain POSIX.
 *
 * Each function has the POSIX contract of the call it is named after: it
 * returns -1 (or a negative ssize_t) and sets errno on failure. Only positional
 * I/O (pread/pwrite) is offered, so a layer never has to track file offsets.
 * The layer does not retry: dr_fio_pwrite_all() and dr_fio_pread_all() deal
 * with EINTR and short transfers.
 */
#ifndef DR_FILEIO_H
#define DR_FILEIO_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

typedef struct dr_fileio dr_fileio;

/* Called once per directory entry (not "." or ".."); non-zero stops. */
typedef int (*dr_fio_dirent_fn)(void *cbctx, const char *name, int is_dir);

struct dr_fileio {
	void *ctx;
	int (*open)(void *ctx, const char *path, int flags, mode_t mode);
	ssize_t (*pread)(void *ctx, int fd, void *buf, size_t n, off_t off);
	ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t n, off_t off);
	int (*fsync)(void *ctx, int fd);
	int (*ftruncate)(void *ctx, int fd, off_t len);
	int (*fstat)(void *ctx, int fd, struct stat *st);
	int (*close)(void *ctx, int fd);
	/* flock(2): the lock belongs to the open file description. */
	int (*flock)(void *ctx, int fd, int op);
	int (*stat)(void *ctx, const char *path, struct stat *st);
	int (*access)(void *ctx, const char *path, int mode);
	int (*rename)(void *ctx, const char *from, const char *to);
	int (*unlink)(void *ctx, const char *path);
	int (*mkdir)(void *ctx, const char *path, mode_t mode);
	/* Make the entries of directory path durable (open + fsync + close). */
	int (*fsync_dir)(void *ctx, const char *path);
	/*
	 * Call cb for each entry of directory path in readdir order. Returns 0,
	 * -1 with errno, or cb's non-zero value.
	 */
	int (*list_dir)(void *ctx, const char *path, dr_fio_dirent_fn cb, void *cbctx);
};

/* The POSIX layer (a static singleton). */
const dr_fileio *dr_fileio_posix(void);

/*
 * Write all n bytes at off, retrying EINTR and short writes. Returns 0, or -1
 * with errno (some bytes may have been written: the caller must undo them).
 */
int dr_fio_pwrite_all(const dr_fileio *io, int fd, const void *buf, size_t n, off_t off);

/*
 * Read up to n bytes at off, stopping early only at end of file. Returns 0
 * and sets *got, or -1 with errno.
 */
int dr_fio_pread_all(const dr_fileio *io, int fd, void *buf, size_t n, off_t off,
		     size_t *got);

/* flock() retried on EINTR. */
int dr_fio_flock(const dr_fileio *io, int fd, int op);

#endif
