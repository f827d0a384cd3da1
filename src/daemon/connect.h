/*
 * connect: `ray contact`, `ray connect` and `ray connections`: linking two
 * devices that share no network, by the owner's contact id (see
 * mesh/contact.h), with no room id or invite (see connect.c).
 */
#ifndef RAYFISH_DAEMON_CONNECT_H
#define RAYFISH_DAEMON_CONNECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/ipc_server.h"
#include "util/limits.h"

/* The contact record lives this long in the DHT; it is refreshed every
 * half of it while the node is up. */
#define CONNECT_TTL_S 300
/* A requester asks again this often while it waits; the owner forgets a
 * request not asked again for CONNECT_IDLE_MS. */
#define CONNECT_ASK_MS 10000
#define CONNECT_IDLE_MS 60000
/* Requests the owner queues; new ones it takes (a burst, then one per
 * CONNECT_NEW_EVERY_MS); requesters it remembers as denied. */
#define CONNECT_IN_MAX 32
#define CONNECT_NEW_BURST 10
#define CONNECT_NEW_EVERY_MS 6000
#define CONNECT_DENIED_MAX 64
/* How long a requester keeps asking before it gives up. */
#define CONNECT_OUT_MS (24 * 3600 * 1000ull)

struct daemon;
struct peer;
struct ctl_msg;

/* Loads or creates the contact key (before the transport: every other call
 * needs it). 0 or -errno: a damaged key file keeps the daemon from
 * starting rather than turning into a new contact id. */
int connect_open(struct daemon *d);
/* Frees everything; requests waiting are answered with an error. */
void connect_close(struct daemon *d);

/* IPC: contact, contact_rotate, connect, connections, connections_approve,
 * connections_deny. */
void connect_cmd_contact(struct daemon *d, struct ipc_request *req);
void connect_cmd_rotate(struct daemon *d, struct ipc_request *req);
void connect_cmd_connect(struct daemon *d, struct ipc_request *req);
void connect_cmd_list(struct daemon *d, struct ipc_request *req);
void connect_cmd_approve(struct daemon *d, struct ipc_request *req);
void connect_cmd_deny(struct daemon *d, struct ipc_request *req);

/* CONNECT_REQ, _PENDING, _OK, _DENIED from p. */
bool connect_on_message(struct daemon *d, struct peer *p, const struct ctl_msg *m);
/* p's mesh connection is up: our request to it goes out. */
void connect_on_peer_up(struct daemon *d, struct peer *p);
/* Publishing, look-ups again, asking again, expiry; every tick. */
void connect_tick(struct daemon *d);

/* Whether pk has a request queued here (the gate keeps its connection). */
bool connect_is_queued(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN]);
/* Requests waiting for `ray connections approve` (status
 * "pending.connect_requests"). */
size_t connect_pending(const struct daemon *d);
/* The contact key's seed, for `ray pair backup`: 0, or -ENOENT before
 * connect_open. */
int connect_contact_seed(const struct daemon *d, uint8_t out[LIMIT_KEY_LEN]);
/* The contact id ("" before connect_open). */
const char *connect_contact_id(const struct daemon *d);
/* [{"contact_id","state":"looking-up|asking|pending-approval","endpoint_id"}]
 * for `ray connect` requests in progress. */
json_t *connect_status(struct daemon *d);

#endif
