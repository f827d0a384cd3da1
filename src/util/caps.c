/*
 * caps: see caps.h. The raw capget/capset system calls with version 3
 * headers (two 32-bit words per set), so no library is needed. The bounding
 * set goes first: dropping from it takes CAP_SETPCAP, which capset may be
 * about to give up.
 */
#include "util/caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int caps_permitted(uint64_t *out)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	*out = data[0].permitted | (uint64_t)data[1].permitted << 32;
	return 0;
}

static int caps_set(uint64_t set)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };

	data[0].effective = data[0].permitted = (uint32_t)set;
	data[1].effective = data[1].permitted = (uint32_t)(set >> 32);
	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

/* Only the capabilities still in the set are dropped, so calling again
 * without CAP_SETPCAP succeeds when there is nothing left to drop. */
static int bounding_shrink(uint64_t keep)
{
	for (int cap = 0; cap < 64; cap++) {
		int in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

		if (in < 0)
			return errno == EINVAL ? 0 : -errno; /* past the last one */
		if (in == 0 || (keep & CAPS_BIT(cap)))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -errno;
	}
	return 0;
}

int caps_restrict(uint64_t keep)
{
	uint64_t held = 0;
	int ret;

	ret = caps_permitted(&held);
	if (ret < 0)
		return ret;
	ret = bounding_shrink(keep);
	if (ret < 0)
		return ret;
	/* Kernels before 4.3 have no ambient set, hence nothing to clear. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	/* capset may lower the permitted set, never raise it. */
	ret = caps_set(held & keep);
	if (ret < 0)
		return ret;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
}
