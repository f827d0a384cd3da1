/* Unit tests for src/discovery/dht against a real OpenDHT network on
 * loopback: a `dhtnode -s` subprocess (the lab's bootstrap) or a third
 * in-process node as bootstrap, two dht_node instances publishing and
 * fetching signed records, replacement by a higher sequence, cancel, a
 * key flooded with more junk than one get delivers (the filter still finds
 * the record), a bootstrap given by name (resolved by us, handed to OpenDHT
 * as numbers), one that does not resolve, one added by address, and clean
 * shutdown. Every wait is bounded by a deadline; the subprocess is
 * killed by PID in the teardown, also when a test fails. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include <opendht/opendht_c.h>

#include "discovery/dht.h"
#include "discovery/record.h"

#define DEADLINE_MS 45000

static const uint8_t seed_a[32] = { 0xa1, 0xa2, 0xa3 };
static const uint8_t seed_x[32] = { 0x66 };

struct fixture {
	uv_loop_t loop;
	pid_t dhtnode;
	uint16_t port;
	struct dht_node *nodes[3];
};

struct fetch {
	uint8_t pk[32];
	bool done;
	bool ok;
	int values;
	int valid;
	uint64_t best_seq;
	bool have_best;
};

struct put_wait {
	bool done;
	bool ok;
};

static void tick_cb(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/* Runs the loop for ms milliseconds. */
static void run_for(uv_loop_t *loop, uint64_t ms)
{
	uv_timer_t t;
	bool fired = false;

	uv_timer_init(loop, &t);
	t.data = &fired;
	uv_timer_start(&t, tick_cb, ms, 0);
	while (!fired)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

/* Runs the loop until *flag or the deadline; returns *flag. */
static bool run_until(uv_loop_t *loop, const bool *flag, uint64_t ms)
{
	uint64_t end = uv_now(loop) + ms;

	while (!*flag && uv_now(loop) < end)
		run_for(loop, 50);
	return *flag;
}

static void on_value(void *ud, const uint8_t *value, size_t len)
{
	struct fetch *f = ud;
	struct record rec;

	f->values++;
	if (record_decode(value, len, RECORD_ENDPOINT, f->pk, (uint64_t)time(NULL), &rec) < 0)
		return; /* junk under our key is expected and ignored */
	f->valid++;
	if (!f->have_best || rec.seq > f->best_seq)
		f->best_seq = rec.seq;
	f->have_best = true;
}

static void on_get_done(void *ud, bool ok)
{
	struct fetch *f = ud;

	f->done = true;
	f->ok = ok;
}

static void on_put_done(void *ud, bool ok)
{
	struct put_wait *w = ud;

	w->done = true;
	w->ok = ok;
}

/* Gets key from node until a valid record with seq == want shows up. */
static bool fetch_until_seq(uv_loop_t *loop, struct dht_node *node, const uint8_t key[20],
			    const uint8_t pk[32], uint64_t want, struct fetch *f)
{
	uint64_t end = uv_now(loop) + DEADLINE_MS;

	while (uv_now(loop) < end) {
		memset(f, 0, sizeof(*f));
		memcpy(f->pk, pk, 32);
		assert_int_equal(dht_node_get(node, key, on_value, on_get_done, f), 0);
		assert_true(run_until(loop, &f->done, DEADLINE_MS));
		if (f->have_best && f->best_seq == want)
			return true;
		run_for(loop, 300);
	}
	return false;
}

static int free_udp_port(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	socklen_t alen = sizeof(a);
	int s, off = 0, port;

	s = socket(AF_INET6, SOCK_DGRAM, 0);
	if (s < 0)
		return -errno;
	setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &alen) < 0) {
		close(s);
		return -errno;
	}
	port = ntohs(a.sin6_port);
	close(s);
	return port;
}

/* True once something holds UDP 127.0.0.1:port. */
static bool udp_port_taken(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	bool taken;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	taken = bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 && errno == EADDRINUSE;
	close(s);
	return taken;
}

static int fixture_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx || uv_loop_init(&fx->loop) < 0)
		return -1;
	fx->dhtnode = -1;
	*state = fx;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *fx = *state;
	int ret = 0, status;

	for (int i = 0; i < 3; i++)
		dht_node_close(fx->nodes[i]);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&fx->loop) != 0)
		ret = -1; /* a handle was left open */
	if (fx->dhtnode > 0) {
		kill(fx->dhtnode, SIGTERM);
		for (int i = 0; i < 40; i++) {
			if (waitpid(fx->dhtnode, &status, WNOHANG) == fx->dhtnode) {
				fx->dhtnode = -1;
				break;
			}
			usleep(50000);
		}
		if (fx->dhtnode > 0) {
			kill(fx->dhtnode, SIGKILL);
			waitpid(fx->dhtnode, &status, 0);
		}
	}
	free(fx);
	return ret;
}

/* Starts `dhtnode -s -p PORT` and waits until it holds its port. */
static int fixture_setup_dhtnode(void **state)
{
	struct fixture *fx;
	char port[16];
	int p, devnull;

	if (fixture_setup(state) < 0)
		return -1;
	fx = *state;
	if (access("/usr/bin/dhtnode", X_OK) != 0)
		return -1;
	p = free_udp_port();
	if (p <= 0)
		return -1;
	fx->port = (uint16_t)p;
	snprintf(port, sizeof(port), "%d", p);
	fx->dhtnode = fork();
	if (fx->dhtnode < 0)
		return -1;
	if (fx->dhtnode == 0) {
		devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execl("/usr/bin/dhtnode", "dhtnode", "-s", "-p", port, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		if (udp_port_taken(fx->port))
			return 0;
		usleep(50000);
	}
	return -1;
}

static void test_bootstrap_parse(void **state)
{
	static const char *bad[] = { "host:", ":4222", "[::1",     "[::1]x", "h:99999",
				     "h:0",   "h:12a", "h:123456", "a,,[]:1" };
	static const char *good[] = { NULL,        "",    " 127.0.0.1:1 , [::1]:2,",
				      "localhost", "::1", "[2001:db8::1]" };
	struct fixture *fx = *state;
	struct dht_node *node;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dht_node_init(&node, &fx->loop, 0, bad[i], 0), -EINVAL);
		assert_null(node);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(dht_node_init(&node, &fx->loop, 0, good[i], 0), 0);
		dht_node_close(node);
		dht_node_close(node); /* idempotent until the loop runs */
		uv_run(&fx->loop, UV_RUN_DEFAULT);
	}
}

/* A port already held (IPv4 and IPv6) makes init fail cleanly. */
static void test_port_taken(void **state)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	struct fixture *fx = *state;
	socklen_t alen = sizeof(a);
	struct dht_node *node;
	int s, off = 0, ret;

	s = socket(AF_INET6, SOCK_DGRAM, 0);
	assert_true(s >= 0);
	setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
	ret = dht_node_init(&node, &fx->loop, ntohs(a.sin6_port), NULL, 0);
	close(s);
	assert_int_equal(ret, -ENOTCONN);
	assert_null(node);
	uv_run(&fx->loop, UV_RUN_DEFAULT); /* frees the half-built node */
}

static void test_put_get_errors(void **state)
{
	static uint8_t big[DHT_VALUE_MAX + 1];
	struct fixture *fx = *state;
	struct dht_node_status st;
	uint8_t key[20] = { 1 };
	struct fetch f = { 0 };
	struct dht_node *node;

	assert_int_equal(dht_node_init(&fx->nodes[0], &fx->loop, 0, NULL, 0), 0);
	node = fx->nodes[0];
	assert_int_equal(dht_node_put(node, key, big, 0, NULL, NULL), -EMSGSIZE);
	assert_int_equal(dht_node_put(node, key, big, sizeof(big), NULL, NULL), -EMSGSIZE);
	assert_int_equal(dht_node_cancel_put(node, key), -ENOENT);

	/* With no peers a put is kept (and retried), a get completes. */
	assert_int_equal(dht_node_put(node, key, big, 100, NULL, NULL), 0);
	assert_int_equal(dht_node_put(node, key, big, 200, NULL, NULL), 0);
	dht_node_status(node, &st);
	assert_true(st.running);
	assert_true(st.port > 0);
	assert_false(st.connected);
	assert_int_equal(st.puts, 1);
	assert_int_equal(dht_node_get(node, key, on_value, on_get_done, &f), 0);
	assert_true(run_until(&fx->loop, &f.done, DEADLINE_MS));
	assert_int_equal(dht_node_cancel_put(node, key), 0);
	assert_int_equal(dht_node_cancel_put(node, key), -ENOENT);
	dht_node_status(node, &st);
	assert_int_equal(st.puts, 0);

	/* Pending operations are dropped cleanly by close. */
	assert_int_equal(dht_node_put(node, key, big, 10, on_put_done, NULL), 0);
	assert_int_equal(dht_node_get(node, key, on_value, on_get_done, &f), 0);
}

/* Two nodes bootstrap from `bootstrap`; A publishes, B finds; a higher
 * sequence replaces; cancel stops publishing. */
static void exchange(struct fixture *fx, const char *bootstrap)
{
	uint8_t pk[32], pk_x[32], key[20], rec[RECORD_MAX];
	struct dht_node_status st;
	struct put_wait pw = { 0 }, pw2 = { 0 };
	struct fetch f;
	time_t now = time(NULL);
	int n;

	record_seed_pk(seed_a, pk);
	record_seed_pk(seed_x, pk_x);
	assert_int_equal(record_dht_key(RECORD_ENDPOINT, pk, key), 0);
	assert_int_equal(dht_node_init(&fx->nodes[0], &fx->loop, 0, bootstrap, 0), 0);
	assert_int_equal(dht_node_init(&fx->nodes[1], &fx->loop, 0, bootstrap, 0), 0);

	/* An impostor's record under A's key: readers must skip it. */
	n = record_encode(RECORD_ENDPOINT, seed_x, 1000, now + 600, (const uint8_t *)"x", 1, rec,
			  sizeof(rec));
	assert_true(n > 0);
	assert_int_equal(dht_node_put(fx->nodes[1], key, rec, n, NULL, NULL), 0);

	n = record_encode(RECORD_ENDPOINT, seed_a, 1, now + 600, (const uint8_t *)"one", 3, rec,
			  sizeof(rec));
	assert_true(n > 0);
	assert_int_equal(dht_node_put(fx->nodes[0], key, rec, n, on_put_done, &pw), 0);
	assert_true(run_until(&fx->loop, &pw.done, DEADLINE_MS));
	assert_true(pw.ok);
	assert_true(fetch_until_seq(&fx->loop, fx->nodes[1], key, pk, 1, &f));
	assert_true(f.values >= 1);

	dht_node_status(fx->nodes[0], &st);
	assert_true(st.running);
	assert_true(st.connected);
	assert_true(st.public_addrs >= 1);
	assert_int_equal(st.puts, 1);
	assert_int_equal(st.puts_announced, 1);

	/* Replace with seq 2: readers converge on it. */
	n = record_encode(RECORD_ENDPOINT, seed_a, 2, now + 600, (const uint8_t *)"two", 3, rec,
			  sizeof(rec));
	assert_int_equal(dht_node_put(fx->nodes[0], key, rec, n, on_put_done, &pw2), 0);
	assert_true(fetch_until_seq(&fx->loop, fx->nodes[1], key, pk, 2, &f));
	assert_true(f.valid >= 1);
	assert_true(run_until(&fx->loop, &pw2.done, DEADLINE_MS));
	dht_node_status(fx->nodes[0], &st);
	assert_int_equal(st.puts, 1);

	assert_int_equal(dht_node_cancel_put(fx->nodes[0], key), 0);
	dht_node_status(fx->nodes[0], &st);
	assert_int_equal(st.puts, 0);
}

static void test_dhtnode_exchange(void **state)
{
	struct fixture *fx = *state;
	char bootstrap[32];

	snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%u", fx->port);
	exchange(fx, bootstrap);
}

static int keep_valid(void *ud, const uint8_t *value, size_t len)
{
	const struct fetch *f = ud;
	struct record rec;

	return record_decode(value, len, RECORD_ENDPOINT, f->pk, (uint64_t)time(NULL), &rec) >= 0;
}

static void junk_done(bool ok, void *ud)
{
	(void)ok;
	__atomic_add_fetch((int *)ud, 1, __ATOMIC_SEQ_CST);
}

/*
 * A key under which a raw OpenDHT node stored DHT_GET_VALUES_MAX + 60
 * values (fill(i, buf) makes value i), then the real record (seq 7) put by
 * node 0; node 1 looks it up through the records filter. check(f) runs on
 * each lookup's result; the record must be found.
 */
static void flooded_lookup(struct fixture *fx, size_t (*fill)(int, uint8_t *, size_t),
			   void (*check)(const struct fetch *))
{
	struct dht_node_status st;
	uint8_t pk[32], key[20], rec[RECORD_MAX], buf[RECORD_MAX];
	struct put_wait pw = { 0 };
	struct fetch f;
	char port[8], boot[32];
	dht_infohash h;
	dht_runner *flooder;
	int n, i, stored = 0, found = 0, tries;

	assert_int_equal(dht_node_init(&fx->nodes[2], &fx->loop, 0, NULL, 0), 0);
	dht_node_status(fx->nodes[2], &st);
	snprintf(port, sizeof(port), "%u", st.port);
	snprintf(boot, sizeof(boot), "127.0.0.1:%s", port);
	assert_int_equal(dht_node_init(&fx->nodes[0], &fx->loop, 0, boot, 0), 0);
	assert_int_equal(dht_node_init(&fx->nodes[1], &fx->loop, 0, boot, 0), 0);
	record_seed_pk(seed_a, pk);
	assert_int_equal(record_dht_key(RECORD_ENDPOINT, pk, key), 0);
	memcpy(h.d, key, 20);
	flooder = dht_runner_new();
	assert_int_equal(dht_runner_run(flooder, 0), 0);
	dht_runner_bootstrap(flooder, "127.0.0.1", port);
	run_for(&fx->loop, 1000);
	for (i = 0; i < DHT_GET_VALUES_MAX + 60; i++) {
		dht_value *v = dht_value_new(buf, fill(i, buf, sizeof(buf)));

		dht_runner_put(flooder, &h, v, junk_done, &stored, false);
		dht_value_unref(v);
	}
	for (tries = 0;
	     tries < 200 && __atomic_load_n(&stored, __ATOMIC_SEQ_CST) < DHT_GET_VALUES_MAX + 60;
	     tries++)
		run_for(&fx->loop, 100);
	n = record_encode(RECORD_ENDPOINT, seed_a, 7, (uint64_t)time(NULL) + 600,
			  (const uint8_t *)"real", 4, rec, sizeof(rec));
	assert_true(n > 0);
	assert_int_equal(dht_node_put(fx->nodes[0], key, rec, n, on_put_done, &pw), 0);
	assert_true(run_until(&fx->loop, &pw.done, DEADLINE_MS));
	for (tries = 0; tries < 10 && !found; tries++) {
		memset(&f, 0, sizeof(f));
		memcpy(f.pk, pk, 32);
		assert_int_equal(dht_node_get_filtered(fx->nodes[1], key, keep_valid, on_value,
						       on_get_done, &f),
				 0);
		assert_true(run_until(&fx->loop, &f.done, DEADLINE_MS));
		found = f.have_best && f.best_seq == 7;
		check(&f);
	}
	assert_true(found);
	dht_runner_delete(flooder);
}

/* Junk anyone may store: all different, none signed. */
static size_t fill_junk(int i, uint8_t *buf, size_t cap)
{
	memset(buf, 0, 64);
	snprintf((char *)buf, cap < 64 ? cap : 64, "junk %d", i);
	return 64;
}

/* Only signed records came through the filter. */
static void check_only_valid(const struct fetch *f)
{
	assert_int_equal(f->values, f->valid);
}

/* Junk stored under a key cannot use up the cap and hide the record. */
static void test_flooded_key(void **state)
{
	flooded_lookup(*state, fill_junk, check_only_valid);
}

/* One old record, the same bytes each time (many nodes putting it). */
static size_t fill_old_copy(int i, uint8_t *buf, size_t cap)
{
	int n = record_encode(RECORD_ENDPOINT, seed_a, 3, (uint64_t)time(NULL) + 600,
			      (const uint8_t *)"old", 3, buf, cap);

	(void)i;
	assert_true(n > 0);
	return (size_t)n;
}

/* The old record once, the new one once. */
static void check_each_once(const struct fetch *f)
{
	assert_true(f->values <= 2);
}

/* One record put by many nodes is many values: delivered once, so that
 * copies of an old record cannot use up the cap and hide the newest. */
static void test_duplicate_values(void **state)
{
	flooded_lookup(*state, fill_old_copy, check_each_once);
}

static void test_inprocess_exchange(void **state)
{
	struct fixture *fx = *state;
	struct dht_node_status st;
	char bootstrap[32];

	assert_int_equal(dht_node_init(&fx->nodes[2], &fx->loop, 0, NULL, 0), 0);
	dht_node_status(fx->nodes[2], &st);
	assert_true(st.port > 0);
	snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%u", st.port);
	exchange(fx, bootstrap);
}

/* The bootstrap given by name: "localhost" comes from /etc/hosts. */
static void test_named_exchange(void **state)
{
	struct fixture *fx = *state;
	struct dht_node_status st;
	char bootstrap[64];

	assert_int_equal(dht_node_init(&fx->nodes[2], &fx->loop, 0, NULL, 0), 0);
	dht_node_status(fx->nodes[2], &st);
	snprintf(bootstrap, sizeof(bootstrap), "localhost:%u", st.port);
	exchange(fx, bootstrap);
	dht_node_status(fx->nodes[0], &st);
	assert_int_equal(st.bootstrap_unresolved, 0);
}

/* A name that does not resolve is kept for a retry; an address added
 * later connects the node all the same. */
static void test_unresolved_then_addr(void **state)
{
	struct fixture *fx = *state;
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_storage bad = { .ss_family = AF_UNIX };
	struct dht_node_status st;

	assert_int_equal(dht_node_init(&fx->nodes[2], &fx->loop, 0, NULL, 0), 0);
	assert_int_equal(dht_node_init(&fx->nodes[0], &fx->loop, 0, "no-such-host.invalid:4222", 0),
			 0);
	dht_node_status(fx->nodes[0], &st);
	assert_int_equal(st.bootstrap_unresolved, 1);
	run_for(&fx->loop, 1500); /* the lookup fails; a retry is due in 5 s */
	dht_node_status(fx->nodes[0], &st);
	assert_int_equal(st.bootstrap_unresolved, 1);
	assert_false(st.connected);

	assert_int_equal(dht_node_bootstrap_addr(fx->nodes[0], (struct sockaddr *)&bad),
			 -EAFNOSUPPORT);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(dht_node_bootstrap_addr(fx->nodes[0], (struct sockaddr *)&a),
			 -EINVAL); /* no port */
	dht_node_status(fx->nodes[2], &st);
	a.sin_port = htons(st.port);
	assert_int_equal(dht_node_bootstrap_addr(fx->nodes[0], (struct sockaddr *)&a), 0);
	for (int i = 0; i < DEADLINE_MS / 100; i++) {
		dht_node_status(fx->nodes[0], &st);
		if (st.connected)
			break;
		run_for(&fx->loop, 100);
	}
	assert_true(st.connected);
	dht_node_close(fx->nodes[0]);
	assert_int_equal(dht_node_bootstrap_addr(fx->nodes[0], (struct sockaddr *)&a), -ESHUTDOWN);
}

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	return sodium_init() < 0 ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bootstrap_parse, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_port_taken, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_put_get_errors, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_inprocess_exchange, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_flooded_key, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_values, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_named_exchange, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_unresolved_then_addr, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_dhtnode_exchange, fixture_setup_dhtnode,
						fixture_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
