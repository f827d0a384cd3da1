/*
 * control: the dispatch of the mesh control stream. Each message that comes
 * through the gate's bucket is decoded once here and handed to the features
 * its type is routed to, in the table's order; the first that takes it ends
 * it. A feature that adds a message type adds one table entry (control.c)
 * and its handler; nothing else learns of it.
 */
#ifndef RAYFISH_DAEMON_CONTROL_H
#define RAYFISH_DAEMON_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/control.h"

struct daemon;
struct peer;

/* True when the handler took m (it is not offered to the next one). */
typedef bool (*control_handler_fn)(struct daemon *d, struct peer *p, const struct ctl_msg *m);

#define CONTROL_MAX_HANDLERS 2

/* One message from peer p (buf: a whole frame's payload, borrowed). A
 * malformed one is dropped and logged within the peer's log budget. */
void control_on_message(struct daemon *d, struct peer *p, const uint8_t *buf, size_t len);

/* The handlers type is routed to, in order (for tests): their count, and
 * up to CONTROL_MAX_HANDLERS of them in out. */
size_t control_route(enum ctl_type type, control_handler_fn out[CONTROL_MAX_HANDLERS]);

#endif
