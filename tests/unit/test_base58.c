/*
 * test_base58: the two text codecs of src/util. base58: known
 * Bitcoin-alphabet encodings, leading zeros, round trips of random data, and
 * hostile text (bad characters, oversized input, too small buffers). hex:
 * lowercase encoding and the strict decoder (odd length, wrong length,
 * non-hex characters).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "util/base58.h"
#include "util/hex.h"

static void test_known(void **state)
{
	char out[64];
	uint8_t bin[64];

	(void)state;
	assert_int_equal(base58_encode((const uint8_t *)"", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(base58_encode((const uint8_t *)"hello world", 11, out, sizeof(out)), 15);
	assert_string_equal(out, "StV1DL6CwTryKyV");
	assert_int_equal(base58_encode((const uint8_t *)"\0\0\x01", 3, out, sizeof(out)), 3);
	assert_string_equal(out, "112");
	assert_int_equal(base58_encode((const uint8_t *)"\xff", 1, out, sizeof(out)), 2);
	assert_string_equal(out, "5Q");
	assert_int_equal(base58_decode("StV1DL6CwTryKyV", bin, sizeof(bin)), 11);
	assert_memory_equal(bin, "hello world", 11);
	assert_int_equal(base58_decode("1111", bin, sizeof(bin)), 4);
	assert_memory_equal(bin, "\0\0\0\0", 4);
	assert_int_equal(base58_decode("", bin, sizeof(bin)), 0);
}

static void test_roundtrip_random(void **state)
{
	uint8_t in[BASE58_MAX_BYTES], back[BASE58_MAX_BYTES];
	char text[BASE58_ENCODED_CAP(BASE58_MAX_BYTES)];
	size_t len;
	int i, n;

	(void)state;
	for (i = 0; i < 500; i++) {
		len = randombytes_uniform(BASE58_MAX_BYTES + 1);
		randombytes_buf(in, len);
		if (len > 2 && i % 3 == 0)
			in[0] = in[1] = 0;
		n = base58_encode(in, len, text, sizeof(text));
		assert_true(n >= 0);
		assert_true((size_t)n < sizeof(text));
		assert_int_equal(base58_decode(text, back, sizeof(back)), (int)len);
		assert_memory_equal(in, back, len);
	}
}

static void test_hostile(void **state)
{
	uint8_t bin[400], big[BASE58_MAX_BYTES + 1];
	char text[BASE58_MAX_CHARS + 10], small[4];

	(void)state;
	/* 0, O, I, l and anything outside the alphabet. */
	assert_int_equal(base58_decode("abc0", bin, sizeof(bin)), -EINVAL);
	assert_int_equal(base58_decode("Oabc", bin, sizeof(bin)), -EINVAL);
	assert_int_equal(base58_decode("abIc", bin, sizeof(bin)), -EINVAL);
	assert_int_equal(base58_decode("abl", bin, sizeof(bin)), -EINVAL);
	assert_int_equal(base58_decode("ab c", bin, sizeof(bin)), -EINVAL);
	assert_int_equal(base58_decode("ab\n", bin, sizeof(bin)), -EINVAL);
	assert_int_equal(base58_decode("\xc3\xa9", bin, sizeof(bin)), -EINVAL);
	assert_int_equal(base58_decode(NULL, bin, sizeof(bin)), -EINVAL);
	/* Output larger than the buffer. */
	assert_int_equal(base58_decode("StV1DL6CwTryKyV", bin, 10), -ENOSPC);
	assert_int_equal(base58_decode("11111", bin, 4), -ENOSPC);
	/* Text too long to be decoded at all. */
	memset(text, 'z', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(base58_decode(text, bin, sizeof(bin)), -EMSGSIZE);
	/* The longest allowed text decodes without overflowing scratch. */
	text[BASE58_MAX_CHARS] = '\0';
	assert_true(base58_decode(text, bin, sizeof(bin)) > 0);
	/* Encode: oversized input and too small output. */
	memset(big, 0xff, sizeof(big));
	assert_int_equal(base58_encode(big, sizeof(big), text, sizeof(text)), -EMSGSIZE);
	assert_int_equal(base58_encode((const uint8_t *)"hello", 5, small, sizeof(small)), -ENOSPC);
	assert_int_equal(base58_encode(big, BASE58_MAX_BYTES, text,
				       BASE58_ENCODED_CAP(BASE58_MAX_BYTES)),
			 350);
}

static void test_hex(void **state)
{
	const uint8_t bin[4] = { 0x00, 0xab, 0x7f, 0xff };
	uint8_t out[4];
	char text[9];

	(void)state;
	hex_encode(bin, 4, text);
	assert_string_equal(text, "00ab7fff");
	assert_int_equal(hex_decode_str("00ab7fff", out, 4), 0);
	assert_memory_equal(out, bin, 4);
	assert_int_equal(hex_decode_str("00AB7FFF", out, 4), 0);
	assert_memory_equal(out, bin, 4);
	hex_encode(bin, 0, text);
	assert_string_equal(text, "");
	assert_int_equal(hex_decode_str("", out, 0), 0);
	/* Wrong lengths, odd length, bad characters. */
	assert_int_equal(hex_decode_str("00ab7f", out, 4), -EINVAL);
	assert_int_equal(hex_decode_str("00ab7fff00", out, 4), -EINVAL);
	assert_int_equal(hex_decode_str("00ab7ff", out, 4), -EINVAL);
	assert_int_equal(hex_decode("00ab7ff", 7, out, 3), -EINVAL);
	assert_int_equal(hex_decode_str("00ab7fgf", out, 4), -EINVAL);
	assert_int_equal(hex_decode_str("00ab 7ff", out, 4), -EINVAL);
	assert_int_equal(hex_decode_str("0x00ab7f", out, 4), -EINVAL);
	assert_int_equal(hex_decode_str("00ab7f\xff", out, 4), -EINVAL);
	assert_int_equal(hex_decode_str(NULL, out, 4), -EINVAL);
	/* Length-bounded decoding never reads past slen. */
	assert_int_equal(hex_decode("00ab7fffJUNK", 8, out, 4), 0);
	assert_memory_equal(out, bin, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known),
		cmocka_unit_test(test_roundtrip_random),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_hex),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
