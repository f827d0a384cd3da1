/*
 * fuzz_record: libFuzzer target for the discovery decoders that face DHT
 * values: record_decode and the endpoint / network / contact payload
 * decoders. The first input byte picks the decoder (modulo 3; bit 6 turns
 * the network decoder into the contact one) and, for records, the expected
 * kind (top bit network, bit 6 contact); the rest is the value. A payload that decodes must survive
 * encode + decode unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discovery/payload.h"
#include "discovery/record.h"

static void fuzz_endpoint(const uint8_t *buf, size_t len)
{
	static struct endpoint_payload a, b;
	uint8_t out[RECORD_MAX];
	int n;

	if (endpoint_payload_decode(buf, len, &a) < 0)
		return;
	n = endpoint_payload_encode(&a, out, sizeof(out));
	if (n < 0 || endpoint_payload_decode(out, (size_t)n, &b) < 0 ||
	    memcmp(&a, &b, sizeof(a)) != 0)
		abort();
}

static void fuzz_network(const uint8_t *buf, size_t len)
{
	static struct network_payload a, b;
	uint8_t out[RECORD_MAX];
	int n;

	if (network_payload_decode(buf, len, &a) < 0)
		return;
	n = network_payload_encode(&a, out, sizeof(out));
	if (n < 0 || network_payload_decode(out, (size_t)n, &b) < 0 ||
	    memcmp(&a, &b, sizeof(a)) != 0)
		abort();
}

static void fuzz_contact(const uint8_t *buf, size_t len)
{
	struct contact_payload a, b;
	uint8_t out[64];
	int n;

	if (contact_payload_decode(buf, len, &a) < 0)
		return;
	n = contact_payload_encode(&a, out, sizeof(out));
	if (n < 0 || (size_t)n != len || memcmp(out, buf, len) != 0 ||
	    contact_payload_decode(out, (size_t)n, &b) < 0 || memcmp(&a, &b, sizeof(a)) != 0)
		abort();
}

static void fuzz_record(const uint8_t *buf, size_t len, enum record_kind kind)
{
	struct record rec;

	if (record_decode(buf, len, kind, NULL, 0, &rec) < 0)
		return;
	/* Verified: the borrowed pointers must lie inside the input. */
	if (rec.payload < buf || rec.payload + rec.payload_len > buf + len || rec.body < buf ||
	    rec.body + rec.body_len > buf + len)
		abort();
	if (rec.kind == RECORD_ENDPOINT)
		fuzz_endpoint(rec.payload, rec.payload_len);
	else if (rec.kind == RECORD_CONTACT)
		fuzz_contact(rec.payload, rec.payload_len);
	else
		fuzz_network(rec.payload, rec.payload_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_record(data + 1, size - 1,
			    (data[0] & 0x80)   ? RECORD_NETWORK
			    : (data[0] & 0x40) ? RECORD_CONTACT
					       : RECORD_ENDPOINT);
		break;
	case 1:
		fuzz_endpoint(data + 1, size - 1);
		break;
	default:
		if (data[0] & 0x40)
			fuzz_contact(data + 1, size - 1);
		else
			fuzz_network(data + 1, size - 1);
		break;
	}
	return 0;
}
