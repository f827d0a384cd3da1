#!/usr/bin/env bash
# timeout: 400
# A first day: `ray join` issued the moment `ray create` returns on another
# host succeeds, 20 times in a row, while both daemons' STUN server (named,
# as users write it) never answers, so nothing may wait on it. `ray create`
# returns once its record is stored in the DHT ("published": true), so the
# joiner's first lookup finds it. From round 11 a's DHT traffic is held back
# for 2 s after each create (a slow uplink): its record may reach the DHT
# only after create stopped waiting (15 s; "published": false, a warning on
# stderr), and then the joiner looks the network up again until it is
# there. A join of a room that does not exist shows its lookups on stderr
# and gives up with a clear sentence.
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
slow=0
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
	created=$(lab_ray a --json create --open --name "day$i" --hostname alice 2>"$LAB_WORK/create.err")
	room=$(json_get .room_id <<<"$created")
	published=$(json_get .published <<<"$created" || echo missing)
	if ((i <= 10)); then
		assert_eq true "$published" "round $i: create says the record is stored"
	elif [[ "$published" == false ]]; then
		assert_contains "$(cat "$LAB_WORK/create.err")" "still publishing the network record" \
			"round $i: create's warning"
		slow=$((slow + 1))
	else
		assert_eq true "$published" "round $i: create's published"
	fi
	misses=$(grep -c "network not in the DHT yet" "$LAB_WORK/b/daemon.log" || true)
	t0=$(date +%s%N)
	lab_ray b join "$room" --hostname bob >"$LAB_WORK/join.out" 2>&1 ||
		fail "round $i: join right after create failed: $(cat "$LAB_WORK/join.out")"
	t1=$(date +%s%N)
	if [[ "$published" == true ]]; then
		assert_eq "$misses" "$(grep -c "network not in the DHT yet" "$LAB_WORK/b/daemon.log" || true)" \
			"round $i: lookups of b that found nothing after a stored create"
	fi
	total=$((total + (t1 - t0) / 1000000))
	reached() { lab_ray b --json ping "alice.day$1" -c 1 >/dev/null; }
	wait_for 30 "round $i: b reaches alice.day$i" reached "$i"
	lab_ray b leave "day$i" >/dev/null
	lab_ray a leave "day$i" >/dev/null
done
step "20 joins succeeded; mean join time $((total / 20)) ms; $slow creates still publishing at return"

step "a join of a room nobody created: progress on stderr, a clear error at the bound"
nobody_room=$(printf '%064d' 7)
if lab_ray b join "$nobody_room" >"$LAB_WORK/nojoin.out" 2>"$LAB_WORK/nojoin.err"; then
	fail "joining a room nobody created succeeded"
fi
assert_eq "" "$(cat "$LAB_WORK/nojoin.out")" "stdout of the failed join"
assert_contains "$(cat "$LAB_WORK/nojoin.err")" "looking up the network in the DHT… (attempt " "progress"
assert_contains "$(cat "$LAB_WORK/nojoin.err")" "no network with that room id was found in the DHT" "error"
if lab_ray b --json join "$nobody_room" >"$LAB_WORK/nojoin.out" 2>"$LAB_WORK/nojoin.err"; then
	fail "joining a room nobody created succeeded (--json)"
fi
assert_eq "" "$(cat "$LAB_WORK/nojoin.out")" "stdout of the failed --json join"
assert_eq 0 "$(grep -c "attempt" "$LAB_WORK/nojoin.err" || true)" "no progress lines with --json and stderr not a terminal"

lab_stop_daemon a
lab_stop_daemon b
step "first_day passed"
