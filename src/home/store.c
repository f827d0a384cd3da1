/*
 * store: see store.h.
 */
#include "home/store.h"
#include "util/limits.h"
#include "mesh/group_blob.h"
#include "util/blake3.h"
#include "util/fileio.h"
#include "util/hex.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* STORE_MAX_NETWORKS entries of up to 8 KiB of record (16 KiB in hex) each. */
#define STORE_MAX_FILE (32u << 20)
#define STORE_MAX_BLOB GB_MAX_DECODED

/* Copies string field key of o into out; a sentence in *why when it is
 * missing (and required), not a string or too long. */
static int copy_str(json_t *o, const char *key, char *out, size_t cap, bool required,
		    const char **why)
{
	json_t *v = json_object_get(o, key);

	if (!v && !required) {
		out[0] = 0;
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) >= cap) {
		*why = !v                   ? "a field is missing"
		       : !json_is_string(v) ? "a field is not a string"
					    : "a field is too long";
		return -EINVAL;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* Fills s from entry o, or says in *why what is wrong with it. */
static int parse_entry(json_t *o, struct net_saved *s, const char **why)
{
	char hash[65], rec[2 * STORE_MAX_RECORD + 1];
	json_t *v;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(o)) {
		*why = "it is not an object";
		return -EINVAL;
	}
	if (copy_str(o, "name", s->name, sizeof(s->name), true, why) < 0 ||
	    copy_str(o, "room_id", s->room_id, sizeof(s->room_id), true, why) < 0 ||
	    copy_str(o, "hostname", s->hostname, sizeof(s->hostname), true, why) < 0 ||
	    copy_str(o, "blob_hash", hash, sizeof(hash), true, why) < 0 ||
	    copy_str(o, "record", rec, sizeof(rec), true, why) < 0)
		return -EINVAL;
	*why = "blob_hash is not 64 hex digits";
	if (hex_decode_str(hash, s->blob_hash, sizeof(s->blob_hash)) < 0)
		return -EINVAL;
	*why = "record is not hex";
	if (strlen(rec) % 2 || strlen(rec) / 2 > STORE_MAX_RECORD ||
	    hex_decode(rec, strlen(rec), s->record, strlen(rec) / 2) < 0)
		return -EINVAL;
	s->record_len = strlen(rec) / 2;
	/* Absent in files written before the merge base was kept. */
	v = json_object_get(o, "base_hash");
	*why = "base_hash is not 64 hex digits";
	if (v && (!json_is_string(v) ||
		  hex_decode_str(json_string_value(v), s->base_hash, sizeof(s->base_hash)) < 0))
		return -EINVAL;
	s->has_base = v != NULL;
	v = json_object_get(o, "coordinator");
	s->coordinator = json_is_true(v);
	s->auto_accept_firewall = json_is_true(json_object_get(o, "auto_accept_firewall"));
	s->direct = json_is_true(json_object_get(o, "direct"));
	v = json_object_get(o, "ephemeral_s");
	*why = "ephemeral_s is not a count of seconds";
	if (v && (!json_is_integer(v) || json_integer_value(v) < 0))
		return -EINVAL;
	s->ephemeral_s = v ? (uint64_t)json_integer_value(v) : 0;
	*why = NULL;
	return 0;
}

/* The entry's name for a log line, when it has a usable one. */
static const char *entry_label(json_t *o)
{
	const char *name = json_string_value(json_object_get(o, "name"));

	return name && strlen(name) < 64 ? name : "?";
}

/* Parses the entries of list into out (room for all); returns how many
 * were skipped, each logged with its index and why. */
static int parse_list(json_t *list, struct net_saved *out, size_t *n)
{
	const char *why;
	json_t *item;
	size_t i;
	int skipped = 0;

	json_array_foreach(list, i, item)
	{
		if (i >= STORE_MAX_NETWORKS) {
			log_warn("store: networks.json: networks[%zu] and after skipped: more than %d networks",
				 i, STORE_MAX_NETWORKS);
			return skipped + (int)(json_array_size(list) - i);
		}
		if (parse_entry(item, &out[*n], &why) == 0) {
			(*n)++;
			continue;
		}
		log_warn("store: networks.json: networks[%zu] (\"%s\") skipped: %s", i,
			 entry_label(item), why);
		skipped++;
	}
	return skipped;
}

int store_load_networks(const char *home, struct net_saved **out, size_t *n, char *err,
			size_t errlen)
{
	char path[4096], *buf = NULL;
	json_error_t jerr;
	json_t *root = NULL, *list;
	size_t len;
	int ret;

	*out = NULL;
	*n = 0;
	err[0] = 0;
	snprintf(path, sizeof(path), "%s/networks.json", home);
	ret = fileio_read_all(path, STORE_MAX_FILE, &buf, &len);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	/* Unusable as a whole: the caller starts without networks and keeps
	 * the file (it counts as one entry dropped). */
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (!root) {
		snprintf(err, errlen, "%s is not valid JSON: %s (line %d)", path, jerr.text,
			 jerr.line);
		log_warn("store: %s; starting without its networks", err);
		return 1;
	}
	list = json_object_get(root, "networks");
	if (!json_is_array(list)) {
		snprintf(err, errlen, "%s: expected {\"networks\": [...]}", path);
		log_warn("store: %s; starting without its networks", err);
		ret = 1;
		goto out;
	}
	*out = calloc(json_array_size(list) + 1, sizeof(**out));
	if (!*out) {
		snprintf(err, errlen, "out of memory reading %s", path);
		ret = -ENOMEM;
		goto out;
	}
	ret = parse_list(list, *out, n);
	if (ret > 0)
		snprintf(err, errlen, "%s: %d network entr%s skipped", path, ret,
			 ret == 1 ? "y" : "ies");
out:
	json_decref(root);
	return ret;
}

static json_t *entry_json(const struct net_saved *s)
{
	char hash[65], *rec;
	json_t *o;

	rec = malloc(2 * s->record_len + 1);
	if (!rec)
		return NULL;
	hex_encode(s->blob_hash, sizeof(s->blob_hash), hash);
	hex_encode(s->record, s->record_len, rec);
	o = json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:b, s:I}", "name", s->name, "room_id",
		      s->room_id, "coordinator", s->coordinator, "hostname", s->hostname,
		      "blob_hash", hash, "record", rec, "auto_accept_firewall",
		      s->auto_accept_firewall, "ephemeral_s", (json_int_t)s->ephemeral_s);
	free(rec);
	if (o && s->direct)
		json_object_set_new(o, "direct", json_true());
	if (o && s->has_base) {
		hex_encode(s->base_hash, sizeof(s->base_hash), hash);
		json_object_set_new(o, "base_hash", json_string(hash));
	}
	return o;
}

int store_save_networks(const char *home, const struct net_saved *const *nets, size_t n)
{
	char path[4096];
	json_t *root = json_object(), *list = json_array();
	char *text;
	int ret;

	json_object_set_new(root, "networks", list);
	for (size_t i = 0; i < n; i++) {
		json_t *e = entry_json(nets[i]);

		if (!e) {
			json_decref(root);
			return -ENOMEM;
		}
		json_array_append_new(list, e);
	}
	text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!text)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/networks.json", home);
	ret = fileio_write_atomic(path, text, strlen(text), 0600);
	free(text);
	return ret;
}

/* An existing copy of the same content is as good as a new one; anything
 * else under its name is not ours to replace. */
static int backup_matches(const char *bak, const char *buf, size_t len)
{
	char *old = NULL;
	size_t old_len = 0;
	int ret = fileio_read_all(bak, STORE_MAX_FILE, &old, &old_len);

	if (ret == 0 && (old_len != len || memcmp(old, buf, len) != 0))
		ret = -EEXIST;
	free(old);
	return ret == -EINVAL || ret == -EFBIG ? -EEXIST : ret;
}

int store_backup_networks(const char *home, char *bak, size_t cap)
{
	char path[4096], hex[17];
	uint8_t hash[LIMIT_KEY_LEN];
	char *buf = NULL;
	size_t len = 0;
	int ret;

	snprintf(path, sizeof(path), "%s/networks.json", home);
	ret = fileio_read_all(path, STORE_MAX_FILE, &buf, &len);
	if (ret < 0)
		return ret;
	/* Named by content: a daemon restarted on the same damaged file
	 * keeps one copy, and an older copy is never replaced. */
	blake3_hash(buf, len, hash);
	hex_encode(hash, 8, hex);
	if (snprintf(bak, cap, "%s.bad-%s", path, hex) >= (int)cap) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	ret = fileio_create_atomic(bak, buf, len, 0600);
	if (ret == -EEXIST)
		ret = backup_matches(bak, buf, len);
out:
	free(buf);
	return ret;
}

static int subpath(char *out, size_t cap, const char *home, const char *dir, const char *name,
		   const char *ext)
{
	int n = snprintf(out, cap, "%s/%s/%s%s", home, dir, name, ext);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int valid_hex_name(const char *s)
{
	size_t n = strlen(s);

	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int store_save_key(const char *home, const char *room_id, const uint8_t seed[LIMIT_KEY_LEN])
{
	char path[4096], dir[4096];
	int ret;

	if (!valid_hex_name(room_id))
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%s/keys", home);
	ret = fileio_mkdir_p(dir, 0700);
	if (ret < 0)
		return ret;
	ret = subpath(path, sizeof(path), home, "keys", room_id, ".key");
	return ret < 0 ? ret : fileio_write_atomic(path, seed, LIMIT_KEY_LEN, 0600);
}

int store_load_key(const char *home, const char *room_id, uint8_t seed[LIMIT_KEY_LEN])
{
	char path[4096];
	char *buf = NULL;
	size_t len = 0;
	int ret;

	if (!valid_hex_name(room_id))
		return -EINVAL;
	ret = subpath(path, sizeof(path), home, "keys", room_id, ".key");
	if (ret < 0)
		return ret;
	ret = fileio_read_all(path, 64, &buf, &len);
	if (ret < 0)
		return ret;
	if (len != LIMIT_KEY_LEN)
		ret = -EBADMSG;
	else
		memcpy(seed, buf, LIMIT_KEY_LEN);
	free(buf);
	return ret;
}

int store_delete_key(const char *home, const char *room_id)
{
	char path[4096];

	if (!valid_hex_name(room_id) ||
	    subpath(path, sizeof(path), home, "keys", room_id, ".key") < 0)
		return -EINVAL;
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

int store_save_blob(const char *home, const uint8_t hash[LIMIT_KEY_LEN], const void *data,
		    size_t len)
{
	char path[4096], dir[4096], name[65];
	int ret;

	snprintf(dir, sizeof(dir), "%s/blobs", home);
	ret = fileio_mkdir_p(dir, 0700);
	if (ret < 0)
		return ret;
	hex_encode(hash, LIMIT_KEY_LEN, name);
	ret = subpath(path, sizeof(path), home, "blobs", name, ".blob");
	return ret < 0 ? ret : fileio_write_atomic(path, data, len, 0600);
}

int store_load_blob(const char *home, const uint8_t hash[LIMIT_KEY_LEN], uint8_t **data,
		    size_t *len)
{
	char path[4096], name[65];
	uint8_t got[LIMIT_KEY_LEN];
	char *buf = NULL;
	int ret;

	*data = NULL;
	hex_encode(hash, LIMIT_KEY_LEN, name);
	ret = subpath(path, sizeof(path), home, "blobs", name, ".blob");
	if (ret < 0)
		return ret;
	ret = fileio_read_all(path, STORE_MAX_BLOB, &buf, len);
	if (ret < 0)
		return ret;
	blake3_hash(buf, *len, got);
	if (memcmp(got, hash, LIMIT_KEY_LEN) != 0) {
		log_warn("store: %s does not match its hash; ignored", path);
		free(buf);
		return -EBADMSG;
	}
	*data = (uint8_t *)buf;
	return 0;
}

int store_delete_blob(const char *home, const uint8_t hash[LIMIT_KEY_LEN])
{
	char path[4096], name[65];

	hex_encode(hash, LIMIT_KEY_LEN, name);
	if (subpath(path, sizeof(path), home, "blobs", name, ".blob") < 0)
		return -ENAMETOOLONG;
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

static bool hash_listed(const uint8_t hash[LIMIT_KEY_LEN], const uint8_t (*list)[LIMIT_KEY_LEN],
			size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(list[i], hash, LIMIT_KEY_LEN) == 0)
			return true;
	return false;
}

int store_release_blobs(const char *home, const uint8_t (*drop)[LIMIT_KEY_LEN], size_t n_drop,
			const uint8_t (*keep)[LIMIT_KEY_LEN], size_t n_keep)
{
	char path[4096], name[65];
	int count = 0;

	for (size_t i = 0; i < n_drop; i++) {
		if (hash_listed(drop[i], keep, n_keep) || hash_listed(drop[i], drop, i))
			continue;
		hex_encode(drop[i], LIMIT_KEY_LEN, name);
		if (subpath(path, sizeof(path), home, "blobs", name, ".blob") < 0)
			continue;
		if (unlink(path) == 0)
			count++;
		else if (errno != ENOENT)
			log_warn("store: cannot delete %s: %s", path, strerror(errno));
	}
	return count;
}

static size_t add_ref(uint8_t (*out)[LIMIT_KEY_LEN], size_t n, size_t cap,
		      const uint8_t h[LIMIT_KEY_LEN])
{
	if (n >= cap || hash_listed(h, (const uint8_t(*)[LIMIT_KEY_LEN])out, n))
		return n;
	memcpy(out[n], h, LIMIT_KEY_LEN);
	return n + 1;
}

size_t store_saved_blob_refs(const struct net_saved *s, size_t n, uint8_t (*out)[LIMIT_KEY_LEN],
			     size_t cap)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++) {
		count = add_ref(out, count, cap, s[i].blob_hash);
		if (s[i].has_base)
			count = add_ref(out, count, cap, s[i].base_hash);
	}
	return count;
}

/*
 * Ours: "<64 hex>.blob", or "<64 hex>.blob.tmp.XXXXXX" left by a write a
 * crash interrupted (fileio's temp name). Sets *hash for a blob proper.
 */
static bool blob_file_name(const char *name, uint8_t hash[LIMIT_KEY_LEN], bool *is_tmp)
{
	char hex[65];

	if (strlen(name) < 69 || strncmp(name + 64, ".blob", 5) != 0)
		return false;
	memcpy(hex, name, 64);
	hex[64] = 0;
	if (!valid_hex_name(hex) || hex_decode_str(hex, hash, LIMIT_KEY_LEN) < 0)
		return false;
	*is_tmp = name[69] != 0;
	return !*is_tmp || strncmp(name + 69, ".tmp.", 5) == 0;
}

int store_gc_blobs(const char *home, const uint8_t (*keep)[LIMIT_KEY_LEN], size_t n_keep)
{
	char dir[4096], path[4400];
	struct dirent *e;
	uint8_t hash[LIMIT_KEY_LEN];
	bool is_tmp;
	int count = 0;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/blobs", home);
	dp = opendir(dir);
	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	/* Older versions made the directory 0755 and the files 0644. */
	if (fchmod(dirfd(dp), 0700) < 0)
		log_warn("store: cannot make %s private: %s", dir, strerror(errno));
	while ((e = readdir(dp))) {
		if (!blob_file_name(e->d_name, hash, &is_tmp))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (!is_tmp && hash_listed(hash, keep, n_keep)) {
			if (chmod(path, 0600) < 0)
				log_warn("store: cannot make %s private: %s", path,
					 strerror(errno));
			continue;
		}
		if (unlink(path) == 0)
			count++;
		else if (errno != ENOENT)
			log_warn("store: cannot delete %s: %s", path, strerror(errno));
	}
	closedir(dp);
	return count;
}
