/*
 * magicsock_member_relay: member relays, both roles (the contract is in
 * magicsock.h, "Member relays").
 *
 * As the relay: a "to" packet from a peer we know by its confirmed direct
 * address goes on to the peer its key prefix names, rewritten to "from"
 * with the sender's prefix, when the payload is QUIC, the next hop has a
 * confirmed direct path, the owner's policy allows the pair (its answer
 * cached per directed pair, asked again every PAIR_RECHECK_MS) and both the
 * pair's and the total byte bucket have room. Nothing is ever forwarded
 * over TURN or through another member: one hop, between direct paths.
 *
 * As an end: a "from" packet from a peer we know by its direct address is
 * handed to the QUIC handler with a virtual source address standing for
 * (relay, origin); QUIC then answers to that address and ms_fwd_send wraps
 * the answer back through the relay. A relay that lies about the origin
 * gains nothing: QUIC authenticates the connection, and the path is only
 * taken when the connection that heard the packet belongs to the origin
 * the relay named (ms_fwd_heard).
 *
 * Lookups: the direct-address -> peer map is a cache in front of a scan of
 * the peer table; scans are bounded per second so a stranger flooding
 * lookalike packets costs a hash probe each, not a table walk.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport/magicsock_priv.h"

#define KIND_TO 1
#define KIND_FROM 2
#define KIND_OFF MAGICSOCK_FWD_MAGIC_LEN
#define KEY_OFF (MAGICSOCK_FWD_MAGIC_LEN + 1)
#define PAIR_RECHECK_MS 5000
#define PAIR_IDLE_MS 30000 /* an idle pair's slot may be taken */
#define VIA_TRY_MS 3000    /* a via candidate silent this long: next */
#define SCANS_PER_S 64
#define VIRTUAL_PORT 1

static uint64_t now_ms(const struct magicsock *ms)
{
	return uv_now(ms->loop) + 1;
}

/* ---- virtual addresses ---- */

int magicsock_is_virtual(const union ms_addr *a)
{
	static const uint8_t prefix[10] = { 0x01, 0, 0, 0, 0, 0, 0, 0, 'R', 'F' };

	return a->sa.sa_family == AF_INET6 &&
	       memcmp(a->in6.sin6_addr.s6_addr, prefix, sizeof(prefix)) == 0;
}

static void slot_address(size_t idx, uint16_t gen, union ms_addr *a)
{
	uint8_t *b;

	memset(a, 0, sizeof(*a));
	a->in6.sin6_family = AF_INET6;
	a->in6.sin6_port = htons(VIRTUAL_PORT);
	b = a->in6.sin6_addr.s6_addr;
	b[0] = 0x01;
	b[8] = 'R';
	b[9] = 'F';
	b[10] = (uint8_t)(gen >> 8);
	b[11] = (uint8_t)gen;
	b[14] = (uint8_t)(idx >> 8);
	b[15] = (uint8_t)idx;
}

static struct ms_via_slot *slot_of(struct magicsock *ms, const union ms_addr *a)
{
	const uint8_t *b = a->in6.sin6_addr.s6_addr;
	struct ms_via_slot *s;
	size_t idx;

	if (!magicsock_is_virtual(a) || ntohs(a->in6.sin6_port) != VIRTUAL_PORT)
		return NULL;
	idx = (size_t)b[14] << 8 | b[15];
	if (idx >= ms->fwd.nslots || b[12] || b[13])
		return NULL;
	s = &ms->fwd.slots[idx];
	if (s->used_ms == 0 || s->gen != ((uint16_t)b[10] << 8 | b[11]))
		return NULL;
	return s;
}

static int slot_match(const struct ms_via_slot *s, const uint8_t *relay, const uint8_t *origin)
{
	return s->used_ms && memcmp(s->relay, relay, MAGICSOCK_KEY_LEN) == 0 &&
	       memcmp(s->origin, origin, MAGICSOCK_KEY_LEN) == 0;
}

/* The virtual address of (relay, origin); the oldest slot is reused. */
static void slot_find(struct magicsock *ms, const uint8_t *relay, const uint8_t *origin,
		      union ms_addr *out)
{
	struct ms_fwd *f = &ms->fwd;
	size_t i, idx = f->slot_hint, oldest = 0;

	if (idx >= f->nslots || !slot_match(&f->slots[idx], relay, origin)) {
		for (idx = 0; idx < f->nslots; idx++) {
			if (slot_match(&f->slots[idx], relay, origin))
				break;
			if (f->slots[idx].used_ms < f->slots[oldest].used_ms)
				oldest = idx;
		}
	}
	if (idx == f->nslots) {
		idx = f->nslots < MS_VIA_SLOTS ? f->nslots++ : oldest;
		memcpy(f->slots[idx].relay, relay, MAGICSOCK_KEY_LEN);
		memcpy(f->slots[idx].origin, origin, MAGICSOCK_KEY_LEN);
		f->slots[idx].gen++;
	}
	i = idx;
	f->slots[i].used_ms = now_ms(ms);
	f->slot_hint = i;
	slot_address(i, f->slots[i].gen, out);
}

/* ---- who is who ---- */

static size_t src_hash(const union ms_addr *a)
{
	const uint8_t *b = (const uint8_t *)a;
	uint32_t h = 2166136261u;
	size_t i, n = ms_addr_len(a);

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h % MS_SRC_CACHE;
}

static int scan_allowed(struct magicsock *ms)
{
	uint64_t now = now_ms(ms);

	if (now - ms->fwd.scan_win_ms >= 1000) {
		ms->fwd.scan_win_ms = now;
		ms->fwd.scan_count = 0;
	}
	return ++ms->fwd.scan_count <= SCANS_PER_S;
}

static int direct_is(struct magicsock *ms, struct ms_peer *p, const union ms_addr *a)
{
	const union ms_addr *d = ms_direct_addr(ms, p);

	return d && ms_addr_eq(d, a);
}

/* The peer whose confirmed direct address sent this, or NULL. */
static struct ms_peer *peer_by_source(struct magicsock *ms, const union ms_addr *from)
{
	struct ms_src_entry *e = &ms->fwd.src[src_hash(from)];
	struct ms_peer *p;
	size_t i;

	if (e->used && ms_addr_eq(&e->a, from) && (p = ms_peer_get(ms, e->pk, 0)) &&
	    direct_is(ms, p, from))
		return p;
	if (!scan_allowed(ms))
		return NULL;
	for (i = 0; i < MS_BUCKETS; i++) {
		for (p = ms->buckets[i]; p; p = p->next) {
			if (!direct_is(ms, p, from))
				continue;
			e->a = *from;
			memcpy(e->pk, p->pk, MAGICSOCK_KEY_LEN);
			e->used = 1;
			return p;
		}
	}
	return NULL;
}

/* The one peer whose key starts with prefix; NULL if none or ambiguous. */
static struct ms_peer *peer_by_prefix(struct magicsock *ms, const uint8_t *prefix)
{
	struct ms_peer *p, *found = NULL;

	for (p = ms->buckets[prefix[0]]; p; p = p->next) {
		if (memcmp(p->pk, prefix, MAGICSOCK_FWD_KEY_LEN) != 0)
			continue;
		if (found)
			return NULL;
		found = p;
	}
	return found;
}

/* ---- relaying for others ---- */

/*
 * Byte buckets run on the real clock in microseconds, not the loop's cached
 * time: one poll callback may forward many megabytes, and a bucket that
 * refills only between callbacks would drop the tail of every busy one.
 */
static int bucket_take(uint64_t *tokens, uint64_t *fill_us, uint64_t rate, size_t len,
		       uint64_t now_us)
{
	uint64_t burst = rate / 4; /* 250 ms worth */

	if (now_us > *fill_us)
		*tokens += (now_us - *fill_us) * rate / 1000000;
	if (*tokens > burst)
		*tokens = burst;
	*fill_us = now_us;
	if (*tokens < len)
		return 0;
	*tokens -= len;
	return 1;
}

static struct ms_fwd_pair *pair_get(struct magicsock *ms, const uint8_t *from, const uint8_t *to,
				    uint64_t now)
{
	struct ms_fwd_pair *p, *spare = NULL;
	size_t i;

	for (i = 0; i < MAGICSOCK_FWD_PAIRS; i++) {
		p = &ms->fwd.pairs[i];
		if (p->checked_ms && memcmp(p->from, from, MAGICSOCK_KEY_LEN) == 0 &&
		    memcmp(p->to, to, MAGICSOCK_KEY_LEN) == 0)
			break;
		if (!spare && (p->checked_ms == 0 || now - p->used_ms > PAIR_IDLE_MS))
			spare = p;
	}
	if (i == MAGICSOCK_FWD_PAIRS) {
		if (spare == NULL)
			return NULL;
		p = spare;
		memcpy(p->from, from, MAGICSOCK_KEY_LEN);
		memcpy(p->to, to, MAGICSOCK_KEY_LEN);
		p->checked_ms = 0;
		p->tokens = ms->fwd.pair_rate / 4;
		p->fill_us = uv_hrtime() / 1000;
	}
	if (p->checked_ms == 0 || now - p->checked_ms >= PAIR_RECHECK_MS) {
		p->allowed = ms->fwd.allow(ms->fwd.allow_ud, from, to) == 1;
		p->checked_ms = now;
	}
	p->used_ms = now;
	return p;
}

static void forward(struct magicsock *ms, struct ms_peer *src, const uint8_t *buf, size_t len)
{
	struct ms_fwd *f = &ms->fwd;
	uint8_t out[MAGICSOCK_BUF_SIZE];
	const union ms_addr *to;
	struct ms_fwd_pair *pair;
	struct ms_peer *dst;
	uint64_t now = now_ms(ms), us;
	size_t plen = len - MAGICSOCK_FWD_OVERHEAD;

	if (f->allow == NULL) {
		ms->st.fwd_denied++;
		return;
	}
	dst = peer_by_prefix(ms, buf + KEY_OFF);
	if (dst == src) {
		ms->st.fwd_bad++;
		return;
	}
	if (dst == NULL || (to = ms_direct_addr(ms, dst)) == NULL) {
		ms->st.fwd_no_path++;
		return;
	}
	pair = pair_get(ms, src->pk, dst->pk, now);
	if (pair == NULL || !pair->allowed) {
		ms->st.fwd_denied++;
		return;
	}
	us = uv_hrtime() / 1000;
	if (!bucket_take(&pair->tokens, &pair->fill_us, f->pair_rate, plen, us) ||
	    !bucket_take(&f->tokens, &f->fill_us, f->rate, plen, us)) {
		ms->st.fwd_over_rate++;
		return;
	}
	memcpy(out, buf, len);
	out[KIND_OFF] = KIND_FROM;
	memcpy(out + KEY_OFF, src->pk, MAGICSOCK_FWD_KEY_LEN);
	if (magicsock_send_to(ms, to, out, len) == 0)
		ms->st.fwd_tx++;
}

/* ---- the receiving end ---- */

static void deliver(struct magicsock *ms, struct ms_peer *relay, const uint8_t *buf, size_t len)
{
	struct ms_peer *origin = peer_by_prefix(ms, buf + KEY_OFF);
	union ms_addr v;

	if (origin == NULL || origin == relay) {
		ms->st.fwd_bad++;
		return;
	}
	slot_find(ms, relay->pk, origin->pk, &v);
	ms->st.fwd_rx++;
	ms_dispatch(ms, MS_PKT_QUIC, buf + MAGICSOCK_FWD_OVERHEAD, len - MAGICSOCK_FWD_OVERHEAD,
		    &v);
}

void ms_fwd_input(struct magicsock *ms, const uint8_t *buf, size_t len, const union ms_addr *from)
{
	struct ms_peer *src;

	/* The payload must be QUIC: a relay is no way to bounce disco, STUN
	 * or another relay frame at someone. */
	if (len <= MAGICSOCK_FWD_OVERHEAD || len > MAGICSOCK_BUF_SIZE ||
	    magicsock_classify(buf + MAGICSOCK_FWD_OVERHEAD, len - MAGICSOCK_FWD_OVERHEAD, 0) !=
		    MS_PKT_QUIC ||
	    (buf[KIND_OFF] != KIND_TO && buf[KIND_OFF] != KIND_FROM)) {
		ms->st.fwd_bad++;
		return;
	}
	if ((src = peer_by_source(ms, from)) == NULL) {
		ms->st.fwd_bad++;
		return;
	}
	if (buf[KIND_OFF] == KIND_TO)
		forward(ms, src, buf, len);
	else
		deliver(ms, src, buf, len);
}

/* ---- sending through a relay ---- */

static void header(uint8_t *out, const uint8_t *to)
{
	memcpy(out, MAGICSOCK_FWD_MAGIC, MAGICSOCK_FWD_MAGIC_LEN);
	out[KIND_OFF] = KIND_TO;
	memcpy(out + KEY_OFF, to, MAGICSOCK_FWD_KEY_LEN);
}

/* The relay's direct address for a virtual one; origin gets the far end. */
static const union ms_addr *hop_of(struct magicsock *ms, const union ms_addr *v,
				   const uint8_t **origin)
{
	struct ms_via_slot *s = slot_of(ms, v);
	struct ms_peer *r;

	if (s == NULL || (r = ms_peer_get(ms, s->relay, 0)) == NULL)
		return NULL;
	*origin = s->origin;
	return ms_direct_addr(ms, r);
}

static int send_wrapped(struct magicsock *ms, const union ms_addr *hop, const uint8_t *to,
			const uint8_t *buf, size_t len)
{
	uint8_t out[MAGICSOCK_BUF_SIZE];
	int rv;

	if (len + MAGICSOCK_FWD_OVERHEAD > sizeof(out))
		return -EMSGSIZE;
	header(out, to);
	memcpy(out + MAGICSOCK_FWD_OVERHEAD, buf, len);
	rv = magicsock_send_to(ms, hop, out, len + MAGICSOCK_FWD_OVERHEAD);
	if (rv == 0)
		ms->st.fwd_sent++;
	return rv;
}

int ms_fwd_send(struct magicsock *ms, const union ms_addr *to, const uint8_t *buf, size_t len)
{
	const union ms_addr *hop;
	const uint8_t *origin;

	if ((hop = hop_of(ms, to, &origin)) == NULL) {
		ms->st.fwd_no_path++;
		return -EHOSTUNREACH;
	}
	return send_wrapped(ms, hop, origin, buf, len);
}

/* Wrapped into one buffer so equal sizes stay equal and GSO still works. */
int ms_fwd_send_batch(struct magicsock *ms, const union ms_addr *to, const uint8_t *buf,
		      const size_t *lens, size_t n)
{
	size_t wlens[MAGICSOCK_TX_BATCH], i, off = 0;
	const union ms_addr *hop;
	const uint8_t *origin;
	int rv;

	if ((hop = hop_of(ms, to, &origin)) == NULL) {
		ms->st.fwd_no_path++;
		return -EHOSTUNREACH;
	}
	if (ms->fwd.txbuf == NULL &&
	    (ms->fwd.txbuf = malloc(MAGICSOCK_TX_BATCH * MAGICSOCK_BUF_SIZE)) == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (lens[i] + MAGICSOCK_FWD_OVERHEAD > MAGICSOCK_BUF_SIZE)
			return -EMSGSIZE;
		header(ms->fwd.txbuf + off, origin);
		memcpy(ms->fwd.txbuf + off + MAGICSOCK_FWD_OVERHEAD, buf, lens[i]);
		wlens[i] = lens[i] + MAGICSOCK_FWD_OVERHEAD;
		off += wlens[i];
		buf += lens[i];
	}
	rv = magicsock_send_batch(ms, hop, ms->fwd.txbuf, wlens, n);
	if (rv > 0)
		ms->st.fwd_sent += (uint64_t)rv;
	return rv;
}

int ms_fwd_heard(struct magicsock *ms, struct ms_peer *p, const union ms_addr *a)
{
	struct ms_via_slot *s = slot_of(ms, a);
	size_t i;

	if (s == NULL || memcmp(s->origin, p->pk, MAGICSOCK_KEY_LEN) != 0) {
		ms->st.fwd_bad++;
		return 0;
	}
	p->vheard = *a;
	p->vheard_ms = now_ms(ms);
	for (i = 0; i < p->nvias; i++) {
		if (memcmp(p->vias[i], s->relay, MAGICSOCK_KEY_LEN) == 0) {
			p->via_cur = i;
			p->via_since_ms = 0;
		}
	}
	return 1;
}

const union ms_addr *ms_fwd_path(struct magicsock *ms, struct ms_peer *p)
{
	const uint8_t *origin;

	if (!p->vheard_ms || now_ms(ms) - p->vheard_ms >= ms->fresh_ms)
		return NULL;
	return hop_of(ms, &p->vheard, &origin) ? &p->vheard : NULL;
}

/* The via candidate to try now, rotating past silent or unreachable ones. */
static const union ms_addr *via_pick(struct magicsock *ms, struct ms_peer *p)
{
	const union ms_addr *hop;
	struct ms_peer *r;
	uint64_t now = now_ms(ms);
	size_t tries;

	for (tries = 0; tries < p->nvias; tries++) {
		p->via_cur %= p->nvias;
		r = ms_peer_get(ms, p->vias[p->via_cur], 0);
		hop = r ? ms_direct_addr(ms, r) : NULL;
		if (hop && (!p->via_since_ms || now - p->via_since_ms < VIA_TRY_MS)) {
			if (!p->via_since_ms)
				p->via_since_ms = now;
			return hop;
		}
		p->via_cur++;
		p->via_since_ms = 0;
	}
	return NULL;
}

int ms_fwd_probe(struct magicsock *ms, struct ms_peer *p, const uint8_t *buf, size_t len)
{
	const union ms_addr *hop = p->nvias ? via_pick(ms, p) : NULL;

	if (hop == NULL)
		return -EHOSTUNREACH;
	return send_wrapped(ms, hop, p->pk, buf, len);
}

void ms_fwd_free(struct magicsock *ms)
{
	free(ms->fwd.txbuf);
	ms->fwd.txbuf = NULL;
}

/* ---- the owner's side ---- */

void magicsock_set_fwd_policy(struct magicsock *ms, ms_fwd_allow_fn fn, void *ud)
{
	ms->fwd.allow = fn;
	ms->fwd.allow_ud = ud;
	memset(ms->fwd.pairs, 0, sizeof(ms->fwd.pairs));
}

int magicsock_set_peer_vias(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
			    const uint8_t (*vias)[MAGICSOCK_KEY_LEN], size_t n)
{
	uint8_t cur[MAGICSOCK_KEY_LEN];
	struct ms_peer *p;
	size_t i, k = 0;
	int had;

	if (n > MAGICSOCK_MAX_VIAS)
		return -E2BIG;
	if ((p = ms_peer_get(ms, pk, 1)) == NULL)
		return -ENOMEM;
	had = p->nvias > 0;
	if (had)
		memcpy(cur, p->vias[p->via_cur % p->nvias], sizeof(cur));
	for (i = 0; i < n; i++) {
		if (memcmp(vias[i], pk, MAGICSOCK_KEY_LEN) == 0)
			continue; /* a peer is not its own relay */
		memcpy(p->vias[k++], vias[i], MAGICSOCK_KEY_LEN);
	}
	p->nvias = k;
	p->via_cur = 0;
	for (i = 0; had && i < k; i++)
		if (memcmp(p->vias[i], cur, sizeof(cur)) == 0)
			p->via_cur = i;
	if (!had || k == 0 || memcmp(p->vias[p->via_cur], cur, sizeof(cur)) != 0)
		p->via_since_ms = 0;
	return 0;
}

int magicsock_peer_via(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
		       uint8_t out[MAGICSOCK_KEY_LEN])
{
	struct ms_peer *p = ms_peer_get(ms, pk, 0);
	struct ms_via_slot *s;

	if (p == NULL || magicsock_peer_path(ms, pk, NULL) != MS_PATH_MEMBER ||
	    (s = slot_of(ms, &p->vheard)) == NULL)
		return -ENOENT;
	memcpy(out, s->relay, MAGICSOCK_KEY_LEN);
	return 0;
}
