/*
 * manpage: the manual page made from the command table (see manpage.c).
 */
#ifndef RAYFISH_CLI_MANPAGE_H
#define RAYFISH_CLI_MANPAGE_H

#include <stddef.h>

struct command;

/* Prints the page: template_path with @COMMANDS@ filled in. 0, or 1 after
 * one line on stderr. */
int manpage_main(const struct command *const *cmds, size_t n_cmds, const char *template_path);

#endif
