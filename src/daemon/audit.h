/*
 * audit: the append-only connection log $RAYFISH_HOME/audit.log. One line
 * per event and network: "<ISO time> <event> net=<name> peer=<id> host=<h>".
 * Lines are appended with O_APPEND in one write each; the file is never
 * rewritten by the daemon.
 */
#ifndef RAYFISH_DAEMON_AUDIT_H
#define RAYFISH_DAEMON_AUDIT_H

struct daemon;
struct peer;

int audit_open(struct daemon *d);
void audit_close(struct daemon *d);
/* Logs event for every network p is a member of. */
void audit_peer(struct daemon *d, const struct peer *p, const char *event);

#endif
