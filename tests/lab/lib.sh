# shellcheck shell=bash
# The Rayfish network-namespace lab, sourced by every scenario.
#
# A lab is a small internet built from network namespaces on this machine: an
# "internet" namespace holding a bridge with public TEST-NET addresses
# (198.51.100.0/24, 2001:db8:100::/64), hosts attached to it directly, and home
# routers doing nftables NAT (endpoint-independent or symmetric mapping) with
# hosts behind them on 10.N.0.0/24. The internet namespace can run a real
# dhtnode bootstrap and a real coturn STUN/TURN server. Each host has its own
# RAYFISH_HOME and RAYFISH_SOCKET so it can run its own `ray daemon`.
#
# Ownership: lab_init creates a work directory and claims a short random
# prefix ("r" + 4 hex digits); every namespace, interface and /etc/netns entry
# the lab makes carries that prefix, and every process it starts is recorded
# by PID (with its start time, so a recycled PID is never killed) in the work
# directory. lab_teardown runs from an EXIT/INT/TERM trap, kills what was
# recorded (SIGTERM, bounded wait, SIGKILL) plus anything still inside the
# lab's namespaces, and deletes the namespaces; it is idempotent. The work
# directory is removed when the scenario passed and kept (path printed) when
# it failed, so logs survive for the post-mortem.
#
# Sourcing this file has no side effects: run.sh sources it too, to check for
# and clean up leftovers of a scenario that was killed outright.
#
# API (details above each function):
#   lab_init NAME                     work dir, trap, prefix, internet namespace
#   lab_start_dhtnode / lab_start_coturn   bootstrap / STUN+TURN in "inet"
#   lab_start_names [NAME=IP...]      the lab's DNS server, names for servers
#   lab_start_miniupnpd GW [--no-natpmp]   UPnP IGD + NAT-PMP on router GW
#   lab_relay_allocated HOST / lab_path_is FROM PEER direct|relay
#   lab_add_host NAME [--direct | --nat eim|symmetric] [--lan LAN]
#   lab_exec NAME cmd... / lab_ray NAME args... / lab_spawn NAME LOG cmd...
#   lab_start_daemon NAME [VAR=VALUE...] / lab_stop_daemon NAME
#   lab_host_ip NAME [4|6] / lab_router_wan_ip NAME / lab_ns NAME
#   lab_home NAME / lab_socket NAME / lab_resolv_conf NAME
#   lab_tmpfs_home NAME SIZE          the host's RAYFISH_HOME on a small tmpfs
#   lab_port_bound NAME udp|tcp PORT
#   lab_udp_reflector NAME PORT / lab_udp_probe NAME IP PORT [SRC_PORT]
#   wait_for SECONDS DESCRIPTION cmd...
#   step MSG / fail MSG / assert_eq / assert_ne / assert_contains
#   json_get PATH / json_len PATH (JSON on stdin)
#   lab_dump / lab_teardown / lab_cleanup WORK PREFIX / lab_leftovers WORK PREFIX
# Nodes: hosts by their name, routers as "gw-LAN", the internet as "inet".
# Variables set for scenarios: RAY, LAB_WORK, LAB_PREFIX, LAB_INET4/6,
# LAB_DHT_BOOTSTRAP, LAB_STUN, LAB_RELAY, LAB_TURN_USER/PASS/REALM,
# LAB_DHT_NAMED, LAB_STUN_NAMED, LAB_RELAY_NAMED (after lab_start_names).
# Knobs: LAB_BUILD (default ../../build), RAY, LAB_KEEP=1 (keep the work dir),
# LAB_KILL_GRACE (5 s), LAB_DAEMON_TIMEOUT (30 s), LAB_START_TIMEOUT (20 s),
# LAB_DUMP_LINES (40), LAB_NUMERIC=1 (daemons get numeric server addresses).
#
# Scenario contract: `set -euo pipefail`, source this file, `lab_init NAME`,
# then build hosts and assert. Every helper returns non-zero on failure (after
# printing why), so errexit ends the scenario and the trap cleans up. Note that
# errexit is ignored inside `if`, `||`, `&&` and `local x=$(...)`: write
# `x=$(...)` on its own line. Never sleep to assert: use wait_for. Do not set
# another EXIT/INT/TERM trap. bash runs the trap once the foreground command
# ends: a signal sent to the whole process group (Ctrl-C, timeout(1) as run.sh
# uses it) ends that command at once, a signal sent to the shell's PID alone
# waits for it (wait_for bounds that wait).

LAB_INET4=198.51.100.1
LAB_INET6=2001:db8:100::1
LAB_DHT_PORT=4222
LAB_TURN_PORT=3478
LAB_TURN_USER=rayfish
LAB_TURN_PASS=labpass
LAB_TURN_REALM=lab.rayfish
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# ---------------------------------------------------------------- transcript

step() {
	printf '[%s] == %s\n' "$(date +%H:%M:%S.%3N)" "$*"
}

_lab_log() {
	printf '[%s] lab: %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2
}

_lab_die() {
	printf 'lab: %s\n' "$*" >&2
	return 1
}

# fail MSG: say what went wrong, dump the state of the lab, return 1.
fail() {
	printf '[%s] FAIL: %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2
	lab_dump >&2 || true
	return 1
}

assert_eq() { # EXPECTED ACTUAL [WHAT]
	[[ "$1" == "$2" ]] && return 0
	fail "${3:-assert_eq}: expected '$1', got '$2'"
}

assert_ne() { # UNEXPECTED ACTUAL [WHAT]
	[[ "$1" != "$2" ]] && return 0
	fail "${3:-assert_ne}: did not expect '$2'"
}

assert_contains() { # HAYSTACK NEEDLE [WHAT]
	[[ "$1" == *"$2"* ]] && return 0
	fail "${3:-assert_contains}: '$2' not found in: $1"
}

# ---------------------------------------------------------------- polling

_lab_now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# "1.5" -> 1500; integers and one decimal point only.
_lab_ms_of() {
	local s=$1 int frac
	[[ "$s" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { _lab_die "bad duration '$s'"; return 1; }
	int=${s%%.*}
	frac=0
	if [[ "$s" == *.* ]]; then
		frac=${s#*.}000
		frac=$((10#${frac:0:3}))
	fi
	echo $((10#$int * 1000 + frac))
}

# wait_for DEADLINE_S DESCRIPTION cmd...: run cmd every 0.2 s until it
# succeeds (its output is then printed on stdout) or DEADLINE_S passes (the
# description and the last output are printed, the lab dumped, 1 returned).
# External commands are killed when they outlive the deadline; so are the
# commands lab_exec and lab_ray run inside a polled shell function (wait_for
# hands them the time left in LAB_CMD_TIMEOUT). A command returning 99 means
# "this will never succeed" (say, the process being waited on died): the
# wait fails at once.
wait_for() {
	local deadline=$1 desc=$2 ms end now left out rc tmo
	shift 2
	ms=$(_lab_ms_of "$deadline") || return 1
	end=$(($(_lab_now_ms) + ms))
	out=$(mktemp "${LAB_WORK:-/tmp}/wait_for.XXXXXX")
	while :; do
		now=$(_lab_now_ms)
		left=$((end - now))
		((left < 200)) && left=200
		tmo=$((left / 1000)).$(printf '%03d' $((left % 1000)))
		rc=0
		if declare -F "$1" >/dev/null; then
			LAB_CMD_TIMEOUT=$tmo "$@" >"$out" 2>&1 || rc=$?
		else
			timeout -k 1 "$tmo" "$@" >"$out" 2>&1 || rc=$?
		fi
		((rc == 0)) && break
		if ((rc == 99)) || (($(_lab_now_ms) >= end)); then
			if ((rc == 99)); then
				printf '[%s] gave up (it can no longer succeed) waiting for: %s\n' \
					"$(date +%H:%M:%S.%3N)" "$desc" >&2
			else
				printf '[%s] timeout after %ss waiting for: %s\n' \
					"$(date +%H:%M:%S.%3N)" "$deadline" "$desc" >&2
			fi
			printf '  command: %s\n  last output:\n' "$*" >&2
			sed 's/^/    | /' "$out" | tail -n 40 >&2
			rm -f "$out"
			fail "timed out: $desc"
			return 1
		fi
		sleep 0.2
	done
	cat "$out"
	rm -f "$out"
}

# ---------------------------------------------------------------- JSON

# json_get PATH < json: print the value at PATH (".a.b[0].c"; "" or "." is
# the document). Strings print raw, true/false/null as words, objects and
# arrays as compact JSON. Exit 1 when the path does not exist.
# json_len PATH < json: number of elements (array) or keys (object).
# Perl's JSON::PP is used because it ships with perl, which build-essential
# already pulls in; jq is not part of the lab's dependencies.
json_get() {
	_lab_json get "${1:-.}"
}

json_len() {
	_lab_json len "${1:-.}"
}

_lab_json() {
	perl -MJSON::PP -e '
		my ($mode, $path) = @ARGV;
		local $/;
		my $in = <STDIN> // "";
		my $json = JSON::PP->new->allow_nonref->canonical;
		my $d = eval { $json->decode($in) };
		die "json: not JSON: $@" if $@;
		my @tok;
		pos($path) = 0;
		while ($path =~ /\G(?:\.([^.\[\]]+)|\[(\d+)\]|\.$)/gc) {
			push @tok, [$1, $2] if defined $1 || defined $2;
		}
		die "json: bad path $path\n" if (pos($path) // 0) != length $path && $path ne "";
		for my $t (@tok) {
			my ($k, $i) = @$t;
			if (defined $k && ref $d eq "HASH" && exists $d->{$k}) {
				$d = $d->{$k};
			} elsif (defined $i && ref $d eq "ARRAY" && $i < @$d) {
				$d = $d->[$i];
			} else {
				exit 1;
			}
		}
		if ($mode eq "len") {
			if (ref $d eq "ARRAY") { print scalar(@$d), "\n"; exit 0 }
			if (ref $d eq "HASH") { print scalar(keys %$d), "\n"; exit 0 }
			exit 1;
		}
		if (!defined $d) { print "null\n" }
		elsif (JSON::PP::is_bool($d)) { print $d ? "true\n" : "false\n" }
		elsif (ref $d) { print $json->encode($d), "\n" }
		else { print "$d\n" }
	' "$@"
}

# ---------------------------------------------------------------- processes

# Start time of PID in clock ticks since boot (field 22 of /proc/PID/stat):
# together with the PID it names one process for good.
_lab_proc_start() {
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	rest=${stat##*) }
	# shellcheck disable=SC2086
	set -- $rest
	[[ "$1" == Z ]] && return 1
	echo "${20}"
}

_lab_proc_alive() { # PID START
	local now
	now=$(_lab_proc_start "$1") || return 1
	[[ "$now" == "$2" ]]
}

# Record PID (just started by the caller) as belonging to the lab.
_lab_record_pid() { # PID LABEL
	local start
	start=$(_lab_proc_start "$1") || start=0
	printf '%s %s %s\n' "$1" "$start" "$2" >>"$LAB_WORK/state/pids"
}

# The lab's namespaces in deletion order: those recorded in WORK newest
# first, then any other carrying PREFIX, and last PREFIX-inet, whose existence
# is the claim on the prefix (so no other lab can take the prefix while this
# one still has namespaces).
_lab_namespaces() { # WORK PREFIX
	local work=$1 prefix=$2 ns list=() seen=" " i
	if [[ -f "$work/state/netns" ]]; then
		mapfile -t list <"$work/state/netns"
	fi
	for ((i = ${#list[@]} - 1; i >= 0; i--)); do
		ns=${list[i]}
		[[ -z "$ns" || "$seen" == *" $ns "* || "$ns" == "$prefix-inet" ]] && continue
		seen+="$ns "
		echo "$ns"
	done
	[[ -n "$prefix" ]] || return 0
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ "$ns" == "$prefix"-* && "$seen" != *" $ns "* && "$ns" != "$prefix-inet" ]] &&
			echo "$ns"
	done
	echo "$prefix-inet"
}

# Signal every recorded process still alive, then everything still running
# inside the lab's namespaces; SIGKILL whatever ignores SIGTERM within the
# grace period (LAB_KILL_GRACE seconds, default 5).
_lab_kill_all() { # WORK PREFIX
	local work=$1 prefix=$2 pid start label ns pids=() grace i alive waited
	if [[ -f "$work/state/pids" ]]; then
		while read -r pid start label; do
			_lab_proc_alive "$pid" "$start" && pids+=("$pid:$start")
		done <"$work/state/pids"
	fi
	for ns in $(_lab_namespaces "$work" "$prefix"); do
		[[ -e "/run/netns/$ns" ]] || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			start=$(_lab_proc_start "$pid") || continue
			pids+=("$pid:$start")
		done
	done
	((${#pids[@]})) || return 0
	for i in "${pids[@]}"; do
		kill -TERM "${i%%:*}" 2>/dev/null || true
	done
	grace=$(_lab_ms_of "${LAB_KILL_GRACE:-5}")
	for ((waited = 0; waited < grace; waited += 100)); do
		alive=0
		for i in "${pids[@]}"; do
			_lab_proc_alive "${i%%:*}" "${i#*:}" && alive=1
		done
		((alive)) || return 0
		sleep 0.1
	done
	for i in "${pids[@]}"; do
		if _lab_proc_alive "${i%%:*}" "${i#*:}"; then
			_lab_log "pid ${i%%:*} ignored SIGTERM, sending SIGKILL"
			kill -KILL "${i%%:*}" 2>/dev/null || true
		fi
	done
	for ((waited = 0; waited < 3000; waited += 100)); do
		alive=0
		for i in "${pids[@]}"; do
			_lab_proc_alive "${i%%:*}" "${i#*:}" && alive=1
		done
		((alive)) || return 0
		sleep 0.1
	done
}

# ---------------------------------------------------------------- teardown

# lab_cleanup WORK PREFIX: kill, then delete every namespace and /etc/netns
# entry recorded in WORK (plus any namespace or root-namespace interface still
# carrying PREFIX). Safe to run any number of times, from any process.
lab_cleanup() {
	local work=$1 prefix=$2 ns i
	[[ "$prefix" =~ ^r[0-9a-f]{4}$ ]] || { _lab_die "lab_cleanup: bad prefix '$prefix'"; return 1; }
	_lab_kill_all "$work" "$prefix"
	_lab_unmount_all "$work"
	for ns in $(_lab_namespaces "$work" "$prefix"); do
		[[ -d "/etc/netns/$ns" ]] && rm -rf "/etc/netns/${ns:?}"
		[[ -e "/run/netns/$ns" ]] && ip netns del "$ns" 2>/dev/null
	done
	for ns in /etc/netns/"$prefix"-*; do
		[[ -d "$ns" ]] && rm -rf "${ns:?}"
	done
	if [[ -n "$prefix" ]]; then
		for i in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//'); do
			[[ "$i" == "$prefix"* ]] && ip link del "$i" 2>/dev/null
		done
	fi
	return 0
}

# The mounts lab_tmpfs_home recorded in WORK that are still mounted,
# newest first; only paths inside WORK count.
_lab_mounts() { # WORK
	local list=() i
	[[ -f "$1/state/mounts" ]] || return 0
	mapfile -t list <"$1/state/mounts"
	for ((i = ${#list[@]} - 1; i >= 0; i--)); do
		[[ "${list[i]}" == "$1"/* ]] && mountpoint -q "${list[i]}" && echo "${list[i]}"
	done
	return 0
}

# Unmount what _lab_mounts lists (lazily when still busy); run after the
# lab's processes are gone.
_lab_unmount_all() { # WORK
	local m
	while IFS= read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
			_lab_log "cannot unmount $m"
	done < <(_lab_mounts "$1")
	return 0
}

# lab_leftovers WORK PREFIX: print what of the lab still exists; 1 if any.
lab_leftovers() {
	local work=$1 prefix=$2 found=0 pid start label ns m
	[[ "$prefix" =~ ^r[0-9a-f]{4}$ ]] || { _lab_die "lab_leftovers: bad prefix '$prefix'"; return 1; }
	while IFS= read -r m; do
		echo "mount $m still exists"
		found=1
	done < <(_lab_mounts "$work")
	if [[ -f "$work/state/pids" ]]; then
		while read -r pid start label; do
			if _lab_proc_alive "$pid" "$start"; then
				echo "process $pid ($label) still running"
				found=1
			fi
		done <"$work/state/pids"
	fi
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		if [[ "$ns" == "$prefix"-* ]]; then
			echo "namespace $ns still exists"
			found=1
		fi
	done
	for ns in /etc/netns/"$prefix"-*; do
		[[ -e "$ns" ]] || continue
		echo "$ns still exists"
		found=1
	done
	if ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | grep -q "^$prefix"; then
		echo "interface with prefix $prefix in the root namespace"
		found=1
	fi
	return $((found))
}

# lab_teardown: stop and delete everything this lab made. Idempotent; the
# EXIT trap calls it again, which then finds nothing to do.
lab_teardown() {
	[[ -n "${LAB_WORK:-}" && -d "$LAB_WORK" ]] || return 0
	[[ "${LAB_TORN_DOWN:-0}" == 1 ]] && return 0
	# lab_init stopped before claiming a prefix: nothing was created.
	[[ -n "${LAB_PREFIX:-}" ]] || { LAB_TORN_DOWN=1; return 0; }
	lab_cleanup "$LAB_WORK" "$LAB_PREFIX"
	LAB_TORN_DOWN=1
	if ! lab_leftovers "$LAB_WORK" "$LAB_PREFIX" >&2; then
		_lab_log "teardown left the above behind"
		return 1
	fi
	step "teardown done: nothing of lab $LAB_PREFIX is left"
}

_lab_on_exit() {
	local rc=$?
	set +e
	# Subshells do not run this trap, but guard anyway: only the shell that
	# ran lab_init owns the lab.
	[[ "$BASHPID" == "${LAB_MAIN_PID:-}" ]] || return "$rc"
	lab_teardown || { ((rc)) || rc=1; }
	if ((rc == 0)) && [[ -z "${LAB_KEEP:-}" ]]; then
		rm -rf "${LAB_WORK:?}"
	else
		_lab_log "exit status $rc; work directory kept: $LAB_WORK"
	fi
	exit "$rc"
}

# ---------------------------------------------------------------- init

_lab_require() {
	local c missing=()
	for c in "$@"; do
		command -v "$c" >/dev/null || missing+=("$c")
	done
	((${#missing[@]} == 0)) || _lab_die "missing commands: ${missing[*]} (run scripts/deps.sh)"
}

_lab_ns_create() { # NS: record first, so a kill right after never leaks it
	echo "$1" >>"$LAB_WORK/state/netns"
	ip netns add "$1" || return 1
	ip -n "$1" link set lo up
}

_lab_next() { # COUNTER: print the next value (1, 2, ...) of a lab counter
	local f="$LAB_WORK/state/$1" n=0
	[[ -f "$f" ]] && n=$(<"$f")
	n=$((n + 1))
	echo "$n" >"$f"
	echo "$n"
}

_lab_sysctl() { # NS KEY=VALUE
	ip netns exec "$1" sysctl -qw "$2" >/dev/null
}

# lab_init NAME: create the work directory, the teardown trap, the prefix and
# the internet namespace with its bridge.
lab_init() {
	local name=${1:?lab_init NAME} i ns candidate
	[[ -z "${LAB_WORK:-}" ]] || { _lab_die "lab_init called twice"; return 1; }
	((EUID == 0)) || { _lab_die "the lab needs root (network namespaces)"; return 1; }
	_lab_require ip nft sysctl timeout perl ss || return 1
	LAB_NAME=$name
	LAB_MAIN_PID=$BASHPID
	name=${name//[^A-Za-z0-9_-]/_}
	LAB_WORK=$(mktemp -d "/tmp/rayfish-lab-${name:0:20}.XXXXXX")
	mkdir -p "$LAB_WORK/state" "$LAB_WORK/nodes" "$LAB_WORK/inet"
	: >"$LAB_WORK/state/pids"
	: >"$LAB_WORK/state/netns"
	LAB_PREFIX=
	trap _lab_on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	LAB_BUILD=${LAB_BUILD:-$(cd "$LAB_DIR/../.." && pwd)/build}
	RAY=${RAY:-$LAB_BUILD/ray}
	[[ "$RAY" == /* ]] || RAY=$PWD/$RAY
	[[ -x "$RAY" ]] || _lab_log "warning: no ray binary at $RAY"

	# Claim a prefix: `ip netns add` fails when the name exists, so the
	# internet namespace doubles as an atomic lock on the prefix.
	# LAB_PREFIX is only set once the claim succeeded: teardown must never
	# touch a prefix some other lab holds.
	for ((i = 0; i < 20; i++)); do
		candidate=r$(printf '%04x' $((RANDOM % 65536)))
		ns=$candidate-inet
		if ip netns add "$ns" 2>/dev/null; then
			LAB_PREFIX=$candidate
			echo "$ns" >>"$LAB_WORK/state/netns"
			break
		fi
	done
	[[ -n "$LAB_PREFIX" ]] || { _lab_die "could not claim a lab prefix"; return 1; }
	echo "$LAB_PREFIX" >"$LAB_WORK/state/prefix"
	if [[ -n "${LAB_REGISTRY:-}" ]]; then
		echo "$LAB_PREFIX $LAB_WORK" >>"$LAB_REGISTRY"
	fi
	LAB_INET_NS=$ns
	LAB_BRIDGE=${LAB_PREFIX}br
	_lab_inet_setup || return 1
	_lab_node_write inet kind=inet ns="$ns" ip4="$LAB_INET4" ip6="$LAB_INET6"
	step "lab $LAB_NAME: prefix $LAB_PREFIX, work dir $LAB_WORK, ray $RAY"
}

_lab_inet_setup() {
	local ns=$LAB_INET_NS br=$LAB_BRIDGE
	ip -n "$ns" link set lo up
	ip -n "$ns" link add "$br" type bridge
	# A fixed MAC: a bridge otherwise takes its lowest port's address, which
	# changes as hosts join and leaves stale neighbour entries behind.
	ip -n "$ns" link set "$br" address 02:72:66:00:00:01
	ip -n "$ns" addr add "$LAB_INET4/24" dev "$br"
	ip -n "$ns" addr add "$LAB_INET6/64" dev "$br" nodad
	ip -n "$ns" link set "$br" up
	# Bridged frames must not be run through this namespace's IP hooks.
	_lab_sysctl "$ns" net.bridge.bridge-nf-call-iptables=0 2>/dev/null || true
	_lab_sysctl "$ns" net.bridge.bridge-nf-call-ip6tables=0 2>/dev/null || true
}

# ---------------------------------------------------------------- nodes

# A node is "inet", a host or a router; its facts live in nodes/NAME as
# KEY=VALUE lines.
_lab_node_write() { # NAME KEY=VALUE...
	local name=$1
	shift
	printf '%s\n' "$@" >"$LAB_WORK/nodes/$name"
}

_lab_node_get() { # NAME KEY
	local f="$LAB_WORK/nodes/$1" line
	[[ -f "$f" ]] || { _lab_die "no lab node '$1'"; return 1; }
	while IFS= read -r line; do
		if [[ "$line" == "$2="* ]]; then
			echo "${line#*=}"
			return 0
		fi
	done <"$f"
	return 1
}

_lab_node_exists() {
	[[ -n "${LAB_WORK:-}" && -f "$LAB_WORK/nodes/$1" ]]
}

# lab_ns NAME: the namespace of a host, a router ("gw-LAN") or "inet".
lab_ns() {
	_lab_node_get "$1" ns
}

# Make a veth pair with one end in each namespace; nothing touches the root
# namespace, so deleting the namespaces deletes the pair.
_lab_veth() { # NS_A NAME_A NS_B NAME_B
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
}

# The kernel's neighbour tables (ARP and NDP) are shared by every network
# namespace on the machine, and gc_thresh3 (1024 by default, a setting of
# the root namespace only) caps the entries of all of them together: past
# it new entries are refused ("neighbor table overflow!" in dmesg) and
# nodes lose their neighbours at random, their gateway included. On the
# internet bridge every node may talk to every other: up to one IPv4 and
# two IPv6 entries (global, link-local) per pair, so a lab of 50 direct
# hosts needs some 5000 NDP entries. Past 16 attachments, K rounded up to
# a multiple of 32, gc_thresh3 is raised to 4*K*K and gc_thresh2 (where the
# kernel starts evicting idle entries) to 2*K*K when they are lower; they
# are never lowered (nor restored: concurrent labs only gain room), and
# small labs change nothing.
_lab_neigh_room() { # K
	local k=$1 fam key want cur
	((k > 16)) || return 0
	k=$(((k + 31) / 32 * 32))
	for fam in ipv4 ipv6; do
		for key in gc_thresh3:4 gc_thresh2:2; do
			want=$((${key#*:} * k * k))
			cur=$(sysctl -n "net.$fam.neigh.default.${key%:*}" 2>/dev/null) || continue
			((want > cur)) || continue
			sysctl -qw "net.$fam.neigh.default.${key%:*}=$want" >/dev/null ||
				{ _lab_log "cannot raise net.$fam.neigh.default.${key%:*} to $want"; continue; }
			_lab_log "net.$fam.neigh.default.${key%:*} raised from $cur to $want (room for $k nodes on the internet bridge)"
		done
	done
	return 0
}

# Attach namespace NS to the internet bridge with public index K; prints
# nothing, leaves the link named LINK up in NS with its addresses.
_lab_attach_inet() { # NS K LINK [v6]
	local ns=$1 k=$2 link=$3 v6=${4:-} outer
	((k <= 240)) || { _lab_die "the internet bridge is full (240 attachments)"; return 1; }
	_lab_neigh_room "$k"
	outer=${LAB_PREFIX}i$k
	_lab_veth "$LAB_INET_NS" "$outer" "$ns" "$link"
	ip -n "$LAB_INET_NS" link set "$outer" master "$LAB_BRIDGE"
	ip -n "$LAB_INET_NS" link set "$outer" up
	ip -n "$ns" addr add "198.51.100.$((10 + k))/24" dev "$link"
	ip -n "$ns" link set "$link" up
	ip -n "$ns" route add default via "$LAB_INET4"
	if [[ -n "$v6" ]]; then
		ip -n "$ns" addr add "2001:db8:100::$((10 + k))/64" dev "$link" nodad
		ip -n "$ns" -6 route add default via "$LAB_INET6"
	fi
}

_lab_host_dirs() { # NAME NS
	local name=$1 ns=$2
	mkdir -p "$LAB_WORK/$name/home"
	chmod 700 "$LAB_WORK/$name/home"
	# `ip netns exec` bind-mounts /etc/netns/NS/resolv.conf over
	# /etc/resolv.conf: each host gets its own, so a daemon configuring DNS
	# changes its host's file and never this machine's. The nameserver is
	# the internet namespace, where nothing answers on port 53: queries for
	# non-lab names fail fast instead of leaving the lab.
	mkdir -p "/etc/netns/$ns"
	printf '# rayfish lab host %s\nnameserver %s\n' "$name" "$LAB_INET4" \
		>"/etc/netns/$ns/resolv.conf"
}

_lab_check_name() {
	[[ "$1" =~ ^[a-z][a-z0-9-]{0,19}$ ]] ||
		{ _lab_die "bad node name '$1' (a-z, 0-9, '-', at most 20)"; return 1; }
	_lab_node_exists "$1" && { _lab_die "node '$1' exists"; return 1; }
	return 0
}

# lab_add_host NAME [--direct | --nat eim | --nat symmetric] [--lan LAN]
lab_add_host() {
	local name=${1:?lab_add_host NAME ...} mode=direct nat='' lan=''
	shift
	while (($#)); do
		case $1 in
		--direct) mode=direct ;;
		--nat)
			mode=nat
			nat=${2:-}
			shift
			[[ "$nat" == eim || "$nat" == symmetric ]] ||
				{ _lab_die "--nat eim|symmetric, not '$nat'"; return 1; }
			;;
		--lan)
			lan=${2:-}
			shift
			;;
		*) _lab_die "lab_add_host: unknown option $1"; return 1 ;;
		esac
		shift
	done
	_lab_check_name "$name" || return 1
	if [[ "$mode" == direct ]]; then
		[[ -z "$lan" ]] || { _lab_die "--lan needs --nat"; return 1; }
		_lab_add_direct "$name"
	else
		_lab_add_natted "$name" "$nat" "${lan:-$name}"
	fi
}

_lab_add_direct() {
	local name=$1 ns=$LAB_PREFIX-$1 k v link
	k=$(_lab_next public)
	v=$(_lab_next veth)
	link=${LAB_PREFIX}e$v
	_lab_ns_create "$ns" || return 1
	_lab_attach_inet "$ns" "$k" "$link" v6 || return 1
	_lab_host_dirs "$name" "$ns"
	_lab_node_write "$name" kind=host ns="$ns" \
		ip4="198.51.100.$((10 + k))" ip6="2001:db8:100::$((10 + k))" \
		router= link="$link"
	step "host $name: direct, 198.51.100.$((10 + k)) 2001:db8:100::$((10 + k))"
}

_lab_add_natted() {
	local name=$1 nat=$2 lan=$3 gw="gw-$3" ns=$LAB_PREFIX-$1 n j v link rns
	if _lab_node_exists "$gw"; then
		[[ "$(_lab_node_get "$gw" nat)" == "$nat" ]] ||
			{ _lab_die "LAN $lan already has a $(_lab_node_get "$gw" nat) router"; return 1; }
	else
		_lab_add_router "$gw" "$nat" || return 1
	fi
	rns=$(_lab_node_get "$gw" ns)
	n=$(_lab_node_get "$gw" lan_index)
	j=$(_lab_next "hosts-$gw")
	v=$(_lab_next veth)
	link=${LAB_PREFIX}e$v
	_lab_ns_create "$ns" || return 1
	_lab_veth "$rns" "${LAB_PREFIX}l$v" "$ns" "$link" || return 1
	ip -n "$rns" link set "${LAB_PREFIX}l$v" master "$(_lab_node_get "$gw" lan_bridge)"
	ip -n "$rns" link set "${LAB_PREFIX}l$v" up
	ip -n "$ns" addr add "10.$n.0.$((1 + j))/24" dev "$link"
	ip -n "$ns" link set "$link" up
	ip -n "$ns" route add default via "10.$n.0.1"
	_lab_host_dirs "$name" "$ns"
	_lab_node_write "$name" kind=host ns="$ns" ip4="10.$n.0.$((1 + j))" ip6= \
		router="$gw" link="$link"
	step "host $name: 10.$n.0.$((1 + j)) behind $gw ($nat NAT, WAN $(_lab_node_get "$gw" ip4))"
}

# A home router: WAN on the internet bridge, a LAN bridge with 10.N.0.1/24,
# nftables masquerade on the WAN. Plain masquerade keeps one mapping per
# internal socket whatever the destination (endpoint-independent, hole
# punching works); "random,fully-random" draws a new port per destination
# (symmetric, only a relay gets through). Unsolicited inbound traffic from the
# WAN is dropped, as a home router does, also on the router's own input: a
# packet the router itself accepted (even to answer port-unreachable) would
# leave a conntrack entry that takes the port its masquerade wants for the
# LAN host's own outbound flow to that sender, breaking hole punching.
_lab_add_router() { # GW NAT
	local gw=$1 nat=$2 ns=$LAB_PREFIX-$1 k n v wan br flags=
	n=$(_lab_next lan)
	((n <= 250)) || { _lab_die "too many LANs"; return 1; }
	k=$(_lab_next public)
	v=$(_lab_next veth)
	wan=${LAB_PREFIX}e$v
	br=${LAB_PREFIX}b$n
	_lab_ns_create "$ns" || return 1
	_lab_attach_inet "$ns" "$k" "$wan" || return 1
	ip -n "$ns" link add "$br" type bridge
	ip -n "$ns" addr add "10.$n.0.1/24" dev "$br"
	ip -n "$ns" link set "$br" up
	_lab_sysctl "$ns" net.bridge.bridge-nf-call-iptables=0 2>/dev/null || true
	_lab_sysctl "$ns" net.ipv4.ip_forward=1
	[[ "$nat" == symmetric ]] && flags=" random,fully-random"
	ip netns exec "$ns" nft -f - <<-EOF
		table ip lab_nat {
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "$wan" masquerade$flags
			}
			chain forward {
				type filter hook forward priority filter; policy accept;
				iifname "$wan" ct state established,related accept
				# a port forward (DNAT, say by miniupnpd) is solicited
				iifname "$wan" ct status dnat counter accept
				iifname "$wan" drop
			}
			chain input {
				type filter hook input priority filter; policy accept;
				iifname "$wan" ct state established,related accept
				iifname "$wan" icmp type echo-request accept
				iifname "$wan" drop
			}
		}
	EOF
	_lab_node_write "$gw" kind=router ns="$ns" ip4="198.51.100.$((10 + k))" ip6= \
		nat="$nat" lan_index="$n" lan_bridge="$br" wan="$wan"
	step "router $gw: WAN 198.51.100.$((10 + k)), LAN 10.$n.0.0/24, $nat NAT"
}

# lab_host_ip NAME [4|6]: the node's lab address (empty + 1 if it has none).
lab_host_ip() {
	local ip
	ip=$(_lab_node_get "$1" "ip${2:-4}") || return 1
	[[ -n "$ip" ]] || { _lab_die "node $1 has no IPv${2:-4} address"; return 1; }
	echo "$ip"
}

# lab_router_wan_ip NAME: public address of the router a host sits behind (or
# of the router NAME itself).
lab_router_wan_ip() {
	local gw=$1
	[[ "$(_lab_node_get "$1" kind)" == router ]] || gw=$(_lab_node_get "$1" router)
	[[ -n "$gw" ]] || { _lab_die "host $1 is not behind a router"; return 1; }
	_lab_node_get "$gw" ip4
}

lab_home() { echo "$LAB_WORK/$1/home"; }
lab_socket() { echo "$LAB_WORK/$1/ray.sock"; }
lab_resolv_conf() { echo "/etc/netns/$(lab_ns "$1")/resolv.conf"; }

# lab_tmpfs_home NAME SIZE: put host NAME's RAYFISH_HOME on a tmpfs of its
# own of SIZE (mount's size=, say 4m), so a scenario can fill it up to
# ENOSPC (`dd` a file into it) and free it again. Call it before NAME's
# daemon first starts: `ip netns exec` gives every process started
# afterwards a copy of the mount. The mount is recorded before it is made;
# lab_cleanup unmounts it once the lab's processes are gone, lab_leftovers
# reports it while it stays.
lab_tmpfs_home() {
	local name=${1:?lab_tmpfs_home NAME SIZE} size=${2:?lab_tmpfs_home NAME SIZE} dir
	[[ "$(_lab_node_get "$name" kind)" == host ]] || { _lab_die "$name is not a host"; return 1; }
	[[ "$size" =~ ^[0-9]+[kmg]?$ ]] || { _lab_die "lab_tmpfs_home: bad size '$size'"; return 1; }
	dir=$(lab_home "$name")
	if [[ -f "$LAB_WORK/$name/daemon.pid" ]] || [[ -n "$(ls -A "$dir")" ]]; then
		_lab_die "lab_tmpfs_home: $name's home is in use already"
		return 1
	fi
	echo "$dir" >>"$LAB_WORK/state/mounts"
	mount -t tmpfs -o "size=$size,mode=0700" "${LAB_PREFIX}-$name" "$dir" || return 1
	step "host $name: RAYFISH_HOME on a $size tmpfs"
}

# ---------------------------------------------------------------- running

# lab_exec NAME cmd...: run cmd inside the node with its RAYFISH_* variables
# (hosts). When LAB_CMD_TIMEOUT is set (wait_for sets it) cmd is killed after
# that many seconds.
lab_exec() {
	local name=${1:?lab_exec NAME cmd...} ns pre=()
	shift
	ns=$(lab_ns "$name") || return 1
	[[ -n "${LAB_CMD_TIMEOUT:-}" ]] && pre=(timeout -k 1 "$LAB_CMD_TIMEOUT")
	if [[ "$(_lab_node_get "$name" kind)" == host ]]; then
		ip netns exec "$ns" env RAYFISH_HOME="$LAB_WORK/$name/home" \
			RAYFISH_SOCKET="$LAB_WORK/$name/ray.sock" "${pre[@]}" "$@"
	else
		ip netns exec "$ns" "${pre[@]}" "$@"
	fi
}

# lab_ray NAME args...: the ray CLI as that host.
lab_ray() {
	local name=${1:?lab_ray NAME args...}
	shift
	lab_exec "$name" "$RAY" "$@"
}

# Stop a process this shell spawned (pid file written by lib.sh): SIGTERM,
# bounded wait, SIGKILL; reaps it. The PID cannot have been recycled: the
# process is this shell's child and is reaped only here.
lab_stop_pid_file() { # FILE LABEL
	local pid i
	pid=$(<"$1")
	pid=${pid%% *}
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		_lab_proc_start "$pid" >/dev/null || break
		sleep 0.1
	done
	_lab_proc_start "$pid" >/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	step "$2 (pid $pid) stopped"
}

# lab_spawn NAME LOG cmd...: start cmd in the background inside the node,
# stdout/stderr to LOG (relative paths land in the node's work dir), stdin
# from /dev/null. The PID is recorded for teardown and left in LAB_PID. Call
# it directly, not in $(...), so the process is this shell's child.
lab_spawn() {
	local name=${1:?lab_spawn NAME LOG cmd...} log=$2 ns dir
	shift 2
	ns=$(lab_ns "$name") || return 1
	dir=$LAB_WORK/$name
	[[ "$(_lab_node_get "$name" kind)" == inet ]] && dir=$LAB_WORK/inet
	mkdir -p "$dir"
	[[ "$log" == /* ]] || log=$dir/$log
	if [[ "$(_lab_node_get "$name" kind)" == host ]]; then
		ip netns exec "$ns" env RAYFISH_HOME="$dir/home" \
			RAYFISH_SOCKET="$dir/ray.sock" "$@" </dev/null >"$log" 2>&1 &
	else
		ip netns exec "$ns" "$@" </dev/null >"$log" 2>&1 &
	fi
	LAB_PID=$!
	_lab_record_pid "$LAB_PID" "$name:$(basename "$1")"
}

# lab_port_bound NAME udp|tcp PORT: something listens on PORT in the node.
lab_port_bound() {
	local ns
	ns=$(lab_ns "$1") || return 1
	case $2 in
	udp) _lab_udp_bound "$ns" "$3" ;;
	tcp) _lab_tcp_bound "$ns" "$3" ;;
	*) _lab_die "lab_port_bound: udp or tcp, not '$2'" ;;
	esac
}

_lab_udp_bound() { # NS PORT
	[[ -n "$(ip netns exec "$1" ss -Hlun "sport = :$2")" ]]
}

_lab_tcp_bound() { # NS PORT
	[[ -n "$(ip netns exec "$1" ss -Hltn "sport = :$2")" ]]
}

# Returns 99 (wait_for's "give up") when the process is gone.
_lab_check_running() { # PID LABEL LOG
	_lab_proc_start "$1" >/dev/null && return 0
	echo "$2 exited; last lines of $3:"
	tail -n 30 "$3" 2>/dev/null
	return 99
}

_lab_wait_bound() { # NODE PID LABEL LOG PORT udp|tcp
	local deadline=${LAB_START_TIMEOUT:-20}
	wait_for "$deadline" "$3 bound to $6 port $5" \
		_lab_started_and_bound "$(lab_ns "$1")" "$2" "$3" "$4" "$5" "$6"
}

# Succeeds once PORT is bound; stops the polling early (by failing loudly
# through wait_for's output) when the process died.
_lab_started_and_bound() { # NS PID LABEL LOG PORT PROTO
	_lab_check_running "$2" "$3" "$4" || return $?
	if [[ "$6" == udp ]]; then _lab_udp_bound "$1" "$5"; else _lab_tcp_bound "$1" "$5"; fi
}

# lab_start_dhtnode: an OpenDHT bootstrap node in the internet namespace on
# udp/4222, and the lab resolver (lab_start_names) unless it runs already.
# Sets LAB_DHT_BOOTSTRAP; daemons started afterwards get its name
# (LAB_DHT_NAMED; the number with LAB_NUMERIC=1) as RAYFISH_DHT_BOOTSTRAP
# unless told otherwise.
lab_start_dhtnode() {
	local log=$LAB_WORK/inet/dhtnode.log
	_lab_require dhtnode || return 1
	lab_spawn inet "$log" dhtnode -s -v -p "$LAB_DHT_PORT"
	echo "$LAB_PID" >"$LAB_WORK/inet/dhtnode.pid"
	_lab_wait_bound inet "$LAB_PID" dhtnode "$log" "$LAB_DHT_PORT" udp >/dev/null || return 1
	LAB_DHT_BOOTSTRAP=$LAB_INET4:$LAB_DHT_PORT
	step "dhtnode bootstrap on $LAB_DHT_BOOTSTRAP (pid $LAB_PID)"
	# Every lab with servers names them (a scenario may start the resolver
	# first, with names of its own).
	[[ -n "${LAB_DHT_NAMED:-}" ]] || lab_start_names
}

# lab_start_coturn: coturn as STUN and TURN server on 198.51.100.1:3478 (and
# [2001:db8:100::1]:3478), long-term credentials LAB_TURN_USER:LAB_TURN_PASS
# in realm LAB_TURN_REALM, its own user database, and relaying allowed to the
# lab's private and public ranges (coturn refuses those by default). Sets
# LAB_STUN ("host:port") and LAB_RELAY ("turn:USER:PASS@host:port", the
# `relay` setting's syntax); daemons started afterwards get RAYFISH_STUN
# (by name, LAB_STUN_NAMED, unless LAB_NUMERIC=1).
lab_start_coturn() {
	local dir=$LAB_WORK/inet
	_lab_require turnserver || return 1
	lab_spawn inet "$dir/turnserver.out" turnserver -n --no-cli \
		--listening-ip "$LAB_INET4" --listening-ip "$LAB_INET6" \
		--relay-ip "$LAB_INET4" --relay-ip "$LAB_INET6" \
		--listening-port "$LAB_TURN_PORT" --no-tls --no-dtls \
		--min-port 49152 --max-port 65535 \
		--lt-cred-mech --user "$LAB_TURN_USER:$LAB_TURN_PASS" \
		--realm "$LAB_TURN_REALM" --userdb "$dir/turndb" \
		--allowed-peer-ip=10.0.0.0-10.255.255.255 \
		--allowed-peer-ip=198.51.100.0-198.51.100.255 \
		--allowed-peer-ip=2001:db8:100::-2001:db8:100::ffff:ffff:ffff:ffff \
		--pidfile "$dir/turnserver.pid" --log-file "$dir/turnserver.log" \
		--simple-log --no-stdout-log
	echo "$LAB_PID" >"$dir/coturn.pid"
	_lab_wait_bound inet "$LAB_PID" turnserver "$dir/turnserver.log" \
		"$LAB_TURN_PORT" udp >/dev/null || return 1
	LAB_STUN=$LAB_INET4:$LAB_TURN_PORT
	# shellcheck disable=SC2034 # for scenarios: `ray config set relay`
	LAB_RELAY=turn:$LAB_TURN_USER:$LAB_TURN_PASS@$LAB_INET4:$LAB_TURN_PORT
	step "coturn STUN/TURN on $LAB_STUN (pid $LAB_PID)"
}

# lab_start_names [NAME=IP...]: the lab's upstream resolver, a DNS server on
# udp/53 of the internet namespace (every host's resolv.conf names it), so
# daemons are given server names as users write them. It answers
# dht.lab.example, stun.lab.example and relay.lab.example with the internet
# namespace's address, the extra NAME=IP pairs, and NXDOMAIN for the rest.
# Sets LAB_DHT_NAMED, LAB_STUN_NAMED and LAB_RELAY_NAMED (the named forms of
# LAB_DHT_BOOTSTRAP, LAB_STUN and LAB_RELAY).
lab_start_names() {
	local log=$LAB_WORK/inet/names.log
	lab_spawn inet "$log" perl "$LAB_DIR/dns_upstream.pl" 53 \
		"dht.lab.example=$LAB_INET4" "stun.lab.example=$LAB_INET4" \
		"relay.lab.example=$LAB_INET4" "$@"
	_lab_wait_bound inet "$LAB_PID" dns_upstream "$log" 53 udp >/dev/null || return 1
	# shellcheck disable=SC2034 # for scenarios
	LAB_DHT_NAMED=dht.lab.example:$LAB_DHT_PORT
	# shellcheck disable=SC2034
	LAB_STUN_NAMED=stun.lab.example:$LAB_TURN_PORT
	# shellcheck disable=SC2034
	LAB_RELAY_NAMED=turn:$LAB_TURN_USER:$LAB_TURN_PASS@relay.lab.example:$LAB_TURN_PORT
	step "lab resolver on $LAB_INET4:53 (dht, stun, relay .lab.example)"
}

# ---------------------------------------------------------------- miniupnpd

LAB_STUN_REFLECT_PORT=3480

# lab_start_miniupnpd GW [--no-natpmp]: miniupnpd (UPnP IGD, NAT-PMP and PCP,
# the nftables build Debian ships) on router GW, serving its LAN: NAT-PMP and
# PCP on 10.N.0.1:5351 (Debian's 2.3.1 has the one switch for both,
# enable_natpmp; not with --no-natpmp: clients must fall back to UPnP), SSDP
# and the IGD's HTTP port on the LAN bridge; hosts of 10.N.0.0/24 may map
# ports 1024-65535 to themselves. miniupnpd puts its DNAT rules in chain
# prerouting_miniupnpd of table inet filter and its accepts in chain
# miniupnpd; it does not create them, so this does first (as Debian's
# nft_init.sh would). The router's own forward chain accepts DNAT'd inbound.
#
# miniupnpd forwards nothing while its WAN address is private or reserved
# (all lab addresses are TEST-NET) unless a STUN check finds no filtering NAT
# above it. That check runs against stun_reflector.pl in "inet" (started on
# first use, LAB_INET4:LAB_STUN_REFLECT_PORT): coturn's answers fail it (see
# the reflector's header). The check also wants each of its sockets to come
# back with its own port, which a symmetric router's fully random masquerade
# would change for the router's own traffic too: an identity SNAT ahead of
# the masquerade claims traffic sent from the WAN address, so the router's
# own sockets keep their ports, as on a real router. LAN traffic is untouched.
#
# Returns once miniupnpd has enabled port forwarding and listens (NAT-PMP,
# else the IGD's HTTP port); fails at once when it says it will not forward.
# Log: $WORK/GW/miniupnpd.log; the process is recorded for teardown like
# every lab_spawn.
lab_start_miniupnpd() {
	local gw=${1:?lab_start_miniupnpd GW [--no-natpmp]} natpmp=yes ns wan br n wip dir conf log http
	case ${2:-} in
	'') ;;
	--no-natpmp) natpmp=no ;;
	*) _lab_die "lab_start_miniupnpd: unknown option $2"; return 1 ;;
	esac
	[[ "$(_lab_node_get "$gw" kind)" == router ]] || { _lab_die "$gw is not a router"; return 1; }
	_lab_require miniupnpd || return 1
	ns=$(lab_ns "$gw")
	wan=$(_lab_node_get "$gw" wan)
	br=$(_lab_node_get "$gw" lan_bridge)
	n=$(_lab_node_get "$gw" lan_index)
	wip=$(_lab_node_get "$gw" ip4)
	dir=$LAB_WORK/$gw
	conf=$dir/miniupnpd.conf
	log=$dir/miniupnpd.log
	mkdir -p "$dir"
	[[ -e "$log" ]] && { _lab_die "miniupnpd already started on $gw"; return 1; }
	_lab_start_stun_reflector || return 1
	ip netns exec "$ns" nft -f - <<-EOF || return 1
		table inet filter {
			chain forward {
				type filter hook forward priority filter; policy accept;
				jump miniupnpd
			}
			chain miniupnpd {
			}
			chain prerouting {
				type nat hook prerouting priority dstnat; policy accept;
				jump prerouting_miniupnpd
			}
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				jump postrouting_miniupnpd
			}
			chain prerouting_miniupnpd {
			}
			chain postrouting_miniupnpd {
			}
		}
		table ip lab_router_self {
			chain postrouting {
				type nat hook postrouting priority srcnat - 1; policy accept;
				oifname "$wan" ip saddr $wip snat ip to $wip
			}
		}
	EOF
	cat >"$conf" <<-EOF
		ext_ifname=$wan
		listening_ip=$br
		ext_perform_stun=yes
		ext_stun_host=$LAB_INET4
		ext_stun_port=$LAB_STUN_REFLECT_PORT
		upnp_table_name=filter
		upnp_nat_table_name=filter
		upnp_forward_chain=miniupnpd
		upnp_nat_chain=prerouting_miniupnpd
		upnp_nat_postrouting_chain=postrouting_miniupnpd
		enable_upnp=yes
		enable_natpmp=$natpmp
		secure_mode=yes
		ipv6_disable=yes
		http_port=0
		system_uptime=no
		lease_file=$dir/miniupnpd.leases
		uuid=$(printf '3f1e2d4c-5b6a-4798-8a9b-%012x' "$n")
		allow 1024-65535 10.$n.0.0/24 1024-65535
		deny 0-65535 0.0.0.0/0 0-65535
	EOF
	lab_spawn "$gw" "$log" miniupnpd -f "$conf" -d -P "$dir/miniupnpd.pid"
	wait_for "${LAB_START_TIMEOUT:-20}" "miniupnpd on $gw forwarding ports" \
		_lab_miniupnpd_ready "$ns" "$LAB_PID" "$log" "10.$n.0.1" "$natpmp" >/dev/null ||
		return 1
	http=$(_lab_miniupnpd_http_port "$log")
	if [[ "$natpmp" == yes ]]; then natpmp="NAT-PMP 10.$n.0.1:5351"; else natpmp="no NAT-PMP"; fi
	step "miniupnpd on $gw: $natpmp, UPnP http://10.$n.0.1:$http (pid $LAB_PID)"
}

_lab_miniupnpd_http_port() { # LOG
	sed -n 's/.*HTTP listening on port \([0-9][0-9]*\).*/\1/p' "$1" | head -n 1
}

# Succeeds once miniupnpd forwards ports and listens (NAT-PMP when enabled,
# else the IGD's HTTP port); 99 when it died or said it will not forward
# (its STUN check failed).
_lab_miniupnpd_ready() { # NS PID LOG LAN_IP NATPMP(yes|no)
	local port
	_lab_check_running "$2" miniupnpd "$3" || return $?
	if grep -q 'Port forwarding is now disabled' "$3"; then
		echo "miniupnpd will not forward ports; last lines of $3:"
		tail -n 30 "$3"
		return 99
	fi
	grep -q 'Port forwarding is now enabled' "$3" || return 1
	if [[ "$5" == yes ]]; then
		[[ -n "$(ip netns exec "$1" ss -Hlun "src $4:5351")" ]]
	else
		port=$(_lab_miniupnpd_http_port "$3")
		[[ -n "$port" && -n "$(ip netns exec "$1" ss -Hltn "sport = :$port")" ]]
	fi
}

# The STUN responder miniupnpd's check talks to; one per lab.
_lab_start_stun_reflector() {
	local log=$LAB_WORK/inet/stun-reflector.log pid start
	if [[ -f "$LAB_WORK/inet/stun-reflector.pid" ]]; then
		read -r pid start <"$LAB_WORK/inet/stun-reflector.pid"
		_lab_proc_alive "$pid" "$start" && return 0
	fi
	lab_spawn inet "$log" perl "$LAB_DIR/stun_reflector.pl" "$LAB_INET4" "$LAB_STUN_REFLECT_PORT"
	echo "$LAB_PID $(_lab_proc_start "$LAB_PID" || echo 0)" >"$LAB_WORK/inet/stun-reflector.pid"
	_lab_wait_bound inet "$LAB_PID" "stun reflector" "$log" \
		"$LAB_STUN_REFLECT_PORT" udp >/dev/null
}

# lab_start_daemon NAME [VAR=VALUE...]: `ray daemon` in the host, output to
# $WORK/NAME/daemon.log; returns once the IPC socket exists. The lab's
# bootstrap and STUN server (when started) are passed as RAYFISH_* variables;
# the extra VAR=VALUE arguments come after and so override them.
lab_start_daemon() {
	local name=${1:?lab_start_daemon NAME [VAR=VALUE...]} dir sock log env=() pid start
	shift
	[[ "$(_lab_node_get "$name" kind)" == host ]] || { _lab_die "$name is not a host"; return 1; }
	dir=$LAB_WORK/$name
	sock=$dir/ray.sock
	log=$dir/daemon.log
	if [[ -f "$dir/daemon.pid" ]]; then
		read -r pid start <"$dir/daemon.pid"
		_lab_proc_alive "$pid" "$start" &&
			{ _lab_die "daemon of $name already running"; return 1; }
	fi
	rm -f "$sock"
	# Servers by name, as users write them, once the lab resolver runs;
	# LAB_NUMERIC=1 keeps the numeric forms (scenarios that test those).
	if [[ -n "${LAB_DHT_NAMED:-}" && "${LAB_NUMERIC:-0}" != 1 ]]; then
		[[ -n "${LAB_DHT_BOOTSTRAP:-}" ]] && env+=("RAYFISH_DHT_BOOTSTRAP=$LAB_DHT_NAMED")
		[[ -n "${LAB_STUN:-}" ]] && env+=("RAYFISH_STUN=$LAB_STUN_NAMED")
	else
		[[ -n "${LAB_DHT_BOOTSTRAP:-}" ]] && env+=("RAYFISH_DHT_BOOTSTRAP=$LAB_DHT_BOOTSTRAP")
		[[ -n "${LAB_STUN:-}" ]] && env+=("RAYFISH_STUN=$LAB_STUN")
	fi
	env+=("$@")
	# Keep the previous run's log: a restarted daemon appends to it.
	[[ -f "$log" ]] && printf -- '----- restart -----\n' >>"$log"
	ip netns exec "$(lab_ns "$name")" env RAYFISH_HOME="$dir/home" \
		RAYFISH_SOCKET="$sock" "${env[@]}" "$RAY" daemon </dev/null >>"$log" 2>&1 &
	LAB_PID=$!
	_lab_record_pid "$LAB_PID" "$name:daemon"
	echo "$LAB_PID $(_lab_proc_start "$LAB_PID" || echo 0)" >"$dir/daemon.pid"
	step "daemon $name started (pid $LAB_PID${env[*]:+, ${env[*]}})"
	wait_for "${LAB_DAEMON_TIMEOUT:-30}" "daemon $name IPC socket $sock" \
		_lab_daemon_ready "$LAB_PID" "$name" "$log" "$sock" >/dev/null
}

_lab_daemon_ready() { # PID NAME LOG SOCK
	_lab_check_running "$1" "daemon $2" "$3" || return $?
	[[ -S "$4" ]]
}

# lab_stop_daemon NAME: SIGTERM, wait up to LAB_KILL_GRACE (5 s), SIGKILL.
# Returns 1 (after saying why) when the daemon needed SIGKILL or exited with
# a status other than 0, since SIGTERM must be a clean exit.
lab_stop_daemon() {
	local name=${1:?lab_stop_daemon NAME} dir pid start rc=0 grace waited
	dir=$LAB_WORK/$name
	[[ -f "$dir/daemon.pid" ]] || { _lab_die "no daemon started on $name"; return 1; }
	read -r pid start <"$dir/daemon.pid"
	rm -f "$dir/daemon.pid"
	if ! _lab_proc_alive "$pid" "$start"; then
		_lab_reap "$pid" || rc=$?
		fail "daemon $name (pid $pid) was already gone (status $rc)"
		return 1
	fi
	kill -TERM "$pid"
	grace=$(_lab_ms_of "${LAB_KILL_GRACE:-5}")
	for ((waited = 0; waited < grace; waited += 100)); do
		_lab_proc_alive "$pid" "$start" || break
		sleep 0.1
	done
	if _lab_proc_alive "$pid" "$start"; then
		kill -KILL "$pid" 2>/dev/null
		_lab_reap "$pid" || true
		fail "daemon $name ignored SIGTERM for ${LAB_KILL_GRACE:-5}s (killed)"
		return 1
	fi
	_lab_reap "$pid" || rc=$?
	if ((rc != 0)); then
		fail "daemon $name exited with status $rc after SIGTERM"
		return 1
	fi
	step "daemon $name stopped"
}

# Collect the exit status of a child of this shell; 0 when it is not ours.
_lab_reap() {
	local rc=0
	wait "$1" 2>/dev/null || rc=$?
	((rc == 127)) && rc=0
	return "$rc"
}

# ---------------------------------------------------------------- UDP tools

# lab_relay_allocated HOST: the host's daemon holds a TURN allocation.
lab_relay_allocated() {
	[[ "$(lab_ray "$1" --json netcheck 2>/dev/null | json_get .relay.state)" == allocated ]]
}

# lab_path_is FROM PEER direct|relay: `ray ping` from FROM to PEER (a
# hostname) gets an answer over that path.
lab_path_is() {
	local out
	out=$(lab_ray "$1" --json ping "$2" -c 1 2>/dev/null) || return 1
	[[ "$(json_get .received <<<"$out")" == 1 && "$(json_get .path <<<"$out")" == "$3" ]]
}

# lab_udp_reflector NAME PORT: answer UDP datagrams on PORT (all addresses of
# the node) with the sender's address as seen there.
lab_udp_reflector() {
	local name=$1 port=$2
	lab_spawn "$name" "udp-reflect-$port.log" perl "$LAB_DIR/udp.pl" reflect "$port"
	_lab_wait_bound "$name" "$LAB_PID" "reflector on $name" \
		"$LAB_WORK/$name/udp-reflect-$port.log" "$port" udp >/dev/null
}

# lab_udp_probe NAME DST_IP DST_PORT [SRC_PORT]: from NAME, print "ip:port"
# as a reflector at DST sees this host (the NAT mapping when behind one).
lab_udp_probe() {
	lab_exec "$1" perl "$LAB_DIR/udp.pl" probe "${4:-0}" "$2" "$3"
}

# ---------------------------------------------------------------- dumps

_lab_dump_node() { # NAME
	local name=$1 ns kind
	ns=$(lab_ns "$name" 2>/dev/null) || return 0
	kind=$(_lab_node_get "$name" kind)
	echo "--- $kind $name ($ns)"
	[[ -e "/run/netns/$ns" ]] || { echo "(namespace gone)"; return 0; }
	ip -n "$ns" -br addr 2>&1 | sed 's/^/  /'
	ip -n "$ns" route 2>&1 | sed 's/^/  route /'
	ip -n "$ns" -6 route 2>&1 | grep -v '^fe80' | sed 's/^/  route6 /'
	if [[ "$kind" == router ]]; then
		ip netns exec "$ns" nft list ruleset 2>&1 | sed 's/^/  /'
		# The NAT's current mappings, when the kernel exposes them.
		ip netns exec "$ns" cat /proc/net/nf_conntrack 2>/dev/null |
			head -n 20 | sed 's/^/  ct /'
	fi
	return 0
}

_lab_dump_logs() {
	local f lines=${LAB_DUMP_LINES:-40}
	for f in "$LAB_WORK"/*/*.log "$LAB_WORK"/*/*.out; do
		[[ -s "$f" ]] || continue
		echo "--- tail of ${f#"$LAB_WORK"/}"
		tail -n "$lines" "$f" | sed 's/^/  | /'
	done
}

# lab_dump: addresses, routes, NAT rules of every node and the tail of every
# log in the lab (daemons, dhtnode, coturn, spawned commands).
lab_dump() {
	local f
	[[ -n "${LAB_WORK:-}" && -d "$LAB_WORK/nodes" ]] || return 0
	echo "===== lab $LAB_PREFIX state ($LAB_WORK)"
	for f in "$LAB_WORK"/nodes/*; do
		[[ -f "$f" ]] && _lab_dump_node "$(basename "$f")"
	done
	_lab_dump_logs
	echo "===== end of lab dump"
}
