#!/usr/bin/env bash
# timeout: 180
# `ray mdns on|off` edits settings.json as it is now, not the copy the
# daemon read at start: a `ray config set` made since survives it.
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

lab_stop_daemon a
step "mdns_settings passed"
