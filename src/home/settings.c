/*
 * settings: see settings.h. One table row per key holds its name, default,
 * help line and validator, so adding a setting touches one place.
 */
#include "home/settings.h"
#include "mesh/hostname.h"
#include "util/fileio.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*validator)(const char *v);

static int valid_port(const char *v)
{
	char *end;
	long n;

	if (!*v)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	return !errno && !*end && n >= 1 && n <= 65535;
}

/* host:port or [v6]:port; host is letters, digits, '-', '.', ':' for v6. */
static int valid_hostport(const char *v, size_t len)
{
	const char *colon;
	char port[8];
	size_t hostlen;

	if (len == 0 || len > 255)
		return 0;
	if (v[0] == '[') {
		const char *close = memchr(v, ']', len);

		if (!close || close + 1 >= v + len || close[1] != ':')
			return 0;
		colon = close + 1;
		for (const char *p = v + 1; p < close; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
				return 0;
	} else {
		colon = NULL;
		for (const char *p = v; p < v + len; p++)
			if (*p == ':')
				colon = p;
		if (!colon)
			return 0;
		for (const char *p = v; p < colon; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
				return 0;
	}
	hostlen = (size_t)(colon - v);
	if (hostlen == 0 || (size_t)(v + len - colon - 1) >= sizeof(port))
		return 0;
	memcpy(port, colon + 1, (size_t)(v + len - colon - 1));
	port[v + len - colon - 1] = 0;
	return valid_port(port);
}

/* Applies f to every comma-separated item; empty items are invalid. */
static int valid_list(const char *v, int (*f)(const char *, size_t))
{
	const char *p = v;

	if (!*v)
		return 1; /* an empty list is allowed: "none" */
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (!f(p, n))
			return 0;
		if (!comma)
			return 1;
		p = comma + 1;
	}
}

static int valid_hostport_list(const char *v)
{
	return valid_list(v, valid_hostport);
}

/* turn:USER:PASS@host:port */
static int valid_relay_item(const char *v, size_t len)
{
	const char *at;

	if (len < 5 || strncmp(v, "turn:", 5) != 0)
		return 0;
	at = NULL;
	for (const char *p = v; p < v + len; p++)
		if (*p == '@')
			at = p;
	if (!at || !memchr(v + 5, ':', (size_t)(at - v - 5)))
		return 0;
	return valid_hostport(at + 1, (size_t)(v + len - at - 1));
}

static int valid_relay(const char *v)
{
	return valid_list(v, valid_relay_item);
}

static int valid_ifname(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > 15)
		return 0;
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return 0;
	return 1;
}

static int valid_dns_listen(const char *v)
{
	return valid_hostport(v, strlen(v));
}

static int valid_metrics_listen(const char *v)
{
	return strcmp(v, "off") == 0 || valid_hostport(v, strlen(v));
}

static int valid_hostname(const char *v)
{
	return !*v || hostname_valid(v);
}

static int valid_url(const char *v)
{
	size_t n = strlen(v);

	if (n > 1000 || (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0))
		return 0;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int valid_ip_item(const char *v, size_t len)
{
	if (len == 0 || len > 45)
		return 0;
	for (const char *p = v; p < v + len; p++)
		if (!isxdigit((unsigned char)*p) && *p != '.' && *p != ':')
			return 0;
	return 1;
}

static int valid_ip_list(const char *v)
{
	return valid_list(v, valid_ip_item);
}

static int valid_onoff(const char *v)
{
	return strcmp(v, "on") == 0 || strcmp(v, "off") == 0;
}

static int valid_uid(const char *v)
{
	char *end;
	long n;

	if (!*v)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	return !errno && !*end && n >= 0 && n < 0x7fffffff;
}

static const struct {
	const char *name;
	const char *def;
	const char *help;
	validator ok;
	const char *expect;
} table[SET_COUNT] = {
	[SET_DHT_BOOTSTRAP] = { "dht-bootstrap", "bootstrap.jami.net:4222", "DHT bootstrap nodes",
				valid_hostport_list, "a comma list of host:port" },
	[SET_STUN] = { "stun", "stun.l.google.com:19302,stun.cloudflare.com:3478",
		       "STUN servers for public address discovery", valid_hostport_list,
		       "a comma list of host:port" },
	[SET_RELAY] = { "relay", "", "TURN relays, tried in order (none: direct paths only)",
			valid_relay, "a comma list of turn:USER:PASS@host:port" },
	[SET_LISTEN_PORT] = { "listen-port", "41383", "UDP port (ephemeral if taken)", valid_port,
			      "a port number from 1 to 65535" },
	[SET_TUN_NAME] = { "tun-name", "ray0", "TUN interface name", valid_ifname,
			   "1-15 letters, digits, '-' or '_'" },
	[SET_DNS_LISTEN] = { "dns-listen", "127.0.0.1:53", "Magic DNS server address",
			     valid_dns_listen, "ip:port" },
	[SET_DNS_UPSTREAMS] = { "dns-upstreams", "",
				"resolvers for non-.ray names (empty: the system's previous ones)",
				valid_ip_list, "a comma list of IP addresses" },
	[SET_MDNS] = { "mdns", "on", "LAN peer discovery", valid_onoff, "on or off" },
	[SET_RELAY_MEMBERS] = { "relay-members", "on",
				"relay for members of shared networks when directly reachable",
				valid_onoff, "on or off" },
	[SET_OPERATOR] = { "operator", "", "uid allowed to change settings besides root", valid_uid,
			   "a numeric uid" },
	[SET_TUN_OFFLOAD] = { "tun-offload", "on",
			      "TUN segmentation and checksum offloads (GSO split, GRO-style merge)",
			      valid_onoff, "on or off" },
	[SET_METRICS_LISTEN] = { "metrics-listen", "127.0.0.1:9090",
				 "Prometheus metrics endpoint (off: none)", valid_metrics_listen,
				 "ip:port or off" },
	[SET_HOSTNAME] = { "hostname", "",
			   "the name create, join and connect use without --hostname (empty: the "
			   "name in the first network, else the machine's)",
			   valid_hostname, "1-63 of a-z, 0-9 and '-', or empty" },
	[SET_UPDATE_URL] = { "update-url", "https://rayfish.xyz/releases/feed.json",
			     "release feed for ray update", valid_url, "an http(s) URL" },
};

int settings_key(const char *name)
{
	for (int i = 0; i < SET_COUNT; i++)
		if (name && strcmp(name, table[i].name) == 0)
			return i;
	return -1;
}

const char *settings_name(enum setting_key k)
{
	return table[k].name;
}
const char *settings_default(enum setting_key k)
{
	return table[k].def;
}
const char *settings_help(enum setting_key k)
{
	return table[k].help;
}

int settings_validate(enum setting_key k, const char *value, char *err, size_t errlen)
{
	if (value && strlen(value) <= 4096 && table[k].ok(value))
		return 0;
	snprintf(err, errlen, "%s must be %s", table[k].name, table[k].expect);
	return -EINVAL;
}

static void env_name(enum setting_key k, char *out, size_t outlen)
{
	size_t i = 0;

	i = (size_t)snprintf(out, outlen, "RAYFISH_");
	for (const char *p = table[k].name; *p && i + 1 < outlen; p++)
		out[i++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	out[i] = 0;
}

static int load_file(struct settings *s, const char *home, char *err, size_t errlen)
{
	char path[4096];
	json_error_t jerr;
	const char *key;
	json_t *root, *v;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/settings.json", home);
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (jerr.line == -1 && access(path, F_OK) != 0)
			return 0; /* no file yet: defaults */
		snprintf(err, errlen, "%s: %s (line %d)", path, jerr.text, jerr.line);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s: expected a JSON object", path);
		ret = -EINVAL;
		goto out;
	}
	json_object_foreach(root, key, v)
	{
		int k = settings_key(key);

		if (k < 0 || !json_is_string(v)) {
			snprintf(err, errlen, "%s: unknown or non-string setting '%s'", path, key);
			ret = -EINVAL;
			goto out;
		}
		if (settings_validate(k, json_string_value(v), err, errlen) < 0) {
			ret = -EINVAL;
			goto out;
		}
		free(s->value[k]);
		s->value[k] = strdup(json_string_value(v));
	}
out:
	json_decref(root);
	return ret;
}

int settings_load(struct settings *s, const char *home, char *err, size_t errlen)
{
	int ret;

	memset(s, 0, sizeof(*s));
	ret = load_file(s, home, err, errlen);
	if (ret < 0)
		return ret;
	for (int k = 0; k < SET_COUNT; k++) {
		char name[64];
		const char *v;

		env_name(k, name, sizeof(name));
		v = getenv(name);
		if (!v)
			continue;
		if (settings_validate(k, v, err, errlen) < 0)
			return -EINVAL;
		s->from_env[k] = 1;
	}
	return 0;
}

void settings_free(struct settings *s)
{
	for (int k = 0; k < SET_COUNT; k++)
		free(s->value[k]);
	memset(s, 0, sizeof(*s));
}

const char *settings_get(const struct settings *s, enum setting_key k)
{
	if (s->from_env[k]) {
		char name[64];
		const char *v;

		env_name(k, name, sizeof(name));
		v = getenv(name);
		if (v)
			return v;
	}
	return s->value[k] ? s->value[k] : table[k].def;
}

int settings_set(struct settings *s, enum setting_key k, const char *value, char *err,
		 size_t errlen)
{
	char *copy = NULL;

	if (value) {
		if (settings_validate(k, value, err, errlen) < 0)
			return -EINVAL;
		copy = strdup(value);
		if (!copy)
			return -ENOMEM;
	}
	free(s->value[k]);
	s->value[k] = copy;
	return 0;
}

int settings_save(const struct settings *s, const char *home)
{
	char path[4096];
	json_t *root = json_object();
	char *text;
	int ret;

	for (int k = 0; k < SET_COUNT; k++)
		if (s->value[k])
			json_object_set_new(root, table[k].name, json_string(s->value[k]));
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	if (!text)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/settings.json", home);
	ret = fileio_write_atomic(path, text, strlen(text), 0600);
	free(text);
	return ret;
}

json_t *settings_to_json(const struct settings *s)
{
	json_t *root = json_object();

	for (int k = 0; k < SET_COUNT; k++) {
		const char *src = s->from_env[k] ? "env" : s->value[k] ? "file" : "default";

		json_object_set_new(root, table[k].name,
				    json_pack("{s:s, s:s, s:s}", "value", settings_get(s, k),
					      "source", src, "help", table[k].help));
	}
	return root;
}

int settings_persist(const char *home, enum setting_key k, const char *value, char *err,
		     size_t errlen)
{
	struct settings cur;
	int ret;

	ret = settings_load(&cur, home, err, errlen);
	if (ret < 0)
		goto out;
	ret = settings_set(&cur, k, value, err, errlen);
	if (ret < 0)
		goto out;
	ret = fileio_mkdir_p(home, 0700);
	if (ret == 0)
		ret = settings_save(&cur, home);
	if (ret < 0)
		snprintf(err, errlen, "cannot save %s/settings.json: %s", home, strerror(-ret));
out:
	settings_free(&cur);
	return ret;
}
