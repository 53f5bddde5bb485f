/* ECS tasks: RunTask and StartTask (placement through src/sched), StopTask, DescribeTasks,
 * ListTasks, the agents' SubmitTaskStateChange / SubmitContainerStateChange, and the lifecycle
 * (docs/agent-protocol.md §4). Internal members of a stored task start with '_'. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/arn.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/jv.h"
#include "common/page.h"
#include "common/xalloc.h"
#include "ecs/ecs-int.h"
#include "ecs/tdval.h"
#include "sched/cql.h"
#include "store/store.h"

#define ECS_RUN_TASK_MAX       10
#define ECS_START_TASK_MAX     10
#define ECS_DESCRIBE_TASKS_MAX 100
#define ECS_STARTED_BY_MAX     128
#define ECS_GROUP_MAX	       255
#define ECS_REASON_MAX	       1024
#define ECS_CLIENT_TOKEN_MAX   64

/* The lifecycle's order, for applying reported transitions only forward. */
static int status_rank(const char *s)
{
	static const char *const order[] = {"PROVISIONING",   "PENDING",      "ACTIVATING",
					    "RUNNING",	      "DEACTIVATING", "STOPPING",
					    "DEPROVISIONING", "STOPPED",      NULL};
	for (int i = 0; s && order[i]; i++)
		if (strcmp(s, order[i]) == 0)
			return i;
	return -1;
}

static struct ecs_instance *task_instance(struct ecs_cluster *cl, json_t *task);

/* Adds (by = 1) or removes (by = -1) the task from the counts its lastStatus belongs to. */
static void count_task(struct ecs_cluster *cl, json_t *task, int by)
{
	const char *st = ecs__str(task, "lastStatus");
	struct ecs_instance *in = task_instance(cl, task);
	if (!st)
		return;
	if (strcmp(st, "RUNNING") == 0) {
		cl->running += by;
		if (in)
			in->running += by;
	} else if (strcmp(st, "PROVISIONING") == 0 || strcmp(st, "PENDING") == 0 ||
		   strcmp(st, "ACTIVATING") == 0) {
		cl->pending += by;
		if (in && strcmp(st, "PENDING") == 0)
			in->pending += by;
	}
}

void ecs__task_set_last(struct ecs_cluster *cl, json_t *task, const char *status)
{
	count_task(cl, task, -1);
	json_object_set_new(task, "lastStatus", json_string(status));
	count_task(cl, task, 1);
}

bool ecs__task_stopped(json_t *task)
{
	const char *st = ecs__str(task, "lastStatus");
	return st && strcmp(st, "STOPPED") == 0;
}

json_t *ecs__task_view(json_t *task, bool with_tags)
{
	json_t *v = json_object();
	const char *k;
	json_t *m;
	json_object_foreach (task, k, m) {
		if (k[0] != '_')
			json_object_set(v, k, m);
	}
	if (!with_tags)
		json_object_del(v, "tags");
	return v;
}

void ecs__task_save(struct ecs_cluster *cl, json_t *task)
{
	char *rest = xasprintf("%s/%s", cl->name, ecs__str(task, "_id"));
	ecs__persist(cl->sc->ecs, cl->sc, ECS_KIND_TASK, rest, task);
	free(rest);
}

static void touch(json_t *task)
{
	json_int_t v = json_integer_value(json_object_get(task, "version"));
	json_object_set_new(task, "version", json_integer(v + 1));
}

static struct ecs_instance *task_instance(struct ecs_cluster *cl, json_t *task)
{
	const char *id = ecs__str(task, "_instance");
	return id ? hmap_get(cl->instances, id) : NULL;
}

/* The resources a task holds, as its "_usage" member records them. ports is caller storage. */
static void usage_of(json_t *task, struct sched_usage *u, struct sched_port *ports)
{
	json_t *us = json_object_get(task, "_usage");
	memset(u, 0, sizeof(*u));
	u->cpu = (int)json_integer_value(json_object_get(us, "cpu"));
	u->memory = (int)json_integer_value(json_object_get(us, "memory"));
	u->group = ecs__str(task, "group");
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(us, "ports"), i, p) {
		if (i >= SCHED_PORTS_MAX)
			break;
		ports[i].port = (uint16_t)json_integer_value(json_array_get(p, 0));
		ports[i].proto = (uint8_t)json_integer_value(json_array_get(p, 1));
		u->nports = i + 1;
	}
	u->ports = ports;
}

void ecs__task_stop_now(struct ecs_cluster *cl, json_t *task, const char *code, const char *reason)
{
	if (ecs__task_stopped(task))
		return;
	json_t *now = jv_time(clock_now());
	ecs__task_set_last(cl, task, "STOPPED");
	json_object_set_new(task, "desiredStatus", json_string("STOPPED"));
	if (!json_object_get(task, "stopCode") && code)
		json_object_set_new(task, "stopCode", json_string(code));
	if (!json_object_get(task, "stoppedReason") && reason)
		json_object_set_new(task, "stoppedReason", json_string(reason));
	if (!json_object_get(task, "stoppingAt"))
		json_object_set(task, "stoppingAt", now);
	if (!json_object_get(task, "executionStoppedAt"))
		json_object_set(task, "executionStoppedAt", now);
	json_object_set(task, "stoppedAt", now);
	json_decref(now);
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(task, "containers"), i, c) {
		json_object_set_new(c, "lastStatus", json_string("STOPPED"));
	}
	json_array_foreach (json_object_get(task, "attachments"), i, c)
		json_object_set_new(c, "status", json_string("DELETED"));
	struct ecs_instance *in = task_instance(cl, task);
	struct sched_usage u;
	struct sched_port ports[SCHED_PORTS_MAX];
	usage_of(task, &u, ports);
	/* A deregistered instance is out of the placement view already: nothing to give back. */
	if (in)
		sched_release(cl->sched, in->id, &u, NULL);
	touch(task);
	json_array_append_new(cl->stopped, json_string(ecs__str(task, "_id")));
	ecs__task_save(cl, task);
	if (in)
		ecs__instance_changed(in, task);
}

int ecs__load_task(struct ecs_scope *sc, const char *rest, json_t *task, struct err **err)
{
	const char *slash = strrchr(rest, '/');
	if (!slash || !json_is_object(task) || !ecs__str(task, "_id"))
		return err_set(err, ERR_INTERNAL, "malformed task record");
	char *cname = xstrndup(rest, (size_t)(slash - rest));
	struct ecs_cluster *cl = ecs__cluster_rt(sc, cname);
	free(cname);
	const char *id = ecs__str(task, "_id");
	/* Desired-state versions restart with the server; agents get everything on their next poll. */
	json_object_del(task, "_changed");
	json_object_set(cl->tasks, id, task);
	const char *token = ecs__str(task, "_clientToken");
	if (token) {
		json_t *ids = json_object_get(cl->tokens, token);
		if (!ids)
			json_object_set_new(cl->tokens, token, ids = json_array());
		json_array_append_new(ids, json_string(id));
	}
	struct ecs_instance *in = task_instance(cl, task);
	if (in)
		json_object_set(in->tasks, id, task);
	count_task(cl, task, 1);
	if (ecs__task_stopped(task)) {
		/* The purge queue wants oldest first; store order is by id, so insert in order of stop. */
		double at = json_number_value(json_object_get(task, "stoppedAt"));
		size_t pos = json_array_size(cl->stopped);
		while (pos > 0) {
			json_t *prev = json_object_get(
				cl->tasks, json_string_value(json_array_get(cl->stopped, pos - 1)));
			if (json_number_value(json_object_get(prev, "stoppedAt")) <= at)
				break;
			pos--;
		}
		json_array_insert_new(cl->stopped, pos, json_string(id));
		return 0;
	}
	if (in) {
		struct sched_usage u;
		struct sched_port ports[SCHED_PORTS_MAX];
		usage_of(task, &u, ports);
		if (sched_reserve(cl->sched, in->id, &u, err) < 0)
			return err_prefix(err, "task %s", id);
	}
	return 0;
}

void ecs__purge_stopped(struct ecs *ecs)
{
	double cutoff = clock_now() - ecs->stopped_ttl_s;
	for (size_t s = 0; s < ecs->nscopes; s++) {
		size_t it = 0;
		void *v;
		while (hmap_next(ecs->scopes[s]->runtime, &it, NULL, &v)) {
			struct ecs_cluster *cl = v;
			while (json_array_size(cl->stopped) > 0) {
				const char *id = json_string_value(json_array_get(cl->stopped, 0));
				json_t *task = json_object_get(cl->tasks, id);
				if (task && json_number_value(json_object_get(task, "stoppedAt")) > cutoff)
					break;
				if (task) {
					struct ecs_instance *in = task_instance(cl, task);
					if (in)
						json_object_del(in->tasks, id);
					const char *token = ecs__str(task, "_clientToken");
					if (token)
						json_object_del(cl->tokens, token);
					char *rest = xasprintf("%s/%s", cl->name, id);
					ecs__persist(ecs, cl->sc, ECS_KIND_TASK, rest, NULL);
					free(rest);
					json_object_del(cl->tasks, id);
				}
				json_array_remove(cl->stopped, 0);
			}
		}
	}
}

/* ---- what a task needs, from its definition and the call's overrides ---- */

struct need {
	struct sched_request req;
	struct sched_port ports[SCHED_PORTS_MAX];
	uint8_t dynamic[SCHED_PORTS_MAX];
	struct sched_attr attrs[SCHED_ATTRS_MAX];
	struct sched_constraint constraints[SCHED_CONSTRAINTS_MAX];
	struct cql_expr *exprs[SCHED_CONSTRAINTS_MAX];
	struct sched_strategy strategies[SCHED_STRATEGIES_MAX];
	/* Each host port mapping, in container order: which container, its containerPort and protocol,
	 * and where its host port comes from (static: index in ports; dynamic: index in dynamic). */
	struct {
		int container;
		int container_port;
		uint8_t proto;
		bool is_dynamic;
		int slot;
	} maps[SCHED_PORTS_MAX];
	size_t nmaps;
	char group[ECS_GROUP_MAX + 1];
	long long cpu, memory; /* what the task reserves */
	const char *task_cpu;  /* the Task's cpu / memory strings, when task-level */
	const char *task_memory;
	char cpu_buf[24], mem_buf[24];
};

static void need_release(struct need *n)
{
	for (size_t i = 0; i < n->req.nconstraints; i++)
		cql_free(n->exprs[i]);
}

static json_t *container_override(json_t *overrides, const char *name)
{
	size_t i;
	json_t *o;
	json_array_foreach (json_object_get(overrides, "containerOverrides"), i, o) {
		const char *n = ecs__str(o, "name");
		if (n && strcmp(n, name) == 0)
			return o;
	}
	return NULL;
}

/* Checks the overrides member of RunTask / StartTask against the task definition. */
static int check_overrides(json_t *overrides, json_t *td, struct err **err)
{
	json_t *cos;
	const char *cpu, *mem;
	if (!overrides)
		return 0;
	if (!json_is_object(overrides))
		return err_set(err, ERR_INVALID_PARAM,
			       "Invalid type for parameter 'overrides': expected structure");
	if (jv_array(overrides, "containerOverrides", false, &cos, err) < 0 ||
	    jv_str(overrides, "cpu", false, &cpu, err) < 0 ||
	    jv_str(overrides, "memory", false, &mem, err) < 0)
		return err_prefix(err, "overrides");
	long long v;
	if (cpu && tdval_parse_cpu(cpu, "overrides.cpu", &v, err) < 0)
		return -1;
	if (mem && tdval_parse_memory(mem, "overrides.memory", &v, err) < 0)
		return -1;
	size_t i;
	json_t *o;
	json_array_foreach (cos, i, o) {
		const char *name;
		json_t *env, *cmd;
		long long n;
		bool has;
		if (!json_is_object(o) || jv_str(o, "name", true, &name, err) < 0 ||
		    jv_array(o, "environment", false, &env, err) < 0 ||
		    jv_str_array(o, "command", false, &cmd, err) < 0)
			return err_prefix(err, "overrides.containerOverrides[%zu]", i);
		static const char *const ints[] = {"cpu", "memory", "memoryReservation", NULL};
		for (int k = 0; ints[k]; k++) {
			if (jv_int(o, ints[k], false, &n, &has, err) < 0)
				return err_prefix(err, "overrides.containerOverrides[%zu]", i);
			if (has && (n < 0 || (k > 0 && n < 6)))
				return err_set(err, ERR_INVALID_PARAM,
					       "overrides.containerOverrides[%zu].%s: invalid value %lld", i,
					       ints[k], n);
		}
		bool found = false;
		size_t j;
		json_t *c;
		json_array_foreach (json_object_get(td, "containerDefinitions"), j, c) {
			found = found || strcmp(ecs__str(c, "name"), name) == 0;
		}
		if (!found)
			return err_set(
				err, ERR_INVALID_PARAM,
				"Override for container named %s is not a container in the TaskDefinition.",
				name);
		json_t *e;
		json_array_foreach (env, j, e) {
			const char *en;
			if (!json_is_object(e) || jv_str(e, "name", true, &en, err) < 0)
				return err_prefix(err, "overrides.containerOverrides[%zu].environment[%zu]",
						  i, j);
		}
	}
	return 0;
}

static long long int_of(json_t *o, const char *k, long long def)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

/* Builds the placement request of one task. constraints / strategies are the call's (may be NULL). */
static int build_need(struct need *n, json_t *td, json_t *overrides, const char *group, json_t *constraints,
		      json_t *strategies, struct err **err)
{
	memset(n, 0, sizeof(*n));
	const char *mode = ecs__str(td, "networkMode");
	bool host_ports = !mode || strcmp(mode, "bridge") == 0 || strcmp(mode, "host") == 0;
	bool bridge = !mode || strcmp(mode, "bridge") == 0;
	/* cpu and memory: task level (override, then definition), else the containers' sum. */
	const char *tcpu = ecs__str(overrides, "cpu") ? ecs__str(overrides, "cpu") : ecs__str(td, "cpu");
	const char *tmem =
		ecs__str(overrides, "memory") ? ecs__str(overrides, "memory") : ecs__str(td, "memory");
	long long sum_cpu = 0, sum_mem = 0;
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(td, "containerDefinitions"), i, c) {
		json_t *o = container_override(overrides, ecs__str(c, "name"));
		sum_cpu += int_of(o, "cpu", int_of(c, "cpu", 0));
		long long res = int_of(o, "memoryReservation", int_of(c, "memoryReservation", 0));
		long long hard = int_of(o, "memory", int_of(c, "memory", 0));
		sum_mem += res ? res : hard;
		json_t *pm;
		size_t j;
		json_array_foreach (json_object_get(c, "portMappings"), j, pm) {
			if (!host_ports)
				break;
			if (n->nmaps == SCHED_PORTS_MAX)
				return err_set(err, ERR_INVALID_PARAM, "a task can map at most %d host ports",
					       SCHED_PORTS_MAX);
			const char *proto = ecs__str(pm, "protocol");
			uint8_t pr = proto && strcmp(proto, "udp") == 0 ? SCHED_UDP : SCHED_TCP;
			long long cport = int_of(pm, "containerPort", 0);
			long long hport = int_of(pm, "hostPort", bridge ? 0 : cport);
			n->maps[n->nmaps].container = (int)i;
			n->maps[n->nmaps].container_port = (int)cport;
			n->maps[n->nmaps].proto = pr;
			if (hport == 0) {
				n->maps[n->nmaps].is_dynamic = true;
				n->maps[n->nmaps].slot = (int)n->req.ndynamic;
				n->dynamic[n->req.ndynamic++] = pr;
			} else {
				n->maps[n->nmaps].slot = (int)n->req.nports;
				n->ports[n->req.nports].port = (uint16_t)hport;
				n->ports[n->req.nports].proto = pr;
				n->req.nports++;
			}
			n->nmaps++;
		}
	}
	n->cpu = sum_cpu;
	n->memory = sum_mem;
	if (tcpu && tdval_parse_cpu(tcpu, "cpu", &n->cpu, err) < 0)
		return -1;
	if (tmem && tdval_parse_memory(tmem, "memory", &n->memory, err) < 0)
		return -1;
	if (tcpu) {
		snprintf(n->cpu_buf, sizeof(n->cpu_buf), "%lld", n->cpu);
		n->task_cpu = n->cpu_buf;
	}
	if (tmem) {
		snprintf(n->mem_buf, sizeof(n->mem_buf), "%lld", n->memory);
		n->task_memory = n->mem_buf;
	}
	n->req.cpu = (int)n->cpu;
	n->req.memory = (int)n->memory;
	n->req.ports = n->ports;
	n->req.dynamic = n->dynamic;
	n->req.launch = SCHED_LAUNCH_EC2;
	if (group)
		snprintf(n->group, sizeof(n->group), "%s", group);
	else
		snprintf(n->group, sizeof(n->group), "family:%s", ecs__str(td, "family"));
	n->req.group = n->group;
	json_t *a;
	json_array_foreach (json_object_get(td, "requiresAttributes"), i, a) {
		if (n->req.nattrs == SCHED_ATTRS_MAX)
			break;
		n->attrs[n->req.nattrs].name = ecs__str(a, "name");
		n->attrs[n->req.nattrs].value = ecs__str(a, "value");
		n->req.nattrs++;
	}
	n->req.attrs = n->attrs;
	/* The definition's constraints and the call's, merged (ECS: at most 10 in all). */
	json_t *lists[2] = {json_object_get(td, "placementConstraints"), constraints};
	for (int l = 0; l < 2; l++) {
		json_array_foreach (lists[l], i, a) {
			const char *type = ecs__str(a, "type"), *expr = ecs__str(a, "expression");
			if (n->req.nconstraints == SCHED_CONSTRAINTS_MAX)
				return err_set(err, ERR_INVALID_PARAM,
					       "A task can have at most %d placement constraints (the task "
					       "definition's and "
					       "the call's together)",
					       SCHED_CONSTRAINTS_MAX);
			struct sched_constraint *sc = &n->constraints[n->req.nconstraints];
			if (!type || (strcmp(type, "distinctInstance") != 0 && strcmp(type, "memberOf") != 0))
				return err_set(err, ERR_INVALID_PARAM,
					       "Invalid placement constraint type '%s': must be "
					       "distinctInstance or memberOf",
					       type ? type : "");
			if (strcmp(type, "distinctInstance") == 0) {
				if (expr)
					return err_set(err, ERR_INVALID_PARAM,
						       "A distinctInstance placement constraint takes no "
						       "expression");
				sc->kind = SCHED_DISTINCT_INSTANCE;
			} else {
				if (!expr)
					return err_set(err, ERR_INVALID_PARAM,
						       "A memberOf placement constraint needs an expression");
				struct cql_expr *e = cql_parse(expr, err);
				if (!e)
					return err_prefix(err, "placementConstraints");
				n->exprs[n->req.nconstraints] = e;
				sc->kind = SCHED_MEMBER_OF;
				sc->expr = e;
			}
			n->req.nconstraints++;
		}
	}
	n->req.constraints = n->constraints;
	json_array_foreach (strategies, i, a) {
		if (i >= SCHED_STRATEGIES_MAX)
			return err_set(err, ERR_INVALID_PARAM,
				       "A task can have at most %d placement strategies",
				       SCHED_STRATEGIES_MAX);
		const char *type, *field;
		if (!json_is_object(a) || jv_str(a, "type", true, &type, err) < 0 ||
		    jv_str(a, "field", false, &field, err) < 0)
			return err_prefix(err, "placementStrategy[%zu]", i);
		if (sched_strategy_parse(type, field, &n->strategies[i], err) < 0)
			return err_prefix(err, "placementStrategy[%zu]", i);
		n->req.nstrategies = i + 1;
	}
	n->req.strategies = n->strategies;
	return 0;
}

/* ---- creating tasks ---- */

struct run_args {
	json_t *td;	   /* the task definition */
	json_t *overrides; /* may be NULL */
	const char *started_by;
	const char *token;
	json_t *tags;
	json_t *network;
	bool exec;
	const char *launch;
};

static json_t *make_task(struct api_call *call, struct ecs_cluster *cl, struct ecs_instance *in,
			 const struct need *n, const struct sched_alloc *al, const struct run_args *ra)
{
	char id[33];
	ids_hex32(id);
	char *res = xasprintf("task/%s/%s", cl->name, id);
	char *task_arn = arn_build("ecs", call->region, call->account, res);
	free(res);
	json_t *now = jv_time(clock_now());
	json_t *cluster_doc = json_object_get(cl->sc->clusters, cl->name);
	const char *az = NULL;
	size_t i;
	json_t *a;
	json_array_foreach (json_object_get(in->doc, "attributes"), i, a) {
		if (strcmp(ecs__str(a, "name"), "ecs.availability-zone") == 0)
			az = ecs__str(a, "value");
	}
	/* Host ports per mapping, from the allocation: static ones first, then dynamic ones. */
	json_t *containers = json_array();
	json_t *cdefs = json_object_get(ra->td, "containerDefinitions");
	json_t *cd;
	json_array_foreach (cdefs, i, cd) {
		char cid[37];
		ids_uuid(cid);
		char *cres = xasprintf("container/%s/%s/%s", cl->name, id, cid);
		char *carn = arn_build("ecs", call->region, call->account, cres);
		free(cres);
		json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[]}", "containerArn", carn, "taskArn",
				      task_arn, "name", ecs__str(cd, "name"), "image", ecs__str(cd, "image"),
				      "lastStatus", "PENDING", "networkInterfaces");
		free(carn);
		json_t *o = container_override(ra->overrides, ecs__str(cd, "name"));
		char num[24];
		snprintf(num, sizeof(num), "%lld", int_of(o, "cpu", int_of(cd, "cpu", 0)));
		json_object_set_new(c, "cpu", json_string(num));
		long long mem = int_of(o, "memory", int_of(cd, "memory", 0));
		long long resv = int_of(o, "memoryReservation", int_of(cd, "memoryReservation", 0));
		if (mem) {
			snprintf(num, sizeof(num), "%lld", mem);
			json_object_set_new(c, "memory", json_string(num));
		}
		if (resv) {
			snprintf(num, sizeof(num), "%lld", resv);
			json_object_set_new(c, "memoryReservation", json_string(num));
		}
		/* ECS: a container without a health check reports UNKNOWN. */
		json_object_set_new(c, "healthStatus", json_string("UNKNOWN"));
		json_t *bindings = json_array();
		for (size_t m = 0; m < n->nmaps; m++) {
			if (n->maps[m].container != (int)i)
				continue;
			size_t idx = n->maps[m].is_dynamic ? n->req.nports + (size_t)n->maps[m].slot
							   : (size_t)n->maps[m].slot;
			uint16_t hp = idx < al->nports ? al->ports[idx].port : 0;
			json_array_append_new(bindings,
					      json_pack("{s:s, s:i, s:i, s:s}", "bindIP", "0.0.0.0",
							"containerPort", n->maps[m].container_port,
							"hostPort", (int)hp, "protocol",
							n->maps[m].proto == SCHED_UDP ? "udp" : "tcp"));
		}
		json_object_set_new(c, "networkBindings", bindings);
		json_array_append_new(containers, c);
	}
	json_t *ovr = ra->overrides ? json_deep_copy(ra->overrides) : json_object();
	if (!json_object_get(ovr, "containerOverrides"))
		json_object_set_new(ovr, "containerOverrides", json_array());
	if (!json_object_get(ovr, "inferenceAcceleratorOverrides"))
		json_object_set_new(ovr, "inferenceAcceleratorOverrides", json_array());
	json_t *usage_ports = json_array();
	for (size_t p = 0; p < al->nports; p++)
		json_array_append_new(usage_ports,
				      json_pack("[i, i]", (int)al->ports[p].port, (int)al->ports[p].proto));
	json_t *t = json_pack(
		"{s:s, s:[], s:[{s:s, s:s}], s:s, s:O, s:O, s:o, s:O, s:s, s:b, s:s, s:s, s:s, s:o, "
		"s:s, s:O, s:I, s:s}",
		"taskArn", task_arn, "attachments", "attributes", "name", "ecs.cpu-architecture", "value",
		"x86_64", "availabilityZone", az ? az : "", "clusterArn",
		json_object_get(cluster_doc, "clusterArn"), "containerInstanceArn",
		json_object_get(in->doc, "containerInstanceArn"), "containers", containers, "createdAt", now,
		"desiredStatus", "RUNNING", "enableExecuteCommand", ra->exec, "group", n->group, "lastStatus",
		"PROVISIONING", "launchType", ra->launch, "overrides", ovr, "healthStatus", "UNKNOWN",
		"taskDefinitionArn", json_object_get(ra->td, "taskDefinitionArn"), "version", (json_int_t)1,
		"_id", id);
	free(task_arn);
	json_decref(now);
	if (n->task_cpu)
		json_object_set_new(t, "cpu", json_string(n->task_cpu));
	if (n->task_memory)
		json_object_set_new(t, "memory", json_string(n->task_memory));
	if (ra->started_by)
		json_object_set_new(t, "startedBy", json_string(ra->started_by));
	json_object_set_new(t, "tags", ra->tags ? json_deep_copy(ra->tags) : json_array());
	if (ra->network)
		json_object_set(t, "_networkConfiguration", ra->network);
	const char *mode = ecs__str(ra->td, "networkMode");
	if (mode && strcmp(mode, "awsvpc") == 0) {
		/* awsvpc: the task's network interface, as ECS shows it: PRECREATED until the agent
		 * reports the address it got, ATTACHED then, DELETED once the task stops. */
		char aid[37];
		ids_uuid(aid);
		json_t *subnets =
			json_object_get(json_object_get(ra->network, "awsvpcConfiguration"), "subnets");
		json_array_append_new(json_object_get(t, "attachments"),
				      json_pack("{s:s, s:s, s:s, s:[{s:s, s:O}]}", "id", aid, "type",
						"ElasticNetworkInterface", "status", "PRECREATED", "details",
						"name", "subnetId", "value", json_array_get(subnets, 0)));
	}
	json_object_set_new(t, "_instance", json_string(in->id));
	json_object_set_new(t, "_usage",
			    json_pack("{s:I, s:I, s:o}", "cpu", (json_int_t)n->cpu, "memory",
				      (json_int_t)n->memory, "ports", usage_ports));
	if (ra->token)
		json_object_set_new(t, "_clientToken", json_string(ra->token));
	json_object_set(cl->tasks, id, t);
	json_object_set(in->tasks, id, t);
	count_task(cl, t, 1);
	if (ra->token) {
		json_t *ids = json_object_get(cl->tokens, ra->token);
		if (!ids)
			json_object_set_new(cl->tokens, ra->token, ids = json_array());
		json_array_append_new(ids, json_string(id));
	}
	ecs__task_save(cl, t);
	ecs__instance_changed(in, t);
	json_decref(t); /* cl->tasks and in->tasks hold it; the caller borrows */
	return t;
}

/* Reads and checks what RunTask and StartTask share. On success ra->td is borrowed from state. */
static int read_common(struct api_call *call, json_t *in, struct run_args *ra, const char **group,
		       struct err **err)
{
	const char *tdref, *launch;
	json_t *tags;
	memset(ra, 0, sizeof(*ra));
	if (jv_str(in, "taskDefinition", true, &tdref, err) < 0 ||
	    jv_str(in, "group", false, group, err) < 0 ||
	    jv_str(in, "startedBy", false, &ra->started_by, err) < 0 ||
	    jv_str(in, "launchType", false, &launch, err) < 0 ||
	    jv_array(in, "tags", false, &tags, err) < 0 ||
	    jv_object(in, "networkConfiguration", false, &ra->network, err) < 0 ||
	    jv_bool(in, "enableExecuteCommand", false, &ra->exec, NULL, err) < 0 ||
	    ecs__check_tags(tags, "tags", err) < 0)
		return -1;
	if (jv_object(in, "overrides", false, &ra->overrides, err) < 0)
		return -1;
	if (ra->started_by && strlen(ra->started_by) > ECS_STARTED_BY_MAX)
		return err_set(err, ERR_INVALID_PARAM, "startedBy can be at most %d characters",
			       ECS_STARTED_BY_MAX);
	if (*group && (strlen(*group) < 1 || strlen(*group) > ECS_GROUP_MAX))
		return err_set(err, ERR_INVALID_PARAM, "group must be 1-%d characters", ECS_GROUP_MAX);
	ra->launch = launch ? launch : "EC2";
	if (strcmp(ra->launch, "FARGATE") == 0)
		return err_set(err, ERR_INVALID_PARAM,
			       "launchType FARGATE is not available on this server: register container "
			       "instances and "
			       "use launchType EC2");
	if (strcmp(ra->launch, "EC2") != 0 && strcmp(ra->launch, "EXTERNAL") != 0)
		return err_set(err, ERR_INVALID_PARAM,
			       "Invalid launchType '%s': must be EC2, FARGATE or EXTERNAL", ra->launch);
	ra->tags = tags;
	json_t *rec = ecs__taskdef_record(call, ecs__call_scope(call), tdref, err);
	if (!rec)
		return -1;
	ra->td = json_object_get(rec, "taskDefinition");
	if (strcmp(ecs__str(ra->td, "status"), "ACTIVE") != 0)
		return err_set(err, ERR_CLIENT, "TaskDefinition is inactive");
	bool compatible = false;
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(ra->td, "compatibilities"), i, v) {
		compatible = compatible || strcmp(json_string_value(v), ra->launch) == 0;
	}
	if (!compatible)
		return err_set(err, ERR_CLIENT, "Task definition does not support launch_type %s.",
			       ra->launch);
	const char *mode = ecs__str(ra->td, "networkMode");
	if (mode && strcmp(mode, "awsvpc") == 0 &&
	    !json_object_get(json_object_get(ra->network, "awsvpcConfiguration"), "subnets"))
		return err_set(
			err, ERR_INVALID_PARAM,
			"Network Configuration must be provided when networkMode 'awsvpc' is specified.");
	return check_overrides(ra->overrides, ra->td, err);
}

static json_t *failure(struct ecs_cluster *cl, const char *instance_id, const char *reason)
{
	struct ecs_instance *in = instance_id ? hmap_get(cl->instances, instance_id) : NULL;
	json_t *f = json_pack("{s:s}", "reason", reason);
	if (in)
		json_object_set(f, "arn", json_object_get(in->doc, "containerInstanceArn"));
	return f;
}

int ecs__run_task(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *cref, *group, *token;
	long long count = 1;
	json_t *constraints, *strategies;
	struct run_args ra;
	if (jv_str(in, "cluster", false, &cref, err) < 0 ||
	    jv_int(in, "count", false, &count, NULL, err) < 0 ||
	    jv_str(in, "clientToken", false, &token, err) < 0 ||
	    jv_array(in, "placementConstraints", false, &constraints, err) < 0 ||
	    jv_array(in, "placementStrategy", false, &strategies, err) < 0)
		return -1;
	if (count < 1 || count > ECS_RUN_TASK_MAX)
		return err_set(err, ERR_INVALID_PARAM, "count must be between 1 and %d", ECS_RUN_TASK_MAX);
	if (token && (strlen(token) < 1 || strlen(token) > ECS_CLIENT_TOKEN_MAX))
		return err_set(err, ERR_INVALID_PARAM, "clientToken must be 1-%d characters",
			       ECS_CLIENT_TOKEN_MAX);
	struct ecs_cluster *cl = ecs__cluster_find(call, cref, err);
	if (!cl)
		return -1;
	if (token) {
		json_t *ids = json_object_get(cl->tokens, token);
		if (ids) {
			/* The same clientToken again: the tasks the first call made, nothing new. */
			json_t *tasks = json_array();
			size_t i;
			json_t *v;
			json_array_foreach (ids, i, v) {
				json_t *t = json_object_get(cl->tasks, json_string_value(v));
				if (t)
					json_array_append_new(tasks, ecs__task_view(t, false));
			}
			*out = json_pack("{s:o, s:[]}", "tasks", tasks, "failures");
			return 0;
		}
	}
	if (read_common(call, in, &ra, &group, err) < 0)
		return -1;
	ra.token = token;
	struct need *n = xmalloc(sizeof(*n));
	struct sched_alloc *placed = xcalloc((size_t)count, sizeof(*placed));
	struct sched_failure *failed = xcalloc((size_t)count, sizeof(*failed));
	int np = 0, nf = 0;
	int rc = -1;
	if (build_need(n, ra.td, ra.overrides, group, constraints, strategies, err) < 0)
		goto out;
	if (sched_place(cl->sched, &n->req, (int)count, placed, &np, failed, &nf, err) < 0)
		goto out;
	json_t *tasks = json_array(), *failures = json_array();
	for (int i = 0; i < np; i++) {
		struct ecs_instance *inst = hmap_get(cl->instances, placed[i].instance);
		json_array_append_new(tasks,
				      ecs__task_view(make_task(call, cl, inst, n, &placed[i], &ra), false));
	}
	for (int i = 0; i < nf; i++)
		json_array_append_new(failures,
				      failure(cl, failed[i].instance, sched_reason_text(failed[i].reason)));
	*out = json_pack("{s:o, s:o}", "tasks", tasks, "failures", failures);
	rc = 0;
out:
	need_release(n);
	free(n);
	free(placed);
	free(failed);
	return rc;
}

int ecs__start_task(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *cref, *group;
	json_t *refs;
	struct run_args ra;
	if (jv_str(in, "cluster", false, &cref, err) < 0 ||
	    jv_str_array(in, "containerInstances", true, &refs, err) < 0)
		return -1;
	if (json_array_size(refs) < 1 || json_array_size(refs) > ECS_START_TASK_MAX)
		return err_set(err, ERR_INVALID_PARAM, "containerInstances must have between 1 and %d items",
			       ECS_START_TASK_MAX);
	struct ecs_cluster *cl = ecs__cluster_find(call, cref, err);
	if (!cl || read_common(call, in, &ra, &group, err) < 0)
		return -1;
	struct need *n = xmalloc(sizeof(*n));
	int rc = -1;
	if (build_need(n, ra.td, ra.overrides, group, NULL, NULL, err) < 0)
		goto out;
	json_t *tasks = json_array(), *failures = json_array();
	size_t i;
	json_t *v;
	json_array_foreach (refs, i, v) {
		struct ecs_instance *inst = ecs__instance_find(cl, json_string_value(v));
		struct sched_alloc al;
		enum sched_reason why = SCHED_FAIL_MISSING;
		int placed = inst ? sched_place_on(cl->sched, inst->id, &n->req, &al, &why, err) : 0;
		if (placed < 0) {
			json_decref(tasks);
			json_decref(failures);
			goto out;
		}
		if (placed == 1) {
			json_array_append_new(tasks,
					      ecs__task_view(make_task(call, cl, inst, n, &al, &ra), false));
		} else {
			json_t *f = json_pack("{s:O, s:s}", "arn", v, "reason", sched_reason_text(why));
			json_array_append_new(failures, f);
		}
	}
	*out = json_pack("{s:o, s:o}", "tasks", tasks, "failures", failures);
	rc = 0;
out:
	need_release(n);
	free(n);
	return rc;
}

/* Resolves a task id or ARN within cl. */
static json_t *find_task(struct ecs_cluster *cl, const char *ref)
{
	const char *id = ref;
	if (arn_is(ref)) {
		const char *slash = strrchr(ref, '/');
		if (!slash)
			return NULL;
		id = slash + 1;
		json_t *t = json_object_get(cl->tasks, id);
		return t && strcmp(ecs__str(t, "taskArn"), ref) == 0 ? t : NULL;
	}
	return json_object_get(cl->tasks, id);
}

int ecs__stop_task(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *cref, *ref, *reason;
	if (jv_str(in, "cluster", false, &cref, err) < 0 || jv_str(in, "task", true, &ref, err) < 0 ||
	    jv_str(in, "reason", false, &reason, err) < 0)
		return -1;
	if (reason && strlen(reason) > ECS_REASON_MAX)
		return err_set(err, ERR_INVALID_PARAM, "reason can be at most %d characters", ECS_REASON_MAX);
	struct ecs_cluster *cl = ecs__cluster_find(call, cref, err);
	if (!cl)
		return -1;
	json_t *t = find_task(cl, ref);
	if (!t)
		return err_set(err, ERR_INVALID_PARAM, "The referenced task was not found.");
	if (!ecs__task_stopped(t) && strcmp(ecs__str(t, "desiredStatus"), "STOPPED") != 0) {
		const char *why = reason ? reason : "Task stopped by user";
		json_object_set_new(t, "desiredStatus", json_string("STOPPED"));
		json_object_set_new(t, "stopCode", json_string("UserInitiated"));
		json_object_set_new(t, "stoppedReason", json_string(why));
		json_object_set_new(t, "stoppingAt", jv_time(clock_now()));
		if (strcmp(ecs__str(t, "lastStatus"), "PROVISIONING") == 0) {
			/* No agent has it yet: nothing runs, so it is stopped at once. */
			ecs__task_stop_now(cl, t, "UserInitiated", why);
		} else {
			ecs__task_set_last(cl, t, "DEACTIVATING");
			touch(t);
			ecs__task_save(cl, t);
			struct ecs_instance *inst = task_instance(cl, t);
			if (inst)
				ecs__instance_changed(inst, t);
		}
	}
	*out = json_pack("{s:o}", "task", ecs__task_view(t, false));
	return 0;
}

int ecs__describe_tasks(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *cref;
	json_t *refs, *include;
	if (jv_str(in, "cluster", false, &cref, err) < 0 || jv_str_array(in, "tasks", true, &refs, err) < 0 ||
	    jv_str_array(in, "include", false, &include, err) < 0)
		return -1;
	if (json_array_size(refs) > ECS_DESCRIBE_TASKS_MAX)
		return err_set(err, ERR_INVALID_PARAM, "tasks can have at most %d items",
			       ECS_DESCRIBE_TASKS_MAX);
	struct ecs_cluster *cl = ecs__cluster_find(call, cref, err);
	if (!cl)
		return -1;
	bool tags = ecs__includes(include, "TAGS");
	json_t *found = json_array(), *failures = json_array();
	size_t i;
	json_t *v;
	json_array_foreach (refs, i, v) {
		json_t *t = find_task(cl, json_string_value(v));
		if (t)
			json_array_append_new(found, ecs__task_view(t, tags));
		else
			json_array_append_new(failures,
					      json_pack("{s:O, s:s}", "arn", v, "reason", "MISSING"));
	}
	*out = json_pack("{s:o, s:o}", "tasks", found, "failures", failures);
	return 0;
}

/* The family of a task definition ARN (…:task-definition/FAMILY:REV), into buf. */
static const char *family_of(const char *td_arn, char *buf, size_t n)
{
	const char *p = td_arn ? strstr(td_arn, ":task-definition/") : NULL;
	if (!p)
		return "";
	p += strlen(":task-definition/");
	const char *colon = strrchr(p, ':');
	snprintf(buf, n, "%.*s", (int)(colon ? colon - p : (long)strlen(p)), p);
	return buf;
}

int ecs__list_tasks(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *cref, *iref, *family, *started_by, *service, *desired, *launch;
	long long max;
	char *after = NULL;
	if (jv_str(in, "cluster", false, &cref, err) < 0 ||
	    jv_str(in, "containerInstance", false, &iref, err) < 0 ||
	    jv_str(in, "family", false, &family, err) < 0 ||
	    jv_str(in, "startedBy", false, &started_by, err) < 0 ||
	    jv_str(in, "serviceName", false, &service, err) < 0 ||
	    jv_str(in, "desiredStatus", false, &desired, err) < 0 ||
	    jv_str(in, "launchType", false, &launch, err) < 0 ||
	    page_max_results(in, 100, 100, &max, err) < 0)
		return -1;
	if (desired && strcmp(desired, "RUNNING") && strcmp(desired, "PENDING") && strcmp(desired, "STOPPED"))
		return err_set(err, ERR_INVALID_PARAM,
			       "Invalid desiredStatus '%s': must be RUNNING, PENDING or STOPPED", desired);
	struct ecs_cluster *cl = ecs__cluster_find(call, cref, err);
	if (!cl)
		return -1;
	struct ecs_instance *only = NULL;
	if (iref && !(only = ecs__instance_find(cl, iref)))
		return err_set(err, ERR_INVALID_PARAM, "The referenced container instance %s was not found.",
			       iref);
	if (page_after(in, &after, err) < 0)
		return -1;
	char group[ECS_GROUP_MAX + 16];
	if (service)
		snprintf(group, sizeof(group), "service:%s", service);
	json_t *pool = only ? only->tasks : cl->tasks;
	size_t n = 0;
	const char **ids = xcalloc(json_object_size(pool) + 1, sizeof(*ids));
	const char *id;
	json_t *t;
	char fam[300];
	json_object_foreach (pool, id, t) {
		if (strcmp(ecs__str(t, "desiredStatus"), desired ? desired : "RUNNING") != 0)
			continue;
		if (family &&
		    strcmp(family_of(ecs__str(t, "taskDefinitionArn"), fam, sizeof(fam)), family) != 0)
			continue;
		if (started_by &&
		    (!ecs__str(t, "startedBy") || strcmp(ecs__str(t, "startedBy"), started_by) != 0))
			continue;
		if (service && strcmp(ecs__str(t, "group"), group) != 0)
			continue;
		if (launch && strcmp(ecs__str(t, "launchType"), launch) != 0)
			continue;
		if (after && strcmp(id, after) <= 0)
			continue;
		ids[n++] = id;
	}
	qsort(ids, n, sizeof(*ids), str_cmp_ptr);
	json_t *arns = json_array();
	size_t shown = n < (size_t)max ? n : (size_t)max;
	for (size_t i = 0; i < shown; i++)
		json_array_append(arns, json_object_get(json_object_get(cl->tasks, ids[i]), "taskArn"));
	*out = json_pack("{s:o}", "taskArns", arns);
	if (shown < n)
		page_set_token(*out, ids[shown - 1]);
	free(ids);
	free(after);
	return 0;
}

/* ---- reports from agents ---- */

/* Applies a container report {containerName|name, status, exitCode, reason, networkBindings,
 * runtimeId} to the task's container of that name. */
/* The task's network interface got its address: ATTACHED, with ECS's details. */
static void attach_address(json_t *task, json_t *att, const char *ip)
{
	if (strcmp(ecs__str(att, "status"), "PRECREATED") != 0)
		return;
	const char *arn = ecs__str(task, "taskArn");
	const char *id = arn ? strrchr(arn, '/') : NULL;
	char eni[32];
	snprintf(eni, sizeof(eni), "eni-%.17s", id ? id + 1 : "00000000000000000");
	json_object_set_new(att, "status", json_string("ATTACHED"));
	json_t *details = json_object_get(att, "details");
	json_array_append_new(details, json_pack("{s:s, s:s}", "name", "networkInterfaceId", "value", eni));
	json_array_append_new(details, json_pack("{s:s, s:s}", "name", "privateIPv4Address", "value", ip));
}

static int apply_container(json_t *task, json_t *rep, const char *name, struct err **err)
{
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(task, "containers"), i, c) {
		if (strcmp(ecs__str(c, "name"), name) != 0)
			continue;
		const char *st = ecs__str(rep, "status");
		if (st && status_rank(st) >= status_rank(ecs__str(c, "lastStatus")))
			json_object_set_new(c, "lastStatus", json_string(st));
		json_t *v;
		if ((v = json_object_get(rep, "exitCode")) && json_is_integer(v))
			json_object_set(c, "exitCode", v);
		if ((v = json_object_get(rep, "reason")) && json_is_string(v))
			json_object_set(c, "reason", v);
		if ((v = json_object_get(rep, "runtimeId")) && json_is_string(v))
			json_object_set(c, "runtimeId", v);
		if ((v = json_object_get(rep, "networkBindings")) && json_is_array(v))
			json_object_set(c, "networkBindings", v);
		if ((v = json_object_get(rep, "healthStatus")) && json_is_string(v))
			json_object_set(c, "healthStatus", v);
		const char *ip = ecs__str(json_array_get(json_object_get(rep, "networkInterfaces"), 0),
					  "privateIpv4Address");
		json_t *att = json_array_get(json_object_get(task, "attachments"), 0);
		if (ip && att) {
			json_object_set_new(c, "networkInterfaces",
					    json_pack("[{s:O, s:s}]", "attachmentId",
						      json_object_get(att, "id"), "privateIpv4Address", ip));
			attach_address(task, att, ip);
		}
		return 0;
	}
	return err_set(err, ERR_INVALID_PARAM, "The task has no container named '%s'", name);
}

static json_t *task_for_report(struct api_call *call, json_t *in, struct ecs_cluster **clp, struct err **err)
{
	const char *cref, *ref;
	if (jv_str(in, "cluster", false, &cref, err) < 0 || jv_str(in, "task", true, &ref, err) < 0)
		return NULL;
	struct ecs_cluster *cl = ecs__cluster_find(call, cref, err);
	if (!cl)
		return NULL;
	json_t *t = find_task(cl, ref);
	if (!t)
		err_set(err, ERR_INVALID_PARAM, "The referenced task was not found.");
	*clp = cl;
	return t;
}

/* Whether an essential container of the task has stopped. */
static bool essential_exited(struct ecs_cluster *cl, json_t *task)
{
	json_t *rec = ecs__taskdef_record_any(cl->sc, ecs__str(task, "taskDefinitionArn"));
	json_t *td = json_object_get(rec, "taskDefinition");
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(task, "containers"), i, c) {
		if (strcmp(ecs__str(c, "lastStatus"), "STOPPED") != 0)
			continue;
		size_t j;
		json_t *cd;
		json_array_foreach (json_object_get(td, "containerDefinitions"), j, cd) {
			if (strcmp(ecs__str(cd, "name"), ecs__str(c, "name")) == 0 &&
			    json_is_true(json_object_get(cd, "essential")))
				return true;
		}
	}
	return false;
}

/* ECS: a task's healthStatus follows its essential containers: HEALTHY when all of them are,
 * UNHEALTHY when one is, else UNKNOWN (a container without a health check stays UNKNOWN). */
static void task_health(struct ecs_cluster *cl, json_t *task)
{
	json_t *rec = ecs__taskdef_record_any(cl->sc, ecs__str(task, "taskDefinitionArn"));
	json_t *td = json_object_get(rec, "taskDefinition");
	size_t i, j;
	json_t *c, *cd;
	int essential = 0, healthy = 0, unhealthy = 0;
	json_array_foreach (json_object_get(task, "containers"), i, c) {
		const char *hs = ecs__str(c, "healthStatus");
		json_array_foreach (json_object_get(td, "containerDefinitions"), j, cd) {
			if (strcmp(ecs__str(cd, "name"), ecs__str(c, "name")) != 0 ||
			    !json_is_true(json_object_get(cd, "essential")))
				continue;
			essential++;
			healthy += hs && strcmp(hs, "HEALTHY") == 0;
			unhealthy += hs && strcmp(hs, "UNHEALTHY") == 0;
		}
	}
	const char *st = unhealthy ? "UNHEALTHY" : essential && healthy == essential ? "HEALTHY" : "UNKNOWN";
	json_object_set_new(task, "healthStatus", json_string(st));
}

int ecs__submit_task_state_change(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *status, *reason;
	json_t *containers;
	struct ecs_cluster *cl = NULL;
	json_t *t = task_for_report(call, in, &cl, err);
	if (!t || jv_str(in, "status", false, &status, err) < 0 ||
	    jv_str(in, "reason", false, &reason, err) < 0 ||
	    jv_array(in, "containers", false, &containers, err) < 0)
		return -1;
	if (status && status_rank(status) < 0)
		return err_set(err, ERR_INVALID_PARAM, "Invalid status '%s'", status);
	size_t i;
	json_t *c;
	json_array_foreach (containers, i, c) {
		const char *name;
		if (!json_is_object(c) || jv_str(c, "containerName", true, &name, err) < 0)
			return err_prefix(err, "containers[%zu]", i);
	}
	if (ecs__task_stopped(t)) {
		/* Reports after STOPPED change nothing (they arrive late or twice). */
		*out = json_pack("{s:s}", "acknowledgment", "true");
		return 0;
	}
	json_array_foreach (containers, i, c) {
		if (apply_container(t, c, ecs__str(c, "containerName"), err) < 0)
			return -1;
	}
	task_health(cl, t);
	static const char *const times[] = {"pullStartedAt", "pullStoppedAt", "executionStoppedAt", NULL};
	for (int k = 0; times[k]; k++) {
		json_t *v = json_object_get(in, times[k]);
		if (json_is_number(v))
			json_object_set_new(t, times[k], jv_time(json_number_value(v)));
	}
	if (status && strcmp(status, "STOPPED") == 0) {
		const char *code = "EssentialContainerExited";
		const char *why = "Essential container in task exited";
		if (strcmp(ecs__str(t, "desiredStatus"), "STOPPED") != 0) {
			bool started = json_object_get(t, "startedAt") != NULL;
			if (!started && reason) {
				code = "TaskFailedToStart";
				why = reason;
			} else if (!essential_exited(cl, t) && reason) {
				why = reason;
			}
			json_object_set_new(t, "stopCode", json_string(code));
			json_object_set_new(t, "stoppedReason", json_string(why));
		}
		ecs__task_stop_now(cl, t, code, why);
	} else if (status && strcmp(status, "RUNNING") == 0 &&
		   status_rank(ecs__str(t, "lastStatus")) < status_rank("RUNNING")) {
		json_t *now = jv_time(clock_now());
		ecs__task_set_last(cl, t, "RUNNING");
		json_object_set(t, "startedAt", now);
		json_object_set_new(t, "connectivity", json_string("CONNECTED"));
		json_object_set(t, "connectivityAt", now);
		json_decref(now);
		json_array_foreach (json_object_get(t, "containers"), i, c) {
			if (status_rank(ecs__str(c, "lastStatus")) < status_rank("RUNNING"))
				json_object_set_new(c, "lastStatus", json_string("RUNNING"));
		}
		touch(t);
		ecs__task_save(cl, t);
	} else {
		touch(t);
		ecs__task_save(cl, t);
	}
	*out = json_pack("{s:s}", "acknowledgment", "true");
	return 0;
}

int ecs__submit_container_state_change(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *name;
	struct ecs_cluster *cl = NULL;
	json_t *t = task_for_report(call, in, &cl, err);
	if (!t || jv_str(in, "containerName", true, &name, err) < 0)
		return -1;
	if (!ecs__task_stopped(t)) {
		if (apply_container(t, in, name, err) < 0)
			return -1;
		task_health(cl, t);
		touch(t);
		ecs__task_save(cl, t);
	}
	*out = json_pack("{s:s}", "acknowledgment", "true");
	return 0;
}
