/*
 * wire: see wire.h. Multi-byte msgpack numbers and lengths are big-endian.
 */
#include "discovery/wire.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

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
