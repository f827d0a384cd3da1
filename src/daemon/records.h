/*
 * records: the daemon's side of discovery. Publishes this node's endpoint
 * record (its reachable addresses, signed by its identity) and each
 * network's signed record, and looks records up, verifying them and keeping
 * the one with the highest sequence.
 */
#ifndef RAYFISH_DAEMON_RECORDS_H
#define RAYFISH_DAEMON_RECORDS_H

#include "util/limits.h"

#include <stddef.h>
#include <stdint.h>

#include "discovery/record.h"
#include "transport/magicsock.h"

struct daemon;

/*
 * Called once per lookup on the loop thread: rec/len is the best valid record
 * (verified: kind and signer) or NULL when none was found.
 */
typedef void (*records_found_fn)(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN],
				 const uint8_t *rec, size_t len, void *ud);

int records_lookup(struct daemon *d, enum record_kind kind, const uint8_t pk[LIMIT_KEY_LEN],
		   records_found_fn cb, void *ud);

/* Frees lookups still pending; call after the DHT node is closed (it then
 * calls back no more). Their callbacks never run. */
void records_close_all(struct daemon *d);

/* Signs and publishes the endpoint record when the addresses changed or it is
 * due; cheap to call every tick. */
void records_endpoint_tick(struct daemon *d);

/* Keeps rec (a signed network record) published under the network's key. */
int records_publish_network(struct daemon *d, const uint8_t net_pk[LIMIT_KEY_LEN],
			    const uint8_t *rec, size_t len);
void records_unpublish_network(struct daemon *d, const uint8_t net_pk[LIMIT_KEY_LEN]);

/* The candidate addresses in pk's endpoint record (verified); returns how
 * many were written to out, or -EBADMSG. relay (may be NULL) gets the
 * record's TURN relayed address, or family AF_UNSPEC when it has none;
 * flags (may be NULL) its ENDPOINT_FLAG_* bits. */
int records_endpoint_addrs(const uint8_t pk[LIMIT_KEY_LEN], const uint8_t *rec, size_t len,
			   union ms_addr *out, size_t max, union ms_addr *relay, uint64_t *flags);

#endif
