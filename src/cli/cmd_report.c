/*
 * cmd_report: `ray report [--output DIR]`, one .tar.gz to attach to a bug
 * report: status, netcheck, settings, firewall rules, versions, the log
 * and the last crash, with no secret in it.
 *
 * What could hold a secret is redacted before it is written: TURN
 * passwords ("turn:USER:PASS@" keeps USER) wherever they appear, and
 * nothing else is taken from the home (no key file, no invite ledger, no
 * backup). The bundle is made by this process, as the user who runs it,
 * in a private temporary folder, then packed with tar.
 */
#include "cli/cli.h"
#include "cli/git_rev.h"
#include "home/settings.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

/* Every "turn:USER:PASS@" in s becomes "turn:USER:***@", in place. */
static void redact(char *s)
{
	for (char *p = strstr(s, "turn:"); p; p = strstr(p + 5, "turn:")) {
		char *user = p + 5, *colon = strchr(user, ':'), *at;

		if (!colon || !(at = strchr(colon + 1, '@')) ||
		    memchr(user, ' ', (size_t)(at - user)) ||
		    memchr(user, '\n', (size_t)(at - user)))
			continue;
		if (at - colon - 1 >= 3) {
			memcpy(colon + 1, "***", 3);
			memmove(colon + 4, at, strlen(at) + 1);
		}
	}
}

static int write_text(const char *dir, const char *name, const char *text)
{
	char path[8448];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "w")))
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -errno;
}

/* text, redacted, into name (text is the caller's, changed in place). */
static void write_redacted(const char *dir, const char *name, char *text)
{
	if (!text)
		return;
	redact(text);
	write_text(dir, name, text);
}

/* v as indented JSON, redacted, into name. */
static void write_json(const char *dir, const char *name, const json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2));

	write_redacted(dir, name, text);
	free(text);
}

/* The reply to cmd, or NULL with a note written into name. */
static json_t *call_or_note(struct cli *c, const char *dir, const char *name, const char *cmd,
			    int timeout_ms)
{
	char err[512], note[600];
	json_t *res = NULL;

	if (cli_call_quiet(c, cmd, NULL, &res, timeout_ms, err, sizeof(err)) == 0)
		return res;
	snprintf(note, sizeof(note), "not available: %s\n", err);
	write_text(dir, name, note);
	return NULL;
}

/* The reply to cmd as indented JSON into name. */
static void save_call(struct cli *c, const char *dir, const char *name, const char *cmd,
		      int timeout_ms)
{
	json_t *res = call_or_note(c, dir, name, cmd, timeout_ms);

	if (res)
		write_json(dir, name, res);
	json_decref(res);
}

/* The "text" of the reply to cmd into name. */
static void save_text(struct cli *c, const char *dir, const char *name, const char *cmd)
{
	json_t *res = call_or_note(c, dir, name, cmd, 20000);
	char *text = res ? strdup(json_string_value(json_object_get(res, "text")) ?: "") : NULL;

	write_redacted(dir, name, text);
	free(text);
	json_decref(res);
}

/* The daemon's settings (its environment counts), else the file's. */
static void save_settings(struct cli *c, const char *dir)
{
	struct settings s;
	char err[256];
	json_t *all = NULL;

	if (cli_call_quiet(c, "settings", NULL, &all, 10000, err, sizeof(err)) < 0) {
		if (settings_load(&s, c->home, err, sizeof(err)) < 0) {
			write_text(dir, "settings.json", err);
			settings_free(&s);
			return;
		}
		all = settings_to_json(&s);
		settings_free(&s);
	}
	write_json(dir, "settings.json", all);
	json_decref(all);
}

/* The log, and how the last run ended. */
static void save_logs(struct cli *c, const char *dir)
{
	json_t *res = call_or_note(c, dir, "daemon.log", "logs", 20000);
	char *text = res ? strdup(json_string_value(json_object_get(res, "text")) ?: "") : NULL;
	const char *crash = json_string_value(json_object_get(res, "last_crash"));

	write_redacted(dir, "daemon.log", text);
	free(text);
	write_text(dir, "last_crash.txt", crash ? crash : "none\n");
	json_decref(res);
}

static void save_versions(const char *dir)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "ray %s (%s)\nlibsodium %s\ngnutls %s\nlibuv %s\njansson %s\nmsgpack-c %s\n",
		 RAYFISH_VERSION, RAYFISH_GIT, sodium_version_string(), gnutls_check_version(NULL),
		 uv_version_string(), jansson_version_str(), msgpack_version());
	write_text(dir, "versions.txt", text);
}

static int pack(const char *parent, const char *name, const char *out)
{
	const char *argv[] = { "tar", "-czf", out, "-C", parent, name, NULL };

	return cli_run(argv) == 0 ? 0 : -EIO;
}

static int run_report(struct cli *c, int argc, char **argv)
{
	char tmp[] = "/tmp/rayfish-report-XXXXXX", dir[4200], out[4400], cwd[4096], name[128];
	char host[64] = "host", stamp[32], cmd[4300];
	const char *output = NULL;
	time_t now = time(NULL);
	struct tm tm;
	int ret;

	for (int i = 1; i < argc; i++)
		if (!(output = cli_flag_value(argc, argv, &i, "--output")))
			return cli_usage_error("report", "unexpected argument '%s'", argv[i]);
	if (!output && !(output = getcwd(cwd, sizeof(cwd))))
		return cli_error("report: cannot tell the current folder: %s", strerror(errno));
	if (access(output, W_OK) < 0)
		return cli_error("report: cannot write into %s: %s", output, strerror(errno));
	gethostname(host, sizeof(host) - 1);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(name, sizeof(name), "rayfish-report-%.40s-%s", host, stamp);
	if (!mkdtemp(tmp))
		return cli_error("report: cannot make a temporary folder: %s", strerror(errno));
	snprintf(dir, sizeof(dir), "%s/%s", tmp, name);
	mkdir(dir, 0700);
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "collecting… (netcheck takes a few seconds)\n");
	save_versions(dir);
	save_settings(c, dir);
	save_call(c, dir, "status.json", "status", 10000);
	save_call(c, dir, "netcheck.json", "netcheck", 30000);
	save_call(c, dir, "firewall.json", "fw_show", 10000);
	save_logs(c, dir);
	save_text(c, dir, "metrics.txt", "metrics");
	snprintf(out, sizeof(out), "%s/%s.tar.gz", output, name);
	ret = pack(tmp, name, out);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "ray: report: %s was left behind\n", tmp);
	if (ret < 0)
		return cli_error("report: tar could not write %s", out);
	chmod(out, 0600); /* logs name peers and addresses */
	if (c->json) {
		json_t *o = json_pack("{s:s}", "path", out);

		cli_print_json(o);
		json_decref(o);
	} else {
		printf("%s%s\n", cli_ok_mark(), out);
	}
	return 0;
}

const struct command cmd_report = {
	"report",
	"bundle status, logs and settings for a bug report",
	"usage: ray report [--output DIR]\n\n"
	"Writes rayfish-report-HOST-TIME.tar.gz into DIR (default: the current\n"
	"folder), readable by you only: the status, netcheck and firewall as the\n"
	"daemon reports them, the settings, the versions of ray and its\n"
	"libraries, the daemon's log and how its last run ended if it crashed.\n"
	"No key, invite or backup is in it, and TURN passwords are replaced by ***.\n",
	run_report,
};
