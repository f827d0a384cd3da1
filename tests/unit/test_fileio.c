/*
 * test_fileio: atomic writes (content, mode, no temp files left, exclusive
 * create), capped reads (-EFBIG, non-regular files, missing files) and
 * mkdir -p, all inside a private temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileio.h"

struct tmpdir {
	char path[64];
};

static int setup(void **state)
{
	struct tmpdir *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	strcpy(t->path, "/tmp/rayfish-test-fileio-XXXXXX");
	if (mkdtemp(t->path) == NULL) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tmpdir *t = *state;
	char cmd[128];
	int rc;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->path);
	rc = system(cmd);
	free(t);
	return rc == 0 ? 0 : -1;
}

static void join(char *out, size_t cap, const struct tmpdir *t, const char *name)
{
	snprintf(out, cap, "%s/%s", t->path, name);
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

static void test_write_read(void **state)
{
	struct tmpdir *t = *state;
	char path[128], *buf;
	struct stat st;
	size_t len;

	join(path, sizeof(path), t, "state.json");
	assert_int_equal(fileio_write_atomic(path, "{\"a\":1}", 7, 0644), 0);
	assert_int_equal(fileio_read_all(path, 100, &buf, &len), 0);
	assert_int_equal(len, 7);
	assert_string_equal(buf, "{\"a\":1}");
	free(buf);
	/* Replace with shorter content and a secret mode. */
	assert_int_equal(fileio_write_atomic(path, "xy", 2, 0600), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(fileio_read_all(path, 2, &buf, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(buf, "xy", 3);
	free(buf);
	/* Empty file. */
	assert_int_equal(fileio_write_atomic(path, NULL, 0, 0600), 0);
	assert_int_equal(fileio_read_all(path, 10, &buf, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(buf[0], '\0');
	free(buf);
	/* No temp files left behind. */
	assert_int_equal(count_entries(t->path), 1);
}

static void test_create_exclusive(void **state)
{
	struct tmpdir *t = *state;
	char path[128], *buf;
	size_t len;

	join(path, sizeof(path), t, "key");
	assert_int_equal(fileio_create_atomic(path, "first", 5, 0600), 0);
	assert_int_equal(fileio_create_atomic(path, "second", 6, 0600), -EEXIST);
	assert_int_equal(fileio_read_all(path, 100, &buf, &len), 0);
	assert_string_equal(buf, "first");
	free(buf);
	assert_int_equal(count_entries(t->path), 1);
}

static void test_read_hostile(void **state)
{
	struct tmpdir *t = *state;
	char path[128], *buf = (char *)1;
	size_t len = 99;
	char big[4096];

	join(path, sizeof(path), t, "big");
	memset(big, 'a', sizeof(big));
	assert_int_equal(fileio_write_atomic(path, big, sizeof(big), 0644), 0);
	assert_int_equal(fileio_read_all(path, sizeof(big) - 1, &buf, &len), -EFBIG);
	assert_null(buf);
	assert_int_equal(len, 0);
	assert_int_equal(fileio_read_all(path, sizeof(big), &buf, &len), 0);
	assert_int_equal(len, sizeof(big));
	free(buf);
	/* A directory and a missing file. */
	assert_int_equal(fileio_read_all(t->path, 100, &buf, &len), -EINVAL);
	join(path, sizeof(path), t, "missing");
	assert_int_equal(fileio_read_all(path, 100, &buf, &len), -ENOENT);
	/* A character device is not a regular file: never read forever. */
	assert_int_equal(fileio_read_all("/dev/zero", 100, &buf, &len), -EINVAL);
	/* Writing into a directory that does not exist. */
	join(path, sizeof(path), t, "nodir/file");
	assert_int_equal(fileio_write_atomic(path, "x", 1, 0600), -ENOENT);
	assert_int_equal(fileio_write_atomic("", "x", 1, 0600), -EINVAL);
}

static void test_mkdir_p(void **state)
{
	struct tmpdir *t = *state;
	char path[128], file[160];
	struct stat st;

	join(path, sizeof(path), t, "a/b//c/");
	assert_int_equal(fileio_mkdir_p(path, 0700), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	/* Existing directories are fine. */
	assert_int_equal(fileio_mkdir_p(path, 0700), 0);
	assert_int_equal(fileio_mkdir_p(t->path, 0700), 0);
	/* A file in the way is not. */
	snprintf(file, sizeof(file), "%s/a/f", t->path);
	assert_int_equal(fileio_write_atomic(file, "x", 1, 0600), 0);
	assert_int_equal(fileio_mkdir_p(file, 0700), -ENOTDIR);
	strcat(file, "/sub");
	assert_int_equal(fileio_mkdir_p(file, 0700), -ENOTDIR);
	assert_int_equal(fileio_mkdir_p("", 0700), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_exclusive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
