/*
 * daemon_fixture: a daemon context without sockets, TUN, DHT or QUIC, for
 * unit tests of the daemon's state handling (network.c, admission.c,
 * roster.c). It has a home directory, an identity and a loop; peers exist
 * but are never connected, so what they would be sent is dropped.
 */
#ifndef RAYFISH_TESTS_DAEMON_FIXTURE_H
#define RAYFISH_TESTS_DAEMON_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/daemon.h"
#include "daemon/network.h"
#include "daemon/peers.h"

struct fixture {
	uv_loop_t loop;
	struct daemon d;
	char home[64];
};

/* A fresh home (mkdtemp under /tmp) and identity. 0 or -1. */
int fixture_init(struct fixture *f);
/* Frees everything and removes the home. 0 or -1. */
int fixture_close(struct fixture *f);
/* cmocka setup/teardown: a heap fixture in *state. */
int fixture_setup(void **state);
int fixture_teardown(void **state);
/* Like a daemon stop and start on the same home: networks and peers go,
 * then networks.json is loaded again. Returns networks_load's result. */
int fixture_restart(struct fixture *f);

/* A network this node created (coordinator, hostname "coord"). */
struct network *fixture_network(struct fixture *f, const char *name);
/* A peer (never connected) with a fresh identity; its key in id if set. */
struct peer *fixture_peer(struct fixture *f, struct identity *id);
/* Coordinator: admits p to n (as coordinator or not) and publishes. */
void fixture_admit(struct fixture *f, struct network *n, const struct peer *p,
		   const char *hostname, bool coordinator);
size_t fixture_count_networks(const struct fixture *f);

/* Paths under the home. */
void fixture_path(const struct fixture *f, const char *rel, char *out, size_t cap);
/* Puts a regular file in the place of the directory home/rel (made if
 * absent), so that saving anything under it fails with ENOTDIR, even for
 * root (chmod would not stop root). */
void fixture_block_dir(const struct fixture *f, const char *rel);
/* Undoes fixture_block_dir. */
void fixture_unblock_dir(const struct fixture *f, const char *rel);

#endif
