/*
 * ray firewall: the per-device firewall. Rules are matched first to last;
 * inbound TCP/UDP is denied and outbound allowed unless a rule says
 * otherwise; coordinators may suggest rules that each node installs when it
 * consents.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static int print_done(struct cli *c, json_t *res, const char *msg)
{
	if (c->json)
		cli_print_json(res);
	else
		printf("%s\n", msg);
	json_decref(res);
	return 0;
}

static int call_done(struct cli *c, const char *cmd, json_t *args, const char *msg)
{
	json_t *res = NULL;
	int ret = cli_call(c, cmd, args, &res, 15000);

	return ret ? ret : print_done(c, res, msg);
}

static void print_rules(json_t *rules)
{
	json_t *r;
	size_t i;

	json_array_foreach(rules, i, r)
	{
		const char *peer = json_string_value(json_object_get(r, "peer_name"));
		const char *origin = json_string_value(json_object_get(r, "origin"));

		printf("%3lld  %-5s %-3s %-4s %-14s from %-16s on %-12s%s\n",
		       (long long)json_integer_value(json_object_get(r, "index")),
		       json_string_value(json_object_get(r, "action")),
		       json_string_value(json_object_get(r, "direction")),
		       json_string_value(json_object_get(r, "proto")),
		       json_string_value(json_object_get(r, "ports")), peer,
		       json_string_value(json_object_get(r, "network")),
		       strcmp(origin, "suggested") == 0 ? "  [suggested]" : "");
	}
}

static int show(struct cli *c)
{
	json_t *res = NULL;
	int ret = cli_call(c, "fw_show", NULL, &res, 10000);

	if (ret)
		return ret;
	if (c->json) {
		cli_print_json(res);
	} else {
		printf("firewall %s, inbound default %s, outbound default %s, denied packets %s\n",
		       json_is_true(json_object_get(res, "enabled")) ? "on" : "OFF",
		       json_string_value(json_object_get(res, "default_in")),
		       json_string_value(json_object_get(res, "default_out")),
		       json_is_true(json_object_get(res, "reject")) ? "rejected" : "dropped");
		print_rules(json_object_get(res, "rules"));
		if (json_integer_value(json_object_get(res, "pending_suggestions")))
			printf("suggested rules are waiting: see 'ray firewall pending NET'\n");
	}
	json_decref(res);
	return 0;
}

/* Parses the rule flags from argv[from..]; "in"/"out" and "allow"/"deny"
 * may stand anywhere. */
static int rule_args(const char *cmd, int argc, char **argv, int from, json_t *args)
{
	for (int i = from; i < argc; i++) {
		const char *v;

		if (!strcmp(argv[i], "in") || !strcmp(argv[i], "out"))
			json_object_set_new(args, "direction", json_string(argv[i]));
		else if (!strcmp(argv[i], "allow") || !strcmp(argv[i], "deny"))
			json_object_set_new(args, "action", json_string(argv[i]));
		else if ((v = cli_flag_value(argc, argv, &i, "-p")) ||
			 (v = cli_flag_value(argc, argv, &i, "--proto")))
			json_object_set_new(args, "proto", json_string(v));
		else if ((v = cli_flag_value(argc, argv, &i, "--port")) ||
			 (v = cli_flag_value(argc, argv, &i, "--ports")))
			json_object_set_new(args, "ports", json_string(v));
		else if ((v = cli_flag_value(argc, argv, &i, "--peer")))
			json_object_set_new(args, "peer", json_string(v));
		else if ((v = cli_flag_value(argc, argv, &i, "--network")))
			json_object_set_new(args, "network", json_string(v));
		else
			return cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
	}
	return 0;
}

static int add(struct cli *c, int argc, char **argv)
{
	json_t *args = json_object(), *res = NULL;
	char msg[600];
	int ret = rule_args("firewall", argc, argv, 2, args);

	if (ret) {
		json_decref(args);
		return ret;
	}
	if (!json_object_get(args, "direction") || !json_object_get(args, "action")) {
		json_decref(args);
		return cli_usage_error("firewall", "'add' needs in|out and allow|deny");
	}
	ret = cli_call(c, "fw_add", args, &res, 15000);
	if (ret)
		return ret;
	snprintf(msg, sizeof(msg), "added: %s", json_string_value(json_object_get(res, "rule")));
	return print_done(c, res, msg);
}

static int remove_rule(struct cli *c, int argc, char **argv)
{
	json_t *args = json_object();
	char *end;
	long idx;
	int ret;

	if (argc == 3 && (idx = strtol(argv[2], &end, 10)) > 0 && !*end) {
		json_object_set_new(args, "index", json_integer(idx));
	} else if ((ret = rule_args("firewall", argc, argv, 2, args))) {
		json_decref(args);
		return ret;
	}
	return call_done(c, "fw_remove", args, "removed");
}

static int suggest(struct cli *c, int argc, char **argv)
{
	json_t *args, *allow = json_array(), *deny = json_array();
	const char *subject = NULL;

	if (argc < 3) {
		json_decref(allow);
		json_decref(deny);
		return cli_usage_error("firewall", "'suggest' needs a network");
	}
	for (int i = 3; i < argc; i++) {
		const char *v;

		if ((v = cli_flag_value(argc, argv, &i, "--subject")))
			subject = v;
		else if ((v = cli_flag_value(argc, argv, &i, "--allow")))
			json_array_append_new(allow, json_string(v));
		else if ((v = cli_flag_value(argc, argv, &i, "--deny")))
			json_array_append_new(deny, json_string(v));
		else {
			json_decref(allow);
			json_decref(deny);
			return cli_usage_error("firewall", "unexpected argument '%s'", argv[i]);
		}
	}
	if (!subject) {
		json_decref(allow);
		json_decref(deny);
		return cli_usage_error("firewall",
				       "'suggest' needs --subject HOST or --subject '*'");
	}
	args = json_pack("{s:s, s:s, s:o, s:o}", "network", argv[2], "subject", subject, "allow",
			 allow, "deny", deny);
	return call_done(c, "fw_suggest", args, "suggestion published in the signed roster");
}

/*
 * The TTY picker: ↑/↓ (or k/j) move, enter accepts, d denies, a accepts
 * all, q finishes: the accepted rules are installed, the rest discarded.
 */
static int pick(struct cli *c, const char *net, json_t *rules)
{
	size_t n = json_array_size(rules), cur = 0;
	char *mark = calloc(n + 1, 1);
	struct termios old, raw;
	json_t *picks;
	int done = 0, ret;

	if (!mark || tcgetattr(STDIN_FILENO, &old) < 0) {
		free(mark);
		return -1;
	}
	memset(mark, '?', n);
	raw = old;
	raw.c_lflag &= ~(ICANON | ECHO);
	tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	while (!done) {
		printf("%.20s suggests %zu rule%s: ↑↓ move, enter accept, d deny, a all, q done\n",
		       net, n, n == 1 ? "" : "s");
		for (size_t i = 0; i < n; i++) {
			json_t *r = json_array_get(rules, i);

			/* one short line per rule, so the redraw stays in place */
			printf("%s [%s] %-5s %-3s %-4s %-12.12s from %-16.16s\n",
			       i == cur ? ">" : " ",
			       mark[i] == 'y'   ? "accept"
			       : mark[i] == 'n' ? " deny "
						: "  ?   ",
			       json_string_value(json_object_get(r, "action")),
			       json_string_value(json_object_get(r, "direction")),
			       json_string_value(json_object_get(r, "proto")),
			       json_string_value(json_object_get(r, "ports")),
			       json_string_value(json_object_get(r, "peer_name")));
		}
		int ch = getchar();

		if (ch == EOF || ch == 'q')
			done = 1;
		else if (ch == 'a')
			memset(mark, 'y', n);
		else if ((ch == '\n' || ch == '\r' || ch == 'd') && n) {
			mark[cur] = ch == 'd' ? 'n' : 'y';
			cur = cur + 1 < n ? cur + 1 : cur;
		} else if (ch == 'j' || ch == 'B')
			cur = cur + 1 < n ? cur + 1 : cur;
		else if ((ch == 'k' || ch == 'A') && cur)
			cur--;
		printf("\033[%zuA\033[J", n + 1); /* redraw in place */
	}
	tcsetattr(STDIN_FILENO, TCSANOW, &old);
	picks = json_array();
	for (size_t i = 0; i < n; i++)
		if (mark[i] == 'y')
			json_array_append_new(picks, json_integer((json_int_t)i + 1));
	free(mark);
	if (json_array_size(picks) == 0) {
		json_decref(picks);
		return call_done(c, "fw_deny", json_pack("{s:s}", "network", net),
				 "nothing accepted: the suggestions were discarded");
	}
	ret = call_done(c, "fw_accept", json_pack("{s:s, s:o}", "network", net, "indices", picks),
			"the accepted rules are installed; the others were discarded");
	return ret;
}

static int pending(struct cli *c, const char *net)
{
	json_t *res = NULL;
	int ret = cli_call(c, "fw_pending", json_pack("{s:s}", "network", net), &res, 10000);

	if (ret)
		return ret;
	if (!c->json && json_is_true(json_object_get(res, "pending")) &&
	    json_array_size(json_object_get(res, "rules")) > 0 && isatty(STDIN_FILENO) &&
	    isatty(STDOUT_FILENO)) {
		ret = pick(c, net, json_object_get(res, "rules"));
		json_decref(res);
		return ret < 0 ? cli_error("cannot use the terminal") : ret;
	}
	if (c->json) {
		cli_print_json(res);
	} else if (!json_is_true(json_object_get(res, "pending"))) {
		printf("%s has no suggested rules waiting\n", net);
	} else {
		printf("%s suggests (accept with 'ray firewall accept %s', discard with 'ray firewall deny %s'):\n",
		       net, net, net);
		if (json_array_size(json_object_get(res, "rules")) == 0)
			printf("  (no rules: accepting removes the network's previous suggestions)\n");
		print_rules(json_object_get(res, "rules"));
	}
	json_decref(res);
	return 0;
}

static int run(struct cli *c, int argc, char **argv)
{
	const char *sub = argc >= 2 ? argv[1] : "show";

	if (!strcmp(sub, "show"))
		return show(c);
	if (!strcmp(sub, "add"))
		return add(c, argc, argv);
	if (!strcmp(sub, "remove"))
		return remove_rule(c, argc, argv);
	if (!strcmp(sub, "default") && argc == 3)
		return call_done(c, "fw_set", json_pack("{s:s}", "default", argv[2]),
				 "inbound default set");
	if (!strcmp(sub, "reject") && argc == 3 &&
	    (!strcmp(argv[2], "on") || !strcmp(argv[2], "off")))
		return call_done(c, "fw_set", json_pack("{s:b}", "reject", !strcmp(argv[2], "on")),
				 !strcmp(argv[2], "on")
					 ? "denied connections are now refused at once"
					 : "denied packets are now dropped silently");
	if ((!strcmp(sub, "on") || !strcmp(sub, "off")) && argc == 2)
		return call_done(c, "fw_set", json_pack("{s:b}", "enabled", !strcmp(sub, "on")),
				 !strcmp(sub, "on") ? "firewall on"
						    : "firewall OFF: every packet passes");
	if (!strcmp(sub, "suggest"))
		return suggest(c, argc, argv);
	if (!strcmp(sub, "pending") && argc == 3)
		return pending(c, argv[2]);
	if ((!strcmp(sub, "accept") || !strcmp(sub, "deny")) && argc == 3)
		return call_done(c, !strcmp(sub, "accept") ? "fw_accept" : "fw_deny",
				 json_pack("{s:s}", "network", argv[2]),
				 !strcmp(sub, "accept") ? "suggested rules installed"
							: "suggested rules discarded");
	if (!strcmp(sub, "auto-accept") && argc == 4 &&
	    (!strcmp(argv[3], "on") || !strcmp(argv[3], "off")))
		return call_done(c, "fw_auto_accept",
				 json_pack("{s:s, s:b}", "network", argv[2], "on",
					   !strcmp(argv[3], "on")),
				 "auto-accept updated");
	return cli_usage_error("firewall", "unknown or incomplete subcommand '%s'", sub);
}

const struct command cmd_firewall = {
	"firewall",
	"per-device firewall: rules, defaults, suggestions",
	"usage: ray firewall [show]\n"
	"       ray firewall add in|out allow|deny [-p tcp|udp|icmp|any] [--port 22|80-443|80,443]\n"
	"                        [--peer HOST|ID|IP] [--network NET]\n"
	"       ray firewall remove N | remove in|out [same selector flags]\n"
	"       ray firewall default allow|deny      inbound default (TCP/UDP)\n"
	"       ray firewall reject on|off           refuse at once instead of dropping\n"
	"       ray firewall on|off\n"
	"       ray firewall suggest NET --subject HOST|'*' [--allow TOKEN]... [--deny TOKEN]...\n"
	"       ray firewall pending NET | accept NET | deny NET\n"
	"       ray firewall auto-accept NET on|off\n\n"
	"Rules match first to last; 'add' puts the new rule first and replaces a\n"
	"rule with the same selector. A fresh install denies unsolicited inbound\n"
	"TCP/UDP, allows inbound ICMP (a removable rule) and all outbound traffic;\n"
	"replies to your own connections always pass. A TOKEN is peer:proto:ports,\n"
	"proto:ports or proto (tcp:22, *:udp:53, icmp); an allow-list also denies\n"
	"everything else from that network.\n",
	run,
};
