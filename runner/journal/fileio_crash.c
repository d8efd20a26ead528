#include "journal/fileio_crash.h"

#include "core/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_FD 1024
#define MAX_FILES 256
#define MAX_DIROPS 256

struct tracked {
	char *path;
	off_t synced;   /* size at the last fsync (or when first opened) */
};

/* A create or rename not yet made durable by fsync_dir. */
struct dirop {
	char *dir;
	char *path;     /* the new name */
	char *from;     /* rename: the old name; NULL for a create */
	char *backup;   /* rename over an existing file: a link to it */
};

struct dr_crashio {
	dr_fileio io;
	const dr_fileio *base;
	int fd_file[MAX_FD];   /* index into files, -1 when untracked */
	int fd_open[MAX_FD];
	struct tracked files[MAX_FILES];
	int nfiles;
	struct dirop ops[MAX_DIROPS];
	int nops;
	long long crash_budget;   /* -1: off */
	long long enospc_budget;  /* -1: off */
	int fsync_skip;
	int fsync_failures;
	int crashed;
	long long written;
	unsigned backup_counter;
};

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return dr_xstrdup(".");
	if (slash == path)
		return dr_xstrdup("/");
	return dr_xstrndup(path, (size_t)(slash - path));
}

static int find_file(dr_crashio *c, const char *path)
{
	for (int i = 0; i < c->nfiles; i++)
		if (c->files[i].path && !strcmp(c->files[i].path, path))
			return i;
	return -1;
}

static int track_file(dr_crashio *c, const char *path, off_t size)
{
	int i = find_file(c, path);

	if (i >= 0)
		return i;
	if (c->nfiles == MAX_FILES)
		return -1;
	c->files[c->nfiles].path = dr_xstrdup(path);
	c->files[c->nfiles].synced = size;
	return c->nfiles++;
}

static void add_dirop(dr_crashio *c, const char *path, const char *from, const char *backup)
{
	if (c->nops == MAX_DIROPS)
		return;
	struct dirop *op = &c->ops[c->nops++];
	op->dir = dir_of(path);
	op->path = dr_xstrdup(path);
	op->from = from ? dr_xstrdup(from) : NULL;
	op->backup = backup ? dr_xstrdup(backup) : NULL;
}

static void free_dirop(struct dirop *op)
{
	free(op->dir);
	free(op->path);
	free(op->from);
	free(op->backup);
}

#define DEAD_CHECK(c)                                                          \
	do {                                                                   \
		if ((c)->crashed) {                                            \
			errno = EIO;                                           \
			return -1;                                             \
		}                                                              \
	} while (0)

static int c_open(void *ctx, const char *path, int flags, mode_t mode)
{
	dr_crashio *c = ctx;
	struct stat st;
	int existed, fd;

	DEAD_CHECK(c);
	existed = c->base->stat(c->base->ctx, path, &st) == 0;
	fd = c->base->open(c->base->ctx, path, flags, mode);
	if (fd < 0)
		return fd;
	if (fd >= MAX_FD) {
		c->base->close(c->base->ctx, fd);
		errno = EMFILE;
		return -1;
	}
	c->fd_open[fd] = 1;
	c->fd_file[fd] = -1;
	if (flags & (O_WRONLY | O_RDWR)) {
		if (!existed && (flags & O_CREAT)) {
			add_dirop(c, path, NULL, NULL);
			c->fd_file[fd] = track_file(c, path, 0);
		} else if (existed && S_ISREG(st.st_mode)) {
			c->fd_file[fd] = track_file(c, path, st.st_size);
		}
	}
	return fd;
}

static ssize_t c_pread(void *ctx, int fd, void *buf, size_t n, off_t off)
{
	dr_crashio *c = ctx;

	DEAD_CHECK(c);
	return c->base->pread(c->base->ctx, fd, buf, n, off);
}

static ssize_t c_pwrite(void *ctx, int fd, const void *buf, size_t n, off_t off)
{
	dr_crashio *c = ctx;
	ssize_t w;

	DEAD_CHECK(c);
	if (c->crash_budget == 0) {
		c->crashed = 1;
		errno = EIO;
		return -1;
	}
	if (c->enospc_budget == 0) {
		errno = ENOSPC;
		return -1;
	}
	if (c->crash_budget > 0 && (long long)n > c->crash_budget)
		n = (size_t)c->crash_budget;
	if (c->enospc_budget > 0 && (long long)n > c->enospc_budget)
		n = (size_t)c->enospc_budget;
	w = c->base->pwrite(c->base->ctx, fd, buf, n, off);
	if (w > 0) {
		c->written += w;
		if (c->crash_budget > 0)
			c->crash_budget -= w;
		if (c->enospc_budget > 0)
			c->enospc_budget -= w;
	}
	return w;
}

static int c_fsync(void *ctx, int fd)
{
	dr_crashio *c = ctx;
	struct stat st;

	DEAD_CHECK(c);
	if (c->fsync_skip > 0) {
		c->fsync_skip--;
	} else if (c->fsync_failures > 0) {
		c->fsync_failures--;
		errno = EIO;
		return -1;
	}
	if (c->base->fsync(c->base->ctx, fd) < 0)
		return -1;
	if (fd >= 0 && fd < MAX_FD && c->fd_file[fd] >= 0 &&
	    c->base->fstat(c->base->ctx, fd, &st) == 0)
		c->files[c->fd_file[fd]].synced = st.st_size;
	return 0;
}

static int c_ftruncate(void *ctx, int fd, off_t len)
{
	dr_crashio *c = ctx;

	DEAD_CHECK(c);
	return c->base->ftruncate(c->base->ctx, fd, len);
}

static int c_fstat(void *ctx, int fd, struct stat *st)
{
	dr_crashio *c = ctx;

	DEAD_CHECK(c);
	return c->base->fstat(c->base->ctx, fd, st);
}

static int c_close(void *ctx, int fd)
{
	dr_crashio *c = ctx;

	/* Closing always works, even after a crash, so nothing leaks. */
	if (fd >= 0 && fd < MAX_FD) {
		c->fd_open[fd] = 0;
		c->fd_file[fd] = -1;
	}
	return c->base->close(c->base->ctx, fd);
}

static int c_flock(void *ctx, int fd, int op)
{
	dr_crashio *c = ctx;

	if (c->crashed && !(op & LOCK_UN)) {
		errno = EIO;
		return -1;
	}
	return c->base->flock(c->base->ctx, fd, op);
}

static int c_stat(void *ctx, const char *path, struct stat *st)
{
	dr_crashio *c = ctx;

	DEAD_CHECK(c);
	return c->base->stat(c->base->ctx, path, st);
}

static int c_access(void *ctx, const char *path, int mode)
{
	dr_crashio *c = ctx;

	DEAD_CHECK(c);
	return c->base->access(c->base->ctx, path, mode);
}

static int c_rename(void *ctx, const char *from, const char *to)
{
	dr_crashio *c = ctx;
	char backup[PATH_MAX];
	struct stat st;
	int have_backup = 0;

	DEAD_CHECK(c);
	if (c->base->stat(c->base->ctx, to, &st) == 0) {
		snprintf(backup, sizeof(backup), "%s.crashio-backup-%u", to,
			 c->backup_counter++);
		have_backup = link(to, backup) == 0;
	}
	if (c->base->rename(c->base->ctx, from, to) < 0) {
		int saved = errno;
		if (have_backup)
			unlink(backup);
		errno = saved;
		return -1;
	}
	/* The tracked data follows the inode to its new name. */
	int old = find_file(c, to), moved = find_file(c, from);
	if (old >= 0) {
		free(c->files[old].path);
		c->files[old].path = NULL;
	}
	if (moved >= 0) {
		free(c->files[moved].path);
		c->files[moved].path = dr_xstrdup(to);
	}
	add_dirop(c, to, from, have_backup ? backup : NULL);
	return 0;
}

static int c_unlink(void *ctx, const char *path)
{
	dr_crashio *c = ctx;

	DEAD_CHECK(c);
	return c->base->unlink(c->base->ctx, path);
}

static int c_mkdir(void *ctx, const char *path, mode_t mode)
{
	dr_crashio *c = ctx;

	DEAD_CHECK(c);
	return c->base->mkdir(c->base->ctx, path, mode);
}

static int c_fsync_dir(void *ctx, const char *path)
{
	dr_crashio *c = ctx;

	DEAD_CHECK(c);
	if (c->fsync_skip > 0) {
		c->fsync_skip--;
	} else if (c->fsync_failures > 0) {
		c->fsync_failures--;
		errno = EIO;
		return -1;
	}
	if (c->base->fsync_dir(c->base->ctx, path) < 0)
		return -1;
	/* Entries of this directory are durable now: forget their undo. */
	int j = 0;
	for (int i = 0; i < c->nops; i++) {
		if (!strcmp(c->ops[i].dir, path)) {
			if (c->ops[i].backup)
				unlink(c->ops[i].backup);
			free_dirop(&c->ops[i]);
		} else {
			c->ops[j++] = c->ops[i];
		}
	}
	c->nops = j;
	return 0;
}

static int c_list_dir(void *ctx, const char *path, dr_fio_dirent_fn cb, void *cbctx)
{
	dr_crashio *c = ctx;

	DEAD_CHECK(c);
	return c->base->list_dir(c->base->ctx, path, cb, cbctx);
}

dr_crashio *dr_crashio_new(void)
{
	dr_crashio *c = dr_xcalloc(1, sizeof(*c));

	c->base = dr_fileio_posix();
	c->io = (dr_fileio){
		.ctx = c,
		.open = c_open,
		.pread = c_pread,
		.pwrite = c_pwrite,
		.fsync = c_fsync,
		.ftruncate = c_ftruncate,
		.fstat = c_fstat,
		.close = c_close,
		.flock = c_flock,
		.stat = c_stat,
		.access = c_access,
		.rename = c_rename,
		.unlink = c_unlink,
		.mkdir = c_mkdir,
		.fsync_dir = c_fsync_dir,
		.list_dir = c_list_dir,
	};
	for (int i = 0; i < MAX_FD; i++)
		c->fd_file[i] = -1;
	c->crash_budget = -1;
	c->enospc_budget = -1;
	return c;
}

static void forget_all(dr_crashio *c)
{
	for (int i = 0; i < c->nfiles; i++)
		free(c->files[i].path);
	c->nfiles = 0;
	for (int i = 0; i < c->nops; i++) {
		if (c->ops[i].backup)
			unlink(c->ops[i].backup);
		free_dirop(&c->ops[i]);
	}
	c->nops = 0;
}

void dr_crashio_free(dr_crashio *c)
{
	if (!c)
		return;
	for (int fd = 0; fd < MAX_FD; fd++)
		if (c->fd_open[fd])
			c->base->close(c->base->ctx, fd);
	forget_all(c);
	free(c);
}

const dr_fileio *dr_crashio_fileio(dr_crashio *c)
{
	return &c->io;
}

void dr_crashio_crash_after(dr_crashio *c, long long nbytes)
{
	c->crash_budget = nbytes < 0 ? -1 : nbytes;
}

void dr_crashio_enospc_after(dr_crashio *c, long long nbytes)
{
	c->enospc_budget = nbytes < 0 ? -1 : nbytes;
}

void dr_crashio_fail_fsync(dr_crashio *c, int after, int count)
{
	c->fsync_skip = after;
	c->fsync_failures = count;
}

int dr_crashio_crashed(const dr_crashio *c)
{
	return c->crashed;
}

long long dr_crashio_bytes_written(const dr_crashio *c)
{
	return c->written;
}

void dr_crashio_crash(dr_crashio *c, enum dr_crash_mode mode)
{
	for (int fd = 0; fd < MAX_FD; fd++) {
		if (c->fd_open[fd]) {
			c->base->close(c->base->ctx, fd);
			c->fd_open[fd] = 0;
			c->fd_file[fd] = -1;
		}
	}
	if (mode == DR_CRASH_POWER) {
		for (int i = 0; i < c->nfiles; i++) {
			struct stat st;
			const char *p = c->files[i].path;
			if (p && stat(p, &st) == 0 && st.st_size > c->files[i].synced)
				if (truncate(p, c->files[i].synced) < 0)
					perror("crashio: truncate");
		}
		/* Undo directory changes newest first. */
		for (int i = c->nops - 1; i >= 0; i--) {
			struct dirop *op = &c->ops[i];
			if (!op->from) {
				unlink(op->path);
				continue;
			}
			if (rename(op->path, op->from) < 0)
				perror("crashio: undo rename");
			if (op->backup && rename(op->backup, op->path) < 0)
				perror("crashio: restore backup");
			free(op->backup);
			op->backup = NULL;
		}
	}
	forget_all(c);
	c->crash_budget = -1;
	c->enospc_budget = -1;
	c->fsync_skip = 0;
	c->fsync_failures = 0;
	c->crashed = 0;
}
