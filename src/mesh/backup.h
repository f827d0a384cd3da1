/*
 * backup: the `ray pair backup` code, this node's secrets sealed with a
 * passphrase so `ray pair restore` can bring the same endpoint id, the
 * same addresses and the same networks back on another machine.
 *
 * What is sealed: the device identity seed, the contact key seed, and for
 * each network its room id, local name, our hostname, whether it is direct
 * and, where this node coordinates it, the network key seed. Rosters are not in it: they are
 * public to the members and come back from the network itself.
 *
 * The code is "enc1" followed by unpadded base64url (RFC 4648 §5) of
 *
 *   header     = version (1) = 1 || opslimit (1) || log2 memlimit (1)
 *                || salt (16) || nonce (24)
 *   ciphertext = XChaCha20-Poly1305(key, nonce, aad = header, plaintext)
 *   key        = Argon2id(passphrase, salt, opslimit, 2^log2 memlimit)
 *   plaintext  = msgpack array(3) [ bin(32) identity seed,
 *                  bin(32) contact seed | nil,
 *                  array(<= BACKUP_MAX_NETWORKS) of array(5) [ bin(32) room,
 *                    str name, str hostname, bin(32) network key seed | nil,
 *                    uint flags (bit 0: direct, a `ray connect` network) ] ]
 *
 * The Argon2id cost travels in the header so it can grow later; a reader
 * refuses costs outside BACKUP_OPS_* / BACKUP_MEM_LOG_* (a hostile code
 * must not make it allocate gigabytes). A wrong passphrase and an altered
 * code are one error (the tag does not verify); a code that is cut short
 * or not a code at all is another. Names are checked as hostnames.
 */
#ifndef RAYFISH_MESH_BACKUP_H
#define RAYFISH_MESH_BACKUP_H

#include "mesh/hostname.h"
#include "util/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BACKUP_PREFIX "enc1"
#define BACKUP_MAX_NETWORKS 64
#define BACKUP_OPS_MIN 1
#define BACKUP_OPS_MAX 10
#define BACKUP_MEM_LOG_MIN 13 /* 8 KiB: libsodium's floor */
#define BACKUP_MEM_LOG_MAX 28 /* 256 MiB */
/* What `ray pair backup` uses: 64 MiB, three passes (under a second). */
#define BACKUP_OPS_DEFAULT 3
#define BACKUP_MEM_LOG_DEFAULT 26
/* A code holding BACKUP_MAX_NETWORKS networks fits in this, NUL included. */
#define BACKUP_CODE_MAX 24576

struct backup_network {
	uint8_t room[LIMIT_KEY_LEN];
	char name[HOSTNAME_BUF];
	char hostname[HOSTNAME_BUF];
	bool has_key;
	uint8_t key[LIMIT_KEY_LEN]; /* network key seed, coordinators only */
	bool direct;
};

struct backup {
	uint8_t identity[LIMIT_KEY_LEN];
	bool has_contact;
	uint8_t contact[LIMIT_KEY_LEN];
	struct backup_network nets[BACKUP_MAX_NETWORKS];
	size_t n_nets;
};

/*
 * Seals b with passphrase (NUL-terminated, at least one character) at the
 * given Argon2id cost into out. Returns the code's length, -EINVAL for bad
 * arguments (a name that is no hostname, too many networks, a cost out of
 * range), -ENOSPC when out is too small, -ENOMEM when Argon2id cannot get
 * its memory.
 */
int backup_seal(const struct backup *b, const char *passphrase, unsigned ops, unsigned mem_log,
		char *out, size_t cap);

/*
 * Opens code into *b. Returns 0, or -EINVAL when code is not a backup code
 * (no "enc1", not base64url), -EBADMSG when it is cut short, of another
 * version, asks for a cost out of range, or decrypts to something
 * malformed, -EKEYREJECTED when the passphrase is wrong or the code was
 * altered, -ENOMEM when Argon2id cannot get its memory. On failure *b is
 * wiped.
 */
int backup_open(const char *code, const char *passphrase, struct backup *b);

/* The plaintext codec alone (what the fuzz target reaches without
 * Argon2id): encode returns the length or -EINVAL / -ENOSPC; decode 0 or
 * -EBADMSG. */
int backup_plain_encode(const struct backup *b, uint8_t *out, size_t cap);
int backup_plain_decode(const uint8_t *buf, size_t len, struct backup *b);

/* Wipes b (it holds secrets). */
void backup_clear(struct backup *b);

#endif
