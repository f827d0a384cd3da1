/*
 * ray create / join / leave: the network lifecycle commands. Each parses its
 * flags, asks the daemon, and prints the outcome.
 */
#include "cli/cli.h"
#include "util/limits.h"
#include "mesh/hostname.h"
#include "mesh/identity.h"
#include "mesh/invite.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PROGRESS_POLL_US 500000

static int check_name(const char *cmd, const char *what, const char *v)
{
	if (!hostname_valid(v))
		return cli_usage_error(
			cmd,
			"invalid %s '%s': use 1-63 of a-z, 0-9 and '-', not starting or ending with '-'",
			what, v);
	return 0;
}

static void print_addrs(json_t *res)
{
	printf("  IPv4  %s\n  IPv6  %s\n", json_string_value(json_object_get(res, "ipv4")),
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
	/* The daemon waited for the DHT to store the record and gave up;
	 * it keeps publishing, so a join may take a little longer. */
	if (json_is_false(json_object_get(res, "published")))
		fprintf(stderr,
			"ray: still publishing the network record in the DHT; a join right now may take a while\n");
	if (c->json) {
		cli_print_json(res);
	} else {
		printf("%snetwork created  %s\n  room  %s\n", cli_ok_mark(),
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
	"create",
	"create a network and become its coordinator",
	"usage: ray create [--open] [--name NAME] [--hostname HOST]\n\n"
	"Creates a network with a fresh network key; its public key is the room\n"
	"id that others use to find it. This node becomes the coordinator.\n\n"
	"  --open           anyone with the room id may join (default: closed)\n"
	"  --name NAME      local name of the network (default: three random words)\n"
	"  --hostname HOST  your name in this network (default: the machine's)\n",
	run_create,
};

/* The room id a join code names, or "" when it names none (the daemon
 * then says why). */
static void code_room(const char *code, char room[IDENTITY_ID_LEN + 1])
{
	struct invite_code ic;
	uint8_t pk[LIMIT_KEY_LEN];

	room[0] = 0;
	if (identity_id_parse(code, pk) == 0)
		identity_id_format(pk, room);
	else if (invite_code_decode(code, &ic) == 0)
		identity_id_format(ic.net, room);
}

/* One stderr line per change of the daemon's join of room. */
static void progress_show(const json_t *st, const char *room, char *last, size_t lastlen)
{
	const json_t *jv;
	size_t i;
	char now[64];

	json_array_foreach(json_object_get(st, "joining"), i, jv)
	{
		const char *r = json_string_value(json_object_get(jv, "room_id"));
		const char *state = json_string_value(json_object_get(jv, "state"));
		json_int_t n = json_integer_value(json_object_get(jv, "lookups"));

		if (!r || !state || strcmp(r, room) != 0)
			continue;
		snprintf(now, sizeof(now), "%s %lld", state, (long long)n);
		if (strcmp(now, last) == 0)
			return;
		snprintf(last, lastlen, "%s", now);
		if (strcmp(state, "looking-up") == 0 && n > 0)
			fprintf(stderr, "looking up the network in the DHT… (attempt %lld)\n",
				(long long)n + 1);
		else if (strcmp(state, "asking") == 0)
			fprintf(stderr, "found it; asking a coordinator for admission…\n");
		else if (strcmp(state, "fetching") == 0)
			fprintf(stderr, "admitted; fetching the roster…\n");
		return;
	}
}

/* While the join request waits (up to a few minutes), a child polls the
 * daemon's status and reports progress on stderr; stdout stays the join's
 * alone. */
struct join_progress {
	char room[IDENTITY_ID_LEN + 1];
	char last[64];
};

static void join_progress_step(struct cli *c, void *ud)
{
	struct join_progress *jp = ud;
	char err[256];
	json_t *st;

	if (cli_call_quiet(c, "status", NULL, &st, 2000, err, sizeof(err)) < 0)
		return;
	progress_show(st, jp->room, jp->last, sizeof(jp->last));
	json_decref(st);
}

static int progress_start(struct cli *c, const char *code)
{
	struct join_progress jp = { .last = "" };

	code_room(code, jp.room);
	if (!jp.room[0])
		return -1;
	return cli_progress_start(c, join_progress_step, &jp, PROGRESS_POLL_US);
}

/* "-": the code is the first line of standard input, so it never shows in
 * ps or the shell's history. Returns 0 or a usage error. */
static int code_from_stdin(char *buf, size_t cap)
{
	size_t n;

	if (!fgets(buf, (int)cap, stdin))
		return cli_usage_error("join",
				       "'-' reads the code from standard input, which is empty");
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	if (!n)
		return cli_usage_error("join", "the first line of standard input holds no code");
	return 0;
}

static int run_join(struct cli *c, int argc, char **argv)
{
	json_t *args = json_object(), *res = NULL;
	const char *code = NULL;
	char line[512];
	int progress = -1;
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
		} else if (strcmp(argv[i], "-") == 0 && !code) {
			if ((ret = code_from_stdin(line, sizeof(line))))
				goto fail;
			code = line;
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
	/* --json keeps stderr quiet too unless a person watches it: scripts
	 * often capture both streams. */
	if (!c->json || isatty(STDERR_FILENO)) {
		fprintf(stderr, "joining… (looking the network up in the DHT)\n");
		progress = progress_start(c, code);
	}
	ret = cli_call(c, "join", args, &res, 120000);
	cli_progress_stop(progress, false);
	if (ret)
		return ret;
	if (c->json) {
		cli_print_json(res);
	} else if (json_is_true(json_object_get(res, "pending"))) {
		printf("join request queued: a coordinator must approve it ('ray requests');\n"
		       "this node keeps asking and joins as soon as it is accepted\n");
	} else {
		printf("%sjoined %s\n", cli_ok_mark(),
		       json_string_value(json_object_get(res, "name")));
		print_addrs(res);
	}
	json_decref(res);
	return 0;
fail:
	json_decref(args);
	return ret;
}

const struct command cmd_join = {
	"join",
	"join a network by room id or invite code",
	"usage: ray join ROOM_ID|CODE|- [--name ALIAS] [--hostname HOST]\n"
	"                [--auto-accept-firewall]\n\n"
	"Finds the network through the DHT, asks a coordinator for admission and\n"
	"connects to every member. Open networks admit anyone with the room id.\n"
	"With '-' the room id or code is read from the first line of standard\n"
	"input, so an invite never shows in ps or the shell history.\n\n"
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
	"leave",
	"leave a network",
	"usage: ray leave NET\n\n"
	"Closes the connections of this network gracefully (peers drop you at\n"
	"once; the coordinator removes you from the roster) and forgets it.\n",
	run_leave,
};
