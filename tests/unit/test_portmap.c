/*
 * test_portmap: the strict parsers and the renewal schedule, then the
 * client against a real miniupnpd in a namespace lab:
 *
 *   host ns  eth0 10.77.0.2 --- lan0 10.77.0.1  router ns  wan0 198.51.100.1
 *                                                              |
 *                              wan ns  eth0 198.51.100.2 (STUN responder)
 *
 * miniupnpd (nftables backend, as Debian builds it) runs in the router
 * namespace in the foreground. It refuses to forward ports when its WAN
 * address is private or reserved, and every lab address (198.51.100.0/24 is
 * TEST-NET-2) is; its ext_perform_stun option is the documented way out (a
 * router behind a full-cone upstream), so a tiny STUN responder in the wan
 * namespace tells it that 198.51.100.1 is reachable as is. The test process
 * itself joins the host namespace (before libuv starts its thread pool, so
 * the workers live there too) and checks the router's nftables chain for
 * the DNAT rule: made by PCP (tried first; miniupnpd serves it with
 * NAT-PMP), kept past its lifetime by renewals, removed at close; the same
 * for a NAT-PMP-only client, and for UPnP with miniupnpd's NAT-PMP/PCP
 * switched off (the fallback path); a bounded failure with nothing
 * listening; a close while the first request runs; a fake NAT-PMP-only
 * gateway (its UNSUPP_VERSION to PCP sends the client to NAT-PMP at once);
 * and fake gateways sending hostile answers (NAT-PMP: zero address, wrong
 * port, zero lifetime, wrong opcode, silence; PCP: another nonce, refusal,
 * a lease of days, a native IPv6 address, a truncated answer; and one
 * that ties the mapping to its first nonce, which renewals and the delete
 * must repeat). Needs root, ip, nft and miniupnpd; the lab part is
 * skipped without them. Everything it starts is killed by PID and the
 * namespaces are deleted, also on failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport/portmap.h"
#include "util/log.h"

#define ROUTER_LAN "10.77.0.1"
#define HOST_ADDR "10.77.0.2"
#define ROUTER_WAN "198.51.100.1"
#define STUN_ADDR "198.51.100.2"

extern char **environ;

struct lab {
	char rns[32], hns[32], wns[32];
	char dir[64];
	pid_t stun, upnpd, fake;
	int orig_ns;
	int up;
};

static struct lab lab = { .orig_ns = -1 };
static uv_loop_t loop;

/* ---- pure parts ---- */

static void test_parse_port(void **state)
{
	static const char *bad[] = { "",   "0",  "65536", "99999",  "-1",         "+1",  " 1",
				     "1 ", "1a", "0x10",  "000001", "4294967297", "1.5", "\t" };
	char big[4096];
	uint16_t p = 7;
	size_t i;

	assert_int_equal(portmap_parse_port("1", &p), 0);
	assert_int_equal(p, 1);
	assert_int_equal(portmap_parse_port("65535", &p), 0);
	assert_int_equal(p, 65535);
	assert_int_equal(portmap_parse_port("00080", &p), 0);
	assert_int_equal(p, 80);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = 7;
		assert_int_equal(portmap_parse_port(bad[i], &p), -EINVAL);
		assert_int_equal(p, 7);
	}
	assert_int_equal(portmap_parse_port(NULL, &p), -EINVAL);
	memset(big, '9', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(portmap_parse_port(big, &p), -EINVAL);
}

static void test_parse_ipv4(void **state)
{
	static const char *bad[] = {
		"",      "0.0.0.0",       "255.255.255.255", "224.0.0.1",       "239.255.255.250",
		"1.2.3", "1.2.3.4.5",     "256.1.1.1",       "1.2.3.4 ",        " 1.2.3.4",
		"::1",   "198.51.100.1x", "a.b.c->d",        "198.51.100.001.5"
	};
	struct in_addr a;
	char big[2048];
	size_t i;

	assert_int_equal(portmap_parse_ipv4(ROUTER_WAN, &a), 0);
	assert_int_equal(ntohl(a.s_addr), 0xc6336401u);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(portmap_parse_ipv4(bad[i], &a), -EINVAL);
	assert_int_equal(portmap_parse_ipv4(NULL, &a), -EINVAL);
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(portmap_parse_ipv4(big, &a), -EINVAL);
}

static void test_private(void **state)
{
	static const char *priv[] = { "10.0.0.1",       "10.255.255.255", "172.16.0.1",
				      "172.31.255.254", "192.168.1.1",    "100.64.0.1",
				      "100.127.255.254" };
	static const char *pub[] = { "9.255.255.255", "11.0.0.0",    "172.15.0.1",
				     "172.32.0.1",    "192.169.0.1", "100.63.255.255",
				     "100.128.0.0",   ROUTER_WAN,    "8.8.8.8" };
	struct in_addr a;
	size_t i;

	for (i = 0; i < sizeof(priv) / sizeof(priv[0]); i++) {
		inet_pton(AF_INET, priv[i], &a);
		assert_int_equal(portmap_addr_is_private(a), 1);
	}
	for (i = 0; i < sizeof(pub) / sizeof(pub[0]); i++) {
		inet_pton(AF_INET, pub[i], &a);
		assert_int_equal(portmap_addr_is_private(a), 0);
	}
}

static void test_renew_delay(void **state)
{
	assert_true(portmap_renew_delay_ms(0) == 30 * 60 * 1000ull);
	assert_true(portmap_renew_delay_ms(1) == 1000);
	assert_true(portmap_renew_delay_ms(4) == 2000);
	assert_true(portmap_renew_delay_ms(7200) == 3600 * 1000ull);
	assert_true(portmap_renew_delay_ms(UINT32_MAX) == 12 * 3600 * 1000ull);
}

static void test_open_invalid(void **state)
{
	struct portmap *pm = NULL;

	assert_int_equal(portmap_open(&pm, &loop, 0, NULL, NULL), -EINVAL);
	assert_int_equal(portmap_open(&pm, NULL, 1, NULL, NULL), -EINVAL);
	assert_int_equal(portmap_open(NULL, &loop, 1, NULL, NULL), -EINVAL);
	assert_null(pm);
	assert_string_equal(portmap_method_name(PORTMAP_NATPMP), "natpmp");
	assert_string_equal(portmap_method_name(PORTMAP_UPNP), "upnp");
	assert_string_equal(portmap_method_name(PORTMAP_PCP), "pcp");
	assert_string_equal(portmap_method_name(PORTMAP_NONE), "none");
}

/* ---- lab plumbing ---- */

static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int have_tool(const char *name)
{
	return sh("command -v %s >/dev/null 2>&1", name) == 0;
}

static void stop_pid(pid_t *pid)
{
	int i, st;

	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	for (i = 0; i < 40; i++) {
		if (waitpid(*pid, &st, WNOHANG) == *pid)
			goto out;
		usleep(50 * 1000);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, &st, 0);
out:
	*pid = 0;
}

static int enter_ns(const char *name)
{
	char path[128];
	int fd, rc;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* A UDP socket bound in a lab namespace, for a child process. */
static int child_socket(const char *ns, const char *ip, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (enter_ns(ns) < 0)
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	inet_pton(AF_INET, ip, &sin.sin_addr);
	sin.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return -1;
	return fd;
}

/*
 * Answers every Binding request with the sender's address in a
 * MAPPED-ADDRESS, from the address it was asked on: what miniupnpd's
 * full-cone check wants to see.
 */
static void stun_serve(const char *ns)
{
	uint8_t in[1500], out[32];
	struct sockaddr_in from;
	socklen_t fl;
	ssize_t n;
	int fd;

	fd = child_socket(ns, STUN_ADDR, 3478);
	if (fd < 0)
		_exit(1);
	for (;;) {
		fl = sizeof(from);
		n = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&from, &fl);
		if (n < 20 || in[0] != 0x00 || in[1] != 0x01)
			continue;
		memset(out, 0, sizeof(out));
		out[0] = 0x01;
		out[1] = 0x01;
		out[3] = 12;
		memcpy(out + 4, in + 4, 16);
		out[21] = 0x01; /* MAPPED-ADDRESS */
		out[23] = 8;
		out[25] = 0x01; /* IPv4 */
		memcpy(out + 26, &from.sin_port, 2);
		memcpy(out + 28, &from.sin_addr, 4);
		sendto(fd, out, 32, 0, (struct sockaddr *)&from, fl);
	}
}

enum fake_mode {
	FAKE_ZERO_ADDR,     /* public address 0.0.0.0 */
	FAKE_WRONG_PORT,    /* mapping answer for another internal port */
	FAKE_ZERO_LIFE,     /* mapping granted for 0 s */
	FAKE_WRONG_OP,      /* a public-address answer to a mapping request */
	FAKE_REFUSED,       /* result code 2: not authorized */
	FAKE_SILENT,        /* never answers */
	FAKE_TWICE,         /* answers every request twice, as to a resend */
	FAKE_NATPMP_ONLY,   /* PCP: NAT-PMP's UNSUPP_VERSION; NAT-PMP: maps */
	FAKE_PCP_NONCE,     /* PCP: answers for another nonce */
	FAKE_PCP_REFUSED,   /* PCP: NOT_AUTHORIZED */
	FAKE_PCP_LONG_LIFE, /* PCP: a lease of ten days */
	FAKE_PCP_V6,        /* PCP: a native IPv6 external address */
	FAKE_PCP_SHORT,     /* PCP: the answer without its MAP body */
	FAKE_PCP_STRICT,    /* PCP: the first nonce owns the mapping */
};

/*
 * RFC 6887 section 11.3: a request for a mapping held under another nonce
 * is NOT_AUTHORIZED. Each request is noted in pcp.log as "LIFETIME ok|bad".
 */
static int fake_pcp_owner(const uint8_t *q)
{
	static uint8_t owner[12];
	static int owned;
	char path[128];
	int ok;
	FILE *f;

	if (!owned) {
		memcpy(owner, q + 24, sizeof(owner));
		owned = 1;
	}
	ok = memcmp(owner, q + 24, sizeof(owner)) == 0;
	snprintf(path, sizeof(path), "%s/pcp.log", lab.dir);
	f = fopen(path, "a");
	if (f != NULL) {
		fprintf(f, "%u %s\n", (unsigned)q[4] << 24 | q[5] << 16 | q[6] << 8 | q[7],
			ok ? "ok" : "bad");
		fclose(f);
	}
	return ok;
}

/* A PCP answer to request q: q's MAP body, ROUTER_WAN:(its port + 1). */
static void fake_pcp(int fd, enum fake_mode mode, const uint8_t *q, ssize_t n,
		     const struct sockaddr_in *to)
{
	uint32_t life = mode == FAKE_PCP_LONG_LIFE ? 864000 : 60;
	uint8_t r[60];
	uint16_t port;
	size_t len = sizeof(r);

	if (n != 60)
		return;
	if (mode == FAKE_NATPMP_ONLY) {
		static const uint8_t unsupp[8] = { 0, 0x81, 0, 1, 0, 0, 0, 1 };

		sendto(fd, unsupp, sizeof(unsupp), 0, (const struct sockaddr *)to, sizeof(*to));
		return;
	}
	memcpy(r, q, sizeof(r));
	r[1] |= 0x80;
	r[2] = 0;
	r[3] = mode == FAKE_PCP_REFUSED ? 2 : 0;
	if (mode == FAKE_PCP_STRICT) {
		r[3] = fake_pcp_owner(q) ? 0 : 2;
		life = q[7] < 2 && !q[4] && !q[5] && !q[6] ? q[7] : 2;
	}
	memset(r + 4, 0, 20);
	r[4] = (uint8_t)(life >> 24);
	r[5] = (uint8_t)(life >> 16);
	r[6] = (uint8_t)(life >> 8);
	r[7] = (uint8_t)life;
	r[11] = 1; /* epoch */
	if (mode == FAKE_PCP_NONCE)
		r[24] ^= 0x55;
	memcpy(&port, q + 40, 2);
	port = htons(ntohs(port) + 1);
	memcpy(r + 42, &port, 2);
	inet_pton(AF_INET, ROUTER_WAN, r + 56);
	if (mode == FAKE_PCP_V6)
		inet_pton(AF_INET6, "2001:db8::1", r + 44);
	if (mode == FAKE_PCP_SHORT)
		len = 48;
	sendto(fd, r, len, 0, (const struct sockaddr *)to, sizeof(*to));
}

static void fake_answer(int fd, enum fake_mode mode, const uint8_t *q, ssize_t n,
			const struct sockaddr_in *to)
{
	uint8_t r[16] = { 0 };
	size_t len = 12;
	uint16_t ip;

	if (n >= 2 && q[0] == 2) {
		if (mode >= FAKE_NATPMP_ONLY)
			fake_pcp(fd, mode, q, n, to);
		return;
	}
	if (n < 2 || q[0] != 0 || mode == FAKE_SILENT)
		return;
	r[1] = 128 + q[1];
	r[7] = 1; /* epoch */
	if (q[1] == 0) {
		if (mode != FAKE_ZERO_ADDR)
			inet_pton(AF_INET, ROUTER_WAN, r + 8);
	} else if (n >= 12) {
		memcpy(&ip, q + 4, 2);
		if (mode == FAKE_WRONG_PORT)
			ip = htons(ntohs(ip) + 1);
		memcpy(r + 8, &ip, 2);
		memcpy(r + 10, q + 4, 2);
		if (mode != FAKE_ZERO_LIFE)
			r[15] = 60;
		len = 16;
		if (mode == FAKE_WRONG_OP) {
			r[1] = 128;
			len = 12;
		}
		if (mode == FAKE_REFUSED)
			r[3] = 2;
	}
	sendto(fd, r, len, 0, (const struct sockaddr *)to, sizeof(*to));
	if (mode == FAKE_TWICE)
		sendto(fd, r, len, 0, (const struct sockaddr *)to, sizeof(*to));
}

static void fake_serve(const char *ns, enum fake_mode mode)
{
	struct sockaddr_in from;
	uint8_t q[64];
	socklen_t fl;
	ssize_t n;
	int fd;

	fd = child_socket(ns, ROUTER_LAN, 5351);
	if (fd < 0)
		_exit(1);
	for (;;) {
		fl = sizeof(from);
		n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
		fake_answer(fd, mode, q, n, &from);
	}
}

static pid_t fork_server(void (*serve)(const char *, enum fake_mode), const char *ns,
			 enum fake_mode mode)
{
	pid_t pid = fork();

	if (pid == 0)
		serve(ns, mode);
	return pid;
}

static void stun_serve_mode(const char *ns, enum fake_mode mode)
{
	stun_serve(ns);
}

static const char nft_rules[] =
	"table inet filter {\n"
	" chain forward { type filter hook forward priority 0; policy accept;"
	" jump miniupnpd; }\n"
	" chain miniupnpd { }\n"
	" chain prerouting { type nat hook prerouting priority -100;"
	" policy accept; jump prerouting_miniupnpd; }\n"
	" chain postrouting { type nat hook postrouting priority 100;"
	" policy accept; jump postrouting_miniupnpd; }\n"
	" chain prerouting_miniupnpd { }\n"
	" chain postrouting_miniupnpd { }\n"
	"}\n";

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -1;
}

static int lab_topology(void)
{
	const char *r = lab.rns, *h = lab.hns, *w = lab.wns;
	char path[128];

	if (sh("ip netns add %s && ip netns add %s && ip netns add %s", r, h, w) != 0)
		return -1;
	lab.up = 1;
	if (sh("ip link add lan0 netns %s type veth peer name eth0 netns %s", r, h) != 0 ||
	    sh("ip link add wan0 netns %s type veth peer name eth0 netns %s", r, w) != 0)
		return -1;
	if (sh("ip -n %s addr add " ROUTER_LAN "/24 dev lan0 && "
	       "ip -n %s addr add " ROUTER_WAN "/24 dev wan0 && "
	       "ip -n %s link set lo up && ip -n %s link set lan0 up && "
	       "ip -n %s link set wan0 up",
	       r, r, r, r, r) != 0)
		return -1;
	if (sh("ip -n %s addr add " HOST_ADDR "/24 dev eth0 && "
	       "ip -n %s link set lo up && ip -n %s link set eth0 up && "
	       "ip -n %s route add default via " ROUTER_LAN,
	       h, h, h, h) != 0)
		return -1;
	if (sh("ip -n %s addr add " STUN_ADDR "/24 dev eth0 && "
	       "ip -n %s link set eth0 up",
	       w, w) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/tables.nft", lab.dir);
	if (write_file(path, nft_rules) < 0 || sh("ip netns exec %s nft -f %s", r, path) != 0)
		return -1;
	return 0;
}

static int lab_down(void **state)
{
	stop_pid(&lab.upnpd);
	stop_pid(&lab.fake);
	stop_pid(&lab.stun);
	if (lab.orig_ns >= 0) {
		setns(lab.orig_ns, CLONE_NEWNET);
		close(lab.orig_ns);
		lab.orig_ns = -1;
	}
	if (lab.up) {
		sh("ip netns del %s 2>/dev/null", lab.rns);
		sh("ip netns del %s 2>/dev/null", lab.hns);
		sh("ip netns del %s 2>/dev/null", lab.wns);
		lab.up = 0;
	}
	if (lab.dir[0] != '\0') {
		sh("rm -rf %s", lab.dir);
		lab.dir[0] = '\0';
	}
	return 0;
}

static int lab_setup(void **state)
{
	pid_t me = getpid();

	snprintf(lab.rns, sizeof(lab.rns), "rfpm-r%d", (int)me);
	snprintf(lab.hns, sizeof(lab.hns), "rfpm-h%d", (int)me);
	snprintf(lab.wns, sizeof(lab.wns), "rfpm-w%d", (int)me);
	snprintf(lab.dir, sizeof(lab.dir), "/tmp/rayfish-portmap-XXXXXX");
	if (mkdtemp(lab.dir) == NULL) {
		lab.dir[0] = '\0';
		return -1;
	}
	if (lab_topology() < 0)
		goto fail;
	lab.stun = fork_server(stun_serve_mode, lab.wns, 0);
	if (lab.stun < 0)
		goto fail;
	lab.orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (lab.orig_ns < 0 || enter_ns(lab.hns) < 0)
		goto fail;
	return 0;
fail:
	lab_down(state);
	return -1;
}

static int log_has(const char *needle)
{
	char path[128], buf[16384];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/miniupnpd.log", lab.dir);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static void dump_log(void)
{
	sh("cat %s/miniupnpd.log >&2", lab.dir);
}

/* Starts miniupnpd on the router in the foreground; waits until it serves. */
static int upnpd_start(int natpmp)
{
	char conf[1024], path[128], logp[128], pidp[128];
	char *argv[] = { "ip", "netns", "exec", lab.rns, "miniupnpd", "-f",
			 path, "-d",    "-P",   pidp,    NULL };
	posix_spawn_file_actions_t fa;
	int i, st, rc;

	snprintf(path, sizeof(path), "%s/miniupnpd.conf", lab.dir);
	snprintf(logp, sizeof(logp), "%s/miniupnpd.log", lab.dir);
	snprintf(pidp, sizeof(pidp), "%s/miniupnpd.pid", lab.dir);
	snprintf(conf, sizeof(conf),
		 "ext_ifname=wan0\n"
		 "listening_ip=lan0\n"
		 "ext_perform_stun=yes\n"
		 "ext_stun_host=" STUN_ADDR "\n"
		 "ext_stun_port=3478\n"
		 "enable_upnp=yes\n"
		 "enable_natpmp=%s\n"
		 "min_lifetime=2\n"
		 "secure_mode=yes\n"
		 "ipv6_disable=yes\n"
		 "http_port=0\n"
		 "system_uptime=no\n"
		 "lease_file=%s/leases\n"
		 "uuid=3f1e2d4c-5b6a-4798-8a9b-0c1d2e3f4a5b\n"
		 "allow 1024-65535 10.77.0.0/24 1024-65535\n"
		 "deny 0-65535 0.0.0.0/0 0-65535\n",
		 natpmp ? "yes" : "no", lab.dir);
	if (write_file(path, conf) < 0)
		return -1;
	unlink(logp);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawnp(&lab.upnpd, "ip", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	for (i = 0; i < 200; i++) {
		if (waitpid(lab.upnpd, &st, WNOHANG) == lab.upnpd) {
			lab.upnpd = 0;
			dump_log();
			return -1;
		}
		/* NAT-PMP/PCP's socket may open after the other two lines:
		 * a client that came earlier got port unreachable. */
		if (log_has("Port forwarding is now enabled") &&
		    log_has("HTTP listening on port") &&
		    (!natpmp || log_has("Listening for NAT-PMP/PCP traffic on port")))
			return 0;
		usleep(50 * 1000);
	}
	dump_log();
	return -1;
}

static int upnpd_with_natpmp(void **state)
{
	return upnpd_start(1);
}

static int upnpd_without_natpmp(void **state)
{
	return upnpd_start(0);
}

/* 1 when the router's DNAT chain forwards udp eport to the host's iport. */
static int router_has_mapping(uint16_t eport, uint16_t iport)
{
	char cmd[256], line[512], dport[32], to[48];
	int found = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "ip netns exec %s nft list chain inet "
		 "filter prerouting_miniupnpd 2>&1",
		 lab.rns);
	snprintf(dport, sizeof(dport), " dport %u ", eport);
	snprintf(to, sizeof(to), "dnat ip to " HOST_ADDR ":%u\n", iport);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	while (fgets(line, sizeof(line), p) != NULL)
		if (strstr(line, dport) != NULL && strstr(line, to) != NULL)
			found = 1;
	pclose(p);
	return found;
}

/* ---- the client under test ---- */

struct ctx {
	int mapped, failed, closed;
	struct portmap_state last;
	struct portmap *pm;
	uint32_t want_renewals;
};

static void on_mapped(void *ud, const struct portmap_state *st)
{
	struct ctx *c = ud;

	c->mapped++;
	c->last = *st;
}

static void on_failed(void *ud, const struct portmap_state *st)
{
	struct ctx *c = ud;

	c->failed++;
	c->last = *st;
}

static void on_closed(void *arg)
{
	struct ctx *c = arg;

	c->closed++;
}

static void tick(uv_timer_t *t)
{
}

/* Runs the loop until pred holds or ms pass; returns pred's last value. */
static int run_until(int (*pred)(struct ctx *), struct ctx *c, uint64_t ms)
{
	uv_timer_t t;
	uint64_t end;
	int ok;

	uv_update_time(&loop);
	end = uv_now(&loop) + ms;
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, tick, 20, 20);
	while (!(ok = pred(c)) && uv_now(&loop) < end)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	return ok;
}

static int is_mapped(struct ctx *c)
{
	return c->mapped > 0 || c->failed > 0;
}

static int is_failed(struct ctx *c)
{
	return c->failed > 0;
}

static int is_closed(struct ctx *c)
{
	return c->closed > 0;
}

static int renewed_enough(struct ctx *c)
{
	struct portmap_state st;

	portmap_get_state(c->pm, &st);
	return st.renewals >= c->want_renewals || c->failed > 0;
}

static const struct portmap_opts fast = {
	.lifetime_s = 4,
	.natpmp_timeout_ms = 1500,
	.discover_ms = 1000,
	.retry_s = 60,
	.description = "rayfish test",
};

/*
 * One client at a time, in static storage: a failed assertion leaves the
 * test function, and the teardown still has to close what it opened.
 */
static struct ctx cx;

static struct ctx *open_client(uint16_t port, const struct portmap_opts *o)
{
	struct portmap_events ev = { on_mapped, on_failed, &cx };

	assert_null(cx.pm);
	memset(&cx, 0, sizeof(cx));
	assert_int_equal(portmap_open(&cx.pm, &loop, port, &ev, o), 0);
	return &cx;
}

static int close_client(struct ctx *c)
{
	int ok;

	if (c->pm == NULL)
		return 1;
	c->closed = 0;
	portmap_close(c->pm, on_closed, c);
	ok = run_until(is_closed, c, 15000);
	c->pm = NULL;
	return ok;
}

static void assert_external(const struct portmap_state *st, uint16_t port)
{
	char a[MS_ADDR_STRLEN], want[64];

	snprintf(want, sizeof(want), ROUTER_WAN ":%u", port);
	assert_string_equal(ms_addr_fmt(&st->external, a, sizeof(a)), want);
}

/* Mapped, still there after more than one lifetime thanks to renewals. */
static void check_mapping_lifecycle(uint16_t port, enum portmap_method want,
				    const struct portmap_opts *o)
{
	struct portmap_state st;
	uint64_t t0;
	struct ctx *c;

	c = open_client(port, o);
	assert_true(run_until(is_mapped, c, 15000));
	if (c->failed)
		fail_msg("no mapping: %s", c->last.reason);
	portmap_get_state(c->pm, &st);
	assert_int_equal(st.method, want);
	assert_int_equal(st.internal_port, port);
	assert_external(&st, port);
	assert_int_equal(st.lease_s, 4);
	assert_int_equal(st.ext_private, 0);
	assert_int_equal(st.last_error, 0);
	assert_true(st.renew_at_ms > 0);
	assert_int_equal(router_has_mapping(port, port), 1);

	uv_update_time(&loop);
	t0 = uv_now(&loop);
	/* ~10 s: miniupnpd drops an unrenewed 4 s lease within ~9 s. */
	c->want_renewals = 5;
	assert_true(run_until(renewed_enough, c, 15000));
	assert_int_equal(c->failed, 0);
	assert_true(uv_now(&loop) - t0 > 8000); /* two leases later */
	assert_int_equal(router_has_mapping(port, port), 1);
	assert_int_equal(c->mapped, 1); /* renewals with the same address */

	assert_true(close_client(c));
	assert_int_equal(router_has_mapping(port, port), 0);
}

/* PCP first: miniupnpd answers it, so nothing else is tried. */
static void test_pcp(void **state)
{
	check_mapping_lifecycle(40006, PORTMAP_PCP, &fast);
	assert_string_equal(cx.last.reason, "");
	assert_string_equal(cx.last.gateway, ROUTER_LAN);
}

static void test_natpmp(void **state)
{
	struct portmap_opts natpmp_only = fast;

	natpmp_only.methods = PORTMAP_TRY_NATPMP;
	check_mapping_lifecycle(40001, PORTMAP_NATPMP, &natpmp_only);
}

static void test_upnp_fallback(void **state)
{
	struct portmap_opts natpmp_only = fast;
	struct ctx *c;

	check_mapping_lifecycle(40002, PORTMAP_UPNP, &fast);

	/* The same router without NAT-PMP fails fast for a NAT-PMP-only client. */
	natpmp_only.methods = PORTMAP_TRY_NATPMP;
	c = open_client(40003, &natpmp_only);
	assert_true(run_until(is_failed, c, 5000));
	assert_int_equal(c->mapped, 0);
	assert_int_equal(c->last.method, PORTMAP_NONE);
	assert_int_equal(c->last.last_error, -ECONNREFUSED);
	assert_non_null(strstr(c->last.reason, "nat-pmp:"));
	assert_null(strstr(c->last.reason, "upnp:"));
	assert_true(close_client(c));
}

/* The fallback's reason names the NAT-PMP failure. */
static void test_upnp_reason(void **state)
{
	struct ctx *c;

	c = open_client(40004, &fast);
	assert_true(run_until(is_mapped, c, 15000));
	assert_int_equal(c->failed, 0);
	assert_int_equal(c->last.method, PORTMAP_UPNP);
	assert_non_null(strstr(c->last.reason, "pcp:"));
	assert_non_null(strstr(c->last.reason, "nat-pmp:"));
	assert_non_null(strstr(c->last.gateway, "http://" ROUTER_LAN ":"));
	assert_int_equal(router_has_mapping(40004, 40004), 1);
	assert_true(close_client(c));
	assert_int_equal(router_has_mapping(40004, 40004), 0);
}

static void test_nothing_listens(void **state)
{
	struct portmap_state st;
	struct ctx *c;
	uint64_t t0;

	uv_update_time(&loop);
	t0 = uv_now(&loop);
	c = open_client(40005, &fast);
	assert_true(run_until(is_failed, c, 20000));
	/* PCP and NAT-PMP are refused at once, SSDP waits discover_ms: well
	 * under a retry schedule, with room for a loaded machine. */
	assert_true(uv_now(&loop) - t0 < 15000);
	assert_int_equal(c->mapped, 0);
	portmap_get_state(c->pm, &st);
	assert_int_equal(st.method, PORTMAP_NONE);
	assert_int_equal(st.external.sa.sa_family, AF_UNSPEC);
	assert_true(st.last_error < 0);
	assert_int_equal(st.renew_at_ms, 0);
	assert_non_null(strstr(st.reason, "pcp: gateway unreachable"));
	assert_non_null(strstr(st.reason, "nat-pmp:"));
	assert_non_null(strstr(st.reason, "upnp:"));
	assert_true(close_client(c));
}

/*
 * Closing at once, while the worker may run the request, and after it may
 * have finished: no event after the close, nothing left on the router. (A
 * worker quicker than the one loop pass may still report before the
 * close: that is allowed, an event after it is not.)
 */
static void test_close_in_flight(void **state)
{
	struct ctx *c;
	int i, before;

	for (i = 0; i < 3; i++) {
		c = open_client((uint16_t)(40010 + i), &fast);
		if (i > 0) /* let the worker start the request */
			uv_run(&loop, UV_RUN_NOWAIT);
		if (i > 1)
			usleep(100 * 1000);
		before = c->mapped + c->failed;
		if (i == 0)
			assert_int_equal(before, 0);
		assert_true(close_client(c));
		assert_int_equal(c->mapped + c->failed, before);
		assert_int_equal(router_has_mapping(40010 + i, 40010 + i), 0);
	}
}

/* Renewal against a router that went away: reported, then retried. */
static void test_router_gone(void **state)
{
	struct ctx *c;

	c = open_client(40020, &fast);
	assert_true(run_until(is_mapped, c, 15000));
	assert_int_equal(c->failed, 0);
	stop_pid(&lab.upnpd);
	assert_true(run_until(is_failed, c, 10000));
	assert_int_equal(c->last.method, PORTMAP_NONE);
	assert_true(c->last.last_error < 0);
	/* The renewal of the PCP mapping is what failed. */
	assert_non_null(strstr(c->last.reason, "pcp:"));
	assert_true(close_client(c));
}

/* A fake gateway answering in mode, bound before the client asks. */
static void fake_start(enum fake_mode mode)
{
	lab.fake = fork_server(fake_serve, lab.rns, mode);
	assert_true(lab.fake > 0);
	usleep(200 * 1000); /* the child binds the gateway's port */
}

/* A client for port, once it holds a mapping (the test fails otherwise). */
static struct ctx *open_mapped(uint16_t port, const struct portmap_opts *o)
{
	struct ctx *c = open_client(port, o);

	assert_true(run_until(is_mapped, c, 5000));
	if (c->failed)
		fail_msg("no mapping: %s", c->last.reason);
	return c;
}

static void fake_case_with(enum fake_mode mode, unsigned methods, int want_err,
			   const char *want_text)
{
	struct portmap_opts o = fast;
	struct ctx *c;
	uint64_t t0;

	o.methods = methods;
	o.natpmp_timeout_ms = 800;
	fake_start(mode);
	uv_update_time(&loop);
	t0 = uv_now(&loop);
	c = open_client(40030, &o);
	assert_true(run_until(is_failed, c, 5000));
	assert_true(uv_now(&loop) - t0 < 3000);
	assert_int_equal(c->mapped, 0);
	assert_int_equal(c->last.last_error, want_err);
	if (strstr(c->last.reason, want_text) == NULL)
		fail_msg("reason '%s' lacks '%s'", c->last.reason, want_text);
	assert_true(close_client(c));
	stop_pid(&lab.fake);
}

static void fake_case(enum fake_mode mode, int want_err, const char *want_text)
{
	fake_case_with(mode, PORTMAP_TRY_NATPMP, want_err, want_text);
}

static void test_hostile_gateway(void **state)
{
	fake_case(FAKE_ZERO_ADDR, -EPROTO, "unusable public address");
	fake_case(FAKE_WRONG_PORT, -EPROTO, "internal port 40031");
	fake_case(FAKE_ZERO_LIFE, -EPROTO, "for 0 s");
	fake_case(FAKE_WRONG_OP, -EPROTO, "answer of type 0");
	fake_case(FAKE_REFUSED, -EACCES, "refused");
	fake_case(FAKE_SILENT, -ETIMEDOUT, "no answer");
}

static void test_hostile_pcp(void **state)
{
	/* Answers for another nonce are not answers: it times out. */
	fake_case_with(FAKE_PCP_NONCE, PORTMAP_TRY_PCP, -ETIMEDOUT, "pcp: no answer");
	fake_case_with(FAKE_PCP_REFUSED, PORTMAP_TRY_PCP, -EACCES, "NOT_AUTHORIZED (2)");
	fake_case_with(FAKE_PCP_LONG_LIFE, PORTMAP_TRY_PCP, -EPROTO, "not a usable MAP response");
	fake_case_with(FAKE_PCP_V6, PORTMAP_TRY_PCP, -EPROTO, "not a usable MAP response");
	fake_case_with(FAKE_PCP_SHORT, PORTMAP_TRY_PCP, -EBADMSG, "malformed answer");
	fake_case_with(FAKE_SILENT, PORTMAP_TRY_PCP, -ETIMEDOUT, "pcp: no answer");
	fake_case_with(FAKE_NATPMP_ONLY, PORTMAP_TRY_PCP, -EPROTONOSUPPORT, "UNSUPP_VERSION");
}

/*
 * A gateway slower than libnatpmp's first resend answers the public-address
 * request twice; the late copy is no answer to the mapping request.
 */
static void test_natpmp_answered_twice(void **state)
{
	struct portmap_opts o = fast;
	struct ctx *c;

	o.methods = PORTMAP_TRY_NATPMP;
	fake_start(FAKE_TWICE);
	c = open_mapped(40060, &o);
	assert_int_equal(c->last.method, PORTMAP_NATPMP);
	assert_int_equal(c->last.lease_s, 60);
	assert_external(&c->last, 40060);
	assert_true(close_client(c));
	stop_pid(&lab.fake);
}

static int count_lines(const char *path, const char *needle, char *last, size_t size)
{
	char line[64];
	int n = 0;
	FILE *f;

	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, needle) != NULL)
			n++;
		snprintf(last, size, "%s", line);
	}
	fclose(f);
	return n;
}

/*
 * Renewals and the delete carry the first request's nonce, so a server
 * that ties the mapping to it accepts every one of them.
 */
static void test_pcp_nonce_kept(void **state)
{
	struct portmap_opts o = fast;
	char path[128], last[64] = "";
	struct ctx *c;

	o.methods = PORTMAP_TRY_PCP;
	snprintf(path, sizeof(path), "%s/pcp.log", lab.dir);
	unlink(path);
	fake_start(FAKE_PCP_STRICT);
	c = open_mapped(40050, &o);
	assert_int_equal(c->last.method, PORTMAP_PCP);
	assert_int_equal(c->last.lease_s, 2);
	assert_external(&c->last, 40051);
	c->want_renewals = 3;
	assert_true(run_until(renewed_enough, c, 10000));
	assert_int_equal(c->failed, 0);
	assert_true(close_client(c));
	stop_pid(&lab.fake);
	assert_true(count_lines(path, " ok", last, sizeof(last)) >= 5);
	assert_int_equal(count_lines(path, " bad", last, sizeof(last)), 0);
	assert_string_equal(last, "0 ok\n"); /* the delete, last */
}

/*
 * A NAT-PMP-only gateway answers PCP with UNSUPP_VERSION: the client
 * moves to NAT-PMP at once instead of waiting out the PCP timeout.
 */
static void test_natpmp_only_gateway(void **state)
{
	struct portmap_opts o = fast;
	struct portmap_state st;
	struct ctx *c;
	uint64_t t0;

	o.natpmp_timeout_ms = 1500;
	fake_start(FAKE_NATPMP_ONLY);
	uv_update_time(&loop);
	t0 = uv_now(&loop);
	c = open_client(40040, &o);
	assert_true(run_until(is_mapped, c, 5000));
	if (c->failed)
		fail_msg("no mapping: %s", c->last.reason);
	assert_true(uv_now(&loop) - t0 < 1000);
	portmap_get_state(c->pm, &st);
	assert_int_equal(st.method, PORTMAP_NATPMP);
	assert_external(&st, 40040);
	assert_non_null(strstr(st.reason, "pcp:"));
	assert_non_null(strstr(st.reason, "UNSUPP_VERSION"));
	assert_true(close_client(c));
	stop_pid(&lab.fake);
}

static int upnpd_stop(void **state)
{
	close_client(&cx);
	stop_pid(&lab.upnpd);
	stop_pid(&lab.fake);
	return 0;
}

static int lab_possible(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_portmap: not root; lab part skipped\n");
		return 0;
	}
	if (!have_tool("ip") || !have_tool("nft") || access("/usr/sbin/miniupnpd", X_OK) != 0) {
		fprintf(stderr, "test_portmap: ip, nft or miniupnpd missing; "
				"lab part skipped\n");
		return 0;
	}
	return 1;
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_parse_port),   cmocka_unit_test(test_parse_ipv4),
		cmocka_unit_test(test_private),      cmocka_unit_test(test_renew_delay),
		cmocka_unit_test(test_open_invalid),
	};
	const struct CMUnitTest labtests[] = {
		cmocka_unit_test_setup_teardown(test_pcp, upnpd_with_natpmp, upnpd_stop),
		cmocka_unit_test_setup_teardown(test_natpmp, upnpd_with_natpmp, upnpd_stop),
		cmocka_unit_test_setup_teardown(test_close_in_flight, upnpd_with_natpmp,
						upnpd_stop),
		cmocka_unit_test_setup_teardown(test_router_gone, upnpd_with_natpmp, upnpd_stop),
		cmocka_unit_test_setup_teardown(test_upnp_fallback, upnpd_without_natpmp,
						upnpd_stop),
		cmocka_unit_test_setup_teardown(test_upnp_reason, upnpd_without_natpmp, upnpd_stop),
		cmocka_unit_test_setup_teardown(test_nothing_listens, NULL, upnpd_stop),
		cmocka_unit_test_setup_teardown(test_hostile_gateway, NULL, upnpd_stop),
		cmocka_unit_test_setup_teardown(test_hostile_pcp, NULL, upnpd_stop),
		cmocka_unit_test_setup_teardown(test_natpmp_only_gateway, NULL, upnpd_stop),
		cmocka_unit_test_setup_teardown(test_pcp_nonce_kept, NULL, upnpd_stop),
		cmocka_unit_test_setup_teardown(test_natpmp_answered_twice, NULL, upnpd_stop),
	};
	int rc;

	log_init(getenv("RAYFISH_LOG") ? (enum log_level)log_level_parse(getenv("RAYFISH_LOG"))
				       : LL_WARN);
	uv_loop_init(&loop);
	rc = cmocka_run_group_tests_name("portmap", pure, NULL, NULL);
	if (rc == 0 && lab_possible())
		rc = cmocka_run_group_tests_name("portmap_lab", labtests, lab_setup, lab_down);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return rc ? 1 : 0;
}
