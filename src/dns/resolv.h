/*
 * resolv: points the system resolver at Magic DNS and puts it back exactly.
 *
 * The mode is picked by a detection chain: systemd-resolved when it is
 * active (resolvectl sets our server on the TUN link, with routing-only
 * domains ~ray and the mesh reverse zones, so only those names come to us),
 * else resolvconf when installed (a record for the TUN interface), else
 * resolv.conf itself. When the daemon runs inside a network namespace other
 * than PID 1's, the host's resolved would apply our settings to a link of
 * another namespace, so the file is used there. The file is rewritten in
 * place, never renamed over, because `ip netns exec` bind-mounts
 * /etc/netns/NS/resolv.conf over it and a rename fails with EBUSY. Its
 * original bytes go to $home/resolv.conf.backup first; the new file names
 * only our server (nameserver lines carry no port, so this mode needs the
 * server on port 53) and keeps search, domain and options lines. Restoring
 * writes the backup back only while the file still carries our marker line,
 * so a file some other tool rewrote meanwhile is left alone.
 *
 * Before touching anything, apply records what it is about to do in
 * $home/resolv.state, so dns_resolv_recover at the next daemon start can
 * undo the work of a run that crashed. Apply also returns the nameservers
 * the system used before (our own address skipped): the default upstreams
 * for the server. The commands run synchronously (short, at up/down only).
 */
#ifndef RAYFISH_DNS_RESOLV_H
#define RAYFISH_DNS_RESOLV_H

#include <stddef.h>

#define DNS_RESOLV_CONF "/etc/resolv.conf"
#define DNS_RESOLV_MAX_NS 8
#define DNS_RESOLV_IPLEN 46
#define DNS_RESOLV_MARKER "# Written by rayfish for Magic DNS."

enum dns_resolv_mode {
	DNS_RESOLV_AUTO = 0, /* want: run the detection chain */
	DNS_RESOLV_RESOLVED,
	DNS_RESOLV_RESOLVCONF,
	DNS_RESOLV_FILE,
};

struct dns_resolv {
	/* Set by dns_resolv_init; the caller may change them before apply. */
	enum dns_resolv_mode want;
	char conf[256]; /* resolv.conf path */
	int own_netns;  /* not PID 1's network namespace */
	/* Filled by apply. */
	enum dns_resolv_mode mode; /* AUTO = nothing applied */
	char ifname[32];
	char prev[DNS_RESOLV_MAX_NS][DNS_RESOLV_IPLEN];
	size_t n_prev;
};

/* conf_path NULL = /etc/resolv.conf; want = AUTO. Looks at PID 1's
 * network namespace, which takes ptrace access to PID 1 (as a rule
 * CAP_SYS_PTRACE): call it before the daemon drops its capabilities. */
void dns_resolv_init(struct dns_resolv *st, const char *conf_path);

/*
 * Points the resolver at server_ip for the TUN interface ifname. Runs
 * dns_resolv_recover first, so a stale state never stacks. Returns 0 or
 * -errno (-EINVAL for a bad address or interface name, -EIO when a command
 * failed); on failure nothing stays changed.
 */
int dns_resolv_apply(const char *home, const char *server_ip, const char *ifname,
		     struct dns_resolv *st);
/* Undoes apply. Returns 0 or -errno; st->mode is AUTO afterwards. */
int dns_resolv_restore(const char *home, struct dns_resolv *st);
/* Undoes whatever $home/resolv.state says a previous run applied. 0 when
 * there was nothing to do or it was undone, else -errno. */
int dns_resolv_recover(const char *home);

/*
 * Collects up to max distinct "nameserver" addresses from resolv.conf text,
 * skipping skip (may be NULL). Returns the count.
 */
size_t dns_resolv_nameservers(const char *text, const char *skip, char out[][DNS_RESOLV_IPLEN],
			      size_t max);

#endif
