/*
 * cli: what every command family shares: the parsed global flags, the IPC
 * call to the daemon with its error reporting, and output helpers.
 *
 * A command returns the process exit code: 0 on success, 1 on a failure it
 * has already explained in one line on stderr, 2 on a usage error.
 */
#ifndef RAYFISH_CLI_CLI_H
#define RAYFISH_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>

struct cli {
	bool json; /* --json: exactly one JSON document on stdout */
	bool verbose;
	const char *home; /* RAYFISH_HOME */
	const char *sock; /* RAYFISH_SOCKET */
	const char *prog; /* "ray" */
};

struct command {
	const char *name;
	const char *summary;
	const char *usage; /* full --help text after the "usage:" line */
	int (*run)(struct cli *c, int argc, char **argv);
};

/* Prints "ray: <message>" on stderr; returns 1. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the usage error and a hint to --help; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Sends {"cmd": cmd, "args": args} (args stolen, NULL = {}) to the daemon
 * and waits up to timeout_ms. On success returns 0 with *result (a new
 * reference). On failure prints one sentence and returns 1.
 */
int cli_call(struct cli *c, const char *cmd, json_t *args, json_t **result, int timeout_ms);
/* As cli_call but quiet: returns -errno, or -EREMOTEIO with the daemon's
 * error sentence in err. */
int cli_call_quiet(struct cli *c, const char *cmd, json_t *args, json_t **result, int timeout_ms,
		   char *err, size_t errlen);
/* The same two, handing the daemon open files with the request (see
 * ipc_call_fds): it reads and writes what this user may. */
int cli_call_fds(struct cli *c, const char *cmd, json_t *args, const int *fds, size_t n_fds,
		 json_t **result, int timeout_ms);
int cli_call_quiet_fds(struct cli *c, const char *cmd, json_t *args, const int *fds, size_t n_fds,
		       json_t **result, int timeout_ms, char *err, size_t errlen);

/*
 * Progress while a long call waits: a child runs step(c, ud) every
 * interval_us (ud is the child's copy of the caller's) until
 * cli_progress_stop, or until the parent dies. Returns the child's pid, or
 * -1 (no progress, which changes nothing else). stop: clear_line ends a
 * line redrawn with \r.
 */
typedef void (*cli_progress_fn)(struct cli *c, void *ud);
int cli_progress_start(struct cli *c, cli_progress_fn step, void *ud, unsigned interval_us);
void cli_progress_stop(int pid, bool clear_line);

/* For "--flag VALUE" or "--flag=VALUE" at argv[*i]: returns VALUE (and
 * advances *i past it), else NULL. */
const char *cli_flag_value(int argc, char **argv, int *i, const char *flag);

/* "✓ " when stdout is a terminal and NO_COLOR is unset, else "": a piped
 * or logged `ray` prints plain text. */
const char *cli_ok_mark(void);

/* Runs argv (argv[0] looked up in PATH, no shell) and waits: its exit
 * status, or -1 when it could not run or died on a signal. */
int cli_run(const char *const argv[]);

/* Prints v as indented JSON and a newline on stdout. */
void cli_print_json(const json_t *v);

/* Human byte count: "1.2 KB". */
void cli_format_bytes(double bytes, char *out, size_t outlen);

/* Command families (one file each). */
extern const struct command cmd_daemon, cmd_up, cmd_down, cmd_status, cmd_create, cmd_join,
	cmd_leave, cmd_config, cmd_version, cmd_invite, cmd_requests, cmd_accept, cmd_deny,
	cmd_hostname, cmd_kick, cmd_nuke, cmd_admin, cmd_ephemeral, cmd_firewall, cmd_apply,
	cmd_identityof, cmd_ping, cmd_netcheck, cmd_mdns, cmd_send, cmd_files, cmd_contact,
	cmd_connect, cmd_connections, cmd_pair, cmd_completions, cmd_logs, cmd_report, cmd_install,
	cmd_uninstall, cmd_start, cmd_stop, cmd_restart, cmd_set_operator, cmd_update,
	cmd_sign_feed, cmd_dashboard;

/* Writes and enables rayfish.service (and starts it, waiting for the
 * socket); makes $SUDO_USER the operator. 0 or 1 after one line (cmd_service.c). */
int cli_service_install(struct cli *c, bool start);
/* Run under sudo by root: $SUDO_USER becomes the operator (cmd_service.c). */
void cli_service_grant_sudo_user(struct cli *c);

#endif
