/*
 * group_blob_codec: canonical msgpack for the roster.
 *
 * Layout (all arrays, fixed order):
 *   [format=1, version, name, "open"|"closed",
 *    [[id, ipv4, collision_index, hostname, coordinator], ...],
 *    [[id, hostname|nil], ...],
 *    [[key_id, secret_hash(bin 32), created, expires, revoked], ...],
 *    suggested_firewall (any one msgpack object, verbatim),
 *    [ancestor_hash(bin 32), ...]]          (format 2; format 1 stops before)
 *
 * Encoding uses msgpack-c, which always picks the smallest form. Decoding
 * reads through util/mpread.h instead of msgpack_unpack: the
 * unpacker allocates arrays of the size a header claims before the bytes
 * exist, and it cannot tell us the exact byte span of the firewall object,
 * which must be kept verbatim. Every count is checked against its cap and
 * against the bytes remaining before it is used. After a successful parse
 * the roster is re-encoded and must equal the input byte for byte, which
 * rejects every non-minimal or otherwise non-canonical spelling.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "mesh/address.h"
#include "mesh/group_blob_priv.h"
#include "util/blake3.h"
#include "util/mpread.h"
#include "util/log.h"

#define MEMBER_FIELDS 5
#define APPROVED_FIELDS 2
#define KEY_FIELDS 5
#define TOP_FIELDS_V1 8
#define TOP_FIELDS 9

/* ---- encoding ---- */

static int pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	if (msgpack_pack_str(pk, n) != 0 || msgpack_pack_str_body(pk, s, n) != 0)
		return -ENOMEM;
	return 0;
}

static int pack_bool(msgpack_packer *pk, bool v)
{
	return (v ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) != 0 ? -ENOMEM : 0;
}

static int pack_member(msgpack_packer *pk, const struct gb_member *m)
{
	if (msgpack_pack_array(pk, MEMBER_FIELDS) != 0 || pack_str(pk, m->id) < 0 ||
	    msgpack_pack_uint32(pk, m->ipv4) != 0 ||
	    msgpack_pack_uint32(pk, m->collision_index) != 0 || pack_str(pk, m->hostname) < 0 ||
	    pack_bool(pk, m->coordinator) < 0)
		return -ENOMEM;
	return 0;
}

static int pack_approved(msgpack_packer *pk, const struct gb_approved *a)
{
	if (msgpack_pack_array(pk, APPROVED_FIELDS) != 0 || pack_str(pk, a->id) < 0)
		return -ENOMEM;
	if (a->hostname[0] == '\0')
		return msgpack_pack_nil(pk) != 0 ? -ENOMEM : 0;
	return pack_str(pk, a->hostname);
}

static int pack_key(msgpack_packer *pk, const struct gb_key *k)
{
	if (msgpack_pack_array(pk, KEY_FIELDS) != 0 || pack_str(pk, k->id) < 0 ||
	    msgpack_pack_bin(pk, GB_HASH_LEN) != 0 ||
	    msgpack_pack_bin_body(pk, k->secret_hash, GB_HASH_LEN) != 0 ||
	    msgpack_pack_uint64(pk, k->created) != 0 || msgpack_pack_uint64(pk, k->expires) != 0 ||
	    pack_bool(pk, k->revoked) < 0)
		return -ENOMEM;
	return 0;
}

static int pack_blob(msgpack_packer *pk, msgpack_sbuffer *sb, const struct group_blob *b)
{
	size_t i;

	bool v1 = b->format == 1;

	if (msgpack_pack_array(pk, v1 ? TOP_FIELDS_V1 : TOP_FIELDS) != 0 ||
	    msgpack_pack_uint32(pk, v1 ? 1 : GB_FORMAT_VERSION) != 0 ||
	    msgpack_pack_uint64(pk, b->version) != 0 || pack_str(pk, b->name) < 0 ||
	    pack_str(pk, b->mode == GROUP_MODE_OPEN ? "open" : "closed") < 0)
		return -ENOMEM;
	if (msgpack_pack_array(pk, b->n_members) != 0)
		return -ENOMEM;
	for (i = 0; i < b->n_members; i++) {
		if (pack_member(pk, &b->members[i]) < 0)
			return -ENOMEM;
	}
	if (msgpack_pack_array(pk, b->n_approved) != 0)
		return -ENOMEM;
	for (i = 0; i < b->n_approved; i++) {
		if (pack_approved(pk, &b->approved[i]) < 0)
			return -ENOMEM;
	}
	if (msgpack_pack_array(pk, b->n_keys) != 0)
		return -ENOMEM;
	for (i = 0; i < b->n_keys; i++) {
		if (pack_key(pk, &b->keys[i]) < 0)
			return -ENOMEM;
	}
	/* The firewall object was validated when it was set or decoded. */
	if (msgpack_sbuffer_write(sb, (const char *)b->firewall, b->firewall_len) != 0)
		return -ENOMEM;
	if (v1)
		return b->n_ancestors ? -EINVAL : 0;
	if (msgpack_pack_array(pk, b->n_ancestors) != 0)
		return -ENOMEM;
	for (i = 0; i < b->n_ancestors; i++)
		if (msgpack_pack_bin(pk, GB_HASH_LEN) != 0 ||
		    msgpack_pack_bin_body(pk, b->ancestors[i], GB_HASH_LEN) != 0)
			return -ENOMEM;
	return 0;
}

int group_blob_encode(const struct group_blob *b, uint8_t **out, size_t *len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc;

	*out = NULL;
	*len = 0;
	if (b->firewall == NULL || b->firewall_len == 0)
		return -EINVAL;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	rc = pack_blob(&pk, &sb, b);
	if (rc == 0 && sb.size > GB_MAX_ENCODED)
		rc = -EMSGSIZE;
	if (rc < 0) {
		msgpack_sbuffer_destroy(&sb);
		return rc;
	}
	*len = sb.size;
	*out = (uint8_t *)msgpack_sbuffer_release(&sb);
	return 0;
}

int group_blob_hash(const struct group_blob *b, uint8_t out[GB_HASH_LEN])
{
	uint8_t *bytes;
	size_t len;
	int rc;

	rc = group_blob_encode(b, &bytes, &len);
	if (rc < 0)
		return rc;
	blake3_hash(bytes, len, out);
	free(bytes);
	return 0;
}

/* ---- decoding: through util/mpread.h; whatever fails is -EINVAL ---- */

static int rd_array(struct mp_reader *r, uint64_t *n)
{
	size_t c;

	if (mp_read_array(r, SIZE_MAX, &c) < 0)
		return -EINVAL;
	*n = c;
	return 0;
}

static int rd_uint(struct mp_reader *r, uint64_t *v)
{
	return mp_read_uint(r, v) < 0 ? -EINVAL : 0;
}

static int rd_u32(struct mp_reader *r, uint32_t *v)
{
	uint64_t x;

	if (rd_uint(r, &x) < 0 || x > UINT32_MAX)
		return -EINVAL;
	*v = (uint32_t)x;
	return 0;
}

static int rd_bool(struct mp_reader *r, bool *v)
{
	return mp_read_bool(r, v) < 0 ? -EINVAL : 0;
}

/* Reads a str (want_bin = 0) or bin (1) header and body. */
static int rd_bytes(struct mp_reader *r, int want_bin, const uint8_t **s, size_t *n)
{
	int rc = want_bin ? mp_read_bin(r, SIZE_MAX, s, n) : mp_read_str(r, SIZE_MAX, s, n);

	return rc < 0 ? -EINVAL : 0;
}

/* A str of 1..max bytes without NUL into dst (max + 1 bytes). */
static int rd_cstr(struct mp_reader *r, char *dst, size_t max)
{
	const uint8_t *s;
	size_t n;

	if (rd_bytes(r, 0, &s, &n) < 0 || n == 0 || n > max || memchr(s, '\0', n) != NULL)
		return -EINVAL;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int group_blob_check_msgpack(const uint8_t *data, size_t len)
{
	if (data == NULL || len == 0)
		return -EINVAL;
	return mp_check(data, len, GB_FIREWALL_MAX_DEPTH) < 0 ? -EINVAL : 0;
}

/* Reads an array header of exactly `want` entries. */
static int rd_tuple(struct mp_reader *r, uint64_t want)
{
	uint64_t n;

	if (rd_array(r, &n) < 0 || n != want)
		return -EINVAL;
	return 0;
}

/* Reads the header of a list of at most cap entries and allocates them. */
static int rd_list(struct mp_reader *r, size_t cap, size_t size, void **arr, size_t *count)
{
	uint64_t n;

	if (rd_array(r, &n) < 0 || n > cap)
		return -EINVAL;
	*count = (size_t)n;
	if (n == 0)
		return 0;
	*arr = calloc((size_t)n, size);
	return *arr == NULL ? -ENOMEM : 0;
}

/*
 * An index above the cap whose address still derives is no bit rot: its
 * likely author is a coordinator that brute-forced the index to land on an
 * address in another network, so the refusal says so.
 */
static void log_aimed_index(const struct gb_member *m)
{
	char a[ADDRESS_V4_STRLEN];

	if (m->collision_index <= GB_MAX_COLLISION_INDEX ||
	    m->ipv4 != address_ipv4(m->id, m->collision_index))
		return;
	address_ipv4_format(m->ipv4, a);
	log_warn("roster: member %.16s at collision index %u (at most %u) "
		 "lands on %s: malformed roster refused",
		 m->id, m->collision_index, GB_MAX_COLLISION_INDEX, a);
}

static int rd_member(struct mp_reader *r, struct gb_member *m)
{
	int rc;

	if (rd_tuple(r, MEMBER_FIELDS) < 0 || rd_cstr(r, m->id, IDENTITY_ID_LEN) < 0 ||
	    rd_u32(r, &m->ipv4) < 0 || rd_u32(r, &m->collision_index) < 0 ||
	    rd_cstr(r, m->hostname, HOSTNAME_MAX) < 0 || rd_bool(r, &m->coordinator) < 0)
		return -EINVAL;
	rc = gb_member_check(m);
	if (rc < 0)
		log_aimed_index(m);
	return rc;
}

static int rd_approved(struct mp_reader *r, struct gb_approved *a)
{
	int rc;

	if (rd_tuple(r, APPROVED_FIELDS) < 0 || rd_cstr(r, a->id, IDENTITY_ID_LEN) < 0)
		return -EINVAL;
	rc = mp_read_nil(r);
	if (rc < 0 || (rc == 0 && rd_cstr(r, a->hostname, HOSTNAME_MAX) < 0))
		return -EINVAL;
	return gb_approved_check(a);
}

static int rd_key(struct mp_reader *r, struct gb_key *k)
{
	const uint8_t *h;
	size_t n;

	if (rd_tuple(r, KEY_FIELDS) < 0 || rd_cstr(r, k->id, GB_KEY_ID_MAX) < 0 ||
	    rd_bytes(r, 1, &h, &n) < 0 || n != GB_HASH_LEN)
		return -EINVAL;
	memcpy(k->secret_hash, h, GB_HASH_LEN);
	if (rd_uint(r, &k->created) < 0 || rd_uint(r, &k->expires) < 0 ||
	    rd_bool(r, &k->revoked) < 0)
		return -EINVAL;
	return gb_key_check(k);
}

/* Entries must be in strictly increasing id order (canonical and unique);
 * every entry type starts with its id. */
static int in_order(const void *arr, size_t size, size_t i)
{
	const char *prev, *cur;

	if (i == 0)
		return 0;
	prev = (const char *)arr + (i - 1) * size;
	cur = (const char *)arr + i * size;
	return strcmp(prev, cur) < 0 ? 0 : -EINVAL;
}

static int rd_members(struct mp_reader *r, struct group_blob *b)
{
	size_t i;
	int rc;

	rc = rd_list(r, GB_MAX_MEMBERS, sizeof(*b->members), (void **)&b->members, &b->n_members);
	for (i = 0; rc == 0 && i < b->n_members; i++) {
		rc = rd_member(r, &b->members[i]);
		if (rc == 0)
			rc = in_order(b->members, sizeof(*b->members), i);
	}
	return rc;
}

static int rd_approved_list(struct mp_reader *r, struct group_blob *b)
{
	size_t i;
	int rc;

	rc = rd_list(r, GB_MAX_APPROVED, sizeof(*b->approved), (void **)&b->approved,
		     &b->n_approved);
	for (i = 0; rc == 0 && i < b->n_approved; i++) {
		rc = rd_approved(r, &b->approved[i]);
		if (rc == 0)
			rc = in_order(b->approved, sizeof(*b->approved), i);
	}
	return rc;
}

static int rd_keys(struct mp_reader *r, struct group_blob *b)
{
	size_t i;
	int rc;

	rc = rd_list(r, GB_MAX_KEYS, sizeof(*b->keys), (void **)&b->keys, &b->n_keys);
	for (i = 0; rc == 0 && i < b->n_keys; i++) {
		rc = rd_key(r, &b->keys[i]);
		if (rc == 0)
			rc = in_order(b->keys, sizeof(*b->keys), i);
	}
	return rc;
}

static int rd_mode(struct mp_reader *r, enum group_mode *mode)
{
	char s[8];

	if (rd_cstr(r, s, sizeof(s) - 1) < 0)
		return -EINVAL;
	if (strcmp(s, "open") == 0)
		*mode = GROUP_MODE_OPEN;
	else if (strcmp(s, "closed") == 0)
		*mode = GROUP_MODE_CLOSED;
	else
		return -EINVAL;
	return 0;
}

static int rd_firewall(struct mp_reader *r, struct group_blob *b)
{
	size_t start = r->pos, n;

	if (mp_skip(r, GB_FIREWALL_MAX_DEPTH) < 0)
		return -EINVAL;
	n = r->pos - start;
	if (n > GB_FIREWALL_MAX)
		return -EINVAL;
	b->firewall = malloc(n);
	if (b->firewall == NULL)
		return -ENOMEM;
	memcpy(b->firewall, r->buf + start, n);
	b->firewall_len = n;
	return 0;
}

static int rd_ancestors(struct mp_reader *r, struct group_blob *b)
{
	uint64_t n;

	if (rd_array(r, &n) < 0 || n > GB_MAX_ANCESTORS)
		return -EINVAL;
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *h;
		size_t len;

		if (rd_bytes(r, 1, &h, &len) < 0 || len != GB_HASH_LEN)
			return -EINVAL;
		if (group_blob_has_ancestor(b, h))
			return -EINVAL; /* add_ancestor never repeats one */
		memcpy(b->ancestors[i], h, GB_HASH_LEN);
		b->n_ancestors++;
	}
	return 0;
}

static int rd_blob(struct mp_reader *r, struct group_blob *b)
{
	uint64_t n, format;
	int rc;

	if (rd_array(r, &n) < 0 || n == 0 || rd_uint(r, &format) < 0)
		return -EINVAL;
	if (format != 1 && format != GB_FORMAT_VERSION)
		return -EPROTONOSUPPORT;
	b->format = (uint32_t)format;
	if (n != (format == 1 ? TOP_FIELDS_V1 : TOP_FIELDS) || rd_uint(r, &b->version) < 0 ||
	    rd_cstr(r, b->name, HOSTNAME_MAX) < 0 || !hostname_valid(b->name) ||
	    rd_mode(r, &b->mode) < 0)
		return -EINVAL;
	rc = rd_members(r, b);
	if (rc == 0)
		rc = rd_approved_list(r, b);
	if (rc == 0)
		rc = rd_keys(r, b);
	if (rc == 0)
		rc = rd_firewall(r, b);
	if (rc == 0 && format != 1)
		rc = rd_ancestors(r, b);
	return rc;
}

/* Re-encodes b and compares: only the canonical spelling is accepted. */
static int check_canonical(const struct group_blob *b, const uint8_t *data, size_t len)
{
	uint8_t *again;
	size_t n;
	int rc;

	rc = group_blob_encode(b, &again, &n);
	if (rc < 0)
		return rc;
	if (n != len || memcmp(again, data, len) != 0)
		rc = -EINVAL;
	free(again);
	return rc;
}

int group_blob_decode(const uint8_t *data, size_t len, struct group_blob *out)
{
	struct group_blob b;
	struct mp_reader r;
	int rc;

	memset(&b, 0, sizeof(b));
	if (data == NULL)
		return -EINVAL;
	if (len > GB_MAX_DECODED)
		return -EMSGSIZE;
	mp_reader_init(&r, data, len);
	rc = rd_blob(&r, &b);
	if (rc == 0 && r.pos != len)
		rc = -EINVAL;
	if (rc == 0 &&
	    (gb_members_unique(b.members, b.n_members) < 0 || gb_keys_unique(b.keys, b.n_keys) < 0))
		rc = -EINVAL;
	if (rc == 0)
		rc = check_canonical(&b, data, len);
	if (rc < 0) {
		group_blob_free(&b);
		return rc;
	}
	*out = b;
	return 0;
}
