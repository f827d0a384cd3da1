/*
 * payload: see payload.h for the format.
 */
#include "discovery/payload.h"
#include "discovery/wire.h"
#include "util/mpread.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#define ADDR4_LEN 6
#define ADDR6_LEN 18

/* Appends one socket address; returns -EINVAL for a family or port we do not
 * carry. */
static int addr_write(struct wire_writer *w, const struct sockaddr_storage *ss)
{
	uint8_t b[ADDR6_LEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		if (sin->sin_port == 0)
			return -EINVAL;
		memcpy(b, &sin->sin_addr, 4);
		memcpy(b + 4, &sin->sin_port, 2); /* already big-endian */
		wire_write_bin(w, b, ADDR4_LEN);
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		if (sin6->sin6_port == 0)
			return -EINVAL;
		memcpy(b, &sin6->sin6_addr, 16);
		memcpy(b + 16, &sin6->sin6_port, 2);
		wire_write_bin(w, b, ADDR6_LEN);
		return 0;
	}
	return -EINVAL;
}

static int addr_read(struct mp_reader *r, struct sockaddr_storage *ss)
{
	const uint8_t *b;
	size_t len;

	if (mp_read_bin(r, ADDR6_LEN, &b, &len) < 0)
		return -EBADMSG;
	memset(ss, 0, sizeof(*ss));
	if (len == ADDR4_LEN) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, b, 4);
		memcpy(&sin->sin_port, b + 4, 2);
		return sin->sin_port ? 0 : -EBADMSG;
	}
	if (len == ADDR6_LEN) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, b, 16);
		memcpy(&sin6->sin6_port, b + 16, 2);
		return sin6->sin6_port ? 0 : -EBADMSG;
	}
	return -EBADMSG;
}

int endpoint_payload_encode(const struct endpoint_payload *p, uint8_t *out, size_t outcap)
{
	struct wire_writer w;

	if (!p || p->n_addrs > ENDPOINT_ADDRS_MAX)
		return -EINVAL;
	wire_writer_init(&w, out, outcap);
	wire_write_array(&w, p->flags ? 4 : 3);
	wire_write_array(&w, p->n_addrs);
	for (size_t i = 0; i < p->n_addrs; i++)
		if (addr_write(&w, &p->addrs[i]) < 0)
			return -EINVAL;
	if (!p->has_relay)
		wire_write_nil(&w);
	else if (addr_write(&w, &p->relay) < 0)
		return -EINVAL;
	if (p->has_timestamp)
		wire_write_uint(&w, p->timestamp);
	else
		wire_write_nil(&w);
	if (p->flags)
		wire_write_uint(&w, p->flags);
	return wire_writer_finish(&w);
}

int endpoint_payload_decode(const uint8_t *buf, size_t len, struct endpoint_payload *p)
{
	struct mp_reader r;
	size_t n;
	int nil;

	if (!buf || !p)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	mp_reader_init(&r, buf, len);
	if (mp_read_array(&r, 4, &n) < 0 || n < 3)
		return -EBADMSG;
	if (mp_read_array(&r, ENDPOINT_ADDRS_MAX, &p->n_addrs) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < p->n_addrs; i++)
		if (addr_read(&r, &p->addrs[i]) < 0)
			return -EBADMSG;
	if ((nil = mp_read_nil(&r)) < 0)
		return -EBADMSG;
	if (!nil) {
		if (addr_read(&r, &p->relay) < 0)
			return -EBADMSG;
		p->has_relay = true;
	}
	if ((nil = mp_read_nil(&r)) < 0)
		return -EBADMSG;
	if (!nil) {
		if (mp_read_uint(&r, &p->timestamp) < 0)
			return -EBADMSG;
		p->has_timestamp = true;
	}
	if (n == 4 && mp_read_uint(&r, &p->flags) < 0)
		return -EBADMSG;
	if (mp_reader_left(&r) != 0)
		return -EBADMSG;
	return 0;
}

int network_payload_encode(const struct network_payload *p, uint8_t *out, size_t outcap)
{
	struct wire_writer w;

	if (!p || p->n_seeds > NETWORK_SEEDS_MAX)
		return -EINVAL;
	wire_writer_init(&w, out, outcap);
	wire_write_array(&w, 3);
	wire_write_bin(&w, p->blob_hash, NETWORK_HASH_LEN);
	wire_write_array(&w, p->n_seeds);
	for (size_t i = 0; i < p->n_seeds; i++)
		wire_write_bin(&w, p->seeds[i], NETWORK_PK_LEN);
	wire_write_uint(&w, p->mesh_version);
	return wire_writer_finish(&w);
}

/* Reads a bin of exactly n bytes into dst. */
static int fixed_read(struct mp_reader *r, uint8_t *dst, size_t n)
{
	const uint8_t *b;
	size_t len;

	if (mp_read_bin(r, n, &b, &len) < 0 || len != n)
		return -EBADMSG;
	memcpy(dst, b, n);
	return 0;
}

int network_payload_decode(const uint8_t *buf, size_t len, struct network_payload *p)
{
	struct mp_reader r;
	uint64_t version;
	size_t n;

	if (!buf || !p)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	mp_reader_init(&r, buf, len);
	if (mp_read_array(&r, 3, &n) < 0 || n != 3)
		return -EBADMSG;
	if (fixed_read(&r, p->blob_hash, NETWORK_HASH_LEN) < 0)
		return -EBADMSG;
	if (mp_read_array(&r, NETWORK_SEEDS_MAX, &p->n_seeds) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < p->n_seeds; i++)
		if (fixed_read(&r, p->seeds[i], NETWORK_PK_LEN) < 0)
			return -EBADMSG;
	if (mp_read_uint(&r, &version) < 0 || version > UINT32_MAX)
		return -EBADMSG;
	p->mesh_version = (uint32_t)version;
	if (mp_reader_left(&r) != 0)
		return -EBADMSG;
	return 0;
}

int contact_payload_encode(const struct contact_payload *p, uint8_t *out, size_t outcap)
{
	struct wire_writer w;

	if (!p)
		return -EINVAL;
	wire_writer_init(&w, out, outcap);
	wire_write_array(&w, 1);
	if (p->retired)
		wire_write_nil(&w);
	else
		wire_write_bin(&w, p->endpoint, LIMIT_KEY_LEN);
	return wire_writer_finish(&w);
}

int contact_payload_decode(const uint8_t *buf, size_t len, struct contact_payload *p)
{
	struct mp_reader r;
	size_t n;
	int nil;

	if (!buf || !p)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	mp_reader_init(&r, buf, len);
	if (mp_read_array(&r, 1, &n) < 0 || n != 1 || (nil = mp_read_nil(&r)) < 0)
		return -EBADMSG;
	if (nil)
		p->retired = true;
	else if (fixed_read(&r, p->endpoint, LIMIT_KEY_LEN) < 0)
		return -EBADMSG;
	if (mp_reader_left(&r) != 0)
		return -EBADMSG;
	return 0;
}
