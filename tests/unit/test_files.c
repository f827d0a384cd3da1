/*
 * Unit tests of file sharing's daemon side (daemon/files.c) on the fixture
 * with fake connections: what a member's offers become, and what hostile
 * ones do not (names that climb out of the folder, ids that are not ids,
 * strangers, floods); deny and cancel reach the other side; `send`
 * refuses what it cannot offer. The transfer itself runs in the lab
 * (tests/lab/scenarios/files.sh).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/files.h"
#include "daemon_fixture.h"
#include "fake_net.h"
#include "ipc_capture.h"
#include "proto/control.h"

static enum ctl_type last_sent;
static char last_sent_iid[33];

static void on_sent(struct fake_conn *c, const struct ctl_msg *m, const uint8_t *buf, size_t len)
{
	(void)c;
	(void)buf;
	(void)len;
	last_sent = m->type;
	snprintf(last_sent_iid, sizeof(last_sent_iid), "%s", m->iid);
}

static int files_setup(void **state)
{
	struct fixture *f;

	if (fixture_setup(state) < 0)
		return -1;
	f = *state;
	fake_net_init(&f->d, f->d.id.pk, on_sent);
	ipc_capture_reset();
	last_sent = 0;
	return 0;
}

static int files_teardown(void **state)
{
	struct fixture *f = *state;

	fixture_stop(f);
	fake_net_reset();
	ipc_capture_reset();
	return fixture_teardown(state);
}

static void offer(unsigned c, const char *iid, const char *name, uint64_t size)
{
	struct ctl_msg m = { .type = CTL_FILE_OFFER, .has_size = true, .has_hash = true };

	snprintf(m.iid, sizeof(m.iid), "%s", iid);
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.size = size;
	memset(m.hash, 0x42, sizeof(m.hash));
	fake_feed_msg(c, &m);
}

/* The offers the daemon lists now (a new reference). */
static json_t *listed(struct fixture *f)
{
	files_cmd_list(&f->d, ipc_capture_request("files", NULL));
	return json_incref(json_object_get(ipc_capture_result(), "files"));
}

static json_t *entry(json_t *list, const char *name)
{
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e) if (strcmp(json_string_value(json_object_get(e, "name")),
						  name) == 0) return e;
	return NULL;
}

/* A member called hostname, connected to us, in a network we made. */
static unsigned member(struct fixture *f, struct identity *id, const char *hostname)
{
	struct network *n = network_find(&f->d, "home");
	struct peer *p;
	unsigned c;

	if (!n)
		n = fixture_network(f, "home");
	p = fixture_peer(f, id);
	fixture_admit(f, n, p, hostname, false);
	c = fake_accept(id->pk, false, 0, false);
	assert_true(c != 0);
	return c;
}

#define ID1 "00112233445566778899aabbccddeeff"

static void test_offer_waits(void **state)
{
	struct fixture *f = *state;
	struct identity id;
	unsigned c = member(f, &id, "bob");
	json_t *list, *e;

	offer(c, ID1, "holiday.tar", 123456);
	list = listed(f);
	assert_int_equal(json_array_size(list), 1);
	e = entry(list, "holiday.tar");
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "direction")), "in");
	assert_string_equal(json_string_value(json_object_get(e, "state")), "pending");
	assert_string_equal(json_string_value(json_object_get(e, "peer")), "bob");
	assert_int_equal(json_integer_value(json_object_get(e, "size")), 123456);
	assert_int_equal(files_pending(&f->d), 1);
	offer(c, ID1, "again.tar", 1); /* the same id again: ignored */
	json_decref(list);
	list = listed(f);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
}

/* Names that would leave the folder, ids that are not ids: dropped. */
static void test_hostile_offers(void **state)
{
	static const char *names[] = { "../../etc/passwd", "/etc/passwd", "..", ".", "a/b", "x/" };
	struct fixture *f = *state;
	struct identity id;
	unsigned c = member(f, &id, "bob");
	char iid[33];
	json_t *list;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(iid, sizeof(iid), "%031zx%c", i, 'a');
		offer(c, iid, names[i], 10);
	}
	offer(c, "not-hex-not-hex-not-hex-not-hex!", "fine.txt", 10);
	offer(c, "abc", "fine.txt", 10);
	offer(c, "00112233445566778899AABBCCDDEEFF", "fine.txt", 10); /* upper case */
	list = listed(f);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(files_pending(&f->d), 0);
}

/* Someone who shares no network with us offers nothing. */
static void test_stranger_offer(void **state)
{
	struct fixture *f = *state;
	struct identity stranger;
	unsigned c;
	json_t *list;

	fixture_network(f, "home");
	assert_int_equal(identity_generate(&stranger), 0);
	c = fake_accept(stranger.pk, false, 0, false);
	assert_true(c != 0);
	offer(c, ID1, "gift.exe", 10);
	list = listed(f);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(files_accept_conn(&f->d, stranger.pk), -1);
}

/* One peer cannot queue more than 16 offers. */
static void test_offer_flood(void **state)
{
	struct fixture *f = *state;
	struct identity id;
	unsigned c = member(f, &id, "bob");
	char iid[33], name[32];
	json_t *list;

	for (int i = 0; i < 40; i++) {
		snprintf(iid, sizeof(iid), "%032x", i + 1);
		snprintf(name, sizeof(name), "f%d", i);
		offer(c, iid, name, 1);
	}
	list = listed(f);
	assert_int_equal(json_array_size(list), 16);
	json_decref(list);
}

/* deny tells the sender; the sender's cancel, not another's, ends it. */
static void test_deny_and_cancel(void **state)
{
	struct fixture *f = *state;
	struct identity a, b;
	unsigned ca = member(f, &a, "alice"), cb = member(f, &b, "bob");
	struct ctl_msg cancel = { .type = CTL_FILE_CANCEL };
	json_t *list;

	offer(ca, ID1, "one.txt", 5);
	offer(ca, "ffeeddccbbaa99887766554433221100", "two.txt", 5);
	files_cmd_deny(&f->d, ipc_capture_request("files_deny", json_pack("{s:s}", "id", "0011")));
	ipc_capture_result();
	assert_int_equal(last_sent, CTL_FILE_DENY);
	assert_string_equal(last_sent_iid, ID1);
	snprintf(cancel.iid, sizeof(cancel.iid), "%s", "ffeeddccbbaa99887766554433221100");
	fake_feed_msg(cb, &cancel); /* not the sender: nothing */
	list = listed(f);
	assert_string_equal(json_string_value(json_object_get(entry(list, "two.txt"), "state")),
			    "pending");
	json_decref(list);
	fake_feed_msg(ca, &cancel);
	list = listed(f);
	assert_string_equal(json_string_value(json_object_get(entry(list, "one.txt"), "state")),
			    "denied");
	assert_string_equal(json_string_value(json_object_get(entry(list, "two.txt"), "state")),
			    "cancelled");
	json_decref(list);
	assert_int_equal(files_pending(&f->d), 0);
	/* an answered offer is not answered again */
	files_cmd_deny(&f->d, ipc_capture_request("files_deny", json_pack("{s:s}", "id", "0011")));
	assert_non_null(strstr(ipc_capture_error(), "not waiting for an answer"));
}

/* send without files, with a name that is a path, or to nobody: refused. */
static void test_send_refusals(void **state)
{
	struct fixture *f = *state;
	struct identity id;
	struct ipc_request *req;
	int fds[2];

	member(f, &id, "bob");
	files_cmd_send(&f->d, ipc_capture_request("send", json_pack("{s:s, s:[s]}", "peer", "bob",
								    "names", "x")));
	assert_non_null(strstr(ipc_capture_error(), "send needs the files"));
	assert_int_equal(pipe(fds), 0);
	req = ipc_capture_request("send",
				  json_pack("{s:s, s:[s]}", "peer", "bob", "names", "../x"));
	req->fds[0] = fds[0];
	req->n_fds = 1;
	files_cmd_send(&f->d, req);
	assert_non_null(strstr(ipc_capture_error(), "cannot be a file's name"));
	req = ipc_capture_request("send",
				  json_pack("{s:s, s:[s]}", "peer", "nobody", "names", "x"));
	req->fds[0] = fds[1];
	req->n_fds = 1;
	files_cmd_send(&f->d, req);
	assert_non_null(ipc_capture_error());
	/* accept of an offer that does not exist */
	files_cmd_accept(&f->d,
			 ipc_capture_request("files_accept", json_pack("{s:s}", "id", "abcdef")));
	assert_non_null(strstr(ipc_capture_error(), "no offer 'abcdef'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_offer_waits, files_setup, files_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_offers, files_setup, files_teardown),
		cmocka_unit_test_setup_teardown(test_stranger_offer, files_setup, files_teardown),
		cmocka_unit_test_setup_teardown(test_offer_flood, files_setup, files_teardown),
		cmocka_unit_test_setup_teardown(test_deny_and_cancel, files_setup, files_teardown),
		cmocka_unit_test_setup_teardown(test_send_refusals, files_setup, files_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
