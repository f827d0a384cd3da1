/*
 * control: see control.h. The table is the whole routing: a type absent from
 * it is dropped (logged at debug). CTL_DENIED goes to roster.c first: a
 * coordinator refusing our rename or an admin grant answers DENIED, which
 * join.c would otherwise take for a refused join.
 */
#include "daemon/control.h"

#include "daemon/admission.h"
#include "daemon/blobs.h"
#include "daemon/connect.h"
#include "daemon/daemon.h"
#include "daemon/files.h"
#include "daemon/gate.h"
#include "daemon/join.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "daemon/ping.h"
#include "daemon/roster.h"
#include "util/log.h"

static bool take_join_req(struct daemon *d, struct peer *p, const struct ctl_msg *m)
{
	admission_on_join_req(d, p, m);
	return true;
}

static const struct control_route_entry {
	enum ctl_type type;
	control_handler_fn handlers[CONTROL_MAX_HANDLERS];
} routes[] = {
	{ CTL_HELLO, { roster_on_message } },
	{ CTL_JOIN_REQ, { take_join_req } },
	{ CTL_WELCOME, { join_on_message } },
	{ CTL_PENDING, { join_on_message } },
	{ CTL_DENIED, { roster_on_message, join_on_message } },
	{ CTL_SYNC, { network_on_sync } },
	{ CTL_LEAVE, { network_on_leave } },
	{ CTL_BLOB_GET, { blobs_on_mesh_message } },
	{ CTL_BLOB, { blobs_on_mesh_message } },
	{ CTL_ADMIN_GRANT, { roster_on_message } },
	{ CTL_INVITE_SHARE, { roster_on_message } },
	{ CTL_INVITE_USED, { roster_on_message } },
	{ CTL_PING, { ping_on_message } },
	{ CTL_PONG, { ping_on_message } },
	{ CTL_ENDPOINT, { peers_on_message } },
	{ CTL_ADMIN_TAKEN, { roster_on_message } },
	{ CTL_FILE_OFFER, { files_on_message } },
	{ CTL_FILE_DENY, { files_on_message } },
	{ CTL_FILE_CANCEL, { files_on_message } },
	{ CTL_FILE_GET, { files_on_message } },
	{ CTL_FILE_DATA, { files_on_message } },
	{ CTL_CONNECT_REQ, { connect_on_message } },
	{ CTL_CONNECT_PENDING, { connect_on_message } },
	{ CTL_CONNECT_OK, { connect_on_message } },
	{ CTL_CONNECT_DENIED, { connect_on_message } },
};

static const struct control_route_entry *route_find(enum ctl_type type)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (routes[i].type == type)
			return &routes[i];
	return NULL;
}

size_t control_route(enum ctl_type type, control_handler_fn out[CONTROL_MAX_HANDLERS])
{
	const struct control_route_entry *r = route_find(type);
	size_t n = 0;

	while (r && n < CONTROL_MAX_HANDLERS && r->handlers[n]) {
		out[n] = r->handlers[n];
		n++;
	}
	return n;
}

void control_on_message(struct daemon *d, struct peer *p, const uint8_t *buf, size_t len)
{
	const struct control_route_entry *r;
	struct ctl_msg m;

	if (ctl_decode(buf, len, &m) < 0) {
		if (gate_log_ok(d, p))
			log_warn("peer %.8s: malformed control message dropped", p->id);
		return;
	}
	log_debug("peer %.8s: %s", p->id, ctl_type_name(m.type));
	if (!(r = route_find(m.type)))
		return;
	for (size_t i = 0; i < CONTROL_MAX_HANDLERS && r->handlers[i]; i++)
		if (r->handlers[i](d, p, &m))
			return;
}
