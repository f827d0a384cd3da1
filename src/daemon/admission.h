/*
 * admission: the coordinator's gate. Decides every JOIN_REQ of a network
 * this node holds the key of: members are welcomed back; a single-use invite
 * (ledger, burned on use, restored if admission then fails) or a reusable key
 * (hash in the signed roster) admits; a pre-approved identity is admitted;
 * an open network admits anyone; otherwise the request waits in the queue
 * for `ray accept` / `ray deny`. Also serves the invite and request commands.
 */
#ifndef RAYFISH_DAEMON_ADMISSION_H
#define RAYFISH_DAEMON_ADMISSION_H

#include "util/limits.h"

#include <stddef.h>
#include <stdint.h>

#include "ipc/ipc_server.h"
#include "mesh/hostname.h"

#define ADMISSION_MAX_REQUESTS 64
#define ADMISSION_MAX_DENIED 64

struct daemon;
struct peer;
struct ctl_msg;

struct join_request {
	char id[9]; /* short handle for accept/deny */
	uint8_t pk[LIMIT_KEY_LEN];
	char hostname[HOSTNAME_BUF];
	uint64_t since;   /* unix seconds */
	uint64_t seen_ms; /* loop time the joiner last asked */
	uint64_t gone_ms; /* loop time its connection went; 0: up */
};

/* Per network, in memory: a restart forgets the queue (joiners retry). */
struct admission {
	struct join_request req[ADMISSION_MAX_REQUESTS];
	size_t n_req;
	uint8_t denied[ADMISSION_MAX_DENIED][LIMIT_KEY_LEN];
	size_t n_denied;
	size_t denied_next;
};

void admission_on_join_req(struct daemon *d, struct peer *p, const struct ctl_msg *m);

/*
 * Requests expire: ADMISSION_GONE_MS after the joiner's connection went,
 * or ADMISSION_IDLE_MS without its periodic re-ask (a live joiner asks at
 * least every 30 s). One source address holds at most ADMISSION_PER_SOURCE
 * of a queue. When a queue is full, the oldest request whose joiner is gone
 * makes room; if every joiner is still there, the newcomer hears PENDING
 * without a place and keeps asking, so throwaway keys can neither lock the
 * queue nor push live requests out.
 */
#define ADMISSION_GONE_MS 20000
#define ADMISSION_IDLE_MS 120000
#define ADMISSION_PER_SOURCE 4
void admission_tick(struct daemon *d);

/* Join requests waiting in every network. */
size_t admission_pending_count(struct daemon *d);

void admission_cmd_invite(struct daemon *d, struct ipc_request *req);
void admission_cmd_invite_list(struct daemon *d, struct ipc_request *req);
void admission_cmd_invite_revoke(struct daemon *d, struct ipc_request *req);
void admission_cmd_requests(struct daemon *d, struct ipc_request *req);
void admission_cmd_accept(struct daemon *d, struct ipc_request *req);
void admission_cmd_deny(struct daemon *d, struct ipc_request *req);

#endif
