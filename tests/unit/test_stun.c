/*
 * test_stun: the RFC 8489 codec against the RFC 5769 vectors, round trips of
 * every attribute we build, hostile input (truncation at every byte, bad
 * attribute lengths, bad integrity and fingerprint, attributes after
 * integrity), the retransmission schedule, the demultiplexer, and the
 * Binding client against a scripted responder on 127.0.0.1 (spoofed source,
 * wrong transaction id, retransmission and timeout).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "transport/stun.h"
#include "util/log.h"

static uv_loop_t loop;

/* RFC 5769 section 2.2 and 2.3 (short-term password below). */
static const uint8_t respv4[] = "\x01\x01\x00\x3c\x21\x12\xa4\x42\xb7\xe7\xa7\x01\xbc\x34\xd6\x86"
				"\xfa\x87\xdf\xae\x80\x22\x00\x0b\x74\x65\x73\x74\x20\x76\x65\x63"
				"\x74\x6f\x72\x20\x00\x20\x00\x08\x00\x01\xa1\x47\xe1\x12\xa6\x43"
				"\x00\x08\x00\x14\x2b\x91\xf5\x99\xfd\x9e\x90\xc3\x8c\x74\x89\xf9"
				"\x2a\xf9\xba\x53\xf0\x6b\xe7\xd7\x80\x28\x00\x04\xc0\x7d\x4c\x96";
static const uint8_t respv6[] = "\x01\x01\x00\x48\x21\x12\xa4\x42\xb7\xe7\xa7\x01\xbc\x34\xd6\x86"
				"\xfa\x87\xdf\xae\x80\x22\x00\x0b\x74\x65\x73\x74\x20\x76\x65\x63"
				"\x74\x6f\x72\x20\x00\x20\x00\x14\x00\x02\xa1\x47\x01\x13\xa9\xfa"
				"\xa5\xd3\xf1\x79\xbc\x25\xf4\xb5\xbe\xd2\xb9\xd9\x00\x08\x00\x14"
				"\xa3\x82\x95\x4e\x4b\xe6\x7b\xf1\x17\x84\xc9\x7c\x82\x92\xc2\x75"
				"\xbf\xe3\xed\x41\x80\x28\x00\x04\xc8\xfb\x0b\x4c";
static const char vec_pwd[] = "VOkJxbRl1RmTxUk/WvJxBt";
static const uint8_t vec_tid[STUN_TID_LEN] = "\xb7\xe7\xa7\x01\xbc\x34\xd6\x86\xfa\x87\xdf\xae";

static void addr(union ms_addr *a, const char *s)
{
	assert_int_equal(ms_addr_parse(a, s), 0);
}

static void assert_addr(const union ms_addr *a, const char *want)
{
	char s[MS_ADDR_STRLEN];

	assert_string_equal(ms_addr_fmt(a, s, sizeof(s)), want);
}

static void test_rfc5769(void **state)
{
	struct stun_msg m;
	uint8_t buf[sizeof(respv6)];

	assert_int_equal(stun_decode(&m, respv4, sizeof(respv4) - 1), 0);
	assert_int_equal(m.method, STUN_BINDING);
	assert_int_equal(m.cls, STUN_SUCCESS);
	assert_memory_equal(m.tid, vec_tid, STUN_TID_LEN);
	assert_true(m.has_xor_mapped);
	assert_true(m.has_fingerprint);
	assert_addr(&m.xor_mapped, "192.0.2.1:32853");
	assert_int_equal(m.software_len, 11);
	assert_memory_equal(m.software, "test vector", 11);
	assert_true(stun_check_integrity(respv4, sizeof(respv4) - 1, &m, (const uint8_t *)vec_pwd,
					 strlen(vec_pwd)));
	assert_false(stun_check_integrity(respv4, sizeof(respv4) - 1, &m,
					  (const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBu",
					  strlen(vec_pwd)));

	assert_int_equal(stun_decode(&m, respv6, sizeof(respv6) - 1), 0);
	assert_addr(&m.xor_mapped, "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
	assert_true(stun_check_integrity(respv6, sizeof(respv6) - 1, &m, (const uint8_t *)vec_pwd,
					 strlen(vec_pwd)));

	/* One flipped bit anywhere: the fingerprint catches it. */
	memcpy(buf, respv6, sizeof(respv6));
	buf[40] ^= 0x01;
	assert_int_equal(stun_decode(&m, buf, sizeof(respv6) - 1), -EBADMSG);
}

static void test_type_bits(void **state)
{
	static const struct {
		uint16_t method;
		enum stun_class cls;
		uint16_t wire;
	} v[] = {
		{ STUN_BINDING, STUN_REQUEST, 0x0001 },
		{ STUN_BINDING, STUN_SUCCESS, 0x0101 },
		{ STUN_BINDING, STUN_ERROR, 0x0111 },
		{ STUN_ALLOCATE, STUN_REQUEST, 0x0003 },
		{ STUN_ALLOCATE, STUN_SUCCESS, 0x0103 },
		{ STUN_ALLOCATE, STUN_ERROR, 0x0113 },
		{ STUN_REFRESH, STUN_REQUEST, 0x0004 },
		{ STUN_SEND, STUN_INDICATION, 0x0016 },
		{ STUN_DATA, STUN_INDICATION, 0x0017 },
		{ STUN_CREATE_PERMISSION, STUN_REQUEST, 0x0008 },
		{ STUN_CHANNEL_BIND, STUN_SUCCESS, 0x0109 },
		{ 0xfff, STUN_ERROR, 0x3fff },
	};
	struct stun_builder b;
	struct stun_msg m;
	uint8_t buf[64], tid[STUN_TID_LEN];
	size_t i;
	int n;

	stun_tid_new(tid);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		stun_build_init(&b, buf, sizeof(buf), v[i].method, v[i].cls, tid);
		n = stun_build_finish(&b);
		assert_int_equal(n, STUN_HDR_LEN);
		assert_int_equal(buf[0] << 8 | buf[1], v[i].wire);
		assert_int_equal(stun_decode(&m, buf, (size_t)n), 0);
		assert_int_equal(m.method, v[i].method);
		assert_int_equal(m.cls, v[i].cls);
		assert_memory_equal(m.tid, tid, STUN_TID_LEN);
	}
}

/* A response carrying every attribute the clients read. */
static int build_full(uint8_t *buf, size_t cap, const uint8_t *key, size_t keylen, int sha256_only)
{
	struct stun_builder b;
	union ms_addr a4, a6, peer;
	uint8_t tid[STUN_TID_LEN];

	memset(tid, 0x5a, sizeof(tid));
	addr(&a4, "198.51.100.7:4242");
	addr(&a6, "[2001:db8::99]:65535");
	addr(&peer, "203.0.113.5:1");
	stun_build_init(&b, buf, cap, STUN_ALLOCATE, STUN_SUCCESS, tid);
	stun_build_xor_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &a4);
	stun_build_xor_addr(&b, STUN_A_XOR_RELAYED_ADDRESS, &a6);
	stun_build_xor_addr(&b, STUN_A_XOR_PEER_ADDRESS, &peer);
	stun_build_mapped_addr(&b, &a6);
	stun_build_u32(&b, STUN_A_LIFETIME, 600);
	stun_build_u32(&b, STUN_A_CHANNEL_NUMBER, 0x40010000);
	stun_build_attr(&b, STUN_A_NONCE, "nonce-1", 7);
	stun_build_attr(&b, STUN_A_REALM, "realm", 5);
	stun_build_attr(&b, STUN_A_SOFTWARE, "rayfish", 7);
	stun_build_attr(&b, STUN_A_DATA, "\x01\x02\x03", 3);
	stun_build_attr(&b, 0xc001, "opt", 3); /* unknown, optional */
	if (sha256_only)
		stun_build_integrity_sha256(&b, key, keylen);
	else
		stun_build_integrity(&b, key, keylen);
	stun_build_fingerprint(&b);
	return stun_build_finish(&b);
}

static void test_roundtrip(void **state)
{
	static const uint8_t key[] = "secret";
	struct stun_msg m;
	uint8_t buf[512];
	int n, sha;

	for (sha = 0; sha < 2; sha++) {
		n = build_full(buf, sizeof(buf), key, 6, sha);
		assert_true(n > 0);
		assert_int_equal(stun_decode(&m, buf, (size_t)n), 0);
		assert_addr(&m.xor_mapped, "198.51.100.7:4242");
		assert_addr(&m.relayed, "[2001:db8::99]:65535");
		assert_addr(&m.peer, "203.0.113.5:1");
		assert_addr(&m.mapped, "[2001:db8::99]:65535");
		assert_int_equal(m.lifetime, 600);
		assert_int_equal(m.channel, 0x4001);
		assert_int_equal(m.nonce_len, 7);
		assert_memory_equal(m.nonce, "nonce-1", 7);
		assert_int_equal(m.realm_len, 5);
		assert_int_equal(m.data_len, 3);
		assert_memory_equal(m.data, "\x01\x02\x03", 3);
		assert_int_equal(m.unknown_required, 0);
		assert_true(m.has_fingerprint);
		assert_true(sha ? m.mi256_off != 0 : m.mi_off != 0);
		assert_true(stun_check_integrity(buf, (size_t)n, &m, key, 6));
		assert_false(
			stun_check_integrity(buf, (size_t)n, &m, (const uint8_t *)"Secret", 6));
	}
}

static void test_error_and_key(void **state)
{
	struct stun_builder b;
	struct stun_msg m;
	uint8_t buf[128], tid[STUN_TID_LEN] = { 0 }, key[STUN_LT_KEY_LEN];
	static const uint8_t want[STUN_LT_KEY_LEN] =
		"\x84\x93\xfb\xc5\x3b\xa5\x82\xfb\x4c\x04\x4c\x45\x6b\xdc\x40\xeb";
	int n;

	stun_build_init(&b, buf, sizeof(buf), STUN_ALLOCATE, STUN_ERROR, tid);
	stun_build_error(&b, 438, "Stale \"Nonce\"\n");
	n = stun_build_finish(&b);
	assert_true(n > 0);
	assert_int_equal(stun_decode(&m, buf, (size_t)n), 0);
	assert_true(m.has_error);
	assert_int_equal(m.error_code, 438);
	/* Quotes and control characters never reach logs or JSON. */
	assert_string_equal(m.reason, "Stale ?Nonce??");
	assert_false(stun_check_integrity(buf, (size_t)n, &m, (const uint8_t *)"k", 1));

	/* Long-term key: MD5("user:realm:pass"). */
	assert_int_equal(stun_lt_key(key, "user", (const uint8_t *)"realm", 5, "pass"), 0);
	assert_memory_equal(key, want, sizeof(want));
	assert_int_equal(stun_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
}

/* Truncation at every byte: the length check refuses all but the whole. */
static void test_truncated(void **state)
{
	static const uint8_t key[] = "k";
	struct stun_msg m;
	uint8_t full[512], *cut;
	size_t len, i;
	int n, r;

	n = build_full(full, sizeof(full), key, 1, 0);
	assert_true(n > 0);
	for (len = 0; len < (size_t)n; len++) {
		/* Exact-size heap copies so ASan sees any over-read. */
		cut = malloc(len ? len : 1);
		memcpy(cut, full, len);
		assert_int_not_equal(stun_decode(&m, cut, len), 0);
		/* The same prefix with a header length that claims it. */
		if (len >= STUN_HDR_LEN && len % 4 == 0) {
			cut[2] = (uint8_t)((len - STUN_HDR_LEN) >> 8);
			cut[3] = (uint8_t)(len - STUN_HDR_LEN);
			r = stun_decode(&m, cut, len);
			assert_true(r == 0 || r == -EINVAL || r == -EBADMSG);
			if (r == 0)
				(void)stun_check_integrity(cut, len, &m, key, 1);
		}
		free(cut);
	}
	/* Every attribute length field set to every value. */
	for (i = STUN_HDR_LEN; i + 4 <= (size_t)n; i += 4) {
		unsigned v;

		for (v = 0; v < 0x200; v += 3) {
			cut = malloc((size_t)n);
			memcpy(cut, full, (size_t)n);
			cut[i + 2] = (uint8_t)(v >> 8);
			cut[i + 3] = (uint8_t)v;
			(void)stun_decode(&m, cut, (size_t)n);
			free(cut);
		}
	}
}

/* Builds header + one attribute with raw bytes; returns the length. */
static size_t one_attr(uint8_t *buf, uint16_t type, const uint8_t *v, size_t vlen, size_t claimed)
{
	size_t plen = (vlen + 3) & ~(size_t)3;

	memset(buf, 0, 20 + 4 + plen);
	buf[0] = 0x01;
	buf[1] = 0x01;
	buf[2] = (uint8_t)((4 + plen) >> 8);
	buf[3] = (uint8_t)(4 + plen);
	buf[4] = 0x21;
	buf[5] = 0x12;
	buf[6] = 0xa4;
	buf[7] = 0x42;
	buf[20] = (uint8_t)(type >> 8);
	buf[21] = (uint8_t)type;
	buf[22] = (uint8_t)(claimed >> 8);
	buf[23] = (uint8_t)claimed;
	memcpy(buf + 24, v, vlen);
	return 24 + plen;
}

static void test_bad_attrs(void **state)
{
	struct stun_msg m;
	uint8_t buf[1024], v[800];
	size_t n;

	memset(v, 0, sizeof(v));
	/* Length beyond the message. */
	n = one_attr(buf, STUN_A_SOFTWARE, v, 4, 5);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	n = one_attr(buf, STUN_A_SOFTWARE, v, 4, 0xffff);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	/* XOR-MAPPED-ADDRESS: short, wrong family, family/length mismatch. */
	v[1] = 0x01;
	n = one_attr(buf, STUN_A_XOR_MAPPED_ADDRESS, v, 8, 8);
	assert_int_equal(stun_decode(&m, buf, n), 0);
	n = one_attr(buf, STUN_A_XOR_MAPPED_ADDRESS, v, 8, 7);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	n = one_attr(buf, STUN_A_XOR_MAPPED_ADDRESS, v, 20, 20);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	v[1] = 0x03;
	n = one_attr(buf, STUN_A_XOR_MAPPED_ADDRESS, v, 8, 8);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	v[1] = 0x02;
	n = one_attr(buf, STUN_A_MAPPED_ADDRESS, v, 8, 8);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	n = one_attr(buf, STUN_A_XOR_PEER_ADDRESS, v, 0, 0);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	/* ERROR-CODE: short, class 2, number 100. */
	memset(v, 0, 8);
	n = one_attr(buf, STUN_A_ERROR_CODE, v, 3, 3);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	v[2] = 2;
	n = one_attr(buf, STUN_A_ERROR_CODE, v, 4, 4);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	v[2] = 4;
	v[3] = 100;
	n = one_attr(buf, STUN_A_ERROR_CODE, v, 4, 4);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	v[3] = 1;
	n = one_attr(buf, STUN_A_ERROR_CODE, v, 4, 4);
	assert_int_equal(stun_decode(&m, buf, n), 0);
	assert_int_equal(m.error_code, 401);
	assert_string_equal(m.reason, "");
	/* Fixed sizes. */
	n = one_attr(buf, STUN_A_LIFETIME, v, 3, 3);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	n = one_attr(buf, STUN_A_CHANNEL_NUMBER, v, 8, 8);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	n = one_attr(buf, STUN_A_MESSAGE_INTEGRITY, v, 16, 16);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	n = one_attr(buf, STUN_A_MESSAGE_INTEGRITY_SHA256, v, 12, 12);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	n = one_attr(buf, STUN_A_MESSAGE_INTEGRITY_SHA256, v, 18, 18);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	n = one_attr(buf, STUN_A_FINGERPRINT, v, 8, 8);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	/* Texts over 763 bytes. */
	n = one_attr(buf, STUN_A_NONCE, v, 764, 764);
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	n = one_attr(buf, STUN_A_REALM, v, 763, 763);
	assert_int_equal(stun_decode(&m, buf, n), 0);
	/* Unknown comprehension-required attributes are counted. */
	n = one_attr(buf, 0x7777, v, 4, 4);
	assert_int_equal(stun_decode(&m, buf, n), 0);
	assert_int_equal(m.unknown_required, 1);
	n = one_attr(buf, 0x8777, v, 4, 4);
	assert_int_equal(stun_decode(&m, buf, n), 0);
	assert_int_equal(m.unknown_required, 0);
	/* Header: length not a multiple of 4, top bits, cookie. */
	n = one_attr(buf, STUN_A_SOFTWARE, v, 4, 4);
	buf[3] += 1;
	assert_int_equal(stun_decode(&m, buf, n + 1), -EINVAL);
	buf[3] -= 1;
	buf[0] |= 0x80;
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	buf[0] &= 0x3f;
	buf[7] ^= 1;
	assert_int_equal(stun_decode(&m, buf, n), -EINVAL);
	assert_int_equal(stun_decode(&m, buf, 0), -EINVAL);
}

static void test_order_rules(void **state)
{
	static const uint8_t key[] = "k";
	struct stun_builder b;
	struct stun_msg m;
	union ms_addr a1, a2;
	uint8_t buf[256], tid[STUN_TID_LEN] = { 1 };
	int n;

	addr(&a1, "192.0.2.1:1");
	addr(&a2, "192.0.2.2:2");
	/* Duplicates: the first one counts. */
	stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_SUCCESS, tid);
	stun_build_xor_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &a1);
	stun_build_xor_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &a2);
	stun_build_integrity(&b, key, 1);
	/* After MESSAGE-INTEGRITY: ignored, even an unknown required one. */
	stun_build_attr(&b, STUN_A_LIFETIME, "\0\0\0\1", 4);
	stun_build_attr(&b, 0x0077, "x", 1);
	n = stun_build_finish(&b);
	assert_true(n > 0);
	assert_int_equal(stun_decode(&m, buf, (size_t)n), 0);
	assert_addr(&m.xor_mapped, "192.0.2.1:1");
	assert_false(m.has_lifetime);
	assert_int_equal(m.unknown_required, 0);
	/* The MAC still covers the message up to its own attribute. */
	assert_true(stun_check_integrity(buf, (size_t)n, &m, key, 1));

	/* Anything after FINGERPRINT is refused, even with a CRC that
	 * matches the final header length. */
	stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_SUCCESS, tid);
	buf[3] = 16; /* FINGERPRINT (8) + SOFTWARE (8) */
	{
		uint32_t crc = stun_crc32(buf, 20) ^ STUN_FINGERPRINT_XOR;
		uint8_t fp[4] = { crc >> 24, crc >> 16, crc >> 8, crc };

		b.len = 20;
		stun_build_attr(&b, STUN_A_FINGERPRINT, fp, 4);
		stun_build_attr(&b, STUN_A_SOFTWARE, "x", 1);
	}
	n = stun_build_finish(&b);
	assert_int_equal(n, 36);
	assert_int_equal(stun_decode(&m, buf, (size_t)n), -EINVAL);

	/* A bad fingerprint. */
	stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_SUCCESS, tid);
	stun_build_xor_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &a1);
	stun_build_fingerprint(&b);
	n = stun_build_finish(&b);
	assert_int_equal(stun_decode(&m, buf, (size_t)n), 0);
	buf[n - 1] ^= 0x80;
	assert_int_equal(stun_decode(&m, buf, (size_t)n), -EBADMSG);

	/* Tampered body without fingerprint: decodes, integrity fails. */
	stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_SUCCESS, tid);
	stun_build_xor_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &a1);
	stun_build_integrity(&b, key, 1);
	n = stun_build_finish(&b);
	buf[27] ^= 1;
	assert_int_equal(stun_decode(&m, buf, (size_t)n), 0);
	assert_false(stun_check_integrity(buf, (size_t)n, &m, key, 1));
}

static void test_builder_bounds(void **state)
{
	struct stun_builder b;
	union ms_addr a;
	uint8_t tid[STUN_TID_LEN] = { 0 }, *buf, big[70000];
	size_t cap;

	addr(&a, "[2001:db8::1]:9");
	for (cap = 0; cap < 80; cap++) {
		buf = malloc(cap ? cap : 1);
		stun_build_init(&b, buf, cap, STUN_BINDING, STUN_REQUEST, tid);
		stun_build_xor_addr(&b, STUN_A_XOR_PEER_ADDRESS, &a);
		stun_build_integrity(&b, (const uint8_t *)"k", 1);
		stun_build_fingerprint(&b);
		if (cap < 20 + 24 + 24 + 8)
			assert_int_equal(stun_build_finish(&b), -ENOBUFS);
		else
			assert_int_equal(stun_build_finish(&b), 76);
		free(buf);
	}
	memset(big, 0, sizeof(big));
	buf = malloc(70100);
	stun_build_init(&b, buf, 70100, STUN_SEND, STUN_INDICATION, tid);
	stun_build_attr(&b, STUN_A_DATA, big, sizeof(big));
	assert_int_equal(stun_build_finish(&b), -ENOBUFS);
	free(buf);
}

static void test_txn_schedule(void **state)
{
	static const uint64_t want[] = { 500, 1500, 3500, 7500, 15500, 31500 };
	struct stun_timing tm = { 0 };
	struct stun_txn t;
	uint8_t tid[STUN_TID_LEN] = { 0 };
	size_t i;

	stun_txn_start(&t, &tm, tid, 0);
	for (i = 0; i < 6; i++) {
		assert_int_equal(t.next_ms, want[i]);
		assert_int_equal(stun_txn_due(&t, want[i] - 1), 0);
		assert_int_equal(stun_txn_due(&t, want[i]), 1);
	}
	assert_int_equal(t.next_ms, 39500);
	assert_int_equal(stun_txn_due(&t, 39499), 0);
	assert_int_equal(stun_txn_due(&t, 39500), -ETIMEDOUT);
	assert_false(t.active);
	assert_int_equal(stun_txn_due(&t, 99999), 0);
}

static int sink_calls[2];

static int sink(void *c, const uint8_t *p, size_t n, const union ms_addr *from)
{
	int *which = c;

	sink_calls[*which]++;
	return n > 0 && p[0] == *which;
}

static void test_demux(void **state)
{
	struct stun_demux d;
	union ms_addr from;
	int zero = 0, one = 1, i;
	uint8_t p;

	addr(&from, "127.0.0.1:1");
	stun_demux_init(&d);
	assert_int_equal(stun_demux_add(&d, sink, &zero), 0);
	assert_int_equal(stun_demux_add(&d, sink, &one), 0);
	p = 0;
	stun_demux_input(&d, &p, 1, &from);
	assert_int_equal(sink_calls[0], 1);
	assert_int_equal(sink_calls[1], 0);
	p = 1;
	stun_demux_input(&d, &p, 1, &from);
	assert_int_equal(sink_calls[1], 1);
	p = 2;
	stun_demux_input(&d, &p, 1, &from);
	assert_int_equal(d.unmatched, 1);
	stun_demux_remove(&d, &zero);
	assert_int_equal(d.n, 1);
	for (i = 0; i < STUN_DEMUX_MAX - 1; i++)
		assert_int_equal(stun_demux_add(&d, sink, &one), 0);
	assert_int_equal(stun_demux_add(&d, sink, &one), -ENOSPC);
}

/* ---- Binding client against a scripted responder ---- */

struct responder {
	struct magicsock *ms;
	struct magicsock *spoof;
	int mode; /* 0 answer, 2 wrong tid first, 3 spoofed */
	int requests;
	union ms_addr last_from;
};

static void responder_rx(void *ud, const uint8_t *pkt, size_t len, const union ms_addr *from)
{
	struct responder *r = ud;
	struct stun_builder b;
	struct stun_msg m;
	uint8_t out[128], tid[STUN_TID_LEN];
	int n;

	if (stun_decode(&m, pkt, len) < 0 || m.method != STUN_BINDING || m.cls != STUN_REQUEST)
		return;
	r->requests++;
	r->last_from = *from;
	memcpy(tid, m.tid, sizeof(tid));
	if (r->mode == 2 && r->requests == 1)
		tid[0] ^= 0xff;
	stun_build_init(&b, out, sizeof(out), STUN_BINDING, STUN_SUCCESS, tid);
	stun_build_xor_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, from);
	stun_build_fingerprint(&b);
	n = stun_build_finish(&b);
	assert_true(n > 0);
	magicsock_send_to(r->mode == 3 ? r->spoof : r->ms, from, out, (size_t)n);
}

struct results {
	int n, done;
	struct stun_result last;
};

static void on_result(void *ud, const struct stun_result *r)
{
	struct results *rs = ud;

	rs->n++;
	rs->last = *r;
}

static void on_done(void *ud)
{
	((struct results *)ud)->done++;
}

static int deadline_hit;

static void on_deadline(uv_timer_t *t)
{
	deadline_hit = 1;
}

static int run_until(int *flag, uint64_t ms)
{
	uv_timer_t t;

	deadline_hit = 0;
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, on_deadline, ms, 0);
	while (!*flag && !deadline_hit)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	return *flag;
}

static void test_binding_client(void **state)
{
	struct magicsock_config mc = { 0 };
	struct magicsock *cms, *spoof;
	struct responder r = { 0 };
	struct results rs = { 0 };
	struct stun_client_events ev = { on_result, on_done, &rs };
	struct stun_timing tm = { .rto_ms = 30, .tries = 4 };
	struct stun_client *sc;
	struct stun_client_stats st;
	struct stun_result res[2];
	struct stun_demux d;
	char list[128], s[MS_ADDR_STRLEN];

	assert_int_equal(magicsock_new(&cms, &loop, &mc), 0);
	assert_int_equal(magicsock_new(&r.ms, &loop, &mc), 0);
	assert_int_equal(magicsock_new(&spoof, &loop, &mc), 0);
	magicsock_set_handler(r.ms, MS_PKT_STUN, responder_rx, &r);
	assert_int_equal(stun_client_new(&sc, &loop, cms, &tm, &ev), 0);
	stun_demux_init(&d);
	assert_int_equal(stun_demux_add(&d, stun_client_input, sc), 0);
	magicsock_set_handler(cms, MS_PKT_STUN, stun_demux_input, &d);

	assert_int_equal(stun_client_probe(sc), -ENOENT);
	assert_int_equal(stun_client_set_servers(sc, "stun.example:3478"), -EINVAL);
	snprintf(list, sizeof(list), " 127.0.0.1:%u ,", magicsock_port(r.ms));
	assert_int_equal(stun_client_set_servers(sc, list), 0);

	/* A plain answer: our own address and port. */
	assert_int_equal(stun_client_probe(sc), 0);
	assert_true(run_until(&rs.done, 3000));
	assert_int_equal(rs.last.status, 0);
	snprintf(list, sizeof(list), "127.0.0.1:%u", magicsock_port(cms));
	assert_string_equal(ms_addr_fmt(&rs.last.reflexive, s, sizeof(s)), list);
	assert_int_equal(stun_client_results(sc, res, 2), 1);
	assert_int_equal(res[0].status, 0);

	/* First answer with a wrong transaction id: dropped, counted, retried. */
	r.mode = 2;
	r.requests = 0;
	rs.done = 0;
	assert_int_equal(stun_client_probe(sc), 0);
	assert_true(run_until(&rs.done, 3000));
	assert_int_equal(rs.last.status, 0);
	assert_true(r.requests >= 2);
	stun_client_get_stats(sc, &st);
	assert_int_equal(st.rx_unmatched, 1);

	/* Right answers from the wrong address are not believed: the round
	 * ends in a timeout after 4 transmissions, each answer counted. */
	r.mode = 3;
	r.spoof = spoof;
	r.requests = 0;
	rs.done = 0;
	assert_int_equal(stun_client_probe(sc), 0);
	assert_true(run_until(&rs.done, 5000));
	assert_int_equal(rs.last.status, -ETIMEDOUT);
	assert_int_equal(r.requests, 4);
	stun_client_get_stats(sc, &st);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.rx_unmatched, 5);
	assert_int_equal(d.unmatched, 0);

	stun_client_free(sc);
	magicsock_free(cms);
	magicsock_free(r.ms);
	magicsock_free(spoof);
	uv_run(&loop, UV_RUN_NOWAIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5769),        cmocka_unit_test(test_type_bits),
		cmocka_unit_test(test_roundtrip),      cmocka_unit_test(test_error_and_key),
		cmocka_unit_test(test_truncated),      cmocka_unit_test(test_bad_attrs),
		cmocka_unit_test(test_order_rules),    cmocka_unit_test(test_builder_bounds),
		cmocka_unit_test(test_txn_schedule),   cmocka_unit_test(test_demux),
		cmocka_unit_test(test_binding_client),
	};
	int rv;

	log_init(LL_WARN);
	uv_loop_init(&loop);
	rv = cmocka_run_group_tests(tests, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return rv;
}
