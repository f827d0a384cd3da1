/*
 * member_relay: see member_relay.h.
 */
#include "daemon/member_relay.h"
#include "util/limits.h"
#include "daemon/daemon.h"
#include "daemon/nat.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "home/settings.h"
#include "mesh/group_blob.h"
#include "transport/magicsock.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>

#define VIAS_EVERY_MS 2000

static bool relaying_on(struct daemon *d)
{
	return strcmp(settings_get(&d->settings, SET_RELAY_MEMBERS), "on") == 0;
}

static bool in_network(const struct network *n, const uint8_t pk[LIMIT_KEY_LEN])
{
	char id[IDENTITY_ID_LEN + 1];

	identity_id_format(pk, id);
	return group_blob_find_member(&n->blob, id) != NULL;
}

/* magicsock's policy: both ends are members of one network of ours. */
static int allow_pair(void *ud, const uint8_t from[LIMIT_KEY_LEN], const uint8_t to[LIMIT_KEY_LEN])
{
	struct daemon *d = ud;

	for (struct network *n = d->nets; n; n = n->next)
		if (in_network(n, from) && in_network(n, to))
			return 1;
	return 0;
}

void member_relay_open(struct daemon *d)
{
	if (!d->ms)
		return;
	if (!relaying_on(d)) {
		log_info("relay: relaying for members is off (relay-members)");
		magicsock_set_fwd_policy(d->ms, NULL, NULL);
		return;
	}
	magicsock_set_fwd_policy(d->ms, allow_pair, d);
}

json_t *member_relay_json(struct daemon *d)
{
	struct magicsock_stats st;

	magicsock_get_stats(d->ms, &st);
	return json_pack("{s:b, s:b, s:I, s:I, s:I, s:I, s:I}", "enabled", relaying_on(d),
			 "offered", member_relay_offered(d), "forwarded", (json_int_t)st.fwd_tx,
			 "denied", (json_int_t)st.fwd_denied, "over_rate",
			 (json_int_t)st.fwd_over_rate, "sent", (json_int_t)st.fwd_sent, "received",
			 (json_int_t)st.fwd_rx);
}

bool member_relay_offered(struct daemon *d)
{
	return d->ms && relaying_on(d) && nat_directly_reachable(d);
}

static bool via_usable(struct daemon *d, const struct peer *target, const uint8_t pk[LIMIT_KEY_LEN])
{
	struct peer *q;

	if (memcmp(pk, target->pk, LIMIT_KEY_LEN) == 0 || memcmp(pk, d->id.pk, LIMIT_KEY_LEN) == 0)
		return false;
	q = peers_find(d, pk);
	return q && q->relay_offer && q->conn;
}

static size_t vias_of(struct daemon *d, const struct peer *p,
		      uint8_t out[MAGICSOCK_MAX_VIAS][LIMIT_KEY_LEN])
{
	size_t n = 0;

	for (struct network *net = d->nets; net; net = net->next) {
		if (group_blob_find_member(&net->blob, p->id) == NULL)
			continue;
		for (size_t i = 0; i < net->blob.n_members && n < MAGICSOCK_MAX_VIAS; i++) {
			uint8_t pk[LIMIT_KEY_LEN];
			bool dup = false;

			if (identity_id_parse(net->blob.members[i].id, pk) < 0 ||
			    !via_usable(d, p, pk))
				continue;
			for (size_t k = 0; k < n; k++)
				dup |= memcmp(out[k], pk, LIMIT_KEY_LEN) == 0;
			if (!dup)
				memcpy(out[n++], pk, LIMIT_KEY_LEN);
		}
	}
	return n;
}

void member_relay_tick(struct daemon *d)
{
	uint8_t vias[MAGICSOCK_MAX_VIAS][LIMIT_KEY_LEN];

	if (!d->ms || daemon_now_ms(d) < d->next_vias_ms)
		return;
	d->next_vias_ms = daemon_now_ms(d) + VIAS_EVERY_MS;
	for (struct peer *p = d->peers; p; p = p->next) {
		size_t n = vias_of(d, p, vias);

		if (n || p->n_vias)
			magicsock_set_peer_vias(d->ms, p->pk, (const uint8_t(*)[LIMIT_KEY_LEN])vias,
						n);
		p->n_vias = n;
	}
}

/* The hostname a member has in the first network that lists it. */
static void member_hostname(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN], char *out,
			    size_t cap)
{
	char id[IDENTITY_ID_LEN + 1];

	const struct gb_member *m;

	identity_id_format(pk, id);
	m = network_find_member(d, id);
	if (m)
		snprintf(out, cap, "%s", m->hostname);
	else
		snprintf(out, cap, "%.8s", id);
}

const char *member_relay_path(struct daemon *d, const struct peer *p, char *relay, size_t cap)
{
	uint8_t via[LIMIT_KEY_LEN];

	relay[0] = '\0';
	if (!p || !p->conn)
		return "none";
	switch (magicsock_peer_path(d->ms, p->pk, NULL)) {
	case MS_PATH_RELAY:
		nat_relay_name(d, relay, cap);
		return "relay";
	case MS_PATH_MEMBER:
		if (magicsock_peer_via(d->ms, p->pk, via) == 0)
			member_hostname(d, via, relay, cap);
		return "relay";
	default:
		return "direct";
	}
}
