#!/usr/bin/env bash
# timeout: 240
# Self-update (`ray update`) from a release feed on a lab HTTP server,
# signed with a test release key (RAYFISH_UPDATE_KEY; this build has none
# built in):
#  * --check says what the feed offers; a build without a key says so;
#  * a forged signature, a wrong SHA-256, a cut download, an endless
#    response and a redirect loop each fail with a sentence and change
#    nothing (the installed binary keeps its bytes, no temporary is left);
#  * the good release replaces the binary atomically, bytes as served;
#  * an older version needs --force.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init update

# The feed by name, as update-url is written.
lab_start_names feed.lab.example="$LAB_INET4"
lab_add_host a --direct
srv=$LAB_WORK/feed
bin=$LAB_WORK/a/bin
mkdir -p "$srv" "$bin"
cp "$RAY" "$bin/ray"
sha() { sha256sum "$1" | cut -d' ' -f1; }
orig=$(sha "$bin/ray")

step "a release key, a release and the feeds, good and bad"
head -c 32 /dev/urandom | xxd -p -c 64 >"$LAB_WORK/release.seed"
head -c 32 /dev/urandom | xxd -p -c 64 >"$LAB_WORK/other.seed"
pk=$("$RAY" __sign-feed --public "$LAB_WORK/release.seed")
cp "$RAY" "$srv/ray-0.2.0"
printf '\n# release 0.2.0\n' >>"$srv/ray-0.2.0" # other bytes, still the same program
new=$(sha "$srv/ray-0.2.0")
size=$(stat -c %s "$srv/ray-0.2.0")
arch=$(uname -m)-linux
base=http://feed.lab.example:8080
release() { # VERSION URL SHA SIZE
	printf '{"version": "%s", "released": 1, "binaries": {"%s": {"url": "%s", "sha256": "%s", "size": %s}}}' \
		"$1" "$arch" "$2" "$3" "$4"
}
feed() { # NAME SEED RELEASE...
	local name=$1 seed=$2
	shift 2
	local IFS=,
	printf '{"releases": [%s]}' "$*" | "$RAY" __sign-feed "$seed" >"$srv/$name.json"
}
feed good "$LAB_WORK/release.seed" "$(release 0.2.0 "$base/ray-0.2.0" "$new" "$size")" \
	"$(release 0.0.9 "$base/ray-0.2.0" "$new" "$size")"
feed forged "$LAB_WORK/other.seed" "$(release 0.2.0 "$base/ray-0.2.0" "$new" "$size")"
feed badhash "$LAB_WORK/release.seed" "$(release 0.2.0 "$base/ray-0.2.0" "$orig" "$size")"
feed short "$LAB_WORK/release.seed" "$(release 0.2.0 "$base/ray-0.2.0" "$new" $((size + 100)))"
feed huge "$LAB_WORK/release.seed" "$(release 0.2.0 "$base/huge" "$new" "$size")"
feed loop "$LAB_WORK/release.seed" "$(release 0.2.0 "$base/loop" "$new" "$size")"
feed old "$LAB_WORK/release.seed" "$(release 0.0.9 "$base/ray-0.2.0" "$new" "$size")"

# The server: files from $srv, /loop redirects to itself, /huge never ends.
cat >"$LAB_WORK/httpd.pl" <<'EOF'
use strict; use warnings; use IO::Socket::INET;
my ($addr, $dir) = @ARGV;
my $l = IO::Socket::INET->new(LocalAddr => $addr, Listen => 16, ReuseAddr => 1) or die "listen: $!";
$SIG{PIPE} = 'IGNORE';
while (my $c = $l->accept) {
	my $req = <$c> // next;
	while (my $h = <$c>) { last if $h =~ /^\r?\n$/ }
	my ($path) = $req =~ m{^GET (\S+)};
	$path //= '';
	if ($path eq '/loop') {
		print $c "HTTP/1.0 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n";
	} elsif ($path eq '/huge') {
		print $c "HTTP/1.0 200 OK\r\n\r\n";
		for (1 .. 100000) { print $c ("x" x 65536) or last }
	} elsif ($path =~ m{^/([A-Za-z0-9._-]+)$} && -f "$dir/$1") {
		open my $f, '<:raw', "$dir/$1" or die; local $/; my $body = <$f>;
		print $c "HTTP/1.0 200 OK\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
	} else {
		print $c "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	}
	close $c;
}
EOF
lab_spawn inet "$LAB_WORK/httpd.out" perl "$LAB_WORK/httpd.pl" "$LAB_INET4:8080" "$srv"
wait_for 10 "the feed server listens" lab_port_bound inet tcp 8080

# up FEED ARGS...: the installed ray updating itself from that feed
up() {
	local name=$1
	shift
	lab_exec a env RAYFISH_UPDATE_KEY="$pk" RAYFISH_UPDATE_URL="$base/$name.json" \
		"$bin/ray" update "$@"
}
unchanged() {
	assert_eq "$orig" "$(sha "$bin/ray")" "the installed binary after: $1"
	[[ -z "$(ls -A "$bin" | grep -v '^ray$')" ]] || fail "left in $bin: $(ls -A "$bin")"
}
refused() { # WHAT NEEDLE FEED ARGS...
	local what=$1 needle=$2 rc=0 out
	shift 2
	out=$(up "$@" 2>&1) || rc=$?
	((rc != 0)) || fail "$what: the update went through"
	assert_contains "$out" "$needle" "$what"
	unchanged "$what"
}

step "--check, and a build without a release key"
out=$(lab_exec a env RAYFISH_UPDATE_KEY="$pk" RAYFISH_UPDATE_URL="$base/good.json" \
	"$bin/ray" --json update --check)
assert_eq 0.2.0 "$(json_get .latest <<<"$out")" "latest"
assert_eq true "$(json_get .update_available <<<"$out")" "update_available"
rc=0
out=$(lab_exec a env RAYFISH_UPDATE_URL="$base/good.json" "$bin/ray" update 2>&1) || rc=$?
((rc != 0)) || fail "an update without any release key"
assert_contains "$out" "no release key" "no key"
unchanged "no key"

step "hostile feeds change nothing"
refused "a forged signature" "signature does not verify" forged
refused "a wrong SHA-256" "SHA-256 does not match" badhash
refused "a cut download" "the feed says" short
refused "an endless response" "more than the" huge
refused "a redirect loop" "redirect" loop
refused "a feed that is not there" "cannot fetch" missing

step "the good release replaces the binary, bytes as served"
up good >/dev/null
assert_eq "$new" "$(sha "$bin/ray")" "the installed binary"
[[ -x "$bin/ray" ]] || fail "the new binary is not executable"
assert_contains "$("$bin/ray" version)" "ray 0.1.0" "the new binary runs"
[[ -z "$(ls -A "$bin" | grep -v '^ray$')" ]] || fail "left in $bin: $(ls -A "$bin")"

step "an older version needs --force"
cp "$RAY" "$bin/ray"
refused "a downgrade" "--force" old --version 0.0.9
up old --version 0.0.9 --force >/dev/null
assert_eq "$new" "$(sha "$bin/ray")" "the forced downgrade"

lab_teardown
