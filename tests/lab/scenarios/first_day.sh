#!/usr/bin/env bash
# timeout: 400
# A first day: `ray join` issued the moment `ray create` returns on another
# host succeeds, 20 times in a row, while both daemons' STUN server (named,
# as users write it) never answers, so nothing may wait on it. The joiner
# looks the network up again until the record is there. From round 11 a's
# DHT traffic is held back for 2 s after each create (a slow uplink): its
# record reaches the DHT well after b starts looking.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init first_day

lab_start_dhtnode
lab_add_host a --direct
lab_add_host b --direct
# Nothing listens on this port: every STUN request times out.
dead_stun="RAYFISH_STUN=stun.lab.example:3999"
lab_start_daemon a "$dead_stun"
lab_start_daemon b "$dead_stun"

step "20 rounds: create on a, join on b at once, ping, both leave"
total=0
for i in $(seq 1 20); do
	if ((i > 10)); then
		# a's DHT traffic is held back for 2 s from the create on, so
		# b looks before the record can be stored anywhere.
		lab_exec a nft -f - <<-NFT
		table inet firstday {
			chain out { type filter hook output priority 0; udp dport != { 53, 41383 } drop; }
		}
		NFT
		lab_spawn a "$LAB_WORK/unblock.log" bash -c 'sleep 2; nft delete table inet firstday'
	fi
	room=$(lab_ray a --json create --open --name "day$i" --hostname alice | json_get .room_id)
	t0=$(date +%s%N)
	lab_ray b join "$room" --hostname bob >"$LAB_WORK/join.out" 2>&1 ||
		fail "round $i: join right after create failed: $(cat "$LAB_WORK/join.out")"
	t1=$(date +%s%N)
	total=$((total + (t1 - t0) / 1000000))
	reached() { lab_ray b --json ping "alice.day$1" -c 1 >/dev/null; }
	wait_for 30 "round $i: b reaches alice.day$i" reached "$i"
	lab_ray b leave "day$i" >/dev/null
	lab_ray a leave "day$i" >/dev/null
done
step "20 joins succeeded; mean join time $((total / 20)) ms"

lab_stop_daemon a
lab_stop_daemon b
step "first_day passed"
