/*
 * test_turn: the TURN client against a real coturn on 127.0.0.1 (Binding,
 * Allocate with good and wrong credentials, channel and Send-indication data
 * both ways with two peer sockets, refreshes of allocation, permission and
 * channel under short lifetimes and stale nonces, deallocation, a server
 * that restarts with fresh state or dies under an allocation), and against
 * a scripted fake server for what coturn never does: 438 on Allocate and
 * spoofed answers (wrong transaction id, bad or missing integrity), hostile
 * ChannelData and Data indications.
 *
 * coturn runs with its own user database in a temporary directory, on a
 * random high port, and is killed by PID when the test ends (also when an
 * assertion fails: an atexit handler stops whatever is still running).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "loop_wait.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "transport/stun.h"
#include "transport/turn.h"
#include "util/log.h"

#define USER "rayfish"
#define PASS "testpass"
#define REALM "test.rayfish"

static uv_loop_t loop;

/* ---- coturn ---- */

struct coturn {
	pid_t pid;
	uint16_t port, min_port, max_port;
	char dir[64];
	union ms_addr addr;
};

static struct coturn *running[4];

static int port_free(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd, ok;

	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return 0;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* A Binding answer on a plain socket means coturn is serving. */
static int coturn_answers(const struct coturn *c)
{
	struct stun_builder b;
	struct stun_msg m;
	struct pollfd pfd;
	uint8_t req[64], resp[512], tid[STUN_TID_LEN];
	ssize_t n;
	int fd, ok = 0, len;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return 0;
	stun_tid_new(tid);
	stun_build_init(&b, req, sizeof(req), STUN_BINDING, STUN_REQUEST, tid);
	len = stun_build_finish(&b);
	if (sendto(fd, req, (size_t)len, 0, &c->addr.sa, ms_addr_len(&c->addr)) == len) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) == 1) {
			n = recv(fd, resp, sizeof(resp), 0);
			ok = n > 0 && stun_decode(&m, resp, (size_t)n) == 0 &&
			     m.cls == STUN_SUCCESS;
		}
	}
	close(fd);
	return ok;
}

static void coturn_stop(struct coturn *c)
{
	char path[128];
	int i, status;

	if (c->pid > 0) {
		kill(c->pid, SIGTERM);
		for (i = 0; i < 40; i++) {
			if (waitpid(c->pid, &status, WNOHANG) == c->pid)
				break;
			usleep(50000);
		}
		if (i == 40) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, &status, 0);
		}
		c->pid = 0;
	}
	if (c->dir[0]) {
		static const char *files[] = { "turndb", "turndb-journal", "turnserver.log",
					       "turnserver.pid" };
		size_t k;

		for (k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
			snprintf(path, sizeof(path), "%s/%s", c->dir, files[k]);
			unlink(path);
		}
		rmdir(c->dir);
		c->dir[0] = '\0';
	}
	for (i = 0; i < 4; i++)
		if (running[i] == c)
			running[i] = NULL;
}

static void coturn_stop_all(void)
{
	int i;

	for (i = 0; i < 4; i++)
		if (running[i])
			coturn_stop(running[i]);
}

static void coturn_print_log(const struct coturn *c)
{
	char path[128], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/turnserver.log", c->dir);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "coturn: %s", line);
	fclose(f);
}

static void coturn_exec(const struct coturn *c, const char *const *extra)
{
	char port[8], minp[8], maxp[8], db[96], pidf[96], logf[96];
	const char *argv[48];
	int n = 0, fd;

	snprintf(port, sizeof(port), "%u", c->port);
	snprintf(minp, sizeof(minp), "%u", c->min_port);
	snprintf(maxp, sizeof(maxp), "%u", c->max_port);
	snprintf(db, sizeof(db), "%s/turndb", c->dir);
	snprintf(pidf, sizeof(pidf), "%s/turnserver.pid", c->dir);
	snprintf(logf, sizeof(logf), "%s/turnserver.log", c->dir);
	argv[n++] = "turnserver";
	argv[n++] = "-n";
	argv[n++] = "--no-cli";
	argv[n++] = "--listening-ip";
	argv[n++] = "127.0.0.1";
	argv[n++] = "--relay-ip";
	argv[n++] = "127.0.0.1";
	argv[n++] = "--listening-port";
	argv[n++] = port;
	argv[n++] = "--no-tls";
	argv[n++] = "--no-dtls";
	argv[n++] = "--min-port";
	argv[n++] = minp;
	argv[n++] = "--max-port";
	argv[n++] = maxp;
	argv[n++] = "--lt-cred-mech";
	argv[n++] = "--user";
	argv[n++] = USER ":" PASS;
	argv[n++] = "--realm";
	argv[n++] = REALM;
	argv[n++] = "--userdb";
	argv[n++] = db;
	/* coturn refuses loopback peers unless both are given. */
	argv[n++] = "--allowed-peer-ip=127.0.0.1";
	argv[n++] = "--allow-loopback-peers";
	argv[n++] = "--pidfile";
	argv[n++] = pidf;
	argv[n++] = "--log-file";
	argv[n++] = logf;
	argv[n++] = "--simple-log";
	argv[n++] = "--no-stdout-log";
	while (extra && *extra && n < 46)
		argv[n++] = *extra++;
	argv[n] = NULL;
	/* Dies with the test even when the test aborts (no atexit then). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	execvp(argv[0], (char *const *)argv);
	_exit(127);
}

static int coturn_spawn(struct coturn *c, const char *const *extra);

static int coturn_start(struct coturn *c, const char *const *extra)
{
	int i;

	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "/tmp/rayfish-turn-XXXXXX");
	if (mkdtemp(c->dir) == NULL)
		return -errno;
	for (i = 0; i < 50; i++) {
		c->port = (uint16_t)(20000 + randombytes_uniform(20000) * 2);
		if (port_free(c->port))
			break;
	}
	/* Relay ports well above the listener (and its RFC 5780 alt port). */
	c->min_port = c->port + 10;
	c->max_port = c->port + 400;
	ms_addr_parse(&c->addr, "127.0.0.1:0");
	c->addr.in.sin_port = htons(c->port);
	for (i = 0; i < 4; i++)
		if (running[i] == NULL) {
			running[i] = c;
			break;
		}
	return coturn_spawn(c, extra);
}

/* Kills the server and starts a new one on the same port: fresh state. */
static int coturn_restart(struct coturn *c, const char *const *extra)
{
	int i, status;

	kill(c->pid, SIGKILL);
	waitpid(c->pid, &status, 0);
	c->pid = 0;
	/* The old process's socket may linger a moment. */
	for (i = 0; i < 40 && !port_free(c->port); i++)
		usleep(50000);
	return coturn_spawn(c, extra);
}

static int coturn_spawn(struct coturn *c, const char *const *extra)
{
	int i, status;

	c->pid = fork();
	if (c->pid < 0)
		return -errno;
	if (c->pid == 0)
		coturn_exec(c, extra);
	for (i = 0; i < 100; i++) {
		if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
			c->pid = 0;
			coturn_print_log(c);
			return -ECHILD;
		}
		if (coturn_answers(c))
			return 0;
		usleep(50000);
	}
	coturn_print_log(c);
	return -ETIMEDOUT;
}

static struct coturn srv;

static int group_setup(void **state)
{
	int r = coturn_start(&srv, NULL);

	if (r < 0)
		fprintf(stderr, "cannot start turnserver: %s\n", strerror(-r));
	return r < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
	coturn_stop(&srv);
	return 0;
}

/* ---- a node: one magicsock with its demultiplexers ---- */

struct node {
	struct magicsock *ms;
	struct stun_demux stun, turn;
	struct turn_client *tc;
	enum turn_state state;
	int state_changes;
	char reason[TURN_REASON_LEN];
	/* What arrived: through the relay (on_data) or directly (QUIC class). */
	int got;
	union ms_addr got_from;
	char got_buf[64];
};

static void node_on_state(void *ud, enum turn_state st, const char *reason)
{
	struct node *n = ud;

	n->state = st;
	n->state_changes++;
	snprintf(n->reason, sizeof(n->reason), "%s", reason);
}

static void node_record(struct node *n, const union ms_addr *from, const uint8_t *buf, size_t len)
{
	if (len >= sizeof(n->got_buf))
		len = sizeof(n->got_buf) - 1;
	memcpy(n->got_buf, buf, len);
	n->got_buf[len] = '\0';
	n->got_from = *from;
	n->got++;
}

static void node_on_data(void *ud, const union ms_addr *peer, const uint8_t *buf, size_t len)
{
	node_record(ud, peer, buf, len);
}

static void node_on_quic(void *ud, const uint8_t *pkt, size_t len, const union ms_addr *from)
{
	node_record(ud, from, pkt, len);
}

static void node_init(struct node *n)
{
	struct magicsock_config mc = { 0 };

	memset(n, 0, sizeof(*n));
	assert_int_equal(magicsock_new(&n->ms, &loop, &mc), 0);
	stun_demux_init(&n->stun);
	stun_demux_init(&n->turn);
	magicsock_set_handler(n->ms, MS_PKT_STUN, stun_demux_input, &n->stun);
	magicsock_set_handler(n->ms, MS_PKT_TURN, stun_demux_input, &n->turn);
	magicsock_set_handler(n->ms, MS_PKT_QUIC, node_on_quic, n);
	n->state = -1;
}

static void node_turn(struct node *n, const union ms_addr *server, const char *pass,
		      const struct turn_config *cfg)
{
	struct turn_events ev = { node_on_state, node_on_data, n };

	assert_int_equal(turn_client_new(&n->tc, &loop, n->ms, server, USER, pass, &ev, cfg), 0);
	assert_int_equal(stun_demux_add(&n->stun, turn_client_input, n->tc), 0);
	assert_int_equal(stun_demux_add(&n->turn, turn_client_channel_input, n->tc), 0);
}

static void node_close(struct node *n)
{
	if (n->tc) {
		stun_demux_remove(&n->stun, n->tc);
		stun_demux_remove(&n->turn, n->tc);
		turn_client_free(n->tc);
		n->tc = NULL;
	}
	magicsock_free(n->ms);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static void node_addr(const struct node *n, union ms_addr *a)
{
	ms_addr_parse(a, "127.0.0.1:0");
	a->in.sin_port = htons(magicsock_port(n->ms));
}

/* ---- loop helpers ---- */

static int never(void *arg)
{
	return 0;
}

static int settled(void *arg)
{
	struct node *n = arg;

	return n->state == TURN_ALLOCATED || n->state == TURN_FAILED || n->state == TURN_CLOSED;
}

static int closed(void *arg)
{
	return ((struct node *)arg)->state == TURN_CLOSED;
}

static int got_one(void *arg)
{
	return ((struct node *)arg)->got > 0;
}

/* Sends until the receiver got it (UDP, and a permission may be racing). */
static int deliver(struct node *rx, int (*send)(void *), void *ctx)
{
	int i;

	rx->got = 0;
	for (i = 0; i < 20; i++) {
		assert_int_equal(send(ctx), 0);
		if (loop_wait(&loop, got_one, rx, 150))
			return 1;
	}
	return 0;
}

struct raw_send {
	struct node *from;
	union ms_addr to;
	const char *text;
};

static int raw_send(void *arg)
{
	struct raw_send *s = arg;

	return magicsock_send_to(s->from->ms, &s->to, (const uint8_t *)s->text, strlen(s->text));
}

struct relay_send {
	struct node *from;
	union ms_addr peer;
	const char *text;
};

static int relay_send(void *arg)
{
	struct relay_send *s = arg;

	return turn_send(s->from->tc, &s->peer, (const uint8_t *)s->text, strlen(s->text));
}

static void assert_addr_eq(const union ms_addr *a, const union ms_addr *b)
{
	char x[MS_ADDR_STRLEN], y[MS_ADDR_STRLEN];

	assert_string_equal(ms_addr_fmt(a, x, sizeof(x)), ms_addr_fmt(b, y, sizeof(y)));
}

/* ---- tests against coturn ---- */

struct bind_wait {
	int done;
	struct stun_result r;
};

static void bw_result(void *ud, const struct stun_result *r)
{
	((struct bind_wait *)ud)->r = *r;
}

static void bw_done(void *ud)
{
	((struct bind_wait *)ud)->done = 1;
}

static int bw_is_done(void *arg)
{
	return ((struct bind_wait *)arg)->done;
}

static void test_binding(void **state)
{
	struct bind_wait bw = { 0 };
	struct stun_client_events ev = { bw_result, bw_done, &bw };
	struct stun_client *sc;
	static struct node a;
	union ms_addr me;
	char list[64], s[MS_ADDR_STRLEN];

	node_init(&a);
	/* A TURN client on the same server must not swallow Binding answers. */
	node_turn(&a, &srv.addr, PASS, NULL);
	assert_int_equal(stun_client_new(&sc, &loop, a.ms, NULL, &ev), 0);
	assert_int_equal(stun_demux_add(&a.stun, stun_client_input, sc), 0);
	assert_int_equal(stun_client_set_servers(sc, ms_addr_fmt(&srv.addr, list, sizeof(list))),
			 0);
	assert_int_equal(stun_client_probe(sc), 0);
	assert_true(loop_wait(&loop, bw_is_done, &bw, 5000));
	assert_int_equal(bw.r.status, 0);
	node_addr(&a, &me);
	assert_string_equal(ms_addr_fmt(&bw.r.reflexive, s, sizeof(s)),
			    ms_addr_fmt(&me, list, sizeof(list)));
	assert_true(bw.r.rtt_ms < 1000);
	assert_true(loop_wait(&loop, settled, &a, 5000));
	assert_int_equal(a.state, TURN_ALLOCATED);
	stun_demux_remove(&a.stun, sc);
	stun_client_free(sc);
	node_close(&a);
}

static void test_allocate(void **state)
{
	static struct node a;
	union ms_addr relayed, mapped, me;
	struct turn_stats st;
	const char *reason;
	uint16_t port;

	node_init(&a);
	node_turn(&a, &srv.addr, PASS, NULL);
	assert_int_equal(turn_relayed_addr(a.tc, &relayed), -ENOTCONN);
	assert_true(loop_wait(&loop, settled, &a, 5000));
	assert_int_equal(a.state, TURN_ALLOCATED);
	assert_int_equal(turn_client_state(a.tc, &reason), TURN_ALLOCATED);
	assert_int_equal(turn_relayed_addr(a.tc, &relayed), 0);
	assert_int_equal(turn_reflexive_addr(a.tc, &mapped), 0);
	node_addr(&a, &me);
	assert_addr_eq(&mapped, &me);
	assert_int_equal(relayed.sa.sa_family, AF_INET);
	assert_int_equal(ntohl(relayed.in.sin_addr.s_addr), INADDR_LOOPBACK);
	port = ntohs(relayed.in.sin_port);
	assert_true(port >= srv.min_port && port <= srv.max_port);
	turn_client_get_stats(a.tc, &st);
	assert_int_equal(st.rx_spoofed, 0);

	/* Deallocate: Refresh with lifetime 0, answered. */
	assert_int_equal(turn_client_deallocate(a.tc), 0);
	assert_int_equal(turn_send(a.tc, &me, (const uint8_t *)"x", 1), -ENOTCONN);
	assert_true(loop_wait(&loop, closed, &a, 5000));
	assert_string_equal(a.reason, "deallocated");
	node_close(&a);
}

/*
 * A daemon restarted on its fixed port finds the old allocation of its
 * 5-tuple still there: 437, Refresh 0 to clear it, Allocate again.
 */
static void test_mismatch(void **state)
{
	static struct node a;
	struct turn_client *old;
	struct turn_stats st;

	node_init(&a);
	node_turn(&a, &srv.addr, PASS, NULL);
	assert_true(loop_wait(&loop, settled, &a, 5000));
	assert_int_equal(a.state, TURN_ALLOCATED);
	/* Forget it without deallocating, as a crash would. */
	old = a.tc;
	stun_demux_remove(&a.stun, old);
	stun_demux_remove(&a.turn, old);
	a.state = -1;
	node_turn(&a, &srv.addr, PASS, NULL);
	assert_true(loop_wait(&loop, settled, &a, 5000));
	assert_int_equal(a.state, TURN_ALLOCATED);
	turn_client_get_stats(a.tc, &st);
	assert_int_equal(st.rx_spoofed, 0);
	/* The old client would deallocate the shared 5-tuple: make it quiet. */
	turn_client_free(a.tc);
	a.tc = NULL;
	turn_client_free(old);
	node_close(&a);
}

static void test_wrong_password(void **state)
{
	static struct node a;
	union ms_addr relayed;

	node_init(&a);
	node_turn(&a, &srv.addr, "not-the-password", NULL);
	assert_true(loop_wait(&loop, settled, &a, 5000));
	assert_int_equal(a.state, TURN_FAILED);
	assert_string_equal(a.reason, "401 Unauthorized: wrong credentials");
	assert_int_equal(turn_relayed_addr(a.tc, &relayed), -ENOTCONN);
	/* Failed for good: no retries behind the owner's back. */
	a.state_changes = 0;
	loop_wait(&loop, never, NULL, 300);
	assert_int_equal(a.state_changes, 0);
	node_close(&a);
}

static int channel_bound(void *arg)
{
	struct relay_send *s = arg;

	return turn_channel_of(s->from->tc, &s->peer) != 0;
}

/* A allocates; B talks over a channel, C over Send/Data indications. */
static void exchange(struct node *a, struct node *b, struct node *c)
{
	struct raw_send rs;
	struct relay_send ts;
	struct turn_stats st0, st;
	union ms_addr relayed, baddr, caddr;

	assert_int_equal(turn_relayed_addr(a->tc, &relayed), 0);
	node_addr(b, &baddr);
	node_addr(c, &caddr);

	/* Channel path. */
	ts.from = a;
	ts.peer = baddr;
	assert_true(loop_wait(&loop, channel_bound, &ts, 5000));
	turn_client_get_stats(a->tc, &st0);
	rs.from = b;
	rs.to = relayed;
	rs.text = "hello from b";
	assert_true(deliver(a, raw_send, &rs));
	assert_string_equal(a->got_buf, "hello from b");
	assert_addr_eq(&a->got_from, &baddr);
	ts.text = "hello to b";
	assert_true(deliver(b, relay_send, &ts));
	assert_string_equal(b->got_buf, "hello to b");
	assert_addr_eq(&b->got_from, &relayed);
	turn_client_get_stats(a->tc, &st);
	assert_true(st.rx_channel > st0.rx_channel);
	assert_true(st.tx_channel > st0.tx_channel);
	assert_int_equal(st.tx_send, st0.tx_send);

	/* Send / Data indication path: no channel for C's port. */
	assert_int_equal(turn_channel_of(a->tc, &caddr), 0);
	rs.from = c;
	rs.text = "hello from c";
	assert_true(deliver(a, raw_send, &rs));
	assert_string_equal(a->got_buf, "hello from c");
	assert_addr_eq(&a->got_from, &caddr);
	ts.peer = caddr;
	ts.text = "hello to c";
	assert_true(deliver(c, relay_send, &ts));
	assert_string_equal(c->got_buf, "hello to c");
	assert_addr_eq(&c->got_from, &relayed);
	turn_client_get_stats(a->tc, &st0);
	assert_true(st0.rx_data > st.rx_data);
	assert_true(st0.tx_send > st.tx_send);
	assert_int_equal(st0.rx_spoofed, 0);
	assert_int_equal(st0.perm_errors, 0);
}

static void test_relay_data(void **state)
{
	static struct node a, b, c;
	union ms_addr baddr, caddr;
	uint8_t big[TURN_MAX_DATA + 1];

	node_init(&a);
	node_init(&b);
	node_init(&c);
	node_addr(&b, &baddr);
	node_addr(&c, &caddr);
	node_turn(&a, &srv.addr, PASS, NULL);
	/* Asked before the allocation exists: installed right after. */
	assert_int_equal(turn_bind_channel(a.tc, &baddr), 0);
	assert_int_equal(turn_permit(a.tc, &caddr), 0);
	assert_true(loop_wait(&loop, settled, &a, 5000));
	assert_int_equal(a.state, TURN_ALLOCATED);
	exchange(&a, &b, &c);
	memset(big, 'x', sizeof(big));
	assert_int_equal(turn_send(a.tc, &baddr, big, sizeof(big)), -EMSGSIZE);
	node_close(&a);
	node_close(&b);
	node_close(&c);
}

/*
 * Short lifetimes everywhere and a nonce that goes stale within seconds:
 * after several lifetimes the allocation, channel and permission still
 * carry data, so every refresh (and its 438 retry) worked.
 */
static void test_refresh(void **state)
{
	/* coturn wants "=" here: a separate value is an unknown argument. */
	static const char *const extra[] = { "--channel-lifetime=3", "--permission-lifetime=3",
					     "--stale-nonce=2", NULL };
	struct turn_config cfg = { .lifetime_s = 600,
				   .perm_refresh_ms = 1200,
				   .chan_refresh_ms = 1200,
				   .refresh_ms = 1500 };
	static struct coturn short_srv;
	static struct node a, b, c;
	union ms_addr baddr, caddr;
	struct turn_stats st;
	int r;

	r = coturn_start(&short_srv, extra);
	assert_int_equal(r, 0);
	node_init(&a);
	node_init(&b);
	node_init(&c);
	node_addr(&b, &baddr);
	node_addr(&c, &caddr);
	node_turn(&a, &short_srv.addr, PASS, &cfg);
	assert_true(loop_wait(&loop, settled, &a, 5000));
	assert_int_equal(a.state, TURN_ALLOCATED);
	assert_int_equal(turn_bind_channel(a.tc, &baddr), 0);
	assert_int_equal(turn_permit(a.tc, &caddr), 0);
	loop_wait(&loop, never, NULL, 8000);
	assert_int_equal(a.state, TURN_ALLOCATED);
	turn_client_get_stats(a.tc, &st);
	assert_true(st.refreshes >= 3);
	assert_true(st.stale_nonces >= 1);
	assert_int_equal(st.rx_spoofed, 0);
	exchange(&a, &b, &c);
	node_close(&a);
	node_close(&b);
	node_close(&c);
	coturn_stop(&short_srv);
}

static int failed(void *arg)
{
	return ((struct node *)arg)->state == TURN_FAILED;
}

/*
 * The server restarts with fresh state (every allocation gone): within a
 * few liveness checks the Refresh gets 437 and the client fails with
 * "allocation lost", and a new client on the same socket allocates again.
 * Then the server dies for good: the Refresh goes unanswered and the client
 * fails too, after the short retransmission schedule it was given.
 */
static void test_server_restart(void **state)
{
	struct turn_config cfg = { .check_ms = 300 };
	static struct coturn rs;
	static struct node a;
	union ms_addr relayed;
	struct turn_stats st;

	assert_int_equal(coturn_start(&rs, NULL), 0);
	node_init(&a);
	node_turn(&a, &rs.addr, PASS, &cfg);
	assert_true(loop_wait(&loop, settled, &a, 5000));
	assert_int_equal(a.state, TURN_ALLOCATED);
	/* Nothing else asked for: the allocation is still checked. */
	loop_wait(&loop, never, NULL, 1000);
	turn_client_get_stats(a.tc, &st);
	assert_true(st.refreshes >= 2);
	assert_int_equal(a.state, TURN_ALLOCATED);

	assert_int_equal(coturn_restart(&rs, NULL), 0);
	assert_true(loop_wait(&loop, failed, &a, 5000));
	assert_memory_equal(a.reason, "allocation lost: 437", 20);
	assert_int_equal(turn_relayed_addr(a.tc, &relayed), -ENOTCONN);

	stun_demux_remove(&a.stun, a.tc);
	stun_demux_remove(&a.turn, a.tc);
	turn_client_free(a.tc);
	a.state = -1;
	cfg.timing.rto_ms = 100;
	cfg.timing.tries = 3;
	node_turn(&a, &rs.addr, PASS, &cfg);
	assert_true(loop_wait(&loop, settled, &a, 5000));
	assert_int_equal(a.state, TURN_ALLOCATED);
	assert_int_equal(turn_relayed_addr(a.tc, &relayed), 0);

	coturn_stop(&rs);
	assert_true(loop_wait(&loop, failed, &a, 5000));
	assert_string_equal(a.reason, "allocation lost: no response from the TURN server");
	node_close(&a);
}

/*
 * With the default (long) check period, a refused ChannelBind is what shows
 * first that a restarted server lost the allocation: it triggers the
 * Refresh at once, which finds the allocation gone.
 */
static void test_refused_bind_checks(void **state)
{
	static struct coturn rs;
	static struct node a, b;
	union ms_addr baddr;
	struct turn_stats st;

	assert_int_equal(coturn_start(&rs, NULL), 0);
	node_init(&a);
	node_init(&b);
	node_addr(&b, &baddr);
	node_turn(&a, &rs.addr, PASS, NULL);
	assert_true(loop_wait(&loop, settled, &a, 5000));
	assert_int_equal(a.state, TURN_ALLOCATED);
	assert_int_equal(coturn_restart(&rs, NULL), 0);
	assert_int_equal(turn_bind_channel(a.tc, &baddr), 0);
	assert_true(loop_wait(&loop, failed, &a, 5000));
	assert_memory_equal(a.reason, "allocation lost: 4", 18);
	turn_client_get_stats(a.tc, &st);
	assert_int_equal(st.perm_errors, 1);
	assert_int_equal(st.rx_spoofed, 0);
	node_close(&a);
	node_close(&b);
	coturn_stop(&rs);
}

/* ---- a scripted server for what coturn does not do ---- */

struct fake {
	struct magicsock *ms;
	union ms_addr client, relayed;
	int requests;
	char last_nonce[16];
};

static void fake_reply(struct fake *f, const uint8_t *tid, int code, const char *nonce,
		       int success_mode)
{
	struct stun_builder b;
	uint8_t out[512], key[STUN_LT_KEY_LEN];
	int n;

	if (code) {
		stun_build_init(&b, out, sizeof(out), STUN_ALLOCATE, STUN_ERROR, tid);
		stun_build_error(&b, code, code == 401 ? "Unauthorized" : "Stale Nonce");
		stun_build_attr(&b, STUN_A_REALM, "fake", 4);
		stun_build_attr(&b, STUN_A_NONCE, nonce, strlen(nonce));
	} else {
		stun_build_init(&b, out, sizeof(out), STUN_ALLOCATE, STUN_SUCCESS, tid);
		stun_build_xor_addr(&b, STUN_A_XOR_RELAYED_ADDRESS, &f->relayed);
		stun_build_xor_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &f->client);
		stun_build_u32(&b, STUN_A_LIFETIME, 600);
		stun_lt_key(key, USER, (const uint8_t *)"fake", 4, PASS);
		if (success_mode == 1) /* signed with the wrong key */
			key[0] ^= 1;
		if (success_mode != 2) /* 2: unsigned */
			stun_build_integrity(&b, key, sizeof(key));
	}
	stun_build_fingerprint(&b);
	n = stun_build_finish(&b);
	assert_true(n > 0);
	magicsock_send_to(f->ms, &f->client, out, (size_t)n);
}

static void fake_rx(void *ud, const uint8_t *pkt, size_t len, const union ms_addr *from)
{
	struct fake *f = ud;
	struct stun_msg m;
	uint8_t key[STUN_LT_KEY_LEN], tid[STUN_TID_LEN];

	if (stun_decode(&m, pkt, len) < 0 || m.method != STUN_ALLOCATE)
		return;
	f->client = *from;
	f->requests++;
	snprintf(f->last_nonce, sizeof(f->last_nonce), "%.*s", (int)m.nonce_len,
		 m.nonce ? (const char *)m.nonce : "");
	if (f->requests > 1) {
		stun_lt_key(key, USER, (const uint8_t *)"fake", 4, PASS);
		assert_true(stun_check_integrity(pkt, len, &m, key, sizeof(key)));
	}
	switch (f->requests) {
	case 1:
		fake_reply(f, m.tid, 401, "n1", 0);
		break;
	case 2:
		assert_string_equal(f->last_nonce, "n1");
		fake_reply(f, m.tid, 438, "n2", 0);
		break;
	default:
		assert_string_equal(f->last_nonce, "n2");
		memcpy(tid, m.tid, sizeof(tid));
		tid[5] ^= 0x10;
		fake_reply(f, tid, 0, NULL, 0);   /* wrong tid */
		fake_reply(f, m.tid, 0, NULL, 1); /* bad integrity */
		fake_reply(f, m.tid, 0, NULL, 2); /* no integrity */
		fake_reply(f, m.tid, 0, NULL, 0); /* the real one */
		break;
	}
}

static void test_fake_server(void **state)
{
	struct magicsock_config mc = { 0 };
	struct fake f;
	static struct node a;
	union ms_addr faddr, relayed, peer;
	struct turn_stats st;
	struct stun_builder b;
	uint8_t out[128], tid[STUN_TID_LEN] = { 7 };
	int n;

	memset(&f, 0, sizeof(f));
	assert_int_equal(magicsock_new(&f.ms, &loop, &mc), 0);
	magicsock_set_handler(f.ms, MS_PKT_STUN, fake_rx, &f);
	ms_addr_parse(&faddr, "127.0.0.1:0");
	faddr.in.sin_port = htons(magicsock_port(f.ms));
	ms_addr_parse(&f.relayed, "192.0.2.77:50000");
	node_init(&a);
	node_turn(&a, &faddr, PASS, NULL);
	assert_true(loop_wait(&loop, settled, &a, 5000));
	assert_int_equal(a.state, TURN_ALLOCATED);
	assert_int_equal(f.requests, 3);
	assert_int_equal(turn_relayed_addr(a.tc, &relayed), 0);
	assert_addr_eq(&relayed, &f.relayed);
	turn_client_get_stats(a.tc, &st);
	assert_int_equal(st.stale_nonces, 1);
	assert_int_equal(st.rx_spoofed, 3);

	/* Hostile relay traffic from the server's address. */
	ms_addr_parse(&peer, "192.0.2.9:9");
	assert_int_equal(turn_bind_channel(a.tc, &peer), 0);
	/* ChannelData: unknown channel, bad lengths, not a channel. */
	memcpy(out, "\x4f\xff\x00\x01x", 5);
	magicsock_send_to(f.ms, &f.client, out, 5);
	memcpy(out, "\x40\x00\x00\x02xy", 6); /* bound yet? no: unknown */
	out[0] = 0x4e;
	magicsock_send_to(f.ms, &f.client, out, 6);
	memcpy(out, "\x40\x00\x00\x01xyzwv", 9); /* 4 trailing bytes */
	magicsock_send_to(f.ms, &f.client, out, 9);
	/* Data indication without a peer address, and one with. */
	stun_build_init(&b, out, sizeof(out), STUN_DATA, STUN_INDICATION, tid);
	stun_build_attr(&b, STUN_A_DATA, "zz", 2);
	n = stun_build_finish(&b);
	magicsock_send_to(f.ms, &f.client, out, (size_t)n);
	stun_build_init(&b, out, sizeof(out), STUN_DATA, STUN_INDICATION, tid);
	stun_build_xor_addr(&b, STUN_A_XOR_PEER_ADDRESS, &peer);
	stun_build_attr(&b, STUN_A_DATA, "ok", 2);
	n = stun_build_finish(&b);
	a.got = 0;
	magicsock_send_to(f.ms, &f.client, out, (size_t)n);
	assert_true(loop_wait(&loop, got_one, &a, 2000));
	assert_string_equal(a.got_buf, "ok");
	assert_addr_eq(&a.got_from, &peer);
	turn_client_get_stats(a.tc, &st);
	assert_int_equal(st.rx_unknown_channel, 2);
	assert_int_equal(st.rx_bad, 2);
	assert_int_equal(st.rx_data, 1);
	assert_int_equal(st.rx_channel, 0);
	/* Not from the server: ignored by the client entirely. */
	assert_int_equal(turn_client_input(a.tc, out, (size_t)n, &peer), 0);
	assert_int_equal(turn_client_channel_input(a.tc, out, 5, &peer), 0);

	node_close(&a);
	magicsock_free(f.ms);
	uv_run(&loop, UV_RUN_NOWAIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fake_server),
		cmocka_unit_test(test_binding),
		cmocka_unit_test(test_allocate),
		cmocka_unit_test(test_mismatch),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_relay_data),
		cmocka_unit_test(test_refresh),
		cmocka_unit_test(test_server_restart),
		cmocka_unit_test(test_refused_bind_checks),
	};
	int rv;

	log_init(getenv("RAYFISH_LOG") ? (enum log_level)log_level_parse(getenv("RAYFISH_LOG"))
				       : LL_WARN);
	if (sodium_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	atexit(coturn_stop_all);
	uv_loop_init(&loop);
	rv = cmocka_run_group_tests(tests, group_setup, group_teardown);
	/* A failed test may leave sockets open: do not wait for them. */
	uv_run(&loop, UV_RUN_NOWAIT);
	coturn_stop_all();
	return rv;
}
