/* jansson helpers: typed member access with member-naming errors, and AWS-shaped output. */
#include "common/jv.h"

#include "common/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *jv_type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "structure";
	case JSON_ARRAY: return "list";
	case JSON_STRING: return "string";
	case JSON_INTEGER:
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_NULL: return "null";
	}
	return "value";
}

/* Returns the member, NULL when absent; -1 via *rc on a missing required member. */
static json_t *member(json_t *obj, const char *key, bool required, int *rc, struct err **err)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;
	*rc = 0;
	if (!v || json_is_null(v)) {
		if (required)
			*rc = err_set(err, ERR_INVALID_PARAM, "Missing required parameter '%s'", key);
		return NULL;
	}
	return v;
}

static int wrong_type(json_t *v, const char *key, const char *want, struct err **err)
{
	return err_set(err, ERR_INVALID_PARAM, "Invalid type for parameter '%s': expected %s, got %s", key,
		       want, jv_type_name(v));
}

int jv_str(json_t *obj, const char *key, bool required, const char **out, struct err **err)
{
	int rc;
	json_t *v = member(obj, key, required, &rc, err);
	*out = NULL;
	if (!v)
		return rc;
	if (!json_is_string(v))
		return wrong_type(v, key, "string", err);
	*out = json_string_value(v);
	return 0;
}

int jv_int(json_t *obj, const char *key, bool required, long long *out, bool *present, struct err **err)
{
	int rc;
	json_t *v = member(obj, key, required, &rc, err);
	if (present)
		*present = v != NULL;
	if (!v)
		return rc;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	/* Some SDKs send whole numbers as 5.0; accept those, refuse fractions. */
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d == floor(d) && fabs(d) < 9e15) {
			*out = (long long)d;
			return 0;
		}
	}
	return wrong_type(v, key, "integer", err);
}

int jv_bool(json_t *obj, const char *key, bool required, bool *out, bool *present, struct err **err)
{
	int rc;
	json_t *v = member(obj, key, required, &rc, err);
	if (present)
		*present = v != NULL;
	if (!v)
		return rc;
	if (!json_is_boolean(v))
		return wrong_type(v, key, "boolean", err);
	*out = json_is_true(v);
	return 0;
}

int jv_array(json_t *obj, const char *key, bool required, json_t **out, struct err **err)
{
	int rc;
	json_t *v = member(obj, key, required, &rc, err);
	*out = NULL;
	if (!v)
		return rc;
	if (!json_is_array(v))
		return wrong_type(v, key, "list", err);
	*out = v;
	return 0;
}

int jv_object(json_t *obj, const char *key, bool required, json_t **out, struct err **err)
{
	int rc;
	json_t *v = member(obj, key, required, &rc, err);
	*out = NULL;
	if (!v)
		return rc;
	if (!json_is_object(v))
		return wrong_type(v, key, "structure", err);
	*out = v;
	return 0;
}

int jv_str_array(json_t *obj, const char *key, bool required, json_t **out, struct err **err)
{
	if (jv_array(obj, key, required, out, err) < 0)
		return -1;
	if (!*out)
		return 0;
	size_t i;
	json_t *e;
	json_array_foreach (*out, i, e) {
		if (!json_is_string(e)) {
			*out = NULL;
			return err_set(err, ERR_INVALID_PARAM,
				       "Invalid type for parameter '%s[%zu]': expected string, got %s", key,
				       i, jv_type_name(e));
		}
	}
	return 0;
}

json_t *jv_time(double t)
{
	return json_real(round(t * 1000.0) / 1000.0);
}

char *jv_dump(const json_t *j)
{
	/* 13 significant digits print epoch-millisecond timestamps exactly and without noise. */
	return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(13) | JSON_ENCODE_ANY);
}

void jv_set_str(json_t *obj, const char *key, const char *s)
{
	if (s)
		json_object_set_new(obj, key, json_string(s));
}

json_t *jv_parse(const char *text, size_t len, struct err **err)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		err_set(err, ERR_SERIALIZATION, "malformed JSON at line %d column %d: %s", je.line, je.column,
			je.text);
	return j;
}

json_t *jv_str_lossy(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	/* Not UTF-8: keep the ASCII, mark the rest. */
	size_t n = strlen(s);
	char *copy = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	copy[n] = '\0';
	j = json_string(copy);
	free(copy);
	return j;
}
