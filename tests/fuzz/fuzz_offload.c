/*
 * fuzz_offload: hostile vnet headers and packets into offload_split, its
 * segments into offload_coalesce, and hostile batches into
 * offload_coalesce. Besides memory safety (every packet is an exact-size
 * heap copy, so ASan sees any overread), checks:
 *
 * split: the return codes agree with offload_check; a plain packet comes
 * out as it went in, with a partial checksum finished (and
 * offload_csum_finish in place gives the same bytes); every GSO segment is
 * a complete packet with correct lengths and checksums (recomputed
 * independently), gso_size payload bytes but the last, the payload in order,
 * IDs, sequence numbers and flags as the kernel's GSO sets them, and the
 * other header bytes unchanged. Then the segments coalesce under the
 * offload_coalesce contract (offload_verify.h), and a super-packet of
 * mergeable segments comes back whole: one output that splits into the
 * very same segments.
 *
 * coalesce: the contract, on any batch.
 *
 * Input: byte 0 is the mode. Bit 7 clear: split; bytes 1..10 are the vnet
 * header (little-endian, as on the TUN), the rest the packet; bit 0 sets
 * the IP length fields to the packet's size, bit 1 points csum_start and
 * csum_offset at the L4 checksum (so the fuzzer reaches the deep paths
 * without solving lengths). Bit 7 set: coalesce; byte 1 scales the merge
 * buffer (0xff: large), then packets of [2-byte big-endian length][bytes];
 * bit 6 fixes each packet's lengths and checksums first.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/offload.h"
#include "dataplane/packet.h"
#include "offload_verify.h"
#include "util/bytes.h"

#define SEG_CAP 65600

static uint8_t segbuf[OFFLOAD_MAX_SEGS][SEG_CAP];
static struct offload_seg segs[OFFLOAD_MAX_SEGS];
static uint8_t segbuf2[OFFLOAD_MAX_SEGS][SEG_CAP];
static struct offload_seg segs2[OFFLOAD_MAX_SEGS];
static struct offload_coalescer co;
static uint8_t arena[OFFLOAD_BATCH_MAX * 2048 + 65536];
static struct offload_out outs[OFFLOAD_BATCH_MAX];

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

static void reset(struct offload_seg *s, uint8_t (*buf)[SEG_CAP])
{
	for (unsigned i = 0; i < OFFLOAD_MAX_SEGS; i++)
		s[i] = (struct offload_seg){ buf[i], SEG_CAP, 0 };
}

/* The L3 length and protocol of a packet as the harness sees it. */
static int l3_of(const uint8_t *p, size_t len, size_t *l3, uint8_t *proto)
{
	if (len >= 20 && (p[0] >> 4) == 4) {
		*l3 = (size_t)(p[0] & 15) * 4;
		*proto = p[9];
		return *l3 >= 20 && *l3 <= len;
	}
	if (len >= 40 && (p[0] >> 4) == 6) {
		*l3 = 40;
		*proto = p[6];
		return 1;
	}
	return 0;
}

static void fix_lengths(uint8_t *p, size_t len)
{
	size_t l3;
	uint8_t proto;

	if (!l3_of(p, len, &l3, &proto) || len > 65535 + 40)
		return;
	if ((p[0] >> 4) == 4)
		be16_put(p + 2, (uint16_t)len);
	else
		be16_put(p + 4, (uint16_t)(len - 40));
	if (proto == 17 && len - l3 >= 8)
		be16_put(p + l3 + 4, (uint16_t)(len - l3));
}

static void fix_csums(uint8_t *p, size_t len)
{
	size_t l3, at;
	uint8_t proto;
	uint16_t c;

	if (!l3_of(p, len, &l3, &proto))
		return;
	if ((p[0] >> 4) == 4) {
		be16_put(p + 10, 0);
		be16_put(p + 10, (uint16_t)~ov_sum(0, p, l3));
	}
	if (proto == 6 && len - l3 >= 20)
		at = l3 + 16;
	else if (proto == 17 && len - l3 >= 8)
		at = l3 + 6;
	else
		return;
	be16_put(p + at, 0);
	c = (uint16_t)~ov_sum(ov_pseudo(p, proto, len - l3), p + l3, len - l3);
	be16_put(p + at, c ? c : 0xffff);
}

/* A plain packet: copied, its partial checksum (if any) finished. */
static void check_plain(const struct virtio_net_hdr *vh, const uint8_t *pkt, size_t len,
			const struct offload_info *oi, int rc)
{
	uint8_t *copy;

	CHECK(rc == 1 && segs[0].len == oi->len);
	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
		CHECK(memcmp(segs[0].data, pkt, oi->len) == 0);
		return;
	}
	{
		size_t at = (size_t)vh->csum_start + vh->csum_offset;
		uint16_t partial = ov_rd16(pkt + at);

		CHECK(memcmp(segs[0].data, pkt, at) == 0);
		CHECK(memcmp(segs[0].data + at + 2, pkt + at + 2, oi->len - at - 2) == 0);
		CHECK(ov_sum(partial, segs[0].data + vh->csum_start, oi->len - vh->csum_start) ==
		      0xffff);
	}
	copy = malloc(len);
	CHECK(copy);
	memcpy(copy, pkt, len);
	CHECK(offload_csum_finish(vh, copy, len) == (int)oi->len);
	CHECK(memcmp(copy, segs[0].data, oi->len) == 0);
	free(copy);
}

/* Every segment of a GSO split against the super-packet. */
static void check_segments(const struct virtio_net_hdr *vh, const uint8_t *pkt,
			   const struct offload_info *oi, int n)
{
	size_t hdrs = (size_t)oi->l3_len + oi->l4_hdr_len, off = 0;
	const uint8_t *ol4 = pkt + oi->l3_len;

	CHECK(n >= 1 && (unsigned)n == oi->segs);
	for (int i = 0; i < n; i++) {
		const uint8_t *s = segs[i].data, *l4 = s + oi->l3_len;
		size_t plen = segs[i].len - hdrs;
		struct packet_info pi;

		CHECK(segs[i].len >= hdrs && ov_segment(s, segs[i].len, &pi) == 0);
		CHECK(pi.version == oi->version && pi.proto == oi->proto &&
		      pi.hdr_len == oi->l3_len);
		CHECK(i + 1 == n ? plen <= vh->gso_size : plen == vh->gso_size);
		CHECK(memcmp(s + hdrs, pkt + hdrs + off, plen) == 0);
		if (oi->version == 4) {
			CHECK(ov_rd16(s + 4) == (uint16_t)(ov_rd16(pkt + 4) + i));
			CHECK(memcmp(s, pkt, 2) == 0 && memcmp(s + 6, pkt + 6, 4) == 0 &&
			      memcmp(s + 12, pkt + 12, 8) == 0);
		} else {
			CHECK(memcmp(s, pkt, 4) == 0 && memcmp(s + 6, pkt + 6, 34) == 0);
		}
		CHECK(memcmp(l4, ol4, 4) == 0);
		if (oi->proto == 6) {
			uint8_t fl = ol4[13];

			if (i + 1 < n)
				fl &= (uint8_t)~0x09; /* FIN, PSH */
			if (i > 0)
				fl &= (uint8_t)~0x80; /* CWR */
			CHECK(l4[13] == fl);
			CHECK(ov_rd32(l4 + 4) == (uint32_t)(ov_rd32(ol4 + 4) + off));
			CHECK(memcmp(l4 + 8, ol4 + 8, 5) == 0 && memcmp(l4 + 14, ol4 + 14, 2) == 0);
			CHECK(memcmp(l4 + 18, ol4 + 18, oi->l4_hdr_len - 18) == 0);
		}
		off += plen;
	}
	CHECK(off == oi->payload);
}

/* The segments coalesce under the contract; mergeable ones come back as
 * one super-packet that splits into the very same segments. */
static void check_round_trip(const struct offload_info *oi, int n)
{
	struct offload_in in[OFFLOAD_MAX_SEGS];
	int m, nice;

	for (int i = 0; i < n; i++)
		in[i] = (struct offload_in){ segs[i].data, segs[i].len };
	m = offload_coalesce(&co, in, (unsigned)n, arena, sizeof(arena), outs);
	CHECK(ov_coalesce(in, (unsigned)n, outs, m) == 0);
	nice = n >= 2 && oi->len <= OFFLOAD_MAX_MERGED &&
	       !(oi->proto == 6 && (segs[0].data[oi->l3_len + 13] & 0x26)); /* SYN RST URG */
	if (!nice)
		return;
	CHECK(m == 1 && outs[0].packets == (unsigned)n);
	reset(segs2, segbuf2);
	CHECK(offload_split(&outs[0].vh, outs[0].data, outs[0].len, segs2, OFFLOAD_MAX_SEGS) == n);
	for (int i = 0; i < n; i++)
		CHECK(segs2[i].len == segs[i].len &&
		      memcmp(segs2[i].data, segs[i].data, segs[i].len) == 0);
}

static void fuzz_split(uint8_t mode, const uint8_t *data, size_t size)
{
	struct virtio_net_hdr vh;
	struct offload_info oi;
	uint8_t *pkt;
	size_t len;
	int rc, rc_check;

	if (offload_vnet_read(data, size, &vh) < 0)
		return;
	{
		uint8_t back[OFFLOAD_VNET_HDR_LEN];

		offload_vnet_write(back, &vh);
		CHECK(memcmp(back, data, OFFLOAD_VNET_HDR_LEN) == 0);
	}
	len = size - OFFLOAD_VNET_HDR_LEN;
	pkt = malloc(len ? len : 1);
	CHECK(pkt);
	memcpy(pkt, data + OFFLOAD_VNET_HDR_LEN, len);
	if (mode & 1)
		fix_lengths(pkt, len);
	if (mode & 2) {
		size_t l3;
		uint8_t proto;

		if (l3_of(pkt, len, &l3, &proto)) {
			vh.csum_start = (uint16_t)l3;
			vh.csum_offset = proto == 17 ? 6 : 16;
		}
	}
	rc_check = offload_check(&vh, pkt, len, &oi);
	CHECK(rc_check == 0 || rc_check == -EINVAL || rc_check == -EPROTONOSUPPORT);
	reset(segs, segbuf);
	rc = offload_split(&vh, pkt, len, segs, OFFLOAD_MAX_SEGS);
	if (rc == -ENOSPC)
		CHECK(rc_check == 0 && oi.segs > OFFLOAD_MAX_SEGS);
	else if (rc < 0)
		CHECK(rc == rc_check);
	else
		CHECK(rc_check == 0);
	if (rc > 0 && !oi.gso_size)
		check_plain(&vh, pkt, len, &oi, rc);
	if (rc > 0 && oi.gso_size) {
		check_segments(&vh, pkt, &oi, rc);
		check_round_trip(&oi, rc);
	}
	free(pkt);
}

static void fuzz_batch(uint8_t mode, const uint8_t *data, size_t size)
{
	struct offload_in in[OFFLOAD_BATCH_MAX];
	unsigned n = 0;
	size_t cap;
	int m;

	if (size < 1)
		return;
	cap = data[0] == 0xff ? sizeof(arena) : (size_t)data[0] * 512;
	data++;
	size--;
	while (size >= 2 && n < OFFLOAD_BATCH_MAX) {
		size_t len = ov_rd16(data);
		uint8_t *p;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		p = malloc(len ? len : 1);
		CHECK(p);
		memcpy(p, data, len);
		if (mode & 0x40) {
			fix_lengths(p, len);
			fix_csums(p, len);
		}
		in[n++] = (struct offload_in){ p, len };
		data += len;
		size -= len;
	}
	m = offload_coalesce(&co, in, n, arena, cap, outs);
	CHECK(ov_coalesce(in, n, outs, m) == 0);
	for (unsigned i = 0; i < n; i++)
		free((void *)in[i].data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 0x80)
		fuzz_batch(data[0], data + 1, size - 1);
	else
		fuzz_split(data[0], data + 1, size - 1);
	return 0;
}
