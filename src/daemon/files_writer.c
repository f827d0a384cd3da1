/*
 * files_writer: see files_writer.h.
 */
#include "daemon/files_writer.h"
#include "files/seqio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct files_wjob {
	uv_work_t work;
	struct files_writer *w;
	uint8_t *buf;
	uint64_t off;
	size_t len;
	int err;
};

struct files_writer {
	uv_loop_t *loop;
	int fd;            /* our own copy */
	unsigned inflight; /* jobs in the pool */
	int err;           /* the first write error */
	bool released;     /* the owner let go */
	uint8_t *cur;      /* the buffer being gathered */
	uint64_t cur_off;
	size_t cur_len;
	uint8_t *spare[FILES_WRITES_MAX + 1];
	size_t n_spare;
	void (*done)(void *ud, int err); /* finish asked for */
	void *done_ud;
};

static void writer_free(struct files_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->cur);
	for (size_t i = 0; i < w->n_spare; i++)
		free(w->spare[i]);
	free(w);
}

/* Everything written: fsync, then the owner hears of it. */
static void maybe_finished(struct files_writer *w)
{
	void (*done)(void *, int) = w->done;
	int err = w->err;

	if (!done || w->inflight || w->released)
		return;
	w->done = NULL;
	if (!err && fsync(w->fd) < 0)
		err = -errno;
	done(w->done_ud, err);
}

static void job_run(uv_work_t *work)
{
	struct files_wjob *j = work->data;

	j->err = seqio_write_at(j->w->fd, j->off, j->buf, j->len);
}

static void job_done(uv_work_t *work, int status)
{
	struct files_wjob *j = work->data;
	struct files_writer *w = j->w;

	w->inflight--;
	if (!w->err && (j->err < 0 || status < 0))
		w->err = j->err < 0 ? j->err : -ECANCELED;
	if (w->n_spare < FILES_WRITES_MAX + 1)
		w->spare[w->n_spare++] = j->buf;
	else
		free(j->buf);
	free(j);
	if (w->released && !w->inflight) {
		writer_free(w);
		return;
	}
	maybe_finished(w);
}

struct files_writer *files_writer_open(uv_loop_t *loop, int fd)
{
	struct files_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->loop = loop;
	w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (w->fd < 0) {
		free(w);
		return NULL;
	}
	return w;
}

int files_writer_flush(struct files_writer *w)
{
	struct files_wjob *j;

	if (!w->cur_len)
		return w->err;
	/* Too many in flight, or no job to be had: write it here. */
	if (w->inflight >= FILES_WRITES_MAX || !(j = calloc(1, sizeof(*j)))) {
		int ret = seqio_write_at(w->fd, w->cur_off, w->cur, w->cur_len);

		if (ret < 0 && !w->err)
			w->err = ret;
		w->cur_len = 0;
		return w->err;
	}
	j->w = w;
	j->buf = w->cur;
	j->off = w->cur_off;
	j->len = w->cur_len;
	j->work.data = j;
	if (uv_queue_work(w->loop, &j->work, job_run, job_done) < 0) {
		int ret = seqio_write_at(w->fd, j->off, j->buf, j->len);

		if (ret < 0 && !w->err)
			w->err = ret;
		free(j);
		w->cur_len = 0;
		return w->err;
	}
	w->inflight++;
	w->cur = NULL;
	w->cur_len = 0;
	return w->err;
}

int files_writer_put(struct files_writer *w, uint64_t off, const uint8_t *p, size_t len)
{
	int ret;

	if (w->err)
		return w->err;
	if (w->cur_len && (off != w->cur_off + w->cur_len || w->cur_len + len > SEQIO_DATA) &&
	    (ret = files_writer_flush(w)) < 0)
		return ret;
	if (len > SEQIO_DATA)
		return seqio_write_at(w->fd, off, p, len);
	if (!w->cur) {
		w->cur = w->n_spare ? w->spare[--w->n_spare] : malloc(SEQIO_DATA);
		if (!w->cur)
			return seqio_write_at(w->fd, off, p, len);
	}
	if (!w->cur_len)
		w->cur_off = off;
	memcpy(w->cur + w->cur_len, p, len);
	w->cur_len += len;
	return 0;
}

void files_writer_finish(struct files_writer *w, void (*done)(void *ud, int err), void *ud)
{
	files_writer_flush(w);
	w->done = done;
	w->done_ud = ud;
	maybe_finished(w);
}

void files_writer_release(struct files_writer *w)
{
	if (!w)
		return;
	w->released = true;
	w->done = NULL;
	if (!w->inflight)
		writer_free(w);
}
