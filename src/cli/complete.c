/*
 * complete: what `ray completions` scripts ask for as the user presses Tab
 * (`ray __complete WORD…`, the last word the one being completed).
 *
 * One grammar for every shell: commands and their flags come from the
 * command table (flags read out of each usage text, so they cannot drift
 * from --help); the words after a command from the rules below; networks,
 * peers, invite, request, offer and connection ids from the daemon (or,
 * for networks, the saved state when no daemon runs). Candidates are
 * printed one per line; none lets the shell fall back to file names.
 */
#include "cli/cli.h"
#include "cli/complete.h"
#include "daemon/status.h"
#include "home/settings.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define CALL_MS 1500

/* After the words of `path`, the n-th positional word is specs[n]: words
 * "a|b|c", or a kind of thing the daemon knows ("@NET", ...). */
static const struct {
	const char *path;
	const char *specs[3];
} rules[] = {
	{ "help", { "@CMD" } },
	{ "leave", { "@NET" } },
	{ "nuke", { "@NET" } },
	{ "hostname", { "@NET" } },
	{ "ephemeral", { "@NET" } },
	{ "requests", { "@NET" } },
	{ "accept", { "@NET", "@REQ" } },
	{ "deny", { "@NET", "@REQ" } },
	{ "kick", { "@NET", "@MEMBER" } },
	{ "admin", { "@NET", "add|list", "@MEMBER" } },
	{ "invite", { "@NET", "list|revoke", "@INVITE" } },
	{ "identityof", { "@NET", "@MEMBER" } },
	{ "ping", { "@PEER" } },
	{ "mdns", { "on|off" } },
	{ "files", { "list|accept|deny|cancel", "@FILE" } },
	{ "connections", { "list|approve|deny", "@CONN" } },
	{ "contact", { "id|rotate" } },
	{ "pair", { "backup|restore" } },
	{ "config", { "set|unset", "@KEY" } },
	{ "completions", { "bash|zsh|fish" } },
	{ "firewall",
	  { "show|add|remove|default|reject|on|off|suggest|pending|accept|deny|auto-accept" } },
	{ "firewall add", { "in|out", "allow|deny" } },
	{ "firewall remove", { "in|out" } },
	{ "firewall default", { "allow|deny" } },
	{ "firewall reject", { "on|off" } },
	{ "firewall suggest", { "@NET" } },
	{ "firewall pending", { "@NET" } },
	{ "firewall accept", { "@NET" } },
	{ "firewall deny", { "@NET" } },
	{ "firewall auto-accept", { "@NET", "on|off" } },
};

static void emit(const char *word, const char *prefix)
{
	if (word && word[0] && strncmp(word, prefix, strlen(prefix)) == 0)
		printf("%s\n", word);
}

static void emit_alternatives(const char *alts, const char *prefix)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", alts);
	for (char *w = strtok_r(buf, "|", &save); w; w = strtok_r(NULL, "|", &save))
		emit(w, prefix);
}

static json_t *status_json(struct cli *c)
{
	char err[256];
	json_t *st = NULL;

	if (cli_call_quiet(c, "status", NULL, &st, CALL_MS, err, sizeof(err)) < 0)
		st = status_build_offline(c->home);
	return st;
}

/* Field `key` of every element of the array reply to cmd (args stolen). */
static void emit_ids(struct cli *c, const char *cmd, json_t *args, const char *key,
		     const char *prefix)
{
	char err[256];
	json_t *list = NULL, *e;
	size_t i;

	if (cli_call_quiet(c, cmd, args, &list, CALL_MS, err, sizeof(err)) < 0)
		return;
	json_array_foreach(list, i, e) emit(json_string_value(json_object_get(e, key)), prefix);
	json_decref(list);
}

static void emit_kind(struct cli *c, const char *kind, const char *net, const char *prefix,
		      const struct command *const *cmds, size_t n_cmds)
{
	json_t *st, *n, *p;
	size_t i, j;

	if (strcmp(kind, "@CMD") == 0) {
		for (i = 0; i < n_cmds; i++)
			emit(cmds[i]->name, prefix);
	} else if (strcmp(kind, "@KEY") == 0) {
		for (int k = 0; k < SET_COUNT; k++)
			emit(settings_name((enum setting_key)k), prefix);
	} else if (strcmp(kind, "@NET") == 0 || strcmp(kind, "@PEER") == 0 ||
		   strcmp(kind, "@MEMBER") == 0) {
		st = status_json(c);
		json_array_foreach(json_object_get(st, "networks"), i, n)
		{
			const char *name = json_string_value(json_object_get(n, "name"));

			if (strcmp(kind, "@NET") == 0) {
				emit(name, prefix);
				continue;
			}
			if (strcmp(kind, "@MEMBER") == 0 && net && name && strcmp(name, net) != 0)
				continue;
			json_array_foreach(json_object_get(n, "peers"), j, p)
				emit(json_string_value(json_object_get(p, "hostname")), prefix);
		}
		json_decref(st);
	} else if (strcmp(kind, "@INVITE") == 0 && net) {
		emit_ids(c, "invite_list", json_pack("{s:s}", "network", net), "id", prefix);
	} else if (strcmp(kind, "@REQ") == 0 && net) {
		emit_ids(c, "requests", json_pack("{s:s}", "network", net), "id", prefix);
	} else if (strcmp(kind, "@FILE") == 0) {
		emit_ids(c, "files", NULL, "id", prefix);
	} else if (strcmp(kind, "@CONN") == 0) {
		emit_ids(c, "connections", NULL, "id", prefix);
	}
}

/* Every "--flag" in the usage text, and whether it takes a value (an
 * upper-case word follows it). */
static bool flag_takes_value(const char *usage, const char *flag)
{
	size_t n = strlen(flag);

	for (const char *p = strstr(usage, flag); p; p = strstr(p + 1, flag)) {
		if ((p[n] == ' ' || p[n] == '=') && isupper((unsigned char)p[n + 1]))
			return true;
	}
	return false;
}

static void emit_flags(const char *usage, const char *prefix)
{
	static const char *const global[] = { "--json", "--help", "--verbose" };
	char seen[4096] = " ";

	for (size_t i = 0; i < 3; i++)
		emit(global[i], prefix);
	for (const char *p = strstr(usage, "--"); p; p = strstr(p + 2, "--")) {
		char flag[64], key[70];
		size_t n = 2;

		while (n < sizeof(flag) - 1 && (isalnum((unsigned char)p[n]) || p[n] == '-'))
			n++;
		if (n <= 2)
			continue;
		memcpy(flag, p, n);
		flag[n] = 0;
		snprintf(key, sizeof(key), " %s ", flag);
		if (strstr(seen, key) || strlen(seen) + strlen(key) >= sizeof(seen))
			continue;
		strcat(seen, key + 1);
		emit(flag, prefix);
	}
}

int complete_main(struct cli *c, const struct command *const *cmds, size_t n_cmds, int argc,
		  char **argv)
{
	const char *cur = argc > 0 ? argv[argc - 1] : "";
	const char *pos[16], *net = NULL;
	const struct command *cmd = NULL;
	size_t n_pos = 0, best = 0, best_words = 0, best_len = 0;
	char path[256];

	/* argv: the words after "ray", the last one being completed. */
	for (int i = 0; i < argc - 1; i++) {
		const char *w = argv[i];

		if (w[0] == '-') {
			/* a flag's value is not a positional word */
			if (cmd && i + 1 < argc - 1 && flag_takes_value(cmd->usage, w))
				i++;
			continue;
		}
		if (n_pos < 16)
			pos[n_pos++] = w;
		if (!cmd)
			for (size_t k = 0; k < n_cmds && !cmd; k++)
				if (strcmp(cmds[k]->name, w) == 0)
					cmd = cmds[k];
	}
	if (n_pos == 0) {
		if (cur[0] == '-')
			emit_flags("", cur);
		else
			emit_kind(c, "@CMD", NULL, cur, cmds, n_cmds);
		return 0;
	}
	if (!cmd && strcmp(pos[0], "help") != 0)
		return 0;
	if (argc >= 2 && argv[argc - 2][0] == '-' && cmd &&
	    flag_takes_value(cmd->usage, argv[argc - 2])) {
		if (strcmp(argv[argc - 2], "--network") == 0)
			emit_kind(c, "@NET", NULL, cur, cmds, n_cmds);
		else if (strcmp(argv[argc - 2], "--peer") == 0)
			emit_kind(c, "@PEER", NULL, cur, cmds, n_cmds);
		return 0; /* any other value: file names or free text */
	}
	if (cur[0] == '-') {
		emit_flags(cmd ? cmd->usage : "", cur);
		return 0;
	}
	/* The longest rule whose path the positional words begin with. */
	for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
		size_t len = 0, words = 0;

		path[0] = 0;
		for (size_t k = 0; k < n_pos; k++) {
			size_t l = strlen(path);

			snprintf(path + l, sizeof(path) - l, "%s%s", k ? " " : "", pos[k]);
			if (strcmp(path, rules[r].path) == 0) {
				len = strlen(path);
				words = k + 1;
			}
		}
		if (len > best_len) {
			best_len = len;
			best = r;
			best_words = words;
		}
	}
	if (!best_len)
		return 0;
	{
		size_t r = best, taken = best_words, idx = n_pos - taken;
		const char *spec = idx < 3 ? rules[r].specs[idx] : NULL;

		/* the network named before, for ids that live in one */
		for (size_t k = taken; k < n_pos && !net; k++)
			if (rules[r].specs[k - taken] &&
			    strcmp(rules[r].specs[k - taken], "@NET") == 0)
				net = pos[k];
		if (!spec)
			return 0;
		if (spec[0] == '@')
			emit_kind(c, spec, net, cur, cmds, n_cmds);
		else
			emit_alternatives(spec, cur);
	}
	return 0;
}
