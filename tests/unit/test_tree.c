/*
 * Unit tests of verified streaming (files/tree.c): the root is the file's
 * BLAKE3 hash; the stream from every group boundary decodes to exactly the
 * file, whatever the pieces; a changed, cut, lengthened or mislabelled
 * stream is refused, and nothing unverified is ever handed out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "files/tree.h"
#include "util/blake3.h"

struct file {
	uint8_t *data;
	uint64_t size;
	uint8_t *nodes; /* the outboard */
	uint64_t n_nodes;
	uint8_t root[32];
	int fail_read_at; /* read number that fails, 0: none */
	int reads;
};

static int file_read(void *ud, uint64_t off, uint8_t *buf, size_t len)
{
	struct file *f = ud;

	if (f->fail_read_at && ++f->reads == f->fail_read_at)
		return -EIO;
	assert_true(off + len <= f->size);
	memcpy(buf, f->data + off, len);
	return 0;
}

static int node_put(void *ud, uint64_t i, const uint8_t node[TREE_NODE])
{
	struct file *f = ud;

	assert_true(i < f->n_nodes);
	memcpy(f->nodes + i * TREE_NODE, node, TREE_NODE);
	return 0;
}

static int node_get(void *ud, uint64_t i, uint8_t node[TREE_NODE])
{
	struct file *f = ud;

	assert_true(i < f->n_nodes);
	memcpy(node, f->nodes + i * TREE_NODE, TREE_NODE);
	return 0;
}

static void file_make(struct file *f, uint64_t size, uint32_t seed)
{
	memset(f, 0, sizeof(*f));
	f->size = size;
	f->data = malloc(size ? size : 1);
	assert_non_null(f->data);
	for (uint64_t i = 0; i < size; i++) {
		seed = seed * 1103515245u + 12345u;
		f->data[i] = (uint8_t)(seed >> 16);
	}
	f->n_nodes = tree_nodes(size);
	f->nodes = malloc(f->n_nodes ? f->n_nodes * TREE_NODE : 1);
	assert_non_null(f->nodes);
	assert_int_equal(tree_outboard(size, file_read, node_put, f, f->root), 0);
}

static void file_free(struct file *f)
{
	free(f->data);
	free(f->nodes);
}

/* The whole stream from start, pulled cap bytes at a time. */
static uint8_t *stream_of(struct file *f, uint64_t start, size_t cap, size_t *len)
{
	uint64_t want = tree_stream_len(f->size, start);
	struct tree_encoder e;
	uint8_t *out = malloc(want + 1);
	size_t have = 0;
	long n;

	assert_non_null(out);
	assert_int_equal(tree_encoder_init(&e, f->size, start, file_read, node_get, f), 0);
	while ((n = tree_encoder_next(&e, out + have, cap)) > 0) {
		have += (size_t)n;
		assert_true(have <= want);
	}
	assert_int_equal(n, 0);
	assert_int_equal(have, want);
	*len = have;
	return out;
}

/* What the decoder hands out, checked against the file as it comes. */
struct sink {
	const struct file *f;
	uint64_t next; /* the offset the next data must start at */
};

static int sink_data(void *ud, uint64_t off, const uint8_t *data, size_t len)
{
	struct sink *s = ud;

	assert_int_equal(off, s->next);
	assert_true(off + len <= s->f->size);
	assert_memory_equal(data, s->f->data + off, len);
	s->next = off + len;
	return 0;
}

/* Feeds the stream in pieces of 1..piece bytes; returns the first error. */
static int decode(const struct file *f, uint64_t size, const uint8_t root[32], uint64_t start,
		  const uint8_t *st, size_t len, size_t piece, struct sink *s,
		  struct tree_decoder *d)
{
	size_t off = 0;
	int ret;

	s->f = f;
	s->next = start;
	if ((ret = tree_decoder_init(d, root, size, start)) < 0)
		return ret;
	while (off < len) {
		size_t n = 1 + (off * 7919) % piece;

		n = n < len - off ? n : len - off;
		if ((ret = tree_decoder_feed(d, st + off, n, sink_data, s)) < 0)
			return ret;
		off += n;
	}
	return 0;
}

static const uint64_t sizes[] = { 0,
				  1,
				  1023,
				  1024,
				  1025,
				  TREE_GROUP - 1,
				  TREE_GROUP,
				  TREE_GROUP + 1,
				  2 * TREE_GROUP,
				  2 * TREE_GROUP + 1,
				  3 * TREE_GROUP + 5,
				  5 * TREE_GROUP,
				  7 * TREE_GROUP + 1000,
				  1 << 20,
				  (1 << 20) + 1 };

static void test_root_is_blake3(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct file f;
		uint8_t want[32];

		file_make(&f, sizes[i], (uint32_t)i);
		blake3_hash(f.data, (size_t)f.size, want);
		assert_memory_equal(f.root, want, 32);
		assert_int_equal(f.n_nodes, tree_groups(f.size) - 1);
		file_free(&f);
	}
}

static void test_round_trip_every_start(void **state)
{
	static const size_t caps[] = { 1, 63, 1400, 65536 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct file f;

		file_make(&f, sizes[i], (uint32_t)(100 + i));
		for (uint64_t start = 0; start <= f.size; start += TREE_GROUP) {
			size_t cap = caps[(start / TREE_GROUP + i) % 4], len;
			uint8_t *st = stream_of(&f, start, cap, &len);
			struct tree_decoder d;
			struct sink s;

			assert_int_equal(decode(&f, f.size, f.root, start, st, len, 3000, &s, &d),
					 0);
			assert_true(tree_decoder_done(&d));
			assert_int_equal(s.next, f.size);
			assert_int_equal(d.verified, f.size);
			free(st);
			if (f.size == 0)
				break;
		}
		file_free(&f);
	}
}

/* Every byte of the stream changed in turn (nodes and data): refused at the
 * group it spoils, never later, and nothing wrong handed out before. */
static void test_any_changed_byte_is_caught(void **state)
{
	struct file f;
	size_t len;
	uint8_t *st;

	(void)state;
	file_make(&f, 5 * TREE_GROUP + 77, 7);
	st = stream_of(&f, 0, 4096, &len);
	for (size_t pos = 0; pos < len; pos += (pos < 3 * TREE_NODE ? 1 : 331)) {
		struct tree_decoder d;
		struct sink s;

		st[pos] ^= 0x20;
		assert_int_equal(decode(&f, f.size, f.root, 0, st, len, 5000, &s, &d), -EBADMSG);
		assert_false(tree_decoder_done(&d));
		assert_true(d.verified < f.size);
		assert_int_equal(tree_decoder_feed(&d, st, 1, sink_data, &s), -EBADMSG);
		st[pos] ^= 0x20;
	}
	free(st);
	file_free(&f);
}

/* A resumed stream checks against the root as well: a change to a node on
 * the path to the resume point is caught. */
static void test_resume_checks_the_path(void **state)
{
	struct file f;
	struct tree_decoder d;
	struct sink s;
	uint8_t *st;
	size_t len;

	(void)state;
	file_make(&f, 6 * TREE_GROUP, 9);
	st = stream_of(&f, 3 * TREE_GROUP, 999, &len);
	assert_true(len > 3 * TREE_GROUP); /* the path's nodes come first */
	st[0] ^= 1;
	assert_int_equal(decode(&f, f.size, f.root, 3 * TREE_GROUP, st, len, 100, &s, &d),
			 -EBADMSG);
	assert_int_equal(s.next, 3 * TREE_GROUP);
	free(st);
	file_free(&f);
}

/* A cut stream is not done; bytes past the end are refused. */
static void test_cut_and_overlong(void **state)
{
	struct tree_decoder d;
	struct file f;
	struct sink s;
	uint8_t *st;
	size_t len;

	(void)state;
	file_make(&f, 2 * TREE_GROUP + 9, 11);
	st = stream_of(&f, 0, 65536, &len);
	assert_int_equal(decode(&f, f.size, f.root, 0, st, len - 1, 700, &s, &d), 0);
	assert_false(tree_decoder_done(&d));
	assert_int_equal(s.next, 2 * TREE_GROUP); /* the last group is held back */
	assert_int_equal(tree_decoder_feed(&d, st + len - 1, 1, sink_data, &s), 0);
	assert_true(tree_decoder_done(&d));
	assert_int_equal(tree_decoder_feed(&d, st, 1, sink_data, &s), -E2BIG);
	free(st);
	file_free(&f);
}

/* The size is part of the name: the right stream under a wrong size, or a
 * wrong root, never completes. */
static void test_lying_size_or_root(void **state)
{
	static const int64_t deltas[] = { -1, 1, -TREE_GROUP, TREE_GROUP, -1024, 1024 };
	struct tree_decoder d;
	struct file f;
	struct sink s;
	uint8_t *st, root[32];
	size_t len;

	(void)state;
	file_make(&f, 4 * TREE_GROUP + 100, 13);
	st = stream_of(&f, 0, 65536, &len);
	for (size_t i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++) {
		uint64_t size = (uint64_t)((int64_t)f.size + deltas[i]);
		int ret = decode(&f, size, f.root, 0, st, len, 4000, &s, &d);

		assert_false(ret == 0 && tree_decoder_done(&d));
	}
	memcpy(root, f.root, 32);
	root[31] ^= 1;
	assert_int_equal(decode(&f, f.size, root, 0, st, len, 4000, &s, &d), -EBADMSG);
	assert_int_equal(s.next, 0); /* the very first node fails */
	free(st);
	file_free(&f);
}

static void test_bad_starts_and_empty(void **state)
{
	struct tree_encoder e;
	struct tree_decoder d;
	struct file f;
	uint8_t wrong[32] = { 1 };

	(void)state;
	file_make(&f, 3 * TREE_GROUP, 17);
	assert_int_equal(tree_decoder_init(&d, f.root, f.size, 1), -EINVAL);
	assert_int_equal(tree_decoder_init(&d, f.root, f.size, 4 * TREE_GROUP), -EINVAL);
	assert_int_equal(tree_encoder_init(&e, f.size, TREE_GROUP + 1, file_read, node_get, &f),
			 -EINVAL);
	/* From the end: an empty stream, already done. */
	assert_int_equal(tree_decoder_init(&d, f.root, f.size, f.size), 0);
	assert_int_equal(tree_decoder_feed(&d, NULL, 0, sink_data, NULL), 0);
	assert_true(tree_decoder_done(&d));
	assert_int_equal(tree_stream_len(f.size, f.size), 0);
	file_free(&f);

	file_make(&f, 0, 1);
	assert_int_equal(tree_decoder_init(&d, f.root, 0, 0), 0);
	assert_true(tree_decoder_done(&d));
	assert_int_equal(tree_decoder_init(&d, wrong, 0, 0), -EBADMSG);
	file_free(&f);
}

/* A read or node error of the caller's comes back as it is. */
static void test_read_errors(void **state)
{
	struct tree_encoder e;
	struct file f;
	uint8_t out[4096], root[32];
	long n;

	(void)state;
	file_make(&f, 3 * TREE_GROUP, 19);
	f.fail_read_at = 2;
	f.reads = 0;
	assert_int_equal(tree_outboard(f.size, file_read, node_put, &f, root), -EIO);
	f.reads = 0;
	assert_int_equal(tree_encoder_init(&e, f.size, 0, file_read, node_get, &f), 0);
	while ((n = tree_encoder_next(&e, out, sizeof(out))) > 0)
		;
	assert_int_equal(n, -EIO);
	file_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_is_blake3),
		cmocka_unit_test(test_round_trip_every_start),
		cmocka_unit_test(test_any_changed_byte_is_caught),
		cmocka_unit_test(test_resume_checks_the_path),
		cmocka_unit_test(test_cut_and_overlong),
		cmocka_unit_test(test_lying_size_or_root),
		cmocka_unit_test(test_bad_starts_and_empty),
		cmocka_unit_test(test_read_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
