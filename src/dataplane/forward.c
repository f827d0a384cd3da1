/*
 * forward: see forward.h. One read buffer (a whole IP packet can be 64 KiB
 * even though the TUN MTU is 1280) and the write ring are allocated once in
 * forward_open; the per-packet functions only parse, look up and count.
 *
 * The send callback may, through its owner, change the peer table (a failed
 * send can tear a connection down and unmap its peer). The table's
 * generation counter tells us when the entry pointer we hold went stale, so
 * we look it up again before counting.
 */
#include "dataplane/forward.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataplane/firewall.h"
#include "dataplane/icmp.h"
#include "dataplane/packet.h"
#include "util/log.h"

/* Parked packets larger than this are dropped instead: peers send at most
 * one QUIC datagram, well below it. */
#define RING_SLOT_SIZE 2048

struct ring_slot {
	size_t len;
	uint8_t data[RING_SLOT_SIZE];
};

struct forward {
	uv_poll_t poll;
	uv_timer_t hold_timer;
	int closing;			/* handles still to close */
	int fd;
	struct peer_table *peers;
	forward_send_fn send;
	void *send_ud;
	struct firewall *fw;
	forward_mtu_fn mtu;
	unsigned batch;
	int reading;
	int events;			/* events the poll currently watches */
	uint32_t local4[FORWARD_MAX_LOCAL_V4];
	unsigned n_local4;
	uint8_t local6[16];
	int has_local6;
	struct forward_counters c;
	uint8_t *rbuf;			/* FORWARD_MAX_PACKET bytes */
	uint8_t *hbuf;			/* the held packet; swapped with rbuf */
	size_t held_len;
	int holding;
	void *stalled_peer;		/* its -EAGAIN drops until stalled_until */
	uint64_t stalled_until;		/* loop time, ms */
	struct ring_slot *ring;		/* FORWARD_RING_SLOTS */
	unsigned ring_head;
	unsigned ring_len;
};

static void on_poll(uv_poll_t *h, int status, int events);

static int poll_update(struct forward *fwd)
{
	int want = (fwd->reading && !fwd->holding ? UV_READABLE : 0) |
	    (fwd->ring_len ? UV_WRITABLE : 0);
	int rc;

	if (want == fwd->events)
		return 0;
	if (want == 0)
		rc = uv_poll_stop(&fwd->poll);
	else
		rc = uv_poll_start(&fwd->poll, want, on_poll);
	if (rc < 0) {
		log_warn("forward: cannot watch the TUN fd: %s", uv_strerror(rc));
		return rc;
	}
	fwd->events = want;
	return 0;
}

static struct peer_entry *lookup(const struct peer_table *t, int version,
    const union packet_addr *a)
{
	if (version == 4)
		return peer_table_lookup4(t, a->v4);
	return peer_table_lookup6(t, a->v6);
}

static int is_local(const struct forward *fwd, const struct packet_info *pi)
{
	if (pi->version == 6)
		return fwd->has_local6 && memcmp(fwd->local6, pi->dst.v6, 16) == 0;
	for (unsigned i = 0; i < fwd->n_local4; i++)
		if (fwd->local4[i] == pi->dst.v4)
			return 1;
	return 0;
}

static int tun_write_packet(struct forward *fwd, const uint8_t *pkt, size_t len);

/* Firewall verdict for pkt; on REJECT the reply goes into the TUN (our own
 * outbound packet) or back to the peer (its inbound one). 0: pass. */
static int filter(struct forward *fwd, enum fw_dir dir, const uint8_t *pkt,
		  const struct packet_info *pi, struct peer_entry *e)
{
	uint8_t reply[ICMP_REPLY_BUF];
	enum fw_verdict v;
	int n;

	if (!fwd->fw)
		return 0;
	v = firewall_eval(fwd->fw, dir, pi, e->peer, e->net, uv_now(fwd->poll.loop));
	if (v == FW_ALLOW)
		return 0;
	fwd->c.fw_dropped++;
	if (v != FW_REJECT)
		return -EACCES;
	n = icmp_build_reject(reply, sizeof(reply), pkt, pi->total_len, pi);
	if (n <= 0)
		return -EACCES;
	fwd->c.fw_rejected++;
	if (dir == FW_DIR_OUT)
		tun_write_packet(fwd, reply, (size_t)n);
	else
		fwd->send(e->peer, reply, (size_t)n, fwd->send_ud);
	return -EACCES;
}

/* Path-MTU feedback for a packet the peer's path cannot carry. */
static void packet_too_big(struct forward *fwd, const uint8_t *pkt,
			   const struct packet_info *pi, void *peer)
{
	uint8_t reply[ICMP_REPLY_BUF];
	size_t mtu = fwd->mtu ? fwd->mtu(peer, fwd->send_ud) : 0;
	int n;

	if (!mtu || mtu >= pi->total_len)
		return;
	if (pi->version == 6 && mtu < 1280)
		mtu = 1280; /* IPv6 never goes below its minimum link MTU */
	n = icmp_build_too_big(reply, sizeof(reply), pkt, pi->total_len, pi, (uint32_t)mtu);
	if (n > 0 && tun_write_packet(fwd, reply, (size_t)n) == 0)
		fwd->c.ptb_sent++;
}

/* TUN → peer, one packet. Returns -EAGAIN when the peer refused it for
 * congestion and it should be held, else 0 (sent or dropped and counted). */
static int forward_outbound(struct forward *fwd, const uint8_t *pkt, size_t len)
{
	struct packet_info pi;
	struct peer_entry *e;
	uint64_t gen;
	void *peer;
	int rc;

	if (packet_parse(pkt, len, &pi) < 0) {
		fwd->c.parse_error++;
		return 0;
	}
	/* also catches our own address looped back into the TUN: it is never
	 * in the peer table */
	e = lookup(fwd->peers, pi.version, &pi.dst);
	if (!e) {
		fwd->c.no_route++;
		return 0;
	}
	if (filter(fwd, FW_DIR_OUT, pkt, &pi, e) < 0)
		return 0;
	gen = fwd->peers->gen;
	peer = e->peer;
	rc = fwd->send(peer, pkt, pi.total_len, fwd->send_ud);
	if (rc == -EMSGSIZE) {
		fwd->c.too_big++;
		packet_too_big(fwd, pkt, &pi, peer);
		return 0;
	}
	if (rc == -EAGAIN) {
		if (peer != fwd->stalled_peer ||
		    uv_now(fwd->poll.loop) >= fwd->stalled_until)
			return -EAGAIN;
		fwd->c.congestion_dropped++;
		return 0;
	}
	if (rc < 0) {
		fwd->c.send_failed++;
		return 0;
	}
	fwd->c.tx_packets++;
	fwd->c.tx_bytes += pi.total_len;
	if (gen != fwd->peers->gen && !(e = lookup(fwd->peers, pi.version, &pi.dst)))
		return 0;
	e->tx_packets++;
	e->tx_bytes += pi.total_len;
	return 0;
}

static void on_hold_timeout(uv_timer_t *t);

/* The packet in rbuf was refused for congestion: keep it, stop reading. */
static void hold_start(struct forward *fwd, size_t len)
{
	uint8_t *tmp = fwd->hbuf;

	fwd->hbuf = fwd->rbuf;
	fwd->rbuf = tmp;
	fwd->held_len = len;
	fwd->holding = 1;
	fwd->c.held++;
	uv_timer_start(&fwd->hold_timer, on_hold_timeout, FORWARD_HOLD_MS, 0);
	poll_update(fwd);
}

static void hold_end(struct forward *fwd)
{
	fwd->holding = 0;
	fwd->held_len = 0;
	uv_timer_stop(&fwd->hold_timer);
	poll_update(fwd);
}

static void on_hold_timeout(uv_timer_t *t)
{
	struct forward *fwd = t->data;
	struct packet_info pi;
	struct peer_entry *e;

	if (!fwd->holding)
		return;
	/* One last try; the peer may have drained without telling us. */
	if (forward_outbound(fwd, fwd->hbuf, fwd->held_len) == -EAGAIN) {
		fwd->c.congestion_dropped++;
		if (packet_parse(fwd->hbuf, fwd->held_len, &pi) == 0 &&
		    (e = lookup(fwd->peers, pi.version, &pi.dst)) != NULL) {
			fwd->stalled_peer = e->peer;
			fwd->stalled_until = uv_now(fwd->poll.loop) + FORWARD_STALL_MS;
		}
	}
	hold_end(fwd);
}

void forward_resume(struct forward *fwd)
{
	if (!fwd->holding)
		return;
	if (forward_outbound(fwd, fwd->hbuf, fwd->held_len) == -EAGAIN)
		return;
	hold_end(fwd);
	if (fwd->reading)
		forward_tun_drain(fwd);
}

int forward_tun_drain(struct forward *fwd)
{
	int n = 0;

	while ((unsigned)n < fwd->batch && !fwd->holding) {
		ssize_t r = read(fwd->fd, fwd->rbuf, FORWARD_MAX_PACKET);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				fwd->c.tun_read_failed++;
				log_debug("forward: TUN read: %s", strerror(errno));
			}
			break;
		}
		if (r == 0)
			break;
		n++;
		if (forward_outbound(fwd, fwd->rbuf, (size_t)r) == -EAGAIN)
			hold_start(fwd, (size_t)r);
	}
	return n;
}

static int ring_push(struct forward *fwd, const uint8_t *pkt, size_t len)
{
	struct ring_slot *s;

	if (fwd->ring_len == FORWARD_RING_SLOTS || len > RING_SLOT_SIZE) {
		fwd->c.tun_write_failed++;
		return -ENOBUFS;
	}
	s = &fwd->ring[(fwd->ring_head + fwd->ring_len) % FORWARD_RING_SLOTS];
	memcpy(s->data, pkt, len);
	s->len = len;
	fwd->ring_len++;
	poll_update(fwd);
	return 0;
}

/* One write; 0 written, -EAGAIN to retry later, other -errno to drop. */
static int tun_write_once(int fd, const uint8_t *pkt, size_t len)
{
	ssize_t n;

	do
		n = write(fd, pkt, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static void ring_flush(struct forward *fwd)
{
	while (fwd->ring_len) {
		struct ring_slot *s = &fwd->ring[fwd->ring_head];
		int rc = tun_write_once(fwd->fd, s->data, s->len);

		if (rc == -EAGAIN)
			break;
		if (rc < 0)
			fwd->c.tun_write_failed++;
		fwd->ring_head = (fwd->ring_head + 1) % FORWARD_RING_SLOTS;
		fwd->ring_len--;
	}
	poll_update(fwd);
}

/* Writes in order: once anything is parked, later packets queue behind it. */
static int tun_write_packet(struct forward *fwd, const uint8_t *pkt, size_t len)
{
	int rc;

	if (fwd->ring_len)
		return ring_push(fwd, pkt, len);
	rc = tun_write_once(fwd->fd, pkt, len);
	if (rc == -EAGAIN)
		return ring_push(fwd, pkt, len);
	if (rc < 0)
		fwd->c.tun_write_failed++;
	return rc;
}

int forward_deliver(struct forward *fwd, void *peer, const uint8_t *pkt, size_t len)
{
	struct packet_info pi;
	struct peer_entry *e;
	int rc;

	if (packet_parse(pkt, len, &pi) < 0) {
		fwd->c.parse_error++;
		return -EINVAL;
	}
	e = lookup(fwd->peers, pi.version, &pi.src);
	if (!e || e->peer != peer) {
		fwd->c.spoofed_source++;
		return -EPERM;
	}
	if (!is_local(fwd, &pi)) {
		fwd->c.not_for_us++;
		return -EHOSTUNREACH;
	}
	if (filter(fwd, FW_DIR_IN, pkt, &pi, e) < 0)
		return -EACCES;
	if ((rc = tun_write_packet(fwd, pkt, pi.total_len)) < 0)
		return rc;
	fwd->c.rx_packets++;
	fwd->c.rx_bytes += pi.total_len;
	e->rx_packets++;
	e->rx_bytes += pi.total_len;
	return 0;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct forward *fwd = h->data;

	if (status < 0) {
		log_warn("forward: TUN poll error: %s", uv_strerror(status));
		fwd->c.tun_read_failed++;
		return;
	}
	if (events & UV_WRITABLE)
		ring_flush(fwd);
	if ((events & UV_READABLE) && fwd->reading && !fwd->holding)
		forward_tun_drain(fwd);
}

int forward_open(struct forward **out, uv_loop_t *loop, const struct forward_config *cfg)
{
	struct forward *fwd;
	int rc;

	*out = NULL;
	if (!cfg->peers || !cfg->send || cfg->tun_fd < 0 || cfg->batch > FORWARD_MAX_BATCH)
		return -EINVAL;
	fwd = calloc(1, sizeof(*fwd));
	if (!fwd)
		return -ENOMEM;
	fwd->rbuf = malloc(FORWARD_MAX_PACKET);
	fwd->hbuf = malloc(FORWARD_MAX_PACKET);
	fwd->ring = calloc(FORWARD_RING_SLOTS, sizeof(*fwd->ring));
	if (!fwd->rbuf || !fwd->hbuf || !fwd->ring) {
		rc = -ENOMEM;
		goto fail;
	}
	fwd->fd = cfg->tun_fd;
	fwd->peers = cfg->peers;
	fwd->send = cfg->send;
	fwd->send_ud = cfg->send_ud;
	fwd->fw = cfg->fw;
	fwd->mtu = cfg->mtu;
	fwd->batch = cfg->batch ? cfg->batch : FORWARD_DEFAULT_BATCH;
	if ((rc = uv_poll_init(loop, &fwd->poll, fwd->fd)) < 0) {
		log_error("forward: cannot poll the TUN fd: %s", uv_strerror(rc));
		goto fail;
	}
	fwd->poll.data = fwd;
	uv_timer_init(loop, &fwd->hold_timer);
	fwd->hold_timer.data = fwd;
	*out = fwd;
	return 0;
fail:
	free(fwd->rbuf);
	free(fwd->hbuf);
	free(fwd->ring);
	free(fwd);
	return rc;
}

static void on_close(uv_handle_t *h)
{
	struct forward *fwd = h->data;

	if (--fwd->closing > 0)
		return;
	free(fwd->rbuf);
	free(fwd->hbuf);
	free(fwd->ring);
	free(fwd);
}

void forward_close(struct forward *fwd)
{
	if (!fwd)
		return;
	if (fwd->ring_len)
		log_debug("forward: dropping %u parked TUN writes", fwd->ring_len);
	fwd->closing = 2;
	uv_close((uv_handle_t *)&fwd->poll, on_close);
	uv_close((uv_handle_t *)&fwd->hold_timer, on_close);
}

int forward_start(struct forward *fwd)
{
	fwd->reading = 1;
	return poll_update(fwd);
}

int forward_stop(struct forward *fwd)
{
	fwd->reading = 0;
	return poll_update(fwd);
}

int forward_local_add4(struct forward *fwd, uint32_t addr)
{
	for (unsigned i = 0; i < fwd->n_local4; i++)
		if (fwd->local4[i] == addr)
			return -EEXIST;
	if (fwd->n_local4 == FORWARD_MAX_LOCAL_V4)
		return -ENOSPC;
	fwd->local4[fwd->n_local4++] = addr;
	return 0;
}

int forward_local_del4(struct forward *fwd, uint32_t addr)
{
	for (unsigned i = 0; i < fwd->n_local4; i++) {
		if (fwd->local4[i] == addr) {
			fwd->local4[i] = fwd->local4[--fwd->n_local4];
			return 0;
		}
	}
	return -ENOENT;
}

void forward_local_set6(struct forward *fwd, const uint8_t addr[16])
{
	fwd->has_local6 = addr != NULL;
	if (addr)
		memcpy(fwd->local6, addr, 16);
}

void forward_counters_get(const struct forward *fwd, struct forward_counters *out)
{
	*out = fwd->c;
}
