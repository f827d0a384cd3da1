/*
 * ratelimit: a token bucket for events someone else can make us repeat
 * (log lines, messages, replies).
 *
 * A bucket holds up to `burst` tokens and gains one every `every_ms`; an
 * event that passes takes one, and one that finds the bucket empty is held
 * back (the caller counts those if it wants to say so once in a while
 * instead of every time). Time is the caller's clock in milliseconds (any
 * epoch; a clock that goes back restarts the refill), so the module has no
 * clock, no allocation and no globals.
 */
#ifndef RAYFISH_UTIL_RATELIMIT_H
#define RAYFISH_UTIL_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
	uint32_t burst;    /* most tokens held; 0 = not initialised, nothing passes */
	uint32_t every_ms; /* one token per this many ms */
	uint32_t tokens;
	uint64_t fill_ms; /* the refill counts from here */
};

/* A full bucket: the first `burst` events pass at once. */
void ratelimit_init(struct ratelimit *rl, uint32_t burst, uint32_t every_ms);
/* Whether one more event may pass at now_ms (and takes its token). */
bool ratelimit_take(struct ratelimit *rl, uint64_t now_ms);

#endif
