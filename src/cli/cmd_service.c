/*
 * cmd_service: the system service and who may run it. `sudo ray install`,
 * `uninstall [--purge]`, `start`, `stop`, `restart` (rayfish.service, the
 * unit text from service.c, written atomically), `sudo ray set-operator
 * USER`, and the install `sudo ray up` does when no daemon answers.
 *
 * systemctl runs with a fixed argv (no shell). The unit goes to
 * /etc/systemd/system, or RAYFISH_SYSTEMD_DIR (a package's staging tree,
 * or a test with a stand-in systemctl; systemd is then not required to
 * run here). Installing also makes the user who ran sudo ($SUDO_USER) the
 * operator, so `ray up`, `create`, `join`, ... work without sudo after.
 */
#include "cli/cli.h"
#include "cli/service.h"
#include "home/paths.h"
#include "home/settings.h"
#include "util/fileio.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define UNIT_NAME "rayfish.service"
#define SOCKET_WAIT_MS 15000

static void unit_path(char *out, size_t cap)
{
	const char *dir = getenv("RAYFISH_SYSTEMD_DIR");

	if (dir && *dir)
		snprintf(out, cap, "%s/%s", dir, UNIT_NAME);
	else
		snprintf(out, cap, "%s", SERVICE_UNIT_PATH);
}

/* 0, or the CLI's error: root, and systemd running (or a unit dir given). */
static int need_root_and_systemd(const char *cmd)
{
	const char *dir = getenv("RAYFISH_SYSTEMD_DIR");

	if (geteuid() != 0)
		return cli_error("'%s' needs root: sudo ray %s", cmd, cmd);
	if (!(dir && *dir) && access("/run/systemd/system", F_OK) != 0)
		return cli_error("systemd is not running on this machine: run 'ray daemon' under "
				 "your own service manager instead");
	return 0;
}

/* systemctl ARGS...: its exit status, or -1 when it cannot run. */
static int systemctl(const char *a, const char *b, const char *c)
{
	const char *argv[] = { "systemctl", a, b, c, NULL };

	return cli_run(argv);
}

/* Writes rayfish.service for this binary (named in exe on return). */
static int write_unit(struct cli *c, char *exe, size_t cap)
{
	char unit[32768], path[4200];
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
	unit_path(path, sizeof(path));
	ret = fileio_write_atomic(path, unit, (size_t)ret, 0644);
	if (ret < 0)
		return cli_error("cannot write %s: %s", path, strerror(-ret));
	return 0;
}

/* Until the daemon answers on its socket (an old socket file left by
 * the one before does not count). */
static int wait_socket(struct cli *c)
{
	for (int waited = 0; waited < SOCKET_WAIT_MS; waited += 100) {
		char err[256];
		json_t *res = NULL;

		if (cli_call_quiet(c, "version", NULL, &res, 1000, err, sizeof(err)) == 0) {
			json_decref(res);
			return 0;
		}
		usleep(100000);
	}
	return cli_error("%s started but its socket %s did not appear (see 'journalctl -u rayfish' "
			 "or 'ray logs')",
			 UNIT_NAME, c->sock);
}

/* The settings file with operator set to uid (or unset: uid < 0), and the
 * running daemon told, which applies it at once. */
static int save_operator(struct cli *c, long uid)
{
	char err[512], value[24];
	json_t *res = NULL;

	snprintf(value, sizeof(value), "%ld", uid);
	if (settings_persist(c->home, SET_OPERATOR, uid >= 0 ? value : NULL, err, sizeof(err)) < 0)
		return cli_error("cannot save the operator: %s", err);
	/* No daemon: it reads the file when it starts. */
	cli_call_quiet(c, "reload", NULL, &res, 5000, err, sizeof(err));
	json_decref(res);
	return 0;
}

/* sudo's caller becomes the operator (not root itself). */
void cli_service_grant_sudo_user(struct cli *c)
{
	const char *who = getenv("SUDO_USER");
	struct passwd *pw = who && *who ? getpwnam(who) : NULL;

	if (!pw || pw->pw_uid == 0)
		return;
	if (save_operator(c, (long)pw->pw_uid) == 0)
		fprintf(stderr, "%s may now run ray without sudo (operator)\n", pw->pw_name);
}

int cli_service_install(struct cli *c, bool start)
{
	char exe[4096];
	int ret;

	if ((ret = need_root_and_systemd("install")))
		return ret;
	if ((ret = write_unit(c, exe, sizeof(exe))))
		return ret;
	if (start && isatty(STDERR_FILENO))
		fprintf(stderr, "starting %s…\n", UNIT_NAME);
	if (systemctl("daemon-reload", NULL, NULL) != 0 ||
	    systemctl("enable", start ? "--now" : UNIT_NAME, start ? UNIT_NAME : NULL) != 0)
		return cli_error("systemctl could not %s %s (see 'journalctl -u rayfish')",
				 start ? "start" : "enable", UNIT_NAME);
	cli_service_grant_sudo_user(c);
	/* The path shows which binary the service runs, say one in a build
	 * directory. */
	fprintf(stderr, "installed %s %s(%s daemon)\n", UNIT_NAME, start ? "and started it " : "",
		exe);
	return start ? wait_socket(c) : 0;
}

static int done(struct cli *c)
{
	if (c->json)
		printf("{}\n");
	return 0;
}

static int run_install(struct cli *c, int argc, char **argv)
{
	int ret;

	if (argc > 1)
		return cli_usage_error("install", "unexpected argument '%s'", argv[1]);
	ret = cli_service_install(c, true);
	return ret ? ret : done(c);
}

/* A folder --purge may delete: it holds what a node keeps. */
static bool looks_like_home(const char *home)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/secret_key", home);
	if (access(path, F_OK) == 0)
		return true;
	snprintf(path, sizeof(path), "%s/settings.json", home);
	return access(path, F_OK) == 0;
}

static int remove_tree(const char *dir)
{
	const char *argv[] = { "rm", "-rf", "--one-file-system", "--", dir, NULL };

	return cli_run(argv) == 0 ? 0 : -EIO;
}

static int run_uninstall(struct cli *c, int argc, char **argv)
{
	bool purge = argc == 2 && strcmp(argv[1], "--purge") == 0;
	char path[4200], logs[4096];
	int ret;

	if (argc > 2 || (argc == 2 && !purge))
		return cli_usage_error("uninstall", "expected nothing or --purge");
	if ((ret = need_root_and_systemd("uninstall")))
		return ret;
	/* Stopping the daemon reverts its TUN device and DNS changes. */
	systemctl("disable", "--now", UNIT_NAME);
	unit_path(path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		return cli_error("cannot remove %s: %s", path, strerror(errno));
	systemctl("daemon-reload", NULL, NULL);
	unlink(c->sock);
	if (purge) {
		paths_log_dir(c->home, logs, sizeof(logs));
		if (!looks_like_home(c->home))
			return cli_error("%s does not look like a rayfish home (no secret_key or "
					 "settings.json): not deleting it",
					 c->home);
		if (remove_tree(c->home) < 0 || remove_tree(logs) < 0)
			return cli_error("could not delete %s and %s", c->home, logs);
		fprintf(stderr, "removed %s and %s\n", c->home, logs);
	} else {
		fprintf(stderr, "removed %s; the node's state stays in %s (--purge deletes it)\n",
			UNIT_NAME, c->home);
	}
	return done(c);
}

static int run_systemctl(struct cli *c, const char *cmd, int argc, char **argv)
{
	int ret;

	if (argc > 1)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[1]);
	if ((ret = need_root_and_systemd(cmd)))
		return ret;
	if (systemctl(cmd, UNIT_NAME, NULL) != 0)
		return cli_error("systemctl %s %s failed (is it installed? 'sudo ray install')",
				 cmd, UNIT_NAME);
	if (strcmp(cmd, "stop") != 0) {
		if ((ret = wait_socket(c)))
			return ret;
	}
	return done(c);
}

static int run_start(struct cli *c, int argc, char **argv)
{
	return run_systemctl(c, "start", argc, argv);
}

static int run_stop(struct cli *c, int argc, char **argv)
{
	return run_systemctl(c, "stop", argc, argv);
}

static int run_restart(struct cli *c, int argc, char **argv)
{
	return run_systemctl(c, "restart", argc, argv);
}

static int run_set_operator(struct cli *c, int argc, char **argv)
{
	struct passwd *pw;
	char *end;
	long uid;
	int ret;

	if (argc != 2)
		return cli_usage_error("set-operator", "expected one user name or uid");
	if (geteuid() != 0)
		return cli_error("'set-operator' needs root: sudo ray set-operator %s", argv[1]);
	uid = strtol(argv[1], &end, 10);
	pw = *end || end == argv[1] ? getpwnam(argv[1]) : getpwuid((uid_t)uid);
	if (!pw)
		return cli_error("no user '%s' on this machine", argv[1]);
	if ((ret = save_operator(c, (long)pw->pw_uid)))
		return ret;
	if (!c->json)
		printf("%s%s (uid %u) may change the node now\n", cli_ok_mark(), pw->pw_name,
		       (unsigned)pw->pw_uid);
	return done(c);
}

const struct command cmd_install = {
	"install",
	"install and start the system service (root)",
	"usage: sudo ray install\n\n"
	"Writes " SERVICE_UNIT_PATH " for this ray binary (hardened:\n"
	"only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE, read-only system, no home\n"
	"directories; readiness reported to systemd), enables and starts it, and\n"
	"makes the user who ran sudo the operator, so ray needs no sudo after.\n"
	"RAYFISH_HOME and RAYFISH_SOCKET go into the unit as they are now.\n",
	run_install,
};

const struct command cmd_uninstall = {
	"uninstall",
	"stop and remove the system service (root)",
	"usage: sudo ray uninstall [--purge]\n\n"
	"Stops the service (the daemon reverts its TUN device and DNS changes),\n"
	"disables and removes the unit and the socket. The node's identity,\n"
	"networks and settings stay in RAYFISH_HOME unless --purge, which also\n"
	"deletes them and the log files.\n",
	run_uninstall,
};

const struct command cmd_start = {
	"start",
	"start the system service (root)",
	"usage: sudo ray start\n\nsystemctl start rayfish.service, then waits for its socket.\n",
	run_start,
};

const struct command cmd_stop = {
	"stop",
	"stop the system service (root)",
	"usage: sudo ray stop\n\nsystemctl stop rayfish.service: the daemon exits cleanly.\n",
	run_stop,
};

const struct command cmd_restart = {
	"restart",
	"restart the system service (root)",
	"usage: sudo ray restart\n\nsystemctl restart rayfish.service, then waits for its socket.\n",
	run_restart,
};

const struct command cmd_set_operator = {
	"set-operator",
	"let a user change the node without sudo (root)",
	"usage: sudo ray set-operator USER\n\n"
	"USER (a name or a uid) may then run every ray command that changes the\n"
	"node (up, down, create, join, ...) without sudo. Takes effect at once in\n"
	"a running daemon; saved as the operator setting.\n",
	run_set_operator,
};
