/*
 * fuzz_packet: packet_parse on arbitrary bytes. Besides memory safety
 * (ASan/UBSan), checks the invariants the data path relies on: a parsed
 * packet fits the buffer and its header fits the packet.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct packet_info pi;
	int rc = packet_parse(data, size, &pi);

	if (rc != 0 && rc != -EINVAL)
		abort();
	if (rc < 0)
		return 0;
	if (pi.version != 4 && pi.version != 6)
		abort();
	if (pi.total_len > size || pi.hdr_len > pi.total_len)
		abort();
	if (pi.version == 4 && pi.hdr_len < 20)
		abort();
	if (pi.version == 6 && pi.hdr_len < 40)
		abort();
	if ((pi.flags & PACKET_F_PORTS) && (pi.flags & PACKET_F_ICMP))
		abort();
	if ((pi.flags & (PACKET_F_PORTS | PACKET_F_ICMP)) && pi.frag_offset)
		abort();
	/* parsing only the packet's own bytes gives the same answer */
	{
		struct packet_info again;

		if (packet_parse(data, pi.total_len, &again) != 0 ||
		    memcmp(&pi, &again, sizeof(pi)) != 0)
			abort();
	}
	return 0;
}
