/*
 * nat: see nat.h. netcheck requests wait for the end of a probe round (at
 * most NETCHECK_WAIT_MS); several may share one round.
 *
 * The relay data path: while the allocation exists, magicsock's relay
 * sender is turn_send, and every peer relayed address we send to gets a
 * channel (4 bytes of framing instead of a Send indication's 36). Right
 * after allocating we also permit our own relayed address's IP: TURN
 * permissions go by IP, so every peer holding an allocation on the same
 * server can then reach us unasked (a joiner behind a symmetric NAT has no
 * other way in), while strangers on the open Internet still cannot.
 */
#include "daemon/nat.h"
#include "daemon/member_relay.h"
#include "daemon/daemon.h"
#include "transport/portmap.h"
#include "transport/resolve.h"
#include "transport/stun.h"
#include "transport/turn.h"
#include "util/log.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_EVERY_MS (60 * 1000)
#define NETCHECK_WAIT_MS 6000
#define NETCHECK_MAX 8
#define TURN_RETRY_MIN_MS 1000
#define TURN_RETRY_MS 30000
#define PORTMAP_DELAY_MS 10000
#define RESOLVE_EVERY_MS (10 * 60 * 1000)
#define RESOLVE_RETRY_MS 5000
#define RESOLVE_FAILED_MS 30000

/* One STUN entry of the setting, as written and as last resolved. */
struct stun_slot {
	struct daemon *d;
	struct resolve_req *req;
	char entry[MS_ADDR_STRLEN + 192];
	union ms_addr addr;
	bool ok;
};

struct nat {
	struct stun_demux stun_in; /* STUN class: TURN client, then Binding */
	struct stun_demux turn_in; /* TURN ChannelData class */
	struct stun_client *stun;
	struct turn_client *turn;
	struct portmap *pm; /* UPnP IGD / NAT-PMP mapping of our port */
	bool pm_started;
	char turn_server[200]; /* as written, and "(address)" for a name */
	struct stun_slot slots[STUN_MAX_SERVERS];
	size_t n_slots;
	size_t stun_pending; /* resolutions under way */
	bool stun_named;     /* some entry is a name: re-resolve */
	uint64_t next_resolve_ms;
	struct resolve_req *relay_req;
	union ms_addr relay_addr; /* entry relay_addr_idx, resolved */
	unsigned relay_addr_idx;
	bool relay_addr_ok;
	uint64_t next_probe_ms;
	uint64_t next_turn_ms;
	uint32_t turn_backoff_ms; /* wait before the next new client */
	unsigned relay_idx;       /* entry of the relay list in use */
	bool probing;
	bool udp_ok; /* some STUN server answered, ever */
	struct ipc_request *waiting[NETCHECK_MAX];
	size_t n_waiting;
	uint64_t wait_deadline_ms;
};

static void reply_netcheck(struct daemon *d, struct ipc_request *req);

static void answer_waiting(struct daemon *d)
{
	struct nat *nat = d->nat;

	while (nat->n_waiting)
		reply_netcheck(d, nat->waiting[--nat->n_waiting]);
}

static void on_result(void *ud, const struct stun_result *r)
{
	struct daemon *d = ud;
	char s[MS_ADDR_STRLEN], a[MS_ADDR_STRLEN];

	if (r->status == 0) {
		d->nat->udp_ok = true;
		log_debug("nat: %s sees us as %s (%u ms)", ms_addr_fmt(&r->server, s, sizeof(s)),
			  ms_addr_fmt(&r->reflexive, a, sizeof(a)), r->rtt_ms);
	}
}

static void on_done(void *ud)
{
	struct daemon *d = ud;

	struct stun_result r[STUN_MAX_SERVERS];
	size_t n = stun_client_results(d->nat->stun, r, STUN_MAX_SERVERS), ok = 0;
	uint64_t soon = daemon_now_ms(d) + RESOLVE_FAILED_MS;

	d->nat->probing = false;
	d->next_addrs_check_ms = 0; /* a new public address is published now */
	for (size_t i = 0; i < n; i++)
		ok += r[i].status == 0;
	/* Silent named servers may have moved: ask the resolver again soon. */
	if (!ok && d->nat->stun_named && d->nat->next_resolve_ms > soon)
		d->nat->next_resolve_ms = soon;
	answer_waiting(d);
}

/* magicsock's relay sender: TURN to the peer's relayed address. */
static int relay_send(void *ud, const union ms_addr *to, const uint8_t *buf, size_t len)
{
	struct daemon *d = ud;
	struct turn_client *tc = d->nat ? d->nat->turn : NULL;

	if (!tc)
		return -ENOTCONN;
	/* Until the channel is bound, turn_send falls back to Send indications. */
	if (!turn_channel_of(tc, to) && turn_bind_channel(tc, to) < 0)
		log_debug("nat: no free relay channel, sending indications");
	return turn_send(tc, to, buf, len);
}

static void on_turn_state(void *ud, enum turn_state st, const char *reason)
{
	struct daemon *d = ud;
	union ms_addr a;
	char s[MS_ADDR_STRLEN];

	if (st == TURN_ALLOCATED && turn_relayed_addr(d->nat->turn, &a) == 0) {
		log_info("nat: relay %s allocated %s", d->nat->turn_server,
			 ms_addr_fmt(&a, s, sizeof(s)));
		if (turn_permit(d->nat->turn, &a) < 0)
			log_warn("nat: relay %s: cannot permit its own peers", d->nat->turn_server);
		magicsock_set_relay_sender(d->ms, relay_send, d);
		d->nat->turn_backoff_ms = TURN_RETRY_MIN_MS;
		d->next_endpoint_publish_ms = 0; /* publish the relayed address now */
		d->next_addrs_check_ms = 0;
	} else if (st == TURN_FAILED || st == TURN_CLOSED) {
		magicsock_set_relay_sender(d->ms, NULL, NULL);
		if (st == TURN_FAILED)
			log_warn("nat: relay %s: %s; new allocation in %u ms", d->nat->turn_server,
				 reason ? reason : "failed", d->nat->turn_backoff_ms);
		/* Peers must stop using the relayed address we no longer hold;
		 * and a lost allocation may mean our NAT gave us a new public
		 * port: probe for it now, not in up to a minute. */
		d->next_endpoint_publish_ms = 0;
		d->next_addrs_check_ms = 0;
		d->nat->next_probe_ms = 0;
	}
}

static void on_turn_data(void *ud, const union ms_addr *peer, const uint8_t *buf, size_t len)
{
	/* Relayed packets enter like any datagram from that peer's relayed
	 * address, marked as relayed so answers go back through the relay. */
	magicsock_input_relayed(((struct daemon *)ud)->ms, buf, len, peer);
}

static void turn_channel_in(void *ud, const uint8_t *pkt, size_t len, const union ms_addr *from)
{
	stun_demux_input(ud, pkt, len, from);
}

/* turn:USER:PASS@host:port → parts. */
static int parse_relay(const char *spec, char *user, char *pass, char *hostport, size_t cap)
{
	const char *at = strrchr(spec, '@'), *colon;

	if (strncmp(spec, "turn:", 5) != 0 || !at)
		return -EINVAL;
	colon = memchr(spec + 5, ':', (size_t)(at - spec - 5));
	if (!colon || (size_t)(colon - spec - 5) >= cap || (size_t)(at - colon - 1) >= cap ||
	    strlen(at + 1) >= cap)
		return -EINVAL;
	snprintf(user, cap, "%.*s", (int)(colon - spec - 5), spec + 5);
	snprintf(pass, cap, "%.*s", (int)(at - colon - 1), colon + 1);
	snprintf(hostport, cap, "%s", at + 1);
	return 0;
}

/*
 * Entry idx (modulo the count) of the comma list into out; the count, 0
 * for an empty list.
 */
static unsigned relay_entry(const char *list, unsigned idx, char *out, size_t cap)
{
	unsigned count = 0;
	const char *p, *comma;

	for (p = list; *p; p = comma ? comma + 1 : p + strlen(p)) {
		comma = strchr(p, ',');
		count++;
		if (!comma)
			break;
	}
	if (count == 0)
		return 0;
	idx %= count;
	for (p = list; idx > 0; idx--)
		p = strchr(p, ',') + 1;
	comma = strchr(p, ',');
	snprintf(out, cap, "%.*s", comma ? (int)(comma - p) : (int)strlen(p), p);
	return count;
}

static void start_turn(struct daemon *d);

/* "host:port" with a host name, not an address: shown as name (address). */
static bool entry_is_name(const char *entry)
{
	union ms_addr a;

	return ms_addr_parse(&a, entry) < 0;
}

static void on_relay_resolved(void *arg, int status, const union ms_addr *addrs, size_t n)
{
	struct daemon *d = arg;
	struct nat *nat = d->nat;

	(void)n;
	nat->relay_req = NULL;
	if (status < 0) {
		/* The entry holds a password: name its position only. */
		log_warn("nat: relay %u: its server name did not resolve; trying the next",
			 nat->relay_idx + 1);
		nat->relay_idx++;
		nat->next_turn_ms = daemon_now_ms(d) + RESOLVE_RETRY_MS;
		return;
	}
	nat->relay_addr = addrs[0];
	nat->relay_addr_idx = nat->relay_idx;
	nat->relay_addr_ok = true;
	start_turn(d);
}

/*
 * The server of relay entry nat->relay_idx: numeric at once, a name from
 * the last resolution of that entry, or a resolution started (1: wait for
 * on_relay_resolved). 0 with *server filled, 1, or negative errno.
 */
static int relay_server(struct daemon *d, const char *hp, union ms_addr *server)
{
	struct nat *nat = d->nat;
	int rc;

	if (ms_addr_parse(server, hp) == 0)
		return 0;
	if (nat->relay_addr_ok && nat->relay_addr_idx == nat->relay_idx) {
		*server = nat->relay_addr;
		return 0;
	}
	if (nat->relay_req)
		return 1;
	nat->relay_addr_ok = false;
	rc = resolve_start(d->loop, hp, on_relay_resolved, d, &nat->relay_req);
	return rc < 0 ? rc : 1;
}

static void start_turn(struct daemon *d)
{
	struct nat *nat = d->nat;
	const char *relay = settings_get(&d->settings, SET_RELAY);
	struct turn_events ev = { on_turn_state, on_turn_data, d };
	char first[256], user[128], pass[128], hp[128];
	union ms_addr server;
	unsigned count, tries;
	int rc = -EINVAL;

	if (!*relay || nat->turn || nat->relay_req)
		return;
	count = relay_entry(relay, 0, first, sizeof(first));
	for (tries = 0; tries < count; tries++, nat->relay_idx++) {
		nat->relay_idx %= count;
		relay_entry(relay, nat->relay_idx, first, sizeof(first));
		rc = parse_relay(first, user, pass, hp, sizeof(user));
		if (rc == 0)
			rc = relay_server(d, hp, &server);
		if (rc >= 0)
			break;
		/* Not the entry itself: it holds a password. */
		log_warn("nat: relay %u of %u is not turn:USER:PASS@host:port; skipped",
			 nat->relay_idx + 1, count);
	}
	if (tries == count) {
		nat->next_turn_ms = UINT64_MAX;
		return;
	}
	if (rc == 1)
		return; /* on_relay_resolved starts it */
	if (!entry_is_name(hp)) {
		snprintf(nat->turn_server, sizeof(nat->turn_server), "%s", hp);
	} else {
		char a[MS_ADDR_STRLEN];

		snprintf(nat->turn_server, sizeof(nat->turn_server), "%s (%s)", hp,
			 ms_addr_fmt(&server, a, sizeof(a)));
	}
	if (turn_client_new(&nat->turn, d->loop, d->ms, &server, user, pass, &ev, NULL) < 0) {
		nat->turn = NULL;
		return;
	}
	stun_demux_add(&nat->stun_in, turn_client_input, nat->turn);
	stun_demux_add(&nat->turn_in, turn_client_channel_input, nat->turn);
}

static void stop_turn(struct daemon *d)
{
	struct nat *nat = d->nat;

	if (!nat->turn)
		return;
	if (d->ms)
		magicsock_set_relay_sender(d->ms, NULL, NULL);
	stun_demux_remove(&nat->stun_in, nat->turn);
	stun_demux_remove(&nat->turn_in, nat->turn);
	turn_client_free(nat->turn);
	nat->turn = NULL;
}

static void on_mapped(void *ud, const struct portmap_state *st)
{
	struct daemon *d = ud;
	char s[MS_ADDR_STRLEN];

	log_info("nat: %s mapped our port to %s (lease %us)", portmap_method_name(st->method),
		 ms_addr_fmt(&st->external, s, sizeof(s)), st->lease_s);
	d->next_addrs_check_ms = 0; /* publish the mapped address now */
}

static void on_map_failed(void *ud, const struct portmap_state *st)
{
	(void)ud;
	log_info("nat: no port mapping: %s", st->reason);
}

/*
 * A node with a public address of its own needs no mapping (and asking a
 * router that is not there only costs time): map only from behind NAT.
 */
static bool has_public_addr(struct daemon *d)
{
	const char *tun = settings_get(&d->settings, SET_TUN_NAME);
	struct ifaddrs *list, *ifa;
	bool found = false;

	if (getifaddrs(&list) < 0)
		return false;
	for (ifa = list; ifa && !found; ifa = ifa->ifa_next) {
		uint32_t a;

		if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET ||
		    (ifa->ifa_flags & IFF_LOOPBACK) || !strcmp(ifa->ifa_name, tun))
			continue;
		a = ntohl(((struct sockaddr_in *)ifa->ifa_addr)->sin_addr.s_addr);
		found = !((a >> 24) == 10 || (a >> 20) == 0xac1 || (a >> 16) == 0xc0a8 ||
			  (a >> 22) == (0x64400000u >> 22) || (a >> 16) == 0xa9fe);
	}
	freeifaddrs(list);
	return found;
}

/*
 * Port mapping starts PORTMAP_DELAY_MS after the daemon: its library calls
 * block a worker for seconds against a silent gateway, and shutdown waits
 * for them, so a daemon that starts and stops at once never begins one.
 */
static void start_portmap(struct daemon *d)
{
	struct nat *nat = d->nat;

	if (!has_public_addr(d)) {
		struct portmap_events pev = { on_mapped, on_map_failed, d };
		/* Short waits: a router answers on the LAN in milliseconds, and
		 * a daemon stopping must not wait long on a silent gateway. */
		struct portmap_opts po = { .lifetime_s = 7200,
					   .natpmp_timeout_ms = 500,
					   .discover_ms = 500,
					   .retry_s = 300 };

		if (portmap_open(&nat->pm, d->loop, magicsock_port(d->ms), &pev, &po) < 0)
			nat->pm = NULL;
	}
}

/* All STUN entries resolved (or failed): hand the client what resolved. */
static void stun_servers_apply(struct daemon *d)
{
	struct nat *nat = d->nat;
	char list[STUN_MAX_SERVERS * (MS_ADDR_STRLEN + 1)] = "", a[MS_ADDR_STRLEN];
	size_t i, len = 0;

	for (i = 0; i < nat->n_slots; i++) {
		if (!nat->slots[i].ok)
			continue;
		ms_addr_fmt(&nat->slots[i].addr, a, sizeof(a));
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", len ? "," : "", a);
	}
	if (!len) {
		log_warn("nat: no stun server resolved; public address discovery waits");
		nat->next_resolve_ms = daemon_now_ms(d) + RESOLVE_RETRY_MS;
		return;
	}
	if (stun_client_set_servers(nat->stun, list) < 0)
		log_warn("nat: stun servers refused: %s", list);
}

static void on_stun_resolved(void *arg, int status, const union ms_addr *addrs, size_t n)
{
	struct stun_slot *slot = arg;
	struct daemon *d = slot->d;
	struct nat *nat = d->nat;
	char a[MS_ADDR_STRLEN];

	(void)n;
	slot->req = NULL;
	slot->ok = status == 0;
	if (slot->ok) {
		slot->addr = addrs[0];
		if (entry_is_name(slot->entry))
			log_info("nat: stun %s is %s", slot->entry,
				 ms_addr_fmt(&slot->addr, a, sizeof(a)));
	} else {
		log_warn("nat: stun server %s: %s", slot->entry,
			 status == -EINVAL ? "not host:port" : "the name did not resolve");
	}
	if (nat->stun_pending && --nat->stun_pending == 0)
		stun_servers_apply(d);
}

/* Splits the setting into slots and resolves each; names again later. */
static void stun_servers_resolve(struct daemon *d)
{
	struct nat *nat = d->nat;
	const char *p = settings_get(&d->settings, SET_STUN), *end;
	size_t len, i;

	if (!nat->stun || nat->stun_pending)
		return;
	nat->n_slots = 0;
	nat->stun_named = false;
	for (; *p && nat->n_slots < STUN_MAX_SERVERS; p = end ? end + 1 : p + len) {
		struct stun_slot *slot = &nat->slots[nat->n_slots];

		end = strchr(p, ',');
		len = end ? (size_t)(end - p) : strlen(p);
		while (len && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (!len || len >= sizeof(slot->entry)) {
			if (len)
				log_warn("nat: a stun entry is too long; skipped");
			if (!end)
				break;
			continue;
		}
		memset(slot, 0, sizeof(*slot));
		slot->d = d;
		memcpy(slot->entry, p, len);
		nat->n_slots++;
		if (!end)
			break;
	}
	nat->stun_pending = nat->n_slots + 1; /* +1: numeric ones answer inside */
	for (i = 0; i < nat->n_slots; i++) {
		struct stun_slot *slot = &nat->slots[i];

		if (entry_is_name(slot->entry))
			nat->stun_named = true;
		if (resolve_start(d->loop, slot->entry, on_stun_resolved, slot, &slot->req) < 0)
			on_stun_resolved(slot, -EINVAL, NULL, 0);
	}
	nat->next_resolve_ms = nat->stun_named ? daemon_now_ms(d) + RESOLVE_EVERY_MS : UINT64_MAX;
	if (--nat->stun_pending == 0)
		stun_servers_apply(d);
}

int nat_open(struct daemon *d)
{
	struct stun_client_events ev = { on_result, on_done, d };
	struct nat *nat = calloc(1, sizeof(*nat));
	const char *servers = settings_get(&d->settings, SET_STUN);

	if (!nat)
		return -ENOMEM;
	d->nat = nat;
	nat->turn_backoff_ms = TURN_RETRY_MIN_MS;
	stun_demux_init(&nat->stun_in);
	stun_demux_init(&nat->turn_in);
	magicsock_set_handler(d->ms, MS_PKT_STUN, stun_demux_input, &nat->stun_in);
	magicsock_set_handler(d->ms, MS_PKT_TURN, turn_channel_in, &nat->turn_in);
	start_turn(d);
	if (stun_client_new(&nat->stun, d->loop, d->ms, NULL, &ev) < 0) {
		nat->stun = NULL;
		return 0;
	}
	stun_demux_add(&nat->stun_in, stun_client_input, nat->stun);
	if (*servers)
		stun_servers_resolve(d);
	return 0;
}

void nat_close(struct daemon *d)
{
	struct nat *nat = d->nat;

	if (!nat)
		return;
	answer_waiting(d);
	stop_turn(d);
	resolve_cancel(nat->relay_req);
	for (size_t i = 0; i < nat->n_slots; i++)
		resolve_cancel(nat->slots[i].req);
	if (nat->pm)
		portmap_close(nat->pm, NULL, NULL); /* frees itself on a later turn */
	if (nat->stun) {
		stun_demux_remove(&nat->stun_in, nat->stun);
		stun_client_free(nat->stun);
	}
	if (d->ms) {
		magicsock_set_handler(d->ms, MS_PKT_STUN, NULL, NULL);
		magicsock_set_handler(d->ms, MS_PKT_TURN, NULL, NULL);
	}
	free(nat);
	d->nat = NULL;
}

static void probe(struct daemon *d)
{
	struct nat *nat = d->nat;

	if (!nat->stun || nat->probing)
		return;
	if (stun_client_probe(nat->stun) == 0)
		nat->probing = true;
}

void nat_tick(struct daemon *d)
{
	struct nat *nat = d->nat;
	uint64_t now = daemon_now_ms(d);
	enum turn_state st;

	if (!nat)
		return;
	if (!nat->pm_started && now >= d->started_ms + PORTMAP_DELAY_MS) {
		nat->pm_started = true;
		start_portmap(d);
	}
	if (now >= nat->next_probe_ms) {
		nat->next_probe_ms = now + PROBE_EVERY_MS;
		probe(d);
	}
	if (nat->n_waiting && now >= nat->wait_deadline_ms)
		answer_waiting(d);
	if (now >= nat->next_resolve_ms)
		stun_servers_resolve(d);
	if (nat->turn) {
		st = turn_client_state(nat->turn, NULL);
		if (st == TURN_FAILED || st == TURN_CLOSED) {
			if (!nat->next_turn_ms) {
				nat->next_turn_ms = now + nat->turn_backoff_ms;
				nat->turn_backoff_ms = nat->turn_backoff_ms * 2 > TURN_RETRY_MS
							       ? TURN_RETRY_MS
							       : nat->turn_backoff_ms * 2;
			} else if (now >= nat->next_turn_ms) {
				/* The next relay of the list, if there is one. */
				stop_turn(d);
				nat->relay_idx++;
				nat->relay_addr_ok = false; /* names: ask again */
				nat->next_turn_ms = 0;
				start_turn(d);
			}
		}
	}
}

static size_t addr_add_unique(union ms_addr *out, size_t n, size_t max, const union ms_addr *a)
{
	for (size_t k = 0; k < n; k++)
		if (ms_addr_eq(&out[k], a))
			return n;
	if (n < max)
		out[n++] = *a;
	return n;
}

size_t nat_public_addrs(struct daemon *d, union ms_addr *out, size_t max)
{
	union ms_addr seen[MAGICSOCK_OBSERVED_MAX];
	struct stun_result r[STUN_MAX_SERVERS];
	struct portmap_state pst;
	size_t n = 0, got;

	if (!d->nat)
		return 0;
	/* A port mapped on the router is the best public address we have. */
	if (d->nat->pm && max > 0) {
		portmap_get_state(d->nat->pm, &pst);
		if (pst.method != PORTMAP_NONE && !pst.ext_private &&
		    pst.external.sa.sa_family != AF_UNSPEC)
			out[n++] = pst.external;
	}
	got = d->nat->stun ? stun_client_results(d->nat->stun, r, STUN_MAX_SERVERS) : 0;
	for (size_t i = 0; i < got; i++)
		if (r[i].status == 0)
			n = addr_add_unique(out, n, max, &r[i].reflexive);
	/* What peers saw in their pongs: public even when STUN is silent. */
	got = d->ms ? magicsock_observed_addrs(d->ms, seen, MAGICSOCK_OBSERVED_MAX) : 0;
	for (size_t i = 0; i < got; i++)
		n = addr_add_unique(out, n, max, &seen[i]);
	return n;
}

void nat_settings_changed(struct daemon *d, bool stun, bool relay)
{
	struct nat *nat = d->nat;

	if (!nat)
		return;
	if (stun) {
		/* Resolved on the next tick (once no resolution is under way),
		 * probed soon after with the new list. */
		nat->next_resolve_ms = 0;
		nat->next_probe_ms = daemon_now_ms(d) + 2000;
	}
	if (!relay)
		return;
	if (nat->relay_req) {
		resolve_cancel(nat->relay_req);
		nat->relay_req = NULL;
	}
	stop_turn(d);
	nat->turn_server[0] = '\0';
	nat->relay_idx = 0;
	nat->relay_addr_ok = false;
	nat->next_turn_ms = 0;
	nat->turn_backoff_ms = TURN_RETRY_MIN_MS;
	start_turn(d);
	d->next_addrs_check_ms = 0; /* the record loses or gains a relay */
}

bool nat_directly_reachable(struct daemon *d)
{
	struct portmap_state pst;

	if (!d->nat)
		return false;
	if (d->nat->pm) {
		portmap_get_state(d->nat->pm, &pst);
		if (pst.method != PORTMAP_NONE && !pst.ext_private &&
		    pst.external.sa.sa_family != AF_UNSPEC)
			return true;
	}
	return has_public_addr(d);
}

void nat_relay_name(struct daemon *d, char *out, size_t cap)
{
	const char *s = d->nat && d->nat->turn ? d->nat->turn_server : "";
	const char *paren = strstr(s, " (");
	size_t n = paren ? (size_t)(paren - s) : strlen(s);

	snprintf(out, cap, "%.*s", (int)n, s);
}

int nat_relayed_addr(struct daemon *d, union ms_addr *out)
{
	if (!d->nat || !d->nat->turn)
		return -ENOTCONN;
	return turn_relayed_addr(d->nat->turn, out);
}

/* The name the user wrote for a STUN server's address; NULL if numeric. */
static const char *stun_server_name(const struct nat *nat, const union ms_addr *a)
{
	for (size_t i = 0; i < nat->n_slots; i++)
		if (nat->slots[i].ok && ms_addr_eq(&nat->slots[i].addr, a) &&
		    entry_is_name(nat->slots[i].entry))
			return nat->slots[i].entry;
	return NULL;
}

static void reply_netcheck(struct daemon *d, struct ipc_request *req)
{
	struct nat *nat = d->nat;
	struct stun_result r[STUN_MAX_SERVERS];
	union ms_addr pub[8], a;
	json_t *servers = json_array(), *pubs = json_array(), *relay, *portmap;
	char s[MS_ADDR_STRLEN], t[MS_ADDR_STRLEN];
	struct turn_stats ts;
	size_t n = 0;

	if (nat && nat->stun)
		n = stun_client_results(nat->stun, r, STUN_MAX_SERVERS);
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s, s:s}", "server",
				      ms_addr_fmt(&r[i].server, s, sizeof(s)), "status",
				      r[i].status == 0              ? "ok"
				      : r[i].status == -ETIMEDOUT   ? "timeout"
				      : r[i].status == -EINPROGRESS ? "probing"
								    : "error");

		const char *name = stun_server_name(nat, &r[i].server);

		if (name)
			json_object_set_new(o, "name", json_string(name));
		if (r[i].status == 0) {
			json_object_set_new(o, "public_addr",
					    json_string(
						    ms_addr_fmt(&r[i].reflexive, t, sizeof(t))));
			json_object_set_new(o, "rtt_ms", json_integer(r[i].rtt_ms));
		}
		json_array_append_new(servers, o);
	}
	n = nat_public_addrs(d, pub, 8);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(pubs, json_string(ms_addr_fmt(&pub[i], s, sizeof(s))));
	if (nat && nat->turn) {
		const char *reason = NULL;
		enum turn_state st = turn_client_state(nat->turn, &reason);

		relay = json_pack("{s:s, s:s}", "server", nat->turn_server, "state",
				  turn_state_name(st));
		if (reason && st == TURN_FAILED)
			json_object_set_new(relay, "error", json_string(reason));
		if (turn_relayed_addr(nat->turn, &a) == 0)
			json_object_set_new(relay, "relayed_addr",
					    json_string(ms_addr_fmt(&a, s, sizeof(s))));
		turn_client_get_stats(nat->turn, &ts);
		if (ts.has_rtt)
			json_object_set_new(relay, "rtt_ms", json_integer(ts.rtt_ms));
	} else {
		relay = json_null();
	}
	if (nat && nat->pm) {
		struct portmap_state pst;

		portmap_get_state(nat->pm, &pst);
		portmap = json_pack("{s:s, s:s, s:I}", "method", portmap_method_name(pst.method),
				    "external",
				    pst.method == PORTMAP_NONE
					    ? ""
					    : ms_addr_fmt(&pst.external, s, sizeof(s)),
				    "lease_s", (json_int_t)pst.lease_s);
		if (pst.reason[0])
			json_object_set_new(portmap, "reason", json_string(pst.reason));
	} else {
		portmap = json_null();
	}
	ipc_reply(req,
		  json_pack("{s:i, s:b, s:o, s:o, s:b, s:o, s:o, s:o}", "port",
			    magicsock_port(d->ms), "fixed_port", magicsock_fixed_port(d->ms),
			    "public_addrs", pubs, "relay", relay, "udp", nat && nat->udp_ok, "stun",
			    servers, "portmap", portmap, "member_relay", member_relay_json(d)));
}

void nat_cmd_netcheck(struct daemon *d, struct ipc_request *req)
{
	struct nat *nat = d->nat;

	if (!nat || !nat->stun || nat->n_waiting == NETCHECK_MAX) {
		reply_netcheck(d, req);
		return;
	}
	probe(d);
	if (!nat->probing) {
		reply_netcheck(d, req);
		return;
	}
	nat->waiting[nat->n_waiting++] = req;
	nat->wait_deadline_ms = daemon_now_ms(d) + NETCHECK_WAIT_MS;
}
