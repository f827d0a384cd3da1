/*
 * frame: see frame.h. Complete frames are handed out straight from the
 * caller's data when nothing is buffered, so the common case copies nothing.
 */
#include "util/frame.h"
#include "util/bytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A buffer up to this size is kept for the next partial frame; a larger
 * one (grown for one big frame) is freed after it. */
#define FRAME_KEEP_CAP 65536

void frame_reader_init(struct frame_reader *fr, size_t max)
{
	buf_init(&fr->b, max + FRAME_HEADER);
	fr->max = max;
}

void frame_reader_close(struct frame_reader *fr)
{
	buf_free(&fr->b);
}

void frame_put_header(uint8_t out[FRAME_HEADER], uint32_t len)
{
	be32_put(out, len);
}

static size_t body_len(const uint8_t *p)
{
	return be32_get(p);
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

int frame_reader_feed(struct frame_reader *fr, const void *data, size_t len, frame_cb cb, void *ud)
{
	struct buf *b = &fr->b;
	const uint8_t *p = data;
	long used;
	int ret;

	/* First finish the frame left over from an earlier feed. */
	while (b->len > 0) {
		size_t want = FRAME_HEADER;
		size_t n;

		if (b->len >= FRAME_HEADER) {
			n = body_len(b->data);
			if (n > fr->max)
				return -EMSGSIZE;
			want = FRAME_HEADER + n;
			if (b->len == want) {
				ret = cb(ud, b->data + FRAME_HEADER, n);
				buf_reset(b, FRAME_KEEP_CAP);
				if (ret < 0)
					return ret;
				continue;
			}
		}
		if (len == 0)
			return 0;
		n = want - b->len < len ? want - b->len : len;
		ret = buf_append(b, p, n);
		if (ret < 0)
			return ret;
		p += n;
		len -= n;
	}
	used = consume(fr, p, len, cb, ud);
	if (used < 0)
		return (int)used;
	return buf_append(b, p + used, len - (size_t)used);
}
