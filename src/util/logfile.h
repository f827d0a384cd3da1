/*
 * logfile: the daemon's log lines also in rolling daily files, and its
 * last lines kept in memory for a crash record.
 *
 * Each line from log.h is appended, with its date, to DIR/rayfish-YYYY-MM-DD.log
 * (UTC). A file that grows past LOGFILE_MAX_BYTES moves to .1 (replacing
 * the one before) and a new one starts; at most LOGFILE_KEEP dated files
 * stay, the oldest deleted when a new day starts. Writes are O_APPEND, one
 * write() per line, under a lock (DHT threads log too); a failing disk
 * costs lines, never the daemon.
 *
 * The crash record: on SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT the
 * handler writes "signal N" and the last LOGFILE_RING lines to the crash
 * file (async-signal-safe: open, write, close, no allocation), then hands
 * the signal on to the handler installed before it (a sanitizer's) or the
 * default action. The next start finds the file (logfile_crash_take).
 *
 * Process-wide like log.h itself: one daemon per process.
 */
#ifndef RAYFISH_UTIL_LOGFILE_H
#define RAYFISH_UTIL_LOGFILE_H

#include <stddef.h>

#define LOGFILE_MAX_BYTES (16u << 20)
#define LOGFILE_KEEP 8
#define LOGFILE_RING 64
#define LOGFILE_LINE 512

/* Starts writing to dir (made 0750 if missing). 0 or -errno. */
int logfile_open(const char *dir);
void logfile_close(void);
/* The directory in use, or NULL. */
const char *logfile_dir(void);

/* Installs the crash handlers writing to path. 0 or -errno. */
int logfile_crash_handlers(const char *path);
/* A crash file left by the previous run: its first line ("signal N at
 * TIME") into out, the file renamed to path.prev. 1 when there was one,
 * 0 when not, -errno. */
int logfile_crash_take(const char *path, char *out, size_t cap);

/*
 * The newest log text: the lines of the dated files with a time at or
 * after since_ms (unix ms; 0 = all), oldest first, at most max bytes (the
 * newest kept when cut). *out is malloc'd and NUL-terminated. 0 or -errno.
 */
int logfile_read(const char *dir, unsigned long long since_ms, size_t max, char **out, size_t *len);

#endif
