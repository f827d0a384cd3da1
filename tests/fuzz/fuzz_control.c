/* libFuzzer target: control-stream messages as a peer could send them. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_msg m;
	msgpack_sbuffer sb;

	if (ctl_decode(data, size, &m) != 0)
		return 0;
	/* A decoded message must encode again and decode to the same fields. */
	msgpack_sbuffer_init(&sb);
	if (ctl_encode(&m, &sb) == 0) {
		struct ctl_msg again;

		if (ctl_decode((const uint8_t *)sb.data, sb.size, &again) != 0 ||
		    again.type != m.type || again.rec_len != m.rec_len ||
		    strcmp(again.hostname, m.hostname) != 0 || strcmp(again.name, m.name) != 0 ||
		    again.has_size != m.has_size || again.size != m.size || again.off != m.off ||
		    strcmp(again.iid, m.iid) != 0 || again.has_contact != m.has_contact ||
		    memcmp(again.contact, m.contact, sizeof(m.contact)) != 0)
			__builtin_trap();
	}
	msgpack_sbuffer_destroy(&sb);
	return 0;
}
