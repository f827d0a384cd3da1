/*
 * libFuzzer target: one DNS query through Magic DNS's parse-and-answer path
 * (dns/answer), as any local process could send it, against a small table.
 * Every reply must parse again and carry the query's id.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns/answer.h"
#include "dns/name_table.h"

static struct dns_table table;
static int ready;

static void table_build(void)
{
	struct dns_entry e[2];

	memset(e, 0, sizeof(e));
	strcpy(e[0].hostname, "alice");
	e[0].ipv4 = 0x64400001;
	e[0].ipv6[0] = 2;
	e[0].ipv6[15] = 1;
	strcpy(e[1].hostname, "bob");
	e[1].ipv4 = 0x647f0102;
	dns_table_init(&table);
	dns_table_set_network(&table, "gaming", e, 2);
	dns_table_set_network(&table, "work", e + 1, 1);
	ready = 1;
}

static void check(const uint8_t *q, size_t len, int tcp)
{
	struct dns_result res;
	ldns_pkt *p = NULL;

	if (dns_answer_query(&table, q, len, tcp, &res) < 0)
		return;
	if (res.verdict != DNS_REPLY) {
		if (res.reply)
			__builtin_trap();
		return;
	}
	if (res.len < DNS_HEADER_LEN || res.reply[0] != q[0] || res.reply[1] != q[1] ||
	    !(res.reply[2] & 0x80))
		__builtin_trap();
	if (!tcp && res.len > DNS_EDNS_PAYLOAD && res.len > len)
		__builtin_trap();
	if (ldns_wire2pkt(&p, res.reply, res.len) != LDNS_STATUS_OK)
		__builtin_trap();
	ldns_pkt_free(p);
	free(res.reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready)
		table_build();
	check(data, size, 0);
	check(data, size, 1);
	return 0;
}
