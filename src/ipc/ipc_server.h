/*
 * ipc_server: the daemon's unix-socket endpoint for `ray` commands.
 *
 * Accepts clients on the socket (mode 0666: authority comes from the peer's
 * uid, read with SO_PEERCRED, not from file permissions), reads framed
 * requests ({"cmd","args"}, see proto/ipc.h) and hands each to the dispatch
 * callback with an ipc_request. The handler answers at once or later with
 * ipc_reply / ipc_reply_error; a request whose client went away is answered
 * into the void. Malformed frames close that client only. A client may hand
 * over open files with a request (the request owns them); more than
 * LIMIT_IPC_FDS with one request is refused and all of them closed.
 *
 * Any local user can connect, so clients are bounded: IPC_MAX_CLIENTS at
 * once, of which IPC_MAX_UNTRUSTED may belong to users other than root and
 * the operator (the `trusted` callback), so those two always get in, and
 * IPC_MAX_PER_UID to any one such user. A client counts until it is gone
 * and every request it sent has been answered, so closing a connection
 * with work in flight frees nothing early. A client over a cap gets one
 * error frame saying which, and is closed.
 *
 * Deadlines: a client with no request in flight must send a complete one
 * within IPC_IDLE_MS; a frame, once begun, must be finished within
 * IPC_IDLE_MS of its first byte, whatever else is in flight (dribbling
 * bytes does not extend it). A client waiting for answers (a join waiting
 * for approval, a long ping) has no deadline; a client past one is told so
 * in one error frame and closed. A client that leaves more than
 * IPC_MAX_UNREAD bytes of replies unread is closed without a word. Log
 * lines a client's input causes share one bucket (IPC_LOG_BURST lines,
 * then one every IPC_LOG_EVERY_MS): any local user can repeat them.
 */
#ifndef RAYFISH_IPC_IPC_SERVER_H
#define RAYFISH_IPC_IPC_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "util/limits.h"
#include "util/ratelimit.h"

#define IPC_MAX_CLIENTS 128
#define IPC_MAX_UNTRUSTED 96
#define IPC_MAX_PER_UID 16
#define IPC_IDLE_MS 30000
#define IPC_MAX_UNREAD (4u << 20)
#define IPC_LOG_BURST 20
#define IPC_LOG_EVERY_MS 1000

struct ipc_client;

/* How a request made inside the daemon is answered (ipc_request_internal):
 * result on success (borrowed for the call), else error. */
typedef void (*ipc_done_fn)(void *ud, const json_t *result, const char *error);

struct ipc_request {
	struct ipc_client *client; /* NULL once the client is gone, or internal */
	ipc_done_fn done;          /* internal requests: where the answer goes */
	void *done_ud;
	uid_t uid; /* caller's uid from SO_PEERCRED */
	pid_t pid;
	const char *cmd; /* valid until the reply */
	json_t *args;    /* borrowed until the reply; never NULL */
	json_t *msg;     /* owned: the whole request */
	/* Open files the client handed over with the request (SCM_RIGHTS, see
	 * ipc_call_fds), in the order sent. Owned: the reply closes those
	 * still here; a handler that keeps one sets its slot to -1. */
	int fds[LIMIT_IPC_FDS];
	size_t n_fds;
};

typedef void (*ipc_dispatch_fn)(struct ipc_request *req, void *ud);
/* Whether uid is root or the operator (the caps above do not hold it). */
typedef bool (*ipc_trusted_fn)(uid_t uid, void *ud);

/* The caps and deadline in force: the IPC_* values after init; tests lower
 * them. */
struct ipc_limits {
	unsigned clients, untrusted, per_uid;
	uint64_t idle_ms;
	size_t unread;
};

struct ipc_server {
	uv_pipe_t pipe;
	uv_loop_t *loop;
	ipc_dispatch_fn dispatch;
	ipc_trusted_fn trusted;
	void *ud;
	char path[108];
	int listening;
	struct ipc_limits lim;
	struct ratelimit log_rl;
	struct ipc_client *clients; /* every client not yet freed */
};

/* Binds and listens; removes a stale socket file first. trusted NULL:
 * only root is. */
int ipc_server_init(struct ipc_server *s, uv_loop_t *loop, const char *path,
		    ipc_dispatch_fn dispatch, ipc_trusted_fn trusted, void *ud);
/* Closes every client and the socket, and unlinks the socket file. */
void ipc_server_close(struct ipc_server *s);

/* Whether a log line a client's request caused may be written now. */
bool ipc_server_log_ok(struct ipc_server *s);

/* Sends {"ok":true,"result":result} (steals result; NULL = {}) and frees req. */
void ipc_reply(struct ipc_request *req, json_t *result);
/* A request the daemon makes of itself (the dashboard acting for its
 * user), dispatched like one from the socket with the rights of uid; the
 * answer goes to done, once. NULL on allocation failure (done is not
 * called). args is stolen. */
struct ipc_request *ipc_request_internal(const char *cmd, json_t *args, uid_t uid, ipc_done_fn done,
					 void *ud);
/* Sends {"ok":false,"error":sentence} and frees req. */
void ipc_reply_error(struct ipc_request *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
