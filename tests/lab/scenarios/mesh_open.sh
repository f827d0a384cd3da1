#!/usr/bin/env bash
# timeout: 420
# Foundation scenario: three hosts form an open network through a real DHT
# bootstrap, reach each other over IPv4 and IPv6 through their TUN devices,
# keep working when the creator is offline, rejoin by themselves after a
# restart, and see a leave propagate.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init mesh_open

lab_start_dhtnode
for h in a b c; do lab_add_host "$h" --direct; done
for h in a b c; do lab_start_daemon "$h"; done

peers_online() { # HOST NET COUNT: the host sees COUNT peers online in NET
	local st n
	st=$(lab_ray "$1" --json status) || return 1
	n=$(perl -MJSON::PP -e '
		my $d = decode_json(join "", <STDIN>);
		for my $net (@{$d->{networks}}) {
			next unless $net->{name} eq $ARGV[0];
			print scalar grep { $_->{online} } @{$net->{peers}};
			exit 0;
		}
		print -1;' "$2" <<<"$st")
	[[ "$n" == "$3" ]] || { echo "$1 sees $n of $3 peers online in $2"; return 1; }
}

ping_ok() { # FROM ADDR
	lab_exec "$1" ping -c 1 -W 1 "$2" >/dev/null
}

step "a creates an open network"
out=$(lab_ray a --json create --open --name gaming --hostname alice)
room=$(json_get .room_id <<<"$out")
a4=$(json_get .ipv4 <<<"$out")
a6=$(json_get .ipv6 <<<"$out")
assert_eq gaming "$(json_get .name <<<"$out")" "network name"
[[ "$a4" == 100.* ]] || fail "alice's IPv4 $a4 is not in 100.64/10"

step "b and c join with the room id"
out=$(wait_for 60 "b joins" lab_ray b --json join "$room" --hostname bob)
b4=$(json_get .ipv4 <<<"$out")
b6=$(json_get .ipv6 <<<"$out")
out=$(wait_for 60 "c joins" lab_ray c --json join "$room" --hostname carol)
c4=$(json_get .ipv4 <<<"$out")
c6=$(json_get .ipv6 <<<"$out")
assert_eq gaming "$(json_get .name <<<"$out")" "joined network name"

step "full mesh: everyone sees two peers online"
for h in a b c; do wait_for 60 "$h sees 2 peers" peers_online "$h" gaming 2; done

step "status --json matches the contract"
st=$(lab_ray b --json status)
assert_eq true "$(json_get .active <<<"$st")" "active"
assert_eq member "$(json_get '.networks[0].role' <<<"$st")" "b's role"
assert_eq open "$(json_get '.networks[0].mode' <<<"$st")" "mode"
assert_eq bob "$(json_get '.networks[0].hostname' <<<"$st")" "b's hostname"
assert_eq "$room" "$(json_get '.networks[0].room_id' <<<"$st")" "room id"
for key in no_route spoofed_source parse_error firewall; do
	json_get ".dataplane.drops.$key" <<<"$st" >/dev/null || fail "drop counter $key missing"
done
for key in hostname endpoint_id ipv4 ipv6 coordinator online path rtt_ms tx_bytes rx_bytes; do
	json_get ".networks[0].peers[0].$key" <<<"$st" >/dev/null || fail "peer field $key missing"
done

step "ping every pair over IPv4 and IPv6"
wait_for 20 "a → b v4" ping_ok a "$b4"
wait_for 20 "a → c v6" ping_ok a "$c6"
wait_for 20 "b → c v4" ping_ok b "$c4"
wait_for 20 "c → a v6" ping_ok c "$a6"
wait_for 20 "c → b v6" ping_ok c "$b6"
wait_for 20 "b → a v4" ping_ok b "$a4"
st=$(lab_ray a --json status)
bytes=$(json_get '.networks[0].peers[0].tx_bytes' <<<"$st")
((bytes > 0)) || fail "a's tx_bytes to its first peer is $bytes after pings"

step "ray down is standby (no TUN, connections kept); ray up resumes"
lab_ray b down >/dev/null
assert_eq false "$(lab_ray b --json status | json_get .active)" "b inactive after down"
if lab_exec b ip link show ray0 >/dev/null 2>&1; then fail "ray0 still exists after ray down"; fi
peers_online b gaming 2 || fail "ray down dropped b's peer connections"
lab_ray b up >/dev/null
assert_eq true "$(lab_ray b --json status | json_get .active)" "b active after up"
wait_for 20 "b → a v4 after ray up" ping_ok b "$a4"
wait_for 20 "a → b v6 after ray up" ping_ok a "$b6"

step "b restarts and rejoins on its own"
lab_stop_daemon b
lab_start_daemon b
wait_for 60 "b sees 2 peers again" peers_online b gaming 2
wait_for 20 "b → a v4 after restart" ping_ok b "$a4"

step "the creator goes offline; b and c keep reaching each other"
lab_stop_daemon a
lab_stop_daemon c
lab_start_daemon c
wait_for 60 "c sees b" peers_online c gaming 1
wait_for 20 "c → b v4 without the creator" ping_ok c "$b4"
wait_for 20 "b → c v6 without the creator" ping_ok b "$c6"

step "a returns; c leaves and the roster drops it everywhere"
lab_start_daemon a
wait_for 60 "a sees 2 peers" peers_online a gaming 2
lab_ray c leave gaming >/dev/null
members() { # HOST COUNT
	local n
	n=$(lab_ray "$1" --json status | json_len '.networks[0].peers')
	[[ "$n" == "$2" ]] || { echo "$1 lists $n peers, want $2"; return 1; }
}
wait_for 30 "a's roster drops c" members a 1
wait_for 30 "b's roster drops c" members b 1
assert_eq 0 "$(lab_ray c --json status | json_len .networks)" "c has no networks"
if lab_exec b ping -c 1 -W 1 "$c4" >/dev/null 2>&1; then
	fail "b still reaches c after c left"
fi

step "bad input: unknown room id and a malformed one fail cleanly"
if lab_ray c join 0000000000000000000000000000000000000000000000000000000000000000 2>"$LAB_WORK/err.txt"; then
	fail "joining a room with no record succeeded"
fi
if lab_ray c join not-a-room 2>"$LAB_WORK/err2.txt"; then fail "a malformed room id was accepted"; fi
assert_contains "$(cat "$LAB_WORK/err2.txt")" "room id"

for h in a b c; do lab_stop_daemon "$h"; done
step "mesh_open passed"
