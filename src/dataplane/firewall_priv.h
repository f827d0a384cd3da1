/*
 * firewall_priv: what the firewall's three files share (firewall.c the
 * configuration and the data path, firewall_rule.c the rule text,
 * firewall_file.c firewall.json); not for use outside src/dataplane.
 */
#ifndef RAYFISH_DATAPLANE_FIREWALL_PRIV_H
#define RAYFISH_DATAPLANE_FIREWALL_PRIV_H

#include "dataplane/firewall.h"

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

/* err gets the sentence (when err is set). */
void fw_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A rule loaded or given whole: the invariants fw_rule_parse gives, or
 * -EINVAL. Lower-cases the peer id and normalises the ports. */
int fw_rule_sanitize(struct fw_rule *r);
const char *fw_dir_name(uint8_t d);
const char *fw_action_name(uint8_t a);
const char *fw_proto_name(uint8_t p);
/* "allow" / "deny" (any case) → enum fw_action, or -1. */
int fw_action_parse(const char *s);

#endif
