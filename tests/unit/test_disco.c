/*
 * test_disco: the sealed disco ping/pong codec (transport/disco.h).
 *
 * Round trips for pings and pongs (IPv4, IPv6 and unknown observed
 * address), the sender in clear, key agreement from both ends, keys that
 * are not usable points, and hostile packets: every single-bit flip, every
 * truncation, one extra byte, bad magic and version. The decoder's checks
 * behind the MAC (message type, body length against type, the pong's
 * address encoding) can only be reached by a packet that authenticates, so
 * those cases seal hand-made plaintexts with libsodium directly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <sodium.h>

#include "mesh/identity.h"
#include "transport/disco.h"
#include "util/log.h"

#define PING_BODY (1 + DISCO_TXID_LEN)
#define PONG_BODY (PING_BODY + 1 + 2 + 16)
#define PING_PKT (DISCO_HDR_LEN + crypto_box_MACBYTES + PING_BODY)
#define PONG_PKT (DISCO_HDR_LEN + crypto_box_MACBYTES + PONG_BODY)
#define KEY_OFF (MAGICSOCK_DISCO_MAGIC_LEN + 1)
#define NONCE_OFF (KEY_OFF + DISCO_KEY_LEN)

/* Three identities: a and b talk, c is the outsider. */
struct keys {
	struct identity a, b, c;
	uint8_t a_curve[DISCO_KEY_LEN], b_curve[DISCO_KEY_LEN];
	uint8_t c_curve[DISCO_KEY_LEN];
	uint8_t ab[DISCO_KEY_LEN]; /* a's view of the a-b key */
	uint8_t ba[DISCO_KEY_LEN]; /* b's view */
	uint8_t cb[DISCO_KEY_LEN]; /* c's key with b */
};

static struct keys K;

static void keys_make(void)
{
	uint8_t seed[IDENTITY_SEED_LEN];

	memset(seed, 0xa1, sizeof(seed));
	assert_int_equal(identity_from_seed(seed, &K.a), 0);
	memset(seed, 0xb2, sizeof(seed));
	assert_int_equal(identity_from_seed(seed, &K.b), 0);
	memset(seed, 0xc3, sizeof(seed));
	assert_int_equal(identity_from_seed(seed, &K.c), 0);
	assert_int_equal(disco_secret_from_ed25519(K.a_curve, K.a.sk), 0);
	assert_int_equal(disco_secret_from_ed25519(K.b_curve, K.b.sk), 0);
	assert_int_equal(disco_secret_from_ed25519(K.c_curve, K.c.sk), 0);
	assert_int_equal(disco_shared_key(K.ab, K.a_curve, K.b.pk), 0);
	assert_int_equal(disco_shared_key(K.ba, K.b_curve, K.a.pk), 0);
	assert_int_equal(disco_shared_key(K.cb, K.c_curve, K.b.pk), 0);
}

static int setup(void **state)
{
	(void)state;
	keys_make();
	return 0;
}

static void msg_ping(struct disco_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = DISCO_PING;
	disco_txid(m->txid);
}

static void msg_pong(struct disco_msg *m, const char *addr, uint16_t port)
{
	memset(m, 0, sizeof(*m));
	m->type = DISCO_PONG;
	disco_txid(m->txid);
	if (addr == NULL)
		return;
	if (strchr(addr, ':')) {
		m->observed.in6.sin6_family = AF_INET6;
		m->observed.in6.sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, addr, &m->observed.in6.sin6_addr), 1);
	} else {
		m->observed.in.sin_family = AF_INET;
		m->observed.in.sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, addr, &m->observed.in.sin_addr), 1);
	}
}

/* Same message: type, txid and the observed address (family, port, ip). */
static void assert_msg_eq(const struct disco_msg *x, const struct disco_msg *y)
{
	assert_int_equal(x->type, y->type);
	assert_memory_equal(x->txid, y->txid, DISCO_TXID_LEN);
	assert_int_equal(x->observed.sa.sa_family, y->observed.sa.sa_family);
	if (x->observed.sa.sa_family == AF_INET) {
		assert_int_equal(x->observed.in.sin_port, y->observed.in.sin_port);
		assert_memory_equal(&x->observed.in.sin_addr, &y->observed.in.sin_addr, 4);
	} else if (x->observed.sa.sa_family == AF_INET6) {
		assert_int_equal(x->observed.in6.sin6_port, y->observed.in6.sin6_port);
		assert_memory_equal(&x->observed.in6.sin6_addr, &y->observed.in6.sin6_addr, 16);
	}
}

static int zeroed(const struct disco_msg *m)
{
	static const struct disco_msg z;

	return memcmp(m, &z, sizeof(z)) == 0;
}

/* a seals m for b, b checks the sender and opens it. */
static int round_trip(const struct disco_msg *m, uint8_t *pkt)
{
	struct disco_msg got;
	uint8_t pk[DISCO_KEY_LEN];
	int n;

	n = disco_seal(pkt, DISCO_MAX_LEN, K.a.pk, K.ab, m);
	assert_true(n > 0);
	assert_int_equal(n, m->type == DISCO_PING ? PING_PKT : PONG_PKT);
	assert_true(n <= DISCO_MAX_LEN);
	assert_memory_equal(pkt, MAGICSOCK_DISCO_MAGIC, MAGICSOCK_DISCO_MAGIC_LEN);
	assert_int_equal(pkt[MAGICSOCK_DISCO_MAGIC_LEN], DISCO_VERSION);
	assert_int_equal(disco_sender(pkt, (size_t)n, pk), 0);
	assert_memory_equal(pk, K.a.pk, DISCO_KEY_LEN);
	assert_int_equal(disco_open(pkt, (size_t)n, K.ba, &got), 0);
	assert_msg_eq(&got, m);
	return n;
}

static void test_round_trip(void **state)
{
	struct disco_msg m, got;
	uint8_t pkt[DISCO_MAX_LEN], pkt2[DISCO_MAX_LEN];
	int n, n2;

	(void)state;
	msg_ping(&m);
	n = round_trip(&m, pkt);
	/* Fresh nonce each time: two seals of one message differ. */
	n2 = disco_seal(pkt2, sizeof(pkt2), K.a.pk, K.ab, &m);
	assert_int_equal(n2, n);
	assert_memory_not_equal(pkt + NONCE_OFF, pkt2 + NONCE_OFF, 24);

	msg_pong(&m, "192.0.2.7", 41383);
	round_trip(&m, pkt);
	msg_pong(&m, "2001:db8::1:2", 65535);
	round_trip(&m, pkt);
	msg_pong(&m, "::ffff:198.51.100.1", 1);
	round_trip(&m, pkt);
	msg_pong(&m, NULL, 0); /* family 0: sender did not know */
	round_trip(&m, pkt);

	/* A ping carries no address even if the caller left one set. */
	msg_pong(&m, "192.0.2.7", 9);
	m.type = DISCO_PING;
	n = disco_seal(pkt, sizeof(pkt), K.a.pk, K.ab, &m);
	assert_int_equal(n, PING_PKT);
	assert_int_equal(disco_open(pkt, (size_t)n, K.ba, &got), 0);
	assert_int_equal(got.type, DISCO_PING);
	assert_int_equal(got.observed.sa.sa_family, 0);

	/* b answers a: the other direction works with b's view of the key. */
	msg_pong(&m, "203.0.113.5", 7);
	n = disco_seal(pkt, sizeof(pkt), K.b.pk, K.ba, &m);
	assert_int_equal(n, PONG_PKT);
	assert_int_equal(disco_open(pkt, (size_t)n, K.ab, &got), 0);
	assert_msg_eq(&got, &m);
}

static void test_seal_args(void **state)
{
	struct disco_msg m;
	uint8_t pkt[DISCO_MAX_LEN];

	(void)state;
	msg_pong(&m, "192.0.2.1", 1);
	assert_int_equal(disco_seal(pkt, DISCO_MAX_LEN - 1, K.a.pk, K.ab, &m), -EINVAL);
	assert_int_equal(disco_seal(pkt, 0, K.a.pk, K.ab, &m), -EINVAL);
	m.type = 0;
	assert_int_equal(disco_seal(pkt, sizeof(pkt), K.a.pk, K.ab, &m), -EINVAL);
	m.type = 3;
	assert_int_equal(disco_seal(pkt, sizeof(pkt), K.a.pk, K.ab, &m), -EINVAL);
}

static void test_keys(void **state)
{
	uint8_t sh[DISCO_KEY_LEN], bad[DISCO_KEY_LEN], txa[DISCO_TXID_LEN];
	uint8_t txb[DISCO_TXID_LEN];

	(void)state;
	/* Both ends agree; the outsider's key with b is another key. */
	assert_memory_equal(K.ab, K.ba, DISCO_KEY_LEN);
	assert_memory_not_equal(K.ab, K.cb, DISCO_KEY_LEN);
	/* Deterministic: the same inputs give the same key. */
	assert_int_equal(disco_shared_key(sh, K.a_curve, K.b.pk), 0);
	assert_memory_equal(sh, K.ab, DISCO_KEY_LEN);

	/* All zero: a low-order point (y = 0). */
	memset(bad, 0, sizeof(bad));
	assert_int_equal(disco_shared_key(sh, K.a_curve, bad), -EINVAL);
	/* The identity point (y = 1). */
	bad[0] = 1;
	assert_int_equal(disco_shared_key(sh, K.a_curve, bad), -EINVAL);
	/* y = -1, order 2. */
	memset(bad, 0xff, sizeof(bad));
	bad[0] = 0xec;
	bad[31] = 0x7f;
	assert_int_equal(disco_shared_key(sh, K.a_curve, bad), -EINVAL);
	/* y = 2 is not on the curve (x^2 has no root). */
	memset(bad, 0, sizeof(bad));
	bad[0] = 2;
	assert_int_equal(disco_shared_key(sh, K.a_curve, bad), -EINVAL);

	/* Transaction ids are random. */
	disco_txid(txa);
	disco_txid(txb);
	assert_memory_not_equal(txa, txb, DISCO_TXID_LEN);
}

static void test_wrong_key(void **state)
{
	struct disco_msg m, got;
	uint8_t pkt[DISCO_MAX_LEN], pk[DISCO_KEY_LEN];
	int n;

	(void)state;
	/* c seals for b but claims to be a: b derives the a-b key, the box
	 * does not open. */
	msg_pong(&m, "192.0.2.1", 5);
	n = disco_seal(pkt, sizeof(pkt), K.a.pk, K.cb, &m);
	assert_int_equal(disco_sender(pkt, (size_t)n, pk), 0);
	assert_memory_equal(pk, K.a.pk, DISCO_KEY_LEN);
	assert_int_equal(disco_open(pkt, (size_t)n, K.ba, &got), -EBADMSG);
	assert_true(zeroed(&got));
	/* A packet of a for b does not open under c's key either. */
	msg_ping(&m);
	n = disco_seal(pkt, sizeof(pkt), K.a.pk, K.ab, &m);
	assert_int_equal(disco_open(pkt, (size_t)n, K.cb, &got), -EBADMSG);
	assert_true(zeroed(&got));
}

/*
 * A flipped bit fails either in disco_sender (magic, version) or at the MAC
 * (nonce, box). The sender key is not under the MAC: a flip there names
 * another sender, and the receiver then opens with the key it shares with
 * that claimed sender, which must fail. (Flipping the top bit of the last
 * key byte negates the Ed25519 point, which maps to the same X25519 key:
 * that packet does open, under a sender key nobody holds; the receiver
 * looks peers up by the exact key bytes, so it is still dropped.)
 */
static void flip_all(const uint8_t *orig, int n)
{
	uint8_t pkt[DISCO_MAX_LEN], pk[DISCO_KEY_LEN], sh[DISCO_KEY_LEN];
	struct disco_msg got;
	int i, bit;

	for (i = 0; i < n; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(pkt, orig, (size_t)n);
			pkt[i] ^= (uint8_t)(1u << bit);
			if (i < KEY_OFF) {
				assert_int_equal(disco_sender(pkt, (size_t)n, pk), -EBADMSG);
				assert_int_equal(disco_open(pkt, (size_t)n, K.ba, &got), -EBADMSG);
				continue;
			}
			assert_int_equal(disco_sender(pkt, (size_t)n, pk), 0);
			if (i >= NONCE_OFF) {
				assert_memory_equal(pk, K.a.pk, DISCO_KEY_LEN);
				assert_int_equal(disco_open(pkt, (size_t)n, K.ba, &got), -EBADMSG);
				assert_true(zeroed(&got));
				continue;
			}
			assert_memory_not_equal(pk, K.a.pk, DISCO_KEY_LEN);
			if (i == NONCE_OFF - 1 && bit == 7) {
				assert_int_equal(disco_shared_key(sh, K.b_curve, pk), 0);
				assert_memory_equal(sh, K.ba, DISCO_KEY_LEN);
				continue;
			}
			if (disco_shared_key(sh, K.b_curve, pk) < 0)
				continue;
			assert_int_equal(disco_open(pkt, (size_t)n, sh, &got), -EBADMSG);
		}
	}
}

static void test_bit_flips(void **state)
{
	struct disco_msg m;
	uint8_t pkt[DISCO_MAX_LEN];
	int n;

	(void)state;
	msg_ping(&m);
	n = disco_seal(pkt, sizeof(pkt), K.a.pk, K.ab, &m);
	flip_all(pkt, n);
	msg_pong(&m, "2001:db8::5", 443);
	n = disco_seal(pkt, sizeof(pkt), K.a.pk, K.ab, &m);
	flip_all(pkt, n);
}

static void cut_all(const uint8_t *orig, int n)
{
	uint8_t pkt[DISCO_MAX_LEN + 1], pk[DISCO_KEY_LEN];
	struct disco_msg got;
	int len;

	memcpy(pkt, orig, (size_t)n);
	for (len = 0; len < n; len++) {
		/* A pong cut to ping size passes the length check: the MAC
		 * is what stops it. */
		if (len != PING_PKT)
			assert_int_equal(disco_sender(pkt, (size_t)len, pk), -EBADMSG);
		assert_int_equal(disco_open(pkt, (size_t)len, K.ba, &got), -EBADMSG);
		assert_true(zeroed(&got));
	}
	pkt[n] = 0;
	assert_int_equal(disco_sender(pkt, (size_t)n + 1, pk), -EBADMSG);
	assert_int_equal(disco_open(pkt, (size_t)n + 1, K.ba, &got), -EBADMSG);
	assert_int_equal(disco_open(pkt, (size_t)n, K.ba, &got), 0);
}

static void test_lengths(void **state)
{
	struct disco_msg m;
	uint8_t pkt[DISCO_MAX_LEN];
	int n;

	(void)state;
	msg_ping(&m);
	n = disco_seal(pkt, sizeof(pkt), K.a.pk, K.ab, &m);
	cut_all(pkt, n);
	msg_pong(&m, "192.0.2.9", 9);
	n = disco_seal(pkt, sizeof(pkt), K.a.pk, K.ab, &m);
	cut_all(pkt, n);
}

static void test_header(void **state)
{
	struct disco_msg m, got;
	uint8_t pkt[DISCO_MAX_LEN], pk[DISCO_KEY_LEN];
	int n, v;

	(void)state;
	msg_ping(&m);
	n = disco_seal(pkt, sizeof(pkt), K.a.pk, K.ab, &m);
	for (v = 0; v < 256; v++) {
		if (v == DISCO_VERSION)
			continue;
		pkt[MAGICSOCK_DISCO_MAGIC_LEN] = (uint8_t)v;
		assert_int_equal(disco_sender(pkt, (size_t)n, pk), -EBADMSG);
		assert_int_equal(disco_open(pkt, (size_t)n, K.ba, &got), -EBADMSG);
	}
	pkt[MAGICSOCK_DISCO_MAGIC_LEN] = DISCO_VERSION;
	pkt[1] = 'r';
	assert_int_equal(disco_sender(pkt, (size_t)n, pk), -EBADMSG);
	assert_int_equal(disco_open(pkt, (size_t)n, K.ba, &got), -EBADMSG);
	pkt[1] = 'R';
	pkt[0] = 0x0e;
	assert_int_equal(disco_open(pkt, (size_t)n, K.ba, &got), -EBADMSG);
	pkt[0] = 0x0f;
	assert_int_equal(disco_open(pkt, (size_t)n, K.ba, &got), 0);
	/* A STUN- or QUIC-looking packet of the right size. */
	memset(pkt, 0xc3, sizeof(pkt));
	assert_int_equal(disco_sender(pkt, PING_PKT, pk), -EBADMSG);
	assert_int_equal(disco_open(pkt, PONG_PKT, K.ba, &got), -EBADMSG);
}

/* Seals an arbitrary plaintext as a's packet for b, past the MAC. */
static size_t seal_raw(uint8_t *pkt, const uint8_t *plain, size_t n)
{
	memcpy(pkt, MAGICSOCK_DISCO_MAGIC, MAGICSOCK_DISCO_MAGIC_LEN);
	pkt[MAGICSOCK_DISCO_MAGIC_LEN] = DISCO_VERSION;
	memcpy(pkt + KEY_OFF, K.a.pk, DISCO_KEY_LEN);
	randombytes_buf(pkt + NONCE_OFF, crypto_box_NONCEBYTES);
	assert_int_equal(crypto_box_easy_afternm(pkt + DISCO_HDR_LEN, plain, n, pkt + NONCE_OFF,
						 K.ab),
			 0);
	return DISCO_HDR_LEN + crypto_box_MACBYTES + n;
}

static int open_raw(const uint8_t *plain, size_t n, struct disco_msg *got)
{
	uint8_t pkt[DISCO_MAX_LEN + 64];

	return disco_open(pkt, seal_raw(pkt, plain, n), K.ba, got);
}

static void pong_plain(uint8_t *p, uint8_t family)
{
	size_t i;

	memset(p, 0, PONG_BODY);
	p[0] = DISCO_PONG;
	for (i = 0; i < DISCO_TXID_LEN; i++)
		p[1 + i] = (uint8_t)(0x30 + i);
	p[PING_BODY] = family;
	p[PING_BODY + 1] = 0x12; /* port 0x1234 */
	p[PING_BODY + 2] = 0x34;
	p[PING_BODY + 3] = 192;
	p[PING_BODY + 4] = 0;
	p[PING_BODY + 5] = 2;
	p[PING_BODY + 6] = 44;
}

static void test_inside_box(void **state)
{
	uint8_t p[PONG_BODY + 8];
	struct disco_msg got;
	size_t i;
	int t;

	(void)state;
	/* Control: a hand-made v4 pong opens and decodes as written. */
	pong_plain(p, 4);
	assert_int_equal(open_raw(p, PONG_BODY, &got), 0);
	assert_int_equal(got.type, DISCO_PONG);
	assert_int_equal(got.txid[0], 0x30);
	assert_int_equal(got.observed.sa.sa_family, AF_INET);
	assert_int_equal(ntohs(got.observed.in.sin_port), 0x1234);
	assert_int_equal(ntohl(got.observed.in.sin_addr.s_addr), 0xc000022c);

	/* v4 with any non-zero byte in the 12-byte tail: refused. */
	for (i = PING_BODY + 7; i < PONG_BODY; i++) {
		pong_plain(p, 4);
		p[i] = 1;
		assert_int_equal(open_raw(p, PONG_BODY, &got), -EBADMSG);
		assert_true(zeroed(&got));
	}
	/* v6 uses all 16 bytes. */
	pong_plain(p, 6);
	memset(p + PING_BODY + 3, 0xfe, 16);
	assert_int_equal(open_raw(p, PONG_BODY, &got), 0);
	assert_int_equal(got.observed.sa.sa_family, AF_INET6);
	assert_int_equal(got.observed.in6.sin6_addr.s6_addr[15], 0xfe);
	/* Unknown families. */
	for (t = 0; t < 256; t++) {
		if (t == 0 || t == 4 || t == 6)
			continue;
		pong_plain(p, (uint8_t)t);
		assert_int_equal(open_raw(p, PONG_BODY, &got), -EBADMSG);
		assert_true(zeroed(&got));
	}
	/* Family 0 (unknown): no address comes out, whatever follows. */
	pong_plain(p, 0);
	if (open_raw(p, PONG_BODY, &got) == 0)
		assert_int_equal(got.observed.sa.sa_family, 0);

	/* Unknown types, at both body sizes. */
	for (t = 0; t < 256; t++) {
		if (t == DISCO_PING || t == DISCO_PONG)
			continue;
		pong_plain(p, 4);
		p[0] = (uint8_t)t;
		assert_int_equal(open_raw(p, PING_BODY, &got), -EBADMSG);
		assert_int_equal(open_raw(p, PONG_BODY, &got), -EBADMSG);
		assert_true(zeroed(&got));
	}
	/* Ping-size body typed pong, pong-size body typed ping. */
	pong_plain(p, 4);
	assert_int_equal(open_raw(p, PING_BODY, &got), -EBADMSG);
	p[0] = DISCO_PING;
	assert_int_equal(open_raw(p, PONG_BODY, &got), -EBADMSG);
	assert_true(zeroed(&got));
	assert_int_equal(open_raw(p, PING_BODY, &got), 0);
	assert_int_equal(got.type, DISCO_PING);
	/* Other body sizes never get past the length check. */
	for (i = 0; i < sizeof(p); i++) {
		if (i == PING_BODY || i == PONG_BODY)
			continue;
		assert_int_equal(open_raw(p, i, &got), -EBADMSG);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip), cmocka_unit_test(test_seal_args),
		cmocka_unit_test(test_keys),       cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_bit_flips),  cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_header),     cmocka_unit_test(test_inside_box),
	};

	log_init(LL_ERROR);
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, NULL);
}
