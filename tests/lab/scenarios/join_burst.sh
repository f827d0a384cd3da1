#!/usr/bin/env bash
# timeout: 240
# Eight machines join one open network at the same moment (a fleet coming
# up). The coordinator admits them one after another, faster than a
# joiner's roster fetch comes back; a node keeps only its current roster
# and the one before, so the roster a WELCOME named may be gone by the time
# the joiner asks for it. Every `ray join` must still succeed at its first
# attempt (the joiner asks the coordinator again and gets the current
# roster), and all nine end in one full mesh. To make the burst certain
# the joiners first join another network of the coordinator's one by one
# (warm DHT nodes, connections to it up), then the coordinator's daemon is
# stopped (SIGSTOP) while the eight joins start, and continued once all
# eight have sent their request: it reads them in one go.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init join_burst

JOINERS=(j1 j2 j3 j4 j5 j6 j7 j8)
lab_start_dhtnode
lab_add_host c --direct
for h in "${JOINERS[@]}"; do lab_add_host "$h" --direct; done
for h in c "${JOINERS[@]}"; do lab_start_daemon "$h"; done

warm=$(lab_ray c --json create --open --name warm --hostname coord | json_get .room_id)
room=$(lab_ray c --json create --open --name fleet --hostname coord | json_get .room_id)
step "the joiners join network warm one by one"
for h in "${JOINERS[@]}"; do
	wait_for 60 "$h joins warm" lab_ray "$h" join "$warm" --hostname "$h" >/dev/null
done

asking() { # HOST: its join of fleet has sent the request
	local st
	st=$(lab_ray "$1" --json status) || return 1
	[[ "$(json_get '.joining[0].state' <<<"$st")" == asking ]]
}
step "eight joins at once, the coordinator frozen until all have asked"
read -r cpid _ <"$LAB_WORK/c/daemon.pid"
kill -STOP "$cpid"
declare -A pid
for h in "${JOINERS[@]}"; do
	lab_spawn "$h" join.log "$RAY" --json join "$room" --hostname "$h"
	pid[$h]=$LAB_PID
done
rc=0
for h in "${JOINERS[@]}"; do
	wait_for 20 "$h's join asks" asking "$h" >/dev/null || { rc=1; break; }
done
kill -CONT "$cpid"
((rc == 0)) || fail "the joins did not get to ask"
failed=()
for h in "${JOINERS[@]}"; do
	rc=0
	wait "${pid[$h]}" || rc=$?
	if ((rc != 0)); then
		failed+=("$h")
		echo "$h: ray join exited $rc: $(cat "$LAB_WORK/$h/join.log")"
	fi
done
again=$(cat "$LAB_WORK"/j*/daemon.log | grep -c 'no longer serves the roster it named' || true)
echo "joiners that asked again after a failed roster fetch: $again"
((${#failed[@]} == 0)) || fail "joins that failed at the first attempt: ${failed[*]}"

full() { # HOST: 9 members in fleet, 8 peers online
	local st n
	st=$(lab_ray "$1" --json status) || return 1
	n=$(perl -MJSON::PP -e '
		my $d = decode_json(join "", <STDIN>);
		my ($net) = grep { $_->{name} eq "fleet" } @{$d->{networks}};
		$net or do { print "no network fleet"; exit 0 };
		printf "%d/%d", $net->{members}, scalar grep { $_->{online} } @{$net->{peers}};' <<<"$st")
	[[ "$n" == 9/8 ]] || { echo "$1: members/online $n, want 9/8"; return 1; }
}
step "full mesh of nine"
for h in c "${JOINERS[@]}"; do wait_for 60 "$h sees the full mesh" full "$h"; done

for h in c "${JOINERS[@]}"; do lab_stop_daemon "$h"; done
step "join_burst passed"
