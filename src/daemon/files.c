/*
 * files: file sharing between members of a network we share.
 *
 * Sending: `ray send` hands over the files open (the daemon keeps no
 * capability to open a user's files). Each is imported into the store
 * (files/store.c: copied, hashed, its outboard written) in the worker
 * pool, then offered to the peer with CTL_FILE_OFFER on the mesh
 * connection (now, or when it next comes up). Offers we made are saved in
 * files/outgoing.json, so a restarted daemon still serves them.
 *
 * Receiving: an offer waits (in memory) for `ray files accept`, which
 * hands over the partial file it created in the chosen folder. We dial the
 * sender with QUIC_ALPN_FILES and ask for the stream from the first byte
 * not yet verified (CTL_FILE_GET); its CTL_FILE_DATA messages go through
 * the tree decoder, and only verified groups reach the file. A connection
 * that ends early is dialled again every FILES_RETRY_MS, resuming, until
 * FILES_STALL_MS pass without progress. A group that does not verify ends
 * the transfer at once. The CLI renames the file into place once we say
 * it is complete.
 *
 * Serving: a files connection from a member asks for one offer we made to
 * it; the stream is pulled from the store as the connection's send queue
 * has room (quic_conn_want_room).
 */
#include "daemon/files.h"
#include "daemon/files_writer.h"

#include "daemon/daemon.h"
#include "daemon/gate.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "files/seqio.h"
#include "files/store.h"
#include "files/tree.h"
#include "mesh/group_blob.h"
#include "mesh/identity.h"
#include "proto/control.h"
#include "transport/quic.h"
#include "util/fileio.h"
#include "util/hex.h"
#include "util/log.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILES_MAX_OUT 256    /* offers we made, kept */
#define FILES_MAX_IN 64      /* offers made to us, kept */
#define FILES_MAX_IN_PEER 16 /* of those, from one peer */
#define FILES_MAX_SERVES 16  /* transfers we serve at once */
#define FILES_CHUNK (256u << 10)
#define FILES_RETRY_MS 2000
#define FILES_STALL_MS (5 * 60 * 1000)
#define FILES_ID_LEN 32 /* hex characters of an offer id */
#define OUTGOING_MAX (1u << 20)

enum file_state {
	FS_PENDING,
	FS_TRANSFERRING,
	FS_DONE,
	FS_FAILED,
	FS_DENIED,
	FS_CANCELLED,
};

static const char *const state_names[] = { "pending", "transferring", "done",
					   "failed",  "denied",       "cancelled" };

struct file_offer {
	struct file_offer *next;
	bool out; /* we offered it */
	char id[FILES_ID_LEN + 1];
	uint8_t peer[LIMIT_KEY_LEN];
	char name[256];
	uint64_t size;
	uint8_t hash[LIMIT_KEY_LEN];
	enum file_state state;
	uint64_t bytes; /* verified (in) or streamed (out) so far */
	char error[200];
	bool delivered; /* out: the offer went to the peer */
	/* in, while accepted */
	int fd;                  /* the partial file the user handed over */
	struct files_writer *wr; /* verified groups on their way into fd */
	struct ipc_request *req; /* `ray files accept`, answered at the end */
	struct quic_conn *conn;  /* our files connection */
	struct tree_decoder *dec;
	uint64_t next_retry_ms, progress_ms;
};

struct file_serve {
	struct file_serve *next;
	struct quic_conn *c;
	char id[FILES_ID_LEN + 1]; /* the offer it streams, "" before FILE_GET */
	struct file_store_reader r;
	struct tree_encoder enc;
	uint64_t sent; /* stream bytes queued */
	uint8_t *buf;
};

struct file_import {
	uv_work_t work;
	struct file_job *job;
	int fd;
	char name[256];
	uint64_t size;
	uint8_t hash[LIMIT_KEY_LEN];
	int ret;
};

/* One `ray send`: its imports run in the worker pool. */
struct file_job {
	struct file_job *next;
	struct daemon *d; /* NULL once the daemon stopped: just free */
	struct ipc_request *req;
	uint8_t peer[LIMIT_KEY_LEN];
	char store[PATH_MAX];
	size_t n, done;
	struct file_import im[LIMIT_IPC_FDS];
};

struct files {
	struct file_offer *offers;
	struct file_serve *serves;
	struct file_job *jobs;
};

/* ---- helpers ---- */

static void store_dir(const struct daemon *d, char out[PATH_MAX])
{
	snprintf(out, PATH_MAX, "%s/files/store", d->home);
}

/* A name a peer may give a file: one path component, no way out of the
 * folder it lands in. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 256 && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static bool id_ok(const char *s)
{
	if (strlen(s) != FILES_ID_LEN)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static const struct gb_member *member_of(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN])
{
	char id[IDENTITY_ID_LEN + 1];

	identity_id_format(pk, id);
	return network_find_member(d, id);
}

/* Whether pk is a member of a network we are in. */
static bool shares_network(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN])
{
	return member_of(d, pk) != NULL;
}

/* The peer's hostname in the first roster that has it, else its id. */
static void peer_label(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN], char *out, size_t cap)
{
	const struct gb_member *m = member_of(d, pk);
	char id[IDENTITY_ID_LEN + 1];

	identity_id_format(pk, id);
	if (m)
		snprintf(out, cap, "%s", m->hostname);
	else
		snprintf(out, cap, "%.12s", id);
}

static size_t count_offers(const struct files *fs, bool out, const uint8_t *peer)
{
	size_t n = 0;

	for (const struct file_offer *o = fs->offers; o; o = o->next)
		n += o->out == out && (!peer || memcmp(o->peer, peer, LIMIT_KEY_LEN) == 0);
	return n;
}

static struct file_offer *find_id(struct files *fs, const char *id, bool out, const uint8_t *peer)
{
	for (struct file_offer *o = fs->offers; o; o = o->next)
		if (o->out == out && strcmp(o->id, id) == 0 &&
		    (!peer || memcmp(o->peer, peer, LIMIT_KEY_LEN) == 0))
			return o;
	return NULL;
}

/* The offer a user names by id or a unique prefix of at least 4. */
static struct file_offer *find_prefix(struct files *fs, const char *id, bool *ambiguous)
{
	struct file_offer *found = NULL;
	size_t n = strlen(id);

	*ambiguous = false;
	if (n < 4)
		return NULL;
	for (struct file_offer *o = fs->offers; o; o = o->next) {
		if (strncmp(o->id, id, n) != 0)
			continue;
		if (found)
			*ambiguous = true;
		found = o;
	}
	return *ambiguous ? NULL : found;
}

static void offer_free(struct file_offer *o)
{
	if (o->fd >= 0)
		close(o->fd);
	files_writer_release(o->wr);
	free(o->dec);
	free(o);
}

/* ---- outgoing.json: the offers we made ---- */

static void outgoing_path(const struct daemon *d, char out[PATH_MAX])
{
	snprintf(out, PATH_MAX, "%s/files/outgoing.json", d->home);
}

static void outgoing_save(struct daemon *d)
{
	char path[PATH_MAX], hex[2 * LIMIT_KEY_LEN + 1], peer[IDENTITY_ID_LEN + 1], *text;
	json_t *list = json_array();
	int ret;

	for (struct file_offer *o = d->files->offers; o; o = o->next) {
		if (!o->out)
			continue;
		hex_encode(o->hash, LIMIT_KEY_LEN, hex);
		identity_id_format(o->peer, peer);
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "id", o->id,
						      "peer", peer, "name", o->name, "size",
						      (json_int_t)o->size, "hash", hex, "state",
						      state_names[o->state]));
	}
	text = json_dumps(list, JSON_INDENT(1));
	json_decref(list);
	snprintf(path, sizeof(path), "%s/files", d->home);
	ret = text ? fileio_mkdir_p(path, 0700) : -ENOMEM;
	outgoing_path(d, path);
	if (ret == 0)
		ret = fileio_write_atomic(path, text, strlen(text), 0600);
	if (ret < 0)
		log_warn("files: cannot save %s: %s (offers made now are lost at a restart)", path,
			 strerror(-ret));
	free(text);
}

static struct file_offer *offer_from_json(json_t *e)
{
	const char *id = json_string_value(json_object_get(e, "id"));
	const char *peer = json_string_value(json_object_get(e, "peer"));
	const char *name = json_string_value(json_object_get(e, "name"));
	const char *hash = json_string_value(json_object_get(e, "hash"));
	const char *state = json_string_value(json_object_get(e, "state"));
	json_t *size = json_object_get(e, "size");
	struct file_offer *o;

	if (!id || !peer || !name || !hash || !state || !json_is_integer(size) ||
	    json_integer_value(size) < 0 || !id_ok(id) || !name_ok(name))
		return NULL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->out = true;
	o->fd = -1;
	snprintf(o->id, sizeof(o->id), "%s", id);
	snprintf(o->name, sizeof(o->name), "%s", name);
	o->size = (uint64_t)json_integer_value(size);
	o->state = FS_PENDING;
	for (int k = 0; k < (int)(sizeof(state_names) / sizeof(state_names[0])); k++)
		if (strcmp(state, state_names[k]) == 0)
			o->state = (enum file_state)k;
	if (o->state == FS_TRANSFERRING)
		o->state = FS_PENDING; /* the transfer ended with the old daemon */
	o->delivered = o->state != FS_PENDING;
	if (identity_id_parse(peer, o->peer) < 0 ||
	    hex_decode_str(hash, o->hash, LIMIT_KEY_LEN) < 0) {
		free(o);
		return NULL;
	}
	return o;
}

static int outgoing_load(struct daemon *d)
{
	char path[PATH_MAX], *text = NULL;
	json_t *list, *e;
	size_t len, i, bad = 0;
	int ret;

	outgoing_path(d, path);
	ret = fileio_read_all(path, OUTGOING_MAX, &text, &len);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	list = json_loadb(text, len, 0, NULL);
	free(text);
	if (!json_is_array(list)) {
		json_decref(list);
		log_warn("files: %s is not a list of offers; starting without them", path);
		return 0;
	}
	json_array_foreach(list, i, e)
	{
		struct file_offer *o = offer_from_json(e);

		if (!o || count_offers(d->files, true, NULL) >= FILES_MAX_OUT) {
			free(o);
			bad++;
			continue;
		}
		o->next = d->files->offers;
		d->files->offers = o;
	}
	json_decref(list);
	if (bad)
		log_warn("files: %zu damaged offer(s) in %s skipped", bad, path);
	return 0;
}

/* ---- lifecycle ---- */

int files_open(struct daemon *d)
{
	d->files = calloc(1, sizeof(*d->files));
	if (!d->files)
		return -ENOMEM;
	return outgoing_load(d);
}

static void finish_accept(struct file_offer *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void files_close(struct daemon *d)
{
	struct files *fs = d->files;

	if (!fs)
		return;
	for (struct file_job *j = fs->jobs; j; j = j->next) {
		j->d = NULL; /* the worker finishes; its end frees the job */
		if (j->req)
			ipc_reply_error(j->req, "the daemon is shutting down");
		j->req = NULL;
	}
	while (fs->serves) {
		struct file_serve *s = fs->serves;

		fs->serves = s->next;
		quic_conn_set_data(s->c, NULL);
		file_store_reader_close(&s->r);
		free(s->buf);
		free(s);
	}
	while (fs->offers) {
		struct file_offer *o = fs->offers;

		fs->offers = o->next;
		if (o->conn)
			quic_conn_set_data(o->conn, NULL);
		if (o->req)
			finish_accept(o, "the daemon is shutting down");
		offer_free(o);
	}
	free(fs);
	d->files = NULL;
}

/* ---- sending: import, then offer ---- */

static void send_offer(struct daemon *d, struct file_offer *o)
{
	struct ctl_msg m = { .type = CTL_FILE_OFFER, .has_size = true, .has_hash = true };
	struct peer *p = peers_find(d, o->peer);

	if (!p || !p->conn)
		return; /* files_on_peer_up delivers it */
	snprintf(m.iid, sizeof(m.iid), "%s", o->id);
	snprintf(m.name, sizeof(m.name), "%s", o->name);
	m.size = o->size;
	memcpy(m.hash, o->hash, LIMIT_KEY_LEN);
	if (peer_send_ctl(d, p, &m) == 0)
		o->delivered = true;
}

static void import_work(uv_work_t *w)
{
	struct file_import *im = w->data;

	im->ret = file_store_import(im->job->store, im->fd, &im->size, im->hash);
	close(im->fd);
	im->fd = -1;
}

static void job_unlink(struct files *fs, struct file_job *job)
{
	for (struct file_job **pp = &fs->jobs; *pp; pp = &(*pp)->next) {
		if (*pp == job) {
			*pp = job->next;
			return;
		}
	}
}

/* A send that failed offers nothing: the copies it stored go, unless an
 * offer made before holds the same content. */
static void drop_unused_copies(struct daemon *d, const struct file_job *job)
{
	for (size_t i = 0; i < job->n; i++) {
		bool used = false;

		if (job->im[i].ret < 0)
			continue;
		for (struct file_offer *o = d->files->offers; o; o = o->next)
			used |= o->out && memcmp(o->hash, job->im[i].hash, LIMIT_KEY_LEN) == 0;
		if (!used)
			file_store_remove(job->store, job->im[i].hash);
	}
}

/* Every import of the job ended: offer them all, or none. */
static void job_finish(struct daemon *d, struct file_job *job)
{
	struct files *fs = d->files;
	json_t *offers = json_array();
	char hex[2 * LIMIT_KEY_LEN + 1];

	for (size_t i = 0; i < job->n; i++) {
		if (job->im[i].ret < 0) {
			ipc_reply_error(job->req, "cannot store %s to offer it: %s",
					job->im[i].name,
					job->im[i].ret == -ESTALE ? "it changed while it was read"
								  : strerror(-job->im[i].ret));
			json_decref(offers);
			drop_unused_copies(d, job);
			return;
		}
	}
	for (size_t i = 0; i < job->n; i++) {
		struct file_offer *o = calloc(1, sizeof(*o));
		uint8_t raw[FILES_ID_LEN / 2];

		if (!o)
			break;
		o->out = true;
		o->fd = -1;
		randombytes_buf(raw, sizeof(raw));
		hex_encode(raw, sizeof(raw), o->id);
		memcpy(o->peer, job->peer, LIMIT_KEY_LEN);
		snprintf(o->name, sizeof(o->name), "%s", job->im[i].name);
		o->size = job->im[i].size;
		memcpy(o->hash, job->im[i].hash, LIMIT_KEY_LEN);
		o->next = fs->offers;
		fs->offers = o;
		send_offer(d, o);
		hex_encode(o->hash, LIMIT_KEY_LEN, hex);
		json_array_append_new(offers,
				      json_pack("{s:s, s:s, s:I, s:s}", "id", o->id, "name",
						o->name, "size", (json_int_t)o->size, "hash", hex));
		log_info("files: offered %s (%llu bytes) as %.8s", o->name,
			 (unsigned long long)o->size, o->id);
	}
	outgoing_save(d);
	ipc_reply(job->req, json_pack("{s:o}", "offers", offers));
}

static void import_done(uv_work_t *w, int status)
{
	struct file_import *im = w->data;
	struct file_job *job = im->job;

	(void)status;
	if (++job->done < job->n)
		return;
	if (job->d) {
		job_unlink(job->d->files, job);
		job_finish(job->d, job);
	}
	free(job);
}

void files_cmd_send(struct daemon *d, struct ipc_request *req)
{
	const char *peer = json_string_value(json_object_get(req->args, "peer"));
	json_t *names = json_object_get(req->args, "names");
	char id[IDENTITY_ID_LEN + 1], err[200];
	struct file_job *job;

	if (!peer || !json_is_array(names) || req->n_fds == 0 ||
	    json_array_size(names) != req->n_fds) {
		ipc_reply_error(req, "send needs the files, open, with their names, and a peer");
		return;
	}
	if (network_resolve_peer(d, peer, NULL, id, err, sizeof(err)) < 0) {
		ipc_reply_error(req, "%s", err);
		return;
	}
	if (strcmp(id, d->id.id) == 0) {
		ipc_reply_error(req, "'%s' is this machine", peer);
		return;
	}
	if (count_offers(d->files, true, NULL) + req->n_fds > FILES_MAX_OUT) {
		ipc_reply_error(req,
				"%d offers are kept already; cancel some first ('ray files cancel ID')",
				FILES_MAX_OUT);
		return;
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		ipc_reply_error(req, "out of memory");
		return;
	}
	identity_id_parse(id, job->peer);
	store_dir(d, job->store);
	for (size_t i = 0; i < req->n_fds; i++) {
		const char *name = json_string_value(json_array_get(names, i));

		if (!name || !name_ok(name)) {
			ipc_reply_error(req, "'%s' cannot be a file's name", name ? name : "?");
			free(job);
			return;
		}
		snprintf(job->im[i].name, sizeof(job->im[i].name), "%s", name);
	}
	job->d = d;
	job->req = req;
	job->n = req->n_fds;
	job->next = d->files->jobs;
	d->files->jobs = job;
	for (size_t i = 0; i < job->n; i++) {
		struct file_import *im = &job->im[i];

		im->job = job;
		im->fd = req->fds[i];
		req->fds[i] = -1; /* the import closes it */
		im->work.data = im;
		if (uv_queue_work(d->loop, &im->work, import_work, import_done) < 0) {
			im->ret = -ENOMEM;
			close(im->fd);
			import_done(&im->work, 0);
		}
	}
}

void files_on_peer_up(struct daemon *d, struct peer *p)
{
	for (struct file_offer *o = d->files->offers; o; o = o->next)
		if (o->out && !o->delivered && o->state == FS_PENDING &&
		    memcmp(o->peer, p->pk, LIMIT_KEY_LEN) == 0)
			send_offer(d, o);
}

/* ---- listing, deny, cancel ---- */

void files_cmd_list(struct daemon *d, struct ipc_request *req)
{
	char hex[2 * LIMIT_KEY_LEN + 1], peer[IDENTITY_ID_LEN + 1], label[HOSTNAME_BUF];
	json_t *list = json_array();

	for (struct file_offer *o = d->files->offers; o; o = o->next) {
		json_t *e;

		hex_encode(o->hash, LIMIT_KEY_LEN, hex);
		identity_id_format(o->peer, peer);
		peer_label(d, o->peer, label, sizeof(label));
		e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I}", "id", o->id,
			      "direction", o->out ? "out" : "in", "peer", label, "peer_id", peer,
			      "name", o->name, "size", (json_int_t)o->size, "hash", hex, "state",
			      state_names[o->state], "bytes", (json_int_t)o->bytes);
		if (o->error[0])
			json_object_set_new(e, "error", json_string(o->error));
		json_array_append_new(list, e);
	}
	ipc_reply(req, json_pack("{s:o}", "files", list));
}

static struct file_offer *offer_from_args(struct daemon *d, struct ipc_request *req)
{
	const char *id = json_string_value(json_object_get(req->args, "id"));
	struct file_offer *o;
	bool ambiguous;

	if (!id) {
		ipc_reply_error(req, "which offer? (its id, from 'ray files')");
		return NULL;
	}
	o = find_prefix(d->files, id, &ambiguous);
	if (!o)
		ipc_reply_error(req,
				ambiguous ? "'%.40s' names more than one offer; give more of the id"
					  : "no offer '%.40s' (see 'ray files')",
				id);
	return o;
}

static void send_verdict(struct daemon *d, const struct file_offer *o, enum ctl_type type)
{
	struct ctl_msg m = { .type = type };
	struct peer *p = peers_find(d, o->peer);

	snprintf(m.iid, sizeof(m.iid), "%s", o->id);
	if (p && p->conn)
		peer_send_ctl(d, p, &m);
}

void files_cmd_deny(struct daemon *d, struct ipc_request *req)
{
	struct file_offer *o = offer_from_args(d, req);

	if (!o)
		return;
	if (o->out || o->state != FS_PENDING) {
		ipc_reply_error(req, "offer %.8s is not waiting for an answer (it is %s %s)", o->id,
				o->out ? "ours," : "", state_names[o->state]);
		return;
	}
	o->state = FS_DENIED;
	send_verdict(d, o, CTL_FILE_DENY);
	ipc_reply(req, NULL);
}

static void serves_end(struct daemon *d, const char *id);

void files_cmd_cancel(struct daemon *d, struct ipc_request *req)
{
	struct file_offer *o = offer_from_args(d, req);
	char dir[PATH_MAX];
	bool shared = false;

	if (!o)
		return;
	if (!o->out) {
		ipc_reply_error(req, "offer %.8s was made to us: 'ray files deny' it", o->id);
		return;
	}
	o->state = FS_CANCELLED;
	send_verdict(d, o, CTL_FILE_CANCEL);
	serves_end(d, o->id);
	for (struct file_offer *x = d->files->offers; x; x = x->next)
		shared |= x != o && x->out && x->state != FS_CANCELLED &&
			  memcmp(x->hash, o->hash, LIMIT_KEY_LEN) == 0;
	store_dir(d, dir);
	if (!shared)
		file_store_remove(dir, o->hash);
	outgoing_save(d);
	ipc_reply(req, NULL);
}

size_t files_pending(const struct daemon *d)
{
	size_t n = 0;

	for (const struct file_offer *o = d->files->offers; o; o = o->next)
		n += !o->out && o->state == FS_PENDING;
	return n;
}

/* ---- receiving ---- */

static void detach_conn(struct file_offer *o)
{
	struct quic_conn *c = o->conn;

	if (!c)
		return;
	o->conn = NULL;
	quic_conn_set_data(c, NULL);
	quic_conn_close(c, QUIC_CODE_NONE);
}

/* Ends an accepted transfer: fmt NULL is success. */
static void finish_accept(struct file_offer *o, const char *fmt, ...)
{
	char hex[2 * LIMIT_KEY_LEN + 1];
	va_list ap;

	detach_conn(o);
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	free(o->dec);
	o->dec = NULL;
	files_writer_release(o->wr);
	o->wr = NULL;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(o->error, sizeof(o->error), fmt, ap);
		va_end(ap);
		o->state = FS_FAILED;
		log_warn("files: %s: %s", o->name, o->error);
		if (o->req)
			ipc_reply_error(o->req, "%s", o->error);
	} else {
		o->state = FS_DONE;
		o->bytes = o->size;
		log_info("files: received %s (%llu bytes), verified", o->name,
			 (unsigned long long)o->size);
		hex_encode(o->hash, LIMIT_KEY_LEN, hex);
		if (o->req)
			ipc_reply(o->req,
				  json_pack("{s:s, s:s, s:I, s:s}", "id", o->id, "name", o->name,
					    "size", (json_int_t)o->size, "hash", hex));
	}
	o->req = NULL;
}

static void on_written(void *ud, int err)
{
	struct file_offer *o = ud;

	if (err < 0)
		finish_accept(o, "cannot write the file: %s", strerror(-err));
	else
		finish_accept(o, NULL);
}

/* Every group verified: answered once the writes are on disk. */
static void complete(struct file_offer *o)
{
	detach_conn(o);
	o->next_retry_ms = UINT64_MAX; /* nothing more to fetch */
	files_writer_finish(o->wr, on_written, o);
}

/* Dials the sender for the rest of the stream; a failure waits for the
 * next retry. */
static void start_transfer(struct daemon *d, struct file_offer *o)
{
	struct peer *p = peers_find(d, o->peer);
	int ret;

	o->next_retry_ms = daemon_now_ms(d) + FILES_RETRY_MS;
	if (!p || !p->conn || !d->quic)
		return; /* not connected now: the tick tries again */
	if (tree_decoder_init(o->dec, o->hash, o->size, o->dec->verified) < 0)
		return;
	if (o->dec->verified)
		log_info("files: resuming %s at byte %llu", o->name,
			 (unsigned long long)o->dec->verified);
	ret = quic_connect(d->quic, o->peer, QUIC_ALPN_FILES, &o->conn);
	if (ret < 0) {
		o->conn = NULL;
		log_debug("files: cannot dial for %s: %s", o->name, strerror(-ret));
		return;
	}
	quic_conn_set_data(o->conn, o);
}

void files_cmd_accept(struct daemon *d, struct ipc_request *req)
{
	struct file_offer *o = offer_from_args(d, req);
	struct stat st;

	if (!o)
		return;
	if (o->out || (o->state != FS_PENDING && o->state != FS_FAILED) || o->req) {
		ipc_reply_error(req, "offer %.8s cannot be accepted: it is %s%s", o->id,
				o->out ? "ours and " : "", state_names[o->state]);
		return;
	}
	if (req->n_fds != 1 || fstat(req->fds[0], &st) < 0 || !S_ISREG(st.st_mode)) {
		ipc_reply_error(req, "accept needs the file to write, open (the CLI makes it)");
		return;
	}
	o->dec = calloc(1, sizeof(*o->dec));
	if (!o->dec || ftruncate(req->fds[0], 0) < 0 ||
	    tree_decoder_init(o->dec, o->hash, o->size, 0) < 0) {
		ipc_reply_error(req, "cannot start the transfer: %s",
				o->dec ? strerror(errno) : "out of memory");
		free(o->dec);
		o->dec = NULL;
		return;
	}
	o->wr = files_writer_open(d->loop, req->fds[0]);
	if (!o->wr) {
		ipc_reply_error(req, "cannot start the transfer: %s", strerror(errno));
		free(o->dec);
		o->dec = NULL;
		return;
	}
	o->fd = req->fds[0];
	req->fds[0] = -1;
	o->req = req;
	o->error[0] = 0;
	o->bytes = 0;
	o->state = FS_TRANSFERRING;
	o->progress_ms = daemon_now_ms(d);
	if (tree_decoder_done(o->dec)) { /* an empty file: nothing to fetch */
		complete(o);
		return;
	}
	start_transfer(d, o);
}

static int write_part(void *ud, uint64_t off, const uint8_t *data, size_t len)
{
	struct file_offer *o = ud;

	return files_writer_put(o->wr, off, data, len);
}

static void on_data(struct daemon *d, struct file_offer *o, const struct ctl_msg *m)
{
	char label[HOSTNAME_BUF];
	int ret;

	ret = tree_decoder_feed(o->dec, m->data, m->data_len, write_part, o);
	o->bytes = o->dec->verified;
	o->progress_ms = daemon_now_ms(d);
	if (ret == -EBADMSG || ret == -E2BIG) {
		peer_label(d, o->peer, label, sizeof(label));
		finish_accept(
			o,
			"the data from %s does not match the offered hash (at byte %llu): refused, nothing kept",
			label, (unsigned long long)o->dec->verified);
		return;
	}
	if (ret < 0) {
		finish_accept(o, "cannot write the file: %s", strerror(-ret));
		return;
	}
	if (tree_decoder_done(o->dec))
		complete(o);
}

/* ---- serving ---- */

int files_accept_conn(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN])
{
	size_t n = 0;

	if (!shares_network(d, pk))
		return -1;
	for (struct file_serve *s = d->files->serves; s; s = s->next)
		n++;
	return n < FILES_MAX_SERVES ? 0 : -1;
}

static void serve_free(struct daemon *d, struct file_serve *s)
{
	for (struct file_serve **pp = &d->files->serves; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	quic_conn_set_data(s->c, NULL);
	file_store_reader_close(&s->r);
	free(s->buf);
	free(s);
}

static void serve_refuse(struct daemon *d, struct file_serve *s, const char *why)
{
	struct ctl_msg m = { .type = CTL_DENIED };
	msgpack_sbuffer sb;
	struct quic_conn *c = s->c;

	snprintf(m.why, sizeof(m.why), "%s", why);
	msgpack_sbuffer_init(&sb);
	if (ctl_encode(&m, &sb) == 0)
		quic_conn_send_msg(c, (const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	serve_free(d, s);
}

static void serves_end(struct daemon *d, const char *id)
{
	struct file_serve *s, *next;

	for (s = d->files->serves; s; s = next) {
		next = s->next;
		if (strcmp(s->id, id) == 0)
			serve_refuse(d, s, "the offer was withdrawn");
	}
}

/* Queues stream data while the connection has room; asks for room when
 * it has none. */
static void pump(struct daemon *d, struct file_serve *s)
{
	struct ctl_msg m = { .type = CTL_FILE_DATA };
	struct file_offer *o = find_id(d->files, s->id, true, quic_conn_peer(s->c));
	msgpack_sbuffer sb;
	long n;

	while (o && s->buf) {
		if (quic_conn_txq_room(s->c) < FILES_CHUNK + 256) {
			quic_conn_want_room(s->c, 2 * FILES_CHUNK);
			return;
		}
		n = tree_encoder_next(&s->enc, s->buf, FILES_CHUNK);
		if (n < 0) {
			log_warn("files: cannot read the stored copy of %s: %s", o->name,
				 strerror((int)-n));
			serve_refuse(d, s, "the sender cannot read its copy of the file");
			return;
		}
		if (n == 0) { /* all queued: the receiver closes when it has it */
			o->state = FS_DONE;
			o->bytes = o->size;
			free(s->buf);
			s->buf = NULL;
			outgoing_save(d);
			return;
		}
		m.data = s->buf;
		m.data_len = (size_t)n;
		msgpack_sbuffer_init(&sb);
		if (ctl_encode(&m, &sb) < 0 ||
		    quic_conn_send_msg(s->c, (const uint8_t *)sb.data, sb.size) < 0) {
			msgpack_sbuffer_destroy(&sb);
			return; /* the connection is closing */
		}
		msgpack_sbuffer_destroy(&sb);
		s->sent += (uint64_t)n;
		o->bytes = s->sent < o->size ? s->sent : o->size;
	}
}

static void on_get(struct daemon *d, struct file_serve *s, const struct ctl_msg *m)
{
	const uint8_t *pk = quic_conn_peer(s->c);
	struct file_offer *o = find_id(d->files, m->iid, true, pk);
	char dir[PATH_MAX];

	if (s->id[0]) {
		serve_refuse(d, s, "one file per connection");
		return;
	}
	if (!o || memcmp(o->hash, m->hash, LIMIT_KEY_LEN) != 0 || o->state == FS_CANCELLED ||
	    o->state == FS_DENIED) {
		serve_refuse(d, s, "no such offer (it may have been withdrawn)");
		return;
	}
	store_dir(d, dir);
	if (file_store_open(dir, o->hash, &s->r) < 0 || s->r.size != o->size) {
		serve_refuse(d, s, "the sender no longer has the file");
		return;
	}
	if (tree_encoder_init(&s->enc, o->size, m->off, file_store_read, file_store_node, &s->r) <
	    0) {
		serve_refuse(d, s, "the offset asked for is not a group boundary of the file");
		return;
	}
	s->buf = malloc(FILES_CHUNK);
	if (!s->buf) {
		serve_refuse(d, s, "out of memory");
		return;
	}
	snprintf(s->id, sizeof(s->id), "%s", o->id);
	s->sent = m->off;
	o->state = FS_TRANSFERRING;
	pump(d, s);
}

void files_on_confirmed(struct daemon *d, struct quic_conn *c)
{
	struct ctl_msg m = { .type = CTL_FILE_GET, .has_hash = true };
	struct file_offer *o = quic_conn_get_data(c);
	struct file_serve *s;
	msgpack_sbuffer sb;

	if (quic_conn_is_client(c)) {
		if (!o)
			return;
		snprintf(m.iid, sizeof(m.iid), "%s", o->id);
		memcpy(m.hash, o->hash, LIMIT_KEY_LEN);
		m.off = o->dec->verified;
		msgpack_sbuffer_init(&sb);
		if (ctl_encode(&m, &sb) == 0)
			quic_conn_send_msg(c, (const uint8_t *)sb.data, sb.size);
		msgpack_sbuffer_destroy(&sb);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		quic_conn_close(c, QUIC_CODE_NONE);
		return;
	}
	s->c = c;
	s->r.data = s->r.tree = -1;
	s->next = d->files->serves;
	d->files->serves = s;
	quic_conn_set_data(c, s);
}

void files_on_conn_message(struct daemon *d, struct quic_conn *c, const uint8_t *buf, size_t len)
{
	void *owner = quic_conn_get_data(c);
	struct ctl_msg m;

	if (!owner || ctl_decode(buf, len, &m) < 0) {
		if (!owner)
			return;
		if (quic_conn_is_client(c))
			finish_accept(owner,
				      "the sender sent something that is not a file message");
		else
			serve_refuse(d, owner, "malformed request");
		return;
	}
	if (quic_conn_is_client(c)) {
		if (m.type == CTL_FILE_DATA)
			on_data(d, owner, &m);
		else if (m.type == CTL_DENIED)
			finish_accept(owner, "the sender refused: %s", m.why);
		return;
	}
	if (m.type == CTL_FILE_GET)
		on_get(d, owner, &m);
	else
		serve_refuse(d, owner, "a files connection takes one FILE_GET");
}

void files_on_writable(struct daemon *d, struct quic_conn *c)
{
	struct file_serve *s = quic_conn_get_data(c);

	if (s && !quic_conn_is_client(c))
		pump(d, s);
}

void files_on_closed(struct daemon *d, struct quic_conn *c)
{
	void *owner = quic_conn_get_data(c);
	struct file_offer *o = owner;
	int ret;

	if (!owner)
		return;
	if (!quic_conn_is_client(c)) {
		serve_free(d, owner);
		return;
	}
	o->conn = NULL;
	o->next_retry_ms = daemon_now_ms(d) + FILES_RETRY_MS; /* resume then */
	ret = files_writer_flush(o->wr);                      /* what was verified is kept */
	if (ret < 0)
		finish_accept(o, "cannot write the file: %s", strerror(-ret));
}

void files_tick(struct daemon *d)
{
	uint64_t now = daemon_now_ms(d);

	for (struct file_offer *o = d->files->offers; o; o = o->next) {
		if (o->out || o->state != FS_TRANSFERRING || o->conn || now < o->next_retry_ms)
			continue;
		if (now - o->progress_ms > FILES_STALL_MS) {
			finish_accept(o, "no data came for %d minutes; accept again to retry",
				      FILES_STALL_MS / 60000);
			continue;
		}
		start_transfer(d, o);
	}
}

/* ---- control messages ---- */

static void on_offer(struct daemon *d, struct peer *p, const struct ctl_msg *m)
{
	struct files *fs = d->files;
	struct file_offer *o;

	if (!shares_network(d, p->pk) || !id_ok(m->iid) || !name_ok(m->name) ||
	    find_id(fs, m->iid, false, p->pk))
		return;
	if (count_offers(fs, false, NULL) >= FILES_MAX_IN ||
	    count_offers(fs, false, p->pk) >= FILES_MAX_IN_PEER) {
		if (gate_log_ok(d, p))
			log_warn("files: offer of %.60s from %.8s dropped: too many waiting",
				 m->name, p->id);
		return;
	}
	o = calloc(1, sizeof(*o));
	if (!o)
		return;
	o->fd = -1;
	snprintf(o->id, sizeof(o->id), "%s", m->iid);
	memcpy(o->peer, p->pk, LIMIT_KEY_LEN);
	snprintf(o->name, sizeof(o->name), "%s", m->name);
	o->size = m->size;
	memcpy(o->hash, m->hash, LIMIT_KEY_LEN);
	o->next = fs->offers;
	fs->offers = o;
	if (gate_log_ok(d, p))
		log_info("files: %.8s offers %.60s (%llu bytes): 'ray files accept %.8s'", p->id,
			 o->name, (unsigned long long)o->size, o->id);
}

bool files_on_message(struct daemon *d, struct peer *p, const struct ctl_msg *m)
{
	struct file_offer *o;

	switch (m->type) {
	case CTL_FILE_OFFER:
		on_offer(d, p, m);
		return true;
	case CTL_FILE_DENY:
		if ((o = find_id(d->files, m->iid, true, p->pk)) && o->state == FS_PENDING) {
			o->state = FS_DENIED;
			outgoing_save(d);
		}
		return true;
	case CTL_FILE_CANCEL:
		if (!(o = find_id(d->files, m->iid, false, p->pk)))
			return true;
		if (o->state == FS_TRANSFERRING)
			finish_accept(o, "the sender withdrew the offer");
		o->state = FS_CANCELLED;
		return true;
	case CTL_FILE_GET:
	case CTL_FILE_DATA:
		return true; /* they belong on a files connection */
	default:
		return false;
	}
}
