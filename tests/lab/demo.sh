#!/usr/bin/env bash
# make demo: a readable walk through Rayfish on a lab of three hosts.
#   demo.sh BUILD
# Builds a small internet of network namespaces with a real DHT bootstrap,
# starts a daemon per host, creates a network on alice, has bob and carol
# join it, and shows them reaching each other over IPv4 and IPv6 through
# their TUN devices. Everything is torn down at the end, also on failure.
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
say "A lab internet: a DHT bootstrap node and three hosts, alice, bob and carol."
lab_start_dhtnode >/dev/null
for h in alice bob carol; do lab_add_host "$h" --direct >/dev/null; done
for h in alice bob carol; do lab_start_daemon "$h" >/dev/null; done
echo "each host runs its own 'ray daemon' (own identity, own TUN device ray0)"

say "alice creates an open network"
run alice ray create --open --name gaming --hostname alice
room=$(lab_ray alice --json status | json_get '.networks[0].room_id')

say "bob and carol join it with the room id"
run bob ray join "$room" --hostname bob
run carol ray join "$room" --hostname carol

online() { [[ "$(lab_ray "$1" --json status | perl -MJSON::PP -e '
	my $d = decode_json(join "", <STDIN>);
	print scalar grep { $_->{online} } @{$d->{networks}[0]{peers}}')" == 2 ]]; }
for h in alice bob carol; do wait_for 60 "$h sees both peers" online "$h" >/dev/null; done

say "every host sees the other two online"
run bob ray status

st=$(lab_ray alice --json status)
b4=$(lab_ray bob --json status | json_get '.networks[0].ipv4')
c6=$(lab_ray carol --json status | json_get '.networks[0].ipv6')
a4=$(json_get '.networks[0].ipv4' <<<"$st")

say "alice pings bob over IPv4 and carol over IPv6, through the mesh"
run alice ping -c 3 -i 0.2 "$b4"
run alice ping -c 3 -i 0.2 "$c6"
say "carol pings alice"
run carol ping -c 3 -i 0.2 "$a4"

say "the status as JSON, for scripts"
run carol ray --json status

for h in alice bob carol; do lab_stop_daemon "$h" >/dev/null; done
say "demo done: three hosts formed a network and reached each other."
