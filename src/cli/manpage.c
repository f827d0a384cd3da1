/*
 * manpage: `ray __man TEMPLATE` prints the manual page: TEMPLATE (docs/
 * ray.1.in) with its @COMMANDS@ line replaced by one entry per command of
 * the table, made from the same summary and usage text `--help` prints,
 * and its @SETTINGS@ line by one per key of the settings table (help and
 * default, as `ray config` shows them), so neither can drift. `make man` writes docs/ray.1 with it, and a test
 * fails when the committed page is not what this makes.
 */
#include "cli/cli.h"
#include "cli/manpage.h"
#include "home/settings.h"
#include "util/fileio.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text as roff shows it literally in a no-fill block. */
static void roff_text(const char *s)
{
	bool line_start = true;

	for (; *s; s++) {
		if (line_start && (*s == '.' || *s == '\''))
			fputs("\\&", stdout);
		line_start = *s == '\n';
		if (*s == '\\')
			fputs("\\e", stdout);
		else if (*s == '-')
			fputs("\\-", stdout);
		else
			putchar(*s);
	}
}

static void command_entry(const struct command *cmd)
{
	printf(".TP\n.B ray %s\n", cmd->name);
	putchar(toupper((unsigned char)cmd->summary[0]));
	roff_text(cmd->summary + 1);
	printf(".\n.RS\n.PP\n.nf\n");
	roff_text(cmd->usage);
	if (cmd->usage[0] && cmd->usage[strlen(cmd->usage) - 1] != '\n')
		putchar('\n');
	printf(".fi\n.RE\n");
}

static void settings_entries(void)
{
	for (int k = 0; k < SET_COUNT; k++) {
		const char *def = settings_default((enum setting_key)k);

		printf(".TP\n.B ");
		roff_text(settings_name((enum setting_key)k));
		putchar('\n');
		putchar(toupper((unsigned char)settings_help((enum setting_key)k)[0]));
		roff_text(settings_help((enum setting_key)k) + 1);
		printf(".\nDefault: ");
		roff_text(def[0] ? def : "empty");
		printf(".\n");
	}
}

/* Writes text up to the next marker it holds and returns what follows
 * the marker's line, or NULL when it holds none (the rest is written). */
static const char *copy_to_marker(const char *text, const char **which)
{
	const char *c = strstr(text, "@COMMANDS@\n"), *s = strstr(text, "@SETTINGS@\n");
	const char *m = c && (!s || c < s) ? c : s;

	if (!m) {
		fputs(text, stdout);
		return NULL;
	}
	fwrite(text, 1, (size_t)(m - text), stdout);
	*which = m == c ? "commands" : "settings";
	return m + strlen("@COMMANDS@\n");
}

int manpage_main(const struct command *const *cmds, size_t n_cmds, const char *template_path)
{
	char *text = NULL;
	const char *rest, *which;
	size_t len = 0;

	if (!template_path || fileio_read_all(template_path, 1u << 20, &text, &len) < 0)
		return cli_error("__man: cannot read the template %s",
				 template_path ? template_path : "(none given)");
	if (!strstr(text, "@COMMANDS@\n") || !strstr(text, "@SETTINGS@\n")) {
		free(text);
		return cli_error("__man: %s lacks the @COMMANDS@ or @SETTINGS@ line",
				 template_path);
	}
	for (rest = text; (rest = copy_to_marker(rest, &which));) {
		if (strcmp(which, "commands") == 0)
			for (size_t i = 0; i < n_cmds; i++)
				command_entry(cmds[i]);
		else
			settings_entries();
	}
	free(text);
	return 0;
}
