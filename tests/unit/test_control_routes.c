/*
 * Unit tests for src/daemon/control.c: every control message type is routed
 * (CTL_DENIED to roster.c before join.c), and a message decoded there
 * reaches its feature through the table; malformed input changes nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <msgpack.h>
#include <string.h>

#include "daemon/control.h"
#include "daemon/join.h"
#include "daemon/roster.h"
#include "daemon_fixture.h"
#include "fake_net.h"
#include "mesh/group_blob.h"

static void test_every_type_routed(void **state)
{
	control_handler_fn h[CONTROL_MAX_HANDLERS];

	(void)state;
	for (int t = CTL_HELLO; t < CTL_TYPE_MAX; t++)
		assert_true(control_route((enum ctl_type)t, h) >= 1);
	assert_int_equal(control_route((enum ctl_type)0, h), 0);
	assert_int_equal(control_route(CTL_TYPE_MAX, h), 0);
	assert_int_equal(control_route(CTL_DENIED, h), 2);
	assert_ptr_equal(h[0], roster_on_message);
	assert_ptr_equal(h[1], join_on_message);
	assert_int_equal(control_route(CTL_WELCOME, h), 1);
	assert_ptr_equal(h[0], join_on_message);
}

static void send_msg(struct fixture *f, struct peer *p, const struct ctl_msg *m)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(ctl_encode(m, &sb), 0);
	control_on_message(&f->d, p, (const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/* LEAVE goes to network.c: a coordinator prunes the member, once. */
static void test_leave_dispatched(void **state)
{
	struct fixture *f = *state;
	struct network *n = fixture_network(f, "home");
	struct identity id;
	struct peer *p = fixture_peer(f, &id);
	struct ctl_msg m = { .type = CTL_LEAVE, .has_net = true };
	uint8_t junk[3] = { 0xc1, 0xff, 0x00 };

	fixture_admit(f, n, p, "member", false);
	assert_non_null(group_blob_find_member(&n->blob, id.id));

	/* malformed, and a LEAVE for a network we do not hold: nothing */
	control_on_message(&f->d, p, junk, sizeof(junk));
	control_on_message(&f->d, p, junk, 0);
	memset(m.net, 0x42, sizeof(m.net));
	send_msg(f, p, &m);
	assert_non_null(group_blob_find_member(&n->blob, id.id));

	memcpy(m.net, n->pk, sizeof(m.net));
	send_msg(f, p, &m);
	assert_null(group_blob_find_member(&n->blob, id.id));
	assert_int_equal(fixture_count_networks(f), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type_routed),
		cmocka_unit_test_setup_teardown(test_leave_dispatched, fake_net_setup,
						fake_net_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
