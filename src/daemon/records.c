/*
 * records: see records.h. Lookups collect every value the DHT returns under
 * a key into a small heap object that outlives any peer or network it was
 * started for; the result is delivered by key, not by pointer.
 */
#include "daemon/records.h"
#include "util/limits.h"
#include "daemon/daemon.h"
#include "daemon/member_relay.h"
#include "daemon/nat.h"
#include "daemon/peers.h"
#include "discovery/dht.h"
#include "discovery/payload.h"
#include "transport/magicsock.h"
#include "util/log.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define ENDPOINT_TTL_S (2 * 3600)
#define ENDPOINT_REFRESH_MS (30 * 60 * 1000)
#define ADDRS_CHECK_MS 10000

struct lookup {
	struct lookup *next; /* in d->lookups until done */
	struct daemon *d;
	enum record_kind kind;
	uint8_t pk[LIMIT_KEY_LEN];
	records_found_fn cb;
	void *ud;
	uint8_t best[RECORD_MAX];
	size_t best_len;
	struct record best_rec;
};

static void on_value(void *ud, const uint8_t *value, size_t len)
{
	struct lookup *l = ud;
	struct record rec, both[2];

	if (len > RECORD_MAX ||
	    record_decode(value, len, l->kind, l->pk, daemon_unix_now(), &rec) < 0)
		return;
	if (l->best_len) {
		if (record_decode(l->best, l->best_len, l->kind, l->pk, 0, &both[0]) < 0)
			return;
		both[1] = rec;
		if (record_pick_best(both, 2) == 0)
			return;
	}
	memcpy(l->best, value, len);
	l->best_len = len;
}

/* On OpenDHT's thread: only l->kind and l->pk (fixed) are read. */
static int keep_value(void *ud, const uint8_t *value, size_t len)
{
	const struct lookup *l = ud;
	struct record rec;

	return len <= RECORD_MAX &&
	       record_decode(value, len, l->kind, l->pk, daemon_unix_now(), &rec) >= 0;
}

static void unlink_lookup(struct lookup *l)
{
	struct lookup **pp;

	for (pp = &l->d->lookups; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			return;
		}
	}
}

static void on_done(void *ud, bool ok)
{
	struct lookup *l = ud;

	(void)ok;
	unlink_lookup(l);
	l->cb(l->d, l->pk, l->best_len ? l->best : NULL, l->best_len, l->ud);
	free(l);
}

void records_close_all(struct daemon *d)
{
	while (d->lookups) {
		struct lookup *l = d->lookups;

		d->lookups = l->next;
		free(l);
	}
}

int records_lookup(struct daemon *d, enum record_kind kind, const uint8_t pk[LIMIT_KEY_LEN],
		   records_found_fn cb, void *ud)
{
	uint8_t key[RECORD_KEY_LEN];
	struct lookup *l;
	int ret;

	if (!d->dht)
		return -ENOTCONN;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->d = d;
	l->kind = kind;
	memcpy(l->pk, pk, LIMIT_KEY_LEN);
	l->cb = cb;
	l->ud = ud;
	record_dht_key(kind, pk, key);
	ret = dht_node_get_filtered(d->dht, key, keep_value, on_value, on_done, l);
	if (ret < 0) {
		free(l);
		return ret;
	}
	l->next = d->lookups;
	d->lookups = l;
	return 0;
}

static bool usable_addr(const struct ifaddrs *ifa, const char *tun_name)
{
	if (!ifa->ifa_addr || !(ifa->ifa_flags & IFF_UP) || (ifa->ifa_flags & IFF_LOOPBACK) ||
	    strcmp(ifa->ifa_name, tun_name) == 0)
		return false;
	if (ifa->ifa_addr->sa_family == AF_INET) {
		uint32_t a = ntohl(((struct sockaddr_in *)ifa->ifa_addr)->sin_addr.s_addr);

		return (a & 0xffc00000u) != 0x64400000u; /* not a mesh address */
	}
	if (ifa->ifa_addr->sa_family == AF_INET6) {
		const uint8_t *b = ((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr.s6_addr;

		if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
			return false;         /* link-local needs a scope id */
		return (b[0] & 0xfe) != 0x02; /* not 200::/7 */
	}
	return false;
}

/* Public (STUN-reflexive) addresses and the TURN relayed address. */
static void add_nat_addrs(struct daemon *d, struct endpoint_payload *p)
{
	union ms_addr pub[8], relay;
	size_t n = nat_public_addrs(d, pub, 8);

	for (size_t i = 0; i < n && p->n_addrs < ENDPOINT_ADDRS_MAX; i++) {
		bool dup = false;

		for (size_t k = 0; k < p->n_addrs; k++)
			dup |= ms_addr_eq((const union ms_addr *)&p->addrs[k], &pub[i]);
		if (!dup) {
			memset(&p->addrs[p->n_addrs], 0, sizeof(p->addrs[0]));
			memcpy(&p->addrs[p->n_addrs++], &pub[i], ms_addr_len(&pub[i]));
		}
	}
	if (nat_relayed_addr(d, &relay) == 0) {
		p->has_relay = true;
		memset(&p->relay, 0, sizeof(p->relay));
		memcpy(&p->relay, &relay, ms_addr_len(&relay));
	}
}

static void gather_addrs(struct daemon *d, struct endpoint_payload *p)
{
	const char *tun = settings_get(&d->settings, SET_TUN_NAME);
	uint16_t port = htons(magicsock_port(d->ms));
	struct ifaddrs *list, *ifa;

	memset(p, 0, sizeof(*p));
	if (getifaddrs(&list) < 0)
		return;
	for (ifa = list; ifa && p->n_addrs < ENDPOINT_ADDRS_MAX; ifa = ifa->ifa_next) {
		struct sockaddr_storage *ss = &p->addrs[p->n_addrs];

		if (!usable_addr(ifa, tun))
			continue;
		memset(ss, 0, sizeof(*ss));
		if (ifa->ifa_addr->sa_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)ss;

			*in = *(struct sockaddr_in *)ifa->ifa_addr;
			in->sin_port = port;
		} else {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

			in6->sin6_family = AF_INET6;
			in6->sin6_addr = ((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr;
			in6->sin6_port = port;
		}
		p->n_addrs++;
	}
	freeifaddrs(list);
	add_nat_addrs(d, p);
	if (member_relay_offered(d))
		p->flags |= ENDPOINT_FLAG_RELAY;
}

static void addrs_signature(const struct endpoint_payload *p, char *out, size_t cap)
{
	size_t off = 0;

	out[0] = 0;
	if (p->flags & ENDPOINT_FLAG_RELAY)
		off += (size_t)snprintf(out, cap, "relays for members,");
	if (p->has_relay) {
		char buf[MS_ADDR_STRLEN];

		off += (size_t)snprintf(out + off, cap - off, "relay %s,",
					ms_addr_fmt((const union ms_addr *)&p->relay, buf,
						    sizeof(buf)));
	}
	for (size_t i = 0; i < p->n_addrs && off + MS_ADDR_STRLEN + 2 < cap; i++) {
		char buf[MS_ADDR_STRLEN];

		ms_addr_fmt((const union ms_addr *)&p->addrs[i], buf, sizeof(buf));
		off += (size_t)snprintf(out + off, cap - off, "%s,", buf);
	}
}

void records_endpoint_tick(struct daemon *d)
{
	struct endpoint_payload p;
	uint8_t payload[RECORD_PAYLOAD_MAX], rec[RECORD_MAX], key[RECORD_KEY_LEN];
	char sig[sizeof(d->endpoint_addrs_sig)];
	uint64_t now = daemon_unix_now();
	int plen, rlen;

	if (!d->dht || !d->ms)
		return;
	/* Interfaces rarely change: look every ADDRS_CHECK_MS, not every tick. */
	if (daemon_now_ms(d) < d->next_addrs_check_ms)
		return;
	d->next_addrs_check_ms = daemon_now_ms(d) + ADDRS_CHECK_MS;
	gather_addrs(d, &p);
	addrs_signature(&p, sig, sizeof(sig));
	if (strcmp(sig, d->endpoint_addrs_sig) == 0 &&
	    daemon_now_ms(d) < d->next_endpoint_publish_ms)
		return;
	p.has_timestamp = true;
	p.timestamp = now;
	plen = endpoint_payload_encode(&p, payload, sizeof(payload));
	if (plen < 0)
		return;
	d->endpoint_seq = now > d->endpoint_seq ? now : d->endpoint_seq + 1;
	rlen = record_encode(RECORD_ENDPOINT, d->id.seed, d->endpoint_seq, now + ENDPOINT_TTL_S,
			     payload, (size_t)plen, rec, sizeof(rec));
	if (rlen < 0)
		return;
	record_dht_key(RECORD_ENDPOINT, d->id.pk, key);
	if (dht_node_put(d->dht, key, rec, (size_t)rlen, NULL, NULL) < 0)
		return;
	log_info("discovery: endpoint record published (seq %llu, addresses %s)",
		 (unsigned long long)d->endpoint_seq, sig[0] ? sig : "none");
	memcpy(d->endpoint_rec, rec, (size_t)rlen);
	d->endpoint_rec_len = (size_t)rlen;
	if (strcmp(sig, d->endpoint_addrs_sig) != 0)
		peers_broadcast_endpoint(d);
	snprintf(d->endpoint_addrs_sig, sizeof(d->endpoint_addrs_sig), "%s", sig);
	d->next_endpoint_publish_ms = daemon_now_ms(d) + ENDPOINT_REFRESH_MS;
}

int records_publish_network(struct daemon *d, const uint8_t net_pk[LIMIT_KEY_LEN],
			    const uint8_t *rec, size_t len)
{
	uint8_t key[RECORD_KEY_LEN];

	if (!d->dht)
		return -ENOTCONN;
	record_dht_key(RECORD_NETWORK, net_pk, key);
	return dht_node_put(d->dht, key, rec, len, NULL, NULL);
}

void records_unpublish_network(struct daemon *d, const uint8_t net_pk[LIMIT_KEY_LEN])
{
	uint8_t key[RECORD_KEY_LEN];

	if (!d->dht)
		return;
	record_dht_key(RECORD_NETWORK, net_pk, key);
	dht_node_cancel_put(d->dht, key);
}

/* The payload decoder admits only AF_INET and AF_INET6 addresses. */
static void addr_from_storage(union ms_addr *out, const struct sockaddr_storage *ss)
{
	memset(out, 0, sizeof(*out));
	if (ss->ss_family == AF_INET)
		out->in = *(const struct sockaddr_in *)ss;
	else if (ss->ss_family == AF_INET6)
		out->in6 = *(const struct sockaddr_in6 *)ss;
}

int records_endpoint_addrs(const uint8_t pk[LIMIT_KEY_LEN], const uint8_t *rec, size_t len,
			   union ms_addr *out, size_t max, union ms_addr *relay, uint64_t *flags)
{
	struct endpoint_payload p;
	struct record r;
	size_t n = 0;

	if (relay)
		memset(relay, 0, sizeof(*relay));
	if (record_decode(rec, len, RECORD_ENDPOINT, pk, daemon_unix_now(), &r) < 0 ||
	    endpoint_payload_decode(r.payload, r.payload_len, &p) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < p.n_addrs && n < max; i++)
		if (p.addrs[i].ss_family == AF_INET || p.addrs[i].ss_family == AF_INET6)
			addr_from_storage(&out[n++], &p.addrs[i]);
	if (relay && p.has_relay)
		addr_from_storage(relay, &p.relay);
	if (flags)
		*flags = p.flags;
	return (int)n;
}
