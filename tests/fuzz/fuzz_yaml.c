/* libFuzzer target: `ray apply` specs (YAML parse + spec expansion). */
#include <stddef.h>
#include <stdint.h>

#include "cli/spec.h"
#include "proto/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yaml_doc doc;
	json_t *spec = NULL;
	char err[256];

	if (yaml_parse((const char *)data, size, &doc, err, sizeof(err)) != 0)
		return 0;
	if (spec_build(&doc, &spec, err, sizeof(err)) == 0)
		json_decref(spec);
	yaml_doc_free(&doc);
	return 0;
}
