/*
 * mp_check: see mp_check.h. An explicit stack of "elements still owed" per
 * open container replaces recursion, so depth costs no C stack.
 */
#include "proto/mp_check.h"

#include <errno.h>
#include <stdint.h>

#define MP_MAX_DEPTH 64

struct cursor {
	const uint8_t *p;
	size_t left;
};

static int take(struct cursor *c, size_t n)
{
	if (c->left < n)
		return -EINVAL;
	c->p += n;
	c->left -= n;
	return 0;
}

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Reads a length field of n bytes that follows the type byte. */
static int read_len(struct cursor *c, int n, uint64_t *out)
{
	if (c->left < (size_t)n)
		return -EINVAL;
	*out = be(c->p, n);
	return take(c, (size_t)n);
}

/*
 * Consumes one object header (and any scalar payload). For a container,
 * *children is the number of objects that follow as its contents.
 */
static int read_header(struct cursor *c, uint64_t *children)
{
	uint8_t t;
	uint64_t n = 0;

	*children = 0;
	if (c->left < 1)
		return -EINVAL;
	t = *c->p;
	if (take(c, 1) < 0)
		return -EINVAL;
	if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
		return 0;
	if (t >= 0x80 && t <= 0x8f) {
		*children = 2ull * (t & 0x0f);
		return 0;
	}
	if (t >= 0x90 && t <= 0x9f) {
		*children = t & 0x0f;
		return 0;
	}
	if (t >= 0xa0 && t <= 0xbf)
		return take(c, t & 0x1f);
	switch (t) {
	case 0xcc:
	case 0xd0:
		return take(c, 1);
	case 0xcd:
	case 0xd1:
		return take(c, 2);
	case 0xca:
	case 0xce:
	case 0xd2:
		return take(c, 4);
	case 0xcb:
	case 0xcf:
	case 0xd3:
		return take(c, 8);
	case 0xd4:
		return take(c, 2);
	case 0xd5:
		return take(c, 3);
	case 0xd6:
		return take(c, 5);
	case 0xd7:
		return take(c, 9);
	case 0xd8:
		return take(c, 17);
	case 0xc4:
	case 0xd9:
		if (read_len(c, 1, &n) < 0)
			return -EINVAL;
		return n > c->left ? -EINVAL : take(c, n);
	case 0xc5:
	case 0xda:
		if (read_len(c, 2, &n) < 0)
			return -EINVAL;
		return n > c->left ? -EINVAL : take(c, n);
	case 0xc6:
	case 0xdb:
		if (read_len(c, 4, &n) < 0)
			return -EINVAL;
		return n > c->left ? -EINVAL : take(c, n);
	case 0xc7:
	case 0xc8:
	case 0xc9: {
		int w = t == 0xc7 ? 1 : t == 0xc8 ? 2 : 4;
		if (read_len(c, w, &n) < 0)
			return -EINVAL;
		return n + 1 > c->left ? -EINVAL : take(c, n + 1);
	}
	case 0xdc:
		if (read_len(c, 2, children) < 0)
			return -EINVAL;
		return 0;
	case 0xdd:
		if (read_len(c, 4, children) < 0)
			return -EINVAL;
		return 0;
	case 0xde:
		if (read_len(c, 2, &n) < 0)
			return -EINVAL;
		*children = 2 * n;
		return 0;
	case 0xdf:
		if (read_len(c, 4, &n) < 0)
			return -EINVAL;
		*children = 2 * n;
		return 0;
	default:
		return -EINVAL; /* 0xc1 is never used */
	}
}

int mp_check_prefix(const void *buf, size_t len, int max_depth, size_t *used)
{
	struct cursor c = { buf, len };
	uint64_t owed[MP_MAX_DEPTH + 1];
	int depth = 0;

	if (!buf || max_depth < 1 || max_depth > MP_MAX_DEPTH)
		return -EINVAL;
	owed[0] = 1;
	while (depth >= 0) {
		uint64_t children;

		if (owed[depth] == 0) {
			depth--;
			continue;
		}
		owed[depth]--;
		if (read_header(&c, &children) < 0)
			return -EINVAL;
		if (children == 0)
			continue;
		if (children > c.left || depth + 1 > max_depth)
			return -EINVAL;
		owed[++depth] = children;
	}
	if (used)
		*used = len - c.left;
	return 0;
}

int mp_check(const void *buf, size_t len, int max_depth)
{
	size_t used;

	if (mp_check_prefix(buf, len, max_depth, &used) < 0)
		return -EINVAL;
	return used == len ? 0 : -EINVAL;
}
