/*
 * ray daemon / up / down: run the daemon in the foreground, and switch the
 * VPN between active and standby.
 */
#include "cli/cli.h"
#include "daemon/daemon.h"
#include "util/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run_daemon(struct cli *c, int argc, char **argv)
{
	(void)c;
	if (argc > 1)
		return cli_usage_error("daemon", "unexpected argument '%s'", argv[1]);
	return daemon_main();
}

const struct command cmd_daemon = {
	"daemon",
	"run the daemon in the foreground (needs root)",
	"usage: ray daemon\n\n"
	"Runs the daemon in the foreground: it owns the TUN device, the UDP port,\n"
	"the QUIC endpoint and the DHT node, and serves the other commands on the\n"
	"socket. SIGTERM or SIGINT stop it cleanly and revert TUN and DNS changes.\n",
	run_daemon,
};

static int toggle(struct cli *c, const char *cmd, json_t *args)
{
	json_t *res = NULL;
	int ret;

	ret = cli_call(c, cmd, args, &res, 30000);
	if (ret)
		return ret;
	if (c->json)
		cli_print_json(res);
	else
		printf("%s\n",
		       strcmp(cmd, "up") == 0
			       ? "rayfish is up"
			       : "rayfish is in standby (connections kept; 'ray up' to resume)");
	json_decref(res);
	return 0;
}

static int run_up(struct cli *c, int argc, char **argv)
{
	const char *host = NULL;

	for (int i = 1; i < argc; i++)
		if (!(host = cli_flag_value(argc, argv, &i, "--hostname")))
			return cli_usage_error("up", "unexpected argument '%s'", argv[i]);
	if (access(c->sock, F_OK) != 0) {
		int ret;

		if (access("/run/systemd/system", F_OK) != 0 && !getenv("RAYFISH_SYSTEMD_DIR"))
			return cli_error("no daemon is running and systemd is not available: start "
					 "one with 'ray daemon'");
		if (geteuid() != 0)
			return cli_error("no daemon is running: 'sudo ray up' installs and starts "
					 "the service");
		if ((ret = cli_service_install(c, true)))
			return ret;
	} else if (geteuid() == 0) {
		cli_service_grant_sudo_user(c); /* sudo ray up: no sudo needed after */
	}
	return toggle(c, "up", host ? json_pack("{s:s}", "hostname", host) : NULL);
}

static int run_down(struct cli *c, int argc, char **argv)
{
	if (argc > 1)
		return cli_usage_error("down", "unexpected argument '%s'", argv[1]);
	return toggle(c, "down", NULL);
}

const struct command cmd_up = {
	"up",
	"activate the VPN (TUN and DNS on)",
	"usage: ray up [--hostname HOST]\n\n"
	"Activates the data plane: the TUN device carries traffic and Magic DNS\n"
	"answers. When no daemon runs and systemd is present, 'sudo ray up'\n"
	"first installs and starts rayfish.service.\n\n"
	"  --hostname HOST  the name create, join and connect use from now on when\n"
	"                   they are given none (the hostname setting)\n",
	run_up,
};

const struct command cmd_down = {
	"down",
	"standby: data plane off, peer connections kept",
	"usage: ray down\n\n"
	"Takes the data plane offline (TUN and DNS) while keeping peer\n"
	"connections, so 'ray up' is near-instant.\n",
	run_down,
};
