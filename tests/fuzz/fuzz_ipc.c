/* libFuzzer target: IPC frames → jsonpack decoder, as the daemon reads them. */
#include <stddef.h>
#include <stdint.h>

#include "util/frame.h"
#include "proto/ipc.h"
#include "proto/jsonpack.h"

static int on_frame(void *ud, const uint8_t *body, size_t len)
{
	json_t *v = NULL;

	(void)ud;
	if (jsonpack_decode(body, len, &v) == 0) {
		msgpack_sbuffer sb;

		msgpack_sbuffer_init(&sb);
		ipc_frame_encode(v, &sb);
		msgpack_sbuffer_destroy(&sb);
		json_decref(v);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_reader fr;
	size_t half = size / 2;

	frame_reader_init(&fr, IPC_MAX_REQUEST);
	if (frame_reader_feed(&fr, data, half, on_frame, NULL) == 0)
		frame_reader_feed(&fr, data + half, size - half, on_frame, NULL);
	frame_reader_close(&fr);
	return 0;
}
