/*
 * Unit tests for src/dns/server over real sockets on 127.0.0.1. The server
 * runs in a uv loop; the test's clients and the fake upstreams are plain
 * non-blocking sockets serviced by pump(), which turns the loop between
 * polls, so everything stays on one thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "dns/answer.h"
#include "dns/name_table.h"
#include "dns/server.h"

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define TIMEOUT_MS 300

/* A fake upstream: answers example.com A, misbehaves for spoof.example. */
struct upstream {
	int fd;
	uint16_t port;
	int answer; /* 0 = silent: counts and drops */
	int seen;
};

struct fixture {
	uv_loop_t loop;
	struct dns_table table;
	struct dns_server srv;
	struct upstream good, silent;
	int srv_up;
};

static int udp_socket(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void upstream_reply(struct upstream *u, const uint8_t *q, size_t len,
			   struct sockaddr_in *from)
{
	ldns_pkt *p = NULL, *r;
	ldns_rr *rr = NULL;
	char *name;
	uint8_t *w;
	size_t wl;

	if (ldns_wire2pkt(&p, q, len) != LDNS_STATUS_OK)
		return;
	name = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0)));
	r = ldns_pkt_new();
	ldns_rr_list_deep_free(ldns_pkt_question(r));
	ldns_pkt_set_question(r, ldns_rr_list_clone(ldns_pkt_question(p)));
	ldns_pkt_set_qdcount(r, 1);
	ldns_pkt_set_id(r, ldns_pkt_id(p));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_ra(r, true);
	if (strcasecmp(name, "example.com.") == 0 || strcasecmp(name, "spoof.example.") == 0) {
		ldns_rr_new_frm_str(&rr, "example.com. 60 IN A 192.0.2.1", 0, NULL, NULL);
		ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr);
	} else {
		ldns_pkt_set_rcode(r, LDNS_RCODE_NXDOMAIN);
	}
	assert_int_equal(ldns_pkt2wire(&w, r, &wl), LDNS_STATUS_OK);
	if (strcasecmp(name, "spoof.example.") == 0) {
		/* First a wrong id, then a wrong question; both must be ignored. */
		uint8_t *bad = malloc(wl);

		memcpy(bad, w, wl);
		bad[0] ^= 0x55;
		sendto(u->fd, bad, wl, 0, (struct sockaddr *)from, sizeof(*from));
		memcpy(bad, w, wl);
		bad[DNS_HEADER_LEN + 1] = 'x';
		sendto(u->fd, bad, wl, 0, (struct sockaddr *)from, sizeof(*from));
		free(bad);
		w[wl - 1] = 99; /* the real one answers 192.0.2.99 */
	}
	sendto(u->fd, w, wl, 0, (struct sockaddr *)from, sizeof(*from));
	free(w);
	free(name);
	ldns_pkt_free(r);
	ldns_pkt_free(p);
}

static void upstream_service(struct upstream *u)
{
	uint8_t buf[4096];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ssize_t n;

	while ((n = recvfrom(u->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl)) > 0) {
		u->seen++;
		if (u->answer)
			upstream_reply(u, buf, (size_t)n, &from);
		fl = sizeof(from);
	}
}

/* Turns the loop and the fake upstreams for up to ms, or until fd reads. */
static int pump(struct fixture *f, int fd, int ms)
{
	uint64_t end = uv_hrtime() / 1000000 + (uint64_t)ms;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		uv_run(&f->loop, UV_RUN_NOWAIT);
		upstream_service(&f->good);
		upstream_service(&f->silent);
		if (fd >= 0 && poll(&p, 1, 5) > 0)
			return 1;
		if (fd < 0)
			poll(NULL, 0, 5);
		if (uv_hrtime() / 1000000 >= end)
			return 0;
	}
}

static void server_start(struct fixture *f, const char *const *ups, size_t n, unsigned max_fwd,
			 unsigned conns, unsigned idle_ms)
{
	struct dns_server_config cfg = {
		.listen = "127.0.0.1:0",
		.upstreams = ups,
		.n_upstreams = n,
		.timeout_ms = TIMEOUT_MS,
		.max_forwards = max_fwd,
		.tcp_max_conns = conns,
		.tcp_idle_ms = idle_ms,
	};

	assert_int_equal(dns_server_init(&f->srv, &f->loop, &f->table, &cfg), 0);
	f->srv_up = 1;
	assert_true(dns_server_port(&f->srv) != 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct dns_entry e[2];

	uv_loop_init(&f->loop);
	dns_table_init(&f->table);
	memset(e, 0, sizeof(e));
	strcpy(e[0].hostname, "alice");
	e[0].ipv4 = IP4(100, 64, 0, 1);
	e[0].ipv6[0] = 2;
	e[0].ipv6[15] = 1;
	strcpy(e[1].hostname, "bob");
	e[1].ipv4 = IP4(100, 100, 7, 9);
	dns_table_set_network(&f->table, "gaming", e, 2);
	f->good.fd = udp_socket(&f->good.port);
	f->good.answer = 1;
	f->silent.fd = udp_socket(&f->silent.port);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->srv_up)
		dns_server_close(&f->srv);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	dns_table_close(&f->table);
	close(f->good.fd);
	close(f->silent.fd);
	free(f);
	return 0;
}

static int client_udp(struct fixture *f)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(dns_server_port(&f->srv));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static uint8_t *make_query(const char *name, ldns_rr_type type, uint16_t id, size_t *len)
{
	ldns_pkt *q = NULL;
	uint8_t *w = NULL;

	assert_int_equal(ldns_pkt_query_new_frm_str(&q, name, type, LDNS_RR_CLASS_IN, LDNS_RD),
			 LDNS_STATUS_OK);
	ldns_pkt_set_id(q, id);
	assert_int_equal(ldns_pkt2wire(&w, q, len), LDNS_STATUS_OK);
	ldns_pkt_free(q);
	return w;
}

/* Sends raw bytes over UDP; returns the parsed reply or NULL on silence. */
static ldns_pkt *udp_raw(struct fixture *f, const uint8_t *q, size_t len, int wait_ms)
{
	uint8_t buf[4096];
	ldns_pkt *r = NULL;
	int fd = client_udp(f);
	ssize_t n;

	assert_int_equal(send(fd, q, len, 0), (ssize_t)len);
	if (!pump(f, fd, wait_ms)) {
		close(fd);
		return NULL;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	assert_true(n >= DNS_HEADER_LEN);
	assert_int_equal(ldns_wire2pkt(&r, buf, (size_t)n), LDNS_STATUS_OK);
	return r;
}

static ldns_pkt *udp_ask(struct fixture *f, const char *name, ldns_rr_type type, uint16_t id)
{
	size_t len;
	uint8_t *q = make_query(name, type, id, &len);
	ldns_pkt *r = udp_raw(f, q, len, 3000);

	free(q);
	assert_non_null(r);
	assert_int_equal(ldns_pkt_id(r), id);
	return r;
}

static void expect_rdata(ldns_pkt *r, const char *want)
{
	char *s;

	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_ancount(r) >= 1);
	s = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(r), 0), 0));
	assert_string_equal(s, want);
	free(s);
	ldns_pkt_free(r);
}

static void test_udp_table(void **state)
{
	struct fixture *f = *state;
	ldns_pkt *r;

	server_start(f, NULL, 0, 0, 0, 0);
	expect_rdata(udp_ask(f, "alice.gaming.ray.", LDNS_RR_TYPE_A, 1), "100.64.0.1");
	expect_rdata(udp_ask(f, "Alice.ray.", LDNS_RR_TYPE_AAAA, 2), "200::1");
	expect_rdata(udp_ask(f, "9.7.100.100.in-addr.arpa.", LDNS_RR_TYPE_PTR, 3),
		     "bob.gaming.ray.");
	expect_rdata(udp_ask(f, "ray.", LDNS_RR_TYPE_SOA, 4), "ray.");
	r = udp_ask(f, "eve.gaming.ray.", LDNS_RR_TYPE_A, 5);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_nscount(r), 1);
	ldns_pkt_free(r);
	r = udp_ask(f, "bob.gaming.ray.", LDNS_RR_TYPE_AAAA, 6);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 0);
	assert_int_equal(ldns_pkt_nscount(r), 1);
	ldns_pkt_free(r);
	/* The table is live: a roster change shows on the next query. */
	dns_table_remove_network(&f->table, "gaming");
	r = udp_ask(f, "alice.gaming.ray.", LDNS_RR_TYPE_A, 7);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(r);
	/* No upstreams: other names fail fast. */
	r = udp_ask(f, "example.com.", LDNS_RR_TYPE_A, 8);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(r);
	assert_int_equal(f->srv.stats.queries, 8);
	assert_int_equal(f->srv.stats.answered, 7);
	assert_int_equal(f->srv.stats.nxdomain, 2);
	assert_int_equal(f->srv.stats.servfail, 1);
}

static void upstream_list(struct fixture *f, char bufs[][32], int good_first)
{
	snprintf(bufs[good_first ? 0 : 1], 32, "127.0.0.1:%u", f->good.port);
	snprintf(bufs[good_first ? 1 : 0], 32, "127.0.0.1:%u", f->silent.port);
}

static void test_forward(void **state)
{
	struct fixture *f = *state;
	char b[2][32];
	const char *ups[2] = { b[0], b[1] };
	ldns_pkt *r;

	upstream_list(f, b, 1);
	server_start(f, ups, 2, 0, 0, 0);
	expect_rdata(udp_ask(f, "Example.COM.", LDNS_RR_TYPE_A, 0xbeef), "192.0.2.1");
	r = udp_ask(f, "nope.example.", LDNS_RR_TYPE_A, 0x0101);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(r);
	/* A wrong id and a wrong question are ignored; the real one relayed. */
	expect_rdata(udp_ask(f, "spoof.example.", LDNS_RR_TYPE_A, 0x0202), "192.0.2.99");
	assert_int_equal(f->good.seen, 3);
	assert_int_equal(f->silent.seen, 0);
	assert_int_equal(f->srv.stats.forwarded, 3);
	assert_int_equal(f->srv.stats.relayed, 3);
	assert_int_equal(f->srv.n_fwds, 0);
}

static void test_forward_fallback(void **state)
{
	struct fixture *f = *state;
	char b[2][32];
	const char *ups[2] = { b[0], b[1] };
	uint64_t t0;

	upstream_list(f, b, 0);
	server_start(f, ups, 2, 0, 0, 0);
	t0 = uv_hrtime();
	expect_rdata(udp_ask(f, "example.com.", LDNS_RR_TYPE_A, 77), "192.0.2.1");
	assert_true((uv_hrtime() - t0) / 1000000 >= TIMEOUT_MS - 10);
	assert_int_equal(f->silent.seen, 1);
	assert_int_equal(f->good.seen, 1);
}

static void test_forward_all_silent(void **state)
{
	struct fixture *f = *state;
	char b[32];
	const char *ups[2] = { b, b };
	ldns_pkt *r, *again;
	char *s;

	snprintf(b, sizeof(b), "127.0.0.1:%u", f->silent.port);
	server_start(f, ups, 2, 0, 0, 0);
	r = udp_ask(f, "example.com.", LDNS_RR_TYPE_A, 9);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_SERVFAIL);
	/* The question is echoed so stub resolvers accept the answer. */
	assert_int_equal(ldns_pkt_qdcount(r), 1);
	s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(r), 0)));
	assert_string_equal(s, "example.com.");
	free(s);
	ldns_pkt_free(r);
	assert_int_equal(f->silent.seen, 2);
	assert_int_equal(f->srv.stats.servfail, 1);
	/* Upstream list can be replaced at run time. */
	snprintf(b, sizeof(b), "127.0.0.1:%u", f->good.port);
	assert_int_equal(dns_server_set_upstreams(&f->srv, ups, 1), 1);
	again = udp_ask(f, "example.com.", LDNS_RR_TYPE_A, 10);
	expect_rdata(again, "192.0.2.1");
	assert_int_equal(dns_server_set_upstreams(&f->srv, (const char *const[]){ "not-an-ip" }, 1),
			 -EINVAL);
}

static void test_forward_cap(void **state)
{
	struct fixture *f = *state;
	char b[32];
	const char *ups[1] = { b };
	size_t len;
	uint8_t *q = make_query("example.com.", LDNS_RR_TYPE_A, 1, &len);
	int c1, c2;
	uint8_t buf[512];
	ssize_t n;

	snprintf(b, sizeof(b), "127.0.0.1:%u", f->silent.port);
	server_start(f, ups, 1, 1, 0, 0);
	c1 = client_udp(f);
	c2 = client_udp(f);
	assert_int_equal(send(c1, q, len, 0), (ssize_t)len);
	pump(f, -1, 20);
	assert_int_equal(f->srv.n_fwds, 1);
	assert_int_equal(send(c2, q, len, 0), (ssize_t)len);
	assert_true(pump(f, c2, 100)); /* at once, well before the timeout */
	n = recv(c2, buf, sizeof(buf), 0);
	assert_true(n >= DNS_HEADER_LEN);
	assert_int_equal(buf[3] & 0x0f, LDNS_RCODE_SERVFAIL);
	/* Closing with a forward in flight frees it cleanly. */
	free(q);
	close(c1);
	close(c2);
}

static void test_udp_malformed(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *q = make_query("alice.gaming.ray.", LDNS_RR_TYPE_A, 42, &len);
	int fd;
	uint8_t junk[300];

	server_start(f, NULL, 0, 0, 0, 0);
	fd = client_udp(f);
	for (size_t cut = 0; cut < len; cut++)
		send(fd, q, cut, 0);
	memset(junk, 0xff, sizeof(junk));
	send(fd, junk, sizeof(junk), 0);
	memset(junk, 0x00, sizeof(junk));
	junk[5] = 1;
	junk[12] = 0xc0;
	junk[13] = 12;
	send(fd, junk, 18, 0);
	pump(f, -1, 100);
	close(fd);
	/* Cuts 0..11 are dropped, the rest FORMERR; all-0xff is a response. */
	assert_int_equal(f->srv.stats.queries, len + 2);
	assert_int_equal(f->srv.stats.dropped, 13);
	assert_int_equal(f->srv.stats.formerr, len - 12 + 1);
	expect_rdata(udp_ask(f, "alice.gaming.ray.", LDNS_RR_TYPE_A, 43), "100.64.0.1");
	free(q);
}

/* ------------------------------------------------------------------ TCP */

static int client_tcp(struct fixture *f)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(dns_server_port(&f->srv));
	/* Loopback connect completes in the kernel's backlog. */
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Reads one framed reply; NULL on timeout or close. */
static ldns_pkt *tcp_read(struct fixture *f, int fd, int ms, int *closed)
{
	static uint8_t buf[70000];
	static size_t have;
	ldns_pkt *r = NULL;
	uint64_t end = uv_hrtime() / 1000000 + (uint64_t)ms;

	*closed = 0;
	for (;;) {
		ssize_t n;

		if (have >= 2 && have >= 2 + (size_t)((buf[0] << 8) | buf[1])) {
			size_t m = (size_t)((buf[0] << 8) | buf[1]);

			assert_int_equal(ldns_wire2pkt(&r, buf + 2, m), LDNS_STATUS_OK);
			memmove(buf, buf + 2 + m, have - 2 - m);
			have -= 2 + m;
			return r;
		}
		if (!pump(f, fd, (int)(end - uv_hrtime() / 1000000 + 1)))
			return NULL;
		n = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (n == 0) {
			*closed = 1;
			have = 0;
			return NULL;
		}
		if (n < 0)
			continue;
		have += (size_t)n;
		if (uv_hrtime() / 1000000 > end)
			return NULL;
	}
}

static void tcp_send_query(int fd, const char *name, ldns_rr_type type, uint16_t id, int bytewise)
{
	size_t len;
	uint8_t *q = make_query(name, type, id, &len);
	uint8_t *m = malloc(len + 2);

	m[0] = (uint8_t)(len >> 8);
	m[1] = (uint8_t)len;
	memcpy(m + 2, q, len);
	if (bytewise) {
		for (size_t i = 0; i < len + 2; i++)
			assert_int_equal(send(fd, m + i, 1, 0), 1);
	} else {
		assert_int_equal(send(fd, m, len + 2, 0), (ssize_t)(len + 2));
	}
	free(m);
	free(q);
}

static void test_tcp(void **state)
{
	struct fixture *f = *state;
	char b[32];
	const char *ups[1] = { b };
	ldns_pkt *r;
	int fd, closed;
	uint8_t zero[2] = { 0, 0 };

	snprintf(b, sizeof(b), "127.0.0.1:%u", f->good.port);
	server_start(f, ups, 1, 0, 0, 0);
	fd = client_tcp(f);
	/* Pipelined: table answer, a forward, and one sent byte by byte. */
	tcp_send_query(fd, "example.com.", LDNS_RR_TYPE_A, 1, 0);
	tcp_send_query(fd, "alice.gaming.ray.", LDNS_RR_TYPE_A, 2, 0);
	tcp_send_query(fd, "bob.ray.", LDNS_RR_TYPE_A, 3, 1);
	assert_int_equal(send(fd, zero, 2, 0), 2); /* empty message: dropped */
	for (int i = 0; i < 3; i++) {
		r = tcp_read(f, fd, 3000, &closed);
		assert_non_null(r);
		if (ldns_pkt_id(r) == 1)
			expect_rdata(r, "192.0.2.1");
		else if (ldns_pkt_id(r) == 2)
			expect_rdata(r, "100.64.0.1");
		else if (ldns_pkt_id(r) == 3)
			expect_rdata(r, "100.100.7.9");
		else
			fail();
	}
	/* Half-close: the server finishes and closes. */
	shutdown(fd, SHUT_WR);
	assert_null(tcp_read(f, fd, 2000, &closed));
	assert_true(closed);
	close(fd);
	assert_int_equal(f->srv.n_conns, 0);
}

static void test_tcp_limits(void **state)
{
	struct fixture *f = *state;
	int fd[3], closed;
	ldns_pkt *r;

	server_start(f, NULL, 0, 0, 2, 200);
	for (int i = 0; i < 3; i++)
		fd[i] = client_tcp(f);
	pump(f, -1, 50);
	/* The third connection is over the cap and closed at once. */
	assert_null(tcp_read(f, fd[2], 500, &closed));
	assert_true(closed);
	assert_int_equal(f->srv.n_conns, 2);
	/* An idle connection is closed after tcp_idle_ms. */
	tcp_send_query(fd[0], "alice.ray.", LDNS_RR_TYPE_A, 5, 0);
	r = tcp_read(f, fd[0], 1000, &closed);
	expect_rdata(r, "100.64.0.1");
	assert_null(tcp_read(f, fd[0], 1000, &closed));
	assert_true(closed);
	assert_null(tcp_read(f, fd[1], 1000, &closed));
	assert_true(closed);
	assert_int_equal(f->srv.n_conns, 0);
	for (int i = 0; i < 3; i++)
		close(fd[i]);
}

/* dig, as a real client, if installed. Runs as a child while we pump. */
static void test_dig(void **state)
{
	struct fixture *f = *state;
	char port[16], out[256] = "";
	int pipefd[2], status;
	size_t have = 0;
	pid_t pid;

	if (access("/usr/bin/dig", X_OK) != 0) {
		skip();
		return;
	}
	server_start(f, NULL, 0, 0, 0, 0);
	snprintf(port, sizeof(port), "%u", dns_server_port(&f->srv));
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		execl("/usr/bin/dig", "dig", "@127.0.0.1", "-p", port, "+short", "+tries=1",
		      "+time=2", "alice.gaming.ray", "AAAA", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 500; i++) {
		ssize_t n;

		pump(f, pipefd[0], 10);
		n = read(pipefd[0], out + have, sizeof(out) - 1 - have);
		if (n == 0)
			break;
		if (n > 0)
			have += (size_t)n;
	}
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	out[have] = 0;
	assert_string_equal(out, "200::1\n");
}

/*
 * A port someone else holds: init fails with -EADDRINUSE and leaves nothing
 * in the loop that points at the server, so the caller may free it at once
 * (the daemon does; it then runs on without Magic DNS). The struct is
 * wiped before the free so a handle still queued for closing trips libuv's
 * assertion even in a build without ASan.
 */
static void test_port_taken(void **state)
{
	struct fixture *f = *state;
	struct dns_server_config cfg = { 0 };
	struct dns_server *s = malloc(sizeof(*s));
	char listen[32];
	uint16_t port;
	int fd = udp_socket(&port);

	assert_non_null(s);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	cfg.listen = listen;
	assert_int_equal(dns_server_init(s, &f->loop, &f->table, &cfg), -EADDRINUSE);
	dns_server_close(s);           /* harmless after a failed init */
	explicit_bzero(s, sizeof(*s)); /* a plain memset before free is elided */
	free(s);
	assert_int_equal(uv_run(&f->loop, UV_RUN_NOWAIT), 0);
	assert_int_equal(uv_loop_alive(&f->loop), 0);
	close(fd);
}

/* After dns_server_close the struct may go at once, a second close is a
 * no-op, and the next server can take the same memory and port. */
static void test_close_then_free(void **state)
{
	struct fixture *f = *state;
	struct dns_server_config cfg = { .listen = "127.0.0.1:0" };
	struct dns_server *s = malloc(sizeof(*s));
	char listen[32];
	ldns_pkt *r;

	assert_non_null(s);
	assert_int_equal(dns_server_init(s, &f->loop, &f->table, &cfg), 0);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", dns_server_port(s));
	dns_server_close(s);
	dns_server_close(s);
	explicit_bzero(s, sizeof(*s)); /* a plain memset before free is elided */
	free(s);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	cfg.listen = listen;
	assert_int_equal(dns_server_init(&f->srv, &f->loop, &f->table, &cfg), 0);
	f->srv_up = 1;
	r = udp_ask(f, "alice.gaming.ray.", LDNS_RR_TYPE_A, 7);
	expect_rdata(r, "100.64.0.1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_udp_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forward, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forward_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forward_all_silent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forward_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dig, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_then_free, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
