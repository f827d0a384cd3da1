/*
 * store: the daemon's persisted network state under $RAYFISH_HOME.
 *
 *   networks.json          one entry per network (struct net_saved)
 *   keys/<room_id>.key     32-byte network key seed, 0600 (coordinators only)
 *   blobs/<hash>.blob      group blobs by BLAKE3 hash (canonical msgpack),
 *                          0600 in a 0700 directory (closed rosters are private)
 *
 * Only the blobs networks.json names are kept (each network's current
 * roster and its merge base): anyone who can make a coordinator sign new
 * versions could otherwise fill every member's disk.
 *
 * Every write is atomic (temp file + rename). A networks.json entry that
 * does not parse is skipped, and a file that is not JSON at all loads as no
 * networks: the daemon still starts, but it keeps a copy of the file
 * (store_backup_networks) before it may rewrite it without them. A blob
 * whose bytes do not hash to its name is refused.
 */
#ifndef RAYFISH_HOME_STORE_H
#define RAYFISH_HOME_STORE_H

#include "util/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_MAX_RECORD 8192
#define STORE_MAX_NETWORKS 1024

struct net_saved {
	char name[64];                    /* local alias */
	char room_id[65];                 /* hex of the network public key */
	bool coordinator;                 /* holds the network key */
	char hostname[64];                /* our name in this network */
	uint8_t blob_hash[LIMIT_KEY_LEN]; /* current roster */
	uint8_t base_hash[LIMIT_KEY_LEN]; /* the roster before it (merge base) */
	bool has_base;
	uint8_t record[STORE_MAX_RECORD]; /* the signed network record holding it */
	size_t record_len;
	bool auto_accept_firewall;
	uint64_t ephemeral_s; /* coordinator: prune members offline longer; 0 = off */
	bool direct;          /* a two-peer network `ray connect` made */
};

/*
 * Loads networks.json; *out is malloc'd (free it). Absent file = 0 networks.
 * Entries that do not parse are skipped, each logged with its index and
 * why; a file that is not {"networks": [...]} JSON loads as 0 networks.
 * Returns how many entries were skipped (an unusable file counts as one),
 * err then summing it up, or -errno (err says why) when the file cannot be
 * read at all. A caller that may rewrite the file must back it up first
 * when the count is not 0.
 */
int store_load_networks(const char *home, struct net_saved **out, size_t *n, char *err,
			size_t errlen);
/* nets is an array of pointers so callers can save from their own structs. */
int store_save_networks(const char *home, const struct net_saved *const *nets, size_t n);

/*
 * Copies networks.json to networks.json.bad-<16 hex of its BLAKE3> (0600,
 * atomic, never replacing another file; a copy of the same content already
 * there is fine) and puts that path in bak. Returns 0 or -errno.
 */
int store_backup_networks(const char *home, char *bak, size_t cap);

int store_save_key(const char *home, const char *room_id, const uint8_t seed[LIMIT_KEY_LEN]);
/* Returns -ENOENT when this node holds no key for the network. */
int store_load_key(const char *home, const char *room_id, uint8_t seed[LIMIT_KEY_LEN]);
int store_delete_key(const char *home, const char *room_id);

int store_save_blob(const char *home, const uint8_t hash[LIMIT_KEY_LEN], const void *data,
		    size_t len);
/* Loads and checks the hash; *data is malloc'd. -EBADMSG on a hash mismatch. */
int store_load_blob(const char *home, const uint8_t hash[LIMIT_KEY_LEN], uint8_t **data,
		    size_t *len);

/* Removes one blob file; an absent one is fine. */
int store_delete_blob(const char *home, const uint8_t hash[LIMIT_KEY_LEN]);
/*
 * Deletes each blob in drop that keep does not name (keep: every hash any
 * network still references). Call it only after the roster replacing them
 * and networks.json naming it are on disk. Returns the number deleted.
 */
int store_release_blobs(const char *home, const uint8_t (*drop)[LIMIT_KEY_LEN], size_t n_drop,
			const uint8_t (*keep)[LIMIT_KEY_LEN], size_t n_keep);
/* The hashes saved networks reference (current and base), each once;
 * returns how many were written to out (at most cap). */
size_t store_saved_blob_refs(const struct net_saved *s, size_t n, uint8_t (*out)[LIMIT_KEY_LEN],
			     size_t cap);
/*
 * Start-up sweep: deletes every blob file (and temp file left by a crash)
 * keep does not name, and tightens the modes of the directory and what is
 * kept. Other files are left alone. Returns the number deleted or -errno.
 */
int store_gc_blobs(const char *home, const uint8_t (*keep)[LIMIT_KEY_LEN], size_t n_keep);

#endif
