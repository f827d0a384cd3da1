/*
 * blake3: portable BLAKE3 following the specification's structure: a
 * compression function, a chunk state that feeds 64-byte blocks into it, and
 * a stack of chaining values that merges finished chunks into the binary
 * tree as soon as a subtree is complete. The last chunk is only finalised at
 * blake3_final so that it can carry the ROOT flag when it is the whole input.
 */
#include <string.h>

#include "util/blake3.h"
#include "util/bytes.h"

enum {
	CHUNK_START = 1 << 0,
	CHUNK_END = 1 << 1,
	PARENT = 1 << 2,
	ROOT = 1 << 3,
};

static const uint32_t blake3_iv[8] = {
	0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
	0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
};

static const uint8_t msg_permutation[16] = {
	2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8,
};

/* A finished node whose compression is deferred: the root needs to redo it
 * with the ROOT flag and different counters for extended output. */
struct output {
	uint32_t cv[8];
	uint32_t block[16];
	uint64_t counter;
	uint32_t block_len;
	uint32_t flags;
};

static uint32_t rotr32(uint32_t w, unsigned c)
{
	return (w >> c) | (w << (32 - c));
}

static void g(uint32_t s[16], int a, int b, int c, int d, uint32_t mx, uint32_t my)
{
	s[a] = s[a] + s[b] + mx;
	s[d] = rotr32(s[d] ^ s[a], 16);
	s[c] = s[c] + s[d];
	s[b] = rotr32(s[b] ^ s[c], 12);
	s[a] = s[a] + s[b] + my;
	s[d] = rotr32(s[d] ^ s[a], 8);
	s[c] = s[c] + s[d];
	s[b] = rotr32(s[b] ^ s[c], 7);
}

static void round_fn(uint32_t s[16], const uint32_t m[16])
{
	g(s, 0, 4, 8, 12, m[0], m[1]);
	g(s, 1, 5, 9, 13, m[2], m[3]);
	g(s, 2, 6, 10, 14, m[4], m[5]);
	g(s, 3, 7, 11, 15, m[6], m[7]);
	g(s, 0, 5, 10, 15, m[8], m[9]);
	g(s, 1, 6, 11, 12, m[10], m[11]);
	g(s, 2, 7, 8, 13, m[12], m[13]);
	g(s, 3, 4, 9, 14, m[14], m[15]);
}

static void compress(const uint32_t cv[8], const uint32_t block[16], uint64_t counter,
		     uint32_t block_len, uint32_t flags, uint32_t out[16])
{
	uint32_t s[16], m[16], t[16];
	int r, i;

	memcpy(s, cv, 8 * sizeof(uint32_t));
	memcpy(s + 8, blake3_iv, 4 * sizeof(uint32_t));
	s[12] = (uint32_t)counter;
	s[13] = (uint32_t)(counter >> 32);
	s[14] = block_len;
	s[15] = flags;
	memcpy(m, block, sizeof(m));
	for (r = 0; r < 7; r++) {
		round_fn(s, m);
		if (r == 6)
			break;
		for (i = 0; i < 16; i++)
			t[i] = m[msg_permutation[i]];
		memcpy(m, t, sizeof(m));
	}
	for (i = 0; i < 8; i++) {
		out[i] = s[i] ^ s[i + 8];
		out[i + 8] = s[i + 8] ^ cv[i];
	}
}

static void block_words(const uint8_t bytes[BLAKE3_BLOCK_LEN], uint32_t words[16])
{
	int i;

	for (i = 0; i < 16; i++)
		words[i] = le32_get(bytes + 4 * i);
}

static void output_cv(const struct output *o, uint32_t cv[8])
{
	uint32_t full[16];

	compress(o->cv, o->block, o->counter, o->block_len, o->flags, full);
	memcpy(cv, full, 8 * sizeof(uint32_t));
}

static void chunk_init(struct blake3_chunk *c, uint64_t counter)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->cv, blake3_iv, sizeof(c->cv));
	c->counter = counter;
}

static size_t chunk_len(const struct blake3_chunk *c)
{
	return (size_t)c->blocks_compressed * BLAKE3_BLOCK_LEN + c->block_len;
}

static uint32_t chunk_start_flag(const struct blake3_chunk *c)
{
	return c->blocks_compressed == 0 ? CHUNK_START : 0;
}

static void chunk_update(struct blake3_chunk *c, const uint8_t *in, size_t len)
{
	uint32_t words[16], out[16];
	size_t take;

	while (len > 0) {
		/* A full block is compressed only once more input arrives:
		 * the chunk's last block must carry CHUNK_END. */
		if (c->block_len == BLAKE3_BLOCK_LEN) {
			block_words(c->block, words);
			compress(c->cv, words, c->counter, BLAKE3_BLOCK_LEN, chunk_start_flag(c),
				 out);
			memcpy(c->cv, out, sizeof(c->cv));
			c->blocks_compressed++;
			c->block_len = 0;
			memset(c->block, 0, sizeof(c->block));
		}
		take = BLAKE3_BLOCK_LEN - c->block_len;
		if (take > len)
			take = len;
		memcpy(c->block + c->block_len, in, take);
		c->block_len += (uint8_t)take;
		in += take;
		len -= take;
	}
}

static void chunk_output(const struct blake3_chunk *c, struct output *o)
{
	memcpy(o->cv, c->cv, sizeof(o->cv));
	block_words(c->block, o->block);
	o->counter = c->counter;
	o->block_len = c->block_len;
	o->flags = chunk_start_flag(c) | CHUNK_END;
}

static void parent_output(const uint32_t left[8], const uint32_t right[8], struct output *o)
{
	memcpy(o->cv, blake3_iv, sizeof(o->cv));
	memcpy(o->block, left, 8 * sizeof(uint32_t));
	memcpy(o->block + 8, right, 8 * sizeof(uint32_t));
	o->counter = 0;
	o->block_len = BLAKE3_BLOCK_LEN;
	o->flags = PARENT;
}

/* total_chunks counts chunks finished so far; each trailing zero bit in it
 * is a completed subtree whose two halves can be merged now. */
static void push_chunk_cv(struct blake3_hasher *h, uint32_t cv[8], uint64_t total_chunks)
{
	struct output o;

	while ((total_chunks & 1) == 0) {
		h->stack_len--;
		parent_output(h->stack[h->stack_len], cv, &o);
		output_cv(&o, cv);
		total_chunks >>= 1;
	}
	memcpy(h->stack[h->stack_len], cv, 8 * sizeof(uint32_t));
	h->stack_len++;
}

void blake3_init(struct blake3_hasher *h)
{
	memset(h, 0, sizeof(*h));
	chunk_init(&h->chunk, 0);
}

void blake3_update(struct blake3_hasher *h, const void *data, size_t len)
{
	const uint8_t *in = data;
	struct output o;
	uint32_t cv[8];
	uint64_t total;
	size_t take;

	while (len > 0) {
		if (chunk_len(&h->chunk) == BLAKE3_CHUNK_LEN) {
			chunk_output(&h->chunk, &o);
			output_cv(&o, cv);
			total = h->chunk.counter + 1;
			push_chunk_cv(h, cv, total);
			chunk_init(&h->chunk, total);
		}
		take = BLAKE3_CHUNK_LEN - chunk_len(&h->chunk);
		if (take > len)
			take = len;
		chunk_update(&h->chunk, in, take);
		in += take;
		len -= take;
	}
}

static void root_output(const struct blake3_hasher *h, struct output *o)
{
	uint32_t cv[8];
	int i;

	chunk_output(&h->chunk, o);
	for (i = h->stack_len - 1; i >= 0; i--) {
		output_cv(o, cv);
		parent_output(h->stack[i], cv, o);
	}
}

void blake3_final_xof(const struct blake3_hasher *h, uint8_t *out, size_t len)
{
	struct output o;
	uint32_t words[16];
	uint8_t block[BLAKE3_BLOCK_LEN];
	uint64_t counter = 0;
	size_t take;
	int i;

	root_output(h, &o);
	while (len > 0) {
		compress(o.cv, o.block, counter, o.block_len, o.flags | ROOT, words);
		for (i = 0; i < 16; i++)
			le32_put(block + 4 * i, words[i]);
		take = len < sizeof(block) ? len : sizeof(block);
		memcpy(out, block, take);
		out += take;
		len -= take;
		counter++;
	}
}

void blake3_final(const struct blake3_hasher *h, uint8_t out[BLAKE3_OUT_LEN])
{
	blake3_final_xof(h, out, BLAKE3_OUT_LEN);
}

void blake3_init_at(struct blake3_hasher *h, uint64_t chunk)
{
	memset(h, 0, sizeof(*h));
	chunk_init(&h->chunk, chunk);
}

static void cv_bytes(const uint32_t cv[8], uint8_t out[BLAKE3_OUT_LEN])
{
	for (int i = 0; i < 8; i++)
		le32_put(out + 4 * i, cv[i]);
}

static void cv_words(const uint8_t in[BLAKE3_OUT_LEN], uint32_t cv[8])
{
	for (int i = 0; i < 8; i++)
		cv[i] = le32_get(in + 4 * i);
}

void blake3_final_cv(const struct blake3_hasher *h, uint8_t out[BLAKE3_OUT_LEN])
{
	struct output o;
	uint32_t cv[8];

	root_output(h, &o);
	output_cv(&o, cv);
	cv_bytes(cv, out);
}

void blake3_parent(const uint8_t left[BLAKE3_OUT_LEN], const uint8_t right[BLAKE3_OUT_LEN],
		   int root, uint8_t out[BLAKE3_OUT_LEN])
{
	uint32_t l[8], r[8], cv[8], full[16];
	struct output o;

	cv_words(left, l);
	cv_words(right, r);
	parent_output(l, r, &o);
	if (!root) {
		output_cv(&o, cv);
		cv_bytes(cv, out);
		return;
	}
	compress(o.cv, o.block, 0, o.block_len, o.flags | ROOT, full);
	for (int i = 0; i < 8; i++)
		le32_put(out + 4 * i, full[i]);
}

void blake3_checksum(const char *domain, const void *data, size_t len, uint8_t *out, size_t out_len)
{
	struct blake3_hasher h;
	uint8_t full[BLAKE3_OUT_LEN];

	blake3_init(&h);
	blake3_update(&h, domain, strlen(domain));
	blake3_update(&h, data, len);
	blake3_final(&h, full);
	memcpy(out, full, out_len < sizeof(full) ? out_len : sizeof(full));
}

void blake3_hash(const void *data, size_t len, uint8_t out[BLAKE3_OUT_LEN])
{
	struct blake3_hasher h;

	blake3_init(&h);
	blake3_update(&h, data, len);
	blake3_final(&h, out);
}
