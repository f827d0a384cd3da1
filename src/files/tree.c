/*
 * tree: see tree.h. The tree's shape is the BLAKE3 spec's: a subtree of
 * more than one group splits into a left part of the largest power of two
 * of chunks that leaves the right part non-empty, and the rest. Since a
 * group is a power of two of chunks, group boundaries are subtree
 * boundaries, and a group's chaining value is the spec's value for that
 * subtree (blake3_init_at at its first chunk).
 */
#include "files/tree.h"

#include <errno.h>
#include <string.h>

uint64_t tree_groups(uint64_t size)
{
	return size == 0 ? 1 : (size - 1) / TREE_GROUP + 1;
}

uint64_t tree_nodes(uint64_t size)
{
	return tree_groups(size) - 1;
}

/* For len > TREE_GROUP: the bytes of the left subtree. */
static uint64_t left_len(uint64_t len)
{
	uint64_t chunks = (len - 1) / BLAKE3_CHUNK_LEN + 1, left = 1;

	while (left * 2 < chunks)
		left *= 2;
	return left * BLAKE3_CHUNK_LEN;
}

/* A group's chaining value, or the file's hash when it is the root. */
static void group_cv(uint64_t off, const uint8_t *data, size_t len, bool root,
		     uint8_t out[LIMIT_KEY_LEN])
{
	struct blake3_hasher h;

	blake3_init_at(&h, off / BLAKE3_CHUNK_LEN);
	blake3_update(&h, data, len);
	if (root)
		blake3_final(&h, out);
	else
		blake3_final_cv(&h, out);
}

/* ---- the outboard ---- */

struct outboard_ctx {
	tree_read_fn read;
	tree_node_fn put;
	void *ud;
	uint8_t group[TREE_GROUP];
};

static int build(struct outboard_ctx *c, uint64_t off, uint64_t len, uint64_t node, bool root,
		 uint8_t cv[LIMIT_KEY_LEN])
{
	uint8_t pair[TREE_NODE];
	uint64_t l;
	int ret;

	if (len <= TREE_GROUP) {
		if (len && (ret = c->read(c->ud, off, c->group, (size_t)len)) < 0)
			return ret;
		group_cv(off, c->group, (size_t)len, root, cv);
		return 0;
	}
	l = left_len(len);
	if ((ret = build(c, off, l, node + 1, false, pair)) < 0)
		return ret;
	if ((ret = build(c, off + l, len - l, node + 1 + tree_nodes(l), false,
			 pair + LIMIT_KEY_LEN)) < 0)
		return ret;
	if ((ret = c->put(c->ud, node, pair)) < 0)
		return ret;
	blake3_parent(pair, pair + LIMIT_KEY_LEN, root, cv);
	return 0;
}

int tree_outboard(uint64_t size, tree_read_fn read, tree_node_fn put, void *ud,
		  uint8_t root[LIMIT_KEY_LEN])
{
	/* Static would not be reentrant; 16 KiB on the stack is fine. */
	struct outboard_ctx c = { .read = read, .put = put, .ud = ud };

	return build(&c, 0, size, 0, true, root);
}

/* ---- the sender's stream ---- */

static bool before_start(uint64_t start, uint64_t off, uint64_t len)
{
	return len > 0 && off + len <= start;
}

static uint64_t stream_len_at(uint64_t start, uint64_t off, uint64_t len)
{
	uint64_t l;

	if (before_start(start, off, len))
		return 0;
	if (len <= TREE_GROUP)
		return len;
	l = left_len(len);
	return TREE_NODE + stream_len_at(start, off, l) + stream_len_at(start, off + l, len - l);
}

uint64_t tree_stream_len(uint64_t size, uint64_t start)
{
	return stream_len_at(start, 0, size);
}

static bool valid_start(uint64_t size, uint64_t start)
{
	return start % TREE_GROUP == 0 && start <= size;
}

int tree_encoder_init(struct tree_encoder *e, uint64_t size, uint64_t start, tree_read_fn read,
		      tree_get_node_fn get_node, void *ud)
{
	memset(e, 0, sizeof(*e));
	if (!valid_start(size, start))
		return -EINVAL;
	e->size = size;
	e->start = start;
	e->read = read;
	e->get_node = get_node;
	e->ud = ud;
	e->stack[0] = (struct tree_span){ .off = 0, .len = size, .node = 0 };
	e->depth = 1;
	return 0;
}

/* Pops the next span: a node goes to pending, a group to group_*. */
static int encoder_step(struct tree_encoder *e)
{
	struct tree_span s = e->stack[--e->depth];
	uint64_t l;
	int ret;

	if (before_start(e->start, s.off, s.len))
		return 0;
	if (s.len <= TREE_GROUP) {
		e->group_off = s.off;
		e->group_left = s.len;
		return 0;
	}
	if ((ret = e->get_node(e->ud, s.node, e->pending)) < 0)
		return ret;
	e->pending_len = TREE_NODE;
	e->pending_off = 0;
	l = left_len(s.len);
	e->stack[e->depth++] = (struct tree_span){ .off = s.off + l,
						   .len = s.len - l,
						   .node = s.node + 1 + tree_nodes(l) };
	e->stack[e->depth++] = (struct tree_span){ .off = s.off, .len = l, .node = s.node + 1 };
	return 0;
}

long tree_encoder_next(struct tree_encoder *e, uint8_t *out, size_t cap)
{
	size_t done = 0, take;
	int ret;

	while (done < cap) {
		if (e->pending_off < e->pending_len) {
			take = e->pending_len - e->pending_off;
			take = take < cap - done ? take : cap - done;
			memcpy(out + done, e->pending + e->pending_off, take);
			e->pending_off += take;
			done += take;
			continue;
		}
		if (e->group_left > 0) {
			take = e->group_left < cap - done ? (size_t)e->group_left : cap - done;
			if ((ret = e->read(e->ud, e->group_off, out + done, take)) < 0)
				return ret;
			e->group_off += take;
			e->group_left -= take;
			done += take;
			continue;
		}
		if (e->depth == 0)
			break;
		if ((ret = encoder_step(e)) < 0)
			return ret;
	}
	return (long)done;
}

/* ---- the receiver's check ---- */

int tree_decoder_init(struct tree_decoder *d, const uint8_t root[LIMIT_KEY_LEN], uint64_t size,
		      uint64_t start)
{
	uint8_t empty[LIMIT_KEY_LEN];

	memset(d, 0, sizeof(*d));
	if (!valid_start(size, start))
		return -EINVAL;
	d->size = size;
	d->start = start;
	d->verified = start;
	if (size == 0) {
		/* Nothing will be streamed: the name must be the empty file's. */
		blake3_hash("", 0, empty);
		return memcmp(empty, root, LIMIT_KEY_LEN) == 0 ? 0 : -EBADMSG;
	}
	d->stack[0].off = 0;
	d->stack[0].len = size;
	d->stack[0].root = true;
	memcpy(d->stack[0].cv, root, LIMIT_KEY_LEN);
	d->depth = 1;
	/* Drops what lies before start; from the end, that is everything. */
	return tree_decoder_feed(d, NULL, 0, NULL, NULL);
}

bool tree_decoder_done(const struct tree_decoder *d)
{
	return d->depth == 0 && !d->failed;
}

/* A whole parent node arrived for the span on top: check it, split. */
static int decoder_node(struct tree_decoder *d)
{
	struct tree_expect top = d->stack[d->depth - 1], *right, *left;
	uint8_t cv[LIMIT_KEY_LEN];
	uint64_t l = left_len(top.len);

	blake3_parent(d->node, d->node + LIMIT_KEY_LEN, top.root, cv);
	d->node_have = 0;
	if (memcmp(cv, top.cv, LIMIT_KEY_LEN) != 0)
		return -EBADMSG;
	right = &d->stack[d->depth - 1];
	left = &d->stack[d->depth++];
	*right = (struct tree_expect){ .off = top.off + l, .len = top.len - l };
	memcpy(right->cv, d->node + LIMIT_KEY_LEN, LIMIT_KEY_LEN);
	*left = (struct tree_expect){ .off = top.off, .len = l };
	memcpy(left->cv, d->node, LIMIT_KEY_LEN);
	return 0;
}

/* A whole group arrived for the span on top: check it, hand it out. */
static int decoder_group(struct tree_decoder *d, tree_data_fn data, void *ud)
{
	const struct tree_expect *top = &d->stack[d->depth - 1];
	uint8_t cv[LIMIT_KEY_LEN];
	size_t len = d->group_have;
	uint64_t off = top->off;

	group_cv(off, d->group, len, top->root, cv);
	d->group_have = 0;
	if (memcmp(cv, top->cv, LIMIT_KEY_LEN) != 0)
		return -EBADMSG;
	d->depth--;
	d->verified = off + len;
	return data(ud, off, d->group, len);
}

int tree_decoder_feed(struct tree_decoder *d, const uint8_t *p, size_t n, tree_data_fn data,
		      void *ud)
{
	size_t take;
	int ret = 0;

	if (d->failed)
		return -EBADMSG;
	while (ret == 0) {
		const struct tree_expect *top;

		if (d->depth == 0)
			return n > 0 ? -E2BIG : 0;
		top = &d->stack[d->depth - 1];
		if (before_start(d->start, top->off, top->len)) {
			d->depth--;
			continue;
		}
		if (n == 0)
			return 0;
		if (top->len > TREE_GROUP) {
			take = TREE_NODE - d->node_have < n ? TREE_NODE - d->node_have : n;
			memcpy(d->node + d->node_have, p, take);
			d->node_have += take;
			p += take;
			n -= take;
			if (d->node_have == TREE_NODE)
				ret = decoder_node(d);
			continue;
		}
		take = (size_t)top->len - d->group_have;
		take = take < n ? take : n;
		memcpy(d->group + d->group_have, p, take);
		d->group_have += take;
		p += take;
		n -= take;
		if (d->group_have == top->len)
			ret = decoder_group(d, data, ud);
	}
	if (ret == -EBADMSG)
		d->failed = true;
	return ret;
}
