/*
 * identity: Ed25519 key pairs for devices and networks.
 *
 * A device's identity is a 32-byte seed stored raw at $RAYFISH_HOME/secret_key
 * (mode 0600); its public key, as 64 lowercase hex characters, is the
 * endpoint id that every roster, address and DNS name is derived from. A
 * network key uses the same struct: its id is the room id. The secret key
 * file is never replaced silently: a file of the wrong size is -EINVAL, so a
 * damaged key can't turn into a new identity without the user noticing.
 * struct identity is a plain value owned by the caller; identity_clear wipes
 * the secret parts. Functions return 0 or -errno.
 */
#ifndef RAYFISH_MESH_IDENTITY_H
#define RAYFISH_MESH_IDENTITY_H

#include "util/limits.h"

#include <stddef.h>
#include <stdint.h>

#define IDENTITY_SEED_LEN LIMIT_KEY_LEN
#define IDENTITY_PK_LEN LIMIT_KEY_LEN
#define IDENTITY_SK_LEN 64
#define IDENTITY_SIG_LEN 64
#define IDENTITY_ID_LEN 64
#define IDENTITY_KEY_FILE "secret_key"

struct identity {
	uint8_t seed[IDENTITY_SEED_LEN];
	uint8_t pk[IDENTITY_PK_LEN];
	uint8_t sk[IDENTITY_SK_LEN];
	char id[IDENTITY_ID_LEN + 1];
};

/* Loads home_dir/secret_key, or creates home_dir (0700) and a new random key
 * (0600, atomically) when the file does not exist. */
int identity_load_or_create(const char *home_dir, struct identity *id);
/* The same for another key file under home_dir (the contact key). */
int identity_load_or_create_file(const char *home_dir, const char *file, struct identity *id);
/* A new random key written over home_dir/file (atomically, 0600) and put in
 * *id; on failure the file and *id are as they were. */
int identity_replace_file(const char *home_dir, const char *file, struct identity *id);
/* A fresh random identity, not stored anywhere (network keys). */
int identity_generate(struct identity *id);
int identity_from_seed(const uint8_t seed[IDENTITY_SEED_LEN], struct identity *id);
void identity_clear(struct identity *id);

int identity_sign(const struct identity *id, const void *msg, size_t len,
		  uint8_t sig[IDENTITY_SIG_LEN]);
/* 0 when sig is a valid signature of msg by pk, else -EBADMSG. */
int identity_verify(const uint8_t pk[IDENTITY_PK_LEN], const void *msg, size_t len,
		    const uint8_t sig[IDENTITY_SIG_LEN]);

/* Parses an endpoint id: exactly 64 lowercase hex characters (the one
 * canonical spelling, since ids are compared as strings). -EINVAL else. */
int identity_id_parse(const char *str, uint8_t pk[IDENTITY_PK_LEN]);
/* 1 when str is a canonical endpoint id, else 0. */
int identity_id_valid(const char *str);
/* Writes the canonical id of pk into out. */
void identity_id_format(const uint8_t pk[IDENTITY_PK_LEN], char out[IDENTITY_ID_LEN + 1]);

#endif
