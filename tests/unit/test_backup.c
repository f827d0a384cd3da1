/* Unit tests for src/mesh/backup: sealing and opening `ray pair backup`
 * codes, wrong passphrases, altered, cut and hostile codes. The Argon2id
 * cost is the lowest allowed, except where the default is under test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/backup.h"

#define OPS BACKUP_OPS_MIN
#define MEM BACKUP_MEM_LOG_MIN

static char code[BACKUP_CODE_MAX];

static void fill(struct backup *b, size_t nets)
{
	memset(b, 0, sizeof(*b));
	memset(b->identity, 0x11, 32);
	b->has_contact = true;
	memset(b->contact, 0x22, 32);
	b->n_nets = nets;
	for (size_t i = 0; i < nets; i++) {
		memset(b->nets[i].room, (int)(0x30 + i), 32);
		snprintf(b->nets[i].name, HOSTNAME_BUF, "net-%zu", i);
		snprintf(b->nets[i].hostname, HOSTNAME_BUF, "host-%zu", i);
		b->nets[i].has_key = i % 2 == 0;
		b->nets[i].direct = i % 3 == 1;
		if (b->nets[i].has_key)
			memset(b->nets[i].key, (int)(0x80 + i), 32);
	}
}

static void test_roundtrip(void **state)
{
	struct backup in, out;
	int n;

	(void)state;
	fill(&in, 3);
	n = backup_seal(&in, "correct horse", OPS, MEM, code, sizeof(code));
	assert_true(n > 4);
	assert_int_equal(strlen(code), (size_t)n);
	assert_memory_equal(code, "enc1", 4);
	for (int i = 4; i < n; i++) /* base64url only: copy-paste safe */
		assert_non_null(
			strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
			       code[i]));
	assert_int_equal(backup_open(code, "correct horse", &out), 0);
	assert_memory_equal(&out, &in, sizeof(in));

	/* no contact key, no networks */
	fill(&in, 0);
	in.has_contact = false;
	memset(in.contact, 0, 32);
	assert_true(backup_seal(&in, "p", OPS, MEM, code, sizeof(code)) > 0);
	assert_int_equal(backup_open(code, "p", &out), 0);
	assert_memory_equal(&out, &in, sizeof(in));

	/* every network a backup may hold, longest names */
	fill(&in, BACKUP_MAX_NETWORKS);
	for (size_t i = 0; i < in.n_nets; i++) {
		memset(in.nets[i].name, 'a', HOSTNAME_MAX);
		in.nets[i].name[HOSTNAME_MAX] = 0;
		memset(in.nets[i].hostname, 'b', HOSTNAME_MAX);
		in.nets[i].hostname[HOSTNAME_MAX] = 0;
		in.nets[i].has_key = true;
	}
	assert_true(backup_seal(&in, "p", OPS, MEM, code, sizeof(code)) > 0);
	assert_int_equal(backup_open(code, "p", &out), 0);
	assert_memory_equal(&out, &in, sizeof(in));
	backup_clear(&out);
}

/* Two seals of the same thing differ (salt and nonce are fresh). */
static void test_fresh_salt(void **state)
{
	static char other[BACKUP_CODE_MAX];
	struct backup in;

	(void)state;
	fill(&in, 1);
	assert_true(backup_seal(&in, "p", OPS, MEM, code, sizeof(code)) > 0);
	assert_true(backup_seal(&in, "p", OPS, MEM, other, sizeof(other)) > 0);
	assert_string_not_equal(code, other);
}

static void test_wrong_passphrase_and_alterations(void **state)
{
	struct backup in, out;
	size_t len;

	(void)state;
	fill(&in, 2);
	len = (size_t)backup_seal(&in, "right", OPS, MEM, code, sizeof(code));
	assert_int_equal(backup_open(code, "wrong", &out), -EKEYREJECTED);
	assert_true(sodium_is_zero((const unsigned char *)&out, sizeof(out)));
	assert_int_equal(backup_open(code, "", &out), -EKEYREJECTED);
	assert_int_equal(backup_open(code, "righ", &out), -EKEYREJECTED);
	/* Any character changed (past the cost bytes, which are checked
	 * first): the tag does not verify, or the header is refused. */
	for (size_t i = 4; i < len; i++) {
		char saved = code[i];
		int ret;

		code[i] = saved == 'A' ? 'B' : 'A';
		ret = backup_open(code, "right", &out);
		assert_true(ret == -EKEYREJECTED || ret == -EBADMSG || ret == -EINVAL);
		code[i] = saved;
	}
	assert_int_equal(backup_open(code, "right", &out), 0);
}

static void test_cut_and_not_a_code(void **state)
{
	struct backup in, out;
	size_t len;

	(void)state;
	fill(&in, 1);
	len = (size_t)backup_seal(&in, "p", OPS, MEM, code, sizeof(code));
	for (size_t cut = 5; cut < len; cut += 7) {
		char saved = code[cut];
		int ret;

		code[cut] = 0;
		ret = backup_open(code, "p", &out);
		assert_true(ret == -EBADMSG || ret == -EKEYREJECTED || ret == -EINVAL);
		code[cut] = saved;
	}
	assert_int_equal(backup_open("enc1", "p", &out), -EBADMSG);
	assert_int_equal(backup_open("", "p", &out), -EINVAL);
	assert_int_equal(backup_open("enc2AAAA", "p", &out), -EINVAL);
	assert_int_equal(backup_open("enc1 AAAA", "p", &out), -EINVAL);
	assert_int_equal(backup_open("enc1AA==", "p", &out), -EINVAL);
	assert_int_equal(backup_open(NULL, "p", &out), -EINVAL);
	assert_int_equal(backup_open(code, NULL, &out), -EINVAL);
}

/* A code asking for a cost out of range is refused before any work: a
 * hostile one cannot make the reader allocate gigabytes. */
static void test_hostile_cost(void **state)
{
	uint8_t raw[3 + 16 + 24 + 16];
	char text[200];
	struct backup out;

	(void)state;
	memset(raw, 0, sizeof(raw));
	raw[0] = 1;
	raw[1] = 1;
	raw[2] = 40; /* 1 TiB */
	strcpy(text, "enc1");
	sodium_bin2base64(text + 4, sizeof(text) - 4, raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	assert_int_equal(backup_open(text, "p", &out), -EBADMSG);
	raw[2] = MEM;
	raw[1] = 200; /* passes */
	sodium_bin2base64(text + 4, sizeof(text) - 4, raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	assert_int_equal(backup_open(text, "p", &out), -EBADMSG);
	raw[1] = 1;
	raw[0] = 2; /* a later version */
	sodium_bin2base64(text + 4, sizeof(text) - 4, raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	assert_int_equal(backup_open(text, "p", &out), -EBADMSG);
	raw[0] = 1; /* well formed, nothing sealed under "p" */
	sodium_bin2base64(text + 4, sizeof(text) - 4, raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	assert_int_equal(backup_open(text, "p", &out), -EKEYREJECTED);
}

static void test_seal_refuses(void **state)
{
	struct backup in;

	(void)state;
	fill(&in, 1);
	assert_int_equal(backup_seal(&in, "", OPS, MEM, code, sizeof(code)), -EINVAL);
	assert_int_equal(backup_seal(&in, "p", 0, MEM, code, sizeof(code)), -EINVAL);
	assert_int_equal(backup_seal(&in, "p", OPS, 29, code, sizeof(code)), -EINVAL);
	assert_int_equal(backup_seal(&in, "p", OPS, MEM, code, 20), -ENOSPC);
	strcpy(in.nets[0].name, "Not Valid");
	assert_int_equal(backup_seal(&in, "p", OPS, MEM, code, sizeof(code)), -EINVAL);
	fill(&in, 1);
	in.n_nets = BACKUP_MAX_NETWORKS + 1;
	assert_int_equal(backup_seal(&in, "p", OPS, MEM, code, sizeof(code)), -EINVAL);
}

/* A name with a NUL inside is refused, not cut short at it. */
static void test_plain_nul_in_name(void **state)
{
	uint8_t buf[2048];
	struct backup in, out;
	uint8_t *at;
	int n;

	(void)state;
	fill(&in, 1);
	n = backup_plain_encode(&in, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(backup_plain_decode(buf, (size_t)n, &out), 0);
	at = memmem(buf, (size_t)n, "host-0", 6);
	assert_non_null(at);
	at[4] = 0;
	assert_int_equal(backup_plain_decode(buf, (size_t)n, &out), -EBADMSG);
	assert_true(sodium_is_zero((const unsigned char *)&out, sizeof(out)));
	assert_int_equal(backup_plain_encode(&in, buf, 10), -ENOSPC);
}

/* The default cost is what `ray pair backup` uses: it must work. */
static void test_default_cost(void **state)
{
	struct backup in, out;

	(void)state;
	fill(&in, 1);
	assert_true(backup_seal(&in, "p", BACKUP_OPS_DEFAULT, BACKUP_MEM_LOG_DEFAULT, code,
				sizeof(code)) > 0);
	assert_int_equal(backup_open(code, "p", &out), 0);
	assert_memory_equal(&out, &in, sizeof(in));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_fresh_salt),
		cmocka_unit_test(test_wrong_passphrase_and_alterations),
		cmocka_unit_test(test_cut_and_not_a_code),
		cmocka_unit_test(test_hostile_cost),
		cmocka_unit_test(test_seal_refuses),
		cmocka_unit_test(test_plain_nul_in_name),
		cmocka_unit_test(test_default_cost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
