/*
 * mp_check: a bounded walk over msgpack bytes that proves them well formed
 * before msgpack-c unpacks them.
 *
 * msgpack-c allocates a container's claimed element count before reading the
 * elements, so five hostile bytes can ask for gigabytes. Every decoder that
 * faces the network or a file runs mp_check first: it accepts the input only
 * if it is exactly one object, nested at most max_depth deep, and every
 * container claims no more elements than bytes remain (each element needs at
 * least one byte), which bounds the unpacker's memory by the input's size.
 */
#ifndef RAYFISH_PROTO_MP_CHECK_H
#define RAYFISH_PROTO_MP_CHECK_H

#include <stddef.h>

/* Returns 0 when buf holds exactly one well-formed object, else -EINVAL. */
int mp_check(const void *buf, size_t len, int max_depth);

/* As mp_check, but allows trailing bytes; stores the object's size in *used. */
int mp_check_prefix(const void *buf, size_t len, int max_depth, size_t *used);

#endif
