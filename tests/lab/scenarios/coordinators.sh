#!/usr/bin/env bash
# timeout: 300
# Two coordinators admit at the same moment: no admission is lost. a creates
# a closed network and makes b a co-coordinator. b is then cut off from a
# and from x, so neither coordinator sees the other's change: x joins with
# a's invite (a signs roster v+1 with x) while y joins with b's invite (b
# signs its own v+1 with y). When y reaches a, a finds a roster with its own
# sequence but other members, merges the two against the version both
# started from and signs the next version; every node, b included once the
# cut is gone, ends on one roster that holds both x and y.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init coordinators

lab_start_dhtnode
hosts=(a b x y)
for h in "${hosts[@]}"; do lab_add_host "$h" --direct; done
for h in "${hosts[@]}"; do lab_start_daemon "$h"; done

members() { lab_ray "$1" --json status | json_get '.networks[0].members'; }
has_members() { [[ "$(members "$1" 2>/dev/null)" == "$2" ]]; }
is_coord() { [[ "$(lab_ray "$1" --json status | json_get '.networks[0].role')" == coordinator ]]; }

step "a creates a closed network and makes b a co-coordinator"
lab_ray a --json create --name team --hostname alice >/dev/null
code=$(lab_ray a --json invite team | json_get .code)
wait_for 60 "b joins" lab_ray b join "$code" --hostname bob >/dev/null
wait_for 30 "a and b online" lab_path_is a bob direct
lab_ray a admin team add bob >/dev/null
wait_for 30 "b holds the key" is_coord b

step "cut b off from a and x"
# b keeps UDP only with the DHT bootstrap and with y (IPv4 and its global
# IPv6; link-local candidates would otherwise slip past an address list).
ip netns exec "$(lab_ns b)" nft -f - <<CUT
table inet labcut {
	chain in {
		type filter hook input priority -10; policy accept;
		meta l4proto udp ip saddr != { $LAB_INET4, $(lab_host_ip y) } drop
		meta l4proto udp ip6 saddr != { $(lab_host_ip y 6) } drop
	}
	chain out {
		type filter hook output priority -10; policy accept;
		meta l4proto udp ip daddr != { $LAB_INET4, $(lab_host_ip y) } drop
		meta l4proto udp ip6 daddr != { $(lab_host_ip y 6) } drop
	}
}
CUT

step "x joins through a, y through b, each coordinator unaware of the other"
code_a=$(lab_ray a --json invite team | json_get .code)
code_b=$(lab_ray b --json invite team | json_get .code)
wait_for 60 "x joins through a" lab_ray x join "$code_a" --hostname xena >/dev/null
wait_for 30 "a's roster holds x" has_members a 3
wait_for 60 "y joins through b" lab_ray y join "$code_b" --hostname yuri >/dev/null
wait_for 30 "b's roster holds y" has_members b 3

step "y reaches a: a merges the two rosters"
merged() { grep -q "merged a concurrent roster" "$LAB_WORK/a/daemon.log"; }
wait_for 60 "a merges" merged
for h in a x y; do wait_for 30 "$h lists 4 members" has_members "$h" 4; done

step "the cut goes: b ends on the same roster"
ip netns exec "$(lab_ns b)" nft delete table inet labcut
wait_for 60 "b lists 4 members" has_members b 4
names() { # HOST: the roster's hostnames as HOST sees them
	lab_ray "$1" --json status | perl -MJSON::PP -e '
		my $d = decode_json(join "", <STDIN>);
		print join ",", sort(map { $_->{hostname} } @{$d->{networks}[0]{peers}}),
			$d->{networks}[0]{hostname}'
}
for h in "${hosts[@]}"; do
	n=$(names "$h")
	assert_eq "alice,bob,xena,yuri" "$(tr ',' '\n' <<<"$n" | sort | paste -sd, -)" "$h's roster"
done
wait_for 30 "x reaches y by name" lab_exec x ping -c 1 -W 2 yuri.team.ray >/dev/null

for h in "${hosts[@]}"; do lab_stop_daemon "$h"; done
step "coordinators passed"
