/*
 * frame: 4-byte big-endian length + body framing over a byte stream, the
 * one framer of the project: the IPC socket (both ends) and the QUIC
 * control stream (transport/quic.c) read through it.
 *
 * A reader buffers partial input and hands out whole bodies; a header that
 * claims more than the reader's cap is an error for the whole channel, and
 * the claimed size is never allocated (the buffer grows with the bytes that
 * arrive, and a large one is released once its frame is handed out). A
 * zero-length frame is handed out like any other, as an empty body; what a
 * channel makes of it is the callback's business.
 */
#ifndef RAYFISH_UTIL_FRAME_H
#define RAYFISH_UTIL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define FRAME_HEADER 4

struct frame_reader {
	struct buf b; /* a partial frame; grows up to max + FRAME_HEADER */
	size_t max;   /* largest body accepted */
};

typedef int (*frame_cb)(void *ud, const uint8_t *body, size_t len);

void frame_reader_init(struct frame_reader *fr, size_t max);
void frame_reader_close(struct frame_reader *fr);

/*
 * Appends data and calls cb once per complete frame, in order. Returns 0,
 * -EMSGSIZE when a frame exceeds the cap, -ENOMEM, or the first negative
 * value cb returned (which stops the feed).
 */
int frame_reader_feed(struct frame_reader *fr, const void *data, size_t len, frame_cb cb, void *ud);

void frame_put_header(uint8_t out[FRAME_HEADER], uint32_t len);

#endif
