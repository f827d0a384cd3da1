/*
 * restore: see restore.h.
 */
#include "home/restore.h"
#include "home/store.h"
#include "mesh/contact.h"
#include "mesh/identity.h"
#include "util/fileio.h"
#include "util/hex.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESTORE_MAX_FILE (1u << 20)

static int write_seed(const char *home, const char *file, const uint8_t seed[LIMIT_KEY_LEN])
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s/%s", home, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return fileio_write_atomic(path, seed, LIMIT_KEY_LEN, 0600);
}

int restore_save(const char *home, const struct restore_entry *e, size_t n)
{
	char path[4096], room[2 * LIMIT_KEY_LEN + 1], *text;
	json_t *list = json_array(), *root;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", home, RESTORE_FILE);
	if (n == 0) {
		json_decref(list);
		return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
	}
	for (size_t i = 0; i < n; i++) {
		hex_encode(e[i].room, LIMIT_KEY_LEN, room);
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:b}", "room_id", room,
						      "name", e[i].name, "hostname", e[i].hostname,
						      "direct", e[i].direct));
	}
	root = json_pack("{s:o}", "networks", list);
	text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!text)
		return -ENOMEM;
	ret = fileio_write_atomic(path, text, strlen(text), 0600);
	free(text);
	return ret;
}

static bool entry_parse(json_t *o, struct restore_entry *e)
{
	const char *room = json_string_value(json_object_get(o, "room_id"));
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *host = json_string_value(json_object_get(o, "hostname"));

	memset(e, 0, sizeof(*e));
	if (!room || !name || !host || identity_id_parse(room, e->room) < 0 ||
	    !hostname_valid(name) || !hostname_valid(host))
		return false;
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->hostname, sizeof(e->hostname), "%s", host);
	e->direct = json_is_true(json_object_get(o, "direct"));
	return true;
}

int restore_load(const char *home, struct restore_entry **out, size_t *n)
{
	char path[4096], *buf = NULL;
	json_t *root, *list, *o;
	size_t len, i;
	int ret;

	*out = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "%s/%s", home, RESTORE_FILE);
	ret = fileio_read_all(path, RESTORE_MAX_FILE, &buf, &len);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	root = json_loadb(buf, len, 0, NULL);
	free(buf);
	list = json_object_get(root, "networks");
	if (json_array_size(list) && !(*out = calloc(json_array_size(list), sizeof(**out)))) {
		json_decref(root);
		return -ENOMEM;
	}
	json_array_foreach(list, i, o) if (entry_parse(o, &(*out)[*n]))(*n)++;
	json_decref(root);
	return 0;
}

int restore_apply(const char *home, const struct backup *b, char *err, size_t errlen)
{
	struct restore_entry *list = NULL;
	struct net_saved *saved = NULL;
	size_t n_saved = 0;
	int ret;

	err[0] = 0;
	ret = store_load_networks(home, &saved, &n_saved, err, errlen);
	free(saved);
	if (ret < 0)
		return ret;
	if (n_saved > 0) {
		snprintf(err, errlen,
			 "%s already holds %zu network(s) of another identity: restore into a new home (RAYFISH_HOME), or leave them first",
			 home, n_saved);
		return -EEXIST;
	}
	if ((ret = fileio_mkdir_p(home, 0700)) < 0)
		goto fail;
	if (b->n_nets && !(list = calloc(b->n_nets, sizeof(*list)))) {
		ret = -ENOMEM;
		goto fail;
	}
	/* Keys, then the list naming them, then the identity: a restore cut
	 * short leaves at worst rejoins that fail for the old identity (no
	 * roster lists it), never a new identity without its networks. */
	for (size_t i = 0; i < b->n_nets; i++) {
		char room[2 * LIMIT_KEY_LEN + 1];

		hex_encode(b->nets[i].room, LIMIT_KEY_LEN, room);
		if (b->nets[i].has_key && (ret = store_save_key(home, room, b->nets[i].key)) < 0)
			goto fail;
		memcpy(list[i].room, b->nets[i].room, LIMIT_KEY_LEN);
		snprintf(list[i].name, sizeof(list[i].name), "%s", b->nets[i].name);
		snprintf(list[i].hostname, sizeof(list[i].hostname), "%s", b->nets[i].hostname);
		list[i].direct = b->nets[i].direct;
	}
	if (b->has_contact && (ret = write_seed(home, CONTACT_KEY_FILE, b->contact)) < 0)
		goto fail;
	if ((ret = restore_save(home, list, b->n_nets)) < 0)
		goto fail;
	if ((ret = write_seed(home, IDENTITY_KEY_FILE, b->identity)) < 0)
		goto fail;
	free(list);
	return 0;
fail:
	free(list);
	if (!err[0])
		snprintf(err, errlen, "cannot write into %s: %s", home, strerror(-ret));
	return ret;
}
