/*
 * stun: the RFC 8489 message codec (stun_codec.c) and the Binding client
 * that finds our server-reflexive address(es) (stun.c).
 *
 * The codec builds requests and indications (Binding and the TURN methods of
 * RFC 8656) into a caller's buffer, and decodes whatever arrives from the
 * network into a struct stun_msg that points into the received bytes. The
 * decoder trusts no length: the header must be exact (cookie, top bits zero,
 * body length a multiple of 4 that matches the datagram), every attribute
 * must fit with its padding, each known attribute must have its legal size,
 * and a FINGERPRINT, when present, must be last and correct. Integrity is
 * checked separately (stun_check_integrity) because only the owner of the
 * transaction knows the key.
 *
 * The transaction helpers (struct stun_txn) carry the RFC 8489 retransmission
 * schedule: RTO doubling from rto_ms, at most `tries` transmissions, then a
 * final wait of 16 * rto_ms. Both clients here and the TURN client use them
 * with a single libuv timer armed at the earliest deadline.
 *
 * The Binding client (struct stun_client) sends a Binding request to each
 * configured server (numeric "ip:port" / "[ip6]:port" only) over the shared
 * magicsock socket and records, per server, the reflexive address and RTT.
 * magicsock has one handler per packet class, while a daemon has a Binding
 * client and one TURN client per relay reading STUN from the same socket:
 * struct stun_demux is that handler. It offers each packet to its sinks in
 * turn (stun_client_input, turn_client_input, ...); a sink returns 1 when
 * the packet was its business (answered, or dropped as spoofed and counted
 * there) and 0 when it is not; a packet no sink takes is counted as
 * unmatched and dropped.
 *
 * Ownership: stun_client_new allocates; stun_client_free releases it once
 * libuv has closed its timer (the loop must run afterwards). Buffers given
 * to input functions are only read during the call. Single-threaded.
 */
#ifndef RAYFISH_TRANSPORT_STUN_H
#define RAYFISH_TRANSPORT_STUN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "transport/magicsock.h"

#define STUN_HDR_LEN 20
#define STUN_TID_LEN 12
#define STUN_COOKIE 0x2112A442u
#define STUN_FINGERPRINT_XOR 0x5354554eu
#define STUN_MAX_MSG MAGICSOCK_BUF_SIZE /* nothing larger is built or read */
#define STUN_MAX_TEXT 763               /* REALM, NONCE, SOFTWARE, reason */
#define STUN_MAX_USERNAME 513
#define STUN_REASON_LEN 128 /* kept (sanitized) reason phrase */
#define STUN_MAX_SERVERS 8

enum stun_method {
	STUN_BINDING = 0x001,
	STUN_ALLOCATE = 0x003,
	STUN_REFRESH = 0x004,
	STUN_SEND = 0x006,
	STUN_DATA = 0x007,
	STUN_CREATE_PERMISSION = 0x008,
	STUN_CHANNEL_BIND = 0x009,
};

enum stun_class {
	STUN_REQUEST = 0,
	STUN_INDICATION = 1,
	STUN_SUCCESS = 2,
	STUN_ERROR = 3,
};

enum stun_attr {
	STUN_A_MAPPED_ADDRESS = 0x0001,
	STUN_A_USERNAME = 0x0006,
	STUN_A_MESSAGE_INTEGRITY = 0x0008,
	STUN_A_ERROR_CODE = 0x0009,
	STUN_A_UNKNOWN_ATTRIBUTES = 0x000a,
	STUN_A_CHANNEL_NUMBER = 0x000c,
	STUN_A_LIFETIME = 0x000d,
	STUN_A_XOR_PEER_ADDRESS = 0x0012,
	STUN_A_DATA = 0x0013,
	STUN_A_REALM = 0x0014,
	STUN_A_NONCE = 0x0015,
	STUN_A_XOR_RELAYED_ADDRESS = 0x0016,
	STUN_A_REQUESTED_ADDRESS_FAMILY = 0x0017,
	STUN_A_EVEN_PORT = 0x0018,
	STUN_A_REQUESTED_TRANSPORT = 0x0019,
	STUN_A_DONT_FRAGMENT = 0x001a,
	STUN_A_MESSAGE_INTEGRITY_SHA256 = 0x001c,
	STUN_A_PASSWORD_ALGORITHM = 0x001d,
	STUN_A_USERHASH = 0x001e,
	STUN_A_XOR_MAPPED_ADDRESS = 0x0020,
	STUN_A_RESERVATION_TOKEN = 0x0022,
	STUN_A_PASSWORD_ALGORITHMS = 0x8002,
	STUN_A_ALTERNATE_DOMAIN = 0x8003,
	STUN_A_SOFTWARE = 0x8022,
	STUN_A_ALTERNATE_SERVER = 0x8023,
	STUN_A_FINGERPRINT = 0x8028,
};

/* Decoded message; the pointers point into the decoded buffer. */
struct stun_msg {
	uint16_t method;
	enum stun_class cls;
	uint8_t tid[STUN_TID_LEN];
	unsigned has_xor_mapped : 1, has_mapped : 1, has_relayed : 1, has_peer : 1,
		has_lifetime : 1, has_error : 1, has_channel : 1, has_data : 1, has_fingerprint : 1;
	union ms_addr xor_mapped, mapped, relayed, peer;
	uint32_t lifetime;
	uint16_t channel;
	int error_code;               /* 300..699 */
	char reason[STUN_REASON_LEN]; /* printable ASCII only */
	const uint8_t *nonce, *realm, *software, *data;
	size_t nonce_len, realm_len, software_len, data_len;
	size_t mi_off, mi256_off; /* attribute offsets, 0: absent */
	size_t mi256_len;
	unsigned unknown_required; /* comprehension-required attrs we lack */
};

/* Returns 0, or -EINVAL (malformed), -EBADMSG (bad FINGERPRINT). */
int stun_decode(struct stun_msg *m, const uint8_t *buf, size_t len);

/*
 * 1 when MESSAGE-INTEGRITY (or MESSAGE-INTEGRITY-SHA256 when that is the
 * only one) is present and correct for key; 0 when absent or wrong.
 */
int stun_check_integrity(const uint8_t *buf, size_t len, const struct stun_msg *m,
			 const uint8_t *key, size_t keylen);

/* Long-term credential key: MD5(user ":" realm ":" pass), 16 bytes. */
#define STUN_LT_KEY_LEN 16
int stun_lt_key(uint8_t key[STUN_LT_KEY_LEN], const char *user, const uint8_t *realm,
		size_t realm_len, const char *pass);

uint32_t stun_crc32(const uint8_t *p, size_t n);
void stun_tid_new(uint8_t tid[STUN_TID_LEN]);

/*
 * Builder. Errors are sticky: once the buffer is too small every further
 * call is a no-op and stun_build_finish returns -ENOBUFS.
 */
struct stun_builder {
	uint8_t *buf;
	size_t cap, len;
	int err;
};

void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
		     enum stun_class cls, const uint8_t tid[STUN_TID_LEN]);
void stun_build_attr(struct stun_builder *b, uint16_t type, const void *val, size_t len);
void stun_build_u32(struct stun_builder *b, uint16_t type, uint32_t v);
/* XOR-*-ADDRESS (type must be one of the XOR address attributes). */
void stun_build_xor_addr(struct stun_builder *b, uint16_t type, const union ms_addr *a);
void stun_build_mapped_addr(struct stun_builder *b, const union ms_addr *a);
void stun_build_error(struct stun_builder *b, int code, const char *reason);
void stun_build_integrity(struct stun_builder *b, const uint8_t *key, size_t keylen);
void stun_build_integrity_sha256(struct stun_builder *b, const uint8_t *key, size_t keylen);
void stun_build_fingerprint(struct stun_builder *b);
/* Returns the message length or -ENOBUFS. */
int stun_build_finish(struct stun_builder *b);

/* ---- retransmission schedule (RFC 8489 section 6.2.1) ---- */

struct stun_timing {
	uint32_t rto_ms; /* 0: 500 */
	uint32_t tries;  /* transmissions (Rc), 0: 7 */
};

struct stun_txn {
	int active;
	uint8_t tid[STUN_TID_LEN];
	uint32_t rto_ms, tries, sent;
	uint64_t start_ms, next_ms;
};

void stun_txn_start(struct stun_txn *t, const struct stun_timing *tm,
		    const uint8_t tid[STUN_TID_LEN], uint64_t now);
/* 1: retransmit now (schedule advanced), 0: not yet, -ETIMEDOUT: give up. */
int stun_txn_due(struct stun_txn *t, uint64_t now);

/* ---- Binding client ---- */

struct stun_result {
	union ms_addr server;
	union ms_addr reflexive;
	uint32_t rtt_ms;
	int status;     /* 0 ok, -EINPROGRESS, -ETIMEDOUT, -EPROTO */
	int error_code; /* on -EPROTO: the server's ERROR-CODE, or 0 */
};

struct stun_client_stats {
	uint64_t tx_requests;  /* incl. retransmissions */
	uint64_t rx_responses; /* matched and accepted */
	uint64_t rx_unmatched; /* Binding answers matching no request */
	uint64_t timeouts;
};

/* Called once per server per round, then done once the round ended. */
struct stun_client_events {
	void (*on_result)(void *ud, const struct stun_result *r);
	void (*on_done)(void *ud);
	void *ud;
};

struct stun_client;

int stun_client_new(struct stun_client **out, uv_loop_t *loop, struct magicsock *ms,
		    const struct stun_timing *tm, const struct stun_client_events *ev);
void stun_client_free(struct stun_client *sc);
/*
 * Comma list of numeric "ip:port" / "[ip6]:port" (at most STUN_MAX_SERVERS);
 * -EINVAL (logged) on anything else. Abandons a running round (no on_done).
 */
int stun_client_set_servers(struct stun_client *sc, const char *list);
/* Starts a round: one Binding transaction per server (restarts a running one). */
int stun_client_probe(struct stun_client *sc);
/* 1: the packet answered one of our transactions (consumed), 0: not ours. */
int stun_client_input(void *sc, const uint8_t *pkt, size_t len, const union ms_addr *from);
/* Copies up to max results of the current/last round; returns the count. */
size_t stun_client_results(const struct stun_client *sc, struct stun_result *out, size_t max);
void stun_client_get_stats(const struct stun_client *sc, struct stun_client_stats *st);

/* ---- demultiplexer (the owner's magicsock handler) ---- */

#define STUN_DEMUX_MAX 8

typedef int (*stun_sink_fn)(void *client, const uint8_t *pkt, size_t len,
			    const union ms_addr *from);

struct stun_demux {
	struct {
		stun_sink_fn fn;
		void *client;
	} sinks[STUN_DEMUX_MAX];
	size_t n;
	uint64_t unmatched;
};

void stun_demux_init(struct stun_demux *d);
/* Returns 0 or -ENOSPC. */
int stun_demux_add(struct stun_demux *d, stun_sink_fn fn, void *client);
void stun_demux_remove(struct stun_demux *d, void *client);
/* An ms_rx_fn: magicsock_set_handler(ms, MS_PKT_STUN, stun_demux_input, d). */
void stun_demux_input(void *d, const uint8_t *pkt, size_t len, const union ms_addr *from);

#endif
