/*
 * test_mdns: the mDNS codec (announcement and query round trips, records
 * spread over sections, every truncation, compression loops, huge counts,
 * oversized packets, inconsistent or goodbye announcements, the per-packet
 * peer cap) and a real multicast exchange: two network namespaces joined by
 * a veth pair, one mdns instance per namespace (each on its own thread,
 * which setns()es into its namespace before opening sockets), each must
 * discover the other's id and address within a few seconds; the instance in
 * namespace A also receives garbage and an off-link packet and keeps
 * working. The namespaces are deleted in the teardown, also on failure.
 * The namespace test needs root and is skipped without it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <ldns/ldns.h>
#include <uv.h>

#include "discovery/mdns.h"
#include "util/hex.h"

#define ID_A "aa11223344556677889900aabbccddeeff00112233445566778899aabbccddee"
#define ID_B "bb11223344556677889900aabbccddeeff00112233445566778899aabbccddee"
#define DEADLINE_MS 8000

static struct mdns_self self_a(void)
{
	struct mdns_self s;

	memset(&s, 0, sizeof(s));
	memcpy(s.id_hex, ID_A, 65);
	s.port = 41383;
	inet_pton(AF_INET, "192.168.1.10", &s.v4[0]);
	inet_pton(AF_INET, "10.0.0.7", &s.v4[1]);
	inet_pton(AF_INET6, "fe80::1", &s.v6[0]);
	s.n_v4 = 2;
	s.n_v6 = 1;
	return s;
}

static void test_roundtrip(void **state)
{
	struct mdns_self s = self_a();
	struct mdns_parsed p;
	uint8_t buf[MDNS_MAX_PACKET], id[32];
	struct in_addr a;
	int n;

	n = mdns_build_announce(&s, MDNS_TTL, 0, 0, buf, sizeof(buf));
	assert_true(n > 12);
	assert_int_equal(mdns_parse(buf, (size_t)n, &p), 0);
	assert_true(p.is_response);
	assert_int_equal(p.n_found, 1);
	hex_decode_str(ID_A, id, 32);
	assert_memory_equal(p.found[0].id, id, 32);
	assert_int_equal(p.found[0].port, 41383);
	assert_int_equal(p.found[0].n_v4, 2);
	assert_int_equal(p.found[0].n_v6, 1);
	inet_pton(AF_INET, "10.0.0.7", &a);
	assert_memory_equal(&p.found[0].v4[1], &a, 4);

	/* A legacy reply carries the question and the query's id. */
	n = mdns_build_announce(&s, 10, 0x1234, 1, buf, sizeof(buf));
	assert_true(n > 12);
	assert_int_equal(mdns_parse(buf, (size_t)n, &p), 0);
	assert_int_equal(p.id, 0x1234);
	assert_int_equal(p.n_found, 1);

	/* Too small a buffer, a bad id, port 0. */
	assert_int_equal(mdns_build_announce(&s, MDNS_TTL, 0, 0, buf, 40), -EMSGSIZE);
	s.id_hex[3] = 'x';
	assert_int_equal(mdns_build_announce(&s, MDNS_TTL, 0, 0, buf, sizeof(buf)), -EINVAL);
	s = self_a();
	s.port = 0;
	assert_int_equal(mdns_build_announce(&s, MDNS_TTL, 0, 0, buf, sizeof(buf)), -EINVAL);
}

static void test_query(void **state)
{
	struct mdns_parsed p;
	uint8_t buf[512];
	int n = mdns_build_query(buf, sizeof(buf));

	assert_true(n > 12);
	assert_int_equal(mdns_parse(buf, (size_t)n, &p), 0);
	assert_false(p.is_response);
	assert_true(p.asks_service);
	assert_false(p.unicast_reply);
	/* Set the QU bit (top bit of the question class, the last 2 bytes). */
	buf[n - 2] |= 0x80;
	assert_int_equal(mdns_parse(buf, (size_t)n, &p), 0);
	assert_true(p.unicast_reply);
}

static void test_truncated(void **state)
{
	struct mdns_self s = self_a();
	struct mdns_parsed p;
	uint8_t buf[MDNS_MAX_PACKET], q[512];
	int n, nq;
	size_t i;

	n = mdns_build_announce(&s, MDNS_TTL, 0, 0, buf, sizeof(buf));
	assert_true(n > 0);
	for (i = 0; i < (size_t)n; i++) {
		uint8_t *cut = malloc(i ? i : 1); /* exact size: ASan sees overreads */

		memcpy(cut, buf, i);
		assert_int_equal(mdns_parse(cut, i, &p), -EINVAL);
		free(cut);
	}
	nq = mdns_build_query(q, sizeof(q));
	for (i = 0; i < (size_t)nq; i++)
		assert_int_equal(mdns_parse(q, i, &p), -EINVAL);
}

/* Builds a response from presentation-form records; returns its length. */
static int build_rrs(const char *const *rrs, size_t n, int section_of_first_additional,
		     uint8_t *out, size_t cap)
{
	ldns_pkt *pkt = ldns_pkt_new();
	uint8_t *wire = NULL;
	size_t len = 0, i;

	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_aa(pkt, true);
	for (i = 0; i < n; i++) {
		ldns_rr *rr = NULL;

		assert_int_equal(ldns_rr_new_frm_str(&rr, rrs[i], 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(pkt,
				 (int)i >= section_of_first_additional ? LDNS_SECTION_ADDITIONAL
								       : LDNS_SECTION_ANSWER,
				 rr);
	}
	assert_int_equal(ldns_pkt2wire(&wire, pkt, &len), LDNS_STATUS_OK);
	assert_true(len <= cap);
	memcpy(out, wire, len);
	free(wire);
	ldns_pkt_free(pkt);
	return (int)len;
}

#define INST "aa11223344556677._rayfish._udp.local."
#define TXT_A "\"id=" ID_A "\" \"v=1\""

static void test_sections_and_consistency(void **state)
{
	uint8_t buf[4096];
	struct mdns_parsed p;
	int n;
	const char *split[] = {
		"_rayfish._udp.local. 4500 IN PTR " INST,
		INST " 120 IN SRV 0 0 7777 AA11223344556677.local.",
		INST " 120 IN TXT " TXT_A,
		"aa11223344556677.local. 120 IN A 192.0.2.5",
	};
	const char *mismatch[] = {
		/* instance label is not the id's prefix */
		"0011223344556677._rayfish._udp.local. 120 IN SRV 0 0 7777 x.local.",
		"0011223344556677._rayfish._udp.local. 120 IN TXT " TXT_A,
	};
	const char *version[] = {
		INST " 120 IN SRV 0 0 7777 x.local.",
		INST " 120 IN TXT \"id=" ID_A "\" \"v=2\"",
	};
	const char *goodbye[] = {
		INST " 0 IN SRV 0 0 7777 x.local.",
		INST " 0 IN TXT " TXT_A,
	};
	const char *port0[] = {
		INST " 120 IN SRV 0 0 0 x.local.",
		INST " 120 IN TXT " TXT_A,
	};
	const char *noid[] = {
		INST " 120 IN SRV 0 0 7777 x.local.",
		INST " 120 IN TXT \"v=1\" \"id=short\"",
	};

	/* SRV, TXT and A in the additional section, name case differs. */
	n = build_rrs(split, 4, 1, buf, sizeof(buf));
	assert_int_equal(mdns_parse(buf, (size_t)n, &p), 0);
	assert_int_equal(p.n_found, 1);
	assert_int_equal(p.found[0].port, 7777);
	assert_int_equal(p.found[0].n_v4, 1);

	n = build_rrs(mismatch, 2, 9, buf, sizeof(buf));
	assert_int_equal(mdns_parse(buf, (size_t)n, &p), 0);
	assert_int_equal(p.n_found, 0);
	n = build_rrs(version, 2, 9, buf, sizeof(buf));
	assert_int_equal(mdns_parse(buf, (size_t)n, &p), 0);
	assert_int_equal(p.n_found, 0);
	n = build_rrs(goodbye, 2, 9, buf, sizeof(buf));
	assert_int_equal(mdns_parse(buf, (size_t)n, &p), 0);
	assert_int_equal(p.n_found, 0);
	n = build_rrs(port0, 2, 9, buf, sizeof(buf));
	assert_int_equal(mdns_parse(buf, (size_t)n, &p), 0);
	assert_int_equal(p.n_found, 0);
	n = build_rrs(noid, 2, 9, buf, sizeof(buf));
	assert_int_equal(mdns_parse(buf, (size_t)n, &p), 0);
	assert_int_equal(p.n_found, 0);
}

static void test_peer_cap(void **state)
{
	char lines[40][200], id[65];
	const char *rrs[40];
	uint8_t buf[MDNS_MAX_PACKET];
	struct mdns_parsed p;
	int i, n;

	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "%02x%s", i, ID_A + 2);
		snprintf(lines[2 * i], sizeof(lines[0]),
			 "%.16s._rayfish._udp.local. 120 IN SRV 0 0 %d h.local.", id, 1000 + i);
		snprintf(lines[2 * i + 1], sizeof(lines[0]),
			 "%.16s._rayfish._udp.local. 120 IN TXT \"id=%s\"", id, id);
		rrs[2 * i] = lines[2 * i];
		rrs[2 * i + 1] = lines[2 * i + 1];
	}
	n = build_rrs(rrs, 40, 99, buf, sizeof(buf));
	assert_int_equal(mdns_parse(buf, (size_t)n, &p), 0);
	assert_int_equal(p.n_found, MDNS_MAX_FOUND);
	for (i = 0; i < 40; i++)
		rrs[i] = lines[i % 2];
	n = build_rrs(rrs, 40, 99, buf, sizeof(buf));
	assert_int_equal(mdns_parse(buf, (size_t)n, &p), 0);
	assert_int_equal(p.n_found, 1); /* duplicates folded */
	/* More records than the cap: refused before ldns parses. */
	{
		const char *many[MDNS_MAX_RECORDS + 1];

		for (i = 0; i < MDNS_MAX_RECORDS + 1; i++)
			many[i] = lines[0];
		n = build_rrs(many, MDNS_MAX_RECORDS + 1, 999, buf, sizeof(buf));
		assert_int_equal(mdns_parse(buf, (size_t)n, &p), -EINVAL);
	}
}

static void test_hostile(void **state)
{
	struct mdns_parsed p;
	uint8_t big[MDNS_MAX_PACKET + 1];
	/* Answer whose owner is a pointer to itself (offset 12). */
	const uint8_t loop1[] = {
		0,  0, 0x84, 0, 0, 0, 0, 1, 0,   0, 0, 0,    0xc0,
		12, 0, 12,   0, 1, 0, 0, 0, 120, 0, 2, 0xc0, 12,
	};
	/* Two pointers chasing each other through labels. */
	const uint8_t loop2[] = {
		0, 0,   0x84, 0,  0, 0,  0, 1, 0, 0, 0, 0,   1, 'a', 0xc0, 16,
		1, 'b', 0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 120, 0, 1,   0,
	};
	/* Forward pointer beyond the packet. */
	const uint8_t fwd[] = {
		0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 200, 0, 12, 0, 1, 0, 0, 0, 120, 0, 0,
	};
	/* Huge counts with almost no data. */
	const uint8_t huge[] = { 0, 0, 0x84, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
	const uint8_t huge_q[] = { 0, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 1 };
	/* Counts within caps but not backed by bytes. */
	const uint8_t thin[] = { 0, 0, 0x84, 0, 0, 0, 0, 40, 0, 0, 0, 0, 0 };
	/* Rdata length beyond the end. */
	const uint8_t rdlen[] = {
		0, 0, 0x84, 0, 0, 0, 0,   1,    0,    0, 0, 0, 0, 0,
		1, 0, 1,    0, 0, 0, 120, 0xff, 0xff, 1, 2, 3, 4,
	};
	/* Opcode 1 and rcode 3 are not mDNS. */
	uint8_t q[512];
	int n = mdns_build_query(q, sizeof(q));

	assert_int_equal(mdns_parse(loop1, sizeof(loop1), &p), -EINVAL);
	assert_int_equal(mdns_parse(loop2, sizeof(loop2), &p), -EINVAL);
	assert_int_equal(mdns_parse(fwd, sizeof(fwd), &p), -EINVAL);
	assert_int_equal(mdns_parse(huge, sizeof(huge), &p), -EINVAL);
	assert_int_equal(mdns_parse(huge_q, sizeof(huge_q), &p), -EINVAL);
	assert_int_equal(mdns_parse(thin, sizeof(thin), &p), -EINVAL);
	assert_int_equal(mdns_parse(rdlen, sizeof(rdlen), &p), -EINVAL);
	q[2] = 0x08;
	assert_int_equal(mdns_parse(q, (size_t)n, &p), -EINVAL);
	q[2] = 0;
	q[3] = 3;
	assert_int_equal(mdns_parse(q, (size_t)n, &p), -EINVAL);
	memset(big, 0, sizeof(big));
	assert_int_equal(mdns_parse(big, sizeof(big), &p), -EINVAL);
	assert_int_equal(mdns_parse(big, 0, &p), -EINVAL);
}

static void dummy_peer(void *ud, const uint8_t id[32], const struct sockaddr_storage *addrs,
		       size_t n)
{
}

static void test_open_invalid(void **state)
{
	uv_loop_t loop;
	struct mdns *m = (struct mdns *)1;
	struct mdns_config c = { .id_hex = "abc", .port = 1 };

	uv_loop_init(&loop);
	assert_int_equal(mdns_open(&m, &loop, &c, dummy_peer, NULL), -EINVAL);
	assert_null(m);
	c.id_hex = ID_A;
	c.port = 0;
	assert_int_equal(mdns_open(&m, &loop, &c, dummy_peer, NULL), -EINVAL);
	c.port = 1;
	c.tun_name = "a-name-longer-than-ifnamsiz";
	assert_int_equal(mdns_open(&m, &loop, &c, dummy_peer, NULL), -EINVAL);
	c.tun_name = NULL;
	assert_int_equal(mdns_open(&m, &loop, &c, NULL, NULL), -EINVAL);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- two namespaces ------------------------------------------------------ */

struct ns_fixture {
	int v6only; /* no IPv4 addresses on the veth pair */
	char ns[2][32];
	char dev[2][16];
	int made[2];
};

struct side {
	const char *ns;
	const char *id_hex;
	const char *peer_id_hex;
	const char *peer_addr; /* expected v4 of the other side */
	const char *tun;
	int v6only; /* found = a scoped link-local address */
	uint16_t port;
	const char *garbage_to; /* send hostile packets here, or NULL */
	int expect_garbage;
	atomic_int *found_count;
	int found; /* the peer was reported with peer_addr */
	int saw_v6;
	int saw_tun;
	int rc;
	struct mdns_stats stats;
	uint8_t peer_id[32];
	uv_timer_t check;
	uv_timer_t stop;
	struct mdns *m;
	uint64_t start;
};

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int ns_make(void **state, int v6only)
{
	struct ns_fixture *f = calloc(1, sizeof(*f));
	int pid = (int)getpid(), i;

	*state = f;
	f->v6only = v6only;
	if (geteuid() != 0)
		return 0;
	for (i = 0; i < 2; i++) {
		snprintf(f->ns[i], sizeof(f->ns[i]), "rfmdns%d%c", pid, 'a' + i);
		snprintf(f->dev[i], sizeof(f->dev[i]), "rfm%d%c", pid % 100000, 'a' + i);
		if (sh("ip netns add %s", f->ns[i]) != 0)
			return 0;
		f->made[i] = 1;
		sh("ip netns exec %s sysctl -qw net.ipv6.conf.all.accept_dad=0 "
		   "net.ipv6.conf.default.accept_dad=0",
		   f->ns[i]);
	}
	if (sh("ip link add %s netns %s type veth peer name %s netns %s", f->dev[0], f->ns[0],
	       f->dev[1], f->ns[1]) != 0)
		return 0;
	for (i = 0; i < 2; i++) {
		/* The device was made in our namespace and moved: its own
		 * accept_dad did not come from the target's default. */
		sh("ip netns exec %s sysctl -qw net.ipv6.conf.%s.accept_dad=0", f->ns[i],
		   f->dev[i]);
		sh("ip -n %s link set lo up", f->ns[i]);
		if (!v6only)
			sh("ip -n %s addr add 10.77.0.%d/24 dev %s", f->ns[i], i + 1, f->dev[i]);
		sh("ip -n %s link set %s multicast on up", f->ns[i], f->dev[i]);
	}
	/* A stand-in TUN in A, multicast-capable: mdns must leave it alone. */
	/* (No dummy driver everywhere: one end of a veth pair in A; its
	 * peer end stays down, so only IFF_UP and the name count.) */
	sh("ip -n %s link add rfmtun type veth peer name rfmtunp", f->ns[0]);
	sh("ip -n %s addr add 10.78.0.1/24 dev rfmtun", f->ns[0]);
	sh("ip -n %s link set rfmtun multicast on up", f->ns[0]);
	return 0;
}

static int ns_setup(void **state)
{
	return ns_make(state, 0);
}

static int ns_setup_v6(void **state)
{
	return ns_make(state, 1);
}

static int ns_teardown(void **state)
{
	struct ns_fixture *f = *state;
	int i;

	for (i = 0; i < 2; i++)
		if (f->made[i])
			sh("ip netns del %s", f->ns[i]);
	free(f);
	return 0;
}

static void side_peer(void *ud, const uint8_t id[32], const struct sockaddr_storage *addrs,
		      size_t n)
{
	struct side *s = ud;
	uint16_t want_port = s->port == 4001 ? 4002 : 4001;
	struct in_addr want;
	size_t i;

	if (memcmp(id, s->peer_id, 32) != 0)
		return;
	inet_pton(AF_INET, s->peer_addr, &want);
	for (i = 0; i < n; i++) {
		if (addrs[i].ss_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)&addrs[i];

			if (a->sin_addr.s_addr == want.s_addr && ntohs(a->sin_port) == want_port &&
			    !s->found) {
				s->found = 1;
				atomic_fetch_add(s->found_count, 1);
			}
			/* The stand-in TUN's address must never be announced;
			 * asserted on the main thread (cmocka is not thread safe). */
			if (ntohl(a->sin_addr.s_addr) >> 8 == 0x0a4e00)
				s->saw_tun = 1;
		} else if (addrs[i].ss_family == AF_INET6) {
			const struct sockaddr_in6 *a = (const void *)&addrs[i];

			if (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr) && a->sin6_scope_id != 0 &&
			    ntohs(a->sin6_port) == want_port)
				s->saw_v6 = 1;
			if (s->v6only && s->saw_v6 && !s->found) {
				s->found = 1;
				atomic_fetch_add(s->found_count, 1);
			}
		}
	}
}

static void send_garbage(const char *to)
{
	struct sockaddr_in d = { .sin_family = AF_INET, .sin_port = htons(MDNS_PORT) };
	uint8_t junk[64];
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ttl = 255, i;

	inet_pton(AF_INET, to, &d.sin_addr);
	for (i = 0; i < (int)sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 0x80);
	junk[2] = 0x84; /* response, so the parser gets past the header */
	junk[3] = 0;
	setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
	sendto(fd, junk, sizeof(junk), 0, (struct sockaddr *)&d, sizeof(d));
	/* Unicast with TTL 64: could have come from off-link, dropped. */
	ttl = 64;
	setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
	sendto(fd, junk, sizeof(junk), 0, (struct sockaddr *)&d, sizeof(d));
	close(fd);
}

static void side_check(uv_timer_t *t)
{
	struct side *s = t->data;
	int done = atomic_load(s->found_count) >= 2;

	/* Once the other side was heard its socket is surely open. */
	if (s->found && s->garbage_to) {
		send_garbage(s->garbage_to);
		s->garbage_to = NULL;
	}
	/* The target of the garbage waits until it was read and dropped. */
	mdns_get_stats(s->m, &s->stats);
	if (s->expect_garbage && (s->stats.rx_malformed == 0 || s->stats.rx_offlink == 0))
		done = 0;
	if (done || uv_now(t->loop) - s->start > DEADLINE_MS) {
		mdns_close(s->m);
		uv_close((uv_handle_t *)&s->check, NULL);
	}
}

static void *side_run(void *arg)
{
	struct side *s = arg;
	char path[64];
	uv_loop_t loop;
	struct mdns_config c = { 0 };
	int fd;

	snprintf(path, sizeof(path), "/var/run/netns/%s", s->ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		s->rc = -errno;
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	close(fd);
	hex_decode_str(s->peer_id_hex, s->peer_id, 32);
	uv_loop_init(&loop);
	c.id_hex = s->id_hex;
	c.port = s->port;
	c.tun_name = s->tun;
	s->rc = mdns_open(&s->m, &loop, &c, side_peer, s);
	if (s->rc == 0) {
		s->start = uv_now(&loop);
		uv_timer_init(&loop, &s->check);
		s->check.data = s;
		uv_timer_start(&s->check, side_check, 50, 50);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	uv_loop_close(&loop);
	return NULL;
}

static void test_two_namespaces(void **state)
{
	struct ns_fixture *f = *state;
	atomic_int count = 0;
	struct side a = { 0 }, b = { 0 };
	pthread_t ta, tb;

	if (geteuid() != 0 || !f->made[1]) {
		fprintf(stderr, "test_mdns: no root or no netns; namespace test skipped\n");
		skip();
	}
	a.ns = f->ns[0];
	a.id_hex = ID_A;
	a.peer_id_hex = ID_B;
	a.peer_addr = "10.77.0.2";
	a.tun = "rfmtun";
	a.port = 4001;
	a.v6only = b.v6only = f->v6only;
	a.found_count = &count;
	b.ns = f->ns[1];
	b.id_hex = ID_B;
	b.peer_id_hex = ID_A;
	b.peer_addr = "10.77.0.1";
	b.port = 4002;
	b.garbage_to = f->v6only ? NULL : "10.77.0.1";
	a.expect_garbage = !f->v6only;
	b.found_count = &count;
	assert_int_equal(pthread_create(&ta, NULL, side_run, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, side_run, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
	fprintf(stderr,
		"test_mdns: A rx %llu malformed %llu offlink %llu own %llu "
		"ann %llu q %llu ifaces %u v6 %d; B rx %llu ann %llu q %llu v6 %d\n",
		(unsigned long long)a.stats.rx_packets, (unsigned long long)a.stats.rx_malformed,
		(unsigned long long)a.stats.rx_offlink, (unsigned long long)a.stats.rx_own,
		(unsigned long long)a.stats.tx_announces, (unsigned long long)a.stats.tx_queries,
		a.stats.ifaces, a.saw_v6, (unsigned long long)b.stats.rx_packets,
		(unsigned long long)b.stats.tx_announces, (unsigned long long)b.stats.tx_queries,
		b.saw_v6);
	assert_true(a.found);
	assert_true(b.found);
	assert_false(b.saw_tun);
	assert_int_equal(a.stats.ifaces, 1); /* veth only, the TUN skipped */
	assert_int_equal(b.stats.ifaces, 1);
	if (f->v6only) {
		assert_true(a.saw_v6 && b.saw_v6);
	} else {
		assert_true(a.stats.rx_malformed >= 1);
		assert_true(a.stats.rx_offlink >= 1);
	}
	assert_int_equal(a.stats.rx_own, 0); /* multicast loop is off */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_sections_and_consistency),
		cmocka_unit_test(test_peer_cap),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_open_invalid),
		cmocka_unit_test_setup_teardown(test_two_namespaces, ns_setup, ns_teardown),
		cmocka_unit_test_setup_teardown(test_two_namespaces, ns_setup_v6, ns_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
