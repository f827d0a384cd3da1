/*
 * files_writer: the verified groups of a file being received, written off
 * the loop (see files_writer.c). The loop gathers them into 1 MiB buffers
 * (files/seqio.h's size); a full buffer goes to libuv's thread pool, so
 * receiving and checking the next megabyte overlaps writing this one.
 * At most FILES_WRITES_MAX buffers are in flight; past that a buffer is
 * written on the loop, which slows the transfer instead of growing memory.
 *
 * Ownership: the owner (daemon/files.c) opens a writer on the file it holds
 * and releases it when the transfer ends; the writer keeps its own copy of
 * the descriptor and frees itself once its last write returned, so neither
 * waits for the other.
 */
#ifndef RAYFISH_DAEMON_FILES_WRITER_H
#define RAYFISH_DAEMON_FILES_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define FILES_WRITES_MAX 4

struct files_writer;

/* NULL on failure (errno set). */
struct files_writer *files_writer_open(uv_loop_t *loop, int fd);
/* Adds bytes at off; 0, or the -errno of a write that failed before. */
int files_writer_put(struct files_writer *w, uint64_t off, const uint8_t *p, size_t len);
/* Sends what is gathered on its way (a cut connection: it is kept). */
int files_writer_flush(struct files_writer *w);
/* Once everything put so far is written and fsync'ed, done(ud, 0 or
 * -errno) runs on the loop (maybe before this returns). */
void files_writer_finish(struct files_writer *w, void (*done)(void *ud, int err), void *ud);
/* The owner lets go: no callback runs after this. */
void files_writer_release(struct files_writer *w);

#endif
