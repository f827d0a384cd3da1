/*
 * ray create / join / leave: the network lifecycle commands. Each parses its
 * flags, asks the daemon, and prints the outcome.
 */
#include "cli/cli.h"
#include "mesh/hostname.h"

#include <stdio.h>
#include <string.h>

static int check_name(const char *cmd, const char *what, const char *v)
{
	if (!hostname_valid(v))
		return cli_usage_error(cmd, "invalid %s '%s': use 1-63 of a-z, 0-9 and '-', not starting or ending with '-'",
				       what, v);
	return 0;
}

static void print_addrs(json_t *res)
{
	printf("  IPv4  %s\n  IPv6  %s\n",
	       json_string_value(json_object_get(res, "ipv4")),
	       json_string_value(json_object_get(res, "ipv6")));
}

static int run_create(struct cli *c, int argc, char **argv)
{
	json_t *args = json_object(), *res = NULL;
	int ret;

	for (int i = 1; i < argc; i++) {
		const char *v;

		if (strcmp(argv[i], "--open") == 0) {
			json_object_set_new(args, "open", json_true());
		} else if ((v = cli_flag_value(argc, argv, &i, "--name"))) {
			if ((ret = check_name("create", "network name", v)))
				goto fail;
			json_object_set_new(args, "name", json_string(v));
		} else if ((v = cli_flag_value(argc, argv, &i, "--hostname"))) {
			if ((ret = check_name("create", "hostname", v)))
				goto fail;
			json_object_set_new(args, "hostname", json_string(v));
		} else {
			ret = cli_usage_error("create", "unexpected argument '%s'", argv[i]);
			goto fail;
		}
	}
	ret = cli_call(c, "create", args, &res, 30000);
	if (ret)
		return ret;
	if (c->json) {
		cli_print_json(res);
	} else {
		printf("✓ network created  %s\n  room  %s\n",
		       json_string_value(json_object_get(res, "name")),
		       json_string_value(json_object_get(res, "room_id")));
		print_addrs(res);
		printf("Others join with: ray join %s\n",
		       json_string_value(json_object_get(res, "room_id")));
	}
	json_decref(res);
	return 0;
fail:
	json_decref(args);
	return ret;
}

const struct command cmd_create = {
	"create", "create a network and become its coordinator",
	"usage: ray create [--open] [--name NAME] [--hostname HOST]\n\n"
	"Creates a network with a fresh network key; its public key is the room\n"
	"id that others use to find it. This node becomes the coordinator.\n\n"
	"  --open           anyone with the room id may join (default: closed)\n"
	"  --name NAME      local name of the network (default: three random words)\n"
	"  --hostname HOST  your name in this network (default: the machine's)\n",
	run_create,
};

static int run_join(struct cli *c, int argc, char **argv)
{
	json_t *args = json_object(), *res = NULL;
	const char *code = NULL;
	int ret;

	for (int i = 1; i < argc; i++) {
		const char *v;

		if (strcmp(argv[i], "--auto-accept-firewall") == 0) {
			json_object_set_new(args, "auto_accept_firewall", json_true());
		} else if ((v = cli_flag_value(argc, argv, &i, "--name"))) {
			if ((ret = check_name("join", "network name", v)))
				goto fail;
			json_object_set_new(args, "name", json_string(v));
		} else if ((v = cli_flag_value(argc, argv, &i, "--hostname"))) {
			if ((ret = check_name("join", "hostname", v)))
				goto fail;
			json_object_set_new(args, "hostname", json_string(v));
		} else if (argv[i][0] != '-' && !code) {
			code = argv[i];
		} else {
			ret = cli_usage_error("join", "unexpected argument '%s'", argv[i]);
			goto fail;
		}
	}
	if (!code) {
		ret = cli_usage_error("join", "missing the room id or invite code");
		goto fail;
	}
	json_object_set_new(args, "code", json_string(code));
	if (!c->json)
		fprintf(stderr, "joining… (looking the network up in the DHT)\n");
	ret = cli_call(c, "join", args, &res, 120000);
	if (ret)
		return ret;
	if (c->json) {
		cli_print_json(res);
	} else if (json_is_true(json_object_get(res, "pending"))) {
		printf("join request queued: a coordinator must approve it ('ray requests');\n"
		       "this node keeps asking and joins as soon as it is accepted\n");
	} else {
		printf("✓ joined %s\n", json_string_value(json_object_get(res, "name")));
		print_addrs(res);
	}
	json_decref(res);
	return 0;
fail:
	json_decref(args);
	return ret;
}

const struct command cmd_join = {
	"join", "join a network by room id or invite code",
	"usage: ray join ROOM_ID|CODE [--name ALIAS] [--hostname HOST]\n"
	"                [--auto-accept-firewall]\n\n"
	"Finds the network through the DHT, asks a coordinator for admission and\n"
	"connects to every member. Open networks admit anyone with the room id.\n\n"
	"  --name ALIAS      local name for the network (default: its own name)\n"
	"  --hostname HOST   your name in this network (a clash becomes HOST-1)\n"
	"  --auto-accept-firewall  install the coordinator's suggested rules\n",
	run_join,
};

static int run_leave(struct cli *c, int argc, char **argv)
{
	json_t *res = NULL;
	int ret;

	if (argc != 2)
		return cli_usage_error("leave", "expected exactly one network name");
	ret = cli_call(c, "leave", json_pack("{s:s}", "network", argv[1]), &res, 30000);
	if (ret)
		return ret;
	if (c->json)
		cli_print_json(res);
	else
		printf("left %s\n", argv[1]);
	json_decref(res);
	return 0;
}

const struct command cmd_leave = {
	"leave", "leave a network",
	"usage: ray leave NET\n\n"
	"Closes the connections of this network gracefully (peers drop you at\n"
	"once; the coordinator removes you from the roster) and forgets it.\n",
	run_leave,
};
