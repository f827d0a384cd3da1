/*
 * offload: see offload.h. Written from the kernel's virtio_net_hdr
 * semantics; the rules, and where we chose:
 *
 * Split (what software GSO does, net/ipv4/tcp_offload.c, udp_offload.c):
 * the segments carry gso_size payload bytes each, the last the rest. IPv4
 * IDs count up from the super-packet's (the TUN offers no TSO_MANGLEID, so
 * the kernel never hands us a fixed-ID packet). FIN and PSH stay on the
 * last segment, CWR on the first. hdr_len is ignored beyond a bounds check:
 * the kernel fills in its linear length, not the header length. Every
 * checksum is computed in full: the segments go to a peer, whose kernel
 * checks them unless it merges them again.
 *
 * Coalesce (what GRO does, tcp_gro_receive, udp_gro_receive_segment,
 * inet_gro_receive, ipv6_gro_receive): a packet joins the open run of its
 * flow when its IP header equals the run's first one except for length,
 * ID and checksum (so TTL, TOS/traffic class, flow label and DF match); its
 * TCP sequence number continues the run; ACK, data offset, flags other than
 * FIN/PSH/CWR, window, urgent pointer and options are identical; it has no CWR; its payload
 * is not longer than the first one's (gso_size), and every earlier member
 * was exactly that long. A member shorter than gso_size, or with FIN or
 * PSH, ends the run. SYN, RST and URG never merge, nor do packets without
 * payload (pure ACKs), IPv4 options, IPv6 extension headers, fragments,
 * padded packets, and UDP without a checksum. IPv4 IDs: with DF clear they
 * must be consecutive (they may be needed to reassemble fragments later);
 * with DF set they are ignored, as GRO accepts both incrementing and fixed
 * IDs for atomic datagrams; the merged packet keeps the first ID. Runs stop
 * at OFFLOAD_MAX_SEGS members and OFFLOAD_MAX_MERGED bytes.
 *
 * A merged packet goes into the kernel with NEEDS_CSUM and is then taken as
 * checksummed, so the checksums of its members are verified first (the
 * kernel's GRO does too): a corrupt packet must reach the kernel on its own
 * and be dropped there, not be laundered by a merge. The check is lazy: a
 * packet that ends up alone goes out untouched and unverified.
 *
 * Order: a packet of a flow that cannot join the flow's open run closes it,
 * and outputs go out in the order their first packet came in, so packets of
 * one flow stay in order; different flows may be reordered (GRO does that
 * too).
 */
#include "dataplane/offload.h"
#include "util/bytes.h"

#include <errno.h>
#include <string.h>

#define V4_HDR 20
#define V6_HDR 40
#define TCP_HDR 20
#define UDP_HDR 8
#define TCP_CSUM 16 /* offset of the checksum in the TCP header */
#define UDP_CSUM 6

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_URG 0x20
#define TH_CWR 0x80

#define V4_DF 0x4000
#define V4_MF 0x2000
#define V4_OFFMASK 0x1fff

#define VNET_FLAGS (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)
#define NO_NEXT 0xffff

int offload_vnet_read(const uint8_t *buf, size_t len, struct virtio_net_hdr *vh)
{
	if (len < OFFLOAD_VNET_HDR_LEN)
		return -EINVAL;
	vh->flags = buf[0];
	vh->gso_type = buf[1];
	vh->hdr_len = le16_get(buf + 2);
	vh->gso_size = le16_get(buf + 4);
	vh->csum_start = le16_get(buf + 6);
	vh->csum_offset = le16_get(buf + 8);
	return 0;
}

void offload_vnet_write(uint8_t *buf, const struct virtio_net_hdr *vh)
{
	buf[0] = vh->flags;
	buf[1] = vh->gso_type;
	le16_put(buf + 2, vh->hdr_len);
	le16_put(buf + 4, vh->gso_size);
	le16_put(buf + 6, vh->csum_start);
	le16_put(buf + 8, vh->csum_offset);
}

/* The inverted checksum of the bytes in [start, end), the field at
 * start + off taken as 0, plus `sum`, goes into that field. A result of 0 is
 * sent as 0xffff (the same in one's complement), because 0 means "no
 * checksum" to UDP; the kernel does so too. */
static void csum_store(uint8_t *pkt, size_t start, size_t off, size_t end, uint32_t sum)
{
	uint16_t c;

	be16_put(pkt + start + off, 0);
	c = (uint16_t)~packet_csum_fold(packet_csum_add(sum, pkt + start, end - start));
	be16_put(pkt + start + off, c ? c : 0xffff);
}

/* NEEDS_CSUM: the field holds the pseudo-header sum; the sum of everything
 * from csum_start, that field included, completes it. */
static void csum_finish(uint8_t *pkt, const struct virtio_net_hdr *vh, size_t end)
{
	csum_store(pkt, vh->csum_start, vh->csum_offset, end,
		   be16_get(pkt + vh->csum_start + vh->csum_offset));
}

static int is_v6_ext(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60 || nh == 135 || nh == 139 ||
	       nh == 140;
}

/* The IP header of a super-packet: no options, no fragment, a length field
 * that covers exactly the bytes read. */
static int gso_l3(const uint8_t *p, size_t len, struct offload_info *oi)
{
	size_t ihl;

	if (len < 1)
		return -EINVAL;
	if ((p[0] >> 4) == 6) {
		if (len < V6_HDR || V6_HDR + (size_t)be16_get(p + 4) != len)
			return -EINVAL;
		oi->version = 6;
		oi->proto = p[6];
		oi->l3_len = V6_HDR;
		return is_v6_ext(p[6]) ? -EPROTONOSUPPORT : 0;
	}
	if ((p[0] >> 4) != 4 || len < V4_HDR)
		return -EINVAL;
	ihl = (size_t)(p[0] & 0x0f) * 4;
	if (ihl < V4_HDR)
		return -EINVAL;
	if (ihl > V4_HDR)
		return -EPROTONOSUPPORT;
	if (be16_get(p + 2) != len || (be16_get(p + 6) & (V4_MF | V4_OFFMASK)))
		return -EINVAL;
	oi->version = 4;
	oi->proto = p[9];
	oi->l3_len = V4_HDR;
	return 0;
}

static int gso_l4(const uint8_t *p, size_t len, struct offload_info *oi)
{
	const uint8_t *l4 = p + oi->l3_len;
	size_t rest = len - oi->l3_len, hl = UDP_HDR;

	if (oi->proto == PROTO_TCP) {
		if (rest < TCP_HDR)
			return -EINVAL;
		hl = (size_t)(l4[12] >> 4) * 4;
		if (hl < TCP_HDR)
			return -EINVAL;
	}
	if (hl > rest)
		return -EINVAL;
	oi->l4_hdr_len = (uint16_t)hl;
	oi->payload = rest - hl;
	return 0;
}

static int check_gso(const struct virtio_net_hdr *vh, const uint8_t *pkt, size_t len,
		     struct offload_info *oi)
{
	uint8_t type = vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN, proto = PROTO_TCP;
	uint16_t csum_off = TCP_CSUM;
	int rc;

	switch (type) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
		break;
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		if (vh->gso_type & VIRTIO_NET_HDR_GSO_ECN)
			return -EINVAL;
		proto = PROTO_UDP;
		csum_off = UDP_CSUM;
		break;
	default:
		/* UFO (IP fragments), tunnel GSO and whatever comes next */
		return -EPROTONOSUPPORT;
	}
	/* the kernel never sends GSO without a partial checksum */
	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || vh->gso_size == 0)
		return -EINVAL;
	if ((rc = gso_l3(pkt, len, oi)) < 0)
		return rc;
	if ((type == VIRTIO_NET_HDR_GSO_TCPV4 && oi->version != 4) ||
	    (type == VIRTIO_NET_HDR_GSO_TCPV6 && oi->version != 6) || oi->proto != proto)
		return -EINVAL;
	if ((rc = gso_l4(pkt, len, oi)) < 0)
		return rc;
	if (vh->csum_start != oi->l3_len || vh->csum_offset != csum_off)
		return -EINVAL;
	oi->gso_size = vh->gso_size;
	oi->len = len;
	oi->segs = oi->payload > vh->gso_size
			   ? (unsigned)((oi->payload + vh->gso_size - 1) / vh->gso_size)
			   : 1;
	return 0;
}

/* A plain packet with a partial checksum may be anything the kernel sums
 * generically (TCP, UDP, a tunnel's outer UDP): the field only has to lie
 * in the L4 data, at an even offset so the stored sum lines up with the
 * words it was summed in. */
static int check_plain(const struct virtio_net_hdr *vh, const uint8_t *pkt, size_t len,
		       struct offload_info *oi)
{
	struct packet_info pi;

	oi->len = len;
	oi->segs = 1;
	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return 0;
	if (packet_parse(pkt, len, &pi) < 0 || (pi.flags & PACKET_F_FRAGMENT))
		return -EINVAL;
	if (vh->csum_start < pi.hdr_len || (vh->csum_offset & 1) ||
	    (size_t)vh->csum_start + vh->csum_offset + 2 > pi.total_len)
		return -EINVAL;
	oi->version = pi.version;
	oi->proto = pi.proto;
	oi->l3_len = pi.hdr_len;
	oi->len = pi.total_len;
	return 0;
}

int offload_check(const struct virtio_net_hdr *vh, const uint8_t *pkt, size_t len,
		  struct offload_info *oi)
{
	memset(oi, 0, sizeof(*oi));
	if (!pkt || (vh->flags & ~VNET_FLAGS))
		return -EINVAL;
	if (vh->hdr_len > len)
		return -EINVAL;
	if (vh->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return check_plain(vh, pkt, len, oi);
	if ((vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_NONE)
		return -EINVAL;
	return check_gso(vh, pkt, len, oi);
}

int offload_csum_finish(const struct virtio_net_hdr *vh, uint8_t *pkt, size_t len)
{
	struct offload_info oi;
	int rc;

	if ((rc = offload_check(vh, pkt, len, &oi)) < 0)
		return rc;
	if (oi.gso_size)
		return -EINVAL;
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		csum_finish(pkt, vh, oi.len);
	return (int)oi.len;
}

static int split_plain(const struct virtio_net_hdr *vh, const uint8_t *pkt,
		       const struct offload_info *oi, struct offload_seg *segs, unsigned max_segs)
{
	if (max_segs < 1 || oi->len > segs[0].cap)
		return -ENOSPC;
	memcpy(segs[0].data, pkt, oi->len);
	segs[0].len = oi->len;
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		csum_finish(segs[0].data, vh, oi->len);
	return 1;
}

static void seg_fix_ip(uint8_t *s, const struct offload_info *oi, size_t len, unsigned i)
{
	if (oi->version == 6) {
		be16_put(s + 4, (uint16_t)(len - V6_HDR));
		return;
	}
	be16_put(s + 2, (uint16_t)len);
	be16_put(s + 4, (uint16_t)(be16_get(s + 4) + i));
	csum_store(s, 0, 10, V4_HDR, 0);
}

static void seg_fix_l4(uint8_t *s, const struct offload_info *oi, size_t len, size_t off,
		       unsigned i)
{
	uint8_t *l4 = s + oi->l3_len;
	size_t l4len = len - oi->l3_len, csum_at = UDP_CSUM;

	if (oi->proto == PROTO_TCP) {
		be32_put(l4 + 4, be32_get(l4 + 4) + (uint32_t)off);
		if (i + 1 != oi->segs)
			l4[13] &= (uint8_t) ~(TH_FIN | TH_PSH);
		if (i != 0)
			l4[13] &= (uint8_t)~TH_CWR;
		csum_at = TCP_CSUM;
	} else {
		be16_put(l4 + 4, (uint16_t)l4len);
	}
	csum_store(s, oi->l3_len, csum_at, len, packet_csum_pseudo(s, oi->proto, (uint32_t)l4len));
}

int offload_split(const struct virtio_net_hdr *vh, const uint8_t *pkt, size_t len,
		  struct offload_seg *segs, unsigned max_segs)
{
	struct offload_info oi;
	size_t hdrs;
	int rc;

	if ((rc = offload_check(vh, pkt, len, &oi)) < 0)
		return rc;
	if (!oi.gso_size)
		return split_plain(vh, pkt, &oi, segs, max_segs);
	if (oi.segs > max_segs)
		return -ENOSPC;
	hdrs = (size_t)oi.l3_len + oi.l4_hdr_len;
	for (unsigned i = 0; i < oi.segs; i++) {
		size_t off = (size_t)i * oi.gso_size;
		size_t plen = oi.payload - off < oi.gso_size ? oi.payload - off : oi.gso_size;
		struct offload_seg *s = &segs[i];

		if (hdrs + plen > s->cap)
			return -ENOSPC;
		memcpy(s->data, pkt, hdrs);
		memcpy(s->data + hdrs, pkt + hdrs + off, plen);
		s->len = hdrs + plen;
		seg_fix_ip(s->data, &oi, s->len, i);
		seg_fix_l4(s->data, &oi, s->len, off, i);
	}
	return (int)oi.segs;
}

/* ---- coalesce ---- */

/* What the first pass knows about the packet at hand. */
struct cand {
	struct packet_info pi;
	const uint8_t *p;
	size_t len;
	uint16_t hdrs; /* IP + L4 headers */
	uint16_t plen; /* payload */
	uint16_t id;   /* IPv4 ID */
	uint32_t seq;  /* TCP */
	int mergeable;
};

static int same_flow(const struct offload_group *g, const struct packet_info *pi)
{
	return g->version == pi->version && g->proto == pi->proto && g->sport == pi->src_port &&
	       g->dport == pi->dst_port && memcmp(&g->src, &pi->src, sizeof(g->src)) == 0 &&
	       memcmp(&g->dst, &pi->dst, sizeof(g->dst)) == 0;
}

/* Whether the packet may be part of a merged one at all; fills the rest of
 * *k. packet_parse has checked the L4 header lies within the packet. */
static int mergeable(struct cand *k)
{
	const struct packet_info *pi = &k->pi;
	const uint8_t *l4 = k->p + pi->hdr_len;
	size_t hdrs;

	if (pi->total_len != k->len)
		return 0; /* padded: the kernel would trim, we do not guess */
	if (pi->hdr_len != (pi->version == 4 ? V4_HDR : V6_HDR))
		return 0; /* IPv4 options, IPv6 extension headers */
	if (pi->proto == PROTO_TCP) {
		if (pi->tcp_flags & (TH_SYN | TH_RST | TH_URG))
			return 0;
		hdrs = pi->hdr_len + (size_t)(l4[12] >> 4) * 4;
		k->seq = be32_get(l4 + 4);
	} else if (pi->proto == PROTO_UDP) {
		if (be16_get(l4 + 4) != k->len - pi->hdr_len || be16_get(l4 + 6) == 0)
			return 0;
		hdrs = pi->hdr_len + UDP_HDR;
	} else {
		return 0;
	}
	if (k->len <= hdrs)
		return 0; /* no payload: pure ACKs and empty datagrams */
	k->hdrs = (uint16_t)hdrs;
	k->plen = (uint16_t)(k->len - hdrs);
	k->id = pi->version == 4 ? be16_get(k->p + 4) : 0;
	return 1;
}

/* The packet's IPv4 header checksum and its L4 checksum with pseudo-header. */
static int csum_ok(const uint8_t *p, size_t len, uint16_t l3_len, uint8_t proto)
{
	uint32_t sum;

	if ((p[0] >> 4) == 4 && packet_csum_fold(packet_csum_add(0, p, V4_HDR)) != 0xffff)
		return 0;
	sum = packet_csum_pseudo(p, proto, (uint32_t)(len - l3_len));
	return packet_csum_fold(packet_csum_add(sum, p + l3_len, len - l3_len)) == 0xffff;
}

static int find_open(const struct offload_coalescer *c, const struct packet_info *pi)
{
	for (unsigned s = 0; s < c->n_open; s++)
		if (same_flow(&c->groups[c->open[s]], pi))
			return (int)s;
	return -1;
}

/* The run in open slot s takes no more packets. */
static void close_slot(struct offload_coalescer *c, unsigned s)
{
	memmove(&c->open[s], &c->open[s + 1], (c->n_open - s - 1) * sizeof(c->open[0]));
	c->n_open--;
}

/* A new output starting with packet i; k is NULL for a packet of no flow. */
static void start_group(struct offload_coalescer *c, unsigned i, const struct cand *k)
{
	struct offload_group *g = &c->groups[c->n_groups];

	memset(g, 0, sizeof(*g));
	g->head = g->tail = (uint16_t)i;
	g->count = 1;
	c->next[i] = NO_NEXT;
	if (k) {
		g->version = k->pi.version;
		g->proto = k->pi.proto;
		g->sport = k->pi.src_port;
		g->dport = k->pi.dst_port;
		g->src = k->pi.src;
		g->dst = k->pi.dst;
	}
	if (k && k->mergeable &&
	    !(g->proto == PROTO_TCP && (k->pi.tcp_flags & (TH_FIN | TH_PSH)))) {
		g->l3_len = k->pi.hdr_len;
		g->hdrs = k->hdrs;
		g->gso_size = k->plen;
		g->last_id = k->id;
		g->next_seq = k->seq + k->plen;
		g->bytes = (uint32_t)k->len;
		if (c->n_open == OFFLOAD_MAX_OPEN)
			close_slot(c, 0);
		c->open[c->n_open++] = (uint16_t)c->n_groups;
	}
	c->n_groups++;
}

/* IP headers equal but for length, ID and checksum. */
static int same_ip(const uint8_t *h, const uint8_t *p, uint8_t version)
{
	if (version == 6)
		return memcmp(h, p, 4) == 0 && memcmp(h + 6, p + 6, V6_HDR - 6) == 0;
	return memcmp(h, p, 2) == 0 && memcmp(h + 6, p + 6, 4) == 0 &&
	       memcmp(h + 12, p + 12, 8) == 0;
}

static int tcp_follows(const struct offload_group *g, const uint8_t *ht, const uint8_t *pt,
		       uint32_t seq)
{
	if (seq != g->next_seq)
		return 0;
	/* ACK number and data offset; then the flags; then the window */
	if (memcmp(ht + 8, pt + 8, 5) != 0)
		return 0;
	if (((ht[13] ^ pt[13]) & ~(TH_CWR | TH_FIN | TH_PSH)) || (pt[13] & TH_CWR))
		return 0;
	/* the window; the urgent pointer too, which GRO does not compare, so
	 * that a merge loses nothing even without URG */
	if (memcmp(ht + 14, pt + 14, 2) != 0 || memcmp(ht + 18, pt + 18, 2) != 0)
		return 0;
	return memcmp(ht + TCP_HDR, pt + TCP_HDR, (size_t)(g->hdrs - g->l3_len - TCP_HDR)) == 0;
}

static int can_append(const struct offload_group *g, const struct offload_in *in,
		      const struct cand *k)
{
	const uint8_t *h = in[g->head].data;

	if (g->count >= OFFLOAD_MAX_SEGS || k->hdrs != g->hdrs || k->plen > g->gso_size)
		return 0;
	if (g->bytes + k->plen > OFFLOAD_MAX_MERGED)
		return 0;
	if (!same_ip(h, k->p, g->version))
		return 0;
	if (g->version == 4 && !(be16_get(k->p + 6) & V4_DF) && k->id != (uint16_t)(g->last_id + 1))
		return 0;
	if (g->proto == PROTO_TCP)
		return tcp_follows(g, h + g->l3_len, k->p + g->l3_len, k->seq);
	return 1;
}

/* Checksums of the run's first packet (once) and of the one joining it. */
static int checksums_ok(struct offload_group *g, const struct offload_in *in, const struct cand *k)
{
	if (!g->verified) {
		if (!csum_ok(in[g->head].data, in[g->head].len, g->l3_len, g->proto))
			return 0;
		g->verified = 1;
	}
	return csum_ok(k->p, k->len, g->l3_len, g->proto);
}

static void append(struct offload_coalescer *c, unsigned s, unsigned i, const struct cand *k)
{
	struct offload_group *g = &c->groups[c->open[s]];

	c->next[g->tail] = (uint16_t)i;
	c->next[i] = NO_NEXT;
	g->tail = (uint16_t)i;
	g->count++;
	g->bytes += k->plen;
	g->last_id = k->id;
	g->next_seq += k->plen;
	if (k->plen < g->gso_size ||
	    (g->proto == PROTO_TCP && (k->pi.tcp_flags & (TH_FIN | TH_PSH))))
		close_slot(c, s);
}

/* First pass: sorts the packets into runs, touching only headers (and the
 * checksums of packets that do merge). */
static void group(struct offload_coalescer *c, const struct offload_in *in, unsigned n)
{
	struct cand k;
	int s;

	c->n_groups = c->n_open = 0;
	for (unsigned i = 0; i < n; i++) {
		k.p = in[i].data;
		k.len = in[i].len;
		if (packet_parse(k.p, k.len, &k.pi) < 0 || !(k.pi.flags & PACKET_F_PORTS) ||
		    (k.pi.flags & PACKET_F_FRAGMENT)) {
			start_group(c, i, NULL);
			continue;
		}
		k.mergeable = mergeable(&k);
		if ((s = find_open(c, &k.pi)) >= 0) {
			struct offload_group *g = &c->groups[c->open[s]];

			if (k.mergeable && can_append(g, in, &k) && checksums_ok(g, in, &k)) {
				append(c, (unsigned)s, i, &k);
				continue;
			}
			/* a later packet of the flow must not overtake this one */
			close_slot(c, (unsigned)s);
		}
		start_group(c, i, &k);
	}
}

/* Second pass: one run into one super-packet at dst. */
static void build(const struct offload_coalescer *c, const struct offload_group *g,
		  const struct offload_in *in, uint8_t *dst, struct offload_out *o)
{
	uint8_t *p = dst + g->hdrs, *l4 = dst + g->l3_len;
	uint16_t l4len = (uint16_t)(g->bytes - g->l3_len), csum_at = UDP_CSUM;

	memcpy(dst, in[g->head].data, g->hdrs);
	for (uint16_t m = g->head; m != NO_NEXT; m = c->next[m]) {
		size_t plen = in[m].len - g->hdrs;

		memcpy(p, in[m].data + g->hdrs, plen);
		p += plen;
	}
	memset(&o->vh, 0, sizeof(o->vh));
	if (g->version == 4) {
		uint16_t old = be16_get(dst + 2);

		be16_put(dst + 2, (uint16_t)g->bytes);
		be16_put(dst + 10,
			 packet_csum_update16(be16_get(dst + 10), old, (uint16_t)g->bytes));
	} else {
		be16_put(dst + 4, (uint16_t)(g->bytes - V6_HDR));
	}
	if (g->proto == PROTO_TCP) {
		l4[13] |= in[g->tail].data[g->l3_len + 13] & (TH_FIN | TH_PSH);
		csum_at = TCP_CSUM;
		o->vh.gso_type =
			g->version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
		if (l4[13] & TH_CWR)
			o->vh.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	} else {
		be16_put(l4 + 4, l4len);
		o->vh.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
	}
	/* CHECKSUM_PARTIAL: the field holds the pseudo-header sum, not inverted */
	be16_put(l4 + csum_at, packet_csum_fold(packet_csum_pseudo(dst, g->proto, l4len)));
	o->vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	o->vh.gso_size = g->gso_size;
	o->vh.hdr_len = g->hdrs;
	o->vh.csum_start = g->l3_len;
	o->vh.csum_offset = csum_at;
	o->data = dst;
	o->len = g->bytes;
	o->packets = g->count;
}

static unsigned pass_through(const struct offload_coalescer *c, const struct offload_group *g,
			     const struct offload_in *in, struct offload_out *out)
{
	unsigned n = 0;

	for (uint16_t m = g->head; m != NO_NEXT; m = c->next[m]) {
		memset(&out[n].vh, 0, sizeof(out[n].vh));
		out[n].data = in[m].data;
		out[n].len = in[m].len;
		out[n].packets = 1;
		n++;
	}
	return n;
}

int offload_coalesce(struct offload_coalescer *c, const struct offload_in *in, unsigned n,
		     uint8_t *buf, size_t cap, struct offload_out *out)
{
	size_t used = 0;
	unsigned n_out = 0;

	if (n > OFFLOAD_BATCH_MAX)
		return -E2BIG;
	group(c, in, n);
	for (unsigned gi = 0; gi < c->n_groups; gi++) {
		const struct offload_group *g = &c->groups[gi];

		if (g->count == 1 || g->bytes > cap - used) {
			n_out += pass_through(c, g, in, out + n_out);
			continue;
		}
		build(c, g, in, buf + used, &out[n_out++]);
		used += g->bytes;
	}
	return (int)n_out;
}
