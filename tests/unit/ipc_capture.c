/*
 * ipc_capture: see ipc_capture.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc_capture.h"

static json_t *last;

void __wrap_ipc_reply(struct ipc_request *req, json_t *result);
void __wrap_ipc_reply_error(struct ipc_request *req, const char *fmt, ...);

static void finish(struct ipc_request *req, json_t *reply)
{
	json_decref(last);
	last = reply;
	for (size_t i = 0; i < req->n_fds; i++)
		if (req->fds[i] >= 0)
			close(req->fds[i]);
	json_decref(req->msg);
	free(req);
}

void __wrap_ipc_reply(struct ipc_request *req, json_t *result)
{
	finish(req, json_pack("{s:b, s:o}", "ok", 1, "result", result ? result : json_object()));
}

void __wrap_ipc_reply_error(struct ipc_request *req, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	finish(req, json_pack("{s:b, s:s}", "ok", 0, "error", msg));
}

struct ipc_request *ipc_capture_request(const char *cmd, json_t *args)
{
	struct ipc_request *req = calloc(1, sizeof(*req));

	assert_non_null(req);
	req->cmd = cmd;
	req->msg = json_pack("{s:s, s:o}", "cmd", cmd, "args", args ? args : json_object());
	req->args = json_object_get(req->msg, "args");
	return req;
}

json_t *ipc_capture_last(void)
{
	return last;
}

const char *ipc_capture_error(void)
{
	assert_non_null(last);
	assert_false(json_is_true(json_object_get(last, "ok")));
	return json_string_value(json_object_get(last, "error"));
}

json_t *ipc_capture_result(void)
{
	assert_non_null(last);
	if (!json_is_true(json_object_get(last, "ok")))
		fail_msg("error reply: %s", json_string_value(json_object_get(last, "error")));
	return json_object_get(last, "result");
}

void ipc_capture_reset(void)
{
	json_decref(last);
	last = NULL;
}
