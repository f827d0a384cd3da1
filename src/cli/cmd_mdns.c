/*
 * ray mdns: LAN peer discovery on or off (the daemon's lan_discovery.c runs
 * it).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static int run_mdns(struct cli *c, int argc, char **argv)
{
	json_t *res = NULL;
	int ret;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "on") && strcmp(argv[1], "off")))
		return cli_usage_error("mdns", "expected on or off");
	ret = cli_call(c, "mdns", argc == 2 ? json_pack("{s:s}", "value", argv[1]) : NULL, &res,
		       10000);
	if (ret)
		return ret;
	if (c->json)
		cli_print_json(res);
	else
		printf("LAN discovery (mDNS) %s%s\n",
		       json_string_value(json_object_get(res, "mdns")),
		       json_is_true(json_object_get(res, "running")) ? ""
		       : !strcmp(json_string_value(json_object_get(res, "mdns")), "on")
			       ? " but not running (see the daemon log)"
			       : "");
	json_decref(res);
	return 0;
}

const struct command cmd_mdns = {
	"mdns",
	"LAN peer discovery on or off (default on)",
	"usage: ray mdns [on|off]\n\n"
	"Announces this node on the local network (mDNS, _rayfish._udp.local) and\n"
	"learns the LAN addresses of peers, so machines on one LAN connect\n"
	"directly even when the DHT is unreachable.\n",
	run_mdns,
};
