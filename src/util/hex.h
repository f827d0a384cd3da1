/*
 * hex: lowercase hexadecimal text for keys, identities and hashes.
 *
 * Encoding always yields lowercase so that an identity has exactly one
 * spelling. Decoding is strict because its input comes from users, files and
 * peers: the text must be exactly twice the expected byte count, made only of
 * hex digits (either case); anything else is -EINVAL and the output is left
 * unspecified. No allocation; the caller owns every buffer.
 */
#ifndef RAYFISH_UTIL_HEX_H
#define RAYFISH_UTIL_HEX_H

#include <stddef.h>
#include <stdint.h>

/* out must hold 2 * len + 1 bytes; it is NUL-terminated. */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes exactly out_len bytes from the first slen chars of s (which need
 * not be NUL-terminated). Returns 0 or -EINVAL. */
int hex_decode(const char *s, size_t slen, uint8_t *out, size_t out_len);
/* Same, for a NUL-terminated string. */
int hex_decode_str(const char *s, uint8_t *out, size_t out_len);

#endif
