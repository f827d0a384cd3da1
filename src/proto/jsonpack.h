/*
 * jsonpack: converts between jansson JSON values and msgpack bytes.
 *
 * IPC requests and replies are built as JSON values on both ends (the CLI
 * prints them with --json, the daemon builds them from its state) and travel
 * as msgpack. Only the JSON subset crosses: nil, booleans, integers, doubles,
 * UTF-8 strings, arrays and maps with string keys. Anything else (bin, ext,
 * non-string keys, nesting beyond JSONPACK_MAX_DEPTH) is refused.
 */
#ifndef RAYFISH_PROTO_JSONPACK_H
#define RAYFISH_PROTO_JSONPACK_H

#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>

#define JSONPACK_MAX_DEPTH 32

/* Appends the msgpack form of v to sb. Returns 0 or -EINVAL. */
int jsonpack_encode(const json_t *v, msgpack_sbuffer *sb);

/* Decodes exactly one msgpack object; *out is a new reference on success. */
int jsonpack_decode(const void *buf, size_t len, json_t **out);

#endif
