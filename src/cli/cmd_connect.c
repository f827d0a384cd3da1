/*
 * cmd_connect: `ray contact`, `ray connect` and `ray connections`: a direct
 * two-peer network with someone by their contact id, no room id or invite.
 */
#include "cli/cli.h"
#include "mesh/contact.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The daemon keeps a request for a day; the CLI waits as long. */
#define CONNECT_WAIT_MS (24 * 3600 * 1000)
#define PROGRESS_POLL_US 500000

static int run_contact(struct cli *c, int argc, char **argv)
{
	bool rotate = argc == 2 && strcmp(argv[1], "rotate") == 0;
	json_t *res = NULL;
	int ret;

	if (argc > 2 || (argc == 2 && !rotate && strcmp(argv[1], "id") != 0))
		return cli_usage_error("contact", "expected nothing, 'id' or 'rotate'");
	ret = cli_call(c, rotate ? "contact_rotate" : "contact", NULL, &res, 10000);
	if (ret)
		return ret;
	if (c->json)
		cli_print_json(res);
	else if (rotate)
		printf("new contact id: %s\n(the old one no longer works)\n",
		       json_string_value(json_object_get(res, "contact_id")));
	else
		printf("%s\n", json_string_value(json_object_get(res, "contact_id")));
	json_decref(res);
	return 0;
}

const struct command cmd_contact = {
	"contact",
	"show or rotate this device's contact id",
	"usage: ray contact [id|rotate]\n\n"
	"Prints the contact id others pass to 'ray connect' to ask for a direct\n"
	"connection with this device, without a room id or invite. It reaches\n"
	"this device while it is up ('ray up'). rotate makes a new id; the old\n"
	"one stops working at once, and connections made with it stay.\n",
	run_contact,
};

/* One stderr line per change of the daemon's request for contact_id. */
struct connect_progress {
	char contact_id[CONTACT_ID_BUF];
	char last[32];
};

static void connect_progress_step(struct cli *c, void *ud)
{
	struct connect_progress *cp = ud;
	const json_t *jv;
	char err[256];
	json_t *st;
	size_t i;

	if (cli_call_quiet(c, "status", NULL, &st, 2000, err, sizeof(err)) < 0)
		return;
	json_array_foreach(json_object_get(st, "connecting"), i, jv)
	{
		const char *id = json_string_value(json_object_get(jv, "contact_id"));
		const char *state = json_string_value(json_object_get(jv, "state"));

		if (!id || !state || strcmp(id, cp->contact_id) != 0 ||
		    strcmp(state, cp->last) == 0)
			continue;
		snprintf(cp->last, sizeof(cp->last), "%s", state);
		if (strcmp(state, "asking") == 0)
			fprintf(stderr, "found the device; asking it…\n");
		else if (strcmp(state, "pending-approval") == 0)
			fprintf(stderr,
				"waiting for its owner to approve ('ray connections approve' "
				"on their side); Ctrl-C stops waiting, the request stays\n");
	}
	json_decref(st);
}

static int run_connect(struct cli *c, int argc, char **argv)
{
	struct connect_progress cp = { .last = "" };
	json_t *args = json_object(), *res = NULL;
	const char *cid = NULL;
	int progress = -1, ret;

	for (int i = 1; i < argc; i++) {
		const char *v;

		if ((v = cli_flag_value(argc, argv, &i, "--hostname"))) {
			json_object_set_new(args, "hostname", json_string(v));
		} else if (argv[i][0] != '-' && !cid) {
			cid = argv[i];
		} else {
			json_decref(args);
			return cli_usage_error("connect", "unexpected argument '%s'", argv[i]);
		}
	}
	if (!cid) {
		json_decref(args);
		return cli_usage_error("connect", "missing the contact id");
	}
	json_object_set_new(args, "contact_id", json_string(cid));
	if (!c->json || isatty(STDERR_FILENO)) {
		fprintf(stderr, "connecting… (looking the contact id up in the DHT)\n");
		snprintf(cp.contact_id, sizeof(cp.contact_id), "%s", cid);
		progress = cli_progress_start(c, connect_progress_step, &cp, PROGRESS_POLL_US);
	}
	ret = cli_call(c, "connect", args, &res, CONNECT_WAIT_MS);
	cli_progress_stop(progress, false);
	if (ret)
		return ret;
	if (c->json) {
		cli_print_json(res);
	} else {
		printf("%sconnected: network %s\n", cli_ok_mark(),
		       json_string_value(json_object_get(res, "name")));
		printf("  IPv4  %s\n  IPv6  %s\n", json_string_value(json_object_get(res, "ipv4")),
		       json_string_value(json_object_get(res, "ipv6")));
	}
	json_decref(res);
	return 0;
}

const struct command cmd_connect = {
	"connect",
	"ask for a direct connection by contact id",
	"usage: ray connect CONTACT_ID [--hostname HOST]\n\n"
	"Finds the device behind CONTACT_ID (its owner's 'ray contact') through\n"
	"the DHT and asks it for a direct connection. Waits until the owner\n"
	"approves ('ray connections approve') or denies it; an approval makes a\n"
	"network of the two of you (shown with role direct in 'ray status') and\n"
	"you reach each other by name and address as in any network. Ctrl-C stops\n"
	"waiting; the request stays for a day, and running the same command again\n"
	"waits for it. Two people asking each other get one network at once.\n\n"
	"  --hostname HOST   your name in that network\n",
	run_connect,
};

static void print_requests(json_t *list)
{
	const json_t *e;
	size_t i;

	if (json_array_size(list) == 0) {
		printf("no connection requests\n");
		return;
	}
	printf("%-8s  %-20s  %s\n", "ID", "HOSTNAME", "ENDPOINT");
	json_array_foreach(list, i, e)
	{
		const char *host = json_string_value(json_object_get(e, "hostname"));

		printf("%-8s  %-20.20s  %s\n", json_string_value(json_object_get(e, "id")),
		       host && host[0] ? host : "-",
		       json_string_value(json_object_get(e, "endpoint_id")));
	}
}

static int run_connections(struct cli *c, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "list";
	json_t *res = NULL;
	int ret;

	if (strcmp(sub, "list") == 0 && argc <= 2) {
		if ((ret = cli_call(c, "connections", NULL, &res, 10000)))
			return ret;
		if (c->json)
			cli_print_json(res);
		else
			print_requests(res);
		json_decref(res);
		return 0;
	}
	if ((strcmp(sub, "approve") != 0 && strcmp(sub, "deny") != 0) || argc != 3)
		return cli_usage_error("connections", "expected list, approve ID or deny ID");
	ret = cli_call(c, strcmp(sub, "approve") == 0 ? "connections_approve" : "connections_deny",
		       json_pack("{s:s}", "id", argv[2]), &res, 30000);
	if (ret)
		return ret;
	if (c->json)
		cli_print_json(res);
	else if (strcmp(sub, "approve") == 0)
		printf("%sapproved: network %s\n", cli_ok_mark(),
		       json_string_value(json_object_get(res, "name")));
	json_decref(res);
	return 0;
}

const struct command cmd_connections = {
	"connections",
	"list, approve or deny connection requests",
	"usage: ray connections [list]\n"
	"       ray connections approve ID\n"
	"       ray connections deny ID\n\n"
	"Lists the 'ray connect' requests made to this device's contact id.\n"
	"approve makes a network of the two of you (role direct in 'ray status')\n"
	"and lets the requester in; deny refuses it (it stays refused until you\n"
	"rotate your contact id). A request is dropped when its requester stops\n"
	"asking for a minute.\n",
	run_connections,
};
