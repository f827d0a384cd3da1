/*
 * hostname: the names members and networks carry in rosters and Magic DNS.
 *
 * A valid name is 1-63 characters of a-z, 0-9 and '-', not starting or
 * ending with '-' (one DNS label). hostname_sanitize turns anything a user
 * or the OS offers into such a name (falling back to a random words name
 * when nothing usable is left); hostname_resolve_clash finds the first free
 * name among `name`, `name-1`, `name-2`, ... as the coordinator does on
 * join. All outputs are caller buffers of HOSTNAME_BUF bytes.
 */
#ifndef RAYFISH_MESH_HOSTNAME_H
#define RAYFISH_MESH_HOSTNAME_H

#include <stdbool.h>
#include <stddef.h>

#define HOSTNAME_MAX 63
#define HOSTNAME_BUF (HOSTNAME_MAX + 1)
/* Suffixes tried before giving up with -EEXIST. */
#define HOSTNAME_CLASH_TRIES 100000

bool hostname_valid(const char *s);

/* Lowercases raw, maps every other invalid character to '-' (collapsing
 * runs), trims '-' at both ends and cuts to 63 characters. When nothing
 * remains, writes a random words name. Returns 0 or -errno. */
int hostname_sanitize(const char *raw, char out[HOSTNAME_BUF]);

/* Returns true when name is already in use. */
typedef bool (*hostname_taken_fn)(const char *name, void *arg);

/* wanted must be valid (-EINVAL otherwise). Writes wanted, or the first
 * wanted-N (N = 1, 2, ...) that taken() rejects, shortening wanted so the
 * result stays within 63 characters. -EEXIST when all tries are taken. */
int hostname_resolve_clash(const char *wanted, hostname_taken_fn taken, void *arg,
			   char out[HOSTNAME_BUF]);
/* Same against a plain list of taken names. */
int hostname_resolve_clash_list(const char *wanted, const char *const *taken, size_t n_taken,
				char out[HOSTNAME_BUF]);

#endif
