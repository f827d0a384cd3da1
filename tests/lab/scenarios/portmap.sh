#!/usr/bin/env bash
# timeout: 300
# Port mapping: host a sits behind a symmetric NAT whose router runs a real
# miniupnpd (PCP + NAT-PMP + UPnP IGD); host b sits behind another symmetric
# NAT without one, so neither can hole-punch and b's mapping attempt fails.
# a's daemon maps its UDP port on the router with PCP, which it tries first
# (netcheck names pcp and reports the router's WAN address, miniupnpd logs a
# PCP MAP for a, the router's nftables holds the DNAT to a:41383) and
# publishes the mapped address. After b creates an open network and a joins, b reaches a's
# mapped address directly although both NATs are symmetric: `ray ping` ends
# on the direct path both ways and a's router shows the DNAT'd, two-way flow
# from b's router. Stopping a's daemon deletes the mapping on the router
# (a PCP MAP with lifetime 0). Host c's router runs miniupnpd without
# NAT-PMP and PCP: c's daemon falls back past both to UPnP IGD (SSDP on the
# LAN, then SOAP), and its mapping goes at exit too.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init portmap

lab_start_dhtnode
lab_start_coturn
lab_add_host a --nat symmetric
lab_add_host b --nat symmetric
lab_add_host c --nat symmetric
lab_start_miniupnpd gw-a
lab_start_miniupnpd gw-c --no-natpmp
lab_start_daemon a "RAYFISH_RELAY=$LAB_RELAY"
lab_start_daemon b "RAYFISH_RELAY=$LAB_RELAY"
lab_start_daemon c

a_ip=$(lab_host_ip a)
a_wan=$(lab_router_wan_ip a)
b_wan=$(lab_router_wan_ip b)
gw_a=$(lab_ns gw-a)

# The DNAT miniupnpd made on HOST's router for udp EPORT, or nothing.
dnat_rule() { # HOST EPORT
	ip netns exec "$(lab_ns "gw-$1")" nft list chain inet filter prerouting_miniupnpd |
		grep -E "dport $2 .*dnat ip to $(lab_host_ip "$1"):41383\$"
}

mapped() { # HOST METHOD
	[[ "$(lab_ray "$1" --json netcheck | json_get .portmap.method)" == "$2" ]]
}

# Waits for HOST's mapping by METHOD; leaves the external port in eport.
check_mapping() { # HOST METHOD
	local nc ext
	wait_for 40 "$1's port mapping by $2" mapped "$1" "$2"
	nc=$(lab_ray "$1" --json netcheck)
	ext=$(json_get .portmap.external <<<"$nc")
	echo "$1's mapping: $(json_get .portmap <<<"$nc")"
	assert_eq "$(lab_router_wan_ip "$1")" "${ext%:*}" "$1's mapped external address"
	eport=${ext##*:}
	[[ "$eport" =~ ^[0-9]+$ ]] || fail "$1's mapped external port '$eport'"
	(($(json_get .portmap.lease_s <<<"$nc") > 0)) || fail "$1's mapping has no lease"
	assert_contains "$(json_get .public_addrs <<<"$nc")" "$ext" "$1 publishes the mapped address"
	dnat_rule "$1" "$eport" >/dev/null || fail "no DNAT to $1:41383 for port $eport on gw-$1"
}

# The DNAT for HOST's EPORT is gone from its router.
unmapped() { # HOST EPORT
	! dnat_rule "$1" "$2" >/dev/null
}

step "a maps its port on its router with PCP (starts 10 s after the daemon)"
check_mapping a pcp
a_eport=$eport
# The router's side of it: a PCP MAP, not a NAT-PMP or UPnP request.
grep -E "PCP MAP: .*->$a_ip:41383 " "$LAB_WORK/gw-a/miniupnpd.log" >/dev/null ||
	fail "gw-a's miniupnpd logged no PCP MAP for $a_ip:41383"
assert_contains "$(lab_ray a netcheck)" "port mapping  pcp $a_wan:$a_eport" \
	"a's netcheck names the protocol"

step "c's router has no NAT-PMP: c falls back to UPnP IGD"
check_mapping c upnp
c_eport=$eport
c_reason=$(lab_ray c --json netcheck | json_get .portmap.reason)
assert_contains "$c_reason" "pcp:" "c's reason names the PCP failure"
assert_contains "$c_reason" "nat-pmp:" "c's reason names the NAT-PMP failure"
lab_stop_daemon c
wait_for 10 "gw-c's DNAT for port $c_eport removed" unmapped c "$c_eport"

step "b, behind a router without miniupnpd, gets no mapping"
tried() { [[ "$(lab_ray b --json netcheck | json_get .portmap.reason)" == *nat-pmp* ]]; }
wait_for 40 "b's port mapping attempt" tried
assert_eq none "$(lab_ray b --json netcheck | json_get .portmap.method)" "b's mapping"

step "b creates an open network, a joins"
room=$(lab_ray b --json create --open --name mapped --hostname bob | json_get .room_id)
wait_for 90 "a joins" lab_ray a join "$room" --hostname alice >/dev/null

step "the path between them ends direct through a's mapped port"
direct() { [[ "$(lab_ray "$1" --json ping "$2" -c 1 | json_get .path)" == direct ]]; }
wait_for 60 "a's path to bob is direct" direct a bob
wait_for 20 "b's path to alice is direct" direct b alice
out=$(lab_ray a --json ping bob.mapped -c 3)
assert_eq 3 "$(json_get .received <<<"$out")" "3 answers"
assert_eq direct "$(json_get .path <<<"$out")" "a's path to bob"
# The direct flow is b's router -> a's mapped port, DNAT'd to a and answered
# (a flow never answered would carry [UNREPLIED] before "mark=").
ct=$(ip netns exec "$gw_a" cat /proc/net/nf_conntrack)
grep -E "^ipv4 .* udp .* src=$b_wan dst=$a_wan sport=[0-9]+ dport=$a_eport src=$a_ip dst=$b_wan sport=41383 dport=[0-9]+ (\[ASSURED\] )?mark=" \
	<<<"$ct" >/dev/null || fail "no answered DNAT'd flow from $b_wan to $a_wan:$a_eport in gw-a's conntrack"

step "IPv4 over the TUN both ways"
a4=$(lab_ray a --json status | json_get '.networks[0].ipv4')
b4=$(lab_ray b --json status | json_get '.networks[0].ipv4')
wait_for 20 "a pings b" lab_exec a ping -c 1 -W 2 "$b4" >/dev/null
wait_for 20 "b pings a" lab_exec b ping -c 1 -W 2 "$a4" >/dev/null

step "stopping a's daemon deletes the mapping"
lab_stop_daemon a
wait_for 10 "gw-a's DNAT for port $a_eport removed" unmapped a "$a_eport"
lab_stop_daemon b
step "portmap passed"
