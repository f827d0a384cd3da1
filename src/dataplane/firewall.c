/*
 * firewall: see firewall.h. This file holds the configuration and the data
 * path; the rule text is firewall_rule.c, firewall.json firewall_file.c.
 * The rule list and both compiled arrays (one per
 * direction, each in first-match order) are allocated at their maximum size
 * in firewall_open, so editing and recompiling never fail for memory and
 * evaluation never allocates. Every recompile bumps `gen`; conntrack
 * entries remember the gen they were last checked against, which is how a
 * rule change reaches flows that are already tracked.
 */
#include "dataplane/firewall_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/icmp.h"
#include "mesh/hostname.h"
#include "util/log.h"

/* ---- configuration ---- */

static void seed_rules(struct firewall *fw)
{
	struct fw_rule *r = &fw->rules[0];

	memset(r, 0, sizeof(*r));
	r->dir = FW_DIR_IN;
	r->action = FW_ACTION_ALLOW;
	r->proto = FW_PROTO_ICMP;
	fw->n = 1;
}

static void compile_rule(const struct firewall *fw, const struct fw_rule *r, struct fw_crule *c,
			 bool *ok)
{
	*ok = false;
	memset(c, 0, sizeof(*c));
	if (r->peer[0]) {
		if (!fw->res.peer || !(c->peer = fw->res.peer(r->peer, fw->res.ud)))
			return;
	}
	if (r->network[0]) {
		int64_t idx = fw->res.network ? fw->res.network(r->network, fw->res.ud) : -1;

		if (idx < 0 || idx > UINT32_MAX)
			return;
		c->net = (uint32_t)idx;
		c->has_net = 1;
	}
	c->action = r->action;
	c->proto = r->proto;
	c->n_ports = r->n_ports;
	memcpy(c->ports, r->ports, r->n_ports * sizeof(r->ports[0]));
	*ok = true;
}

int firewall_recompile(struct firewall *fw)
{
	size_t skipped = 0;

	fw->nc[0] = fw->nc[1] = 0;
	for (size_t i = 0; i < fw->n; i++) {
		const struct fw_rule *r = &fw->rules[i];
		bool ok;

		compile_rule(fw, r, &fw->c[r->dir][fw->nc[r->dir]], &ok);
		if (ok)
			fw->nc[r->dir]++;
		else
			skipped++;
	}
	fw->gen++;
	if (skipped)
		log_debug("firewall: %zu rule(s) name a peer or network not "
			  "present now and cannot match",
			  skipped);
	return 0;
}

int firewall_open(struct firewall **out, struct conntrack *ct)
{
	struct firewall *fw;

	*out = NULL;
	if (!(fw = calloc(1, sizeof(*fw))))
		return -ENOMEM;
	fw->rules = calloc(FW_MAX_RULES, sizeof(*fw->rules));
	fw->c[0] = calloc(FW_MAX_RULES, sizeof(*fw->c[0]));
	fw->c[1] = calloc(FW_MAX_RULES, sizeof(*fw->c[1]));
	if (!fw->rules || !fw->c[0] || !fw->c[1]) {
		firewall_close(fw);
		return -ENOMEM;
	}
	fw->enabled = true;
	fw->def[FW_DIR_IN] = FW_ACTION_DENY;
	fw->def[FW_DIR_OUT] = FW_ACTION_ALLOW;
	fw->ct = ct;
	fw->tokens = (uint64_t)FW_REJECT_RATE * 1000;
	seed_rules(fw);
	firewall_recompile(fw);
	*out = fw;
	return 0;
}

void firewall_close(struct firewall *fw)
{
	if (!fw)
		return;
	free(fw->rules);
	free(fw->c[0]);
	free(fw->c[1]);
	free(fw);
}

int firewall_set_resolver(struct firewall *fw, const struct fw_resolver *r)
{
	if (r)
		fw->res = *r;
	else
		memset(&fw->res, 0, sizeof(fw->res));
	return firewall_recompile(fw);
}

void firewall_set_enabled(struct firewall *fw, bool on)
{
	fw->enabled = on;
	firewall_recompile(fw);
}

void firewall_set_reject(struct firewall *fw, bool on)
{
	fw->reject = on;
}

void firewall_set_default(struct firewall *fw, enum fw_dir dir, enum fw_action a)
{
	fw->def[dir == FW_DIR_OUT] = a == FW_ACTION_ALLOW ? FW_ACTION_ALLOW : FW_ACTION_DENY;
	firewall_recompile(fw);
}

bool firewall_enabled(const struct firewall *fw)
{
	return fw->enabled;
}

bool firewall_reject(const struct firewall *fw)
{
	return fw->reject;
}

enum fw_action firewall_default(const struct firewall *fw, enum fw_dir dir)
{
	return fw->def[dir == FW_DIR_OUT];
}

const struct fw_rule *firewall_rules(const struct firewall *fw, size_t *n)
{
	*n = fw->n;
	return fw->rules;
}

static void remove_at(struct firewall *fw, size_t i)
{
	memmove(&fw->rules[i], &fw->rules[i + 1], (fw->n - i - 1) * sizeof(fw->rules[0]));
	fw->n--;
}

static size_t remove_matching(struct firewall *fw, const struct fw_rule *sel)
{
	size_t removed = 0;

	for (size_t i = fw->n; i-- > 0;) {
		if (fw_rule_same_selector(&fw->rules[i], sel)) {
			remove_at(fw, i);
			removed++;
		}
	}
	return removed;
}

int firewall_add(struct firewall *fw, const struct fw_rule *r)
{
	struct fw_rule nr = *r;
	size_t same = 0;

	if (fw_rule_sanitize(&nr) < 0)
		return -EINVAL;
	for (size_t i = 0; i < fw->n; i++)
		same += fw_rule_same_selector(&fw->rules[i], &nr);
	if (fw->n - same >= FW_MAX_RULES)
		return -ENOSPC;
	remove_matching(fw, &nr);
	memmove(&fw->rules[1], &fw->rules[0], fw->n * sizeof(fw->rules[0]));
	fw->rules[0] = nr;
	fw->n++;
	return firewall_recompile(fw);
}

int firewall_remove_index(struct firewall *fw, size_t i)
{
	if (i >= fw->n)
		return -ENOENT;
	remove_at(fw, i);
	return firewall_recompile(fw);
}

int firewall_remove_selector(struct firewall *fw, const struct fw_rule *sel)
{
	size_t n = remove_matching(fw, sel);

	if (n == 0)
		return -ENOENT;
	firewall_recompile(fw);
	return (int)n;
}

int firewall_replace_network_rules(struct firewall *fw, const char *net,
				   const struct fw_rule *rules, size_t n)
{
	struct fw_rule *tmp;
	size_t keep = 0, at = SIZE_MAX, w = 0;
	int rc = 0;

	if (!net || !hostname_valid(net) || n > FW_MAX_RULES)
		return -EINVAL;
	for (size_t i = 0; i < fw->n; i++) {
		if (strcmp(fw->rules[i].origin, net) != 0)
			keep++;
		else if (at == SIZE_MAX)
			at = keep;
	}
	if (keep + n > FW_MAX_RULES)
		return -ENOSPC;
	if (at == SIZE_MAX)
		at = keep;
	if (!(tmp = calloc(keep + n + 1, sizeof(*tmp))))
		return -ENOMEM;
	for (size_t i = 0; i < fw->n; i++) {
		if (w == at)
			w += n;
		if (strcmp(fw->rules[i].origin, net) != 0)
			tmp[w++] = fw->rules[i];
	}
	for (size_t i = 0; i < n; i++) {
		tmp[at + i] = rules[i];
		snprintf(tmp[at + i].origin, sizeof(tmp[at + i].origin), "%s", net);
		if (fw_rule_sanitize(&tmp[at + i]) < 0) {
			rc = -EINVAL;
			goto out;
		}
	}
	memcpy(fw->rules, tmp, (keep + n) * sizeof(*tmp));
	fw->n = keep + n;
	firewall_recompile(fw);
out:
	free(tmp);
	return rc;
}

/* ---- data path ---- */

static bool proto_match(uint8_t proto, const struct packet_info *pi)
{
	switch (proto) {
	case FW_PROTO_TCP:
		return pi->proto == PROTO_TCP;
	case FW_PROTO_UDP:
		return pi->proto == PROTO_UDP;
	case FW_PROTO_ICMP:
		return pi->proto == (pi->version == 4 ? PROTO_ICMP : PROTO_ICMPV6);
	default:
		return true;
	}
}

static bool ports_match(const struct fw_crule *c, const struct packet_info *pi)
{
	if (c->n_ports == 0)
		return true;
	/* a packet without ports (a later fragment) may be any port: only a
	 * deny can claim it, never a port-specific allow */
	if (!(pi->flags & PACKET_F_PORTS))
		return c->action == FW_ACTION_DENY;
	for (uint8_t i = 0; i < c->n_ports; i++)
		if (pi->dst_port >= c->ports[i].lo && pi->dst_port <= c->ports[i].hi)
			return true;
	return false;
}

static uint8_t rules_decide(const struct firewall *fw, enum fw_dir dir,
			    const struct packet_info *pi, const void *peer, uint32_t net)
{
	const struct fw_crule *c = fw->c[dir];
	size_t n = fw->nc[dir];

	if (!fw->enabled)
		return FW_ACTION_ALLOW;
	for (size_t i = 0; i < n; i++) {
		if (c[i].peer && c[i].peer != peer)
			continue;
		if (c[i].has_net && c[i].net != net &&
		    !(fw->res.shares && fw->res.shares(peer, c[i].net, fw->res.ud)))
			continue;
		if (!proto_match(c[i].proto, pi) || !ports_match(&c[i], pi))
			continue;
		return c[i].action;
	}
	return fw->def[dir];
}

/* The reject budget: FW_REJECT_RATE per second, bursts of as many. */
static bool reject_token(struct firewall *fw, uint64_t now)
{
	const uint64_t cap = (uint64_t)FW_REJECT_RATE * 1000;

	if (now > fw->tok_time) {
		uint64_t dt = now - fw->tok_time;

		fw->tokens += (dt > 1000 ? 1000 : dt) * FW_REJECT_RATE;
		if (fw->tokens > cap)
			fw->tokens = cap;
		fw->tok_time = now;
	}
	if (fw->tokens < 1000)
		return false;
	fw->tokens -= 1000;
	return true;
}

static enum fw_verdict deny(struct firewall *fw, const struct packet_info *pi, uint64_t now)
{
	if (fw->reject && icmp_rejectable(pi)) {
		if (reject_token(fw, now)) {
			fw->cnt.rejected++;
			return FW_REJECT;
		}
		fw->cnt.reject_limited++;
	}
	fw->cnt.dropped++;
	return FW_DROP;
}

/* A tracked flow checked against rules changed since: its first packet
 * must still be allowed. */
static bool flow_still_allowed(const struct firewall *fw, const struct ct_entry *e,
			       const void *peer, uint32_t net)
{
	struct packet_info orig;

	conntrack_entry_orig(e, &orig);
	return rules_decide(fw, (enum fw_dir)e->orig_dir, &orig, peer, net) == FW_ACTION_ALLOW;
}

/*
 * Conntrack's say on pi: 1 when it belongs to an allowed tracked flow, -1
 * when to a flow the rules have denied since it started (both directions
 * of it are dropped, so the local end cannot revive it as "outbound"), 0
 * when untracked. A flow is checked again once per rule change.
 */
static int tracked(struct firewall *fw, const struct packet_info *pi, const void *peer,
		   uint32_t net, uint64_t now)
{
	struct ct_entry *e;

	if (pi->frag_offset) {
		if (!conntrack_lookup_fragment(fw->ct, pi, now))
			return 0;
		fw->cnt.fragment_hits++;
		return 1;
	}
	if (!(e = conntrack_lookup(fw->ct, pi, now)))
		return 0;
	if (e->gen != fw->gen) {
		bool was_denied = e->flags & CT_F_DENIED;

		e->gen = fw->gen;
		if (flow_still_allowed(fw, e, peer, net)) {
			e->flags &= (uint8_t)~CT_F_DENIED;
		} else {
			e->flags |= CT_F_DENIED;
			if (!was_denied)
				fw->cnt.flows_revoked++;
		}
	}
	/* a denied flow is refreshed too: it stays denied while it is used */
	conntrack_update(fw->ct, e, pi, now);
	if (e->flags & CT_F_DENIED)
		return -1;
	conntrack_note_fragment(fw->ct, pi, peer, now);
	fw->cnt.conntrack_hits++;
	return 1;
}

enum fw_verdict firewall_eval(struct firewall *fw, enum fw_dir dir, const struct packet_info *pi,
			      const void *peer, uint32_t net, uint64_t now)
{
	int t = 0;

	dir = dir == FW_DIR_OUT ? FW_DIR_OUT : FW_DIR_IN;
	if (fw->ct)
		t = tracked(fw, pi, peer, net, now);
	if (t < 0)
		return deny(fw, pi, now);
	if (t > 0) {
		fw->cnt.allowed++;
		return FW_ALLOW;
	}
	if (rules_decide(fw, dir, pi, peer, net) != FW_ACTION_ALLOW)
		return deny(fw, pi, now);
	if (fw->ct)
		conntrack_track(fw->ct, pi, (uint8_t)dir, fw->gen, peer, now);
	fw->cnt.allowed++;
	return FW_ALLOW;
}

void firewall_counters_get(const struct firewall *fw, struct fw_counters *out)
{
	*out = fw->cnt;
}
