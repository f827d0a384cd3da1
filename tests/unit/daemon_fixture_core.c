/*
 * daemon_fixture_core: the fixture's daemon context (see daemon_fixture.h),
 * without cmocka: unit tests wrap it in asserts, the daemon fuzz target uses
 * it as it is. Stop and start follow daemon.c's daemon_stop and
 * daemon_start for the parts a fixture has (no transport, DHT, TUN, IPC).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_fixture.h"
#include "daemon/connect.h"
#include "daemon/files.h"
#include "daemon/blobs.h"
#include "daemon/join.h"
#include "daemon/ping.h"
#include "daemon/firewall_policy.h"
#include "daemon/records.h"
#include "mesh/group_blob.h"

/* The daemon as daemon_main makes it before starting: all but the
 * identity, home and loop zeroed. */
static void daemon_blank(struct fixture *f)
{
	struct identity id = f->d.id;

	memset(&f->d, 0, sizeof(f->d));
	f->d.id = id;
	f->d.loop = &f->loop;
	f->d.home = f->home;
	f->d.started_unix = daemon_unix_now();
	f->d.started_ms = uv_now(&f->loop);
	peer_table_init(&f->d.table);
}

int fixture_init(struct fixture *f)
{
	return fixture_init_in(f, "/tmp");
}

int fixture_init_in(struct fixture *f, const char *dir)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->home, sizeof(f->home), "%s/rf-test-daemon-XXXXXX", dir);
	if (!mkdtemp(f->home) || uv_loop_init(&f->loop) != 0 || identity_generate(&f->d.id) < 0)
		return -1;
	daemon_blank(f);
	return files_open(&f->d) < 0 || connect_open(&f->d) < 0 ? -1 : 0;
}

void fixture_stop(struct fixture *f)
{
	f->d.stopping = true;
	blobs_close_all(&f->d);
	joins_cancel_all(&f->d);
	ping_cancel_all(&f->d);
	files_close(&f->d);
	connect_close(&f->d);
	policy_close(&f->d);
	peers_close_all(&f->d);
	networks_close_all(&f->d);
	peer_table_close(&f->d.table);
	records_close_all(&f->d);
	dns_table_close(&f->d.dns_table);
	uv_run(&f->loop, UV_RUN_NOWAIT); /* close callbacks */
}

int fixture_start(struct fixture *f)
{
	int ret;

	daemon_blank(f);
	if ((ret = files_open(&f->d)) < 0 || (ret = connect_open(&f->d)) < 0)
		return ret;
	if (f->firewall && (ret = policy_open(&f->d)) < 0)
		return ret;
	return networks_load(&f->d);
}

int fixture_restart(struct fixture *f)
{
	fixture_stop(f);
	return fixture_start(f);
}

int fixture_open_firewall(struct fixture *f)
{
	f->firewall = true;
	return policy_open(&f->d);
}

int fixture_close(struct fixture *f)
{
	char cmd[128];

	fixture_stop(f);
	identity_clear(&f->d.id);
	if (uv_loop_close(&f->loop) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->home);
	return system(cmd) == 0 ? 0 : -1;
}

int fixture_make_network(struct fixture *f, const char *name, struct network **out)
{
	struct network *n = calloc(1, sizeof(*n));
	struct group_blob blob;
	int ret = -ENOMEM;

	*out = NULL;
	if (!n || identity_generate(&n->key) < 0)
		goto fail;
	n->has_key = true;
	memcpy(n->pk, n->key.pk, 32);
	snprintf(n->saved.name, sizeof(n->saved.name), "%s", name);
	snprintf(n->saved.room_id, sizeof(n->saved.room_id), "%s", n->key.id);
	n->saved.coordinator = true;
	if ((ret = group_blob_init(&n->blob, name, GROUP_MODE_CLOSED)) < 0)
		goto fail;
	if ((ret = store_save_key(f->home, n->saved.room_id, n->key.seed)) < 0 ||
	    (ret = group_blob_init(&blob, name, GROUP_MODE_CLOSED)) < 0) {
		group_blob_free(&n->blob);
		goto fail;
	}
	if ((ret = group_blob_admit(&blob, f->d.id.id, "coord", true)) < 0) {
		group_blob_free(&blob);
		group_blob_free(&n->blob);
		goto fail;
	}
	/* From here n belongs to the daemon. */
	if ((ret = network_add(&f->d, n)) < 0) {
		group_blob_free(&blob);
		return ret;
	}
	if ((ret = network_publish(&f->d, n, &blob, NULL)) < 0)
		return ret;
	*out = n;
	return 0;
fail:
	if (n)
		identity_clear(&n->key);
	free(n);
	return ret;
}

int fixture_make_peer(struct fixture *f, struct identity *id, struct peer **out)
{
	struct identity tmp;
	struct identity *use = id ? id : &tmp;
	int ret = identity_generate(use);

	*out = NULL;
	if (ret < 0)
		return ret;
	*out = peers_ensure(&f->d, use->pk);
	identity_clear(&tmp);
	return *out ? 0 : -ENOMEM;
}

int fixture_make_admit(struct fixture *f, struct network *n, const char *id, const char *hostname,
		       bool coordinator)
{
	struct group_blob blob;
	int ret = group_blob_copy(&blob, &n->blob);

	if (ret < 0)
		return ret;
	ret = group_blob_admit(&blob, id, hostname, coordinator);
	if (ret < 0) {
		group_blob_free(&blob);
		return ret;
	}
	return network_publish(&f->d, n, &blob, NULL);
}

size_t fixture_count_networks(const struct fixture *f)
{
	size_t count = 0;

	for (const struct network *n = f->d.nets; n; n = n->next)
		count++;
	return count;
}

void fixture_path(const struct fixture *f, const char *rel, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", f->home, rel);
}
