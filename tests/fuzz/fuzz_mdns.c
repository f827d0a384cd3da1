/*
 * fuzz_mdns: mdns_parse over arbitrary bytes, the decoder every packet
 * received on port 5353 goes through. Whatever it accepts must be
 * self-consistent: the peer count within the cap, each peer with a port and
 * address counts within their arrays, and a found peer's announcement must
 * survive being built again and re-parsed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discovery/mdns.h"
#include "util/hex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[MDNS_MAX_PACKET];
	struct mdns_parsed p, again;
	struct mdns_self s;
	size_t i;
	int n;

	if (mdns_parse(data, size, &p) < 0)
		return 0;
	if (p.n_found > MDNS_MAX_FOUND)
		abort();
	for (i = 0; i < p.n_found; i++) {
		const struct mdns_found *f = &p.found[i];

		if (f->port == 0 || f->n_v4 > MDNS_MAX_HOST_ADDRS || f->n_v6 > MDNS_MAX_HOST_ADDRS)
			abort();
		memset(&s, 0, sizeof(s));
		hex_encode(f->id, 32, s.id_hex);
		s.port = f->port;
		s.n_v4 = f->n_v4;
		s.n_v6 = f->n_v6;
		memcpy(s.v4, f->v4, sizeof(s.v4));
		memcpy(s.v6, f->v6, sizeof(s.v6));
		n = mdns_build_announce(&s, MDNS_TTL, 0, 0, buf, sizeof(buf));
		if (n < 0 || mdns_parse(buf, (size_t)n, &again) < 0 || again.n_found != 1 ||
		    memcmp(again.found[0].id, f->id, 32) != 0 || again.found[0].port != f->port)
			abort();
	}
	return 0;
}
