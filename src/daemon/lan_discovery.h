/*
 * lan_discovery: LAN discovery for the daemon. While the `mdns` setting is on, runs
 * the mDNS responder (discovery/mdns.h) and gives the addresses it learns
 * for peers we know to magicsock, so two machines on one LAN connect
 * directly even with no DHT reachable. `ray mdns on|off` switches it live
 * and persists the setting.
 */
#ifndef RAYFISH_DAEMON_LAN_DISCOVERY_H
#define RAYFISH_DAEMON_LAN_DISCOVERY_H

#include "ipc/ipc_server.h"

struct daemon;

void lan_start(struct daemon *d);
void lan_stop(struct daemon *d);
void lan_cmd_mdns(struct daemon *d, struct ipc_request *req);

#endif
