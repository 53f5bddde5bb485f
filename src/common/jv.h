/* Helpers over jansson for reading request members with errors that name the member, and for
 * writing documents in the shapes the AWS JSON protocols use (epoch-second timestamps). */
#ifndef GANTRY_JV_H
#define GANTRY_JV_H

#include <jansson.h>
#include <stdbool.h>

#include "common/err.h"

/* Each getter looks up member `key` of object `obj` (obj may be NULL, meaning "no members").
 * Absent or JSON null counts as missing: if `required`, that is an InvalidParameterException
 * naming the member, else *out is left at its "absent" value (NULL / unchanged) and 0 returned.
 * A member of the wrong JSON type fails with InvalidParameterException naming it. */

/* *out is borrowed from obj (valid while obj lives), or NULL when absent. */
int jv_str(json_t *obj, const char *key, bool required, const char **out, struct err **err);
/* *present (may be NULL) tells whether the member was there; *out is unchanged when absent. */
int jv_int(json_t *obj, const char *key, bool required, long long *out, bool *present, struct err **err);
int jv_bool(json_t *obj, const char *key, bool required, bool *out, bool *present, struct err **err);
/* *out is a borrowed array / object, or NULL when absent. */
int jv_array(json_t *obj, const char *key, bool required, json_t **out, struct err **err);
int jv_object(json_t *obj, const char *key, bool required, json_t **out, struct err **err);
/* Reads an array of strings (each element must be a string). *out is borrowed. */
int jv_str_array(json_t *obj, const char *key, bool required, json_t **out, struct err **err);

/* The AWS shape name of a JSON value's type ("structure", "list", "string", "number", "boolean",
 * "null"), for messages about wrong member types. */
const char *jv_type_name(const json_t *j);
/* A JSON number for a timestamp in epoch seconds, rounded to milliseconds. New reference. */
json_t *jv_time(double epoch_seconds);
/* Serializes compactly, keeping member order. The caller frees the string. */
char *jv_dump(const json_t *j);
/* Sets obj[key] = string s, taking a copy. Does nothing when s is NULL. */
void jv_set_str(json_t *obj, const char *key, const char *s);
/* A JSON string for s, with every byte sequence that is not valid UTF-8 replaced by '?' (for
 * messages that quote untrusted input). New reference; never NULL. */
json_t *jv_str_lossy(const char *s);
/* Parses text; NULL with *err (SerializationException) when it is not JSON. New reference. */
json_t *jv_parse(const char *text, size_t len, struct err **err);

#endif
