/*
 * backup: see backup.h. The plaintext is written with msgpack-c and read
 * back with the bounded reader (util/mpread.h); every secret buffer is
 * wiped before it is freed.
 */
#include "mesh/backup.h"
#include "util/mpread.h"

#include <errno.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define VERSION 1
#define SALT_LEN crypto_pwhash_argon2id_SALTBYTES
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define HEADER_LEN (3 + SALT_LEN + NONCE_LEN)
#define PLAIN_MAX 16384 /* 64 networks of at most ~200 bytes each, and the seeds */

static bool cost_ok(unsigned ops, unsigned mem_log)
{
	return ops >= BACKUP_OPS_MIN && ops <= BACKUP_OPS_MAX && mem_log >= BACKUP_MEM_LOG_MIN &&
	       mem_log <= BACKUP_MEM_LOG_MAX;
}

static int derive(uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES], const char *pass,
		  const uint8_t *salt, unsigned ops, unsigned mem_log)
{
	if (sodium_init() < 0)
		return -EIO;
	if (crypto_pwhash(key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, pass, strlen(pass),
			  salt, ops, (size_t)1 << mem_log, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM; /* the only way it fails with sane arguments */
	return 0;
}

static void pack_bin(msgpack_packer *pk, const uint8_t *p, size_t n)
{
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, p, n);
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

static int encode_plain(const struct backup *b, msgpack_sbuffer *sb)
{
	msgpack_packer pk;

	if (b->n_nets > BACKUP_MAX_NETWORKS)
		return -EINVAL;
	for (size_t i = 0; i < b->n_nets; i++)
		if (!hostname_valid(b->nets[i].name) || !hostname_valid(b->nets[i].hostname))
			return -EINVAL;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	pack_bin(&pk, b->identity, LIMIT_KEY_LEN);
	if (b->has_contact)
		pack_bin(&pk, b->contact, LIMIT_KEY_LEN);
	else
		msgpack_pack_nil(&pk);
	msgpack_pack_array(&pk, b->n_nets);
	for (size_t i = 0; i < b->n_nets; i++) {
		const struct backup_network *n = &b->nets[i];

		msgpack_pack_array(&pk, 5);
		pack_bin(&pk, n->room, LIMIT_KEY_LEN);
		pack_str(&pk, n->name);
		pack_str(&pk, n->hostname);
		if (n->has_key)
			pack_bin(&pk, n->key, LIMIT_KEY_LEN);
		else
			msgpack_pack_nil(&pk);
		msgpack_pack_uint8(&pk, n->direct ? 1 : 0);
	}
	return 0;
}

static int read_key(struct mp_reader *r, uint8_t out[LIMIT_KEY_LEN])
{
	const uint8_t *p;
	size_t n;

	if (mp_read_bin(r, LIMIT_KEY_LEN, &p, &n) < 0 || n != LIMIT_KEY_LEN)
		return -EBADMSG;
	memcpy(out, p, n);
	return 0;
}

/* A key or nil: 1 for a key, 0 for nil. */
static int read_opt_key(struct mp_reader *r, uint8_t out[LIMIT_KEY_LEN])
{
	int nil = mp_read_nil(r);

	if (nil < 0)
		return -EBADMSG;
	if (nil)
		return 0;
	return read_key(r, out) < 0 ? -EBADMSG : 1;
}

static int read_name(struct mp_reader *r, char out[HOSTNAME_BUF])
{
	const uint8_t *p;
	size_t n;

	if (mp_read_str(r, HOSTNAME_MAX, &p, &n) < 0 || memchr(p, 0, n))
		return -EBADMSG; /* a NUL would hide the rest from the check */
	memcpy(out, p, n);
	out[n] = 0;
	return hostname_valid(out) ? 0 : -EBADMSG;
}

static int decode_plain(const uint8_t *buf, size_t len, struct backup *b)
{
	struct mp_reader r;
	uint64_t flags;
	size_t n;
	int k;

	mp_reader_init(&r, buf, len);
	if (mp_read_array(&r, 3, &n) < 0 || n != 3 || read_key(&r, b->identity) < 0 ||
	    (k = read_opt_key(&r, b->contact)) < 0 ||
	    mp_read_array(&r, BACKUP_MAX_NETWORKS, &b->n_nets) < 0)
		return -EBADMSG;
	b->has_contact = k == 1;
	for (size_t i = 0; i < b->n_nets; i++) {
		struct backup_network *net = &b->nets[i];

		if (mp_read_array(&r, 5, &n) < 0 || n != 5 || read_key(&r, net->room) < 0 ||
		    read_name(&r, net->name) < 0 || read_name(&r, net->hostname) < 0 ||
		    (k = read_opt_key(&r, net->key)) < 0 || mp_read_uint(&r, &flags) < 0)
			return -EBADMSG;
		net->has_key = k == 1;
		net->direct = flags & 1; /* other bits: for later versions */
	}
	return mp_reader_left(&r) == 0 ? 0 : -EBADMSG;
}

int backup_seal(const struct backup *b, const char *passphrase, unsigned ops, unsigned mem_log,
		char *out, size_t cap)
{
	uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	msgpack_sbuffer sb;
	uint8_t *raw = NULL;
	size_t raw_len, plen = strlen(BACKUP_PREFIX);
	int ret;

	if (!b || !passphrase || !passphrase[0] || !cost_ok(ops, mem_log) || !out)
		return -EINVAL;
	msgpack_sbuffer_init(&sb);
	ret = encode_plain(b, &sb);
	if (ret < 0)
		goto out;
	raw_len = HEADER_LEN + sb.size + TAG_LEN;
	ret = -ENOSPC;
	if (cap <
	    plen + sodium_base64_ENCODED_LEN(raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		goto out;
	ret = -ENOMEM;
	if (!(raw = malloc(raw_len)))
		goto out;
	raw[0] = VERSION;
	raw[1] = (uint8_t)ops;
	raw[2] = (uint8_t)mem_log;
	randombytes_buf(raw + 3, SALT_LEN + NONCE_LEN);
	ret = derive(key, passphrase, raw + 3, ops, mem_log);
	if (ret < 0)
		goto out;
	crypto_aead_xchacha20poly1305_ietf_encrypt(raw + HEADER_LEN, NULL, (const uint8_t *)sb.data,
						   sb.size, raw, HEADER_LEN, NULL,
						   raw + 3 + SALT_LEN, key);
	memcpy(out, BACKUP_PREFIX, plen);
	sodium_bin2base64(out + plen, cap - plen, raw, raw_len,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	ret = (int)strlen(out);
out:
	sodium_memzero(key, sizeof(key));
	if (sb.data)
		sodium_memzero(sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	free(raw);
	return ret;
}

int backup_open(const char *code, const char *passphrase, struct backup *b)
{
	uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	size_t plen = strlen(BACKUP_PREFIX), raw_len, text_len;
	unsigned long long mlen;
	uint8_t *raw = NULL, *plain = NULL;
	int ret = -EINVAL;

	memset(b, 0, sizeof(*b));
	if (!code || !passphrase || strncmp(code, BACKUP_PREFIX, plen) != 0)
		return -EINVAL;
	text_len = strlen(code + plen);
	if (text_len > BACKUP_CODE_MAX || sodium_init() < 0)
		return -EINVAL;
	raw = malloc(text_len + 1);
	plain = malloc(text_len + 1);
	if (!raw || !plain) {
		ret = -ENOMEM;
		goto out;
	}
	if (sodium_base642bin(raw, text_len + 1, code + plen, text_len, NULL, &raw_len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		goto out; /* -EINVAL: not base64url */
	ret = -EBADMSG;
	if (raw_len < HEADER_LEN + TAG_LEN || raw[0] != VERSION || !cost_ok(raw[1], raw[2]))
		goto out;
	ret = derive(key, passphrase, raw + 3, raw[1], raw[2]);
	if (ret < 0)
		goto out;
	ret = -EKEYREJECTED;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &mlen, NULL, raw + HEADER_LEN,
						       raw_len - HEADER_LEN, raw, HEADER_LEN,
						       raw + 3 + SALT_LEN, key) != 0)
		goto out;
	ret = mlen > PLAIN_MAX ? -EBADMSG : decode_plain(plain, (size_t)mlen, b);
out:
	sodium_memzero(key, sizeof(key));
	if (plain)
		sodium_memzero(plain, text_len + 1);
	free(plain);
	free(raw);
	if (ret < 0)
		backup_clear(b);
	return ret;
}

int backup_plain_encode(const struct backup *b, uint8_t *out, size_t cap)
{
	msgpack_sbuffer sb;
	int ret;

	msgpack_sbuffer_init(&sb);
	ret = encode_plain(b, &sb);
	if (ret == 0 && sb.size > cap)
		ret = -ENOSPC;
	if (ret == 0) {
		memcpy(out, sb.data, sb.size);
		ret = (int)sb.size;
	}
	if (sb.data)
		sodium_memzero(sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return ret;
}

int backup_plain_decode(const uint8_t *buf, size_t len, struct backup *b)
{
	int ret;

	memset(b, 0, sizeof(*b));
	ret = len > PLAIN_MAX ? -EBADMSG : decode_plain(buf, len, b);
	if (ret < 0)
		backup_clear(b);
	return ret;
}

void backup_clear(struct backup *b)
{
	sodium_memzero(b, sizeof(*b));
}
