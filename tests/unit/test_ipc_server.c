/*
 * test_ipc_server: the daemon's unix socket under hostile local clients,
 * over real sockets. One user cannot hold more than its share of clients,
 * ordinary users together cannot lock root and the operator out, and the
 * whole server has a cap; a refused client reads one sentence saying why.
 * A client closed with answers still owed counts until they are given.
 * An idle client and a frame dribbled in byte by byte are cut at their
 * deadline, but a request waiting for its answer (a join waiting for
 * approval) is not, however long it takes. Replies left unread close the
 * client. The CLI's ipc_call reads a refusal even when the daemon closed
 * before the request was out. Open files handed over with a request
 * (ipc_call_fds) reach its handler; the reply closes those it did not
 * keep, and a request with too many is refused without keeping any.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/ipc_server.h"
#include "loop_wait.h"
#include "util/frame.h"
#include "proto/ipc.h"
#include "proto/jsonpack.h"

#define MAX_HELD 64
#define MAX_CLIENTS 200

struct fixture {
	uv_loop_t loop;
	uv_timer_t ticker; /* keeps loop_wait's conditions polled */
	struct ipc_server srv;
	char dir[64];
	char path[96];
	bool trust; /* what the trusted callback answers */
	struct ipc_request *held[MAX_HELD];
	int n_held;
	size_t big; /* size of the "big" reply */
	int kept;   /* the descriptor "files" kept */
};

struct tclient {
	int fd;
	struct frame_reader fr;
	json_t *last; /* the newest frame received */
	int frames;
	bool eof;
};

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

/* The open descriptors of this process. */
static long open_fds(void)
{
	long n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

static int take_first(void *ud, const uint8_t *body, size_t len)
{
	json_t **reply = ud;

	if (!*reply && jsonpack_decode(body, len, reply) < 0)
		return -EPROTO;
	return 0;
}

/* A client that breaks the rule ipc_call_fds keeps: sends n descriptors
 * (more than IPC_MAX_FDS) with the request, then reads the reply. */
static int raw_call_fds(const char *path, const json_t *req, const int *fds, size_t n,
			json_t **reply)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * (IPC_MAX_FDS + 4))];
	} ctl;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	struct frame_reader fr;
	msgpack_sbuffer sb;
	char buf[4096];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ssize_t got;

	*reply = NULL;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	msgpack_sbuffer_init(&sb);
	if (ipc_frame_encode(req, &sb) < 0)
		return -1;
	iov.iov_base = sb.data;
	iov.iov_len = sb.size;
	memset(&ctl, 0, sizeof(ctl));
	mh.msg_control = ctl.buf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	if (sendmsg(fd, &mh, 0) != (ssize_t)sb.size)
		return -1;
	msgpack_sbuffer_destroy(&sb);
	frame_reader_init(&fr, 1 << 20);
	while (!*reply && (got = recv(fd, buf, sizeof(buf), 0)) > 0)
		if (frame_reader_feed(&fr, buf, (size_t)got, take_first, reply) < 0)
			break;
	frame_reader_close(&fr);
	close(fd);
	return *reply ? 0 : -1;
}

static bool trusted(uid_t uid, void *ud)
{
	struct fixture *f = ud;

	(void)uid;
	return f->trust;
}

/* "files": reads what the first file handed over holds and writes it,
 * reversed, into the second; keeps the third (closes it itself), leaves
 * the rest to the reply. Answers how many came and the descriptors. */
static void files_cmd(struct fixture *f, struct ipc_request *req)
{
	char buf[64] = "", out[64];
	json_t *fds = json_array();
	ssize_t n = -1;

	if (req->n_fds >= 2) {
		n = pread(req->fds[0], buf, sizeof(buf) - 1, 0);
		for (ssize_t i = 0; i < n; i++)
			out[i] = buf[n - 1 - i];
		if (n > 0 && pwrite(req->fds[1], out, (size_t)n, 0) != n)
			n = -1;
	}
	if (req->n_fds >= 3) {
		f->kept = req->fds[2];
		req->fds[2] = -1;
	}
	for (size_t i = 0; i < req->n_fds; i++)
		json_array_append_new(fds, json_integer(i == 2 ? f->kept : req->fds[i]));
	ipc_reply(req, json_pack("{s:i, s:I, s:o}", "n", (int)req->n_fds, "read", (json_int_t)n,
				 "fds", fds));
}

/* "echo" answers at once, "hold" waits for the test, "big" answers with
 * f->big bytes, "files" see files_cmd. */
static void dispatch(struct ipc_request *req, void *ud)
{
	struct fixture *f = ud;

	if (strcmp(req->cmd, "files") == 0) {
		files_cmd(f, req);
		return;
	}
	if (strcmp(req->cmd, "hold") == 0 && f->n_held < MAX_HELD) {
		f->held[f->n_held++] = req;
		return;
	}
	if (strcmp(req->cmd, "big") == 0) {
		char *s = malloc(f->big + 1);

		memset(s, 'x', f->big);
		s[f->big] = '\0';
		ipc_reply(req, json_pack("{s:s}", "blob", s));
		free(s);
		return;
	}
	ipc_reply(req, json_pack("{s:s}", "echo", req->cmd));
}

static void answer_held(struct fixture *f)
{
	for (int i = 0; i < f->n_held; i++)
		ipc_reply(f->held[i], NULL);
	f->n_held = 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/rayfish-test-ipc-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/ray.sock", f->dir);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_timer_init(&f->loop, &f->ticker);
	uv_timer_start(&f->ticker, on_tick, 5, 5);
	assert_int_equal(ipc_server_init(&f->srv, &f->loop, f->path, dispatch, trusted, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ipc_server_close(&f->srv);
	answer_held(f);
	uv_close((uv_handle_t *)&f->ticker, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- the test's side of the socket ---- */

static int take_frame(void *ud, const uint8_t *body, size_t len)
{
	struct tclient *c = ud;

	json_decref(c->last);
	c->last = NULL;
	assert_int_equal(jsonpack_decode(body, len, &c->last), 0);
	c->frames++;
	return 0;
}

static void tc_pump(struct tclient *c)
{
	char buf[65536];
	ssize_t n;

	while (!c->eof && (n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT)) != 0) {
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			c->eof = true; /* ECONNRESET: as good as closed */
			return;
		}
		assert_int_equal(frame_reader_feed(&c->fr, buf, (size_t)n, take_frame, c), 0);
	}
	c->eof = true;
}

/* Connects without waiting for the accept (the backlog is short: the loop
 * runs while it is full). */
static void tc_connect(struct fixture *f, struct tclient *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(c, 0, sizeof(*c));
	frame_reader_init(&c->fr, IPC_MAX_REQUEST);
	strcpy(sa.sun_path, f->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(c->fd >= 0);
	while (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		assert_int_equal(errno, EAGAIN);
		uv_run(&f->loop, UV_RUN_NOWAIT);
	}
}

static void tc_close(struct tclient *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	frame_reader_close(&c->fr);
	json_decref(c->last);
	c->last = NULL;
}

static void tc_send_raw(struct tclient *c, const void *p, size_t len)
{
	assert_int_equal(send(c->fd, p, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* False when the server has closed the connection. */
static bool tc_try_send(struct tclient *c, const char *cmd)
{
	json_t *req = json_pack("{s:s, s:{}}", "cmd", cmd, "args");
	msgpack_sbuffer sb;
	ssize_t n;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(ipc_frame_encode(req, &sb), 0);
	n = send(c->fd, sb.data, sb.size, MSG_NOSIGNAL);
	msgpack_sbuffer_destroy(&sb);
	json_decref(req);
	return n > 0;
}

static void tc_send(struct tclient *c, const char *cmd)
{
	assert_true(tc_try_send(c, cmd));
}

struct wait_frames {
	struct tclient *c;
	int want;
};

static int got_frames(void *arg)
{
	struct wait_frames *w = arg;

	tc_pump(w->c);
	return w->c->frames >= w->want;
}

static int got_eof(void *arg)
{
	struct tclient *c = arg;

	tc_pump(c);
	return c->eof;
}

/* Waits for c's next frame. */
static void tc_expect_frame(struct fixture *f, struct tclient *c, uint64_t ms)
{
	struct wait_frames w = { c, c->frames + 1 };

	assert_true(loop_wait(&f->loop, got_frames, &w, ms));
}

static void tc_expect_echo(struct fixture *f, struct tclient *c, const char *cmd)
{
	tc_send(c, cmd);
	tc_expect_frame(f, c, 2000);
	assert_true(json_is_true(json_object_get(c->last, "ok")));
}

/* The one frame a refused or timed-out client gets, then the close. */
static const char *tc_expect_farewell(struct fixture *f, struct tclient *c, uint64_t ms)
{
	const char *why;

	tc_expect_frame(f, c, ms);
	assert_false(json_is_true(json_object_get(c->last, "ok")));
	why = json_string_value(json_object_get(c->last, "error"));
	assert_non_null(why);
	assert_true(loop_wait(&f->loop, got_eof, c, 2000));
	return why;
}

/* Runs the loop for ms whatever happens. */
static int never(void *arg)
{
	(void)arg;
	return 0;
}

static void run_for(struct fixture *f, uint64_t ms)
{
	loop_wait(&f->loop, never, NULL, ms);
}

/* ---- caps ---- */

static void test_per_uid_cap(void **state)
{
	struct fixture *f = *state;
	static struct tclient c[IPC_MAX_PER_UID + 2];
	const char *why;

	f->trust = false;
	for (int i = 0; i < IPC_MAX_PER_UID; i++) {
		tc_connect(f, &c[i]);
		tc_expect_echo(f, &c[i], "echo");
	}
	tc_connect(f, &c[IPC_MAX_PER_UID]);
	why = tc_expect_farewell(f, &c[IPC_MAX_PER_UID], 2000);
	assert_non_null(strstr(why, "already holds 16 connections"));
	/* one ends: room for one more */
	tc_close(&c[0]);
	run_for(f, 50);
	tc_connect(f, &c[IPC_MAX_PER_UID + 1]);
	tc_expect_echo(f, &c[IPC_MAX_PER_UID + 1], "echo");
	for (int i = 0; i < IPC_MAX_PER_UID + 2; i++)
		tc_close(&c[i]);
}

/* Closing a connection with a request in flight frees nothing until the
 * request is answered. */
static void test_closed_with_work_counts(void **state)
{
	struct fixture *f = *state;
	static struct tclient c[IPC_MAX_PER_UID + 1];

	f->trust = false;
	for (int i = 0; i < IPC_MAX_PER_UID; i++) {
		tc_connect(f, &c[i]);
		tc_send(&c[i], "hold");
	}
	run_for(f, 100);
	assert_int_equal(f->n_held, IPC_MAX_PER_UID);
	for (int i = 0; i < IPC_MAX_PER_UID; i++)
		tc_close(&c[i]);
	run_for(f, 100);
	tc_connect(f, &c[IPC_MAX_PER_UID]);
	tc_expect_farewell(f, &c[IPC_MAX_PER_UID], 2000);
	tc_close(&c[IPC_MAX_PER_UID]);
	answer_held(f); /* into the void */
	run_for(f, 50);
	tc_connect(f, &c[0]);
	tc_expect_echo(f, &c[0], "echo");
	tc_close(&c[0]);
}

/* Ordinary users together stop short of the total: root still gets in,
 * up to the total. */
static void test_total_cap_and_reserve(void **state)
{
	struct fixture *f = *state;
	static struct tclient c[MAX_CLIENTS];
	int n = 0;

	f->srv.lim.per_uid = MAX_CLIENTS; /* one uid plays many users */
	f->trust = false;
	for (; n < IPC_MAX_UNTRUSTED; n++) {
		tc_connect(f, &c[n]);
		tc_expect_echo(f, &c[n], "echo");
	}
	tc_connect(f, &c[n]);
	assert_non_null(strstr(tc_expect_farewell(f, &c[n], 2000), "ordinary users"));
	tc_close(&c[n]);
	f->trust = true;
	for (; n < IPC_MAX_CLIENTS; n++) {
		tc_connect(f, &c[n]);
		tc_expect_echo(f, &c[n], "echo");
	}
	tc_connect(f, &c[n]);
	assert_non_null(strstr(tc_expect_farewell(f, &c[n], 2000), "already serves 128 clients"));
	for (int i = 0; i <= n; i++)
		tc_close(&c[i]);
}

/* A flood of connections that are refused holds nothing: each is closed
 * right after its sentence. */
static void test_refused_flood(void **state)
{
	struct fixture *f = *state;
	static struct tclient c[IPC_MAX_PER_UID], r;

	f->trust = false;
	for (int i = 0; i < IPC_MAX_PER_UID; i++) {
		tc_connect(f, &c[i]);
		tc_expect_echo(f, &c[i], "echo");
	}
	for (int i = 0; i < 500; i++) {
		tc_connect(f, &r);
		tc_expect_farewell(f, &r, 2000);
		tc_close(&r);
	}
	/* the 16 still work */
	for (int i = 0; i < IPC_MAX_PER_UID; i++) {
		tc_expect_echo(f, &c[i], "echo");
		tc_close(&c[i]);
	}
}

/* ---- deadlines ---- */

static void test_idle_client_cut(void **state)
{
	struct fixture *f = *state;
	struct tclient quiet, done;

	f->srv.lim.idle_ms = 300;
	f->trust = true; /* deadlines hold for root too */
	tc_connect(f, &quiet);
	assert_non_null(strstr(tc_expect_farewell(f, &quiet, 2000), "no complete request"));
	/* after an answer, the next request is due within the deadline too */
	tc_connect(f, &done);
	tc_expect_echo(f, &done, "echo");
	run_for(f, 150);
	tc_expect_echo(f, &done, "echo");
	tc_expect_farewell(f, &done, 2000);
	tc_close(&quiet);
	tc_close(&done);
}

/* A frame sent a byte every 50 ms never finishes: it is cut at the
 * deadline counted from its first byte, not kept alive by the dribble. */
static void test_dribbled_frame_cut(void **state)
{
	struct fixture *f = *state;
	struct tclient c;
	uint8_t hdr[FRAME_HEADER];
	uint64_t start;
	int sent = 0;

	f->srv.lim.idle_ms = 400;
	tc_connect(f, &c);
	tc_expect_echo(f, &c, "echo");
	frame_put_header(hdr, 1000);
	tc_send_raw(&c, hdr, sizeof(hdr));
	start = uv_now(&f->loop);
	while (!c.eof && uv_now(&f->loop) - start < 3000) {
		if (send(c.fd, "x", 1, MSG_NOSIGNAL) == 1)
			sent++;
		run_for(f, 50);
		tc_pump(&c);
	}
	assert_true(c.eof);
	assert_true(uv_now(&f->loop) - start < 1500);
	assert_true(sent < 1000);
	assert_int_equal(c.frames, 2); /* the echo and the sentence */
	tc_close(&c);
}

/* A request waiting for its answer is not cut, however long it waits;
 * once answered, the idle deadline runs again. */
static void test_waiting_request_kept(void **state)
{
	struct fixture *f = *state;
	struct tclient c;

	f->srv.lim.idle_ms = 200;
	tc_connect(f, &c);
	tc_send(&c, "hold");
	run_for(f, 1000);
	tc_pump(&c);
	assert_false(c.eof);
	assert_int_equal(c.frames, 0);
	assert_int_equal(f->n_held, 1);
	answer_held(f);
	tc_expect_frame(f, &c, 2000);
	assert_true(json_is_true(json_object_get(c.last, "ok")));
	tc_expect_farewell(f, &c, 2000);
	tc_close(&c);
}

/* While a request waits, a second frame begun and not finished is still
 * cut; the held answer then goes into the void. */
static void test_partial_frame_cut_while_waiting(void **state)
{
	struct fixture *f = *state;
	struct tclient c;
	uint8_t hdr[FRAME_HEADER];

	f->srv.lim.idle_ms = 200;
	tc_connect(f, &c);
	tc_send(&c, "hold");
	run_for(f, 400);
	frame_put_header(hdr, 100);
	tc_send_raw(&c, hdr, sizeof(hdr));
	tc_expect_farewell(f, &c, 2000);
	assert_int_equal(f->n_held, 1);
	answer_held(f);
	run_for(f, 50);
	tc_close(&c);
}

/* ---- replies left unread ---- */

static void test_unread_replies_close(void **state)
{
	struct fixture *f = *state;
	struct tclient c;
	int asked = 0;

	f->big = 256 * 1024;
	tc_connect(f, &c);
	/* 64 replies of 256 KiB (16 MiB) asked for, none read */
	for (; asked < 64 && tc_try_send(&c, "big"); asked++)
		run_for(f, 10);
	assert_true(loop_wait(&f->loop, got_eof, &c, 5000));
	assert_true(c.frames < 32);
	tc_close(&c);
}

/* ---- the CLI's side ---- */

static void test_cli_reads_refusal(void **state)
{
	struct fixture *f = *state;
	static struct tclient c[IPC_MAX_PER_UID];
	json_t *req = json_pack("{s:s, s:{}}", "cmd", "echo", "args"), *reply = NULL;
	int ret;

	f->trust = false;
	for (int i = 0; i < IPC_MAX_PER_UID; i++) {
		tc_connect(f, &c[i]);
		tc_expect_echo(f, &c[i], "echo");
	}
	/* ipc_call blocks: let a child be the CLI while the loop serves it */
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		ret = ipc_call(f->path, req, &reply, 2000);
		_exit(ret == 0 && !json_is_true(json_object_get(reply, "ok")) &&
				      strstr(json_string_value(json_object_get(reply, "error")),
					     "already holds")
			      ? 0
			      : 1);
	}
	int status = -1;

	for (int i = 0; i < 400 && waitpid(pid, &status, WNOHANG) == 0; i++)
		run_for(f, 10);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	json_decref(req);
	for (int i = 0; i < IPC_MAX_PER_UID; i++)
		tc_close(&c[i]);
}

/* Runs the loop while a child calls ipc_call_fds with n files: a temp
 * file holding "abc", an empty one, then copies of the first. Returns the
 * child's reply, as the child printed it into a pipe. */
static json_t *call_with_files(struct fixture *f, size_t n, int *in, int *out)
{
	char in_path[128], out_path[128], text[4096] = "";
	int fds[IPC_MAX_FDS + 4], pfd[2], status = -1;
	json_t *reply = NULL;
	ssize_t got;
	pid_t pid;

	snprintf(in_path, sizeof(in_path), "%s/in", f->dir);
	snprintf(out_path, sizeof(out_path), "%s/out", f->dir);
	*in = open(in_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	*out = open(out_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(*in >= 0 && *out >= 0);
	assert_int_equal(write(*in, "abc", 3), 3);
	fds[0] = *in;
	fds[1] = *out;
	for (size_t i = 2; i < n; i++)
		fds[i] = *in;
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		json_t *req = json_pack("{s:s, s:{}}", "cmd", "files", "args");
		int ret = n > IPC_MAX_FDS ? raw_call_fds(f->path, req, fds, n, &reply)
					  : ipc_call_fds(f->path, req, fds, n, &reply, 3000);
		char *s = ret == 0 ? json_dumps(reply, 0) : NULL;

		if (s && write(pfd[1], s, strlen(s)) < 0)
			_exit(2);
		_exit(s ? 0 : 1);
	}
	close(pfd[1]);
	for (int i = 0; i < 400 && waitpid(pid, &status, WNOHANG) == 0; i++)
		run_for(f, 10);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	got = read(pfd[0], text, sizeof(text) - 1);
	close(pfd[0]);
	assert_true(got > 0);
	reply = json_loads(text, 0, NULL);
	assert_non_null(reply);
	return reply;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* Files handed over with a request reach the handler in order and are the
 * caller's files (the daemon reads and writes them); what the handler did
 * not keep is closed with the reply, what it kept stays open. */
static void test_files_handed_over(void **state)
{
	struct fixture *f = *state;
	json_t *reply, *res, *fds;
	char back[8] = "";
	int in, out;

	reply = call_with_files(f, 4, &in, &out);
	assert_true(json_is_true(json_object_get(reply, "ok")));
	res = json_object_get(reply, "result");
	assert_int_equal(json_integer_value(json_object_get(res, "n")), 4);
	assert_int_equal(json_integer_value(json_object_get(res, "read")), 3);
	assert_int_equal(pread(out, back, sizeof(back), 0), 3);
	assert_memory_equal(back, "cba", 3);
	fds = json_object_get(res, "fds");
	assert_false(fd_open((int)json_integer_value(json_array_get(fds, 0))));
	assert_false(fd_open((int)json_integer_value(json_array_get(fds, 1))));
	assert_false(fd_open((int)json_integer_value(json_array_get(fds, 3))));
	assert_true(fd_open(f->kept));
	close(f->kept);
	close(in);
	close(out);
	json_decref(reply);
}

/* More files than one request may bring: refused with a sentence, and the
 * daemon keeps none of them. */
static void test_too_many_files(void **state)
{
	struct fixture *f = *state;
	long before = open_fds(), after;
	json_t *reply;
	int in, out;

	reply = call_with_files(f, IPC_MAX_FDS + 3, &in, &out);
	assert_false(json_is_true(json_object_get(reply, "ok")));
	assert_non_null(
		strstr(json_string_value(json_object_get(reply, "error")), "too many open files"));
	json_decref(reply);
	close(in);
	close(out);
	run_for(f, 20);
	after = open_fds();
	assert_int_equal(after, before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_per_uid_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_with_work_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_total_cap_and_reserve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_client_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dribbled_frame_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_waiting_request_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_frame_cut_while_waiting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unread_replies_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_reads_refusal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files_handed_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_files, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
