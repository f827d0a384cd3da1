/*
 * magicdns: runs the Magic DNS server for the daemon. Keeps the name table
 * equal to the rosters (every member, ourselves included, as host.net.ray
 * and host.ray), starts the server on `dns-listen` and points the system
 * resolver at it while the VPN is up, and restores the resolver exactly on
 * `ray down`, on exit, and at the next start after a crash.
 */
#ifndef RAYFISH_DAEMON_MAGICDNS_H
#define RAYFISH_DAEMON_MAGICDNS_H

struct daemon;

/* At start, before anything touches DNS: undo what a crashed run left. */
void magicdns_recover(struct daemon *d);
/* Starts the server and configures the resolver. Returns 0 or -errno. */
int magicdns_up(struct daemon *d);
void magicdns_down(struct daemon *d);
/* Rebuilds the name table from every network's roster. */
void magicdns_sync(struct daemon *d);
void magicdns_close(struct daemon *d);

#endif
