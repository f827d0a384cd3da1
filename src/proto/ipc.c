/*
 * ipc: see ipc.h. The client side is plain blocking sockets with poll()
 * deadlines: the CLI has no event loop.
 */
#include "proto/ipc.h"
#include "util/frame.h"
#include "proto/jsonpack.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int ipc_frame_encode(const json_t *v, msgpack_sbuffer *sb)
{
	size_t start = sb->size;
	uint8_t hdr[FRAME_HEADER] = { 0 };
	size_t body;

	if (msgpack_sbuffer_write(sb, (const char *)hdr, sizeof(hdr)) < 0)
		return -ENOMEM;
	if (jsonpack_encode(v, sb) < 0)
		return -EINVAL;
	body = sb->size - start - FRAME_HEADER;
	if (body > IPC_MAX_REPLY)
		return -EMSGSIZE;
	frame_put_header((uint8_t *)sb->data + start, (uint32_t)body);
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int wait_fd(int fd, short events, long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long left = deadline - now_ms();
	int n;

	if (left <= 0)
		return -ETIMEDOUT;
	n = poll(&pfd, 1, (int)left);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

static int send_all(int fd, const char *p, size_t len, long deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int ret = wait_fd(fd, POLLOUT, deadline);

			if (ret < 0)
				return ret;
			continue;
		}
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends the first bytes of p with the descriptors attached; returns how
 * many bytes went (at least one), or -errno. */
static int send_fds(int fd, const char *p, size_t len, const int *fds, size_t n_fds, long deadline)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
	} ctl;
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	memset(&ctl, 0, sizeof(ctl));
	mh.msg_control = ctl.buf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
	for (;;) {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int ret = wait_fd(fd, POLLOUT, deadline);

			if (ret < 0)
				return ret;
			continue;
		}
		return n < 0 ? -errno : (int)n;
	}
}

static int take_reply(void *ud, const uint8_t *body, size_t len)
{
	json_t **reply = ud;

	if (*reply)
		return 0;
	return jsonpack_decode(body, len, reply) < 0 ? -EPROTO : 1;
}

static int recv_reply(int fd, json_t **reply, long deadline)
{
	struct frame_reader fr;
	char buf[16384];
	int ret = 0;

	frame_reader_init(&fr, IPC_MAX_REPLY);
	while (!*reply) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			ret = wait_fd(fd, POLLIN, deadline);
			if (ret < 0)
				goto out;
			continue;
		}
		if (n <= 0) {
			ret = n == 0 ? -EPROTO : -errno;
			goto out;
		}
		ret = frame_reader_feed(&fr, buf, (size_t)n, take_reply, reply);
		if (ret < 0) {
			ret = -EPROTO;
			goto out;
		}
	}
	ret = 0;
out:
	frame_reader_close(&fr);
	return ret;
}

int ipc_call_fds(const char *sock_path, const json_t *req, const int *fds, size_t n_fds,
		 json_t **reply, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	msgpack_sbuffer sb;
	long deadline = now_ms() + timeout_ms;
	int fd, ret;

	*reply = NULL;
	if (n_fds > IPC_MAX_FDS)
		return -EINVAL;
	if (strlen(sock_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, sock_path);
	msgpack_sbuffer_init(&sb);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto out;
	}
	ret = ipc_frame_encode(req, &sb);
	if (ret == 0 && sb.size > IPC_MAX_REQUEST + FRAME_HEADER)
		ret = -EMSGSIZE;
	if (ret < 0)
		goto out;
	ret = n_fds ? send_fds(fd, sb.data, sb.size, fds, n_fds, deadline) : 0;
	if (ret > 0)
		ret = send_all(fd, sb.data + ret, sb.size - (size_t)ret, deadline);
	else if (ret == 0)
		ret = send_all(fd, sb.data, sb.size, deadline);
	/* A daemon that turns us away says why and closes, maybe before the
	 * request is out: its sentence is still there to read. */
	if (ret == -EPIPE || ret == -ECONNRESET) {
		if (recv_reply(fd, reply, deadline) == 0)
			ret = 0;
		goto out;
	}
	if (ret < 0)
		goto out;
	ret = recv_reply(fd, reply, deadline);
out:
	if (fd >= 0)
		close(fd);
	msgpack_sbuffer_destroy(&sb);
	return ret;
}

int ipc_call(const char *sock_path, const json_t *req, json_t **reply, int timeout_ms)
{
	return ipc_call_fds(sock_path, req, NULL, 0, reply, timeout_ms);
}
