/*
 * test_service: the rayfish.service text: the plain case byte for byte,
 * paths with spaces and systemd's special characters quoted, a deleted
 * binary, relative paths and control characters refused, a short buffer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/service.h"

static void test_plain(void **state)
{
	const char *want = "[Unit]\nDescription=Rayfish mesh VPN daemon\n"
			   "Documentation=man:ray(1)\n"
			   "After=network-online.target\nWants=network-online.target\n\n"
			   "[Service]\nType=notify\nExecStart=\"/usr/local/bin/ray\" daemon\n"
			   "Restart=on-failure\nRestartSec=2\n"
			   "Environment=\"RAYFISH_HOME=/var/lib/rayfish\"\n"
			   "Environment=\"RAYFISH_SOCKET=/run/rayfish/rayfish.sock\"\n"
			   "StateDirectory=rayfish\nStateDirectoryMode=0700\n"
			   "RuntimeDirectory=rayfish\nRuntimeDirectoryPreserve=restart\n"
			   "LogsDirectory=rayfish\nLogsDirectoryMode=0750\n"
			   "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE\n"
			   "NoNewPrivileges=yes\nProtectSystem=strict\nReadWritePaths=-/etc\n"
			   "ProtectHome=yes\nPrivateTmp=yes\nProtectControlGroups=yes\n"
			   "ProtectKernelModules=yes\nLockPersonality=yes\nRestrictRealtime=yes\n"
			   "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK\n"
			   "SystemCallArchitectures=native\n\n"
			   "[Install]\nWantedBy=multi-user.target\n";
	char out[4096];

	(void)state;
	assert_int_equal(service_unit(out, sizeof(out), "/usr/local/bin/ray", "/var/lib/rayfish",
				      "/run/rayfish/rayfish.sock"),
			 (int)strlen(want));
	assert_string_equal(out, want);
}

/* Spaces stay inside the quotes, % is doubled, $ stays in the program
 * (systemd expands no variable there) and in Environment= (it expands
 * none at all); \ and " are escaped in Environment=. */
static void test_quoting(void **state)
{
	char out[4096];

	(void)state;
	assert_true(service_unit(out, sizeof(out), "/opt/my tools/100%/$HOME/ray",
				 "/srv/ray \"home\"\\$x%", "/run/ray sock") > 0);
	assert_non_null(strstr(out, "\nExecStart=\"/opt/my tools/100%%/$HOME/ray\" daemon\n"));
	assert_non_null(
		strstr(out, "\nEnvironment=\"RAYFISH_HOME=/srv/ray \\\"home\\\"\\\\$x%%\"\n"));
	assert_non_null(strstr(out, "\nEnvironment=\"RAYFISH_SOCKET=/run/ray sock\"\n"));
}

static void test_deleted_binary(void **state)
{
	char out[4096];

	(void)state;
	assert_int_equal(service_unit(out, sizeof(out), "/usr/local/bin/ray (deleted)",
				      "/var/lib/rayfish", "/run/r.sock"),
			 -ENOENT);
	/* Only as the ending, as the kernel writes it. */
	assert_true(service_unit(out, sizeof(out), "/opt/ray (deleted)/ray", "/var/lib/rayfish",
				 "/run/r.sock") > 0);
}

static void test_refused_paths(void **state)
{
	char out[4096];

	(void)state;
	assert_int_equal(service_unit(out, sizeof(out), "ray", "/h", "/s"), -EINVAL);
	assert_int_equal(service_unit(out, sizeof(out), "/bin/ray", "home", "/s"), -EINVAL);
	assert_int_equal(service_unit(out, sizeof(out), "/bin/ray", "/h",
				      "/s\nExecStartPre=/bin/evil"),
			 -EINVAL);
	assert_int_equal(service_unit(out, sizeof(out), "/bin/r\tay", "/h", "/s"), -EINVAL);
	assert_int_equal(service_unit(out, sizeof(out), "/bin/ray", "/h\x7f", "/s"), -EINVAL);
	/* systemd takes no quote or backslash in the program path. */
	assert_int_equal(service_unit(out, sizeof(out), "/opt/\"ray\"", "/h", "/s"), -EINVAL);
	assert_int_equal(service_unit(out, sizeof(out), "/opt/it's/ray", "/h", "/s"), -EINVAL);
	assert_int_equal(service_unit(out, sizeof(out), "/opt\\ray", "/h", "/s"), -EINVAL);
}

/* systemd itself accepts the unit, for the default paths and others
 * (when systemd-analyze is installed, as on any systemd machine). */
static void test_systemd_accepts(void **state)
{
	static const char *const homes[][2] = {
		{ "/var/lib/rayfish", "/run/rayfish/rayfish.sock" },
		{ "/srv/my ray", "/tmp/ray.sock" },
	};
	char dir[] = "/tmp/rf-test-unit-XXXXXX", path[128], cmd[256], out[8192];

	(void)state;
	if (access("/usr/bin/systemd-analyze", X_OK) != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/rayfish.service", dir);
	for (size_t i = 0; i < 2; i++) {
		FILE *f;
		int n = service_unit(out, sizeof(out), "/usr/bin/true", homes[i][0], homes[i][1]);

		assert_true(n > 0);
		f = fopen(path, "w");
		assert_non_null(f);
		fputs(out, f);
		fclose(f);
		snprintf(cmd, sizeof(cmd), "systemd-analyze verify --man=no %s >/dev/null 2>&1",
			 path);
		assert_int_equal(system(cmd), 0);
	}
	assert_non_null(strstr(out, "\nReadWritePaths=\"-/srv/my ray\"\n"));
	assert_null(strstr(out, "StateDirectory"));
	unlink(path);
	rmdir(dir);
}

static void test_too_small(void **state)
{
	char out[4096];
	int n;

	(void)state;
	n = service_unit(out, sizeof(out), "/bin/ray", "/h", "/s");
	assert_true(n > 0);
	assert_int_equal(service_unit(out, (size_t)n, "/bin/ray", "/h", "/s"), -ENAMETOOLONG);
	assert_int_equal(service_unit(out, (size_t)n + 1, "/bin/ray", "/h", "/s"), n);
	assert_int_equal(service_unit(out, 0, "/bin/ray", "/h", "/s"), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),          cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_deleted_binary), cmocka_unit_test(test_refused_paths),
		cmocka_unit_test(test_too_small),      cmocka_unit_test(test_systemd_accepts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
