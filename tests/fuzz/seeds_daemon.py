#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_daemon.c: one file per story
(a rename, joins by invite, key and approval, a queued stranger timing out,
BOSS announcing a roster that is fetched and applied, a replayed or damaged
record, blob serving on blobs and mesh connections, a leave, a key grant and
invite gossip, endpoint records and a dial, pings, raw framing). The byte
layout is the one fuzz_daemon.c's step() decodes; keep the two in step.
The regress-* files next to them are inputs that found bugs, kept as found."""
import os
import sys

# Operations (first byte of a step).
ACCEPT, CONFIRM, RAW, MSG, CLOSE, TICK, ANSWER, PUBLISH = range(8)
# Peers.
MEMBER, BOSS, STRANGER, APPROVED = range(4)
BLOBS = 4
# Control message types, as the target numbers them (ctl type - 1).
HELLO, JOIN_REQ, WELCOME, PENDING, DENIED, SYNC, LEAVE, BLOB_GET, BLOB, \
    ADMIN_GRANT, INVITE_SHARE, INVITE_USED, PING, PONG, ENDPOINT = range(15)
# Optional field masks.
F_NET, F_HOST, F_WHY, F_INV, F_HASH, F_REC, F_DATA, F_KEY = (1 << i for i in range(8))
F2_IID, F2_EXP = 1, 2
# Networks (net field selector), material rosters, hostnames.
NET_HOME, NET_TEAM, NET_OTHER = 0, 1, 2
HOME_V1, HOME_V2, HOME_V3, TEAM_V1, TEAM_V2, TEAM_V3, TEAM_V4, TEAM_F2, TEAM_F3, OTHER = range(10)
HOSTS = ["member", "boss", "coord", "me", "guest", "member2", "stranger", "a", "x-1",
         "Coord", "me-1", ""]
# Tick lengths (index into the target's table).
T0, T5, T50, T300, T600, T1S, T2S, T5S, T10S, T16S, T21S, T61S, T130S = range(13)
# Close reasons and codes.
R_PEER, R_IDLE, R_PROTOCOL, R_HANDSHAKE = range(4)
C_NONE, C_LEAVE = 0, 1


def host(name):
    return bytes([HOSTS.index(name)])


def accept(peer, blobs=False, source=None, stalled=False):
    b = peer | (BLOBS if blobs else 0) | ((peer if source is None else source) << 3)
    return bytes([ACCEPT, b | (0x20 if stalled else 0)])


def msg(peer, typ, fields=b"", mask=0, mask2=0, blobs=False, cut=0):
    sel = peer | (BLOBS if blobs else 0)
    return bytes([MSG, sel, typ, mask, mask2]) + fields + bytes([cut])


def rec(index, flip=0, pos=0):
    return bytes([index, flip, pos >> 8, pos & 0xff])


def hash_of(index):
    return bytes([index << 2])


def tick(t):
    return bytes([TICK, t])


def answer(peer, mode=0, blobs=False, cut=0):
    return bytes([ANSWER, peer | (BLOBS if blobs else 0), mode, cut])


def close(peer, reason, code=0, blobs=False):
    return bytes([CLOSE, peer | (BLOBS if blobs else 0), reason | (code << 2)])


SEEDS = {
    "rename": b"\0" + accept(MEMBER) +
        msg(MEMBER, HELLO, bytes([NET_HOME]) + host("member2"), mask=F_HOST) + tick(T1S),
    "join-invite": b"\0" + accept(STRANGER) +
        msg(STRANGER, JOIN_REQ, bytes([NET_HOME]) + host("guest") + b"\1",
            mask=F_HOST | F_INV) + tick(T1S),
    "join-key": b"\0" + accept(STRANGER) +
        msg(STRANGER, JOIN_REQ, bytes([NET_HOME]) + host("a") + b"\0",
            mask=F_HOST | F_INV) + tick(T600),
    "join-approved": b"\0" + accept(APPROVED) +
        msg(APPROVED, JOIN_REQ, bytes([NET_HOME]) + host("x-1"), mask=F_HOST),
    "queued-expires": b"\0" + accept(STRANGER) +
        msg(STRANGER, JOIN_REQ, bytes([NET_HOME]), mask=0) + tick(T16S) + tick(T21S),
    "boss-announces": b"\2" + accept(BOSS) +
        bytes([PUBLISH, 0, 0, 0, 0, 0, 0, 4, 0]) + tick(T2S) + answer(BOSS) + tick(T1S),
    "sync-replay": b"\0" + accept(MEMBER) +
        msg(MEMBER, SYNC, bytes([NET_TEAM]) + rec(TEAM_V2)) + tick(T2S) +
        answer(MEMBER) + tick(T1S),
    "sync-fork": b"\2" + accept(BOSS) + accept(MEMBER) +
        msg(BOSS, SYNC, bytes([NET_TEAM]) + rec(TEAM_V3)) +
        msg(MEMBER, SYNC, bytes([NET_TEAM]) + rec(TEAM_F3)) + tick(T2S) +
        answer(BOSS) + answer(MEMBER) + tick(T2S) + answer(BOSS) + answer(MEMBER),
    "sync-flipped": b"\0" + accept(STRANGER) +
        msg(STRANGER, SYNC, bytes([NET_HOME]) + rec(HOME_V2, 0x20, 40)) +
        msg(STRANGER, SYNC, bytes([NET_HOME]) + rec(HOME_V1)),
    "blobs-serve": b"\0" + accept(STRANGER, blobs=True) +
        msg(STRANGER, BLOB_GET, hash_of(HOME_V3), blobs=True) +
        msg(STRANGER, BLOB_GET, hash_of(HOME_V3), blobs=True),
    "mesh-serve": b"\0" + accept(MEMBER) +
        msg(MEMBER, BLOB_GET, hash_of(HOME_V3)) + msg(MEMBER, BLOB_GET, hash_of(TEAM_V2)),
    "leave": b"\0" + accept(MEMBER) + msg(MEMBER, LEAVE, bytes([NET_HOME])) +
        close(MEMBER, R_PEER, C_LEAVE) + tick(T1S),
    # The close arrives without the CTL_LEAVE before it.
    "leave-close-only": b"\0" + accept(MEMBER) + close(MEMBER, R_PEER, C_LEAVE) + tick(T1S),
    "grant-gossip": b"\0" + accept(BOSS) +
        msg(BOSS, ADMIN_GRANT, bytes([NET_TEAM, 0]), mask=0) +
        msg(BOSS, INVITE_SHARE, bytes([NET_TEAM, 2]) + bytes(range(32)) + b"\2i7",
            mask=0, mask2=F2_IID) +
        accept(STRANGER) + msg(STRANGER, JOIN_REQ, bytes([NET_TEAM]), mask=0),
    "endpoint-dial": b"\0" + accept(MEMBER) + msg(MEMBER, ENDPOINT, bytes([0x40, 0, 0, 0])) +
        close(MEMBER, R_IDLE) + tick(T2S) + bytes([CONFIRM, 0]) + tick(T1S),
    "ping": b"\0" + accept(STRANGER) +
        msg(STRANGER, PING, bytes([0, 0, 0, 0, 0, 0, 0, 9]), mask=0) +
        msg(STRANGER, PONG, bytes([0, 0, 0, 0, 0, 0, 0, 9]), mask=0),
    "raw-frames": b"\0" + accept(MEMBER) +
        bytes([RAW, MEMBER, 12, 0, 0, 0, 0, 0, 0, 0, 4, 0x81, 0xa1, 0x74, 7]) +
        bytes([RAW, MEMBER, 4, 0x7f, 0xff, 0xff, 0xff]),
    # After the grant we coordinate team: a roster of our version with
    # other contents is merged, one made beside ours is forked back in.
    "grant-merge": b"\2" + accept(BOSS) + accept(MEMBER) +
        msg(BOSS, ADMIN_GRANT, bytes([NET_TEAM, 0])) +
        msg(BOSS, SYNC, bytes([NET_TEAM]) + rec(TEAM_V2)) + tick(T2S) + answer(BOSS) +
        msg(MEMBER, SYNC, bytes([NET_TEAM]) + rec(TEAM_F2)) + tick(T2S) + answer(MEMBER) +
        tick(T1S),
    "grant-fork": b"\2" + accept(BOSS) + accept(MEMBER) +
        msg(BOSS, ADMIN_GRANT, bytes([NET_TEAM, 0])) +
        msg(BOSS, SYNC, bytes([NET_TEAM]) + rec(TEAM_V2)) + tick(T2S) + answer(BOSS) +
        msg(MEMBER, SYNC, bytes([NET_TEAM]) + rec(TEAM_F3)) + tick(T2S) + answer(MEMBER) +
        tick(T1S),
    # BOSS drops us: from our roster (we leave), or beside it (we wait,
    # then leave after the grace).
    "dropped": b"\0" + accept(BOSS) +
        bytes([PUBLISH, 0, 4, BOSS, 4, 0]) + tick(T2S) + answer(BOSS) + tick(T1S),
    "dropped-fork": b"\0" + accept(BOSS) +
        bytes([PUBLISH, 0, 2, MEMBER, 5, 6, 0]) + tick(T2S) + answer(BOSS) +
        bytes([PUBLISH, 0, 4, BOSS, 0x14, 0]) + tick(T2S) + answer(BOSS) +
        tick(T61S) + msg(BOSS, SYNC, bytes([NET_TEAM]) + rec(11)) + tick(T2S) +
        answer(BOSS),
    # Suggestions installed, then the network drops us: they must go too.
    "dropped-with-rules": b"\2" + accept(BOSS) +
        bytes([PUBLISH, 0, 0, 0, 0, 0, 0, 4, 0]) + tick(T2S) + answer(BOSS) + tick(T1S) +
        bytes([PUBLISH, 0, 4, BOSS, 4, 0]) + tick(T2S) + answer(BOSS) + tick(T1S),
    "stranger-overload": b"\0" + accept(STRANGER, stalled=True) +
        msg(STRANGER, BLOB_GET, hash_of(HOME_V3)) * 4 + tick(T16S),
}


def main(out):
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus/fuzz_daemon")
