/*
 * name_table: the names Magic DNS answers for, one roster per network.
 *
 * The daemon rebuilds a network's entries from its verified roster on every
 * reconverge (dns_table_set_network replaces them whole, so renamed and
 * departed peers vanish at once) and drops them on leave. Lookups serve
 * `host.net.ray` per network and the flat `host.ray`. A flat name answers
 * only when every network holding it gives it to one identity (the same
 * IPv6 address; IPv4 may differ by roster), from the network added first; a
 * name two networks give to two identities is a clash and answers nothing,
 * so join order cannot decide whose machine `alice.ray` reaches (the
 * `host.net.ray` names still do). A network keeps its place in the order
 * when its roster is replaced. Reverse lookups map a mesh address back to the
 * `host.net` of the first network holding it. Names are DNS labels as
 * mesh/hostname.h defines them (lowercase); lookups take raw label bytes and
 * compare them ASCII case-insensitively. The table copies everything it is
 * given and owns its memory; it is not thread safe (one uv loop).
 */
#ifndef RAYFISH_DNS_NAME_TABLE_H
#define RAYFISH_DNS_NAME_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/hostname.h"

/* Caps so a hostile or corrupt roster cannot make the table grow unbounded. */
#define DNS_TABLE_MAX_NETWORKS 256
#define DNS_TABLE_MAX_ENTRIES 16384 /* per network */

struct dns_entry {
	char hostname[HOSTNAME_BUF];
	uint32_t ipv4;    /* host byte order; 0 = none */
	uint8_t ipv6[16]; /* all zero = none */
};

struct dns_net {
	char name[HOSTNAME_BUF];
	struct dns_entry *entries; /* owned */
	size_t n;
};

struct dns_table {
	struct dns_net *nets; /* owned; in the order networks were added */
	size_t n;
	uint32_t serial; /* bumped on every change; used as SOA serial */
};

void dns_table_init(struct dns_table *t);
void dns_table_close(struct dns_table *t);

/*
 * Replaces (or adds, at the end of the order) the entries of network
 * net_name. Entries with an invalid hostname are skipped with a warning, and
 * a hostname repeated inside one roster keeps its first entry. Returns the
 * number of entries kept, -EINVAL for an invalid network name, -E2BIG over
 * the caps, -ENOMEM.
 */
int dns_table_set_network(struct dns_table *t, const char *net_name,
			  const struct dns_entry *entries, size_t n);
/* Returns 0, or -ENOENT when the network is not in the table. */
int dns_table_remove_network(struct dns_table *t, const char *net_name);

/*
 * Finds host in network net (net == NULL: the flat name, NULL on a clash).
 * Both are raw label bytes. Returns the entry or NULL; *net_out (if
 * not NULL) gets the network it was found in.
 */
const struct dns_entry *dns_table_lookup(const struct dns_table *t, const char *host,
					 size_t hostlen, const char *net, size_t netlen,
					 const struct dns_net **net_out);
/* Fills names (up to max, pointing into the table until it next changes)
 * with the flat names that clash; returns how many. */
size_t dns_table_flat_clashes(const struct dns_table *t, const char **names, size_t max);
/* True when a network of that name (raw label bytes) exists. */
int dns_table_has_network(const struct dns_table *t, const char *net, size_t netlen);

/* Reverse lookups: the first network (in order) holding the address. */
const struct dns_entry *dns_table_find_v4(const struct dns_table *t, uint32_t ip,
					  const struct dns_net **net_out);
const struct dns_entry *dns_table_find_v6(const struct dns_table *t, const uint8_t ip[16],
					  const struct dns_net **net_out);

/*
 * True when some entry's address starts with the first `bits` bits of ip,
 * so a partial reverse name (an empty non-terminal) exists.
 */
int dns_table_has_v4_prefix(const struct dns_table *t, uint32_t ip, unsigned bits);
int dns_table_has_v6_prefix(const struct dns_table *t, const uint8_t ip[16], unsigned bits);

#endif
