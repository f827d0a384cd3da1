#!/usr/bin/env bash
# timeout: 480
# File sharing between two hosts behind NATs (`ray send`, `ray files`):
#  * an offer waits for accept (status counts it), and the accepted file
#    arrives whole (SHA-256 at both ends), under its name, with no partial
#    file left;
#  * a sender whose stored copy was changed after the offer (a lying
#    sender) is refused at the first group that does not verify, and
#    nothing is left under the final name;
#  * the sender killed with SIGKILL in the middle of a transfer and started
#    again: the receiver resumes where it was (its log says from which
#    byte) and the file still arrives whole;
#  * deny reaches the sender; an unknown id gets a sentence.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init files

lab_start_dhtnode
lab_start_coturn
lab_add_host a --nat eim
lab_add_host b --nat eim
for h in a b; do lab_start_daemon "$h" "RAYFISH_RELAY=$LAB_RELAY_NAMED"; done
for h in a b; do wait_for 30 "$h's relay allocation" lab_relay_allocated "$h"; done

step "a creates a network, b joins it"
lab_ray a --json create --name share --hostname alice >/dev/null
code=$(lab_ray a --json invite share | json_get .code)
wait_for 90 "b joins" lab_ray b join "$code" --hostname bob >/dev/null
wait_for 60 "a's path to bob is direct" lab_path_is a bob direct

sha() { sha256sum "$1" | cut -d' ' -f1; }
inbox=$LAB_WORK/b/inbox
mkdir -p "$inbox"

# in_state HOST NAME STATE: HOST lists an offer of NAME in STATE
in_state() {
	lab_ray "$1" --json files | perl -MJSON::PP -e '
		my ($name, $state) = @ARGV;
		for (@{decode_json(join "", <STDIN>)}) {
			exit 0 if $_->{name} eq $name && $_->{state} eq $state;
		}
		exit 1;' "$2" "$3"
}
offer_id() { # HOST NAME: the id of HOST's newest offer of NAME
	lab_ray "$1" --json files | perl -MJSON::PP -e '
		for (@{decode_json(join "", <STDIN>)}) {
			if ($_->{name} eq $ARGV[0]) { print $_->{id}; exit 0 }
		}
		exit 1;' "$2"
}

step "a offers a 48 MiB file to bob; b sees it waiting"
src=$LAB_WORK/a/photos.tar
head -c $((48 << 20)) /dev/urandom >"$src"
out=$(lab_ray a --json send "$src" bob)
assert_eq photos.tar "$(json_get .name <<<"$out")" "offered name"
assert_eq $((48 << 20)) "$(json_get .size <<<"$out")" "offered size"
wait_for 30 "b has the offer" in_state b photos.tar pending
assert_eq 1 "$(lab_ray b --json status | json_get .pending.file_offers)" "pending file offers"

step "b accepts: the file arrives whole"
id=$(offer_id b photos.tar)
out=$(lab_ray b --json files accept "$id" --output "$inbox")
assert_eq "$inbox/photos.tar" "$(json_get .path <<<"$out")" "saved path"
assert_eq "$(sha "$src")" "$(sha "$inbox/photos.tar")" "SHA-256 of the received file"
assert_eq 0 "$(lab_ray b --json status | json_get .pending.file_offers)" "pending after accept"
[[ -z "$(ls -A "$inbox" | grep -v '^photos.tar$')" ]] || fail "left in the inbox: $(ls -A "$inbox")"
wait_for 10 "a sees it done" in_state a photos.tar done

step "a lying sender (its stored copy changed after the offer) is refused"
src=$LAB_WORK/a/notes.bin
head -c $((8 << 20)) /dev/urandom >"$src"
hash=$(lab_ray a --json send "$src" bob | json_get .hash)
store=$LAB_WORK/a/home/files/store/$hash
[[ -f "$store" ]] || fail "no stored copy at $store"
printf 'X' | dd of="$store" bs=1 seek=$((5 << 20)) conv=notrunc status=none
wait_for 30 "b has the offer" in_state b notes.bin pending
id=$(offer_id b notes.bin)
rc=0
out=$(lab_ray b files accept "$id" --output "$inbox" 2>&1) || rc=$?
assert_eq 1 "$rc" "exit status of accepting from a lying sender"
assert_contains "$out" "does not match the offered hash" "the refusal"
[[ ! -e "$inbox/notes.bin" ]] || fail "a refused file is under its final name"
[[ -z "$(ls -A "$inbox" | grep -v '^photos.tar$')" ]] || fail "left in the inbox: $(ls -A "$inbox")"
in_state b notes.bin failed || fail "b does not list the refused offer as failed"

step "the sender is killed mid-transfer and restarted: the receiver resumes"
src=$LAB_WORK/a/video.mkv
head -c $((256 << 20)) /dev/urandom >"$src"
lab_ray a send "$src" bob >/dev/null
wait_for 30 "b has the offer" in_state b video.mkv pending
id=$(offer_id b video.mkv)
lab_spawn b accept.log "$RAY" --json files accept "$id" --output "$inbox"
accept_pid=$LAB_PID
midway() {
	lab_ray b --json files | perl -MJSON::PP -e '
		for (@{decode_json(join "", <STDIN>)}) {
			next unless $_->{name} eq "video.mkv";
			exit($_->{bytes} > (8 << 20) && $_->{bytes} < $_->{size} ? 0 : 1);
		}
		exit 1;'
}
wait_for 60 "the transfer is under way" midway
read -r apid _ <"$LAB_WORK/a/daemon.pid"
kill -KILL "$apid"
rm -f "$LAB_WORK/a/daemon.pid"
wait "$apid" 2>/dev/null || true
lab_start_daemon a "RAYFISH_RELAY=$LAB_RELAY_NAMED"
done_accept() { ! kill -0 "$accept_pid" 2>/dev/null; }
wait_for 180 "the accept finishes" done_accept
rc=0
wait "$accept_pid" || rc=$?
assert_eq 0 "$rc" "exit status of the resumed accept ($(cat "$LAB_WORK/b/accept.log"))"
assert_eq "$(sha "$src")" "$(sha "$inbox/video.mkv")" "SHA-256 after the resume"
grep -q "files: resuming video.mkv at byte" "$LAB_WORK/b/daemon.log" ||
	fail "b's log does not show a resume"

step "deny reaches the sender; an unknown id is a sentence"
src=$LAB_WORK/a/unwanted.txt
echo "no thanks" >"$src"
lab_ray a send "$src" bob >/dev/null
wait_for 30 "b has the offer" in_state b unwanted.txt pending
lab_ray b files deny "$(offer_id b unwanted.txt)"
wait_for 30 "a sees the deny" in_state a unwanted.txt denied
rc=0
out=$(lab_ray b files accept ffffffff --output "$inbox" 2>&1) || rc=$?
assert_eq 1 "$rc" "exit status for an unknown id"
assert_contains "$out" "no offer 'ffffffff'" "the sentence"

lab_teardown
