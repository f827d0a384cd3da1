/* Unit tests for src/proto: mp_check, jsonpack, frame reader, ipc_call. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/frame.h"
#include "proto/ipc.h"
#include "proto/jsonpack.h"
#include "util/mpread.h"

static void test_mp_check_scalars(void **state)
{
	const uint8_t ok1[] = { 0xc0 };
	const uint8_t ok2[] = { 0x92, 0x01, 0xa1, 'x' };
	const uint8_t bad_c1[] = { 0xc1 };
	const uint8_t trailing[] = { 0x01, 0x02 };
	size_t used = 0;

	(void)state;
	assert_int_equal(mp_check(ok1, sizeof(ok1), 4), 0);
	assert_int_equal(mp_check(ok2, sizeof(ok2), 4), 0);
	assert_int_equal(mp_check(bad_c1, sizeof(bad_c1), 4), -EINVAL);
	assert_int_equal(mp_check(trailing, sizeof(trailing), 4), -EINVAL);
	assert_int_equal(mp_check_prefix(trailing, sizeof(trailing), 4, &used), 0);
	assert_int_equal(used, 1);
	assert_int_equal(mp_check(ok1, 0, 4), -EINVAL);
}

static void test_mp_check_hostile_counts(void **state)
{
	/* array32 claiming 4 billion elements, map32 likewise, str32 huge */
	const uint8_t arr[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01 };
	const uint8_t map[] = { 0xdf, 0x7f, 0xff, 0xff, 0xff, 0x01, 0x01 };
	const uint8_t str[] = { 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' };
	const uint8_t ext[] = { 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01 };

	(void)state;
	assert_int_equal(mp_check(arr, sizeof(arr), 8), -EINVAL);
	assert_int_equal(mp_check(map, sizeof(map), 8), -EINVAL);
	assert_int_equal(mp_check(str, sizeof(str), 8), -EINVAL);
	assert_int_equal(mp_check(ext, sizeof(ext), 8), -EINVAL);
}

static void test_mp_check_depth(void **state)
{
	uint8_t deep[70];

	(void)state;
	memset(deep, 0x91, sizeof(deep));
	deep[sizeof(deep) - 1] = 0x00;
	assert_int_equal(mp_check(deep, sizeof(deep), 64), -EINVAL);
	assert_int_equal(mp_check(deep + 60, 10, 9), 0);
	assert_int_equal(mp_check(deep + 60, 10, 8), -EINVAL);
}

static void test_mp_check_truncation(void **state)
{
	json_t *v = json_pack("{s:s, s:[i,i,f,b,n], s:{s:I}}", "name", "gentle", "list", 1, -70000,
			      1.5, 1, "obj", "big", (json_int_t)1 << 40);
	msgpack_sbuffer sb;

	(void)state;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(jsonpack_encode(v, &sb), 0);
	assert_int_equal(mp_check(sb.data, sb.size, 8), 0);
	for (size_t cut = 0; cut < sb.size; cut++) {
		json_t *out = NULL;

		assert_int_equal(mp_check(sb.data, cut, 8), -EINVAL);
		assert_int_equal(jsonpack_decode(sb.data, cut, &out), -EINVAL);
		assert_null(out);
	}
	msgpack_sbuffer_destroy(&sb);
	json_decref(v);
}

static void test_jsonpack_roundtrip(void **state)
{
	json_t *v =
		json_pack("{s:s, s:[i,i,f,b,n], s:{s:I}, s:s}", "name", "gentle-amber-fox", "list",
			  1, -70000, 1.5, 1, "obj", "big", (json_int_t)1 << 40, "utf", "ü✓");
	json_t *out = NULL;
	msgpack_sbuffer sb;

	(void)state;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(jsonpack_encode(v, &sb), 0);
	assert_int_equal(jsonpack_decode(sb.data, sb.size, &out), 0);
	assert_true(json_equal(v, out));
	json_decref(out);
	msgpack_sbuffer_destroy(&sb);
	json_decref(v);
}

static void test_jsonpack_rejects(void **state)
{
	const uint8_t bin[] = { 0xc4, 0x01, 0x00 };
	const uint8_t intkey[] = { 0x81, 0x01, 0x01 };
	const uint8_t badutf8[] = { 0xa2, 0xff, 0xfe };
	const uint8_t nulkey[] = { 0x81, 0xa2, 'a', 0x00, 0x01 };
	const uint8_t u64max[] = { 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	json_t *out = NULL;

	(void)state;
	assert_int_equal(jsonpack_decode(bin, sizeof(bin), &out), -EINVAL);
	assert_int_equal(jsonpack_decode(intkey, sizeof(intkey), &out), -EINVAL);
	assert_int_equal(jsonpack_decode(badutf8, sizeof(badutf8), &out), -EINVAL);
	assert_int_equal(jsonpack_decode(nulkey, sizeof(nulkey), &out), -EINVAL);
	assert_int_equal(jsonpack_decode(u64max, sizeof(u64max), &out), -EINVAL);
	assert_null(out);
}

/* msgpack-c hands an empty string over with the last string's pointer,
 * NULL when there was none yet: "" alone, as the first key, as the first
 * value and in an array decodes like any other string. */
static void test_jsonpack_empty_strings(void **state)
{
	const uint8_t alone[] = { 0xa0 };
	const uint8_t first[] = { 0x82, 0xa0, 0xa0, 0xa1, 'l', 0x91, 0xa0 };
	json_t *v = json_pack("{s:s, s:[s]}", "", "", "l", ""), *out = NULL;

	(void)state;
	assert_int_equal(jsonpack_decode(alone, sizeof(alone), &out), 0);
	assert_string_equal(json_string_value(out), "");
	json_decref(out);
	assert_int_equal(jsonpack_decode(first, sizeof(first), &out), 0);
	assert_true(json_equal(v, out));
	json_decref(out);
	json_decref(v);
}

struct collect {
	int count;
	size_t total;
	uint8_t last[64];
	size_t last_len;
};

static int collect_cb(void *ud, const uint8_t *body, size_t len)
{
	struct collect *c = ud;

	c->count++;
	c->total += len;
	c->last_len = len < sizeof(c->last) ? len : sizeof(c->last);
	memcpy(c->last, body, c->last_len);
	return 0;
}

static void test_frame_split_everywhere(void **state)
{
	/* three frames: "abc", "", "hello" */
	const uint8_t stream[] = { 0, 0, 0, 3, 'a', 'b', 'c', 0,   0,   0,
				   0, 0, 0, 0, 5,   'h', 'e', 'l', 'l', 'o' };

	(void)state;
	for (size_t a = 0; a <= sizeof(stream); a++) {
		for (size_t b = a; b <= sizeof(stream); b++) {
			struct frame_reader fr;
			struct collect c = { 0 };

			frame_reader_init(&fr, 16);
			assert_int_equal(frame_reader_feed(&fr, stream, a, collect_cb, &c), 0);
			assert_int_equal(frame_reader_feed(&fr, stream + a, b - a, collect_cb, &c),
					 0);
			assert_int_equal(frame_reader_feed(&fr, stream + b, sizeof(stream) - b,
							   collect_cb, &c),
					 0);
			assert_int_equal(c.count, 3);
			assert_int_equal(c.total, 8);
			assert_memory_equal(c.last, "hello", 5);
			assert_int_equal(fr.b.len, 0);
			frame_reader_close(&fr);
		}
	}
}

/* A frame larger than the buffer a reader keeps arrives in pieces: the
 * buffer grows with the bytes (never to the claimed size up front), the
 * frame comes out whole, and the buffer is let go after it. */
static void test_frame_large_then_small(void **state)
{
	const size_t big = 300000;
	uint8_t *stream = malloc(FRAME_HEADER + big + FRAME_HEADER + 2);
	struct frame_reader fr;
	struct collect c = { 0 };
	size_t off = 0, end = FRAME_HEADER + big + FRAME_HEADER + 2;

	(void)state;
	assert_non_null(stream);
	frame_put_header(stream, (uint32_t)big);
	memset(stream + FRAME_HEADER, 'z', big);
	frame_put_header(stream + FRAME_HEADER + big, 2);
	memcpy(stream + FRAME_HEADER + big + FRAME_HEADER, "ok", 2);
	frame_reader_init(&fr, 1 << 20);
	assert_int_equal(frame_reader_feed(&fr, stream, 1000, collect_cb, &c), 0);
	assert_true(fr.b.cap < 4096);
	for (off = 1000; off < end; off += 1400) {
		size_t n = end - off < 1400 ? end - off : 1400;

		assert_int_equal(frame_reader_feed(&fr, stream + off, n, collect_cb, &c), 0);
		assert_true(fr.b.cap <= 2 * (off + n) || fr.b.cap <= 65536);
	}
	assert_int_equal(c.count, 2);
	assert_int_equal(c.total, big + 2);
	assert_memory_equal(c.last, "ok", 2);
	assert_true(fr.b.cap <= 65536);
	frame_reader_close(&fr);
	free(stream);
}

static void test_frame_oversize(void **state)
{
	const uint8_t big[] = { 0x7f, 0xff, 0xff, 0xff, 'x' };
	const uint8_t over[] = { 0, 0, 0, 17 };
	struct frame_reader fr;
	struct collect c = { 0 };

	(void)state;
	frame_reader_init(&fr, 16);
	assert_int_equal(frame_reader_feed(&fr, big, sizeof(big), collect_cb, &c), -EMSGSIZE);
	frame_reader_close(&fr);
	frame_reader_init(&fr, 16);
	assert_int_equal(frame_reader_feed(&fr, over, 2, collect_cb, &c), 0);
	assert_int_equal(frame_reader_feed(&fr, over + 2, 2, collect_cb, &c), -EMSGSIZE);
	assert_true(fr.b.cap <= 16 + FRAME_HEADER);
	frame_reader_close(&fr);
	assert_int_equal(c.count, 0);
}

/* A one-shot echo server on a unix socket, run in a thread. */
struct server {
	int lfd;
	const uint8_t *canned; /* if set, sent instead of an echo */
	size_t canned_len;
};

static void *serve_once(void *arg)
{
	struct server *s = arg;
	uint8_t buf[65536];
	size_t len = 0;
	int fd = accept(s->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	while (len < 4 || len < 4 + ((size_t)buf[2] << 8 | buf[3])) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (s->canned)
		(void)!write(fd, s->canned, s->canned_len);
	else
		(void)!write(fd, buf, len);
	close(fd);
	return NULL;
}

static int start_server(struct server *s, char *path, size_t pathlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(path, pathlen, "/tmp/rf-test-ipc-%d.sock", getpid());
	unlink(path);
	strcpy(sa.sun_path, path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return listen(s->lfd, 1);
}

static void test_ipc_call_echo(void **state)
{
	struct server s = { 0 };
	char path[108];
	pthread_t th;
	json_t *req = json_pack("{s:s, s:{s:b}}", "cmd", "status", "args", "verbose", 1);
	json_t *reply = NULL;

	(void)state;
	assert_int_equal(start_server(&s, path, sizeof(path)), 0);
	pthread_create(&th, NULL, serve_once, &s);
	assert_int_equal(ipc_call(path, req, &reply, 2000), 0);
	assert_true(json_equal(req, reply));
	pthread_join(th, NULL);
	close(s.lfd);
	unlink(path);
	json_decref(reply);
	json_decref(req);
}

static void test_ipc_call_garbage_reply(void **state)
{
	static const uint8_t garbage[] = { 0, 0, 0, 2, 0xc1, 0xc1 };
	struct server s = { .canned = garbage, .canned_len = sizeof(garbage) };
	char path[108];
	pthread_t th;
	json_t *req = json_pack("{s:s}", "cmd", "status");
	json_t *reply = NULL;

	(void)state;
	assert_int_equal(start_server(&s, path, sizeof(path)), 0);
	pthread_create(&th, NULL, serve_once, &s);
	assert_int_equal(ipc_call(path, req, &reply, 2000), -EPROTO);
	assert_null(reply);
	pthread_join(th, NULL);
	close(s.lfd);
	unlink(path);
	json_decref(req);
}

/* A status of thousands of peers is larger than any request may be: the CLI
 * takes a 3 MiB reply, and refuses to send a request over 1 MiB. */
static void test_ipc_call_large(void **state)
{
	struct server s = { 0 };
	msgpack_sbuffer sb;
	char path[108], *big = malloc(3u << 20);
	pthread_t th;
	json_t *req = json_pack("{s:s}", "cmd", "status"), *res, *reply = NULL;

	(void)state;
	assert_non_null(big);
	memset(big, 'p', (3u << 20) - 1);
	big[(3u << 20) - 1] = 0;
	res = json_pack("{s:b, s:{s:s}}", "ok", 1, "result", "peers", big);
	msgpack_sbuffer_init(&sb);
	assert_int_equal(ipc_frame_encode(res, &sb), 0);
	s.canned = (const uint8_t *)sb.data;
	s.canned_len = sb.size;
	assert_int_equal(start_server(&s, path, sizeof(path)), 0);
	pthread_create(&th, NULL, serve_once, &s);
	assert_int_equal(ipc_call(path, req, &reply, 5000), 0);
	assert_true(json_equal(res, reply));
	pthread_join(th, NULL);
	json_decref(reply);
	reply = NULL;

	/* Over IPC_MAX_REQUEST: refused before anything is sent. */
	big[IPC_MAX_REQUEST] = 0;
	json_object_set_new(req, "args", json_pack("{s:s}", "x", big));
	assert_int_equal(ipc_call(path, req, &reply, 2000), -EMSGSIZE);
	assert_null(reply);
	close(s.lfd);
	unlink(path);
	msgpack_sbuffer_destroy(&sb);
	json_decref(res);
	json_decref(req);
	free(big);
}

static void test_ipc_call_no_daemon(void **state)
{
	json_t *req = json_pack("{s:s}", "cmd", "status");
	json_t *reply = NULL;

	(void)state;
	assert_int_equal(ipc_call("/tmp/rf-test-no-such.sock", req, &reply, 500), -ENOENT);
	json_decref(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mp_check_scalars),
		cmocka_unit_test(test_mp_check_hostile_counts),
		cmocka_unit_test(test_mp_check_depth),
		cmocka_unit_test(test_mp_check_truncation),
		cmocka_unit_test(test_jsonpack_roundtrip),
		cmocka_unit_test(test_jsonpack_rejects),
		cmocka_unit_test(test_jsonpack_empty_strings),
		cmocka_unit_test(test_frame_split_everywhere),
		cmocka_unit_test(test_frame_oversize),
		cmocka_unit_test(test_frame_large_then_small),
		cmocka_unit_test(test_ipc_call_echo),
		cmocka_unit_test(test_ipc_call_garbage_reply),
		cmocka_unit_test(test_ipc_call_large),
		cmocka_unit_test(test_ipc_call_no_daemon),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
