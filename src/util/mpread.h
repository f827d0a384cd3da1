/*
 * mpread: the one bounded msgpack reader. Everything that decodes msgpack
 * from the network or a file reads through it, or proves its input with
 * mp_check before msgpack-c sees it.
 *
 * A reader is a cursor over a caller-owned buffer. It never allocates,
 * checks every length against the bytes actually left, and refuses a
 * container that claims more elements than bytes remain (each element needs
 * at least one byte), so five hostile bytes cannot ask for gigabytes. Each
 * read returns 0 and advances, or -EBADMSG (wrong type, truncated, over the
 * caller's cap) and leaves the cursor where it was. Integers: any unsigned
 * width (positive fixint, uint8..uint64), nothing signed.
 *
 * msgpack-c allocates a container's claimed count before reading it, hence
 * mp_check: exactly one object, nested at most max_depth containers deep
 * (an empty container does not count), with every count bounded as above.
 *
 * Ownership: spans returned by mp_read_bin and mp_read_str point into the
 * reader's buffer.
 */
#ifndef RAYFISH_UTIL_MPREAD_H
#define RAYFISH_UTIL_MPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The deepest nesting mp_skip and mp_check walk. */
#define MP_MAX_DEPTH 64

struct mp_reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
};

void mp_reader_init(struct mp_reader *r, const void *buf, size_t len);
/* Bytes not consumed yet. */
size_t mp_reader_left(const struct mp_reader *r);

int mp_read_array(struct mp_reader *r, size_t max, size_t *count);
int mp_read_map(struct mp_reader *r, size_t max, size_t *count);
int mp_read_uint(struct mp_reader *r, uint64_t *v);
int mp_read_bool(struct mp_reader *r, bool *v);
int mp_read_bin(struct mp_reader *r, size_t max, const uint8_t **data, size_t *len);
int mp_read_str(struct mp_reader *r, size_t max, const uint8_t **data, size_t *len);
/* Returns 1 and consumes a nil, 0 when the next item is something else,
 * -EBADMSG at the end of input. */
int mp_read_nil(struct mp_reader *r);
/* Steps over one object of any type, nested at most max_depth (1 ..
 * MP_MAX_DEPTH) deep; -EBADMSG leaves the cursor. */
int mp_skip(struct mp_reader *r, int max_depth);

/* 0 when buf holds exactly one well-formed object, else -EINVAL. */
int mp_check(const void *buf, size_t len, int max_depth);
/* As mp_check, but allows trailing bytes; stores the object's size in *used. */
int mp_check_prefix(const void *buf, size_t len, int max_depth, size_t *used);

#endif
