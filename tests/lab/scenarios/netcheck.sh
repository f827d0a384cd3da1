#!/usr/bin/env bash
# timeout: 240
# ray netcheck and ray ping: a host behind an endpoint-independent NAT, given
# every server by name (the lab's resolver), learns its public address from
# STUN (the real coturn) and holds a TURN allocation; a name that does not
# resolve is logged and the rest of the list still works (b keeps numeric
# servers); wrong relay credentials give a clear line, and in a relay list
# the next entry takes over; ray ping reports
# per-probe RTTs over the encrypted connection, by name and by address.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init netcheck

lab_start_dhtnode
lab_start_coturn
lab_start_names
lab_add_host a --nat eim
lab_add_host b --direct
lab_add_host c --direct
lab_add_host d --nat eim
lab_start_daemon a "RAYFISH_RELAY=$LAB_RELAY_NAMED" "RAYFISH_STUN=$LAB_STUN_NAMED" \
	"RAYFISH_DHT_BOOTSTRAP=$LAB_DHT_NAMED"
lab_start_daemon b "RAYFISH_RELAY=turn:$LAB_TURN_USER:wrong@$LAB_INET4:$LAB_TURN_PORT"
lab_start_daemon c "RAYFISH_RELAY=turn:$LAB_TURN_USER:wrong@relay.lab.example:$LAB_TURN_PORT,$LAB_RELAY_NAMED" \
	"RAYFISH_STUN=nosuch.lab.example:$LAB_TURN_PORT,$LAB_STUN_NAMED"
# d's only STUN server does not resolve: its public address comes from peers.
lab_start_daemon d "RAYFISH_STUN=nosuch.lab.example:$LAB_TURN_PORT"

step "netcheck behind NAT: fixed port, public address = the router's, relay allocated"
wait_for 30 "a's relay allocation" lab_relay_allocated a
nc=$(lab_ray a --json netcheck)
assert_eq 41383 "$(json_get .port <<<"$nc")" "bound port"
assert_eq true "$(json_get .fixed_port <<<"$nc")" "fixed port"
assert_eq true "$(json_get .udp <<<"$nc")" "UDP gets out"
assert_contains "$(json_get .public_addrs <<<"$nc")" "$(lab_router_wan_ip a)" "public address"
assert_contains "$(json_get .relay.relayed_addr <<<"$nc")" "$LAB_INET4:" "relayed address"
rtt=$(json_get .relay.rtt_ms <<<"$nc") || fail "netcheck gives no relay RTT"
((rtt >= 0 && rtt < 1000)) || fail "relay RTT $rtt ms"

step "names: the relay by name and address, a name that does not resolve skipped"
assert_eq "relay.lab.example:$LAB_TURN_PORT ($LAB_INET4:$LAB_TURN_PORT)" \
	"$(json_get .relay.server <<<"$nc")" "a's relay, name and address"
assert_eq "stun.lab.example:$LAB_TURN_PORT" "$(json_get .stun[0].name <<<"$nc")" "a's stun server by name"
assert_contains "$(lab_ray a netcheck)" "stun stun.lab.example:$LAB_TURN_PORT → $LAB_INET4:$LAB_TURN_PORT ok" \
	"netcheck shows name → address"
c_public() { lab_ray c --json netcheck | json_get .public_addrs | grep -q "$(lab_host_ip c)"; }
wait_for 30 "c's public address from its second (named) stun server" c_public
grep -q "nosuch.lab.example:$LAB_TURN_PORT: the name did not resolve" "$LAB_WORK/c/daemon.log" ||
	fail "c does not log the name that did not resolve"
grep -q "stun stun.lab.example:$LAB_TURN_PORT is $LAB_INET4:$LAB_TURN_PORT" "$LAB_WORK/a/daemon.log" ||
	fail "a does not log what its stun name resolved to"

step "wrong relay credentials: a clear line in netcheck and in the log"
failed() { [[ "$(lab_ray b --json netcheck | json_get .relay.state)" == failed ]]; }
wait_for 30 "b's relay refuses" failed
assert_contains "$(lab_ray b netcheck)" "wrong credentials" "netcheck says why"
grep -q "wrong credentials" "$LAB_WORK/b/daemon.log" || fail "the log does not say why"

step "a relay list: the next entry takes over when one refuses"
wait_for 30 "c's relay allocation on its second entry" lab_relay_allocated c
grep -q "wrong credentials" "$LAB_WORK/c/daemon.log" || fail "c never tried its first relay"

step "ray ping over the mesh"
room=$(lab_ray b --json create --open --name lab --hostname bob | json_get .room_id)
wait_for 60 "a joins" lab_ray a join "$room" --hostname alice >/dev/null
connected() { lab_ray a --json ping bob -c 1 >/dev/null; }
wait_for 30 "a reaches bob" connected
out=$(lab_ray a --json ping bob.lab -c 3)
assert_eq 3 "$(json_get .received <<<"$out")" "3 answers"
assert_eq 3 "$(json_len .rtt_ms <<<"$out")" "3 RTTs"
assert_eq direct "$(json_get .path <<<"$out")" "path"
b4=$(lab_ray b --json status | json_get '.networks[0].ipv4')
assert_eq 2 "$(lab_ray a --json ping "$b4" -c 2 | json_get .received)" "ping by address"
if lab_ray a ping nosuch 2>"$LAB_WORK/err"; then fail "ping of an unknown peer succeeded"; fi
assert_contains "$(cat "$LAB_WORK/err")" "no peer named" "unknown peer"

step "no STUN answer: the public address as a peer's disco pong reports it"
assert_eq "[]" "$(lab_ray d --json netcheck | json_get .public_addrs)" "d knows no public address yet"
wait_for 60 "d joins" lab_ray d join "$room" --hostname dave >/dev/null
d_public() { lab_ray d --json netcheck | json_get .public_addrs | grep -q "$(lab_router_wan_ip d):"; }
wait_for 30 "d's public address from pongs" d_public

lab_stop_daemon a
lab_stop_daemon b
lab_stop_daemon c
lab_stop_daemon d
step "netcheck passed"
