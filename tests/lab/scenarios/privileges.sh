#!/usr/bin/env bash
# timeout: 240
# A root daemon keeps CAP_NET_ADMIN and CAP_NET_BIND_SERVICE alone, in every
# thread (the DHT's and libuv's pool included), in its bounding set too, with
# no_new_privs; and what still needs privilege after the drop still works: a
# network joined after start (TUN addresses and routes over rtnetlink), Magic
# DNS on port 53 and resolv.conf, a firewall change, a live setting, and
# `ray down` / `ray up` (TUN recreated, port 53 bound again).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init privileges

# Named servers, so lookups run on libuv's thread pool.
lab_start_names
lab_start_dhtnode
lab_add_host a --direct
lab_add_host b --direct
lab_start_daemon a
lab_start_daemon b
TCP="perl $LAB_DIR/tcp.pl"
KEPT=0000000000001400 # CAP_NET_BIND_SERVICE (10) | CAP_NET_ADMIN (12)
NONE=0000000000000000

daemon_pid() { local pid _; read -r pid _ <"$LAB_WORK/$1/daemon.pid"; echo "$pid"; }

# HOST MIN_THREADS: every thread of the daemon holds exactly the kept set.
caps_reduced() {
	local pid f n=0 want line
	pid=$(daemon_pid "$1")
	for f in /proc/"$pid"/task/*/status; do
		for want in CapEff:$KEPT CapPrm:$KEPT CapBnd:$KEPT CapInh:$NONE CapAmb:$NONE NoNewPrivs:1; do
			line=$(awk -v k="${want%%:*}:" '$1 == k { print $1 $2 }' "$f")
			[[ "$line" == "$want" ]] || { echo "$1: $f has $line, want $want"; return 1; }
		done
		n=$((n + 1))
	done
	((n >= $2)) || { echo "$1: $n threads, waiting for $2"; return 1; }
}

step "every thread of both daemons holds net_admin and net_bind_service only"
# main thread, the DHT's, at least one of libuv's pool
wait_for 20 "a's threads" caps_reduced a 3
wait_for 20 "b's threads" caps_reduced b 3
grep -q "capabilities reduced to net_admin and net_bind_service" "$LAB_WORK/a/daemon.log" ||
	fail "a's log does not say it dropped its capabilities"

step "Magic DNS bound port 53 and rewrote resolv.conf after the drop"
wait_for 10 "b's Magic DNS on udp/53" lab_port_bound b udp 53
assert_contains "$(lab_exec b cat /etc/resolv.conf)" "nameserver 127.0.0.1" "b's resolv.conf"

step "b joins a network after start: addresses and routes on ray0"
out=$(lab_ray a --json create --open --name caps --hostname alice)
room=$(json_get .room_id <<<"$out")
a4=$(json_get .ipv4 <<<"$out")
out=$(wait_for 60 "b joins" lab_ray b --json join "$room" --hostname bob)
b4=$(json_get .ipv4 <<<"$out")
b6=$(json_get .ipv6 <<<"$out")
assert_contains "$(lab_exec b ip -4 addr show dev ray0)" "$b4/10" "b's IPv4 on ray0"
assert_contains "$(lab_exec b ip -6 addr show dev ray0)" "$b6/128" "b's IPv6 on ray0"
assert_contains "$(lab_exec b ip -4 route show dev ray0)" "100.64.0.0/10" "b's IPv4 route"
wait_for 30 "a → b over the mesh" lab_exec a ping -c 1 -W 1 "$b4" >/dev/null
names() { [[ "$(lab_exec b dig +short +time=1 +tries=1 @127.0.0.1 alice.caps.ray A)" == "$a4" ]]; }
wait_for 20 "b's Magic DNS names alice" names

step "a firewall change and a live setting take effect"
lab_spawn b tcp.log $TCP listen 2222
wait_for 10 "b listens on 2222" lab_port_bound b tcp 2222
rc=0
lab_exec a $TCP connect "$b4" 2222 2 >/dev/null || rc=$?
assert_eq 2 "$rc" "a → b:2222 before the allow rule (2: dropped)"
lab_ray b firewall add in allow -p tcp --port 2222 >/dev/null
lab_exec a $TCP connect "$b4" 2222 2 >/dev/null || fail "a → b:2222 after the allow rule"
out=$(lab_ray b config set relay-members off)
assert_contains "$out" "applied to the running daemon" "ray config set relay-members"

step "ray down / ray up: TUN, port 53 and resolv.conf come back"
lab_ray b down >/dev/null
if lab_exec b ip link show ray0 >/dev/null 2>&1; then fail "ray0 still exists after ray down"; fi
if lab_port_bound b udp 53; then fail "port 53 still bound after ray down"; fi
lab_ray b up >/dev/null
assert_contains "$(lab_exec b ip -4 addr show dev ray0)" "$b4/10" "b's IPv4 on ray0 after up"
wait_for 10 "b's Magic DNS on udp/53 after up" lab_port_bound b udp 53
assert_contains "$(lab_exec b cat /etc/resolv.conf)" "nameserver 127.0.0.1" "b's resolv.conf after up"
wait_for 30 "a → b after ray up" lab_exec a ping -c 1 -W 1 "$b4" >/dev/null
wait_for 20 "b's Magic DNS names alice after up" names

step "still nothing more, in any thread"
caps_reduced a 3
caps_reduced b 3

lab_stop_daemon a
lab_stop_daemon b
step "privileges passed"
