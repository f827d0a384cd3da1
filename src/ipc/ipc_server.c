/*
 * ipc_server: see ipc_server.h. A client lives until its two handles (pipe
 * and deadline timer) are closed and every request it sent has been
 * answered; `pending` counts the latter. It stays on the server's list, and
 * counts against the caps, all that time.
 */
#include "ipc/ipc_server.h"
#include "util/frame.h"
#include "proto/ipc.h"
#include "proto/jsonpack.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define IPC_MAX_PENDING 16
#define FAREWELL_MS 1000 /* for the last frame to leave, then close anyway */

struct ipc_client {
	uv_pipe_t pipe;
	uv_timer_t timer;       /* the deadline, see client_deadline */
	struct ipc_server *srv; /* NULL once the server is closed */
	struct frame_reader fr;
	uid_t uid;
	pid_t pid;
	bool trusted;
	bool refused; /* over a cap: counts against none */
	bool leaving; /* told why it is closed; waiting for that to leave */
	bool closed;  /* handle close requested */
	int handles;  /* open uv handles */
	int pending;
	unsigned frames;        /* complete requests received */
	int fds[LIMIT_IPC_FDS]; /* handed over, for the next request */
	size_t n_fds;
	bool fds_over; /* more came than one request may bring */
	struct ipc_client *next;
};

struct write_req {
	uv_write_t w;
	msgpack_sbuffer sb;
	struct ipc_client *close_after; /* the farewell: close once written */
};

static void client_unlink(struct ipc_client *c)
{
	struct ipc_client **pp;

	if (!c->srv)
		return;
	for (pp = &c->srv->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	c->srv = NULL;
}

static void close_fds(int *fds, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	*n = 0;
}

static void client_maybe_free(struct ipc_client *c)
{
	if (c->handles > 0 || c->pending > 0)
		return;
	close_fds(c->fds, &c->n_fds);
	client_unlink(c);
	frame_reader_close(&c->fr);
	free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct ipc_client *c = h->data;

	c->handles--;
	client_maybe_free(c);
}

static void client_close(struct ipc_client *c)
{
	if (c->closed)
		return;
	c->closed = true;
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->pipe, on_handle_closed);
}

static void on_written(uv_write_t *w, int status)
{
	struct write_req *wr = (struct write_req *)w;

	(void)status;
	if (wr->close_after)
		client_close(wr->close_after);
	msgpack_sbuffer_destroy(&wr->sb);
	free(wr);
}

/* Queues msg; close_after makes it the last frame the client gets. */
static void send_json(struct ipc_client *c, json_t *msg, bool close_after)
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
		json_t *e = json_pack("{s:b, s:s}", "ok", 0, "error", "reply too large to send");
		ipc_frame_encode(e, &wr->sb);
		json_decref(e);
	}
	wr->close_after = close_after ? c : NULL;
	buf = uv_buf_init(wr->sb.data, (unsigned)wr->sb.size);
	if (uv_write(&wr->w, (uv_stream_t *)&c->pipe, &buf, 1, on_written) < 0) {
		msgpack_sbuffer_destroy(&wr->sb);
		free(wr);
		client_close(c);
		return;
	}
	/* Replies it does not read would otherwise pile up here. */
	if (c->srv &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > c->srv->lim.unread) {
		log_debug("ipc: pid %d leaves its replies unread, closing", (int)c->pid);
		client_close(c);
	}
}

static void on_farewell_late(uv_timer_t *t)
{
	client_close(t->data);
}

/* One error frame saying why, then the close; nothing more is read. */
static void client_farewell(struct ipc_client *c, const char *why)
{
	json_t *e;

	if (c->leaving || c->closed)
		return;
	c->leaving = true;
	uv_read_stop((uv_stream_t *)&c->pipe);
	/* A client that reads nothing must not keep even this one alive. */
	uv_timer_start(&c->timer, on_farewell_late, FAREWELL_MS, 0);
	e = json_pack("{s:b, s:s}", "ok", 0, "error", why);
	send_json(c, e, true);
	json_decref(e);
}

static void on_deadline(uv_timer_t *t)
{
	struct ipc_client *c = t->data;
	char why[128];

	log_debug("ipc: pid %d sent no complete request in time, closing", (int)c->pid);
	snprintf(why, sizeof(why), "closed: no complete request within %llu s",
		 (unsigned long long)(c->srv ? c->srv->lim.idle_ms / 1000 : 0));
	client_farewell(c, why);
}

/*
 * Sets the one deadline after c's state changed. A request that arrived
 * (progressed) met the deadline running; then the next one runs while a
 * frame is begun or nothing is in flight, and none while c only waits for
 * answers. Bytes of an unfinished frame never restart a running deadline.
 */
static void client_deadline(struct ipc_client *c, bool progressed)
{
	if (c->closed || c->leaving || !c->srv)
		return;
	if (progressed)
		uv_timer_stop(&c->timer);
	if (c->fr.b.len == 0 && c->pending > 0) {
		uv_timer_stop(&c->timer);
		return;
	}
	if (!uv_is_active((uv_handle_t *)&c->timer))
		uv_timer_start(&c->timer, on_deadline, c->srv->lim.idle_ms, 0);
}

static void request_finish(struct ipc_request *req, json_t *reply)
{
	struct ipc_client *c = req->client;

	if (c) {
		send_json(c, reply, false);
		c->pending--;
		client_deadline(c, false);
		client_maybe_free(c);
	} else if (req->done) {
		req->done(req->done_ud,
			  json_is_true(json_object_get(reply, "ok"))
				  ? json_object_get(reply, "result")
				  : NULL,
			  json_string_value(json_object_get(reply, "error")));
	}
	json_decref(reply);
	json_decref(req->msg);
	close_fds(req->fds, &req->n_fds);
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

struct ipc_request *ipc_request_internal(const char *cmd, json_t *args, uid_t uid, ipc_done_fn done,
					 void *ud)
{
	struct ipc_request *req = calloc(1, sizeof(*req));
	json_t *msg = json_pack("{s:s, s:o}", "cmd", cmd, "args", args ? args : json_object());

	if (!req || !msg) {
		free(req);
		json_decref(msg);
		return NULL;
	}
	req->uid = uid;
	req->pid = getpid();
	req->msg = msg;
	req->cmd = json_string_value(json_object_get(msg, "cmd"));
	req->args = json_object_get(msg, "args");
	req->done = done;
	req->done_ud = ud;
	return req;
}

static void reply_now(struct ipc_client *c, const char *error)
{
	json_t *e = json_pack("{s:b, s:s}", "ok", 0, "error", error);

	send_json(c, e, false);
	json_decref(e);
}

static int on_frame(void *ud, const uint8_t *body, size_t len)
{
	struct ipc_client *c = ud;
	struct ipc_request *req;
	json_t *msg = NULL, *cmd, *args;

	c->frames++;
	if (c->closed || c->leaving)
		return -ECANCELED;
	if (jsonpack_decode(body, len, &msg) < 0) {
		if (ipc_server_log_ok(c->srv))
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
	if (c->fds_over) {
		json_decref(msg);
		c->fds_over = false;
		close_fds(c->fds, &c->n_fds);
		reply_now(c, "too many open files handed over with one request");
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
	memcpy(req->fds, c->fds, c->n_fds * sizeof(int));
	req->n_fds = c->n_fds;
	c->n_fds = 0;
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

static void on_taken_closed(uv_handle_t *h)
{
	free(h);
}

/* The next file the client handed over, as our own descriptor, or -1.
 * libuv gives passed descriptors out only into a stream handle, so one is
 * made for it, its descriptor copied, and the handle closed again. */
static int take_fd(struct ipc_client *c)
{
	uv_pipe_t *tmp = malloc(sizeof(*tmp));
	uv_os_fd_t raw;
	int fd = -1;

	if (!tmp)
		return -1;
	uv_pipe_init(c->pipe.loop, tmp, 0);
	if (uv_accept((uv_stream_t *)&c->pipe, (uv_stream_t *)tmp) == 0 &&
	    uv_fileno((uv_handle_t *)tmp, &raw) == 0)
		fd = fcntl(raw, F_DUPFD_CLOEXEC, 0);
	uv_close((uv_handle_t *)tmp, on_taken_closed);
	return fd;
}

/* Files that came with this read belong to the request its bytes end. */
static void collect_fds(struct ipc_client *c)
{
	while (uv_pipe_pending_count(&c->pipe) > 0) {
		int fd = take_fd(c);

		if (fd < 0) {
			c->fds_over = true; /* could not take it: refuse the request */
			continue;
		}
		if (c->n_fds < LIMIT_IPC_FDS) {
			c->fds[c->n_fds++] = fd;
			continue;
		}
		close(fd);
		c->fds_over = true;
	}
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct ipc_client *c = s->data;
	unsigned frames = c->frames;

	if (n < 0) {
		client_close(c);
		return;
	}
	collect_fds(c);
	if (n == 0)
		return;
	/* Hold a reference: a synchronous reply cannot free c mid-feed. */
	c->pending++;
	if (frame_reader_feed(&c->fr, buf->base, (size_t)n, on_frame, c) < 0)
		client_close(c);
	c->pending--;
	client_deadline(c, c->frames != frames);
	client_maybe_free(c);
}

/* Why c may not stay (into buf), or NULL. Every client not yet freed
 * counts, closed ones with answers owed included; refused ones do not. */
static const char *over_cap(const struct ipc_server *s, const struct ipc_client *c, char *buf,
			    size_t len)
{
	unsigned all = 0, untrusted = 0, same = 0;

	for (const struct ipc_client *o = s->clients; o; o = o->next) {
		if (o == c || o->refused)
			continue;
		all++;
		untrusted += !o->trusted;
		same += o->uid == c->uid;
	}
	if (all >= s->lim.clients) {
		snprintf(buf, len,
			 "the daemon already serves %u clients; try again once some 'ray' commands have ended",
			 all);
		return buf;
	}
	if (c->trusted)
		return NULL;
	if (same >= s->lim.per_uid) {
		snprintf(buf, len,
			 "uid %u already holds %u connections to the daemon (the most one user may); end some 'ray' commands first",
			 (unsigned)c->uid, same);
		return buf;
	}
	if (untrusted >= s->lim.untrusted) {
		snprintf(buf, len,
			 "the daemon already serves %u clients of ordinary users; try again later",
			 untrusted);
		return buf;
	}
	return NULL;
}

static struct ipc_client *client_new(struct ipc_server *s)
{
	struct ipc_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->srv = s;
	frame_reader_init(&c->fr, IPC_MAX_REQUEST);
	uv_pipe_init(s->loop, &c->pipe, 1); /* ipc: files may be handed over */
	uv_timer_init(s->loop, &c->timer);
	c->pipe.data = c->timer.data = c;
	c->handles = 2;
	c->next = s->clients;
	s->clients = c;
	return c;
}

static int client_credentials(struct ipc_client *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -EPROTO;
	c->uid = cred.uid;
	c->pid = cred.pid;
	c->trusted = c->srv->trusted ? c->srv->trusted(cred.uid, c->srv->ud) : cred.uid == 0;
	return 0;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct ipc_server *s = server->data;
	struct ipc_client *c;
	const char *why;
	char buf[192];

	if (status < 0)
		return;
	c = client_new(s);
	if (!c)
		return;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0 || client_credentials(c) < 0) {
		client_close(c);
		return;
	}
	why = over_cap(s, c, buf, sizeof(buf));
	if (why) {
		/* log_debug: any local user can make this line as often as it likes */
		log_debug("ipc: pid %d of uid %u refused: %s", (int)c->pid, (unsigned)c->uid, why);
		c->refused = true;
		client_farewell(c, why);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
	client_deadline(c, false);
}

int ipc_server_init(struct ipc_server *s, uv_loop_t *loop, const char *path,
		    ipc_dispatch_fn dispatch, ipc_trusted_fn trusted, void *ud)
{
	int ret;

	memset(s, 0, sizeof(*s));
	if (strlen(path) >= sizeof(s->path))
		return -ENAMETOOLONG;
	strcpy(s->path, path);
	s->loop = loop;
	s->dispatch = dispatch;
	s->trusted = trusted;
	s->ud = ud;
	s->lim = (struct ipc_limits){ IPC_MAX_CLIENTS, IPC_MAX_UNTRUSTED, IPC_MAX_PER_UID,
				      IPC_IDLE_MS, IPC_MAX_UNREAD };
	ratelimit_init(&s->log_rl, IPC_LOG_BURST, IPC_LOG_EVERY_MS);
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

bool ipc_server_log_ok(struct ipc_server *s)
{
	return ratelimit_take(&s->log_rl, uv_now(s->loop));
}

/* Clients with answers owed outlive the server: they forget it here. */
void ipc_server_close(struct ipc_server *s)
{
	if (!s->listening)
		return;
	for (struct ipc_client *c = s->clients; c; c = c->next)
		client_close(c);
	while (s->clients)
		client_unlink(s->clients);
	uv_close((uv_handle_t *)&s->pipe, NULL);
	unlink(s->path);
	s->listening = 0;
}
