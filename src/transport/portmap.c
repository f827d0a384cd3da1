/*
 * portmap: PCP, NAT-PMP and UPnP IGD mapping of our UDP port, renewed at
 * half-life and deleted at close. The blocking calls run on the libuv
 * worker pool, one job at a time; see portmap.h for the contract.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <natpmp.h>
#include <sodium.h>
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

#include "transport/pcp.h"
#include "transport/portmap.h"
#include "util/log.h"

#define PERMANENT_RECHECK_MS (30 * 60 * 1000ull)
#define RENEW_MIN_MS 1000ull
#define RENEW_MAX_MS (12 * 3600 * 1000ull)
#define UPNP_NO_SUCH_ENTRY 714
#define UPNP_CONFLICT 718
#define UPNP_ONLY_PERMANENT 725
#define UPNP_OTHER_MECHANISM 729
/*
 * RFC 6887 retransmits from 3 s on; a gateway on the LAN answers within
 * milliseconds and the whole exchange has natpmp_ms, so PCP resends on
 * NAT-PMP's schedule (250 ms, doubling) instead.
 */
#define PCP_RESEND_MS 250
#define REASON_PART 80

enum pm_op {
	PM_MAP,
	PM_RENEW,
	PM_UNMAP
};

/* The UPnP session found by discovery, reused for renewal and deletion. */
struct pm_igd {
	struct UPNPUrls urls;
	struct IGDdatas data;
	char lanaddr[64];
};

/*
 * One request for the worker. The inputs are copied in and the igd session
 * is moved in, so the worker touches nothing the loop thread can see.
 */
struct pm_job {
	uv_work_t req;
	struct portmap *pm;
	enum pm_op op;
	unsigned methods;
	enum portmap_method method; /* RENEW/UNMAP: of the live mapping */
	uint16_t iport, eport;      /* eport 0: ask for iport */
	uint32_t lifetime_s, natpmp_ms, discover_ms;
	char desc[PORTMAP_DESC_LEN];
	struct pm_igd *igd;
	uint8_t nonce[PCP_NONCE_LEN];
	struct in_addr ext_hint; /* RENEW/UNMAP: the mapped address */

	int err;
	enum portmap_method got;
	struct in_addr ext_ip;
	uint16_t ext_port;
	uint32_t lease_s;
	char gateway[PORTMAP_GATEWAY_LEN];
	char reason[PORTMAP_REASON_LEN];
};

struct portmap {
	uv_loop_t *loop;
	uv_timer_t timer;
	struct portmap_events ev;
	struct portmap_opts opts;
	char desc[PORTMAP_DESC_LEN];
	struct portmap_state st;
	uint16_t eport;
	uint8_t nonce[PCP_NONCE_LEN]; /* PCP: proves the mapping is ours */
	struct pm_igd *igd;           /* NULL while a job holds it */
	struct pm_job *job;           /* in flight */
	int closing, finished;
	void (*done)(void *);
	void *done_arg;
};

static int pm_queue(struct portmap *pm, enum pm_op op);

const char *portmap_method_name(enum portmap_method m)
{
	switch (m) {
	case PORTMAP_PCP:
		return "pcp";
	case PORTMAP_NATPMP:
		return "natpmp";
	case PORTMAP_UPNP:
		return "upnp";
	default:
		return "none";
	}
}

/* ---- strict parsers ---- */

int portmap_parse_port(const char *s, uint16_t *out)
{
	unsigned long v = 0;
	size_t i;

	if (s == NULL || s[0] == '\0')
		return -EINVAL;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 5)
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static int ipv4_usable(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);

	return h != 0 && h != 0xffffffffu && (h >> 28) != 0xe;
}

int portmap_addr_is_private(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);

	return (h >> 24) == 10 || (h >> 20) == 0xac1 || (h >> 16) == 0xc0a8 ||
	       (h >> 22) == (0x64400000u >> 22);
}

int portmap_parse_ipv4(const char *s, struct in_addr *out)
{
	struct in_addr a;

	if (s == NULL || strnlen(s, INET_ADDRSTRLEN) >= INET_ADDRSTRLEN)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &a) != 1 || !ipv4_usable(a))
		return -EINVAL;
	*out = a;
	return 0;
}

uint64_t portmap_renew_delay_ms(uint32_t lease_s)
{
	uint64_t ms;

	if (lease_s == 0)
		return PERMANENT_RECHECK_MS;
	ms = (uint64_t)lease_s * 500;
	if (ms < RENEW_MIN_MS)
		return RENEW_MIN_MS;
	if (ms > RENEW_MAX_MS)
		return RENEW_MAX_MS;
	return ms;
}

/* ---- worker side ---- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Routers send free text; keep printable ASCII only. */
static void copy_printable(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < size && src[i] != '\0'; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

static int job_fail(struct pm_job *j, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->reason, sizeof(j->reason), fmt, ap);
	va_end(ap);
	j->err = err;
	return err;
}

static const char *natpmp_text(int rc)
{
	switch (rc) {
	case NATPMP_ERR_CANNOTGETGATEWAY:
		return "no default gateway";
	case NATPMP_ERR_SOCKETERROR:
	case NATPMP_ERR_CONNECTERR:
	case NATPMP_ERR_FCNTLERROR:
		return "cannot open a socket to the gateway";
	case NATPMP_ERR_SENDERR:
		return "send to the gateway failed";
	case NATPMP_ERR_RECVFROM:
		return "gateway unreachable (nothing listens on port 5351)";
	case NATPMP_ERR_NOGATEWAYSUPPORT:
		return "gateway does not answer NAT-PMP";
	case NATPMP_ERR_WRONGPACKETSOURCE:
		return "answer from a host that is not the gateway";
	case NATPMP_ERR_UNSUPPORTEDVERSION:
	case NATPMP_ERR_UNSUPPORTEDOPCODE:
		return "gateway does not support the request";
	case NATPMP_ERR_NOTAUTHORIZED:
		return "gateway refused the mapping";
	case NATPMP_ERR_NETWORKFAILURE:
		return "gateway has no public address";
	case NATPMP_ERR_OUTOFRESOURCES:
		return "gateway is out of ports";
	default:
		return "NAT-PMP error";
	}
}

static int natpmp_errno(int rc, int saved_errno)
{
	switch (rc) {
	case NATPMP_ERR_CANNOTGETGATEWAY:
		return -ENETUNREACH;
	case NATPMP_ERR_RECVFROM:
	case NATPMP_ERR_SENDERR:
	case NATPMP_ERR_SOCKETERROR:
	case NATPMP_ERR_CONNECTERR:
		return saved_errno > 0 ? -saved_errno : -EIO;
	case NATPMP_ERR_NOGATEWAYSUPPORT:
		/* libnatpmp also says this for an ICMP port unreachable. */
		return saved_errno == ECONNREFUSED ? -ECONNREFUSED : -ETIMEDOUT;
	case NATPMP_ERR_UNSUPPORTEDVERSION:
	case NATPMP_ERR_UNSUPPORTEDOPCODE:
		return -EOPNOTSUPP;
	case NATPMP_ERR_NOTAUTHORIZED:
		return -EACCES;
	case NATPMP_ERR_NETWORKFAILURE:
		return -ENETDOWN;
	case NATPMP_ERR_OUTOFRESOURCES:
		return -ENOSPC;
	default:
		return -EIO;
	}
}

/*
 * Waits for the answer to the pending request; libnatpmp retransmits on its
 * RFC 6886 schedule (250 ms doubling), we stop at the deadline. A slow
 * gateway answers each copy of the public-address request, and libnatpmp
 * hands the late copy over as the answer to the mapping request that
 * follows: an answer of another type is skipped, and the request stays
 * pending (libnatpmp forgets it on any answer).
 */
static int natpmp_wait(struct pm_job *j, natpmp_t *n, natpmpresp_t *r, uint16_t type)
{
	uint64_t deadline = mono_ms() + j->natpmp_ms, now;
	struct timeval tv;
	struct pollfd pfd;
	int skipped = -1;
	int64_t wait;
	int rc;

	for (;;) {
		errno = 0;
		rc = readnatpmpresponseorretry(n, r);
		if (rc == 0 && r->type == type)
			return 0;
		if (rc == 0) {
			skipped = r->type;
			n->has_pending_request = 1;
		} else if (rc != NATPMP_TRYAGAIN) {
			return job_fail(j, natpmp_errno(rc, errno), "nat-pmp: %s", natpmp_text(rc));
		}
		now = mono_ms();
		if (now >= deadline && skipped >= 0)
			return job_fail(j, -EPROTO,
					"nat-pmp: answer of type %d to a request of type %u",
					skipped, type);
		if (now >= deadline)
			return job_fail(j, -ETIMEDOUT,
					"nat-pmp: no answer from the gateway in %u ms",
					j->natpmp_ms);
		wait = (int64_t)(deadline - now);
		if (getnatpmprequesttimeout(n, &tv) == 0) {
			int64_t t = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;

			if (t < 0)
				t = 0;
			if (t < wait)
				wait = t;
		}
		pfd.fd = n->s;
		pfd.events = POLLIN;
		poll(&pfd, 1, (int)wait + 1);
	}
}

static int natpmp_public(struct pm_job *j, natpmp_t *n)
{
	natpmpresp_t r;
	int rc;

	rc = sendpublicaddressrequest(n);
	if (rc < 0)
		return job_fail(j, natpmp_errno(rc, errno), "nat-pmp: %s", natpmp_text(rc));
	rc = natpmp_wait(j, n, &r, NATPMP_RESPTYPE_PUBLICADDRESS);
	if (rc < 0)
		return rc;
	if (!ipv4_usable(r.pnu.publicaddress.addr))
		return job_fail(j, -EPROTO, "nat-pmp: gateway reported an unusable public address");
	j->ext_ip = r.pnu.publicaddress.addr;
	return 0;
}

static int natpmp_mapping(struct pm_job *j, natpmp_t *n)
{
	uint32_t life = j->op == PM_UNMAP ? 0 : j->lifetime_s;
	uint16_t want = j->op == PM_UNMAP ? 0 : (j->eport ? j->eport : j->iport);
	natpmpresp_t r;
	int rc;

	rc = sendnewportmappingrequest(n, NATPMP_PROTOCOL_UDP, j->iport, want, life);
	if (rc < 0)
		return job_fail(j, natpmp_errno(rc, errno), "nat-pmp: %s", natpmp_text(rc));
	rc = natpmp_wait(j, n, &r, NATPMP_RESPTYPE_UDPPORTMAPPING);
	if (rc < 0)
		return rc;
	if (r.pnu.newportmapping.privateport != j->iport)
		return job_fail(j, -EPROTO, "nat-pmp: answer for internal port %u, not %u",
				r.pnu.newportmapping.privateport, j->iport);
	if (j->op == PM_UNMAP)
		return 0;
	if (r.pnu.newportmapping.mappedpublicport == 0 || r.pnu.newportmapping.lifetime == 0)
		return job_fail(j, -EPROTO, "nat-pmp: gateway granted port %u for %u s",
				r.pnu.newportmapping.mappedpublicport,
				r.pnu.newportmapping.lifetime);
	j->ext_port = r.pnu.newportmapping.mappedpublicport;
	j->lease_s = r.pnu.newportmapping.lifetime;
	return 0;
}

static int natpmp_run(struct pm_job *j)
{
	natpmp_t n;
	struct in_addr gw;
	int rc;

	rc = initnatpmp(&n, 0, 0);
	if (rc < 0)
		return job_fail(j, natpmp_errno(rc, errno), "nat-pmp: %s", natpmp_text(rc));
	gw.s_addr = n.gateway;
	inet_ntop(AF_INET, &gw, j->gateway, sizeof(j->gateway));
	if (j->op != PM_UNMAP) {
		rc = natpmp_public(j, &n);
		if (rc < 0)
			goto out;
	}
	rc = natpmp_mapping(j, &n);
	if (rc == 0)
		j->got = PORTMAP_NATPMP;
out:
	closenatpmp(&n);
	return rc;
}

/* ---- PCP (RFC 6887) ---- */

static int pcp_fail(struct pm_job *j, int err, const struct pcp_reply *rep)
{
	switch (err) {
	case -ETIMEDOUT:
		return job_fail(j, err, "pcp: no answer from the gateway in %u ms", j->natpmp_ms);
	case -ECONNREFUSED:
		return job_fail(j, err, "pcp: gateway unreachable (nothing listens on port 5351)");
	case -EPROTONOSUPPORT:
		return job_fail(j, err, "pcp: gateway does not speak PCP (UNSUPP_VERSION)");
	case -EBADMSG:
		if (rep->result != PCP_MALFORMED_OPTION)
			return job_fail(j, err, "pcp: malformed answer from the gateway");
		break;
	case -EPROTO:
		if (rep->result == PCP_SUCCESS)
			return job_fail(j, err,
					"pcp: the gateway's answer is "
					"not a usable MAP response");
		break;
	}
	if (rep->result != PCP_SUCCESS)
		return job_fail(j, err, "pcp: gateway answered %s (%u)",
				pcp_result_name(rep->result), rep->result);
	return job_fail(j, err, "pcp: %s", strerror(-err));
}

/* Our address as the gateway sees it: PCP carries it in the header. */
static int pcp_local_addr(int fd, struct in_addr *self)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		return -errno;
	if (sin.sin_family != AF_INET || sin.sin_addr.s_addr == 0)
		return -EADDRNOTAVAIL;
	*self = sin.sin_addr;
	return 0;
}

static void pcp_request(const struct pm_job *j, struct pcp_map *req)
{
	memset(req, 0, sizeof(*req));
	memcpy(req->nonce, j->nonce, sizeof(req->nonce));
	req->protocol = PCP_PROTO_UDP;
	req->internal_port = j->iport;
	if (j->op == PM_UNMAP) {
		req->external_port = j->eport;
		req->external = j->ext_hint;
		return;
	}
	/* Section 11.2: a renewal suggests what it was given. */
	req->external_port = j->eport ? j->eport : j->iport;
	req->external = j->ext_hint;
	req->lifetime_s = j->lifetime_s < PCP_LIFETIME_MAX ? j->lifetime_s : PCP_LIFETIME_MAX;
}

/*
 * Sends q until an answer to it arrives or natpmp_ms pass. The socket is
 * connected to the gateway, so only its datagrams (and its ICMP errors)
 * come back; answers to another request (-ENOMSG) are skipped.
 */
static int pcp_exchange(struct pm_job *j, int fd, const uint8_t *q, size_t qlen,
			const struct pcp_map *req, struct pcp_reply *rep)
{
	uint64_t deadline = mono_ms() + j->natpmp_ms, next = 0, now, until;
	uint8_t buf[PCP_MAX_LEN + 4];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t gap = PCP_RESEND_MS;
	ssize_t n;
	int rc;

	memset(rep, 0, sizeof(*rep));
	for (;;) {
		now = mono_ms();
		if (now >= deadline)
			return pcp_fail(j, -ETIMEDOUT, rep);
		if (now >= next) {
			if (send(fd, q, qlen, 0) < 0 && errno != EAGAIN && errno != EINTR)
				return pcp_fail(j, -errno, rep);
			next = now + gap;
			gap *= 2;
		}
		until = next < deadline ? next : deadline;
		if (poll(&pfd, 1, (int)(until - now)) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return pcp_fail(j, -errno, rep);
		}
		rc = pcp_map_parse(buf, (size_t)n, req, rep);
		if (rc != -ENOMSG)
			return rc < 0 ? pcp_fail(j, rc, rep) : 0;
	}
}

static int pcp_run(struct pm_job *j)
{
	uint8_t q[PCP_MAP_LEN];
	struct pcp_reply rep;
	struct pcp_map req;
	struct in_addr gw, self;
	natpmp_t n;
	int rc;

	/* libnatpmp finds the gateway and connects a socket to its 5351. */
	rc = initnatpmp(&n, 0, 0);
	if (rc < 0)
		return job_fail(j, natpmp_errno(rc, errno), "pcp: %s", natpmp_text(rc));
	gw.s_addr = n.gateway;
	inet_ntop(AF_INET, &gw, j->gateway, sizeof(j->gateway));
	rc = pcp_local_addr(n.s, &self);
	if (rc < 0) {
		job_fail(j, rc, "pcp: no local address towards the gateway");
		goto out;
	}
	pcp_request(j, &req);
	rc = pcp_map_encode(q, sizeof(q), self, &req);
	if (rc < 0) {
		job_fail(j, rc, "pcp: cannot encode the request");
		goto out;
	}
	rc = pcp_exchange(j, n.s, q, (size_t)rc, &req, &rep);
	if (rc < 0)
		goto out;
	j->got = PORTMAP_PCP;
	if (j->op != PM_UNMAP) {
		j->ext_ip = rep.map.external;
		j->ext_port = rep.map.external_port;
		j->lease_s = rep.map.lifetime_s;
	}
out:
	closenatpmp(&n);
	return rc;
}

static int upnp_errno(int rc)
{
	switch (rc) {
	case UPNPCOMMAND_HTTP_ERROR:
		return -EHOSTUNREACH;
	case UPNPCOMMAND_INVALID_RESPONSE:
		return -EBADMSG;
	case UPNPCOMMAND_MEM_ALLOC_ERROR:
		return -ENOMEM;
	case 606:
		return -EACCES;
	case UPNP_CONFLICT:
	case UPNP_OTHER_MECHANISM:
		return -EADDRINUSE;
	case 728:
		return -ENOSPC;
	default:
		return rc < 0 ? -EIO : -EPROTO;
	}
}

static int upnp_fail(struct pm_job *j, const char *what, int rc)
{
	const char *s = strupnperror(rc);

	return job_fail(j, upnp_errno(rc), "upnp: %s: %s (%d)", what, s ? s : "error", rc);
}

static int upnp_discover(struct pm_job *j)
{
	struct UPNPDev *devs;
	struct pm_igd *igd;
	struct in_addr lan;
	int err = 0, r;

	devs = upnpDiscover((int)j->discover_ms, NULL, NULL, UPNP_LOCAL_PORT_ANY, 0, 2, &err);
	if (devs == NULL)
		return job_fail(j, -EHOSTUNREACH,
				"upnp: no device answered the SSDP search in %u ms",
				j->discover_ms);
	igd = calloc(1, sizeof(*igd));
	if (igd == NULL) {
		freeUPNPDevlist(devs);
		return job_fail(j, -ENOMEM, "upnp: out of memory");
	}
	r = UPNP_GetValidIGD(devs, &igd->urls, &igd->data, igd->lanaddr, sizeof(igd->lanaddr));
	freeUPNPDevlist(devs);
	if (r == 3)
		FreeUPNPUrls(&igd->urls);
	/*
	 * 2 is an IGD that is either not connected or whose external address
	 * is private or reserved (double NAT, or a lab): still worth asking,
	 * GetExternalIPAddress and AddPortMapping fail when it is really down.
	 */
	if (r != 1 && r != 2) {
		free(igd);
		return job_fail(j, -ENODEV, "upnp: %s",
				r == 3 ? "no answering device is an IGD" : "no IGD found");
	}
	igd->lanaddr[sizeof(igd->lanaddr) - 1] = '\0';
	if (portmap_parse_ipv4(igd->lanaddr, &lan) < 0 || igd->urls.controlURL == NULL) {
		FreeUPNPUrls(&igd->urls);
		free(igd);
		return job_fail(j, -EPROTO, "upnp: unusable IGD description");
	}
	j->igd = igd;
	return 0;
}

static int upnp_add(struct pm_job *j, uint16_t eport, uint32_t lease)
{
	char es[8], is[8], ls[12];

	snprintf(es, sizeof(es), "%u", eport);
	snprintf(is, sizeof(is), "%u", j->iport);
	snprintf(ls, sizeof(ls), "%u", lease);
	return UPNP_AddPortMapping(j->igd->urls.controlURL, j->igd->data.first.servicetype, es, is,
				   j->igd->lanaddr, j->desc, "UDP", NULL, ls);
}

/* Lets the IGD pick the external port after a conflict on ours. */
static int upnp_add_any(struct pm_job *j, uint32_t lease, uint16_t *eport)
{
	char is[8], ls[12], got[16];
	int rc;

	memset(got, 0, sizeof(got));
	snprintf(is, sizeof(is), "%u", j->iport);
	snprintf(ls, sizeof(ls), "%u", lease);
	rc = UPNP_AddAnyPortMapping(j->igd->urls.controlURL, j->igd->data.first.servicetype, is, is,
				    j->igd->lanaddr, j->desc, "UDP", NULL, ls, got);
	if (rc != 0)
		return rc;
	got[sizeof(got) - 1] = '\0';
	if (portmap_parse_port(got, eport) < 0)
		return UPNPCOMMAND_INVALID_RESPONSE;
	return 0;
}

static int upnp_map(struct pm_job *j)
{
	uint16_t eport = j->eport ? j->eport : j->iport;
	uint32_t lease = j->lifetime_s;
	char ext[64], shown[24];
	int rc;

	memset(ext, 0, sizeof(ext));
	rc = UPNP_GetExternalIPAddress(j->igd->urls.controlURL, j->igd->data.first.servicetype,
				       ext);
	if (rc != 0)
		return upnp_fail(j, "GetExternalIPAddress", rc);
	ext[sizeof(ext) - 1] = '\0';
	if (portmap_parse_ipv4(ext, &j->ext_ip) < 0) {
		copy_printable(shown, sizeof(shown), ext);
		return job_fail(j, -EPROTO, "upnp: the IGD reports external address '%s'", shown);
	}
	rc = upnp_add(j, eport, lease);
	if (rc == UPNP_ONLY_PERMANENT) {
		lease = 0;
		rc = upnp_add(j, eport, lease);
	}
	if ((rc == UPNP_CONFLICT || rc == UPNP_OTHER_MECHANISM) && j->op == PM_MAP)
		rc = upnp_add_any(j, lease, &eport);
	if (rc != 0)
		return upnp_fail(j, "AddPortMapping", rc);
	j->ext_port = eport;
	j->lease_s = lease;
	j->got = PORTMAP_UPNP;
	copy_printable(j->gateway, sizeof(j->gateway),
		       j->igd->urls.rootdescURL ? j->igd->urls.rootdescURL : "");
	return 0;
}

static int upnp_unmap(struct pm_job *j)
{
	char es[8];
	int rc;

	snprintf(es, sizeof(es), "%u", j->eport);
	rc = UPNP_DeletePortMapping(j->igd->urls.controlURL, j->igd->data.first.servicetype, es,
				    "UDP", NULL);
	if (rc != 0 && rc != UPNP_NO_SUCH_ENTRY)
		return upnp_fail(j, "DeletePortMapping", rc);
	return 0;
}

static int upnp_run(struct pm_job *j)
{
	int rc;

	if (j->igd == NULL) {
		if (j->op != PM_MAP)
			return job_fail(j, -ENODEV, "upnp: no IGD session");
		rc = upnp_discover(j);
		if (rc < 0)
			return rc;
	}
	if (j->op == PM_UNMAP)
		return upnp_unmap(j);
	return upnp_map(j);
}

static const struct {
	unsigned bit;
	int (*run)(struct pm_job *);
} map_order[] = {
	{ PORTMAP_TRY_PCP, pcp_run },
	{ PORTMAP_TRY_NATPMP, natpmp_run },
	{ PORTMAP_TRY_UPNP, upnp_run },
};

static void reason_append(char *dst, size_t size, const char *part)
{
	size_t len = strlen(dst);

	snprintf(dst + len, size - len, "%s%.*s", len ? "; " : "", REASON_PART, part);
}

/*
 * PCP, then NAT-PMP, then UPnP; the reason keeps why each method tried
 * before the one that worked (or all of them) failed, err the last one's.
 */
static void job_map(struct pm_job *j)
{
	char tried[PORTMAP_REASON_LEN] = "";
	size_t i;

	for (i = 0; i < sizeof(map_order) / sizeof(map_order[0]); i++) {
		if (!(j->methods & map_order[i].bit))
			continue;
		j->err = 0;
		j->reason[0] = '\0';
		j->gateway[0] = '\0';
		if (map_order[i].run(j) == 0)
			break;
		reason_append(tried, sizeof(tried), j->reason);
	}
	memcpy(j->reason, tried, sizeof(j->reason));
}

static void job_work(uv_work_t *req)
{
	struct pm_job *j = req->data;

	if (j->op == PM_MAP)
		job_map(j);
	else if (j->method == PORTMAP_PCP)
		pcp_run(j);
	else if (j->method == PORTMAP_NATPMP)
		natpmp_run(j);
	else
		upnp_run(j);
}

/* ---- loop side ---- */

static void igd_free(struct pm_igd *igd)
{
	if (igd == NULL)
		return;
	FreeUPNPUrls(&igd->urls);
	free(igd);
}

static void timer_closed(uv_handle_t *h)
{
	struct portmap *pm = h->data;

	igd_free(pm->igd);
	if (pm->done)
		pm->done(pm->done_arg);
	free(pm);
}

static void pm_finish(struct portmap *pm)
{
	if (pm->finished)
		return;
	pm->finished = 1;
	pm->st.method = PORTMAP_NONE;
	uv_close((uv_handle_t *)&pm->timer, timer_closed);
}

static void pm_clear(struct portmap *pm)
{
	pm->st.method = PORTMAP_NONE;
	memset(&pm->st.external, 0, sizeof(pm->st.external));
	pm->st.lease_s = 0;
	pm->st.ext_private = 0;
	pm->st.renew_at_ms = 0;
	pm->st.renewals = 0;
	pm->eport = 0;
}

static void on_timer(uv_timer_t *t);

static void pm_schedule(struct portmap *pm, uint64_t ms, int is_renewal)
{
	uv_timer_start(&pm->timer, on_timer, ms, 0);
	pm->st.renew_at_ms = is_renewal ? uv_now(pm->loop) + ms : 0;
}

static void pm_set_mapping(struct portmap *pm, const struct pm_job *j)
{
	struct sockaddr_in *sin = &pm->st.external.in;

	pm->st.method = j->got;
	memset(&pm->st.external, 0, sizeof(pm->st.external));
	sin->sin_family = AF_INET;
	sin->sin_addr = j->ext_ip;
	sin->sin_port = htons(j->ext_port);
	pm->st.lease_s = j->lease_s;
	pm->st.ext_private = portmap_addr_is_private(j->ext_ip);
	pm->eport = j->ext_port;
	memcpy(pm->st.gateway, j->gateway, sizeof(pm->st.gateway));
}

static void pm_set_error(struct portmap *pm, const struct pm_job *j)
{
	pm->st.last_error = j->err;
	memcpy(pm->st.reason, j->reason, sizeof(pm->st.reason));
}

static void emit(struct portmap *pm, int mapped)
{
	void (*fn)(void *, const struct portmap_state *);

	fn = mapped ? pm->ev.on_mapped : pm->ev.on_failed;
	if (fn)
		fn(pm->ev.ud, &pm->st);
}

static void log_mapping(const struct portmap *pm, const char *what)
{
	char a[MS_ADDR_STRLEN];

	log_info("portmap: %s %s udp %s -> :%u, lease %u s", what,
		 portmap_method_name(pm->st.method), ms_addr_fmt(&pm->st.external, a, sizeof(a)),
		 pm->st.internal_port, pm->st.lease_s);
}

static void apply_map(struct portmap *pm, struct pm_job *j)
{
	if (pm->closing) {
		if (j->err == 0 && j->got != PORTMAP_NONE) {
			pm_set_mapping(pm, j);
			if (pm_queue(pm, PM_UNMAP) == 0)
				return;
		}
		pm_finish(pm);
		return;
	}
	if (j->err != 0 || j->got == PORTMAP_NONE) {
		pm_clear(pm);
		pm_set_error(pm, j);
		log_warn("portmap: no mapping for udp :%u: %s", pm->st.internal_port,
			 pm->st.reason);
		pm_schedule(pm, (uint64_t)pm->opts.retry_s * 1000, 0);
		emit(pm, 0);
		return;
	}
	pm_clear(pm);
	pm_set_mapping(pm, j);
	pm_set_error(pm, j);
	log_mapping(pm, "mapped");
	pm_schedule(pm, portmap_renew_delay_ms(pm->st.lease_s), 1);
	emit(pm, 1);
}

static void apply_renew(struct portmap *pm, struct pm_job *j)
{
	struct sockaddr_in old = pm->st.external.in;
	enum portmap_method m = pm->st.method;

	if (pm->closing) {
		if (pm_queue(pm, PM_UNMAP) < 0)
			pm_finish(pm);
		return;
	}
	if (j->err != 0) {
		pm_set_error(pm, j);
		log_warn("portmap: renewal of %s mapping failed: %s", portmap_method_name(m),
			 pm->st.reason);
		pm_clear(pm);
		igd_free(pm->igd);
		pm->igd = NULL;
		/* The router may have rebooted: start over now. */
		if (pm_queue(pm, PM_MAP) < 0)
			pm_schedule(pm, (uint64_t)pm->opts.retry_s * 1000, 0);
		emit(pm, 0);
		return;
	}
	pm_set_mapping(pm, j);
	pm->st.renewals++;
	pm_schedule(pm, portmap_renew_delay_ms(pm->st.lease_s), 1);
	if (old.sin_addr.s_addr == j->ext_ip.s_addr && old.sin_port == htons(j->ext_port)) {
		log_debug("portmap: renewed udp :%u for %u s", pm->st.internal_port,
			  pm->st.lease_s);
		return;
	}
	log_mapping(pm, "changed");
	emit(pm, 1);
}

static void job_after(uv_work_t *req, int status)
{
	struct pm_job *j = req->data;
	struct portmap *pm = j->pm;

	pm->job = NULL;
	pm->st.busy = 0;
	pm->igd = j->igd;
	if (status == UV_ECANCELED)
		job_fail(j, -ECANCELED, "cancelled");
	if (j->op == PM_MAP) {
		apply_map(pm, j);
	} else if (j->op == PM_RENEW) {
		apply_renew(pm, j);
	} else {
		if (j->err != 0)
			log_warn("portmap: removing the mapping failed: %s", j->reason);
		else
			log_info("portmap: removed the %s mapping of udp :%u",
				 portmap_method_name(j->method), j->iport);
		pm_finish(pm);
	}
	free(j);
}

static int pm_queue(struct portmap *pm, enum pm_op op)
{
	struct pm_job *j;
	int rc;

	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -ENOMEM;
	j->req.data = j;
	j->pm = pm;
	j->op = op;
	j->methods = pm->opts.methods;
	j->method = pm->st.method;
	j->iport = pm->st.internal_port;
	j->eport = pm->eport;
	j->lifetime_s = pm->opts.lifetime_s;
	j->natpmp_ms = pm->opts.natpmp_timeout_ms;
	j->discover_ms = pm->opts.discover_ms;
	memcpy(j->desc, pm->desc, sizeof(j->desc));
	j->igd = pm->igd;
	memcpy(j->nonce, pm->nonce, sizeof(j->nonce));
	if (op != PM_MAP && pm->st.external.sa.sa_family == AF_INET)
		j->ext_hint = pm->st.external.in.sin_addr;
	rc = uv_queue_work(pm->loop, &j->req, job_work, job_after);
	if (rc < 0) {
		free(j);
		return rc;
	}
	pm->igd = NULL;
	pm->job = j;
	pm->st.busy = 1;
	return 0;
}

static void on_timer(uv_timer_t *t)
{
	struct portmap *pm = t->data;
	enum pm_op op = pm->st.method != PORTMAP_NONE ? PM_RENEW : PM_MAP;

	if (pm->job != NULL || pm->closing)
		return;
	if (pm_queue(pm, op) < 0)
		pm_schedule(pm, (uint64_t)pm->opts.retry_s * 1000, 0);
}

static void opts_fill(struct portmap *pm, const struct portmap_opts *o)
{
	static const struct portmap_opts none;

	if (o == NULL)
		o = &none;
	pm->opts = *o;
	pm->opts.methods &= PORTMAP_TRY_ALL;
	if (pm->opts.methods == 0)
		pm->opts.methods = PORTMAP_TRY_ALL;
	if (pm->opts.lifetime_s == 0)
		pm->opts.lifetime_s = PORTMAP_DEFAULT_LIFETIME_S;
	if (pm->opts.natpmp_timeout_ms == 0)
		pm->opts.natpmp_timeout_ms = PORTMAP_DEFAULT_NATPMP_MS;
	if (pm->opts.discover_ms == 0)
		pm->opts.discover_ms = PORTMAP_DEFAULT_DISCOVER_MS;
	if (pm->opts.retry_s == 0)
		pm->opts.retry_s = PORTMAP_DEFAULT_RETRY_S;
	copy_printable(pm->desc, sizeof(pm->desc), o->description ? o->description : "rayfish");
	pm->opts.description = NULL;
}

int portmap_open(struct portmap **out, uv_loop_t *loop, uint16_t port,
		 const struct portmap_events *ev, const struct portmap_opts *opts)
{
	struct portmap *pm;
	int rc;

	if (out == NULL || loop == NULL || port == 0)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	pm = calloc(1, sizeof(*pm));
	if (pm == NULL)
		return -ENOMEM;
	pm->loop = loop;
	/*
	 * One nonce for the object's life, not one per attempt: after a
	 * renewal that timed out the router may still hold our mapping, and
	 * only the same nonce may take it over (RFC 6887 section 11.3).
	 */
	randombytes_buf(pm->nonce, sizeof(pm->nonce));
	if (ev)
		pm->ev = *ev;
	opts_fill(pm, opts);
	pm->st.internal_port = port;
	uv_timer_init(loop, &pm->timer);
	pm->timer.data = pm;
	rc = pm_queue(pm, PM_MAP);
	if (rc < 0) {
		uv_close((uv_handle_t *)&pm->timer, timer_closed);
		return rc;
	}
	*out = pm;
	return 0;
}

void portmap_close(struct portmap *pm, void (*done)(void *arg), void *arg)
{
	if (pm == NULL || pm->closing)
		return;
	pm->closing = 1;
	pm->done = done;
	pm->done_arg = arg;
	pm->ev.on_mapped = NULL;
	pm->ev.on_failed = NULL;
	uv_timer_stop(&pm->timer);
	pm->st.renew_at_ms = 0;
	if (pm->job != NULL) {
		/* Not started yet: job_after sees UV_ECANCELED. */
		uv_cancel((uv_req_t *)&pm->job->req);
		return;
	}
	if (pm->st.method != PORTMAP_NONE && pm_queue(pm, PM_UNMAP) == 0)
		return;
	pm_finish(pm);
}

void portmap_get_state(const struct portmap *pm, struct portmap_state *st)
{
	*st = pm->st;
}
