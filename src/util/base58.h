/*
 * base58: Bitcoin-alphabet base58 for invite codes, reusable keys and
 * pairing tickets, which people copy by hand (no 0/O/I/l, no punctuation).
 *
 * Leading zero bytes become leading '1's and back, as in Bitcoin. The
 * conversion is quadratic, so both directions refuse inputs larger than
 * BASE58_MAX_BYTES (binary) / BASE58_MAX_CHARS (text) with -EMSGSIZE before
 * doing any work. Decode rejects any character outside the alphabet
 * (including whitespace) with -EINVAL and a result larger than the caller's
 * buffer with -ENOSPC. No allocation; the caller owns every buffer.
 */
#ifndef RAYFISH_UTIL_BASE58_H
#define RAYFISH_UTIL_BASE58_H

#include <stddef.h>
#include <stdint.h>

#define BASE58_MAX_BYTES 256
/* ceil(256 * log(256) / log(58)) = 350 */
#define BASE58_MAX_CHARS 350
/* Buffer size that always suffices for encoding len bytes (with NUL). */
#define BASE58_ENCODED_CAP(len) ((len)*138 / 100 + 2)

/* Writes a NUL-terminated string into out (out_cap bytes including NUL).
 * Returns the string length, -EMSGSIZE or -ENOSPC. */
int base58_encode(const uint8_t *in, size_t len, char *out, size_t out_cap);
/* Decodes the NUL-terminated s into out. Returns the byte count, -EINVAL,
 * -EMSGSIZE or -ENOSPC. */
int base58_decode(const char *s, uint8_t *out, size_t out_cap);

#endif
