/*
 * test_firewall: rule grammar and its errors, the fresh config and its
 * seeded ICMP rule, first-match order, add-replaces-selector, removal,
 * defaults, off and reject (with its rate limit), peer and network scopes
 * through a resolver, suggested rule sets, JSON round trips and old,
 * partial and malformed files, and the stateful path with conntrack:
 * replies, unrelated packets, timeouts, rule changes reaching tracked
 * flows, and fragments that must not slip past a port-specific deny.
 * Packets are real bytes run through packet_parse.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataplane/conntrack.h"
#include "dataplane/firewall.h"
#include "dataplane/packet.h"
#include "util/bytes.h"

#define ME 0x64400001u /* our address */
#define P1 0x64400002u /* peer A */
#define P2 0x64400003u /* peer B */

#define SYN 0x02
#define ACK 0x10
#define RST 0x04

static const char ID_A[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char ID_B[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
static const char ID_C[] = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

static int peer_a, peer_b, peer_c; /* handles: their addresses */
static int know_c;

static const void *resolve_peer(const char *id, void *ud)
{
	(void)ud;
	if (strcmp(id, ID_A) == 0)
		return &peer_a;
	if (strcmp(id, ID_B) == 0)
		return &peer_b;
	if (strcmp(id, ID_C) == 0 && know_c)
		return &peer_c;
	return NULL;
}

static int64_t resolve_net(const char *name, void *ud)
{
	(void)ud;
	if (strcmp(name, "db") == 0)
		return 1;
	if (strcmp(name, "web") == 0)
		return 2;
	return -1;
}

static const struct fw_resolver resolver = { .peer = resolve_peer, .network = resolve_net };

/* a shares db (1) and web (2) with us, b only web. */
static bool shares(const void *peer, uint32_t net, void *ud)
{
	(void)ud;
	if (peer == &peer_a)
		return net == 1 || net == 2;
	if (peer == &peer_b)
		return net == 2;
	return false;
}

static const struct fw_resolver union_resolver = { .peer = resolve_peer,
						   .network = resolve_net,
						   .shares = shares };

/* ---- packets ---- */

static uint8_t buf[256];

/* IPv4 packet with l4len bytes of upper layer already at buf+20. */
static struct packet_info ip4(uint32_t s, uint32_t d, uint8_t proto, size_t l4len, uint16_t frag)
{
	struct packet_info pi;

	memset(buf, 0, 20);
	buf[0] = 0x45;
	be16_put(buf + 2, (uint16_t)(20 + l4len));
	be16_put(buf + 6, frag);
	buf[8] = 64;
	buf[9] = proto;
	be32_put(buf + 12, s);
	be32_put(buf + 16, d);
	assert_int_equal(packet_parse(buf, 20 + l4len, &pi), 0);
	return pi;
}

static struct packet_info tcp(uint32_t s, uint16_t sp, uint32_t d, uint16_t dp, uint8_t fl)
{
	memset(buf + 20, 0, 20);
	be16_put(buf + 20, sp);
	be16_put(buf + 22, dp);
	buf[32] = 5 << 4;
	buf[33] = fl;
	return ip4(s, d, 6, 20, 0);
}

static struct packet_info udp(uint32_t s, uint16_t sp, uint32_t d, uint16_t dp)
{
	memset(buf + 20, 0, 8);
	be16_put(buf + 20, sp);
	be16_put(buf + 22, dp);
	be16_put(buf + 24, 8);
	return ip4(s, d, 17, 8, 0);
}

static struct packet_info icmp(uint32_t s, uint32_t d, uint8_t type, uint16_t id)
{
	memset(buf + 20, 0, 8);
	buf[20] = type;
	be16_put(buf + 24, id);
	return ip4(s, d, 1, 8, 0);
}

/* A later fragment (offset 1480) of a protocol's datagram. */
static struct packet_info later_frag(uint32_t s, uint32_t d, uint8_t proto)
{
	memset(buf + 20, 0x41, 16);
	return ip4(s, d, proto, 16, 185);
}

static struct packet_info icmp6_echo(uint8_t type)
{
	struct packet_info pi;

	memset(buf, 0, 48);
	buf[0] = 0x60;
	be16_put(buf + 4, 8);
	buf[6] = 58;
	buf[7] = 64;
	buf[8] = 2;
	buf[23] = 2;
	buf[24] = 2;
	buf[39] = 1;
	buf[40] = type;
	assert_int_equal(packet_parse(buf, 48, &pi), 0);
	return pi;
}

static enum fw_verdict ev(struct firewall *fw, enum fw_dir d, struct packet_info pi,
			  const void *peer, uint32_t net, uint64_t now)
{
	return firewall_eval(fw, d, &pi, peer, net, now);
}

static struct fw_rule rule(const char *dir, const char *action, const char *proto,
			   const char *ports, const char *peer, const char *net)
{
	struct fw_rule r;
	char err[FW_ERR_BUF];

	if (fw_rule_parse(&r, dir, action, proto, ports, peer, net, NULL, err, sizeof(err)) != 0)
		fail_msg("rule did not parse: %s", err);
	return r;
}

static struct firewall *open_fw(struct conntrack *ct)
{
	struct firewall *fw;

	assert_int_equal(firewall_open(&fw, ct), 0);
	assert_int_equal(firewall_set_resolver(fw, &resolver), 0);
	return fw;
}

/* ---- grammar ---- */

static void test_ports_grammar(void **state)
{
	struct fw_rule r;
	char err[FW_ERR_BUF], out[200];
	static const char *const bad[] = {
		"0",  "65536", "80-", "-80", "a",      "80,,81", ",80",          "80,", "90-80",
		"8o", "1-2-3", " 80", "+80", "123456", "80 ",    "99999-100000", "-",
	};

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(fw_ports_parse("22", &r, err, sizeof(err)), 0);
	assert_int_equal(r.n_ports, 1);
	assert_int_equal(r.ports[0].lo, 22);
	assert_int_equal(r.ports[0].hi, 22);
	assert_int_equal(fw_ports_parse("80-443", &r, err, sizeof(err)), 0);
	assert_int_equal(r.ports[0].lo, 80);
	assert_int_equal(r.ports[0].hi, 443);
	/* sorted and merged: adjacent and overlapping collapse */
	assert_int_equal(fw_ports_parse("443,80,81-90,85,1-1,65535", &r, err, sizeof(err)), 0);
	assert_int_equal(fw_ports_format(&r, out, sizeof(out)), (int)strlen("1,80-90,443,65535"));
	assert_string_equal(out, "1,80-90,443,65535");
	assert_int_equal(fw_ports_parse("any", &r, err, sizeof(err)), 0);
	assert_int_equal(r.n_ports, 0);
	assert_int_equal(fw_ports_parse("*", &r, err, sizeof(err)), 0);
	assert_int_equal(fw_ports_parse(NULL, &r, err, sizeof(err)), 0);
	fw_ports_format(&r, out, sizeof(out));
	assert_string_equal(out, "any");
	/* 16 items fit, 17 do not */
	assert_int_equal(fw_ports_parse("1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31", &r, err,
					sizeof(err)),
			 0);
	assert_int_equal(r.n_ports, 16);
	assert_int_equal(fw_ports_format(&r, out, 5), -ENOSPC);
	err[0] = '\0';
	assert_int_equal(fw_ports_parse("1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33", &r, err,
					sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "at most"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (fw_ports_parse(bad[i], &r, err, sizeof(err)) != -EINVAL)
			fail_msg("ports \"%s\" accepted", bad[i]);
		assert_true(strlen(err) > 10);
	}
	/* no error buffer is fine */
	assert_int_equal(fw_ports_parse("x", &r, NULL, 0), -EINVAL);
}

static void test_rule_grammar(void **state)
{
	struct fw_rule r;
	char err[FW_ERR_BUF], line[300];
	char upper[65];

	(void)state;
	assert_int_equal(fw_rule_parse(&r, "in", "allow", "tcp", "22", NULL, NULL, NULL, err,
				       sizeof(err)),
			 0);
	assert_int_equal(r.dir, FW_DIR_IN);
	assert_int_equal(r.action, FW_ACTION_ALLOW);
	assert_int_equal(r.proto, FW_PROTO_TCP);
	assert_string_equal(r.peer, "");
	assert_int_equal(fw_rule_parse(&r, "OUT", "Deny", "ICMPv6", "any", "any", "any", "local",
				       err, sizeof(err)),
			 0);
	assert_int_equal(r.dir, FW_DIR_OUT);
	assert_int_equal(r.proto, FW_PROTO_ICMP);
	assert_string_equal(r.origin, "");
	/* peer ids are normalised to lowercase */
	for (int i = 0; i < 64; i++)
		upper[i] = 'A';
	upper[64] = '\0';
	assert_int_equal(fw_rule_parse(&r, "in", "allow", "udp", "53", upper, "db", "web", err,
				       sizeof(err)),
			 0);
	assert_string_equal(r.peer, ID_A);
	assert_string_equal(r.network, "db");
	assert_string_equal(r.origin, "web");
	assert_true(fw_rule_format(&r, line, sizeof(line)) > 0);
	assert_non_null(strstr(line, "allow in udp port 53 from aaaa"));
	assert_non_null(strstr(line, " on db (suggested by web)"));
	assert_int_equal(fw_rule_format(&r, line, 10), -ENOSPC);

#define BAD(expect, ...)                                                                     \
	do {                                                                                 \
		err[0] = '\0';                                                               \
		assert_int_equal(fw_rule_parse(&r, __VA_ARGS__, err, sizeof(err)), -EINVAL); \
		if (!strstr(err, expect))                                                    \
			fail_msg("error \"%s\" lacks \"%s\"", err, expect);                  \
	} while (0)
	BAD("direction", "up", "allow", "tcp", NULL, NULL, NULL, NULL);
	BAD("direction", NULL, "allow", "tcp", NULL, NULL, NULL, NULL);
	BAD("action", "in", "permit", "tcp", NULL, NULL, NULL, NULL);
	BAD("protocol", "in", "allow", "sctp", NULL, NULL, NULL, NULL);
	BAD("port", "in", "allow", "tcp", "0", NULL, NULL, NULL);
	BAD("ports need", "in", "allow", "icmp", "22", NULL, NULL, NULL);
	BAD("ports need", "in", "allow", "any", "22", NULL, NULL, NULL);
	BAD("peer", "in", "allow", "tcp", NULL, "alice", NULL, NULL);
	BAD("peer", "in", "allow", "tcp", NULL, ID_A + 1, NULL, NULL);
	BAD("peer", "in", "allow", "tcp", NULL,
	    "gaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, NULL);
	BAD("network", "in", "allow", "tcp", NULL, NULL, "Bad_Name", NULL);
	BAD("network", "in", "allow", "tcp", NULL, NULL, "-x", NULL);
	BAD("origin", "in", "allow", "tcp", NULL, NULL, NULL, "no way");
#undef BAD
}

/* ---- configuration semantics ---- */

static void test_fresh_defaults(void **state)
{
	struct firewall *fw = open_fw(NULL);
	const struct fw_rule *rs;
	size_t n;

	(void)state;
	rs = firewall_rules(fw, &n);
	assert_int_equal(n, 1);
	assert_int_equal(rs[0].dir, FW_DIR_IN);
	assert_int_equal(rs[0].action, FW_ACTION_ALLOW);
	assert_int_equal(rs[0].proto, FW_PROTO_ICMP);
	assert_true(firewall_enabled(fw));
	assert_false(firewall_reject(fw));
	assert_int_equal(firewall_default(fw, FW_DIR_IN), FW_ACTION_DENY);
	assert_int_equal(firewall_default(fw, FW_DIR_OUT), FW_ACTION_ALLOW);

	assert_int_equal(ev(fw, FW_DIR_IN, icmp(P1, ME, 8, 1), &peer_a, 1, 0), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, icmp6_echo(128), &peer_a, 1, 0), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 5000, ME, 22, SYN), &peer_a, 1, 0), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_IN, udp(P1, 5000, ME, 53), &peer_a, 1, 0), FW_DROP);
	memset(buf + 20, 0, 8);
	assert_int_equal(ev(fw, FW_DIR_IN, ip4(P1, ME, 47, 8, 0), &peer_a, 1, 0), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_OUT, tcp(ME, 5000, P1, 22, SYN), &peer_a, 1, 0), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_OUT, udp(ME, 5000, P1, 53), &peer_a, 1, 0), FW_ALLOW);

	/* the seed is an ordinary rule: removing it denies ICMP too */
	assert_int_equal(firewall_remove_index(fw, 0), 0);
	assert_int_equal(firewall_remove_index(fw, 0), -ENOENT);
	assert_int_equal(ev(fw, FW_DIR_IN, icmp(P1, ME, 8, 1), &peer_a, 1, 0), FW_DROP);

	/* default allow opens inbound, leaves outbound alone */
	firewall_set_default(fw, FW_DIR_IN, FW_ACTION_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 5000, ME, 22, SYN), &peer_a, 1, 0), FW_ALLOW);
	assert_int_equal(firewall_default(fw, FW_DIR_OUT), FW_ACTION_ALLOW);
	firewall_set_default(fw, FW_DIR_OUT, FW_ACTION_DENY);
	firewall_set_default(fw, FW_DIR_IN, FW_ACTION_DENY);
	assert_int_equal(ev(fw, FW_DIR_OUT, udp(ME, 5000, P1, 53), &peer_a, 1, 0), FW_DROP);

	/* off: nothing is enforced */
	firewall_set_enabled(fw, false);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 5000, ME, 22, SYN), &peer_a, 1, 0), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_OUT, udp(ME, 5000, P1, 53), &peer_a, 1, 0), FW_ALLOW);
	firewall_close(fw);
}

static void test_first_match_and_selector(void **state)
{
	struct firewall *fw = open_fw(NULL);
	struct fw_rule r;
	const struct fw_rule *rs;
	size_t n;

	(void)state;
	r = rule("in", "allow", "tcp", NULL, NULL, NULL);
	assert_int_equal(firewall_add(fw, &r), 0);
	r = rule("in", "deny", "tcp", "22", NULL, NULL);
	assert_int_equal(firewall_add(fw, &r), 0);
	rs = firewall_rules(fw, &n);
	assert_int_equal(n, 3);
	/* newest first */
	assert_int_equal(rs[0].action, FW_ACTION_DENY);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 1, ME, 22, SYN), &peer_a, 0, 0), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 1, ME, 80, SYN), &peer_a, 0, 0), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, udp(P1, 1, ME, 80), &peer_a, 0, 0), FW_DROP);

	/* deny in icmp replaces the seed instead of stacking on it */
	r = rule("in", "deny", "icmp", NULL, NULL, NULL);
	assert_int_equal(firewall_add(fw, &r), 0);
	firewall_rules(fw, &n);
	assert_int_equal(n, 3);
	assert_int_equal(ev(fw, FW_DIR_IN, icmp(P1, ME, 8, 1), &peer_a, 0, 0), FW_DROP);
	r.action = FW_ACTION_ALLOW;
	assert_int_equal(firewall_add(fw, &r), 0);
	firewall_rules(fw, &n);
	assert_int_equal(n, 3);
	assert_int_equal(ev(fw, FW_DIR_IN, icmp(P1, ME, 8, 1), &peer_a, 0, 0), FW_ALLOW);

	/* port spelling does not matter to the selector */
	r = rule("in", "allow", "tcp", "81-90,80", NULL, NULL);
	assert_int_equal(firewall_add(fw, &r), 0);
	r = rule("in", "deny", "tcp", "80-90", NULL, NULL);
	assert_int_equal(firewall_add(fw, &r), 0);
	firewall_rules(fw, &n);
	assert_int_equal(n, 4);
	/* a different peer, network or direction is a different selector */
	r = rule("in", "deny", "tcp", "80-90", ID_A, NULL);
	assert_int_equal(firewall_add(fw, &r), 0);
	r = rule("in", "deny", "tcp", "80-90", NULL, "db");
	assert_int_equal(firewall_add(fw, &r), 0);
	r = rule("out", "deny", "tcp", "80-90", NULL, NULL);
	assert_int_equal(firewall_add(fw, &r), 0);
	firewall_rules(fw, &n);
	assert_int_equal(n, 7);

	/* remove by selector */
	r = rule("in", "allow", "tcp", "80-90", NULL, "db");
	assert_int_equal(firewall_remove_selector(fw, &r), 1);
	assert_int_equal(firewall_remove_selector(fw, &r), -ENOENT);
	firewall_rules(fw, &n);
	assert_int_equal(n, 6);

	/* inconsistent hand-built rules are refused */
	memset(&r, 0, sizeof(r));
	r.proto = FW_PROTO_ICMP;
	r.n_ports = 1;
	r.ports[0].lo = r.ports[0].hi = 5;
	assert_int_equal(firewall_add(fw, &r), -EINVAL);
	r.proto = 9;
	assert_int_equal(firewall_add(fw, &r), -EINVAL);
	memset(&r, 0, sizeof(r));
	memset(r.peer, 'a', sizeof(r.peer)); /* unterminated */
	assert_int_equal(firewall_add(fw, &r), -EINVAL);
	memset(&r, 0, sizeof(r));
	r.proto = FW_PROTO_TCP;
	r.n_ports = 1;
	r.ports[0].lo = 10;
	r.ports[0].hi = 9;
	assert_int_equal(firewall_add(fw, &r), -EINVAL);
	firewall_close(fw);
}

static void test_rule_limit(void **state)
{
	struct firewall *fw = open_fw(NULL);
	struct fw_rule r = rule("in", "allow", "tcp", "1", NULL, NULL);
	size_t n;

	(void)state;
	for (int i = 1; i < FW_MAX_RULES; i++) {
		r.ports[0].lo = r.ports[0].hi = (uint16_t)i;
		assert_int_equal(firewall_add(fw, &r), 0);
	}
	firewall_rules(fw, &n);
	assert_int_equal(n, FW_MAX_RULES);
	r.ports[0].lo = r.ports[0].hi = 5000;
	assert_int_equal(firewall_add(fw, &r), -ENOSPC);
	/* replacing an existing selector still works when full */
	r.ports[0].lo = r.ports[0].hi = 7;
	r.action = FW_ACTION_DENY;
	assert_int_equal(firewall_add(fw, &r), 0);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 1, ME, 7, SYN), &peer_a, 0, 0), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 1, ME, 1000, SYN), &peer_a, 0, 0), FW_ALLOW);
	firewall_close(fw);
}

static void test_peer_and_network_scope(void **state)
{
	struct firewall *fw = open_fw(NULL);
	struct fw_rule r;

	(void)state;
	r = rule("in", "allow", "tcp", "8080", ID_A, "db");
	assert_int_equal(firewall_add(fw, &r), 0);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 1, ME, 8080, SYN), &peer_a, 1, 0), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 1, ME, 8080, SYN), &peer_a, 2, 0), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P2, 1, ME, 8080, SYN), &peer_b, 1, 0), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 1, ME, 8081, SYN), &peer_a, 1, 0), FW_DROP);

	/* a peer not known yet: the rule waits for a recompile */
	know_c = 0;
	r = rule("in", "allow", "udp", NULL, ID_C, NULL);
	assert_int_equal(firewall_add(fw, &r), 0);
	assert_int_equal(ev(fw, FW_DIR_IN, udp(P2, 1, ME, 9), &peer_c, 0, 0), FW_DROP);
	know_c = 1;
	assert_int_equal(firewall_recompile(fw), 0);
	assert_int_equal(ev(fw, FW_DIR_IN, udp(P2, 1, ME, 9), &peer_c, 0, 0), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, udp(P2, 1, ME, 9), &peer_b, 0, 0), FW_DROP);
	know_c = 0;

	/* an unknown network never matches, not even as "any" */
	r = rule("in", "allow", "tcp", "9000", NULL, "nowhere");
	assert_int_equal(firewall_add(fw, &r), 0);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 1, ME, 9000, SYN), &peer_a, 1, 0), FW_DROP);
	/* without a resolver, scoped rules cannot match */
	assert_int_equal(firewall_set_resolver(fw, NULL), 0);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 1, ME, 8080, SYN), &peer_a, 1, 0), FW_DROP);
	firewall_close(fw);
}

/* A scoped rule holds for a peer in every network it shares with us,
 * whichever one its packets are attributed to (join order). */
static void test_union_scope(void **state)
{
	struct firewall *fw = open_fw(NULL);
	struct fw_rule r;

	(void)state;
	assert_int_equal(firewall_set_resolver(fw, &union_resolver), 0);
	r = rule("in", "allow", "tcp", "8080", NULL, "db");
	assert_int_equal(firewall_add(fw, &r), 0);
	/* a's address is routed through web, but a is in db too */
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 1, ME, 8080, SYN), &peer_a, 2, 0), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P2, 1, ME, 8080, SYN), &peer_b, 2, 0), FW_DROP);
	/* a deny scoped to web binds a on db as well: no fail-open by order */
	r = rule("in", "allow", "tcp", "22", NULL, NULL);
	assert_int_equal(firewall_add(fw, &r), 0);
	r = rule("in", "deny", "tcp", "22", NULL, "web");
	assert_int_equal(firewall_add(fw, &r), 0);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 2, ME, 22, SYN), &peer_a, 1, 0), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P2, 2, ME, 22, SYN), &peer_b, 2, 0), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P2, 3, ME, 22, SYN), &peer_c, 1, 0), FW_ALLOW);
	firewall_close(fw);
}

static void test_suggested_rules(void **state)
{
	struct firewall *fw = open_fw(NULL);
	struct fw_rule local = rule("in", "allow", "tcp", "22", NULL, NULL);
	struct fw_rule db[3], web[1];
	const struct fw_rule *rs;
	size_t n;

	(void)state;
	assert_int_equal(firewall_add(fw, &local), 0);
	db[0] = rule("in", "allow", "tcp", "5432", ID_A, "db");
	db[1] = rule("in", "deny", "any", NULL, NULL, "db");
	web[0] = rule("in", "allow", "tcp", "443", NULL, "web");
	assert_int_equal(firewall_replace_network_rules(fw, "db", db, 2), 0);
	assert_int_equal(firewall_replace_network_rules(fw, "web", web, 1), 0);
	rs = firewall_rules(fw, &n);
	assert_int_equal(n, 5);
	/* local rules first, suggested sets after, in arrival order */
	assert_string_equal(rs[0].origin, "");
	assert_string_equal(rs[1].origin, "");
	assert_string_equal(rs[2].origin, "db");
	assert_string_equal(rs[3].origin, "db");
	assert_string_equal(rs[4].origin, "web");
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 1, ME, 5432, SYN), &peer_a, 1, 0), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P2, 1, ME, 5432, SYN), &peer_b, 1, 0), FW_DROP);
	/* the local allow for 22 still wins over db's catch-all deny */
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P2, 1, ME, 22, SYN), &peer_b, 1, 0), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P2, 1, ME, 443, SYN), &peer_b, 2, 0), FW_ALLOW);

	/* a new db set takes the old one's place; web and local untouched */
	db[0] = rule("in", "allow", "tcp", "6379", NULL, "db");
	assert_int_equal(firewall_replace_network_rules(fw, "db", db, 1), 0);
	rs = firewall_rules(fw, &n);
	assert_int_equal(n, 4);
	assert_string_equal(rs[2].origin, "db");
	assert_int_equal(rs[2].ports[0].lo, 6379);
	assert_string_equal(rs[3].origin, "web");
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 1, ME, 5432, SYN), &peer_a, 1, 0), FW_DROP);

	/* an invalid set changes nothing */
	db[0].proto = FW_PROTO_ICMP;
	db[0].n_ports = 1;
	assert_int_equal(firewall_replace_network_rules(fw, "db", db, 1), -EINVAL);
	assert_int_equal(firewall_replace_network_rules(fw, "Bad Net", db, 0), -EINVAL);
	rs = firewall_rules(fw, &n);
	assert_int_equal(n, 4);
	assert_int_equal(rs[2].ports[0].lo, 6379);

	/* the empty set removes only that network's rules */
	assert_int_equal(firewall_replace_network_rules(fw, "db", NULL, 0), 0);
	rs = firewall_rules(fw, &n);
	assert_int_equal(n, 3);
	assert_string_equal(rs[2].origin, "web");
	assert_int_equal(firewall_replace_network_rules(fw, "web", NULL, 0), 0);
	rs = firewall_rules(fw, &n);
	assert_int_equal(n, 2);
	assert_int_equal(rs[0].ports[0].lo, 22);
	firewall_close(fw);
}

static void test_reject_and_rate_limit(void **state)
{
	struct firewall *fw = open_fw(NULL);
	struct fw_counters c;
	int rejected = 0;

	(void)state;
	firewall_set_reject(fw, true);
	assert_true(firewall_reject(fw));
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 1, ME, 22, SYN), &peer_a, 0, 1000), FW_REJECT);
	assert_int_equal(ev(fw, FW_DIR_IN, udp(P1, 1, ME, 53), &peer_a, 0, 1000), FW_REJECT);
	/* never answered: RST, ICMP errors, later fragments */
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 1, ME, 22, RST), &peer_a, 0, 1000), FW_DROP);
	firewall_remove_index(fw, 0);
	assert_int_equal(ev(fw, FW_DIR_IN, icmp(P1, ME, 3, 0), &peer_a, 0, 1000), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_IN, icmp(P1, ME, 8, 0), &peer_a, 0, 1000), FW_REJECT);
	assert_int_equal(ev(fw, FW_DIR_IN, later_frag(P1, ME, 17), &peer_a, 0, 1000), FW_DROP);
	/* a flood: the burst is FW_REJECT_RATE, the rest dropped */
	for (int i = 0; i < 1000; i++)
		rejected += ev(fw, FW_DIR_IN, udp(P1, 1, ME, 53), &peer_a, 0, 2000) == FW_REJECT;
	assert_int_equal(rejected, FW_REJECT_RATE);
	/* refills at FW_REJECT_RATE per second */
	rejected = 0;
	for (int i = 0; i < 1000; i++)
		rejected += ev(fw, FW_DIR_IN, udp(P1, 1, ME, 53), &peer_a, 0, 2100) == FW_REJECT;
	assert_int_equal(rejected, FW_REJECT_RATE / 10);
	firewall_counters_get(fw, &c);
	assert_true(c.reject_limited > 1000);
	assert_true(c.rejected >= FW_REJECT_RATE);
	firewall_set_reject(fw, false);
	assert_int_equal(ev(fw, FW_DIR_IN, udp(P1, 1, ME, 53), &peer_a, 0, 9000), FW_DROP);
	firewall_close(fw);
}

/* ---- stateful ---- */

static void test_conntrack_replies(void **state)
{
	struct conntrack ct;
	struct firewall *fw;
	struct fw_rule r;
	struct fw_counters c;

	(void)state;
	assert_int_equal(conntrack_init(&ct, 1024), 0);
	fw = open_fw(&ct);
	/* our outbound connection: its replies pass under inbound deny */
	assert_int_equal(ev(fw, FW_DIR_OUT, tcp(ME, 40000, P1, 22, SYN), &peer_a, 0, 0), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 22, ME, 40000, SYN | ACK), &peer_a, 0, 1),
			 FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 22, ME, 40000, ACK), &peer_a, 0, 2), FW_ALLOW);
	/* unrelated inbound: another port, another peer, a reversed tuple */
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 22, ME, 40001, ACK), &peer_a, 0, 3), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P2, 22, ME, 40000, ACK), &peer_b, 0, 3), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 40000, ME, 22, SYN), &peer_a, 0, 3), FW_DROP);
	/* ping out, echo reply in; an echo request in with the same id is not a reply */
	firewall_remove_index(fw, 0);
	assert_int_equal(ev(fw, FW_DIR_OUT, icmp(ME, P1, 8, 77), &peer_a, 0, 10), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, icmp(P1, ME, 0, 77), &peer_a, 0, 11), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, icmp(P1, ME, 8, 77), &peer_a, 0, 11), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_IN, icmp(P1, ME, 0, 78), &peer_a, 0, 11), FW_DROP);

	/* inbound-allowed service: its replies pass outbound under out deny */
	firewall_set_default(fw, FW_DIR_OUT, FW_ACTION_DENY);
	r = rule("in", "allow", "tcp", "80", NULL, NULL);
	firewall_add(fw, &r);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P2, 5555, ME, 80, SYN), &peer_b, 0, 20), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_OUT, tcp(ME, 80, P2, 5555, SYN | ACK), &peer_b, 0, 21),
			 FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_OUT, tcp(ME, 81, P2, 5555, SYN | ACK), &peer_b, 0, 21),
			 FW_DROP);

	/* UDP timeout with the injected clock */
	firewall_set_default(fw, FW_DIR_OUT, FW_ACTION_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_OUT, udp(ME, 5353, P1, 53), &peer_a, 0, 100000), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, udp(P1, 53, ME, 5353), &peer_a, 0, 159999), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, udp(P1, 53, ME, 5353), &peer_a, 0,
			    159999 + CT_TIMEOUT_UDP),
			 FW_DROP);
	firewall_counters_get(fw, &c);
	assert_true(c.conntrack_hits >= 5);
	firewall_close(fw);
	conntrack_close(&ct);
}

static void test_rule_change_reaches_flows(void **state)
{
	struct conntrack ct;
	struct firewall *fw;
	struct fw_rule ssh = rule("in", "allow", "tcp", "22", NULL, NULL);
	struct fw_rule other = rule("in", "allow", "tcp", "8000", NULL, NULL);
	struct fw_counters c;

	(void)state;
	assert_int_equal(conntrack_init(&ct, 1024), 0);
	fw = open_fw(&ct);
	firewall_add(fw, &ssh);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 5000, ME, 22, SYN), &peer_a, 0, 0), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_OUT, udp(ME, 7000, P1, 53), &peer_a, 0, 0), FW_ALLOW);
	/* an unrelated change keeps both flows */
	firewall_add(fw, &other);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 5000, ME, 22, ACK), &peer_a, 0, 1), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, udp(P1, 53, ME, 7000), &peer_a, 0, 1), FW_ALLOW);
	/* removing the allow ends the inbound session both ways (our side's
	 * packets must not revive it as an outbound flow); the outbound
	 * flow lives */
	assert_int_equal(firewall_remove_selector(fw, &ssh), 1);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 5000, ME, 22, ACK), &peer_a, 0, 2), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_OUT, tcp(ME, 22, P1, 5000, ACK), &peer_a, 0, 2), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 5000, ME, 22, ACK), &peer_a, 0, 3), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_IN, udp(P1, 53, ME, 7000), &peer_a, 0, 2), FW_ALLOW);
	firewall_counters_get(fw, &c);
	assert_int_equal(c.flows_revoked, 1);
	/* allowed again: the same session resumes */
	firewall_add(fw, &ssh);
	assert_int_equal(ev(fw, FW_DIR_OUT, tcp(ME, 22, P1, 5000, ACK), &peer_a, 0, 4), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 5000, ME, 22, ACK), &peer_a, 0, 4), FW_ALLOW);
	firewall_remove_selector(fw, &ssh);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 5000, ME, 22, ACK), &peer_a, 0, 5), FW_DROP);
	/* a new SYN on the denied ports faces the rules (and is denied) */
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 5000, ME, 22, SYN), &peer_a, 0, 6), FW_DROP);
	/* with the entry gone, our side may now open that tuple outbound */
	assert_int_equal(ev(fw, FW_DIR_OUT, tcp(ME, 22, P1, 5000, SYN), &peer_a, 0, 7), FW_ALLOW);
	/* flows made while off are checked when it is switched on */
	firewall_set_enabled(fw, false);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P2, 6000, ME, 23, SYN), &peer_b, 0, 3), FW_ALLOW);
	firewall_set_enabled(fw, true);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P2, 6000, ME, 23, ACK), &peer_b, 0, 4), FW_DROP);
	firewall_close(fw);
	conntrack_close(&ct);
}

static void test_fragments(void **state)
{
	struct conntrack ct;
	struct firewall *fw = open_fw(NULL);
	struct fw_rule r;
	struct packet_info first;

	(void)state;
	/* a port-specific deny catches port-less later fragments ... */
	r = rule("in", "allow", "tcp", NULL, NULL, NULL);
	firewall_add(fw, &r);
	r = rule("in", "deny", "tcp", "22", NULL, NULL);
	firewall_add(fw, &r);
	assert_int_equal(ev(fw, FW_DIR_IN, later_frag(P1, ME, 6), &peer_a, 0, 0), FW_DROP);
	/* ... a port-specific allow never lets them in ... */
	firewall_remove_selector(fw, &r);
	firewall_remove_index(fw, 0);
	r = rule("in", "allow", "tcp", "80", NULL, NULL);
	firewall_add(fw, &r);
	assert_int_equal(ev(fw, FW_DIR_IN, later_frag(P1, ME, 6), &peer_a, 0, 0), FW_DROP);
	/* ... a port-less allow does */
	r = rule("in", "allow", "udp", NULL, NULL, NULL);
	firewall_add(fw, &r);
	assert_int_equal(ev(fw, FW_DIR_IN, later_frag(P1, ME, 17), &peer_a, 0, 0), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, later_frag(P1, ME, 6), &peer_a, 0, 0), FW_DROP);
	firewall_close(fw);

	/* stateful: later fragments follow the first one that passed */
	assert_int_equal(conntrack_init(&ct, 1024), 0);
	fw = open_fw(&ct);
	r = rule("in", "allow", "tcp", "80", NULL, NULL);
	firewall_add(fw, &r);
	memset(buf + 20, 0, 24);
	be16_put(buf + 20, 5000);
	be16_put(buf + 22, 80);
	buf[32] = 5 << 4;
	buf[33] = SYN;
	first = ip4(P1, ME, 6, 24, 0x2000);
	assert_true(first.flags & PACKET_F_MORE_FRAGS);
	assert_int_equal(firewall_eval(fw, FW_DIR_IN, &first, &peer_a, 0, 0), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, later_frag(P1, ME, 6), &peer_a, 0, 1), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, later_frag(P2, ME, 6), &peer_b, 0, 1), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_IN, later_frag(P1, ME, 17), &peer_a, 0, 1), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_IN, later_frag(P1, ME, 6), &peer_a, 0, CT_TIMEOUT_FRAG + 1),
			 FW_DROP);
	/* a denied first fragment leaves no allowance */
	memset(buf + 20, 0, 24);
	be16_put(buf + 20, 5000);
	be16_put(buf + 22, 22);
	buf[32] = 5 << 4;
	buf[33] = SYN;
	first = ip4(P2, ME, 6, 24, 0x2000);
	assert_int_equal(firewall_eval(fw, FW_DIR_IN, &first, &peer_b, 0, 100), FW_DROP);
	assert_int_equal(ev(fw, FW_DIR_IN, later_frag(P2, ME, 6), &peer_b, 0, 101), FW_DROP);
	/* the fragmented reply to our own UDP query */
	assert_int_equal(ev(fw, FW_DIR_OUT, udp(ME, 5353, P2, 53), &peer_b, 0, 200), FW_ALLOW);
	memset(buf + 20, 0, 16);
	be16_put(buf + 20, 53);
	be16_put(buf + 22, 5353);
	be16_put(buf + 24, 3000);
	first = ip4(P2, ME, 17, 16, 0x2000);
	assert_int_equal(firewall_eval(fw, FW_DIR_IN, &first, &peer_b, 0, 201), FW_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, later_frag(P2, ME, 17), &peer_b, 0, 202), FW_ALLOW);
	firewall_close(fw);
	conntrack_close(&ct);
}

/* ---- state file ---- */

static void test_json_round_trip(void **state)
{
	struct firewall *a = open_fw(NULL), *b = open_fw(NULL);
	struct fw_rule r, s[1];
	char err[FW_ERR_BUF], *ja, *jb;

	(void)state;
	r = rule("in", "allow", "tcp", "22,80-90", ID_A, "db");
	firewall_add(a, &r);
	r = rule("out", "deny", "udp", "53", NULL, NULL);
	firewall_add(a, &r);
	s[0] = rule("in", "deny", "any", NULL, NULL, "web");
	firewall_replace_network_rules(a, "web", s, 1);
	firewall_set_reject(a, true);
	firewall_set_default(a, FW_DIR_IN, FW_ACTION_ALLOW);
	firewall_set_enabled(a, false);
	ja = firewall_to_json(a);
	assert_non_null(ja);
	assert_int_equal(firewall_load_json(b, ja, strlen(ja), err, sizeof(err)), 0);
	jb = firewall_to_json(b);
	assert_string_equal(ja, jb);
	assert_non_null(strstr(ja, "\"suggested_by\": \"web\""));
	assert_false(firewall_enabled(b));
	assert_true(firewall_reject(b));
	assert_int_equal(firewall_default(b, FW_DIR_IN), FW_ACTION_ALLOW);
	free(ja);
	free(jb);
	firewall_close(a);
	firewall_close(b);
}

static void test_json_old_and_partial(void **state)
{
	struct firewall *fw = open_fw(NULL);
	const struct fw_rule *rs;
	char err[FW_ERR_BUF];
	size_t n;
	const char *old = "{\"rules\": [{\"direction\": \"in\", \"action\": \"allow\","
			  " \"protocol\": \"tcp\", \"ports\": 22}, {\"direction\": \"in\","
			  " \"action\": \"deny\", \"extra\": 1}], \"unknown_future_field\": true}";

	(void)state;
	/* everything missing: secure posture, no rules (no seed for an existing file) */
	firewall_set_default(fw, FW_DIR_IN, FW_ACTION_ALLOW);
	firewall_set_enabled(fw, false);
	assert_int_equal(firewall_load_json(fw, "{}", 2, err, sizeof(err)), 0);
	firewall_rules(fw, &n);
	assert_int_equal(n, 0);
	assert_true(firewall_enabled(fw));
	assert_false(firewall_reject(fw));
	assert_int_equal(firewall_default(fw, FW_DIR_IN), FW_ACTION_DENY);
	assert_int_equal(firewall_default(fw, FW_DIR_OUT), FW_ACTION_ALLOW);
	assert_int_equal(ev(fw, FW_DIR_IN, icmp(P1, ME, 8, 1), &peer_a, 0, 0), FW_DROP);

	/* an older file: integer port, rule without protocol, unknown fields */
	assert_int_equal(firewall_load_json(fw, old, strlen(old), err, sizeof(err)), 0);
	rs = firewall_rules(fw, &n);
	assert_int_equal(n, 2);
	assert_int_equal(rs[0].ports[0].lo, 22);
	assert_int_equal(rs[1].proto, FW_PROTO_ANY);
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 1, ME, 22, SYN), &peer_a, 0, 0), FW_ALLOW);
	/* nulls mean absent */
	assert_int_equal(firewall_load_json(fw, "{\"rules\": null, \"reject\": true}",
					    strlen("{\"rules\": null, \"reject\": true}"), err,
					    sizeof(err)),
			 0);
	assert_true(firewall_reject(fw));
	firewall_close(fw);
}

static void test_json_malformed(void **state)
{
	struct firewall *fw = open_fw(NULL);
	char err[FW_ERR_BUF], *before, *after, *big;
	struct fw_rule r = rule("in", "allow", "tcp", "443", NULL, NULL);
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"42",
		"{\"rules\": 5}",
		"{\"rules\": {}}",
		"{\"rules\": [5]}",
		"{\"rules\": [{\"direction\": \"up\", \"action\": \"allow\"}]}",
		"{\"rules\": [{\"action\": \"allow\"}]}",
		"{\"rules\": [{\"direction\": \"in\"}]}",
		"{\"rules\": [{\"direction\": \"in\", \"action\": \"allow\", \"ports\": \"0\"}]}",
		"{\"rules\": [{\"direction\": \"in\", \"action\": \"allow\", \"ports\": 70000}]}",
		"{\"rules\": [{\"direction\": \"in\", \"action\": \"allow\", \"ports\": [22]}]}",
		"{\"rules\": [{\"direction\": \"in\", \"action\": \"allow\", \"peer\": \"bob\"}]}",
		"{\"rules\": [{\"direction\": 1, \"action\": \"allow\"}]}",
		"{\"rules\": [{\"direction\": \"in\", \"action\": \"allow\", \"protocol\": \"icmp\", \"ports\": \"1\"}]}",
		"{\"default_inbound\": \"maybe\"}",
		"{\"default_outbound\": 0}",
		"{\"enabled\": \"yes\"}",
		"{\"reject\": 1}",
		"{\"version\": 99}",
		"{\"version\": \"1\"}",
		"{\"version\": 0}",
		"{\"enabled\": true, \"enabled\": false}",
		"{\"rules\": []} trailing",
	};

	(void)state;
	firewall_add(fw, &r);
	before = firewall_to_json(fw);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (firewall_load_json(fw, bad[i], strlen(bad[i]), err, sizeof(err)) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_true(strlen(err) > 5);
		after = firewall_to_json(fw);
		assert_string_equal(before, after);
		free(after);
	}
	/* too many rules */
	{
		size_t cap = 64 + (FW_MAX_RULES + 1) * 40, off;

		big = malloc(cap);
		off = (size_t)sprintf(big, "{\"rules\": [");
		for (int i = 0; i <= FW_MAX_RULES; i++)
			off += (size_t)sprintf(big + off,
					       "%s{\"direction\":\"in\",\"action\":\"deny\"}",
					       i ? "," : "");
		off += (size_t)sprintf(big + off, "]}");
		assert_int_equal(firewall_load_json(fw, big, off, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "more than"));
		free(big);
	}
	assert_int_equal(firewall_load_json(fw, "{}", FW_FILE_MAX + 1, err, sizeof(err)), -EINVAL);
	after = firewall_to_json(fw);
	assert_string_equal(before, after);
	free(after);
	/* still enforcing the old rules */
	assert_int_equal(ev(fw, FW_DIR_IN, tcp(P1, 1, ME, 443, SYN), &peer_a, 0, 0), FW_ALLOW);
	free(before);
	firewall_close(fw);
}

static void test_file_save_load(void **state)
{
	char dir[] = "/tmp/test_firewall.XXXXXX", path[128], err[FW_ERR_BUF];
	struct firewall *a = open_fw(NULL), *b = open_fw(NULL);
	struct fw_rule r = rule("in", "allow", "udp", "53", NULL, NULL);
	const struct fw_rule *rs;
	struct stat st;
	size_t n;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/firewall.json", dir);
	/* no file: -ENOENT and the fresh config (with the seed) stays */
	assert_int_equal(firewall_load(b, path, err, sizeof(err)), -ENOENT);
	firewall_rules(b, &n);
	assert_int_equal(n, 1);
	firewall_add(a, &r);
	assert_int_equal(firewall_save(a, path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(firewall_load(b, path, err, sizeof(err)), 0);
	rs = firewall_rules(b, &n);
	assert_int_equal(n, 2);
	assert_int_equal(rs[0].proto, FW_PROTO_UDP);
	/* a corrupt file is refused and changes nothing */
	f = fopen(path, "w");
	fputs("{\"rules\": [", f);
	fclose(f);
	assert_int_equal(firewall_load(b, path, err, sizeof(err)), -EINVAL);
	firewall_rules(b, &n);
	assert_int_equal(n, 2);
	/* a directory is not a firewall file */
	assert_true(firewall_load(b, dir, err, sizeof(err)) < 0);
	unlink(path);
	rmdir(dir);
	firewall_close(a);
	firewall_close(b);
}

/* Random packet bytes through parse + eval, with and without conntrack,
 * never crash; a later fragment never passes a port-specific deny. */
static void test_hostile_packets(void **state)
{
	struct conntrack ct;
	struct firewall *fw;
	struct fw_rule r;
	uint8_t p[128];
	unsigned seed = 99;

	(void)state;
	assert_int_equal(conntrack_init(&ct, 256), 0);
	fw = open_fw(&ct);
	r = rule("in", "allow", "any", NULL, NULL, NULL);
	firewall_add(fw, &r);
	r = rule("in", "deny", "tcp", "22", NULL, NULL);
	firewall_add(fw, &r);
	r = rule("in", "deny", "udp", "53", NULL, NULL);
	firewall_add(fw, &r);
	for (int it = 0; it < 50000; it++) {
		struct packet_info pi;
		size_t n;
		enum fw_verdict v;

		seed = seed * 1103515245u + 12345u;
		n = 20 + (seed >> 16) % 100;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			p[i] = (uint8_t)(seed >> 16);
		}
		p[0] = (it & 1) ? 0x45 : 0x60;
		if (packet_parse(p, n, &pi) < 0)
			continue;
		v = firewall_eval(fw, (enum fw_dir)(it & 2 ? 1 : 0), &pi, &peer_a, 0, (uint64_t)it);
		assert_true(v == FW_ALLOW || v == FW_DROP || v == FW_REJECT);
		if (!(it & 2) && pi.frag_offset && (pi.proto == 6 || pi.proto == 17))
			assert_int_equal(v, FW_DROP);
	}
	firewall_close(fw);
	conntrack_close(&ct);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ports_grammar),
		cmocka_unit_test(test_rule_grammar),
		cmocka_unit_test(test_fresh_defaults),
		cmocka_unit_test(test_first_match_and_selector),
		cmocka_unit_test(test_rule_limit),
		cmocka_unit_test(test_peer_and_network_scope),
		cmocka_unit_test(test_union_scope),
		cmocka_unit_test(test_suggested_rules),
		cmocka_unit_test(test_reject_and_rate_limit),
		cmocka_unit_test(test_conntrack_replies),
		cmocka_unit_test(test_rule_change_reaches_flows),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_json_old_and_partial),
		cmocka_unit_test(test_json_malformed),
		cmocka_unit_test(test_file_save_load),
		cmocka_unit_test(test_hostile_packets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
