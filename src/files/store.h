/*
 * store: the sender's copies of the files it offers, by content. A file is
 * imported once, from a descriptor the user handed over (the daemon keeps
 * no capability to open the user's files itself): it is copied into the
 * store directory as <hash> and its outboard (tree.h) written beside it as
 * <hash>.tree, both 0600, so offers survive a restart of the daemon and a
 * transfer resumes from the store, not from a file the user may since have
 * changed. The same content imported twice is stored once.
 *
 * Import reads the whole file and blocks: call it from a worker thread.
 * Everything else is quick. Nothing here keeps global state; a reader owns
 * its two descriptors until file_store_reader_close.
 */
#ifndef RAYFISH_FILES_STORE_H
#define RAYFISH_FILES_STORE_H

#include <stdint.h>

#include "files/seqio.h"
#include "files/tree.h"
#include "util/limits.h"

/*
 * Copies the regular file open at src (read from offset 0, whatever its
 * position) into dir (made if absent), with its outboard. *size and hash
 * get what was stored. Returns 0, -EINVAL for a descriptor that is not a
 * regular file, -ESTALE when the file changed size while it was read, or
 * the -errno of the failed read or write; on failure nothing new stays in
 * dir.
 */
int file_store_import(const char *dir, int src, uint64_t *size, uint8_t hash[LIMIT_KEY_LEN]);

/* Removes a stored file and its outboard: 0 or -ENOENT. */
int file_store_remove(const char *dir, const uint8_t hash[LIMIT_KEY_LEN]);

/* A stored file opened for streaming: pass it as the ud of the encoder's
 * read functions (file_store_read, file_store_node). */
struct file_store_reader {
	int data, tree;
	uint64_t size;
	struct seqio_window data_win, tree_win;
};

/* -ENOENT when the store holds no such file, -EBADMSG when its outboard
 * does not fit its size. */
int file_store_open(const char *dir, const uint8_t hash[LIMIT_KEY_LEN],
		    struct file_store_reader *r);
void file_store_reader_close(struct file_store_reader *r);
int file_store_read(void *reader, uint64_t off, uint8_t *buf, size_t len);
int file_store_node(void *reader, uint64_t i, uint8_t node[TREE_NODE]);

#endif
