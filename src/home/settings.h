/*
 * settings: the node's persisted configuration ($RAYFISH_HOME/settings.json).
 *
 * `ray config set|unset` edits the file; the daemon reads it at start. For one
 * process, RAYFISH_<KEY> in the environment (dht-bootstrap → RAYFISH_DHT_BOOTSTRAP)
 * overrides the file. Every value is validated on set and on load; a file
 * with a bad value or bad JSON is reported and never silently rewritten.
 */
#ifndef RAYFISH_HOME_SETTINGS_H
#define RAYFISH_HOME_SETTINGS_H

#include <jansson.h>
#include <stddef.h>

enum setting_key {
	SET_DHT_BOOTSTRAP,
	SET_STUN,
	SET_RELAY,
	SET_LISTEN_PORT,
	SET_TUN_NAME,
	SET_DNS_LISTEN,
	SET_DNS_UPSTREAMS,
	SET_MDNS,
	SET_RELAY_MEMBERS,
	SET_OPERATOR,
	SET_TUN_OFFLOAD,
	SET_METRICS_LISTEN,
	SET_HOSTNAME,
	SET_UPDATE_URL,
	SET_COUNT
};

struct settings {
	char *value[SET_COUNT];  /* owned; NULL = default */
	int from_env[SET_COUNT]; /* 1 when the environment overrides */
};

/* Key name ("dht-bootstrap") → index, or -1. */
int settings_key(const char *name);
const char *settings_name(enum setting_key k);
const char *settings_default(enum setting_key k);
const char *settings_help(enum setting_key k);

/*
 * Checks a value for a key. Returns 0, or -EINVAL with a sentence in err
 * ("listen-port must be a number from 1 to 65535").
 */
int settings_validate(enum setting_key k, const char *value, char *err, size_t errlen);

/* Loads home/settings.json (absent = all defaults), then the environment. */
int settings_load(struct settings *s, const char *home, char *err, size_t errlen);
/* Writes the file values (not the environment's) atomically. */
int settings_save(const struct settings *s, const char *home);
void settings_free(struct settings *s);

/* The effective value: environment, file, then default. Never NULL. */
const char *settings_get(const struct settings *s, enum setting_key k);
/* Sets (value != NULL) or unsets a file value after validating it. */
int settings_set(struct settings *s, enum setting_key k, const char *value, char *err,
		 size_t errlen);

/*
 * Sets (value != NULL) or unsets key k in home's settings.json as the file
 * is now, not as some copy read earlier holds it (`ray config set` may
 * have edited it since). A file that does not load is reported in err,
 * never replaced. 0 or -errno.
 */
int settings_persist(const char *home, enum setting_key k, const char *value, char *err,
		     size_t errlen);

/* {"key": {"value": V, "default": bool, "source": "file|env|default"}} */
json_t *settings_to_json(const struct settings *s);

#endif
