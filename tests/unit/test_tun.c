/*
 * test_tun: a real TUN device inside a private network namespace (the test
 * forks, the child unshares its network namespace, so the host is never
 * touched). Checks link state, MTU, addresses and the 200::/7 route through
 * netlink dumps; sends UDP from sockets (IPv4 to 100.64.9.9:9999, IPv6 to
 * 200::9) and reads the exact packets back from the TUN fd; writes crafted
 * packets into the TUN and receives them on sockets; checks the name
 * errors ("busy", taken by a non-TUN, invalid) and that tun_close removes
 * the device. In vnet mode (TUN_OPEN_OFFLOAD): the offloads took
 * (gso_max_segs 64, a datagram comes with a partial checksum, a UDP_SEGMENT
 * send comes as one USO super-packet that splits into valid datagrams) and
 * a super-packet built by offload_coalesce, written with one writev, is
 * taken by the kernel and reaches a socket as the datagrams it merged.
 * Needs root; skipped (77) without.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <linux/if_addr.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataplane/offload.h"
#include "dataplane/packet.h"
#include "dataplane/tun.h"
#include "util/bytes.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define ADDR4 0x64400102u /* 100.64.1.2 */
#define RBUF_TEST (OFFLOAD_VNET_HDR_LEN + OFFLOAD_MAX_PACKET)

static const uint8_t addr6[16] = { 0x02, [15] = 0x01 }; /* 200::1 */

struct find {
	int family;
	uint8_t addr[16];
	unsigned prefix;
	unsigned ifindex;
	int found;
	uint32_t flags;
};

static int find_addr_cb(const struct netlink_addr *a, void *ud)
{
	struct find *f = ud;

	if (a->family == f->family && a->prefix == f->prefix &&
	    memcmp(a->addr, f->addr, a->family == AF_INET ? 4 : 16) == 0) {
		f->found++;
		f->flags = a->flags;
	}
	return 0;
}

static int has_addr(struct tun *t, const char *text, unsigned prefix, uint32_t *flags)
{
	struct find f = { .prefix = prefix };

	f.family = strchr(text, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(f.family, text, f.addr), 1);
	assert_int_equal(netlink_addr_dump(&t->nl, f.family, t->ifindex, find_addr_cb, &f), 0);
	if (flags)
		*flags = f.flags;
	return f.found;
}

static int find_route_cb(const struct netlink_route *r, void *ud)
{
	struct find *f = ud;

	if (r->family == f->family && r->dst_len == f->prefix && r->oif == f->ifindex &&
	    memcmp(r->dst, f->addr, r->family == AF_INET ? 4 : 16) == 0)
		f->found++;
	return 0;
}

static int has_route(struct tun *t, const char *text, unsigned prefix)
{
	struct find f = { .prefix = prefix, .ifindex = t->ifindex };

	f.family = strchr(text, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(f.family, text, f.addr), 1);
	assert_int_equal(netlink_route_dump(&t->nl, f.family, find_route_cb, &f), 0);
	return f.found;
}

/* The next packet the TUN gives within 2 seconds (length), or -errno. */
static ssize_t tun_read_wait(struct tun *t, uint8_t *buf, size_t cap)
{
	for (int tries = 0; tries < 50; tries++) {
		struct pollfd p = { .fd = t->fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 2000) <= 0)
			return -ETIMEDOUT;
		n = tun_read(t, buf, cap);
		if (n != -EAGAIN)
			return n;
	}
	return -ETIMEDOUT;
}

static bool packet_matches(const uint8_t *buf, size_t len, int version, uint8_t proto,
			   uint16_t dport, struct packet_info *pi)
{
	return packet_parse(buf, len, pi) == 0 && pi->version == version && pi->proto == proto &&
	       pi->dst_port == dport;
}

/* Reads TUN packets until one matches version/proto/dst port (the kernel
 * may emit others, e.g. IPv6 router solicitations), within 2 seconds. */
static ssize_t tun_read_match(struct tun *t, uint8_t *buf, size_t cap, int version, uint8_t proto,
			      uint16_t dport, struct packet_info *pi)
{
	for (int tries = 0; tries < 50; tries++) {
		ssize_t n = tun_read_wait(t, buf, cap);

		if (n < 0)
			return n;
		if (packet_matches(buf, (size_t)n, version, proto, dport, pi))
			return n;
	}
	return -ETIMEDOUT;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)(p[n - 1] << 8);
	return sum;
}

static void test_open_configure(void **state)
{
	struct tun t;
	struct netlink_link l;
	uint32_t flags = 0;
	uint8_t other6[16] = { 0x02, [15] = 0x02 };

	assert_int_equal(tun_open(&t, NULL, 0, 0), 0);
	assert_string_equal(t.name, "ray0");
	assert_true(t.fd >= 0);
	assert_int_equal(netlink_link_get(&t.nl, t.ifindex, &l), 0);
	assert_true(l.flags & IFF_UP);
	assert_int_equal(l.mtu, 1280);
	assert_int_equal(has_route(&t, "200::", 7), 1);

	assert_int_equal(tun_addr4_add(&t, ADDR4), 0);
	assert_int_equal(tun_addr4_add(&t, ADDR4), -EEXIST);
	/* a second network: a second IPv4 in the same /10 */
	assert_int_equal(tun_addr4_add(&t, 0x644d0304), 0);
	assert_int_equal(tun_addr6_set(&t, addr6), 0);
	assert_int_equal(has_addr(&t, "100.64.1.2", 10, NULL), 1);
	assert_int_equal(has_addr(&t, "100.77.3.4", 10, NULL), 1);
	assert_int_equal(has_addr(&t, "200::1", 128, &flags), 1);
	assert_true(flags & IFA_F_NODAD);
	assert_int_equal(has_route(&t, "100.64.0.0", 10), 1);

	/* leaving the first network keeps the second address */
	assert_int_equal(tun_addr4_del(&t, ADDR4), 0);
	assert_int_equal(tun_addr4_del(&t, ADDR4), -ENOENT);
	assert_int_equal(has_addr(&t, "100.64.1.2", 10, NULL), 0);
	assert_int_equal(has_addr(&t, "100.77.3.4", 10, NULL), 1);

	/* one IPv6: set replaces */
	assert_int_equal(tun_addr6_set(&t, other6), 0);
	assert_int_equal(has_addr(&t, "200::1", 128, NULL), 0);
	assert_int_equal(has_addr(&t, "200::2", 128, NULL), 1);
	assert_int_equal(tun_addr6_clear(&t), 0);
	assert_int_equal(tun_addr6_clear(&t), -ENOENT);
	assert_int_equal(has_addr(&t, "200::2", 128, NULL), 0);

	tun_close(&t);
	assert_int_equal(t.fd, -1);
	assert_int_equal(if_nametoindex("ray0"), 0);
	tun_close(&t);
}

static void test_names(void **state)
{
	struct tun t, t2;

	assert_int_equal(tun_open(&t, "", 0, 0), -EINVAL);
	assert_int_equal(t.fd, -1);
	assert_int_equal(tun_open(&t, "a/b", 0, 0), -EINVAL);
	assert_int_equal(tun_open(&t, "ray%d", 0, 0), -EINVAL);
	assert_int_equal(tun_open(&t, "has space", 0, 0), -EINVAL);
	assert_int_equal(tun_open(&t, "abcdefghijklmnop", 0, 0), -EINVAL);
	/* a name held by a non-TUN interface */
	assert_int_equal(tun_open(&t, "lo", 0, 0), -EEXIST);
	tun_close(&t);

	/* the name in use by another open TUN */
	assert_int_equal(tun_open(&t, "rayx", 1400, 0), 0);
	assert_int_equal(t.mtu, 1400);
	assert_int_equal(tun_open(&t2, "rayx", 0, 0), -EBUSY);
	assert_int_equal(t2.fd, -1);
	tun_close(&t2);
	assert_true(if_nametoindex("rayx") > 0);
	tun_close(&t);
	assert_int_equal(if_nametoindex("rayx"), 0);
}

/* A UDP datagram to a peer address comes out of the TUN byte for byte. */
static void test_read_from_tun(void **state)
{
	struct tun t;
	struct packet_info pi;
	uint8_t buf[2048];
	static const char msg[] = "hello through the mesh";
	struct sockaddr_in to4 = { .sin_family = AF_INET, .sin_port = htons(9999) };
	struct sockaddr_in6 to6 = { .sin6_family = AF_INET6, .sin6_port = htons(9999) };
	int s4, s6;
	ssize_t n;

	assert_int_equal(tun_open(&t, NULL, 0, 0), 0);
	assert_int_equal(tun_addr4_add(&t, ADDR4), 0);
	assert_int_equal(tun_addr6_set(&t, addr6), 0);
	/* nothing queued yet: the fd is non-blocking */
	while ((n = tun_read(&t, buf, sizeof(buf))) > 0)
		;
	assert_int_equal(n, -EAGAIN);

	inet_pton(AF_INET, "100.64.9.9", &to4.sin_addr);
	s4 = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(s4 >= 0);
	assert_int_equal(sendto(s4, msg, sizeof(msg), 0, (struct sockaddr *)&to4, sizeof(to4)),
			 sizeof(msg));
	n = tun_read_match(&t, buf, sizeof(buf), 4, 17, 9999, &pi);
	assert_int_equal(n, 20 + 8 + sizeof(msg));
	assert_int_equal(pi.total_len, n);
	assert_int_equal(pi.src.v4, ADDR4);
	assert_int_equal(pi.dst.v4, 0x64400909);
	assert_memory_equal(buf + 28, msg, sizeof(msg));
	close(s4);

	inet_pton(AF_INET6, "200::9", &to6.sin6_addr);
	s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	assert_true(s6 >= 0);
	assert_int_equal(sendto(s6, msg, sizeof(msg), 0, (struct sockaddr *)&to6, sizeof(to6)),
			 sizeof(msg));
	n = tun_read_match(&t, buf, sizeof(buf), 6, 17, 9999, &pi);
	assert_int_equal(n, 40 + 8 + sizeof(msg));
	assert_memory_equal(pi.src.v6, addr6, 16);
	assert_memory_equal(buf + 48, msg, sizeof(msg));
	close(s6);
	tun_close(&t);
}

static size_t craft_udp4(uint8_t *b, const char *msg, size_t len, uint16_t sport, uint16_t dport)
{
	size_t total = 28 + len;

	memset(b, 0, 28);
	b[0] = 0x45;
	be16_put(b + 2, (uint16_t)total);
	b[8] = 64;
	b[9] = 17;
	b[12] = 100;
	b[13] = 64;
	b[14] = 9;
	b[15] = 9;
	b[16] = 100;
	b[17] = 64;
	b[18] = 1;
	b[19] = 2;
	be16_put(b + 10, csum_fold(csum_add(0, b, 20)));
	be16_put(b + 20, sport);
	be16_put(b + 22, dport);
	be16_put(b + 24, (uint16_t)(8 + len)); /* UDP checksum 0: none, legal over IPv4 */
	memcpy(b + 28, msg, len);
	return total;
}

static size_t craft_udp6(uint8_t *b, const char *msg, size_t len, uint16_t sport, uint16_t dport)
{
	uint32_t sum;
	uint8_t pseudo[8] = { 0 };

	memset(b, 0, 48);
	b[0] = 0x60;
	be16_put(b + 4, (uint16_t)(8 + len));
	b[6] = 17;
	b[7] = 64;
	b[8] = 0x02;
	b[23] = 0x09;              /* from 200::9 */
	memcpy(b + 24, addr6, 16); /* to 200::1 */
	be16_put(b + 40, sport);
	be16_put(b + 42, dport);
	be16_put(b + 44, (uint16_t)(8 + len));
	memcpy(b + 48, msg, len);
	/* checksum over the pseudo header (addresses, length, next header) */
	be16_put(pseudo + 2, (uint16_t)(8 + len));
	pseudo[7] = 17;
	sum = csum_add(0, b + 8, 32);
	sum = csum_add(sum, pseudo, 8);
	sum = csum_add(sum, b + 40, 8 + len);
	be16_put(b + 46, csum_fold(sum));
	return 48 + len;
}

#define recv_exact(s, m, l) recv_exact_(s, m, l, __LINE__)
static void recv_exact_(int s, const char *msg, size_t len, int line)
{
	struct pollfd p = { .fd = s, .events = POLLIN };
	char got[256];

	if (poll(&p, 1, 2000) != 1)
		fail_msg("nothing received for the packet written at line %d", line);
	assert_int_equal(recv(s, got, sizeof(got), 0), len);
	assert_memory_equal(got, msg, len);
}

/* A crafted packet written into the TUN reaches a local socket. */
static void test_write_to_tun(void **state)
{
	struct tun t;
	uint8_t b[256];
	static const char msg[] = "from a peer";
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(7777) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(7777) };
	int s4, s6;
	size_t len;

	assert_int_equal(tun_open(&t, NULL, 0, 0), 0);
	assert_int_equal(tun_addr4_add(&t, ADDR4), 0);
	assert_int_equal(tun_addr6_set(&t, addr6), 0);

	a4.sin_addr.s_addr = htonl(ADDR4);
	s4 = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(s4, (struct sockaddr *)&a4, sizeof(a4)), 0);
	len = craft_udp4(b, msg, sizeof(msg), 5555, 7777);
	assert_int_equal(tun_write(&t, b, len), len);
	recv_exact(s4, msg, sizeof(msg));
	close(s4);

	memcpy(&a6.sin6_addr, addr6, 16);
	s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	assert_int_equal(bind(s6, (struct sockaddr *)&a6, sizeof(a6)), 0);
	len = craft_udp6(b, msg, sizeof(msg), 5555, 7777);
	assert_int_equal(tun_write(&t, b, len), len);
	recv_exact(s6, msg, sizeof(msg));
	close(s6);
	tun_close(&t);
}

/* The vnet header's fields, and the packet behind it, of a vnet TUN read
 * matching version/proto/dst port. */
static ssize_t vnet_read_match(struct tun *t, uint8_t *buf, size_t cap, int version, uint8_t proto,
			       uint16_t dport, struct virtio_net_hdr *vh)
{
	struct packet_info pi;

	for (int tries = 0; tries < 50; tries++) {
		ssize_t n = tun_read_wait(t, buf, cap);

		if (n < 0)
			return n;
		assert_int_equal(offload_vnet_read(buf, (size_t)n, vh), 0);
		if (packet_matches(buf + OFFLOAD_VNET_HDR_LEN, (size_t)n - OFFLOAD_VNET_HDR_LEN,
				   version, proto, dport, &pi))
			return n - OFFLOAD_VNET_HDR_LEN;
	}
	return -ETIMEDOUT;
}

/* The full L4 checksum of an IP packet with no options/extensions holds. */
static void assert_l4_csum(const uint8_t *p, size_t len)
{
	size_t l3 = (p[0] >> 4) == 4 ? 20 : 40;
	uint8_t proto = l3 == 20 ? p[9] : p[6];
	uint32_t sum = packet_csum_pseudo(p, proto, (uint32_t)(len - l3));

	assert_int_equal(packet_csum_fold(packet_csum_add(sum, p + l3, len - l3)), 0xffff);
}

static void test_vnet_open(void **state)
{
	struct tun t;
	struct netlink_link l;

	assert_int_equal(tun_open(&t, NULL, 0, TUN_OPEN_OFFLOAD), 0);
	assert_int_equal(t.vnet_hdr, 1);
	/* TSO and checksum offload exist since long before any kernel we run
	 * on; USO since 6.2 (a kernel without it must not fail the open) */
	assert_int_equal(t.offloads & (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6),
			 TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
	assert_int_equal(t.offloads & (TUN_F_TSO_ECN | TUN_F_UFO), 0);
	assert_int_equal(netlink_link_get(&t.nl, t.ifindex, &l), 0);
	assert_int_equal(l.gso_max_segs, OFFLOAD_MAX_SEGS);
	assert_int_equal(l.mtu, 1280);
	assert_true(l.flags & IFF_UP);
	tun_close(&t);
	assert_int_equal(t.vnet_hdr, 0);
	assert_int_equal(t.offloads, 0);
	/* plain mode is still plain */
	assert_int_equal(tun_open(&t, NULL, 0, 0), 0);
	assert_int_equal(t.vnet_hdr, 0);
	assert_int_equal(t.offloads, 0);
	tun_close(&t);
}

/* With checksum offload on, a datagram to a peer comes with its checksum
 * left to us (NEEDS_CSUM); offload_csum_finish completes it. */
static void test_vnet_read_csum(void **state)
{
	struct tun t;
	struct virtio_net_hdr vh;
	uint8_t buf[RBUF_TEST];
	static const char msg[] = "partial checksum, finished by us";
	struct sockaddr_in to4 = { .sin_family = AF_INET, .sin_port = htons(9998) };
	int s4, len;
	ssize_t n;

	assert_int_equal(tun_open(&t, NULL, 0, TUN_OPEN_OFFLOAD), 0);
	assert_int_equal(tun_addr4_add(&t, ADDR4), 0);
	inet_pton(AF_INET, "100.64.9.9", &to4.sin_addr);
	s4 = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(sendto(s4, msg, sizeof(msg), 0, (struct sockaddr *)&to4, sizeof(to4)),
			 sizeof(msg));
	n = vnet_read_match(&t, buf, sizeof(buf), 4, 17, 9998, &vh);
	assert_int_equal(n, 28 + sizeof(msg));
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_true(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(vh.csum_start, 20);
	assert_int_equal(vh.csum_offset, 6);
	len = offload_csum_finish(&vh, buf + OFFLOAD_VNET_HDR_LEN, (size_t)n);
	assert_int_equal(len, n);
	assert_l4_csum(buf + OFFLOAD_VNET_HDR_LEN, (size_t)len);
	close(s4);
	tun_close(&t);
}

/* A UDP_SEGMENT send of 4 × 500 bytes to a peer comes out of the TUN as one
 * USO super-packet (with USO on), and splits into the 4 datagrams. */
static void test_vnet_read_uso(void **state)
{
	struct tun t;
	struct virtio_net_hdr vh;
	static uint8_t buf[RBUF_TEST], seg_buf[4][2048];
	struct offload_seg segs[4];
	char msg[2000];
	struct sockaddr_in6 to6 = { .sin6_family = AF_INET6, .sin6_port = htons(9997) };
	int s6, gso = 500, n_segs;
	ssize_t n;

	assert_int_equal(tun_open(&t, NULL, 0, TUN_OPEN_OFFLOAD), 0);
	if (!(t.offloads & TUN_F_USO6)) {
		tun_close(&t);
		skip();
	}
	assert_int_equal(tun_addr6_set(&t, addr6), 0);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)(i * 7);
	inet_pton(AF_INET6, "200::9", &to6.sin6_addr);
	s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	assert_int_equal(setsockopt(s6, IPPROTO_UDP, UDP_SEGMENT, &gso, sizeof(gso)), 0);
	assert_int_equal(sendto(s6, msg, sizeof(msg), 0, (struct sockaddr *)&to6, sizeof(to6)),
			 sizeof(msg));
	n = vnet_read_match(&t, buf, sizeof(buf), 6, 17, 9997, &vh);
	assert_int_equal(n, 48 + sizeof(msg));
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
	assert_int_equal(vh.gso_size, 500);
	for (int i = 0; i < 4; i++)
		segs[i] = (struct offload_seg){ .data = seg_buf[i], .cap = sizeof(seg_buf[i]) };
	n_segs = offload_split(&vh, buf + OFFLOAD_VNET_HDR_LEN, (size_t)n, segs, 4);
	assert_int_equal(n_segs, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(segs[i].len, 48 + 500);
		assert_memory_equal(segs[i].data + 48, msg + i * 500, 500);
		assert_l4_csum(segs[i].data, segs[i].len);
	}
	close(s6);
	tun_close(&t);
}

/* IPv4 UDP 100.64.9.9 → 100.64.1.2 with a valid checksum (so that it may
 * merge). */
static size_t csum_udp4(uint8_t *b, const uint8_t *msg, size_t len, uint16_t id)
{
	size_t total = craft_udp4(b, (const char *)msg, len, 5555, 7778);
	uint32_t sum;

	be16_put(b + 4, id);
	be16_put(b + 10, 0);
	be16_put(b + 10, csum_fold(csum_add(0, b, 20)));
	sum = packet_csum_pseudo(b, 17, (uint32_t)(total - 20));
	be16_put(b + 26, (uint16_t)~packet_csum_fold(packet_csum_add(sum, b + 20, total - 20)));
	return total;
}

/* Three datagrams of a flow merge into one USO write the kernel takes; the
 * socket (no UDP_GRO) receives them as three again. A plain tun_write in
 * vnet mode goes behind a zero header. */
static void test_vnet_write_merged(void **state)
{
	struct tun t;
	static uint8_t pkts[3][256], merged[1024];
	uint8_t msg[3][100], hdr[OFFLOAD_VNET_HDR_LEN];
	struct offload_in in[3];
	struct offload_out out[3];
	static struct offload_coalescer co;
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(7778) };
	struct iovec iov[2];
	int s4;

	assert_int_equal(tun_open(&t, NULL, 0, TUN_OPEN_OFFLOAD), 0);
	assert_int_equal(tun_addr4_add(&t, ADDR4), 0);
	a4.sin_addr.s_addr = htonl(ADDR4);
	s4 = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(s4, (struct sockaddr *)&a4, sizeof(a4)), 0);
	for (int i = 0; i < 3; i++) {
		memset(msg[i], 'a' + i, sizeof(msg[i]));
		in[i].data = pkts[i];
		in[i].len = csum_udp4(pkts[i], msg[i], sizeof(msg[i]), (uint16_t)(0x100 + i));
	}
	assert_int_equal(offload_coalesce(&co, in, 3, merged, sizeof(merged), out), 1);
	assert_int_equal(out[0].packets, 3);
	assert_int_equal(out[0].vh.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
	offload_vnet_write(hdr, &out[0].vh);
	iov[0] = (struct iovec){ hdr, sizeof(hdr) };
	iov[1] = (struct iovec){ (void *)out[0].data, out[0].len };
	assert_int_equal(writev(t.fd, iov, 2), sizeof(hdr) + out[0].len);
	for (int i = 0; i < 3; i++)
		recv_exact(s4, (const char *)msg[i], sizeof(msg[i]));
	/* one plain packet, zero header in front */
	assert_int_equal(tun_write(&t, pkts[1], in[1].len), in[1].len);
	recv_exact(s4, (const char *)msg[1], sizeof(msg[1]));
	close(s4);
	tun_close(&t);
}

/* Runs the tests in a child inside a fresh network namespace. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_configure), cmocka_unit_test(test_names),
		cmocka_unit_test(test_read_from_tun),  cmocka_unit_test(test_write_to_tun),
		cmocka_unit_test(test_vnet_open),      cmocka_unit_test(test_vnet_read_csum),
		cmocka_unit_test(test_vnet_read_uso),  cmocka_unit_test(test_vnet_write_merged),
	};
	pid_t pid;
	int st;

	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0) {
			fprintf(stderr, "test_tun: unshare(CLONE_NEWNET): %s; skipped\n",
				strerror(errno));
			_exit(77);
		}
		_exit(cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0);
	}
	if (waitpid(pid, &st, 0) < 0)
		return 1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
