/*
 * spec: see spec.h. Errors point at the line of the offending node through
 * the path → line map that proto/yaml keeps.
 */
#include "cli/spec.h"
#include "dataplane/firewall.h"
#include "mesh/hostname.h"
#include "mesh/identity.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SPEC_MAX_EXPAND 256

const char spec_example[] =
	"# ray apply example: networks, who may reach what, and names for people.\n"
	"aliases:\n"
	"  alice: 0000000000000000000000000000000000000000000000000000000000000000  # ray identityof NET HOST\n"
	"groups:\n"
	"  admins: [alice, ops-laptop]\n"
	"  web: [web-1, web-2]\n"
	"networks:\n"
	"  prod:\n"
	"    web:                      # a group as subject: every host in it\n"
	"      allow: [\"*:tcp:443\", \"admins:tcp:22\"]\n"
	"    db:\n"
	"      allow: [\"web:tcp:5432\", \"admins:tcp:22\"]\n"
	"    \"*\":\n"
	"      allow: [icmp]\n";

static int err_at(const struct yaml_doc *doc, const char *path, char *err, size_t errlen,
		  const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int line = yaml_line(doc, path);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(err, errlen, "line %d: %s", line, msg);
	else
		snprintf(err, errlen, "%s", msg);
	return -EINVAL;
}

static int check_aliases(const struct yaml_doc *doc, json_t *aliases, char *err, size_t errlen)
{
	const char *name;
	json_t *v, *id;
	char path[512];
	size_t i;

	if (!aliases)
		return 0;
	if (!json_is_object(aliases))
		return err_at(doc, ".aliases", err, errlen,
			      "aliases must be a mapping of name → identity");
	json_object_foreach(aliases, name, v)
	{
		snprintf(path, sizeof(path), ".aliases.%s", name);
		if (!hostname_valid(name))
			return err_at(doc, path, err, errlen, "alias '%s' is not a valid name",
				      name);
		if (json_is_string(v) && identity_id_valid(json_string_value(v)))
			continue;
		if (!json_is_array(v) || json_array_size(v) == 0)
			return err_at(
				doc, path, err, errlen,
				"alias '%s' must be an identity (64 hex characters) or a list of them",
				name);
		json_array_foreach(v, i, id) if (
			!json_is_string(id) ||
			!identity_id_valid(json_string_value(
				id))) return err_at(doc, path, err, errlen,
						    "alias '%s': entry %zu is not an identity (see 'ray identityof')",
						    name, i + 1);
	}
	return 0;
}

static int check_groups(const struct yaml_doc *doc, json_t *groups, json_t *aliases, char *err,
			size_t errlen)
{
	const char *name;
	json_t *v, *m;
	char path[512];
	size_t i;

	if (!groups)
		return 0;
	if (!json_is_object(groups))
		return err_at(doc, ".groups", err, errlen,
			      "groups must be a mapping of name → list");
	json_object_foreach(groups, name, v)
	{
		snprintf(path, sizeof(path), ".groups.%s", name);
		if (!hostname_valid(name))
			return err_at(doc, path, err, errlen, "group '%s' is not a valid name",
				      name);
		if (json_object_get(aliases, name))
			return err_at(doc, path, err, errlen, "'%s' is both an alias and a group",
				      name);
		if (!json_is_array(v) || json_array_size(v) == 0 ||
		    json_array_size(v) > SPEC_MAX_EXPAND)
			return err_at(doc, path, err, errlen,
				      "group '%s' must list 1-%d hosts or aliases", name,
				      SPEC_MAX_EXPAND);
		json_array_foreach(v, i, m) if (
			!json_is_string(m) ||
			!hostname_valid(json_string_value(
				m))) return err_at(doc, path, err, errlen,
						   "group '%s': entry %zu is not a name", name,
						   i + 1);
	}
	return 0;
}

static void add_unique(json_t *arr, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v) if (strcmp(json_string_value(v), s) == 0) return;
	json_array_append_new(arr, json_string(s));
}

/* A peer name → identities (aliases) or hostnames (hosts, groups); hosts
 * also go to `hosts`. */
static void expand_peer(json_t *aliases, json_t *groups, const char *name, json_t *out,
			json_t *hosts)
{
	json_t *a = json_object_get(aliases, name), *g = json_object_get(groups, name), *v;
	size_t i;

	if (a) {
		if (json_is_string(a))
			add_unique(out, json_string_value(a));
		else
			json_array_foreach(a, i, v) add_unique(out, json_string_value(v));
		return;
	}
	if (g) {
		json_array_foreach(g, i, v)
			expand_peer(aliases, NULL, json_string_value(v), out, hosts);
		return;
	}
	add_unique(out, name);
	if (hosts && strcmp(name, "*") != 0)
		add_unique(hosts, name);
}

static int expand_token(const struct yaml_doc *doc, const char *path, json_t *aliases,
			json_t *groups, const char *tok, json_t *out, json_t *hosts, char *err,
			size_t errlen)
{
	char buf[256], *parts[3] = { 0 }, *p = buf, fwerr[FW_ERR_BUF];
	const char *peer = "*", *proto, *ports = "*";
	struct fw_rule r;
	json_t *peers;
	size_t n = 0, i;
	json_t *v;

	if (strlen(tok) >= sizeof(buf))
		return err_at(doc, path, err, errlen, "token too long");
	snprintf(buf, sizeof(buf), "%s", tok);
	while (p && n < 3) {
		parts[n++] = p;
		p = strchr(p, ':');
		if (p)
			*p++ = 0;
	}
	if (p)
		return err_at(doc, path, err, errlen, "'%s': expected peer:proto:ports", tok);
	if (n == 3) {
		peer = parts[0];
		proto = parts[1];
		ports = parts[2];
	} else {
		proto = parts[0];
		if (n == 2)
			ports = parts[1];
	}
	if (strcmp(peer, "*") != 0 && !hostname_valid(peer))
		return err_at(doc, path, err, errlen, "'%s': '%s' is not a host, alias or group",
			      tok, peer);
	if (fw_rule_parse(&r, "in", "allow", proto, ports, NULL, NULL, NULL, fwerr, sizeof(fwerr)) <
	    0)
		return err_at(doc, path, err, errlen, "'%s': %s", tok, fwerr);
	peers = json_array();
	expand_peer(aliases, groups, peer, peers, hosts);
	json_array_foreach(peers, i, v)
	{
		char t[512];

		snprintf(t, sizeof(t), "%s:%s:%s", json_string_value(v), proto, ports);
		add_unique(out, t);
	}
	json_decref(peers);
	return 0;
}

static int build_subject(const struct yaml_doc *doc, const char *path, json_t *aliases,
			 json_t *groups, json_t *rules, json_t *norm, json_t *hosts, char *err,
			 size_t errlen)
{
	static const char *kinds[] = { "allow", "deny" };
	const char *key;
	json_t *v;

	if (!json_is_object(rules))
		return err_at(doc, path, err, errlen, "expected allow: and/or deny: lists");
	json_object_foreach(rules, key,
			    v) if (strcmp(key, "allow") != 0 &&
				   strcmp(key, "deny") !=
					   0) return err_at(doc, path, err, errlen,
							    "unknown key '%s' (allow or deny)",
							    key);
	for (int k = 0; k < 2; k++) {
		json_t *list = json_object_get(rules, kinds[k]), *out = json_array(), *tok;
		char sub[1024];
		size_t i;

		json_object_set_new(norm, kinds[k], out);
		if (!list)
			continue;
		snprintf(sub, sizeof(sub), "%s.%s", path, kinds[k]);
		if (!json_is_array(list))
			return err_at(doc, sub, err, errlen, "%s must be a list of tokens",
				      kinds[k]);
		json_array_foreach(list, i, tok)
		{
			char tp[1100];

			snprintf(tp, sizeof(tp), "%s[%zu]", sub, i);
			if (!json_is_string(tok))
				return err_at(doc, tp, err, errlen,
					      "a token is a string like tcp:22");
			if (expand_token(doc, tp, aliases, groups, json_string_value(tok), out,
					 hosts, err, errlen) < 0)
				return -EINVAL;
		}
	}
	return 0;
}

static int build_network(const struct yaml_doc *doc, const char *net, json_t *body, json_t *aliases,
			 json_t *groups, json_t *out, char *err, size_t errlen)
{
	json_t *subjects = json_object(), *hosts = json_array(), *rules;
	const char *subj;
	char path[512];
	int ret = 0;

	json_object_set_new(out, "subjects", subjects);
	json_object_set_new(out, "hosts", hosts);
	snprintf(path, sizeof(path), ".networks.%s", net);
	if (!hostname_valid(net))
		return err_at(doc, path, err, errlen, "'%s' is not a valid network name", net);
	if (body && json_is_string(body) && json_string_length(body) == 0)
		return 0;
	if (body && !json_is_object(body))
		return err_at(doc, path, err, errlen, "a network maps subjects to rules");
	json_object_foreach(body, subj, rules)
	{
		json_t *targets = json_array(), *t;
		char sp[768];
		size_t i;

		snprintf(sp, sizeof(sp), "%s.%s", path, subj);
		if (strcmp(subj, "*") != 0 && !hostname_valid(subj)) {
			json_decref(targets);
			return err_at(doc, sp, err, errlen,
				      "subject '%s' is not a host, group or '*'", subj);
		}
		if (json_object_get(aliases, subj)) {
			json_decref(targets);
			return err_at(
				doc, sp, err, errlen,
				"'%s' is an alias (identities): a subject is a hostname, a group or '*'",
				subj);
		}
		expand_peer(NULL, groups, subj, targets, hosts);
		json_array_foreach(targets, i, t)
		{
			json_t *norm = json_object();

			json_object_set_new(subjects, json_string_value(t), norm);
			ret = build_subject(doc, sp, aliases, groups, rules, norm, hosts, err,
					    errlen);
			if (ret < 0)
				break;
		}
		json_decref(targets);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int spec_build(const struct yaml_doc *doc, json_t **out, char *err, size_t errlen)
{
	json_t *root = doc->root, *aliases, *groups, *nets, *res, *body;
	const char *key;
	int ret;

	*out = NULL;
	if (!json_is_object(root))
		return err_at(doc, "", err, errlen,
			      "the spec must be a mapping with a networks: key");
	json_object_foreach(root, key, body) if (strcmp(key, "aliases") && strcmp(key, "groups") &&
						 strcmp(key, "networks"))
	{
		char p[300];

		snprintf(p, sizeof(p), ".%s", key);
		return err_at(doc, p, err, errlen, "unknown key '%s' (aliases, groups, networks)",
			      key);
	}
	aliases = json_object_get(root, "aliases");
	groups = json_object_get(root, "groups");
	nets = json_object_get(root, "networks");
	if ((ret = check_aliases(doc, aliases, err, errlen)) < 0 ||
	    (ret = check_groups(doc, groups, aliases, err, errlen)) < 0)
		return ret;
	if (!json_is_object(nets) || json_object_size(nets) == 0)
		return err_at(doc, ".networks", err, errlen,
			      "networks: must map at least one network");
	res = json_pack("{s:{}}", "networks");
	json_object_foreach(nets, key, body)
	{
		json_t *n = json_object();

		json_object_set_new(json_object_get(res, "networks"), key, n);
		ret = build_network(doc, key, body, aliases, groups, n, err, errlen);
		if (ret < 0) {
			json_decref(res);
			return ret;
		}
	}
	*out = res;
	return 0;
}

static void print_list(FILE *f, const char *indent, const char *name, json_t *list)
{
	json_t *v;
	size_t i;

	if (json_array_size(list) == 0)
		return;
	fprintf(f, "%s%s:\n", indent, name);
	json_array_foreach(list, i, v) fprintf(f, "%s  - \"%s\"\n", indent, json_string_value(v));
}

void spec_print_yaml(const json_t *spec, FILE *f)
{
	const char *net, *subj;
	json_t *body, *rules;

	fprintf(f, "networks:\n");
	json_object_foreach(json_object_get(spec, "networks"), net, body)
	{
		fprintf(f, "  %s:\n", net);
		json_object_foreach(json_object_get(body, "subjects"), subj, rules)
		{
			fprintf(f, "    \"%s\":\n", subj);
			print_list(f, "      ", "allow", json_object_get(rules, "allow"));
			print_list(f, "      ", "deny", json_object_get(rules, "deny"));
		}
	}
}
