/*
 * resolve: turns the server entries users write ("stun.example.net:3478",
 * "198.51.100.1:3478", "[2001:db8::1]:3478") into socket addresses without
 * blocking the loop. Numeric entries are answered at once (inside
 * resolve_start, before it returns); names go through uv_getaddrinfo on
 * libuv's thread pool and are answered on the loop.
 *
 * Ownership: resolve_start allocates a request the caller never frees; it
 * frees itself after the callback ran. resolve_cancel (any time before the
 * callback) makes the callback never run; the request still frees itself:
 * at once (on the next loop turn) when its lookup had not started on the
 * thread pool, else when getaddrinfo returns, which against a resolver that
 * never answers takes the resolver's full timeout. A loop being drained for
 * exit can ask resolve_inflight how many such lookups it would wait for.
 */
#ifndef RAYFISH_RESOLVE_H
#define RAYFISH_RESOLVE_H

#include "transport/magicsock.h"

#include <uv.h>

#define RESOLVE_MAX_ADDRS 4

struct resolve_req;

/* status 0 with n >= 1 addresses, or negative errno (-ENOENT: the name has
 * no usable address; -EINVAL: not host:port). */
typedef void (*resolve_cb)(void *arg, int status, const union ms_addr *addrs, size_t n);

/* Splits "host:port" / "[v6]:port" into host and port; 0 or -EINVAL. */
int resolve_split(const char *entry, char *host, size_t host_cap, uint16_t *port);
/* Starts resolving entry; 0, or negative errno (nothing will be called). */
int resolve_start(uv_loop_t *loop, const char *entry, resolve_cb cb, void *arg,
		  struct resolve_req **out);
void resolve_cancel(struct resolve_req *r);
/* Name lookups started and not yet finished (cancelled ones included) in
 * this process; loop thread only. */
size_t resolve_inflight(void);

#endif
