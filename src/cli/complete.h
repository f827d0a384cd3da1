/*
 * complete: the candidates for the word being completed (see complete.c),
 * printed one per line; what `ray completions` scripts call as
 * `ray __complete WORD…`.
 */
#ifndef RAYFISH_CLI_COMPLETE_H
#define RAYFISH_CLI_COMPLETE_H

#include <stddef.h>

struct cli;
struct command;

/* argv: the words after "ray" up to the cursor, the last one the partial
 * word (maybe ""). Always returns 0: no candidates is an answer too. */
int complete_main(struct cli *c, const struct command *const *cmds, size_t n_cmds, int argc,
		  char **argv);

#endif
