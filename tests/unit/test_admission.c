/*
 * Unit tests for the order src/daemon/admission.c keeps with the invite
 * ledger: a single-use invite is burned on disk before anyone is admitted
 * with it, so a save that fails can never let it in twice, and a failed
 * admission gives it back on disk too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon/admission.h"
#include "daemon_fixture.h"
#include "mesh/invite.h"
#include "proto/control.h"

/* Mints one invite in n's ledger (and `pad` more, so the ledger is the
 * largest file written); returns its secret. */
static void mint(struct fixture *f, struct network *n, size_t pad,
		 uint8_t secret[INVITE_SECRET_LEN])
{
	struct invite_ledger led;
	uint8_t other[INVITE_SECRET_LEN];

	assert_int_equal(invite_ledger_load(&led, f->home, n->saved.room_id), 0);
	for (size_t i = 0; i < pad; i++)
		assert_int_equal(invite_mint(&led, NULL, 3600, daemon_unix_now(), other, NULL), 0);
	assert_int_equal(invite_mint(&led, NULL, 3600, daemon_unix_now(), secret, NULL), 0);
	assert_int_equal(invite_ledger_save(&led, f->home, n->saved.room_id), 0);
	invite_ledger_free(&led);
}

/* The status of the invite for secret as the ledger on disk has it. */
static enum invite_status on_disk(struct fixture *f, struct network *n,
				  const uint8_t secret[INVITE_SECRET_LEN])
{
	struct invite_ledger led;
	struct invite inv;
	int ret;

	assert_int_equal(invite_ledger_load(&led, f->home, n->saved.room_id), 0);
	/* A probe that is no joiner: used, or claimed by one, reads -EALREADY. */
	ret = invite_redeem(&led, secret, daemon_unix_now(),
			    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
			    &inv);
	invite_ledger_free(&led);
	if (ret == -EALREADY)
		return INVITE_USED;
	assert_int_equal(ret, 0);
	return INVITE_ACTIVE;
}

static void join_with(struct fixture *f, struct network *n, struct peer *p,
		      const uint8_t secret[INVITE_SECRET_LEN], const char *hostname)
{
	struct ctl_msg m = { .type = CTL_JOIN_REQ, .has_net = true, .has_invite = true };

	memcpy(m.net, n->pk, 32);
	memcpy(m.invite, secret, INVITE_SECRET_LEN);
	snprintf(m.hostname, sizeof(m.hostname), "%s", hostname);
	admission_on_join_req(&f->d, p, &m);
}

static bool member(struct network *n, const struct peer *p)
{
	return group_blob_find_member(&n->blob, p->id) != NULL;
}

/* Files above `bytes` cannot be written until the limit is lifted: a real
 * EFBIG from the kernel (also for root), like a full quota. */
static void limit_file_size(rlim_t bytes)
{
	struct rlimit rl;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = bytes;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

/* The ledger cannot be saved (it is the one file too large to write);
 * rosters and networks.json still can. The burn must be on disk before
 * the joiner is admitted: otherwise the joiner gets in while the ledger
 * still says active, and the same code admits a second identity. */
static void test_burn_saved_before_admission(void **state)
{
	struct fixture *f = *state;
	struct network *n = fixture_network(f, "club");
	struct peer *first = fixture_peer(f, NULL), *second = fixture_peer(f, NULL);
	uint8_t secret[INVITE_SECRET_LEN];
	void (*old)(int) = signal(SIGXFSZ, SIG_IGN);

	mint(f, n, 100, secret);
	limit_file_size(8192);
	join_with(f, n, first, secret, "first");
	limit_file_size(RLIM_INFINITY);
	signal(SIGXFSZ, old);
	assert_false(member(n, first));
	assert_int_equal(on_disk(f, n, secret), INVITE_ACTIVE);

	/* the holder retries once the ledger can be saved */
	join_with(f, n, first, secret, "first");
	assert_true(member(n, first));
	assert_int_equal(on_disk(f, n, secret), INVITE_USED);
	/* and the code is spent, for anyone */
	join_with(f, n, second, secret, "second");
	assert_false(member(n, second));
	assert_int_equal(on_disk(f, n, secret), INVITE_USED);
}

/* Burned, then the admission fails (the roster cannot be stored): the
 * invite is given back on disk, so its holder can retry. */
static void test_failed_admission_restores_invite(void **state)
{
	struct fixture *f = *state;
	struct network *n = fixture_network(f, "club");
	struct peer *p = fixture_peer(f, NULL);
	uint8_t secret[INVITE_SECRET_LEN];

	mint(f, n, 0, secret);
	fixture_block_dir(f, "blobs");
	join_with(f, n, p, secret, "joiner");
	fixture_unblock_dir(f, "blobs");
	assert_false(member(n, p));
	assert_int_equal(on_disk(f, n, secret), INVITE_ACTIVE);
	join_with(f, n, p, secret, "joiner");
	assert_true(member(n, p));
	assert_int_equal(on_disk(f, n, secret), INVITE_USED);
}

static struct ipc_request *request(const char *cmd, json_t *args)
{
	struct ipc_request *req = calloc(1, sizeof(*req));

	assert_non_null(req);
	req->cmd = cmd;
	req->msg = json_pack("{s:s, s:o}", "cmd", cmd, "args", args);
	req->args = json_object_get(req->msg, "args");
	return req;
}

/* `ray invite` on a ledger that does not load is refused (it used to go on
 * to read the invite it never minted) and leaves the ledger as it is. */
static void test_invite_with_unreadable_ledger(void **state)
{
	struct fixture *f = *state;
	struct network *n = fixture_network(f, "club");
	char path[256], rel[128];
	FILE *fp;

	snprintf(rel, sizeof(rel), "invites/%s.json", n->saved.room_id);
	fixture_path(f, "invites", path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	fixture_path(f, rel, path, sizeof(path));
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("[{\"id\": 5", fp);
	fclose(fp);
	admission_cmd_invite(&f->d, request("invite", json_pack("{s:s}", "network", "club")));
	fp = fopen(path, "r");
	assert_non_null(fp);
	{
		char buf[64] = "";

		assert_non_null(fgets(buf, sizeof(buf), fp));
		assert_string_equal(buf, "[{\"id\": 5");
	}
	fclose(fp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_burn_saved_before_admission, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_failed_admission_restores_invite,
						fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_invite_with_unreadable_ledger, fixture_setup,
						fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
