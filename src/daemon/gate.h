/*
 * gate: who may hold a connection to us, and how much a peer may send.
 *
 * Members of our networks, peers we want (our dials, joins in progress,
 * seeds), joiners waiting in one of our approval queues and requesters
 * whose `ray connect` waits in our queue keep their mesh
 * connections as long as they like. Anyone else is a stranger (a would-be
 * joiner, or someone holding connections open to exhaust us): at most
 * GATE_STRANGERS of them at once, GATE_PER_SOURCE from one source address,
 * each with GATE_STRANGER_MS to become known (ask to join and be admitted
 * or queued) and a small send queue, so a connection that never reads
 * cannot make us buffer. Every peer's control messages pass a token bucket
 * (GATE_MSG_RATE a second, bursts of GATE_MSG_BURST); the excess is
 * dropped and counted. Members' accepted connections do not count against
 * their source address's share (many members behind one NAT), and the
 * QUIC pool grows with the rosters: room for every member twice over plus
 * 256, at least GATE_POOL_MIN, at most GATE_POOL_MAX.
 *
 * Log lines a peer's input causes (a malformed message, a record or invite
 * that does not check out, a connection coming and going) pass a bucket
 * too: GATE_LOG_BURST lines, then one every GATE_LOG_EVERY_MS. A known
 * peer has its own; strangers, and input that arrives with no peer (the
 * blobs ALPN), share one, so fresh identities buy no fresh lines and a
 * flood cannot push the lines about members out of the log. What is held
 * back is counted and summed up in one line a minute.
 */
#ifndef RAYFISH_DAEMON_GATE_H
#define RAYFISH_DAEMON_GATE_H

#include "util/limits.h"

#include <stdbool.h>
#include <stdint.h>

#define GATE_STRANGERS 32
#define GATE_PER_SOURCE 4
#define GATE_STRANGER_MS 15000
#define GATE_STRANGER_TXQ (256u << 10)
#define GATE_MSG_RATE 100
#define GATE_MSG_BURST 200
#define GATE_POOL_MIN 1024
#define GATE_POOL_MAX 16384
#define GATE_LOG_BURST 20
#define GATE_LOG_EVERY_MS 1000

struct daemon;
struct peer;
struct quic_conn;

/* QUIC's accept hook for mesh connections: 0 admits, -1 refuses. */
int gate_accept(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN]);
/* A mesh connection c from pk was confirmed: false when the gate closed it
 * (over the stranger budget); else the caller goes on. */
bool gate_on_confirmed(struct daemon *d, struct quic_conn *c, const uint8_t pk[LIMIT_KEY_LEN]);
/* peers.c: p now holds its mesh connection; a stranger's window starts. */
void gate_on_peer_up(struct daemon *d, struct peer *p);
/* Every tick: strangers past their window are closed. */
void gate_tick(struct daemon *d);
/* Rosters changed: sizes the QUIC pool to them. */
void gate_on_roster(struct daemon *d);
/* Whether p may send one more control message now. */
bool gate_message_ok(struct daemon *d, struct peer *p);
/* Whether a log line caused by p's input (p NULL: a connection that is no
 * peer's) may be written now; false counts it as held back. */
bool gate_log_ok(struct daemon *d, struct peer *p);
/* Diagnostics: {"strangers","refused","expired","messages_dropped",
 * "log_lines_held"}. */
void gate_counts(struct daemon *d, uint64_t out[5]);

#endif
