/*
 * fuzz_backup: libFuzzer target for `ray pair restore`'s decoders. The
 * first byte picks one: the plaintext codec (what decodes must encode back
 * to the same bytes and decode to the same backup), or backup_open on the
 * rest as text under a fixed passphrase (which must never succeed on
 * anything but a code it sealed, and never crash or ask for more memory
 * than the cost bounds allow).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/backup.h"

static void fuzz_plain(const uint8_t *buf, size_t len)
{
	static struct backup a, b;
	static uint8_t out[32768];
	int n;

	if (backup_plain_decode(buf, len, &a) < 0)
		return;
	n = backup_plain_encode(&a, out, sizeof(out));
	if (n < 0 || backup_plain_decode(out, (size_t)n, &b) < 0 || memcmp(&a, &b, sizeof(a)) != 0)
		abort();
}

static void fuzz_open(const uint8_t *buf, size_t len)
{
	static struct backup b;
	char *text = malloc(len + 1);

	if (!text)
		return;
	memcpy(text, buf, len);
	text[len] = 0;
	/* Nothing here was sealed under "fuzz" (the seeds use "p"), and no
	 * mutation forges a tag. */
	if (backup_open(text, "fuzz", &b) == 0)
		abort();
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_open(data + 1, size - 1);
	else
		fuzz_plain(data + 1, size - 1);
	return 0;
}
