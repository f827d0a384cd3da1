/*
 * commands: the daemon's IPC command table. Each row names a command, says
 * who may call it (everyone for a read; only root or the operator for what
 * changes the node) and points at its handler. Handlers answer through
 * ipc_reply*.
 */
#include "daemon/connect.h"
#include "daemon/dashboard.h"
#include "daemon/metrics.h"
#include "daemon/files.h"
#include "daemon/daemon.h"
#include "daemon/admission.h"
#include "daemon/datapath.h"
#include "daemon/lan_discovery.h"
#include "daemon/magicdns.h"
#include "daemon/nat.h"
#include "daemon/network.h"
#include "daemon/join.h"
#include "daemon/ping.h"
#include "daemon/firewall_policy.h"
#include "daemon/restore.h"
#include "daemon/roster.h"
#include "daemon/status.h"
#include "cli/git_rev.h"
#include "util/log.h"

#include <string.h>

typedef void (*handler_fn)(struct daemon *d, struct ipc_request *req);

static void h_version(struct daemon *d, struct ipc_request *req)
{
	(void)d;
	ipc_reply(req, json_pack("{s:s, s:s}", "version", RAYFISH_VERSION, "git", RAYFISH_GIT));
}

/* The settings the daemon runs with (its environment included). */
static void h_settings(struct daemon *d, struct ipc_request *req)
{
	ipc_reply(req, settings_to_json(&d->settings));
}

static void h_status(struct daemon *d, struct ipc_request *req)
{
	ipc_reply(req, status_build(d));
}

static void h_up(struct daemon *d, struct ipc_request *req)
{
	const char *host = json_string_value(json_object_get(req->args, "hostname"));
	char err[512];
	int ret;

	if (host && (settings_validate(SET_HOSTNAME, host, err, sizeof(err)) < 0 ||
		     settings_persist(d->home, SET_HOSTNAME, host, err, sizeof(err)) < 0)) {
		ipc_reply_error(req, "%s", err);
		return;
	}
	if (host)
		settings_set(&d->settings, SET_HOSTNAME, host, err, sizeof(err));
	ret = datapath_up(d);

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

enum access {
	OPEN,     /* a read: every local user */
	OPER,     /* changes the node: root or the operator */
	OPER_SET, /* a read without "value", a change with it */
};

static const struct {
	const char *cmd;
	enum access access;
	handler_fn fn;
} table[] = {
	{ "version", OPEN, h_version },
	{ "status", OPEN, h_status },
	{ "up", OPER, h_up },
	{ "down", OPER, h_down },
	{ "create", OPER, network_cmd_create },
	{ "join", OPER, network_cmd_join },
	{ "leave", OPER, network_cmd_leave },
	{ "invite", OPER, admission_cmd_invite },
	{ "invite_list", OPEN, admission_cmd_invite_list },
	{ "invite_revoke", OPER, admission_cmd_invite_revoke },
	{ "requests", OPEN, admission_cmd_requests },
	{ "accept", OPER, admission_cmd_accept },
	{ "deny", OPER, admission_cmd_deny },
	{ "hostname", OPER, roster_cmd_hostname },
	{ "kick", OPER, roster_cmd_kick },
	{ "nuke", OPER, roster_cmd_nuke },
	{ "admin_add", OPER, roster_cmd_admin_add },
	{ "admin_list", OPEN, roster_cmd_admin_list },
	{ "ephemeral", OPER, roster_cmd_ephemeral },
	{ "netcheck", OPEN, nat_cmd_netcheck },
	{ "reload", OPER, daemon_cmd_reload },
	{ "ping", OPEN, ping_cmd },
	{ "mdns", OPER_SET, lan_cmd_mdns },
	{ "fw_show", OPEN, policy_cmd_show },
	{ "fw_add", OPER, policy_cmd_add },
	{ "fw_remove", OPER, policy_cmd_remove },
	{ "fw_set", OPER, policy_cmd_set },
	{ "fw_suggest", OPER, policy_cmd_suggest },
	{ "fw_suggest_all", OPER, policy_cmd_suggest_all },
	{ "fw_pending", OPEN, policy_cmd_pending },
	{ "fw_accept", OPER, policy_cmd_accept },
	{ "fw_deny", OPER, policy_cmd_deny },
	{ "fw_auto_accept", OPER, policy_cmd_auto_accept },
	{ "send", OPER, files_cmd_send },
	{ "files", OPEN, files_cmd_list },
	{ "files_accept", OPER, files_cmd_accept },
	{ "files_deny", OPER, files_cmd_deny },
	{ "files_cancel", OPER, files_cmd_cancel },
	{ "contact", OPEN, connect_cmd_contact },
	{ "contact_rotate", OPER, connect_cmd_rotate },
	{ "connect", OPER, connect_cmd_connect },
	{ "connections", OPEN, connect_cmd_list },
	{ "connections_approve", OPER, connect_cmd_approve },
	{ "connections_deny", OPER, connect_cmd_deny },
	{ "pair_backup", OPER, restore_cmd_backup },
	{ "logs", OPER, daemon_cmd_logs },
	{ "settings", OPER, h_settings },
	{ "dashboard", OPER, dashboard_cmd },
	{ "metrics", OPEN, metrics_cmd },
};

/* By key presence, whatever its type: the handler decides read or write by
 * the same key, so no request is a write that passed as a read. */
static bool needs_operator(enum access access, const struct ipc_request *req)
{
	if (access == OPER_SET)
		return json_object_get(req->args, "value") != NULL;
	return access == OPER;
}

void daemon_dispatch(struct ipc_request *req, void *ud)
{
	struct daemon *d = ud;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(table[i].cmd, req->cmd) != 0)
			continue;
		if (needs_operator(table[i].access, req) && !daemon_authorized(d, req->uid)) {
			if (ipc_server_log_ok(&d->ipc))
				log_warn("ipc: uid %u refused for '%s'", (unsigned)req->uid,
					 req->cmd);
			ipc_reply_error(
				req,
				"'%s' needs root or the operator (see 'ray config set operator')",
				req->cmd);
			return;
		}
		table[i].fn(d, req);
		return;
	}
	ipc_reply_error(req, "unknown command '%s' (is the daemon older than this ray?)", req->cmd);
}
