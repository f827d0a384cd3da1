/* Unit tests for src/mesh/invite: codes, ledger life cycle, durations. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mesh/invite.h"

static char home[64];
static const char room[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char joiner[] = "1111111111111111111111111111111111111111111111111111111111111111";
static const char other_joiner[] =
	"2222222222222222222222222222222222222222222222222222222222222222";

static int setup(void **state)
{
	(void)state;
	snprintf(home, sizeof(home), "/tmp/rf-test-invite-XXXXXX");
	return mkdtemp(home) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	return system(cmd);
}

static void test_code_roundtrip(void **state)
{
	struct invite_code c, d;
	char s[INVITE_CODE_MAX + 1];

	(void)state;
	memset(c.net, 1, 32);
	memset(c.coordinator, 2, 32);
	memset(c.secret, 3, 16);
	assert_true(invite_code_encode(&c, s, sizeof(s)) > 100);
	assert_int_equal(invite_code_decode(s, &d), 0);
	assert_memory_equal(&c, &d, sizeof(c));
}

static void test_code_hostile(void **state)
{
	struct invite_code c, d;
	char s[INVITE_CODE_MAX + 1], t[INVITE_CODE_MAX + 1];
	static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

	(void)state;
	memset(&c, 9, sizeof(c));
	invite_code_encode(&c, s, sizeof(s));
	/* every single-character substitution is caught */
	for (size_t i = 0; i < strlen(s); i++) {
		strcpy(t, s);
		t[i] = t[i] == alphabet[0] ? alphabet[1] : alphabet[0];
		assert_int_not_equal(invite_code_decode(t, &d), 0);
	}
	/* truncation */
	for (size_t n = 0; n < strlen(s); n++) {
		strcpy(t, s);
		t[n] = 0;
		assert_int_not_equal(invite_code_decode(t, &d), 0);
	}
	assert_int_equal(invite_code_decode("0OIl", &d), -EINVAL);
	assert_int_equal(invite_code_decode("", &d), -EINVAL);
	memset(t, 'z', sizeof(t) - 1);
	t[sizeof(t) - 1] = 0;
	assert_int_equal(invite_code_decode(t, &d), -EINVAL);
}

static void test_ledger_lifecycle(void **state)
{
	struct invite_ledger l, m;
	uint8_t secret[16], other[16];
	struct invite inv, got;
	char path[256];
	struct stat st;

	(void)state;
	invite_ledger_init(&l);
	assert_int_equal(invite_mint(&l, "srv", 3600, 1000, secret, &inv), 0);
	assert_int_equal(strlen(inv.id), 8);
	assert_int_equal(inv.expires, 4600);
	assert_int_equal(invite_ledger_save(&l, home, room), 0);
	snprintf(path, sizeof(path), "%s/invites/%s.json", home, room);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* the secret itself is never stored */
	{
		FILE *f = fopen(path, "r");
		char buf[4096] = "", hex[33];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		fclose(f);
		buf[n] = 0;
		for (int i = 0; i < 16; i++)
			sprintf(hex + 2 * i, "%02x", secret[i]);
		assert_null(strstr(buf, hex));
	}
	assert_int_equal(invite_ledger_load(&m, home, room), 0);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.v[0].hostname, "srv");
	memset(other, 0x55, sizeof(other));
	assert_int_equal(invite_redeem(&m, other, 2000, joiner, &got), -ENOENT);
	assert_int_equal(invite_redeem(&m, secret, 5000, joiner, &got), -EKEYEXPIRED);
	assert_int_equal(invite_redeem(&m, secret, 2000, joiner, &got), 0);
	assert_int_equal(invite_settle(&m, got.hash, joiner), 0);
	assert_int_equal(invite_redeem(&m, secret, 2000, joiner, &got), -EALREADY);
	assert_int_equal(invite_restore(&m, got.hash), 0);
	assert_int_equal(invite_redeem(&m, secret, 2000, joiner, &got), 0);
	assert_int_equal(invite_restore(&m, got.hash), 0);
	assert_int_equal(invite_revoke(&m, inv.id, NULL), 0);
	assert_int_equal(invite_redeem(&m, secret, 2000, joiner, &got), -EKEYREVOKED);
	assert_int_equal(invite_revoke(&m, "zz", NULL), -ENOENT);
	invite_ledger_free(&m);
	invite_ledger_free(&l);
}

/* A coordinator dies between claiming an invite and storing the roster:
 * the ledger it comes back with lets that joiner in, and nobody else. */
static void test_ledger_claims(void **state)
{
	struct invite_ledger l, m;
	uint8_t secret[16];
	struct invite inv, got;

	(void)state;
	invite_ledger_init(&l);
	assert_int_equal(invite_mint(&l, NULL, 3600, 1000, secret, &inv), 0);
	assert_int_equal(invite_redeem(&l, secret, 2000, "short", &got), -EINVAL);
	assert_int_equal(invite_redeem(&l, secret, 2000, joiner, &got), 0);
	assert_int_equal(got.status, INVITE_CLAIMED);
	assert_string_equal(got.claimant, joiner);
	assert_int_equal(invite_ledger_save(&l, home, room), 0);
	invite_ledger_free(&l);

	/* the restart: the claim survived, for its joiner only */
	assert_int_equal(invite_ledger_load(&m, home, room), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.v[0].status, INVITE_CLAIMED);
	assert_string_equal(m.v[0].claimant, joiner);
	assert_int_equal(invite_redeem(&m, secret, 2000, other_joiner, &got), -EALREADY);
	/* expiry does not take a claim away from its joiner */
	assert_int_equal(invite_redeem(&m, secret, 9000, joiner, &got), 0);
	assert_int_equal(invite_settle(&m, got.hash, other_joiner), -ENOENT);
	assert_int_equal(invite_settle(&m, got.hash, joiner), 0);
	assert_int_equal(m.v[0].status, INVITE_USED);
	assert_int_equal(m.v[0].claimant[0], 0);
	assert_int_equal(invite_settle(&m, got.hash, joiner), -ENOENT);
	assert_int_equal(invite_redeem(&m, secret, 2000, joiner, &got), -EALREADY);
	assert_int_equal(invite_ledger_save(&m, home, room), 0);
	invite_ledger_free(&m);
	assert_int_equal(invite_ledger_load(&m, home, room), 0);
	assert_int_equal(m.v[0].status, INVITE_USED);

	/* a failed admission gives the claim back; another coordinator's use
	 * burns it */
	assert_int_equal(invite_restore(&m, got.hash), 0);
	assert_int_equal(invite_redeem(&m, secret, 2000, other_joiner, &got), 0);
	assert_int_equal(invite_restore(&m, got.hash), 0);
	assert_int_equal(m.v[0].status, INVITE_ACTIVE);
	assert_int_equal(invite_redeem(&m, secret, 2000, joiner, &got), 0);
	assert_int_equal(invite_burn_hash(&m, got.hash), 0);
	assert_int_equal(invite_redeem(&m, secret, 2000, joiner, &got), -EALREADY);
	invite_ledger_free(&m);
}

static void test_ledger_corrupt(void **state)
{
	static const char *bad[] = {
		"{",
		"{}",
		"[5]",
		"[{\"id\": \"abc\"}]",
		"[{\"id\":\"01234567\",\"secret_hash\":\"zz\",\"created\":1,\"expires\":2,\"status\":\"active\"}]",
		"[{\"id\":\"01234567\",\"secret_hash\":\"00\",\"created\":1,\"expires\":2,\"status\":\"bogus\"}]",
		/* a claim names its joiner */
		"[{\"id\":\"01234567\",\"secret_hash\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"created\":1,\"expires\":2,\"status\":\"claimed\"}]",
		"[{\"id\":\"01234567\",\"secret_hash\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"created\":1,\"expires\":2,\"status\":\"claimed\",\"claimant\":\"xyz\"}]",
	};
	struct invite_ledger l;
	char path[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/invites/%s.json", home, room);
		mkdir(home, 0700);
		snprintf(path, sizeof(path), "%s/invites", home);
		mkdir(path, 0700);
		snprintf(path, sizeof(path), "%s/invites/%s.json", home, room);
		f = fopen(path, "w");
		fputs(bad[i], f);
		fclose(f);
		assert_int_equal(invite_ledger_load(&l, home, room), -EINVAL);
		assert_int_equal(l.n, 0);
	}
	assert_int_equal(invite_ledger_load(&l, home, "../../etc"), -EINVAL);
}

static void test_durations(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(invite_parse_duration("7d", &v), 0);
	assert_int_equal(v, 7 * 86400);
	assert_int_equal(invite_parse_duration("12h", &v), 0);
	assert_int_equal(v, 12 * 3600);
	assert_int_equal(invite_parse_duration("90", &v), 0);
	assert_int_equal(v, 90);
	assert_int_equal(invite_parse_duration("", &v), -EINVAL);
	assert_int_equal(invite_parse_duration("d", &v), -EINVAL);
	assert_int_equal(invite_parse_duration("-5d", &v), -EINVAL);
	assert_int_equal(invite_parse_duration("0", &v), -EINVAL);
	assert_int_equal(invite_parse_duration("99999999999d", &v), -EINVAL);
	assert_int_equal(invite_parse_duration("5w", &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_roundtrip),   cmocka_unit_test(test_code_hostile),
		cmocka_unit_test(test_ledger_lifecycle), cmocka_unit_test(test_ledger_claims),
		cmocka_unit_test(test_ledger_corrupt),   cmocka_unit_test(test_durations),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
