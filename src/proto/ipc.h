/*
 * ipc: the CLI ⇄ daemon message format.
 *
 * A request is the JSON object {"cmd": NAME, "args": {...}}; a reply is
 * {"ok": true, "result": VALUE} or {"ok": false, "error": SENTENCE}. Both
 * travel as one frame (frame.h) whose body is the msgpack form (jsonpack.h).
 * ipc_call is the blocking client used by the CLI.
 */
#ifndef RAYFISH_PROTO_IPC_H
#define RAYFISH_PROTO_IPC_H

#include "util/limits.h"

#include <jansson.h>
#include <msgpack.h>

/*
 * What the daemon reads from a local client is small and checked hard; what
 * the CLI reads from the daemon (a status of thousands of peers) may be
 * large, and comes from root.
 */
#define IPC_MAX_REQUEST LIMIT_IPC_REQUEST
#define IPC_MAX_REPLY LIMIT_IPC_REPLY
#define IPC_MAX_FDS LIMIT_IPC_FDS

/* Appends header + msgpack body of v to sb. Returns 0, -EINVAL or
 * -EMSGSIZE (body over IPC_MAX_REPLY). */
int ipc_frame_encode(const json_t *v, msgpack_sbuffer *sb);

/*
 * Sends req to the daemon at sock_path and waits up to timeout_ms for the
 * reply. Returns 0 with *reply set (a new reference), -ENOENT/-ECONNREFUSED
 * when no daemon answers, -ETIMEDOUT, -EMSGSIZE for a request over
 * IPC_MAX_REQUEST, or -EPROTO for a malformed reply (or one over
 * IPC_MAX_REPLY).
 */
int ipc_call(const char *sock_path, const json_t *req, json_t **reply, int timeout_ms);
/*
 * The same, handing the daemon n_fds open files (at most IPC_MAX_FDS) with
 * the request: they travel with its first bytes (SCM_RIGHTS), so the
 * daemon reads or writes what this process may, not what it could itself.
 * The caller's descriptors stay open. -EINVAL for too many.
 */
int ipc_call_fds(const char *sock_path, const json_t *req, const int *fds, size_t n_fds,
		 json_t **reply, int timeout_ms);

#endif
