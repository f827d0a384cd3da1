/* Unit tests for src/discovery/record, payload and wire: round trips,
 * hostile records (truncated, bit-flipped, re-signed with bad bodies, huge
 * counts), pick_best ordering and the DHT key derivation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sodium.h>

#include "discovery/payload.h"
#include "discovery/record.h"
#include "discovery/wire.h"
#include "util/mpread.h"

#define NOW 1700000000ull

static const uint8_t seed_a[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
static const uint8_t seed_b[32] = { 42 };

static int setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static int make(enum record_kind kind, const uint8_t *seed, uint64_t seq, uint64_t expires,
		const uint8_t *payload, size_t len, uint8_t *out)
{
	int n = record_encode(kind, seed, seq, expires, payload, len, out, RECORD_MAX);

	assert_true(n > 0);
	return n;
}

/* Builds a record around an arbitrary body, correctly signed by seed: lets
 * the tests reach the body checks that sit behind a valid signature. */
static int sign_raw_body(const uint8_t *seed, const uint8_t *body, size_t body_len, uint8_t *out,
			 size_t outcap)
{
	uint8_t pk[32], sk[64], sig[64], msg[32 + RECORD_MAX];
	size_t dlen = strlen(RECORD_DOMAIN);
	struct wire_writer w;

	crypto_sign_seed_keypair(pk, sk, seed);
	memcpy(msg, RECORD_DOMAIN, dlen);
	memcpy(msg + dlen, body, body_len);
	crypto_sign_detached(sig, NULL, msg, dlen + body_len, sk);
	wire_writer_init(&w, out, outcap);
	wire_write_array(&w, 2);
	wire_write_bin(&w, body, body_len);
	wire_write_bin(&w, sig, 64);
	return wire_writer_finish(&w);
}

static void test_roundtrip(void **state)
{
	static const uint8_t payload[] = "hello payload";
	uint8_t buf[RECORD_MAX], pk[32];
	struct record rec;
	int n;

	(void)state;
	record_seed_pk(seed_a, pk);
	n = make(RECORD_ENDPOINT, seed_a, 7, NOW + 60, payload, sizeof(payload), buf);
	assert_int_equal(record_decode(buf, n, RECORD_ENDPOINT, pk, NOW, &rec), 0);
	assert_int_equal(rec.kind, RECORD_ENDPOINT);
	assert_int_equal(rec.seq, 7);
	assert_int_equal(rec.expires, NOW + 60);
	assert_memory_equal(rec.signer, pk, 32);
	assert_int_equal(rec.payload_len, sizeof(payload));
	assert_memory_equal(rec.payload, payload, sizeof(payload));
	assert_true(rec.payload > buf && rec.payload < buf + n);

	/* Any signer accepted with NULL; big numbers survive. */
	n = make(RECORD_NETWORK, seed_b, UINT64_MAX, UINT64_MAX, NULL, 0, buf);
	assert_int_equal(record_decode(buf, n, RECORD_NETWORK, NULL, NOW, &rec), 0);
	assert_int_equal(rec.seq, UINT64_MAX);
	assert_int_equal(rec.payload_len, 0);
}

static void test_encode_limits(void **state)
{
	static uint8_t payload[RECORD_MAX];
	uint8_t buf[RECORD_MAX];
	struct record rec;
	int n;

	(void)state;
	memset(payload, 0x5a, sizeof(payload));
	n = record_encode(RECORD_ENDPOINT, seed_a, UINT64_MAX, UINT64_MAX, payload,
			  RECORD_PAYLOAD_MAX, buf, sizeof(buf));
	assert_true(n > 0 && n <= RECORD_MAX);
	assert_int_equal(record_decode(buf, n, RECORD_ENDPOINT, NULL, NOW, &rec), 0);
	assert_int_equal(record_encode(RECORD_ENDPOINT, seed_a, 1, NOW + 1, payload,
				       RECORD_PAYLOAD_MAX + 1, buf, sizeof(buf)),
			 -EMSGSIZE);
	assert_int_equal(record_encode(RECORD_ENDPOINT, seed_a, 1, NOW + 1, payload, 10, buf, 50),
			 -EMSGSIZE);
	assert_int_equal(record_encode(4, seed_a, 1, NOW + 1, payload, 10, buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(record_encode(RECORD_ENDPOINT, seed_a, 1, NOW + 1, NULL, 10, buf,
				       sizeof(buf)),
			 -EINVAL);
}

static void test_truncated_every_byte(void **state)
{
	static const uint8_t payload[] = { 1, 2, 3 };
	uint8_t buf[RECORD_MAX];
	struct record rec;
	int n;

	(void)state;
	n = make(RECORD_ENDPOINT, seed_a, 1, NOW + 60, payload, 3, buf);
	for (int i = 0; i < n; i++)
		assert_int_equal(record_decode(buf, i, RECORD_ENDPOINT, NULL, NOW, &rec), -EBADMSG);
}

static void test_bit_flips(void **state)
{
	static const uint8_t payload[] = { 9, 8, 7, 6 };
	uint8_t buf[RECORD_MAX], pk[32];
	struct record rec;
	int n, ret;

	(void)state;
	record_seed_pk(seed_a, pk);
	n = make(RECORD_ENDPOINT, seed_a, 5, NOW + 60, payload, 4, buf);
	for (int i = 0; i < n * 8; i++) {
		buf[i / 8] ^= 1u << (i % 8);
		ret = record_decode(buf, n, RECORD_ENDPOINT, NULL, NOW, &rec);
		assert_true(ret < 0);
		ret = record_decode(buf, n, RECORD_ENDPOINT, pk, NOW, &rec);
		assert_true(ret < 0);
		buf[i / 8] ^= 1u << (i % 8);
	}
	/* The untouched record still verifies, and a flip in the signature
	 * alone is a signature failure, not a parse failure. */
	assert_int_equal(record_decode(buf, n, RECORD_ENDPOINT, pk, NOW, &rec), 0);
	buf[n - 1] ^= 0x01;
	assert_int_equal(record_decode(buf, n, RECORD_ENDPOINT, pk, NOW, &rec), -EKEYREJECTED);
	buf[n - 1] ^= 0x01;
	buf[n - 40] ^= 0x80;
	assert_int_equal(record_decode(buf, n, RECORD_ENDPOINT, pk, NOW, &rec), -EKEYREJECTED);
}

static void test_kind_signer_expiry(void **state)
{
	uint8_t buf[RECORD_MAX], pk_a[32], pk_b[32];
	struct record rec;
	int n;

	(void)state;
	record_seed_pk(seed_a, pk_a);
	record_seed_pk(seed_b, pk_b);
	n = make(RECORD_NETWORK, seed_a, 1, NOW + 10, (const uint8_t *)"x", 1, buf);
	assert_int_equal(record_decode(buf, n, RECORD_ENDPOINT, pk_a, NOW, &rec), -ENOMSG);
	assert_int_equal(record_decode(buf, n, RECORD_NETWORK, pk_b, NOW, &rec), -EPERM);
	assert_int_equal(record_decode(buf, n, RECORD_NETWORK, pk_a, NOW + 10, &rec), -ETIME);
	assert_int_equal(record_decode(buf, n, RECORD_NETWORK, pk_a, NOW + 11, &rec), -ETIME);
	assert_int_equal(record_decode(buf, n, RECORD_NETWORK, pk_a, NOW + 9, &rec), 0);
	n = make(RECORD_CONTACT, seed_a, 1, NOW + 10, (const uint8_t *)"x", 1, buf);
	assert_int_equal(record_decode(buf, n, RECORD_NETWORK, pk_a, NOW, &rec), -ENOMSG);
	assert_int_equal(record_decode(buf, n, RECORD_CONTACT, pk_a, NOW, &rec), 0);

	/* An impostor signing a record that names someone else as signer is
	 * caught by the signature, since it is checked against the body. */
	{
		uint8_t body[128], out[256];
		struct wire_writer w;
		int bl, ol;

		wire_writer_init(&w, body, sizeof(body));
		wire_write_array(&w, 6);
		wire_write_uint(&w, 1);
		wire_write_uint(&w, RECORD_NETWORK);
		wire_write_bin(&w, pk_a, 32);
		wire_write_uint(&w, 99);
		wire_write_uint(&w, NOW + 100);
		wire_write_bin(&w, (const uint8_t *)"evil", 4);
		bl = wire_writer_finish(&w);
		assert_true(bl > 0);
		ol = sign_raw_body(seed_b, body, bl, out, sizeof(out));
		assert_true(ol > 0);
		assert_int_equal(record_decode(out, ol, RECORD_NETWORK, pk_a, NOW, &rec),
				 -EKEYREJECTED);
		assert_int_equal(record_decode(out, ol, RECORD_NETWORK, NULL, NOW, &rec),
				 -EKEYREJECTED);
	}
}

static void test_trailing_and_oversize(void **state)
{
	static uint8_t big[RECORD_MAX + 16];
	uint8_t buf[RECORD_MAX + 8];
	struct record rec;
	int n;

	(void)state;
	n = make(RECORD_ENDPOINT, seed_a, 1, NOW + 60, (const uint8_t *)"ab", 2, buf);
	buf[n] = 0xc0;
	assert_int_equal(record_decode(buf, n + 1, RECORD_ENDPOINT, NULL, NOW, &rec), -EBADMSG);
	memset(big, 0, sizeof(big));
	memcpy(big, buf, n);
	assert_int_equal(record_decode(big, RECORD_MAX + 1, RECORD_ENDPOINT, NULL, NOW, &rec),
			 -EMSGSIZE);
	assert_int_equal(record_decode(big, sizeof(big), RECORD_ENDPOINT, NULL, NOW, &rec),
			 -EMSGSIZE);
}

/* Bodies with a valid signature but a shape the decoder must refuse. */
static void test_bad_bodies(void **state)
{
	uint8_t pk[32], body[256], out[512];
	struct wire_writer w;
	struct record rec;
	int bl, ol;

	(void)state;
	record_seed_pk(seed_a, pk);
	for (int variant = 0; variant < 9; variant++) {
		wire_writer_init(&w, body, sizeof(body));
		wire_write_array(&w, variant == 0 ? 7 : variant == 1 ? 5 : 6);
		wire_write_uint(&w, variant == 2 ? 2 : 1); /* version */
		wire_write_uint(&w, variant == 3 ? 4 : variant == 4 ? 0 : RECORD_ENDPOINT);
		wire_write_bin(&w, pk, variant == 5 ? 31 : 32);
		if (variant == 6)
			wire_write_bin(&w, (const uint8_t *)"12345678", 8);
		else
			wire_write_uint(&w, 1); /* seq */
		wire_write_uint(&w, NOW + 100);
		if (variant != 1)
			wire_write_bin(&w, (const uint8_t *)"p", 1);
		if (variant == 0 || variant == 7)
			wire_write_nil(&w); /* extra field / trailing */
		if (variant == 8)
			wire_write_array(&w, 0);
		bl = wire_writer_finish(&w);
		assert_true(bl > 0);
		ol = sign_raw_body(seed_a, body, bl, out, sizeof(out));
		assert_true(ol > 0);
		assert_int_equal(record_decode(out, ol, RECORD_ENDPOINT, pk, NOW, &rec), -EBADMSG);
	}
	/* The same construction with a good body passes: the variants above
	 * fail for their defect, not for the construction. */
	wire_writer_init(&w, body, sizeof(body));
	wire_write_array(&w, 6);
	wire_write_uint(&w, 1);
	wire_write_uint(&w, RECORD_ENDPOINT);
	wire_write_bin(&w, pk, 32);
	wire_write_uint(&w, 1);
	wire_write_uint(&w, NOW + 100);
	wire_write_bin(&w, (const uint8_t *)"p", 1);
	bl = wire_writer_finish(&w);
	ol = sign_raw_body(seed_a, body, bl, out, sizeof(out));
	assert_int_equal(record_decode(out, ol, RECORD_ENDPOINT, pk, NOW, &rec), 0);
}

static void test_huge_counts(void **state)
{
	/* array32 claiming 4 billion elements; bin32 claiming 4 GiB; a body
	 * bin whose length runs past the end; a map; str instead of bin. */
	static const uint8_t arr[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0 };
	static const uint8_t bin[] = { 0x92, 0xc6, 0xff, 0xff, 0xff, 0xff, 0 };
	static const uint8_t past[] = { 0x92, 0xc4, 0x10, 1, 2, 3 };
	static const uint8_t map[] = { 0x82, 0xc4, 0x00, 0xc4, 0x00 };
	static const uint8_t str[] = { 0x92, 0xa1, 'x', 0xc4, 0x00 };
	static const uint8_t arr16[] = { 0xdc, 0xff, 0xff };
	struct endpoint_payload ep;
	struct network_payload np;
	struct record rec;

	(void)state;
	assert_int_equal(record_decode(arr, sizeof(arr), RECORD_ENDPOINT, NULL, NOW, &rec),
			 -EBADMSG);
	assert_int_equal(record_decode(bin, sizeof(bin), RECORD_ENDPOINT, NULL, NOW, &rec),
			 -EBADMSG);
	assert_int_equal(record_decode(past, sizeof(past), RECORD_ENDPOINT, NULL, NOW, &rec),
			 -EBADMSG);
	assert_int_equal(record_decode(map, sizeof(map), RECORD_ENDPOINT, NULL, NOW, &rec),
			 -EBADMSG);
	assert_int_equal(record_decode(str, sizeof(str), RECORD_ENDPOINT, NULL, NOW, &rec),
			 -EBADMSG);
	assert_int_equal(record_decode(arr16, sizeof(arr16), RECORD_ENDPOINT, NULL, NOW, &rec),
			 -EBADMSG);
	assert_int_equal(record_decode(arr, 0, RECORD_ENDPOINT, NULL, NOW, &rec), -EBADMSG);
	assert_int_equal(endpoint_payload_decode(arr, sizeof(arr), &ep), -EBADMSG);
	assert_int_equal(network_payload_decode(arr, sizeof(arr), &np), -EBADMSG);
}

static void test_pick_best(void **state)
{
	uint8_t bufs[6][RECORD_MAX];
	struct record recs[6], perm[6];
	static const uint64_t seqs[6] = { 3, 9, 1, 9, 9, 0 };
	static const uint64_t exps[6] = { 500, 400, 900, 400, 300, 999 };
	int best, n;

	(void)state;
	assert_int_equal(record_pick_best(NULL, 0), -ENOENT);
	for (int i = 0; i < 6; i++) {
		uint8_t payload = (uint8_t)(0x10 + i);

		n = make(RECORD_ENDPOINT, seed_a, seqs[i], NOW + exps[i], &payload, 1, bufs[i]);
		assert_int_equal(record_decode(bufs[i], n, RECORD_ENDPOINT, NULL, NOW, &recs[i]),
				 0);
	}
	assert_int_equal(record_pick_best(recs, 1), 0);
	assert_int_equal(record_pick_best(recs, 3), 1);
	/* 1 and 3 tie on seq and expiry: the greater body wins, and the same
	 * record wins whatever the order (payload 0x13 > 0x11). */
	best = record_pick_best(recs, 6);
	assert_int_equal(best, 3);
	for (int rot = 0; rot < 6; rot++) {
		for (int i = 0; i < 6; i++)
			perm[i] = recs[(i + rot) % 6];
		best = record_pick_best(perm, 6);
		assert_int_equal(perm[best].seq, 9);
		assert_memory_equal(perm[best].body, recs[3].body, recs[3].body_len);
	}
	/* Equal seq: the later expiry wins over the body. */
	recs[4].expires = recs[3].expires + 1;
	assert_int_equal(record_pick_best(recs, 6), 4);
}

static void test_dht_key(void **state)
{
	uint8_t pk[32], k1[20], k2[20], want[20];
	char hex[65], name[128];

	(void)state;
	record_seed_pk(seed_a, pk);
	assert_int_equal(record_dht_key(RECORD_ENDPOINT, pk, k1), 0);
	assert_int_equal(record_dht_key(RECORD_NETWORK, pk, k2), 0);
	assert_memory_not_equal(k1, k2, 20);
	sodium_bin2hex(hex, sizeof(hex), pk, 32);
	snprintf(name, sizeof(name), "rayfish/v1/endpoint/%s", hex);
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA1, name, strlen(name), want), 0);
	assert_memory_equal(k1, want, 20);
	snprintf(name, sizeof(name), "rayfish/v1/network/%s", hex);
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA1, name, strlen(name), want), 0);
	assert_memory_equal(k2, want, 20);
	assert_int_equal(record_dht_key(RECORD_CONTACT, pk, k2), 0);
	snprintf(name, sizeof(name), "rayfish/v1/contact/%s", hex);
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA1, name, strlen(name), want), 0);
	assert_memory_equal(k2, want, 20);
	assert_int_equal(record_dht_key(7, pk, k1), -EINVAL);
}

static void set4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
}

static void set6(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
}

static void test_endpoint_payload(void **state)
{
	struct endpoint_payload in, out;
	uint8_t buf[1024];
	int n;

	(void)state;
	memset(&in, 0, sizeof(in));
	set4(&in.addrs[0], "203.0.113.7", 41383);
	set6(&in.addrs[1], "2001:db8::1", 5);
	in.n_addrs = 2;
	in.has_relay = true;
	set4(&in.relay, "198.51.100.1", 3478);
	in.has_timestamp = true;
	in.timestamp = NOW;
	n = endpoint_payload_encode(&in, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(endpoint_payload_decode(buf, n, &out), 0);
	assert_int_equal(out.n_addrs, 2);
	assert_memory_equal(&out.addrs[0], &in.addrs[0], sizeof(struct sockaddr_in));
	assert_memory_equal(&out.addrs[1], &in.addrs[1], sizeof(struct sockaddr_in6));
	assert_true(out.has_relay);
	assert_memory_equal(&out.relay, &in.relay, sizeof(struct sockaddr_in));
	assert_true(out.has_timestamp);
	assert_int_equal(out.timestamp, NOW);
	for (int i = 0; i < n; i++)
		assert_int_equal(endpoint_payload_decode(buf, i, &out), -EBADMSG);
	buf[n] = 0;
	assert_int_equal(endpoint_payload_decode(buf, n + 1, &out), -EBADMSG);

	/* Optional parts absent; the full 16 addresses. */
	in.has_relay = in.has_timestamp = false;
	for (int i = 0; i < ENDPOINT_ADDRS_MAX; i++)
		set6(&in.addrs[i], "2001:db8::2", (uint16_t)(1000 + i));
	in.n_addrs = ENDPOINT_ADDRS_MAX;
	n = endpoint_payload_encode(&in, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(endpoint_payload_decode(buf, n, &out), 0);
	assert_int_equal(out.n_addrs, 16);
	assert_false(out.has_relay);
	assert_false(out.has_timestamp);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&out.addrs[15])->sin6_port), 1015);

	in.n_addrs = ENDPOINT_ADDRS_MAX + 1;
	assert_int_equal(endpoint_payload_encode(&in, buf, sizeof(buf)), -EINVAL);
	in.n_addrs = 1;
	set4(&in.addrs[0], "203.0.113.7", 0);
	assert_int_equal(endpoint_payload_encode(&in, buf, sizeof(buf)), -EINVAL);
	in.addrs[0].ss_family = AF_UNIX;
	assert_int_equal(endpoint_payload_encode(&in, buf, sizeof(buf)), -EINVAL);
	set4(&in.addrs[0], "203.0.113.7", 1);
	assert_int_equal(endpoint_payload_encode(&in, buf, 5), -EMSGSIZE);
}

static void test_endpoint_payload_hostile(void **state)
{
	/* 17 addresses; port 0; a 5-byte address; str timestamp; relay as
	 * array; counts that lie. */
	static const uint8_t seventeen[] = { 0x93, 0xdc, 0x00, 0x11 };
	static const uint8_t port0[] = { 0x93, 0x91, 0xc4, 6, 1, 2, 3, 4, 0, 0, 0xc0, 0xc0 };
	static const uint8_t len5[] = { 0x93, 0x91, 0xc4, 5, 1, 2, 3, 4, 0, 0xc0, 0xc0 };
	static const uint8_t ts_str[] = { 0x93, 0x90, 0xc0, 0xa1, '1' };
	static const uint8_t relay_arr[] = { 0x93, 0x90, 0x90, 0xc0 };
	static const uint8_t two[] = { 0x92, 0x90, 0xc0 };
	static const uint8_t lie[] = { 0x93, 0x9f, 0xc0 };
	static const uint8_t ok[] = { 0x93, 0x90, 0xc0, 0xc0 };
	struct endpoint_payload p;

	(void)state;
	assert_int_equal(endpoint_payload_decode(seventeen, sizeof(seventeen), &p), -EBADMSG);
	assert_int_equal(endpoint_payload_decode(port0, sizeof(port0), &p), -EBADMSG);
	assert_int_equal(endpoint_payload_decode(len5, sizeof(len5), &p), -EBADMSG);
	assert_int_equal(endpoint_payload_decode(ts_str, sizeof(ts_str), &p), -EBADMSG);
	assert_int_equal(endpoint_payload_decode(relay_arr, sizeof(relay_arr), &p), -EBADMSG);
	assert_int_equal(endpoint_payload_decode(two, sizeof(two), &p), -EBADMSG);
	assert_int_equal(endpoint_payload_decode(lie, sizeof(lie), &p), -EBADMSG);
	assert_int_equal(endpoint_payload_decode(ok, sizeof(ok), &p), 0);
	assert_int_equal(p.n_addrs, 0);
	assert_int_equal(p.flags, 0);
}

/* The optional flags field: written only when set, unknown bits kept (and
 * ignored by the daemon), anything but a uint refused, never a fifth. */
static void test_endpoint_flags(void **state)
{
	static const uint8_t three[] = { 0x93, 0x90, 0xc0, 0xc0 };
	static const uint8_t four[] = { 0x94, 0x90, 0xc0, 0xc0, 0x01 };
	static const uint8_t future[] = { 0x94, 0x90, 0xc0, 0xc0, 0xcd, 0x80, 0x01 };
	static const uint8_t str[] = { 0x94, 0x90, 0xc0, 0xc0, 0xa1, '1' };
	static const uint8_t nil[] = { 0x94, 0x90, 0xc0, 0xc0, 0xc0 };
	static const uint8_t five[] = { 0x95, 0x90, 0xc0, 0xc0, 0x01, 0x01 };
	static const uint8_t short4[] = { 0x94, 0x90, 0xc0, 0xc0 };
	struct endpoint_payload in, out;
	uint8_t buf[64];
	int n;

	(void)state;
	memset(&in, 0, sizeof(in));
	n = endpoint_payload_encode(&in, buf, sizeof(buf));
	assert_int_equal(n, sizeof(three));
	assert_memory_equal(buf, three, sizeof(three));
	in.flags = ENDPOINT_FLAG_RELAY;
	n = endpoint_payload_encode(&in, buf, sizeof(buf));
	assert_int_equal(n, sizeof(four));
	assert_memory_equal(buf, four, sizeof(four));
	assert_int_equal(endpoint_payload_decode(four, sizeof(four), &out), 0);
	assert_int_equal(out.flags, ENDPOINT_FLAG_RELAY);
	assert_int_equal(endpoint_payload_decode(future, sizeof(future), &out), 0);
	assert_int_equal(out.flags, 0x8001);
	assert_int_equal(endpoint_payload_decode(str, sizeof(str), &out), -EBADMSG);
	assert_int_equal(endpoint_payload_decode(nil, sizeof(nil), &out), -EBADMSG);
	assert_int_equal(endpoint_payload_decode(five, sizeof(five), &out), -EBADMSG);
	assert_int_equal(endpoint_payload_decode(short4, sizeof(short4), &out), -EBADMSG);
}

static void test_network_payload(void **state)
{
	struct network_payload in, out;
	uint8_t buf[1024];
	int n;

	(void)state;
	memset(&in, 0, sizeof(in));
	memset(in.blob_hash, 0xbb, 32);
	in.n_seeds = NETWORK_SEEDS_MAX;
	for (int i = 0; i < NETWORK_SEEDS_MAX; i++)
		memset(in.seeds[i], i + 1, 32);
	in.mesh_version = UINT32_MAX;
	n = network_payload_encode(&in, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(network_payload_decode(buf, n, &out), 0);
	assert_memory_equal(&out, &in, sizeof(in));
	for (int i = 0; i < n; i++)
		assert_int_equal(network_payload_decode(buf, i, &out), -EBADMSG);
	buf[n] = 0x01;
	assert_int_equal(network_payload_decode(buf, n + 1, &out), -EBADMSG);

	in.n_seeds = NETWORK_SEEDS_MAX + 1;
	assert_int_equal(network_payload_encode(&in, buf, sizeof(buf)), -EINVAL);
	in.n_seeds = 0;
	in.mesh_version = 3;
	n = network_payload_encode(&in, buf, sizeof(buf));
	assert_int_equal(network_payload_decode(buf, n, &out), 0);
	assert_int_equal(out.n_seeds, 0);
	assert_int_equal(out.mesh_version, 3);
}

static void test_network_payload_hostile(void **state)
{
	uint8_t buf[128];
	struct network_payload p;
	struct wire_writer w;
	uint8_t h[33] = { 0 };
	int n;

	(void)state;
	/* mesh_version above u32 */
	wire_writer_init(&w, buf, sizeof(buf));
	wire_write_array(&w, 3);
	wire_write_bin(&w, h, 32);
	wire_write_array(&w, 0);
	wire_write_uint(&w, (uint64_t)UINT32_MAX + 1);
	n = wire_writer_finish(&w);
	assert_int_equal(network_payload_decode(buf, n, &p), -EBADMSG);
	/* 31- and 33-byte hash */
	for (size_t len = 31; len <= 33; len += 2) {
		wire_writer_init(&w, buf, sizeof(buf));
		wire_write_array(&w, 3);
		wire_write_bin(&w, h, len);
		wire_write_array(&w, 0);
		wire_write_uint(&w, 1);
		n = wire_writer_finish(&w);
		assert_int_equal(network_payload_decode(buf, n, &p), -EBADMSG);
	}
	/* 17 seeds claimed */
	wire_writer_init(&w, buf, sizeof(buf));
	wire_write_array(&w, 3);
	wire_write_bin(&w, h, 32);
	wire_write_array(&w, 17);
	n = wire_writer_finish(&w);
	assert_int_equal(network_payload_decode(buf, n, &p), -EBADMSG);
	/* a seed of the wrong length */
	wire_writer_init(&w, buf, sizeof(buf));
	wire_write_array(&w, 3);
	wire_write_bin(&w, h, 32);
	wire_write_array(&w, 1);
	wire_write_bin(&w, h, 16);
	wire_write_uint(&w, 1);
	n = wire_writer_finish(&w);
	assert_int_equal(network_payload_decode(buf, n, &p), -EBADMSG);
}

static void test_contact_payload(void **state)
{
	struct contact_payload in = { 0 }, out;
	/* array(1)[nil], array(1)[bin(31)], array(2)[nil, nil], array(1)[str] */
	const uint8_t retired[] = { 0x91, 0xc0 }, short31[] = { 0x91, 0xc4, 31 },
		      two[] = { 0x92, 0xc0, 0xc0 }, str[] = { 0x91, 0xa1, 'x' };
	uint8_t buf[64], big[40];
	int n;

	(void)state;
	memset(in.endpoint, 0xab, sizeof(in.endpoint));
	n = contact_payload_encode(&in, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(contact_payload_decode(buf, n, &out), 0);
	assert_false(out.retired);
	assert_memory_equal(out.endpoint, in.endpoint, 32);
	for (int i = 0; i < n; i++)
		assert_int_equal(contact_payload_decode(buf, i, &out), -EBADMSG);
	buf[n] = 0xc0;
	assert_int_equal(contact_payload_decode(buf, n + 1, &out), -EBADMSG);
	assert_int_equal(contact_payload_encode(&in, buf, 10), -EMSGSIZE);

	in.retired = true;
	n = contact_payload_encode(&in, buf, sizeof(buf));
	assert_int_equal(n, sizeof(retired));
	assert_memory_equal(buf, retired, sizeof(retired));
	assert_int_equal(contact_payload_decode(retired, sizeof(retired), &out), 0);
	assert_true(out.retired);

	memset(big, 0, sizeof(big));
	memcpy(big, short31, sizeof(short31));
	assert_int_equal(contact_payload_decode(big, 3 + 31, &out), -EBADMSG);
	assert_int_equal(contact_payload_decode(two, sizeof(two), &out), -EBADMSG);
	assert_int_equal(contact_payload_decode(str, sizeof(str), &out), -EBADMSG);
}

static void test_wire_widths(void **state)
{
	/* Every unsigned width decodes; signed ints and overflowing writes
	 * do not pass. */
	static const uint8_t u[] = { 0x05, 0xcc, 0xff, 0xcd, 0x01, 0x00, 0xce, 0x00,
				     0x01, 0x00, 0x00, 0xcf, 0x80, 0,    0,    0,
				     0,    0,    0,    0,    0xd0, 0x01 };
	static const uint64_t want[] = { 5, 255, 256, 65536, 0x8000000000000000ull };
	struct mp_reader r;
	struct wire_writer w;
	uint8_t small[3];
	uint64_t v;

	(void)state;
	mp_reader_init(&r, u, sizeof(u));
	for (int i = 0; i < 5; i++) {
		assert_int_equal(mp_read_uint(&r, &v), 0);
		assert_int_equal(v, want[i]);
	}
	assert_int_equal(mp_read_uint(&r, &v), -EBADMSG);
	assert_int_equal(mp_reader_left(&r), 2);
	wire_writer_init(&w, small, sizeof(small));
	wire_write_uint(&w, 1);
	wire_write_uint(&w, 1000);
	assert_int_equal(wire_writer_finish(&w), -EMSGSIZE);
	/* truncated uint64 */
	mp_reader_init(&r, u + 11, 5);
	assert_int_equal(mp_read_uint(&r, &v), -EBADMSG);
	assert_int_equal(mp_read_nil(&r), 0);
	mp_reader_init(&r, u, 0);
	assert_int_equal(mp_read_nil(&r), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_truncated_every_byte),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_kind_signer_expiry),
		cmocka_unit_test(test_trailing_and_oversize),
		cmocka_unit_test(test_bad_bodies),
		cmocka_unit_test(test_huge_counts),
		cmocka_unit_test(test_pick_best),
		cmocka_unit_test(test_dht_key),
		cmocka_unit_test(test_endpoint_payload),
		cmocka_unit_test(test_endpoint_payload_hostile),
		cmocka_unit_test(test_endpoint_flags),
		cmocka_unit_test(test_network_payload),
		cmocka_unit_test(test_network_payload_hostile),
		cmocka_unit_test(test_contact_payload),
		cmocka_unit_test(test_wire_widths),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
