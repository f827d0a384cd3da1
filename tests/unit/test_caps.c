/*
 * test_caps: caps_restrict in a forked child (the test process keeps its
 * own capabilities). The child reports its return value and its
 * /proc/self/status, then executes cat on /proc/self/status, so the test
 * sees both what the thread kept and what a program it runs gets as root.
 * Needs root; skipped without.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/caps.h"

#define KEEP (CAPS_BIT(CAP_NET_ADMIN) | CAPS_BIT(CAP_NET_BIND_SERVICE))
#define EXEC_MARK "\n--- exec ---\n"

struct report {
	int ret;
	char self[16384]; /* the child's own status */
	char exec[16384]; /* what cat, executed by it, saw */
};

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			_exit(126);
		p += n;
		len -= (size_t)n;
	}
}

static void child(int fd, uint64_t first, uint64_t keep)
{
	char buf[8192];
	ssize_t n;
	int ret = 0, sfd;

	if (first)
		ret = caps_restrict(first);
	if (ret == 0)
		ret = caps_restrict(keep);
	write_all(fd, &ret, sizeof(ret));
	sfd = open("/proc/self/status", O_RDONLY);
	n = sfd >= 0 ? read(sfd, buf, sizeof(buf) - 1) : -1;
	if (n > 0)
		write_all(fd, buf, (size_t)n);
	write_all(fd, EXEC_MARK, strlen(EXEC_MARK));
	dup2(fd, 1);
	execl("/bin/cat", "cat", "/proc/self/status", (char *)NULL);
	_exit(127);
}

/* Restricts to first (when not 0), then to keep, in a child. */
static void run(uint64_t first, uint64_t keep, struct report *r)
{
	static char buf[16384];
	size_t len = 0;
	int fds[2], st;
	char *mark;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		child(fds[1], first, keep);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n = read(fds[0], buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fds[0]);
	buf[len] = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(len > sizeof(int));
	memcpy(&r->ret, buf, sizeof(int));
	mark = strstr(buf + sizeof(int), EXEC_MARK);
	assert_non_null(mark);
	*mark = 0;
	snprintf(r->self, sizeof(r->self), "%s", buf + sizeof(int));
	snprintf(r->exec, sizeof(r->exec), "%s", mark + strlen(EXEC_MARK));
}

/* A "Name:\tvalue" line of /proc/PID/status, read as hex (Cap*) or not. */
static uint64_t field(const char *status, const char *name, int base)
{
	char key[32];
	const char *p;

	snprintf(key, sizeof(key), "\n%s:", name);
	p = strstr(status, key);
	assert_non_null(p);
	return strtoull(p + strlen(key), NULL, base);
}

static void test_keeps_only_named(void **state)
{
	struct report r;

	(void)state;
	run(0, KEEP, &r);
	assert_int_equal(r.ret, 0);
	assert_int_equal(field(r.self, "CapEff", 16), KEEP);
	assert_int_equal(field(r.self, "CapPrm", 16), KEEP);
	assert_int_equal(field(r.self, "CapInh", 16), 0);
	assert_int_equal(field(r.self, "CapAmb", 16), 0);
	assert_int_equal(field(r.self, "CapBnd", 16), KEEP);
	assert_int_equal(field(r.self, "NoNewPrivs", 10), 1);
	/* Root executing a program normally gets every capability back; the
	 * bounding set leaves it exactly the kept ones. */
	assert_int_equal(field(r.exec, "CapEff", 16), KEEP);
	assert_int_equal(field(r.exec, "CapPrm", 16), KEEP);
	assert_int_equal(field(r.exec, "CapBnd", 16), KEEP);
	assert_int_equal(field(r.exec, "NoNewPrivs", 10), 1);
}

/* Asking to keep a capability already given up is no error: it stays
 * gone, and the bounding set needs no CAP_SETPCAP for what is not in it. */
static void test_again_keeps_what_is_left(void **state)
{
	struct report r;

	(void)state;
	run(CAPS_BIT(CAP_NET_ADMIN), KEEP, &r);
	assert_int_equal(r.ret, 0);
	assert_int_equal(field(r.self, "CapEff", 16), CAPS_BIT(CAP_NET_ADMIN));
	assert_int_equal(field(r.self, "CapPrm", 16), CAPS_BIT(CAP_NET_ADMIN));
	assert_int_equal(field(r.self, "CapBnd", 16), CAPS_BIT(CAP_NET_ADMIN));
	assert_int_equal(field(r.exec, "CapEff", 16), CAPS_BIT(CAP_NET_ADMIN));
}

/* Shrinking the bounding set further takes CAP_SETPCAP, gone by now. */
static void test_shrinking_later_fails(void **state)
{
	struct report r;

	(void)state;
	run(KEEP, CAPS_BIT(CAP_NET_ADMIN), &r);
	assert_int_equal(r.ret, -EPERM);
	assert_int_equal(field(r.self, "CapBnd", 16), KEEP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keeps_only_named),
		cmocka_unit_test(test_again_keeps_what_is_left),
		cmocka_unit_test(test_shrinking_later_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
