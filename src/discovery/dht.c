/*
 * dht: see dht.h. The one rule here: code running on OpenDHT's thread
 * (the *_cb functions) touches nothing but its own operation's immutable
 * fields and the event queue. Every state change happens in the loop thread
 * when it drains that queue.
 *
 * Completion events of gets and puts are embedded in their operation, so a
 * completion can never be lost to a failed allocation on OpenDHT's thread;
 * only value copies are allocated there (and dropped if that fails).
 */
#include "discovery/dht.h"
#include "util/limits.h"
#include "discovery/record.h"
#include "transport/resolve.h"
#include "util/blake3.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <opendht/opendht_c.h>

_Static_assert(DHT_KEY_LEN == HASH_LEN, "OpenDHT infohash size changed");
_Static_assert(DHT_VALUE_MAX >= RECORD_MAX, "DHT values must hold a record");

#define HOUSEKEEPING_MS 1000
#define HOST_MAX 255

enum ev_type {
	EV_VALUE,
	EV_GET_DONE,
	EV_PUT_DONE
};

struct dht_ev {
	struct dht_ev *next;
	enum ev_type type;
	void *op; /* struct dht_get or struct dht_put */
	bool ok;
	size_t len;
	uint8_t *data; /* EV_VALUE: the copy, in the same allocation */
};

struct dht_get {
	struct dht_get *next;
	struct dht_node *node;
	dht_node_value_fn on_value;
	dht_node_done_fn on_done;
	dht_node_filter_fn filter; /* OpenDHT thread; NULL: keep all */
	void *ud;
	unsigned n_values; /* OpenDHT thread only */
	/* What was delivered, by BLAKE3 prefix (OpenDHT thread only): the same
	 * bytes put by many nodes are many values, and must not use up the
	 * cap either. */
	uint8_t seen[DHT_GET_VALUES_MAX][16];
	struct dht_ev done_ev;
};

struct dht_put {
	struct dht_put *next;
	struct dht_node *node;
	dht_infohash key;
	dht_value *value;      /* our reference */
	dht_node_done_fn done; /* cleared once called */
	void *ud;
	bool inflight; /* a dht_runner_put awaits its callback */
	bool announced;
	bool cancelled;    /* unlinked from puts; cancel once id known */
	uint64_t retry_at; /* uv_now ms; 0 = no retry due */
	uint32_t retry_ms; /* the next backoff after a failed announce */
	uint32_t boot_gen; /* node->boot_gen when the attempt started */
	struct dht_ev done_ev;
};

/*
 * A bootstrap entry given by name. OpenDHT would resolve it on a thread of
 * its own that dht_runner_delete joins, so a node closed while the resolver
 * is silent would wait out the resolver's timeout; resolved here instead
 * (resolve.c, libuv's pool, cancellable), OpenDHT only ever sees numbers.
 */
struct dht_boot {
	struct dht_boot *next;
	struct dht_node *node;
	struct resolve_req *req;
	char entry[HOST_MAX + 9]; /* "name:port" / "[name]:port" */
	bool resolved;
	uint64_t retry_at; /* uv_now ms; 0 = no retry due */
	uint32_t retry_ms; /* the next backoff after a failure */
};

struct dht_node {
	uv_loop_t *loop;
	uv_async_t async;
	uv_timer_t timer;
	int handles_open;
	bool closed;
	dht_runner *runner;
	pthread_mutex_t lock; /* guards head/tail only */
	struct dht_ev *head, *tail;
	struct dht_get *gets;
	struct dht_put *puts;   /* published keys */
	struct dht_put *dying;  /* cancelled, waiting for their callback */
	struct dht_boot *boots; /* bootstrap entries given by name */
	uint32_t boot_gen;      /* bumped when a name gives addresses */
};

/* ---- OpenDHT thread side ---- */

static void queue_push(struct dht_node *node, struct dht_ev *ev)
{
	ev->next = NULL;
	pthread_mutex_lock(&node->lock);
	if (node->tail)
		node->tail->next = ev;
	else
		node->head = ev;
	node->tail = ev;
	pthread_mutex_unlock(&node->lock);
	uv_async_send(&node->async);
}

/* True when these bytes were delivered already; else remembers them. */
static bool get_seen(struct dht_get *g, const uint8_t *data, size_t len)
{
	uint8_t h[LIMIT_KEY_LEN];

	blake3_hash(data, len, h);
	for (unsigned i = 0; i < g->n_values; i++)
		if (memcmp(g->seen[i], h, sizeof(g->seen[i])) == 0)
			return true;
	memcpy(g->seen[g->n_values], h, sizeof(g->seen[0]));
	return false;
}

static bool get_value_cb(const dht_value *value, void *ud)
{
	struct dht_get *g = ud;
	dht_data_view v = dht_value_get_data(value);
	struct dht_ev *ev;

	if (g->n_values >= DHT_GET_VALUES_MAX)
		return false; /* enough: a flooded key must not flood us */
	if (v.size == 0 || v.size > DHT_VALUE_MAX)
		return true;
	/* Before counting: junk stored under the key by anyone must not use
	 * up the cap and hide the one real value. */
	if (g->filter && !g->filter(g->ud, v.data, v.size))
		return true;
	if (get_seen(g, v.data, v.size))
		return true;
	ev = malloc(sizeof(*ev) + v.size);
	if (!ev)
		return true;
	ev->type = EV_VALUE;
	ev->op = g;
	ev->ok = true;
	ev->len = v.size;
	ev->data = (uint8_t *)(ev + 1);
	memcpy(ev->data, v.data, v.size);
	g->n_values++;
	queue_push(g->node, ev);
	return true;
}

static void get_done_cb(bool ok, void *ud)
{
	struct dht_get *g = ud;

	g->done_ev.ok = ok;
	queue_push(g->node, &g->done_ev);
}

static void put_done_cb(bool ok, void *ud)
{
	struct dht_put *p = ud;

	p->done_ev.ok = ok;
	queue_push(p->node, &p->done_ev);
}

/* ---- loop thread side ---- */

static void list_remove_put(struct dht_put **head, struct dht_put *p)
{
	for (struct dht_put **pp = head; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			p->next = NULL;
			return;
		}
	}
}

static void list_remove_get(struct dht_get **head, struct dht_get *g)
{
	for (struct dht_get **pp = head; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			g->next = NULL;
			return;
		}
	}
}

static void put_free(struct dht_put *p)
{
	if (p->value)
		dht_value_unref(p->value);
	free(p);
}

static void put_start(struct dht_put *p)
{
	p->inflight = true;
	p->retry_at = 0;
	p->boot_gen = p->node->boot_gen;
	p->done_ev.type = EV_PUT_DONE;
	p->done_ev.op = p;
	dht_runner_put(p->node->runner, &p->key, p->value, put_done_cb, p, true);
}

/* OpenDHT picks the value id inside put, on its thread; our done event is
 * the first moment the loop may read it. Only then can a cancel name it. */
static void put_withdraw(struct dht_put *p)
{
	dht_value_id id = dht_value_get_id(p->value);

	if (id != 0)
		dht_runner_cancel_put(p->node->runner, &p->key, id);
}

/* Whether a bootstrap name is still being looked up for the first time:
 * a put failing meanwhile says only that the node has no peers yet. */
static bool boots_pending(const struct dht_node *node)
{
	for (const struct dht_boot *b = node->boots; b; b = b->next)
		if (b->req && !b->resolved)
			return true;
	return false;
}

static void on_put_done(struct dht_node *node, struct dht_put *p, bool ok)
{
	dht_node_done_fn done = p->done;

	p->inflight = false;
	if (p->cancelled) {
		list_remove_put(&node->dying, p);
		put_withdraw(p);
		put_free(p);
		return;
	}
	if (ok) {
		p->announced = true;
	} else {
		if (p->retry_ms == 0)
			p->retry_ms = DHT_PUT_RETRY_MIN_MS;
		p->retry_at = uv_now(node->loop) + p->retry_ms;
		p->retry_ms =
			p->retry_ms * 2 > DHT_PUT_RETRY_MS ? DHT_PUT_RETRY_MS : p->retry_ms * 2;
	}
	log_debug("dht: put %s %s", dht_infohash_print(&p->key),
		  ok ? "announced" : "failed, will retry");
	if (!ok && (boots_pending(node) || p->boot_gen != node->boot_gen)) {
		/* No peers yet, or peers that came after it started: the
		 * answer is the attempt after the lookup. */
		p->retry_at = uv_now(node->loop);
		return;
	}
	p->done = NULL;
	if (done)
		done(p->ud, ok);
}

static void on_get_done(struct dht_node *node, struct dht_get *g, bool ok)
{
	list_remove_get(&node->gets, g);
	if (g->on_done)
		g->on_done(g->ud, ok);
	free(g);
}

static void ev_dispatch(struct dht_node *node, struct dht_ev *ev)
{
	struct dht_get *g;

	switch (ev->type) {
	case EV_VALUE:
		g = ev->op;
		if (g->on_value)
			g->on_value(g->ud, ev->data, ev->len);
		free(ev);
		break;
	case EV_GET_DONE:
		on_get_done(node, ev->op, ev->ok);
		break;
	case EV_PUT_DONE:
		on_put_done(node, ev->op, ev->ok);
		break;
	}
}

static struct dht_ev *queue_take(struct dht_node *node)
{
	struct dht_ev *batch;

	pthread_mutex_lock(&node->lock);
	batch = node->head;
	node->head = node->tail = NULL;
	pthread_mutex_unlock(&node->lock);
	return batch;
}

/* Puts undelivered events back in front so the final cleanup frees them. */
static void queue_requeue(struct dht_node *node, struct dht_ev *batch)
{
	struct dht_ev *last = batch;

	if (!batch)
		return;
	while (last->next)
		last = last->next;
	pthread_mutex_lock(&node->lock);
	last->next = node->head;
	node->head = batch;
	if (!node->tail)
		node->tail = last;
	pthread_mutex_unlock(&node->lock);
}

static void on_async(uv_async_t *h)
{
	struct dht_node *node = h->data;
	struct dht_ev *batch = queue_take(node), *ev;

	while (batch) {
		if (node->closed) {
			queue_requeue(node, batch);
			return;
		}
		ev = batch;
		batch = ev->next;
		ev_dispatch(node, ev);
	}
}

/* Some node has answered us (see dht_node_status). */
static bool node_connected(struct dht_node *node)
{
	struct sockaddr **addrs = dht_runner_get_public_address(node->runner);
	bool any = addrs && addrs[0];

	for (size_t i = 0; addrs && addrs[i]; i++)
		free(addrs[i]);
	free(addrs);
	return any;
}

static void boot_retry_later(struct dht_boot *b, const char *why)
{
	if (b->retry_ms == 0)
		b->retry_ms = DHT_BOOT_RETRY_MIN_MS;
	b->retry_at = uv_now(b->node->loop) + b->retry_ms;
	log_warn("dht: bootstrap %s: %s; trying again in %u s", b->entry, why,
		 (unsigned)(b->retry_ms / 1000));
	b->retry_ms =
		b->retry_ms * 2 > DHT_BOOT_RETRY_MAX_MS ? DHT_BOOT_RETRY_MAX_MS : b->retry_ms * 2;
}

static void on_boot_resolved(void *arg, int status, const union ms_addr *addrs, size_t n)
{
	struct dht_boot *b = arg;
	char list[RESOLVE_MAX_ADDRS * (MS_ADDR_STRLEN + 2)] = "";
	char a[MS_ADDR_STRLEN];
	size_t len = 0;

	b->req = NULL;
	if (status < 0) {
		boot_retry_later(b, "the name did not resolve");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (dht_node_bootstrap_addr(b->node, &addrs[i].sa) < 0)
			continue;
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "",
					ms_addr_fmt(&addrs[i], a, sizeof(a)));
	}
	b->resolved = true;
	b->retry_at = 0;
	log_info("dht: bootstrap %s is %s", b->entry, len ? list : "(nothing usable)");
	/* Puts that failed for want of peers go again now, not after backoff. */
	if (len)
		b->node->boot_gen++;
	for (struct dht_put *p = b->node->puts; p && len; p = p->next)
		if (!p->inflight && !p->announced && p->retry_at)
			p->retry_at = uv_now(b->node->loop);
}

static void boot_resolve(struct dht_boot *b)
{
	int ret;

	b->retry_at = 0;
	ret = resolve_start(b->node->loop, b->entry, on_boot_resolved, b, &b->req);
	if (ret == -EINVAL)
		log_warn("dht: bootstrap %s is not a name this node can look up; skipped",
			 b->entry);
	else if (ret < 0)
		boot_retry_later(b, strerror(-ret));
}

/* A name that did not resolve is asked for again until the node has
 * found peers some other way; after that it would add nothing. */
static void boots_tick(struct dht_node *node, uint64_t now)
{
	int connected = -1;

	for (struct dht_boot *b = node->boots; b; b = b->next) {
		if (!b->retry_at || b->retry_at > now || b->req)
			continue;
		if (connected < 0)
			connected = node_connected(node);
		if (connected) {
			b->retry_at = 0;
			log_info("dht: bootstrap %s no longer needed (peers found)", b->entry);
			continue;
		}
		boot_resolve(b);
	}
}

static int boot_add(struct dht_node *node, const char *host, const char *port)
{
	struct dht_boot *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->node = node;
	snprintf(b->entry, sizeof(b->entry), strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
	b->next = node->boots;
	node->boots = b;
	boot_resolve(b);
	return 0;
}

static void on_timer(uv_timer_t *h)
{
	struct dht_node *node = h->data;
	uint64_t now = uv_now(node->loop);

	for (struct dht_put *p = node->puts; p; p = p->next)
		if (!p->inflight && p->retry_at && p->retry_at <= now)
			put_start(p);
	boots_tick(node, now);
}

static void put_list_free(struct dht_put **head)
{
	while (*head) {
		struct dht_put *p = *head;

		*head = p->next;
		put_free(p);
	}
}

static void node_free(struct dht_node *node)
{
	struct dht_ev *ev;

	while ((ev = queue_take(node)) != NULL) {
		while (ev) {
			struct dht_ev *next = ev->next;

			if (ev->type == EV_VALUE)
				free(ev);
			ev = next;
		}
	}
	while (node->gets) {
		struct dht_get *g = node->gets;

		node->gets = g->next;
		free(g);
	}
	put_list_free(&node->puts);
	put_list_free(&node->dying);
	while (node->boots) {
		struct dht_boot *b = node->boots;

		node->boots = b->next;
		free(b);
	}
	pthread_mutex_destroy(&node->lock);
	free(node);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct dht_node *node = h->data;

	if (--node->handles_open == 0)
		node_free(node);
}

/* Splits one bootstrap entry into host and port. Accepts "host:port",
 * "[v6]:port", "host" and a bare IPv6 address. */
static int bootstrap_split(const char *s, size_t n, char *host, char *port)
{
	const char *colon = NULL, *h = s;
	size_t hlen = n, plen = 0;

	if (n > 0 && s[0] == '[') {
		const char *end = memchr(s, ']', n);

		if (!end)
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(end - h);
		if ((size_t)(end + 1 - s) < n) {
			if (end[1] != ':')
				return -EINVAL;
			colon = end + 1;
		}
	} else {
		colon = memchr(s, ':', n);
		/* Two colons without brackets: a bare IPv6 address. */
		if (colon && memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)))
			colon = NULL;
		else if (colon)
			hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen > HOST_MAX)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (!colon) {
		strcpy(port, DHT_BOOTSTRAP_PORT);
		return 0;
	}
	plen = n - (size_t)(colon + 1 - s);
	if (plen == 0 || plen > 5)
		return -EINVAL;
	for (size_t i = 0; i < plen; i++)
		if (!isdigit((unsigned char)colon[1 + i]))
			return -EINVAL;
	memcpy(port, colon + 1, plen);
	port[plen] = '\0';
	if (atoi(port) < 1 || atoi(port) > 65535)
		return -EINVAL;
	return 0;
}

static bool host_numeric(const char *host)
{
	struct in6_addr a;

	return inet_pton(AF_INET, host, &a) == 1 || inet_pton(AF_INET6, host, &a) == 1;
}

/* Numbers go to OpenDHT as they are; names are resolved first (boot_add). */
static void bootstrap_one(struct dht_node *node, const char *host, const char *port)
{
	if (!host_numeric(host)) {
		if (boot_add(node, host, port) < 0)
			log_warn("dht: bootstrap %s:%s skipped: out of memory", host, port);
		return;
	}
	log_info("dht: bootstrap %s port %s", host, port);
	dht_runner_bootstrap(node->runner, host, port);
}

/* Walks the comma list; with node NULL it only validates. */
static int bootstrap_each(const char *list, struct dht_node *node)
{
	char host[HOST_MAX + 1], port[6];
	const char *s = list;

	while (s && *s) {
		const char *end = strchr(s, ',');
		size_t n = end ? (size_t)(end - s) : strlen(s);

		while (n > 0 && isspace((unsigned char)*s)) {
			s++;
			n--;
		}
		while (n > 0 && isspace((unsigned char)s[n - 1]))
			n--;
		if (n > 0) {
			if (bootstrap_split(s, n, host, port) < 0)
				return -EINVAL;
			if (node)
				bootstrap_one(node, host, port);
		}
		s = end ? end + 1 : NULL;
	}
	return 0;
}

static int runner_start(struct dht_node *node, uint16_t port, uint32_t network)
{
	dht_runner_config cfg;
	int ret;

	dht_runner_config_default(&cfg);
	cfg.dht_config.node_config.network = network;
	cfg.threaded = true;
	cfg.peer_discovery = false; /* no multicast chatter on the LAN */
	cfg.peer_publish = false;
	node->runner = dht_runner_new();
	if (!node->runner)
		return -ENOMEM;
	ret = dht_runner_run_config(node->runner, port, &cfg);
	if (ret != 0) {
		dht_runner_delete(node->runner);
		node->runner = NULL;
		return -ENOTCONN;
	}
	return 0;
}

int dht_node_init(struct dht_node **out, uv_loop_t *loop, uint16_t port, const char *bootstrap,
		  uint32_t network)
{
	struct dht_node *node;
	dht_infohash id;
	int ret;

	*out = NULL;
	if (bootstrap_each(bootstrap, NULL) < 0)
		return -EINVAL;
	node = calloc(1, sizeof(*node));
	if (!node)
		return -ENOMEM;
	node->loop = loop;
	pthread_mutex_init(&node->lock, NULL);
	ret = uv_async_init(loop, &node->async, on_async);
	if (ret < 0)
		goto fail_free;
	node->async.data = node;
	node->handles_open = 1;
	uv_timer_init(loop, &node->timer);
	node->timer.data = node;
	node->handles_open++;
	ret = runner_start(node, port, network);
	if (ret < 0)
		goto fail_close;
	id = dht_runner_get_node_id(node->runner);
	log_info("dht: node %s on UDP port %u", dht_infohash_print(&id),
		 (unsigned)dht_runner_get_bound_port(node->runner, AF_INET));
	bootstrap_each(bootstrap, node);
	uv_timer_start(&node->timer, on_timer, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
	*out = node;
	return 0;

fail_close:
	/* The handles exist: free the node from their close callbacks. */
	node->closed = true;
	uv_close((uv_handle_t *)&node->async, on_handle_closed);
	uv_close((uv_handle_t *)&node->timer, on_handle_closed);
	return ret;
fail_free:
	pthread_mutex_destroy(&node->lock);
	free(node);
	return ret;
}

void dht_node_close(struct dht_node *node)
{
	if (!node || node->closed)
		return;
	node->closed = true;
	uv_timer_stop(&node->timer);
	/* A lookup still running finishes on the pool without us. */
	for (struct dht_boot *b = node->boots; b; b = b->next) {
		resolve_cancel(b->req);
		b->req = NULL;
	}
	/* Joins OpenDHT's threads: after this no callback can arrive, and
	 * the ones never called were destroyed with their operations. */
	dht_runner_delete(node->runner);
	node->runner = NULL;
	uv_close((uv_handle_t *)&node->async, on_handle_closed);
	uv_close((uv_handle_t *)&node->timer, on_handle_closed);
}

static struct dht_put *put_find(struct dht_node *node, const dht_infohash *key)
{
	for (struct dht_put *p = node->puts; p; p = p->next)
		if (memcmp(p->key.d, key->d, DHT_KEY_LEN) == 0)
			return p;
	return NULL;
}

/* Unlinks p from the published list; frees it now or when its in-flight
 * announce reports back (only then is its value id known). */
static void put_drop(struct dht_node *node, struct dht_put *p)
{
	list_remove_put(&node->puts, p);
	p->done = NULL;
	if (p->inflight) {
		p->cancelled = true;
		p->next = node->dying;
		node->dying = p;
		return;
	}
	put_withdraw(p);
	put_free(p);
}

int dht_node_put(struct dht_node *node, const uint8_t key[DHT_KEY_LEN], const uint8_t *value,
		 size_t len, dht_node_done_fn done, void *ud)
{
	struct dht_put *p, *old;

	if (node->closed)
		return -ESHUTDOWN;
	if (!value || len == 0 || len > DHT_VALUE_MAX)
		return -EMSGSIZE;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->value = dht_value_new(value, len);
	if (!p->value) {
		free(p);
		return -ENOMEM;
	}
	p->node = node;
	memcpy(p->key.d, key, DHT_KEY_LEN);
	p->done = done;
	p->ud = ud;
	old = put_find(node, &p->key);
	if (old)
		put_drop(node, old);
	p->next = node->puts;
	node->puts = p;
	put_start(p);
	return 0;
}

int dht_node_cancel_put(struct dht_node *node, const uint8_t key[DHT_KEY_LEN])
{
	dht_infohash h;
	struct dht_put *p;

	if (node->closed)
		return -ESHUTDOWN;
	memcpy(h.d, key, DHT_KEY_LEN);
	p = put_find(node, &h);
	if (!p)
		return -ENOENT;
	put_drop(node, p);
	return 0;
}

int dht_node_put_announced(struct dht_node *node, const uint8_t key[DHT_KEY_LEN])
{
	dht_infohash h;
	struct dht_put *p;

	if (node->closed)
		return -ESHUTDOWN;
	memcpy(h.d, key, DHT_KEY_LEN);
	p = put_find(node, &h);
	if (!p)
		return -ENOENT;
	return p->announced ? 1 : 0;
}

int dht_node_get(struct dht_node *node, const uint8_t key[DHT_KEY_LEN], dht_node_value_fn on_value,
		 dht_node_done_fn on_done, void *ud)
{
	return dht_node_get_filtered(node, key, NULL, on_value, on_done, ud);
}

int dht_node_get_filtered(struct dht_node *node, const uint8_t key[DHT_KEY_LEN],
			  dht_node_filter_fn filter, dht_node_value_fn on_value,
			  dht_node_done_fn on_done, void *ud)
{
	struct dht_get *g;
	dht_infohash h;

	if (node->closed)
		return -ESHUTDOWN;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->node = node;
	g->on_value = on_value;
	g->on_done = on_done;
	g->filter = filter;
	g->ud = ud;
	g->done_ev.type = EV_GET_DONE;
	g->done_ev.op = g;
	g->next = node->gets;
	node->gets = g;
	memcpy(h.d, key, DHT_KEY_LEN);
	dht_runner_get(node->runner, &h, get_value_cb, get_done_cb, g);
	return 0;
}

int dht_node_bootstrap_addr(struct dht_node *node, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN], port[6];
	const void *ip;
	uint16_t p;

	if (node->closed)
		return -ESHUTDOWN;
	if (sa->sa_family == AF_INET) {
		ip = &((const struct sockaddr_in *)sa)->sin_addr;
		p = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		ip = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		p = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	} else {
		return -EAFNOSUPPORT;
	}
	if (p == 0 || !inet_ntop(sa->sa_family, ip, host, sizeof(host)))
		return -EINVAL;
	snprintf(port, sizeof(port), "%u", (unsigned)p);
	/* Numeric host and service: OpenDHT's getaddrinfo never asks DNS. */
	dht_runner_bootstrap(node->runner, host, port);
	return 0;
}

void dht_node_status(struct dht_node *node, struct dht_node_status *st)
{
	struct sockaddr **addrs;

	memset(st, 0, sizeof(*st));
	if (!node || node->closed)
		return;
	st->running = dht_runner_is_running(node->runner);
	st->port = dht_runner_get_bound_port(node->runner, AF_INET);
	addrs = dht_runner_get_public_address(node->runner);
	for (size_t i = 0; addrs && addrs[i]; i++) {
		st->public_addrs++;
		free(addrs[i]);
	}
	free(addrs);
	st->connected = st->public_addrs > 0;
	for (struct dht_put *p = node->puts; p; p = p->next) {
		st->puts++;
		if (p->announced)
			st->puts_announced++;
	}
	for (struct dht_boot *b = node->boots; b; b = b->next)
		if (!b->resolved)
			st->bootstrap_unresolved++;
}
