/* audit: see audit.h. */
#include "daemon/audit.h"
#include "daemon/daemon.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "mesh/address.h"
#include "util/log.h"
#include "util/ratelimit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void audit_path(const struct daemon *d, char *out, size_t cap, const char *suffix)
{
	snprintf(out, cap, "%s/audit.log%s", d->home, suffix);
}

int audit_open(struct daemon *d)
{
	char path[4096];

	audit_path(d, path, sizeof(path), "");
	d->audit_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (d->audit_fd < 0) {
		log_warn("audit: cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

void audit_close(struct daemon *d)
{
	if (d->audit_fd > 0)
		close(d->audit_fd);
	d->audit_fd = -1;
}

/* A full file moves aside whole; the line about to be written starts the
 * new one. */
static void audit_rotate(struct daemon *d)
{
	char path[4096], old[4096];
	struct stat st;

	if (fstat(d->audit_fd, &st) < 0 || st.st_size < (off_t)AUDIT_MAX_BYTES)
		return;
	audit_path(d, path, sizeof(path), "");
	audit_path(d, old, sizeof(old), ".1");
	if (rename(path, old) < 0) {
		log_warn("audit: cannot move %s aside: %s", path, strerror(errno));
		return;
	}
	audit_close(d);
	if (audit_open(d) == 0)
		log_info("audit: %s reached %u MiB; the older lines are in %s", path,
			 AUDIT_MAX_BYTES >> 20, old);
}

/* Buckets start full the first time (peers are zeroed when made). */
static bool audit_pass(struct daemon *d, struct peer *p)
{
	if (!p->audit_rl.burst)
		ratelimit_init(&p->audit_rl, AUDIT_BURST, AUDIT_EVERY_MS);
	if (ratelimit_take(&p->audit_rl, daemon_now_ms(d)))
		return true;
	p->audit_held++;
	return false;
}

void audit_peer(struct daemon *d, struct peer *p, const char *event)
{
	char line[512], stamp[32], held[32] = "";
	time_t now = time(NULL);
	struct tm tm;
	bool member = false;

	if (d->audit_fd <= 0)
		return;
	for (struct network *n = d->nets; n && !member; n = n->next)
		member = group_blob_find_member(&n->blob, p->id) != NULL;
	if (!member || !audit_pass(d, p))
		return;
	if (p->audit_held)
		snprintf(held, sizeof(held), "\theld=%llu", (unsigned long long)p->audit_held);
	p->audit_held = 0;
	audit_rotate(d);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	for (struct network *n = d->nets; n; n = n->next) {
		const struct gb_member *m = group_blob_find_member(&n->blob, p->id);
		char ip[ADDRESS_V4_STRLEN];
		int len;

		if (!m)
			continue;
		address_ipv4_format(m->ipv4, ip);
		len = snprintf(line, sizeof(line), "%s\t%s\t%s\t%s\t%s\t%s%s\n", stamp, event, ip,
			       p->id, n->saved.name, m->hostname, held);
		if (len > 0 && write(d->audit_fd, line, (size_t)len) < 0)
			log_warn("audit: write failed: %s", strerror(errno));
	}
}
