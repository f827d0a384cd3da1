/*
 * dashboard: `ray dashboard`, a web page the daemon serves on loopback
 * (see dashboard.c): networks, peers with their paths and live traffic,
 * waiting join and connection requests with buttons to answer them, and
 * the firewall rules. Only a browser holding the token made at each start
 * gets in.
 */
#ifndef RAYFISH_DAEMON_DASHBOARD_H
#define RAYFISH_DAEMON_DASHBOARD_H

#include "ipc/ipc_server.h"

struct daemon;

/* IPC dashboard: starts the server if it is not running; {"url"}. */
void dashboard_cmd(struct daemon *d, struct ipc_request *req);
/* Renders the state the page reads, while someone looks; every tick. */
void dashboard_tick(struct daemon *d);
void dashboard_close(struct daemon *d);

/* The page (dashboard_page.c). */
extern const char dashboard_page[];

#endif
