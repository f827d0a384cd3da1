/*
 * magicdns: see magicdns.h. The server's handles free themselves once
 * closed, so its struct goes as soon as dns_server_close (or a failed
 * dns_server_init) returns.
 */
#include "daemon/magicdns.h"
#include "util/limits.h"
#include "daemon/daemon.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "dns/resolv.h"
#include "dns/server.h"
#include "mesh/address.h"
#include "util/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void magicdns_recover(struct daemon *d)
{
	dns_table_init(&d->dns_table);
	dns_resolv_init(&d->resolv, NULL);
	if (dns_resolv_recover(d->home) > 0)
		log_warn("dns: restored the system resolver left changed by an earlier run");
}

/*
 * A member's IPv4 as Magic DNS answers it: not at all when the peer table
 * gave that address to another identity (a clash between two rosters), or
 * the name would lead to whoever holds it. Its AAAA, bound to the identity,
 * is still answered.
 */
static uint32_t answered_ipv4(struct daemon *d, const struct gb_member *m)
{
	struct peer_entry *e = peer_table_lookup4(&d->table, m->ipv4);
	uint8_t pk[LIMIT_KEY_LEN];

	if (!e || identity_id_parse(m->id, pk) < 0)
		return m->ipv4;
	return e->peer == (void *)peers_find(d, pk) ? m->ipv4 : 0;
}

/* Says once per change which flat names stopped answering. */
static void warn_flat_clashes(struct daemon *d)
{
	const char *names[8];
	size_t n = dns_table_flat_clashes(&d->dns_table, names, 8);

	if (n == d->dns_flat_clashes)
		return;
	d->dns_flat_clashes = n;
	for (size_t i = 0; i < n; i++)
		log_warn("dns: %s.ray names different machines in two networks; it answers "
			 "nothing, %s.NETWORK.ray still does",
			 names[i], names[i]);
}

void magicdns_sync(struct daemon *d)
{
	char names[DNS_TABLE_MAX_NETWORKS][HOSTNAME_BUF];
	size_t n_names = 0;

	/* Drop networks we left. */
	for (size_t i = 0; i < d->dns_table.n && n_names < DNS_TABLE_MAX_NETWORKS; i++)
		if (!network_find(d, d->dns_table.nets[i].name))
			snprintf(names[n_names++], HOSTNAME_BUF, "%s", d->dns_table.nets[i].name);
	for (size_t i = 0; i < n_names; i++)
		dns_table_remove_network(&d->dns_table, names[i]);
	for (struct network *n = d->nets; n; n = n->next) {
		struct dns_entry *e = calloc(n->blob.n_members + 1, sizeof(*e));

		if (!e)
			continue;
		for (size_t i = 0; i < n->blob.n_members; i++) {
			const struct gb_member *m = &n->blob.members[i];

			snprintf(e[i].hostname, sizeof(e[i].hostname), "%s", m->hostname);
			e[i].ipv4 = answered_ipv4(d, m);
			address_ipv6(m->id, e[i].ipv6);
		}
		if (dns_table_set_network(&d->dns_table, n->saved.name, e, n->blob.n_members) < 0)
			log_warn("dns: cannot publish the names of %s", n->saved.name);
		free(e);
	}
	warn_flat_clashes(d);
}

/* "127.0.0.1:53" → "127.0.0.1"; "[::1]:53" → "::1". */
static void listen_ip(const char *listen, char *out, size_t cap)
{
	const char *start = listen, *end;

	if (*start == '[') {
		start++;
		end = strchr(start, ']');
	} else {
		end = strrchr(start, ':');
	}
	if (!end || (size_t)(end - start) >= cap)
		end = start + strlen(start);
	snprintf(out, cap, "%.*s", (int)(end - start), start);
}

static size_t split_list(char *s, const char **out, size_t max)
{
	size_t n = 0;

	for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ","))
		out[n++] = tok;
	return n;
}

int magicdns_up(struct daemon *d)
{
	const char *listen = settings_get(&d->settings, SET_DNS_LISTEN);
	char ups[512], ip[64];
	const char *list[DNS_MAX_UPSTREAMS];
	struct dns_server_config cfg = { .listen = listen };
	size_t n;
	int ret;

	if (d->dns)
		return 0;
	d->dns = calloc(1, sizeof(*d->dns));
	if (!d->dns)
		return -ENOMEM;
	magicdns_sync(d);
	ret = dns_server_init(d->dns, d->loop, &d->dns_table, &cfg);
	if (ret < 0) {
		log_error("dns: cannot serve on %s: %s; running without Magic DNS", listen,
			  strerror(-ret));
		free(d->dns);
		d->dns = NULL;
		return ret;
	}
	listen_ip(listen, ip, sizeof(ip));
	ret = dns_resolv_apply(d->home, ip, settings_get(&d->settings, SET_TUN_NAME), &d->resolv);
	if (ret < 0)
		log_warn("dns: cannot point the system resolver at %s: %s (names still resolve with 'dig @%s')",
			 ip, strerror(-ret), ip);
	snprintf(ups, sizeof(ups), "%s", settings_get(&d->settings, SET_DNS_UPSTREAMS));
	n = split_list(ups, list, DNS_MAX_UPSTREAMS);
	if (n == 0) {
		for (size_t i = 0; i < d->resolv.n_prev && n < DNS_MAX_UPSTREAMS; i++)
			list[n++] = d->resolv.prev[i];
	}
	dns_server_set_upstreams(d->dns, list, n);
	log_info("dns: Magic DNS on %s, %zu upstream resolver%s", listen, n, n == 1 ? "" : "s");
	return 0;
}

void magicdns_down(struct daemon *d)
{
	if (!d->dns)
		return;
	if (dns_resolv_restore(d->home, &d->resolv) < 0)
		log_warn("dns: the system resolver could not be restored");
	dns_server_close(d->dns);
	free(d->dns);
	d->dns = NULL;
	log_info("dns: Magic DNS off, resolver restored");
}

void magicdns_close(struct daemon *d)
{
	magicdns_down(d);
	dns_table_close(&d->dns_table);
}
