#!/usr/bin/env bash
# timeout: 180
# Magic DNS on a port that is taken: by another process, or by the daemon's
# own mDNS listener (dns-listen 127.0.0.1:5353). The daemon says once that
# it runs without Magic DNS, keeps answering `ray status`, survives
# `ray down` / `ray up` (which tries the port again) and exits 0 on SIGTERM;
# `ray config set dns-listen` moves it to a free port without a restart
# and says so when the new port is taken too.
# A release build used to abort here on a libuv assertion (the failed
# server's handles were freed while still queued for closing).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init dns_port_taken

# A lab DHT and resolver: a daemon whose server names cannot resolve is
# slow to stop, which is not what this scenario is about.
lab_start_dhtnode
lab_add_host a --direct
log=$LAB_WORK/a/daemon.log

# The daemon must still be there and answering after its event loop has
# turned many times over the failed server.
still_serving() { # WHAT
	local out
	sleep 3 # the crash came on a later loop turn; nothing to poll for
	out=$(lab_ray a --json status) || fail "$1: ray status failed"
	[[ -n "$(json_get .endpoint_id <<<"$out")" ]] || fail "$1: ray status has no endpoint id"
	lab_port_bound a tcp "$2" && fail "$1: something serves TCP DNS on $2"
	return 0
}

step "another process holds udp/5300"
lab_udp_reflector a 5300
holder=$LAB_PID
# In the settings file, as a user sets it (the environment would pin it).
lab_ray a config set dns-listen 127.0.0.1:5300 >/dev/null
lab_start_daemon a
wait_for 10 "the daemon says it runs without Magic DNS" \
	grep -q "cannot serve on 127.0.0.1:5300: Address already in use; running without Magic DNS" "$log"
still_serving "port held by another process" 5300
lab_ray a down >/dev/null
lab_ray a up >/dev/null
still_serving "after down/up" 5300

step "moving dns-listen to a free port applies at once, no restart"
msg=$(lab_ray a config set dns-listen 127.0.0.1:5301)
assert_contains "$msg" "applied to the running daemon" "config set dns-listen"
wait_for 10 "Magic DNS on the new port" lab_port_bound a tcp 5301
assert_contains "$(lab_exec a dig +time=2 +tries=1 -p 5301 @127.0.0.1 ray SOA)" "status: NOERROR" "SOA on the new port"
assert_contains "$(lab_exec a cat /etc/resolv.conf)" "127.0.0.1" "resolver points at Magic DNS"
msg=$(lab_ray a config set dns-listen 127.0.0.1:5300)
assert_contains "$msg" "could not apply it: Magic DNS cannot serve on 127.0.0.1:5300" "a taken port is reported"
still_serving "after moving to the taken port" 5300
lab_port_bound a tcp 5301 && fail "the old port is still served"
lab_stop_daemon a
kill -TERM "$holder"
wait "$holder" 2>/dev/null || true

step "the daemon's own mDNS listener holds udp/5353"
lab_ray a config unset dns-listen >/dev/null
lab_start_daemon a RAYFISH_DNS_LISTEN=127.0.0.1:5353 RAYFISH_MDNS=on
wait_for 10 "the daemon says it runs without Magic DNS" \
	grep -q "cannot serve on 127.0.0.1:5353: Address already in use; running without Magic DNS" "$log"
still_serving "port held by our mDNS" 5353
lab_stop_daemon a
step "dns_port_taken passed"
