/*
 * firewall_rule: the rule text of firewall.h: ports, directions, actions,
 * peers and networks parsed and formatted, and the invariants every stored
 * rule keeps (fw_rule_sanitize).
 */
#include "dataplane/firewall_priv.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mesh/hostname.h"

void fw_seterr(char *err, size_t errlen, const char *fmt, ...)
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
			fw_seterr(err, errlen, "at most %d ports or port ranges per rule",
				  FW_MAX_PORT_RANGES);
			return -EINVAL;
		}
		if (dash) {
			if (port_parse(p, (size_t)(dash - p), &pr.lo) < 0 ||
			    port_parse(dash + 1, len - (size_t)(dash - p) - 1, &pr.hi) < 0)
				goto bad;
			if (pr.lo > pr.hi) {
				fw_seterr(err, errlen, "port range %.*s runs backwards",
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
	fw_seterr(err, errlen,
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

int fw_action_parse(const char *s)
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
		fw_seterr(err, errlen,
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
		fw_seterr(err, errlen,
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
		fw_seterr(err, errlen, "direction must be in or out, not \"%.20s\"",
			  dir ? dir : "");
		return -EINVAL;
	}
	r.dir = (uint8_t)v;
	if ((v = fw_action_parse(action)) < 0) {
		fw_seterr(err, errlen, "action must be allow or deny, not \"%.20s\"",
			  action ? action : "");
		return -EINVAL;
	}
	r.action = (uint8_t)v;
	if ((v = parse_proto(proto)) < 0) {
		fw_seterr(err, errlen,
			  "protocol must be tcp, udp, icmp or any, "
			  "not \"%.20s\"",
			  proto);
		return -EINVAL;
	}
	r.proto = (uint8_t)v;
	if ((rc = fw_ports_parse(ports, &r, err, errlen)) < 0)
		return rc;
	if (r.n_ports && r.proto != FW_PROTO_TCP && r.proto != FW_PROTO_UDP) {
		fw_seterr(err, errlen, "ports need protocol tcp or udp");
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

const char *fw_dir_name(uint8_t d)
{
	return d == FW_DIR_IN ? "in" : "out";
}

const char *fw_action_name(uint8_t a)
{
	return a == FW_ACTION_ALLOW ? "allow" : "deny";
}

const char *fw_proto_name(uint8_t p)
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
	w = snprintf(buf, len, "%s %s %s%s%s from %s%s%s", fw_action_name(r->action),
		     fw_dir_name(r->dir), fw_proto_name(r->proto), r->n_ports ? " port " : "",
		     r->n_ports ? ports : "", r->peer[0] ? r->peer : "any", net, origin);
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
int fw_rule_sanitize(struct fw_rule *r)
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
