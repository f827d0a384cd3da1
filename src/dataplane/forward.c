/*
 * forward: see forward.h. The read buffer (a whole IP packet can be 64 KiB
 * even though the TUN MTU is 1280, and a super-packet is), the segment
 * arena, the receive batch and the write ring are allocated once in
 * forward_open; the per-packet functions only parse, look up, copy and
 * count.
 *
 * The send callback may, through its owner, change the peer table (a failed
 * send can tear a connection down and unmap its peer). The table's
 * generation counter tells us when the entry pointer we hold went stale, so
 * we look it up again before counting.
 *
 * Every read becomes a list of segments: the read itself (plain TUN, or a
 * vnet packet without GSO, its checksum finished in place in rbuf), or what
 * offload_split cut a super-packet into (in the arena). A hold is a
 * position in that list; reading stops while holding, so neither rbuf nor
 * the arena is overwritten before the hold ends.
 *
 * The write ring is a byte ring: entries (vnet header and packet, one TUN
 * write each) lie back to back in FIFO order, wrapping to the start when
 * the end has no room, bounded by FORWARD_RING_SLOTS entries and
 * FORWARD_RING_BYTES bytes, so a parked super-packet and a parked ICMP
 * reply each take what they need.
 */
#include "dataplane/forward.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dataplane/firewall.h"
#include "dataplane/icmp.h"
#include "dataplane/offload.h"
#include "dataplane/packet.h"
#include "util/log.h"

#define HDR_LEN OFFLOAD_VNET_HDR_LEN
#define RBUF_SIZE (HDR_LEN + OFFLOAD_MAX_PACKET)
/* One segment of a split super-packet: the TUN MTU (1280) with room to
 * spare; offload_split refuses a gso_size that does not fit (dropped and
 * counted offload_invalid). */
#define SEG_SIZE 2048
/* The receive batch: OFFLOAD_BATCH_MAX packets of up to SEG_SIZE on
 * average (peers send one QUIC DATAGRAM each, below it); a longer packet
 * just flushes the batch earlier. The merge buffer has the same size: a
 * merged packet is never longer than its members together. */
#define RX_BYTES ((size_t)OFFLOAD_BATCH_MAX * SEG_SIZE)

_Static_assert(RX_BYTES >= FORWARD_MAX_PACKET, "a packet always fits an empty batch");
_Static_assert(FORWARD_RING_BYTES >= HDR_LEN + FORWARD_MAX_PACKET,
	       "a merged packet fits an empty ring");

/* One TUN write waiting for the fd to turn writable. */
struct parked {
	size_t off;       /* in ring_buf */
	size_t len;       /* the vnet header (vnet mode), then the packet */
	unsigned packets; /* what a drop costs in tun_write_failed */
};

/* The last peer-table answer, good while the table's generation holds: the
 * segments of a super-packet and the packets of a receive batch mostly go
 * to or come from one address. */
struct route_memo {
	uint64_t gen;
	struct peer_entry *e; /* NULL: nothing memorised */
	union packet_addr a;
	int version;
};

/* The receive batch of vnet mode: packets copied out of their DATAGRAMs,
 * merged and written when the loop iteration's I/O is done. */
struct rx_batch {
	uint8_t *buf; /* RX_BYTES */
	size_t used;
	struct offload_in *in; /* OFFLOAD_BATCH_MAX */
	unsigned n;
	uint8_t *merge;          /* RX_BYTES */
	struct offload_out *out; /* OFFLOAD_BATCH_MAX */
	struct offload_coalescer *co;
};

struct forward {
	uv_poll_t poll;
	uv_timer_t hold_timer;
	uv_check_t flush_check; /* flushes the receive batch */
	uv_idle_t flush_idle;   /* keeps the poll from sleeping before it */
	int closing;            /* handles still to close */
	int fd;
	int vnet; /* reads and writes carry the vnet header */
	struct peer_table *peers;
	forward_send_fn send;
	void *send_ud;
	struct firewall *fw;
	forward_mtu_fn mtu;
	unsigned batch;
	int reading;
	int events; /* events the poll currently watches */
	uint32_t local4[FORWARD_MAX_LOCAL_V4];
	unsigned n_local4;
	uint8_t local6[16];
	int has_local6;
	struct forward_counters c;
	uint8_t *rbuf;            /* RBUF_SIZE */
	struct offload_seg one;   /* a read that is one packet, in rbuf */
	struct offload_seg *segs; /* OFFLOAD_MAX_SEGS, in seg_buf (vnet) */
	uint8_t *seg_buf;
	/* the hold: hold_segs[hold_next, hold_count) wait for a congested peer */
	struct offload_seg *hold_segs;
	unsigned hold_next, hold_count;
	int holding;
	void *stalled_peer;     /* its -EAGAIN drops until stalled_until */
	uint64_t stalled_until; /* loop time, ms */
	struct parked ring[FORWARD_RING_SLOTS];
	uint8_t *ring_buf; /* FORWARD_RING_BYTES */
	unsigned ring_head;
	unsigned ring_len;
	struct rx_batch rx;         /* vnet mode only */
	struct route_memo out_memo; /* destinations of TUN reads */
	struct route_memo in_memo;  /* sources of delivered packets */
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

static int memo_holds(const struct route_memo *m, const struct peer_table *t, int version,
		      const union packet_addr *a)
{
	if (!m->e || m->gen != t->gen || m->version != version)
		return 0;
	if (version == 4)
		return m->a.v4 == a->v4;
	return memcmp(m->a.v6, a->v6, 16) == 0;
}

/* lookup() through the memo m; misses are not memorised. */
static struct peer_entry *lookup_memo(struct route_memo *m, const struct peer_table *t, int version,
				      const union packet_addr *a)
{
	struct peer_entry *e;

	if (memo_holds(m, t, version, a))
		return m->e;
	if (!(e = lookup(t, version, a)))
		return NULL;
	m->gen = t->gen;
	m->e = e;
	m->a = *a;
	m->version = version;
	return e;
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

static int tun_write_packet(struct forward *fwd, const struct virtio_net_hdr *vh,
			    const uint8_t *pkt, size_t len, unsigned packets);

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
		tun_write_packet(fwd, NULL, reply, (size_t)n, 1);
	else
		fwd->send(e->peer, reply, (size_t)n, fwd->send_ud);
	return -EACCES;
}

/* Path-MTU feedback for a packet the peer's path cannot carry. */
static void packet_too_big(struct forward *fwd, const uint8_t *pkt, const struct packet_info *pi,
			   void *peer)
{
	uint8_t reply[ICMP_REPLY_BUF];
	size_t mtu = fwd->mtu ? fwd->mtu(peer, fwd->send_ud) : 0;
	int n;

	if (!mtu || mtu >= pi->total_len)
		return;
	if (pi->version == 6 && mtu < 1280)
		mtu = 1280; /* IPv6 never goes below its minimum link MTU */
	n = icmp_build_too_big(reply, sizeof(reply), pkt, pi->total_len, pi, (uint32_t)mtu);
	if (n > 0 && tun_write_packet(fwd, NULL, reply, (size_t)n, 1) == 0)
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
	e = lookup_memo(&fwd->out_memo, fwd->peers, pi.version, &pi.dst);
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
		if (peer != fwd->stalled_peer || uv_now(fwd->poll.loop) >= fwd->stalled_until)
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
	if (gen != fwd->peers->gen &&
	    !(e = lookup_memo(&fwd->out_memo, fwd->peers, pi.version, &pi.dst)))
		return 0;
	e->tx_packets++;
	e->tx_bytes += pi.total_len;
	return 0;
}

/* Sends segs[from, n) in order. Returns the index of the first one refused
 * for congestion (to be held), or n. */
static unsigned send_run(struct forward *fwd, const struct offload_seg *segs, unsigned from,
			 unsigned n)
{
	for (unsigned i = from; i < n; i++)
		if (forward_outbound(fwd, segs[i].data, segs[i].len) == -EAGAIN)
			return i;
	return n;
}

static void on_hold_timeout(uv_timer_t *t);

/* segs[next] was refused for congestion: keep it and what follows, stop
 * reading. */
static void hold_start(struct forward *fwd, struct offload_seg *segs, unsigned next, unsigned count)
{
	fwd->hold_segs = segs;
	fwd->hold_next = next;
	fwd->hold_count = count;
	fwd->holding = 1;
	fwd->c.held++;
	uv_timer_start(&fwd->hold_timer, on_hold_timeout, FORWARD_HOLD_MS, 0);
	poll_update(fwd);
}

static void hold_end(struct forward *fwd)
{
	fwd->holding = 0;
	fwd->hold_segs = NULL;
	fwd->hold_next = fwd->hold_count = 0;
	uv_timer_stop(&fwd->hold_timer);
	poll_update(fwd);
}

/* The peer the held segment goes to drops its refusals for a while. */
static void stall_peer(struct forward *fwd, const struct offload_seg *s)
{
	struct packet_info pi;
	struct peer_entry *e;

	if (packet_parse(s->data, s->len, &pi) == 0 &&
	    (e = lookup(fwd->peers, pi.version, &pi.dst)) != NULL) {
		fwd->stalled_peer = e->peer;
		fwd->stalled_until = uv_now(fwd->poll.loop) + FORWARD_STALL_MS;
	}
}

static void on_hold_timeout(uv_timer_t *t)
{
	struct forward *fwd = t->data;
	unsigned k;

	if (!fwd->holding)
		return;
	/* One last try; the peer may have drained without telling us. What it
	 * still refuses is dropped, and the peer stalled, so the rest of the
	 * super-packet drops at once rather than waiting again. */
	while ((k = send_run(fwd, fwd->hold_segs, fwd->hold_next, fwd->hold_count)) <
	       fwd->hold_count) {
		fwd->c.congestion_dropped++;
		stall_peer(fwd, &fwd->hold_segs[k]);
		fwd->hold_next = k + 1;
	}
	hold_end(fwd);
}

void forward_resume(struct forward *fwd)
{
	unsigned k;

	if (!fwd->holding)
		return;
	k = send_run(fwd, fwd->hold_segs, fwd->hold_next, fwd->hold_count);
	if (k < fwd->hold_count) {
		/* progress restarts the clock: each segment waits at most
		 * FORWARD_HOLD_MS, as a packet read on its own would */
		if (k > fwd->hold_next)
			uv_timer_start(&fwd->hold_timer, on_hold_timeout, FORWARD_HOLD_MS, 0);
		fwd->hold_next = k;
		return;
	}
	hold_end(fwd);
	if (fwd->reading)
		forward_tun_drain(fwd);
}

static unsigned read_invalid(struct forward *fwd, int rc)
{
	fwd->c.offload_invalid++;
	log_debug("forward: TUN read refused by offload: %s", strerror(-rc));
	return 0;
}

/* The packets of the r bytes read into rbuf, as segments at *segs: the read
 * itself (plain TUN), the packet behind a vnet header with its checksum
 * finished in place, or what a super-packet splits into. 0: dropped. */
static unsigned read_segments(struct forward *fwd, size_t r, struct offload_seg **segs)
{
	struct virtio_net_hdr vh;
	uint8_t *pkt = fwd->rbuf + HDR_LEN;
	int n;

	*segs = &fwd->one;
	if (!fwd->vnet) {
		fwd->one.data = fwd->rbuf;
		fwd->one.len = r;
		return 1;
	}
	if ((n = offload_vnet_read(fwd->rbuf, r, &vh)) < 0)
		return read_invalid(fwd, n);
	if (vh.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		if ((n = offload_csum_finish(&vh, pkt, r - HDR_LEN)) < 0)
			return read_invalid(fwd, n);
		fwd->one.data = pkt;
		fwd->one.len = (size_t)n;
		return 1;
	}
	if ((n = offload_split(&vh, pkt, r - HDR_LEN, fwd->segs, OFFLOAD_MAX_SEGS)) < 0)
		return read_invalid(fwd, n);
	fwd->c.gso_in++;
	fwd->c.gso_segments += (unsigned)n;
	*segs = fwd->segs;
	return (unsigned)n;
}

int forward_tun_drain(struct forward *fwd)
{
	int n = 0;

	while ((unsigned)n < fwd->batch && !fwd->holding) {
		ssize_t r = read(fwd->fd, fwd->rbuf, RBUF_SIZE);
		struct offload_seg *segs;
		unsigned count, k;

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
		count = read_segments(fwd, (size_t)r, &segs);
		if ((k = send_run(fwd, segs, 0, count)) < count)
			hold_start(fwd, segs, k, count);
	}
	return n;
}

/* Where a parked write of len bytes goes in ring_buf, or -1. The entries
 * are back to back from the oldest to the newest, wrapped at most once:
 * free space is after the newest (up to the end, or up to the oldest once
 * wrapped) and, unwrapped, before the oldest. */
static long ring_place(const struct forward *fwd, size_t len)
{
	const struct parked *old, *new;
	size_t end;

	if (fwd->ring_len == 0)
		return len <= FORWARD_RING_BYTES ? 0 : -1;
	old = &fwd->ring[fwd->ring_head];
	new = &fwd->ring[(fwd->ring_head + fwd->ring_len - 1) % FORWARD_RING_SLOTS];
	end = new->off + new->len;
	if (new->off < old->off)
		return old->off - end >= len ? (long)end : -1;
	if (FORWARD_RING_BYTES - end >= len)
		return (long)end;
	return old->off >= len ? 0 : -1;
}

static int ring_push(struct forward *fwd, const uint8_t *hdr, size_t hlen, const uint8_t *pkt,
		     size_t len, unsigned packets)
{
	struct parked *p;
	long off;

	if (fwd->ring_len == FORWARD_RING_SLOTS || (off = ring_place(fwd, hlen + len)) < 0) {
		fwd->c.tun_write_failed += packets;
		return -ENOBUFS;
	}
	p = &fwd->ring[(fwd->ring_head + fwd->ring_len) % FORWARD_RING_SLOTS];
	p->off = (size_t)off;
	p->len = hlen + len;
	p->packets = packets;
	memcpy(fwd->ring_buf + p->off, hdr, hlen);
	memcpy(fwd->ring_buf + p->off + hlen, pkt, len);
	fwd->ring_len++;
	poll_update(fwd);
	return 0;
}

/* One write of hdr[0, hlen) and pkt; 0 written, -EAGAIN to retry later,
 * other -errno to drop. */
static int tun_write_once(struct forward *fwd, const uint8_t *hdr, size_t hlen, const uint8_t *pkt,
			  size_t len)
{
	struct iovec iov[2] = { { (void *)hdr, hlen }, { (void *)pkt, len } };
	ssize_t n;

	do
		n = hlen ? writev(fwd->fd, iov, 2) : write(fwd->fd, pkt, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if ((size_t)n != hlen + len)
		return -EIO;
	fwd->c.tun_writes++;
	return 0;
}

static void ring_flush(struct forward *fwd)
{
	while (fwd->ring_len) {
		struct parked *p = &fwd->ring[fwd->ring_head];
		int rc = tun_write_once(fwd, NULL, 0, fwd->ring_buf + p->off, p->len);

		if (rc == -EAGAIN)
			break;
		if (rc < 0)
			fwd->c.tun_write_failed += p->packets;
		fwd->ring_head = (fwd->ring_head + 1) % FORWARD_RING_SLOTS;
		fwd->ring_len--;
	}
	poll_update(fwd);
}

/* Writes in order: once anything is parked, later writes queue behind it.
 * In vnet mode the packet goes behind vh (NULL: all zero, a plain,
 * checksummed packet). `packets`: how many it carries, for the drop count. */
static int tun_write_packet(struct forward *fwd, const struct virtio_net_hdr *vh,
			    const uint8_t *pkt, size_t len, unsigned packets)
{
	uint8_t hdr[HDR_LEN] = { 0 };
	size_t hlen = fwd->vnet ? HDR_LEN : 0;
	int rc;

	if (hlen && vh)
		offload_vnet_write(hdr, vh);
	if (fwd->ring_len)
		return ring_push(fwd, hdr, hlen, pkt, len, packets);
	rc = tun_write_once(fwd, hdr, hlen, pkt, len);
	if (rc == -EAGAIN)
		return ring_push(fwd, hdr, hlen, pkt, len, packets);
	if (rc < 0)
		fwd->c.tun_write_failed += packets;
	return rc;
}

/* Merges the batch and writes it: one write per super-packet, and per
 * packet that merged with nothing. */
static void rx_flush(struct forward *fwd)
{
	struct rx_batch *b = &fwd->rx;
	int n;

	if (b->n == 0)
		return;
	n = offload_coalesce(b->co, b->in, b->n, b->merge, RX_BYTES, b->out);
	for (int i = 0; i < n; i++) {
		const struct offload_out *o = &b->out[i];

		if (o->packets > 1)
			fwd->c.rx_merged += o->packets;
		tun_write_packet(fwd, &o->vh, o->data, o->len, o->packets);
	}
	b->n = 0;
	b->used = 0;
	uv_check_stop(&fwd->flush_check);
	uv_idle_stop(&fwd->flush_idle);
}

/* After every I/O callback of this loop iteration (magicsock's whole
 * receive burst), so the batch holds all that came in together. */
static void on_flush_check(uv_check_t *h)
{
	rx_flush(h->data);
}

/* Only there so that a batch filled outside the poll phase (a timer, or
 * outside uv_run) does not wait for the next I/O: an active idle handle
 * makes the poll return at once. */
static void on_flush_idle(uv_idle_t *h)
{
	(void)h;
}

/* The DATAGRAM's buffer is only valid during the callback: copy. */
static void rx_add(struct forward *fwd, const uint8_t *pkt, size_t len)
{
	struct rx_batch *b = &fwd->rx;

	if (b->n == OFFLOAD_BATCH_MAX || RX_BYTES - b->used < len)
		rx_flush(fwd);
	memcpy(b->buf + b->used, pkt, len);
	b->in[b->n].data = b->buf + b->used;
	b->in[b->n].len = len;
	b->used += len;
	if (b->n++ == 0) {
		uv_check_start(&fwd->flush_check, on_flush_check);
		uv_idle_start(&fwd->flush_idle, on_flush_idle);
	}
	if (b->n == OFFLOAD_BATCH_MAX)
		rx_flush(fwd);
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
	e = lookup_memo(&fwd->in_memo, fwd->peers, pi.version, &pi.src);
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
	if (fwd->vnet)
		rx_add(fwd, pkt, pi.total_len);
	else if ((rc = tun_write_packet(fwd, NULL, pkt, pi.total_len, 1)) < 0)
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

static void forward_free(struct forward *fwd)
{
	free(fwd->rbuf);
	free(fwd->ring_buf);
	free(fwd->seg_buf);
	free(fwd->segs);
	free(fwd->rx.buf);
	free(fwd->rx.in);
	free(fwd->rx.merge);
	free(fwd->rx.out);
	free(fwd->rx.co);
	free(fwd);
}

/* The segment arena and the receive batch, which only vnet mode uses. */
static int vnet_alloc(struct forward *fwd)
{
	struct rx_batch *b = &fwd->rx;

	fwd->seg_buf = malloc((size_t)OFFLOAD_MAX_SEGS * SEG_SIZE);
	fwd->segs = calloc(OFFLOAD_MAX_SEGS, sizeof(*fwd->segs));
	b->buf = malloc(RX_BYTES);
	b->merge = malloc(RX_BYTES);
	b->in = calloc(OFFLOAD_BATCH_MAX, sizeof(*b->in));
	b->out = calloc(OFFLOAD_BATCH_MAX, sizeof(*b->out));
	b->co = malloc(sizeof(*b->co));
	if (!fwd->seg_buf || !fwd->segs || !b->buf || !b->merge || !b->in || !b->out || !b->co)
		return -ENOMEM;
	for (unsigned i = 0; i < OFFLOAD_MAX_SEGS; i++) {
		fwd->segs[i].data = fwd->seg_buf + (size_t)i * SEG_SIZE;
		fwd->segs[i].cap = SEG_SIZE;
	}
	return 0;
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
	fwd->rbuf = malloc(RBUF_SIZE);
	fwd->ring_buf = malloc(FORWARD_RING_BYTES);
	rc = fwd->rbuf && fwd->ring_buf ? 0 : -ENOMEM;
	if (rc == 0 && cfg->vnet_hdr)
		rc = vnet_alloc(fwd);
	if (rc < 0)
		goto fail;
	fwd->fd = cfg->tun_fd;
	fwd->vnet = !!cfg->vnet_hdr;
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
	uv_check_init(loop, &fwd->flush_check);
	fwd->flush_check.data = fwd;
	uv_idle_init(loop, &fwd->flush_idle);
	fwd->flush_idle.data = fwd;
	*out = fwd;
	return 0;
fail:
	forward_free(fwd);
	return rc;
}

static void on_close(uv_handle_t *h)
{
	struct forward *fwd = h->data;

	if (--fwd->closing > 0)
		return;
	forward_free(fwd);
}

void forward_close(struct forward *fwd)
{
	if (!fwd)
		return;
	/* what this iteration received still goes in (or is parked, and
	 * dropped with the ring) */
	rx_flush(fwd);
	if (fwd->ring_len)
		log_debug("forward: dropping %u parked TUN writes", fwd->ring_len);
	fwd->closing = 4;
	uv_close((uv_handle_t *)&fwd->poll, on_close);
	uv_close((uv_handle_t *)&fwd->hold_timer, on_close);
	uv_close((uv_handle_t *)&fwd->flush_check, on_close);
	uv_close((uv_handle_t *)&fwd->flush_idle, on_close);
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
