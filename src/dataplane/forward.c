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
	int fd;
	struct peer_table *peers;
	forward_send_fn send;
	void *send_ud;
	unsigned batch;
	int reading;
	int events;			/* events the poll currently watches */
	uint32_t local4[FORWARD_MAX_LOCAL_V4];
	unsigned n_local4;
	uint8_t local6[16];
	int has_local6;
	struct forward_counters c;
	uint8_t *rbuf;			/* FORWARD_MAX_PACKET bytes */
	struct ring_slot *ring;		/* FORWARD_RING_SLOTS */
	unsigned ring_head;
	unsigned ring_len;
};

static void on_poll(uv_poll_t *h, int status, int events);

static int poll_update(struct forward *fwd)
{
	int want = (fwd->reading ? UV_READABLE : 0) | (fwd->ring_len ? UV_WRITABLE : 0);
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

/* TUN → peer, one packet. */
static void forward_outbound(struct forward *fwd, const uint8_t *pkt, size_t len)
{
	struct packet_info pi;
	struct peer_entry *e;
	uint64_t gen;
	int rc;

	if (packet_parse(pkt, len, &pi) < 0) {
		fwd->c.parse_error++;
		return;
	}
	/* also catches our own address looped back into the TUN: it is never
	 * in the peer table */
	e = lookup(fwd->peers, pi.version, &pi.dst);
	if (!e) {
		fwd->c.no_route++;
		return;
	}
	gen = fwd->peers->gen;
	rc = fwd->send(e->peer, pkt, pi.total_len, fwd->send_ud);
	if (rc == -EMSGSIZE) {
		fwd->c.too_big++;
		return;
	}
	if (rc < 0) {
		fwd->c.send_failed++;
		return;
	}
	fwd->c.tx_packets++;
	fwd->c.tx_bytes += pi.total_len;
	if (gen != fwd->peers->gen && !(e = lookup(fwd->peers, pi.version, &pi.dst)))
		return;
	e->tx_packets++;
	e->tx_bytes += pi.total_len;
}

int forward_tun_drain(struct forward *fwd)
{
	int n = 0;

	while ((unsigned)n < fwd->batch) {
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
		forward_outbound(fwd, fwd->rbuf, (size_t)r);
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
	if ((events & UV_READABLE) && fwd->reading)
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
	fwd->ring = calloc(FORWARD_RING_SLOTS, sizeof(*fwd->ring));
	if (!fwd->rbuf || !fwd->ring) {
		rc = -ENOMEM;
		goto fail;
	}
	fwd->fd = cfg->tun_fd;
	fwd->peers = cfg->peers;
	fwd->send = cfg->send;
	fwd->send_ud = cfg->send_ud;
	fwd->batch = cfg->batch ? cfg->batch : FORWARD_DEFAULT_BATCH;
	if ((rc = uv_poll_init(loop, &fwd->poll, fwd->fd)) < 0) {
		log_error("forward: cannot poll the TUN fd: %s", uv_strerror(rc));
		goto fail;
	}
	fwd->poll.data = fwd;
	*out = fwd;
	return 0;
fail:
	free(fwd->rbuf);
	free(fwd->ring);
	free(fwd);
	return rc;
}

static void on_close(uv_handle_t *h)
{
	struct forward *fwd = h->data;

	free(fwd->rbuf);
	free(fwd->ring);
	free(fwd);
}

void forward_close(struct forward *fwd)
{
	if (!fwd)
		return;
	if (fwd->ring_len)
		log_debug("forward: dropping %u parked TUN writes", fwd->ring_len);
	uv_close((uv_handle_t *)&fwd->poll, on_close);
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
