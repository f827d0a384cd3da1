/*
 * blobs: see blobs.h. A fetch owns its client connection; the server side
 * keeps no state beyond the request being answered.
 */
#include "daemon/blobs.h"
#include "daemon/daemon.h"
#include "daemon/gate.h"
#include "daemon/network.h"
#include "daemon/store.h"
#include "proto/control.h"
#include "transport/quic.h"
#include "util/blake3.h"
#include "util/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FETCH_TIMEOUT_MS 15000

struct blob_fetch {
	struct blob_fetch *next;
	struct daemon *d;
	uint8_t pk[32];
	uint8_t hash[32];
	blob_fetch_fn cb;
	void *ud;
	struct quic_conn *conn;
	uv_timer_t timer;
	bool done;
};

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

/* Delivers the result once, then unlinks and frees the fetch. */
static void fetch_finish(struct blob_fetch *f, const uint8_t *data, size_t len)
{
	struct blob_fetch **pp;
	struct quic_conn *c = f->conn;

	if (f->done)
		return;
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
	f->cb(f->d, data, len, f->ud);
	uv_timer_stop(&f->timer);
	uv_close((uv_handle_t *)&f->timer, on_timer_closed);
}

static void on_timeout(uv_timer_t *t)
{
	struct blob_fetch *f = t->data;

	log_warn("blobs: fetch timed out");
	fetch_finish(f, NULL, 0);
}

int blob_fetch(struct daemon *d, const uint8_t pk[32], const uint8_t hash[32],
	       blob_fetch_fn cb, void *ud)
{
	struct blob_fetch *f = calloc(1, sizeof(*f));
	int ret;

	if (!f)
		return -ENOMEM;
	f->d = d;
	memcpy(f->pk, pk, 32);
	memcpy(f->hash, hash, 32);
	f->cb = cb;
	f->ud = ud;
	ret = quic_connect(d->quic, pk, QUIC_ALPN_BLOBS, &f->conn);
	if (ret < 0) {
		free(f);
		return ret;
	}
	quic_conn_set_data(f->conn, f);
	uv_timer_init(d->loop, &f->timer);
	f->timer.data = f;
	uv_timer_start(&f->timer, on_timeout, FETCH_TIMEOUT_MS, 0);
	f->next = d->fetches;
	d->fetches = f;
	return 0;
}

void blobs_cancel_all(struct daemon *d)
{
	while (d->fetches)
		fetch_finish(d->fetches, NULL, 0);
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

void blobs_on_confirmed(struct daemon *d, struct quic_conn *c)
{
	struct blob_fetch *f = quic_conn_get_data(c);
	struct ctl_msg m = { .type = CTL_BLOB_GET, .has_hash = true };

	(void)d;
	if (!quic_conn_is_client(c) || !f)
		return; /* server side: wait for the request */
	memcpy(m.hash, f->hash, 32);
	if (send_ctl(c, &m) < 0)
		fetch_finish(f, NULL, 0);
}

/*
 * Serves any roster blob this node stores. Knowing a blob's hash already
 * takes the room id (it is named in the network's signed record), and a
 * kicked or nuked member must be able to fetch the roster that removes it.
 */
static void serve(struct daemon *d, struct quic_conn *c, const uint8_t hash[32])
{
	struct ctl_msg m = { .type = CTL_BLOB, .has_hash = true };
	uint8_t *bytes = NULL;
	size_t len = 0;

	if (store_load_blob(d->home, hash, &bytes, &len) == 0) {
		memcpy(m.hash, hash, 32);
		m.data = bytes;
		m.data_len = len;
		send_ctl(c, &m);
		free(bytes);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = CTL_DENIED;
	m.has_net = true; /* required field; no network is named */
	snprintf(m.why, sizeof(m.why), "no such blob here");
	send_ctl(c, &m);
}

void blobs_on_message(struct daemon *d, struct quic_conn *c, const uint8_t *buf,
		      size_t len)
{
	struct blob_fetch *f = quic_conn_get_data(c);
	uint8_t got[32];
	struct ctl_msg m;

	if (ctl_decode(buf, len, &m) < 0) {
		if (gate_log_ok(d, NULL))
			log_warn("blobs: malformed message dropped");
		quic_conn_close(c, QUIC_CODE_PROTOCOL);
		return;
	}
	if (!quic_conn_is_client(c)) {
		if (m.type == CTL_BLOB_GET)
			serve(d, c, m.hash);
		return;
	}
	if (!f)
		return;
	if (m.type != CTL_BLOB || memcmp(m.hash, f->hash, 32) != 0) {
		fetch_finish(f, NULL, 0);
		return;
	}
	blake3_hash(m.data, m.data_len, got);
	if (memcmp(got, f->hash, 32) != 0) {
		log_warn("blobs: a peer sent a blob that does not match its hash");
		fetch_finish(f, NULL, 0);
		return;
	}
	fetch_finish(f, m.data, m.data_len);
}

void blobs_on_closed(struct daemon *d, struct quic_conn *c)
{
	struct blob_fetch *f = quic_conn_get_data(c);

	(void)d;
	if (!f)
		return;
	f->conn = NULL;
	fetch_finish(f, NULL, 0);
}
