/*
 * mdns: see mdns.h. This file is the responder and listener; the codec it
 * builds and parses with is mdns_codec.c.
 *
 * The sockets are plain non-blocking fds watched with uv_poll, because
 * choosing the outgoing interface and reading the arrival interface,
 * destination and TTL need sendmsg/recvmsg control messages that uv_udp
 * does not expose.
 */
#include "discovery/mdns.h"
#include "util/limits.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/hex.h"
#include "util/log.h"

#define REPLY_MIN_MS 20
#define REPLY_SPAN_MS 100
#define MCAST_GAP_MS 1000 /* one multicast answer per second, per link */
#define BUCKET_CAP 10     /* unicast replies: burst ... */
#define BUCKET_PER_S 5    /* ... and refill per second */
#define RX_BURST 64       /* packets read per poll callback */
#define START_ANNOUNCES 3
#define TICK_MS 1000

struct mdns_iface {
	char name[IF_NAMESIZE];
	unsigned index;
	struct mdns_self self;  /* id/port filled at send time */
	int pending[2];         /* multicast answer owed: v4, v6 */
	uint64_t last_mcast[2]; /* ms of the last multicast answer */
};

struct mdns {
	uv_loop_t *loop;
	mdns_peer_cb on_peer;
	void *ud;
	char id_hex[65];
	uint8_t id[LIMIT_KEY_LEN];
	uint16_t port;
	char tun[IF_NAMESIZE];
	unsigned announce_ms, query_ms;

	int fd[2]; /* v4, v6; -1 when not bound */
	uv_poll_t poll[2];
	int poll_on[2];
	uv_timer_t tick;  /* announce / query schedule */
	uv_timer_t reply; /* delayed multicast answers */
	int handles;      /* open uv handles, freed at 0 */
	int closing;

	int announces_left;
	uint64_t next_announce, next_query;
	double bucket;
	uint64_t bucket_ms;

	struct mdns_iface ifs[MDNS_MAX_IFACES];
	size_t n_ifs;
	struct mdns_stats stats;
	uint8_t buf[MDNS_MAX_PACKET];
};

/* ---- runtime: interfaces ------------------------------------------------- */

static struct mdns_iface *iface_get(struct mdns *m, unsigned index)
{
	size_t i;

	for (i = 0; i < m->n_ifs; i++)
		if (m->ifs[i].index == index)
			return &m->ifs[i];
	return NULL;
}

static struct mdns_iface *iface_add(struct mdns *m, struct mdns_iface *old, size_t n_old,
				    const char *name, unsigned index)
{
	struct mdns_iface *f = iface_get(m, index);
	size_t i;

	if (f)
		return f;
	if (m->n_ifs == MDNS_MAX_IFACES)
		return NULL;
	f = &m->ifs[m->n_ifs++];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->index = index;
	/* Keep the rate-limit memory of a link seen before. */
	for (i = 0; i < n_old; i++) {
		if (old[i].index == index) {
			memcpy(f->last_mcast, old[i].last_mcast, sizeof(f->last_mcast));
			memcpy(f->pending, old[i].pending, sizeof(f->pending));
		}
	}
	return f;
}

static int iface_usable(const struct mdns *m, const struct ifaddrs *a)
{
	if (!a->ifa_addr || !a->ifa_name)
		return 0;
	if (!(a->ifa_flags & IFF_UP) || !(a->ifa_flags & IFF_MULTICAST) ||
	    (a->ifa_flags & IFF_LOOPBACK))
		return 0;
	return m->tun[0] == '\0' || strcmp(a->ifa_name, m->tun) != 0;
}

static void iface_record_addr(struct mdns_iface *f, const struct sockaddr *sa)
{
	struct mdns_self *s = &f->self;

	if (sa->sa_family == AF_INET && s->n_v4 < MDNS_MAX_HOST_ADDRS)
		s->v4[s->n_v4++] = ((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6 && s->n_v6 < MDNS_MAX_HOST_ADDRS)
		s->v6[s->n_v6++] = ((const struct sockaddr_in6 *)sa)->sin6_addr;
}

static void iface_join(struct mdns *m, const struct mdns_iface *f)
{
	struct ip_mreqn mr;
	struct ipv6_mreq m6;

	if (m->fd[0] >= 0 && f->self.n_v4 > 0) {
		memset(&mr, 0, sizeof(mr));
		inet_pton(AF_INET, "224.0.0.251", &mr.imr_multiaddr);
		mr.imr_ifindex = (int)f->index;
		if (setsockopt(m->fd[0], IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 &&
		    errno != EADDRINUSE)
			log_warn("mdns: join 224.0.0.251 on %s: %s", f->name, strerror(errno));
	}
	if (m->fd[1] >= 0 && f->self.n_v6 > 0) {
		memset(&m6, 0, sizeof(m6));
		inet_pton(AF_INET6, "ff02::fb", &m6.ipv6mr_multiaddr);
		m6.ipv6mr_interface = f->index;
		if (setsockopt(m->fd[1], IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, sizeof(m6)) < 0 &&
		    errno != EADDRINUSE)
			log_warn("mdns: join ff02::fb on %s: %s", f->name, strerror(errno));
	}
}

/* Enumerates the usable interfaces and their addresses again and joins the
 * groups on each (joining twice is refused with EADDRINUSE, which is fine;
 * the kernel drops memberships of interfaces that go away). */
static void iface_refresh(struct mdns *m)
{
	struct mdns_iface old[MDNS_MAX_IFACES];
	struct ifaddrs *all = NULL, *a;
	size_t n_old = m->n_ifs, i;

	if (getifaddrs(&all) < 0) {
		log_warn("mdns: getifaddrs: %s", strerror(errno));
		return;
	}
	memcpy(old, m->ifs, sizeof(old));
	m->n_ifs = 0;
	for (a = all; a; a = a->ifa_next) {
		struct mdns_iface *f;
		unsigned index;

		if (!iface_usable(m, a))
			continue;
		if (a->ifa_addr->sa_family != AF_INET && a->ifa_addr->sa_family != AF_INET6)
			continue;
		index = if_nametoindex(a->ifa_name);
		if (index == 0)
			continue;
		f = iface_add(m, old, n_old, a->ifa_name, index);
		if (f)
			iface_record_addr(f, a->ifa_addr);
	}
	freeifaddrs(all);
	for (i = 0; i < m->n_ifs; i++)
		iface_join(m, &m->ifs[i]);
	m->stats.ifaces = (unsigned)m->n_ifs;
}

/* ---- runtime: sending ---------------------------------------------------- */

static int send_on(struct mdns *m, int fam, unsigned ifindex, const struct sockaddr *dst,
		   socklen_t dlen, const uint8_t *buf, size_t len)
{
	union {
		char b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = { 0 };
	struct cmsghdr *c;

	memset(&ctl, 0, sizeof(ctl));
	msg.msg_name = (void *)dst;
	msg.msg_namelen = dlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.b;
	c = (struct cmsghdr *)ctl.b;
	if (fam == 0) {
		struct in_pktinfo pi = { 0 };

		pi.ipi_ifindex = (int)ifindex;
		msg.msg_controllen = CMSG_SPACE(sizeof(pi));
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	} else {
		struct in6_pktinfo pi = { 0 };

		pi.ipi6_ifindex = ifindex;
		msg.msg_controllen = CMSG_SPACE(sizeof(pi));
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	}
	if (sendmsg(m->fd[fam], &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		m->stats.tx_errors++;
		log_debug("mdns: send on ifindex %u: %s", ifindex, strerror(errno));
		return -errno;
	}
	return 0;
}

static int send_group(struct mdns *m, int fam, const struct mdns_iface *f, const uint8_t *buf,
		      size_t len)
{
	struct sockaddr_in d4 = { 0 };
	struct sockaddr_in6 d6 = { 0 };

	if (fam == 0) {
		d4.sin_family = AF_INET;
		d4.sin_port = htons(MDNS_PORT);
		inet_pton(AF_INET, "224.0.0.251", &d4.sin_addr);
		return send_on(m, 0, f->index, (struct sockaddr *)&d4, sizeof(d4), buf, len);
	}
	d6.sin6_family = AF_INET6;
	d6.sin6_port = htons(MDNS_PORT);
	d6.sin6_scope_id = f->index;
	inet_pton(AF_INET6, "ff02::fb", &d6.sin6_addr);
	return send_on(m, 1, f->index, (struct sockaddr *)&d6, sizeof(d6), buf, len);
}

static int fam_ready(const struct mdns *m, int fam, const struct mdns_iface *f)
{
	return m->fd[fam] >= 0 && (fam == 0 ? f->self.n_v4 : f->self.n_v6) > 0;
}

static int build_for(struct mdns *m, struct mdns_iface *f, uint32_t ttl, uint16_t qid, int with_q)
{
	memcpy(f->self.id_hex, m->id_hex, sizeof(m->id_hex));
	f->self.port = m->port;
	return mdns_build_announce(&f->self, ttl, qid, with_q, m->buf, sizeof(m->buf));
}

static void announce_iface(struct mdns *m, struct mdns_iface *f, int fam, uint32_t ttl)
{
	int n;

	if (!fam_ready(m, fam, f))
		return;
	n = build_for(m, f, ttl, 0, 0);
	if (n < 0) {
		log_warn("mdns: build announcement: %s", strerror(-n));
		return;
	}
	if (send_group(m, fam, f, m->buf, (size_t)n) == 0)
		m->stats.tx_announces++;
	f->last_mcast[fam] = uv_now(m->loop);
	f->pending[fam] = 0;
}

static void announce_all(struct mdns *m, uint32_t ttl)
{
	size_t i;
	int fam;

	for (i = 0; i < m->n_ifs; i++)
		for (fam = 0; fam < 2; fam++)
			announce_iface(m, &m->ifs[i], fam, ttl);
}

static void query_all(struct mdns *m)
{
	uint8_t q[128];
	int n = mdns_build_query(q, sizeof(q));
	size_t i;
	int fam;

	if (n < 0)
		return;
	for (i = 0; i < m->n_ifs; i++)
		for (fam = 0; fam < 2; fam++)
			if (fam_ready(m, fam, &m->ifs[i]) &&
			    send_group(m, fam, &m->ifs[i], q, (size_t)n) == 0)
				m->stats.tx_queries++;
}

/* ---- runtime: timers ----------------------------------------------------- */

static void tick_cb(uv_timer_t *t)
{
	struct mdns *m = t->data;
	uint64_t now = uv_now(m->loop);
	int query = now >= m->next_query, announce = now >= m->next_announce;

	/* Addresses come and go (DHCP, IPv6 DAD): read them every round. */
	if (query || announce)
		iface_refresh(m);
	if (query) {
		query_all(m);
		m->next_query = now + m->query_ms;
	}
	if (announce) {
		announce_all(m, MDNS_TTL);
		if (m->announces_left > 0)
			m->announces_left--;
		m->next_announce = now + (m->announces_left > 0 ? TICK_MS : m->announce_ms);
	}
}

static void reply_cb(uv_timer_t *t)
{
	struct mdns *m = t->data;
	uint64_t now = uv_now(m->loop), wait = 0;
	size_t i;
	int fam;

	for (i = 0; i < m->n_ifs; i++) {
		for (fam = 0; fam < 2; fam++) {
			struct mdns_iface *f = &m->ifs[i];
			uint64_t due = f->last_mcast[fam] + MCAST_GAP_MS;

			if (!f->pending[fam])
				continue;
			if (f->last_mcast[fam] == 0 || now >= due) {
				announce_iface(m, f, fam, MDNS_TTL);
			} else if (wait == 0 || due - now < wait) {
				wait = due - now;
			}
		}
	}
	if (wait > 0)
		uv_timer_start(&m->reply, reply_cb, wait, 0);
}

static int bucket_take(struct mdns *m)
{
	uint64_t now = uv_now(m->loop);

	m->bucket += (double)(now - m->bucket_ms) * BUCKET_PER_S / 1000.0;
	if (m->bucket > BUCKET_CAP)
		m->bucket = BUCKET_CAP;
	m->bucket_ms = now;
	if (m->bucket < 1.0)
		return 0;
	m->bucket -= 1.0;
	return 1;
}

/* ---- runtime: receiving -------------------------------------------------- */

struct rx_meta {
	int fam;
	unsigned ifindex;
	int ttl; /* -1 when not reported */
	int to_group;
	struct sockaddr_storage src;
	socklen_t src_len;
};

static void rx_control(struct msghdr *msg, struct rx_meta *r)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			r->ifindex = (unsigned)pi.ipi_ifindex;
			r->to_group = ntohl(pi.ipi_addr.s_addr) == 0xe00000fbu;
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
			memcpy(&r->ttl, CMSG_DATA(c), sizeof(int));
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			struct in6_addr g;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			r->ifindex = pi.ipi6_ifindex;
			inet_pton(AF_INET6, "ff02::fb", &g);
			r->to_group = memcmp(&pi.ipi6_addr, &g, 16) == 0;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
			memcpy(&r->ttl, CMSG_DATA(c), sizeof(int));
		}
	}
}

static int addr_usable4(const struct in_addr *a)
{
	uint32_t h = ntohl(a->s_addr);

	if (h == 0 || (h >> 24) == 127 || (h >> 28) == 0xe || h == 0xffffffffu)
		return 0;
	return (h & 0xffc00000u) != 0x64400000u; /* 100.64.0.0/10: mesh */
}

static int addr_usable6(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_MULTICAST(a) ||
	    IN6_IS_ADDR_V4MAPPED(a))
		return 0;
	return (a->s6_addr[0] & 0xfe) != 0x02; /* 200::/7: mesh */
}

static void out_add(struct sockaddr_storage *out, size_t *n, const struct sockaddr_storage *ss)
{
	size_t i, len = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in)
						 : sizeof(struct sockaddr_in6);

	if (*n == MDNS_MAX_ADDRS)
		return;
	for (i = 0; i < *n; i++)
		if (memcmp(&out[i], ss, len) == 0)
			return;
	out[(*n)++] = *ss;
}

static void put4(struct sockaddr_storage *out, size_t *n, const struct in_addr *a, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;

	if (!addr_usable4(a))
		return;
	memset(&ss, 0, sizeof(ss));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	s->sin_addr = *a;
	out_add(out, n, &ss);
}

static void put6(struct sockaddr_storage *out, size_t *n, const struct in6_addr *a, uint16_t port,
		 unsigned ifindex)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

	if (!addr_usable6(a))
		return;
	memset(&ss, 0, sizeof(ss));
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(port);
	s->sin6_addr = *a;
	if (IN6_IS_ADDR_LINKLOCAL(a))
		s->sin6_scope_id = ifindex;
	out_add(out, n, &ss);
}

static void report_peer(struct mdns *m, const struct mdns_found *f, const struct rx_meta *r)
{
	struct sockaddr_storage addrs[MDNS_MAX_ADDRS];
	size_t n = 0, i;

	if (memcmp(f->id, m->id, LIMIT_KEY_LEN) == 0) {
		m->stats.rx_own++;
		return;
	}
	if (r->fam == 0)
		put4(addrs, &n, &((const struct sockaddr_in *)&r->src)->sin_addr, f->port);
	else
		put6(addrs, &n, &((const struct sockaddr_in6 *)&r->src)->sin6_addr, f->port,
		     r->ifindex);
	for (i = 0; i < f->n_v4; i++)
		put4(addrs, &n, &f->v4[i], f->port);
	for (i = 0; i < f->n_v6; i++)
		put6(addrs, &n, &f->v6[i], f->port, r->ifindex);
	if (n == 0)
		return;
	m->stats.peers_reported++;
	m->on_peer(m->ud, f->id, addrs, n);
}

/* sin_port and sin6_port share their offset, but say which one is read. */
static uint16_t src_port(const struct rx_meta *r)
{
	if (r->fam == 0)
		return ntohs(((const struct sockaddr_in *)&r->src)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&r->src)->sin6_port);
}

static void answer_query(struct mdns *m, const struct mdns_parsed *p, const struct rx_meta *r)
{
	struct mdns_iface *f = iface_get(m, r->ifindex);
	int legacy = src_port(r) != MDNS_PORT, n;

	m->stats.rx_queries++;
	if (!f || !fam_ready(m, r->fam, f))
		return;
	if (!legacy && !p->unicast_reply) {
		f->pending[r->fam] = 1;
		if (!uv_is_active((uv_handle_t *)&m->reply))
			uv_timer_start(&m->reply, reply_cb,
				       REPLY_MIN_MS + (uv_hrtime() / 1000) % REPLY_SPAN_MS, 0);
		return;
	}
	if (!bucket_take(m)) {
		m->stats.rate_limited++;
		return;
	}
	n = build_for(m, f, legacy ? 10 : MDNS_TTL, legacy ? p->id : 0, legacy);
	if (n > 0 && send_on(m, r->fam, r->ifindex, (struct sockaddr *)&r->src, r->src_len, m->buf,
			     (size_t)n) == 0)
		m->stats.tx_replies++;
}

static void handle_packet(struct mdns *m, const uint8_t *pkt, size_t len, const struct rx_meta *r)
{
	struct mdns_parsed p;
	size_t i;

	m->stats.rx_packets++;
	if (!r->to_group && r->ttl != 255) {
		m->stats.rx_offlink++;
		return;
	}
	if (mdns_parse(pkt, len, &p) < 0) {
		m->stats.rx_malformed++;
		return;
	}
	if (!p.is_response) {
		if (p.asks_service)
			answer_query(m, &p, r);
		return;
	}
	/* A response from a port other than 5353 is not mDNS (s11). */
	if (src_port(r) != MDNS_PORT)
		return;
	for (i = 0; i < p.n_found && !m->closing; i++)
		report_peer(m, &p.found[i], r);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
	struct mdns *m = h->data;
	int fam = h == &m->poll[1], i;

	if (status < 0 || !(events & UV_READABLE))
		return;
	for (i = 0; i < RX_BURST && !m->closing; i++) {
		char ctl[256];
		struct rx_meta r = { .fam = fam, .ttl = -1 };
		struct iovec iov = { m->buf, sizeof(m->buf) };
		struct msghdr msg = { 0 };
		ssize_t n;

		msg.msg_name = &r.src;
		msg.msg_namelen = sizeof(r.src);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctl;
		msg.msg_controllen = sizeof(ctl);
		n = recvmsg(m->fd[fam], &msg, MSG_DONTWAIT);
		if (n < 0)
			return;
		if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
			m->stats.rx_packets++;
			m->stats.rx_malformed++;
			continue;
		}
		r.src_len = msg.msg_namelen;
		rx_control(&msg, &r);
		handle_packet(m, m->buf, (size_t)n, &r);
	}
}

/* ---- runtime: sockets and lifetime --------------------------------------- */

static int sock_opt(int fd, int level, int name, int val)
{
	return setsockopt(fd, level, name, &val, sizeof(val)) < 0 ? -errno : 0;
}

static int sock_open(int fam)
{
	struct sockaddr_in a4 = { 0 };
	struct sockaddr_in6 a6 = { 0 };
	int fd, rc;

	fd = socket(fam == 0 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if ((rc = sock_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1)) < 0 ||
	    (rc = sock_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1)) < 0)
		goto fail;
	if (fam == 0) {
		a4.sin_family = AF_INET;
		a4.sin_port = htons(MDNS_PORT);
		if ((rc = sock_opt(fd, IPPROTO_IP, IP_PKTINFO, 1)) < 0 ||
		    (rc = sock_opt(fd, IPPROTO_IP, IP_RECVTTL, 1)) < 0 ||
		    (rc = sock_opt(fd, IPPROTO_IP, IP_MULTICAST_TTL, 255)) < 0 ||
		    (rc = sock_opt(fd, IPPROTO_IP, IP_TTL, 255)) < 0 ||
		    (rc = sock_opt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0)) < 0)
			goto fail;
		if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) < 0)
			goto fail_errno;
		return fd;
	}
	a6.sin6_family = AF_INET6;
	a6.sin6_port = htons(MDNS_PORT);
	if ((rc = sock_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1)) < 0 ||
	    (rc = sock_opt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)) < 0 ||
	    (rc = sock_opt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)) < 0 ||
	    (rc = sock_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255)) < 0 ||
	    (rc = sock_opt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255)) < 0 ||
	    (rc = sock_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0)) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&a6, sizeof(a6)) < 0)
		goto fail_errno;
	return fd;
fail_errno:
	rc = -errno;
fail:
	close(fd);
	return rc;
}

static void handle_closed(uv_handle_t *h)
{
	struct mdns *m = h->data;
	int i;

	if (--m->handles > 0)
		return;
	for (i = 0; i < 2; i++)
		if (m->fd[i] >= 0)
			close(m->fd[i]);
	free(m);
}

static int cfg_copy(struct mdns *m, const struct mdns_config *cfg)
{
	int i;

	if (!cfg || !cfg->id_hex || strlen(cfg->id_hex) != 64 ||
	    hex_decode_str(cfg->id_hex, m->id, sizeof(m->id)) < 0 || cfg->port == 0)
		return -EINVAL;
	if (cfg->tun_name && strlen(cfg->tun_name) >= IF_NAMESIZE)
		return -EINVAL;
	memcpy(m->id_hex, cfg->id_hex, 65);
	/* One spelling on the wire, whatever case the caller used. */
	for (i = 0; i < 64; i++)
		if (m->id_hex[i] >= 'A' && m->id_hex[i] <= 'F')
			m->id_hex[i] = (char)(m->id_hex[i] - 'A' + 'a');
	hex_decode_str(m->id_hex, m->id, sizeof(m->id));
	m->port = cfg->port;
	if (cfg->tun_name)
		snprintf(m->tun, sizeof(m->tun), "%s", cfg->tun_name);
	m->announce_ms = cfg->announce_ms ? cfg->announce_ms : MDNS_ANNOUNCE_MS;
	m->query_ms = cfg->query_ms ? cfg->query_ms : MDNS_QUERY_MS;
	return 0;
}

static int sockets_open(struct mdns *m)
{
	int rc4, rc6;

	rc4 = m->fd[0] = sock_open(0);
	rc6 = m->fd[1] = sock_open(1);
	if (rc4 < 0) {
		m->fd[0] = -1;
		log_warn("mdns: IPv4 socket on port %d: %s", MDNS_PORT, strerror(-rc4));
	}
	if (rc6 < 0) {
		m->fd[1] = -1;
		log_info("mdns: IPv6 socket on port %d: %s", MDNS_PORT, strerror(-rc6));
	}
	if (rc4 < 0 && rc6 < 0)
		return rc4;
	return 0;
}

int mdns_open(struct mdns **out, uv_loop_t *loop, const struct mdns_config *cfg,
	      mdns_peer_cb on_peer, void *ud)
{
	struct mdns *m;
	int rc, i;

	*out = NULL;
	if (!on_peer)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->loop = loop;
	m->on_peer = on_peer;
	m->ud = ud;
	if ((rc = cfg_copy(m, cfg)) < 0 || (rc = sockets_open(m)) < 0) {
		free(m);
		return rc;
	}
	for (i = 0; i < 2; i++) {
		if (m->fd[i] < 0)
			continue;
		uv_poll_init(loop, &m->poll[i], m->fd[i]);
		m->poll[i].data = m;
		m->handles++;
		m->poll_on[i] = 1;
		uv_poll_start(&m->poll[i], UV_READABLE, poll_cb);
	}
	uv_timer_init(loop, &m->tick);
	uv_timer_init(loop, &m->reply);
	m->tick.data = m->reply.data = m;
	m->handles += 2;
	m->bucket = BUCKET_CAP;
	m->bucket_ms = uv_now(loop);
	m->announces_left = START_ANNOUNCES;
	m->next_announce = m->next_query = uv_now(loop);
	uv_timer_start(&m->tick, tick_cb, 0, TICK_MS);
	*out = m;
	return 0;
}

void mdns_close(struct mdns *m)
{
	int i;

	if (!m || m->closing)
		return;
	announce_all(m, 0);
	m->closing = 1;
	for (i = 0; i < 2; i++)
		if (m->poll_on[i])
			uv_close((uv_handle_t *)&m->poll[i], handle_closed);
	uv_close((uv_handle_t *)&m->tick, handle_closed);
	uv_close((uv_handle_t *)&m->reply, handle_closed);
}

void mdns_set_port(struct mdns *m, uint16_t port)
{
	if (!m || m->closing || port == 0 || port == m->port)
		return;
	m->port = port;
	announce_all(m, MDNS_TTL);
}

void mdns_get_stats(const struct mdns *m, struct mdns_stats *out)
{
	*out = m->stats;
}
