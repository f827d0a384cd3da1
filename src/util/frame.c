/*
 * frame: see frame.h. Complete frames are handed out straight from the
 * caller's data when nothing is buffered, so the common case copies nothing.
 */
#include "util/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A buffer up to this size is kept for the next partial frame; a larger
 * one (grown for one big frame) is freed after it. */
#define FRAME_KEEP_CAP 65536

void frame_reader_init(struct frame_reader *fr, size_t max)
{
	memset(fr, 0, sizeof(*fr));
	fr->max = max;
}

void frame_reader_close(struct frame_reader *fr)
{
	free(fr->buf);
	memset(fr, 0, sizeof(*fr));
}

void frame_put_header(uint8_t out[FRAME_HEADER], uint32_t len)
{
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
}

static size_t body_len(const uint8_t *p)
{
	return ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
}

/* Consumes whole frames from p; returns bytes consumed or a negative error. */
static long consume(struct frame_reader *fr, const uint8_t *p, size_t len, frame_cb cb, void *ud)
{
	size_t off = 0;

	while (len - off >= FRAME_HEADER) {
		size_t n = body_len(p + off);
		int ret;

		if (n > fr->max)
			return -EMSGSIZE;
		if (len - off - FRAME_HEADER < n)
			break;
		ret = cb(ud, p + off + FRAME_HEADER, n);
		if (ret < 0)
			return ret;
		off += FRAME_HEADER + n;
	}
	if (len - off >= FRAME_HEADER && body_len(p + off) > fr->max)
		return -EMSGSIZE;
	return (long)off;
}

static int stash(struct frame_reader *fr, const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	if (fr->len + n > fr->cap) {
		size_t cap = fr->cap ? fr->cap : 256;
		uint8_t *nb;

		while (cap < fr->len + n)
			cap *= 2;
		if (cap > fr->max + FRAME_HEADER)
			cap = fr->max + FRAME_HEADER;
		if (cap < fr->len + n)
			return -EMSGSIZE;
		nb = realloc(fr->buf, cap);
		if (!nb)
			return -ENOMEM;
		fr->buf = nb;
		fr->cap = cap;
	}
	memcpy(fr->buf + fr->len, p, n);
	fr->len += n;
	return 0;
}

static void release_large(struct frame_reader *fr)
{
	if (fr->cap <= FRAME_KEEP_CAP)
		return;
	free(fr->buf);
	fr->buf = NULL;
	fr->cap = 0;
}

int frame_reader_feed(struct frame_reader *fr, const void *data, size_t len, frame_cb cb, void *ud)
{
	const uint8_t *p = data;
	long used;
	int ret;

	/* First finish the frame left over from an earlier feed. */
	while (fr->len > 0) {
		size_t want = FRAME_HEADER;
		size_t n;

		if (fr->len >= FRAME_HEADER) {
			n = body_len(fr->buf);
			if (n > fr->max)
				return -EMSGSIZE;
			want = FRAME_HEADER + n;
			if (fr->len == want) {
				fr->len = 0;
				ret = cb(ud, fr->buf + FRAME_HEADER, n);
				release_large(fr);
				if (ret < 0)
					return ret;
				continue;
			}
		}
		if (len == 0)
			return 0;
		n = want - fr->len < len ? want - fr->len : len;
		ret = stash(fr, p, n);
		if (ret < 0)
			return ret;
		p += n;
		len -= n;
	}
	used = consume(fr, p, len, cb, ud);
	if (used < 0)
		return (int)used;
	return stash(fr, p + used, len - (size_t)used);
}
