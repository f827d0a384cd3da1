/*
 * offload_verify: independent checks of what dataplane/offload produces,
 * shared by tests/unit/test_offload.c and tests/fuzz/fuzz_offload.c.
 *
 * The checksums are recomputed here with the textbook byte-pair loop of
 * RFC 1071, not with packet_csum_add, so a bug in the fast sum cannot hide
 * itself. Every check returns 0 or the __LINE__ of the check that failed,
 * so a failing test or fuzz crash names it.
 *
 * Header-only (static functions); the including file needs <stdlib.h>.
 */
#ifndef RAYFISH_TESTS_OFFLOAD_VERIFY_H
#define RAYFISH_TESTS_OFFLOAD_VERIFY_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/offload.h"
#include "dataplane/packet.h"

static uint16_t ov_rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t ov_rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* One's complement sum of n bytes onto sum, folded, not inverted. */
static uint16_t ov_sum(uint32_t sum, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)((b[i] << 8) | b[i + 1]);
	if (i < n)
		sum += (uint32_t)(b[i] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint16_t ov_pseudo(const uint8_t *ip, uint8_t proto, size_t l4len)
{
	uint32_t s = proto + (uint32_t)(l4len >> 16) + (uint32_t)(l4len & 0xffff);

	if ((ip[0] >> 4) == 4)
		return ov_sum(s, ip + 12, 8);
	return ov_sum(s, ip + 8, 32);
}

/* A complete TCP or UDP packet: parses, lengths agree, IPv4 header and L4
 * checksums verify, UDP checksum not 0. */
static int ov_segment(const uint8_t *s, size_t len, struct packet_info *pi)
{
	const uint8_t *l4;
	size_t l4len;

	if (packet_parse(s, len, pi) < 0 || pi->total_len != len)
		return __LINE__;
	if (!(pi->flags & PACKET_F_PORTS) || (pi->flags & PACKET_F_FRAGMENT))
		return __LINE__;
	if (pi->version == 4 && ov_sum(0, s, pi->hdr_len) != 0xffff)
		return __LINE__;
	l4 = s + pi->hdr_len;
	l4len = len - pi->hdr_len;
	if (pi->proto == 17 && (ov_rd16(l4 + 4) != l4len || ov_rd16(l4 + 6) == 0))
		return __LINE__;
	if (ov_sum(ov_pseudo(s, pi->proto, l4len), l4, l4len) != 0xffff)
		return __LINE__;
	return 0;
}

static size_t ov_l4_hdr(const uint8_t *p, const struct packet_info *pi)
{
	return pi->proto == 6 ? (size_t)(p[pi->hdr_len + 12] >> 4) * 4 : 8;
}

static int ov_flow(const struct packet_info *pi)
{
	return (pi->flags & PACKET_F_PORTS) && !(pi->flags & PACKET_F_FRAGMENT);
}

static int ov_same_flow(const struct packet_info *a, const struct packet_info *b)
{
	return a->version == b->version && a->proto == b->proto && a->src_port == b->src_port &&
	       a->dst_port == b->dst_port && memcmp(&a->src, &b->src, sizeof(a->src)) == 0 &&
	       memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0;
}

/*
 * Whether seg (cut back out of a merged output) carries the same packet as
 * the input p: every byte equal except the IPv4 ID (renumbered from the
 * first member when DF is set), the IPv4 header checksum and the L4
 * checksum (0x0000 and 0xffff are the same sum); both checksums were
 * verified separately.
 */
static int ov_same_packet(const uint8_t *seg, size_t slen, const uint8_t *p, size_t len,
			  const struct packet_info *pi)
{
	size_t csum_at = pi->hdr_len + (pi->proto == 6 ? 16 : 6);

	if (slen != len)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (pi->version == 4 && (i == 4 || i == 5 || i == 10 || i == 11))
			continue;
		if (i == csum_at || i == csum_at + 1)
			continue;
		if (seg[i] != p[i])
			return 0;
	}
	return 1;
}

/* A merged output: its vnet header describes it as offload.h promises. */
static int ov_merged_header(const struct offload_out *o)
{
	struct packet_info pi;
	const struct virtio_net_hdr *vh = &o->vh;
	size_t l4len, csum_at;
	uint8_t type;

	if (packet_parse(o->data, o->len, &pi) < 0 || pi.total_len != o->len)
		return __LINE__;
	if (o->len > OFFLOAD_MAX_MERGED || o->packets < 2 || o->packets > OFFLOAD_MAX_SEGS)
		return __LINE__;
	if (vh->flags != VIRTIO_NET_HDR_F_NEEDS_CSUM || vh->csum_start != pi.hdr_len)
		return __LINE__;
	type = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	if (pi.proto == 6) {
		if (type != (pi.version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6))
			return __LINE__;
		if (!!(vh->gso_type & VIRTIO_NET_HDR_GSO_ECN) != !!(pi.tcp_flags & 0x80))
			return __LINE__;
		csum_at = 16;
	} else {
		if (vh->gso_type != VIRTIO_NET_HDR_GSO_UDP_L4)
			return __LINE__;
		csum_at = 6;
	}
	if (vh->csum_offset != csum_at || vh->hdr_len != pi.hdr_len + ov_l4_hdr(o->data, &pi))
		return __LINE__;
	if (vh->gso_size == 0)
		return __LINE__;
	l4len = o->len - pi.hdr_len;
	if (pi.version == 4 && ov_sum(0, o->data, 20) != 0xffff)
		return __LINE__;
	/* CHECKSUM_PARTIAL: the pseudo-header sum, not inverted */
	if (ov_rd16(o->data + pi.hdr_len + csum_at) != ov_pseudo(o->data, pi.proto, l4len))
		return __LINE__;
	return 0;
}

struct ov_pkt {
	const uint8_t *p;
	size_t len;
	int merged; /* cut out of a merged output */
	int used;
};

/* Cuts every output back into packets, appending them to list[*n]. */
static int ov_expand(const struct offload_out *out, int n_out, uint8_t *arena, struct ov_pkt *list,
		     unsigned *n)
{
	struct offload_seg segs[OFFLOAD_MAX_SEGS];
	struct packet_info pi;
	int rc;

	for (int o = 0; o < n_out; o++) {
		const struct offload_out *x = &out[o];

		if (x->vh.flags == 0 && x->vh.gso_type == 0) {
			if (x->packets != 1)
				return __LINE__;
			list[(*n)++] = (struct ov_pkt){ x->data, x->len, 0, 0 };
			continue;
		}
		if ((rc = ov_merged_header(x)) != 0)
			return rc;
		for (unsigned i = 0; i < OFFLOAD_MAX_SEGS; i++)
			segs[i] = (struct offload_seg){ arena + (size_t)i * 65536, 65536, 0 };
		rc = offload_split(&x->vh, x->data, x->len, segs, OFFLOAD_MAX_SEGS);
		if (rc != (int)x->packets)
			return __LINE__;
		for (int i = 0; i < rc; i++) {
			size_t hl;

			if (ov_segment(segs[i].data, segs[i].len, &pi) != 0)
				return __LINE__;
			hl = pi.hdr_len + ov_l4_hdr(segs[i].data, &pi);
			if (i + 1 < rc && segs[i].len - hl != x->vh.gso_size)
				return __LINE__;
			/* the arena is reused by the next output: keep a copy */
			uint8_t *keep = malloc(segs[i].len);
			if (!keep)
				return __LINE__;
			memcpy(keep, segs[i].data, segs[i].len);
			list[(*n)++] = (struct ov_pkt){ keep, segs[i].len, 1, 0 };
		}
	}
	return 0;
}

static int ov_match(const uint8_t *p, size_t len, struct ov_pkt *list, unsigned n)
{
	struct packet_info pi, qi;
	int flow = packet_parse(p, len, &pi) == 0 && ov_flow(&pi);

	for (unsigned e = 0; e < n; e++) {
		struct ov_pkt *q = &list[e];

		if (q->used)
			continue;
		if (!flow) {
			/* no flow, no order promise: any identical pass-through */
			if (!q->merged && q->len == len && memcmp(q->p, p, len) == 0) {
				q->used = 1;
				return 0;
			}
			continue;
		}
		if (packet_parse(q->p, q->len, &qi) < 0 || !ov_flow(&qi) || !ov_same_flow(&pi, &qi))
			continue;
		/* the first unused packet of the flow must be this one: order */
		if (q->merged ? !ov_same_packet(q->p, q->len, p, len, &pi)
			      : (q->len != len || memcmp(q->p, p, len) != 0))
			return __LINE__;
		q->used = 1;
		return 0;
	}
	return __LINE__;
}

/*
 * The contract of offload_coalesce on in[0..n) -> out[0..n_out): every
 * input comes out exactly once, either untouched (zero header) or inside a
 * merged output whose header is right and which splits back into exactly
 * its members; packets of one flow keep their order.
 */
static int ov_coalesce(const struct offload_in *in, unsigned n, const struct offload_out *out,
		       int n_out)
{
	/* kept for the life of the process: 4 MiB per call is slow under ASan */
	static uint8_t *arena;
	struct ov_pkt *list = calloc(n ? n : 1, sizeof(*list));
	unsigned total = 0, m = 0;
	int rc = 0;

	if (!arena)
		arena = malloc((size_t)OFFLOAD_MAX_SEGS * 65536);
	if (!list || !arena) {
		rc = __LINE__;
		goto out;
	}
	if (n_out < 0 || (unsigned)n_out > n) {
		rc = __LINE__;
		goto out;
	}
	for (int o = 0; o < n_out; o++)
		total += out[o].packets;
	if (total != n) {
		rc = __LINE__;
		goto out;
	}
	if ((rc = ov_expand(out, n_out, arena, list, &m)) != 0)
		goto out;
	if (m != n) {
		rc = __LINE__;
		goto out;
	}
	for (unsigned i = 0; i < n && rc == 0; i++)
		rc = ov_match(in[i].data, in[i].len, list, m);
out:
	if (list)
		for (unsigned e = 0; e < m; e++)
			if (list[e].merged)
				free((void *)list[e].p);
	free(list);
	return rc;
}

#endif
