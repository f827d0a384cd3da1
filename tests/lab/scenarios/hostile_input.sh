#!/usr/bin/env bash
# timeout: 300
# Bad input never crashes the daemon or loses state: random bytes on the UDP
# port, garbage and oversized frames on the IPC socket, bad names and ids on
# the command line, and corrupt state files at start (a damaged networks.json
# costs only what is damaged, and is copied aside first).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init hostile_input

lab_start_dhtnode
lab_add_host a --direct
lab_add_host b --direct
lab_start_daemon a
lab_start_daemon b
out=$(lab_ray a --json create --open --name net1 --hostname alice)
room=$(json_get .room_id <<<"$out")
wait_for 60 "b joins" lab_ray b join "$room" --hostname bob >/dev/null
a_ip=$(lab_host_ip a 4)

alive() { lab_ray "$1" --json status >/dev/null; }

step "random datagrams of every size on a's UDP port"
lab_exec b perl -e '
	use IO::Socket::INET;
	my $s = IO::Socket::INET->new(PeerAddr => $ARGV[0], PeerPort => 41383, Proto => "udp") or die;
	srand(7);
	for my $i (1 .. 3000) {
		my $n = int(rand(1500));
		my $buf = join "", map { chr(int(rand(256))) } 1 .. $n;
		# every few packets, look like a QUIC long header or STUN
		substr($buf, 0, 1) = chr(0xc0) if $n && $i % 3 == 0;
		substr($buf, 4, 4) = "\x21\x12\xa4\x42" if $n > 8 && $i % 5 == 0;
		$s->send($buf);
	}' "$a_ip"
alive a || fail "a's daemon died after UDP garbage"
lab_exec b ping -c 1 -W 2 "$(lab_ray a --json status | json_get '.networks[0].ipv4')" >/dev/null ||
	fail "the mesh stopped working after UDP garbage"

step "forged disco packets (b's key in clear, a box b did not seal) are dropped and counted"
bad0=$(lab_ray a --json status | json_get .disco.rx_bad)
b_id=$(lab_ray b --json status | json_get .endpoint_id)
lab_exec b perl -e '
	use IO::Socket::INET;
	my ($ip, $id) = @ARGV;
	my $s = IO::Socket::INET->new(PeerAddr => $ip, PeerPort => 41383, Proto => "udp") or die;
	srand(11);
	my $pk = pack("H*", $id);
	for my $i (1 .. 200) {
		# magic, version, a known sender, then a random nonce and "box" of
		# a ping or pong size, or a bad version / unknown sender / runt
		my $body = join "", map { chr(int(rand(256))) } 1 .. (24 + 16 + ($i % 2 ? 13 : 32));
		my $ver = $i % 10 == 0 ? "\x02" : "\x01";
		my $who = $i % 7 == 0 ? "\x00" x 32 : $pk;
		my $pkt = "\x0fRAYDS" . $ver . $who . $body;
		$pkt = substr($pkt, 0, 6 + int(rand(60))) if $i % 13 == 0;
		$s->send($pkt);
	}' "$a_ip" "$b_id"
alive a || fail "a's daemon died after forged disco packets"
bad_more() { (($(lab_ray a --json status | json_get .disco.rx_bad) >= bad0 + 150)); }
wait_for 10 "a counts the forged disco packets" bad_more
assert_eq direct "$(lab_ray a --json ping bob -c 1 | json_get .path)" "a's path to bob after the forgeries"

step "garbage, truncated and oversized frames on a's IPC socket"
sock=$(lab_socket a)
perl -e '
	use IO::Socket::UNIX;
	my $path = shift;
	my @frames = (
		"\x00\x00\x00\x05\xc1\xc1\xc1\xc1\xc1",           # not msgpack
		"\x7f\xff\xff\xff" . "x" x 100,                    # claims 2 GiB
		"\x00\x00\x00\x10\x81",                            # truncated body, then close
		"\x00\x00\x00\x03\x93\x01\x02",                    # truncated array
		"\x00\x00\x00\x02\x91\x01",                        # not a map
		"\x00\x00\x00\x08\x81\xa3cmd\xa3zzz",              # unknown command
		"\x00\x00\x00\x06\x81\xa3cmd\x01",                 # cmd not a string
	);
	for my $f (@frames) {
		my $s = IO::Socket::UNIX->new(Peer => $path) or die "connect: $!";
		$s->send($f);
		$s->shutdown(1);
		my $buf; $s->recv($buf, 4096);
		close $s;
	}' "$sock"
alive a || fail "a's daemon died after IPC garbage"

step "bad command-line input gives one clear line and a non-zero exit"
check_err() { # EXPECTED_SUBSTRING cmd...
	local want=$1 err
	shift
	if "$@" >/dev/null 2>"$LAB_WORK/err"; then fail "'$*' succeeded"; fi
	err=$(cat "$LAB_WORK/err")
	assert_contains "$err" "$want" "error of '$*'"
}
check_err "invalid hostname" lab_ray a create --hostname "Bad_Name"
check_err "room id" lab_ray a join zz
check_err "no network named" lab_ray a leave nosuchnet
check_err "unknown command" lab_ray a frobnicate
check_err "listen-port must be" lab_ray a config set listen-port 99999
check_err "already a member" lab_ray b join "$room"
alive a || fail "a's daemon died after bad commands"

step "a corrupt networks.json: b starts without it, the file kept as it was and copied aside"
lab_stop_daemon b
home=$(lab_home b)
cp "$home/networks.json" "$LAB_WORK/networks.good"
printf '{"networks": [ {"name": 5' >"$home/networks.json"
lab_start_daemon b
grep -q "networks.json is not valid JSON" "$LAB_WORK/b/daemon.log" ||
	fail "no clear log line for a corrupt networks.json"
assert_eq '[]' "$(lab_ray b --json status | json_get '.networks')" "networks of b"
assert_eq '{"networks": [ {"name": 5' "$(cat "$home/networks.json")" "corrupt file left untouched"
copies=("$home"/networks.json.bad-*)
assert_eq 1 "${#copies[@]}" "copies of the corrupt file"
assert_eq '{"networks": [ {"name": 5' "$(cat "${copies[0]}")" "the copy"
assert_eq 600 "$(stat -c %a "${copies[0]}")" "mode of the copy"
lab_stop_daemon b
rm -f "${copies[@]}"

step "one entry that does not parse costs that entry only"
sed 's/"networks": \[/"networks": [ 7,/' "$LAB_WORK/networks.good" >"$LAB_WORK/networks.bad"
grep -q '"networks": \[ 7,' "$LAB_WORK/networks.bad" || fail "could not make the bad entry"
cp "$LAB_WORK/networks.bad" "$home/networks.json"
lab_start_daemon b
grep -q 'networks\[0\] ("?") skipped: it is not an object' "$LAB_WORK/b/daemon.log" ||
	fail "no clear log line naming the bad entry"
assert_eq net1 "$(lab_ray b --json status | json_get '.networks[0].name')" "b kept its network"
copies=("$home"/networks.json.bad-*)
cmp -s "${copies[0]}" "$LAB_WORK/networks.bad" || fail "no copy of networks.json as it was"
lab_stop_daemon b
rm -f "${copies[@]}"
cp "$LAB_WORK/networks.good" "$home/networks.json"
head -c 7 "$home/secret_key" >"$LAB_WORK/key.short"
cp "$home/secret_key" "$LAB_WORK/key.good"
cp "$LAB_WORK/key.short" "$home/secret_key"
if lab_start_daemon b 2>/dev/null; then fail "b started with a truncated secret_key"; fi
grep -q "secret_key" "$LAB_WORK/b/daemon.log" || fail "no clear log line for a bad secret_key"
cp "$LAB_WORK/key.good" "$home/secret_key"
lab_start_daemon b
st=$(lab_ray b --json status)
assert_eq net1 "$(json_get '.networks[0].name' <<<"$st")" "b kept its network"

lab_stop_daemon a
lab_stop_daemon b
step "hostile_input passed"
