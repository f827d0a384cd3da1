/*
 * member_relay: the daemon's side of member relays (the packet side is
 * transport/magicsock_member_relay.c).
 *
 * We forward for two peers only while `relay-members` is on and only when
 * both are members of one network we are in (asked by magicsock per peer
 * pair, answers cached there a few seconds, so a kicked member loses the
 * relay quickly). We offer relaying in our endpoint record when it is on
 * and we are directly reachable (a public interface address or a port
 * mapping on the router): relaying from behind a NAT that filters would
 * only add a path that fails. Every few seconds each peer gets its via
 * candidates: members of a network shared with it that offer relaying and
 * that we hold a connection to. `ray status` and `ray ping` name a relayed
 * path by the TURN server or the relaying member's hostname.
 */
#ifndef RAYFISH_DAEMON_MEMBER_RELAY_H
#define RAYFISH_DAEMON_MEMBER_RELAY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct daemon;
struct peer;

/* After the transport is up: installs the forwarding policy (or none). */
void member_relay_open(struct daemon *d);
/* Every daemon tick: recomputes the via candidates when due. */
void member_relay_tick(struct daemon *d);
/* For netcheck: {"enabled","offered","forwarded","denied","over_rate",
 * "sent","received"} (packet counts). */
json_t *member_relay_json(struct daemon *d);
/* Whether our endpoint record offers relaying now. */
bool member_relay_offered(struct daemon *d);
/*
 * The path to p as status and ping name it: "direct", "relay" or "none"
 * (no connection). For "relay", relay (cap bytes) gets the TURN server as
 * written or the relaying member's hostname; "" otherwise.
 */
const char *member_relay_path(struct daemon *d, const struct peer *p, char *relay, size_t cap);

#endif
