/*
 * update: the release feed `ray update` reads, checked before anything is
 * believed (see update.c for the format).
 *
 * A feed is one JSON document {"feed": TEXT, "signature": HEX}: TEXT is
 * the releases as JSON, kept as the exact bytes that were signed, and HEX
 * the Ed25519 signature (128 hex characters) over "rayfish-release-v1"
 * followed by TEXT, by the project's release key. Inside TEXT:
 *
 *   {"releases": [{"version": "0.2.0", "released": UNIX_SECONDS,
 *                  "binaries": {"x86_64-linux": {"url": "https://…",
 *                               "sha256": HEX, "size": BYTES}}}, …]}
 *
 * Versions are MAJOR.MINOR.PATCH, compared as numbers. Nothing in a feed
 * that fails the signature is looked at; a release without a binary for
 * this machine, a size over UPDATE_MAX_BINARY, a URL that is not http(s)
 * or a hash that is not 64 hex characters is refused.
 */
#ifndef RAYFISH_CLI_UPDATE_H
#define RAYFISH_CLI_UPDATE_H

#include <stddef.h>
#include <stdint.h>

#define UPDATE_DOMAIN "rayfish-release-v1"
#define UPDATE_MAX_FEED (256u << 10)
#define UPDATE_MAX_BINARY (256ull << 20)

struct update_release {
	char version[32];
	char url[1024];
	uint8_t sha256[32];
	uint64_t size;
};

/* a < b: -1, equal 0, a > b 1; -2 when either is not MAJOR.MINOR.PATCH. */
int update_version_cmp(const char *a, const char *b);

/*
 * Checks feed (len bytes) against the release public key pk and picks a
 * release for arch: the one named want, or (want NULL) the highest
 * version. Returns 0 with *out filled, -EKEYREJECTED for a signature that
 * does not verify, -EBADMSG for a feed that is not one, -ENOENT when no
 * such release (or none for arch) is in it. err gets a sentence.
 */
int update_feed_pick(const char *feed, size_t len, const uint8_t pk[32], const char *arch,
		     const char *want, struct update_release *out, char *err, size_t errlen);

/* Signs feed_text (the releases JSON) with seed into a feed document
 * (malloc'd), for the release process (`ray __sign-feed`). */
char *update_feed_sign(const char *feed_text, const uint8_t seed[32]);

#endif
