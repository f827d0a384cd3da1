/*
 * disco: seal and open disco ping/pong packets. See disco.h.
 */
#include "transport/disco.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

#define NONCE_LEN crypto_box_NONCEBYTES
#define PING_LEN (1 + DISCO_TXID_LEN)
#define PONG_LEN (PING_LEN + 1 + 2 + 16)

int disco_secret_from_ed25519(uint8_t curve_sk[DISCO_KEY_LEN], const uint8_t ed_sk[64])
{
	if (sodium_init() < 0)
		return -EIO;
	if (crypto_sign_ed25519_sk_to_curve25519(curve_sk, ed_sk) != 0)
		return -EINVAL;
	return 0;
}

int disco_shared_key(uint8_t shared[DISCO_KEY_LEN], const uint8_t curve_sk[DISCO_KEY_LEN],
		     const uint8_t peer_pk[DISCO_KEY_LEN])
{
	uint8_t curve_pk[crypto_box_PUBLICKEYBYTES];

	if (crypto_sign_ed25519_pk_to_curve25519(curve_pk, peer_pk) != 0)
		return -EINVAL;
	/* beforenm refuses a low-order point (all-zero shared secret). */
	if (crypto_box_beforenm(shared, curve_pk, curve_sk) != 0)
		return -EINVAL;
	return 0;
}

static size_t encode_msg(uint8_t *p, const struct disco_msg *m)
{
	const union ms_addr *a = &m->observed;

	p[0] = m->type;
	memcpy(p + 1, m->txid, DISCO_TXID_LEN);
	if (m->type != DISCO_PONG)
		return PING_LEN;
	memset(p + PING_LEN, 0, PONG_LEN - PING_LEN);
	if (a->sa.sa_family == AF_INET) {
		p[PING_LEN] = 4;
		memcpy(p + PING_LEN + 1, &a->in.sin_port, 2);
		memcpy(p + PING_LEN + 3, &a->in.sin_addr, 4);
	} else if (a->sa.sa_family == AF_INET6) {
		p[PING_LEN] = 6;
		memcpy(p + PING_LEN + 1, &a->in6.sin6_port, 2);
		memcpy(p + PING_LEN + 3, &a->in6.sin6_addr, 16);
	}
	return PONG_LEN;
}

int disco_seal(uint8_t *out, size_t cap, const uint8_t self_pk[DISCO_KEY_LEN],
	       const uint8_t shared[DISCO_KEY_LEN], const struct disco_msg *m)
{
	uint8_t plain[PONG_LEN], *nonce = out + DISCO_HDR_LEN - NONCE_LEN;
	size_t n;

	if (cap < DISCO_MAX_LEN || (m->type != DISCO_PING && m->type != DISCO_PONG))
		return -EINVAL;
	n = encode_msg(plain, m);
	memcpy(out, MAGICSOCK_DISCO_MAGIC, MAGICSOCK_DISCO_MAGIC_LEN);
	out[MAGICSOCK_DISCO_MAGIC_LEN] = DISCO_VERSION;
	memcpy(out + MAGICSOCK_DISCO_MAGIC_LEN + 1, self_pk, DISCO_KEY_LEN);
	randombytes_buf(nonce, NONCE_LEN);
	if (crypto_box_easy_afternm(out + DISCO_HDR_LEN, plain, n, nonce, shared) != 0)
		return -EIO;
	return (int)(DISCO_HDR_LEN + crypto_box_MACBYTES + n);
}

int disco_sender(const uint8_t *pkt, size_t len, uint8_t pk[DISCO_KEY_LEN])
{
	size_t body;

	if (len < DISCO_HDR_LEN + crypto_box_MACBYTES + PING_LEN ||
	    memcmp(pkt, MAGICSOCK_DISCO_MAGIC, MAGICSOCK_DISCO_MAGIC_LEN) != 0 ||
	    pkt[MAGICSOCK_DISCO_MAGIC_LEN] != DISCO_VERSION)
		return -EBADMSG;
	body = len - DISCO_HDR_LEN - crypto_box_MACBYTES;
	if (body != PING_LEN && body != PONG_LEN)
		return -EBADMSG;
	memcpy(pk, pkt + MAGICSOCK_DISCO_MAGIC_LEN + 1, DISCO_KEY_LEN);
	return 0;
}

static int decode_observed(const uint8_t *p, union ms_addr *a)
{
	size_t i;

	memset(a, 0, sizeof(*a));
	if (p[0] == 4) {
		for (i = 7; i < 19; i++) /* v4 leaves the tail zero */
			if (p[i] != 0)
				return -EBADMSG;
		a->in.sin_family = AF_INET;
		memcpy(&a->in.sin_port, p + 1, 2);
		memcpy(&a->in.sin_addr, p + 3, 4);
		return 0;
	}
	if (p[0] == 6) {
		a->in6.sin6_family = AF_INET6;
		memcpy(&a->in6.sin6_port, p + 1, 2);
		memcpy(&a->in6.sin6_addr, p + 3, 16);
		return 0;
	}
	if (p[0] != 0)
		return -EBADMSG;
	for (i = 1; i < 19; i++) /* 0: the sender did not know; all zero */
		if (p[i] != 0)
			return -EBADMSG;
	return 0;
}

int disco_open(const uint8_t *pkt, size_t len, const uint8_t shared[DISCO_KEY_LEN],
	       struct disco_msg *m)
{
	uint8_t pk[DISCO_KEY_LEN], plain[PONG_LEN];
	size_t n;

	memset(m, 0, sizeof(*m));
	if (disco_sender(pkt, len, pk) < 0)
		return -EBADMSG;
	n = len - DISCO_HDR_LEN - crypto_box_MACBYTES;
	if (crypto_box_open_easy_afternm(plain, pkt + DISCO_HDR_LEN, len - DISCO_HDR_LEN,
					 pkt + DISCO_HDR_LEN - NONCE_LEN, shared) != 0)
		return -EBADMSG;
	if ((plain[0] == DISCO_PING && n != PING_LEN) ||
	    (plain[0] == DISCO_PONG && n != PONG_LEN) ||
	    (plain[0] != DISCO_PING && plain[0] != DISCO_PONG))
		return -EBADMSG;
	m->type = plain[0];
	memcpy(m->txid, plain + 1, DISCO_TXID_LEN);
	if (m->type == DISCO_PONG && decode_observed(plain + PING_LEN, &m->observed) < 0) {
		memset(m, 0, sizeof(*m));
		return -EBADMSG;
	}
	return 0;
}

void disco_txid(uint8_t txid[DISCO_TXID_LEN])
{
	randombytes_buf(txid, DISCO_TXID_LEN);
}
