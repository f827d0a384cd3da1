/*
 * netlink: see netlink.h. Each request carries its own sequence number and
 * NLM_F_ACK; nl_request drains replies until the kernel's ACK, NLMSG_DONE or
 * error message for that sequence, so the socket never holds stale replies.
 * Replies are hostile-input-checked like anything else: attribute lengths are
 * validated before an address is copied out.
 */
#include "dataplane/netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* Large enough for one kernel dump batch (it sizes them to our reads). */
#define NETLINK_BUF_SIZE 32768
#define REQ_SIZE 512

union nl_req {
	struct nlmsghdr hdr;
	uint8_t buf[REQ_SIZE];
};

static int addr_len(int family)
{
	if (family == AF_INET)
		return 4;
	if (family == AF_INET6)
		return 16;
	return -EAFNOSUPPORT;
}

int netlink_open(struct netlink *nl)
{
	int rc;

	memset(nl, 0, sizeof(*nl));
	nl->buf = malloc(NETLINK_BUF_SIZE);
	if (!nl->buf)
		return -ENOMEM;
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock) {
		rc = -errno;
		goto fail;
	}
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto fail;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (uint32_t)time(NULL);
	return 0;
fail:
	netlink_close(nl);
	return rc;
}

void netlink_close(struct netlink *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl->buf);
	memset(nl, 0, sizeof(*nl));
}

static int nl_request(struct netlink *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	uint32_t seq = ++nl->seq;

	nlh->nlmsg_seq = seq;
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, NETLINK_BUF_SIZE);
		int rc;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		errno = 0;
		rc = mnl_cb_run(nl->buf, (size_t)n, seq, nl->portid, cb, data);
		if (rc == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

static struct nlmsghdr *req_start(union nl_req *req, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	memset(req, 0, sizeof(*req));
	nlh = mnl_nlmsg_put_header(req->buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	return nlh;
}

static int link_change(struct netlink *nl, unsigned ifindex, unsigned flags, unsigned change,
		       unsigned mtu)
{
	union nl_req req;
	struct nlmsghdr *nlh = req_start(&req, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	ifi->ifi_flags = flags;
	ifi->ifi_change = change;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nl_request(nl, nlh, NULL, NULL);
}

int netlink_link_set_up(struct netlink *nl, unsigned ifindex, int up)
{
	return link_change(nl, ifindex, up ? IFF_UP : 0, IFF_UP, 0);
}

int netlink_link_set_mtu(struct netlink *nl, unsigned ifindex, unsigned mtu)
{
	if (mtu == 0)
		return -EINVAL;
	return link_change(nl, ifindex, 0, 0, mtu);
}

int netlink_link_set_gso_max_segs(struct netlink *nl, unsigned ifindex, unsigned segs)
{
	union nl_req req;
	struct nlmsghdr *nlh = req_start(&req, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	if (segs == 0)
		return -EINVAL;
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	mnl_attr_put_u32(nlh, IFLA_GSO_MAX_SEGS, segs);
	return nl_request(nl, nlh, NULL, NULL);
}

int netlink_link_set_promote_secondaries(struct netlink *nl, unsigned ifindex)
{
	union nl_req req;
	struct nlmsghdr *nlh = req_start(&req, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct nlattr *spec, *inet, *conf;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	inet = mnl_attr_nest_start(nlh, AF_INET);
	conf = mnl_attr_nest_start(nlh, IFLA_INET_CONF);
	mnl_attr_put_u32(nlh, IPV4_DEVCONF_PROMOTE_SECONDARIES, 1);
	mnl_attr_nest_end(nlh, conf);
	mnl_attr_nest_end(nlh, inet);
	mnl_attr_nest_end(nlh, spec);
	return nl_request(nl, nlh, NULL, NULL);
}

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if ((type == IFLA_MTU || type == IFLA_GSO_MAX_SEGS) &&
	    mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		tb[type] = attr;
	if (type == IFLA_IFNAME && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int link_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct netlink_link *out = data;
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 };
	const struct ifinfomsg *ifi;

	if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return MNL_CB_OK;
	ifi = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	out->ifindex = (unsigned)ifi->ifi_index;
	out->flags = ifi->ifi_flags;
	if (tb[IFLA_MTU])
		out->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_GSO_MAX_SEGS])
		out->gso_max_segs = mnl_attr_get_u32(tb[IFLA_GSO_MAX_SEGS]);
	if (tb[IFLA_IFNAME]) {
		strncpy(out->name, mnl_attr_get_str(tb[IFLA_IFNAME]), sizeof(out->name) - 1);
		out->name[sizeof(out->name) - 1] = '\0';
	}
	return MNL_CB_OK;
}

int netlink_link_get(struct netlink *nl, unsigned ifindex, struct netlink_link *out)
{
	union nl_req req;
	struct nlmsghdr *nlh = req_start(&req, RTM_GETLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	int rc;

	memset(out, 0, sizeof(*out));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	if ((rc = nl_request(nl, nlh, link_msg_cb, out)) < 0)
		return rc;
	return out->ifindex == ifindex ? 0 : -ENODEV;
}

static int addr_change(struct netlink *nl, uint16_t type, uint16_t flags, unsigned ifindex,
		       int family, const void *addr, unsigned prefix)
{
	union nl_req req;
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	int alen = addr_len(family);

	if (alen < 0)
		return alen;
	if (prefix > (unsigned)alen * 8 || ifindex == 0)
		return -EINVAL;
	nlh = req_start(&req, type, flags);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = (uint8_t)prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	if (family == AF_INET6) {
		/* skip duplicate address detection: the address must work the
		 * moment the daemon reports it, and a TUN has no neighbours */
		ifa->ifa_flags = IFA_F_NODAD;
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	} else {
		mnl_attr_put(nlh, IFA_LOCAL, (size_t)alen, addr);
	}
	mnl_attr_put(nlh, IFA_ADDRESS, (size_t)alen, addr);
	return nl_request(nl, nlh, NULL, NULL);
}

int netlink_addr_add(struct netlink *nl, unsigned ifindex, int family, const void *addr,
		     unsigned prefix)
{
	return addr_change(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, family, addr,
			   prefix);
}

int netlink_addr_del(struct netlink *nl, unsigned ifindex, int family, const void *addr,
		     unsigned prefix)
{
	return addr_change(nl, RTM_DELADDR, 0, ifindex, family, addr, prefix);
}

static int route_change(struct netlink *nl, uint16_t type, uint16_t flags, unsigned ifindex,
			int family, const void *dst, unsigned prefix)
{
	union nl_req req;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int alen = addr_len(family);

	if (alen < 0)
		return alen;
	if (prefix > (unsigned)alen * 8 || ifindex == 0)
		return -EINVAL;
	nlh = req_start(&req, type, flags);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = (uint8_t)prefix;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, (size_t)alen, dst);
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	return nl_request(nl, nlh, NULL, NULL);
}

int netlink_route_add(struct netlink *nl, unsigned ifindex, int family, const void *dst,
		      unsigned prefix)
{
	return route_change(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, ifindex, family, dst,
			    prefix);
}

int netlink_route_del(struct netlink *nl, unsigned ifindex, int family, const void *dst,
		      unsigned prefix)
{
	return route_change(nl, RTM_DELROUTE, 0, ifindex, family, dst, prefix);
}

/* State of one dump: the user callback, and whether it asked to stop. */
struct dump_ctx {
	int (*addr_cb)(const struct netlink_addr *, void *);
	int (*route_cb)(const struct netlink_route *, void *);
	void *ud;
	unsigned ifindex;
	int family;
	int stopped; /* the callback's non-zero answer */
};

static int dump_finish(int rc, const struct dump_ctx *ctx)
{
	return rc < 0 ? rc : ctx->stopped;
}

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type == IFA_ADDRESS || type == IFA_LOCAL)
		tb[type] = attr;
	else if (type == IFA_FLAGS && mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int addr_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *ctx = data;
	const struct nlattr *tb[IFA_MAX + 1] = { 0 };
	const struct nlattr *a;
	const struct ifaddrmsg *ifa;
	struct netlink_addr out;
	int alen;

	if (ctx->stopped || nlh->nlmsg_type != RTM_NEWADDR ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return MNL_CB_OK;
	ifa = mnl_nlmsg_get_payload(nlh);
	if (ifa->ifa_family != ctx->family || (ctx->ifindex && ifa->ifa_index != ctx->ifindex))
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	/* IFA_LOCAL is our own address on point-to-point links */
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	alen = addr_len(ifa->ifa_family);
	if (!a || mnl_attr_get_payload_len(a) != (uint16_t)alen)
		return MNL_CB_OK;
	memset(&out, 0, sizeof(out));
	out.family = ifa->ifa_family;
	out.ifindex = ifa->ifa_index;
	out.prefix = ifa->ifa_prefixlen;
	out.flags = tb[IFA_FLAGS] ? mnl_attr_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
	memcpy(out.addr, mnl_attr_get_payload(a), (size_t)alen);
	ctx->stopped = ctx->addr_cb(&out, ctx->ud);
	return MNL_CB_OK;
}

int netlink_addr_dump(struct netlink *nl, int family, unsigned ifindex,
		      int (*cb)(const struct netlink_addr *a, void *ud), void *ud)
{
	union nl_req req;
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	struct dump_ctx ctx = { .addr_cb = cb, .ud = ud, .ifindex = ifindex, .family = family };

	if (addr_len(family) < 0)
		return -EAFNOSUPPORT;
	nlh = req_start(&req, RTM_GETADDR, NLM_F_DUMP);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	return dump_finish(nl_request(nl, nlh, addr_msg_cb, &ctx), &ctx);
}

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type == RTA_DST)
		tb[type] = attr;
	else if ((type == RTA_OIF || type == RTA_TABLE) &&
		 mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int route_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *ctx = data;
	const struct nlattr *tb[RTA_MAX + 1] = { 0 };
	const struct rtmsg *rtm;
	struct netlink_route out;
	int alen;

	if (ctx->stopped || nlh->nlmsg_type != RTM_NEWROUTE ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return MNL_CB_OK;
	rtm = mnl_nlmsg_get_payload(nlh);
	if (rtm->rtm_family != ctx->family)
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	alen = addr_len(rtm->rtm_family);
	memset(&out, 0, sizeof(out));
	out.family = rtm->rtm_family;
	out.dst_len = rtm->rtm_dst_len;
	out.table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	out.oif = tb[RTA_OIF] ? mnl_attr_get_u32(tb[RTA_OIF]) : 0;
	if (tb[RTA_DST]) {
		if (mnl_attr_get_payload_len(tb[RTA_DST]) != (uint16_t)alen)
			return MNL_CB_OK;
		memcpy(out.dst, mnl_attr_get_payload(tb[RTA_DST]), (size_t)alen);
	}
	ctx->stopped = ctx->route_cb(&out, ctx->ud);
	return MNL_CB_OK;
}

int netlink_route_dump(struct netlink *nl, int family,
		       int (*cb)(const struct netlink_route *r, void *ud), void *ud)
{
	union nl_req req;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	struct dump_ctx ctx = { .route_cb = cb, .ud = ud, .family = family };

	if (addr_len(family) < 0)
		return -EAFNOSUPPORT;
	nlh = req_start(&req, RTM_GETROUTE, NLM_F_DUMP);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	return dump_finish(nl_request(nl, nlh, route_msg_cb, &ctx), &ctx);
}
