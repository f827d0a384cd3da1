/*
 * ipc_server: see ipc_server.h. A client lives until its pipe is closed and
 * every request it sent has been answered; `pending` counts the latter.
 */
#include "daemon/ipc_server.h"
#include "proto/frame.h"
#include "proto/ipc.h"
#include "proto/jsonpack.h"
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define IPC_MAX_PENDING 16

struct ipc_client {
	uv_pipe_t pipe;
	struct ipc_server *srv;
	struct frame_reader fr;
	uid_t uid;
	pid_t pid;
	int pending;
	int closed;        /* pipe close requested */
	int handle_gone;   /* close callback ran */
	struct ipc_client *next;
};

struct write_req {
	uv_write_t w;
	msgpack_sbuffer sb;
};

static void client_maybe_free(struct ipc_client *c)
{
	if (!c->handle_gone || c->pending > 0)
		return;
	frame_reader_close(&c->fr);
	free(c);
}

static void on_client_closed(uv_handle_t *h)
{
	struct ipc_client *c = h->data;

	c->handle_gone = 1;
	client_maybe_free(c);
}

static void client_close(struct ipc_client *c)
{
	struct ipc_client **pp;

	if (c->closed)
		return;
	c->closed = 1;
	for (pp = &c->srv->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void on_written(uv_write_t *w, int status)
{
	struct write_req *wr = (struct write_req *)w;

	msgpack_sbuffer_destroy(&wr->sb);
	free(wr);
}

static void send_json(struct ipc_client *c, json_t *msg)
{
	struct write_req *wr;
	uv_buf_t buf;

	if (c->closed)
		return;
	wr = calloc(1, sizeof(*wr));
	if (!wr)
		return;
	msgpack_sbuffer_init(&wr->sb);
	if (ipc_frame_encode(msg, &wr->sb) < 0) {
		msgpack_sbuffer_destroy(&wr->sb);
		wr->sb.data = NULL;
		msgpack_sbuffer_init(&wr->sb);
		json_t *e = json_pack("{s:b, s:s}", "ok", 0, "error",
				      "reply too large to send");
		ipc_frame_encode(e, &wr->sb);
		json_decref(e);
	}
	buf = uv_buf_init(wr->sb.data, (unsigned)wr->sb.size);
	if (uv_write(&wr->w, (uv_stream_t *)&c->pipe, &buf, 1, on_written) < 0) {
		msgpack_sbuffer_destroy(&wr->sb);
		free(wr);
		client_close(c);
	}
}

static void request_finish(struct ipc_request *req, json_t *reply)
{
	struct ipc_client *c = req->client;

	if (c) {
		send_json(c, reply);
		c->pending--;
		client_maybe_free(c);
	}
	json_decref(reply);
	json_decref(req->msg);
	free(req);
}

void ipc_reply(struct ipc_request *req, json_t *result)
{
	json_t *reply = json_object();

	json_object_set_new(reply, "ok", json_true());
	json_object_set_new(reply, "result", result ? result : json_object());
	request_finish(req, reply);
}

void ipc_reply_error(struct ipc_request *req, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	request_finish(req, json_pack("{s:b, s:s}", "ok", 0, "error", msg));
}

static void reply_now(struct ipc_client *c, const char *error)
{
	json_t *e = json_pack("{s:b, s:s}", "ok", 0, "error", error);

	send_json(c, e);
	json_decref(e);
}

static int on_frame(void *ud, const uint8_t *body, size_t len)
{
	struct ipc_client *c = ud;
	struct ipc_request *req;
	json_t *msg = NULL, *cmd, *args;

	if (jsonpack_decode(body, len, &msg) < 0) {
		log_warn("ipc: malformed request from pid %d dropped", (int)c->pid);
		return -EPROTO;
	}
	cmd = json_object_get(msg, "cmd");
	args = json_object_get(msg, "args");
	if (!json_is_string(cmd) || (args && !json_is_object(args))) {
		json_decref(msg);
		reply_now(c, "malformed request: expected {\"cmd\": string, \"args\": object}");
		return 0;
	}
	if (c->pending >= IPC_MAX_PENDING) {
		json_decref(msg);
		reply_now(c, "too many requests in flight on this connection");
		return 0;
	}
	if (!args) {
		args = json_object();
		json_object_set_new(msg, "args", args);
	}
	req = calloc(1, sizeof(*req));
	if (!req) {
		json_decref(msg);
		return -ENOMEM;
	}
	req->client = c;
	req->uid = c->uid;
	req->pid = c->pid;
	req->cmd = json_string_value(cmd);
	req->args = args;
	req->msg = msg;
	c->pending++;
	c->srv->dispatch(req, c->srv->ud);
	return 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char scratch[65536]; /* the loop is single-threaded */

	(void)h;
	(void)hint;
	buf->base = scratch;
	buf->len = sizeof(scratch);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct ipc_client *c = s->data;

	if (n < 0) {
		client_close(c);
		return;
	}
	if (n == 0)
		return;
	/* Hold a reference: a synchronous reply cannot free c mid-feed. */
	c->pending++;
	if (frame_reader_feed(&c->fr, buf->base, (size_t)n, on_frame, c) < 0)
		client_close(c);
	c->pending--;
	client_maybe_free(c);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct ipc_server *s = server->data;
	struct ipc_client *c;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uv_os_fd_t fd;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->srv = s;
	frame_reader_init(&c->fr, IPC_MAX_REQUEST);
	uv_pipe_init(s->loop, &c->pipe, 0);
	c->pipe.data = c;
	c->next = s->clients;
	s->clients = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0 ||
	    uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		client_close(c);
		return;
	}
	c->uid = cred.uid;
	c->pid = cred.pid;
	uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

int ipc_server_init(struct ipc_server *s, uv_loop_t *loop, const char *path,
		    ipc_dispatch_fn dispatch, void *ud)
{
	int ret;

	memset(s, 0, sizeof(*s));
	if (strlen(path) >= sizeof(s->path))
		return -ENAMETOOLONG;
	strcpy(s->path, path);
	s->loop = loop;
	s->dispatch = dispatch;
	s->ud = ud;
	uv_pipe_init(loop, &s->pipe, 0);
	s->pipe.data = s;
	unlink(path);
	ret = uv_pipe_bind(&s->pipe, path);
	if (ret == 0)
		ret = uv_listen((uv_stream_t *)&s->pipe, 16, on_connection);
	if (ret < 0) {
		uv_close((uv_handle_t *)&s->pipe, NULL);
		return ret;
	}
	chmod(path, 0666);
	s->listening = 1;
	return 0;
}

void ipc_server_close(struct ipc_server *s)
{
	if (!s->listening)
		return;
	while (s->clients)
		client_close(s->clients);
	uv_close((uv_handle_t *)&s->pipe, NULL);
	unlink(s->path);
	s->listening = 0;
}
