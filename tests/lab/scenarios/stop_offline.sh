#!/usr/bin/env bash
# timeout: 240
# A daemon whose resolver never answers stops at once. Host "off" has a
# resolv.conf naming an address in the lab's internet that drops every
# packet (no answer, no ICMP), and its daemon is given the DHT bootstrap,
# STUN and TURN servers by name, as users write them. SIGTERM 2 s after the
# start, with every lookup still waiting on the resolver, must be a clean
# exit (status 0, nothing from the sanitizers) within 3 s, the lookups left
# behind named in one line; so must a stop after the first lookups failed
# and were retried. Where names do resolve, the same named servers still
# bring two hosts together (a join), and those daemons stop with nothing
# left behind.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init stop_offline

lab_start_dhtnode
lab_start_coturn
named=("RAYFISH_DHT_BOOTSTRAP=$LAB_DHT_NAMED" "RAYFISH_STUN=$LAB_STUN_NAMED"
	"RAYFISH_RELAY=$LAB_RELAY_NAMED")

# TEST-NET-3, routed into the lab's internet like any address, and dropped
# there before routing (which would answer ICMP unreachable, a fast failure).
silent=203.0.113.53
ip netns exec "$(lab_ns inet)" nft -f - <<EOF
table inet lab_silent {
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		ip daddr $silent drop
	}
}
EOF
lab_add_host off --direct
printf '# rayfish lab host off: a resolver that never answers\nnameserver %s\n' \
	"$silent" >"$(lab_resolv_conf off)"
log=$LAB_WORK/off/daemon.log

step "stop 2 s after the start, every name still being looked up"
lab_start_daemon off "${named[@]}"
sleep 2 # the point is to stop while lookups wait; nothing to poll for
LAB_KILL_GRACE=3 lab_stop_daemon off
grep -q "daemon: exiting with [0-9]* name lookups unfinished" "$log" ||
	fail "the daemon did not say it left lookups behind"
grep -q "Sanitizer" "$log" && fail "sanitizer report in $log"

step "stop after the DHT bootstrap name failed and is retried"
lab_start_daemon off "${named[@]}"
wait_for 40 "the bootstrap name fails and is retried" grep -q \
	"dht: bootstrap dht.lab.example:$LAB_DHT_PORT: the name did not resolve; trying again in 5 s" "$log"
LAB_KILL_GRACE=3 lab_stop_daemon off
grep -q "Sanitizer" "$log" && fail "sanitizer report in $log"

step "names that resolve: a join through the named servers"
lab_add_host a --direct
lab_add_host b --direct
lab_start_daemon a "${named[@]}"
lab_start_daemon b "${named[@]}"
for h in a b; do
	wait_for 20 "$h resolves the bootstrap name" grep -q \
		"dht: bootstrap dht.lab.example:$LAB_DHT_PORT is $LAB_INET4:$LAB_DHT_PORT" \
		"$LAB_WORK/$h/daemon.log"
done
out=$(lab_ray a --json create --open --name named --hostname alice)
room=$(json_get .room_id <<<"$out")
wait_for 60 "b joins" lab_ray b --json join "$room" --hostname bob >/dev/null
for h in a b; do
	LAB_KILL_GRACE=3 lab_stop_daemon "$h"
	grep -q "name lookups unfinished" "$LAB_WORK/$h/daemon.log" &&
		fail "daemon $h left lookups behind although its names resolve"
	grep -q "Sanitizer" "$LAB_WORK/$h/daemon.log" && fail "sanitizer report for $h"
done
step "stop_offline passed"
