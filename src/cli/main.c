/*
 * ray: the command-line entry point. Dispatches to the command families in
 * src/cli/; every command except `ray daemon` is a thin IPC client.
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "version") == 0 ||
			  strcmp(argv[1], "--version") == 0)) {
		printf("ray %s\n", RAYFISH_VERSION);
		return 0;
	}
	fprintf(stderr, "usage: ray <command> [args]\n");
	return 2;
}
