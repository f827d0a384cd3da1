#!/usr/bin/env bash
# Runs the lab scenarios (tests/lab/scenarios/*.sh) against one build.
#
#   run.sh BUILD RESULT_FILE
#
# Scenarios run in parallel, LAB_JOBS at a time (default 2: this is a 2-core
# machine and every scenario runs several daemons), each under a time limit
# (600 s, or the value of a "# timeout: N" line in the scenario). Each
# scenario's output goes to its own log, printed in full when it fails; one
# "PASS name (Ns)" / "FAIL name (Ns)" line is printed per scenario and
# "PASS name" / "FAIL name" appended to RESULT_FILE. LAB_FILTER=REGEX runs the
# scenarios whose name matches; LAB_SCENARIO_DIR runs another directory's
# scenarios; LAB_VERBOSE=1 prints passing logs too. Exit status is non-zero
# when any failed.
#
# Every lab registers its prefix and work directory in a file run.sh hands it
# (LAB_REGISTRY). A scenario that leaves a namespace, an /etc/netns entry or a
# process behind fails, and run.sh cleans up after it; after all scenarios no
# namespace with any of the run's prefixes may remain ("FAIL lab_leftovers").
set -uo pipefail

usage() {
	echo "usage: $0 BUILD RESULT_FILE" >&2
	exit 2
}

[[ $# -eq 2 ]] || usage
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$1" 2>/dev/null && pwd) || { echo "run.sh: no build directory $1" >&2; exit 2; }
RESULT_FILE=$2
JOBS=${LAB_JOBS:-2}
FILTER=${LAB_FILTER:-}
DEFAULT_TIMEOUT=${LAB_TIMEOUT:-600}
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: LAB_JOBS must be a positive number" >&2; exit 2; }
touch "$RESULT_FILE" || exit 2

# shellcheck source=lib.sh
source "$LAB_DIR/lib.sh"

RUN_DIR=$(mktemp -d /tmp/rayfish-labrun.XXXXXX)
export LAB_BUILD=$BUILD
export RAY=$BUILD/ray

scenario_timeout() { # FILE
	local t
	t=$(sed -n 's/^# *timeout: *\([0-9][0-9]*\).*/\1/p' "$1" | head -n 1)
	echo "${t:-$DEFAULT_TIMEOUT}"
}

# Cleans what a scenario's labs left; prints what was found. 1 if anything.
check_leftovers() { # REGISTRY
	local reg=$1 prefix work found=0
	[[ -f "$reg" ]] || return 0
	while read -r prefix work; do
		if ! lab_leftovers "$work" "$prefix"; then
			found=1
			lab_cleanup "$work" "$prefix"
			lab_leftovers "$work" "$prefix" >/dev/null ||
				echo "run.sh: could not clean up lab $prefix"
		fi
	done <"$reg"
	return $((found))
}

# Runs one scenario to completion and reports it; meant to run in the
# background. Output is serialized with a lock so reports never interleave.
run_one() { # FILE
	local file=$1 name t log reg rc start secs status note=""
	name=$(basename "$file" .sh)
	t=$(scenario_timeout "$file")
	log=$RUN_DIR/$name.log
	reg=$RUN_DIR/$name.registry
	: >"$reg"
	start=$SECONDS
	# timeout signals the scenario's whole process group: the scenario's
	# trap tears its lab down; -k bounds how long that may take.
	LAB_REGISTRY=$reg timeout -k 30 "$t" bash "$file" >"$log" 2>&1 </dev/null &
	echo $! >"$RUN_DIR/$name.timeout-pid"
	wait $! 2>/dev/null
	rc=$?
	rm -f "$RUN_DIR/$name.timeout-pid"
	secs=$((SECONDS - start))
	# 124: timeout sent SIGTERM; 137 after the limit: it had to SIGKILL.
	if ((rc == 124 || (rc == 137 && secs >= t))); then
		note="timed out after ${t}s"
	elif ((rc > 128)); then
		note="killed by signal $((rc - 128))"
	fi
	[[ -n "$note" ]] && echo "run.sh: $note" >>"$log"
	if ! check_leftovers "$reg" >>"$log" 2>&1; then
		note="${note:+$note; }left namespaces or processes behind"
		((rc)) || rc=1
	fi
	status=PASS
	((rc == 0)) || status=FAIL
	{
		flock 9
		if [[ $status == FAIL ]]; then
			echo "===== log of $name (exit status $rc${note:+, $note})"
			cat "$log"
			echo "===== end of $name"
		elif [[ -n "${LAB_VERBOSE:-}" ]]; then
			cat "$log"
		fi
		echo "$status $name (${secs}s)${note:+ - $note}"
		echo "$status $name" >>"$RESULT_FILE"
	} 9>>"$RUN_DIR/lock"
	echo "$status" >"$RUN_DIR/$name.status"
}

# The scenarios run under timeout(1), which puts them in their own process
# group; forward the stop to each timeout, which passes it to its scenario,
# whose trap tears its lab down. run_one then reports it as failed.
on_signal() {
	local f
	echo "run.sh: interrupted, stopping scenarios" >&2
	trap '' INT TERM
	for f in "$RUN_DIR"/*.timeout-pid; do
		[[ -f "$f" ]] && kill -TERM "$(cat "$f")" 2>/dev/null
	done
	wait
	final_check
	exit 130
}

# After everything: no namespace of any of this run's labs may be left.
final_check() {
	local reg prefix work ns left=""
	for reg in "$RUN_DIR"/*.registry; do
		[[ -f "$reg" ]] || continue
		while read -r prefix work; do
			for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
				[[ "$ns" == "$prefix"-* ]] && left+=" $ns"
			done
		done <"$reg"
	done
	[[ -z "$left" ]] && return 0
	echo "FAIL lab_leftovers - namespaces left:$left"
	echo "FAIL lab_leftovers" >>"$RESULT_FILE"
	for reg in "$RUN_DIR"/*.registry; do
		check_leftovers "$reg" >/dev/null
	done
	return 1
}

scenarios=()
for f in "${LAB_SCENARIO_DIR:-$LAB_DIR/scenarios}"/*.sh; do
	[[ -f "$f" ]] || continue
	name=$(basename "$f" .sh)
	if [[ -n "$FILTER" ]] && ! [[ "$name" =~ $FILTER ]]; then
		continue
	fi
	scenarios+=("$f")
done
if ((${#scenarios[@]} == 0)); then
	echo "run.sh: no scenario to run (LAB_FILTER='$FILTER')" >&2
	rm -rf "$RUN_DIR"
	exit 1
fi
echo "lab: ${#scenarios[@]} scenario(s), $JOBS at a time, build $BUILD"

trap on_signal INT TERM
for f in "${scenarios[@]}"; do
	while (($(jobs -rp | wc -l) >= JOBS)); do
		wait -n
	done
	run_one "$f" &
done
wait
trap - INT TERM

failed=0
final_check || failed=1
passed=0
for f in "${scenarios[@]}"; do
	name=$(basename "$f" .sh)
	if [[ "$(cat "$RUN_DIR/$name.status" 2>/dev/null)" == PASS ]]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		[[ -f "$RUN_DIR/$name.status" ]] || {
			echo "FAIL $name (no result)"
			echo "FAIL $name" >>"$RESULT_FILE"
		}
	fi
done
echo "lab: $passed passed, $failed failed"
if ((failed)); then
	echo "lab: scenario logs kept in $RUN_DIR"
	exit 1
fi
rm -rf "$RUN_DIR"
