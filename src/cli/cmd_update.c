/*
 * cmd_update: `ray update [--check] [--force] [--version V]`: the release
 * feed (setting update-url) checked against the release key (update.h),
 * then the binary, checked against the feed's SHA-256 and size, written
 * next to the running one and renamed over it, then the service restarted
 * onto it. Nothing is replaced unless everything checks out; a downgrade
 * needs --force.
 *
 * The release key is built in (meson -Drelease_key=HEX); a build without
 * one updates only from a feed signed by the key in RAYFISH_UPDATE_KEY
 * (tests, private feeds). Downloads go through libcurl: at most
 * UPDATE_MAX_FEED / the announced size, 5 redirects, 5 minutes.
 */
#include "cli/cli.h"
#include "cli/update.h"
#include "home/settings.h"
#include "util/hex.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef RAYFISH_RELEASE_KEY
#define RAYFISH_RELEASE_KEY ""
#endif

struct sink {
	char *buf; /* memory sink (feed) */
	size_t len, cap;
	int fd; /* file sink (binary), or -1 */
	crypto_hash_sha256_state sha;
	uint64_t max, got;
	bool over;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n;

	if (s->got + len > s->max) {
		s->over = true;
		return 0; /* aborts the transfer */
	}
	s->got += len;
	if (s->fd >= 0) {
		crypto_hash_sha256_update(&s->sha, (const uint8_t *)p, len);
		return write(s->fd, p, len) == (ssize_t)len ? len : 0;
	}
	if (s->len + len + 1 > s->cap) {
		size_t want = (s->len + len + 1) * 2;
		char *grown = realloc(s->buf, want);

		if (!grown)
			return 0;
		s->buf = grown;
		s->cap = want;
	}
	memcpy(s->buf + s->len, p, len);
	s->len += len;
	s->buf[s->len] = 0;
	return len;
}

static int fetch(const char *url, struct sink *s, char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE] = "";
	CURL *h = curl_easy_init();
	long code = 0;
	CURLcode rc;

	if (!h) {
		snprintf(err, errlen, "cannot start an HTTP client");
		return -ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 20L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "rayfish/" RAYFISH_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	if (s->over) {
		snprintf(err, errlen, "%s sent more than the %llu bytes expected", url,
			 (unsigned long long)s->max);
		return -EFBIG;
	}
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "cannot fetch %s: %s", url,
			 cerr[0] ? cerr : curl_easy_strerror(rc));
		return -EIO;
	}
	return 0;
}

static int release_key(uint8_t pk[32])
{
	const char *k = getenv("RAYFISH_UPDATE_KEY");

	if (!k || !*k)
		k = RAYFISH_RELEASE_KEY;
	return strlen(k) == 64 && hex_decode(k, 64, pk, 32) == 0 ? 0 : -ENOKEY;
}

static void arch_name(char *out, size_t cap)
{
	struct utsname u;

	snprintf(out, cap, "%s-linux", uname(&u) == 0 ? u.machine : "unknown");
}

/* Downloads r into a temporary file beside target, checks it, renames it
 * over target. */
static int install_binary(const struct update_release *r, const char *target)
{
	char dir[4096], tmp[4200], err[1200];
	struct sink s = { .fd = -1, .max = r->size };
	uint8_t got[32];
	int ret;

	snprintf(dir, sizeof(dir), "%s", target);
	snprintf(tmp, sizeof(tmp), "%s/.ray-update-XXXXXX", dirname(dir));
	if ((s.fd = mkstemp(tmp)) < 0)
		return cli_error("cannot write beside %s: %s (run it as the binary's owner, or with "
				 "sudo)",
				 target, strerror(errno));
	crypto_hash_sha256_init(&s.sha);
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "downloading %s (%llu bytes)…\n", r->url,
			(unsigned long long)r->size);
	ret = fetch(r->url, &s, err, sizeof(err));
	crypto_hash_sha256_final(&s.sha, got);
	if (ret == 0 && s.got != r->size) {
		snprintf(err, sizeof(err),
			 "the binary is %llu bytes, the feed says %llu (cut short?)",
			 (unsigned long long)s.got, (unsigned long long)r->size);
		ret = -EBADMSG;
	}
	if (ret == 0 && sodium_memcmp(got, r->sha256, 32) != 0) {
		snprintf(err, sizeof(err), "the binary's SHA-256 does not match the signed feed");
		ret = -EBADMSG;
	}
	if (ret == 0 && (fsync(s.fd) < 0 || fchmod(s.fd, 0755) < 0))
		ret = -errno;
	close(s.fd);
	if (ret == 0 && rename(tmp, target) < 0)
		ret = -errno;
	if (ret < 0) {
		unlink(tmp);
		return cli_error("update: %s; nothing was changed", err[0] ? err : strerror(-ret));
	}
	return 0;
}

/* The service runs the old binary until it restarts. */
static void restart_service(void)
{
	const char *argv[] = { "systemctl", "try-restart", "rayfish.service", NULL };

	if (access("/run/systemd/system", F_OK) != 0 && !getenv("RAYFISH_SYSTEMD_DIR"))
		return;
	if (cli_run(argv) == 0)
		fprintf(stderr, "restarted rayfish.service onto the new binary\n");
}

static int run_update(struct cli *c, int argc, char **argv)
{
	bool check = false, force = false;
	const char *want = NULL;
	char err[1200], arch[80], exe[4096], feed_url[1024];
	struct sink feed = { .fd = -1, .max = UPDATE_MAX_FEED };
	struct update_release r;
	struct settings s;
	uint8_t pk[32];
	int cmp, ret;
	ssize_t n;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check") == 0)
			check = true;
		else if (strcmp(argv[i], "--force") == 0)
			force = true;
		else if (!(want = cli_flag_value(argc, argv, &i, "--version")))
			return cli_usage_error("update", "unexpected argument '%s'", argv[i]);
	}
	if (want && update_version_cmp(want, want) != 0)
		return cli_usage_error("update", "--version takes MAJOR.MINOR.PATCH, not '%s'",
				       want);
	if (release_key(pk) < 0)
		return cli_error(
			"this build has no release key (and RAYFISH_UPDATE_KEY holds none): "
			"update it from your package manager");
	settings_load(&s, c->home, err, sizeof(err));
	snprintf(feed_url, sizeof(feed_url), "%s", settings_get(&s, SET_UPDATE_URL));
	settings_free(&s);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return cli_error("cannot start the HTTP client");
	ret = fetch(feed_url, &feed, err, sizeof(err));
	arch_name(arch, sizeof(arch));
	if (ret == 0)
		ret = update_feed_pick(feed.buf, feed.len, pk, arch, want, &r, err, sizeof(err));
	free(feed.buf);
	if (ret < 0) {
		curl_global_cleanup();
		return cli_error("update: %s", err);
	}
	cmp = update_version_cmp(r.version, RAYFISH_VERSION);
	if (check) {
		curl_global_cleanup();
		if (c->json) {
			json_t *o = json_pack("{s:s, s:s, s:b}", "current", RAYFISH_VERSION,
					      "latest", r.version, "update_available", cmp > 0);

			cli_print_json(o);
			json_decref(o);
		} else {
			printf("current %s, latest %s%s\n", RAYFISH_VERSION, r.version,
			       cmp > 0 ? ": 'ray update' installs it" : ": up to date");
		}
		return 0;
	}
	if (cmp == 0 && !force) {
		curl_global_cleanup();
		printf("already at %s\n", r.version);
		return 0;
	}
	if (cmp < 0 && !force) {
		curl_global_cleanup();
		return cli_error("%s is older than this %s: --force installs it anyway", r.version,
				 RAYFISH_VERSION);
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		curl_global_cleanup();
		return cli_error("cannot tell where this ray binary is");
	}
	exe[n] = 0;
	ret = install_binary(&r, exe);
	curl_global_cleanup();
	if (ret)
		return ret;
	printf("%supdated %s to %s\n", cli_ok_mark(), exe, r.version);
	restart_service();
	return 0;
}

const struct command cmd_update = {
	"update",
	"update ray from the release feed",
	"usage: ray update [--check] [--force] [--version V]\n\n"
	"Reads the release feed (the update-url setting), checks its signature\n"
	"against the project's release key, and replaces this ray binary with the\n"
	"newest release for this machine (or version V): downloaded beside it,\n"
	"checked against the feed's SHA-256 and size, renamed over it, and the\n"
	"service restarted onto it. A bad signature, a wrong hash or a cut\n"
	"download changes nothing.\n\n"
	"  --check      only say whether a newer release is there\n"
	"  --force      install even the same or an older version\n"
	"  --version V  that version, not the newest\n",
	run_update,
};

static int run_sign_feed(struct cli *c, int argc, char **argv)
{
	char *text = NULL, *seed_text = NULL, *doc;
	size_t len = 0, cap = 0, slen;
	uint8_t seed[32];
	ssize_t r;

	bool public_only = argc == 3 && strcmp(argv[1], "--public") == 0;

	(void)c;
	if (public_only) {
		argv++;
		argc--;
	}
	if (argc != 2)
		return cli_usage_error("__sign-feed", "expected the release key's seed file");
	if (!(seed_text = malloc(130)))
		return 1;
	{
		int fd = open(argv[1], O_RDONLY | O_CLOEXEC);

		slen = fd >= 0 ? (size_t)read(fd, seed_text, 129) : 0;
		if (fd >= 0)
			close(fd);
	}
	while (slen && (seed_text[slen - 1] == '\n' || seed_text[slen - 1] == ' '))
		slen--;
	if (slen != 64 || hex_decode(seed_text, 64, seed, 32) < 0) {
		free(seed_text);
		return cli_error("%s must hold the seed as 64 hex characters", argv[1]);
	}
	free(seed_text);
	if (public_only) { /* what -Drelease_key= or RAYFISH_UPDATE_KEY take */
		uint8_t pk[32], sk[64];
		char hex[65];

		crypto_sign_seed_keypair(pk, sk, seed);
		sodium_memzero(sk, sizeof(sk));
		sodium_memzero(seed, sizeof(seed));
		hex_encode(pk, sizeof(pk), hex);
		printf("%s\n", hex);
		return 0;
	}
	do {
		if (len + 4097 > cap) {
			char *grown = realloc(text, cap = cap * 2 + 8192);

			if (!grown)
				return 1;
			text = grown;
		}
		r = read(STDIN_FILENO, text + len, cap - len - 1);
		if (r > 0)
			len += (size_t)r;
	} while (r > 0 && len < UPDATE_MAX_FEED);
	text[len] = 0;
	doc = update_feed_sign(text, seed);
	sodium_memzero(seed, sizeof(seed));
	free(text);
	if (!doc)
		return cli_error("cannot sign the feed");
	printf("%s\n", doc);
	free(doc);
	return 0;
}

/* Hidden: the release process signs the feed (releases JSON on stdin). */
const struct command cmd_sign_feed = {
	"__sign-feed",
	"",
	"usage: ray __sign-feed SEED_FILE < releases.json\n"
	"       ray __sign-feed --public SEED_FILE\n",
	run_sign_feed,
};
