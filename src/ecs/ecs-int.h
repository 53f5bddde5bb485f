/* Internals shared by the files of the ECS module (ecs.c, cluster.c, taskdef.c, tags.c,
 * settings.c). Not an interface for other modules. */
#ifndef GANTRY_ECS_INT_H
#define GANTRY_ECS_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"
#include "common/err.h"

/* Store kinds. Keys are "<account>/<region>/<rest>". */
#define ECS_KIND_CLUSTER "ecs.cluster" /* rest: cluster name; doc: the Cluster */
#define ECS_KIND_TASKDEF "ecs.taskdef" /* rest: family/%08d revision; doc: {taskDefinition, tags} */
#define ECS_KIND_SETTING "ecs.setting" /* rest: principalArn|name; doc: the Setting */

/* Tags per resource, as ECS bounds them. */
#define ECS_TAGS_MAX 50

/* One account in one region: everything a caller can see. Accounts never share a scope. */
struct ecs_scope {
	char *account;
	char *region;
	json_t *clusters; /* name -> Cluster document (incl. "tags") */
	json_t *families; /* family -> array of {taskDefinition, tags}, index = revision - 1 */
	json_t *settings; /* "principalArn|name" -> Setting */
};

struct ecs {
	struct store *store;
	/* Few accounts and regions per server, so a plain array searched linearly. */
	struct ecs_scope **scopes;
	size_t nscopes;
};

/* The scope for account/region, created empty on first use. Never NULL. */
struct ecs_scope *ecs__scope(struct ecs *ecs, const char *account, const char *region);
/* The scope of a call. */
struct ecs_scope *ecs__call_scope(struct api_call *call);
/* The ECS state of a call. */
struct ecs *ecs__of(struct api_call *call);
/* Queues doc (or its deletion when NULL) under kind and "<account>/<region>/<rest>". */
void ecs__persist(struct ecs *ecs, struct ecs_scope *sc, const char *kind, const char *rest, json_t *doc);

/* Validates a `tags` list as ECS does (count, key and value lengths, aws: prefix, duplicates).
 * `member` names it in errors. */
int ecs__check_tags(json_t *tags, const char *member, struct err **err);
/* Merges new tags into the list `have` (same key: value replaced). Enforces ECS_TAGS_MAX. */
int ecs__merge_tags(json_t *have, json_t *add, struct err **err);
/* True when `include` (an array of strings, may be NULL) contains name. */
bool ecs__includes(json_t *include, const char *name);

/* Cluster helpers for other ECS files. Resolves a cluster name or ARN (NULL = "default") to its
 * document in sc, or NULL with ClusterNotFoundException. Inactive clusters count as missing. */
json_t *ecs__cluster_get(struct api_call *call, struct ecs_scope *sc, const char *ref, struct err **err);
/* A task definition's record {taskDefinition, tags} by "family:revision", "family" (latest ACTIVE)
 * or ARN (borrowed), or NULL with ClientException. */
json_t *ecs__taskdef_record(struct api_call *call, struct ecs_scope *sc, const char *ref, struct err **err);
/* Queues a task definition record to the store. */
void ecs__taskdef_save(struct ecs *ecs, struct ecs_scope *sc, json_t *rec);
/* Queues a cluster document to the store. */
void ecs__cluster_save(struct ecs *ecs, struct ecs_scope *sc, json_t *cluster);
/* A resource's tags list by ARN (borrowed), or NULL with an error when no such resource. */
json_t *ecs__tags_of(struct api_call *call, const char *arn, struct err **err);
/* Queues the resource with that ARN to the store after its tags changed. */
void ecs__tags_saved(struct api_call *call, const char *arn);

/* Operation handlers. */
int ecs__create_cluster(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__describe_clusters(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__list_clusters(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__update_cluster(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__update_cluster_settings(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__delete_cluster(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__register_task_definition(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__describe_task_definition(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__list_task_definitions(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__list_task_definition_families(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__deregister_task_definition(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__delete_task_definitions(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__tag_resource(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__untag_resource(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__list_tags_for_resource(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__list_account_settings(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__put_account_setting(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__put_account_setting_default(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__delete_account_setting(struct api_call *call, json_t *in, json_t **out, struct err **err);

/* Loaders, called by ecs_load for each stored document of their kind. */
int ecs__load_cluster(struct ecs_scope *sc, const char *rest, json_t *doc, struct err **err);
int ecs__load_taskdef(struct ecs_scope *sc, const char *rest, json_t *doc, struct err **err);
int ecs__load_setting(struct ecs_scope *sc, const char *rest, json_t *doc, struct err **err);

#endif
