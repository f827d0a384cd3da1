/*
 * Unit tests for src/daemon/audit.c: only members are logged; a member
 * connecting in a loop gets AUDIT_BURST lines, then the next line that
 * passes counts what was held back; a full file moves to audit.log.1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/audit.h"
#include "daemon_fixture.h"

/* The whole of home/rel as a string (caller frees); NULL when absent. */
static char *slurp(const struct fixture *f, const char *rel)
{
	char path[256], *buf;
	FILE *fp;
	long len;

	fixture_path(f, rel, path, sizeof(path));
	fp = fopen(path, "r");
	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	return buf;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

static struct peer *member(struct fixture *f)
{
	struct network *n = fixture_network(f, "team");
	struct peer *p = fixture_peer(f, NULL);

	fixture_admit(f, n, p, "bob", false);
	assert_int_equal(audit_open(&f->d), 0);
	return p;
}

static void test_strangers_not_logged(void **state)
{
	struct fixture *f = *state;
	struct peer *stranger;
	char *log;

	member(f);
	stranger = fixture_peer(f, NULL);
	audit_peer(&f->d, stranger, "connect");
	log = slurp(f, "audit.log");
	assert_non_null(log);
	assert_int_equal(count_lines(log), 0);
	free(log);
	audit_close(&f->d);
}

static void test_reconnect_loop_bounded(void **state)
{
	struct fixture *f = *state;
	struct peer *p = member(f);
	char *log, want[64];

	for (int i = 0; i < 1000; i++)
		audit_peer(&f->d, p, i % 2 ? "disconnect" : "connect");
	log = slurp(f, "audit.log");
	assert_int_equal(count_lines(log), AUDIT_BURST);
	assert_non_null(strstr(log, "Z\tconnect\t100."));
	assert_non_null(strstr(log, "\tteam\tbob\n"));
	assert_null(strstr(log, "held="));
	free(log);

	/* A token later, the next line says how many went unwritten. */
	p->audit_rl.fill_ms -= AUDIT_EVERY_MS;
	audit_peer(&f->d, p, "connect");
	log = slurp(f, "audit.log");
	assert_int_equal(count_lines(log), AUDIT_BURST + 1);
	snprintf(want, sizeof(want), "\tteam\tbob\theld=%d\n", 1000 - AUDIT_BURST);
	assert_non_null(strstr(log, want));
	free(log);
	audit_close(&f->d);
}

static void test_full_file_rotates(void **state)
{
	struct fixture *f = *state;
	struct peer *p = member(f);
	char path[256], *log;
	struct stat st;

	fixture_path(f, "audit.log", path, sizeof(path));
	assert_int_equal(truncate(path, AUDIT_MAX_BYTES), 0);
	audit_peer(&f->d, p, "connect");
	fixture_path(f, "audit.log.1", path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, AUDIT_MAX_BYTES);
	log = slurp(f, "audit.log");
	assert_int_equal(count_lines(log), 1);
	assert_non_null(strstr(log, "\tconnect\t"));
	assert_non_null(strstr(log, "\tteam\tbob\n"));
	free(log);
	fixture_path(f, "audit.log", path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	audit_close(&f->d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_strangers_not_logged, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_loop_bounded, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_full_file_rotates, fixture_setup,
						fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
