/*
 * roster: commands and messages that change a roster after admission:
 * renames (`ray hostname`), kicks, nuking a network, co-coordinators
 * (`ray admin add|list`: the network key travels to the grantee over its
 * authenticated mesh connection), ephemeral members (pruned when offline
 * too long), and the gossip that lets every coordinator honour a single-use
 * invite minted by another (share on mint, burn on use).
 */
#ifndef RAYFISH_DAEMON_ROSTER_H
#define RAYFISH_DAEMON_ROSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/ipc_server.h"

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
/* Coordinator duties run every tick: ephemeral pruning. */
void roster_tick(struct daemon *d);

/* Invite gossip to the other coordinators connected now. */
void roster_share_invite(struct daemon *d, struct network *n, const struct invite *inv);
void roster_invite_used(struct daemon *d, struct network *n, const uint8_t hash[32]);

#endif
