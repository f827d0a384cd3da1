/*
 * cmd_dashboard: `ray dashboard` prints the address of the daemon's local
 * web page (daemon/dashboard.c), its access token in it.
 */
#include "cli/cli.h"

#include <stdio.h>

static int run_dashboard(struct cli *c, int argc, char **argv)
{
	json_t *res = NULL;
	int ret;

	if (argc > 1)
		return cli_usage_error("dashboard", "unexpected argument '%s'", argv[1]);
	if ((ret = cli_call(c, "dashboard", NULL, &res, 10000)))
		return ret;
	if (c->json)
		cli_print_json(res);
	else
		printf("%s\n(open it in a browser on this machine; the address holds the access "
		       "token: keep it to yourself)\n",
		       json_string_value(json_object_get(res, "url")));
	json_decref(res);
	return 0;
}

const struct command cmd_dashboard = {
	"dashboard",
	"print the address of the local web dashboard",
	"usage: ray dashboard\n\n"
	"The daemon serves a page on 127.0.0.1 (a port of its own): networks,\n"
	"peers with their paths and live traffic, the join and connection requests\n"
	"waiting for you with buttons to approve or deny them, and the firewall\n"
	"rules. The address carries an access token made at each daemon start;\n"
	"without it, from another origin or by another host name, nothing is\n"
	"answered.\n",
	run_dashboard,
};
