/*
 * base58: schoolbook big-number base conversion over a fixed-size scratch
 * buffer on the stack; sizes are capped up front so the scratch can never
 * overflow whatever the input.
 */
#include <errno.h>
#include <string.h>

#include "util/base58.h"

static const char b58_alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

static int b58_value(char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(b58_alphabet, c);
	return p == NULL ? -1 : (int)(p - b58_alphabet);
}

int base58_encode(const uint8_t *in, size_t len, char *out, size_t out_cap)
{
	uint8_t digits[BASE58_MAX_CHARS];
	size_t zeros = 0, ndig = 0, i, j, n;
	unsigned carry;

	if (len > BASE58_MAX_BYTES)
		return -EMSGSIZE;
	while (zeros < len && in[zeros] == 0)
		zeros++;
	/* digits[] holds the base-58 number little-endian. */
	for (i = zeros; i < len; i++) {
		carry = in[i];
		for (j = 0; j < ndig; j++) {
			carry += (unsigned)digits[j] << 8;
			digits[j] = carry % 58;
			carry /= 58;
		}
		while (carry > 0) {
			digits[ndig++] = carry % 58;
			carry /= 58;
		}
	}
	n = zeros + ndig;
	if (n + 1 > out_cap)
		return -ENOSPC;
	memset(out, '1', zeros);
	for (i = 0; i < ndig; i++)
		out[zeros + i] = b58_alphabet[digits[ndig - 1 - i]];
	out[n] = '\0';
	return (int)n;
}

int base58_decode(const char *s, uint8_t *out, size_t out_cap)
{
	uint8_t bytes[BASE58_MAX_CHARS];
	size_t slen, zeros = 0, nbytes = 0, i, j, n;
	unsigned carry;
	int v;

	if (s == NULL)
		return -EINVAL;
	slen = strnlen(s, BASE58_MAX_CHARS + 1);
	if (slen > BASE58_MAX_CHARS)
		return -EMSGSIZE;
	while (zeros < slen && s[zeros] == '1')
		zeros++;
	/* bytes[] holds the number little-endian in base 256; it has fewer
	 * digits than the text, so it always fits. */
	for (i = zeros; i < slen; i++) {
		v = b58_value(s[i]);
		if (v < 0)
			return -EINVAL;
		carry = (unsigned)v;
		for (j = 0; j < nbytes; j++) {
			carry += (unsigned)bytes[j] * 58;
			bytes[j] = carry & 0xff;
			carry >>= 8;
		}
		while (carry > 0) {
			bytes[nbytes++] = carry & 0xff;
			carry >>= 8;
		}
	}
	n = zeros + nbytes;
	if (n > out_cap)
		return -ENOSPC;
	memset(out, 0, zeros);
	for (i = 0; i < nbytes; i++)
		out[zeros + i] = bytes[nbytes - 1 - i];
	return (int)n;
}
