/* paths: see paths.h. */
#include "home/paths.h"

#include <stdlib.h>

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
