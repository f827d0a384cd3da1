/*
 * firewall: the per-device stateful packet filter between the TUN and the
 * peers.
 *
 * A rule says: direction (in = from a peer to us, out = from us to a peer),
 * action (allow | deny), protocol (tcp | udp | icmp | any; icmp means ICMP
 * on IPv4 and ICMPv6 on IPv6), destination ports (tcp/udp only: a port, a
 * range a-b, a comma list of those, or any), peer (an endpoint id or any;
 * the daemon resolves hostnames to ids first), an optional network scope
 * (the network name the packet travels on) and its origin (local, or
 * suggested by a network's coordinator). Rules are scanned in order and the
 * first match decides; when none matches the default for the direction
 * applies: inbound deny, outbound allow unless changed. A fresh config holds
 * one ordinary, removable rule `allow in icmp` so ping works out of the box
 * while unsolicited TCP/UDP stays out.
 *
 * Stateful: with a conntrack table attached, every packet of a flow whose
 * first packet was allowed passes in both directions (replies to outbound
 * connections under the inbound deny default, and replies of an allowed
 * inbound service). When the rules change, a tracked flow is checked once
 * more against the new rules (as its first packet) on its next packet; if
 * they now deny it, the flow stays tracked as denied and its packets are
 * dropped both ways until it ends (a later rule change can allow it again;
 * a new SYN on its ports faces the rules afresh). Flows are tracked as the
 * peer's that firewall_eval is given, so one peer can fill at most its
 * share of the table (conntrack.h, "Owners"); a first packet past that is
 * still judged by the rules, but its flow is not tracked.
 *
 * Fragments: a non-first fragment has no ports. A rule with a port list
 * matches it only if the rule denies: it may be one of the denied ports, and
 * an allow for some ports must not let it through. Port-less rules (any
 * port, icmp, any protocol) match it as usual. Before the rules, a non-first
 * fragment passes if a first fragment with the same source, destination and
 * protocol passed shortly before (conntrack's fragment allowance); the
 * receiver can only reassemble it with such a first fragment.
 *
 * Rejecting: by default a denied packet is dropped silently; with reject on,
 * the verdict is FW_REJECT for packets that may be answered (see
 * icmp_rejectable) and the caller sends icmp_build_reject's reply back to
 * the sender. Rejects are rate-limited (FW_REJECT_RATE per second, the rest
 * are dropped) so a flood of denied packets is not reflected 1:1.
 *
 * Data path: rules are compiled into a flat array whenever they change or
 * firewall_recompile is called. Compiling resolves peer ids and network
 * names through the caller's resolver to the same opaque peer handle and
 * network index that firewall_eval receives, so evaluation compares
 * integers and pointers only. A rule whose peer or network does not
 * resolve cannot match anything until a later recompile: the daemon MUST
 * call firewall_recompile whenever a peer handle is created or freed and
 * whenever a network index is assigned or dropped. firewall_eval allocates
 * nothing and takes no lock.
 *
 * State file: firewall.json, written atomically. A file missing fields
 * (an older version) loads into the secure posture (enabled, inbound deny,
 * outbound allow, reject off) with exactly the rules it lists; a malformed
 * file is an error and changes nothing. Only a fresh config (no file) has
 * the seeded ICMP rule.
 *
 * Ownership: firewall_open allocates, firewall_close frees. The conntrack
 * table and the resolver's user data are the caller's and must outlive the
 * firewall. Strings returned by the formatters are the caller's buffers.
 * Single-threaded: the daemon loop serialises configuration calls and
 * firewall_eval.
 */
#ifndef RAYFISH_DATAPLANE_FIREWALL_H
#define RAYFISH_DATAPLANE_FIREWALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/conntrack.h"
#include "dataplane/packet.h"

#define FW_MAX_RULES 1024
#define FW_MAX_PORT_RANGES 16
#define FW_PEER_BUF 65 /* 64 hex characters + NUL */
#define FW_NAME_BUF 64 /* network name (a hostname label) + NUL */
#define FW_FILE_MAX (1024 * 1024)
#define FW_FILE_VERSION 1
#define FW_REJECT_RATE 100 /* rejects per second, also the burst */
#define FW_ERR_BUF 160

enum fw_dir {
	FW_DIR_IN = 0,
	FW_DIR_OUT = 1
};
enum fw_action {
	FW_ACTION_ALLOW = 0,
	FW_ACTION_DENY = 1
};
enum fw_proto {
	FW_PROTO_ANY = 0,
	FW_PROTO_TCP,
	FW_PROTO_UDP,
	FW_PROTO_ICMP
};
enum fw_verdict {
	FW_ALLOW = 0,
	FW_DROP,
	FW_REJECT
};

struct fw_port_range {
	uint16_t lo;
	uint16_t hi; /* inclusive */
};

struct fw_rule {
	uint8_t dir;     /* enum fw_dir */
	uint8_t action;  /* enum fw_action */
	uint8_t proto;   /* enum fw_proto */
	uint8_t n_ports; /* 0: any port; ranges sorted, disjoint, not adjacent */
	struct fw_port_range ports[FW_MAX_PORT_RANGES];
	char peer[FW_PEER_BUF];    /* lowercase endpoint id, "" = any peer */
	char network[FW_NAME_BUF]; /* network scope, "" = any network */
	char origin[FW_NAME_BUF];  /* "" = local, else the suggesting network */
};

/* Maps rule text to the keys firewall_eval is called with. Either callback
 * may be NULL (nothing resolves). */
struct fw_resolver {
	/* endpoint id → the peer handle forward passes to firewall_eval, or NULL */
	const void *(*peer)(const char *id, void *ud);
	/* network name → the network index forward passes, or -1 */
	int64_t (*network)(const char *name, void *ud);
	/*
	 * Whether peer is a member of network net with us (NULL: only the
	 * network the packet is attributed to counts). A network-scoped rule
	 * applies to a peer in every network it shares with us, whichever one
	 * its address is routed through: union semantics, so a rule means the
	 * same whatever order the networks were joined in. Called only for
	 * scoped rules on a flow's first packet.
	 */
	bool (*shares)(const void *peer, uint32_t net, void *ud);
	void *ud;
};

struct fw_counters {
	uint64_t allowed;
	uint64_t dropped;
	uint64_t rejected;
	uint64_t reject_limited; /* would have been rejected, dropped by the rate limit */
	uint64_t conntrack_hits;
	uint64_t fragment_hits; /* non-first fragments let through by an allowance */
	uint64_t flows_revoked; /* tracked flows a rule change denied */
};

struct firewall;

/* ---- rule text (CLI, IPC, JSON) ---- */

/*
 * Fills *out from text fields; NULL or "" for ports/peer/network means any,
 * NULL protocol means any. origin NULL or "" is local. On error returns
 * -EINVAL and writes one sentence to err (FW_ERR_BUF bytes is plenty).
 */
int fw_rule_parse(struct fw_rule *out, const char *dir, const char *action, const char *proto,
		  const char *ports, const char *peer, const char *network, const char *origin,
		  char *err, size_t errlen);
/* "22", "80-443", "80,443,8000-8100", "any" / "*" → sorted merged ranges. */
int fw_ports_parse(const char *s, struct fw_rule *r, char *err, size_t errlen);
/* Writes "22,80-443" or "any". Returns the length, or -ENOSPC. */
int fw_ports_format(const struct fw_rule *r, char *buf, size_t len);
/* One line for `ray firewall show`, e.g.
 * "allow in tcp 22,80-443 from any on db (suggested by db)". */
int fw_rule_format(const struct fw_rule *r, char *buf, size_t len);
/* Same direction, protocol, ports, peer and network (action and origin
 * ignored): the key firewall_add merges on. */
bool fw_rule_same_selector(const struct fw_rule *a, const struct fw_rule *b);
const char *fw_verdict_name(enum fw_verdict v);

/* ---- configuration ---- */

/* A fresh config (seeded ICMP rule). ct may be NULL: stateless. */
int firewall_open(struct firewall **out, struct conntrack *ct);
void firewall_close(struct firewall *fw);

/* Copies *r and recompiles. */
int firewall_set_resolver(struct firewall *fw, const struct fw_resolver *r);
/* Re-resolves every rule's peer and network; 0 or -ENOMEM (the old
 * compiled rules then stay in force). */
int firewall_recompile(struct firewall *fw);

void firewall_set_enabled(struct firewall *fw, bool on);
void firewall_set_reject(struct firewall *fw, bool on);
void firewall_set_default(struct firewall *fw, enum fw_dir dir, enum fw_action a);
bool firewall_enabled(const struct firewall *fw);
bool firewall_reject(const struct firewall *fw);
enum fw_action firewall_default(const struct firewall *fw, enum fw_dir dir);

/* Rules in first-match order; valid until the next change. */
const struct fw_rule *firewall_rules(const struct firewall *fw, size_t *n);

/* Inserts *r at the front after removing every rule with the same
 * selector. -ENOSPC at FW_MAX_RULES, -EINVAL for an inconsistent rule. */
int firewall_add(struct firewall *fw, const struct fw_rule *r);
/* Removes the rule at index i (0-based, first-match order); -ENOENT. */
int firewall_remove_index(struct firewall *fw, size_t i);
/* Removes every rule with sel's selector; returns how many, or -ENOENT. */
int firewall_remove_selector(struct firewall *fw, const struct fw_rule *sel);
/*
 * Replaces the rules suggested by network `net` with rules[0..n) (their
 * origin is set to net). Local rules and other networks' rules stay. The
 * new set takes the place of the old one, or goes to the end when there was
 * none, so hand-written local rules keep precedence. n = 0 removes the set.
 */
int firewall_replace_network_rules(struct firewall *fw, const char *net,
				   const struct fw_rule *rules, size_t n);

/* ---- state file ---- */

/* Replaces the whole config from JSON text; on error returns -EINVAL with a
 * sentence in err, and the config is unchanged. */
int firewall_load_json(struct firewall *fw, const char *text, size_t len, char *err, size_t errlen);
/* The config as JSON text (caller frees), or NULL on allocation failure. */
char *firewall_to_json(const struct firewall *fw);
/* File variants: -ENOENT when the file does not exist (config unchanged:
 * keep the fresh one), -EINVAL when malformed, other -errno from I/O. */
int firewall_load(struct firewall *fw, const char *path, char *err, size_t errlen);
int firewall_save(const struct firewall *fw, const char *path);

/* ---- data path ---- */

/*
 * The verdict for one parsed packet. dir IN: received from `peer` on
 * network `net`; OUT: read from the TUN, going to `peer` on `net`. now is a
 * monotonic clock in milliseconds. Updates conntrack and the counters.
 */
enum fw_verdict firewall_eval(struct firewall *fw, enum fw_dir dir, const struct packet_info *pi,
			      const void *peer, uint32_t net, uint64_t now);

void firewall_counters_get(const struct firewall *fw, struct fw_counters *out);

#endif
