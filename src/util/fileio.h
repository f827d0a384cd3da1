/*
 * fileio: crash-safe whole-file reads and writes for state files and keys.
 *
 * A write goes to a temporary file in the same directory, is fsynced,
 * renamed over the target and the directory is fsynced, so a crash leaves
 * either the old or the new content, never a torn file. Secrets are written
 * with mode 0600 from the moment the temporary file exists. Reads refuse
 * files above a caller-given cap (-EFBIG) so a corrupt or hostile file can
 * never make us allocate without bound. All functions return 0 or -errno.
 */
#ifndef RAYFISH_UTIL_FILEIO_H
#define RAYFISH_UTIL_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Replaces path with data atomically; the file gets exactly `mode`. */
int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Like fileio_write_atomic but never replaces an existing file: returns
 * -EEXIST when path exists (also when another process wins a race), so two
 * creators can't both believe their content is the one on disk. */
int fileio_create_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Reads the whole regular file. On success *buf (caller frees) holds *len
 * bytes plus a terminating NUL not counted in *len. -EFBIG when the file
 * is larger than max_len, -EINVAL when it is not a regular file. */
int fileio_read_all(const char *path, size_t max_len, char **buf, size_t *len);
/* mkdir -p: creates missing components with `mode`; an existing directory
 * is fine, an existing non-directory is -ENOTDIR. */
int fileio_mkdir_p(const char *path, mode_t mode);

#endif
