/*
 * tree: verified streaming of a file by its BLAKE3 chunk tree, the way the
 * Bao format does it, for `ray send` / `ray files accept`.
 *
 * A file is named by its BLAKE3 hash (the root of the spec's chunk tree)
 * and its size. The tree is cut at groups of TREE_GROUP bytes (16 chunks):
 * a group is a leaf here, and every subtree larger than a group has a
 * parent node, its two children's chaining values (64 bytes). The sender
 * keeps the parent nodes in pre-order (the "outboard", TREE_NODE bytes per
 * node, tree_nodes(size) nodes) next to the file, and streams, from a
 * group-aligned offset to the end: each parent node on the way down, then
 * the groups in order. The receiver checks every parent node against the
 * value it expects (from the root down) and every group against its
 * parent's value before handing out a byte of it, so a sender that lies is
 * caught at its first wrong group, and the memory needed is one group and
 * a stack as deep as the tree, whatever the file's size. A transfer cut
 * off resumes at the first group not yet verified: the stream from there
 * carries the parent nodes on the path to it again.
 *
 * Pure: no I/O. The encoder reads the file and the outboard through the
 * caller's functions; the decoder hands out verified data to the caller's.
 */
#ifndef RAYFISH_FILES_TREE_H
#define RAYFISH_FILES_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/blake3.h"
#include "util/limits.h"

#define TREE_GROUP (16 * BLAKE3_CHUNK_LEN)
#define TREE_NODE (2 * LIMIT_KEY_LEN)
/* The stack of a tree of 2^64 bytes: one entry per level. */
#define TREE_DEPTH 64

/* Groups and parent nodes of a file of size bytes (an empty file is one
 * empty group). */
uint64_t tree_groups(uint64_t size);
uint64_t tree_nodes(uint64_t size);

/* Reads len bytes of the file at off into buf: 0 or -errno. */
typedef int (*tree_read_fn)(void *ud, uint64_t off, uint8_t *buf, size_t len);
/* Parent node number i (pre-order) of the outboard. */
typedef int (*tree_node_fn)(void *ud, uint64_t i, const uint8_t node[TREE_NODE]);
typedef int (*tree_get_node_fn)(void *ud, uint64_t i, uint8_t node[TREE_NODE]);

/*
 * Hashes a file of size bytes (read through read, in order, one group at
 * a time) and hands every parent node to put. root gets the file's BLAKE3
 * hash. 0, or the first error of read or put.
 */
int tree_outboard(uint64_t size, tree_read_fn read, tree_node_fn put, void *ud,
		  uint8_t root[LIMIT_KEY_LEN]);

/* The sender's stream from a group-aligned offset: pull it in pieces. */
struct tree_encoder {
	uint64_t size, start;
	tree_read_fn read;
	tree_get_node_fn get_node;
	void *ud;
	struct tree_span {
		uint64_t off, len, node; /* node: its pre-order number */
	} stack[TREE_DEPTH];
	size_t depth;
	uint8_t pending[TREE_NODE]; /* a node, or the tail of a group */
	size_t pending_len, pending_off;
	uint64_t group_off, group_left; /* the group being copied */
};

/* -EINVAL when start is not a group boundary at or before the end (the end
 * itself is allowed: nothing to send). */
int tree_encoder_init(struct tree_encoder *e, uint64_t size, uint64_t start, tree_read_fn read,
		      tree_get_node_fn get_node, void *ud);
/* Writes up to cap bytes of the stream to out: how many (0: the end), or
 * the first error of the read functions. */
long tree_encoder_next(struct tree_encoder *e, uint8_t *out, size_t cap);
/* Bytes of the stream from start (parent nodes and data). */
uint64_t tree_stream_len(uint64_t size, uint64_t start);

/* Verified data: len bytes of the file at off, in order, each byte once. */
typedef int (*tree_data_fn)(void *ud, uint64_t off, const uint8_t *data, size_t len);

struct tree_decoder {
	uint64_t size, start;
	struct tree_expect {
		uint64_t off, len;
		uint8_t cv[LIMIT_KEY_LEN];
		bool root;
	} stack[TREE_DEPTH];
	size_t depth;
	uint8_t node[TREE_NODE];
	size_t node_have;
	uint8_t group[TREE_GROUP];
	size_t group_have;
	uint64_t verified; /* the file is verified up to here */
	bool failed;
};

/* A stream for the file named root and size, from the group-aligned
 * offset start. -EINVAL for a start that is not one. */
int tree_decoder_init(struct tree_decoder *d, const uint8_t root[LIMIT_KEY_LEN], uint64_t size,
		      uint64_t start);
/*
 * Takes stream bytes; verified data goes to data as each group checks.
 * Returns 0, -EBADMSG when a node or group does not match (d->verified
 * says where it failed; feed no more), -E2BIG for bytes past the end of
 * the stream, or the first error of data.
 */
int tree_decoder_feed(struct tree_decoder *d, const uint8_t *p, size_t n, tree_data_fn data,
		      void *ud);
/* Whether the whole file (from start) has been verified. */
bool tree_decoder_done(const struct tree_decoder *d);

#endif
