/*
 * service: the text of rayfish.service, the systemd unit `sudo ray up`
 * installs when no daemon runs.
 *
 * systemd reads ExecStart= and Environment= with its own syntax: a word in
 * double quotes keeps its spaces and % starts a specifier. The program path
 * goes in quoted with % doubled; systemd expands no variable in it and
 * refuses one with quotes or backslashes, so those are refused here. The
 * Environment= values take C escapes too, so \ and " are escaped. A path
 * with a control character is refused: a newline would start a directive
 * of its own.
 */
#ifndef RAYFISH_CLI_SERVICE_H
#define RAYFISH_CLI_SERVICE_H

#include <stddef.h>

#define SERVICE_UNIT_PATH "/etc/systemd/system/rayfish.service"

/*
 * Writes into out (cap bytes, NUL-terminated) the unit that runs
 * `exe daemon` with RAYFISH_HOME=home and RAYFISH_SOCKET=sock; exe is what
 * /proc/self/exe names. Returns the length, or -ENOENT when exe ends in
 * " (deleted)" (the binary was removed or replaced since it started),
 * -EINVAL when a path is relative or holds a control character (exe: or
 * a quote or backslash),
 * -ENAMETOOLONG when the text does not fit.
 */
int service_unit(char *out, size_t cap, const char *exe, const char *home, const char *sock);

#endif
