/*
 * blobs: fetching a roster blob by hash from a peer, and serving ours. A
 * fetch asks over the mesh connection we hold to that peer (CTL_BLOB_GET on
 * the control stream), so a roster change costs no new connection; with no
 * mesh connection, or when the peer answers with an empty CTL_BLOB ("not
 * over this connection": it does not hold it, or our send queue there is a
 * stranger's, too small for it), or does not answer in 5 s, it opens a
 * connection with the blobs ALPN. Those are served one request each, for at
 * most BLOBS_SERVE_MS, BLOBS_SERVE_MAX at once and BLOBS_SERVE_PER_SOURCE
 * from one address. A fetched blob is checked against its BLAKE3 hash
 * before anyone sees it.
 *
 * A mesh request for a blob this node is fetching itself (a seed asked for
 * a new roster a moment before it holds it) waits for that fetch instead
 * of being sent away, for at most BLOBS_WAIT_MS (under the asker's 5 s),
 * BLOBS_WAIT_MAX requests in all and BLOBS_WAIT_PER_PEER from one peer.
 */
#ifndef RAYFISH_DAEMON_BLOBS_H
#define RAYFISH_DAEMON_BLOBS_H

#include "util/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLOBS_SERVE_MAX 32
#define BLOBS_SERVE_PER_SOURCE 4
#define BLOBS_SERVE_MS 10000
#define BLOBS_WAIT_MS 4000
#define BLOBS_WAIT_MAX 2048
#define BLOBS_WAIT_PER_PEER 4

struct daemon;
struct peer;
struct quic_conn;
struct ctl_msg;

/* data is NULL on failure (timeout, refusal, hash mismatch). */
typedef void (*blob_fetch_fn)(struct daemon *d, const uint8_t *data, size_t len, void *ud);

/* Fetches hash from peer pk; cb runs exactly once (also on shutdown). */
int blob_fetch(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN], const uint8_t hash[LIMIT_KEY_LEN],
	       blob_fetch_fn cb, void *ud);
/* Fails every fetch (callbacks run) and forgets every connection served. */
void blobs_close_all(struct daemon *d);
/* Every tick: served connections past BLOBS_SERVE_MS are closed, requests
 * waiting past BLOBS_WAIT_MS are answered "not here". */
void blobs_tick(struct daemon *d);

/* Blobs connections we answer now. */
size_t blobs_serving(struct daemon *d);
/* QUIC's accept hook for blobs connections: 0 admits, -1 refuses. */
int blobs_accept(struct daemon *d);
/* QUIC events for blobs connections. */
void blobs_on_confirmed(struct daemon *d, struct quic_conn *c);
void blobs_on_message(struct daemon *d, struct quic_conn *c, const uint8_t *buf, size_t len);
void blobs_on_closed(struct daemon *d, struct quic_conn *c);

/* Mesh control stream: CTL_BLOB_GET and CTL_BLOB; true when m was ours. */
bool blobs_on_mesh_message(struct daemon *d, struct peer *p, const struct ctl_msg *m);
/* A mesh connection closed: fetches asked over it try a blobs connection. */
void blobs_on_mesh_closed(struct daemon *d, struct quic_conn *c);

#endif
