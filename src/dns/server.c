/*
 * server: see server.h. Three kinds of state live here: the two listening
 * handles (heap, owned by struct dns_server), one heap dns_conn per TCP client
 * and one heap dns_fwd per query sent upstream. A forward points at its TCP
 * client; when the client goes first the pointer is cleared and the answer
 * is dropped. Callbacks never touch the server after dns_server_close,
 * because every handle that could call back is closed there.
 */
#include "dns/server.h"
#include "dns/answer.h"
#include "dns/upstream.h"
#include "util/log.h"
#include "util/buf.h"
#include "util/bytes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <ldns/ldns.h>

#define TCP_BUF_MAX (2 * 65536 + 2)

struct fwd_sock {
	uv_udp_t h; /* h.data = the forward, NULL once retired */
	int family;
};

struct dns_fwd {
	struct dns_server *s;
	struct dns_fwd *prev, *next;
	struct dns_conn *conn; /* TCP client; NULL for UDP or gone */
	int from_tcp;
	struct sockaddr_storage client; /* UDP client */
	uint16_t client_id, up_id;
	uint8_t *query; /* owned; carries up_id */
	size_t len;
	struct sockaddr_storage up[DNS_MAX_UPSTREAMS];
	size_t n_up, cur;
	struct fwd_sock *sock;
	uv_timer_t timer; /* its close callback frees the forward */
};

struct dns_conn {
	struct dns_server *s;
	struct dns_conn *prev, *next;
	uv_tcp_t h;
	uv_timer_t idle;
	struct buf in;    /* partial messages */
	unsigned pending; /* forwards in flight for this client */
	int reading, eof, closing, handles;
	int busy; /* inside conn_process: no re-entry */
};

struct wreq {
	uv_write_t req;
	uint8_t data[];
};

static void handle_query(struct dns_server *s, struct dns_conn *c, const struct sockaddr *from,
			 const uint8_t *q, size_t len);
static void conn_after_forward(struct dns_conn *c);

static int addr_eq(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (a->sa_family != b->ss_family)
		return 0;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return 0;
}

int dns_addr_parse(const char *text, uint16_t default_port, struct sockaddr_storage *out)
{
	char host[64];
	const char *port = NULL, *end;
	unsigned long p = default_port;
	size_t hl;
	char *e;

	memset(out, 0, sizeof(*out));
	if (!text || !*text)
		return -EINVAL;
	if (text[0] == '[') {
		end = strchr(text, ']');
		if (!end || (end[1] != 0 && end[1] != ':'))
			return -EINVAL;
		hl = (size_t)(end - text - 1);
		text++;
		if (end[1] == ':')
			port = end + 2;
	} else {
		end = strchr(text, ':');
		/* One colon: v4 with a port; more: a bare v6 address. */
		if (end && !strchr(end + 1, ':')) {
			hl = (size_t)(end - text);
			port = end + 1;
		} else {
			hl = strlen(text);
		}
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, hl);
	host[hl] = 0;
	if (port) {
		errno = 0;
		p = strtoul(port, &e, 10);
		if (errno || !*port || *e || p > 65535)
			return -EINVAL;
	}
	if (uv_ip4_addr(host, (int)p, (struct sockaddr_in *)out) == 0)
		return 0;
	if (uv_ip6_addr(host, (int)p, (struct sockaddr_in6 *)out) == 0)
		return 0;
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

/* ---------------------------------------------------------------- replies */

static void on_written(uv_write_t *req, int status)
{
	struct dns_conn *c = req->handle->data;

	free(req);
	if (status < 0 && status != UV_ECANCELED && c)
		log_debug("dns: tcp write failed: %s", uv_strerror(status));
}

static void conn_close(struct dns_conn *c);

static void conn_write(struct dns_conn *c, const uint8_t *data, size_t len)
{
	struct dns_server *s = c->s;
	struct wreq *w;
	uv_buf_t b;

	if (c->closing || len > 65535) {
		s->stats.dropped++;
		return;
	}
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->h) + len > DNS_TCP_MAX_QUEUED) {
		/* The client does not read its answers: stop serving it. */
		s->stats.dropped++;
		conn_close(c);
		return;
	}
	w = malloc(sizeof(*w) + 2 + len);
	if (!w) {
		s->stats.dropped++;
		return;
	}
	be16_put(w->data, (uint16_t)len);
	memcpy(w->data + 2, data, len);
	b = uv_buf_init((char *)w->data, (unsigned)(len + 2));
	if (uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, on_written) < 0) {
		free(w);
		s->stats.dropped++;
		conn_close(c);
		return;
	}
	uv_timer_again(&c->idle);
}

/* Sends a reply to a TCP client (c) or a UDP client (to). */
static void deliver(struct dns_server *s, struct dns_conn *c, const struct sockaddr *to,
		    const uint8_t *data, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);

	if (c) {
		conn_write(c, data, len);
		return;
	}
	if (!to || !s->udp || uv_udp_try_send(s->udp, &b, 1, to) < 0)
		s->stats.dropped++;
}

/* -------------------------------------------------------------- forwards */

static void on_fwd_timer_closed(uv_handle_t *h)
{
	struct dns_fwd *f = h->data;

	free(f->query);
	free(f);
}

static void on_sock_closed(uv_handle_t *h)
{
	free(h);
}

static void sock_retire(struct dns_fwd *f)
{
	if (!f->sock)
		return;
	f->sock->h.data = NULL;
	uv_udp_recv_stop(&f->sock->h);
	uv_close((uv_handle_t *)&f->sock->h, on_sock_closed);
	f->sock = NULL;
}

/* Unlinks and frees the forward; the client has had its answer (or not). */
static void fwd_end(struct dns_fwd *f)
{
	struct dns_server *s = f->s;
	struct dns_conn *c = f->conn;

	if (f->prev)
		f->prev->next = f->next;
	else
		s->fwds = f->next;
	if (f->next)
		f->next->prev = f->prev;
	s->n_fwds--;
	sock_retire(f);
	uv_timer_stop(&f->timer);
	uv_close((uv_handle_t *)&f->timer, on_fwd_timer_closed);
	if (c) {
		c->pending--;
		conn_after_forward(c);
	}
}

static void fwd_reply(struct dns_fwd *f, const uint8_t *data, size_t len)
{
	if (f->from_tcp && !f->conn)
		return; /* the TCP client left meanwhile */
	deliver(f->s, f->conn, f->from_tcp ? NULL : (const struct sockaddr *)&f->client, data, len);
}

static void fwd_fail(struct dns_fwd *f)
{
	struct dns_result res;

	f->s->stats.servfail++;
	be16_put(f->query, f->client_id);
	if (dns_answer_error(f->query, f->len, LDNS_RCODE_SERVFAIL, &res) == 0) {
		fwd_reply(f, res.reply, res.len);
		free(res.reply);
	}
	fwd_end(f);
}

/* An upstream answer we may relay: from an upstream tried so far, and
 * answering our query (dns_reply_matches). */
static int fwd_accepts(const struct dns_fwd *f, const struct sockaddr *from, const uint8_t *r,
		       size_t len)
{
	int from_ok = 0;

	for (size_t i = 0; i <= f->cur && i < f->n_up; i++)
		from_ok |= addr_eq(from, &f->up[i]);
	return from_ok && dns_reply_matches(f->query, f->len, r, len);
}

static void on_fwd_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct dns_fwd *f = h->data;

	if (!f) {
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	*buf = uv_buf_init((char *)f->s->rbuf, sizeof(f->s->rbuf));
}

static void on_fwd_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
			const struct sockaddr *from, unsigned flags)
{
	struct dns_fwd *f = h->data;
	uint8_t *r = (uint8_t *)buf->base;

	if (!f || nread <= 0 || !from || (flags & UV_UDP_PARTIAL))
		return;
	if (!fwd_accepts(f, from, r, (size_t)nread)) {
		log_debug("dns: ignoring a stray upstream packet");
		return;
	}
	dns_reply_set_id(r, f->client_id);
	f->s->stats.relayed++;
	fwd_reply(f, r, (size_t)nread);
	fwd_end(f);
}

static int sock_open(struct dns_fwd *f, int family)
{
	struct sockaddr_storage any;
	struct fwd_sock *k;
	int ret;

	memset(&any, 0, sizeof(any));
	any.ss_family = (sa_family_t)family;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	ret = uv_udp_init(f->s->loop, &k->h);
	if (ret < 0) {
		free(k);
		return ret;
	}
	k->family = family;
	k->h.data = f;
	f->sock = k;
	ret = uv_udp_bind(&k->h, (const struct sockaddr *)&any, 0);
	if (ret == 0)
		ret = uv_udp_recv_start(&k->h, on_fwd_alloc, on_fwd_recv);
	if (ret < 0)
		sock_retire(f);
	return ret;
}

static int fwd_send(struct dns_fwd *f, const struct sockaddr_storage *to)
{
	uv_buf_t b = uv_buf_init((char *)f->query, (unsigned)f->len);
	int ret;

	if (f->sock && f->sock->family != to->ss_family)
		sock_retire(f);
	if (!f->sock) {
		ret = sock_open(f, to->ss_family);
		if (ret < 0)
			return ret;
	}
	ret = uv_udp_try_send(&f->sock->h, &b, 1, (const struct sockaddr *)to);
	return ret < 0 ? ret : 0;
}

static void on_fwd_timeout(uv_timer_t *t);

/* Sends to upstream cur, or the next that takes the packet; else SERVFAIL. */
static void fwd_try(struct dns_fwd *f)
{
	while (f->cur < f->n_up) {
		int ret = fwd_send(f, &f->up[f->cur]);

		if (ret == 0) {
			f->s->stats.forwarded++;
			uv_timer_start(&f->timer, on_fwd_timeout, f->s->timeout_ms, 0);
			return;
		}
		log_debug("dns: upstream %zu: send failed: %s", f->cur, uv_strerror(ret));
		f->cur++;
	}
	fwd_fail(f);
}

static void on_fwd_timeout(uv_timer_t *t)
{
	struct dns_fwd *f = t->data;

	f->cur++;
	fwd_try(f);
}

static void fwd_start(struct dns_server *s, struct dns_conn *c, const struct sockaddr *from,
		      const uint8_t *q, size_t len)
{
	struct dns_result res;
	struct dns_fwd *f;

	if (s->n_up == 0 || s->n_fwds >= s->max_forwards) {
		s->stats.servfail++;
		if (dns_answer_error(q, len, LDNS_RCODE_SERVFAIL, &res) == 0) {
			deliver(s, c, from, res.reply, res.len);
			free(res.reply);
		}
		return;
	}
	f = calloc(1, sizeof(*f));
	if (!f || !(f->query = malloc(len))) {
		free(f);
		s->stats.dropped++;
		return;
	}
	f->s = s;
	f->conn = c;
	f->from_tcp = c != NULL;
	if (from)
		memcpy(&f->client, from,
		       from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						   : sizeof(struct sockaddr_in));
	memcpy(f->query, q, len);
	f->len = len;
	f->client_id = be16_get(q);
	if (getrandom(&f->up_id, sizeof(f->up_id), 0) != sizeof(f->up_id))
		f->up_id = (uint16_t)(uv_hrtime() ^ (uintptr_t)f);
	be16_put(f->query, f->up_id);
	memcpy(f->up, s->up, sizeof(s->up));
	f->n_up = s->n_up;
	uv_timer_init(s->loop, &f->timer);
	f->timer.data = f;
	f->next = s->fwds;
	if (s->fwds)
		s->fwds->prev = f;
	s->fwds = f;
	s->n_fwds++;
	if (c)
		c->pending++;
	fwd_try(f);
}

/* ------------------------------------------------------------- queries */

static void handle_query(struct dns_server *s, struct dns_conn *c, const struct sockaddr *from,
			 const uint8_t *q, size_t len)
{
	struct dns_result res;

	s->stats.queries++;
	if (dns_answer_query(s->table, q, len, c != NULL, &res) < 0) {
		s->stats.dropped++;
		return;
	}
	switch (res.verdict) {
	case DNS_DROP:
		s->stats.dropped++;
		break;
	case DNS_FORWARD:
		fwd_start(s, c, from, q, len);
		break;
	case DNS_REPLY:
		s->stats.answered++;
		if (res.rcode == LDNS_RCODE_NXDOMAIN)
			s->stats.nxdomain++;
		else if (res.rcode == LDNS_RCODE_FORMERR)
			s->stats.formerr++;
		deliver(s, c, from, res.reply, res.len);
		free(res.reply);
		break;
	}
}

static void on_udp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct dns_server *s = h->data;

	*buf = uv_buf_init((char *)s->rbuf, sizeof(s->rbuf));
}

static void on_udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
			const struct sockaddr *from, unsigned flags)
{
	struct dns_server *s = h->data;

	if (nread < 0) {
		log_debug("dns: udp receive: %s", uv_strerror((int)nread));
		return;
	}
	if (!from)
		return; /* nothing more to read this round */
	if (flags & UV_UDP_PARTIAL) {
		s->stats.dropped++;
		return;
	}
	handle_query(s, NULL, from, (const uint8_t *)buf->base, (size_t)nread);
}

/* ------------------------------------------------------------------ TCP */

static void on_conn_handle_closed(uv_handle_t *h)
{
	struct dns_conn *c = h->data;

	if (--c->handles > 0)
		return;
	buf_free(&c->in);
	free(c);
}

static void conn_close(struct dns_conn *c)
{
	struct dns_server *s = c->s;

	if (c->closing)
		return;
	c->closing = 1;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	for (struct dns_fwd *f = s->fwds; f; f = f->next)
		if (f->conn == c)
			f->conn = NULL;
	uv_timer_stop(&c->idle);
	uv_close((uv_handle_t *)&c->idle, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->h, on_conn_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct dns_conn *c = req->handle->data;

	free(req);
	if (status != UV_ECANCELED)
		conn_close(c);
}

/* The client is done sending and has every answer: finish writing, close. */
static void conn_finish(struct dns_conn *c)
{
	uv_shutdown_t *req;

	if (c->closing)
		return;
	req = malloc(sizeof(*req));
	if (!req || uv_shutdown(req, (uv_stream_t *)&c->h, on_shutdown) < 0) {
		free(req);
		conn_close(c);
	}
}

static void on_conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct dns_conn *c = h->data;

	*buf = uv_buf_init((char *)c->s->rbuf, sizeof(c->s->rbuf));
}

static void on_conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* Handles every whole message buffered, as far as the pending cap allows. */
static void conn_process(struct dns_conn *c)
{
	size_t off = 0;

	/* A forward failing at once ends inside handle_query and lands here
	 * again; the outer call still owns the buffer offsets. */
	if (c->busy)
		return;
	c->busy = 1;
	while (!c->closing && c->pending < DNS_TCP_MAX_PENDING && c->in.len - off >= 2) {
		size_t n = be16_get(c->in.data + off);

		if (c->in.len - off - 2 < n)
			break;
		handle_query(c->s, c, NULL, c->in.data + off + 2, n);
		off += 2 + n;
	}
	c->busy = 0;
	if (c->closing)
		return;
	buf_consume(&c->in, off);
	if (c->pending >= DNS_TCP_MAX_PENDING && c->reading) {
		uv_read_stop((uv_stream_t *)&c->h);
		c->reading = 0;
	} else if (c->pending < DNS_TCP_MAX_PENDING && !c->reading && !c->eof) {
		if (uv_read_start((uv_stream_t *)&c->h, on_conn_alloc, on_conn_read) == 0)
			c->reading = 1;
	}
	if (c->eof && c->pending == 0)
		conn_finish(c);
}

static void conn_after_forward(struct dns_conn *c)
{
	if (c->closing)
		return;
	uv_timer_again(&c->idle);
	conn_process(c);
}

static void on_conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct dns_conn *c = st->data;

	if (nread == 0 || c->closing)
		return;
	if (nread < 0) {
		if (nread != UV_EOF) {
			conn_close(c);
			return;
		}
		uv_read_stop(st);
		c->reading = 0;
		c->eof = 1;
		conn_process(c);
		return;
	}
	if (buf_append(&c->in, buf->base, (size_t)nread) < 0) {
		c->s->stats.dropped++;
		conn_close(c);
		return;
	}
	uv_timer_again(&c->idle);
	conn_process(c);
}

static void on_idle(uv_timer_t *t)
{
	struct dns_conn *c = t->data;

	/* A forward still running will answer within its own deadline. */
	if (c->pending > 0)
		return;
	log_debug("dns: closing an idle tcp client");
	conn_close(c);
}

static void on_connection(uv_stream_t *ls, int status)
{
	struct dns_server *s = ls->data;
	struct dns_conn *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->s = s;
	buf_init(&c->in, TCP_BUF_MAX);
	uv_tcp_init(s->loop, &c->h);
	uv_timer_init(s->loop, &c->idle);
	c->h.data = c;
	c->idle.data = c;
	c->handles = 2;
	/* Link first so conn_close can unlink uniformly. */
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	if (uv_accept(ls, (uv_stream_t *)&c->h) < 0) {
		conn_close(c);
		return;
	}
	if (s->n_conns > s->tcp_max_conns) {
		s->stats.dropped++;
		conn_close(c);
		return;
	}
	uv_timer_start(&c->idle, on_idle, s->tcp_idle_ms, s->tcp_idle_ms);
	if (uv_read_start((uv_stream_t *)&c->h, on_conn_alloc, on_conn_read) < 0) {
		conn_close(c);
		return;
	}
	c->reading = 1;
}

/* ------------------------------------------------------------ lifetime */

int dns_server_set_upstreams(struct dns_server *s, const char *const *ups, size_t n)
{
	struct sockaddr_storage a;
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (dns_addr_parse(ups[i], 53, &a) < 0)
			return -EINVAL;
	for (size_t i = 0; i < n && k < DNS_MAX_UPSTREAMS; i++) {
		dns_addr_parse(ups[i], 53, &a);
		if (addr_eq((const struct sockaddr *)&a, &s->addr)) {
			log_warn("dns: upstream %s is this server; skipped", ups[i]);
			continue;
		}
		s->up[k++] = a;
	}
	if (k < n)
		log_debug("dns: using %zu of %zu upstreams", k, n);
	s->n_up = k;
	return (int)k;
}

uint16_t dns_server_port(const struct dns_server *s)
{
	if (s->addr.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&s->addr)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&s->addr)->sin_port);
}

static int bind_both(struct dns_server *s)
{
	int len = sizeof(s->addr);
	int ret;

	ret = uv_udp_bind(s->udp, (const struct sockaddr *)&s->addr, 0);
	if (ret < 0)
		return ret;
	/* Learn the real port so TCP can take the same one (port 0 in tests). */
	ret = uv_udp_getsockname(s->udp, (struct sockaddr *)&s->addr, &len);
	if (ret < 0)
		return ret;
	ret = uv_tcp_bind(s->tcp, (const struct sockaddr *)&s->addr, 0);
	if (ret == 0)
		ret = uv_listen((uv_stream_t *)s->tcp, 64, on_connection);
	if (ret == 0)
		ret = uv_udp_recv_start(s->udp, on_udp_alloc, on_udp_recv);
	return ret;
}

static void on_listener_closed(uv_handle_t *h)
{
	free(h);
}

/*
 * The listeners live on the heap rather than in the struct: a failed bind
 * (a port someone else holds) must leave the caller free to drop the
 * struct at once, and a handle being closed stays queued in the loop until
 * it next runs.
 */
static int listeners_open(struct dns_server *s)
{
	int ret;

	s->udp = calloc(1, sizeof(*s->udp));
	if (!s->udp)
		return -ENOMEM;
	ret = uv_udp_init(s->loop, s->udp);
	if (ret < 0) {
		free(s->udp);
		s->udp = NULL;
		return ret;
	}
	s->udp->data = s;
	s->tcp = calloc(1, sizeof(*s->tcp));
	if (!s->tcp)
		return -ENOMEM; /* dns_server_close closes udp */
	ret = uv_tcp_init(s->loop, s->tcp);
	if (ret < 0) {
		free(s->tcp);
		s->tcp = NULL;
		return ret;
	}
	s->tcp->data = s;
	return 0;
}

int dns_server_init(struct dns_server *s, uv_loop_t *loop, const struct dns_table *table,
		    const struct dns_server_config *cfg)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->table = table;
	s->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : DNS_DEFAULT_TIMEOUT_MS;
	s->max_forwards = cfg->max_forwards ? cfg->max_forwards : DNS_DEFAULT_MAX_FORWARDS;
	s->tcp_max_conns = cfg->tcp_max_conns ? cfg->tcp_max_conns : DNS_DEFAULT_TCP_CONNS;
	s->tcp_idle_ms = cfg->tcp_idle_ms ? cfg->tcp_idle_ms : DNS_DEFAULT_TCP_IDLE_MS;
	if (dns_addr_parse(cfg->listen, 53, &s->addr) < 0)
		return -EINVAL;
	ret = listeners_open(s);
	if (ret < 0)
		goto out;
	ret = bind_both(s);
	if (ret < 0)
		goto out;
	ret = dns_server_set_upstreams(s, cfg->upstreams, cfg->n_upstreams);
	if (ret < 0)
		goto out;
	log_info("dns: serving on port %u with %zu upstreams", dns_server_port(s), s->n_up);
	return 0;
out:
	dns_server_close(s);
	return ret;
}

static void listener_close(uv_handle_t *h)
{
	if (!h)
		return;
	h->data = NULL;
	uv_close(h, on_listener_closed);
}

void dns_server_close(struct dns_server *s)
{
	while (s->conns)
		conn_close(s->conns);
	while (s->fwds) {
		s->fwds->conn = NULL;
		fwd_end(s->fwds);
	}
	listener_close((uv_handle_t *)s->udp);
	listener_close((uv_handle_t *)s->tcp);
	s->udp = NULL;
	s->tcp = NULL;
}
