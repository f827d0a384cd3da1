/*
 * daemon: see daemon.h. Start-up order matters: settings and identity first
 * (a bad file stops the start with one clear line), resolver recovery, then
 * root drops the capabilities it will not need, then transport, DHT, data
 * plane and saved networks, and the IPC socket last so a client never talks
 * to a half-started daemon. Shutdown runs the other way round.
 */
#include "daemon/daemon.h"
#include "util/limits.h"
#include "daemon/admission.h"
#include "daemon/audit.h"
#include "daemon/blobs.h"
#include "daemon/connect.h"
#include "daemon/control.h"
#include "daemon/join.h"
#include "daemon/datapath.h"
#include "daemon/files.h"
#include "daemon/gate.h"
#include "daemon/lan_discovery.h"
#include "daemon/magicdns.h"
#include "daemon/member_relay.h"
#include "daemon/nat.h"
#include "daemon/network.h"
#include "home/paths.h"
#include "mesh/contact.h"
#include "daemon/peers.h"
#include "daemon/ping.h"
#include "daemon/firewall_policy.h"
#include "daemon/dashboard.h"
#include "daemon/metrics.h"
#include "daemon/records.h"
#include "daemon/restore.h"
#include "daemon/roster.h"
#include "discovery/dht.h"
#include "transport/magicsock.h"
#include "transport/quic.h"
#include "transport/resolve.h"
#include "util/caps.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/logfile.h"

#include <errno.h>
#include <systemd/sd-daemon.h>
#include <libgen.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t daemon_unix_now(void)
{
	return (uint64_t)time(NULL);
}

uint64_t daemon_now_ms(const struct daemon *d)
{
	return uv_now(d->loop);
}

bool daemon_authorized(const struct daemon *d, uid_t uid)
{
	const char *op = settings_get(&d->settings, SET_OPERATOR);

	if (uid == 0 || uid == geteuid())
		return true;
	return *op && (uid_t)strtoul(op, NULL, 10) == uid;
}

/* ipc_server's view of daemon_authorized: whose clients the caps spare. */
static bool ipc_trusted(uid_t uid, void *ud)
{
	return daemon_authorized(ud, uid);
}

static bool settings_live(enum setting_key k)
{
	return k == SET_STUN || k == SET_RELAY || k == SET_RELAY_MEMBERS || k == SET_OPERATOR ||
	       k == SET_HOSTNAME || k == SET_DNS_LISTEN || k == SET_DNS_UPSTREAMS;
}

/* Magic DNS moves to the new address or upstreams by a down and up (the
 * resolver is restored, then pointed at the new address); a server that
 * could not start on the old address gets its second chance here. A
 * failure is told to the caller: the value is saved, nothing serves it. */
static void dns_settings_changed(struct daemon *d, json_t *errors)
{
	char msg[256];
	int ret;

	if (!d->active)
		return; /* `ray up` starts it on the new values */
	magicdns_down(d);
	ret = magicdns_up(d);
	if (ret < 0) {
		snprintf(msg, sizeof(msg), "Magic DNS cannot serve on %s: %s",
			 settings_get(&d->settings, SET_DNS_LISTEN), strerror(-ret));
		json_object_set_new(errors, settings_name(SET_DNS_LISTEN), json_string(msg));
	}
}

/*
 * Only the live keys' values are swapped in: modules may keep pointers into
 * the others (settings_get) for the daemon's lifetime.
 */
void daemon_cmd_reload(struct daemon *d, struct ipc_request *req)
{
	struct settings next;
	bool changed[SET_COUNT];
	json_t *applied, *restart, *errors;
	char err[256];

	if (settings_load(&next, d->home, err, sizeof(err)) < 0) {
		ipc_reply_error(req, "%s", err);
		return;
	}
	applied = json_array();
	restart = json_array();
	errors = json_object();
	for (int k = 0; k < SET_COUNT; k++) {
		changed[k] = strcmp(settings_get(&d->settings, k), settings_get(&next, k)) != 0;
		if (!changed[k])
			continue;
		json_array_append_new(settings_live(k) ? applied : restart,
				      json_string(settings_name(k)));
		if (!settings_live(k))
			continue;
		char *v = d->settings.value[k];

		d->settings.value[k] = next.value[k];
		d->settings.from_env[k] = next.from_env[k];
		next.value[k] = v;
		log_info("settings: %s changed (applied now)", settings_name(k));
	}
	settings_free(&next);
	nat_settings_changed(d, changed[SET_STUN], changed[SET_RELAY]);
	if (changed[SET_RELAY_MEMBERS]) {
		member_relay_open(d);
		d->next_addrs_check_ms = 0;
	}
	if (changed[SET_DNS_LISTEN] || changed[SET_DNS_UPSTREAMS])
		dns_settings_changed(d, errors);
	ipc_reply(req, json_pack("{s:o, s:o, s:o}", "applied", applied, "restart", restart,
				 "errors", errors));
}

/* ---- events: who hears what, in order (see daemon.h) ---- */

typedef void (*daemon_event_fn)(struct daemon *d);
typedef void (*peer_event_fn)(struct daemon *d, struct peer *p);
typedef void (*network_event_fn)(struct daemon *d, struct network *n);
typedef void (*network_gone_fn)(struct daemon *d, const struct network *n);

#define N_OF(list) (sizeof(list) / sizeof(list[0]))

static const daemon_event_fn on_tick_list[] = {
	records_endpoint_tick, peers_tick,   joins_tick,
	networks_tick,         roster_tick,  nat_tick,
	member_relay_tick,     gate_tick,    blobs_tick,
	admission_tick,        files_tick,   connect_tick,
	restore_tick,          metrics_tick, dashboard_tick,
};
static const peer_event_fn on_peer_up_list[] = { network_on_peer_up, join_on_peer_up,
						 files_on_peer_up, connect_on_peer_up };
static const daemon_event_fn on_rosters_changed_list[] = { gate_on_roster, datapath_sync,
							   magicdns_sync, policy_recompile };
static const network_event_fn on_roster_applied_list[] = { policy_on_roster, roster_on_applied };
static const network_event_fn on_network_restored_list[] = { policy_on_roster };
static const network_gone_fn on_network_forgotten_list[] = { policy_forget };
static const daemon_event_fn on_peer_freed_list[] = { policy_recompile };

void daemon_tick(struct daemon *d)
{
	for (size_t i = 0; i < N_OF(on_tick_list); i++)
		on_tick_list[i](d);
}

void daemon_peer_up(struct daemon *d, struct peer *p)
{
	d->connections_up++;
	for (size_t i = 0; i < N_OF(on_peer_up_list); i++)
		on_peer_up_list[i](d, p);
}

void daemon_peer_down(struct daemon *d, struct peer *p, bool left)
{
	network_on_peer_down(d, p, left);
}

void daemon_rosters_changed(struct daemon *d)
{
	for (size_t i = 0; i < N_OF(on_rosters_changed_list); i++)
		on_rosters_changed_list[i](d);
}

void daemon_roster_applied(struct daemon *d, struct network *n)
{
	for (size_t i = 0; i < N_OF(on_roster_applied_list); i++)
		on_roster_applied_list[i](d, n);
}

void daemon_network_restored(struct daemon *d, struct network *n)
{
	for (size_t i = 0; i < N_OF(on_network_restored_list); i++)
		on_network_restored_list[i](d, n);
}

void daemon_network_forgotten(struct daemon *d, const struct network *n)
{
	for (size_t i = 0; i < N_OF(on_network_forgotten_list); i++)
		on_network_forgotten_list[i](d, n);
}

void daemon_peer_freed(struct daemon *d)
{
	for (size_t i = 0; i < N_OF(on_peer_freed_list); i++)
		on_peer_freed_list[i](d);
}

static void on_tick(uv_timer_t *t)
{
	daemon_tick(t->data);
}

/* QUIC events: mesh connections belong to peers.c, blobs ones to blobs.c,
 * files ones to files.c. */
static bool is_mesh(const struct quic_conn *c)
{
	return strcmp(quic_conn_alpn(c), QUIC_ALPN_MESH) == 0;
}

static bool is_files(const struct quic_conn *c)
{
	return strcmp(quic_conn_alpn(c), QUIC_ALPN_FILES) == 0;
}

static int ev_accept(void *ud, const uint8_t pk[LIMIT_KEY_LEN], const char *alpn)
{
	if (strcmp(alpn, QUIC_ALPN_MESH) == 0)
		return gate_accept(ud, pk);
	if (strcmp(alpn, QUIC_ALPN_FILES) == 0)
		return files_accept_conn(ud, pk);
	return blobs_accept(ud);
}

static void ev_confirmed(void *ud, struct quic_conn *c)
{
	if (is_mesh(c) && !gate_on_confirmed(ud, c, quic_conn_peer(c)))
		return;
	if (is_mesh(c))
		peers_on_confirmed(ud, c);
	else if (is_files(c))
		files_on_confirmed(ud, c);
	else
		blobs_on_confirmed(ud, c);
}

static void ev_datagram(void *ud, struct quic_conn *c, const uint8_t *buf, size_t len)
{
	struct peer *p = quic_conn_get_data(c);

	if (p && is_mesh(c))
		datapath_deliver(ud, p, buf, len);
}

static void ev_message(void *ud, struct quic_conn *c, const uint8_t *buf, size_t len)
{
	struct peer *p = quic_conn_get_data(c);

	if (is_files(c))
		files_on_conn_message(ud, c, buf, len);
	else if (!is_mesh(c))
		blobs_on_message(ud, c, buf, len);
	else if (p && gate_message_ok(ud, p))
		control_on_message(ud, p, buf, len);
}

static void ev_closed(void *ud, struct quic_conn *c, enum quic_close_reason reason, uint64_t code)
{
	if (is_mesh(c)) {
		blobs_on_mesh_closed(ud, c);
		peers_on_closed(ud, c, (int)reason, code);
	} else if (is_files(c)) {
		files_on_closed(ud, c);
	} else {
		blobs_on_closed(ud, c);
	}
}

/* A connection has room again: DATAGRAMs on a mesh one (the data plane
 * held a packet), the send queue on a files one. */
static void ev_writable(void *ud, struct quic_conn *c)
{
	if (is_files(c))
		files_on_writable(ud, c);
	else
		datapath_on_writable(ud);
}

const struct quic_events daemon_quic_events = {
	.accept = ev_accept,
	.confirmed = ev_confirmed,
	.datagram = ev_datagram,
	.message = ev_message,
	.closed = ev_closed,
};

static int start_transport(struct daemon *d)
{
	struct magicsock_config mc = { 0 };
	int ret;

	mc.port = (uint16_t)atoi(settings_get(&d->settings, SET_LISTEN_PORT));
	ret = magicsock_new(&d->ms, d->loop, &mc);
	if (ret < 0) {
		log_error("udp: cannot open the socket: %s", strerror(-ret));
		return ret;
	}
	if (!magicsock_fixed_port(d->ms))
		log_warn("udp: port %u is taken; using %u (manual port forwards will not reach this node)",
			 mc.port, magicsock_port(d->ms));
	ret = magicsock_set_disco_key(d->ms, d->id.pk, d->id.sk);
	if (ret < 0) {
		log_error("udp: cannot derive the disco key: %s", strerror(-ret));
		return ret;
	}
	ret = quic_endpoint_new(&d->quic, d->loop, d->ms, d->id.seed, NULL, &daemon_quic_events, d);
	if (ret < 0) {
		log_error("quic: cannot start the endpoint: %s", strerror(-ret));
		return ret;
	}
	quic_endpoint_set_writable(d->quic, ev_writable, d);
	return 0;
}

static int start_dht(struct daemon *d)
{
	const char *boot = settings_get(&d->settings, SET_DHT_BOOTSTRAP);
	int ret = dht_node_init(&d->dht, d->loop, 0, boot, 0);

	if (ret < 0) {
		log_error("dht: cannot start the node: %s", strerror(-ret));
		d->dht = NULL;
		return ret;
	}
	log_info("dht: node started, bootstrap %s", *boot ? boot : "(none)");
	return 0;
}

static void on_closed_handle(uv_handle_t *h)
{
	(void)h;
}

static void daemon_stop(struct daemon *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	sd_notify(0, "STOPPING=1");
	log_info("daemon: stopping");
	ipc_server_close(&d->ipc);
	magicdns_close(d);
	blobs_close_all(d);
	joins_cancel_all(d);
	ping_cancel_all(d);
	files_close(d);
	connect_close(d);
	restore_close(d);
	metrics_close(d);
	dashboard_close(d);
	datapath_down(d);
	policy_close(d);
	if (d->quic)
		quic_endpoint_free(d->quic);
	d->quic = NULL;
	peers_close_all(d);
	networks_close_all(d);
	peer_table_close(&d->table);
	audit_close(d);
	if (d->dht)
		dht_node_close(d->dht);
	d->dht = NULL;
	records_close_all(d);
	nat_close(d);
	lan_stop(d);
	if (d->ms)
		magicsock_free(d->ms);
	d->ms = NULL;
	uv_timer_stop(&d->tick);
	uv_close((uv_handle_t *)&d->tick, on_closed_handle);
	uv_close((uv_handle_t *)&d->sig_term, on_closed_handle);
	uv_close((uv_handle_t *)&d->sig_int, on_closed_handle);
}

static void on_signal(uv_signal_t *s, int signum)
{
	log_info("daemon: signal %d", signum);
	daemon_stop(s->data);
}

static int prepare_dirs(struct daemon *d)
{
	char sockdir[4096];
	int ret;

	ret = fileio_mkdir_p(d->home, 0700);
	if (ret < 0) {
		log_error("cannot create %s: %s", d->home, strerror(-ret));
		return ret;
	}
	snprintf(sockdir, sizeof(sockdir), "%s", d->sock_path);
	ret = fileio_mkdir_p(dirname(sockdir), 0755);
	if (ret < 0)
		log_error("cannot create the socket directory for %s: %s", d->sock_path,
			  strerror(-ret));
	return ret;
}

/*
 * What the daemon does with privilege once started: the TUN device, its
 * addresses and routes over rtnetlink as networks come and go or `ray up`
 * recreates it, socket buffers beyond rmem_max (CAP_NET_ADMIN); Magic DNS
 * on port 53 at every `ray up`, a listen-port below 1024
 * (CAP_NET_BIND_SERVICE). Its files (home, socket, resolv.conf) belong to
 * root, whose uid it keeps, so it needs no CAP_DAC_OVERRIDE for them.
 */
#define DAEMON_CAPS (CAPS_BIT(CAP_NET_ADMIN) | CAPS_BIT(CAP_NET_BIND_SERVICE))

/*
 * Root gives up every other capability before the first socket or thread
 * (capabilities are per thread; the DHT's thread and libuv's pool inherit
 * the reduced set), so no code that parses network input ever holds them.
 * A daemon run by another user has nothing to give up.
 */
static int drop_capabilities(void)
{
	int ret;

	if (geteuid() != 0)
		return 0;
	ret = caps_restrict(DAEMON_CAPS);
	if (ret < 0) {
		log_error("daemon: cannot drop capabilities: %s", strerror(-ret));
		return ret;
	}
	log_info("daemon: capabilities reduced to net_admin and net_bind_service");
	return 0;
}

static int daemon_start(struct daemon *d)
{
	char err[512];
	int ret;

	ret = prepare_dirs(d);
	if (ret < 0)
		return ret;
	ret = settings_load(&d->settings, d->home, err, sizeof(err));
	if (ret < 0) {
		log_error("settings: %s", err);
		return ret;
	}
	ret = identity_load_or_create(d->home, &d->id);
	if (ret < 0) {
		log_error("identity: cannot load %s/secret_key: %s (it must hold exactly 32 bytes; move it away to create a new identity)",
			  d->home, strerror(-ret));
		return ret;
	}
	log_info("daemon: endpoint %s, home %s", d->id.id, d->home);
	audit_open(d);
	magicdns_recover(d);
	ret = drop_capabilities();
	if (ret < 0)
		return ret;
	/* Before the transport: its events reach files.c from the start. */
	ret = files_open(d);
	if (ret < 0 && !d->files)
		return ret;
	if (ret < 0)
		log_warn("files: cannot load the offers made before: %s", strerror(-ret));
	ret = connect_open(d);
	if (ret < 0) {
		log_error("connect: cannot load %s/%s: %s (it must hold exactly 32 bytes; move it away to make a new contact id)",
			  d->home, CONTACT_KEY_FILE, strerror(-ret));
		return ret;
	}
	restore_open(d);
	ret = start_transport(d);
	if (ret < 0)
		return ret;
	metrics_open(d);
	nat_open(d);
	member_relay_open(d);
	lan_start(d);
	ret = start_dht(d);
	if (ret < 0)
		return ret;
	ret = policy_open(d);
	if (ret < 0)
		return ret;
	ret = networks_load(d);
	if (ret < 0)
		return ret;
	ret = datapath_up(d);
	if (ret < 0)
		return ret;
	magicdns_up(d); /* names are a convenience: the mesh runs without them */
	d->active = true;
	ret = ipc_server_init(&d->ipc, d->loop, d->sock_path, daemon_dispatch, ipc_trusted, d);
	if (ret < 0) {
		log_error("ipc: cannot listen on %s: %s", d->sock_path, uv_strerror(ret));
		return ret;
	}
	records_endpoint_tick(d);
	log_info("daemon: ready, listening on %s", d->sock_path);
	return 0;
}

/*
 * How long a stopped daemon's loop may run before name lookups stuck on a
 * silent resolver are abandoned: ample for a lookup that is merely slow,
 * well inside the few seconds systemd (and the lab) give a stop.
 */
#define STOP_GRACE_MS 1500
#define STOP_WAKE_MS 100

static void on_stop_wake(uv_timer_t *t)
{
	(void)t;
}

static void count_live(uv_handle_t *h, void *arg)
{
	if (uv_is_closing(h) || (uv_is_active(h) && uv_has_ref(h)))
		(*(unsigned *)arg)++;
}

/* All that keeps the loop alive is lookups running on libuv's pool (a
 * cancel cannot stop one; it returns when the resolver gives up). The
 * request count is uv_loop_t's public active_reqs field. */
static bool only_lookups_left(uv_loop_t *loop)
{
	unsigned handles = 0;

	uv_walk(loop, count_live, &handles);
	return handles == 0 && resolve_inflight() > 0 &&
	       loop->active_reqs.count == resolve_inflight();
}

/*
 * Runs the stopped daemon's loop until everything has closed, or until
 * STOP_GRACE_MS have passed and only name lookups remain. Returns how many
 * lookups were left running (0: the loop is done and may be closed).
 */
static size_t drain_loop(uv_loop_t *loop)
{
	uint64_t end = uv_now(loop) + STOP_GRACE_MS;
	uv_timer_t wake;

	/* Unreferenced, it keeps nothing alive; it only ends a poll that
	 * would otherwise sleep until a stuck lookup returns. */
	uv_timer_init(loop, &wake);
	uv_timer_start(&wake, on_stop_wake, STOP_WAKE_MS, STOP_WAKE_MS);
	uv_unref((uv_handle_t *)&wake);
	while (uv_run(loop, UV_RUN_ONCE))
		if (uv_now(loop) >= end && only_lookups_left(loop))
			break;
	uv_close((uv_handle_t *)&wake, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return uv_loop_alive(loop) ? resolve_inflight() : 0;
}

#define LOG_REPLY_MAX (8 << 20)

/* Log files, and the crash record of this run and the one before. */
static void open_logs(struct daemon *d)
{
	char dir[4096], crash[4200];
	int ret;

	paths_log_dir(d->home, dir, sizeof(dir));
	ret = logfile_open(dir);
	if (ret < 0)
		log_warn("daemon: no log files in %s: %s (logging to stderr only)", dir,
			 strerror(-ret));
	snprintf(crash, sizeof(crash), "%s/crash.log", d->home);
	if (logfile_crash_take(crash, d->last_crash, sizeof(d->last_crash)) == 1)
		log_warn("daemon: the previous run crashed (%s); its last log lines are in %s.prev",
			 d->last_crash, crash);
	if (logfile_crash_handlers(crash) < 0)
		log_warn("daemon: no crash record: cannot install the signal handlers");
}

void daemon_cmd_logs(struct daemon *d, struct ipc_request *req)
{
	json_int_t since = json_integer_value(json_object_get(req->args, "since_ms"));
	json_int_t max = json_integer_value(json_object_get(req->args, "max"));
	const char *dir = logfile_dir();
	char *text = NULL;
	size_t len = 0;
	json_t *s;
	int ret;

	if (!dir) {
		ipc_reply_error(req,
				"this daemon keeps no log files (see its stderr or the journal)");
		return;
	}
	if (max <= 0 || max > LOG_REPLY_MAX)
		max = LOG_REPLY_MAX;
	ret = logfile_read(dir, since > 0 ? (unsigned long long)since : 0, (size_t)max, &text,
			   &len);
	if (ret < 0) {
		ipc_reply_error(req, "cannot read the log files in %s: %s", dir, strerror(-ret));
		return;
	}
	/* A peer's name in a line may not be UTF-8, which JSON needs. */
	if (!(s = json_stringn(text, len))) {
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)text[i] >= 0x80)
				text[i] = '?';
		s = json_stringn(text, len);
	}
	free(text);
	ipc_reply(req, json_pack("{s:o, s:s, s:s?}", "text", s ? s : json_string(""), "dir", dir,
				 "last_crash", d->last_crash[0] ? d->last_crash : NULL));
}

int daemon_main(void)
{
	struct daemon d;
	uv_loop_t loop;
	size_t lookups;
	int ret;

	log_init(LL_INFO);
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&loop);
	memset(&d, 0, sizeof(d));
	d.loop = &loop;
	d.home = paths_home();
	open_logs(&d);
	d.sock_path = paths_socket();
	d.started_unix = daemon_unix_now();
	d.started_ms = uv_now(&loop);
	peer_table_init(&d.table);
	uv_timer_init(&loop, &d.tick);
	d.tick.data = &d;
	uv_signal_init(&loop, &d.sig_term);
	uv_signal_init(&loop, &d.sig_int);
	d.sig_term.data = d.sig_int.data = &d;
	uv_signal_start(&d.sig_term, on_signal, SIGTERM);
	uv_signal_start(&d.sig_int, on_signal, SIGINT);
	uv_timer_start(&d.tick, on_tick, 1000, 1000);
	ret = daemon_start(&d);
	if (ret < 0)
		daemon_stop(&d);
	else /* systemd (Type=notify) counts the service as started now */
		sd_notifyf(0, "READY=1\nSTATUS=serving on %s", d.sock_path);
	while (!d.stopping && uv_run(&loop, UV_RUN_ONCE))
		;
	lookups = drain_loop(&loop);
	identity_clear(&d.id);
	settings_free(&d.settings);
	if (lookups > 0) {
		log_info("daemon: exiting with %zu name lookups unfinished", lookups);
		log_info("daemon: stopped");
		fflush(NULL);
		/*
		 * Leave without the loop: a lookup blocked in getaddrinfo holds
		 * a pool thread and its request (allocated by resolve.c, owned
		 * by libuv until it returns). exit() would wait for it anyway
		 * (libuv's destructor joins the pool threads), and under ASan
		 * LeakSanitizer, run at exit, would report those requests.
		 * Everything else has been closed and freed by now.
		 */
		_exit(ret == 0 ? 0 : 1);
	}
	if (uv_loop_close(&loop) != 0)
		log_warn("daemon: handles still open at exit");
	log_info("daemon: stopped");
	logfile_close();
	return ret == 0 ? 0 : 1;
}
