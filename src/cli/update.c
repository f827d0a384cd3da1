/*
 * update: see update.h. Pure: bytes in, a checked release out.
 */
#include "cli/update.h"
#include "util/hex.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_version(const char *s, unsigned long v[3])
{
	char *end;

	for (int i = 0; i < 3; i++) {
		if (!s || *s < '0' || *s > '9')
			return -1;
		v[i] = strtoul(s, &end, 10);
		if (v[i] > 999999 || (i < 2 && *end != '.') || (i == 2 && *end))
			return -1;
		s = end + 1;
	}
	return 0;
}

int update_version_cmp(const char *a, const char *b)
{
	unsigned long va[3], vb[3];

	if (parse_version(a, va) < 0 || parse_version(b, vb) < 0)
		return -2;
	for (int i = 0; i < 3; i++)
		if (va[i] != vb[i])
			return va[i] < vb[i] ? -1 : 1;
	return 0;
}

static bool signature_ok(const char *text, size_t len, const char *sig_hex, const uint8_t pk[32])
{
	size_t dlen = strlen(UPDATE_DOMAIN);
	uint8_t sig[64], *msg;
	bool ok;

	if (!sig_hex || strlen(sig_hex) != 128 || hex_decode(sig_hex, 128, sig, sizeof(sig)) < 0 ||
	    sodium_init() < 0 || !(msg = malloc(dlen + len)))
		return false;
	memcpy(msg, UPDATE_DOMAIN, dlen);
	memcpy(msg + dlen, text, len);
	ok = crypto_sign_verify_detached(sig, msg, dlen + len, pk) == 0;
	free(msg);
	return ok;
}

/* One release entry, for arch, into out: 0, -ENOENT (no binary for arch)
 * or -EBADMSG. */
static int release_parse(const json_t *r, const char *arch, struct update_release *out)
{
	const char *ver = json_string_value(json_object_get(r, "version"));
	const json_t *bin = json_object_get(json_object_get(r, "binaries"), arch);
	const char *url = json_string_value(json_object_get(bin, "url"));
	const char *sha = json_string_value(json_object_get(bin, "sha256"));
	const json_t *size = json_object_get(bin, "size");

	memset(out, 0, sizeof(*out));
	if (!ver || update_version_cmp(ver, ver) != 0 || strlen(ver) >= sizeof(out->version))
		return -EBADMSG;
	snprintf(out->version, sizeof(out->version), "%s", ver);
	if (!bin)
		return -ENOENT;
	if (!url || strlen(url) >= sizeof(out->url) ||
	    (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) || !sha ||
	    strlen(sha) != 64 || hex_decode(sha, 64, out->sha256, 32) < 0 ||
	    !json_is_integer(size) || json_integer_value(size) <= 0 ||
	    (uint64_t)json_integer_value(size) > UPDATE_MAX_BINARY)
		return -EBADMSG;
	snprintf(out->url, sizeof(out->url), "%s", url);
	out->size = (uint64_t)json_integer_value(size);
	return 0;
}

int update_feed_pick(const char *feed, size_t len, const uint8_t pk[32], const char *arch,
		     const char *want, struct update_release *out, char *err, size_t errlen)
{
	json_t *doc = NULL, *inner = NULL, *r;
	const char *text;
	size_t i, text_len;
	int ret = -EBADMSG, found = 0;

	if (len > UPDATE_MAX_FEED || !(doc = json_loadb(feed, len, JSON_REJECT_DUPLICATES, NULL)) ||
	    !(text = json_string_value(json_object_get(doc, "feed")))) {
		snprintf(err, errlen, "the release feed is not a signed feed document");
		goto out;
	}
	text_len = json_string_length(json_object_get(doc, "feed"));
	if (!signature_ok(text, text_len, json_string_value(json_object_get(doc, "signature")),
			  pk)) {
		snprintf(err, errlen,
			 "the release feed's signature does not verify: nothing was changed");
		ret = -EKEYREJECTED;
		goto out;
	}
	if (!(inner = json_loadb(text, text_len, JSON_REJECT_DUPLICATES, NULL)) ||
	    !json_is_array(json_object_get(inner, "releases"))) {
		snprintf(err, errlen, "the signed feed holds no list of releases");
		goto out;
	}
	json_array_foreach(json_object_get(inner, "releases"), i, r)
	{
		struct update_release cand;
		int pr = release_parse(r, arch, &cand);

		if (pr == -EBADMSG) {
			snprintf(err, errlen, "release %zu of the feed is malformed", i + 1);
			goto out;
		}
		if (want && strcmp(cand.version, want) != 0)
			continue;
		if (pr == -ENOENT)
			continue;
		if (!found || update_version_cmp(cand.version, out->version) > 0)
			*out = cand;
		found = 1;
	}
	ret = found ? 0 : -ENOENT;
	if (!found)
		snprintf(err, errlen, "the feed has %s for %s",
			 want ? "no such version" : "no release", arch);
out:
	json_decref(inner);
	json_decref(doc);
	return ret;
}

char *update_feed_sign(const char *feed_text, const uint8_t seed[32])
{
	size_t dlen = strlen(UPDATE_DOMAIN), len = strlen(feed_text);
	uint8_t pk[32], sk[64], sig[64], *msg = malloc(dlen + len);
	char hex[129], *out = NULL;
	json_t *doc;

	if (!msg || sodium_init() < 0)
		goto done;
	crypto_sign_seed_keypair(pk, sk, seed);
	memcpy(msg, UPDATE_DOMAIN, dlen);
	memcpy(msg + dlen, feed_text, len);
	crypto_sign_detached(sig, NULL, msg, dlen + len, sk);
	hex_encode(sig, sizeof(sig), hex);
	doc = json_pack("{s:s, s:s}", "feed", feed_text, "signature", hex);
	out = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	json_decref(doc);
done:
	sodium_memzero(sk, sizeof(sk));
	free(msg);
	return out;
}
