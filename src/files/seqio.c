/*
 * seqio: see seqio.h.
 */
#include "files/seqio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int seqio_read_at(int fd, uint64_t off, uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = pread(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ESTALE; /* shorter than it was */
		buf += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int seqio_write_at(int fd, uint64_t off, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int seqio_window_read(struct seqio_window *w, size_t cap, int fd, uint64_t off, uint8_t *buf,
		      size_t len)
{
	ssize_t n;

	if (!w->buf) {
		if (!(w->buf = malloc(cap)))
			return seqio_read_at(fd, off, buf, len);
		w->cap = cap;
	}
	while (len > 0) {
		size_t take;

		if (off < w->off || off >= w->off + w->len) {
			do
				n = pread(fd, w->buf, w->cap, (off_t)off);
			while (n < 0 && errno == EINTR);
			if (n < 0)
				return -errno;
			if (n == 0)
				return -ESTALE;
			w->off = off;
			w->len = (size_t)n;
		}
		take = (size_t)(w->off + w->len - off);
		take = take < len ? take : len;
		memcpy(buf, w->buf + (off - w->off), take);
		buf += take;
		off += take;
		len -= take;
	}
	return 0;
}

void seqio_window_free(struct seqio_window *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

int seqio_gather_flush(struct seqio_gather *g)
{
	int ret = g->len ? seqio_write_at(g->fd, g->off, g->buf, g->len) : 0;

	g->off += g->len;
	g->len = 0;
	return ret;
}

int seqio_gather_write(struct seqio_gather *g, uint64_t off, const uint8_t *p, size_t len)
{
	int ret;

	if (!g->buf)
		return seqio_write_at(g->fd, off, p, len);
	if (off != g->off + g->len && (ret = seqio_gather_flush(g)) < 0)
		return ret;
	if (g->len + len > SEQIO_DATA && (ret = seqio_gather_flush(g)) < 0)
		return ret;
	if (len > SEQIO_DATA)
		return seqio_write_at(g->fd, off, p, len);
	if (g->len == 0)
		g->off = off;
	memcpy(g->buf + g->len, p, len);
	g->len += len;
	return 0;
}
