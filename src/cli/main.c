/*
 * ray: the command-line entry point. Parses the global flags (--json,
 * --verbose, --help, which may stand anywhere on the line), then hands the
 * rest to one command. Every command except `ray daemon` and `ray config`
 * is a thin IPC client of the daemon.
 */
#include "cli/cli.h"
#include "cli/complete.h"
#include "cli/manpage.h"
#include "cli/service.h"
#include "home/paths.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>

static const struct command *commands[] = {
	&cmd_up,           &cmd_down,      &cmd_status,      &cmd_create,    &cmd_join,
	&cmd_leave,        &cmd_invite,    &cmd_requests,    &cmd_accept,    &cmd_deny,
	&cmd_hostname,     &cmd_kick,      &cmd_admin,       &cmd_ephemeral, &cmd_nuke,
	&cmd_firewall,     &cmd_apply,     &cmd_identityof,  &cmd_ping,      &cmd_netcheck,
	&cmd_mdns,         &cmd_send,      &cmd_files,       &cmd_contact,   &cmd_connect,
	&cmd_connections,  &cmd_pair,      &cmd_completions, &cmd_logs,      &cmd_report,
	&cmd_install,      &cmd_uninstall, &cmd_start,       &cmd_stop,      &cmd_restart,
	&cmd_set_operator, &cmd_update,    &cmd_dashboard,   &cmd_config,    &cmd_daemon,
	&cmd_version,
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_help(void)
{
	printf("ray: peer-to-peer mesh VPN. Machines reach each other by name and by\n"
	       "stable addresses derived from their identity, with no control server.\n\n"
	       "usage: ray [--json] [--verbose] <command> [args]\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		printf("  %-11s %s\n", commands[i]->name, commands[i]->summary);
	printf("\nglobal flags:\n"
	       "  --json     print exactly one JSON document on stdout\n"
	       "  --verbose  log what the command does on stderr\n"
	       "  --help     explain a command: ray <command> --help\n\n"
	       "environment: RAYFISH_HOME (state, default %s),\n"
	       "             RAYFISH_SOCKET (daemon socket, default %s)\n",
	       RAYFISH_DEFAULT_HOME, RAYFISH_DEFAULT_SOCKET);
}

static void print_command_help(const struct command *cmd)
{
	printf("ray %s: %s\n\n%s", cmd->name, cmd->summary, cmd->usage);
}

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	struct cli c = { .prog = "ray" };
	const struct command *cmd = NULL;
	char *rest[256];
	int nrest = 0, help = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			c.json = true;
		else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
			c.verbose = true;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			help = 1;
		else if ((strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) &&
			 nrest == 0)
			rest[nrest++] = "version";
		else if (nrest < (int)(sizeof(rest) / sizeof(rest[0])) - 1)
			rest[nrest++] = argv[i];
		else
			return cli_error("too many arguments");
	}
	rest[nrest] = NULL;
	log_init(c.verbose ? LL_DEBUG : LL_WARN);
	c.home = paths_home();
	c.sock = paths_socket();
	if (nrest == 0 || strcmp(rest[0], "help") == 0) {
		if (nrest > 1 && (cmd = find(rest[1]))) {
			print_command_help(cmd);
			return 0;
		}
		print_help();
		return nrest == 0 && !help ? 2 : 0;
	}
	if (strcmp(rest[0], "__sign-feed") == 0) /* the release process */
		return cmd_sign_feed.run(&c, nrest, rest);
	if (strcmp(rest[0], "__unit") == 0 && nrest == 4) { /* the package's unit */
		static char unit[32768];
		int n = service_unit(unit, sizeof(unit), rest[1], rest[2], rest[3]);

		if (n < 0)
			return cli_error("__unit: %s", strerror(-n));
		fputs(unit, stdout);
		return 0;
	}
	if (strcmp(rest[0], "__man") == 0) /* make man */
		return manpage_main(commands, N_COMMANDS, nrest > 1 ? rest[1] : NULL);
	if (strcmp(rest[0], "__complete") == 0) /* for the completion scripts */
		return complete_main(&c, commands, N_COMMANDS, nrest - 1, rest + 1);
	cmd = find(rest[0]);
	if (!cmd) {
		fprintf(stderr, "ray: unknown command '%s' (see 'ray --help')\n", rest[0]);
		return 2;
	}
	if (help) {
		print_command_help(cmd);
		return 0;
	}
	return cmd->run(&c, nrest, rest);
}
