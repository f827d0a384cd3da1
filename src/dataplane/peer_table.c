/*
 * peer_table: see peer_table.h. Both families share one map implementation
 * over 16-byte keys; the IPv4 wrappers widen the address into a key.
 *
 * The load (live + tombstones) is kept at or below 3/4 of the capacity, so a
 * probe always meets an empty slot and lookups stay short. Removal leaves a
 * tombstone unless the next slot is empty (then no probe chain runs through
 * the slot and it can be emptied outright).
 *
 * Refused claims live in a plain array searched linearly: they take two
 * rosters disagreeing about an address, so there are few, and they are only
 * touched on inserts and removals, never per packet.
 */
#include "dataplane/peer_table.h"
#include "util/bytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MIN_CAP 16

enum {
	SLOT_EMPTY = 0,
	SLOT_LIVE,
	SLOT_TOMB
};

struct peer_slot {
	uint8_t state;
	uint8_t key[16];
	struct peer_entry e;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static size_t key_hash(const uint8_t key[16])
{
	uint64_t a, b;

	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	return (size_t)mix64(a ^ mix64(b + 0x9e3779b97f4a7c15ULL));
}

static void key4(uint8_t key[16], uint32_t addr)
{
	memset(key, 0, 16);
	be32_put(key, addr);
}

static struct peer_slot *map_find(const struct peer_map *m, const uint8_t key[16])
{
	size_t mask, i;

	if (m->cap == 0)
		return NULL;
	mask = m->cap - 1;
	i = key_hash(key) & mask;
	for (size_t n = 0; n < m->cap; n++, i = (i + 1) & mask) {
		struct peer_slot *s = &m->slots[i];

		if (s->state == SLOT_EMPTY)
			return NULL;
		if (s->state == SLOT_LIVE && memcmp(s->key, key, 16) == 0)
			return s;
	}
	return NULL;
}

/* First free (empty or tombstone) slot on the key's probe chain. The load
 * bound guarantees one exists. */
static struct peer_slot *map_free_slot(struct peer_map *m, const uint8_t key[16])
{
	size_t mask = m->cap - 1, i = key_hash(key) & mask;

	while (m->slots[i].state == SLOT_LIVE)
		i = (i + 1) & mask;
	return &m->slots[i];
}

static int map_resize(struct peer_map *m, size_t cap)
{
	struct peer_slot *old = m->slots;
	size_t old_cap = m->cap;

	m->slots = calloc(cap, sizeof(*m->slots));
	if (!m->slots) {
		m->slots = old;
		return -ENOMEM;
	}
	m->cap = cap;
	m->tomb = 0;
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i].state != SLOT_LIVE)
			continue;
		*map_free_slot(m, old[i].key) = old[i];
	}
	free(old);
	return 0;
}

/* Makes room for one more entry: doubles when live entries fill half the
 * table, otherwise rehashes in place to drop tombstones. */
static int map_reserve(struct peer_map *m)
{
	size_t cap = m->cap;

	if ((m->used + m->tomb + 1) * 4 <= cap * 3)
		return 0;
	if (cap == 0)
		cap = MIN_CAP;
	else if ((m->used + 1) * 2 > cap)
		cap *= 2;
	return map_resize(m, cap);
}

static int map_insert(struct peer_map *m, const uint8_t key[16], void *peer, uint32_t net)
{
	struct peer_slot *s;
	int rc;

	if (!peer)
		return -EINVAL;
	if ((s = map_find(m, key)) != NULL)
		return s->e.peer == peer ? -EEXIST : -EADDRINUSE;
	if (m->used >= PEER_TABLE_MAX_ENTRIES)
		return -ENOSPC;
	if ((rc = map_reserve(m)) < 0)
		return rc;
	s = map_free_slot(m, key);
	if (s->state == SLOT_TOMB)
		m->tomb--;
	memset(s, 0, sizeof(*s));
	s->state = SLOT_LIVE;
	memcpy(s->key, key, 16);
	s->e.peer = peer;
	s->e.net = net;
	m->used++;
	return 0;
}

static void map_clear_slot(struct peer_map *m, struct peer_slot *s)
{
	size_t next = ((size_t)(s - m->slots) + 1) & (m->cap - 1);

	memset(s, 0, sizeof(*s));
	m->used--;
	if (m->slots[next].state == SLOT_EMPTY)
		return;
	s->state = SLOT_TOMB;
	m->tomb++;
}

static int map_remove(struct peer_map *m, const uint8_t key[16])
{
	struct peer_slot *s = map_find(m, key);

	if (!s)
		return -ENOENT;
	map_clear_slot(m, s);
	return 0;
}

static size_t map_remove_peer(struct peer_map *m, const void *peer)
{
	size_t n = 0;

	/* walk backwards so that emptying a slot (next one empty) can cascade
	 * to the slots before it within this same pass */
	for (size_t i = m->cap; i-- > 0;) {
		if (m->slots[i].state == SLOT_LIVE && m->slots[i].e.peer == peer) {
			map_clear_slot(m, &m->slots[i]);
			n++;
		}
	}
	return n;
}

static int clash_is(const struct peer_clash *c, int family, const uint8_t key[16])
{
	uint8_t k[16];

	if (c->family != family)
		return 0;
	if (family == AF_INET6)
		return memcmp(c->v6, key, 16) == 0;
	key4(k, c->v4);
	return memcmp(k, key, 16) == 0;
}

/* Records a refused claim unless this claimant was already refused this
 * address. Bounded by the inserts the caller makes (its rosters), so a
 * hostile roster cannot grow it faster than it grows the table. */
static int clash_note(struct peer_table *t, int family, const uint8_t key[16],
		      const struct peer_entry *owner, const void *refused, uint32_t net)
{
	struct peer_clash *c, *nc;

	for (size_t i = 0; i < t->n_clashes; i++) {
		c = &t->clashes[i];
		if (c->refused == refused && clash_is(c, family, key))
			return -EADDRINUSE;
	}
	if (t->n_clashes >= PEER_TABLE_MAX_ENTRIES)
		return -EADDRINUSE;
	nc = realloc(t->clashes, (t->n_clashes + 1) * sizeof(*nc));
	if (!nc)
		return -EADDRINUSE; /* still refused, only not recorded */
	t->clashes = nc;
	c = &nc[t->n_clashes++];
	memset(c, 0, sizeof(*c));
	c->family = family;
	if (family == AF_INET)
		c->v4 = be32_get(key);
	else
		memcpy(c->v6, key, 16);
	c->owner = owner->peer;
	c->owner_net = owner->net;
	c->refused = refused;
	c->refused_net = net;
	return -EADDRINUSE;
}

/* Drops the clashes of one address (key != NULL) or of one peer. */
static void clash_forget(struct peer_table *t, int family, const uint8_t *key, const void *peer)
{
	size_t i = 0;

	while (i < t->n_clashes) {
		struct peer_clash *c = &t->clashes[i];
		int gone = key ? clash_is(c, family, key) : c->owner == peer || c->refused == peer;

		if (!gone) {
			i++;
			continue;
		}
		*c = t->clashes[--t->n_clashes];
	}
	if (t->n_clashes == 0) {
		free(t->clashes);
		t->clashes = NULL;
	}
}

static int table_insert(struct peer_table *t, int family, const uint8_t key[16], void *peer,
			uint32_t net)
{
	struct peer_map *m = family == AF_INET ? &t->v4 : &t->v6;
	int rc;

	t->gen++;
	rc = map_insert(m, key, peer, net);
	if (rc != -EADDRINUSE)
		return rc;
	return clash_note(t, family, key, &map_find(m, key)->e, peer, net);
}

static int table_remove(struct peer_table *t, int family, const uint8_t key[16])
{
	int rc;

	t->gen++;
	rc = map_remove(family == AF_INET ? &t->v4 : &t->v6, key);
	if (rc == 0)
		clash_forget(t, family, key, NULL);
	return rc;
}

void peer_table_init(struct peer_table *t)
{
	memset(t, 0, sizeof(*t));
}

void peer_table_close(struct peer_table *t)
{
	uint64_t gen = t->gen;

	free(t->v4.slots);
	free(t->v6.slots);
	free(t->clashes);
	memset(t, 0, sizeof(*t));
	t->gen = gen + 1; /* entry pointers held by callers are stale */
}

int peer_table_insert4(struct peer_table *t, uint32_t addr, void *peer, uint32_t net)
{
	uint8_t key[16];

	key4(key, addr);
	return table_insert(t, AF_INET, key, peer, net);
}

int peer_table_insert6(struct peer_table *t, const uint8_t addr[16], void *peer, uint32_t net)
{
	return table_insert(t, AF_INET6, addr, peer, net);
}

int peer_table_remove4(struct peer_table *t, uint32_t addr)
{
	uint8_t key[16];

	key4(key, addr);
	return table_remove(t, AF_INET, key);
}

int peer_table_remove6(struct peer_table *t, const uint8_t addr[16])
{
	return table_remove(t, AF_INET6, addr);
}

size_t peer_table_remove_peer(struct peer_table *t, const void *peer)
{
	size_t n;

	t->gen++;
	n = map_remove_peer(&t->v4, peer) + map_remove_peer(&t->v6, peer);
	/* the handle may be freed and reused for another identity next */
	clash_forget(t, 0, NULL, peer);
	return n;
}

struct peer_entry *peer_table_lookup4(const struct peer_table *t, uint32_t addr)
{
	uint8_t key[16];
	struct peer_slot *s;

	key4(key, addr);
	s = map_find(&t->v4, key);
	return s ? &s->e : NULL;
}

struct peer_entry *peer_table_lookup6(const struct peer_table *t, const uint8_t addr[16])
{
	struct peer_slot *s = map_find(&t->v6, addr);

	return s ? &s->e : NULL;
}

size_t peer_table_count(const struct peer_table *t)
{
	return t->v4.used + t->v6.used;
}

static int map_foreach(struct peer_map *m, int family,
		       int (*cb)(const struct peer_table_item *, void *), void *ud)
{
	struct peer_table_item item;
	int rc;

	for (size_t i = 0; i < m->cap; i++) {
		struct peer_slot *s = &m->slots[i];

		if (s->state != SLOT_LIVE)
			continue;
		memset(&item, 0, sizeof(item));
		item.family = family;
		if (family == AF_INET)
			item.v4 = be32_get(s->key);
		else
			item.v6 = s->key;
		item.entry = &s->e;
		if ((rc = cb(&item, ud)) != 0)
			return rc;
	}
	return 0;
}

int peer_table_foreach(struct peer_table *t,
		       int (*cb)(const struct peer_table_item *item, void *ud), void *ud)
{
	int rc = map_foreach(&t->v4, AF_INET, cb, ud);

	if (rc != 0)
		return rc;
	return map_foreach(&t->v6, AF_INET6, cb, ud);
}
