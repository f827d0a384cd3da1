/* ray version: the build's version, plain or --json. */
#include "cli/cli.h"
#include "cli/git_rev.h"

#include <stdio.h>

static int run_version(struct cli *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (c->json)
		printf("{\"version\": \"%s\", \"git\": \"%s\"}\n", RAYFISH_VERSION, RAYFISH_GIT);
	else
		printf("ray %s (%s)\n", RAYFISH_VERSION, RAYFISH_GIT);
	return 0;
}

const struct command cmd_version = {
	"version",
	"print the version",
	"usage: ray version   (also ray --version, ray -V)\n",
	run_version,
};
