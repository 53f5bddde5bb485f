/* Resource tags: validation as ECS does it, and TagResource / UntagResource / ListTagsForResource. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/arn.h"
#include "common/jv.h"
#include "common/xalloc.h"
#include "ecs/ecs-int.h"

#define ECS_TAG_KEY_MAX	  128
#define ECS_TAG_VALUE_MAX 256

/* ECS's tag character class: letters, spaces, numbers and _ . : / = + - @. Non-ASCII bytes are
 * let through as (parts of) UTF-8 letters. */
static bool tag_chars_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x80 || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9'))
			continue;
		if (!strchr(" _.:/=+-@", *p))
			return false;
	}
	return true;
}

int ecs__check_tags(json_t *tags, const char *member, struct err **err)
{
	if (!tags)
		return 0;
	if (!json_is_array(tags))
		return err_set(err, ERR_INVALID_PARAM, "Invalid type for parameter '%s': expected list",
			       member);
	if (json_array_size(tags) > ECS_TAGS_MAX)
		return err_set(err, ERR_INVALID_PARAM, "The number of tags in '%s' exceeds the limit of %d",
			       member, ECS_TAGS_MAX);
	size_t i;
	json_t *t;
	json_array_foreach (tags, i, t) {
		const char *k, *v;
		if (!json_is_object(t))
			return err_set(err, ERR_INVALID_PARAM,
				       "Invalid type for parameter '%s[%zu]': expected structure", member, i);
		if (jv_str(t, "key", true, &k, err) < 0 || jv_str(t, "value", false, &v, err) < 0)
			return err_prefix(err, "%s[%zu]", member, i);
		size_t kn = strlen(k);
		if (kn < 1 || kn > ECS_TAG_KEY_MAX)
			return err_set(err, ERR_INVALID_PARAM,
				       "Tag key must be between 1 and %d characters: '%s'", ECS_TAG_KEY_MAX,
				       k);
		if (v && strlen(v) > ECS_TAG_VALUE_MAX)
			return err_set(err, ERR_INVALID_PARAM,
				       "Tag value for key '%s' must be at most %d characters", k,
				       ECS_TAG_VALUE_MAX);
		if (!tag_chars_ok(k) || (v && !tag_chars_ok(v)))
			return err_set(
				err, ERR_INVALID_PARAM,
				"Tag '%s' has characters outside letters, numbers, spaces and _.:/=+-@", k);
		if (strncasecmp(k, "aws:", 4) == 0)
			return err_set(err, ERR_INVALID_PARAM,
				       "Tag keys prefixed with 'aws:' are reserved: '%s'", k);
		for (size_t j = 0; j < i; j++) {
			const char *other =
				json_string_value(json_object_get(json_array_get(tags, j), "key"));
			if (other && strcmp(other, k) == 0)
				return err_set(err, ERR_INVALID_PARAM, "Duplicate tag key '%s' in '%s'", k,
					       member);
		}
	}
	return 0;
}

int ecs__merge_tags(json_t *have, json_t *add, struct err **err)
{
	size_t i;
	json_t *t;
	json_t *merged = json_deep_copy(have);
	json_array_foreach (add, i, t) {
		const char *k = json_string_value(json_object_get(t, "key"));
		json_t *v = json_object_get(t, "value");
		json_t *nt = json_pack("{s:s, s:s}", "key", k, "value",
				       json_is_string(v) ? json_string_value(v) : "");
		size_t j;
		json_t *h;
		bool replaced = false;
		json_array_foreach (merged, j, h) {
			if (strcmp(json_string_value(json_object_get(h, "key")), k) == 0) {
				json_array_set_new(merged, j, nt);
				replaced = true;
				break;
			}
		}
		if (!replaced)
			json_array_append_new(merged, nt);
	}
	if (json_array_size(merged) > ECS_TAGS_MAX) {
		json_decref(merged);
		return err_set(err, ERR_INVALID_PARAM, "A resource can have at most %d tags", ECS_TAGS_MAX);
	}
	json_array_clear(have);
	json_array_extend(have, merged);
	json_decref(merged);
	return 0;
}

int ecs__tag_resource(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *arn;
	json_t *tags;
	if (jv_str(in, "resourceArn", true, &arn, err) < 0 || jv_array(in, "tags", true, &tags, err) < 0 ||
	    ecs__check_tags(tags, "tags", err) < 0)
		return -1;
	json_t *have = ecs__tags_of(call, arn, err);
	if (!have || ecs__merge_tags(have, tags, err) < 0)
		return -1;
	ecs__tags_saved(call, arn);
	*out = json_object();
	return 0;
}

int ecs__untag_resource(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *arn;
	json_t *keys;
	if (jv_str(in, "resourceArn", true, &arn, err) < 0 ||
	    jv_str_array(in, "tagKeys", true, &keys, err) < 0)
		return -1;
	json_t *have = ecs__tags_of(call, arn, err);
	if (!have)
		return -1;
	size_t i;
	json_t *k;
	json_array_foreach (keys, i, k) {
		for (size_t j = 0; j < json_array_size(have); j++) {
			const char *hk = json_string_value(json_object_get(json_array_get(have, j), "key"));
			if (hk && strcmp(hk, json_string_value(k)) == 0) {
				json_array_remove(have, j);
				break;
			}
		}
	}
	ecs__tags_saved(call, arn);
	*out = json_object();
	return 0;
}

int ecs__list_tags_for_resource(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *arn;
	if (jv_str(in, "resourceArn", true, &arn, err) < 0)
		return -1;
	json_t *have = ecs__tags_of(call, arn, err);
	if (!have)
		return -1;
	*out = json_pack("{s:O}", "tags", have);
	return 0;
}

/* Which resource an ECS ARN names, within the caller's scope. */
static json_t *resource_of(struct api_call *call, const char *arn, bool *is_cluster, struct err **err)
{
	struct arn a;
	json_t *res = NULL;
	if (arn_parse(arn, "resourceArn", &a, err) < 0)
		return NULL;
	struct ecs_scope *sc = ecs__call_scope(call);
	if (strcmp(a.service, "ecs") != 0) {
		err_set(err, ERR_INVALID_PARAM, "Invalid resourceArn: '%s' is not an ECS resource", arn);
	} else if (strcmp(a.account, call->account) != 0 || strcmp(a.region, call->region) != 0) {
		/* Another account's or region's resource is as invisible as a missing one. */
		err_set(err, ERR_NOT_FOUND, "The specified resource '%s' is not found.", arn);
	} else if (strncmp(a.resource, "cluster/", 8) == 0) {
		*is_cluster = true;
		res = ecs__cluster_get(call, sc, arn, err);
	} else if (strncmp(a.resource, "task-definition/", 16) == 0) {
		*is_cluster = false;
		res = ecs__taskdef_record(call, sc, arn, err);
	} else {
		err_set(err, ERR_INVALID_PARAM, "Invalid resourceArn: tagging '%s' is not supported", arn);
	}
	arn_release(&a);
	return res;
}

json_t *ecs__tags_of(struct api_call *call, const char *arn, struct err **err)
{
	bool is_cluster = false;
	json_t *res = resource_of(call, arn, &is_cluster, err);
	if (!res)
		return NULL;
	json_t *tags = json_object_get(res, "tags");
	if (!json_is_array(tags)) {
		tags = json_array();
		json_object_set_new(res, "tags", tags);
	}
	return tags;
}

void ecs__tags_saved(struct api_call *call, const char *arn)
{
	bool is_cluster = false;
	json_t *res = resource_of(call, arn, &is_cluster, NULL);
	if (!res)
		return;
	struct ecs_scope *sc = ecs__call_scope(call);
	if (is_cluster)
		ecs__cluster_save(ecs__of(call), sc, res);
	else
		ecs__taskdef_save(ecs__of(call), sc, res);
}
