#!/usr/bin/env bash
# timeout: 300
# Cross-network IPv4 hijack: u joins evil's network first, then alice's.
# Then mallory, whose key was ground so that its index-0 address is alice's
# (an evil coordinator could admit such an identity any time), joins evil's
# network. u must keep routing alice's address to alice, refuse mallory's
# claim (logged once, counted as address_clashes), drop mallory's packets
# sent from that address and give mallory's name no A record. After u
# restarts, the table is rebuilt in join order and mallory's network comes
# first: then alice's name loses its A record (AAAA stays), so the name never
# leads to mallory.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init hijack

# Seeds: alice = 32 x 0x11; mallory's found by brute force (10.7 million
# keys) so that FNV-1a of its endpoint id lands on alice's IPv4 at index 0.
ALICE_SEED=1111111111111111111111111111111111111111111111111111111111111111
MALLORY_SEED=5b63a30000000000222222222222222222222222222222222222222222222222

lab_start_dhtnode
for h in u alice evil mallory; do lab_add_host "$h" --direct; done
seed() { # HOST HEX
	perl -e 'print pack("H*", $ARGV[0])' "$2" >"$(lab_home "$1")/secret_key"
	chmod 600 "$(lab_home "$1")/secret_key"
}
seed alice "$ALICE_SEED"
seed mallory "$MALLORY_SEED"
for h in u alice evil mallory; do lab_start_daemon "$h"; done

peer_field() { # HOST NET HOSTNAME FIELD: one peer's field in u's status
	lab_ray "$1" --json status | perl -MJSON::PP -e '
		my $d = decode_json(join "", <STDIN>);
		for my $net (@{$d->{networks}}) {
			next unless $net->{name} eq $ARGV[0];
			for my $p (@{$net->{peers}}) {
				next unless $p->{hostname} eq $ARGV[1];
				my $v = $p->{$ARGV[2]};
				print JSON::PP::is_bool($v) ? ($v ? "true" : "false") : $v;
				exit 0;
			}
		}
		exit 1;' "$2" "$3" "$4"
}
online() { # HOST NET HOSTNAME
	[[ "$(peer_field "$1" "$2" "$3" online)" == true ]]
}
ping_ok() { # FROM ADDR
	lab_exec "$1" ping -c 1 -W 1 "$2" >/dev/null
}
clashes_are() { # HOST N
	local n
	n=$(lab_ray "$1" --json status | json_get .address_clashes)
	[[ "$n" == "$2" ]] || { echo "$1 reports $n address clashes, want $2"; return 1; }
}

step "evil creates a network and u joins it first"
out=$(lab_ray evil --json create --open --name evilnet --hostname evil)
evil_room=$(json_get .room_id <<<"$out")
out=$(wait_for 60 "u joins evilnet" lab_ray u --json join "$evil_room" --hostname u)
u_evil4=$(json_get .ipv4 <<<"$out")

step "alice creates home and u joins it second"
out=$(lab_ray alice --json create --open --name home --hostname alice)
home_room=$(json_get .room_id <<<"$out")
a4=$(json_get .ipv4 <<<"$out")
wait_for 60 "u joins home" lab_ray u --json join "$home_room" --hostname u >/dev/null
wait_for 60 "u sees alice" online u home alice
wait_for 20 "u → alice v4" ping_ok u "$a4"
clashes_are u 0

step "mallory joins evilnet and lands on alice's address"
out=$(wait_for 60 "mallory joins evilnet" lab_ray mallory --json join "$evil_room" --hostname mallory)
assert_eq "$a4" "$(json_get .ipv4 <<<"$out")" "mallory's ground address"
wait_for 60 "u sees mallory" online u evilnet mallory
wait_for 30 "u refuses mallory's claim" clashes_are u 1
assert_contains "$(cat "$LAB_WORK/u/daemon.log")" "address clash: $a4" "u's clash warning"

step "u's packets to alice's address still go to alice, none to mallory"
a_tx=$(peer_field u home alice tx_bytes)
m_tx=$(peer_field u evilnet mallory tx_bytes)
for _ in 1 2 3; do wait_for 20 "u → alice v4" ping_ok u "$a4"; done
(($(peer_field u home alice tx_bytes) > a_tx)) || fail "no bytes to alice after pings"
assert_eq "$m_tx" "$(peer_field u evilnet mallory tx_bytes)" "bytes sent to mallory"

step "mallory's packets from alice's address are dropped as spoofed"
spoofed() { lab_ray u --json status | json_get .dataplane.drops.spoofed_source; }
spoofed_above() { # N
	local n
	n=$(spoofed)
	((n > $1)) || { echo "spoofed_source is $n"; return 1; }
}
drops=$(spoofed)
if lab_exec mallory ping -c 3 -W 1 "$u_evil4" >/dev/null 2>&1; then
	fail "u answered mallory's ping from alice's address"
fi
wait_for 10 "u counts mallory's packets as spoofed" spoofed_above "$drops"

step "a roster change elsewhere keeps the holder; the warning is not repeated"
lab_ray evil hostname evilnet evil2 >/dev/null
wait_for 30 "u sees evil's new name" online u evilnet evil2
wait_for 20 "u → alice v4 after evilnet changes" ping_ok u "$a4"
clashes_are u 1
n=$(grep -c "address clash: $a4" "$LAB_WORK/u/daemon.log")
assert_eq 1 "$n" "clash warnings in u's log"
step "Magic DNS gives the loser of the clash no A record"
q() { lab_exec u dig +short +time=2 +tries=1 @127.0.0.1 "$@"; }
wait_for 20 "alice.home.ray A" bash -c "[[ \"\$(ip netns exec $(lab_ns u) dig +short +time=2 +tries=1 @127.0.0.1 alice.home.ray A)\" == $a4 ]]"
assert_eq "" "$(q mallory.evilnet.ray A)" "mallory's A record"
[[ -n "$(q mallory.evilnet.ray AAAA)" ]] || fail "mallory's AAAA record is gone too"

step "after a restart (evilnet first), alice's name has no A record"
lab_stop_daemon u
lab_start_daemon u
wait_for 60 "u sees mallory again" online u evilnet mallory
wait_for 60 "u sees alice again" online u home alice
no_alice_a() { [[ -z "$(q alice.home.ray A)" && -n "$(q alice.home.ray AAAA)" ]]; }
wait_for 20 "alice.home.ray: no A, AAAA kept" no_alice_a
step "pass"
