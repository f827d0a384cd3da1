#!/usr/bin/env bash
# timeout: 240
# Strangers cannot exhaust a node. A host s opens 12 mesh connections to the
# coordinator d, each under a fresh identity, and never asks to join: d keeps
# at most 4 from that one source at a time (the rest are closed at once) and
# closes those too once their 15 s window to join passes. Meanwhile j, a real
# joiner from another address, joins and reaches d by name. Then one stranger
# floods control messages: d drops what is over the per-peer rate and counts
# it. Last, four strangers flood messages that do not decode, each worth a
# warning: d's log gains a bounded number of lines (the strangers share one
# bucket) and counts the rest as held back; d's audit log names only j.
# `ray status --json` reports the gate's counters.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init strangers
STRANGER=$LAB_BUILD/tests/lab/ray-stranger
[[ -x "$STRANGER" ]] || fail "no $STRANGER (build the project first)"

lab_start_dhtnode
lab_add_host d --direct
lab_add_host s --direct
lab_add_host j --direct
lab_start_daemon d
lab_start_daemon j

room=$(lab_ray d --json create --open --name den --hostname dora | json_get .room_id)
did=$(lab_ray d --json status | json_get .endpoint_id)
target=$(lab_host_ip d):41383

step "s opens 12 stranger connections to d for 25 s"
lab_spawn s stranger.out "$STRANGER" "$target" "$did" 12 25
sout=$LAB_WORK/s/stranger.out
opened() { grep -q "confirmed=[1-9]" "$sout"; }
wait_for 10 "stranger connections come up" opened

step "a real joiner gets in meanwhile"
lab_ray j join "$room" --hostname jo >/dev/null
wait_for 30 "j reaches dora" lab_path_is j dora direct
gate=$(lab_ray d --json status)
strangers=$(json_get .gate.strangers <<<"$gate")
((strangers <= 4)) || fail "d holds $strangers strangers from one source"

finished() { grep -q '^{' "$sout"; }
wait_for 40 "the stranger run ends" finished
res=$(grep '^{' "$sout")
echo "stranger run: $res"
max_open=$(json_get .max_open <<<"$res")
open=$(json_get .open <<<"$res")
((max_open <= 4)) || fail "up to $max_open stranger connections were open at once"
assert_eq 0 "$open" "stranger connections left open after their window"
gate=$(lab_ray d --json status)
expired=$(json_get .gate.expired <<<"$gate")
refused=$(json_get .gate.refused <<<"$gate")
((expired >= 1)) || fail "no stranger was closed at its deadline (expired $expired)"
((refused >= 1)) || fail "no stranger was refused over the budget (refused $refused)"
echo "gate: refused $refused, expired $expired"
lab_path_is j dora direct || fail "j lost dora"

step "one stranger floods 3000 control messages"
lab_spawn s flood.out "$STRANGER" "$target" "$did" 1 6 3000
fout=$LAB_WORK/s/flood.out
finished_flood() { grep -q '^{' "$fout"; }
wait_for 20 "the flood ends" finished_flood
dropped=$(lab_ray d --json status | json_get .gate.messages_dropped)
((dropped >= 1000)) || fail "d dropped only $dropped of 3000 flooded messages"
echo "flood: $dropped messages dropped"
lab_path_is j dora direct || fail "j lost dora during the flood"

step "four strangers flood 3000 undecodable messages each"
dlog=$LAB_WORK/d/daemon.log
malformed() { grep -c "malformed control message" "$dlog" || true; }
before=$(malformed)
lines_before=$(wc -l <"$dlog")
lab_spawn s junk.out "$STRANGER" "$target" "$did" 4 6 junk=3000
jout=$LAB_WORK/s/junk.out
finished_junk() { grep -q '^{' "$jout"; }
wait_for 20 "the junk flood ends" finished_junk
grep -q '"confirmed": [1-9]' "$jout" || fail "no junk connection came up: $(tail -1 "$jout")"
lines=$(($(malformed) - before))
all=$(($(wc -l <"$dlog") - lines_before))
echo "junk flood: $lines warnings ($all log lines in all)"
# 20 at once, then one a second, for the strangers together
if ((lines > 40 || all > 80)); then
	tail -n "$all" "$dlog" | tail -n 60 | sed 's/^/    | /'
	fail "the flood wrote $lines warnings ($all lines) to d's log"
fi
held=$(lab_ray d --json status | json_get .gate.log_lines_held)
echo "junk flood: $held log lines held back"
((held >= 500)) || fail "only $held log lines held back"
lab_path_is j dora direct || fail "j lost dora during the junk flood"

step "d's audit log names only members"
jid=$(lab_ray j --json status | json_get .endpoint_id)
audit=$(lab_home d)/audit.log
lab_stop_daemon j
j_left() { grep -qP "\tdisconnect\t[0-9.]+\t$jid\tden\t" "$audit"; }
wait_for 30 "j's disconnect in d's audit log" j_left
others=$(grep -vcP "\t$jid\t" "$audit" || true)
assert_eq 0 "$others" "audit lines about strangers"

lab_stop_daemon d
step "strangers passed"
