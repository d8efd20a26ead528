#include "journal/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int posix_open(void *ctx, const char *path, int flags, mode_t mode)
{
	int fd;

	do
		fd = open(path, flags, mode);
	while (fd < 0 && errno == EINTR);
	return fd;
}

static ssize_t posix_pread(void *ctx, int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off);
}

static ssize_t posix_pwrite(void *ctx, int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

static int posix_fsync(void *ctx, int fd)
{
	return fsync(fd);
}

static int posix_ftruncate(void *ctx, int fd, off_t len)
{
	int rc;

	do
		rc = ftruncate(fd, len);
	while (rc < 0 && errno == EINTR);
	return rc;
}

static int posix_fstat(void *ctx, int fd, struct stat *st)
{
	return fstat(fd, st);
}

static int posix_close(void *ctx, int fd)
{
	/* Linux closes the descriptor even when close() reports EINTR. */
	int rc = close(fd);

	return rc < 0 && errno == EINTR ? 0 : rc;
}

static int posix_flock(void *ctx, int fd, int op)
{
	return flock(fd, op);
}

static int posix_stat(void *ctx, const char *path, struct stat *st)
{
	return stat(path, st);
}

static int posix_access(void *ctx, const char *path, int mode)
{
	return access(path, mode);
}

static int posix_rename(void *ctx, const char *from, const char *to)
{
	return rename(from, to);
}

static int posix_unlink(void *ctx, const char *path)
{
	return unlink(path);
}

static int posix_mkdir(void *ctx, const char *path, mode_t mode)
{
	return mkdir(path, mode);
}

static int posix_fsync_dir(void *ctx, const char *path)
{
	int fd = posix_open(ctx, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	int rc, saved;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static int posix_list_dir(void *ctx, const char *path, dr_fio_dirent_fn cb, void *cbctx)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -1;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				rc = -1;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int is_dir;
		if (de->d_type == DT_UNKNOWN || de->d_type == DT_LNK) {
			struct stat st;
			is_dir = fstatat(dirfd(d), de->d_name, &st, 0) == 0 &&
				 S_ISDIR(st.st_mode);
		} else {
			is_dir = de->d_type == DT_DIR;
		}
		rc = cb(cbctx, de->d_name, is_dir);
		if (rc)
			break;
	}
	int saved = errno;
	closedir(d);
	errno = saved;
	return rc;
}

static const dr_fileio posix_io = {
	.ctx = NULL,
	.open = posix_open,
	.pread = posix_pread,
	.pwrite = posix_pwrite,
	.fsync = posix_fsync,
	.ftruncate = posix_ftruncate,
	.fstat = posix_fstat,
	.close = posix_close,
	.flock = posix_flock,
	.stat = posix_stat,
	.access = posix_access,
	.rename = posix_rename,
	.unlink = posix_unlink,
	.mkdir = posix_mkdir,
	.fsync_dir = posix_fsync_dir,
	.list_dir = posix_list_dir,
};

const dr_fileio *dr_fileio_posix(void)
{
	return &posix_io;
}

int dr_fio_pwrite_all(const dr_fileio *io, int fd, const void *buf, size_t n, off_t off)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = io->pwrite(io->ctx, fd, p, n, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			/* No progress and no error: treat as a full device. */
			errno = ENOSPC;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

int dr_fio_pread_all(const dr_fileio *io, int fd, void *buf, size_t n, off_t off,
		     size_t *got)
{
	char *p = buf;
	size_t done = 0;

	while (done < n) {
		ssize_t r = io->pread(io->ctx, fd, p + done, n - done, off + (off_t)done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	*got = done;
	return 0;
}

int dr_fio_flock(const dr_fileio *io, int fd, int op)
{
	int rc;

	do
		rc = io->flock(io->ctx, fd, op);
	while (rc < 0 && errno == EINTR);
	return rc;
}
