/*
 * audit: the append-only connection log $RAYFISH_HOME/audit.log. One line
 * per event and network, tab-separated: the four columns of the reference
 * product's log, "<ISO time>\t<event>\t<mesh IPv4>\t<endpoint id>", then
 * "\t<network>\t<hostname>"; events are connect and disconnect, for
 * members of our networks only (a stranger's coming and going is not an
 * event of any network). Lines are appended with O_APPEND in one write
 * each; the daemon never rewrites the file.
 *
 * Bounded, because a member can connect and disconnect in a loop: each
 * peer's lines pass a token bucket (AUDIT_BURST, then one per
 * AUDIT_EVERY_MS); the next line that passes says how many were held back
 * (a last column "held=N"), so the count of events is never lost. At AUDIT_MAX_BYTES the
 * file moves to audit.log.1 (replacing the one before) and a new one starts.
 */
#ifndef RAYFISH_DAEMON_AUDIT_H
#define RAYFISH_DAEMON_AUDIT_H

#define AUDIT_BURST 40
#define AUDIT_EVERY_MS 15000
#define AUDIT_MAX_BYTES (8u << 20)

struct daemon;
struct peer;

int audit_open(struct daemon *d);
void audit_close(struct daemon *d);
/* Logs event for every network p is a member of. */
void audit_peer(struct daemon *d, struct peer *p, const char *event);

#endif
