#!/usr/bin/env bash
# timeout: 180
# Magic DNS on a port that is taken: by another process, or by the daemon's
# own mDNS listener (dns-listen 127.0.0.1:5353). The daemon says once that
# it runs without Magic DNS, keeps answering `ray status`, survives
# `ray down` / `ray up` (which tries the port again) and exits 0 on SIGTERM.
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
lab_start_daemon a RAYFISH_DNS_LISTEN=127.0.0.1:5300
wait_for 10 "the daemon says it runs without Magic DNS" \
	grep -q "cannot serve on 127.0.0.1:5300: Address already in use; running without Magic DNS" "$log"
still_serving "port held by another process" 5300
lab_ray a down >/dev/null
lab_ray a up >/dev/null
still_serving "after down/up" 5300
lab_stop_daemon a
kill -TERM "$holder"
wait "$holder" 2>/dev/null || true

step "the daemon's own mDNS listener holds udp/5353"
lab_start_daemon a RAYFISH_DNS_LISTEN=127.0.0.1:5353 RAYFISH_MDNS=on
wait_for 10 "the daemon says it runs without Magic DNS" \
	grep -q "cannot serve on 127.0.0.1:5353: Address already in use; running without Magic DNS" "$log"
still_serving "port held by our mDNS" 5353
lab_stop_daemon a
step "dns_port_taken passed"
