/* lan_discovery: see lan_discovery.h. */
#include "daemon/lan_discovery.h"
#include "util/limits.h"
#include "daemon/daemon.h"
#include "daemon/peers.h"
#include "discovery/mdns.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>

/* Only peers we already care about: a hostile LAN host announcing many
 * identities creates nothing here. */
static void on_peer(void *ud, const uint8_t id[LIMIT_KEY_LEN], const struct sockaddr_storage *addrs,
		    size_t n)
{
	struct daemon *d = ud;
	union ms_addr a[4];
	struct peer *p = peers_find(d, id);
	size_t count = 0;

	if (!p || !p->wants)
		return;
	for (size_t i = 0; i < n && count < 4; i++) {
		memset(&a[count], 0, sizeof(a[count]));
		if (addrs[i].ss_family == AF_INET)
			a[count++].in = *(const struct sockaddr_in *)&addrs[i];
		else if (addrs[i].ss_family == AF_INET6)
			a[count++].in6 = *(const struct sockaddr_in6 *)&addrs[i];
	}
	if (count)
		peer_set_addrs(d, p, true, a, count);
}

void lan_start(struct daemon *d)
{
	struct mdns_config cfg = { 0 };

	if (d->mdns || strcmp(settings_get(&d->settings, SET_MDNS), "on") != 0 || !d->ms)
		return;
	cfg.id_hex = d->id.id;
	cfg.port = magicsock_port(d->ms);
	cfg.tun_name = settings_get(&d->settings, SET_TUN_NAME);
	if (mdns_open(&d->mdns, d->loop, &cfg, on_peer, d) < 0) {
		d->mdns = NULL;
		log_warn("mdns: LAN discovery is off (port 5353 unavailable)");
		return;
	}
	log_info("mdns: announcing on the LAN");
}

void lan_stop(struct daemon *d)
{
	if (!d->mdns)
		return;
	mdns_close(d->mdns);
	d->mdns = NULL;
}

void lan_cmd_mdns(struct daemon *d, struct ipc_request *req)
{
	const char *v = json_string_value(json_object_get(req->args, "value"));
	char err[512];

	if (v && settings_validate(SET_MDNS, v, err, sizeof(err)) < 0) {
		ipc_reply_error(req, "%s", err);
		return;
	}
	if (v && settings_persist(d->home, SET_MDNS, v, err, sizeof(err)) < 0) {
		ipc_reply_error(req, "%s", err);
		return;
	}
	/* Only mdns: the other settings still apply when the daemon starts. */
	if (v)
		settings_set(&d->settings, SET_MDNS, v, err, sizeof(err));
	if (strcmp(settings_get(&d->settings, SET_MDNS), "on") == 0)
		lan_start(d);
	else
		lan_stop(d);
	ipc_reply(req, json_pack("{s:s, s:b}", "mdns", settings_get(&d->settings, SET_MDNS),
				 "running", d->mdns != NULL));
}
