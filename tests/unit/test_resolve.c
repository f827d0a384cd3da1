/*
 * test_resolve: splitting the entries users write (names, v4, bracketed v6)
 * and refusing hostile ones; numeric entries answered at once; a name from
 * /etc/hosts answered on the loop; a cancelled request never calls back;
 * resolve_inflight counts lookups until they finish; a cancelled lookup
 * still queued behind a busy thread pool is taken off it at once.
 *
 * main sets UV_THREADPOOL_SIZE=1 before libuv starts its pool, so one
 * blocking work item is enough to keep every lookup queued.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "loop_wait.h"
#include "transport/resolve.h"

struct result {
	int calls;
	int status;
	union ms_addr addrs[RESOLVE_MAX_ADDRS];
	size_t n;
};

static void on_done(void *arg, int status, const union ms_addr *addrs, size_t n)
{
	struct result *r = arg;

	r->calls++;
	r->status = status;
	r->n = n;
	if (n)
		memcpy(r->addrs, addrs, n * sizeof(*addrs));
}

static int got_answer(void *arg)
{
	return ((struct result *)arg)->calls > 0;
}

static void test_split(void **state)
{
	char host[64];
	uint16_t port;
	static const char *bad[] = {
		"",
		"stun.example.net",
		"stun.example.net:",
		":3478",
		"host:0",
		"host:65536",
		"host:34x",
		"host:-1",
		"2001:db8::1:3478",
		"[2001:db8::1]",
		"[2001:db8::1]3478",
		"a b:1",
		"host\n:1",
		"evil/../x:1",
	};
	size_t i;

	(void)state;
	assert_int_equal(resolve_split("stun.example.net:3478", host, sizeof(host), &port), 0);
	assert_string_equal(host, "stun.example.net");
	assert_int_equal(port, 3478);
	assert_int_equal(resolve_split("[2001:db8::1]:19302", host, sizeof(host), &port), 0);
	assert_string_equal(host, "2001:db8::1");
	assert_int_equal(port, 19302);
	assert_int_equal(resolve_split("198.51.100.1:1", host, sizeof(host), &port), 0);
	assert_string_equal(host, "198.51.100.1");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(resolve_split(bad[i], host, sizeof(host), &port), -EINVAL);
	/* A host longer than the buffer is refused, not cut. */
	assert_int_equal(
		resolve_split("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1",
			      host, sizeof(host), &port),
		-EINVAL);
}

static void test_numeric_at_once(void **state)
{
	struct result r = { 0 };
	struct resolve_req *req;

	(void)state;
	assert_int_equal(resolve_start(uv_default_loop(), "[2001:db8::1]:3478", on_done, &r, &req),
			 0);
	assert_null(req);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.addrs[0].sa.sa_family, AF_INET6);
	assert_int_equal(ntohs(r.addrs[0].in6.sin6_port), 3478);
	assert_int_equal(resolve_start(uv_default_loop(), "not an entry", on_done, &r, &req),
			 -EINVAL);
	assert_int_equal(r.calls, 1);
}

static void test_name(void **state)
{
	uv_loop_t loop;
	struct result r = { 0 };
	struct resolve_req *req;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(resolve_start(&loop, "localhost:3478", on_done, &r, &req), 0);
	assert_non_null(req);
	assert_int_equal(r.calls, 0); /* never inside the call for a name */
	assert_true(loop_wait(&loop, got_answer, &r, 10000));
	assert_int_equal(r.status, 0);
	assert_true(r.n >= 1);
	if (r.addrs[0].sa.sa_family == AF_INET) {
		assert_int_equal(ntohl(r.addrs[0].in.sin_addr.s_addr), INADDR_LOOPBACK);
		assert_int_equal(ntohs(r.addrs[0].in.sin_port), 3478);
	} else {
		assert_int_equal(ntohs(r.addrs[0].in6.sin6_port), 3478);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_inflight(void **state)
{
	uv_loop_t loop;
	struct result r = { 0 };
	struct resolve_req *req;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(resolve_inflight(), 0);
	assert_int_equal(resolve_start(&loop, "127.0.0.1:1", on_done, &r, &req), 0);
	assert_int_equal(resolve_inflight(), 0); /* numeric: nothing on the pool */
	assert_int_equal(resolve_start(&loop, "localhost:1", on_done, &r, &req), 0);
	assert_int_equal(resolve_inflight(), 1);
	assert_int_equal(resolve_start(&loop, "bad entry", on_done, &r, &req), -EINVAL);
	assert_int_equal(resolve_inflight(), 1);
	r.calls = 0;
	assert_true(loop_wait(&loop, got_answer, &r, 10000));
	assert_int_equal(resolve_inflight(), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Holds the pool's one thread until the test lets go. */
struct blocker {
	uv_work_t work;
	uv_sem_t go;
	int done;
};

static void block_work(uv_work_t *w)
{
	struct blocker *b = w->data;

	uv_sem_wait(&b->go);
}

static void block_done(uv_work_t *w, int status)
{
	(void)status;
	((struct blocker *)w->data)->done = 1;
}

static int blocker_done(void *arg)
{
	return ((struct blocker *)arg)->done;
}

static int none_inflight(void *arg)
{
	(void)arg;
	return resolve_inflight() == 0;
}

static void test_cancel_queued(void **state)
{
	uv_loop_t loop;
	struct blocker b = { 0 };
	struct result r = { 0 };
	struct resolve_req *req;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(uv_sem_init(&b.go, 0), 0);
	b.work.data = &b;
	assert_int_equal(uv_queue_work(&loop, &b.work, block_work, block_done), 0);
	assert_int_equal(resolve_start(&loop, "localhost:1", on_done, &r, &req), 0);
	assert_int_equal(resolve_inflight(), 1);
	resolve_cancel(req);
	/* Off the queue while the pool is still busy: a stopping daemon
	 * does not wait for lookups that never started. */
	assert_true(loop_wait(&loop, none_inflight, NULL, 5000));
	assert_int_equal(r.calls, 0);
	assert_int_equal(b.done, 0);
	uv_sem_post(&b.go);
	assert_true(loop_wait(&loop, blocker_done, &b, 5000));
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.calls, 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	uv_sem_destroy(&b.go);
}

static void test_cancel(void **state)
{
	uv_loop_t loop;
	struct result r = { 0 };
	struct resolve_req *req;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(resolve_start(&loop, "localhost:1", on_done, &r, &req), 0);
	resolve_cancel(req);
	uv_run(&loop, UV_RUN_DEFAULT); /* the request frees itself; ASan checks */
	assert_int_equal(r.calls, 0);
	assert_int_equal(resolve_inflight(), 0);
	resolve_cancel(NULL);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),    cmocka_unit_test(test_numeric_at_once),
		cmocka_unit_test(test_name),     cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_inflight), cmocka_unit_test(test_cancel_queued),
	};

	setenv("UV_THREADPOOL_SIZE", "1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
