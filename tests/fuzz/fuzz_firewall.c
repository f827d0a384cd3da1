/*
 * fuzz_firewall: packet_parse, then firewall_eval with conntrack, then the
 * reject reply, on arbitrary bytes. The first three input bytes steer the
 * call (byte 0: direction, peer, network, reject mode; bytes 1-2: how far
 * the clock moves, so flows are made, refreshed and expire); the rest is
 * the packet. One stateful firewall lives across inputs so conntrack sees
 * long sequences. A stateless twin with a port-specific deny in front of
 * an allow-all checks that no inbound later fragment of TCP/UDP ever gets
 * past the deny. Every reject reply must parse.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/conntrack.h"
#include "dataplane/firewall.h"
#include "dataplane/icmp.h"
#include "dataplane/packet.h"

static int peer_a, peer_b;
static struct conntrack ct;
static struct firewall *fw, *twin;
static uint64_t now;

static const void *resolve_peer(const char *id, void *ud)
{
	(void)ud;
	return id[0] == 'a' ? (const void *)&peer_a : (const void *)&peer_b;
}

static int64_t resolve_net(const char *name, void *ud)
{
	(void)ud;
	return strcmp(name, "db") == 0 ? 1 : -1;
}

static void add(struct firewall *f, const char *dir, const char *action, const char *proto,
		const char *ports, const char *peer, const char *net)
{
	struct fw_rule r;

	if (fw_rule_parse(&r, dir, action, proto, ports, peer, net, NULL, NULL, 0) < 0 ||
	    firewall_add(f, &r) < 0)
		abort();
}

static void setup(void)
{
	static const struct fw_resolver res = { .peer = resolve_peer, .network = resolve_net };
	static const char a[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

	/* small table so eviction happens */
	if (conntrack_init(&ct, 256) < 0 || firewall_open(&fw, &ct) < 0 ||
	    firewall_open(&twin, NULL) < 0)
		abort();
	firewall_set_resolver(fw, &res);
	add(fw, "in", "allow", "tcp", "22,80-90", a, NULL);
	add(fw, "in", "allow", "udp", "53", NULL, "db");
	add(fw, "in", "deny", "tcp", "23", NULL, NULL);
	add(fw, "out", "deny", "udp", "5000-6000", NULL, NULL);
	add(twin, "in", "allow", "any", NULL, NULL, NULL);
	add(twin, "in", "deny", "tcp", "22", NULL, NULL);
	add(twin, "in", "deny", "udp", "53", NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[ICMP_REPLY_BUF];
	struct packet_info pi, rp;
	enum fw_verdict v;
	enum fw_dir dir;
	const void *peer;
	uint32_t net;
	int rc;

	if (!fw)
		setup();
	if (size < 3)
		return 0;
	dir = (data[0] & 1) ? FW_DIR_OUT : FW_DIR_IN;
	peer = (data[0] & 2) ? &peer_b : &peer_a;
	net = (data[0] & 4) ? 1 : 2;
	firewall_set_reject(fw, data[0] & 8);
	now += ((uint64_t)data[1] << 8 | data[2]) * ((data[0] & 0x10) ? 1000 : 1);
	data += 3;
	size -= 3;
	if (packet_parse(data, size, &pi) < 0)
		return 0;

	v = firewall_eval(fw, dir, &pi, peer, net, now);
	if (v != FW_ALLOW && v != FW_DROP && v != FW_REJECT)
		abort();
	if (v == FW_REJECT) {
		if (!icmp_rejectable(&pi))
			abort();
		rc = icmp_build_reject(out, sizeof(out), data, size, &pi);
		if (rc > 0 && packet_parse(out, (size_t)rc, &rp) != 0)
			abort();
		if (rc < 0 && rc != -EINVAL)
			abort();
	}
	rc = icmp_build_too_big(out, sizeof(out), data, size, &pi, 1280);
	if (rc > 0 && packet_parse(out, (size_t)rc, &rp) != 0)
		abort();

	v = firewall_eval(twin, FW_DIR_IN, &pi, &peer_a, 0, now);
	if (pi.frag_offset && (pi.proto == 6 || pi.proto == 17) && v != FW_DROP)
		abort();
	if (conntrack_count(&ct, now) > ct.cap)
		abort();
	return 0;
}
