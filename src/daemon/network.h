/*
 * network: the networks this node belongs to, as the daemon runs them.
 *
 * A network is its roster (group blob) plus the network record signed by
 * the network key that names the roster's hash; both are persisted through
 * store.h. Every roster change, local or learned, goes through
 * network_apply, which checks the record, re-seats peers, routes and
 * addresses, and saves. Coordinators (holders of the network key) admit
 * joiners of open networks, prune members that leave, and sign and publish
 * each new roster; every member re-announces the newest record it holds so
 * the network stays discoverable while its creator is offline.
 */
#ifndef RAYFISH_DAEMON_NETWORK_H
#define RAYFISH_DAEMON_NETWORK_H

#include "util/limits.h"

/* The mesh protocol this build speaks (published in the network record;
 * a joiner refuses a network that needs a newer one). */
#define NETWORK_MESH_VERSION 1

#include <stdbool.h>
#include <stdint.h>

#include "daemon/admission.h"
#include "ipc/ipc_server.h"
#include "home/store.h"
#include "dataplane/firewall.h"
#include "mesh/group_blob.h"

/* How long a member waits for a fork that lacks it to be merged. */
#define NETWORK_FORK_GRACE_MS 60000

struct daemon;
struct peer;
struct ctl_msg;
struct net_timer;
struct fetch_wait;

/* Coordinator: renames one member may ask for (roster.c). */
struct rename_bucket {
	char id[IDENTITY_ID_LEN + 1];
	uint32_t tokens_milli; /* thousandths of a rename */
	uint64_t last_ms;
	bool warned; /* refusals logged once per streak */
};

struct network {
	struct network *next;
	struct net_saved saved;    /* what store.h persists */
	uint8_t pk[LIMIT_KEY_LEN]; /* network public key = room id */
	bool has_key;
	struct identity key;    /* network key, coordinators only */
	struct group_blob blob; /* current roster */
	struct group_blob base; /* the roster before it (concurrent merges) */
	bool has_base;          /* saved.base_hash names it when it was stored */
	/* Rosters before the base, newest first, in memory only: where a
	 * fork that went apart further back is merged from (roster_sync). */
	struct group_blob older[GB_MAX_ANCESTORS - 1];
	uint8_t older_hash[GB_MAX_ANCESTORS - 1][LIMIT_KEY_LEN];
	size_t n_older;
	uint8_t base_hash[LIMIT_KEY_LEN]; /* of base, also when it was not stored */
	uint64_t seq;                     /* sequence of saved.record */
	uint32_t index;                   /* network index in the peer table */
	uint32_t my_ipv4;
	uint64_t next_poll_ms;
	uint64_t fork_since_ms; /* first heard a fork that lacks us; 0 none */
	bool polling;
	bool fetching;                 /* a roster fetch is waiting or under way */
	struct fetch_wait *fetch_wait; /* its jitter timer, while it waits */
	uint8_t *next_rec;             /* newest record heard while fetching */
	size_t next_rec_len;
	uint8_t next_from[LIMIT_KEY_LEN];
	uint64_t next_seq;
	uint64_t last_sync_ms; /* coordinator: last SYNC broadcast */
	bool sync_due;         /* changes wait for the batch window */
	struct net_timer *sync_timer;
	struct rename_bucket *renames; /* coordinator: per-member rename rate */
	size_t n_renames;
	struct ipc_request *rename_req; /* member: `ray hostname` awaiting the roster */
	char rename_from[HOSTNAME_BUF];
	uint64_t rename_deadline_ms;
	struct ipc_request *grant_req;   /* coordinator: `ray admin add` awaiting the grantee */
	uint8_t grant_pk[LIMIT_KEY_LEN]; /* whom that grant went to */
	uint64_t grant_deadline_ms;
	struct admission admission; /* coordinator: join requests, denials */
	struct fw_rule *fw_pending; /* suggested rules awaiting consent */
	size_t n_fw_pending;
	bool fw_pending_set; /* a (possibly empty) new set is waiting */
};

/* By local name or room id; NULL if unknown. */
struct network *network_find(struct daemon *d, const char *name_or_room);
struct network *network_find_pk(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN]);
/* The member entry for this node, or NULL. */
const struct gb_member *network_me(struct daemon *d, const struct network *n);
/* The member entry for endpoint id in the first network (join order) whose
 * roster lists it, or NULL: whether a peer shares a network with us, and
 * the hostname to call it by. */
const struct gb_member *network_find_member(struct daemon *d, const char *id);

/* Loads saved networks at start; logs and skips entries that do not parse
 * or verify, after keeping a copy of networks.json (store.h). Fails only
 * when the file cannot be read or that copy cannot be made. */
int networks_load(struct daemon *d);
int networks_save(struct daemon *d);
void networks_close_all(struct daemon *d);

/*
 * Adopts a roster: rec is a network record signed by n's key naming
 * blob_bytes' hash (checked here). Returns 0, -EBADMSG for a record or blob
 * that does not verify, -ESTALE for one older than what n holds.
 */
int network_apply(struct daemon *d, struct network *n, const uint8_t *rec, size_t rec_len,
		  const uint8_t *blob_bytes, size_t blob_len);

/* IPC handlers. */
void network_cmd_create(struct daemon *d, struct ipc_request *req);
void network_cmd_leave(struct daemon *d, struct ipc_request *req);

/* Events from peers.c / daemon.c. */
void network_on_peer_up(struct daemon *d, struct peer *p);
void network_on_peer_down(struct daemon *d, struct peer *p, bool left);
/* Control messages (dispatched by control.c): SYNC from anyone (the record
 * is checked against the network key), LEAVE from a member. True: taken. */
bool network_on_sync(struct daemon *d, struct peer *p, const struct ctl_msg *m);
bool network_on_leave(struct daemon *d, struct peer *p, const struct ctl_msg *m);
/* Every tick: DHT polls for newer rosters and record refreshes. */
void networks_tick(struct daemon *d);

/*
 * A peer named by hostname, host.net, mesh IPv4 or endpoint id, in network
 * `scope` (NULL or "": any network) → its endpoint id in out. -ENOENT, or
 * -EEXIST when the name means different peers in different networks; err
 * gets a sentence.
 */
int network_resolve_peer(struct daemon *d, const char *peer, const char *scope,
			 char out[IDENTITY_ID_LEN + 1], char *err, size_t errlen);

/* The network named by the request's "network" argument (need_key: this
 * node must coordinate it); on failure the request is answered and NULL
 * returned. */
struct network *network_from_args(struct daemon *d, struct ipc_request *req, bool need_key);

/* This machine's hostname made valid, or three random words. */
void network_default_hostname(char out[HOSTNAME_BUF]);
/* The name create, join and connect use without --hostname: the hostname
 * setting (ray up --hostname), else the one in the first network, else
 * the machine's. */
void network_my_hostname(struct daemon *d, char out[HOSTNAME_BUF]);

/*
 * Creates a network this node coordinates, named netname (valid and free
 * here), with us as hostname. approve (NULL: none) is an endpoint id
 * admitted when it asks, and makes the network direct (`ray connect`).
 * On success *out is the network, added, stored and published. Returns 0
 * or -errno, err then holding a sentence.
 */
int network_create(struct daemon *d, const char *netname, const char *hostname, bool open,
		   const char *approve, struct network **out, char *err, size_t errlen);

/* Loads the network key stored for n (keys/ROOM.key) when it is n's:
 * n then coordinates. Whether it did. */
bool network_take_stored_key(struct daemon *d, struct network *n);

/* Adds a network built by create or join (takes ownership) and persists. */
int network_add(struct daemon *d, struct network *n);
/*
 * Coordinator: signs `blob` (a changed copy of n's roster; its version is
 * bumped here), adopts it and sends SYNC to every connected member but
 * `except`. Takes ownership of blob. Returns 0 or -errno.
 */
int network_publish(struct daemon *d, struct network *n, struct group_blob *blob,
		    const struct peer *except);
/*
 * The same for changes others cause at their own pace (joins, leaves,
 * members' renames): within NETWORK_BATCH_MS of the last SYNC they are
 * announced together when the window ends, so members fetch one roster
 * per window however fast it changes; the first change after a quiet spell
 * goes out at once. A joiner is unaffected: its WELCOME carries the record.
 * network_publish (an operator's change) also sends what is waiting.
 */
#define NETWORK_BATCH_MS 500
int network_publish_batched(struct daemon *d, struct network *n, struct group_blob *blob,
			    const struct peer *except);
/*
 * Signs blob (its version as it is) with the network key into a network
 * record in rec (its length in *rec_len) and the blob's canonical bytes in
 * *bytes (malloc'd, *blen long), seeds picked from the blob's members:
 * what network_publish announces. The fuzz target's stand-in coordinator
 * signs with it too. Returns 0 or -errno.
 */
int network_sign_roster(const struct identity *key, const struct group_blob *blob, uint8_t *rec,
			size_t reccap, size_t *rec_len, uint8_t **bytes, size_t *blen);
/* Coordinator: publishes blob (an empty roster: nuke) as the network's last
 * record, tells the members, and forgets the network. Takes blob. */
int network_publish_final(struct daemon *d, struct network *n, struct group_blob *blob);
/* Coordinator: drops member p from network `only` (NULL: from every network
 * we coordinate) and publishes. */
void network_prune_member(struct daemon *d, struct network *only, struct peer *p);

/* Sends SYNC with n's record to every connected member except `except`. */
void network_broadcast_sync(struct daemon *d, struct network *n, const struct peer *except);

#endif
