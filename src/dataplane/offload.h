/*
 * offload: the packet logic of TUN segmentation and checksum offloads
 * (IFF_VNET_HDR + TUNSETOFFLOAD), as pure functions: no I/O, no allocation.
 *
 * With offloads on, the kernel hands the TUN reader GSO super-packets (one
 * IP packet of up to 64 KiB whose TCP or UDP payload is meant to leave as
 * gso_size-sized segments) and packets whose L4 checksum is only partial,
 * each behind a struct virtio_net_hdr. offload_split turns one such read
 * into ordinary, fully checksummed IP packets, each of which goes to a peer
 * in its own QUIC DATAGRAM, exactly as the kernel's own software GSO would
 * have cut them (include/uapi/linux/virtio_net.h,
 * Documentation/networking/segmentation-offloads.rst). The other way,
 * offload_coalesce takes the plain packets of one receive batch and merges
 * in-order TCP segments of a flow (and equal-sized UDP datagrams of a flow,
 * for USO) into super-packets the kernel accepts with one write() each, the
 * way its own GRO would have; what cannot merge passes through unchanged
 * with a zero header. The rules are the kernel's; see offload.c.
 *
 * Everything read from the TUN or received from a peer is hostile: every
 * length, offset and type in the vnet header is checked against the packet
 * it precedes before a byte is read, and what this module does not handle
 * (UFO, IPv4 options, IPv6 extension headers, fragments, tunnel GSO) is
 * refused rather than guessed at.
 *
 * The vnet header travels little-endian (the TUN is set to TUNSETVNETLE, so
 * the layout is the same on every host); offload_vnet_read/_write convert.
 * struct virtio_net_hdr values passed to and from the other functions hold
 * host-order numbers.
 *
 * Ownership: the caller owns every buffer. Inputs are only read. Outputs go
 * into caller-supplied buffers: offload_split fills an array of segment
 * buffers, offload_coalesce writes merged packets into one byte arena and
 * points the outputs of packets passed through at the caller's input
 * buffers, which must therefore outlive the outputs. struct
 * offload_coalescer is the caller's scratch state (allocate it once; it
 * needs no initialisation and holds nothing between calls).
 */
#ifndef RAYFISH_DATAPLANE_OFFLOAD_H
#define RAYFISH_DATAPLANE_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_net.h>

#include "dataplane/packet.h"

/* Older uapi headers (before Linux 6.2) lack USO. */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

#define OFFLOAD_VNET_HDR_LEN 10 /* sizeof(struct virtio_net_hdr) on the wire */
/* The longest packet a vnet header may precede: an IPv6 packet with a full
 * 16-bit payload length. IPv4 stops at 65535. */
#define OFFLOAD_MAX_PACKET (40 + 65535)
/* Longest super-packet offload_coalesce builds (IP total length). */
#define OFFLOAD_MAX_MERGED 65535
/* Most segments in one super-packet, both ways: the kernel's own UDP GRO
 * limit, and what the TUN's gso_max_segs should be set to so that a read
 * never needs more. */
#define OFFLOAD_MAX_SEGS 64
/* Most packets one offload_coalesce call takes. */
#define OFFLOAD_BATCH_MAX 256
/* Flows offload_coalesce keeps open for merging at once; a further flow
 * closes the oldest (its packets still go out, just not merged further). */
#define OFFLOAD_MAX_OPEN 16

/* Reads the 10 little-endian header bytes at buf into host order. -EINVAL
 * when len is shorter than the header. */
int offload_vnet_read(const uint8_t *buf, size_t len, struct virtio_net_hdr *vh);
/* Writes vh as the 10 little-endian header bytes at buf. */
void offload_vnet_write(uint8_t *buf, const struct virtio_net_hdr *vh);

/* What offload_check found out about a packet and its header. */
struct offload_info {
	uint8_t version;     /* 4 or 6; 0 for a plain packet that was not parsed */
	uint8_t proto;       /* TCP or UDP for GSO */
	uint16_t l3_len;     /* IP header length */
	uint16_t l4_hdr_len; /* TCP header with options, or 8 for UDP */
	uint16_t gso_size;   /* 0 for a non-GSO packet */
	size_t payload;      /* L4 payload bytes (GSO only) */
	size_t len;          /* bytes of the packet proper (trailing bytes excluded) */
	unsigned segs;       /* packets offload_split produces */
};

/*
 * Checks vh against pkt[0..len) and describes the packet in *oi. A GSO
 * packet must be IPv4 without options or IPv6 without extension headers,
 * unfragmented, of exactly len bytes, TCP for TCPV4/TCPV6 (ECN allowed)
 * and UDP for UDP_L4 (either version), with NEEDS_CSUM set,
 * csum_start at the L4 header and csum_offset at its checksum, gso_size
 * nonzero. hdr_len is only a hint (the kernel fills in its linear length)
 * and must merely lie within the packet. A non-GSO packet with NEEDS_CSUM
 * must parse, not be a fragment, and name a 16-bit field at an even offset
 * inside its L4 data; one without is not looked at. Returns 0, -EINVAL for
 * an inconsistent or hostile header, -EPROTONOSUPPORT for a valid one this
 * module does not handle (UFO, tunnel GSO, IPv4 options, IPv6 extensions).
 */
int offload_check(const struct virtio_net_hdr *vh, const uint8_t *pkt, size_t len,
		  struct offload_info *oi);

/*
 * For a non-GSO packet: finishes a partial checksum (NEEDS_CSUM) in place,
 * so the common small packet needs no copy. Returns the packet's length
 * (trailing bytes after the IP packet excluded; the whole len when no
 * checksum was pending), or the offload_check error; -EINVAL for GSO.
 */
int offload_csum_finish(const struct virtio_net_hdr *vh, uint8_t *pkt, size_t len);

/* A caller's buffer for one segment. */
struct offload_seg {
	uint8_t *data;
	size_t cap; /* bytes data can take */
	size_t len; /* out: bytes of the segment */
};

/*
 * Cuts the packet read from the TUN into complete IP packets in
 * segs[0..max_segs): gso_size bytes of payload each (the last one shorter),
 * each with its own total / payload length, IPv4 ID (the first keeps the
 * super-packet's, each next one +1) and header checksum, TCP sequence
 * number, FIN and PSH only on the last, CWR only on the first, UDP length,
 * and the full L4 checksum with pseudo-header. A non-GSO packet is copied
 * into segs[0] with any partial checksum finished (offload_csum_finish
 * avoids the copy). Returns the number of segments, an offload_check error,
 * or -ENOSPC when max_segs or a buffer's cap is too small (segs are then
 * undefined).
 */
int offload_split(const struct virtio_net_hdr *vh, const uint8_t *pkt, size_t len,
		  struct offload_seg *segs, unsigned max_segs);

/* One packet received from a peer. */
struct offload_in {
	const uint8_t *data;
	size_t len;
};

/* One TUN write: vh then data. vh is all zero for a packet passed through
 * as it came, and data then is that input's buffer. */
struct offload_out {
	struct virtio_net_hdr vh;
	const uint8_t *data;
	size_t len;
	unsigned packets; /* inputs this output carries */
};

/* Internal: one output being built (a flow's run of mergeable packets, or
 * a single packet). */
struct offload_group {
	union packet_addr src, dst;
	uint16_t sport, dport;
	uint8_t version, proto;
	uint8_t verified; /* head's checksums checked */
	uint16_t head, tail, count;
	uint16_t l3_len, hdrs; /* IP header; IP + L4 headers */
	uint16_t gso_size;     /* payload of the head */
	uint16_t last_id;      /* IPv4 ID of the tail */
	uint32_t next_seq;     /* TCP: sequence number the next member must have */
	uint32_t bytes;        /* length of the merged packet so far */
};

struct offload_coalescer {
	uint16_t next[OFFLOAD_BATCH_MAX]; /* next member of the same group */
	struct offload_group groups[OFFLOAD_BATCH_MAX];
	uint16_t open[OFFLOAD_MAX_OPEN]; /* open groups, oldest first */
	unsigned n_groups, n_open;
};

/*
 * Merges what may merge among in[0..n) (n <= OFFLOAD_BATCH_MAX) and
 * describes the TUN writes in out[], which must have room for n entries;
 * merged packets are written into buf[0..cap) (a group that no longer fits
 * goes out unmerged). Packets of one flow (addresses, ports, protocol) keep
 * their order; different flows may be reordered against each other. A
 * merged output has NEEDS_CSUM, csum_start/offset at its L4 checksum, which
 * holds the pseudo-header sum, and gso_type/gso_size/hdr_len set. Returns
 * the number of outputs, or -E2BIG when n is too large.
 */
int offload_coalesce(struct offload_coalescer *c, const struct offload_in *in, unsigned n,
		     uint8_t *buf, size_t cap, struct offload_out *out);

#endif
