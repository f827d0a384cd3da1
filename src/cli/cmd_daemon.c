/*
 * ray daemon / up / down: run the daemon in the foreground, and switch the
 * VPN between active and standby.
 */
#include "cli/cli.h"
#include "cli/service.h"
#include "daemon/daemon.h"
#include "util/fileio.h"

#include <errno.h>
#include <stdio.h>
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

static int toggle(struct cli *c, const char *cmd, int argc, char **argv)
{
	json_t *res = NULL;
	int ret;

	if (argc > 1)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[1]);
	ret = cli_call(c, cmd, NULL, &res, 30000);
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

/* Writes rayfish.service for this binary (named in exe on return),
 * atomically: a crash never leaves systemd half a unit. Returns 0 or the
 * CLI's error. */
static int write_unit(struct cli *c, char *exe, size_t cap)
{
	char unit[32768];
	ssize_t n = readlink("/proc/self/exe", exe, cap);
	int ret;

	if (n <= 0 || (size_t)n >= cap)
		return cli_error("cannot find the ray binary to install as a service");
	exe[n] = 0;
	ret = service_unit(unit, sizeof(unit), exe, c->home, c->sock);
	if (ret == -ENOENT)
		return cli_error(
			"this ray binary (%s) was removed or replaced since it started: run the installed ray to install the service",
			exe);
	if (ret == -EINVAL)
		return cli_error(
			"cannot install the service: the binary, RAYFISH_HOME and RAYFISH_SOCKET must be absolute paths without control characters (and the binary's without quotes or backslashes)");
	if (ret < 0)
		return cli_error("cannot install the service: its paths are too long");
	ret = fileio_write_atomic(SERVICE_UNIT_PATH, unit, (size_t)ret, 0644);
	if (ret < 0)
		return cli_error("cannot write %s: %s", SERVICE_UNIT_PATH, strerror(-ret));
	return 0;
}

/* Writes the unit for this binary, enables and starts it, and waits for
 * the socket. Only when systemd runs and we are root. */
static int install_service(struct cli *c)
{
	char exe[4096];
	int ret;

	if (access("/run/systemd/system", F_OK) != 0)
		return cli_error(
			"no daemon is running and systemd is not available: start one with 'ray daemon'");
	if (geteuid() != 0)
		return cli_error(
			"no daemon is running: 'sudo ray up' installs and starts the service");
	ret = write_unit(c, exe, sizeof(exe));
	if (ret)
		return ret;
	if (system("systemctl daemon-reload && systemctl enable --now rayfish.service") != 0)
		return cli_error(
			"systemctl could not start rayfish.service (see 'journalctl -u rayfish')");
	/* The path shows which binary the service runs, say one in a build
	 * directory. */
	fprintf(stderr, "installed and started rayfish.service (%s daemon)\n", exe);
	for (int i = 0; i < 150; i++) {
		if (access(c->sock, F_OK) == 0)
			return 0;
		usleep(100000);
	}
	return cli_error("rayfish.service started but its socket %s did not appear", c->sock);
}

static int run_up(struct cli *c, int argc, char **argv)
{
	if (argc == 1 && access(c->sock, F_OK) != 0) {
		int ret = install_service(c);

		if (ret)
			return ret;
	}
	return toggle(c, "up", argc, argv);
}

static int run_down(struct cli *c, int argc, char **argv)
{
	return toggle(c, "down", argc, argv);
}

const struct command cmd_up = {
	"up",
	"activate the VPN (TUN and DNS on)",
	"usage: ray up\n\n"
	"Activates the data plane: the TUN device carries traffic and Magic DNS\n"
	"answers. When no daemon runs and systemd is present, 'sudo ray up'\n"
	"first installs and starts rayfish.service.\n",
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
