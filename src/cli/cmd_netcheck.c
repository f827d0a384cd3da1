/*
 * ray netcheck: this node's own UDP port, public addresses and relay, as
 * the mesh sees them from here.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

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
	printf("UDP port      %lld%s\n",
	       (long long)json_integer_value(json_object_get(res, "port")),
	       json_is_true(json_object_get(res, "fixed_port")) ? " (the fixed port: forwardable)"
								: " (ephemeral: 41383 was taken)");
	printf("UDP out       %s\n",
	       json_is_true(json_object_get(res, "udp"))
		       ? "works"
		       : "no STUN answer (UDP blocked, the stun servers down or their names unresolved)");
	printf("public addrs ");
	json_array_foreach(json_object_get(res, "public_addrs"), i, v)
		printf(" %s", json_string_value(v));
	printf("%s\n", json_array_size(json_object_get(res, "public_addrs")) ? "" : " unknown");
	json_array_foreach(json_object_get(res, "stun"), i, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));

		if (name)
			printf("  stun %s → %s %s", name,
			       json_string_value(json_object_get(v, "server")),
			       json_string_value(json_object_get(v, "status")));
		else
			printf("  stun %-22s %s", json_string_value(json_object_get(v, "server")),
			       json_string_value(json_object_get(v, "status")));
		if (json_object_get(v, "rtt_ms"))
			printf(" %lld ms",
			       (long long)json_integer_value(json_object_get(v, "rtt_ms")));
		putchar('\n');
	}
	relay = json_object_get(res, "relay");
	if (json_is_object(relay)) {
		printf("relay         %s %s %s",
		       json_string_value(json_object_get(relay, "server")),
		       json_string_value(json_object_get(relay, "state")),
		       json_object_get(relay, "relayed_addr")
			       ? json_string_value(json_object_get(relay, "relayed_addr"))
			       : "");
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
				       !strcmp(json_string_value(json_object_get(v, "method")),
					       "none")
			       ? json_string_value(json_object_get(v, "reason"))
		       : json_is_string(json_object_get(v, "external"))
			       ? json_string_value(json_object_get(v, "external"))
			       : "");
	print_member_relay(json_object_get(res, "member_relay"));
	json_decref(res);
	return 0;
}

const struct command cmd_netcheck = {
	"netcheck",
	"this node's UDP port, public addresses and relay",
	"usage: ray netcheck\n\n"
	"Probes the STUN servers from the mesh's UDP socket and reports the bound\n"
	"port (and whether it is the fixed, forwardable 41383), the public\n"
	"addresses others see, whether UDP gets out, and the TURN relay's state.\n",
	run_netcheck,
};
