/*
 * ray config: show, set and unset the node's settings. Works on the settings
 * file directly (no daemon needed), so a lab or an installer can configure a
 * node before its first start. A running daemon is then asked to reload:
 * stun, relay, relay-members and operator change at once, the rest at the
 * daemon's next start (the message says which).
 */
#include "cli/cli.h"
#include "home/settings.h"
#include "util/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int show(struct cli *c, struct settings *s)
{
	json_t *all = settings_to_json(s);

	if (c->json) {
		json_t *flat = json_object();
		const char *key;
		json_t *v;

		json_object_foreach(all, key, v)
			json_object_set(flat, key, json_object_get(v, "value"));
		cli_print_json(flat);
		json_decref(flat);
	} else {
		for (int k = 0; k < SET_COUNT; k++) {
			json_t *v = json_object_get(all, settings_name(k));

			printf("%-14s %-40s %s\n", settings_name(k),
			       json_string_value(json_object_get(v, "value")),
			       strcmp(json_string_value(json_object_get(v, "source")), "default") ==
					       0
				       ? ""
				       : json_string_value(json_object_get(v, "source")));
		}
	}
	json_decref(all);
	return 0;
}

/* Tells a running daemon; returns the sentence that ends the message. */
static const char *reload(struct cli *c, const char *key)
{
	static char why[400];
	char err[256];
	json_t *res = NULL, *v;
	size_t i;
	int ret;

	ret = cli_call_quiet(c, "reload", NULL, &res, 5000, err, sizeof(err));
	if (ret == -ENOENT || ret == -ECONNREFUSED)
		return "applied when the daemon starts";
	if (ret < 0) {
		snprintf(why, sizeof(why),
			 "saved; the daemon did not reload (%s), "
			 "so it applies at its next start",
			 ret == -EREMOTEIO ? err : strerror(-ret));
		return why;
	}
	v = json_object_get(json_object_get(res, "errors"), key);
	if (json_is_string(v)) {
		snprintf(why, sizeof(why), "saved, but the daemon could not apply it: %s",
			 json_string_value(v));
		json_decref(res);
		return why;
	}
	json_array_foreach(json_object_get(res, "restart"), i, v)
	{
		if (strcmp(json_string_value(v), key) == 0) {
			json_decref(res);
			return "restart the daemon to apply it";
		}
	}
	json_decref(res);
	return "applied to the running daemon";
}

static int run(struct cli *c, int argc, char **argv)
{
	struct settings s;
	char err[256];
	int k, ret;

	if (settings_load(&s, c->home, err, sizeof(err)) < 0 &&
	    !(argc >= 2 && strcmp(argv[1], "unset") == 0))
		return cli_error("%s", err);
	if (argc == 1 || (argc == 2 && strcmp(argv[1], "show") == 0)) {
		ret = show(c, &s);
		goto out;
	}
	if (argc < 3 || (strcmp(argv[1], "set") != 0 && strcmp(argv[1], "unset") != 0)) {
		ret = cli_usage_error("config", "expected 'set KEY VALUE' or 'unset KEY'");
		goto out;
	}
	k = settings_key(argv[2]);
	if (k < 0) {
		ret = cli_usage_error("config", "unknown setting '%s'", argv[2]);
		goto out;
	}
	if (strcmp(argv[1], "set") == 0 && argc != 4) {
		ret = cli_usage_error("config", "'set' takes a key and one value");
		goto out;
	}
	if (strcmp(argv[1], "unset") == 0 && argc != 3) {
		ret = cli_usage_error("config", "'unset' takes one key");
		goto out;
	}
	if (settings_set(&s, k, argc == 4 ? argv[3] : NULL, err, sizeof(err)) < 0) {
		ret = cli_error("%s", err);
		goto out;
	}
	ret = fileio_mkdir_p(c->home, 0700);
	if (ret == 0)
		ret = settings_save(&s, c->home);
	if (ret < 0) {
		ret = cli_error("cannot write %s/settings.json: %s", c->home, strerror(-ret));
		goto out;
	}
	const char *how = reload(c, settings_name(k));

	if (c->json)
		puts("{}");
	else
		printf("%s %s (%s)\n", settings_name(k), argc == 4 ? "set" : "reset to its default",
		       how);
	ret = 0;
out:
	settings_free(&s);
	return ret;
}

const struct command cmd_config = {
	"config",
	"show or change settings",
	"usage: ray config [show]\n"
	"       ray config set KEY VALUE\n"
	"       ray config unset KEY\n\n"
	"Settings live in $RAYFISH_HOME/settings.json. A running daemon applies\n"
	"stun, relay, relay-members and operator at once; the others when it\n"
	"starts. RAYFISH_<KEY> in the environment overrides one for a process.\n\n"
	"keys:\n"
	"  dht-bootstrap  comma list of host:port DHT bootstrap nodes\n"
	"  stun           comma list of host:port STUN servers\n"
	"  relay          comma list of turn:USER:PASS@host:port (default none)\n"
	"  listen-port    UDP port (default 41383; ephemeral if taken)\n"
	"  tun-name       TUN interface name (default ray0)\n"
	"  dns-listen     Magic DNS address (default 127.0.0.1:53)\n"
	"  dns-upstreams  comma list of resolver IPs for non-.ray names\n"
	"  mdns           on|off (default on)\n"
	"  relay-members  on|off: relay for members of shared networks when this\n"
	"                 node is directly reachable (default on)\n"
	"  operator       uid that may change the node besides root\n",
	run,
};
