/*
 * fuzz_disco: hostile bytes through the disco codec (transport/disco.h).
 *
 * Every input goes to disco_sender and to disco_open under the key the
 * fixed identities a (sender) and b (receiver) share, so mutations of the
 * valid sealed seeds reach the decoder's checks behind the MAC as far as
 * the MAC lets them. Whatever opens must be a well-formed message that
 * seals and opens again to itself.
 *
 * The same input also builds a message: the first byte picks the type (bit
 * 0) and the observed family (bits 1-2: none, IPv4, IPv6, or one the codec
 * cannot carry, which must come back as none); the rest gives the txid,
 * port and address. open(seal(m)) must give m back (the address only for a
 * pong), the sender must be a, and the outsider c must not open it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sodium.h>

#include "mesh/identity.h"
#include "transport/disco.h"
#include "util/log.h"

static int ready;
static struct identity a, b, c;
static uint8_t ab[DISCO_KEY_LEN], ba[DISCO_KEY_LEN], cb[DISCO_KEY_LEN];

static void setup(void)
{
	uint8_t seed[IDENTITY_SEED_LEN], curve[DISCO_KEY_LEN];

	log_init(LL_ERROR);
	memset(seed, 0xa1, sizeof(seed));
	if (identity_from_seed(seed, &a) < 0)
		__builtin_trap();
	memset(seed, 0xb2, sizeof(seed));
	if (identity_from_seed(seed, &b) < 0)
		__builtin_trap();
	memset(seed, 0xc3, sizeof(seed));
	if (identity_from_seed(seed, &c) < 0)
		__builtin_trap();
	if (disco_secret_from_ed25519(curve, a.sk) < 0 || disco_shared_key(ab, curve, b.pk) < 0)
		__builtin_trap();
	if (disco_secret_from_ed25519(curve, b.sk) < 0 || disco_shared_key(ba, curve, a.pk) < 0)
		__builtin_trap();
	if (disco_secret_from_ed25519(curve, c.sk) < 0 || disco_shared_key(cb, curve, b.pk) < 0)
		__builtin_trap();
	ready = 1;
}

static int same_msg(const struct disco_msg *x, const struct disco_msg *y)
{
	const union ms_addr *p = &x->observed, *q = &y->observed;

	if (x->type != y->type || memcmp(x->txid, y->txid, DISCO_TXID_LEN) != 0)
		return 0;
	if (x->type == DISCO_PING)
		return p->sa.sa_family == 0 && q->sa.sa_family == 0;
	if (p->sa.sa_family != q->sa.sa_family)
		return 0;
	if (p->sa.sa_family == AF_INET)
		return p->in.sin_port == q->in.sin_port &&
		       p->in.sin_addr.s_addr == q->in.sin_addr.s_addr;
	if (p->sa.sa_family == AF_INET6)
		return p->in6.sin6_port == q->in6.sin6_port &&
		       memcmp(&p->in6.sin6_addr, &q->in6.sin6_addr, 16) == 0;
	return p->sa.sa_family == 0;
}

/* seal m then open as b: must give want; c's key must not open it. */
static void check_round_trip(const struct disco_msg *m, const struct disco_msg *want)
{
	uint8_t pkt[DISCO_MAX_LEN], pk[DISCO_KEY_LEN];
	struct disco_msg got;
	int n;

	n = disco_seal(pkt, sizeof(pkt), a.pk, ab, m);
	if (n <= 0 || n > DISCO_MAX_LEN)
		__builtin_trap();
	if (disco_sender(pkt, (size_t)n, pk) != 0 || memcmp(pk, a.pk, DISCO_KEY_LEN) != 0)
		__builtin_trap();
	if (disco_open(pkt, (size_t)n, ba, &got) != 0 || !same_msg(want, &got))
		__builtin_trap();
	if (disco_open(pkt, (size_t)n, cb, &got) != -EBADMSG)
		__builtin_trap();
}

/* Whatever the decoder accepts is well formed and survives a round trip. */
static void check_decode(const uint8_t *data, size_t size)
{
	uint8_t pk[DISCO_KEY_LEN];
	struct disco_msg m;
	int fam;

	if (disco_sender(data, size, pk) == 0 && size > DISCO_MAX_LEN)
		__builtin_trap();
	if (disco_open(data, size, ba, &m) != 0)
		return;
	if (m.type != DISCO_PING && m.type != DISCO_PONG)
		__builtin_trap();
	fam = m.observed.sa.sa_family;
	if (fam != 0 && fam != AF_INET && fam != AF_INET6)
		__builtin_trap();
	if (m.type == DISCO_PING && fam != 0)
		__builtin_trap();
	check_round_trip(&m, &m);
}

static void build_msg(const uint8_t *data, size_t size, struct disco_msg *m)
{
	uint8_t rest[DISCO_TXID_LEN + 2 + 16];
	size_t n = size - 1 < sizeof(rest) ? size - 1 : sizeof(rest);

	memset(rest, 0, sizeof(rest));
	memcpy(rest, data + 1, n);
	memset(m, 0, sizeof(*m));
	m->type = data[0] & 1 ? DISCO_PONG : DISCO_PING;
	memcpy(m->txid, rest, DISCO_TXID_LEN);
	switch ((data[0] >> 1) & 3) {
	case 1:
		m->observed.in.sin_family = AF_INET;
		memcpy(&m->observed.in.sin_port, rest + DISCO_TXID_LEN, 2);
		memcpy(&m->observed.in.sin_addr, rest + DISCO_TXID_LEN + 2, 4);
		break;
	case 2:
		m->observed.in6.sin6_family = AF_INET6;
		memcpy(&m->observed.in6.sin6_port, rest + DISCO_TXID_LEN, 2);
		memcpy(&m->observed.in6.sin6_addr, rest + DISCO_TXID_LEN + 2, 16);
		break;
	case 3:
		/* Not encodable: seals as "unknown", opens as family 0. */
		m->observed.sa.sa_family = AF_UNIX;
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disco_msg m, want;

	if (!ready)
		setup();
	check_decode(data, size);
	if (size == 0)
		return 0;
	build_msg(data, size, &m);
	/* A ping carries no address; a family the codec cannot carry comes
	 * back as none. */
	want = m;
	if (want.type == DISCO_PING || want.observed.sa.sa_family == AF_UNIX)
		memset(&want.observed, 0, sizeof(want.observed));
	check_round_trip(&m, &want);
	return 0;
}
