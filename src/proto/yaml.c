/*
 * yaml: see yaml.h. A recursive descent over libyaml's event stream; the
 * path of each node is built on the way down and stored with its line.
 */
#include "proto/yaml.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

struct reader {
	yaml_parser_t p;
	json_t *lines;
	char *err;
	size_t errlen;
};

static int fail(struct reader *r, size_t line, const char *what)
{
	snprintf(r->err, r->errlen, "line %zu: %s", line + 1, what);
	return -EINVAL;
}

static int next(struct reader *r, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&r->p, ev)) {
		char what[200];

		snprintf(what, sizeof(what), "%s%s%s", r->p.problem ? r->p.problem : "syntax error",
			 r->p.context ? " " : "", r->p.context ? r->p.context : "");
		return fail(r, r->p.problem_mark.line, what);
	}
	return 0;
}

static int node(struct reader *r, yaml_event_t *ev, const char *path, int depth, json_t **out);

static int mapping(struct reader *r, const char *path, int depth, json_t **out)
{
	json_t *obj = json_object();
	yaml_event_t ev;
	int ret;

	for (;;) {
		char key[256], sub[1024];
		json_t *val = NULL;

		if ((ret = next(r, &ev)) < 0)
			goto fail;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			*out = obj;
			return 0;
		}
		if (ev.type != YAML_SCALAR_EVENT || ev.data.scalar.length >= sizeof(key) ||
		    memchr(ev.data.scalar.value, 0, ev.data.scalar.length)) {
			ret = fail(r, ev.start_mark.line,
				   "a mapping key must be a short plain string");
			yaml_event_delete(&ev);
			goto fail;
		}
		memcpy(key, ev.data.scalar.value, ev.data.scalar.length);
		key[ev.data.scalar.length] = 0;
		if (json_object_get(obj, key)) {
			char what[300];

			snprintf(what, sizeof(what), "duplicate key '%s'", key);
			ret = fail(r, ev.start_mark.line, what);
			yaml_event_delete(&ev);
			goto fail;
		}
		snprintf(sub, sizeof(sub), "%s.%s", path, key);
		/* A key's line names its entry better than its value's. */
		json_object_set_new(r->lines, sub,
				    json_integer((json_int_t)ev.start_mark.line + 1));
		yaml_event_delete(&ev);
		if ((ret = next(r, &ev)) < 0)
			goto fail;
		ret = node(r, &ev, sub, depth + 1, &val);
		if (ret < 0)
			goto fail;
		json_object_set_new(obj, key, val);
	}
fail:
	json_decref(obj);
	return ret;
}

static int sequence(struct reader *r, const char *path, int depth, json_t **out)
{
	json_t *arr = json_array();
	yaml_event_t ev;
	int ret;

	for (size_t i = 0;; i++) {
		char sub[1024];
		json_t *val = NULL;

		if ((ret = next(r, &ev)) < 0)
			goto fail;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			*out = arr;
			return 0;
		}
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		ret = node(r, &ev, sub, depth + 1, &val);
		if (ret < 0)
			goto fail;
		json_array_append_new(arr, val);
	}
fail:
	json_decref(arr);
	return ret;
}

/* Consumes ev (and, for collections, everything up to its end). */
static int node(struct reader *r, yaml_event_t *ev, const char *path, int depth, json_t **out)
{
	size_t line = ev->start_mark.line;
	int ret;

	if (!json_object_get(r->lines, path))
		json_object_set_new(r->lines, path, json_integer((json_int_t)line + 1));
	if (depth > YAML_MAX_DEPTH) {
		yaml_event_delete(ev);
		return fail(r, line, "nested too deeply");
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.tag) {
			yaml_event_delete(ev);
			return fail(r, line, "tags are not supported");
		}
		*out = json_stringn((const char *)ev->data.scalar.value, ev->data.scalar.length);
		yaml_event_delete(ev);
		return *out ? 0 : fail(r, line, "text is not valid UTF-8");
	case YAML_MAPPING_START_EVENT:
		yaml_event_delete(ev);
		return mapping(r, path, depth, out);
	case YAML_SEQUENCE_START_EVENT:
		yaml_event_delete(ev);
		return sequence(r, path, depth, out);
	case YAML_ALIAS_EVENT:
		yaml_event_delete(ev);
		return fail(r, line, "aliases (*name) are not supported");
	default:
		ret = fail(r, line, "unexpected YAML structure");
		yaml_event_delete(ev);
		return ret;
	}
}

static int expect(struct reader *r, yaml_event_type_t type, const char *what)
{
	yaml_event_t ev;
	int ret = next(r, &ev);

	if (ret < 0)
		return ret;
	if (ev.type != type)
		ret = fail(r, ev.start_mark.line, what);
	yaml_event_delete(&ev);
	return ret;
}

int yaml_parse(const char *text, size_t len, struct yaml_doc *doc, char *err, size_t errlen)
{
	struct reader r = { .err = err, .errlen = errlen };
	yaml_event_t ev;
	int ret;

	doc->root = NULL;
	doc->lines = NULL;
	if (len > YAML_MAX_BYTES) {
		snprintf(err, errlen, "the spec is larger than %u bytes", YAML_MAX_BYTES);
		return -EINVAL;
	}
	if (!yaml_parser_initialize(&r.p))
		return -ENOMEM;
	yaml_parser_set_input_string(&r.p, (const unsigned char *)text, len);
	r.lines = json_object();
	ret = expect(&r, YAML_STREAM_START_EVENT, "not a YAML stream");
	if (ret < 0)
		goto out;
	if ((ret = next(&r, &ev)) < 0)
		goto out;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		goto done; /* empty document */
	}
	if (ev.type != YAML_DOCUMENT_START_EVENT) {
		ret = fail(&r, ev.start_mark.line, "expected a document");
		yaml_event_delete(&ev);
		goto out;
	}
	yaml_event_delete(&ev);
	if ((ret = next(&r, &ev)) < 0)
		goto out;
	ret = node(&r, &ev, "", 0, &doc->root);
	if (ret < 0)
		goto out;
	ret = expect(&r, YAML_DOCUMENT_END_EVENT, "expected the end of the document");
	if (ret == 0)
		ret = expect(&r, YAML_STREAM_END_EVENT, "only one YAML document is allowed");
	if (ret < 0)
		goto out;
done:
	doc->lines = r.lines;
	r.lines = NULL;
out:
	if (ret < 0) {
		json_decref(doc->root);
		doc->root = NULL;
	}
	json_decref(r.lines);
	yaml_parser_delete(&r.p);
	return ret;
}

void yaml_doc_free(struct yaml_doc *doc)
{
	json_decref(doc->root);
	json_decref(doc->lines);
	doc->root = doc->lines = NULL;
}

int yaml_line(const struct yaml_doc *doc, const char *path)
{
	return (int)json_integer_value(json_object_get(doc->lines, path));
}
