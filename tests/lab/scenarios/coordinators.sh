#!/usr/bin/env bash
# timeout: 420
# Two coordinators admit at the same moment: no admission is lost. a creates
# a closed network and makes b a co-coordinator. b is then cut off from a
# and from x, so neither coordinator sees the other's change: x joins with
# a's invite (a signs roster v+1 with x) while y joins with b's invite (b
# signs its own v+1 with y). When y reaches a, a finds a roster with its own
# sequence but other members, merges the two against the version both
# started from and signs the next version; every node, b included once the
# cut is gone, ends on one roster that holds both x and y.
# Then forks at different versions: b and w are cut off from the rest; z
# joins through a (a signs v+1) while w joins through b and b renames itself
# (b signs v+1 and v+2). When the cut goes, a finds b's higher version was
# made beside its own (a's roster is not among its ancestors), adopts it and
# merges its own back in: z is kept (it waits rather than leaving while the
# fork lacks it) and everyone ends on one roster with z and w.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init coordinators

lab_start_dhtnode
hosts=(a b x y z w)
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
for h in a b x y; do
	n=$(names "$h")
	assert_eq "alice,bob,xena,yuri" "$(tr ',' '\n' <<<"$n" | sort | paste -sd, -)" "$h's roster"
done
wait_for 30 "x reaches y by name" lab_exec x ping -c 1 -W 2 yuri.team.ray >/dev/null

step "forks at different versions: b and w cut off from the rest"
cut_to() { # HOST PEER: HOST keeps UDP only with the DHT bootstrap and PEER
	ip netns exec "$(lab_ns "$1")" nft -f - <<CUT2
table inet labcut {
	chain in {
		type filter hook input priority -10; policy accept;
		meta l4proto udp ip saddr != { $LAB_INET4, $(lab_host_ip "$2") } drop
		meta l4proto udp ip6 saddr != { $(lab_host_ip "$2" 6) } drop
	}
	chain out {
		type filter hook output priority -10; policy accept;
		meta l4proto udp ip daddr != { $LAB_INET4, $(lab_host_ip "$2") } drop
		meta l4proto udp ip6 daddr != { $(lab_host_ip "$2" 6) } drop
	}
}
CUT2
}
code_a=$(lab_ray a --json invite team | json_get .code)
code_b=$(lab_ray b --json invite team | json_get .code)
cut_to b w
cut_to w b
wait_for 60 "z joins through a" lab_ray z join "$code_a" --hostname zora >/dev/null
wait_for 30 "a's roster holds z" has_members a 5
wait_for 60 "w joins through b" lab_ray w join "$code_b" --hostname walt >/dev/null
wait_for 30 "b's roster holds w" has_members b 5
lab_ray b hostname team bobby >/dev/null
b_renamed() { [[ "$(lab_ray b --json status | json_get '.networks[0].hostname')" == bobby ]]; }
wait_for 30 "b renamed itself" b_renamed
va=$(lab_ray a --json status | json_get '.networks[0].roster_version')
vb=$(lab_ray b --json status | json_get '.networks[0].roster_version')
echo "roster versions before the cut goes: a v$va, b v$vb"
((vb > va)) || fail "b's fork (v$vb) is not ahead of a's (v$va)"

step "the cut goes: a merges its fork back into b's higher version"
ip netns exec "$(lab_ns b)" nft delete table inet labcut
ip netns exec "$(lab_ns w)" nft delete table inet labcut
forked() { grep -q "was made beside ours; merged ours back in" "$LAB_WORK/a/daemon.log"; }
wait_for 90 "a merges the fork" forked
for h in "${hosts[@]}"; do wait_for 60 "$h lists 6 members" has_members "$h" 6; done
sorted_names() { names "$1" | tr ',' '\n' | sort | paste -sd, -; }
version_of() { lab_ray "$1" --json status | json_get '.networks[0].roster_version'; }
# Six members can show before the last merge reaches a node (a roster with
# zora and walt but bob's old name, signed on the way): wait for the end,
# every node on the merged roster and on one version.
one_roster() {
	local h v
	v=$(version_of a)
	for h in "${hosts[@]}"; do
		[[ "$(sorted_names "$h")" == "alice,bobby,walt,xena,yuri,zora" ]] || return 1
		[[ "$(version_of "$h")" == "$v" ]] || return 1
	done
}
wait_for 60 "every node holds the merged roster, one version" one_roster
if grep -q "no longer lists this node" "$LAB_WORK/z/daemon.log"; then
	fail "z left the network while b's fork lacked it"
fi
wait_for 30 "z reaches walt by name" lab_exec z ping -c 1 -W 2 walt.team.ray >/dev/null

for h in "${hosts[@]}"; do lab_stop_daemon "$h"; done
step "coordinators passed"
