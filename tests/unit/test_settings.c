/* Unit tests for src/home/settings: validation, load, env override, save. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "home/settings.h"

static char home[64];

static int setup(void **state)
{
	(void)state;
	snprintf(home, sizeof(home), "/tmp/rf-test-settings-XXXXXX");
	return mkdtemp(home) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/settings.json", home);
	unlink(path);
	rmdir(home);
	return 0;
}

static void write_file(const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/settings.json", home);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_validate(void **state)
{
	char err[128];
	static const char *good[][2] = {
		{ "dht-bootstrap", "198.51.100.1:4222" },
		{ "dht-bootstrap", "a.example:1,b.example:2" },
		{ "dht-bootstrap", "[2001:db8::1]:4222" },
		{ "relay", "turn:u:p@198.51.100.2:3478" },
		{ "relay", "" },
		{ "listen-port", "41383" },
		{ "tun-name", "ray0" },
		{ "dns-listen", "127.0.0.1:53" },
		{ "dns-upstreams", "1.1.1.1,2001:db8::53" },
		{ "mdns", "off" },
		{ "operator", "1000" },
		{ "tun-offload", "off" },
		{ "tun-offload", "on" },
	};
	static const char *bad[][2] = {
		{ "dht-bootstrap", "nohostport" },
		{ "dht-bootstrap", "host:0" },
		{ "dht-bootstrap", "host:99999" },
		{ "dht-bootstrap", "a:1,,b:2" },
		{ "dht-bootstrap", ":53" },
		{ "dht-bootstrap", "[2001:db8::1:4222" },
		{ "relay", "stun:u:p@h:1" },
		{ "relay", "turn:nopass@h:1" },
		{ "listen-port", "-1" },
		{ "listen-port", "41383x" },
		{ "listen-port", "" },
		{ "tun-name", "a-name-far-too-long" },
		{ "tun-name", "ray 0" },
		{ "mdns", "yes" },
		{ "operator", "root" },
		{ "tun-offload", "0" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(settings_validate(settings_key(good[i][0]), good[i][1], err,
						   sizeof(err)),
				 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(settings_validate(settings_key(bad[i][0]), bad[i][1], err,
						   sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, bad[i][0]));
	}
	assert_int_equal(settings_key("nope"), -1);
}

static void test_defaults_and_save(void **state)
{
	struct settings s, t;
	char err[128];

	(void)state;
	assert_int_equal(settings_load(&s, home, err, sizeof(err)), 0);
	assert_string_equal(settings_get(&s, SET_LISTEN_PORT), "41383");
	assert_string_equal(settings_get(&s, SET_TUN_NAME), "ray0");
	assert_int_equal(settings_set(&s, SET_LISTEN_PORT, "5000", err, sizeof(err)), 0);
	assert_int_equal(settings_set(&s, SET_TUN_NAME, "bad name", err, sizeof(err)), -EINVAL);
	assert_int_equal(settings_save(&s, home), 0);
	{
		/* It may hold TURN passwords: owner only. */
		char path[512];
		struct stat st;

		snprintf(path, sizeof(path), "%s/settings.json", home);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	settings_free(&s);
	assert_int_equal(settings_load(&t, home, err, sizeof(err)), 0);
	assert_string_equal(settings_get(&t, SET_LISTEN_PORT), "5000");
	assert_string_equal(settings_get(&t, SET_TUN_NAME), "ray0");
	assert_int_equal(settings_set(&t, SET_LISTEN_PORT, NULL, err, sizeof(err)), 0);
	assert_string_equal(settings_get(&t, SET_LISTEN_PORT), "41383");
	settings_free(&t);
}

static void test_env_override(void **state)
{
	struct settings s;
	char err[128];

	(void)state;
	write_file("{\"tun-name\": \"file0\"}");
	setenv("RAYFISH_TUN_NAME", "env0", 1);
	assert_int_equal(settings_load(&s, home, err, sizeof(err)), 0);
	assert_string_equal(settings_get(&s, SET_TUN_NAME), "env0");
	settings_free(&s);
	setenv("RAYFISH_TUN_NAME", "bad name!", 1);
	assert_int_equal(settings_load(&s, home, err, sizeof(err)), -EINVAL);
	settings_free(&s);
	unsetenv("RAYFISH_TUN_NAME");
}

static void test_bad_files(void **state)
{
	static const char *bad[] = {
		"{",
		"[]",
		"{\"tun-name\": 5}",
		"{\"nope\": \"x\"}",
		"{\"listen-port\": \"0\"}",
		"{\"mdns\": \"on\", \"mdns\": \"off\"}",
		"\x01\x02garbage",
	};
	struct settings s;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(bad[i]);
		assert_int_equal(settings_load(&s, home, err, sizeof(err)), -EINVAL);
		assert_true(strlen(err) > 0);
		settings_free(&s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_defaults_and_save),
		cmocka_unit_test(test_env_override),
		cmocka_unit_test(test_bad_files),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
