/*
 * service: see service.h. The text is built with a sticky error: once it
 * no longer fits, every later put is a no-op and the end reports it.
 */
#include "cli/service.h"

#include <errno.h>
#include <string.h>

#define DELETED " (deleted)"

struct text {
	char *p;
	size_t cap, len;
	int err;
};

static void put_char(struct text *t, char c)
{
	if (t->err || t->len + 1 >= t->cap) {
		t->err = -ENAMETOOLONG;
		return;
	}
	t->p[t->len++] = c;
	t->p[t->len] = 0;
}

static void put_str(struct text *t, const char *s)
{
	while (*s)
		put_char(t, *s++);
}

/* ExecStart='s program, quoted; it is neither unescaped nor expanded for
 * variables ($ stays as is), only for specifiers. */
static void put_program(struct text *t, const char *s)
{
	put_char(t, '"');
	for (; *s; s++) {
		if (*s == '%')
			put_char(t, '%');
		put_char(t, *s);
	}
	put_char(t, '"');
}

/* Environment= takes C escapes and specifiers, no variables. */
static void put_env(struct text *t, const char *name, const char *value)
{
	put_str(t, "Environment=\"");
	put_str(t, name);
	put_char(t, '=');
	for (; *value; value++) {
		if (*value == '\\' || *value == '"')
			put_char(t, '\\');
		else if (*value == '%')
			put_char(t, '%');
		put_char(t, *value);
	}
	put_str(t, "\"\n");
}

/* Absolute, without control characters or any of refuse (systemd
 * rejects a program path holding quotes or backslashes). */
static int path_ok(const char *s, const char *refuse)
{
	if (s[0] != '/')
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || strchr(refuse, *s))
			return 0;
	return 1;
}

/* A path in a list directive: prefixed with - (missing is fine) and
 * quoted so spaces stay in it. */
static void put_path_arg(struct text *t, const char *s)
{
	put_str(t, "\"-");
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			put_char(t, '\\');
		else if (*s == '%')
			put_char(t, '%');
		put_char(t, *s);
	}
	put_char(t, '"');
}

static int deleted(const char *exe)
{
	size_t n = strlen(exe), k = strlen(DELETED);

	return n >= k && strcmp(exe + n - k, DELETED) == 0;
}

int service_unit(char *out, size_t cap, const char *exe, const char *home, const char *sock)
{
	struct text t = { out, cap, 0, 0 };

	if (deleted(exe))
		return -ENOENT;
	if (!path_ok(exe, "\"'\\") || !path_ok(home, "") || !path_ok(sock, ""))
		return -EINVAL;
	if (cap == 0)
		return -ENAMETOOLONG;
	out[0] = 0;
	put_str(&t, "[Unit]\nDescription=Rayfish mesh VPN daemon\n"
		    "Documentation=man:ray(1)\n"
		    "After=network-online.target\nWants=network-online.target\n\n"
		    "[Service]\nType=notify\nExecStart=");
	put_program(&t, exe);
	put_str(&t, " daemon\nRestart=on-failure\nRestartSec=2\n");
	put_env(&t, "RAYFISH_HOME", home);
	put_env(&t, "RAYFISH_SOCKET", sock);
	/* systemd makes and owns the default directories (0700 state); other
	 * paths are the user's to make. */
	if (strcmp(home, "/var/lib/rayfish") == 0)
		put_str(&t, "StateDirectory=rayfish\nStateDirectoryMode=0700\n");
	if (strncmp(sock, "/run/rayfish/", 13) == 0 && !strchr(sock + 13, '/'))
		put_str(&t, "RuntimeDirectory=rayfish\nRuntimeDirectoryPreserve=restart\n");
	put_str(&t, "LogsDirectory=rayfish\nLogsDirectoryMode=0750\n"
		    /* The daemon drops every other capability itself too. */
		    "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE\n"
		    "NoNewPrivileges=yes\nProtectSystem=strict\n"
		    /* /etc/resolv.conf is replaced (renamed over) when neither
		     * systemd-resolved nor resolvconf manage it. */
		    "ReadWritePaths=-/etc\n");
	if (strcmp(home, "/var/lib/rayfish") != 0) {
		put_str(&t, "ReadWritePaths=");
		put_path_arg(&t, home);
		put_char(&t, '\n');
	}
	put_str(&t, "ProtectHome=yes\nPrivateTmp=yes\nProtectControlGroups=yes\n"
		    "ProtectKernelModules=yes\nLockPersonality=yes\nRestrictRealtime=yes\n"
		    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK\n"
		    "SystemCallArchitectures=native\n");
	put_str(&t, "\n[Install]\nWantedBy=multi-user.target\n");
	return t.err ? t.err : (int)t.len;
}
