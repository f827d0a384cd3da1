/*
 * ray hostname / kick / nuke / admin / ephemeral: changing a network's
 * roster after admission.
 */
#include "cli/cli.h"
#include "mesh/hostname.h"

#include <stdio.h>
#include <string.h>

/* Sends cmd with args and prints either the JSON result or `done`. */
static int simple(struct cli *c, const char *cmd, json_t *args, const char *done)
{
	json_t *res = NULL;
	int ret = cli_call(c, cmd, args, &res, 30000);

	if (ret)
		return ret;
	if (c->json)
		cli_print_json(res);
	else
		printf("%s\n", done);
	json_decref(res);
	return 0;
}

static int run_hostname(struct cli *c, int argc, char **argv)
{
	char done[256];

	if (argc != 3)
		return cli_usage_error("hostname", "expected a network name and a hostname");
	if (!hostname_valid(argv[2]))
		return cli_usage_error("hostname",
				       "invalid hostname '%s': use 1-63 of a-z, 0-9 and '-'",
				       argv[2]);
	snprintf(done, sizeof(done), "asked to be %s in %s (a clash becomes %s-1)", argv[2],
		 argv[1], argv[2]);
	return simple(c, "hostname",
		      json_pack("{s:s, s:s}", "network", argv[1], "hostname", argv[2]), done);
}

const struct command cmd_hostname = {
	"hostname",
	"change your name in a network",
	"usage: ray hostname NET NAME\n\n"
	"The coordinators record the new name in the signed roster at once and\n"
	"every member's Magic DNS follows; a name held by someone else becomes\n"
	"NAME-1.\n",
	run_hostname,
};

static int run_kick(struct cli *c, int argc, char **argv)
{
	char done[256];

	if (argc != 3)
		return cli_usage_error("kick", "expected a network name and a member");
	snprintf(done, sizeof(done), "removed %s from %s", argv[2], argv[1]);
	return simple(c, "kick", json_pack("{s:s, s:s}", "network", argv[1], "member", argv[2]),
		      done);
}

const struct command cmd_kick = {
	"kick",
	"remove a member from a network (coordinators)",
	"usage: ray kick NET MEMBER\n\n"
	"MEMBER is a hostname, host.net, a mesh IPv4/IPv6 address or an endpoint\n"
	"id. Every member disconnects it; it needs a new admission to return.\n",
	run_kick,
};

static int run_nuke(struct cli *c, int argc, char **argv)
{
	char done[256];

	if (argc != 2)
		return cli_usage_error("nuke", "expected exactly one network name");
	snprintf(done, sizeof(done), "nuked %s: its record is empty and every member leaves it",
		 argv[1]);
	return simple(c, "nuke", json_pack("{s:s}", "network", argv[1]), done);
}

const struct command cmd_nuke = {
	"nuke",
	"delete a network for everyone (coordinators)",
	"usage: ray nuke NET\n\n"
	"Publishes an empty roster as the network's last record, so members leave\n"
	"and joiners are told it was deleted, then leaves it.\n",
	run_nuke,
};

static int run_admin(struct cli *c, int argc, char **argv)
{
	json_t *res = NULL, *v;
	size_t i;
	int ret;

	if (argc == 4 && strcmp(argv[2], "add") == 0) {
		char done[256];

		snprintf(done, sizeof(done), "%s is now a coordinator of %s", argv[3], argv[1]);
		return simple(c, "admin_add",
			      json_pack("{s:s, s:s}", "network", argv[1], "member", argv[3]), done);
	}
	if (argc != 3 || strcmp(argv[2], "list") != 0)
		return cli_usage_error("admin", "expected 'NET add MEMBER' or 'NET list'");
	ret = cli_call(c, "admin_list", json_pack("{s:s}", "network", argv[1]), &res, 10000);
	if (ret)
		return ret;
	if (c->json) {
		cli_print_json(res);
	} else {
		json_array_foreach(res, i, v)
			printf("%-16s %s\n", json_string_value(json_object_get(v, "hostname")),
			       json_string_value(json_object_get(v, "endpoint_id")));
	}
	json_decref(res);
	return 0;
}

const struct command cmd_admin = {
	"admin",
	"add or list co-coordinators",
	"usage: ray admin NET add MEMBER\n"
	"       ray admin NET list\n\n"
	"'add' hands the network key to a member over its authenticated mesh\n"
	"connection (it must be online) and, once the member says the key is on\n"
	"its disk, marks it a coordinator in the signed roster: it can then admit\n"
	"joiners, mint invites and publish the roster, so admission survives any\n"
	"one coordinator being offline. The command waits for that answer (up to\n"
	"10 s) and fails with the member's reason when it could not keep the key.\n",
	run_admin,
};

static int run_ephemeral(struct cli *c, int argc, char **argv)
{
	json_t *res = NULL;
	long long s;
	int ret;

	if (argc != 3)
		return cli_usage_error("ephemeral", "expected a network name and 7d|off|show");
	ret = cli_call(c, "ephemeral",
		       json_pack("{s:s, s:s}", "network", argv[1], "value", argv[2]), &res, 10000);
	if (ret)
		return ret;
	s = (long long)json_integer_value(json_object_get(res, "ephemeral_s"));
	if (c->json)
		cli_print_json(res);
	else if (s == 0)
		printf("%s: members stay until they leave or are kicked\n", argv[1]);
	else
		printf("%s: members offline for more than %llds are removed\n", argv[1], s);
	json_decref(res);
	return 0;
}

const struct command cmd_ephemeral = {
	"ephemeral",
	"auto-remove members offline too long (coordinators)",
	"usage: ray ephemeral NET 7d|12h|off|show\n\n"
	"Members this coordinator has not seen online for longer than the given\n"
	"time are removed from the roster (fleets of short-lived machines).\n",
	run_ephemeral,
};
