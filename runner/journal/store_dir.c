/*
 * store_dir.c - the state store in a local directory.
 *
 * Objects are files under the root, named by their key. Log appends take a
 * flock on the file for the size check and the write, so writers in other
 * processes (or other descriptors of this one) never interleave. Whole-object
 * puts write a temporary file in the same directory, fsync it, rename it over
 * the key and fsync the directory; version checks and the rename happen under
 * the store-wide flock on <root>/.put-lock. Internal names start with '.',
 * which keys cannot, so they never collide with objects and list() skips them.
 */
#include "journal/store.h"

#include "core/alloc.h"
#include "core/error.h"
#include "journal/store_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

typedef struct dir_store {
	struct dr_store base;
	const dr_fileio *io;
	char *root;
	unsigned tmp_counter;
} dir_store;

typedef struct dir_lock {
	struct dr_store_lock base;
	int fd;
	char *path;
	dev_t dev;
	ino_t ino;
} dir_lock;

static const struct dr_store_ops dir_ops;

static int io_err(dir_store *d, const char *key, const char *what)
{
	int e = errno;
	int code = e == ENOENT ? DR_ENOTFOUND : DR_EIO;

	if (e == EACCES || e == EPERM)
		return dr_error_set(code, "state store %s: %s: %s: permission denied",
				    d->base.spec, key, what);
	return dr_error_set(code, "state store %s: %s: %s: %s", d->base.spec, key, what,
			    strerror(e));
}

static void key_path(dir_store *d, const char *key, dr_strbuf *out)
{
	dr_strbuf_reset(out);
	dr_strbuf_addstr(out, d->root);
	if (key && *key) {
		dr_strbuf_addch(out, '/');
		dr_strbuf_addstr(out, key);
	}
}

/* The directory part of path (path has a '/' below the root). */
static void parent_of(const char *path, dr_strbuf *out)
{
	const char *slash = strrchr(path, '/');

	dr_strbuf_reset(out);
	dr_strbuf_add(out, path, slash ? (size_t)(slash - path) : 0);
}

/*
 * Create the directories of key below the root, fsyncing each parent whose
 * entries changed so a new directory survives a crash.
 */
static int make_parents(dir_store *d, const char *key)
{
	dr_strbuf p = DR_STRBUF_INIT;
	const char *k = key;
	int rc = 0;

	dr_strbuf_addstr(&p, d->root);
	for (;;) {
		const char *slash = strchr(k, '/');
		if (!slash)
			break;
		size_t parent_len = p.len;
		dr_strbuf_addch(&p, '/');
		dr_strbuf_add(&p, k, (size_t)(slash - k));
		if (d->io->mkdir(d->io->ctx, p.buf, 0755) == 0) {
			char save = p.buf[parent_len];
			p.buf[parent_len] = '\0';
			int r = d->io->fsync_dir(d->io->ctx, p.buf);
			p.buf[parent_len] = save;
			if (r < 0) {
				rc = io_err(d, key, "fsync directory");
				break;
			}
		} else if (errno != EEXIST) {
			rc = io_err(d, key, "create directory");
			break;
		}
		k = slash + 1;
	}
	dr_strbuf_release(&p);
	return rc;
}

static int dir_append(dr_store *s, const char *key, const void *data, size_t len,
		      uint64_t expected)
{
	dir_store *d = (dir_store *)s;
	dr_strbuf path = DR_STRBUF_INIT, dir = DR_STRBUF_INIT;
	struct stat st;
	int fd, rc = 0, wrote = 0;

	key_path(d, key, &path);
	fd = d->io->open(d->io->ctx, path.buf, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0 && errno == ENOENT) {
		if (expected != 0) {
			rc = dr_error_set(DR_ENOTFOUND, "state store %s: %s: does not exist "
					  "(expected %llu bytes)", s->spec, key,
					  (unsigned long long)expected);
			goto out;
		}
		rc = make_parents(d, key);
		if (rc)
			goto out;
		fd = d->io->open(d->io->ctx, path.buf, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	}
	if (fd < 0) {
		rc = io_err(d, key, "open");
		goto out;
	}
	if (dr_fio_flock(d->io, fd, LOCK_EX) < 0) {
		rc = io_err(d, key, "lock");
		goto out;
	}
	if (d->io->fstat(d->io->ctx, fd, &st) < 0) {
		rc = io_err(d, key, "stat");
		goto out;
	}
	if ((uint64_t)st.st_size != expected) {
		rc = dr_error_set(DR_ECONFLICT, "state store %s: %s: size is %llu bytes, "
				  "expected %llu (another writer?)", s->spec, key,
				  (unsigned long long)st.st_size,
				  (unsigned long long)expected);
		goto out;
	}
	wrote = 1;
	if (dr_fio_pwrite_all(d->io, fd, data, len, (off_t)expected) < 0) {
		rc = io_err(d, key, "write");
		goto out;
	}
	if (d->io->fsync(d->io->ctx, fd) < 0) {
		rc = io_err(d, key, "fsync");
		goto out;
	}
	if (expected == 0) {
		/* The first append may have created the file: make its name durable. */
		parent_of(path.buf, &dir);
		if (d->io->fsync_dir(d->io->ctx, dir.buf) < 0) {
			rc = io_err(d, key, "fsync directory");
			goto out;
		}
	}
out:
	if (rc && wrote && fd >= 0) {
		/*
		 * Best effort: take back what may have reached the file so a
		 * later reader does not see a record we reported as failed.
		 * Should this fail too, replay sees a torn tail.
		 */
		if (d->io->ftruncate(d->io->ctx, fd, (off_t)expected) == 0)
			(void)d->io->fsync(d->io->ctx, fd);
	}
	if (fd >= 0)
		d->io->close(d->io->ctx, fd); /* also drops the flock */
	dr_strbuf_release(&path);
	dr_strbuf_release(&dir);
	return rc;
}

static int dir_read(dr_store *s, const char *key, uint64_t offset, size_t max,
		    dr_strbuf *out)
{
	dir_store *d = (dir_store *)s;
	dr_strbuf path = DR_STRBUF_INIT;
	struct stat st;
	size_t want, got;
	int fd, rc = 0;

	dr_strbuf_reset(out);
	key_path(d, key, &path);
	fd = d->io->open(d->io->ctx, path.buf, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		rc = errno == ENOENT ? dr_error_set(DR_ENOTFOUND, "state store %s: %s: "
						    "not found", s->spec, key)
				     : io_err(d, key, "open");
		goto out;
	}
	if (d->io->fstat(d->io->ctx, fd, &st) < 0) {
		rc = io_err(d, key, "stat");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = dr_error_set(DR_EINVAL, "state store %s: %s: not a regular file",
				  s->spec, key);
		goto out;
	}
	if ((uint64_t)st.st_size <= offset) {
		goto out;
	}
	uint64_t avail = (uint64_t)st.st_size - offset;
	if (max == 0) {
		if (avail > DR_STORE_READ_MAX) {
			rc = dr_error_set(DR_ELIMIT, "state store %s: %s: %llu bytes is more "
					  "than the %u byte limit", s->spec, key,
					  (unsigned long long)avail, DR_STORE_READ_MAX);
			goto out;
		}
		want = (size_t)avail;
	} else {
		want = avail < max ? (size_t)avail : max;
	}
	rc = dr_strbuf_grow(out, want);
	if (rc) {
		rc = dr_error_set(rc, "state store %s: %s: %s", s->spec, key, dr_error_msg());
		goto out;
	}
	if (dr_fio_pread_all(d->io, fd, out->buf, want, (off_t)offset, &got) < 0) {
		rc = io_err(d, key, "read");
		goto out;
	}
	/* setlen only shortens; the bytes were read into the grown buffer. */
	out->len = got;
	out->buf[got] = '\0';
out:
	if (fd >= 0)
		d->io->close(d->io->ctx, fd);
	dr_strbuf_release(&path);
	return rc;
}

static int dir_size(dr_store *s, const char *key, uint64_t *size)
{
	dir_store *d = (dir_store *)s;
	dr_strbuf path = DR_STRBUF_INIT;
	struct stat st;
	int rc = 0;

	*size = 0;
	key_path(d, key, &path);
	if (d->io->stat(d->io->ctx, path.buf, &st) < 0)
		rc = errno == ENOENT ? dr_error_set(DR_ENOTFOUND, "state store %s: %s: "
						    "not found", s->spec, key)
				     : io_err(d, key, "stat");
	else
		*size = (uint64_t)st.st_size;
	dr_strbuf_release(&path);
	return rc;
}

static int dir_truncate(dr_store *s, const char *key, uint64_t new_size,
			uint64_t expected)
{
	dir_store *d = (dir_store *)s;
	dr_strbuf path = DR_STRBUF_INIT;
	struct stat st;
	int fd, rc = 0;

	key_path(d, key, &path);
	fd = d->io->open(d->io->ctx, path.buf, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0) {
		rc = io_err(d, key, "open");
		goto out;
	}
	if (dr_fio_flock(d->io, fd, LOCK_EX) < 0 || d->io->fstat(d->io->ctx, fd, &st) < 0) {
		rc = io_err(d, key, "lock");
		goto out;
	}
	if ((uint64_t)st.st_size != expected) {
		rc = dr_error_set(DR_ECONFLICT, "state store %s: %s: size is %llu bytes, "
				  "expected %llu (another writer?)", s->spec, key,
				  (unsigned long long)st.st_size,
				  (unsigned long long)expected);
		goto out;
	}
	if (d->io->ftruncate(d->io->ctx, fd, (off_t)new_size) < 0) {
		rc = io_err(d, key, "truncate");
		goto out;
	}
	if (d->io->fsync(d->io->ctx, fd) < 0)
		rc = io_err(d, key, "fsync");
out:
	if (fd >= 0)
		d->io->close(d->io->ctx, fd);
	dr_strbuf_release(&path);
	return rc;
}

/* Content hash: 128 bits of SHA-256 as 32 hex digits. */
static char *content_version(const void *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *v = dr_xmalloc(33);

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen < 16) {
		/* Not expected; a constant would break if-match, so abort loudly. */
		fprintf(stderr, "drplan: SHA-256 unavailable in OpenSSL\n");
		abort();
	}
	for (int i = 0; i < 16; i++)
		snprintf(v + 2 * i, 3, "%02x", md[i]);
	return v;
}

static int put_lock(dir_store *d, int *fd_out)
{
	dr_strbuf p = DR_STRBUF_INIT;
	int fd;

	key_path(d, ".put-lock", &p);
	fd = d->io->open(d->io->ctx, p.buf, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	dr_strbuf_release(&p);
	if (fd < 0)
		return io_err(d, ".put-lock", "open");
	if (dr_fio_flock(d->io, fd, LOCK_EX) < 0) {
		int rc = io_err(d, ".put-lock", "lock");
		d->io->close(d->io->ctx, fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

struct sweep {
	dir_store *d;
	const char *dir;
	dr_strbuf path;
};

static int sweep_entry(void *ctx, const char *name, int is_dir)
{
	struct sweep *sw = ctx;

	if (is_dir || strncmp(name, ".tmp-", 5))
		return 0;
	dr_strbuf_reset(&sw->path);
	dr_strbuf_addf(&sw->path, "%s/%s", sw->dir, name);
	(void)sw->d->io->unlink(sw->d->io->ctx, sw->path.buf);
	return 0;
}

/*
 * Every put makes and removes its temporary file under the put lock, so a
 * temporary file seen while holding it was left by a crash: remove it.
 */
static void sweep_temps(dir_store *d, const char *dir)
{
	struct sweep sw = { d, dir, DR_STRBUF_INIT };

	(void)d->io->list_dir(d->io->ctx, dir, sweep_entry, &sw);
	dr_strbuf_release(&sw.path);
}

static int dir_put(dr_store *s, const char *key, const void *data, size_t len,
		   const char *if_match, char **new_version)
{
	dir_store *d = (dir_store *)s;
	dr_strbuf path = DR_STRBUF_INIT, tmp = DR_STRBUF_INIT, dir = DR_STRBUF_INIT;
	dr_strbuf cur = DR_STRBUF_INIT;
	int lockfd = -1, fd = -1, rc, tmp_made = 0;

	rc = make_parents(d, key);
	if (rc)
		goto out;
	rc = put_lock(d, &lockfd);
	if (rc)
		goto out;
	if (if_match) {
		rc = dir_read(s, key, 0, 0, &cur);
		if (rc && rc != DR_ENOTFOUND)
			goto out;
		int exists = rc == 0;
		rc = 0;
		if (!*if_match && exists) {
			rc = dr_error_set(DR_ECONFLICT, "state store %s: %s: already exists",
					  s->spec, key);
			goto out;
		}
		if (*if_match) {
			char *v = exists ? content_version(cur.buf, cur.len) : NULL;
			int same = v && !strcmp(v, if_match);
			free(v);
			if (!same) {
				rc = dr_error_set(DR_ECONFLICT, "state store %s: %s: %s",
						  s->spec, key,
						  exists ? "changed since it was read"
							 : "no longer exists");
				goto out;
			}
		}
	}
	key_path(d, key, &path);
	parent_of(path.buf, &dir);
	sweep_temps(d, dir.buf);
	const char *base = strrchr(path.buf, '/') + 1;
	dr_strbuf_addf(&tmp, "%s/.tmp-%s.%ld.%u", dir.buf, base, (long)getpid(),
		       d->tmp_counter++);
	fd = d->io->open(d->io->ctx, tmp.buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = io_err(d, key, "create temporary file");
		goto out;
	}
	tmp_made = 1;
	if (dr_fio_pwrite_all(d->io, fd, data, len, 0) < 0) {
		rc = io_err(d, key, "write");
		goto out;
	}
	if (d->io->fsync(d->io->ctx, fd) < 0) {
		rc = io_err(d, key, "fsync");
		goto out;
	}
	d->io->close(d->io->ctx, fd);
	fd = -1;
	if (d->io->rename(d->io->ctx, tmp.buf, path.buf) < 0) {
		rc = io_err(d, key, "rename");
		goto out;
	}
	tmp_made = 0;
	if (d->io->fsync_dir(d->io->ctx, dir.buf) < 0) {
		rc = io_err(d, key, "fsync directory");
		goto out;
	}
	if (new_version)
		*new_version = content_version(data, len);
out:
	if (fd >= 0)
		d->io->close(d->io->ctx, fd);
	if (tmp_made)
		(void)d->io->unlink(d->io->ctx, tmp.buf);
	if (lockfd >= 0)
		d->io->close(d->io->ctx, lockfd);
	dr_strbuf_release(&path);
	dr_strbuf_release(&tmp);
	dr_strbuf_release(&dir);
	dr_strbuf_release(&cur);
	return rc;
}

static int dir_get(dr_store *s, const char *key, dr_strbuf *out, char **version)
{
	int rc = dir_read(s, key, 0, 0, out);

	if (!rc && version)
		*version = content_version(out->buf, out->len);
	return rc;
}

struct walk {
	dir_store *d;
	dr_strbuf rel;   /* directory being walked, relative to the root */
	const char *prefix;
	char **keys;
	size_t nkeys, alloc;
	int err;
};

static int walk_dir(struct walk *w);

static int walk_entry(void *ctx, const char *name, int is_dir)
{
	struct walk *w = ctx;
	size_t base = w->rel.len;

	if (name[0] == '.')
		return 0;
	if (base)
		dr_strbuf_addch(&w->rel, '/');
	dr_strbuf_addstr(&w->rel, name);
	size_t plen = strlen(w->prefix), n = w->rel.len < plen ? w->rel.len : plen;
	/* Descend only where the prefix can still match. */
	if (!strncmp(w->rel.buf, w->prefix, n)) {
		if (is_dir) {
			if (walk_dir(w)) {
				dr_strbuf_setlen(&w->rel, base);
				return 1;
			}
		} else if (w->rel.len >= plen) {
			DR_ALLOC_GROW(w->keys, w->nkeys + 1, w->alloc);
			w->keys[w->nkeys++] = dr_xstrdup(w->rel.buf);
		}
	}
	dr_strbuf_setlen(&w->rel, base);
	return 0;
}

static int walk_dir(struct walk *w)
{
	dr_strbuf path = DR_STRBUF_INIT;
	int rc;

	key_path(w->d, w->rel.buf, &path);
	rc = w->d->io->list_dir(w->d->io->ctx, path.buf, walk_entry, w);
	if (rc < 0 && errno != ENOENT) {
		w->err = io_err(w->d, w->rel.len ? w->rel.buf : ".", "list");
		rc = 1;
	} else if (rc < 0) {
		rc = 0;
	}
	dr_strbuf_release(&path);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int dir_list(dr_store *s, const char *prefix, dr_store_list_fn fn, void *ctx)
{
	struct walk w = { .d = (dir_store *)s, .rel = DR_STRBUF_INIT, .prefix = prefix };
	int rc = 0;

	walk_dir(&w);
	if (w.err)
		rc = w.err;
	else if (w.nkeys)
		qsort(w.keys, w.nkeys, sizeof(*w.keys), cmp_str);
	for (size_t i = 0; i < w.nkeys; i++) {
		if (!rc)
			rc = fn(ctx, w.keys[i]);
		free(w.keys[i]);
	}
	free(w.keys);
	dr_strbuf_release(&w.rel);
	return rc;
}

static int dir_remove(dr_store *s, const char *key)
{
	dir_store *d = (dir_store *)s;
	dr_strbuf path = DR_STRBUF_INIT, dir = DR_STRBUF_INIT;
	int rc = 0;

	key_path(d, key, &path);
	if (d->io->unlink(d->io->ctx, path.buf) < 0) {
		rc = errno == ENOENT ? dr_error_set(DR_ENOTFOUND, "state store %s: %s: "
						    "not found", s->spec, key)
				     : io_err(d, key, "remove");
	} else {
		parent_of(path.buf, &dir);
		if (d->io->fsync_dir(d->io->ctx, dir.buf) < 0)
			rc = io_err(d, key, "fsync directory");
	}
	dr_strbuf_release(&path);
	dr_strbuf_release(&dir);
	return rc;
}

static int dir_lock_take(dr_store *s, const char *name, const char *holder_json,
			 unsigned ttl_ms, dr_store_lock **out, char **holder_out)
{
	dir_store *d = (dir_store *)s;
	dr_strbuf key = DR_STRBUF_INIT, path = DR_STRBUF_INIT, cur = DR_STRBUF_INIT;
	dr_strbuf line = DR_STRBUF_INIT;
	struct stat st;
	int fd = -1, rc;

	dr_strbuf_addf(&key, "locks/%s.lock", name);
	rc = make_parents(d, key.buf);
	if (rc)
		goto out;
	key_path(d, key.buf, &path);
	/*
	 * The lock file is never deleted: deleting a flocked file lets a
	 * second process lock a new file of the same name while the first
	 * still believes it holds the lock.
	 */
	fd = d->io->open(d->io->ctx, path.buf, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = io_err(d, key.buf, "open");
		goto out;
	}
	if (dr_fio_flock(d->io, fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK) {
			rc = io_err(d, key.buf, "lock");
			goto out;
		}
		size_t got = 0;
		dr_strbuf_grow(&cur, 65536);
		if (dr_fio_pread_all(d->io, fd, cur.buf, 65536, 0, &got) < 0)
			got = 0;
		cur.len = got;
		cur.buf[got] = '\0';
		while (cur.len && (cur.buf[cur.len - 1] == '\n' || cur.buf[cur.len - 1] == '\0'))
			dr_strbuf_setlen(&cur, cur.len - 1);
		dr_strbuf desc = DR_STRBUF_INIT;
		dr_store_lock_describe(cur.buf, &desc);
		rc = dr_error_set(DR_ECONFLICT, "lock '%s' is held by %s", name, desc.buf);
		dr_strbuf_release(&desc);
		if (holder_out)
			*holder_out = dr_xstrdup(cur.buf);
		goto out;
	}
	dr_strbuf_addstr(&line, holder_json);
	dr_strbuf_addch(&line, '\n');
	if (d->io->ftruncate(d->io->ctx, fd, 0) < 0 ||
	    dr_fio_pwrite_all(d->io, fd, line.buf, line.len, 0) < 0 ||
	    d->io->fsync(d->io->ctx, fd) < 0 || d->io->fstat(d->io->ctx, fd, &st) < 0) {
		rc = io_err(d, key.buf, "write holder");
		goto out;
	}
	dir_lock *l = dr_xcalloc(1, sizeof(*l));
	l->base.store = s;
	l->base.name = dr_xstrdup(name);
	l->base.holder = dr_xstrdup(holder_json);
	l->fd = fd;
	l->path = dr_strbuf_detach(&path, NULL);
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	fd = -1;
	*out = &l->base;
out:
	if (fd >= 0)
		d->io->close(d->io->ctx, fd);
	dr_strbuf_release(&key);
	dr_strbuf_release(&path);
	dr_strbuf_release(&cur);
	dr_strbuf_release(&line);
	return rc;
}

static int dir_lock_renew(dr_store_lock *base)
{
	dir_lock *l = (dir_lock *)base;
	dir_store *d = (dir_store *)base->store;
	struct stat st;

	if (d->io->stat(d->io->ctx, l->path, &st) < 0 || st.st_dev != l->dev ||
	    st.st_ino != l->ino)
		return dr_error_set(DR_ECONFLICT, "state store %s: lock '%s' lost: %s was "
				    "removed or replaced", base->store->spec, base->name,
				    l->path);
	return 0;
}

static int dir_unlock(dr_store_lock *base)
{
	dir_lock *l = (dir_lock *)base;
	dir_store *d = (dir_store *)base->store;
	int rc = 0;

	/* Clear the holder while still holding the lock, then let go. */
	if (d->io->ftruncate(d->io->ctx, l->fd, 0) < 0)
		rc = io_err(d, base->name, "clear lock holder");
	if (d->io->close(d->io->ctx, l->fd) < 0 && !rc)
		rc = io_err(d, base->name, "close lock");
	free(l->path);
	free(base->name);
	free(base->holder);
	free(l);
	return rc;
}

static void dir_free(dr_store *s)
{
	dir_store *d = (dir_store *)s;

	free(d->root);
	free(s->spec);
	free(d);
}

static const struct dr_store_ops dir_ops = {
	.name = "dir",
	.append = dir_append,
	.read = dir_read,
	.size = dir_size,
	.truncate = dir_truncate,
	.put = dir_put,
	.get = dir_get,
	.list = dir_list,
	.remove = dir_remove,
	.lock = dir_lock_take,
	.renew = dir_lock_renew,
	.unlock = dir_unlock,
	.free = dir_free,
};

static int open_err(const char *spec, const char *what, const char *path)
{
	int e = errno;

	if (e == EACCES || e == EPERM)
		return dr_error_set(DR_EIO, "state store %s: %s%s%spermission denied", spec,
				    what, path ? path : "", what[0] ? ": " : "");
	return dr_error_set(e == ENOENT ? DR_ENOTFOUND : DR_EIO, "state store %s: %s%s%s%s",
			    spec, what, path ? path : "", what[0] ? ": " : "", strerror(e));
}

/* mkdir -p, creating only what is missing. */
static int make_dirs(const dr_fileio *io, const char *spec, const char *path)
{
	dr_strbuf p = DR_STRBUF_INIT;
	int rc = 0;

	dr_strbuf_addstr(&p, path);
	for (size_t i = 1; i <= p.len; i++) {
		if (p.buf[i] != '/' && p.buf[i] != '\0')
			continue;
		char save = p.buf[i];
		p.buf[i] = '\0';
		if (io->mkdir(io->ctx, p.buf, 0755) < 0 && errno != EEXIST) {
			rc = open_err(spec, "cannot create directory ", p.buf);
			break;
		}
		p.buf[i] = save;
	}
	dr_strbuf_release(&p);
	return rc;
}

int dr_store_dir_open(const char *path, const dr_fileio *io, unsigned flags,
		      dr_store **out)
{
	struct stat st;
	int rc;

	*out = NULL;
	if (!path || !*path)
		return dr_error_set(DR_EINVAL, "empty state store directory");
	if (io->stat(io->ctx, path, &st) < 0) {
		if (errno == ENOENT && (flags & DR_STORE_CREATE)) {
			rc = make_dirs(io, path, path);
			if (rc)
				return rc;
			if (io->stat(io->ctx, path, &st) < 0)
				return open_err(path, "", NULL);
		} else if (errno == ENOENT) {
			return dr_error_set(DR_ENOTFOUND, "state store %s: no such directory",
					    path);
		} else {
			return open_err(path, "", NULL);
		}
	}
	if (!S_ISDIR(st.st_mode))
		return dr_error_set(DR_EINVAL, "state store %s: not a directory", path);
	if (io->access(io->ctx, path, W_OK | X_OK) < 0)
		return open_err(path, "", NULL);

	dir_store *d = dr_xcalloc(1, sizeof(*d));
	d->base.ops = &dir_ops;
	d->base.spec = dr_xstrdup(path);
	d->io = io;
	d->root = dr_xstrdup(path);
	/* Keep "/x/" and "/x" the same store; "/" stays "/". */
	size_t n = strlen(d->root);
	while (n > 1 && d->root[n - 1] == '/')
		d->root[--n] = '\0';
	*out = &d->base;
	return 0;
}
