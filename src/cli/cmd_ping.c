/*
 * ray ping: a peer's RTT, loss and path over the encrypted mesh connection
 * (the daemon's ping.c sends the probes).
 */
#include "cli/cli.h"
#include "util/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int run_ping(struct cli *c, int argc, char **argv)
{
	json_t *args = json_object(), *res = NULL, *v;
	const char *peer = NULL;
	size_t i;
	int ret;

	for (int i2 = 1; i2 < argc; i2++) {
		const char *cnt = cli_flag_value(argc, argv, &i2, "-c");

		if (cnt) {
			char *end;
			long n = strtol(cnt, &end, 10);

			if (*end || n < 1 || n > LIMIT_PING_COUNT) {
				json_decref(args);
				return cli_usage_error("ping", "-c takes a count from 1 to %d",
						       LIMIT_PING_COUNT);
			}
			json_object_set_new(args, "count", json_integer(n));
		} else if (!peer && argv[i2][0] != '-') {
			peer = argv[i2];
		} else {
			json_decref(args);
			return cli_usage_error("ping", "unexpected argument '%s'", argv[i2]);
		}
	}
	if (!peer) {
		json_decref(args);
		return cli_usage_error("ping", "which peer? (hostname, host.net, address or id)");
	}
	json_object_set_new(args, "peer", json_string(peer));
	ret = cli_call(c, "ping", args, &res, 240000);
	if (ret)
		return ret;
	if (c->json) {
		json_object_set_new(res, "peer", json_string(peer));
		cli_print_json(res);
	} else {
		json_array_foreach(json_object_get(res, "rtt_ms"), i, v)
			printf("reply from %s: time=%.2f ms\n", peer, json_number_value(v));
		const char *relay = json_string_value(json_object_get(res, "relay"));

		printf("%lld sent, %lld received, path %s%s%s\n",
		       (long long)json_integer_value(json_object_get(res, "sent")),
		       (long long)json_integer_value(json_object_get(res, "received")),
		       json_string_value(json_object_get(res, "path")), relay ? " via " : "",
		       relay ? relay : "");
	}
	ret = json_integer_value(json_object_get(res, "received")) > 0 ? 0 : 1;
	json_decref(res);
	return ret;
}

const struct command cmd_ping = {
	"ping",
	"probe a peer over the mesh: RTT, loss, path",
	"usage: ray ping PEER [-c N]\n\n"
	"Sends N echo probes (default 4) over the encrypted connection to PEER (a\n"
	"hostname, host.net, mesh address or endpoint id) and reports each RTT,\n"
	"the loss, and whether the path is direct or relayed. Exits 1 when no\n"
	"probe was answered.\n",
	run_ping,
};
