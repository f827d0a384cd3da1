/*
 * test_netlink: the rtnetlink requests against the loopback device of a
 * private network namespace (the test forks, the child unshares its network
 * namespace and runs the tests there, so the host is never touched): link
 * up/down and MTU, IPv4 and IPv6 addresses with dumps, the IPv6 route that
 * the kernel refuses while the link is down, promote_secondaries, and the
 * -errno values of refused requests. Needs root; skipped (77) without.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataplane/netlink.h"

struct find {
	int family;
	uint8_t addr[16];
	unsigned prefix;
	unsigned ifindex;
	int found;
	uint32_t flags;
};

static int find_addr_cb(const struct netlink_addr *a, void *ud)
{
	struct find *f = ud;
	size_t n = a->family == AF_INET ? 4 : 16;

	if (a->family == f->family && a->prefix == f->prefix && memcmp(a->addr, f->addr, n) == 0) {
		f->found++;
		f->flags = a->flags;
		f->ifindex = a->ifindex;
	}
	return 0;
}

static int has_addr(struct netlink *nl, unsigned ifindex, const char *text, unsigned prefix,
		    uint32_t *flags)
{
	struct find f = { .prefix = prefix };

	f.family = strchr(text, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(f.family, text, f.addr), 1);
	assert_int_equal(netlink_addr_dump(nl, f.family, ifindex, find_addr_cb, &f), 0);
	if (flags)
		*flags = f.flags;
	return f.found;
}

static int find_route_cb(const struct netlink_route *r, void *ud)
{
	struct find *f = ud;

	if (r->family == f->family && r->dst_len == f->prefix && r->oif == f->ifindex &&
	    memcmp(r->dst, f->addr, r->family == AF_INET ? 4 : 16) == 0)
		f->found++;
	return 0;
}

static int has_route(struct netlink *nl, unsigned ifindex, const char *text, unsigned prefix)
{
	struct find f = { .prefix = prefix, .ifindex = ifindex };

	f.family = strchr(text, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(f.family, text, f.addr), 1);
	assert_int_equal(netlink_route_dump(nl, f.family, find_route_cb, &f), 0);
	return f.found;
}

static void test_link(void **state)
{
	struct netlink nl;
	struct netlink_link l;
	unsigned lo = if_nametoindex("lo");

	assert_true(lo > 0);
	assert_int_equal(netlink_open(&nl), 0);
	assert_int_equal(netlink_link_set_up(&nl, lo, 1), 0);
	assert_int_equal(netlink_link_get(&nl, lo, &l), 0);
	assert_true(l.flags & IFF_UP);
	assert_string_equal(l.name, "lo");
	assert_int_equal(netlink_link_set_mtu(&nl, lo, 1280), 0);
	assert_int_equal(netlink_link_get(&nl, lo, &l), 0);
	assert_int_equal(l.mtu, 1280);
	assert_int_equal(netlink_link_set_gso_max_segs(&nl, lo, 64), 0);
	assert_int_equal(netlink_link_get(&nl, lo, &l), 0);
	assert_int_equal(l.gso_max_segs, 64);
	assert_int_equal(netlink_link_set_gso_max_segs(&nl, lo, 0), -EINVAL);
	assert_int_equal(netlink_link_set_up(&nl, lo, 0), 0);
	assert_int_equal(netlink_link_get(&nl, lo, &l), 0);
	assert_false(l.flags & IFF_UP);

	/* refusals come back as -errno */
	assert_int_equal(netlink_link_get(&nl, 9999, &l), -ENODEV);
	assert_int_equal(netlink_link_set_up(&nl, 9999, 1), -ENODEV);
	assert_int_equal(netlink_link_set_mtu(&nl, lo, 0), -EINVAL);
	netlink_close(&nl);
}

static void test_addresses(void **state)
{
	struct netlink nl;
	unsigned lo = if_nametoindex("lo");
	struct in_addr a4, b4;
	struct in6_addr a6;
	uint32_t flags = 0;

	assert_int_equal(netlink_open(&nl), 0);
	assert_int_equal(netlink_link_set_up(&nl, lo, 1), 0);
	inet_pton(AF_INET, "100.64.1.2", &a4);
	inet_pton(AF_INET, "100.77.3.4", &b4);
	inet_pton(AF_INET6, "200::1", &a6);

	assert_int_equal(netlink_addr_add(&nl, lo, AF_INET, &a4, 10), 0);
	assert_int_equal(netlink_addr_add(&nl, lo, AF_INET, &a4, 10), -EEXIST);
	assert_int_equal(has_addr(&nl, lo, "100.64.1.2", 10, NULL), 1);
	assert_int_equal(has_addr(&nl, 0, "100.64.1.2", 10, NULL), 1);
	assert_int_equal(has_addr(&nl, lo + 100, "100.64.1.2", 10, NULL), 0);

	/* a second address in the same /10 survives removing the first */
	assert_int_equal(netlink_link_set_promote_secondaries(&nl, lo), 0);
	assert_int_equal(netlink_addr_add(&nl, lo, AF_INET, &b4, 10), 0);
	assert_int_equal(netlink_addr_del(&nl, lo, AF_INET, &a4, 10), 0);
	assert_int_equal(has_addr(&nl, lo, "100.64.1.2", 10, NULL), 0);
	assert_int_equal(has_addr(&nl, lo, "100.77.3.4", 10, NULL), 1);
	assert_int_equal(netlink_addr_del(&nl, lo, AF_INET, &a4, 10), -EADDRNOTAVAIL);

	assert_int_equal(netlink_addr_add(&nl, lo, AF_INET6, &a6, 128), 0);
	assert_int_equal(has_addr(&nl, lo, "200::1", 128, &flags), 1);
	assert_true(flags & IFA_F_NODAD);
	assert_false(flags & IFA_F_TENTATIVE);
	assert_int_equal(netlink_addr_del(&nl, lo, AF_INET6, &a6, 128), 0);
	assert_int_equal(has_addr(&nl, lo, "200::1", 128, NULL), 0);

	assert_int_equal(netlink_addr_add(&nl, lo, AF_INET, &a4, 33), -EINVAL);
	assert_int_equal(netlink_addr_add(&nl, lo, AF_INET6, &a6, 129), -EINVAL);
	assert_int_equal(netlink_addr_add(&nl, lo, AF_UNIX, &a4, 8), -EAFNOSUPPORT);
	assert_int_equal(netlink_addr_add(&nl, 9999, AF_INET, &a4, 10), -ENODEV);
	netlink_close(&nl);
}

static void test_routes(void **state)
{
	struct netlink nl;
	unsigned lo = if_nametoindex("lo");
	struct in6_addr net6;
	struct in_addr net4;

	assert_int_equal(netlink_open(&nl), 0);
	inet_pton(AF_INET6, "200::", &net6);
	inet_pton(AF_INET, "198.18.0.0", &net4);

	/* the kernel refuses the IPv6 route on a down link: why tun installs
	 * it only after link-up */
	assert_int_equal(netlink_link_set_up(&nl, lo, 0), 0);
	assert_true(netlink_route_add(&nl, lo, AF_INET6, &net6, 7) < 0);
	assert_int_equal(has_route(&nl, lo, "200::", 7), 0);

	assert_int_equal(netlink_link_set_up(&nl, lo, 1), 0);
	assert_int_equal(netlink_route_add(&nl, lo, AF_INET6, &net6, 7), 0);
	assert_int_equal(netlink_route_add(&nl, lo, AF_INET6, &net6, 7), -EEXIST);
	assert_int_equal(has_route(&nl, lo, "200::", 7), 1);
	assert_int_equal(netlink_route_del(&nl, lo, AF_INET6, &net6, 7), 0);
	assert_int_equal(has_route(&nl, lo, "200::", 7), 0);
	assert_int_equal(netlink_route_del(&nl, lo, AF_INET6, &net6, 7), -ESRCH);

	assert_int_equal(netlink_route_add(&nl, lo, AF_INET, &net4, 15), 0);
	assert_int_equal(has_route(&nl, lo, "198.18.0.0", 15), 1);
	assert_int_equal(netlink_route_del(&nl, lo, AF_INET, &net4, 15), 0);
	assert_int_equal(has_route(&nl, lo, "198.18.0.0", 15), 0);
	netlink_close(&nl);
}

/* Runs the tests in a child inside a fresh network namespace. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_routes),
	};
	pid_t pid;
	int st;

	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0) {
			fprintf(stderr, "test_netlink: unshare(CLONE_NEWNET): %s; skipped\n",
				strerror(errno));
			_exit(77);
		}
		_exit(cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0);
	}
	if (waitpid(pid, &st, 0) < 0)
		return 1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
