/*
 * limits: the sizes more than one layer must agree on, in one place. The
 * control stream carries every mesh message, a roster blob among them, so
 * a roster may be no larger than one message minus what a CTL_BLOB adds
 * around it: a roster that could never be fetched is refused when signed
 * (group_blob_encode), not discovered by the members that cannot fetch it.
 * The CLI checks what it sends against the same numbers the daemon
 * enforces.
 */
#ifndef RAYFISH_UTIL_LIMITS_H
#define RAYFISH_UTIL_LIMITS_H

/* An Ed25519 public key or seed, a BLAKE3 hash, a network's room key. */
#define LIMIT_KEY_LEN 32

/* One control-stream message (the body of one frame), either way. */
#define LIMIT_CTL_MSG (1u << 20)
/* What a CTL_BLOB message adds around the blob: type, hash, field names
 * and msgpack headers (about 60 bytes), with room to spare. */
#define LIMIT_CTL_BLOB_OVERHEAD 128u
/* One encoded roster (group blob). */
#define LIMIT_BLOB (LIMIT_CTL_MSG - LIMIT_CTL_BLOB_OVERHEAD)

/* IPC: a request the daemon reads, a reply the CLI reads. */
#define LIMIT_IPC_REQUEST (1u << 20)
#define LIMIT_IPC_REPLY (64u << 20)
/* Open files one IPC request may hand the daemon (SCM_RIGHTS). */
#define LIMIT_IPC_FDS 16

/* `ray ping -c`: probes per command. */
#define LIMIT_PING_COUNT 100

#endif
