#!/usr/bin/env bash
# Runs the test stages and prints one closing line "N passed, N failed".
#   test.sh unit BUILD
#   test.sh fuzz FUZZ_BUILD SECONDS
#   test.sh fuzz-long FUZZ_BUILD SECONDS   (grows tests/fuzz/corpus;
#                                          FUZZ_ONLY="fuzz_a fuzz_b" picks targets)
#   test.sh lab  BUILD
#   test.sh format             (every C file against .clang-format)
#   test.sh all  BUILD FUZZ_BUILD SECONDS
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()

count() { # name status
	if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$1"); fi
}

stage_unit() {
	local build=$1 log
	meson test -C "$build" --suite unit --print-errorlogs --num-processes 2
	log="$build/meson-logs/testlog.json"
	[ -f "$log" ] || { count "unit: no test log" 1; return; }
	while IFS= read -r line; do
		name=$(sed -n 's/.*"name": "\([^"]*\)".*/\1/p' <<<"$line")
		if grep -q '"result": "OK"' <<<"$line"; then count "unit $name" 0; else count "unit $name" 1; fi
	done <"$log"
}

# Undefined behaviour a fuzz target reaches is a finding: UBSan only prints
# by default, and the run would pass.
FUZZ_UBSAN="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

stage_fuzz() {
	local build=$1 secs=$2 f name work
	for f in "$build"/tests/fuzz/fuzz_*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		name=$(basename "$f")
		work=$(mktemp -d)
		[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
		echo "fuzz: $name for ${secs}s"
		if UBSAN_OPTIONS="$FUZZ_UBSAN" "$f" -max_total_time="$secs" -rss_limit_mb=2048 -artifact_prefix="$work/" \
			-print_final_stats=0 "$work" >"$work.log" 2>&1; then
			count "fuzz $name" 0
		else
			tail -30 "$work.log"
			count "fuzz $name" 1
		fi
		rm -rf "$work" "$work.log"
	done
}

# A long campaign: each target for SECONDS, its corpus grown in place with
# what raised coverage (libFuzzer -merge=1 keeps the corpus minimal); prints
# executions per target. Findings are kept under fuzz-findings/.
stage_fuzz_long() {
	local build=$1 secs=$2 f name work execs
	mkdir -p fuzz-findings
	for f in "$build"/tests/fuzz/fuzz_*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		name=$(basename "$f")
		if [ -n "${FUZZ_ONLY:-}" ] && ! grep -qw -- "$name" <<<"$FUZZ_ONLY"; then continue; fi
		work=$(mktemp -d)
		mkdir -p "tests/fuzz/corpus/$name"
		cp -r "tests/fuzz/corpus/$name/." "$work/"
		echo "fuzz-long: $name for ${secs}s"
		if UBSAN_OPTIONS="$FUZZ_UBSAN" "$f" -max_total_time="$secs" -rss_limit_mb=2048 \
			-artifact_prefix="fuzz-findings/$name-" -print_final_stats=1 \
			"$work" >"$work.log" 2>&1; then
			count "fuzz-long $name" 0
		else
			tail -30 "$work.log"
			count "fuzz-long $name" 1
		fi
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log")
		echo "fuzz-long: $name: ${execs:-?} executions"
		"$f" -merge=1 "tests/fuzz/corpus/$name" "$work" >/dev/null 2>&1 || true
		rm -rf "$work" "$work.log"
	done
}

# The house style (.clang-format): every C file git knows, as clang-format
# would write it. A file that differs fails the check and is named.
stage_format() {
	local f bad=0
	if ! command -v clang-format >/dev/null; then
		count "format: clang-format is not installed" 1
		return
	fi
	while IFS= read -r f; do
		if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
			echo "format: $f differs from .clang-format (clang-format -i $f)"
			bad=1
		fi
	done < <(git ls-files '*.c' '*.h')
	count "format" "$bad"
}

stage_lab() {
	local build=$1 res
	res=$(mktemp)
	bash tests/lab/run.sh "$build" "$res"
	while read -r status name; do
		[ "$status" = PASS ] && count "lab $name" 0 || count "lab $name" 1
	done <"$res"
	rm -f "$res"
}

case "${1:-}" in
unit) stage_unit "$2" ;;
fuzz) stage_fuzz "$2" "$3" ;;
fuzz-long) stage_fuzz_long "$2" "$3" ;;
lab) stage_lab "$2" ;;
format) stage_format ;;
all) stage_format; stage_unit "$2"; stage_fuzz "$3" "$4"; stage_lab "$2" ;;
*) echo "usage: $0 format|unit|fuzz|fuzz-long|lab|all ..." >&2; exit 2 ;;
esac

for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
