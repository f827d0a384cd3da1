/*
 * daemon: the one context of `ray daemon`. It owns the libuv loop and every
 * subsystem: IPC server, identity, settings, magicsock + QUIC endpoint, the
 * DHT node, the TUN data plane, the peers and the networks. Every handler
 * receives this context explicitly; nothing else is global.
 */
#ifndef RAYFISH_DAEMON_DAEMON_H
#define RAYFISH_DAEMON_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "ipc/ipc_server.h"
#include "home/settings.h"
#include "dns/name_table.h"
#include "dns/resolv.h"
#include "dataplane/peer_table.h"
#include "dataplane/tun.h"
#include "discovery/record.h"
#include "mesh/identity.h"
#include "util/ratelimit.h"

struct magicsock;
struct quic_endpoint;
struct quic_events;
struct dht_node;
struct forward;
struct peer;
struct network;
struct join_op;
struct blob_fetch;
struct blob_serve;
struct files;
struct connect;
struct restore;
struct metrics;
struct dashboard;
struct blob_wait;
struct lookup;
struct dns_server;
struct firewall;
struct nat;
struct ping_op;
struct mdns;
struct conntrack;

struct daemon {
	uv_loop_t *loop;
	const char *home;
	const char *sock_path;
	struct settings settings;
	struct identity id;
	struct ipc_server ipc;
	struct magicsock *ms;
	struct quic_endpoint *quic;
	struct dht_node *dht;
	struct tun tun;
	bool tun_open;
	struct forward *fwd;
	struct peer_table table;
	struct peer *peers;           /* every remote identity we care about */
	struct network *nets;         /* joined networks, in join order */
	struct join_op *joins;        /* joins in progress */
	struct blob_fetch *fetches;   /* blob fetches in progress */
	struct blob_serve *serves;    /* blobs connections we answer (blobs.c) */
	struct blob_wait *blob_waits; /* mesh requests waiting for a blob (blobs.c) */
	size_t n_blob_waits;
	uint64_t blobs_refused;                          /* over the serving budget */
	uint64_t blobs_fetched_mesh, blobs_fetched_conn; /* answered fetches */
	struct lookup *lookups;                          /* DHT lookups in progress (records.c) */
	uint32_t next_net_index;
	struct dns_table dns_table;  /* names from every roster */
	size_t dns_flat_clashes;     /* last count warned of (magicdns.c) */
	struct dns_server *dns;      /* Magic DNS while active */
	struct dns_resolv resolv;    /* what we changed in the system resolver */
	int audit_fd;                /* audit.log, append-only */
	struct firewall *fw;         /* the node's firewall (firewall_policy.c) */
	struct nat *nat;             /* STUN / TURN state (nat.c) */
	struct files *files;         /* file sharing (files.c) */
	struct connect *connect;     /* contact id and connect requests (connect.c) */
	struct restore *restore;     /* networks a restored backup left to rejoin */
	struct metrics *metrics;     /* the Prometheus endpoint (metrics.c) */
	struct dashboard *dashboard; /* the web page on loopback, once asked for */
	uint64_t joins_ok, joins_failed, admitted, connections_up; /* for metrics */
	struct ping_op *pings;                                     /* `ray ping` in progress */
	uint64_t gate_refused, gate_expired, gate_msgs_dropped;    /* gate.c */
	struct ratelimit gate_log; /* gate.c: log lines strangers cause, together */
	uint64_t gate_logs_held, gate_logs_told, gate_logs_told_ms;
	struct mdns *mdns; /* LAN discovery (lan_discovery.c) */
	struct conntrack *ct;
	bool active; /* `ray up` state: TUN carries traffic */
	bool stopping;
	uv_signal_t sig_term;
	uv_signal_t sig_int;
	uv_timer_t tick;       /* 1 s housekeeping */
	uint64_t endpoint_seq; /* last endpoint record sequence */
	uint64_t next_endpoint_publish_ms;
	uint64_t next_addrs_check_ms;
	uint64_t next_vias_ms; /* member relay candidates due (member_relay.c) */
	uint64_t next_roster_check_ms;
	uint64_t started_unix;            /* baseline for members never seen */
	uint64_t started_ms;              /* loop time at start */
	char endpoint_addrs_sig[512];     /* addresses last published, to spot changes */
	char last_crash[160];             /* how the previous run ended, when it crashed; "" else */
	uint8_t endpoint_rec[RECORD_MAX]; /* that signed record, for CTL_ENDPOINT */
	size_t endpoint_rec_len;
};

/* Runs the daemon in the foreground until SIGTERM/SIGINT. Returns an exit code. */
int daemon_main(void);

/* True when uid may change the node (root or the configured operator). */
bool daemon_authorized(const struct daemon *d, uid_t uid);

/* `reload`: re-reads settings.json; the keys that can change live (stun,
 * relay, relay-members, operator) take effect now, the reply lists them
 * as "applied" and the rest as "restart" (they wait for a restart). */
void daemon_cmd_reload(struct daemon *d, struct ipc_request *req);

/* `logs` {"since_ms"?, "max"?}: {"text", "dir", "last_crash"}, the newest
 * lines of the log files. */
void daemon_cmd_logs(struct daemon *d, struct ipc_request *req);

/* IPC dispatch (daemon/commands.c). */
void daemon_dispatch(struct ipc_request *req, void *ud);

/*
 * The daemon's events, fanned out to the features that hear them, each in
 * the order of its list in daemon.c (a feature that needs an event adds its
 * handler there; the module that raises the event knows none of them):
 *   tick              the 1 s housekeeping;
 *   peer up / down    a peer's mesh connection is up, or gone (left: it
 *                     said it leaves);
 *   rosters changed   any roster or the set of networks changed: routes,
 *                     addresses, names and firewall follow;
 *   roster applied    network n adopted a new roster;
 *   network restored  n was loaded from disk at start;
 *   network forgotten n was unlinked (left, kicked or deleted) and is
 *                     about to be freed: let go of anything about it;
 *   peer freed        a peer was freed: let go of pointers to peers.
 */
void daemon_tick(struct daemon *d);
void daemon_peer_up(struct daemon *d, struct peer *p);
void daemon_peer_down(struct daemon *d, struct peer *p, bool left);
void daemon_rosters_changed(struct daemon *d);
void daemon_roster_applied(struct daemon *d, struct network *n);
void daemon_network_restored(struct daemon *d, struct network *n);
void daemon_network_forgotten(struct daemon *d, const struct network *n);
void daemon_peer_freed(struct daemon *d);

/*
 * How QUIC events reach the modules (ud = the daemon): mesh connections go
 * to the gate and peers.c, their messages through the gate's bucket to
 * control_on_message, blobs connections to blobs.c. Exported so the daemon
 * fuzz target (tests/fuzz/fuzz_daemon.c) delivers its fake connections'
 * events through the same dispatch.
 */
extern const struct quic_events daemon_quic_events;

/* Unix seconds and loop milliseconds. */
uint64_t daemon_unix_now(void);
uint64_t daemon_now_ms(const struct daemon *d);

#endif
