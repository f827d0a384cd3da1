#!/usr/bin/env bash
# timeout: 240
# lab_infra: proves the lab itself, before any Rayfish daemon is involved.
# The internet namespace runs a real dhtnode and coturn; two direct hosts, two
# hosts behind one endpoint-independent NAT and one behind a symmetric NAT
# all reach the internet; the NATs rewrite sources, keep (EIM) or change
# (symmetric) the mapping per destination, and drop unsolicited inbound
# traffic; STUN, TURN (with the lab's credentials) and the DHT bootstrap
# answer from behind NAT; hosts have TUN, their own RAYFISH_* environment and
# resolv.conf; the daemon helpers start, stop and kill a stand-in daemon (the
# real one plugs into the same helpers); the polling and assertion helpers
# fail when they should; teardown leaves nothing behind.
#
# LAB_INFRA_FORCE_FAIL=1 makes it fail halfway, with daemons and servers
# running, to prove that teardown on failure is complete too.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib.sh
source "$(dirname "$0")/../lib.sh"

lab_init lab_infra

# ------------------------------------------------------------ internet

lab_start_dhtnode
lab_start_coturn
step "dhtnode and coturn ports are bound in the internet namespace"
out=$(lab_exec inet ss -Hlun "sport = :$LAB_DHT_PORT")
assert_contains "$out" ":$LAB_DHT_PORT" "dhtnode udp port"
out=$(lab_exec inet ss -Hlun "sport = :$LAB_TURN_PORT")
assert_contains "$out" "$LAB_INET4:$LAB_TURN_PORT" "coturn udp port"

# ------------------------------------------------------------ hosts

lab_add_host a --direct
lab_add_host b --direct
lab_add_host e --nat eim
lab_add_host e2 --nat eim --lan e
lab_add_host s --nat symmetric

A4=$(lab_host_ip a 4)
B4=$(lab_host_ip b 4)
A6=$(lab_host_ip a 6)
B6=$(lab_host_ip b 6)
E4=$(lab_host_ip e 4)
E2_4=$(lab_host_ip e2 4)
E_WAN=$(lab_router_wan_ip e)
S_WAN=$(lab_router_wan_ip s)
assert_eq "$E_WAN" "$(lab_router_wan_ip e2)" "hosts on one LAN share a router"
assert_ne "$E_WAN" "$S_WAN" "routers have their own WAN address"
if lab_host_ip e 6 2>/dev/null; then
	fail "a host behind NAT should have no IPv6 address"
fi

step "every host pings a direct host's public IPv4 address"
for h in a b e e2 s; do
	target=$A4
	[[ $h == a ]] && target=$B4
	wait_for 10 "$h pings $target" lab_exec "$h" ping -n -c 1 -W 1 "$target" >/dev/null
done

step "direct hosts ping each other over IPv6"
wait_for 10 "a pings $B6" lab_exec a ping -6 -n -c 1 -W 1 "$B6" >/dev/null
wait_for 10 "b pings $A6" lab_exec b ping -6 -n -c 1 -W 1 "$A6" >/dev/null

step "hosts on the same LAN reach each other by LAN address"
wait_for 10 "e pings e2" lab_exec e ping -n -c 1 -W 1 "$E2_4" >/dev/null

step "a router drops unsolicited traffic from the internet to its LAN"
lab_exec a ip route add 10.0.0.0/8 via "$E_WAN"
if lab_exec a ping -n -c 2 -W 1 "$E4" >/dev/null; then
	fail "a reached $E4 through $E_WAN without an outbound mapping"
fi
lab_exec a ip route del 10.0.0.0/8 via "$E_WAN"

# ------------------------------------------------------------ NAT behaviour

lab_udp_reflector a 7000
lab_udp_reflector b 7000
lab_udp_reflector b 7001

step "a direct host is seen with its own address"
m=$(wait_for 10 "probe b -> a" lab_udp_probe b "$A4" 7000 40000)
assert_eq "$B4:40000" "$m" "mapping of a direct host"

step "EIM NAT: source rewritten to the WAN, one mapping for every destination"
m1=$(wait_for 10 "probe e -> a" lab_udp_probe e "$A4" 7000 40000)
m2=$(wait_for 10 "probe e -> b" lab_udp_probe e "$B4" 7000 40000)
m3=$(wait_for 10 "probe e -> b:7001" lab_udp_probe e "$B4" 7001 40000)
assert_eq "$E_WAN" "${m1%:*}" "EIM NAT rewrites the source address"
assert_eq "$m1" "$m2" "EIM mapping towards a and b"
assert_eq "$m1" "$m3" "EIM mapping towards another port"
m4=$(wait_for 10 "probe e2 -> a" lab_udp_probe e2 "$A4" 7000 40000)
assert_eq "$E_WAN" "${m4%:*}" "second LAN host leaves through the same WAN"
assert_ne "$m1" "$m4" "two LAN hosts get distinct mappings"

step "symmetric NAT: source rewritten, a new mapping per destination"
s1=$(wait_for 10 "probe s -> a" lab_udp_probe s "$A4" 7000 40000)
s2=$(wait_for 10 "probe s -> b" lab_udp_probe s "$B4" 7000 40000)
s3=$(wait_for 10 "probe s -> b:7001" lab_udp_probe s "$B4" 7001 40000)
assert_eq "$S_WAN" "${s1%:*}" "symmetric NAT rewrites the source address"
assert_eq "$S_WAN" "${s2%:*}" "symmetric NAT rewrites the source address"
# Ports are drawn at random: two may collide by chance, three cannot
# plausibly all be equal.
if [[ "$s1" == "$s2" && "$s2" == "$s3" ]]; then
	fail "symmetric NAT kept one mapping ($s1) for three destinations"
fi
echo "  eim: $m1 $m2 $m3   symmetric: $s1 $s2 $s3"

# ------------------------------------------------------------ servers

stun_reflexive() { # HOST: the reflexive address coturn reports over STUN
	# turnutils_stunclient waits for an RFC 5780 answer coturn (one
	# address) never sends; the first response is all that is needed.
	local out
	out=$(lab_exec "$1" timeout 3 turnutils_stunclient -p "$LAB_TURN_PORT" \
		"$LAB_INET4" 2>&1 || true)
	sed -n 's/.*UDP reflexive addr: *//p' <<<"$out" | grep .
}

step "coturn answers STUN from behind NAT with the router's address"
r=$(wait_for 15 "STUN answer to e" stun_reflexive e)
assert_eq "$E_WAN" "${r%:*}" "STUN reflexive address of e"

turn_relay() { # HOST PASSWORD: relay 5 datagrams to a's echo peer via TURN
	lab_exec "$1" timeout 20 turnutils_uclient -n 5 -c -u "$LAB_TURN_USER" \
		-w "$2" -e "$A4" -r 3480 "$LAB_INET4" 2>&1
}

step "coturn relays for the symmetric-NAT host with the lab credentials"
lab_spawn a turn-peer.log turnutils_peer -L "$A4" -p 3480
wait_for 10 "turn echo peer on a" lab_port_bound a udp 3480
out=$(turn_relay s "$LAB_TURN_PASS" || true)
assert_contains "$out" "tot_send_msgs=5, tot_recv_msgs=5" "TURN relay through coturn"
out=$(turn_relay s wrong-password || true)
assert_contains "$out" "Cannot complete Allocation" "TURN with a wrong password"

step "the dhtnode bootstrap answers a node behind NAT"
lab_spawn e dht-probe.log dhtnode -s -v -p 4333 -b "$LAB_DHT_BOOTSTRAP"
wait_for 20 "pong from the bootstrap" grep -q "$LAB_DHT_BOOTSTRAP\] got pong" \
	"$LAB_WORK/e/dht-probe.log"

# ------------------------------------------------------------ host environment

step "hosts have TUN, their own RAYFISH_* and their own resolv.conf"
lab_exec a ip tuntap add dev raytest0 mode tun
lab_exec a ip link show raytest0 >/dev/null
lab_exec a ip tuntap del dev raytest0 mode tun
# shellcheck disable=SC2016 # expanded by the host's shell
env_a=$(lab_exec a sh -c 'echo "$RAYFISH_HOME $RAYFISH_SOCKET"')
assert_eq "$(lab_home a) $(lab_socket a)" "$env_a" "RAYFISH_* of a"
assert_eq 700 "$(stat -c %a "$(lab_home a)")" "mode of RAYFISH_HOME"
assert_contains "$(lab_exec a cat /etc/resolv.conf)" "rayfish lab host a" "resolv.conf of a"
assert_contains "$(lab_exec e cat /etc/resolv.conf)" "rayfish lab host e" "resolv.conf of e"
out=$(lab_ray a version)
assert_contains "$out" "ray " "ray runs inside host a"

# ------------------------------------------------------------ daemon helpers

# The real `ray daemon` plugs into lab_start_daemon/lab_stop_daemon; until it
# exists a stand-in with the same contract (IPC socket at RAYFISH_SOCKET,
# clean exit on SIGTERM) exercises the helpers. FAKE_MODE picks a misbehaviour.
REAL_RAY=$RAY
RAY=$LAB_WORK/stand-in-ray
cat >"$RAY" <<'EOF'
#!/usr/bin/perl
use strict;
use warnings;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
exit 2 unless ($ARGV[0] // '') eq 'daemon';
my $mode = $ENV{FAKE_MODE} // 'clean';
$| = 1;
print "$_=$ENV{$_}\n" for sort grep { /^RAYFISH_/ } keys %ENV;
if ($mode eq 'crash') { print "crashing on purpose\n"; exit 3; }
$SIG{TERM} = $mode eq 'stubborn' ? 'IGNORE'
    : sub { unlink $ENV{RAYFISH_SOCKET}; exit($mode eq 'dirty' ? 1 : 0) };
my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $ENV{RAYFISH_SOCKET},
    Listen => 1) or die "listen: $!";
sleep 1 while 1;
EOF
chmod +x "$RAY"

step "lab_start_daemon waits for the socket and passes the lab's settings"
lab_start_daemon a RAYFISH_LISTEN_PORT=41999
[[ -S "$(lab_socket a)" ]] || fail "no IPC socket after lab_start_daemon"
log=$(cat "$LAB_WORK/a/daemon.log")
assert_contains "$log" "RAYFISH_DHT_BOOTSTRAP=$LAB_DHT_NAMED" "bootstrap passed by name"
assert_contains "$log" "RAYFISH_STUN=$LAB_STUN_NAMED" "STUN server passed by name"
assert_contains "$log" "RAYFISH_LISTEN_PORT=41999" "extra environment passed"
assert_contains "$log" "RAYFISH_SOCKET=$(lab_socket a)" "socket passed"
lab_start_daemon e
lab_stop_daemon a
[[ ! -e "$(lab_socket a)" ]] || fail "socket left after a clean stop"

step "lab_stop_daemon flags a daemon that ignores SIGTERM or exits dirty"
lab_start_daemon b FAKE_MODE=stubborn
if LAB_KILL_GRACE=1 lab_stop_daemon b 2>/dev/null; then
	fail "lab_stop_daemon accepted a daemon that ignored SIGTERM"
fi
lab_start_daemon b FAKE_MODE=dirty
if lab_stop_daemon b 2>/dev/null; then
	fail "lab_stop_daemon accepted a non-zero exit status"
fi

step "lab_start_daemon fails at once when the daemon dies"
t0=$(_lab_now_ms)
if lab_start_daemon s FAKE_MODE=crash 2>/dev/null; then
	fail "lab_start_daemon succeeded for a crashing daemon"
fi
(($(_lab_now_ms) - t0 < 10000)) || fail "a crashed daemon was waited for until the deadline"
RAY=$REAL_RAY

# ------------------------------------------------------------ helper self-tests

step "wait_for, assertions and json_get fail when they should"
if (wait_for 0.5 "something that never happens" false) >/dev/null 2>&1; then
	fail "wait_for succeeded on a command that always fails"
fi
t0=$(_lab_now_ms)
if (wait_for 1 "a command that hangs" sleep 60) >/dev/null 2>&1; then
	fail "wait_for succeeded on a hanging command"
fi
(($(_lab_now_ms) - t0 < 5000)) || fail "wait_for overran its deadline"
hangs_in_host() { lab_exec a sleep 60; }
t0=$(_lab_now_ms)
if (wait_for 1 "a command in a host that hangs" hangs_in_host) >/dev/null 2>&1; then
	fail "wait_for succeeded on a hanging command in a host"
fi
(($(_lab_now_ms) - t0 < 5000)) || fail "wait_for let lab_exec overrun its deadline"
out=$(wait_for 2 "echo" echo hello)
assert_eq hello "$out" "wait_for prints the successful output"
if (assert_eq x y) >/dev/null 2>&1; then fail "assert_eq passed on x != y"; fi
if (assert_contains abc z) >/dev/null 2>&1; then fail "assert_contains passed"; fi
doc='{"networks":[{"name":"home","peers":[{"ipv4":"100.64.0.9","direct":true}]}]}'
assert_eq 100.64.0.9 "$(json_get '.networks[0].peers[0].ipv4' <<<"$doc")" "json_get"
assert_eq true "$(json_get '.networks[0].peers[0].direct' <<<"$doc")" "json_get bool"
assert_eq 1 "$(json_len '.networks' <<<"$doc")" "json_len"
if json_get '.networks[3]' <<<"$doc" >/dev/null; then fail "json_get of a missing index"; fi
if json_get '.x' <<<'not json' >/dev/null 2>&1; then fail "json_get of garbage"; fi

if [[ -n "${LAB_INFRA_FORCE_FAIL:-}" ]]; then
	fail "forced failure (LAB_INFRA_FORCE_FAIL) with daemons and servers running"
fi

# ------------------------------------------------------------ teardown

step "teardown removes every process, namespace and /etc/netns entry"
# A stray process nobody recorded: teardown must find it inside the namespace.
# shellcheck disable=SC2016 # $$ is the inner shell's
lab_exec b sh -c 'echo $$ >"$RAYFISH_HOME/stray.pid"; exec sleep 600' &
stray_job=$!
stray_pid_file=$(lab_home b)/stray.pid
wait_for 5 "stray process started" test -s "$stray_pid_file"
stray=$(<"$stray_pid_file")
stray_start=$(_lab_proc_start "$stray")
prefix=$LAB_PREFIX
lab_teardown
if ! lab_leftovers "$LAB_WORK" "$prefix"; then
	fail "leftovers after teardown"
fi
if _lab_proc_alive "$stray" "$stray_start"; then
	fail "stray process $stray survived teardown"
fi
wait "$stray_job" 2>/dev/null || true
left=$(ip netns list | awk '{print $1}' | grep "^$prefix-" || true)
assert_eq "" "$left" "namespaces left"
[[ ! -e "/etc/netns/$prefix-a" ]] || fail "/etc/netns entry left"
lab_teardown
step "lab_infra passed"
