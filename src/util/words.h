/*
 * words: random human-friendly names of the form adjective-adjective-noun
 * ("gentle-amber-fox"), used for network names and default hostnames.
 *
 * Every generated name is a valid hostname (lowercase a-z and '-', at most
 * WORDS_NAME_MAX characters), and the two adjectives always differ. The
 * randomness comes from a caller-supplied uniform source so tests can be
 * deterministic; NULL means libsodium's randombytes_uniform. The word lists
 * are static constant data; nothing is allocated.
 */
#ifndef RAYFISH_UTIL_WORDS_H
#define RAYFISH_UTIL_WORDS_H

#include <stddef.h>
#include <stdint.h>

/* Longest possible name, excluding the NUL. */
#define WORDS_NAME_MAX 32

/* Returns a uniformly random integer in [0, upper). */
typedef uint32_t (*words_uniform_fn)(uint32_t upper, void *arg);

/* Writes a NUL-terminated name into out (cap >= WORDS_NAME_MAX + 1).
 * Returns its length or -ENOSPC. */
int words_name(char *out, size_t cap, words_uniform_fn rnd, void *arg);

/* For tests: the lists themselves. */
size_t words_adjective_count(void);
size_t words_noun_count(void);
const char *words_adjective(size_t i);
const char *words_noun(size_t i);

#endif
