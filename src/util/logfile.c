/*
 * logfile: see logfile.h.
 */
#include "util/logfile.h"
#include "util/fileio.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
#define N_CRASH (sizeof(crash_signals) / sizeof(crash_signals[0]))

static struct {
	pthread_mutex_t lock;
	char dir[4096];
	bool open;
	int fd;
	char day[11]; /* YYYY-MM-DD of the file fd writes */
	size_t size;
	char ring[LOGFILE_RING][LOGFILE_LINE];
	size_t ring_len[LOGFILE_RING];
	size_t ring_next;
	char crash_path[4096];
	struct sigaction old[N_CRASH];
} lf = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

static void file_name(char *out, size_t cap, const char *day, bool rotated)
{
	snprintf(out, cap, "%s/rayfish-%s%s.log", lf.dir, day, rotated ? ".1" : "");
}

static bool is_log_name(const char *name)
{
	/* rayfish-YYYY-MM-DD.log or rayfish-YYYY-MM-DD.1.log */
	size_t n = strlen(name);

	return strncmp(name, "rayfish-", 8) == 0 && n >= 22 && name[12] == '-' && name[15] == '-' &&
	       strcmp(name + n - 4, ".log") == 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The log files in dir, sorted (oldest first); *names malloc'd. */
static size_t list_files(const char *dir, char ***names)
{
	struct dirent *e;
	size_t n = 0, cap = 0;
	DIR *d = opendir(dir);

	*names = NULL;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char **grown;

		if (!is_log_name(e->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(grown = realloc(*names, cap * sizeof(**names))))
				break;
			*names = grown;
		}
		if (!((*names)[n] = strdup(e->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(*names, n, sizeof(**names), cmp_names);
	return n;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* A new day: at most LOGFILE_KEEP dated files stay (.1 files go with
 * their day). */
static void prune(void)
{
	char **names, path[4200];
	size_t n = list_files(lf.dir, &names), days = 0;

	for (size_t i = n; i-- > 0;) {
		bool rotated = strstr(names[i], ".1.log") != NULL;

		if (!rotated)
			days++;
		if (days > LOGFILE_KEEP || (rotated && days >= LOGFILE_KEEP)) {
			snprintf(path, sizeof(path), "%s/%s", lf.dir, names[i]);
			unlink(path);
		}
	}
	free_names(names, n);
}

static void open_day(const char *day)
{
	char path[4200];
	struct stat st;

	if (lf.fd >= 0)
		close(lf.fd);
	file_name(path, sizeof(path), day, false);
	lf.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	lf.size = lf.fd >= 0 && fstat(lf.fd, &st) == 0 ? (size_t)st.st_size : 0;
	snprintf(lf.day, sizeof(lf.day), "%s", day);
	prune();
}

static void rotate(void)
{
	char cur[4200], old[4200];

	file_name(cur, sizeof(cur), lf.day, false);
	file_name(old, sizeof(old), lf.day, true);
	rename(cur, old);
	open_day(lf.day);
}

static void sink(const struct timespec *ts, const char *line, size_t len)
{
	char day[11], buf[LOGFILE_LINE + 16];
	struct tm tm;
	size_t n;

	gmtime_r(&ts->tv_sec, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	n = (size_t)snprintf(buf, sizeof(buf), "%s %.*s", day, (int)len, line);
	if (n >= sizeof(buf)) {
		n = sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	pthread_mutex_lock(&lf.lock);
	if (lf.open) {
		if (strcmp(day, lf.day) != 0)
			open_day(day);
		else if (lf.size + n > LOGFILE_MAX_BYTES)
			rotate();
		if (lf.fd >= 0 && write(lf.fd, buf, n) == (ssize_t)n)
			lf.size += n;
	}
	n = n < LOGFILE_LINE ? n : LOGFILE_LINE;
	memcpy(lf.ring[lf.ring_next], buf, n);
	lf.ring_len[lf.ring_next] = n;
	lf.ring_next = (lf.ring_next + 1) % LOGFILE_RING;
	pthread_mutex_unlock(&lf.lock);
}

int logfile_open(const char *dir)
{
	struct timespec ts;
	struct tm tm;
	char day[11];
	int ret = fileio_mkdir_p(dir, 0750);

	if (ret < 0)
		return ret;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	pthread_mutex_lock(&lf.lock);
	snprintf(lf.dir, sizeof(lf.dir), "%s", dir);
	open_day(day);
	lf.open = lf.fd >= 0;
	ret = lf.open ? 0 : -errno;
	pthread_mutex_unlock(&lf.lock);
	log_set_sink(sink);
	return ret;
}

void logfile_close(void)
{
	pthread_mutex_lock(&lf.lock);
	if (lf.fd >= 0)
		close(lf.fd);
	lf.fd = -1;
	lf.open = false;
	pthread_mutex_unlock(&lf.lock);
}

const char *logfile_dir(void)
{
	return lf.open ? lf.dir : NULL;
}

/* ---- the crash record (async-signal-safe from here to on_crash) ---- */

static void put_uint(int fd, unsigned v)
{
	char b[12];
	int i = sizeof(b);

	do
		b[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i > 0);
	(void)!write(fd, b + i, sizeof(b) - (size_t)i);
}

static void on_crash(int sig, siginfo_t *info, void *ctx)
{
	int fd = open(lf.crash_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd >= 0) {
		(void)!write(fd, "signal ", 7);
		put_uint(fd, (unsigned)sig);
		(void)!write(fd, " at ", 4);
		put_uint(fd, (unsigned)time(NULL));
		(void)!write(fd, " (unix time); the last log lines:\n", 34);
		for (size_t i = 0; i < LOGFILE_RING; i++) {
			size_t k = (lf.ring_next + i) % LOGFILE_RING;

			if (lf.ring_len[k])
				(void)!write(fd, lf.ring[k], lf.ring_len[k]);
		}
		close(fd);
	}
	for (size_t i = 0; i < N_CRASH; i++) {
		if (crash_signals[i] != sig)
			continue;
		if ((lf.old[i].sa_flags & SA_SIGINFO) && lf.old[i].sa_sigaction) {
			sigaction(sig, &lf.old[i], NULL);
			lf.old[i].sa_sigaction(sig, info, ctx);
			return;
		}
		sigaction(sig, &lf.old[i], NULL);
	}
	raise(sig); /* the action before ours, normally the default */
}

int logfile_crash_handlers(const char *path)
{
	struct sigaction sa;

	snprintf(lf.crash_path, sizeof(lf.crash_path), "%s", path);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_crash;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_CRASH; i++)
		if (sigaction(crash_signals[i], &sa, &lf.old[i]) < 0)
			return -errno;
	return 0;
}

int logfile_crash_take(const char *path, char *out, size_t cap)
{
	char *buf = NULL, prev[4200];
	size_t len = 0;
	int ret = fileio_read_all(path, 1u << 20, &buf, &len);

	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	snprintf(out, cap, "%.*s", (int)strcspn(buf, "\n"), buf);
	free(buf);
	snprintf(prev, sizeof(prev), "%s.prev", path);
	if (rename(path, prev) < 0)
		return -errno;
	return 1;
}

/* ---- reading back ---- */

/* unix ms of a line "YYYY-MM-DD HH:MM:SS.mmm ...", or 0. */
static unsigned long long line_ms(const char *s, size_t n)
{
	struct tm tm = { 0 };
	unsigned ms;

	if (n < 23 || sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d.%3u", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (unsigned long long)timegm(&tm) * 1000ull + ms;
}

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t want = (*len + n + 1) * 2;
		char *grown = realloc(*buf, want);

		if (!grown)
			return -ENOMEM;
		*buf = grown;
		*cap = want;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = 0;
	return 0;
}

int logfile_read(const char *dir, unsigned long long since_ms, size_t max, char **out, size_t *len)
{
	char **names, path[4200];
	size_t n = list_files(dir, &names), cap = 0;
	int ret = 0;

	*out = NULL;
	*len = 0;
	if ((ret = append(out, len, &cap, "", 0)) < 0)
		goto done;
	for (size_t i = 0; i < n && ret == 0; i++) {
		char *text = NULL;
		size_t tlen = 0;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (fileio_read_all(path, LOGFILE_MAX_BYTES + LOGFILE_LINE * 2, &text, &tlen) < 0)
			continue;
		for (size_t off = 0; off < tlen && ret == 0;) {
			size_t l = strcspn(text + off, "\n");
			size_t take = off + l < tlen ? l + 1 : l;

			if (line_ms(text + off, l) >= since_ms)
				ret = append(out, len, &cap, text + off, take);
			off += take;
		}
		free(text);
		/* keep the newest max bytes, from a line start */
		if (*len > max && ret == 0) {
			const char *cut = *out + (*len - max);
			const char *nl = memchr(cut, '\n', (size_t)(*out + *len - cut));

			cut = nl ? nl + 1 : *out + *len;
			*len = (size_t)(*out + *len - cut);
			memmove(*out, cut, *len);
			(*out)[*len] = 0;
		}
	}
done:
	free_names(names, n);
	if (ret < 0) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	return ret;
}
