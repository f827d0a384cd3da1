# shellcheck shell=bash
# Helpers the lab benchmarks share (bench/throughput, bench/paths,
# bench/peers). Sourcing this file sources tests/lab/lib.sh and has no other
# side effects; a benchmark then calls
#
#   bench_args "$@"        BUILD argument and the common knobs: sets
#                          BENCH_DIR, LAB_BUILD, RAY, SECS (BENCH_SECONDS,
#                          default 10), PINGS (BENCH_PINGS, default 50) and
#                          IPERF_PORT; exits 2 with a sentence when wrong
#   bench_lab_init NAME    lab_init NAME, an empty results file RESULTS,
#                          CLK_TCK, RUN_START
#
# and gathers its figures with put as flat "a.b.c VALUE" lines in RESULTS,
# which its perl side (bench.pl, paths.pl, peers.pl) turns into the report.
# A benchmark that sets RUN_BUDGET (seconds) has every wait below capped by
# what is left of it (left); without it the caps are the waits' own limits.
#
# Figures: put, measure_ping, measure_iperf (from host a), proc_cpu_ticks,
# proc_status_kb. Processes: pid_of, daemon_pid, running. Mesh paths:
# ping_ok, allocated, path_is, lab_link, block_on / block_off (a silent UDP
# cut between two hosts' mesh sockets, for the relayed paths).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../tests/lab/lib.sh
source "$BENCH_DIR/../tests/lab/lib.sh"

usage() {
	echo "usage: $0 BUILD" >&2
	exit 2
}

bench_args() { # BUILD
	[[ $# -eq 1 ]] || usage
	LAB_BUILD=$(cd "$1" 2>/dev/null && pwd) || { echo "bench: no build directory $1" >&2; exit 2; }
	RAY=$LAB_BUILD/ray
	[[ -x "$RAY" ]] || { echo "bench: no ray binary at $RAY" >&2; exit 2; }
	SECS=${BENCH_SECONDS:-10}
	PINGS=${BENCH_PINGS:-50}
	IPERF_PORT=5201
	[[ "$SECS" =~ ^[1-9][0-9]?$ ]] || { echo "bench: BENCH_SECONDS must be 1..99" >&2; exit 2; }
	[[ "$PINGS" =~ ^[1-9][0-9]{0,2}$ ]] || { echo "bench: BENCH_PINGS must be 1..999" >&2; exit 2; }
	command -v iperf3 >/dev/null || { echo "bench: iperf3 is missing (scripts/deps.sh)" >&2; exit 2; }
}

bench_lab_init() { # NAME
	lab_init "$1"
	RUN_START=$SECONDS
	RESULTS=$LAB_WORK/results
	: >"$RESULTS"
	# shellcheck disable=SC2034 # for the benchmarks' CPU figures
	CLK_TCK=$(getconf CLK_TCK)
}

put() { # KEY VALUE: one figure for the report
	printf '%s %s\n' "$1" "$2" >>"$RESULTS"
}

# left CAP: seconds for the next wait, CAP or what is left of RUN_BUDGET.
left() {
	[[ -n "${RUN_BUDGET:-}" ]] || { echo "$1"; return; }
	local rest=$((RUN_BUDGET - (SECONDS - RUN_START)))
	((rest < 1)) && rest=1
	((rest < $1)) && { echo "$rest"; return; }
	echo "$1"
}

pid_of() { # FILE: first word of a pid file the lab wrote
	local pid
	read -r pid _ <"$1"
	echo "$pid"
}

daemon_pid() { # HOST
	pid_of "$LAB_WORK/$1/daemon.pid"
}

proc_cpu_ticks() { # PID: utime + stime in clock ticks
	local stat rest
	stat=$(<"/proc/$1/stat")
	rest=${stat##*) }
	# shellcheck disable=SC2086
	set -- $rest
	echo $((${12} + ${13}))
}

proc_status_kb() { # PID FIELD: a "kB" line of /proc/PID/status
	local key val
	while read -r key val _; do
		if [[ "$key" == "$2:" ]]; then
			echo "$val"
			return 0
		fi
	done <"/proc/$1/status"
	fail "no $2 in /proc/$1/status"
}

# running PID: the process exists and is not a zombie waiting to be reaped.
running() {
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	rest=${stat##*) }
	[[ "${rest:0:1}" != Z ]]
}

ping_ok() { # FROM ADDR
	lab_exec "$1" ping -c 1 -W 1 "$2" >/dev/null
}

# measure_ping KEY ADDR: PINGS echo requests from a, 0.05 s apart.
measure_ping() {
	local key=$1 addr=$2 out
	out=$(lab_exec a timeout "$(left $((PINGS / 20 + 10)))" ping -q -n -c "$PINGS" -i 0.05 \
		-W 2 "$addr") || { fail "ping a → $addr failed: $out"; return 1; }
	perl "$BENCH_DIR/bench.pl" ping "$key" <<<"$out" >>"$RESULTS" ||
		{ fail "could not parse ping output"; return 1; }
}

# measure_iperf KEY ADDR [IPERF3_ARG...]: one iperf3 TCP run from a to the
# server at ADDR (a → b; b → a with -R), JSON kept in the work dir.
measure_iperf() {
	local key=$1 addr=$2 json=$LAB_WORK/iperf-$1.json rc=0
	shift 2
	lab_exec a timeout -k 2 "$(left $((SECS + 8)))" iperf3 -J -c "$addr" -p "$IPERF_PORT" \
		-t "$SECS" -O 1 --connect-timeout 5000 "$@" >"$json" 2>"$json.err" || rc=$?
	if ! perl "$BENCH_DIR/bench.pl" iperf "$key" <"$json" >>"$RESULTS"; then
		fail "iperf3 a → $addr${*:+ $*} failed (status $rc): $(cat "$json.err")"
		return 1
	fi
}

allocated() { # HOST: its TURN allocation is up
	local out
	out=$(lab_ray "$1" --json netcheck) || return 1
	[[ "$(json_get .relay.state <<<"$out")" == allocated ]]
}

# path_is HOST PEER WANT [VIA]: one `ray ping` probe answered and the path in
# use is WANT (direct or relay); with VIA, through that relay (a member's
# hostname or the TURN server's host:port).
path_is() {
	local out got via
	out=$(lab_ray "$1" --json ping "$2" -c 1) || return 1
	got=$(json_get .path <<<"$out")
	via=$(json_get .relay <<<"$out") || via=
	[[ "$via" == null ]] && via=
	if [[ "$(json_get .received <<<"$out")" != 1 || "$got" != "$3" ||
		(-n "${4:-}" && "$via" != "$4") ]]; then
		echo "path $got${via:+ via $via}, $(json_get .received <<<"$out") of 1 answered"
		return 1
	fi
}

# lab_link HOST: the host's interface on the lab internet (its default route).
lab_link() {
	local line
	line=$(ip -n "$(lab_ns "$1")" -o -4 route show default) || return 1
	[[ "$line" =~ \ dev\ ([^ ]+) ]] || { fail "no default route on $1"; return 1; }
	echo "${BASH_REMATCH[1]}"
}

# block_on HOST PEER: HOST silently drops every UDP datagram to and from
# PEER's mesh socket (its lab addresses, link-local included since mDNS
# announces those, at the daemon's UDP port), at the device, so the daemon's
# sends still succeed as they would into a dead NAT mapping. Everything else
# passes: coturn, and the DHT nodes (their own port), so the DHT searches
# of HOST do not wait on an unanswering PEER and the figures stay about the
# mesh path. The nftables table is BLOCK_TABLE (default rayfish_natbench).
block_on() {
	local dev pdev a v4=() v6=() port out table=${BLOCK_TABLE:-rayfish_natbench}
	dev=$(lab_link "$1")
	pdev=$(lab_link "$2")
	out=$(lab_ray "$2" --json netcheck)
	port=$(json_get .port <<<"$out")
	[[ "$port" =~ ^[1-9][0-9]*$ ]] || { fail "no UDP port in $2's netcheck: $out"; return 1; }
	for a in $(ip -n "$(lab_ns "$2")" -o addr show dev "$pdev" |
		awk '$3 == "inet" || $3 == "inet6" { sub("/.*", "", $4); print $3 "=" $4 }'); do
		case $a in
		inet=*) v4+=("${a#inet=}") ;;
		inet6=*) v6+=("${a#inet6=}") ;;
		esac
	done
	((${#v4[@]} && ${#v6[@]})) || { fail "no lab addresses found on $2"; return 1; }
	lab_exec "$1" nft -f - <<-EOF
		table netdev $table {
			set peer4 { type ipv4_addr; elements = { $(IFS=,; echo "${v4[*]}") }; }
			set peer6 { type ipv6_addr; elements = { $(IFS=,; echo "${v6[*]}") }; }
			chain egress {
				type filter hook egress device "$dev" priority filter; policy accept;
				ip daddr @peer4 udp dport $port counter drop
				ip6 daddr @peer6 udp dport $port counter drop
			}
			chain ingress {
				type filter hook ingress device "$dev" priority filter; policy accept;
				ip saddr @peer4 udp sport $port counter drop
				ip6 saddr @peer6 udp sport $port counter drop
			}
		}
	EOF
	step "$1 drops UDP to and from $2's port $port (${v4[*]} ${v6[*]}) on $dev"
}

# block_off HOST KEY: remove the block, recording how many datagrams it ate.
block_off() {
	local out n table=${BLOCK_TABLE:-rayfish_natbench}
	out=$(lab_exec "$1" nft list table netdev "$table") ||
		{ fail "no block table on $1"; return 1; }
	n=$(awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") s += $(i + 1) }
		END { print s + 0 }' <<<"$out")
	put "$2.blocked_datagrams" "$n"
	lab_exec "$1" nft delete table netdev "$table"
	step "$1's block removed ($n datagrams dropped)"
}
