/*
 * wire: see wire.h. Multi-byte msgpack numbers and lengths are big-endian.
 */
#include "discovery/wire.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

void wire_reader_init(struct wire_reader *r, const uint8_t *buf, size_t len)
{
	r->buf = buf;
	r->len = buf ? len : 0;
	r->pos = 0;
}

size_t wire_reader_left(const struct wire_reader *r)
{
	return r->len - r->pos;
}

/* Reads an n-byte big-endian number at pos+off without moving the cursor. */
static int peek_be(const struct wire_reader *r, size_t off, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (wire_reader_left(r) < off + n)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++)
		x = (x << 8) | r->buf[r->pos + off + i];
	*v = x;
	return 0;
}

int wire_read_array(struct wire_reader *r, size_t max, size_t *count)
{
	uint64_t n;
	size_t hdr;
	uint8_t t;

	if (wire_reader_left(r) < 1)
		return -EBADMSG;
	t = r->buf[r->pos];
	if (t >= 0x90 && t <= 0x9f) {
		n = t & 0x0f;
		hdr = 1;
	} else if (t == 0xdc || t == 0xdd) {
		hdr = t == 0xdc ? 3 : 5;
		if (peek_be(r, 1, hdr - 1, &n) < 0)
			return -EBADMSG;
	} else {
		return -EBADMSG;
	}
	/* Every element takes at least one byte: a count beyond the input is a
	 * lie we can refuse before looking at any element. */
	if (n > max || n > wire_reader_left(r) - hdr)
		return -EBADMSG;
	r->pos += hdr;
	*count = (size_t)n;
	return 0;
}

int wire_read_uint(struct wire_reader *r, uint64_t *v)
{
	size_t n;
	uint8_t t;

	if (wire_reader_left(r) < 1)
		return -EBADMSG;
	t = r->buf[r->pos];
	if (t <= 0x7f) {
		*v = t;
		r->pos++;
		return 0;
	}
	switch (t) {
	case 0xcc:
		n = 1;
		break;
	case 0xcd:
		n = 2;
		break;
	case 0xce:
		n = 4;
		break;
	case 0xcf:
		n = 8;
		break;
	default:
		return -EBADMSG;
	}
	if (peek_be(r, 1, n, v) < 0)
		return -EBADMSG;
	r->pos += 1 + n;
	return 0;
}

int wire_read_bin(struct wire_reader *r, size_t max, const uint8_t **data, size_t *len)
{
	uint64_t n;
	size_t hdr;
	uint8_t t;

	if (wire_reader_left(r) < 1)
		return -EBADMSG;
	t = r->buf[r->pos];
	switch (t) {
	case 0xc4:
		hdr = 2;
		break;
	case 0xc5:
		hdr = 3;
		break;
	case 0xc6:
		hdr = 5;
		break;
	default:
		return -EBADMSG;
	}
	if (peek_be(r, 1, hdr - 1, &n) < 0)
		return -EBADMSG;
	if (n > max || n > wire_reader_left(r) - hdr)
		return -EBADMSG;
	*data = r->buf + r->pos + hdr;
	*len = (size_t)n;
	r->pos += hdr + (size_t)n;
	return 0;
}

int wire_read_nil(struct wire_reader *r)
{
	if (wire_reader_left(r) < 1)
		return -EBADMSG;
	if (r->buf[r->pos] != 0xc0)
		return 0;
	r->pos++;
	return 1;
}

void wire_writer_init(struct wire_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf ? cap : 0;
	w->pos = 0;
	w->err = 0;
}

static void put_bytes(struct wire_writer *w, const uint8_t *p, size_t n)
{
	if (w->err)
		return;
	if (n > w->cap - w->pos) {
		w->err = -EMSGSIZE;
		return;
	}
	if (n)
		memcpy(w->buf + w->pos, p, n);
	w->pos += n;
}

/* Writes a type byte followed by v as an n-byte big-endian number. */
static void put_tagged(struct wire_writer *w, uint8_t tag, uint64_t v, size_t n)
{
	uint8_t b[9];

	b[0] = tag;
	for (size_t i = 0; i < n; i++)
		b[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	put_bytes(w, b, 1 + n);
}

void wire_write_array(struct wire_writer *w, size_t count)
{
	if (count <= 15)
		put_tagged(w, (uint8_t)(0x90 | count), 0, 0);
	else if (count <= 0xffff)
		put_tagged(w, 0xdc, count, 2);
	else if ((uint64_t)count <= 0xffffffffu)
		put_tagged(w, 0xdd, count, 4);
	else if (!w->err)
		w->err = -EMSGSIZE;
}

void wire_write_uint(struct wire_writer *w, uint64_t v)
{
	if (v <= 0x7f)
		put_tagged(w, (uint8_t)v, 0, 0);
	else if (v <= 0xff)
		put_tagged(w, 0xcc, v, 1);
	else if (v <= 0xffff)
		put_tagged(w, 0xcd, v, 2);
	else if (v <= 0xffffffffu)
		put_tagged(w, 0xce, v, 4);
	else
		put_tagged(w, 0xcf, v, 8);
}

void wire_write_bin(struct wire_writer *w, const uint8_t *data, size_t len)
{
	if (len <= 0xff)
		put_tagged(w, 0xc4, len, 1);
	else if (len <= 0xffff)
		put_tagged(w, 0xc5, len, 2);
	else if ((uint64_t)len <= 0xffffffffu)
		put_tagged(w, 0xc6, len, 4);
	else if (!w->err)
		w->err = -EMSGSIZE;
	put_bytes(w, data, len);
}

void wire_write_nil(struct wire_writer *w)
{
	put_tagged(w, 0xc0, 0, 0);
}

int wire_writer_finish(const struct wire_writer *w)
{
	if (w->err)
		return w->err;
	if (w->pos > INT_MAX)
		return -EMSGSIZE;
	return (int)w->pos;
}
