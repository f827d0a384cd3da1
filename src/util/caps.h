/*
 * caps: leaves the process the capabilities it still needs and no more.
 *
 * Linux keeps capabilities per thread: caps_restrict changes the calling
 * thread, threads and children it starts afterwards inherit the result, and
 * threads already running keep what they had. Call it before the first
 * thread exists.
 */
#ifndef RAYFISH_UTIL_CAPS_H
#define RAYFISH_UTIL_CAPS_H

#include <stdint.h>

#define CAPS_BIT(cap) (UINT64_C(1) << (cap))

/*
 * Keeps, of the capabilities in keep, those the thread holds (effective
 * and permitted; none inheritable or ambient), shrinks the bounding set to
 * keep, so nothing it executes (root's programs, setuid ones) gets more,
 * and sets no_new_privs. Returns 0 or -errno: -EPERM when the bounding set
 * holds more than keep and CAP_SETPCAP is gone.
 */
int caps_restrict(uint64_t keep);

#endif
