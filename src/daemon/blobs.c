/*
 * blobs: see blobs.h. A fetch asks over the peer's mesh connection when one
 * is up (no new connection per roster change), else over a blobs
 * connection it owns. The server side of a blobs connection answers one
 * request, within BLOBS_SERVE_MS, and at most BLOBS_SERVE_MAX of them are
 * open at once (BLOBS_SERVE_PER_SOURCE from one address). A mesh request
 * for a blob we are fetching ourselves waits for it (struct blob_wait).
 */
#include "daemon/blobs.h"
#include "util/limits.h"
#include "daemon/daemon.h"
#include "daemon/gate.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "home/store.h"
#include "proto/control.h"
#include "transport/quic.h"
#include "util/blake3.h"
#include "util/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FETCH_TIMEOUT_MS 15000
#define MESH_WAIT_MS \
	5000 /* then a blobs connection (a peer that does not
				 * answer over mesh, e.g. an older build) */
#define SERVE_TXQ (CTL_MAX_BLOB + 4096)

struct blob_fetch {
	struct blob_fetch *next;
	struct daemon *d;
	uint8_t pk[LIMIT_KEY_LEN];
	uint8_t hash[LIMIT_KEY_LEN];
	blob_fetch_fn cb;
	void *ud;
	struct quic_conn *conn; /* our blobs connection, if we made one */
	struct quic_conn *mesh; /* the mesh connection we asked over */
	uv_timer_t timer;
	bool done;
};

/* A peer's mesh request for a blob that is on its way to us: answered when
 * our fetch of it ends, or "not here" after BLOBS_WAIT_MS. */
struct blob_wait {
	struct blob_wait *next;
	uint8_t pk[LIMIT_KEY_LEN];
	uint8_t hash[LIMIT_KEY_LEN];
	uint64_t until_ms;
};

/* The server side of one blobs connection. */
struct blob_serve {
	struct blob_serve *next;
	struct quic_conn *conn;
	uint64_t until_ms;
	bool served;
};

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

static bool fetching(struct daemon *d, const uint8_t hash[LIMIT_KEY_LEN]);
static void answer_waits(struct daemon *d, const uint8_t hash[LIMIT_KEY_LEN], const uint8_t *data,
			 size_t len);

/* Delivers the result once, then unlinks and frees the fetch; the peers
 * waiting for the blob get it, or "not here" when no other fetch of it is
 * left (the callback may have started one). */
static void fetch_finish(struct blob_fetch *f, const uint8_t *data, size_t len)
{
	struct blob_fetch **pp;
	struct quic_conn *c = f->conn;
	struct daemon *d = f->d;
	uint8_t hash[LIMIT_KEY_LEN];

	if (f->done)
		return;
	memcpy(hash, f->hash, LIMIT_KEY_LEN);
	f->done = true;
	for (pp = &f->d->fetches; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	f->conn = NULL;
	if (c) {
		quic_conn_set_data(c, NULL);
		quic_conn_close(c, QUIC_CODE_NONE);
	}
	f->cb(d, data, len, f->ud);
	uv_timer_stop(&f->timer);
	uv_close((uv_handle_t *)&f->timer, on_timer_closed);
	if (data || !fetching(d, hash))
		answer_waits(d, hash, data, len);
}

static void fetch_fall_back(struct blob_fetch *f);

static void on_timeout(uv_timer_t *t)
{
	struct blob_fetch *f = t->data;

	if (f->mesh) {
		log_debug(
			"blobs: no answer over the mesh connection; asking on a blobs connection");
		fetch_fall_back(f);
		return;
	}
	log_warn("blobs: fetch timed out");
	fetch_finish(f, NULL, 0);
}

static int send_ctl(struct quic_conn *c, const struct ctl_msg *m)
{
	msgpack_sbuffer sb;
	int ret;

	msgpack_sbuffer_init(&sb);
	ret = ctl_encode(m, &sb);
	if (ret == 0)
		ret = quic_conn_send_msg(c, (const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return ret;
}

/* Asks over the peer's mesh connection; -ENOTCONN when it has none. */
static int fetch_over_mesh(struct blob_fetch *f)
{
	struct ctl_msg m = { .type = CTL_BLOB_GET, .has_hash = true };
	struct peer *p = peers_find(f->d, f->pk);
	int ret;

	if (!p || !p->conn || !quic_conn_is_confirmed(p->conn))
		return -ENOTCONN;
	memcpy(m.hash, f->hash, LIMIT_KEY_LEN);
	ret = peer_send_ctl(f->d, p, &m);
	if (ret == 0)
		f->mesh = p->conn;
	return ret;
}

static int fetch_over_blobs(struct blob_fetch *f)
{
	int ret = quic_connect(f->d->quic, f->pk, QUIC_ALPN_BLOBS, &f->conn);

	f->mesh = NULL;
	if (ret < 0)
		return ret;
	quic_conn_set_data(f->conn, f);
	return 0;
}

/* The mesh did not answer, or said "ask on a blobs connection". */
static void fetch_fall_back(struct blob_fetch *f)
{
	if (fetch_over_blobs(f) < 0) {
		fetch_finish(f, NULL, 0);
		return;
	}
	uv_timer_start(&f->timer, on_timeout, FETCH_TIMEOUT_MS, 0);
}

int blob_fetch(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN], const uint8_t hash[LIMIT_KEY_LEN],
	       blob_fetch_fn cb, void *ud)
{
	struct blob_fetch *f = calloc(1, sizeof(*f));
	uint64_t wait = MESH_WAIT_MS;
	int ret;

	if (!f)
		return -ENOMEM;
	f->d = d;
	memcpy(f->pk, pk, LIMIT_KEY_LEN);
	memcpy(f->hash, hash, LIMIT_KEY_LEN);
	f->cb = cb;
	f->ud = ud;
	if (fetch_over_mesh(f) < 0) {
		ret = fetch_over_blobs(f);
		if (ret < 0) {
			free(f);
			return ret;
		}
		wait = FETCH_TIMEOUT_MS;
	}
	uv_timer_init(d->loop, &f->timer);
	f->timer.data = f;
	uv_timer_start(&f->timer, on_timeout, wait, 0);
	f->next = d->fetches;
	d->fetches = f;
	return 0;
}

static void blobs_cancel_all(struct daemon *d)
{
	while (d->fetches)
		fetch_finish(d->fetches, NULL, 0);
}

static size_t serving(struct daemon *d, const struct quic_conn *same_source_as)
{
	size_t n = 0;

	for (struct blob_serve *v = d->serves; v; v = v->next)
		if (!same_source_as || quic_conn_same_source(v->conn, same_source_as))
			n++;
	return n;
}

size_t blobs_serving(struct daemon *d)
{
	return serving(d, NULL);
}

int blobs_accept(struct daemon *d)
{
	return serving(d, NULL) < BLOBS_SERVE_MAX ? 0 : -1;
}

static void serve_open(struct daemon *d, struct quic_conn *c)
{
	struct blob_serve *v;

	if (serving(d, NULL) >= BLOBS_SERVE_MAX || serving(d, c) >= BLOBS_SERVE_PER_SOURCE ||
	    !(v = calloc(1, sizeof(*v)))) {
		d->blobs_refused++;
		quic_conn_close(c, QUIC_CODE_OVERLOAD);
		return;
	}
	v->conn = c;
	v->until_ms = daemon_now_ms(d) + BLOBS_SERVE_MS;
	v->next = d->serves;
	d->serves = v;
	quic_conn_set_txq_cap(c, SERVE_TXQ);
	quic_conn_set_data(c, v);
}

static void serve_forget(struct daemon *d, struct blob_serve *v)
{
	for (struct blob_serve **pp = &d->serves; *pp; pp = &(*pp)->next) {
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	}
	quic_conn_set_data(v->conn, NULL);
	free(v);
}

void blobs_on_confirmed(struct daemon *d, struct quic_conn *c)
{
	struct blob_fetch *f = quic_conn_get_data(c);
	struct ctl_msg m = { .type = CTL_BLOB_GET, .has_hash = true };

	if (!quic_conn_is_client(c)) {
		serve_open(d, c); /* then wait for the request */
		return;
	}
	if (!f)
		return;
	memcpy(m.hash, f->hash, LIMIT_KEY_LEN);
	if (send_ctl(c, &m) < 0)
		fetch_finish(f, NULL, 0);
}

static bool fetching(struct daemon *d, const uint8_t hash[LIMIT_KEY_LEN])
{
	for (struct blob_fetch *f = d->fetches; f; f = f->next)
		if (!f->done && memcmp(f->hash, hash, LIMIT_KEY_LEN) == 0)
			return true;
	return false;
}

static size_t waits_of(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN])
{
	size_t n = 0;

	for (struct blob_wait *w = d->blob_waits; w; w = w->next)
		n += memcmp(w->pk, pk, LIMIT_KEY_LEN) == 0;
	return n;
}

/* Holds pk's request for hash while our own fetch of it runs: a seed asked
 * just before it holds a new roster answers when it does, so the member
 * need not go back to the coordinator. False when we fetch no such thing,
 * or over BLOBS_WAIT_MAX / BLOBS_WAIT_PER_PEER. */
static bool wait_for(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN],
		     const uint8_t hash[LIMIT_KEY_LEN])
{
	struct blob_wait *w;

	if (!fetching(d, hash) || d->n_blob_waits >= BLOBS_WAIT_MAX ||
	    waits_of(d, pk) >= BLOBS_WAIT_PER_PEER || !(w = calloc(1, sizeof(*w))))
		return false;
	memcpy(w->pk, pk, LIMIT_KEY_LEN);
	memcpy(w->hash, hash, LIMIT_KEY_LEN);
	w->until_ms = daemon_now_ms(d) + BLOBS_WAIT_MS;
	w->next = d->blob_waits;
	d->blob_waits = w;
	d->n_blob_waits++;
	return true;
}

/* data, or "not here" (NULL, or no room in its send queue), to the peer
 * that waited, over its mesh connection if it still has one; frees w. */
static void answer_wait(struct daemon *d, struct blob_wait *w, const uint8_t *data, size_t len)
{
	struct ctl_msg m = { .type = CTL_BLOB, .has_hash = true };
	struct peer *p = peers_find(d, w->pk);

	memcpy(m.hash, w->hash, LIMIT_KEY_LEN);
	m.data = (const uint8_t *)"";
	if (p && p->conn && data && len + LIMIT_CTL_BLOB_OVERHEAD <= quic_conn_txq_room(p->conn)) {
		m.data = data;
		m.data_len = len;
	}
	if (p && p->conn)
		send_ctl(p->conn, &m);
	d->n_blob_waits--;
	free(w);
}

/* The requests waiting for hash (NULL: those past their time). */
static void answer_waits(struct daemon *d, const uint8_t hash[LIMIT_KEY_LEN], const uint8_t *data,
			 size_t len)
{
	uint64_t now = daemon_now_ms(d);
	struct blob_wait **pp = &d->blob_waits, *w;

	while ((w = *pp)) {
		if (hash ? memcmp(w->hash, hash, LIMIT_KEY_LEN) != 0 : now < w->until_ms) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		answer_wait(d, w, data, len);
	}
}

/*
 * Serves any roster blob this node stores. Knowing a blob's hash already
 * takes the room id (it is named in the network's signed record), and a
 * kicked or nuked member must be able to fetch the roster that removes it.
 * Over a mesh connection, a blob we are fetching waits for it (wait_for);
 * one we do not hold, or one its send queue has no room for (a stranger's
 * is small), is answered with an empty CTL_BLOB: "ask on a blobs
 * connection".
 */
static void serve(struct daemon *d, struct quic_conn *c, const uint8_t hash[LIMIT_KEY_LEN],
		  bool mesh)
{
	struct ctl_msg m = { .type = CTL_BLOB, .has_hash = true };
	uint8_t *bytes = NULL;
	size_t len = 0;
	bool held;

	memcpy(m.hash, hash, LIMIT_KEY_LEN);
	held = store_load_blob(d->home, hash, &bytes, &len) == 0;
	if (held && (!mesh || len + LIMIT_CTL_BLOB_OVERHEAD <= quic_conn_txq_room(c))) {
		m.data = bytes;
		m.data_len = len;
		send_ctl(c, &m);
		free(bytes);
		return;
	}
	free(bytes);
	if (mesh && !held && wait_for(d, quic_conn_peer(c), hash))
		return;
	if (mesh) {
		m.data = (const uint8_t *)"";
		send_ctl(c, &m);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = CTL_DENIED;
	m.has_net = true; /* required field; no network is named */
	snprintf(m.why, sizeof(m.why), "no such blob here");
	send_ctl(c, &m);
}

/* A CTL_BLOB for f: checked against its hash, then handed over. */
static void fetch_answer(struct blob_fetch *f, const struct ctl_msg *m)
{
	uint8_t got[LIMIT_KEY_LEN];

	blake3_hash(m->data, m->data_len, got);
	if (memcmp(got, f->hash, LIMIT_KEY_LEN) != 0) {
		log_warn("blobs: a peer sent a blob that does not match its hash");
		fetch_finish(f, NULL, 0);
		return;
	}
	if (f->mesh)
		f->d->blobs_fetched_mesh++;
	else
		f->d->blobs_fetched_conn++;
	fetch_finish(f, m->data, m->data_len);
}

static void serve_message(struct daemon *d, struct quic_conn *c, const struct ctl_msg *m)
{
	struct blob_serve *v = quic_conn_get_data(c);

	if (!v)
		return;
	if (m->type != CTL_BLOB_GET || v->served) {
		quic_conn_close(c, QUIC_CODE_PROTOCOL); /* one request each */
		return;
	}
	v->served = true;
	serve(d, c, m->hash, false);
}

void blobs_on_message(struct daemon *d, struct quic_conn *c, const uint8_t *buf, size_t len)
{
	struct blob_fetch *f = quic_conn_get_data(c);
	struct ctl_msg m;

	if (ctl_decode(buf, len, &m) < 0) {
		log_debug("blobs: malformed message, closing");
		quic_conn_close(c, QUIC_CODE_PROTOCOL);
		return;
	}
	if (!quic_conn_is_client(c)) {
		serve_message(d, c, &m);
		return;
	}
	if (!f)
		return;
	if (m.type != CTL_BLOB || memcmp(m.hash, f->hash, LIMIT_KEY_LEN) != 0) {
		fetch_finish(f, NULL, 0);
		return;
	}
	fetch_answer(f, &m);
}

bool blobs_on_mesh_message(struct daemon *d, struct peer *p, const struct ctl_msg *m)
{
	struct blob_fetch *f;

	if (m->type == CTL_BLOB_GET) {
		if (p->conn)
			serve(d, p->conn, m->hash, true);
		return true;
	}
	if (m->type != CTL_BLOB)
		return false;
	/* Answers come in the order asked: the oldest fetch of this hash. */
	for (f = d->fetches; f; f = f->next)
		if (f->mesh && f->mesh == p->conn && memcmp(f->hash, m->hash, LIMIT_KEY_LEN) == 0)
			break;
	if (!f)
		return true; /* unasked, or after we gave up */
	if (m->data_len == 0)
		fetch_fall_back(f);
	else
		fetch_answer(f, m);
	return true;
}

void blobs_on_mesh_closed(struct daemon *d, struct quic_conn *c)
{
	struct blob_fetch *f, *next;

	for (f = d->fetches; f; f = next) {
		next = f->next;
		if (f->mesh == c)
			fetch_fall_back(f);
	}
}

void blobs_tick(struct daemon *d)
{
	uint64_t now = daemon_now_ms(d);
	struct blob_serve *v, *next;

	answer_waits(d, NULL, NULL, 0);
	for (v = d->serves; v; v = next) {
		next = v->next;
		if (now < v->until_ms)
			continue;
		/* Closing reports synchronously: v is forgotten there. */
		quic_conn_close(v->conn, QUIC_CODE_NONE);
	}
}

void blobs_on_closed(struct daemon *d, struct quic_conn *c)
{
	void *data = quic_conn_get_data(c);
	struct blob_fetch *f = data;

	if (!data)
		return;
	if (!quic_conn_is_client(c)) {
		serve_forget(d, data);
		return;
	}
	f->conn = NULL;
	fetch_finish(f, NULL, 0);
}

void blobs_close_all(struct daemon *d)
{
	blobs_cancel_all(d);
	while (d->serves)
		serve_forget(d, d->serves);
	while (d->blob_waits) {
		struct blob_wait *w = d->blob_waits;

		d->blob_waits = w->next;
		free(w);
	}
	d->n_blob_waits = 0;
}
