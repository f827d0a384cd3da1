/*
 * magicsock_disco: finding, confirming and keeping direct paths with disco
 * ping/pong (the policy is described in magicsock.h, the packets in
 * disco.h).
 *
 * Everything here runs from two places: the disco packet handler (answer
 * pings, match pongs) and a timer every MAGICSOCK_DISCO_TICK_MS that sends
 * the ping rounds that are due and logs path changes. The state is the
 * struct ms_disco inside each peer entry.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "transport/magicsock_priv.h"
#include "util/log.h"

#define PUNCH_GAP_MS 500   /* answering pings to one peer: at most this often */
#define LOST_SLOW_MS 60000 /* without a path this long: slower rounds */

static uint64_t now_ms(const struct magicsock *ms)
{
	return uv_now(ms->loop) + 1;
}

static int key_ready(struct magicsock *ms, struct ms_peer *p)
{
	struct ms_disco *d = &p->disco;

	if (d->key == 0)
		d->key = disco_shared_key(d->shared, ms->disco_sk, p->pk) == 0 ? 1 : -1;
	return d->key == 1;
}

static int trusted(const struct magicsock *ms, const struct ms_disco *d)
{
	return d->best_ms && now_ms(ms) - d->best_ms < MAGICSOCK_DISCO_TRUST_MS;
}

const union ms_addr *ms_disco_direct(struct magicsock *ms, struct ms_peer *p)
{
	return trusted(ms, &p->disco) ? &p->disco.best : NULL;
}

/* Relayed addresses are the relay's business: disco is for direct paths. */
static int is_direct(const struct magicsock *ms, const struct ms_peer *p, const union ms_addr *a)
{
	return !(p->has_relay && ms_addr_eq(&p->relay, a)) && !magicsock_is_relayed(ms, a);
}

static int send_msg(struct magicsock *ms, struct ms_peer *p, const union ms_addr *to,
		    const struct disco_msg *m)
{
	uint8_t pkt[DISCO_MAX_LEN];
	int n, rv;

	n = disco_seal(pkt, sizeof(pkt), ms->disco_pk, p->disco.shared, m);
	if (n < 0)
		return n;
	rv = magicsock_send_to(ms, to, pkt, (size_t)n);
	if (rv == 0)
		ms->st.disco_tx++;
	return rv;
}

static void ping(struct magicsock *ms, struct ms_peer *p, const union ms_addr *to)
{
	struct ms_disco *d = &p->disco;
	struct ms_disco_ping *slot = &d->pend[d->pend_next];
	struct disco_msg m = { .type = DISCO_PING };

	if (!is_direct(ms, p, to))
		return;
	disco_txid(m.txid);
	if (send_msg(ms, p, to, &m) < 0)
		return;
	memcpy(slot->txid, m.txid, DISCO_TXID_LEN);
	slot->to = *to;
	slot->sent_ns = uv_hrtime();
	d->pend_next = (d->pend_next + 1) % MS_DISCO_PENDING;
}

static int known(const union ms_addr *list, size_t n, const union ms_addr *a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ms_addr_eq(&list[i], a))
			return 1;
	return 0;
}

static void ping_once(struct magicsock *ms, struct ms_peer *p, union ms_addr *seen, size_t *n,
		      const union ms_addr *a)
{
	if (known(seen, *n, a))
		return;
	seen[(*n)++] = *a;
	ping(ms, p, a);
}

/* One ping to every distinct candidate. */
static void ping_all(struct magicsock *ms, struct ms_peer *p)
{
	union ms_addr seen[MAGICSOCK_MAX_ADDRS + MS_DISCO_LEARNED + 2];
	struct ms_disco *d = &p->disco;
	size_t n = 0, i;

	for (i = 0; i < p->naddrs; i++)
		ping_once(ms, p, seen, &n, &p->addrs[i]);
	for (i = 0; i < d->nlearned; i++)
		ping_once(ms, p, seen, &n, &d->learned[i]);
	if (p->heard_ms)
		ping_once(ms, p, seen, &n, &p->heard);
	if (d->best_ms)
		ping_once(ms, p, seen, &n, &d->best);
	d->full_ms = now_ms(ms);
}

static void learn(struct ms_disco *d, const struct ms_peer *p, const union ms_addr *a)
{
	if (known(p->addrs, p->naddrs, a) || known(d->learned, d->nlearned, a))
		return;
	if (d->nlearned < MS_DISCO_LEARNED) {
		d->learned[d->nlearned++] = *a;
		return;
	}
	d->learned[d->learned_next] = *a;
	d->learned_next = (d->learned_next + 1) % MS_DISCO_LEARNED;
}

static int over_rate(struct magicsock *ms, struct ms_disco *d)
{
	uint64_t now = now_ms(ms);

	if (now - d->win_ms >= 1000) {
		d->win_ms = now;
		d->win_count = 0;
	}
	return ++d->win_count > MAGICSOCK_DISCO_RATE;
}

/*
 * A ping is answered once: a captured one replayed (from anywhere) would
 * otherwise spend the peer's answer budget and starve its real pings.
 * Returns 1 for a txid seen recently, else remembers it.
 */
static int replayed(struct ms_disco *d, const uint8_t *txid)
{
	size_t i;

	for (i = 0; i < MS_DISCO_SEEN; i++)
		if (memcmp(d->seen[i], txid, DISCO_TXID_LEN) == 0)
			return 1;
	memcpy(d->seen[d->seen_next], txid, DISCO_TXID_LEN);
	d->seen_next = (d->seen_next + 1) % MS_DISCO_SEEN;
	return 0;
}

static void on_ping(struct magicsock *ms, struct ms_peer *p, const struct disco_msg *m,
		    const union ms_addr *from)
{
	struct disco_msg pong = { .type = DISCO_PONG, .observed = *from };
	struct ms_disco *d = &p->disco;
	uint64_t now = now_ms(ms);

	if (replayed(d, m->txid) || over_rate(ms, d)) {
		ms->st.disco_rx_bad++;
		return;
	}
	ms->st.disco_rx_ping++;
	memcpy(pong.txid, m->txid, DISCO_TXID_LEN);
	send_msg(ms, p, from, &pong);
	if (!is_direct(ms, p, from))
		return;
	learn(d, p, from);
	/* Their ping opened their NAT towards us: ping back through it now. */
	if (trusted(ms, d) && ms_addr_eq(&d->best, from))
		return;
	if (d->punch_ms && now - d->punch_ms < PUNCH_GAP_MS)
		return;
	d->punch_ms = now;
	ping(ms, p, from);
}

static struct ms_disco_ping *pending_find(struct ms_disco *d, const uint8_t *txid)
{
	size_t i;

	for (i = 0; i < MS_DISCO_PENDING; i++)
		if (d->pend[i].sent_ns && sodium_memcmp(d->pend[i].txid, txid, DISCO_TXID_LEN) == 0)
			return &d->pend[i];
	return NULL;
}

/* A better path must be clearly faster, so two similar ones do not flap. */
static int better(const struct ms_disco *d, uint64_t rtt_us)
{
	return rtt_us + 1000 < d->best_rtt_us && rtt_us * 10 < d->best_rtt_us * 7;
}

/* RFC 1918, CGNAT, link-local, ULA, loopback: a LAN peer's view, not ours. */
static int addr_private(const union ms_addr *a)
{
	const uint8_t *b;
	uint32_t v4;

	if (a->sa.sa_family == AF_INET) {
		v4 = ntohl(a->in.sin_addr.s_addr);
	} else if (a->sa.sa_family == AF_INET6) {
		b = a->in6.sin6_addr.s6_addr;
		if (!IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr))
			return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
			       IN6_IS_ADDR_LOOPBACK(&a->in6.sin6_addr) ||
			       IN6_IS_ADDR_UNSPECIFIED(&a->in6.sin6_addr);
		v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
	} else {
		return 1;
	}
	return (v4 >> 24) == 10 || (v4 >> 24) == 127 || (v4 >> 24) == 0 || (v4 >> 20) == 0xac1 ||
	       (v4 >> 16) == 0xc0a8 || (v4 >> 16) == 0xa9fe || (v4 >> 22) == (0x64400000u >> 22);
}

static void observed_add(struct magicsock *ms, const union ms_addr *a)
{
	size_t i, last = MAGICSOCK_OBSERVED_MAX - 1;

	if (addr_private(a))
		return;
	for (i = 0; i < last; i++)
		if (ms_addr_eq(&ms->observed[i], a))
			break;
	/* Move it (or the oldest, to be replaced) to the front. */
	memmove(&ms->observed[1], &ms->observed[0], i * sizeof(ms->observed[0]));
	memmove(&ms->observed_ms[1], &ms->observed_ms[0], i * sizeof(ms->observed_ms[0]));
	ms->observed[0] = *a;
	ms->observed_ms[0] = now_ms(ms);
}

static void on_pong(struct magicsock *ms, struct ms_peer *p, const struct disco_msg *m,
		    const union ms_addr *from)
{
	struct ms_disco *d = &p->disco;
	struct ms_disco_ping *pp = pending_find(d, m->txid);
	uint64_t rtt_us;

	/* Only the address pinged may answer: anything else is not a path. */
	if (pp == NULL || !ms_addr_eq(&pp->to, from)) {
		ms->st.disco_rx_bad++;
		return;
	}
	ms->st.disco_rx_pong++;
	if (is_direct(ms, p, from))
		observed_add(ms, &m->observed);
	rtt_us = (uv_hrtime() - pp->sent_ns) / 1000;
	pp->sent_ns = 0;
	if (trusted(ms, d) && !ms_addr_eq(&d->best, from) && !better(d, rtt_us))
		return;
	d->best = *from;
	d->best_ms = now_ms(ms);
	d->best_rtt_us = rtt_us;
	d->lost_ms = 0;
}

size_t magicsock_observed_addrs(struct magicsock *ms, union ms_addr *out, size_t max)
{
	uint64_t now = now_ms(ms);
	size_t i, n = 0;

	for (i = 0; i < MAGICSOCK_OBSERVED_MAX && n < max; i++)
		if (ms->observed_ms[i] && now - ms->observed_ms[i] < 5 * 60 * 1000)
			out[n++] = ms->observed[i];
	return n;
}

void ms_disco_input(void *ud, const uint8_t *pkt, size_t len, const union ms_addr *from)
{
	struct magicsock *ms = ud;
	uint8_t pk[DISCO_KEY_LEN];
	struct disco_msg m;
	struct ms_peer *p;

	if (disco_sender(pkt, len, pk) < 0 || (p = ms_peer_get(ms, pk, 0)) == NULL ||
	    !key_ready(ms, p) || disco_open(pkt, len, p->disco.shared, &m) < 0) {
		ms->st.disco_rx_bad++;
		return;
	}
	if (m.type == DISCO_PING)
		on_ping(ms, p, &m, from);
	else
		on_pong(ms, p, &m, from);
}

void ms_disco_heard(struct magicsock *ms, struct ms_peer *p, const union ms_addr *addr)
{
	struct ms_disco *d = &p->disco;
	uint64_t now = now_ms(ms);

	if (!key_ready(ms, p) || (trusted(ms, d) && ms_addr_eq(&d->best, addr)))
		return;
	if (d->punch_ms && now - d->punch_ms < PUNCH_GAP_MS)
		return;
	d->punch_ms = now;
	ping(ms, p, addr);
}

static void log_path(struct magicsock *ms, struct ms_peer *p)
{
	struct ms_disco *d = &p->disco;
	char a[MS_ADDR_STRLEN];
	enum ms_path path;

	path = magicsock_peer_path(ms, p->pk, NULL);
	if (path == d->shown)
		return;
	d->shown = path;
	if (p->naddrs == 0 && !p->has_relay && p->nvias == 0 &&
	    !ratelimit_take(&ms->unnamed_log, now_ms(ms)))
		return;
	if (path == MS_PATH_DIRECT)
		log_info("magicsock: peer %02x%02x%02x%02x: direct via %s (%.2f ms)", p->pk[0],
			 p->pk[1], p->pk[2], p->pk[3], ms_addr_fmt(&d->best, a, sizeof(a)),
			 d->best_rtt_us / 1000.0);
	else
		log_info("magicsock: peer %02x%02x%02x%02x: %s", p->pk[0], p->pk[1], p->pk[2],
			 p->pk[3], magicsock_path_name(path));
}

/* The ping round due for one peer, if any. */
static void peer_tick(struct magicsock *ms, struct ms_peer *p, uint64_t now)
{
	struct ms_disco *d = &p->disco;
	uint64_t gap;

	if (!key_ready(ms, p))
		return;
	log_path(ms, p);
	if (!p->tx_ms || now - p->tx_ms > MAGICSOCK_DISCO_ACTIVE_MS || now < d->next_ms)
		return;
	if (trusted(ms, d)) {
		if (now - d->full_ms >= MAGICSOCK_DISCO_UPGRADE_MS)
			ping_all(ms, p);
		else
			ping(ms, p, &d->best);
		d->next_ms = now + MAGICSOCK_DISCO_HEARTBEAT_MS;
		return;
	}
	if (d->lost_ms == 0)
		d->lost_ms = now;
	gap = now - d->lost_ms < LOST_SLOW_MS ? MAGICSOCK_DISCO_PROBE_MS : MAGICSOCK_DISCO_SLOW_MS;
	ping_all(ms, p);
	d->next_ms = now + gap;
}

void ms_disco_tick(uv_timer_t *t)
{
	struct magicsock *ms = t->data;
	struct ms_peer *p;
	uint64_t now = now_ms(ms);
	size_t i;

	if (ms->blackhole)
		return;
	for (i = 0; i < MS_BUCKETS; i++)
		for (p = ms->buckets[i]; p; p = p->next)
			peer_tick(ms, p, now);
}
