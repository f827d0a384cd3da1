#!/usr/bin/env bash
# timeout: 300
# NAT traversal end to end. Hosts a and b sit behind two endpoint-independent
# NAT routers, c behind a symmetric one; all hold allocations on the lab's
# coturn. Asserts:
#  * a and b punch through both NATs with disco pings and end on a direct
#    path, and coturn then carries none of their traffic (an nftables counter
#    on the relay host sees no packet between their two allocations while an
#    iperf3 runs between them);
#  * c reaches both through the relay (symmetric mapping: no direct path);
#  * an nftables rule on a's router that drops the direct path in the middle
#    of an iperf3 run moves a and b to the relay within seconds, the TCP
#    stream lives on (iperf3 ends well and moves data while relayed), and
#    the path returns to direct once the rule is gone. The counter proves the
#    relayed phase really went through coturn. This is also the lab's check
#    that a DATAGRAM-only tunnel never stalls: the cut leaves QUIC's window
#    full of lost DATAGRAMs (the TCP stream rides in them; ngtcp2 0.12, which
#    sent no probes for such packets, stalled here for good).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init nat

lab_start_dhtnode
lab_start_coturn
lab_add_host a --nat eim
lab_add_host b --nat eim
lab_add_host c --nat symmetric
for h in a b c; do lab_start_daemon "$h" "RAYFISH_RELAY=$LAB_RELAY"; done

for h in a b c; do wait_for 30 "$h's relay allocation" lab_relay_allocated "$h"; done

step "b creates an open network, a and c join"
room=$(lab_ray b --json create --open --name natnet --hostname bob | json_get .room_id)
wait_for 90 "a joins" lab_ray a join "$room" --hostname alice >/dev/null
wait_for 90 "c joins" lab_ray c join "$room" --hostname carol >/dev/null

step "a and b punch through their NATs"
wait_for 60 "a's path to bob is direct" lab_path_is a bob direct
wait_for 20 "b's path to alice is direct" lab_path_is b alice direct

step "c, behind the symmetric NAT, gets through the relay"
wait_for 60 "c reaches alice through the relay" lab_path_is c alice relay
wait_for 60 "c reaches bob through the relay" lab_path_is c bob relay
a4=$(lab_ray a --json status | json_get '.networks[0].ipv4')
b4=$(lab_ray b --json status | json_get '.networks[0].ipv4')
c4=$(lab_ray c --json status | json_get '.networks[0].ipv4')
wait_for 20 "c pings a over the TUN" lab_exec c ping -c 1 -W 2 "$a4" >/dev/null
wait_for 20 "a pings c over the TUN" lab_exec a ping -c 1 -W 2 "$c4" >/dev/null

step "count what coturn relays between a's and b's allocations"
ra=$(lab_ray a --json netcheck | json_get .relay.relayed_addr)
rb=$(lab_ray b --json netcheck | json_get .relay.relayed_addr)
pa=${ra##*:}
pb=${rb##*:}
ip netns exec "$(lab_ns inet)" nft -f - <<EOF
table ip labcount {
	chain out {
		type filter hook output priority filter; policy accept;
		ip saddr $LAB_INET4 ip daddr $LAB_INET4 udp sport { $pa, $pb } udp dport { $pa, $pb } counter
	}
}
EOF
relayed() {
	ip netns exec "$(lab_ns inet)" nft list table ip labcount |
		sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}

lab_ray b firewall add in allow -p tcp --port 5201 >/dev/null
iperf_run() { # SECONDS LOG: a → b over the mesh, JSON into LOG
	lab_spawn b "iperf3-srv-$2" iperf3 -s -1 -B "$b4" -p 5201
	wait_for 10 "iperf3 server" lab_port_bound b tcp 5201 >/dev/null
	lab_spawn a "$2" iperf3 -c "$b4" -p 5201 -t "$1" -i 1 -J
}
iperf_bps() { # LOG [FIRST_INTERVAL LAST_INTERVAL]: received bits/s (of those intervals)
	perl -MJSON::PP -e 'my ($f, $a, $b) = @ARGV; local $/; open my $h, "<", $f or die;
		my $d = decode_json(<$h>);
		if (defined $a) { my ($s, $t) = (0, 0);
			for my $i (@{$d->{intervals}}[$a .. $b]) { $s += $i->{sum}{bytes}; $t += $i->{sum}{seconds}; }
			printf "%d", $t ? $s * 8 / $t : 0; exit; }
		printf "%d", $d->{end}{sum_received}{bits_per_second} // 0' "$LAB_WORK/a/$1" "${@:2}"
}
iperf_done() { # LOG: the client is gone and left its JSON
	! kill -0 "$LAB_PID" 2>/dev/null && grep -q '"end"' "$LAB_WORK/a/$1"
}

step "a 3 s iperf3 on the direct path; coturn must relay none of it"
before=$(relayed)
iperf_run 3 direct.json
wait_for 20 "the direct iperf3 ends" iperf_done direct.json
bps=$(iperf_bps direct.json)
echo "iperf3 a → b direct: $((bps / 1000000)) Mbit/s"
((bps > 1000000)) || fail "iperf3 moved under 1 Mbit/s on the direct path"
after=$(relayed)
echo "coturn relayed $((after - before)) packets between a and b during it"
((after - before <= 2)) || fail "coturn relayed $((after - before)) packets of a and b's traffic"
lab_path_is a bob direct || fail "the path left direct during the run"

step "drop the direct path mid-iperf3: relay within seconds, TCP lives, direct again after"
gwa=$(lab_ns gw-a)
gwb_wan=$(lab_router_wan_ip b)
iperf_run 30 cut.json
iperf_pid=$LAB_PID
sleep 3
before=$(relayed)
ip netns exec "$gwa" nft -f - <<EOF
table ip labcut {
	chain cut {
		type filter hook forward priority -10; policy accept;
		ip daddr $gwb_wan udp dport 41383 drop
		ip saddr $gwb_wan udp sport 41383 drop
	}
}
EOF
t0=$(date +%s%N)
wait_for 15 "a falls back to the relay" lab_path_is a bob relay
echo "fell back to the relay after $((($(date +%s%N) - t0) / 1000000)) ms"
# TCP backs its retransmissions off during the gap: wait for it to resume.
relay_carries() { (($(relayed) > before + 2000)); }
wait_for 20 "the iperf3 stream flows through coturn" relay_carries
echo "TCP resumed through the relay $((($(date +%s%N) - t0) / 1000000)) ms after the fallback"
ip netns exec "$gwa" nft delete table ip labcut
t0=$(date +%s%N)
wait_for 20 "a's path returns to direct" lab_path_is a bob direct
echo "back on the direct path after $((($(date +%s%N) - t0) / 1000000)) ms"
mid=$(relayed)
sleep 2
after=$(relayed)
((after - mid <= 2)) || fail "coturn still relayed $((after - mid)) packets of a and b after the return"
LAB_PID=$iperf_pid
wait_for 40 "the iperf3 across the cut ends" iperf_done cut.json
bps=$(iperf_bps cut.json)
tail_bps=$(iperf_bps cut.json 27 29)
echo "iperf3 across the cut: $((bps / 1000000)) Mbit/s overall, $((tail_bps / 1000000)) Mbit/s in its last 3 s"
((bps > 1000000)) || fail "the iperf3 across the cut moved under 1 Mbit/s"
((tail_bps > 1000000)) || fail "the TCP stream did not recover after the cut"

for h in a b c; do lab_stop_daemon "$h"; done
step "nat passed"
