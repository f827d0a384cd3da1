/*
 * gate: see gate.h.
 */
#include "daemon/gate.h"
#include "util/limits.h"
#include "daemon/connect.h"
#include "daemon/daemon.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "mesh/group_blob.h"
#include "transport/quic.h"
#include "util/log.h"

#include <string.h>

#define DROP_LOG_MS 60000
#define HELD_LOG_MS 60000

static bool is_queued(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN])
{
	for (struct network *n = d->nets; n; n = n->next)
		for (size_t i = 0; i < n->admission.n_req; i++)
			if (memcmp(n->admission.req[i].pk, pk, LIMIT_KEY_LEN) == 0)
				return true;
	return false;
}

static bool is_known(struct daemon *d, const struct peer *p, const uint8_t pk[LIMIT_KEY_LEN])
{
	char id[IDENTITY_ID_LEN + 1];

	if (p && p->wants)
		return true;
	identity_id_format(pk, id);
	return network_find_member(d, id) || is_queued(d, pk) || connect_is_queued(d, pk);
}

static size_t strangers(struct daemon *d, const struct quic_conn *same_source_as)
{
	size_t n = 0;

	for (struct peer *p = d->peers; p; p = p->next)
		if (p->stranger && p->conn && !is_known(d, p, p->pk) &&
		    (!same_source_as || quic_conn_same_source(p->conn, same_source_as)))
			n++;
	return n;
}

int gate_accept(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN])
{
	if (is_known(d, peers_find(d, pk), pk) || strangers(d, NULL) < GATE_STRANGERS)
		return 0;
	d->gate_refused++;
	return -1;
}

bool gate_on_confirmed(struct daemon *d, struct quic_conn *c, const uint8_t pk[LIMIT_KEY_LEN])
{
	struct peer *p = peers_find(d, pk);

	if (quic_conn_is_client(c))
		return true;
	if (is_known(d, p, pk)) {
		quic_conn_set_trusted(c, 1);
		return true;
	}
	if (strangers(d, NULL) >= GATE_STRANGERS || strangers(d, c) >= GATE_PER_SOURCE) {
		d->gate_refused++;
		log_debug("gate: stranger %02x%02x%02x%02x.. over the budget, closing", pk[0],
			  pk[1], pk[2], pk[3]);
		quic_conn_close(c, QUIC_CODE_OVERLOAD);
		return false;
	}
	quic_conn_set_txq_cap(c, GATE_STRANGER_TXQ);
	return true;
}

void gate_on_peer_up(struct daemon *d, struct peer *p)
{
	if (p->stranger || quic_conn_is_client(p->conn) || is_known(d, p, p->pk))
		return;
	p->stranger = true;
	p->stranger_until_ms = daemon_now_ms(d) + GATE_STRANGER_MS;
}

/* Once a minute at most: how many lines were held back since last said. */
static void tell_held(struct daemon *d, uint64_t now)
{
	if (d->gate_logs_held == d->gate_logs_told || now - d->gate_logs_told_ms < HELD_LOG_MS)
		return;
	log_info("gate: held back %llu log lines caused by peers' input since the last count",
		 (unsigned long long)(d->gate_logs_held - d->gate_logs_told));
	d->gate_logs_told = d->gate_logs_held;
	d->gate_logs_told_ms = now;
}

void gate_tick(struct daemon *d)
{
	uint64_t now = daemon_now_ms(d);
	struct peer *p, *next;

	tell_held(d, now);
	for (p = d->peers; p; p = next) {
		next = p->next;
		if (!p->stranger || !p->conn)
			continue;
		if (is_known(d, p, p->pk)) {
			p->stranger = false;
			quic_conn_set_txq_cap(p->conn, QUIC_TXQ_CAP);
			quic_conn_set_trusted(p->conn, 1);
			continue;
		}
		if (now < p->stranger_until_ms)
			continue;
		d->gate_expired++;
		if (gate_log_ok(d, p))
			log_info("gate: %.8s neither joined nor was queued in %d s, closing", p->id,
				 GATE_STRANGER_MS / 1000);
		/* Closing reports synchronously and may free p: next is saved. */
		quic_conn_close(p->conn, QUIC_CODE_NONE);
	}
}

void gate_on_roster(struct daemon *d)
{
	size_t members = 0;
	uint32_t want;

	for (struct network *n = d->nets; n; n = n->next)
		members += n->blob.n_members;
	want = members * 2 + 256 > GATE_POOL_MAX ? GATE_POOL_MAX : (uint32_t)(members * 2 + 256);
	if (want < GATE_POOL_MIN)
		want = GATE_POOL_MIN;
	if (d->quic)
		quic_endpoint_set_max_conns(d->quic, want);
}

/* Buckets start full the first time they are asked (peers and the daemon
 * are zeroed when made). */
static bool bucket_take(struct ratelimit *rl, uint32_t burst, uint32_t every_ms, uint64_t now)
{
	if (!rl->burst)
		ratelimit_init(rl, burst, every_ms);
	return ratelimit_take(rl, now);
}

bool gate_message_ok(struct daemon *d, struct peer *p)
{
	uint64_t now = daemon_now_ms(d);

	if (bucket_take(&p->msg_rl, GATE_MSG_BURST, 1000 / GATE_MSG_RATE, now))
		return true;
	d->gate_msgs_dropped++;
	if (p->drop_logged_ms && now - p->drop_logged_ms <= DROP_LOG_MS)
		return false;
	p->drop_logged_ms = now;
	if (gate_log_ok(d, p))
		log_warn("gate: peer %.8s sends over %d control messages a second; dropping", p->id,
			 GATE_MSG_RATE);
	return false;
}

bool gate_log_ok(struct daemon *d, struct peer *p)
{
	struct ratelimit *rl = &d->gate_log;
	uint64_t now = daemon_now_ms(d);

	if (p && is_known(d, p, p->pk))
		rl = &p->log_rl;
	if (bucket_take(rl, GATE_LOG_BURST, GATE_LOG_EVERY_MS, now))
		return true;
	d->gate_logs_held++;
	return false;
}

void gate_counts(struct daemon *d, uint64_t out[5])
{
	out[0] = strangers(d, NULL);
	out[1] = d->gate_refused;
	out[2] = d->gate_expired;
	out[3] = d->gate_msgs_dropped;
	out[4] = d->gate_logs_held;
}
