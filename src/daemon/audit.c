/* audit: see audit.h. */
#include "daemon/audit.h"
#include "daemon/daemon.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int audit_open(struct daemon *d)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/audit.log", d->home);
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

void audit_peer(struct daemon *d, const struct peer *p, const char *event)
{
	char line[512], stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	if (d->audit_fd <= 0)
		return;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	for (struct network *n = d->nets; n; n = n->next) {
		const struct gb_member *m = group_blob_find_member(&n->blob, p->id);
		int len;

		if (!m)
			continue;
		len = snprintf(line, sizeof(line), "%s %s net=%s peer=%s host=%s\n", stamp,
			       event, n->saved.name, p->id, m->hostname);
		if (len > 0 && write(d->audit_fd, line, (size_t)len) < 0)
			log_warn("audit: write failed: %s", strerror(errno));
	}
}
