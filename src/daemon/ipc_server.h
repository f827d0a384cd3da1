/*
 * ipc_server: the daemon's unix-socket endpoint for `ray` commands.
 *
 * Accepts clients on the socket (mode 0666: authority comes from the peer's
 * uid, read with SO_PEERCRED, not from file permissions), reads framed
 * requests ({"cmd","args"}, see proto/ipc.h) and hands each to the dispatch
 * callback with an ipc_request. The handler answers at once or later with
 * ipc_reply / ipc_reply_error; a request whose client went away is answered
 * into the void. Malformed frames close that client only.
 */
#ifndef RAYFISH_DAEMON_IPC_SERVER_H
#define RAYFISH_DAEMON_IPC_SERVER_H

#include <jansson.h>
#include <sys/types.h>
#include <uv.h>

struct ipc_client;

struct ipc_request {
	struct ipc_client *client;  /* NULL once the client is gone */
	uid_t uid;                  /* caller's uid from SO_PEERCRED */
	pid_t pid;
	const char *cmd;            /* valid until the reply */
	json_t *args;               /* borrowed until the reply; never NULL */
	json_t *msg;                /* owned: the whole request */
};

typedef void (*ipc_dispatch_fn)(struct ipc_request *req, void *ud);

struct ipc_server {
	uv_pipe_t pipe;
	uv_loop_t *loop;
	ipc_dispatch_fn dispatch;
	void *ud;
	char path[108];
	int listening;
	struct ipc_client *clients; /* list */
};

/* Binds and listens; removes a stale socket file first. */
int ipc_server_init(struct ipc_server *s, uv_loop_t *loop, const char *path,
		    ipc_dispatch_fn dispatch, void *ud);
/* Closes every client and the socket, and unlinks the socket file. */
void ipc_server_close(struct ipc_server *s);

/* Sends {"ok":true,"result":result} (steals result; NULL = {}) and frees req. */
void ipc_reply(struct ipc_request *req, json_t *result);
/* Sends {"ok":false,"error":sentence} and frees req. */
void ipc_reply_error(struct ipc_request *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
