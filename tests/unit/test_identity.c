/*
 * test_identity: RFC 8032 test vector 1, sign/verify including tampering,
 * id parsing (only the canonical 64 lowercase hex digits), and the key
 * file: created 0600 when missing, reloaded identically, and a truncated,
 * oversized or unreadable file is an error that leaves the file untouched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mesh/identity.h"
#include "util/fileio.h"
#include "util/hex.h"

#define RFC_SEED "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
#define RFC_PK "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define RFC_SIG                                                    \
	"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065" \
	"224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24" \
	"655141438e7a100b"

static void test_rfc8032(void **state)
{
	uint8_t seed[32], sig[64], want[64];
	struct identity id;

	(void)state;
	assert_int_equal(hex_decode_str(RFC_SEED, seed, 32), 0);
	assert_int_equal(identity_from_seed(seed, &id), 0);
	assert_string_equal(id.id, RFC_PK);
	assert_int_equal(identity_sign(&id, "", 0, sig), 0);
	assert_int_equal(hex_decode_str(RFC_SIG, want, 64), 0);
	assert_memory_equal(sig, want, 64);
	assert_int_equal(identity_verify(id.pk, "", 0, sig), 0);
	identity_clear(&id);
	assert_int_equal(id.id[0], '\0');
}

static void test_sign_verify(void **state)
{
	struct identity a, b;
	uint8_t sig[64];
	const char msg[] = "roster v7";

	(void)state;
	assert_int_equal(identity_generate(&a), 0);
	assert_int_equal(identity_generate(&b), 0);
	assert_string_not_equal(a.id, b.id);
	assert_int_equal(identity_sign(&a, msg, sizeof(msg), sig), 0);
	assert_int_equal(identity_verify(a.pk, msg, sizeof(msg), sig), 0);
	assert_int_equal(identity_verify(b.pk, msg, sizeof(msg), sig), -EBADMSG);
	assert_int_equal(identity_verify(a.pk, msg, sizeof(msg) - 1, sig), -EBADMSG);
	sig[10] ^= 0x40;
	assert_int_equal(identity_verify(a.pk, msg, sizeof(msg), sig), -EBADMSG);
	identity_clear(&a);
	identity_clear(&b);
}

static void test_id_parse(void **state)
{
	uint8_t pk[32], want[32];
	char upper[65];

	(void)state;
	assert_int_equal(identity_id_parse(RFC_PK, pk), 0);
	assert_int_equal(hex_decode_str(RFC_PK, want, 32), 0);
	assert_memory_equal(pk, want, 32);
	assert_true(identity_id_valid(RFC_PK));
	strcpy(upper, RFC_PK);
	upper[0] = 'D';
	assert_int_equal(identity_id_parse(upper, pk), -EINVAL);
	assert_int_equal(identity_id_parse(RFC_PK "0", pk), -EINVAL);
	assert_int_equal(identity_id_parse("d75a98", pk), -EINVAL);
	assert_int_equal(identity_id_parse("", pk), -EINVAL);
	assert_int_equal(identity_id_parse(NULL, pk), -EINVAL);
	strcpy(upper, RFC_PK);
	upper[63] = 'g';
	assert_int_equal(identity_id_parse(upper, pk), -EINVAL);
	upper[63] = ' ';
	assert_false(identity_id_valid(upper));
}

static void run(const char *cmd)
{
	assert_int_equal(system(cmd), 0);
}

static void test_key_file(void **state)
{
	char dir[] = "/tmp/rayfish-test-id-XXXXXX";
	char home[128], key[160], cmd[256], *buf;
	struct identity a, b;
	struct stat st;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* Missing home and key: both created. */
	snprintf(home, sizeof(home), "%s/home/rayfish", dir);
	snprintf(key, sizeof(key), "%s/secret_key", home);
	assert_int_equal(identity_load_or_create(home, &a), 0);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
	assert_int_equal(stat(home, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* Reloading gives the same identity. */
	assert_int_equal(identity_load_or_create(home, &b), 0);
	assert_string_equal(a.id, b.id);
	assert_memory_equal(a.sk, b.sk, 64);
	/* A truncated key is an error and stays as it is. */
	assert_int_equal(fileio_write_atomic(key, a.seed, 31, 0600), 0);
	assert_int_equal(identity_load_or_create(home, &b), -EINVAL);
	assert_int_equal(fileio_read_all(key, 100, &buf, &len), 0);
	assert_int_equal(len, 31);
	free(buf);
	/* Too long (e.g. a hex or PEM key pasted in). */
	assert_int_equal(fileio_write_atomic(key, RFC_SEED, 64, 0600), 0);
	assert_int_equal(identity_load_or_create(home, &b), -EINVAL);
	/* Empty. */
	assert_int_equal(fileio_write_atomic(key, "", 0, 0600), 0);
	assert_int_equal(identity_load_or_create(home, &b), -EINVAL);
	/* A directory where the key should be. */
	unlink(key);
	assert_int_equal(mkdir(key, 0700), 0);
	assert_int_equal(identity_load_or_create(home, &b), -EINVAL);
	rmdir(key);
	/* Home that is a file. */
	snprintf(home, sizeof(home), "%s/afile", dir);
	assert_int_equal(fileio_write_atomic(home, "x", 1, 0600), 0);
	assert_true(identity_load_or_create(home, &b) < 0);
	assert_int_equal(identity_load_or_create("", &b), -EINVAL);
	identity_clear(&a);
	identity_clear(&b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	run(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8032),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_id_parse),
		cmocka_unit_test(test_key_file),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
