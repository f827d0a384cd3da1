/*
 * paths: where a node keeps its state and its IPC socket.
 *
 * RAYFISH_HOME (default /var/lib/rayfish) holds the identity key, networks,
 * settings and blobs; RAYFISH_SOCKET (default /run/rayfish/rayfish.sock) is
 * the daemon's unix socket. Both CLI and daemon resolve them the same way,
 * and the directory of the daemon's log files.
 */
#ifndef RAYFISH_HOME_PATHS_H
#define RAYFISH_HOME_PATHS_H

#define RAYFISH_DEFAULT_HOME "/var/lib/rayfish"
#define RAYFISH_DEFAULT_SOCKET "/run/rayfish/rayfish.sock"
#define RAYFISH_DEFAULT_LOG_DIR "/var/log/rayfish"

#include <stddef.h>

const char *paths_home(void);
const char *paths_socket(void);
/* Where the daemon's log files go: RAYFISH_LOG_DIR, else /var/log/rayfish
 * for the default home, else HOME/logs. */
void paths_log_dir(const char *home, char *out, size_t cap);

#endif
