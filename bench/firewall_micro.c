/*
 * firewall_micro: nanoseconds per packet for packet_parse + firewall_eval
 * (with conntrack) at 0, 10 and 100 rules, against parse alone.
 *
 * Four streams of pre-built IPv4 TCP packets, each measured separately:
 *   parse        packet_parse only (the raw path's floor)
 *   new_flow     outbound SYNs of distinct flows: rule scan + conntrack insert
 *   tracked      inbound replies of those 32768 flows: conntrack hit, no
 *                rule scan (a 4.5 MiB table: mostly cache misses)
 *   hot          replies of 256 of them, over and over (table in cache)
 *   unsolicited  inbound SYNs no rule matches: full rule scan, then drop
 * The rules are built so none matches the streams (peer-scoped, port-scoped
 * and network-scoped rules mixed), which makes "unsolicited" the worst case.
 * The flows go to 256 peer addresses, each its own peer handle, so no peer
 * reaches conntrack's per-peer quota.
 *
 * A second table holds the flows fixed (32768 tracked replies, 10 rules)
 * and grows the number of peers they come from, 10 to 100 000, each peer
 * with its IPv4 and IPv6 in the peer table: per packet the source lookup
 * in the peer table plus firewall_eval with that peer as the flow's owner,
 * which is what forward does. The per-packet cost must not grow with the
 * peers; the ratio column says how it compares with 10.
 * See bench/firewall_micro.md for how to build and run it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/conntrack.h"
#include "dataplane/firewall.h"
#include "dataplane/packet.h"
#include "dataplane/peer_table.h"
#include "util/bytes.h"

#define FLOWS 32768
#define PKT 40
#define ROUNDS 20
#define NPEERS 8
#define ME 0x64400001u

static int peers[NPEERS];
static char ids[NPEERS][FW_PEER_BUF];
static int dests[256]; /* the peer handle of packet i is dests[i & 255] */

static const void *resolve_peer(const char *id, void *ud)
{
	(void)ud;
	for (int i = 0; i < NPEERS; i++)
		if (strcmp(id, ids[i]) == 0)
			return &peers[i];
	return NULL;
}

static int64_t resolve_net(const char *name, void *ud)
{
	(void)ud;
	return strcmp(name, "db") == 0 ? 7 : -1;
}

static const struct fw_resolver resolver = { .peer = resolve_peer, .network = resolve_net };

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void mk_tcp(uint8_t *b, uint32_t s, uint16_t sp, uint32_t d, uint16_t dp, uint8_t fl)
{
	memset(b, 0, PKT);
	b[0] = 0x45;
	be16_put(b + 2, PKT);
	b[8] = 64;
	b[9] = 6;
	be32_put(b + 12, s);
	be32_put(b + 16, d);
	be16_put(b + 20, sp);
	be16_put(b + 22, dp);
	b[32] = 5 << 4;
	b[33] = fl;
}

static void add_rules(struct firewall *fw, int n)
{
	char port[16], err[FW_ERR_BUF];
	struct fw_rule r;
	int rc = 0;

	for (int i = 0; i < n; i++) {
		snprintf(port, sizeof(port), "%d", 10000 + i);
		switch (i % 3) {
		case 0:
			rc = fw_rule_parse(&r, "in", "allow", "tcp", port, NULL, NULL, NULL, err,
					   sizeof(err));
			break;
		case 1:
			rc = fw_rule_parse(&r, "in", "allow", "tcp", "1-65535",
					   ids[1 + i % (NPEERS - 1)], NULL, NULL, err, sizeof(err));
			break;
		default:
			rc = fw_rule_parse(&r, "in", "allow", "any", NULL, NULL, "db", NULL, err,
					   sizeof(err));
			break;
		}
		if (rc < 0 || firewall_add(fw, &r) < 0) {
			fprintf(stderr, "rule %d: %s\n", i, err);
			exit(1);
		}
	}
}

/* Returns ns per packet over `rounds` passes of `n` packets. */
static double run(struct firewall *fw, uint8_t (*pk)[PKT], int n, int rounds, enum fw_dir dir,
		  uint64_t *clock, int parse_only, unsigned *allowed)
{
	struct packet_info pi;
	double t0 = now_ns();

	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < n; i++) {
			if (packet_parse(pk[i], PKT, &pi) < 0)
				abort();
			if (parse_only) {
				*allowed += pi.dst_port & 1;
				continue;
			}
			*allowed +=
				firewall_eval(fw, dir, &pi, &dests[i & 255], 0, *clock) == FW_ALLOW;
		}
		*clock += 1;
	}
	return (now_ns() - t0) / ((double)n * rounds);
}

/* Fills the peer table with npeers peers (IPv4 and IPv6 each, handle
 * h[i]) and the firewall with the outbound SYNs of FLOWS flows, flow f to
 * peer f % npeers; rep gets each flow's reply. */
static void peers_setup(struct peer_table *pt, struct firewall *fw, int *h, int npeers,
			uint8_t (*rep)[PKT])
{
	uint8_t syn[PKT], v6[16] = { 0x02 };
	struct packet_info pi;

	for (int i = 0; i < npeers; i++) {
		be32_put(v6 + 12, (uint32_t)i);
		if (peer_table_insert4(pt, 0x64400100u + (uint32_t)i, &h[i], 0) < 0 ||
		    peer_table_insert6(pt, v6, &h[i], 0) < 0)
			abort();
	}
	for (int f = 0; f < FLOWS; f++) {
		uint32_t peer = 0x64400100u + (uint32_t)(f % npeers);
		uint16_t sp = (uint16_t)(10000 + f / npeers);

		mk_tcp(syn, ME, sp, peer, 443, 0x02);
		mk_tcp(rep[f], peer, 443, ME, sp, 0x10);
		if (packet_parse(syn, PKT, &pi) < 0 ||
		    firewall_eval(fw, FW_DIR_OUT, &pi, &h[f % npeers], 0, 1) != FW_ALLOW)
			abort();
	}
}

/* ns per reply for parse + source lookup + firewall_eval, as forward does
 * it, with the flows' replies coming from npeers peers; *untracked: flows
 * the table could not keep (their replies take the rule scan). */
static double run_peers(int npeers, uint8_t (*rep)[PKT], unsigned *sink, uint64_t *untracked)
{
	struct peer_table pt;
	struct conntrack ct;
	struct firewall *fw;
	struct packet_info pi;
	int *h = calloc((size_t)npeers, sizeof(*h));
	double ns;

	if (!h || conntrack_init(&ct, 0) < 0 || firewall_open(&fw, &ct) < 0)
		abort();
	firewall_set_resolver(fw, &resolver);
	add_rules(fw, 10);
	peer_table_init(&pt);
	peers_setup(&pt, fw, h, npeers, rep);
	*untracked = ct.stats.refused + ct.stats.evicted;
	/* The best of ROUNDS passes: the machine is shared, and what is
	 * measured is the table's cost, not the neighbours'. */
	ns = 1e12;
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_ns(), t;

		for (int f = 0; f < FLOWS; f++) {
			struct peer_entry *e;

			if (packet_parse(rep[f], PKT, &pi) < 0 ||
			    !(e = peer_table_lookup4(&pt, pi.src.v4)))
				abort();
			*sink += firewall_eval(fw, FW_DIR_IN, &pi, e->peer, e->net,
					       2 + (uint64_t)r) == FW_ALLOW;
		}
		t = (now_ns() - t0) / FLOWS;
		if (t < ns)
			ns = t;
	}
	peer_table_close(&pt);
	firewall_close(fw);
	conntrack_close(&ct);
	free(h);
	return ns;
}

static void table_peers(uint8_t (*rep)[PKT])
{
	static const int counts[] = { 10, 1000, 10000, 100000 };
	unsigned sink = 0;
	double base = 0;

	printf("\n%-7s %10s %7s %10s  (replies of %d flows, 10 rules: "
	       "parse + peer lookup + firewall_eval)\n",
	       "peers", "ns/packet", "ratio", "untracked", FLOWS);
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		uint64_t untracked;
		double ns = run_peers(counts[c], rep, &sink, &untracked);

		if (c == 0)
			base = ns;
		printf("%-7d %10.1f %7.2f %10llu\n", counts[c], ns, ns / base,
		       (unsigned long long)untracked);
	}
	printf("(sink %u)\n", sink);
}

int main(void)
{
	static const int counts[] = { 0, 10, 100 };
	uint8_t(*out)[PKT] = malloc(sizeof(*out) * FLOWS);
	uint8_t(*rep)[PKT] = malloc(sizeof(*rep) * FLOWS);
	uint8_t(*uns)[PKT] = malloc(sizeof(*uns) * FLOWS);

	if (!out || !rep || !uns)
		return 1;
	for (int i = 0; i < NPEERS; i++)
		for (int j = 0; j < FW_PEER_BUF - 1; j++)
			ids[i][j] = "0123456789abcdef"[(i + j) & 15];
	for (int i = 0; i < FLOWS; i++) {
		uint32_t peer = 0x64400100u + (uint32_t)(i & 255);
		uint16_t sp = (uint16_t)(10000 + i / 256);

		mk_tcp(out[i], ME, sp, peer, 443, 0x02);
		mk_tcp(rep[i], peer, 443, ME, sp, 0x10);
		mk_tcp(uns[i], peer, sp, ME, 8080, 0x02);
	}
	printf("%-6s %8s %9s %9s %7s %12s  (ns/packet)\n", "rules", "parse", "new_flow", "tracked",
	       "hot", "unsolicited");
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		struct conntrack ct;
		struct firewall *fw;
		uint64_t clock = 1;
		unsigned allowed = 0;
		double p, nf, tr, hot, un;

		if (conntrack_init(&ct, 0) < 0 || firewall_open(&fw, &ct) < 0)
			return 1;
		firewall_set_resolver(fw, &resolver);
		add_rules(fw, counts[c]);
		p = run(fw, out, FLOWS, ROUNDS, FW_DIR_OUT, &clock, 1, &allowed);
		nf = run(fw, out, FLOWS, 1, FW_DIR_OUT, &clock, 0, &allowed);
		tr = run(fw, rep, FLOWS, ROUNDS, FW_DIR_IN, &clock, 0, &allowed);
		hot = run(fw, rep, 256, ROUNDS * 128, FW_DIR_IN, &clock, 0, &allowed);
		un = run(fw, uns, FLOWS, ROUNDS, FW_DIR_IN, &clock, 0, &allowed);
		printf("%-6d %8.1f %9.1f %9.1f %7.1f %12.1f  (sink %u)\n", counts[c], p, nf, tr,
		       hot, un, allowed);
		firewall_close(fw);
		conntrack_close(&ct);
	}
	table_peers(rep);
	free(out);
	free(rep);
	free(uns);
	return 0;
}
