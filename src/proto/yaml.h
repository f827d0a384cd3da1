/*
 * yaml: reads a YAML document into a jansson value, remembering the line of
 * every node, so `ray apply` can name the line of any mistake.
 *
 * Mappings become objects (keys must be scalars, duplicates are errors),
 * sequences arrays, scalars strings (no type guessing: the caller decides
 * what a string means). Anchors, aliases, tags and multi-document streams
 * are refused. Depth and size are bounded.
 */
#ifndef RAYFISH_PROTO_YAML_H
#define RAYFISH_PROTO_YAML_H

#include <jansson.h>
#include <stddef.h>

#define YAML_MAX_DEPTH 32
#define YAML_MAX_BYTES (1u << 20)

struct yaml_doc {
	json_t *root;  /* the document (NULL for an empty one) */
	json_t *lines; /* {"path": line}, path like ".networks.prod.web.allow[1]" */
};

/*
 * Parses text. Returns 0, or -EINVAL with "line N: what is wrong" in err.
 * On success doc holds new references; release with yaml_doc_free.
 */
int yaml_parse(const char *text, size_t len, struct yaml_doc *doc, char *err, size_t errlen);
void yaml_doc_free(struct yaml_doc *doc);
/* The line of the node at path, or 0 when unknown. */
int yaml_line(const struct yaml_doc *doc, const char *path);

#endif
