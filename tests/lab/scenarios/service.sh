#!/usr/bin/env bash
# timeout: 300
# The system service and the operator: `ray install|start|stop|restart|
# uninstall [--purge]` and `ray set-operator`, against a stand-in systemctl
# that runs the unit's ExecStart= with its Environment= (the lab has no
# systemd; RAYFISH_SYSTEMD_DIR points the unit at the stand-in's folder):
#  * only root may install, and without systemd there is a clear error;
#  * install writes a hardened unit, starts the daemon and makes $SUDO_USER
#    the operator, who may then change the node without root, at once;
#  * set-operator moves that right at once, no restart; a user that does not
#    exist is refused;
#  * restart, stop and start do what they say; `ray up --hostname` sets the
#    name later networks get; uninstall keeps the state,
#    --purge deletes it.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init service

lab_start_dhtnode
lab_add_host a --direct

bin=$LAB_WORK/svcbin
units=$LAB_WORK/units
mkdir -p "$bin" "$units"
cat >"$bin/systemctl" <<'EOF'
#!/usr/bin/perl
# A stand-in for systemctl: runs rayfish.service's ExecStart= with its
# Environment= in the background (pid in $SVC_PID), stops it with SIGTERM.
use strict; use warnings;
my ($unit, $pidf, $log) = ("$ENV{RAYFISH_SYSTEMD_DIR}/rayfish.service", $ENV{SVC_PID}, $ENV{SVC_LOG});
open my $l, '>>', "$pidf.calls" or die; print $l "@ARGV\n"; close $l;
sub stop {
	open my $f, '<', $pidf or return; my $pid = <$f>; close $f; chomp $pid;
	kill 'TERM', $pid;
	for (1 .. 100) { last unless kill 0, $pid; select undef, undef, undef, 0.1 }
	unlink $pidf;
}
sub start {
	open my $f, '<', $unit or die "no unit\n"; my @lines = <$f>; close $f;
	my ($exec) = map { /^ExecStart="([^"]+)" daemon$/ ? $1 : () } @lines or die "no ExecStart\n";
	my %env = map { /^Environment="([A-Z_]+)=(.*)"$/ ? ($1, $2) : () } @lines;
	my $pid = fork; die unless defined $pid;
	if (!$pid) {
		$ENV{$_} = $env{$_} for keys %env;
		open STDIN, '<', '/dev/null'; open STDOUT, '>>', $log; open STDERR, '>&', \*STDOUT;
		exec $exec, 'daemon' or exit 127;
	}
	open my $p, '>', $pidf or die; print $p "$pid\n"; close $p;
}
my @a = grep { $_ ne '--now' } @ARGV;
my $now = grep { $_ eq '--now' } @ARGV;
if ($a[0] eq 'daemon-reload') { exit 0 }
if ($a[0] eq 'enable') { start() if $now; exit 0 }
if ($a[0] eq 'disable') { stop() if $now; exit 0 }
if ($a[0] eq 'start') { start(); exit 0 }
if ($a[0] eq 'stop') { stop(); exit 0 }
if ($a[0] eq 'restart') { stop(); start(); exit 0 }
exit 1;
EOF
chmod +x "$bin/systemctl"
home=$(lab_home a)
svc=(env PATH="$bin:$PATH" RAYFISH_SYSTEMD_DIR="$units" SVC_PID="$LAB_WORK/svc.pid"
	SVC_LOG="$LAB_WORK/a/daemon.log" RAYFISH_DHT_BOOTSTRAP="$LAB_DHT_NAMED")
as_nobody() { lab_exec a setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
# nobody reaches the socket (0666) through the lab's private folders
chmod o+x "$LAB_WORK" "$LAB_WORK/a"
track() { # the stand-in's daemon, so teardown stops it if a step fails
	local pid
	pid=$(<"$LAB_WORK/svc.pid")
	_lab_record_pid "$pid" "a:service-daemon"
}
gone() { [[ ! -e "$LAB_WORK/svc.pid" ]]; }

step "only root installs; without systemd, a clear error"
rc=0
out=$(as_nobody "$RAY" install 2>&1) || rc=$?
((rc != 0)) || fail "a non-root user installed the service"
assert_contains "$out" "needs root" "install as nobody"
rc=0
out=$(lab_ray a install 2>&1) || rc=$?
((rc != 0)) || fail "install went on without systemd"
assert_contains "$out" "systemd is not running" "install without systemd"
[[ ! -e "$units/rayfish.service" ]] || fail "a unit was written anyway"

step "before: nobody may not change the node"
rc=0
out=$(as_nobody "$RAY" create --name before 2>&1) || rc=$?
((rc != 0)) || fail "nobody created a network with no daemon at all"

step "sudo ray install: hardened unit, daemon started, nobody is the operator"
out=$(lab_exec a "${svc[@]}" SUDO_USER=nobody "$RAY" --json install 2>&1)
track
unit=$(<"$units/rayfish.service")
assert_contains "$unit" "ExecStart=\"$(readlink -f "$RAY")\" daemon" "ExecStart"
assert_contains "$unit" "Environment=\"RAYFISH_HOME=$home\"" "RAYFISH_HOME"
assert_contains "$unit" "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE" "capabilities"
assert_contains "$unit" "ProtectSystem=strict" "read-only system"
assert_contains "$unit" "Type=notify" "readiness"
assert_contains "$out" "nobody may now run ray without sudo" "operator granted"
assert_eq 65534 "$(lab_ray a --json config | json_get .operator)" "operator setting"
out=$(as_nobody "$RAY" --json create --name ops --hostname alice)
assert_eq ops "$(json_get .name <<<"$out")" "nobody creates a network without sudo"
as_nobody "$RAY" down >/dev/null
as_nobody "$RAY" up >/dev/null

step "set-operator: at once, no restart; unknown users refused"
pid_before=$(<"$LAB_WORK/svc.pid")
rc=0
out=$(as_nobody "$RAY" set-operator daemon 2>&1) || rc=$?
((rc != 0)) || fail "nobody ran set-operator"
assert_contains "$out" "needs root" "set-operator as nobody"
rc=0
out=$(lab_ray a set-operator no-such-user-here 2>&1) || rc=$?
((rc != 0)) || fail "an unknown user became operator"
assert_contains "$out" "no user" "unknown user"
lab_ray a set-operator daemon >/dev/null
rc=0
out=$(as_nobody "$RAY" create --name after 2>&1) || rc=$?
((rc != 0)) || fail "the old operator still changes the node"
assert_contains "$out" "needs root or the operator" "the old operator refused"
assert_eq "$pid_before" "$(<"$LAB_WORK/svc.pid")" "the daemon was not restarted"

step "sudo ray up with the daemon running: the sudo user is the operator again"
lab_exec a env SUDO_USER=nobody "$RAY" up >/dev/null 2>&1
assert_eq 65534 "$(lab_ray a --json config | json_get .operator)" "operator after sudo ray up"
as_nobody "$RAY" --json create --name third >/dev/null || fail "nobody cannot create after sudo ray up"

step "restart, stop, start"
lab_exec a "${svc[@]}" "$RAY" restart >/dev/null
track
assert_ne "$pid_before" "$(<"$LAB_WORK/svc.pid")" "restart made a new daemon"
assert_eq ops "$(lab_ray a --json status | json_get '.networks[0].name')" "the network after restart"
lab_exec a "${svc[@]}" "$RAY" stop >/dev/null
wait_for 10 "the daemon is gone" gone
lab_exec a "${svc[@]}" "$RAY" start >/dev/null
track
assert_eq true "$(lab_ray a --json status | json_get .active)" "up after start"

step "ray up --hostname sets the name later networks use"
rc=0
out=$(lab_ray a up --hostname "Not Valid" 2>&1) || rc=$?
((rc != 0)) || fail "an invalid hostname was taken"
lab_ray a up --hostname zed >/dev/null
assert_eq zed "$(lab_ray a --json config | json_get .hostname)" "hostname setting"
assert_eq zed "$(lab_ray a --json create --name second | json_get .hostname)" "the next network's hostname"

step "uninstall keeps the state; --purge deletes it"
lab_exec a "${svc[@]}" "$RAY" uninstall >/dev/null
wait_for 10 "the daemon is gone" gone
[[ ! -e "$units/rayfish.service" ]] || fail "the unit is still there"
[[ -f "$home/secret_key" && -f "$home/networks.json" ]] || fail "uninstall deleted the state"
lab_exec a "${svc[@]}" "$RAY" install >/dev/null 2>&1
track
lab_exec a "${svc[@]}" "$RAY" uninstall --purge >/dev/null 2>&1
wait_for 10 "the daemon is gone" gone
[[ ! -e "$home" ]] || fail "--purge left $home"
[[ ! -e "$units/rayfish.service" ]] || fail "the unit is still there after --purge"

lab_teardown
