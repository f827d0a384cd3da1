/*
 * commands: the daemon's IPC command table. Each row names a command, says
 * whether it changes the node (then only root or the operator may call it),
 * and points at its handler. Handlers answer through ipc_reply*.
 */
#include "daemon/daemon.h"
#include "daemon/admission.h"
#include "daemon/datapath.h"
#include "daemon/lan.h"
#include "daemon/magicdns.h"
#include "daemon/nat.h"
#include "daemon/network.h"
#include "daemon/ping.h"
#include "daemon/policy.h"
#include "daemon/roster.h"
#include "daemon/status.h"
#include "util/log.h"

#include <string.h>

typedef void (*handler_fn)(struct daemon *d, struct ipc_request *req);

static void h_version(struct daemon *d, struct ipc_request *req)
{
	(void)d;
	ipc_reply(req, json_pack("{s:s}", "version", RAYFISH_VERSION));
}

static void h_status(struct daemon *d, struct ipc_request *req)
{
	ipc_reply(req, status_build(d));
}

static void h_up(struct daemon *d, struct ipc_request *req)
{
	int ret = datapath_up(d);

	if (ret < 0) {
		ipc_reply_error(req, "cannot bring the TUN device up: %s", strerror(-ret));
		return;
	}
	magicdns_up(d);
	d->active = true;
	ipc_reply(req, json_pack("{s:b}", "active", 1));
}

static void h_down(struct daemon *d, struct ipc_request *req)
{
	magicdns_down(d);
	datapath_down(d);
	d->active = false;
	ipc_reply(req, json_pack("{s:b}", "active", 0));
}

static const struct {
	const char *cmd;
	bool mutates;
	handler_fn fn;
} table[] = {
	{ "version", false, h_version },
	{ "status", false, h_status },
	{ "up", true, h_up },
	{ "down", true, h_down },
	{ "create", true, network_cmd_create },
	{ "join", true, network_cmd_join },
	{ "leave", true, network_cmd_leave },
	{ "invite", true, admission_cmd_invite },
	{ "invite_list", false, admission_cmd_invite_list },
	{ "invite_revoke", true, admission_cmd_invite_revoke },
	{ "requests", false, admission_cmd_requests },
	{ "accept", true, admission_cmd_accept },
	{ "deny", true, admission_cmd_deny },
	{ "hostname", true, roster_cmd_hostname },
	{ "kick", true, roster_cmd_kick },
	{ "nuke", true, roster_cmd_nuke },
	{ "admin_add", true, roster_cmd_admin_add },
	{ "admin_list", false, roster_cmd_admin_list },
	{ "ephemeral", true, roster_cmd_ephemeral },
	{ "netcheck", false, nat_cmd_netcheck },
	{ "reload", true, daemon_cmd_reload },
	{ "ping", false, ping_cmd },
	{ "mdns", true, lan_cmd_mdns },
	{ "fw_show", false, policy_cmd_show },
	{ "fw_add", true, policy_cmd_add },
	{ "fw_remove", true, policy_cmd_remove },
	{ "fw_set", true, policy_cmd_set },
	{ "fw_suggest", true, policy_cmd_suggest },
	{ "fw_suggest_all", true, policy_cmd_suggest_all },
	{ "fw_pending", false, policy_cmd_pending },
	{ "fw_accept", true, policy_cmd_accept },
	{ "fw_deny", true, policy_cmd_deny },
	{ "fw_auto_accept", true, policy_cmd_auto_accept },
};

void daemon_dispatch(struct ipc_request *req, void *ud)
{
	struct daemon *d = ud;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(table[i].cmd, req->cmd) != 0)
			continue;
		if (table[i].mutates && !daemon_authorized(d, req->uid)) {
			log_warn("ipc: uid %u refused for '%s'", (unsigned)req->uid, req->cmd);
			ipc_reply_error(req, "'%s' needs root or the operator (see 'ray config set operator')",
					req->cmd);
			return;
		}
		table[i].fn(d, req);
		return;
	}
	ipc_reply_error(req, "unknown command '%s' (is the daemon older than this ray?)",
			req->cmd);
}
