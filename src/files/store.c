/*
 * store: see store.h. An import writes two temporary files in the store
 * directory, fsyncs them and renames them to their hash names, the tree
 * last: a content file without its tree is an import cut short and is
 * simply imported again.
 */
#include "files/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files/seqio.h"
#include "util/fileio.h"
#include "util/hex.h"

static void name_of(const char *dir, const uint8_t hash[LIMIT_KEY_LEN], const char *suffix,
		    char out[PATH_MAX])
{
	char hex[2 * LIMIT_KEY_LEN + 1];

	hex_encode(hash, LIMIT_KEY_LEN, hex);
	snprintf(out, PATH_MAX, "%s/%s%s", dir, hex, suffix);
}

struct import {
	int src, data, tree;
	struct seqio_window win;  /* the source */
	struct seqio_gather copy; /* the store's copy */
};

/* The outboard's reads: the source, teed into the store's copy. */
static int import_read(void *ud, uint64_t off, uint8_t *buf, size_t len)
{
	struct import *im = ud;
	int ret = seqio_window_read(&im->win, SEQIO_DATA, im->src, off, buf, len);

	return ret < 0 ? ret : seqio_gather_write(&im->copy, off, buf, len);
}

static int import_node(void *ud, uint64_t i, const uint8_t node[TREE_NODE])
{
	struct import *im = ud;

	return seqio_write_at(im->tree, i * TREE_NODE, node, TREE_NODE);
}

static int temp_open(char *path, size_t cap, const char *dir, const char *what)
{
	int fd;

	snprintf(path, cap, "%s/.import-%s-XXXXXX", dir, what);
	fd = mkostemp(path, O_CLOEXEC); /* 0600 */
	return fd < 0 ? -errno : fd;
}

static int sync_close(int fd)
{
	int ret = fsync(fd) < 0 ? -errno : 0;

	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

int file_store_import(const char *dir, int src, uint64_t *size, uint8_t hash[LIMIT_KEY_LEN])
{
	char data_tmp[PATH_MAX] = "", tree_tmp[PATH_MAX] = "", path[PATH_MAX];
	struct import im = { .src = src, .data = -1, .tree = -1 };
	struct stat st, after;
	int ret;

	if (fstat(src, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((ret = fileio_mkdir_p(dir, 0700)) < 0)
		return ret;
	if ((im.data = temp_open(data_tmp, sizeof(data_tmp), dir, "data")) < 0) {
		ret = im.data;
		data_tmp[0] = 0;
		goto out;
	}
	if ((im.tree = temp_open(tree_tmp, sizeof(tree_tmp), dir, "tree")) < 0) {
		ret = im.tree;
		tree_tmp[0] = 0;
		goto out;
	}
	im.copy.fd = im.data;
	im.copy.buf = malloc(SEQIO_DATA); /* without it, unbuffered writes */
	ret = tree_outboard((uint64_t)st.st_size, import_read, import_node, &im, hash);
	if (ret == 0)
		ret = seqio_gather_flush(&im.copy);
	if (ret == 0 && (fstat(src, &after) < 0 || after.st_size != st.st_size))
		ret = -ESTALE; /* grew while we read it */
	if (ret < 0)
		goto out;
	ret = sync_close(im.data);
	im.data = -1;
	if (ret == 0)
		ret = sync_close(im.tree);
	im.tree = -1;
	if (ret < 0)
		goto out;
	name_of(dir, hash, "", path);
	if (rename(data_tmp, path) < 0) {
		ret = -errno;
		goto out;
	}
	data_tmp[0] = 0;
	name_of(dir, hash, ".tree", path);
	if (rename(tree_tmp, path) < 0) {
		ret = -errno;
		goto out;
	}
	tree_tmp[0] = 0;
	*size = (uint64_t)st.st_size;
out:
	seqio_window_free(&im.win);
	free(im.copy.buf);
	if (im.data >= 0)
		close(im.data);
	if (im.tree >= 0)
		close(im.tree);
	if (data_tmp[0])
		unlink(data_tmp);
	if (tree_tmp[0])
		unlink(tree_tmp);
	return ret;
}

int file_store_remove(const char *dir, const uint8_t hash[LIMIT_KEY_LEN])
{
	char path[PATH_MAX];
	int ret;

	name_of(dir, hash, ".tree", path);
	ret = unlink(path) < 0 ? -errno : 0;
	name_of(dir, hash, "", path);
	if (unlink(path) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

int file_store_open(const char *dir, const uint8_t hash[LIMIT_KEY_LEN], struct file_store_reader *r)
{
	char path[PATH_MAX];
	struct stat data, tree;
	int ret;

	memset(r, 0, sizeof(*r));
	r->data = r->tree = -1;
	name_of(dir, hash, "", path);
	if ((r->data = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -errno;
	name_of(dir, hash, ".tree", path);
	if ((r->tree = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		ret = -errno;
		goto fail;
	}
	if (fstat(r->data, &data) < 0 || fstat(r->tree, &tree) < 0) {
		ret = -errno;
		goto fail;
	}
	r->size = (uint64_t)data.st_size;
	if ((uint64_t)tree.st_size != tree_nodes(r->size) * TREE_NODE) {
		ret = -EBADMSG;
		goto fail;
	}
	return 0;
fail:
	file_store_reader_close(r);
	return ret;
}

void file_store_reader_close(struct file_store_reader *r)
{
	if (r->data >= 0)
		close(r->data);
	if (r->tree >= 0)
		close(r->tree);
	r->data = r->tree = -1;
	seqio_window_free(&r->data_win);
	seqio_window_free(&r->tree_win);
}

int file_store_read(void *reader, uint64_t off, uint8_t *buf, size_t len)
{
	struct file_store_reader *r = reader;

	return seqio_window_read(&r->data_win, SEQIO_DATA, r->data, off, buf, len);
}

int file_store_node(void *reader, uint64_t i, uint8_t node[TREE_NODE])
{
	struct file_store_reader *r = reader;

	return seqio_window_read(&r->tree_win, SEQIO_TREE, r->tree, i * TREE_NODE, node, TREE_NODE);
}
