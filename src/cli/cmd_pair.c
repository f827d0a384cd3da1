/*
 * cmd_pair: `ray pair backup` and `ray pair restore`, this node's secrets
 * sealed with a passphrase into one code (mesh/backup.h), and back.
 *
 * The daemon seals (it holds the keys; the CLI may not be able to read its
 * home). Restoring happens here, into a home no daemon runs on: the daemon
 * cannot change identity while it runs, and it rejoins the networks on its
 * next start. With --1password the code is stored in, or read from, a
 * 1Password item through the `op` CLI; the code goes to `op` on its
 * standard input, never in its arguments.
 */
#include "cli/cli.h"
#include "home/restore.h"
#include "mesh/backup.h"
#include "mesh/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define PASS_MAX 1024
#define OP_DEFAULT_ITEM "Rayfish Identity"
#define OP_FIELD "backup"

struct op_args {
	bool on;
	const char *vault, *item;
};

/* One line of the terminal with echo off, or the first line of stdin.
 * Returns 0, or a usage-style error already printed. */
static int read_line_secret(const char *prompt, char *out, size_t cap)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO);
	size_t n;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
	}
	if (!fgets(out, (int)cap, stdin))
		out[0] = 0;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
		fputc('\n', stderr);
	}
	n = strcspn(out, "\r\n");
	out[n] = 0;
	if (!n)
		return cli_error("no passphrase: %s",
				 tty ? "none was typed"
				     : "the first line of standard input is empty");
	return 0;
}

static int read_passphrase(char *out, size_t cap, bool confirm)
{
	char again[PASS_MAX];
	int ret = read_line_secret("passphrase: ", out, cap);

	if (ret || !confirm || !isatty(STDIN_FILENO))
		return ret;
	ret = read_line_secret("again: ", again, sizeof(again));
	if (!ret && strcmp(out, again) != 0)
		ret = cli_error("the two passphrases differ");
	sodium_memzero(again, sizeof(again));
	return ret;
}

static bool op_on_path(void)
{
	const char *path = getenv("PATH");
	char buf[4096];

	for (const char *p = path; p && *p;) {
		size_t n = strcspn(p, ":");

		snprintf(buf, sizeof(buf), "%.*s/op", (int)n, p);
		if (n && access(buf, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

/*
 * Runs `op ARGS…` with input (may be NULL) on its standard input and its
 * standard output into out (may be NULL). Returns op's exit status, or -1
 * when it could not be run.
 */
static int op_run(char *const argv[], const char *input, char *out, size_t cap)
{
	int in[2], from[2], status;
	char scratch[256];
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(from, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(from[1], STDOUT_FILENO);
		execvp("op", argv);
		_exit(127);
	}
	close(in[0]);
	close(from[1]);
	if (pid > 0 && input && write(in[1], input, strlen(input)) < 0)
		input = NULL;
	close(in[1]);
	/* op's output: kept in out when asked for (up to cap - 1), else
	 * drained so op never blocks on a full pipe. */
	while (pid > 0) {
		bool keep = out && got + 1 < cap;

		r = read(from[0], keep ? out + got : scratch,
			 keep ? cap - 1 - got : sizeof(scratch));
		if (r <= 0)
			break;
		if (keep)
			got += (size_t)r;
	}
	close(from[0]);
	if (out)
		out[got] = 0;
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int op_missing(void)
{
	return cli_error("--1password needs the 1Password CLI 'op' on PATH "
			 "(https://developer.1password.com/docs/cli), signed in");
}

/* Stores code in a new Secure Note (the field OP_FIELD holds it). */
static int op_store(const struct op_args *o, const char *code)
{
	char *tmpl, *argv[8];
	json_t *item;
	int n = 0, ret;

	if (!op_on_path())
		return op_missing();
	argv[n++] = "op";
	argv[n++] = "item";
	argv[n++] = "get";
	argv[n++] = (char *)o->item;
	if (o->vault) {
		argv[n++] = "--vault";
		argv[n++] = (char *)o->vault;
	}
	argv[n] = NULL;
	if (op_run(argv, NULL, NULL, 0) == 0)
		return cli_error("1Password already has an item named '%s': pass --item NAME, or "
				 "remove that one first (nothing was stored)",
				 o->item);
	item = json_pack("{s:s, s:s, s:[{s:s, s:s, s:s, s:s}]}", "title", o->item, "category",
			 "SECURE_NOTE", "fields", "id", OP_FIELD, "label", OP_FIELD, "type",
			 "CONCEALED", "value", code);
	tmpl = item ? json_dumps(item, JSON_COMPACT) : NULL;
	json_decref(item);
	if (!tmpl)
		return cli_error("out of memory");
	n = 0;
	argv[n++] = "op";
	argv[n++] = "item";
	argv[n++] = "create";
	if (o->vault) {
		argv[n++] = "--vault";
		argv[n++] = (char *)o->vault;
	}
	argv[n++] = "-"; /* the template, with the code, on stdin */
	argv[n] = NULL;
	ret = op_run(argv, tmpl, NULL, 0);
	sodium_memzero(tmpl, strlen(tmpl));
	free(tmpl);
	if (ret != 0)
		return cli_error("'op item create' failed (exit %d): is the CLI signed in?", ret);
	return 0;
}

static int op_fetch(const struct op_args *o, char *code, size_t cap)
{
	char ref[512], *argv[4] = { "op", "read", ref, NULL };
	int ret;

	if (!op_on_path())
		return op_missing();
	snprintf(ref, sizeof(ref), "op://%s/%s/%s", o->vault ? o->vault : "Private", o->item,
		 OP_FIELD);
	ret = op_run(argv, NULL, code, cap);
	code[strcspn(code, "\r\n")] = 0;
	if (ret != 0 || !code[0])
		return cli_error("'op read %s' failed (exit %d): no such item, or not signed in",
				 ref, ret);
	return 0;
}

static int parse_op(int argc, char **argv, int *i, struct op_args *o)
{
	const char *v;

	if (strcmp(argv[*i], "--1password") == 0 || strcmp(argv[*i], "--op") == 0) {
		o->on = true;
		return 1;
	}
	if ((v = cli_flag_value(argc, argv, i, "--vault"))) {
		o->vault = v;
		return 1;
	}
	if ((v = cli_flag_value(argc, argv, i, "--item"))) {
		o->item = v;
		return 1;
	}
	return 0;
}

static int run_backup(struct cli *c, int argc, char **argv)
{
	struct op_args o = { .item = OP_DEFAULT_ITEM };
	char pass[PASS_MAX];
	json_t *res = NULL;
	const char *code;
	int ret;

	for (int i = 2; i < argc; i++)
		if (!parse_op(argc, argv, &i, &o))
			return cli_usage_error("pair", "unexpected argument '%s'", argv[i]);
	if ((o.vault || strcmp(o.item, OP_DEFAULT_ITEM) != 0) && !o.on)
		return cli_usage_error("pair", "--vault and --item go with --1password");
	if (o.on && !op_on_path())
		return op_missing();
	if ((ret = read_passphrase(pass, sizeof(pass), true)))
		return ret;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "sealing… (Argon2id, about a second)\n");
	ret = cli_call(c, "pair_backup", json_pack("{s:s}", "passphrase", pass), &res, 60000);
	sodium_memzero(pass, sizeof(pass));
	if (ret)
		return ret;
	code = json_string_value(json_object_get(res, "code"));
	if (o.on && (ret = op_store(&o, code))) {
		json_decref(res);
		return ret;
	}
	if (c->json)
		cli_print_json(res);
	else if (o.on)
		printf("%sbackup stored in 1Password as '%s'\n", cli_ok_mark(), o.item);
	else
		printf("%s\n\nKeep this code and its passphrase apart; either alone is useless.\n"
		       "On a new machine: ray pair restore CODE\n",
		       code);
	json_decref(res);
	return 0;
}

/* Whether a daemon answers on the socket: restoring under it would be
 * undone by its next save, and it cannot change identity while it runs. */
static bool daemon_running(struct cli *c)
{
	char err[256];
	json_t *res = NULL;
	int ret = cli_call_quiet(c, "version", NULL, &res, 2000, err, sizeof(err));

	json_decref(res);
	return ret == 0;
}

static int restore_error(int ret)
{
	if (ret == -EKEYREJECTED)
		return cli_error("the passphrase is wrong, or the code was altered (nothing was "
				 "written)");
	if (ret == -EBADMSG)
		return cli_error("the code is cut short or damaged (nothing was written)");
	if (ret == -ENOMEM)
		return cli_error("not enough memory for the key derivation (64 MiB)");
	return cli_error("that is not a backup code (one starts with '%s')", BACKUP_PREFIX);
}

static int run_restore(struct cli *c, int argc, char **argv)
{
	struct op_args o = { .item = OP_DEFAULT_ITEM };
	static char code[BACKUP_CODE_MAX + 8];
	char pass[PASS_MAX], err[512], id[IDENTITY_ID_LEN + 1];
	struct identity ident;
	struct backup b;
	const char *arg = NULL;
	int ret;

	for (int i = 2; i < argc; i++) {
		if (parse_op(argc, argv, &i, &o))
			continue;
		if (argv[i][0] == '-' || arg)
			return cli_usage_error("pair", "unexpected argument '%s'", argv[i]);
		arg = argv[i];
	}
	if (o.on == !!arg)
		return cli_usage_error("pair", "restore takes a CODE or --1password");
	if (daemon_running(c))
		return cli_error("a daemon is running on this home (%s): stop it first ('sudo "
				 "systemctl stop rayfish', or end 'ray daemon'), restore, then start "
				 "it; it rejoins the networks by itself",
				 c->home);
	if (o.on && (ret = op_fetch(&o, code, sizeof(code))))
		return ret;
	if (arg)
		snprintf(code, sizeof(code), "%s", arg);
	if ((ret = read_passphrase(pass, sizeof(pass), false)))
		return ret;
	ret = backup_open(code, pass, &b);
	sodium_memzero(pass, sizeof(pass));
	if (ret < 0)
		return restore_error(ret);
	ret = restore_apply(c->home, &b, err, sizeof(err));
	if (ret == 0 && identity_from_seed(b.identity, &ident) == 0) {
		snprintf(id, sizeof(id), "%s", ident.id);
		identity_clear(&ident);
	}
	if (ret < 0) {
		backup_clear(&b);
		return cli_error("%s", err);
	}
	if (c->json) {
		json_t *res = json_pack("{s:s, s:i}", "endpoint_id", id, "networks",
					(json_int_t)b.n_nets);

		cli_print_json(res);
		json_decref(res);
	} else
		printf("%srestored endpoint %s\nStart the daemon ('sudo ray up' or 'ray daemon'): "
		       "it rejoins %zu network(s) with the same addresses.\n",
		       cli_ok_mark(), id, b.n_nets);
	backup_clear(&b);
	return 0;
}

static int run_pair(struct cli *c, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "backup") == 0)
		return run_backup(c, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "restore") == 0)
		return run_restore(c, argc, argv);
	return cli_usage_error("pair", "expected backup or restore (pairing a second device "
				       "with a ticket is not built yet)");
}

const struct command cmd_pair = {
	"pair",
	"back up this node's identity and keys, or restore them",
	"usage: ray pair backup [--1password [--vault V] [--item T]]\n"
	"       ray pair restore CODE\n"
	"       ray pair restore --1password [--vault V] [--item T]\n\n"
	"backup   seals this node's identity, contact key and the network keys it\n"
	"         holds (with the list of its networks) with a passphrase into one\n"
	"         code, enc1…. The passphrase (8 characters or more) is asked on a\n"
	"         terminal, else read from the first line of standard input.\n"
	"restore  puts a code back into this home (RAYFISH_HOME), which must hold\n"
	"         no networks, with no daemon running on it; the daemon's next start\n"
	"         rejoins every network with the same endpoint id and addresses,\n"
	"         as coordinator where the node was one. A wrong passphrase or an\n"
	"         altered code changes nothing.\n\n"
	"  --1password  store the code in (backup) or read it from (restore) a\n"
	"               1Password item through the 'op' CLI, which must be on PATH\n"
	"               and signed in; the code reaches 'op' on standard input\n"
	"  --vault V    the vault (default: op's default; 'Private' to read)\n"
	"  --item T     the item's title (default: \"" OP_DEFAULT_ITEM "\")\n",
	run_pair,
};
