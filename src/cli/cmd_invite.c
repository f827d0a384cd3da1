/*
 * ray invite / requests / accept / deny: the coordinator's admission
 * commands. An invite code is printed as text and, on a terminal, as a QR
 * code so a phone camera can carry it.
 */
#include "cli/cli.h"

#include <qrencode.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Two QR rows per text line with half-block characters, quiet zone of 2. */
static void print_qr(const char *text)
{
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	int w;

	if (!qr)
		return;
	w = qr->width;
	for (int y = -2; y < w + 2; y += 2) {
		for (int x = -2; x < w + 2; x++) {
			int top = y >= 0 && y < w && x >= 0 && x < w && (qr->data[y * w + x] & 1);
			int bot = y + 1 >= 0 && y + 1 < w && x >= 0 && x < w &&
				  (qr->data[(y + 1) * w + x] & 1);

			/* dark modules print as spaces on a light background */
			fputs(top && bot ? " " : top ? "▄" : bot ? "▀" : "█", stdout);
		}
		putchar('\n');
	}
	QRcode_free(qr);
}

static void print_expiry(json_int_t expires)
{
	long left = (long)(expires - time(NULL));

	if (expires == 0)
		printf("never expires");
	else if (left > 86400)
		printf("expires in %ldd", (left + 43200) / 86400);
	else if (left > 3600)
		printf("expires in %ldh", (left + 1800) / 3600);
	else if (left > 0)
		printf("expires in %ldm", (left + 59) / 60);
	else
		printf("expired");
}

static int mint(struct cli *c, const char *net, int argc, char **argv)
{
	json_t *args = json_pack("{s:s}", "network", net), *res = NULL;
	int ret;

	for (int i = 2; i < argc; i++) {
		const char *v;

		if (strcmp(argv[i], "--reusable") == 0) {
			json_object_set_new(args, "reusable", json_true());
		} else if ((v = cli_flag_value(argc, argv, &i, "--expires"))) {
			json_object_set_new(args, "expires", json_string(v));
		} else if ((v = cli_flag_value(argc, argv, &i, "--hostname"))) {
			json_object_set_new(args, "hostname", json_string(v));
		} else {
			json_decref(args);
			return cli_usage_error("invite", "unexpected argument '%s'", argv[i]);
		}
	}
	ret = cli_call(c, "invite", args, &res, 15000);
	if (ret)
		return ret;
	if (c->json) {
		json_t *out = json_pack("{s:O, s:O, s:O, s:O}", "id", json_object_get(res, "id"),
					"code", json_object_get(res, "code"), "expires",
					json_object_get(res, "expires"), "reusable",
					json_object_get(res, "reusable"));
		cli_print_json(out);
		json_decref(out);
	} else {
		const char *host = json_string_value(json_object_get(res, "hostname"));
		bool reusable = json_is_true(json_object_get(res, "reusable"));

		printf("%s%s %s\n", cli_ok_mark(), reusable ? "reusable key" : "invite",
		       json_string_value(json_object_get(res, "id")));
		printf("  %s\n", json_string_value(json_object_get(res, "code")));
		printf("  %s, ", reusable ? "multi-use" : "single-use");
		print_expiry(json_integer_value(json_object_get(res, "expires")));
		if (host && *host)
			printf(", binds hostname %s", host);
		printf("\n  join with: ray join <code>%s\n",
		       reusable ? " --hostname NAME --auto-accept-firewall" : "");
		if (isatty(STDOUT_FILENO))
			print_qr(json_string_value(json_object_get(res, "code")));
	}
	json_decref(res);
	return 0;
}

static int list(struct cli *c, const char *net)
{
	json_t *res = NULL, *v;
	size_t i;
	int ret = cli_call(c, "invite_list", json_pack("{s:s}", "network", net), &res, 10000);

	if (ret)
		return ret;
	if (c->json) {
		cli_print_json(res);
	} else if (json_array_size(res) == 0) {
		printf("no invites for %s: mint one with 'ray invite %s'\n", net, net);
	} else {
		printf("%-10s %-9s %-8s %-16s %s\n", "ID", "KIND", "STATUS", "HOSTNAME", "EXPIRY");
		json_array_foreach(res, i, v)
		{
			printf("%-10s %-9s %-8s %-16s ",
			       json_string_value(json_object_get(v, "id")),
			       json_is_true(json_object_get(v, "reusable")) ? "reusable" : "single",
			       json_string_value(json_object_get(v, "status")),
			       json_string_value(json_object_get(v, "hostname")));
			print_expiry(json_integer_value(json_object_get(v, "expires")));
			putchar('\n');
		}
	}
	json_decref(res);
	return 0;
}

static int run_invite(struct cli *c, int argc, char **argv)
{
	json_t *res = NULL;
	int ret;

	if (argc < 2 || argv[1][0] == '-')
		return cli_usage_error("invite", "missing the network name");
	if (argc >= 3 && strcmp(argv[2], "list") == 0) {
		if (argc != 3)
			return cli_usage_error("invite", "'list' takes no arguments");
		return list(c, argv[1]);
	}
	if (argc >= 3 && strcmp(argv[2], "revoke") == 0) {
		if (argc != 4)
			return cli_usage_error("invite", "'revoke' takes one invite id");
		ret = cli_call(c, "invite_revoke",
			       json_pack("{s:s, s:s}", "network", argv[1], "id", argv[3]), &res,
			       15000);
		if (ret)
			return ret;
		if (c->json)
			cli_print_json(res);
		else
			printf("revoked %s\n", argv[3]);
		json_decref(res);
		return 0;
	}
	return mint(c, argv[1], argc, argv);
}

const struct command cmd_invite = {
	"invite",
	"mint, list or revoke invite codes (coordinators)",
	"usage: ray invite NET [--expires 7d] [--hostname H]\n"
	"       ray invite NET --reusable [--expires 30d]\n"
	"       ray invite NET list\n"
	"       ray invite NET revoke ID\n\n"
	"A single-use code admits one machine to a closed network and is burned on\n"
	"use; --hostname binds the name its holder gets (a clash is refused, never\n"
	"renamed). A reusable key admits many machines until it expires or is\n"
	"revoked; it rides the signed network record, so every coordinator honours\n"
	"it. Only a hash of each secret is stored.\n",
	run_invite,
};

static int run_requests(struct cli *c, int argc, char **argv)
{
	json_t *res = NULL, *v;
	size_t i;
	int ret;

	if (argc != 2)
		return cli_usage_error("requests", "expected exactly one network name");
	ret = cli_call(c, "requests", json_pack("{s:s}", "network", argv[1]), &res, 10000);
	if (ret)
		return ret;
	if (c->json) {
		cli_print_json(res);
	} else if (json_array_size(res) == 0) {
		printf("no join requests waiting in %s\n", argv[1]);
	} else {
		printf("%-10s %-16s %s\n", "ID", "HOSTNAME", "ENDPOINT");
		json_array_foreach(res, i, v)
			printf("%-10s %-16s %s\n", json_string_value(json_object_get(v, "id")),
			       json_string_value(json_object_get(v, "hostname")),
			       json_string_value(json_object_get(v, "endpoint_id")));
		printf("approve with 'ray accept %s ID', refuse with 'ray deny %s ID'\n", argv[1],
		       argv[1]);
	}
	json_decref(res);
	return 0;
}

const struct command cmd_requests = {
	"requests",
	"list join requests waiting for approval",
	"usage: ray requests NET\n\n"
	"Machines that ran 'ray join ROOM_ID' on a closed network wait here until a\n"
	"coordinator accepts or denies them.\n",
	run_requests,
};

static int decide(struct cli *c, const char *cmd, int argc, char **argv)
{
	json_t *res = NULL;
	int ret;

	if (argc != 3)
		return cli_usage_error(cmd, "expected a network name and a request id");
	ret = cli_call(c, cmd, json_pack("{s:s, s:s}", "network", argv[1], "id", argv[2]), &res,
		       15000);
	if (ret)
		return ret;
	if (c->json)
		cli_print_json(res);
	else
		printf("%s %s\n", strcmp(cmd, "accept") == 0 ? "accepted" : "denied", argv[2]);
	json_decref(res);
	return 0;
}

static int run_accept(struct cli *c, int argc, char **argv)
{
	return decide(c, "accept", argc, argv);
}

static int run_deny(struct cli *c, int argc, char **argv)
{
	return decide(c, "deny", argc, argv);
}

const struct command cmd_accept = {
	"accept",
	"admit a pending join request",
	"usage: ray accept NET ID\n\nID is from 'ray requests NET' (or the joiner's endpoint id).\n",
	run_accept,
};

const struct command cmd_deny = {
	"deny",
	"refuse a pending join request",
	"usage: ray deny NET ID\n\nThe joiner is told at once and stops retrying.\n",
	run_deny,
};
