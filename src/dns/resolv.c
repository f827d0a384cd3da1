/*
 * resolv: see resolv.h. The state file is JSON {"mode", "ifname", "conf",
 * "absent"} written atomically before the system is touched; the backup
 * holds the original resolv.conf bytes. Commands run through fork + execvp
 * with a fixed argv (no shell), output discarded.
 */
#include "dns/resolv.h"
#include "util/fileio.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CONF_MAX (1 << 20)
#define RESOLVED_CONF "/run/systemd/resolve/resolv.conf"

/* Routing-only domains on the TUN link: ~ray and the mesh reverse zones. */
#define N_ROUTE_DOMAINS (1 + 64 + 2)

static const char *mode_name(enum dns_resolv_mode m)
{
	switch (m) {
	case DNS_RESOLV_RESOLVED:
		return "resolved";
	case DNS_RESOLV_RESOLVCONF:
		return "resolvconf";
	case DNS_RESOLV_FILE:
		return "file";
	default:
		return "none";
	}
}

static enum dns_resolv_mode mode_parse(const char *s)
{
	if (s && strcmp(s, "resolved") == 0)
		return DNS_RESOLV_RESOLVED;
	if (s && strcmp(s, "resolvconf") == 0)
		return DNS_RESOLV_RESOLVCONF;
	if (s && strcmp(s, "file") == 0)
		return DNS_RESOLV_FILE;
	return DNS_RESOLV_AUTO;
}

static void path_in(char *out, size_t len, const char *home, const char *name)
{
	snprintf(out, len, "%s/%s", home, name);
}

static int ip_valid(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int ifname_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

size_t dns_resolv_nameservers(const char *text, const char *skip, char out[][DNS_RESOLV_IPLEN],
			      size_t max)
{
	size_t n = 0;

	while (text && *text && n < max) {
		const char *eol = strchr(text, '\n');
		size_t len = eol ? (size_t)(eol - text) : strlen(text);
		char line[256], word[16], ip[64];
		int dup = 0;

		if (len < sizeof(line)) {
			memcpy(line, text, len);
			line[len] = 0;
			if (sscanf(line, " %15s %63s", word, ip) == 2 &&
			    strcmp(word, "nameserver") == 0 && strlen(ip) < DNS_RESOLV_IPLEN &&
			    ip_valid(ip) && (!skip || strcmp(ip, skip) != 0)) {
				for (size_t i = 0; i < n && !dup; i++)
					dup = strcmp(out[i], ip) == 0;
				if (!dup)
					memcpy(out[n++], ip, strlen(ip) + 1);
			}
		}
		text = eol ? eol + 1 : text + len;
	}
	return n;
}

/* Runs argv[0] from PATH; feeds input (may be NULL) on stdin. */
static int run(char *const argv[], const char *input)
{
	int in[2] = { -1, -1 }, status;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(in[0]);
		close(in[1]);
		return -errno;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(in[0], 0);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	if (input) {
		/* A child that exits early must not kill us with SIGPIPE. */
		sigset_t set, old;

		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		pthread_sigmask(SIG_BLOCK, &set, &old);
		if (write(in[1], input, strlen(input)) < 0)
			log_debug("dns: %s did not read its input", argv[0]);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	close(in[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_warn("dns: %s %s failed (status %d)", argv[0], argv[1] ? argv[1] : "", status);
		return -EIO;
	}
	return 0;
}

static int in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (!path)
		path = "/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t n = colon ? (size_t)(colon - path) : strlen(path);

		if (n > 0 && n + strlen(prog) + 2 <= sizeof(buf)) {
			memcpy(buf, path, n);
			snprintf(buf + n, sizeof(buf) - n, "/%s", prog);
			if (access(buf, X_OK) == 0)
				return 1;
		}
		path += n + (colon ? 1 : 0);
	}
	return 0;
}

/* Inside a network namespace other than init's, the host's resolved and
 * resolvconf serve another namespace's links. */
static int in_own_netns(void)
{
	struct stat a, b;

	if (stat("/proc/self/ns/net", &a) < 0 || stat("/proc/1/ns/net", &b) < 0)
		return 0;
	return a.st_ino != b.st_ino || a.st_dev != b.st_dev;
}

void dns_resolv_init(struct dns_resolv *st, const char *conf_path)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->conf, sizeof(st->conf), "%s", conf_path ? conf_path : DNS_RESOLV_CONF);
	st->own_netns = in_own_netns();
}

static enum dns_resolv_mode detect(const struct dns_resolv *st)
{
	char *const active[] = { "systemctl", "is-active", "--quiet", "systemd-resolved", NULL };

	if (st->own_netns)
		return DNS_RESOLV_FILE;
	if (in_path("resolvectl") && in_path("systemctl") && run(active, NULL) == 0)
		return DNS_RESOLV_RESOLVED;
	if (in_path("resolvconf"))
		return DNS_RESOLV_RESOLVCONF;
	return DNS_RESOLV_FILE;
}

static int state_write(const char *home, const struct dns_resolv *st, int absent)
{
	char path[PATH_MAX];
	json_t *o;
	char *text;
	int ret;

	o = json_pack("{s:s, s:s, s:s, s:b}", "mode", mode_name(st->mode), "ifname", st->ifname,
		      "conf", st->conf, "absent", absent);
	text = o ? json_dumps(o, JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (!text)
		return -ENOMEM;
	path_in(path, sizeof(path), home, "resolv.state");
	ret = fileio_write_atomic(path, text, strlen(text), 0600);
	free(text);
	return ret;
}

/* Writes data over path in place: the same inode, whatever is mounted. */
static int write_in_place(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int ret = 0;

	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		data += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		ret = -errno;
out:
	close(fd);
	return ret;
}

/* Our marker, our server, then every line but the old nameservers. */
static char *conf_compose(const char *orig, const char *server)
{
	size_t cap = strlen(orig) + strlen(server) + 128;
	char *out = malloc(cap);
	size_t n;

	if (!out)
		return NULL;
	n = (size_t)snprintf(out, cap, "%s\nnameserver %s\n", DNS_RESOLV_MARKER, server);
	while (*orig) {
		const char *eol = strchr(orig, '\n');
		size_t len = eol ? (size_t)(eol - orig) : strlen(orig);
		const char *p = orig;

		while (p < orig + len && (*p == ' ' || *p == '\t'))
			p++;
		if (!((size_t)(orig + len - p) >= 10 && strncmp(p, "nameserver", 10) == 0 &&
		      (p[10] == ' ' || p[10] == '\t'))) {
			memcpy(out + n, orig, len);
			n += len;
			out[n++] = '\n';
		}
		orig = eol ? eol + 1 : orig + len;
	}
	out[n] = 0;
	return out;
}

static int is_ours(const char *text)
{
	return strncmp(text, DNS_RESOLV_MARKER, strlen(DNS_RESOLV_MARKER)) == 0;
}

static int file_apply(const char *home, const char *server, struct dns_resolv *st)
{
	char bpath[PATH_MAX];
	char *orig = NULL, *text = NULL;
	size_t len = 0;
	int ret, absent = 0;

	ret = fileio_read_all(st->conf, CONF_MAX, &orig, &len);
	if (ret == -ENOENT) {
		absent = 1;
		orig = strdup("");
		ret = orig ? 0 : -ENOMEM;
	}
	if (ret < 0)
		return ret;
	st->n_prev = dns_resolv_nameservers(orig, server, st->prev, DNS_RESOLV_MAX_NS);
	path_in(bpath, sizeof(bpath), home, "resolv.conf.backup");
	ret = state_write(home, st, absent);
	if (ret == 0)
		ret = fileio_write_atomic(bpath, orig, len, 0644);
	text = ret == 0 ? conf_compose(orig, server) : NULL;
	if (ret == 0 && !text)
		ret = -ENOMEM;
	if (ret == 0)
		ret = write_in_place(st->conf, text, strlen(text));
	if (ret < 0 && !absent) {
		/* A half-written file gets the original bytes back. */
		write_in_place(st->conf, orig, len);
	}
	free(orig);
	free(text);
	return ret;
}

static int file_restore(const char *home, const char *conf, int absent)
{
	char bpath[PATH_MAX];
	char *backup = NULL, *cur = NULL;
	size_t blen = 0, clen = 0;
	int ret;

	path_in(bpath, sizeof(bpath), home, "resolv.conf.backup");
	ret = fileio_read_all(bpath, CONF_MAX, &backup, &blen);
	if (ret == -ENOENT)
		return 0; /* crashed before the file was touched */
	if (ret < 0)
		return ret;
	if (fileio_read_all(conf, CONF_MAX, &cur, &clen) == 0 && is_ours(cur)) {
		if (absent)
			ret = unlink(conf) < 0 ? -errno : 0;
		else
			ret = write_in_place(conf, backup, blen);
	} else {
		log_warn("dns: %s was changed by someone else; leaving it", conf);
	}
	if (ret == 0)
		unlink(bpath);
	free(backup);
	free(cur);
	return ret;
}

static int resolved_apply(const char *server, struct dns_resolv *st)
{
	char *dns[] = { "resolvectl", "dns", st->ifname, (char *)server, NULL };
	char *route[] = { "resolvectl", "default-route", st->ifname, "false", NULL };
	char *dom[3 + N_ROUTE_DOMAINS + 1];
	char names[N_ROUTE_DOMAINS][32];
	int k = 0, ret;

	dom[k++] = "resolvectl";
	dom[k++] = "domain";
	dom[k++] = st->ifname;
	snprintf(names[0], sizeof(names[0]), "~ray");
	for (int b = 64; b <= 127; b++)
		snprintf(names[b - 63], sizeof(names[0]), "~%d.100.in-addr.arpa", b);
	snprintf(names[65], sizeof(names[0]), "~2.0.ip6.arpa");
	snprintf(names[66], sizeof(names[0]), "~3.0.ip6.arpa");
	for (int i = 0; i < N_ROUTE_DOMAINS; i++)
		dom[k++] = names[i];
	dom[k] = NULL;
	ret = run(dns, NULL);
	if (ret == 0)
		ret = run(dom, NULL);
	if (ret == 0 && run(route, NULL) < 0)
		log_debug("dns: resolvectl default-route unsupported; continuing");
	return ret;
}

static int resolved_restore(const char *ifname)
{
	char *argv[] = { "resolvectl", "revert", (char *)ifname, NULL };

	return run(argv, NULL);
}

static int resolvconf_apply(const char *server, struct dns_resolv *st)
{
	char *argv[] = { "resolvconf", "-a", st->ifname, NULL };
	char input[96];

	snprintf(input, sizeof(input), "nameserver %s\n", server);
	return run(argv, input);
}

static int resolvconf_restore(const char *ifname)
{
	char *argv[] = { "resolvconf", "-d", (char *)ifname, NULL };

	return run(argv, NULL);
}

/* The system's resolvers before we join in. */
static void collect_prev(const char *server, struct dns_resolv *st)
{
	char *text = NULL;
	size_t len;

	if (st->mode == DNS_RESOLV_RESOLVED &&
	    fileio_read_all(RESOLVED_CONF, CONF_MAX, &text, &len) == 0)
		st->n_prev = dns_resolv_nameservers(text, server, st->prev, DNS_RESOLV_MAX_NS);
	free(text);
	text = NULL;
	if (st->n_prev == 0 && fileio_read_all(st->conf, CONF_MAX, &text, &len) == 0)
		st->n_prev = dns_resolv_nameservers(text, server, st->prev, DNS_RESOLV_MAX_NS);
	free(text);
}

static void state_remove(const char *home)
{
	char path[PATH_MAX];

	path_in(path, sizeof(path), home, "resolv.state");
	unlink(path);
}

/* Undoes one applied mode; used by restore and recover. */
static int undo(const char *home, enum dns_resolv_mode mode, const char *ifname, const char *conf,
		int absent)
{
	int ret = 0;

	if (mode == DNS_RESOLV_FILE)
		ret = file_restore(home, conf, absent);
	else if (mode == DNS_RESOLV_RESOLVED)
		ret = resolved_restore(ifname);
	else if (mode == DNS_RESOLV_RESOLVCONF)
		ret = resolvconf_restore(ifname);
	if (ret == 0)
		state_remove(home);
	return ret;
}

int dns_resolv_recover(const char *home)
{
	char path[PATH_MAX], bpath[PATH_MAX];
	json_error_t jerr;
	json_t *o;
	const char *mode = NULL, *ifname = NULL, *conf = NULL;
	int absent = 0, ret;

	path_in(path, sizeof(path), home, "resolv.state");
	path_in(bpath, sizeof(bpath), home, "resolv.conf.backup");
	o = json_load_file(path, 0, &jerr);
	if (!o) {
		if (access(path, F_OK) == 0) {
			log_warn("dns: unreadable %s; removing it", path);
			unlink(path);
		}
		unlink(bpath); /* a backup without a state was never used */
		return 0;
	}
	if (json_unpack(o, "{s:s, s:s, s:s, s?b}", "mode", &mode, "ifname", &ifname, "conf", &conf,
			"absent", &absent) < 0 ||
	    mode_parse(mode) == DNS_RESOLV_AUTO || !ifname_valid(ifname)) {
		log_warn("dns: bad %s; removing it", path);
		json_decref(o);
		unlink(path);
		return -EINVAL;
	}
	log_info("dns: undoing resolver settings (%s) left by an earlier run", mode);
	ret = undo(home, mode_parse(mode), ifname, conf, absent);
	json_decref(o);
	return ret;
}

int dns_resolv_apply(const char *home, const char *server_ip, const char *ifname,
		     struct dns_resolv *st)
{
	int ret;

	if (!server_ip || !ip_valid(server_ip) || !ifname || !ifname_valid(ifname))
		return -EINVAL;
	ret = dns_resolv_recover(home);
	if (ret < 0)
		log_warn("dns: recovery failed (%s); continuing", strerror(-ret));
	snprintf(st->ifname, sizeof(st->ifname), "%s", ifname);
	st->n_prev = 0;
	st->mode = st->want != DNS_RESOLV_AUTO ? st->want : detect(st);
	if (st->mode == DNS_RESOLV_FILE) {
		ret = file_apply(home, server_ip, st);
	} else {
		collect_prev(server_ip, st);
		ret = state_write(home, st, 0);
		if (ret == 0)
			ret = st->mode == DNS_RESOLV_RESOLVED ? resolved_apply(server_ip, st)
							      : resolvconf_apply(server_ip, st);
	}
	if (ret < 0) {
		undo(home, st->mode, st->ifname, st->conf, 0);
		state_remove(home);
		st->mode = DNS_RESOLV_AUTO;
		return ret;
	}
	log_info("dns: system resolver points at %s (%s)", server_ip, mode_name(st->mode));
	return 0;
}

int dns_resolv_restore(const char *home, struct dns_resolv *st)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *o;
	int absent = 0, ret;

	if (st->mode == DNS_RESOLV_AUTO)
		return 0;
	/* The absent flag lives only in the state file. */
	path_in(path, sizeof(path), home, "resolv.state");
	o = json_load_file(path, 0, &jerr);
	if (o)
		json_unpack(o, "{s?b}", "absent", &absent);
	json_decref(o);
	ret = undo(home, st->mode, st->ifname, st->conf, absent);
	if (ret == 0)
		st->mode = DNS_RESOLV_AUTO;
	return ret;
}
