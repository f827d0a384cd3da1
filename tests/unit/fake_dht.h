/*
 * fake_dht: the DHT node under the daemon fixture, for unit tests of what
 * the daemon does with look-ups and puts (test_join.c). The daemon's real
 * discovery code (daemon/records.c: filtering, verification, the highest
 * sequence wins) runs on top; only the OpenDHT node below it is replaced.
 *
 * What links it sends dht_node_get_filtered, dht_node_get, dht_node_put,
 * dht_node_cancel_put and dht_node_put_announced here (--wrap, see
 * tests/unit/meson.build). Values live in memory, several per key as in the
 * real DHT: the daemon's own put under a key replaces its earlier one,
 * fake_dht_store adds anyone else's. A get is answered only when the test
 * calls fake_dht_answer, never from inside the call that started it, as the
 * real node answers on a later loop turn.
 */
#ifndef RAYFISH_TESTS_FAKE_DHT_H
#define RAYFISH_TESTS_FAKE_DHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "discovery/dht.h"
#include "discovery/record.h"

/* The handle to put in d->dht; starts empty. */
struct dht_node *fake_dht_init(void);
/* Forgets every value and drops the gets still waiting without calling
 * them back, as dht_node_close does. */
void fake_dht_reset(void);
/* Someone else stores value under key. */
void fake_dht_store(const uint8_t key[DHT_KEY_LEN], const uint8_t *value, size_t len);
/* Answers the gets waiting now (not those they start): every value under
 * their key that passes their filter, then done. ok false: the search
 * failed (no values). Returns how many gets were answered. */
size_t fake_dht_answer(bool ok);
/* Gets waiting for an answer. */
size_t fake_dht_pending(void);
/* Someone stores the signed record rec under kind's key for pk. */
void fake_dht_put_record(enum record_kind kind, const uint8_t pk[32], const uint8_t *rec,
			 size_t len);
/* The device whose identity seed is seed can be reached at ipv4 (host
 * order), port 4000: its signed endpoint record is stored. 0 or -1. */
int fake_dht_publish_endpoint(const uint8_t seed[32], uint32_t ipv4);
/* The daemon's own value under key (NULL: none), and its length. */
const uint8_t *fake_dht_own(const uint8_t key[DHT_KEY_LEN], size_t *len);

#endif
