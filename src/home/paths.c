/* paths: see paths.h. */
#include "home/paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *paths_home(void)
{
	const char *v = getenv("RAYFISH_HOME");

	return v && *v ? v : RAYFISH_DEFAULT_HOME;
}

const char *paths_socket(void)
{
	const char *v = getenv("RAYFISH_SOCKET");

	return v && *v ? v : RAYFISH_DEFAULT_SOCKET;
}

void paths_log_dir(const char *home, char *out, size_t cap)
{
	const char *v = getenv("RAYFISH_LOG_DIR");

	if (v && *v)
		snprintf(out, cap, "%s", v);
	else if (strcmp(home, RAYFISH_DEFAULT_HOME) == 0)
		snprintf(out, cap, "%s", RAYFISH_DEFAULT_LOG_DIR);
	else /* a node of its own (tests, several on one machine) */
		snprintf(out, cap, "%s/logs", home);
}
