/*
 * log: leveled log lines to stderr, each stamped with time and level.
 *
 * The daemon logs every dropped packet class, refused peer and failed
 * operation here; the CLI uses it only under --verbose. The level is process
 * wide (set once at start by log_init, or by RAYFISH_LOG=debug|info|warn|error).
 */
#ifndef RAYFISH_UTIL_LOG_H
#define RAYFISH_UTIL_LOG_H

#include <stddef.h>

enum log_level {
	LL_ERROR = 0,
	LL_WARN,
	LL_INFO,
	LL_DEBUG
};

void log_init(enum log_level min);
/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int log_level_parse(const char *s);
int log_enabled(enum log_level lvl);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Every line that is written also goes to sink (util/logfile.c), with the
 * time it carries; NULL stops that. */
struct timespec;
typedef void (*log_sink_fn)(const struct timespec *ts, const char *line, size_t len);
void log_set_sink(log_sink_fn sink);

#define log_error(...) log_msg(LL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LL_INFO, __VA_ARGS__)
#define log_debug(...)                                  \
	do {                                            \
		if (log_enabled(LL_DEBUG))              \
			log_msg(LL_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
