/*
 * loop_wait: the unit tests' way to run a libuv loop until something
 * happens, with a deadline so a broken test fails instead of hanging.
 */
#ifndef RAYFISH_TESTS_LOOP_WAIT_H
#define RAYFISH_TESTS_LOOP_WAIT_H

#include <stdint.h>
#include <uv.h>

typedef int (*loop_cond_fn)(void *arg);

/* Runs loop until cond(arg) holds or ms pass; returns cond(arg). */
int loop_wait(uv_loop_t *loop, loop_cond_fn cond, void *arg, uint64_t ms);

#endif
