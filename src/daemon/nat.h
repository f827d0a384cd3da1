/*
 * nat: what the node knows about its own reachability. Probes the `stun`
 * servers from the shared UDP socket for the public (reflexive) address,
 * keeps a TURN allocation on the first `relay` server, publishes both in the
 * endpoint record (through records.c), and answers `ray netcheck`.
 */
#ifndef RAYFISH_DAEMON_NAT_H
#define RAYFISH_DAEMON_NAT_H

#include <stdbool.h>
#include <stddef.h>

#include "ipc/ipc_server.h"
#include "transport/magicsock.h"

struct daemon;

int nat_open(struct daemon *d);
void nat_close(struct daemon *d);
void nat_tick(struct daemon *d);
/* Our public addresses: a port mapping, the last STUN round, and what peers
 * reported in disco pongs (for the endpoint record and netcheck). */
size_t nat_public_addrs(struct daemon *d, union ms_addr *out, size_t max);
/* The stun or relay setting changed (settings reloaded): probe the new
 * STUN servers, replace the TURN allocation. */
void nat_settings_changed(struct daemon *d, bool stun, bool relay);
/* A public interface address, or a port mapped on the router: peers can
 * reach us without punching. */
bool nat_directly_reachable(struct daemon *d);
/* The TURN server in use as the user wrote it ("" when none). */
void nat_relay_name(struct daemon *d, char *out, size_t cap);
/* The relayed address of our TURN allocation, or -ENOTCONN. */
int nat_relayed_addr(struct daemon *d, union ms_addr *out);

void nat_cmd_netcheck(struct daemon *d, struct ipc_request *req);

#endif
