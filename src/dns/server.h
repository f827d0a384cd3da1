/*
 * server: the Magic DNS server, UDP and TCP on one address, in the daemon's
 * uv loop.
 *
 * Every query goes through dns/answer: names under `ray.` and the mesh
 * reverse zones are answered from the name table (borrowed: the daemon
 * keeps updating it while the server runs), everything else is forwarded
 * upstream over UDP. A forward gets a fresh socket (kernel-chosen port) and
 * a random id; upstreams are tried in order, each for timeout_ms, and an
 * answer from any upstream tried so far is taken, checked (sender, id,
 * question) and relayed with the client's id. When every upstream stayed
 * silent the client gets SERVFAIL. Forwards in flight are capped; so are
 * TCP connections (each with an idle timeout, a cap on its queries in
 * flight and on the bytes queued to it). UDP replies are sent with
 * try_send: when the socket buffer is full the reply is dropped and counted,
 * never queued without bound.
 *
 * Lifetime: dns_server_init binds and listens; dns_server_close starts
 * closing every handle. Every handle lives on the heap and frees itself in
 * its close callback, and none points back at the struct once closed, so
 * the caller may free the struct right after dns_server_close or a failed
 * dns_server_init; the memory comes back when the loop next runs.
 */
#ifndef RAYFISH_DNS_SERVER_H
#define RAYFISH_DNS_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "dns/name_table.h"

#define DNS_MAX_UPSTREAMS 8
#define DNS_DEFAULT_TIMEOUT_MS 2000
#define DNS_DEFAULT_MAX_FORWARDS 256
#define DNS_DEFAULT_TCP_CONNS 64
#define DNS_DEFAULT_TCP_IDLE_MS 10000
#define DNS_TCP_MAX_PENDING 16    /* queries in flight per connection */
#define DNS_TCP_MAX_QUEUED 262144 /* reply bytes queued per connection */

struct dns_counters {
	uint64_t queries;   /* packets / TCP messages received */
	uint64_t answered;  /* replies made here (table or error) */
	uint64_t forwarded; /* queries sent upstream */
	uint64_t relayed;   /* upstream answers passed back */
	uint64_t nxdomain;
	uint64_t formerr;
	uint64_t servfail; /* all upstreams silent, none set, or at cap */
	uint64_t dropped;  /* ignored queries, lost replies, refused conns */
};

struct dns_server_config {
	const char *listen;           /* "ip:port" or "[v6]:port"; port 0 = any */
	const char *const *upstreams; /* "ip", "ip:port" or "[v6]:port" */
	size_t n_upstreams;
	unsigned timeout_ms;    /* per upstream; 0 = default */
	unsigned max_forwards;  /* 0 = default */
	unsigned tcp_max_conns; /* 0 = default */
	unsigned tcp_idle_ms;   /* 0 = default */
};

struct dns_fwd;
struct dns_conn;

struct dns_server {
	uv_loop_t *loop;
	const struct dns_table *table; /* borrowed */
	uv_udp_t *udp;                 /* owned; NULL once closed */
	uv_tcp_t *tcp;                 /* owned; NULL once closed */
	struct sockaddr_storage addr;  /* bound address (real port) */
	struct sockaddr_storage up[DNS_MAX_UPSTREAMS];
	size_t n_up;
	unsigned timeout_ms, max_forwards, tcp_max_conns, tcp_idle_ms;
	struct dns_fwd *fwds; /* list of forwards in flight */
	unsigned n_fwds;
	struct dns_conn *conns; /* list of open TCP connections */
	unsigned n_conns;
	struct dns_counters stats;
	uint8_t rbuf[65536]; /* UDP receive buffer */
};

/*
 * Parses "1.2.3.4", "1.2.3.4:53", "::1", "[::1]:53" (default_port when the
 * text has none). Returns 0 or -EINVAL.
 */
int dns_addr_parse(const char *text, uint16_t default_port, struct sockaddr_storage *out);

/*
 * Binds UDP and TCP on cfg->listen (TCP on the port UDP got, so port 0
 * works) and starts serving. Returns 0 or -errno (-EADDRINUSE, -EACCES for
 * port 53 without privilege, -EINVAL for a bad address). On failure
 * nothing is left that refers to s: free it at once, or call
 * dns_server_close (a no-op then). dns_server_close may be called twice.
 */
int dns_server_init(struct dns_server *s, uv_loop_t *loop, const struct dns_table *table,
		    const struct dns_server_config *cfg);
void dns_server_close(struct dns_server *s);

/* Replaces the upstream list (at most DNS_MAX_UPSTREAMS are kept); entries
 * equal to our own address are skipped. Returns the number kept or -EINVAL. */
int dns_server_set_upstreams(struct dns_server *s, const char *const *ups, size_t n);

/* The port actually bound (useful after listening on port 0). */
uint16_t dns_server_port(const struct dns_server *s);

#endif
