/*
 * restore: see restore.h.
 *
 * `ray pair restore` writes the identity, contact key and network keys of
 * a backup into a home the daemon is not running on, with the list of
 * networks to rejoin (home/restore.c). At start this module takes that
 * list; each network is rejoined with join_rejoin (this identity is in its
 * roster already, so no admission is asked: the roster the DHT record
 * names is fetched from a member and adopted, and a stored network key
 * makes the node a coordinator again). A network back is dropped from the
 * list; one that could not be rejoined yet (its members offline, the DHT
 * unreachable) is tried again every RESTORE_RETRY_MS until it is.
 *
 * `ray pair backup` seals the daemon's own secrets (the identity, the
 * contact key, every network key it holds) with the user's passphrase. The
 * sealing runs Argon2id with 64 MiB, so it runs on libuv's thread pool, not
 * on the loop.
 */
#include "daemon/restore.h"
#include "daemon/connect.h"
#include "daemon/daemon.h"
#include "daemon/join.h"
#include "daemon/network.h"
#include "home/restore.h"
#include "home/store.h"
#include "mesh/backup.h"
#include "util/log.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct restore {
	struct restore_entry *list;
	size_t n;
	uint64_t next_try_ms;
};

void restore_open(struct daemon *d)
{
	struct restore *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return;
	ret = restore_load(d->home, &r->list, &r->n);
	if (ret < 0)
		log_warn("restore: cannot read %s/%s: %s", d->home, RESTORE_FILE, strerror(-ret));
	if (r->n)
		log_info("restore: %zu network(s) from a backup to rejoin", r->n);
	d->restore = r;
}

void restore_close(struct daemon *d)
{
	if (!d->restore)
		return;
	free(d->restore->list);
	free(d->restore);
	d->restore = NULL;
}

void restore_tick(struct daemon *d)
{
	struct restore *r = d->restore;
	uint64_t now = daemon_now_ms(d);
	size_t kept = 0, before;

	if (!r || !r->n)
		return;
	before = r->n;
	for (size_t i = 0; i < r->n; i++) {
		struct network *n = network_find_pk(d, r->list[i].room);

		if (n) {
			if (r->list[i].direct && !n->saved.direct) {
				n->saved.direct = true;
				networks_save(d);
			}
			log_info("restore: %s is back", n->saved.name);
			continue;
		}
		r->list[kept++] = r->list[i];
	}
	r->n = kept;
	if (kept != before && restore_save(d->home, r->list, r->n) < 0)
		log_warn("restore: cannot update %s/%s", d->home, RESTORE_FILE);
	if (now < r->next_try_ms)
		return;
	r->next_try_ms = now + RESTORE_RETRY_MS;
	for (size_t i = 0; i < r->n; i++) {
		int ret = join_rejoin(d, r->list[i].room, r->list[i].name, r->list[i].hostname);

		if (ret == 0)
			log_info("restore: rejoining %s as %s", r->list[i].name,
				 r->list[i].hostname);
	}
}

/* ---- ray pair backup ---- */

struct seal_work {
	uv_work_t work;
	struct ipc_request *req;
	struct backup b;
	char pass[1024];
	char code[BACKUP_CODE_MAX];
	int ret;
};

static void seal_run(uv_work_t *w)
{
	struct seal_work *s = w->data;

	s->ret = backup_seal(&s->b, s->pass, BACKUP_OPS_DEFAULT, BACKUP_MEM_LOG_DEFAULT, s->code,
			     sizeof(s->code));
}

static void seal_done(uv_work_t *w, int status)
{
	struct seal_work *s = w->data;

	if (status < 0 || s->ret < 0)
		ipc_reply_error(s->req, "cannot seal the backup: %s",
				strerror(status < 0 ? ECANCELED : -s->ret));
	else
		ipc_reply(s->req, json_pack("{s:s, s:i}", "code", s->code, "networks",
					    (json_int_t)s->b.n_nets));
	sodium_memzero(s, sizeof(*s));
	free(s);
}

static void add_net(struct daemon *d, struct backup *b, const uint8_t room[LIMIT_KEY_LEN],
		    const char *name, const char *host, bool direct)
{
	struct backup_network *bn = &b->nets[b->n_nets++];
	char id[IDENTITY_ID_LEN + 1];

	memcpy(bn->room, room, LIMIT_KEY_LEN);
	snprintf(bn->name, sizeof(bn->name), "%s", name);
	snprintf(bn->hostname, sizeof(bn->hostname), "%s", host);
	bn->direct = direct;
	identity_id_format(room, id);
	bn->has_key = store_load_key(d->home, id, bn->key) == 0;
}

void restore_cmd_backup(struct daemon *d, struct ipc_request *req)
{
	const char *pass = json_string_value(json_object_get(req->args, "passphrase"));
	struct restore *r = d->restore;
	struct seal_work *s;
	size_t count = 0;

	if (!pass || strlen(pass) < 8 || strlen(pass) >= sizeof(s->pass)) {
		ipc_reply_error(req, "the passphrase must be 8 to 1023 characters long");
		return;
	}
	for (struct network *n = d->nets; n; n = n->next)
		count++;
	if (count + (r ? r->n : 0) > BACKUP_MAX_NETWORKS) {
		ipc_reply_error(req, "a backup holds at most %d networks; this node is in %zu",
				BACKUP_MAX_NETWORKS, count + (r ? r->n : 0));
		return;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		ipc_reply_error(req, "out of memory");
		return;
	}
	s->req = req;
	snprintf(s->pass, sizeof(s->pass), "%s", pass);
	memcpy(s->b.identity, d->id.seed, LIMIT_KEY_LEN);
	s->b.has_contact = connect_contact_seed(d, s->b.contact) == 0;
	for (struct network *n = d->nets; n; n = n->next)
		add_net(d, &s->b, n->pk, n->saved.name, n->saved.hostname, n->saved.direct);
	/* Networks a restore has not brought back yet are still ours. */
	for (size_t i = 0; r && i < r->n; i++)
		add_net(d, &s->b, r->list[i].room, r->list[i].name, r->list[i].hostname,
			r->list[i].direct);
	s->work.data = s;
	if (uv_queue_work(d->loop, &s->work, seal_run, seal_done) < 0) {
		ipc_reply_error(req, "cannot start sealing the backup");
		sodium_memzero(s, sizeof(*s));
		free(s);
	}
}
