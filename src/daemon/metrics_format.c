/*
 * metrics_format: see metrics.h. Pure: a status document (status.h) and a
 * few counters in, Prometheus text exposition format (version 0.0.4) out.
 *
 * Per-peer series carry the labels network and peer (the hostname); the
 * counters of the status sections (dataplane, disco, gate, blobs) are
 * flattened into rayfish_<section>_<field> with their nested objects'
 * names joined by '_', typed untyped (the status does not say which are
 * counters). Label values are escaped as the format says (backslash,
 * double quote, newline).
 */
#include "daemon/metrics.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct out {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		{
			size_t want = (o->cap + (size_t)n + 1) * 2;
			char *grown = realloc(o->buf, want);

			if (!grown) {
				o->failed = true;
				return;
			}
			o->buf = grown;
			o->cap = want;
		}
	}
}

/* A label value as the exposition format spells it. */
static void label_value(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	for (; s && *s && n + 3 < cap; s++) {
		if (*s == '\\' || *s == '"') {
			out[n++] = '\\';
			out[n++] = *s;
		} else if (*s == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else {
			out[n++] = *s;
		}
	}
	out[n] = 0;
}

/* [a-zA-Z0-9_] only: anything else becomes '_'. A status field whose name
 * reads as a unit to Prometheus ("us": microseconds) is renamed. */
static void metric_part(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	if (strcmp(s, "not_for_us") == 0)
		s = "not_for_this_node";

	for (; *s && n + 1 < cap; s++)
		out[n++] = isalnum((unsigned char)*s) ? *s : '_';
	out[n] = 0;
}

static void header(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void flatten(struct out *o, const char *prefix, const json_t *obj)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v)
	{
		char part[128], name[512];

		metric_part(key, part, sizeof(part));
		snprintf(name, sizeof(name), "%s_%s", prefix, part);
		if (json_is_object(v)) {
			flatten(o, name, v);
		} else if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v)) {
			put(o,
			    "# HELP %s ray status --json field %s\n# TYPE %s untyped\n%s %.17g\n",
			    name, name + strlen("rayfish_"), name, name,
			    json_is_boolean(v) ? (json_is_true(v) ? 1.0 : 0.0)
					       : json_number_value(v));
		}
	}
}

static void peers_series(struct out *o, const json_t *nets, const char *field, const char *name,
			 double scale)
{
	const json_t *n, *p;
	size_t i, j;

	json_array_foreach((json_t *)nets, i, n)
	{
		char net[160], peer[160];

		label_value(json_string_value(json_object_get(n, "name")), net, sizeof(net));
		json_array_foreach(json_object_get(n, "peers"), j, p)
		{
			const json_t *v = json_object_get(p, field);

			if (!json_is_number(v) && !json_is_boolean(v))
				continue;
			label_value(json_string_value(json_object_get(p, "hostname")), peer,
				    sizeof(peer));
			put(o, "%s{network=\"%s\",peer=\"%s\"} %.17g\n", name, net, peer,
			    json_is_boolean(v) ? (json_is_true(v) ? 1.0 : 0.0)
					       : json_number_value(v) * scale);
		}
	}
}

static void paths(struct out *o, const json_t *nets)
{
	static const char *const names[] = { "direct", "relay", "none" };
	double count[3] = { 0 };
	const json_t *n, *p;
	size_t i, j;

	json_array_foreach((json_t *)nets, i, n)
		json_array_foreach(json_object_get(n, "peers"), j, p)
	{
		const char *path = json_string_value(json_object_get(p, "path"));

		for (int k = 0; k < 3; k++)
			if (path && strcmp(path, names[k]) == 0)
				count[k]++;
	}
	header(o, "rayfish_peers", "gauge", "Peers of every network by path");
	for (int k = 0; k < 3; k++)
		put(o, "rayfish_peers{path=\"%s\"} %.17g\n", names[k], count[k]);
}

char *metrics_format(const json_t *st, const struct metrics_extra *x, const char *git)
{
	const json_t *nets = json_object_get(st, "networks"), *v;
	struct out o = { 0 };
	char ver[64], rev[64];
	const char *key;

	label_value(json_string_value(json_object_get(st, "version")), ver, sizeof(ver));
	label_value(git, rev, sizeof(rev));
	header(&o, "rayfish_build_info", "gauge", "The running build (always 1)");
	put(&o, "rayfish_build_info{version=\"%s\",git=\"%s\"} 1\n", ver, rev);
	header(&o, "rayfish_active", "gauge", "Whether the data plane is up (ray up)");
	put(&o, "rayfish_active %d\n", json_is_true(json_object_get(st, "active")) ? 1 : 0);
	header(&o, "rayfish_networks", "gauge", "Networks this node is in");
	put(&o, "rayfish_networks %zu\n", json_array_size(nets));
	paths(&o, nets);
	header(&o, "rayfish_peer_online", "gauge", "Whether a peer's mesh connection is up");
	peers_series(&o, nets, "online", "rayfish_peer_online", 1);
	header(&o, "rayfish_peer_rtt_seconds", "gauge", "Smoothed round-trip time to a peer");
	peers_series(&o, nets, "rtt_ms", "rayfish_peer_rtt_seconds", 0.001);
	header(&o, "rayfish_peer_tx_bytes_total", "counter", "Data-plane bytes sent to a peer");
	peers_series(&o, nets, "tx_bytes", "rayfish_peer_tx_bytes_total", 1);
	header(&o, "rayfish_peer_rx_bytes_total", "counter",
	       "Data-plane bytes received from a peer");
	peers_series(&o, nets, "rx_bytes", "rayfish_peer_rx_bytes_total", 1);
	header(&o, "rayfish_peer_tx_packets_total", "counter", "Data-plane packets sent to a peer");
	peers_series(&o, nets, "tx_packets", "rayfish_peer_tx_packets_total", 1);
	header(&o, "rayfish_peer_rx_packets_total", "counter",
	       "Data-plane packets received from a peer");
	peers_series(&o, nets, "rx_packets", "rayfish_peer_rx_packets_total", 1);
	header(&o, "rayfish_pending", "gauge", "What waits for the user, by kind");
	json_object_foreach(json_object_get(st, "pending"), key, v)
	{
		char kind[64];

		label_value(key, kind, sizeof(kind));
		put(&o, "rayfish_pending{kind=\"%s\"} %.17g\n", kind, json_number_value(v));
	}
	header(&o, "rayfish_address_clashes", "gauge",
	       "Mesh addresses two networks give to two identities");
	put(&o, "rayfish_address_clashes %.17g\n",
	    json_number_value(json_object_get(st, "address_clashes")));
	header(&o, "rayfish_dht_connected", "gauge", "Whether a DHT node has answered");
	put(&o, "rayfish_dht_connected %d\n", x->dht_connected ? 1 : 0);
	header(&o, "rayfish_dht_puts", "gauge", "Keys kept published in the DHT");
	put(&o, "rayfish_dht_puts %zu\n", x->dht_puts);
	header(&o, "rayfish_dht_puts_announced", "gauge", "Of them, announced successfully");
	put(&o, "rayfish_dht_puts_announced %zu\n", x->dht_puts_announced);
	header(&o, "rayfish_joins_total", "counter", "Joins this node finished, by outcome");
	put(&o, "rayfish_joins_total{outcome=\"joined\"} %llu\n", x->joins_ok);
	put(&o, "rayfish_joins_total{outcome=\"failed\"} %llu\n", x->joins_failed);
	header(&o, "rayfish_admissions_total", "counter", "Joiners this coordinator admitted");
	put(&o, "rayfish_admissions_total %llu\n", x->admitted);
	header(&o, "rayfish_mesh_connections_total", "counter",
	       "Mesh connections that came up (handshakes completed)");
	put(&o, "rayfish_mesh_connections_total %llu\n", x->connections_up);
	header(&o, "rayfish_scrapes_total", "counter", "Scrapes of this endpoint");
	put(&o, "rayfish_scrapes_total %llu\n", x->scrapes);
	flatten(&o, "rayfish_dataplane", json_object_get(st, "dataplane"));
	flatten(&o, "rayfish_disco", json_object_get(st, "disco"));
	flatten(&o, "rayfish_relay", json_object_get(st, "relay"));
	flatten(&o, "rayfish_gate", json_object_get(st, "gate"));
	flatten(&o, "rayfish_blobs", json_object_get(st, "blobs"));
	if (o.failed) {
		free(o.buf);
		return NULL;
	}
	return o.buf;
}
