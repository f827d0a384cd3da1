/*
 * magicsock: one UDP socket, packet classification and the peer path table.
 * See magicsock.h for the contract.
 */
#include "transport/magicsock.h"
#include "util/bytes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "transport/magicsock_priv.h"
#include "util/log.h"

#define MS_BATCH 16       /* messages per recvmmsg */
#define MS_MAX_BATCHES 16 /* per poll callback, so timers still run */
/*
 * One GSO send carries at most this many segments and bytes: the kernel
 * limit is 64 segments (UDP_MAX_SEGMENTS on older kernels) and a 64 KiB
 * IP datagram.
 */
#define MS_GSO_MAX_SEGS 64
#define TURN_PROBE_MS 1000 /* TURN tries while on a member relay */
#define MS_GSO_MAX_BYTES 65000

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* ---- addresses ---- */

socklen_t ms_addr_len(const union ms_addr *a)
{
	if (a->sa.sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (a->sa.sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

int ms_addr_eq(const union ms_addr *a, const union ms_addr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return 0;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port &&
		       a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == b->in6.sin6_port &&
		       memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0 &&
		       a->in6.sin6_scope_id == b->in6.sin6_scope_id;
	return 0;
}

int ms_addr_parse(union ms_addr *a, const char *s)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *hs = s;
	size_t hl;
	char *end;
	long port;

	memset(a, 0, sizeof(*a));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			return -EINVAL;
		hs = s + 1;
		hl = (size_t)(rb - hs);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -EINVAL;
		hl = (size_t)(colon - s);
		if (memchr(s, ':', hl)) /* IPv6 needs brackets */
			return -EINVAL;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end != '\0' || colon[1] == '\0' || port < 0 || port > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, host, &a->in.sin_addr) == 1) {
		a->in.sin_family = AF_INET;
		a->in.sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a->in6.sin6_addr) == 1) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons((uint16_t)port);
		return 0;
	}
	return -EINVAL;
}

const char *ms_addr_fmt(const union ms_addr *a, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->in.sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(a->in.sin_port));
	} else if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, ntohs(a->in6.sin6_port));
	} else {
		snprintf(buf, size, "(none)");
	}
	return buf;
}

/* The dual-stack socket reports IPv4 senders as ::ffff:a.b.c.d. */
static void addr_normalize(union ms_addr *a)
{
	struct sockaddr_in in;

	if (a->sa.sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr))
		return;
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_port = a->in6.sin6_port;
	memcpy(&in.sin_addr, &a->in6.sin6_addr.s6_addr[12], 4);
	memset(a, 0, sizeof(*a));
	a->in = in;
}

/* Returns the address to hand to sendmsg on our socket, or NULL. */
static const union ms_addr *addr_for_socket(const struct magicsock *ms, const union ms_addr *to,
					    union ms_addr *tmp)
{
	if (to->sa.sa_family == ms->family)
		return to;
	if (ms->family == AF_INET6 && to->sa.sa_family == AF_INET) {
		memset(tmp, 0, sizeof(*tmp));
		tmp->in6.sin6_family = AF_INET6;
		tmp->in6.sin6_port = to->in.sin_port;
		tmp->in6.sin6_addr.s6_addr[10] = 0xff;
		tmp->in6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&tmp->in6.sin6_addr.s6_addr[12], &to->in.sin_addr, 4);
		return tmp;
	}
	return NULL;
}

/* ---- classification ---- */

enum ms_pkt magicsock_classify(const uint8_t *buf, size_t len, int from_relay)
{
	if (len == 0)
		return MS_PKT_JUNK;
	if ((buf[0] & 0xc0) == 0 && len >= 20 && be32_get(buf + 4) == MAGICSOCK_STUN_COOKIE &&
	    (size_t)((buf[2] << 8) | buf[3]) + 20 == len)
		return MS_PKT_STUN;
	if (len >= MAGICSOCK_DISCO_MAGIC_LEN &&
	    memcmp(buf, MAGICSOCK_DISCO_MAGIC, MAGICSOCK_DISCO_MAGIC_LEN) == 0)
		return MS_PKT_DISCO;
	if (len >= MAGICSOCK_FWD_MAGIC_LEN &&
	    memcmp(buf, MAGICSOCK_FWD_MAGIC, MAGICSOCK_FWD_MAGIC_LEN) == 0)
		return MS_PKT_FWD;
	/* ChannelData may be padded to 4 bytes over UDP: length <= rest. */
	if (from_relay && buf[0] >= 0x40 && buf[0] <= 0x4f && len >= 4 &&
	    (size_t)((buf[2] << 8) | buf[3]) <= len - 4)
		return MS_PKT_TURN;
	/*
	 * The fixed bit may be greased (a peer on ngtcp2 0.12 always offers
	 * it, and 1.x then clears it in what it sends there), so any other
	 * first byte may be a QUIC short header; the checks above make a collision with STUN or
	 * disco improbable (32- and 48-bit magics), and it only costs a packet.
	 */
	return MS_PKT_QUIC;
}

static int from_relay(const struct magicsock *ms, const union ms_addr *from)
{
	size_t i;

	for (i = 0; i < ms->nrelays; i++)
		if (ms_addr_eq(&ms->relays[i], from))
			return 1;
	return 0;
}

void magicsock_input(struct magicsock *ms, const uint8_t *buf, size_t len,
		     const union ms_addr *from)
{
	enum ms_pkt cls;

	if (ms->blackhole)
		return;
	cls = magicsock_classify(buf, len, ms->nrelays ? from_relay(ms, from) : 0);
	ms->st.rx_packets[cls]++;
	ms->st.rx_bytes += len;
	if (cls == MS_PKT_FWD) {
		ms_fwd_input(ms, buf, len, from);
		return;
	}
	ms_dispatch(ms, cls, buf, len, from);
}

void ms_dispatch(struct magicsock *ms, enum ms_pkt cls, const uint8_t *buf, size_t len,
		 const union ms_addr *from)
{
	if (cls == MS_PKT_JUNK || cls == MS_PKT_FWD || ms->handlers[cls].fn == NULL) {
		ms->st.rx_dropped++;
		return;
	}
	ms->handlers[cls].fn(ms->handlers[cls].ud, buf, len, from);
}

/* ---- socket ---- */

static void set_bufsize(int fd, int bytes)
{
	/* The FORCE variants ignore rmem_max but need CAP_NET_ADMIN. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

static int bind_port(int fd, int family, uint16_t port)
{
	union ms_addr a;

	memset(&a, 0, sizeof(a));
	if (family == AF_INET6) {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_addr = in6addr_any;
		a.in6.sin6_port = htons(port);
	} else {
		a.in.sin_family = AF_INET;
		a.in.sin_addr.s_addr = htonl(INADDR_ANY);
		a.in.sin_port = htons(port);
	}
	if (bind(fd, &a.sa, ms_addr_len(&a)) < 0)
		return -errno;
	return 0;
}

static int open_socket(struct magicsock *ms, uint16_t port, int sockbuf)
{
	union ms_addr a;
	socklen_t alen = sizeof(a);
	int off = 0, fd, err;

	ms->family = AF_INET6;
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		ms->family = AF_INET;
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
	}
	set_bufsize(fd, sockbuf);
	/* Coalesced receive; without it (old kernel) datagrams come singly. */
	if (setsockopt(fd, SOL_UDP, UDP_GRO, &(int){ 1 }, sizeof(int)) < 0)
		log_debug("magicsock: no UDP GRO: %s", strerror(errno));
	ms->fixed = port != 0;
	err = bind_port(fd, ms->family, port);
	if (err == -EADDRINUSE && port != 0) {
		log_warn("magicsock: UDP port %u is taken, using an ephemeral "
			 "port (a manual port forward will not reach this node)",
			 port);
		ms->fixed = 0;
		err = bind_port(fd, ms->family, 0);
	}
	if (err < 0 || getsockname(fd, &a.sa, &alen) < 0) {
		err = err < 0 ? err : -errno;
		close(fd);
		return err;
	}
	ms->port = ntohs(a.sa.sa_family == AF_INET6 ? a.in6.sin6_port : a.in.sin_port);
	ms->fd = fd;
	return 0;
}

/* The segment size of a GRO-coalesced message, or 0 for one datagram. */
static size_t gro_size(struct msghdr *h)
{
	struct cmsghdr *cm;
	int seg;

	for (cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR(h, cm)) {
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(seg))) {
			memcpy(&seg, CMSG_DATA(cm), sizeof(seg));
			return seg > 0 ? (size_t)seg : 0;
		}
	}
	return 0;
}

static void junk(struct magicsock *ms)
{
	ms->st.rx_packets[MS_PKT_JUNK]++;
	ms->st.rx_dropped++;
}

/* Splits one received message into its datagrams and dispatches them. */
static void rx_message(struct magicsock *ms, const uint8_t *buf, size_t len, size_t seg,
		       const union ms_addr *from)
{
	size_t off, n;

	if (seg == 0 || seg > len)
		seg = len;
	if (len == 0) { /* an empty datagram: classified as junk */
		magicsock_input(ms, buf, 0, from);
		return;
	}
	if (seg > MAGICSOCK_BUF_SIZE) {
		junk(ms);
		return;
	}
	for (off = 0; off < len; off += n) {
		n = len - off < seg ? len - off : seg;
		magicsock_input(ms, buf + off, n, from);
	}
}

static int read_batch(struct magicsock *ms)
{
	struct mmsghdr msgs[MS_BATCH];
	struct iovec iov[MS_BATCH];
	union ms_addr from[MS_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl[MS_BATCH];
	int i, n;

	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < MS_BATCH; i++) {
		iov[i].iov_base = ms->bufs[i];
		iov[i].iov_len = MS_RX_BUF;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &from[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		msgs[i].msg_hdr.msg_control = ctl[i].buf;
		msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
	}
	n = recvmmsg(ms->fd, msgs, MS_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
			junk(ms);
			continue;
		}
		addr_normalize(&from[i]);
		rx_message(ms, ms->bufs[i], msgs[i].msg_len, gro_size(&msgs[i].msg_hdr), &from[i]);
	}
	return n;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct magicsock *ms = h->data;
	int i, n;

	if (status < 0) {
		log_warn("magicsock: poll: %s", uv_strerror(status));
		return;
	}
	for (i = 0; i < MS_MAX_BATCHES; i++) {
		n = read_batch(ms);
		if (n == -EINTR)
			continue;
		if (n < 0 && n != -EAGAIN)
			log_debug("magicsock: recvmmsg: %s", strerror(-n));
		if (n < MS_BATCH)
			break;
	}
}

int magicsock_new(struct magicsock **out, uv_loop_t *loop, const struct magicsock_config *cfg)
{
	struct magicsock *ms;
	int err;

	*out = NULL;
	ms = calloc(1, sizeof(*ms));
	if (ms == NULL)
		return -ENOMEM;
	ms->bufs = malloc(MS_BATCH * sizeof(*ms->bufs));
	if (ms->bufs == NULL) {
		free(ms);
		return -ENOMEM;
	}
	ms->loop = loop;
	ms->fd = -1;
	ms->gso = 1;
	ratelimit_init(&ms->unnamed_log, MS_UNNAMED_LOG_BURST, MS_UNNAMED_LOG_EVERY_MS);
	ms->fresh_ms = cfg && cfg->fresh_ms ? cfg->fresh_ms : MAGICSOCK_FRESH_MS;
	ms->fwd.pair_rate =
		cfg && cfg->fwd_pair_rate ? cfg->fwd_pair_rate : MAGICSOCK_FWD_PAIR_RATE;
	ms->fwd.rate = ms->fwd.pair_rate * 2 > MAGICSOCK_FWD_RATE ? ms->fwd.pair_rate * 2
								  : MAGICSOCK_FWD_RATE;
	err = open_socket(ms, cfg ? cfg->port : MAGICSOCK_DEFAULT_PORT,
			  cfg && cfg->sockbuf ? cfg->sockbuf : 4 << 20);
	if (err < 0)
		goto fail;
	if ((err = uv_poll_init(loop, &ms->poll, ms->fd)) < 0) {
		close(ms->fd);
		goto fail;
	}
	ms->poll.data = ms;
	ms->open_handles = 1;
	uv_timer_init(loop, &ms->disco_timer);
	ms->disco_timer.data = ms;
	ms->open_handles = 2;
	if ((err = uv_poll_start(&ms->poll, UV_READABLE, on_readable)) < 0) {
		magicsock_free(ms);
		return err;
	}
	*out = ms;
	return 0;
fail:
	free(ms->bufs);
	free(ms);
	return err;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct magicsock *ms = h->data;

	if (--ms->open_handles > 0)
		return;
	close(ms->fd);
	free(ms->bufs);
	ms_fwd_free(ms);
	sodium_memzero(ms->disco_sk, sizeof(ms->disco_sk));
	free(ms);
}

void magicsock_free(struct magicsock *ms)
{
	struct ms_peer *p, *next;
	size_t i;

	if (ms == NULL)
		return;
	for (i = 0; i < MS_BUCKETS; i++) {
		for (p = ms->buckets[i]; p; p = next) {
			next = p->next;
			free(p);
		}
		ms->buckets[i] = NULL;
	}
	uv_close((uv_handle_t *)&ms->poll, on_handle_closed);
	uv_close((uv_handle_t *)&ms->disco_timer, on_handle_closed);
}

void magicsock_set_handler(struct magicsock *ms, enum ms_pkt cls, ms_rx_fn fn, void *ud)
{
	if ((unsigned)cls >= MS_PKT_MAX || cls == MS_PKT_JUNK || cls == MS_PKT_FWD)
		return;
	ms->handlers[cls].fn = fn;
	ms->handlers[cls].ud = ud;
}

uint16_t magicsock_port(const struct magicsock *ms)
{
	return ms->port;
}

int magicsock_fixed_port(const struct magicsock *ms)
{
	return ms->fixed;
}

void magicsock_get_stats(const struct magicsock *ms, struct magicsock_stats *st)
{
	*st = ms->st;
}

void magicsock_set_blackhole(struct magicsock *ms, int on)
{
	ms->blackhole = on;
}

int magicsock_add_relay(struct magicsock *ms, const union ms_addr *a)
{
	if (ms_addr_len(a) == 0)
		return -EINVAL;
	if (ms->nrelays == MAGICSOCK_MAX_RELAYS)
		return -ENOSPC;
	ms->relays[ms->nrelays++] = *a;
	return 0;
}

/* ---- relay route ---- */

void magicsock_set_relay_sender(struct magicsock *ms, ms_relay_send_fn fn, void *ud)
{
	ms->relay_fn = fn;
	ms->relay_ud = ud;
}

/*
 * A relay server's own address is never a relayed one: the relay client
 * sends to it through magicsock_send_to, and routing that back into the
 * relay would loop.
 */
int magicsock_is_relayed(const struct magicsock *ms, const union ms_addr *a)
{
	size_t i;

	if (ms->nrelayed == 0 || from_relay(ms, a))
		return 0;
	for (i = 0; i < ms->nrelayed; i++)
		if (ms_addr_eq(&ms->relayed[i], a))
			return 1;
	return 0;
}

static void remember_relayed(struct magicsock *ms, const union ms_addr *a)
{
	if (magicsock_is_relayed(ms, a) || from_relay(ms, a))
		return;
	if (ms->nrelayed < MAGICSOCK_RELAYED_MAX) {
		ms->relayed[ms->nrelayed++] = *a;
		return;
	}
	ms->relayed[ms->relayed_next] = *a;
	ms->relayed_next = (ms->relayed_next + 1) % MAGICSOCK_RELAYED_MAX;
}

void magicsock_input_relayed(struct magicsock *ms, const uint8_t *buf, size_t len,
			     const union ms_addr *from)
{
	union ms_addr a;

	if (ms->blackhole || ms_addr_len(from) == 0)
		return;
	a = *from;
	addr_normalize(&a);
	remember_relayed(ms, &a);
	magicsock_input(ms, buf, len, &a);
}

static int relay_send(struct magicsock *ms, const union ms_addr *to, const uint8_t *buf, size_t len)
{
	int rv;

	if (ms->blackhole)
		return 0;
	if (ms->relay_fn == NULL || ms->relay_busy) {
		ms->st.tx_relay_errors++;
		return ms->relay_fn ? -ELOOP : -ENOTCONN;
	}
	ms->relay_busy = 1;
	rv = ms->relay_fn(ms->relay_ud, to, buf, len);
	ms->relay_busy = 0;
	if (rv < 0) {
		ms->st.tx_relay_errors++;
		return rv;
	}
	ms->st.tx_relayed++;
	return 0;
}

/* ---- peer table ---- */

/* Keys are Ed25519 public keys of admitted peers: the first byte is uniform. */
static struct ms_peer **peer_slot(struct magicsock *ms, const uint8_t *pk)
{
	struct ms_peer **pp = &ms->buckets[pk[0]];

	while (*pp && memcmp((*pp)->pk, pk, MAGICSOCK_KEY_LEN) != 0)
		pp = &(*pp)->next;
	return pp;
}

struct ms_peer *ms_peer_get(struct magicsock *ms, const uint8_t *pk, int create)
{
	struct ms_peer **pp = peer_slot(ms, pk), *p;

	if (*pp || !create)
		return *pp;
	if (ms->npeers >= MAGICSOCK_MAX_PEERS)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	memcpy(p->pk, pk, MAGICSOCK_KEY_LEN);
	*pp = p;
	ms->npeers++;
	return p;
}

int magicsock_set_peer_addrs(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
			     const union ms_addr *addrs, size_t n)
{
	struct ms_peer *p;
	size_t i;

	if (n > MAGICSOCK_MAX_ADDRS)
		return -E2BIG;
	for (i = 0; i < n; i++)
		if (ms_addr_len(&addrs[i]) == 0 || magicsock_is_virtual(&addrs[i]))
			return -EINVAL;
	p = ms_peer_get(ms, pk, 1);
	if (p == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		p->addrs[i] = addrs[i];
		addr_normalize(&p->addrs[i]);
	}
	p->naddrs = n;
	if (ms->disco && ms_disco_direct(ms, p) == NULL)
		p->disco.next_ms = 0; /* new candidates: ping them now */
	return 0;
}

int magicsock_set_peer_relay(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
			     const union ms_addr *addr)
{
	struct ms_peer *p;
	union ms_addr a;

	if (addr == NULL) {
		if ((p = ms_peer_get(ms, pk, 0)) != NULL)
			p->has_relay = 0;
		return 0;
	}
	if (ms_addr_len(addr) == 0 || magicsock_is_virtual(addr))
		return -EINVAL;
	a = *addr;
	addr_normalize(&a);
	if (from_relay(ms, &a)) /* a server is not an allocation */
		return -EINVAL;
	p = ms_peer_get(ms, pk, 1);
	if (p == NULL)
		return -ENOMEM;
	/*
	 * Not added to the relayed table: a record may name any address as
	 * its relay, and only what really came through our relay client may
	 * divert sends by address.
	 */
	p->relay = a;
	p->has_relay = 1;
	return 0;
}

void magicsock_remove_peer(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN])
{
	struct ms_peer **pp = peer_slot(ms, pk), *p = *pp;

	if (p == NULL)
		return;
	*pp = p->next;
	free(p);
	ms->npeers--;
}

void magicsock_peer_heard(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
			  const union ms_addr *addr)
{
	struct ms_peer *p = ms_peer_get(ms, pk, 1);

	if (p == NULL || ms_addr_len(addr) == 0)
		return;
	if (magicsock_is_virtual(addr)) {
		ms_fwd_heard(ms, p, addr);
		return;
	}
	if (p->heard_ms && !ms_addr_eq(&p->heard, addr) && log_enabled(LL_DEBUG)) {
		char a[MS_ADDR_STRLEN], b[MS_ADDR_STRLEN];

		log_debug("magicsock: peer %02x%02x.. moved %s -> %s", pk[0], pk[1],
			  ms_addr_fmt(&p->heard, a, sizeof(a)), ms_addr_fmt(addr, b, sizeof(b)));
	}
	/* Direct and relayed arrivals are kept apart so the relay, which keeps
	 * carrying most packets while a direct path is being opened, never
	 * hides a direct path that works. +1 keeps a heard-at-loop-time-0
	 * distinguishable from never. */
	if ((p->has_relay && ms_addr_eq(&p->relay, addr)) || magicsock_is_relayed(ms, addr)) {
		p->rheard = *addr;
		p->rheard_ms = uv_now(ms->loop) + 1;
		return;
	}
	p->heard = *addr;
	p->heard_ms = uv_now(ms->loop) + 1;
	if (ms->disco)
		ms_disco_heard(ms, p, addr);
}

int ms_rheard_fresh(const struct magicsock *ms, const struct ms_peer *p)
{
	return p->rheard_ms && uv_now(ms->loop) + 1 - p->rheard_ms < ms->fresh_ms;
}

int ms_heard_fresh(const struct magicsock *ms, const struct ms_peer *p)
{
	return p->heard_ms && uv_now(ms->loop) + 1 - p->heard_ms < ms->fresh_ms;
}

/*
 * Where the peer's packets go straight: with disco, only an address a pong
 * confirmed (a QUIC packet from an address proves nothing about the way
 * back); without it (tests, tools), the last address heard.
 */
const union ms_addr *ms_direct_addr(struct magicsock *ms, struct ms_peer *p)
{
	if (ms->disco)
		return ms_disco_direct(ms, p);
	return ms_heard_fresh(ms, p) ? &p->heard : NULL;
}

enum ms_path magicsock_peer_path(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
				 union ms_addr *addr)
{
	struct ms_peer *p = ms_peer_get(ms, pk, 0);
	const union ms_addr *d;

	if (p == NULL)
		return MS_PATH_NONE;
	if ((d = ms_direct_addr(ms, p)) != NULL) {
		if (addr)
			*addr = *d;
		return MS_PATH_DIRECT;
	}
	if (ms_rheard_fresh(ms, p)) {
		if (addr)
			*addr = p->rheard;
		return MS_PATH_RELAY;
	}
	if ((d = ms_fwd_path(ms, p)) != NULL) {
		if (addr)
			*addr = *d;
		return MS_PATH_MEMBER;
	}
	if (p->naddrs == 0 && p->heard_ms == 0 && p->rheard_ms == 0 && !p->has_relay)
		return MS_PATH_NONE;
	if (addr)
		*addr = p->naddrs ? p->addrs[0] : p->has_relay ? p->relay : p->heard;
	return MS_PATH_PROBING;
}

const char *magicsock_path_name(enum ms_path p)
{
	switch (p) {
	case MS_PATH_DIRECT:
		return "direct";
	case MS_PATH_PROBING:
		return "probing";
	case MS_PATH_RELAY:
		return "relay";
	case MS_PATH_MEMBER:
		return "member relay";
	default:
		return "none";
	}
}

int magicsock_send_to(struct magicsock *ms, const union ms_addr *to, const uint8_t *buf, size_t len)
{
	const union ms_addr *dst;
	union ms_addr tmp;
	ssize_t n;

	if (ms->blackhole)
		return 0;
	if (magicsock_is_virtual(to))
		return ms_fwd_send(ms, to, buf, len);
	if (magicsock_is_relayed(ms, to))
		return relay_send(ms, to, buf, len);
	dst = addr_for_socket(ms, to, &tmp);
	if (dst == NULL) {
		ms->st.tx_errors++;
		return -EAFNOSUPPORT;
	}
	do {
		ms->st.tx_syscalls++;
		n = sendto(ms->fd, buf, len, 0, &dst->sa, ms_addr_len(dst));
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		ms->st.tx_errors++;
		return -errno;
	}
	ms->st.tx_packets++;
	ms->st.tx_bytes += len;
	return 0;
}

/* How many datagrams from lens[0] form one GSO run (>= 1). */
static size_t gso_run(const size_t *lens, size_t n)
{
	size_t i, total = lens[0];

	for (i = 1; i < n && i < MS_GSO_MAX_SEGS; i++) {
		if (lens[i] > lens[0] || total + lens[i] > MS_GSO_MAX_BYTES)
			break;
		total += lens[i];
		if (lens[i] < lens[0])
			return i + 1; /* a shorter one ends the run */
	}
	return i;
}

struct tx_msgs {
	struct mmsghdr m[MAGICSOCK_TX_BATCH];
	struct iovec iov[MAGICSOCK_TX_BATCH];
	size_t segs[MAGICSOCK_TX_BATCH]; /* datagrams per message */
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl[MAGICSOCK_TX_BATCH];
};

/* Lays out n datagrams as sendmmsg messages; returns the message count. */
static unsigned tx_build(struct tx_msgs *t, int gso, const union ms_addr *dst, const uint8_t *buf,
			 const size_t *lens, size_t n)
{
	unsigned k = 0;
	size_t i = 0, j, run, bytes;

	memset(t->m, 0, sizeof(t->m));
	while (i < n) {
		run = gso ? gso_run(lens + i, n - i) : 1;
		for (bytes = 0, j = 0; j < run; j++)
			bytes += lens[i + j];
		t->iov[k].iov_base = (void *)buf;
		t->iov[k].iov_len = bytes;
		t->m[k].msg_hdr.msg_iov = &t->iov[k];
		t->m[k].msg_hdr.msg_iovlen = 1;
		t->m[k].msg_hdr.msg_name = (void *)&dst->sa;
		t->m[k].msg_hdr.msg_namelen = ms_addr_len(dst);
		if (run > 1) {
			struct cmsghdr *cm;
			uint16_t seg = (uint16_t)lens[i];

			t->m[k].msg_hdr.msg_control = t->ctl[k].buf;
			t->m[k].msg_hdr.msg_controllen = sizeof(t->ctl[k].buf);
			cm = CMSG_FIRSTHDR(&t->m[k].msg_hdr);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
		}
		t->segs[k] = run;
		buf += bytes;
		i += run;
		k++;
	}
	return k;
}

/* The errors a kernel or device without UDP GSO answers UDP_SEGMENT with. */
static int gso_refused(int err)
{
	return err == EIO || err == EINVAL || err == ENOPROTOOPT || err == EOPNOTSUPP;
}

/* The relay takes datagrams one at a time (TURN frames each one). */
static int relay_batch(struct magicsock *ms, const union ms_addr *to, const uint8_t *buf,
		       const size_t *lens, size_t n)
{
	size_t i, sent = 0;
	int rv, err = 0;

	for (i = 0; i < n; i++) {
		rv = relay_send(ms, to, buf, lens[i]);
		if (rv == 0)
			sent++;
		else
			err = rv;
		buf += lens[i];
	}
	return sent ? (int)sent : err;
}

/* A member relay carries the peer only while no TURN path is heard from. */
static const union ms_addr *member_path(struct magicsock *ms, struct ms_peer *p)
{
	return ms_rheard_fresh(ms, p) ? NULL : ms_fwd_path(ms, p);
}

/* One packet a second through the TURN candidate while on a member relay:
 * the far end hears it there, and a working TURN path takes over. */
static void turn_probe(struct magicsock *ms, struct ms_peer *p, const uint8_t *buf, size_t len)
{
	uint64_t now = uv_now(ms->loop) + 1;

	if (!p->has_relay || !ms->relay_fn ||
	    (p->turn_probe_ms && now - p->turn_probe_ms < TURN_PROBE_MS))
		return;
	p->turn_probe_ms = now;
	relay_send(ms, &p->relay, buf, len);
}

int magicsock_send_batch(struct magicsock *ms, const union ms_addr *to, const uint8_t *buf,
			 const size_t *lens, size_t n)
{
	struct tx_msgs t;
	const union ms_addr *dst;
	union ms_addr tmp;
	unsigned nmsg, done = 0, k;
	size_t sent = 0;
	int r, gso = ms->gso;

	if (n == 0 || n > MAGICSOCK_TX_BATCH)
		return n == 0 ? 0 : -EINVAL;
	if (ms->blackhole)
		return (int)n;
	if (magicsock_is_virtual(to))
		return ms_fwd_send_batch(ms, to, buf, lens, n);
	if (magicsock_is_relayed(ms, to))
		return relay_batch(ms, to, buf, lens, n);
	dst = addr_for_socket(ms, to, &tmp);
	if (dst == NULL) {
		ms->st.tx_errors += n;
		return -EAFNOSUPPORT;
	}
	nmsg = tx_build(&t, gso, dst, buf, lens, n);
	while (done < nmsg) {
		ms->st.tx_syscalls++;
		r = sendmmsg(ms->fd, t.m + done, nmsg - done, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && gso && t.segs[done] > 1 && gso_refused(errno)) {
			log_info("magicsock: UDP GSO refused (%s), sending "
				 "datagrams one by one",
				 strerror(errno));
			ms->gso = 0;
			/* sent counts the datagrams of messages before done */
			r = magicsock_send_batch(ms, to, t.iov[done].iov_base, lens + sent,
						 n - sent);
			if (r < 0)
				return sent ? (int)sent : r;
			return (int)(sent + (size_t)r);
		}
		if (r < 0) {
			r = -errno;
			ms->st.tx_errors += n - sent;
			return sent ? (int)sent : r;
		}
		for (k = done; k < done + (unsigned)r; k++) {
			sent += t.segs[k];
			ms->st.tx_packets += t.segs[k];
			ms->st.tx_bytes += t.iov[k].iov_len;
		}
		done += (unsigned)r;
	}
	return (int)sent;
}

int magicsock_send_peer_batch(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
			      const uint8_t *buf, const size_t *lens, size_t n)
{
	struct ms_peer *p = ms_peer_get(ms, pk, 0);
	const union ms_addr *d;
	size_t i, sent = 0;
	int rv, err = -EHOSTUNREACH;

	if (p && (d = ms_direct_addr(ms, p)) != NULL) {
		p->tx_ms = uv_now(ms->loop) + 1;
		return magicsock_send_batch(ms, d, buf, lens, n);
	}
	if (p && (d = member_path(ms, p)) != NULL) {
		p->tx_ms = uv_now(ms->loop) + 1;
		turn_probe(ms, p, buf, lens[0]);
		return magicsock_send_batch(ms, d, buf, lens, n);
	}
	/* Probing or relaying: one at a time. */
	for (i = 0; i < n; i++) {
		rv = magicsock_send_peer(ms, pk, buf, lens[i]);
		if (rv == 0)
			sent++;
		else
			err = rv;
		buf += lens[i];
	}
	return sent ? (int)sent : err;
}

void magicsock_set_gso(struct magicsock *ms, int on)
{
	ms->gso = on;
}

/*
 * The direct candidates get every packet while nothing is heard at all, but
 * only one per MAGICSOCK_DIRECT_PROBE_MS while the relay carries the peer;
 * none then with disco, whose pings do that probing.
 */
static int direct_due(struct magicsock *ms, struct ms_peer *p, int relaying)
{
	uint64_t now = uv_now(ms->loop) + 1;

	if (!relaying)
		return 1;
	if (ms->disco)
		return 0;
	if (p->probe_ms && now - p->probe_ms < MAGICSOCK_DIRECT_PROBE_MS)
		return 0;
	p->probe_ms = now;
	return 1;
}

/* Unknown, stale or relayed: relay plus direct candidates; any success is
 * success. */
static int send_peer_slow(struct magicsock *ms, struct ms_peer *p, const uint8_t *buf, size_t len)
{
	const union ms_addr *relay = NULL;
	int err = -EHOSTUNREACH, rv, fresh_relay;
	size_t i;

	fresh_relay = ms_rheard_fresh(ms, p);
	if (fresh_relay)
		relay = &p->rheard;
	else if (p->has_relay && ms->relay_fn)
		relay = &p->relay;
	if (relay)
		err = relay_send(ms, relay, buf, len);
	if (!fresh_relay) {
		rv = ms_fwd_probe(ms, p, buf, len);
		if (rv == 0 || err == -EHOSTUNREACH)
			err = rv;
	}
	if (direct_due(ms, p, fresh_relay)) {
		for (i = 0; i < p->naddrs; i++) {
			rv = magicsock_send_to(ms, &p->addrs[i], buf, len);
			if (rv == 0 || err == -EHOSTUNREACH)
				err = rv;
		}
	}
	if (p->naddrs == 0 && p->rheard_ms && relay == NULL) {
		rv = relay_send(ms, &p->rheard, buf, len);
		if (rv == 0 || err == -EHOSTUNREACH)
			err = rv;
	} else if (p->naddrs == 0 && p->heard_ms && relay == NULL) {
		rv = magicsock_send_to(ms, &p->heard, buf, len);
		if (rv == 0 || err == -EHOSTUNREACH)
			err = rv;
	}
	return err;
}

int magicsock_send_peer(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
			const uint8_t *buf, size_t len)
{
	struct ms_peer *p = ms_peer_get(ms, pk, 0);
	const union ms_addr *d;
	int err = -EHOSTUNREACH;

	if (p)
		p->tx_ms = uv_now(ms->loop) + 1;
	if (p && (d = ms_direct_addr(ms, p)) != NULL)
		return magicsock_send_to(ms, d, buf, len);
	if (p && (d = member_path(ms, p)) != NULL) {
		turn_probe(ms, p, buf, len);
		return magicsock_send_to(ms, d, buf, len);
	}
	if (p)
		err = send_peer_slow(ms, p, buf, len);
	if (err == -EHOSTUNREACH)
		ms->st.tx_no_path++;
	return err;
}

int magicsock_set_disco_key(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
			    const uint8_t sk[64])
{
	int err;

	if ((err = disco_secret_from_ed25519(ms->disco_sk, sk)) < 0)
		return err;
	memcpy(ms->disco_pk, pk, MAGICSOCK_KEY_LEN);
	ms->disco = 1;
	magicsock_set_handler(ms, MS_PKT_DISCO, ms_disco_input, ms);
	return uv_timer_start(&ms->disco_timer, ms_disco_tick, MAGICSOCK_DISCO_TICK_MS,
			      MAGICSOCK_DISCO_TICK_MS);
}
