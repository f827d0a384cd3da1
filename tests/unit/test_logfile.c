/* Unit tests for src/util/logfile: daily files, rotation and pruning,
 * reading back by time, and the crash record. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/log.h"
#include "util/logfile.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/rf-test-logfile-XXXXXX");
	log_init(LL_INFO);
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	logfile_close();
	log_set_sink(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void today(char *out, size_t cap)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, cap, "%Y-%m-%d", &tm);
}

static void test_lines_and_read_back(void **state)
{
	char path[256], day[16], *text = NULL;
	size_t len;
	struct stat st;

	(void)state;
	assert_int_equal(logfile_open(dir), 0);
	assert_string_equal(logfile_dir(), dir);
	log_info("first line %d", 1);
	log_warn("second line");
	log_debug("not at this level");
	today(day, sizeof(day));
	snprintf(path, sizeof(path), "%s/rayfish-%s.log", dir, day);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(logfile_read(dir, 0, 1u << 20, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text, " I first line 1\n"));
	assert_non_null(strstr(text, " W second line\n"));
	assert_null(strstr(text, "not at this level"));
	assert_memory_equal(text, day, 10); /* each line starts with its date */
	free(text);

	/* since: nothing is newer than tomorrow */
	assert_int_equal(logfile_read(dir, ((unsigned long long)time(NULL) + 86400) * 1000,
				      1u << 20, &text, &len),
			 0);
	assert_int_equal(len, 0);
	free(text);

	/* max: the newest bytes, from a line start */
	for (int i = 0; i < 100; i++)
		log_info("filler %03d", i);
	assert_int_equal(logfile_read(dir, 0, 200, &text, &len), 0);
	assert_true(len <= 200 && len > 0);
	assert_memory_equal(text, day, 10);
	assert_non_null(strstr(text, "filler 099\n"));
	assert_null(strstr(text, "first line"));
	free(text);
}

/* At most LOGFILE_KEEP days stay, and only log files are touched. */
static void test_prune(void **state)
{
	char path[256];
	char *text = NULL;
	size_t len;
	int kept = 0;

	(void)state;
	for (int d = 1; d <= 12; d++) {
		snprintf(path, sizeof(path), "%s/rayfish-2020-01-%02d.log", dir, d);
		assert_int_equal(fileio_write_atomic(path, "2020-01-01 00:00:00.000 I old\n", 30,
						     0640),
				 0);
	}
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	assert_int_equal(fileio_write_atomic(path, "mine", 4, 0600), 0);
	assert_int_equal(logfile_open(dir), 0); /* today's file: a new day */
	for (int d = 1; d <= 12; d++) {
		snprintf(path, sizeof(path), "%s/rayfish-2020-01-%02d.log", dir, d);
		kept += access(path, F_OK) == 0;
	}
	assert_int_equal(kept, LOGFILE_KEEP - 1); /* and today's */
	snprintf(path, sizeof(path), "%s/rayfish-2020-01-12.log", dir);
	assert_int_equal(access(path, F_OK), 0); /* the newest stay */
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	assert_int_equal(access(path, F_OK), 0);
	/* old lines read back too, oldest first */
	assert_int_equal(logfile_read(dir, 0, 1u << 20, &text, &len), 0);
	assert_memory_equal(text, "2020-01-", 8);
	free(text);
}

static void test_rotation(void **state)
{
	char path[256], day[16], line[400];
	struct stat st;

	(void)state;
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = 0;
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);

	assert_int_equal(logfile_open(dir), 0);
	dup2(null, STDERR_FILENO); /* 17 MB of lines: not into the test log */
	for (size_t i = 0; i < LOGFILE_MAX_BYTES / 400 + 200; i++)
		log_info("%s", line);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(null);
	today(day, sizeof(day));
	snprintf(path, sizeof(path), "%s/rayfish-%s.1.log", dir, day);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size <= LOGFILE_MAX_BYTES);
	snprintf(path, sizeof(path), "%s/rayfish-%s.log", dir, day);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size < LOGFILE_MAX_BYTES / 2);
}

static void test_crash_record(void **state)
{
	char path[256], first[160], *text = NULL;
	size_t len;
	int status;
	pid_t pid;

	(void)state;
	snprintf(path, sizeof(path), "%s/crash.log", dir);
	assert_int_equal(logfile_crash_take(path, first, sizeof(first)), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		log_init(LL_INFO);
		logfile_open(dir);
		logfile_crash_handlers(path);
		for (int i = 0; i < 80; i++)
			log_info("before the crash %d", i);
		raise(SIGABRT);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_int_equal(fileio_read_all(path, 1u << 20, &text, &len), 0);
	assert_memory_equal(text, "signal 6 at ", 12);
	assert_non_null(strstr(text, "before the crash 79\n"));
	assert_null(strstr(text, "before the crash 15\n")); /* only the last 64 */
	free(text);
	assert_int_equal(logfile_crash_take(path, first, sizeof(first)), 1);
	assert_memory_equal(first, "signal 6 at ", 12);
	assert_null(strchr(first, '\n'));
	assert_int_equal(access(path, F_OK), -1);
	strcat(path, ".prev");
	assert_int_equal(access(path, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines_and_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_record, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
