/*
 * buf: the one growable byte buffer, with a hard cap. Stream readers
 * (util/frame.c, the DNS server's TCP side) and whole-file reads
 * (util/fileio.c) gather bytes in it. It grows by doubling as bytes
 * arrive, never past its cap, so a peer that announces a large message
 * cannot make us allocate more than it has sent.
 *
 * The buffer owns data; buf_free releases it and leaves an empty buffer
 * with the same cap, ready for use again.
 */
#ifndef RAYFISH_UTIL_BUF_H
#define RAYFISH_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data; /* owned; NULL until the first byte */
	size_t len;    /* bytes held */
	size_t cap;    /* bytes allocated */
	size_t max;    /* cap never grows past this */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
/* Room for extra more bytes after len. 0, -EMSGSIZE (past max) or
 * -ENOMEM; on failure the buffer is as it was. */
int buf_reserve(struct buf *b, size_t extra);
/* Appends n bytes. 0, -EMSGSIZE or -ENOMEM (nothing appended). */
int buf_append(struct buf *b, const void *p, size_t n);
/* Drops the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Empties the buffer; frees it when it grew past keep bytes. */
void buf_reset(struct buf *b, size_t keep);

#endif
