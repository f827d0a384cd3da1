/*
 * quic: QUIC endpoint on ngtcp2 1.x + GnuTLS. See quic.h for the contract.
 * Everything ngtcp2-specific stays in this file.
 */
#include "transport/quic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <sodium.h>

#include "transport/tls.h"
#include "util/frame.h"
#include "util/log.h"
#include "util/ratelimit.h"

/*
 * The 1.x API (versioned structs, ngtcp2_ccerr, ngtcp2_conn_info). Caught
 * here too because bookworm's 0.12 headers sit in /usr/include and would
 * be picked up silently if the 1.x include path went missing.
 */
#if !defined(NGTCP2_VERSION_NUM) || NGTCP2_VERSION_NUM < 0x010000
#error "ngtcp2 >= 1.0 is required (scripts/deps.sh)"
#endif

#define SCID_LEN 18 /* every CID we issue; short headers use it */
#define CID_BUCKETS 1024
#define FLUSH_MAX_PKTS MAGICSOCK_TX_BATCH /* per flush; the rest after a zero timer */
#define DIRTY_MAX 256                     /* connection flushes per check callback */
/*
 * Received packets after which a connection flushes (ACKs) at once instead
 * of in the check phase: one poll callback may read hundreds of packets,
 * and an ACK held that long inflates the RTT the sender's BBR sees.
 */
#define ACK_EVERY_PKTS 16
#define CLOSE_RESENDS 16
#define STREAM_WINDOW (1u << 20)
#define CONN_WINDOW (4u << 20)
#define MS_NS 1000000ull

enum conn_state {
	CS_HANDSHAKE = 0,
	CS_OPEN,
	CS_CLOSING, /* CONNECTION_CLOSE sent; answer stray packets */
	CS_DEAD,    /* destroy at the next safe point */
};

struct cid_ent {
	struct cid_ent *hnext; /* hash chain */
	struct cid_ent *cnext; /* all CIDs of one connection */
	struct quic_conn *conn;
	size_t len;
	uint8_t data[NGTCP2_MAX_CIDLEN];
};

struct txbuf {
	struct txbuf *next;
	size_t len;
	uint8_t data[];
};

/* One queued DATAGRAM payload; the queue is a ring of QUIC_DGRAM_QUEUE. */
struct dslot {
	size_t len;
	uint8_t data[QUIC_MAX_DATAGRAM_FRAME];
};

struct quic_conn {
	struct quic_endpoint *ep;
	struct quic_conn *prev, *next;
	ngtcp2_conn *nc;
	gnutls_session_t tls;
	ngtcp2_crypto_conn_ref ref;
	uv_timer_t timer;
	struct cid_ent *cids;
	enum conn_state state;
	int server;
	int trusted;           /* the owner knows the peer: not a source's share */
	int confirmed;         /* handshake confirmed and survivor checks done */
	uint64_t confirmed_ts; /* when (ep_now) */
	int owner_knows;       /* closed event is due */
	int peer_known;
	int in_ngtcp2; /* inside read_pkt: defer sends and closes */
	int confirm_pending;
	int close_pending;
	uint64_t close_pending_code;
	enum quic_close_reason close_pending_reason;
	uint8_t peer[QUIC_KEY_LEN];
	char alpn[QUIC_ALPN_MAX + 1];
	union ms_addr last_from;
	int have_from;
	union ms_addr source; /* server: where the first Initial came from */
	size_t txq_cap;
	/* control stream, send side */
	int64_t sid;
	struct txbuf *tx_head, *tx_tail;
	uint64_t tx_base; /* stream offset of tx_head->data[0] */
	uint64_t tx_sent; /* stream offset handed to ngtcp2 */
	uint64_t tx_end;  /* stream offset after the last queued byte */
	/* control stream, receive side */
	struct frame_reader rx;
	/* DATAGRAMs waiting for the next flush or for congestion window */
	struct dslot *dq; /* allocated on first use */
	unsigned dq_head, dq_len;
	int dq_blocked;     /* refused one: tell the owner when it drains */
	size_t room_wanted; /* quic_conn_want_room: tell the owner at this much */
	/* on the endpoint's list of connections to flush */
	struct quic_conn *dnext, *dprev;
	int dirty;
	int in_event;          /* inside a writable event: do not destroy */
	unsigned rx_unflushed; /* packets read since the last flush */
	uint8_t *close_pkt;
	size_t close_len;
	int close_resends;
	struct quic_stats st;
	void *data;
};

struct quic_endpoint {
	uv_loop_t *loop;
	struct magicsock *ms;
	struct tls_creds tls;
	struct quic_config cfg;
	struct quic_events ev;
	void *ud;
	struct quic_conn *conns;
	size_t nconns, nhandshakes, nserver;
	struct cid_ent *cid_map[CID_BUCKETS];
	uint8_t cid_key[crypto_shorthash_KEYBYTES];
	uint8_t reset_secret[32];
	uint8_t retry_secret[32]; /* keys our Retry tokens */
	uint64_t last_ts;
	struct quic_endpoint_stats st;
	struct ratelimit remote_log; /* see REMOTE_LOG_BURST */
	/*
	 * Connections with something to send are flushed once per loop
	 * iteration, after all I/O callbacks: a whole TUN batch or recvmmsg
	 * batch then leaves as one burst (GSO) and ACKs are coalesced.
	 */
	uv_check_t check;
	uv_idle_t idle; /* keeps the poll from blocking while dirty */
	struct quic_conn *dirty;
	quic_writable_fn writable;
	void *writable_ud;
	int handles_closed;
	uint8_t *txbuf; /* FLUSH_MAX_PKTS packets back to back */
	size_t txlens[FLUSH_MAX_PKTS];
	/* The virtual path every connection is created with and fed. */
	struct sockaddr_in6 vlocal, vremote;
	ngtcp2_path vpath;
	uint8_t pktbuf[QUIC_MAX_UDP_PAYLOAD];
};

static void conn_flush(struct quic_conn *c);
static void conn_after(struct quic_conn *c);
static void conn_close_local(struct quic_conn *c, uint64_t code, enum quic_close_reason reason,
			     int notify);
static void on_conn_timer(uv_timer_t *t);
static void on_idle(uv_idle_t *h);

static const char *const server_alpns[] = { QUIC_ALPN_MESH, QUIC_ALPN_BLOBS, QUIC_ALPN_FILES };

static void conn_writable(struct quic_conn *c);

/*
 * Lines a remote party can make us write again and again (refused clients,
 * oversized frames, peers that do not read) share one bucket per endpoint:
 * anyone can dial, under as many fresh keys as it likes.
 */
#define REMOTE_LOG_BURST 20
#define REMOTE_LOG_EVERY_MS 1000

/* ---- time ---- */

/* ngtcp2 asserts on timestamps going backwards: clamp to the last one. */
static uint64_t ep_now(struct quic_endpoint *ep)
{
	uint64_t t = uv_hrtime();

	if (t < ep->last_ts)
		t = ep->last_ts;
	ep->last_ts = t;
	return t;
}

static int remote_log_ok(struct quic_endpoint *ep)
{
	return ratelimit_take(&ep->remote_log, uv_now(ep->loop));
}

/* ---- CID map ---- */

static size_t cid_bucket(const struct quic_endpoint *ep, const uint8_t *cid, size_t len)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	/* Keyed: a client picks its first DCID and must not pick our chains. */
	crypto_shorthash(h, cid, len, ep->cid_key);
	memcpy(&v, h, sizeof(v));
	return (size_t)(v % CID_BUCKETS);
}

static struct quic_conn *cid_find(struct quic_endpoint *ep, const uint8_t *cid, size_t len)
{
	struct cid_ent *e;

	if (len == 0 || len > NGTCP2_MAX_CIDLEN)
		return NULL;
	for (e = ep->cid_map[cid_bucket(ep, cid, len)]; e; e = e->hnext)
		if (e->len == len && memcmp(e->data, cid, len) == 0)
			return e->conn;
	return NULL;
}

static int cid_add(struct quic_conn *c, const uint8_t *cid, size_t len)
{
	struct quic_endpoint *ep = c->ep;
	struct cid_ent *e;
	size_t b;

	if (len == 0 || len > NGTCP2_MAX_CIDLEN)
		return -EINVAL;
	if (cid_find(ep, cid, len))
		return -EEXIST;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	memcpy(e->data, cid, len);
	e->len = len;
	e->conn = c;
	b = cid_bucket(ep, cid, len);
	e->hnext = ep->cid_map[b];
	ep->cid_map[b] = e;
	e->cnext = c->cids;
	c->cids = e;
	return 0;
}

static void cid_unlink(struct quic_endpoint *ep, struct cid_ent *e)
{
	struct cid_ent **pp = &ep->cid_map[cid_bucket(ep, e->data, e->len)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
}

static void cid_remove(struct quic_conn *c, const uint8_t *cid, size_t len)
{
	struct cid_ent **pp = &c->cids, *e;

	while ((e = *pp) != NULL) {
		if (e->len == len && memcmp(e->data, cid, len) == 0) {
			*pp = e->cnext;
			cid_unlink(c->ep, e);
			free(e);
			return;
		}
		pp = &e->cnext;
	}
}

static void cid_remove_all(struct quic_conn *c)
{
	struct cid_ent *e;

	while ((e = c->cids) != NULL) {
		c->cids = e->cnext;
		cid_unlink(c->ep, e);
		free(e);
	}
}

/* ---- flush scheduling ---- */

static void dirty_unlink(struct quic_conn *c)
{
	if (!c->dirty)
		return;
	if (c->dprev)
		c->dprev->dnext = c->dnext;
	else
		c->ep->dirty = c->dnext;
	if (c->dnext)
		c->dnext->dprev = c->dprev;
	c->dnext = c->dprev = NULL;
	c->dirty = 0;
}

/* Flush c in this loop iteration's check phase. */
static void conn_mark_dirty(struct quic_conn *c)
{
	struct quic_endpoint *ep = c->ep;

	if (c->dirty)
		return;
	c->dirty = 1;
	c->dprev = NULL;
	c->dnext = ep->dirty;
	if (ep->dirty)
		ep->dirty->dprev = c;
	ep->dirty = c;
	/* Marked outside uv_run or during the check itself: do not let the
	 * next poll sleep before the check phase comes round. */
	uv_idle_start(&ep->idle, on_idle);
}

/* ---- connection lifetime ---- */

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

static void txq_free(struct quic_conn *c)
{
	struct txbuf *t;

	while ((t = c->tx_head) != NULL) {
		c->tx_head = t->next;
		free(t);
	}
	c->tx_tail = NULL;
	free(c->dq);
	c->dq = NULL;
	c->dq_head = 0;
	c->dq_len = 0;
}

/* Frees everything; never call from inside an ngtcp2 callback. */
static void conn_destroy(struct quic_conn *c)
{
	struct quic_endpoint *ep = c->ep;

	if (c->prev)
		c->prev->next = c->next;
	else
		ep->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ep->nconns--;
	if (c->server)
		ep->nserver--;
	if (c->server && !c->confirmed && c->state == CS_HANDSHAKE)
		ep->nhandshakes--;
	dirty_unlink(c);
	cid_remove_all(c);
	if (c->nc)
		ngtcp2_conn_del(c->nc);
	if (c->tls)
		gnutls_deinit(c->tls);
	txq_free(c);
	frame_reader_close(&c->rx);
	free(c->close_pkt);
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

/* Frees a dead connection unless a caller up the stack still holds it. */
static void conn_reap(struct quic_conn *c)
{
	if (c->state == CS_DEAD && !c->in_ngtcp2 && !c->in_event)
		conn_destroy(c);
}

/* Tells the owner once, then forgets the connection for lookups. */
static void conn_notify_closed(struct quic_conn *c, enum quic_close_reason reason, uint64_t code)
{
	struct quic_endpoint *ep = c->ep;
	int knows = c->owner_knows;

	c->owner_knows = 0;
	c->confirmed = 0;
	if (knows && ep->ev.closed)
		ep->ev.closed(ep->ud, c, reason, code);
}

static void conn_mark_dead(struct quic_conn *c)
{
	if (c->server && c->state == CS_HANDSHAKE)
		c->ep->nhandshakes--;
	c->state = CS_DEAD;
}

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
	struct quic_conn *c = ref->user_data;

	return c->nc;
}

/* ---- sending ---- */

/* Sends n packets stored back to back in pkts (lens[i] bytes each). */
static void conn_send_batch(struct quic_conn *c, const uint8_t *pkts, const size_t *lens, size_t n)
{
	struct magicsock *ms = c->ep->ms;
	size_t i;
	int rv;

	if (c->peer_known && (!c->server || c->confirmed))
		rv = magicsock_send_peer_batch(ms, c->peer, pkts, lens, n);
	else if (c->have_from)
		rv = magicsock_send_batch(ms, &c->last_from, pkts, lens, n);
	else
		rv = -EHOSTUNREACH;
	if (rv < 0 && rv != -EAGAIN)
		log_debug("quic: send: %s", strerror(-rv));
	/* What the kernel refused is lost like on the wire: recovery copes. */
	for (i = 0; i < n; i++) {
		c->st.tx_packets++;
		c->st.tx_bytes += lens[i];
	}
}

static void conn_send(struct quic_conn *c, const uint8_t *pkt, size_t len)
{
	conn_send_batch(c, pkt, &len, 1);
}

static void timer_update(struct quic_conn *c)
{
	uint64_t expiry, now, delay;

	if (c->state == CS_DEAD || c->state == CS_CLOSING)
		return;
	expiry = ngtcp2_conn_get_expiry(c->nc);
	if (expiry == UINT64_MAX) {
		uv_timer_stop(&c->timer);
		return;
	}
	now = ep_now(c->ep);
	delay = expiry > now ? (expiry - now + MS_NS - 1) / MS_NS : 0;
	uv_timer_start(&c->timer, on_conn_timer, delay, 0);
}

/* Builds the vector of queued control bytes from tx_sent onwards. */
static size_t txq_vec(struct quic_conn *c, ngtcp2_vec *v, size_t max)
{
	uint64_t off = c->tx_base;
	struct txbuf *t;
	size_t n = 0;

	for (t = c->tx_head; t && n < max; off += t->len, t = t->next) {
		if (off + t->len <= c->tx_sent)
			continue;
		if (off < c->tx_sent) {
			v[n].base = t->data + (c->tx_sent - off);
			v[n].len = t->len - (size_t)(c->tx_sent - off);
		} else {
			v[n].base = t->data;
			v[n].len = t->len;
		}
		n++;
	}
	return n;
}

static int conn_fatal_liberr(struct quic_conn *c, int liberr)
{
	log_debug("quic: connection error: %s", ngtcp2_strerror(liberr));
	conn_close_local(c, QUIC_CODE_PROTOCOL,
			 c->confirmed ? QUIC_CLOSE_PROTOCOL : QUIC_CLOSE_HANDSHAKE, 1);
	return -EPROTO;
}

/*
 * Writes one packet at dst: control stream bytes first (rare, and the
 * handshake depends on them), then the oldest queued DATAGRAM, else
 * whatever ngtcp2 has (ACKs, handshake, probes). Returns the packet size,
 * 0 when nothing more may go (congestion window, pacing, nothing to send)
 * or a fatal ngtcp2 error.
 *
 * DATAGRAMs may take the whole window: ngtcp2 1.x arms the probe timeout
 * for DATAGRAM-only packets (0.12 did not, and a tunnel whose path died
 * with the window full of them stalled for good) and its probes go out
 * past a full window, so their acknowledgement frees it. With the window
 * full, writev_datagram still writes the ACKs we owe.
 */
static ngtcp2_ssize conn_write_one(struct quic_conn *c, uint8_t *dst, uint64_t ts, int *stream_ok)
{
	ngtcp2_vec vec[16];
	ngtcp2_ssize n, datalen;
	struct dslot *d;
	size_t nv;
	int accepted;

	for (;;) {
		datalen = -1;
		nv = 0;
		if (*stream_ok && c->sid >= 0 && c->tx_sent < c->tx_end)
			nv = txq_vec(c, vec, 16);
		if (nv > 0) {
			n = ngtcp2_conn_writev_stream(c->nc, NULL, NULL, dst, QUIC_MAX_UDP_PAYLOAD,
						      &datalen, NGTCP2_WRITE_STREAM_FLAG_NONE,
						      c->sid, vec, nv, ts);
			if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR ||
			    n == NGTCP2_ERR_STREAM_NOT_FOUND) {
				*stream_ok = 0;
				continue;
			}
			if (datalen > 0)
				c->tx_sent += (uint64_t)datalen;
			return n;
		}
		if (c->dq_len == 0 || c->state != CS_OPEN)
			return ngtcp2_conn_write_pkt(c->nc, NULL, NULL, dst, QUIC_MAX_UDP_PAYLOAD,
						     ts);
		d = &c->dq[c->dq_head];
		vec[0].base = d->data;
		vec[0].len = d->len;
		n = ngtcp2_conn_writev_datagram(c->nc, NULL, NULL, dst, QUIC_MAX_UDP_PAYLOAD,
						&accepted, NGTCP2_WRITE_DATAGRAM_FLAG_NONE,
						c->st.dgrams_tx, vec, 1, ts);
		if (n == NGTCP2_ERR_INVALID_ARGUMENT || n == NGTCP2_ERR_INVALID_STATE)
			accepted = 0; /* cannot ever go: drop it below */
		else if (n < 0 || (n > 0 && !accepted))
			return n; /* error, or a packet of other frames */
		else if (n == 0)
			return 0; /* congestion window or pacing */
		c->dq_head = (c->dq_head + 1) % QUIC_DGRAM_QUEUE;
		c->dq_len--;
		if (accepted) {
			c->st.dgrams_tx++;
			return n;
		}
		c->st.dgrams_dropped++;
	}
}

/* Appends one framed control message to the control stream's send queue. */
static int txq_push(struct quic_conn *c, const uint8_t *buf, size_t len)
{
	struct txbuf *t;

	if (c->tx_end - c->tx_base + len + 4 > c->txq_cap)
		return -ENOBUFS;
	t = malloc(sizeof(*t) + 4 + len);
	if (t == NULL)
		return -ENOMEM;
	t->next = NULL;
	t->len = 4 + len;
	frame_put_header(t->data, (uint32_t)len);
	if (len)
		memcpy(t->data + 4, buf, len);
	if (c->tx_tail)
		c->tx_tail->next = t;
	else
		c->tx_head = t;
	c->tx_tail = t;
	c->tx_end += t->len;
	return 0;
}

static void conn_flush(struct quic_conn *c)
{
	struct quic_endpoint *ep = c->ep;
	ngtcp2_ssize n;
	uint64_t ts;
	size_t npkts = 0, off = 0, max = FLUSH_MAX_PKTS;
	int stream_ok = 1;

	if (c->state != CS_HANDSHAKE && c->state != CS_OPEN)
		return;
	if (c->in_ngtcp2)
		return;
	ts = ep_now(ep);
	c->rx_unflushed = 0;
	while (npkts < max) {
		n = conn_write_one(c, ep->txbuf + off, ts, &stream_ok);
		if (n < 0) {
			if (npkts)
				conn_send_batch(c, ep->txbuf, ep->txlens, npkts);
			conn_fatal_liberr(c, (int)n);
			return;
		}
		if (n == 0)
			break;
		ep->txlens[npkts++] = (size_t)n;
		off += (size_t)n;
	}
	if (npkts)
		conn_send_batch(c, ep->txbuf, ep->txlens, npkts);
	/* Once per burst: ngtcp2 paces from here. */
	ngtcp2_conn_update_pkt_tx_time(c->nc, ts);
	if (npkts == max)
		uv_timer_start(&c->timer, on_conn_timer, 0, 0);
	else
		timer_update(c);
	/* A refused sender is told in the check phase, never from in here. */
	if (c->dq_blocked && c->dq_len <= QUIC_DGRAM_QUEUE / 2)
		conn_mark_dirty(c);
}

/* ---- closing ---- */

static void on_closing_done(uv_timer_t *t)
{
	struct quic_conn *c = t->data;

	conn_destroy(c);
}

/* Enters the closing period: keep the close packet for stray packets. */
static void conn_enter_closing(struct quic_conn *c, const ngtcp2_ccerr *cc)
{
	struct quic_endpoint *ep = c->ep;
	ngtcp2_ssize n;
	uint64_t pto;

	n = ngtcp2_conn_write_connection_close(c->nc, NULL, NULL, ep->pktbuf, sizeof(ep->pktbuf),
					       cc, ep_now(ep));
	if (n <= 0) {
		conn_mark_dead(c);
		return;
	}
	c->close_pkt = malloc((size_t)n);
	if (c->close_pkt) {
		memcpy(c->close_pkt, ep->pktbuf, (size_t)n);
		c->close_len = (size_t)n;
	}
	conn_send(c, ep->pktbuf, (size_t)n);
	if (c->server && c->state == CS_HANDSHAKE)
		ep->nhandshakes--;
	c->state = CS_CLOSING;
	pto = ngtcp2_conn_get_pto(c->nc) / MS_NS;
	uv_timer_start(&c->timer, on_closing_done, 3 * (pto ? pto : 1), 0);
}

static void conn_close_local(struct quic_conn *c, uint64_t code, enum quic_close_reason reason,
			     int notify)
{
	ngtcp2_ccerr cc;

	if (c->state == CS_CLOSING || c->state == CS_DEAD)
		return;
	if (c->in_ngtcp2) {
		if (!c->close_pending) {
			c->close_pending = 1;
			c->close_pending_code = code;
			c->close_pending_reason = reason;
		}
		return;
	}
	ngtcp2_ccerr_default(&cc);
	ngtcp2_ccerr_set_application_error(&cc, code, NULL, 0);
	conn_enter_closing(c, &cc);
	if (notify)
		conn_notify_closed(c, reason, code);
	else
		c->owner_knows = 0, c->confirmed = 0;
}

/* ngtcp2 reported an error while reading: decide what the owner hears. */
static void conn_read_error(struct quic_conn *c, int rv)
{
	const ngtcp2_ccerr *peer;
	ngtcp2_ccerr cc;
	enum quic_close_reason reason;
	uint64_t code = 0;

	if (rv == NGTCP2_ERR_DRAINING) {
		/* In draining, ngtcp2 holds what the peer's CONNECTION_CLOSE said. */
		peer = ngtcp2_conn_get_ccerr(c->nc);
		if (peer->type == NGTCP2_CCERR_TYPE_APPLICATION) {
			code = peer->error_code;
			reason = code == QUIC_CODE_DUPLICATE ? QUIC_CLOSE_SUPERSEDED
							     : QUIC_CLOSE_PEER;
		} else {
			reason = c->confirmed ? QUIC_CLOSE_PROTOCOL : QUIC_CLOSE_HANDSHAKE;
		}
		conn_mark_dead(c);
		conn_notify_closed(c, reason, code);
		return;
	}
	if (rv == NGTCP2_ERR_DROP_CONN || rv == NGTCP2_ERR_RETRY) {
		conn_mark_dead(c);
		conn_notify_closed(c, QUIC_CLOSE_HANDSHAKE, 0);
		return;
	}
	reason = c->confirmed ? QUIC_CLOSE_PROTOCOL : QUIC_CLOSE_HANDSHAKE;
	ngtcp2_ccerr_default(&cc);
	if (rv == NGTCP2_ERR_CRYPTO)
		ngtcp2_ccerr_set_tls_alert(&cc, ngtcp2_conn_get_tls_alert(c->nc), NULL, 0);
	else
		ngtcp2_ccerr_set_liberr(&cc, rv, NULL, 0);
	log_debug("quic: read: %s", ngtcp2_strerror(rv));
	conn_enter_closing(c, &cc);
	conn_notify_closed(c, reason, 0);
}

/* ---- ngtcp2 callbacks ---- */

static void cb_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
	randombytes_buf(dest, len);
}

static int cb_new_cid(ngtcp2_conn *nc, ngtcp2_cid *cid, uint8_t *token, size_t cidlen, void *ud)
{
	struct quic_conn *c = ud;
	uint8_t buf[NGTCP2_MAX_CIDLEN];

	if (cidlen > sizeof(buf))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	do {
		randombytes_buf(buf, cidlen);
	} while (cid_find(c->ep, buf, cidlen));
	ngtcp2_cid_init(cid, buf, cidlen);
	if (ngtcp2_crypto_generate_stateless_reset_token(token, c->ep->reset_secret,
							 sizeof(c->ep->reset_secret), cid) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	if (cid_add(c, buf, cidlen) < 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int cb_remove_cid(ngtcp2_conn *nc, const ngtcp2_cid *cid, void *ud)
{
	cid_remove(ud, cid->data, cid->datalen);
	return 0;
}

static int cb_handshake_completed(ngtcp2_conn *nc, void *ud)
{
	struct quic_conn *c = ud;

	/* A client waits for confirmation: the server may still refuse us. */
	if (c->server)
		c->confirm_pending = 1;
	return 0;
}

static int cb_handshake_confirmed(ngtcp2_conn *nc, void *ud)
{
	struct quic_conn *c = ud;

	if (!c->server)
		c->confirm_pending = 1;
	return 0;
}

/* One whole control message. A zero-length frame is the stream-opening
 * marker (a stream exists for the peer only once it carries a byte) and
 * no message. A message that closed the connection stops the feed. */
static int rx_message(void *ud, const uint8_t *body, size_t len)
{
	struct quic_conn *c = ud;
	struct quic_endpoint *ep = c->ep;

	if (len == 0)
		return 0;
	if (c->owner_knows && c->confirmed && ep->ev.message)
		ep->ev.message(ep->ud, c, body, len);
	return c->close_pending ? -ECANCELED : 0;
}

/* Consumes control stream bytes; returns -EPROTO on a framing violation. */
static int rx_feed(struct quic_conn *c, const uint8_t *p, size_t n)
{
	int ret = frame_reader_feed(&c->rx, p, n, rx_message, c);

	if (ret == -ECANCELED)
		return 0;
	if (ret == -EMSGSIZE) {
		if (remote_log_ok(c->ep))
			log_warn("quic: control frame over the cap of %u bytes, closing",
				 (unsigned)c->ep->cfg.max_msg_len);
		return -EPROTO;
	}
	return ret;
}

static int cb_recv_stream_data(ngtcp2_conn *nc, uint32_t flags, int64_t sid, uint64_t offset,
			       const uint8_t *data, size_t len, void *ud, void *sud)
{
	struct quic_conn *c = ud;

	if (sid != c->sid || c->close_pending)
		return 0;
	if (rx_feed(c, data, len) < 0) {
		conn_close_local(c, QUIC_CODE_PROTOCOL, QUIC_CLOSE_PROTOCOL, 1);
		return 0;
	}
	/* Consumed at once, so the peer's window reopens at once. */
	ngtcp2_conn_extend_max_stream_offset(nc, sid, len);
	ngtcp2_conn_extend_max_offset(nc, len);
	return 0;
}

static int cb_stream_open(ngtcp2_conn *nc, int64_t sid, void *ud)
{
	struct quic_conn *c = ud;

	/* Only the server sees remote streams; the limit allows one bidi. */
	if (c->server && c->sid < 0 && ngtcp2_is_bidi_stream(sid))
		c->sid = sid;
	return 0;
}

static int cb_acked_stream_data(ngtcp2_conn *nc, int64_t sid, uint64_t offset, uint64_t len,
				void *ud, void *sud)
{
	struct quic_conn *c = ud;
	uint64_t acked = offset + len;
	struct txbuf *t;

	if (sid != c->sid)
		return 0;
	while ((t = c->tx_head) != NULL && c->tx_base + t->len <= acked) {
		c->tx_base += t->len;
		c->tx_head = t->next;
		free(t);
	}
	if (c->tx_head == NULL)
		c->tx_tail = NULL;
	if (c->room_wanted)
		conn_mark_dirty(c); /* on_check looks whether it is there now */
	return 0;
}

static int cb_recv_datagram(ngtcp2_conn *nc, uint32_t flags, const uint8_t *data, size_t len,
			    void *ud)
{
	struct quic_conn *c = ud;
	struct quic_endpoint *ep = c->ep;

	c->st.dgrams_rx++;
	if (c->owner_knows && c->confirmed && !c->close_pending && ep->ev.datagram)
		ep->ev.datagram(ep->ud, c, data, len);
	return 0;
}

static int cb_lost_datagram(ngtcp2_conn *nc, uint64_t id, void *ud)
{
	struct quic_conn *c = ud;

	c->st.dgrams_lost++;
	return 0;
}

static int cb_ack_datagram(ngtcp2_conn *nc, uint64_t id, void *ud)
{
	return 0;
}

static void set_callbacks(ngtcp2_callbacks *cb, int server)
{
	memset(cb, 0, sizeof(*cb));
	if (server)
		cb->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
	else {
		cb->client_initial = ngtcp2_crypto_client_initial_cb;
		cb->recv_retry = ngtcp2_crypto_recv_retry_cb;
	}
	cb->recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
	cb->encrypt = ngtcp2_crypto_encrypt_cb;
	cb->decrypt = ngtcp2_crypto_decrypt_cb;
	cb->hp_mask = ngtcp2_crypto_hp_mask_cb;
	cb->update_key = ngtcp2_crypto_update_key_cb;
	cb->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
	cb->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
	cb->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
	cb->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
	cb->rand = cb_rand;
	cb->get_new_connection_id = cb_new_cid;
	cb->remove_connection_id = cb_remove_cid;
	cb->handshake_completed = cb_handshake_completed;
	cb->handshake_confirmed = cb_handshake_confirmed;
	cb->recv_stream_data = cb_recv_stream_data;
	cb->stream_open = cb_stream_open;
	cb->acked_stream_data_offset = cb_acked_stream_data;
	cb->recv_datagram = cb_recv_datagram;
	cb->ack_datagram = cb_ack_datagram;
	cb->lost_datagram = cb_lost_datagram;
}

/* ---- limits on accepted connections ---- */

/* One source: an IPv4 address, an IPv6 /64 (one site), or exactly one
 * virtual address (one origin through one member relay). */
static int same_source(const union ms_addr *a, const union ms_addr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return 0;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	if (a->sa.sa_family != AF_INET6)
		return 0;
	if (magicsock_is_virtual(a) || magicsock_is_virtual(b))
		return ms_addr_eq(a, b);
	return memcmp(a->in6.sin6_addr.s6_addr, b->in6.sin6_addr.s6_addr, 8) == 0;
}

/* Accepted connections still alive from the source of from. */
static size_t source_count(struct quic_endpoint *ep, const union ms_addr *from)
{
	struct quic_conn *c;
	size_t n = 0;

	for (c = ep->conns; c; c = c->next)
		if (c->server && !c->trusted && c->state != CS_DEAD &&
		    same_source(&c->source, from))
			n++;
	return n;
}

/* Accepted connections, other than self, already verified for key pk. */
static size_t key_count(struct quic_endpoint *ep, const struct quic_conn *self, const uint8_t *pk)
{
	struct quic_conn *c;
	size_t n = 0;

	for (c = ep->conns; c; c = c->next)
		if (c != self && c->server && c->peer_known && c->state != CS_DEAD &&
		    c->state != CS_CLOSING && memcmp(c->peer, pk, QUIC_KEY_LEN) == 0)
			n++;
	return n;
}

/* ---- TLS peer check (runs inside the handshake) ---- */

static int tls_verify(gnutls_session_t s)
{
	ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(s);
	struct quic_conn *c;
	struct quic_endpoint *ep;
	uint8_t pk[QUIC_KEY_LEN];
	char alpn[QUIC_ALPN_MAX + 1];

	if (ref == NULL)
		return -1;
	c = ref->user_data;
	ep = c->ep;
	if (tls_session_peer_key(s, pk) < 0)
		return -1;
	if (!c->server) {
		if (sodium_memcmp(pk, c->peer, QUIC_KEY_LEN) != 0) {
			log_warn("quic: server presented another key than the "
				 "one dialled, refusing");
			return -1;
		}
		return 0;
	}
	if (tls_session_alpn(s, alpn, sizeof(alpn)) < 0)
		return -1;
	if (memcmp(pk, ep->tls.pk, QUIC_KEY_LEN) == 0)
		return -1;
	if (key_count(ep, c, pk) >= ep->cfg.max_conns_per_key) {
		ep->st.refused_key++;
		if (remote_log_ok(ep))
			log_info("quic: client %02x%02x%02x%02x.. already holds "
				 "%u connections, refusing another",
				 pk[0], pk[1], pk[2], pk[3], ep->cfg.max_conns_per_key);
		return -1;
	}
	if (ep->ev.accept && ep->ev.accept(ep->ud, pk, alpn) != 0) {
		if (remote_log_ok(ep))
			log_info("quic: refused client %02x%02x%02x%02x.. (%s)", pk[0], pk[1],
				 pk[2], pk[3], alpn);
		return -1;
	}
	memcpy(c->peer, pk, QUIC_KEY_LEN);
	snprintf(c->alpn, sizeof(c->alpn), "%s", alpn);
	c->peer_known = 1;
	return 0;
}

/* ---- connection setup ---- */

static void on_conn_timer(uv_timer_t *t)
{
	struct quic_conn *c = t->data;
	int rv;

	if (c->state != CS_HANDSHAKE && c->state != CS_OPEN)
		return;
	rv = ngtcp2_conn_handle_expiry(c->nc, ep_now(c->ep));
	if (rv == NGTCP2_ERR_IDLE_CLOSE) {
		conn_mark_dead(c);
		conn_notify_closed(c, QUIC_CLOSE_IDLE, 0);
	} else if (rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
		conn_mark_dead(c);
		conn_notify_closed(c, QUIC_CLOSE_HANDSHAKE, 0);
	} else if (rv != 0) {
		conn_fatal_liberr(c, rv);
	} else {
		conn_flush(c);
	}
	if (c->state == CS_DEAD)
		conn_destroy(c);
}

static void conn_settings(struct quic_endpoint *ep, ngtcp2_settings *s, ngtcp2_transport_params *p,
			  int server)
{
	ngtcp2_settings_default(s);
	s->initial_ts = ep_now(ep);
	/*
	 * BBR: min RTT between neighbours is microseconds, and CUBIC and Reno
	 * size the window from it (in 0.12 it stuck at ~42 KB); BBR paces by
	 * the measured rate instead. 1.x keeps one BBR, v2 (0.12's BBR2).
	 */
	s->cc_algo = NGTCP2_CC_ALGO_BBR;
	s->max_tx_udp_payload_size = QUIC_MAX_UDP_PAYLOAD;
	s->no_tx_udp_payload_size_shaping = 1;
	s->handshake_timeout = (uint64_t)ep->cfg.handshake_timeout_ms * MS_NS;
	s->max_window = 6 * CONN_WINDOW;
	s->max_stream_window = 6 * STREAM_WINDOW;

	ngtcp2_transport_params_default(p);
	p->initial_max_stream_data_bidi_local = STREAM_WINDOW;
	p->initial_max_stream_data_bidi_remote = STREAM_WINDOW;
	p->initial_max_stream_data_uni = 0;
	p->initial_max_data = CONN_WINDOW;
	/* The client opens the one control stream; nothing else is allowed. */
	p->initial_max_streams_bidi = server ? 1 : 0;
	p->initial_max_streams_uni = 0;
	p->max_idle_timeout = (uint64_t)ep->cfg.idle_timeout_ms * MS_NS;
	p->max_udp_payload_size = MAGICSOCK_BUF_SIZE;
	p->active_connection_id_limit = 4;
	p->max_datagram_frame_size = QUIC_MAX_DATAGRAM_FRAME;
	p->disable_active_migration = 1;
	/* Not offered, so peers keep the fixed bit set toward us (0.12 peers
	 * offer it regardless, and get greased packets; magicsock copes). */
	p->grease_quic_bit = 0;
}

static struct quic_conn *conn_alloc(struct quic_endpoint *ep, int server)
{
	struct quic_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->ep = ep;
	c->server = server;
	c->sid = -1;
	c->txq_cap = ep->cfg.txq_cap;
	frame_reader_init(&c->rx, ep->cfg.max_msg_len);
	if (server)
		ep->nserver++;
	c->ref.get_conn = get_conn;
	c->ref.user_data = c;
	uv_timer_init(ep->loop, &c->timer);
	c->timer.data = c;
	c->next = ep->conns;
	if (ep->conns)
		ep->conns->prev = c;
	ep->conns = c;
	ep->nconns++;
	return c;
}

static int conn_tls_init(struct quic_conn *c, const char *alpn)
{
	const char *const *alpns = c->server ? server_alpns : &alpn;
	size_t n = c->server ? sizeof(server_alpns) / sizeof(server_alpns[0]) : 1;
	int err;

	err = tls_session_new(&c->tls, &c->ep->tls, c->server, alpns, n);
	if (err < 0)
		return err;
	if ((c->server ? ngtcp2_crypto_gnutls_configure_server_session(c->tls)
		       : ngtcp2_crypto_gnutls_configure_client_session(c->tls)) != 0)
		return -EINVAL;
	gnutls_session_set_ptr(c->tls, &c->ref);
	ngtcp2_conn_set_tls_native_handle(c->nc, c->tls);
	return 0;
}

int quic_connect(struct quic_endpoint *ep, const uint8_t pk[QUIC_KEY_LEN], const char *alpn,
		 struct quic_conn **out)
{
	ngtcp2_settings s;
	ngtcp2_transport_params p;
	ngtcp2_callbacks cb;
	ngtcp2_cid dcid, scid;
	uint8_t buf[SCID_LEN];
	struct quic_conn *c;
	int err;

	*out = NULL;
	if (strcmp(alpn, QUIC_ALPN_MESH) != 0 && strcmp(alpn, QUIC_ALPN_BLOBS) != 0 &&
	    strcmp(alpn, QUIC_ALPN_FILES) != 0)
		return -EINVAL;
	if (memcmp(pk, ep->tls.pk, QUIC_KEY_LEN) == 0)
		return -EINVAL;
	if (ep->nconns >= ep->cfg.max_conns)
		return -EMFILE;
	if (magicsock_peer_path(ep->ms, pk, NULL) == MS_PATH_NONE)
		return -EHOSTUNREACH;
	c = conn_alloc(ep, 0);
	if (c == NULL)
		return -ENOMEM;
	memcpy(c->peer, pk, QUIC_KEY_LEN);
	c->peer_known = 1;
	c->owner_knows = 1;
	snprintf(c->alpn, sizeof(c->alpn), "%s", alpn);

	randombytes_buf(buf, sizeof(buf));
	ngtcp2_cid_init(&dcid, buf, sizeof(buf));
	do {
		randombytes_buf(buf, sizeof(buf));
	} while (cid_find(ep, buf, sizeof(buf)));
	ngtcp2_cid_init(&scid, buf, sizeof(buf));
	conn_settings(ep, &s, &p, 0);
	set_callbacks(&cb, 0);
	err = -ENOMEM;
	if (ngtcp2_conn_client_new(&c->nc, &dcid, &scid, &ep->vpath, NGTCP2_PROTO_VER_V1, &cb, &s,
				   &p, NULL, c) != 0)
		goto fail;
	if ((err = cid_add(c, scid.data, scid.datalen)) < 0 || (err = conn_tls_init(c, alpn)) < 0)
		goto fail;
	conn_flush(c);
	if (c->state == CS_DEAD || c->state == CS_CLOSING) {
		err = -ECONNABORTED;
		goto fail;
	}
	*out = c;
	return 0;
fail:
	c->owner_knows = 0;
	if (c->state == CS_CLOSING)
		return err; /* freed by its closing timer */
	conn_destroy(c);
	return err;
}

/* ---- Retry (address validation under load) ---- */

#define RETRY_TOKEN_TIMEOUT (10 * NGTCP2_SECONDS)

/* Under load every new client first proves it receives at its address. */
static int retry_due(const struct quic_endpoint *ep)
{
	return ep->cfg.retry_always || ep->nhandshakes >= ep->cfg.max_handshakes / 4;
}

static void send_retry(struct quic_endpoint *ep, const ngtcp2_pkt_hd *hd, const union ms_addr *from)
{
	uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN], buf[QUIC_MAX_UDP_PAYLOAD];
	uint8_t cid[SCID_LEN];
	ngtcp2_cid scid;
	ngtcp2_ssize tlen, n;

	randombytes_buf(cid, sizeof(cid));
	ngtcp2_cid_init(&scid, cid, sizeof(cid));
	tlen = ngtcp2_crypto_generate_retry_token(token, ep->retry_secret, sizeof(ep->retry_secret),
						  hd->version, &from->sa, ms_addr_len(from), &scid,
						  &hd->dcid, ep_now(ep));
	if (tlen < 0)
		return;
	n = ngtcp2_crypto_write_retry(buf, sizeof(buf), hd->version, &hd->scid, &scid, &hd->dcid,
				      token, (size_t)tlen);
	if (n < 0)
		return;
	if (magicsock_send_to(ep->ms, from, buf, (size_t)n) == 0)
		ep->st.retries++;
}

/*
 * 0: go on (odcid set when the Initial carried our valid Retry token); 1:
 * answered with a Retry, or the token is forged or stale: no state.
 */
static int retry_check(struct quic_endpoint *ep, const ngtcp2_pkt_hd *hd, const union ms_addr *from,
		       ngtcp2_cid *odcid, int *validated)
{
	*validated = 0;
	if (hd->tokenlen == 0) {
		if (!retry_due(ep))
			return 0;
		send_retry(ep, hd, from);
		return 1;
	}
	if (hd->token[0] != NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY ||
	    ngtcp2_crypto_verify_retry_token(odcid, hd->token, hd->tokenlen, ep->retry_secret,
					     sizeof(ep->retry_secret), hd->version, &from->sa,
					     ms_addr_len(from), &hd->dcid, RETRY_TOKEN_TIMEOUT,
					     ep_now(ep)) != 0) {
		ep->st.rx_refused++;
		ep->st.refused_token++;
		return 1;
	}
	*validated = 1;
	return 0;
}

static struct quic_conn *conn_accept(struct quic_endpoint *ep, const uint8_t *pkt, size_t len,
				     const union ms_addr *from)
{
	ngtcp2_settings s;
	ngtcp2_transport_params p;
	ngtcp2_callbacks cb;
	ngtcp2_pkt_hd hd;
	ngtcp2_cid scid, odcid;
	uint8_t buf[SCID_LEN];
	struct quic_conn *c;
	int validated;

	if (ngtcp2_accept(&hd, pkt, len) != 0)
		return NULL;
	/* Only an Initial makes state; 0-RTT is never used here. */
	if (hd.type != NGTCP2_PKT_INITIAL || retry_check(ep, &hd, from, &odcid, &validated))
		return NULL;
	if (ep->nconns >= ep->cfg.max_conns || ep->nserver >= quic_accept_cap(ep->cfg.max_conns) ||
	    ep->nhandshakes >= ep->cfg.max_handshakes) {
		ep->st.rx_refused++;
		ep->st.refused_full++;
		return NULL;
	}
	if (source_count(ep, from) >= ep->cfg.max_conns_per_source) {
		ep->st.rx_refused++;
		ep->st.refused_source++;
		return NULL;
	}
	c = conn_alloc(ep, 1);
	if (c == NULL)
		return NULL;
	ep->nhandshakes++;
	c->source = *from;
	c->last_from = *from;
	c->have_from = 1;
	do {
		randombytes_buf(buf, sizeof(buf));
	} while (cid_find(ep, buf, sizeof(buf)));
	ngtcp2_cid_init(&scid, buf, sizeof(buf));
	conn_settings(ep, &s, &p, 1);
	/* 1.x asserts that a server states original_dcid. */
	p.original_dcid = hd.dcid;
	p.original_dcid_present = 1;
	if (validated) {
		p.original_dcid = odcid;
		p.retry_scid = hd.dcid;
		p.retry_scid_present = 1;
		s.token = hd.token;
		s.tokenlen = hd.tokenlen;
		s.token_type = NGTCP2_TOKEN_TYPE_RETRY;
	}
	set_callbacks(&cb, 1);
	if (ngtcp2_conn_server_new(&c->nc, &hd.scid, &scid, &ep->vpath, hd.version, &cb, &s, &p,
				   NULL, c) != 0)
		goto fail;
	/* The client keeps using its chosen DCID until it hears from us. */
	if (cid_add(c, scid.data, scid.datalen) < 0 ||
	    cid_add(c, hd.dcid.data, hd.dcid.datalen) < 0 || conn_tls_init(c, NULL) < 0)
		goto fail;
	return c;
fail:
	conn_destroy(c);
	return NULL;
}

/* ---- confirmation and duplicate resolution ---- */

static const uint8_t *conn_client_key(const struct quic_conn *c)
{
	return c->server ? c->peer : c->ep->tls.pk;
}

/*
 * Two mesh connections with one peer confirmed within this of each other
 * are a simultaneous dial: both ends keep the same one (conn_survivor). A
 * new one confirmed later than that means the peer no longer has the old
 * one (its process was killed and restarted, or it timed the old one out
 * first): the new one replaces it, or a restarted peer would be turned
 * away until the old connection's idle timeout.
 */
#define DUP_RACE_NS (3000 * MS_NS)

/* Returns the connection both ends keep of a and b. */
static struct quic_conn *conn_survivor(struct quic_conn *a, struct quic_conn *b)
{
	const ngtcp2_cid *da, *db;
	size_t n;
	int cmp;

	cmp = memcmp(conn_client_key(a), conn_client_key(b), QUIC_KEY_LEN);
	if (cmp != 0)
		return cmp < 0 ? a : b;
	/* Same client dialled twice: both ends know each initial DCID. */
	da = ngtcp2_conn_get_client_initial_dcid(a->nc);
	db = ngtcp2_conn_get_client_initial_dcid(b->nc);
	n = da->datalen < db->datalen ? da->datalen : db->datalen;
	cmp = memcmp(da->data, db->data, n);
	if (cmp == 0)
		cmp = (int)da->datalen - (int)db->datalen;
	return cmp <= 0 ? a : b;
}

struct quic_conn *quic_endpoint_find(struct quic_endpoint *ep, const uint8_t pk[QUIC_KEY_LEN],
				     const char *alpn)
{
	struct quic_conn *c;

	for (c = ep->conns; c; c = c->next)
		if (c->confirmed && c->state == CS_OPEN && memcmp(c->peer, pk, QUIC_KEY_LEN) == 0 &&
		    strcmp(c->alpn, alpn) == 0)
			return c;
	return NULL;
}

static int conn_open_stream(struct quic_conn *c)
{
	static const uint8_t marker[4];
	struct txbuf *t;
	int rv;

	if ((rv = ngtcp2_conn_open_bidi_stream(c->nc, &c->sid, NULL)) != 0) {
		log_warn("quic: opening the control stream: %s", ngtcp2_strerror(rv));
		return -EPROTO;
	}
	/* Empty frame: makes the stream exist for the server at once. */
	t = malloc(sizeof(*t) + sizeof(marker));
	if (t == NULL)
		return -ENOMEM;
	t->next = c->tx_head;
	t->len = sizeof(marker);
	memcpy(t->data, marker, sizeof(marker));
	c->tx_head = t;
	if (c->tx_tail == NULL)
		c->tx_tail = t;
	c->tx_end += sizeof(marker);
	return 0;
}

static void conn_confirm(struct quic_conn *c)
{
	struct quic_endpoint *ep = c->ep;
	struct quic_conn *other = NULL;
	uint8_t pk[QUIC_KEY_LEN];

	if (c->server)
		ep->nhandshakes--;
	c->state = CS_OPEN;
	/* Belt and braces: the verify hook already ran for this session. */
	if (!c->peer_known || tls_session_peer_key(c->tls, pk) < 0 ||
	    sodium_memcmp(pk, c->peer, QUIC_KEY_LEN) != 0) {
		conn_close_local(c, QUIC_CODE_PROTOCOL, QUIC_CLOSE_HANDSHAKE, 1);
		return;
	}
	if (!c->server && conn_open_stream(c) < 0) {
		conn_close_local(c, QUIC_CODE_PROTOCOL, QUIC_CLOSE_PROTOCOL, 1);
		return;
	}
	ngtcp2_conn_set_keep_alive_timeout(c->nc, (uint64_t)ep->cfg.keepalive_ms * MS_NS);
	if (c->have_from)
		magicsock_peer_heard(ep->ms, c->peer, &c->last_from);
	if (strcmp(c->alpn, QUIC_ALPN_MESH) == 0)
		other = quic_endpoint_find(ep, c->peer, c->alpn);
	c->confirmed_ts = ep_now(ep);
	if (other && c->confirmed_ts - other->confirmed_ts < DUP_RACE_NS &&
	    conn_survivor(c, other) == other) {
		log_debug("quic: duplicate mesh connection, keeping the older");
		conn_close_local(c, QUIC_CODE_DUPLICATE, QUIC_CLOSE_SUPERSEDED, 1);
		return;
	}
	c->confirmed = 1;
	c->owner_knows = 1;
	if (ep->ev.confirmed)
		ep->ev.confirmed(ep->ud, c);
	if (other) {
		log_debug("quic: duplicate mesh connection, replacing");
		conn_close_local(other, QUIC_CODE_DUPLICATE, QUIC_CLOSE_SUPERSEDED, 1);
		if (other->state == CS_DEAD)
			conn_destroy(other);
	}
}

/*
 * Work deferred while ngtcp2 was running: confirmations and closes now;
 * the packets it owes (ACKs, queued DATAGRAMs the ACKs made room for) in
 * the check phase, so one recvmmsg batch costs one flush. Handshakes flush
 * at once: quic_endpoint_input judges a new connection by its answer.
 */
static void conn_after(struct quic_conn *c)
{
	if (c->confirm_pending && c->state == CS_HANDSHAKE) {
		c->confirm_pending = 0;
		conn_confirm(c);
	}
	if (c->close_pending) {
		c->close_pending = 0;
		conn_close_local(c, c->close_pending_code, c->close_pending_reason, 1);
	}
	if (c->state == CS_OPEN && ++c->rx_unflushed < ACK_EVERY_PKTS)
		conn_mark_dirty(c);
	else
		conn_flush(c);
}

/* ---- input ---- */

static void conn_input(struct quic_conn *c, const uint8_t *pkt, size_t len,
		       const union ms_addr *from)
{
	struct quic_endpoint *ep = c->ep;
	ngtcp2_pkt_info pi;
	int rv;

	if (c->state == CS_CLOSING) {
		if (c->close_pkt && c->close_resends++ < CLOSE_RESENDS) {
			c->last_from = *from;
			conn_send(c, c->close_pkt, c->close_len);
		}
		return;
	}
	if (c->state == CS_DEAD)
		return;
	memset(&pi, 0, sizeof(pi));
	c->in_ngtcp2 = 1;
	rv = ngtcp2_conn_read_pkt(c->nc, &ep->vpath, &pi, pkt, len, ep_now(ep));
	c->in_ngtcp2 = 0;
	if (rv != 0) {
		if (rv == NGTCP2_ERR_DISCARD_PKT)
			return;
		conn_read_error(c, rv);
		return;
	}
	c->st.rx_packets++;
	c->st.rx_bytes += len;
	c->last_from = *from;
	c->have_from = 1;
	if (c->peer_known && (!c->server || c->confirmed))
		magicsock_peer_heard(ep->ms, c->peer, from);
	conn_after(c);
}

void quic_endpoint_input(struct quic_endpoint *ep, const uint8_t *pkt, size_t len,
			 const union ms_addr *from)
{
	ngtcp2_version_cid vc;
	struct quic_conn *c;
	int rv;

	/* ngtcp2 asserts on an empty packet instead of failing. */
	if (len == 0) {
		ep->st.rx_bad++;
		return;
	}
	rv = ngtcp2_pkt_decode_version_cid(&vc, pkt, len, SCID_LEN);
	if (rv != 0) {
		/* Version negotiation is not offered: peers all speak v1. */
		ep->st.rx_bad++;
		return;
	}
	c = cid_find(ep, vc.dcid, vc.dcidlen);
	if (c == NULL) {
		if (vc.version == 0 || (c = conn_accept(ep, pkt, len, from)) == NULL) {
			ep->st.rx_unknown++;
			return;
		}
		conn_input(c, pkt, len, from);
		/*
		 * A real client Initial (our ClientHello fits one packet) is
		 * answered at once; silence means it did not decrypt, and the
		 * half-open slot is not kept for the handshake timeout.
		 */
		if (c->state == CS_HANDSHAKE && c->st.tx_packets == 0) {
			ep->st.rx_bad++;
			conn_mark_dead(c);
		}
	} else {
		conn_input(c, pkt, len, from);
	}
	if (c->state == CS_DEAD)
		conn_destroy(c);
}

static void on_quic_packet(void *ud, const uint8_t *pkt, size_t len, const union ms_addr *from)
{
	quic_endpoint_input(ud, pkt, len, from);
}

/* ---- flush phase ---- */

static void on_idle(uv_idle_t *h)
{
	/* Only here to keep the poll phase from blocking; see on_check. */
	uv_idle_stop(h);
}

/*
 * Flushes every dirty connection, then tells the owner about connections
 * that refused a DATAGRAM and have room again (it may send at once: those
 * connections turn dirty again and are flushed in the same pass).
 */
static void on_check(uv_check_t *h)
{
	struct quic_endpoint *ep = h->data;
	struct quic_conn *c;
	int i;

	for (i = 0; i < DIRTY_MAX && (c = ep->dirty) != NULL; i++) {
		dirty_unlink(c);
		conn_flush(c);
		if (c->close_pending && !c->in_ngtcp2 && c->state != CS_DEAD) {
			c->close_pending = 0;
			c->in_event = 1;
			conn_close_local(c, c->close_pending_code, c->close_pending_reason, 1);
			c->in_event = 0;
		}
		if (c->dq_blocked && c->dq_len <= QUIC_DGRAM_QUEUE / 2 && c->state == CS_OPEN) {
			c->dq_blocked = 0;
			conn_writable(c);
		}
		if (c->room_wanted && c->state == CS_OPEN && !c->close_pending &&
		    quic_conn_txq_room(c) >= c->room_wanted) {
			c->room_wanted = 0;
			conn_writable(c);
		}
		if (c->state == CS_DEAD)
			conn_destroy(c);
	}
	/* Leftovers (DIRTY_MAX reached) go in the next iteration, at once. */
	if (ep->dirty)
		uv_idle_start(&ep->idle, on_idle);
	else
		uv_idle_stop(&ep->idle);
}

static void conn_writable(struct quic_conn *c)
{
	struct quic_endpoint *ep = c->ep;

	if (!ep->writable)
		return;
	c->in_event = 1;
	ep->writable(ep->writable_ud, c);
	c->in_event = 0;
}

void quic_conn_want_room(struct quic_conn *c, size_t bytes)
{
	c->room_wanted = bytes > c->txq_cap / 2 ? c->txq_cap / 2 : bytes;
	if (c->room_wanted == 0)
		c->room_wanted = 1;
	conn_mark_dirty(c);
}

void quic_endpoint_set_writable(struct quic_endpoint *ep, quic_writable_fn fn, void *ud)
{
	ep->writable = fn;
	ep->writable_ud = ud;
}

/* ---- public connection API ---- */

size_t quic_conn_max_datagram(struct quic_conn *c)
{
	const ngtcp2_transport_params *rp;
	uint64_t frame, udp, overhead, n, m;

	if (c->state != CS_OPEN || !c->confirmed)
		return 0;
	rp = ngtcp2_conn_get_remote_transport_params(c->nc);
	if (rp == NULL || rp->max_datagram_frame_size == 0)
		return 0;
	/* DATAGRAM frame: type (1) + varint length + payload. */
	frame = rp->max_datagram_frame_size;
	n = frame > 3 ? frame - 3 : 0; /* 2-byte varint: < 16384 */
	if (frame - 1 <= 64)
		n = frame > 2 ? frame - 2 : 0; /* 1-byte varint */
	if (n >= 16384)
		n = 16383;
	/*
	 * And it must fit one packet: short header (1 + DCID + up to 4 bytes
	 * of packet number) and the AEAD tag.
	 */
	udp = rp->max_udp_payload_size < QUIC_MAX_UDP_PAYLOAD ? rp->max_udp_payload_size
							      : QUIC_MAX_UDP_PAYLOAD;
	overhead = 1 + ngtcp2_conn_get_dcid(c->nc)->datalen + 4 + 16 + 3;
	m = udp > overhead ? udp - overhead : 0;
	return (size_t)(n < m ? n : m);
}

int quic_conn_send_datagram(struct quic_conn *c, const uint8_t *buf, size_t len)
{
	struct dslot *d;

	if (c->state != CS_OPEN || !c->confirmed)
		return -ENOTCONN;
	if (len == 0 || len > quic_conn_max_datagram(c)) {
		c->st.dgrams_dropped++;
		return -EMSGSIZE;
	}
	if (c->dq_len == QUIC_DGRAM_QUEUE) {
		c->dq_blocked = 1;
		c->st.dgrams_dropped++;
		return -EAGAIN;
	}
	if (c->dq == NULL && (c->dq = malloc(QUIC_DGRAM_QUEUE * sizeof(*c->dq))) == NULL)
		return -ENOMEM;
	d = &c->dq[(c->dq_head + c->dq_len) % QUIC_DGRAM_QUEUE];
	memcpy(d->data, buf, len);
	d->len = len;
	c->dq_len++;
	conn_mark_dirty(c);
	return 0;
}

int quic_conn_send_msg(struct quic_conn *c, const uint8_t *buf, size_t len)
{
	int rv;

	if (c->state != CS_OPEN || !c->confirmed)
		return -ENOTCONN;
	if (len == 0 || len > QUIC_MSG_CAP)
		return -EMSGSIZE;
	rv = txq_push(c, buf, len);
	if (rv == -ENOBUFS && !c->close_pending) {
		if (remote_log_ok(c->ep))
			log_info("quic: peer %02x%02x%02x%02x.. does not take our "
				 "messages (%zu bytes queued): closing",
				 c->peer[0], c->peer[1], c->peer[2], c->peer[3],
				 (size_t)(c->tx_end - c->tx_base));
		c->ep->st.overloads++;
		c->close_pending = 1;
		c->close_pending_code = QUIC_CODE_OVERLOAD;
		c->close_pending_reason = QUIC_CLOSE_LOCAL;
		conn_mark_dirty(c);
	}
	if (rv < 0)
		return rv;
	conn_flush(c);
	conn_reap(c);
	return 0;
}

int quic_conn_same_source(const struct quic_conn *a, const struct quic_conn *b)
{
	return a->server && b->server && same_source(&a->source, &b->source);
}

void quic_conn_set_txq_cap(struct quic_conn *c, size_t bytes)
{
	c->txq_cap = bytes;
}

void quic_conn_set_trusted(struct quic_conn *c, int trusted)
{
	c->trusted = trusted != 0;
}

uint32_t quic_accept_cap(uint32_t max_conns)
{
	return max_conns / 4 * 3;
}

int quic_endpoint_set_max_conns(struct quic_endpoint *ep, uint32_t n)
{
	if (n < 16)
		return -EINVAL;
	ep->cfg.max_conns = n;
	return 0;
}

size_t quic_conn_txq_room(const struct quic_conn *c)
{
	size_t used = c->tx_end - c->tx_base + 4;

	return used >= c->txq_cap ? 0 : c->txq_cap - used;
}

void quic_conn_close(struct quic_conn *c, uint64_t code)
{
	conn_close_local(c, code, QUIC_CLOSE_LOCAL, 1);
	conn_reap(c);
}

const uint8_t *quic_conn_peer(const struct quic_conn *c)
{
	return c->peer;
}

const char *quic_conn_alpn(const struct quic_conn *c)
{
	return c->alpn;
}

int quic_conn_is_client(const struct quic_conn *c)
{
	return !c->server;
}

int quic_conn_is_confirmed(const struct quic_conn *c)
{
	return c->confirmed;
}

void quic_conn_get_stats(struct quic_conn *c, struct quic_stats *st)
{
	ngtcp2_conn_info ci;

	*st = c->st;
	ngtcp2_conn_get_conn_info(c->nc, &ci);
	st->rtt_ms = (double)ci.smoothed_rtt / 1e6;
	st->cwnd = ci.cwnd;
	st->bytes_in_flight = ci.bytes_in_flight;
}

void quic_conn_set_data(struct quic_conn *c, void *data)
{
	c->data = data;
}

void *quic_conn_get_data(const struct quic_conn *c)
{
	return c->data;
}

const char *quic_close_reason_name(enum quic_close_reason r)
{
	switch (r) {
	case QUIC_CLOSE_LOCAL:
		return "local";
	case QUIC_CLOSE_PEER:
		return "peer";
	case QUIC_CLOSE_IDLE:
		return "idle timeout";
	case QUIC_CLOSE_HANDSHAKE:
		return "handshake failed";
	case QUIC_CLOSE_PROTOCOL:
		return "protocol error";
	case QUIC_CLOSE_SUPERSEDED:
		return "superseded";
	}
	return "unknown";
}

/* ---- detached receive side (quic.h: quic_rx) ---- */

/*
 * A connection that is only its receive side: rx_feed and rx_message run on
 * it unchanged, the endpoint around it holding just what they read (the cap,
 * the log limit, the message event).
 */
struct quic_rx {
	struct quic_endpoint ep;
	struct quic_conn c;
	quic_rx_fn fn;
	void *ud;
};

static void rx_probe_message(void *ud, struct quic_conn *c, const uint8_t *buf, size_t len)
{
	struct quic_rx *rx = ud;

	(void)c;
	rx->fn(rx->ud, buf, len);
}

int quic_rx_new(struct quic_rx **out, uv_loop_t *loop, uint32_t max_msg_len, quic_rx_fn fn,
		void *ud)
{
	struct quic_rx *rx = calloc(1, sizeof(*rx));

	*out = NULL;
	if (rx == NULL)
		return -ENOMEM;
	rx->ep.loop = loop;
	ratelimit_init(&rx->ep.remote_log, REMOTE_LOG_BURST, REMOTE_LOG_EVERY_MS);
	rx->ep.cfg.max_msg_len =
		max_msg_len && max_msg_len <= QUIC_MSG_CAP ? max_msg_len : QUIC_MSG_CAP;
	rx->ep.ev.message = rx_probe_message;
	rx->ep.ud = rx;
	rx->c.ep = &rx->ep;
	frame_reader_init(&rx->c.rx, rx->ep.cfg.max_msg_len);
	rx->c.owner_knows = 1;
	rx->c.confirmed = 1;
	rx->fn = fn;
	rx->ud = ud;
	*out = rx;
	return 0;
}

int quic_rx_feed(struct quic_rx *rx, const uint8_t *p, size_t n)
{
	return rx_feed(&rx->c, p, n);
}

void quic_rx_free(struct quic_rx *rx)
{
	if (rx == NULL)
		return;
	frame_reader_close(&rx->c.rx);
	free(rx);
}

/* ---- endpoint ---- */

int quic_endpoint_new(struct quic_endpoint **out, uv_loop_t *loop, struct magicsock *ms,
		      const uint8_t seed[QUIC_KEY_LEN], const struct quic_config *cfg,
		      const struct quic_events *ev, void *ud)
{
	struct quic_endpoint *ep;
	int err;

	*out = NULL;
	ep = calloc(1, sizeof(*ep));
	if (ep == NULL)
		return -ENOMEM;
	ep->txbuf = malloc(FLUSH_MAX_PKTS * QUIC_MAX_UDP_PAYLOAD);
	if (ep->txbuf == NULL) {
		free(ep);
		return -ENOMEM;
	}
	if ((err = tls_creds_init(&ep->tls, seed, tls_verify)) < 0) {
		free(ep->txbuf);
		free(ep);
		return err;
	}
	ep->loop = loop;
	ep->ms = ms;
	ratelimit_init(&ep->remote_log, REMOTE_LOG_BURST, REMOTE_LOG_EVERY_MS);
	if (cfg)
		ep->cfg = *cfg;
	if (ep->cfg.idle_timeout_ms == 0)
		ep->cfg.idle_timeout_ms = 30000;
	if (ep->cfg.keepalive_ms == 0)
		ep->cfg.keepalive_ms = 5000;
	if (ep->cfg.handshake_timeout_ms == 0)
		ep->cfg.handshake_timeout_ms = 10000;
	if (ep->cfg.max_msg_len == 0 || ep->cfg.max_msg_len > QUIC_MSG_CAP)
		ep->cfg.max_msg_len = QUIC_MSG_CAP;
	if (ep->cfg.max_conns == 0)
		ep->cfg.max_conns = 1024;
	if (ep->cfg.max_handshakes == 0)
		ep->cfg.max_handshakes = 128;
	if (ep->cfg.max_conns_per_key == 0)
		ep->cfg.max_conns_per_key = 4;
	if (ep->cfg.max_conns_per_source == 0)
		ep->cfg.max_conns_per_source = 32;
	if (ep->cfg.txq_cap == 0)
		ep->cfg.txq_cap = QUIC_TXQ_CAP;
	if (ev)
		ep->ev = *ev;
	ep->ud = ud;
	randombytes_buf(ep->cid_key, sizeof(ep->cid_key));
	randombytes_buf(ep->reset_secret, sizeof(ep->reset_secret));
	randombytes_buf(ep->retry_secret, sizeof(ep->retry_secret));
	/* 100::/64 is the IPv6 discard prefix: a path that is never real. */
	ep->vlocal.sin6_family = AF_INET6;
	ep->vlocal.sin6_addr.s6_addr[0] = 0x01;
	ep->vlocal.sin6_addr.s6_addr[15] = 1;
	ep->vlocal.sin6_port = htons(1);
	ep->vremote = ep->vlocal;
	ep->vremote.sin6_addr.s6_addr[15] = 2;
	ep->vpath.local.addr = (ngtcp2_sockaddr *)&ep->vlocal;
	ep->vpath.local.addrlen = sizeof(ep->vlocal);
	ep->vpath.remote.addr = (ngtcp2_sockaddr *)&ep->vremote;
	ep->vpath.remote.addrlen = sizeof(ep->vremote);
	uv_check_init(loop, &ep->check);
	ep->check.data = ep;
	uv_check_start(&ep->check, on_check);
	/* The check handle alone must not keep the loop alive. */
	uv_unref((uv_handle_t *)&ep->check);
	uv_idle_init(loop, &ep->idle);
	ep->idle.data = ep;
	magicsock_set_handler(ms, MS_PKT_QUIC, on_quic_packet, ep);
	*out = ep;
	return 0;
}

/* The endpoint is freed when the second of its two handles has closed. */
static void on_ep_handle_closed(uv_handle_t *h)
{
	struct quic_endpoint *ep = h->data;

	if (++ep->handles_closed < 2)
		return;
	free(ep->txbuf);
	free(ep);
}

void quic_endpoint_free(struct quic_endpoint *ep)
{
	struct quic_conn *c;
	ngtcp2_ccerr cc;

	if (ep == NULL)
		return;
	magicsock_set_handler(ep->ms, MS_PKT_QUIC, NULL, NULL);
	while ((c = ep->conns) != NULL) {
		if (c->state == CS_HANDSHAKE || c->state == CS_OPEN) {
			c->owner_knows = 0;
			ngtcp2_ccerr_default(&cc);
			ngtcp2_ccerr_set_application_error(&cc, QUIC_CODE_SHUTDOWN, NULL, 0);
			conn_enter_closing(c, &cc);
		}
		conn_destroy(c);
	}
	tls_creds_close(&ep->tls);
	sodium_memzero(ep->reset_secret, sizeof(ep->reset_secret));
	uv_close((uv_handle_t *)&ep->check, on_ep_handle_closed);
	uv_close((uv_handle_t *)&ep->idle, on_ep_handle_closed);
}

const uint8_t *quic_endpoint_key(const struct quic_endpoint *ep)
{
	return ep->tls.pk;
}

void quic_endpoint_get_stats(const struct quic_endpoint *ep, struct quic_endpoint_stats *st)
{
	*st = ep->st;
	st->conns = ep->nconns;
}
