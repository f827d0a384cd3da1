/*
 * dht: the daemon's OpenDHT node, driven from the libuv loop.
 *
 * The node runs an OpenDHT runner (its own threads, its own UDP port: not the
 * daemon's QUIC socket), bootstraps from a "host:port,..." list and offers
 * three things to the daemon: keep a value published under a key, fetch every
 * value stored under a key, and report whether it is connected. Values are
 * opaque bytes here; discovery/record.h gives them meaning and verifies them.
 *
 * Threads: OpenDHT calls back on its own thread. Those callbacks only copy
 * what they were given into a mutex-protected queue and wake the loop with
 * uv_async; every callback to the owner runs on the loop thread. All
 * dht_node_* functions must be called from the loop thread.
 *
 * Hostile input: a key can hold anything anyone stored. Values larger than
 * DHT_VALUE_MAX are dropped before they are copied, and one get delivers at
 * most DHT_GET_VALUES_MAX values.
 *
 * Publishing: dht_node_put is an OpenDHT permanent put (OpenDHT refreshes the
 * value before it expires and re-announces it to new nodes). There is one
 * publication per key: a second put on the same key cancels the first, which
 * then lingers on storing nodes until it expires (OpenDHT's default value
 * type lives ten minutes) — harmless for sequence-numbered records, where
 * readers keep the highest. A put whose announce fails is retried after
 * DHT_PUT_RETRY_MIN_MS, doubling up to every DHT_PUT_RETRY_MS, until one
 * succeeds: an uplink that was down a moment is used as soon as it is back.
 *
 * Bootstrap names: OpenDHT resolves names on a thread of its own, which
 * dht_node_close would have to join however long the resolver takes, so
 * names are resolved here (transport/resolve.c, off the loop, abandoned on
 * close) and OpenDHT is given the numbers. A name that does not resolve is
 * asked for again after DHT_BOOT_RETRY_MIN_MS, doubling up to every
 * DHT_BOOT_RETRY_MAX_MS, until it does or the node has found peers.
 *
 * Ownership: dht_node_init allocates the node; dht_node_close stops OpenDHT
 * (joining its threads), drops pending operations without calling their
 * callbacks and closes the libuv handles. The memory is released by the
 * handles' close callbacks, so the loop must run once more after close (as
 * it does when the daemon drains its loop on shutdown).
 */
#ifndef RAYFISH_DISCOVERY_DHT_H
#define RAYFISH_DISCOVERY_DHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define DHT_KEY_LEN 20     /* OpenDHT infohash */
#define DHT_VALUE_MAX 8192 /* = RECORD_MAX */
#define DHT_GET_VALUES_MAX 256
#define DHT_PUT_RETRY_MS 15000
#define DHT_PUT_RETRY_MIN_MS 1000
#define DHT_BOOTSTRAP_PORT "4222" /* when a bootstrap entry has no port */
#define DHT_BOOT_RETRY_MIN_MS 5000
#define DHT_BOOT_RETRY_MAX_MS 60000

struct dht_node;

struct dht_node_status {
	bool running;
	uint16_t port; /* bound UDP port (IPv4 socket) */
	/* Some DHT node has answered us: it reported the address it saw us
	 * at. OpenDHT 2.4's C API exposes no routing-table statistics, so this
	 * is the best "connected" signal available; it does not go false
	 * again if the network later disappears. */
	bool connected;
	size_t public_addrs;         /* distinct addresses nodes saw us at */
	size_t puts;                 /* keys being kept published */
	size_t puts_announced;       /* of them, announced successfully */
	size_t bootstrap_unresolved; /* bootstrap names without addresses yet */
};

/* Called for each value of a get, on the loop thread; value is only valid
 * during the call. */
typedef void (*dht_node_value_fn)(void *ud, const uint8_t *value, size_t len);
/* Called once when a get or the first announce of a put finishes. */
typedef void (*dht_node_done_fn)(void *ud, bool ok);

/*
 * Starts a node on UDP port (0 = ephemeral) of every interface, in OpenDHT
 * network `network` (0 = the public OpenDHT network), and bootstraps from
 * bootstrap ("host:port,[v6addr]:port,host", NULL or "" for none; names
 * are resolved as described above, and a bootstrap that does not answer is
 * retried by OpenDHT). Returns 0, -EINVAL for a malformed bootstrap list,
 * -ENOTCONN when OpenDHT cannot start (typically: the port is taken), or
 * -ENOMEM. On failure *out is NULL; a half-built node may still be releasing
 * its handles, which completes the next time the loop runs.
 */
int dht_node_init(struct dht_node **out, uv_loop_t *loop, uint16_t port, const char *bootstrap,
		  uint32_t network);
void dht_node_close(struct dht_node *node);
/*
 * Bootstraps from one more node, given by number (AF_INET or AF_INET6 with
 * a port). Returns 0, -EAFNOSUPPORT, -EINVAL (port 0) or -ESHUTDOWN.
 */
int dht_node_bootstrap_addr(struct dht_node *node, const struct sockaddr *sa);

/*
 * Publishes value under key until cancelled, replaced or the node closes.
 * done (may be NULL) is called at most once, after the first announce
 * attempt, and never after the put was cancelled or replaced. Returns 0,
 * -EMSGSIZE for len > DHT_VALUE_MAX (or 0), -ENOMEM.
 */
int dht_node_put(struct dht_node *node, const uint8_t key[DHT_KEY_LEN], const uint8_t *value,
		 size_t len, dht_node_done_fn done, void *ud);
/* Stops publishing under key. Returns 0, or -ENOENT when nothing is. */
int dht_node_cancel_put(struct dht_node *node, const uint8_t key[DHT_KEY_LEN]);
/*
 * Whether the value published under key has been stored by some node:
 * 1 yes, 0 not yet, -ENOENT when nothing is published there. For a caller
 * that waits with its own deadline: a done callback cannot be withdrawn,
 * so its ud would have to outlive any deadline.
 */
int dht_node_put_announced(struct dht_node *node, const uint8_t key[DHT_KEY_LEN]);

/*
 * Looks key up: on_value for every value found, then on_done (ok = the search
 * completed). ud must stay valid until on_done or dht_node_close. Returns 0
 * or -ENOMEM.
 */
int dht_node_get(struct dht_node *node, const uint8_t key[DHT_KEY_LEN], dht_node_value_fn on_value,
		 dht_node_done_fn on_done, void *ud);
/*
 * As dht_node_get, but filter (1: keep) runs first on every value, on
 * OpenDHT's thread: it must be thread-safe and read only what stays fixed
 * until on_done. Values it drops are not delivered and do not count toward
 * DHT_GET_VALUES_MAX, so anyone can store junk under a key without hiding
 * the real value behind the cap.
 */
typedef int (*dht_node_filter_fn)(void *ud, const uint8_t *value, size_t len);
int dht_node_get_filtered(struct dht_node *node, const uint8_t key[DHT_KEY_LEN],
			  dht_node_filter_fn filter, dht_node_value_fn on_value,
			  dht_node_done_fn on_done, void *ud);

void dht_node_status(struct dht_node *node, struct dht_node_status *st);

#endif
