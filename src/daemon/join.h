/*
 * join: `ray join ROOM_ID`, the joiner's side of admission (see join.c):
 * the DHT look-up, the seeds asked one after another, the roster fetched
 * and checked before the network is adopted.
 */
#ifndef RAYFISH_DAEMON_JOIN_H
#define RAYFISH_DAEMON_JOIN_H

#include <stdbool.h>
#include <stdint.h>

#include "util/limits.h"

#include <jansson.h>

#include "ipc/ipc_server.h"

struct daemon;
struct peer;
struct ctl_msg;

/* The IPC command `join`. */
void network_cmd_join(struct daemon *d, struct ipc_request *req);
/* `ray connect` was approved: join net, which owner minted for us (and
 * coordinates), as hostname; the network is kept as direct. req (may be
 * NULL) is answered as `join` answers. */
void join_direct(struct daemon *d, struct ipc_request *req, const uint8_t net[LIMIT_KEY_LEN],
		 const uint8_t owner[LIMIT_KEY_LEN], const char *hostname);
/* Restored from a backup (daemon/restore.c): this node is in net's roster
 * already, so it fetches the roster the DHT record names from a seed and
 * adopts it, with no admission; a network key stored for it makes it a
 * coordinator again. 0, -EEXIST (a network already), -EALREADY (a join of
 * it is under way) or -ENOMEM; the outcome is logged. */
int join_rejoin(struct daemon *d, const uint8_t net[LIMIT_KEY_LEN], const char *alias,
		const char *hostname);
/* A seed we asked came up: send it the request. */
void join_on_peer_up(struct daemon *d, struct peer *p);
/* WELCOME, PENDING and DENIED for a join in progress; true when m was one
 * (a WELCOME nobody asked for is not). */
bool join_on_message(struct daemon *d, struct peer *p, const struct ctl_msg *m);
/* Deadlines and retries, every tick. */
void joins_tick(struct daemon *d);
void joins_cancel_all(struct daemon *d);
/* [{"room_id", "state": "looking-up|asking|pending-approval|fetching"}] */
json_t *join_status(struct daemon *d);

#endif
