/*
 * words: two hand-picked lists of short, friendly, unambiguous words (no
 * homophones or offensive readings), kept at most ten letters each so three
 * words and two hyphens always fit WORDS_NAME_MAX.
 */
#include <errno.h>
#include <stdio.h>

#include <sodium.h>

#include "util/words.h"

static const char *const adjectives[] = {
	"amber",  "ancient",  "autumn",   "azure",    "bold",     "brave",    "breezy",  "bright",
	"brisk",  "calm",     "candid",   "cheerful", "clever",   "cloudy",   "cobalt",  "cosmic",
	"cozy",   "crimson",  "crisp",    "curious",  "daring",   "dapper",   "dawn",    "dusty",
	"eager",  "early",    "electric", "emerald",  "fancy",    "fearless", "fluffy",  "frosty",
	"gentle", "gilded",   "glad",     "golden",   "graceful", "grand",    "happy",   "hazel",
	"hidden", "honest",   "humble",   "icy",      "ivory",    "jade",     "jolly",   "keen",
	"kind",   "lively",   "lucky",    "lunar",    "mellow",   "merry",    "mighty",  "misty",
	"modest", "mossy",    "nimble",   "noble",    "ocean",    "olive",    "patient", "plucky",
	"polar",  "proud",    "quick",    "quiet",    "rapid",    "rosy",     "royal",   "rustic",
	"sandy",  "scarlet",  "serene",   "shiny",    "silent",   "silver",   "sleek",   "smooth",
	"snowy",  "solar",    "spry",     "steady",   "stellar",  "stormy",   "sunny",   "swift",
	"tidy",   "tranquil", "twilight", "vast",     "velvet",   "vivid",    "warm",    "wild",
	"windy",  "wise",     "witty",    "zesty",
};

static const char *const nouns[] = {
	"badger",  "bear",   "beaver",  "bee",      "bison",   "bobcat",  "buffalo", "canary",
	"caribou", "cat",    "cheetah", "condor",   "cougar",  "coyote",  "crane",   "crow",
	"deer",    "dingo",  "dolphin", "dove",     "eagle",   "egret",   "elk",     "falcon",
	"ferret",  "finch",  "fox",     "gazelle",  "gecko",   "gibbon",  "giraffe", "goose",
	"gopher",  "hare",   "hawk",    "hedgehog", "heron",   "hippo",   "ibis",    "iguana",
	"impala",  "jackal", "jaguar",  "kestrel",  "kiwi",    "koala",   "lark",    "lemur",
	"leopard", "lion",   "llama",   "lynx",     "magpie",  "marmot",  "marten",  "meerkat",
	"mink",    "mole",   "moose",   "newt",     "ocelot",  "orca",    "osprey",  "otter",
	"owl",     "panda",  "panther", "parrot",   "pelican", "penguin", "pigeon",  "puffin",
	"puma",    "quail",  "rabbit",  "raven",    "robin",   "salmon",  "seal",    "shark",
	"sparrow", "squid",  "stork",   "swan",     "tapir",   "tiger",   "toucan",  "trout",
	"turtle",  "viper",  "walrus",  "weasel",   "whale",   "wolf",    "wombat",  "wren",
	"yak",     "zebra",  "narwhal", "mantis",
};

#define N_ADJ (sizeof(adjectives) / sizeof(adjectives[0]))
#define N_NOUN (sizeof(nouns) / sizeof(nouns[0]))

static uint32_t sodium_uniform(uint32_t upper, void *arg)
{
	(void)arg;
	return randombytes_uniform(upper);
}

int words_name(char *out, size_t cap, words_uniform_fn rnd, void *arg)
{
	uint32_t a, b, n;
	int len;

	if (rnd == NULL) {
		if (sodium_init() < 0)
			return -EIO;
		rnd = sodium_uniform;
	}
	a = rnd(N_ADJ, arg) % N_ADJ;
	/* Drawing from N_ADJ - 1 and skipping a keeps b uniform and != a. */
	b = rnd(N_ADJ - 1, arg) % (N_ADJ - 1);
	if (b >= a)
		b++;
	n = rnd(N_NOUN, arg) % N_NOUN;
	len = snprintf(out, cap, "%s-%s-%s", adjectives[a], adjectives[b], nouns[n]);
	if (len < 0 || (size_t)len >= cap)
		return -ENOSPC;
	return len;
}

size_t words_adjective_count(void)
{
	return N_ADJ;
}

size_t words_noun_count(void)
{
	return N_NOUN;
}

const char *words_adjective(size_t i)
{
	return i < N_ADJ ? adjectives[i] : NULL;
}

const char *words_noun(size_t i)
{
	return i < N_NOUN ? nouns[i] : NULL;
}
