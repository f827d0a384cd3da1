/*
 * resolve: see resolve.h. A name resolving to no IPv4 or IPv6 UDP address
 * (only other families, or nothing) is -ENOENT, never an empty success.
 *
 * The in-flight count is process-wide rather than per loop: the question it
 * answers ("may this process leave without waiting for the thread pool?")
 * is about libuv's pool, which is process-wide too.
 */
#include "transport/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct resolve_req {
	uv_getaddrinfo_t gai;
	resolve_cb cb;
	void *arg;
	uint16_t port;
	int cancelled;
};

static size_t inflight;

static int host_ok(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > 253)
		return 0;
	for (; *h; h++)
		if (!(*h == '.' || *h == '-' || *h == ':' || *h == '_' ||
		      (*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'z') ||
		      (*h >= 'A' && *h <= 'Z')))
			return 0;
	return 1;
}

int resolve_split(const char *entry, char *host, size_t host_cap, uint16_t *port)
{
	const char *colon, *hs = entry, *he;
	char *end;
	unsigned long p;

	if (*entry == '[') {
		hs = entry + 1;
		he = strchr(hs, ']');
		if (!he || he[1] != ':')
			return -EINVAL;
		colon = he + 1;
	} else {
		colon = strrchr(entry, ':');
		if (!colon || memchr(entry, ':', (size_t)(colon - entry)))
			return -EINVAL; /* bare IPv6 needs brackets */
		he = colon;
	}
	if ((size_t)(he - hs) >= host_cap || colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	p = strtoul(colon + 1, &end, 10);
	if (*end || p == 0 || p > 65535)
		return -EINVAL;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	if (!host_ok(host))
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

static size_t collect(const struct addrinfo *ai, uint16_t port, union ms_addr *out)
{
	size_t n = 0;

	for (; ai && n < RESOLVE_MAX_ADDRS; ai = ai->ai_next) {
		memset(&out[n], 0, sizeof(out[n]));
		if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
			memcpy(&out[n].in, ai->ai_addr, sizeof(struct sockaddr_in));
			out[n].in.sin_port = htons(port);
		} else if (ai->ai_family == AF_INET6 &&
			   ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
			memcpy(&out[n].in6, ai->ai_addr, sizeof(struct sockaddr_in6));
			out[n].in6.sin6_port = htons(port);
		} else {
			continue;
		}
		n++;
	}
	return n;
}

static void on_gai(uv_getaddrinfo_t *gai, int status, struct addrinfo *res)
{
	struct resolve_req *r = gai->data;
	union ms_addr addrs[RESOLVE_MAX_ADDRS];
	size_t n = status == 0 ? collect(res, r->port, addrs) : 0;

	inflight--;
	if (!r->cancelled)
		r->cb(r->arg, n ? 0 : -ENOENT, addrs, n);
	uv_freeaddrinfo(res);
	free(r);
}

int resolve_start(uv_loop_t *loop, const char *entry, resolve_cb cb, void *arg,
		  struct resolve_req **out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_ADDRCONFIG };
	char host[256];
	union ms_addr a;
	struct resolve_req *r;
	uint16_t port;
	int rc;

	*out = NULL;
	if (resolve_split(entry, host, sizeof(host), &port) < 0)
		return -EINVAL;
	if (ms_addr_parse(&a, entry) == 0) {
		cb(arg, 0, &a, 1);
		return 0;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cb = cb;
	r->arg = arg;
	r->port = port;
	r->gai.data = r;
	rc = uv_getaddrinfo(loop, &r->gai, on_gai, host, NULL, &hints);
	if (rc < 0) {
		free(r);
		return rc;
	}
	inflight++;
	*out = r;
	return 0;
}

void resolve_cancel(struct resolve_req *r)
{
	if (!r)
		return;
	r->cancelled = 1;
	/* A lookup still queued for the pool is taken off it (on_gai then
	 * runs with UV_ECANCELED and frees r); one already running cannot be
	 * stopped (UV_EBUSY) and frees r when getaddrinfo returns. */
	uv_cancel((uv_req_t *)&r->gai);
}

size_t resolve_inflight(void)
{
	return inflight;
}
