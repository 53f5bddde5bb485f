/* ECS state: per-account scopes, loading from the store, write-through, the operation table. */
#include "ecs/ecs.h"

#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "common/jv.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "ecs/ecs-int.h"
#include "store/store.h"

static const struct api_op ecs_ops[] = {
	{"CreateCluster", ecs__create_cluster},
	{"DescribeClusters", ecs__describe_clusters},
	{"ListClusters", ecs__list_clusters},
	{"UpdateCluster", ecs__update_cluster},
	{"UpdateClusterSettings", ecs__update_cluster_settings},
	{"DeleteCluster", ecs__delete_cluster},
	{"RegisterTaskDefinition", ecs__register_task_definition},
	{"DescribeTaskDefinition", ecs__describe_task_definition},
	{"ListTaskDefinitions", ecs__list_task_definitions},
	{"ListTaskDefinitionFamilies", ecs__list_task_definition_families},
	{"DeregisterTaskDefinition", ecs__deregister_task_definition},
	{"DeleteTaskDefinitions", ecs__delete_task_definitions},
	{"TagResource", ecs__tag_resource},
	{"UntagResource", ecs__untag_resource},
	{"ListTagsForResource", ecs__list_tags_for_resource},
	{"ListAccountSettings", ecs__list_account_settings},
	{"PutAccountSetting", ecs__put_account_setting},
	{"PutAccountSettingDefault", ecs__put_account_setting_default},
	{"DeleteAccountSetting", ecs__delete_account_setting},
	{"RegisterContainerInstance", ecs__register_container_instance},
	{"DeregisterContainerInstance", ecs__deregister_container_instance},
	{"DescribeContainerInstances", ecs__describe_container_instances},
	{"ListContainerInstances", ecs__list_container_instances},
	{"UpdateContainerInstancesState", ecs__update_container_instances_state},
	{"PutAttributes", ecs__put_attributes},
	{"DeleteAttributes", ecs__delete_attributes},
	{"ListAttributes", ecs__list_attributes},
	{"RunTask", ecs__run_task},
	{"StartTask", ecs__start_task},
	{"StopTask", ecs__stop_task},
	{"DescribeTasks", ecs__describe_tasks},
	{"ListTasks", ecs__list_tasks},
	{"SubmitTaskStateChange", ecs__submit_task_state_change},
	{"SubmitContainerStateChange", ecs__submit_container_state_change},
};

static const struct api_op agent_ops[] = {
	{"Poll", ecs__agent_poll},
};

struct ecs *ecs_new(struct store *store)
{
	struct ecs *ecs = xcalloc(1, sizeof(*ecs));
	ecs->store = store;
	ecs->agent_timeout_s = 60;
	ecs->stopped_ttl_s = 3600;
	ids_random(&ecs->seed, sizeof(ecs->seed));
	return ecs;
}

/* Once a second: agent liveness, and the purge of old stopped tasks. */
static void on_tick(uv_timer_t *t)
{
	struct ecs *ecs = t->data;
	ecs__check_agents(ecs);
	ecs__purge_stopped(ecs);
}

void ecs_start(struct ecs *ecs, uv_loop_t *loop, const struct ecs_options *opts)
{
	ecs->loop = loop;
	if (opts && opts->agent_timeout_s > 0)
		ecs->agent_timeout_s = opts->agent_timeout_s;
	if (opts && opts->stopped_ttl_s > 0)
		ecs->stopped_ttl_s = opts->stopped_ttl_s;
	uv_timer_init(loop, &ecs->tick);
	ecs->tick.data = ecs;
	uv_timer_start(&ecs->tick, on_tick, 1000, 1000);
}

void ecs_stop(struct ecs *ecs)
{
	if (!ecs->loop || ecs->stopping)
		return;
	ecs->stopping = true;
	uv_timer_stop(&ecs->tick);
	uv_close((uv_handle_t *)&ecs->tick, NULL);
	for (size_t i = 0; i < ecs->nscopes; i++) {
		size_t it = 0;
		void *v;
		while (hmap_next(ecs->scopes[i]->runtime, &it, NULL, &v)) {
			struct ecs_cluster *cl = v;
			size_t jt = 0;
			void *iv;
			while (hmap_next(cl->instances, &jt, NULL, &iv))
				ecs__polls_answer(iv);
		}
	}
}

void ecs_free(struct ecs *ecs)
{
	if (!ecs)
		return;
	for (size_t i = 0; i < ecs->nscopes; i++) {
		struct ecs_scope *sc = ecs->scopes[i];
		free(sc->account);
		free(sc->region);
		json_decref(sc->clusters);
		json_decref(sc->families);
		json_decref(sc->settings);
		size_t it = 0;
		void *v;
		while (hmap_next(sc->runtime, &it, NULL, &v))
			ecs__cluster_rt_free(v);
		hmap_free(sc->runtime);
		free(sc);
	}
	free(ecs->scopes);
	free(ecs);
}

struct ecs_scope *ecs__scope(struct ecs *ecs, const char *account, const char *region)
{
	for (size_t i = 0; i < ecs->nscopes; i++) {
		struct ecs_scope *sc = ecs->scopes[i];
		if (strcmp(sc->account, account) == 0 && strcmp(sc->region, region) == 0)
			return sc;
	}
	struct ecs_scope *sc = xcalloc(1, sizeof(*sc));
	sc->account = xstrdup(account);
	sc->region = xstrdup(region);
	sc->clusters = json_object();
	sc->families = json_object();
	sc->settings = json_object();
	sc->runtime = hmap_new();
	sc->ecs = ecs;
	ecs->scopes = xrealloc(ecs->scopes, (ecs->nscopes + 1) * sizeof(*ecs->scopes));
	ecs->scopes[ecs->nscopes++] = sc;
	return sc;
}

struct ecs *ecs__of(struct api_call *call)
{
	return call->service_arg;
}

struct ecs_scope *ecs__call_scope(struct api_call *call)
{
	return ecs__scope(ecs__of(call), call->account, call->region);
}

void ecs__persist_text(struct ecs *ecs, struct ecs_scope *sc, const char *kind, const char *rest,
		       const char *text, size_t len)
{
	char *key = xasprintf("%s/%s/%s", sc->account, sc->region, rest);
	store_put(ecs->store, kind, key, text, len);
	free(key);
}

void ecs__persist(struct ecs *ecs, struct ecs_scope *sc, const char *kind, const char *rest, json_t *doc)
{
	char *key = xasprintf("%s/%s/%s", sc->account, sc->region, rest);
	if (doc) {
		char *text = jv_dump(doc);
		store_put(ecs->store, kind, key, text, strlen(text));
		free(text);
	} else {
		store_del(ecs->store, kind, key);
	}
	free(key);
}

struct load_ctx {
	struct ecs *ecs;
	const char *kind;
	int (*fn)(struct ecs_scope *sc, const char *rest, json_t *doc, struct err **err);
	struct err **err;
};

static int load_one(void *arg, const char *key, const char *text, size_t len)
{
	struct load_ctx *lc = arg;
	/* key = account/region/rest */
	const char *s1 = strchr(key, '/');
	const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	if (!s2) {
		err_set(lc->err, ERR_INTERNAL, "store: malformed %s key '%s'", lc->kind, key);
		return -1;
	}
	char *account = xstrndup(key, (size_t)(s1 - key));
	char *region = xstrndup(s1 + 1, (size_t)(s2 - s1 - 1));
	struct ecs_scope *sc = ecs__scope(lc->ecs, account, region);
	free(account);
	free(region);
	json_t *doc = jv_parse(text, len, lc->err);
	if (!doc) {
		err_prefix(lc->err, "store: %s '%s'", lc->kind, key);
		return -1;
	}
	int rc = lc->fn(sc, s2 + 1, doc, lc->err);
	json_decref(doc);
	if (rc < 0)
		err_prefix(lc->err, "store: %s '%s'", lc->kind, key);
	return rc;
}

int ecs_load(struct ecs *ecs, struct err **err)
{
	const struct {
		const char *kind;
		int (*fn)(struct ecs_scope *, const char *, json_t *, struct err **);
	} kinds[] = {
		{ECS_KIND_CLUSTER, ecs__load_cluster}, {ECS_KIND_TASKDEF, ecs__load_taskdef},
		{ECS_KIND_SETTING, ecs__load_setting}, {ECS_KIND_INSTANCE, ecs__load_instance},
		{ECS_KIND_TASK, ecs__load_task},
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct load_ctx lc = {ecs, kinds[i].kind, kinds[i].fn, err};
		if (store_load(ecs->store, kinds[i].kind, load_one, &lc, err) != 0)
			return -1;
	}
	return 0;
}

void ecs_add_to_api(struct ecs *ecs, struct api *api)
{
	api_add_service(api, ECS_TARGET_PREFIX, ECS_SIGNING_NAME, ecs_ops,
			sizeof(ecs_ops) / sizeof(ecs_ops[0]), ecs);
	api_add_service(api, ECS_AGENT_TARGET_PREFIX, ECS_SIGNING_NAME, agent_ops,
			sizeof(agent_ops) / sizeof(agent_ops[0]), ecs);
}

bool ecs__includes(json_t *include, const char *name)
{
	size_t i;
	json_t *v;
	if (!include)
		return false;
	json_array_foreach (include, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return true;
	}
	return false;
}
