/*
 * daemon_fixture: a daemon context without sockets, TUN, DHT or QUIC, for
 * unit tests of the daemon's state handling (network.c, admission.c,
 * roster.c) and for the daemon fuzz target. It has a home directory, an
 * identity and a loop; peers exist but are never connected (unless a fuzz
 * target fakes their connections), so what they would be sent is dropped.
 *
 * The core (daemon_fixture_core.c) reports failures as return values and
 * links without cmocka, so tests/fuzz can use it; the cmocka helpers
 * (daemon_fixture.c) wrap it and fail the test instead.
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
	bool firewall; /* the daemon runs its firewall (firewall_policy.c) */
};

/* ---- core: daemon_fixture_core.c ---- */

/* A fresh home (mkdtemp under /tmp) and identity. 0 or -1. */
int fixture_init(struct fixture *f);
/* The same under dir (the fuzz target's on tmpfs, where saves cost no
 * disk). */
int fixture_init_in(struct fixture *f, const char *dir);
/* Frees everything and removes the home. 0 or -1. */
int fixture_close(struct fixture *f);
/* What a daemon stop leaves: no fetches, joins, pings, firewall, peers or
 * networks; the home, identity and loop stay. */
void fixture_stop(struct fixture *f);
/* What a daemon start on the same home makes of it after fixture_stop:
 * the rest of the daemon as new, the firewall opened when f->firewall,
 * networks.json loaded. Returns networks_load's (or policy_open's) result. */
int fixture_start(struct fixture *f);
/* fixture_stop then fixture_start. */
int fixture_restart(struct fixture *f);
/* Opens the firewall now and at every start (policy_open). 0 or -errno. */
int fixture_open_firewall(struct fixture *f);

/* A network this node created (coordinator, hostname "coord") in *out.
 * 0 or -errno. */
int fixture_make_network(struct fixture *f, const char *name, struct network **out);
/* A peer (never connected) with a fresh identity (its key in id if set). */
int fixture_make_peer(struct fixture *f, struct identity *id, struct peer **out);
/* Coordinator: admits the endpoint id to n (as coordinator or not) and
 * publishes. 0 or -errno. */
int fixture_make_admit(struct fixture *f, struct network *n, const char *id, const char *hostname,
		       bool coordinator);
size_t fixture_count_networks(const struct fixture *f);
/* Paths under the home. */
void fixture_path(const struct fixture *f, const char *rel, char *out, size_t cap);

/* ---- cmocka helpers: daemon_fixture.c ---- */

/* cmocka setup/teardown: a heap fixture in *state. */
int fixture_setup(void **state);
int fixture_teardown(void **state);
/* The core's makers, failing the test on error. */
struct network *fixture_network(struct fixture *f, const char *name);
struct peer *fixture_peer(struct fixture *f, struct identity *id);
void fixture_admit(struct fixture *f, struct network *n, const struct peer *p, const char *hostname,
		   bool coordinator);
/* Puts a regular file in the place of the directory home/rel (made if
 * absent), so that saving anything under it fails with ENOTDIR, even for
 * root (chmod would not stop root). */
void fixture_block_dir(const struct fixture *f, const char *rel);
/* Undoes fixture_block_dir. */
void fixture_unblock_dir(const struct fixture *f, const char *rel);

#endif
