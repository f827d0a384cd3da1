/*
 * ray send / ray files: file sharing with a peer of a shared network.
 *
 * The CLI opens the files (to send) and creates the file to receive into,
 * as the user who runs it, and hands them to the daemon open: the daemon
 * keeps no capability to open a user's files, so it reads and writes only
 * what this user may. A received file is written as .NAME.rayfish-part in
 * the chosen folder and renamed to NAME (or NAME-1, ... when that exists)
 * only once the daemon says it is complete and verified.
 */
#include "cli/cli.h"
#include "util/limits.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SEND_TIMEOUT_MS 600000     /* the daemon hashes the files first */
#define ACCEPT_TIMEOUT_MS 86400000 /* a transfer may take hours */

/* ---- ray send ---- */

static int run_send(struct cli *c, int argc, char **argv)
{
	int fds[LIMIT_IPC_FDS], n = 0, ret = 1;
	json_t *names = json_array(), *res = NULL, *offers, *o;
	const char *peer;
	size_t i;

	if (argc < 3) {
		json_decref(names);
		return cli_usage_error("send", "give one or more files and the peer");
	}
	if (argc - 2 > LIMIT_IPC_FDS) {
		json_decref(names);
		return cli_usage_error("send", "at most %d files at once", LIMIT_IPC_FDS);
	}
	peer = argv[argc - 1];
	for (int k = 1; k < argc - 1; k++) {
		struct stat st;
		char *copy;

		fds[n] = open(argv[k], O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fds[n] < 0) {
			cli_error("cannot read %s: %s", argv[k], strerror(errno));
			goto out;
		}
		n++;
		if (fstat(fds[n - 1], &st) < 0 || !S_ISREG(st.st_mode)) {
			cli_error("%s is not a regular file (send the files in a folder one by one)",
				  argv[k]);
			goto out;
		}
		copy = strdup(argv[k]);
		json_array_append_new(names, json_string(copy ? basename(copy) : argv[k]));
		free(copy);
	}
	ret = cli_call_fds(c, "send", json_pack("{s:s, s:O}", "peer", peer, "names", names), fds,
			   (size_t)n, &res, SEND_TIMEOUT_MS);
	if (ret)
		goto out;
	offers = json_object_get(res, "offers");
	if (c->json) {
		cli_print_json(json_array_size(offers) == 1 ? json_array_get(offers, 0) : offers);
	} else {
		json_array_foreach(offers, i, o)
		{
			char size[32];

			cli_format_bytes((double)json_integer_value(json_object_get(o, "size")),
					 size, sizeof(size));
			printf("offered %s (%s) to %s: id %.8s\n",
			       json_string_value(json_object_get(o, "name")), size, peer,
			       json_string_value(json_object_get(o, "id")));
		}
	}
out:
	for (int k = 0; k < n; k++)
		close(fds[k]);
	json_decref(names);
	json_decref(res);
	return ret;
}

const struct command cmd_send = {
	"send",
	"offer files to a peer",
	"usage: ray send FILE... PEER\n\n"
	"Offers each FILE to PEER (a hostname, host.net, mesh address or endpoint\n"
	"id of a network you share). The daemon keeps a copy of each file by its\n"
	"BLAKE3 hash, so the offer outlives a restart and later changes to FILE do\n"
	"not change what is sent. PEER sees the offer in 'ray files' and takes it\n"
	"with 'ray files accept'; its daemon checks every 16 KiB of the file\n"
	"against the hash as it arrives. Withdraw an offer with\n"
	"'ray files cancel ID'. At most 16 files at once; folders are not sent.\n",
	run_send,
};

/* ---- ray files ---- */

static json_t *list_files(struct cli *c, bool quiet)
{
	char err[512];
	json_t *res = NULL, *list;

	if (quiet) {
		if (cli_call_quiet(c, "files", NULL, &res, 2000, err, sizeof(err)) < 0)
			return NULL;
	} else if (cli_call(c, "files", NULL, &res, 10000)) {
		return NULL;
	}
	list = json_incref(json_object_get(res, "files"));
	json_decref(res);
	return list;
}

/* The entry an id (or a unique prefix) names, borrowed from list. */
static json_t *find_entry(json_t *list, const char *id)
{
	json_t *e, *found = NULL;
	size_t i;

	json_array_foreach(list, i, e)
	{
		const char *eid = json_string_value(json_object_get(e, "id"));

		if (eid && strncmp(eid, id, strlen(id)) == 0) {
			if (found)
				return NULL;
			found = e;
		}
	}
	return found;
}

static void print_table(json_t *list)
{
	json_t *e;
	size_t i;

	if (json_array_size(list) == 0) {
		printf("no file offers\n");
		return;
	}
	printf("%-8s  %-3s  %-16s  %-24s  %9s  %s\n", "ID", "DIR", "PEER", "NAME", "SIZE", "STATE");
	json_array_foreach(list, i, e)
	{
		double size = (double)json_integer_value(json_object_get(e, "size"));
		double bytes = (double)json_integer_value(json_object_get(e, "bytes"));
		const char *state = json_string_value(json_object_get(e, "state"));
		const char *error = json_string_value(json_object_get(e, "error"));
		char sz[32];

		cli_format_bytes(size, sz, sizeof(sz));
		printf("%-8.8s  %-3s  %-16.16s  %-24.24s  %9s  %s",
		       json_string_value(json_object_get(e, "id")),
		       json_string_value(json_object_get(e, "direction")),
		       json_string_value(json_object_get(e, "peer")),
		       json_string_value(json_object_get(e, "name")), sz, state);
		if (strcmp(state, "transferring") == 0 && size > 0)
			printf(" %.0f%%", 100.0 * bytes / size);
		if (error)
			printf(": %s", error);
		putchar('\n');
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The progress line, redrawn by a child while the accept waits. */
struct accept_progress {
	const char *id;
	double t0, b0;
};

static void accept_progress_step(struct cli *c, void *ud)
{
	struct accept_progress *ap = ud;
	json_t *list = list_files(c, true), *e = list ? find_entry(list, ap->id) : NULL;
	double size, bytes, t = now_s(), rate;
	char have[32], all[32], r[32], eta[32] = "";

	if (!e) {
		json_decref(list);
		return;
	}
	size = (double)json_integer_value(json_object_get(e, "size"));
	bytes = (double)json_integer_value(json_object_get(e, "bytes"));
	if (ap->b0 < 0) {
		ap->b0 = bytes;
		ap->t0 = t;
	}
	rate = t > ap->t0 ? (bytes - ap->b0) / (t - ap->t0) : 0;
	cli_format_bytes(bytes, have, sizeof(have));
	cli_format_bytes(size, all, sizeof(all));
	cli_format_bytes(rate, r, sizeof(r));
	if (rate > 0 && size > bytes)
		snprintf(eta, sizeof(eta), "  ETA %.0f s", (size - bytes) / rate);
	fprintf(stderr, "\r\033[K%3.0f%%  %s of %s  %s/s%s",
		size > 0 ? 100.0 * bytes / size : 100.0, have, all, r, eta);
	json_decref(list);
}

static int progress_start(struct cli *c, const char *id)
{
	struct accept_progress ap = { .id = id, .b0 = -1 };

	if (c->json || !isatty(STDERR_FILENO))
		return -1;
	return cli_progress_start(c, accept_progress_step, &ap, 250000);
}

/* Renames the finished part to name in dir, or name-1, name-2, ... before
 * its extension when that exists; never replaces a file. The name chosen
 * goes to out. */
static int place(int dir, const char *part, const char *name, char *out, size_t cap)
{
	const char *dot = strrchr(name, '.');
	size_t stem = dot && dot != name ? (size_t)(dot - name) : strlen(name);

	for (int k = 0; k < 1000; k++) {
		if (k == 0)
			snprintf(out, cap, "%s", name);
		else
			snprintf(out, cap, "%.*s-%d%s", (int)stem, name, k, name + stem);
		if (renameat2(dir, part, dir, out, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

static int run_accept(struct cli *c, const char *id, const char *output)
{
	char cwd[PATH_MAX], dirpath[PATH_MAX], part[300], final[300], path[PATH_MAX + 300];
	json_t *list, *e, *res = NULL;
	const char *name;
	int dir = -1, fd = -1, ret = 1;
	mode_t mask;
	int prog;

	if (!output && !(output = getcwd(cwd, sizeof(cwd))))
		return cli_error("cannot tell the current folder: %s", strerror(errno));
	if (!realpath(output, dirpath))
		return cli_error("cannot use %s: %s", output, strerror(errno));
	if (!(list = list_files(c, false)))
		return 1;
	e = find_entry(list, id);
	name = e ? json_string_value(json_object_get(e, "name")) : NULL;
	if (!name || strcmp(json_string_value(json_object_get(e, "direction")), "in") != 0) {
		cli_error("no offer '%.40s' made to this machine (see 'ray files')", id);
		goto out;
	}
	dir = open(dirpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(part, sizeof(part), ".%s.rayfish-part", name);
	if (dir >= 0)
		fd = openat(dir, part, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		cli_error("cannot write in %s: %s", dirpath, strerror(errno));
		goto out;
	}
	prog = progress_start(c, json_string_value(json_object_get(e, "id")));
	ret = cli_call_fds(c, "files_accept",
			   json_pack("{s:s}", "id", json_string_value(json_object_get(e, "id"))),
			   &fd, 1, &res, ACCEPT_TIMEOUT_MS);
	cli_progress_stop(prog, true);
	if (ret) {
		unlinkat(dir, part, 0);
		goto out;
	}
	mask = umask(0);
	umask(mask);
	fchmod(fd, 0666 & ~mask);
	if ((ret = place(dir, part, name, final, sizeof(final))) < 0) {
		cli_error("the file is complete as %s/%s, but cannot be named %s: %s", dirpath,
			  part, name, strerror(-ret));
		ret = 1;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", dirpath, final);
	if (c->json) {
		json_t *out =
			json_pack("{s:O, s:s}", "id", json_object_get(res, "id"), "path", path);

		cli_print_json(out);
		json_decref(out);
	} else {
		printf("saved %s\n", path);
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dir >= 0)
		close(dir);
	json_decref(res);
	json_decref(list);
	return ret;
}

static int run_verdict(struct cli *c, const char *cmd, const char *id)
{
	json_t *res = NULL;
	int ret = cli_call(c, cmd, json_pack("{s:s}", "id", id), &res, 10000);

	if (ret == 0 && c->json)
		cli_print_json(res);
	json_decref(res);
	return ret;
}

static int run_files(struct cli *c, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "list", *output = NULL;
	json_t *list;

	if (strcmp(sub, "list") == 0 && argc <= 2) {
		if (!(list = list_files(c, false)))
			return 1;
		if (c->json)
			cli_print_json(list);
		else
			print_table(list);
		json_decref(list);
		return 0;
	}
	if (strcmp(sub, "accept") == 0 && argc >= 3) {
		for (int i = 3; i < argc; i++) {
			if (!(output = cli_flag_value(argc, argv, &i, "--output")))
				return cli_usage_error("files", "unexpected argument '%s'",
						       argv[i]);
		}
		return run_accept(c, argv[2], output);
	}
	if ((strcmp(sub, "deny") == 0 || strcmp(sub, "cancel") == 0) && argc == 3)
		return run_verdict(c, strcmp(sub, "deny") == 0 ? "files_deny" : "files_cancel",
				   argv[2]);
	return cli_usage_error("files", "expected list, accept ID, deny ID or cancel ID");
}

const struct command cmd_files = {
	"files",
	"list file offers; accept, deny or cancel one",
	"usage: ray files [list]\n"
	"       ray files accept ID [--output DIR]\n"
	"       ray files deny ID\n"
	"       ray files cancel ID\n\n"
	"Lists the offers made to this machine (direction in) and by it (out),\n"
	"with their size, peer and state: pending, transferring, done, failed,\n"
	"denied or cancelled. ID may be the first characters of an offer's id.\n\n"
	"accept  fetches the file into DIR (default: the current folder). It is\n"
	"        checked against its BLAKE3 hash as it streams, written as\n"
	"        .NAME.rayfish-part, and renamed to NAME (NAME-1, ... if taken)\n"
	"        only when complete and verified; a sender whose data does not\n"
	"        match is refused and nothing is kept. A cut connection resumes\n"
	"        by itself. Shows progress on a terminal.\n"
	"deny    refuses an offer made to this machine.\n"
	"cancel  withdraws an offer this machine made.\n",
	run_files,
};
