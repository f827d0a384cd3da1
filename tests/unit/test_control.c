/* Unit tests for src/proto/control: round trips and hostile messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "proto/control.h"

static void roundtrip(const struct ctl_msg *in, struct ctl_msg *out, msgpack_sbuffer *sb)
{
	msgpack_sbuffer_init(sb);
	assert_int_equal(ctl_encode(in, sb), 0);
	assert_int_equal(ctl_decode((const uint8_t *)sb->data, sb->size, out), 0);
}

static void test_roundtrip_all(void **state)
{
	static const uint8_t rec[] = { 1, 2, 3, 4, 5 };
	struct ctl_msg in = { 0 }, out;
	msgpack_sbuffer sb;

	(void)state;
	in.type = CTL_WELCOME;
	in.has_net = true;
	memset(in.net, 0xab, sizeof(in.net));
	strcpy(in.hostname, "alice");
	in.rec = rec;
	in.rec_len = sizeof(rec);
	roundtrip(&in, &out, &sb);
	assert_int_equal(out.type, CTL_WELCOME);
	assert_memory_equal(out.net, in.net, 32);
	assert_string_equal(out.hostname, "alice");
	assert_int_equal(out.rec_len, sizeof(rec));
	assert_memory_equal(out.rec, rec, sizeof(rec));
	assert_true(out.rec >= (const uint8_t *)sb.data &&
		    out.rec < (const uint8_t *)sb.data + sb.size);
	msgpack_sbuffer_destroy(&sb);

	memset(&in, 0, sizeof(in));
	in.type = CTL_JOIN_REQ;
	in.has_net = true;
	in.has_invite = true;
	memset(in.invite, 7, sizeof(in.invite));
	strcpy(in.hostname, "bob");
	roundtrip(&in, &out, &sb);
	assert_true(out.has_invite);
	assert_memory_equal(out.invite, in.invite, 16);
	assert_null(out.rec);
	msgpack_sbuffer_destroy(&sb);

	memset(&in, 0, sizeof(in));
	in.type = CTL_BLOB;
	in.has_hash = true;
	in.data = rec;
	in.data_len = 0;
	roundtrip(&in, &out, &sb);
	assert_non_null(out.data);
	assert_int_equal(out.data_len, 0);
	msgpack_sbuffer_destroy(&sb);
}

static void test_required_fields(void **state)
{
	struct ctl_msg in = { 0 }, out;
	msgpack_sbuffer sb;

	(void)state;
	in.type = CTL_SYNC; /* needs net + rec */
	in.has_net = true;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(ctl_encode(&in, &sb), 0);
	assert_int_equal(ctl_decode((const uint8_t *)sb.data, sb.size, &out), -EINVAL);
	msgpack_sbuffer_destroy(&sb);
	/* CTL_ENDPOINT carries a record and nothing else is required */
	memset(&in, 0, sizeof(in));
	in.type = CTL_ENDPOINT;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(ctl_encode(&in, &sb), 0);
	assert_int_equal(ctl_decode((const uint8_t *)sb.data, sb.size, &out), -EINVAL);
	msgpack_sbuffer_destroy(&sb);
	in.rec = (const uint8_t *)"signed-record";
	in.rec_len = 13;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(ctl_encode(&in, &sb), 0);
	assert_int_equal(ctl_decode((const uint8_t *)sb.data, sb.size, &out), 0);
	assert_int_equal(out.type, CTL_ENDPOINT);
	assert_int_equal(out.rec_len, 13);
	assert_memory_equal(out.rec, "signed-record", 13);
	assert_string_equal(ctl_type_name(CTL_ENDPOINT), "endpoint");
	msgpack_sbuffer_destroy(&sb);
	in.type = 0;
	assert_int_equal(ctl_encode(&in, &sb), -EINVAL);
}

static void test_hostile(void **state)
{
	/* {"t": 1, "net": bin of 31 bytes} */
	uint8_t short_net[40] = { 0x82, 0xa1, 't', 0x01, 0xa3, 'n', 'e', 't', 0xc4, 31 };
	/* {"t": 99} */
	const uint8_t bad_type[] = { 0x81, 0xa1, 't', 99 };
	/* {"t": "1"} */
	const uint8_t str_type[] = { 0x81, 0xa1, 't', 0xa1, '1' };
	/* [1] */
	const uint8_t not_map[] = { 0x91, 0x01 };
	/* {"t": 1, "host": "a\0b", "net": ...} */
	uint8_t nul_host[64] = { 0x83, 0xa1, 't', 0x01, 0xa4, 'h', 'o', 's',  't', 0xa3,
				 'a',  0,    'b', 0xa3, 'n',  'e', 't', 0xc4, 32 };
	/* {"t": 1, "net": ...32, "zz": [1,2]}: unknown key is fine */
	uint8_t unknown[64] = { 0x83, 0xa1, 't', 0x01, 0xa3, 'n', 'e', 't', 0xc4, 32 };
	struct ctl_msg out;
	size_t n;

	(void)state;
	assert_int_equal(ctl_decode(short_net, 10 + 31, &out), -EINVAL);
	assert_int_equal(ctl_decode(bad_type, sizeof(bad_type), &out), -EINVAL);
	assert_int_equal(ctl_decode(str_type, sizeof(str_type), &out), -EINVAL);
	assert_int_equal(ctl_decode(not_map, sizeof(not_map), &out), -EINVAL);
	assert_int_equal(ctl_decode(nul_host, 19 + 32, &out), -EINVAL);
	n = 10 + 32;
	memcpy(unknown + n, "\xa2zz\x92\x01\x02", 6);
	assert_int_equal(ctl_decode(unknown, n + 6, &out), 0);
	assert_int_equal(out.type, CTL_HELLO);
	for (size_t cut = 0; cut < n + 6; cut++)
		assert_int_equal(ctl_decode(unknown, cut, &out), -EINVAL);
}

/* A peer's reason reaches the terminal: escapes, bells, C1 and DEL do not. */
static void test_control_chars(void **state)
{
	struct ctl_msg in = { .type = CTL_DENIED, .has_net = true }, out;
	msgpack_sbuffer sb;

	(void)state;
	snprintf(in.why, sizeof(in.why),
		 "no\x1b[2J\x1b]0;pwned\x07 \xc2\x9b"
		 "31m\x7f ok \xc3\xa9");
	msgpack_sbuffer_init(&sb);
	assert_int_equal(ctl_encode(&in, &sb), 0);
	assert_int_equal(ctl_decode((const uint8_t *)sb.data, sb.size, &out), 0);
	assert_string_equal(out.why, "no?[2J?]0;pwned? ??31m? ok \xc3\xa9");
	msgpack_sbuffer_destroy(&sb);
}

static void test_admin_and_gossip_fields(void **state)
{
	struct ctl_msg in = { 0 }, out;
	msgpack_sbuffer sb;

	(void)state;
	in.type = CTL_ADMIN_GRANT;
	in.has_net = true;
	in.has_key = true;
	memset(in.key, 0x42, sizeof(in.key));
	roundtrip(&in, &out, &sb);
	assert_true(out.has_key);
	assert_memory_equal(out.key, in.key, 32);
	msgpack_sbuffer_destroy(&sb);

	memset(&in, 0, sizeof(in));
	in.type = CTL_INVITE_SHARE;
	in.has_net = true;
	in.has_hash = true;
	strcpy(in.iid, "ab12cd34");
	in.exp = 1900000000ull;
	strcpy(in.hostname, "web");
	roundtrip(&in, &out, &sb);
	assert_string_equal(out.iid, "ab12cd34");
	assert_int_equal(out.exp, 1900000000ull);
	assert_string_equal(out.hostname, "web");
	msgpack_sbuffer_destroy(&sb);

	/* an invite share without its id is refused */
	in.iid[0] = 0;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(ctl_encode(&in, &sb), 0);
	assert_int_equal(ctl_decode((const uint8_t *)sb.data, sb.size, &out), -EINVAL);
	msgpack_sbuffer_destroy(&sb);
}

/* The file messages: an offer round-trips its name, size (0 included) and
 * hash; a GET its offset; each type refuses what lacks its fields; a name
 * a peer sends loses its control characters; a size that is not a
 * positive integer is refused. */
static void test_file_messages(void **state)
{
	struct ctl_msg in = { .type = CTL_FILE_OFFER, .has_size = true, .has_hash = true }, out;
	/* {"t": FILE_OFFER, "iid": "x", "name": "n", "size": -1, "hash": ...} */
	uint8_t neg[80] = { 0x85, 0xa1, 't',  CTL_FILE_OFFER,
			    0xa3, 'i',  'i',  'd',
			    0xa1, 'x',  0xa4, 'n',
			    'a',  'm',  'e',  0xa1,
			    'n',  0xa4, 's',  'i',
			    'z',  'e',  0xff, 0xa4,
			    'h',  'a',  's',  'h',
			    0xc4, 32 };
	msgpack_sbuffer sb;

	(void)state;
	strcpy(in.iid, "00112233445566778899aabbccddeeff");
	strcpy(in.name, "holiday\x1b[2Jphotos.tar");
	in.name[7] = 0x1b;
	memset(in.hash, 0x5a, sizeof(in.hash));
	in.size = 0;
	roundtrip(&in, &out, &sb);
	assert_int_equal(out.type, CTL_FILE_OFFER);
	assert_string_equal(out.iid, in.iid);
	assert_int_equal(out.name[7], '?');
	assert_true(out.has_size);
	assert_int_equal(out.size, 0);
	assert_memory_equal(out.hash, in.hash, 32);
	msgpack_sbuffer_destroy(&sb);

	in.size = UINT64_MAX;
	roundtrip(&in, &out, &sb);
	assert_int_equal(out.size, UINT64_MAX);
	msgpack_sbuffer_destroy(&sb);

	in.has_size = false; /* an offer must say its size */
	msgpack_sbuffer_init(&sb);
	assert_int_equal(ctl_encode(&in, &sb), 0);
	assert_int_equal(ctl_decode((const uint8_t *)sb.data, sb.size, &out), -EINVAL);
	msgpack_sbuffer_destroy(&sb);

	memset(&in, 0, sizeof(in));
	in.type = CTL_FILE_GET;
	strcpy(in.iid, "ab");
	in.has_hash = true;
	in.off = 3 * 16384;
	roundtrip(&in, &out, &sb);
	assert_int_equal(out.off, 3 * 16384);
	msgpack_sbuffer_destroy(&sb);

	memset(&in, 0, sizeof(in));
	in.type = CTL_FILE_DATA; /* needs data */
	msgpack_sbuffer_init(&sb);
	assert_int_equal(ctl_encode(&in, &sb), 0);
	assert_int_equal(ctl_decode((const uint8_t *)sb.data, sb.size, &out), -EINVAL);
	msgpack_sbuffer_destroy(&sb);
	in.type = CTL_FILE_DENY; /* needs iid */
	msgpack_sbuffer_init(&sb);
	assert_int_equal(ctl_encode(&in, &sb), 0);
	assert_int_equal(ctl_decode((const uint8_t *)sb.data, sb.size, &out), -EINVAL);
	msgpack_sbuffer_destroy(&sb);

	assert_int_equal(ctl_decode(neg, 30 + 32, &out), -EINVAL);
	assert_string_equal(ctl_type_name(CTL_FILE_DATA), "file_data");
}

static void test_connect_messages(void **state)
{
	struct ctl_msg in = { .type = CTL_CONNECT_REQ, .has_contact = true }, out;
	msgpack_sbuffer sb;

	(void)state;
	memset(in.contact, 0xc7, sizeof(in.contact));
	strcpy(in.hostname, "bob");
	roundtrip(&in, &out, &sb);
	assert_true(out.has_contact);
	assert_memory_equal(out.contact, in.contact, 32);
	assert_string_equal(out.hostname, "bob");
	msgpack_sbuffer_destroy(&sb);

	in.has_contact = false; /* a request names the contact id it asks */
	msgpack_sbuffer_init(&sb);
	assert_int_equal(ctl_encode(&in, &sb), 0);
	assert_int_equal(ctl_decode((const uint8_t *)sb.data, sb.size, &out), -EINVAL);
	msgpack_sbuffer_destroy(&sb);

	memset(&in, 0, sizeof(in));
	in.type = CTL_CONNECT_OK; /* needs the network */
	msgpack_sbuffer_init(&sb);
	assert_int_equal(ctl_encode(&in, &sb), 0);
	assert_int_equal(ctl_decode((const uint8_t *)sb.data, sb.size, &out), -EINVAL);
	msgpack_sbuffer_destroy(&sb);
	in.has_net = true;
	memset(in.net, 0x11, 32);
	strcpy(in.name, "alice-bob");
	roundtrip(&in, &out, &sb);
	assert_memory_equal(out.net, in.net, 32);
	assert_string_equal(out.name, "alice-bob");
	msgpack_sbuffer_destroy(&sb);

	memset(&in, 0, sizeof(in));
	in.type = CTL_CONNECT_PENDING;
	roundtrip(&in, &out, &sb);
	msgpack_sbuffer_destroy(&sb);
	in.type = CTL_CONNECT_DENIED;
	strcpy(in.why, "no\x1b[31m thanks");
	roundtrip(&in, &out, &sb);
	assert_int_equal(out.why[2], '?');
	msgpack_sbuffer_destroy(&sb);
	assert_string_equal(ctl_type_name(CTL_CONNECT_DENIED), "connect_denied");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_all),
		cmocka_unit_test(test_required_fields),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_control_chars),
		cmocka_unit_test(test_admin_and_gossip_fields),
		cmocka_unit_test(test_file_messages),
		cmocka_unit_test(test_connect_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
