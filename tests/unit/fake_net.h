/*
 * fake_net: the transport under the daemon fixture when connections matter:
 * the daemon fuzz target (tests/fuzz/fuzz_daemon.c) and unit tests of what
 * connection events do (test_peers.c).
 *
 * The daemon talks to QUIC connections and magicsock only through their
 * public functions; whatever links this is linked with --wrap for each of
 * them (fake_net_link in the top-level meson.build), so those calls land
 * here instead. A fake
 * connection is what the daemon holds as a struct quic_conn: a peer key, an
 * ALPN, a side, a send queue that only counts bytes, and the real control
 * stream reassembly (quic_rx) in front of the daemon's message handler. Its
 * events go through the daemon's own dispatch (daemon_quic_events) and keep
 * quic.h's contract: `closed` exactly once for every connection the daemon
 * knows, synchronously for a close made outside an event and after the event
 * for one made inside; a send over the queue cap closes it later, never from
 * inside the send; a connection is freed as soon as its `closed` returns, so
 * the daemon touching it afterwards is a use after free ASan reports.
 *
 * magicsock is reduced to whether a peer can be reached (an address was set,
 * or a mesh connection to it is up), which is all quic_connect asks.
 *
 * Also here, because what links it is wholly under test: the monotonic clock
 * libuv reads (clock_gettime is interposed so the caller can let timers come
 * due without waiting; untouched until fake_clock_advance) and fsync (a
 * no-op: durability is not what is tested here, and on a disk each one
 * costs milliseconds).
 */
#ifndef RAYFISH_TESTS_FAKE_NET_H
#define RAYFISH_TESTS_FAKE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/control.h"

struct daemon;
struct fake_conn;

#define FAKE_MAX_CONNS 24

/* Every message the daemon sends, decoded (the caller checks them). A
 * message that does not decode is a finding of its own: it traps here. */
typedef void (*fake_sent_fn)(struct fake_conn *c, const struct ctl_msg *m, const uint8_t *buf,
			     size_t len);

/* d gets the events; own_pk is the daemon's key (it cannot dial itself);
 * sent may be NULL. */
void fake_net_init(struct daemon *d, const uint8_t own_pk[32], fake_sent_fn sent);
/* Drops every connection and address without events, as
 * quic_endpoint_free does. */
void fake_net_reset(void);

/*
 * Connections are named by ids that are never reused, so a name the caller
 * keeps stays safe after the connection is gone (calls on it do nothing).
 * 0 names none.
 *
 * A peer dials us: the daemon's accept hook, then `confirmed`. Returns the
 * connection, or 0 when refused (limits, the gate, blobs_accept) or closed
 * at once. source: which address it came from (0..3); stalled: the peer
 * never acknowledges, so our send queue to it only grows.
 */
unsigned fake_accept(const uint8_t pk[32], bool blobs, int source, bool stalled);
/* Our dial number i (of fake_dials()) completes. lose: a mesh connection to
 * the same peer already up survives and this one is superseded. */
size_t fake_dials(void);
void fake_confirm(size_t i, bool lose);
/* The key dial number i goes to, or NULL. */
const uint8_t *fake_dial_pk(size_t i);
/* Our dial number i fails (the handshake times out). */
void fake_fail_dial(size_t i);
/* An open connection to pk (confirmed, not closing), mesh or blobs; side
 * -1 any, 0 one the peer dialled, 1 one we dialled. */
unsigned fake_find(const uint8_t pk[32], bool blobs, int side);
/* Stream bytes from the peer, through quic_rx to the daemon. */
void fake_feed(unsigned id, const uint8_t *p, size_t n);
/* One message from the peer, framed as on the wire (a message that does
 * not encode is the caller's bug: it aborts). */
void fake_feed_msg(unsigned id, const struct ctl_msg *m);
/* The peer (or the network) ends the connection. */
void fake_close(unsigned id, int reason, uint64_t code);
/* Time passes: the clock moves ms on, the bytes sent so far are
 * acknowledged unless the peer is stalled. */
void fake_clock_advance(uint64_t ms);
/* Back to real time (the start of every input). */
void fake_clock_reset(void);
/* Closes decided inside sends (queue overflow) are delivered, as the
 * loop's check phase would. */
void fake_flush(void);
/* Connections open now (dials included). */
size_t fake_count(void);

/* The hash of the last CTL_BLOB_GET the daemon sent on id, or NULL. */
const uint8_t *fake_last_get(unsigned id);
/* Whether id is a blobs connection we dialled. */
bool fake_is_blobs_client(unsigned id);
/* The peer key of the connection the daemon holds as c (for the caller's
 * checks of what it sends); c is only read while it is live. */
const uint8_t *fake_conn_pk(const struct fake_conn *c);

/* cmocka setup/teardown (fake_net_fixture.c, unit tests only): the
 * fixture's daemon on fake connections, and everything undone after. */
int fake_net_setup(void **state);
int fake_net_teardown(void **state);

#endif
