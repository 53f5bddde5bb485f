/* ECS task definitions: register (validated by tdval.c), describe, list, families, deregister,
 * delete. Revisions of a family are kept in an array indexed by revision - 1. */
#include <stdlib.h>
#include <string.h>

#include "common/arn.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/jv.h"
#include "common/page.h"
#include "common/xalloc.h"
#include "ecs/ecs-int.h"
#include "ecs/tdval.h"

/* ECS's quota of revisions per family. */
#define ECS_REVISIONS_MAX	1000000
#define ECS_DELETE_TASKDEFS_MAX 10

static json_t *td_of(json_t *rec)
{
	return json_object_get(rec, "taskDefinition");
}

static const char *td_status(json_t *rec)
{
	return json_string_value(json_object_get(td_of(rec), "status"));
}

/* The store key of a revision (after "<account>/<region>/"): zero-padded so that keys load in
 * revision order. New string. */
static char *store_rest(json_t *rec)
{
	json_t *td = td_of(rec);
	return xasprintf("%s/%08lld", json_string_value(json_object_get(td, "family")),
			 (long long)json_integer_value(json_object_get(td, "revision")));
}

void ecs__taskdef_save(struct ecs *ecs, struct ecs_scope *sc, json_t *rec)
{
	char *rest = store_rest(rec);
	ecs__persist(ecs, sc, ECS_KIND_TASKDEF, rest, rec);
	free(rest);
}

int ecs__load_taskdef(struct ecs_scope *sc, const char *rest, json_t *rec, struct err **err)
{
	json_t *td = td_of(rec);
	const char *family = json_string_value(json_object_get(td, "family"));
	json_int_t rev = json_integer_value(json_object_get(td, "revision"));
	if (!family || rev < 1 || rev > ECS_REVISIONS_MAX)
		return err_set(err, ERR_INTERNAL, "malformed task definition record '%s'", rest);
	json_t *revs = json_object_get(sc->families, family);
	if (!revs) {
		revs = json_array();
		json_object_set_new(sc->families, family, revs);
	}
	/* Keys sort by zero-padded revision, so revisions arrive in order; pad any gap defensively. */
	while (json_array_size(revs) < (size_t)rev - 1)
		json_array_append_new(revs, json_null());
	if (json_array_size(revs) == (size_t)rev - 1)
		json_array_append(revs, rec);
	else
		json_array_set(revs, (size_t)rev - 1, rec);
	return 0;
}

/* Splits "family[:revision]"; *rev = 0 when absent. Returns a new family string or NULL. */
static char *split_ref(const char *ref, long long *rev)
{
	const char *colon = strrchr(ref, ':');
	*rev = 0;
	if (!colon)
		return xstrdup(ref);
	char *end;
	long long r = strtoll(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end || r < 1 || r > ECS_REVISIONS_MAX)
		return NULL;
	*rev = r;
	return xstrndup(ref, (size_t)(colon - ref));
}

/* Resolves a task definition reference to family and revision (0 = latest ACTIVE). */
static char *resolve_ref(struct api_call *call, const char *ref, long long *rev, struct err **err)
{
	char *family = NULL;
	if (arn_is(ref)) {
		struct arn a;
		if (arn_parse(ref, "taskDefinition", &a, err) < 0)
			return NULL;
		if (strcmp(a.service, "ecs") == 0 && strncmp(a.resource, "task-definition/", 16) == 0 &&
		    strcmp(a.account, call->account) == 0 && strcmp(a.region, call->region) == 0)
			family = split_ref(a.resource + 16, rev);
		arn_release(&a);
	} else {
		family = split_ref(ref, rev);
	}
	if (!family)
		err_set(err, ERR_CLIENT, "Unable to describe task definition.");
	return family;
}

json_t *ecs__taskdef_record(struct api_call *call, struct ecs_scope *sc, const char *ref, struct err **err)
{
	long long rev;
	char *family = resolve_ref(call, ref, &rev, err);
	if (!family)
		return NULL;
	json_t *revs = json_object_get(sc->families, family);
	free(family);
	json_t *rec = NULL;
	if (revs && rev > 0) {
		rec = json_array_get(revs, (size_t)rev - 1);
	} else if (revs) {
		for (size_t i = json_array_size(revs); i-- > 0;) {
			json_t *r = json_array_get(revs, i);
			if (json_is_object(r) && strcmp(td_status(r), "ACTIVE") == 0) {
				rec = r;
				break;
			}
		}
	}
	if (!json_is_object(rec)) {
		err_set(err, ERR_CLIENT, "Unable to describe task definition.");
		return NULL;
	}
	return rec;
}

int ecs__register_task_definition(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	json_t *td = tdval_register(in, err);
	if (!td)
		return -1;
	struct ecs_scope *sc = ecs__call_scope(call);
	const char *family = json_string_value(json_object_get(td, "family"));
	json_t *revs = json_object_get(sc->families, family);
	if (!revs) {
		revs = json_array();
		json_object_set_new(sc->families, family, revs);
	}
	size_t rev = json_array_size(revs) + 1;
	if (rev > ECS_REVISIONS_MAX) {
		json_decref(td);
		return err_set(err, ERR_CLIENT, "Family '%s' has reached the limit of %d revisions", family,
			       ECS_REVISIONS_MAX);
	}
	char *res = xasprintf("task-definition/%s:%zu", family, rev);
	char *arn = arn_build("ecs", call->region, call->account, res);
	free(res);
	/* ECS puts the ARN first; the other assigned members go at the end. */
	json_t *doc = json_pack("{s:s}", "taskDefinitionArn", arn);
	free(arn);
	json_object_update(doc, td);
	json_decref(td);
	json_object_set_new(doc, "revision", json_integer((json_int_t)rev));
	json_object_set_new(doc, "status", json_string("ACTIVE"));
	json_object_set_new(doc, "registeredAt", jv_time(clock_now()));
	json_object_set_new(doc, "registeredBy", json_string(call->principal));
	json_t *tags = json_object_get(in, "tags");
	json_t *rec = json_pack("{s:o, s:[]}", "taskDefinition", doc, "tags");
	if (json_is_array(tags))
		ecs__merge_tags(json_object_get(rec, "tags"), tags, NULL);
	json_array_append_new(revs, rec);
	/* The stored record {taskDefinition, tags} is exactly ECS's answer: serialize it once, for both. */
	char *text = jv_dump(rec);
	size_t len = strlen(text);
	char *rest = store_rest(rec);
	ecs__persist_text(ecs__of(call), sc, ECS_KIND_TASKDEF, rest, text, len);
	free(rest);
	api_call_answer_text(call, text, len);
	*out = NULL;
	return 0;
}

int ecs__describe_task_definition(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *ref;
	json_t *include;
	if (jv_str(in, "taskDefinition", true, &ref, err) < 0 ||
	    jv_str_array(in, "include", false, &include, err) < 0)
		return -1;
	json_t *rec = ecs__taskdef_record(call, ecs__call_scope(call), ref, err);
	if (!rec)
		return -1;
	*out = json_pack("{s:O}", "taskDefinition", td_of(rec));
	if (ecs__includes(include, "TAGS"))
		json_object_set(*out, "tags", json_object_get(rec, "tags"));
	return 0;
}

struct td_key {
	const char *family;
	long long rev;
	char key[300]; /* "family %08lld", the sort and pagination key */
	json_t *rec;
};

static int cmp_key(const void *a, const void *b)
{
	return strcmp(((const struct td_key *)a)->key, ((const struct td_key *)b)->key);
}

static int check_enum(const char *v, const char *member, const char *const *allowed, struct err **err)
{
	if (!v)
		return 0;
	for (int i = 0; allowed[i]; i++)
		if (strcmp(v, allowed[i]) == 0)
			return 0;
	struct buf b = BUF_INIT;
	for (int i = 0; allowed[i]; i++)
		buf_addf(&b, "%s%s", i ? ", " : "", allowed[i]);
	err_set(err, ERR_INVALID_PARAM, "Invalid value '%s' for %s: must be one of %s", v, member, b.p);
	buf_release(&b);
	return -1;
}

int ecs__list_task_definitions(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	static const char *const statuses[] = {"ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS", NULL};
	static const char *const sorts[] = {"ASC", "DESC", NULL};
	const char *family, *status, *sort;
	long long max;
	char *after = NULL;
	if (jv_str(in, "familyPrefix", false, &family, err) < 0 ||
	    jv_str(in, "status", false, &status, err) < 0 || jv_str(in, "sort", false, &sort, err) < 0 ||
	    check_enum(status, "status", statuses, err) < 0 || check_enum(sort, "sort", sorts, err) < 0 ||
	    page_max_results(in, 100, 100, &max, err) < 0 || page_after(in, &after, err) < 0)
		return -1;
	if (!status)
		status = "ACTIVE";
	bool desc = sort && strcmp(sort, "DESC") == 0;
	struct ecs_scope *sc = ecs__call_scope(call);
	size_t n = 0, cap = 16;
	struct td_key *keys = xmalloc(cap * sizeof(*keys));
	const char *fam;
	json_t *revs;
	json_object_foreach (sc->families, fam, revs) {
		/* ListTaskDefinitions' familyPrefix is a whole family name, as ECS documents it. */
		if (family && strcmp(fam, family) != 0)
			continue;
		size_t i;
		json_t *rec;
		json_array_foreach (revs, i, rec) {
			if (!json_is_object(rec) || strcmp(td_status(rec), status) != 0)
				continue;
			if (n == cap) {
				cap *= 2;
				keys = xrealloc(keys, cap * sizeof(*keys));
			}
			keys[n].family = fam;
			keys[n].rev = (long long)i + 1;
			keys[n].rec = rec;
			/* "family revision": a space sorts below every character a family may hold, so
			 * families order as ECS lists them (web before web-app) and revisions numerically. */
			snprintf(keys[n].key, sizeof(keys[n].key), "%s %08lld", fam, (long long)i + 1);
			n++;
		}
	}
	qsort(keys, n, sizeof(*keys), cmp_key);
	json_t *res = json_object();
	json_t *arns = json_array();
	size_t shown = 0, last = 0;
	for (size_t k = 0; k < n; k++) {
		size_t i = desc ? n - 1 - k : k;
		if (after && (desc ? strcmp(keys[i].key, after) >= 0 : strcmp(keys[i].key, after) <= 0))
			continue;
		if (shown == (size_t)max) {
			page_set_token(res, keys[last].key);
			break;
		}
		json_array_append(arns, json_object_get(td_of(keys[i].rec), "taskDefinitionArn"));
		last = i;
		shown++;
	}
	json_object_set_new(res, "taskDefinitionArns", arns);
	*out = res;
	free(keys);
	free(after);
	return 0;
}

int ecs__list_task_definition_families(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	static const char *const statuses[] = {"ACTIVE", "INACTIVE", "ALL", NULL};
	const char *prefix, *status;
	long long max;
	char *after = NULL;
	if (jv_str(in, "familyPrefix", false, &prefix, err) < 0 ||
	    jv_str(in, "status", false, &status, err) < 0 ||
	    check_enum(status, "status", statuses, err) < 0 ||
	    page_max_results(in, 100, 100, &max, err) < 0 || page_after(in, &after, err) < 0)
		return -1;
	if (!status)
		status = "ALL"; /* ECS: by default both ACTIVE and INACTIVE families are listed */
	struct ecs_scope *sc = ecs__call_scope(call);
	size_t n = 0;
	const char **names = xcalloc(json_object_size(sc->families) + 1, sizeof(*names));
	const char *fam;
	json_t *revs;
	json_object_foreach (sc->families, fam, revs) {
		if (prefix && strncmp(fam, prefix, strlen(prefix)) != 0)
			continue;
		if (after && strcmp(fam, after) <= 0)
			continue;
		bool active = false;
		size_t i;
		json_t *rec;
		json_array_foreach (revs, i, rec) {
			active = active || (json_is_object(rec) && strcmp(td_status(rec), "ACTIVE") == 0);
		}
		if (strcmp(status, "ALL") == 0 || (strcmp(status, "ACTIVE") == 0) == active)
			names[n++] = fam;
	}
	qsort(names, n, sizeof(*names), str_cmp_ptr);
	json_t *families = json_array();
	size_t shown = n < (size_t)max ? n : (size_t)max;
	for (size_t i = 0; i < shown; i++)
		json_array_append_new(families, json_string(names[i]));
	*out = json_pack("{s:o}", "families", families);
	if (shown < n)
		page_set_token(*out, names[shown - 1]);
	free(names);
	free(after);
	return 0;
}

int ecs__deregister_task_definition(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *ref;
	if (jv_str(in, "taskDefinition", true, &ref, err) < 0)
		return -1;
	long long rev;
	char *family = resolve_ref(call, ref, &rev, err);
	if (!family)
		return -1;
	free(family);
	if (rev == 0)
		return err_set(
			err, ERR_INVALID_PARAM,
			"Invalid taskDefinition '%s': a revision is required (family:revision or full ARN)",
			ref);
	struct ecs_scope *sc = ecs__call_scope(call);
	json_t *rec = ecs__taskdef_record(call, sc, ref, err);
	if (!rec)
		return -1;
	json_t *td = td_of(rec);
	if (strcmp(td_status(rec), "ACTIVE") == 0) {
		json_object_set_new(td, "status", json_string("INACTIVE"));
		json_object_set_new(td, "deregisteredAt", jv_time(clock_now()));
		ecs__taskdef_save(ecs__of(call), sc, rec);
	}
	*out = json_pack("{s:O}", "taskDefinition", td);
	return 0;
}

int ecs__delete_task_definitions(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	json_t *refs;
	if (jv_str_array(in, "taskDefinitions", true, &refs, err) < 0)
		return -1;
	if (json_array_size(refs) < 1 || json_array_size(refs) > ECS_DELETE_TASKDEFS_MAX)
		return err_set(err, ERR_INVALID_PARAM, "taskDefinitions must have between 1 and %d items",
			       ECS_DELETE_TASKDEFS_MAX);
	struct ecs_scope *sc = ecs__call_scope(call);
	json_t *done = json_array(), *failures = json_array();
	size_t i;
	json_t *v;
	json_array_foreach (refs, i, v) {
		const char *ref = json_string_value(v);
		long long rev = 0;
		char *family = resolve_ref(call, ref, &rev, NULL);
		json_t *rec = family && rev ? ecs__taskdef_record(call, sc, ref, NULL) : NULL;
		free(family);
		const char *reason = NULL;
		if (!family || !rev)
			reason = "The specified task definition identifier is invalid. Specify a valid name "
				 "or ARN "
				 "and try again.";
		else if (!rec)
			reason = "The specified task definition does not exist.";
		else if (strcmp(td_status(rec), "ACTIVE") == 0)
			reason = "The specified task definition is still in ACTIVE status. Please deregister "
				 "the "
				 "target and try again.";
		if (reason) {
			json_array_append_new(failures,
					      json_pack("{s:s, s:s}", "arn", ref, "reason", reason));
			continue;
		}
		json_t *td = td_of(rec);
		if (strcmp(td_status(rec), "INACTIVE") == 0) {
			/* ECS deletes asynchronously once no task uses the revision; the record stays
			 * describable as DELETE_IN_PROGRESS, and the revision number is never reused. */
			json_object_set_new(td, "status", json_string("DELETE_IN_PROGRESS"));
			json_object_set_new(td, "deleteRequestedAt", jv_time(clock_now()));
			ecs__taskdef_save(ecs__of(call), sc, rec);
		}
		json_array_append(done, td);
	}
	*out = json_pack("{s:o, s:o}", "taskDefinitions", done, "failures", failures);
	return 0;
}

json_t *ecs__taskdef_record_any(struct ecs_scope *sc, const char *arn)
{
	const char *p = arn ? strstr(arn, ":task-definition/") : NULL;
	if (!p)
		return NULL;
	long long rev;
	char *family = split_ref(p + strlen(":task-definition/"), &rev);
	json_t *revs = family ? json_object_get(sc->families, family) : NULL;
	free(family);
	json_t *rec = revs && rev > 0 ? json_array_get(revs, (size_t)rev - 1) : NULL;
	return json_is_object(rec) ? rec : NULL;
}
