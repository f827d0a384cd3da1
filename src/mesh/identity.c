/*
 * identity: libsodium Ed25519 around a seed file. The seed (not the 64-byte
 * expanded key) is what we store, matching the reference product's key file.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/identity.h"
#include "util/fileio.h"
#include "util/hex.h"
#include "util/log.h"

static int sodium_ready(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

int identity_from_seed(const uint8_t seed[IDENTITY_SEED_LEN], struct identity *id)
{
	if (sodium_ready() < 0)
		return -EIO;
	memcpy(id->seed, seed, IDENTITY_SEED_LEN);
	if (crypto_sign_seed_keypair(id->pk, id->sk, id->seed) != 0) {
		identity_clear(id);
		return -EIO;
	}
	identity_id_format(id->pk, id->id);
	return 0;
}

int identity_generate(struct identity *id)
{
	uint8_t seed[IDENTITY_SEED_LEN];
	int rc;

	if (sodium_ready() < 0)
		return -EIO;
	randombytes_buf(seed, sizeof(seed));
	rc = identity_from_seed(seed, id);
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

void identity_clear(struct identity *id)
{
	sodium_memzero(id, sizeof(*id));
}

static int identity_read(const char *path, struct identity *id)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	/* Reading one byte past the key size tells "too long" from "ok". */
	rc = fileio_read_all(path, IDENTITY_SEED_LEN + 1, &buf, &len);
	if (rc == -EFBIG || (rc == 0 && len != IDENTITY_SEED_LEN)) {
		log_error("identity: %s is not a %d-byte key; refusing to "
			  "replace it",
			  path, IDENTITY_SEED_LEN);
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = identity_from_seed((const uint8_t *)buf, id);
	if (buf != NULL) {
		sodium_memzero(buf, len);
		free(buf);
	}
	return rc;
}

int identity_load_or_create(const char *home_dir, struct identity *id)
{
	return identity_load_or_create_file(home_dir, IDENTITY_KEY_FILE, id);
}

int identity_load_or_create_file(const char *home_dir, const char *file, struct identity *id)
{
	char path[PATH_MAX];
	int rc;

	if (home_dir == NULL || *home_dir == '\0')
		return -EINVAL;
	if (snprintf(path, sizeof(path), "%s/%s", home_dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	rc = identity_read(path, id);
	if (rc != -ENOENT)
		return rc;
	rc = fileio_mkdir_p(home_dir, 0700);
	if (rc < 0)
		return rc;
	rc = identity_generate(id);
	if (rc < 0)
		return rc;
	rc = fileio_create_atomic(path, id->seed, IDENTITY_SEED_LEN, 0600);
	if (rc == -EEXIST) {
		/* Another process created it first: its key is the one. */
		identity_clear(id);
		return identity_read(path, id);
	}
	if (rc < 0) {
		identity_clear(id);
		return rc;
	}
	log_info("identity: created new key %s", path);
	return 0;
}

int identity_replace_file(const char *home_dir, const char *file, struct identity *id)
{
	char path[PATH_MAX];
	struct identity fresh;
	int rc;

	if (home_dir == NULL || *home_dir == '\0')
		return -EINVAL;
	if (snprintf(path, sizeof(path), "%s/%s", home_dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	rc = identity_generate(&fresh);
	if (rc == 0)
		rc = fileio_write_atomic(path, fresh.seed, IDENTITY_SEED_LEN, 0600);
	if (rc == 0)
		*id = fresh;
	identity_clear(&fresh);
	return rc;
}

int identity_sign(const struct identity *id, const void *msg, size_t len,
		  uint8_t sig[IDENTITY_SIG_LEN])
{
	if (sodium_ready() < 0)
		return -EIO;
	if (crypto_sign_detached(sig, NULL, msg, len, id->sk) != 0)
		return -EIO;
	return 0;
}

int identity_verify(const uint8_t pk[IDENTITY_PK_LEN], const void *msg, size_t len,
		    const uint8_t sig[IDENTITY_SIG_LEN])
{
	if (sodium_ready() < 0)
		return -EIO;
	if (crypto_sign_verify_detached(sig, msg, len, pk) != 0)
		return -EBADMSG;
	return 0;
}

int identity_id_valid(const char *str)
{
	size_t i;

	if (str == NULL)
		return 0;
	for (i = 0; i < IDENTITY_ID_LEN; i++) {
		if (!((str[i] >= '0' && str[i] <= '9') || (str[i] >= 'a' && str[i] <= 'f')))
			return 0;
	}
	return str[IDENTITY_ID_LEN] == '\0';
}

int identity_id_parse(const char *str, uint8_t pk[IDENTITY_PK_LEN])
{
	if (!identity_id_valid(str))
		return -EINVAL;
	return hex_decode(str, IDENTITY_ID_LEN, pk, IDENTITY_PK_LEN);
}

void identity_id_format(const uint8_t pk[IDENTITY_PK_LEN], char out[IDENTITY_ID_LEN + 1])
{
	hex_encode(pk, IDENTITY_PK_LEN, out);
}
