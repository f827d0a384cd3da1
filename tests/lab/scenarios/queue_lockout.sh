#!/usr/bin/env bash
# timeout: 240
# Throwaway keys cannot lock a closed network's approval queue. A host s
# sends join requests under fresh identities: at most 4 of one source are
# queued however many it sends (a second batch while the first still waits
# gets PENDING without a place), and requests whose joiner went away expire
# 20 s later. A real joiner b is then queued, accepted and joins.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init queue_lockout
STRANGER=$LAB_BUILD/tests/lab/ray-stranger
[[ -x "$STRANGER" ]] || fail "no $STRANGER (build the project first)"

lab_start_dhtnode
for h in c s b; do lab_add_host "$h" --direct; done
lab_start_daemon c
lab_start_daemon b

room=$(lab_ray c --json create --name vault --hostname cora | json_get .room_id)
cid=$(lab_ray c --json status | json_get .endpoint_id)
target=$(lab_host_ip c):41383
queued() { lab_ray c --json requests vault | json_len .; }
queued_is() { [[ "$(queued)" == "$1" ]]; }

step "s asks to join under 4 fresh keys, then 4 more while those wait"
lab_spawn s batch1.out "$STRANGER" "$target" "$cid" 4 8 "join=$room"
wait_for 15 "4 requests queued" queued_is 4
lab_spawn s batch2.out "$STRANGER" "$target" "$cid" 4 8 "join=$room"
sout2=$LAB_WORK/s/batch2.out
b2_up() { grep -q "confirmed=[1-9]" "$sout2"; }
wait_for 15 "the second batch is up" b2_up
sleep 2 # the requests are in; the assertion is the count
n=$(queued)
((n <= 4)) || fail "one source holds $n places in the queue"

step "the throwaway joiners leave: their requests expire"
wait_for 60 "the queue empties" queued_is 0

step "a real joiner is queued, accepted and joins"
out=$(wait_for 60 "b's request reaches c" lab_ray b --json join "$room" --hostname bob)
assert_eq true "$(json_get .pending <<<"$out")" "b is pending"
reqs=$(lab_ray c --json requests vault)
lab_ray c accept vault "$(json_get '[0].id' <<<"$reqs")" >/dev/null
member() { [[ "$(lab_ray b --json status | json_len .networks)" == 1 ]]; }
wait_for 30 "b becomes a member" member

lab_stop_daemon b
lab_stop_daemon c
step "queue_lockout passed"
