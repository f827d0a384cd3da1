/*
 * ray apply / identityof: declarative deploy. `apply` reads a YAML spec
 * (cli/spec.h), creates the networks this node lacks (closed, this node the
 * coordinator), publishes each network's firewall suggestions, and reports
 * the hosts the spec names that have not joined yet (minting hostname-bound
 * invites for them with --invite-missing). The live signed roster is the
 * state: applying the same spec twice changes nothing.
 */
#include "cli/cli.h"
#include "cli/spec.h"
#include "util/fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *find_net(json_t *status, const char *name)
{
	json_t *n;
	size_t i;

	json_array_foreach(json_object_get(status, "networks"), i,
			   n) if (strcmp(json_string_value(json_object_get(n, "name")), name) ==
				  0) return n;
	return NULL;
}

static bool joined(json_t *net, const char *host)
{
	json_t *p;
	size_t i;

	if (strcmp(json_string_value(json_object_get(net, "hostname")), host) == 0)
		return true;
	json_array_foreach(json_object_get(net, "peers"), i,
			   p) if (strcmp(json_string_value(json_object_get(p, "hostname")), host) ==
				  0) return true;
	return false;
}

static int load_spec(const char *path, json_t **spec)
{
	struct yaml_doc doc;
	char err[512];
	char *text = NULL;
	size_t len = 0, n = strlen(path);
	int ret;

	if (!(n > 5 && !strcmp(path + n - 5, ".yaml")) && !(n > 4 && !strcmp(path + n - 4, ".yml")))
		return cli_error("%s: a spec is YAML and its name ends in .yaml or .yml", path);
	ret = fileio_read_all(path, YAML_MAX_BYTES, &text, &len);
	if (ret < 0)
		return cli_error("cannot read %s: %s", path, strerror(-ret));
	ret = yaml_parse(text, len, &doc, err, sizeof(err));
	free(text);
	if (ret < 0)
		return cli_error("%s: %s", path, err);
	ret = spec_build(&doc, spec, err, sizeof(err));
	yaml_doc_free(&doc);
	if (ret < 0)
		return cli_error("%s: %s", path, err);
	return 0;
}

static int apply_network(struct cli *c, const char *name, json_t *body, json_t *status, bool prune,
			 bool invite_missing, json_t *report)
{
	json_t *net = find_net(status, name), *res = NULL, *missing = json_array(), *h;
	json_t *out = json_pack("{s:s, s:b, s:o, s:[]}", "name", name, "created", 0, "missing",
				missing, "invites");
	size_t i;
	int ret;

	json_array_append_new(report, out);
	if (!net) {
		ret = cli_call(c, "create", json_pack("{s:s}", "name", name), &res, 30000);
		if (ret)
			return ret;
		json_decref(res);
		json_object_set_new(out, "created", json_true());
		if (!c->json)
			printf("%screated %s (closed)\n", cli_ok_mark(), name);
	} else if (strcmp(json_string_value(json_object_get(net, "role")), "coordinator") != 0) {
		return cli_error("%s exists here but this node is not its coordinator", name);
	}
	ret = cli_call(c, "fw_suggest_all",
		       json_pack("{s:s, s:O, s:b}", "network", name, "subjects",
				 json_object_get(body, "subjects"), "prune", prune),
		       &res, 30000);
	if (ret)
		return ret;
	json_decref(res);
	if (!c->json)
		printf("%s%s: firewall suggestions for %zu subject%s published\n", cli_ok_mark(),
		       name, json_object_size(json_object_get(body, "subjects")),
		       json_object_size(json_object_get(body, "subjects")) == 1 ? "" : "s");
	json_array_foreach(json_object_get(body, "hosts"), i, h)
	{
		const char *host = json_string_value(h);

		if (net && joined(net, host))
			continue;
		json_array_append(missing, h);
		if (invite_missing) {
			ret = cli_call(c, "invite",
				       json_pack("{s:s, s:s}", "network", name, "hostname", host),
				       &res, 15000);
			if (ret)
				return ret;
			json_array_append_new(json_object_get(out, "invites"),
					      json_pack("{s:s, s:O}", "hostname", host, "code",
							json_object_get(res, "code")));
			if (!c->json)
				printf("  invite for %s: %s\n", host,
				       json_string_value(json_object_get(res, "code")));
			json_decref(res);
		} else if (!c->json) {
			printf("  missing: ray invite %s --hostname %s\n", name, host);
		}
	}
	return 0;
}

static int run_apply(struct cli *c, int argc, char **argv)
{
	bool prune = false, dry = false, invite_missing = false;
	const char *path = NULL, *name;
	json_t *spec = NULL, *status = NULL, *report, *body;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--prune"))
			prune = true;
		else if (!strcmp(argv[i], "--dry-run"))
			dry = true;
		else if (!strcmp(argv[i], "--invite-missing"))
			invite_missing = true;
		else if (!strcmp(argv[i], "--example")) {
			fputs(spec_example, stdout);
			return 0;
		} else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else
			return cli_usage_error("apply", "unexpected argument '%s'", argv[i]);
	}
	if (!path)
		return cli_usage_error("apply",
				       "missing the spec file (see 'ray apply --example')");
	if ((ret = load_spec(path, &spec)))
		return ret;
	if (dry) {
		if (c->json)
			cli_print_json(spec);
		else
			spec_print_yaml(spec, stdout);
		json_decref(spec);
		return 0;
	}
	ret = cli_call(c, "status", NULL, &status, 10000);
	if (ret)
		goto out;
	report = json_array();
	json_object_foreach(json_object_get(spec, "networks"), name, body)
	{
		ret = apply_network(c, name, body, status, prune, invite_missing, report);
		if (ret)
			break;
	}
	if (c->json && !ret)
		cli_print_json(report);
	json_decref(report);
out:
	json_decref(status);
	json_decref(spec);
	return ret;
}

const struct command cmd_apply = {
	"apply",
	"deploy networks and firewall suggestions from a YAML spec",
	"usage: ray apply SPEC.yaml [--prune] [--dry-run] [--invite-missing]\n"
	"       ray apply --example\n\n"
	"Creates the spec's networks that this node lacks (closed, this node the\n"
	"coordinator), publishes each network's firewall suggestions, and lists\n"
	"the hosts the spec names that have not joined yet. aliases: name a user's\n"
	"devices (identities from 'ray identityof'); groups: name sets of hosts and\n"
	"users; both may stand wherever a host may.\n\n"
	"  --prune           publish exactly the spec's subjects (drop others)\n"
	"  --dry-run         print the expanded spec and change nothing\n"
	"  --invite-missing  mint a hostname-bound invite for every missing host\n",
	run_apply,
};

static int run_identityof(struct cli *c, int argc, char **argv)
{
	json_t *status = NULL, *net, *p;
	size_t i;
	int ret;

	if (argc != 3)
		return cli_usage_error("identityof", "expected a network name and a hostname");
	ret = cli_call(c, "status", NULL, &status, 10000);
	if (ret)
		return ret;
	net = find_net(status, argv[1]);
	if (!net) {
		json_decref(status);
		return cli_error("no network named '%s' here", argv[1]);
	}
	if (!strcmp(json_string_value(json_object_get(net, "hostname")), argv[2])) {
		printf(c->json ? "{\"endpoint_id\": \"%s\"}\n" : "%s\n",
		       json_string_value(json_object_get(status, "endpoint_id")));
		json_decref(status);
		return 0;
	}
	json_array_foreach(json_object_get(net, "peers"), i, p)
	{
		if (strcmp(json_string_value(json_object_get(p, "hostname")), argv[2]) == 0) {
			printf(c->json ? "{\"endpoint_id\": \"%s\"}\n" : "%s\n",
			       json_string_value(json_object_get(p, "endpoint_id")));
			json_decref(status);
			return 0;
		}
	}
	json_decref(status);
	return cli_error("no member named '%s' in %s", argv[2], argv[1]);
}

const struct command cmd_identityof = {
	"identityof",
	"print the identity of a member (for apply aliases)",
	"usage: ray identityof NET HOST\n",
	run_identityof,
};
