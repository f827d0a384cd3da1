#!/usr/bin/env bash
# timeout: 420
# Roster lifecycle: a co-coordinator admits with a gossiped invite while the
# creator is down; renames (with a clash → name-1); kick; ephemeral members
# pruned when offline; nuke; the audit log.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init roster

lab_start_dhtnode
hosts=(a b c d e)
for h in "${hosts[@]}"; do lab_add_host "$h" --direct; done
for h in "${hosts[@]}"; do lab_start_daemon "$h"; done

nets() { lab_ray "$1" --json status | json_len .networks; }
has_nets() { [[ "$(nets "$1")" == "$2" ]] || { echo "$1 has $(nets "$1") networks"; return 1; }; }
peer_names() { # HOST: sorted hostnames of the peers it lists in its first network
	lab_ray "$1" --json status | perl -MJSON::PP -e '
		my $d = decode_json(join "", <STDIN>);
		print join ",", sort map { $_->{hostname} } @{$d->{networks}[0]{peers}}'
}
names_are() { [[ "$(peer_names "$1")" == "$2" ]] || { echo "$1 lists $(peer_names "$1")"; return 1; }; }

step "a creates a closed network; b and c join with invites"
room=$(lab_ray a --json create --name team --hostname alice | json_get .room_id)
code=$(lab_ray a --json invite team | json_get .code)
wait_for 60 "b joins" lab_ray b join "$code" --hostname bob >/dev/null
code=$(lab_ray a --json invite team | json_get .code)
lab_ray c join "$code" --hostname carol >/dev/null

step "a makes b a co-coordinator"
wait_for 30 "a connected to b" names_are a bob,carol
admins_of() { lab_ray "$1" --json admin team list | perl -MJSON::PP -e 'print join ",", sort map { $_->{hostname} } @{decode_json(join "", <STDIN>)}'; }
lab_ray a admin team add bob >/dev/null
# The answer came from b: it holds the key now, and a's roster says so.
assert_eq coordinator "$(lab_ray b --json status | json_get '.networks[0].role')" "b's role when 'admin add' returns"
assert_eq "alice,bob" "$(admins_of a)" "a's roster when 'admin add' returns"
c_knows_bob() { [[ "$(admins_of c)" == "alice,bob" ]]; }
wait_for 30 "c's roster names bob coordinator" c_knows_bob

step "a member that cannot store the key says so, and the roster is unchanged"
keys=$LAB_WORK/c/home/keys
rm -rf "$keys" && touch "$keys"
rc=0; out=$(lab_ray a admin team add carol 2>&1) || rc=$?
rm -f "$keys"
assert_eq 1 "$rc" "admin add carol with a blocked keys directory"
assert_contains "$out" "carol did not take the network key: cannot store the network key" "the grantee's reason"
assert_eq "alice,bob" "$(admins_of a)" "no coordinator without a key"
assert_eq member "$(lab_ray c --json status | json_get '.networks[0].role')" "c's role"

step "a mints an invite and goes offline; b admits d with it"
code=$(lab_ray a --json invite team --hostname dave | json_get .code)
shared() { lab_ray b --json invite team list | grep -q '"hostname": "dave"'; }
wait_for 20 "the invite reached b" shared
lab_stop_daemon a
lab_ray d join "$code" --hostname ignored >/dev/null
assert_eq dave "$(lab_ray d --json status | json_get '.networks[0].hostname')" "d's bound name"
lab_start_daemon a
wait_for 60 "a learns about dave" names_are a bob,carol,dave

step "renames propagate; a clash becomes name-1"
lab_ray c hostname team carl >/dev/null
wait_for 30 "a sees carl" names_are a bob,carl,dave
wait_for 30 "b sees carl" names_are b alice,carl,dave
dns_ok() { [[ -n "$(lab_exec b dig +short @127.0.0.1 carl.team.ray A)" ]]; }
wait_for 30 "b's Magic DNS knows carl" dns_ok
lab_ray d hostname team carl >/dev/null
wait_for 30 "the clash is resolved" names_are a bob,carl,carl-1

step "kick: d is removed everywhere and leaves"
lab_ray a kick team carl-1 >/dev/null
wait_for 30 "d is gone from a" names_are a bob,carl
wait_for 30 "d is gone from b" names_are b alice,carl
wait_for 30 "d dropped the network" has_nets d 0

step "ephemeral: a member offline longer than the limit is pruned"
lab_ray a ephemeral team 3s >/dev/null
assert_eq 3 "$(lab_ray a --json ephemeral team show | json_get .ephemeral_s)" "ephemeral set"
lab_stop_daemon c
wait_for 60 "carl pruned" names_are a bob
lab_ray a ephemeral team off >/dev/null

step "nuke: the network is deleted for everyone"
lab_ray a nuke team >/dev/null
has_nets a 0
wait_for 30 "b leaves the nuked network" has_nets b 0
gone() { ! lab_ray e join "$room" >/dev/null 2>"$LAB_WORK/nuke.err" && grep -q "deleted\|no network" "$LAB_WORK/nuke.err"; }
wait_for 60 "a join after nuke fails" gone

step "the audit log recorded connections"
log=$(cat "$(lab_home a)/audit.log")
tab=$'\t'
assert_contains "$log" "${tab}connect${tab}100." "audit connect"
assert_contains "$log" "${tab}disconnect${tab}100." "audit disconnect"
assert_contains "$log" "${tab}team${tab}" "audit network column"

for h in a b d e; do lab_stop_daemon "$h"; done
step "roster passed"
