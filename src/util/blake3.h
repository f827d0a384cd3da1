/*
 * blake3: the BLAKE3 hash function (hash mode), written from the BLAKE3
 * specification because Debian ships no C library for it.
 *
 * Rayfish uses BLAKE3 for IPv6 address derivation, for the content address of
 * a group blob and for hashing invite secrets, so every implementation of the
 * product must agree bit for bit: the unit test checks this module against
 * the official test vectors and against Debian's b3sum. The hasher is a plain
 * value the caller owns (no heap); it processes input of any length with the
 * chunk tree of the spec. Keyed hashing and key derivation are not provided.
 */
#ifndef RAYFISH_UTIL_BLAKE3_H
#define RAYFISH_UTIL_BLAKE3_H

#include <stddef.h>
#include <stdint.h>

#define BLAKE3_OUT_LEN 32
#define BLAKE3_BLOCK_LEN 64
#define BLAKE3_CHUNK_LEN 1024
/* 2^54 chunks exceed any input a size_t counter of bytes can describe. */
#define BLAKE3_MAX_DEPTH 54

struct blake3_chunk {
	uint32_t cv[8];
	uint64_t counter;
	uint8_t block[BLAKE3_BLOCK_LEN];
	uint8_t block_len;
	uint8_t blocks_compressed;
};

struct blake3_hasher {
	struct blake3_chunk chunk;
	uint8_t stack_len;
	uint32_t stack[BLAKE3_MAX_DEPTH][8];
};

void blake3_init(struct blake3_hasher *h);
void blake3_update(struct blake3_hasher *h, const void *data, size_t len);
/* Writes the 32-byte digest; the hasher is left usable (more updates may
 * follow and final may be called again for the longer input). */
void blake3_final(const struct blake3_hasher *h, uint8_t out[BLAKE3_OUT_LEN]);
/* Extended output: any length, the first 32 bytes equal blake3_final. */
void blake3_final_xof(const struct blake3_hasher *h, uint8_t *out, size_t len);

void blake3_hash(const void *data, size_t len, uint8_t out[BLAKE3_OUT_LEN]);
/* The first out_len (at most 32) bytes of BLAKE3(domain || data): the
 * checksums of the codes people copy (invites, contact ids), each kind
 * under a domain of its own. */
void blake3_checksum(const char *domain, const void *data, size_t len, uint8_t *out,
		     size_t out_len);

/*
 * The chunk tree's inner values, for verified streaming (files/tree.c).
 * A subtree of the whole input's tree starts at chunk number `chunk` (a
 * multiple of a power of two at least as large as its chunk count, as
 * every subtree of the spec's tree is): blake3_init_at starts a hasher
 * there, and blake3_final_cv gives the subtree's chaining value (what its
 * parent combines) instead of a root hash. blake3_parent combines two
 * chaining values; root: as the root of the whole tree (the digest).
 */
void blake3_init_at(struct blake3_hasher *h, uint64_t chunk);
void blake3_final_cv(const struct blake3_hasher *h, uint8_t out[BLAKE3_OUT_LEN]);
void blake3_parent(const uint8_t left[BLAKE3_OUT_LEN], const uint8_t right[BLAKE3_OUT_LEN],
		   int root, uint8_t out[BLAKE3_OUT_LEN]);

#endif
