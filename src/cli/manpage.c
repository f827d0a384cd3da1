/*
 * manpage: `ray __man TEMPLATE` prints the manual page: TEMPLATE (docs/
 * ray.1.in) with its @COMMANDS@ line replaced by one entry per command of
 * the table, made from the same summary and usage text `--help` prints, so
 * the two cannot drift. `make man` writes docs/ray.1 with it, and a test
 * fails when the committed page is not what this makes.
 */
#include "cli/cli.h"
#include "cli/manpage.h"
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

int manpage_main(const struct command *const *cmds, size_t n_cmds, const char *template_path)
{
	char *text = NULL, *mark;
	size_t len = 0;

	if (!template_path || fileio_read_all(template_path, 1u << 20, &text, &len) < 0)
		return cli_error("__man: cannot read the template %s",
				 template_path ? template_path : "(none given)");
	mark = strstr(text, "@COMMANDS@\n");
	if (!mark) {
		free(text);
		return cli_error("__man: %s has no @COMMANDS@ line", template_path);
	}
	fwrite(text, 1, (size_t)(mark - text), stdout);
	for (size_t i = 0; i < n_cmds; i++)
		command_entry(cmds[i]);
	fputs(mark + strlen("@COMMANDS@\n"), stdout);
	free(text);
	return 0;
}
