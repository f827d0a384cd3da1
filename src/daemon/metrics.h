/*
 * metrics: the Prometheus endpoint (setting metrics-listen, default
 * 127.0.0.1:9090; "off" for none). See metrics.c.
 */
#ifndef RAYFISH_DAEMON_METRICS_H
#define RAYFISH_DAEMON_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ipc/ipc_server.h"

struct daemon;

/* Counters the status document does not carry. */
struct metrics_extra {
	bool dht_connected;
	size_t dht_puts, dht_puts_announced;
	unsigned long long joins_ok, joins_failed, admitted, connections_up, scrapes;
};

/* Starts serving when the setting asks for it; a port that cannot be bound
 * is logged and skipped, never fatal. 0 or -errno. */
int metrics_open(struct daemon *d);
void metrics_close(struct daemon *d);
/* IPC metrics: {"text"}, the page as of now (also with metrics-listen
 * off: `ray report` takes it). */
void metrics_cmd(struct daemon *d, struct ipc_request *req);
/* Renders the page the server hands out; every tick. */
void metrics_tick(struct daemon *d);

/* The exposition text for status document st (malloc'd), or NULL. */
char *metrics_format(const json_t *st, const struct metrics_extra *x, const char *git);

#endif
