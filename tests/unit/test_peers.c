/*
 * Unit tests for what src/daemon/peers.c does when connections come and go,
 * on the fixture's daemon with fake connections (fake_net.c): a member whose
 * connection ends because it left is pruned from the roster we coordinate
 * and forgotten once, even when that drops the last reason to keep it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "daemon_fixture.h"
#include "fake_net.h"
#include "transport/quic.h"

/* The leaver's CTL_LEAVE did not arrive, only its close with
 * QUIC_CODE_LEAVE: pruning it drops the only network it shares with us, so
 * the peer goes while its close is being handled. */
static void test_leave_close_prunes_last_want(void **state)
{
	struct fixture *f = *state;
	struct network *n = fixture_network(f, "home");
	struct identity id;
	struct peer *p = fixture_peer(f, &id);
	unsigned c;

	fixture_admit(f, n, p, "member", false);
	c = fake_accept(id.pk, false, 0, false);
	assert_true(c != 0);
	assert_non_null(p->conn);
	fake_close(c, QUIC_CLOSE_PEER, QUIC_CODE_LEAVE);
	assert_null(group_blob_find_member(&n->blob, id.id));
	assert_null(peers_find(&f->d, id.pk));
	assert_int_equal(fake_count(), 0);
}

/* A member of two networks we coordinate: pruned from both, then gone. */
static void test_leave_close_prunes_everywhere(void **state)
{
	struct fixture *f = *state;
	struct network *a = fixture_network(f, "home");
	struct network *b = fixture_network(f, "work");
	struct identity id;
	struct peer *p = fixture_peer(f, &id);
	unsigned c;

	fixture_admit(f, a, p, "member", false);
	fixture_admit(f, b, p, "member", false);
	c = fake_accept(id.pk, false, 0, false);
	assert_true(c != 0);
	fake_close(c, QUIC_CLOSE_PEER, QUIC_CODE_LEAVE);
	assert_null(group_blob_find_member(&a->blob, id.id));
	assert_null(group_blob_find_member(&b->blob, id.id));
	assert_null(peers_find(&f->d, id.pk));
}

/* A member of the first of two networks we coordinate leaves: pruning it
 * there frees the peer, and the look through the second network must not
 * read it (fuzz_daemon found the use after free). */
static void test_leave_close_frees_before_next_network(void **state)
{
	struct fixture *f = *state;
	struct network *a = fixture_network(f, "home");
	struct network *b = fixture_network(f, "work");
	struct identity id;
	struct peer *p = fixture_peer(f, &id);
	unsigned c;

	assert_ptr_equal(f->d.nets, a); /* looked at first */
	assert_ptr_equal(a->next, b);
	fixture_admit(f, a, p, "member", false);
	c = fake_accept(id.pk, false, 0, false);
	assert_true(c != 0);
	fake_close(c, QUIC_CLOSE_PEER, QUIC_CODE_LEAVE);
	assert_null(group_blob_find_member(&a->blob, id.id));
	assert_null(peers_find(&f->d, id.pk));
	assert_non_null(network_find(&f->d, "work"));
}

/* Any other close keeps the member and the peer (it is still wanted). */
static void test_plain_close_keeps_member(void **state)
{
	struct fixture *f = *state;
	struct network *n = fixture_network(f, "home");
	struct identity id;
	struct peer *p = fixture_peer(f, &id);
	unsigned c;

	fixture_admit(f, n, p, "member", false);
	c = fake_accept(id.pk, false, 0, false);
	fake_close(c, QUIC_CLOSE_IDLE, 0);
	assert_non_null(group_blob_find_member(&n->blob, id.id));
	assert_ptr_equal(peers_find(&f->d, id.pk), p);
	assert_null(p->conn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_leave_close_prunes_last_want, fake_net_setup,
						fake_net_teardown),
		cmocka_unit_test_setup_teardown(test_leave_close_frees_before_next_network,
						fake_net_setup, fake_net_teardown),
		cmocka_unit_test_setup_teardown(test_leave_close_prunes_everywhere, fake_net_setup,
						fake_net_teardown),
		cmocka_unit_test_setup_teardown(test_plain_close_keeps_member, fake_net_setup,
						fake_net_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
