/*
 * portmap: asks the home router to forward our UDP port, so peers behind
 * other NATs can reach us directly.
 *
 * PCP (RFC 6887, the MAP opcode, codec in pcp.c) is tried first: one UDP
 * exchange with the default gateway on port 5351, and the protocol that
 * replaced NAT-PMP. The request carries a 12-byte random nonce, one per
 * portmap for every request it makes: renewals and the deletion must prove
 * the mapping is ours. A gateway that speaks only NAT-PMP answers it with
 * UNSUPP_VERSION, and NAT-PMP (RFC 6886, libnatpmp) is tried next on the
 * same port; when the gateway speaks neither, UPnP IGD (libminiupnpc):
 * SSDP discovery with a short wait, the first valid connected IGD,
 * GetExternalIPAddress and AddPortMapping (UDP, leased; on a conflict
 * AddAnyPortMapping lets the router pick the port).
 * The mapping is renewed at half its granted lifetime; a failed renewal
 * starts over with discovery, and after a failure of every method the
 * whole attempt is repeated every retry_s. portmap_close deletes the
 * mapping (PCP and NAT-PMP: lifetime 0).
 *
 * The libraries and the PCP exchange block (sockets, poll, HTTP), so every
 * such call runs on the libuv thread pool (uv_queue_work) in one job at a
 * time; the job owns what it touches while it runs and its result is
 * applied on the loop thread. Events are delivered on the loop thread.
 *
 * The external address is reported as the router gives it; ext_private
 * flags a private one (another NAT above the router), where the mapping
 * alone does not make us reachable.
 *
 * Nothing the router says is trusted: the external address must be a
 * non-zero IPv4 address, ports must be decimal 1..65535 with nothing after
 * them, a NAT-PMP answer must be for our request type and our internal port
 * and grant a non-zero lifetime, a PCP answer must pass pcp_map_parse
 * (version, opcode, our nonce and internal port, a lifetime of at most
 * 24 h).
 *
 * Ownership: portmap_open allocates; portmap_close removes the mapping
 * (best effort, bounded by the PCP/NAT-PMP timeout or miniupnpc's socket
 * timeouts) and frees the object once that and the timer's close are done,
 * so the loop must run after portmap_close (uv_run returns once it is all
 * finished). No event is delivered after portmap_close. Loop thread only.
 */
#ifndef RAYFISH_TRANSPORT_PORTMAP_H
#define RAYFISH_TRANSPORT_PORTMAP_H

#include <stdint.h>
#include <netinet/in.h>
#include <uv.h>

#include "transport/magicsock.h"

enum portmap_method {
	PORTMAP_NONE = 0,
	PORTMAP_NATPMP,
	PORTMAP_UPNP,
	PORTMAP_PCP,
};

#define PORTMAP_TRY_NATPMP 0x1u
#define PORTMAP_TRY_UPNP 0x2u
#define PORTMAP_TRY_PCP 0x4u
#define PORTMAP_TRY_ALL (PORTMAP_TRY_PCP | PORTMAP_TRY_NATPMP | PORTMAP_TRY_UPNP)
#define PORTMAP_REASON_LEN 256
#define PORTMAP_GATEWAY_LEN 128
#define PORTMAP_DESC_LEN 48

#define PORTMAP_DEFAULT_LIFETIME_S 7200
#define PORTMAP_DEFAULT_NATPMP_MS 2000
#define PORTMAP_DEFAULT_DISCOVER_MS 1500
#define PORTMAP_DEFAULT_RETRY_S 300

/* Zero fields take the defaults above; a NULL opts is all defaults. */
struct portmap_opts {
	unsigned methods;           /* PORTMAP_TRY_* mask, 0: all */
	uint32_t lifetime_s;        /* requested lease */
	uint32_t natpmp_timeout_ms; /* per PCP or NAT-PMP exchange */
	uint32_t discover_ms;       /* SSDP wait */
	uint32_t retry_s;           /* after every method failed */
	const char *description;    /* UPnP mapping name, NULL: "rayfish" */
};

/* Snapshot for `ray netcheck` and for the events. */
struct portmap_state {
	enum portmap_method method; /* of the live mapping; NONE: none */
	uint16_t internal_port;
	union ms_addr external; /* AF_UNSPEC when there is no mapping */
	uint32_t lease_s;       /* granted; 0: permanent */
	int ext_private;        /* external address is RFC 1918 or
					   100.64/10: a NAT above the router */
	uint64_t renew_at_ms;   /* uv_now() of the next renewal; 0: none */
	uint32_t renewals;      /* successful renewals of this mapping */
	int busy;               /* a request is running on the worker */
	int last_error;         /* -errno of the last failure; 0: none */
	/* last failure, or (with last_error 0) why the methods tried before
	   the working one failed; "": none */
	char reason[PORTMAP_REASON_LEN];
	char gateway[PORTMAP_GATEWAY_LEN]; /* PCP/NAT-PMP gateway or IGD URL */
};

/*
 * on_mapped: a mapping was made, or its method or external address:port
 * changed on renewal. on_failed: no mapping (every method failed, or a
 * renewal failed and the mapping is gone); st->reason says why.
 */
struct portmap_events {
	void (*on_mapped)(void *ud, const struct portmap_state *st);
	void (*on_failed)(void *ud, const struct portmap_state *st);
	void *ud;
};

struct portmap;

/* Starts the first attempt at once. Returns 0, -EINVAL or -ENOMEM. */
int portmap_open(struct portmap **out, uv_loop_t *loop, uint16_t port,
		 const struct portmap_events *ev, const struct portmap_opts *opts);
/*
 * Deletes the mapping and frees pm (see Ownership). done (may be NULL) runs
 * on the loop once pm is gone.
 */
void portmap_close(struct portmap *pm, void (*done)(void *arg), void *arg);
void portmap_get_state(const struct portmap *pm, struct portmap_state *st);
/* "pcp", "natpmp", "upnp", "none". */
const char *portmap_method_name(enum portmap_method m);

/* ---- strict parsers for what routers send (exposed for tests) ---- */

/* Decimal 1..65535, no sign, space or suffix. Returns 0 or -EINVAL. */
int portmap_parse_port(const char *s, uint16_t *out);
/* Dotted IPv4, not 0.0.0.0, not a multicast/broadcast address. */
int portmap_parse_ipv4(const char *s, struct in_addr *out);
/* 1 for 10/8, 172.16/12, 192.168/16 and 100.64/10 (double NAT). */
int portmap_addr_is_private(struct in_addr a);
/* Milliseconds until the renewal of a lease of lease_s (0: permanent). */
uint64_t portmap_renew_delay_ms(uint32_t lease_s);

#endif
