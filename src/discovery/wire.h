/*
 * wire: a bounded msgpack writer over a caller-owned buffer, for the
 * discovery records (reading them goes through util/mpread.h). It fills a
 * fixed buffer and remembers the first overflow so callers check once at
 * the end. Integers are written in their shortest form.
 *
 * Ownership: the writer does not own its buffer.
 */
#ifndef RAYFISH_DISCOVERY_WIRE_H
#define RAYFISH_DISCOVERY_WIRE_H

#include <stddef.h>
#include <stdint.h>

struct wire_writer {
	uint8_t *buf;
	size_t cap;
	size_t pos;
	int err; /* 0, or -EMSGSIZE once a write did not fit */
};

void wire_writer_init(struct wire_writer *w, uint8_t *buf, size_t cap);
void wire_write_array(struct wire_writer *w, size_t count);
void wire_write_uint(struct wire_writer *w, uint64_t v);
void wire_write_bin(struct wire_writer *w, const uint8_t *data, size_t len);
void wire_write_nil(struct wire_writer *w);
/* Bytes written, or the first error. */
int wire_writer_finish(const struct wire_writer *w);

#endif
