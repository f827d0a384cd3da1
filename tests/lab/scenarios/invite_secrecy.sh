#!/usr/bin/env bash
# timeout: 240
# An invite's secret goes only to coordinators. c creates a closed network
# and admits m, a plain member, by invite. With c offline, j tries a fresh
# invite of c's: after c does not answer, j's next seed is m. j fetches the
# roster (verified against the signed record), sees m is no coordinator and
# asks m without the secret: m can only refuse, and never holds the invite
# (m would log it). The join ends with a clear error; once c is back, the
# same invite admits j, given on standard input (`ray join -`, so it never
# shows in ps).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init invite_secrecy

lab_start_dhtnode
for h in c m j; do lab_add_host "$h" --direct; done
for h in c m j; do lab_start_daemon "$h"; done

step "c creates a closed network; m joins by invite"
room=$(lab_ray c --json create --name vault --hostname cora | json_get .room_id)
code=$(lab_ray c --json invite vault | json_get .code)
wait_for 60 "m joins" lab_ray m join "$code" --hostname max >/dev/null
code=$(lab_ray c --json invite vault | json_get .code)
# m must be among the record's seeds, so j asks it once c is silent.
in_record() { lab_ray m --json status | json_get '.networks[0].peers[0].online' | grep -q true; }
wait_for 30 "m is connected to c" in_record

step "c goes offline; j's join with c's invite must not hand it to m"
lab_stop_daemon c
if err=$(lab_ray j join "$code" --hostname jay 2>&1 >/dev/null); then
	fail "j joined with every coordinator offline"
fi
echo "j's join failed as it must: $err"
assert_contains "$err" "coordinator" "j's join error"
! grep -q "sent us (not a coordinator) an invite" "$LAB_WORK/m/daemon.log" ||
	fail "m, a plain member, received j's invite"
grep -q "the invite goes only to them" "$LAB_WORK/j/daemon.log" ||
	fail "j never checked the roster before asking m"

step "c is back: the same invite, read from standard input, admits j"
lab_start_daemon c
if err=$(lab_ray j join - </dev/null 2>&1); then fail "ray join - with empty input succeeded"; fi
assert_contains "$err" "standard input" "empty stdin error"
join_stdin() { lab_ray j join - --hostname jay <<<"$code" >/dev/null; }
wait_for 90 "j joins with the invite from stdin" join_stdin
assert_eq vault "$(lab_ray j --json status | json_get '.networks[0].name')" "j's network"

for h in c m j; do lab_stop_daemon "$h"; done
step "invite_secrecy passed"
