/*
 * invite: see invite.h.
 */
#include "mesh/invite.h"
#include "util/limits.h"
#include "util/base58.h"
#include "util/blake3.h"
#include "util/fileio.h"
#include "util/hex.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CODE_BYTES (2 * LIMIT_KEY_LEN + INVITE_SECRET_LEN + 4)
#define CHECK_DOMAIN "rayfish-invite-v1"

static void checksum(const uint8_t *p, size_t n, uint8_t out[4])
{
	blake3_checksum(CHECK_DOMAIN, p, n, out, 4);
}

int invite_code_encode(const struct invite_code *c, char *out, size_t cap)
{
	uint8_t raw[CODE_BYTES];
	int n;

	memcpy(raw, c->net, LIMIT_KEY_LEN);
	memcpy(raw + LIMIT_KEY_LEN, c->coordinator, LIMIT_KEY_LEN);
	memcpy(raw + 64, c->secret, INVITE_SECRET_LEN);
	checksum(raw, CODE_BYTES - 4, raw + CODE_BYTES - 4);
	n = base58_encode(raw, sizeof(raw), out, cap);
	return n < 0 ? -ENOSPC : n;
}

int invite_code_decode(const char *s, struct invite_code *c)
{
	uint8_t raw[CODE_BYTES + 8], sum[4];
	int n;

	/* A code is ~115 characters; anything far shorter is not a code at
	 * all, rather than a mistyped one. */
	if (!s || strlen(s) < INVITE_CODE_MIN || strlen(s) > INVITE_CODE_MAX)
		return -EINVAL;
	n = base58_decode(s, raw, sizeof(raw));
	if (n < 0)
		return -EINVAL;
	if (n != CODE_BYTES)
		return -EBADMSG;
	checksum(raw, CODE_BYTES - 4, sum);
	if (sodium_memcmp(sum, raw + CODE_BYTES - 4, 4) != 0)
		return -EBADMSG;
	memcpy(c->net, raw, LIMIT_KEY_LEN);
	memcpy(c->coordinator, raw + LIMIT_KEY_LEN, LIMIT_KEY_LEN);
	memcpy(c->secret, raw + 64, INVITE_SECRET_LEN);
	return 0;
}

void invite_ledger_init(struct invite_ledger *l)
{
	l->v = NULL;
	l->n = 0;
}

void invite_ledger_free(struct invite_ledger *l)
{
	free(l->v);
	invite_ledger_init(l);
}

static const char *status_name(enum invite_status s)
{
	switch (s) {
	case INVITE_ACTIVE:
		return "active";
	case INVITE_USED:
		return "used";
	case INVITE_CLAIMED:
		return "claimed";
	default:
		return "revoked";
	}
}

static int ledger_path(char *out, size_t cap, const char *home, const char *room_id)
{
	if (strlen(room_id) != 64 || strspn(room_id, "0123456789abcdef") != 64)
		return -EINVAL;
	snprintf(out, cap, "%s/invites/%s.json", home, room_id);
	return 0;
}

static int parse_one(json_t *o, struct invite *inv)
{
	const char *id = json_string_value(json_object_get(o, "id"));
	const char *hash = json_string_value(json_object_get(o, "secret_hash"));
	const char *st = json_string_value(json_object_get(o, "status"));
	const char *host = json_string_value(json_object_get(o, "hostname"));
	const char *claimant = json_string_value(json_object_get(o, "claimant"));
	json_t *created = json_object_get(o, "created");
	json_t *expires = json_object_get(o, "expires");

	memset(inv, 0, sizeof(*inv));
	if (!id || strlen(id) != INVITE_ID_LEN || !hash || !st || !json_is_integer(created) ||
	    !json_is_integer(expires) || json_integer_value(created) < 0 ||
	    json_integer_value(expires) < 0 || hex_decode_str(hash, inv->hash, LIMIT_KEY_LEN) < 0)
		return -EINVAL;
	if (host && *host && !hostname_valid(host))
		return -EINVAL;
	if (strcmp(st, "active") == 0)
		inv->status = INVITE_ACTIVE;
	else if (strcmp(st, "used") == 0)
		inv->status = INVITE_USED;
	else if (strcmp(st, "revoked") == 0)
		inv->status = INVITE_REVOKED;
	else if (strcmp(st, "claimed") == 0 && claimant && strlen(claimant) == IDENTITY_ID_LEN &&
		 strspn(claimant, "0123456789abcdef") == IDENTITY_ID_LEN)
		inv->status = INVITE_CLAIMED;
	else
		return -EINVAL;
	if (inv->status == INVITE_CLAIMED)
		memcpy(inv->claimant, claimant, IDENTITY_ID_LEN + 1);
	memcpy(inv->id, id, INVITE_ID_LEN + 1);
	snprintf(inv->hostname, sizeof(inv->hostname), "%s", host ? host : "");
	inv->created = (uint64_t)json_integer_value(created);
	inv->expires = (uint64_t)json_integer_value(expires);
	inv->shared = json_is_true(json_object_get(o, "shared"));
	return 0;
}

int invite_ledger_load(struct invite_ledger *l, const char *home, const char *room_id)
{
	char path[4096];
	json_error_t err;
	json_t *root, *item;
	size_t i;
	int ret = 0;

	invite_ledger_init(l);
	if (ledger_path(path, sizeof(path), home, room_id) < 0)
		return -EINVAL;
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (!root)
		return access(path, F_OK) == 0 ? -EINVAL : 0;
	if (!json_is_array(root) || json_array_size(root) > INVITE_MAX) {
		ret = -EINVAL;
		goto out;
	}
	l->v = calloc(json_array_size(root) + 1, sizeof(*l->v));
	if (!l->v) {
		ret = -ENOMEM;
		goto out;
	}
	json_array_foreach(root, i, item)
	{
		if (parse_one(item, &l->v[i]) < 0) {
			invite_ledger_free(l);
			ret = -EINVAL;
			goto out;
		}
	}
	l->n = json_array_size(root);
out:
	json_decref(root);
	return ret;
}

int invite_ledger_save(const struct invite_ledger *l, const char *home, const char *room_id)
{
	char path[4096], dir[4096], hash[65];
	json_t *root = json_array();
	char *text;
	int ret;

	if (ledger_path(path, sizeof(path), home, room_id) < 0) {
		json_decref(root);
		return -EINVAL;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct invite *v = &l->v[i];
		json_t *o;

		hex_encode(v->hash, LIMIT_KEY_LEN, hash);
		o = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:b}", "id", v->id, "secret_hash",
			      hash, "created", (json_int_t)v->created, "expires",
			      (json_int_t)v->expires, "status", status_name(v->status), "hostname",
			      v->hostname, "shared", v->shared);
		if (o && v->status == INVITE_CLAIMED)
			json_object_set_new(o, "claimant", json_string(v->claimant));
		json_array_append_new(root, o);
	}
	text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!text)
		return -ENOMEM;
	snprintf(dir, sizeof(dir), "%s/invites", home);
	ret = fileio_mkdir_p(dir, 0700);
	if (ret == 0)
		ret = fileio_write_atomic(path, text, strlen(text), 0600);
	free(text);
	return ret;
}

static int append(struct invite_ledger *l, const struct invite *inv)
{
	struct invite *nv;

	if (l->n >= INVITE_MAX) {
		/* Drop the oldest spent entry to make room; never an active
		 * or claimed one. */
		size_t i;

		for (i = 0; i < l->n &&
			    (l->v[i].status == INVITE_ACTIVE || l->v[i].status == INVITE_CLAIMED);
		     i++)
			;
		if (i == l->n)
			return -ENOSPC;
		memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
		l->n--;
	}
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	l->v = nv;
	l->v[l->n++] = *inv;
	return 0;
}

int invite_mint(struct invite_ledger *l, const char *hostname, uint64_t ttl_s, uint64_t now,
		uint8_t secret[INVITE_SECRET_LEN], struct invite *out)
{
	struct invite inv = { 0 };
	int ret;

	if (hostname && *hostname && !hostname_valid(hostname))
		return -EINVAL;
	randombytes_buf(secret, INVITE_SECRET_LEN);
	blake3_hash(secret, INVITE_SECRET_LEN, inv.hash);
	hex_encode(inv.hash, INVITE_ID_LEN / 2, inv.id);
	inv.created = now;
	inv.expires = ttl_s ? now + ttl_s : 0;
	inv.status = INVITE_ACTIVE;
	snprintf(inv.hostname, sizeof(inv.hostname), "%s", hostname ? hostname : "");
	ret = append(l, &inv);
	if (ret == 0 && out)
		*out = inv;
	return ret;
}

static struct invite *find_hash(struct invite_ledger *l, const uint8_t hash[LIMIT_KEY_LEN])
{
	for (size_t i = 0; i < l->n; i++)
		if (sodium_memcmp(l->v[i].hash, hash, LIMIT_KEY_LEN) == 0)
			return &l->v[i];
	return NULL;
}

int invite_redeem(struct invite_ledger *l, const uint8_t secret[INVITE_SECRET_LEN], uint64_t now,
		  const char *claimant, struct invite *out)
{
	uint8_t hash[LIMIT_KEY_LEN];
	struct invite *inv;

	if (!claimant || strlen(claimant) != IDENTITY_ID_LEN)
		return -EINVAL;
	blake3_hash(secret, INVITE_SECRET_LEN, hash);
	inv = find_hash(l, hash);
	if (!inv)
		return -ENOENT;
	if (inv->status == INVITE_REVOKED)
		return -EKEYREVOKED;
	/* Claimed for this joiner by an admission that never finished (the
	 * coordinator died before storing the roster): it is still theirs. */
	if (inv->status == INVITE_CLAIMED && strcmp(inv->claimant, claimant) == 0)
		goto claimed;
	if (inv->status == INVITE_USED || inv->status == INVITE_CLAIMED)
		return -EALREADY;
	if (inv->expires && inv->expires <= now)
		return -EKEYEXPIRED;
	inv->status = INVITE_CLAIMED;
	memcpy(inv->claimant, claimant, IDENTITY_ID_LEN + 1);
claimed:
	if (out)
		*out = *inv;
	return 0;
}

int invite_settle(struct invite_ledger *l, const uint8_t hash[LIMIT_KEY_LEN], const char *claimant)
{
	struct invite *inv = find_hash(l, hash);

	if (!inv || inv->status != INVITE_CLAIMED || !claimant ||
	    strcmp(inv->claimant, claimant) != 0)
		return -ENOENT;
	inv->status = INVITE_USED;
	inv->claimant[0] = 0;
	return 0;
}

int invite_restore(struct invite_ledger *l, const uint8_t hash[LIMIT_KEY_LEN])
{
	struct invite *inv = find_hash(l, hash);

	if (!inv || (inv->status != INVITE_USED && inv->status != INVITE_CLAIMED))
		return -ENOENT;
	inv->status = INVITE_ACTIVE;
	inv->claimant[0] = 0;
	return 0;
}

int invite_record_shared(struct invite_ledger *l, const uint8_t hash[LIMIT_KEY_LEN], const char *id,
			 uint64_t expires, const char *hostname, uint64_t now)
{
	struct invite inv = { 0 };

	if (find_hash(l, hash))
		return 0;
	if (!id || strlen(id) != INVITE_ID_LEN || strspn(id, "0123456789abcdef") != INVITE_ID_LEN ||
	    (hostname && *hostname && !hostname_valid(hostname)))
		return -EINVAL;
	memcpy(inv.hash, hash, LIMIT_KEY_LEN);
	memcpy(inv.id, id, INVITE_ID_LEN + 1);
	inv.created = now;
	inv.expires = expires;
	inv.status = INVITE_ACTIVE;
	inv.shared = true;
	snprintf(inv.hostname, sizeof(inv.hostname), "%s", hostname ? hostname : "");
	return append(l, &inv);
}

int invite_burn_hash(struct invite_ledger *l, const uint8_t hash[LIMIT_KEY_LEN])
{
	struct invite *inv = find_hash(l, hash);

	if (!inv)
		return -ENOENT;
	if (inv->status == INVITE_ACTIVE || inv->status == INVITE_CLAIMED) {
		inv->status = INVITE_USED;
		inv->claimant[0] = 0;
	}
	return 0;
}

int invite_revoke(struct invite_ledger *l, const char *id, struct invite *out)
{
	struct invite *hit = NULL;
	size_t n = strlen(id);

	if (n == 0 || n > INVITE_ID_LEN)
		return -ENOENT;
	for (size_t i = 0; i < l->n; i++) {
		if (strncmp(l->v[i].id, id, n) != 0)
			continue;
		if (hit)
			return -EEXIST;
		hit = &l->v[i];
	}
	if (!hit)
		return -ENOENT;
	hit->status = INVITE_REVOKED;
	if (out)
		*out = *hit;
	return 0;
}

int invite_parse_duration(const char *s, uint64_t *out)
{
	uint64_t mult = 1, v = 0;
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 12)
		return -EINVAL;
	switch (s[n - 1]) {
	case 'd':
		mult = 86400;
		n--;
		break;
	case 'h':
		mult = 3600;
		n--;
		break;
	case 'm':
		mult = 60;
		n--;
		break;
	case 's':
		n--;
		break;
	default:
		break;
	}
	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v == 0 || v > 10ull * 365 * 86400 / mult)
		return -EINVAL;
	*out = v * mult;
	return 0;
}
