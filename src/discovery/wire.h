/*
 * wire: a bounded msgpack reader and writer over caller-owned buffers.
 *
 * DHT values arrive from strangers, so the discovery codecs never hand them to
 * a general msgpack unpacker (msgpack-c allocates a claimed array size before
 * reading a single element). This cursor understands only the handful of
 * types the records use (array, unsigned integer, bin, nil), never allocates,
 * and checks every length against the bytes actually left. The writer fills a
 * fixed buffer and remembers the first overflow so callers check once at the
 * end. Integers are written in their shortest form; the reader accepts any
 * unsigned width (positive fixint, uint8..uint64) and nothing signed.
 *
 * Ownership: neither struct owns its buffer; bins returned by wire_read_bin
 * point into the reader's buffer.
 */
#ifndef RAYFISH_DISCOVERY_WIRE_H
#define RAYFISH_DISCOVERY_WIRE_H

#include <stddef.h>
#include <stdint.h>

struct wire_reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
};

struct wire_writer {
	uint8_t *buf;
	size_t cap;
	size_t pos;
	int err; /* 0, or -EMSGSIZE once a write did not fit */
};

void wire_reader_init(struct wire_reader *r, const uint8_t *buf, size_t len);
/* Bytes not consumed yet. */
size_t wire_reader_left(const struct wire_reader *r);
/* Each reader returns 0 and advances, or -EBADMSG (wrong type, truncated,
 * over the cap) and leaves the cursor where it was. */
int wire_read_array(struct wire_reader *r, size_t max, size_t *count);
int wire_read_uint(struct wire_reader *r, uint64_t *v);
int wire_read_bin(struct wire_reader *r, size_t max, const uint8_t **data, size_t *len);
/* Returns 1 and consumes a nil, 0 when the next item is something else,
 * -EBADMSG at the end of input. */
int wire_read_nil(struct wire_reader *r);

void wire_writer_init(struct wire_writer *w, uint8_t *buf, size_t cap);
void wire_write_array(struct wire_writer *w, size_t count);
void wire_write_uint(struct wire_writer *w, uint64_t v);
void wire_write_bin(struct wire_writer *w, const uint8_t *data, size_t len);
void wire_write_nil(struct wire_writer *w);
/* Bytes written, or the first error. */
int wire_writer_finish(const struct wire_writer *w);

#endif
