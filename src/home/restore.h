/*
 * restore: a backup (mesh/backup.h) put into a home, and the networks it
 * leaves for the daemon to rejoin.
 *
 * restore_apply writes what the backup holds: secret_key, contact_key,
 * the network keys (keys/ROOM.key), each 0600 and atomically, and
 * restore.json, the networks to rejoin: {"networks": [{"room_id", "name",
 * "hostname", "direct"}]}. It refuses a home whose networks.json lists
 * networks (they belong to the identity about to be replaced) and a home a
 * running daemon uses (the caller checks the socket). The daemon takes the
 * list at start (daemon/restore.c) and drops each network from it once it
 * is back.
 */
#ifndef RAYFISH_HOME_RESTORE_H
#define RAYFISH_HOME_RESTORE_H

#include "mesh/backup.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESTORE_FILE "restore.json"

struct restore_entry {
	uint8_t room[LIMIT_KEY_LEN];
	char name[HOSTNAME_BUF];
	char hostname[HOSTNAME_BUF];
	bool direct;
};

/* 0, -EEXIST when the home holds networks (err says which), or -errno. */
int restore_apply(const char *home, const struct backup *b, char *err, size_t errlen);

/* The networks still to rejoin; *out malloc'd (free it). An absent file
 * is none; entries that do not parse are skipped. 0 or -errno. */
int restore_load(const char *home, struct restore_entry **out, size_t *n);
/* Rewrites the list; n == 0 removes the file. 0 or -errno. */
int restore_save(const char *home, const struct restore_entry *e, size_t n);

#endif
