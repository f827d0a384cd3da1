/*
 * spec: the `ray apply` deploy spec. Validates a parsed YAML document and
 * expands it into what the daemon publishes: for each network, the
 * suggested firewall rules per subject with every alias and group replaced
 * by the hostnames and identities they stand for, and the hostnames the
 * spec expects as members.
 *
 *   aliases:  {NAME: ID | [ID...]}        a user → the identities of their devices
 *   groups:   {NAME: [HOST|ALIAS...]}      a set of hosts and users
 *   networks: {NET: {SUBJECT: {allow: [TOKEN...], deny: [TOKEN...]}}}
 *
 * SUBJECT is a hostname, a group of hostnames, or "*" (every host). TOKEN
 * is "peer:proto:ports", "proto:ports" or "proto"; peer is a hostname, an
 * alias, a group or "*". Normalized tokens always have three parts.
 */
#ifndef RAYFISH_CLI_SPEC_H
#define RAYFISH_CLI_SPEC_H

#include <jansson.h>
#include <stddef.h>

#include "proto/yaml.h"

/*
 * Returns 0 and *out = {"networks": {NET: {"subjects": {SUBJECT: {"allow":
 * [...], "deny": [...]}}, "hosts": [expected hostnames]}}}, or -EINVAL with
 * "line N: ..." in err.
 */
int spec_build(const struct yaml_doc *doc, json_t **out, char *err, size_t errlen);

/* The normalized spec as YAML text on f (for --dry-run). */
void spec_print_yaml(const json_t *spec, FILE *f);

extern const char spec_example[];

#endif
