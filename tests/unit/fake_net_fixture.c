/*
 * fake_net_fixture: cmocka setup and teardown for unit tests of the daemon
 * fixture on fake connections (fake_net.h); linked into those tests only,
 * since the daemon fuzz target uses fake_net without cmocka.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon_fixture.h"
#include "fake_net.h"

int fake_net_setup(void **state)
{
	struct fixture *f;

	if (fixture_setup(state) < 0)
		return -1;
	f = *state;
	fake_net_init(&f->d, f->d.id.pk, NULL);
	return 0;
}

int fake_net_teardown(void **state)
{
	struct fixture *f = *state;

	fixture_stop(f);
	fake_net_reset();
	return fixture_teardown(state);
}
