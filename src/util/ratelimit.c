/*
 * ratelimit: see ratelimit.h. The refill keeps the remainder of a partial
 * interval (fill_ms advances by whole tokens only), so a steady caller is
 * not starved by calling a little more often than every_ms; time spent
 * full earns nothing (a full bucket's clock restarts when it is next used).
 */
#include "util/ratelimit.h"

#include <string.h>

void ratelimit_init(struct ratelimit *rl, uint32_t burst, uint32_t every_ms)
{
	memset(rl, 0, sizeof(*rl));
	rl->burst = burst;
	rl->every_ms = every_ms ? every_ms : 1;
	rl->tokens = burst;
}

static void refill(struct ratelimit *rl, uint64_t now_ms)
{
	uint64_t n;

	if (rl->every_ms == 0) /* never initialised: stays empty */
		return;
	if (now_ms < rl->fill_ms) { /* the clock went back: count from now */
		rl->fill_ms = now_ms;
		return;
	}
	n = (now_ms - rl->fill_ms) / rl->every_ms;
	if (n >= rl->burst - rl->tokens) {
		/* Full: time past the last token counts only within one
		 * interval, so a bucket that sat full earns nothing. */
		uint64_t full_ms = rl->fill_ms + (uint64_t)(rl->burst - rl->tokens) * rl->every_ms;

		rl->tokens = rl->burst;
		rl->fill_ms = now_ms - full_ms < rl->every_ms ? full_ms : now_ms;
		return;
	}
	rl->tokens += (uint32_t)n;
	rl->fill_ms += n * rl->every_ms;
}

bool ratelimit_take(struct ratelimit *rl, uint64_t now_ms)
{
	refill(rl, now_ms);
	if (rl->tokens == 0)
		return false;
	rl->tokens--;
	return true;
}
