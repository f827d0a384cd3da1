/*
 * ping: `ray ping PEER`: echo probes over the peer's encrypted mesh
 * connection (PING/PONG control messages), per-probe RTT, loss, and the
 * path (direct or relay) the connection uses.
 */
#ifndef RAYFISH_DAEMON_PING_H
#define RAYFISH_DAEMON_PING_H

#include <stdbool.h>

#include "ipc/ipc_server.h"

struct daemon;
struct peer;
struct ctl_msg;

void ping_cmd(struct daemon *d, struct ipc_request *req);
/* Answers PINGs and matches PONGs; true when m was one of them. */
bool ping_on_message(struct daemon *d, struct peer *p, const struct ctl_msg *m);
void ping_cancel_all(struct daemon *d);

#endif
