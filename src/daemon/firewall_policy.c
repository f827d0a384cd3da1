/*
 * firewall_policy: see firewall_policy.h.
 */
#include "daemon/firewall_policy.h"
#include "daemon/daemon.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "dataplane/conntrack.h"
#include "dataplane/firewall.h"
#include "mesh/address.h"
#include "proto/jsonpack.h"
#include "util/limits.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUGGEST_MAX_TOKENS 64

static void fw_path(struct daemon *d, char *out, size_t cap)
{
	snprintf(out, cap, "%s/firewall.json", d->home);
}

static int save(struct daemon *d)
{
	char path[4096];
	int ret;

	fw_path(d, path, sizeof(path));
	ret = firewall_save(d->fw, path);
	if (ret < 0)
		log_error("firewall: cannot save %s: %s", path, strerror(-ret));
	return ret;
}

static const void *resolve_peer(const char *id, void *ud)
{
	uint8_t pk[LIMIT_KEY_LEN];

	return identity_id_parse(id, pk) == 0 ? peers_find(ud, pk) : NULL;
}

static int64_t resolve_net(const char *name, void *ud)
{
	struct network *n = network_find(ud, name);

	return n ? (int64_t)n->index : -1;
}

static bool peer_shares(const void *peer, uint32_t net, void *ud)
{
	const struct peer *p = peer;

	(void)ud;
	for (size_t i = 0; p && i < p->n_nets; i++)
		if (p->nets[i] == net)
			return true;
	return false;
}

int policy_open(struct daemon *d)
{
	struct fw_resolver r = { resolve_peer, resolve_net, peer_shares, d };
	char path[4096], err[FW_ERR_BUF];
	int ret;

	d->ct = calloc(1, sizeof(*d->ct));
	if (!d->ct || conntrack_init(d->ct, CT_DEFAULT_CAPACITY) < 0)
		return -ENOMEM;
	ret = firewall_open(&d->fw, d->ct);
	if (ret < 0)
		return ret;
	firewall_set_resolver(d->fw, &r);
	fw_path(d, path, sizeof(path));
	ret = firewall_load(d->fw, path, err, sizeof(err));
	if (ret == -ENOENT)
		return 0; /* fresh config: the secure posture with the ICMP seed */
	if (ret < 0) {
		log_error("firewall: %s: %s (fix or remove the file; it was left untouched)", path,
			  err);
		return ret;
	}
	return 0;
}

void policy_close(struct daemon *d)
{
	if (d->fw)
		firewall_close(d->fw);
	d->fw = NULL;
	if (d->ct) {
		conntrack_close(d->ct);
		free(d->ct);
	}
	d->ct = NULL;
}

void policy_recompile(struct daemon *d)
{
	if (d->fw && firewall_recompile(d->fw) < 0)
		log_warn("firewall: cannot recompile the rules; the previous ones stay");
}

/* "peer:proto:ports", "proto:ports" or "proto" → one rule. */
static int token_rule(struct daemon *d, struct network *n, const char *token, const char *action,
		      struct fw_rule *out, char *err, size_t errlen)
{
	char buf[256], *parts[3] = { NULL, NULL, NULL }, *p;
	const char *peer = NULL, *proto, *ports = NULL;
	const struct gb_member *m;
	int count = 0;

	if (strlen(token) >= sizeof(buf)) {
		snprintf(err, errlen, "token '%.40s…' is too long", token);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", token);
	for (p = buf; count < 3; count++) {
		parts[count] = p;
		p = strchr(p, ':');
		if (!p)
			break;
		*p++ = 0;
	}
	if (p) {
		snprintf(err, errlen, "token '%s': expected peer:proto:ports", token);
		return -EINVAL;
	}
	count++;
	if (count == 3) {
		peer = parts[0];
		proto = parts[1];
		ports = parts[2];
	} else {
		proto = parts[0];
		ports = count == 2 ? parts[1] : NULL;
	}
	if (peer && identity_id_valid(peer)) {
		/* an identity (ray apply aliases): taken as it is */
	} else if (peer && strcmp(peer, "*") != 0) {
		m = group_blob_find_member_by_hostname(&n->blob, peer);
		if (!m) {
			snprintf(err, errlen, "token '%.40s': no member named %.40s in %.32s",
				 token, peer, n->saved.name);
			return -ENOENT;
		}
		peer = m->id;
	} else {
		peer = NULL;
	}
	(void)d;
	return fw_rule_parse(out, "in", action, proto, ports, peer, n->saved.name, n->saved.name,
			     err, errlen);
}

/* Appends the rules of one subject's {"allow": [...], "deny": [...]}. */
static size_t subject_rules(struct daemon *d, struct network *n, json_t *subj, struct fw_rule *out,
			    size_t cap, bool *has_allow)
{
	static const char *actions[] = { "deny", "allow" };
	char err[FW_ERR_BUF];
	size_t count = 0, i;
	json_t *tok;

	for (int a = 0; a < 2; a++) {
		json_array_foreach(json_object_get(subj, actions[a]), i, tok)
		{
			if (count == cap || !json_is_string(tok))
				continue;
			if (token_rule(d, n, json_string_value(tok), actions[a], &out[count], err,
				       sizeof(err)) < 0) {
				log_warn("firewall: suggestion of %s skipped: %s", n->saved.name,
					 err);
				continue;
			}
			*has_allow |= a == 1;
			count++;
		}
	}
	return count;
}

/* The rules n's roster suggests for this node; *out is malloc'd. */
static size_t materialize(struct daemon *d, struct network *n, struct fw_rule **out)
{
	const struct gb_member *me = network_me(d, n);
	json_t *sugg = NULL;
	size_t count = 0;
	bool has_allow = false;
	char err[FW_ERR_BUF];

	*out = NULL;
	if (!me || !n->blob.firewall_len ||
	    jsonpack_decode(n->blob.firewall, n->blob.firewall_len, &sugg) < 0 ||
	    !json_is_object(sugg) || json_object_size(sugg) == 0)
		goto out;
	*out = calloc(FW_MAX_RULES, sizeof(**out));
	if (!*out)
		goto out;
	/* The node's own subject first: it is more specific than "*". */
	count += subject_rules(d, n, json_object_get(sugg, me->hostname), *out + count,
			       FW_MAX_RULES - 1 - count, &has_allow);
	count += subject_rules(d, n, json_object_get(sugg, "*"), *out + count,
			       FW_MAX_RULES - 1 - count, &has_allow);
	/* An allow-list is a whitelist: everything else from this network is denied. */
	if (has_allow && fw_rule_parse(&(*out)[count], "in", "deny", NULL, NULL, NULL,
				       n->saved.name, n->saved.name, err, sizeof(err)) == 0)
		count++;
out:
	json_decref(sugg);
	if (!count) {
		free(*out);
		*out = NULL;
	}
	return count;
}

static bool same_rules(const struct fw_rule *a, size_t na, const struct fw_rule *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!fw_rule_same_selector(&a[i], &b[i]) || a[i].action != b[i].action)
			return false;
	return true;
}

static size_t installed(struct daemon *d, const char *net, struct fw_rule *out, size_t cap)
{
	const struct fw_rule *rules;
	size_t n, count = 0;

	rules = firewall_rules(d->fw, &n);
	for (size_t i = 0; i < n && count < cap; i++)
		if (strcmp(rules[i].origin, net) == 0)
			out[count++] = rules[i];
	return count;
}

static void install(struct daemon *d, struct network *n, const struct fw_rule *rules, size_t count)
{
	if (firewall_replace_network_rules(d->fw, n->saved.name, rules, count) < 0) {
		log_warn("firewall: cannot install the suggestions of %s", n->saved.name);
		return;
	}
	save(d);
	log_info("firewall: installed %zu suggested rule%s of %s", count, count == 1 ? "" : "s",
		 n->saved.name);
}

static void clear_pending(struct network *n)
{
	free(n->fw_pending);
	n->fw_pending = NULL;
	n->n_fw_pending = 0;
	n->fw_pending_set = false;
}

void policy_on_roster(struct daemon *d, struct network *n)
{
	struct fw_rule *rules = NULL, *cur;
	size_t count, ncur;

	if (!d->fw)
		return;
	count = materialize(d, n, &rules);
	cur = calloc(FW_MAX_RULES, sizeof(*cur));
	ncur = cur ? installed(d, n->saved.name, cur, FW_MAX_RULES) : 0;
	clear_pending(n);
	if (cur && !same_rules(rules, count, cur, ncur)) {
		if (n->saved.auto_accept_firewall) {
			install(d, n, rules, count);
		} else {
			n->fw_pending = rules;
			n->n_fw_pending = count;
			n->fw_pending_set = true;
			rules = NULL;
			log_info("firewall: %s suggests %zu rule%s; review with 'ray firewall pending %s'",
				 n->saved.name, count, count == 1 ? "" : "s", n->saved.name);
		}
	}
	free(cur);
	free(rules);
}

void policy_forget(struct daemon *d, const struct network *n)
{
	const struct fw_rule *rules;
	size_t total, count = 0;

	if (!d->fw)
		return;
	rules = firewall_rules(d->fw, &total);
	for (size_t i = 0; i < total; i++)
		count += strcmp(rules[i].origin, n->saved.name) == 0;
	if (!count)
		return;
	if (firewall_replace_network_rules(d->fw, n->saved.name, NULL, 0) < 0) {
		log_warn("firewall: cannot remove the suggested rules of %s", n->saved.name);
		return;
	}
	save(d);
	log_info("firewall: removed %zu suggested rule%s of %s", count, count == 1 ? "" : "s",
		 n->saved.name);
}

size_t policy_pending_count(struct daemon *d)
{
	size_t c = 0;

	for (struct network *n = d->nets; n; n = n->next)
		c += n->fw_pending_set ? (n->n_fw_pending ? n->n_fw_pending : 1) : 0;
	return c;
}

/* Endpoint id → "host" (first network that knows it), else the id. */
static const char *peer_name(struct daemon *d, const char *id)
{
	const struct gb_member *m = network_find_member(d, id);

	return m ? m->hostname : id;
}

static json_t *rule_json(struct daemon *d, const struct fw_rule *r, size_t index)
{
	static const char *protos[] = { "any", "tcp", "udp", "icmp" };
	char text[512], ports[256];

	fw_rule_format(r, text, sizeof(text));
	fw_ports_format(r, ports, sizeof(ports));
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "index",
			 (json_int_t)index, "direction", r->dir == FW_DIR_IN ? "in" : "out",
			 "action", r->action == FW_ACTION_ALLOW ? "allow" : "deny", "proto",
			 protos[r->proto], "ports", ports, "peer", r->peer[0] ? r->peer : "any",
			 "peer_name", r->peer[0] ? peer_name(d, r->peer) : "any", "network",
			 r->network[0] ? r->network : "any", "origin",
			 r->origin[0] ? "suggested" : "local", "text", text);
}

void policy_cmd_show(struct daemon *d, struct ipc_request *req)
{
	const struct fw_rule *rules;
	struct fw_counters c;
	json_t *list = json_array();
	size_t n;

	rules = firewall_rules(d->fw, &n);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, rule_json(d, &rules[i], i + 1));
	firewall_counters_get(d->fw, &c);
	ipc_reply(req,
		  json_pack("{s:b, s:b, s:s, s:s, s:o, s:I, s:{s:I, s:I, s:I}}", "enabled",
			    firewall_enabled(d->fw), "reject", firewall_reject(d->fw), "default_in",
			    firewall_default(d->fw, FW_DIR_IN) == FW_ACTION_ALLOW ? "allow"
										  : "deny",
			    "default_out",
			    firewall_default(d->fw, FW_DIR_OUT) == FW_ACTION_ALLOW ? "allow"
										   : "deny",
			    "rules", list, "pending_suggestions",
			    (json_int_t)policy_pending_count(d), "counters", "allowed",
			    (json_int_t)c.allowed, "dropped", (json_int_t)c.dropped, "rejected",
			    (json_int_t)c.rejected));
}

static int rule_from_args(struct daemon *d, json_t *a, struct fw_rule *r, char *err, size_t errlen)
{
	const char *peer = json_string_value(json_object_get(a, "peer"));
	const char *net = json_string_value(json_object_get(a, "network"));
	char id[IDENTITY_ID_LEN + 1] = "";
	int ret;

	if (net && *net && !network_find(d, net)) {
		snprintf(err, errlen, "no network named '%s' here", net);
		return -ENOENT;
	}
	if (peer && *peer && strcmp(peer, "any") != 0) {
		ret = network_resolve_peer(d, peer, net, id, err, errlen);
		if (ret < 0)
			return ret;
	}
	return fw_rule_parse(r, json_string_value(json_object_get(a, "direction")),
			     json_string_value(json_object_get(a, "action")),
			     json_string_value(json_object_get(a, "proto")),
			     json_string_value(json_object_get(a, "ports")), id, net, NULL, err,
			     errlen);
}

void policy_cmd_add(struct daemon *d, struct ipc_request *req)
{
	char err[FW_ERR_BUF], text[512];
	struct fw_rule r;
	int ret;

	if (rule_from_args(d, req->args, &r, err, sizeof(err)) < 0) {
		ipc_reply_error(req, "%s", err);
		return;
	}
	ret = firewall_add(d->fw, &r);
	if (ret < 0) {
		ipc_reply_error(req, "cannot add the rule: %s", strerror(-ret));
		return;
	}
	save(d);
	fw_rule_format(&r, text, sizeof(text));
	log_info("firewall: added '%s'", text);
	ipc_reply(req, json_pack("{s:s}", "rule", text));
}

void policy_cmd_remove(struct daemon *d, struct ipc_request *req)
{
	json_t *idx = json_object_get(req->args, "index");
	char err[FW_ERR_BUF];
	struct fw_rule sel;
	int ret;

	if (json_is_integer(idx)) {
		ret = json_integer_value(idx) < 1
			      ? -ENOENT
			      : firewall_remove_index(d->fw, (size_t)json_integer_value(idx) - 1);
	} else {
		if (rule_from_args(d, req->args, &sel, err, sizeof(err)) < 0) {
			ipc_reply_error(req, "%s", err);
			return;
		}
		ret = firewall_remove_selector(d->fw, &sel);
	}
	if (ret < 0) {
		ipc_reply_error(req, "no such rule (see 'ray firewall show')");
		return;
	}
	save(d);
	ipc_reply(req, NULL);
}

void policy_cmd_set(struct daemon *d, struct ipc_request *req)
{
	json_t *def = json_object_get(req->args, "default");
	json_t *rej = json_object_get(req->args, "reject");
	json_t *en = json_object_get(req->args, "enabled");

	if (json_is_string(def)) {
		const char *v = json_string_value(def);

		if (strcmp(v, "allow") != 0 && strcmp(v, "deny") != 0) {
			ipc_reply_error(req, "the inbound default is 'allow' or 'deny'");
			return;
		}
		firewall_set_default(d->fw, FW_DIR_IN,
				     strcmp(v, "allow") == 0 ? FW_ACTION_ALLOW : FW_ACTION_DENY);
	}
	if (json_is_boolean(rej))
		firewall_set_reject(d->fw, json_is_true(rej));
	if (json_is_boolean(en))
		firewall_set_enabled(d->fw, json_is_true(en));
	save(d);
	ipc_reply(req, NULL);
}

/* Checks every token against a roster before it is published. */
static int check_tokens(struct daemon *d, struct network *n, json_t *list, const char *action,
			char *err, size_t errlen)
{
	struct fw_rule r;
	json_t *tok;
	size_t i;

	if (list && (!json_is_array(list) || json_array_size(list) > SUGGEST_MAX_TOKENS)) {
		snprintf(err, errlen, "too many tokens");
		return -EINVAL;
	}
	json_array_foreach(list, i, tok)
	{
		const char *t = json_string_value(tok);
		int ret;

		if (!t) {
			snprintf(err, errlen, "tokens are strings");
			return -EINVAL;
		}
		ret = token_rule(d, n, t, action, &r, err, errlen);
		if (ret < 0 && ret != -ENOENT)
			return ret; /* a peer not (yet) in the roster is allowed */
	}
	return 0;
}

/* A copy of o with its keys in sorted order, so equal suggestions encode
 * to equal bytes. */
static json_t *sorted_copy(json_t *o)
{
	const char *keys[512], *k;
	size_t n = 0;
	json_t *v, *out = json_object();

	json_object_foreach(o, k, v) if (n < 512) keys[n++] = k;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			const char *t = keys[j];

			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		v = json_object_get(o, keys[i]);
		json_object_set_new(out, keys[i],
				    json_is_object(v) ? sorted_copy(v) : json_incref(v));
	}
	return out;
}

static json_t *current_suggestions(struct network *n)
{
	json_t *sugg = NULL;

	if (jsonpack_decode(n->blob.firewall, n->blob.firewall_len, &sugg) < 0 ||
	    !json_is_object(sugg)) {
		json_decref(sugg);
		sugg = json_object();
	}
	return sugg;
}

/* Why the roster holding `what` could not be published, as a sentence. */
static void reply_publish_error(struct ipc_request *req, const char *what, int ret)
{
	if (ret == -EMSGSIZE)
		ipc_reply_error(req,
				"cannot publish the %s: the roster would exceed the %u "
				"bytes one roster may have, so members could not fetch it",
				what, (unsigned)LIMIT_BLOB);
	else
		ipc_reply_error(req, "cannot publish the %s: %s", what, strerror(-ret));
}

/* Puts sugg (canonical: sorted keys) into a copy of n's roster and publishes
 * it; nothing is published when it did not change. */
static int publish_suggestions(struct daemon *d, struct network *n, json_t *sugg)
{
	json_t *sorted = sorted_copy(sugg);
	struct group_blob blob;
	msgpack_sbuffer sb;
	int ret;

	msgpack_sbuffer_init(&sb);
	ret = jsonpack_encode(sorted, &sb);
	json_decref(sorted);
	if (ret == 0 && sb.size == n->blob.firewall_len &&
	    memcmp(sb.data, n->blob.firewall, sb.size) == 0) {
		msgpack_sbuffer_destroy(&sb);
		return 0;
	}
	if (ret == 0)
		ret = group_blob_copy(&blob, &n->blob);
	if (ret == 0 && (ret = group_blob_set_firewall(&blob, (uint8_t *)sb.data, sb.size)) < 0)
		group_blob_free(&blob);
	msgpack_sbuffer_destroy(&sb);
	if (ret == 0)
		ret = network_publish(d, n, &blob, NULL);
	return ret;
}

/* `ray apply`: {network, subjects: {SUBJECT: {allow, deny}}, prune}. Without
 * prune, the spec's subjects replace those subjects only. */
void policy_cmd_suggest_all(struct daemon *d, struct ipc_request *req)
{
	json_t *subjects = json_object_get(req->args, "subjects"), *rules, *sugg;
	bool prune = json_is_true(json_object_get(req->args, "prune"));
	struct network *n = network_from_args(d, req, true);
	const char *subj;
	char err[FW_ERR_BUF];
	int ret;

	if (!n)
		return;
	if (!json_is_object(subjects)) {
		ipc_reply_error(req, "subjects must be an object");
		return;
	}
	json_object_foreach(subjects, subj, rules)
	{
		if ((strcmp(subj, "*") != 0 && !hostname_valid(subj)) || !json_is_object(rules) ||
		    check_tokens(d, n, json_object_get(rules, "allow"), "allow", err, sizeof(err)) <
			    0 ||
		    check_tokens(d, n, json_object_get(rules, "deny"), "deny", err, sizeof(err)) <
			    0) {
			ipc_reply_error(req, "subject '%s': %s", subj, err);
			return;
		}
	}
	sugg = prune ? json_object() : current_suggestions(n);
	json_object_foreach(subjects, subj, rules)
		json_object_set_new(sugg, subj,
				    json_pack("{s:O, s:O}", "allow",
					      json_object_get(rules, "allow") ?: json_array(),
					      "deny",
					      json_object_get(rules, "deny") ?: json_array()));
	ret = publish_suggestions(d, n, sugg);
	json_decref(sugg);
	if (ret < 0) {
		reply_publish_error(req, "suggestions", ret);
		return;
	}
	ipc_reply(req, NULL);
}

void policy_cmd_suggest(struct daemon *d, struct ipc_request *req)
{
	const char *subject = json_string_value(json_object_get(req->args, "subject"));
	json_t *allow = json_object_get(req->args, "allow");
	json_t *deny = json_object_get(req->args, "deny");
	struct network *n = network_from_args(d, req, true);
	json_t *sugg;
	char err[FW_ERR_BUF];
	int ret;

	if (!n)
		return;
	if (!subject || (strcmp(subject, "*") != 0 && !hostname_valid(subject))) {
		ipc_reply_error(req, "--subject is a hostname or '*'");
		return;
	}
	if (check_tokens(d, n, allow, "allow", err, sizeof(err)) < 0 ||
	    check_tokens(d, n, deny, "deny", err, sizeof(err)) < 0) {
		ipc_reply_error(req, "%s", err);
		return;
	}
	sugg = current_suggestions(n);
	if (json_array_size(allow) + json_array_size(deny) == 0)
		json_object_del(sugg, subject);
	else
		json_object_set_new(sugg, subject,
				    json_pack("{s:O, s:O}", "allow", allow ? allow : json_array(),
					      "deny", deny ? deny : json_array()));
	ret = publish_suggestions(d, n, sugg);
	json_decref(sugg);
	if (ret < 0) {
		reply_publish_error(req, "suggestion", ret);
		return;
	}
	log_info("firewall: %s now suggests rules for %s", n->saved.name, subject);
	ipc_reply(req, NULL);
}

void policy_cmd_pending(struct daemon *d, struct ipc_request *req)
{
	struct network *n = network_from_args(d, req, false);
	json_t *list;

	if (!n)
		return;
	list = json_array();
	for (size_t i = 0; i < n->n_fw_pending; i++)
		json_array_append_new(list, rule_json(d, &n->fw_pending[i], i + 1));
	ipc_reply(req, json_pack("{s:s, s:b, s:o}", "network", n->saved.name, "pending",
				 n->fw_pending_set, "rules", list));
}

/* Optional "indices" (1-based) pick which pending rules to install; the
 * others are discarded with the rest of the queue. */
void policy_cmd_accept(struct daemon *d, struct ipc_request *req)
{
	json_t *picks = json_object_get(req->args, "indices"), *v;
	struct network *n = network_from_args(d, req, false);
	size_t i, count = 0;

	if (!n)
		return;
	if (!n->fw_pending_set) {
		ipc_reply_error(req, "%s has no suggested rules waiting", n->saved.name);
		return;
	}
	if (json_is_array(picks)) {
		json_array_foreach(picks, i, v)
		{
			json_int_t k = json_integer_value(v);

			if (k < 1 || (size_t)k > n->n_fw_pending) {
				ipc_reply_error(req, "no pending rule %lld", (long long)k);
				return;
			}
		}
		/* Compact the picked rules to the front, in their order. */
		for (size_t k = 0; k < n->n_fw_pending; k++) {
			bool keep = false;

			json_array_foreach(picks, i, v) keep |=
				(size_t)json_integer_value(v) == k + 1;
			if (keep)
				n->fw_pending[count++] = n->fw_pending[k];
		}
		n->n_fw_pending = count;
	}
	install(d, n, n->fw_pending, n->n_fw_pending);
	clear_pending(n);
	ipc_reply(req, NULL);
}

void policy_cmd_deny(struct daemon *d, struct ipc_request *req)
{
	struct network *n = network_from_args(d, req, false);

	if (!n)
		return;
	clear_pending(n);
	ipc_reply(req, NULL);
}

void policy_cmd_auto_accept(struct daemon *d, struct ipc_request *req)
{
	struct network *n = network_from_args(d, req, false);
	json_t *on = json_object_get(req->args, "on");

	if (!n)
		return;
	if (!json_is_boolean(on)) {
		ipc_reply_error(req, "expected on or off");
		return;
	}
	n->saved.auto_accept_firewall = json_is_true(on);
	networks_save(d);
	if (n->saved.auto_accept_firewall && n->fw_pending_set)
		policy_cmd_accept(d, req);
	else
		ipc_reply(req, NULL);
}
