/*
 * ray ping / netcheck: what the mesh looks like from here: a peer's RTT,
 * loss and path over the encrypted connection, and this node's own UDP
 * port, public addresses and relay.
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
	"ping", "probe a peer over the mesh: RTT, loss, path",
	"usage: ray ping PEER [-c N]\n\n"
	"Sends N echo probes (default 4) over the encrypted connection to PEER (a\n"
	"hostname, host.net, mesh address or endpoint id) and reports each RTT,\n"
	"the loss, and whether the path is direct or relayed. Exits 1 when no\n"
	"probe was answered.\n",
	run_ping,
};

/* Whether we relay for members, and how much we did. */
static void print_member_relay(json_t *m)
{
	if (!json_is_object(m))
		return;
	if (!json_is_true(json_object_get(m, "enabled"))) {
		printf("member relay  off (ray config set relay-members on)\n");
		return;
	}
	printf("member relay  on, %s; forwarded %lld packets, %lld refused\n",
	       json_is_true(json_object_get(m, "offered")) ? "offered to members"
							    : "not offered (not directly reachable)",
	       (long long)json_integer_value(json_object_get(m, "forwarded")),
	       (long long)json_integer_value(json_object_get(m, "denied")));
}

static int run_netcheck(struct cli *c, int argc, char **argv)
{
	json_t *res = NULL, *v, *relay;
	size_t i;
	int ret;

	if (argc > 1)
		return cli_usage_error("netcheck", "unexpected argument '%s'", argv[1]);
	ret = cli_call(c, "netcheck", NULL, &res, 15000);
	if (ret)
		return ret;
	if (c->json) {
		cli_print_json(res);
		json_decref(res);
		return 0;
	}
	printf("UDP port      %lld%s\n", (long long)json_integer_value(json_object_get(res, "port")),
	       json_is_true(json_object_get(res, "fixed_port")) ? " (the fixed port: forwardable)"
								: " (ephemeral: 41383 was taken)");
	printf("UDP out       %s\n", json_is_true(json_object_get(res, "udp")) ? "works"
	       : "no STUN answer (UDP blocked, the stun servers down or their names unresolved)");
	printf("public addrs ");
	json_array_foreach(json_object_get(res, "public_addrs"), i, v)
		printf(" %s", json_string_value(v));
	printf("%s\n", json_array_size(json_object_get(res, "public_addrs")) ? "" : " unknown");
	json_array_foreach(json_object_get(res, "stun"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));

		if (name)
			printf("  stun %s → %s %s", name,
			       json_string_value(json_object_get(v, "server")),
			       json_string_value(json_object_get(v, "status")));
		else
			printf("  stun %-22s %s", json_string_value(json_object_get(v, "server")),
			       json_string_value(json_object_get(v, "status")));
		if (json_object_get(v, "rtt_ms"))
			printf(" %lld ms", (long long)json_integer_value(json_object_get(v, "rtt_ms")));
		putchar('\n');
	}
	relay = json_object_get(res, "relay");
	if (json_is_object(relay)) {
		printf("relay         %s %s %s", json_string_value(json_object_get(relay, "server")),
		       json_string_value(json_object_get(relay, "state")),
		       json_object_get(relay, "relayed_addr") ?
			       json_string_value(json_object_get(relay, "relayed_addr")) : "");
		if (json_object_get(relay, "rtt_ms"))
			printf(" %lld ms",
			       (long long)json_integer_value(json_object_get(relay, "rtt_ms")));
		putchar('\n');
	} else
		printf("relay         none configured (ray config set relay turn:USER:PASS@ip:port)\n");
	if (json_is_object(relay) && json_object_get(relay, "error"))
		printf("  relay error: %s\n", json_string_value(json_object_get(relay, "error")));
	/* Which protocol (pcp, natpmp, upnp) holds the mapping, or why none does. */
	if (json_is_string(json_object_get(v = json_object_get(res, "portmap"), "method")))
		printf("port mapping  %s %s\n", json_string_value(json_object_get(v, "method")),
		       json_is_string(json_object_get(v, "reason")) &&
		       !strcmp(json_string_value(json_object_get(v, "method")), "none") ?
		       json_string_value(json_object_get(v, "reason")) :
		       json_is_string(json_object_get(v, "external")) ?
		       json_string_value(json_object_get(v, "external")) : "");
	print_member_relay(json_object_get(res, "member_relay"));
	json_decref(res);
	return 0;
}

const struct command cmd_netcheck = {
	"netcheck", "this node's UDP port, public addresses and relay",
	"usage: ray netcheck\n\n"
	"Probes the STUN servers from the mesh's UDP socket and reports the bound\n"
	"port (and whether it is the fixed, forwardable 41383), the public\n"
	"addresses others see, whether UDP gets out, and the TURN relay's state.\n",
	run_netcheck,
};

static int run_mdns(struct cli *c, int argc, char **argv)
{
	json_t *res = NULL;
	int ret;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "on") && strcmp(argv[1], "off")))
		return cli_usage_error("mdns", "expected on or off");
	ret = cli_call(c, "mdns", argc == 2 ? json_pack("{s:s}", "value", argv[1]) : NULL,
		       &res, 10000);
	if (ret)
		return ret;
	if (c->json)
		cli_print_json(res);
	else
		printf("LAN discovery (mDNS) %s%s\n", json_string_value(json_object_get(res, "mdns")),
		       json_is_true(json_object_get(res, "running")) ? "" :
		       !strcmp(json_string_value(json_object_get(res, "mdns")), "on") ?
		       " but not running (see the daemon log)" : "");
	json_decref(res);
	return 0;
}

const struct command cmd_mdns = {
	"mdns", "LAN peer discovery on or off (default on)",
	"usage: ray mdns [on|off]\n\n"
	"Announces this node on the local network (mDNS, _rayfish._udp.local) and\n"
	"learns the LAN addresses of peers, so machines on one LAN connect\n"
	"directly even when the DHT is unreachable.\n",
	run_mdns,
};
