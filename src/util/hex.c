/*
 * hex: the decoder validates every character
 * before it is used and never reads past slen.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "util/hex.h"

static const char hex_digits[] = "0123456789abcdef";

void hex_encode(const uint8_t *in, size_t len, char *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex_digits[in[i] >> 4];
		out[2 * i + 1] = hex_digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *s, size_t slen, uint8_t *out, size_t out_len)
{
	size_t i;
	int hi, lo;

	if (s == NULL || out_len > SIZE_MAX / 2 || slen != 2 * out_len)
		return -EINVAL;
	for (i = 0; i < out_len; i++) {
		hi = hex_value(s[2 * i]);
		lo = hex_value(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int hex_decode_str(const char *s, uint8_t *out, size_t out_len)
{
	if (s == NULL)
		return -EINVAL;
	/* strnlen bounds the scan of a hostile unterminated-looking input. */
	return hex_decode(s, strnlen(s, 2 * out_len + 1), out, out_len);
}
