#!/usr/bin/env bash
# timeout: 420
# The per-device firewall on real TUN traffic: default deny inbound TCP/UDP,
# ports / ranges / lists, --peer, --network on a host in two networks,
# conntrack return traffic, reject vs drop, the ICMP seed rule, coordinator
# suggestions (pending vs auto-accept, whitelist vs blacklist), and
# `ray apply` creating a network, reporting the gap, minting invites and
# enforcing its rules.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init firewall

lab_start_dhtnode
for h in a b c d; do lab_add_host "$h" --direct; done
for h in a b c d; do lab_start_daemon "$h"; done
TCP="perl $LAB_DIR/tcp.pl"

room=$(lab_ray a --json create --open --name lan --hostname alice | json_get .room_id)
wait_for 60 "b joins lan" lab_ray b join "$room" --hostname bob >/dev/null
lab_ray c join "$room" --hostname carol >/dev/null
ops=$(lab_ray b --json create --open --name ops --hostname bob | json_get .room_id)
wait_for 60 "d joins ops" lab_ray d join "$ops" --hostname dave >/dev/null

ip_of() { # HOST NET
	lab_ray "$1" --json status | perl -MJSON::PP -e '
		my $d = decode_json(join "", <STDIN>);
		print map { $_->{ipv4} } grep { $_->{name} eq $ARGV[0] } @{$d->{networks}}' "$2"
}
b_lan=$(ip_of b lan); b_ops=$(ip_of b ops); c_lan=$(ip_of c lan); a_lan=$(ip_of a lan)
lab_spawn b tcp.log $TCP listen 22 80 81 443 7000 7777 7778 8080 9000
lab_spawn c tcp.log $TCP listen 22
lab_spawn a tcp.log $TCP listen 5000
for h in a b c; do wait_for 10 "listeners on $h" lab_port_bound "$h" tcp 22 >/dev/null 2>&1 ||
	wait_for 10 "listeners on $h" lab_port_bound "$h" tcp 5000 >/dev/null; done
reach() { wait_for 20 "mesh up" lab_exec "$1" ping -c 1 -W 1 "$2" >/dev/null; }
reach a "$b_lan"; reach d "$b_ops"; reach a "$c_lan"; reach b "$c_lan"

ok() { # FROM IP PORT
	lab_exec "$1" $TCP connect "$2" "$3" 2 >/dev/null || fail "$1 → $2:$3 should connect"
}
blocked() { # FROM IP PORT: a drop (timeout)
	local rc=0
	lab_exec "$1" $TCP connect "$2" "$3" 2 >/dev/null || rc=$?
	[[ $rc == 2 ]] || fail "$1 → $2:$3 should time out (got $rc)"
}

step "secure default: inbound TCP denied, ICMP allowed"
blocked a "$b_lan" 22
lab_exec a ping -c 1 -W 2 "$b_lan" >/dev/null || fail "the ICMP seed rule should allow ping"

step "ports, ranges and lists"
lab_ray b firewall add in allow -p tcp --port 22 >/dev/null
ok a "$b_lan" 22
blocked a "$b_lan" 80
lab_ray b firewall add in allow -p tcp --port 8000-8100 >/dev/null
ok a "$b_lan" 8080
lab_ray b firewall add in allow -p tcp --port 80,443 >/dev/null
ok a "$b_lan" 443
ok a "$b_lan" 80

step "UDP ports"
lab_udp_reflector b 6001
lab_udp_reflector b 6002
if lab_udp_probe a "$b_lan" 6001 >/dev/null 2>&1; then fail "UDP got through the default deny"; fi
lab_ray b firewall add in allow -p udp --port 6001 >/dev/null
lab_udp_probe a "$b_lan" 6001 >/dev/null || fail "allowed UDP port did not answer"
if lab_udp_probe a "$b_lan" 6002 >/dev/null 2>&1; then fail "UDP 6002 should stay denied"; fi

step "--peer, and --network on b, a host in two networks"
lab_ray b firewall add in allow -p tcp --port 9000 --peer alice >/dev/null
ok a "$b_lan" 9000
blocked c "$b_lan" 9000
lab_ray b firewall add in allow -p tcp --port 7000 --network ops >/dev/null
ok d "$b_ops" 7000
blocked c "$b_lan" 7000

step "conntrack: replies to b's own connections pass b's inbound deny"
lab_ray a firewall add in allow -p tcp --port 5000 >/dev/null
ok b "$a_lan" 5000
ct=$(lab_ray b --json status)
flows=$(json_get .dataplane.conntrack.flows <<<"$ct")
(( flows >= 1 )) || fail "b's status shows $flows tracked flows after its own connection"
assert_eq 0 "$(json_get .dataplane.conntrack.refused <<<"$ct")" "conntrack refusals under quota"
(( $(json_get .dataplane.conntrack.per_peer <<<"$ct") < $(json_get .dataplane.conntrack.capacity <<<"$ct") )) ||
	fail "a peer's conntrack share is the whole table"

step "drop vs reject"
t0=$(date +%s%N); blocked a "$b_lan" 81; t1=$(date +%s%N)
(( (t1 - t0) / 1000000 >= 1500 )) || fail "a dropped packet should make the connect wait"
lab_ray b firewall reject on >/dev/null
rc=0; out=$(lab_exec a $TCP connect "$b_lan" 81 2) || rc=$?
assert_eq 1 "$rc" "reject answers at once (connection refused: $out)"
lab_ray b firewall reject off >/dev/null

step "removing the ICMP seed blocks ping"
idx=$(lab_ray b --json firewall show | perl -MJSON::PP -e '
	print map { $_->{index} } grep { $_->{proto} eq "icmp" && $_->{origin} eq "local" } @{decode_json(join "", <STDIN>)->{rules}}')
lab_ray b firewall remove "$idx" >/dev/null
if lab_exec a ping -c 1 -W 1 "$b_lan" >/dev/null; then fail "ping passed without the ICMP rule"; fi
lab_ray b firewall add in allow -p icmp >/dev/null
lab_exec a ping -c 1 -W 2 "$b_lan" >/dev/null || fail "ping after re-adding the ICMP rule"

step "suggestions: pending until accepted; an allow-list denies the rest"
lab_ray c firewall default allow >/dev/null
lab_ray a firewall suggest lan --subject carol --allow alice:tcp:22 --allow icmp >/dev/null
queued() { [[ "$(lab_ray c --json status | json_get .pending.firewall_suggestions)" != 0 ]]; }
wait_for 30 "c has suggestions waiting" queued
ok b "$c_lan" 22    # not installed yet: c's permissive default lets b in
lab_ray c firewall accept lan >/dev/null
ok a "$c_lan" 22
blocked b "$c_lan" 22

step "suggestions: auto-accept installs at once; denies-only is a blacklist"
lab_ray b firewall default allow >/dev/null
lab_ray b firewall auto-accept lan on >/dev/null
lab_ray a firewall suggest lan --subject '*' --deny tcp:7777 >/dev/null
applied() { lab_ray b --json firewall show | grep -q '"ports": "7777"'; }
wait_for 30 "b installed the blacklist" applied
blocked a "$b_lan" 7777
ok a "$b_lan" 7778

step "ray apply: creates a network, reports and invites the missing host, enforces its rules"
cat >"$LAB_WORK/deploy.yaml" <<YAML
groups:
  admins: [alice]
networks:
  prod:
    dave:
      allow: ["admins:tcp:22", icmp]
YAML
out=$(lab_ray a apply "$LAB_WORK/deploy.yaml")
assert_contains "$out" "created prod" "apply creates"
assert_contains "$out" "missing: ray invite prod --hostname dave" "membership gap"
code=$(lab_ray a --json apply "$LAB_WORK/deploy.yaml" --invite-missing | json_get '[0].invites[0].code')
lab_ray d join "$code" --auto-accept-firewall >/dev/null
assert_eq dave "$(ip_of d prod >/dev/null; lab_ray d --json status | perl -MJSON::PP -e '
	print map { $_->{hostname} } grep { $_->{name} eq "prod" } @{decode_json(join "", <STDIN>)->{networks}}')" "bound name"
lab_spawn d tcp.log $TCP listen 22 2222
d_prod=$(ip_of d prod)
wait_for 20 "a reaches dave" lab_exec a ping -c 1 -W 1 "$d_prod" >/dev/null
ok a "$d_prod" 22
blocked a "$d_prod" 2222
bad=$(printf 'networks:\n  prod:\n    dave:\n      allow: ["admins:tcp:99999"]\n' >"$LAB_WORK/bad.yaml"; lab_ray a apply "$LAB_WORK/bad.yaml" 2>&1 || true)
assert_contains "$bad" "line 4" "apply names the bad line"

for h in a b c d; do lab_stop_daemon "$h"; done
step "firewall passed"
