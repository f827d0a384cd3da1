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
 * With TUN_OPEN_OFFLOAD the device is opened with IFF_VNET_HDR: every read
 * and write carries a 10-byte struct virtio_net_hdr in front of the packet,
 * little-endian on every host (TUNSETVNETLE; see dataplane/offload.h). The
 * kernel is offered checksum offload and TCP and UDP segmentation
 * (TUNSETOFFLOAD CSUM|TSO4|TSO6|USO4|USO6, without USO before Linux 6.2),
 * so reads may be GSO super-packets of up to 64 KiB and packets with a
 * partial checksum; gso_max_segs is set to OFFLOAD_MAX_SEGS so no read
 * needs more segments than offload_split makes. What the kernel refused
 * shows in t->offloads; with none taken the header stays (reads then never
 * carry GSO or a partial checksum, and writes may still be GSO). If the
 * header itself cannot be set up, the device is reopened plain.
 *
 * Ownership: struct tun owns the fd and a netlink socket. The fd is handed
 * to forward for packet I/O but stays owned here. Loop thread only.
 */
#ifndef RAYFISH_DATAPLANE_TUN_H
#define RAYFISH_DATAPLANE_TUN_H

#include <linux/if_tun.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dataplane/netlink.h"

#define TUN_DEFAULT_NAME "ray0"
#define TUN_DEFAULT_MTU 1280
#define TUN_MAX_V4 64    /* IPv4 addresses: one per joined network */
#define TUN_V4_PREFIX 10 /* 100.64.0.0/10 */

/* Bookworm's uapi if_tun.h predates USO (Linux 6.2). */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

/* tun_open flags */
#define TUN_OPEN_OFFLOAD 0x1 /* vnet header and offloads, see above */

struct tun {
	int fd;
	unsigned ifindex;
	unsigned mtu;
	char name[IF_NAMESIZE];
	struct netlink nl;
	uint32_t v4[TUN_MAX_V4]; /* host order */
	unsigned n_v4;
	uint8_t v6[16];
	int has_v6;
	int has_route6;
	int vnet_hdr;      /* reads and writes carry the vnet header */
	unsigned offloads; /* TUN_F_* bits TUNSETOFFLOAD took */
};

/*
 * Opens the device `name` (NULL: "ray0") with MTU `mtu` (0: 1280), up, with
 * the 200::/7 route; `flags`: TUN_OPEN_* (0: plain packets). Offloads the
 * kernel refuses are not an error (see t->vnet_hdr, t->offloads). Errors: -EINVAL for a bad name, -EBUSY when another
 * process holds a device of that name, -EEXIST when the name belongs to an
 * interface that is not a TUN, -EPERM without CAP_NET_ADMIN, other -errno.
 * On failure nothing is left behind and t->fd is -1.
 */
int tun_open(struct tun *t, const char *name, unsigned mtu, unsigned flags);

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

/* One packet I/O on the non-blocking fd: bytes moved or -errno (-EAGAIN).
 * With t->vnet_hdr, tun_read returns what the fd gives, the vnet header
 * first (counted); tun_write writes one plain, fully checksummed packet
 * behind an all-zero header (not counted). */
ssize_t tun_read(struct tun *t, uint8_t *buf, size_t cap);
ssize_t tun_write(struct tun *t, const uint8_t *pkt, size_t len);

#endif
