/* ECS container instances: RegisterContainerInstance, DeregisterContainerInstance,
 * DescribeContainerInstances, ListContainerInstances, UpdateContainerInstancesState, and the
 * attribute operations PutAttributes, DeleteAttributes, ListAttributes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/arn.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/jv.h"
#include "common/page.h"
#include "common/xalloc.h"
#include "ecs/ecs-int.h"
#include "sched/cql.h"

#define ECS_DESCRIBE_INSTANCES_MAX 100
#define ECS_UPDATE_INSTANCES_MAX   10
#define ECS_ATTRIBUTES_PER_CALL	   10
/* ECS: up to 10 custom attributes per resource (the agent's own ecs.* ones do not count). */
#define ECS_CUSTOM_ATTRIBUTES_MAX 10
#define ECS_ATTR_NAME_MAX	  128
#define ECS_ATTR_VALUE_MAX	  128
#define ECS_IDENTITY_DOC_MAX	  16384
/* CPU units or MiB a container instance may register (placement sums stay within an int). */
#define ECS_RESOURCE_MAX 100000000

/* ---- helpers ---- */

static const char *instance_status(struct ecs_instance *in)
{
	return ecs__str(in->doc, "status");
}

void ecs__instance_save(struct ecs_instance *in)
{
	char *rest = xasprintf("%s/%s", in->cl->name, in->id);
	ecs__persist(in->cl->sc->ecs, in->cl->sc, ECS_KIND_INSTANCE, rest, in->doc);
	free(rest);
}

/* Bumps the document's version (ECS: every change of the instance). */
static void bump(struct ecs_instance *in)
{
	json_int_t v = json_integer_value(json_object_get(in->doc, "version"));
	json_object_set_new(in->doc, "version", json_integer(v + 1));
}

void ecs__instance_changed(struct ecs_instance *in, json_t *task)
{
	in->desired_version++;
	if (task)
		json_object_set_new(task, "_changed", json_integer((json_int_t)in->desired_version));
	ecs__polls_answer(in);
}

void ecs__instance_free(struct ecs_instance *in)
{
	if (!in)
		return;
	ecs__polls_drop(in);
	json_decref(in->doc);
	json_decref(in->tasks);
	free(in->id);
	free(in);
}

struct ecs_instance *ecs__instance_find(struct ecs_cluster *cl, const char *ref)
{
	if (!ref)
		return NULL;
	const char *id = ref;
	if (arn_is(ref)) {
		/* arn:aws:ecs:region:account:container-instance/cluster/id */
		const char *slash = strrchr(ref, '/');
		const char *mark = strstr(ref, ":container-instance/");
		if (!slash || !mark)
			return NULL;
		struct ecs_instance *in = hmap_get(cl->instances, slash + 1);
		return in && strcmp(ecs__str(in->doc, "containerInstanceArn"), ref) == 0 ? in : NULL;
	}
	return hmap_get(cl->instances, id);
}

static json_t *resource(const char *name, long long v)
{
	return json_pack("{s:s, s:s, s:f, s:I, s:I}", "name", name, "type", "INTEGER", "doubleValue", 0.0,
			 "longValue", (json_int_t)0, "integerValue", (json_int_t)v);
}

static json_t *port_resource(const char *name, const uint16_t *ports, long n)
{
	json_t *set = json_array();
	char b[8];
	for (long i = 0; i < n; i++) {
		snprintf(b, sizeof(b), "%u", ports[i]);
		json_array_append_new(set, json_string(b));
	}
	return json_pack("{s:s, s:s, s:f, s:I, s:I, s:o}", "name", name, "type", "STRINGSET", "doubleValue",
			 0.0, "longValue", (json_int_t)0, "integerValue", (json_int_t)0, "stringSetValue",
			 set);
}

json_t *ecs__instance_view(struct ecs_instance *in, bool with_tags)
{
	json_t *v = json_deep_copy(in->doc);
	struct sched_instance_info info;
	if (sched_instance_get(in->cl->sched, in->id, &info, NULL) == 0) {
		json_t *rem = json_array();
		json_array_append_new(rem, resource("CPU", info.remaining_cpu));
		json_array_append_new(rem, resource("MEMORY", info.remaining_memory));
		const uint16_t *ports;
		long n = sched_instance_ports(in->cl->sched, in->id, SCHED_TCP, &ports, NULL);
		json_array_append_new(rem, port_resource("PORTS", ports, n > 0 ? n : 0));
		n = sched_instance_ports(in->cl->sched, in->id, SCHED_UDP, &ports, NULL);
		json_array_append_new(rem, port_resource("PORTS_UDP", ports, n > 0 ? n : 0));
		json_object_set_new(v, "remainingResources", rem);
	} else {
		/* Deregistered: it holds nothing any more. */
		json_object_set(v, "remainingResources", json_object_get(v, "registeredResources"));
	}
	json_object_set_new(v, "agentConnected", json_boolean(in->connected));
	json_object_set_new(v, "runningTasksCount", json_integer(in->running));
	json_object_set_new(v, "pendingTasksCount", json_integer(in->pending));
	if (!with_tags)
		json_object_del(v, "tags");
	return v;
}

/* ---- loading ---- */

static int add_to_sched(struct ecs_instance *in, struct err **err);

int ecs__load_instance(struct ecs_scope *sc, const char *rest, json_t *doc, struct err **err)
{
	const char *slash = strrchr(rest, '/');
	if (!slash || !json_is_object(doc))
		return err_set(err, ERR_INTERNAL, "malformed container instance record");
	char *cname = xstrndup(rest, (size_t)(slash - rest));
	struct ecs_cluster *cl = ecs__cluster_rt(sc, cname);
	free(cname);
	struct ecs_instance *in = xcalloc(1, sizeof(*in));
	in->id = xstrdup(slash + 1);
	in->cl = cl;
	in->doc = json_incref(doc);
	in->tasks = json_object();
	/* Agents reconnect after a server restart: count them connected for one timeout. */
	in->connected = true;
	in->last_seen_ms = clock_mono_ms();
	hmap_put(cl->instances, in->id, in);
	if (strcmp(instance_status(in), "INACTIVE") != 0)
		return add_to_sched(in, err);
	return 0;
}

/* ---- registration ---- */

static int parse_ports(json_t *set, const char *what, uint16_t **out, size_t *n, struct err **err)
{
	*out = NULL;
	*n = 0;
	if (!set)
		return 0;
	if (json_array_size(set) > SCHED_RESERVED_MAX)
		return err_set(err, ERR_INVALID_PARAM, "totalResources %s: at most %d ports", what,
			       SCHED_RESERVED_MAX);
	*out = xcalloc(json_array_size(set) + 1, sizeof(**out));
	size_t i;
	json_t *v;
	json_array_foreach (set, i, v) {
		const char *s = json_string_value(v);
		char *end;
		errno = 0;
		long p = s ? strtol(s, &end, 10) : -1;
		if (!s || errno || *end || p < 1 || p > 65535) {
			free(*out);
			*out = NULL;
			return err_set(err, ERR_INVALID_PARAM, "totalResources %s: '%s' is not a port", what,
				       s ? s : "(not a string)");
		}
		bool dup = false;
		for (size_t k = 0; k < *n; k++)
			dup = dup || (*out)[k] == (uint16_t)p;
		if (what[5] != '_') /* TCP: ECS's defaults are added by the placement view itself */
			for (size_t k = 0;
			     k < sizeof(sched_default_reserved_tcp) / sizeof(sched_default_reserved_tcp[0]);
			     k++)
				dup = dup || sched_default_reserved_tcp[k] == (uint16_t)p;
		if (!dup)
			(*out)[(*n)++] = (uint16_t)p;
	}
	return 0;
}

/* Reads the registered resources of a container instance document into a placement spec. */
static int spec_from_doc(struct ecs_instance *in, struct sched_instance_spec *spec, uint16_t **tcp,
			 uint16_t **udp, struct sched_attr **attrs, struct err **err)
{
	memset(spec, 0, sizeof(*spec));
	*tcp = *udp = NULL;
	*attrs = NULL;
	spec->id = in->id;
	spec->ec2_instance_id = ecs__str(in->doc, "ec2InstanceId");
	spec->agent_version = ecs__str(json_object_get(in->doc, "versionInfo"), "agentVersion");
	spec->registered_at = json_number_value(json_object_get(in->doc, "registeredAt"));
	const char *st = instance_status(in);
	spec->status = strcmp(st, "DRAINING") == 0 ? SCHED_DRAINING : SCHED_ACTIVE;
	spec->agent_connected = in->connected;
	size_t i;
	json_t *r;
	json_array_foreach (json_object_get(in->doc, "registeredResources"), i, r) {
		const char *name = ecs__str(r, "name");
		if (!name)
			continue;
		if (strcmp(name, "CPU") == 0)
			spec->cpu = (int)json_integer_value(json_object_get(r, "integerValue"));
		else if (strcmp(name, "MEMORY") == 0)
			spec->memory = (int)json_integer_value(json_object_get(r, "integerValue"));
		else if (strcmp(name, "PORTS") == 0 &&
			 parse_ports(json_object_get(r, "stringSetValue"), "PORTS", tcp, &spec->nreserved_tcp,
				     err) < 0)
			return -1;
		else if (strcmp(name, "PORTS_UDP") == 0 &&
			 parse_ports(json_object_get(r, "stringSetValue"), "PORTS_UDP", udp,
				     &spec->nreserved_udp, err) < 0)
			return -1;
	}
	spec->reserved_tcp = *tcp;
	spec->reserved_udp = *udp;
	json_t *al = json_object_get(in->doc, "attributes");
	*attrs = xcalloc(json_array_size(al) + 1, sizeof(**attrs));
	json_t *a;
	json_array_foreach (al, i, a) {
		(*attrs)[i].name = ecs__str(a, "name");
		(*attrs)[i].value = ecs__str(a, "value");
	}
	spec->attrs = *attrs;
	spec->nattrs = json_array_size(al);
	return 0;
}

static int add_to_sched(struct ecs_instance *in, struct err **err)
{
	struct sched_instance_spec spec;
	uint16_t *tcp, *udp;
	struct sched_attr *attrs;
	int rc = spec_from_doc(in, &spec, &tcp, &udp, &attrs, err);
	if (rc == 0)
		rc = sched_instance_add(in->cl->sched, &spec, err);
	free(tcp);
	free(udp);
	free(attrs);
	return rc;
}

static bool attr_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > ECS_ATTR_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("-_.@/", c)))
			return false;
	}
	return true;
}

static bool attr_value_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > ECS_ATTR_VALUE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("-_.@/\\: ", c)))
			return false;
	}
	return true;
}

static int check_attribute(json_t *a, const char *member, size_t i, struct err **err)
{
	const char *name, *value;
	if (!json_is_object(a))
		return err_set(err, ERR_INVALID_PARAM,
			       "Invalid type for parameter '%s[%zu]': expected structure", member, i);
	if (jv_str(a, "name", true, &name, err) < 0 || jv_str(a, "value", false, &value, err) < 0)
		return err_prefix(err, "%s[%zu]", member, i);
	if (!attr_name_ok(name))
		return err_set(err, ERR_INVALID_PARAM,
			       "Attribute name '%s' is invalid: 1-128 letters, numbers, hyphens, "
			       "underscores, periods, "
			       "at signs and forward slashes",
			       name);
	if (value && !attr_value_ok(value))
		return err_set(err, ERR_INVALID_PARAM,
			       "Attribute value '%s' for '%s' is invalid: 1-128 letters, numbers, hyphens, "
			       "underscores, "
			       "periods, at signs, slashes, colons and spaces",
			       value, name);
	return 0;
}

/* Sets name=value (value may be NULL) in the attributes list of a document. */
static void set_attr(json_t *list, const char *name, const char *value)
{
	size_t i;
	json_t *a;
	json_t *na = json_pack("{s:s}", "name", name);
	if (value)
		json_object_set_new(na, "value", json_string(value));
	json_array_foreach (list, i, a) {
		if (strcmp(ecs__str(a, "name"), name) == 0) {
			json_array_set_new(list, i, na);
			return;
		}
	}
	json_array_append_new(list, na);
}

static bool has_attr(json_t *list, const char *name)
{
	size_t i;
	json_t *a;
	json_array_foreach (list, i, a) {
		if (strcmp(ecs__str(a, "name"), name) == 0)
			return true;
	}
	return false;
}

/* Reads totalResources into registeredResources in ECS's shape. */
static json_t *registered_resources(json_t *total, struct err **err)
{
	long long cpu = -1, mem = -1;
	json_t *tcp = json_array(), *udp = json_array();
	size_t i;
	json_t *r;
	json_array_foreach (total, i, r) {
		const char *name;
		long long v = 0;
		bool has_int = false, has_long = false;
		if (!json_is_object(r) || jv_str(r, "name", true, &name, err) < 0 ||
		    jv_int(r, "integerValue", false, &v, &has_int, err) < 0 ||
		    (!has_int && jv_int(r, "longValue", false, &v, &has_long, err) < 0)) {
			err_set(err, ERR_INVALID_PARAM, "Invalid totalResources[%zu]", i);
			goto fail;
		}
		if (strcmp(name, "CPU") == 0 || strcmp(name, "MEMORY") == 0) {
			if ((!has_int && !has_long) || v < 1 || v > ECS_RESOURCE_MAX) {
				err_set(err, ERR_INVALID_PARAM,
					"totalResources %s must be an integerValue between 1 and %d", name,
					ECS_RESOURCE_MAX);
				goto fail;
			}
			*(strcmp(name, "CPU") == 0 ? &cpu : &mem) = v;
		} else if (strcmp(name, "PORTS") == 0 || strcmp(name, "PORTS_UDP") == 0) {
			json_t *set;
			if (jv_str_array(r, "stringSetValue", false, &set, err) < 0)
				goto fail;
			if (set)
				json_array_extend(strcmp(name, "PORTS") == 0 ? tcp : udp, set);
		}
	}
	if (cpu < 0 || mem < 0) {
		err_set(err, ERR_INVALID_PARAM, "totalResources must give CPU and MEMORY");
		goto fail;
	}
	json_t *out = json_array();
	json_array_append_new(out, resource("CPU", cpu));
	json_array_append_new(out, resource("MEMORY", mem));
	json_t *p = port_resource("PORTS", NULL, 0);
	json_object_set_new(p, "stringSetValue", tcp);
	json_array_append_new(out, p);
	p = port_resource("PORTS_UDP", NULL, 0);
	json_object_set_new(p, "stringSetValue", udp);
	json_array_append_new(out, p);
	return out;
fail:
	json_decref(tcp);
	json_decref(udp);
	return NULL;
}

int ecs__register_container_instance(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *cref, *identity, *reuse;
	json_t *total, *attrs, *version_info, *tags;
	if (jv_str(in, "cluster", false, &cref, err) < 0 ||
	    jv_str(in, "instanceIdentityDocument", false, &identity, err) < 0 ||
	    jv_str(in, "containerInstanceArn", false, &reuse, err) < 0 ||
	    jv_array(in, "totalResources", false, &total, err) < 0 ||
	    jv_array(in, "attributes", false, &attrs, err) < 0 ||
	    jv_object(in, "versionInfo", false, &version_info, err) < 0 ||
	    jv_array(in, "tags", false, &tags, err) < 0 || ecs__check_tags(tags, "tags", err) < 0)
		return -1;
	size_t i;
	json_t *a;
	json_array_foreach (attrs, i, a) {
		if (check_attribute(a, "attributes", i, err) < 0)
			return -1;
	}
	struct ecs_cluster *cl = ecs__cluster_find(call, cref, err);
	if (!cl)
		return -1;
	json_t *resources = registered_resources(total, err);
	if (!resources)
		return -1;
	json_t *ident = NULL;
	if (identity) {
		if (strlen(identity) > ECS_IDENTITY_DOC_MAX || !(ident = json_loads(identity, 0, NULL)) ||
		    !json_is_object(ident)) {
			json_decref(ident);
			json_decref(resources);
			return err_set(err, ERR_INVALID_PARAM,
				       "instanceIdentityDocument is not a JSON object");
		}
	}
	struct ecs_instance *inst = NULL;
	bool fresh = false;
	if (reuse) {
		inst = ecs__instance_find(cl, reuse);
		if (!inst || strcmp(instance_status(inst), "INACTIVE") == 0) {
			json_decref(ident);
			json_decref(resources);
			return err_set(err, ERR_INVALID_PARAM,
				       "containerInstanceArn '%s' is not a registered container instance of "
				       "cluster %s",
				       reuse, cl->name);
		}
	} else {
		char id[33];
		ids_hex32(id);
		char *res = xasprintf("container-instance/%s/%s", cl->name, id);
		char *arn = arn_build("ecs", call->region, call->account, res);
		free(res);
		inst = xcalloc(1, sizeof(*inst));
		inst->id = xstrdup(id);
		inst->cl = cl;
		inst->tasks = json_object();
		inst->doc = json_pack("{s:s, s:I, s:s, s:[], s:[], s:[], s:o}", "containerInstanceArn", arn,
				      "version", (json_int_t)0, "status", "ACTIVE", "attributes",
				      "attachments", "tags", "registeredAt", jv_time(clock_now()));
		free(arn);
		fresh = true;
	}
	const char *ec2id = ecs__str(ident, "instanceId");
	char gen[20];
	if (!ec2id && fresh) {
		/* No identity document: give it an id of EC2's shape, so filters on ec2InstanceId work. */
		char hex[33];
		ids_hex32(hex);
		snprintf(gen, sizeof(gen), "i-%.17s", hex);
		ec2id = gen;
	}
	if (ec2id)
		json_object_set_new(inst->doc, "ec2InstanceId", json_string(ec2id));
	json_object_set_new(inst->doc, "registeredResources", resources);
	if (version_info)
		json_object_set(inst->doc, "versionInfo", version_info);
	else if (fresh)
		json_object_set_new(inst->doc, "versionInfo", json_object());
	json_t *list = json_object_get(inst->doc, "attributes");
	json_array_foreach (attrs, i, a) {
		set_attr(list, ecs__str(a, "name"), ecs__str(a, "value"));
	}
	/* What ECS derives from the identity document when the agent does not say it. */
	const char *az = ecs__str(ident, "availabilityZone");
	char defaz[80];
	snprintf(defaz, sizeof(defaz), "%sa", call->region);
	if (!has_attr(list, "ecs.availability-zone"))
		set_attr(list, "ecs.availability-zone", az ? az : defaz);
	if (!has_attr(list, "ecs.instance-type") && ecs__str(ident, "instanceType"))
		set_attr(list, "ecs.instance-type", ecs__str(ident, "instanceType"));
	if (!has_attr(list, "ecs.os-type"))
		set_attr(list, "ecs.os-type", "linux");
	if (tags)
		ecs__merge_tags(json_object_get(inst->doc, "tags"), tags, NULL);
	json_decref(ident);
	bump(inst);
	inst->connected = true;
	inst->last_seen_ms = clock_mono_ms();
	if (fresh) {
		if (add_to_sched(inst, err) < 0) {
			ecs__instance_free(inst);
			return -1;
		}
		hmap_put(cl->instances, inst->id, inst);
	} else {
		/* Re-registration keeps identity and tasks; resources and attributes follow the agent. */
		struct sched_instance_spec spec;
		uint16_t *tcp, *udp;
		struct sched_attr *sattrs;
		if (spec_from_doc(inst, &spec, &tcp, &udp, &sattrs, NULL) == 0) {
			sched_instance_set_resources(cl->sched, inst->id, spec.cpu, spec.memory, NULL);
			sched_instance_set_agent_version(cl->sched, inst->id, spec.agent_version, NULL);
			for (size_t k = 0; k < spec.nattrs; k++)
				sched_instance_set_attribute(cl->sched, inst->id, spec.attrs[k].name,
							     spec.attrs[k].value, NULL);
		}
		free(tcp);
		free(udp);
		free(sattrs);
		sched_instance_set_connected(cl->sched, inst->id, true, NULL);
	}
	ecs__instance_save(inst);
	*out = json_pack("{s:o}", "containerInstance", ecs__instance_view(inst, true));
	return 0;
}

static long long active_tasks(struct ecs_instance *in)
{
	long long n = 0;
	const char *id;
	json_t *t;
	json_object_foreach (in->tasks, id, t) {
		n += !ecs__task_stopped(t);
	}
	return n;
}

int ecs__deregister_container_instance(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *cref, *ref;
	bool force = false;
	if (jv_str(in, "cluster", false, &cref, err) < 0 ||
	    jv_str(in, "containerInstance", true, &ref, err) < 0 ||
	    jv_bool(in, "force", false, &force, NULL, err) < 0)
		return -1;
	struct ecs_cluster *cl = ecs__cluster_find(call, cref, err);
	if (!cl)
		return -1;
	struct ecs_instance *inst = ecs__instance_find(cl, ref);
	if (!inst || strcmp(instance_status(inst), "INACTIVE") == 0)
		return err_set(err, ERR_INVALID_PARAM, "The referenced container instance %s was not found.",
			       ref);
	long long n = active_tasks(inst);
	if (n && !force)
		return err_set(
			err, ERR_INVALID_PARAM,
			"The container instance has %lld tasks that are not stopped; stop them first or "
			"deregister with force",
			n);
	const char *id;
	json_t *t, *tmp;
	json_object_foreach_safe (inst->tasks, tmp, id, t) {
		if (!ecs__task_stopped(t))
			ecs__task_stop_now(cl, t, "UserInitiated", "Container instance deregistered");
	}
	sched_instance_remove(cl->sched, inst->id, NULL);
	json_object_set_new(inst->doc, "status", json_string("INACTIVE"));
	bump(inst);
	ecs__instance_save(inst);
	ecs__instance_changed(inst, NULL);
	*out = json_pack("{s:o}", "containerInstance", ecs__instance_view(inst, true));
	return 0;
}

int ecs__describe_container_instances(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *cref;
	json_t *refs, *include;
	if (jv_str(in, "cluster", false, &cref, err) < 0 ||
	    jv_str_array(in, "containerInstances", true, &refs, err) < 0 ||
	    jv_str_array(in, "include", false, &include, err) < 0)
		return -1;
	if (json_array_size(refs) > ECS_DESCRIBE_INSTANCES_MAX)
		return err_set(err, ERR_INVALID_PARAM, "containerInstances can have at most %d items",
			       ECS_DESCRIBE_INSTANCES_MAX);
	struct ecs_cluster *cl = ecs__cluster_find(call, cref, err);
	if (!cl)
		return -1;
	bool tags = ecs__includes(include, "TAGS");
	json_t *found = json_array(), *failures = json_array();
	size_t i;
	json_t *v;
	json_array_foreach (refs, i, v) {
		struct ecs_instance *inst = ecs__instance_find(cl, json_string_value(v));
		if (inst)
			json_array_append_new(found, ecs__instance_view(inst, tags));
		else
			json_array_append_new(failures,
					      json_pack("{s:O, s:s}", "arn", v, "reason", "MISSING"));
	}
	*out = json_pack("{s:o, s:o}", "containerInstances", found, "failures", failures);
	return 0;
}

static int cmp_registered(const void *a, const void *b)
{
	const struct ecs_instance *x = *(struct ecs_instance *const *)a,
				  *y = *(struct ecs_instance *const *)b;
	return strcmp(x->id, y->id);
}

int ecs__list_container_instances(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	static const char *const statuses[] = {
		"ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING", "REGISTRATION_FAILED", NULL};
	const char *cref, *filter, *status;
	long long max;
	char *after = NULL;
	if (jv_str(in, "cluster", false, &cref, err) < 0 || jv_str(in, "filter", false, &filter, err) < 0 ||
	    jv_str(in, "status", false, &status, err) < 0 || page_max_results(in, 100, 100, &max, err) < 0)
		return -1;
	bool ok = !status;
	for (int k = 0; statuses[k] && !ok; k++)
		ok = strcmp(status, statuses[k]) == 0;
	if (!ok)
		return err_set(err, ERR_INVALID_PARAM,
			       "Invalid status '%s': must be ACTIVE, DRAINING, REGISTERING, DEREGISTERING or "
			       "REGISTRATION_FAILED",
			       status);
	struct ecs_cluster *cl = ecs__cluster_find(call, cref, err);
	if (!cl)
		return -1;
	struct cql_expr *expr = NULL;
	if (filter && !(expr = cql_parse(filter, err)))
		return err_prefix(err, "filter");
	if (page_after(in, &after, err) < 0) {
		cql_free(expr);
		return -1;
	}
	size_t n = 0;
	struct ecs_instance **all = xcalloc(hmap_size(cl->instances) + 1, sizeof(*all));
	size_t it = 0;
	void *v;
	while (hmap_next(cl->instances, &it, NULL, &v)) {
		struct ecs_instance *inst = v;
		const char *st = instance_status(inst);
		if (status ? strcmp(st, status) != 0 : strcmp(st, "INACTIVE") == 0)
			continue;
		if (expr && !sched_instance_matches(cl->sched, inst->id, expr))
			continue;
		if (after && strcmp(inst->id, after) <= 0)
			continue;
		all[n++] = inst;
	}
	qsort(all, n, sizeof(*all), cmp_registered);
	json_t *arns = json_array();
	size_t shown = n < (size_t)max ? n : (size_t)max;
	for (size_t k = 0; k < shown; k++)
		json_array_append(arns, json_object_get(all[k]->doc, "containerInstanceArn"));
	*out = json_pack("{s:o}", "containerInstanceArns", arns);
	if (shown < n)
		page_set_token(*out, all[shown - 1]->id);
	free(all);
	free(after);
	cql_free(expr);
	return 0;
}

int ecs__update_container_instances_state(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *cref, *status;
	json_t *refs;
	if (jv_str(in, "cluster", false, &cref, err) < 0 ||
	    jv_str_array(in, "containerInstances", true, &refs, err) < 0 ||
	    jv_str(in, "status", true, &status, err) < 0)
		return -1;
	if (strcmp(status, "ACTIVE") != 0 && strcmp(status, "DRAINING") != 0)
		return err_set(err, ERR_INVALID_PARAM, "Invalid status '%s': must be ACTIVE or DRAINING",
			       status);
	if (json_array_size(refs) < 1 || json_array_size(refs) > ECS_UPDATE_INSTANCES_MAX)
		return err_set(err, ERR_INVALID_PARAM, "containerInstances must have between 1 and %d items",
			       ECS_UPDATE_INSTANCES_MAX);
	struct ecs_cluster *cl = ecs__cluster_find(call, cref, err);
	if (!cl)
		return -1;
	json_t *done = json_array(), *failures = json_array();
	size_t i;
	json_t *v;
	json_array_foreach (refs, i, v) {
		struct ecs_instance *inst = ecs__instance_find(cl, json_string_value(v));
		if (!inst || strcmp(instance_status(inst), "INACTIVE") == 0) {
			json_array_append_new(failures,
					      json_pack("{s:O, s:s}", "arn", v, "reason", "MISSING"));
			continue;
		}
		if (strcmp(instance_status(inst), status) != 0) {
			json_object_set_new(inst->doc, "status", json_string(status));
			sched_instance_set_status(
				cl->sched, inst->id,
				strcmp(status, "DRAINING") == 0 ? SCHED_DRAINING : SCHED_ACTIVE, NULL);
			bump(inst);
			ecs__instance_save(inst);
		}
		json_array_append_new(done, ecs__instance_view(inst, false));
	}
	*out = json_pack("{s:o, s:o}", "containerInstances", done, "failures", failures);
	return 0;
}

/* ---- attributes ---- */

static bool is_custom(const char *name)
{
	return strncmp(name, "ecs.", 4) != 0 && strncmp(name, "com.amazonaws.ecs.", 18) != 0;
}

/* Resolves the target of an attribute (only container instances carry attributes in ECS). */
static struct ecs_instance *attr_target(struct ecs_cluster *cl, json_t *a, struct err **err)
{
	const char *type = ecs__str(a, "targetType");
	const char *target = ecs__str(a, "targetId");
	if (type && strcmp(type, "container-instance") != 0) {
		err_set(err, ERR_INVALID_PARAM, "Invalid targetType '%s': must be container-instance", type);
		return NULL;
	}
	if (!target) {
		err_set(err, ERR_INVALID_PARAM, "targetId is required for attribute '%s'",
			ecs__str(a, "name"));
		return NULL;
	}
	struct ecs_instance *inst = ecs__instance_find(cl, target);
	if (!inst || strcmp(instance_status(inst), "INACTIVE") == 0) {
		err_set(err, ERR_TARGET_NOT_FOUND, "Could not find target: %s", target);
		return NULL;
	}
	return inst;
}

static int attributes_op(struct api_call *call, json_t *in, json_t **out, bool put, struct err **err)
{
	const char *cref;
	json_t *attrs;
	if (jv_str(in, "cluster", false, &cref, err) < 0 || jv_array(in, "attributes", true, &attrs, err) < 0)
		return -1;
	if (json_array_size(attrs) < 1 || json_array_size(attrs) > ECS_ATTRIBUTES_PER_CALL)
		return err_set(err, ERR_INVALID_PARAM, "attributes must have between 1 and %d items",
			       ECS_ATTRIBUTES_PER_CALL);
	struct ecs_cluster *cl = ecs__cluster_find(call, cref, err);
	if (!cl)
		return -1;
	size_t i;
	json_t *a;
	/* Validate everything first: the call changes all attributes or none. */
	json_array_foreach (attrs, i, a) {
		if (check_attribute(a, "attributes", i, err) < 0 || !attr_target(cl, a, err))
			return -1;
	}
	if (put) {
		json_array_foreach (attrs, i, a) {
			struct ecs_instance *inst = attr_target(cl, a, NULL);
			json_t *list = json_object_get(inst->doc, "attributes");
			size_t custom = 0, k;
			json_t *h;
			json_array_foreach (list, k, h) {
				custom += is_custom(ecs__str(h, "name"));
			}
			if (is_custom(ecs__str(a, "name")) && !has_attr(list, ecs__str(a, "name")) &&
			    custom >= ECS_CUSTOM_ATTRIBUTES_MAX)
				return err_set(err, ERR_ATTRIBUTE_LIMIT,
					       "The container instance %s already has %d custom attributes",
					       inst->id, ECS_CUSTOM_ATTRIBUTES_MAX);
		}
	}
	json_t *result = json_array();
	json_array_foreach (attrs, i, a) {
		struct ecs_instance *inst = attr_target(cl, a, NULL);
		const char *name = ecs__str(a, "name"), *value = ecs__str(a, "value");
		json_t *list = json_object_get(inst->doc, "attributes");
		if (put) {
			set_attr(list, name, value);
			sched_instance_set_attribute(cl->sched, inst->id, name, value, NULL);
		} else {
			for (size_t k = 0; k < json_array_size(list); k++) {
				if (strcmp(ecs__str(json_array_get(list, k), "name"), name) == 0) {
					json_array_remove(list, k);
					break;
				}
			}
			sched_instance_del_attribute(cl->sched, inst->id, name, NULL);
		}
		bump(inst);
		ecs__instance_save(inst);
		json_t *r = json_pack("{s:s, s:s, s:O}", "name", name, "targetType", "container-instance",
				      "targetId", json_object_get(inst->doc, "containerInstanceArn"));
		if (value)
			json_object_set_new(r, "value", json_string(value));
		json_array_append_new(result, r);
	}
	*out = json_pack("{s:o}", "attributes", result);
	return 0;
}

int ecs__put_attributes(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	return attributes_op(call, in, out, true, err);
}

int ecs__delete_attributes(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	return attributes_op(call, in, out, false, err);
}

int ecs__list_attributes(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *cref, *type, *name, *value;
	long long max;
	char *after = NULL;
	if (jv_str(in, "cluster", false, &cref, err) < 0 || jv_str(in, "targetType", true, &type, err) < 0 ||
	    jv_str(in, "attributeName", false, &name, err) < 0 ||
	    jv_str(in, "attributeValue", false, &value, err) < 0 ||
	    page_max_results(in, 100, 100, &max, err) < 0)
		return -1;
	if (strcmp(type, "container-instance") != 0)
		return err_set(err, ERR_INVALID_PARAM, "Invalid targetType '%s': must be container-instance",
			       type);
	if (value && !name)
		return err_set(err, ERR_INVALID_PARAM, "attributeValue can only be given with attributeName");
	struct ecs_cluster *cl = ecs__cluster_find(call, cref, err);
	if (!cl || page_after(in, &after, err) < 0)
		return -1;
	/* Collect (instance id, attribute name) keys in order, for stable pages. */
	json_t *keyed = json_object();
	size_t it = 0;
	void *v;
	while (hmap_next(cl->instances, &it, NULL, &v)) {
		struct ecs_instance *inst = v;
		if (strcmp(instance_status(inst), "INACTIVE") == 0)
			continue;
		size_t i;
		json_t *a;
		json_array_foreach (json_object_get(inst->doc, "attributes"), i, a) {
			const char *an = ecs__str(a, "name"), *av = ecs__str(a, "value");
			if (name && strcmp(an, name) != 0)
				continue;
			if (value && (!av || strcmp(av, value) != 0))
				continue;
			char *key = xasprintf("%s|%s", inst->id, an);
			json_t *r =
				json_pack("{s:s, s:s, s:O}", "name", an, "targetType", "container-instance",
					  "targetId", json_object_get(inst->doc, "containerInstanceArn"));
			if (av)
				json_object_set_new(r, "value", json_string(av));
			json_object_set_new(keyed, key, r);
			free(key);
		}
	}
	size_t n = json_object_size(keyed), k = 0;
	const char **keys = xcalloc(n + 1, sizeof(*keys));
	const char *key;
	json_t *r;
	json_object_foreach (keyed, key, r) {
		if (!after || strcmp(key, after) > 0)
			keys[k++] = key;
	}
	qsort(keys, k, sizeof(*keys), str_cmp_ptr);
	json_t *list = json_array();
	size_t shown = k < (size_t)max ? k : (size_t)max;
	for (size_t j = 0; j < shown; j++)
		json_array_append(list, json_object_get(keyed, keys[j]));
	*out = json_pack("{s:o}", "attributes", list);
	if (shown < k)
		page_set_token(*out, keys[shown - 1]);
	free(keys);
	json_decref(keyed);
	free(after);
	return 0;
}
