/*
 * fuzz_tree: a hostile sender's stream into the verified-streaming decoder
 * (files/tree.c). The file is known to the harness, so besides memory
 * safety the check is the whole point of the module: every byte the
 * decoder hands out is the file's byte at that offset, in order; the
 * decoder reports done only after the whole file (from the start) came
 * out, and only for the file's true size; and the honest stream, nothing
 * changed, always completes.
 *
 * Input: bytes 0-1 (big-endian, low 12 bits) the file's size in 64-byte
 * units (up to 256 KiB), byte 2 the resume group, byte 3 the
 * mode, then the data. Mode bit 0 clear: the data is the stream. Set: the
 * stream is the honest one XOR the data (a zero byte keeps the honest
 * byte; past the data the honest stream goes on unchanged), so the fuzzer
 * starts from a valid stream and spoils it. Bit 1: lie about the size by
 * one group. Bits 2-4: how the stream is cut into feeds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "files/tree.h"
#include "util/bytes.h"

#define FILE_MAX (4095u * 64u) /* 16 groups: a tree five levels deep */

static uint8_t file[FILE_MAX];
static uint8_t *nodes;
static uint64_t size, nodes_for = UINT64_MAX; /* the outboard is of nodes_for */
static uint8_t root[32];

static int file_read(void *ud, uint64_t off, uint8_t *buf, size_t len)
{
	(void)ud;
	memcpy(buf, file + off, len);
	return 0;
}

static int node_put(void *ud, uint64_t i, const uint8_t node[TREE_NODE])
{
	(void)ud;
	memcpy(nodes + i * TREE_NODE, node, TREE_NODE);
	return 0;
}

static int node_get(void *ud, uint64_t i, uint8_t node[TREE_NODE])
{
	(void)ud;
	memcpy(node, nodes + i * TREE_NODE, TREE_NODE);
	return 0;
}

struct sink {
	uint64_t next;
};

static int sink_data(void *ud, uint64_t off, const uint8_t *data, size_t len)
{
	struct sink *s = ud;

	if (off != s->next || off + len > size || memcmp(data, file + off, len) != 0)
		abort(); /* unverified or misplaced data came out */
	s->next = off + len;
	return 0;
}

static int any_set(const uint8_t *p, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++)
		v |= p[i];
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	static struct tree_decoder d;
	struct tree_encoder e;
	uint8_t honest[4096];
	uint64_t start, claimed;
	struct sink s;
	size_t used = 0, piece;
	unsigned mode;

	if (len < 4)
		return 0;
	size = (uint64_t)(be16_get(in) & 0x0fff) * 64;
	start = (uint64_t)in[2] * TREE_GROUP;
	mode = in[3];
	in += 4;
	len -= 4;
	if (start > size)
		start = size - size % TREE_GROUP;
	if (nodes_for != size) { /* the same size again: the same file */
		for (uint64_t i = 0; i < FILE_MAX; i++)
			file[i] = (uint8_t)(i * 2654435761u >> 13);
		free(nodes);
		nodes = malloc(tree_nodes(size) * TREE_NODE + 1);
		if (!nodes || tree_outboard(size, file_read, node_put, NULL, root) < 0)
			abort();
		nodes_for = size;
	}
	claimed = size;
	if ((mode & 2) && size >= TREE_GROUP)
		claimed = size - TREE_GROUP;
	else if (mode & 2)
		claimed = size + TREE_GROUP;
	piece = (size_t)1 << (((mode >> 2) & 7) * 2);
	s.next = start;
	if (tree_decoder_init(&d, root, claimed, start) < 0 ||
	    tree_encoder_init(&e, size, start, file_read, node_get, NULL) < 0)
		goto out;
	for (;;) {
		long n =
			(mode & 1) ? tree_encoder_next(&e, honest, piece < 4096 ? piece : 4096) : 0;
		size_t take;
		int ret;

		if (n < 0)
			abort();
		if (mode & 1) {
			for (long i = 0; i < n && used + (size_t)i < len; i++)
				honest[i] ^= in[used + (size_t)i];
			take = (size_t)n;
		} else {
			take = len - used < piece ? len - used : piece;
			memcpy(honest, in + used, take < sizeof(honest) ? take : sizeof(honest));
			take = take < sizeof(honest) ? take : sizeof(honest);
		}
		if (take == 0)
			break;
		used += take;
		ret = tree_decoder_feed(&d, honest, take, sink_data, &s);
		if (ret < 0)
			break;
	}
	/* Done means the whole file from start came out verified. (Resumed at
	 * the claimed end there is nothing to check, whatever the claim.) */
	if (tree_decoder_done(&d) && start < claimed && (claimed != size || s.next != size))
		abort();
	/* The honest stream, nothing changed, must complete. */
	if ((mode & 1) && claimed == size && !any_set(in, len) && !tree_decoder_done(&d))
		abort();
out:
	return 0;
}
