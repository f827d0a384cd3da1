/*
 * blobs: fetching a roster blob by hash from a peer, and serving ours, over
 * QUIC connections with the blobs ALPN. A fetched blob is checked against
 * its BLAKE3 hash before anyone sees it.
 */
#ifndef RAYFISH_DAEMON_BLOBS_H
#define RAYFISH_DAEMON_BLOBS_H

#include <stddef.h>
#include <stdint.h>

struct daemon;
struct quic_conn;

/* data is NULL on failure (timeout, refusal, hash mismatch). */
typedef void (*blob_fetch_fn)(struct daemon *d, const uint8_t *data, size_t len,
			      void *ud);

/* Fetches hash from peer pk; cb runs exactly once (also on shutdown). */
int blob_fetch(struct daemon *d, const uint8_t pk[32], const uint8_t hash[32],
	       blob_fetch_fn cb, void *ud);
void blobs_cancel_all(struct daemon *d);

/* QUIC events for blobs connections. */
void blobs_on_confirmed(struct daemon *d, struct quic_conn *c);
void blobs_on_message(struct daemon *d, struct quic_conn *c, const uint8_t *buf,
		      size_t len);
void blobs_on_closed(struct daemon *d, struct quic_conn *c);

#endif
