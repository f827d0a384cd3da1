/*
 * dashboard: see dashboard.h.
 *
 * libmicrohttpd serves on 127.0.0.1 (a port the kernel picks) on its own
 * thread, as the metrics endpoint does: the loop renders the state into a
 * snapshot the server hands out, and an answer a user clicks is queued for
 * the loop (an async handle wakes it), which runs it as an internal IPC
 * request with root's rights (the token proved the caller may) and keeps
 * its outcome in the next snapshot.
 *
 * Who gets in: every request names the token (a query parameter for the
 * page, the X-Rayfish-Token header for the API; 128 random bits, new at
 * each daemon start, compared in constant time); the Host header must be
 * this address (a DNS-rebinding page gets nothing); a POST must carry a
 * JSON body, the token header and, if the browser sends one, an Origin of
 * this address, so another site's form or script cannot act (a custom
 * header is never sent cross-origin without a preflight, which is not
 * answered). Only a short list of commands may be queued.
 */
#include "daemon/dashboard.h"
#include "daemon/daemon.h"
#include "daemon/status.h"
#include "util/hex.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define RECENT_MS 60000
#define BODY_MAX 4096
#define QUEUE_MAX 16
#define TOKEN_HEX 33

static const char *const allowed[] = { "accept", "deny", "connections_approve",
				       "connections_deny" };

struct dash_action {
	char cmd[32], network[64], id[40];
};

struct dashboard {
	struct daemon *d;
	struct MHD_Daemon *mhd;
	uint16_t port;
	char token[TOKEN_HEX];
	char origin[64], host[32];
	uv_async_t wake;
	pthread_mutex_t lock;
	char *state; /* the newest rendering, under lock */
	size_t state_len;
	struct dash_action queue[QUEUE_MAX]; /* under lock */
	size_t n_queue;
	atomic_bool looked;
	uint64_t last_look_ms;
	json_t *last_action; /* loop only */
};

struct upload {
	char body[BODY_MAX + 1];
	size_t len;
	bool over;
};

/* ---- the loop's side ---- */

static void on_action_done(void *ud, const json_t *result, const char *error)
{
	struct dashboard *b = ud;

	(void)result;
	json_decref(b->last_action);
	b->last_action = json_pack("{s:b, s:s?}", "ok", error == NULL, "error", error);
}

static void on_list(void *ud, const json_t *result, const char *error)
{
	(void)error;
	*(json_t **)ud = result ? json_deep_copy(result) : NULL;
}

/* What a read command answers (an empty list when it refuses). */
static json_t *list_of(struct daemon *d, const char *cmd, json_t *args)
{
	struct ipc_request *req;
	json_t *out = NULL;

	req = ipc_request_internal(cmd, args, 0, on_list, &out);
	if (req)
		daemon_dispatch(req, d); /* the list commands answer at once */
	return out ? out : json_array();
}

static void render(struct dashboard *b)
{
	struct daemon *d = b->d;
	json_t *st = status_build(d), *reqs = json_array(), *n;
	char *text;
	size_t i;

	json_array_foreach(json_object_get(st, "networks"), i, n)
	{
		const char *name = json_string_value(json_object_get(n, "name"));
		json_t *list, *r;
		size_t k;

		list = list_of(d, "requests", json_pack("{s:s}", "network", name));
		json_array_foreach(json_is_array(list) ? list : NULL, k, r)
		{
			json_t *e = json_deep_copy(r);

			json_object_set_new(e, "network", json_string(name));
			json_array_append_new(reqs, e);
		}
		json_decref(list);
	}
	json_object_set_new(st, "join_requests", reqs);
	json_object_set_new(st, "connect_requests", list_of(d, "connections", NULL));
	json_object_set_new(st, "firewall", list_of(d, "fw_show", NULL));
	json_object_set(st, "last_action", b->last_action ? b->last_action : json_null());
	text = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	if (!text)
		return;
	pthread_mutex_lock(&b->lock);
	free(b->state);
	b->state = text;
	b->state_len = strlen(text);
	pthread_mutex_unlock(&b->lock);
}

static void on_wake(uv_async_t *h)
{
	struct dashboard *b = h->data;
	struct dash_action q[QUEUE_MAX];
	size_t n;

	pthread_mutex_lock(&b->lock);
	n = b->n_queue;
	memcpy(q, b->queue, n * sizeof(q[0]));
	b->n_queue = 0;
	pthread_mutex_unlock(&b->lock);
	for (size_t i = 0; i < n; i++) {
		json_t *args = json_pack("{s:s}", "id", q[i].id);
		struct ipc_request *req;

		if (q[i].network[0])
			json_object_set_new(args, "network", json_string(q[i].network));
		log_info("dashboard: %s %s%s%s", q[i].cmd, q[i].network, q[i].network[0] ? " " : "",
			 q[i].id);
		req = ipc_request_internal(q[i].cmd, args, 0, on_action_done, b);
		if (req)
			daemon_dispatch(req, b->d);
	}
	if (n)
		render(b);
}

void dashboard_tick(struct daemon *d)
{
	struct dashboard *b = d->dashboard;
	uint64_t now = daemon_now_ms(d);

	if (!b)
		return;
	if (atomic_exchange(&b->looked, false))
		b->last_look_ms = now;
	if (now - b->last_look_ms <= RECENT_MS)
		render(b);
}

/* ---- the server's thread ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
			     const char *text, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)text, mode);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; script-src 'unsafe-inline'; style-src "
				"'unsafe-inline'; frame-ancestors 'none'");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result refuse(struct MHD_Connection *c, unsigned code, const char *why)
{
	return reply(c, code, "text/plain", why, strlen(why), MHD_RESPMEM_MUST_COPY);
}

static bool token_ok(const struct dashboard *b, const char *t)
{
	return t && strlen(t) == TOKEN_HEX - 1 && sodium_memcmp(t, b->token, TOKEN_HEX - 1) == 0;
}

static enum MHD_Result queue_action(struct dashboard *b, struct MHD_Connection *c,
				    const struct upload *u)
{
	json_t *j = json_loadb(u->body, u->len, 0, NULL);
	const char *cmd = json_string_value(json_object_get(j, "cmd"));
	const char *net = json_string_value(json_object_get(j, "network"));
	const char *id = json_string_value(json_object_get(j, "id"));
	struct dash_action a = { 0 };
	bool known = false, full;

	for (size_t i = 0; cmd && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		known |= strcmp(cmd, allowed[i]) == 0;
	if (!known || !id || strlen(id) >= sizeof(a.id) ||
	    (net && strlen(net) >= sizeof(a.network))) {
		json_decref(j);
		return refuse(c, MHD_HTTP_BAD_REQUEST, "not an action this page may take\n");
	}
	snprintf(a.cmd, sizeof(a.cmd), "%s", cmd);
	snprintf(a.network, sizeof(a.network), "%s", net ? net : "");
	snprintf(a.id, sizeof(a.id), "%s", id);
	json_decref(j);
	pthread_mutex_lock(&b->lock);
	full = b->n_queue == QUEUE_MAX;
	if (!full)
		b->queue[b->n_queue++] = a;
	pthread_mutex_unlock(&b->lock);
	if (full)
		return refuse(c, MHD_HTTP_SERVICE_UNAVAILABLE, "busy\n");
	uv_async_send(&b->wake);
	return reply(c, MHD_HTTP_ACCEPTED, "application/json", "{\"queued\":true}", 15,
		     MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_len, void **con_cls)
{
	struct dashboard *b = cls;
	struct upload *u = *con_cls;
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	const char *hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Rayfish-Token");
	bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

	(void)version;
	if (!u) { /* the headers: checked before any body is read */
		if (!host || strcmp(host, b->host) != 0)
			return refuse(c, MHD_HTTP_FORBIDDEN, "wrong Host\n");
		if (post && ((origin && strcmp(origin, b->origin) != 0) || !token_ok(b, hdr)))
			return refuse(c, MHD_HTTP_FORBIDDEN, "not from this dashboard\n");
		if (!(u = calloc(1, sizeof(*u))))
			return MHD_NO;
		*con_cls = u;
		return MHD_YES;
	}
	if (*data_len) {
		if (u->len + *data_len > BODY_MAX)
			u->over = true;
		else
			memcpy(u->body + u->len, data, *data_len);
		u->len += u->over ? 0 : *data_len;
		*data_len = 0;
		return MHD_YES;
	}
	if (post) {
		if (u->over || strcmp(url, "/api/action") != 0)
			return refuse(c, u->over ? MHD_HTTP_CONTENT_TOO_LARGE : MHD_HTTP_NOT_FOUND,
				      "no\n");
		return queue_action(b, c, u);
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
		return refuse(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET or POST\n");
	if (strcmp(url, "/") == 0) {
		if (!token_ok(b, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token")))
			return refuse(c, MHD_HTTP_FORBIDDEN,
				      "open the address 'ray dashboard' prints\n");
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", dashboard_page,
			     strlen(dashboard_page), MHD_RESPMEM_PERSISTENT);
	}
	if (strcmp(url, "/api/state") == 0) {
		char *copy = NULL;
		size_t len = 0;

		if (!token_ok(b, hdr))
			return refuse(c, MHD_HTTP_FORBIDDEN, "no token\n");
		atomic_store(&b->looked, true);
		pthread_mutex_lock(&b->lock);
		if (b->state && (copy = malloc(b->state_len + 1))) {
			len = b->state_len;
			memcpy(copy, b->state, len);
		}
		pthread_mutex_unlock(&b->lock);
		if (!copy)
			return refuse(c, MHD_HTTP_SERVICE_UNAVAILABLE, "starting\n");
		return reply(c, MHD_HTTP_OK, "application/json", copy, len, MHD_RESPMEM_MUST_FREE);
	}
	return refuse(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)c;
	(void)why;
	free(*con_cls);
	*con_cls = NULL;
}

/* ---- life cycle ---- */

static int dashboard_open(struct daemon *d)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const union MHD_DaemonInfo *info;
	struct dashboard *b = calloc(1, sizeof(*b));
	uint8_t raw[16];

	if (!b)
		return -ENOMEM;
	b->d = d;
	randombytes_buf(raw, sizeof(raw));
	hex_encode(raw, sizeof(raw), b->token);
	pthread_mutex_init(&b->lock, NULL);
	uv_async_init(d->loop, &b->wake, on_wake);
	b->wake.data = b;
	d->dashboard = b;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	b->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
				  NULL, on_request, b, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				  MHD_OPTION_NOTIFY_COMPLETED, on_done, b,
				  MHD_OPTION_CONNECTION_LIMIT, 32u, MHD_OPTION_CONNECTION_TIMEOUT,
				  30u, MHD_OPTION_END);
	info = b->mhd ? MHD_get_daemon_info(b->mhd, MHD_DAEMON_INFO_BIND_PORT) : NULL;
	if (!info) {
		dashboard_close(d);
		return -EADDRNOTAVAIL;
	}
	b->port = info->port;
	snprintf(b->host, sizeof(b->host), "127.0.0.1:%u", (unsigned)b->port);
	snprintf(b->origin, sizeof(b->origin), "http://127.0.0.1:%u", (unsigned)b->port);
	b->last_look_ms = daemon_now_ms(d);
	render(b);
	log_info("dashboard: serving on http://%s/", b->host);
	return 0;
}

void dashboard_cmd(struct daemon *d, struct ipc_request *req)
{
	char url[128];
	int ret;

	if (!d->dashboard && (ret = dashboard_open(d)) < 0) {
		ipc_reply_error(req, "cannot serve the dashboard on 127.0.0.1: %s", strerror(-ret));
		return;
	}
	snprintf(url, sizeof(url), "http://%s/?token=%s", d->dashboard->host, d->dashboard->token);
	ipc_reply(req, json_pack("{s:s}", "url", url));
}

static void on_wake_closed(uv_handle_t *h)
{
	free(h->data);
}

void dashboard_close(struct daemon *d)
{
	struct dashboard *b = d->dashboard;

	if (!b)
		return;
	if (b->mhd)
		MHD_stop_daemon(b->mhd);
	free(b->state);
	json_decref(b->last_action);
	pthread_mutex_destroy(&b->lock);
	sodium_memzero(b->token, sizeof(b->token));
	d->dashboard = NULL;
	uv_close((uv_handle_t *)&b->wake, on_wake_closed); /* frees b */
}
