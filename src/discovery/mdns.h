/*
 * mdns: LAN discovery of other Rayfish nodes over multicast DNS (RFC 6762,
 * DNS-SD names of RFC 6763), so two machines on one LAN find each other's
 * real addresses without any DHT.
 *
 * Each node announces the service "_rayfish._udp.local": a PTR to its
 * instance "<first 16 hex of its id>._rayfish._udp.local", an SRV on that
 * instance (port = the mesh UDP port, target "<16 hex>.local"), a TXT with
 * "id=<64 hex endpoint id>" and "v=1", and A/AAAA records for the addresses
 * of the interface the announcement goes out on. It announces three times
 * one second apart at start, then every announce_ms; it queries for the
 * service at start and every query_ms, and answers queries for the service
 * (multicast, 20-120 ms later, at most once a second per interface and
 * family; legacy and QU queries by unicast under a global token bucket).
 *
 * Sockets: one UDP socket per family bound to port 5353 (SO_REUSEADDR and
 * SO_REUSEPORT, so Avahi or systemd-resolved may share the port), joined to
 * 224.0.0.251 / ff02::fb on every up, multicast-capable, non-loopback
 * interface except the TUN; multicast loop off, TTL/hop limit 255. Sends go
 * out per interface (IP_PKTINFO / IPV6_PKTINFO), so no multicast route is
 * needed. Interfaces are enumerated again at every query round, so a link
 * that comes up later is joined then. A packet is only read if it was sent
 * to the group (link-scoped, never routed) or arrived with TTL 255: off-link
 * senders cannot inject answers or make us reflect replies.
 *
 * Every received packet is decoded by mdns_parse (ldns, header counts
 * checked before parsing, records per packet capped). A valid announcement
 * of another node reaches the owner through the on_peer callback: its 32-byte
 * endpoint id and its socket addresses (A/AAAA of its SRV target plus the
 * packet's source address, all with the SRV port; link-local IPv6 scoped to
 * the arrival interface; loopback, multicast, unspecified and mesh-range
 * addresses dropped). Our own id and anything malformed are ignored and
 * counted. The callback fires for every announcement (about once a minute
 * per peer): the owner dedupes.
 *
 * Ownership: mdns_open allocates and returns the instance; mdns_close sends
 * goodbyes (TTL 0), stops everything and frees the instance once libuv has
 * closed its handles, so the loop must run afterwards. The config strings
 * are copied. Single-threaded: everything runs on the loop's thread.
 */
#ifndef RAYFISH_DISCOVERY_MDNS_H
#define RAYFISH_DISCOVERY_MDNS_H

#include "util/limits.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define MDNS_PORT 5353
#define MDNS_SERVICE "_rayfish._udp.local."
#define MDNS_MAX_PACKET 9000 /* RFC 6762 s17: larger is dropped */
#define MDNS_MAX_QUESTIONS 16
#define MDNS_MAX_RECORDS 64   /* an + ns + ar read per packet */
#define MDNS_MAX_FOUND 8      /* peers taken from one packet */
#define MDNS_MAX_HOST_ADDRS 8 /* A or AAAA per peer, each family */
#define MDNS_MAX_ADDRS 17     /* socket addresses per peer reported */
#define MDNS_MAX_IFACES 16
#define MDNS_TTL 120 /* seconds, every record we announce */
#define MDNS_ANNOUNCE_MS 60000
#define MDNS_QUERY_MS 30000

/* What one announcement carries (the addresses of one interface). */
struct mdns_self {
	char id_hex[65];
	uint16_t port;
	size_t n_v4, n_v6;
	struct in_addr v4[MDNS_MAX_HOST_ADDRS];
	struct in6_addr v6[MDNS_MAX_HOST_ADDRS];
};

/* A node found in one packet. */
struct mdns_found {
	uint8_t id[LIMIT_KEY_LEN];
	uint16_t port;
	size_t n_v4, n_v6;
	struct in_addr v4[MDNS_MAX_HOST_ADDRS];
	struct in6_addr v6[MDNS_MAX_HOST_ADDRS];
};

struct mdns_parsed {
	int is_response;
	int asks_service;  /* query naming our service (PTR/ANY) */
	int unicast_reply; /* that question had the QU bit */
	uint16_t id;
	size_t n_found;
	struct mdns_found found[MDNS_MAX_FOUND];
};

/* Builds an announcement (a response with PTR, SRV, TXT, A, AAAA; ttl 0 =
 * goodbye). qid is the message id (0 for multicast); with_question adds the
 * service question, as a legacy unicast reply must. Returns the length
 * written to buf or -EINVAL (bad id_hex, port 0), -EMSGSIZE, -ENOMEM. */
int mdns_build_announce(const struct mdns_self *self, uint32_t ttl, uint16_t qid, int with_question,
			uint8_t *buf, size_t cap);
/* Builds a query for the service PTR. Returns the length or -errno. */
int mdns_build_query(uint8_t *buf, size_t cap);
/* Decodes one received packet. Returns 0 (out filled; a response may still
 * hold no valid peer) or -EINVAL for anything malformed, -ENOMEM. */
int mdns_parse(const uint8_t *pkt, size_t len, struct mdns_parsed *out);

struct mdns_config {
	const char *id_hex;   /* our endpoint id, 64 hex */
	uint16_t port;        /* mesh UDP port announced in the SRV */
	const char *tun_name; /* interface never used; NULL = none */
	unsigned announce_ms; /* 0 = MDNS_ANNOUNCE_MS */
	unsigned query_ms;    /* 0 = MDNS_QUERY_MS */
};

struct mdns_stats {
	uint64_t rx_packets;
	uint64_t rx_malformed;
	uint64_t rx_offlink; /* not to the group and TTL != 255 */
	uint64_t rx_own;     /* our own announcements */
	uint64_t rx_queries; /* queries for the service */
	uint64_t peers_reported;
	uint64_t tx_announces;
	uint64_t tx_queries;
	uint64_t tx_replies; /* unicast replies */
	uint64_t tx_errors;
	uint64_t rate_limited; /* unicast replies refused by the bucket */
	unsigned ifaces;       /* interfaces in use at the last refresh */
};

typedef void (*mdns_peer_cb)(void *ud, const uint8_t id[LIMIT_KEY_LEN],
			     const struct sockaddr_storage *addrs, size_t n_addrs);

struct mdns;

/* Binds, joins and starts announcing. Returns 0, -EINVAL for a bad config,
 * or the -errno of the bind when neither family could be bound (the caller
 * runs without mDNS). */
int mdns_open(struct mdns **out, uv_loop_t *loop, const struct mdns_config *cfg,
	      mdns_peer_cb on_peer, void *ud);
/* Announces goodbye and starts closing; frees once the loop has run. */
void mdns_close(struct mdns *m);
/* The mesh port changed: announce the new one now. */
void mdns_set_port(struct mdns *m, uint16_t port);
void mdns_get_stats(const struct mdns *m, struct mdns_stats *out);

#endif
