#!/usr/bin/env bash
# make demo: a readable walk through Rayfish on a lab of three hosts.
#   demo.sh BUILD
# Builds a small internet of network namespaces with a real DHT bootstrap and
# a real TURN relay (coturn): alice sits on the internet, bob behind a home
# router (endpoint-independent NAT), carol behind a strict symmetric NAT.
# Starts a daemon per host, creates a closed network on alice, hands bob an
# invite code and lets carol in by live approval, and shows them reaching
# each other by name (Magic DNS) over IPv4 and IPv6 through their TUN
# devices: alice and bob directly through bob's NAT (hole punched), bob and
# carol through the relay. Everything is torn down at the end, also on failure.
set -euo pipefail
BUILD=${1:-build}
LAB_BUILD=$(cd "$BUILD" && pwd)
export LAB_BUILD
source "$(dirname "$0")/lib.sh"

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
run() { # HOST cmd...: show the command as typed on that host, then run it
	local host=$1
	shift
	printf '\033[36m%s$\033[0m %s\n' "$host" "$*"
	if [[ "$1" == ray ]]; then
		shift
		lab_ray "$host" "$@"
	else
		lab_exec "$host" "$@"
	fi
}

lab_init demo
say "A lab internet: a DHT bootstrap node, a TURN relay and three hosts."
lab_start_dhtnode >/dev/null
lab_start_coturn >/dev/null
lab_add_host alice --direct >/dev/null
lab_add_host bob --nat eim >/dev/null
lab_add_host carol --nat symmetric >/dev/null
echo "alice: on the internet ($(lab_host_ip alice))"
echo "bob:   $(lab_host_ip bob) behind a home router (NAT, public $(lab_router_wan_ip bob))"
echo "carol: $(lab_host_ip carol) behind a strict symmetric NAT (public $(lab_router_wan_ip carol))"
for h in alice bob carol; do lab_start_daemon "$h" "RAYFISH_RELAY=$LAB_RELAY" >/dev/null; done
echo "each host runs its own 'ray daemon' (own identity, own TUN device ray0)"
for h in alice bob carol; do wait_for 30 "$h's relay allocation" lab_relay_allocated "$h" >/dev/null; done

say "bob checks what his NAT lets through"
run bob ray netcheck

say "alice creates a network (closed by default: the room id alone does not admit)"
run alice ray create --name gaming --hostname alice
room=$(lab_ray alice --json status | json_get '.networks[0].room_id')

say "alice mints a single-use invite code for bob"
code=$(lab_ray alice --json invite gaming | json_get .code)
printf '\033[36malice$\033[0m ray invite gaming\n'
echo "  invite code: $code"

say "bob joins with the code"
run bob ray join "$code" --hostname bob

say "carol only has the room id: her request waits for alice's approval"
run carol ray join "$room" --hostname carol
run alice ray requests gaming
req=$(lab_ray alice --json requests gaming | json_get '[0].id')
run alice ray accept gaming "$req"

member() { [[ "$(lab_ray carol --json status | json_len .networks)" == 1 ]]; }
wait_for 30 "carol is admitted" member >/dev/null
online() { [[ "$(lab_ray "$1" --json status | perl -MJSON::PP -e '
	my $d = decode_json(join "", <STDIN>);
	print scalar grep { $_->{online} } @{$d->{networks}[0]{peers}}')" == 2 ]]; }
for h in alice bob carol; do wait_for 60 "$h sees both peers" online "$h" >/dev/null; done

say "every host sees the other two online"
run bob ray status

wait_for 60 "alice reaches bob directly" lab_path_is alice bob direct >/dev/null
wait_for 60 "bob reaches carol" lab_path_is bob carol relay >/dev/null

say "alice reaches bob directly: both ends punched through bob's NAT at once"
run alice ray ping bob -c 3
say "bob and carol are both behind NAT, carol's symmetric: they go through the relay"
run bob ray ping carol -c 3

say "reaching each other by name: host.network.ray, or just host.ray"
run alice ping -4 -c 3 -i 0.2 bob.gaming.ray
run alice ping -6 -c 3 -i 0.2 carol.gaming.ray
run carol ping -4 -c 3 -i 0.2 alice.ray
run bob dig +short @127.0.0.1 carol.gaming.ray A carol.gaming.ray AAAA

say "the status as JSON, for scripts"
run carol ray --json status

for h in alice bob carol; do lab_stop_daemon "$h" >/dev/null; done
say "demo done: three hosts, two of them behind NAT, formed a private network and reached each other by name."
