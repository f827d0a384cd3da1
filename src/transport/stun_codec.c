/*
 * stun_codec: the RFC 8489 message codec of stun.h: decoding with every
 * length checked, MESSAGE-INTEGRITY (SHA-1 and SHA-256) and FINGERPRINT,
 * long-term credentials, and the builder. No I/O and no state: the fuzz
 * target (fuzz_stun) and the TURN client use it as it is.
 */
#include "transport/stun.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sodium.h>

#include "util/bytes.h"

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

uint32_t stun_crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return c ^ 0xffffffffu;
}

void stun_tid_new(uint8_t tid[STUN_TID_LEN])
{
	randombytes_buf(tid, STUN_TID_LEN);
}

/* ---- decoding ---- */

static int decode_addr(union ms_addr *a, const uint8_t *v, size_t len, int xor, const uint8_t *tid)
{
	uint8_t mask[16];
	uint16_t port;
	size_t i;

	if (len < 4)
		return -EINVAL;
	be32_put(mask, xor? STUN_COOKIE : 0);
	for (i = 0; i < STUN_TID_LEN; i++)
		mask[4 + i] = xor? tid[i] : 0;
	port = be16_get(v + 2) ^ (uint16_t)(xor? STUN_COOKIE >> 16 : 0);
	memset(a, 0, sizeof(*a));
	if (v[1] == 0x01 && len == 8) {
		a->in.sin_family = AF_INET;
		a->in.sin_port = htons(port);
		for (i = 0; i < 4; i++)
			((uint8_t *)&a->in.sin_addr)[i] = v[4 + i] ^ mask[i];
		return 0;
	}
	if (v[1] == 0x02 && len == 20) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons(port);
		for (i = 0; i < 16; i++)
			a->in6.sin6_addr.s6_addr[i] = v[4 + i] ^ mask[i];
		return 0;
	}
	return -EINVAL;
}

/* Keeps a printable, NUL-terminated prefix: reasons end up in logs and JSON. */
static void copy_reason(char *dst, const uint8_t *src, size_t len)
{
	size_t i;

	if (len > STUN_REASON_LEN - 1)
		len = STUN_REASON_LEN - 1;
	for (i = 0; i < len; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f && src[i] != '"' && src[i] != '\\')
				 ? (char)src[i]
				 : '?';
	dst[len] = '\0';
}

static int decode_text(const uint8_t **dst, size_t *dlen, const uint8_t *v, size_t len, size_t max)
{
	if (len > max)
		return -EINVAL;
	if (*dst == NULL) {
		*dst = v;
		*dlen = len;
	}
	return 0;
}

static int decode_error(struct stun_msg *m, const uint8_t *v, size_t len)
{
	int cls, num;

	if (len < 4 || len > 4 + STUN_MAX_TEXT)
		return -EINVAL;
	cls = v[2] & 0x07;
	num = v[3];
	if (cls < 3 || cls > 6 || num > 99)
		return -EINVAL;
	if (m->has_error)
		return 0;
	m->has_error = 1;
	m->error_code = cls * 100 + num;
	copy_reason(m->reason, v + 4, len - 4);
	return 0;
}

static int decode_xor(struct stun_msg *m, uint16_t type, const uint8_t *v, size_t len)
{
	union ms_addr a;

	if (decode_addr(&a, v, len, 1, m->tid) < 0)
		return -EINVAL;
	if (type == STUN_A_XOR_MAPPED_ADDRESS && !m->has_xor_mapped) {
		m->xor_mapped = a;
		m->has_xor_mapped = 1;
	} else if (type == STUN_A_XOR_RELAYED_ADDRESS && !m->has_relayed) {
		m->relayed = a;
		m->has_relayed = 1;
	} else if (type == STUN_A_XOR_PEER_ADDRESS && !m->has_peer) {
		m->peer = a;
		m->has_peer = 1;
	}
	return 0;
}

/* Known attributes we do not use still have to be well-formed enough. */
static int known_ignored(uint16_t type)
{
	switch (type) {
	case STUN_A_USERNAME:
	case STUN_A_UNKNOWN_ATTRIBUTES:
	case STUN_A_REQUESTED_ADDRESS_FAMILY:
	case STUN_A_EVEN_PORT:
	case STUN_A_REQUESTED_TRANSPORT:
	case STUN_A_DONT_FRAGMENT:
	case STUN_A_PASSWORD_ALGORITHM:
	case STUN_A_USERHASH:
	case STUN_A_RESERVATION_TOKEN:
		return 1;
	}
	return 0;
}

static int decode_attr(struct stun_msg *m, size_t off, uint16_t type, const uint8_t *v, size_t len)
{
	switch (type) {
	case STUN_A_XOR_MAPPED_ADDRESS:
	case STUN_A_XOR_RELAYED_ADDRESS:
	case STUN_A_XOR_PEER_ADDRESS:
		return decode_xor(m, type, v, len);
	case STUN_A_MAPPED_ADDRESS:
		if (m->has_mapped)
			return 0;
		if (decode_addr(&m->mapped, v, len, 0, NULL) < 0)
			return -EINVAL;
		m->has_mapped = 1;
		return 0;
	case STUN_A_ERROR_CODE:
		return decode_error(m, v, len);
	case STUN_A_LIFETIME:
		if (len != 4)
			return -EINVAL;
		if (!m->has_lifetime)
			m->lifetime = be32_get(v);
		m->has_lifetime = 1;
		return 0;
	case STUN_A_CHANNEL_NUMBER:
		if (len != 4)
			return -EINVAL;
		if (!m->has_channel)
			m->channel = be16_get(v);
		m->has_channel = 1;
		return 0;
	case STUN_A_NONCE:
		return decode_text(&m->nonce, &m->nonce_len, v, len, STUN_MAX_TEXT);
	case STUN_A_REALM:
		return decode_text(&m->realm, &m->realm_len, v, len, STUN_MAX_TEXT);
	case STUN_A_SOFTWARE:
		return decode_text(&m->software, &m->software_len, v, len, STUN_MAX_TEXT);
	case STUN_A_DATA:
		if (!m->has_data) {
			m->data = v;
			m->data_len = len;
		}
		m->has_data = 1;
		return 0;
	case STUN_A_MESSAGE_INTEGRITY:
		if (len != 20)
			return -EINVAL;
		m->mi_off = off;
		return 0;
	case STUN_A_MESSAGE_INTEGRITY_SHA256:
		if (len < 16 || len > 32 || len % 4)
			return -EINVAL;
		m->mi256_off = off;
		m->mi256_len = len;
		return 0;
	}
	if (known_ignored(type))
		return 0;
	if (type < 0x8000)
		m->unknown_required++;
	return 0;
}

int stun_decode(struct stun_msg *m, const uint8_t *buf, size_t len)
{
	size_t off, alen, plen;
	uint16_t type, at;
	int r;

	memset(m, 0, sizeof(*m));
	if (len < STUN_HDR_LEN || (buf[0] & 0xc0) != 0 || be32_get(buf + 4) != STUN_COOKIE)
		return -EINVAL;
	alen = be16_get(buf + 2);
	if (alen % 4 || alen + STUN_HDR_LEN != len)
		return -EINVAL;
	type = be16_get(buf);
	m->method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
	m->cls = (enum stun_class)(((type >> 4) & 1) | ((type >> 7) & 2));
	memcpy(m->tid, buf + 8, STUN_TID_LEN);
	for (off = STUN_HDR_LEN; off < len; off += 4 + plen) {
		if (len - off < 4 || m->has_fingerprint)
			return -EINVAL;
		at = be16_get(buf + off);
		alen = be16_get(buf + off + 2);
		plen = pad4(alen);
		if (plen > len - off - 4)
			return -EINVAL;
		if (at == STUN_A_FINGERPRINT) {
			if (alen != 4)
				return -EINVAL;
			if ((stun_crc32(buf, off) ^ STUN_FINGERPRINT_XOR) !=
			    be32_get(buf + off + 4))
				return -EBADMSG;
			m->has_fingerprint = 1;
			continue;
		}
		/* After an integrity attribute only the stronger one counts. */
		if (m->mi256_off || (m->mi_off && at != STUN_A_MESSAGE_INTEGRITY_SHA256))
			continue;
		r = decode_attr(m, off, at, buf + off + 4, alen);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- integrity ---- */

static int mac_matches(gnutls_mac_algorithm_t alg, const uint8_t *buf, size_t off, size_t maclen,
		       const uint8_t *key, size_t keylen)
{
	gnutls_hmac_hd_t h;
	uint8_t hdr[STUN_HDR_LEN], out[32];

	/* The length field covers the message up to the end of this attribute. */
	memcpy(hdr, buf, STUN_HDR_LEN);
	be16_put(hdr + 2, (uint16_t)(off - STUN_HDR_LEN + 4 + maclen));
	if (gnutls_hmac_init(&h, alg, key, keylen) < 0)
		return 0;
	if (gnutls_hmac(h, hdr, sizeof(hdr)) < 0 ||
	    gnutls_hmac(h, buf + STUN_HDR_LEN, off - STUN_HDR_LEN) < 0) {
		gnutls_hmac_deinit(h, NULL);
		return 0;
	}
	gnutls_hmac_deinit(h, out);
	return sodium_memcmp(out, buf + off + 4, maclen) == 0;
}

int stun_check_integrity(const uint8_t *buf, size_t len, const struct stun_msg *m,
			 const uint8_t *key, size_t keylen)
{
	if (len < STUN_HDR_LEN)
		return 0;
	if (m->mi_off && m->mi_off + 24 <= len)
		return mac_matches(GNUTLS_MAC_SHA1, buf, m->mi_off, 20, key, keylen);
	if (m->mi256_off && m->mi256_off + 4 + m->mi256_len <= len)
		return mac_matches(GNUTLS_MAC_SHA256, buf, m->mi256_off, m->mi256_len, key, keylen);
	return 0;
}

int stun_lt_key(uint8_t key[STUN_LT_KEY_LEN], const char *user, const uint8_t *realm,
		size_t realm_len, const char *pass)
{
	gnutls_hash_hd_t h;
	int r;

	r = gnutls_hash_init(&h, GNUTLS_DIG_MD5);
	if (r < 0)
		return -ENOTSUP;
	if (gnutls_hash(h, user, strlen(user)) < 0 || gnutls_hash(h, ":", 1) < 0 ||
	    gnutls_hash(h, realm, realm_len) < 0 || gnutls_hash(h, ":", 1) < 0 ||
	    gnutls_hash(h, pass, strlen(pass)) < 0) {
		gnutls_hash_deinit(h, NULL);
		return -EIO;
	}
	gnutls_hash_deinit(h, key);
	return 0;
}

/* ---- building ---- */

void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
		     enum stun_class cls, const uint8_t tid[STUN_TID_LEN])
{
	uint16_t type;

	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->err = 0;
	if (cap < STUN_HDR_LEN || method > 0xfff) {
		b->err = -ENOBUFS;
		return;
	}
	type = (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) |
	       ((cls & 1) << 4) | ((cls & 2) << 7);
	be16_put(buf, type);
	be16_put(buf + 2, 0);
	be32_put(buf + 4, STUN_COOKIE);
	memcpy(buf + 8, tid, STUN_TID_LEN);
	b->len = STUN_HDR_LEN;
}

static int build_room(struct stun_builder *b, size_t vlen)
{
	if (b->err)
		return 0;
	if (vlen > 0xffff || b->len + 4 + pad4(vlen) > b->cap ||
	    b->len + 4 + pad4(vlen) - STUN_HDR_LEN > 0xffff) {
		b->err = -ENOBUFS;
		return 0;
	}
	return 1;
}

void stun_build_attr(struct stun_builder *b, uint16_t type, const void *val, size_t len)
{
	uint8_t *p;

	if (!build_room(b, len))
		return;
	p = b->buf + b->len;
	be16_put(p, type);
	be16_put(p + 2, (uint16_t)len);
	if (len)
		memcpy(p + 4, val, len);
	memset(p + 4 + len, 0, pad4(len) - len);
	b->len += 4 + pad4(len);
	be16_put(b->buf + 2, (uint16_t)(b->len - STUN_HDR_LEN));
}

void stun_build_u32(struct stun_builder *b, uint16_t type, uint32_t v)
{
	uint8_t p[4];

	be32_put(p, v);
	stun_build_attr(b, type, p, 4);
}

static void build_addr(struct stun_builder *b, uint16_t type, const union ms_addr *a, int xor)
{
	uint8_t v[20], mask[16];
	size_t i, n;

	be32_put(mask, xor? STUN_COOKIE : 0);
	for (i = 0; i < STUN_TID_LEN; i++)
		mask[4 + i] = xor&&b->len >= STUN_HDR_LEN ? b->buf[8 + i] : 0;
	v[0] = 0;
	if (a->sa.sa_family == AF_INET) {
		v[1] = 0x01;
		be16_put(v + 2, ntohs(a->in.sin_port) ^ (uint16_t)(xor? STUN_COOKIE >> 16 : 0));
		for (i = 0; i < 4; i++)
			v[4 + i] = ((const uint8_t *)&a->in.sin_addr)[i] ^ mask[i];
		n = 8;
	} else if (a->sa.sa_family == AF_INET6) {
		v[1] = 0x02;
		be16_put(v + 2, ntohs(a->in6.sin6_port) ^ (uint16_t)(xor? STUN_COOKIE >> 16 : 0));
		for (i = 0; i < 16; i++)
			v[4 + i] = a->in6.sin6_addr.s6_addr[i] ^ mask[i];
		n = 20;
	} else {
		b->err = -EAFNOSUPPORT;
		return;
	}
	stun_build_attr(b, type, v, n);
}

void stun_build_xor_addr(struct stun_builder *b, uint16_t type, const union ms_addr *a)
{
	build_addr(b, type, a, 1);
}

void stun_build_mapped_addr(struct stun_builder *b, const union ms_addr *a)
{
	build_addr(b, STUN_A_MAPPED_ADDRESS, a, 0);
}

void stun_build_error(struct stun_builder *b, int code, const char *reason)
{
	uint8_t v[4 + STUN_REASON_LEN];
	size_t n = strlen(reason);

	if (n > STUN_REASON_LEN)
		n = STUN_REASON_LEN;
	v[0] = v[1] = 0;
	v[2] = (uint8_t)((code / 100) & 0x07);
	v[3] = (uint8_t)(code % 100);
	memcpy(v + 4, reason, n);
	stun_build_attr(b, STUN_A_ERROR_CODE, v, 4 + n);
}

static void build_mac(struct stun_builder *b, uint16_t type, gnutls_mac_algorithm_t alg,
		      size_t maclen, const uint8_t *key, size_t keylen)
{
	uint8_t mac[32];

	if (!build_room(b, maclen))
		return;
	be16_put(b->buf + 2, (uint16_t)(b->len - STUN_HDR_LEN + 4 + maclen));
	if (gnutls_hmac_fast(alg, key, keylen, b->buf, b->len, mac) < 0) {
		b->err = -EIO;
		return;
	}
	stun_build_attr(b, type, mac, maclen);
}

void stun_build_integrity(struct stun_builder *b, const uint8_t *key, size_t keylen)
{
	build_mac(b, STUN_A_MESSAGE_INTEGRITY, GNUTLS_MAC_SHA1, 20, key, keylen);
}

void stun_build_integrity_sha256(struct stun_builder *b, const uint8_t *key, size_t keylen)
{
	build_mac(b, STUN_A_MESSAGE_INTEGRITY_SHA256, GNUTLS_MAC_SHA256, 32, key, keylen);
}

void stun_build_fingerprint(struct stun_builder *b)
{
	if (!build_room(b, 4))
		return;
	be16_put(b->buf + 2, (uint16_t)(b->len - STUN_HDR_LEN + 8));
	stun_build_u32(b, STUN_A_FINGERPRINT, stun_crc32(b->buf, b->len) ^ STUN_FINGERPRINT_XOR);
}

int stun_build_finish(struct stun_builder *b)
{
	if (b->err)
		return b->err;
	return (int)b->len;
}
