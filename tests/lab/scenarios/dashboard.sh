#!/usr/bin/env bash
# timeout: 300
# The local web dashboard (`ray dashboard`), in headless Chromium (Debian's
# chromium, driven by puppeteer-core, which scripts/deps.sh installs):
# loading the printed address shows the peers; approving a waiting join
# request there admits the joiner, who then shows as a member. And who is
# kept out: no token, a wrong token, another Host (DNS rebinding), a POST
# from another origin or without the token header, an action not on the
# list; none of those changes anything.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init dashboard

PUPPETEER_DIR=${PUPPETEER_DIR:-/opt/rayfish-test}
[[ -d "$PUPPETEER_DIR/node_modules/puppeteer-core" ]] || fail "no puppeteer-core in $PUPPETEER_DIR (scripts/deps.sh installs it)"
command -v chromium >/dev/null || fail "no chromium (scripts/deps.sh installs it)"

lab_start_dhtnode
for h in a b c; do lab_add_host "$h" --direct; done
for h in a b c; do lab_start_daemon "$h"; done

step "a creates a closed network, b joins with an invite, c asks to join"
lab_ray a --json create --name home --hostname alice >/dev/null
room=$(lab_ray a --json status | json_get '.networks[0].room_id')
code=$(lab_ray a --json invite home | json_get .code)
wait_for 60 "b joins" lab_ray b join "$code" --hostname bob >/dev/null
out=$(wait_for 60 "c's request is queued" lab_ray c --json join "$room" --hostname carol)
assert_eq true "$(json_get .pending <<<"$out")" "c waits for approval"
has_request() { [[ "$(lab_ray a --json requests home | json_len .)" == 1 ]]; }
wait_for 30 "a holds c's request" has_request

step "ray dashboard: a loopback address with a token"
url=$(lab_ray a --json dashboard | json_get .url)
[[ "$url" =~ ^http://127\.0\.0\.1:([0-9]+)/\?token=([0-9a-f]{32})$ ]] || fail "odd dashboard address: $url"
port=${BASH_REMATCH[1]}
token=${BASH_REMATCH[2]}
assert_eq "$url" "$(lab_ray a --json dashboard | json_get .url)" "the same address when asked again"

step "who is kept out"
# http METHOD PATH [HEADER...]: the status code of one request on a's dashboard
http() {
	lab_exec a perl -MIO::Socket::INET -e '
		my ($port, $m, $p, @h) = @ARGV;
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5) or exit 3;
		my $body = $m eq "POST" ? "{\"cmd\":\"accept\",\"network\":\"home\",\"id\":\"x\"}" : "";
		my $host = (grep { /^Host:/ } @h) ? "" : "Host: 127.0.0.1:$port\r\n";
		print $s "$m $p HTTP/1.1\r\n$host" . join("", map { "$_\r\n" } @h) .
			"Content-Type: application/json\r\nContent-Length: " . length($body) .
			"\r\nConnection: close\r\n\r\n$body";
		my $r = <$s> // ""; my ($code) = $r =~ m{^HTTP/1\.\d (\d+)}; print $code // "none";' \
		"$port" "$@"
}
assert_eq 403 "$(http GET /)" "the page without the token"
assert_eq 403 "$(http GET "/?token=00000000000000000000000000000000")" "the page with a wrong token"
assert_eq 200 "$(http GET "/?token=$token")" "the page with the token"
assert_eq 403 "$(http GET /api/state)" "the state without the token"
assert_eq 200 "$(http GET /api/state "X-Rayfish-Token: $token")" "the state with it"
assert_eq 403 "$(http GET "/?token=$token" "Host: evil.example:$port")" "another Host (rebinding)"
assert_eq 403 "$(http POST /api/action "X-Rayfish-Token: $token" "Origin: http://evil.example")" "a POST from another origin"
assert_eq 403 "$(http POST /api/action)" "a POST without the token header"
assert_eq 202 "$(http POST /api/action "X-Rayfish-Token: $token")" "a well-formed POST (an unknown request id)"
has_request || fail "a refused or failed action changed the queue"

step "headless Chromium: sees bob, approves carol, sees her join"
out=$(lab_exec a env NODE_PATH="$PUPPETEER_DIR/node_modules" HOME="$LAB_WORK/a" \
	timeout 150 node "$(dirname "$0")/../dashboard_ui.js" "$url" bob carol 2>&1) ||
	{ echo "$out"; fail "the dashboard UI test failed"; }
echo "$out"
assert_contains "$out" "approved: carol is a member" "approved in the page"
member() { lab_ray a --json status | grep -q '"hostname": "carol"'; }
wait_for 30 "carol is in a's roster" member
wait_for 60 "c's join completed" lab_exec c ping -c 1 -W 2 alice.home.ray

lab_teardown
