/*
 * firewall: see firewall.h. The rule list and both compiled arrays (one per
 * direction, each in first-match order) are allocated at their maximum size
 * in firewall_open, so editing and recompiling never fail for memory and
 * evaluation never allocates. Every recompile bumps `gen`; conntrack
 * entries remember the gen they were last checked against, which is how a
 * rule change reaches flows that are already tracked.
 */
#include "dataplane/firewall.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "dataplane/icmp.h"
#include "mesh/hostname.h"
#include "util/fileio.h"
#include "util/log.h"

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58

/* A rule after resolution: only integers and pointers to compare. */
struct fw_crule {
	const void *peer; /* NULL: any peer */
	uint32_t net;
	uint8_t has_net;
	uint8_t action;
	uint8_t proto; /* enum fw_proto */
	uint8_t n_ports;
	struct fw_port_range ports[FW_MAX_PORT_RANGES];
};

struct firewall {
	struct fw_rule *rules; /* FW_MAX_RULES slots */
	size_t n;
	bool enabled;
	bool reject;
	uint8_t def[2];        /* enum fw_action per enum fw_dir */
	struct fw_crule *c[2]; /* FW_MAX_RULES slots each */
	size_t nc[2];
	uint32_t gen;
	struct fw_resolver res;
	struct conntrack *ct;
	uint64_t tokens; /* reject budget, in 1/1000 reject */
	uint64_t tok_time;
	struct fw_counters cnt;
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- rule text ---- */

static bool is_any(const char *s)
{
	return !s || !*s || strcasecmp(s, "any") == 0 || strcmp(s, "*") == 0;
}

/* Digits only, 1-65535. */
static int port_parse(const char *s, size_t n, uint16_t *out)
{
	unsigned long v = 0;

	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct fw_port_range *x = a, *y = b;

	return (int)x->lo - (int)y->lo;
}

/* Sorts and merges overlapping or adjacent ranges, so equal port sets
 * have one spelling (and compare equal as selectors). */
static void ports_normalize(struct fw_rule *r)
{
	uint8_t w = 0;

	if (r->n_ports == 0)
		return;
	qsort(r->ports, r->n_ports, sizeof(r->ports[0]), range_cmp);
	for (uint8_t i = 1; i < r->n_ports; i++) {
		struct fw_port_range *last = &r->ports[w];

		if ((uint32_t)r->ports[i].lo <= (uint32_t)last->hi + 1) {
			if (r->ports[i].hi > last->hi)
				last->hi = r->ports[i].hi;
			continue;
		}
		r->ports[++w] = r->ports[i];
	}
	r->n_ports = (uint8_t)(w + 1);
}

int fw_ports_parse(const char *s, struct fw_rule *r, char *err, size_t errlen)
{
	struct fw_port_range tmp[FW_MAX_PORT_RANGES];
	size_t n = 0;
	const char *p = s;

	if (is_any(s)) {
		r->n_ports = 0;
		return 0;
	}
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *dash = memchr(p, '-', len);
		struct fw_port_range pr;

		if (n == FW_MAX_PORT_RANGES) {
			seterr(err, errlen, "at most %d ports or port ranges per rule",
			       FW_MAX_PORT_RANGES);
			return -EINVAL;
		}
		if (dash) {
			if (port_parse(p, (size_t)(dash - p), &pr.lo) < 0 ||
			    port_parse(dash + 1, len - (size_t)(dash - p) - 1, &pr.hi) < 0)
				goto bad;
			if (pr.lo > pr.hi) {
				seterr(err, errlen, "port range %.*s runs backwards",
				       (int)(len > 16 ? 16 : len), p);
				return -EINVAL;
			}
		} else {
			if (port_parse(p, len, &pr.lo) < 0)
				goto bad;
			pr.hi = pr.lo;
		}
		tmp[n++] = pr;
		if (!end)
			break;
		p = end + 1;
	}
	memcpy(r->ports, tmp, n * sizeof(tmp[0]));
	r->n_ports = (uint8_t)n;
	ports_normalize(r);
	return 0;
bad:
	seterr(err, errlen,
	       "invalid port list \"%.40s\": use a port 1-65535, "
	       "a range like 80-443, a comma list of those, or any",
	       s);
	return -EINVAL;
}

int fw_ports_format(const struct fw_rule *r, char *buf, size_t len)
{
	size_t off = 0;

	if (r->n_ports == 0) {
		if (len < 4)
			return -ENOSPC;
		memcpy(buf, "any", 4);
		return 3;
	}
	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	for (uint8_t i = 0; i < r->n_ports; i++) {
		int w;

		if (r->ports[i].lo == r->ports[i].hi)
			w = snprintf(buf + off, len - off, "%s%u", i ? "," : "", r->ports[i].lo);
		else
			w = snprintf(buf + off, len - off, "%s%u-%u", i ? "," : "", r->ports[i].lo,
				     r->ports[i].hi);
		if (w < 0 || (size_t)w >= len - off)
			return -ENOSPC;
		off += (size_t)w;
	}
	return (int)off;
}

static bool peer_id_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return i == FW_PEER_BUF - 1;
}

static int parse_enum(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (s && names[i] && strcasecmp(s, names[i]) == 0)
			return i;
	return -1;
}

static int parse_dir(const char *s)
{
	static const char *const n[] = { "in", "out", "inbound", "outbound" };
	int v = parse_enum(s, n, 4);

	return v < 0 ? v : v % 2;
}

static int parse_action(const char *s)
{
	static const char *const n[] = { "allow", "deny" };

	return parse_enum(s, n, 2);
}

static int parse_proto(const char *s)
{
	static const char *const n[] = { "any", "tcp", "udp", "icmp", "*", "icmpv6", "icmp6" };
	int v;

	if (!s || !*s)
		return FW_PROTO_ANY;
	v = parse_enum(s, n, 7);
	if (v == 4)
		return FW_PROTO_ANY;
	return v > 4 ? FW_PROTO_ICMP : v;
}

static int parse_name(const char *what, const char *s, char out[FW_NAME_BUF], char *err,
		      size_t errlen)
{
	if (!s || !*s) {
		out[0] = '\0';
		return 0;
	}
	if (!hostname_valid(s)) {
		seterr(err, errlen,
		       "invalid %s name \"%.40s\": use 1-63 of a-z, "
		       "0-9 and '-'",
		       what, s);
		return -EINVAL;
	}
	snprintf(out, FW_NAME_BUF, "%s", s);
	return 0;
}

static int parse_peer(const char *s, char out[FW_PEER_BUF], char *err, size_t errlen)
{
	if (is_any(s)) {
		out[0] = '\0';
		return 0;
	}
	if (!peer_id_valid(s)) {
		seterr(err, errlen,
		       "invalid peer \"%.40s\": give an endpoint id "
		       "(64 hex characters) or any",
		       s);
		return -EINVAL;
	}
	for (size_t i = 0; i < FW_PEER_BUF - 1; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[FW_PEER_BUF - 1] = '\0';
	return 0;
}

int fw_rule_parse(struct fw_rule *out, const char *dir, const char *action, const char *proto,
		  const char *ports, const char *peer, const char *network, const char *origin,
		  char *err, size_t errlen)
{
	struct fw_rule r;
	int v, rc;

	memset(&r, 0, sizeof(r));
	if ((v = parse_dir(dir)) < 0) {
		seterr(err, errlen, "direction must be in or out, not \"%.20s\"", dir ? dir : "");
		return -EINVAL;
	}
	r.dir = (uint8_t)v;
	if ((v = parse_action(action)) < 0) {
		seterr(err, errlen, "action must be allow or deny, not \"%.20s\"",
		       action ? action : "");
		return -EINVAL;
	}
	r.action = (uint8_t)v;
	if ((v = parse_proto(proto)) < 0) {
		seterr(err, errlen,
		       "protocol must be tcp, udp, icmp or any, "
		       "not \"%.20s\"",
		       proto);
		return -EINVAL;
	}
	r.proto = (uint8_t)v;
	if ((rc = fw_ports_parse(ports, &r, err, errlen)) < 0)
		return rc;
	if (r.n_ports && r.proto != FW_PROTO_TCP && r.proto != FW_PROTO_UDP) {
		seterr(err, errlen, "ports need protocol tcp or udp");
		return -EINVAL;
	}
	if ((rc = parse_peer(peer, r.peer, err, errlen)) < 0)
		return rc;
	if (is_any(network))
		network = NULL;
	if ((rc = parse_name("network", network, r.network, err, errlen)) < 0)
		return rc;
	if (origin && strcasecmp(origin, "local") == 0)
		origin = NULL;
	if ((rc = parse_name("origin network", origin, r.origin, err, errlen)) < 0)
		return rc;
	*out = r;
	return 0;
}

static const char *dir_name(uint8_t d)
{
	return d == FW_DIR_IN ? "in" : "out";
}

static const char *action_name(uint8_t a)
{
	return a == FW_ACTION_ALLOW ? "allow" : "deny";
}

static const char *proto_name(uint8_t p)
{
	static const char *const n[] = { "any", "tcp", "udp", "icmp" };

	return p < 4 ? n[p] : "?";
}

int fw_rule_format(const struct fw_rule *r, char *buf, size_t len)
{
	char ports[FW_MAX_PORT_RANGES * 12 + 1];
	char net[FW_NAME_BUF + 8] = "", origin[FW_NAME_BUF + 20] = "";
	int w;

	if (r->n_ports)
		fw_ports_format(r, ports, sizeof(ports));
	if (r->network[0])
		snprintf(net, sizeof(net), " on %s", r->network);
	if (r->origin[0])
		snprintf(origin, sizeof(origin), " (suggested by %s)", r->origin);
	w = snprintf(buf, len, "%s %s %s%s%s from %s%s%s", action_name(r->action), dir_name(r->dir),
		     proto_name(r->proto), r->n_ports ? " port " : "", r->n_ports ? ports : "",
		     r->peer[0] ? r->peer : "any", net, origin);
	if (w < 0 || (size_t)w >= len)
		return -ENOSPC;
	return w;
}

bool fw_rule_same_selector(const struct fw_rule *a, const struct fw_rule *b)
{
	return a->dir == b->dir && a->proto == b->proto && a->n_ports == b->n_ports &&
	       memcmp(a->ports, b->ports, a->n_ports * sizeof(a->ports[0])) == 0 &&
	       strcmp(a->peer, b->peer) == 0 && strcmp(a->network, b->network) == 0;
}

const char *fw_verdict_name(enum fw_verdict v)
{
	switch (v) {
	case FW_ALLOW:
		return "allow";
	case FW_DROP:
		return "drop";
	case FW_REJECT:
		return "reject";
	}
	return "?";
}

/*
 * Checks a rule built by hand (IPC, suggestions) and normalises its ports,
 * so the invariants fw_rule_parse gives hold for every stored rule.
 */
static int rule_sanitize(struct fw_rule *r)
{
	if (r->dir > FW_DIR_OUT || r->action > FW_ACTION_DENY || r->proto > FW_PROTO_ICMP ||
	    r->n_ports > FW_MAX_PORT_RANGES)
		return -EINVAL;
	if (r->n_ports && r->proto != FW_PROTO_TCP && r->proto != FW_PROTO_UDP)
		return -EINVAL;
	for (uint8_t i = 0; i < r->n_ports; i++)
		if (r->ports[i].lo == 0 || r->ports[i].lo > r->ports[i].hi)
			return -EINVAL;
	if (!memchr(r->peer, '\0', sizeof(r->peer)) ||
	    !memchr(r->network, '\0', sizeof(r->network)) ||
	    !memchr(r->origin, '\0', sizeof(r->origin)))
		return -EINVAL;
	if (r->peer[0] && !peer_id_valid(r->peer))
		return -EINVAL;
	for (size_t i = 0; r->peer[i]; i++)
		r->peer[i] = (char)tolower((unsigned char)r->peer[i]);
	if ((r->network[0] && !hostname_valid(r->network)) ||
	    (r->origin[0] && !hostname_valid(r->origin)))
		return -EINVAL;
	ports_normalize(r);
	return 0;
}

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

	if (rule_sanitize(&nr) < 0)
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
		if (rule_sanitize(&tmp[at + i]) < 0) {
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
		seterr(err, errlen, "%s: \"%s\" must be a string", ctx, key);
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
		seterr(err, errlen, "\"%s\" must be true or false", key);
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
	if ((v = parse_action(s)) < 0) {
		seterr(err, errlen, "\"%s\" must be allow or deny", key);
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
		seterr(err, errlen, "%s: must be an object", ctx);
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
			seterr(err, errlen, "%s: port %lld is out of range", ctx, (long long)p);
			return -EINVAL;
		}
		snprintf(pbuf, sizeof(pbuf), "%lld", (long long)p);
		ports = pbuf;
	} else if (opt_string(o, "ports", &ports, ctx, err, errlen) < 0) {
		return -EINVAL;
	}
	if (!dir || !action) {
		seterr(err, errlen, "%s: needs \"direction\" and \"action\"", ctx);
		return -EINVAL;
	}
	if (fw_rule_parse(r, dir, action, proto, ports, peer, net, origin, sub, sizeof(sub)) < 0) {
		seterr(err, errlen, "%s: %s", ctx, sub);
		return -EINVAL;
	}
	return 0;
}

static int load_root(json_t *root, struct fw_loaded *L, char *err, size_t errlen)
{
	json_t *v, *rules;
	size_t i;

	if (!json_is_object(root)) {
		seterr(err, errlen, "the firewall file must hold a JSON object");
		return -EINVAL;
	}
	v = json_object_get(root, "version");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 1)) {
		seterr(err, errlen, "\"version\" must be a positive integer");
		return -EINVAL;
	}
	if (v && json_integer_value(v) > FW_FILE_VERSION) {
		seterr(err, errlen,
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
		seterr(err, errlen, "\"rules\" must be an array");
		return -EINVAL;
	}
	if (json_array_size(rules) > FW_MAX_RULES) {
		seterr(err, errlen, "more than %d rules", FW_MAX_RULES);
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
		seterr(err, errlen, "the firewall file is larger than %d bytes", FW_FILE_MAX);
		return -EINVAL;
	}
	if (!(L.rules = calloc(FW_MAX_RULES, sizeof(*L.rules))))
		return -ENOMEM;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		seterr(err, errlen, "invalid JSON at line %d: %s", jerr.line, jerr.text);
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
	if (json_object_set_new(o, "direction", json_string(dir_name(r->dir))) ||
	    json_object_set_new(o, "action", json_string(action_name(r->action))) ||
	    json_object_set_new(o, "protocol", json_string(proto_name(r->proto))) ||
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
				json_string(action_name(fw->def[FW_DIR_IN]))) ||
	    json_object_set_new(root, "default_outbound",
				json_string(action_name(fw->def[FW_DIR_OUT]))) ||
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
			seterr(err, errlen, "cannot read %s: %s", path, strerror(-rc));
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
