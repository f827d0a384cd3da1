/*
 * daemon_fixture: the cmocka side of daemon_fixture.h. The core's makers
 * fail the test through cmocka's asserts here, and the setup/teardown pair
 * keeps a heap fixture in cmocka's state.
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

struct network *fixture_network(struct fixture *f, const char *name)
{
	struct network *n;

	assert_int_equal(fixture_make_network(f, name, &n), 0);
	return n;
}

struct peer *fixture_peer(struct fixture *f, struct identity *id)
{
	struct peer *p;

	assert_int_equal(fixture_make_peer(f, id, &p), 0);
	return p;
}

void fixture_admit(struct fixture *f, struct network *n, const struct peer *p, const char *hostname,
		   bool coordinator)
{
	assert_int_equal(fixture_make_admit(f, n, p->id, hostname, coordinator), 0);
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
