/*
 * fake_net: see fake_net.h. The __wrap_ functions stand in for quic.c and
 * magicsock.c in every call the daemon's objects make (the linker sends
 * them here); quic.c itself is still linked for quic_rx and the pure
 * helpers. A struct quic_conn pointer the daemon holds is a struct
 * fake_conn here.
 */
#include "fake_net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "transport/magicsock.h"
#include "transport/quic.h"

struct fake_conn {
	struct fake_conn *next;
	unsigned id;
	uint8_t pk[32];
	bool blobs, server, confirmed, closing, close_due, stalled;
	int source;
	int reason;
	uint64_t code;
	size_t txq_cap, txq_used;
	int trusted;
	void *data;
	struct quic_rx *rx;
	uint8_t last_get[32];
	bool has_get;
};

/* What magicsock knows of a peer: enough for quic_connect and paths. */
struct fake_peer {
	uint8_t pk[32];
	bool used, addrs, relay;
};

static struct daemon *fd_daemon;
static uint8_t own[32];
static fake_sent_fn on_sent;
static struct fake_conn *conns;
static size_t n_conns;
static struct fake_peer fpeers[16];
static unsigned next_id = 1;
static int depth;        /* inside an event: closes wait */
static uint64_t skew_ns; /* added to the monotonic clocks */

/* ---- clock and disk ---- */

/*
 * libuv reads the loop time through clock_gettime (CLOCK_MONOTONIC or its
 * coarse form); moving those forward lets the caller's ticks make timers
 * due. libFuzzer keeps time with the realtime clock, untouched.
 */
int clock_gettime(clockid_t id, struct timespec *ts)
{
	long ret = syscall(SYS_clock_gettime, id, ts);
	uint64_t ns;

	if (ret != 0 || !skew_ns ||
	    (id != CLOCK_MONOTONIC && id != CLOCK_MONOTONIC_COARSE && id != CLOCK_MONOTONIC_RAW &&
	     id != CLOCK_BOOTTIME))
		return (int)ret;
	ns = (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec + skew_ns;
	ts->tv_sec = (time_t)(ns / 1000000000ull);
	ts->tv_nsec = (long)(ns % 1000000000ull);
	return 0;
}

/*
 * Unix time as the daemon reads it (daemon_unix_now calls time()): the
 * first reading in this process, plus the skew. Ephemeral pruning and
 * record expiry then follow the caller's ticks, and an input replays the
 * same however long the process has run or where a second boundary fell.
 */
time_t time(time_t *t)
{
	static time_t base;
	struct timespec ts;
	time_t now;

	if (!base) {
		syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
		base = ts.tv_sec;
	}
	now = base + (time_t)(skew_ns / 1000000000ull);
	if (t)
		*t = now;
	return now;
}

int fsync(int fd)
{
	(void)fd;
	return 0;
}

/* ---- connections ---- */

static struct fake_conn *of(struct quic_conn *c)
{
	return (struct fake_conn *)c;
}

static struct quic_conn *as_quic(struct fake_conn *c)
{
	return (struct quic_conn *)c;
}

static void unlink_free(struct fake_conn *c)
{
	for (struct fake_conn **pp = &conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	n_conns--;
	quic_rx_free(c->rx);
	free(c);
}

static void deliver_closed(struct fake_conn *c)
{
	depth++;
	daemon_quic_events.closed(fd_daemon, as_quic(c), c->reason, c->code);
	depth--;
	unlink_free(c);
}

void fake_flush(void)
{
	struct fake_conn *c;

	if (depth)
		return;
	do {
		for (c = conns; c && !c->close_due; c = c->next)
			;
		if (c)
			deliver_closed(c);
	} while (c);
}

/* Marks c closed; the event now (outside events) or once the event ends. */
static void close_conn(struct fake_conn *c, int reason, uint64_t code, bool later)
{
	if (c->closing)
		return;
	c->closing = true;
	c->reason = reason;
	c->code = code;
	if (depth || later) {
		c->close_due = true;
		return;
	}
	deliver_closed(c);
}

static void on_rx(void *ud, const uint8_t *buf, size_t len)
{
	struct fake_conn *c = ud;

	if (c->closing)
		return; /* quic.c stops reading a stream once it closes */
	depth++;
	daemon_quic_events.message(fd_daemon, as_quic(c), buf, len);
	depth--;
}

static struct fake_conn *conn_new(const uint8_t pk[32], bool blobs, bool server)
{
	struct fake_conn *c;

	if (n_conns >= FAKE_MAX_CONNS || !(c = calloc(1, sizeof(*c))))
		return NULL;
	if (quic_rx_new(&c->rx, fd_daemon->loop, 0, on_rx, c) < 0) {
		free(c);
		return NULL;
	}
	c->id = next_id++;
	memcpy(c->pk, pk, 32);
	c->blobs = blobs;
	c->server = server;
	c->txq_cap = QUIC_TXQ_CAP;
	c->next = conns;
	conns = c;
	n_conns++;
	return c;
}

static struct fake_conn *by_id(unsigned id)
{
	for (struct fake_conn *c = conns; id && c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static struct fake_conn *find(const uint8_t pk[32], bool blobs, int side,
			      const struct fake_conn * not )
{
	for (struct fake_conn *c = conns; c; c = c->next)
		if (c != not &&c->confirmed && !c->closing && c->blobs == blobs &&
		    (side < 0 || side == !c->server) && memcmp(c->pk, pk, 32) == 0)
			return c;
	return NULL;
}

unsigned fake_find(const uint8_t pk[32], bool blobs, int side)
{
	struct fake_conn *c = find(pk, blobs, side, NULL);

	return c ? c->id : 0;
}

/* c is confirmed: a mesh connection already up to the same peer either
 * survives (lose) or is superseded once c's event is done, as quic.c's
 * duplicate rule has it. */
static void confirm(struct fake_conn *c, bool lose)
{
	struct fake_conn *other = c->blobs ? NULL : find(c->pk, false, -1, c);

	if (other && lose) {
		if (c->server) {
			unlink_free(c); /* the daemon never heard of it */
			return;
		}
		close_conn(c, QUIC_CLOSE_SUPERSEDED, QUIC_CODE_DUPLICATE, false);
		return;
	}
	c->confirmed = true;
	depth++;
	daemon_quic_events.confirmed(fd_daemon, as_quic(c));
	depth--;
	if (other)
		close_conn(other, QUIC_CLOSE_SUPERSEDED, QUIC_CODE_DUPLICATE, false);
	fake_flush();
}

unsigned fake_accept(const uint8_t pk[32], bool blobs, int source, bool stalled)
{
	struct fake_conn *c;
	unsigned id;

	if (n_conns >= FAKE_MAX_CONNS ||
	    daemon_quic_events.accept(fd_daemon, pk, blobs ? QUIC_ALPN_BLOBS : QUIC_ALPN_MESH))
		return 0;
	c = conn_new(pk, blobs, true);
	if (!c)
		return 0;
	c->source = source;
	c->stalled = stalled;
	id = c->id;
	confirm(c, false);
	c = by_id(id);
	return c && c->confirmed && !c->closing ? id : 0;
}

static struct fake_conn *dial_nr(size_t i)
{
	for (struct fake_conn *c = conns; c; c = c->next)
		if (!c->server && !c->confirmed && !c->closing && i-- == 0)
			return c;
	return NULL;
}

size_t fake_dials(void)
{
	size_t n = 0;

	for (struct fake_conn *c = conns; c; c = c->next)
		n += !c->server && !c->confirmed && !c->closing;
	return n;
}

void fake_confirm(size_t i, bool lose)
{
	struct fake_conn *c = dial_nr(i);

	if (c)
		confirm(c, lose);
}

const uint8_t *fake_dial_pk(size_t i)
{
	struct fake_conn *c = dial_nr(i);

	return c ? c->pk : NULL;
}

void fake_fail_dial(size_t i)
{
	struct fake_conn *c = dial_nr(i);

	if (c)
		fake_close(c->id, QUIC_CLOSE_HANDSHAKE, 0);
}

void fake_feed(unsigned id, const uint8_t *p, size_t n)
{
	struct fake_conn *c = by_id(id);
	int ret;

	if (!c || c->closing || !c->confirmed)
		return;
	ret = quic_rx_feed(c->rx, p, n);
	/* The event may have closed and freed it. */
	if (ret < 0 && (c = by_id(id)) && !c->closing)
		close_conn(c, QUIC_CLOSE_PROTOCOL, QUIC_CODE_PROTOCOL, false);
	fake_flush();
}

void fake_feed_msg(unsigned id, const struct ctl_msg *m)
{
	msgpack_sbuffer sb;
	uint8_t hdr[4];

	msgpack_sbuffer_init(&sb);
	if (ctl_encode(m, &sb) < 0)
		abort();
	hdr[0] = (uint8_t)(sb.size >> 24);
	hdr[1] = (uint8_t)(sb.size >> 16);
	hdr[2] = (uint8_t)(sb.size >> 8);
	hdr[3] = (uint8_t)sb.size;
	fake_feed(id, hdr, 4);
	fake_feed(id, (const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

void fake_close(unsigned id, int reason, uint64_t code)
{
	struct fake_conn *c = by_id(id);

	if (c)
		close_conn(c, reason, code, false);
	fake_flush();
}

void fake_clock_advance(uint64_t ms)
{
	skew_ns += ms * 1000000ull;
	for (struct fake_conn *c = conns; c; c = c->next)
		if (!c->stalled)
			c->txq_used = 0;
	fake_flush();
}

void fake_clock_reset(void)
{
	skew_ns = 0;
}

size_t fake_count(void)
{
	return n_conns;
}

void fake_net_init(struct daemon *d, const uint8_t own_pk[32], fake_sent_fn sent)
{
	fd_daemon = d;
	memcpy(own, own_pk, 32);
	on_sent = sent;
}

void fake_net_reset(void)
{
	while (conns)
		unlink_free(conns);
	memset(fpeers, 0, sizeof(fpeers));
	depth = 0;
}

const uint8_t *fake_last_get(unsigned id)
{
	struct fake_conn *c = by_id(id);

	return c && c->has_get ? c->last_get : NULL;
}

bool fake_is_blobs_client(unsigned id)
{
	struct fake_conn *c = by_id(id);

	return c && c->blobs && !c->server;
}

const uint8_t *fake_conn_pk(const struct fake_conn *c)
{
	return c->pk;
}

/* ---- quic.h, as the daemon calls it ---- */

int __wrap_quic_connect(struct quic_endpoint *ep, const uint8_t pk[QUIC_KEY_LEN], const char *alpn,
			struct quic_conn **out);
enum ms_path __wrap_magicsock_peer_path(struct magicsock *ms, const uint8_t pk[32],
					union ms_addr *addr);

int __wrap_quic_connect(struct quic_endpoint *ep, const uint8_t pk[QUIC_KEY_LEN], const char *alpn,
			struct quic_conn **out)
{
	bool blobs = strcmp(alpn, QUIC_ALPN_BLOBS) == 0;
	struct fake_conn *c;

	(void)ep;
	*out = NULL;
	if (!blobs && strcmp(alpn, QUIC_ALPN_MESH) != 0)
		return -EINVAL;
	if (memcmp(pk, own, 32) == 0)
		return -EINVAL;
	if (n_conns >= FAKE_MAX_CONNS)
		return -EMFILE;
	if (__wrap_magicsock_peer_path(NULL, pk, NULL) == MS_PATH_NONE)
		return -EHOSTUNREACH;
	c = conn_new(pk, blobs, false);
	if (!c)
		return -ENOMEM;
	*out = as_quic(c);
	return 0;
}

int __wrap_quic_conn_send_msg(struct quic_conn *qc, const uint8_t *buf, size_t len);
int __wrap_quic_conn_send_msg(struct quic_conn *qc, const uint8_t *buf, size_t len)
{
	struct fake_conn *c = of(qc);
	struct ctl_msg m;

	if (!c->confirmed || c->closing)
		return -ENOTCONN;
	if (len == 0 || len > QUIC_MSG_CAP)
		return -EMSGSIZE;
	if (c->txq_used + len + 4 > c->txq_cap) {
		close_conn(c, QUIC_CLOSE_LOCAL, QUIC_CODE_OVERLOAD, true);
		return -ENOBUFS;
	}
	c->txq_used += len + 4;
	if (ctl_decode(buf, len, &m) < 0)
		__builtin_trap(); /* the daemon sent what no peer can read */
	if (m.type == CTL_BLOB_GET) {
		memcpy(c->last_get, m.hash, 32);
		c->has_get = true;
	}
	if (on_sent)
		on_sent(c, &m, buf, len);
	return 0;
}

void __wrap_quic_conn_close(struct quic_conn *qc, uint64_t code);
void __wrap_quic_conn_close(struct quic_conn *qc, uint64_t code)
{
	close_conn(of(qc), QUIC_CLOSE_LOCAL, code, false);
}

void *__wrap_quic_conn_get_data(const struct quic_conn *qc);
void *__wrap_quic_conn_get_data(const struct quic_conn *qc)
{
	return ((const struct fake_conn *)qc)->data;
}

void __wrap_quic_conn_set_data(struct quic_conn *qc, void *data);
void __wrap_quic_conn_set_data(struct quic_conn *qc, void *data)
{
	of(qc)->data = data;
}

int __wrap_quic_conn_is_client(const struct quic_conn *qc);
int __wrap_quic_conn_is_client(const struct quic_conn *qc)
{
	return !((const struct fake_conn *)qc)->server;
}

int __wrap_quic_conn_is_confirmed(const struct quic_conn *qc);
int __wrap_quic_conn_is_confirmed(const struct quic_conn *qc)
{
	return ((const struct fake_conn *)qc)->confirmed;
}

const uint8_t *__wrap_quic_conn_peer(const struct quic_conn *qc);
const uint8_t *__wrap_quic_conn_peer(const struct quic_conn *qc)
{
	return ((const struct fake_conn *)qc)->pk;
}

const char *__wrap_quic_conn_alpn(const struct quic_conn *qc);
const char *__wrap_quic_conn_alpn(const struct quic_conn *qc)
{
	return ((const struct fake_conn *)qc)->blobs ? QUIC_ALPN_BLOBS : QUIC_ALPN_MESH;
}

size_t __wrap_quic_conn_txq_room(const struct quic_conn *qc);
size_t __wrap_quic_conn_txq_room(const struct quic_conn *qc)
{
	const struct fake_conn *c = (const struct fake_conn *)qc;
	size_t used = c->txq_used + 4;

	return used >= c->txq_cap ? 0 : c->txq_cap - used;
}

void __wrap_quic_conn_set_txq_cap(struct quic_conn *qc, size_t bytes);
void __wrap_quic_conn_set_txq_cap(struct quic_conn *qc, size_t bytes)
{
	of(qc)->txq_cap = bytes;
}

void __wrap_quic_conn_set_trusted(struct quic_conn *qc, int trusted);
void __wrap_quic_conn_set_trusted(struct quic_conn *qc, int trusted)
{
	of(qc)->trusted = trusted != 0;
}

int __wrap_quic_conn_same_source(const struct quic_conn *a, const struct quic_conn *b);
int __wrap_quic_conn_same_source(const struct quic_conn *a, const struct quic_conn *b)
{
	const struct fake_conn *x = (const void *)a, *y = (const void *)b;

	return x->server && y->server && x->source == y->source;
}

void __wrap_quic_conn_get_stats(struct quic_conn *qc, struct quic_stats *st);
void __wrap_quic_conn_get_stats(struct quic_conn *qc, struct quic_stats *st)
{
	(void)qc;
	memset(st, 0, sizeof(*st));
}

int __wrap_quic_conn_send_datagram(struct quic_conn *qc, const uint8_t *buf, size_t len);
int __wrap_quic_conn_send_datagram(struct quic_conn *qc, const uint8_t *buf, size_t len)
{
	struct fake_conn *c = of(qc);

	(void)buf;
	if (!c->confirmed || c->closing)
		return -ENOTCONN;
	return len > QUIC_MAX_DATAGRAM_FRAME ? -EMSGSIZE : 0;
}

size_t __wrap_quic_conn_max_datagram(struct quic_conn *qc);
size_t __wrap_quic_conn_max_datagram(struct quic_conn *qc)
{
	return of(qc)->confirmed ? QUIC_MAX_DATAGRAM_FRAME : 0;
}

/* ---- magicsock.h, as the daemon calls it ---- */

static struct fake_peer *fpeer(const uint8_t pk[32], bool create)
{
	struct fake_peer *free_slot = NULL;

	for (size_t i = 0; i < sizeof(fpeers) / sizeof(fpeers[0]); i++) {
		if (fpeers[i].used && memcmp(fpeers[i].pk, pk, 32) == 0)
			return &fpeers[i];
		if (!fpeers[i].used && !free_slot)
			free_slot = &fpeers[i];
	}
	if (!create || !free_slot)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	memcpy(free_slot->pk, pk, 32);
	return free_slot;
}

int __wrap_magicsock_set_peer_addrs(struct magicsock *ms, const uint8_t pk[32],
				    const union ms_addr *addrs, size_t n);
int __wrap_magicsock_set_peer_addrs(struct magicsock *ms, const uint8_t pk[32],
				    const union ms_addr *addrs, size_t n)
{
	struct fake_peer *p;

	(void)ms;
	if (n > MAGICSOCK_MAX_ADDRS)
		return -E2BIG;
	for (size_t i = 0; i < n; i++)
		if (ms_addr_len(&addrs[i]) == 0 || magicsock_is_virtual(&addrs[i]))
			return -EINVAL;
	if (!(p = fpeer(pk, true)))
		return -ENOMEM;
	p->addrs = n > 0;
	return 0;
}

int __wrap_magicsock_set_peer_relay(struct magicsock *ms, const uint8_t pk[32],
				    const union ms_addr *addr);
int __wrap_magicsock_set_peer_relay(struct magicsock *ms, const uint8_t pk[32],
				    const union ms_addr *addr)
{
	struct fake_peer *p;

	(void)ms;
	if (!addr) {
		if ((p = fpeer(pk, false)))
			p->relay = false;
		return 0;
	}
	if (ms_addr_len(addr) == 0 || magicsock_is_virtual(addr))
		return -EINVAL;
	if (!(p = fpeer(pk, true)))
		return -ENOMEM;
	p->relay = true;
	return 0;
}

void __wrap_magicsock_remove_peer(struct magicsock *ms, const uint8_t pk[32]);
void __wrap_magicsock_remove_peer(struct magicsock *ms, const uint8_t pk[32])
{
	struct fake_peer *p = fpeer(pk, false);

	(void)ms;
	if (p)
		memset(p, 0, sizeof(*p));
}

/* A peer we hold a mesh connection to is heard from: its path is direct. */
enum ms_path __wrap_magicsock_peer_path(struct magicsock *ms, const uint8_t pk[32],
					union ms_addr *addr)
{
	struct fake_peer *p = fpeer(pk, false);

	(void)ms;
	if (addr)
		memset(addr, 0, sizeof(*addr));
	if (find(pk, false, -1, NULL) || (p && p->addrs))
		return MS_PATH_DIRECT;
	return p && p->relay ? MS_PATH_RELAY : MS_PATH_NONE;
}

int __wrap_magicsock_peer_via(struct magicsock *ms, const uint8_t pk[32], uint8_t out[32]);
int __wrap_magicsock_peer_via(struct magicsock *ms, const uint8_t pk[32], uint8_t out[32])
{
	(void)ms;
	(void)pk;
	(void)out;
	return -ENOENT;
}

int __wrap_magicsock_set_peer_vias(struct magicsock *ms, const uint8_t pk[32],
				   const uint8_t (*vias)[32], size_t n);
int __wrap_magicsock_set_peer_vias(struct magicsock *ms, const uint8_t pk[32],
				   const uint8_t (*vias)[32], size_t n)
{
	(void)ms;
	(void)pk;
	(void)vias;
	return n > MAGICSOCK_MAX_VIAS ? -E2BIG : 0;
}

void __wrap_magicsock_get_stats(const struct magicsock *ms, struct magicsock_stats *st);
void __wrap_magicsock_get_stats(const struct magicsock *ms, struct magicsock_stats *st)
{
	(void)ms;
	memset(st, 0, sizeof(*st));
}
