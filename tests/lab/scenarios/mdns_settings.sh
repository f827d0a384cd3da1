#!/usr/bin/env bash
# timeout: 180
# `ray mdns on|off` edits settings.json as it is now, not the copy the
# daemon read at start: a `ray config set` made since survives it. Reading
# the setting (`ray mdns`) is open to every local user; changing it needs
# root or the operator.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init mdns_settings

lab_start_dhtnode
lab_add_host a --direct
settings=$(lab_home a)/settings.json
setting() { # KEY
	json_get ".$1" <"$settings"
}

lab_start_daemon a
step "config set after the daemon started, then mdns off"
lab_ray a config set stun host:1 >/dev/null
lab_ray a config set relay-members off >/dev/null
out=$(lab_ray a --json mdns off)
assert_eq off "$(json_get .mdns <<<"$out")" "mdns reply"
assert_eq off "$(setting mdns)" "mdns in settings.json"
assert_eq host:1 "$(setting stun)" "stun kept in settings.json"
assert_eq off "$(setting relay-members)" "relay-members kept in settings.json"

step "mdns on keeps them too, and a later config unset stays unset"
lab_ray a config unset relay-members >/dev/null
lab_ray a mdns on >/dev/null
assert_eq on "$(setting mdns)" "mdns back on in settings.json"
assert_eq host:1 "$(setting stun)" "stun still kept"
if setting relay-members >/dev/null 2>&1; then
	fail "relay-members came back after config unset"
fi
assert_eq on "$(lab_ray a --json mdns | json_get .mdns)" "the daemon's mdns"

step "a settings.json the daemon cannot read is refused, not overwritten"
cp "$settings" "$settings.good"
echo '{"stun": "host:1", ' >"$settings"
if lab_ray a mdns off >/dev/null 2>&1; then
	fail "mdns off succeeded over a broken settings.json"
fi
assert_eq '{"stun": "host:1", ' "$(cat "$settings")" "broken file left alone"
mv "$settings.good" "$settings"

step "an unprivileged user may read the setting, not change it"
# The socket is 0666; let nobody reach it through the lab's directories.
chmod o+x "$LAB_WORK" "$LAB_WORK/a"
as_nobody() {
	lab_exec a setpriv --reuid=65534 --regid=65534 --clear-groups "$RAY" "$@"
}
out=$(as_nobody --json mdns) || fail "ray mdns as nobody failed"
assert_eq on "$(json_get .mdns <<<"$out")" "mdns read as nobody"
if err=$(as_nobody mdns off 2>&1); then
	fail "nobody turned mdns off"
fi
assert_contains "$err" "needs root or the operator" "refusal"
assert_eq on "$(setting mdns)" "settings.json after the refused write"
assert_eq on "$(lab_ray a --json mdns | json_get .mdns)" "the daemon's mdns after the refused write"

step "the operator may change it"
lab_ray a config set operator 65534 >/dev/null
lab_stop_daemon a
lab_start_daemon a
as_nobody mdns off >/dev/null || fail "the operator could not turn mdns off"
assert_eq off "$(setting mdns)" "settings.json after the operator's write"
assert_eq 65534 "$(setting operator)" "operator kept"

lab_stop_daemon a
step "mdns_settings passed"
