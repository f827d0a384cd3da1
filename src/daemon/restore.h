/*
 * restore: `ray pair backup` as the daemon serves it, and the networks a
 * restored backup left to rejoin (see restore.c).
 */
#ifndef RAYFISH_DAEMON_RESTORE_H
#define RAYFISH_DAEMON_RESTORE_H

#include "ipc/ipc_server.h"

struct daemon;

/* How often a network still to rejoin is tried again. */
#define RESTORE_RETRY_MS 30000

/* Loads restore.json (home/restore.h) at start; a missing file is fine. */
void restore_open(struct daemon *d);
void restore_close(struct daemon *d);
/* Rejoins what is still to rejoin, drops what is back; every tick. */
void restore_tick(struct daemon *d);

/* IPC pair_backup {"passphrase"}: {"code"}, sealed off the loop. */
void restore_cmd_backup(struct daemon *d, struct ipc_request *req);

#endif
