#!/usr/bin/env bash
# timeout: 200
# Rosters travel over the mesh connections members already hold, and the
# blobs connections anyone may open are bounded. m joins d's open network,
# then c joins and m renames itself: m fetches every new roster from d over
# its mesh connection and opens no blobs connection. A host s opens 12 idle
# blobs connections to d: d keeps at most 4 from that source and closes them
# after 10 s; a blobs connection asking twice is closed after one answer.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init blob_budget
STRANGER=$LAB_BUILD/tests/lab/ray-stranger
[[ -x "$STRANGER" ]] || fail "no $STRANGER (build the project first)"

lab_start_dhtnode
lab_add_host d --direct
lab_add_host m --direct
lab_add_host c --direct
lab_add_host s --direct
lab_start_daemon d
lab_start_daemon m
lab_start_daemon c

room=$(lab_ray d --json create --open --name den --hostname dora | json_get .room_id)
did=$(lab_ray d --json status | json_get .endpoint_id)
target=$(lab_host_ip d):41383

step "m and c join; m renames itself"
lab_ray m join "$room" --hostname mo >/dev/null
wait_for 30 "m reaches dora" lab_path_is m dora direct
lab_ray c join "$room" --hostname cy >/dev/null
wait_for 30 "m reaches cy" lab_path_is m cy direct
lab_ray m hostname den mira >/dev/null
wait_for 30 "c reaches mira" lab_path_is c mira direct

blobs=$(lab_ray m --json status | json_get .blobs)
echo "m blobs: $blobs"
mesh=$(json_get .fetched_mesh <<<"$blobs")
conn=$(json_get .fetched_conn <<<"$blobs")
((mesh >= 2)) || fail "m fetched only $mesh rosters over its mesh connection"
assert_eq 0 "$conn" "rosters m fetched over blobs connections"

step "s opens 12 idle blobs connections to d for 16 s"
lab_spawn s idle.out "$STRANGER" "$target" "$did" 12 16 blobs=0
sout=$LAB_WORK/s/idle.out
finished() { grep -q '^{' "$1"; }
wait_for 30 "the idle run ends" finished "$sout"
res=$(grep '^{' "$sout")
echo "idle blobs run: $res"
max_open=$(json_get .max_open <<<"$res")
open=$(json_get .open <<<"$res")
confirmed=$(json_get .confirmed <<<"$res")
((confirmed >= 1)) || fail "no blobs connection came up"
((max_open <= 4)) || fail "up to $max_open idle blobs connections were open at once"
assert_eq 0 "$open" "idle blobs connections left open past 10 s"
refused=$(lab_ray d --json status | json_get .blobs.refused)
((refused >= 1)) || fail "d refused no blobs connection over the budget"
assert_eq 0 "$(lab_ray d --json status | json_get .blobs.serving)" "blobs connections d still serves"

step "a blobs connection that asks twice is closed"
lab_spawn s twice.out "$STRANGER" "$target" "$did" 1 4 blobs=2
tout=$LAB_WORK/s/twice.out
wait_for 15 "the twice run ends" finished "$tout"
res=$(grep '^{' "$tout")
echo "twice run: $res"
assert_eq 1 "$(json_get .closed <<<"$res")" "connections closed after a second request"

lab_path_is m dora direct || fail "m lost dora"
lab_stop_daemon c
lab_stop_daemon m
lab_stop_daemon d
step "blob_budget passed"
