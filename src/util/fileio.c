/*
 * fileio: temp-file-and-rename writes, capped reads and mkdir -p.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/buf.h"

/* Splits path into its directory (for the temp file and the directory
 * fsync) and its base name. */
static int path_dir(const char *path, char *dir, size_t cap)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		if (cap < 2)
			return -ENAMETOOLONG;
		strcpy(dir, ".");
		return 0;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n + 1 > cap)
		return -ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

static int write_full(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd, rc = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Writes data to a fresh temp file next to path; returns its name in tmp. */
static int write_temp(const char *path, const void *data, size_t len, mode_t mode, char *tmp,
		      size_t tmp_cap)
{
	int fd, rc;

	if (snprintf(tmp, tmp_cap, "%s.tmp.XXXXXX", path) >= (int)tmp_cap)
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0) {
		rc = -errno;
		goto out;
	}
	rc = write_full(fd, data, len);
	if (rc < 0)
		goto out;
	if (fsync(fd) < 0)
		rc = -errno;
out:
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static int write_atomic(const char *path, const void *data, size_t len, mode_t mode, int exclusive)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int rc;

	if (path == NULL || *path == '\0' || (data == NULL && len > 0))
		return -EINVAL;
	rc = path_dir(path, dir, sizeof(dir));
	if (rc < 0)
		return rc;
	rc = write_temp(path, data, len, mode, tmp, sizeof(tmp));
	if (rc < 0)
		return rc;
	if (exclusive) {
		/* link() fails with EEXIST instead of replacing. */
		rc = link(tmp, path) < 0 ? -errno : 0;
		unlink(tmp);
	} else {
		rc = rename(tmp, path) < 0 ? -errno : 0;
		if (rc < 0)
			unlink(tmp);
	}
	if (rc < 0)
		return rc;
	return fsync_dir(dir);
}

int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_atomic(path, data, len, mode, 0);
}

int fileio_create_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_atomic(path, data, len, mode, 1);
}

int fileio_read_all(const char *path, size_t max_len, char **buf, size_t *len)
{
	struct stat st;
	struct buf b;
	ssize_t n;
	int fd, rc = 0;

	*buf = NULL;
	*len = 0;
	if (max_len >= SIZE_MAX - 2)
		return -EINVAL;
	/* The content, one spare byte to notice a file that grew past the
	 * cap, and the terminating NUL. */
	buf_init(&b, max_len + 2);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	if ((unsigned long long)st.st_size > max_len) {
		rc = -EFBIG;
		goto out;
	}
	if ((rc = buf_reserve(&b, (size_t)st.st_size + 2)) < 0)
		goto out;
	for (;;) {
		if (b.len + 1 >= b.cap) { /* no room for a byte and the NUL */
			if (b.len + 1 >= b.max) {
				rc = -EFBIG;
				goto out;
			}
			rc = buf_reserve(&b, b.cap < b.max - b.len ? b.cap : b.max - b.len);
			if (rc < 0)
				goto out;
		}
		n = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
	}
	if (b.len > max_len) {
		rc = -EFBIG;
		goto out;
	}
	b.data[b.len] = '\0';
	*buf = (char *)b.data;
	*len = b.len;
	b.data = NULL; /* the caller's now */
out:
	buf_free(&b);
	close(fd);
	return rc;
}

static int mkdir_one(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int fileio_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n, i;
	int rc;

	if (path == NULL || *path == '\0')
		return -EINVAL;
	n = strlen(path);
	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (i = 1; i < n; i++) {
		if (buf[i] != '/' || buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		rc = mkdir_one(buf, mode);
		buf[i] = '/';
		if (rc < 0)
			return rc;
	}
	return mkdir_one(buf, mode);
}
