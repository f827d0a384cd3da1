/*
 * files: `ray send` and `ray files`, file sharing between members of a
 * network we share (see files.c). Offers travel on the mesh connection;
 * each transfer has its own connection (QUIC_ALPN_FILES) that the
 * receiver dials and the sender streams over, verified as it streams
 * (files/tree.h). The daemon reads and writes only files the user handed
 * it as open descriptors.
 */
#ifndef RAYFISH_DAEMON_FILES_H
#define RAYFISH_DAEMON_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/ipc_server.h"
#include "util/limits.h"

struct daemon;
struct peer;
struct quic_conn;
struct ctl_msg;

/* Loads the offers we made (files/outgoing.json) at start, before the
 * transport (every other call here needs it); 0 or -errno. On -ENOMEM
 * nothing is open; on another error it is open, without the old offers. */
int files_open(struct daemon *d);
/* Frees everything; transfers in flight end. */
void files_close(struct daemon *d);

/* IPC: send, files, files_accept, files_deny, files_cancel. */
void files_cmd_send(struct daemon *d, struct ipc_request *req);
void files_cmd_list(struct daemon *d, struct ipc_request *req);
void files_cmd_accept(struct daemon *d, struct ipc_request *req);
void files_cmd_deny(struct daemon *d, struct ipc_request *req);
void files_cmd_cancel(struct daemon *d, struct ipc_request *req);

/* Control messages FILE_OFFER, FILE_DENY, FILE_CANCEL from p. */
bool files_on_message(struct daemon *d, struct peer *p, const struct ctl_msg *m);
/* p's mesh connection is up: offers not yet delivered go out. */
void files_on_peer_up(struct daemon *d, struct peer *p);
/* Retries of cut transfers, every tick. */
void files_tick(struct daemon *d);

/* The files connections (daemon.c routes them here). */
int files_accept_conn(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN]);
void files_on_confirmed(struct daemon *d, struct quic_conn *c);
void files_on_conn_message(struct daemon *d, struct quic_conn *c, const uint8_t *buf, size_t len);
void files_on_writable(struct daemon *d, struct quic_conn *c);
void files_on_closed(struct daemon *d, struct quic_conn *c);

/* Offers waiting for `ray files accept` (status "pending.file_offers"). */
size_t files_pending(const struct daemon *d);

#endif
