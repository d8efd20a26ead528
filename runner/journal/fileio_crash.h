/*
 * fileio_crash.h - a fault-injecting file layer for tests and benchmarks.
 *
 * Wraps the POSIX layer and, on request:
 *   - crashes after N more bytes are written: the write that crosses the
 *     budget is cut short (a torn write) and every later call fails with EIO
 *     until dr_crashio_crash() "restarts" the machine;
 *   - runs out of space after N more bytes (short write, then ENOSPC; not a
 *     crash: later calls work);
 *   - fails fsyncs (of files or directories) with EIO, after letting some
 *     through.
 *
 * dr_crashio_crash() applies what a crash would leave on disk:
 *   DR_CRASH_KILL   the process died; the page cache survives, so every byte
 *                   written (including a torn write) stays.
 *   DR_CRASH_POWER  power loss; file data written after the last fsync of
 *                   that file is lost (files are cut back to their size at
 *                   the last fsync), and files created or renamed since the
 *                   last fsync of their directory are unlinked / renamed
 *                   back, restoring the file a rename replaced.
 * Limits of the model: overwrites inside the synced part of a file, ftruncate
 * and mkdir are not undone by DR_CRASH_POWER. The state store never
 * overwrites synced data, so this does not hide its bugs.
 *
 * Tracking needs descriptors below 1024 and at most 256 files; both are ample
 * for tests.
 */
#ifndef DR_FILEIO_CRASH_H
#define DR_FILEIO_CRASH_H

#include "journal/fileio.h"

typedef struct dr_crashio dr_crashio;

enum dr_crash_mode { DR_CRASH_KILL, DR_CRASH_POWER };

dr_crashio *dr_crashio_new(void);
void dr_crashio_free(dr_crashio *c);
const dr_fileio *dr_crashio_fileio(dr_crashio *c);

/* Crash once nbytes more bytes have been written (0: at the next write). */
void dr_crashio_crash_after(dr_crashio *c, long long nbytes);
/* Fail writes with ENOSPC once nbytes more bytes have been written. */
void dr_crashio_enospc_after(dr_crashio *c, long long nbytes);
/* Let after fsync/fsync_dir calls succeed, then fail the next count with EIO. */
void dr_crashio_fail_fsync(dr_crashio *c, int after, int count);
/* 1 once a crash budget has been hit. */
int dr_crashio_crashed(const dr_crashio *c);
/* Bytes written through the layer so far. */
long long dr_crashio_bytes_written(const dr_crashio *c);

/*
 * Apply the crash (see above), close every descriptor opened through the
 * layer and clear all faults. Callers must not use descriptors or store
 * handles from before the crash except to free them.
 */
void dr_crashio_crash(dr_crashio *c, enum dr_crash_mode mode);

#endif
