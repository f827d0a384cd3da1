/*
 * fake_dht: an in-memory DHT node for the daemon fixture (see fake_dht.h).
 * Fixed tables, no allocation beyond the gets' queue: a test that overflows
 * them is a test bug and aborts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>

#include "discovery/payload.h"
#include "fake_dht.h"

#define FAKE_DHT_VALUES 32

struct fake_value {
	bool used, own;
	uint8_t key[DHT_KEY_LEN];
	uint8_t data[DHT_VALUE_MAX];
	size_t len;
};

struct fake_get {
	struct fake_get *next;
	uint8_t key[DHT_KEY_LEN];
	dht_node_filter_fn filter;
	dht_node_value_fn on_value;
	dht_node_done_fn on_done;
	void *ud;
};

static struct fake_value values[FAKE_DHT_VALUES];
static struct fake_get *gets; /* oldest first */
static int node_token;

static void fake_abort(const char *why)
{
	fprintf(stderr, "fake_dht: %s\n", why);
	abort();
}

static struct fake_value *slot_for(const uint8_t key[DHT_KEY_LEN], bool own)
{
	struct fake_value *free_slot = NULL;

	for (size_t i = 0; i < FAKE_DHT_VALUES; i++) {
		if (values[i].used && own && values[i].own &&
		    memcmp(values[i].key, key, DHT_KEY_LEN) == 0)
			return &values[i];
		if (!values[i].used && !free_slot)
			free_slot = &values[i];
	}
	if (!free_slot)
		fake_abort("out of value slots");
	return free_slot;
}

static void put_value(const uint8_t key[DHT_KEY_LEN], const uint8_t *value, size_t len, bool own)
{
	struct fake_value *v = slot_for(key, own);

	if (len > DHT_VALUE_MAX)
		fake_abort("value over DHT_VALUE_MAX");
	v->used = true;
	v->own = own;
	memcpy(v->key, key, DHT_KEY_LEN);
	memcpy(v->data, value, len);
	v->len = len;
}

struct dht_node *fake_dht_init(void)
{
	fake_dht_reset();
	return (struct dht_node *)&node_token;
}

void fake_dht_reset(void)
{
	while (gets) {
		struct fake_get *g = gets;

		gets = g->next;
		free(g);
	}
	memset(values, 0, sizeof(values));
}

void fake_dht_store(const uint8_t key[DHT_KEY_LEN], const uint8_t *value, size_t len)
{
	put_value(key, value, len, false);
}

size_t fake_dht_pending(void)
{
	size_t n = 0;

	for (struct fake_get *g = gets; g; g = g->next)
		n++;
	return n;
}

const uint8_t *fake_dht_own(const uint8_t key[DHT_KEY_LEN], size_t *len)
{
	for (size_t i = 0; i < FAKE_DHT_VALUES; i++) {
		if (values[i].used && values[i].own &&
		    memcmp(values[i].key, key, DHT_KEY_LEN) == 0) {
			*len = values[i].len;
			return values[i].data;
		}
	}
	return NULL;
}

size_t fake_dht_answer(bool ok)
{
	struct fake_get *batch = gets;
	size_t n = 0;

	gets = NULL; /* gets started by the callbacks wait for the next call */
	while (batch) {
		struct fake_get *g = batch;

		batch = g->next;
		for (size_t i = 0; ok && i < FAKE_DHT_VALUES; i++) {
			const struct fake_value *v = &values[i];

			if (!v->used || memcmp(v->key, g->key, DHT_KEY_LEN) != 0)
				continue;
			if (g->filter && !g->filter(g->ud, v->data, v->len))
				continue;
			g->on_value(g->ud, v->data, v->len);
		}
		g->on_done(g->ud, ok);
		free(g);
		n++;
	}
	return n;
}

int __wrap_dht_node_get_filtered(struct dht_node *node, const uint8_t key[DHT_KEY_LEN],
				 dht_node_filter_fn filter, dht_node_value_fn on_value,
				 dht_node_done_fn on_done, void *ud);
int __wrap_dht_node_get(struct dht_node *node, const uint8_t key[DHT_KEY_LEN],
			dht_node_value_fn on_value, dht_node_done_fn on_done, void *ud);
int __wrap_dht_node_put(struct dht_node *node, const uint8_t key[DHT_KEY_LEN], const uint8_t *value,
			size_t len, dht_node_done_fn done, void *ud);
int __wrap_dht_node_cancel_put(struct dht_node *node, const uint8_t key[DHT_KEY_LEN]);
int __wrap_dht_node_put_announced(struct dht_node *node, const uint8_t key[DHT_KEY_LEN]);

int __wrap_dht_node_get_filtered(struct dht_node *node, const uint8_t key[DHT_KEY_LEN],
				 dht_node_filter_fn filter, dht_node_value_fn on_value,
				 dht_node_done_fn on_done, void *ud)
{
	struct fake_get *g, **tail;

	if (node != (struct dht_node *)&node_token)
		fake_abort("a get on a node that is not the fake");
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	memcpy(g->key, key, DHT_KEY_LEN);
	g->filter = filter;
	g->on_value = on_value;
	g->on_done = on_done;
	g->ud = ud;
	for (tail = &gets; *tail; tail = &(*tail)->next)
		;
	*tail = g;
	return 0;
}

int __wrap_dht_node_get(struct dht_node *node, const uint8_t key[DHT_KEY_LEN],
			dht_node_value_fn on_value, dht_node_done_fn on_done, void *ud)
{
	return __wrap_dht_node_get_filtered(node, key, NULL, on_value, on_done, ud);
}

/* done is never called: the daemon passes none (it polls put_announced). */
int __wrap_dht_node_put(struct dht_node *node, const uint8_t key[DHT_KEY_LEN], const uint8_t *value,
			size_t len, dht_node_done_fn done, void *ud)
{
	(void)node;
	(void)ud;
	if (done)
		fake_abort("a put with a done callback: teach the fake to call it");
	if (len == 0 || len > DHT_VALUE_MAX)
		return -EMSGSIZE;
	put_value(key, value, len, true);
	return 0;
}

int __wrap_dht_node_cancel_put(struct dht_node *node, const uint8_t key[DHT_KEY_LEN])
{
	(void)node;
	for (size_t i = 0; i < FAKE_DHT_VALUES; i++) {
		if (values[i].used && values[i].own &&
		    memcmp(values[i].key, key, DHT_KEY_LEN) == 0) {
			values[i].used = false;
			return 0;
		}
	}
	return -ENOENT;
}

int __wrap_dht_node_put_announced(struct dht_node *node, const uint8_t key[DHT_KEY_LEN])
{
	size_t len;

	(void)node;
	return fake_dht_own(key, &len) ? 1 : -ENOENT;
}

void fake_dht_put_record(enum record_kind kind, const uint8_t pk[32], const uint8_t *rec,
			 size_t len)
{
	uint8_t key[RECORD_KEY_LEN];

	record_dht_key(kind, pk, key);
	fake_dht_store(key, rec, len);
}

int fake_dht_publish_endpoint(const uint8_t seed[32], uint32_t ipv4)
{
	struct endpoint_payload p = { .n_addrs = 1, .has_timestamp = true };
	struct sockaddr_in *a = (struct sockaddr_in *)&p.addrs[0];
	uint8_t payload[RECORD_PAYLOAD_MAX], rec[RECORD_MAX], pk[32];
	uint64_t now = (uint64_t)time(NULL);
	int plen, rlen;

	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(ipv4);
	a->sin_port = htons(4000);
	p.timestamp = now;
	plen = endpoint_payload_encode(&p, payload, sizeof(payload));
	if (plen < 0)
		return -1;
	rlen = record_encode(RECORD_ENDPOINT, seed, now, now + 3600, payload, (size_t)plen, rec,
			     sizeof(rec));
	if (rlen < 0)
		return -1;
	record_seed_pk(seed, pk);
	fake_dht_put_record(RECORD_ENDPOINT, pk, rec, (size_t)rlen);
	return 0;
}
