/*
 * group_blob: roster operations. Entry arrays are kept sorted by id (the
 * canonical order) at every insertion, so encoding never has to sort and
 * lookups by id are binary searches. Arrays are resized exactly; rosters
 * are small (<= 1024 entries) and change rarely.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/address.h"
#include "mesh/hostname.h"
#include "mesh/group_blob_priv.h"

/* An empty msgpack map: the default "no suggestions". */
static const uint8_t empty_map[] = { 0x80 };

int gb_member_check(const struct gb_member *m)
{
	if (!identity_id_valid(m->id) || !hostname_valid(m->hostname))
		return -EINVAL;
	/* A chosen index could land on an address of another network. */
	if (m->collision_index > GB_MAX_COLLISION_INDEX)
		return -EINVAL;
	if (m->ipv4 != address_ipv4(m->id, m->collision_index) || address_ipv4_is_reserved(m->ipv4))
		return -EINVAL;
	return 0;
}

int gb_approved_check(const struct gb_approved *a)
{
	if (!identity_id_valid(a->id))
		return -EINVAL;
	if (a->hostname[0] != '\0' && !hostname_valid(a->hostname))
		return -EINVAL;
	return 0;
}

static bool key_id_valid(const char *s)
{
	size_t n, i;

	n = strnlen(s, GB_KEY_ID_MAX + 1);
	if (n == 0 || n > GB_KEY_ID_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	}
	return true;
}

int gb_key_check(const struct gb_key *k)
{
	return key_id_valid(k->id) ? 0 : -EINVAL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int gb_members_unique(const struct gb_member *m, size_t n)
{
	uint32_t *ips = NULL;
	const char **names = NULL;
	size_t i;
	int rc = 0;

	if (n < 2)
		return 0;
	ips = calloc(n, sizeof(*ips));
	names = calloc(n, sizeof(*names));
	if (ips == NULL || names == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		ips[i] = m[i].ipv4;
		names[i] = m[i].hostname;
	}
	qsort(ips, n, sizeof(*ips), cmp_u32);
	qsort(names, n, sizeof(*names), cmp_strp);
	for (i = 1; i < n; i++) {
		if (ips[i] == ips[i - 1] || strcmp(names[i], names[i - 1]) == 0) {
			rc = -EEXIST;
			goto out;
		}
	}
out:
	free(ips);
	free(names);
	return rc;
}

static int cmp_hash(const void *a, const void *b)
{
	return memcmp(a, b, GB_HASH_LEN);
}

int gb_keys_unique(const struct gb_key *k, size_t n)
{
	uint8_t(*h)[GB_HASH_LEN];
	size_t i;
	int rc = 0;

	if (n < 2)
		return 0;
	h = calloc(n, GB_HASH_LEN);
	if (h == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		memcpy(h[i], k[i].secret_hash, GB_HASH_LEN);
	qsort(h, n, GB_HASH_LEN, cmp_hash);
	for (i = 1; i < n && rc == 0; i++) {
		if (memcmp(h[i], h[i - 1], GB_HASH_LEN) == 0)
			rc = -EEXIST;
	}
	free(h);
	return rc;
}

/*
 * Sorted-array helpers. Each entry type starts with its id string, so one
 * binary search serves all three arrays: it returns the index of id, or
 * where it would be inserted, and sets *found.
 */
static size_t sorted_find(const void *arr, size_t n, size_t size, const char *id, bool *found)
{
	size_t lo = 0, hi = n, mid;
	int c;

	*found = false;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp((const char *)arr + mid * size, id);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int sorted_insert(void **arr, size_t *n, size_t size, size_t pos, const void *entry)
{
	char *na;

	na = realloc(*arr, (*n + 1) * size);
	if (na == NULL)
		return -ENOMEM;
	memmove(na + (pos + 1) * size, na + pos * size, (*n - pos) * size);
	memcpy(na + pos * size, entry, size);
	*arr = na;
	(*n)++;
	return 0;
}

static void sorted_remove(void *arr, size_t *n, size_t size, size_t pos)
{
	char *a = arr;

	memmove(a + pos * size, a + (pos + 1) * size, (*n - pos - 1) * size);
	(*n)--;
}

static int copy_name(char *dst, const char *src)
{
	if (!hostname_valid(src))
		return -EINVAL;
	strcpy(dst, src);
	return 0;
}

int group_blob_init(struct group_blob *b, const char *name, enum group_mode mode)
{
	memset(b, 0, sizeof(*b));
	if (copy_name(b->name, name) < 0)
		return -EINVAL;
	if (mode != GROUP_MODE_OPEN && mode != GROUP_MODE_CLOSED)
		return -EINVAL;
	b->mode = mode;
	b->format = GB_FORMAT_VERSION;
	b->firewall = malloc(sizeof(empty_map));
	if (b->firewall == NULL)
		return -ENOMEM;
	memcpy(b->firewall, empty_map, sizeof(empty_map));
	b->firewall_len = sizeof(empty_map);
	return 0;
}

bool group_blob_has_ancestor(const struct group_blob *b, const uint8_t hash[GB_HASH_LEN])
{
	for (size_t i = 0; i < b->n_ancestors; i++)
		if (memcmp(b->ancestors[i], hash, GB_HASH_LEN) == 0)
			return true;
	return false;
}

void group_blob_add_ancestor(struct group_blob *b, const uint8_t hash[GB_HASH_LEN])
{
	b->format = GB_FORMAT_VERSION;
	if (group_blob_has_ancestor(b, hash))
		return;
	if (b->n_ancestors == GB_MAX_ANCESTORS)
		b->n_ancestors--; /* the oldest drops off */
	memmove(b->ancestors[1], b->ancestors[0], b->n_ancestors * GB_HASH_LEN);
	memcpy(b->ancestors[0], hash, GB_HASH_LEN);
	b->n_ancestors++;
}

bool group_blob_same_members_and_fields(const struct group_blob *a, const struct group_blob *b)
{
	struct group_blob x = *a, y = *b;
	uint8_t *ea = NULL, *eb = NULL;
	size_t la, lb;
	bool same;

	/* Shallow copies: only the version and ancestors differ, and
	 * encode reads the arrays without changing them. */
	x.version = y.version = 0;
	x.n_ancestors = y.n_ancestors = 0;
	x.format = y.format = GB_FORMAT_VERSION;
	if (group_blob_encode(&x, &ea, &la) < 0 || group_blob_encode(&y, &eb, &lb) < 0) {
		free(ea);
		return false;
	}
	same = la == lb && memcmp(ea, eb, la) == 0;
	free(ea);
	free(eb);
	return same;
}

void group_blob_set_merge_parents(struct group_blob *b, const uint8_t a[GB_HASH_LEN],
				  const uint8_t c[GB_HASH_LEN], uint64_t version)
{
	int lo_first = memcmp(a, c, GB_HASH_LEN) < 0;

	group_blob_add_ancestor(b, lo_first ? c : a);
	group_blob_add_ancestor(b, lo_first ? a : c);
	b->version = version;
}

void group_blob_free(struct group_blob *b)
{
	if (b == NULL)
		return;
	free(b->members);
	free(b->approved);
	free(b->keys);
	free(b->firewall);
	memset(b, 0, sizeof(*b));
}

static void *dup_array(const void *src, size_t n, size_t size, int *rc)
{
	void *p;

	if (n == 0)
		return NULL;
	p = malloc(n * size);
	if (p == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	memcpy(p, src, n * size);
	return p;
}

int group_blob_copy(struct group_blob *dst, const struct group_blob *src)
{
	int rc = 0;

	*dst = *src;
	dst->members = dup_array(src->members, src->n_members, sizeof(*src->members), &rc);
	dst->approved = dup_array(src->approved, src->n_approved, sizeof(*src->approved), &rc);
	dst->keys = dup_array(src->keys, src->n_keys, sizeof(*src->keys), &rc);
	dst->firewall = dup_array(src->firewall, src->firewall_len, 1, &rc);
	if (rc < 0)
		group_blob_free(dst);
	return rc;
}

int group_blob_set_name(struct group_blob *b, const char *name)
{
	if (!hostname_valid(name))
		return -EINVAL;
	if (strcmp(b->name, name) == 0)
		return 0;
	strcpy(b->name, name);
	b->version++;
	return 0;
}

int group_blob_set_mode(struct group_blob *b, enum group_mode mode)
{
	if (mode != GROUP_MODE_OPEN && mode != GROUP_MODE_CLOSED)
		return -EINVAL;
	if (b->mode == mode)
		return 0;
	b->mode = mode;
	b->version++;
	return 0;
}

int group_blob_set_firewall(struct group_blob *b, const uint8_t *data, size_t len)
{
	uint8_t *copy;

	if (data == NULL || len > GB_FIREWALL_MAX || group_blob_check_msgpack(data, len) < 0)
		return -EINVAL;
	copy = malloc(len);
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, data, len);
	free(b->firewall);
	b->firewall = copy;
	b->firewall_len = len;
	b->version++;
	return 0;
}

int group_blob_add_member(struct group_blob *b, const struct gb_member *m)
{
	struct gb_member e;
	bool found;
	size_t pos;
	int rc;

	/* Copy first: fixed-size strings from the caller may lack a NUL. */
	memcpy(&e, m, sizeof(e));
	e.id[IDENTITY_ID_LEN] = '\0';
	e.hostname[HOSTNAME_MAX] = '\0';
	if (gb_member_check(&e) < 0)
		return -EINVAL;
	if (b->n_members >= GB_MAX_MEMBERS)
		return -ENOSPC;
	pos = sorted_find(b->members, b->n_members, sizeof(e), e.id, &found);
	if (found || group_blob_find_member_by_ipv4(b, e.ipv4) != NULL ||
	    group_blob_find_member_by_hostname(b, e.hostname) != NULL)
		return -EEXIST;
	rc = sorted_insert((void **)&b->members, &b->n_members, sizeof(e), pos, &e);
	if (rc == 0)
		b->version++;
	return rc;
}

int group_blob_admit(struct group_blob *b, const char *id, const char *hostname, bool coordinator)
{
	struct gb_member m;
	int rc;

	memset(&m, 0, sizeof(m));
	if (!identity_id_valid(id) || !hostname_valid(hostname))
		return -EINVAL;
	rc = group_blob_assign_ip(b, id, &m.ipv4, &m.collision_index);
	if (rc < 0)
		return rc;
	strcpy(m.id, id);
	strcpy(m.hostname, hostname);
	m.coordinator = coordinator;
	return group_blob_add_member(b, &m);
}

int group_blob_remove_member(struct group_blob *b, const char *id)
{
	bool found;
	size_t pos;

	pos = sorted_find(b->members, b->n_members, sizeof(*b->members), id, &found);
	if (!found)
		return -ENOENT;
	sorted_remove(b->members, &b->n_members, sizeof(*b->members), pos);
	b->version++;
	return 0;
}

const struct gb_member *group_blob_find_member(const struct group_blob *b, const char *id)
{
	bool found;
	size_t pos;

	if (id == NULL)
		return NULL;
	pos = sorted_find(b->members, b->n_members, sizeof(*b->members), id, &found);
	return found ? &b->members[pos] : NULL;
}

const struct gb_member *group_blob_find_member_by_hostname(const struct group_blob *b,
							   const char *hostname)
{
	size_t i;

	for (i = 0; hostname != NULL && i < b->n_members; i++) {
		if (strcmp(b->members[i].hostname, hostname) == 0)
			return &b->members[i];
	}
	return NULL;
}

const struct gb_member *group_blob_find_member_by_ipv4(const struct group_blob *b, uint32_t ip)
{
	size_t i;

	for (i = 0; i < b->n_members; i++) {
		if (b->members[i].ipv4 == ip)
			return &b->members[i];
	}
	return NULL;
}

int group_blob_assign_ip(const struct group_blob *b, const char *id, uint32_t *ip, uint32_t *index)
{
	const struct gb_member *holder;
	uint32_t n, cand;

	if (!identity_id_valid(id))
		return -EINVAL;
	for (n = 0; n <= GB_MAX_COLLISION_INDEX; n++) {
		cand = address_ipv4(id, n);
		if (address_ipv4_is_reserved(cand))
			continue;
		holder = group_blob_find_member_by_ipv4(b, cand);
		if (holder != NULL && strcmp(holder->id, id) != 0)
			continue;
		*ip = cand;
		*index = n;
		return 0;
	}
	return -EADDRNOTAVAIL;
}

int group_blob_set_hostname(struct group_blob *b, const char *id, const char *hostname)
{
	const struct gb_member *m, *holder;

	m = group_blob_find_member(b, id);
	if (m == NULL)
		return -ENOENT;
	if (!hostname_valid(hostname))
		return -EINVAL;
	holder = group_blob_find_member_by_hostname(b, hostname);
	/* Renaming to the current name is not a change: no new version
	 * means nothing to republish. */
	if (holder == m)
		return 0;
	if (holder != NULL)
		return -EEXIST;
	strcpy(b->members[m - b->members].hostname, hostname);
	b->version++;
	return 0;
}

int group_blob_set_coordinator(struct group_blob *b, const char *id, bool coordinator)
{
	const struct gb_member *m;

	m = group_blob_find_member(b, id);
	if (m == NULL)
		return -ENOENT;
	if (m->coordinator == coordinator)
		return 0;
	b->members[m - b->members].coordinator = coordinator;
	b->version++;
	return 0;
}

bool group_blob_hostname_taken(const char *name, void *arg)
{
	return group_blob_find_member_by_hostname(arg, name) != NULL;
}

int group_blob_add_approved(struct group_blob *b, const char *id, const char *hostname)
{
	struct gb_approved a;
	bool found;
	size_t pos;
	int rc;

	memset(&a, 0, sizeof(a));
	if (!identity_id_valid(id))
		return -EINVAL;
	strcpy(a.id, id);
	if (hostname != NULL && *hostname != '\0') {
		if (!hostname_valid(hostname))
			return -EINVAL;
		strcpy(a.hostname, hostname);
	}
	if (b->n_approved >= GB_MAX_APPROVED)
		return -ENOSPC;
	pos = sorted_find(b->approved, b->n_approved, sizeof(a), id, &found);
	if (found)
		return -EEXIST;
	rc = sorted_insert((void **)&b->approved, &b->n_approved, sizeof(a), pos, &a);
	if (rc == 0)
		b->version++;
	return rc;
}

int group_blob_remove_approved(struct group_blob *b, const char *id)
{
	bool found;
	size_t pos;

	pos = sorted_find(b->approved, b->n_approved, sizeof(*b->approved), id, &found);
	if (!found)
		return -ENOENT;
	sorted_remove(b->approved, &b->n_approved, sizeof(*b->approved), pos);
	b->version++;
	return 0;
}

const struct gb_approved *group_blob_find_approved(const struct group_blob *b, const char *id)
{
	bool found;
	size_t pos;

	if (id == NULL)
		return NULL;
	pos = sorted_find(b->approved, b->n_approved, sizeof(*b->approved), id, &found);
	return found ? &b->approved[pos] : NULL;
}

int group_blob_add_key(struct group_blob *b, const struct gb_key *k)
{
	struct gb_key e;
	bool found;
	size_t pos;
	int rc;

	memcpy(&e, k, sizeof(e));
	e.id[GB_KEY_ID_MAX] = '\0';
	if (gb_key_check(&e) < 0)
		return -EINVAL;
	if (b->n_keys >= GB_MAX_KEYS)
		return -ENOSPC;
	pos = sorted_find(b->keys, b->n_keys, sizeof(e), e.id, &found);
	if (found || group_blob_find_key_by_hash(b, e.secret_hash) != NULL)
		return -EEXIST;
	rc = sorted_insert((void **)&b->keys, &b->n_keys, sizeof(e), pos, &e);
	if (rc == 0)
		b->version++;
	return rc;
}

int group_blob_revoke_key(struct group_blob *b, const char *id)
{
	bool found;
	size_t pos;

	pos = sorted_find(b->keys, b->n_keys, sizeof(*b->keys), id, &found);
	if (!found)
		return -ENOENT;
	b->keys[pos].revoked = true;
	b->version++;
	return 0;
}

const struct gb_key *group_blob_find_key_by_hash(const struct group_blob *b,
						 const uint8_t hash[GB_HASH_LEN])
{
	size_t i;

	for (i = 0; i < b->n_keys; i++) {
		if (memcmp(b->keys[i].secret_hash, hash, GB_HASH_LEN) == 0)
			return &b->keys[i];
	}
	return NULL;
}

int group_blob_key_check(const struct group_blob *b, const uint8_t hash[GB_HASH_LEN], uint64_t now)
{
	const struct gb_key *k;

	k = group_blob_find_key_by_hash(b, hash);
	if (k == NULL)
		return -ENOENT;
	if (k->revoked)
		return -EKEYREVOKED;
	if (k->expires != 0 && now >= k->expires)
		return -EKEYEXPIRED;
	return 0;
}
