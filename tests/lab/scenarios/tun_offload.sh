#!/usr/bin/env bash
# timeout: 300
# TUN offloads against the real kernel: both daemons open their TUN with the
# vnet header and TSO/USO; a TCP transfer of random bytes (LAB_XFER_MB, 32 by
# default) arrives intact each way over IPv4 and IPv6 (BLAKE3 at both ends),
# the sender cut super-packets and the receiver merged segments. Then a
# restarts with RAYFISH_TUN_OFFLOAD=off: plain on one side, offloads on the
# other, the transfer is still intact.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init tun_offload

MB=${LAB_XFER_MB:-32}
PORT=5901
TCP="perl $LAB_DIR/tcp.pl"
SRC=$LAB_WORK/src.bin
head -c "${MB}M" /dev/urandom >"$SRC"
want=$(b3sum --no-names "$SRC")

lab_start_dhtnode
lab_add_host a --direct
lab_add_host b --direct
lab_start_daemon a
lab_start_daemon b
out=$(lab_ray a --json create --open --name bulk --hostname alice)
room=$(json_get .room_id <<<"$out")
a4=$(json_get .ipv4 <<<"$out")
a6=$(json_get .ipv6 <<<"$out")
out=$(wait_for 60 "b joins" lab_ray b --json join "$room" --hostname bob)
b4=$(json_get .ipv4 <<<"$out")
b6=$(json_get .ipv6 <<<"$out")
wait_for 60 "a → b over the tunnel" lab_exec a ping -c 1 -W 1 "$b4" >/dev/null
wait_for 60 "a → b over the tunnel (IPv6)" lab_exec a ping -c 1 -W 1 "$b6" >/dev/null
for h in a b; do lab_ray "$h" firewall add in allow -p tcp --port "$PORT" >/dev/null; done

offload() { # HOST FIELD: dataplane.offload.FIELD of HOST's status
	lab_ray "$1" --json status | json_get ".dataplane.offload.$2"
}

for h in a b; do
	assert_eq true "$(offload "$h" vnet_hdr)" "$h's TUN has the vnet header"
	assert_eq true "$(offload "$h" tso)" "$h's TUN took TSO"
	assert_eq true "$(offload "$h" csum)" "$h's TUN took checksum offload"
done

xfer() { # FROM TO ADDR: MB bytes FROM → TO, compared
	local from=$1 to=$2 addr=$3 sink got
	rm -f "$LAB_WORK/$to/sink.out"
	lab_spawn "$to" sink.log sh -c "$TCP sink $PORT >'$LAB_WORK/$to/sink.out'"
	sink=$LAB_PID
	wait_for 10 "sink on $to" lab_port_bound "$to" tcp "$PORT" >/dev/null
	lab_exec "$from" timeout 120 $TCP source "$addr" "$PORT" <"$SRC" ||
		fail "$from → $addr: the transfer did not finish"
	wait "$sink" || fail "the sink on $to exited $?"
	got=$(b3sum --no-names "$LAB_WORK/$to/sink.out")
	assert_eq "$want" "$got" "BLAKE3 of $MB MB $from → $to over $addr"
	rm -f "$LAB_WORK/$to/sink.out"
}

step "$MB MB each way, IPv4 and IPv6, offloads on both sides"
xfer a b "$b4"
xfer b a "$a4"
xfer a b "$b6"
xfer b a "$a6"
for h in a b; do
	gso=$(offload "$h" gso_in)
	merged=$(offload "$h" rx_merged)
	((gso > 0)) || fail "$h read no super-packet from its TUN"
	((merged > 0)) || fail "$h merged no received segment"
	step "$h: $gso super-packets cut into $(offload "$h" gso_segments), $merged packets merged into $(offload "$h" tun_writes) writes"
	assert_eq 0 "$(lab_ray "$h" --json status | json_get .dataplane.drops.offload_invalid)" \
		"$h's refused vnet headers"
done

step "a restarts with offloads off; b keeps them"
lab_stop_daemon a
lab_start_daemon a RAYFISH_TUN_OFFLOAD=off
wait_for 60 "a → b over the tunnel again" lab_exec a ping -c 1 -W 1 "$b4" >/dev/null
assert_eq false "$(offload a vnet_hdr)" "a's TUN without the vnet header"
xfer a b "$b4"
xfer b a "$a6"
assert_eq 0 "$(offload a gso_in)" "super-packets a read with offloads off"

step "tun_offload passed"
