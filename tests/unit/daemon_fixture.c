/*
 * daemon_fixture: see daemon_fixture.h. Failures abort the test through
 * cmocka's asserts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon_fixture.h"
#include "mesh/group_blob.h"

int fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->home, sizeof(f->home), "/tmp/rf-test-daemon-XXXXXX");
	if (!mkdtemp(f->home) || uv_loop_init(&f->loop) != 0 ||
	    identity_generate(&f->d.id) < 0)
		return -1;
	f->d.loop = &f->loop;
	f->d.home = f->home;
	f->d.started_unix = daemon_unix_now();
	peer_table_init(&f->d.table);
	return 0;
}

static void fixture_stop(struct fixture *f)
{
	peers_close_all(&f->d);
	networks_close_all(&f->d);
	peer_table_close(&f->d.table);
	dns_table_close(&f->d.dns_table);
	uv_run(&f->loop, UV_RUN_NOWAIT); /* close callbacks */
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

int fixture_restart(struct fixture *f)
{
	fixture_stop(f);
	f->d.next_net_index = 0;
	return networks_load(&f->d);
}

struct network *fixture_network(struct fixture *f, const char *name)
{
	struct network *n = calloc(1, sizeof(*n));
	struct group_blob blob;

	assert_non_null(n);
	assert_int_equal(identity_generate(&n->key), 0);
	n->has_key = true;
	memcpy(n->pk, n->key.pk, 32);
	snprintf(n->saved.name, sizeof(n->saved.name), "%s", name);
	snprintf(n->saved.room_id, sizeof(n->saved.room_id), "%s", n->key.id);
	n->saved.coordinator = true;
	assert_int_equal(group_blob_init(&n->blob, name, GROUP_MODE_CLOSED), 0);
	assert_int_equal(store_save_key(f->home, n->saved.room_id, n->key.seed), 0);
	assert_int_equal(group_blob_init(&blob, name, GROUP_MODE_CLOSED), 0);
	assert_int_equal(group_blob_admit(&blob, f->d.id.id, "coord", true), 0);
	assert_int_equal(network_add(&f->d, n), 0);
	assert_int_equal(network_publish(&f->d, n, &blob, NULL), 0);
	return n;
}

struct peer *fixture_peer(struct fixture *f, struct identity *id)
{
	struct identity tmp;
	struct identity *use = id ? id : &tmp;
	struct peer *p;

	assert_int_equal(identity_generate(use), 0);
	p = peers_ensure(&f->d, use->pk);
	assert_non_null(p);
	identity_clear(&tmp);
	return p;
}

void fixture_admit(struct fixture *f, struct network *n, const struct peer *p,
		   const char *hostname, bool coordinator)
{
	struct group_blob blob;

	assert_int_equal(group_blob_copy(&blob, &n->blob), 0);
	assert_int_equal(group_blob_admit(&blob, p->id, hostname, coordinator), 0);
	assert_int_equal(network_publish(&f->d, n, &blob, NULL), 0);
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

/* The directory waits beside its place, so unblocking brings back what it
 * held. */
void fixture_block_dir(const struct fixture *f, const char *rel)
{
	char path[256], aside[300];
	FILE *fp;

	fixture_path(f, rel, path, sizeof(path));
	snprintf(aside, sizeof(aside), "%s.aside", path);
	if (mkdir(path, 0700) < 0)
		assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(rename(path, aside), 0);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
}

void fixture_unblock_dir(const struct fixture *f, const char *rel)
{
	char path[256], aside[300];

	fixture_path(f, rel, path, sizeof(path));
	snprintf(aside, sizeof(aside), "%s.aside", path);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rename(aside, path), 0);
}

int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || fixture_init(f) < 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	int ret = fixture_close(f);

	free(f);
	return ret;
}
