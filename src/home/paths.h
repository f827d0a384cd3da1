/*
 * paths: where a node keeps its state and its IPC socket.
 *
 * RAYFISH_HOME (default /var/lib/rayfish) holds the identity key, networks,
 * settings and blobs; RAYFISH_SOCKET (default /run/rayfish/rayfish.sock) is
 * the daemon's unix socket. Both CLI and daemon resolve them the same way.
 */
#ifndef RAYFISH_HOME_PATHS_H
#define RAYFISH_HOME_PATHS_H

#define RAYFISH_DEFAULT_HOME "/var/lib/rayfish"
#define RAYFISH_DEFAULT_SOCKET "/run/rayfish/rayfish.sock"

const char *paths_home(void);
const char *paths_socket(void);

#endif
