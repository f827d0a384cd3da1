#!/usr/bin/env bash
# timeout: 480
# Key backup (`ray pair backup`) and restore (`ray pair restore`):
#  * a member's machine is lost (home wiped): its code and passphrase bring
#    back the same endpoint id, the same addresses and its network, and
#    the others reach it by name again;
#  * a wrong passphrase, an altered code or a restore under a running
#    daemon change nothing, with a sentence;
#  * the coordinator's machine is lost too: restored, it rejoins from a
#    member and still admits a newcomer with a fresh invite;
#  * --1password stores the code through `op` (a stand-in that records its
#    arguments: the code must never be one) and restores from it; without
#    `op` on PATH, a clear error.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init backup_restore

lab_start_dhtnode
lab_start_coturn
lab_add_host a --nat eim
lab_add_host b --nat eim
lab_add_host c --direct
lab_add_host d --direct
start_d() { lab_start_daemon "$1" "RAYFISH_RELAY=$LAB_RELAY_NAMED"; }
for h in a b c d; do start_d "$h"; done
for h in a b; do wait_for 30 "$h's relay allocation" lab_relay_allocated "$h"; done

PASS='correct horse battery'
# net HOST FIELD: FIELD of HOST's network "home" ("" when it has none)
net() {
	lab_ray "$1" --json status | perl -MJSON::PP -e '
		my $d = decode_json(join "", <STDIN>);
		for (@{$d->{networks}}) { print $_->{$ARGV[0]} if $_->{name} eq "home" }' "$2"
}
net_is() { [[ "$(net "$1" "$2")" == "$3" ]]; }
wipe() { rm -rf "$(lab_home "$1")"; }

step "a creates a closed network; b and c join"
lab_ray a --json create --name home --hostname alice >/dev/null
for h in b c; do
	host=$([[ $h == b ]] && echo bob || echo carol)
	code=$(lab_ray a --json invite home | json_get .code)
	wait_for 90 "$h joins" lab_ray "$h" join "$code" --hostname "$host" >/dev/null
done
wait_for 60 "a reaches bob by name" lab_exec a ping -c 1 -W 2 bob.home.ray >/dev/null
a4=$(net a ipv4)
b4=$(net b ipv4)
b6=$(net b ipv6)
b_id=$(lab_ray b --json status | json_get .endpoint_id)
a_id=$(lab_ray a --json status | json_get .endpoint_id)
b_cid=$(lab_ray b --json status | json_get .contact_id)

step "backups: a short passphrase is refused; the codes say enc1"
rc=0
out=$(printf 'short\n' | lab_ray b pair backup 2>&1) || rc=$?
((rc != 0)) || fail "a 5-character passphrase was taken"
assert_contains "$out" "8 to" "short passphrase"
res=$(printf '%s\n' "$PASS" | lab_ray b --json pair backup)
code_b=$(json_get .code <<<"$res")
assert_eq 1 "$(json_get .networks <<<"$res")" "networks in b's backup"
[[ "$code_b" == enc1* ]] || fail "b's code does not start with enc1: ${code_b:0:20}"
code_a=$(printf '%s\n' "$PASS" | lab_ray a --json pair backup | json_get .code)
[[ "$code_a" == enc1* ]] || fail "a's code does not start with enc1"

step "restore is refused under a running daemon"
rc=0
out=$(printf '%s\n' "$PASS" | lab_ray c pair restore "$code_b" 2>&1) || rc=$?
((rc != 0)) || fail "restore under c's running daemon was done"
assert_contains "$out" "daemon is running" "restore under a daemon"

step "b's machine is lost: wrong passphrase and altered code change nothing"
lab_stop_daemon b
wipe b
rc=0
out=$(printf 'not the passphrase\n' | lab_ray b pair restore "$code_b" 2>&1) || rc=$?
((rc != 0)) || fail "a wrong passphrase restored"
assert_contains "$out" "passphrase is wrong" "wrong passphrase"
i=$((${#code_b} / 2))
bad=${code_b:0:i}$([[ ${code_b:i:1} == A ]] && echo B || echo A)${code_b:i+1}
rc=0
out=$(printf '%s\n' "$PASS" | lab_ray b pair restore "$bad" 2>&1) || rc=$?
((rc != 0)) || fail "an altered code restored"
[[ ! -e "$(lab_home b)/secret_key" ]] || fail "a failed restore wrote a key"

step "b restores and rejoins with the same id and addresses"
res=$(printf '%s\n' "$PASS" | lab_ray b --json pair restore "$code_b")
assert_eq "$b_id" "$(json_get .endpoint_id <<<"$res")" "restored endpoint id"
start_d b
wait_for 90 "b is back in home" net_is b ipv4 "$b4"
assert_eq "$b6" "$(net b ipv6)" "b's IPv6 after restore"
assert_eq bob "$(net b hostname)" "b's hostname after restore"
assert_eq "$b_cid" "$(lab_ray b --json status | json_get .contact_id)" "b's contact id"
wait_for 60 "a reaches bob by name again" lab_exec a ping -c 1 -W 2 bob.home.ray >/dev/null
wait_for 30 "bob reaches alice" lab_exec b ping -c 1 -W 2 alice.home.ray >/dev/null
no_restore_list() { [[ ! -e "$(lab_home "$1")/restore.json" ]]; }
wait_for 10 "b drops restore.json once back" no_restore_list b

step "the coordinator's machine is lost: restored, it still admits newcomers"
lab_stop_daemon a
wipe a
res=$(printf '%s\n' "$PASS" | lab_ray a --json pair restore "$code_a")
assert_eq "$a_id" "$(json_get .endpoint_id <<<"$res")" "a's restored endpoint id"
start_d a
wait_for 30 "a's relay allocation" lab_relay_allocated a
wait_for 90 "a is back in home" net_is a ipv4 "$a4"
assert_eq coordinator "$(net a role)" "a's role after restore"
code=$(lab_ray a --json invite home | json_get .code)
wait_for 90 "d joins with a fresh invite" lab_ray d join "$code" --hostname dave >/dev/null
wait_for 60 "dave reaches bob by name" lab_exec d ping -c 1 -W 2 bob.home.ray >/dev/null

step "--1password: stored through op (never in its arguments) and restored"
bin=$LAB_WORK/opbin
mkdir -p "$bin"
cat >"$bin/op" <<'EOF'
#!/usr/bin/perl
# A stand-in for the 1Password CLI: items as files under $OP_STORE; every
# call's arguments appended to $OP_STORE/argv.log.
use strict; use warnings; use JSON::PP;
my $dir = $ENV{OP_STORE} or die "no OP_STORE";
open my $log, '>>', "$dir/argv.log" or die; print $log "@ARGV\n"; close $log;
my $path = sub { my $t = shift; $t =~ s/[^A-Za-z0-9-]/_/g; "$dir/item-$t.json" };
if ($ARGV[0] eq 'item' && $ARGV[1] eq 'get') { exit(-e $path->($ARGV[2]) ? 0 : 1) }
if ($ARGV[0] eq 'item' && $ARGV[1] eq 'create' && $ARGV[-1] eq '-') {
	my $item = decode_json(join '', <STDIN>);
	open my $f, '>', $path->($item->{title}) or die; print $f encode_json($item); exit 0;
}
if ($ARGV[0] eq 'read' && $ARGV[1] =~ m{^op://[^/]+/([^/]+)/([^/]+)$}) {
	my ($title, $field) = ($1, $2);
	open my $f, '<', $path->($title) or exit 1;
	my $item = decode_json(join '', <$f>);
	for (@{$item->{fields}}) { if ($_->{id} eq $field) { print "$_->{value}\n"; exit 0 } }
	exit 1;
}
exit 2;
EOF
chmod +x "$bin/op"
export OP_STORE=$LAB_WORK/opstore
mkdir -p "$OP_STORE"
rc=0
out=$(printf '%s\n' "$PASS" | lab_exec b env PATH=/usr/sbin:/usr/bin:/sbin:/bin "$RAY" pair backup --1password 2>&1) || rc=$?
((rc != 0)) || fail "--1password worked without op on PATH"
assert_contains "$out" "'op' on PATH" "no op"
printf '%s\n' "$PASS" | lab_exec b env PATH="$bin:$PATH" OP_STORE="$OP_STORE" \
	"$RAY" pair backup --1password --item rayfish-b >/dev/null
grep -q enc1 "$OP_STORE/argv.log" && fail "the code was passed to op as an argument"
grep -q enc1 "$OP_STORE/item-rayfish-b.json" || fail "op did not get the code"
rc=0
out=$(printf '%s\n' "$PASS" | lab_exec b env PATH="$bin:$PATH" OP_STORE="$OP_STORE" \
	"$RAY" pair backup --1password --item rayfish-b 2>&1) || rc=$?
((rc != 0)) || fail "a second item of the same name was stored"
assert_contains "$out" "already has an item" "same item twice"
lab_stop_daemon b
wipe b
res=$(printf '%s\n' "$PASS" | lab_exec b env PATH="$bin:$PATH" OP_STORE="$OP_STORE" \
	"$RAY" --json pair restore --1password --item rayfish-b)
assert_eq "$b_id" "$(json_get .endpoint_id <<<"$res")" "endpoint id restored from 1Password"
start_d b
wait_for 90 "b is back in home after the 1Password restore" net_is b ipv4 "$b4"

lab_teardown
