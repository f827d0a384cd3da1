/*
 * ipc_capture: catches the daemon's IPC replies in unit tests. What links
 * it wraps ipc_reply and ipc_reply_error (--wrap, see tests/unit/meson.build):
 * the reply to a request made with ipc_capture_request lands in
 * ipc_capture_last instead of a socket, and the request is freed as the
 * real reply would free it.
 */
#ifndef RAYFISH_TESTS_IPC_CAPTURE_H
#define RAYFISH_TESTS_IPC_CAPTURE_H

#include <jansson.h>

#include "ipc/ipc_server.h"

/* A request for cmd with args (stolen), no client, no files. */
struct ipc_request *ipc_capture_request(const char *cmd, json_t *args);
/* The last reply, {"ok": true, "result": ...} or {"ok": false, "error":
 * ...}, or NULL; borrowed until the next reply or ipc_capture_reset. */
json_t *ipc_capture_last(void);
/* The last reply's error sentence (the test fails on a success). */
const char *ipc_capture_error(void);
/* The last reply's result (the test fails on an error). */
json_t *ipc_capture_result(void);
void ipc_capture_reset(void);

#endif
