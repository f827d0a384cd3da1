/*
 * hostname: validation, sanitising and clash suffixes for DNS-label names.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mesh/hostname.h"
#include "util/words.h"

static bool label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

bool hostname_valid(const char *s)
{
	size_t n, i;

	if (s == NULL)
		return false;
	n = strnlen(s, HOSTNAME_MAX + 1);
	if (n == 0 || n > HOSTNAME_MAX)
		return false;
	if (s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++) {
		if (!label_char(s[i]))
			return false;
	}
	return true;
}

int hostname_sanitize(const char *raw, char out[HOSTNAME_BUF])
{
	size_t n = 0;
	char c;
	int rc;

	for (; raw != NULL && *raw != '\0' && n < HOSTNAME_MAX; raw++) {
		c = *raw;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!label_char(c))
			c = '-';
		/* No leading '-' and no runs of them. */
		if (c == '-' && (n == 0 || out[n - 1] == '-'))
			continue;
		out[n++] = c;
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (n > 0)
		return 0;
	rc = words_name(out, HOSTNAME_BUF, NULL, NULL);
	return rc < 0 ? rc : 0;
}

/* Writes base-N, cutting base (and any '-' the cut exposes) to fit. */
static void suffixed(const char *base, unsigned n, char out[HOSTNAME_BUF])
{
	char suffix[16];
	size_t slen, blen;

	slen = (size_t)snprintf(suffix, sizeof(suffix), "-%u", n);
	blen = strlen(base);
	if (blen > HOSTNAME_MAX - slen)
		blen = HOSTNAME_MAX - slen;
	while (blen > 1 && base[blen - 1] == '-')
		blen--;
	memcpy(out, base, blen);
	memcpy(out + blen, suffix, slen + 1);
}

int hostname_resolve_clash(const char *wanted, hostname_taken_fn taken, void *arg,
			   char out[HOSTNAME_BUF])
{
	char cand[HOSTNAME_BUF];
	unsigned n;

	if (!hostname_valid(wanted) || taken == NULL)
		return -EINVAL;
	if (!taken(wanted, arg)) {
		strcpy(out, wanted);
		return 0;
	}
	for (n = 1; n <= HOSTNAME_CLASH_TRIES; n++) {
		suffixed(wanted, n, cand);
		if (!taken(cand, arg)) {
			strcpy(out, cand);
			return 0;
		}
	}
	return -EEXIST;
}

struct taken_list {
	const char *const *names;
	size_t n;
};

static bool list_taken(const char *name, void *arg)
{
	const struct taken_list *l = arg;
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (l->names[i] != NULL && strcmp(l->names[i], name) == 0)
			return true;
	}
	return false;
}

int hostname_resolve_clash_list(const char *wanted, const char *const *taken, size_t n_taken,
				char out[HOSTNAME_BUF])
{
	struct taken_list l = { taken, n_taken };

	return hostname_resolve_clash(wanted, list_taken, &l, out);
}
