/*
 * upstream: what an upstream resolver's answer must show before Magic DNS
 * relays it to the client whose query it forwarded, without sockets.
 *
 * The forwarder (dns/server) sends the client's query upstream under a
 * random id of its own and checks, besides the sender's address, that a
 * packet coming back carries that id, is a response, and asks the same
 * question (name compared without ASCII case, type and class exactly), or
 * carries no question at all and an error rcode. Only then is the client's
 * id put back and the bytes relayed as they came. These are pure functions
 * of the bytes, so the check is unit-tested and fuzzed on its own
 * (tests/fuzz/fuzz_dns_upstream.c): it is the part of the server that reads
 * what the network, not a local client, sends.
 */
#ifndef RAYFISH_DNS_UPSTREAM_H
#define RAYFISH_DNS_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Whether reply answers query, the packet as it went upstream (with our
 * id; qlen >= DNS_HEADER_LEN). A query whose question cannot be walked
 * without compression (dns_question_span 0) gets no question check: any
 * response with its id and a question count is taken, as the client could
 * not match one anyway.
 */
bool dns_reply_matches(const uint8_t *query, size_t qlen, const uint8_t *reply, size_t rlen);

/* Puts the client's id into a reply dns_reply_matches took (rlen >= 2). */
void dns_reply_set_id(uint8_t *reply, uint16_t client_id);

#endif
