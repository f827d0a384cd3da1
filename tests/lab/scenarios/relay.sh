#!/usr/bin/env bash
# timeout: 300
# The relay data path: two hosts each behind a symmetric NAT (a new port per
# destination, no unsolicited inbound: hole punching cannot work) both keep
# a TURN allocation on the lab's coturn and publish its relayed address.
# They form an open network and carry traffic TURN to TURN (a's allocation
# relays to b's): the mesh ping and ICMP over the TUN get through, `ray ping`
# and `ray status` report the path as relay, and a 5 s iperf3 TCP run moves
# data through the relay. The one scenario whose daemons get every server
# by number (LAB_NUMERIC): the numeric form must keep working.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init relay
LAB_NUMERIC=1

lab_start_dhtnode
lab_start_coturn
lab_add_host a --nat symmetric
lab_add_host b --nat symmetric
lab_start_daemon a "RAYFISH_RELAY=$LAB_RELAY"
lab_start_daemon b "RAYFISH_RELAY=$LAB_RELAY"

step "both hosts hold a relay allocation"
wait_for 30 "a's relay allocation" lab_relay_allocated a
wait_for 30 "b's relay allocation" lab_relay_allocated b
assert_contains "$(lab_ray a --json netcheck | json_get .relay.relayed_addr)" "$LAB_INET4:" \
	"a's relayed address"

step "b creates an open network, a joins through the relay"
room=$(lab_ray b --json create --open --name relayed --hostname bob | json_get .room_id)
wait_for 90 "a joins" lab_ray a join "$room" --hostname alice >/dev/null

step "ray ping over the mesh reports the relay path"
connected() { lab_ray a --json ping bob -c 1 >/dev/null; }
wait_for 60 "a reaches bob" connected
out=$(lab_ray a --json ping bob.relayed -c 3)
assert_eq 3 "$(json_get .received <<<"$out")" "3 answers"
assert_eq relay "$(json_get .path <<<"$out")" "a's path to bob"
assert_eq relay "$(lab_ray b --json ping alice -c 1 | json_get .path)" "b's path to alice"
assert_eq relay "$(lab_ray a --json status | json_get '.networks[0].peers[0].path')" "status path"

step "IPv4 over the TUN both ways"
a4=$(lab_ray a --json status | json_get '.networks[0].ipv4')
b4=$(lab_ray b --json status | json_get '.networks[0].ipv4')
wait_for 20 "a pings b" lab_exec a ping -c 1 -W 2 "$b4" >/dev/null
wait_for 20 "b pings a" lab_exec b ping -c 1 -W 2 "$a4" >/dev/null

step "a 5 s iperf3 through the relay"
lab_ray b firewall add in allow -p tcp --port 5201 >/dev/null
lab_spawn b iperf3.log iperf3 -s -1 -B "$b4" -p 5201
wait_for 10 "iperf3 server" lab_port_bound b tcp 5201 >/dev/null
res=$(lab_exec a timeout 30 iperf3 -c "$b4" -p 5201 -t 5 -J) || fail "iperf3 failed: $res"
bps=$(perl -MJSON::PP -e 'my $d = decode_json(join "", <STDIN>);
	printf "%d", $d->{end}{sum_received}{bits_per_second} // 0' <<<"$res")
echo "iperf3 through the relay: $((bps / 1000000)) Mbit/s"
((bps > 1000000)) || fail "iperf3 moved under 1 Mbit/s through the relay ($bps bit/s)"
assert_eq relay "$(lab_ray a --json ping bob -c 1 | json_get .path)" "still relayed"

lab_stop_daemon a
lab_stop_daemon b
step "relay passed"
