#!/usr/bin/env bash
# timeout: 240
# LAN discovery: two hosts behind one home router form a network, then the
# DHT goes away; restarted, they still find each other over mDNS and their
# mesh works. With mDNS off they cannot.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init mdns

lab_start_dhtnode
lab_add_host a --nat eim --lan home
lab_add_host b --nat eim --lan home
lab_start_daemon a
lab_start_daemon b
room=$(lab_ray a --json create --open --name house --hostname alice | json_get .room_id)
wait_for 60 "b joins" lab_ray b join "$room" --hostname bob >/dev/null
a4=$(lab_ray a --json status | json_get '.networks[0].ipv4')
online() { [[ "$(lab_ray "$1" --json status | json_get '.networks[0].peers[0].online')" == true ]]; }
wait_for 30 "b online" online b

step "the DHT bootstrap goes away"
read -r dpid <"$LAB_WORK/inet/dhtnode.pid"
kill -TERM "$dpid"
gone() { ! lab_port_bound inet udp "$LAB_DHT_PORT"; }
wait_for 10 "dhtnode stopped" gone

step "both restart with the DHT unreachable and reconnect over mDNS"
lab_stop_daemon a
lab_stop_daemon b
lab_start_daemon a
lab_start_daemon b
wait_for 45 "b reconnects via mDNS" online b
wait_for 20 "b → a over the mesh" lab_exec b ping -c 1 -W 1 "$a4" >/dev/null
assert_eq on "$(lab_ray a --json mdns | json_get .mdns)" "mdns setting"

step "with mDNS off on both, a restart finds no path"
lab_ray a mdns off >/dev/null
lab_ray b mdns off >/dev/null
lab_stop_daemon a
lab_stop_daemon b
lab_start_daemon a
lab_start_daemon b
sleep 8 # give discovery a fair chance; the assertion is that nothing connected
if online b; then fail "b connected with mDNS off and no DHT"; fi
lab_ray b mdns on >/dev/null
lab_ray a mdns on >/dev/null
wait_for 45 "mDNS back on: b reconnects" online b

lab_stop_daemon a
lab_stop_daemon b
step "mdns passed"
