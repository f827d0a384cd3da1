/*
 * metrics: see metrics.h.
 *
 * libmicrohttpd serves on its own thread, so a scrape never waits for the
 * loop and the loop never waits for a scrape: the loop renders the page
 * (metrics_format over the status document) into a snapshot, and the
 * server thread hands out a copy of the newest one. The snapshot is made
 * every tick while someone scraped in the last RECENT_MS, else every
 * IDLE_EVERY_MS, so an unscraped node pays almost nothing. Only GET
 * /metrics is answered (404 for other paths, 405 for other methods); at
 * most MAX_CONNS clients, each with CONN_TIMEOUT_S to finish.
 */
#include "daemon/metrics.h"
#include "cli/git_rev.h"
#include "daemon/daemon.h"
#include "daemon/status.h"
#include "discovery/dht.h"
#include "dns/server.h"
#include "home/settings.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define RECENT_MS 30000
#define IDLE_EVERY_MS 15000
#define MAX_CONNS 16
#define CONN_TIMEOUT_S 10

static uint16_t ss_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
					       : ((const struct sockaddr_in *)ss)->sin_port);
}

struct metrics {
	struct MHD_Daemon *mhd;
	pthread_mutex_t lock;
	char *page; /* the newest rendering, under lock */
	size_t page_len;
	atomic_ullong scrapes;
	atomic_ullong last_scrape_ms; /* loop time of the last scrape, as the loop saw it */
	atomic_bool scraped;          /* since the last rendering */
	uint64_t next_ms;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *text,
			     size_t len, enum MHD_ResponseMemoryMode mode, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)text, mode);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* On the server's thread. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **con_cls)
{
	static const char nf[] = "not found: the metrics are at /metrics\n";
	static const char na[] = "only GET\n";
	struct metrics *m = cls;
	char *copy;
	size_t len;

	(void)version;
	(void)upload;
	if (!*con_cls) { /* the first call only has the headers */
		*con_cls = m;
		return MHD_YES;
	}
	if (*upload_len) {
		*upload_len = 0; /* a body is read and dropped */
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, na, sizeof(na) - 1,
			     MHD_RESPMEM_PERSISTENT, "text/plain");
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, nf, sizeof(nf) - 1, MHD_RESPMEM_PERSISTENT,
			     "text/plain");
	pthread_mutex_lock(&m->lock);
	len = m->page_len;
	copy = m->page ? malloc(len + 1) : NULL;
	if (copy)
		memcpy(copy, m->page, len);
	pthread_mutex_unlock(&m->lock);
	atomic_fetch_add(&m->scrapes, 1);
	atomic_store(&m->scraped, true);
	if (!copy)
		return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "starting\n", 9,
			     MHD_RESPMEM_PERSISTENT, "text/plain");
	return reply(conn, MHD_HTTP_OK, copy, len, MHD_RESPMEM_MUST_FREE,
		     "text/plain; version=0.0.4; charset=utf-8");
}

/* The page as of now (malloc'd), or NULL. */
static char *page_now(struct daemon *d)
{
	struct metrics *m = d->metrics;
	struct metrics_extra x = {
		.joins_ok = d->joins_ok,
		.joins_failed = d->joins_failed,
		.admitted = d->admitted,
		.connections_up = d->connections_up,
		.scrapes = m ? atomic_load(&m->scrapes) : 0,
	};
	json_t *st = status_build(d);
	char *page;

	if (d->dht) {
		struct dht_node_status ds;

		dht_node_status(d->dht, &ds);
		x.dht_connected = ds.connected;
		x.dht_puts = ds.puts;
		x.dht_puts_announced = ds.puts_announced;
	}
	page = metrics_format(st, &x, RAYFISH_GIT);
	json_decref(st);
	return page;
}

static void render(struct daemon *d)
{
	struct metrics *m = d->metrics;
	char *page = page_now(d);

	if (!page)
		return;
	pthread_mutex_lock(&m->lock);
	free(m->page);
	m->page = page;
	m->page_len = strlen(page);
	pthread_mutex_unlock(&m->lock);
}

void metrics_tick(struct daemon *d)
{
	struct metrics *m = d->metrics;
	uint64_t now = daemon_now_ms(d);

	if (!m)
		return;
	if (atomic_exchange(&m->scraped, false))
		atomic_store(&m->last_scrape_ms, now);
	if (now < m->next_ms && now - atomic_load(&m->last_scrape_ms) > RECENT_MS)
		return;
	m->next_ms = now + IDLE_EVERY_MS;
	render(d);
}

int metrics_open(struct daemon *d)
{
	const char *listen = settings_get(&d->settings, SET_METRICS_LISTEN);
	struct sockaddr_storage ss;
	struct metrics *m;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	if (!listen || strcmp(listen, "off") == 0)
		return 0;
	if (dns_addr_parse(listen, 0, &ss) < 0 || ss_port(&ss) == 0) {
		log_warn("metrics: metrics-listen '%s' is not a numeric ip:port; no metrics endpoint",
			 listen);
		return -EINVAL;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (!(m = calloc(1, sizeof(*m))))
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	d->metrics = m;
	render(d);
	m->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR,
				  (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned)MAX_CONNS, MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned)CONN_TIMEOUT_S, MHD_OPTION_END);
	if (!m->mhd) {
		log_warn("metrics: cannot serve on %s (taken, or not an address here); no metrics endpoint",
			 listen);
		metrics_close(d);
		return -EADDRINUSE;
	}
	log_info("metrics: Prometheus endpoint on http://%s/metrics", listen);
	return 0;
}

void metrics_cmd(struct daemon *d, struct ipc_request *req)
{
	char *page = page_now(d);

	if (!page) {
		ipc_reply_error(req, "cannot render the metrics");
		return;
	}
	ipc_reply(req, json_pack("{s:s}", "text", page));
	free(page);
}

void metrics_close(struct daemon *d)
{
	struct metrics *m = d->metrics;

	if (!m)
		return;
	if (m->mhd)
		MHD_stop_daemon(m->mhd);
	free(m->page);
	pthread_mutex_destroy(&m->lock);
	free(m);
	d->metrics = NULL;
}
