#!/usr/bin/env bash
# timeout: 480
# Member relays on default-like settings: every server named, no TURN relay
# configured. a and b each sit behind a symmetric NAT (a new port per
# destination, no unsolicited inbound: hole punching cannot work); rhea has
# a public address, creates the network and, being directly reachable,
# offers to relay for its members. a and b reach each other through rhea:
# `ray ping` both ways names the path "relay" via rhea, ICMP crosses the
# TUN both ways, iperf3 moves data. Printed in the same run: the time from
# b's join to its first ping through the relay, and iperf3 through the
# member relay against a direct path (a to rhea) and, later, TURN.
# Then a TURN relay is configured by name on both (applied live) and rhea's
# daemon stops: a and b move to TURN and their connection never drops.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init member_relay

lab_start_dhtnode
lab_start_coturn # STUN for everyone; its TURN side is configured later
lab_add_host rhea --direct
lab_add_host a --nat symmetric
lab_add_host b --nat symmetric
lab_start_daemon rhea
lab_start_daemon a
lab_start_daemon b

iperf_mbps() { # FROM TO_IP PORT
	local res bps
	res=$(lab_exec "$1" timeout 30 iperf3 -c "$2" -p "$3" -t 5 -J) ||
		fail "iperf3 $1 -> $2 failed: $res"
	bps=$(perl -MJSON::PP -e 'my $d = decode_json(join "", <STDIN>);
		printf "%d", $d->{end}{sum_received}{bits_per_second} // 0' <<<"$res")
	echo $((bps / 1000000))
}

peer_field() { # HOST PEER_HOSTNAME FIELD[.SUB]: that peer's field in ray status
	lab_ray "$1" --json status | perl -MJSON::PP -e '
		my ($peer, $field) = @ARGV;
		local $/;
		my $d = decode_json(<STDIN>);
		for my $p (@{$d->{networks}[0]{peers}}) {
			next unless $p->{hostname} eq $peer;
			my $v = $p;
			$v = ref $v eq "HASH" ? $v->{$_} : undef for split /\./, $field;
			print defined $v ? "$v\n" : "null\n";
			exit 0;
		}
		exit 1' "$2" "$3"
}

path_via() { # FROM PEER PATH RELAY: one answer over that path and relay
	local out
	out=$(lab_ray "$1" --json ping "$2" -c 1 2>/dev/null) || return 1
	[[ "$(json_get .received <<<"$out")" == 1 && "$(json_get .path <<<"$out")" == "$3" &&
		"$(json_get .relay <<<"$out")" == "$4" ]]
}

step "rhea offers relaying; a and b do not (behind NAT)"
offered() { [[ "$(lab_ray "$1" --json netcheck | json_get .member_relay.offered)" == "$2" ]]; }
wait_for 10 "rhea offers relaying" offered rhea true
offered a false || fail "a offers relaying from behind a symmetric NAT"
assert_eq true "$(lab_ray a --json netcheck | json_get .member_relay.enabled)" "relay-members default"

step "rhea creates an open network; a, then b join"
room=$(lab_ray rhea --json create --open --name mesh --hostname rhea | json_get .room_id)
lab_ray a join "$room" --hostname alice >/dev/null
lab_ray b join "$room" --hostname bob >/dev/null
t0=$(date +%s%N)
wait_for 60 "b reaches alice through rhea" path_via b alice relay rhea
t1=$(date +%s%N)
join_ms=$(((t1 - t0) / 1000000))
echo "member relay: b's join to its first ping through rhea: $join_ms ms"
wait_for 20 "a reaches bob through rhea" path_via a bob relay rhea
out=$(lab_ray a --json ping bob.mesh -c 3)
assert_eq 3 "$(json_get .received <<<"$out")" "3 answers through the member relay"
assert_eq relay "$(peer_field a bob path)" "status path to bob"
assert_eq rhea "$(peer_field a bob relay)" "status relay to bob"
assert_eq direct "$(peer_field a rhea path)" "a's own path to rhea"

step "IPv4 over the TUN both ways"
a4=$(lab_ray a --json status | json_get '.networks[0].ipv4')
b4=$(lab_ray b --json status | json_get '.networks[0].ipv4')
r4=$(lab_ray rhea --json status | json_get '.networks[0].ipv4')
wait_for 20 "a pings b" lab_exec a ping -c 1 -W 2 "$b4" >/dev/null
wait_for 20 "b pings a" lab_exec b ping -c 1 -W 2 "$a4" >/dev/null

step "iperf3: through the member relay, and direct (a to rhea)"
lab_ray b firewall add in allow -p tcp --port 5201 >/dev/null
lab_ray rhea firewall add in allow -p tcp --port 5201 >/dev/null
lab_spawn b iperf3.log iperf3 -s -B "$b4" -p 5201
lab_spawn rhea iperf3.log iperf3 -s -B "$r4" -p 5201
wait_for 10 "iperf3 server on b" lab_port_bound b tcp 5201 >/dev/null
wait_for 10 "iperf3 server on rhea" lab_port_bound rhea tcp 5201 >/dev/null
member=$(iperf_mbps a "$b4" 5201)
direct=$(iperf_mbps a "$r4" 5201)
echo "iperf3 a -> b through member rhea: $member Mbit/s; a -> rhea direct: $direct Mbit/s"
((member > 1)) || fail "iperf3 moved under 1 Mbit/s through the member relay"
path_via a bob relay rhea || fail "a's path to bob left the member relay during iperf3"
fwd=$(lab_ray rhea --json netcheck | json_get .member_relay.forwarded)
((fwd > 1000)) || fail "rhea forwarded only $fwd packets"
echo "rhea forwarded $fwd packets"

step "relay-members off on rhea (applied live): rhea stops offering"
lab_ray rhea config set relay-members off >/dev/null
wait_for 10 "rhea no longer offers" offered rhea false
lab_ray rhea config set relay-members on >/dev/null
wait_for 10 "rhea offers again" offered rhea true
wait_for 30 "a reaches bob through rhea again" path_via a bob relay rhea

step "TURN configured by name on a and b (live); rhea leaves; no drop"
bid=$(lab_ray b --json status | json_get .endpoint_id)
before=$(peer_field a bob quic.packets_rx)
lab_ray a config set relay "$LAB_RELAY_NAMED" | grep -q "applied to the running daemon" ||
	fail "a's daemon did not apply the relay setting live"
lab_ray b config set relay "$LAB_RELAY_NAMED" >/dev/null
wait_for 20 "a's relay allocation" lab_relay_allocated a
wait_for 20 "b's relay allocation" lab_relay_allocated b
turn=relay.lab.example:$LAB_TURN_PORT
wait_for 30 "a reaches bob over TURN" path_via a bob relay "$turn"
lab_stop_daemon rhea
wait_for 20 "b reaches alice over TURN, rhea gone" path_via b alice relay "$turn"
out=$(lab_ray a --json ping bob -c 3)
assert_eq 3 "$(json_get .received <<<"$out")" "3 answers over TURN"
after=$(peer_field a bob quic.packets_rx)
((after > before)) || fail "the connection to bob was replaced ($before packets before, $after after)"
! grep -q "peer ${bid:0:8}: disconnected" "$LAB_WORK/a/daemon.log" ||
	fail "a's connection to bob dropped during the move"
turn_mbps=$(iperf_mbps a "$b4" 5201)
echo "iperf3 a -> b over TURN: $turn_mbps Mbit/s"
echo "member relay summary: join->first ping $join_ms ms; Mbit/s direct $direct," \
	"member relay $member ($((member * 100 / (direct > 0 ? direct : 1)))% of direct)," \
	"TURN $turn_mbps ($((member * 100 / (turn_mbps > 0 ? turn_mbps : 1)))% member/TURN)"

lab_stop_daemon a
lab_stop_daemon b
step "member_relay passed"
