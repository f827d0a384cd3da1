/*
 * test_tun: a real TUN device inside a private network namespace (the test
 * forks, the child unshares its network namespace, so the host is never
 * touched). Checks link state, MTU, addresses and the 200::/7 route through
 * netlink dumps; sends UDP from sockets (IPv4 to 100.64.9.9:9999, IPv6 to
 * 200::9) and reads the exact packets back from the TUN fd; writes crafted
 * packets into the TUN and receives them on sockets; checks the name
 * errors ("busy", taken by a non-TUN, invalid) and that tun_close removes
 * the device. Needs root; skipped (77) without.
 */
#include <arpa/inet.h>
#include <errno.h>
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataplane/packet.h"
#include "dataplane/tun.h"

#define ADDR4 0x64400102u	/* 100.64.1.2 */

static const uint8_t addr6[16] = { 0x02, [15] = 0x01 };	/* 200::1 */

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

/* Reads TUN packets until one matches version/proto/dst port (the kernel
 * may emit others, e.g. IPv6 router solicitations), within 2 seconds. */
static ssize_t tun_read_match(struct tun *t, uint8_t *buf, size_t cap, int version,
    uint8_t proto, uint16_t dport, struct packet_info *pi)
{
	for (int tries = 0; tries < 50; tries++) {
		struct pollfd p = { .fd = t->fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 2000) <= 0)
			return -ETIMEDOUT;
		n = tun_read(t, buf, cap);
		if (n == -EAGAIN)
			continue;
		if (n < 0)
			return n;
		if (packet_parse(buf, (size_t)n, pi) == 0 && pi->version == version &&
		    pi->proto == proto && pi->dst_port == dport)
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

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void test_open_configure(void **state)
{
	struct tun t;
	struct netlink_link l;
	uint32_t flags = 0;
	uint8_t other6[16] = { 0x02, [15] = 0x02 };

	assert_int_equal(tun_open(&t, NULL, 0), 0);
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

	assert_int_equal(tun_open(&t, "", 0), -EINVAL);
	assert_int_equal(t.fd, -1);
	assert_int_equal(tun_open(&t, "a/b", 0), -EINVAL);
	assert_int_equal(tun_open(&t, "ray%d", 0), -EINVAL);
	assert_int_equal(tun_open(&t, "has space", 0), -EINVAL);
	assert_int_equal(tun_open(&t, "abcdefghijklmnop", 0), -EINVAL);
	/* a name held by a non-TUN interface */
	assert_int_equal(tun_open(&t, "lo", 0), -EEXIST);
	tun_close(&t);

	/* the name in use by another open TUN */
	assert_int_equal(tun_open(&t, "rayx", 1400), 0);
	assert_int_equal(t.mtu, 1400);
	assert_int_equal(tun_open(&t2, "rayx", 0), -EBUSY);
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

	assert_int_equal(tun_open(&t, NULL, 0), 0);
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
	wr16(b + 2, (uint16_t)total);
	b[8] = 64;
	b[9] = 17;
	b[12] = 100; b[13] = 64; b[14] = 9; b[15] = 9;
	b[16] = 100; b[17] = 64; b[18] = 1; b[19] = 2;
	wr16(b + 10, csum_fold(csum_add(0, b, 20)));
	wr16(b + 20, sport);
	wr16(b + 22, dport);
	wr16(b + 24, (uint16_t)(8 + len));	/* UDP checksum 0: none, legal over IPv4 */
	memcpy(b + 28, msg, len);
	return total;
}

static size_t craft_udp6(uint8_t *b, const char *msg, size_t len, uint16_t sport, uint16_t dport)
{
	uint32_t sum;
	uint8_t pseudo[8] = { 0 };

	memset(b, 0, 48);
	b[0] = 0x60;
	wr16(b + 4, (uint16_t)(8 + len));
	b[6] = 17;
	b[7] = 64;
	b[8] = 0x02; b[23] = 0x09;		/* from 200::9 */
	memcpy(b + 24, addr6, 16);		/* to 200::1 */
	wr16(b + 40, sport);
	wr16(b + 42, dport);
	wr16(b + 44, (uint16_t)(8 + len));
	memcpy(b + 48, msg, len);
	/* checksum over the pseudo header (addresses, length, next header) */
	wr16(pseudo + 2, (uint16_t)(8 + len));
	pseudo[7] = 17;
	sum = csum_add(0, b + 8, 32);
	sum = csum_add(sum, pseudo, 8);
	sum = csum_add(sum, b + 40, 8 + len);
	wr16(b + 46, csum_fold(sum));
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

	assert_int_equal(tun_open(&t, NULL, 0), 0);
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

/* Runs the tests in a child inside a fresh network namespace. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_configure),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_read_from_tun),
		cmocka_unit_test(test_write_to_tun),
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
