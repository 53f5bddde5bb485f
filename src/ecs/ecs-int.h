/* Internals shared by the files of the ECS module (ecs.c, cluster.c, taskdef.c, tags.c,
 * settings.c). Not an interface for other modules. */
#ifndef GANTRY_ECS_INT_H
#define GANTRY_ECS_INT_H

#include <jansson.h>
#include <stdbool.h>

#include <stdint.h>
#include <uv.h>

#include "api/api.h"
#include "common/err.h"
#include "common/hmap.h"
#include "sched/sched.h"

/* Store kinds. Keys are "<account>/<region>/<rest>". */
#define ECS_KIND_CLUSTER  "ecs.cluster"	 /* rest: cluster name; doc: the Cluster */
#define ECS_KIND_TASKDEF  "ecs.taskdef"	 /* rest: family/%08d revision; doc: {taskDefinition, tags} */
#define ECS_KIND_SETTING  "ecs.setting"	 /* rest: principalArn|name; doc: the Setting */
#define ECS_KIND_INSTANCE "ecs.instance" /* rest: cluster/id; doc: the ContainerInstance (stored part) */
#define ECS_KIND_TASK	  "ecs.task"	 /* rest: cluster/id; doc: the Task (with internal "_" members) */

/* Tags per resource, as ECS bounds them. */
#define ECS_TAGS_MAX 50

struct ecs_scope;
struct ecs_cluster;
struct ecs_poll;

/* A container instance: its stored document plus what the server tracks about its agent. */
struct ecs_instance {
	char *id; /* the id part of its ARN */
	struct ecs_cluster *cl;
	json_t *doc;		  /* the stored ContainerInstance; the computed members are added on output */
	json_t *tasks;		  /* task id -> Task (the same references as in cl->tasks): its desired set */
	uint64_t desired_version; /* bumped whenever what its agent should run changes */
	struct ecs_poll *polls;	  /* polls held open by its agent */
	long long running, pending; /* its tasks whose lastStatus is RUNNING / PENDING */
	uint64_t last_seen_ms;	    /* monotonic time the last poll arrived */
	bool connected;
};

/* The runtime of one cluster: its instances, its tasks and the placement view over them. */
struct ecs_cluster {
	char *name;
	struct ecs_scope *sc;
	struct sched_cluster *sched;
	struct hmap *instances; /* id -> struct ecs_instance */
	json_t *tasks;		/* task id -> Task document */
	json_t *tokens;		/* RunTask clientToken -> array of the task ids it made */
	json_t *stopped;	/* ids of STOPPED tasks, oldest stop first (for the purge) */
	/* Tasks RUNNING, and PROVISIONING / PENDING / ACTIVATING: kept by ecs__task_set_last so that
	 * DescribeClusters does not walk every task. */
	long long running, pending;
};

/* One account in one region: everything a caller can see. Accounts never share a scope. */
struct ecs_scope {
	struct ecs *ecs;
	char *account;
	char *region;
	json_t *clusters;     /* name -> Cluster document (incl. "tags") */
	json_t *families;     /* family -> array of {taskDefinition, tags}, index = revision - 1 */
	json_t *settings;     /* "principalArn|name" -> Setting */
	struct hmap *runtime; /* cluster name -> struct ecs_cluster */
};

struct ecs {
	struct store *store;
	/* Few accounts and regions per server, so a plain array searched linearly. */
	struct ecs_scope **scopes;
	size_t nscopes;
	uv_loop_t *loop;	/* NULL until ecs_start: no timers, no held polls */
	uv_timer_t tick;	/* agent liveness and the purge of old stopped tasks */
	double agent_timeout_s; /* an agent silent this long is disconnected */
	double stopped_ttl_s;	/* stopped tasks stay visible this long */
	uint64_t seed;
	bool stopping;
};

/* The runtime of cluster `name` in sc, created empty on first use. Never NULL. */
struct ecs_cluster *ecs__cluster_rt(struct ecs_scope *sc, const char *name);
/* The runtime of an ACTIVE cluster named by ref (name or ARN; NULL = "default"), or NULL with
 * ClusterNotFoundException. */
struct ecs_cluster *ecs__cluster_find(struct api_call *call, const char *ref, struct err **err);
/* Frees a cluster runtime (at shutdown). */
void ecs__cluster_rt_free(struct ecs_cluster *cl);
/* Counts for DescribeClusters and DeleteCluster. */
void ecs__cluster_counts(struct ecs_cluster *cl, long long *instances, long long *running,
			 long long *pending);

/* Instances (instance.c). Resolves a container instance id or ARN within cl; NULL when unknown. */
struct ecs_instance *ecs__instance_find(struct ecs_cluster *cl, const char *ref);
/* The ContainerInstance as the API shows it (new reference). */
json_t *ecs__instance_view(struct ecs_instance *in, bool with_tags);
/* Queues an instance's document to the store. */
void ecs__instance_save(struct ecs_instance *in);
/* Marks the instance's desired state changed because of `task` (NULL: the instance itself): bumps
 * the version, records it on the task (so that polls send the specs of changed tasks only) and
 * answers held polls. */
void ecs__instance_changed(struct ecs_instance *in, json_t *task);
/* Frees an instance runtime (at shutdown; the sched view is freed separately). */
void ecs__instance_free(struct ecs_instance *in);

/* Tasks (task.c). The API view of a task (new reference): internal members stripped. */
json_t *ecs__task_view(json_t *task, bool with_tags);
/* Queues a task to the store. */
void ecs__task_save(struct ecs_cluster *cl, json_t *task);
/* Moves a task to STOPPED now (releasing what it holds) with the given stop code and reason, as
 * when an instance is deregistered with tasks on it. */
void ecs__task_stop_now(struct ecs_cluster *cl, json_t *task, const char *code, const char *reason);
/* Sets a task's lastStatus: the one place it changes, so that the cluster's and the instance's
 * counts stay right. */
void ecs__task_set_last(struct ecs_cluster *cl, json_t *task, const char *status);
/* Whether a task's lastStatus is STOPPED. */
bool ecs__task_stopped(json_t *task);

/* The agent poll (agentproto.c): answers every held poll of the instance with its current state. */
void ecs__polls_answer(struct ecs_instance *in);
/* Drops the held polls of an instance without answering (only when freeing at exit). */
void ecs__polls_drop(struct ecs_instance *in);

/* The scope for account/region, created empty on first use. Never NULL. */
struct ecs_scope *ecs__scope(struct ecs *ecs, const char *account, const char *region);
/* The scope of a call. */
struct ecs_scope *ecs__call_scope(struct api_call *call);
/* The ECS state of a call. */
struct ecs *ecs__of(struct api_call *call);
/* Queues the serialized document text[0..len) under kind and "<account>/<region>/<rest>". */
void ecs__persist_text(struct ecs *ecs, struct ecs_scope *sc, const char *kind, const char *rest,
		       const char *text, size_t len);
/* Queues doc (or its deletion when NULL) under kind and "<account>/<region>/<rest>". */
void ecs__persist(struct ecs *ecs, struct ecs_scope *sc, const char *kind, const char *rest, json_t *doc);

/* Validates a `tags` list as ECS does (count, key and value lengths, aws: prefix, duplicates).
 * `member` names it in errors. */
int ecs__check_tags(json_t *tags, const char *member, struct err **err);
/* Merges new tags into the list `have` (same key: value replaced). Enforces ECS_TAGS_MAX. */
int ecs__merge_tags(json_t *have, json_t *add, struct err **err);
/* The string member k of object o, or NULL (when o is NULL, k is absent or not a string). */
static inline const char *ecs__str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}
/* True when `include` (an array of strings, may be NULL) contains name. */
bool ecs__includes(json_t *include, const char *name);

/* Cluster helpers for other ECS files. Resolves a cluster name or ARN (NULL = "default") to its
 * document in sc, or NULL with ClusterNotFoundException. Inactive clusters count as missing. */
json_t *ecs__cluster_get(struct api_call *call, struct ecs_scope *sc, const char *ref, struct err **err);
/* A task definition's record {taskDefinition, tags} by "family:revision", "family" (latest ACTIVE)
 * or ARN (borrowed), or NULL with ClientException. */
json_t *ecs__taskdef_record(struct api_call *call, struct ecs_scope *sc, const char *ref, struct err **err);
/* The record of a task definition ARN within sc (any status), or NULL. For tasks, which name
 * their definition by ARN. */
json_t *ecs__taskdef_record_any(struct ecs_scope *sc, const char *arn);
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

int ecs__register_container_instance(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__deregister_container_instance(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__describe_container_instances(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__list_container_instances(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__update_container_instances_state(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__put_attributes(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__delete_attributes(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__list_attributes(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__run_task(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__start_task(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__stop_task(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__describe_tasks(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__list_tasks(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__submit_task_state_change(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__submit_container_state_change(struct api_call *call, json_t *in, json_t **out, struct err **err);
int ecs__agent_poll(struct api_call *call, json_t *in, json_t **out, struct err **err);

/* Periodic work (agentproto.c): disconnect silent agents. */
void ecs__check_agents(struct ecs *ecs);
/* Periodic work (task.c): purge stopped tasks older than ecs->stopped_ttl_s. */
void ecs__purge_stopped(struct ecs *ecs);

/* Loaders, called by ecs_load for each stored document of their kind. */
int ecs__load_cluster(struct ecs_scope *sc, const char *rest, json_t *doc, struct err **err);
int ecs__load_taskdef(struct ecs_scope *sc, const char *rest, json_t *doc, struct err **err);
int ecs__load_setting(struct ecs_scope *sc, const char *rest, json_t *doc, struct err **err);
int ecs__load_instance(struct ecs_scope *sc, const char *rest, json_t *doc, struct err **err);
int ecs__load_task(struct ecs_scope *sc, const char *rest, json_t *doc, struct err **err);

#endif
