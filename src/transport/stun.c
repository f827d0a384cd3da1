/*
 * stun: the STUN retransmission schedule, the Binding client and the
 * demultiplexer of stun.h (the message codec is stun_codec.c).
 */
#include "transport/stun.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define STUN_RTO_MS 500
#define STUN_TRIES 7
#define STUN_MAX_TRIES 12 /* keeps rto << (tries - 1) far from overflow */
#define STUN_RM 16        /* final wait, in initial RTOs */

/* ---- retransmission ---- */

void stun_txn_start(struct stun_txn *t, const struct stun_timing *tm,
		    const uint8_t tid[STUN_TID_LEN], uint64_t now)
{
	t->active = 1;
	memcpy(t->tid, tid, STUN_TID_LEN);
	t->rto_ms = tm && tm->rto_ms ? tm->rto_ms : STUN_RTO_MS;
	t->tries = tm && tm->tries ? tm->tries : STUN_TRIES;
	if (t->tries > STUN_MAX_TRIES)
		t->tries = STUN_MAX_TRIES;
	t->sent = 1;
	t->start_ms = now;
	t->next_ms = now + (t->tries == 1 ? (uint64_t)STUN_RM * t->rto_ms : t->rto_ms);
}

int stun_txn_due(struct stun_txn *t, uint64_t now)
{
	if (!t->active || now < t->next_ms)
		return 0;
	if (t->sent >= t->tries) {
		t->active = 0;
		return -ETIMEDOUT;
	}
	t->sent++;
	if (t->sent == t->tries)
		t->next_ms = now + (uint64_t)STUN_RM * t->rto_ms;
	else
		t->next_ms = now + ((uint64_t)t->rto_ms << (t->sent - 1));
	return 1;
}

/* ---- demultiplexer ---- */

void stun_demux_init(struct stun_demux *d)
{
	memset(d, 0, sizeof(*d));
}

int stun_demux_add(struct stun_demux *d, stun_sink_fn fn, void *client)
{
	if (d->n == STUN_DEMUX_MAX)
		return -ENOSPC;
	d->sinks[d->n].fn = fn;
	d->sinks[d->n].client = client;
	d->n++;
	return 0;
}

void stun_demux_remove(struct stun_demux *d, void *client)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		if (d->sinks[i].client != client)
			continue;
		memmove(&d->sinks[i], &d->sinks[i + 1], (d->n - i - 1) * sizeof(d->sinks[0]));
		d->n--;
		i--;
	}
}

void stun_demux_input(void *ud, const uint8_t *pkt, size_t len, const union ms_addr *from)
{
	struct stun_demux *d = ud;
	size_t i;

	for (i = 0; i < d->n; i++)
		if (d->sinks[i].fn(d->sinks[i].client, pkt, len, from))
			return;
	d->unmatched++;
	log_debug("stun: dropped an unmatched packet (%zu bytes)", len);
}

/* ---- Binding client ---- */

struct stun_server {
	union ms_addr addr;
	struct stun_txn txn;
	struct stun_result res;
	uint8_t req[STUN_HDR_LEN + 8];
	size_t req_len;
};

struct stun_client {
	uv_loop_t *loop;
	struct magicsock *ms;
	uv_timer_t timer;
	struct stun_timing tm;
	struct stun_client_events ev;
	struct stun_server srv[STUN_MAX_SERVERS];
	size_t nsrv;
	int round; /* a round is running */
	struct stun_client_stats st;
};

static void client_on_timer(uv_timer_t *t);

static void client_schedule(struct stun_client *sc)
{
	uint64_t next = UINT64_MAX, now = uv_now(sc->loop);
	size_t i;

	for (i = 0; i < sc->nsrv; i++)
		if (sc->srv[i].txn.active && sc->srv[i].txn.next_ms < next)
			next = sc->srv[i].txn.next_ms;
	if (next == UINT64_MAX) {
		uv_timer_stop(&sc->timer);
		return;
	}
	uv_timer_start(&sc->timer, client_on_timer, next > now ? next - now : 0, 0);
}

static void client_send(struct stun_client *sc, struct stun_server *s)
{
	sc->st.tx_requests++;
	if (magicsock_send_to(sc->ms, &s->addr, s->req, s->req_len) < 0)
		log_debug("stun: send to server failed");
}

static void client_finish(struct stun_client *sc, struct stun_server *s)
{
	size_t i;

	s->txn.active = 0;
	if (sc->ev.on_result)
		sc->ev.on_result(sc->ev.ud, &s->res);
	for (i = 0; i < sc->nsrv; i++)
		if (sc->srv[i].txn.active)
			return;
	if (!sc->round)
		return;
	sc->round = 0;
	if (sc->ev.on_done)
		sc->ev.on_done(sc->ev.ud);
}

static void client_on_timer(uv_timer_t *t)
{
	struct stun_client *sc = t->data;
	uint64_t now = uv_now(sc->loop);
	size_t i;
	int r;

	for (i = 0; i < sc->nsrv; i++) {
		struct stun_server *s = &sc->srv[i];

		r = stun_txn_due(&s->txn, now);
		if (r == 1) {
			client_send(sc, s);
		} else if (r == -ETIMEDOUT) {
			char a[MS_ADDR_STRLEN];

			sc->st.timeouts++;
			s->res.status = -ETIMEDOUT;
			log_info("stun: no answer from %s", ms_addr_fmt(&s->addr, a, sizeof(a)));
			client_finish(sc, s);
		}
	}
	client_schedule(sc);
}

int stun_client_new(struct stun_client **out, uv_loop_t *loop, struct magicsock *ms,
		    const struct stun_timing *tm, const struct stun_client_events *ev)
{
	struct stun_client *sc;

	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return -ENOMEM;
	sc->loop = loop;
	sc->ms = ms;
	if (tm)
		sc->tm = *tm;
	if (ev)
		sc->ev = *ev;
	uv_timer_init(loop, &sc->timer);
	sc->timer.data = sc;
	*out = sc;
	return 0;
}

static void client_on_closed(uv_handle_t *h)
{
	free(h->data);
}

void stun_client_free(struct stun_client *sc)
{
	if (sc == NULL)
		return;
	uv_timer_stop(&sc->timer);
	uv_close((uv_handle_t *)&sc->timer, client_on_closed);
}

int stun_client_set_servers(struct stun_client *sc, const char *list)
{
	struct stun_server srv[STUN_MAX_SERVERS];
	char item[MS_ADDR_STRLEN];
	const char *p = list, *end;
	size_t n = 0, len;

	memset(srv, 0, sizeof(srv));
	while (*p) {
		end = strchr(p, ',');
		len = end ? (size_t)(end - p) : strlen(p);
		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len) {
			if (len >= sizeof(item) || n == STUN_MAX_SERVERS)
				return -EINVAL;
			memcpy(item, p, len);
			item[len] = '\0';
			if (ms_addr_parse(&srv[n].addr, item) < 0) {
				log_warn("stun: server '%s' is not a numeric "
					 "ip:port",
					 item);
				return -EINVAL;
			}
			n++;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	memcpy(sc->srv, srv, sizeof(srv));
	sc->nsrv = n;
	sc->round = 0;
	client_schedule(sc);
	return 0;
}

int stun_client_probe(struct stun_client *sc)
{
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN];
	uint64_t now;
	size_t i;
	int r;

	if (sc->nsrv == 0)
		return -ENOENT;
	uv_update_time(sc->loop);
	now = uv_now(sc->loop);
	for (i = 0; i < sc->nsrv; i++) {
		struct stun_server *s = &sc->srv[i];

		stun_tid_new(tid);
		stun_build_init(&b, s->req, sizeof(s->req), STUN_BINDING, STUN_REQUEST, tid);
		stun_build_fingerprint(&b);
		r = stun_build_finish(&b);
		if (r < 0)
			return r;
		s->req_len = (size_t)r;
		memset(&s->res, 0, sizeof(s->res));
		s->res.server = s->addr;
		s->res.status = -EINPROGRESS;
		stun_txn_start(&s->txn, &sc->tm, tid, now);
		client_send(sc, s);
	}
	sc->round = 1;
	client_schedule(sc);
	return 0;
}

static void client_accept(struct stun_client *sc, struct stun_server *s, const struct stun_msg *m)
{
	char a[MS_ADDR_STRLEN], b[MS_ADDR_STRLEN];

	s->res.rtt_ms = (uint32_t)(uv_now(sc->loop) - s->txn.start_ms);
	if (m->cls == STUN_ERROR || m->unknown_required || (!m->has_xor_mapped && !m->has_mapped)) {
		s->res.status = -EPROTO;
		s->res.error_code = m->has_error ? m->error_code : 0;
		log_info("stun: %s refused Binding (%d %s)", ms_addr_fmt(&s->addr, a, sizeof(a)),
			 s->res.error_code, m->reason);
	} else {
		s->res.status = 0;
		s->res.reflexive = m->has_xor_mapped ? m->xor_mapped : m->mapped;
		log_debug("stun: %s says we are %s (rtt %u ms)",
			  ms_addr_fmt(&s->addr, a, sizeof(a)),
			  ms_addr_fmt(&s->res.reflexive, b, sizeof(b)), s->res.rtt_ms);
	}
	sc->st.rx_responses++;
	client_finish(sc, s);
	client_schedule(sc);
}

int stun_client_input(void *ud, const uint8_t *pkt, size_t len, const union ms_addr *from)
{
	struct stun_client *sc = ud;
	struct stun_msg m;
	size_t i;

	/* Malformed input is left to the demultiplexer to count. */
	if (stun_decode(&m, pkt, len) < 0)
		return 0;
	if (m.method != STUN_BINDING || (m.cls != STUN_SUCCESS && m.cls != STUN_ERROR))
		return 0;
	for (i = 0; i < sc->nsrv; i++) {
		struct stun_server *s = &sc->srv[i];

		if (!s->txn.active || memcmp(s->txn.tid, m.tid, STUN_TID_LEN) != 0)
			continue;
		if (!ms_addr_eq(&s->addr, from))
			break;
		client_accept(sc, s, &m);
		return 1;
	}
	/* Only we send Binding requests: a stray answer is spoofed or late. */
	sc->st.rx_unmatched++;
	return 1;
}

size_t stun_client_results(const struct stun_client *sc, struct stun_result *out, size_t max)
{
	size_t i;

	for (i = 0; i < sc->nsrv && i < max; i++)
		out[i] = sc->srv[i].res;
	return i;
}

void stun_client_get_stats(const struct stun_client *sc, struct stun_client_stats *st)
{
	*st = sc->st;
}
