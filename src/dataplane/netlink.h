/*
 * netlink: the few rtnetlink requests the TUN device needs, over libmnl.
 *
 * Every change is one synchronous request answered by a kernel ACK; a
 * refusal comes back as -errno (-EEXIST for an address or route that is
 * already there, -ENODEV for a vanished link, -EPERM without CAP_NET_ADMIN).
 * The dump calls let the daemon (and the tests) see what is installed.
 * Addresses are passed as raw bytes: 4 (struct in_addr) for AF_INET, 16
 * (struct in6_addr) for AF_INET6, both in network order.
 *
 * Ownership: struct netlink owns its socket and receive buffer; netlink_close
 * releases both. Blocking, single-threaded: call it from the loop thread only
 * for configuration, never on the packet path.
 */
#ifndef RAYFISH_DATAPLANE_NETLINK_H
#define RAYFISH_DATAPLANE_NETLINK_H

#include <net/if.h>
#include <stdint.h>

struct mnl_socket;

struct netlink {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	uint8_t *buf; /* receive buffer, NETLINK_BUF_SIZE bytes */
};

struct netlink_link {
	unsigned ifindex;
	unsigned flags; /* IFF_UP, IFF_RUNNING, ... */
	unsigned mtu;
	unsigned gso_max_segs; /* 0 when the kernel does not say */
	char name[IF_NAMESIZE];
};

struct netlink_addr {
	int family;
	unsigned ifindex;
	unsigned prefix;
	uint32_t flags; /* IFA_F_*, from IFA_FLAGS when present */
	uint8_t addr[16];
};

struct netlink_route {
	int family;
	unsigned oif; /* 0 when the route has no output interface */
	unsigned dst_len;
	uint32_t table;
	uint8_t dst[16];
};

int netlink_open(struct netlink *nl);
void netlink_close(struct netlink *nl);

int netlink_link_set_up(struct netlink *nl, unsigned ifindex, int up);
int netlink_link_set_mtu(struct netlink *nl, unsigned ifindex, unsigned mtu);
/* Deleting an IPv4 address normally deletes every other address of the
 * same subnet with it; with this set the next one is promoted instead. */
int netlink_link_set_promote_secondaries(struct netlink *nl, unsigned ifindex);
/* The most segments one GSO packet handed to the device may have (the
 * kernel segments larger ones in software first). */
int netlink_link_set_gso_max_segs(struct netlink *nl, unsigned ifindex, unsigned segs);
int netlink_link_get(struct netlink *nl, unsigned ifindex, struct netlink_link *out);

/* IPv6 addresses are added with IFA_F_NODAD so they are usable at once. */
int netlink_addr_add(struct netlink *nl, unsigned ifindex, int family, const void *addr,
		     unsigned prefix);
int netlink_addr_del(struct netlink *nl, unsigned ifindex, int family, const void *addr,
		     unsigned prefix);

/* Unicast route dst/prefix via the device in the main table. For IPv6 the
 * link must already be up: the kernel refuses the route on a down link. */
int netlink_route_add(struct netlink *nl, unsigned ifindex, int family, const void *dst,
		      unsigned prefix);
int netlink_route_del(struct netlink *nl, unsigned ifindex, int family, const void *dst,
		      unsigned prefix);

/* Calls cb for each address of `family` on ifindex (0: every interface).
 * A non-zero return from cb stops the walk (the dump is still drained) and
 * is returned; else 0 or -errno. */
int netlink_addr_dump(struct netlink *nl, int family, unsigned ifindex,
		      int (*cb)(const struct netlink_addr *a, void *ud), void *ud);
/* Calls cb for each route of `family` in every table; returns as above. */
int netlink_route_dump(struct netlink *nl, int family,
		       int (*cb)(const struct netlink_route *r, void *ud), void *ud);

#endif
