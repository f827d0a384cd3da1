/*
 * ray status: the node, its networks and every peer in each roster. Asks the
 * daemon; with no daemon running it reads the saved state and says so.
 */
#include "cli/cli.h"
#include "daemon/status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static void print_peer(json_t *p)
{
	char tx[32], rx[32], rtt[32] = "";
	bool online = json_is_true(json_object_get(p, "online"));

	cli_format_bytes(json_number_value(json_object_get(p, "tx_bytes")), tx, sizeof(tx));
	cli_format_bytes(json_number_value(json_object_get(p, "rx_bytes")), rx, sizeof(rx));
	if (json_is_number(json_object_get(p, "rtt_ms")))
		snprintf(rtt, sizeof(rtt), "%.1f ms",
			 json_number_value(json_object_get(p, "rtt_ms")));
	printf("    %-16s %-15s %-8s %-7s %-9s tx %-9s rx %-9s%s\n", str(p, "hostname"),
	       str(p, "ipv4"), online ? "online" : "offline", str(p, "path"), rtt, tx, rx,
	       json_is_true(json_object_get(p, "coordinator")) ? " coordinator" : "");
}

/* Flat names two networks give to two machines, and mesh addresses two
 * rosters give to two identities: neither is answered or routed by guess. */
static void print_clashes(json_t *st)
{
	json_t *names = json_object_get(st, "name_clashes"), *v;
	json_int_t addrs = json_integer_value(json_object_get(st, "address_clashes"));
	size_t i;

	json_array_foreach(names, i, v)
		printf("\n%s.ray names different machines in two networks: use %s.NETWORK.ray\n",
		       json_string_value(v) ? json_string_value(v) : "?",
		       json_string_value(v) ? json_string_value(v) : "?");
	if (addrs > 0)
		printf("\n%lld mesh address(es) claimed by two identities in different networks: "
		       "the first network's holder keeps each (see the logs)\n",
		       (long long)addrs);
}

/* What waits for the user, and the command that answers it. */
static void print_pending(json_t *st)
{
	static const struct {
		const char *key, *what;
	} rows[] = {
		{ "join_requests", "join request(s) waiting: see 'ray requests NET'" },
		{ "connect_requests", "connection request(s) waiting: see 'ray connections'" },
		{ "file_offers", "file offer(s) waiting: see 'ray files'" },
		{ "firewall_suggestions",
		  "network(s) with suggested firewall rules waiting: see 'ray firewall pending NET'" },
	};
	json_t *pend = json_object_get(st, "pending"), *v;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json_int_t n = json_integer_value(json_object_get(pend, rows[i].key));

		if (n > 0)
			printf("\n%lld %s\n", (long long)n, rows[i].what);
	}
	json_array_foreach(json_object_get(st, "joining"), i, v)
		printf("\njoining %.16s…: %s\n", str(v, "room_id"), str(v, "state"));
	json_array_foreach(json_object_get(st, "connecting"), i, v)
		printf("\nconnecting to contact %.16s…: %s\n", str(v, "contact_id"),
		       str(v, "state"));
}

static void print_human(json_t *st)
{
	json_t *nets = json_object_get(st, "networks"), *n, *p;
	size_t i, j;

	printf("rayfish %s  %s  endpoint %s\n", str(st, "version"),
	       json_is_true(json_object_get(st, "active")) ? "active" : "inactive",
	       str(st, "endpoint_id"));
	if (str(st, "contact_id")[0])
		printf("contact id %s  (others: ray connect %s)\n", str(st, "contact_id"),
		       str(st, "contact_id"));
	if (json_array_size(nets) == 0) {
		printf("no networks: create one with 'ray create' or join with 'ray join CODE'\n");
		print_pending(st);
		return;
	}
	json_array_foreach(nets, i, n)
	{
		json_t *peers = json_object_get(n, "peers");

		printf("\n%s  [%s, %s]", str(n, "name"), str(n, "role"), str(n, "mode"));
		if (str(n, "room_id")[0]) /* a direct network's is not shown */
			printf("  room %s", str(n, "room_id"));
		putchar('\n');
		printf("  you  %-16s %-15s %s\n", str(n, "hostname"), str(n, "ipv4"),
		       str(n, "ipv6"));
		printf("  %zu peer%s\n", json_array_size(peers),
		       json_array_size(peers) == 1 ? "" : "s");
		json_array_foreach(peers, j, p) print_peer(p);
	}
	print_clashes(st);
	print_pending(st);
}

static int run(struct cli *c, int argc, char **argv)
{
	json_t *st = NULL;
	char err[256];
	int ret;

	(void)argv;
	if (argc > 1)
		return cli_usage_error("status", "unexpected argument '%s'", argv[1]);
	ret = cli_call_quiet(c, "status", NULL, &st, 10000, err, sizeof(err));
	if (ret == -ENOENT || ret == -ECONNREFUSED) {
		st = status_build_offline(c->home);
		if (!c->json)
			printf("(no daemon running: saved state)\n");
	} else if (ret < 0) {
		return cli_error("status: %s", err);
	}
	if (c->json)
		cli_print_json(st);
	else
		print_human(st);
	json_decref(st);
	return 0;
}

const struct command cmd_status = {
	"status",
	"show this node, its networks and their peers",
	"usage: ray status [--json]\n\n"
	"Shows the node's endpoint id, whether the VPN is active, and for each\n"
	"network its role, mode, your hostname and addresses, and every other\n"
	"member of the roster: online or not, path (direct/relay), RTT and\n"
	"traffic. Works without a daemon, from the saved state.\n",
	run,
};
