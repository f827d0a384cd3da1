/*
 * loop_wait: see loop_wait.h.
 */
#include "loop_wait.h"

static void on_deadline(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

int loop_wait(uv_loop_t *loop, loop_cond_fn cond, void *arg, uint64_t ms)
{
	uv_timer_t t;
	int hit = 0;

	uv_timer_init(loop, &t);
	t.data = &hit;
	uv_timer_start(&t, on_deadline, ms, 0);
	while (!cond(arg) && !hit)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT); /* let the timer's close finish */
	return cond(arg);
}
