/*
 * mpread: see mpread.h. Multi-byte msgpack numbers and lengths are
 * big-endian. Each typed read peeks first and moves the cursor only once
 * the whole item is known to be there. mp_skip keeps an explicit stack of
 * "elements still owed" per open container instead of recursing, so depth
 * costs no C stack.
 */
#include "util/mpread.h"

#include <errno.h>

void mp_reader_init(struct mp_reader *r, const void *buf, size_t len)
{
	r->buf = buf;
	r->len = buf ? len : 0;
	r->pos = 0;
}

size_t mp_reader_left(const struct mp_reader *r)
{
	return r->len - r->pos;
}

/* Reads an n-byte big-endian number at pos+off without moving the cursor. */
static int peek_be(const struct mp_reader *r, size_t off, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (mp_reader_left(r) < off + n)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++)
		x = (x << 8) | r->buf[r->pos + off + i];
	*v = x;
	return 0;
}

static int peek_type(const struct mp_reader *r, uint8_t *t)
{
	if (mp_reader_left(r) < 1)
		return -EBADMSG;
	*t = r->buf[r->pos];
	return 0;
}

/*
 * A container header: fix form (fix_lo..fix_lo+15) or the 16- and 32-bit
 * forms. Its count is bounded by max and by the bytes left after it.
 */
static int read_container(struct mp_reader *r, uint8_t fix_lo, uint8_t t16, size_t max,
			  size_t per_entry, size_t *count)
{
	uint64_t n;
	size_t hdr;
	uint8_t t;

	if (peek_type(r, &t) < 0)
		return -EBADMSG;
	if (t >= fix_lo && t <= fix_lo + 0x0f) {
		n = t & 0x0f;
		hdr = 1;
	} else if (t == t16 || t == t16 + 1) {
		hdr = t == t16 ? 3 : 5;
		if (peek_be(r, 1, hdr - 1, &n) < 0)
			return -EBADMSG;
	} else {
		return -EBADMSG;
	}
	if (n > max || n > (mp_reader_left(r) - hdr) / per_entry)
		return -EBADMSG;
	r->pos += hdr;
	*count = (size_t)n;
	return 0;
}

int mp_read_array(struct mp_reader *r, size_t max, size_t *count)
{
	return read_container(r, 0x90, 0xdc, max, 1, count);
}

int mp_read_map(struct mp_reader *r, size_t max, size_t *count)
{
	return read_container(r, 0x80, 0xde, max, 2, count);
}

int mp_read_uint(struct mp_reader *r, uint64_t *v)
{
	size_t n;
	uint8_t t;

	if (peek_type(r, &t) < 0)
		return -EBADMSG;
	if (t <= 0x7f) {
		*v = t;
		r->pos++;
		return 0;
	}
	if (t < 0xcc || t > 0xcf)
		return -EBADMSG;
	n = (size_t)1 << (t - 0xcc);
	if (peek_be(r, 1, n, v) < 0)
		return -EBADMSG;
	r->pos += 1 + n;
	return 0;
}

int mp_read_bool(struct mp_reader *r, bool *v)
{
	uint8_t t;

	if (peek_type(r, &t) < 0 || (t != 0xc2 && t != 0xc3))
		return -EBADMSG;
	*v = t == 0xc3;
	r->pos++;
	return 0;
}

/* A bin (c4..c6) or str (fixstr, d9..db) body of at most max bytes. */
static int read_span(struct mp_reader *r, int want_bin, size_t max, const uint8_t **data,
		     size_t *len)
{
	uint64_t n;
	size_t hdr;
	uint8_t t;

	if (peek_type(r, &t) < 0)
		return -EBADMSG;
	if (!want_bin && t >= 0xa0 && t <= 0xbf) {
		n = t & 0x1f;
		hdr = 1;
	} else if ((want_bin && t >= 0xc4 && t <= 0xc6) || (!want_bin && t >= 0xd9 && t <= 0xdb)) {
		hdr = 1 + ((size_t)1 << (t - (want_bin ? 0xc4 : 0xd9)));
		if (peek_be(r, 1, hdr - 1, &n) < 0)
			return -EBADMSG;
	} else {
		return -EBADMSG;
	}
	if (n > max || n > mp_reader_left(r) - hdr)
		return -EBADMSG;
	*data = r->buf + r->pos + hdr;
	*len = (size_t)n;
	r->pos += hdr + (size_t)n;
	return 0;
}

int mp_read_bin(struct mp_reader *r, size_t max, const uint8_t **data, size_t *len)
{
	return read_span(r, 1, max, data, len);
}

int mp_read_str(struct mp_reader *r, size_t max, const uint8_t **data, size_t *len)
{
	return read_span(r, 0, max, data, len);
}

int mp_read_nil(struct mp_reader *r)
{
	uint8_t t;

	if (peek_type(r, &t) < 0)
		return -EBADMSG;
	if (t != 0xc0)
		return 0;
	r->pos++;
	return 1;
}

/* ---- skipping ---- */

/* Steps over n bytes at *pos within len. */
static int take(size_t *pos, size_t len, uint64_t n)
{
	if (n > len - *pos)
		return -EBADMSG;
	*pos += (size_t)n;
	return 0;
}

/* Steps over a length field of w bytes, then that many bytes (plus extra). */
static int take_sized(const struct mp_reader *r, size_t *pos, size_t w, uint64_t extra)
{
	struct mp_reader at = { r->buf, r->len, *pos };
	uint64_t n;

	if (peek_be(&at, 0, w, &n) < 0)
		return -EBADMSG;
	*pos += w;
	return take(pos, r->len, n + extra);
}

/* Payload bytes of the types whose size the type byte alone fixes; -1 for
 * the others. */
static int fixed_payload(uint8_t t)
{
	switch (t) {
	case 0xc0:
	case 0xc2:
	case 0xc3:
		return 0;
	case 0xcc:
	case 0xd0:
		return 1;
	case 0xcd:
	case 0xd1:
	case 0xd4:
		return 2;
	case 0xd5:
		return 3;
	case 0xca:
	case 0xce:
	case 0xd2:
		return 4;
	case 0xd6:
		return 5;
	case 0xcb:
	case 0xcf:
	case 0xd3:
		return 8;
	case 0xd7:
		return 9;
	case 0xd8:
		return 17;
	default:
		return -1;
	}
}

/*
 * Steps over one object header at *pos (and a scalar's payload). For a
 * container, *children is the number of objects that follow as its contents.
 */
static int skip_header(const struct mp_reader *r, size_t *pos, uint64_t *children)
{
	struct mp_reader at = { r->buf, r->len, *pos };
	uint64_t n;
	uint8_t t;
	int fixed;

	*children = 0;
	if (peek_type(&at, &t) < 0)
		return -EBADMSG;
	(*pos)++;
	if (t <= 0x7f || t >= 0xe0)
		return 0;
	if (t <= 0x8f) {
		*children = 2ull * (t & 0x0f);
		return 0;
	}
	if (t <= 0x9f) {
		*children = t & 0x0f;
		return 0;
	}
	if (t <= 0xbf)
		return take(pos, r->len, t & 0x1f);
	if ((fixed = fixed_payload(t)) >= 0)
		return take(pos, r->len, (uint64_t)fixed);
	switch (t) {
	case 0xc4:
	case 0xc5:
	case 0xc6:
		return take_sized(r, pos, (size_t)1 << (t - 0xc4), 0);
	case 0xd9:
	case 0xda:
	case 0xdb:
		return take_sized(r, pos, (size_t)1 << (t - 0xd9), 0);
	case 0xc7:
	case 0xc8:
	case 0xc9: /* ext: length, type byte, data */
		return take_sized(r, pos, (size_t)1 << (t - 0xc7), 1);
	case 0xdc:
	case 0xdd:
	case 0xde:
	case 0xdf: { /* array16, array32, map16, map32 */
		size_t w = t == 0xdc || t == 0xde ? 2 : 4;

		at.pos = *pos;
		if (peek_be(&at, 0, w, &n) < 0)
			return -EBADMSG;
		*pos += w;
		*children = t >= 0xde ? 2 * n : n;
		return 0;
	}
	default: /* 0xc1 is never used */
		return -EBADMSG;
	}
}

int mp_skip(struct mp_reader *r, int max_depth)
{
	uint64_t owed[MP_MAX_DEPTH + 1];
	size_t pos = r->pos;
	int depth = 0;

	if (max_depth < 1 || max_depth > MP_MAX_DEPTH)
		return -EBADMSG;
	owed[0] = 1;
	while (depth >= 0) {
		uint64_t children;

		if (owed[depth] == 0) {
			depth--;
			continue;
		}
		owed[depth]--;
		if (skip_header(r, &pos, &children) < 0)
			return -EBADMSG;
		if (children == 0)
			continue;
		if (children > r->len - pos || depth + 1 > max_depth)
			return -EBADMSG;
		owed[++depth] = children;
	}
	r->pos = pos;
	return 0;
}

int mp_check_prefix(const void *buf, size_t len, int max_depth, size_t *used)
{
	struct mp_reader r;

	if (!buf)
		return -EINVAL;
	mp_reader_init(&r, buf, len);
	if (mp_skip(&r, max_depth) < 0)
		return -EINVAL;
	if (used)
		*used = r.pos;
	return 0;
}

int mp_check(const void *buf, size_t len, int max_depth)
{
	size_t used;

	if (mp_check_prefix(buf, len, max_depth, &used) < 0)
		return -EINVAL;
	return used == len ? 0 : -EINVAL;
}
