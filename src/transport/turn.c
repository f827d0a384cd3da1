/*
 * turn: RFC 8656 client (allocation, permissions, channels, data relay).
 * See turn.h for the contract.
 */
#include "transport/turn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sodium.h>

#include "util/log.h"

#define TURN_LIFETIME_S 600
#define TURN_PERM_REFRESH_MS 240000
#define TURN_CHAN_REFRESH_MS 540000
#define TURN_CHECK_MS 15000
#define TURN_REFRESH_TRIES 5 /* a Refresh gives up after 15.5 s (RTO 500) */
#define TURN_RECHECK_MS 2000 /* refusals trigger a check at most this often */
#define TURN_MAX_TXNS 32
#define TURN_MAX_STALE 3    /* 438 retries per request */
#define TURN_MAX_MISMATCH 4 /* Allocate retries after clearing a 437 */
#define TURN_DONE_TIDS 16   /* answered transactions remembered */
#define TURN_TRANSPORT_UDP (17u << 24)

enum txn_kind {
	TK_ALLOCATE,
	TK_REFRESH,
	TK_PERMISSION,
	TK_CHANNEL,
	TK_DEALLOC, /* Refresh 0 asked by the owner */
	TK_CLEAR,   /* Refresh 0 for a stale allocation of our 5-tuple (437) */
};

struct turn_txn {
	struct stun_txn t;
	enum txn_kind kind;
	int idx; /* permission or channel slot */
	int authed;
	int stale; /* 438 retries so far */
	uint8_t req[STUN_MAX_MSG];
	size_t len;
};

struct turn_perm {
	int used, installed, pending;
	union ms_addr ip;
	uint64_t refresh_at;
};

struct turn_chan {
	int used, bound, pending;
	union ms_addr peer;
	uint16_t num;
	uint64_t refresh_at;
};

struct turn_client {
	uv_loop_t *loop;
	struct magicsock *ms;
	uv_timer_t timer;
	union ms_addr server, relayed, reflexive;
	char user[STUN_MAX_USERNAME + 1];
	char pass[256];
	struct turn_events ev;
	struct turn_config cfg;
	enum turn_state state;
	char reason[TURN_REASON_LEN];
	uint8_t realm[STUN_MAX_TEXT], nonce[STUN_MAX_TEXT];
	size_t realm_len, nonce_len;
	uint8_t key[STUN_LT_KEY_LEN];
	int have_key;
	int cleared;       /* a 437 on Allocate was answered once */
	int mismatches;    /* 437s since: the server frees lazily */
	uint64_t retry_at; /* next Allocate after a 437, 0: none */
	int closing;       /* deallocation asked: no refreshes, no sends */
	uint32_t lifetime;
	uint64_t refresh_at;
	uint64_t confirmed_at; /* last Allocate or Refresh success */
	struct turn_txn txns[TURN_MAX_TXNS];
	uint8_t done_tids[TURN_DONE_TIDS][STUN_TID_LEN]; /* ring */
	size_t done_next;
	struct turn_perm perms[TURN_MAX_PERMS];
	struct turn_chan chans[TURN_MAX_CHANNELS];
	struct turn_stats st;
};

static void turn_on_timer(uv_timer_t *t);

/* ---- small helpers ---- */

static uint64_t now_ms(struct turn_client *tc)
{
	return uv_now(tc->loop);
}

static int same_ip(const union ms_addr *a, const union ms_addr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return 0;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0;
	return 0;
}

static void set_state(struct turn_client *tc, enum turn_state st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_state(struct turn_client *tc, enum turn_state st, const char *fmt, ...)
{
	char a[MS_ADDR_STRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tc->reason, sizeof(tc->reason), fmt, ap);
	va_end(ap);
	tc->state = st;
	if (st == TURN_FAILED)
		log_warn("turn %s: %s", ms_addr_fmt(&tc->server, a, sizeof(a)), tc->reason);
	else
		log_info("turn %s: %s%s%s", ms_addr_fmt(&tc->server, a, sizeof(a)),
			 turn_state_name(st), tc->reason[0] ? ": " : "", tc->reason);
	if (tc->ev.on_state)
		tc->ev.on_state(tc->ev.ud, st, tc->reason);
}

static void cancel_all(struct turn_client *tc)
{
	size_t i;

	for (i = 0; i < TURN_MAX_TXNS; i++)
		tc->txns[i].t.active = 0;
	for (i = 0; i < TURN_MAX_PERMS; i++)
		tc->perms[i].pending = 0;
	for (i = 0; i < TURN_MAX_CHANNELS; i++)
		tc->chans[i].pending = 0;
}

static void fail(struct turn_client *tc, const char *reason)
{
	cancel_all(tc);
	set_state(tc, TURN_FAILED, "%s", reason);
}

/* ---- scheduling ---- */

static void schedule(struct turn_client *tc)
{
	uint64_t next = UINT64_MAX, now = now_ms(tc);
	size_t i;

	for (i = 0; i < TURN_MAX_TXNS; i++)
		if (tc->txns[i].t.active && tc->txns[i].t.next_ms < next)
			next = tc->txns[i].t.next_ms;
	if (tc->retry_at && tc->state == TURN_ALLOCATING && tc->retry_at < next)
		next = tc->retry_at;
	if (tc->state == TURN_ALLOCATED && !tc->closing) {
		if (tc->refresh_at < next)
			next = tc->refresh_at;
		for (i = 0; i < TURN_MAX_PERMS; i++)
			if (tc->perms[i].used && tc->perms[i].installed && !tc->perms[i].pending &&
			    tc->perms[i].refresh_at < next)
				next = tc->perms[i].refresh_at;
		for (i = 0; i < TURN_MAX_CHANNELS; i++)
			if (tc->chans[i].used && tc->chans[i].bound && !tc->chans[i].pending &&
			    tc->chans[i].refresh_at < next)
				next = tc->chans[i].refresh_at;
	}
	if (next == UINT64_MAX) {
		uv_timer_stop(&tc->timer);
		return;
	}
	uv_timer_start(&tc->timer, turn_on_timer, next > now ? next - now : 0, 0);
}

/* ---- requests ---- */

static void add_auth(struct turn_client *tc, struct stun_builder *b)
{
	stun_build_attr(b, STUN_A_USERNAME, tc->user, strlen(tc->user));
	stun_build_attr(b, STUN_A_REALM, tc->realm, tc->realm_len);
	stun_build_attr(b, STUN_A_NONCE, tc->nonce, tc->nonce_len);
	stun_build_integrity(b, tc->key, sizeof(tc->key));
}

static uint16_t kind_method(enum txn_kind k)
{
	switch (k) {
	case TK_ALLOCATE:
		return STUN_ALLOCATE;
	case TK_PERMISSION:
		return STUN_CREATE_PERMISSION;
	case TK_CHANNEL:
		return STUN_CHANNEL_BIND;
	default:
		return STUN_REFRESH;
	}
}

static const char *kind_name(enum txn_kind k)
{
	static const char *const names[] = { "Allocate",
					     "Refresh",
					     "CreatePermission",
					     "ChannelBind",
					     "Refresh (deallocate)",
					     "Refresh (clear old allocation)" };

	return names[k];
}

static int build_request(struct turn_client *tc, struct turn_txn *x)
{
	struct stun_timing timing;
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN];
	int r;

	stun_tid_new(tid);
	stun_build_init(&b, x->req, sizeof(x->req), kind_method(x->kind), STUN_REQUEST, tid);
	switch (x->kind) {
	case TK_ALLOCATE:
		stun_build_u32(&b, STUN_A_REQUESTED_TRANSPORT, TURN_TRANSPORT_UDP);
		stun_build_u32(&b, STUN_A_LIFETIME, tc->cfg.lifetime_s);
		break;
	case TK_REFRESH:
		stun_build_u32(&b, STUN_A_LIFETIME, tc->cfg.lifetime_s);
		break;
	case TK_DEALLOC:
	case TK_CLEAR:
		stun_build_u32(&b, STUN_A_LIFETIME, 0);
		break;
	case TK_PERMISSION:
		stun_build_xor_addr(&b, STUN_A_XOR_PEER_ADDRESS, &tc->perms[x->idx].ip);
		break;
	case TK_CHANNEL:
		stun_build_u32(&b, STUN_A_CHANNEL_NUMBER, (uint32_t)tc->chans[x->idx].num << 16);
		stun_build_xor_addr(&b, STUN_A_XOR_PEER_ADDRESS, &tc->chans[x->idx].peer);
		break;
	}
	x->authed = tc->have_key;
	if (x->authed)
		add_auth(tc, &b);
	stun_build_fingerprint(&b);
	r = stun_build_finish(&b);
	if (r < 0)
		return r;
	x->len = (size_t)r;
	/* A lost allocation should be noticed within the check period or so,
	 * not after the 39.5 s of a full RFC 8489 retransmission schedule. */
	timing = tc->cfg.timing;
	if (x->kind == TK_REFRESH && timing.tries == 0)
		timing.tries = TURN_REFRESH_TRIES;
	stun_txn_start(&x->t, &timing, tid, now_ms(tc));
	return 0;
}

static void txn_send(struct turn_client *tc, struct turn_txn *x)
{
	if (magicsock_send_to(tc->ms, &tc->server, x->req, x->len) < 0)
		tc->st.tx_errors++;
}

/* Starts a transaction; -EBUSY when all slots are in flight. */
static int start_request(struct turn_client *tc, enum txn_kind kind, int idx)
{
	struct turn_txn *x = NULL;
	size_t i;
	int r;

	for (i = 0; i < TURN_MAX_TXNS && x == NULL; i++)
		if (!tc->txns[i].t.active)
			x = &tc->txns[i];
	if (x == NULL)
		return -EBUSY;
	x->kind = kind;
	x->idx = idx;
	x->stale = 0;
	r = build_request(tc, x);
	if (r < 0)
		return r;
	txn_send(tc, x);
	if (kind == TK_PERMISSION)
		tc->perms[idx].pending = 1;
	else if (kind == TK_CHANNEL)
		tc->chans[idx].pending = 1;
	schedule(tc);
	return 0;
}

/* Same request, new transaction id (after a 401 or 438). */
static void restart_request(struct turn_client *tc, struct turn_txn *x)
{
	if (build_request(tc, x) < 0) {
		fail(tc, "request too large for the server's realm and nonce");
		return;
	}
	txn_send(tc, x);
}

static void start_allocate(struct turn_client *tc)
{
	if (start_request(tc, TK_ALLOCATE, 0) < 0)
		fail(tc, "cannot build the Allocate request");
}

/* Installs what the owner asked for before the allocation existed. */
static void start_pending_paths(struct turn_client *tc)
{
	size_t i;

	for (i = 0; i < TURN_MAX_CHANNELS; i++)
		if (tc->chans[i].used && !tc->chans[i].bound && !tc->chans[i].pending)
			start_request(tc, TK_CHANNEL, (int)i);
	for (i = 0; i < TURN_MAX_PERMS; i++)
		if (tc->perms[i].used && !tc->perms[i].installed && !tc->perms[i].pending)
			start_request(tc, TK_PERMISSION, (int)i);
}

/* ---- responses ---- */

static int take_nonce(struct turn_client *tc, const struct stun_msg *m)
{
	if (m->nonce == NULL || m->nonce_len == 0)
		return -EPROTO;
	if (m->realm) {
		if (m->realm_len == 0)
			return -EPROTO;
		memcpy(tc->realm, m->realm, m->realm_len);
		tc->realm_len = m->realm_len;
	} else if (tc->realm_len == 0) {
		return -EPROTO;
	}
	memcpy(tc->nonce, m->nonce, m->nonce_len);
	tc->nonce_len = m->nonce_len;
	if (stun_lt_key(tc->key, tc->user, tc->realm, tc->realm_len, tc->pass) < 0)
		return -EPROTO;
	tc->have_key = 1;
	return 0;
}

/*
 * A response we can believe: with a key, success needs integrity; errors
 * the server cannot sign (bad request, bad or stale credentials) may come
 * without it, and coturn sends 437 unsigned. Without a key only errors are believable (a spoofer would
 * need the transaction id, and an error only makes us ask again or fail).
 */
static int trusted(struct turn_client *tc, const struct turn_txn *x, const struct stun_msg *m,
		   const uint8_t *pkt, size_t len)
{
	int code = m->has_error ? m->error_code : 0;

	/* Unverifiable (coturn signs a 437 with the old session's key). */
	if (!tc->have_key)
		return m->cls == STUN_ERROR;
	if (m->mi_off || m->mi256_off)
		return stun_check_integrity(pkt, len, m, tc->key, sizeof(tc->key));
	if (m->cls != STUN_ERROR)
		return 0;
	return !x->authed || code == 400 || code == 401 || code == 420 || code == 437 ||
	       code == 438;
}

/*
 * A minute of slack on long lifetimes, half of a short one; never longer
 * than the liveness check period (see turn.h).
 */
static uint64_t refresh_period(const struct turn_client *tc)
{
	uint64_t period;

	if (tc->cfg.refresh_ms)
		period = tc->cfg.refresh_ms;
	else if (tc->lifetime > 120)
		period = (uint64_t)(tc->lifetime - 60) * 1000;
	else
		period = (uint64_t)tc->lifetime * 500;
	return period < tc->cfg.check_ms ? period : tc->cfg.check_ms;
}

static void on_allocated(struct turn_client *tc, const struct stun_msg *m)
{
	char r[MS_ADDR_STRLEN], s[MS_ADDR_STRLEN];

	if (!m->has_relayed) {
		fail(tc, "Allocate success without XOR-RELAYED-ADDRESS");
		return;
	}
	tc->relayed = m->relayed;
	if (m->has_xor_mapped)
		tc->reflexive = m->xor_mapped;
	tc->lifetime = m->has_lifetime ? m->lifetime : tc->cfg.lifetime_s;
	tc->confirmed_at = now_ms(tc);
	tc->refresh_at = tc->confirmed_at + refresh_period(tc);
	set_state(tc, TURN_ALLOCATED, "relayed %s, mapped %s, lifetime %u s",
		  ms_addr_fmt(&tc->relayed, r, sizeof(r)),
		  ms_addr_fmt(&tc->reflexive, s, sizeof(s)), tc->lifetime);
	start_pending_paths(tc);
}

static void on_success(struct turn_client *tc, struct turn_txn *x, const struct stun_msg *m)
{
	uint64_t now = now_ms(tc);

	/* Karn: a retransmitted request's answer says nothing about the RTT. */
	if (x->t.sent == 1 && now >= x->t.start_ms) {
		tc->st.rtt_ms = (uint32_t)(now - x->t.start_ms);
		tc->st.has_rtt = 1;
	}
	switch (x->kind) {
	case TK_ALLOCATE:
		on_allocated(tc, m);
		break;
	case TK_REFRESH:
		tc->st.refreshes++;
		if (m->has_lifetime)
			tc->lifetime = m->lifetime;
		tc->confirmed_at = now;
		tc->refresh_at = now + refresh_period(tc);
		log_debug("turn: allocation refreshed for %u s", tc->lifetime);
		break;
	case TK_PERMISSION:
		tc->perms[x->idx].installed = 1;
		tc->perms[x->idx].refresh_at = now + tc->cfg.perm_refresh_ms;
		break;
	case TK_CHANNEL:
		tc->chans[x->idx].bound = 1;
		tc->chans[x->idx].refresh_at = now + tc->cfg.chan_refresh_ms;
		break;
	case TK_DEALLOC:
		set_state(tc, TURN_CLOSED, "deallocated");
		break;
	case TK_CLEAR:
		start_allocate(tc);
		break;
	}
}

static void on_path_error(struct turn_client *tc, struct turn_txn *x, const char *what)
{
	char a[MS_ADDR_STRLEN];
	uint64_t check = tc->confirmed_at + TURN_RECHECK_MS;

	tc->st.perm_errors++;
	/* A server that lost our allocation refuses these first (coturn: 400
	 * or 437): check the allocation soon rather than at the next period,
	 * but not once per refusal (the owner may ask again at every send). */
	if (tc->state == TURN_ALLOCATED && !tc->closing && tc->refresh_at != UINT64_MAX &&
	    check < tc->refresh_at)
		tc->refresh_at = check;
	if (x->kind == TK_PERMISSION) {
		log_warn("turn: CreatePermission for %s refused: %s",
			 ms_addr_fmt(&tc->perms[x->idx].ip, a, sizeof(a)), what);
		memset(&tc->perms[x->idx], 0, sizeof(tc->perms[0]));
	} else {
		log_warn("turn: ChannelBind for %s refused: %s",
			 ms_addr_fmt(&tc->chans[x->idx].peer, a, sizeof(a)), what);
		memset(&tc->chans[x->idx], 0, sizeof(tc->chans[0]));
	}
}

static void on_error(struct turn_client *tc, struct turn_txn *x, const struct stun_msg *m)
{
	char why[TURN_REASON_LEN];
	int code = m->has_error ? m->error_code : 0;

	if (m->has_error)
		snprintf(why, sizeof(why), "%d %s", code, m->reason);
	else
		snprintf(why, sizeof(why), "unusable %s response",
			 m->cls == STUN_ERROR ? "error" : "success");
	/* The first request of each kind may go out before we know a realm. */
	if (code == 401 && !x->authed) {
		if (take_nonce(tc, m) < 0) {
			fail(tc, "401 without a usable REALM and NONCE");
			return;
		}
		restart_request(tc, x);
		return;
	}
	if (code == 401 && x->authed && x->kind == TK_ALLOCATE) {
		fail(tc, "401 Unauthorized: wrong credentials");
		return;
	}
	if (code == 438 && x->stale < TURN_MAX_STALE && take_nonce(tc, m) == 0) {
		tc->st.stale_nonces++;
		x->stale++;
		restart_request(tc, x);
		return;
	}
	switch (x->kind) {
	case TK_ALLOCATE:
		if (code == 437 && !tc->cleared) {
			/* Our 5-tuple still has an allocation: drop it first. */
			tc->cleared = 1;
			if (start_request(tc, TK_CLEAR, 0) == 0)
				return;
		}
		if (code == 437 && tc->mismatches < TURN_MAX_MISMATCH) {
			/* coturn frees the old one a moment after the Refresh. */
			tc->retry_at = now_ms(tc) + (500u << tc->mismatches++);
			return;
		}
		fail(tc, why);
		break;
	case TK_REFRESH:
		snprintf(why, sizeof(why), "allocation lost: %d %s", code, m->reason);
		fail(tc, why);
		break;
	case TK_PERMISSION:
	case TK_CHANNEL:
		on_path_error(tc, x, why);
		break;
	case TK_DEALLOC:
		set_state(tc, TURN_CLOSED, "deallocated (%s)", why);
		break;
	case TK_CLEAR:
		start_allocate(tc);
		break;
	}
}

static int answered_before(const struct turn_client *tc, const uint8_t *tid)
{
	size_t i;

	for (i = 0; i < TURN_DONE_TIDS; i++)
		if (memcmp(tc->done_tids[i], tid, STUN_TID_LEN) == 0)
			return 1;
	return 0;
}

static int handle_response(struct turn_client *tc, const struct stun_msg *m, const uint8_t *pkt,
			   size_t len)
{
	struct turn_txn *x = NULL;
	size_t i;

	for (i = 0; i < TURN_MAX_TXNS && x == NULL; i++)
		if (tc->txns[i].t.active && memcmp(tc->txns[i].t.tid, m->tid, STUN_TID_LEN) == 0)
			x = &tc->txns[i];
	if (x == NULL && answered_before(tc, m->tid)) {
		/* The answer to a retransmission of a finished request. */
		tc->st.rx_late++;
		return 1;
	}
	if (x == NULL || m->method != kind_method(x->kind) || !trusted(tc, x, m, pkt, len)) {
		tc->st.rx_spoofed++;
		log_debug("turn: dropped a %s answer (method %#x, error %d): %s",
			  m->cls == STUN_SUCCESS ? "success" : "error", m->method, m->error_code,
			  x == NULL ? "no such transaction" : "not authentic");
		return 1;
	}
	x->t.active = 0;
	memcpy(tc->done_tids[tc->done_next], x->t.tid, STUN_TID_LEN);
	tc->done_next = (tc->done_next + 1) % TURN_DONE_TIDS;
	if (x->kind == TK_PERMISSION)
		tc->perms[x->idx].pending = 0;
	else if (x->kind == TK_CHANNEL)
		tc->chans[x->idx].pending = 0;
	log_debug("turn: %s%s answered %d", kind_name(x->kind),
		  x->authed ? "" : " (unauthenticated)",
		  m->cls == STUN_SUCCESS ? 200 : m->error_code);
	if (m->cls == STUN_SUCCESS && m->unknown_required == 0) {
		on_success(tc, x, m);
	} else {
		on_error(tc, x, m);
		/* A repeated request is in flight again. */
		if (x->t.active && x->kind == TK_PERMISSION)
			tc->perms[x->idx].pending = 1;
		else if (x->t.active && x->kind == TK_CHANNEL)
			tc->chans[x->idx].pending = 1;
	}
	schedule(tc);
	return 1;
}

static void deliver(struct turn_client *tc, const union ms_addr *peer, const uint8_t *buf,
		    size_t len)
{
	if (tc->ev.on_data)
		tc->ev.on_data(tc->ev.ud, peer, buf, len);
}

int turn_client_input(void *ud, const uint8_t *pkt, size_t len, const union ms_addr *from)
{
	struct turn_client *tc = ud;
	struct stun_msg m;

	if (!ms_addr_eq(from, &tc->server))
		return 0;
	if (stun_decode(&m, pkt, len) < 0) {
		tc->st.rx_bad++;
		return 1;
	}
	if (m.method == STUN_BINDING)
		return 0;
	if (m.cls == STUN_INDICATION && m.method == STUN_DATA) {
		if (!m.has_peer || !m.has_data || tc->state != TURN_ALLOCATED) {
			tc->st.rx_bad++;
			return 1;
		}
		tc->st.rx_data++;
		deliver(tc, &m.peer, m.data, m.data_len);
		return 1;
	}
	if (m.cls == STUN_SUCCESS || m.cls == STUN_ERROR)
		return handle_response(tc, &m, pkt, len);
	tc->st.rx_bad++;
	return 1;
}

int turn_client_channel_input(void *ud, const uint8_t *pkt, size_t len, const union ms_addr *from)
{
	struct turn_client *tc = ud;
	uint16_t num;
	size_t dlen, i;

	if (!ms_addr_eq(from, &tc->server))
		return 0;
	if (len < 4) {
		tc->st.rx_bad++;
		return 1;
	}
	num = (uint16_t)(pkt[0] << 8 | pkt[1]);
	dlen = (size_t)(pkt[2] << 8 | pkt[3]);
	/* Padding to 4 bytes is allowed after the data, nothing more. */
	if (num < TURN_CHANNEL_MIN || num > TURN_CHANNEL_MAX || dlen > len - 4 ||
	    len - 4 - dlen > 3) {
		tc->st.rx_bad++;
		return 1;
	}
	for (i = 0; i < TURN_MAX_CHANNELS; i++) {
		if (!tc->chans[i].used || tc->chans[i].num != num)
			continue;
		tc->st.rx_channel++;
		deliver(tc, &tc->chans[i].peer, pkt + 4, dlen);
		return 1;
	}
	tc->st.rx_unknown_channel++;
	return 1;
}

/* ---- timer ---- */

static void on_timeout(struct turn_client *tc, struct turn_txn *x)
{
	switch (x->kind) {
	case TK_ALLOCATE:
		fail(tc, "no response from the TURN server");
		break;
	case TK_REFRESH:
		fail(tc, "allocation lost: no response from the TURN server");
		break;
	case TK_PERMISSION:
	case TK_CHANNEL:
		if (x->kind == TK_PERMISSION)
			tc->perms[x->idx].pending = 0;
		else
			tc->chans[x->idx].pending = 0;
		on_path_error(tc, x, "no response");
		break;
	case TK_DEALLOC:
		set_state(tc, TURN_CLOSED, "deallocated (no answer)");
		break;
	case TK_CLEAR:
		start_allocate(tc);
		break;
	}
}

static void run_txns(struct turn_client *tc, uint64_t now)
{
	size_t i;
	int r;

	for (i = 0; i < TURN_MAX_TXNS; i++) {
		struct turn_txn *x = &tc->txns[i];

		r = stun_txn_due(&x->t, now);
		if (r == 1)
			txn_send(tc, x);
		else if (r == -ETIMEDOUT)
			on_timeout(tc, x);
	}
}

/* When all slots are busy the refresh is tried again a second later. */
static void run_refreshes(struct turn_client *tc, uint64_t now)
{
	size_t i;

	if (tc->state != TURN_ALLOCATED || tc->closing)
		return;
	if (tc->refresh_at <= now) {
		tc->refresh_at = now + 1000;
		if (start_request(tc, TK_REFRESH, 0) == 0)
			tc->refresh_at = UINT64_MAX;
	}
	for (i = 0; i < TURN_MAX_PERMS; i++) {
		struct turn_perm *p = &tc->perms[i];

		if (!p->used || !p->installed || p->pending || p->refresh_at > now)
			continue;
		if (start_request(tc, TK_PERMISSION, (int)i) < 0)
			p->refresh_at = now + 1000;
	}
	for (i = 0; i < TURN_MAX_CHANNELS; i++) {
		struct turn_chan *c = &tc->chans[i];

		if (!c->used || !c->bound || c->pending || c->refresh_at > now)
			continue;
		if (start_request(tc, TK_CHANNEL, (int)i) < 0)
			c->refresh_at = now + 1000;
	}
}

static void turn_on_timer(uv_timer_t *t)
{
	struct turn_client *tc = t->data;
	uint64_t now = now_ms(tc);

	if (tc->retry_at && tc->retry_at <= now && tc->state == TURN_ALLOCATING) {
		tc->retry_at = 0;
		start_allocate(tc);
	}
	run_txns(tc, now);
	run_refreshes(tc, now);
	schedule(tc);
}

/* ---- public API ---- */

int turn_client_new(struct turn_client **out, uv_loop_t *loop, struct magicsock *ms,
		    const union ms_addr *server, const char *user, const char *pass,
		    const struct turn_events *ev, const struct turn_config *cfg)
{
	struct turn_client *tc;
	int r;

	if (ms_addr_len(server) == 0 || strlen(user) > STUN_MAX_USERNAME ||
	    strlen(pass) >= sizeof(tc->pass))
		return -EINVAL;
	tc = calloc(1, sizeof(*tc));
	if (tc == NULL)
		return -ENOMEM;
	r = magicsock_add_relay(ms, server);
	if (r < 0) {
		free(tc);
		return r;
	}
	tc->loop = loop;
	tc->ms = ms;
	tc->server = *server;
	snprintf(tc->user, sizeof(tc->user), "%s", user);
	snprintf(tc->pass, sizeof(tc->pass), "%s", pass);
	if (ev)
		tc->ev = *ev;
	if (cfg)
		tc->cfg = *cfg;
	if (tc->cfg.lifetime_s == 0)
		tc->cfg.lifetime_s = TURN_LIFETIME_S;
	if (tc->cfg.perm_refresh_ms == 0)
		tc->cfg.perm_refresh_ms = TURN_PERM_REFRESH_MS;
	if (tc->cfg.chan_refresh_ms == 0)
		tc->cfg.chan_refresh_ms = TURN_CHAN_REFRESH_MS;
	if (tc->cfg.check_ms == 0)
		tc->cfg.check_ms = TURN_CHECK_MS;
	tc->state = TURN_ALLOCATING;
	uv_timer_init(loop, &tc->timer);
	tc->timer.data = tc;
	uv_update_time(loop);
	*out = tc;
	start_allocate(tc);
	return 0;
}

static void on_closed(uv_handle_t *h)
{
	struct turn_client *tc = h->data;

	sodium_memzero(tc->pass, sizeof(tc->pass));
	sodium_memzero(tc->key, sizeof(tc->key));
	free(tc);
}

void turn_client_free(struct turn_client *tc)
{
	struct turn_txn x;

	if (tc == NULL)
		return;
	if (tc->state == TURN_ALLOCATED && !tc->closing) {
		memset(&x, 0, sizeof(x));
		x.kind = TK_DEALLOC;
		if (build_request(tc, &x) == 0)
			txn_send(tc, &x);
	}
	uv_timer_stop(&tc->timer);
	uv_close((uv_handle_t *)&tc->timer, on_closed);
}

int turn_client_deallocate(struct turn_client *tc)
{
	if (tc->state != TURN_ALLOCATED || tc->closing)
		return -ENOTCONN;
	cancel_all(tc);
	tc->closing = 1;
	return start_request(tc, TK_DEALLOC, 0);
}

enum turn_state turn_client_state(const struct turn_client *tc, const char **reason)
{
	if (reason)
		*reason = tc->reason;
	return tc->state;
}

const char *turn_state_name(enum turn_state st)
{
	switch (st) {
	case TURN_ALLOCATING:
		return "allocating";
	case TURN_ALLOCATED:
		return "allocated";
	case TURN_FAILED:
		return "failed";
	case TURN_CLOSED:
		return "closed";
	}
	return "unknown";
}

int turn_relayed_addr(const struct turn_client *tc, union ms_addr *out)
{
	if (tc->state != TURN_ALLOCATED)
		return -ENOTCONN;
	*out = tc->relayed;
	return 0;
}

int turn_reflexive_addr(const struct turn_client *tc, union ms_addr *out)
{
	if (tc->state != TURN_ALLOCATED)
		return -ENOTCONN;
	*out = tc->reflexive;
	return 0;
}

const union ms_addr *turn_server_addr(const struct turn_client *tc)
{
	return &tc->server;
}

static struct turn_perm *perm_find(struct turn_client *tc, const union ms_addr *peer, int create)
{
	struct turn_perm *free_slot = NULL;
	size_t i;

	for (i = 0; i < TURN_MAX_PERMS; i++) {
		if (tc->perms[i].used && same_ip(&tc->perms[i].ip, peer))
			return &tc->perms[i];
		if (!tc->perms[i].used && free_slot == NULL)
			free_slot = &tc->perms[i];
	}
	if (!create || free_slot == NULL)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = 1;
	free_slot->ip = *peer;
	if (peer->sa.sa_family == AF_INET)
		free_slot->ip.in.sin_port = 0;
	else
		free_slot->ip.in6.sin6_port = 0;
	return free_slot;
}

int turn_permit(struct turn_client *tc, const union ms_addr *peer)
{
	struct turn_perm *p;

	if (ms_addr_len(peer) == 0)
		return -EINVAL;
	p = perm_find(tc, peer, 1);
	if (p == NULL)
		return -ENOSPC;
	if (tc->state == TURN_ALLOCATED && !p->installed && !p->pending)
		return start_request(tc, TK_PERMISSION, (int)(p - tc->perms));
	return 0;
}

int turn_bind_channel(struct turn_client *tc, const union ms_addr *peer)
{
	struct turn_chan *c = NULL;
	size_t i;

	if (ms_addr_len(peer) == 0)
		return -EINVAL;
	for (i = 0; i < TURN_MAX_CHANNELS; i++)
		if (tc->chans[i].used && ms_addr_eq(&tc->chans[i].peer, peer))
			return 0;
	for (i = 0; i < TURN_MAX_CHANNELS && c == NULL; i++)
		if (!tc->chans[i].used)
			c = &tc->chans[i];
	if (c == NULL)
		return -ENOSPC;
	memset(c, 0, sizeof(*c));
	c->used = 1;
	c->peer = *peer;
	/* Slot i always owns channel 0x4000 + i: never reused for another peer
	 * while bound, and a freed slot waits for the server's own timeout. */
	c->num = (uint16_t)(TURN_CHANNEL_MIN + (c - tc->chans));
	if (tc->state == TURN_ALLOCATED)
		return start_request(tc, TK_CHANNEL, (int)(c - tc->chans));
	return 0;
}

uint16_t turn_channel_of(const struct turn_client *tc, const union ms_addr *peer)
{
	size_t i;

	for (i = 0; i < TURN_MAX_CHANNELS; i++)
		if (tc->chans[i].used && tc->chans[i].bound && ms_addr_eq(&tc->chans[i].peer, peer))
			return tc->chans[i].num;
	return 0;
}

static int send_channel(struct turn_client *tc, uint16_t num, const uint8_t *buf, size_t len)
{
	uint8_t pkt[4 + TURN_MAX_DATA];
	int r;

	pkt[0] = num >> 8;
	pkt[1] = num & 0xff;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = len & 0xff;
	memcpy(pkt + 4, buf, len);
	r = magicsock_send_to(tc->ms, &tc->server, pkt, 4 + len);
	if (r < 0) {
		tc->st.tx_errors++;
		return r;
	}
	tc->st.tx_channel++;
	return 0;
}

static int send_indication(struct turn_client *tc, const union ms_addr *peer, const uint8_t *buf,
			   size_t len)
{
	struct stun_builder b;
	uint8_t pkt[STUN_MAX_MSG], tid[STUN_TID_LEN];
	int r;

	stun_tid_new(tid);
	stun_build_init(&b, pkt, sizeof(pkt), STUN_SEND, STUN_INDICATION, tid);
	stun_build_xor_addr(&b, STUN_A_XOR_PEER_ADDRESS, peer);
	stun_build_attr(&b, STUN_A_DATA, buf, len);
	stun_build_fingerprint(&b);
	r = stun_build_finish(&b);
	if (r < 0)
		return r;
	r = magicsock_send_to(tc->ms, &tc->server, pkt, (size_t)r);
	if (r < 0) {
		tc->st.tx_errors++;
		return r;
	}
	tc->st.tx_send++;
	return 0;
}

int turn_send(struct turn_client *tc, const union ms_addr *peer, const uint8_t *buf, size_t len)
{
	uint16_t num;
	int r;

	if (tc->state != TURN_ALLOCATED || tc->closing)
		return -ENOTCONN;
	if (len > TURN_MAX_DATA)
		return -EMSGSIZE;
	num = turn_channel_of(tc, peer);
	if (num)
		return send_channel(tc, num, buf, len);
	/* The server drops a Send to a peer without permission: ask first. */
	r = turn_permit(tc, peer);
	if (r < 0 && r != -EBUSY)
		return r;
	return send_indication(tc, peer, buf, len);
}

void turn_client_get_stats(const struct turn_client *tc, struct turn_stats *st)
{
	*st = tc->st;
}
