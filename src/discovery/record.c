/*
 * record: see record.h for the format. Decoding checks the cheap things
 * (shape, kind, signer, expiry) before the signature so that junk values in
 * the DHT cost a parse, not an Ed25519 verification.
 */
#include "discovery/record.h"
#include "discovery/wire.h"
#include "util/mpread.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <opendht/opendht_c.h>
#include <sodium.h>

#define DOMAIN_LEN (sizeof(RECORD_DOMAIN) - 1)

_Static_assert(HASH_LEN == RECORD_KEY_LEN, "OpenDHT infohash size changed");

static int kind_valid(uint64_t kind)
{
	return kind == RECORD_ENDPOINT || kind == RECORD_NETWORK || kind == RECORD_CONTACT;
}

void record_seed_pk(const uint8_t seed[RECORD_SEED_LEN], uint8_t pk[RECORD_PK_LEN])
{
	uint8_t sk[crypto_sign_SECRETKEYBYTES];

	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(sk, sizeof(sk));
}

/* Writes the body; returns its length or -EMSGSIZE. */
static int body_encode(enum record_kind kind, const uint8_t pk[RECORD_PK_LEN], uint64_t seq,
		       uint64_t expires, const uint8_t *payload, size_t len, uint8_t *out,
		       size_t outcap)
{
	struct wire_writer w;

	wire_writer_init(&w, out, outcap);
	wire_write_array(&w, 6);
	wire_write_uint(&w, RECORD_VERSION);
	wire_write_uint(&w, kind);
	wire_write_bin(&w, pk, RECORD_PK_LEN);
	wire_write_uint(&w, seq);
	wire_write_uint(&w, expires);
	wire_write_bin(&w, payload, len);
	return wire_writer_finish(&w);
}

/* Ed25519 over RECORD_DOMAIN || body. The body is at most RECORD_MAX, so the
 * message fits on the stack. */
static void body_sign(const uint8_t sk[crypto_sign_SECRETKEYBYTES], const uint8_t *body,
		      size_t body_len, uint8_t sig[RECORD_SIG_LEN])
{
	uint8_t msg[DOMAIN_LEN + RECORD_MAX];

	memcpy(msg, RECORD_DOMAIN, DOMAIN_LEN);
	memcpy(msg + DOMAIN_LEN, body, body_len);
	crypto_sign_detached(sig, NULL, msg, DOMAIN_LEN + body_len, sk);
}

static int body_verify(const uint8_t pk[RECORD_PK_LEN], const uint8_t *body, size_t body_len,
		       const uint8_t sig[RECORD_SIG_LEN])
{
	uint8_t msg[DOMAIN_LEN + RECORD_MAX];

	if (body_len > RECORD_MAX)
		return -EMSGSIZE;
	memcpy(msg, RECORD_DOMAIN, DOMAIN_LEN);
	memcpy(msg + DOMAIN_LEN, body, body_len);
	if (crypto_sign_verify_detached(sig, msg, DOMAIN_LEN + body_len, pk) != 0)
		return -EKEYREJECTED;
	return 0;
}

int record_encode(enum record_kind kind, const uint8_t seed[RECORD_SEED_LEN], uint64_t seq,
		  uint64_t expires, const uint8_t *payload, size_t len, uint8_t *out, size_t outcap)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
	uint8_t body[RECORD_MAX];
	uint8_t sig[RECORD_SIG_LEN];
	struct wire_writer w;
	int body_len, ret;

	if (!kind_valid(kind) || !seed || (!payload && len > 0) || !out)
		return -EINVAL;
	if (len > RECORD_PAYLOAD_MAX)
		return -EMSGSIZE;
	crypto_sign_seed_keypair(pk, sk, seed);
	body_len = body_encode(kind, pk, seq, expires, payload, len, body, sizeof(body));
	if (body_len < 0) {
		ret = body_len;
		goto out;
	}
	body_sign(sk, body, (size_t)body_len, sig);

	wire_writer_init(&w, out, outcap < RECORD_MAX ? outcap : RECORD_MAX);
	wire_write_array(&w, 2);
	wire_write_bin(&w, body, (size_t)body_len);
	wire_write_bin(&w, sig, sizeof(sig));
	ret = wire_writer_finish(&w);
out:
	sodium_memzero(sk, sizeof(sk));
	return ret;
}

/* Parses the body's fields into rec (no checks beyond shape and version). */
static int body_parse(const uint8_t *body, size_t body_len, struct record *rec)
{
	struct mp_reader r;
	const uint8_t *signer;
	size_t n, signer_len;
	uint64_t version, kind;

	mp_reader_init(&r, body, body_len);
	if (mp_read_array(&r, 6, &n) < 0 || n != 6)
		return -EBADMSG;
	if (mp_read_uint(&r, &version) < 0 || version != RECORD_VERSION)
		return -EBADMSG;
	if (mp_read_uint(&r, &kind) < 0 || !kind_valid(kind))
		return -EBADMSG;
	if (mp_read_bin(&r, RECORD_PK_LEN, &signer, &signer_len) < 0 || signer_len != RECORD_PK_LEN)
		return -EBADMSG;
	if (mp_read_uint(&r, &rec->seq) < 0 || mp_read_uint(&r, &rec->expires) < 0)
		return -EBADMSG;
	if (mp_read_bin(&r, RECORD_MAX, &rec->payload, &rec->payload_len) < 0)
		return -EBADMSG;
	if (mp_reader_left(&r) != 0)
		return -EBADMSG;
	rec->kind = (enum record_kind)kind;
	memcpy(rec->signer, signer, RECORD_PK_LEN);
	rec->body = body;
	rec->body_len = body_len;
	return 0;
}

int record_decode(const uint8_t *buf, size_t len, enum record_kind expected_kind,
		  const uint8_t *expected_pk, uint64_t now, struct record *rec)
{
	struct mp_reader r;
	const uint8_t *body, *sig;
	size_t n, body_len, sig_len;

	if (!buf || !rec)
		return -EINVAL;
	if (len > RECORD_MAX)
		return -EMSGSIZE;
	mp_reader_init(&r, buf, len);
	if (mp_read_array(&r, 2, &n) < 0 || n != 2)
		return -EBADMSG;
	if (mp_read_bin(&r, RECORD_MAX, &body, &body_len) < 0)
		return -EBADMSG;
	if (mp_read_bin(&r, RECORD_SIG_LEN, &sig, &sig_len) < 0 || sig_len != RECORD_SIG_LEN)
		return -EBADMSG;
	if (mp_reader_left(&r) != 0)
		return -EBADMSG;
	if (body_parse(body, body_len, rec) < 0)
		return -EBADMSG;
	if (rec->kind != expected_kind)
		return -ENOMSG;
	if (expected_pk && sodium_memcmp(rec->signer, expected_pk, RECORD_PK_LEN) != 0)
		return -EPERM;
	if (rec->expires <= now)
		return -ETIME;
	return body_verify(rec->signer, body, body_len, sig);
}

/* <0, 0, >0 as a is worse than, equal to, better than b. */
static int record_cmp(const struct record *a, const struct record *b)
{
	size_t n;
	int c;

	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	if (a->expires != b->expires)
		return a->expires < b->expires ? -1 : 1;
	n = a->body_len < b->body_len ? a->body_len : b->body_len;
	c = n ? memcmp(a->body, b->body, n) : 0;
	if (c != 0)
		return c;
	if (a->body_len != b->body_len)
		return a->body_len < b->body_len ? -1 : 1;
	return 0;
}

int record_pick_best(const struct record *recs, size_t n)
{
	size_t best = 0;

	if (!recs || n == 0)
		return -ENOENT;
	if (n > INT_MAX)
		return -EINVAL;
	for (size_t i = 1; i < n; i++)
		if (record_cmp(&recs[i], &recs[best]) > 0)
			best = i;
	return (int)best;
}

int record_dht_key(enum record_kind kind, const uint8_t pk[RECORD_PK_LEN],
		   uint8_t out[RECORD_KEY_LEN])
{
	char hex[RECORD_PK_LEN * 2 + 1];
	char name[64 + sizeof(hex)];
	dht_infohash h;
	const char *label;

	switch (kind) {
	case RECORD_ENDPOINT:
		label = "endpoint";
		break;
	case RECORD_NETWORK:
		label = "network";
		break;
	case RECORD_CONTACT:
		label = "contact";
		break;
	default:
		return -EINVAL;
	}
	sodium_bin2hex(hex, sizeof(hex), pk, RECORD_PK_LEN);
	snprintf(name, sizeof(name), "rayfish/v1/%s/%s", label, hex);
	dht_infohash_get_from_string(&h, name);
	memcpy(out, h.d, RECORD_KEY_LEN);
	return 0;
}
