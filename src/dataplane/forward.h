/*
 * forward: the data path between the TUN device and the peers.
 *
 * TUN → peer: a uv_poll on the TUN fd reads up to `batch` reads per wakeup
 * (so one busy direction cannot starve the loop), parses each packet, looks
 * its destination up in the peer table and hands it to the send callback
 * (in practice: a QUIC DATAGRAM on that peer's connection).
 * With the vnet header (cfg.vnet_hdr, a TUN opened with TUN_OPEN_OFFLOAD) a
 * read may be a GSO super-packet: offload_split cuts it into ordinary
 * packets, each of which then goes the same way as a read of its own
 * (firewall, conntrack, path-MTU feedback and counters see only ordinary
 * packets); a read with a partial checksum has it finished in place. A
 * header offload refuses drops the read (offload_invalid).
 * Backpressure: when the send callback answers -EAGAIN (the peer's queue is
 * full) the packet is not dropped: forward holds it and the rest of its
 * super-packet, stops reading the TUN (the kernel queues behind it, and the
 * inner TCP sees delay, not loss) and retries on forward_resume(), which
 * the owner calls when the peer can take packets again, going on from the
 * segment that was refused. A hold lasts at most FORWARD_HOLD_MS without
 * progress; then what is left is dropped (congestion_dropped), reading
 * resumes and, for FORWARD_STALL_MS, that peer's -EAGAIN drops at once, so
 * one stuck peer cannot stall the TUN for the others.
 * Peer → TUN: forward_deliver checks that the packet parses, that its source
 * address belongs to the peer it arrived from (anything else is spoofed),
 * that its destination is one of our own addresses and what the firewall
 * says. Without the vnet header it then writes the packet to the TUN. With
 * it, the packet is copied into a receive batch (up to OFFLOAD_BATCH_MAX
 * packets), which is flushed by a uv_check handle once the loop iteration's
 * I/O callbacks are done (after the whole receive burst), or at once when
 * full: offload_coalesce merges in-order segments of a flow into
 * super-packets, and each output is one write (vnet header, packet). A
 * write that meets EAGAIN is parked, header and all, in a preallocated byte
 * ring (FORWARD_RING_SLOTS writes, FORWARD_RING_BYTES bytes) and retried
 * when the fd turns writable; when the ring is full the write is dropped.
 * Replies forward writes into the TUN itself (RST, ICMP) carry a zero
 * header in vnet mode. The loop never blocks.
 *
 * Every drop is counted under one label; counters are read as a snapshot.
 * Per packet there is no allocation and no lock: buffers (read buffer,
 * segment arena, receive batch, merge buffer, ring) are allocated in
 * forward_open, the peer table lookup does not allocate.
 *
 * Ownership: struct forward is allocated by forward_open and freed by the
 * loop after forward_close (the uv handles close asynchronously; run the
 * loop once more before uv_loop_close). The TUN fd and the peer table stay
 * owned by the caller and must outlive the forward. Packets passed to
 * `send` are valid only during the call; forward_deliver copies what it
 * batches. Loop thread only.
 */
#ifndef RAYFISH_DATAPLANE_FORWARD_H
#define RAYFISH_DATAPLANE_FORWARD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "dataplane/peer_table.h"

struct firewall;

#define FORWARD_DEFAULT_BATCH 64
#define FORWARD_MAX_BATCH 1024
#define FORWARD_MAX_LOCAL_V4 64         /* our own IPv4 addresses, one per network */
#define FORWARD_RING_SLOTS 32           /* TUN writes parked on EAGAIN */
#define FORWARD_RING_BYTES (256 * 1024) /* their bytes: 4 full super-packets */
#define FORWARD_MAX_PACKET 65535
/* Longest wait for a congested peer. Every other peer's traffic waits
 * behind the held packet, so this bounds head-of-line blocking: a peer that
 * cannot drain half its queue (QUIC_DGRAM_QUEUE / 2 packets) in this time
 * (below ~25 Mbit/s) falls back to dropping, which its TCP copes with. */
#define FORWARD_HOLD_MS 25
#define FORWARD_STALL_MS 1000 /* then its congestion drops, not holds */

/* Returns 0 when the packet was taken, -EMSGSIZE when it can never fit the
 * peer's path (counted too_big), -EAGAIN when the peer is congested and the
 * packet was not taken (held, see above), any other -errno otherwise
 * (send_failed). */
typedef int (*forward_send_fn)(void *peer, const uint8_t *pkt, size_t len, void *ud);

/* The largest IP packet the peer's path takes now, 0 when unknown. */
typedef size_t (*forward_mtu_fn)(void *peer, void *ud);

struct forward_config {
	int tun_fd;   /* non-blocking, one packet per read/write */
	int vnet_hdr; /* the fd carries vnet headers (tun.vnet_hdr) */
	struct peer_table *peers;
	forward_send_fn send;
	void *send_ud;
	unsigned batch; /* packets per wakeup; 0: FORWARD_DEFAULT_BATCH */
	/* Optional. Every packet both ways is judged by the firewall (peer
	 * handle and network index from the peer table); a REJECT answers with
	 * a TCP RST or ICMP unreachable: into the TUN for our own outbound
	 * packet, back to the peer for its inbound one. */
	struct firewall *fw;
	/* Optional. A packet too big for its peer's path is answered with
	 * ICMP "fragmentation needed" / "packet too big" carrying mtu(peer), so
	 * the sender's stack adapts (path-MTU discovery). */
	forward_mtu_fn mtu;
};

struct forward_counters {
	uint64_t tx_packets; /* TUN → peer, taken by send */
	uint64_t tx_bytes;
	uint64_t rx_packets; /* peer → TUN, written (or parked) */
	uint64_t rx_bytes;
	uint64_t parse_error;
	uint64_t no_route;
	uint64_t spoofed_source;
	uint64_t not_for_us;
	uint64_t too_big;
	uint64_t send_failed;
	uint64_t tun_write_failed;
	uint64_t tun_read_failed;
	uint64_t held;               /* -EAGAIN: packet held, TUN paused */
	uint64_t congestion_dropped; /* held too long, or peer stalled */
	uint64_t fw_dropped;         /* denied by the firewall (both ways) */
	uint64_t fw_rejected;        /* of those, answered with RST / unreachable */
	uint64_t ptb_sent;           /* "packet too big" written into the TUN */
	/* offloads (vnet mode) */
	uint64_t gso_in;          /* super-packets read from the TUN */
	uint64_t gso_segments;    /* the packets they were split into */
	uint64_t offload_invalid; /* reads whose vnet header was refused (dropped) */
	uint64_t rx_merged;       /* received packets written inside a super-packet */
	uint64_t tun_writes;      /* TUN writes made (both modes, parked ones too) */
};

struct forward;

int forward_open(struct forward **out, uv_loop_t *loop, const struct forward_config *cfg);
/* Stops polling and frees the forward once the loop has closed the handle. */
void forward_close(struct forward *fwd);

/* Start/stop reading the TUN (ray up / ray down). Writes already parked
 * still drain while stopped. */
int forward_start(struct forward *fwd);
int forward_stop(struct forward *fwd);

/* Our own addresses, the only destinations forward_deliver accepts. IPv4 is
 * host order; there is at most one IPv6 (set replaces, NULL clears). */
int forward_local_add4(struct forward *fwd, uint32_t addr);
int forward_local_del4(struct forward *fwd, uint32_t addr);
void forward_local_set6(struct forward *fwd, const uint8_t addr[16]);

/*
 * Hands a packet received from `peer` to the TUN. Returns 0 when taken:
 * written or parked (plain), or batched (vnet: a later write failure is
 * only counted, tun_write_failed); else the drop reason as -errno: -EINVAL
 * (parse_error), -EPERM (spoofed_source), -EHOSTUNREACH (not_for_us),
 * -EACCES (firewall), and in plain mode -ENOBUFS or the write error
 * (tun_write_failed). pkt is only read during the call.
 */
int forward_deliver(struct forward *fwd, void *peer, const uint8_t *pkt, size_t len);

/* A peer can take packets again: retries the held packet (and the rest of
 * its super-packet) and, once all are taken, resumes reading the TUN
 * (draining one batch at once). */
void forward_resume(struct forward *fwd);

/* Runs one TUN → peer batch now, as the poll callback does; returns the
 * number of reads (a super-packet is one). Exposed for tests and for a caller that wants to
 * drain the TUN before stopping. */
int forward_tun_drain(struct forward *fwd);

void forward_counters_get(const struct forward *fwd, struct forward_counters *out);

#endif
