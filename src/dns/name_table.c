/*
 * name_table: see name_table.h. Networks live in an array kept in insertion
 * order and each holds a flat array of entries; lookups scan linearly, which
 * for rosters of a few hundred members is cheaper than keeping an index in
 * step with every roster replacement.
 */
#include "dns/name_table.h"
#include "util/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t zero16[16];

void dns_table_init(struct dns_table *t)
{
	memset(t, 0, sizeof(*t));
	t->serial = 1;
}

void dns_table_close(struct dns_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->nets[i].entries);
	free(t->nets);
	memset(t, 0, sizeof(*t));
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Raw label bytes against a stored (lowercase, NUL-terminated) name. */
static int label_eq(const char *label, size_t len, const char *name)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (name[i] == 0 || lower((unsigned char)label[i]) != (unsigned char)name[i])
			return 0;
	return name[i] == 0;
}

static struct dns_net *net_find(const struct dns_table *t, const char *name, size_t len)
{
	for (size_t i = 0; i < t->n; i++)
		if (label_eq(name, len, t->nets[i].name))
			return &t->nets[i];
	return NULL;
}

/* Copies the valid, first-seen entries into a fresh array. */
static int entries_copy(const char *net_name, const struct dns_entry *in, size_t n,
			struct dns_entry **out, size_t *nout)
{
	struct dns_entry *e;
	size_t k = 0;

	*out = NULL;
	*nout = 0;
	if (n == 0)
		return 0;
	e = calloc(n, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int dup = 0;

		if (!hostname_valid(in[i].hostname)) {
			log_warn("dns: network %s: skipping invalid hostname", net_name);
			continue;
		}
		for (size_t j = 0; j < k && !dup; j++)
			dup = strcmp(e[j].hostname, in[i].hostname) == 0;
		if (dup) {
			log_warn("dns: network %s: duplicate hostname %s, keeping "
				 "the first",
				 net_name, in[i].hostname);
			continue;
		}
		e[k++] = in[i];
	}
	*out = e;
	*nout = k;
	return 0;
}

int dns_table_set_network(struct dns_table *t, const char *net_name,
			  const struct dns_entry *entries, size_t n)
{
	struct dns_entry *copy;
	struct dns_net *net;
	size_t ncopy;
	int ret;

	if (!hostname_valid(net_name))
		return -EINVAL;
	if (n > DNS_TABLE_MAX_ENTRIES)
		return -E2BIG;
	net = net_find(t, net_name, strlen(net_name));
	if (!net && t->n >= DNS_TABLE_MAX_NETWORKS)
		return -E2BIG;
	ret = entries_copy(net_name, entries, n, &copy, &ncopy);
	if (ret < 0)
		return ret;
	if (!net) {
		struct dns_net *nn = realloc(t->nets, (t->n + 1) * sizeof(*nn));

		if (!nn) {
			free(copy);
			return -ENOMEM;
		}
		t->nets = nn;
		net = &t->nets[t->n++];
		memset(net, 0, sizeof(*net));
		strcpy(net->name, net_name);
	}
	free(net->entries);
	net->entries = copy;
	net->n = ncopy;
	t->serial++;
	return (int)ncopy;
}

int dns_table_remove_network(struct dns_table *t, const char *net_name)
{
	struct dns_net *net;
	size_t idx;

	if (!net_name)
		return -ENOENT;
	net = net_find(t, net_name, strlen(net_name));
	if (!net)
		return -ENOENT;
	idx = (size_t)(net - t->nets);
	free(net->entries);
	memmove(net, net + 1, (t->n - idx - 1) * sizeof(*net));
	t->n--;
	if (t->n == 0) {
		free(t->nets);
		t->nets = NULL;
	}
	t->serial++;
	return 0;
}

static const struct dns_entry *net_lookup(const struct dns_net *net, const char *host,
					  size_t hostlen)
{
	for (size_t i = 0; i < net->n; i++)
		if (label_eq(host, hostlen, net->entries[i].hostname))
			return &net->entries[i];
	return NULL;
}

/* A name two networks give to two identities (their IPv6 addresses, derived
 * from the identity, differ). */
static int flat_clash(const struct dns_table *t, size_t first, const struct dns_entry *e)
{
	for (size_t i = first + 1; i < t->n; i++) {
		const struct dns_entry *o =
			net_lookup(&t->nets[i], e->hostname, strlen(e->hostname));

		if (o && memcmp(o->ipv6, e->ipv6, 16) != 0)
			return 1;
	}
	return 0;
}

const struct dns_entry *dns_table_lookup(const struct dns_table *t, const char *host,
					 size_t hostlen, const char *net, size_t netlen,
					 const struct dns_net **net_out)
{
	if (net) {
		const struct dns_net *nn = net_find(t, net, netlen);
		const struct dns_entry *e = nn ? net_lookup(nn, host, hostlen) : NULL;

		if (e && net_out)
			*net_out = nn;
		return e;
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct dns_entry *e = net_lookup(&t->nets[i], host, hostlen);

		if (!e)
			continue;
		if (flat_clash(t, i, e))
			return NULL;
		if (net_out)
			*net_out = &t->nets[i];
		return e;
	}
	return NULL;
}

size_t dns_table_flat_clashes(const struct dns_table *t, const char **names, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		for (size_t j = 0; j < t->nets[i].n && n < max; j++) {
			const struct dns_entry *e = &t->nets[i].entries[j];
			size_t len = strlen(e->hostname);
			int seen = 0;

			/* Counted once, in the first network that holds it. */
			for (size_t k = 0; k < i && !seen; k++)
				seen = net_lookup(&t->nets[k], e->hostname, len) != NULL;
			if (!seen && flat_clash(t, i, e))
				names[n++] = e->hostname;
		}
	return n;
}

int dns_table_has_network(const struct dns_table *t, const char *net, size_t netlen)
{
	return net_find(t, net, netlen) != NULL;
}

const struct dns_entry *dns_table_find_v4(const struct dns_table *t, uint32_t ip,
					  const struct dns_net **net_out)
{
	if (ip == 0)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		for (size_t j = 0; j < t->nets[i].n; j++)
			if (t->nets[i].entries[j].ipv4 == ip) {
				if (net_out)
					*net_out = &t->nets[i];
				return &t->nets[i].entries[j];
			}
	return NULL;
}

const struct dns_entry *dns_table_find_v6(const struct dns_table *t, const uint8_t ip[16],
					  const struct dns_net **net_out)
{
	if (memcmp(ip, zero16, 16) == 0)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		for (size_t j = 0; j < t->nets[i].n; j++)
			if (memcmp(t->nets[i].entries[j].ipv6, ip, 16) == 0) {
				if (net_out)
					*net_out = &t->nets[i];
				return &t->nets[i].entries[j];
			}
	return NULL;
}

int dns_table_has_v4_prefix(const struct dns_table *t, uint32_t ip, unsigned bits)
{
	uint32_t mask;

	if (bits > 32)
		return 0;
	mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
	for (size_t i = 0; i < t->n; i++)
		for (size_t j = 0; j < t->nets[i].n; j++) {
			uint32_t a = t->nets[i].entries[j].ipv4;

			if (a != 0 && (a & mask) == (ip & mask))
				return 1;
		}
	return 0;
}

static int prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(a, b, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

int dns_table_has_v6_prefix(const struct dns_table *t, const uint8_t ip[16], unsigned bits)
{
	if (bits > 128)
		return 0;
	for (size_t i = 0; i < t->n; i++)
		for (size_t j = 0; j < t->nets[i].n; j++) {
			const uint8_t *a = t->nets[i].entries[j].ipv6;

			if (memcmp(a, zero16, 16) != 0 && prefix_eq(a, ip, bits))
				return 1;
		}
	return 0;
}
