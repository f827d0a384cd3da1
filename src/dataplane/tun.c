/*
 * tun: see tun.h. The device is created through the TUNSETIFF ioctl; every
 * other change goes through rtnetlink so that errors come back as precise
 * -errno values. Only what this struct added is removed on close, so a
 * device that already existed (persistent) is handed back as it was found,
 * less our addresses and route.
 *
 * Offloads: TUN_F_TSO_ECN and TUN_F_UFO stay off. offload_split refuses UFO
 * (IP fragments), and without TSO_ECN the kernel segments a CWR-marked
 * burst itself instead of handing us an ECN super-packet. When
 * gso_max_segs cannot be set, the segmentation offloads are turned off
 * again (checksum only): a super-packet of more than OFFLOAD_MAX_SEGS
 * segments (a small MSS) would be refused by offload_split and lost.
 */
#include "dataplane/tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/offload.h"
#include "util/log.h"

#define OFFLOADS_TSO (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
#define OFFLOADS_ALL (OFFLOADS_TSO | TUN_F_USO4 | TUN_F_USO6)

#define TUN_DEV "/dev/net/tun"
#define LOCAL6_WAIT_MS 500

/* 200::/7: every peer's IPv6 lives here */
static const uint8_t peer_range6[16] = { 0x02 };
#define PEER_RANGE6_PREFIX 7

static int name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= IF_NAMESIZE)
		return 0;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		/* '%' would make the kernel pick a name; '/' and ':' are
		 * refused by it; spaces break every tool that prints names */
		if (c <= ' ' || c >= 0x7f || c == '/' || c == ':' || c == '%')
			return 0;
	}
	return 1;
}

static int tun_create(struct tun *t, const char *name, int vnet)
{
	struct ifreq ifr;
	int err;

	t->fd = open(TUN_DEV, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		err = -errno;
		log_error("tun: cannot open %s: %s", TUN_DEV, strerror(-err));
		return err;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		if (err == -EBUSY) {
			log_error("tun: interface %s is already in use by another process "
				  "(another daemon running?); set tun-name to another name",
				  name);
		} else if (err == -EINVAL && if_nametoindex(name) != 0) {
			log_error("tun: the name %s is taken by an interface of another kind "
				  "(not a layer-3 TUN); set tun-name to another name",
				  name);
			err = -EEXIST;
		} else {
			log_error("tun: cannot create %s: %s", name, strerror(-err));
		}
		return err;
	}
	memcpy(t->name, ifr.ifr_name, IF_NAMESIZE);
	t->name[IF_NAMESIZE - 1] = '\0';
	t->ifindex = if_nametoindex(t->name);
	if (t->ifindex == 0) {
		err = -errno;
		log_error("tun: %s vanished after creation: %s", t->name, strerror(-err));
		return err;
	}
	t->vnet_hdr = vnet;
	return 0;
}

/* The header's size and byte order; -errno when the kernel refuses either. */
static int vnet_setup(struct tun *t)
{
	int sz = OFFLOAD_VNET_HDR_LEN, le = 1;

	if (ioctl(t->fd, TUNSETVNETHDRSZ, &sz) < 0 || ioctl(t->fd, TUNSETVNETLE, &le) < 0)
		return -errno;
	return 0;
}

static int set_offload(struct tun *t, unsigned bits)
{
	if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)bits) < 0)
		return -errno;
	t->offloads = bits;
	return 0;
}

/* Everything the kernel takes of OFFLOADS_ALL; none is not an error. */
static void offload_setup(struct tun *t)
{
	int rc;

	if (set_offload(t, OFFLOADS_ALL) == 0)
		return;
	/* -EINVAL before Linux 6.2, which knows no USO */
	if ((rc = set_offload(t, OFFLOADS_TSO)) == 0)
		return;
	log_warn("tun: %s takes no offloads (%s): packets are read one by one", t->name,
		 strerror(-rc));
}

/* Caps super-packets at what offload_split makes (see the top). Before
 * link-up, so that no TCP socket caches the old limit. */
static void gso_segs_setup(struct tun *t)
{
	int rc;

	if (!(t->offloads & (TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6)))
		return;
	rc = netlink_link_set_gso_max_segs(&t->nl, t->ifindex, OFFLOAD_MAX_SEGS);
	if (rc == 0)
		return;
	log_warn("tun: cannot set gso_max_segs on %s (%s): segmentation offload off", t->name,
		 strerror(-rc));
	if (set_offload(t, TUN_F_CSUM) < 0)
		set_offload(t, 0);
}

/* Opens the device, with the vnet header when asked and the kernel takes
 * it; reopens it plain when it does not. */
static int tun_create_vnet(struct tun *t, const char *name, int vnet)
{
	int rc;

	if ((rc = tun_create(t, name, vnet)) < 0 || !vnet)
		return rc;
	if ((rc = vnet_setup(t)) == 0) {
		offload_setup(t);
		return 0;
	}
	log_warn("tun: no vnet header on %s (%s): offloads off", t->name, strerror(-rc));
	close(t->fd);
	t->fd = -1;
	t->vnet_hdr = 0;
	return tun_create(t, name, 0);
}

static int tun_configure(struct tun *t)
{
	int rc;

	if ((rc = netlink_link_set_mtu(&t->nl, t->ifindex, t->mtu)) < 0) {
		log_error("tun: cannot set MTU %u on %s: %s", t->mtu, t->name, strerror(-rc));
		return rc;
	}
	gso_segs_setup(t);
	/* every network adds its own 100.64/10 address; leaving the first one
	 * must not take the others with it */
	if ((rc = netlink_link_set_promote_secondaries(&t->nl, t->ifindex)) < 0) {
		log_error("tun: cannot set promote_secondaries on %s: %s", t->name, strerror(-rc));
		return rc;
	}
	if ((rc = netlink_link_set_up(&t->nl, t->ifindex, 1)) < 0) {
		log_error("tun: cannot bring %s up: %s", t->name, strerror(-rc));
		return rc;
	}
	/* after link-up: the kernel refuses an IPv6 route on a down link, and
	 * without it peer traffic would leak to the default IPv6 route */
	rc = netlink_route_add(&t->nl, t->ifindex, AF_INET6, peer_range6, PEER_RANGE6_PREFIX);
	if (rc < 0 && rc != -EEXIST) {
		log_error("tun: cannot route 200::/7 into %s: %s", t->name, strerror(-rc));
		return rc;
	}
	t->has_route6 = 1;
	return 0;
}

int tun_open(struct tun *t, const char *name, unsigned mtu, unsigned flags)
{
	int rc;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (!name)
		name = TUN_DEFAULT_NAME;
	t->mtu = mtu ? mtu : TUN_DEFAULT_MTU;
	if (!name_valid(name)) {
		log_error("tun: invalid interface name \"%s\"", name);
		return -EINVAL;
	}
	if ((rc = netlink_open(&t->nl)) < 0) {
		log_error("tun: cannot open rtnetlink: %s", strerror(-rc));
		goto fail;
	}
	if ((rc = tun_create_vnet(t, name, !!(flags & TUN_OPEN_OFFLOAD))) < 0)
		goto fail;
	if ((rc = tun_configure(t)) < 0)
		goto fail;
	log_info("tun: %s up (ifindex %u, mtu %u, vnet header %s, offloads 0x%x)", t->name,
		 t->ifindex, t->mtu, t->vnet_hdr ? "on" : "off", t->offloads);
	return 0;
fail:
	tun_close(t);
	return rc;
}

static void addr4_bytes(uint32_t addr, struct in_addr *out)
{
	out->s_addr = htonl(addr);
}

void tun_close(struct tun *t)
{
	struct in_addr a;

	if (t->nl.sock && t->ifindex) {
		if (t->has_route6)
			netlink_route_del(&t->nl, t->ifindex, AF_INET6, peer_range6,
					  PEER_RANGE6_PREFIX);
		if (t->has_v6)
			netlink_addr_del(&t->nl, t->ifindex, AF_INET6, t->v6, 128);
		for (unsigned i = 0; i < t->n_v4; i++) {
			addr4_bytes(t->v4[i], &a);
			netlink_addr_del(&t->nl, t->ifindex, AF_INET, &a, TUN_V4_PREFIX);
		}
		netlink_link_set_up(&t->nl, t->ifindex, 0);
	}
	t->has_route6 = 0;
	t->has_v6 = 0;
	t->n_v4 = 0;
	if (t->nl.sock)
		netlink_close(&t->nl);
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->ifindex = 0;
	t->vnet_hdr = 0;
	t->offloads = 0;
}

static int addr4_find(const struct tun *t, uint32_t addr)
{
	for (unsigned i = 0; i < t->n_v4; i++)
		if (t->v4[i] == addr)
			return (int)i;
	return -1;
}

int tun_addr4_add(struct tun *t, uint32_t addr)
{
	struct in_addr a;
	int rc;

	if (t->fd < 0)
		return -EBADF;
	if (addr4_find(t, addr) >= 0)
		return -EEXIST;
	if (t->n_v4 >= TUN_MAX_V4)
		return -ENOSPC;
	addr4_bytes(addr, &a);
	rc = netlink_addr_add(&t->nl, t->ifindex, AF_INET, &a, TUN_V4_PREFIX);
	/* already on our device (a persistent one we attached to): adopt it */
	if (rc < 0 && rc != -EEXIST) {
		log_error("tun: cannot add %s/%d to %s: %s", inet_ntoa(a), TUN_V4_PREFIX, t->name,
			  strerror(-rc));
		return rc;
	}
	t->v4[t->n_v4++] = addr;
	return 0;
}

int tun_addr4_del(struct tun *t, uint32_t addr)
{
	struct in_addr a;
	int i = addr4_find(t, addr), rc;

	if (i < 0)
		return -ENOENT;
	addr4_bytes(addr, &a);
	rc = netlink_addr_del(&t->nl, t->ifindex, AF_INET, &a, TUN_V4_PREFIX);
	if (rc < 0 && rc != -EADDRNOTAVAIL)
		return rc;
	t->v4[i] = t->v4[--t->n_v4];
	return 0;
}

static int local6_route_cb(const struct netlink_route *r, void *ud)
{
	const uint8_t *addr = ud;

	return r->table == RT_TABLE_LOCAL && r->dst_len == 128 && memcmp(r->dst, addr, 16) == 0;
}

/*
 * Even without DAD the kernel finishes adding an IPv6 address on a work
 * queue: the local route that makes it accept packets comes a moment after
 * the ACK. Waits for that route (bounded) so the address really is usable
 * when tun_addr6_set returns.
 */
static int wait_local6(struct tun *t, const uint8_t addr[16])
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < LOCAL6_WAIT_MS; i++) {
		int rc = netlink_route_dump(&t->nl, AF_INET6, local6_route_cb, (void *)addr);

		if (rc != 0)
			return rc > 0 ? 0 : rc;
		nanosleep(&ms, NULL);
	}
	return -ETIMEDOUT;
}

int tun_addr6_set(struct tun *t, const uint8_t addr[16])
{
	uint8_t old[16];
	int rc, had = t->has_v6;

	if (t->fd < 0)
		return -EBADF;
	if (had && memcmp(t->v6, addr, 16) == 0)
		return 0;
	/* add the new one before dropping the old: no moment without one */
	rc = netlink_addr_add(&t->nl, t->ifindex, AF_INET6, addr, 128);
	if (rc < 0 && rc != -EEXIST) {
		log_error("tun: cannot add IPv6 address to %s: %s", t->name, strerror(-rc));
		return rc;
	}
	memcpy(old, t->v6, 16);
	memcpy(t->v6, addr, 16);
	t->has_v6 = 1;
	if (had)
		netlink_addr_del(&t->nl, t->ifindex, AF_INET6, old, 128);
	if ((rc = wait_local6(t, addr)) < 0)
		log_warn("tun: IPv6 address on %s not active yet: %s", t->name, strerror(-rc));
	return 0;
}

int tun_addr6_clear(struct tun *t)
{
	int rc;

	if (!t->has_v6)
		return -ENOENT;
	rc = netlink_addr_del(&t->nl, t->ifindex, AF_INET6, t->v6, 128);
	if (rc < 0 && rc != -EADDRNOTAVAIL)
		return rc;
	t->has_v6 = 0;
	return 0;
}

ssize_t tun_read(struct tun *t, uint8_t *buf, size_t cap)
{
	ssize_t n = read(t->fd, buf, cap);

	return n < 0 ? -errno : n;
}

ssize_t tun_write(struct tun *t, const uint8_t *pkt, size_t len)
{
	uint8_t hdr[OFFLOAD_VNET_HDR_LEN] = { 0 };
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)pkt, len } };
	ssize_t n;

	if (!t->vnet_hdr) {
		n = write(t->fd, pkt, len);
		return n < 0 ? -errno : n;
	}
	n = writev(t->fd, iov, 2);
	if (n < 0)
		return -errno;
	return n < (ssize_t)sizeof(hdr) ? -EIO : n - (ssize_t)sizeof(hdr);
}
