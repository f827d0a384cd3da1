/*
 * libFuzzer target: the daemon after the handshake, as its peers see it.
 *
 * One daemon (tests/unit's fixture, firewall on) holds two networks: "home",
 * which it coordinates alone (members: us, MEMBER; a reusable key, a
 * single-use invite, APPROVED pre-approved, suggested firewall rules), and
 * "team", where it is a plain member ("me") and BOSS coordinates (members
 * BOSS, us, MEMBER). STRANGER belongs to neither. Connections are faked
 * (fake_net.c) below the real control-stream reassembly, so every message
 * takes the path a peer's would: quic_rx, the gate's bucket, the daemon's
 * dispatch, and every handler behind it (admission, joins, roster sync and
 * its fetches, blob serving on mesh and blobs connections, renames, grants,
 * invite gossip, pings, endpoint records, firewall suggestions).
 *
 * An input is a header byte and a list of steps (decoded below, see step()):
 * a peer dials us; one of our dials completes or fails; raw stream bytes or
 * one structured message (fields from the input, or material signed at
 * set-up spliced in with a bit flipped) arrive on a connection; a
 * connection ends; time passes (timers, the daemon's tick); a peer answers
 * the blob we asked it for; BOSS signs a new "team" roster changed by the
 * input and may announce it.
 *
 * What must hold after every step (__builtin_trap otherwise): "home" is
 * still here, we still coordinate it, and its roster moved only by
 * what the step's sender may do to it (itself: join through an invite, a key
 * or an approval, leave, rename; nobody else's entry, and no field but the
 * members, changes); a roster of "home" at the set-up version is the set-up
 * roster (so any newer one is our own signature); "team" goes only after
 * BOSS signed a roster without us, and gives us its key only from its
 * coordinator; what the daemon sends decodes, never carries a
 * network key, serves blobs that hash right, welcomes only members and
 * gossips invites only to coordinators. After the input: every roster held
 * verifies against its network's record, is on disk, and a restart from the
 * disk gives back the same networks; every suggested firewall rule (installed
 * or pending) admits or refuses inbound traffic of its own network only, one
 * we still hold.
 *
 * Every input starts from the same state, so a finding replays from its input
 * alone: the home directory (on tmpfs when there is one) is put back as
 * set-up left it and the daemon started on it, the random source (libsodium)
 * is deterministic and reseeded, the clock back at real time; everything is
 * stopped and freed when the input ends, so LeakSanitizer sees each input on
 * its own. Logs below errors are off (FUZZ_DAEMON_LOG=debug for all).
 * tests/fuzz/seeds_daemon.py writes the seeds and shows the step layout.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon_fixture.h"
#include "fake_net.h"
#include "daemon/connect.h"
#include "daemon/daemon.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "home/store.h"
#include "dataplane/firewall.h"
#include "discovery/payload.h"
#include "discovery/record.h"
#include "mesh/group_blob.h"
#include "mesh/contact.h"
#include "mesh/invite.h"
#include "proto/control.h"
#include "proto/jsonpack.h"
#include "transport/quic.h"
#include "util/blake3.h"
#include "util/fileio.h"
#include "util/log.h"

#define MAX_STEPS 48
#define MAX_FIXED 16  /* rosters signed at set-up */
#define MAX_RUNTIME 6 /* rosters BOSS signs during one input */
#define MAX_FILES 64  /* files and directories in the home at set-up */
#define DATA_MAX 4096 /* fuzzed bytes in one field */

enum {
	P_MEMBER,
	P_BOSS,
	P_STRANGER,
	P_APPROVED,
	N_PEERS
};

struct roster {
	uint8_t rec[STORE_MAX_RECORD];
	size_t rec_len;
	uint8_t *blob;
	size_t blob_len;
	uint8_t hash[32];
};

struct home_file {
	char rel[160];
	uint8_t *data; /* a file's contents; NULL for a directory */
	size_t len;
	mode_t mode;
	bool dir;
};

/* ---- what set-up made, the same for every input ---- */

static struct fixture fx;
static struct identity peer_id[N_PEERS];
static struct identity key1, key2, key3; /* home's, team's, a network we are not in */
static uint8_t secret_key[INVITE_SECRET_LEN], secret_invite[INVITE_SECRET_LEN];
static struct roster rosters[MAX_FIXED + MAX_RUNTIME];
static size_t n_fixed, n_runtime;
static size_t snap1, snap2; /* index of home's and team's set-up rosters */
static uint64_t snap1_seq;
static uint8_t endpoint_rec[N_PEERS][RECORD_MAX];
static size_t endpoint_len[N_PEERS];
static uint8_t *suggestions[4]; /* msgpack firewall suggestions */
static size_t suggestion_len[4];
static struct home_file home_files[MAX_FILES];
static size_t n_home_files;
static char peer_ids[N_PEERS][IDENTITY_ID_LEN + 1];
static bool ready;

/* ---- per input ---- */

static struct group_blob boss_roster; /* what BOSS holds of team */
static uint8_t boss_hash[32];
static const char *sender; /* endpoint id the step came from */
static bool team_may_go;   /* BOSS signed a team roster without us */

/* ---- the random source: deterministic, reseeded per input ---- */

static uint8_t rng_key[crypto_stream_chacha20_KEYBYTES];
static uint64_t rng_ctr;

static void rng_buf(void *buf, size_t n)
{
	uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = { 0 };

	memcpy(nonce, &rng_ctr, sizeof(rng_ctr));
	rng_ctr++;
	crypto_stream_chacha20(buf, n, nonce, rng_key);
}

static uint32_t rng_random(void)
{
	uint32_t v;

	rng_buf(&v, sizeof(v));
	return v;
}

static const char *rng_name(void)
{
	return "fuzz";
}

static randombytes_implementation rng_impl = {
	.implementation_name = rng_name,
	.random = rng_random,
	.buf = rng_buf,
};

static void rng_seed(uint8_t tag)
{
	memset(rng_key, tag, sizeof(rng_key));
	rng_ctr = 0;
}

/* ---- the input ---- */

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint16_t u16(struct in *in)
{
	uint16_t hi = u8(in);

	return (uint16_t)(hi << 8 | u8(in));
}

/* Up to want bytes of the input, copied (zero-padded) into out. */
static size_t bytes(struct in *in, uint8_t *out, size_t want)
{
	size_t n = want < in->n ? want : in->n;

	memcpy(out, in->p, n);
	memset(out + n, 0, want - n);
	in->p += n;
	in->n -= n;
	return n;
}

/* A C string of up to cap-1 input bytes (it stops at a NUL). */
static void string(struct in *in, char *out, size_t cap, size_t len)
{
	size_t i;

	if (len >= cap)
		len = cap - 1;
	for (i = 0; i < len && in->n && *in->p; i++)
		out[i] = (char)u8(in);
	out[i] = 0;
}

static const char *const hostnames[] = { "member",   "boss", "coord", "me",    "guest", "member2",
					 "stranger", "a",    "x-1",   "Coord", "me-1",  "" };
#define N_HOSTNAMES (sizeof(hostnames) / sizeof(hostnames[0]))

static void hostname(struct in *in, char *out, size_t cap)
{
	uint8_t s = u8(in);

	if (s < 0xc0)
		snprintf(out, cap, "%s", hostnames[s % N_HOSTNAMES]);
	else
		string(in, out, cap, s & 0x3f);
}

/* ---- set-up ---- */

#define CHECK(x)                                                                \
	do {                                                                    \
		if (!(x)) {                                                     \
			fprintf(stderr, "fuzz_daemon set-up: %s failed\n", #x); \
			abort();                                                \
		}                                                               \
	} while (0)

static size_t roster_add(const uint8_t *rec, size_t rec_len, const uint8_t *blob, size_t blob_len)
{
	struct roster *r = &rosters[n_fixed + n_runtime];

	CHECK(rec_len <= sizeof(r->rec));
	memcpy(r->rec, rec, rec_len);
	r->rec_len = rec_len;
	r->blob = malloc(blob_len);
	CHECK(r->blob);
	memcpy(r->blob, blob, blob_len);
	r->blob_len = blob_len;
	blake3_hash(blob, blob_len, r->hash);
	return n_fixed + n_runtime;
}

/* home's current roster, as its coordinator (the daemon) signed it. */
static size_t keep_home_roster(struct network *n)
{
	uint8_t *bytes = NULL;
	size_t len, i;

	CHECK(store_load_blob(fx.home, n->saved.blob_hash, &bytes, &len) == 0);
	i = roster_add(n->saved.record, n->saved.record_len, bytes, len);
	n_fixed++;
	free(bytes);
	return i;
}

/* b (taken) at version, after parent, signed with key. */
static size_t sign_roster(const struct identity *key, struct group_blob *b, const uint8_t *parent,
			  uint64_t version)
{
	uint8_t rec[RECORD_MAX], *bytes = NULL;
	size_t rec_len, blen, i;

	b->version = version;
	if (parent)
		group_blob_add_ancestor(b, parent);
	CHECK(network_sign_roster(key, b, rec, sizeof(rec), &rec_len, &bytes, &blen) == 0);
	group_blob_free(b);
	i = roster_add(rec, rec_len, bytes, blen);
	free(bytes);
	return i;
}

static size_t sign_fixed(const struct identity *key, struct group_blob *b, const uint8_t *parent,
			 uint64_t version)
{
	size_t i = sign_roster(key, b, parent, version);

	n_fixed++;
	return i;
}

static void suggestion(size_t i, const char *text)
{
	json_t *v = json_loads(text, 0, NULL);
	msgpack_sbuffer sb;

	CHECK(v);
	msgpack_sbuffer_init(&sb);
	CHECK(jsonpack_encode(v, &sb) == 0 && sb.size < 256);
	json_decref(v);
	suggestions[i] = malloc(sb.size);
	CHECK(suggestions[i]);
	memcpy(suggestions[i], sb.data, sb.size);
	suggestion_len[i] = sb.size;
	msgpack_sbuffer_destroy(&sb);
}

static void endpoint_record(size_t i)
{
	struct endpoint_payload p = { .n_addrs = 1, .has_timestamp = true };
	struct sockaddr_in *a = (struct sockaddr_in *)&p.addrs[0];
	uint8_t payload[RECORD_PAYLOAD_MAX];
	uint64_t now = daemon_unix_now();
	int plen, rlen;

	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(0x7f000001);
	a->sin_port = htons((uint16_t)(40001 + i));
	p.timestamp = now;
	plen = endpoint_payload_encode(&p, payload, sizeof(payload));
	CHECK(plen > 0);
	rlen = record_encode(RECORD_ENDPOINT, peer_id[i].seed, now, now + 30 * 86400, payload,
			     (size_t)plen, endpoint_rec[i], RECORD_MAX);
	CHECK(rlen > 0);
	endpoint_len[i] = (size_t)rlen;
}

/* home: we coordinate; MEMBER; then a key, an approval and suggestions. */
static void setup_home(void)
{
	struct network *n;
	struct group_blob b;
	struct gb_key k = { .created = daemon_unix_now() };
	struct invite_ledger led;
	struct invite inv;

	CHECK(fixture_make_network(&fx, "home", &n) == 0);
	key1 = n->key;
	keep_home_roster(n);
	CHECK(fixture_make_admit(&fx, n, peer_ids[P_MEMBER], "member", false) == 0);
	keep_home_roster(n);
	CHECK(group_blob_copy(&b, &n->blob) == 0);
	randombytes_buf(secret_key, sizeof(secret_key));
	blake3_hash(secret_key, sizeof(secret_key), k.secret_hash);
	snprintf(k.id, sizeof(k.id), "k1");
	k.expires = k.created + 30 * 86400;
	CHECK(group_blob_add_key(&b, &k) == 0);
	CHECK(group_blob_add_approved(&b, peer_ids[P_APPROVED], NULL) == 0);
	CHECK(group_blob_set_firewall(&b, suggestions[3], suggestion_len[3]) == 0);
	CHECK(network_publish(&fx.d, n, &b, NULL) == 0);
	snap1 = keep_home_roster(n);
	snap1_seq = n->seq;
	invite_ledger_init(&led);
	CHECK(invite_ledger_load(&led, fx.home, n->saved.room_id) == 0);
	CHECK(invite_mint(&led, "guest", 7 * 86400, daemon_unix_now(), secret_invite, &inv) == 0);
	CHECK(invite_ledger_save(&led, fx.home, n->saved.room_id) == 0);
	invite_ledger_free(&led);
}

/* team: BOSS coordinates, we joined as "me" (the way join.c adopts). */
static void setup_team(void)
{
	struct network *n = calloc(1, sizeof(*n));
	struct group_blob b, c;
	const struct roster *r;
	size_t v1, v2, v3, f2;

	CHECK(n && identity_generate(&key2) == 0 && identity_generate(&key3) == 0);
	CHECK(group_blob_init(&b, "team", GROUP_MODE_CLOSED) == 0);
	CHECK(group_blob_admit(&b, peer_ids[P_BOSS], "boss", true) == 0);
	CHECK(group_blob_admit(&b, fx.d.id.id, "me", false) == 0);
	CHECK(group_blob_admit(&b, peer_ids[P_MEMBER], "member", false) == 0);
	CHECK(group_blob_copy(&c, &b) == 0);
	v1 = sign_fixed(&key2, &b, NULL, 1);
	snap2 = v1;
	r = &rosters[v1];
	memcpy(n->pk, key2.pk, 32);
	identity_id_format(key2.pk, n->saved.room_id);
	snprintf(n->saved.name, sizeof(n->saved.name), "team");
	CHECK(group_blob_init(&n->blob, "pending", GROUP_MODE_CLOSED) == 0);
	CHECK(network_add(&fx.d, n) == 0);
	CHECK(network_apply(&fx.d, n, r->rec, r->rec_len, r->blob, r->blob_len) == 0);
	/* What BOSS may announce next: a line of versions and a fork. */
	CHECK(group_blob_decode(rosters[v1].blob, rosters[v1].blob_len, &b) == 0);
	CHECK(group_blob_set_firewall(&b, suggestions[0], suggestion_len[0]) == 0);
	v2 = sign_fixed(&key2, &b, rosters[v1].hash, 2);
	CHECK(group_blob_decode(rosters[v2].blob, rosters[v2].blob_len, &b) == 0);
	CHECK(group_blob_set_hostname(&b, peer_ids[P_MEMBER], "member2") == 0);
	CHECK(group_blob_set_mode(&b, GROUP_MODE_OPEN) == 0);
	CHECK(group_blob_add_approved(&b, peer_ids[P_STRANGER], NULL) == 0);
	v3 = sign_fixed(&key2, &b, rosters[v2].hash, 3);
	CHECK(group_blob_decode(rosters[v3].blob, rosters[v3].blob_len, &b) == 0);
	CHECK(group_blob_admit(&b, peer_ids[P_STRANGER], "stranger", false) == 0);
	CHECK(group_blob_remove_member(&b, peer_ids[P_MEMBER]) == 0);
	sign_fixed(&key2, &b, rosters[v3].hash, 4);
	CHECK(group_blob_set_hostname(&c, fx.d.id.id, "me2") == 0);
	CHECK(group_blob_copy(&b, &c) == 0);
	f2 = sign_fixed(&key2, &c, rosters[v1].hash, 2);
	CHECK(group_blob_set_firewall(&b, suggestions[2], suggestion_len[2]) == 0);
	sign_fixed(&key2, &b, rosters[f2].hash, 3);
	/* A network we are not in. */
	CHECK(group_blob_init(&b, "other", GROUP_MODE_OPEN) == 0);
	CHECK(group_blob_admit(&b, peer_ids[P_BOSS], "boss", true) == 0);
	sign_fixed(&key3, &b, NULL, 1);
}

static void snapshot_file(const char *rel, mode_t mode, bool dir)
{
	struct home_file *f = &home_files[n_home_files++];
	char path[512], *buf = NULL;

	CHECK(n_home_files <= MAX_FILES);
	snprintf(f->rel, sizeof(f->rel), "%s", rel);
	f->mode = mode & 07777;
	f->dir = dir;
	if (dir)
		return;
	fixture_path(&fx, rel, path, sizeof(path));
	CHECK(fileio_read_all(path, 1u << 20, &buf, &f->len) == 0);
	f->data = (uint8_t *)buf;
}

/* Calls fn for every entry under home/rel at any depth, dotfiles too, a
 * directory before what it holds. */
static void walk(const char *rel, void (*fn)(const char *rel, const struct stat *st))
{
	char path[512], name[160];
	struct dirent *e;
	struct stat st;
	DIR *dir;

	fixture_path(&fx, rel, path, sizeof(path));
	if (!(dir = opendir(path)))
		return;
	while ((e = readdir(dir))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(name, sizeof(name), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		fixture_path(&fx, name, path, sizeof(path));
		if (lstat(path, &st) < 0)
			continue;
		fn(name, &st);
		if (S_ISDIR(st.st_mode))
			walk(name, fn);
	}
	closedir(dir);
}

static void snapshot_entry(const char *rel, const struct stat *st)
{
	CHECK(S_ISDIR(st->st_mode) || S_ISREG(st->st_mode));
	snapshot_file(rel, st->st_mode, S_ISDIR(st->st_mode));
}

/* The home as set-up left it: every file and directory, at any depth. */
static void snapshot_home(void)
{
	walk("", snapshot_entry);
}

static const struct home_file *snapshot_find(const char *rel)
{
	for (size_t i = 0; i < n_home_files; i++)
		if (strcmp(home_files[i].rel, rel) == 0)
			return &home_files[i];
	return NULL;
}

static void remove_tree(const char *path)
{
	struct dirent *e;
	char sub[600];
	DIR *dir;

	if (unlink(path) == 0 || !(dir = opendir(path)))
		return;
	while ((e = readdir(dir))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		remove_tree(sub);
	}
	closedir(dir);
	rmdir(path);
}

/* What set-up did not leave (or left as the other kind) goes. */
static void prune_entry(const char *rel, const struct stat *st)
{
	const struct home_file *f = snapshot_find(rel);
	char path[512];

	if (f && f->dir == (bool)S_ISDIR(st->st_mode))
		return;
	fixture_path(&fx, rel, path, sizeof(path));
	remove_tree(path);
}

static bool entry_same(const struct home_file *f)
{
	char path[512], *buf = NULL;
	struct stat st;
	size_t len;
	bool same;

	fixture_path(&fx, f->rel, path, sizeof(path));
	if (lstat(path, &st) < 0 || (st.st_mode & 07777) != f->mode ||
	    (bool)S_ISDIR(st.st_mode) != f->dir)
		return false;
	if (f->dir)
		return true;
	same = fileio_read_all(path, 1u << 20, &buf, &len) == 0 && len == f->len &&
	       memcmp(buf, f->data, len) == 0;
	free(buf);
	return same;
}

static size_t home_entries;

static void count_entry(const char *rel, const struct stat *st)
{
	(void)st;
	if (!snapshot_find(rel)) {
		fprintf(stderr, "fuzz_daemon harness: %s survived the restore\n", rel);
		abort();
	}
	home_entries++;
}

/* Puts the home back exactly as set-up left it (contents, modes, nothing
 * more), and checks it did: an input must not leave state for the next. */
static void restore_home(void)
{
	char path[512];

	walk("", prune_entry);
	for (size_t i = 0; i < n_home_files; i++) {
		const struct home_file *f = &home_files[i];

		if (entry_same(f))
			continue;
		fixture_path(&fx, f->rel, path, sizeof(path));
		if (f->dir)
			CHECK(fileio_mkdir_p(path, f->mode) == 0 && chmod(path, f->mode) == 0);
		else
			CHECK(fileio_write_atomic(path, f->data, f->len, f->mode) == 0 &&
			      chmod(path, f->mode) == 0);
	}
	home_entries = 0;
	walk("", count_entry);
	for (size_t i = 0; i < n_home_files; i++) {
		if (!entry_same(&home_files[i])) {
			fprintf(stderr, "fuzz_daemon harness: %s not restored\n",
				home_files[i].rel);
			abort();
		}
	}
	CHECK(home_entries == n_home_files);
}

/* ---- checks ---- */

#define MUST(x)                           \
	do {                              \
		if (!(x))                 \
			__builtin_trap(); \
	} while (0)

static struct network *home_net(void)
{
	return network_find_pk(&fx.d, key1.pk);
}

static struct network *team_net(void)
{
	return network_find_pk(&fx.d, key2.pk);
}

static bool same_member(const struct gb_member *a, const struct gb_member *b)
{
	return strcmp(a->id, b->id) == 0 && strcmp(a->hostname, b->hostname) == 0 &&
	       a->ipv4 == b->ipv4 && a->coordinator == b->coordinator;
}

static bool same_keys(const struct group_blob *a, const struct group_blob *b)
{
	if (a->n_keys != b->n_keys)
		return false;
	for (size_t i = 0; i < a->n_keys; i++)
		if (strcmp(a->keys[i].id, b->keys[i].id) != 0 ||
		    memcmp(a->keys[i].secret_hash, b->keys[i].secret_hash, 32) != 0 ||
		    a->keys[i].expires != b->keys[i].expires ||
		    a->keys[i].revoked != b->keys[i].revoked)
			return false;
	return true;
}

/*
 * What one step may do to home's roster, from pre to post: the sender
 * (NULL: nobody, time passing) may join as a plain member, leave, or be
 * renamed; every other entry and every other field stays, and the
 * approvals only lose the sender's.
 */
static bool home_step_ok(const struct group_blob *pre, const struct group_blob *post)
{
	for (size_t i = 0; i < pre->n_members; i++) {
		const struct gb_member *m = &pre->members[i];
		const struct gb_member *q = group_blob_find_member(post, m->id);

		if (sender && strcmp(m->id, sender) == 0) {
			if (q && (q->coordinator != m->coordinator || q->ipv4 != m->ipv4))
				return false;
		} else if (!q || !same_member(m, q)) {
			return false;
		}
	}
	for (size_t i = 0; i < post->n_members; i++) {
		const struct gb_member *q = &post->members[i];

		if (!group_blob_find_member(pre, q->id) &&
		    (!sender || strcmp(q->id, sender) != 0 || q->coordinator))
			return false;
	}
	for (size_t i = 0; i < pre->n_approved; i++)
		if (!group_blob_find_approved(post, pre->approved[i].id) &&
		    (!sender || strcmp(pre->approved[i].id, sender) != 0))
			return false;
	return post->n_approved <= pre->n_approved && strcmp(pre->name, post->name) == 0 &&
	       pre->mode == post->mode && same_keys(pre, post) &&
	       pre->firewall_len == post->firewall_len &&
	       memcmp(pre->firewall, post->firewall, pre->firewall_len) == 0;
}

static bool is_coordinator(const struct group_blob *b, const char *id)
{
	const struct gb_member *m = id ? group_blob_find_member(b, id) : NULL;

	return m && m->coordinator;
}

/* The state before a step, for what the step may change. */
struct pre {
	struct group_blob home, team;
	bool has_team, team_key;
};

static void pre_take(struct pre *p)
{
	struct network *t = team_net();

	MUST(group_blob_copy(&p->home, &home_net()->blob) == 0);
	p->has_team = t && group_blob_copy(&p->team, &t->blob) == 0;
	p->team_key = t && t->has_key;
}

/* team may go only by a roster its coordinator signed without us. */
static void check_team(struct pre *p, struct network *t)
{
	if (!t) {
		MUST(team_may_go);
		return;
	}
	/* A roster without us is not adopted but waited out or left. */
	MUST(network_me(&fx.d, t));
	MUST(!t->has_key || p->team_key || (p->has_team && is_coordinator(&p->team, sender)));
}

static void check_step(struct pre *p)
{
	struct network *h = home_net(), *t = team_net();
	const struct gb_member *me;

	MUST(h && fixture_count_networks(&fx) == 1 + (t != NULL));
	check_team(p, t);
	me = network_me(&fx.d, h);
	MUST(h->has_key && me && me->coordinator);
	MUST(home_step_ok(&p->home, &h->blob));
	/* At the set-up version only the set-up roster: anything newer is
	 * signed by us, the only holder of the key. */
	MUST(h->seq >= snap1_seq);
	MUST(h->seq > snap1_seq || memcmp(h->saved.blob_hash, rosters[snap1].hash, 32) == 0);
	group_blob_free(&p->home);
	if (p->has_team)
		group_blob_free(&p->team);
}

/* A network's roster is the one its record names (the restart checks
 * that the disk holds it). */
static void check_network(struct network *n)
{
	struct network_payload np;
	uint8_t hash[32];
	struct record r;

	MUST(record_decode(n->saved.record, n->saved.record_len, RECORD_NETWORK, n->pk,
			   daemon_unix_now(), &r) == 0);
	MUST(network_payload_decode(r.payload, r.payload_len, &np) == 0);
	MUST(memcmp(np.blob_hash, n->saved.blob_hash, 32) == 0);
	MUST(group_blob_hash(&n->blob, hash) == 0 && memcmp(hash, n->saved.blob_hash, 32) == 0);
	MUST(r.seq == n->seq && n->blob.version == n->seq);
	MUST(n->has_key == n->saved.coordinator);
}

/* A coordinator's suggestions only ever admit or refuse inbound traffic of
 * its own network, and go with the network. */
static bool suggested_ok(const struct fw_rule *r, const char *net)
{
	return r->dir == FW_DIR_IN && strcmp(r->network, net) == 0 && strcmp(r->origin, net) == 0;
}

static void check_firewall(void)
{
	size_t n;
	const struct fw_rule *rules = firewall_rules(fx.d.fw, &n);
	for (size_t i = 0; i < n; i++)
		if (rules[i].origin[0])
			MUST(network_find(&fx.d, rules[i].origin) &&
			     suggested_ok(&rules[i], rules[i].origin));
	for (struct network *net = fx.d.nets; net; net = net->next)
		for (size_t i = 0; i < net->n_fw_pending; i++)
			MUST(suggested_ok(&net->fw_pending[i], net->saved.name));
}

/* networks.json is as set-up left it: a restart would load set-up's state. */
static bool networks_unchanged(void)
{
	const struct home_file *f = snapshot_find("networks.json");
	char path[512], *buf = NULL;
	size_t len;
	bool same;

	fixture_path(&fx, "networks.json", path, sizeof(path));
	same = f && fileio_read_all(path, 1u << 20, &buf, &len) == 0 && len == f->len &&
	       memcmp(buf, f->data, len) == 0;
	free(buf);
	return same;
}

/* What a restart must give back of a network. */
struct held {
	uint8_t pk[32], hash[32];
	bool has_key;
	char name[64], hostname[64];
};

static struct held setup_held[4];
static size_t n_setup_held;

static size_t held_take(struct held *out)
{
	size_t n = 0;

	for (struct network *net = fx.d.nets; net; net = net->next) {
		MUST(n < 4);
		memcpy(out[n].pk, net->pk, 32);
		memcpy(out[n].hash, net->saved.blob_hash, 32);
		out[n].has_key = net->has_key;
		snprintf(out[n].name, sizeof(out[n].name), "%s", net->saved.name);
		snprintf(out[n].hostname, sizeof(out[n].hostname), "%s", net->saved.hostname);
		n++;
	}
	return n;
}

static void held_check(struct daemon *d, const struct held *held, size_t n)
{
	size_t count = 0;

	for (struct network *net = d->nets; net; net = net->next)
		count++;
	MUST(count == n);
	for (size_t i = 0; i < n; i++) {
		struct network *net = network_find_pk(d, held[i].pk);

		MUST(net && memcmp(net->saved.blob_hash, held[i].hash, 32) == 0);
		MUST(net->has_key == held[i].has_key);
		MUST(strcmp(net->saved.name, held[i].name) == 0);
		MUST(strcmp(net->saved.hostname, held[i].hostname) == 0);
	}
}

/*
 * After the input: what a restart makes of the disk is what was held. A
 * second daemon context on the same home loads it, as a start would (the
 * load verifies each record and the roster it names on disk). When
 * networks.json did not change, a start loads set-up's state, so what is
 * held must be set-up's.
 */
static void check_restart(void)
{
	static struct daemon again;
	struct held held[4];
	size_t n;

	for (struct network *net = fx.d.nets; net; net = net->next)
		check_network(net);
	check_firewall();
	if (networks_unchanged()) {
		held_check(&fx.d, setup_held, n_setup_held);
		return;
	}
	n = held_take(held);
	memset(&again, 0, sizeof(again));
	again.loop = &fx.loop;
	again.home = fx.home;
	again.id = fx.d.id;
	peer_table_init(&again.table);
	MUST(networks_load(&again) == 0);
	held_check(&again, held, n);
	peers_close_all(&again);
	networks_close_all(&again);
	peer_table_close(&again.table);
	dns_table_close(&again.dns_table);
	sodium_memzero(&again.id, sizeof(again.id));
}

/* What the daemon sends, as it sends it. */
static void on_sent(struct fake_conn *c, const struct ctl_msg *m, const uint8_t *buf, size_t len)
{
	char to[IDENTITY_ID_LEN + 1];
	struct network *n = m->has_net ? network_find_pk(&fx.d, m->net) : NULL;
	uint8_t hash[32];
	struct record r;

	(void)buf;
	(void)len;
	identity_id_format(fake_conn_pk(c), to);
	switch (m->type) {
	case CTL_ADMIN_GRANT:
		__builtin_trap(); /* a network key leaves only on `ray admin add` */
	case CTL_BLOB:
		blake3_hash(m->data, m->data_len, hash);
		MUST(m->data_len == 0 || memcmp(hash, m->hash, 32) == 0);
		break;
	case CTL_WELCOME:
		MUST(n && group_blob_find_member(&n->blob, to));
		MUST(record_decode(m->rec, m->rec_len, RECORD_NETWORK, n->pk, daemon_unix_now(),
				   &r) == 0);
		break;
	case CTL_SYNC:
		MUST(record_decode(m->rec, m->rec_len, RECORD_NETWORK, m->net, daemon_unix_now(),
				   &r) == 0);
		break;
	case CTL_INVITE_SHARE:
	case CTL_INVITE_USED:
		MUST(n && is_coordinator(&n->blob, to));
		break;
	default:
		break;
	}
}

/* ---- set-up, once ---- */

/* At exit (not after a crash): the home goes. */
static void teardown(void)
{
	fixture_close(&fx);
}

static void setup(void)
{
	uint64_t before;
	int level;

	/* FUZZ_DAEMON_LOG=debug shows what an input makes the daemon do. */
	level = getenv("FUZZ_DAEMON_LOG") ? log_level_parse(getenv("FUZZ_DAEMON_LOG")) : -1;
	log_init(level < 0 ? LL_ERROR : (enum log_level)level);
	randombytes_set_implementation(&rng_impl);
	rng_seed(1);
	CHECK(sodium_init() >= 0);
	/* Every input rewrites the home: on tmpfs when there is one. */
	CHECK(fixture_init_in(&fx, access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") == 0);
	atexit(teardown);
	CHECK(fixture_open_firewall(&fx) == 0);
	for (size_t i = 0; i < N_PEERS; i++) {
		CHECK(identity_generate(&peer_id[i]) == 0);
		identity_id_format(peer_id[i].pk, peer_ids[i]);
		endpoint_record(i);
	}
	suggestion(0,
		   "{\"me\": {\"allow\": [\"boss:tcp:22\", \"udp:53\"]}, \"*\": {\"deny\": [\"icmp\"]}}");
	suggestion(1, "{\"*\": {\"allow\": [\"tcp:80-90\", \"member:udp:1000\"]}}");
	suggestion(2,
		   "{\"me\": {\"deny\": [\"tcp\"], \"allow\": [\"nobody:tcp:1\"]}, \"me2\": {}}");
	suggestion(3, "{\"coord\": {\"allow\": [\"member:tcp:22\"]}}");
	setup_home();
	setup_team();
	snapshot_home();
	fake_net_init(&fx.d, fx.d.id.pk, on_sent);
	fixture_stop(&fx);
	CHECK(fixture_start(&fx) == 0);
	n_setup_held = held_take(setup_held);
	fixture_stop(&fx);
	/* The ticks need libuv to read the moved clock. */
	uv_update_time(&fx.loop);
	before = uv_now(&fx.loop);
	fake_clock_advance(100000);
	uv_update_time(&fx.loop);
	CHECK(uv_now(&fx.loop) >= before + 100000);
	fake_clock_reset();
	ready = true;
}

/* ---- steps ---- */

enum op {
	OP_ACCEPT,
	OP_CONFIRM,
	OP_RAW,
	OP_MSG,
	OP_CLOSE,
	OP_TICK,
	OP_ANSWER,
	OP_PUBLISH,
	N_OPS
};

/* A connection from the selector byte: peer (low 2 bits), blobs (bit 2),
 * ours rather than theirs (bit 6); dial: a mesh one is accepted when the
 * peer has none (bit 7 clear). */
static unsigned conn_of(uint8_t s, bool dial)
{
	const uint8_t *pk = peer_id[s & 3].pk;
	bool blobs = s & 4;
	unsigned id = fake_find(pk, blobs, s & 0x40 ? 1 : -1);

	if (!id)
		id = fake_find(pk, blobs, -1);
	if (!id && dial && !(s & 0x80))
		id = fake_accept(pk, blobs, s & 3, false);
	return id;
}

static const uint8_t *peer_of(uint8_t s)
{
	return peer_id[s & 3].pk;
}

static void step_accept(struct in *in)
{
	uint8_t b = u8(in);

	sender = peer_ids[b & 3];
	fake_accept(peer_of(b), b & 4, (b >> 3) & 3, b & 0x20);
}

static void step_confirm(struct in *in)
{
	uint8_t b = u8(in);
	size_t n = fake_dials();

	if (!n)
		return;
	if (b & 0x40)
		fake_fail_dial(b % n);
	else
		fake_confirm(b % n, b & 0x80);
}

static void step_raw(struct in *in)
{
	uint8_t s = u8(in), buf[256];
	size_t n = bytes(in, buf, u8(in));
	unsigned id;

	sender = peer_ids[s & 3];
	if ((id = conn_of(s, true)))
		fake_feed(id, buf, n);
}

/* A material roster by index: set-up's, then this input's. */
static const struct roster *roster_at(uint8_t i)
{
	return &rosters[i % (n_fixed + n_runtime)];
}

/* Copies src into out with one byte flipped when the input says so. */
static size_t flipped(struct in *in, const uint8_t *src, size_t len, uint8_t *out)
{
	uint8_t x = u8(in);
	uint16_t pos = u16(in);

	memcpy(out, src, len);
	if (x && len)
		out[pos % len] ^= x;
	return len;
}

/* rec and data: material (maybe flipped) or input bytes. */
static size_t span_field(struct in *in, uint8_t *out, size_t cap, bool rec)
{
	uint8_t s = u8(in);
	const struct roster *r;

	if (s & 0x80)
		return bytes(in, out, u16(in) % (cap < DATA_MAX ? cap : DATA_MAX));
	if (rec && (s & 0x40))
		return flipped(in, endpoint_rec[s % N_PEERS], endpoint_len[s % N_PEERS], out);
	r = roster_at(s);
	if (rec)
		return flipped(in, r->rec, r->rec_len, out);
	return r->blob_len <= cap ? flipped(in, r->blob, r->blob_len, out) : 0;
}

static void net_field(struct in *in, uint8_t out[32])
{
	switch (u8(in) % 4) {
	case 0:
		memcpy(out, key1.pk, 32);
		break;
	case 1:
		memcpy(out, key2.pk, 32);
		break;
	case 2:
		memcpy(out, key3.pk, 32);
		break;
	default:
		bytes(in, out, 32);
	}
}

static void hash_field(struct in *in, unsigned conn, uint8_t out[32])
{
	uint8_t s = u8(in);
	const uint8_t *got;

	switch (s % 4) {
	case 0:
		memcpy(out, roster_at(s >> 2)->hash, 32);
		break;
	case 1:
		got = fake_last_get(conn);
		if (got)
			memcpy(out, got, 32);
		else
			memset(out, 0, 32);
		break;
	case 2:
		bytes(in, out, 32);
		break;
	default:
		memset(out, 0, 32);
	}
}

static void key_field(struct in *in, uint8_t out[32])
{
	switch (u8(in) % 3) {
	case 0:
		memcpy(out, key2.seed, 32);
		break;
	case 1:
		memcpy(out, key1.seed, 32);
		break;
	default:
		bytes(in, out, 32);
	}
}

static void invite_field(struct in *in, uint8_t out[INVITE_SECRET_LEN])
{
	switch (u8(in) % 3) {
	case 0:
		memcpy(out, secret_key, INVITE_SECRET_LEN);
		break;
	case 1:
		memcpy(out, secret_invite, INVITE_SECRET_LEN);
		break;
	default:
		bytes(in, out, INVITE_SECRET_LEN);
	}
}

/* Which fields each type needs, so a message the input builds decodes. */
enum {
	F_NET = 1,
	F_HOST = 2,
	F_WHY = 4,
	F_INV = 8,
	F_HASH = 16,
	F_REC = 32,
	F_DATA = 64,
	F_KEY = 128,
	F_IID = 256,
	F_EXP = 512,
	F_CID = 1024
};

static unsigned required(enum ctl_type t)
{
	switch (t) {
	case CTL_WELCOME:
	case CTL_SYNC:
		return F_NET | F_REC;
	case CTL_BLOB_GET:
		return F_HASH;
	case CTL_BLOB:
		return F_HASH | F_DATA;
	case CTL_ADMIN_GRANT:
		return F_NET | F_KEY;
	case CTL_INVITE_SHARE:
		return F_NET | F_HASH | F_IID;
	case CTL_INVITE_USED:
		return F_NET | F_HASH;
	case CTL_PING:
	case CTL_PONG:
		return F_EXP;
	case CTL_ENDPOINT:
		return F_REC;
	case CTL_CONNECT_REQ:
		return F_CID;
	case CTL_CONNECT_PENDING:
	case CTL_CONNECT_DENIED:
		return 0;
	default:
		return F_NET;
	}
}

/* Frames m and feeds it in two pieces split where the input says. */
static void send_framed(struct in *in, unsigned conn, const struct ctl_msg *m)
{
	msgpack_sbuffer sb;
	uint8_t *frame;
	size_t len, cut;

	msgpack_sbuffer_init(&sb);
	if (ctl_encode(m, &sb) < 0 || !(frame = malloc(sb.size + 4)))
		goto out;
	len = sb.size + 4;
	frame[0] = (uint8_t)(sb.size >> 24);
	frame[1] = (uint8_t)(sb.size >> 16);
	frame[2] = (uint8_t)(sb.size >> 8);
	frame[3] = (uint8_t)sb.size;
	memcpy(frame + 4, sb.data, sb.size);
	cut = u8(in) % (len + 1);
	fake_feed(conn, frame, cut);
	fake_feed(conn, frame + cut, len - cut);
	free(frame);
out:
	msgpack_sbuffer_destroy(&sb);
}

static uint8_t rec_buf[STORE_MAX_RECORD > DATA_MAX ? STORE_MAX_RECORD : DATA_MAX];
static uint8_t data_buf[1u << 16];

static void step_msg(struct in *in)
{
	uint8_t s = u8(in);
	struct ctl_msg m = { .type = (enum ctl_type)(CTL_HELLO + u8(in) % (CTL_TYPE_MAX - 1)) };
	unsigned f = required(m.type) | u8(in);
	unsigned conn;

	f |= (unsigned)(u8(in) & 3) << 8;

	sender = peer_ids[s & 3];
	conn = conn_of(s, true);
	if ((m.has_net = f & F_NET))
		net_field(in, m.net);
	if (f & F_HOST)
		hostname(in, m.hostname, sizeof(m.hostname));
	if (f & F_WHY) {
		uint8_t w = u8(in);

		if (w % 3 == 0)
			snprintf(m.why, sizeof(m.why), "%s", CTL_WHY_NOT_COORDINATOR);
		else
			string(in, m.why, sizeof(m.why), w >> 2);
	}
	if ((m.has_invite = f & F_INV))
		invite_field(in, m.invite);
	if ((m.has_hash = f & F_HASH))
		hash_field(in, conn, m.hash);
	if (f & F_REC) {
		m.rec = rec_buf;
		m.rec_len = span_field(in, rec_buf, sizeof(rec_buf), true);
	}
	if (f & F_DATA) {
		m.data = data_buf;
		m.data_len = span_field(in, data_buf, sizeof(data_buf), false);
	}
	if ((m.has_key = f & F_KEY))
		key_field(in, m.key);
	if (f & F_IID) {
		string(in, m.iid, sizeof(m.iid), u8(in));
		if (!m.iid[0])
			snprintf(m.iid, sizeof(m.iid), "i1");
	}
	if (f & F_EXP) {
		for (int i = 0; i < 8; i++)
			m.exp = m.exp << 8 | u8(in);
		if (!m.exp)
			m.exp = 1;
	}
	if ((m.has_contact = f & F_CID)) {
		/* Mostly our own contact id, so requests get queued. */
		if (u8(in) % 4 == 0 || contact_id_parse(connect_contact_id(&fx.d), m.contact) < 0)
			memset(m.contact, u8(in), sizeof(m.contact));
	}
	if (conn)
		send_framed(in, conn, &m);
}

static void step_close(struct in *in)
{
	static const int reasons[] = { QUIC_CLOSE_PEER, QUIC_CLOSE_IDLE, QUIC_CLOSE_PROTOCOL,
				       QUIC_CLOSE_HANDSHAKE };
	static const uint64_t codes[] = { QUIC_CODE_NONE,
					  QUIC_CODE_LEAVE,
					  QUIC_CODE_PROTOCOL,
					  QUIC_CODE_DUPLICATE,
					  QUIC_CODE_OVERLOAD,
					  QUIC_CODE_SHUTDOWN,
					  7 };
	uint8_t s = u8(in), how = u8(in);
	int reason = reasons[how % 4];

	sender = peer_ids[s & 3];
	fake_close(conn_of(s, false), reason,
		   reason == QUIC_CLOSE_PEER ? codes[(how >> 2) % 7] : 0);
}

static void step_tick(struct in *in)
{
	static const uint64_t ms[] = { 0,    5,     50,    300,   600,   1000,  2000,
				       5000, 10000, 16000, 21000, 61000, 130000 };

	sender = NULL;
	fake_clock_advance(ms[u8(in) % (sizeof(ms) / sizeof(ms[0]))]);
	uv_run(&fx.loop, UV_RUN_NOWAIT);
	daemon_tick(&fx.d);
	fake_flush();
}

/* The peer answers the blob we asked it for: the blob, an empty one
 * ("ask on a blobs connection"), a damaged or another roster, a refusal. */
static void step_answer(struct in *in)
{
	uint8_t s = u8(in), mode = u8(in);
	struct ctl_msg m = { .type = CTL_BLOB, .has_hash = true };
	const uint8_t *want;
	unsigned conn;

	sender = peer_ids[s & 3];
	conn = conn_of(s, false);
	if (!conn || !(want = fake_last_get(conn)))
		return;
	memcpy(m.hash, want, 32);
	m.data = data_buf;
	switch (mode % 5) {
	case 0:
	case 2:
		for (size_t i = 0; i < n_fixed + n_runtime; i++) {
			const struct roster *r = &rosters[i];

			if (memcmp(r->hash, want, 32) != 0)
				continue;
			if (mode % 5 == 2) {
				m.data_len = flipped(in, r->blob, r->blob_len, data_buf);
			} else {
				memcpy(data_buf, r->blob, r->blob_len);
				m.data_len = r->blob_len;
			}
			break;
		}
		break;
	case 1:
		m.data_len = 0;
		break;
	case 3:
		m.data_len = span_field(in, data_buf, sizeof(data_buf), false);
		break;
	default:
		m = (struct ctl_msg){ .type = CTL_DENIED, .has_net = true };
		snprintf(m.why, sizeof(m.why), "no such blob here");
	}
	send_framed(in, conn, &m);
}

/* One change BOSS makes to team (never dropping us). */
static void boss_change(struct in *in, struct group_blob *b)
{
	uint8_t op = u8(in), who = u8(in) % N_PEERS, buf[256];
	const char *id = who == P_BOSS ? fx.d.id.id : peer_ids[who];
	char host[HOSTNAME_BUF];
	struct gb_key k = { .created = daemon_unix_now() };
	size_t n;

	switch (op % 8) {
	case 0:
		n = flipped(in, suggestions[who], suggestion_len[who], buf);
		group_blob_set_firewall(b, buf, n);
		break;
	case 1:
		n = bytes(in, buf, u8(in));
		group_blob_set_firewall(b, buf, n);
		break;
	case 2:
		hostname(in, host, sizeof(host));
		group_blob_set_hostname(b, id, host);
		break;
	case 3:
		hostname(in, host, sizeof(host));
		if (who != P_BOSS)
			group_blob_admit(b, id, host, u8(in) & 1);
		break;
	case 4:
		/* Dropping us too: the daemon waits out a fork that lacks it,
		 * and leaves on a roster made from its own. */
		if (group_blob_remove_member(b, id) == 0 && who == P_BOSS)
			team_may_go = true;
		break;
	case 5:
		group_blob_set_mode(b, u8(in) & 1 ? GROUP_MODE_OPEN : GROUP_MODE_CLOSED);
		break;
	case 6:
		hostname(in, host, sizeof(host));
		group_blob_add_approved(b, id, host);
		break;
	default:
		bytes(in, k.secret_hash, 32);
		snprintf(k.id, sizeof(k.id), "k%u", u8(in));
		k.expires = u8(in) & 1 ? 0 : k.created + 3600;
		group_blob_add_key(b, &k);
	}
}

/* BOSS signs a new team roster; it may fork from where it was, skip
 * versions, carry no ancestry, and be announced at once. */
static void step_publish(struct in *in)
{
	uint8_t changes = 1 + u8(in) % 3, flags;
	struct group_blob b;
	size_t i;
	unsigned conn;

	sender = peer_ids[P_BOSS];
	if (n_runtime == MAX_RUNTIME || group_blob_copy(&b, &boss_roster) < 0)
		return;
	while (changes--)
		boss_change(in, &b);
	flags = u8(in);
	i = sign_roster(&key2, &b, flags & 1 ? NULL : boss_hash,
			boss_roster.version + 1 + (flags >> 4) % 3);
	n_runtime++;
	if (!(flags & 2)) {
		group_blob_free(&boss_roster);
		MUST(group_blob_decode(rosters[i].blob, rosters[i].blob_len, &boss_roster) == 0);
		memcpy(boss_hash, rosters[i].hash, 32);
	}
	if ((flags & 4) && (conn = fake_find(peer_id[P_BOSS].pk, false, -1))) {
		struct ctl_msg m = { .type = CTL_SYNC, .has_net = true };

		memcpy(m.net, key2.pk, 32);
		m.rec = rosters[i].rec;
		m.rec_len = rosters[i].rec_len;
		send_framed(in, conn, &m);
	}
}

static void step(struct in *in)
{
	struct pre p;

	sender = NULL;
	pre_take(&p);
	switch (u8(in) % N_OPS) {
	case OP_ACCEPT:
		step_accept(in);
		break;
	case OP_CONFIRM:
		step_confirm(in);
		break;
	case OP_RAW:
		step_raw(in);
		break;
	case OP_MSG:
		step_msg(in);
		break;
	case OP_CLOSE:
		step_close(in);
		break;
	case OP_TICK:
		step_tick(in);
		break;
	case OP_ANSWER:
		step_answer(in);
		break;
	default:
		step_publish(in);
	}
	check_step(&p);
}

/* ---- one input ---- */

static void count_handle(uv_handle_t *h, void *arg)
{
	(void)h;
	(*(size_t *)arg)++;
}

static void input_begin(uint8_t flags)
{
	const struct roster *team = &rosters[snap2];

	rng_seed(2);
	fake_clock_reset();
	uv_update_time(&fx.loop);
	restore_home();
	MUST(fixture_start(&fx) == 0);
	MUST(home_net() && team_net());
	team_may_go = false;
	home_net()->saved.auto_accept_firewall = flags & 1;
	team_net()->saved.auto_accept_firewall = flags & 2;
	MUST(group_blob_decode(team->blob, team->blob_len, &boss_roster) == 0);
	memcpy(boss_hash, team->hash, 32);
}

static void input_end(void)
{
	size_t handles = 0;

	check_restart();
	fixture_stop(&fx);
	fake_net_reset();
	group_blob_free(&boss_roster);
	while (n_runtime) {
		n_runtime--;
		free(rosters[n_fixed + n_runtime].blob);
	}
	/* Nothing the input started outlives it. */
	uv_walk(&fx.loop, count_handle, &handles);
	MUST(handles == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };

	if (!ready)
		setup();
	input_begin(u8(&in));
	for (int i = 0; i < MAX_STEPS && in.n; i++)
		step(&in);
	input_end();
	return 0;
}
