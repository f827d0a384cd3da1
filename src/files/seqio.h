/*
 * seqio: reading and writing a file that is walked forward in small pieces
 * (a 16 KiB group, a 64-byte tree node), as the tree encoder and decoder
 * walk it, with large system calls underneath: a system call per group
 * costs more than hashing it. A window reads ahead; a gather collects
 * writes in order and writes them together. Both own their buffer; a
 * buffer that cannot be had makes them fall back to plain calls.
 */
#ifndef RAYFISH_FILES_SEQIO_H
#define RAYFISH_FILES_SEQIO_H

#include <stddef.h>
#include <stdint.h>

#define SEQIO_DATA (1u << 20)  /* window and gather size for file data */
#define SEQIO_TREE (64u << 10) /* window size for tree nodes */

/* All of len at off, or -errno; -ESTALE when the file ends first. */
int seqio_read_at(int fd, uint64_t off, uint8_t *buf, size_t len);
int seqio_write_at(int fd, uint64_t off, const uint8_t *buf, size_t len);

struct seqio_window {
	uint8_t *buf; /* NULL until the first read */
	uint64_t off; /* file offset of buf[0] */
	size_t len, cap;
};

/* len bytes at off, through w (a window of cap bytes): 0 or -errno. */
int seqio_window_read(struct seqio_window *w, size_t cap, int fd, uint64_t off, uint8_t *buf,
		      size_t len);
void seqio_window_free(struct seqio_window *w);

struct seqio_gather {
	int fd;
	uint8_t *buf; /* SEQIO_DATA bytes, the caller's; NULL: write at once */
	uint64_t off; /* file offset of buf[0] */
	size_t len;
};

/* Queues len bytes for off (a write elsewhere than after the queued ones
 * flushes first): 0 or -errno. */
int seqio_gather_write(struct seqio_gather *g, uint64_t off, const uint8_t *p, size_t len);
/* Writes what is queued: 0 or -errno. */
int seqio_gather_flush(struct seqio_gather *g);

#endif
