/*
 * firewall_policy: the node's firewall as the daemon runs it. Owns the firewall and
 * its conntrack table, $RAYFISH_HOME/firewall.json, the `ray firewall`
 * commands, and the coordinators' suggested rules: a coordinator publishes
 * them in the signed roster (`ray firewall suggest`); every node turns the
 * ones for its own hostname and for `*` into rules (peer hostnames resolved
 * against the same verified roster) and installs them at once when it
 * auto-accepts that network, or queues them for `ray firewall accept`.
 *
 * Suggestions in the roster (group_blob firewall bytes) are the msgpack form
 * of {"SUBJECT": {"allow": [TOKEN...], "deny": [TOKEN...]}}, a TOKEN being
 * "peer:proto:ports", "proto:ports" or "proto" (peer and subject "*" = any).
 */
#ifndef RAYFISH_DAEMON_FIREWALL_POLICY_H
#define RAYFISH_DAEMON_FIREWALL_POLICY_H

#include <stddef.h>

#include "ipc/ipc_server.h"

struct daemon;
struct network;

int policy_open(struct daemon *d);
void policy_close(struct daemon *d);
/* Peers or networks changed: re-resolve rule peers and scopes. */
void policy_recompile(struct daemon *d);
/* A verified roster was adopted: materialize its suggestions for us. */
void policy_on_roster(struct daemon *d, struct network *n);
/* n is being forgotten (left, nuked, dropped us): the rules it suggested
 * go, so they neither outlive it nor pass, by name, to a network joined
 * later under the same alias. */
void policy_forget(struct daemon *d, const struct network *n);
/* Suggested rules waiting for consent, all networks. */
size_t policy_pending_count(struct daemon *d);

void policy_cmd_show(struct daemon *d, struct ipc_request *req);
void policy_cmd_add(struct daemon *d, struct ipc_request *req);
void policy_cmd_remove(struct daemon *d, struct ipc_request *req);
void policy_cmd_set(struct daemon *d, struct ipc_request *req);
void policy_cmd_suggest(struct daemon *d, struct ipc_request *req);
void policy_cmd_suggest_all(struct daemon *d, struct ipc_request *req);
void policy_cmd_pending(struct daemon *d, struct ipc_request *req);
void policy_cmd_accept(struct daemon *d, struct ipc_request *req);
void policy_cmd_deny(struct daemon *d, struct ipc_request *req);
void policy_cmd_auto_accept(struct daemon *d, struct ipc_request *req);

#endif
