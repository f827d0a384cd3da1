/*
 * roster: commands and messages that change a roster after admission:
 * renames (`ray hostname`), kicks, nuking a network, co-coordinators
 * (`ray admin add|list`: the network key travels to the grantee over its
 * authenticated mesh connection, and the roster names it coordinator once
 * it says the key is stored), ephemeral members (pruned when offline
 * too long), and the gossip that lets every coordinator honour a single-use
 * invite minted by another (share on mint, burn on use).
 */
#ifndef RAYFISH_DAEMON_ROSTER_H
#define RAYFISH_DAEMON_ROSTER_H

#include "util/limits.h"

#include <stdbool.h>
#include <stdint.h>

#include "ipc/ipc_server.h"

struct daemon;
struct network;
struct peer;
struct ctl_msg;
struct invite;

void roster_cmd_hostname(struct daemon *d, struct ipc_request *req);
void roster_cmd_kick(struct daemon *d, struct ipc_request *req);
void roster_cmd_nuke(struct daemon *d, struct ipc_request *req);
void roster_cmd_admin_add(struct daemon *d, struct ipc_request *req);
void roster_cmd_admin_list(struct daemon *d, struct ipc_request *req);
void roster_cmd_ephemeral(struct daemon *d, struct ipc_request *req);

/* Returns true when the message was one of the roster messages. */
bool roster_on_message(struct daemon *d, struct peer *p, const struct ctl_msg *m);
/* Coordinator duties run every tick: ephemeral pruning; members: answers
 * to `ray hostname` that did not come in time. */
void roster_tick(struct daemon *d);
/* After network_apply adopted a roster: answers a waiting `ray hostname`. */
void roster_on_applied(struct daemon *d, struct network *n);

/*
 * Renames a member may ask a coordinator for: ROSTER_RENAME_BURST at once,
 * then one per ROSTER_RENAME_EVERY_MS. Each one is a new roster version
 * every member fetches and stores, so a member renaming in a loop would
 * otherwise make the coordinator mint versions without limit.
 */
#define ROSTER_RENAME_BURST 3
#define ROSTER_RENAME_EVERY_MS 10000
struct rename_bucket;
/* Takes one rename from b at now_ms (true), or says how long until the
 * next one is allowed (false, *wait_ms). A zeroed bucket is full. */
bool roster_rename_take(struct rename_bucket *b, uint64_t now_ms, uint64_t *wait_ms);

/* How long `ray admin add` waits for the grantee to say it stored the key. */
#define ROSTER_GRANT_WAIT_MS 10000

/* Invite gossip to the other coordinators connected now. */
void roster_share_invite(struct daemon *d, struct network *n, const struct invite *inv);
void roster_invite_used(struct daemon *d, struct network *n, const uint8_t hash[LIMIT_KEY_LEN]);

#endif
