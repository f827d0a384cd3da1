/*
 * fuzz_stun: hostile datagrams through the STUN/TURN decoders. The first
 * input byte picks the path: the bare codec (decode, then integrity and
 * long-term key over whatever decoded), the Binding client's input, or a
 * TURN client's STUN and ChannelData inputs as if the bytes came from its
 * server. Requests the clients make go to the discard port on 127.0.0.1.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "transport/stun.h"
#include "transport/turn.h"
#include "util/log.h"

static uv_loop_t loop;
static struct magicsock *ms;
static struct stun_client *sc;
static struct turn_client *tc;
static union ms_addr server;

static void setup(void)
{
	struct magicsock_config mc = { 0 };
	union ms_addr peer;

	log_init(LL_ERROR);
	uv_loop_init(&loop);
	ms_addr_parse(&server, "127.0.0.1:9");
	ms_addr_parse(&peer, "127.0.0.1:7");
	if (magicsock_new(&ms, &loop, &mc) < 0 || stun_client_new(&sc, &loop, ms, NULL, NULL) < 0 ||
	    stun_client_set_servers(sc, "127.0.0.1:9") < 0 || stun_client_probe(sc) < 0 ||
	    turn_client_new(&tc, &loop, ms, &server, "user", "pass", NULL, NULL) < 0)
		__builtin_trap();
	/* A channel slot in use, so ChannelData can reach delivery. */
	turn_bind_channel(tc, &peer);
}

static void codec(const uint8_t *data, size_t size)
{
	struct stun_msg m;
	uint8_t key[STUN_LT_KEY_LEN];

	if (stun_decode(&m, data, size) < 0)
		return;
	/* Whatever decodes must point inside the input. */
	if ((m.nonce && (m.nonce < data || m.nonce + m.nonce_len > data + size)) ||
	    (m.data && (m.data < data || m.data + m.data_len > data + size)) ||
	    m.reason[STUN_REASON_LEN - 1] != '\0')
		__builtin_trap();
	if (m.realm && stun_lt_key(key, "u", m.realm, m.realm_len, "p") == 0)
		(void)stun_check_integrity(data, size, &m, key, sizeof(key));
	else
		(void)stun_check_integrity(data, size, &m, (const uint8_t *)"k", 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode;

	if (ms == NULL)
		setup();
	if (size == 0)
		return 0;
	mode = data[0] & 3;
	data++;
	size--;
	switch (mode) {
	case 0:
		codec(data, size);
		break;
	case 1:
		(void)stun_client_input(sc, data, size, &server);
		break;
	case 2:
		(void)turn_client_input(tc, data, size, &server);
		break;
	case 3:
		(void)turn_client_channel_input(tc, data, size, &server);
		break;
	}
	uv_run(&loop, UV_RUN_NOWAIT);
	return 0;
}
