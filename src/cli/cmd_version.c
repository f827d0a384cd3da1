/* ray version: the build's version, plain or --json. */
#include "cli/cli.h"

#include <stdio.h>

static int run_version(struct cli *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (c->json)
		printf("{\"version\": \"%s\"}\n", RAYFISH_VERSION);
	else
		printf("ray %s\n", RAYFISH_VERSION);
	return 0;
}

const struct command cmd_version = {
	"version",
	"print the version",
	"usage: ray version   (also ray --version, ray -V)\n",
	run_version,
};
