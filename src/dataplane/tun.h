/*
 * tun: the daemon's TUN device, its link state, addresses and peer route.
 *
 * tun_open creates (or attaches to) a layer-3 device without packet info
 * headers, makes the fd non-blocking, sets the MTU (1280, the IPv6 minimum),
 * brings the link up and only then installs the 200::/7 route, because the
 * kernel refuses an IPv6 route on a down link. Mesh addresses are added as
 * networks come and go: any number of IPv4 addresses (one per network, with
 * the /10 prefix so 100.64.0.0/10 routes into the device) and one IPv6 /128.
 * tun_close removes every address and route it added and closes the fd,
 * which deletes the (non-persistent) device.
 *
 * Ownership: struct tun owns the fd and a netlink socket. The fd is handed
 * to forward for packet I/O but stays owned here. Loop thread only.
 */
#ifndef RAYFISH_DATAPLANE_TUN_H
#define RAYFISH_DATAPLANE_TUN_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dataplane/netlink.h"

#define TUN_DEFAULT_NAME "ray0"
#define TUN_DEFAULT_MTU  1280
#define TUN_MAX_V4       64	/* IPv4 addresses: one per joined network */
#define TUN_V4_PREFIX    10	/* 100.64.0.0/10 */

struct tun {
	int fd;
	unsigned ifindex;
	unsigned mtu;
	char name[IF_NAMESIZE];
	struct netlink nl;
	uint32_t v4[TUN_MAX_V4];	/* host order */
	unsigned n_v4;
	uint8_t v6[16];
	int has_v6;
	int has_route6;
};

/*
 * Opens the device `name` (NULL: "ray0") with MTU `mtu` (0: 1280), up, with
 * the 200::/7 route. Errors: -EINVAL for a bad name, -EBUSY when another
 * process holds a device of that name, -EEXIST when the name belongs to an
 * interface that is not a TUN, -EPERM without CAP_NET_ADMIN, other -errno.
 * On failure nothing is left behind and t->fd is -1.
 */
int tun_open(struct tun *t, const char *name, unsigned mtu);

/* Removes the addresses and route this tun added, closes the fd. Safe on a
 * tun whose open failed and on a second call. */
void tun_close(struct tun *t);

/* Adds a host-order IPv4 address with the /10 mesh prefix. -EEXIST if this
 * tun already holds it, -ENOSPC beyond TUN_MAX_V4. */
int tun_addr4_add(struct tun *t, uint32_t addr);
int tun_addr4_del(struct tun *t, uint32_t addr);

/* Sets the one IPv6 /128 address, replacing a previous one. */
int tun_addr6_set(struct tun *t, const uint8_t addr[16]);
int tun_addr6_clear(struct tun *t);

/* One packet I/O on the non-blocking fd: bytes moved or -errno (-EAGAIN). */
ssize_t tun_read(struct tun *t, uint8_t *buf, size_t cap);
ssize_t tun_write(struct tun *t, const uint8_t *pkt, size_t len);

#endif
