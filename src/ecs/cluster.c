/* ECS clusters: CreateCluster, DescribeClusters, ListClusters, UpdateCluster,
 * UpdateClusterSettings, DeleteCluster. */
#include <stdlib.h>
#include <string.h>

#include "common/arn.h"
#include "common/buf.h"
#include "common/jv.h"
#include "common/page.h"
#include "common/xalloc.h"
#include "ecs/ecs-int.h"

#define ECS_NAME_MAX		  255
#define ECS_DESCRIBE_CLUSTERS_MAX 100

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > ECS_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

void ecs__cluster_save(struct ecs *ecs, struct ecs_scope *sc, json_t *cluster)
{
	ecs__persist(ecs, sc, ECS_KIND_CLUSTER, json_string_value(json_object_get(cluster, "clusterName")),
		     cluster);
}

int ecs__load_cluster(struct ecs_scope *sc, const char *rest, json_t *doc, struct err **err)
{
	if (!json_is_object(doc))
		return err_set(err, ERR_INTERNAL, "not an object");
	json_object_set(sc->clusters, rest, doc);
	return 0;
}

/* Resolves a name or ARN to a cluster name in the caller's scope; NULL when it is another scope's. */
static char *cluster_name(struct api_call *call, const char *ref, struct err **err)
{
	if (!ref)
		return xstrdup("default");
	if (!arn_is(ref))
		return xstrdup(ref);
	struct arn a;
	char *name = NULL;
	if (arn_parse(ref, "cluster", &a, err) < 0)
		return NULL;
	if (strcmp(a.service, "ecs") == 0 && strncmp(a.resource, "cluster/", 8) == 0 &&
	    strcmp(a.account, call->account) == 0 && strcmp(a.region, call->region) == 0)
		name = xstrdup(a.resource + 8);
	else
		err_set(err, ERR_CLUSTER_NOT_FOUND, "Cluster not found.");
	arn_release(&a);
	return name;
}

json_t *ecs__cluster_get(struct api_call *call, struct ecs_scope *sc, const char *ref, struct err **err)
{
	char *name = cluster_name(call, ref, err);
	if (!name)
		return NULL;
	json_t *c = json_object_get(sc->clusters, name);
	free(name);
	if (!c || strcmp(json_string_value(json_object_get(c, "status")), "ACTIVE") != 0) {
		err_set(err, ERR_CLUSTER_NOT_FOUND, "Cluster not found.");
		return NULL;
	}
	return c;
}

struct ecs_cluster *ecs__cluster_rt(struct ecs_scope *sc, const char *name)
{
	struct ecs_cluster *cl = hmap_get(sc->runtime, name);
	if (cl)
		return cl;
	cl = xcalloc(1, sizeof(*cl));
	cl->name = xstrdup(name);
	cl->sc = sc;
	/* Each cluster's random strategy gets its own stream from the server's seed. */
	cl->sched =
		sched_cluster_new(sc->ecs->seed ^ (uint64_t)hmap_size(sc->runtime) * 0x9e3779b97f4a7c15ull);
	cl->instances = hmap_new();
	cl->tasks = json_object();
	cl->tokens = json_object();
	cl->stopped = json_array();
	hmap_put(sc->runtime, name, cl);
	return cl;
}

void ecs__cluster_rt_free(struct ecs_cluster *cl)
{
	if (!cl)
		return;
	size_t it = 0;
	void *v;
	while (hmap_next(cl->instances, &it, NULL, &v))
		ecs__instance_free(v);
	hmap_free(cl->instances);
	sched_cluster_free(cl->sched);
	json_decref(cl->tasks);
	json_decref(cl->tokens);
	json_decref(cl->stopped);
	free(cl->name);
	free(cl);
}

struct ecs_cluster *ecs__cluster_find(struct api_call *call, const char *ref, struct err **err)
{
	struct ecs_scope *sc = ecs__call_scope(call);
	json_t *c = ecs__cluster_get(call, sc, ref, err);
	if (!c)
		return NULL;
	return ecs__cluster_rt(sc, json_string_value(json_object_get(c, "clusterName")));
}

void ecs__cluster_counts(struct ecs_cluster *cl, long long *instances, long long *running, long long *pending)
{
	*instances = *running = *pending = 0;
	size_t it = 0;
	void *v;
	while (hmap_next(cl->instances, &it, NULL, &v)) {
		const char *st =
			json_string_value(json_object_get(((struct ecs_instance *)v)->doc, "status"));
		if (st && (strcmp(st, "ACTIVE") == 0 || strcmp(st, "DRAINING") == 0))
			(*instances)++;
	}
	*running = cl->running;
	*pending = cl->pending;
}

/* Counts of what a cluster holds (services are not kept yet: none can exist). */
struct cluster_counts {
	long long instances, running, pending, services;
};

static void cluster_count(struct ecs_scope *sc, const char *name, struct cluster_counts *c)
{
	memset(c, 0, sizeof(*c));
	struct ecs_cluster *cl = hmap_get(sc->runtime, name);
	if (cl)
		ecs__cluster_counts(cl, &c->instances, &c->running, &c->pending);
}

static json_t *statistics(const struct cluster_counts *c)
{
	const struct {
		const char *name;
		long long v;
	} s[] = {
		{"runningEC2TasksCount", c->running},	{"runningFargateTasksCount", 0},
		{"pendingEC2TasksCount", c->pending},	{"pendingFargateTasksCount", 0},
		{"runningExternalTasksCount", 0},	{"pendingExternalTasksCount", 0},
		{"activeEC2ServiceCount", c->services}, {"activeFargateServiceCount", 0},
		{"drainingEC2ServiceCount", 0},		{"drainingFargateServiceCount", 0},
	};
	json_t *a = json_array();
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		char v[32];
		snprintf(v, sizeof(v), "%lld", s[i].v);
		json_array_append_new(a, json_pack("{s:s, s:s}", "name", s[i].name, "value", v));
	}
	return a;
}

/* The Cluster shape for an answer: live counts, and the optional parts that `include` asks for.
 * With `all` (CreateCluster, the updates, DeleteCluster) tags, settings and configuration are
 * always there, as ECS answers them; statistics only when asked for. */
static json_t *cluster_view(struct ecs_scope *sc, json_t *c, json_t *include, bool all)
{
	struct cluster_counts n;
	cluster_count(sc, json_string_value(json_object_get(c, "clusterName")), &n);
	json_t *v = json_deep_copy(c);
	json_object_set_new(v, "registeredContainerInstancesCount", json_integer(n.instances));
	json_object_set_new(v, "runningTasksCount", json_integer(n.running));
	json_object_set_new(v, "pendingTasksCount", json_integer(n.pending));
	json_object_set_new(v, "activeServicesCount", json_integer(n.services));
	if (ecs__includes(include, "STATISTICS"))
		json_object_set_new(v, "statistics", statistics(&n));
	else
		json_object_set_new(v, "statistics", json_array());
	if (!all && !ecs__includes(include, "TAGS"))
		json_object_del(v, "tags");
	if (!all && !ecs__includes(include, "SETTINGS"))
		json_object_del(v, "settings");
	if (!all && !ecs__includes(include, "CONFIGURATIONS"))
		json_object_del(v, "configuration");
	if (!all && !ecs__includes(include, "ATTACHMENTS"))
		json_object_del(v, "attachments");
	return v;
}

static const char *const insights_values[] = {"enabled", "disabled", "enhanced", NULL};

static int check_settings(json_t *settings, struct err **err)
{
	size_t i;
	json_t *s;
	json_array_foreach (settings, i, s) {
		const char *name, *value;
		if (!json_is_object(s))
			return err_set(err, ERR_INVALID_PARAM, "Invalid type for parameter 'settings[%zu]'",
				       i);
		if (jv_str(s, "name", true, &name, err) < 0 || jv_str(s, "value", true, &value, err) < 0)
			return err_prefix(err, "settings[%zu]", i);
		if (strcmp(name, "containerInsights") != 0)
			return err_set(
				err, ERR_INVALID_PARAM,
				"Invalid cluster setting name '%s': the only setting is containerInsights",
				name);
		bool ok = false;
		for (int k = 0; insights_values[k]; k++)
			ok = ok || strcmp(value, insights_values[k]) == 0;
		if (!ok)
			return err_set(err, ERR_INVALID_PARAM,
				       "Invalid value '%s' for containerInsights: must be enabled, disabled "
				       "or enhanced",
				       value);
	}
	return 0;
}

/* Applies `settings` to the cluster's list (same name: value replaced). */
static void apply_settings(json_t *c, json_t *settings)
{
	json_t *have = json_object_get(c, "settings");
	size_t i;
	json_t *s;
	json_array_foreach (settings, i, s) {
		const char *name = json_string_value(json_object_get(s, "name"));
		json_t *ns = json_pack("{s:s, s:O}", "name", name, "value", json_object_get(s, "value"));
		size_t j;
		json_t *h;
		bool done = false;
		json_array_foreach (have, j, h) {
			if (strcmp(json_string_value(json_object_get(h, "name")), name) == 0) {
				json_array_set_new(have, j, ns);
				done = true;
				break;
			}
		}
		if (!done)
			json_array_append_new(have, ns);
	}
}

/* Applies the optional parts that CreateCluster and UpdateCluster share (each may be NULL). */
static void apply_updates(json_t *c, json_t *settings, json_t *cfg, json_t *scd)
{
	if (settings)
		apply_settings(c, settings);
	if (cfg)
		json_object_set(c, "configuration", cfg);
	if (scd)
		json_object_set(c, "serviceConnectDefaults", scd);
}

static int check_configuration(json_t *cfg, struct err **err)
{
	json_t *ecc, *msc;
	if (jv_object(cfg, "executeCommandConfiguration", false, &ecc, err) < 0 ||
	    jv_object(cfg, "managedStorageConfiguration", false, &msc, err) < 0)
		return err_prefix(err, "configuration");
	const char *logging;
	if (jv_str(ecc, "logging", false, &logging, err) < 0)
		return err_prefix(err, "configuration.executeCommandConfiguration");
	if (logging && strcmp(logging, "NONE") && strcmp(logging, "DEFAULT") && strcmp(logging, "OVERRIDE"))
		return err_set(err, ERR_INVALID_PARAM,
			       "Invalid value '%s' for configuration.executeCommandConfiguration.logging: "
			       "must be NONE, DEFAULT or OVERRIDE",
			       logging);
	json_t *lc;
	if (jv_object(ecc, "logConfiguration", false, &lc, err) < 0)
		return err_prefix(err, "configuration.executeCommandConfiguration");
	if (lc && (!logging || strcmp(logging, "OVERRIDE") != 0))
		return err_set(
			err, ERR_INVALID_PARAM,
			"configuration.executeCommandConfiguration.logConfiguration is only valid when "
			"logging is OVERRIDE");
	return 0;
}

static int check_capacity(json_t *in, struct err **err)
{
	json_t *cps, *strategy;
	if (jv_str_array(in, "capacityProviders", false, &cps, err) < 0 ||
	    jv_array(in, "defaultCapacityProviderStrategy", false, &strategy, err) < 0)
		return -1;
	size_t i;
	json_t *v;
	json_array_foreach (cps, i, v) {
		const char *n = json_string_value(v);
		/* Only the Fargate providers exist until capacity providers can be created. */
		if (strcmp(n, "FARGATE") != 0 && strcmp(n, "FARGATE_SPOT") != 0)
			return err_set(err, ERR_INVALID_PARAM,
				       "The specified capacity provider '%s' does not exist.", n);
	}
	json_array_foreach (strategy, i, v) {
		const char *cp;
		long long weight = 0, base = 0;
		bool has_w, has_b;
		if (jv_str(v, "capacityProvider", true, &cp, err) < 0 ||
		    jv_int(v, "weight", false, &weight, &has_w, err) < 0 ||
		    jv_int(v, "base", false, &base, &has_b, err) < 0)
			return err_prefix(err, "defaultCapacityProviderStrategy[%zu]", i);
		if (weight < 0 || weight > 1000 || base < 0 || base > 100000)
			return err_set(err, ERR_INVALID_PARAM,
				       "defaultCapacityProviderStrategy[%zu]: weight must be 0-1000 and base "
				       "0-100000",
				       i);
		bool listed = false;
		size_t j;
		json_t *w;
		json_array_foreach (cps, j, w) {
			listed = listed || strcmp(json_string_value(w), cp) == 0;
		}
		if (!listed)
			return err_set(err, ERR_INVALID_PARAM,
				       "The capacity provider '%s' in the default strategy is not associated "
				       "with the "
				       "cluster.",
				       cp);
	}
	return 0;
}

int ecs__create_cluster(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *name;
	json_t *tags, *settings, *cfg, *scd;
	if (jv_str(in, "clusterName", false, &name, err) < 0 || jv_array(in, "tags", false, &tags, err) < 0 ||
	    jv_array(in, "settings", false, &settings, err) < 0 ||
	    jv_object(in, "configuration", false, &cfg, err) < 0 ||
	    jv_object(in, "serviceConnectDefaults", false, &scd, err) < 0)
		return -1;
	if (!name)
		name = "default";
	if (!name_ok(name))
		return err_set(
			err, ERR_INVALID_PARAM,
			"Cluster name '%s' is invalid: up to 255 letters (uppercase and lowercase), numbers, "
			"hyphens, and underscores are allowed",
			name);
	if (ecs__check_tags(tags, "tags", err) < 0 || check_settings(settings, err) < 0 ||
	    check_configuration(cfg, err) < 0 || check_capacity(in, err) < 0)
		return -1;
	struct ecs_scope *sc = ecs__call_scope(call);
	json_t *c = json_object_get(sc->clusters, name);
	if (c && strcmp(json_string_value(json_object_get(c, "status")), "ACTIVE") == 0) {
		/* CreateCluster is idempotent on the name: the existing cluster is the answer. */
		*out = json_pack("{s:o}", "cluster", cluster_view(sc, c, NULL, true));
		return 0;
	}
	char *res = xasprintf("cluster/%s", name);
	char *arn = arn_build("ecs", call->region, call->account, res);
	free(res);
	c = json_pack("{s:s, s:s, s:s, s:[], s:[{s:s, s:s}], s:[], s:[]}", "clusterArn", arn, "clusterName",
		      name, "status", "ACTIVE", "tags", "settings", "name", "containerInsights", "value",
		      "disabled", "capacityProviders", "defaultCapacityProviderStrategy");
	free(arn);
	if (tags)
		ecs__merge_tags(json_object_get(c, "tags"), tags, NULL);
	apply_updates(c, settings, cfg, scd);
	json_t *cps = json_object_get(in, "capacityProviders");
	if (json_is_array(cps))
		json_object_set(c, "capacityProviders", cps);
	json_t *strategy = json_object_get(in, "defaultCapacityProviderStrategy");
	if (json_is_array(strategy))
		json_object_set(c, "defaultCapacityProviderStrategy", strategy);
	json_object_set_new(sc->clusters, name, c);
	ecs__cluster_save(ecs__of(call), sc, c);
	*out = json_pack("{s:o}", "cluster", cluster_view(sc, c, NULL, true));
	return 0;
}

int ecs__describe_clusters(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	json_t *refs, *include;
	if (jv_str_array(in, "clusters", false, &refs, err) < 0 ||
	    jv_str_array(in, "include", false, &include, err) < 0)
		return -1;
	if (refs && json_array_size(refs) > ECS_DESCRIBE_CLUSTERS_MAX)
		return err_set(err, ERR_INVALID_PARAM, "clusters can have at most %d items",
			       ECS_DESCRIBE_CLUSTERS_MAX);
	size_t i;
	json_t *v;
	json_array_foreach (include, i, v) {
		const char *s = json_string_value(v);
		if (strcmp(s, "ATTACHMENTS") && strcmp(s, "CONFIGURATIONS") && strcmp(s, "SETTINGS") &&
		    strcmp(s, "STATISTICS") && strcmp(s, "TAGS"))
			return err_set(
				err, ERR_INVALID_PARAM,
				"Invalid include value '%s': must be ATTACHMENTS, CONFIGURATIONS, SETTINGS, "
				"STATISTICS or TAGS",
				s);
	}
	struct ecs_scope *sc = ecs__call_scope(call);
	json_t *clusters = json_array(), *failures = json_array();
	json_t *defaults = NULL;
	if (!refs || json_array_size(refs) == 0)
		refs = defaults = json_pack("[s]", "default");
	json_array_foreach (refs, i, v) {
		const char *ref = json_string_value(v);
		char *name = cluster_name(call, ref, NULL);
		json_t *c = name ? json_object_get(sc->clusters, name) : NULL;
		if (c) {
			json_array_append_new(clusters, cluster_view(sc, c, include, false));
		} else {
			char *res = xasprintf("cluster/%s", name ? name : ref);
			char *arn = arn_is(ref) ? xstrdup(ref)
						: arn_build("ecs", call->region, call->account, res);
			json_array_append_new(failures,
					      json_pack("{s:s, s:s}", "arn", arn, "reason", "MISSING"));
			free(arn);
			free(res);
		}
		free(name);
	}
	json_decref(defaults);
	*out = json_pack("{s:o, s:o}", "clusters", clusters, "failures", failures);
	return 0;
}

int ecs__list_clusters(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	long long max;
	char *after = NULL;
	if (page_max_results(in, 100, 100, &max, err) < 0 || page_after(in, &after, err) < 0)
		return -1;
	struct ecs_scope *sc = ecs__call_scope(call);
	size_t n = 0, cap = json_object_size(sc->clusters);
	const char **names = xcalloc(cap ? cap : 1, sizeof(*names));
	const char *key;
	json_t *c;
	json_object_foreach (sc->clusters, key, c) {
		if (strcmp(json_string_value(json_object_get(c, "status")), "ACTIVE") == 0 &&
		    (!after || strcmp(key, after) > 0))
			names[n++] = key;
	}
	qsort(names, n, sizeof(*names), str_cmp_ptr);
	json_t *arns = json_array();
	size_t shown = n < (size_t)max ? n : (size_t)max;
	for (size_t i = 0; i < shown; i++)
		json_array_append(arns,
				  json_object_get(json_object_get(sc->clusters, names[i]), "clusterArn"));
	*out = json_pack("{s:o}", "clusterArns", arns);
	if (shown < n)
		page_set_token(*out, names[shown - 1]);
	free(names);
	free(after);
	return 0;
}

int ecs__update_cluster(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *ref;
	json_t *settings, *cfg, *scd;
	if (jv_str(in, "cluster", true, &ref, err) < 0 ||
	    jv_array(in, "settings", false, &settings, err) < 0 ||
	    jv_object(in, "configuration", false, &cfg, err) < 0 ||
	    jv_object(in, "serviceConnectDefaults", false, &scd, err) < 0)
		return -1;
	if (check_settings(settings, err) < 0 || check_configuration(cfg, err) < 0)
		return -1;
	struct ecs_scope *sc = ecs__call_scope(call);
	json_t *c = ecs__cluster_get(call, sc, ref, err);
	if (!c)
		return -1;
	apply_updates(c, settings, cfg, scd);
	ecs__cluster_save(ecs__of(call), sc, c);
	*out = json_pack("{s:o}", "cluster", cluster_view(sc, c, NULL, true));
	return 0;
}

int ecs__update_cluster_settings(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *ref;
	json_t *settings;
	if (jv_str(in, "cluster", true, &ref, err) < 0 ||
	    jv_array(in, "settings", true, &settings, err) < 0 || check_settings(settings, err) < 0)
		return -1;
	struct ecs_scope *sc = ecs__call_scope(call);
	json_t *c = ecs__cluster_get(call, sc, ref, err);
	if (!c)
		return -1;
	apply_settings(c, settings);
	ecs__cluster_save(ecs__of(call), sc, c);
	*out = json_pack("{s:o}", "cluster", cluster_view(sc, c, NULL, true));
	return 0;
}

int ecs__delete_cluster(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *ref;
	if (jv_str(in, "cluster", true, &ref, err) < 0)
		return -1;
	struct ecs_scope *sc = ecs__call_scope(call);
	json_t *c = ecs__cluster_get(call, sc, ref, err);
	if (!c)
		return -1;
	struct cluster_counts n;
	cluster_count(sc, json_string_value(json_object_get(c, "clusterName")), &n);
	if (n.instances)
		return err_set(
			err, ERR_CLUSTER_HAS_INSTANCES,
			"The Cluster cannot be deleted while Container Instances are active or draining.");
	if (n.services)
		return err_set(err, ERR_CLUSTER_HAS_SERVICES,
			       "The Cluster cannot be deleted while Services are active.");
	if (n.running || n.pending)
		return err_set(err, ERR_CLUSTER_HAS_TASKS,
			       "The Cluster cannot be deleted while Tasks are active.");
	/* A deleted cluster stays describable as INACTIVE, as in ECS; creating the name again makes
	 * a fresh ACTIVE cluster. */
	json_object_set_new(c, "status", json_string("INACTIVE"));
	ecs__cluster_save(ecs__of(call), sc, c);
	*out = json_pack("{s:o}", "cluster", cluster_view(sc, c, NULL, true));
	return 0;
}
