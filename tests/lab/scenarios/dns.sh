#!/usr/bin/env bash
# timeout: 300
# Magic DNS: host.net.ray and flat host.ray (A, AAAA), PTR, SOA, answered
# by the daemon and through the namespace's system resolver; other names
# forwarded to the resolver the system had before; a flat name two networks
# give to two machines answers nothing (and status flags it) until one is
# renamed; `ray down` restores the system resolver exactly.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init dns

# The lab resolver is the system's upstream: it knows one name outside .ray.
lab_start_names www.example.test=198.51.100.80
lab_start_dhtnode
lab_add_host a --direct
lab_add_host b --direct
lab_add_host c --direct
resolv_before=$(lab_exec a cat /etc/resolv.conf)
lab_start_daemon a
lab_start_daemon b
lab_start_daemon c

out=$(lab_ray a --json create --open --name home --hostname alice)
room=$(json_get .room_id <<<"$out")
out=$(wait_for 60 "b joins" lab_ray b --json join "$room" --hostname bob)
b4=$(json_get .ipv4 <<<"$out")
b6=$(json_get .ipv6 <<<"$out")
names_synced() { [[ "$(lab_exec a dig +short @127.0.0.1 bob.home.ray A)" == "$b4" ]]; }
wait_for 30 "a's Magic DNS knows bob" names_synced

step "A, AAAA, flat names, PTR and SOA from the daemon"
q() { lab_exec a dig +short +time=2 +tries=1 @127.0.0.1 "$@"; }
assert_eq "$b4" "$(q bob.home.ray A)" "A bob.home.ray"
assert_eq "$b6" "$(q bob.home.ray AAAA)" "AAAA bob.home.ray"
assert_eq "$b4" "$(q bob.ray A)" "flat A bob.ray"
assert_eq "$b4" "$(q BoB.HoMe.RaY A)" "case-insensitive"
assert_eq "bob.home.ray." "$(q -x "$b4")" "PTR v4"
assert_eq "bob.home.ray." "$(q -x "$b6")" "PTR v6"
soa=$(lab_exec a dig +time=2 +tries=1 @127.0.0.1 nosuch.home.ray A)
assert_contains "$soa" "NXDOMAIN" "unknown name"
assert_contains "$(q ray SOA)" "ray." "SOA of ray."

step "names through the system resolver (resolv.conf points at Magic DNS)"
assert_contains "$(lab_exec a cat /etc/resolv.conf)" "127.0.0.1" "resolv.conf rewritten"
assert_eq "$b4" "$(lab_exec a getent ahostsv4 bob.home.ray | awk 'NR==1{print $1}')" "getent"
lab_exec a ping -c 1 -W 2 bob.ray >/dev/null || fail "ping bob.ray failed"
lab_exec b ping -c 1 -W 2 alice.home.ray >/dev/null || fail "ping alice.home.ray from b failed"

step "other names go to the previous resolver"
assert_eq 198.51.100.80 "$(q www.example.test A)" "forwarded name"
assert_eq 198.51.100.80 "$(lab_exec a getent ahostsv4 www.example.test | awk 'NR==1{print $1}')" "forwarded via system resolver"

step "bob in two networks is two machines: bob.ray answers nothing"
club=$(lab_ray c --json create --open --name club --hostname bob | json_get .room_id)
out=$(wait_for 60 "a joins club" lab_ray a --json join "$club" --hostname alice)
c4=$(lab_ray c --json status | json_get '.networks[0].ipv4')
club_synced() { [[ "$(q bob.club.ray A)" == "$c4" ]]; }
wait_for 30 "a's Magic DNS knows bob.club" club_synced
assert_eq "$b4" "$(q bob.home.ray A)" "A bob.home.ray beside club"
assert_eq "" "$(q bob.ray A)" "flat bob.ray with two bobs"
assert_contains "$(lab_exec a dig +time=2 +tries=1 @127.0.0.1 bob.ray A)" "NXDOMAIN" "flat clash rcode"
assert_eq '["bob"]' "$(lab_ray a --json status | json_get .name_clashes)" "status name_clashes"
assert_contains "$(lab_ray a status)" "bob.ray names different machines" "status says so"
lab_ray c hostname club carl >/dev/null
flat_back() { [[ "$(q bob.ray A)" == "$b4" ]]; }
wait_for 30 "bob.ray answers once the club's bob is carl" flat_back
assert_eq '[]' "$(lab_ray a --json status | json_get .name_clashes)" "no clash after the rename"

step "ray down restores the system resolver exactly; ray up applies it again"
lab_ray a down >/dev/null
assert_eq "$resolv_before" "$(lab_exec a cat /etc/resolv.conf)" "resolv.conf after down"
lab_ray a up >/dev/null
assert_contains "$(lab_exec a cat /etc/resolv.conf)" "127.0.0.1" "resolv.conf after up"
wait_for 10 "names after up" names_synced

step "after a crash (SIGKILL) the next start restores what was there first"
read -r apid _ <"$LAB_WORK/a/daemon.pid"
kill -KILL "$apid"
gone() { ! kill -0 "$apid" 2>/dev/null; }
wait_for 10 "a's daemon is gone" gone
rm -f "$LAB_WORK/a/daemon.pid"
assert_contains "$(lab_exec a cat /etc/resolv.conf)" "127.0.0.1" "crash left our resolver in place"
lab_start_daemon a
wait_for 10 "names after restart" names_synced

step "the daemon's exit restores it too"
lab_stop_daemon a
assert_eq "$resolv_before" "$(lab_exec a cat /etc/resolv.conf)" "resolv.conf after exit"
lab_stop_daemon b
lab_stop_daemon c
step "dns passed"
