/*
 * firewall_file: firewall.json, loaded whole or not at all (a bad file
 * changes nothing and says which rule is wrong), and written atomically.
 */
#include "dataplane/firewall_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/fileio.h"

/* ---- state file ---- */

struct fw_loaded {
	bool enabled, reject;
	uint8_t def[2];
	struct fw_rule *rules;
	size_t n;
};

/* An optional string member: NULL when absent or null, -EINVAL (with err)
 * when present with another type. */
static int opt_string(json_t *o, const char *key, const char **out, const char *ctx, char *err,
		      size_t errlen)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		fw_seterr(err, errlen, "%s: \"%s\" must be a string", ctx, key);
		return -EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

static int opt_bool(json_t *o, const char *key, bool *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		fw_seterr(err, errlen, "\"%s\" must be true or false", key);
		return -EINVAL;
	}
	*out = json_is_true(v);
	return 0;
}

static int opt_action(json_t *o, const char *key, uint8_t *out, char *err, size_t errlen)
{
	const char *s;
	int v;

	if (opt_string(o, key, &s, "firewall", err, errlen) < 0)
		return -EINVAL;
	if (!s)
		return 0;
	if ((v = fw_action_parse(s)) < 0) {
		fw_seterr(err, errlen, "\"%s\" must be allow or deny", key);
		return -EINVAL;
	}
	*out = (uint8_t)v;
	return 0;
}

static int load_rule(json_t *o, size_t idx, struct fw_rule *r, char *err, size_t errlen)
{
	const char *dir, *action, *proto, *ports = NULL, *peer, *net, *origin;
	char ctx[32], pbuf[8], sub[FW_ERR_BUF];
	json_t *pv;

	snprintf(ctx, sizeof(ctx), "rule %zu", idx + 1);
	if (!json_is_object(o)) {
		fw_seterr(err, errlen, "%s: must be an object", ctx);
		return -EINVAL;
	}
	if (opt_string(o, "direction", &dir, ctx, err, errlen) < 0 ||
	    opt_string(o, "action", &action, ctx, err, errlen) < 0 ||
	    opt_string(o, "protocol", &proto, ctx, err, errlen) < 0 ||
	    opt_string(o, "peer", &peer, ctx, err, errlen) < 0 ||
	    opt_string(o, "network", &net, ctx, err, errlen) < 0 ||
	    opt_string(o, "suggested_by", &origin, ctx, err, errlen) < 0)
		return -EINVAL;
	pv = json_object_get(o, "ports");
	if (json_is_integer(pv)) {
		json_int_t p = json_integer_value(pv);

		if (p < 1 || p > 65535) {
			fw_seterr(err, errlen, "%s: port %lld is out of range", ctx, (long long)p);
			return -EINVAL;
		}
		snprintf(pbuf, sizeof(pbuf), "%lld", (long long)p);
		ports = pbuf;
	} else if (opt_string(o, "ports", &ports, ctx, err, errlen) < 0) {
		return -EINVAL;
	}
	if (!dir || !action) {
		fw_seterr(err, errlen, "%s: needs \"direction\" and \"action\"", ctx);
		return -EINVAL;
	}
	if (fw_rule_parse(r, dir, action, proto, ports, peer, net, origin, sub, sizeof(sub)) < 0) {
		fw_seterr(err, errlen, "%s: %s", ctx, sub);
		return -EINVAL;
	}
	return 0;
}

static int load_root(json_t *root, struct fw_loaded *L, char *err, size_t errlen)
{
	json_t *v, *rules;
	size_t i;

	if (!json_is_object(root)) {
		fw_seterr(err, errlen, "the firewall file must hold a JSON object");
		return -EINVAL;
	}
	v = json_object_get(root, "version");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 1)) {
		fw_seterr(err, errlen, "\"version\" must be a positive integer");
		return -EINVAL;
	}
	if (v && json_integer_value(v) > FW_FILE_VERSION) {
		fw_seterr(err, errlen,
			  "the firewall file was written by a newer "
			  "rayfish (version %lld)",
			  (long long)json_integer_value(v));
		return -EINVAL;
	}
	if (opt_bool(root, "enabled", &L->enabled, err, errlen) < 0 ||
	    opt_bool(root, "reject", &L->reject, err, errlen) < 0 ||
	    opt_action(root, "default_inbound", &L->def[FW_DIR_IN], err, errlen) < 0 ||
	    opt_action(root, "default_outbound", &L->def[FW_DIR_OUT], err, errlen) < 0)
		return -EINVAL;
	rules = json_object_get(root, "rules");
	if (!rules || json_is_null(rules))
		return 0;
	if (!json_is_array(rules)) {
		fw_seterr(err, errlen, "\"rules\" must be an array");
		return -EINVAL;
	}
	if (json_array_size(rules) > FW_MAX_RULES) {
		fw_seterr(err, errlen, "more than %d rules", FW_MAX_RULES);
		return -EINVAL;
	}
	json_array_foreach(rules, i, v)
	{
		if (load_rule(v, i, &L->rules[L->n], err, errlen) < 0)
			return -EINVAL;
		L->n++;
	}
	return 0;
}

int firewall_load_json(struct firewall *fw, const char *text, size_t len, char *err, size_t errlen)
{
	struct fw_loaded L = {
		.enabled = true,
		.reject = false,
		.def = { FW_ACTION_DENY, FW_ACTION_ALLOW },
	};
	json_error_t jerr;
	json_t *root = NULL;
	int rc;

	if (len > FW_FILE_MAX) {
		fw_seterr(err, errlen, "the firewall file is larger than %d bytes", FW_FILE_MAX);
		return -EINVAL;
	}
	if (!(L.rules = calloc(FW_MAX_RULES, sizeof(*L.rules))))
		return -ENOMEM;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		fw_seterr(err, errlen, "invalid JSON at line %d: %s", jerr.line, jerr.text);
		rc = -EINVAL;
		goto out;
	}
	if ((rc = load_root(root, &L, err, errlen)) < 0)
		goto out;
	memcpy(fw->rules, L.rules, L.n * sizeof(*L.rules));
	fw->n = L.n;
	fw->enabled = L.enabled;
	fw->reject = L.reject;
	fw->def[0] = L.def[0];
	fw->def[1] = L.def[1];
	firewall_recompile(fw);
out:
	json_decref(root);
	free(L.rules);
	return rc;
}

static json_t *rule_to_json(const struct fw_rule *r)
{
	char ports[FW_MAX_PORT_RANGES * 12 + 1];
	json_t *o = json_object();

	if (!o)
		return NULL;
	fw_ports_format(r, ports, sizeof(ports));
	if (json_object_set_new(o, "direction", json_string(fw_dir_name(r->dir))) ||
	    json_object_set_new(o, "action", json_string(fw_action_name(r->action))) ||
	    json_object_set_new(o, "protocol", json_string(fw_proto_name(r->proto))) ||
	    json_object_set_new(o, "ports", json_string(ports)) ||
	    json_object_set_new(o, "peer", json_string(r->peer[0] ? r->peer : "any")) ||
	    json_object_set_new(o, "network",
				r->network[0] ? json_string(r->network) : json_null()) ||
	    (r->origin[0] && json_object_set_new(o, "suggested_by", json_string(r->origin)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *firewall_to_json(const struct firewall *fw)
{
	json_t *root = json_object(), *rules = json_array();
	char *s = NULL;

	if (!root || !rules)
		goto out;
	if (json_object_set_new(root, "version", json_integer(FW_FILE_VERSION)) ||
	    json_object_set_new(root, "enabled", json_boolean(fw->enabled)) ||
	    json_object_set_new(root, "default_inbound",
				json_string(fw_action_name(fw->def[FW_DIR_IN]))) ||
	    json_object_set_new(root, "default_outbound",
				json_string(fw_action_name(fw->def[FW_DIR_OUT]))) ||
	    json_object_set_new(root, "reject", json_boolean(fw->reject)))
		goto out;
	for (size_t i = 0; i < fw->n; i++)
		if (json_array_append_new(rules, rule_to_json(&fw->rules[i])) < 0)
			goto out;
	if (json_object_set(root, "rules", rules) < 0)
		goto out;
	s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
out:
	json_decref(rules);
	json_decref(root);
	return s;
}

int firewall_load(struct firewall *fw, const char *path, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len;
	int rc;

	if ((rc = fileio_read_all(path, FW_FILE_MAX, &buf, &len)) < 0) {
		if (rc != -ENOENT)
			fw_seterr(err, errlen, "cannot read %s: %s", path, strerror(-rc));
		return rc;
	}
	rc = firewall_load_json(fw, buf, len, err, errlen);
	free(buf);
	return rc;
}

int firewall_save(const struct firewall *fw, const char *path)
{
	char *s = firewall_to_json(fw);
	int rc;

	if (!s)
		return -ENOMEM;
	rc = fileio_write_atomic(path, s, strlen(s), 0600);
	free(s);
	return rc;
}
