/*
 * jsonpack: see jsonpack.h. Input is proven well formed by mp_check before
 * msgpack-c unpacks it, so hostile lengths cannot inflate memory.
 */
#include "proto/jsonpack.h"
#include "util/mpread.h"

#include <errno.h>
#include <string.h>

static int encode(msgpack_packer *pk, const json_t *v, int depth)
{
	const char *key;
	json_t *item;
	size_t i;

	if (depth > JSONPACK_MAX_DEPTH)
		return -EINVAL;
	switch (json_typeof(v)) {
	case JSON_NULL:
		return msgpack_pack_nil(pk);
	case JSON_TRUE:
		return msgpack_pack_true(pk);
	case JSON_FALSE:
		return msgpack_pack_false(pk);
	case JSON_INTEGER:
		return msgpack_pack_int64(pk, json_integer_value(v));
	case JSON_REAL:
		return msgpack_pack_double(pk, json_real_value(v));
	case JSON_STRING:
		if (msgpack_pack_str(pk, json_string_length(v)) < 0)
			return -EINVAL;
		return msgpack_pack_str_body(pk, json_string_value(v), json_string_length(v));
	case JSON_ARRAY:
		if (msgpack_pack_array(pk, json_array_size(v)) < 0)
			return -EINVAL;
		json_array_foreach(v, i, item) if (encode(pk, item, depth + 1) < 0) return -EINVAL;
		return 0;
	case JSON_OBJECT:
		if (msgpack_pack_map(pk, json_object_size(v)) < 0)
			return -EINVAL;
		json_object_foreach((json_t *)v, key, item)
		{
			size_t n = strlen(key);

			if (msgpack_pack_str(pk, n) < 0 || msgpack_pack_str_body(pk, key, n) < 0 ||
			    encode(pk, item, depth + 1) < 0)
				return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

int jsonpack_encode(const json_t *v, msgpack_sbuffer *sb)
{
	msgpack_packer pk;

	if (!v || !sb)
		return -EINVAL;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	return encode(&pk, v, 0) < 0 ? -EINVAL : 0;
}

static json_t *decode(const msgpack_object *o);

/* msgpack-c gives an empty string the pointer of the string before it,
 * NULL when there was none: never pass that on. */
static const char *str_ptr(const msgpack_object_str *s)
{
	return s->size ? s->ptr : "";
}

static json_t *decode_map(const msgpack_object_map *m)
{
	json_t *obj = json_object();

	if (!obj)
		return NULL;
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object *k = &m->ptr[i].key;
		char key[256];
		json_t *val;

		if (k->type != MSGPACK_OBJECT_STR || k->via.str.size >= sizeof(key) ||
		    memchr(str_ptr(&k->via.str), 0, k->via.str.size))
			goto fail;
		memcpy(key, str_ptr(&k->via.str), k->via.str.size);
		key[k->via.str.size] = 0;
		val = decode(&m->ptr[i].val);
		if (!val || json_object_set_new(obj, key, val) < 0)
			goto fail;
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

static json_t *decode(const msgpack_object *o)
{
	json_t *arr;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t)INT64_MAX)
			return NULL;
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer(o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR:
		/* jansson checks UTF-8 and returns NULL for invalid text */
		return json_stringn(str_ptr(&o->via.str), o->via.str.size);
	case MSGPACK_OBJECT_ARRAY:
		arr = json_array();
		if (!arr)
			return NULL;
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			json_t *item = decode(&o->via.array.ptr[i]);

			if (!item || json_array_append_new(arr, item) < 0) {
				json_decref(arr);
				return NULL;
			}
		}
		return arr;
	case MSGPACK_OBJECT_MAP:
		return decode_map(&o->via.map);
	default:
		return NULL;
	}
}

int jsonpack_decode(const void *buf, size_t len, json_t **out)
{
	msgpack_unpacked up;
	size_t off = 0;
	int ret = -EINVAL;

	*out = NULL;
	if (mp_check(buf, len, JSONPACK_MAX_DEPTH) < 0)
		return -EINVAL;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, buf, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len)
		goto out;
	*out = decode(&up.data);
	ret = *out ? 0 : -EINVAL;
out:
	msgpack_unpacked_destroy(&up);
	return ret;
}
