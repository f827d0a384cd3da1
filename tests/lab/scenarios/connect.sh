#!/usr/bin/env bash
# timeout: 420
# Direct connections by contact id (`ray contact`, `ray connect`,
# `ray connections`) between hosts behind NATs that share no network:
#  * a mistyped or made-up contact id is refused before anything is asked;
#  * b asks a; `ray connect` waits (a lists the request, status counts it)
#    until a approves; then both hold one two-peer network, role direct,
#    room id hidden, and reach each other by name;
#  * asking again gets the same network, not a second one;
#  * a denial ends c's `ray connect` with a non-zero exit and a sentence;
#  * after a rotates its contact id, the old id is refused as rotated and
#    the new one works;
#  * c and d asking each other at the same moment get exactly one network;
#  * shell completion (ray completions bash) offers what the daemon knows.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init connect

lab_start_dhtnode
lab_start_coturn
lab_add_host a --nat eim
lab_add_host b --nat eim
lab_add_host c --nat eim
lab_add_host d --direct
for h in a b c d; do lab_start_daemon "$h" "RAYFISH_RELAY=$LAB_RELAY_NAMED"; done
# As on a machine that has been up a while: the relay is in each endpoint
# record before anyone dials (else the first dial of a NATed host waits
# for a fresher record).
for h in a b c; do wait_for 30 "$h's relay allocation" lab_relay_allocated "$h"; done

# nets HOST: "name role mode room_id" of each network, one per line
nets() {
	lab_ray "$1" --json status | perl -MJSON::PP -e '
		my $d = decode_json(join "", <STDIN>);
		print "$_->{name} $_->{role} $_->{mode} [$_->{room_id}]\n" for @{$d->{networks}};'
}
# peer_names HOST NET: the hostnames of NET's other members, sorted
peer_names() {
	lab_ray "$1" --json status | perl -MJSON::PP -e '
		my $d = decode_json(join "", <STDIN>);
		for my $net (@{$d->{networks}}) {
			next unless $net->{name} eq $ARGV[0];
			print join(" ", sort map { $_->{hostname} } @{$net->{peers}});
		}' "$2"
}
requests() { lab_ray "$1" --json connections | json_len .; }
has_requests() { [[ "$(requests "$1")" == "$2" ]]; }
# request_id HOST HOSTNAME: the id of HOST's request from HOSTNAME
request_id() {
	lab_ray "$1" --json connections | perl -MJSON::PP -e '
		for (@{decode_json(join "", <STDIN>)}) {
			if ($_->{hostname} eq $ARGV[0]) { print $_->{id}; exit 0 }
		}
		exit 1;' "$2"
}
# spawn_connect HOST TAG ARGS...: `ray ARGS...` in the background on HOST,
# its stdout in TAG.out, stderr in TAG.err and exit status in TAG.rc
spawn_connect() {
	local host=$1 tag=$LAB_WORK/$1/$2
	shift 2
	rm -f "$tag.rc"
	lab_spawn "$host" "$tag.log" bash -c \
		'T=$1; shift; r=0; "$@" >"$T.out" 2>"$T.err" || r=$?; echo $r >"$T.rc"' \
		_ "$tag" "$RAY" "$@"
}
# connect_exit HOST TAG: prints the exit status once that command ended
connect_exit() {
	[[ -f "$LAB_WORK/$1/$2.rc" ]] && cat "$LAB_WORK/$1/$2.rc"
}
connect_running() { [[ ! -f "$LAB_WORK/$1/$2.rc" ]]; }

step "contact ids: each host has one, shown in status"
cid_a=$(lab_ray a --json contact | json_get .contact_id)
[[ ${#cid_a} -ge 40 ]] || fail "a's contact id '$cid_a' is too short"
assert_eq "$cid_a" "$(lab_ray a --json status | json_get .contact_id)" "status contact_id"
assert_eq "$cid_a" "$(lab_ray a contact)" "plain 'ray contact'"

step "bad contact ids are refused with a sentence"
bad=${cid_a:0:10}$([[ ${cid_a:10:1} == x ]] && echo y || echo x)${cid_a:11}
rc=0
out=$(lab_ray b connect "$bad" 2>&1) || rc=$?
((rc != 0)) || fail "a mistyped id was accepted"
assert_contains "$out" "mistyped" "mistyped id"
rc=0
out=$(lab_ray b connect alice 2>&1) || rc=$?
((rc != 0)) || fail "'alice' was taken for a contact id"
assert_contains "$out" "not a contact id" "made-up id"
rc=0
out=$(lab_ray a connect "$cid_a" 2>&1) || rc=$?
((rc != 0)) || fail "a could connect to itself"
assert_contains "$out" "own contact id" "own id"

step "b asks a; the request waits for a's approval"
spawn_connect b ba --json connect "$cid_a" --hostname bob
wait_for 60 "a lists b's request" has_requests a 1
assert_eq 1 "$(lab_ray a --json status | json_get .pending.connect_requests)" "pending connect requests"
assert_eq pending-approval "$(lab_ray b --json status | json_get '.connecting[0].state')" "b's state"
connect_running b ba || fail "b's 'ray connect' ended before any approval: $(cat "$LAB_WORK/b/ba.err")"
[[ -z "$(nets a)$(nets b)" ]] || fail "a network exists before approval: $(nets a) / $(nets b)"

step "a approves: one direct network, both reach each other by name"
id=$(request_id a bob)
name=$(lab_ray a --json connections approve "$id" | json_get .name)
rc=$(wait_for 60 "b's 'ray connect' returns" connect_exit b ba)
assert_eq 0 "$rc" "b's 'ray connect' exit status"
res=$(<"$LAB_WORK/b/ba.out")
assert_eq "$name" "$(json_get .name <<<"$res")" "network name b got"
b4=$(json_get .ipv4 <<<"$res")
[[ "$b4" == 100.* ]] || fail "b's IPv4 '$b4' is not a mesh address"
for h in a b; do
	assert_eq "$name direct closed []" "$(nets "$h")" "$h's networks"
done
assert_eq 0 "$(requests a)" "a's requests after approval"
host_a=$(lab_ray a --json status | json_get '.networks[0].hostname')
wait_for 60 "b pings a by name" lab_exec b ping -c 1 -W 2 "$host_a.$name.ray" >/dev/null
wait_for 30 "a pings b by name" lab_exec a ping -c 1 -W 2 "bob.$name.ray" >/dev/null

step "asking again gets the same network"
res=$(LAB_CMD_TIMEOUT=60 lab_ray b --json connect "$cid_a")
assert_eq "$name" "$(json_get .name <<<"$res")" "network of the second connect"
assert_eq 1 "$(nets b | wc -l)" "b's network count"
assert_eq 1 "$(nets a | wc -l)" "a's network count"

step "a denies c: c's connect fails with a sentence"
spawn_connect c ca connect "$cid_a" --hostname carol
wait_for 60 "a lists c's request" has_requests a 1
lab_ray a connections deny "$(request_id a carol)" >/dev/null
rc=$(wait_for 60 "c's 'ray connect' returns" connect_exit c ca)
((rc != 0)) || fail "c's 'ray connect' succeeded after a denial"
assert_contains "$(<"$LAB_WORK/c/ca.err")" "denied" "c's error"
[[ -z "$(nets c)" ]] || fail "c has a network after a denial: $(nets c)"

step "a rotates its contact id: the old one is refused as rotated"
cid_new=$(lab_ray a --json contact rotate | json_get .contact_id)
assert_ne "$cid_a" "$cid_new" "contact id after rotate"
rc=0
out=$(LAB_CMD_TIMEOUT=90 lab_ray d connect "$cid_a" 2>&1) || rc=$?
((rc != 0)) || fail "the old contact id still works"
assert_contains "$out" "rotated" "old id after rotate"
spawn_connect d da --json connect "$cid_new" --hostname dave
wait_for 60 "a lists d's request under the new id" has_requests a 1
lab_ray a connections approve "$(request_id a dave)" >/dev/null
rc=$(wait_for 60 "d's 'ray connect' returns" connect_exit d da)
assert_eq 0 "$rc" "d's 'ray connect' exit status"
assert_eq 2 "$(nets a | wc -l)" "a's networks (b's and d's)"

step "c and d ask each other at once: one network"
cid_c=$(lab_ray c --json contact | json_get .contact_id)
cid_d=$(lab_ray d --json contact | json_get .contact_id)
spawn_connect c cd --json connect "$cid_d" --hostname carol
spawn_connect d dc --json connect "$cid_c" --hostname dave
assert_eq 0 "$(wait_for 90 "c's 'ray connect' returns" connect_exit c cd)" "c's exit status"
assert_eq 0 "$(wait_for 90 "d's 'ray connect' returns" connect_exit d dc)" "d's exit status"
name_cd=$(json_get .name <"$LAB_WORK/c/cd.out")
name_dc=$(json_get .name <"$LAB_WORK/d/dc.out")
assert_eq "$name_cd direct closed []" "$(nets c)" "c's networks"
assert_eq 2 "$(nets d | wc -l)" "d's networks (a's and the one with c)"
assert_eq dave "$(peer_names c "$name_cd")" "the peers of c's network"
assert_eq carol "$(peer_names d "$name_dc")" "the peers of d's network with c"
assert_eq carol "$(json_get .hostname <"$LAB_WORK/c/cd.out")" "c's name as it asked"
assert_eq dave "$(json_get .hostname <"$LAB_WORK/d/dc.out")" "d's name as it asked"
assert_eq 0 "$(requests c)" "c's requests (mutual: none left to approve)"
assert_eq 0 "$(requests d)" "d's requests (mutual: none left to approve)"
wait_for 60 "c pings dave by name" lab_exec c ping -c 1 -W 2 "dave.$name_cd.ray" >/dev/null

step "shell completion offers the networks, peers and ids the daemon knows"
assert_contains "$(lab_ray a __complete leave '')" "$name" "networks after leave"
assert_contains "$(lab_ray a __complete ping '')" "bob" "peers after ping"
assert_contains "$(lab_ray a __complete connections '')" "approve" "connections subcommands"
out=$(lab_exec a env PATH="$(dirname "$RAY"):$PATH" bash -c '
	eval "$(ray completions bash)"
	COMP_WORDS=(ray kick "$1" ""); COMP_CWORD=3; _ray
	printf "%s\n" "${COMPREPLY[@]}"' _ "$name")
assert_contains "$out" "bob" "bash completion of kick NET"

lab_teardown
