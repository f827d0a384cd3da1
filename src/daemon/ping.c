/*
 * ping: see ping.h. Each `ray ping` is an op with a timer that sends one
 * probe per interval; a probe unanswered within PING_TIMEOUT_MS is lost.
 */
#include "daemon/ping.h"
#include "util/limits.h"
#include "daemon/daemon.h"
#include "daemon/member_relay.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "proto/control.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define PING_MAX_COUNT LIMIT_PING_COUNT
#define PING_TIMEOUT_MS 2000
#define PING_INTERVAL_MS 500

struct ping_op {
	struct ping_op *next;
	struct daemon *d;
	struct ipc_request *req;
	uint8_t pk[LIMIT_KEY_LEN];
	char name[IDENTITY_ID_LEN + 1];
	int count, sent, received;
	uint64_t nonce_base;
	uint64_t sent_ns[PING_MAX_COUNT]; /* uv_hrtime: sub-millisecond RTTs */
	double rtt[PING_MAX_COUNT];       /* < 0: no answer yet */
	uv_timer_t timer;
};

static void on_closed(uv_handle_t *h)
{
	free(h->data);
}

static void finish(struct ping_op *op)
{
	struct daemon *d = op->d;
	struct ping_op **pp;
	struct peer *p = peers_find(d, op->pk);
	json_t *rtts = json_array();
	const char *path;
	char relay[200];

	for (pp = &d->pings; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	}
	for (int i = 0; i < op->sent; i++)
		if (op->rtt[i] >= 0)
			json_array_append_new(rtts, json_real(round(op->rtt[i] * 1000) / 1000));
	path = member_relay_path(d, p, relay, sizeof(relay));
	if (op->req)
		ipc_reply(op->req, json_pack("{s:s, s:s, s:i, s:i, s:o, s:s, s:s*}", "peer",
					     op->name, "endpoint_id", op->name, "sent", op->sent,
					     "received", op->received, "rtt_ms", rtts, "path", path,
					     "relay", relay[0] ? relay : NULL));
	uv_timer_stop(&op->timer);
	uv_close((uv_handle_t *)&op->timer, on_closed);
}

static void tick(uv_timer_t *t)
{
	struct ping_op *op = t->data;
	struct daemon *d = op->d;
	uint64_t now = uv_hrtime();
	struct ctl_msg m = { .type = CTL_PING };
	struct peer *p = peers_find(d, op->pk);
	bool waiting = false;

	for (int i = 0; i < op->sent; i++)
		waiting |= op->rtt[i] < 0 && now - op->sent_ns[i] < PING_TIMEOUT_MS * 1000000ull;
	if (op->sent == op->count && !waiting) {
		finish(op);
		return;
	}
	if (op->sent < op->count) {
		op->rtt[op->sent] = -1;
		op->sent_ns[op->sent] = now;
		m.exp = op->nonce_base + (uint64_t)op->sent;
		if (p && p->conn)
			peer_send_ctl(d, p, &m);
		op->sent++;
	}
	uv_timer_start(&op->timer, tick, op->sent < op->count ? PING_INTERVAL_MS : 100, 0);
}

void ping_cmd(struct daemon *d, struct ipc_request *req)
{
	const char *peer = json_string_value(json_object_get(req->args, "peer"));
	json_t *count = json_object_get(req->args, "count");
	char id[IDENTITY_ID_LEN + 1], err[200];
	struct ping_op *op;
	struct peer *p;

	if (!peer || network_resolve_peer(d, peer, NULL, id, err, sizeof(err)) < 0) {
		ipc_reply_error(req, "%s", peer ? err : "which peer?");
		return;
	}
	op = calloc(1, sizeof(*op));
	if (!op) {
		ipc_reply_error(req, "out of memory");
		return;
	}
	identity_id_parse(id, op->pk);
	p = peers_find(d, op->pk);
	if (!p || !p->conn) {
		free(op);
		ipc_reply_error(req, "%s is not connected (offline, or not reachable yet)", peer);
		return;
	}
	op->d = d;
	op->req = req;
	snprintf(op->name, sizeof(op->name), "%s", id);
	op->count = json_is_integer(count) ? (int)json_integer_value(count) : 4;
	if (op->count < 1 || op->count > PING_MAX_COUNT)
		op->count = 4;
	randombytes_buf(&op->nonce_base, sizeof(op->nonce_base));
	op->nonce_base = (op->nonce_base >> 8) | 1; /* never 0, room to count */
	uv_timer_init(d->loop, &op->timer);
	op->timer.data = op;
	op->next = d->pings;
	d->pings = op;
	tick(&op->timer);
}

bool ping_on_message(struct daemon *d, struct peer *p, const struct ctl_msg *m)
{
	struct ctl_msg pong = { .type = CTL_PONG };

	if (m->type == CTL_PING) {
		pong.exp = m->exp;
		peer_send_ctl(d, p, &pong);
		return true;
	}
	if (m->type != CTL_PONG)
		return false;
	for (struct ping_op *op = d->pings; op; op = op->next) {
		uint64_t i = m->exp - op->nonce_base;

		if (memcmp(op->pk, p->pk, LIMIT_KEY_LEN) != 0 || i >= (uint64_t)op->sent ||
		    op->rtt[i] >= 0)
			continue;
		op->rtt[i] = (double)(uv_hrtime() - op->sent_ns[i]) / 1e6;
		op->received++;
	}
	return true;
}

void ping_cancel_all(struct daemon *d)
{
	while (d->pings)
		finish(d->pings);
}
