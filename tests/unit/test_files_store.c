/*
 * Unit tests of the sender's file store (files/store.c): an import stores
 * the content and its outboard under the BLAKE3 hash, 0600, and what it
 * stored streams and verifies; a file that is not regular, changes size
 * while read, or cannot be stored leaves nothing behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files/store.h"
#include "files/tree.h"
#include "util/blake3.h"

struct fixture {
	char dir[64];   /* scratch */
	char store[96]; /* the store under it */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/rf-test-files-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* A file of n pseudo-random bytes, open for reading; its content in *out. */
static int source(const struct fixture *f, size_t n, uint8_t **out)
{
	char path[128];
	uint8_t *b = malloc(n + 1);
	uint32_t x = (uint32_t)n * 2654435761u;
	int fd;

	assert_non_null(b);
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (uint8_t)(x >> 16);
	}
	snprintf(path, sizeof(path), "%s/src-%zu", f->dir, n);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	*out = b;
	return fd;
}

static size_t entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
	closedir(d);
	return n;
}

struct sink {
	const uint8_t *want;
	uint64_t next;
};

static int sink_data(void *ud, uint64_t off, const uint8_t *data, size_t len)
{
	struct sink *s = ud;

	assert_int_equal(off, s->next);
	assert_memory_equal(data, s->want + off, len);
	s->next = off + len;
	return 0;
}

/* What the store holds streams from it and verifies against the hash. */
static void stream_verifies(const struct fixture *f, const uint8_t hash[32], const uint8_t *want,
			    uint64_t size)
{
	struct file_store_reader r;
	struct tree_encoder e;
	static struct tree_decoder d;
	struct sink s = { want, 0 };
	uint8_t buf[5000];
	long n;

	assert_int_equal(file_store_open(f->store, hash, &r), 0);
	assert_int_equal(r.size, size);
	assert_int_equal(tree_encoder_init(&e, size, 0, file_store_read, file_store_node, &r), 0);
	assert_int_equal(tree_decoder_init(&d, hash, size, 0), 0);
	while ((n = tree_encoder_next(&e, buf, sizeof(buf))) > 0)
		assert_int_equal(tree_decoder_feed(&d, buf, (size_t)n, sink_data, &s), 0);
	assert_int_equal(n, 0);
	assert_true(tree_decoder_done(&d));
	assert_int_equal(s.next, size);
	file_store_reader_close(&r);
}

static void test_import_sizes(void **state)
{
	static const size_t sizes[] = { 0, 1, TREE_GROUP, 5 * TREE_GROUP + 321 };
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t hash[32], want[32], *b;
		char path[256], hex[65];
		struct stat st;
		uint64_t size = 99;
		int fd = source(f, sizes[i], &b);

		lseek(fd, 7, SEEK_SET); /* the position does not matter */
		assert_int_equal(file_store_import(f->store, fd, &size, hash), 0);
		assert_int_equal(size, sizes[i]);
		blake3_hash(b, sizes[i], want);
		assert_memory_equal(hash, want, 32);
		for (int k = 0; k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", hash[k]);
		snprintf(path, sizeof(path), "%s/%s", f->store, hex);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(st.st_size, (off_t)sizes[i]);
		snprintf(path, sizeof(path), "%s/%s.tree", f->store, hex);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(st.st_size, (off_t)(tree_nodes(sizes[i]) * TREE_NODE));
		stream_verifies(f, hash, b, sizes[i]);
		close(fd);
		free(b);
	}
	assert_int_equal(entries(f->store), 2 * 4); /* no temporary left */
}

/* The same content twice: one copy. Removed: gone, and a reader says so. */
static void test_same_content_once_and_remove(void **state)
{
	struct fixture *f = *state;
	struct file_store_reader r;
	uint8_t h1[32], h2[32], *b;
	uint64_t size;
	int fd = source(f, 40000, &b);

	assert_int_equal(file_store_import(f->store, fd, &size, h1), 0);
	assert_int_equal(file_store_import(f->store, fd, &size, h2), 0);
	assert_memory_equal(h1, h2, 32);
	assert_int_equal(entries(f->store), 2);
	assert_int_equal(file_store_remove(f->store, h1), 0);
	assert_int_equal(entries(f->store), 0);
	assert_int_equal(file_store_open(f->store, h1, &r), -ENOENT);
	assert_int_equal(file_store_remove(f->store, h1), -ENOENT);
	close(fd);
	free(b);
}

/* Not a regular file (a pipe, a directory): refused, nothing stored. */
static void test_not_regular(void **state)
{
	struct fixture *f = *state;
	uint8_t hash[32];
	uint64_t size;
	int p[2], d;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(file_store_import(f->store, p[0], &size, hash), -EINVAL);
	d = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(d >= 0);
	assert_int_equal(file_store_import(f->store, d, &size, hash), -EINVAL);
	assert_int_equal(entries(f->store), 0);
	close(p[0]);
	close(p[1]);
	close(d);
}

/*
 * The source changes under the import: pread is wrapped for this test
 * (tests/unit/meson.build), and the first read of `victim` truncates or
 * extends it first, as another process writing the file at that moment
 * would.
 */
ssize_t __real_pread64(int fd, void *buf, size_t n, off_t off);
ssize_t __wrap_pread64(int fd, void *buf, size_t n, off_t off);

static int victim = -1;
static off_t victim_size;

ssize_t __wrap_pread64(int fd, void *buf, size_t n, off_t off)
{
	if (fd == victim) {
		victim = -1;
		if (ftruncate(fd, victim_size) < 0)
			return -1;
	}
	return __real_pread64(fd, buf, n, off);
}

static void test_changed_while_read(void **state)
{
	struct fixture *f = *state;
	static const off_t to[] = { TREE_GROUP, 3 * TREE_GROUP + 5, 5 * TREE_GROUP };
	uint8_t hash[32], *b;
	uint64_t size;

	for (size_t i = 0; i < sizeof(to) / sizeof(to[0]); i++) {
		int fd = source(f, 4 * TREE_GROUP, &b);

		victim = fd;
		victim_size = to[i];
		assert_int_equal(file_store_import(f->store, fd, &size, hash), -ESTALE);
		assert_int_equal(entries(f->store), 0);
		close(fd);
		free(b);
	}
}

/* A source open for writing only cannot be read: its error, nothing
 * stored. */
static void test_unreadable(void **state)
{
	struct fixture *f = *state;
	char path[128];
	uint8_t hash[32], *b;
	uint64_t size;
	int fd = source(f, 1000, &b), wo;

	snprintf(path, sizeof(path), "%s/src-1000", f->dir);
	wo = open(path, O_WRONLY);
	assert_true(wo >= 0);
	assert_int_equal(file_store_import(f->store, wo, &size, hash), -EBADF);
	assert_int_equal(entries(f->store), 0);
	close(wo);
	close(fd);
	free(b);
}

/* The store cannot be made (a file where its directory should be): the
 * error, and the source untouched. */
static void test_store_unwritable(void **state)
{
	struct fixture *f = *state;
	uint8_t hash[32], *b;
	uint64_t size;
	int fd = source(f, 1000, &b), blocker;

	blocker = open(f->store, O_WRONLY | O_CREAT, 0600);
	assert_true(blocker >= 0);
	close(blocker);
	assert_true(file_store_import(f->store, fd, &size, hash) < 0);
	close(fd);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_import_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_content_once_and_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_regular, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_while_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_unwritable, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
