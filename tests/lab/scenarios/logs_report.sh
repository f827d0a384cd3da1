#!/usr/bin/env bash
# timeout: 300
# Troubleshooting: the daemon's log files (`ray logs`, --since, -f), the
# crash record a fatal signal leaves and the next start reports, and
# `ray report`, a bundle with status, netcheck, settings, versions and the
# log in which no secret of the node appears (keys, invite codes, the TURN
# password), and the Prometheus metrics endpoint.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init logs_report

lab_start_dhtnode
lab_start_coturn
lab_add_host a --nat eim
lab_add_host b --direct
start_d() { lab_start_daemon "$1" "RAYFISH_RELAY=$LAB_RELAY_NAMED"; }
for h in a b; do start_d "$h"; done
wait_for 30 "a's relay allocation" lab_relay_allocated a

step "a creates a network and invites b"
lab_ray a --json create --name ops --hostname alice >/dev/null
code=$(lab_ray a --json invite ops | json_get .code)
wait_for 90 "b joins" lab_ray b join "$code" --hostname bob >/dev/null

step "ray logs: the daemon's lines, from its files, filtered by time"
day=$(date -u +%F)
[[ -s "$(lab_home a)/logs/rayfish-$day.log" ]] || fail "no log file $(lab_home a)/logs/rayfish-$day.log"
out=$(lab_ray a logs)
assert_contains "$out" "network ops: created" "ray logs"
[[ "$out" == "$day "* ]] || fail "log lines do not start with the date: ${out:0:40}"
assert_contains "$(lab_ray a logs --since 1h)" "network ops: created" "--since 1h"
[[ -z "$(lab_ray a logs --since 2099-01-01)" ]] || fail "lines from the future"
rc=0
lab_ray a logs --since yesterday-ish >/dev/null 2>&1 || rc=$?
assert_eq 2 "$rc" "a --since that is no time"

step "ray logs -f prints new lines as they come"
lab_spawn a follow.log "$RAY" logs -f --since 1s
follower=$LAB_PID
lab_ray a invite ops --hostname carol >/dev/null
follows() { grep -q "invite" "$LAB_WORK/a/follow.log"; }
wait_for 15 "the follower prints the invite's line" follows
kill "$follower"
wait "$follower" 2>/dev/null || true

step "a crash leaves a record the next start reports"
read -r pid _ <"$LAB_WORK/a/daemon.pid"
kill -ABRT "$pid"
gone() { ! kill -0 "$pid" 2>/dev/null; }
wait_for 10 "a's daemon ends" gone
wait "$pid" 2>/dev/null || true
crash=$(lab_home a)/crash.log
[[ -f "$crash" ]] || fail "no crash record at $crash"
assert_contains "$(head -1 "$crash")" "signal 6" "crash record"
assert_contains "$(cat "$crash")" "network ops" "the last lines in the record"
start_d a
assert_contains "$(lab_ray a --json status | json_get .last_crash)" "signal 6" "status last_crash"
assert_contains "$(lab_ray a logs --since 1m)" "previous run crashed" "the log says so"
wait_for 60 "a is back in ops" lab_ray a ping bob -c 1

step "metrics: Prometheus text on 127.0.0.1:9090, valid for promtool; junk refused"
# http HOST METHOD PATH: the status line and body of one request
http() {
	lab_exec "$1" perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:9090", Timeout => 5) or exit 3;
		print $s "$ARGV[0] $ARGV[1] HTTP/1.0\r\nHost: x\r\n\r\n";
		local $/; my $r = <$s>; $r =~ s/\r\n\r\n/\n\n/; print $r;' "$2" "$3"
}
scraped() { http a GET /metrics | grep -q 'rayfish_peer_online{network="ops",peer="bob"} 1'; }
wait_for 30 "a's metrics show bob online" scraped
page=$(http a GET /metrics)
assert_contains "$page" " 200 OK" "metrics status"
assert_contains "$page" 'rayfish_build_info{version="' "build info"
assert_contains "$page" 'rayfish_peers{path="' "peers by path"
assert_contains "$page" "rayfish_dataplane_drops_" "drops"
sed '1,/^$/d' <<<"$page" | promtool check metrics || fail "promtool refuses the metrics"
assert_contains "$(http a POST /metrics)" "405" "POST"
assert_contains "$(http a GET /secret)" "404" "another path"
lab_exec a perl -MIO::Socket::INET -e '
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:9090", Timeout => 5) or exit 3;
	print $s "\x00\xff" x 5000; close $s;' || true
lab_ray a ping bob -c 1 >/dev/null || fail "a's daemon stopped answering after junk on the metrics port"
lab_stop_daemon b
lab_start_daemon b "RAYFISH_RELAY=$LAB_RELAY_NAMED" RAYFISH_METRICS_LISTEN=off
rc=0
http b GET /metrics >/dev/null || rc=$?
assert_eq 3 "$rc" "b with metrics-listen off: nothing listens"
wait_for 60 "b is back in ops" lab_ray b ping alice -c 1

step "ray report: the bundle, readable by its owner only, without secrets"
outdir=$LAB_WORK/reports
mkdir -p "$outdir"
path=$(lab_ray a --json report --output "$outdir" | json_get .path)
[[ -f "$path" ]] || fail "no report at $path"
assert_eq 600 "$(stat -c %a "$path")" "report mode"
x=$LAB_WORK/report-x
mkdir -p "$x"
tar -xzf "$path" -C "$x"
base=$(ls "$x")
for f in status.json netcheck.json settings.json firewall.json versions.txt daemon.log last_crash.txt metrics.txt; do
	[[ -s "$x/$base/$f" ]] || fail "the report lacks $f"
done
assert_contains "$(cat "$x/$base/status.json")" "$(lab_ray a --json status | json_get .endpoint_id)" "status in the report"
assert_contains "$(cat "$x/$base/versions.txt")" "libsodium" "versions"
assert_contains "$(cat "$x/$base/metrics.txt")" "rayfish_build_info" "metrics in the report"
assert_contains "$(cat "$x/$base/daemon.log")" "network ops: created" "log in the report"
assert_contains "$(cat "$x/$base/last_crash.txt")" "signal 6" "crash in the report"
assert_contains "$(cat "$x/$base/settings.json")" "turn:rayfish:***@" "the relay, its password hidden"
home=$(lab_home a)
secrets=("labpass" "$code" "$(xxd -p -c 64 "$home/secret_key")" "$(xxd -p -c 64 "$home/contact_key")")
for k in "$home"/keys/*.key; do secrets+=("$(xxd -p -c 64 "$k")"); done
((${#secrets[@]} >= 5)) || fail "expected a network key among the secrets"
for s in "${secrets[@]}"; do
	[[ -n "$s" ]] || fail "an empty secret to look for"
	if grep -rqF -- "$s" "$x"; then fail "the report holds a secret: ${s:0:12}…"; fi
done

lab_teardown
