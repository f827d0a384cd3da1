/*
 * control: the messages peers exchange on a mesh connection's control stream
 * and on a blobs connection, those of a file transfer (daemon/files.c) and
 * of a connect request (daemon/connect.c).
 *
 * Each message is one msgpack map {"t": type, ...} framed by the transport.
 * Messages are triggers and requests; they never carry state that is taken on
 * trust: a roster travels as a network record signed by the network key
 * ("rec", verified by the receiver) plus a blob fetched by its hash. Unknown
 * keys are ignored so newer peers can add fields; known keys must have the
 * right type and size or the whole message is refused.
 */
#ifndef RAYFISH_PROTO_CONTROL_H
#define RAYFISH_PROTO_CONTROL_H

#include "util/limits.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_MAX_MSG LIMIT_CTL_MSG
#define CTL_MAX_BLOB LIMIT_BLOB
/* The DENIED reason of a seed that is a plain member: the joiner asks the
 * next seed instead of giving up. */
#define CTL_WHY_NOT_COORDINATOR "this node is not a coordinator of that network"

enum ctl_type {
	CTL_HELLO = 1,       /* I am a member of net (reconnect, rename) */
	CTL_JOIN_REQ,        /* admit me to net: hostname, optional invite secret */
	CTL_WELCOME,         /* you are in: rec = the signed record holding you */
	CTL_PENDING,         /* queued for approval */
	CTL_DENIED,          /* refused: why */
	CTL_SYNC,            /* the roster changed: rec = newest signed record */
	CTL_LEAVE,           /* I leave net */
	CTL_BLOB_GET,        /* blobs ALPN: send me the blob with this hash */
	CTL_BLOB,            /* blobs ALPN: data = the blob */
	CTL_ADMIN_GRANT,     /* coordinator → member: key = the network key seed */
	CTL_INVITE_SHARE,    /* coordinator → coordinators: hash, iid, exp, host */
	CTL_INVITE_USED,     /* coordinator → coordinators: hash was redeemed */
	CTL_PING,            /* echo request: exp = the prober's nonce */
	CTL_PONG,            /* echo reply: exp = the nonce it answers */
	CTL_ENDPOINT,        /* rec = my newest signed endpoint record (addresses) */
	CTL_ADMIN_TAKEN,     /* member → coordinator: net's key is stored, I coordinate */
	CTL_FILE_OFFER,      /* sender → receiver: offer iid of a file: name, size, hash */
	CTL_FILE_DENY,       /* receiver → sender: no to offer iid */
	CTL_FILE_CANCEL,     /* sender → receiver: offer iid is withdrawn */
	CTL_FILE_GET,        /* files ALPN: send offer iid (hash) from byte off */
	CTL_FILE_DATA,       /* files ALPN: data = the next bytes of the verified stream */
	CTL_CONNECT_REQ,     /* connect to me: cid = the contact id asked, host = my name */
	CTL_CONNECT_PENDING, /* the owner has not answered yet */
	CTL_CONNECT_OK,      /* approved: join net (you are pre-approved), name = its name */
	CTL_CONNECT_DENIED,  /* refused: why */
	CTL_TYPE_MAX
};

struct ctl_msg {
	enum ctl_type type;
	bool has_net;
	uint8_t net[LIMIT_KEY_LEN]; /* network public key (room id) */
	char hostname[64];          /* "" when absent */
	char why[160];              /* CTL_DENIED reason, "" when absent */
	bool has_invite;
	uint8_t invite[16];
	bool has_hash;
	uint8_t hash[LIMIT_KEY_LEN]; /* blob hash */
	const uint8_t *rec;          /* signed network record; borrowed from the input */
	size_t rec_len;
	const uint8_t *data; /* blob bytes; borrowed from the input */
	size_t data_len;
	bool has_key;
	uint8_t key[LIMIT_KEY_LEN]; /* CTL_ADMIN_GRANT: network key seed */
	char iid[33];               /* invite or file offer id, "" when absent */
	uint64_t exp;               /* invite expiry (unix s), 0 when absent */
	char name[256];             /* a file's name, "" when absent */
	bool has_size;
	uint64_t size; /* a file's size in bytes */
	uint64_t off;  /* CTL_FILE_GET: where the stream starts, 0 when absent */
	bool has_contact;
	uint8_t contact[LIMIT_KEY_LEN]; /* CTL_CONNECT_REQ: contact public key */
};

/* Appends the msgpack form of m (no frame header) to sb. */
int ctl_encode(const struct ctl_msg *m, msgpack_sbuffer *sb);

/*
 * Decodes one message. rec and data point into buf, which must outlive m.
 * Returns 0, or -EINVAL for anything malformed (bad type, wrong field type
 * or size, missing required field).
 */
int ctl_decode(const uint8_t *buf, size_t len, struct ctl_msg *m);

const char *ctl_type_name(enum ctl_type t);

#endif
