/*
 * offload_micro: nanoseconds per 64 KiB super-packet for offload_split and
 * offload_coalesce, against the two floors they cannot beat: one memcpy and
 * one Internet checksum over the same bytes.
 *
 * The super-packets are what a 1280-byte TUN MTU gives: TCPv4 with
 * timestamps (MSS 1228) and UDPv6 USO (gso_size 1232), each filling an
 * IP total length of 65535, so 54 segments each. "split" cuts one into
 * complete, checksummed segments; "coalesce" merges those 54 segments back
 * into one (checksums of every member verified, payload copied).
 * Each figure is the fastest of REPEAT runs of ROUNDS calls: on a shared
 * machine the minimum is what the code costs, the rest is preemption.
 * See bench/offload_micro.md for how to build and run it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/offload.h"
#include "dataplane/packet.h"
#include "util/bytes.h"

#define ROUNDS 300
#define REPEAT 15
#define MAXLEN 65535

static uint8_t pkt[MAXLEN];
static uint8_t segbuf[OFFLOAD_MAX_SEGS][2048];
static struct offload_seg segs[OFFLOAD_MAX_SEGS];
static struct offload_in in[OFFLOAD_MAX_SEGS];
static struct offload_out out[OFFLOAD_MAX_SEGS];
static struct offload_coalescer co;
static uint8_t arena[2 * 65536];
static volatile uint32_t sink;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A super-packet as the kernel hands it over: IPv4 TCP with timestamps, or
 * IPv6 UDP, of `len` bytes, partial checksum in place. */
static size_t mk_super(int v6, struct virtio_net_hdr *vh)
{
	size_t l3 = v6 ? 40 : 20, l4h = v6 ? 8 : 32, l4len = MAXLEN - l3;

	memset(pkt, 0, l3 + l4h);
	for (size_t i = l3 + l4h; i < MAXLEN; i++)
		pkt[i] = (uint8_t)(i * 131);
	if (v6) {
		pkt[0] = 0x60;
		be16_put(pkt + 4, (uint16_t)l4len);
		pkt[6] = 17;
		pkt[7] = 64;
		pkt[8] = 0x02;
		pkt[23] = 1;
		pkt[24] = 0x02;
		pkt[39] = 9;
		be16_put(pkt + 40, 5000);
		be16_put(pkt + 42, 443);
		be16_put(pkt + 44, (uint16_t)l4len);
		be16_put(pkt + 46, packet_csum_fold(packet_csum_pseudo(pkt, 17, (uint32_t)l4len)));
	} else {
		pkt[0] = 0x45;
		be16_put(pkt + 2, MAXLEN);
		be16_put(pkt + 6, 0x4000);
		pkt[8] = 64;
		pkt[9] = 6;
		pkt[12] = 100;
		pkt[13] = 64;
		pkt[14] = 1;
		pkt[15] = 2;
		pkt[16] = 100;
		pkt[17] = 64;
		pkt[18] = 9;
		pkt[19] = 9;
		be16_put(pkt + 10, (uint16_t)~packet_csum_fold(packet_csum_add(0, pkt, 20)));
		be16_put(pkt + 20, 40000);
		be16_put(pkt + 22, 443);
		pkt[32] = 8 << 4;
		pkt[33] = 0x18;
		be16_put(pkt + 34, 502);
		pkt[40] = 1;
		pkt[41] = 1;
		pkt[42] = 8;
		pkt[43] = 10;
		be16_put(pkt + 36, packet_csum_fold(packet_csum_pseudo(pkt, 6, (uint32_t)l4len)));
	}
	memset(vh, 0, sizeof(*vh));
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->gso_type = v6 ? VIRTIO_NET_HDR_GSO_UDP_L4 : VIRTIO_NET_HDR_GSO_TCPV4;
	vh->gso_size = v6 ? 1232 : 1228;
	vh->hdr_len = (uint16_t)(l3 + l4h);
	vh->csum_start = (uint16_t)l3;
	vh->csum_offset = v6 ? 6 : 16;
	return MAXLEN;
}

enum what {
	SPLIT,
	COALESCE,
	COPY,
	CSUM
};

/* ns per call of `what`, the fastest of REPEAT runs; *res gets its result. */
static double measure(enum what w, const struct virtio_net_hdr *vh, size_t len, int n, int *res)
{
	double best = 1e18;

	for (int k = 0; k < REPEAT; k++) {
		double t0 = now_ns(), t;

		for (int r = 0; r < ROUNDS; r++) {
			switch (w) {
			case SPLIT:
				*res = offload_split(vh, pkt, len, segs, OFFLOAD_MAX_SEGS);
				break;
			case COALESCE:
				*res = offload_coalesce(&co, in, (unsigned)n, arena, sizeof(arena),
							out);
				break;
			case COPY:
				memcpy(arena, pkt, len);
				sink += arena[r & 0xffff];
				break;
			case CSUM:
				sink += packet_csum_add((uint32_t)r, pkt, len);
				break;
			}
		}
		t = (now_ns() - t0) / ROUNDS;
		if (t < best)
			best = t;
	}
	return best;
}

static void bench(const char *name, int v6)
{
	struct virtio_net_hdr vh;
	size_t len = mk_super(v6, &vh);
	double t_split, t_coal, t_copy, t_sum;
	int n = 0, m = 0, dummy;

	for (int i = 0; i < OFFLOAD_MAX_SEGS; i++)
		segs[i] = (struct offload_seg){ segbuf[i], sizeof(segbuf[i]), 0 };
	t_split = measure(SPLIT, &vh, len, 0, &n);
	if (n <= 0) {
		fprintf(stderr, "%s: split failed: %d\n", name, n);
		exit(1);
	}
	for (int i = 0; i < n; i++)
		in[i] = (struct offload_in){ segs[i].data, segs[i].len };
	t_coal = measure(COALESCE, &vh, len, n, &m);
	if (m != 1 || out[0].len != len) {
		fprintf(stderr, "%s: coalesce gave %d outputs\n", name, m);
		exit(1);
	}
	t_copy = measure(COPY, &vh, len, n, &dummy);
	t_sum = measure(CSUM, &vh, len, n, &dummy);
	printf("%-6s %5d %10.0f %8.1f %10.0f %8.1f %9.0f %9.0f %8.1f %8.1f\n", name, n, t_split,
	       t_split / n, t_coal, t_coal / n, t_copy, t_sum, len * 8 / t_split, len * 8 / t_coal);
}

int main(void)
{
	printf("%-6s %5s %10s %8s %10s %8s %9s %9s %8s %8s\n", "", "segs", "split_ns", "ns/seg",
	       "coal_ns", "ns/seg", "memcpy_ns", "csum_ns", "split_Gb", "coal_Gb");
	bench("tcp4", 0);
	bench("udp6", 1);
	return 0;
}
