/*
 * status: builds the `ray status --json` document (schema in docs/CLI.md) from
 * the daemon's live state, or from saved state when no daemon runs.
 */
#ifndef RAYFISH_DAEMON_STATUS_H
#define RAYFISH_DAEMON_STATUS_H

#include <jansson.h>

struct daemon;

/* A new reference to the status document of a running daemon. */
json_t *status_build(struct daemon *d);
/* The same document from the files under home, with "active": false. */
json_t *status_build_offline(const char *home);

#endif
