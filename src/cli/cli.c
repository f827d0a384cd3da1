/* cli: see cli.h. */
#include "cli/cli.h"
#include "proto/ipc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ray: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("ray: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'ray %s --help')\n", cmd);
	return 2;
}

int cli_call_quiet(struct cli *c, const char *cmd, json_t *args, json_t **result, int timeout_ms,
		   char *err, size_t errlen)
{
	return cli_call_quiet_fds(c, cmd, args, NULL, 0, result, timeout_ms, err, errlen);
}

int cli_call_quiet_fds(struct cli *c, const char *cmd, json_t *args, const int *fds, size_t n_fds,
		       json_t **result, int timeout_ms, char *err, size_t errlen)
{
	json_t *req = json_object(), *reply = NULL, *ok;
	int ret;

	*result = NULL;
	json_object_set_new(req, "cmd", json_string(cmd));
	json_object_set_new(req, "args", args ? args : json_object());
	ret = ipc_call_fds(c->sock, req, fds, n_fds, &reply, timeout_ms);
	json_decref(req);
	if (ret < 0) {
		snprintf(err, errlen, "%s", strerror(-ret));
		return ret;
	}
	ok = json_object_get(reply, "ok");
	if (!json_is_true(ok)) {
		const char *e = json_string_value(json_object_get(reply, "error"));

		snprintf(err, errlen, "%s", e ? e : "the daemon refused the request");
		json_decref(reply);
		return -EREMOTEIO;
	}
	*result = json_incref(json_object_get(reply, "result"));
	json_decref(reply);
	if (!*result)
		*result = json_object();
	return 0;
}

int cli_call(struct cli *c, const char *cmd, json_t *args, json_t **result, int timeout_ms)
{
	return cli_call_fds(c, cmd, args, NULL, 0, result, timeout_ms);
}

int cli_call_fds(struct cli *c, const char *cmd, json_t *args, const int *fds, size_t n_fds,
		 json_t **result, int timeout_ms)
{
	char err[512];
	int ret =
		cli_call_quiet_fds(c, cmd, args, fds, n_fds, result, timeout_ms, err, sizeof(err));

	if (ret == 0)
		return 0;
	if (ret == -ENOENT || ret == -ECONNREFUSED)
		return cli_error(
			"no daemon is running (socket %s): start it with 'ray daemon' or 'sudo ray up'",
			c->sock);
	if (ret == -EACCES)
		return cli_error("permission denied on the daemon socket %s", c->sock);
	if (ret == -ETIMEDOUT)
		return cli_error("the daemon did not answer '%s' within %d s", cmd,
				 timeout_ms / 1000);
	if (ret == -EPROTO)
		return cli_error("the daemon sent a malformed reply to '%s'", cmd);
	if (ret == -EREMOTEIO)
		return cli_error("%s", err);
	return cli_error("talking to the daemon failed: %s", err);
}

int cli_progress_start(struct cli *c, cli_progress_fn step, void *ud, unsigned interval_us)
{
	pid_t parent = getpid(), pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid != 0)
		return pid < 0 ? -1 : (int)pid;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	while (getppid() == parent) {
		usleep(interval_us);
		step(c, ud);
	}
	_exit(0);
}

void cli_progress_stop(int pid, bool clear_line)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	if (clear_line)
		fprintf(stderr, "\r\033[K");
}

const char *cli_ok_mark(void)
{
	const char *nc = getenv("NO_COLOR");

	return isatty(STDOUT_FILENO) && !(nc && nc[0]) ? "✓ " : "";
}

const char *cli_flag_value(int argc, char **argv, int *i, const char *flag)
{
	size_t n = strlen(flag);

	if (strncmp(argv[*i], flag, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != 0 || *i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

void cli_print_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));

	if (s) {
		puts(s);
		free(s);
	}
}

void cli_format_bytes(double bytes, char *out, size_t outlen)
{
	static const char *unit[] = { "B", "KB", "MB", "GB", "TB" };
	int u = 0;

	while (bytes >= 1000 && u < 4) {
		bytes /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(out, outlen, "%.0f B", bytes);
	else
		snprintf(out, outlen, "%.1f %s", bytes, unit[u]);
}

int cli_run(const char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
