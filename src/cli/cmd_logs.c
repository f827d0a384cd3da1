/*
 * cmd_logs: `ray logs [-f] [--since WHEN]`, the daemon's log files (see
 * util/logfile.h): asked of the daemon, which may read them when this user
 * cannot; read directly when no daemon runs.
 */
#include "cli/cli.h"
#include "home/paths.h"
#include "util/logfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FOLLOW_US 1000000

/* "30s", "10m", "2h", "3d" ago, "YYYY-MM-DD[ HH:MM[:SS]]" (UTC) or unix
 * seconds → unix ms; 0 on a parse error. */
static unsigned long long parse_since(const char *s)
{
	struct tm tm = { 0 };
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	time_t now = time(NULL);

	if (end != s && *end && !end[1] && strchr("smhd", *end)) {
		unsigned long long mult = *end == 's'   ? 1
					  : *end == 'm' ? 60
					  : *end == 'h' ? 3600
							: 86400;

		return v * mult > (unsigned long long)now
			       ? 1
			       : ((unsigned long long)now - v * mult) * 1000;
	}
	if (end != s && !*end && v > 100000000ull)
		return v * 1000;
	if (sscanf(s, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) == 3) {
		const char *t = s + 10;

		if (*t == ' ' || *t == 'T')
			sscanf(t + 1, "%2d:%2d:%2d", &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		return (unsigned long long)timegm(&tm) * 1000ull;
	}
	return 0;
}

/* The log text newer than since_ms: from the daemon, else from the files. */
static int fetch(struct cli *c, unsigned long long since_ms, char **text, bool quiet)
{
	char err[256], dir[4096];
	json_t *res = NULL;
	size_t len;
	int ret;

	ret = cli_call_quiet(c, "logs", json_pack("{s:I}", "since_ms", (json_int_t)since_ms), &res,
			     10000, err, sizeof(err));
	if (ret == 0) {
		const char *t = json_string_value(json_object_get(res, "text"));

		*text = strdup(t ? t : "");
		json_decref(res);
		return *text ? 0 : cli_error("out of memory");
	}
	if (ret != -ENOENT && ret != -ECONNREFUSED)
		return quiet ? 1 : cli_error("logs: %s", err);
	paths_log_dir(c->home, dir, sizeof(dir));
	ret = logfile_read(dir, since_ms, 8u << 20, text, &len);
	if (ret < 0)
		return quiet ? 1
			     : cli_error("no daemon runs, and %s cannot be read: %s", dir,
					 strerror(-ret));
	return 0;
}

/* Prints the lines of text after the last one printed (*last, kept). */
static void print_new(const char *text, char *last, size_t cap)
{
	const char *from = text;

	if (last[0]) {
		const char *at = strstr(text, last);

		if (at)
			from = at + strlen(last);
	}
	fputs(from, stdout);
	fflush(stdout);
	if (*text) {
		const char *end = text + strlen(text), *start = end - 1;

		while (start > text && start[-1] != '\n')
			start--;
		snprintf(last, cap, "%s", start);
	}
}

static int run_logs(struct cli *c, int argc, char **argv)
{
	unsigned long long since = 0;
	bool follow = false;
	char last[LOGFILE_LINE + 32] = "", *text = NULL;
	int ret;

	for (int i = 1; i < argc; i++) {
		const char *v;

		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0)
			follow = true;
		else if ((v = cli_flag_value(argc, argv, &i, "--since"))) {
			if (!(since = parse_since(v)))
				return cli_usage_error(
					"logs",
					"--since: '%s' is no time (30s, 10m, 2h, 3d, YYYY-MM-DD HH:MM, unix seconds)",
					v);
		} else
			return cli_usage_error("logs", "unexpected argument '%s'", argv[i]);
	}
	if ((ret = fetch(c, since, &text, false)))
		return ret;
	if (c->json && !follow) {
		json_t *o = json_pack("{s:s}", "text", text);

		cli_print_json(o);
		json_decref(o);
		free(text);
		return 0;
	}
	print_new(text, last, sizeof(last));
	free(text);
	while (follow) {
		unsigned long long from = since;

		usleep(FOLLOW_US);
		/* Ask from a second before the last line: lines of the same
		 * instant are told apart by the one printed last. */
		if (strlen(last) > 23) {
			struct tm tm = { 0 };
			unsigned ms;

			if (sscanf(last, "%4d-%2d-%2d %2d:%2d:%2d.%3u", &tm.tm_year, &tm.tm_mon,
				   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) == 7) {
				tm.tm_year -= 1900;
				tm.tm_mon -= 1;
				from = (unsigned long long)timegm(&tm) * 1000ull + ms;
			}
		}
		if (fetch(c, from, &text, true))
			continue; /* the daemon restarting: keep trying */
		print_new(text, last, sizeof(last));
		free(text);
	}
	return 0;
}

const struct command cmd_logs = {
	"logs",
	"show the daemon's log",
	"usage: ray logs [-f] [--since WHEN]\n\n"
	"Prints the daemon's log files, oldest line first (each line: date, time\n"
	"in UTC, level E/W/I/D, message). They are kept under /var/log/rayfish\n"
	"for the system daemon (RAYFISH_HOME/logs for another home, or\n"
	"RAYFISH_LOG_DIR), one file a day, the last 8 days, at most 16 MiB a file.\n"
	"The daemon reads them for you when it runs; without it the files are\n"
	"read directly.\n\n"
	"  -f, --follow    keep printing lines as they come\n"
	"  --since WHEN    from WHEN on: 30s, 10m, 2h, 3d ago, a date\n"
	"                  YYYY-MM-DD[ HH:MM[:SS]] in UTC, or unix seconds\n",
	run_logs,
};
