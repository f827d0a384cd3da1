/*
 * test_blake3: the official BLAKE3 test vectors (input bytes i % 251) and a
 * differential test against Debian's b3sum on random inputs of many
 * lengths, fed both in one piece and in random increments.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "util/blake3.h"
#include "util/hex.h"

struct vector {
	size_t len;
	const char *hash;
};

/* First 32 bytes of the "hash" field of BLAKE3's test_vectors.json. */
static const struct vector vectors[] = {
	{ 0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262" },
	{ 1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213" },
	{ 1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11" },
	{ 1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7" },
	{ 1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444" },
	{ 2048, "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a" },
	{ 2049, "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030" },
	{ 3072, "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2" },
	{ 3073, "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3" },
	{ 4096, "015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e969" },
	{ 4097, "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995" },
	{ 5120, "9cadc15fed8b5d854562b26a9536d9707cadeda9b143978f319ab34230535833" },
	{ 5121, "628bd2cb2004694adaab7bbd778a25df25c47b9d4155a55f8fbd79f2fe154cff" },
	{ 6144, "3e2e5b74e048f3add6d21faab3f83aa44d3b2278afb83b80b3c35164ebeca205" },
	{ 6145, "f1323a8631446cc50536a9f705ee5cb619424d46887f3c376c695b70e0f0507f" },
	{ 7168, "61da957ec2499a95d6b8023e2b0e604ec7f6b50e80a9678b89d2628e99ada77a" },
	{ 7169, "a003fc7a51754a9b3c7fae0367ab3d782dccf28855a03d435f8cfe74605e7817" },
	{ 8192, "aae792484c8efe4f19e2ca7d371d8c467ffb10748d8a5a1ae579948f718a2a63" },
	{ 8193, "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b" },
	{ 16384, "f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde4" },
	{ 31744, "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47" },
	{ 102400, "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085" },
};

static uint8_t *pattern(size_t len)
{
	uint8_t *b = malloc(len + 1);
	size_t i;

	assert_non_null(b);
	for (i = 0; i < len; i++)
		b[i] = (uint8_t)(i % 251);
	return b;
}

static void hex_of(const uint8_t d[32], char out[65])
{
	hex_encode(d, 32, out);
}

/* Feeds data in random-sized pieces (0..300 bytes) to exercise buffering. */
static void hash_pieces(const uint8_t *data, size_t len, uint8_t out[32])
{
	struct blake3_hasher h;
	size_t off = 0, n;

	blake3_init(&h);
	while (off < len) {
		n = randombytes_uniform(301);
		if (n > len - off)
			n = len - off;
		blake3_update(&h, data + off, n);
		off += n;
	}
	blake3_final(&h, out);
}

static void test_official_vectors(void **state)
{
	uint8_t d[32];
	char hex[65];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		uint8_t *in = pattern(vectors[i].len);

		blake3_hash(in, vectors[i].len, d);
		hex_of(d, hex);
		assert_string_equal(hex, vectors[i].hash);
		hash_pieces(in, vectors[i].len, d);
		hex_of(d, hex);
		assert_string_equal(hex, vectors[i].hash);
		free(in);
	}
}

static void test_xof_prefix_and_final_repeatable(void **state)
{
	struct blake3_hasher h;
	uint8_t a[32], b[32], longer[200];
	uint8_t *in = pattern(5000);

	(void)state;
	blake3_init(&h);
	blake3_update(&h, in, 2000);
	blake3_final(&h, a);
	blake3_final(&h, b);
	assert_memory_equal(a, b, 32);
	blake3_final_xof(&h, longer, sizeof(longer));
	assert_memory_equal(a, longer, 32);
	/* More input after final continues the same stream. */
	blake3_update(&h, in + 2000, 3000);
	blake3_final(&h, a);
	blake3_hash(in, 5000, b);
	assert_memory_equal(a, b, 32);
	/* A one-bit change must change the digest. */
	in[4999] ^= 1;
	blake3_hash(in, 5000, a);
	assert_memory_not_equal(a, b, 32);
	free(in);
}

/* Runs b3sum on path and returns its 64-hex-digit output. */
static void b3sum_file(const char *path, char out[65])
{
	char cmd[512], line[128];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "b3sum --no-names '%s'", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(line, sizeof(line), p));
	assert_int_equal(pclose(p), 0);
	line[strcspn(line, "\n")] = '\0';
	assert_int_equal(strlen(line), 64);
	memcpy(out, line, 65);
}

static void test_against_b3sum(void **state)
{
	/* Boundaries of blocks, chunks and tree levels, then random sizes. */
	size_t lens[64] = { 0,     1,     63,      64,      65,     127,   128,   1023,
			    1024,  1025,  2047,    2048,    2049,   3072,  4095,  4096,
			    4097,  8191,  8192,    8193,    16383,  16384, 16385, 65535,
			    65536, 65537, 1048575, 1048576, 1048577 };
	size_t n_fixed = 29, i;
	char path[] = "/tmp/rayfish-test-b3-XXXXXX";
	char want[65], got[65];
	uint8_t d[32];
	int fd;

	(void)state;
	if (system("command -v b3sum >/dev/null 2>&1") != 0) {
		fail_msg("b3sum is not installed (apt install b3sum)");
		return;
	}
	for (i = n_fixed; i < sizeof(lens) / sizeof(lens[0]); i++)
		lens[i] = randombytes_uniform(300000);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t *in = malloc(lens[i] + 1);

		assert_non_null(in);
		randombytes_buf(in, lens[i]);
		assert_int_equal(ftruncate(fd, 0), 0);
		assert_int_equal(pwrite(fd, in, lens[i], 0), (ssize_t)lens[i]);
		b3sum_file(path, want);
		blake3_hash(in, lens[i], d);
		hex_of(d, got);
		if (strcmp(want, got) != 0)
			fail_msg("length %zu: b3sum %s, ours %s", lens[i], want, got);
		hash_pieces(in, lens[i], d);
		hex_of(d, got);
		assert_string_equal(want, got);
		free(in);
	}
	close(fd);
	unlink(path);
}

/* blake3_checksum is the hash of domain || data, cut. */
static void test_checksum(void **state)
{
	uint8_t want[32], got[40];
	char joined[64];

	(void)state;
	snprintf(joined, sizeof(joined), "%s%s", "rayfish-x-v1", "payload");
	blake3_hash(joined, strlen(joined), want);
	memset(got, 0xee, sizeof(got));
	blake3_checksum("rayfish-x-v1", "payload", 7, got, 4);
	assert_memory_equal(got, want, 4);
	assert_int_equal(got[4], 0xee);
	blake3_checksum("rayfish-x-v1", "payload", 7, got, 40); /* capped at 32 */
	assert_memory_equal(got, want, 32);
	assert_int_equal(got[32], 0xee);
	blake3_checksum("rayfish-y-v1", "payload", 7, got, 4);
	assert_memory_not_equal(got, want, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checksum),
		cmocka_unit_test(test_official_vectors),
		cmocka_unit_test(test_xof_prefix_and_final_repeatable),
		cmocka_unit_test(test_against_b3sum),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
