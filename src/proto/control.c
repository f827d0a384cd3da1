/*
 * control: see control.h. The decoder walks the map with msgpack-c after
 * mp_check proved the bytes well formed; each known key is checked for
 * type and size before it is copied.
 */
#include "proto/control.h"
#include "util/mpread.h"

#include <errno.h>
#include <string.h>

static void pack_key(msgpack_packer *pk, const char *k)
{
	msgpack_pack_str(pk, strlen(k));
	msgpack_pack_str_body(pk, k, strlen(k));
}

static void pack_bin(msgpack_packer *pk, const char *k, const void *p, size_t n)
{
	pack_key(pk, k);
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, p, n);
}

static void pack_str(msgpack_packer *pk, const char *k, const char *s)
{
	pack_key(pk, k);
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

int ctl_encode(const struct ctl_msg *m, msgpack_sbuffer *sb)
{
	msgpack_packer pk;
	size_t n = 1;

	if (m->type < CTL_HELLO || m->type >= CTL_TYPE_MAX || m->rec_len > CTL_MAX_MSG ||
	    m->data_len > CTL_MAX_BLOB)
		return -EINVAL;
	n += m->has_net + (m->hostname[0] != 0) + (m->why[0] != 0) + m->has_invite + m->has_hash +
	     (m->rec != NULL) + (m->data != NULL) + m->has_key + (m->iid[0] != 0) + (m->exp != 0) +
	     (m->name[0] != 0) + m->has_size + (m->off != 0) + m->has_contact;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	pack_key(&pk, "t");
	msgpack_pack_uint32(&pk, (uint32_t)m->type);
	if (m->has_net)
		pack_bin(&pk, "net", m->net, sizeof(m->net));
	if (m->hostname[0])
		pack_str(&pk, "host", m->hostname);
	if (m->why[0])
		pack_str(&pk, "why", m->why);
	if (m->has_invite)
		pack_bin(&pk, "inv", m->invite, sizeof(m->invite));
	if (m->has_hash)
		pack_bin(&pk, "hash", m->hash, sizeof(m->hash));
	if (m->rec)
		pack_bin(&pk, "rec", m->rec, m->rec_len);
	if (m->data)
		pack_bin(&pk, "data", m->data, m->data_len);
	if (m->has_key)
		pack_bin(&pk, "key", m->key, sizeof(m->key));
	if (m->iid[0])
		pack_str(&pk, "iid", m->iid);
	if (m->exp) {
		pack_key(&pk, "exp");
		msgpack_pack_uint64(&pk, m->exp);
	}
	if (m->name[0])
		pack_str(&pk, "name", m->name);
	if (m->has_size) {
		pack_key(&pk, "size");
		msgpack_pack_uint64(&pk, m->size);
	}
	if (m->off) {
		pack_key(&pk, "off");
		msgpack_pack_uint64(&pk, m->off);
	}
	if (m->has_contact)
		pack_bin(&pk, "cid", m->contact, sizeof(m->contact));
	return 0;
}

static bool key_is(const msgpack_object *k, const char *name)
{
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(name) &&
	       memcmp(k->via.str.ptr, name, k->via.str.size) == 0;
}

static int get_bin(const msgpack_object *v, void *out, size_t n)
{
	if (v->type != MSGPACK_OBJECT_BIN || v->via.bin.size != n)
		return -EINVAL;
	memcpy(out, v->via.bin.ptr, n);
	return 0;
}

/*
 * Peers' strings end up in logs and on terminals (a DENIED reason is the
 * CLI's error line): control characters, C0, DEL and UTF-8 C1, become '?'
 * so no peer can move a cursor, recolour or retitle a terminal.
 */
static void defang(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			s[i] = '?';
		else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
			 (unsigned char)s[i + 1] <= 0x9f)
			s[i] = s[i + 1] = '?';
	}
}

static int get_str(const msgpack_object *v, char *out, size_t cap)
{
	if (v->type != MSGPACK_OBJECT_STR || v->via.str.size >= cap ||
	    memchr(v->via.str.ptr, 0, v->via.str.size))
		return -EINVAL;
	memcpy(out, v->via.str.ptr, v->via.str.size);
	out[v->via.str.size] = 0;
	defang(out, v->via.str.size);
	return 0;
}

static int get_u64(const msgpack_object *v, uint64_t *out)
{
	if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -EINVAL;
	*out = v->via.u64;
	return 0;
}

/* rec/data must point into the caller's buffer, not msgpack's zone. */
static int get_span(const msgpack_object *v, const uint8_t *buf, size_t len, size_t cap,
		    const uint8_t **out, size_t *out_len)
{
	const uint8_t *p;

	if (v->type != MSGPACK_OBJECT_BIN || v->via.bin.size > cap)
		return -EINVAL;
	p = (const uint8_t *)v->via.bin.ptr;
	if (v->via.bin.size > 0 && (p < buf || p + v->via.bin.size > buf + len))
		return -EINVAL;
	*out = v->via.bin.size ? p : buf;
	*out_len = v->via.bin.size;
	return 0;
}

static int decode_field(const msgpack_object *k, const msgpack_object *v, const uint8_t *buf,
			size_t len, struct ctl_msg *m)
{
	if (key_is(k, "t")) {
		if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 < CTL_HELLO ||
		    v->via.u64 >= CTL_TYPE_MAX)
			return -EINVAL;
		m->type = (enum ctl_type)v->via.u64;
		return 0;
	}
	if (key_is(k, "net")) {
		m->has_net = true;
		return get_bin(v, m->net, sizeof(m->net));
	}
	if (key_is(k, "host"))
		return get_str(v, m->hostname, sizeof(m->hostname));
	if (key_is(k, "why"))
		return get_str(v, m->why, sizeof(m->why));
	if (key_is(k, "inv")) {
		m->has_invite = true;
		return get_bin(v, m->invite, sizeof(m->invite));
	}
	if (key_is(k, "hash")) {
		m->has_hash = true;
		return get_bin(v, m->hash, sizeof(m->hash));
	}
	if (key_is(k, "rec"))
		return get_span(v, buf, len, CTL_MAX_MSG, &m->rec, &m->rec_len);
	if (key_is(k, "data"))
		return get_span(v, buf, len, CTL_MAX_BLOB, &m->data, &m->data_len);
	if (key_is(k, "key")) {
		m->has_key = true;
		return get_bin(v, m->key, sizeof(m->key));
	}
	if (key_is(k, "iid"))
		return get_str(v, m->iid, sizeof(m->iid));
	if (key_is(k, "exp"))
		return get_u64(v, &m->exp);
	if (key_is(k, "name"))
		return get_str(v, m->name, sizeof(m->name));
	if (key_is(k, "size")) {
		m->has_size = true;
		return get_u64(v, &m->size);
	}
	if (key_is(k, "off"))
		return get_u64(v, &m->off);
	if (key_is(k, "cid")) {
		m->has_contact = true;
		return get_bin(v, m->contact, sizeof(m->contact));
	}
	return 0; /* unknown keys are for newer peers */
}

/* Which fields each type must carry. */
static int check_required(const struct ctl_msg *m)
{
	switch (m->type) {
	case CTL_HELLO:
	case CTL_JOIN_REQ:
	case CTL_PENDING:
	case CTL_DENIED:
	case CTL_LEAVE:
	case CTL_ADMIN_TAKEN:
		return m->has_net ? 0 : -EINVAL;
	case CTL_WELCOME:
	case CTL_SYNC:
		return m->has_net && m->rec ? 0 : -EINVAL;
	case CTL_BLOB_GET:
		return m->has_hash ? 0 : -EINVAL;
	case CTL_BLOB:
		return m->has_hash && m->data ? 0 : -EINVAL;
	case CTL_ADMIN_GRANT:
		return m->has_net && m->has_key ? 0 : -EINVAL;
	case CTL_INVITE_SHARE:
		return m->has_net && m->has_hash && m->iid[0] ? 0 : -EINVAL;
	case CTL_INVITE_USED:
		return m->has_net && m->has_hash ? 0 : -EINVAL;
	case CTL_PING:
	case CTL_PONG:
		return m->exp ? 0 : -EINVAL;
	case CTL_ENDPOINT:
		return m->rec ? 0 : -EINVAL;
	case CTL_FILE_OFFER:
		return m->iid[0] && m->name[0] && m->has_size && m->has_hash ? 0 : -EINVAL;
	case CTL_FILE_DENY:
	case CTL_FILE_CANCEL:
		return m->iid[0] ? 0 : -EINVAL;
	case CTL_FILE_GET:
		return m->iid[0] && m->has_hash ? 0 : -EINVAL;
	case CTL_FILE_DATA:
		return m->data ? 0 : -EINVAL;
	case CTL_CONNECT_REQ:
		return m->has_contact ? 0 : -EINVAL;
	case CTL_CONNECT_PENDING:
	case CTL_CONNECT_DENIED:
		return 0;
	case CTL_CONNECT_OK:
		return m->has_net ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

int ctl_decode(const uint8_t *buf, size_t len, struct ctl_msg *m)
{
	msgpack_unpacked up;
	size_t off = 0;
	int ret = -EINVAL;

	memset(m, 0, sizeof(*m));
	if (len > CTL_MAX_BLOB + 4096 || mp_check(buf, len, 4) < 0)
		return -EINVAL;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, (const char *)buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    up.data.type != MSGPACK_OBJECT_MAP)
		goto out;
	for (uint32_t i = 0; i < up.data.via.map.size; i++)
		if (decode_field(&up.data.via.map.ptr[i].key, &up.data.via.map.ptr[i].val, buf, len,
				 m) < 0)
			goto out;
	ret = check_required(m);
out:
	msgpack_unpacked_destroy(&up);
	if (ret < 0)
		memset(m, 0, sizeof(*m));
	return ret;
}

const char *ctl_type_name(enum ctl_type t)
{
	static const char *names[] = { "?",           "hello",         "join_req",
				       "welcome",     "pending",       "denied",
				       "sync",        "leave",         "blob_get",
				       "blob",        "admin_grant",   "invite_share",
				       "invite_used", "ping",          "pong",
				       "endpoint",    "admin_taken",   "file_offer",
				       "file_deny",   "file_cancel",   "file_get",
				       "file_data",   "connect_req",   "connect_pending",
				       "connect_ok",  "connect_denied" };

	_Static_assert(sizeof(names) / sizeof(names[0]) == CTL_TYPE_MAX, "a name per type");

	return t > 0 && t < CTL_TYPE_MAX ? names[t] : "?";
}
