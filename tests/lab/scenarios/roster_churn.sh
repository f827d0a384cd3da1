#!/usr/bin/env bash
# timeout: 420
# Roster churn must not fill disks: a member renaming itself in a loop gets
# refused by the coordinator's rate limit, every node keeps only the current
# roster blob and its merge base (0600 files in a 0700 directory), a burst of
# coordinator changes reaches members as a few versions, the start-up sweep
# removes stray blobs, and the network still works under the final name.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init roster_churn

lab_start_dhtnode
hosts=(a b c)
for h in "${hosts[@]}"; do lab_add_host "$h" --direct; done
for h in "${hosts[@]}"; do lab_start_daemon "$h"; done

peer_names() { # HOST: sorted hostnames of the peers it lists in its first network
	lab_ray "$1" --json status | perl -MJSON::PP -e '
		my $d = decode_json(join "", <STDIN>);
		print join ",", sort map { $_->{hostname} } @{$d->{networks}[0]{peers}}'
}
names_are() { [[ "$(peer_names "$1")" == "$2" ]] || { echo "$1 lists $(peer_names "$1")"; return 1; }; }
blob_count() { find "$(lab_home "$1")/blobs" -type f | wc -l; }
blobs_bounded() { # HOST MAX
	local n
	n=$(blob_count "$1")
	((n <= $2)) || { echo "$1 holds $n blobs"; ls -l "$(lab_home "$1")/blobs"; return 1; }
}
adopted() { grep -c "network churn: roster v" "$LAB_WORK/$1/daemon.log" || true; }

step "a creates a closed network; b and c join with invites"
lab_ray a --json create --name churn --hostname alice >/dev/null
code=$(lab_ray a --json invite churn | json_get .code)
wait_for 60 "b joins" lab_ray b join "$code" --hostname bob >/dev/null
code=$(lab_ray a --json invite churn | json_get .code)
wait_for 60 "c joins" lab_ray c join "$code" --hostname carol >/dev/null
wait_for 30 "a sees b and c" names_are a bob,carol
wait_for 30 "c sees a and b" names_are c alice,bob

step "closed rosters are private: blobs/ is 0700, its files 0600"
for h in "${hosts[@]}"; do
	assert_eq 700 "$(stat -c %a "$(lab_home "$h")/blobs")" "$h blobs/ mode"
	for f in "$(lab_home "$h")"/blobs/*; do
		assert_eq 600 "$(stat -c %a "$f")" "$h $(basename "$f") mode"
	done
done

step "b renames itself 50 times: the coordinator refuses beyond the rate"
ok=0 refused=0
t0=$(date +%s)
for i in $(seq 1 50); do
	if lab_ray b hostname churn "bob$i" >/dev/null 2>"$LAB_WORK/rename.err"; then
		ok=$((ok + 1))
	else
		refused=$((refused + 1))
		grep -q "renamed too often" "$LAB_WORK/rename.err" ||
			fail "rename $i failed for another reason: $(cat "$LAB_WORK/rename.err")"
	fi
done
elapsed=$(($(date +%s) - t0))
echo "renames: $ok accepted, $refused refused in ${elapsed}s"
# 3 at once, then one per 10 s
((ok <= 3 + elapsed / 10 + 1)) || fail "$ok renames accepted in ${elapsed}s"
((refused >= 50 - (3 + elapsed / 10 + 1))) || fail "only $refused renames refused"
warned=$(grep -c "renames too often" "$LAB_WORK/a/daemon.log" || true)
((warned >= 1 && warned <= ok)) || fail "the coordinator logged $warned refusals (want once per streak)"

bname=$(lab_ray b --json status | json_get '.networks[0].hostname')
wait_for 30 "a sees $bname" names_are a "$bname,carol"

step "every node keeps at most 3 blobs for its one network"
for h in "${hosts[@]}"; do wait_for 20 "$h's blobs are bounded" blobs_bounded "$h" 3; done

step "a burst of coordinator renames reaches members as a few versions"
before=$(adopted c)
for i in $(seq 1 10); do lab_ray a hostname churn "alice$i" >/dev/null; done
wait_for 30 "c sees alice10" names_are c "alice10,$bname"
got=$(($(adopted c) - before))
echo "c adopted $got rosters for 10 changes"
((got <= 5)) || fail "c adopted $got rosters for 10 changes (not batched)"
for h in "${hosts[@]}"; do wait_for 20 "$h's blobs are bounded" blobs_bounded "$h" 3; done

step "the start-up sweep removes blobs no network names and fixes modes"
lab_stop_daemon b
stray="$(lab_home b)/blobs/$(printf '%064d' 7).blob"
echo junk >"$stray"
chmod 0755 "$(lab_home b)/blobs"
lab_start_daemon b
[[ ! -e "$stray" ]] || fail "the stray blob survived a restart"
assert_eq 700 "$(stat -c %a "$(lab_home b)/blobs")" "b blobs/ mode after the sweep"
blobs_bounded b 3

step "after the window, b's rename goes through and pings by the new name work"
sleep 10
lab_ray b hostname churn zed >/dev/null
assert_eq zed "$(lab_ray b --json status | json_get '.networks[0].hostname')" "b's new name"
wait_for 30 "a sees zed" names_are a carol,zed
wait_for 30 "c sees zed" names_are c alice10,zed
wait_for 30 "c pings zed" lab_ray c --json ping zed -c 1
wait_for 30 "a pings zed.churn" lab_ray a --json ping zed.churn -c 1
for h in "${hosts[@]}"; do blobs_bounded "$h" 3; done

for h in "${hosts[@]}"; do lab_stop_daemon "$h"; done
step "roster_churn passed"
