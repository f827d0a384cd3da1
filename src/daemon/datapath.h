/*
 * datapath: binds the data plane to the daemon: opens the TUN device and the
 * forwarder on `ray up`, closes them on `ray down`, keeps the TUN addresses
 * and the peer table in step with the rosters, and moves packets between the
 * forwarder and each peer's QUIC connection.
 */
#ifndef RAYFISH_DAEMON_DATAPATH_H
#define RAYFISH_DAEMON_DATAPATH_H

#include <stddef.h>
#include <stdint.h>

struct daemon;
struct peer;

/* Opens TUN + forwarder with the current addresses. Returns 0 or -errno. */
int datapath_up(struct daemon *d);
void datapath_down(struct daemon *d);
/* A mesh connection that refused a packet (-EAGAIN) drained: the
 * forwarder held that packet and paused the TUN, so it goes on. */
void datapath_on_writable(struct daemon *d);

/* Rebuilds addresses and the peer table from every network's roster. */
void datapath_sync(struct daemon *d);

/* A DATAGRAM from p's connection. */
void datapath_deliver(struct daemon *d, struct peer *p, const uint8_t *pkt, size_t len);

/* Data-plane bytes to and from p so far. */
struct datapath_counts {
	uint64_t tx_bytes, rx_bytes, tx_packets, rx_packets;
};
void datapath_peer_counts(struct daemon *d, struct peer *p, struct datapath_counts *out);

#endif
